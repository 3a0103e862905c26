//! Queue mode: the producer side (store the body, send the message) and the
//! consumer (`queue` handler): one attempt per message delivery, then
//! acknowledge, retry after a delay, or dead-letter — never failing the
//! batch (an `Err` from a queue handler would abort the isolate,
//! workers-platform.md §1).

use std::rc::Rc;

use flowgate_core::{
    config::Config,
    delivery::{
        decide, payload_key, AttemptOutcome, BodyRef, Next, QueuedDelivery, INLINE_BODY_LIMIT, MAX_MESSAGE_BYTES,
    },
    envelope::EnvelopeMeta,
    forward::Provenance,
    Headers,
};
use futures::future::join_all;
use js_sys::Reflect;
use serde::Serialize;
use wasm_bindgen::{prelude::wasm_bindgen, JsValue};
use worker::{worker_sys, Context, Env, MessageBuilder, QueueContentType};

use crate::{
    bindings,
    dead_letters::{self, DeadLetter},
    deliver::{self, Attempt},
    ledger::{BeginReq, Key, Ledger, Outcome},
    log::{self, now_millis, Record},
};

/// Producer binding of the delivery queue.
pub(crate) const QUEUE_BINDING: &str = "DELIVERIES";
/// R2 bucket for large bodies and dead letters.
pub(crate) const BUCKET_BINDING: &str = "DELIVERY_STORE";
/// An attempt's lease outlasts the flow's timeout by this much, seconds.
const LEASE_SLACK_SECS: i64 = 30;
/// A consumed queue whose name ends so is Queues' own dead-letter queue:
/// messages Queues gave up on (its `max_retries`), dead-lettered in R2.
const QUEUES_DLQ_SUFFIX: &str = "-dlq";

/// Puts the body into the message, or into R2 when the message would pass
/// Queues' size limit. Returns the message as JSON (the route ledger keeps
/// that copy), serialised once.
pub(crate) async fn store_body(env: &Env, message: &mut QueuedDelivery, body: &[u8]) -> Result<String, String> {
    if body.len() <= INLINE_BODY_LIMIT {
        message.body = BodyRef::inline(body);
        let json = serde_json::to_string(message).map_err(|e| e.to_string())?;
        if json.len() <= MAX_MESSAGE_BYTES {
            return Ok(json);
        }
    }
    let bucket = bindings::bucket(env)?;
    // One object per flow: each delivery deletes its own when done.
    let key = payload_key(&message.route, &format!("{}.{}", message.id, message.flow));
    bucket.put(&key, body.to_vec()).execute().await.map_err(|e| format!("R2 put of the body failed: {e}"))?;
    message.body = BodyRef::Stored { key, len: body.len() as u64 };
    serde_json::to_string(message).map_err(|e| e.to_string())
}

/// Deletes a stored body (after delivery, or when the message was never sent).
pub(crate) async fn discard_body(env: &Env, message: &QueuedDelivery) {
    if let BodyRef::Stored { key, .. } = &message.body {
        if let Ok(bucket) = bindings::bucket(env) {
            if let Err(e) = bucket.delete(key).await {
                log::warn("payload_delete_failed", &format!("{key}: {e}"));
            }
        }
    }
}

/// Sends one message, optionally delayed.
pub(crate) async fn send(env: &Env, message: &QueuedDelivery, delay_secs: Option<u32>) -> Result<(), String> {
    let queue = env.queue(QUEUE_BINDING).map_err(|_| {
        format!("no queue binding {QUEUE_BINDING}: add the [[queues.producers]] and [[queues.consumers]] blocks of README.md, Deploying")
    })?;
    let mut builder = MessageBuilder::new(message).content_type(QueueContentType::Json);
    if let Some(d) = delay_secs {
        builder = builder.delay_seconds(d);
    }
    queue.send(builder.build()).await.map_err(|e| format!("queue send failed: {e}"))
}

