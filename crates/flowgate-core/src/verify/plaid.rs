//! Plaid: <https://plaid.com/docs/api/webhooks/webhook-verification/>
//!
//! What Plaid's page says (read with the search tool, docs and pages corpora):
//! - the `Plaid-Verification` header holds a JWT; its (unverified) header
//!   looks like `{"alg": "ES256", "kid": "bfbd5111-…", "typ": "JWT"}`, and the
//!   webhook must be rejected unless `alg` is `ES256`;
//! - the `kid` names the JWK to fetch with `POST /webhook_verification_key/get`
//!   (`client_id`, `secret`, `key_id`), answered `{"key": {alg, crv, kid, kty,
//!   use, x, y, created_at, expired_at}, "request_id"}`; keys are cached by
//!   `kid` and re-fetched for an unknown one;
//! - the claims are `iat` (reject if older than 5 minutes) and
//!   `request_body_sha256`, the hex SHA-256 of the raw body, compared in
//!   constant time (Plaid's Python example on support.plaid.com, "Webhook
//!   verification example", which also rejects a key whose `expired_at` is set).
//!
//! Plaid sends no delivery id. The event type is `webhook_type.webhook_code`
//! (`TRANSACTIONS.SYNC_UPDATES_AVAILABLE`). Plaid's bodies are JSON indented
//! with two spaces and no trailing newline: a real Plaid-signed token posted
//! publicly (Stack Overflow question 62117400) hashes exactly that body, and
//! verifies here (`a_real_plaid_token_verifies_with_its_published_key`).
//!
//! The route's secrets are JWKs (JSON text, one per secret): the Worker puts
//! the key for the token's `kid` there (memory → KV → Plaid's API, see
//! `src/fetched_keys.rs`), so verification stays synchronous. Only `ES256` is
//! accepted, over the signing input exactly as received; the signature is
//! the raw 64-byte `r‖s` of JWS (RFC 7518 §3.4), base64url without padding.
//!
//! When the Worker asks Plaid for a key, and what Plaid's answers mean
//! (unknown kids remembered, a fetch budget per isolate, 429/5xx as 502):
//! [`keys`].
//!
//! Plaid's token names no client: any Plaid customer can have Plaid send a
//! validly signed webhook to any URL. The flow should check that the body's
//! `item_id` is one of its own.

pub mod keys;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
#[cfg(any(test, feature = "native-crypto"))]
use p256::ecdsa::{signature::Signer, Signature, VerifyingKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{
    asymmetric::{Candidate, KeyOrigin, Pending, PublicKey},
    body_fields::json_path,
    check_window, decode_keys,
    sendgrid::p256_point,
    Inbound, Labels, Proof, Verified, VerifyError,
};
use crate::{
    headers::Headers,
    secret::{ct_eq, Secret},
};

/// The JWT header.
pub const HEADER: &str = "plaid-verification";
/// How old `iat` may be (Plaid: "older than 5 minutes" is rejected).
pub const MAX_AGE_SECS: u64 = 300;
/// The `kid` `flowgate send plaid` signs with, and the emulator's test key's.
pub const TEST_KID: &str = "flowgate-test-plaid-kid";
/// Longest `kid` accepted (Plaid's are UUIDs).
const MAX_KID_LEN: usize = 128;

/// A Plaid webhook verification key (a P-256 JWK).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jwk {
    /// The key id.
    pub kid: String,
    /// The public key (its uncompressed P-256 point).
    pub key: PublicKey,
    /// Unix seconds from which the key is retired, if Plaid says so.
    pub expired_at: Option<u64>,
}

fn b64url_32(v: Option<&Value>) -> Option<[u8; 32]> {
    let bytes = URL_SAFE_NO_PAD.decode(v?.as_str()?).ok()?;
    bytes.try_into().ok()
}

