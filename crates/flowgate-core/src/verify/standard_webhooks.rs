//! Standard Webhooks (and Svix, which it grew out of):
//! <https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md>
//!
//! Headers `webhook-id`, `webhook-timestamp` (Unix seconds) and
//! `webhook-signature`; Svix-branded senders (Clerk, Resend, ...) send the same
//! values as `svix-id`, `svix-timestamp`, `svix-signature`. The signature
//! header is a space-separated list of `v1,<base64 HMAC-SHA256>` entries (more
//! than one during key rotation); other versions (`v1a` is Ed25519) are
//! skipped. The signed content is `id.timestamp.body`. The key is the secret
//! after its `whsec_` prefix, base64-decoded. Timestamps are accepted within
//! ±5 minutes, as the reference libraries do.

use base64::{engine::general_purpose::STANDARD, Engine};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{check_window, decode_keys, parse_unix_secs, Inbound, Labels, Proof, Verified, VerifyError};
use crate::{headers::Headers, secret::Secret};

/// Default timestamp tolerance of the reference libraries, in seconds.
pub const TOLERANCE_SECS: u64 = 5 * 60;
/// Prefix of Standard Webhooks symmetric secrets.
pub const SECRET_PREFIX: &str = "whsec_";
const SIGNATURE_VERSION: &str = "v1";
/// At most this many signature entries are considered (rotation needs two or three).
const MAX_SIGNATURES: usize = 16;

/// (unbranded, Svix-branded) header names.
pub const ID_HEADERS: (&str, &str) = ("webhook-id", "svix-id");
/// Timestamp header names.
pub const TIMESTAMP_HEADERS: (&str, &str) = ("webhook-timestamp", "svix-timestamp");
/// Signature header names.
pub const SIGNATURE_HEADERS: (&str, &str) = ("webhook-signature", "svix-signature");

type HmacSha256 = Hmac<Sha256>;

/// Decodes a `whsec_…` secret (the prefix is optional) into the HMAC key.
///
/// # Errors
/// The reason, as a fixed string, when the secret is empty or not base64.
pub fn decode_secret(secret: &Secret) -> Result<Vec<u8>, &'static str> {
    let raw = secret.expose().trim();
    let b64 = raw.strip_prefix(SECRET_PREFIX).unwrap_or(raw);
    if b64.is_empty() {
        return Err("is empty after the whsec_ prefix");
    }
    let key = STANDARD.decode(b64).map_err(|_| "is not base64 after the whsec_ prefix")?;
    if key.is_empty() {
        return Err("decodes to an empty key");
    }
    Ok(key)
}

fn mac(key: &[u8], id: &str, ts: &str, body: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `webhook-signature` value a Standard Webhooks sender would send.
///
/// # Errors
/// When the secret is not a valid `whsec_` secret.
pub fn sign(secret: &Secret, id: &str, timestamp: u64, body: &[u8]) -> Result<String, &'static str> {
    let key = decode_secret(secret)?;
    let tag = mac(&key, id, &timestamp.to_string(), body).finalize().into_bytes();
    Ok(format!("{SIGNATURE_VERSION},{}", STANDARD.encode(tag)))
}

/// Which header family the request uses: the one whose signature header is
/// present (unbranded first), so the three values are never mixed.
fn family(headers: &Headers) -> Result<bool, VerifyError> {
    if headers.get(SIGNATURE_HEADERS.0).is_some() {
        Ok(false)
    } else if headers.get(SIGNATURE_HEADERS.1).is_some() {
        Ok(true)
    } else {
        Err(VerifyError::MissingHeader(SIGNATURE_HEADERS.0.into()))
    }
}

/// Reads one header of the chosen family (`svix` = the Svix-branded names).
fn get<'h>(headers: &'h Headers, names: (&'static str, &'static str), svix: bool) -> Result<&'h str, VerifyError> {
    let name = if svix { names.1 } else { names.0 };
    headers.get(name).map(str::trim).ok_or(VerifyError::MissingHeader(name.into()))
}

