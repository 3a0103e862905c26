//! The route ledger: one Durable Object per route (SQLite storage) that
//! remembers senders' delivery ids (duplicate suppression), each accepted
//! delivery's state and attempt history, and the route's counters.
//!
//! KV is eventually consistent and last-write-wins, so it cannot tell a
//! re-sent delivery from a new one when both arrive within a minute; a
//! Durable Object is one strongly consistent instance per name
//! (workers-platform.md §5 "KV is not a lock or counter store").
//!
//! It also keeps a copy of each queued delivery's message until the flow has
//! it or it is dead-lettered, with the time by which its next attempt is
//! due. Its alarm enqueues again any delivery whose attempt is overdue by the
//! route's `lost_after_secs`: a queue message lost (Queues' retention ran
//! out, a local `wrangler dev` restarted — its queues live in memory) is
//! recovered, not silently dropped. Each enqueued copy carries a number; the
//! row keeps the newest, so once a copy is recovered (or redriven) an older
//! one that turns up late is acknowledged without an attempt. A lease taken
//! when an attempt begins keeps two attempts from running at once, and an
//! attempt finds a delivered or dead-lettered delivery done.
//!
//! Callers talk to it with small JSON requests (`POST https://ledger/<op>`);
//! [`Ledger`] is the typed client.

use flowgate_core::delivery::{push_history, AttemptRecord, QueuedDelivery};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use worker::{
    durable_object, wasm_bindgen, DurableObject, Env, Method, Request, RequestInit, Response, Result, SqlStorage,
    SqlStorageValue, State, Stub,
};

/// Binding of the ledger's Durable Object namespace.
pub(crate) const LEDGER_BINDING: &str = "LEDGER";

/// Delivered rows are kept this long (seconds) after delivery, so a
/// redelivered queue message is recognised; then pruned.
const DELIVERED_KEEP_SECS: i64 = 7 * 86_400;
/// How often the pruning alarm runs, milliseconds.
const PRUNE_EVERY_MS: i64 = 3_600_000;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS seen (delivery_id TEXT PRIMARY KEY, id TEXT NOT NULL, expires INTEGER NOT NULL,
  pending_until INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS deliveries (
  id TEXT NOT NULL, flow TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL,
  history TEXT NOT NULL, updated INTEGER NOT NULL, message TEXT, due INTEGER, lease INTEGER NOT NULL DEFAULT 0,
  copy INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (id, flow));
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (due);
CREATE INDEX IF NOT EXISTS deliveries_state ON deliveries (state, updated);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, n INTEGER NOT NULL);
";

/// The counters a route keeps (cumulative) — `GET /status`.
const COUNTERS: [&str; 7] =
    ["accepted", "delivered", "duplicates", "dead_lettered", "redriven", "dropped", "recovered"];
/// Most overdue deliveries enqueued again per alarm.
const RECOVER_PER_ALARM: i64 = 100;

#[durable_object]
pub struct RouteLedger {
    state: State,
    env: Env,
    /// When the alarm is set to ring (ms), as far as this instance knows:
    /// saves reading it back on every accept.
    alarm_at: std::cell::Cell<Option<i64>>,
}

