//! `POST /hooks/{route}`: verify, obtain a token, forward.
//!
//! Steps, in order; each failure answers at once and forwards nothing:
//! (1) route and method; (2) every setting the route needs (fail closed);
//! (3) body size, then the raw bytes; (4) signature; (5) handshakes;
//! (6) duplicate check in the route's ledger, then delivery: `queue` mode
//! enqueues and answers 202 at once; `direct` mode forwards inline
//! ([`deliver::attempt`]) and relays the flow's answer.

use flowgate_core::{
    config::{Config, DeliveryMode, Flow, Route},
    delivery::{BodyRef, QueuedDelivery, MESSAGE_VERSION},
    entra::{TokenError, TokenStore},
    envelope::EnvelopeMeta,
    forward::{flow_failure_hint, Provenance},
    rules::{Decision, EventView},
    verify::{
        handshake::{self, Before},
        verify, Handshake, HandshakeReply, Inbound, Verified, VerifyError,
    },
    Headers, Secret,
};
use worker::{Context, Env, Method, Request};

use crate::{
    bindings,
    deliver::{self, Attempt},
    http::{self, ReadError},
    kv_token_store::KvTokenStore,
    ledger::{AcceptReq, Accepted, Ledger, Outcome, ReleaseReq},
    log::{self, now_millis, Record},
    plaid_keys, queue,
    reply::Reply,
};

pub(crate) async fn handle(mut req: Request, env: &Env, ctx: &Context, route_name: &str, request_id: &str) -> Reply {
    let started = now_millis();
    let mut rec = Record { level: "info", request_id, route: route_name, ..Record::default() };
    let reply = run(&mut req, env, ctx, route_name, &mut rec).await;
    rec.status = reply.status();
    rec.duration_ms = now_millis().saturating_sub(started);
    if rec.status >= 500 {
        rec.level = "error";
    } else if rec.status >= 400 {
        rec.level = "warn";
    }
    log::emit(&rec);
    reply
}