/// A `kid` safe to use in a URL body and a KV key: 1–128 of `A-Z a-z 0-9 - _ .`.
pub fn is_valid_kid(kid: &str) -> bool {
    (1..=MAX_KID_LEN).contains(&kid.len())
        && kid.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Parses a JWK as `/webhook_verification_key/get` returns it: the `key`
/// object, or the whole answer `{"key": {...}}`.
///
/// # Errors
/// A fixed reason when it is not a P-256 (`kty` EC, `crv` P-256, `alg` ES256
/// if present) public key with a `kid`.
pub fn parse_jwk(text: &str) -> Result<Jwk, &'static str> {
    let v: Value = serde_json::from_str(text.trim()).map_err(|_| "is not JSON")?;
    let k = match v.get("key") {
        Some(inner) if inner.is_object() => inner,
        _ => &v,
    };
    if !k.is_object() {
        return Err("is not a JSON object");
    }
    let field = |name: &str| k.get(name).and_then(Value::as_str);
    if field("kty") != Some("EC") || field("crv") != Some("P-256") {
        return Err("is not an EC P-256 JWK (kty EC, crv P-256)");
    }
    if k.get("alg").is_some_and(|a| a.as_str() != Some("ES256")) {
        return Err("is not an ES256 key (alg)");
    }
    if k.get("use").is_some_and(|u| u.as_str() != Some("sig")) {
        return Err("is not a signing key (use)");
    }
    let kid = field("kid").filter(|k| is_valid_kid(k)).ok_or("has no valid kid")?.to_owned();
    let (Some(x), Some(y)) = (b64url_32(k.get("x")), b64url_32(k.get("y"))) else {
        return Err("has no valid x and y (32 bytes each, base64url)");
    };
    // Whether (x, y) is on the curve is checked when the key is imported.
    let key = p256_point(&[&[4u8][..], &x, &y].concat())?;
    let expired_at = match k.get("expired_at") {
        None | Some(Value::Null) => None,
        Some(t) => Some(t.as_u64().ok_or("has an expired_at that is not a Unix time")?),
    };
    Ok(Jwk { kid, key, expired_at })
}

/// The public JWK (as Plaid returns it) of `key`, named `kid`.
#[cfg(any(test, feature = "native-crypto"))]
pub fn public_jwk(key: &VerifyingKey, kid: &str, created_at: u64) -> Value {
    let point = key.to_encoded_point(false);
    let (Some(x), Some(y)) = (point.x(), point.y()) else { unreachable!("an uncompressed point has x and y") };
    json!({
        "alg": "ES256", "crv": "P-256", "kid": kid, "kty": "EC", "use": "sig",
        "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y),
        "created_at": created_at, "expired_at": null,
    })
}

/// The public JWK for a private key in a form [`super::sendgrid::signing_key`]
/// reads (64 hex digits or base64 PKCS#8), named [`TEST_KID`]: the route's
/// secret for what `flowgate send plaid` signs.
///
/// # Errors
/// As [`super::sendgrid::signing_key`].
#[cfg(any(test, feature = "native-crypto"))]
pub fn public_jwk_text(private: &Secret) -> Result<String, &'static str> {
    let key = super::sendgrid::signing_key(private)?;
    Ok(public_jwk(key.verifying_key(), TEST_KID, 0).to_string())
}

/// The claims Plaid signs for `body` at `now`.
pub fn claims(body: &[u8], now: u64) -> Value {
    json!({ "iat": now, "request_body_sha256": hex::encode(Sha256::digest(body)) })
}

/// A compact JWS as Plaid sends it: `{"alg":"ES256","kid":…,"typ":"JWT"}`,
/// `claims`, and the raw `r‖s` ES256 signature (RFC 6979 nonces).
///
/// # Errors
/// A private key in neither form [`super::sendgrid::signing_key`] reads.
#[cfg(any(test, feature = "native-crypto"))]
pub fn sign(private: &Secret, kid: &str, claims: &Value) -> Result<String, &'static str> {
    let key = super::sendgrid::signing_key(private)?;
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "ES256", "kid": kid, "typ": "JWT"}).to_string());
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let input = format!("{header}.{payload}");
    let sig: Signature = key.sign(input.as_bytes());
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes())))
}

/// The token's three parts and its decoded JOSE header.
fn split(token: &str) -> Result<(&str, &str, &str, Value), VerifyError> {
    let malformed = || VerifyError::MalformedHeader(HEADER.into());
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(malformed());
    };
    let header: Value =
        URL_SAFE_NO_PAD.decode(h).ok().and_then(|b| serde_json::from_slice(&b).ok()).ok_or_else(malformed)?;
    Ok((h, p, s, header))
}

