//! When flowgate asks Plaid for a verification key, and what Plaid's answer
//! means (issue #11, item 5). The Worker's `src/plaid_keys.rs` does the I/O;
//! the rules are here, so they are tested natively.
//!
//! A `kid` is read from a token nobody has verified yet, so whoever can reach
//! the route chooses which key flowgate asks Plaid for. Three rules keep that
//! from becoming traffic to Plaid (and Plaid's rate limits from becoming lost
//! webhooks):
//!
//! - **Unknown kids are remembered** ([`NEGATIVE_TTL_SECS`]): a `kid` Plaid
//!   said it does not know is answered 401 without asking again for a while.
//!   Plaid's kids are random UUIDs, so a real key cannot be asked for before
//!   it exists; the entry is short anyway, in case Plaid answered before its
//!   new key had propagated.
//! - **A fetch budget per isolate** ([`FetchPolicy::admit`]): a token bucket
//!   of [`FETCH_BURST`] requests, one more every [`FETCH_REFILL_SECS`]. A
//!   forger with a fresh random `kid` each time costs Plaid at most that, per
//!   isolate; past it the webhook is answered 502 without asking (Plaid retries
//!   failed webhooks). Keys already known keep verifying: they never need a fetch.
//! - **Plaid's own refusals are not the sender's fault** ([`classify`]): 429
//!   and 5xx (and anything unexpected) are 502 `verification_key_unavailable`,
//!   never 401; a 429 also holds every fetch back for its `Retry-After`.
//!   Only Plaid's "no such key" answer (400 with an `INVALID_INPUT` or
//!   `INVALID_REQUEST` error that is not about the credentials) makes a 401.
//!
//! Plaid's error object is `{error_type, error_code, error_message, …}`
//! (Plaid's errors reference); credential errors (`INVALID_API_KEYS`,
//! `UNAUTHORIZED_ENVIRONMENT`) are 400 too, and are the operator's to fix.

use std::collections::HashMap;

use serde_json::Value;

use super::parse_jwk;

/// How long a `kid` Plaid does not know is answered without asking Plaid.
pub const NEGATIVE_TTL_SECS: u64 = 60;
/// Key requests an isolate may make at once (a fresh isolate verifying the
/// few live keys needs one each, and usually finds them in KV).
pub const FETCH_BURST: u32 = 5;
/// One more key request is allowed every this many seconds.
pub const FETCH_REFILL_SECS: u64 = 30;
/// How long a 429 from Plaid without `Retry-After` holds fetches back.
pub const DEFAULT_HOLD_SECS: u64 = 10;
/// Longest hold a `Retry-After` can ask for.
pub const MAX_HOLD_SECS: u64 = 300;
/// Most unknown kids remembered per isolate (bounded memory under a flood of
/// random kids; when full, expired entries go first, then all).
const MAX_UNKNOWN_KIDS: usize = 1024;

/// Plaid error codes about the API credentials or environment, not the key.
const CREDENTIAL_ERRORS: [&str; 3] = ["INVALID_API_KEYS", "UNAUTHORIZED_ENVIRONMENT", "UNAUTHORIZED_ROUTE_ACCESS"];

/// What Plaid's answer to `POST /webhook_verification_key/get` means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyAnswer {
    /// The key (a P-256 JWK for the asked `kid`, as JSON text).
    Key(String),
    /// Plaid does not know the `kid`: the token is not Plaid's (401).
    UnknownKid {
        /// Plaid's `error_code`.
        code: String,
    },
    /// Plaid refused the API credentials: the operator's to fix (502).
    BadCredentials {
        /// Plaid's `error_code`.
        code: String,
    },
    /// Plaid is rate-limiting these requests (502; fetches are held back).
    Throttled {
        /// Plaid's `Retry-After`, if it sent one.
        retry_after_secs: Option<u64>,
    },
    /// Plaid failed or answered something unexpected (502).
    Unavailable {
        /// What was wrong, for the log (Plaid's status and error code).
        reason: String,
    },
}

impl KeyAnswer {
    /// True when the webhook is refused as forged (401) rather than
    /// answered 502.
    pub fn is_forged(&self) -> bool {
        matches!(self, KeyAnswer::UnknownKid { .. })
    }
}

