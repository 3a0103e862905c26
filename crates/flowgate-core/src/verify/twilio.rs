//! Twilio: <https://www.twilio.com/docs/usage/webhooks/webhooks-security>
//!
//! `X-Twilio-Signature` is the base64 HMAC-SHA1, keyed by the account's Auth
//! Token, of the full webhook URL followed by the POST parameters:
//!
//! - **form bodies** (`application/x-www-form-urlencoded`, most webhooks): the
//!   parameters, URL-decoded, sorted by name (byte-wise), each name's distinct
//!   values sorted, appended as `name ‖ value` (twilio-python
//!   `RequestValidator.compute_signature`; twilio-node
//!   `getExpectedTwilioSignature`);
//! - **JSON bodies**: the URL carries `bodySHA256=<hex SHA-256 of the body>`;
//!   the signature covers the URL alone, and the body must hash to that value
//!   (twilio-node `validateRequestWithBody`, twilio-python `validate` with a
//!   string body).
//!
//! Twilio's back end is inconsistent about the port, so both SDKs accept the
//! URL with the port removed (any port) and with the scheme's default port
//! added (`:443` for https, `:80` otherwise) — twilio-python `remove_port` /
//! `add_port`, twilio-node `removePort` / `addPort`. twilio-node also tries
//! the query string re-serialised in its legacy form, and its tests
//! (`spec/unit/webhooks/webhooks.spec.js`) pin down the case that matters: a
//! URL signed with `'` verifies when received with `%27` and the reverse. The
//! Worker sees the URL as the runtime normalised it (WHATWG, which encodes
//! `'` in a query as `%27`), so flowgate tries the query with `%27` → `'`
//! and `'` → `%27` as well: at most six URLs per secret.
//!
//! No timestamp is signed. `I-Twilio-Idempotency-Token` (sent with retried
//! webhooks) is the delivery id; Twilio sends no event-type header.
//! Twilio's newer "Webhook rules" (HMAC-SHA256 with a shared key, announced
//! by an `X-Twilio-Webhooks-Signature-Settings` header) are not supported:
//! the SDK release that flowgate's sources were checked against has no trace
//! of them.

use base64::{engine::general_purpose::STANDARD, Engine};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::{Inbound, Labels, Verified, VerifyError};
use crate::{
    headers::Headers,
    secret::{ct_eq, Secret},
};

/// The signature header.
pub const SIGNATURE_HEADER: &str = "x-twilio-signature";
/// The delivery id header Twilio adds to webhooks (the same on retries).
pub const IDEMPOTENCY_HEADER: &str = "i-twilio-idempotency-token";
/// The query parameter that switches to JSON-body mode.
pub const BODY_HASH_PARAM: &str = "bodySHA256";

fn mac(key: &[u8], url: &str, params: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha1>::new_from_slice(key).expect("HMAC accepts any key length");
    m.update(url.as_bytes());
    m.update(params);
    m.finalize().into_bytes().to_vec()
}

/// The form parameters of `body` as Twilio signs them.
fn signed_params(body: &[u8]) -> Vec<u8> {
    let mut pairs: Vec<(String, String)> =
        form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    // Sorting the pairs sorts by name, then value; identical pairs are dropped
    // (both SDKs deduplicate a name's values).
    pairs.sort();
    pairs.dedup();
    let mut out = Vec::new();
    for (k, v) in pairs {
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(v.as_bytes());
    }
    out
}

/// The query part of `url` (without the fragment), if any.
fn query(url: &str) -> Option<&str> {
    let q = url.split_once('?')?.1;
    Some(q.split('#').next().unwrap_or(q))
}

