//! Dropbox Sign (formerly HelloSign) event callbacks
//! (<https://developers.hellosign.com/docs/events/overview/>, the Events
//! walkthrough, and the SDKs' `EventCallbackHelper`, read 2026-12-01):
//!
//! - the event is POSTed as `multipart/form-data` whose `json` part holds
//!   `{"event": {"event_time": "1348177752", "event_type": "…", "event_hash":
//!   "…", "event_metadata": {…}}, "signature_request": {…}}`; flowgate also
//!   takes a form-encoded `json=` parameter or the JSON itself as the body;
//! - `event_hash` is the hex HMAC-SHA256, keyed by the account's API key, of
//!   `event_time ‖ event_type` (no separator) — the same for account and app
//!   callbacks, as the SDK helpers compute it;
//! - every event must be answered 200 with the text `Hello API Event
//!   Received`, or Dropbox Sign counts the callback as failed and sends it
//!   again ([`super::catalogue::Ack`]); the `callback_test` event sent when
//!   a callback URL is set is answered the same way and not forwarded
//!   ([`super::handshake`]).
//!
//! **The hash does not cover the body**: it signs the event's time and type
//! only (like Mailgun's HMAC of timestamp and token). Whoever captures one
//! callback can send another body under the same `event_hash`; Dropbox Sign
//! documents no replay window either (its `event_time` is the event's, and
//! a retry keeps it), so none is applied. Two real events of one type in one
//! second carry the same hash, so the replay guard is off for this sender
//! ([`super::catalogue`]). Flows should fetch the signature request from
//! the API rather than trust the body.
//!
//! Work before verification is bounded: the multipart body is scanned for
//! its `json` part without copying anything else, and the JSON is read with
//! the streaming, nesting-bounded path reader of [`super::body_fields`].

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::{body_fields::json_paths_in, decode_keys, Inbound, Labels, Proof, Verified, VerifyError};
use crate::{headers::Headers, secret::Secret};

/// The answer Dropbox Sign needs for every event.
pub const ACK_BODY: &str = "Hello API Event Received";

/// The event Dropbox Sign sends when a callback URL is set.
pub const CALLBACK_TEST: &str = "callback_test";

const TIME: &str = "event.event_time";
const TYPE: &str = "event.event_type";
const HASH: &str = "event.event_hash";

/// Longest multipart boundary read (RFC 2046 allows 70 characters).
const MAX_BOUNDARY: usize = 70;

/// The event JSON of a callback body: the multipart `json` part, the
/// form-encoded `json` parameter, or the body itself.
pub fn event_json<'a>(headers: &Headers, body: &'a [u8]) -> Option<std::borrow::Cow<'a, [u8]>> {
    let content_type = headers.get("content-type").unwrap_or("").to_ascii_lowercase();
    if content_type.starts_with("multipart/form-data") {
        let boundary = boundary(headers.get("content-type")?)?;
        return multipart_part(body, boundary.as_bytes(), "json").map(std::borrow::Cow::Borrowed);
    }
    if content_type.starts_with("application/x-www-form-urlencoded") {
        return form_urlencoded::parse(body)
            .find(|(k, _)| k == "json")
            .map(|(_, v)| std::borrow::Cow::Owned(v.into_owned().into_bytes()));
    }
    Some(std::borrow::Cow::Borrowed(body))
}

/// The `boundary` parameter of a multipart content type.
fn boundary(content_type: &str) -> Option<String> {
    let b = content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim().eq_ignore_ascii_case("boundary").then(|| v.trim().trim_matches('"').to_owned())
    })?;
    (!b.is_empty() && b.len() <= MAX_BOUNDARY).then_some(b)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > hay.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The content of the part named `name` of a multipart body (RFC 7578),
/// borrowed from the body.
fn multipart_part<'a>(body: &'a [u8], boundary: &[u8], name: &str) -> Option<&'a [u8]> {
    let delimiter = [b"--".as_slice(), boundary].concat();
    let mut rest = &body[find(body, &delimiter)? + delimiter.len()..];
    loop {
        // After a delimiter: "--" ends the body, else CRLF and the part.
        if rest.starts_with(b"--") {
            return None;
        }
        rest = rest.strip_prefix(b"\r\n")?;
        let head_end = find(rest, b"\r\n\r\n")?;
        let head = std::str::from_utf8(&rest[..head_end]).ok()?;
        let content = &rest[head_end + 4..];
        let end = find(content, &[b"\r\n".as_slice(), &delimiter].concat())?;
        let named = head.lines().any(|line| {
            let (k, v) = line.split_once(':').unwrap_or(("", ""));
            k.trim().eq_ignore_ascii_case("content-disposition")
                && v.split(';').any(|p| {
                    p.trim().split_once('=').is_some_and(|(k, v)| {
                        k.trim().eq_ignore_ascii_case("name") && v.trim().trim_matches('"') == name
                    })
                })
        });
        if named {
            return Some(&content[..end]);
        }
        rest = &content[end + 2 + delimiter.len()..];
    }
}

