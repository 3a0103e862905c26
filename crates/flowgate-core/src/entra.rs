//! Microsoft Entra ID client-credentials tokens: the request, the answer,
//! what each failure means, and the cache policy.
//!
//! Cache order (per isolate memory → Workers KV → Entra) and single flight
//! live in [`TokenCache`]; storage and the HTTP call are the traits
//! [`TokenStore`] and [`TokenSource`], implemented by the Worker over KV and
//! `fetch`, and by in-memory doubles in the tests below.
//!
//! Facts: entra-power-automate.md §1.1 (request), §2 (answer, errors).

use std::{cell::RefCell, collections::HashMap, future::Future, rc::Rc};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{config::EntraConfig, secret::Secret};

/// KV's minimum `expirationTtl` (workers-platform.md §1 KV).
pub const KV_MIN_TTL_SECS: u64 = 60;
/// Largest safety margin before expiry; smaller for short-lived tokens.
pub const MAX_EXPIRY_MARGIN_SECS: u64 = 300;

/// The `application/x-www-form-urlencoded` body of a client-secret token request.
pub fn client_secret_form(cfg: &EntraConfig, client_secret: &Secret) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", &cfg.client_id)
        .append_pair("scope", &cfg.scope)
        .append_pair("client_secret", client_secret.expose())
        .append_pair("grant_type", "client_credentials")
        .finish()
}

/// An access token and its lifetime.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedToken {
    /// The bearer token.
    pub access_token: Secret,
    /// When Entra issued it (our clock), seconds since the epoch.
    pub obtained_at: u64,
    /// When it expires, seconds since the epoch.
    pub expires_at: u64,
}

#[derive(Serialize, Deserialize)]
struct KvToken<'a> {
    access_token: &'a str,
    obtained_at: u64,
    expires_at: u64,
}

impl CachedToken {
    /// Seconds before expiry at which the token stops being handed out:
    /// a quarter of its lifetime, at most five minutes.
    pub fn margin(&self) -> u64 {
        (self.expires_at.saturating_sub(self.obtained_at) / 4).min(MAX_EXPIRY_MARGIN_SECS)
    }

    /// True while the token may still be sent (expiry minus the margin).
    pub fn is_usable(&self, now: u64) -> bool {
        now.saturating_add(self.margin()) < self.expires_at
    }

    /// The KV `expirationTtl` for this token: its usable life, never below
    /// KV's 60 s minimum; `None` when it is not worth storing. A token read
    /// back from KV is checked with [`CachedToken::is_usable`] anyway, so the
    /// 60 s floor can never serve an expired token.
    pub fn kv_ttl(&self, now: u64) -> Option<u64> {
        let usable_for = self.expires_at.saturating_sub(self.margin()).saturating_sub(now);
        (usable_for > 0).then(|| usable_for.max(KV_MIN_TTL_SECS))
    }

    /// Serialised form stored in KV.
    pub fn to_kv_value(&self) -> String {
        serde_json::to_string(&KvToken {
            access_token: self.access_token.expose(),
            obtained_at: self.obtained_at,
            expires_at: self.expires_at,
        })
        .expect("plain struct serialises")
    }

    /// Parses a KV value; `None` for anything unexpected (treated as a miss).
    pub fn from_kv_value(s: &str) -> Option<Self> {
        let v: KvToken<'_> = serde_json::from_str(s).ok()?;
        (!v.access_token.is_empty()).then(|| CachedToken {
            access_token: Secret::new(v.access_token),
            obtained_at: v.obtained_at,
            expires_at: v.expires_at,
        })
    }
}

/// The KV key for a credential: tenant, client, scope, authority and a
/// fingerprint of the secret, hashed. A rotated secret therefore never
/// reads a token obtained with the old one, and the key reveals nothing.
pub fn cache_key(cfg: &EntraConfig, client_secret: &Secret) -> String {
    let mut h = Sha256::new();
    for part in [cfg.authority.as_str(), &cfg.tenant, &cfg.client_id, &cfg.scope] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    h.update(Sha256::digest(client_secret.expose().as_bytes()));
    format!("entra-token/v1/{}", hex::encode(&h.finalize()[..16]))
}