/// The `queue` export, written out instead of `#[event(queue)]` because
/// the typed wrapper hides each message's `attempts` count, which the
/// retry rules need.
#[wasm_bindgen(js_name = queue)]
#[allow(unreachable_pub)] // a wasm export: must be `pub`
pub fn queue_entry(batch: worker_sys::MessageBatch, env: Env, ctx: worker_sys::Context) -> js_sys::Promise {
    let ctx = Context::new(ctx);
    worker::wasm_bindgen_futures::future_to_promise(async move {
        consume(batch, env, ctx).await;
        Ok(JsValue::UNDEFINED)
    })
}

/// One message and what became of it.
struct Job {
    raw: worker_sys::Message,
    attempt: u32,
    message: Option<QueuedDelivery>,
}

#[derive(Serialize)]
struct RetryOptions {
    #[serde(rename = "delaySeconds")]
    delay_seconds: u32,
}

async fn consume(batch: worker_sys::MessageBatch, env: Env, ctx: Context) {
    let queue_name: String = batch.queue().map(String::from).unwrap_or_default();
    let Ok(messages) = batch.messages() else {
        log::note("error", "queue_batch_unreadable", "the batch's messages could not be read; Queues will retry it");
        return;
    };
    let jobs: Vec<Job> = messages
        .iter()
        .map(|m| {
            let raw: worker_sys::Message = wasm_bindgen::JsCast::unchecked_into(m);
            let attempt = Reflect::get(&raw, &JsValue::from_str("attempts"))
                .ok()
                .and_then(|v| v.as_f64())
                .map_or(1, |n| n.max(1.0) as u32);
            let message = raw
                .body()
                .ok()
                .and_then(|b| js_sys::JSON::stringify(&b).ok())
                .and_then(|s| serde_json::from_str::<QueuedDelivery>(&String::from(s)).ok());
            Job { raw, attempt, message }
        })
        .collect();

    let config = bindings::config(&env).ok();
    let safety_net = queue_name.ends_with(QUEUES_DLQ_SUFFIX);
    // Small messages are attempted together; messages whose body is in R2
    // (up to max_body_bytes each) one at a time, so a batch of large bodies
    // never holds more than one of them in the isolate's memory at once.
    let (large, small): (Vec<Job>, Vec<Job>) =
        jobs.into_iter().partition(|j| j.message.as_ref().is_some_and(|m| matches!(m.body, BodyRef::Stored { .. })));
    let queue = Consumed { env: &env, ctx: &ctx, config: config.as_ref(), name: &queue_name, safety_net };
    join_all(small.iter().map(|job| queue.process(job))).await;
    for job in &large {
        queue.process(job).await;
    }
}

/// What one batch's messages are processed with.
struct Consumed<'a> {
    env: &'a Env,
    ctx: &'a Context,
    config: Option<&'a Rc<Config>>,
    name: &'a str,
    /// Queues' own dead-letter queue: everything on it is dead-lettered.
    safety_net: bool,
}

impl Consumed<'_> {
    /// One message: attempted (or dead-lettered), then acknowledged or retried.
    async fn process(&self, job: &Job) {
        let next = match (&job.message, self.config) {
            (None, _) => unreadable(self.env, job).await,
            (Some(m), _) if self.safety_net => {
                let reason = format!(
                    "Queues gave up on the message after its max_retries (queue {}); flowgate's own attempts did not finish",
                    self.name
                );
                give_up(self.env, m, job.attempt, &reason).await
            }
            (Some(m), Some(config)) => deliver_one(self.env, self.ctx, config, m, job.attempt).await,
            (Some(_), None) => Next::Retry {
                delay_secs: 60,
                reason: "flowgate's configuration is invalid; run `flowgate check`".to_owned(),
            },
        };
        settle(&job.raw, &next);
    }
}

