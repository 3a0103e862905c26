//! The route ledger: one Durable Object per route (SQLite storage) that
//! remembers senders' delivery ids (duplicate suppression), each accepted
//! delivery's state and attempt history, and the route's counters.
//!
//! KV is eventually consistent and last-write-wins, so it cannot tell a
//! re-sent delivery from a new one when both arrive within a minute; a
//! Durable Object is one strongly consistent instance per name
//! (workers-platform.md §5 "KV is not a lock or counter store").
//!
//! Callers talk to it with small JSON requests (`POST https://ledger/<op>`);
//! [`Ledger`] is the typed client.

use flowgate_core::delivery::{push_history, AttemptRecord};
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
CREATE TABLE IF NOT EXISTS seen (delivery_id TEXT PRIMARY KEY, id TEXT NOT NULL, expires INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries (
  id TEXT NOT NULL, flow TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL,
  history TEXT NOT NULL, updated INTEGER NOT NULL, PRIMARY KEY (id, flow));
CREATE INDEX IF NOT EXISTS deliveries_state ON deliveries (state, updated);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, n INTEGER NOT NULL);
";

/// The counters a route keeps (cumulative) — `GET /status`.
const COUNTERS: [&str; 6] = ["accepted", "delivered", "duplicates", "dead_lettered", "redriven", "dropped"];

#[durable_object]
pub struct RouteLedger {
    state: State,
}

