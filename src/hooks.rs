//! `POST /hooks/{route}`: verify, obtain a token, forward.
//!
//! Steps, in order; each failure answers at once and forwards nothing:
//! (1) route and method; (2) every setting the route needs (fail closed);
//! (3) body size, then the raw bytes; unsigned handshakes; (4) signature —
//! the body moves into the [`VerifiedRequest`], then into the accepted
//! [`Webhook`], the only thing a flow can be sent; (5) signed handshakes;
//! (6) rules; (7) delivery: `queue` mode enqueues — one queue send — and
//! answers 202 at once (the consumer judges duplicates and replays);
//! `direct` mode has the route ledger judge it (one call, when there is a
//! delivery id or a signature to judge), forwards inline
//! ([`deliver::attempt`]) and relays the flow's answer. Nothing after the
//! flow call waits on the ledger: confirmations and counts ride on the
//! route's next call ([`ledger::post`]).

use flowgate_core::{
    config::{Config, DeliveryMode, Flow, Route},
    delivery::QueuedDelivery,
    entra::TokenError,
    forward::{flow_failure_hint, Webhook},
    ledger::{Admission, AdmitPolicy, AdmitRequest, KeepRefused, Mailbox},
    metrics::PointKind,
    rules::{Decision, EventView},
    verify::{
        fetched_key,
        handshake::{self, Before},
        paypal,
        sns::{self, Disposition},
        verify_request_with, Handshake, HandshakeReply, Received, VerifiedRequest, VerifyError,
    },
    Headers, Secret,
};
use worker::{Context, Env, Method, Request};

