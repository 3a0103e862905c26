//! Verification keys fetched by id from the sender's API: Plaid (the JWT's
//! `kid`), eBay (the `kid` in `X-EBAY-SIGNATURE`) and Circle
//! (`X-Circle-Key-Id`). One fetcher for all three; what to ask, of which
//! host, with which credential, what to keep, for how long, and what each
//! answer means, are flowgate-core's rules (`verify::fetched_key`, one
//! `KeySource` per sender), tested natively. This file only does the I/O.
//!
//! A key is looked up in a per-isolate map, then KV (the source's versioned,
//! per-host cache key, kept for the source's TTL), then the sender's API (5 s,
//! no redirects). The key text becomes the route's secret for `verify`.
//! Keys are cached per host, so a sandbox key can never verify a production
//! route sharing the KV namespace.
//!
//! An id the sender does not know is a forged request (401) and is
//! remembered for a minute per route; each isolate makes at most a small
//! budget of key requests per sender (a forger sending random ids costs the
//! sender that much, no more); the host's 429 (which also holds fetches back
//! for its `Retry-After`), 5xx, a refusal of the credentials or no answer
//! are 502. eBay's OAuth application token is fetched first, only when a
//! key fetch was admitted, and kept in this isolate's memory only (never in
//! KV) until shortly before it expires. No credential, token or body is
//! ever logged.

use std::{cell::RefCell, collections::HashMap, time::Duration};

use flowgate_core::{
    config::Route,
    entra::TokenStore,
    verify::{
        fetched_key::{
            FetchPolicy, KeyAnswer, KeyRequest, KeySource, Refusal, TokenAnswer, FETCH_BURST, FETCH_REFILL_SECS,
        },
        VerifyError,
    },
    Headers, Secret,
};
use worker::{Env, Method};

use crate::{
    bindings, http,
    kv_token_store::KvTokenStore,
    log::{now_millis, Record},
    reply::Reply,
};

/// Time allowed for a key host (and eBay's token endpoint).
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Most keys kept per isolate (senders have a handful live at a time).
const MAX_KEYS_IN_MEMORY: usize = 64;
/// Most OAuth tokens kept per isolate (one per app and host).
const MAX_TOKENS_IN_MEMORY: usize = 16;

thread_local! {
    // cache key → (key text, fetched at, Unix seconds, kept for seconds).
    static KEYS: RefCell<HashMap<String, (String, u64, u64)>> = RefCell::new(HashMap::new());
    // Unknown ids, the fetch budget and the host's 429 hold, per sender, for this isolate.
    static POLICY: RefCell<HashMap<&'static str, FetchPolicy>> = RefCell::new(HashMap::new());
    // token cache key → (token, valid until, Unix seconds).
    static TOKENS: RefCell<HashMap<String, (Secret, u64)>> = RefCell::new(HashMap::new());
}

fn with_policy<T>(sender: &'static str, f: impl FnOnce(&mut FetchPolicy) -> T) -> T {
    POLICY.with(|p| f(p.borrow_mut().entry(sender).or_default()))
}

