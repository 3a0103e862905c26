//! The route ledger: one Durable Object per route (SQLite storage) that
//! remembers senders' delivery ids and signatures (duplicates, replays),
//! where each queued delivery stands, and the route's counters.
//!
//! KV is eventually consistent and last-write-wins, so it cannot tell a
//! re-sent delivery from a new one when both arrive within a minute; a
//! Durable Object is one strongly consistent instance per name
//! (workers-platform.md §5 "KV is not a lock or counter store").
//!
//! Every rule is in `flowgate_core::ledger` (the delivery state machine,
//! admission, handshakes); this file stores rows ([`SqlLedger`], the core's
//! ports over SQL), serves the core's requests (`POST https://ledger/<op>`,
//! one [`LedgerCall`] type per operation), and sends recovered messages
//! from its alarm. [`Ledger`] is the Worker's client; what an instance has
//! not told a ledger yet waits in its mailbox ([`post`]) and rides on the
//! route's next call, or is flushed on its own a few seconds later
//! ([`flush_later`]).
//!
//! How many calls a webhook costs: queue mode — none on the sender's
//! request; the consumer makes one before a batch's attempts and one after
//! them, per route. Direct mode — one before the flow call when there is a
//! delivery id or a signature to judge, none otherwise; nothing after it.

use std::{
    cell::{Cell, RefCell},
    time::Duration,
};

use flowgate_core::{
    admin::{attempt_hint, DeliveryRecord, FlowStatus},
    delivery::AttemptRecord,
    ledger::{
        self as rules, Admission, AdmitRequest, BatchAnswer, BatchRequest, Counter, DeliveriesRequest, DeliveryKey,
        DeliveryRow, DeliveryState, DeliveryStore, ForgetRequest, HandshakeRequest, HandshakeStore, KeptSecret,
        LedgerCall, Mailbox, RedriveRequest, SeenEntry, SeenStore, StatusRequest,
    },
};
use serde::{de::DeserializeOwned, Serialize};
use worker::{
    durable_object, wasm_bindgen, Context, Delay, DurableObject, Env, Method, Request, RequestInit, Response, Result,
    SqlStorage, SqlStorageValue, State, Stub,
};

/// Binding of the ledger's Durable Object namespace.
pub(crate) const LEDGER_BINDING: &str = "LEDGER";

/// Delivered rows are kept this long (seconds) after delivery, so a
/// redelivered queue message is recognised; then pruned.
const DELIVERED_KEEP_SECS: i64 = 7 * 86_400;
/// A row left without an outcome (its attempt's isolate died before the
/// consumer recorded it, and Queues then gave up or the route was removed)
/// is pruned after Queues' longest retention (14 days) and a day.
const UNSETTLED_KEEP_SECS: i64 = 15 * 86_400;
/// How often the pruning alarm runs, milliseconds.
const PRUNE_EVERY_MS: i64 = 3_600_000;
/// Most overdue deliveries enqueued again per alarm.
const RECOVER_PER_ALARM: usize = 100;
/// A mailbox is flushed on its own this long after its first entry, unless
/// a call to its route took it along before.
const FLUSH_AFTER: Duration = Duration::from_secs(5);
/// Most entries a mailbox list holds (a ledger down for long): the oldest go.
const MAILBOX_LIMIT: usize = 10_000;

// `seen` (delivery ids alone) became `seen_ids` (ids with their body) and
// `seen_proofs` (the replay guard): the old table is dropped.
const SCHEMA: &str = "
DROP TABLE IF EXISTS seen;
CREATE TABLE IF NOT EXISTS seen_ids (delivery_id TEXT NOT NULL, body TEXT NOT NULL, id TEXT NOT NULL,
  expires INTEGER NOT NULL, pending_until INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (delivery_id, body));
