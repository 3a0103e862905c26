//! The route ledger: one Durable Object per route (SQLite storage, the
//! Worker's `src/ledger.rs`) that remembers what a route has seen and where
//! each of its queued deliveries stands. This module holds every rule it
//! applies; the Durable Object only stores rows (SQL behind the ports
//! [`SeenStore`], [`DeliveryStore`], [`HandshakeStore`]) and carries the
//! requests and answers of [`protocol`] — the same types on both sides. The
//! unit tests run the same rules over [`MemoryLedger`].
//!
//! # Duplicates and replays
//! A webhook is judged by its [`Fingerprint`]: the sender's delivery id (an
//! unsigned label for most senders), the digest of its body, and the
//! [`Proof`](crate::verify::Proof) of its signature — what the signature
//! vouches for, the same for every copy of one signed request whatever its
//! unsigned headers say. Queue mode judges it when the consumer first sees
//! one of its messages ([`judge_batch`]); direct mode before the flow call
//! ([`admit_direct`]).
//!
//! - **Replay guard.** A proof already seen within the window under another
//!   delivery id, or with another body (Mailgun signs a token, not the
//!   body), is a replay: refused, never forwarded, and never recorded — so a
//!   captured request re-sent with a fresh `X-GitHub-Delivery`, or with a
//!   swapped `X-GitHub-Event` to reach another flow, or planted in advance
//!   under an id the sender will use later, gets nowhere.
//! - **Duplicates.** A delivery id counts as seen only together with its
//!   body: the same id with the same body is the sender re-sending (a
//!   duplicate, not forwarded again); the same id with another body is
//!   suspicious (logged) and forwarded, so a real delivery is never lost to a
//!   planted id.
//! - **In progress.** In direct mode an entry is pending until the flow took
//!   the run; a copy arriving meanwhile is told to retry.
//! - **Fan-out.** The messages of one webhook (one per flow) share its
//!   flowgate id; an entry that id put there is its own, not a duplicate.
//!
//! # Deliveries
//! Each queued delivery (one webhook, one flow) is a [`DeliveryRow`] in a
//! [`DeliveryState`]; the transitions of the `delivery` module ([`judge_batch`],
//! [`settle`], [`redrive`], [`recover`]) are the only way it changes. The
//! unit tests (`tests.rs`) cover each of them over [`MemoryLedger`].

use serde::{Deserialize, Serialize};

mod delivery;
mod handshake;
mod memory;
pub mod protocol;
#[cfg(test)]
mod tests;

pub use delivery::*;
pub use handshake::*;
pub use memory::MemoryLedger;
pub use protocol::*;

/// How a webhook is recognised: its delivery id, its body, its signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// The sender's delivery id, when it sends one (and the route de-duplicates).
    pub delivery_id: Option<String>,
    /// SHA-256 of the body, hex ([`crate::verify::Verified::body_digest`]).
    pub body: String,
    /// What the signature vouches for, hex; `None` for schemes whose
    /// credential is the same on every request (token, Basic, passcode).
    pub proof: Option<String>,
}

/// What a route asks of the ledger when it accepts a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdmitPolicy {
    /// Remember delivery ids this long (seconds); `None`: no duplicate
    /// suppression by id (`dedupe = false`).
    pub dedupe_window_secs: Option<u64>,
    /// Remember proofs this long (seconds); `None`: no replay guard
    /// (`replay_guard = false`).
    pub replay_window_secs: Option<u64>,
    /// Direct mode: entries stay pending this long (until the flow took the
    /// run); a copy arriving meanwhile is [`Admission::InProgress`].
    pub pending_secs: Option<u64>,
}

/// What the ledger made of an accepted webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Admission {
    /// New: forward it.
    New {
        /// Its delivery id was seen before with another body: forwarded
        /// (the real delivery is not lost), but worth a log line — a replay
        /// may have been planted under that id.
        id_reused: bool,
    },
    /// The sender re-sent a delivery already accepted: not forwarded again.
    Duplicate,
    /// The first copy is still being forwarded (direct mode): retry later.
    InProgress,
    /// The signature was seen before on another delivery id or body: a
    /// replay of a captured request. Refused, nothing recorded.
    Replay,
}

impl AdmitPolicy {
    /// The policy of `route` (direct mode: entries pending `pending_secs`).
    pub fn of(route: &crate::config::Route, pending_secs: Option<u64>) -> Self {
        Self {
            dedupe_window_secs: route.dedupe_window_secs,
            replay_window_secs: route.replay_window_secs,
            pending_secs,
        }
    }

    /// Whether the ledger must see `fp` before it is forwarded: there is a
    /// delivery id to remember or a proof to check.
    pub fn needs_ledger(&self, fp: &Fingerprint) -> bool {
        (self.dedupe_window_secs.is_some() && fp.delivery_id.is_some())
            || (self.replay_window_secs.is_some() && fp.proof.is_some())
    }
}

