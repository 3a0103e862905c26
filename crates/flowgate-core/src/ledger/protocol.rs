//! What the Worker asks a route ledger and what it answers: one request type
//! per operation, each naming its answer ([`LedgerCall`]), serialised as
//! JSON to `POST https://ledger/<OP>`. The Worker's client and the Durable
//! Object both use these types, so the two sides cannot drift apart.
//!
//! | request | answer | who asks |
//! |---|---|---|
//! | [`AdmitRequest`] | [`Admission`] | direct mode, before the flow call (when there is an id or proof to judge) |
//! | [`BatchRequest`] | [`BatchAnswer`] | the queue consumer, once per route and batch, before the attempts |
//! | [`Mailbox`] | `()` | the queue consumer after the attempts; any Worker instance flushing what it kept |
//! | [`RedriveRequest`] | `u32` (the new copy) | the admin API |
//! | [`ForgetRequest`] | `()` | the admin API (a dead letter deleted) |
//! | [`StatusRequest`] | [`RouteStatus`] | the admin API |
//! | [`DeliveriesRequest`] | `Vec<`[`DeliveryRecord`]`>` | the admin API |
//! | [`HandshakeRequest`] | JSON (per request) | handed-over secrets, the admin API |
//!
//! Most requests carry a [`Mailbox`]: what the Worker instance has not told
//! the ledger yet (outcomes whose flush failed, direct mode's confirmations
//! and releases, counts). It rides on the route's next call from that
//! instance, which applies it before anything else, so a webhook costs its
//! one necessary call and nothing after it.

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use super::{Admission, AdmitPolicy, Counter, Fingerprint, HandshakeRequest};
use crate::{admin::DeliveryRecord, delivery::AttemptRecord};

/// One operation on a route ledger: its path and its answer.
pub trait LedgerCall: Serialize + DeserializeOwned {
    /// `POST https://ledger/<OP>`.
    const OP: &'static str;
    /// What the ledger answers.
    type Answer: Serialize + DeserializeOwned;
}

/// Which webhook, which flow: one delivery.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DeliveryKey {
    /// flowgate's id of the webhook (`x-flowgate-id`).
    pub id: String,
    /// The flow.
    pub flow: String,
}

/// Direct mode: judge a webhook before its flow call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdmitRequest {
    /// flowgate's id of the webhook.
    pub id: String,
    /// How it is recognised.
    pub fingerprint: Fingerprint,
    /// What the route remembers, and how long (direct mode: entries pending).
    pub policy: AdmitPolicy,
    /// What this Worker instance had not told the ledger yet.
    #[serde(default)]
    pub mailbox: Mailbox,
}

impl LedgerCall for AdmitRequest {
    const OP: &'static str = "admit";
    type Answer = Admission;
}

/// One message of a consumer's batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchItem {
    /// Its delivery.
    pub key: DeliveryKey,
    /// Its copy number ([`crate::delivery::QueuedDelivery::copy`]).
    pub copy: u32,
    /// How its webhook is recognised, judged on the delivery's first sight;
    /// `None` for a delivery being given up on (dead-lettered without an
    /// attempt: its route or flow is gone, or Queues gave up on it), where
    /// only whether it is done already matters.
    pub fingerprint: Option<Fingerprint>,
}

/// The queue consumer's one call per route and batch, before any attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchRequest {
    /// The batch's messages for this route.
    pub items: Vec<BatchItem>,
    /// The route's duplicate and replay windows (first sight).
    pub policy: AdmitPolicy,
    /// Until when an attempt holds its delivery (Unix seconds): as long as
    /// the longest attempt can take.
    pub lease_until: i64,
    /// When an attempt holding a delivery the ledger keeps a copy of is
    /// overdue, if it records nothing (Unix seconds).
    pub due: i64,
    /// What this Worker instance had not told the ledger yet.
    #[serde(default)]
    pub mailbox: Mailbox,
}