/// Dead-letters a delivery that cannot be attempted (its route or flow is
/// gone, or Queues gave up on it), and records that in the route's ledger so
/// its recovery alarm does not send it again. A delivery already done is
/// only acknowledged.
async fn give_up(env: &Env, m: &QueuedDelivery, attempt: u32, reason: &str) -> Next {
    let Ok(ledger) = Ledger::of(env, &m.route) else {
        return dead_letter(env, m, attempt, None, reason).await;
    };
    let key = Key { id: m.id.clone(), flow: m.flow.clone(), copy: m.copy };
    let done = ledger
        .begin(&BeginReq { items: vec![key], lease_until: 0, due: 0 })
        .await
        .ok()
        .and_then(|s| s.into_iter().next().flatten());
    if matches!(done.as_deref(), Some("delivered" | "dead" | "stale")) {
        return Next::Delivered;
    }
    record(env, &ledger, m, attempt, Next::Dead { reason: reason.to_owned() }, None, 0).await
}

/// Acknowledges or retries the message as decided.
fn settle(raw: &worker_sys::Message, next: &Next) {
    let done = match next {
        Next::Delivered | Next::Dead { .. } => raw.ack(),
        Next::Retry { delay_secs, .. } => {
            let options = serde_json::to_string(&RetryOptions { delay_seconds: *delay_secs })
                .ok()
                .and_then(|s| js_sys::JSON::parse(&s).ok())
                .unwrap_or(JsValue::UNDEFINED);
            raw.retry(options)
        }
    };
    if done.is_err() {
        log::note("error", "queue_settle_failed", "ack/retry was refused; Queues will deliver the message again");
    }
}

/// One attempt for one message, recorded in the route's ledger.
async fn deliver_one(env: &Env, ctx: &Context, config: &Rc<Config>, m: &QueuedDelivery, attempt: u32) -> Next {
    let started = now_millis();
    let mut rec = Record {
        level: "info",
        request_id: &m.id,
        route: &m.route,
        delivery_id: m.delivery_id.clone(),
        event_type: m.event_type.clone(),
        attempt: Some(attempt),
        flow: Some(m.flow.clone()),
        body_bytes: usize::try_from(m.body.len()).unwrap_or(usize::MAX),
        ..Record::default()
    };
    let next = run_attempt(env, ctx, config, m, attempt, &mut rec).await;
    rec.duration_ms = now_millis().saturating_sub(started);
    match &next {
        Next::Delivered => rec.outcome = "delivered",
        Next::Retry { delay_secs, reason } => {
            rec.level = "warn";
            rec.outcome = "retry_scheduled";
            rec.message = Some(format!("{reason}; next attempt in {delay_secs} s"));
        }
        Next::Dead { reason } => {
            rec.level = "error";
            rec.outcome = "dead_lettered";
            rec.message = Some(reason.clone());
        }
    }
    log::emit(&rec);
    next
}

