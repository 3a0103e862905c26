//! Pacing to a flow: its rate (`max_rate`), its concurrency
//! (`max_concurrency`) and a circuit breaker that pauses the flow when it
//! answers 429 or 503, for every delivery to it, not only the one that got
//! the answer.
//!
//! Power Automate's own limits (entra-power-automate.md §4): 4,500 trigger
//! invocations per 5 minutes on the Low performance profile, 45,000 on the
//! others; about 1,000 concurrent inbound calls; a flow throttled
//! consistently for 14 days is turned off. Whether its trigger answers 429
//! with `Retry-After` over those limits is not confirmed (§ open questions,
//! 3): the breaker honours one when it comes, and backs off when it does not.
//!
//! One [`Pacer`] per flow lives in a Durable Object keyed by the flow's name,
//! so its state holds across isolates: the queue consumer asks it once per
//! flow per batch ([`PaceRequest`] → [`PaceAnswer`]) and tells it how the
//! attempts went ([`Report`]). Cloudflare's rate-limiting binding was not
//! used: its counters are per location and approximate
//! (workers-platform.md), and a flow has one limit worldwide.
//!
//! The rate is a sliding window: in any `per` seconds, at most `count`
//! attempts start. A delivery over the rate is given the start time of the
//! next free slot, which is reserved for it ([`Grant::Later`]); the consumer
//! puts it back in the queue until then (`delaySeconds`), never drops it, and
//! when it comes back its reserved slot is its own.

use std::collections::VecDeque;
use std::fmt;

use serde::{Deserialize, Serialize};

/// `count` attempts in any `per_secs` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rate {
    /// Attempts allowed in a window.
    pub count: u32,
    /// The window, seconds.
    pub per_secs: u32,
}

/// The longest window a rate may name (a day).
const MAX_WINDOW_SECS: u64 = 86_400;
/// The most attempts a window may allow (the pacer keeps one entry each).
pub const MAX_RATE_COUNT: u32 = 100_000;

impl Rate {
    /// Parses `"<count>/<window>"`: `"4500/5m"`, `"10/s"`, `"50/10s"`,
    /// `"1000/1h"`. The window is a number (1 when left out) and a unit:
    /// `s`, `m`, `h` or `d`.
    ///
    /// # Errors
    /// What is wrong, for `flowgate check` and the Worker's configuration error.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || {
            format!("{text:?} is not a rate: write it as \"<count>/<window>\", e.g. \"4500/5m\", \"10/s\" or \"50/10s\" (units s, m, h, d)")
        };
        let (count, window) = text.trim().split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        let window = window.trim();
        let unit_at = window.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let (n, unit) = window.split_at(unit_at);
        let n: u64 = if n.is_empty() { 1 } else { n.parse().map_err(|_| bad())? };
        let unit_secs = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return Err(bad()),
        };
        let per_secs = n
            .checked_mul(unit_secs)
            .filter(|s| (1..=MAX_WINDOW_SECS).contains(s))
            .ok_or_else(|| format!("{text:?}: the window must be between 1 second and 1 day"))?;
        if count == 0 || count > MAX_RATE_COUNT {
            return Err(format!("{text:?}: the count must be between 1 and {MAX_RATE_COUNT}"));
        }
        Ok(Self { count, per_secs: u32::try_from(per_secs).unwrap_or(u32::MAX) })
    }

    /// Attempts per second at this rate, on average.
    pub fn per_second(self) -> f64 {
        f64::from(self.count) / f64::from(self.per_secs)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}s", self.count, self.per_secs)
    }
}

/// A flow's limits, from its configuration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// `max_rate`.
    pub rate: Option<Rate>,
    /// `max_concurrency`: attempts under way at once.
    pub max_concurrency: Option<u32>,
}

/// The breaker's first pause when a 429/503 names no `Retry-After`, seconds;
/// it doubles with each throttled answer in a row, up to [`MAX_PAUSE_SECS`].
pub const FIRST_PAUSE_SECS: u64 = 5;
/// The longest pause, seconds.
pub const MAX_PAUSE_SECS: u64 = 600;
/// Added to every window, ms: a call granted at the window's edge must not
/// reach the flow inside the previous window because one granted before it
/// took longer on the way — a token fetch, a stored body, the network
/// (Power Automate counts calls as they arrive). Measured locally: calls
/// granted together reached the emulator up to about 700 ms apart.
pub const GUARD_MS: i64 = 1_000;
/// How long a delivery waits when only the concurrency limit or a probe in
/// flight holds it, seconds.
pub const BUSY_WAIT_SECS: u32 = 2;

