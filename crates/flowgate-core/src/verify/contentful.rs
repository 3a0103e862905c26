//! Contentful request verification:
//! <https://www.contentful.com/developers/docs/webhooks/request-verification/>,
//! implemented as `contentful/node-apps-toolkit` does it
//! (`src/requests/sign-request.ts`, `verify-request.ts`, `utils.ts`, read
//! with the search tool):
//!
//! `x-contentful-signature` = hex HMAC-SHA256, keyed by the 64-character
//! signing secret, of the canonical request
//! `METHOD \n PATH \n k1:v1;k2:v2;… \n BODY` where
//!
//! - PATH is the request path and query passed through the toolkit's
//!   `getNormalizedEncodedURI`: the part after the first `?` (up to a second
//!   `?`) is percent-encoded as Node's `querystring.escape` does, then the
//!   whole is passed through `encodeURI` (so an escaped query is encoded
//!   twice, exactly as the toolkit does);
//! - the headers are those named in `x-contentful-signed-headers` (split on
//!   `,`) that the request carries, names lower-cased and trimmed, values
//!   trimmed, plus `x-contentful-timestamp` (the number as parsed) and
//!   `x-contentful-signed-headers` itself, re-computed as the sorted list of
//!   those names; the pairs are **sorted by name** (the toolkit sorts; the
//!   order in the header does not matter);
//! - BODY is the raw body.
//!
//! `x-contentful-timestamp` is in milliseconds; the toolkit's `verifyRequest`
//! rejects a request once `now − timestamp ≥ TTL` (default 30 s) and never a
//! future one; flowgate does the same (`tolerance_secs` overrides the TTL).
//! Event: `x-contentful-topic`; delivery id: `x-contentful-idempotency-key`.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{parse_unix_secs, Inbound, Labels, Proof, Verified, VerifyError};
use crate::{
    headers::Headers,
    secret::{ct_eq, Secret},
};

/// The signature header.
pub const SIGNATURE_HEADER: &str = "x-contentful-signature";
/// The signed-headers header.
pub const SIGNED_HEADERS_HEADER: &str = "x-contentful-signed-headers";
/// The timestamp header (milliseconds).
pub const TIMESTAMP_HEADER: &str = "x-contentful-timestamp";
/// The toolkit's default time to live, seconds.
pub const TTL_SECS: u64 = 30;
/// The toolkit refuses timestamps before 2020-01-01 (`TimestampValidator`).
const MIN_TIMESTAMP_MS: u64 = 1_577_836_800_000;

