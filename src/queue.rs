//! Queue mode: the producer side (store the body, send the message) and the
//! consumer (`queue` handler): one attempt per message delivery, then
//! acknowledge, retry after a delay, or dead-letter — never failing the
//! batch (an `Err` from a queue handler would abort the isolate,
//! workers-platform.md §1).

use std::{
    cell::{Cell, RefCell},
    rc::Rc,
};

use flowgate_core::{
    alerts::Alert,
    config::{Config, Flow, DEFAULT_LOST_AFTER_SECS},
    delivery::{
        decide, payload_key, push_history, AttemptOutcome, AttemptRecord, BodyRef, Next, QueuedDelivery,
        INLINE_BODY_LIMIT, MAX_MESSAGE_BYTES, MAX_QUEUE_DELAY_SECS,
    },
    forward::{flow_failure_hint, Webhook, MISMATCHED_CLAIMS},
    ledger::{
        AdmitPolicy, BatchItem, BatchRequest, DeliveryKey, Fingerprint, Mailbox, Outcome, Settlement, Skip, Verdict,
    },
    metrics::PointKind,
    pacing::{Asking, Grant, Hold, PaceRequest, Report, Reported},
};
use futures::future::join_all;
use js_sys::Reflect;
use serde::Serialize;
use wasm_bindgen::{prelude::wasm_bindgen, JsValue};
use worker::{worker_sys, Context, Env};