/// Why no token could be obtained.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Entra answered with an OAuth error.
    #[error("Entra refused the token request (HTTP {status}, {error}{})", aadsts.map(|c| format!(", AADSTS{c}")).unwrap_or_default())]
    Entra {
        /// HTTP status.
        status: u16,
        /// OAuth `error` value, e.g. `invalid_client`.
        error: String,
        /// First AADSTS code in `error_codes`.
        aadsts: Option<u32>,
        /// Entra's `trace_id`, for Microsoft support.
        trace_id: Option<String>,
        /// `Retry-After` seconds on a 429.
        retry_after: Option<u64>,
    },
    /// The answer was not an Entra token response or error.
    #[error("unexpected answer from the token endpoint (HTTP {status})")]
    Unexpected {
        /// HTTP status.
        status: u16,
    },
    /// The request did not complete (network error or timeout).
    #[error("token endpoint unreachable: {0}")]
    Transport(String),
}

impl TokenError {
    /// One line for the operator: what to fix.
    pub fn hint(&self) -> &'static str {
        match self {
            TokenError::Entra { aadsts: Some(code), .. } => aadsts_hint(*code),
            TokenError::Entra { status: 429, .. } => {
                "Entra is throttling token requests; flowgate caches tokens, so this usually means many isolates or deployments share one app — wait for Retry-After"
            }
            TokenError::Entra { .. } => "Entra rejected the request; see the error code in Entra's documentation",
            TokenError::Unexpected { .. } => {
                "entra.authority does not point at an Entra token endpoint (check the host and the cloud)"
            }
            TokenError::Transport(_) => "the token endpoint could not be reached; check entra.authority; the sender will retry",
        }
    }

    /// A stable label for logs and the sender's error body.
    pub fn code(&self) -> String {
        match self {
            TokenError::Entra { aadsts: Some(c), .. } => format!("AADSTS{c}"),
            TokenError::Entra { error, .. } => error.clone(),
            TokenError::Unexpected { .. } => "unexpected_answer".to_owned(),
            TokenError::Transport(_) => "unreachable".to_owned(),
        }
    }
}

/// What to do about an AADSTS code (reference-error-codes, entra-power-automate.md §2).
pub fn aadsts_hint(code: u32) -> &'static str {
    match code {
        7_000_215 => "invalid client secret: store the secret's Value (not its Secret ID) with `wrangler secret put` under entra.client_secret_binding",
        7_000_222 => "the client secret has expired: create a new one under App registrations → Certificates & secrets and store it with `wrangler secret put`",
        7_000_218 => "no credential was sent: set entra.client_secret_binding and store the secret with `wrangler secret put`",
        700_016 => "no application with entra.client_id in this tenant: check client_id (Application ID, not Object ID), tenant and cloud",
        90_002 => "tenant not found: check entra.tenant, or entra.authority if the tenant is in a sovereign cloud",
        70_011 => "invalid scope: use https://service.flow.microsoft.com//.default (one resource, ending in /.default)",
        700_022 => "only one resource may be requested: use a single scope ending in /.default",
        500_011 => "the resource in entra.scope is not in this tenant: check the scope's host and the cloud",
        53_003 => "blocked by Conditional Access: ask your Entra admin to exclude this workload identity or allow its location",
        9_001_023 | 90_124 | 90_130 => "use a tenant-specific endpoint: set entra.tenant to the tenant GUID or domain, not common/organizations",
        700_027 | 50_012 => "the client assertion was rejected: check the certificate uploaded to the app registration matches the private key",
        90_055 => "Entra is throttling this tenant: wait and retry",
        _ => "see https://learn.microsoft.com/entra/identity-platform/reference-error-codes for this code",
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    token_type: Option<String>,
    access_token: Option<String>,
    expires_in: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ErrorResponse {
    error: String,
    #[serde(default)]
    error_codes: Vec<u32>,
    trace_id: Option<String>,
}

/// Interprets the token endpoint's answer. `now` is when it arrived.
///
/// # Errors
/// [`TokenError::Entra`] for an Entra error body, [`TokenError::Unexpected`]
/// for anything else that is not a usable token.
pub fn parse_token_response(
    status: u16,
    retry_after: Option<u64>,
    body: &[u8],
    now: u64,
) -> Result<CachedToken, TokenError> {
    if (200..300).contains(&status) {
        let r: TokenResponse = serde_json::from_slice(body).map_err(|_| TokenError::Unexpected { status })?;
        // v2 sends a number, v1 a numeric string; accept both.
        let expires_in = match r.expires_in {
            Some(serde_json::Value::Number(n)) => n.as_u64(),
            Some(serde_json::Value::String(s)) => s.parse().ok(),
            _ => None,
        };
        return match (r.token_type.as_deref(), r.access_token, expires_in) {
            (Some(t), Some(tok), Some(exp)) if t.eq_ignore_ascii_case("bearer") && !tok.is_empty() && exp > 0 => {
                Ok(CachedToken {
                    access_token: Secret::new(tok),
                    obtained_at: now,
                    expires_at: now.saturating_add(exp),
                })
            }
            _ => Err(TokenError::Unexpected { status }),
        };
    }
    match serde_json::from_slice::<ErrorResponse>(body) {
        Ok(e) => Err(TokenError::Entra {
            status,
            error: e.error,
            aadsts: e.error_codes.first().copied(),
            trace_id: e.trace_id,
            retry_after,
        }),
        Err(_) if status == 429 => {
            Err(TokenError::Entra { status, error: "throttled".to_owned(), aadsts: None, trace_id: None, retry_after })
        }
        Err(_) => Err(TokenError::Unexpected { status }),
    }
}

/// Where a token came from (for logs and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenOrigin {
    /// This isolate's memory.
    Memory,
    /// Workers KV.
    Kv,
    /// A new request to Entra.
    Entra,
}

