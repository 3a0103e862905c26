//! Amazon SNS HTTP(S) subscriptions:
//! <https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html>
//!
//! The body is a JSON message whose `Signature` (base64) is an RSA
//! PKCS#1 v1.5 signature — SHA-1 for `SignatureVersion` 1, SHA-256 for 2 —
//! over a canonical string: `Key\nValue\n` for each of the message type's
//! keys that is present, in this order:
//! - `Notification`: `Message`, `MessageId`, `Subject` (only if present),
//!   `Timestamp`, `TopicArn`, `Type`;
//! - `SubscriptionConfirmation` and `UnsubscribeConfirmation`: `Message`,
//!   `MessageId`, `SubscribeURL`, `Timestamp`, `Token`, `TopicArn`, `Type`.
//!
//! The key is in the X.509 certificate at `SigningCertURL`, which must be an
//! `https://sns.<region>.amazonaws.com[.cn]/….pem` URL (AWS's own validators,
//! e.g. aws-sdk-java-v2's `SnsHostProvider`, accept exactly that host shape).
//! The Worker fetches it ([`cert_url`] decides whether it may, before any
//! fetch; [`classify_certificate`] reads the answer; `src/x509_certs.rs`
//! caches it, with the Plaid key rules of [`super::plaid::keys`]: negative
//! cache, fetch budget, 502 when the host fails). A route may instead pin
//! certificates in `secret_bindings` (SNS rotates them; the route must then
//! be updated). Nothing else of the certificate is checked: its host is the
//! trust anchor, as in AWS's validators. In tests the route's
//! `sns_emulator_origin` (loopback only) replaces the SNS host.
//!
//! After verification, [`disposition`]: a `Notification` is forwarded; an
//! `UnsubscribeConfirmation` is answered, not forwarded; a
//! `SubscriptionConfirmation` is confirmed by GETting its `SubscribeURL`
//! ([`subscribe_url`]: an SNS host) only on a route with
//! `sns_confirm_subscriptions = true` and `sns_topic_arns` naming its topic —
//! SNS signs any AWS account's confirmations with the same certificates, so
//! without the allow-list anyone could subscribe the route to their topic.
//! Otherwise it is answered 200 and left pending (the log says what to do).
//!
//! Event type: `Type`. Delivery id: `MessageId` (SNS keeps it across its
//! retries). SNS checks no timestamp window in its validators; flowgate
//! applies none (the replay guard recognises a re-sent signed message).

use base64::{engine::general_purpose::STANDARD, Engine};
use serde_json::Value;

use super::{
    asymmetric::{Algorithm, Candidate, KeyOrigin, Pending, PublicKey},
    decode_keys, x509, Inbound, Labels, Proof, Verified, VerifyError,
};
use crate::{config::SnsSettings, secret::Secret};

/// The header SNS names the message type in (also in the body's `Type`).
pub const TYPE_HEADER: &str = "x-amz-sns-message-type";
pub use super::x509::{certificate_key, classify_certificate, MAX_CERT_BYTES};

const NOTIFICATION_KEYS: [&str; 6] = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"];
const CONFIRMATION_KEYS: [&str; 7] = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"];

fn malformed(what: &'static str) -> VerifyError {
    VerifyError::MalformedHeader(what.into())
}

/// Whether `host` is `sns.<region>.amazonaws.com` or `.amazonaws.com.cn`
/// (region: at least 3 of `a-z 0-9 -`).
fn is_sns_host(host: &str) -> bool {
    let Some(rest) = host.strip_prefix("sns.") else { return false };
    let Some(region) = rest.strip_suffix(".amazonaws.com").or_else(|| rest.strip_suffix(".amazonaws.com.cn")) else {
        return false;
    };
    region.len() >= 3 && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The path-and-query of `url` when it is on an SNS host over https (or,
/// with `base` set — the emulator, in tests — under that loopback base).
fn sns_path<'u>(url: &'u str, base: Option<&str>) -> Option<&'u str> {
    x509::allowed_path(url, base, is_sns_host)
}

