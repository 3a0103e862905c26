//! Senders whose verification key is fetched by id from their API (issue
//! 15): Plaid (`kid` in its JWT), eBay (`kid` in `X-EBAY-SIGNATURE`) and
//! Circle (`X-Circle-Key-Id`). The Worker's `src/fetched_keys.rs` does the
//! I/O for all three; what to ask, of which host, with which credential,
//! what to keep and for how long, and what each answer means, are here,
//! behind the small port [`KeySource`], so they are tested natively.
//!
//! An id is read from a request nobody has verified yet, so whoever can
//! reach the route chooses which key flowgate asks the sender's API for.
//! Three rules keep that from becoming traffic to the sender (and its rate
//! limits from becoming lost webhooks), the same for every sender:
//!
//! - **Unknown ids are remembered** ([`NEGATIVE_TTL_SECS`]): an id the host
//!   said it does not know is answered 401 without asking again for a
//!   while. Key ids are random UUIDs, so a real key cannot be asked for
//!   before it exists; the entry is short anyway, in case the host answered
//!   before its new key had propagated.
//! - **A fetch budget per isolate and sender** ([`FetchPolicy::admit`]): a
//!   token bucket of [`FETCH_BURST`] requests, one more every
//!   [`FETCH_REFILL_SECS`]. A forger with a fresh random id each time costs
//!   the sender at most that, per isolate; past it the webhook is answered
//!   502 without asking (senders retry failed webhooks). Keys already known
//!   keep verifying: they never need a fetch.
//! - **The host's own refusals are not the sender's fault**
//!   ([`KeySource::classify`]): 429 and 5xx (and anything unexpected) are
//!   502 `verification_key_unavailable`, never 401; a 429 also holds every
//!   fetch back for its `Retry-After`. Only the host's "no such key" answer
//!   makes a 401.
//!
//! The credential (Plaid's `client_id`/`secret`, eBay's OAuth application
//! token, Circle's API key) goes only to the configured host, over HTTPS
//! (or to the emulator on loopback), in a [`KeyRequest`] whose `Debug`
//! names no header value and no body.

use std::{collections::HashMap, fmt};

use crate::{headers::Headers, secret::Secret};

use super::VerifyError;

/// How long a key id the key host does not know is answered without asking again.
pub const NEGATIVE_TTL_SECS: u64 = 60;
/// Key requests an isolate may make at once (a fresh isolate verifying the
/// few live keys needs one each, and usually finds them in KV).
pub const FETCH_BURST: u32 = 5;
/// One more key request is allowed every this many seconds.
pub const FETCH_REFILL_SECS: u64 = 30;
/// How long a 429 from a key host without `Retry-After` holds fetches back.
pub const DEFAULT_HOLD_SECS: u64 = 10;
/// Longest hold a `Retry-After` can ask for.
pub const MAX_HOLD_SECS: u64 = 300;
/// Most unknown kids remembered per isolate (bounded memory under a flood of
/// random kids; when full, expired entries go first, then all).
const MAX_UNKNOWN_KIDS: usize = 1024;