use crate::{
    bindings,
    deliver::{self, Attempt},
    fetched_keys,
    handed_over::{self, NotKept},
    http::{self, ReadError},
    kv_token_store::KvTokenStore,
    ledger::{self, Ledger},
    log::{self, now_millis, Record},
    metrics, queue,
    reply::{Ack, Reply},
    web_crypto::WebCrypto,
    x509_certs,
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
    metrics::write(env, PointKind::Webhook, &rec);
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
    // GET and HEAD only for the senders whose handshake uses them.
    let handshake_method = match method {
        Method::Get if handshake::answers_get(route.provider.name) => Some("GET"),
        Method::Head if handshake::answers_head(route.provider.name) => Some("HEAD"),
        _ => None,
    };
    let get_handshake = handshake_method.is_some();
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

    // (3) Size, then the exact bytes: a declared length over the limit is
    // refused unread, and a body without one (chunked) is read as a stream
    // and abandoned past the limit, so no body makes the isolate buffer
    // more than the limit.
    let declared = req.headers().get("content-length").ok().flatten().and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > route.max_body_bytes) {
        rec.outcome = "too_large";
        return Reply::PayloadTooLarge { max_bytes: route.max_body_bytes };
    }
    let limit = usize::try_from(route.max_body_bytes).unwrap_or(usize::MAX);
    let framed_by_length = declared.is_some() && req.headers().get("transfer-encoding").ok().flatten().is_none();
    let read = if framed_by_length {
        // Length-framed and within the limit: the runtime reads exactly the
        // declared bytes, so one `arrayBuffer()` is bounded, and it costs one
        // crossing instead of a promise per stream chunk (the body stream
        // was 9-12 % of the Worker's CPU profile under load; README
        // Performance). Checked again after the read all the same.
        match req.bytes().await {
            Ok(b) if b.len() > limit => Err(ReadError::TooLarge),
            Ok(b) => Ok(b),
            Err(e) => Err(ReadError::Failed(e.to_string())),
        }
    } else {
        // Chunked (no length): read as a stream and abandon it past the limit.
        let stream = if req.inner().body().is_some() { req.stream().ok() } else { None };
        http::read_capped(stream, limit, true).await
    };
    let body = match read {
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

    // A route holding another route's key: X's CRC answer would sign for
    // it, and a request accepted on one would verify (be replayable) on the
    // other unless both signatures bind the URL. Fail closed.
    if let Some(problem) = deliver::shared_key_problem_of(env, &config, route) {
        rec.outcome = "misconfigured";
        rec.message = Some(problem);
        return Reply::Misconfigured;
    }

    // Unsigned handshakes (Meta, Dropbox, Okta, Microsoft Graph, Twitter,
    // Asana, Notion, …: `handshake.rs`), only on a route of that sender.
    let store = KvTokenStore(bindings::token_cache(env));
    let early = handshake::before_verification(
        route.provider.name,
        handshake_method.unwrap_or("POST"),
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
        Some(Before::Keep { name, secret, reply }) => {
            rec.event_type = Some(reply.name.to_owned());
            return keep_handed_over(env, &config, route, name, &secret, reply, rec).await;
        }
        None if get_handshake => {
            rec.outcome = "method_not_allowed";
            return Reply::MethodNotAllowed { allow: "POST" };
        }
        None => {}
    }
    // Senders that handed their secret over in a handshake: verify with it
    // (only on routes without configured secret_bindings).
    let mut signing = secrets.signing.clone();
    if let (Some(name), true) = (handshake::stored_secret_name(route.provider.name), signing.is_empty()) {
        match handed_over::kept(env, &config, route, name).await {
            Ok(Some(kept)) => signing.push(kept),
            Ok(None) => {
                rec.outcome = "rejected";
                rec.error_code = Some("no_secret_kept".to_owned());
                rec.message = Some(format!(
                    "route {}: the sender has not handed over its secret yet: run `flowgate handshake open {}`, then register the webhook",
                    route.name, route.name
                ));
                return Reply::InvalidSignature;
            }
            Err(message) => {
                rec.outcome = "misconfigured";
                rec.message = Some(message);
                return Reply::Misconfigured;
            }
        }
    }
    // Plaid, eBay, Circle: the key the request names (memory → KV → the
    // sender's key endpoint).
    if let Some(source) = fetched_key::source(route) {
        match fetched_keys::verification_key(env, &store, route, source.as_ref(), &headers, rec).await {
            Ok(key) => signing.push(key),
            Err(reply) => return reply,
        }
    }

    // AWS SNS: the certificate its SigningCertURL names (memory → KV → the
    // SNS host; any other host is refused unfetched), unless pinned.
    if let (Some(settings), true) = (&route.sns, signing.is_empty()) {
        let origin = settings.emulator_origin.as_deref();
        match x509_certs::certificate(&store, &x509_certs::SNS, route, origin, &headers, &body, rec).await {
            Ok(pem) => signing.push(pem),
            Err(reply) => return reply,
        }
    }
    // PayPal: the certificate at PAYPAL-CERT-URL (a PayPal API host only),
    // unless pinned; each certificate goes with the route's webhook id,
    // which PayPal signs too.
    if let Some(settings) = &route.paypal {
        if signing.is_empty() {
            let origin = settings.emulator_origin.as_deref();
            match x509_certs::certificate(&store, &x509_certs::PAYPAL, route, origin, &headers, &body, rec).await {
                Ok(pem) => signing.push(pem),
                Err(reply) => return reply,
            }
        }
        signing = signing.iter().map(|pem| paypal::route_key(&settings.webhook_id, pem.expose())).collect();
    }

    // (4) Signature over the raw bytes; the body moves into the result.
    // Asymmetric signatures are checked by Web Crypto (`web_crypto.rs`).
    let received_at = now_millis() / 1000;
    let received = Received { headers: &headers, body, now_secs: received_at, method: "POST", url: &url };
    let verified = match verify_request_with(
        &WebCrypto,
        route.provider,
        &route.scheme,
        route.tolerance_override,
        &signing,
        received,
    )
    .await
    {
        Ok(v) => v,
        Err(e) => return rejected(e, route, rec),
    };
    rec.delivery_id = verified.delivery_id().map(str::to_owned);
    rec.event_type = verified.event_type().map(str::to_owned);
    // What the sender needs in every answer to a verified request (Dropbox
    // Sign's text, Adobe Acrobat Sign's client id).
    let ack = Ack::of(route.provider.ack(), &headers);

    // (5) Handshakes are answered here; a flow could not answer in time.
    if let Some(Handshake::Ping(provider)) = verified.handshake() {
        rec.outcome = "handshake";
        return ack.apply(Reply::Handshake { what: format!("{provider}-ping") });
    }
    if let Some(reply) = handshake::after_verification(&verified.view(), &headers, &signing) {
        rec.outcome = "handshake";
        rec.event_type = Some(reply.name.to_owned());
        return ack.apply(Reply::HandshakeReply(reply));
    }

    // SNS's confirmations are answered here (and only Notifications go on).
    if let Some(settings) = &route.sns {
        if let Some(reply) = sns_handshake(sns::disposition(&verified.view(), settings), route, rec).await {
            return reply;
        }
    }

    // (6) Rules: which flows get the event (none: acknowledged and dropped).
    let content_type = headers.get("content-type");
    let view = EventView { event_type: verified.event_type(), headers: &headers, content_type, body: verified.body() };
    let (rule, flow_names) = match route.rules.evaluate(&view) {
        Decision::Drop => {
            rec.outcome = "dropped";
            rec.message = Some("no rule matched and the route has no default_flow".to_owned());
            // Counted without a call of its own (the route's next call, or a
            // flush a few seconds from now, carries it).
            ledger::post(&route.name, |m| m.counts.dropped += 1);
            ledger::flush_later(env, ctx, &route.name);
            return ack.apply(Reply::Dropped { route: route.name.clone() });
        }
        Decision::Deliver { rule, flows } => (rule.map(str::to_owned), flows),
    };
    rec.rule = rule;
    rec.flow = Some(flow_names.join(","));
    let mut targets = Vec::with_capacity(flow_names.len());
    for name in flow_names {
        // Validation guarantees every named flow exists.
        let Some(flow) = config.flows.get(name) else { return Reply::Misconfigured };
        targets.push(flow);
    }
    let reply = accept_and_deliver(env, ctx, &config, route, &targets, verified, &headers, received_at, rec).await;
    ack.apply(reply)
}

