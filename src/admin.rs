//! The operator's API: `GET /status` and the dead letters
//! (`/admin/dead-letters…`), behind a bearer token from the wrangler secret
//! `FLOWGATE_ADMIN_TOKEN` (compared in constant time). Without that secret
//! the API is off (404), so a deployment exposes nothing it did not ask for.
//!
//! | request | answer |
//! |---|---|
//! | `GET /status` | per route: mode and counters; per credential: the token's expiry |
//! | `GET /admin/dead-letters?route=&limit=&cursor=` | a page of summaries |
//! | `GET /admin/dead-letters/{route}/{id}` | one letter: headers, history, body (base64) |
//! | `POST /admin/dead-letters/{route}/{id}/redrive` | enqueue it again (202) |
//! | `POST /admin/dead-letters/redrive` `{"route"?}` | redrive a page (≤ 50); `remaining` says if more wait |
//! | `DELETE /admin/dead-letters/{route}/{id}` | delete it and its stored body (204) |
//! | `GET /admin/v1/routes/{route}/handshake` | the registration window and whether a handed-over secret is kept |
//! | `POST /admin/v1/routes/{route}/handshake/open` `{"for_secs"}` | open the window (≤ 1 h) for Asana/Notion to hand over their secret |
//! | `POST /admin/v1/routes/{route}/handshake/close` | close it |
//! | `POST /admin/v1/routes/{route}/handshake/reset` | forget the kept secret (re-registration; logged) |
//! | `POST /admin/v1/routes/{route}/handshake/reveal` | the kept secret (Notion's token, to paste into Notion; logged) |

use flowgate_core::{
    entra::CachedToken,
    ledger::{DeliveryKey, HandshakeRequest, HandshakeWindow, RedriveRequest},
    Headers, Secret,
};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use worker::{Env, Method, Request};

use crate::{
    bindings,
    dead_letters::{self, is_segment, DeadLetter},
    deliver, handed_over,
    ledger::Ledger,
    log::{self, now_millis},
    queue,
    reply::Reply,
};

/// The wrangler secret holding the admin token.
pub(crate) const ADMIN_TOKEN_BINDING: &str = "FLOWGATE_ADMIN_TOKEN";
/// Letters redriven per `POST /admin/dead-letters/redrive`.
const REDRIVE_PAGE: u32 = 50;

/// Whether `path` belongs to the admin API.
pub(crate) fn is_admin_path(path: &str) -> bool {
    path == "/status" || path == "/admin" || path.starts_with("/admin/")
}

pub(crate) async fn handle(mut req: Request, env: &Env, path: &str) -> Reply {
    let Some(expected) = bindings::secret(env, ADMIN_TOKEN_BINDING) else {
        return Reply::Json {
            status: 404,
            body: json!({"error": "admin_disabled", "message": "The admin API is off: set the FLOWGATE_ADMIN_TOKEN secret (npx wrangler secret put FLOWGATE_ADMIN_TOKEN) to turn it on."}),
        };
    };
    let headers: Headers = req.headers().entries().collect();
    if !authorized(&headers, &expected) {
        return Reply::Json {
            status: 401,
            body: json!({"error": "unauthorized", "message": "Send Authorization: Bearer <FLOWGATE_ADMIN_TOKEN>."}),
        };
    }
    let method = req.method();
    let query = req.inner().url();
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    match (method, segments.as_slice()) {
        (Method::Get, ["status"]) => status(env).await,
        (Method::Get, ["admin", "dead-letters"]) => {
            let q = Query::parse(&query);
            if q.route.as_deref().is_some_and(|r| !is_segment(r)) {
                return bad_request("route must be a route name");
            }
            match dead_letters::list(env, q.route.as_deref(), q.limit.unwrap_or(100), q.cursor).await {
                Ok(page) => ok(page),
                Err(e) => unavailable(&e),
            }
        }
        (Method::Post, ["admin", "dead-letters", "redrive"]) => {
            #[derive(Deserialize, Default)]
            struct Body {
                route: Option<String>,
            }
            let body: Body = req.json().await.unwrap_or_default();
            if body.route.as_deref().is_some_and(|r| !is_segment(r)) {
                return bad_request("route must be a route name");
            }
            redrive_page(env, body.route.as_deref()).await
        }
        (m, ["admin", "v1", "routes", route, "handshake", rest @ ..]) if is_segment(route) => {
            let op = match (m, rest) {
                (Method::Get, []) => "status",
                (Method::Post, [op @ ("open" | "close" | "reset" | "reveal")]) => op,
                _ => return Reply::MethodNotAllowed { allow: "GET, POST" },
            };
            let body: Value = if op == "open" { req.json().await.unwrap_or(Value::Null) } else { Value::Null };
            handshake(env, route, op, &body).await
        }
        (m, ["admin", "dead-letters", route, id, rest @ ..]) if is_segment(route) && is_segment(id) => {
            let letter = match dead_letters::get(env, route, id).await {
                Ok(Some(l)) => l,
                Ok(None) => return not_found(route, id),
                Err(e) => return unavailable(&e),
            };
            match (m, rest) {
                (Method::Get, []) => ok(dead_letters::show(env, &letter).await),
                (Method::Post, ["redrive"]) => match redrive(env, &letter).await {
                    Ok(()) => Reply::Json { status: 202, body: json!({"redriven": 1}) },
                    Err(e) => unavailable(&e),
                },
                (Method::Delete, []) => {
                    if let Err(e) = dead_letters::delete(env, &letter, true).await {
                        return unavailable(&e);
                    }
                    if let Ok(l) = Ledger::of(env, &letter.message.route) {
                        let _ = l.forget(key_of(&letter)).await;
                    }
                    Reply::Json { status: 204, body: Value::Null }
                }
                _ => Reply::MethodNotAllowed { allow: "GET, POST, DELETE" },
            }
        }
        _ => Reply::NotFound,
    }
}

