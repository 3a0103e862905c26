//! Queued deliveries as a state machine. One [`DeliveryRow`] per webhook
//! and flow; the transitions below are the only way a row changes, and they
//! run inside the Durable Object (one request at a time, so each call's
//! transitions are atomic) over the [`DeliveryStore`] port.
//!
//! ```text
//! from              event                                     to
//! (none)            judge: first sight, new                   Queued, leased
//! (none)            judge: first sight, duplicate or replay   (none): dropped, counted
//! Queued, Retrying  judge: no live lease, next attempt due    the same, leased
//! Queued, Retrying  judge: leased, or next attempt not due    the same: busy
//! any               judge: a copy older than the row's        the same: stale
//! Delivered, Dead   judge                                     the same: skipped
//! Queued, Retrying  settle: delivered                         Delivered (final)
//! Queued, Retrying  settle: retrying                          Retrying, copy kept, due
//! Queued, Retrying  settle: dead                              Dead
//! any               redrive                                   Queued, a new copy kept
//! Queued, Retrying  recover: copy kept, overdue, no lease     the same, a new copy sent
//! ```
//!
//! - **Judge** ([`judge_batch`], before any attempt): a row already final
//!   (delivered, dead) or a message older than the row's copy is skipped
//!   (acknowledged without a call); a row leased by another attempt, or
//!   whose next attempt is not due, is busy; otherwise the attempt takes a
//!   lease. A message seen for the first time is judged by its fingerprint
//!   first ([`admit`]): a duplicate or a replay is dropped, never forwarded.
//! - **Settle** ([`settle`], after the attempt): delivered, dead, or retrying.
//!   A retrying delivery's message is back in the queue, and the ledger keeps
//!   a copy of it ([`Outcome::Retrying::message`]) with the time by which its
//!   next attempt is overdue: if the queue loses it — Queues deletes messages
//!   older than its retention period, a local `wrangler dev` keeps its queues
//!   in memory — [`recover`] sends it again under a new copy number, and any
//!   older copy that turns up is stale.
//! - **Redrive** ([`redrive`]): a dead letter's delivery gets a new copy,
//!   kept until it is attempted.
//!
//! A delivery whose first attempt is under way has no copy in the ledger:
//! until a resolved `send()` returns, the webhook is not accepted (the sender
//! gets 503), and afterwards Queues holds the message on disk until the
//! consumer acknowledges it ("When the promise resolves, the message is
//! confirmed to be written to disk", Queues JavaScript APIs; "messages are
//! not deleted from a queue until the consumer has successfully consumed the
//! message", How Queues Works). So the hot path writes nothing here.

use super::{admit, protocol::*, secs, Admission, AdmitPolicy, SeenStore};
use crate::delivery::{push_history, AttemptRecord, QueuedDelivery};

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryState {
    /// Seen by the queue consumer and not settled yet: its first attempt is
    /// under way (or was cut off), or — redriven — its new copy waits.
    Queued,
    /// An attempt failed and the message is back in the queue for the next.
    Retrying,
    /// The flow took the run. Final.
    Delivered,
    /// A dead letter (written to R2 before the ledger is told). Final until
    /// an operator redrives it.
    Dead,
}

impl DeliveryState {
    /// Every state, in the order `GET /status` names them.
    pub const ALL: [DeliveryState; 4] =
        [DeliveryState::Queued, DeliveryState::Retrying, DeliveryState::Delivered, DeliveryState::Dead];

    /// The state as stored (the names rows have always had).
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Queued => "queued",
            DeliveryState::Retrying => "retrying",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Dead => "dead",
        }
    }

    /// A stored state; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == s)
    }

    /// Delivered or dead: no attempt follows (until a redrive).
    pub fn is_final(self) -> bool {
        matches!(self, DeliveryState::Delivered | DeliveryState::Dead)
    }
}

/// One delivery as the ledger keeps it (its message copy, when it has one,
/// is stored beside it: [`DeliveryStore::set_copy`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRow {
    /// Which webhook, which flow.
    pub key: DeliveryKey,
    /// Where it stands.
    pub state: DeliveryState,
    /// The newest attempt recorded (Queues' count: it restarts on a redrive).
    pub attempts: u32,
    /// The failed attempts (the newest [`crate::delivery::HISTORY_LIMIT`]).
    pub history: Vec<AttemptRecord>,
    /// When it last changed, Unix seconds.
    pub updated: i64,
    /// Whether the ledger keeps a copy of its message to recover from.
    pub keeps_copy: bool,
    /// When its next attempt is overdue (Unix seconds): past it, with a copy
    /// and no live lease, the message is presumed lost and sent again.
    pub due: Option<i64>,
    /// Until when an attempt holds it (Unix seconds; 0: none).
    pub lease_until: i64,
    /// The newest message copy sent (0: the first).
    pub copy: u32,
    /// No attempt before this time (the backoff, or the flow's `Retry-After`).
    pub next_at: i64,
}