/// The value of `name` in `url`'s query string.
fn query_param(url: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(query(url)?.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// `url` without any port, and with the scheme's default port when it has
/// none (unchanged otherwise), as twilio-python's `remove_port`/`add_port`.
fn port_variants(url: &str) -> [String; 2] {
    let Some((scheme, after)) = url.split_once("://") else { return [url.to_owned(), url.to_owned()] };
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(i) => authority.split_at(i + 1),
        None => ("", authority),
    };
    let port_at = hostport.rfind(':').filter(|&i| {
        hostport[i + 1..].bytes().all(|b| b.is_ascii_digit())
            && (!hostport.starts_with('[') || hostport[..i].ends_with(']'))
    });
    match port_at {
        Some(i) => [format!("{scheme}://{userinfo}{}{rest}", &hostport[..i]), url.to_owned()],
        None => {
            let port = if scheme.eq_ignore_ascii_case("https") { 443 } else { 80 };
            [url.to_owned(), format!("{scheme}://{userinfo}{hostport}:{port}{rest}")]
        }
    }
}

/// Every URL form Twilio's SDKs accept for `url` (deduplicated).
fn url_variants(url: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(6);
    for u in port_variants(url) {
        let mut forms = vec![u.clone()];
        if let Some((base, q)) = u.split_once('?') {
            forms.push(format!("{base}?{}", q.replace("%27", "'")));
            forms.push(format!("{base}?{}", q.replace('\'', "%27")));
        }
        for f in forms {
            if !out.contains(&f) {
                out.push(f);
            }
        }
    }
    out
}

/// The `X-Twilio-Signature` Twilio sends for `body` posted to `url` (form
/// mode, or JSON mode when `url` carries `bodySHA256`).
pub fn sign(secret: &Secret, url: &str, body: &[u8]) -> String {
    let params = if query_param(url, BODY_HASH_PARAM).is_some() { Vec::new() } else { signed_params(body) };
    STANDARD.encode(mac(secret.expose().as_bytes(), url, &params))
}

/// `url` with `bodySHA256=<hex SHA-256 of body>` appended, as Twilio calls
/// a webhook whose body is JSON.
pub fn url_with_body_hash(url: &str, body: &[u8]) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{BODY_HASH_PARAM}={}", hex::encode(Sha256::digest(body)))
}

pub(super) fn verify<'a>(
    provider: &'static str,
    secrets: &[Secret],
    inbound: Inbound<'a>,
) -> Result<Verified<'a>, VerifyError> {
    let header = inbound.headers.get(SIGNATURE_HEADER).ok_or(VerifyError::MissingHeader(SIGNATURE_HEADER.into()))?;
    let sig = STANDARD
        .decode(header.trim())
        .ok()
        .filter(|s| !s.is_empty())
        .ok_or(VerifyError::MalformedHeader(SIGNATURE_HEADER.into()))?;

    let body_hash = query_param(inbound.url, BODY_HASH_PARAM);
    let params = if body_hash.is_some() { Vec::new() } else { signed_params(inbound.body) };
    let urls = url_variants(inbound.url);
    // Every secret and every URL form is tried (no early exit).
    let hits: Vec<bool> = secrets
        .iter()
        .map(|s| urls.iter().fold(false, |hit, u| ct_eq(&mac(s.expose().as_bytes(), u, &params), &sig) | hit))
        .collect();
    let secret_index = hits.iter().position(|h| *h).ok_or(VerifyError::SignatureMismatch)?;
    if let Some(expected) = body_hash {
        let actual = Sha256::digest(inbound.body);
        if !hex::decode(expected.trim()).is_ok_and(|e| ct_eq(&e, &actual)) {
            return Err(VerifyError::SignatureMismatch);
        }
    }
    Ok(Verified::labelled(provider, secret_index, inbound.body, labels(inbound.headers)))
}

