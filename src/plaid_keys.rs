//! Plaid's webhook verification keys, for `provider = "plaid"` routes.
//!
//! Plaid signs each webhook with a key named by the JWT's `kid`; the key (a
//! JWK) comes from `POST {plaid}/webhook_verification_key/get` with the API
//! `client_id` and `secret` (<https://plaid.com/docs/api/webhooks/webhook-verification/>:
//! cache keys by `kid`, fetch the key of an unknown `kid`). Looked up in a
//! per-isolate map, then KV (`plaid-jwk/v1/{host}/{kid}`, 24 h), then Plaid
//! (5 s). The JWK becomes the route's secret for `verify`, which checks the
//! signature, `expired_at`, `iat` and the body hash.
//!
//! Keys are cached per Plaid host, so a sandbox key can never verify a
//! production route that shares the KV namespace. When to ask Plaid and what
//! its answer means are flowgate-core's rules (`verify::plaid::keys`): a
//! `kid` Plaid does not know is a forged request (401) and is remembered for
//! a minute per route; each isolate makes at most a small budget of key
//! requests (a forger sending random kids costs Plaid that much, no more);
//! Plaid's 429 (which also holds fetches back for its `Retry-After`), 5xx,
//! a refusal of the credentials or no answer are 502. The Plaid secret is
//! never logged.

use std::{cell::RefCell, collections::HashMap, time::Duration};

use flowgate_core::{
    config::{PlaidSettings, Route},
    entra::TokenStore,
    verify::{
        plaid::{
            self,
            keys::{classify, FetchPolicy, KeyAnswer, Refusal, FETCH_BURST, FETCH_REFILL_SECS},
        },
        VerifyError,
    },
    Headers, Secret,
};
use serde_json::json;
use worker::Env;

use crate::{
    bindings, http,
    kv_token_store::KvTokenStore,
    log::{now_millis, Record},
    reply::Reply,
};

/// How long a key is kept, in memory and in KV.
const KEY_TTL_SECS: u64 = 24 * 3600;
/// Time allowed for Plaid's key endpoint.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Most keys kept per isolate (Plaid has a handful live at a time).
const MAX_KEYS_IN_MEMORY: usize = 64;

thread_local! {
    // cache key → (JWK JSON, fetched at, Unix seconds).
    static KEYS: RefCell<HashMap<String, (String, u64)>> = RefCell::new(HashMap::new());
    // Unknown kids, the fetch budget and Plaid's 429 hold, for this isolate.
    static POLICY: RefCell<FetchPolicy> = RefCell::new(FetchPolicy::new());
}