/// The message's `SigningCertURL`, when it is one flowgate may fetch: an
/// SNS host over https, a path ending in `.pem`, no query. `base` replaces
/// the SNS host check with a loopback base URL (the emulator stands in for
/// SNS in tests, as it does for Plaid); the route's configuration only
/// allows a loopback base there.
pub fn cert_url(body: &[u8], base: Option<&str>) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let url = v.get("SigningCertURL")?.as_str()?;
    let path = sns_path(url, base)?;
    (path.ends_with(".pem") && !path.contains('?') && url.len() <= 1024).then(|| url.to_owned())
}

/// The `SubscribeURL` of a verified `SubscriptionConfirmation`, when it is
/// an SNS URL (as [`cert_url`]'s host rule) asking `Action=ConfirmSubscription`:
/// the only URL flowgate GETs to confirm a subscription.
pub fn subscribe_url(v: &Verified<'_>, base: Option<&str>) -> Option<String> {
    if v.provider() != "aws-sns" || v.event_type() != Some("SubscriptionConfirmation") {
        return None;
    }
    let body: Value = serde_json::from_slice(v.body()).ok()?;
    let url = body.get("SubscribeURL")?.as_str()?;
    let path = sns_path(url, base)?;
    let query = path.split_once('?')?.1;
    query.split('&').any(|p| p == "Action=ConfirmSubscription").then(|| url.to_owned())
}

/// The message's `TopicArn`.
pub fn topic_arn(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    v.get("TopicArn")?.as_str().map(str::to_owned)
}

/// What the Worker does with a verified SNS message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// A `Notification`: forwarded byte-exact (deduplicated on `MessageId`).
    Forward,
    /// A `SubscriptionConfirmation` to confirm: GET this `SubscribeURL`.
    Confirm(String),
    /// A `SubscriptionConfirmation` left unconfirmed, answered 200; why, for
    /// the operator's log.
    LeaveUnconfirmed(&'static str),
    /// An `UnsubscribeConfirmation`: answered 200, not forwarded.
    Unsubscribed,
    /// The message's `TopicArn` is not in the route's `sns_topic_arns`:
    /// refused (403), nothing forwarded or fetched.
    OtherTopic,
}

/// What to do with a verified SNS message on a route with `settings`.
///
/// A topic allow-list applies to every message type: SNS signs messages of
/// every AWS account's topics with the same certificates, so a valid
/// signature only says "SNS sent this", not "your topic sent this".
/// Confirmation needs the opt-in and an allow-list (config validation
/// refuses the opt-in without one), a `SubscribeURL` on an SNS host asking
/// `Action=ConfirmSubscription` for the message's own topic.
pub fn disposition(v: &Verified<'_>, settings: &SnsSettings) -> Disposition {
    let topic = topic_arn(v.body());
    if !settings.topic_arns.is_empty() && !topic.as_ref().is_some_and(|t| settings.topic_arns.contains(t)) {
        return Disposition::OtherTopic;
    }
    match v.event_type() {
        Some("SubscriptionConfirmation") => {
            if !settings.confirm_subscriptions || settings.topic_arns.is_empty() {
                return Disposition::LeaveUnconfirmed(
                    "sns_confirm_subscriptions is off: the subscription stays pending; confirm it in the AWS console (or set sns_confirm_subscriptions = true with sns_topic_arns on this route and have SNS resend the confirmation)",
                );
            }
            let Some(url) = subscribe_url(v, settings.emulator_origin.as_deref()) else {
                return Disposition::LeaveUnconfirmed(
                    "the SubscribeURL is not an SNS ConfirmSubscription URL: not fetched, subscription not confirmed",
                );
            };
            let own_topic = topic.is_some_and(|t| {
                url.split_once('?').is_some_and(|(_, q)| q.split('&').any(|p| p.strip_prefix("TopicArn=") == Some(&t)))
            });
            if own_topic {
                Disposition::Confirm(url)
            } else {
                Disposition::LeaveUnconfirmed(
                    "the SubscribeURL names another topic than the message: not fetched, subscription not confirmed",
                )
            }
        }
        Some("UnsubscribeConfirmation") => Disposition::Unsubscribed,
        _ => Disposition::Forward,
    }
}

