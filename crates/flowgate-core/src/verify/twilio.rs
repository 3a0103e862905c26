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
//! **SharedKey signatures.** When a Webhook Rule of the account's Webhooks
//! configuration matches the URL, Twilio signs with that Rule's SharedKey
//! instead of the Auth Token and says so in
//! `X-Twilio-Webhooks-Signature-Settings: key=<SharedKey id>,algorithm=HMAC_SHA256`.
//! Only the MAC changes: the signature is still base64 in `X-Twilio-Signature`,
//! over the same URL and parameters (twilio-node 6.3 `lib/webhooks/webhooks.js`,
//! `SIGNATURE_SETTINGS_HEADER`, `getSignatureAlgorithm`; twilio-python 9.13
//! `request_validator.py`, `get_signature_algorithm`). Both SDKs read the
//! first non-empty `algorithm=` of the comma-separated pairs, compare it
//! case-insensitively, take a header without one as `HMAC_SHA1`, and refuse
//! any other algorithm. flowgate does the same ([`announced`]): an unknown
//! algorithm is refused — never checked as HMAC-SHA1 — and a request that
//! announces HMAC-SHA256 is never checked with HMAC-SHA1. The route's
//! secrets are tried with the announced algorithm, so a route lists the Auth
//! Token, the SharedKey secret(s), or both during a move (the key id is not a
//! secret and does not pick one: any that matches will do, as for rotation).
//!
//! **Bounded work.** The form parameters are parsed before the MAC (they are
//! what is signed), so a body of more than [`MAX_FORM_PARAMS`] is refused
//! before any of them is decoded; the rest are decoded in place where they
//! need no unescaping.
//!
//! No timestamp is signed. `I-Twilio-Idempotency-Token` (sent with retried
//! webhooks) is the delivery id; Twilio sends no event-type header.

use std::borrow::Cow;

use base64::{engine::general_purpose::STANDARD, Engine};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::{Inbound, Labels, Proof, Verified, VerifyError};
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
/// The header that announces a SharedKey signature and its algorithm.
pub const SIGNATURE_SETTINGS_HEADER: &str = "x-twilio-webhooks-signature-settings";
/// Most form parameters read from a body before verification. The
/// parameters Twilio documents for its webhooks (Voice, Messaging, status
/// callbacks) number a few dozen per request, well under 100, so 1,000 is
/// never reached by Twilio and bounds the parsing and sorting an unsigned
/// `a&a&a&…` can ask for.
pub const MAX_FORM_PARAMS: usize = 1000;

/// The MAC a Twilio signature is made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// HMAC-SHA1: the Auth Token signature, and the default.
    HmacSha1,
    /// HMAC-SHA256: SharedKey signatures that announce it.
    HmacSha256,
}

impl Algorithm {
    /// The name Twilio uses (`HMAC_SHA1`, `HMAC_SHA256`).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::HmacSha1 => "HMAC_SHA1",
            Algorithm::HmacSha256 => "HMAC_SHA256",
        }
    }
}

/// What a request's `X-Twilio-Webhooks-Signature-Settings` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Announced<'a> {
    /// No such header: the Auth Token signature, HMAC-SHA1.
    AuthToken,
    /// A SharedKey signature with a supported algorithm (HMAC-SHA1 when the
    /// header names none, as both SDKs read it).
    SharedKey {
        /// The SharedKey's id (`key=`), if given; not a secret.
        key: Option<&'a str>,
        /// The algorithm.
        algorithm: Algorithm,
    },
    /// An algorithm neither SDK knows: the request is refused.
    Unsupported {
        /// The name as announced (attacker-controlled: never logged by flowgate).
        algorithm: &'a str,
    },
}

impl Announced<'_> {
    /// The algorithm to verify with, or `None` when the request must be refused.
    pub fn algorithm(&self) -> Option<Algorithm> {
        match self {
            Announced::AuthToken => Some(Algorithm::HmacSha1),
            Announced::SharedKey { algorithm, .. } => Some(*algorithm),
            Announced::Unsupported { .. } => None,
        }
    }
}