/// Classifies Plaid's answer (`status`, `Retry-After`, body) to a request
/// for `kid`.
pub fn classify(status: u16, retry_after: Option<u64>, body: &[u8], kid: &str) -> KeyAnswer {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let field = |name: &str| parsed.as_ref().and_then(|v| v.get(name)).and_then(Value::as_str).map(str::to_owned);
    let (error_type, code) = (field("error_type"), field("error_code"));
    if status == 200 {
        let key = parsed.as_ref().and_then(|v| v.get("key")).filter(|k| k.is_object()).map(Value::to_string);
        return match key.filter(|j| parse_jwk(j).is_ok_and(|k| k.kid == kid)) {
            Some(jwk) => KeyAnswer::Key(jwk),
            None => KeyAnswer::Unavailable { reason: "200 without a P-256 JWK for the kid".to_owned() },
        };
    }
    if status == 429 || error_type.as_deref() == Some("RATE_LIMIT_EXCEEDED") {
        return KeyAnswer::Throttled { retry_after_secs: retry_after };
    }
    match (status, error_type.as_deref(), code) {
        (400, _, Some(code)) if CREDENTIAL_ERRORS.contains(&code.as_str()) => KeyAnswer::BadCredentials { code },
        (400, Some("INVALID_INPUT" | "INVALID_REQUEST"), Some(code)) => KeyAnswer::UnknownKid { code },
        (status, _, code) => {
            KeyAnswer::Unavailable { reason: format!("{status} {}", code.unwrap_or_default()).trim_end().to_owned() }
        }
    }
}

/// Why a fetch is not made now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Plaid answered 429: every fetch waits this many more seconds.
    Held {
        /// Seconds until fetches resume.
        retry_after_secs: u64,
    },
    /// The isolate's fetch budget is spent: the next fetch in this many seconds.
    OverBudget {
        /// Seconds until one more fetch is allowed.
        retry_after_secs: u64,
    },
}

/// The per-isolate state of the rules above. `now_ms` is passed in (the
/// Worker's clock), so the rules are tested with a fake one.
#[derive(Debug, Clone, Default)]
pub struct FetchPolicy {
    /// Cache key → until when (ms) it is known to be unknown.
    unknown: HashMap<String, u64>,
    /// Fetches left in the bucket, and when it was last topped up (ms);
    /// `None` until the first fetch (a fresh isolate has the whole burst).
    bucket: Option<(u32, u64)>,
    /// No fetch before this time (ms), after a 429.
    held_until_ms: u64,
}

impl FetchPolicy {
    /// A fresh isolate's policy.
    pub fn new() -> Self {
        Self::default()
    }

    /// True while Plaid's "no such key" for `cache_key` is remembered.
    pub fn known_unknown(&self, cache_key: &str, now_ms: u64) -> bool {
        self.unknown.get(cache_key).is_some_and(|until| *until > now_ms)
    }

    /// Takes one fetch from the budget, unless fetches are held back or the
    /// budget is spent.
    ///
    /// # Errors
    /// Why no fetch may be made now, with when to try again.
    pub fn admit(&mut self, now_ms: u64) -> Result<(), Refusal> {
        if self.held_until_ms > now_ms {
            return Err(Refusal::Held { retry_after_secs: (self.held_until_ms - now_ms).div_ceil(1000) });
        }
        let period = FETCH_REFILL_SECS * 1000;
        let (mut tokens, mut since) = self.bucket.unwrap_or((FETCH_BURST, now_ms));
        let earned = now_ms.saturating_sub(since) / period;
        if earned > 0 {
            tokens = u32::try_from(u64::from(tokens).saturating_add(earned).min(u64::from(FETCH_BURST)))
                .unwrap_or(FETCH_BURST);
            since = if tokens == FETCH_BURST { now_ms } else { since + earned * period };
        }
        if tokens == 0 {
            self.bucket = Some((0, since));
            let next = since.saturating_add(period).saturating_sub(now_ms);
            return Err(Refusal::OverBudget { retry_after_secs: next.div_ceil(1000).max(1) });
        }
        // A full bucket starts its refill clock at the first fetch out of it.
        let since = if tokens == FETCH_BURST { now_ms } else { since };
        self.bucket = Some((tokens - 1, since));
        Ok(())
    }

