//! Twilio SendGrid Event Webhook:
//! <https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features>
//!
//! `X-Twilio-Email-Event-Webhook-Signature` is a base64, DER-encoded ECDSA
//! P-256 / SHA-256 signature of `X-Twilio-Email-Event-Webhook-Timestamp ‖ body`
//! (the body exactly as received, including its trailing `\r\n`). The route's
//! secret is the verification key from the Mail Settings page: base64 DER
//! SubjectPublicKeyInfo (a PEM block is accepted too). The SDKs' `EventWebhook`
//! helpers (sendgrid-nodejs, -python, -go) verify exactly that and check no
//! timestamp window, and SendGrid documents none; flowgate checks one only
//! when the route sets `tolerance_secs`.
//!
//! A request carries a JSON array of up to 128 events: the event type and
//! delivery id are the first event's `event` and `sg_event_id`.

use base64::{engine::general_purpose::STANDARD, Engine};
#[cfg(any(test, feature = "native-crypto"))]
use p256::{
    ecdsa::{signature::DigestSigner, Signature, SigningKey},
    pkcs8::{DecodePrivateKey, EncodePublicKey},
};
#[cfg(any(test, feature = "native-crypto"))]
use sha2::{Digest, Sha256};

use super::{
    asymmetric::{Algorithm, Candidate, KeyOrigin, Pending, PublicKey},
    decode_keys,
    der::{self, unarmor, SpkiKey},
    json_labels, optional_window, Inbound, Labels, Proof, Verified, VerifyError,
};
use crate::secret::Secret;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "x-twilio-email-event-webhook-signature";
/// The signed timestamp header.
pub const TIMESTAMP_HEADER: &str = "x-twilio-email-event-webhook-timestamp";

/// A P-256 public key from its SEC1 point, when it is the uncompressed
/// form (`04 ‖ x ‖ y`, as SendGrid and Plaid publish keys); whether it is on
/// the curve is the platform's to check when it imports it.
pub(super) fn p256_point(point: &[u8]) -> Result<PublicKey, &'static str> {
    if point.len() != 65 || point[0] != 4 {
        return Err("is not an uncompressed P-256 point");
    }
    Ok(PublicKey::new(Algorithm::EcdsaP256Sha256, point.to_vec()))
}

/// The verification key in a route secret.
///
/// # Errors
/// A fixed reason when it is not a base64 DER P-256 public key.
pub fn decode_public_key(secret: &Secret) -> Result<PublicKey, &'static str> {
    let der = STANDARD.decode(unarmor(secret.expose())).map_err(|_| "is not base64")?;
    match der::spki(&der) {
        Some(SpkiKey::P256(point)) => p256_point(point),
        _ => Err("is not a DER P-256 public key (SubjectPublicKeyInfo)"),
    }
}

/// A signing key from a base64 PKCS#8 DER private key or 64 hex digits of
/// the private scalar: for `flowgate send` and tests.
///
/// # Errors
/// A fixed reason when it is neither.
#[cfg(any(test, feature = "native-crypto"))]
pub fn signing_key(private: &Secret) -> Result<SigningKey, &'static str> {
    let text = private.expose().trim();
    if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        let bytes = hex::decode(text).map_err(|_| "is not hex")?;
        return SigningKey::from_slice(&bytes).map_err(|_| "is not a valid P-256 private scalar");
    }
    let der = STANDARD.decode(unarmor(text)).map_err(|_| "is neither 64 hex digits nor base64 PKCS#8")?;
    SigningKey::from_pkcs8_der(&der).map_err(|_| "is not a PKCS#8 P-256 private key")
}

/// The base64 DER public key (the route secret) of a private key.
///
/// # Errors
/// As [`signing_key`].
#[cfg(any(test, feature = "native-crypto"))]
pub fn public_key_base64(private: &Secret) -> Result<String, &'static str> {
    let public = p256::PublicKey::from(signing_key(private)?.verifying_key());
    let der = public.to_public_key_der().map_err(|_| "cannot be encoded")?;
    Ok(STANDARD.encode(der.as_bytes()))
}

