//! The operator's API, behind a bearer token from the wrangler secret
//! `FLOWGATE_ADMIN_TOKEN` (compared in constant time). Without that secret
//! the API is off (404), so a deployment exposes nothing it did not ask for.
//!
//! The API is versioned under `/admin/v1/…`; the paths it had before
//! (`/status`, `/admin/dead-letters…`) are served by the same handlers.
//! Every answer is one of the documents in [`flowgate_core::admin`], which
//! the CLI and the web console read (the table of calls is there and in
//! README, *Admin API*).

use flowgate_core::{
    admin::{
        ApiError, BulkFailure, BulkFilter, DeleteRound, RedriveRound, Redriven, RevealedSecret, RouteEntry, RouteError,
        StatusReport, TokenCacheEntry,
    },
    entra::CachedToken,
    ledger::{DeliveriesRequest, DeliveryKey, HandshakeRequest, HandshakeWindow, RedriveRequest},
    Headers, Secret,
};
use serde::Serialize;
use serde_json::Value;
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
/// Letters redriven per `POST …/dead-letters/redrive` round.
const REDRIVE_PAGE: usize = 50;
/// Letters deleted per `POST /admin/v1/dead-letters/delete` round.
const DELETE_PAGE: usize = 200;
/// Most letters a bulk operation counts (its `matched`).
const BULK_SCAN_CAP: usize = 10_000;

/// Whether `path` belongs to the admin API.
pub(crate) fn is_admin_path(path: &str) -> bool {
    path == "/status" || path == "/admin" || path.starts_with("/admin/")
}