async fn run_attempt(
    env: &Env,
    ctx: &Context,
    config: &Rc<Config>,
    m: &QueuedDelivery,
    attempt: u32,
    rec: &mut Record<'_>,
) -> Next {
    let Some(route) = config.routes.get(&m.route) else {
        let reason =
            format!("route {} is no longer configured; add it back and redrive, or delete the dead letter", m.route);
        return give_up(env, m, attempt, &reason).await;
    };
    let Some(flow) = config.flows.get(&m.flow) else {
        let reason =
            format!("flow {} is no longer configured; add it back and redrive, or delete the dead letter", m.flow);
        return give_up(env, m, attempt, &reason).await;
    };
    rec.provider = Some(route.provider.name);
    let ledger = match Ledger::of(env, &route.name) {
        Ok(l) => l,
        Err(e) => return Next::Retry { delay_secs: 60, reason: e },
    };
    let now = i64::try_from(now_millis() / 1000).unwrap_or(0);
    // The longest an attempt can take: a token fetch (three tries of the
    // token endpoint), the call, a refresh and the call again after a 401.
    let entra_secs = config.credential(flow).timeout_secs;
    let lease_secs = i64::try_from(2 * flow.timeout_secs + 3 * entra_secs * 3).unwrap_or(600) + LEASE_SLACK_SECS;
    let begin = BeginReq {
        items: vec![Key { id: m.id.clone(), flow: m.flow.clone(), copy: m.copy }],
        lease_until: now + lease_secs,
        due: now + lease_secs + i64::try_from(route.lost_after_secs).unwrap_or(900),
    };
    match ledger.begin(&begin).await {
        Ok(states) => match states.first().and_then(Option::as_deref) {
            Some("delivered") => {
                rec.message = Some("already delivered (a second copy of the message)".to_owned());
                return Next::Delivered;
            }
            Some("dead") => {
                rec.message = Some("already a dead letter (a second copy of the message)".to_owned());
                return Next::Delivered;
            }
            Some("stale") => {
                rec.message = Some("superseded by a newer copy (recovered or redriven)".to_owned());
                return Next::Delivered;
            }
            Some("busy") => {
                // Another copy is being attempted, or the next attempt is not due yet.
                return Next::Retry {
                    delay_secs: 30,
                    reason: "another copy of this delivery is being attempted, or its next attempt is not due yet"
                        .to_owned(),
                };
            }
            _ => {}
        },
        Err(e) => return Next::Retry { delay_secs: 5, reason: format!("route ledger unavailable: {e}") },
    }

    let body = match load_body(env, &m.body).await {
        Ok(b) => b,
        Err(BodyError::Gone(reason)) => {
            return record(env, &ledger, m, attempt, Next::Dead { reason }, None, route.lost_after_secs).await
        }
        Err(BodyError::Unavailable(reason)) => {
            let next = Next::Retry { delay_secs: route.retry.backoff(attempt, jitter()), reason };
            return record(env, &ledger, m, attempt, next, None, route.lost_after_secs).await;
        }
    };
    let outcome = match deliver::flow_secrets(env, flow, config) {
        Err(message) => AttemptOutcome::NoToken { retry_after: None, reason: message },
        Ok(secrets) => {
            let provenance = Provenance {
                route: &m.route,
                provider: &m.provider,
                event_type: m.event_type.as_deref(),
                delivery_id: m.delivery_id.as_deref(),
                flowgate_id: Some(&m.id),
                attempt: Some(attempt),
            };
            let meta = EnvelopeMeta {
                route: &m.route,
                provider: &m.provider,
                event_type: m.event_type.as_deref(),
                delivery_id: m.delivery_id.as_deref(),
                flowgate_id: &m.id,
                received_at_unix: m.received_at,
            };
            let headers: Headers = m.headers.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
            let (payload, content_type) =
                deliver::payload(flow, route, &meta, &headers, m.content_type.as_deref(), &body);
            let a = deliver::attempt(env, ctx, &secrets, &provenance, content_type, &payload, rec).await;
            if let Attempt::Accepted { run_id } = &a {
                rec.flow_run_id.clone_from(run_id);
            }
            a.outcome()
        }
    };
    let next = decide(&outcome, attempt, &route.retry, jitter());
    let next = record(env, &ledger, m, attempt, next, outcome.status(), route.lost_after_secs).await;
    if matches!(next, Next::Delivered) {
        discard_body(env, m).await;
    }
    next
}

/// Records the attempt in the ledger. A dead delivery is first recorded as
/// failing (its history comes back), then written to R2, and only then
/// marked dead: if R2 refuses, the message is retried and the ledger still
/// has it in flight.
async fn record(
    env: &Env,
    ledger: &Ledger,
    m: &QueuedDelivery,
    attempt: u32,
    next: Next,
    status: Option<u16>,
    lost_after_secs: u64,
) -> Next {
    let now = i64::try_from(now_millis() / 1000).unwrap_or(0);
    let lost_after = i64::try_from(lost_after_secs).unwrap_or(900).max(60);
    let (state, reason, due, next_at) = match &next {
        Next::Delivered => ("delivered", String::new(), None, None),
        Next::Retry { reason, delay_secs } => {
            let at = now + i64::from(*delay_secs);
            ("retrying", reason.clone(), Some(at + lost_after), Some(at))
        }
        Next::Dead { reason } => ("retrying", reason.clone(), Some(now + lost_after), None),
    };
    let outcome = Outcome {
        id: m.id.clone(),
        flow: m.flow.clone(),
        state: state.to_owned(),
        attempt,
        status,
        reason: reason.clone(),
        due,
        next_at,
        confirm: None,
        count_accepted: false,
    };
    // A delivery the flow took must be recorded, or the recovery alarm
    // would send it again: three tries.
    let tries = if matches!(next, Next::Delivered) { 3 } else { 1 };
    let mut history = None;
    for _ in 0..tries {
        match ledger.finish(vec![outcome.clone()]).await {
            Ok(mut h) => {
                history = h.pop();
                break;
            }
            Err(e) => log::warn("ledger_unavailable", &format!("route {}: attempt not recorded: {e}", m.route)),
        }
    }
    match next {
        Next::Dead { reason } => {
            let next = dead_letter(env, m, attempt, history, &reason).await;
            if matches!(next, Next::Dead { .. }) {
                let key = Key { id: m.id.clone(), flow: m.flow.clone(), copy: m.copy };
                if let Err(e) = ledger.dead(&key).await {
                    log::warn("ledger_unavailable", &format!("route {}: dead letter not recorded: {e}", m.route));
                }
            }
            next
        }
        other => other,
    }
}