/// The signature header value SendGrid sends for `timestamp ‖ body`
/// (RFC 6979 deterministic nonces: no randomness needed).
///
/// # Errors
/// As [`signing_key`].
#[cfg(any(test, feature = "native-crypto"))]
pub fn sign(private: &Secret, timestamp: &str, body: &[u8]) -> Result<String, &'static str> {
    let digest = Sha256::new().chain_update(timestamp.as_bytes()).chain_update(body);
    let sig: Signature = signing_key(private)?.sign_digest(digest);
    Ok(STANDARD.encode(sig.to_der().as_bytes()))
}

pub(super) fn verify<'a>(
    provider: &'static str,
    tolerance_override: Option<u64>,
    secrets: &[Secret],
    inbound: Inbound<'a>,
) -> Result<Pending<'a>, VerifyError> {
    let keys = decode_keys(provider, secrets, decode_public_key)?;
    let sig_text = inbound.headers.get(SIGNATURE_HEADER).ok_or(VerifyError::MissingHeader(SIGNATURE_HEADER.into()))?;
    let ts = inbound.headers.get(TIMESTAMP_HEADER).ok_or(VerifyError::MissingHeader(TIMESTAMP_HEADER.into()))?;
    // DER as SendGrid sends it; raw r ‖ s as Web Crypto verifies it.
    let sig = STANDARD
        .decode(sig_text.trim())
        .ok()
        .and_then(|d| der::ecdsa_der_to_raw(&d, 32))
        .ok_or(VerifyError::MalformedHeader(SIGNATURE_HEADER.into()))?;

    let message = [ts.as_bytes(), inbound.body].concat();
    let candidates = keys.into_iter().enumerate().map(|(secret_index, key)| Candidate { key, secret_index }).collect();
    let then = move |secret_index| {
        optional_window(ts, TIMESTAMP_HEADER, tolerance_override, inbound.now_secs)?;
        Ok(Verified::labelled(provider, secret_index, inbound.body, labels(inbound.body))
            .with_proof(Proof::of_message(&[ts.as_bytes(), inbound.body])))
    };
    Ok(Pending::new(provider, message, sig, candidates, KeyOrigin::RouteSecret, then))
}