/// The key the request names, as a route secret; or the answer to give
/// instead (400/401, 500 or 502, with `rec` filled in).
pub(crate) async fn verification_key(
    env: &Env,
    store: &KvTokenStore,
    route: &Route,
    source: &dyn KeySource,
    headers: &Headers,
    rec: &mut Record<'_>,
) -> Result<Secret, Reply> {
    let sender = source.sender();
    let host = source.host().to_owned();

    // (1) The credential, from wrangler secrets.
    let mut credentials = Vec::new();
    for (binding, what) in source.credential_bindings() {
        match bindings::secret(env, binding) {
            Some(s) => credentials.push(s),
            None => {
                rec.outcome = "misconfigured";
                rec.message = Some(format!(
                    "route {}: secret {binding} ({what}) is not set; run `wrangler secret put {binding}` (locally: add it to .dev.vars)",
                    route.name
                ));
                return Err(Reply::Misconfigured);
            }
        }
    }

    // (2) The id, read without verifying; a malformed header costs no fetch.
    let id = match source.key_id(headers) {
        Ok(id) => id,
        Err(e) => return Err(rejected(rec, &e, None)),
    };
    let cache_key = source.cache_key(&id);
    let now = now_millis() / 1000;

    // (3) This isolate's memory, then KV.
    let in_memory = KEYS.with(|k| {
        k.borrow().get(&cache_key).filter(|(_, at, ttl)| at.saturating_add(*ttl) > now).map(|(text, _, _)| text.clone())
    });
    if let Some(text) = in_memory {
        return Ok(Secret::new(text));
    }
    if let Some(text) = store.get(&cache_key).await.filter(|t| source.usable(t, &id)) {
        remember(&cache_key, &text, now, source.key_ttl_secs());
        return Ok(Secret::new(text));
    }

    // (4) The rules: a known-unknown id, a held or spent budget.
    // Unknown ids are remembered per route: another route's credentials
    // might be the ones the host refuses, and that must still be reported.
    let unknown_key = format!("{}/{cache_key}", route.name);
    let now_ms = now_millis();
    if with_policy(sender, |p| p.known_unknown(&unknown_key, now_ms)) {
        let detail = format!("{sender} said it does not know the key id less than a minute ago; not asked again");
        return Err(rejected(rec, &VerifyError::SignatureMismatch, Some(detail)));
    }
    if let Err(refusal) = with_policy(sender, |p| p.admit(now_ms)) {
        let message = match refusal {
            Refusal::Held { retry_after_secs } => format!(
                "{sender}'s key endpoint ({host}) answered 429 (rate limited): not asked for {retry_after_secs} s more"
            ),
            Refusal::OverBudget { retry_after_secs } => format!(
                "this isolate's {sender} key fetch budget ({FETCH_BURST}, one more every {FETCH_REFILL_SECS} s) is spent, by requests naming key ids not in the cache: {sender} not asked; the next fetch in {retry_after_secs} s"
            ),
        };
        return Err(unavailable(rec, source, message));
    }

    // (5) eBay: an OAuth application token first (memory, or the token endpoint).
    let token = match token(source, &credentials, now).await {
        Ok(t) => t,
        Err(answer) => {
            with_policy(sender, |p| p.record(&unknown_key, &answer, now_millis()));
            return Err(refused(rec, source, route, &host, answer, "token endpoint"));
        }
    };

    // (6) The key.
    let request = source.key_request(&id, &credentials, token.as_ref());
    let answer = match send(&request).await {
        Ok(a) => a,
        Err(e) => {
            return Err(unavailable(rec, source, format!("{sender}'s key endpoint ({host}) failed: {}", e.describe())))
        }
    };
    let verdict = source.classify(answer.status, answer.retry_after, &answer.body, &id);
    with_policy(sender, |p| p.record(&unknown_key, &verdict, now_millis()));
    if matches!(verdict, KeyAnswer::BadCredentials { .. }) {
        // A refused token is not kept: the next fetch asks for a new one.
        TOKENS.with(|t| t.borrow_mut().remove(&source.token_cache_key(&credentials)));
    }
    match verdict {
        KeyAnswer::Key(text) => {
            store.put(&cache_key, text.clone(), source.key_ttl_secs()).await;
            remember(&cache_key, &text, now, source.key_ttl_secs());
            Ok(Secret::new(text))
        }
        other => Err(refused(rec, source, route, &host, other, "key endpoint")),
    }
}