fn percent_encode(s: &str, keep: impl Fn(u8) -> bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if keep(b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Node's `querystring.escape`: everything but `A-Z a-z 0-9 - _ . ! ~ * ' ( )`.
fn qs_escape(s: &str) -> String {
    percent_encode(s, |b| b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b))
}

/// JavaScript's `encodeURI`: also keeps `; , / ? : @ & = + $ #`.
fn encode_uri(s: &str) -> String {
    percent_encode(s, |b| b.is_ascii_alphanumeric() || b"-_.!~*'();,/?:@&=+$#".contains(&b))
}

/// The toolkit's `getNormalizedEncodedURI`.
fn normalized_path(path: &str) -> String {
    let mut parts = path.split('?');
    let pathname = parts.next().unwrap_or("");
    let search = qs_escape(parts.next().unwrap_or(""));
    if search.is_empty() {
        encode_uri(pathname)
    } else {
        encode_uri(&format!("{pathname}?{search}"))
    }
}

/// The path and query of an absolute URL (`/` when it has no path).
fn path_and_query(url: &str) -> String {
    let after = url.split_once("://").map_or(url, |(_, rest)| rest);
    let start = after.find(['/', '?', '#']).unwrap_or(after.len());
    let pq = after[start..].split('#').next().unwrap_or("");
    if pq.starts_with('/') {
        pq.to_owned()
    } else {
        format!("/{pq}")
    }
}

/// The canonical headers: `(name, value)` sorted by name, and the re-computed
/// signed-headers value.
fn canonical_headers(picked: Vec<(String, String)>, timestamp_ms: u64) -> (Vec<(String, String)>, String) {
    let mut names: Vec<String> = picked.iter().map(|(k, _)| k.clone()).collect();
    for required in [SIGNED_HEADERS_HEADER, TIMESTAMP_HEADER] {
        if !names.iter().any(|n| n == required) {
            names.push(required.to_owned());
        }
    }
    names.sort();
    let signed = names.join(",");
    let mut headers: Vec<(String, String)> =
        picked.into_iter().filter(|(k, _)| k != SIGNED_HEADERS_HEADER && k != TIMESTAMP_HEADER).collect();
    headers.push((TIMESTAMP_HEADER.to_owned(), timestamp_ms.to_string()));
    headers.push((SIGNED_HEADERS_HEADER.to_owned(), signed.clone()));
    headers.sort_by(|a, b| a.0.cmp(&b.0));
    (headers, signed)
}

fn mac(key: &[u8], method: &str, path: &str, headers: &[(String, String)], body: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    m.update(method.as_bytes());
    m.update(b"\n");
    m.update(normalized_path(path).as_bytes());
    m.update(b"\n");
    for (i, (k, v)) in headers.iter().enumerate() {
        if i > 0 {
            m.update(b";");
        }
        m.update(k.as_bytes());
        m.update(b":");
        m.update(v.as_bytes());
    }
    m.update(b"\n");
    m.update(body);
    m.finalize().into_bytes().to_vec()
}

/// Checks a route secret: the toolkit requires exactly 64 characters.
///
/// # Errors
/// A fixed reason otherwise.
pub fn check_secret(secret: &Secret) -> Result<(), &'static str> {
    if secret.expose().chars().count() == 64 {
        Ok(())
    } else {
        Err("is not 64 characters long")
    }
}

/// The three headers Contentful adds when it signs a request to `url` with
/// `headers` (all of which are signed), as the toolkit's `signRequest`.
///
/// # Errors
/// When the secret is not 64 characters.
pub fn sign(
    secret: &Secret,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timestamp_ms: u64,
) -> Result<Vec<(String, String)>, &'static str> {
    check_secret(secret)?;
    let picked: Vec<(String, String)> =
        headers.iter().map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned())).collect();
    let (canonical, signed) = canonical_headers(picked, timestamp_ms);
    let sig = mac(secret.expose().as_bytes(), method, &path_and_query(url), &canonical, body);
    Ok(vec![
        (SIGNATURE_HEADER.to_owned(), hex::encode(sig)),
        (SIGNED_HEADERS_HEADER.to_owned(), signed),
        (TIMESTAMP_HEADER.to_owned(), timestamp_ms.to_string()),
    ])
}

fn get<'h>(headers: &'h Headers, name: &'static str) -> Result<&'h str, VerifyError> {
    headers.get(name).map(str::trim).ok_or(VerifyError::MissingHeader(name.into()))
}

pub(super) fn verify<'a>(
    provider: &'static str,
    tolerance_override: Option<u64>,
    secrets: &[Secret],
    inbound: Inbound<'a>,
) -> Result<Verified<'a>, VerifyError> {
    for (index, s) in secrets.iter().enumerate() {
        check_secret(s).map_err(|reason| VerifyError::InvalidSecret { index, provider, reason })?;
    }
    let sig = get(inbound.headers, SIGNATURE_HEADER)?;
    let ts_text = get(inbound.headers, TIMESTAMP_HEADER)?;
    let listed = get(inbound.headers, SIGNED_HEADERS_HEADER)?;
    let sig =
        hex::decode(sig).ok().filter(|s| s.len() == 32).ok_or(VerifyError::MalformedHeader(SIGNATURE_HEADER.into()))?;
    let ts_ms = parse_unix_secs(ts_text)
        .filter(|t| *t > MIN_TIMESTAMP_MS)
        .ok_or(VerifyError::MalformedHeader(TIMESTAMP_HEADER.into()))?;
    let listed: Vec<&str> = listed.split(',').collect();
    if listed.len() < 2 {
        return Err(VerifyError::MalformedHeader(SIGNED_HEADERS_HEADER.into()));
    }

    // The listed headers the request carries (first value of each name).
    let mut picked: Vec<(String, String)> = Vec::new();
    for (name, value) in inbound.headers.iter() {
        let name = name.trim();
        if listed.contains(&name) && !picked.iter().any(|(k, _)| k == name) {
            picked.push((name.to_owned(), value.trim().to_owned()));
        }
    }
    let (canonical, _) = canonical_headers(picked, ts_ms);
    let path = path_and_query(inbound.url);
    let macs: Vec<Vec<u8>> =
        secrets.iter().map(|s| mac(s.expose().as_bytes(), inbound.method, &path, &canonical, inbound.body)).collect();
    let hits: Vec<bool> = macs.iter().map(|m| ct_eq(m, &sig)).collect();
    let secret_index = hits.iter().position(|h| *h).ok_or(VerifyError::SignatureMismatch)?;
    let proof = Proof::of_mac(&macs[secret_index]);

    let ttl_ms = tolerance_override.unwrap_or(TTL_SECS).saturating_mul(1000);
    if inbound.now_secs.saturating_mul(1000).saturating_sub(ts_ms) >= ttl_ms {
        return Err(VerifyError::TimestampTooOld);
    }
    Ok(Verified::labelled(provider, secret_index, inbound.body, labels(inbound.headers)).with_proof(proof))
}