/// The JWK for the `kid` of the request's `Plaid-Verification` token, as a
/// route secret; or the answer to give instead (401, 500 or 502, with `rec`
/// filled in).
pub(crate) async fn verification_key(
    env: &Env,
    store: &KvTokenStore,
    route: &Route,
    settings: &PlaidSettings,
    headers: &Headers,
    rec: &mut Record<'_>,
) -> Result<Secret, Reply> {
    let missing = |name: &str, what: &str| {
        format!(
            "route {}: secret {name} ({what}) is not set; run `wrangler secret put {name}` (locally: add it to .dev.vars)",
            route.name
        )
    };
    let credentials = bindings::secret(env, &settings.client_id_binding)
        .ok_or_else(|| missing(&settings.client_id_binding, "Plaid client_id"))
        .and_then(|id| {
            let secret = bindings::secret(env, &settings.secret_binding)
                .ok_or_else(|| missing(&settings.secret_binding, "Plaid secret"))?;
            Ok((id, secret))
        });
    let (client_id, secret) = match credentials {
        Ok(c) => c,
        Err(message) => {
            rec.outcome = "misconfigured";
            rec.message = Some(message);
            return Err(Reply::Misconfigured);
        }
    };

    let Some(kid) = plaid::jwt_kid(headers) else {
        let e = if headers.get(plaid::HEADER).is_none() {
            VerifyError::MissingHeader(plaid::HEADER.into())
        } else {
            VerifyError::MalformedHeader(plaid::HEADER.into())
        };
        return Err(rejected(rec, &e, None));
    };
    let host = settings.base_url.split_once("://").map_or(settings.base_url.as_str(), |(_, h)| h);
    let cache_key = format!("plaid-jwk/v1/{host}/{kid}");
    let now = now_millis() / 1000;

    let in_memory = KEYS.with(|k| {
        k.borrow().get(&cache_key).filter(|(_, at)| at.saturating_add(KEY_TTL_SECS) > now).map(|(j, _)| j.clone())
    });
    if let Some(jwk) = in_memory {
        return Ok(Secret::new(jwk));
    }
    if let Some(jwk) = store.get(&cache_key).await.filter(|j| plaid::parse_jwk(j).is_ok_and(|k| k.kid == kid)) {
        remember(&cache_key, &jwk, now);
        return Ok(Secret::new(jwk));
    }

    // Unknown kids are remembered per route: another route's credentials
    // might be the ones Plaid refuses, and that must still be reported.
    let unknown_key = format!("{}/{cache_key}", route.name);
    let now_ms = now_millis();
    if POLICY.with(|p| p.borrow().known_unknown(&unknown_key, now_ms)) {
        let detail = "Plaid said it does not know the token's kid less than a minute ago; not asked again".to_owned();
        return Err(rejected(rec, &VerifyError::SignatureMismatch, Some(detail)));
    }
    if let Err(refusal) = POLICY.with(|p| p.borrow_mut().admit(now_ms)) {
        let message = match refusal {
            Refusal::Held { retry_after_secs } => format!(
                "Plaid's key endpoint ({host}) answered 429 (rate limited): not asked for {retry_after_secs} s more"
            ),
            Refusal::OverBudget { retry_after_secs } => format!(
                "this isolate's Plaid key fetch budget ({FETCH_BURST}, one more every {FETCH_REFILL_SECS} s) is spent, by tokens naming kids not in the cache: Plaid not asked; the next fetch in {retry_after_secs} s"
            ),
        };
        return Err(unavailable(rec, message));
    }

    let body = json!({ "client_id": client_id.expose(), "secret": secret.expose(), "key_id": kid }).to_string();
    let request_headers = [("content-type", "application/json".to_owned())];
    let answer =
        match http::post(&settings.key_endpoint(), &request_headers, body.as_bytes(), FETCH_TIMEOUT, "content-type")
            .await
        {
            Ok(a) => a,
            Err(e) => {
                return Err(unavailable(rec, format!("Plaid's key endpoint ({host}) failed: {}", e.describe())));
            }
        };
    let verdict = classify(answer.status, answer.retry_after, &answer.body, &kid);
    POLICY.with(|p| p.borrow_mut().record(&unknown_key, &verdict, now_millis()));
    match verdict {
        KeyAnswer::Key(jwk) => {
            store.put(&cache_key, jwk.clone(), KEY_TTL_SECS).await;
            remember(&cache_key, &jwk, now);
            Ok(Secret::new(jwk))
        }
        // Plaid does not know the key the token names: not Plaid's webhook.
        KeyAnswer::UnknownKid { code } => Err(rejected(
            rec,
            &VerifyError::SignatureMismatch,
            Some(format!("Plaid does not know the token's kid ({code})")),
        )),
        KeyAnswer::BadCredentials { code } => Err(unavailable(
            rec,
            format!(
                "Plaid refused the API credentials ({code}): check the secrets {} and {} and that plaid_environment ({host}) is the environment they belong to",
                settings.client_id_binding, settings.secret_binding
            ),
        )),
        KeyAnswer::Throttled { retry_after_secs } => Err(unavailable(
            rec,
            format!(
                "Plaid's key endpoint ({host}) answered 429 (rate limited, Retry-After {}): key fetches held back",
                retry_after_secs.map_or_else(|| "none".to_owned(), |s| format!("{s} s"))
            ),
        )),
        KeyAnswer::Unavailable { reason } => {
            Err(unavailable(rec, format!("Plaid's key endpoint ({host}) answered {reason}")))
        }
    }
}

fn remember(cache_key: &str, jwk: &str, now: u64) {
    KEYS.with(|k| {
        let mut keys = k.borrow_mut();
        if keys.len() >= MAX_KEYS_IN_MEMORY {
            keys.clear();
        }
        keys.insert(cache_key.to_owned(), (jwk.to_owned(), now));
    });
}

/// 401, nothing forwarded.
fn rejected(rec: &mut Record<'_>, e: &VerifyError, detail: Option<String>) -> Reply {
    rec.outcome = "rejected";
    rec.error_code = Some(e.code().to_owned());
    rec.message = Some(detail.unwrap_or_else(|| e.to_string()));
    Reply::InvalidSignature
}

/// 502, nothing forwarded.
fn unavailable(rec: &mut Record<'_>, message: String) -> Reply {
    rec.outcome = "plaid_key_unavailable";
    rec.error_code = Some("plaid_key_unavailable".to_owned());
    rec.message = Some(message);
    Reply::VerificationKeyUnavailable
}