impl DurableObject for RouteLedger {
    fn new(state: State, env: Env) -> Self {
        // Idempotent; runs once per instance start.
        if let Err(e) = state.storage().sql().exec(SCHEMA, None) {
            crate::log::note("error", "ledger_schema_failed", &e.to_string());
        }
        Self { state, env, alarm_at: std::cell::Cell::new(None) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let op = req.path();
        let body: Value = if req.method() == Method::Post { req.json().await? } else { Value::Null };
        let sql = self.state.storage().sql();
        let answer = match op.as_str() {
            "/accept" => self.accept(&sql, serde_json::from_value(body)?).await?,
            "/release" => release(&sql, &serde_json::from_value(body)?)?,
            "/dead" => {
                let k: Key = serde_json::from_value(body)?;
                sql.exec(
                    "UPDATE deliveries SET state = 'dead', due = NULL, lease = 0 WHERE id = ? AND flow = ?",
                    vec![k.id.as_str().into(), k.flow.as_str().into()],
                )?;
                bump(&sql, "dead_lettered", 1)?;
                json!({})
            }
            "/begin" => begin(&sql, &serde_json::from_value(body)?)?,
            "/finish" => {
                let f: Items<Outcome> = serde_json::from_value(body)?;
                let next_due = f.items.iter().filter_map(|o| o.due).min();
                let answer = finish(&sql, f)?;
                if let Some(due) = next_due {
                    self.alarm_by(due).await?;
                }
                answer
            }
            "/redriven" => {
                let r: Redriven = serde_json::from_value(body)?;
                let answer = redriven(&sql, &r)?;
                self.alarm_by(r.due).await?;
                answer
            }
            "/forget" => forget(&sql, &serde_json::from_value(body)?)?,
            "/count" => {
                let c: CountReq = serde_json::from_value(body)?;
                bump(&sql, &c.counter, c.n)?;
                json!({})
            }
            "/status" => status(&sql)?,
            _ => return Response::error("no such ledger operation", 404),
        };
        Response::from_json(&answer)
    }

    async fn alarm(&self) -> Result<Response> {
        self.alarm_at.set(None);
        let sql = self.state.storage().sql();
        let now = now_secs();
        self.recover(&sql, now).await?;
        sql.exec("DELETE FROM seen WHERE expires < ?", vec![now.into()])?;
        sql.exec(
            "DELETE FROM deliveries WHERE state = 'delivered' AND updated < ?",
            vec![(now - DELIVERED_KEEP_SECS).into()],
        )?;
        // Next: the earliest due delivery, else the hourly prune while rows remain.
        let next = first(sql.exec(
            "SELECT MIN(due), (SELECT COUNT(*) FROM seen) + (SELECT COUNT(*) FROM deliveries) FROM deliveries WHERE state IN ('queued', 'retrying') AND message IS NOT NULL AND due IS NOT NULL",
            None,
        )?)?;
        let prune_at = now + PRUNE_EVERY_MS / 1000;
        match next.as_deref() {
            Some([due, _]) if int(due).is_some() => self.set_alarm_at(int(due).unwrap_or(now).min(prune_at)).await?,
            Some([_, n]) if int(n).unwrap_or(0) > 0 => self.set_alarm_at(prune_at).await?,
            _ => {}
        }
        Response::ok("done")
    }
}

impl RouteLedger {
    /// Enqueues again every queued delivery whose attempt is overdue.
    async fn recover(&self, sql: &SqlStorage, now: i64) -> Result<()> {
        let rows = sql.exec(
            "SELECT id, flow, message, attempts, copy FROM deliveries WHERE state IN ('queued', 'retrying') AND message IS NOT NULL AND due IS NOT NULL AND due <= ? AND lease <= ? LIMIT ?",
            vec![now.into(), now.into(), RECOVER_PER_ALARM.into()],
        )?;
        for row in rows.raw() {
            let row = row?;
            let [id, flow, message, attempts, copy] = row.as_slice() else { continue };
            let row = Overdue {
                id: text(id),
                flow: text(flow),
                message: text(message),
                attempts: int(attempts).unwrap_or(0),
            };
            let Ok(mut message) = serde_json::from_str::<QueuedDelivery>(&row.message) else { continue };
            let lost_after = message_lost_after(&self.env, &message.route);
            // The new copy supersedes any older one still in the queue.
            let next_copy = int(copy).unwrap_or(0) + 1;
            message.copy = u32::try_from(next_copy).unwrap_or(u32::MAX);
            sql.exec(
                "UPDATE deliveries SET due = ?, copy = ? WHERE id = ? AND flow = ?",
                vec![(now + lost_after).into(), next_copy.into(), row.id.as_str().into(), row.flow.as_str().into()],
            )?;
            match crate::queue::send(&self.env, &message, None).await {
                Ok(()) => {
                    bump(sql, "recovered", 1)?;
                    crate::log::note(
                        "warn",
                        "delivery_recovered",
                        &format!(
                            "route {} delivery {} to flow {} had no attempt in time (after attempt {}); enqueued again",
                            message.route, row.id, row.flow, row.attempts
                        ),
                    );
                }
                Err(e) => {
                    // Try again in a minute (not on every alarm tick).
                    sql.exec(
                        "UPDATE deliveries SET due = ? WHERE id = ? AND flow = ?",
                        vec![(now + 60).into(), row.id.as_str().into(), row.flow.as_str().into()],
                    )?;
                    crate::log::note("error", "delivery_recovery_failed", &e);
                }
            }
        }
        Ok(())
    }