/// The topic and the idempotency key, from their headers.
pub(super) fn labels(headers: &Headers) -> Labels {
    let header = |name: &str| headers.get(name).map(|v| v.trim().to_owned());
    Labels { event_type: header("x-contentful-topic"), delivery_id: header("x-contentful-idempotency-key") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::{find_provider, verify as verify_any};

    const SECRET: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const URL: &str = "https://flowgate.example/hooks/cf?space=abc&x=1";
    const TS: u64 = 1_700_000_000_000;
    const BODY: &[u8] = br#"{"sys":{"id":"4o19ghFQzzNX9uiJifi7Hf","type":"Entry"}}"#;

    fn extra() -> Vec<(&'static str, &'static str)> {
        vec![
            ("X-Contentful-Topic", "ContentManagement.Entry.publish"),
            ("X-Contentful-Idempotency-Key", "94516f9a3fe42e3065ad9ef4f2a9f865c9bf0a962db8b7cfcb470b42052ea22c"),
            ("X-Contentful-CRN", "crn:contentful:::content:spaces/bkz6hygz9igz/environments/master"),
        ]
    }

    fn signed() -> Vec<(String, String)> {
        let mut h: Vec<(String, String)> = extra().iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        h.extend(sign(&Secret::new(SECRET), "POST", URL, &extra(), BODY, TS).unwrap());
        h
    }

    fn run(
        h: &[(String, String)],
        body: &[u8],
        url: &str,
        method: &str,
        now: u64,
    ) -> Result<Verified<'static>, VerifyError> {
        let p = find_provider("contentful").unwrap();
        let headers: Headers = h.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        let headers: &'static Headers = Box::leak(Box::new(headers));
        let body: &'static [u8] = Box::leak(body.to_vec().into_boxed_slice());
        let url: &'static str = Box::leak(url.to_owned().into_boxed_str());
        let method: &'static str = Box::leak(method.to_owned().into_boxed_str());
        verify_any(p, &p.scheme(), None, &[Secret::new(SECRET)], Inbound { headers, body, now_secs: now, method, url })
    }

    const NOW: u64 = TS / 1000 + 1;

    #[test]
    fn canonical_form_is_the_toolkits() {
        // Query escaped with querystring.escape, then the whole through encodeURI.
        assert_eq!(normalized_path("/api/resources?q=1&w=2"), "/api/resources?q%253D1%2526w%253D2");
        assert_eq!(normalized_path("/api/resources"), "/api/resources");
        assert_eq!(normalized_path("/a b/é?"), "/a%20b/%C3%A9");
        assert_eq!(normalized_path("/x?a=1?b=2"), "/x?a%253D1");
        assert_eq!(path_and_query("https://h.example"), "/");
        assert_eq!(path_and_query("https://h.example?x=1#f"), "/?x=1");
        let (headers, signed) = canonical_headers(vec![("x-b".into(), "2".into()), ("x-a".into(), "1".into())], TS);
        assert_eq!(signed, "x-a,x-b,x-contentful-signed-headers,x-contentful-timestamp");
        let names: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["x-a", "x-b", "x-contentful-signed-headers", "x-contentful-timestamp"]);
        // The whole canonical request, computed independently.
        let mut m = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        m.update(b"GET\n/api/resources/1\nx-contentful-signed-headers:x-contentful-signed-headers,x-contentful-timestamp;x-contentful-timestamp:1603379941037\n");
        let expected = hex::encode(m.finalize().into_bytes());
        let got = sign(&Secret::new(SECRET), "GET", "https://h.example/api/resources/1", &[], b"", 1_603_379_941_037)
            .unwrap();
        assert_eq!(got[0].1, expected);
        assert_eq!(got[1].1, "x-contentful-signed-headers,x-contentful-timestamp");
    }

    #[test]
    fn round_trip_with_labels() {
        let v = run(&signed(), BODY, URL, "POST", NOW).unwrap();
        assert_eq!(v.event_type(), Some("ContentManagement.Entry.publish"));
        assert_eq!(v.delivery_id(), Some("94516f9a3fe42e3065ad9ef4f2a9f865c9bf0a962db8b7cfcb470b42052ea22c"));
        // Header order and name case do not matter; value padding is trimmed.
        let mut shuffled = signed();
        shuffled.reverse();
        shuffled[0].1 = format!("  {}  ", shuffled[0].1);
        assert!(run(&shuffled, BODY, URL, "POST", NOW).is_ok());
    }

    #[test]
    fn every_mutation_is_rejected() {
        let good = signed();
        for i in [0, BODY.len() / 2, BODY.len() - 1] {
            let mut b = BODY.to_vec();
            b[i] ^= 0x01;
            assert_eq!(run(&good, &b, URL, "POST", NOW).unwrap_err(), VerifyError::SignatureMismatch, "byte {i}");
        }
        for (what, url) in [
            ("path", "https://flowgate.example/hooks/cg?space=abc&x=1"),
            ("query", "https://flowgate.example/hooks/cf?space=abc&x=2"),
            ("query order", "https://flowgate.example/hooks/cf?x=1&space=abc"),
            ("no query", "https://flowgate.example/hooks/cf"),
        ] {
            assert_eq!(run(&good, BODY, url, "POST", NOW).unwrap_err(), VerifyError::SignatureMismatch, "{what}");
        }
        // The host is not signed (the toolkit signs the path only).
        assert!(run(&good, BODY, "https://other.example/hooks/cf?space=abc&x=1", "POST", NOW).is_ok());
        assert_eq!(run(&good, BODY, URL, "PUT", NOW).unwrap_err(), VerifyError::SignatureMismatch);
        // Each header removed or altered.
        for (i, (name, _)) in good.iter().enumerate() {
            let without: Vec<_> = good.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, kv)| kv.clone()).collect();
            assert!(run(&without, BODY, URL, "POST", NOW).is_err(), "{name} removed");
            // (The signed-headers list is re-computed from the names it picks, as the
            // toolkit does: only a change of that set matters.)
            let mut altered = good.clone();
            if name == SIGNED_HEADERS_HEADER {
                altered[i].1 = altered[i].1.split_once(',').unwrap().1.to_owned();
            } else {
                altered[i].1.push('1');
            }
            assert!(run(&altered, BODY, URL, "POST", NOW).is_err(), "{name} altered");
        }
        // An unsigned header may be added.
        let mut more = good.clone();
        more.push(("X-Unsigned".into(), "whatever".into()));
        assert!(run(&more, BODY, URL, "POST", NOW).is_ok());
        // Wrong secret; truncated signature.
        let p = find_provider("contentful").unwrap();
        let headers: Headers = good.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        let other = Secret::new("b".repeat(64));
        let inbound = Inbound { headers: &headers, body: BODY, now_secs: NOW, method: "POST", url: URL };
        assert_eq!(verify_any(p, &p.scheme(), None, &[other], inbound).unwrap_err(), VerifyError::SignatureMismatch);
        let mut truncated = good.clone();
        let slot = truncated.iter_mut().find(|(k, _)| k == SIGNATURE_HEADER).unwrap();
        slot.1.truncate(62);
        assert_eq!(
            run(&truncated, BODY, URL, "POST", NOW).unwrap_err(),
            VerifyError::MalformedHeader(SIGNATURE_HEADER.into())
        );
    }

    #[test]
    fn ttl_is_thirty_seconds_into_the_past_only() {
        let good = signed();
        // TS is 1_700_000_000_000 ms: 29 s later passes, 30 s later fails.
        assert!(run(&good, BODY, URL, "POST", TS / 1000 + 29).is_ok());
        assert_eq!(run(&good, BODY, URL, "POST", TS / 1000 + 30).unwrap_err(), VerifyError::TimestampTooOld);
        assert!(run(&good, BODY, URL, "POST", TS / 1000 - 3600).is_ok());
    }

    #[test]
    fn secrets_must_be_64_characters() {
        let p = find_provider("contentful").unwrap();
        let headers: Headers = signed().iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        let inbound = Inbound { headers: &headers, body: BODY, now_secs: NOW, method: "POST", url: URL };
        let err = verify_any(p, &p.scheme(), None, &[Secret::new("short")], inbound).unwrap_err();
        assert!(err.is_config_error());
        assert!(sign(&Secret::new("short"), "POST", URL, &[], b"", TS).is_err());
    }
}