impl DeliveryRow {
    /// A delivery just seen.
    pub fn new(key: DeliveryKey, now: i64) -> Self {
        Self {
            key,
            state: DeliveryState::Queued,
            attempts: 0,
            history: Vec::new(),
            updated: now,
            keeps_copy: false,
            due: None,
            lease_until: 0,
            copy: 0,
            next_at: 0,
        }
    }
}

/// A route's counters (cumulative), as `GET /status` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Counter {
    /// Webhooks taken in for delivery (queue mode: on the consumer's first
    /// sight of one of its messages; direct mode: admitted, less those whose
    /// call failed).
    Accepted,
    /// Deliveries the flow took.
    Delivered,
    /// Suppressed re-sent copies (queue mode: one per message, i.e. per flow).
    Duplicates,
    /// Refused replays (queue mode: one per message).
    Replays,
    /// Deliveries given up on (dead letters written).
    DeadLettered,
    /// Dead letters sent again by an operator.
    Redriven,
    /// Webhooks no rule routed anywhere.
    Dropped,
    /// Messages the ledger sent again after the queue lost them.
    Recovered,
}

impl Counter {
    /// Every counter.
    pub const ALL: [Counter; 8] = [
        Counter::Accepted,
        Counter::Delivered,
        Counter::Duplicates,
        Counter::Replays,
        Counter::DeadLettered,
        Counter::Redriven,
        Counter::Dropped,
        Counter::Recovered,
    ];

    /// Its name, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Counter::Accepted => "accepted",
            Counter::Delivered => "delivered",
            Counter::Duplicates => "duplicates",
            Counter::Replays => "replays",
            Counter::DeadLettered => "dead_lettered",
            Counter::Redriven => "redriven",
            Counter::Dropped => "dropped",
            Counter::Recovered => "recovered",
        }
    }

    /// A stored name; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// Where a route's deliveries and counters live (SQL in the Durable Object,
/// memory in the tests). It stores; every decision is the transitions'.
pub trait DeliveryStore: SeenStore {
    /// The row of `key`, if any.
    fn row(&mut self, key: &DeliveryKey) -> Result<Option<DeliveryRow>, Self::Error>;
    /// Writes `row` (inserted or replaced), leaving its message copy as it is.
    fn put_row(&mut self, row: &DeliveryRow) -> Result<(), Self::Error>;
    /// Keeps (`Some`) or drops (`None`) the row's message copy (JSON).
    fn set_copy(&mut self, key: &DeliveryKey, message: Option<&str>) -> Result<(), Self::Error>;
    /// Removes the row and its copy.
    fn delete_row(&mut self, key: &DeliveryKey) -> Result<(), Self::Error>;
    /// Whether any row belongs to the webhook `id` (another flow's, in a fan-out).
    fn has_rows_of(&mut self, id: &str) -> Result<bool, Self::Error>;
    /// Up to `limit` rows, with their copies, that are overdue at `now`: a
    /// copy kept, `due <= now`, no live lease, not final.
    fn overdue(&mut self, now: i64, limit: usize) -> Result<Vec<(DeliveryRow, String)>, Self::Error>;
    /// Adds `by` to a counter.
    fn bump(&mut self, counter: Counter, by: i64) -> Result<(), Self::Error>;
    /// Every counter with a value.
    fn counters(&mut self) -> Result<Vec<(Counter, i64)>, Self::Error>;
    /// How many rows are in each state.
    fn states(&mut self) -> Result<Vec<(DeliveryState, i64)>, Self::Error>;
}

/// Moves `alarm` to `at` if that is earlier.
fn earliest(alarm: &mut Option<i64>, at: i64) {
    *alarm = Some(alarm.map_or(at, |a| a.min(at)));
}

/// The consumer's one call before a batch's attempts: what was left in its
/// [`Mailbox`] first, then a [`Verdict`] per message, in order. Returns the
/// answer and the earliest due time it set (the alarm must ring by then).
///
/// # Errors
/// The storage's: nothing is decided (the consumer retries the batch's messages).
pub fn judge_batch<S: DeliveryStore>(
    store: &mut S,
    req: BatchRequest,
    now: i64,
) -> Result<(BatchAnswer, Option<i64>), S::Error> {
    let mut alarm = apply_mailbox(store, req.mailbox, now)?;
    let mut verdicts = Vec::with_capacity(req.items.len());
    for item in req.items {
        verdicts.push(judge(store, item, &req.policy, req.lease_until, req.due, now, &mut alarm)?);
    }
    Ok((BatchAnswer { verdicts }, alarm))
}

