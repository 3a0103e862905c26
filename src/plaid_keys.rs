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
//! production route that shares the KV namespace. A `kid` Plaid does not
//! know is a forged request (401); Plaid refusing the credentials, or not
//! answering, is a 502. The Plaid secret is never logged.

use std::{cell::RefCell, collections::HashMap, time::Duration};

use flowgate_core::{
    config::{PlaidSettings, Route},
    entra::TokenStore,
    verify::{plaid, VerifyError},
    Headers, Secret,
};
use serde_json::{json, Value};
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
    let parsed: Option<Value> = serde_json::from_slice(&answer.body).ok();
    if answer.status == 200 {
        let jwk = parsed.as_ref().and_then(|v| v.get("key")).filter(|k| k.is_object()).map(Value::to_string);
        return match jwk.filter(|j| plaid::parse_jwk(j).is_ok_and(|k| k.kid == kid)) {
            Some(jwk) => {
                store.put(&cache_key, jwk.clone(), KEY_TTL_SECS).await;
                remember(&cache_key, &jwk, now);
                Ok(Secret::new(jwk))
            }
            None => Err(unavailable(
                rec,
                format!("Plaid's key endpoint ({host}) answered 200 without a P-256 JWK for the kid"),
            )),
        };
    }
    let code = parsed.as_ref().and_then(|v| v.get("error_code")).and_then(Value::as_str).map(str::to_owned);
    match (answer.status, code) {
        (400..=499, Some(code)) if code == "INVALID_API_KEYS" => Err(unavailable(
            rec,
            format!(
                "Plaid refused the API credentials (INVALID_API_KEYS): check the secrets {} and {} and that plaid_environment ({host}) is the environment they belong to",
                settings.client_id_binding, settings.secret_binding
            ),
        )),
        // Plaid does not know the key the token names: not Plaid's webhook.
        (400..=499, Some(code)) => Err(rejected(rec, &VerifyError::SignatureMismatch, Some(format!(
            "Plaid does not know the token's kid ({code})"
        )))),
        (status, code) => Err(unavailable(
            rec,
            format!("Plaid's key endpoint ({host}) answered {status} {}", code.unwrap_or_default()),
        )),
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
