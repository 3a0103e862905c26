//! PayPal REST webhooks:
//! <https://developer.paypal.com/api/rest/webhooks/rest/#link-eventheadervalidation>
//!
//! Each notification carries `PAYPAL-TRANSMISSION-ID`, `-TIME`, `-SIG`
//! (base64), `PAYPAL-CERT-URL` and `PAYPAL-AUTH-ALGO` (`SHA256withRSA`).
//! The signature is RSASSA-PKCS1-v1_5 / SHA-256 over
//! `<transmission id>|<transmission time>|<webhook id>|<CRC32 of the raw body>`
//! (the CRC32 is IEEE's, as zlib computes it, written as an unsigned
//! decimal), with the key of the X.509 certificate at `PAYPAL-CERT-URL`.
//! The webhook id is the route's (`paypal_webhook_id`): it is what binds a
//! notification to *your* webhook — PayPal signs every merchant's
//! notifications with the same certificate.
//!
//! The certificate URL must be `https://<host>/v1/notifications/certs/<id>`
//! with host `api.paypal.com`, `api-m.paypal.com`, `api.sandbox.paypal.com`
//! or `api-m.sandbox.paypal.com`: the hosts PayPal's certificate URLs are
//! on (its samples show `https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42-…`),
//! and what independent verifiers accept (read with the search tool; PayPal's
//! current server SDKs verify by calling `verify-webhook-signature` instead).
//! The Worker fetches and caches it as it does SNS's ([`super::x509`],
//! `src/x509_certs.rs`). PayPal's retired Java SDK also checked the
//! certificate's chain and its subject (`messageverificationcerts.paypal.com`);
//! flowgate, as for SNS, takes PayPal's own host over https as the trust
//! anchor and checks only the key.
//!
//! The route's secret for [`verify`] is [`route_key`]: the webhook id and
//! the fetched certificate, joined (the Worker builds it; neither is a
//! secret in itself). Event type: the JSON `event_type`. Delivery id: the
//! JSON `id` (`WH-…`, the same on PayPal's retries). PayPal documents no
//! timestamp window; none is applied (the replay guard refuses a re-sent
//! signed request).

use base64::{engine::general_purpose::STANDARD, Engine};

use super::{
    asymmetric::{Algorithm, Candidate, KeyOrigin, Pending, PublicKey},
    json_labels, x509, Inbound, Labels, Proof, Verified, VerifyError,
};
use crate::{headers::Headers, secret::Secret};

/// `PAYPAL-TRANSMISSION-ID`.
pub const ID_HEADER: &str = "paypal-transmission-id";
/// `PAYPAL-TRANSMISSION-TIME`.
pub const TIME_HEADER: &str = "paypal-transmission-time";
/// `PAYPAL-TRANSMISSION-SIG`.
pub const SIG_HEADER: &str = "paypal-transmission-sig";
/// `PAYPAL-CERT-URL`.
pub const CERT_URL_HEADER: &str = "paypal-cert-url";
/// `PAYPAL-AUTH-ALGO`.
pub const ALGO_HEADER: &str = "paypal-auth-algo";
/// The only algorithm PayPal uses.
pub const ALGORITHM: &str = "SHA256withRSA";
/// The path PayPal's certificates are under.
pub const CERT_PATH: &str = "/v1/notifications/certs/";
/// The emulator's certificate id (`flowgate send paypal` names it).
pub const EMULATOR_CERT_ID: &str = "CERT-flowgate-test";
/// PayPal's hosts for certificates.
const HOSTS: [&str; 4] = ["api.paypal.com", "api-m.paypal.com", "api.sandbox.paypal.com", "api-m.sandbox.paypal.com"];
/// Longest header value read (PayPal's ids are UUIDs, its times ~25 bytes).
const MAX_FIELD: usize = 100;

/// Whether `id` can be a PayPal webhook id (PayPal: 1–50 of `A-Z a-z 0-9`).
pub fn is_webhook_id(id: &str) -> bool {
    (1..=50).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// CRC-32 (IEEE 802.3, reflected, as zlib's `crc32`).
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & 0u32.wrapping_sub(crc & 1));
        }
    }
    !crc
}

/// The string PayPal signs.
pub fn signed_string(transmission_id: &str, time: &str, webhook_id: &str, body: &[u8]) -> String {
    format!("{transmission_id}|{time}|{webhook_id}|{}", crc32(body))
}