impl TokenOrigin {
    /// Lower-case name for logs.
    pub fn name(self) -> &'static str {
        match self {
            TokenOrigin::Memory => "memory",
            TokenOrigin::Kv => "kv",
            TokenOrigin::Entra => "entra",
        }
    }
}

/// The shared cache (Workers KV in the Worker). Failures are swallowed by the
/// implementation: the cache is an optimisation, never the truth.
pub trait TokenStore {
    /// Reads a value.
    fn get(&self, key: &str) -> impl Future<Output = Option<String>>;
    /// Writes a value with a TTL in seconds (≥ 60).
    fn put(&self, key: &str, value: String, ttl_secs: u64) -> impl Future<Output = ()>;
    /// Deletes a value.
    fn delete(&self, key: &str) -> impl Future<Output = ()>;
}

/// Obtains a new token from Entra.
pub trait TokenSource {
    /// Requests a token.
    fn fetch(&self) -> impl Future<Output = Result<CachedToken, TokenError>>;
}

/// Waits without blocking (a timer in the Worker).
pub trait Sleep {
    /// Resolves after about `ms` milliseconds.
    fn sleep(&self, ms: u64) -> impl Future<Output = ()>;
}

/// How often a waiting caller looks for the token another caller is fetching.
const FOLLOWER_POLL_MS: u64 = 10;
/// Removes a leader's `inflight` entry when its lookup ends or is dropped.
struct InflightGuard<'k> {
    inner: Rc<RefCell<Inner>>,
    key: &'k str,
    id: u64,
}

impl Drop for InflightGuard<'_> {
    fn drop(&mut self) {
        let mut i = self.inner.borrow_mut();
        if i.inflight.get(self.key) == Some(&self.id) {
            i.inflight.remove(self.key);
        }
    }
}

#[derive(Default)]
struct Inner {
    memory: HashMap<String, CachedToken>,
    /// Key → id of the caller fetching it now.
    inflight: HashMap<String, u64>,
    /// Key → (id, error) of the last failed fetch, for the callers that waited on it.
    failed: HashMap<String, (u64, TokenError)>,
    /// Key → (id, origin) of the last successful fetch.
    finished: HashMap<String, (u64, TokenOrigin)>,
    next_id: u64,
}

/// Per-isolate token cache: memory, then the [`TokenStore`], then the
/// [`TokenSource`]; concurrent callers for one key share one lookup (and so
/// at most one Entra request). Single-threaded (`Rc`), as a Worker isolate is.
///
/// Waiting callers poll memory on their own timer instead of awaiting the
/// fetching caller's future: in workerd every request has its own I/O
/// context, and a request that only awaits a promise resolved by another
/// request's I/O is cancelled as hung ("The Workers runtime canceled this
/// request because it detected that your Worker's code had hung").
#[derive(Clone, Default)]
pub struct TokenCache {
    inner: Rc<RefCell<Inner>>,
}