/// The first non-empty value of `name` among the header's `k=v` pairs.
fn setting<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(',').find_map(|part| {
        let (k, v) = part.split_once('=')?;
        (k.trim() == name && !v.trim().is_empty()).then(|| v.trim())
    })
}

/// Reads `X-Twilio-Webhooks-Signature-Settings` as twilio-node 6.3 and
/// twilio-python 9.13 do (see the module docs). An empty header counts as
/// none, as twilio-node's middleware treats it.
pub fn announced(headers: &Headers) -> Announced<'_> {
    let Some(header) = headers.get(SIGNATURE_SETTINGS_HEADER).filter(|h| !h.trim().is_empty()) else {
        return Announced::AuthToken;
    };
    let key = setting(header, "key");
    match setting(header, "algorithm") {
        None => Announced::SharedKey { key, algorithm: Algorithm::HmacSha1 },
        Some(a) if a.eq_ignore_ascii_case("HMAC_SHA1") => Announced::SharedKey { key, algorithm: Algorithm::HmacSha1 },
        Some(a) if a.eq_ignore_ascii_case("HMAC_SHA256") => {
            Announced::SharedKey { key, algorithm: Algorithm::HmacSha256 }
        }
        Some(algorithm) => Announced::Unsupported { algorithm },
    }
}

/// The value of `X-Twilio-Webhooks-Signature-Settings` for a SharedKey
/// signature (`flowgate send`, tests).
pub fn settings_header(key_id: &str, algorithm: Algorithm) -> String {
    format!("key={key_id},algorithm={}", algorithm.name())
}

/// Form parameters as Twilio signs them: sorted, each `name ‖ value`.
type Params<'a> = Vec<(Cow<'a, str>, Cow<'a, str>)>;

fn mac(algorithm: Algorithm, key: &[u8], url: &str, params: &Params<'_>) -> Vec<u8> {
    // The signed string is fed piece by piece: it is never built in memory.
    fn feed<M: Mac>(mut m: M, url: &str, params: &Params<'_>) -> Vec<u8> {
        m.update(url.as_bytes());
        for (k, v) in params {
            m.update(k.as_bytes());
            m.update(v.as_bytes());
        }
        m.finalize().into_bytes().to_vec()
    }
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    match algorithm {
        Algorithm::HmacSha1 => feed(Hmac::<Sha1>::new_from_slice(key).expect("any key length"), url, params),
        Algorithm::HmacSha256 => feed(Hmac::<Sha256>::new_from_slice(key).expect("any key length"), url, params),
    }
}

/// The form parameters of `body` as Twilio signs them, or `None` when the
/// body has more than `max` of them (counted before anything is decoded).
fn signed_params(body: &[u8], max: usize) -> Option<Params<'_>> {
    // form_urlencoded skips empty pieces between '&'s, so these are exactly
    // the pairs it yields.
    let count = body.split(|b| *b == b'&').filter(|piece| !piece.is_empty()).count();
    if count > max {
        return None;
    }
    // Borrowed from the body unless a piece needs unescaping ('+', '%').
    let mut pairs: Params<'_> = form_urlencoded::parse(body).collect();
    // Sorting the pairs sorts by name, then value; identical pairs are dropped
    // (both SDKs deduplicate a name's values).
    pairs.sort();
    pairs.dedup();
    Some(pairs)
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
/// mode, or JSON mode when `url` carries `bodySHA256`), signed with the Auth
/// Token (HMAC-SHA1).
pub fn sign(secret: &Secret, url: &str, body: &[u8]) -> String {
    sign_with(Algorithm::HmacSha1, secret, url, body)
}