async fn run(req: &mut Request, env: &Env, ctx: &Context, route_name: &str, rec: &mut Record<'_>) -> Reply {
    // (1) Route and method.
    let config = match bindings::config(env) {
        Ok(c) => c,
        Err(problems) => {
            rec.outcome = "misconfigured";
            rec.message = Some(format!(
                "{} configuration problem(s), first: {}; run `flowgate check`",
                problems.len(),
                problems.first().map(ToString::to_string).unwrap_or_default()
            ));
            return Reply::Misconfigured;
        }
    };
    let Some(route) = config.routes.get(route_name) else {
        rec.outcome = "unknown_route";
        return Reply::NotFound;
    };
    rec.provider = Some(route.provider.name);
    let method = req.method();
    let get_handshake = method == Method::Get && handshake::answers_get(route.provider.name);
    if method != Method::Post && !get_handshake {
        rec.outcome = "method_not_allowed";
        return Reply::MethodNotAllowed { allow: "POST" };
    }

    // (2) Settings, before reading anything from the sender.
    let secrets = match deliver::route_secrets(env, route).and_then(|s| {
        deliver::check_route_flows(env, route, &config)?;
        Ok(s)
    }) {
        Ok(s) => s,
        Err(message) => {
            rec.outcome = "misconfigured";
            rec.message = Some(message);
            return Reply::Misconfigured;
        }
    };
    // The URL as received, unparsed: parsing it with the `url` crate would
    // pull its IDNA tables (about 250 KB) into the Worker for nothing.
    let url = req.inner().url();

    // (3) Size, then the exact bytes. The body is read as a stream and
    // abandoned past the limit, so a body without Content-Length (chunked)
    // cannot make the isolate buffer more than the limit either.
    let declared = req.headers().get("content-length").ok().flatten().and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > route.max_body_bytes) {
        rec.outcome = "too_large";
        return Reply::PayloadTooLarge { max_bytes: route.max_body_bytes };
    }
    let limit = usize::try_from(route.max_body_bytes).unwrap_or(usize::MAX);
    let stream = if req.inner().body().is_some() { req.stream().ok() } else { None };
    let body = match http::read_capped(stream, limit, true).await {
        Ok(b) => b,
        Err(ReadError::TooLarge) => {
            rec.outcome = "too_large";
            return Reply::PayloadTooLarge { max_bytes: route.max_body_bytes };
        }
        Err(ReadError::Failed(e)) => {
            rec.outcome = "body_unreadable";
            rec.message = Some(e);
            return Reply::BadRequest;
        }
    };
    rec.body_bytes = body.len();
    let headers: Headers = req.headers().entries().collect();

    // Unsigned handshakes (Meta, Dropbox, Okta, Microsoft Graph, Twitter,
    // Asana, Notion), only on a route of that sender.
    let store = KvTokenStore(bindings::token_cache(env));
    let early = handshake::before_verification(
        route.provider.name,
        if get_handshake { "GET" } else { "POST" },
        &url,
        &headers,
        &body,
        &secrets.signing,
        secrets.verify_token.as_ref(),
    );
    match early {
        Some(Before::Answer(reply)) => {
            rec.outcome = "handshake";
            rec.event_type = Some(reply.name.to_owned());
            return Reply::HandshakeReply(reply);
        }
        Some(Before::Refuse(status, why)) => {
            rec.outcome = "handshake_refused";
            rec.message = Some(why.to_owned());
            return Reply::HandshakeRefused { status };
        }
        Some(Before::Store { secret, reply }) => {
            rec.event_type = Some(reply.name.to_owned());
            return keep_handshake_secret(&store, route, secret, reply, rec).await;
        }
        None if get_handshake => {
            rec.outcome = "method_not_allowed";
            return Reply::MethodNotAllowed { allow: "POST" };
        }
        None => {}
    }
    // Senders that handed their secret over in a handshake: verify with it too.
    let mut signing = secrets.signing.clone();
    if let Some(name) = handshake::stored_secret_name(route.provider.name) {
        if let Some(kept) = store.get(&handshake_key(&route.name, name)).await {
            signing.push(Secret::new(kept));
        }
    }
    // Plaid: the key its token names (memory → KV → Plaid's key endpoint).
    if let Some(plaid) = &route.plaid {
        match plaid_keys::verification_key(env, &store, route, plaid, &headers, rec).await {
            Ok(jwk) => signing.push(jwk),
            Err(reply) => return reply,
        }
    }

    // (4) Signature over the raw bytes.
    let inbound = Inbound { headers: &headers, body: &body, now_secs: now_millis() / 1000, method: "POST", url: &url };
    let verified = match verify(route.provider, &route.scheme, route.tolerance_override, &signing, inbound) {
        Ok(v) => v,
        Err(e) => return rejected(e, route, rec),
    };
    rec.delivery_id = verified.delivery_id().map(str::to_owned);
    rec.event_type = verified.event_type().map(str::to_owned);

    // (5) Handshakes are answered here; a flow could not answer in time.
    if let Some(Handshake::Ping(provider)) = verified.handshake() {
        rec.outcome = "handshake";
        return Reply::Handshake { what: format!("{provider}-ping") };
    }
    if let Some(reply) = handshake::after_verification(&verified, &headers, &signing) {
        rec.outcome = "handshake";
        rec.event_type = Some(reply.name.to_owned());
        return Reply::HandshakeReply(reply);
    }

    // (6) Rules: which flows get the event (none: acknowledged and dropped).
    let content_type = headers.get("content-type");
    let view = EventView { event_type: verified.event_type(), headers: &headers, content_type, body: &body };
    let (rule, flow_names) = match route.rules.evaluate(&view) {
        Decision::Drop => {
            rec.outcome = "dropped";
            rec.message = Some("no rule matched and the route has no default_flow".to_owned());
            match Ledger::of(env, &route.name) {
                Ok(l) => {
                    if let Err(e) = l.count("dropped", 1).await {
                        log::warn("ledger_unavailable", &format!("route {}: drop not counted: {e}", route.name));
                    }
                }
                Err(e) => log::warn("ledger_unavailable", &e),
            }
            return Reply::Dropped { route: route.name.clone() };
        }
        Decision::Deliver { rule, flows } => (rule, flows),
    };
    rec.rule = rule.map(str::to_owned);
    rec.flow = Some(flow_names.join(","));
    let mut targets = Vec::with_capacity(flow_names.len());
    for name in flow_names {
        // Validation guarantees every named flow exists.
        let Some(flow) = config.flows.get(name) else { return Reply::Misconfigured };
        targets.push(flow);
    }

    // (7) Deliver: through the queue (answer now), or inline (relay the flows' answer).
    let ledger = match Ledger::of(env, &route.name) {
        Ok(l) => l,
        Err(message) => {
            rec.outcome = "misconfigured";
            rec.message = Some(message);
            return Reply::Misconfigured;
        }
    };
    // Queue mode: the messages (and large bodies in R2) are ready before the
    // ledger records the webhook, so the ledger keeps copies to recover from.
    let received_at = now_millis() / 1000;
    let mut messages = Vec::new();
    let mut copies = Vec::new();
    if route.mode == DeliveryMode::Queue {
        for flow in &targets {
            match queued_message(env, route, flow, &verified, &headers, &body, rec.request_id, received_at).await {
                Ok((m, json)) => {
                    messages.push(m);
                    copies.push(json);
                }
                Err(e) => {
                    for m in &messages {
                        queue::discard_body(env, m).await;
                    }
                    rec.outcome = "storage_unavailable";
                    rec.message = Some(e);
                    return Reply::Unavailable { what: "storage" };
                }
            }
        }
    }
    let now = i64::try_from(received_at).unwrap_or(0);
    let accept = AcceptReq {
        id: rec.request_id.to_owned(),
        delivery_id: verified.delivery_id().map(str::to_owned),
        window_secs: route.dedupe_window_secs,
        flows: targets.iter().map(|f| f.name.clone()).collect(),
        messages: copies,
        due: (!messages.is_empty()).then(|| now + i64::try_from(route.lost_after_secs).unwrap_or(900)),
        // Direct mode: the id counts as seen once the flow took the run;
        // meanwhile a re-sent copy is told to retry (the sender may give up
        // on this request long before the flow answers).
        pending_secs: (route.mode == DeliveryMode::Direct)
            .then(|| i64::try_from(route.flow_timeout_secs * 2 + 60).unwrap_or(300)),
    };
    // Direct mode without a delivery id to remember has nothing to record
    // before the call: the ledger only counts it, after the response.
    let record_first =
        route.mode == DeliveryMode::Queue || (accept.window_secs.is_some() && accept.delivery_id.is_some());
    let verdict = if record_first { ledger.accept(&accept).await } else { Ok(Accepted::New) };
    match verdict {
        Ok(Accepted::New) => {}
        Ok(Accepted::InProgress) => {
            rec.outcome = "in_progress";
            return Reply::InProgress;
        }
        Ok(Accepted::Duplicate) => {
            discard(env, &messages).await;
            rec.outcome = "duplicate";
            return Reply::Duplicate { route: route.name.clone(), delivery_id: accept.delivery_id };
        }
        Err(e) => {
            discard(env, &messages).await;
            rec.outcome = "ledger_unavailable";
            rec.message = Some(format!("route ledger (Durable Object) failed: {e}"));
            return Reply::Unavailable { what: "ledger" };
        }
    }
    let release = ReleaseReq { id: accept.id.clone(), delivery_id: accept.delivery_id.clone() };
    let reply = if messages.is_empty() {
        direct(env, ctx, &config, route, &targets, &verified, &headers, &body, received_at, !record_first, rec).await
    } else {
        let mut sent = 0;
        let mut failed = None;
        for m in &messages {
            match queue::send(env, m, None).await {
                Ok(()) => sent += 1,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        match failed {
            None => {
                rec.outcome = "queued";
                Reply::Queued {
                    route: route.name.clone(),
                    delivery_id: accept.delivery_id.clone(),
                    id: accept.id.clone(),
                }
            }
            // A partly sent fan-out is not undone: the ledger keeps copies of
            // the unsent messages and its alarm enqueues them.
            Some(e) if sent > 0 => {
                rec.outcome = "queued";
                rec.message = Some(format!(
                    "{} message(s) not sent ({e}); the route ledger recovers them",
                    messages.len() - sent
                ));
                Reply::Queued {
                    route: route.name.clone(),
                    delivery_id: accept.delivery_id.clone(),
                    id: accept.id.clone(),
                }
            }
            Some(e) => {
                discard(env, &messages).await;
                rec.outcome = "queue_unavailable";
                rec.message = Some(e);
                Reply::Unavailable { what: "queue" }
            }
        }
    };
    if !reply.is_success() && record_first {
        // Nothing was accepted: the sender's retry must not count as a duplicate.
        if let Err(e) = ledger.release(&release).await {
            log::warn("ledger_unavailable", &format!("route {}: could not release {}: {e}", route.name, release.id));
        }
    }
    reply
}

async fn discard(env: &Env, messages: &[QueuedDelivery]) {
    for m in messages {
        queue::discard_body(env, m).await;
    }
}

/// Direct mode: each target flow in turn, inline; the sender gets the first
/// failure, or 202 when every flow took the run.
#[allow(clippy::too_many_arguments)]
async fn direct(
    env: &Env,
    ctx: &Context,
    config: &Config,
    route: &Route,
    targets: &[&Flow],
    verified: &Verified<'_>,
    headers: &Headers,
    body: &[u8],
    received_at: u64,
    count_accepted: bool,
    rec: &mut Record<'_>,
) -> Reply {
    let mut last = None;
    for flow in targets {
        let secrets = match deliver::flow_secrets(env, flow, config) {
            Ok(s) => s,
            Err(message) => {
                rec.outcome = "misconfigured";
                rec.message = Some(message);
                return Reply::Misconfigured;
            }
        };
        let provenance = Provenance { flowgate_id: Some(rec.request_id), ..Provenance::of(&route.name, verified) };
        let meta = EnvelopeMeta {
            route: &route.name,
            provider: verified.provider(),
            event_type: verified.event_type(),
            delivery_id: verified.delivery_id(),
            flowgate_id: rec.request_id,
            received_at_unix: received_at,
        };
        let (payload, content_type) = deliver::payload(flow, route, &meta, headers, headers.get("content-type"), body);
        let attempt = deliver::attempt(env, ctx, &secrets, &provenance, content_type, &payload, rec).await;
        match attempt {
            Attempt::Accepted { .. } => {
                let done = Outcome {
                    id: rec.request_id.to_owned(),
                    flow: flow.name.clone(),
                    state: "delivered".to_owned(),
                    attempt: 1,
                    status: rec.upstream_status,
                    reason: String::new(),
                    due: None,
                    next_at: None,
                    confirm: verified.delivery_id().map(str::to_owned),
                    count_accepted,
                };
                // Bookkeeping after the response: the sender does not wait
                // for it. Until it lands, a re-sent copy is told to retry.
                let (env, route_name) = (env.clone(), route.name.clone());
                ctx.wait_until(async move {
                    let result = match Ledger::of(&env, &route_name) {
                        Ok(l) => l.finish(vec![done]).await.map(drop).map_err(|e| e.to_string()),
                        Err(e) => Err(e),
                    };
                    if let Err(e) = result {
                        log::warn("ledger_unavailable", &format!("route {route_name}: delivery not recorded: {e}"));
                    }
                });
                last = Some((attempt, *flow));
            }
            failed => return direct_reply(failed, flow, route, rec),
        }
    }
    match last {
        Some((a, flow)) => direct_reply(a, flow, route, rec),
        None => Reply::Misconfigured,
    }
}

/// Queue mode: everything the consumer needs for one flow, with the body
/// inline or in R2; and the same as JSON, for the ledger's copy.
#[allow(clippy::too_many_arguments)]
async fn queued_message(
    env: &Env,
    route: &Route,
    flow: &Flow,
    verified: &Verified<'_>,
    headers: &Headers,
    body: &[u8],
    id: &str,
    received_at: u64,
) -> Result<(QueuedDelivery, String), String> {
    let mut message = QueuedDelivery {
        v: MESSAGE_VERSION,
        id: id.to_owned(),
        route: route.name.clone(),
        flow: flow.name.clone(),
        provider: verified.provider().to_owned(),
        delivery_id: verified.delivery_id().map(str::to_owned),
        event_type: verified.event_type().map(str::to_owned),
        received_at,
        content_type: headers.get("content-type").map(str::to_owned),
        headers: headers
            .iter()
            .filter(|(k, _)| route.keeps_header(k))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        body: BodyRef::Stored { key: String::new(), len: 0 },
        copy: 0,
    };
    let json = queue::store_body(env, &mut message, body).await?;
    Ok((message, json))
}

/// A `direct` route relays how its flow answered.
fn direct_reply(attempt: Attempt, flow: &Flow, route: &Route, rec: &mut Record<'_>) -> Reply {
    match attempt {
        Attempt::Accepted { run_id } => {
            rec.outcome = "forwarded";
            rec.flow_run_id.clone_from(&run_id);
            Reply::Accepted { route: route.name.clone(), delivery_id: rec.delivery_id.clone(), flow_run_id: run_id }
        }
        Attempt::NoToken(e) => token_failed(&e, rec),
        Attempt::Timeout => {
            rec.outcome = "flow_timeout";
            rec.message = Some(format!("flow {} did not answer within {} s", flow.name, flow.timeout_secs));
            Reply::FlowFailed {
                status: None,
                code: None,
                hint: "the flow did not answer in time; it may still have started a run, so a redelivery can run it twice (flows can de-duplicate on x-flowgate-id)",
            }
        }
        Attempt::Network(e) => {
            rec.outcome = "flow_unreachable";
            rec.message = Some(format!("flow call failed: {e}"));
            Reply::FlowFailed { status: None, code: None, hint: "the flow could not be reached; nothing was delivered" }
        }
        Attempt::Refused { status, code, .. } => flow_failed(status, code, rec),
    }
}

/// Where a handed-over handshake secret is kept (in the `TOKEN_CACHE` namespace).
fn handshake_key(route: &str, name: &str) -> String {
    format!("handshake/v1/{route}/{name}")
}

/// Keeps a secret handed over in a handshake — never replacing one already
/// kept, so nobody can re-register the route behind the operator's back —
/// and answers the sender.
async fn keep_handshake_secret(
    store: &KvTokenStore,
    route: &Route,
    secret: Secret,
    reply: HandshakeReply,
    rec: &mut Record<'_>,
) -> Reply {
    let Some(name) = handshake::stored_secret_name(route.provider.name) else { return Reply::Misconfigured };
    let key = handshake_key(&route.name, name);
    if store.0.is_none() {
        rec.outcome = "misconfigured";
        rec.message = Some("the handshake's secret cannot be kept: bind a KV namespace as TOKEN_CACHE".to_owned());
        return Reply::Misconfigured;
    }
    if store.get(&key).await.is_some() {
        rec.outcome = "handshake_refused";
        rec.message = Some(format!(
            "a {name} is already kept for route {}; to register again, delete it: npx wrangler kv key delete --binding TOKEN_CACHE \"{key}\"",
            route.name
        ));
        return Reply::HandshakeRefused { status: 409 };
    }
    store.put_permanent(&key, secret.expose().to_owned()).await;
    rec.outcome = "handshake";
    rec.message = Some(format!("kept the {name} for route {} (KV key {key})", route.name));
    Reply::HandshakeReply(reply)
}

fn flow_failed(status: u16, code: Option<String>, rec: &mut Record<'_>) -> Reply {
    let hint = flow_failure_hint(status, code.as_deref());
    rec.outcome = "flow_rejected";
    rec.error_code.clone_from(&code);
    rec.message = Some(hint.to_owned());
    Reply::FlowFailed { status: Some(status), code, hint }
}

fn rejected(e: VerifyError, route: &Route, rec: &mut Record<'_>) -> Reply {
    rec.error_code = Some(e.code().to_owned());
    rec.message = Some(e.to_string());
    if e.is_config_error() {
        rec.outcome = "misconfigured";
        rec.message = Some(format!("route {}: {e}; fix the secret with `wrangler secret put`", route.name));
        Reply::Misconfigured
    } else {
        rec.outcome = "rejected";
        Reply::InvalidSignature
    }
}

fn token_failed(e: &TokenError, rec: &mut Record<'_>) -> Reply {
    rec.outcome = "token_failed";
    rec.error_code = Some(e.code());
    let trace = match e {
        TokenError::Entra { trace_id: Some(t), .. } => format!(" (Entra trace id {t})"),
        _ => String::new(),
    };
    rec.message = Some(format!("{e}: {}{trace}", e.hint()));
    Reply::TokenUnavailable { code: e.code(), hint: e.hint(), retry_after: e.retry_after() }
}
