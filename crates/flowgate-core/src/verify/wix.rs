//! Wix app webhooks (<https://dev.wix.com/docs/build-apps/develop-your-app/api-integrations/events-and-webhooks/about-webhooks>,
//! "Handle Events with Webhooks for Self-hosting" with and without the
//! JavaScript SDK, and `@wix/sdk`'s source, read 2026-12-02):
//!
//! - "Event data is sent as a JSON web token (JWT) in the body of the webhook
//!   request": the **body is a JWT** (compact JWS), signed RS256 with the
//!   app's key; the app's *public* key is on the Webhooks page of its
//!   dashboard ("Get Public Key"; also "View ID & keys"), and is the route's
//!   secret (PEM, base64 DER SubjectPublicKeyInfo, or base64 of the PEM);
//! - Wix's SDK (`@wix/sdk` 1.21: `AppStrategy({publicKey}).decodeJWT`, then
//!   `webhooks.process`) verifies it with jose's `jwtVerify(body,
//!   importSPKI(publicKey, "RS256"))` — the signature, then `exp`/`nbf` when
//!   present — and parses `payload.data`, `{"data": "<event JSON, a
//!   string>", "instanceId": …, "eventType": …}`, then its `data`; the
//!   docs' Express sample does the same with jsonwebtoken's `jwt.verify`.
//!   `tests/e2e/sender_sdks.rs` runs that SDK against `flowgate send wix`.
//!
//! flowgate checks the signature over `header.payload` through the signature
//! port (Web Crypto in the Worker), takes only `alg: RS256` — never `none`,
//! never an HMAC keyed with the public key (the classic confusion), never
//! another RSA or EC algorithm —, then `exp` and `nbf` when present, and with
//! the route's `tolerance_secs` an `iat` window (Wix documents none). The
//! body is forwarded byte-exact, still the JWT: the flow decodes the payload
//! as Wix's samples do, and what it decodes is exactly what was verified.
//!
//! Event type: the `eventType` inside `data`. No delivery id: Wix documents
//! none that a retry keeps.

use base64::{
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
    Engine as _,
};
use serde_json::Value;

use super::{
    asymmetric::{Algorithm, Candidate, KeyOrigin, Pending, PublicKey},
    check_window, decode_keys,
    der::{self, unarmor, SpkiKey},
    Inbound, Labels, Proof, Verified, VerifyError,
};
use crate::secret::Secret;

/// How errors name the JWT (it is the body, not a header).
pub const BODY_JWT: &str = "body JWT";

/// The longest JOSE header decoded before verification.
const MAX_HEADER_B64: usize = 2048;

/// The RSA public key (DER SubjectPublicKeyInfo) of a route secret: PEM,
/// base64 DER, or base64 of the PEM text (what `@wix/sdk`'s
/// `parsePublicKeyIfEncoded` takes on one line).
///
/// # Errors
/// A fixed reason when it is not an RSA public key in one of those forms.
pub fn decode_public_key(secret: &Secret) -> Result<PublicKey, &'static str> {
    const NOT_A_KEY: &str = "is not a base64/PEM public key";
    let mut der = STANDARD.decode(unarmor(secret.expose().trim())).map_err(|_| NOT_A_KEY)?;
    if der.starts_with(b"-----BEGIN") {
        let pem = String::from_utf8(der).map_err(|_| NOT_A_KEY)?;
        der = STANDARD.decode(unarmor(pem.trim())).map_err(|_| NOT_A_KEY)?;
    }
    match der::spki(&der) {
        Some(SpkiKey::Rsa) => Ok(PublicKey::new(Algorithm::RsaPkcs1Sha256, der)),
        _ => Err("is not an RSA public key (SubjectPublicKeyInfo)"),
    }
}

/// The JWT's three parts, the header checked to say RS256.
fn split(body: &[u8]) -> Result<(&str, &str, &str), VerifyError> {
    let malformed = || VerifyError::MalformedHeader(BODY_JWT.into());
    let token = std::str::from_utf8(body).map_err(|_| VerifyError::UnexpectedBody)?.trim_ascii();
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(VerifyError::UnexpectedBody);
    };
    if h.len() > MAX_HEADER_B64 {
        return Err(VerifyError::BodyOverLimit("Wix JWT header"));
    }
    let header: Value =
        URL_SAFE_NO_PAD.decode(h).ok().and_then(|b| serde_json::from_slice(&b).ok()).ok_or_else(malformed)?;
    if header.get("alg").and_then(Value::as_str) != Some("RS256") {
        return Err(malformed());
    }
    Ok((h, p, s))
}