use crate::{
    alerts, bindings,
    dead_letters::{self, DeadLetter},
    deliver::{self, Attempt},
    ledger::{self, Ledger},
    log::{self, now_millis, Record},
    metrics,
    pacer::FlowPacerClient,
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

/// Sends messages in one queue operation (`sendBatch`: on disk together
/// when it resolves) — a webhook's, one per flow, or a single one. One way
/// of sending compiles one serialiser path.
pub(crate) async fn send(env: &Env, messages: &[QueuedDelivery]) -> Result<(), String> {
    queue(env)?.send_batch(messages.iter()).await.map_err(|e| format!("queue send failed: {e}"))
}

fn queue(env: &Env) -> Result<worker::Queue, String> {
    env.queue(QUEUE_BINDING).map_err(|_| {
        format!("no queue binding {QUEUE_BINDING}: add the [[queues.producers]] and [[queues.consumers]] blocks of README.md, Deploying")
    })
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

/// One message and what becomes of it.
struct Job {
    raw: worker_sys::Message,
    attempt: u32,
    /// The message as sent (JSON): the copy the ledger keeps if it goes back to the queue.
    json: String,
    message: Option<QueuedDelivery>,
    /// Why it is dead-lettered without an attempt, if it is.
    give_up: Option<String>,
    verdict: Option<Verdict>,
    next: Option<Next>,
    settlement: Option<Outcome>,
    /// The flow pacer's lease for this attempt, and what to tell it.
    lease: Option<u64>,
    reported: Cell<Option<Reported>>,
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
    let config = bindings::config(&env).ok();
    let safety_net = queue_name.ends_with(QUEUES_DLQ_SUFFIX);
    let mut jobs: Vec<Job> = messages
        .iter()
        .map(|m| {
            let raw: worker_sys::Message = wasm_bindgen::JsCast::unchecked_into(m);
            let attempt = Reflect::get(&raw, &JsValue::from_str("attempts"))
                .ok()
                .and_then(|v| v.as_f64())
                .map_or(1, |n| n.max(1.0) as u32);
            let json =
                raw.body().ok().and_then(|b| js_sys::JSON::stringify(&b).ok()).map(String::from).unwrap_or_default();
            let message = serde_json::from_str::<QueuedDelivery>(&json).ok();
            // The delivery's attempt number: this message's, after those
            // made under the messages it was re-sent from (pacing).
            let attempt = attempt.saturating_add(message.as_ref().map_or(0, |m| m.attempts_before));
            let give_up = match (&message, &config) {
                (Some(_), _) if safety_net => Some(format!(
                    "Queues gave up on the message after its max_retries (queue {queue_name}); flowgate's own attempts did not finish"
                )),
                (Some(m), Some(c)) if !c.routes.contains_key(&m.route) => Some(format!(
                    "route {} is no longer configured; add it back and redrive, or delete the dead letter",
                    m.route
                )),
                (Some(m), Some(c)) if !c.flows.contains_key(&m.flow) => Some(format!(
                    "flow {} is no longer configured; add it back and redrive, or delete the dead letter",
                    m.flow
                )),
                _ => None,
            };
            Job {
                raw,
                attempt,
                json,
                message,
                give_up,
                verdict: None,
                next: None,
                settlement: None,
                lease: None,
                reported: Cell::new(None),
            }
        })
        .collect();

    // Messages the ledger has no say in: not flowgate's, or no configuration
    // to deliver them with.
    for job in &mut jobs {
        match (&job.message, &config) {
            (None, _) => job.next = Some(unreadable(&env, job).await),
            (Some(_), None) if job.give_up.is_none() => {
                job.next = Some(Next::Retry {
                    delay_secs: 60,
                    reason: "flowgate's configuration is invalid; run `flowgate check`".to_owned(),
                });
            }
            _ => {}
        }
    }

    // (1) One ledger call per route: each message judged before any attempt.
    // (A batch seldom spans many routes: one call after the other.)
    let mut routes: Vec<String> =
        jobs.iter().filter(|j| j.next.is_none()).filter_map(|j| j.message.as_ref().map(|m| m.route.clone())).collect();
    routes.sort();
    routes.dedup();
    for route in &routes {
        let verdicts = judge(&env, config.as_deref(), route, &jobs).await;
        let mine =
            jobs.iter_mut().filter(|j| j.next.is_none() && j.message.as_ref().is_some_and(|m| &m.route == route));
        match verdicts {
            Ok(verdicts) => mine.zip(verdicts).for_each(|(j, v)| j.verdict = Some(v)),
            Err(e) => mine.for_each(|j| {
                j.next = Some(Next::Retry { delay_secs: 5, reason: format!("route ledger unavailable: {e}") });
            }),
        }
    }

    // (1b) One pacer call per flow, for the deliveries the ledger let through:
    // those over the flow's rate or concurrency, or to a paused flow, go back
    // to the queue until their turn (the ledger is told, and keeps a copy).
    if let Some(config) = &config {
        pace(&env, config, &mut jobs).await;
    }

    // (2) The attempts. Small messages together; messages whose body is in
    // R2 (up to max_body_bytes each) one at a time, so a batch of large
    // bodies never holds more than one of them in the isolate's memory.
    let work = Work { env: &env, ctx: &ctx, config: config.as_ref(), alerts: RefCell::new(Vec::new()) };
    let (large, small): (Vec<&mut Job>, Vec<&mut Job>) = jobs
        .iter_mut()
        .filter(|j| j.next.is_none())
        .partition(|j| j.message.as_ref().is_some_and(|m| matches!(m.body, BodyRef::Stored { .. })));
    join_all(small.into_iter().map(|job| work.process(job))).await;
    for job in large {
        work.process(job).await;
    }

    let mut raised = work.alerts.take();
    // The pacers learn how their granted attempts went (a 429/503 pauses the flow).
    raised.extend(report_pacing(&env, &jobs).await);

    // (3) One ledger call per route: the outcomes. Recorded before the
    // messages are acknowledged; if the ledger cannot be reached they stay
    // in this isolate's mailbox for the route's next call.
    for route in &routes {
        record(&env, &ctx, route, &jobs).await;
    }
    for job in &jobs {
        // Every message is acknowledged or retried explicitly: one left alone
        // would be acknowledged when the handler returns.
        let next = job.next.clone().unwrap_or(Next::Retry { delay_secs: 30, reason: String::new() });
        settle(&job.raw, &next);
    }
    // (4) Alerts, once every message is settled: a slow or failing alert
    // destination never holds a delivery back.
    if let Some(config) = &config {
        alerts::raise(&env, config, raised).await;
    }
}

/// The batch call for `route`'s messages.
async fn judge(env: &Env, config: Option<&Config>, route: &str, jobs: &[Job]) -> Result<Vec<Verdict>, String> {
    let ledger = Ledger::of(env, route)?;
    let now = i64::try_from(now_millis() / 1000).unwrap_or(0);
    let route_config = config.and_then(|c| c.routes.get(route));
    let mut lease_secs = 0;
    let mut items = Vec::new();
    for job in jobs.iter().filter(|j| j.next.is_none()) {
        let Some(m) = job.message.as_ref().filter(|m| m.route == route) else { continue };
        let flow = config.and_then(|c| Some((c, c.flows.get(&m.flow)?)));
        if let (Some((c, flow)), None) = (flow, &job.give_up) {
            lease_secs = lease_secs.max(lease_of(c, flow));
        }
        items.push(BatchItem {
            key: DeliveryKey { id: m.id.clone(), flow: m.flow.clone() },
            copy: m.copy,
            fingerprint: job.give_up.is_none().then(|| Fingerprint {
                delivery_id: m.delivery_id.clone(),
                body: m.body_digest.clone().unwrap_or_default(),
                proof: m.proof.clone(),
            }),
        });
    }
    let lost_after = i64::try_from(route_config.map_or(DEFAULT_LOST_AFTER_SECS, |r| r.lost_after_secs)).unwrap_or(900);
    let req = BatchRequest {
        items,
        policy: route_config
            .map_or(AdmitPolicy { dedupe_window_secs: None, replay_window_secs: None, pending_secs: None }, |r| {
                AdmitPolicy::of(r, None)
            }),
        lease_until: now + lease_secs,
        due: now + lease_secs + lost_after,
        mailbox: Mailbox::default(),
    };
    let asked = req.items.len();
    let answer = ledger.batch(req).await.map_err(|e| e.to_string())?;
    if answer.verdicts.len() != asked {
        return Err(format!("{} verdicts for {asked} messages", answer.verdicts.len()));
    }
    Ok(answer.verdicts)
}

/// The longest an attempt to `flow` can take: a token fetch (three tries of
/// the token endpoint), the call, a refresh and the call again after a 401.
fn lease_of(config: &Config, flow: &Flow) -> i64 {
    let entra_secs = config.credential(flow).timeout_secs;
    i64::try_from(2 * flow.timeout_secs + 3 * entra_secs * 3).unwrap_or(600) + LEASE_SLACK_SECS
}

/// The outcome call for `route`'s messages.
async fn record(env: &Env, ctx: &Context, route: &str, jobs: &[Job]) {
    let settled: Vec<Settlement> = jobs
        .iter()
        .filter_map(|j| {
            let m = j.message.as_ref().filter(|m| m.route == route)?;
            Some(Settlement {
                key: DeliveryKey { id: m.id.clone(), flow: m.flow.clone() },
                copy: m.copy,
                attempt: j.attempt,
                outcome: j.settlement.clone()?,
            })
        })
        .collect();
    if settled.is_empty() {
        return;
    }
    let result = match Ledger::of(env, route) {
        Ok(l) => l.flush(Mailbox { settled, ..Mailbox::default() }).await.map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        log::warn(
            "ledger_unavailable",
            &format!("route {route}: outcomes not recorded yet ({e}); kept for the next call"),
        );
        ledger::flush_later(env, ctx, route);
    }
}

/// What a batch's attempts are made with.
struct Work<'a> {
    env: &'a Env,
    ctx: &'a Context,
    config: Option<&'a Rc<Config>>,
    /// The batch's alerts, raised after its messages are settled.
    alerts: RefCell<Vec<Alert>>,
}

impl Work<'_> {
    /// Keeps `alert` for after the batch is settled.
    fn raise(&self, alert: Alert) {
        self.alerts.borrow_mut().push(alert);
    }

    /// One judged message: skipped, put off, dead-lettered or attempted.
    async fn process(&self, job: &mut Job) {
        let Some(verdict) = job.verdict.take() else { return };
        let (next, outcome) = self.judged(job, verdict).await;
        job.next = Some(next);
        job.settlement = outcome;
    }

    async fn judged(&self, job: &Job, verdict: Verdict) -> (Next, Option<Outcome>) {
        let Some(m) = &job.message else { return (Next::Retry { delay_secs: 30, reason: String::new() }, None) };
        let started = now_millis();
        let mut rec = delivery_record(self.config.map(|c| &**c), m, job.attempt);
        let (next, outcome) = match verdict {
            Verdict::Skip(why) => {
                let (outcome, message) = match why {
                    Skip::Delivered => ("skipped", "already delivered (a second copy of the message)"),
                    Skip::Dead => ("skipped", "already a dead letter (a second copy of the message)"),
                    Skip::Stale => ("skipped", "superseded by a newer copy (recovered or redriven)"),
                    Skip::Duplicate => ("duplicate", "the sender re-sent a webhook accepted before; not forwarded"),
                    Skip::Replay => (
                        "replay_refused",
                        "this signature was accepted before on another delivery id or body; not forwarded",
                    ),
                };
                if matches!(why, Skip::Duplicate | Skip::Replay) {
                    // Its own stored body (another flowgate id): not needed.
                    discard_body(self.env, m).await;
                }
                rec.outcome = outcome;
                rec.message = Some(message.to_owned());
                (Next::Delivered, None)
            }
            Verdict::Busy => {
                rec.outcome = "retry_scheduled";
                rec.message = Some(
                    "another copy of this delivery is being attempted, or its next attempt is not due yet".to_owned(),
                );
                (Next::Retry { delay_secs: 30, reason: String::new() }, None)
            }
            Verdict::Attempt { history, keeps_copy, id_reused } => {
                if id_reused {
                    crate::hooks::log_id_reused(&m.route);
                }
                let copy = (!keeps_copy).then(|| job.json.clone());
                let (next, status) = match (&job.give_up, self.config) {
                    (Some(reason), _) => (Next::Dead { reason: reason.clone() }, None),
                    (None, Some(config)) => self.attempt(config, m, job.attempt, &job.reported, &mut rec).await,
                    (None, None) => {
                        (Next::Retry { delay_secs: 60, reason: "flowgate's configuration is invalid".to_owned() }, None)
                    }
                };
                let (next, outcome) = self.outcome(m, job.attempt, next, status, history, copy).await;
                log_attempt(&mut rec, &next);
                (next, Some(outcome))
            }
        };
        rec.duration_ms = now_millis().saturating_sub(started);
        emit_attempt(self.env, &rec);
        (next, outcome)
    }

    /// One attempt to the flow; what follows and the flow's status.
    async fn attempt(
        &self,
        config: &Rc<Config>,
        m: &QueuedDelivery,
        attempt: u32,
        reported: &Cell<Option<Reported>>,
        rec: &mut Record<'_>,
    ) -> (Next, Option<u16>) {
        let (Some(route), Some(flow)) = (config.routes.get(&m.route), config.flows.get(&m.flow)) else {
            return (Next::Retry { delay_secs: 60, reason: "route or flow missing".to_owned() }, None);
        };
        rec.provider = Some(route.provider.name);
        let body = match load_body(self.env, &m.body).await {
            Ok(b) => b,
            Err(BodyError::Gone(reason)) => return (Next::Dead { reason }, None),
            Err(BodyError::Unavailable(reason)) => {
                return (Next::Retry { delay_secs: route.retry.backoff(attempt, jitter()), reason }, None)
            }
        };
        let at = now_millis() / 1000;
        let outcome = match deliver::flow_secrets(self.env, flow, config) {
            Err(message) => {
                self.raise(Alert::token_failed(&m.route, &m.flow, None, &message, at));
                AttemptOutcome::NoToken { retry_after: None, reason: message }
            }
            Ok(secrets) => {
                // The documented way back in from the queue (flowgate wrote the
                // message after verification).
                let webhook = Webhook::from_queue(m, body);
                let a =
                    deliver::attempt(self.env, self.ctx, &secrets, &webhook, flow, &route.envelope, Some(attempt), rec)
                        .await;
                match &a {
                    Attempt::Accepted { run_id } => rec.flow_run_id.clone_from(run_id),
                    Attempt::NoToken(e) => {
                        let reason = format!("{e}: {}", e.hint());
                        self.raise(Alert::token_failed(&m.route, &m.flow, Some(&e.code()), &reason, at));
                    }
                    Attempt::Refused { status: status @ (401 | 403), code: Some(code), .. }
                        if code == MISMATCHED_CLAIMS =>
                    {
                        let hint = flow_failure_hint(*status, Some(code));
                        self.raise(Alert::flow_refusing_tokens(&m.route, &m.flow, *status, code, hint, at));
                    }
                    _ => {}
                }
                a.outcome()
            }
        };
        reported.set(Some(match &outcome {
            // Throttling pauses the flow: a 429, or a 503 that says for how
            // long. A 503 without Retry-After is a flow that is down: each
            // delivery backs off on its own and ends in dead letters as before.
            AttemptOutcome::Answered { status: 429, retry_after, .. } => {
                Reported::Throttled { retry_after: *retry_after }
            }
            AttemptOutcome::Answered { status: 503, retry_after: Some(secs), .. } => {
                Reported::Throttled { retry_after: Some(*secs) }
            }
            _ => Reported::Done,
        }));
        let next = decide(&outcome, attempt, &route.retry, jitter());
        if matches!(next, Next::Delivered) {
            discard_body(self.env, m).await;
        }
        (next, outcome.status())
    }

    /// The ledger's outcome for `next`. A dead delivery's letter is written
    /// to R2 first, with its history; if R2 refuses, it is retried instead
    /// (and the ledger still has it in flight).
    async fn outcome(
        &self,
        m: &QueuedDelivery,
        attempt: u32,
        next: Next,
        status: Option<u16>,
        mut history: Vec<AttemptRecord>,
        copy: Option<String>,
    ) -> (Next, Outcome) {
        let now = i64::try_from(now_millis() / 1000).unwrap_or(0);
        let next = match next {
            Next::Dead { reason } => {
                let record =
                    AttemptRecord { at: u64::try_from(now).unwrap_or(0), attempt, status, reason: reason.clone() };
                push_history(&mut history, record);
                let next = dead_letter(self.env, m, attempt, history, &reason).await;
                if matches!(next, Next::Dead { .. }) {
                    let at = u64::try_from(now).unwrap_or(0);
                    self.raise(Alert::dead_lettered(&m.route, &m.flow, &m.id, &reason, at));
                }
                next
            }
            other => other,
        };
        let outcome = match &next {
            Next::Delivered => Outcome::Delivered,
            Next::Dead { reason } => Outcome::Dead { status, reason: reason.clone() },
            Next::Retry { delay_secs, reason } => {
                let lost_after = self
                    .config
                    .and_then(|c| c.routes.get(&m.route))
                    .map_or(DEFAULT_LOST_AFTER_SECS, |r| r.lost_after_secs);
                let next_at = now + i64::from(*delay_secs);
                Outcome::Retrying {
                    status,
                    reason: reason.clone(),
                    next_at,
                    due: next_at + i64::try_from(lost_after).unwrap_or(900).max(60),
                    message: copy,
                }
            }
        };
        (next, outcome)
    }
}