/// The `kid` of the token in `Plaid-Verification`, read without verifying
/// anything, so the Worker knows which key to fetch. `None` when the header
/// is absent, not a JWT, not `ES256`, or the `kid` is not a plain id.
pub fn jwt_kid(headers: &Headers) -> Option<String> {
    let (_, _, _, header) = split(headers.get(HEADER)?.trim()).ok()?;
    if header.get("alg").and_then(Value::as_str) != Some("ES256") {
        return None;
    }
    header.get("kid").and_then(Value::as_str).filter(|k| is_valid_kid(k)).map(str::to_owned)
}

pub(super) fn verify<'a>(
    provider: &'static str,
    tolerance_override: Option<u64>,
    secrets: &[Secret],
    inbound: Inbound<'a>,
) -> Result<Pending<'a>, VerifyError> {
    let keys = decode_keys(provider, secrets, |s| parse_jwk(s.expose()))?;
    let malformed = || VerifyError::MalformedHeader(HEADER.into());
    let token = inbound.headers.get(HEADER).ok_or(VerifyError::MissingHeader(HEADER.into()))?.trim();
    let (h, p, s, header) = split(token)?;
    // Plaid: "Ensure that the value of the alg (algorithm) field in the header
    // is ES256. Reject the webhook if this is not the case."
    if header.get("alg").and_then(Value::as_str) != Some("ES256") {
        return Err(malformed());
    }
    let kid = header.get("kid").and_then(Value::as_str).ok_or_else(malformed)?;
    // JWS ES256: the raw 64-byte r ‖ s, as Web Crypto takes it.
    let sig = URL_SAFE_NO_PAD.decode(s).ok().filter(|b| b.len() == 64).ok_or_else(malformed)?;
    let input = &token[..h.len() + 1 + p.len()];
    // The key named by the token, unless Plaid retired it; another key
    // never verifies it.
    let candidates: Vec<Candidate> = keys
        .into_iter()
        .enumerate()
        .filter(|(_, k)| k.kid == kid && k.expired_at.is_none_or(|t| t > inbound.now_secs))
        .map(|(secret_index, k)| Candidate { key: k.key, secret_index })
        .collect();
    let then = move |secret_index| {
        // Claims are read only once the signature matched.
        let claims: Value =
            URL_SAFE_NO_PAD.decode(p).ok().and_then(|b| serde_json::from_slice(&b).ok()).ok_or_else(malformed)?;
        let iat = claims.get("iat").and_then(Value::as_u64).ok_or(VerifyError::MalformedHeader("iat".into()))?;
        check_window(iat, inbound.now_secs, tolerance_override.unwrap_or(MAX_AGE_SECS))?;
        let digest = Sha256::digest(inbound.body);
        let hash_ok = claims
            .get("request_body_sha256")
            .and_then(Value::as_str)
            .and_then(|h| hex::decode(h).ok())
            .is_some_and(|h| ct_eq(&h, &digest));
        if !hash_ok {
            return Err(VerifyError::SignatureMismatch);
        }
        Ok(Verified::labelled(provider, secret_index, inbound.body, labels(inbound.body))
            .with_proof(Proof::of_message(&[input.as_bytes()])))
    };
    // Plaid's keys reach verification as the route's secrets (the Worker
    // puts the fetched key there), so a key the platform refuses is
    // reported as a bad secret, as before.
    Ok(Pending::new(provider, input.as_bytes().to_vec(), sig, candidates, KeyOrigin::RouteSecret, then))
}