/// A verified SNS message that is not forwarded: another topic's (403), a
/// subscription confirmed (one GET of its SubscribeURL) or left pending, an
/// unsubscription. `None` for a Notification. The SubscribeURL's token is a
/// capability (it confirms the subscription): never logged.
async fn sns_handshake(disposition: Disposition, route: &Route, rec: &mut Record<'_>) -> Option<Reply> {
    let handshake = |rec: &mut Record<'_>, message: String| {
        rec.outcome = "handshake";
        rec.message = Some(message);
    };
    match disposition {
        Disposition::Forward => None,
        Disposition::OtherTopic => {
            rec.outcome = "sns_topic_refused";
            rec.message = Some(format!(
                "route {}: a message of a topic not in sns_topic_arns (SNS signs every account's topics): not forwarded",
                route.name
            ));
            Some(Reply::HandshakeRefused { status: 403 })
        }
        Disposition::Unsubscribed => {
            handshake(rec, format!("route {}: SNS unsubscribed this endpoint; not forwarded", route.name));
            Some(Reply::Handshake { what: "aws-sns-unsubscribe".to_owned() })
        }
        Disposition::LeaveUnconfirmed(why) => {
            rec.level = "warn";
            handshake(rec, format!("route {}: SNS subscription not confirmed: {why}", route.name));
            Some(Reply::Handshake { what: "aws-sns-subscription-pending".to_owned() })
        }
        // A confirmation re-sent (SNS's retry, or a captured one replayed)
        // is answered without asking SNS again: one GET per SubscribeURL
        // per isolate.
        Disposition::Confirm(url) if CONFIRMED.with(|c| c.borrow().contains(&url)) => {
            handshake(rec, format!("route {}: SNS subscription confirmed already", route.name));
            Some(Reply::Handshake { what: "aws-sns-subscription-confirmed".to_owned() })
        }
        Disposition::Confirm(url) => match http::get(&url, SNS_CONFIRM_TIMEOUT).await {
            Ok(a) if (200..300).contains(&a.status) => {
                CONFIRMED.with(|c| {
                    let mut c = c.borrow_mut();
                    if c.len() >= 64 {
                        c.clear();
                    }
                    c.insert(url);
                });
                handshake(rec, format!("route {}: SNS subscription confirmed", route.name));
                Some(Reply::Handshake { what: "aws-sns-subscription-confirmed".to_owned() })
            }
            // 503: SNS resends the confirmation (its delivery policy).
            failed => {
                rec.outcome = "sns_confirm_failed";
                let why = match failed {
                    Ok(a) => format!("answered {}", a.status),
                    Err(e) => e.describe(),
                };
                rec.message = Some(format!("route {}: confirming the SNS subscription failed: SNS {why}", route.name));
                Some(Reply::Unavailable { what: "sns-subscribe" })
            }
        },
    }
}

thread_local! {
    // SubscribeURLs this isolate confirmed (at most 64).
    static CONFIRMED: std::cell::RefCell<std::collections::HashSet<String>> =
        std::cell::RefCell::new(std::collections::HashSet::new());
}