/// The registration window of a route whose sender hands over its secret.
async fn handshake(env: &Env, route_name: &str, op: &str, body: &Value) -> Reply {
    let config = match bindings::config(env) {
        Ok(c) => c,
        Err(_) => return unavailable("flowgate's configuration is invalid; run `flowgate check`"),
    };
    let Some(route) = config.routes.get(route_name) else {
        return Reply::Json {
            status: 404,
            body: json!({"error": "not_found", "message": format!("no route {route_name}")}),
        };
    };
    let Some(name) = flowgate_core::verify::handshake::stored_secret_name(route.provider.name) else {
        return bad_request("this route's sender does not hand over a secret (only Asana and Notion do)");
    };
    if !route.secret_bindings.is_empty() {
        return bad_request("this route has secret_bindings: a handed-over secret is never kept for it");
    }
    let name = name.to_owned();
    if op == "reveal" {
        return match handed_over::kept(env, &config, route, &name).await {
            Ok(Some(secret)) => {
                log::note(
                    "warn",
                    "handshake_secret_revealed",
                    &format!("route {route_name}: the kept {name} was revealed to an admin"),
                );
                ok(json!({"route": route_name, "name": name, "secret": secret.expose()}))
            }
            Ok(None) => Reply::Json {
                status: 404,
                body: json!({"error": "none_kept", "message": "no secret is kept for this route: open the window and register the webhook"}),
            },
            Err(e) => unavailable(&e),
        };
    }
    let req = match op {
        "open" => {
            let for_secs = body.get("for_secs").and_then(Value::as_u64).unwrap_or(600);
            if for_secs == 0 || for_secs > flowgate_core::ledger::MAX_REGISTRATION_WINDOW_SECS {
                return bad_request("for_secs must be 1 to 3600");
            }
            HandshakeRequest::Open { name: name.clone(), for_secs }
        }
        "close" => HandshakeRequest::Close { name: name.clone() },
        "reset" => HandshakeRequest::Reset { name: name.clone() },
        _ => HandshakeRequest::Status { name: name.clone() },
    };
    match handed_over::operate(env, route, &req).await {
        Ok(status) => {
            if op != "status" {
                log::note("warn", "handshake_window", &format!("route {route_name}: {op} by an admin"));
            }
            let window = HandshakeWindow {
                route: route_name.to_owned(),
                name,
                open_until: status.open_until,
                kept_at: status.kept_at,
            };
            ok(serde_json::to_value(window).unwrap_or(Value::Null))
        }
        Err(e) => unavailable(&e),
    }
}

/// Constant-time comparison of the bearer token (`subtle`, in core).
fn authorized(headers: &Headers, expected: &Secret) -> bool {
    let presented = headers
        .get("authorization")
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
        .unwrap_or("");
    // A secret stored with a trailing newline (`echo … | wrangler secret put`) still matches.
    flowgate_core::secret::ct_eq(presented.as_bytes(), expected.expose().trim().as_bytes())
}

fn key_of(letter: &DeadLetter) -> DeliveryKey {
    DeliveryKey { id: letter.message.id.clone(), flow: letter.message.flow.clone() }
}

/// Enqueues the letter's delivery again (same flowgate id, fresh attempts),
/// then removes the letter (its stored body stays for the new delivery).
async fn redrive(env: &Env, letter: &DeadLetter) -> Result<(), String> {
    // The ledger first: it keeps the copy the recovery alarm re-sends if
    // the queue loses the message.
    let m = &letter.message;
    let lost_after = bindings::config(env)
        .ok()
        .and_then(|c| c.routes.get(&m.route).map(|r| r.lost_after_secs))
        .unwrap_or(flowgate_core::config::DEFAULT_LOST_AFTER_SECS);
    let due = i64::try_from(now_millis() / 1000 + lost_after).unwrap_or(i64::MAX / 2);
    let ledger = Ledger::of(env, &m.route)?;
    let text = serde_json::to_string(m).map_err(|e| e.to_string())?;
    let copy = ledger
        .redrive(&RedriveRequest { key: key_of(letter), message: text, due })
        .await
        .map_err(|e| format!("route ledger unavailable: {e}"))?;
    let mut m = m.clone();
    m.copy = copy;
    queue::send(env, std::slice::from_ref(&m)).await?;
    dead_letters::delete(env, letter, false).await
}