fn log_attempt(rec: &mut Record<'_>, next: &Next) {
    match next {
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
}

/// The log line of one message's handling, before its outcome is known.
fn delivery_record<'a>(config: Option<&Config>, m: &'a QueuedDelivery, attempt: u32) -> Record<'a> {
    Record {
        level: "info",
        request_id: &m.id,
        route: &m.route,
        provider: config.and_then(|c| c.routes.get(&m.route)).map(|r| r.provider.name),
        delivery_id: m.delivery_id.clone(),
        event_type: m.event_type.clone(),
        attempt: Some(attempt),
        flow: Some(m.flow.clone()),
        body_bytes: usize::try_from(m.body.len()).unwrap_or(usize::MAX),
        ..Record::default()
    }
}

/// Logs one message's handling and writes its Analytics Engine data point.
fn emit_attempt(env: &Env, rec: &Record<'_>) {
    log::emit(rec);
    metrics::write(env, PointKind::Attempt, rec);
}

/// Asks each flow's pacer about the batch's deliveries to it that the
/// ledger judged due for an attempt.
async fn pace(env: &Env, config: &Config, jobs: &mut [Job]) {
    let to_attempt =
        |j: &Job| j.next.is_none() && j.give_up.is_none() && matches!(j.verdict, Some(Verdict::Attempt { .. }));
    let mut flows: Vec<String> =
        jobs.iter().filter(|j| to_attempt(j)).filter_map(|j| j.message.as_ref().map(|m| m.flow.clone())).collect();
    flows.sort();
    flows.dedup();
    for flow_name in &flows {
        let Some(flow) = config.flows.get(flow_name) else { continue };
        let mine = |j: &Job| to_attempt(j) && j.message.as_ref().is_some_and(|m| &m.flow == flow_name);
        let asking: Vec<Asking> = jobs
            .iter()
            .filter(|j| mine(j))
            .filter_map(|j| Some(Asking { id: j.message.as_ref()?.id.clone() }))
            .collect();
        let lease_secs = u32::try_from(lease_of(config, flow)).unwrap_or(600);
        let req = PaceRequest { limits: flow.limits, asking, lease_secs };
        let answer = match FlowPacerClient::of(env, flow_name) {
            Ok(pacer) => pacer.ask(&req).await.map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        let grants = match answer {
            Ok(a) if a.grants.len() == req.asking.len() => a.grants,
            Ok(a) => {
                log::warn(
                    "pacer_unavailable",
                    &format!("flow {flow_name}: {} grants for {} deliveries", a.grants.len(), req.asking.len()),
                );
                continue;
            }
            Err(e) if flow.limits == Default::default() => {
                // No limits to keep: the breaker is a courtesy to the flow;
                // deliver rather than hold everything back.
                log::warn("pacer_unavailable", &format!("flow {flow_name}: {e}; attempting without the breaker"));
                continue;
            }
            Err(e) => {
                log::warn(
                    "pacer_unavailable",
                    &format!("flow {flow_name}: {e}; its deliveries wait (max_rate/max_concurrency)"),
                );
                vec![Grant::Later { wait_secs: 5, why: Hold::Rate }; req.asking.len()]
            }
        };
        let mut grants = grants.into_iter();
        for job in jobs.iter_mut().filter(|j| mine(j)) {
            match grants.next() {
                Some(Grant::Now { lease }) => job.lease = Some(lease),
                Some(Grant::Later { wait_secs, why }) => hold(env, config, job, wait_secs, why).await,
                None => {}
            }
        }
    }
}

/// Holds `job`'s delivery back for `wait_secs`, as the pacer said. The
/// ledger is told it is retrying (not attempted, with a copy kept as for
/// any retry, so a lost message is recovered). A wait for the flow's rate or
/// concurrency, or for the probe after a pause, is not an attempt: the
/// message is sent again with a delay and this one acknowledged (a Queues
/// retry would count as one). A wait for a paused flow is one — the flow is failing — so that a flow down for good
/// still ends in dead letters after `max_attempts`: the message is retried,
/// and its last attempt is made whatever the breaker says.
async fn hold(env: &Env, config: &Config, job: &mut Job, wait_secs: u32, why: Hold) {
    let Some(m) = &job.message else { return };
    let route = config.routes.get(&m.route);
    let max_attempts = route.map_or(1, |r| r.retry.max_attempts);
    // Only a pause is the flow failing; waiting for the probe after it (which
    // may take the flow's whole timeout) is like waiting for concurrency.
    let paused = matches!(why, Hold::Paused);
    if paused && job.attempt >= max_attempts {
        return;
    }
    let Some(Verdict::Attempt { keeps_copy, .. }) = job.verdict.take() else { return };
    let reason = format!("{}; next attempt in {wait_secs} s", why.describe());
    let now = i64::try_from(now_millis() / 1000).unwrap_or(0);
    let next_at = now + i64::from(wait_secs);
    let lost_after = route.map_or(DEFAULT_LOST_AFTER_SECS, |r| r.lost_after_secs);
    job.settlement = Some(Outcome::Retrying {
        status: None,
        reason: reason.clone(),
        next_at,
        due: next_at + i64::try_from(lost_after).unwrap_or(900).max(60),
        message: (!keeps_copy).then(|| job.json.clone()),
    });
    job.next = Some(if paused {
        let mut rec = delivery_record(Some(config), m, job.attempt);
        rec.outcome = "paced";
        rec.message = Some(reason.clone());
        emit_attempt(env, &rec);
        Next::Retry { delay_secs: wait_secs, reason }
    } else {
        defer(env, config, job, wait_secs, why).await
    });
}

/// Sends `job`'s delivery again to wait `wait_secs` (the pacer's turn).
async fn defer(env: &Env, config: &Config, job: &Job, wait_secs: u32, why: Hold) -> Next {
    let Some(m) = &job.message else { return Next::Retry { delay_secs: wait_secs, reason: String::new() } };
    let mut again = m.clone();
    // The attempts made so far: this message's were all real (a wait never
    // retries it), and its number is the one about to be made.
    again.attempts_before = job.attempt.saturating_sub(1);
    let sent = match queue(env) {
        Ok(q) => q
            .send(worker::MessageBuilder::new(&again).delay_seconds(wait_secs.min(MAX_QUEUE_DELAY_SECS)).build())
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    let mut rec = delivery_record(Some(config), m, job.attempt);
    rec.outcome = "paced";
    rec.message = Some(format!("{}; next attempt in {wait_secs} s", why.describe()));
    emit_attempt(env, &rec);
    match sent {
        // This message is done with: acknowledged, its copy waits.
        Ok(()) => Next::Delivered,
        Err(e) => {
            Next::Retry { delay_secs: wait_secs, reason: format!("{}; re-sending it failed ({e})", why.describe()) }
        }
    }
}

/// Tells each flow's pacer how its granted attempts went; a lease granted
/// for a delivery that was not attempted (a duplicate, already delivered, …)
/// gives its slot back. Returns a `flow_paused` alert for each pause the
/// reports started.
async fn report_pacing(env: &Env, jobs: &[Job]) -> Vec<Alert> {
    let mut raised = Vec::new();
    let mut by_flow: Vec<(&str, Vec<(u64, Reported)>)> = Vec::new();
    for job in jobs {
        let (Some(lease), Some(m)) = (job.lease, &job.message) else { continue };
        let how = job.reported.get().unwrap_or(Reported::Unused);
        match by_flow.iter_mut().find(|(f, _)| *f == m.flow) {
            Some((_, v)) => v.push((lease, how)),
            None => by_flow.push((&m.flow, vec![(lease, how)])),
        }
    }
    for (flow, attempts) in by_flow {
        let result = match FlowPacerClient::of(env, flow) {
            Ok(p) => p.report(&Report { attempts }).await.map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        match result {
            Ok(answer) => {
                if let Some(pause) = answer.pause_started {
                    raised.push(paused_alert(jobs, flow, pause.paused_until_ms));
                }
            }
            Err(e) => {
                // Its leases run out on their own; a pause it should have
                // started is started by the next 429.
                log::warn("pacer_unavailable", &format!("flow {flow}: outcomes not reported ({e})"));
            }
        }
    }
    raised
}

/// The `flow_paused` alert of `flow`: the status and `Retry-After` of the
/// batch's first throttled answer from it.
fn paused_alert(jobs: &[Job], flow: &str, paused_until_ms: i64) -> Alert {
    let throttled = jobs.iter().find_map(|j| {
        let Some(Reported::Throttled { retry_after }) = j.reported.get() else { return None };
        j.message.as_ref().filter(|m| m.flow == flow)?;
        let status = match &j.settlement {
            Some(Outcome::Retrying { status, .. } | Outcome::Dead { status, .. }) => *status,
            _ => None,
        };
        Some((status, retry_after))
    });
    let (status, retry_after) = throttled.unwrap_or((None, None));
    Alert::flow_paused(flow, status, retry_after, paused_until_ms, now_millis() / 1000)
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

/// Writes the dead letter; if R2 refuses, the message is retried instead.
async fn dead_letter(env: &Env, m: &QueuedDelivery, attempt: u32, history: Vec<AttemptRecord>, reason: &str) -> Next {
    let letter = DeadLetter::new(m.clone(), reason, attempt, history, now_millis() / 1000);
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
    match dead_letters::put_unreadable(env, &id, &job.json).await {
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