    /// Learns from Plaid's answer to the fetch for `cache_key`.
    pub fn record(&mut self, cache_key: &str, answer: &KeyAnswer, now_ms: u64) {
        match answer {
            KeyAnswer::UnknownKid { .. } => {
                if self.unknown.len() >= MAX_UNKNOWN_KIDS {
                    self.unknown.retain(|_, until| *until > now_ms);
                    if self.unknown.len() >= MAX_UNKNOWN_KIDS {
                        self.unknown.clear();
                    }
                }
                self.unknown.insert(cache_key.to_owned(), now_ms.saturating_add(NEGATIVE_TTL_SECS * 1000));
            }
            KeyAnswer::Throttled { retry_after_secs } => {
                let secs = retry_after_secs.unwrap_or(DEFAULT_HOLD_SECS).clamp(1, MAX_HOLD_SECS);
                self.held_until_ms = self.held_until_ms.max(now_ms.saturating_add(secs * 1000));
            }
            KeyAnswer::Key(_) => {
                self.unknown.remove(cache_key);
            }
            KeyAnswer::BadCredentials { .. } | KeyAnswer::Unavailable { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{secret::Secret, verify::sendgrid};

    const KID: &str = "6c5516e1-92dc-479e-a8ff-5a51992e0001";
    const PRIVATE: &str = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";

    fn plaid_error(error_type: &str, code: &str) -> Vec<u8> {
        json!({"display_message": null, "error_code": code, "error_message": "m", "error_type": error_type,
               "request_id": "r"})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn plaids_answers_are_classified_and_only_no_such_key_is_a_forgery() {
        let key = sendgrid::signing_key(&Secret::new(PRIVATE)).unwrap();
        let jwk = super::super::public_jwk(key.verifying_key(), KID, 1);
        let ok = json!({"key": jwk, "request_id": "r"}).to_string();
        assert_eq!(classify(200, None, ok.as_bytes(), KID), KeyAnswer::Key(jwk.to_string()));
        // A key for another kid, or no key, in a 200: not usable.
        assert!(matches!(classify(200, None, ok.as_bytes(), "other"), KeyAnswer::Unavailable { .. }));
        assert!(matches!(classify(200, None, b"{}", KID), KeyAnswer::Unavailable { .. }));

        let unknown = plaid_error("INVALID_INPUT", "INVALID_WEBHOOK_VERIFICATION_KEY_ID");
        let answer = classify(400, None, &unknown, KID);
        assert_eq!(answer, KeyAnswer::UnknownKid { code: "INVALID_WEBHOOK_VERIFICATION_KEY_ID".into() });
        assert!(answer.is_forged());
        assert!(classify(400, None, &plaid_error("INVALID_REQUEST", "INVALID_FIELD"), KID).is_forged());
        assert_eq!(
            classify(400, None, &plaid_error("INVALID_INPUT", "INVALID_API_KEYS"), KID),
            KeyAnswer::BadCredentials { code: "INVALID_API_KEYS".into() }
        );
        // Throttling, whatever the status, and with Plaid's Retry-After.
        assert_eq!(
            classify(429, Some(5), &plaid_error("RATE_LIMIT_EXCEEDED", "RATE_LIMIT"), KID),
            KeyAnswer::Throttled { retry_after_secs: Some(5) }
        );
        assert_eq!(classify(429, None, b"", KID), KeyAnswer::Throttled { retry_after_secs: None });
        assert_eq!(
            classify(400, None, &plaid_error("RATE_LIMIT_EXCEEDED", "RATE_LIMIT"), KID),
            KeyAnswer::Throttled { retry_after_secs: None }
        );
        // Plaid failing, and answers that are not Plaid's error object: never a 401.
        for (status, body) in [
            (500, plaid_error("API_ERROR", "INTERNAL_SERVER_ERROR")),
            (503, plaid_error("API_ERROR", "PLANNED_MAINTENANCE")),
            (502, b"<html>bad gateway</html>".to_vec()),
            (400, b"not json".to_vec()),
            (404, plaid_error("INVALID_REQUEST", "NOT_FOUND")),
            (401, plaid_error("INVALID_INPUT", "INVALID_WEBHOOK_VERIFICATION_KEY_ID")),
            (301, Vec::new()),
        ] {
            let answer = classify(status, None, &body, KID);
            assert!(matches!(answer, KeyAnswer::Unavailable { .. }), "{status}: {answer:?}");
            assert!(!answer.is_forged());
        }
        let KeyAnswer::Unavailable { reason } =
            classify(503, None, &plaid_error("API_ERROR", "PLANNED_MAINTENANCE"), KID)
        else {
            panic!()
        };
        assert_eq!(reason, "503 PLANNED_MAINTENANCE");
    }

    #[test]
    fn unknown_kids_are_remembered_briefly_and_per_key() {
        let mut p = FetchPolicy::new();
        let unknown = KeyAnswer::UnknownKid { code: "X".into() };
        p.record("plaid/route/kid-a", &unknown, 1_000);
        assert!(p.known_unknown("plaid/route/kid-a", 1_000));
        assert!(p.known_unknown("plaid/route/kid-a", 1_000 + NEGATIVE_TTL_SECS * 1000 - 1));
        assert!(!p.known_unknown("plaid/route/kid-a", 1_000 + NEGATIVE_TTL_SECS * 1000));
        assert!(!p.known_unknown("plaid/route/kid-b", 1_000));
        assert!(!p.known_unknown("plaid/other-route/kid-a", 1_000));
        // Other answers are not remembered as unknown; a key clears the entry.
        for a in [
            KeyAnswer::Unavailable { reason: "500".into() },
            KeyAnswer::BadCredentials { code: "INVALID_API_KEYS".into() },
            KeyAnswer::Throttled { retry_after_secs: None },
        ] {
            p.record("plaid/route/kid-c", &a, 1_000);
            assert!(!p.known_unknown("plaid/route/kid-c", 1_000), "{a:?}");
        }
        p.record("plaid/route/kid-a", &KeyAnswer::Key("{}".into()), 2_000);
        assert!(!p.known_unknown("plaid/route/kid-a", 2_000));
        // A flood of random kids keeps the map bounded.
        for i in 0..(MAX_UNKNOWN_KIDS * 3) {
            p.record(&format!("plaid/route/random-{i}"), &unknown, 5_000);
        }
        assert!(p.unknown.len() <= MAX_UNKNOWN_KIDS);
        assert!(p.known_unknown(&format!("plaid/route/random-{}", MAX_UNKNOWN_KIDS * 3 - 1), 5_000));
    }

    #[test]
    fn the_fetch_budget_is_a_burst_then_one_per_refill_period() {
        let mut p = FetchPolicy::new();
        let t0 = 1_700_000_000_000;
        for i in 0..FETCH_BURST {
            assert_eq!(p.admit(t0 + u64::from(i)), Ok(()), "fetch {i}");
        }
        let refused = p.admit(t0 + 10);
        assert_eq!(refused, Err(Refusal::OverBudget { retry_after_secs: FETCH_REFILL_SECS }));
        // However many are tried meanwhile, one more comes after a refill period.
        for ms in (0..FETCH_REFILL_SECS * 1000).step_by(997) {
            assert!(p.admit(t0 + ms).is_err(), "{ms}");
        }
        assert_eq!(p.admit(t0 + FETCH_REFILL_SECS * 1000), Ok(()));
        assert!(p.admit(t0 + FETCH_REFILL_SECS * 1000 + 1).is_err());
        // Over an hour, at most the burst plus one per period.
        let mut p = FetchPolicy::new();
        let allowed = (0..3_600_000u64).step_by(100).filter(|ms| p.admit(t0 + ms).is_ok()).count() as u64;
        assert_eq!(allowed, u64::from(FETCH_BURST) + 3_600 / FETCH_REFILL_SECS - 1);
        // A long quiet spell refills the burst, no more.
        let mut p = FetchPolicy::new();
        assert_eq!(p.admit(t0), Ok(()));
        let later = t0 + 86_400_000;
        let burst = (0..FETCH_BURST * 3).filter(|i| p.admit(later + u64::from(*i)).is_ok()).count();
        assert_eq!(burst, FETCH_BURST as usize);
    }

    #[test]
    fn a_429_holds_every_fetch_back_for_its_retry_after() {
        let mut p = FetchPolicy::new();
        let t0 = 50_000;
        assert_eq!(p.admit(t0), Ok(()));
        p.record("k", &KeyAnswer::Throttled { retry_after_secs: Some(5) }, t0);
        assert_eq!(p.admit(t0 + 1), Err(Refusal::Held { retry_after_secs: 5 }));
        assert_eq!(p.admit(t0 + 4_001), Err(Refusal::Held { retry_after_secs: 1 }));
        assert_eq!(p.admit(t0 + 5_000), Ok(()));
        // Without Retry-After: the default; an absurd one is capped; zero still waits a second.
        let mut p = FetchPolicy::new();
        p.record("k", &KeyAnswer::Throttled { retry_after_secs: None }, t0);
        assert_eq!(p.admit(t0), Err(Refusal::Held { retry_after_secs: DEFAULT_HOLD_SECS }));
        p.record("k", &KeyAnswer::Throttled { retry_after_secs: Some(u64::MAX) }, t0);
        assert_eq!(p.admit(t0), Err(Refusal::Held { retry_after_secs: MAX_HOLD_SECS }));
        let mut p = FetchPolicy::new();
        p.record("k", &KeyAnswer::Throttled { retry_after_secs: Some(0) }, t0);
        assert!(p.admit(t0 + 999).is_err() && p.admit(t0 + 1_000).is_ok());
        // A 5xx holds nothing back (the budget bounds those).
        let mut p = FetchPolicy::new();
        p.record("k", &KeyAnswer::Unavailable { reason: "503".into() }, t0);
        assert_eq!(p.admit(t0), Ok(()));
    }
}