/// What a key host's answer means ([`KeySource::classify`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyAnswer {
    /// The key for the asked id, as the text kept in the caches and given to
    /// the verifier as the route's secret (Plaid: the JWK; eBay, Circle: the
    /// base64 DER SubjectPublicKeyInfo).
    Key(String),
    /// The host does not know the id: the request is not the sender's (401).
    UnknownKid {
        /// The host's error code (or status).
        code: String,
    },
    /// The host refused the API credentials: the operator's to fix (502).
    BadCredentials {
        /// The host's error code (or status).
        code: String,
    },
    /// The host is rate-limiting these requests (502; fetches are held back).
    Throttled {
        /// The host's `Retry-After`, if it sent one.
        retry_after_secs: Option<u64>,
    },
    /// The host failed or answered something unexpected (502).
    Unavailable {
        /// What was wrong, for the log (the status and error code).
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

/// Why a fetch is not made now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The host answered 429: every fetch waits this many more seconds.
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

    /// True while the host's "no such key" for `cache_key` is remembered.
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

    /// Learns from the host's answer to the fetch for `cache_key`.
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

/// One request to a key host (or its OAuth token endpoint), built by a
/// [`KeySource`]: the Worker sends it as is, with no redirects followed.
#[derive(Clone)]
pub struct KeyRequest {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// The full URL (the configured host; the id percent-safe by [`is_valid_key_id`]).
    pub url: String,
    /// Headers to send; values may carry the credential.
    pub headers: Vec<(&'static str, String)>,
    /// The body (may carry the credential); empty for a GET.
    pub body: Vec<u8>,
}

impl fmt::Debug for KeyRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| *n).collect();
        f.debug_struct("KeyRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &names)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

/// What an OAuth token endpoint's answer means (eBay's client credentials grant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenAnswer {
    /// A bearer token, usable for `ttl_secs` (already shortened by a skew).
    Token {
        /// The access token.
        token: Secret,
        /// How long to keep it, seconds.
        ttl_secs: u64,
    },
    /// No token: what it means for the webhook (credentials refused,
    /// throttled, unavailable; never a forgery).
    Refused(KeyAnswer),
}

/// The credential values a source needs, in the order of
/// [`KeySource::credential_bindings`].
pub type Credentials = [Secret];

/// One sender's rules for fetching its verification keys by id: the port
/// the Worker's generic fetcher drives. Nothing here does I/O.
pub trait KeySource {
    /// The sender, for operators' messages (`"Plaid"`, `"eBay"`, `"Circle"`).
    fn sender(&self) -> &'static str;
    /// The log outcome and error code of a key the host did not give
    /// (`plaid_key_unavailable`, …).
    fn unavailable_code(&self) -> &'static str;
    /// The configured API host (no scheme), for messages and cache keys.
    fn host(&self) -> &str;
    /// The wrangler secrets holding the credential, with what each is
    /// (`("PLAID_SECRET", "Plaid secret")`), in the order
    /// [`KeySource::key_request`] takes their values.
    fn credential_bindings(&self) -> Vec<(&str, &'static str)>;
    /// The key id the request names, read without verifying anything.
    ///
    /// # Errors
    /// `MissingHeader` or `MalformedHeader` (a 400/401 without any fetch).
    fn key_id(&self, headers: &Headers) -> Result<String, VerifyError>;
    /// The cache key (memory and KV) of the key named `id`: versioned, and
    /// per host, so a sandbox key never verifies a production route.
    fn cache_key(&self, id: &str) -> String;
    /// How long a fetched key is kept, seconds (at least KV's 60).
    fn key_ttl_secs(&self) -> u64;
    /// Whether a cached text is still a usable key for `id` (a KV entry
    /// written by an older version, or tampered with, is refetched).
    fn usable(&self, cached: &str, id: &str) -> bool;
    /// The token request to make first, when the key endpoint takes an
    /// OAuth token rather than the credential itself (eBay).
    fn token_request(&self, _credentials: &Credentials) -> Option<KeyRequest> {
        None
    }
    /// The cache key of the token [`KeySource::token_request`] returns
    /// (per host and client id: never the secret).
    fn token_cache_key(&self, _credentials: &Credentials) -> String {
        String::new()
    }
    /// What the token endpoint's answer means.
    fn classify_token(&self, status: u16, _retry_after: Option<u64>, _body: &[u8]) -> TokenAnswer {
        TokenAnswer::Refused(KeyAnswer::Unavailable { reason: format!("{status} (no token endpoint)") })
    }
    /// The key request for `id`, with the credential (and the token, when
    /// [`KeySource::token_request`] gave one).
    fn key_request(&self, id: &str, credentials: &Credentials, token: Option<&Secret>) -> KeyRequest;
    /// What the host's answer to [`KeySource::key_request`] means.
    fn classify(&self, status: u16, retry_after: Option<u64>, body: &[u8], id: &str) -> KeyAnswer;
}

/// Longest key id accepted (the senders' are UUIDs).
pub const MAX_KEY_ID_LEN: usize = 128;

/// A key id safe in a URL path, a JSON body and a KV key: 1–128 of
/// `A-Z a-z 0-9 - _ .`, and not only dots (no `.`/`..` path segment).
pub fn is_valid_key_id(id: &str) -> bool {
    (1..=MAX_KEY_ID_LEN).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !id.bytes().all(|b| b == b'.')
}

/// The host of a base URL (`https://api.ebay.com` → `api.ebay.com`).
pub fn host_of(base_url: &str) -> &str {
    base_url.split_once("://").map_or(base_url, |(_, h)| h)
}

/// The usual classification of an answer that is not the key: 429 →
/// throttled (with its `Retry-After`); `unknown` statuses → the id is
/// unknown; `credentials` statuses → the credential was refused;
/// anything else → unavailable.
pub fn classify_failure(
    status: u16,
    retry_after: Option<u64>,
    unknown: &[u16],
    credentials: &[u16],
    code: Option<String>,
) -> KeyAnswer {
    let code_or_status = || code.clone().unwrap_or_else(|| status.to_string());
    if status == 429 {
        KeyAnswer::Throttled { retry_after_secs: retry_after }
    } else if unknown.contains(&status) {
        KeyAnswer::UnknownKid { code: code_or_status() }
    } else if credentials.contains(&status) {
        KeyAnswer::BadCredentials { code: code_or_status() }
    } else {
        KeyAnswer::Unavailable { reason: format!("{status} {}", code.unwrap_or_default()).trim_end().to_owned() }
    }
}

/// An OAuth 2.0 token answer (RFC 6749 §5.1: `access_token`, `expires_in`)
/// read, its lifetime shortened by [`TOKEN_SKEW_SECS`]; §5.2 errors
/// (`invalid_client`, 400/401) are the credentials'.
pub fn classify_oauth_token(status: u16, retry_after: Option<u64>, body: &[u8]) -> TokenAnswer {
    let v: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let field = |k: &str| v.as_ref().and_then(|v| v.get(k));
    if status == 200 {
        let token = field("access_token").and_then(serde_json::Value::as_str).filter(|t| !t.is_empty());
        let expires = field("expires_in").and_then(serde_json::Value::as_u64).unwrap_or(0);
        return match token {
            Some(t) if expires > TOKEN_SKEW_SECS => {
                TokenAnswer::Token { token: Secret::new(t), ttl_secs: expires - TOKEN_SKEW_SECS }
            }
            _ => TokenAnswer::Refused(KeyAnswer::Unavailable {
                reason: "token endpoint: 200 without an access_token and expires_in".to_owned(),
            }),
        };
    }
    let code = field("error").and_then(serde_json::Value::as_str).map(|c| format!("token endpoint: {c}"));
    TokenAnswer::Refused(classify_failure(status, retry_after, &[], &[400, 401, 403], code))
}

/// How much earlier than its `expires_in` a token is dropped.
pub const TOKEN_SKEW_SECS: u64 = 60;

/// The key source of a route whose sender's keys are fetched by id (Plaid,
/// eBay, Circle), or `None`.
pub fn source(route: &crate::config::Route) -> Option<Box<dyn KeySource + '_>> {
    if let Some(s) = &route.plaid {
        return Some(Box::new(super::plaid::keys::PlaidSource(s)));
    }
    if let Some(s) = &route.ebay {
        return Some(Box::new(super::ebay::EbaySource(s)));
    }
    route.circle.as_ref().map(|s| Box::new(super::circle::CircleSource(s)) as Box<dyn KeySource>)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_are_plain_and_bounded() {
        for ok in ["6c5516e1-92dc-479e-a8ff-5a51992e0001", "a", "k.v_2", &"k".repeat(128)] {
            assert!(is_valid_key_id(ok), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "a b", "a%2f", "é", "a?b", &"k".repeat(129)] {
            assert!(!is_valid_key_id(bad), "{bad}");
        }
        assert_eq!(host_of("https://api.ebay.com"), "api.ebay.com");
        assert_eq!(host_of("http://127.0.0.1:8080"), "127.0.0.1:8080");
    }

    #[test]
    fn failures_are_classified_and_only_unknown_statuses_are_forgeries() {
        assert_eq!(
            classify_failure(429, Some(3), &[404], &[401], None),
            KeyAnswer::Throttled { retry_after_secs: Some(3) }
        );
        assert_eq!(classify_failure(404, None, &[404], &[401], None), KeyAnswer::UnknownKid { code: "404".into() });
        assert_eq!(
            classify_failure(401, None, &[404], &[401], Some("c".into())),
            KeyAnswer::BadCredentials { code: "c".into() }
        );
        for s in [500, 502, 503, 400, 301, 200] {
            assert!(matches!(classify_failure(s, None, &[404], &[401], None), KeyAnswer::Unavailable { .. }), "{s}");
        }
    }

    #[test]
    fn oauth_token_answers_are_read_with_a_skew() {
        let ok = br#"{"access_token":"v^1.1#i^1#abc","expires_in":7200,"token_type":"Application Access Token"}"#;
        let TokenAnswer::Token { token, ttl_secs } = classify_oauth_token(200, None, ok) else { panic!() };
        assert_eq!((token.expose(), ttl_secs), ("v^1.1#i^1#abc", 7200 - TOKEN_SKEW_SECS));
        for bad in [&br#"{"expires_in":7200}"#[..], br#"{"access_token":"t","expires_in":30}"#, b"nope"] {
            assert!(matches!(
                classify_oauth_token(200, None, bad),
                TokenAnswer::Refused(KeyAnswer::Unavailable { .. })
            ));
        }
        let refused = classify_oauth_token(
            401,
            None,
            br#"{"error":"invalid_client","error_description":"client authentication failed"}"#,
        );
        assert_eq!(
            refused,
            TokenAnswer::Refused(KeyAnswer::BadCredentials { code: "token endpoint: invalid_client".into() })
        );
        assert_eq!(
            classify_oauth_token(429, Some(2), b""),
            TokenAnswer::Refused(KeyAnswer::Throttled { retry_after_secs: Some(2) })
        );
        assert!(matches!(classify_oauth_token(503, None, b""), TokenAnswer::Refused(KeyAnswer::Unavailable { .. })));
        // The request's Debug names no credential.
        let r = KeyRequest {
            method: "POST",
            url: "https://api.ebay.com/identity/v1/oauth2/token".into(),
            headers: vec![("authorization", "Basic c2VjcmV0".into())],
            body: b"grant_type=client_credentials".to_vec(),
        };
        let d = format!("{r:?}");
        assert!(!d.contains("c2VjcmV0") && !d.contains("client_credentials") && d.contains("authorization"), "{d}");
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