pub(super) fn verify<'a>(
    provider: &'static str,
    tolerance_override: Option<u64>,
    secrets: &[Secret],
    inbound: Inbound<'a>,
) -> Result<Verified<'a>, VerifyError> {
    // Keys first: a bad secret is flowgate's fault whatever the request says.
    let keys = decode_keys(provider, secrets, decode_secret)?;

    let svix = family(inbound.headers)?;
    let id = get(inbound.headers, ID_HEADERS, svix)?;
    let ts_text = get(inbound.headers, TIMESTAMP_HEADERS, svix)?;
    let sig_header = get(inbound.headers, SIGNATURE_HEADERS, svix)?;
    if id.is_empty() {
        return Err(VerifyError::MalformedHeader(ID_HEADERS.0.into()));
    }
    let ts = parse_unix_secs(ts_text).ok_or(VerifyError::MalformedHeader(TIMESTAMP_HEADERS.0.into()))?;

    let candidates: Vec<Vec<u8>> = sig_header
        .split(' ')
        .filter_map(|entry| entry.split_once(','))
        .filter(|(version, _)| *version == SIGNATURE_VERSION)
        .take(MAX_SIGNATURES)
        .filter_map(|(_, b64)| STANDARD.decode(b64).ok())
        .collect();
    if candidates.is_empty() {
        return Err(VerifyError::MalformedHeader(SIGNATURE_HEADERS.0.into()));
    }

    // The signature is checked before the time window, so an attacker learns
    // nothing about the window from unsigned requests; both must pass.
    let hits: Vec<(bool, Proof)> = keys
        .iter()
        .map(|key| {
            let expected = mac(key, id, ts_text, inbound.body);
            let hit = candidates.iter().fold(false, |hit, c| expected.clone().verify_slice(c).is_ok() | hit);
            (hit, Proof::of_mac(&expected.finalize().into_bytes()))
        })
        .collect();
    let Some(secret_index) = hits.iter().position(|(h, _)| *h) else {
        return Err(VerifyError::SignatureMismatch);
    };
    check_window(ts, inbound.now_secs, tolerance_override.unwrap_or(TOLERANCE_SECS))?;

    Ok(Verified::labelled(provider, secret_index, inbound.body, labels(inbound.headers, inbound.body))
        .with_proof(hits[secret_index].1))
}

/// The body's `type` and the id header. The id is read from the family of
/// the signature header present, as [`verify`] reads it; without a
/// signature header (an unsigned capture), from `webhook-id`, else `svix-id`.
pub(super) fn labels(headers: &Headers, body: &[u8]) -> Labels {
    let id = match family(headers) {
        Ok(svix) => get(headers, ID_HEADERS, svix).ok(),
        Err(_) => get(headers, ID_HEADERS, false).or_else(|_| get(headers, ID_HEADERS, true)).ok(),
    };
    Labels { event_type: event_type(body), delivery_id: id.filter(|id| !id.is_empty()).map(str::to_owned) }
}