/// The canonical string SNS signs for `msg`, or the field that is wrong.
fn canonical(msg: &Value) -> Result<Vec<u8>, VerifyError> {
    let keys: &[&str] = match msg.get("Type").and_then(Value::as_str) {
        Some("Notification") => &NOTIFICATION_KEYS,
        Some("SubscriptionConfirmation" | "UnsubscribeConfirmation") => &CONFIRMATION_KEYS,
        _ => return Err(malformed("Type")),
    };
    let mut out = Vec::new();
    for key in keys {
        match msg.get(*key) {
            Some(Value::String(v)) => {
                out.extend_from_slice(key.as_bytes());
                out.push(b'\n');
                out.extend_from_slice(v.as_bytes());
                out.push(b'\n');
            }
            None if *key == "Subject" => {}
            // Every other key is required, and a string.
            _ => return Err(malformed("SNS message field")),
        }
    }
    Ok(out)
}

pub(super) fn verify<'a>(
    provider: &'static str,
    secrets: &[Secret],
    inbound: Inbound<'a>,
) -> Result<Pending<'a>, VerifyError> {
    let certs = decode_keys(provider, secrets, |s| certificate_key(s.expose()))?;
    let msg: Value = serde_json::from_slice(inbound.body).map_err(|_| VerifyError::UnexpectedBody)?;
    let algorithm = match msg.get("SignatureVersion").and_then(Value::as_str) {
        Some("1") => Algorithm::RsaPkcs1Sha1,
        Some("2") => Algorithm::RsaPkcs1Sha256,
        _ => return Err(malformed("SignatureVersion")),
    };
    let sig = msg
        .get("Signature")
        .and_then(Value::as_str)
        .and_then(|s| STANDARD.decode(s).ok())
        .filter(|s| !s.is_empty())
        .ok_or(malformed("Signature"))?;
    let message = canonical(&msg)?;
    let candidates = certs
        .into_iter()
        .enumerate()
        .map(|(secret_index, spki)| Candidate { key: PublicKey::new(algorithm, spki), secret_index })
        .collect();
    let proof = Proof::of_message(&[&message]);
    let then = move |secret_index| {
        Ok(Verified::labelled(provider, secret_index, inbound.body, labels(inbound.body)).with_proof(proof))
    };
    // The certificate is AWS's (fetched), not the operator's: one the
    // platform refuses fails the request, it is not a configuration error.
    Ok(Pending::new(provider, message, sig, candidates, KeyOrigin::Sender, then))
}

/// The emulator's stand-in `SigningCertURL` path (`flowgate emulate` serves
/// the test certificate there; a route reaches it with `sns_emulator_origin`).
pub const EMULATOR_CERT_PATH: &str = "/sns/SimpleNotificationService-flowgate-test.pem";

/// Signs an SNS message as SNS does (`SignatureVersion` 2, RSA SHA-256 over
/// the type's canonical string) with an RSA private key (PKCS#8 or PKCS#1
/// PEM), setting `SignatureVersion` and `Signature`: for `flowgate send`
/// and tests.
///
/// # Errors
/// A fixed reason when the key is not an RSA private key or the message
/// lacks a field its type signs.
#[cfg(any(test, feature = "native-crypto"))]
pub fn sign(private_pem: &str, msg: &mut serde_json::Map<String, Value>, version: u8) -> Result<(), &'static str> {
    use rsa::{pkcs1::DecodeRsaPrivateKey, pkcs8::DecodePrivateKey, Pkcs1v15Sign, RsaPrivateKey};
    use sha2::Digest as _;
    let key = RsaPrivateKey::from_pkcs8_pem(private_pem)
        .or_else(|_| RsaPrivateKey::from_pkcs1_pem(private_pem))
        .map_err(|_| "is not an RSA private key (PEM)")?;
    msg.insert("SignatureVersion".to_owned(), version.to_string().into());
    let canonical = canonical(&Value::Object(msg.clone())).map_err(|_| "lacks a field SNS signs")?;
    let sig = match version {
        1 => key.sign(Pkcs1v15Sign::new::<sha1::Sha1>(), &sha1::Sha1::digest(&canonical)),
        _ => key.sign(Pkcs1v15Sign::new::<sha2::Sha256>(), &sha2::Sha256::digest(&canonical)),
    }
    .map_err(|_| "cannot sign")?;
    msg.insert("Signature".to_owned(), STANDARD.encode(sig).into());
    Ok(())
}