/// One delivery asking to be attempted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asking {
    /// flowgate's id of the delivery (one flow per pacer): a reserved slot
    /// is found again by it.
    pub id: String,
}

/// The consumer's question for one flow's deliveries in a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaceRequest {
    /// The flow's limits as configured now.
    pub limits: Limits,
    /// The deliveries, in the batch's order.
    pub asking: Vec<Asking>,
    /// How long a granted attempt may take before its concurrency slot is
    /// taken back (the consumer's lease), seconds.
    pub lease_secs: u32,
}

/// What one delivery may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grant {
    /// Attempt it now; report how it went under `lease`.
    Now {
        /// Names the attempt in the [`Report`].
        lease: u64,
    },
    /// Put it back in the queue for `wait_secs`.
    Later {
        /// Seconds until it may ask again.
        wait_secs: u32,
        /// Why it waits.
        why: Hold,
    },
}

/// Why a delivery waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Hold {
    /// Over `max_rate`: its slot is reserved.
    Rate,
    /// `max_concurrency` attempts are under way.
    Concurrency,
    /// The flow answered 429/503: paused.
    Paused,
    /// After a pause, one attempt probes the flow; the others wait for it.
    Probing,
}

impl Hold {
    /// For the log and the console.
    pub fn describe(self) -> &'static str {
        match self {
            Hold::Rate => "over the flow's max_rate",
            Hold::Concurrency => "the flow's max_concurrency attempts are under way",
            Hold::Paused => "the flow is paused: it answered 429 or 503",
            Hold::Probing => "the flow is being probed after a pause",
        }
    }
}

impl PaceRequest {
    /// The Durable Object operation (`POST https://pacer/<OP>`).
    pub const OP: &'static str = "ask";
}

impl Report {
    /// The Durable Object operation.
    pub const OP: &'static str = "report";
}

/// The pacer's answer, one grant per delivery asked about, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaceAnswer {
    /// One per [`PaceRequest::asking`].
    pub grants: Vec<Grant>,
}

/// How a granted attempt went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reported {
    /// The flow answered (anything but 429/503), or the attempt failed
    /// another way: the slot is free; a probe closes the breaker.
    Done,
    /// The flow answered 429 or 503: pause it.
    Throttled {
        /// The flow's `Retry-After`, seconds.
        retry_after: Option<u64>,
    },
    /// The slot was granted but no call was made (the delivery turned out
    /// to be a duplicate, already delivered, …): its rate slot is given back.
    Unused,
}

/// The consumer's report on one flow's attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// (lease, how it went).
    pub attempts: Vec<(u64, Reported)>,
}

/// The pacer's answer to a [`Report`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportAnswer {
    /// The pause this report started, if it started one.
    #[serde(default)]
    pub pause_started: Option<PauseState>,
}

/// The flow's pause, as the admin API shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PauseState {
    /// Until when (Unix ms) no attempt starts; 0 when not paused.
    pub paused_until_ms: i64,
    /// Throttled answers in a row.
    pub strikes: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Slot {
    at_ms: i64,
    holder: Holder,
}

/// Whose a slot is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Holder {
    /// Reserved for a waiting delivery (by its id).
    Reserved(String),
    /// Taken by an attempt (its lease).
    Taken(u64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Lease {
    lease: u64,
    until_ms: i64,
    probe: bool,
}

/// One flow's pacing state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pacer {
    /// Attempt start times, ascending, past ones within the window and
    /// reserved future ones.
    slots: VecDeque<Slot>,
    leases: Vec<Lease>,
    next_lease: u64,
    pause: Option<PauseState>,
}

impl Pacer {
    /// The breaker's state, for the admin API (and the Durable Object's
    /// storage: a pause outlives the object's memory).
    pub fn pause(&self) -> PauseState {
        self.pause.unwrap_or(PauseState { paused_until_ms: 0, strikes: 0 })
    }

