//! Discord: <https://discord.com/developers/docs/interactions/receiving-and-responding#security-and-authorization>
//!
//! `X-Signature-Ed25519` is the hex Ed25519 signature of
//! `X-Signature-Timestamp ‖ body`, verified with the application's public key
//! (hex, 32 bytes; "Public Key" on the app's General Information page). The
//! route's secret is therefore that *public* key. discord-interactions-js
//! (`verifyKey`) does exactly this and checks no timestamp window; flowgate
//! does the same unless the route sets `tolerance_secs`, which then applies
//! to the (Unix seconds) timestamp. Signatures are checked with
//! `verify_strict` (no small-order keys or malleable signatures; genuine
//! signatures always pass it).
//!
//! Discord sends deliberately invalid signatures to check that the endpoint
//! rejects them (its docs: "we will also do automated, routine security
//! checks against your endpoint, including purposefully sending you invalid
//! signatures"); they fail here like any other bad signature.
//!
//! Event type: the JSON `type`, written as its number's text (interactions:
//! 1 = PING, 2 = APPLICATION_COMMAND, 3 = MESSAGE_COMPONENT, ...; webhook
//! events: 0 = PING, 1 = event). Delivery id: the interaction's `id`.

use super::{
    asymmetric::{KeyOrigin, Pending, PublicKey},
    decode_keys, ed25519, json_labels, optional_window, Inbound, Labels, Proof, Verified, VerifyError,
};
use crate::secret::Secret;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "x-signature-ed25519";
/// The signed timestamp header.
pub const TIMESTAMP_HEADER: &str = "x-signature-timestamp";

fn key_bytes(secret: &Secret) -> Result<[u8; 32], &'static str> {
    let bytes = hex::decode(secret.expose().trim()).map_err(|_| "is not hex")?;
    ed25519::exact_32(bytes, "is not 32 bytes (64 hex digits)")
}

/// The application public key in a route secret.
///
/// # Errors
/// A fixed reason when it is not 64 hex digits of a valid Ed25519 point.
pub fn decode_public_key(secret: &Secret) -> Result<PublicKey, &'static str> {
    ed25519::public_key(&key_bytes(secret)?)
}

/// A signing key from a hex 32-byte Ed25519 private key (seed): for
/// `flowgate send` and tests; Discord itself holds the real one.
///
/// # Errors
/// A fixed reason when it is not 64 hex digits.
#[cfg(any(test, feature = "native-crypto"))]
pub fn signing_key(private: &Secret) -> Result<ed25519_dalek::SigningKey, &'static str> {
    Ok(ed25519::signing_key(&key_bytes(private)?))
}

/// The hex public key (the route secret) of a hex private key.
///
/// # Errors
/// As [`signing_key`].
#[cfg(any(test, feature = "native-crypto"))]
pub fn public_key_hex(private: &Secret) -> Result<String, &'static str> {
    Ok(hex::encode(signing_key(private)?.verifying_key().as_bytes()))
}

/// The `X-Signature-Ed25519` value for `timestamp ‖ body`.
///
/// # Errors
/// As [`signing_key`].
#[cfg(any(test, feature = "native-crypto"))]
pub fn sign(private: &Secret, timestamp: &str, body: &[u8]) -> Result<String, &'static str> {
    let key = signing_key(private)?;
    Ok(hex::encode(ed25519::sign(&key, &[timestamp.as_bytes(), body].concat())))
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
    let sig = hex::decode(sig_text.trim())
        .ok()
        .and_then(|b| ed25519::signature(&b))
        .ok_or(VerifyError::MalformedHeader(SIGNATURE_HEADER.into()))?;
    if !ed25519::strict_shape(&sig) {
        return Err(VerifyError::SignatureMismatch);
    }

    // The timestamp is signed exactly as sent (Discord's SDK concatenates the header as is).
    let message = [ts.as_bytes(), inbound.body].concat();
    let then = move |secret_index| {
        optional_window(ts, TIMESTAMP_HEADER, tolerance_override, inbound.now_secs)?;
        Ok(Verified::labelled(provider, secret_index, inbound.body, labels(inbound.body))
            .with_proof(Proof::of_message(&[ts.as_bytes(), inbound.body])))
    };
    Ok(Pending::new(provider, message, sig.to_vec(), ed25519::candidates(keys), KeyOrigin::RouteSecret, then))
}