pub(crate) async fn handle(mut req: Request, env: &Env, path: &str) -> Reply {
    let Some(expected) = bindings::secret(env, ADMIN_TOKEN_BINDING) else {
        return error(404, "admin_disabled", "The admin API is off: set the FLOWGATE_ADMIN_TOKEN secret (npx wrangler secret put FLOWGATE_ADMIN_TOKEN) to turn it on.");
    };
    let headers: Headers = req.headers().entries().collect();
    if !authorized(&headers, &expected) {
        return error(401, "unauthorized", "Send Authorization: Bearer <FLOWGATE_ADMIN_TOKEN>.");
    }
    let method = req.method();
    let query = req.inner().url();
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    // `/admin/v1/X` and the unversioned `/admin/X` (and `/status`) are one API.
    let call: &[&str] = match segments.as_slice() {
        ["status"] => &["status"],
        ["admin", "v1", rest @ ..] | ["admin", rest @ ..] => rest,
        _ => return Reply::NotFound,
    };
    match (method, call) {
        (Method::Get, ["status"]) => status(env).await,
        (Method::Get, ["deliveries"]) => deliveries(env, &Query::parse(&query)).await,
        (Method::Get, ["dead-letters"]) => {
            let q = Query::parse(&query);
            if q.filter.route.as_deref().is_some_and(|r| !is_segment(r)) {
                return bad_request("route must be a route name");
            }
            match dead_letters::list(env, &q.filter, q.limit.unwrap_or(100), q.cursor).await {
                Ok(page) => ok(&page),
                Err(e) => unavailable(&e),
            }
        }
        (Method::Post, ["dead-letters", op @ ("redrive" | "delete")]) => {
            let filter: BulkFilter = req.json().await.unwrap_or_default();
            if filter.route.as_deref().is_some_and(|r| !is_segment(r)) {
                return bad_request("route must be a route name");
            }
            if *op == "redrive" {
                redrive_round(env, &filter).await
            } else {
                delete_round(env, &filter).await
            }
        }
        (m, ["routes", route, "handshake", rest @ ..]) if is_segment(route) => {
            let op = match (m, rest) {
                (Method::Get, []) => "status",
                (Method::Post, [op @ ("open" | "close" | "reset" | "reveal")]) => op,
                _ => return Reply::MethodNotAllowed { allow: "GET, POST" },
            };
            let body: Value = if op == "open" { req.json().await.unwrap_or(Value::Null) } else { Value::Null };
            handshake(env, route, op, &body).await
        }
        (m, ["dead-letters", route, id, rest @ ..]) if is_segment(route) && is_segment(id) => {
            let letter = match dead_letters::get(env, route, id).await {
                Ok(Some(l)) => l,
                Ok(None) => return not_found(route, id),
                Err(e) => return unavailable(&e),
            };
            match (m, rest) {
                (Method::Get, []) => ok(&dead_letters::show(env, &letter).await),
                (Method::Post, ["redrive"]) => match redrive(env, &letter).await {
                    Ok(()) => json(202, &Redriven { redriven: 1 }),
                    Err(e) => unavailable(&e),
                },
                (Method::Delete, []) => match delete(env, &letter).await {
                    Ok(()) => Reply::Json { status: 204, body: Value::Null },
                    Err(e) => unavailable(&e),
                },
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
        return error(404, "not_found", format!("no route {route_name}"));
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
                ok(&RevealedSecret { route: route_name.to_owned(), name, secret: secret.expose().to_owned() })
            }
            Ok(None) => {
                error(404, "none_kept", "no secret is kept for this route: open the window and register the webhook")
            }
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
            ok(&HandshakeWindow {
                route: route_name.to_owned(),
                name,
                open_until: status.open_until,
                kept_at: status.kept_at,
            })
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

/// Deletes the letter and its stored body; the ledger forgets its delivery.
async fn delete(env: &Env, letter: &DeadLetter) -> Result<(), String> {
    dead_letters::delete(env, letter, true).await?;
    if let Ok(l) = Ledger::of(env, &letter.message.route) {
        let _ = l.forget(key_of(letter)).await;
    }
    Ok(())
}

/// One bulk round: counts the letters `filter` matches, then (unless a dry
/// run) applies `op` to the first `page` of them.
async fn bulk<'a, F, Fut>(
    env: &'a Env,
    filter: &BulkFilter,
    page: usize,
    op: F,
) -> Result<(u64, u64, Vec<BulkFailure>), String>
where
    F: Fn(&'a Env, DeadLetter) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>> + 'a,
{
    let matching = dead_letters::list_matching(env, filter, BULK_SCAN_CAP).await?;
    let matched = matching.len() as u64;
    let (mut done, mut failed) = (0u64, Vec::new());
    if filter.dry_run {
        return Ok((matched, 0, failed));
    }
    for item in matching.into_iter().take(page) {
        let result = match dead_letters::get(env, &item.route, &item.id).await {
            Ok(Some(letter)) => op(env, letter).await,
            Ok(None) => continue,
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => done += 1,
            Err(error) => failed.push(BulkFailure { route: item.route, id: item.id, error }),
        }
    }
    Ok((matched, done, failed))
}

async fn redrive_round(env: &Env, filter: &BulkFilter) -> Reply {
    match bulk(env, filter, REDRIVE_PAGE, |env, l| async move { redrive(env, &l).await }).await {
        Ok((matched, redriven, failed)) => {
            ok(&RedriveRound { redriven, matched, remaining: matched - redriven, dry_run: filter.dry_run, failed })
        }
        Err(e) => unavailable(&e),
    }
}

async fn delete_round(env: &Env, filter: &BulkFilter) -> Reply {
    match bulk(env, filter, DELETE_PAGE, |env, l| async move { delete(env, &l).await }).await {
        Ok((matched, deleted, failed)) => {
            if deleted > 0 {
                log::note("warn", "dead_letters_deleted", &format!("{deleted} dead letter(s) deleted by an admin"));
            }
            ok(&DeleteRound { deleted, matched, remaining: matched - deleted, dry_run: filter.dry_run, failed })
        }
        Err(e) => unavailable(&e),
    }
}

/// `GET /admin/v1/deliveries`: each route's ledger asked (or the one
/// named), newest first across them.
async fn deliveries(env: &Env, q: &Query) -> Reply {
    let config = match bindings::config(env) {
        Ok(c) => c,
        Err(_) => return Reply::Misconfigured,
    };
    if let Some(r) = q.filter.route.as_deref() {
        if !config.routes.contains_key(r) {
            return error(404, "not_found", format!("no route {r}"));
        }
    }
    if q.state.as_deref().is_some_and(|s| flowgate_core::ledger::DeliveryState::parse(s).is_none()) {
        return bad_request("state must be queued, retrying, delivered or dead");
    }
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let mut items: Vec<Value> = Vec::new();
    let mut errors = Vec::new();
    for route in config.routes.values().filter(|r| q.filter.route.as_deref().is_none_or(|n| n == r.name)) {
        let req = DeliveriesRequest {
            route: route.name.clone(),
            id: q.filter.q.clone(),
            flow: q.filter.flow.clone(),
            state: q.state.clone(),
            since: q.since,
            limit,
        };
        let answer = match Ledger::of(env, &route.name) {
            Ok(l) => l.deliveries(&req).await.map_err(|e| format!("ledger unavailable: {e}")),
            Err(e) => Err(e),
        };
        match answer {
            Ok(Value::Array(a)) => items.extend(a),
            Ok(_) => {}
            Err(error) => errors.push(RouteError { route: route.name.clone(), error }),
        }
    }
    items.sort_by_key(|d| std::cmp::Reverse(d["updated"].as_i64().unwrap_or(0)));
    items.truncate(limit as usize);
    ok(&flowgate_core::admin::DeliveryPage { items, errors })
}

async fn status(env: &Env) -> Reply {
    let config = match bindings::config(env) {
        Ok(c) => c,
        Err(_) => return Reply::Misconfigured,
    };
    let mut report: StatusReport<Value> = StatusReport::default();
    let now = now_millis() / 1000;
    for route in config.routes.values() {
        let (counters, error) = match Ledger::of(env, &route.name) {
            Ok(l) => match l.status().await {
                Ok(v) => (Some(v), None),
                Err(e) => (None, Some(format!("ledger unavailable: {e}"))),
            },
            Err(e) => (None, Some(e)),
        };
        let handshake = route.secret_bindings.is_empty()
            && flowgate_core::verify::handshake::stored_secret_name(route.provider.name).is_some();
        report.routes.insert(
            route.name.clone(),
            RouteEntry {
                mode: Some(route.mode.as_str().to_owned()),
                provider: Some(route.provider.name.to_owned()),
                handshake,
                counters,
                error,
            },
        );
    }
    // One entry per credential (flows sharing one share its cache entry).
    let mut by_key: Vec<(String, TokenCacheEntry)> = Vec::new();
    for flow in config.flows.values() {
        let Ok(secrets) = deliver::flow_secrets(env, flow, &config) else { continue };
        if let Some((_, entry)) = by_key.iter_mut().find(|(k, _)| *k == secrets.cache_key) {
            entry.flows.push(flow.name.clone());
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
            TokenCacheEntry {
                key: short,
                credential: Some(flow.credential.as_deref().unwrap_or("entra").to_owned()),
                tenant: Some(entra.tenant.clone()),
                state: state.to_owned(),
                expires_at,
                expires_in_secs: expires_at.map(|e| e.saturating_sub(now)),
                cached_in: place.map(str::to_owned),
                flows: vec![flow.name.clone()],
            },
        ));
    }
    report.token_cache = by_key.into_iter().map(|(_, v)| v).collect();
    ok(&report)
}

/// The query string of the listing calls.
#[derive(Default)]
struct Query {
    /// `route`, `flow`, `q` (deliveries: `id`, the flowgate id or the sender's delivery id).
    filter: BulkFilter,
    state: Option<String>,
    since: Option<i64>,
    limit: Option<u32>,
    cursor: Option<String>,
}

impl Query {
    fn parse(url: &str) -> Self {
        let mut q = Query::default();
        let Some((_, query)) = url.split_once('?') else { return q };
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            let v = v.trim().to_owned();
            if v.is_empty() {
                continue;
            }
            match &*k {
                "route" => q.filter.route = Some(v),
                "flow" => q.filter.flow = Some(v),
                "q" | "id" => q.filter.q = Some(v),
                "state" => q.state = Some(v),
                "since" => q.since = v.parse().ok(),
                "limit" => q.limit = v.parse().ok(),
                "cursor" => q.cursor = Some(v),
                _ => {}
            }
        }
        q
    }
}

fn json(status: u16, body: &impl Serialize) -> Reply {
    Reply::Json { status, body: serde_json::to_value(body).unwrap_or(Value::Null) }
}

fn ok(body: &impl Serialize) -> Reply {
    json(200, body)
}

fn error(status: u16, code: &str, message: impl Into<String>) -> Reply {
    json(status, &ApiError::new(code, message))
}

fn bad_request(message: &str) -> Reply {
    error(400, "bad_request", message)
}

fn not_found(route: &str, id: &str) -> Reply {
    error(404, "not_found", format!("no dead letter {route}/{id}; list them with `flowgate dlq list`"))
}

fn unavailable(e: &str) -> Reply {
    error(503, "storage_unavailable", e)
}