/// Writes the dead letter; if R2 refuses, the message is retried instead.
async fn dead_letter(
    env: &Env,
    m: &QueuedDelivery,
    attempt: u32,
    history: Option<Vec<flowgate_core::delivery::AttemptRecord>>,
    reason: &str,
) -> Next {
    let letter = DeadLetter::new(m.clone(), reason, attempt, history.unwrap_or_default(), now_millis() / 1000);
    match dead_letters::put(env, &letter).await {
        Ok(()) => Next::Dead { reason: reason.to_owned() },
        Err(e) => {
            Next::Retry { delay_secs: 60, reason: format!("{reason}; but the dead letter could not be written ({e})") }
        }
    }
}

/// A message that is not a flowgate delivery: kept as it came, acknowledged.
async fn unreadable(env: &Env, job: &Job) -> Next {
    let id = job.raw.id().map(String::from).unwrap_or_default();
    let raw = job.raw.body().ok().and_then(|b| js_sys::JSON::stringify(&b).ok()).map(String::from).unwrap_or_default();
    match dead_letters::put_unreadable(env, &id, &raw).await {
        Ok(()) => Next::Dead { reason: "the queue message is not a flowgate delivery".to_owned() },
        Err(e) => Next::Retry { delay_secs: 300, reason: format!("unreadable message, not kept: {e}") },
    }
}

/// Why a body could not be loaded.
enum BodyError {
    /// It will never load (missing object, bad base64): dead-letter.
    Gone(String),
    /// R2 failed this time: retry.
    Unavailable(String),
}

async fn load_body(env: &Env, body: &BodyRef) -> Result<Vec<u8>, BodyError> {
    match body {
        BodyRef::Inline(_) => {
            body.inline_bytes().ok_or_else(|| BodyError::Gone("the message's body is not valid base64".to_owned()))
        }
        BodyRef::Stored { key, len } => {
            let bucket = bindings::bucket(env).map_err(BodyError::Unavailable)?;
            let object = bucket
                .get(key)
                .execute()
                .await
                .map_err(|e| BodyError::Unavailable(format!("R2 get of {key} failed: {e}")))?
                .ok_or_else(|| BodyError::Gone(format!("the stored body {key} is missing from R2 (deleted?)")))?;
            let bytes = object
                .body()
                .ok_or_else(|| BodyError::Gone(format!("the stored body {key} has no content")))?
                .bytes()
                .await
                .map_err(|e| BodyError::Unavailable(format!("R2 read of {key} failed: {e}")))?;
            if bytes.len() as u64 != *len {
                return Err(BodyError::Gone(format!(
                    "the stored body {key} has {} bytes, {len} were accepted",
                    bytes.len()
                )));
            }
            Ok(bytes)
        }
    }
}

/// Uniform in [0, 1), from `crypto.getRandomValues`.
fn jitter() -> f64 {
    let mut b = [0u8; 4];
    let _ = getrandom::getrandom(&mut b);
    f64::from(u32::from_le_bytes(b)) / (f64::from(u32::MAX) + 1.0)
}