/// The interaction's `type` and `id`.
pub(super) fn labels(body: &[u8]) -> Labels {
    json_labels(body, "type", "id")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        headers::Headers,
        verify::{find_provider, verify as verify_any},
    };

    // RFC 8032 §7.1 test 1: a known keypair, so the key handling is pinned down.
    const PRIVATE: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    const PUBLIC: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    const TS: &str = "1700000000";
    const BODY: &[u8] = br#"{"id":"1234567890","type":2,"data":{"name":"ping"}}"#;

    fn run(headers: &Headers, body: &[u8], secret: &str, tol: Option<u64>) -> Result<Verified<'static>, VerifyError> {
        let p = find_provider("discord").unwrap();
        let h: &'static Headers = Box::leak(Box::new(headers.clone()));
        let body: &'static [u8] = Box::leak(body.to_vec().into_boxed_slice());
        verify_any(p, &p.scheme(), tol, &[Secret::new(secret)], Inbound::post(h, body, 1_700_000_100))
    }

    fn signed(ts: &str, body: &[u8]) -> Headers {
        Headers::new()
            .with("X-Signature-Ed25519", sign(&Secret::new(PRIVATE), ts, body).unwrap())
            .with("X-Signature-Timestamp", ts)
    }

    #[test]
    fn rfc8032_keypair_and_empty_message_signature() {
        assert_eq!(public_key_hex(&Secret::new(PRIVATE)).unwrap(), PUBLIC);
        // RFC 8032 §7.1 test 1: the signature of the empty message.
        assert_eq!(
            sign(&Secret::new(PRIVATE), "", b"").unwrap(),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
    }

    #[test]
    fn round_trip_with_labels() {
        let v = run(&signed(TS, BODY), BODY, PUBLIC, None).unwrap();
        assert_eq!(v.event_type(), Some("2"));
        assert_eq!(v.delivery_id(), Some("1234567890"));
        assert_eq!(v.provider(), "discord");
    }

    #[test]
    fn every_mutation_is_rejected() {
        let good = signed(TS, BODY);
        for i in [0, BODY.len() / 2, BODY.len() - 1] {
            let mut b = BODY.to_vec();
            b[i] ^= 0x01;
            assert_eq!(run(&good, &b, PUBLIC, None).unwrap_err(), VerifyError::SignatureMismatch, "byte {i}");
        }
        assert!(run(&good, &[BODY, b" "].concat(), PUBLIC, None).is_err());
        assert!(run(&good, &BODY[..BODY.len() - 1], PUBLIC, None).is_err());
        // The timestamp is signed.
        let sig = good.get("x-signature-ed25519").unwrap();
        let moved = Headers::new().with("x-signature-ed25519", sig).with("x-signature-timestamp", "1700000001");
        assert_eq!(run(&moved, BODY, PUBLIC, None).unwrap_err(), VerifyError::SignatureMismatch);
        // Each header removed.
        let no_sig = Headers::new().with("x-signature-timestamp", TS);
        assert_eq!(run(&no_sig, BODY, PUBLIC, None).unwrap_err(), VerifyError::MissingHeader(SIGNATURE_HEADER.into()));
        let no_ts = Headers::new().with("x-signature-ed25519", sig);
        assert_eq!(run(&no_ts, BODY, PUBLIC, None).unwrap_err(), VerifyError::MissingHeader(TIMESTAMP_HEADER.into()));
        // Truncated, changed, not hex.
        for bad in [&sig[..sig.len() - 2], &sig[2..], "zz", ""] {
            let h = Headers::new().with("x-signature-ed25519", bad).with("x-signature-timestamp", TS);
            assert_eq!(run(&h, BODY, PUBLIC, None).unwrap_err(), VerifyError::MalformedHeader(SIGNATURE_HEADER.into()));
        }
        let flipped = format!("{}{}", &sig[..sig.len() - 1], if sig.ends_with('0') { '1' } else { '0' });
        let h = Headers::new().with("x-signature-ed25519", flipped).with("x-signature-timestamp", TS);
        assert_eq!(run(&h, BODY, PUBLIC, None).unwrap_err(), VerifyError::SignatureMismatch);
        // Another application's key.
        let other =
            public_key_hex(&Secret::new("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")).unwrap();
        assert_eq!(run(&good, BODY, &other, None).unwrap_err(), VerifyError::SignatureMismatch);
    }

    #[test]
    fn a_window_applies_only_when_the_route_sets_one() {
        // Signed at 1700000000, checked at 1700000100.
        assert!(run(&signed(TS, BODY), BODY, PUBLIC, None).is_ok());
        assert!(run(&signed(TS, BODY), BODY, PUBLIC, Some(100)).is_ok());
        assert_eq!(run(&signed(TS, BODY), BODY, PUBLIC, Some(99)).unwrap_err(), VerifyError::TimestampTooOld);
        assert_eq!(
            run(&signed("1700000200", BODY), BODY, PUBLIC, Some(99)).unwrap_err(),
            VerifyError::TimestampInFuture
        );
    }

    #[test]
    fn public_keys_are_checked_as_configuration() {
        for bad in ["not hex", "d75a98", "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a00"] {
            let err = run(&signed(TS, BODY), BODY, bad, None).unwrap_err();
            assert!(err.is_config_error(), "{bad}: {err:?}");
        }
    }
}