impl TokenCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// A usable token for `key`. `avoid` names a token the flow just refused
    /// (401): it is dropped from memory and never returned again, even if
    /// KV still serves it (KV reads can be up to 60 s stale). `max_wait_ms`
    /// bounds how long this caller waits on another caller's fetch before
    /// fetching itself; make it longer than the token endpoint's timeout.
    ///
    /// A caller that waited on another's fetch reports that fetch's origin,
    /// so "fresh from Entra" means the same for every caller.
    ///
    /// # Errors
    /// The [`TokenError`] from Entra when no usable cached token exists.
    #[allow(clippy::too_many_arguments)] // each is a distinct dependency; a struct would only rename them
    pub async fn get<S: TokenStore, F: TokenSource, W: Sleep>(
        &self,
        key: &str,
        now: u64,
        avoid: Option<&Secret>,
        store: &S,
        source: &F,
        sleeper: &W,
        max_wait_ms: u64,
    ) -> Result<(CachedToken, TokenOrigin), TokenError> {
        if let Some(t) = self.usable_in_memory(key, now, avoid) {
            return Ok((t, TokenOrigin::Memory));
        }
        // Another caller is fetching: wait for its result. If it takes too
        // long (or its request was cancelled without finishing), take over;
        // the first to take over becomes the leader the others wait on.
        let mut waited = 0;
        loop {
            let Some(leader) = self.inner.borrow().inflight.get(key).copied() else { break };
            while waited < max_wait_ms && self.inner.borrow().inflight.get(key) == Some(&leader) {
                sleeper.sleep(FOLLOWER_POLL_MS).await;
                waited += FOLLOWER_POLL_MS;
            }
            if let Some(t) = self.usable_in_memory(key, now, avoid) {
                let origin = self.inner.borrow().finished.get(key).map_or(TokenOrigin::Memory, |(_, o)| *o);
                return Ok((t, origin));
            }
            if let Some((id, e)) = self.inner.borrow().failed.get(key) {
                if *id == leader {
                    return Err(e.clone());
                }
            }
            if waited >= max_wait_ms {
                break;
            }
        }

        let id = {
            let mut i = self.inner.borrow_mut();
            i.next_id += 1;
            let id = i.next_id;
            i.inflight.insert(key.to_owned(), id);
            id
        };
        // Clears `inflight` however this future ends, including when the
        // request driving it is cancelled mid-fetch.
        let _guard = InflightGuard { inner: Rc::clone(&self.inner), key, id };
        let result = lookup(key, now, avoid, store, source).await;
        let mut i = self.inner.borrow_mut();
        match &result {
            Ok((t, origin)) => {
                i.memory.insert(key.to_owned(), t.clone());
                i.finished.insert(key.to_owned(), (id, *origin));
                i.failed.remove(key);
            }
            Err(e) => {
                i.failed.insert(key.to_owned(), (id, e.clone()));
            }
        }
        result
    }

    fn usable_in_memory(&self, key: &str, now: u64, avoid: Option<&Secret>) -> Option<CachedToken> {
        let mut inner = self.inner.borrow_mut();
        let t = inner.memory.get(key)?;
        if t.is_usable(now) && avoid.is_none_or(|a| *a != t.access_token) {
            return Some(t.clone());
        }
        inner.memory.remove(key);
        None
    }

    /// Forgets `token` for `key` in this isolate and in the store, after the
    /// flow refused it.
    pub async fn invalidate<S: TokenStore>(&self, key: &str, token: &CachedToken, store: &S) {
        let drop_memory = self.inner.borrow().memory.get(key).is_some_and(|t| t.access_token == token.access_token);
        if drop_memory {
            self.inner.borrow_mut().memory.remove(key);
        }
        store.delete(key).await;
    }

    /// The expiry of the token held in memory for `key`, if any (for status pages; never the token).
    pub fn memory_expiry(&self, key: &str) -> Option<u64> {
        self.inner.borrow().memory.get(key).map(|t| t.expires_at)
    }
}