/// The bearer token the source's key endpoint takes, if it takes one.
async fn token(source: &dyn KeySource, credentials: &[Secret], now: u64) -> Result<Option<Secret>, KeyAnswer> {
    let Some(request) = source.token_request(credentials) else { return Ok(None) };
    let key = source.token_cache_key(credentials);
    if let Some(t) = TOKENS.with(|t| t.borrow().get(&key).filter(|(_, until)| *until > now).map(|(s, _)| s.clone())) {
        return Ok(Some(t));
    }
    let answer = send(&request)
        .await
        .map_err(|e| KeyAnswer::Unavailable { reason: format!("token endpoint failed: {}", e.describe()) })?;
    match source.classify_token(answer.status, answer.retry_after, &answer.body) {
        TokenAnswer::Token { token, ttl_secs } => {
            TOKENS.with(|t| {
                let mut t = t.borrow_mut();
                if t.len() >= MAX_TOKENS_IN_MEMORY {
                    t.clear();
                }
                t.insert(key, (token.clone(), now.saturating_add(ttl_secs)));
            });
            Ok(Some(token))
        }
        TokenAnswer::Refused(a) => Err(a),
    }
}

async fn send(request: &KeyRequest) -> Result<http::Answer, http::Failure> {
    let (method, body) = match request.method {
        "GET" => (Method::Get, None),
        _ => (Method::Post, Some(request.body.as_slice())),
    };
    http::send(method, &request.url, &request.headers, body, FETCH_TIMEOUT, "content-type").await
}

/// The answer for a key the host did not give.
fn refused(
    rec: &mut Record<'_>,
    source: &dyn KeySource,
    route: &Route,
    host: &str,
    answer: KeyAnswer,
    what: &str,
) -> Reply {
    let sender = source.sender();
    match answer {
        // The host does not know the key the request names: not the sender's.
        KeyAnswer::UnknownKid { code } => rejected(
            rec,
            &VerifyError::SignatureMismatch,
            Some(format!("{sender} does not know the request's key id ({code})")),
        ),
        KeyAnswer::BadCredentials { code } => {
            let names: Vec<&str> = source.credential_bindings().into_iter().map(|(b, _)| b).collect();
            unavailable(
                rec,
                source,
                format!(
                    "{sender}'s {what} ({host}) refused the API credentials ({code}): check the secrets {} of route {} and that they belong to this environment",
                    names.join(" and "),
                    route.name
                ),
            )
        }
        KeyAnswer::Throttled { retry_after_secs } => unavailable(
            rec,
            source,
            format!(
                "{sender}'s {what} ({host}) answered 429 (rate limited, Retry-After {}): key fetches held back",
                retry_after_secs.map_or_else(|| "none".to_owned(), |s| format!("{s} s"))
            ),
        ),
        KeyAnswer::Unavailable { reason } => {
            unavailable(rec, source, format!("{sender}'s {what} ({host}) answered {reason}"))
        }
        KeyAnswer::Key(_) => unavailable(rec, source, format!("{sender}'s {what} ({host}): unexpected key")),
    }
}

fn remember(cache_key: &str, text: &str, now: u64, ttl: u64) {
    KEYS.with(|k| {
        let mut keys = k.borrow_mut();
        if keys.len() >= MAX_KEYS_IN_MEMORY {
            keys.clear();
        }
        keys.insert(cache_key.to_owned(), (text.to_owned(), now, ttl));
    });
}

/// 401 (or 400 for a malformed header), nothing forwarded.
fn rejected(rec: &mut Record<'_>, e: &VerifyError, detail: Option<String>) -> Reply {
    rec.outcome = "rejected";
    rec.error_code = Some(e.code().to_owned());
    rec.message = Some(detail.unwrap_or_else(|| e.to_string()));
    Reply::InvalidSignature
}

/// 502, nothing forwarded.
fn unavailable(rec: &mut Record<'_>, source: &dyn KeySource, message: String) -> Reply {
    rec.outcome = source.unavailable_code();
    rec.error_code = Some(source.unavailable_code().to_owned());
    rec.message = Some(message);
    Reply::VerificationKeyUnavailable
}