/// `PAYPAL-CERT-URL` when it is one flowgate may fetch: a PayPal host over
/// https (or, with `base` — the emulator, in tests — under that loopback
/// base), a path `/v1/notifications/certs/<id>`, the id 1–128 of
/// `A-Z a-z 0-9 - _ .`, no query.
pub fn cert_url(headers: &Headers, base: Option<&str>) -> Option<String> {
    let url = headers.get(CERT_URL_HEADER)?.trim();
    let path = x509::allowed_path(url, base, |h| HOSTS.contains(&h))?;
    let id = path.strip_prefix(CERT_PATH)?;
    let ok = (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    ok.then(|| url.to_owned())
}

/// The secret [`verify`] takes: the route's webhook id and the certificate.
pub fn route_key(webhook_id: &str, certificate_pem: &str) -> Secret {
    Secret::new(format!("{webhook_id}\n{certificate_pem}"))
}

/// The webhook id and the certificate's RSA key of a [`route_key`].
fn split_key(s: &Secret) -> Result<(String, Vec<u8>), &'static str> {
    let (id, pem) = s.expose().split_once('\n').ok_or("is not a PayPal webhook id and certificate")?;
    if !is_webhook_id(id) {
        return Err("does not start with a PayPal webhook id");
    }
    Ok((id.to_owned(), x509::certificate_key(pem)?))
}

fn header<'h>(headers: &'h Headers, name: &'static str) -> Result<&'h str, VerifyError> {
    let v = headers.get(name).ok_or(VerifyError::MissingHeader(name.into()))?.trim();
    if v.is_empty() || v.len() > MAX_FIELD || v.contains('|') {
        return Err(VerifyError::MalformedHeader(name.into()));
    }
    Ok(v)
}

pub(super) fn verify<'a>(
    provider: &'static str,
    secrets: &[Secret],
    inbound: Inbound<'a>,
) -> Result<Pending<'a>, VerifyError> {
    let keys = super::decode_keys(provider, secrets, split_key)?;
    let h = inbound.headers;
    if header(h, ALGO_HEADER)? != ALGORITHM {
        return Err(VerifyError::MalformedHeader(ALGO_HEADER.into()));
    }
    let (id, time) = (header(h, ID_HEADER)?, header(h, TIME_HEADER)?);
    let sig = h
        .get(SIG_HEADER)
        .ok_or(VerifyError::MissingHeader(SIG_HEADER.into()))
        .and_then(|s| STANDARD.decode(s.trim()).map_err(|_| VerifyError::MalformedHeader(SIG_HEADER.into())))?;
    if sig.is_empty() {
        return Err(VerifyError::MalformedHeader(SIG_HEADER.into()));
    }
    // One message per webhook id (a route has one; rotation lists two).
    let crc = crc32(inbound.body);
    let mut messages: Vec<(String, Vec<u8>, usize)> = Vec::with_capacity(keys.len());
    for (i, (webhook_id, spki)) in keys.into_iter().enumerate() {
        messages.push((format!("{id}|{time}|{webhook_id}|{crc}"), spki, i));
    }
    // A route has one webhook id: keys listed under another id than the
    // first are not tried.
    let message = messages.first().map(|m| m.0.clone().into_bytes()).unwrap_or_default();
    let candidates = messages
        .into_iter()
        .filter(|(m, _, _)| m.as_bytes() == message.as_slice())
        .map(|(_, spki, secret_index)| Candidate { key: PublicKey::new(Algorithm::RsaPkcs1Sha256, spki), secret_index })
        .collect();
    let proof = Proof::of_message(&[&message]);
    let then = move |secret_index| {
        Ok(Verified::labelled(provider, secret_index, inbound.body, labels(inbound.body)).with_proof(proof))
    };
    Ok(Pending::new(provider, message, sig, candidates, KeyOrigin::Sender, then))
}

/// `event_type` and `id`.
pub(super) fn labels(body: &[u8]) -> Labels {
    json_labels(body, "event_type", "id")
}