CREATE INDEX IF NOT EXISTS seen_ids_by_id ON seen_ids (id);
CREATE TABLE IF NOT EXISTS seen_proofs (proof TEXT PRIMARY KEY, delivery_id TEXT, body TEXT NOT NULL,
  id TEXT NOT NULL, expires INTEGER NOT NULL, pending_until INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS seen_proofs_by_id ON seen_proofs (id);
CREATE TABLE IF NOT EXISTS handshake (name TEXT PRIMARY KEY, sealed TEXT NOT NULL, kept_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS registration (k INTEGER PRIMARY KEY CHECK (k = 1), open_until INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries (
  id TEXT NOT NULL, flow TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL,
  history TEXT NOT NULL, updated INTEGER NOT NULL, message TEXT, due INTEGER, lease INTEGER NOT NULL DEFAULT 0,
  copy INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (id, flow));
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (due);
CREATE INDEX IF NOT EXISTS deliveries_state ON deliveries (state, updated);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, n INTEGER NOT NULL);
";

#[durable_object]
pub struct RouteLedger {
    state: State,
    env: Env,
    /// When the alarm is set to ring (ms), as far as this instance knows:
    /// saves reading it back on every call.
    alarm_at: Cell<Option<i64>>,
    /// Requests served since this instance started (`ledger_calls` in
    /// `GET /status`: what the traffic cost in Durable Object calls).
    calls: Cell<u64>,
}

impl DurableObject for RouteLedger {
    fn new(state: State, env: Env) -> Self {
        // Idempotent; runs once per instance start.
        if let Err(e) = state.storage().sql().exec(SCHEMA, None) {
            crate::log::note("error", "ledger_schema_failed", &e.to_string());
        }
        Self { state, env, alarm_at: Cell::new(None), calls: Cell::new(0) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        self.calls.set(self.calls.get() + 1);
        let op = req.path();
        // Parsed from text, as every other JSON in the Worker: one set of
        // deserializer code (a byte-slice reader would compile another).
        let body = req.text().await?;
        let sql = self.state.storage().sql();
        let store = &mut SqlLedger(&sql);
        let now = now_secs();
        let prune_at = now + PRUNE_EVERY_MS / 1000;
        match op.trim_start_matches('/') {
            AdmitRequest::OP => {
                let admission = rules::admit_direct(store, parse(&body)?, now)?;
                self.alarm_by(prune_at).await?;
                answer::<AdmitRequest>(&admission)
            }
            BatchRequest::OP => {
                let (verdicts, due) = rules::judge_batch(store, parse(&body)?, now)?;
                self.alarm_by(due.map_or(prune_at, |d| d.min(prune_at))).await?;
                answer::<BatchRequest>(&verdicts)
            }
            Mailbox::OP => {
                if let Some(due) = rules::apply_mailbox(store, parse(&body)?, now)? {
                    self.alarm_by(due).await?;
                }
                answer::<Mailbox>(&())
            }
            RedriveRequest::OP => {
                let req: RedriveRequest = parse(&body)?;
                let due = req.due;
                let copy = rules::redrive(store, req, now)?;
                self.alarm_by(due).await?;
                answer::<RedriveRequest>(&copy)
            }
            ForgetRequest::OP => {
                let req: ForgetRequest = parse(&body)?;
                store.delete_row(&req.key)?;
                answer::<ForgetRequest>(&())
            }
            StatusRequest::OP => {
                let mut status = rules::route_status(store, parse(&body)?, now)?;
                status.ledger_calls = self.calls.get();
                status.flows = flow_statuses(&sql)?;
                answer::<StatusRequest>(&status)
            }
            DeliveriesRequest::OP => answer::<DeliveriesRequest>(&deliveries(&sql, parse(&body)?)?),
            HandshakeRequest::OP => {
                let req: HandshakeRequest = parse(&body)?;
                let logged = matches!(req, HandshakeRequest::Keep { .. } | HandshakeRequest::Reset { .. });
                let result = rules::handle_handshake(store, req, now)?;
                if logged {
                    crate::log::note("warn", "handshake_secret", &format!("route ledger: {result}"));
                }
                answer::<HandshakeRequest>(&result)
            }
            _ => Response::error("no such ledger operation", 404),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        self.alarm_at.set(None);
        let sql = self.state.storage().sql();
        let now = now_secs();
        self.recover(&sql, now).await?;
        sql.exec("DELETE FROM seen_ids WHERE expires < ?", vec![now.into()])?;
        sql.exec("DELETE FROM seen_proofs WHERE expires < ?", vec![now.into()])?;
        sql.exec(
            "DELETE FROM deliveries WHERE (state = 'delivered' AND updated < ?) OR (state = 'queued' AND message IS NULL AND updated < ?)",
            vec![(now - DELIVERED_KEEP_SECS).into(), (now - UNSETTLED_KEEP_SECS).into()],
        )?;
        // Next: the earliest due delivery, else the hourly prune while rows remain.
        let next = first(sql.exec(
            "SELECT MIN(due), (SELECT COUNT(*) FROM seen_ids) + (SELECT COUNT(*) FROM seen_proofs) + (SELECT COUNT(*) FROM deliveries) FROM deliveries WHERE state IN ('queued', 'retrying') AND message IS NOT NULL AND due IS NOT NULL",
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

/// Per flow: deliveries by state, and the newest failed attempt of a
/// delivery still failing (retrying or dead), with its hint.
fn flow_statuses(sql: &SqlStorage) -> Result<Vec<FlowStatus>> {
    let mut flows: Vec<FlowStatus> = Vec::new();
    for r in sql.exec("SELECT flow, state, COUNT(*) FROM deliveries GROUP BY flow, state ORDER BY flow", None)?.raw() {
        let r = r?;
        let [flow, state, n] = r.as_slice() else { continue };
        let flow = text(flow);
        if flow.is_empty() {
            continue;
        }
        if flows.last().is_none_or(|f| f.flow != flow) {
            flows.push(FlowStatus { flow: flow.clone(), ..FlowStatus::default() });
        }
        let Some(f) = flows.last_mut() else { continue };
        let n = int(n).unwrap_or(0);
        match DeliveryState::parse(&text(state)) {
            Some(DeliveryState::Queued) => f.queued = n,
            Some(DeliveryState::Retrying) => f.retrying = n,
            Some(DeliveryState::Delivered) => f.delivered = n,
            Some(DeliveryState::Dead) => f.dead = n,
            None => {}
        }
    }
    for f in &mut flows {
        if f.retrying + f.dead == 0 {
            continue;
        }
        let row = first(sql.exec(
            "SELECT history FROM deliveries WHERE flow = ? AND state IN ('retrying', 'dead') ORDER BY updated DESC LIMIT 1",
            vec![f.flow.as_str().into()],
        )?)?;
        let last = row
            .and_then(|r| r.first().map(text))
            .and_then(|h| serde_json::from_str::<Vec<AttemptRecord>>(&h).ok())
            .and_then(|mut h| h.pop());
        f.hint = last.as_ref().and_then(attempt_hint).map(str::to_owned);
        f.last_error = last;
    }
    Ok(flows)
}

/// The deliveries `req` asks for, newest first; the sender's delivery id
/// comes from the duplicate window (`seen_ids`), when the route keeps one.
fn deliveries(sql: &SqlStorage, req: DeliveriesRequest) -> Result<Vec<DeliveryRecord>> {
    let mut query = String::from(
        "SELECT d.id, d.flow, d.state, d.attempts, d.history, d.updated, d.next_at, \
         (SELECT s.delivery_id FROM seen_ids s WHERE s.id = d.id LIMIT 1) FROM deliveries d WHERE 1 = 1",
    );
    let mut args: Vec<SqlStorageValue> = Vec::new();
    if let Some(id) = req.id.filter(|i| !i.is_empty()) {
        query.push_str(" AND (d.id = ? OR d.id IN (SELECT id FROM seen_ids WHERE delivery_id = ?))");
        args.push(id.as_str().into());
        args.push(id.as_str().into());
    }
    if let Some(flow) = req.flow.filter(|f| !f.is_empty()) {
        query.push_str(" AND d.flow = ?");
        args.push(flow.as_str().into());
    }
    if let Some(state) = req.state.filter(|s| !s.is_empty()) {
        query.push_str(" AND d.state = ?");
        args.push(state.as_str().into());
    }
    if let Some(since) = req.since {
        query.push_str(" AND d.updated >= ?");
        args.push(since.into());
    }
    query.push_str(" ORDER BY d.updated DESC LIMIT ?");
    args.push(i64::from(req.limit.clamp(1, 500)).into());
    let mut out = Vec::new();
    for r in sql.exec(&query, args)?.raw() {
        let r = r?;
        let [id, flow, state, attempts, history, updated, next_at, delivery_id] = r.as_slice() else { continue };
        let state = text(state);
        let next_at = int(next_at).filter(|n| *n > 0 && state == "retrying");
        out.push(DeliveryRecord {
            route: req.route.clone(),
            id: text(id),
            flow: text(flow),
            delivery_id: Some(text(delivery_id)).filter(|d| !d.is_empty()),
            state,
            attempts: int(attempts).and_then(|n| u32::try_from(n).ok()).unwrap_or(0),
            updated: int(updated).unwrap_or(0),
            next_at,
            history: serde_json::from_str(&text(history)).unwrap_or_default(),
        });
    }
    Ok(out)
}

/// A request body as the operation's type.
fn parse<T: DeserializeOwned>(body: &str) -> Result<T> {
    Ok(serde_json::from_str(body)?)
}

/// The answer of operation `C`.
fn answer<C: LedgerCall>(a: &C::Answer) -> Result<Response> {
    Response::from_json(a)
}

impl RouteLedger {
    /// Sends again every queued delivery whose attempt is overdue (the queue
    /// lost its message: retention, or a local restart).
    async fn recover(&self, sql: &SqlStorage, now: i64) -> Result<()> {
        let store = &mut SqlLedger(sql);
        let messages = rules::recover(store, now, RECOVER_PER_ALARM, |m| message_lost_after(&self.env, &m.route))?;
        for message in messages {
            match crate::queue::send(&self.env, std::slice::from_ref(&message)).await {
                Ok(()) => {
                    store.bump(Counter::Recovered, 1)?;
                    crate::log::note(
                        "warn",
                        "delivery_recovered",
                        &format!(
                            "route {} delivery {} to flow {} had no attempt in time; enqueued again (copy {})",
                            message.route, message.id, message.flow, message.copy
                        ),
                    );
                }
                Err(e) => {
                    let key = DeliveryKey { id: message.id.clone(), flow: message.flow.clone() };
                    rules::recovery_failed(store, &key, now)?;
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
}

/// The ledger's SQL tables as the core rules' storage port.
struct SqlLedger<'a>(&'a SqlStorage);

fn seen_row(row: &[SqlStorageValue]) -> Option<SeenEntry> {
    let [id, delivery_id, body, pending, expires] = row else { return None };
    Some(SeenEntry {
        flowgate_id: text(id),
        delivery_id: match delivery_id {
            SqlStorageValue::String(s) => Some(s.clone()),
            _ => None,
        },
        body: text(body),
        pending_until: int(pending).unwrap_or(0),
        expires: int(expires).unwrap_or(0),
    })
}

impl SeenStore for SqlLedger<'_> {
    type Error = worker::Error;
    fn by_proof(&mut self, proof: &str, now: i64) -> Result<Option<SeenEntry>> {
        let row = first(self.0.exec(
            "SELECT id, delivery_id, body, pending_until, expires FROM seen_proofs WHERE proof = ? AND expires >= ?",
            vec![proof.into(), now.into()],
        )?)?;
        Ok(row.as_deref().and_then(seen_row))
    }
    fn by_delivery(&mut self, delivery_id: &str, body: &str, now: i64) -> Result<Option<SeenEntry>> {
        let row = first(self.0.exec(
            "SELECT id, delivery_id, body, pending_until, expires FROM seen_ids WHERE delivery_id = ? AND body = ? AND expires >= ?",
            vec![delivery_id.into(), body.into(), now.into()],
        )?)?;
        Ok(row.as_deref().and_then(seen_row))
    }
    fn delivery_with_other_body(&mut self, delivery_id: &str, body: &str, now: i64) -> Result<bool> {
        Ok(first(self.0.exec(
            "SELECT 1 FROM seen_ids WHERE delivery_id = ? AND body != ? AND expires >= ? LIMIT 1",
            vec![delivery_id.into(), body.into(), now.into()],
        )?)?
        .is_some())
    }
    fn put_proof(&mut self, proof: &str, e: SeenEntry) -> Result<()> {
        let delivery_id = e.delivery_id.map_or(SqlStorageValue::Null, SqlStorageValue::String);
        self.0.exec(
            "INSERT OR REPLACE INTO seen_proofs (proof, delivery_id, body, id, expires, pending_until) VALUES (?, ?, ?, ?, ?, ?)",
            vec![proof.into(), delivery_id, e.body.into(), e.flowgate_id.into(), e.expires.into(), e.pending_until.into()],
        )?;
        Ok(())
    }
    fn put_delivery(&mut self, e: SeenEntry) -> Result<()> {
        let Some(delivery_id) = e.delivery_id else { return Ok(()) };
        self.0.exec(
            "INSERT OR REPLACE INTO seen_ids (delivery_id, body, id, expires, pending_until) VALUES (?, ?, ?, ?, ?)",
            vec![delivery_id.into(), e.body.into(), e.flowgate_id.into(), e.expires.into(), e.pending_until.into()],
        )?;
        Ok(())
    }
    fn forget(&mut self, flowgate_id: &str) -> Result<()> {
        self.0.exec("DELETE FROM seen_ids WHERE id = ?", vec![flowgate_id.into()])?;
        self.0.exec("DELETE FROM seen_proofs WHERE id = ?", vec![flowgate_id.into()])?;
        Ok(())
    }
    fn confirm(&mut self, flowgate_id: &str) -> Result<()> {
        self.0.exec("UPDATE seen_ids SET pending_until = 0 WHERE id = ?", vec![flowgate_id.into()])?;
        self.0.exec("UPDATE seen_proofs SET pending_until = 0 WHERE id = ?", vec![flowgate_id.into()])?;
        Ok(())
    }
}

impl HandshakeStore for SqlLedger<'_> {
    type Error = worker::Error;
    fn window(&mut self) -> Result<Option<i64>> {
        let row = first(self.0.exec("SELECT open_until FROM registration WHERE k = 1", None)?)?;
        Ok(row.as_deref().and_then(|r| r.first()).and_then(int))
    }
    fn set_window(&mut self, until: Option<i64>) -> Result<()> {
        match until {
            Some(u) => self.0.exec(
                "INSERT INTO registration (k, open_until) VALUES (1, ?) ON CONFLICT (k) DO UPDATE SET open_until = excluded.open_until",
                vec![u.into()],
            )?,
            None => self.0.exec("DELETE FROM registration", None)?,
        };
        Ok(())
    }
    fn kept(&mut self, name: &str) -> Result<Option<KeptSecret>> {
        let row = first(self.0.exec("SELECT sealed, kept_at FROM handshake WHERE name = ?", vec![name.into()])?)?;
        Ok(match row.as_deref() {
            Some([sealed, kept_at]) => Some(KeptSecret { sealed: text(sealed), kept_at: int(kept_at).unwrap_or(0) }),
            _ => None,
        })
    }
    fn put_kept(&mut self, name: &str, secret: KeptSecret) -> Result<()> {
        // Insert-if-absent: the Durable Object handles one request at a
        // time and the rules checked none is kept; OR IGNORE holds anyway.
        self.0.exec(
            "INSERT OR IGNORE INTO handshake (name, sealed, kept_at) VALUES (?, ?, ?)",
            vec![name.into(), secret.sealed.into(), secret.kept_at.into()],
        )?;
        Ok(())
    }
    fn delete_kept(&mut self, name: &str) -> Result<()> {
        self.0.exec("DELETE FROM handshake WHERE name = ?", vec![name.into()])?;
        Ok(())
    }
}

// Deliveries. Columns as they have always been: `state` holds
// `DeliveryState::as_str`, `lease` the lease's end, `message` the copy.
macro_rules! row_columns {
    () => {
        "state, attempts, history, updated, message IS NOT NULL, due, lease, copy, next_at"
    };
}

fn delivery_row(key: DeliveryKey, v: &[SqlStorageValue]) -> Option<DeliveryRow> {
    let [state, attempts, history, updated, has_copy, due, lease, copy, next_at, ..] = v else { return None };
    Some(DeliveryRow {
        key,
        // A state no version wrote: attempt it (a row is never lost to it).
        state: DeliveryState::parse(&text(state)).unwrap_or(DeliveryState::Queued),
        attempts: int(attempts).and_then(|n| u32::try_from(n).ok()).unwrap_or(0),
        history: serde_json::from_str::<Vec<AttemptRecord>>(&text(history)).unwrap_or_default(),
        updated: int(updated).unwrap_or(0),
        keeps_copy: int(has_copy).unwrap_or(0) != 0,
        due: int(due),
        lease_until: int(lease).unwrap_or(0),
        copy: int(copy).and_then(|n| u32::try_from(n).ok()).unwrap_or(0),
        next_at: int(next_at).unwrap_or(0),
    })
}

fn opt(v: Option<i64>) -> SqlStorageValue {
    v.map_or(SqlStorageValue::Null, SqlStorageValue::Integer)
}

impl DeliveryStore for SqlLedger<'_> {
    fn row(&mut self, key: &DeliveryKey) -> Result<Option<DeliveryRow>> {
        let row = first(self.0.exec(
            concat!("SELECT ", row_columns!(), " FROM deliveries WHERE id = ? AND flow = ?"),
            vec![key.id.as_str().into(), key.flow.as_str().into()],
        )?)?;
        Ok(row.and_then(|r| delivery_row(key.clone(), &r)))
    }
    fn put_row(&mut self, r: &DeliveryRow) -> Result<()> {
        let history = serde_json::to_string(&r.history).unwrap_or_else(|_| "[]".to_owned());
        self.0.exec(
            "INSERT INTO deliveries (id, flow, state, attempts, history, updated, due, lease, copy, next_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (id, flow) DO UPDATE SET state = excluded.state, attempts = excluded.attempts,
             history = excluded.history, updated = excluded.updated, due = excluded.due, lease = excluded.lease,
             copy = excluded.copy, next_at = excluded.next_at",
            vec![
                r.key.id.as_str().into(),
                r.key.flow.as_str().into(),
                r.state.as_str().into(),
                i64::from(r.attempts).into(),
                history.into(),
                r.updated.into(),
                opt(r.due),
                r.lease_until.into(),
                i64::from(r.copy).into(),
                r.next_at.into(),
            ],
        )?;
        Ok(())
    }
    fn set_copy(&mut self, key: &DeliveryKey, message: Option<&str>) -> Result<()> {
        let message = message.map_or(SqlStorageValue::Null, |m| m.into());
        self.0.exec(
            "UPDATE deliveries SET message = ? WHERE id = ? AND flow = ?",
            vec![message, key.id.as_str().into(), key.flow.as_str().into()],
        )?;
        Ok(())
    }
    fn delete_row(&mut self, key: &DeliveryKey) -> Result<()> {
        self.0.exec(
            "DELETE FROM deliveries WHERE id = ? AND flow = ?",
            vec![key.id.as_str().into(), key.flow.as_str().into()],
        )?;
        Ok(())
    }
    fn has_rows_of(&mut self, id: &str) -> Result<bool> {
        Ok(first(self.0.exec("SELECT 1 FROM deliveries WHERE id = ? LIMIT 1", vec![id.into()])?)?.is_some())
    }
    fn overdue(&mut self, now: i64, limit: usize) -> Result<Vec<(DeliveryRow, String)>> {
        let rows = self.0.exec(
            concat!(
                "SELECT ",
                row_columns!(),
                ", id, flow, message FROM deliveries WHERE state IN ('queued', 'retrying') AND message IS NOT NULL AND due IS NOT NULL AND due <= ? AND lease <= ? LIMIT ?"
            ),
            vec![now.into(), now.into(), i64::try_from(limit).unwrap_or(100).into()],
        )?;
        let mut out = Vec::new();
        for row in rows.raw() {
            let row = row?;
            let [.., id, flow, message] = row.as_slice() else { continue };
            let key = DeliveryKey { id: text(id), flow: text(flow) };
            if let Some(r) = delivery_row(key, &row) {
                out.push((r, text(message)));
            }
        }
        Ok(out)
    }
    fn bump(&mut self, counter: Counter, by: i64) -> Result<()> {
        self.0.exec(
            "INSERT INTO counters (name, n) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET n = n + excluded.n",
            vec![counter.as_str().into(), SqlStorageValue::Integer(by)],
        )?;
        Ok(())
    }
    fn counters(&mut self) -> Result<Vec<(Counter, i64)>> {
        let mut out = Vec::new();
        for r in self.0.exec("SELECT name, n FROM counters", None)?.raw() {
            if let [name, n] = r?.as_slice() {
                if let Some(c) = Counter::parse(&text(name)) {
                    out.push((c, int(n).unwrap_or(0)));
                }
            }
        }
        Ok(out)
    }
    fn states(&mut self) -> Result<Vec<(DeliveryState, i64)>> {
        let mut out = Vec::new();
        for r in self.0.exec("SELECT state, COUNT(*) FROM deliveries GROUP BY state", None)?.raw() {
            if let [state, n] = r?.as_slice() {
                if let Some(s) = DeliveryState::parse(&text(state)) {
                    out.push((s, int(n).unwrap_or(0)));
                }
            }
        }
        Ok(out)
    }
}

fn now_secs() -> i64 {
    (worker::Date::now().as_millis() / 1000) as i64
}

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

/// The route's `lost_after_secs` (the default if the route is gone).
fn message_lost_after(env: &Env, route: &str) -> u64 {
    crate::bindings::config(env)
        .ok()
        .and_then(|c| c.routes.get(route).map(|r| r.lost_after_secs))
        .unwrap_or(flowgate_core::config::DEFAULT_LOST_AFTER_SECS)
}

// ---------------------------------------------------------------------------
// The Worker's side.

/// Typed client of one route's ledger.
pub(crate) struct Ledger {
    stub: Stub,
    route: String,
}

/// Whether the ledger's binding is there (no request is made): every
/// route needs it, so a missing one fails the request closed.
pub(crate) fn check_binding(env: &Env) -> std::result::Result<(), String> {
    env.durable_object(LEDGER_BINDING).map(drop).map_err(|_| missing_binding())
}

fn missing_binding() -> String {
    format!("no Durable Object binding {LEDGER_BINDING}: add the [[durable_objects.bindings]] and [[migrations]] blocks of README.md, Deploying")
}

impl Ledger {
    /// The route's ledger; `Err` names the missing binding.
    pub(crate) fn of(env: &Env, route: &str) -> std::result::Result<Self, String> {
        let ns = env.durable_object(LEDGER_BINDING).map_err(|_| missing_binding())?;
        let stub = ns.get_by_name(route).map_err(|e| format!("ledger for route {route}: {e}"))?;
        Ok(Self { stub, route: route.to_owned() })
    }

    async fn call<C: LedgerCall>(&self, req: &C) -> Result<C::Answer> {
        self.call_as(C::OP, req).await
    }

    async fn call_as<T: Serialize, R: DeserializeOwned>(&self, op: &str, req: &T) -> Result<R> {
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_body(Some(serde_json::to_string(req)?.into()));
        let req = Request::new_with_init(&format!("https://ledger/{op}"), &init)?;
        let mut resp = self.stub.fetch_with_request(req).await?;
        if resp.status_code() != 200 {
            return Err(worker::Error::RustError(format!("ledger {op}: HTTP {}", resp.status_code())));
        }
        resp.json().await
    }

    /// `req` with this instance's mailbox for the route in it; the mailbox
    /// goes back if the call fails.
    async fn carrying<C: LedgerCall>(&self, mut req: C, slot: impl Fn(&mut C) -> &mut Mailbox) -> Result<C::Answer> {
        *slot(&mut req) = take(&self.route);
        let result = self.call(&req).await;
        if result.is_err() {
            put_back(&self.route, std::mem::take(slot(&mut req)));
        }
        result
    }

    /// Direct mode: judges a webhook before its flow call (and applies the mailbox).
    pub(crate) async fn admit(&self, req: AdmitRequest) -> Result<Admission> {
        self.carrying(req, |r| &mut r.mailbox).await
    }

    /// The queue consumer: judges a batch's messages for this route.
    pub(crate) async fn batch(&self, req: BatchRequest) -> Result<BatchAnswer> {
        self.carrying(req, |r| &mut r.mailbox).await
    }

    /// Tells the ledger `extra` (a batch's outcomes) and whatever this
    /// instance's mailbox holds. On failure all of it stays in the mailbox.
    pub(crate) async fn flush(&self, extra: Mailbox) -> Result<()> {
        let mut m = take(&self.route);
        m.merge(extra);
        if m.is_empty() {
            return Ok(());
        }
        let result = self.call(&m).await;
        if result.is_err() {
            put_back(&self.route, m);
        }
        result
    }

    /// A route's handed-over secret and registration window ([`HandshakeRequest`]).
    pub(crate) async fn handshake<R: DeserializeOwned>(&self, req: &HandshakeRequest) -> Result<R> {
        Ok(serde_json::from_value(self.call(req).await?)?)
    }

    /// Records a redrive; returns the copy number the new message carries.
    pub(crate) async fn redrive(&self, req: &RedriveRequest) -> Result<u32> {
        self.call(req).await
    }

    /// The deliveries the ledger keeps that `req` asks for (JSON as the
    /// ledger wrote it: passed on, not read).
    pub(crate) async fn deliveries(&self, req: &DeliveriesRequest) -> Result<serde_json::Value> {
        self.call_as::<_, serde_json::Value>(DeliveriesRequest::OP, req).await
    }

    /// A dead letter was deleted: forget its delivery.
    pub(crate) async fn forget(&self, key: DeliveryKey) -> Result<()> {
        self.call(&ForgetRequest { key }).await
    }

    /// The route's counters ([`flowgate_core::ledger::RouteStatus`]), this instance's mailbox
    /// applied first — as the JSON the ledger wrote: the admin API passes it
    /// on as it is, and reading it into the struct only to write it out again
    /// would compile a deserializer for nothing.
    pub(crate) async fn status(&self) -> Result<serde_json::Value> {
        let mut req = StatusRequest { mailbox: take(&self.route) };
        let result = self.call_as::<_, serde_json::Value>(StatusRequest::OP, &req).await;
        if result.is_err() {
            put_back(&self.route, std::mem::take(&mut req.mailbox));
        }
        result
    }
}

/// A route's mailbox in this isolate, and whether a flush is scheduled.
struct Slot {
    route: String,
    mailbox: Mailbox,
    flushing: bool,
}

thread_local! {
    // Per route (a handful: a list): what this isolate has not told the ledger yet.
    static MAILBOXES: RefCell<Vec<Slot>> = const { RefCell::new(Vec::new()) };
}

fn with_slot<R>(route: &str, f: impl FnOnce(&mut Slot) -> R) -> R {
    MAILBOXES.with(|m| {
        let mut m = m.borrow_mut();
        let i = match m.iter().position(|s| s.route == route) {
            Some(i) => i,
            None => {
                m.push(Slot { route: route.to_owned(), mailbox: Mailbox::default(), flushing: false });
                m.len() - 1
            }
        };
        f(&mut m[i])
    })
}

/// Adds to this isolate's mailbox for `route` (then call [`flush_later`]).
pub(crate) fn post(route: &str, f: impl FnOnce(&mut Mailbox)) {
    with_slot(route, |s| {
        f(&mut s.mailbox);
        bound(&mut s.mailbox);
    });
}

fn take(route: &str) -> Mailbox {
    with_slot(route, |s| std::mem::take(&mut s.mailbox))
}

fn put_back(route: &str, mut back: Mailbox) {
    if back.is_empty() {
        return;
    }
    post(route, |m| {
        // Older entries first, as they were.
        std::mem::swap(m, &mut back);
        m.merge(back);
    });
}

fn bound(m: &mut Mailbox) {
    fn cut<T>(v: &mut Vec<T>, what: &str) {
        if v.len() > MAILBOX_LIMIT {
            let excess = v.len() - MAILBOX_LIMIT;
            v.drain(..excess);
            crate::log::warn(
                "ledger_mailbox_full",
                &format!("{excess} {what} dropped: the route ledger has been unreachable"),
            );
        }
    }
    cut(&mut m.settled, "outcomes");
    cut(&mut m.confirmed, "confirmations");
    cut(&mut m.released, "releases");
}

/// Makes sure `route`'s mailbox reaches its ledger: unless a call to the
/// route takes it along first, it is flushed [`FLUSH_AFTER`] from now,
/// under `ctx.wait_until` (one flush per route and isolate at a time, so a
/// busy route's mailbox costs at most one call per interval, and usually
/// none: its next call carries it).
pub(crate) fn flush_later(env: &Env, ctx: &Context, route: &str) {
    if with_slot(route, |s| std::mem::replace(&mut s.flushing, true)) {
        return;
    }
    let (env, route) = (env.clone(), route.to_owned());
    ctx.wait_until(async move {
        Delay::from(FLUSH_AFTER).await;
        with_slot(&route, |s| s.flushing = false);
        let result = match Ledger::of(&env, &route) {
            Ok(l) => l.flush(Mailbox::default()).await.map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            crate::log::warn("ledger_unavailable", &format!("route {route}: kept for the next call: {e}"));
        }
    });
}
