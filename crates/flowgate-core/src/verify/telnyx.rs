//! Telnyx: <https://developers.telnyx.com/docs/messaging/messages/receiving-webhooks>
//!
//! `telnyx-signature-ed25519` is the base64 Ed25519 signature of
//! `telnyx-timestamp|body` (the timestamp header as sent, a `|`, the raw
//! body), verified with the account's public key (base64, 32 bytes; Mission
//! Control Portal, "Keys & Credentials" > "Public Key"). The route's secret
//! is therefore that *public* key. Telnyx's SDKs refuse a timestamp more
//! than 300 seconds old and accept one from the future; flowgate does the
//! same (`tolerance_secs` replaces the 300).
//!
//! Event type: `data.event_type` (`message.received`, `call.initiated`, …).
//! Delivery id: `data.id`, the event's id. A retry sends the same event with
//! `meta.attempt` counted up: another body under the same id, which the
//! ledger forwards (and logs) rather than drops — only a byte-identical
//! re-send is suppressed as a duplicate.

use super::{
    asymmetric::{KeyOrigin, Pending, PublicKey},
    check_window_past_only, decode_keys, ed25519, json_labels, parse_unix_secs, Inbound, Labels, Proof, Verified,
    VerifyError,
};
use crate::secret::Secret;
use base64::{engine::general_purpose::STANDARD, Engine};

/// The signature header.
pub const SIGNATURE_HEADER: &str = "telnyx-signature-ed25519";
/// The signed timestamp header (Unix seconds).
pub const TIMESTAMP_HEADER: &str = "telnyx-timestamp";
/// How old a timestamp Telnyx's SDKs accept, in seconds.
pub const TOLERANCE_SECS: u64 = 300;

fn key_bytes(secret: &Secret) -> Result<[u8; 32], &'static str> {
    let bytes = STANDARD.decode(secret.expose().trim()).map_err(|_| "is not base64")?;
    ed25519::exact_32(bytes, "is not 32 bytes (44 base64 characters)")
}

/// The account's public key in a route secret.
///
/// # Errors
/// A fixed reason when it is not the base64 of a valid Ed25519 point.
pub fn decode_public_key(secret: &Secret) -> Result<PublicKey, &'static str> {
    ed25519::public_key(&key_bytes(secret)?)
}

/// A signing key from a base64 32-byte Ed25519 private key (seed): for
/// `flowgate send` and tests; Telnyx itself holds the real one.
///
/// # Errors
/// A fixed reason when it is not the base64 of 32 bytes.
#[cfg(any(test, feature = "native-crypto"))]
pub fn signing_key(private: &Secret) -> Result<ed25519_dalek::SigningKey, &'static str> {
    Ok(ed25519::signing_key(&key_bytes(private)?))
}

/// The base64 public key (the route secret) of a base64 private key.
///
/// # Errors
/// As [`signing_key`].
#[cfg(any(test, feature = "native-crypto"))]
pub fn public_key_base64(private: &Secret) -> Result<String, &'static str> {
    Ok(STANDARD.encode(signing_key(private)?.verifying_key().as_bytes()))
}

/// The `telnyx-signature-ed25519` value for `timestamp|body`.
///
/// # Errors
/// As [`signing_key`].
#[cfg(any(test, feature = "native-crypto"))]
pub fn sign(private: &Secret, timestamp: &str, body: &[u8]) -> Result<String, &'static str> {
    let key = signing_key(private)?;
    Ok(STANDARD.encode(ed25519::sign(&key, &[timestamp.as_bytes(), b"|", body].concat())))
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
    let sig = STANDARD
        .decode(sig_text.trim())
        .ok()
        .and_then(|b| ed25519::signature(&b))
        .ok_or(VerifyError::MalformedHeader(SIGNATURE_HEADER.into()))?;
    let ts_secs = parse_unix_secs(ts.trim()).ok_or(VerifyError::MalformedHeader(TIMESTAMP_HEADER.into()))?;
    if !ed25519::strict_shape(&sig) {
        return Err(VerifyError::SignatureMismatch);
    }

    // The timestamp is signed exactly as sent; the signature is checked
    // before the window, so unsigned requests learn nothing about it.
    let message = [ts.as_bytes(), b"|", inbound.body].concat();
    let then = move |secret_index| {
        check_window_past_only(ts_secs, inbound.now_secs, tolerance_override.unwrap_or(TOLERANCE_SECS))?;
        Ok(Verified::labelled(provider, secret_index, inbound.body, labels(inbound.body))
            .with_proof(Proof::of_message(&[ts.as_bytes(), b"|", inbound.body])))
    };
    Ok(Pending::new(provider, message, sig.to_vec(), ed25519::candidates(keys), KeyOrigin::RouteSecret, then))
}