    /// Restores a stored pause.
    pub fn with_pause(mut self, pause: PauseState) -> Self {
        self.pause = (pause.strikes > 0).then_some(pause);
        self
    }

    /// Answers the consumer's question at `now_ms`.
    pub fn ask(&mut self, req: &PaceRequest, now_ms: i64) -> PaceAnswer {
        self.leases.retain(|l| l.until_ms > now_ms);
        let window_ms = req.limits.rate.map(window_of);
        if let Some(w) = window_ms {
            while self.slots.front().is_some_and(|s| s.at_ms <= now_ms - w) {
                self.slots.pop_front();
            }
        } else {
            self.slots.clear();
        }
        let lease_ms = i64::from(req.lease_secs.max(1)) * 1000;
        let grants = req.asking.iter().map(|a| self.grant(&req.limits, &a.id, now_ms, lease_ms)).collect();
        PaceAnswer { grants }
    }

    fn grant(&mut self, limits: &Limits, id: &str, now_ms: i64, lease_ms: i64) -> Grant {
        // The breaker first: paused, or one probe at a time after a pause.
        let mut probe = false;
        if let Some(p) = self.pause {
            if now_ms < p.paused_until_ms {
                return later(p.paused_until_ms - now_ms, Hold::Paused);
            }
            if self.leases.iter().any(|l| l.probe) {
                return later(i64::from(BUSY_WAIT_SECS) * 1000, Hold::Probing);
            }
            probe = true;
        }
        if limits.max_concurrency.is_some_and(|max| self.leases.len() >= max as usize) {
            return later(i64::from(BUSY_WAIT_SECS) * 1000, Hold::Concurrency);
        }
        if let Some(rate) = limits.rate {
            let window_ms = window_of(rate);
            let reserved = |s: &Slot| matches!(&s.holder, Holder::Reserved(r) if r == id);
            let i = match self.slots.iter().position(reserved) {
                // Its reserved slot (it came back when told to, or early).
                Some(i) => i,
                None => {
                    let at = self.next_free(rate, now_ms, window_ms);
                    self.slots.push_back(Slot { at_ms: at, holder: Holder::Reserved(id.to_owned()) });
                    self.slots.len() - 1
                }
            };
            if self.slots[i].at_ms > now_ms {
                return later(self.slots[i].at_ms - now_ms, Hold::Rate);
            }
            self.slots[i].holder = Holder::Taken(self.next_lease + 1);
        }
        self.next_lease += 1;
        self.leases.push(Lease { lease: self.next_lease, until_ms: now_ms + lease_ms, probe });
        Grant::Now { lease: self.next_lease }
    }

    /// The earliest start at or after `now_ms` (and after every slot already
    /// given out, so that the slots stay in order) with fewer than `count`
    /// starts in the window before it.
    fn next_free(&self, rate: Rate, now_ms: i64, window_ms: i64) -> i64 {
        let n = self.slots.len();
        let last = self.slots.back().map_or(now_ms, |s| s.at_ms);
        let mut at = now_ms.max(last);
        if n >= rate.count as usize {
            at = at.max(self.slots[n - rate.count as usize].at_ms + window_ms);
        }
        at
    }

    /// Records how granted attempts went, at `now_ms`. Returns the pause
    /// when this report started one (the flow was not paused at `now_ms`):
    /// the moment a `flow_paused` alert is due, once per pause.
    pub fn report(&mut self, report: &Report, now_ms: i64) -> Option<PauseState> {
        let paused_before = self.pause.is_some_and(|p| p.paused_until_ms > now_ms);
        for (lease, how) in &report.attempts {
            let Some(i) = self.leases.iter().position(|l| l.lease == *lease) else { continue };
            let held = self.leases.swap_remove(i);
            match how {
                Reported::Done => {
                    if held.probe {
                        self.pause = None;
                    }
                }
                Reported::Unused => {
                    if let Some(j) = self.slots.iter().position(|s| s.holder == Holder::Taken(*lease)) {
                        self.slots.remove(j);
                    }
                }
                Reported::Throttled { retry_after } => {
                    let strikes = self.pause.map_or(0, |p| p.strikes) + 1;
                    let backoff = FIRST_PAUSE_SECS.saturating_mul(1 << (strikes - 1).min(16)).min(MAX_PAUSE_SECS);
                    let secs = retry_after.map_or(backoff, |r| r.clamp(1, MAX_PAUSE_SECS));
                    let until = now_ms + i64::try_from(secs * 1000).unwrap_or(i64::MAX / 2);
                    let paused_until_ms = self.pause.map_or(until, |p| p.paused_until_ms.max(until));
                    self.pause = Some(PauseState { paused_until_ms, strikes });
                }
            }
        }
        self.pause.filter(|p| !paused_before && p.paused_until_ms > now_ms)
    }
}