async fn redrive_page(env: &Env, route: Option<&str>) -> Reply {
    let page = match dead_letters::list(env, route, REDRIVE_PAGE, None).await {
        Ok(p) => p,
        Err(e) => return unavailable(&e),
    };
    let mut redriven = 0u32;
    let mut failed = Vec::new();
    for item in page["items"].as_array().into_iter().flatten() {
        let (Some(r), Some(id)) = (item["route"].as_str(), item["id"].as_str()) else { continue };
        let result = match dead_letters::get(env, r, id).await {
            Ok(Some(letter)) => redrive(env, &letter).await,
            Ok(None) => continue,
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => redriven += 1,
            Err(e) => failed.push(json!({"route": r, "id": id, "error": e})),
        }
    }
    let remaining = match dead_letters::list(env, route, 1000, None).await {
        Ok(p) => p["items"].as_array().map_or(0, Vec::len),
        Err(_) => 0,
    };
    ok(json!({"redriven": redriven, "remaining": remaining, "failed": failed}))
}

async fn status(env: &Env) -> Reply {
    let config = match bindings::config(env) {
        Ok(c) => c,
        Err(_) => return Reply::Misconfigured,
    };
    let mut routes = Map::new();
    let now = now_millis() / 1000;
    for route in config.routes.values() {
        let mut entry = match Ledger::of(env, &route.name) {
            Ok(l) => l.status().await.unwrap_or_else(|e| json!({"error": format!("ledger unavailable: {e}")})),
            Err(e) => json!({"error": e}),
        };
        entry["mode"] = json!(route.mode.as_str());
        routes.insert(route.name.clone(), entry);
    }
    // One entry per credential (flows sharing one share its cache entry).
    let mut by_key: Vec<(String, Value)> = Vec::new();
    for flow in config.flows.values() {
        let Ok(secrets) = deliver::flow_secrets(env, flow, &config) else { continue };
        if let Some((_, entry)) = by_key.iter_mut().find(|(k, _)| *k == secrets.cache_key) {
            if let Some(flows) = entry["flows"].as_array_mut() {
                flows.push(json!(flow.name));
            }
            continue;
        }
        let short: String = secrets.cache_key.chars().rev().take(12).collect::<Vec<_>>().into_iter().rev().collect();
        let (state, expires_at, place) = match deliver::token_times(env, &secrets).await {
            None => ("absent", None, None),
            Some((obtained_at, expires_at, place)) => {
                // The cache's own rules (no token needed to apply them).
                let t = CachedToken { access_token: Secret::new(""), obtained_at, expires_at };
                let state = if !t.is_usable(now) {
                    "expired"
                } else if t.refresh_due(now) {
                    "refresh_due"
                } else {
                    "fresh"
                };
                (state, Some(expires_at), Some(place))
            }
        };
        let entra = config.credential(flow);
        by_key.push((
            secrets.cache_key.clone(),
            json!({
                "key": short, "credential": flow.credential.as_deref().unwrap_or("entra"), "tenant": entra.tenant,
                "state": state, "expires_at": expires_at,
                "expires_in_secs": expires_at.map(|e| e.saturating_sub(now)), "cached_in": place,
                "flows": [flow.name],
            }),
        ));
    }
    let tokens: Vec<Value> = by_key.into_iter().map(|(_, v)| v).collect();
    ok(json!({"routes": routes, "token_cache": tokens}))
}

#[derive(Default)]
struct Query {
    route: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

impl Query {
    fn parse(url: &str) -> Self {
        let mut q = Query::default();
        let Some((_, query)) = url.split_once('?') else { return q };
        for (k, v) in form_pairs(query) {
            match k.as_str() {
                "route" => q.route = Some(v),
                "limit" => q.limit = v.parse().ok(),
                "cursor" => q.cursor = Some(v),
                _ => {}
            }
        }
        q
    }
}

fn form_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

fn ok(body: Value) -> Reply {
    Reply::Json { status: 200, body }
}

fn bad_request(message: &str) -> Reply {
    Reply::Json { status: 400, body: json!({"error": "bad_request", "message": message}) }
}

fn not_found(route: &str, id: &str) -> Reply {
    Reply::Json {
        status: 404,
        body: json!({"error": "not_found", "message": format!("no dead letter {route}/{id}; list them with `flowgate dlq list`")}),
    }
}

fn unavailable(e: &str) -> Reply {
    Reply::Json { status: 503, body: json!({"error": "storage_unavailable", "message": e}) }
}