/// `Type` and `MessageId`.
pub(super) fn labels(body: &[u8]) -> Labels {
    super::json_labels(body, "Type", "MessageId")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        headers::Headers,
        verify::{find_provider, verify as verify_any},
    };

    const CERT: &str = include_str!("sns/SimpleNotificationService-7506a1e35b36ef5a444dd1a8e7cc3ed8.pem");
    const SUBSCRIBE: &str = include_str!("sns/test-subscription-confirmation.json");
    const NOTIFY_V1: &str = include_str!("sns/test-notification-with-subject.json");
    const NOTIFY_V2: &str = include_str!("sns/test-notification-signature-v2.json");
    const UNSUBSCRIBE_V2: &str = include_str!("sns/test-unsubscribe-confirmation.json");
    const NOW: u64 = 1_772_830_000;

    fn run(body: &str, cert: &str) -> Result<Verified<'static>, VerifyError> {
        let p = find_provider("aws-sns").unwrap();
        let h: &'static Headers = Box::leak(Box::new(Headers::new()));
        let body: &'static [u8] = Box::leak(body.as_bytes().to_vec().into_boxed_slice());
        verify_any(p, &p.scheme(), None, &[Secret::new(cert)], Inbound::post(h, body, NOW))
    }

    #[test]
    fn aws_published_messages_verify_with_their_certificate() {
        for (body, ty, id) in [
            (SUBSCRIBE, "SubscriptionConfirmation", "f3f2fc87-c426-4c2f-9044-b55890c0939c"),
            (NOTIFY_V1, "Notification", "26858270-545e-5848-82a2-e05566af3dcf"),
            (NOTIFY_V2, "Notification", "9d2c5580-b61d-550c-8583-37a582870907"),
            (UNSUBSCRIBE_V2, "UnsubscribeConfirmation", "0b71e34e-42c3-486a-9e32-b1928ec994b5"),
        ] {
            let v = run(body, CERT).unwrap_or_else(|e| panic!("{ty}: {e}"));
            assert_eq!((v.event_type(), v.delivery_id()), (Some(ty), Some(id)));
            assert!(v.proof().is_some());
        }
    }

    #[test]
    fn tampered_published_messages_fail() {
        let swap = |body: &str, from: &str, to: &str| body.replacen(from, to, 1);
        for (body, from, to) in [
            (NOTIFY_V1, "Hello! This", "Hello? This"),
            (NOTIFY_V1, "My message subject", "My message subjecT"),
            (NOTIFY_V2, "signature version 2.", "signature version 2!"),
            (
                SUBSCRIBE,
                "Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-west-2",
                "Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-east-1",
            ),
            (SUBSCRIBE, "2026-03-06T19:31:32.895Z", "2026-03-06T19:31:33.895Z"),
            (UNSUBSCRIBE_V2, "\"Token\" : \"2336", "\"Token\" : \"3336"),
            // The type changes the canonical string.
            (UNSUBSCRIBE_V2, "\"UnsubscribeConfirmation\"", "\"SubscriptionConfirmation\""),
        ] {
            let t = swap(body, from, to);
            assert_ne!(t, body, "{from}");
            assert_eq!(run(&t, CERT).unwrap_err(), VerifyError::SignatureMismatch, "{from} -> {to}");
        }
        // A v1 signature claimed as v2 (and back) does not verify.
        let t = swap(NOTIFY_V1, "\"SignatureVersion\" : \"1\"", "\"SignatureVersion\" : \"2\"");
        assert_eq!(run(&t, CERT).unwrap_err(), VerifyError::SignatureMismatch);
        let t = swap(NOTIFY_V2, "\"SignatureVersion\" : \"2\"", "\"SignatureVersion\" : \"1\"");
        assert_eq!(run(&t, CERT).unwrap_err(), VerifyError::SignatureMismatch);
        // Dropping the Subject changes what was signed.
        let t = swap(NOTIFY_V1, "\"Subject\" : \"My message subject\",\n", "");
        assert_eq!(run(&t, CERT).unwrap_err(), VerifyError::SignatureMismatch);
        // Malformed fields.
        for (from, to) in [
            ("\"SignatureVersion\" : \"1\"", "\"SignatureVersion\" : \"3\""),
            ("\"Signature\" : \"jvNS", "\"Signature\" : \"!jvNS"),
            ("\"Type\" : \"Notification\"", "\"Type\" : \"Other\""),
        ] {
            assert!(
                matches!(run(&swap(NOTIFY_V1, from, to), CERT).unwrap_err(), VerifyError::MalformedHeader(_)),
                "{to}"
            );
        }
        assert!(matches!(
            run(&swap(NOTIFY_V1, "\"MessageId\"", "\"MessageID\""), CERT).unwrap_err(),
            VerifyError::MalformedHeader(_)
        ));
        assert_eq!(run("not json", CERT).unwrap_err(), VerifyError::UnexpectedBody);
    }

    #[test]
    fn another_certificate_does_not_verify_and_a_non_certificate_is_refused() {
        let other = include_str!("../../../../tests/fixtures/entra-test-cert.pem");
        assert_eq!(run(NOTIFY_V1, other).unwrap_err(), VerifyError::SignatureMismatch);
        for bad in ["", "not a cert", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"] {
            assert!(certificate_key(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_der_walk_finds_the_same_key_as_x509_cert() {
        use x509_cert::der::{Decode, Encode};

        use crate::verify::der::unarmor;

        for pem in [CERT, include_str!("../../../../tests/fixtures/entra-test-cert.pem")] {
            let der = STANDARD.decode(unarmor(pem)).unwrap();
            let cert = x509_cert::Certificate::from_der(&der).unwrap();
            let expected = cert.tbs_certificate.subject_public_key_info.to_der().unwrap();
            assert_eq!(certificate_key(pem).unwrap(), expected);
        }
    }

    #[test]
    fn only_sns_hosts_over_https_are_fetched() {
        let body = |url: &str| format!(r#"{{"SigningCertURL":"{url}"}}"#);
        let good = "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-7506a1e35b36ef5a444dd1a8e7cc3ed8.pem";
        assert_eq!(cert_url(body(good).as_bytes(), None).as_deref(), Some(good));
        assert!(cert_url(body("https://sns.cn-north-1.amazonaws.com.cn/x.pem").as_bytes(), None).is_some());
        for bad in [
            "http://sns.us-west-2.amazonaws.com/x.pem",
            "https://sns.us-west-2.amazonaws.com.evil.example/x.pem",
            "https://evil.example/sns.us-west-2.amazonaws.com/x.pem",
            "https://sns.us-west-2.amazonaws.com@evil.example/x.pem",
            "https://sns.us-west-2.amazonaws.com:8443/x.pem",
            "https://s3.us-west-2.amazonaws.com/x.pem",
            "https://sns.x.amazonaws.com/x.pem",
            "https://sns.us-west-2.amazonaws.com/x.pem?a=b",
            "https://sns.us-west-2.amazonaws.com/x.txt",
            "https://sns.US-WEST-2.amazonaws.com/x.pem",
            "https://sns.us-west-2.amazonaws.com/x.pem#f",
        ] {
            assert_eq!(cert_url(body(bad).as_bytes(), None), None, "{bad}");
        }
        // The emulator's base stands in for SNS in tests, and nothing else does then.
        let base = Some("http://127.0.0.1:8790");
        assert!(cert_url(body("http://127.0.0.1:8790/sns/cert.pem").as_bytes(), base).is_some());
        assert!(cert_url(body(good).as_bytes(), base).is_none());
        assert!(cert_url(body("http://127.0.0.1:87901/x.pem").as_bytes(), base).is_none());
    }

    #[test]
    fn a_subscription_is_confirmed_only_at_an_sns_subscribe_url() {
        let v = run(SUBSCRIBE, CERT).unwrap();
        let url = subscribe_url(&v, None).unwrap();
        assert!(url.starts_with("https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&"));
        // A notification or an unsubscribe confirmation confirms nothing.
        assert_eq!(subscribe_url(&run(NOTIFY_V1, CERT).unwrap(), None), None);
        assert_eq!(subscribe_url(&run(UNSUBSCRIBE_V2, CERT).unwrap(), None), None);
    }

    #[test]
    fn messages_are_forwarded_confirmed_or_answered_by_type_and_topic() {
        let topic = "arn:aws:sns:us-west-2:131990247566:dongie-standard-topic";
        let off = SnsSettings { emulator_origin: None, confirm_subscriptions: false, topic_arns: vec![] };
        let on = SnsSettings { confirm_subscriptions: true, topic_arns: vec![topic.to_owned()], ..off.clone() };
        let other =
            SnsSettings { topic_arns: vec!["arn:aws:sns:us-west-2:131990247566:other".to_owned()], ..on.clone() };
        let (sub, note, unsub) =
            (run(SUBSCRIBE, CERT).unwrap(), run(NOTIFY_V2, CERT).unwrap(), run(UNSUBSCRIBE_V2, CERT).unwrap());
        assert_eq!(disposition(&note, &off), Disposition::Forward);
        assert_eq!(disposition(&note, &on), Disposition::Forward);
        assert_eq!(disposition(&unsub, &off), Disposition::Unsubscribed);
        assert!(matches!(disposition(&sub, &off), Disposition::LeaveUnconfirmed(_)));
        match disposition(&sub, &on) {
            Disposition::Confirm(url) => assert!(url.starts_with("https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-west-2:131990247566:dongie-standard-topic&Token=")),
            d => panic!("{d:?}"),
        }
        // Another topic's messages, of every type, are refused.
        for v in [&sub, &note, &unsub] {
            assert_eq!(disposition(v, &other), Disposition::OtherTopic);
        }
        // An opt-in without an allow-list (which validation refuses) confirms nothing.
        let no_list = SnsSettings { topic_arns: vec![], ..on.clone() };
        assert!(matches!(disposition(&sub, &no_list), Disposition::LeaveUnconfirmed(_)));
        // With the emulator's origin, a real SNS SubscribeURL is not fetched.
        let emulated = SnsSettings { emulator_origin: Some("http://127.0.0.1:8790".to_owned()), ..on };
        assert!(matches!(disposition(&sub, &emulated), Disposition::LeaveUnconfirmed(_)));
    }

    #[test]
    fn round_trip_signed_as_sns_signs_both_versions() {
        let key = include_str!("../../../../tests/fixtures/entra-test-key.pem");
        let cert = include_str!("../../../../tests/fixtures/entra-test-cert.pem");
        for version in [1, 2] {
            let mut m: serde_json::Map<String, Value> = serde_json::from_str(NOTIFY_V1).unwrap();
            sign(key, &mut m, version).unwrap();
            let body = Value::Object(m).to_string();
            assert!(run(&body, cert).is_ok(), "v{version}");
            assert_eq!(run(&body, CERT).unwrap_err(), VerifyError::SignatureMismatch);
            assert_eq!(run(&body.replacen("Hello!", "Hello?", 1), cert).unwrap_err(), VerifyError::SignatureMismatch);
        }
    }

    #[test]
    fn certificate_answers_are_classified() {
        use crate::verify::plaid::keys::KeyAnswer;
        assert_eq!(classify_certificate(200, None, CERT.as_bytes()), KeyAnswer::Key(CERT.to_owned()));
        assert!(matches!(classify_certificate(200, None, b"<html>"), KeyAnswer::Unavailable { .. }));
        assert!(classify_certificate(404, None, b"").is_forged());
        assert!(classify_certificate(403, None, b"").is_forged());
        assert_eq!(classify_certificate(429, Some(3), b""), KeyAnswer::Throttled { retry_after_secs: Some(3) });
        for s in [500, 503, 301, 400] {
            assert!(matches!(classify_certificate(s, None, b""), KeyAnswer::Unavailable { .. }), "{s}");
        }
    }
}
