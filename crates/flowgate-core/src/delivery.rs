//! Queued delivery: what a queue message carries, and what each attempt's
//! outcome means (deliver, retry after a delay, or dead-letter).
//!
//! The Worker enqueues one [`QueuedDelivery`] per accepted webhook and flow;
//! its queue consumer makes one attempt per message delivery and asks
//! [`decide`] what to do next. Everything here is pure, so the retry rules
//! are unit tested natively.
//!
//! The rules (issue "Nothing lost, nothing twice"; entra-power-automate.md §4
//! for what the trigger answers):
//! - 2xx: delivered.
//! - 429 and 503: retry after the flow's `Retry-After` when it gave one
//!   (Power Automate throttling), else the backoff.
//! - 401: the caller has already refreshed the token and tried once more; a
//!   401 to a token fresh from Entra is the flow's OAuth policy refusing the
//!   app (`MisMatchingOAuthClaims`): permanent.
//! - 400, 403, 404, and every other 4xx except 408, 425, 429: permanent.
//!   Sending the same request again cannot change the answer.
//! - 408, other 5xx, timeouts, network errors, no token: the backoff
//!   (exponential with jitter), up to `max_attempts`.

use base64::{engine::general_purpose::STANDARD, Engine as _};
use serde::{Deserialize, Serialize};

use crate::forward::flow_failure_hint;

/// Longest delay a Queues retry may ask for (12 h, workers-platform.md §4).
pub const MAX_QUEUE_DELAY_SECS: u32 = 43_200;

/// Bodies up to this size travel inside the queue message (base64 makes
/// them 4/3 larger; a message may hold 128 KB including about 100 B of
/// overhead, and the headers travel too). Larger bodies are stored in R2
/// and the message carries the object's key.
pub const INLINE_BODY_LIMIT: usize = 64 * 1024;

/// Most attempts a route may configure (Queues retries a message at most
/// 100 times, workers-platform.md §4).
pub const MAX_ATTEMPTS_LIMIT: u32 = 100;

/// Per-route retry settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts before a delivery is dead-lettered (first try included).
    pub max_attempts: u32,
    /// Delay before the second attempt, seconds; doubles with each attempt.
    pub backoff_base_secs: u32,
    /// Longest delay between attempts, seconds.
    pub backoff_max_secs: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_attempts: 10, backoff_base_secs: 10, backoff_max_secs: 3600 }
    }
}

impl RetryPolicy {
    /// The delay after failed attempt `attempt` (1-based): base·2^(attempt−1),
    /// capped, then "equal jitter" — half fixed, half random — so a burst of
    /// failures does not come back as a burst. `jitter` is uniform in [0, 1).
    pub fn backoff(&self, attempt: u32, jitter: f64) -> u32 {
        let exp = attempt.saturating_sub(1).min(31);
        let full = u64::from(self.backoff_base_secs).saturating_mul(1u64 << exp).min(u64::from(self.backoff_max_secs));
        let half = full / 2;
        let spread = (full - half) as f64 * jitter.clamp(0.0, 1.0);
        let delay = half + spread.round() as u64;
        u32::try_from(delay.max(1)).unwrap_or(MAX_QUEUE_DELAY_SECS).min(MAX_QUEUE_DELAY_SECS)
    }
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The trigger answered.
    Answered {
        /// HTTP status.
        status: u16,
        /// `Retry-After`, seconds, when given.
        retry_after: Option<u64>,
        /// The trigger's error code (`{"error":{"code":..}}`).
        code: Option<String>,
    },
    /// No answer within the route's `flow_timeout_secs`.
    Timeout,
    /// The trigger could not be reached.
    Network(String),
    /// No Entra token could be obtained.
    NoToken {
        /// Entra's `Retry-After` or flowgate's hold, seconds.
        retry_after: Option<u64>,
        /// What went wrong and what to do.
        reason: String,
    },
}