/// The spec's payload carries the event type as a top-level `type` string.
/// Parsed only after verification, and only to label the delivery.
fn event_type(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Envelope {
        #[serde(rename = "type")]
        kind: Option<String>,
    }
    serde_json::from_slice::<Envelope>(body).ok()?.kind
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify;

    // standard-webhooks/libraries "sign function works" (webhook-providers.md §c).
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: u64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    const SIG_LAST_CHAR_CHANGED: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=";

    fn headers(prefix: &str, id: &str, ts: &str, sig: &str) -> Headers {
        Headers::new()
            .with(&format!("{prefix}-id"), id)
            .with(&format!("{prefix}-timestamp"), ts)
            .with(&format!("{prefix}-signature"), sig)
    }

    fn run_at(h: &Headers, body: &[u8], secrets: &[&str], now: u64) -> Result<(), VerifyError> {
        let secrets: Vec<Secret> = secrets.iter().map(|s| Secret::new(*s)).collect();
        let p = verify::find_provider("standard-webhooks").unwrap();
        verify::verify(p, &p.scheme(), None, &secrets, Inbound::post(h, body, now)).map(|_| ())
    }

    fn run(h: &Headers) -> Result<(), VerifyError> {
        run_at(h, BODY, &[SECRET], TS)
    }

    fn good() -> Headers {
        headers("webhook", ID, &TS.to_string(), SIG)
    }

    #[test]
    fn published_vector_signs_and_verifies() {
        assert_eq!(sign(&Secret::new(SECRET), ID, TS, BODY).unwrap(), SIG);
        assert_eq!(run(&good()), Ok(()));
    }

    #[test]
    fn svix_branded_headers_verify() {
        assert_eq!(run(&headers("svix", ID, &TS.to_string(), SIG)), Ok(()));
    }

    #[test]
    fn published_negative_vector_fails() {
        assert_eq!(
            run(&headers("webhook", ID, &TS.to_string(), SIG_LAST_CHAR_CHANGED)),
            Err(VerifyError::SignatureMismatch)
        );
    }

    #[test]
    fn several_signatures_one_good_passes() {
        let list = format!("{SIG_LAST_CHAR_CHANGED} v2,{} {SIG} v1,AAAA", &SIG[3..]);
        assert_eq!(run(&headers("webhook", ID, &TS.to_string(), &list)), Ok(()));
    }

    #[test]
    fn several_signatures_none_good_fails() {
        let list = format!("{SIG_LAST_CHAR_CHANGED} v2,{}", &SIG[3..]);
        assert_eq!(run(&headers("webhook", ID, &TS.to_string(), &list)), Err(VerifyError::SignatureMismatch));
    }

    #[test]
    fn partial_signatures_fail() {
        for partial in ["v1,", "v1,g0hM9SsE", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE"] {
            let r = run(&headers("webhook", ID, &TS.to_string(), partial));
            assert!(r.is_err(), "{partial}");
        }
    }

    #[test]
    fn tampered_body_id_and_timestamp_fail() {
        assert_eq!(run_at(&good(), br#"{"test": 2432232315}"#, &[SECRET], TS), Err(VerifyError::SignatureMismatch));
        assert_eq!(run(&headers("webhook", "msg_other", &TS.to_string(), SIG)), Err(VerifyError::SignatureMismatch));
        assert_eq!(run(&headers("webhook", ID, &(TS + 1).to_string(), SIG)), Err(VerifyError::SignatureMismatch));
    }

    #[test]
    fn wrong_secret_fails_and_rotation_passes() {
        let other = "whsec_QWxsIHRoZSB3b3JsZCdzIGEgc3RhZ2U=";
        assert_eq!(run_at(&good(), BODY, &[other], TS), Err(VerifyError::SignatureMismatch));
        assert_eq!(run_at(&good(), BODY, &[other, SECRET], TS), Ok(()));
        // Without the prefix the secret is the same key.
        assert_eq!(run_at(&good(), BODY, &["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], TS), Ok(()));
    }

    #[test]
    fn timestamp_window_is_five_minutes_each_way() {
        assert_eq!(run_at(&good(), BODY, &[SECRET], TS + 300), Ok(()));
        assert_eq!(run_at(&good(), BODY, &[SECRET], TS - 300), Ok(()));
        assert_eq!(run_at(&good(), BODY, &[SECRET], TS + 301), Err(VerifyError::TimestampTooOld));
        assert_eq!(run_at(&good(), BODY, &[SECRET], TS - 301), Err(VerifyError::TimestampInFuture));
    }

    #[test]
    fn malformed_timestamps_fail() {
        for ts in ["-1614265330", "1614265330.0", "abc", ""] {
            let r = run(&headers("webhook", ID, ts, SIG));
            assert_eq!(r, Err(VerifyError::MalformedHeader("webhook-timestamp".into())), "{ts:?}");
        }
    }

    #[test]
    fn each_missing_header_is_named() {
        for (drop, name) in [
            ("webhook-id", "webhook-id"),
            ("webhook-timestamp", "webhook-timestamp"),
            ("webhook-signature", "webhook-signature"),
        ] {
            let h: Headers = good().iter().filter(|(n, _)| *n != drop).collect();
            assert_eq!(run(&h), Err(VerifyError::MissingHeader(name.into())));
        }
    }

    #[test]
    fn header_families_are_not_mixed() {
        // A webhook-signature with svix-id/-timestamp: the webhook-* family is
        // chosen, and its id is missing.
        let h =
            Headers::new().with("svix-id", ID).with("svix-timestamp", TS.to_string()).with("webhook-signature", SIG);
        assert_eq!(run(&h), Err(VerifyError::MissingHeader("webhook-id".into())));
        let h = Headers::new().with("svix-id", ID).with("svix-signature", SIG);
        assert_eq!(run(&h), Err(VerifyError::MissingHeader("svix-timestamp".into())));
    }

    #[test]
    fn bad_secrets_are_config_errors() {
        for bad in ["whsec_", "whsec_!!!notbase64"] {
            let err = run_at(&good(), BODY, &[bad], TS).unwrap_err();
            assert!(err.is_config_error(), "{bad}: {err:?}");
            assert!(!format!("{err}").contains("notbase64"), "secret echoed");
        }
    }

    #[test]
    fn event_type_comes_from_the_payload() {
        let body = br#"{"type":"invoice.paid","timestamp":"2022-11-03T20:26:10.344522Z","data":{}}"#;
        let sig = sign(&Secret::new(SECRET), ID, TS, body).unwrap();
        let h = headers("webhook", ID, &TS.to_string(), &sig);
        let s = [Secret::new(SECRET)];
        let p = verify::find_provider("standard-webhooks").unwrap();
        let v = verify::verify(p, &p.scheme(), None, &s, Inbound::post(&h, body, TS)).unwrap();
        assert_eq!(v.event_type(), Some("invoice.paid"));
        assert_eq!(v.delivery_id(), Some(ID));
    }
}