impl LedgerCall for BatchRequest {
    const OP: &'static str = "batch";
    type Answer = BatchAnswer;
}

/// One [`Verdict`] per [`BatchItem`], in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchAnswer {
    /// The verdicts.
    pub verdicts: Vec<Verdict>,
}

/// What the consumer does with one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Attempt it now: the lease is taken.
    Attempt {
        /// Its failed attempts so far (for a dead letter).
        history: Vec<AttemptRecord>,
        /// Whether the ledger keeps a copy of the message already (a
        /// retrying settlement need not carry one).
        keeps_copy: bool,
        /// First sight: its delivery id was seen before with another body
        /// (forwarded all the same; worth a log line).
        id_reused: bool,
    },
    /// Acknowledge it without an attempt.
    Skip(Skip),
    /// Another copy is being attempted, or its next attempt is not due yet:
    /// retry it later.
    Busy,
}

/// Why a message is acknowledged without an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Skip {
    /// Its delivery is done (a second copy of the message).
    Delivered,
    /// Its delivery is a dead letter (a second copy).
    Dead,
    /// A newer copy was sent (recovered or redriven).
    Stale,
    /// The sender re-sent a webhook accepted before.
    Duplicate,
    /// The signature was accepted before on another delivery id or body.
    Replay,
}

/// How one attempt ended, for the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settlement {
    /// Its delivery.
    pub key: DeliveryKey,
    /// The copy attempted.
    pub copy: u32,
    /// The attempt (Queues' count, 1-based).
    pub attempt: u32,
    /// What became of it.
    pub outcome: Outcome,
}

/// What became of an attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The flow took the run.
    Delivered,
    /// Failed; the message is back in the queue.
    Retrying {
        /// The flow's status, when it answered.
        status: Option<u16>,
        /// Why.
        reason: String,
        /// Not before this time (Unix seconds).
        next_at: i64,
        /// Presumed lost from the queue past this time (Unix seconds).
        due: i64,
        /// The message (JSON), when the ledger keeps no copy yet.
        message: Option<String>,
    },
    /// Given up: its dead letter is written.
    Dead {
        /// The flow's status, when it answered.
        status: Option<u16>,
        /// Why.
        reason: String,
    },
}

/// Counter increments a Worker instance made on its own (drops; direct
/// mode's deliveries).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Webhooks accepted without a ledger call (direct mode, nothing to judge).
    #[serde(default)]
    pub accepted: i64,
    /// Direct deliveries the flow took.
    #[serde(default)]
    pub delivered: i64,
    /// Webhooks no rule routed anywhere.
    #[serde(default)]
    pub dropped: i64,
}

/// What a Worker instance has not told a route's ledger yet. It rides on
/// the route's next call from that instance (or is flushed on its own after
/// a few seconds), and is applied before that call's own work.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mailbox {
    /// Outcomes of queued attempts.
    #[serde(default)]
    pub settled: Vec<Settlement>,
    /// Direct mode: webhooks whose flow took the run (their entries stop
    /// being pending: a copy is a duplicate from now on).
    #[serde(default)]
    pub confirmed: Vec<String>,
    /// Direct mode: webhooks whose flow call failed (forgotten, so the
    /// sender's retry is new).
    #[serde(default)]
    pub released: Vec<String>,
    /// Counter increments.
    #[serde(default)]
    pub counts: Counts,
}

impl Mailbox {
    /// Nothing to tell.
    pub fn is_empty(&self) -> bool {
        self.settled.is_empty()
            && self.confirmed.is_empty()
            && self.released.is_empty()
            && self.counts == Counts::default()
    }

    /// Adds `other` (a mailbox whose call failed) back in.
    pub fn merge(&mut self, other: Mailbox) {
        self.settled.extend(other.settled);
        self.confirmed.extend(other.confirmed);
        self.released.extend(other.released);
        self.counts.accepted += other.counts.accepted;
        self.counts.delivered += other.counts.delivered;
        self.counts.dropped += other.counts.dropped;
    }
}