/// The first event's `event`. No delivery id: the body is a batch of events
/// with no id of its own, and keying it on its first `sg_event_id` would drop
/// a later batch that starts with a re-sent event, whole (delivery-id audit).
pub(super) fn labels(body: &[u8]) -> Labels {
    Labels { delivery_id: None, ..json_labels(body, "0.event", "0.sg_event_id") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        headers::Headers,
        verify::{find_provider, verify as verify_any},
    };

    // sendgrid/sendgrid-python test/unit/test_eventwebhook.py (webhook-providers.md §c).
    const PUBLIC: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==";
    const TS: &str = "1600112502";
    const SIG: &str =
        "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM=";
    const BODY: &[u8] = b"[{\"email\":\"hello@world.com\",\"event\":\"dropped\",\"reason\":\"Bounced Address\",\"sg_event_id\":\"ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA\",\"sg_message_id\":\"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0\",\"smtp-id\":\"<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>\",\"timestamp\":1600112492}]\r\n";
    // The P-256 private key of RFC 6979 §A.2.5, for signing round trips.
    const PRIVATE: &str = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";

    fn headers(sig: &str, ts: &str) -> Headers {
        Headers::new()
            .with("X-Twilio-Email-Event-Webhook-Signature", sig)
            .with("X-Twilio-Email-Event-Webhook-Timestamp", ts)
    }

    fn run(h: &Headers, body: &[u8], secret: &str, tol: Option<u64>) -> Result<Verified<'static>, VerifyError> {
        let p = find_provider("sendgrid").unwrap();
        let h: &'static Headers = Box::leak(Box::new(h.clone()));
        let body: &'static [u8] = Box::leak(body.to_vec().into_boxed_slice());
        verify_any(p, &p.scheme(), tol, &[Secret::new(secret)], Inbound::post(h, body, 1_600_112_510))
    }

    #[test]
    fn published_vector_verifies() {
        let v = run(&headers(SIG, TS), BODY, PUBLIC, None).unwrap();
        assert_eq!(v.event_type(), Some("dropped"));
        // A batch has no id of its own (its first sg_event_id is not one).
        assert_eq!(v.delivery_id(), None);
        // The key as a PEM block verifies the same.
        let pem =
            format!("-----BEGIN PUBLIC KEY-----\n{}\n{}\n-----END PUBLIC KEY-----\n", &PUBLIC[..64], &PUBLIC[64..]);
        assert!(run(&headers(SIG, TS), BODY, &pem, None).is_ok());
    }

    #[test]
    fn published_vector_tampered_fails() {
        // Without the trailing \r\n, with another timestamp, another byte.
        let no_crlf = &BODY[..BODY.len() - 2];
        assert_eq!(run(&headers(SIG, TS), no_crlf, PUBLIC, None).unwrap_err(), VerifyError::SignatureMismatch);
        assert_eq!(run(&headers(SIG, "1600112503"), BODY, PUBLIC, None).unwrap_err(), VerifyError::SignatureMismatch);
        for i in [0, BODY.len() / 2, BODY.len() - 1] {
            let mut b = BODY.to_vec();
            b[i] ^= 0x01;
            assert_eq!(run(&headers(SIG, TS), &b, PUBLIC, None).unwrap_err(), VerifyError::SignatureMismatch, "{i}");
        }
        // A signature that is not DER, truncated, or changed inside.
        for bad in ["", "not base64!", &SIG[..SIG.len() - 4], "MEUCIGHQ"] {
            assert_eq!(
                run(&headers(bad, TS), BODY, PUBLIC, None).unwrap_err(),
                VerifyError::MalformedHeader(SIGNATURE_HEADER.into()),
                "{bad}"
            );
        }
        let mut der = STANDARD.decode(SIG).unwrap();
        let last = der.len() - 1;
        der[last] ^= 0x01;
        assert_eq!(
            run(&headers(&STANDARD.encode(&der), TS), BODY, PUBLIC, None).unwrap_err(),
            VerifyError::SignatureMismatch
        );
        // Each header removed.
        let only_sig = Headers::new().with("x-twilio-email-event-webhook-signature", SIG);
        assert_eq!(
            run(&only_sig, BODY, PUBLIC, None).unwrap_err(),
            VerifyError::MissingHeader(TIMESTAMP_HEADER.into())
        );
        let only_ts = Headers::new().with("x-twilio-email-event-webhook-timestamp", TS);
        assert_eq!(run(&only_ts, BODY, PUBLIC, None).unwrap_err(), VerifyError::MissingHeader(SIGNATURE_HEADER.into()));
        // Another key.
        let other = public_key_base64(&Secret::new(PRIVATE)).unwrap();
        assert_eq!(run(&headers(SIG, TS), BODY, &other, None).unwrap_err(), VerifyError::SignatureMismatch);
    }

    #[test]
    fn round_trip_and_optional_window() {
        let public = public_key_base64(&Secret::new(PRIVATE)).unwrap();
        let body = b"[{\"event\":\"delivered\",\"sg_event_id\":\"evt-1\"}]\r\n";
        let sig = sign(&Secret::new(PRIVATE), "1600112500", body).unwrap();
        assert!(run(&headers(&sig, "1600112500"), body, &public, None).is_ok());
        // Checked at 1600112510: a 10 s window passes, 9 s does not.
        assert!(run(&headers(&sig, "1600112500"), body, &public, Some(10)).is_ok());
        assert_eq!(
            run(&headers(&sig, "1600112500"), body, &public, Some(9)).unwrap_err(),
            VerifyError::TimestampTooOld
        );
    }

    #[test]
    fn keys_are_checked_as_configuration() {
        for bad in ["not base64!", "AAAA", "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE"] {
            assert!(run(&headers(SIG, TS), BODY, bad, None).unwrap_err().is_config_error(), "{bad}");
        }
        assert!(signing_key(&Secret::new("zz")).is_err());
    }
}
