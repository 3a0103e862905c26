//! Circle (v2 notifications: Circle Wallets, Contracts, Gateway, …):
//! <https://developers.circle.com/api-reference/verify-webhook-signatures>
//! and `GET /v2/notifications/publicKey/{id}`
//! (<https://developers.circle.com/api-reference/wallets/common/get-notification-signature>),
//! docs read 2026-12-02.
//!
//! What Circle's pages say:
//! - every v2 notification carries `X-Circle-Signature` (base64 of an
//!   `ECDSA_SHA_256` signature of the body; DER, as the example
//!   `MEYCIQ…` shows) and `X-Circle-Key-Id` (the UUID of the key);
//! - the key comes from `GET https://api.circle.com/v2/notifications/publicKey/{id}`
//!   with `Authorization: Bearer <API key>`, answered
//!   `{"data": {"id", "algorithm": "ECDSA_SHA_256", "publicKey": <base64 DER
//!   SubjectPublicKeyInfo, P-256>, "createdDate"}}`.
//!
//! CPN (`/v2/cpn/notifications/publicKey/{id}`) and StableFX publish keys at
//! other paths, and v1 notifications (Circle Mint) sign another way: this
//! module fetches from the common v2 path only.
//!
//! The signature covers the body only; Circle's body carries a `timestamp`
//! but signs no header with one, and its docs check no window. The replay
//! guard and the delivery id (`notificationId`) stop a replay. Event type:
//! `notificationType` (`transactions.inbound`, …).
//!
//! The route's secrets are the keys (base64 DER or PEM, P-256): the Worker
//! puts the key fetched for `X-Circle-Key-Id` there ([`CircleSource`], the
//! rules of [`super::fetched_key`]), and a pinned key in `secret_bindings`
//! verifies too.

use base64::{engine::general_purpose::STANDARD, Engine};
#[cfg(any(test, feature = "native-crypto"))]
use p256::ecdsa::{signature::Signer, Signature};
use serde_json::Value;

use super::{
    asymmetric::{Candidate, KeyOrigin, Pending},
    decode_keys, der,
    fetched_key::{classify_failure, host_of, Credentials, KeyAnswer, KeyRequest, KeySource},
    json_labels,
    sendgrid::decode_public_key,
    Inbound, Labels, Proof, Verified, VerifyError,
};
use crate::{config::CircleSettings, headers::Headers, secret::Secret};

/// The signature header.
pub const SIGNATURE_HEADER: &str = "x-circle-signature";
/// The key id header.
pub const KEY_ID_HEADER: &str = "x-circle-key-id";
/// The key id `flowgate send circle` signs with, and the emulator's test key's.
pub const TEST_KEY_ID: &str = "879dc113-5ca4-4ff7-a6b7-54652083fcf8";
/// How long a fetched key is kept (a key id names one key for good).
pub const KEY_TTL_SECS: u64 = 24 * 3600;
/// Circle's name of the algorithm.
pub const ALGORITHM: &str = "ECDSA_SHA_256";
/// Longest `X-Circle-Signature` read (a DER P-256 signature is ≤ 72 bytes).
const MAX_SIGNATURE_LEN: usize = 256;

/// Circle's key ids are UUIDs (8-4-4-4-12 hex digits): nothing else is
/// sent to Circle's API.
pub fn is_valid_key_id(id: &str) -> bool {
    id.len() == 36
        && id.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// The key id and the raw `r ‖ s` signature, read before any fetch.
///
/// # Errors
/// `MissingHeader` / `MalformedHeader` for either header.
pub fn parse_headers(headers: &Headers) -> Result<(String, Vec<u8>), VerifyError> {
    let sig = headers.get(SIGNATURE_HEADER).ok_or(VerifyError::MissingHeader(SIGNATURE_HEADER.into()))?.trim();
    let id = headers.get(KEY_ID_HEADER).ok_or(VerifyError::MissingHeader(KEY_ID_HEADER.into()))?.trim();
    if !is_valid_key_id(id) {
        return Err(VerifyError::MalformedHeader(KEY_ID_HEADER.into()));
    }
    let raw = Some(sig)
        .filter(|s| s.len() <= MAX_SIGNATURE_LEN)
        .and_then(|s| STANDARD.decode(s).ok())
        .and_then(|d| der::ecdsa_der_to_raw(&d, 32))
        .ok_or(VerifyError::MalformedHeader(SIGNATURE_HEADER.into()))?;
    Ok((id.to_ascii_lowercase(), raw))
}

/// The `X-Circle-Signature` value for `body` under `private` (64 hex digits
/// or base64 PKCS#8): for `flowgate send` and tests.
///
/// # Errors
/// As [`super::sendgrid::signing_key`].
#[cfg(any(test, feature = "native-crypto"))]
pub fn sign(private: &Secret, body: &[u8]) -> Result<String, &'static str> {
    let sig: Signature = super::sendgrid::signing_key(private)?.sign(body);
    Ok(STANDARD.encode(sig.to_der().as_bytes()))
}