fn judge<S: DeliveryStore>(
    store: &mut S,
    item: BatchItem,
    policy: &AdmitPolicy,
    lease_until: i64,
    due: i64,
    now: i64,
    alarm: &mut Option<i64>,
) -> Result<Verdict, S::Error> {
    if let Some(mut row) = store.row(&item.key)? {
        let attempt =
            |row: DeliveryRow| Verdict::Attempt { history: row.history, keeps_copy: row.keeps_copy, id_reused: false };
        return Ok(match row.state {
            DeliveryState::Delivered => Verdict::Skip(Skip::Delivered),
            DeliveryState::Dead => Verdict::Skip(Skip::Dead),
            _ if item.copy < row.copy => Verdict::Skip(Skip::Stale),
            // Given up on (its route or flow is gone, or Queues gave up):
            // not done is all that matters; its letter is written at once.
            _ if item.fingerprint.is_none() => attempt(row),
            _ if row.lease_until > now || row.next_at > now => Verdict::Busy,
            _ => {
                row.copy = item.copy;
                row.lease_until = lease_until;
                row.updated = now;
                if row.keeps_copy {
                    row.due = Some(due);
                    earliest(alarm, due);
                }
                store.put_row(&row)?;
                attempt(row)
            }
        });
    }
    // First sight of this delivery.
    let Some(fingerprint) = item.fingerprint else {
        return Ok(Verdict::Attempt { history: Vec::new(), keeps_copy: false, id_reused: false });
    };
    let first_of_webhook = !store.has_rows_of(&item.key.id)?;
    Ok(match admit(store, &item.key.id, &fingerprint, policy, now)? {
        Admission::Duplicate => {
            store.bump(Counter::Duplicates, 1)?;
            Verdict::Skip(Skip::Duplicate)
        }
        Admission::Replay => {
            store.bump(Counter::Replays, 1)?;
            Verdict::Skip(Skip::Replay)
        }
        // A direct-mode entry still pending (the route was switched from
        // direct to queue mode while a call was under way): wait for it.
        Admission::InProgress => Verdict::Busy,
        Admission::New { id_reused } => {
            if first_of_webhook {
                store.bump(Counter::Accepted, 1)?;
            }
            let mut row = DeliveryRow::new(item.key, now);
            row.copy = item.copy;
            row.lease_until = lease_until;
            store.put_row(&row)?;
            Verdict::Attempt { history: Vec::new(), keeps_copy: false, id_reused }
        }
    })
}

/// Records one attempt's outcome. A settlement for a copy older than the
/// row's, or for a final row, changes nothing (its attempt was superseded).
///
/// # Errors
/// The storage's.
pub fn settle<S: DeliveryStore>(
    store: &mut S,
    s: Settlement,
    now: i64,
    alarm: &mut Option<i64>,
) -> Result<(), S::Error> {
    let mut row = store.row(&s.key)?.unwrap_or_else(|| DeliveryRow::new(s.key.clone(), now));
    if s.copy < row.copy || row.state.is_final() {
        return Ok(());
    }
    row.copy = s.copy;
    row.attempts = s.attempt;
    row.updated = now;
    row.lease_until = 0;
    let record =
        |status, reason| AttemptRecord { at: u64::try_from(now).unwrap_or(0), attempt: s.attempt, status, reason };
    // The message copy to keep, if this outcome brings the first one.
    let mut new_copy = None;
    match s.outcome {
        Outcome::Delivered => {
            row.state = DeliveryState::Delivered;
            store.bump(Counter::Delivered, 1)?;
        }
        Outcome::Retrying { status, reason, next_at, due, message } => {
            push_history(&mut row.history, record(status, reason));
            row.state = DeliveryState::Retrying;
            row.next_at = next_at;
            if !row.keeps_copy {
                new_copy = message;
            }
            if row.keeps_copy || new_copy.is_some() {
                row.due = Some(due);
                earliest(alarm, due);
            } else {
                row.due = None;
            }
        }
        Outcome::Dead { status, reason } => {
            push_history(&mut row.history, record(status, reason));
            row.state = DeliveryState::Dead;
            store.bump(Counter::DeadLettered, 1)?;
        }
    }
    let drop_copy = row.state.is_final() && row.keeps_copy;
    if row.state.is_final() {
        row.next_at = 0;
        row.due = None;
        row.keeps_copy = false;
    }
    row.keeps_copy |= new_copy.is_some();
    store.put_row(&row)?;
    if let Some(m) = new_copy {
        store.set_copy(&row.key, Some(&m))?;
    } else if drop_copy {
        store.set_copy(&row.key, None)?;
    }
    Ok(())
}