/// The event's `data.event_type` and `data.id`.
pub(super) fn labels(body: &[u8]) -> Labels {
    json_labels(body, "data.event_type", "data.id")
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signer, SigningKey};

    use super::*;
    use crate::{
        headers::Headers,
        verify::{find_provider, verify as verify_any, ReplayGuard},
    };

    // RFC 8032 §7.1 test 1, in base64: the seed and its public key.
    const PRIVATE: &str = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";
    const PUBLIC: &str = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
    const TS: &str = "1700000000";
    const NOW: u64 = 1_700_000_100;
    const BODY: &[u8] = br#"{"data":{"event_type":"message.received","id":"b301ed3f-1490-491f-995f-6e64e69674d4","occurred_at":"2023-11-14T22:13:20.000+00:00","payload":{"direction":"inbound","from":{"phone_number":"+13125550001"},"text":"Hello"},"record_type":"event"},"meta":{"attempt":1,"delivered_to":"https://flowgate.example/hooks/telnyx"}}"#;

    fn run_at(
        headers: &Headers,
        body: &[u8],
        secret: &str,
        tol: Option<u64>,
        now: u64,
    ) -> Result<Verified<'static>, VerifyError> {
        let p = find_provider("telnyx").unwrap();
        let h: &'static Headers = Box::leak(Box::new(headers.clone()));
        let body: &'static [u8] = Box::leak(body.to_vec().into_boxed_slice());
        verify_any(p, &p.scheme(), tol, &[Secret::new(secret)], Inbound::post(h, body, now))
    }

    fn run(headers: &Headers, body: &[u8], secret: &str) -> Result<Verified<'static>, VerifyError> {
        run_at(headers, body, secret, None, NOW)
    }

    /// Signed as Telnyx's SDKs verify it, with ed25519-dalek directly (not
    /// this module's signer): `timestamp|body`, base64.
    fn signed(ts: &str, body: &[u8]) -> Headers {
        let seed: [u8; 32] = STANDARD.decode(PRIVATE).unwrap().try_into().unwrap();
        let key = SigningKey::from_bytes(&seed);
        let mut message = ts.as_bytes().to_vec();
        message.push(b'|');
        message.extend_from_slice(body);
        Headers::new()
            .with("Telnyx-Signature-Ed25519", STANDARD.encode(key.sign(&message).to_bytes()))
            .with("Telnyx-Timestamp", ts)
    }

    #[test]
    fn rfc8032_keypair_in_base64_and_the_signer_agrees() {
        assert_eq!(public_key_base64(&Secret::new(PRIVATE)).unwrap(), PUBLIC);
        let independent = signed(TS, BODY);
        assert_eq!(sign(&Secret::new(PRIVATE), TS, BODY).unwrap(), independent.get(SIGNATURE_HEADER).unwrap());
    }

    #[test]
    fn round_trip_with_labels() {
        let v = run(&signed(TS, BODY), BODY, PUBLIC).unwrap();
        assert_eq!(v.event_type(), Some("message.received"));
        assert_eq!(v.delivery_id(), Some("b301ed3f-1490-491f-995f-6e64e69674d4"));
        assert_eq!(v.provider(), "telnyx");
        let p = find_provider("telnyx").unwrap();
        assert_eq!(p.replay_guard(&p.scheme()), ReplayGuard::On);
    }

    #[test]
    fn every_mutation_is_rejected() {
        let good = signed(TS, BODY);
        for i in [0, BODY.len() / 2, BODY.len() - 1] {
            let mut b = BODY.to_vec();
            b[i] ^= 0x01;
            assert_eq!(run(&good, &b, PUBLIC).unwrap_err(), VerifyError::SignatureMismatch, "byte {i}");
        }
        assert!(run(&good, &[BODY, b" "].concat(), PUBLIC).is_err());
        assert!(run(&good, &BODY[..BODY.len() - 1], PUBLIC).is_err());
        // The '|' is signed: Discord's timestamp‖body form does not verify.
        let seed: [u8; 32] = STANDARD.decode(PRIVATE).unwrap().try_into().unwrap();
        let no_bar = STANDARD.encode(SigningKey::from_bytes(&seed).sign(&[TS.as_bytes(), BODY].concat()).to_bytes());
        let h = Headers::new().with(SIGNATURE_HEADER, no_bar).with(TIMESTAMP_HEADER, TS);
        assert_eq!(run(&h, BODY, PUBLIC).unwrap_err(), VerifyError::SignatureMismatch);
        // The timestamp is signed.
        let sig = good.get(SIGNATURE_HEADER).unwrap();
        let moved = Headers::new().with(SIGNATURE_HEADER, sig).with(TIMESTAMP_HEADER, "1700000001");
        assert_eq!(run(&moved, BODY, PUBLIC).unwrap_err(), VerifyError::SignatureMismatch);
        // Each header removed.
        let no_sig = Headers::new().with(TIMESTAMP_HEADER, TS);
        assert_eq!(run(&no_sig, BODY, PUBLIC).unwrap_err(), VerifyError::MissingHeader(SIGNATURE_HEADER.into()));
        let no_ts = Headers::new().with(SIGNATURE_HEADER, sig);
        assert_eq!(run(&no_ts, BODY, PUBLIC).unwrap_err(), VerifyError::MissingHeader(TIMESTAMP_HEADER.into()));
        // Truncated, not base64, hex instead of base64.
        let as_hex = hex::encode(STANDARD.decode(sig).unwrap());
        for bad in [&sig[..sig.len() - 4], "!!", "", as_hex.as_str()] {
            let h = Headers::new().with(SIGNATURE_HEADER, bad).with(TIMESTAMP_HEADER, TS);
            assert_eq!(run(&h, BODY, PUBLIC).unwrap_err(), VerifyError::MalformedHeader(SIGNATURE_HEADER.into()));
        }
        // One signature byte changed.
        let mut bytes = STANDARD.decode(sig).unwrap();
        bytes[10] ^= 0x01;
        let h = Headers::new().with(SIGNATURE_HEADER, STANDARD.encode(bytes)).with(TIMESTAMP_HEADER, TS);
        assert_eq!(run(&h, BODY, PUBLIC).unwrap_err(), VerifyError::SignatureMismatch);
        // A malformed timestamp.
        for ts in ["-1700000000", "1700000000.5", "abc", ""] {
            let h = signed(ts, BODY);
            assert_eq!(
                run(&h, BODY, PUBLIC).unwrap_err(),
                VerifyError::MalformedHeader(TIMESTAMP_HEADER.into()),
                "{ts:?}"
            );
        }
        // Another account's key (RFC 8032 §7.1 test 2's public key).
        let other =
            STANDARD.encode(hex::decode("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c").unwrap());
        assert_eq!(run(&good, BODY, &other).unwrap_err(), VerifyError::SignatureMismatch);
    }

    #[test]
    fn the_window_is_300_seconds_old_and_any_future() {
        let at = 1_700_000_000;
        let good = signed(TS, BODY);
        assert!(run_at(&good, BODY, PUBLIC, None, at + 300).is_ok());
        assert_eq!(run_at(&good, BODY, PUBLIC, None, at + 301).unwrap_err(), VerifyError::TimestampTooOld);
        // The SDKs do not refuse a timestamp ahead of the clock.
        assert!(run_at(&good, BODY, PUBLIC, None, at - 3600).is_ok());
        assert!(run_at(&good, BODY, PUBLIC, Some(3600), at + 3600).is_ok());
        assert_eq!(run_at(&good, BODY, PUBLIC, Some(60), at + 61).unwrap_err(), VerifyError::TimestampTooOld);
    }

    #[test]
    fn public_keys_are_checked_as_configuration() {
        let hex_key = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
        for bad in ["not base64!", "11qYAYKx", hex_key, "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURoA"] {
            let err = run(&signed(TS, BODY), BODY, bad).unwrap_err();
            assert!(err.is_config_error(), "{bad}: {err:?}");
        }
    }
}