/// Circle's key endpoint answer for the public key of `private`, named `id`.
///
/// # Errors
/// As [`super::sendgrid::signing_key`].
#[cfg(any(test, feature = "native-crypto"))]
pub fn key_answer(private: &Secret, id: &str) -> Result<Value, &'static str> {
    let spki = super::sendgrid::public_key_base64(private)?;
    Ok(serde_json::json!({"data": {
        "id": id, "algorithm": ALGORITHM, "publicKey": spki, "createdDate": "2024-01-26T18:22:19.779Z",
    }}))
}

pub(super) fn verify<'a>(
    provider: &'static str,
    secrets: &[Secret],
    inbound: Inbound<'a>,
) -> Result<Pending<'a>, VerifyError> {
    let keys = decode_keys(provider, secrets, decode_public_key)?;
    let (_, sig) = parse_headers(inbound.headers)?;
    let candidates = keys.into_iter().enumerate().map(|(secret_index, key)| Candidate { key, secret_index }).collect();
    let then = move |secret_index| {
        Ok(Verified::labelled(provider, secret_index, inbound.body, labels(inbound.body))
            .with_proof(Proof::of_message(&[inbound.body])))
    };
    Ok(Pending::new(provider, inbound.body.to_vec(), sig, candidates, KeyOrigin::RouteSecret, then))
}

/// `notificationType` and `notificationId`.
pub(super) fn labels(body: &[u8]) -> Labels {
    json_labels(body, "notificationType", "notificationId")
}

/// Circle's [`KeySource`]: `GET {api}/v2/notifications/publicKey/{id}` with
/// the API key as a bearer token; the key kept is the base64 SPKI
/// (`circle-key/v1/{host}/{id}`, 24 h).
#[derive(Debug, Clone, Copy)]
pub struct CircleSource<'s>(pub &'s CircleSettings);