/// Twilio names no event type; its delivery id is the idempotency header.
pub(super) fn labels(headers: &Headers) -> Labels {
    Labels { event_type: None, delivery_id: headers.get(IDEMPOTENCY_HEADER).map(|v| v.trim().to_owned()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        headers::Headers,
        verify::{find_provider, verify as verify_any},
    };

    // twilio-python tests/unit/test_request_validator.py and twilio-go
    // request_validator_test.go (webhook-providers.md §c).
    const TOKEN: &str = "12345";
    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const FORM: &[u8] =
        b"CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&From=%2B14158675309&To=%2B18005551212";
    const SIG: &str = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";

    fn run(url: &str, sig: Option<&str>, body: &[u8], secrets: &[&str]) -> Result<Verified<'static>, VerifyError> {
        let p = find_provider("twilio").unwrap();
        let mut h = Headers::new().with("I-Twilio-Idempotency-Token", "idem-1");
        if let Some(s) = sig {
            h.insert("X-Twilio-Signature", s);
        }
        let h: &'static Headers = Box::leak(Box::new(h));
        let body: &'static [u8] = Box::leak(body.to_vec().into_boxed_slice());
        let url: &'static str = Box::leak(url.to_owned().into_boxed_str());
        let secrets: Vec<Secret> = secrets.iter().map(|s| Secret::new(*s)).collect();
        let inbound = Inbound { headers: h, body, now_secs: 1_700_000_000, method: "POST", url };
        verify_any(p, &p.scheme(), None, &secrets, inbound)
    }

    #[test]
    fn published_form_vector_signs_and_verifies() {
        assert_eq!(sign(&Secret::new(TOKEN), URL, FORM), SIG);
        let v = run(URL, Some(SIG), FORM, &[TOKEN]).unwrap();
        assert_eq!(v.delivery_id(), Some("idem-1"));
        assert_eq!(v.event_type(), None);
        // The parameters' order in the body does not matter (they are sorted).
        let shuffled =
            b"To=%2B18005551212&Digits=1234&CallSid=CA1234567890ABCDE&From=%2B14158675309&Caller=%2B14158675309";
        assert!(run(URL, Some(SIG), shuffled, &[TOKEN]).is_ok());
    }

    #[test]
    fn published_vector_tampered_fails() {
        let cases: [(&str, &[u8], &str); 6] = [
            ("digit changed", b"CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1235&From=%2B14158675309&To=%2B18005551212", URL),
            ("param dropped", b"CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&From=%2B14158675309", URL),
            ("param added", b"CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&From=%2B14158675309&To=%2B18005551212&X=1", URL),
            ("plus not decoded as %2B", b"CallSid=CA1234567890ABCDE&Caller=+14158675309&Digits=1234&From=%2B14158675309&To=%2B18005551212", URL),
            ("other URL", FORM, "https://mycompany.com/myapp.php?foo=1&bar=3"),
            ("other host", FORM, "https://mycompany.org/myapp.php?foo=1&bar=2"),
        ];
        for (what, body, url) in cases {
            assert_eq!(run(url, Some(SIG), body, &[TOKEN]).unwrap_err(), VerifyError::SignatureMismatch, "{what}");
        }
        assert_eq!(run(URL, Some(SIG), FORM, &["54321"]).unwrap_err(), VerifyError::SignatureMismatch);
        assert_eq!(
            run(URL, Some("RSOYDt4T1cUTdK1PDd94/VVr8B8="), FORM, &[TOKEN]).unwrap_err(),
            VerifyError::SignatureMismatch
        );
        assert_eq!(
            run(URL, Some("RSOYDt4T1cUTdK1PDd93/VVr"), FORM, &[TOKEN]).unwrap_err(),
            VerifyError::SignatureMismatch
        );
        assert_eq!(run(URL, None, FORM, &[TOKEN]).unwrap_err(), VerifyError::MissingHeader(SIGNATURE_HEADER.into()));
        assert_eq!(
            run(URL, Some("!!!"), FORM, &[TOKEN]).unwrap_err(),
            VerifyError::MalformedHeader(SIGNATURE_HEADER.into())
        );
    }

    // twilio-python: "removes port on https/http", "adds port on https/http".
    #[test]
    fn published_port_vectors() {
        assert!(run("https://mycompany.com:1234/myapp.php?foo=1&bar=2", Some(SIG), FORM, &[TOKEN]).is_ok());
        let cases = [
            ("http://mycompany.com:1234/myapp.php?foo=1&bar=2", "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="),
            ("https://mycompany.com/myapp.php?foo=1&bar=2", "kvajT1Ptam85bY51eRf/AJRuM3w="),
            ("http://mycompany.com/myapp.php?foo=1&bar=2", "0ZXoZLH/DfblKGATFgpif+LLRf4="),
        ];
        for (url, sig) in cases {
            assert!(run(url, Some(sig), FORM, &[TOKEN]).is_ok(), "{url}");
        }
        // Signed without a port, received with :443 — and signed with :443, received without.
        assert!(run("https://mycompany.com:443/myapp.php?foo=1&bar=2", Some(SIG), FORM, &[TOKEN]).is_ok());
        assert!(run(URL, Some("kvajT1Ptam85bY51eRf/AJRuM3w="), FORM, &[TOKEN]).is_ok());
        // The :443 signature does not verify for http (whose default is :80), nor for another port.
        assert!(run(
            "http://mycompany.com/myapp.php?foo=1&bar=2",
            Some("kvajT1Ptam85bY51eRf/AJRuM3w="),
            FORM,
            &[TOKEN]
        )
        .is_err());
        assert!(run(
            "https://mycompany.com:8443/myapp.php?foo=1&bar=2",
            Some("kvajT1Ptam85bY51eRf/AJRuM3w="),
            FORM,
            &[TOKEN]
        )
        .is_err());
    }

    // twilio-python "compute signature duplicate multi dict": names sorted,
    // a name's values sorted, duplicates removed.
    #[test]
    fn published_duplicate_parameter_vector() {
        let body = b"Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234&Digits=1234";
        assert_eq!(sign(&Secret::new(TOKEN), URL, body), "IK+Dwps556ElfBT0I3Rgjkr1wJU=");
        assert!(run(URL, Some("IK+Dwps556ElfBT0I3Rgjkr1wJU="), body, &[TOKEN]).is_ok());
        let once = b"Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234";
        assert!(run(URL, Some("IK+Dwps556ElfBT0I3Rgjkr1wJU="), once, &[TOKEN]).is_ok());
        let other = b"Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1235";
        assert!(run(URL, Some("IK+Dwps556ElfBT0I3Rgjkr1wJU="), other, &[TOKEN]).is_err());
    }

    // twilio-python "validation of body succeeds": JSON mode.
    #[test]
    fn published_json_body_vector() {
        let body = br#"{"property": "value", "boolean": true}"#;
        let hash = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
        let url = format!("{URL}&bodySHA256={hash}");
        assert_eq!(url_with_body_hash(URL, body), url);
        assert_eq!(sign(&Secret::new(TOKEN), &url, body), "a9nBmqA0ju/hNViExpshrM61xv4=");
        assert!(run(&url, Some("a9nBmqA0ju/hNViExpshrM61xv4="), body, &[TOKEN]).is_ok());
        // The URL is signed, the body is bound by its hash: changing either fails.
        let changed = br#"{"property": "value", "boolean": false}"#;
        assert_eq!(
            run(&url, Some("a9nBmqA0ju/hNViExpshrM61xv4="), changed, &[TOKEN]).unwrap_err(),
            VerifyError::SignatureMismatch
        );
        let other_hash = url_with_body_hash(URL, changed);
        assert!(run(&other_hash, Some("a9nBmqA0ju/hNViExpshrM61xv4="), changed, &[TOKEN]).is_err());
        assert!(run(URL, Some("a9nBmqA0ju/hNViExpshrM61xv4="), body, &[TOKEN]).is_err());
    }

    // twilio-node spec: "'" and "%27" in the query verify either way.
    #[test]
    fn single_quotes_verify_escaped_or_not() {
        let s = Secret::new("s3cr3t");
        for (signed, received) in [
            ("https://example.com/path?test=param'WithQuote", "https://example.com/path?test=param%27WithQuote"),
            ("https://example.com/path?test=param%27WithQuote", "https://example.com/path?test=param'WithQuote"),
            ("https://example.com/path?test=param'WithQuote", "https://example.com:443/path?test=param%27WithQuote"),
        ] {
            let sig = sign(&s, signed, b"");
            assert!(run(received, Some(&sig), b"", &["s3cr3t"]).is_ok(), "{signed} → {received}");
        }
        let sig = sign(&s, "https://example.com/path?test=param'WithQuote", b"");
        assert!(run("https://example.com/path?test=param%22WithQuote", Some(&sig), b"", &["s3cr3t"]).is_err());
    }

    #[test]
    fn port_variants_cover_userinfo_ipv6_and_no_path() {
        assert_eq!(
            port_variants("https://a.example"),
            ["https://a.example".to_owned(), "https://a.example:443".to_owned()]
        );
        assert_eq!(
            port_variants("http://u:p@a.example:8080/x?y=1"),
            ["http://u:p@a.example/x?y=1".to_owned(), "http://u:p@a.example:8080/x?y=1".to_owned()]
        );
        assert_eq!(port_variants("https://[::1]/x"), ["https://[::1]/x".to_owned(), "https://[::1]:443/x".to_owned()]);
        assert_eq!(
            port_variants("https://[::1]:8443/x"),
            ["https://[::1]/x".to_owned(), "https://[::1]:8443/x".to_owned()]
        );
        assert_eq!(url_variants("https://a.example/x").len(), 2);
        assert_eq!(url_variants("https://a.example/x?q='").len(), 4);
    }

    #[test]
    fn rotation_and_secret_index() {
        let v = run(URL, Some(SIG), FORM, &["old-token", TOKEN]).unwrap();
        assert_eq!(v.secret_index(), 1);
    }
}