/// The headers PayPal sends for `body`, signed with an RSA private key (PEM)
/// as PayPal signs: for `flowgate send` and tests.
///
/// # Errors
/// A fixed reason when the key is not an RSA private key.
#[cfg(any(test, feature = "native-crypto"))]
pub fn sign(
    private_pem: &str,
    webhook_id: &str,
    transmission_id: &str,
    time: &str,
    cert_url: &str,
    body: &[u8],
) -> Result<Vec<(String, String)>, &'static str> {
    use rsa::{pkcs1::DecodeRsaPrivateKey, pkcs8::DecodePrivateKey, Pkcs1v15Sign, RsaPrivateKey};
    use sha2::Digest as _;
    let key = RsaPrivateKey::from_pkcs8_pem(private_pem)
        .or_else(|_| RsaPrivateKey::from_pkcs1_pem(private_pem))
        .map_err(|_| "is not an RSA private key (PEM)")?;
    let signed = signed_string(transmission_id, time, webhook_id, body);
    let sig = key
        .sign(Pkcs1v15Sign::new::<sha2::Sha256>(), &sha2::Sha256::digest(signed.as_bytes()))
        .map_err(|_| "cannot sign")?;
    Ok(vec![
        (ID_HEADER.to_owned(), transmission_id.to_owned()),
        (TIME_HEADER.to_owned(), time.to_owned()),
        (SIG_HEADER.to_owned(), STANDARD.encode(sig)),
        (CERT_URL_HEADER.to_owned(), cert_url.to_owned()),
        (ALGO_HEADER.to_owned(), ALGORITHM.to_owned()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::{find_provider, verify as verify_any};

    const KEY: &str = include_str!("../../../../tests/fixtures/entra-test-key.pem");
    const CERT: &str = include_str!("../../../../tests/fixtures/entra-test-cert.pem");
    const SNS_CERT: &str = include_str!("sns/SimpleNotificationService-7506a1e35b36ef5a444dd1a8e7cc3ed8.pem");
    const WEBHOOK: &str = "9XL90610J3647323C";
    const BODY: &str = r#"{"id":"WH-9UG43882HX7271132-6E0871324L7949614","event_version":"1.0","create_time":"2016-09-21T22:00:45Z","resource_type":"sale","event_type":"PAYMENT.SALE.COMPLETED","resource":{"id":"80F85758S3080410K"}}"#;
    const CERT_URL: &str = "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77";
    const NOW: u64 = 1_474_495_246;

    fn signed(body: &str) -> Vec<(String, String)> {
        sign(KEY, WEBHOOK, "d938e770-8046-11e6-8103-6b62a8a99ac4", "2016-09-21T22:00:46Z", CERT_URL, body.as_bytes())
            .unwrap()
    }

    fn run(headers: &[(String, String)], body: &str, secret: Secret) -> Result<Verified<'static>, VerifyError> {
        let p = find_provider("paypal").unwrap();
        let h: Headers = headers.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        let h: &'static Headers = Box::leak(Box::new(h));
        let body: &'static [u8] = Box::leak(body.as_bytes().to_vec().into_boxed_slice());
        verify_any(p, &p.scheme(), None, &[secret], Inbound::post(h, body, NOW))
    }

    #[test]
    fn crc32_is_zlibs() {
        // The standard check value, and the empty string.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"The quick brown fox jumps over the lazy dog"), 0x414F_A339);
        assert_eq!(signed_string("a", "t", "W", b"123456789"), "a|t|W|3421780262");
    }

    #[test]
    fn a_signature_made_as_paypal_makes_it_verifies() {
        let v = run(&signed(BODY), BODY, route_key(WEBHOOK, CERT)).unwrap();
        assert_eq!(v.event_type(), Some("PAYMENT.SALE.COMPLETED"));
        assert_eq!(v.delivery_id(), Some("WH-9UG43882HX7271132-6E0871324L7949614"));
        assert!(v.proof().is_some());
    }

    #[test]
    fn tampered_variants_fail() {
        let good = signed(BODY);
        let with = |name: &str, value: &str| {
            let mut h = good.clone();
            for (k, v) in &mut h {
                if k == name {
                    *v = value.to_owned();
                }
            }
            h
        };
        let key = || route_key(WEBHOOK, CERT);
        // The body, each signed header, another webhook id, another certificate.
        assert_eq!(run(&good, &BODY.replacen("SALE", "SALF", 1), key()).unwrap_err(), VerifyError::SignatureMismatch);
        assert_eq!(
            run(&with(ID_HEADER, "d938e770-8046-11e6-8103-6b62a8a99ac5"), BODY, key()).unwrap_err(),
            VerifyError::SignatureMismatch
        );
        assert_eq!(
            run(&with(TIME_HEADER, "2016-09-21T22:00:47Z"), BODY, key()).unwrap_err(),
            VerifyError::SignatureMismatch
        );
        assert_eq!(run(&good, BODY, route_key("9XL90610J3647323D", CERT)).unwrap_err(), VerifyError::SignatureMismatch);
        assert_eq!(run(&good, BODY, route_key(WEBHOOK, SNS_CERT)).unwrap_err(), VerifyError::SignatureMismatch);
        let sig = good.iter().find(|(k, _)| k == SIG_HEADER).unwrap().1.clone();
        let flipped = format!("{}{}", if sig.starts_with('A') { "B" } else { "A" }, &sig[1..]);
        assert_eq!(run(&with(SIG_HEADER, &flipped), BODY, key()).unwrap_err(), VerifyError::SignatureMismatch);
        // Malformed or missing headers.
        assert!(matches!(
            run(&with(ALGO_HEADER, "SHA1withRSA"), BODY, key()).unwrap_err(),
            VerifyError::MalformedHeader(_)
        ));
        assert!(matches!(run(&with(SIG_HEADER, "!!"), BODY, key()).unwrap_err(), VerifyError::MalformedHeader(_)));
        assert!(matches!(run(&with(ID_HEADER, "a|b"), BODY, key()).unwrap_err(), VerifyError::MalformedHeader(_)));
        for name in [ID_HEADER, TIME_HEADER, SIG_HEADER, ALGO_HEADER] {
            let h: Vec<_> = good.iter().filter(|(k, _)| k != name).cloned().collect();
            assert_eq!(run(&h, BODY, key()).unwrap_err(), VerifyError::MissingHeader(name.into()), "{name}");
        }
        // A secret that is not a webhook id and a certificate is a configuration error.
        for bad in [Secret::new(CERT), Secret::new(format!("not an id!\n{CERT}")), route_key(WEBHOOK, "x")] {
            assert!(run(&good, BODY, bad).unwrap_err().is_config_error());
        }
    }

    #[test]
    fn only_paypal_certificate_urls_are_fetched() {
        let h = |url: &str| Headers::new().with(CERT_URL_HEADER, url.to_owned());
        for good in [
            CERT_URL,
            "https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-1d93a270",
            "https://api-m.paypal.com/v1/notifications/certs/CERT-1",
            "https://api-m.sandbox.paypal.com/v1/notifications/certs/CERT-1",
        ] {
            assert_eq!(cert_url(&h(good), None).as_deref(), Some(good));
        }
        for bad in [
            "http://api.paypal.com/v1/notifications/certs/CERT-1",
            "https://api.paypal.com.evil.example/v1/notifications/certs/CERT-1",
            "https://evil.example/v1/notifications/certs/CERT-1",
            "https://api.paypal.com@evil.example/v1/notifications/certs/CERT-1",
            "https://api.paypal.com:8443/v1/notifications/certs/CERT-1",
            "https://www.paypal.com/v1/notifications/certs/CERT-1",
            "https://api.paypal.com/v1/notifications/certs/",
            "https://api.paypal.com/v1/notifications/certs/CERT-1?x=y",
            "https://api.paypal.com/v1/notifications/certs/../../oauth2/token",
            "https://api.paypal.com/v1/notifications/certs/CERT-1#f",
            "https://api.paypal.com/v1/other/CERT-1",
        ] {
            assert_eq!(cert_url(&h(bad), None), None, "{bad}");
        }
        assert_eq!(cert_url(&Headers::new(), None), None);
        // The emulator's base replaces PayPal's hosts in tests, and then only it.
        let base = Some("http://127.0.0.1:8790");
        assert!(cert_url(&h("http://127.0.0.1:8790/v1/notifications/certs/CERT-flowgate-test"), base).is_some());
        assert!(cert_url(&h(CERT_URL), base).is_none());
    }

    #[test]
    fn webhook_ids_are_paypals_shape() {
        assert!(is_webhook_id(WEBHOOK));
        for bad in ["", "WH-1", "a b", &"A".repeat(51)] {
            assert!(!is_webhook_id(bad), "{bad}");
        }
    }
}