/// Applies what a Worker instance left in its [`Mailbox`] (outcomes,
/// confirmations and releases of direct calls, counts); returns the
/// earliest due time it set.
///
/// # Errors
/// The storage's.
pub fn apply_mailbox<S: DeliveryStore>(store: &mut S, m: Mailbox, now: i64) -> Result<Option<i64>, S::Error> {
    let mut alarm = None;
    for s in m.settled {
        settle(store, s, now, &mut alarm)?;
    }
    for id in &m.confirmed {
        store.confirm(id)?;
    }
    for id in &m.released {
        // Its direct call failed: the sender's retry is new, not a duplicate.
        store.forget(id)?;
        store.bump(Counter::Accepted, -1)?;
    }
    for (counter, n) in [
        (Counter::Accepted, m.counts.accepted),
        (Counter::Delivered, m.counts.delivered),
        (Counter::Dropped, m.counts.dropped),
    ] {
        if n != 0 {
            store.bump(counter, n)?;
        }
    }
    Ok(alarm)
}

/// Direct mode's one call before the flow call: the mailbox first, then the
/// webhook judged ([`admit`]) and counted.
///
/// # Errors
/// The storage's: nothing is decided (the sender is answered 503).
pub fn admit_direct<S: DeliveryStore>(store: &mut S, req: AdmitRequest, now: i64) -> Result<Admission, S::Error> {
    apply_mailbox(store, req.mailbox, now)?;
    let admission = admit(store, &req.id, &req.fingerprint, &req.policy, now)?;
    match admission {
        Admission::New { .. } => store.bump(Counter::Accepted, 1)?,
        Admission::Duplicate => store.bump(Counter::Duplicates, 1)?,
        Admission::Replay => store.bump(Counter::Replays, 1)?,
        Admission::InProgress => {}
    }
    Ok(admission)
}

/// A dead letter sent again: a new copy (kept until it is attempted, so a
/// lost message is recovered too), a fresh attempt count. Returns the copy
/// number the message must carry.
///
/// # Errors
/// The storage's.
pub fn redrive<S: DeliveryStore>(store: &mut S, req: RedriveRequest, now: i64) -> Result<u32, S::Error> {
    let mut row = store.row(&req.key)?.unwrap_or_else(|| DeliveryRow::new(req.key.clone(), now));
    row.state = DeliveryState::Queued;
    row.copy = row.copy.saturating_add(1);
    row.attempts = 0;
    row.updated = now;
    row.lease_until = 0;
    row.next_at = 0;
    row.due = Some(req.due);
    row.keeps_copy = true;
    store.put_row(&row)?;
    store.set_copy(&row.key, Some(&req.message))?;
    store.bump(Counter::Redriven, 1)?;
    Ok(row.copy)
}

/// The overdue deliveries (at most `limit`), each with a new copy number
/// and due again `lost_after_secs(message)` from now: the messages to send
/// again. A copy that does not parse is dropped (it cannot be sent).
///
/// # Errors
/// The storage's.
pub fn recover<S: DeliveryStore>(
    store: &mut S,
    now: i64,
    limit: usize,
    lost_after_secs: impl Fn(&QueuedDelivery) -> u64,
) -> Result<Vec<QueuedDelivery>, S::Error> {
    let mut out = Vec::new();
    for (mut row, text) in store.overdue(now, limit)? {
        match serde_json::from_str::<QueuedDelivery>(&text) {
            Ok(mut message) => {
                row.copy = row.copy.saturating_add(1);
                message.copy = row.copy;
                row.due = Some(now.saturating_add(secs(lost_after_secs(&message))));
                out.push(message);
            }
            Err(_) => {
                store.set_copy(&row.key, None)?;
                row.keeps_copy = false;
                row.due = None;
            }
        }
        store.put_row(&row)?;
    }
    Ok(out)
}

/// A recovered message could not be sent: try again in a minute (not on
/// every alarm).
///
/// # Errors
/// The storage's.
pub fn recovery_failed<S: DeliveryStore>(store: &mut S, key: &DeliveryKey, now: i64) -> Result<(), S::Error> {
    if let Some(mut row) = store.row(key)? {
        row.due = Some(now + 60);
        store.put_row(&row)?;
    }
    Ok(())
}

/// The route's counters and how many deliveries are in each state, after
/// the caller's mailbox.
///
/// # Errors
/// The storage's.
pub fn route_status<S: DeliveryStore>(store: &mut S, req: StatusRequest, now: i64) -> Result<RouteStatus, S::Error> {
    apply_mailbox(store, req.mailbox, now)?;
    let mut s = RouteStatus::default();
    for (counter, n) in store.counters()? {
        *s.counter_mut(counter) = n;
    }
    for (state, n) in store.states()? {
        match state {
            DeliveryState::Queued => s.queued = n,
            DeliveryState::Retrying => s.retrying = n,
            DeliveryState::Dead => s.dead_letters_waiting = n,
            DeliveryState::Delivered => {}
        }
    }
    Ok(s)
}