/// [`sign`] with `algorithm`: a SharedKey signature, sent with
/// [`settings_header`] in [`SIGNATURE_SETTINGS_HEADER`].
pub fn sign_with(algorithm: Algorithm, secret: &Secret, url: &str, body: &[u8]) -> String {
    let params = if query_param(url, BODY_HASH_PARAM).is_some() {
        Vec::new()
    } else {
        signed_params(body, usize::MAX).unwrap_or_default()
    };
    STANDARD.encode(mac(algorithm, secret.expose().as_bytes(), url, &params))
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
    // Fail closed: an algorithm flowgate does not know is refused, not
    // checked as HMAC-SHA1 (and HMAC-SHA256, once announced, is the only one tried).
    let algorithm =
        announced(inbound.headers).algorithm().ok_or(VerifyError::MalformedHeader(SIGNATURE_SETTINGS_HEADER.into()))?;

    let body_hash = query_param(inbound.url, BODY_HASH_PARAM);
    let params = match body_hash {
        Some(_) => Vec::new(),
        None => signed_params(inbound.body, MAX_FORM_PARAMS)
            .ok_or(VerifyError::BodyOverLimit("more than 1000 form parameters"))?,
    };
    let urls = url_variants(inbound.url);
    // Every secret and every URL form is tried (no early exit). The MAC that
    // matched is the proof: the same for every URL form of one signed request.
    let mut matched: Option<(usize, Vec<u8>)> = None;
    for (index, s) in secrets.iter().enumerate() {
        for u in &urls {
            let expected = mac(algorithm, s.expose().as_bytes(), u, &params);
            if ct_eq(&expected, &sig) && matched.is_none() {
                matched = Some((index, expected));
            }
        }
    }
    let (secret_index, expected) = matched.ok_or(VerifyError::SignatureMismatch)?;
    if let Some(expected) = body_hash {
        let actual = Sha256::digest(inbound.body);
        if !hex::decode(expected.trim()).is_ok_and(|e| ct_eq(&e, &actual)) {
            return Err(VerifyError::SignatureMismatch);
        }
    }
    Ok(Verified::labelled(provider, secret_index, inbound.body, labels(inbound.headers))
        .with_proof(Proof::of_mac(&expected)))
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

    /// A request with `X-Twilio-Signature: sig` and, when given, the settings header.
    fn run_shared(
        url: &str,
        sig: &str,
        settings: Option<&str>,
        body: &[u8],
        secrets: &[&str],
    ) -> Result<Verified<'static>, VerifyError> {
        let p = find_provider("twilio").unwrap();
        let mut h = Headers::new().with("X-Twilio-Signature", sig);
        if let Some(s) = settings {
            h.insert("X-Twilio-Webhooks-Signature-Settings", s);
        }
        let h: &'static Headers = Box::leak(Box::new(h));
        let body: &'static [u8] = Box::leak(body.to_vec().into_boxed_slice());
        let url: &'static str = Box::leak(url.to_owned().into_boxed_str());
        let secrets: Vec<Secret> = secrets.iter().map(|s| Secret::new(*s)).collect();
        verify_any(p, &p.scheme(), None, &secrets, Inbound { headers: h, body, now_secs: 0, method: "POST", url })
    }

    // Computed with the SDKs themselves on the published vector's URL and
    // parameters: twilio-node 6.3.1 `getExpectedTwilioSignature(secret, url,
    // params, "HMAC_SHA256")` and twilio-python 9.13.0
    // `RequestValidator(secret).compute_signature(url, params, "HMAC_SHA256")`
    // give the same values.
    const SHARED_KEY: &str = "whsk_test_shared_key_secret_0123456789";
    const SHA256_TOKEN: &str = "033hgUJA9M/hXIZsYjwkerEP/DBm35nEri5FhCYjA5s=";
    const SHA256_SHARED: &str = "wjHJM72LOTkEDvDysme5Vc5kuViojpoRl6meohYN7QE=";
    const SHA1_SHARED: &str = "JRXLwFVNCHY0Zv3YQ635I+AZvno=";
    const SETTINGS: &str = "key=webhooks_sharedkey_01,algorithm=HMAC_SHA256";

    #[test]
    fn sdk_made_shared_key_signatures_verify() {
        assert_eq!(sign_with(Algorithm::HmacSha256, &Secret::new(TOKEN), URL, FORM), SHA256_TOKEN);
        assert_eq!(sign_with(Algorithm::HmacSha256, &Secret::new(SHARED_KEY), URL, FORM), SHA256_SHARED);
        assert_eq!(sign_with(Algorithm::HmacSha1, &Secret::new(SHARED_KEY), URL, FORM), SHA1_SHARED);
        let v = run_shared(URL, SHA256_SHARED, Some(SETTINGS), FORM, &[TOKEN, SHARED_KEY]).unwrap();
        assert_eq!(v.secret_index(), 1);
        assert!(run_shared(URL, SHA256_TOKEN, Some(SETTINGS), FORM, &[TOKEN]).is_ok());
        // A SharedKey that announces HMAC_SHA1 (or no algorithm): HMAC-SHA1 with its secret.
        for settings in ["key=webhooks_sharedkey_01,algorithm=HMAC_SHA1", "key=webhooks_sharedkey_01"] {
            assert!(run_shared(URL, SHA1_SHARED, Some(settings), FORM, &[SHARED_KEY]).is_ok(), "{settings}");
        }
        // The port rule holds as for HMAC-SHA1 (twilio-node: validateRequest on :443 is true).
        assert!(run_shared(
            "https://mycompany.com:443/myapp.php?foo=1&bar=2",
            SHA256_TOKEN,
            Some(SETTINGS),
            FORM,
            &[TOKEN]
        )
        .is_ok());
        // twilio-python's duplicate-parameter vector, SHA-256 (twilio-node gives the same).
        let dup = b"Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234&Digits=1234";
        assert_eq!(
            sign_with(Algorithm::HmacSha256, &Secret::new(TOKEN), URL, dup),
            "jco7II1lvHpqANwxYMpqhOGVonnkKyDh1cL2ZUBvMDs="
        );
        // JSON mode: the URL with bodySHA256 is signed (twilio-python validate() with the body is True).
        let json = br#"{"property": "value", "boolean": true}"#;
        let url = url_with_body_hash(URL, json);
        assert_eq!(
            sign_with(Algorithm::HmacSha256, &Secret::new(TOKEN), &url, json),
            "+UOCWf84gdgo/5Hpg4m5/EgKnJA2/TbOw5sPNVr3bPk="
        );
        assert!(
            run_shared(&url, "+UOCWf84gdgo/5Hpg4m5/EgKnJA2/TbOw5sPNVr3bPk=", Some(SETTINGS), json, &[TOKEN]).is_ok()
        );
        assert_eq!(
            run_shared(&url, "+UOCWf84gdgo/5Hpg4m5/EgKnJA2/TbOw5sPNVr3bPk=", Some(SETTINGS), b"{}", &[TOKEN])
                .unwrap_err(),
            VerifyError::SignatureMismatch
        );
    }

    #[test]
    fn the_announced_algorithm_is_the_only_one_tried() {
        // HMAC-SHA256 announced: the SHA-1 signature of the same request is refused
        // (twilio-node: validateRequest(..., "HMAC_SHA256") with the SHA-1 value is false).
        assert_eq!(run_shared(URL, SIG, Some(SETTINGS), FORM, &[TOKEN]).unwrap_err(), VerifyError::SignatureMismatch);
        // Nothing announced: a SHA-256 signature is refused.
        assert_eq!(run_shared(URL, SHA256_TOKEN, None, FORM, &[TOKEN]).unwrap_err(), VerifyError::SignatureMismatch);
        // An unknown algorithm is refused whatever the signature, never checked as SHA-1.
        for settings in ["key=k,algorithm=HMAC_SHA512", "algorithm=MD5,algorithm=HMAC_SHA256", "algorithm=none"] {
            for sig in [SIG, SHA256_TOKEN] {
                assert_eq!(
                    run_shared(URL, sig, Some(settings), FORM, &[TOKEN]).unwrap_err(),
                    VerifyError::MalformedHeader(SIGNATURE_SETTINGS_HEADER.into()),
                    "{settings}"
                );
            }
        }
        // Tampering still fails under SHA-256: a parameter, the URL, the secret.
        let changed =
            b"CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1235&From=%2B14158675309&To=%2B18005551212";
        assert!(run_shared(URL, SHA256_TOKEN, Some(SETTINGS), changed, &[TOKEN]).is_err());
        assert!(run_shared(
            "https://mycompany.com/myapp.php?foo=1&bar=3",
            SHA256_TOKEN,
            Some(SETTINGS),
            FORM,
            &[TOKEN]
        )
        .is_err());
        assert!(run_shared(URL, SHA256_TOKEN, Some(SETTINGS), FORM, &["54321"]).is_err());
    }

    // Each header next to what getSignatureAlgorithm (twilio-node 6.3.1) and
    // get_signature_algorithm (twilio-python 9.13.0) return for it, and the
    // SDKs' verdict: SHA1/SHA256 case-insensitive, anything else unsupported.
    #[test]
    fn settings_headers_are_read_as_the_sdks_read_them() {
        let read = |v: &str| {
            let h = Headers::new().with("X-Twilio-Webhooks-Signature-Settings", v);
            announced(&h).algorithm()
        };
        let cases = [
            ("key=webhooks_sharedkey_01,algorithm=HMAC_SHA256", Some(Algorithm::HmacSha256)),
            ("algorithm=hmac_sha256, key=x", Some(Algorithm::HmacSha256)),
            (" algorithm = HMAC_SHA256 ", Some(Algorithm::HmacSha256)),
            ("key=x", Some(Algorithm::HmacSha1)),
            ("key=x,algorithm=", Some(Algorithm::HmacSha1)),
            ("algorithm=HMAC_SHA1", Some(Algorithm::HmacSha1)),
            ("", Some(Algorithm::HmacSha1)),
            ("algorithm=HMAC_SHA512", None),
            ("algorithm=MD5,algorithm=HMAC_SHA256", None),
        ];
        for (header, expected) in cases {
            assert_eq!(read(header), expected, "{header:?}");
        }
        assert_eq!(announced(&Headers::new()), Announced::AuthToken);
        let h = Headers::new().with("x-twilio-webhooks-signature-settings", SETTINGS);
        assert_eq!(
            announced(&h),
            Announced::SharedKey { key: Some("webhooks_sharedkey_01"), algorithm: Algorithm::HmacSha256 }
        );
        assert_eq!(settings_header("webhooks_sharedkey_01", Algorithm::HmacSha256), SETTINGS);
    }

    #[test]
    fn form_parameters_are_capped_before_any_mac() {
        let form = |n: usize| (0..n).map(|i| format!("P{i}=v")).collect::<Vec<_>>().join("&").into_bytes();
        let at_cap = form(MAX_FORM_PARAMS);
        let sig = sign(&Secret::new(TOKEN), URL, &at_cap);
        assert!(run(URL, Some(&sig), &at_cap, &[TOKEN]).is_ok());
        let over = form(MAX_FORM_PARAMS + 1);
        let sig = sign(&Secret::new(TOKEN), URL, &over);
        let err = run(URL, Some(&sig), &over, &[TOKEN]).unwrap_err();
        assert_eq!(err, VerifyError::BodyOverLimit("more than 1000 form parameters"));
        assert!(!err.is_config_error());
        // Empty pieces are not parameters (form_urlencoded skips them), so they do not count.
        let mut sparse = at_cap.clone();
        sparse.extend_from_slice(&b"&".repeat(5000));
        let sig = sign(&Secret::new(TOKEN), URL, &sparse);
        assert!(run(URL, Some(&sig), &sparse, &[TOKEN]).is_ok());
        // The count is exactly form_urlencoded's.
        for body in [&b"a&&b"[..], b"&", b"", b"a=1&a=1&b", b"%26=%26&x"] {
            let pieces = body.split(|b| *b == b'&').filter(|p| !p.is_empty()).count();
            assert_eq!(pieces, form_urlencoded::parse(body).count(), "{}", String::from_utf8_lossy(body));
        }
        // JSON mode signs no parameters: a body of any shape is only hashed.
        let json = form(MAX_FORM_PARAMS * 2);
        let url = url_with_body_hash(URL, &json);
        let sig = sign(&Secret::new(TOKEN), &url, &json);
        assert!(run(&url, Some(&sig), &json, &[TOKEN]).is_ok());
    }
}