impl KeySource for CircleSource<'_> {
    fn sender(&self) -> &'static str {
        "Circle"
    }
    fn unavailable_code(&self) -> &'static str {
        "circle_key_unavailable"
    }
    fn host(&self) -> &str {
        host_of(&self.0.base_url)
    }
    fn credential_bindings(&self) -> Vec<(&str, &'static str)> {
        vec![(self.0.api_key_binding.as_str(), "Circle API key")]
    }
    fn key_id(&self, headers: &Headers) -> Result<String, VerifyError> {
        parse_headers(headers).map(|(id, _)| id)
    }
    fn cache_key(&self, id: &str) -> String {
        format!("circle-key/v1/{}/{id}", self.host())
    }
    fn key_ttl_secs(&self) -> u64 {
        KEY_TTL_SECS
    }
    fn usable(&self, cached: &str, _id: &str) -> bool {
        decode_public_key(&Secret::new(cached)).is_ok()
    }
    fn key_request(&self, id: &str, credentials: &Credentials, _token: Option<&Secret>) -> KeyRequest {
        KeyRequest {
            method: "GET",
            // `id` is a UUID (is_valid_key_id): safe in the path.
            url: format!("{}/v2/notifications/publicKey/{id}", self.0.base_url),
            headers: vec![
                ("authorization", format!("Bearer {}", credentials.first().map_or("", Secret::expose))),
                ("accept", "application/json".to_owned()),
            ],
            body: Vec::new(),
        }
    }
    fn classify(&self, status: u16, retry_after: Option<u64>, body: &[u8], id: &str) -> KeyAnswer {
        let v: Option<Value> = serde_json::from_slice(body).ok();
        if status == 200 {
            let data = v.as_ref().and_then(|v| v.get("data"));
            let field = |k: &str| data.and_then(|d| d.get(k)).and_then(Value::as_str);
            let key = field("publicKey").filter(|_| {
                field("algorithm") == Some(ALGORITHM) && field("id").is_some_and(|i| i.eq_ignore_ascii_case(id))
            });
            return match key.map(|k| k.split_whitespace().collect::<String>()) {
                Some(k) if decode_public_key(&Secret::new(k.as_str())).is_ok() => KeyAnswer::Key(k),
                _ => KeyAnswer::Unavailable { reason: format!("200 without an {ALGORITHM} P-256 key for the id") },
            };
        }
        // Circle's error object: {"code": <n>, "message": "…"}.
        let code = v.as_ref().and_then(|v| v.get("code")).and_then(Value::as_i64).map(|c| format!("{status} code {c}"));
        classify_failure(status, retry_after, &[400, 404], &[401, 403], code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::{find_provider, sendgrid, verify as verify_any};

    const PRIVATE: &str = "2b7e151628aed2a6abf7158809cf4f3c762e7160f38b4da56a784d9045190cfe";
    const OTHER: &str = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";
    const BODY: &[u8] = br#"{"subscriptionId":"d4c07d5f-f05f-4fe4-853d-4dd434806dfb","notificationId":"5c5eea9f-398f-426f-a4a5-1bdc28b36d2c","notificationType":"transactions.inbound","notification":{"id":"ad3f40ac-9d1a-5c2b-8b5d-8b6ff5d3e2a9","blockchain":"MATIC-AMOY","walletId":"01899cf2-d415-7052-a207-f9862157e546","transactionType":"INBOUND","state":"COMPLETE","amounts":["0.01"]},"timestamp":"2024-01-26T18:22:19.779834211Z","version":2}"#;

    fn key(private: &str) -> String {
        sendgrid::public_key_base64(&Secret::new(private)).unwrap()
    }

    fn run_h(h: Headers, body: &[u8], keys: &[String]) -> Result<Verified<'static>, VerifyError> {
        let p = find_provider("circle").unwrap();
        let h: &'static Headers = Box::leak(Box::new(h));
        let body: &'static [u8] = Box::leak(body.to_vec().into_boxed_slice());
        let secrets: Vec<Secret> = keys.iter().map(Secret::new).collect();
        verify_any(p, &p.scheme(), None, &secrets, Inbound::post(h, body, 1_700_000_000))
    }

    fn headers(sig: &str) -> Headers {
        Headers::new().with("X-Circle-Signature", sig).with("X-Circle-Key-Id", TEST_KEY_ID)
    }

    fn run(sig: &str, body: &[u8], keys: &[String]) -> Result<Verified<'static>, VerifyError> {
        run_h(headers(sig), body, keys)
    }

    #[test]
    fn signed_as_circle_signs_round_trips_with_labels() {
        let sig = sign(&Secret::new(PRIVATE), BODY).unwrap();
        let v = run(&sig, BODY, &[key(PRIVATE)]).unwrap();
        assert_eq!(v.event_type(), Some("transactions.inbound"));
        assert_eq!(v.delivery_id(), Some("5c5eea9f-398f-426f-a4a5-1bdc28b36d2c"));
        assert_eq!(run(&sig, BODY, &[key(OTHER), key(PRIVATE)]).unwrap().secret_index(), 1);
        // PEM works as a pinned key.
        let pem = format!("-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n", key(PRIVATE));
        assert!(run(&sig, BODY, &[pem]).is_ok());
    }

    #[test]
    fn tampered_body_signature_or_key_fail() {
        let sig = sign(&Secret::new(PRIVATE), BODY).unwrap();
        for i in [0, BODY.len() / 2, BODY.len() - 1] {
            let mut b = BODY.to_vec();
            b[i] ^= 1;
            assert_eq!(run(&sig, &b, &[key(PRIVATE)]).unwrap_err(), VerifyError::SignatureMismatch);
        }
        assert_eq!(run(&sig, BODY, &[key(OTHER)]).unwrap_err(), VerifyError::SignatureMismatch);
        let mut der = STANDARD.decode(&sig).unwrap();
        let last = der.len() - 1;
        der[last] ^= 1;
        assert_eq!(run(&STANDARD.encode(&der), BODY, &[key(PRIVATE)]).unwrap_err(), VerifyError::SignatureMismatch);
        let forged = sign(&Secret::new(OTHER), BODY).unwrap();
        assert_eq!(run(&forged, BODY, &[key(PRIVATE)]).unwrap_err(), VerifyError::SignatureMismatch);
    }

    #[test]
    fn malformed_headers_are_refused_before_anything_is_fetched() {
        let s = CircleSettings { api_key_binding: "CIRCLE_API_KEY".into(), base_url: crate::config::CIRCLE_API.into() };
        let src = CircleSource(&s);
        let sig = sign(&Secret::new(PRIVATE), BODY).unwrap();
        assert_eq!(src.key_id(&headers(&sig)).unwrap(), TEST_KEY_ID);
        for bad_sig in ["", "!!!", "AAAA", &STANDARD.encode([1u8; 64]), &"A".repeat(400)] {
            let e = src.key_id(&headers(bad_sig)).unwrap_err();
            assert_eq!(e, VerifyError::MalformedHeader(SIGNATURE_HEADER.into()), "{bad_sig}");
            assert_eq!(run(bad_sig, BODY, &[key(PRIVATE)]).unwrap_err(), e);
        }
        for bad_id in
            ["", "not-a-uuid", "879dc113-5ca4-4ff7-a6b7-54652083fcf8/..", "879dc113x5ca4-4ff7-a6b7-54652083fcf8"]
        {
            let h = Headers::new().with("X-Circle-Signature", sig.as_str()).with("X-Circle-Key-Id", bad_id);
            assert_eq!(src.key_id(&h).unwrap_err(), VerifyError::MalformedHeader(KEY_ID_HEADER.into()), "{bad_id}");
        }
        let only_sig = Headers::new().with("X-Circle-Signature", sig.as_str());
        assert_eq!(src.key_id(&only_sig).unwrap_err(), VerifyError::MissingHeader(KEY_ID_HEADER.into()));
        let only_id = Headers::new().with("X-Circle-Key-Id", TEST_KEY_ID);
        assert_eq!(src.key_id(&only_id).unwrap_err(), VerifyError::MissingHeader(SIGNATURE_HEADER.into()));
        assert_eq!(
            run_h(only_id, BODY, &[key(PRIVATE)]).unwrap_err(),
            VerifyError::MissingHeader(SIGNATURE_HEADER.into())
        );
    }

    #[test]
    fn circles_source_asks_with_the_api_key_and_classifies_answers() {
        let s = CircleSettings { api_key_binding: "CIRCLE_API_KEY".into(), base_url: crate::config::CIRCLE_API.into() };
        let src = CircleSource(&s);
        let creds = [Secret::new("TEST_API_KEY:abc:def")];
        let r = src.key_request(TEST_KEY_ID, &creds, None);
        assert_eq!(
            (r.method, r.url.as_str()),
            ("GET", format!("https://api.circle.com/v2/notifications/publicKey/{TEST_KEY_ID}").as_str())
        );
        assert_eq!(r.headers[0], ("authorization", "Bearer TEST_API_KEY:abc:def".to_owned()));
        assert!(src.token_request(&creds).is_none());
        assert_eq!(src.cache_key(TEST_KEY_ID), format!("circle-key/v1/api.circle.com/{TEST_KEY_ID}"));

        let answer = key_answer(&Secret::new(PRIVATE), TEST_KEY_ID).unwrap().to_string();
        assert_eq!(src.classify(200, None, answer.as_bytes(), TEST_KEY_ID), KeyAnswer::Key(key(PRIVATE)));
        // Another id, another algorithm, no key: not usable.
        let other = "00000000-0000-4000-8000-000000000000";
        assert!(matches!(src.classify(200, None, answer.as_bytes(), other), KeyAnswer::Unavailable { .. }));
        let rsa = answer.replace(ALGORITHM, "RSA_SHA_256");
        assert!(matches!(src.classify(200, None, rsa.as_bytes(), TEST_KEY_ID), KeyAnswer::Unavailable { .. }));
        let not_found = br#"{"code":404,"message":"Resource not found"}"#;
        let a = src.classify(404, None, not_found, TEST_KEY_ID);
        assert_eq!(a, KeyAnswer::UnknownKid { code: "404 code 404".into() });
        assert!(matches!(
            src.classify(401, None, br#"{"code":401,"message":"Malformed authorization."}"#, TEST_KEY_ID),
            KeyAnswer::BadCredentials { .. }
        ));
        assert!(matches!(src.classify(429, None, b"", TEST_KEY_ID), KeyAnswer::Throttled { retry_after_secs: None }));
        for s in [500, 503] {
            assert!(matches!(src.classify(s, None, b"", TEST_KEY_ID), KeyAnswer::Unavailable { .. }));
        }
    }
}