impl AttemptOutcome {
    /// The HTTP status, when the trigger answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            AttemptOutcome::Answered { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// One line for the attempt history and the dead letter.
    pub fn describe(&self) -> String {
        match self {
            AttemptOutcome::Answered { status, code, .. } => {
                let hint = flow_failure_hint(*status, code.as_deref());
                match code {
                    Some(c) => format!("flow answered {status} {c}: {hint}"),
                    None => format!("flow answered {status}: {hint}"),
                }
            }
            AttemptOutcome::Timeout => "the flow did not answer in time".to_owned(),
            AttemptOutcome::Network(e) => format!("the flow could not be reached: {e}"),
            AttemptOutcome::NoToken { reason, .. } => format!("no Entra token: {reason}"),
        }
    }
}

/// What to do after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// The flow took the run: acknowledge the message.
    Delivered,
    /// Try again after `delay_secs`.
    Retry {
        /// Seconds until the next attempt.
        delay_secs: u32,
        /// Why this attempt failed.
        reason: String,
    },
    /// Give up: keep the delivery as a dead letter.
    Dead {
        /// Why, for the operator.
        reason: String,
    },
}

/// Decides what follows attempt number `attempt` (1-based) that ended with
/// `outcome`. `jitter` is uniform in [0, 1).
pub fn decide(outcome: &AttemptOutcome, attempt: u32, policy: &RetryPolicy, jitter: f64) -> Next {
    let reason = outcome.describe();
    let transient_after = match outcome {
        AttemptOutcome::Answered { status: 200..=299, .. } => return Next::Delivered,
        AttemptOutcome::Answered { status: 429 | 503, retry_after, .. } => *retry_after,
        AttemptOutcome::Answered { status: 408 | 425 | 500..=599, .. } => None,
        AttemptOutcome::Answered { status, .. } => {
            return Next::Dead { reason: format!("permanent: {reason} (HTTP {status} does not change on retry)") }
        }
        AttemptOutcome::NoToken { retry_after, .. } => *retry_after,
        AttemptOutcome::Timeout | AttemptOutcome::Network(_) => None,
    };
    if attempt >= policy.max_attempts {
        return Next::Dead { reason: format!("gave up after {attempt} attempt(s); last: {reason}") };
    }
    let delay_secs = match transient_after {
        Some(secs) => u32::try_from(secs.max(1)).unwrap_or(MAX_QUEUE_DELAY_SECS).min(MAX_QUEUE_DELAY_SECS),
        None => policy.backoff(attempt, jitter),
    };
    Next::Retry { delay_secs, reason }
}

/// Where a queued delivery's body is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyRef {
    /// In the message, base64 (standard alphabet, padded).
    Inline(String),
    /// In R2 under this key (bodies above [`INLINE_BODY_LIMIT`]).
    Stored {
        /// The object's key.
        key: String,
        /// Its length, bytes.
        len: u64,
    },
}

impl BodyRef {
    /// A body carried in the message.
    pub fn inline(body: &[u8]) -> Self {
        BodyRef::Inline(STANDARD.encode(body))
    }

    /// The bytes of an inline body; `None` for a stored one or bad base64.
    pub fn inline_bytes(&self) -> Option<Vec<u8>> {
        match self {
            BodyRef::Inline(b64) => STANDARD.decode(b64).ok(),
            BodyRef::Stored { .. } => None,
        }
    }

    /// The body's length, bytes.
    pub fn len(&self) -> u64 {
        match self {
            // base64: 4 characters per 3 bytes, minus the padding.
            BodyRef::Inline(b64) => {
                let pad = b64.bytes().rev().take_while(|b| *b == b'=').count();
                (b64.len() / 4 * 3).saturating_sub(pad) as u64
            }
            BodyRef::Stored { len, .. } => *len,
        }
    }