/// A rate's window with its guard, ms.
fn window_of(rate: Rate) -> i64 {
    i64::from(rate.per_secs) * 1000 + GUARD_MS
}

fn later(wait_ms: i64, why: Hold) -> Grant {
    // Whole seconds (Queues' delaySeconds), rounded up, at least one.
    let wait_secs = u32::try_from((wait_ms.max(1) + 999) / 1000).unwrap_or(u32::MAX);
    Grant::Later { wait_secs, why }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asking(ids: &[&str]) -> Vec<Asking> {
        ids.iter().map(|id| Asking { id: (*id).to_owned() }).collect()
    }

    fn req(limits: Limits, ids: &[&str]) -> PaceRequest {
        PaceRequest { limits, asking: asking(ids), lease_secs: 60 }
    }

    fn rate(text: &str) -> Limits {
        Limits { rate: Some(Rate::parse(text).unwrap()), max_concurrency: None }
    }

    fn leases(a: &PaceAnswer) -> Vec<u64> {
        a.grants.iter().filter_map(|g| if let Grant::Now { lease } = g { Some(*lease) } else { None }).collect()
    }

    /// The start reserved for a waiting delivery.
    fn slot_of(p: &Pacer, id: &str) -> i64 {
        p.slots.iter().find(|s| s.holder == Holder::Reserved(id.to_owned())).unwrap().at_ms
    }

    fn done(p: &mut Pacer, a: &PaceAnswer, now: i64) {
        let attempts = leases(a).into_iter().map(|l| (l, Reported::Done)).collect();
        p.report(&Report { attempts }, now);
    }

    #[test]
    fn rates_parse_in_the_forms_the_readme_shows() {
        assert_eq!(Rate::parse("4500/5m").unwrap(), Rate { count: 4500, per_secs: 300 });
        assert_eq!(Rate::parse("10/s").unwrap(), Rate { count: 10, per_secs: 1 });
        assert_eq!(Rate::parse("50/10s").unwrap(), Rate { count: 50, per_secs: 10 });
        assert_eq!(Rate::parse(" 1000 / 1h ").unwrap(), Rate { count: 1000, per_secs: 3600 });
        assert_eq!(Rate::parse("45000/5m").unwrap().to_string(), "45000/300s");
        for bad in ["", "10", "10/", "/s", "0/s", "10/0s", "10/2d", "10/5x", "-1/s", "ten/s", "200000/s", "10/s/s"] {
            let e = Rate::parse(bad).unwrap_err();
            assert!(e.contains(&format!("{bad:?}")), "{bad}: {e}");
        }
    }

    /// No window of `per` seconds ever holds more than `count` starts, and
    /// every delivery gets a slot: over the rate it is told when, once.
    #[test]
    fn a_burst_is_spread_so_that_no_window_holds_more_than_the_rate() {
        let limits = rate("5/10s");
        let mut p = Pacer::default();
        let ids: Vec<String> = (0..23).map(|i| format!("d{i}")).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let first = p.ask(&req(limits, &refs), 0);
        assert_eq!(leases(&first).len(), 5, "the first window's worth goes now");
        done(&mut p, &first, 100);
        // Each waiting delivery comes back exactly when told and starts then.
        let mut starts: Vec<i64> = vec![0; 5];
        for (id, g) in ids.iter().zip(&first.grants).skip(5) {
            let Grant::Later { why: Hold::Rate, .. } = g else { panic!("{g:?}") };
            let Grant::Later { .. } = p.ask(&req(limits, &[id]), 0).grants[0] else { panic!("{id} asked early") };
            let at = slot_of(&p, id);
            let again = p.ask(&req(limits, &[id]), at);
            assert!(matches!(again.grants[0], Grant::Now { .. }), "{id} at {at}: {again:?}");
            done(&mut p, &again, at);
            starts.push(at);
        }
        starts.sort_unstable();
        for (i, s) in starts.iter().enumerate() {
            let in_window = starts[i..].iter().take_while(|t| **t < s + 10_000 + GUARD_MS).count();
            assert!(in_window <= 5, "{in_window} starts in the 10 s (and guard) from {s}");
        }
        assert_eq!(*starts.last().unwrap(), 44_000, "23 deliveries at 5/10s: the last starts at 4 × 11 s");
    }

    #[test]
    fn a_delivery_that_comes_back_early_keeps_its_slot_and_waits_again() {
        let limits = rate("1/10s");
        let mut p = Pacer::default();
        assert!(matches!(p.ask(&req(limits, &["a", "b"]), 0).grants[1], Grant::Later { wait_secs: 11, .. }));
        let early = p.ask(&req(limits, &["b"]), 4_000);
        assert_eq!(early.grants[0], Grant::Later { wait_secs: 7, why: Hold::Rate });
        // Someone new queues behind b, not in front of it.
        assert_eq!(p.ask(&req(limits, &["c"]), 4_000).grants[0], Grant::Later { wait_secs: 18, why: Hold::Rate });
    }

    #[test]
    fn a_retry_after_a_failed_attempt_takes_a_new_slot() {
        let limits = rate("1/10s");
        let mut p = Pacer::default();
        let a = p.ask(&req(limits, &["a"]), 0);
        done(&mut p, &a, 100);
        assert_eq!(p.ask(&req(limits, &["a"]), 1_000).grants[0], Grant::Later { wait_secs: 10, why: Hold::Rate });
    }

    #[test]
    fn an_unused_grant_gives_its_slot_back() {
        let limits = rate("2/10s");
        let mut p = Pacer::default();
        let a = p.ask(&req(limits, &["a", "b"]), 0);
        let l = leases(&a);
        p.report(&Report { attempts: vec![(l[0], Reported::Unused), (l[1], Reported::Done)] }, 10);
        assert!(matches!(p.ask(&req(limits, &["c"]), 20).grants[0], Grant::Now { .. }), "a's slot went to c");
        assert!(matches!(p.ask(&req(limits, &["d"]), 30).grants[0], Grant::Later { why: Hold::Rate, .. }));
    }

    #[test]
    fn concurrency_counts_attempts_under_way_and_expired_leases_free_their_slot() {
        let limits = Limits { rate: None, max_concurrency: Some(2) };
        let mut p = Pacer::default();
        let a = p.ask(&req(limits, &["a", "b", "c"]), 0);
        assert_eq!(leases(&a).len(), 2);
        assert_eq!(a.grants[2], Grant::Later { wait_secs: BUSY_WAIT_SECS, why: Hold::Concurrency });
        p.report(&Report { attempts: vec![(leases(&a)[0], Reported::Done)] }, 1_000);
        assert!(matches!(p.ask(&req(limits, &["c"]), 1_000).grants[0], Grant::Now { .. }));
        assert!(matches!(p.ask(&req(limits, &["d"]), 1_000).grants[0], Grant::Later { .. }));
        // The consumer that held b and c's leases died: after their lease they are free.
        assert!(matches!(p.ask(&req(limits, &["d"]), 61_001).grants[0], Grant::Now { .. }));
    }

    #[test]
    fn a_429_pauses_every_delivery_for_its_retry_after_then_one_probe_goes_first() {
        let limits = Limits::default();
        let mut p = Pacer::default();
        let a = p.ask(&req(limits, &["a", "b"]), 0);
        let l = leases(&a);
        p.report(&Report { attempts: vec![(l[0], Reported::Throttled { retry_after: Some(5) })] }, 1_000);
        assert_eq!(p.pause(), PauseState { paused_until_ms: 6_000, strikes: 1 });
        // b's attempt was already under way; its success does not close the breaker.
        p.report(&Report { attempts: vec![(l[1], Reported::Done)] }, 1_500);
        for now in [1_000, 3_000, 5_999] {
            let g = p.ask(&req(limits, &["c", "d"]), now);
            assert!(g.grants.iter().all(|g| matches!(g, Grant::Later { why: Hold::Paused, .. })), "{now}: {g:?}");
        }
        assert_eq!(p.ask(&req(limits, &["c"]), 3_000).grants[0], Grant::Later { wait_secs: 3, why: Hold::Paused });
        // Half open: one probe, the rest wait for it.
        let g = p.ask(&req(limits, &["c", "d"]), 6_000);
        let probe = leases(&g);
        assert_eq!(probe.len(), 1);
        assert_eq!(g.grants[1], Grant::Later { wait_secs: BUSY_WAIT_SECS, why: Hold::Probing });
        p.report(&Report { attempts: vec![(probe[0], Reported::Done)] }, 6_500);
        assert_eq!(p.pause().strikes, 0, "closed");
        assert_eq!(leases(&p.ask(&req(limits, &["d", "e", "f"]), 6_600)).len(), 3);
    }

    #[test]
    fn a_report_says_when_it_started_a_pause_and_only_then() {
        let limits = Limits::default();
        let mut p = Pacer::default();
        let l = leases(&p.ask(&req(limits, &["a", "b", "c"]), 0));
        let throttled = |lease| Report { attempts: vec![(lease, Reported::Throttled { retry_after: Some(5) })] };
        assert_eq!(p.report(&throttled(l[0]), 1_000), Some(PauseState { paused_until_ms: 6_000, strikes: 1 }));
        // Another attempt of the same batch answered 429 too: the same pause, no second start.
        assert_eq!(p.report(&throttled(l[1]), 1_200), None);
        assert_eq!(p.report(&Report { attempts: vec![(l[2], Reported::Done)] }, 1_300), None);
        // After the pause ran out, the probe's 429 starts a new one.
        let probe = leases(&p.ask(&req(limits, &["d"]), 7_000));
        assert_eq!(p.report(&throttled(probe[0]), 7_100).map(|s| s.strikes), Some(3));
    }

    #[test]
    fn throttled_answers_in_a_row_without_retry_after_back_off_doubling_up_to_the_cap() {
        let limits = Limits::default();
        let mut p = Pacer::default();
        let mut now = 0;
        let mut pauses = Vec::new();
        for _ in 0..10 {
            let g = p.ask(&req(limits, &["x"]), now);
            let l = leases(&g);
            assert_eq!(l.len(), 1, "{now}: {g:?}");
            p.report(&Report { attempts: vec![(l[0], Reported::Throttled { retry_after: None })] }, now);
            let until = p.pause().paused_until_ms;
            pauses.push((until - now) / 1000);
            now = until;
        }
        assert_eq!(pauses, [5, 10, 20, 40, 80, 160, 320, 600, 600, 600]);
        // A Retry-After beyond the cap is capped; 0 is one second.
        let mut p = Pacer::default();
        let l = leases(&p.ask(&req(limits, &["x", "y"]), 0));
        p.report(&Report { attempts: vec![(l[0], Reported::Throttled { retry_after: Some(86_400) })] }, 0);
        assert_eq!(p.pause().paused_until_ms, 600_000);
    }

    #[test]
    fn a_stored_pause_is_restored_and_the_wire_forms_are_stable() {
        let p = Pacer::default().with_pause(PauseState { paused_until_ms: 9_000, strikes: 2 });
        let mut p2 = p.clone();
        assert!(matches!(
            p2.ask(&req(Limits::default(), &["a"]), 1_000).grants[0],
            Grant::Later { why: Hold::Paused, .. }
        ));
        assert_eq!(Pacer::default().with_pause(PauseState { paused_until_ms: 0, strikes: 0 }), Pacer::default());
        assert_eq!(
            serde_json::to_value(Grant::Later { wait_secs: 3, why: Hold::Rate }).unwrap(),
            serde_json::json!({"later": {"wait_secs": 3, "why": "rate"}})
        );
        assert_eq!(serde_json::to_value(Grant::Now { lease: 7 }).unwrap(), serde_json::json!({"now": {"lease": 7}}));
        assert_eq!(
            serde_json::to_value(Reported::Throttled { retry_after: Some(5) }).unwrap(),
            serde_json::json!({"throttled": {"retry_after": 5}})
        );
    }
}