/// The claims of a payload part (base64url JSON object).
fn claims(p: &str) -> Option<Value> {
    URL_SAFE_NO_PAD.decode(p).ok().and_then(|b| serde_json::from_slice::<Value>(&b).ok()).filter(Value::is_object)
}

/// The event inside the claims: `data`, a JSON string.
fn event(claims: &Value) -> Option<Value> {
    claims.get("data").and_then(Value::as_str).and_then(|d| serde_json::from_str(d).ok())
}

fn labels_of(claims: &Value) -> Labels {
    let event_type = event(claims).and_then(|e| e.get("eventType").and_then(Value::as_str).map(str::to_owned));
    Labels { event_type, delivery_id: None }
}

/// The labels of a Wix body, unverified (dry runs).
pub(super) fn labels(body: &[u8]) -> Labels {
    split(body).ok().and_then(|(_, p, _)| claims(p)).map(|c| labels_of(&c)).unwrap_or_default()
}

pub(super) fn verify<'a>(
    provider: &'static str,
    tolerance_override: Option<u64>,
    secrets: &[Secret],
    inbound: Inbound<'a>,
) -> Result<Pending<'a>, VerifyError> {
    let keys = decode_keys(provider, secrets, decode_public_key)?;
    let (h, p, s) = split(inbound.body)?;
    let sig = URL_SAFE_NO_PAD
        .decode(s)
        .ok()
        .filter(|s| !s.is_empty())
        .ok_or(VerifyError::MalformedHeader(BODY_JWT.into()))?;
    let input = format!("{h}.{p}").into_bytes();
    let candidates = keys.into_iter().enumerate().map(|(secret_index, key)| Candidate { key, secret_index }).collect();
    let now = inbound.now_secs;
    let proof = Proof::of_message(&[&input]);
    let payload = p.to_owned();
    let then = move |secret_index| {
        // Claims are read only once the signature matched.
        let claims = claims(&payload).ok_or(VerifyError::MalformedHeader(BODY_JWT.into()))?;
        let time = |name: &'static str| match claims.get(name) {
            None => Ok(None),
            Some(v) => v.as_u64().map(Some).ok_or(VerifyError::MalformedHeader(name.into())),
        };
        // jsonwebtoken: expired when now >= exp; not yet valid when nbf > now.
        if time("exp")?.is_some_and(|exp| now >= exp) {
            return Err(VerifyError::TimestampTooOld);
        }
        if time("nbf")?.is_some_and(|nbf| nbf > now) {
            return Err(VerifyError::TimestampInFuture);
        }
        if let Some(tolerance) = tolerance_override {
            let iat = time("iat")?.ok_or(VerifyError::MalformedHeader("iat".into()))?;
            check_window(iat, now, tolerance)?;
        }
        if event(&claims).is_none() {
            return Err(VerifyError::UnexpectedBody);
        }
        Ok(Verified::labelled(provider, secret_index, inbound.body, labels_of(&claims)).with_proof(proof))
    };
    Ok(Pending::new(provider, input, sig, candidates, KeyOrigin::RouteSecret, then))
}

/// The claims Wix signs for an event: `data` = the JSON text of
/// `{"data": <event JSON text>, "instanceId", "eventType"}`, `iat`, `exp`
/// (an hour later).
pub fn claims_for(event_type: &str, instance_id: &str, event_data: &Value, now: u64) -> Value {
    let envelope = serde_json::json!({
        "data": event_data.to_string(),
        "instanceId": instance_id,
        "eventType": event_type,
    });
    serde_json::json!({"data": envelope.to_string(), "iat": now, "exp": now + 3600})
}

/// A Wix webhook body: the RS256 JWT of `claims` under an RSA private key
/// (PKCS#8 or PKCS#1 PEM), for `flowgate send` and tests.
///
/// # Errors
/// A fixed reason when the key is not an RSA private key.
#[cfg(any(test, feature = "native-crypto"))]
pub fn sign(private_pem: &str, claims: &Value) -> Result<String, &'static str> {
    use rsa::{pkcs1::DecodeRsaPrivateKey, pkcs8::DecodePrivateKey, Pkcs1v15Sign, RsaPrivateKey};
    use sha2::{Digest, Sha256};
    let key = RsaPrivateKey::from_pkcs8_pem(private_pem)
        .or_else(|_| RsaPrivateKey::from_pkcs1_pem(private_pem))
        .map_err(|_| "is not an RSA private key (PEM)")?;
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims.to_string()));
    let sig = key.sign(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(input.as_bytes())).map_err(|_| "cannot sign")?;
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
}