    /// Whether the body is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Largest serialised queue message flowgate sends (Queues' limit is
/// 128 KB including about 100 B of overhead, workers-platform.md §4).
pub const MAX_MESSAGE_BYTES: usize = 120_000;

/// The R2 key of a stored body.
pub fn payload_key(route: &str, id: &str) -> String {
    format!("payloads/{route}/{id}")
}

/// One queue message: one accepted webhook for one flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedDelivery {
    /// Message format version.
    pub v: u8,
    /// flowgate's id of the accepted webhook (`x-flowgate-id`), random.
    pub id: String,
    /// The route it came in on.
    pub route: String,
    /// The flow it goes to (the route's name when the route has one flow).
    pub flow: String,
    /// The sender's scheme.
    pub provider: String,
    /// The sender's delivery id, when it sends one.
    pub delivery_id: Option<String>,
    /// The sender's event type, when it names one.
    pub event_type: Option<String>,
    /// When flowgate accepted it, Unix seconds.
    pub received_at: u64,
    /// The sender's content type.
    pub content_type: Option<String>,
    /// The sender's headers (credentials removed, see [`keep_header`]).
    pub headers: Vec<(String, String)>,
    /// The exact body.
    pub body: BodyRef,
    /// Which copy this is: 0 when first sent, then one more for each copy
    /// the route ledger sends again (a lost message recovered, a redrive);
    /// an older copy turning up late is acknowledged without an attempt.
    #[serde(default)]
    pub copy: u32,
    /// SHA-256 of the body, hex: how the route ledger tells two bodies under
    /// one delivery id apart ([`crate::ledger::Fingerprint`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_digest: Option<String>,
    /// The proof of the verified signature, hex ([`crate::verify::Proof`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<String>,
    /// Attempts made under earlier messages of this delivery: a delivery the
    /// flow's pacer holds back is sent again with a delay (and the message it
    /// came in acknowledged), so Queues' `attempts` counts this message's
    /// attempts only; the attempt number is this plus Queues' count.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attempts_before: u32,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if signature
fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Message format version written now.
pub const MESSAGE_VERSION: u8 = 1;

/// Whether a sender's header is kept with a queued delivery and its dead
/// letter. Credentials are dropped (basic-auth senders put their secret in
/// `authorization`); so are hop-by-hop and Cloudflare's own headers.
pub fn keep_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    !(matches!(
        n.as_str(),
        "authorization"
            | "proxy-authorization"
            | "cookie"
            | "connection"
            | "keep-alive"
            | "transfer-encoding"
            | "upgrade"
            | "host"
            | "content-length"
            | "x-forwarded-for"
            | "x-real-ip"
            | "true-client-ip"
    ) || n.starts_with("cf-"))
}

/// One failed attempt, as kept in a delivery's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptRecord {
    /// When, Unix seconds.
    pub at: u64,
    /// Attempt number, 1-based.
    pub attempt: u32,
    /// The trigger's status, when it answered.
    pub status: Option<u16>,
    /// What happened.
    pub reason: String,
}

/// Most attempts kept in a delivery's history (the oldest are dropped).
pub const HISTORY_LIMIT: usize = 25;