/// One remembered request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenEntry {
    /// flowgate's id of the webhook that put it there.
    pub flowgate_id: String,
    /// Its delivery id.
    pub delivery_id: Option<String>,
    /// Its body digest.
    pub body: String,
    /// Unix seconds until which it is pending (0: not pending).
    pub pending_until: i64,
    /// Unix seconds after which it is forgotten.
    pub expires: i64,
}

/// What the ledger remembers of accepted webhooks. `Error` is the storage's
/// own (SQL in the Durable Object); the rules never fail by themselves.
pub trait SeenStore {
    /// The storage's error.
    type Error;
    /// The entry of a proof, if remembered and not expired at `now`.
    fn by_proof(&mut self, proof: &str, now: i64) -> Result<Option<SeenEntry>, Self::Error>;
    /// The entry of a delivery id with this body, if remembered and not expired.
    fn by_delivery(&mut self, delivery_id: &str, body: &str, now: i64) -> Result<Option<SeenEntry>, Self::Error>;
    /// Whether the delivery id is remembered (not expired) with another body.
    fn delivery_with_other_body(&mut self, delivery_id: &str, body: &str, now: i64) -> Result<bool, Self::Error>;
    /// Remembers a proof (replacing an expired or stale entry).
    fn put_proof(&mut self, proof: &str, entry: SeenEntry) -> Result<(), Self::Error>;
    /// Remembers a delivery id with its body.
    fn put_delivery(&mut self, entry: SeenEntry) -> Result<(), Self::Error>;
    /// Forgets everything `flowgate_id` put there (its direct call failed:
    /// the sender's retry must not be refused).
    fn forget(&mut self, flowgate_id: &str) -> Result<(), Self::Error>;
    /// `flowgate_id`'s entries are no longer pending (its flow took the run).
    fn confirm(&mut self, flowgate_id: &str) -> Result<(), Self::Error>;
}

/// Judges an accepted webhook and, when it is new, remembers it.
///
/// # Errors
/// The storage's: nothing is decided (direct mode answers 503 and the sender
/// retries; the queue consumer retries the message).
pub fn admit<S: SeenStore>(
    store: &mut S,
    flowgate_id: &str,
    fp: &Fingerprint,
    policy: &AdmitPolicy,
    now: i64,
) -> Result<Admission, S::Error> {
    let delivery_id = policy.dedupe_window_secs.and(fp.delivery_id.as_deref());
    let pending_until = policy.pending_secs.map_or(0, |p| now.saturating_add(secs(p)));

    // (1) The replay guard: the same signed statement under another id or body.
    if let (Some(proof), Some(_)) = (fp.proof.as_deref(), policy.replay_window_secs) {
        if let Some(seen) = store.by_proof(proof, now)? {
            if seen.flowgate_id == flowgate_id {
                // Put there by this very webhook: another of its messages
                // (fan-out, one per flow).
                return Ok(Admission::New { id_reused: false });
            }
            if seen.delivery_id.as_deref() != fp.delivery_id.as_deref() || seen.body != fp.body {
                return Ok(Admission::Replay);
            }
            // The very same request again: the sender re-sending it. With
            // `dedupe = false` copies go through; otherwise it is judged as
            // a duplicate (an abandoned pending entry is taken over).
            if policy.dedupe_window_secs.is_some() {
                if let Some(answer) = judge_pending(&seen, now) {
                    return Ok(answer);
                }
            }
        }
    }

    // (2) Duplicate suppression by delivery id, together with the body (a
    // retry the sender signed again — a new timestamp — has another proof).
    let mut id_reused = false;
    if let Some(id) = delivery_id {
        match store.by_delivery(id, &fp.body, now)? {
            Some(seen) if seen.flowgate_id == flowgate_id => return Ok(Admission::New { id_reused: false }),
            Some(seen) => {
                if let Some(answer) = judge_pending(&seen, now) {
                    return Ok(answer);
                }
            }
            None => id_reused = store.delivery_with_other_body(id, &fp.body, now)?,
        }
    }

    // (3) New: remember it.
    let entry = |window: u64| SeenEntry {
        flowgate_id: flowgate_id.to_owned(),
        delivery_id: fp.delivery_id.clone(),
        body: fp.body.clone(),
        pending_until,
        expires: now.saturating_add(secs(window)),
    };
    if let (Some(proof), Some(window)) = (fp.proof.as_deref(), policy.replay_window_secs) {
        store.put_proof(proof, entry(window))?;
    }
    if let (Some(_), Some(window)) = (delivery_id, policy.dedupe_window_secs) {
        store.put_delivery(entry(window))?;
    }
    Ok(Admission::New { id_reused })
}

/// An entry seen again: still pending (in progress), pending but abandoned
/// (`None`: the new copy takes over), or done (a duplicate).
fn judge_pending(seen: &SeenEntry, now: i64) -> Option<Admission> {
    if seen.pending_until > now {
        Some(Admission::InProgress)
    } else if seen.pending_until > 0 {
        None
    } else {
        Some(Admission::Duplicate)
    }
}

pub(crate) fn secs(s: u64) -> i64 {
    i64::try_from(s).unwrap_or(i64::MAX / 2)
}