/// Time allowed for SNS's `ConfirmSubscription`.
const SNS_CONFIRM_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// (7) Delivered: through the queue (answer now), or inline (relay the
/// flows' answer).
#[allow(clippy::too_many_arguments)]
async fn accept_and_deliver(
    env: &Env,
    ctx: &Context,
    config: &Config,
    route: &Route,
    targets: &[&Flow],
    verified: VerifiedRequest,
    headers: &Headers,
    received_at: u64,
    rec: &mut Record<'_>,
) -> Reply {
    // Every route needs its ledger (the consumer's, or direct mode's); the
    // binding is checked without a request.
    if let Err(message) = ledger::check_binding(env) {
        rec.outcome = "misconfigured";
        rec.message = Some(message);
        return Reply::Misconfigured;
    }
    let webhook = Webhook::accept(verified, route, rec.request_id, received_at, headers);
    match route.mode {
        DeliveryMode::Queue => enqueue(env, route, targets, &webhook, rec).await,
        DeliveryMode::Direct => direct(env, ctx, config, route, targets, &webhook, rec).await,
    }
}

/// Queue mode: one message per flow, sent in one queue operation (a body
/// over 64 KiB goes to R2 first). Duplicates and replays are the
/// consumer's to judge: a sender's re-sent copy is queued too, and dropped
/// there without reaching the flow.
async fn enqueue(env: &Env, route: &Route, targets: &[&Flow], webhook: &Webhook, rec: &mut Record<'_>) -> Reply {
    let mut messages = Vec::with_capacity(targets.len());
    for flow in targets {
        let mut m = webhook.queue_message(&flow.name);
        if let Err(e) = queue::store_body(env, &mut m, webhook.body()).await {
            discard(env, &messages).await;
            rec.outcome = "storage_unavailable";
            rec.message = Some(e);
            return Reply::Unavailable { what: "storage" };
        }
        messages.push(m);
    }
    // A resolved send is on disk (Queues' JavaScript APIs: "When the promise
    // resolves, the message is confirmed to be written to disk"), so the
    // webhook is accepted once it returns; a fan-out goes in one sendBatch.
    match queue::send(env, &messages).await {
        Ok(()) => {
            rec.outcome = "queued";
            Reply::Queued {
                route: route.name.clone(),
                delivery_id: webhook.delivery_id().map(str::to_owned),
                id: webhook.flowgate_id().to_owned(),
            }
        }
        Err(e) => {
            discard(env, &messages).await;
            rec.outcome = "queue_unavailable";
            rec.message = Some(e);
            Reply::Unavailable { what: "queue" }
        }
    }
}

async fn discard(env: &Env, messages: &[QueuedDelivery]) {
    for m in messages {
        queue::discard_body(env, m).await;
    }
}