/// Appends to a history, keeping the newest [`HISTORY_LIMIT`].
pub fn push_history(history: &mut Vec<AttemptRecord>, record: AttemptRecord) {
    history.push(record);
    if history.len() > HISTORY_LIMIT {
        let excess = history.len() - HISTORY_LIMIT;
        history.drain(..excess);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(status: u16) -> AttemptOutcome {
        AttemptOutcome::Answered { status, retry_after: None, code: None }
    }

    const P: RetryPolicy = RetryPolicy { max_attempts: 5, backoff_base_secs: 10, backoff_max_secs: 100 };

    #[test]
    fn success_is_delivered_on_any_attempt() {
        for status in [200, 202, 204] {
            assert_eq!(decide(&answered(status), 1, &P, 0.5), Next::Delivered);
            assert_eq!(decide(&answered(status), 5, &P, 0.5), Next::Delivered);
        }
    }

    #[test]
    fn throttling_honours_retry_after() {
        for status in [429, 503] {
            let o = AttemptOutcome::Answered { status, retry_after: Some(42), code: None };
            match decide(&o, 1, &P, 0.9) {
                Next::Retry { delay_secs, reason } => {
                    assert_eq!(delay_secs, 42);
                    assert!(reason.contains(&status.to_string()), "{reason}");
                }
                other => panic!("{other:?}"),
            }
        }
        // Absurd values are capped at Queues' 12 h; 0 becomes 1 s.
        let huge = AttemptOutcome::Answered { status: 429, retry_after: Some(10_000_000), code: None };
        assert_eq!(
            decide(&huge, 1, &P, 0.0),
            Next::Retry { delay_secs: MAX_QUEUE_DELAY_SECS, reason: huge.describe() }
        );
        let zero = AttemptOutcome::Answered { status: 503, retry_after: Some(0), code: None };
        assert!(matches!(decide(&zero, 1, &P, 0.0), Next::Retry { delay_secs: 1, .. }));
        // Without Retry-After: the backoff.
        assert_eq!(
            decide(&answered(429), 2, &P, 0.0),
            Next::Retry { delay_secs: 10, reason: answered(429).describe() }
        );
    }

    #[test]
    fn permanent_answers_go_straight_to_dead_letters() {
        for status in [400, 403, 404, 401, 405, 410, 413, 415, 422] {
            match decide(&answered(status), 1, &P, 0.5) {
                Next::Dead { reason } => assert!(reason.starts_with("permanent"), "{status}: {reason}"),
                other => panic!("{status}: {other:?}"),
            }
        }
        let mismatch =
            AttemptOutcome::Answered { status: 403, retry_after: None, code: Some("MisMatchingOAuthClaims".into()) };
        let Next::Dead { reason } = decide(&mismatch, 1, &P, 0.5) else { panic!() };
        assert!(reason.contains("MisMatchingOAuthClaims") && reason.contains("double slash"), "{reason}");
    }

    #[test]
    fn power_automates_other_answers_are_permanent_or_transient_with_the_code_in_the_reason() {
        let coded = |status: u16, code: &str, retry_after: Option<u64>| AttemptOutcome::Answered {
            status,
            retry_after,
            code: Some(code.to_owned()),
        };
        for (status, code, fix) in [
            (400, "WorkflowTriggerIsNotEnabled", "turn it on"),
            (404, "WorkflowNotFound", "copy the trigger URL again"),
            (400, "TriggerInputSchemaMismatch", "flowgate schema"),
            (400, "DirectApiRequestHasMoreThanOneAuthorization", "SAS"),
        ] {
            let Next::Dead { reason } = decide(&coded(status, code, None), 1, &P, 0.5) else {
                panic!("{code} is permanent")
            };
            assert!(reason.starts_with("permanent") && reason.contains(code) && reason.contains(fix), "{reason}");
        }
        // Over the invoke limit: after the flow's Retry-After, not the backoff.
        let throttled = coded(429, "WorkflowRequestsThrottled", Some(4));
        let Next::Retry { delay_secs, reason } = decide(&throttled, 1, &P, 0.9) else { panic!("429 is transient") };
        assert_eq!(delay_secs, 4);
        assert!(reason.contains("WorkflowRequestsThrottled"), "{reason}");
    }

    #[test]
    fn transient_failures_back_off_then_give_up() {
        let outcomes = [
            answered(500),
            answered(502),
            answered(504),
            answered(408),
            AttemptOutcome::Timeout,
            AttemptOutcome::Network("connection refused".into()),
            AttemptOutcome::NoToken { retry_after: None, reason: "AADSTS50000".into() },
        ];
        for o in &outcomes {
            for attempt in 1..P.max_attempts {
                assert!(matches!(decide(o, attempt, &P, 0.3), Next::Retry { .. }), "{o:?} attempt {attempt}");
            }
            match decide(o, P.max_attempts, &P, 0.3) {
                Next::Dead { reason } => assert!(reason.starts_with("gave up after 5 attempt(s)"), "{reason}"),
                other => panic!("{other:?}"),
            }
        }
        // Entra's own Retry-After is honoured too.
        let held = AttemptOutcome::NoToken { retry_after: Some(30), reason: "throttled".into() };
        assert!(matches!(decide(&held, 1, &P, 0.9), Next::Retry { delay_secs: 30, .. }));
    }

    #[test]
    fn backoff_doubles_with_equal_jitter_and_is_capped() {
        // Without jitter: half of base·2^(n−1); with full jitter: all of it.
        assert_eq!(P.backoff(1, 0.0), 5);
        assert_eq!(P.backoff(1, 1.0), 10);
        assert_eq!(P.backoff(2, 0.0), 10);
        assert_eq!(P.backoff(2, 1.0), 20);
        assert_eq!(P.backoff(3, 1.0), 40);
        assert_eq!(P.backoff(4, 1.0), 80);
        assert_eq!(P.backoff(5, 1.0), 100, "capped at backoff_max_secs");
        assert_eq!(P.backoff(60, 0.0), 50, "huge attempt numbers do not overflow");
        for attempt in 1..10 {
            for j in [0.0, 0.25, 0.5, 0.99] {
                let d = P.backoff(attempt, j);
                let full = (10u32 << (attempt - 1)).min(100);
                assert!(d >= full / 2 && d <= full, "attempt {attempt} jitter {j}: {d}");
            }
        }
        let tiny = RetryPolicy { max_attempts: 3, backoff_base_secs: 1, backoff_max_secs: 1 };
        assert_eq!(tiny.backoff(1, 0.0), 1, "never 0 s");
        let huge = RetryPolicy { max_attempts: 3, backoff_base_secs: 3600, backoff_max_secs: u32::MAX };
        assert_eq!(huge.backoff(30, 1.0), MAX_QUEUE_DELAY_SECS);
    }

    #[test]
    fn message_round_trips_as_json() {
        let m = QueuedDelivery {
            v: MESSAGE_VERSION,
            id: "0123abcd".into(),
            route: "github".into(),
            flow: "github".into(),
            provider: "github".into(),
            delivery_id: Some("d-1".into()),
            event_type: Some("push".into()),
            received_at: 1_790_000_000,
            content_type: Some("application/json".into()),
            headers: vec![("x-github-event".into(), "push".into())],
            body: BodyRef::Inline("e30=".into()),
            copy: 0,
            body_digest: None,
            proof: None,
            attempts_before: 0,
        };
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<QueuedDelivery>(&json).unwrap(), m);
        for n in [0usize, 1, 2, 3, 4, 5, 100] {
            let body = vec![7u8; n];
            let r = BodyRef::inline(&body);
            assert_eq!(r.len(), n as u64);
            assert_eq!(r.inline_bytes().unwrap(), body);
        }
        let stored = BodyRef::Stored { key: "payloads/github/0123abcd".into(), len: 5_000_000 };
        let json = serde_json::to_value(&stored).unwrap();
        assert_eq!(json, serde_json::json!({"stored": {"key": "payloads/github/0123abcd", "len": 5_000_000}}));
    }

    #[test]
    fn credentials_and_hop_headers_are_not_kept() {
        for h in ["Authorization", "cookie", "CF-Connecting-IP", "host", "content-length", "x-forwarded-for"] {
            assert!(!keep_header(h), "{h}");
        }
        for h in ["x-github-event", "x-hub-signature-256", "content-type", "webhook-id", "user-agent"] {
            assert!(keep_header(h), "{h}");
        }
    }

    #[test]
    fn history_keeps_the_newest() {
        let mut h = Vec::new();
        for attempt in 1..=40 {
            push_history(&mut h, AttemptRecord { at: 0, attempt, status: Some(500), reason: String::new() });
        }
        assert_eq!(h.len(), HISTORY_LIMIT);
        assert_eq!(h.first().unwrap().attempt, 16);
        assert_eq!(h.last().unwrap().attempt, 40);
    }
}