#[cfg(test)]
mod tests {
    use hmac::{Hmac, Mac};
    use serde_json::json;

    use super::*;
    use crate::{
        headers::Headers,
        verify::{find_provider, fireblocks::public_key_base64, verify as verify_any},
    };

    const KEY: &str = include_str!("../../../../tests/fixtures/entra-test-key.pem");
    const OTHER: &str = include_str!("../../../../tests/fixtures/entra-other-key.pem");
    const NOW: u64 = 1_700_000_000;

    fn sample_claims(now: u64) -> Value {
        let order = json!({"id": "8a1f0b2c-0000-4000-8000-000000000001", "entityFqdn": "wix.ecom.v1.order",
                           "slug": "created", "entityId": "ord_1", "createdEvent": {"entity": {"number": "10001"}}});
        claims_for("wix.ecom.v1.order_created", "6f5e4d3c-2b1a-4000-8000-00000000abcd", &order, now)
    }

    fn run_with(body: &[u8], secret: &str, tolerance: Option<u64>, now: u64) -> Result<Verified<'static>, VerifyError> {
        let p = find_provider("wix").unwrap();
        let h: &'static Headers = Box::leak(Box::new(Headers::new().with("content-type", "text/plain")));
        let body: &'static [u8] = Box::leak(body.to_vec().into_boxed_slice());
        verify_any(p, &p.scheme(), tolerance, &[Secret::new(secret)], Inbound::post(h, body, now))
    }

    fn run(body: &[u8]) -> Result<Verified<'static>, VerifyError> {
        run_with(body, &public_key_base64(KEY).unwrap(), None, NOW)
    }

    fn with_part(token: &str, index: usize, part: &str) -> String {
        let mut parts: Vec<&str> = token.split('.').collect();
        parts[index] = part;
        parts.join(".")
    }

    #[test]
    fn round_trip_signed_as_wix_signs() {
        let token = sign(KEY, &sample_claims(NOW)).unwrap();
        let v = run(token.as_bytes()).unwrap();
        assert_eq!((v.event_type(), v.delivery_id()), (Some("wix.ecom.v1.order_created"), None));
        assert_eq!(v.body(), token.as_bytes(), "the JWT itself is forwarded");
        // The flow decodes it as Wix's samples do: payload.data, then event.data.
        let payload: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap();
        let event: Value = serde_json::from_str(payload["data"].as_str().unwrap()).unwrap();
        let data: Value = serde_json::from_str(event["data"].as_str().unwrap()).unwrap();
        assert_eq!(data["entityId"], "ord_1");
        // PEM form of the key, and a trailing newline after the token.
        let pem =
            format!("-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n", public_key_base64(KEY).unwrap());
        assert!(run_with(format!("{token}\n").as_bytes(), &pem, None, NOW).is_ok());
        // The PEM text base64-encoded on one line, as @wix/sdk also takes it.
        assert!(run_with(token.as_bytes(), &STANDARD.encode(&pem), None, NOW).is_ok());
        assert_eq!(labels(token.as_bytes()).event_type.as_deref(), Some("wix.ecom.v1.order_created"));
    }

    #[test]
    fn tampered_payload_or_signature_is_refused() {
        let token = sign(KEY, &sample_claims(NOW)).unwrap();
        // Another payload under the same signature.
        let mut forged = sample_claims(NOW);
        forged["exp"] = json!(NOW + 7200);
        let forged_payload = URL_SAFE_NO_PAD.encode(forged.to_string());
        assert_eq!(run(with_part(&token, 1, &forged_payload).as_bytes()).unwrap_err(), VerifyError::SignatureMismatch);
        // A flipped signature bit; a truncated one; none; not base64url.
        let mut raw = URL_SAFE_NO_PAD.decode(token.split('.').nth(2).unwrap()).unwrap();
        raw[9] ^= 1;
        let flipped = with_part(&token, 2, &URL_SAFE_NO_PAD.encode(&raw));
        assert_eq!(run(flipped.as_bytes()).unwrap_err(), VerifyError::SignatureMismatch);
        let short = with_part(&token, 2, &URL_SAFE_NO_PAD.encode(&raw[..100]));
        assert_eq!(run(short.as_bytes()).unwrap_err(), VerifyError::SignatureMismatch);
        assert_eq!(
            run(with_part(&token, 2, "").as_bytes()).unwrap_err(),
            VerifyError::MalformedHeader(BODY_JWT.into())
        );
        assert_eq!(
            run(with_part(&token, 2, "a+b/").as_bytes()).unwrap_err(),
            VerifyError::MalformedHeader(BODY_JWT.into())
        );
        // Signed by another key.
        let other = sign(OTHER, &sample_claims(NOW)).unwrap();
        assert_eq!(run(other.as_bytes()).unwrap_err(), VerifyError::SignatureMismatch);
        // Every byte of the body mattered: flip one in each part.
        for i in [3, token.len() / 2, token.len() - 3] {
            let mut b = token.clone().into_bytes();
            b[i] = if b[i] == b'A' { b'B' } else { b'A' };
            assert!(run(&b).is_err(), "{i}");
        }
        // Not a JWT at all.
        for b in [&b"{\"data\":\"x\"}"[..], b"a.b", b"a.b.c.d", b"", b"\xff.\xfe.\xfd"] {
            assert!(run(b).is_err(), "{}", String::from_utf8_lossy(b));
        }
    }

    #[test]
    fn only_rs256_is_accepted() {
        let payload = URL_SAFE_NO_PAD.encode(sample_claims(NOW).to_string());
        let public_b64 = public_key_base64(KEY).unwrap();
        let pem = format!("-----BEGIN PUBLIC KEY-----\n{public_b64}\n-----END PUBLIC KEY-----\n");
        for alg in ["none", "HS256", "RS512", "PS256", "ES256", "rs256"] {
            let header = URL_SAFE_NO_PAD.encode(json!({"alg": alg, "typ": "JWT"}).to_string());
            let input = format!("{header}.{payload}");
            let sig = match alg {
                // alg none: no signature.
                "none" => String::new(),
                // HS256 keyed with the public key's text (the confusion attack).
                "HS256" => {
                    let mut m = Hmac::<sha2::Sha256>::new_from_slice(pem.as_bytes()).unwrap();
                    m.update(input.as_bytes());
                    URL_SAFE_NO_PAD.encode(m.finalize().into_bytes())
                }
                // A valid RS256 signature under a lying alg.
                _ => sign(KEY, &sample_claims(NOW)).unwrap().rsplit('.').next().unwrap().to_owned(),
            };
            let token = format!("{input}.{sig}");
            assert_eq!(
                run_with(token.as_bytes(), &pem, None, NOW).unwrap_err(),
                VerifyError::MalformedHeader(BODY_JWT.into()),
                "{alg}"
            );
        }
        // No alg at all.
        let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT"}"#);
        assert!(run(format!("{header}.{payload}.AAAA").as_bytes()).is_err());
    }

    #[test]
    fn exp_nbf_and_an_optional_iat_window() {
        let mut c = sample_claims(NOW);
        c["exp"] = json!(NOW);
        assert_eq!(run(sign(KEY, &c).unwrap().as_bytes()).unwrap_err(), VerifyError::TimestampTooOld);
        c["exp"] = json!(NOW + 1);
        assert!(run(sign(KEY, &c).unwrap().as_bytes()).is_ok());
        c["nbf"] = json!(NOW + 1);
        assert_eq!(run(sign(KEY, &c).unwrap().as_bytes()).unwrap_err(), VerifyError::TimestampInFuture);
        c["nbf"] = json!("soon");
        assert_eq!(run(sign(KEY, &c).unwrap().as_bytes()).unwrap_err(), VerifyError::MalformedHeader("nbf".into()));
        // Without exp the token does not expire (as jsonwebtoken).
        let mut c = sample_claims(NOW - 86_400);
        c.as_object_mut().unwrap().remove("exp");
        let token = sign(KEY, &c).unwrap();
        let public = public_key_base64(KEY).unwrap();
        assert!(run_with(token.as_bytes(), &public, None, NOW).is_ok());
        // With the route's tolerance_secs, iat must be within it.
        assert_eq!(run_with(token.as_bytes(), &public, Some(300), NOW).unwrap_err(), VerifyError::TimestampTooOld);
        let fresh = sign(KEY, &sample_claims(NOW - 10)).unwrap();
        assert!(run_with(fresh.as_bytes(), &public, Some(300), NOW).is_ok());
        // Signed claims without the event string: not Wix's shape.
        let bare = sign(KEY, &json!({"iat": NOW})).unwrap();
        assert_eq!(run(bare.as_bytes()).unwrap_err(), VerifyError::UnexpectedBody);
    }

    #[test]
    fn keys_that_are_not_rsa_public_keys_are_configuration_errors() {
        let token = sign(KEY, &sample_claims(NOW)).unwrap();
        let p256 = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==";
        for bad in ["AAAA", "not base64 !", p256] {
            assert!(run_with(token.as_bytes(), bad, None, NOW).unwrap_err().is_config_error(), "{bad}");
        }
    }
}
