//! When flowgate asks Plaid for a verification key, and what Plaid's answer
//! means (issue #11, item 5): Plaid's [`KeySource`], driven by the Worker's
//! generic fetcher (`src/fetched_keys.rs`) under the rules of
//! [`super::super::fetched_key`] (unknown kids remembered, a fetch budget,
//! 429/5xx as 502).
//!
//! Only Plaid's "no such key" answer (400 with an `INVALID_INPUT` or
//! `INVALID_REQUEST` error that is not about the credentials) makes a 401.
//! Plaid's error object is `{error_type, error_code, error_message, …}`
//! (Plaid's errors reference); credential errors (`INVALID_API_KEYS`,
//! `UNAUTHORIZED_ENVIRONMENT`) are 400 too, and are the operator's to fix.

use serde_json::{json, Value};

pub use super::super::fetched_key::{
    FetchPolicy, KeyAnswer, Refusal, DEFAULT_HOLD_SECS, FETCH_BURST, FETCH_REFILL_SECS, MAX_HOLD_SECS,
    NEGATIVE_TTL_SECS,
};
use super::{
    super::{
        fetched_key::{host_of, Credentials, KeyRequest, KeySource},
        VerifyError,
    },
    jwt_kid, parse_jwk, HEADER,
};
use crate::{config::PlaidSettings, headers::Headers, secret::Secret};

/// How long a Plaid key is kept, in memory and in KV.
pub const KEY_TTL_SECS: u64 = 24 * 3600;

/// Plaid error codes about the API credentials or environment, not the key.
const CREDENTIAL_ERRORS: [&str; 3] = ["INVALID_API_KEYS", "UNAUTHORIZED_ENVIRONMENT", "UNAUTHORIZED_ROUTE_ACCESS"];

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

/// Plaid's [`KeySource`]: `POST {base}/webhook_verification_key/get` with
/// `{client_id, secret, key_id}`; the key kept is the JWK
/// (`plaid-jwk/v1/{host}/{kid}`, 24 h).
#[derive(Debug, Clone, Copy)]
pub struct PlaidSource<'s>(pub &'s PlaidSettings);

impl KeySource for PlaidSource<'_> {
    fn sender(&self) -> &'static str {
        "Plaid"
    }
    fn unavailable_code(&self) -> &'static str {
        "plaid_key_unavailable"
    }
    fn host(&self) -> &str {
        host_of(&self.0.base_url)
    }
    fn credential_bindings(&self) -> Vec<(&str, &'static str)> {
        vec![(self.0.client_id_binding.as_str(), "Plaid client_id"), (self.0.secret_binding.as_str(), "Plaid secret")]
    }
    fn key_id(&self, headers: &Headers) -> Result<String, VerifyError> {
        jwt_kid(headers).ok_or_else(|| {
            if headers.get(HEADER).is_none() {
                VerifyError::MissingHeader(HEADER.into())
            } else {
                VerifyError::MalformedHeader(HEADER.into())
            }
        })
    }
    fn cache_key(&self, id: &str) -> String {
        format!("plaid-jwk/v1/{}/{id}", self.host())
    }
    fn key_ttl_secs(&self) -> u64 {
        KEY_TTL_SECS
    }
    fn usable(&self, cached: &str, id: &str) -> bool {
        parse_jwk(cached).is_ok_and(|k| k.kid == id)
    }
    fn key_request(&self, id: &str, credentials: &Credentials, _token: Option<&Secret>) -> KeyRequest {
        let value = |i: usize| credentials.get(i).map_or("", Secret::expose);
        KeyRequest {
            method: "POST",
            url: self.0.key_endpoint(),
            headers: vec![("content-type", "application/json".to_owned())],
            body: json!({ "client_id": value(0), "secret": value(1), "key_id": id }).to_string().into_bytes(),
        }
    }
    fn classify(&self, status: u16, retry_after: Option<u64>, body: &[u8], id: &str) -> KeyAnswer {
        classify(status, retry_after, body, id)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::config::PlaidSettings as Settings;
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
    fn plaids_source_asks_the_configured_host_and_keeps_the_jwk_per_host() {
        let s = Settings {
            client_id_binding: "PLAID_CLIENT_ID".into(),
            secret_binding: "PLAID_SECRET".into(),
            base_url: "https://sandbox.plaid.com".into(),
        };
        let src = PlaidSource(&s);
        assert_eq!(src.cache_key(KID), format!("plaid-jwk/v1/sandbox.plaid.com/{KID}"));
        let creds = [Secret::new("cid"), Secret::new("sek")];
        let r = src.key_request(KID, &creds, None);
        assert_eq!((r.method, r.url.as_str()), ("POST", "https://sandbox.plaid.com/webhook_verification_key/get"));
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body, json!({"client_id": "cid", "secret": "sek", "key_id": KID}));
        assert!(src.token_request(&creds).is_none());
        let h = Headers::new();
        assert_eq!(src.key_id(&h), Err(VerifyError::MissingHeader(HEADER.into())));
        let h = Headers::new().with(HEADER, "junk");
        assert_eq!(src.key_id(&h), Err(VerifyError::MalformedHeader(HEADER.into())));
    }
}