impl DurableObject for RouteLedger {
    fn new(state: State, _env: Env) -> Self {
        // Idempotent; runs once per instance start.
        if let Err(e) = state.storage().sql().exec(SCHEMA, None) {
            crate::log::note("error", "ledger_schema_failed", &e.to_string());
        }
        Self { state }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let op = req.path();
        let body: Value = if req.method() == Method::Post { req.json().await? } else { Value::Null };
        let sql = self.state.storage().sql();
        let answer = match op.as_str() {
            "/accept" => self.accept(&sql, serde_json::from_value(body)?).await?,
            "/release" => release(&sql, &serde_json::from_value(body)?)?,
            "/begin" => begin(&sql, &serde_json::from_value(body)?)?,
            "/finish" => finish(&sql, serde_json::from_value(body)?)?,
            "/redriven" => redriven(&sql, &serde_json::from_value(body)?)?,
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
        let sql = self.state.storage().sql();
        let now = now_secs();
        sql.exec("DELETE FROM seen WHERE expires < ?", vec![now.into()])?;
        sql.exec(
            "DELETE FROM deliveries WHERE state = 'delivered' AND updated < ?",
            vec![(now - DELIVERED_KEEP_SECS).into()],
        )?;
        let left: Vec<CountRow> = sql
            .exec("SELECT (SELECT COUNT(*) FROM seen) + (SELECT COUNT(*) FROM deliveries) AS n", None)?
            .to_array()?;
        if left.first().is_some_and(|r| r.n > 0) {
            self.state.storage().set_alarm(PRUNE_EVERY_MS).await?;
        }
        Response::ok("pruned")
    }
}

impl RouteLedger {
    async fn accept(&self, sql: &SqlStorage, a: AcceptReq) -> Result<Value> {
        let now = now_secs();
        if let (Some(did), Some(window)) = (&a.delivery_id, a.window_secs) {
            let rows: Vec<SeenRow> =
                sql.exec("SELECT id FROM seen WHERE delivery_id = ? AND expires >= ?", vec![did.as_str().into(), now.into()])?.to_array()?;
            if let Some(first) = rows.into_iter().next() {
                bump(sql, "duplicates", 1)?;
                return Ok(json!({ "duplicate": true, "first_id": first.id }));
            }
            sql.exec(
                "INSERT OR REPLACE INTO seen (delivery_id, id, expires) VALUES (?, ?, ?)",
                vec![did.as_str().into(), a.id.as_str().into(), (now + i64::try_from(window).unwrap_or(i64::MAX / 2)).into()],
            )?;
        }
        for flow in &a.flows {
            sql.exec(
                "INSERT OR IGNORE INTO deliveries (id, flow, state, attempts, history, updated) VALUES (?, ?, 'queued', 0, '[]', ?)",
                vec![a.id.as_str().into(), flow.as_str().into(), now.into()],
            )?;
        }
        bump(sql, "accepted", 1)?;
        if self.state.storage().get_alarm().await?.is_none() {
            self.state.storage().set_alarm(PRUNE_EVERY_MS).await?;
        }
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

/// The state of each delivery about to be attempted ("delivered" ones are
/// acknowledged without a new attempt: Queues delivers at least once).
fn begin(sql: &SqlStorage, b: &Items<Key>) -> Result<Value> {
    let mut states = Vec::with_capacity(b.items.len());
    for k in &b.items {
        let rows: Vec<StateRow> = sql
            .exec("SELECT state FROM deliveries WHERE id = ? AND flow = ?", vec![k.id.as_str().into(), k.flow.as_str().into()])?
            .to_array()?;
        states.push(rows.into_iter().next().map(|r| r.state));
    }
    Ok(json!({ "states": states }))
}

/// Records attempts' outcomes; returns, per item, the attempt history.
fn finish(sql: &SqlStorage, f: Items<Outcome>) -> Result<Value> {
    let now = now_secs();
    let mut histories = Vec::with_capacity(f.items.len());
    for o in f.items {
        let rows: Vec<HistoryRow> = sql
            .exec("SELECT history FROM deliveries WHERE id = ? AND flow = ?", vec![o.id.as_str().into(), o.flow.as_str().into()])?
            .to_array()?;
        let mut history: Vec<AttemptRecord> =
            rows.first().and_then(|r| serde_json::from_str(&r.history).ok()).unwrap_or_default();
        if o.state != "delivered" {
            push_history(
                &mut history,
                AttemptRecord { at: u64::try_from(now).unwrap_or(0), attempt: o.attempt, status: o.status, reason: o.reason },
            );
        }
        let text = serde_json::to_string(&history).unwrap_or_else(|_| "[]".to_owned());
        sql.exec(
            "INSERT INTO deliveries (id, flow, state, attempts, history, updated) VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (id, flow) DO UPDATE SET state = excluded.state, attempts = excluded.attempts,
             history = excluded.history, updated = excluded.updated",
            vec![
                o.id.as_str().into(),
                o.flow.as_str().into(),
                o.state.as_str().into(),
                i64::from(o.attempt).into(),
                text.into(),
                now.into(),
            ],
        )?;
        match o.state.as_str() {
            "delivered" => bump(sql, "delivered", 1)?,
            "dead" => bump(sql, "dead_lettered", 1)?,
            _ => {}
        }
        histories.push(history);
    }
    Ok(json!({ "histories": histories }))
}

fn redriven(sql: &SqlStorage, k: &Key) -> Result<Value> {
    sql.exec(
        "INSERT INTO deliveries (id, flow, state, attempts, history, updated) VALUES (?, ?, 'queued', 0, '[]', ?)
         ON CONFLICT (id, flow) DO UPDATE SET state = 'queued', updated = excluded.updated",
        vec![k.id.as_str().into(), k.flow.as_str().into(), now_secs().into()],
    )?;
    bump(sql, "redriven", 1)?;
    Ok(json!({}))
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
    let rows: Vec<CounterRow> = sql.exec("SELECT name, n FROM counters", None)?.to_array()?;
    for r in rows {
        out.insert(r.name, json!(r.n));
    }
    let gauges: Vec<GaugeRow> =
        sql.exec("SELECT state, COUNT(*) AS n FROM deliveries GROUP BY state", None)?.to_array()?;
    for (state, key) in [("retrying", "retrying"), ("queued", "queued"), ("dead", "dead_letters_waiting")] {
        let n = gauges.iter().find(|g| g.state == state).map_or(0, |g| g.n);
        out.insert(key.to_owned(), json!(n));
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

#[derive(Deserialize)]
struct SeenRow {
    id: String,
}
#[derive(Deserialize)]
struct StateRow {
    state: String,
}
#[derive(Deserialize)]
struct HistoryRow {
    history: String,
}
#[derive(Deserialize)]
struct CounterRow {
    name: String,
    n: i64,
}
#[derive(Deserialize)]
struct GaugeRow {
    state: String,
    n: i64,
}
#[derive(Deserialize)]
struct CountRow {
    n: i64,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct AcceptReq {
    pub(crate) id: String,
    pub(crate) delivery_id: Option<String>,
    pub(crate) window_secs: Option<u64>,
    pub(crate) flows: Vec<String>,
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
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Items<T> {
    pub(crate) items: Vec<T>,
}

/// One attempt's outcome: `state` is "delivered", "retrying" or "dead".
#[derive(Serialize, Deserialize)]
pub(crate) struct Outcome {
    pub(crate) id: String,
    pub(crate) flow: String,
    pub(crate) state: String,
    pub(crate) attempt: u32,
    pub(crate) status: Option<u16>,
    pub(crate) reason: String,
}

#[derive(Serialize, Deserialize)]
struct CountReq {
    counter: String,
    n: i64,
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

    /// Records an accepted webhook; `Ok(true)` when its delivery id was seen
    /// within the window (a duplicate: nothing recorded).
    pub(crate) async fn accept(&self, req: &AcceptReq) -> Result<bool> {
        #[derive(Deserialize)]
        struct A {
            duplicate: bool,
        }
        Ok(self.call::<_, A>("accept", req).await?.duplicate)
    }

    pub(crate) async fn release(&self, req: &ReleaseReq) -> Result<()> {
        self.call::<_, Value>("release", req).await.map(drop)
    }

    /// Each key's state (`None` when the ledger has no row).
    pub(crate) async fn begin(&self, keys: Vec<Key>) -> Result<Vec<Option<String>>> {
        #[derive(Deserialize)]
        struct B {
            states: Vec<Option<String>>,
        }
        Ok(self.call::<_, B>("begin", &Items { items: keys }).await?.states)
    }

    /// Records outcomes; returns each one's attempt history.
    pub(crate) async fn finish(&self, outcomes: Vec<Outcome>) -> Result<Vec<Vec<AttemptRecord>>> {
        #[derive(Deserialize)]
        struct F {
            histories: Vec<Vec<AttemptRecord>>,
        }
        Ok(self.call::<_, F>("finish", &Items { items: outcomes }).await?.histories)
    }

    pub(crate) async fn redriven(&self, key: &Key) -> Result<()> {
        self.call::<_, Value>("redriven", key).await.map(drop)
    }

    pub(crate) async fn forget(&self, key: &Key) -> Result<()> {
        self.call::<_, Value>("forget", key).await.map(drop)
    }

    #[allow(dead_code)] // counts dropped events once routing rules exist
    pub(crate) async fn count(&self, counter: &str, n: i64) -> Result<()> {
        self.call::<_, Value>("count", &CountReq { counter: counter.to_owned(), n }).await.map(drop)
    }

    pub(crate) async fn status(&self) -> Result<Value> {
        self.call("status", &Value::Null).await
    }
}