fn event_hash(key: &[u8], time: &str, kind: &str) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    m.update(time.as_bytes());
    m.update(kind.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// The `event_hash` Dropbox Sign computes for an event (for `flowgate send`).
pub fn sign(secret: &Secret, event_time: &str, event_type: &str) -> String {
    hex::encode(event_hash(secret.expose().as_bytes(), event_time, event_type))
}

/// The event type (and no delivery id: Dropbox Sign's events carry none).
pub(super) fn labels(headers: &Headers, body: &[u8]) -> Labels {
    let event_type = event_json(headers, body).and_then(|j| json_paths_in(&j, &[TYPE]).pop().flatten());
    Labels { event_type, delivery_id: None }
}

pub(super) fn verify<'a>(
    provider: &'static str,
    secrets: &[Secret],
    inbound: Inbound<'a>,
) -> Result<Verified<'a>, VerifyError> {
    let keys = decode_keys(provider, secrets, |s| Ok(s.expose().as_bytes().to_vec()))?;
    let json = event_json(inbound.headers, inbound.body).ok_or(VerifyError::MalformedHeader("json".into()))?;
    let mut found = json_paths_in(&json, &[TIME, TYPE, HASH]).into_iter();
    let mut next = |what: &'static str| found.next().flatten().ok_or(VerifyError::MissingHeader(what.into()));
    let (time, kind, hash) = (next(TIME)?, next(TYPE)?, next(HASH)?);
    let given = hex::decode(hash.trim()).map_err(|_| VerifyError::MalformedHeader(HASH.into()))?;
    let macs: Vec<(bool, Vec<u8>)> = keys
        .iter()
        .map(|k| {
            let expected = event_hash(k, &time, &kind);
            (bool::from(expected.ct_eq(&given)), expected)
        })
        .collect();
    let secret_index = macs.iter().position(|(hit, _)| *hit).ok_or(VerifyError::SignatureMismatch)?;
    let labels = Labels { event_type: Some(kind), delivery_id: None };
    Ok(Verified::labelled(provider, secret_index, inbound.body, labels)
        .with_proof(Proof::of_mac(&macs[secret_index].1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::{find_provider, verify as verify_any};

    const KEY: &str = "c4c4f8e2b0a9d3e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3";

    fn callback(time: &str, kind: &str, hash: &str) -> String {
        format!(
            r#"{{"event":{{"event_time":"{time}","event_type":"{kind}","event_hash":"{hash}","event_metadata":{{"related_signature_id":null,"reported_for_account_id":"63522885f9261e2b04eea043933ee7313eb674fd"}}}},"signature_request":{{"signature_request_id":"fa5c8a0b0f492d768749333ad6fcc214c111e967","title":"NDA"}}}}"#
        )
    }

    fn multipart(json: &str) -> (Headers, Vec<u8>) {
        let b = "----flowgate7a1";
        let body = format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"json\"\r\n\r\n{json}\r\n--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4 --{b}x\r\n--{b}--\r\n"
        );
        (Headers::new().with("content-type", format!("multipart/form-data; boundary={b}")), body.into_bytes())
    }

    fn run(h: &Headers, body: &[u8], key: &str) -> Result<Verified<'static>, VerifyError> {
        let p = find_provider("dropboxsign").unwrap();
        let h: &'static Headers = Box::leak(Box::new(h.clone()));
        let body: &'static [u8] = Box::leak(body.to_vec().into_boxed_slice());
        verify_any(p, &p.scheme(), None, &[Secret::new(key)], Inbound::post(h, body, 1_700_000_000))
    }

    #[test]
    fn event_hash_is_the_hmac_of_time_then_type_as_the_sdks_compute_it() {
        // dropbox-sign-python EventCallbackHelper.is_valid: hmac.new(api_key,
        // event_time + event_type, sha256).hexdigest() == event_hash.
        let mut m = Hmac::<Sha256>::new_from_slice(KEY.as_bytes()).unwrap();
        m.update(b"1348177752signature_request_sent");
        let expected = hex::encode(m.finalize().into_bytes());
        assert_eq!(sign(&Secret::new(KEY), "1348177752", "signature_request_sent"), expected);
        let (h, body) = multipart(&callback("1348177752", "signature_request_sent", &expected));
        let v = run(&h, &body, KEY).unwrap();
        assert_eq!(v.event_type(), Some("signature_request_sent"));
        assert_eq!(v.delivery_id(), None);
        // The same hash under another key, time or type: refused.
        assert_eq!(run(&h, &body, "another-api-key").unwrap_err(), VerifyError::SignatureMismatch);
        for (t, k) in [("1348177753", "signature_request_sent"), ("1348177752", "signature_request_signed")] {
            let (h, body) = multipart(&callback(t, k, &expected));
            assert_eq!(run(&h, &body, KEY).unwrap_err(), VerifyError::SignatureMismatch, "{t} {k}");
        }
    }

    #[test]
    fn the_event_is_read_from_multipart_form_or_json_bodies() {
        let hash = sign(&Secret::new(KEY), "1700000000", "callback_test");
        let json = callback("1700000000", "callback_test", &hash);
        let form = format!("json={}", form_urlencoded::byte_serialize(json.as_bytes()).collect::<String>());
        let form_h = Headers::new().with("content-type", "application/x-www-form-urlencoded");
        assert!(run(&form_h, form.as_bytes(), KEY).is_ok());
        assert!(run(&Headers::new().with("content-type", "application/json"), json.as_bytes(), KEY).is_ok());
        let (h, body) = multipart(&json);
        assert!(run(&h, &body, KEY).is_ok());
        // A part named otherwise, a missing boundary, a missing hash: refused.
        let renamed = String::from_utf8(body.clone()).unwrap().replace("name=\"json\"", "name=\"jsonx\"");
        assert!(run(&h, renamed.as_bytes(), KEY).is_err());
        let no_boundary = Headers::new().with("content-type", "multipart/form-data");
        assert!(run(&no_boundary, &body, KEY).is_err());
        let unhashed = json.replace(&hash, "");
        assert!(run(&Headers::new(), unhashed.as_bytes(), KEY).is_err());
        assert!(run(&Headers::new(), b"not json", KEY).is_err());
        assert_eq!(labels(&h, &body).event_type.as_deref(), Some("callback_test"));
    }
}