/// `webhook_type.webhook_code` (either alone when the other is missing);
/// Plaid sends no delivery id.
pub(super) fn labels(body: &[u8]) -> Labels {
    let body: Option<Value> = serde_json::from_slice(body).ok();
    let event_type = body.as_ref().and_then(|b| match (json_path(b, "webhook_type"), json_path(b, "webhook_code")) {
        (Some(t), Some(c)) => Some(format!("{t}.{c}")),
        (t, c) => t.or(c),
    });
    Labels { event_type, delivery_id: None }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::{find_provider, verify as verify_any};

    // The P-256 private key of RFC 6979 §A.2.5, and another (RFC 6979 §A.2.5's
    // message k for "sample", used only as a second scalar).
    const PRIVATE: &str = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";
    const OTHER: &str = "a6e3c57dd01abe90086538398355dd4c3b17aa873382b0f24d6129493d8aad60";
    const NOW: u64 = 1_700_000_000;
    const BODY: &[u8] = b"{\n  \"environment\": \"sandbox\",\n  \"item_id\": \"wz666MBjYWTp2PDzzggYhM6oWWmBb\",\n  \"webhook_code\": \"SYNC_UPDATES_AVAILABLE\",\n  \"webhook_type\": \"TRANSACTIONS\"\n}";

    fn jwk(private: &str, kid: &str) -> String {
        let key = crate::verify::sendgrid::signing_key(&Secret::new(private)).unwrap();
        public_jwk(key.verifying_key(), kid, 1_560_466_143).to_string()
    }

    fn token(body: &[u8], iat: u64) -> String {
        sign(&Secret::new(PRIVATE), TEST_KID, &claims(body, iat)).unwrap()
    }

    fn run_with(token: &str, body: &[u8], secrets: &[String], now: u64) -> Result<Verified<'static>, VerifyError> {
        let p = find_provider("plaid").unwrap();
        let h: &'static Headers = Box::leak(Box::new(Headers::new().with("Plaid-Verification", token)));
        let body: &'static [u8] = Box::leak(body.to_vec().into_boxed_slice());
        let secrets: Vec<Secret> = secrets.iter().map(Secret::new).collect();
        verify_any(p, &p.scheme(), None, &secrets, Inbound::post(h, body, now))
    }

    fn run(token: &str, body: &[u8]) -> Result<Verified<'static>, VerifyError> {
        run_with(token, body, &[jwk(PRIVATE, TEST_KID)], NOW)
    }

    /// The token with one part replaced.
    fn with_part(token: &str, index: usize, part: &str) -> String {
        let mut parts: Vec<&str> = token.split('.').collect();
        parts[index] = part;
        parts.join(".")
    }

    #[test]
    fn round_trip_with_event_type() {
        let v = run(&token(BODY, NOW), BODY).unwrap();
        assert_eq!(v.event_type(), Some("TRANSACTIONS.SYNC_UPDATES_AVAILABLE"));
        assert_eq!(v.delivery_id(), None);
        assert_eq!(v.provider(), "plaid");
        // Key rotation: the key named by kid is found among several.
        let keys = [jwk(OTHER, "older-kid"), jwk(PRIVATE, TEST_KID)];
        assert_eq!(run_with(&token(BODY, NOW), BODY, &keys, NOW).unwrap().secret_index(), 1);
        // The whole /webhook_verification_key/get answer works as a secret too.
        let answer = format!(r#"{{"key": {}, "request_id": "HvfCtrDLG1ihcp7"}}"#, jwk(PRIVATE, TEST_KID));
        assert!(run_with(&token(BODY, NOW), BODY, &[answer], NOW).is_ok());
    }

    // A token Plaid really signed, its key and its body, as posted publicly on
    // Stack Overflow (question 62117400, "Hashing Plaid Request Body Webhook").
    // The body there was shown re-indented; Plaid's bytes are the 2-space
    // indented JSON below, whose SHA-256 is the token's request_body_sha256.
    const REAL_TOKEN: &str = "eyJhbGciOiJFUzI1NiIsImtpZCI6IjZjNTUxNmUxLTkyZGMtNDc5ZS1hOGZmLTVhNTE5OTJlMDAwMSIsInR5cCI6IkpXVCJ9.eyJpYXQiOjE1OTA4ODcwMDEsInJlcXVlc3RfYm9keV9zaGEyNTYiOiJiNjNhMDdiNTQ3YjAwZjk5MjU0N2Y2YmJjOGQ5YWNjNjFhOGNjZWUxMzhiYzgyZjQ0YTZiYWEwOTY4M2E1ZDBmIn0.OOKvIihgqCj7Qrb2bmz7T3t7uK-0JyjiEqL2s1kWeJBM4MMmjaHKK8GmU_z91QolBWMzvPgs718EElY-rE3cwQ";
    const REAL_KEY: &str = r#"{"alg":"ES256","created_at":1560466143,"crv":"P-256","expired_at":null,"kid":"6c5516e1-92dc-479e-a8ff-5a51992e0001","kty":"EC","use":"sig","x":"35lvC8uz2QrWpQJ3TUH8t9o9DURMp7ydU518RKDl20k","y":"I8BuXB2bvxelzJAd7OKhd-ZwjCst05Fx47Mb_0ugros"}"#;
    const REAL_BODY: &[u8] = b"{\n  \"error\": null,\n  \"item_id\": \"yxQbxDjnD8hr69pKbQpbcKeVn3GL9QuyA7NV3\",\n  \"new_transactions\": 390,\n  \"webhook_code\": \"HISTORICAL_UPDATE\",\n  \"webhook_type\": \"TRANSACTIONS\"\n}";

    #[test]
    fn a_real_plaid_token_verifies_with_its_published_key() {
        let at = 1_590_887_001 + 10;
        let v = run_with(REAL_TOKEN, REAL_BODY, &[REAL_KEY.to_owned()], at).unwrap();
        assert_eq!(v.event_type(), Some("TRANSACTIONS.HISTORICAL_UPDATE"));
        let h = Headers::new().with("Plaid-Verification", REAL_TOKEN);
        assert_eq!(jwt_kid(&h).as_deref(), Some("6c5516e1-92dc-479e-a8ff-5a51992e0001"));
        // Re-indented (as the question shows it), or a day later: refused.
        let four = String::from_utf8(REAL_BODY.to_vec()).unwrap().replace("\n  ", "\n    ");
        let err = run_with(REAL_TOKEN, four.as_bytes(), &[REAL_KEY.to_owned()], at).unwrap_err();
        assert_eq!(err, VerifyError::SignatureMismatch);
        let err = run_with(REAL_TOKEN, REAL_BODY, &[REAL_KEY.to_owned()], at + 86_400).unwrap_err();
        assert_eq!(err, VerifyError::TimestampTooOld);
    }

    #[test]
    fn a_changed_body_fails_the_body_hash() {
        let t = token(BODY, NOW);
        for i in [0, BODY.len() / 2, BODY.len() - 1] {
            let mut b = BODY.to_vec();
            b[i] ^= 0x01;
            assert_eq!(run(&t, &b).unwrap_err(), VerifyError::SignatureMismatch, "{i}");
        }
        let mut longer = BODY.to_vec();
        longer.push(b'\n');
        assert_eq!(run(&t, &longer).unwrap_err(), VerifyError::SignatureMismatch);
        assert_eq!(run(&t, &BODY[..BODY.len() - 1]).unwrap_err(), VerifyError::SignatureMismatch);
        // A token whose claims carry no hash at all.
        let no_hash = sign(&Secret::new(PRIVATE), TEST_KID, &json!({"iat": NOW})).unwrap();
        assert_eq!(run(&no_hash, BODY).unwrap_err(), VerifyError::SignatureMismatch);
    }

    #[test]
    fn iat_older_than_five_minutes_is_refused() {
        assert!(run(&token(BODY, NOW - 300), BODY).is_ok());
        assert_eq!(run(&token(BODY, NOW - 301), BODY).unwrap_err(), VerifyError::TimestampTooOld);
        assert_eq!(run(&token(BODY, NOW + 301), BODY).unwrap_err(), VerifyError::TimestampInFuture);
        let no_iat = sign(
            &Secret::new(PRIVATE),
            TEST_KID,
            &json!({"request_body_sha256": claims(BODY, 0)["request_body_sha256"]}),
        )
        .unwrap();
        assert_eq!(run(&no_iat, BODY).unwrap_err(), VerifyError::MalformedHeader("iat".into()));
        // The route's tolerance_secs replaces the window.
        let p = find_provider("plaid").unwrap();
        let h = Headers::new().with("Plaid-Verification", token(BODY, NOW - 60));
        let secrets = [Secret::new(jwk(PRIVATE, TEST_KID))];
        assert_eq!(
            verify_any(p, &p.scheme(), Some(30), &secrets, Inbound::post(&h, BODY, NOW)).unwrap_err(),
            VerifyError::TimestampTooOld
        );
    }

    #[test]
    fn another_key_or_another_kid_is_refused() {
        let t = token(BODY, NOW);
        // Another key under the same kid.
        assert_eq!(run_with(&t, BODY, &[jwk(OTHER, TEST_KID)], NOW).unwrap_err(), VerifyError::SignatureMismatch);
        // The right key under another kid: the token names a key we do not have.
        assert_eq!(run_with(&t, BODY, &[jwk(PRIVATE, "another")], NOW).unwrap_err(), VerifyError::SignatureMismatch);
        // Signed with another key, naming ours.
        let forged = sign(&Secret::new(OTHER), TEST_KID, &claims(BODY, NOW)).unwrap();
        assert_eq!(run(&forged, BODY).unwrap_err(), VerifyError::SignatureMismatch);
    }

    #[test]
    fn tampered_signature_header_or_claims_are_refused() {
        let t = token(BODY, NOW);
        let parts: Vec<&str> = t.split('.').collect();
        // Signature: one bit changed, truncated, empty, DER instead of r‖s.
        let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        sig[10] ^= 0x01;
        assert_eq!(
            run(&with_part(&t, 2, &URL_SAFE_NO_PAD.encode(&sig)), BODY).unwrap_err(),
            VerifyError::SignatureMismatch
        );
        for bad in [&parts[2][..40], "", "!!!!"] {
            assert_eq!(run(&with_part(&t, 2, bad), BODY).unwrap_err(), VerifyError::MalformedHeader(HEADER.into()));
        }
        let der = Signature::from_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap().to_der();
        assert!(run(&with_part(&t, 2, &URL_SAFE_NO_PAD.encode(der.as_bytes())), BODY).is_err());
        // Header: same alg and kid, another typ (the signature covers it).
        let header = URL_SAFE_NO_PAD.encode(json!({"alg": "ES256", "kid": TEST_KID, "typ": "JOSE"}).to_string());
        assert_eq!(run(&with_part(&t, 0, &header), BODY).unwrap_err(), VerifyError::SignatureMismatch);
        // Claims: a fresher iat or another body's hash under the same signature.
        let claims_b64 = URL_SAFE_NO_PAD.encode(claims(BODY, NOW + 60).to_string());
        assert_eq!(run(&with_part(&t, 1, &claims_b64), BODY).unwrap_err(), VerifyError::SignatureMismatch);
        let other = URL_SAFE_NO_PAD.encode(claims(b"{}", NOW).to_string());
        assert_eq!(run(&with_part(&t, 1, &other), b"{}").unwrap_err(), VerifyError::SignatureMismatch);
        // Shapes that are not a compact JWS; base64 padding; no header.
        for junk in ["", "a.b", "a.b.c.d", &format!("{t}.x"), &format!("{}=.{}.{}", parts[0], parts[1], parts[2])] {
            assert_eq!(run(junk, BODY).unwrap_err(), VerifyError::MalformedHeader(HEADER.into()), "{junk}");
        }
        let p = find_provider("plaid").unwrap();
        let h = Headers::new();
        let secrets = [Secret::new(jwk(PRIVATE, TEST_KID))];
        assert_eq!(
            verify_any(p, &p.scheme(), None, &secrets, Inbound::post(&h, BODY, NOW)).unwrap_err(),
            VerifyError::MissingHeader(HEADER.into())
        );
    }

    #[test]
    fn only_es256_is_accepted() {
        let payload = URL_SAFE_NO_PAD.encode(claims(BODY, NOW).to_string());
        let hs_key = jwk(PRIVATE, TEST_KID);
        for alg in [json!("none"), json!("HS256"), json!("ES384"), json!("RS256"), json!("es256"), Value::Null] {
            let header = URL_SAFE_NO_PAD.encode(json!({"alg": alg, "kid": TEST_KID, "typ": "JWT"}).to_string());
            let input = format!("{header}.{payload}");
            // alg none: no signature; HS256: an HMAC keyed with the public JWK text
            // (the classic confusion); others: a valid ES256 signature under a lying alg.
            let hmac = {
                use hmac::{Hmac, Mac};
                let mut m = Hmac::<Sha256>::new_from_slice(hs_key.as_bytes()).unwrap();
                m.update(input.as_bytes());
                URL_SAFE_NO_PAD.encode(m.finalize().into_bytes())
            };
            let key = crate::verify::sendgrid::signing_key(&Secret::new(PRIVATE)).unwrap();
            let es: Signature = key.sign(input.as_bytes());
            for sig in [String::new(), hmac, URL_SAFE_NO_PAD.encode(es.to_bytes())] {
                let h = Headers::new().with("Plaid-Verification", format!("{input}.{sig}"));
                assert_eq!(jwt_kid(&h), None, "{alg}");
                assert_eq!(
                    run(&format!("{input}.{sig}"), BODY).unwrap_err(),
                    VerifyError::MalformedHeader(HEADER.into()),
                    "{alg}"
                );
            }
        }
        // No kid at all.
        let header = URL_SAFE_NO_PAD.encode(json!({"alg": "ES256", "typ": "JWT"}).to_string());
        let t = with_part(&token(BODY, NOW), 0, &header);
        assert_eq!(run(&t, BODY).unwrap_err(), VerifyError::MalformedHeader(HEADER.into()));
    }

    #[test]
    fn an_expired_key_is_refused_and_a_future_expiry_is_not() {
        let mut key: Value = serde_json::from_str(&jwk(PRIVATE, TEST_KID)).unwrap();
        key["expired_at"] = json!(NOW - 1);
        let t = token(BODY, NOW);
        assert_eq!(run_with(&t, BODY, &[key.to_string()], NOW).unwrap_err(), VerifyError::SignatureMismatch);
        key["expired_at"] = json!(NOW);
        assert_eq!(run_with(&t, BODY, &[key.to_string()], NOW).unwrap_err(), VerifyError::SignatureMismatch);
        key["expired_at"] = json!(NOW + 3600);
        assert!(run_with(&t, BODY, &[key.to_string()], NOW).is_ok());
    }

    #[test]
    fn jwks_are_checked_as_configuration() {
        let good: Value = serde_json::from_str(&jwk(PRIVATE, TEST_KID)).unwrap();
        let mutate = |f: &dyn Fn(&mut Value)| {
            let mut v = good.clone();
            f(&mut v);
            v.to_string()
        };
        let bad = [
            "not json".to_owned(),
            "[]".to_owned(),
            mutate(&|v| v["kty"] = json!("RSA")),
            mutate(&|v| v["crv"] = json!("P-384")),
            mutate(&|v| v["alg"] = json!("HS256")),
            mutate(&|v| v["use"] = json!("enc")),
            mutate(&|v| v["kid"] = json!("")),
            mutate(&|v| v["kid"] = json!("a/b")),
            mutate(&|v| v["x"] = json!("AAAA")),
            mutate(&|v| {
                v.as_object_mut().unwrap().remove("y");
            }),
            mutate(&|v| v["y"] = v["x"].clone()),
            mutate(&|v| v["expired_at"] = json!("soon")),
        ];
        for b in &bad {
            let err = run_with(&token(BODY, NOW), BODY, std::slice::from_ref(b), NOW).unwrap_err();
            assert!(err.is_config_error(), "{b}: {err}");
        }
        let parsed = parse_jwk(REAL_KEY).unwrap();
        assert_eq!((parsed.kid.as_str(), parsed.expired_at), ("6c5516e1-92dc-479e-a8ff-5a51992e0001", None));
        assert_eq!(public_jwk_text(&Secret::new(PRIVATE)).unwrap(), {
            let mut v = good.clone();
            v["created_at"] = json!(0);
            v.to_string()
        });
    }

    #[test]
    fn kid_is_read_without_verifying_and_only_when_plain() {
        let h = |t: &str| Headers::new().with("Plaid-Verification", t);
        assert_eq!(jwt_kid(&h(&token(BODY, NOW))).as_deref(), Some(TEST_KID));
        assert_eq!(jwt_kid(&Headers::new()), None);
        assert_eq!(jwt_kid(&h("garbage")), None);
        for kid in [json!("../../x"), json!("a b"), json!(42), json!("k".repeat(129))] {
            let header = URL_SAFE_NO_PAD.encode(json!({"alg": "ES256", "kid": kid}).to_string());
            assert_eq!(jwt_kid(&h(&with_part(&token(BODY, NOW), 0, &header))), None, "{kid}");
        }
    }
}