    /// Makes sure the alarm rings by `due` (Unix seconds).
    async fn alarm_by(&self, due: i64) -> Result<()> {
        if self.alarm_at.get().is_some_and(|at_ms| at_ms <= due * 1000) {
            return Ok(());
        }
        let current = self.state.storage().get_alarm().await?;
        self.alarm_at.set(current);
        match current {
            Some(at_ms) if at_ms <= due * 1000 => Ok(()),
            _ => self.set_alarm_at(due).await,
        }
    }

    async fn set_alarm_at(&self, at_secs: i64) -> Result<()> {
        let now_ms = worker::Date::now().as_millis() as i64;
        let offset = (at_secs * 1000 - now_ms).max(1000);
        self.state.storage().set_alarm(offset).await?;
        self.alarm_at.set(Some(now_ms + offset));
        Ok(())
    }

    async fn accept(&self, sql: &SqlStorage, a: AcceptReq) -> Result<Value> {
        let now = now_secs();
        if let (Some(did), Some(window)) = (&a.delivery_id, a.window_secs) {
            let seen = first(sql.exec(
                "SELECT id, pending_until FROM seen WHERE delivery_id = ? AND expires >= ?",
                vec![did.as_str().into(), now.into()],
            )?)?;
            match seen.as_deref() {
                // The first copy is still being forwarded (direct mode): the
                // sender must ask again, not be told it arrived.
                Some([_, pending]) if int(pending).unwrap_or(0) > now => {
                    return Ok(json!({ "duplicate": false, "in_progress": true }));
                }
                // A pending entry whose request died: this copy takes over.
                Some([_, pending]) if int(pending).unwrap_or(0) > 0 => {}
                Some(_) => {
                    bump(sql, "duplicates", 1)?;
                    return Ok(json!({ "duplicate": true }));
                }
                None => {}
            }
            let pending_until = a.pending_secs.map_or(0, |p| now + p);
            sql.exec(
                "INSERT OR REPLACE INTO seen (delivery_id, id, expires, pending_until) VALUES (?, ?, ?, ?)",
                vec![
                    did.as_str().into(),
                    a.id.as_str().into(),
                    (now + i64::try_from(window).unwrap_or(i64::MAX / 2)).into(),
                    pending_until.into(),
                ],
            )?;
        }
        // Direct mode (no messages) records its delivery when it is done.
        for (i, flow) in a.flows.iter().enumerate().filter(|_| !a.messages.is_empty()) {
            let message = a.messages.get(i).cloned().map_or(SqlStorageValue::Null, SqlStorageValue::String);
            let due = a.due.map_or(SqlStorageValue::Null, SqlStorageValue::Integer);
            sql.exec(
                "INSERT OR IGNORE INTO deliveries (id, flow, state, attempts, history, updated, message, due) VALUES (?, ?, 'queued', 0, '[]', ?, ?, ?)",
                vec![a.id.as_str().into(), flow.as_str().into(), now.into(), message, due],
            )?;
        }
        bump(sql, "accepted", 1)?;
        self.alarm_by(a.due.unwrap_or(now + PRUNE_EVERY_MS / 1000)).await?;
        Ok(json!({ "duplicate": false }))
    }
}

/// Undoes an accept whose enqueue failed, so the sender's retry is not
/// taken for a duplicate.
fn release(sql: &SqlStorage, r: &ReleaseReq) -> Result<Value> {
    if let Some(did) = &r.delivery_id {
        sql.exec("DELETE FROM seen WHERE delivery_id = ? AND id = ?", vec![did.as_str().into(), r.id.as_str().into()])?;
    }
    sql.exec("DELETE FROM deliveries WHERE id = ?", vec![r.id.as_str().into()])?;
    bump(sql, "accepted", -1)?;
    Ok(json!({}))
}

/// The state of each delivery about to be attempted, taking its lease:
/// "delivered" ones are acknowledged without a new attempt (Queues
/// delivers at least once); "busy" ones are being attempted by another
/// copy of the message (a recovered one) and wait.
fn begin(sql: &SqlStorage, b: &BeginReq) -> Result<Value> {
    let now = now_secs();
    let mut states = Vec::with_capacity(b.items.len());
    for k in &b.items {
        let row = first(sql.exec(
            "SELECT state, lease, copy, next_at FROM deliveries WHERE id = ? AND flow = ?",
            vec![k.id.as_str().into(), k.flow.as_str().into()],
        )?)?;
        let row = match row.as_deref() {
            Some([state, lease, copy, next_at]) => Some(LeaseRow {
                state: text(state),
                lease: int(lease).unwrap_or(0),
                copy: int(copy).unwrap_or(0),
                next_at: int(next_at).unwrap_or(0),
            }),
            _ => None,
        };
        let state = match row {
            Some(r) if r.state == "delivered" || r.state == "dead" => Some(r.state),
            Some(r) if i64::from(k.copy) < r.copy => Some("stale".to_owned()),
            Some(r) if r.lease > now || r.next_at > now => Some("busy".to_owned()),
            Some(r) => {
                sql.exec(
                    "UPDATE deliveries SET lease = ?, due = ? WHERE id = ? AND flow = ?",
                    vec![b.lease_until.into(), b.due.into(), k.id.as_str().into(), k.flow.as_str().into()],
                )?;
                Some(r.state)
            }
            None => None,
        };
        states.push(state);
    }
    Ok(json!({ "states": states }))
}

/// Records attempts' outcomes; returns, per item, the attempt history.
fn finish(sql: &SqlStorage, f: Items<Outcome>) -> Result<Value> {
    let now = now_secs();
    let mut histories = Vec::with_capacity(f.items.len());
    for o in f.items {
        let row = first(sql.exec(
            "SELECT history FROM deliveries WHERE id = ? AND flow = ?",
            vec![o.id.as_str().into(), o.flow.as_str().into()],
        )?)?;
        let mut history: Vec<AttemptRecord> =
            row.and_then(|r| r.first().map(text)).and_then(|h| serde_json::from_str(&h).ok()).unwrap_or_default();
        if o.state != "delivered" {
            push_history(
                &mut history,
                AttemptRecord {
                    at: u64::try_from(now).unwrap_or(0),
                    attempt: o.attempt,
                    status: o.status,
                    reason: o.reason,
                },
            );
        }
        let text = serde_json::to_string(&history).unwrap_or_else(|_| "[]".to_owned());
        // Delivered and dead deliveries drop their message copy and due time.
        let due = if o.state == "retrying" {
            o.due.map_or(SqlStorageValue::Null, SqlStorageValue::Integer)
        } else {
            SqlStorageValue::Null
        };
        let keep_message = i64::from(o.state != "delivered");
        let next_at = o.next_at.unwrap_or(0);
        sql.exec(
            "INSERT INTO deliveries (id, flow, state, attempts, history, updated, due, lease, next_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)
             ON CONFLICT (id, flow) DO UPDATE SET state = excluded.state, attempts = excluded.attempts,
             history = excluded.history, updated = excluded.updated, due = excluded.due, lease = 0,
             next_at = excluded.next_at, message = CASE WHEN ? = 1 THEN message ELSE NULL END",
            vec![
                o.id.as_str().into(),
                o.flow.as_str().into(),
                o.state.as_str().into(),
                i64::from(o.attempt).into(),
                text.into(),
                now.into(),
                due,
                next_at.into(),
                keep_message.into(),
            ],
        )?;
        if let Some(did) = &o.confirm {
            sql.exec(
                "UPDATE seen SET pending_until = 0 WHERE delivery_id = ? AND id = ?",
                vec![did.as_str().into(), o.id.as_str().into()],
            )?;
        }
        if o.count_accepted {
            bump(sql, "accepted", 1)?;
        }
        if o.state == "delivered" {
            bump(sql, "delivered", 1)?;
        }
        histories.push(history);
    }
    Ok(json!({ "histories": histories }))
}

fn redriven(sql: &SqlStorage, r: &Redriven) -> Result<Value> {
    // The redriven copy supersedes any copy still in the queue.
    let current = first(sql.exec(
        "SELECT copy FROM deliveries WHERE id = ? AND flow = ?",
        vec![r.id.as_str().into(), r.flow.as_str().into()],
    )?)?;
    let copy = current.as_deref().and_then(|c| c.first()).and_then(int).unwrap_or(0) + 1;
    sql.exec(
        "INSERT INTO deliveries (id, flow, state, attempts, history, updated, message, due, lease, copy, next_at) VALUES (?, ?, 'queued', 0, '[]', ?, ?, ?, 0, ?, 0)
         ON CONFLICT (id, flow) DO UPDATE SET state = 'queued', updated = excluded.updated,
         message = excluded.message, due = excluded.due, lease = 0, copy = excluded.copy, next_at = 0",
        vec![
            r.id.as_str().into(),
            r.flow.as_str().into(),
            now_secs().into(),
            r.message.as_str().into(),
            r.due.into(),
            copy.into(),
        ],
    )?;
    bump(sql, "redriven", 1)?;
    Ok(json!({ "copy": copy }))
}

/// A dead letter was deleted by the operator.
fn forget(sql: &SqlStorage, k: &Key) -> Result<Value> {
    sql.exec("DELETE FROM deliveries WHERE id = ? AND flow = ?", vec![k.id.as_str().into(), k.flow.as_str().into()])?;
    Ok(json!({}))
}

fn status(sql: &SqlStorage) -> Result<Value> {
    let mut out = serde_json::Map::new();
    for name in COUNTERS {
        out.insert(name.to_owned(), json!(0));
    }
    for r in sql.exec("SELECT name, n FROM counters", None)?.raw() {
        if let [name, n] = r?.as_slice() {
            out.insert(text(name), json!(int(n).unwrap_or(0)));
        }
    }
    for (_, key) in GAUGES {
        out.insert(key.to_owned(), json!(0));
    }
    for r in sql.exec("SELECT state, COUNT(*) FROM deliveries GROUP BY state", None)?.raw() {
        if let [state, n] = r?.as_slice() {
            if let Some((_, key)) = GAUGES.iter().find(|(s, _)| *s == text(state)) {
                out.insert((*key).to_owned(), json!(int(n).unwrap_or(0)));
            }
        }
    }
    Ok(Value::Object(out))
}

fn bump(sql: &SqlStorage, name: &str, by: i64) -> Result<()> {
    sql.exec(
        "INSERT INTO counters (name, n) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET n = n + excluded.n",
        vec![name.into(), SqlStorageValue::Integer(by)],
    )?;
    Ok(())
}

fn now_secs() -> i64 {
    (worker::Date::now().as_millis() / 1000) as i64
}

/// Delivery states shown as gauges in `GET /status`, and their names there.
const GAUGES: [(&str, &str); 3] = [("retrying", "retrying"), ("queued", "queued"), ("dead", "dead_letters_waiting")];

// Rows are read as raw values: typed rows would each bring a deserializer
// into the bundle.

/// The first row of a cursor, if any.
fn first(cursor: worker::SqlCursor) -> Result<Option<Vec<SqlStorageValue>>> {
    cursor.raw().next().transpose()
}

fn text(v: &SqlStorageValue) -> String {
    match v {
        SqlStorageValue::String(s) => s.clone(),
        _ => String::new(),
    }
}

fn int(v: &SqlStorageValue) -> Option<i64> {
    match v {
        SqlStorageValue::Integer(n) => Some(*n),
        SqlStorageValue::Float(f) => Some(*f as i64),
        _ => None,
    }
}

struct LeaseRow {
    state: String,
    lease: i64,
    copy: i64,
    next_at: i64,
}

struct Overdue {
    id: String,
    flow: String,
    message: String,
    attempts: i64,
}

/// The route's `lost_after_secs` (the default if the route is gone).
fn message_lost_after(env: &Env, route: &str) -> i64 {
    let secs = crate::bindings::config(env)
        .ok()
        .and_then(|c| c.routes.get(route).map(|r| r.lost_after_secs))
        .unwrap_or(flowgate_core::config::DEFAULT_LOST_AFTER_SECS);
    i64::try_from(secs).unwrap_or(900)
}

#[derive(Serialize, Deserialize)]
pub(crate) struct AcceptReq {
    pub(crate) id: String,
    pub(crate) delivery_id: Option<String>,
    pub(crate) window_secs: Option<u64>,
    pub(crate) flows: Vec<String>,
    /// Queue mode: each flow's message (JSON), kept until delivered.
    pub(crate) messages: Vec<String>,
    /// Queue mode: when the first attempt is overdue (Unix seconds).
    pub(crate) due: Option<i64>,
    /// Direct mode: the delivery id counts as seen only once confirmed;
    /// until then (at most this long) a re-sent copy is told to retry.
    pub(crate) pending_secs: Option<i64>,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct BeginReq {
    pub(crate) items: Vec<Key>,
    /// Until when the attempt holds the delivery (Unix seconds).
    pub(crate) lease_until: i64,
    /// When the attempt after this one is overdue if nothing is recorded.
    pub(crate) due: i64,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Redriven {
    pub(crate) id: String,
    pub(crate) flow: String,
    /// The message, kept to recover from.
    pub(crate) message: String,
    pub(crate) due: i64,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct ReleaseReq {
    pub(crate) id: String,
    pub(crate) delivery_id: Option<String>,
}

#[derive(Serialize, Deserialize, Clone)]
pub(crate) struct Key {
    pub(crate) id: String,
    pub(crate) flow: String,
    /// The message copy being attempted (0: the first one sent).
    #[serde(default)]
    pub(crate) copy: u32,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Items<T> {
    pub(crate) items: Vec<T>,
}

/// One attempt's outcome: `state` is "delivered" or "retrying" (a dead
/// delivery is recorded as retrying, then marked dead once its letter is
/// written).
#[derive(Serialize, Deserialize, Clone)]
pub(crate) struct Outcome {
    pub(crate) id: String,
    pub(crate) flow: String,
    pub(crate) state: String,
    pub(crate) attempt: u32,
    pub(crate) status: Option<u16>,
    pub(crate) reason: String,
    /// Retrying: when the next attempt is overdue (Unix seconds).
    pub(crate) due: Option<i64>,
    /// Retrying: not before this time (the backoff or `Retry-After`).
    pub(crate) next_at: Option<i64>,
    /// Direct mode: this delivery id now counts as seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) confirm: Option<String>,
    /// Direct mode without a prior accept: count the webhook as accepted too.
    #[serde(default)]
    pub(crate) count_accepted: bool,
}

#[derive(Serialize, Deserialize)]
struct CountReq {
    counter: String,
    n: i64,
}

/// What the ledger made of an accepted webhook.
pub(crate) enum Accepted {
    New,
    Duplicate,
    InProgress,
}

/// Typed client of one route's ledger.
pub(crate) struct Ledger {
    stub: Stub,
}

impl Ledger {
    /// The route's ledger; `Err` names the missing binding.
    pub(crate) fn of(env: &Env, route: &str) -> std::result::Result<Self, String> {
        let ns = env.durable_object(LEDGER_BINDING).map_err(|_| {
            format!("no Durable Object binding {LEDGER_BINDING}: add the [[durable_objects.bindings]] and [[migrations]] blocks of README.md, Deploying")
        })?;
        let stub = ns.get_by_name(route).map_err(|e| format!("ledger for route {route}: {e}"))?;
        Ok(Self { stub })
    }

    async fn call<T: Serialize, R: for<'de> Deserialize<'de>>(&self, op: &str, body: &T) -> Result<R> {
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_body(Some(serde_json::to_string(body)?.into()));
        let req = Request::new_with_init(&format!("https://ledger/{op}"), &init)?;
        let mut resp = self.stub.fetch_with_request(req).await?;
        if resp.status_code() != 200 {
            return Err(worker::Error::RustError(format!("ledger {op}: HTTP {}", resp.status_code())));
        }
        resp.json().await
    }

    /// Records an accepted webhook, unless its delivery id was seen within
    /// the window (a duplicate) or is being forwarded right now.
    pub(crate) async fn accept(&self, req: &AcceptReq) -> Result<Accepted> {
        #[derive(Deserialize)]
        struct A {
            duplicate: bool,
            #[serde(default)]
            in_progress: bool,
        }
        let a = self.call::<_, A>("accept", req).await?;
        Ok(if a.in_progress {
            Accepted::InProgress
        } else if a.duplicate {
            Accepted::Duplicate
        } else {
            Accepted::New
        })
    }

    /// The dead letter is written: the delivery is dead.
    pub(crate) async fn dead(&self, key: &Key) -> Result<()> {
        self.call::<_, Value>("dead", key).await.map(drop)
    }

    pub(crate) async fn release(&self, req: &ReleaseReq) -> Result<()> {
        self.call::<_, Value>("release", req).await.map(drop)
    }

    /// Each key's state (`None` when the ledger has no row).
    pub(crate) async fn begin(&self, req: &BeginReq) -> Result<Vec<Option<String>>> {
        #[derive(Deserialize)]
        struct B {
            states: Vec<Option<String>>,
        }
        Ok(self.call::<_, B>("begin", req).await?.states)
    }

    /// Records outcomes; returns each one's attempt history.
    pub(crate) async fn finish(&self, outcomes: Vec<Outcome>) -> Result<Vec<Vec<AttemptRecord>>> {
        #[derive(Deserialize)]
        struct F {
            histories: Vec<Vec<AttemptRecord>>,
        }
        Ok(self.call::<_, F>("finish", &Items { items: outcomes }).await?.histories)
    }

    /// Records a redrive; returns the copy number the new message carries.
    pub(crate) async fn redriven(&self, req: &Redriven) -> Result<u32> {
        #[derive(Deserialize)]
        struct R {
            copy: u32,
        }
        Ok(self.call::<_, R>("redriven", req).await?.copy)
    }

    pub(crate) async fn forget(&self, key: &Key) -> Result<()> {
        self.call::<_, Value>("forget", key).await.map(drop)
    }

    pub(crate) async fn count(&self, counter: &str, n: i64) -> Result<()> {
        self.call::<_, Value>("count", &CountReq { counter: counter.to_owned(), n }).await.map(drop)
    }

    pub(crate) async fn status(&self) -> Result<Value> {
        self.call("status", &Value::Null).await
    }
}