async fn lookup<S: TokenStore, F: TokenSource>(
    key: &str,
    now: u64,
    avoid: Option<&Secret>,
    store: &S,
    source: &F,
) -> Result<(CachedToken, TokenOrigin), TokenError> {
    if let Some(t) = store.get(key).await.as_deref().and_then(CachedToken::from_kv_value) {
        if t.is_usable(now) && avoid.is_none_or(|a| *a != t.access_token) {
            return Ok((t, TokenOrigin::Kv));
        }
    }
    let token = source.fetch().await?;
    if let Some(ttl) = token.kv_ttl(token.obtained_at) {
        store.put(key, token.to_kv_value(), ttl).await;
    }
    Ok((token, TokenOrigin::Entra))
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use futures::{executor::block_on, future::join_all};

    use super::*;

    fn cfg() -> EntraConfig {
        EntraConfig {
            authority: "https://login.microsoftonline.com".into(),
            tenant: "contoso.onmicrosoft.com".into(),
            client_id: "5b6f2a10-7c1d-4e8f-9a2b-3c4d5e6f7a81".into(),
            scope: "https://service.flow.microsoft.com//.default".into(),
            client_secret_binding: "S".into(),
            timeout_secs: 10,
        }
    }

    #[test]
    fn form_body_keeps_the_double_slash_and_encodes_the_secret() {
        let body = client_secret_form(&cfg(), &Secret::new("a+b/c=d&e"));
        assert_eq!(
            body,
            "client_id=5b6f2a10-7c1d-4e8f-9a2b-3c4d5e6f7a81\
             &scope=https%3A%2F%2Fservice.flow.microsoft.com%2F%2F.default\
             &client_secret=a%2Bb%2Fc%3Dd%26e&grant_type=client_credentials"
        );
    }

    #[test]
    fn cache_key_changes_with_every_credential_part() {
        let s = Secret::new("one");
        let base = cache_key(&cfg(), &s);
        assert!(base.starts_with("entra-token/v1/"));
        assert_ne!(base, cache_key(&cfg(), &Secret::new("two")));
        let mut c = cfg();
        c.tenant = "fabrikam.onmicrosoft.com".into();
        assert_ne!(base, cache_key(&c, &s));
        let mut c = cfg();
        c.scope = "https://service.flow.microsoft.com/.default".into();
        assert_ne!(base, cache_key(&c, &s));
        assert!(!base.contains("one"));
    }

    #[test]
    fn parses_success_v2_and_v1_shapes() {
        let t = parse_token_response(
            200,
            None,
            br#"{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"eyJ"}"#,
            1000,
        )
        .unwrap();
        assert_eq!(t.expires_at, 4599);
        assert_eq!(t.access_token.expose(), "eyJ");
        let t =
            parse_token_response(200, None, br#"{"token_type":"Bearer","expires_in":"3599","access_token":"eyJ"}"#, 0)
                .unwrap();
        assert_eq!(t.expires_at, 3599);
        for bad in [
            &br#"{"token_type":"mac","expires_in":1,"access_token":"x"}"#[..],
            b"{}",
            b"<html>",
            br#"{"token_type":"Bearer","expires_in":0,"access_token":"x"}"#,
        ] {
            assert_eq!(parse_token_response(200, None, bad, 0), Err(TokenError::Unexpected { status: 200 }));
        }
    }

    #[test]
    fn parses_entra_errors_with_hints() {
        let body = br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.","error_codes":[7000215],"timestamp":"2026-11-27 06:00:00Z","trace_id":"t-1","correlation_id":"c-1"}"#;
        let err = parse_token_response(400, None, body, 0).unwrap_err();
        assert_eq!(err.code(), "AADSTS7000215");
        assert!(err.hint().contains("Secret ID"));
        assert!(matches!(err, TokenError::Entra { trace_id: Some(ref t), .. } if t == "t-1"));
        let err = parse_token_response(429, Some(60), b"", 0).unwrap_err();
        assert!(matches!(err, TokenError::Entra { status: 429, retry_after: Some(60), .. }));
        assert_eq!(parse_token_response(502, None, b"<html>", 0), Err(TokenError::Unexpected { status: 502 }));
        for code in [7_000_215, 7_000_222, 700_016, 90_002, 70_011, 53_003] {
            assert!(!aadsts_hint(code).starts_with("see "), "{code} has a specific hint");
        }
    }

    #[test]
    fn usable_window_and_kv_ttl() {
        let t = |obtained, expires| CachedToken {
            access_token: Secret::new("x"),
            obtained_at: obtained,
            expires_at: expires,
        };
        // Hour-long token: 5 min margin.
        let hour = t(0, 3600);
        assert_eq!(hour.margin(), 300);
        assert!(hour.is_usable(3299));
        assert!(!hour.is_usable(3300));
        assert_eq!(hour.kv_ttl(0), Some(3300));
        // Short token: a quarter of its life, and never below KV's 60 s floor.
        let short = t(0, 8);
        assert_eq!(short.margin(), 2);
        assert!(short.is_usable(5));
        assert!(!short.is_usable(6));
        assert_eq!(short.kv_ttl(0), Some(60));
        assert_eq!(short.kv_ttl(6), None);
    }

    #[test]
    fn kv_value_round_trips_and_rejects_garbage() {
        let t = CachedToken { access_token: Secret::new("tok"), obtained_at: 1, expires_at: 2 };
        assert_eq!(CachedToken::from_kv_value(&t.to_kv_value()), Some(t));
        assert_eq!(CachedToken::from_kv_value("garbage"), None);
        assert_eq!(CachedToken::from_kv_value(r#"{"access_token":"","obtained_at":1,"expires_at":2}"#), None);
    }

    /// Returns `Pending` once, as real I/O would, so joined futures interleave.
    async fn yield_now() {
        let mut yielded = false;
        futures::future::poll_fn(|cx| {
            if yielded {
                std::task::Poll::Ready(())
            } else {
                yielded = true;
                cx.waker().wake_by_ref();
                std::task::Poll::Pending
            }
        })
        .await;
    }

    struct Yield;
    impl Sleep for Yield {
        async fn sleep(&self, _ms: u64) {
            yield_now().await;
        }
    }

    /// Counts how often a caller waited.
    #[derive(Default)]
    struct Counting(Cell<u32>);
    impl Sleep for Counting {
        async fn sleep(&self, _ms: u64) {
            self.0.set(self.0.get() + 1);
            yield_now().await;
        }
    }

    #[derive(Default)]
    struct MemStore {
        map: RefCell<HashMap<String, (String, u64)>>,
        gets: Cell<u32>,
        deletes: Cell<u32>,
        stale: RefCell<Option<String>>, // a value returned even after delete (KV staleness)
    }
    impl TokenStore for MemStore {
        async fn get(&self, key: &str) -> Option<String> {
            self.gets.set(self.gets.get() + 1);
            yield_now().await;
            self.map.borrow().get(key).map(|(v, _)| v.clone()).or_else(|| self.stale.borrow().clone())
        }
        async fn put(&self, key: &str, value: String, ttl: u64) {
            assert!(ttl >= KV_MIN_TTL_SECS);
            self.map.borrow_mut().insert(key.to_owned(), (value, ttl));
        }
        async fn delete(&self, key: &str) {
            self.deletes.set(self.deletes.get() + 1);
            self.map.borrow_mut().remove(key);
        }
    }

    struct Source {
        calls: Cell<u32>,
        now: Cell<u64>,
        lifetime: u64,
        fail: Cell<bool>,
        gate: Cell<bool>,
    }
    impl Source {
        fn new(lifetime: u64) -> Rc<Self> {
            Rc::new(Self {
                calls: Cell::new(0),
                now: Cell::new(0),
                lifetime,
                fail: Cell::new(false),
                gate: Cell::new(true),
            })
        }
    }
    impl TokenSource for Source {
        async fn fetch(&self) -> Result<CachedToken, TokenError> {
            self.calls.set(self.calls.get() + 1);
            // Yield (and wait for the gate) so that concurrent callers really overlap.
            yield_now().await;
            while !self.gate.get() {
                yield_now().await;
            }
            if self.fail.get() {
                return Err(TokenError::Transport("down".into()));
            }
            let now = self.now.get();
            Ok(CachedToken {
                access_token: Secret::new(format!("token-{}", self.calls.get())),
                obtained_at: now,
                expires_at: now + self.lifetime,
            })
        }
    }

    #[test]
    fn concurrent_callers_share_one_entra_request() {
        let cache = TokenCache::new();
        let store = Rc::new(MemStore::default());
        let source = Source::new(3600);
        let results = block_on(join_all((0..50).map(|_| cache.get("k", 0, None, &*store, &*source, &Yield, 1000))));
        assert_eq!(source.calls.get(), 1);
        assert!(results.iter().all(|r| r.as_ref().unwrap().0.access_token.expose() == "token-1"));
        assert_eq!(store.map.borrow()["k"].1, 3300);
        // Then memory answers without touching KV.
        let gets = store.gets.get();
        let (_, origin) = block_on(cache.get("k", 10, None, &*store, &*source, &Yield, 1000)).unwrap();
        assert_eq!(origin, TokenOrigin::Memory);
        assert_eq!(store.gets.get(), gets);
    }

    #[test]
    fn a_new_isolate_reads_kv_before_entra() {
        let store = Rc::new(MemStore::default());
        let source = Source::new(3600);
        block_on(TokenCache::new().get("k", 0, None, &*store, &*source, &Yield, 1000)).unwrap();
        let (t, origin) = block_on(TokenCache::new().get("k", 100, None, &*store, &*source, &Yield, 1000)).unwrap();
        assert_eq!(origin, TokenOrigin::Kv);
        assert_eq!(t.access_token.expose(), "token-1");
        assert_eq!(source.calls.get(), 1);
    }

    #[test]
    fn an_expiring_token_is_replaced() {
        let cache = TokenCache::new();
        let store = Rc::new(MemStore::default());
        let source = Source::new(8);
        block_on(cache.get("k", 0, None, &*store, &*source, &Yield, 1000)).unwrap();
        source.now.set(7);
        let (t, origin) = block_on(cache.get("k", 7, None, &*store, &*source, &Yield, 1000)).unwrap();
        assert_eq!(origin, TokenOrigin::Entra);
        assert_eq!(t.access_token.expose(), "token-2");
    }

    #[test]
    fn a_refused_token_is_never_served_again_even_from_stale_kv() {
        let cache = TokenCache::new();
        let store = Rc::new(MemStore::default());
        let source = Source::new(3600);
        let (first, _) = block_on(cache.get("k", 0, None, &*store, &*source, &Yield, 1000)).unwrap();
        *store.stale.borrow_mut() = Some(first.to_kv_value());
        block_on(cache.invalidate("k", &first, &*store));
        assert_eq!(store.deletes.get(), 1);
        let (second, origin) =
            block_on(cache.get("k", 1, Some(&first.access_token), &*store, &*source, &Yield, 1000)).unwrap();
        assert_eq!(origin, TokenOrigin::Entra);
        assert_ne!(second.access_token, first.access_token);
        assert_eq!(source.calls.get(), 2);
    }

    #[test]
    fn a_cancelled_fetch_does_not_leave_waiters_stuck() {
        let cache = TokenCache::new();
        let store = Rc::new(MemStore::default());
        let source = Source::new(3600);
        source.gate.set(false);
        // Start a fetch and drop it mid-way, as workerd does with a cancelled request.
        {
            let mut fut = Box::pin(cache.get("k", 0, None, &*store, &*source, &Yield, 1000));
            let waker = futures::task::noop_waker();
            let mut cx = std::task::Context::from_waker(&waker);
            assert!(fut.as_mut().poll(&mut cx).is_pending());
        }
        source.gate.set(true);
        let counting = Counting::default();
        let (_, origin) = block_on(cache.get("k", 0, None, &*store, &*source, &counting, 1000)).unwrap();
        assert_eq!(origin, TokenOrigin::Entra);
        assert_eq!(counting.0.get(), 0, "the next caller fetched at once instead of waiting on a dead fetch");
    }

    #[test]
    fn waiters_report_the_origin_of_the_fetch_they_waited_on() {
        let cache = TokenCache::new();
        let store = Rc::new(MemStore::default());
        let source = Source::new(3600);
        let results = block_on(join_all((0..3).map(|_| cache.get("k", 0, None, &*store, &*source, &Yield, 1000))));
        assert!(results.iter().all(|r| r.as_ref().unwrap().1 == TokenOrigin::Entra));
        let (_, later) = block_on(cache.get("k", 1, None, &*store, &*source, &Yield, 1000)).unwrap();
        assert_eq!(later, TokenOrigin::Memory);
    }

    #[test]
    fn errors_are_shared_and_not_cached() {
        let cache = TokenCache::new();
        let store = Rc::new(MemStore::default());
        let source = Source::new(3600);
        source.fail.set(true);
        source.gate.set(false);
        let (results, ()) = block_on(async {
            futures::join!(join_all((0..5).map(|_| cache.get("k", 0, None, &*store, &*source, &Yield, 1000))), async {
                // Every caller is waiting on the one request before it fails.
                for _ in 0..3 {
                    yield_now().await;
                }
                source.gate.set(true);
            })
        });
        assert!(results.iter().all(Result::is_err));
        assert_eq!(source.calls.get(), 1);
        source.fail.set(false);
        assert!(block_on(cache.get("k", 1, None, &*store, &*source, &Yield, 1000)).is_ok());
        assert_eq!(source.calls.get(), 2);
        assert!(store.map.borrow().contains_key("k"));
    }
}