impl LedgerCall for Mailbox {
    const OP: &'static str = "flush";
    type Answer = ();
}

/// The admin API redrives a dead letter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedriveRequest {
    /// Its delivery.
    pub key: DeliveryKey,
    /// The message (JSON), kept until attempted.
    pub message: String,
    /// When its attempt is overdue (Unix seconds).
    pub due: i64,
}

impl LedgerCall for RedriveRequest {
    const OP: &'static str = "redrive";
    type Answer = u32;
}

/// The admin API deleted a dead letter: the ledger forgets its delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForgetRequest {
    /// Its delivery.
    pub key: DeliveryKey,
}

impl LedgerCall for ForgetRequest {
    const OP: &'static str = "forget";
    type Answer = ();
}

/// `GET /status`: the route's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusRequest {
    /// What this Worker instance had not told the ledger yet.
    #[serde(default)]
    pub mailbox: Mailbox,
}

impl LedgerCall for StatusRequest {
    const OP: &'static str = "status";
    type Answer = RouteStatus;
}

/// A route's counters ([`Counter`]) and deliveries by state, as `GET /status`
/// shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteStatus {
    /// [`Counter::Accepted`].
    pub accepted: i64,
    /// [`Counter::Delivered`].
    pub delivered: i64,
    /// [`Counter::Duplicates`].
    pub duplicates: i64,
    /// [`Counter::Replays`].
    pub replays: i64,
    /// [`Counter::DeadLettered`].
    pub dead_lettered: i64,
    /// [`Counter::Redriven`].
    pub redriven: i64,
    /// [`Counter::Dropped`].
    pub dropped: i64,
    /// [`Counter::Recovered`].
    pub recovered: i64,
    /// Deliveries seen and not settled yet (first attempt under way), or redriven and waiting.
    pub queued: i64,
    /// Deliveries waiting in the queue for another attempt.
    pub retrying: i64,
    /// Dead letters not redriven or deleted.
    pub dead_letters_waiting: i64,
    /// Requests this route's ledger served since its instance started (a
    /// diagnostic: how many Durable Object calls the traffic cost).
    pub ledger_calls: u64,
    /// Per flow: its deliveries by state and its last failed attempt, from
    /// the deliveries the ledger keeps.
    #[serde(default)]
    pub flows: Vec<crate::admin::FlowStatus>,
}

impl RouteStatus {
    /// The field of `counter`.
    pub fn counter_mut(&mut self, counter: Counter) -> &mut i64 {
        match counter {
            Counter::Accepted => &mut self.accepted,
            Counter::Delivered => &mut self.delivered,
            Counter::Duplicates => &mut self.duplicates,
            Counter::Replays => &mut self.replays,
            Counter::DeadLettered => &mut self.dead_lettered,
            Counter::Redriven => &mut self.redriven,
            Counter::Dropped => &mut self.dropped,
            Counter::Recovered => &mut self.recovered,
        }
    }
}

/// `GET /admin/v1/deliveries`: the deliveries the ledger keeps, newest
/// first. Every filter narrows the answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveriesRequest {
    /// The route (echoed in each record).
    pub route: String,
    /// flowgate's id of the webhook, or the sender's delivery id.
    #[serde(default)]
    pub id: Option<String>,
    /// Only this flow's.
    #[serde(default)]
    pub flow: Option<String>,
    /// Only deliveries in this state (`queued`, `retrying`, `delivered`, `dead`).
    #[serde(default)]
    pub state: Option<String>,
    /// Only deliveries changed at or after this time (Unix seconds).
    #[serde(default)]
    pub since: Option<i64>,
    /// At most this many (1–500).
    pub limit: u32,
}

impl LedgerCall for DeliveriesRequest {
    const OP: &'static str = "deliveries";
    type Answer = Vec<DeliveryRecord>;
}

impl LedgerCall for HandshakeRequest {
    const OP: &'static str = "handshake";
    /// The answer named on each request.
    type Answer = serde_json::Value;
}