/// Direct mode: the ledger judges the webhook when there is something to
/// judge it by (one call, before the flow call); then each target flow in
/// turn, inline. The sender gets the first failure, or 202 when every flow
/// took the run. What the ledger must learn afterwards — the id confirmed,
/// or released after a failure, and the counts — goes into this isolate's
/// mailbox for the route's next call: nothing after the flow call waits on
/// the ledger.
async fn direct(
    env: &Env,
    ctx: &Context,
    config: &Config,
    route: &Route,
    targets: &[&Flow],
    webhook: &Webhook,
    rec: &mut Record<'_>,
) -> Reply {
    // Ids and proofs count as seen once the flow took the run; meanwhile a
    // re-sent copy is told to retry (the sender may give up on this request
    // long before the flow answers).
    let policy = AdmitPolicy::of(route, Some(route.flow_timeout_secs * 2 + 60));
    let judged = policy.needs_ledger(webhook.fingerprint());
    if judged {
        let req = AdmitRequest {
            id: rec.request_id.to_owned(),
            fingerprint: webhook.fingerprint().clone(),
            policy,
            mailbox: Mailbox::default(),
        };
        let verdict = match Ledger::of(env, &route.name) {
            Ok(l) => l.admit(req).await.map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        let delivery_id = || webhook.delivery_id().map(str::to_owned);
        match verdict {
            Ok(Admission::New { id_reused }) => {
                if id_reused {
                    log_id_reused(&route.name);
                }
            }
            Ok(Admission::InProgress) => {
                rec.outcome = "in_progress";
                return Reply::InProgress;
            }
            Ok(Admission::Duplicate) => {
                rec.outcome = "duplicate";
                return Reply::Duplicate { route: route.name.clone(), delivery_id: delivery_id() };
            }
            Ok(Admission::Replay) => {
                // A captured request sent again under another id or body: never
                // forwarded. Answered like a duplicate (2xx): senders disable
                // webhooks that get 4xx, and an attacker learns nothing new.
                rec.outcome = "replay_refused";
                rec.message = Some("this signature was accepted before on another delivery id or body".to_owned());
                return Reply::Duplicate { route: route.name.clone(), delivery_id: delivery_id() };
            }
            Err(e) => {
                rec.outcome = "ledger_unavailable";
                rec.message = Some(format!("route ledger (Durable Object) failed: {e}"));
                return Reply::Unavailable { what: "ledger" };
            }
        }
    }
    let reply = call_flows(env, ctx, config, route, targets, webhook, rec).await;
    let id = rec.request_id.to_owned();
    let delivered = reply.is_success();
    ledger::post(&route.name, |m| match (judged, delivered) {
        (true, true) => {
            m.confirmed.push(id);
            m.counts.delivered += 1;
        }
        (false, true) => {
            m.counts.accepted += 1;
            m.counts.delivered += 1;
        }
        // Nothing was delivered: the sender's retry must not count as a
        // duplicate, nor its signature as a replay.
        (true, false) => m.released.push(id),
        (false, false) => {}
    });
    ledger::flush_later(env, ctx, &route.name);
    reply
}

/// Direct mode's flow calls.
async fn call_flows(
    env: &Env,
    ctx: &Context,
    config: &Config,
    route: &Route,
    targets: &[&Flow],
    webhook: &Webhook,
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
        let attempt = deliver::attempt(env, ctx, &secrets, webhook, flow, &route.envelope, None, rec).await;
        match attempt {
            Attempt::Accepted { .. } => last = Some((attempt, *flow)),
            failed => return direct_reply(failed, flow, route, rec),
        }
    }
    match last {
        Some((a, flow)) => direct_reply(a, flow, route, rec),
        None => Reply::Misconfigured,
    }
}

/// A delivery id seen before with another body is forwarded all the same:
/// an id planted by a replay can never cost the real delivery.
pub(crate) fn log_id_reused(route: &str) {
    log::warn(
        "delivery_id_reused",
        &format!(
            "route {route}: delivery id seen before with another body; forwarded (a replay may have been planted under it)"
        ),
    );
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

/// A secret handed over in a handshake (Asana, Notion): kept only on a route
/// without configured secrets, only while the operator's registration
/// window is open, never replacing one kept ([`handed_over`]).
async fn keep_handed_over(
    env: &Env,
    config: &Config,
    route: &Route,
    name: &'static str,
    secret: &Secret,
    reply: HandshakeReply,
    rec: &mut Record<'_>,
) -> Reply {
    if !route.secret_bindings.is_empty() {
        // The operator configured the secret: answer the echo, keep nothing.
        rec.outcome = "handshake";
        rec.message = Some(format!("route {} has secret_bindings: the handed-over {name} was not kept", route.name));
        return Reply::HandshakeReply(reply);
    }
    match handed_over::keep(env, config, route, name, secret).await {
        Ok(()) => {
            rec.outcome = "handshake";
            rec.level = "warn";
            rec.message =
                Some(format!("kept the {name} for route {} (the registration window is now closed)", route.name));
            Reply::HandshakeReply(reply)
        }
        Err(NotKept::Refused(why)) => {
            rec.outcome = "handshake_refused";
            rec.error_code = Some(why.code().to_owned());
            let (status, message) = match why {
                KeepRefused::WindowClosed => (403, format!(
                    "route {}: a {name} was handed over but no registration window is open; run `flowgate handshake open {} --for 10m`, then register the webhook again",
                    route.name, route.name
                )),
                KeepRefused::AlreadyKept => (409, format!(
                    "route {}: a {name} is kept already and is never replaced silently; to register again: `flowgate handshake reset {}`, then `flowgate handshake open {}`",
                    route.name, route.name, route.name
                )),
            };
            rec.message = Some(message);
            Reply::HandshakeRefused { status }
        }
        Err(NotKept::Failed(message)) => {
            rec.outcome = "ledger_unavailable";
            rec.message = Some(message);
            Reply::Unavailable { what: "ledger" }
        }
    }
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
