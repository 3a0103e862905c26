//! The configurable HMAC engine: every built-in preset, structured
//! (Stripe-style) signature headers, and schemes written in configuration.

use arbitrary::{Arbitrary, Result, Unstructured};
use flowgate_core::{
    verify::{
        self, custom, handshake, providers,
        scheme::{HmacScheme, Part, SignatureFormat, TimestampSource},
        Handshake, Provider, Scheme, VerifyError,
    },
    Headers, Secret,
};
use serde_json::{json, Map, Value};

use crate::support::{
    accepted, alter_suffix, any_text, bytes, headers_without, inbound, key, other_key, outcome, refused, rotation,
    secret_text, tag_len, text_of, truncate_suffix, with_value, Alphabet, BodyChange, BASE_URL, NOW_RANGE, TOKEN,
};

/// One change to a signed request; each must make verification refuse
/// (or, for the window edges, still accept).
#[derive(Debug, Clone, Copy, Arbitrary)]
enum Mutation {
    None,
    Body(BodyChange),
    DropHeader(usize),
    AlterSignature { at: usize, pick: u8 },
    TruncateSignature(usize),
    WrongSecret { at: usize, delta: u8 },
    TooOld(u16),
    TooNew(u16),
    WindowEdge(bool),
    OtherUrl,
    OtherMethod,
    OtherId,
    OtherTimestamp,
}

fn hmac_presets_list() -> Vec<(&'static Provider, HmacScheme)> {
    providers()
        .iter()
        .filter_map(|p| match p.scheme() {
            Scheme::Hmac(h) => Some((p, h)),
            _ => None,
        })
        .collect()
}

/// A body for `h`: arbitrary bytes, or (when the replay window's timestamp
/// is a JSON field, Linear's `webhookTimestamp`) JSON carrying it.
fn body_for(u: &mut Unstructured<'_>, h: &HmacScheme, now: u64) -> Result<Vec<u8>> {
    // Arbitrary bytes, or one of the setup events some senders send (the
    // Worker answers those itself).
    let mut v = match u.int_in_range(0..=3u8)? {
        0 => {
            let events = [
                json!({"type": "url_verification", "challenge": any_text(u, 20)?}),
                json!({"event": "endpoint.url_validation", "payload": {"plainToken": any_text(u, 20)?}}),
                json!({"events": [], "firstEventSequence": 1}),
                json!({"challenge": any_text(u, 20)?, "subscription": {"type": "x"}}),
                json!({"type": *u.choose(&["ping", "push", "event_callback"])?, "id": "evt_1", "event": {"type": "t"}}),
            ];
            u.choose(&events)?.clone()
        }
        _ => Value::from(String::from_utf8_lossy(&bytes(u, 512)?).into_owned()),
    };
    let Some(TimestampSource::JsonField(path)) = h.timestamp.as_ref().map(|t| &t.source) else {
        return Ok(match v {
            Value::String(raw) => raw.into_bytes(),
            event => event.to_string().into_bytes(),
        });
    };
    let unit = h.timestamp.as_ref().map(|t| t.unit).expect("a timestamp rule");
    let ts: Value = unit.format(now).parse::<u64>().map_or_else(|_| Value::from(unit.format(now)), Value::from);
    let mut field = ts;
    for key in path.split('.').rev() {
        let mut m = Map::new();
        m.insert(key.to_owned(), field);
        field = Value::Object(m);
    }
    if let (Value::Object(f), Value::Object(e)) = (&mut field, &mut v) {
        for (k, x) in std::mem::take(e) {
            f.entry(k).or_insert(x);
        }
    } else if let Value::Object(f) = &mut field {
        f.insert("data".to_owned(), v.clone());
    }
    v = field;
    Ok(v.to_string().into_bytes())
}

/// Headers a sender sends besides the signed ones: where the preset reads
/// its labels (GitHub's `x-github-event`, which may be `ping`), and Twitch's
/// message type. None that the scheme reads to verify.
fn label_headers(u: &mut Unstructured<'_>, h: &HmacScheme) -> Result<Vec<(String, String)>> {
    let mut names: Vec<String> = h
        .event
        .iter()
        .chain(&h.delivery)
        .filter_map(|f| match f {
            verify::scheme::Field::Header(n) => Some(n.to_string()),
            verify::scheme::Field::Json(_) => None,
        })
        .collect();
    names.push("twitch-eventsub-message-type".to_owned());
    let verifying = |n: &str| {
        h.signature_headers.iter().chain(&h.id_header).any(|s| s.eq_ignore_ascii_case(n))
            || matches!(h.timestamp.as_ref().map(|t| &t.source), Some(TimestampSource::Header(t)) if t.eq_ignore_ascii_case(n))
    };
    let mut out = Vec::new();
    for n in names {
        if !verifying(&n) && u.ratio(2, 3)? {
            let value = match u.int_in_range(0..=3u8)? {
                0 => "ping".to_owned(),
                1 => "webhook_callback_verification".to_owned(),
                2 => "push".to_owned(),
                _ => text_of(u, TOKEN, 0, 12)?,
            };
            out.push((n, value));
        }
    }
    Ok(out)
}

/// Signs a request as `h`'s sender does, checks that it verifies (with the
/// right secret anywhere in a rotation list, and labelled as
/// [`verify::labels`] labels it), then applies one mutation and checks that
/// it is refused.
fn round_trip(u: &mut Unstructured<'_>, provider: &Provider, h: &HmacScheme, what: &str) -> Result<()> {
    let scheme = Scheme::Hmac(h.clone());
    let now = u.int_in_range(NOW_RANGE)?;
    let key = key(u, 80)?;
    let secret = Secret::new(secret_text(h.secret, &key));
    let mut body = body_for(u, h, now)?;
    if provider.json_object_body() && body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        // X takes JSON objects only (its CRC answer would sign anything else).
        body.insert(0, b'{');
    }
    let id = text_of(u, TOKEN, 0, 24)?;
    let url = format!("{BASE_URL}{}", text_of(u, b"abc%3A2f?=&:/", 0, 24)?);
    let tolerance: Option<u64> = if u.arbitrary()? { Some(u.int_in_range(1..=3600)?) } else { None };
    let decoys: Vec<Secret> = (0..u.int_in_range(0..=2)?)
        .map(|i| Secret::new(secret_text(h.secret, &other_key(h.secret, &key, i, 7))))
        .collect();
    let (secrets, real_at) = rotation(secret.clone(), decoys, u.arbitrary()?);
    let mutation: Mutation = u.arbitrary()?;

    let signed = h.sign(&secret, &body, now, &id, &url, "POST").unwrap_or_else(|e| panic!("{what}: sign: {e}"));
    let extra = label_headers(u, h)?;
    // The request's headers: the signed ones (`drop` left out) and the others.
    let headers_without = |signed: &[(String, String)], drop: Option<usize>| {
        let mut hs = headers_without(signed, drop);
        for (k, v) in &extra {
            hs.insert(k, v.clone());
        }
        hs
    };
    let verify_with = |headers: &Headers, body: &[u8], now: u64, url: &str, method: &str, secrets: &[Secret]| {
        let inbound = verify::Inbound { headers, body, now_secs: now, method, url };
        outcome(verify::verify(provider, &scheme, tolerance, secrets, inbound))
    };

    // (1) What the sender signs verifies, with the secret that signed it.
    let headers = headers_without(&signed, None);
    let v = accepted(what, verify_with(&headers, &body, now, &url, "POST", &secrets));
    assert_eq!(v.secret_index, real_at, "{what}: matched the wrong secret");
    let labels = verify::labels(&scheme, &headers, &body);
    assert_eq!(labels.event_type, v.event_type, "{what}: labels disagree with verify");
    assert_eq!(labels.delivery_id, v.delivery_id, "{what}: labels disagree with verify");
    // The dry run's handshake is the one a verified request gets.
    let verified = verify::verify(provider, &scheme, tolerance, &secrets, inbound(&headers, &body, now, &url))
        .unwrap_or_else(|e| panic!("{what}: {e:?}"));
    let answered = match verified.handshake() {
        Some(Handshake::Ping(name)) => Some(format!("{name}-ping")),
        _ => handshake::after_verification(&verified, &headers, &secrets).map(|r| r.name.to_owned()),
    };
    assert_eq!(verify::handshake_name(provider, &scheme, &headers, &body), answered, "{what}: handshakes disagree");

    // (2) One mutation.
    let rule = h.timestamp.as_ref();
    let window = rule.map(|r| tolerance.unwrap_or(r.tolerance_secs));
    let (sig_name, sig_value) = &signed[0];
    let sig_len = Alphabet::of(h.encoding).encoded_len(tag_len(h.algorithm));
    let refuse = |why: &str, headers: &Headers, body: &[u8], now: u64, url: &str, method: &str| {
        refused(&format!("{what}: {why}"), verify_with(headers, body, now, url, method, &secrets))
    };
    match mutation {
        Mutation::None => {}
        Mutation::Body(change) => {
            refuse(&format!("body changed ({change:?})"), &headers, &change.apply(&body), now, &url, "POST");
        }
        Mutation::DropHeader(i) => {
            let i = i % signed.len();
            // The signature, a timestamp header and an id the template signs are
            // required; an id header the template does not use is not, nor a
            // second header of the same name (only the first value is read).
            let name = &signed[i].0;
            let first = signed.iter().position(|(k, _)| k.eq_ignore_ascii_case(name)) == Some(i);
            let id_unused = h.id_header.as_ref().is_some_and(|id| id.eq_ignore_ascii_case(name))
                && !h.template.contains(&Part::Id)
                && !h.signature_headers.iter().any(|s| s.eq_ignore_ascii_case(name));
            if first && !id_unused {
                refuse(&format!("header {name} dropped"), &headers_without(&signed, Some(i)), &body, now, &url, "POST");
            }
        }
        Mutation::AlterSignature { at, pick } => {
            let changed = alter_suffix(sig_value, sig_len, at, pick, Alphabet::of(h.encoding));
            let hs = headers_without(&with_value(&signed, sig_name, changed), None);
            refuse("signature altered", &hs, &body, now, &url, "POST");
        }
        Mutation::TruncateSignature(by) => {
            let hs = headers_without(&with_value(&signed, sig_name, truncate_suffix(sig_value, sig_len, by)), None);
            refuse("signature truncated", &hs, &body, now, &url, "POST");
        }
        Mutation::WrongSecret { at, delta } => {
            let wrong = Secret::new(secret_text(h.secret, &other_key(h.secret, &key, at, delta)));
            let r = verify_with(&headers, &body, now, &url, "POST", std::slice::from_ref(&wrong));
            refused(&format!("{what}: another secret"), r);
        }
        Mutation::TooOld(extra) => {
            if let Some(w) = window {
                let later = now + w + 1 + u64::from(extra);
                let e = refuse("timestamp too old", &headers, &body, later, &url, "POST");
                assert_eq!(e, VerifyError::TimestampTooOld, "{what}");
            }
        }
        Mutation::TooNew(extra) => {
            if let (Some(w), Some(r)) = (window, rule) {
                let earlier = now - w - 1 - u64::from(extra);
                let result = verify_with(&headers, &body, earlier, &url, "POST", &secrets);
                if r.past_only {
                    accepted(&format!("{what}: past-only window, future timestamp"), result);
                } else {
                    assert_eq!(result.err(), Some(VerifyError::TimestampInFuture), "{what}: future timestamp");
                }
            }
        }
        Mutation::WindowEdge(later) => {
            if let Some(w) = window {
                let at = if later { now + w } else { now - w };
                accepted(
                    &format!("{what}: at the window's edge"),
                    verify_with(&headers, &body, at, &url, "POST", &secrets),
                );
            }
        }
        Mutation::OtherUrl => {
            if h.url_bound() {
                refuse("another URL", &headers, &body, now, &format!("{url}x"), "POST");
            }
        }
        Mutation::OtherMethod => {
            if h.template.contains(&Part::Method) {
                refuse("another method", &headers, &body, now, &url, "PUT");
            }
        }
        Mutation::OtherId => {
            if let (Some(idh), true) = (&h.id_header, h.template.contains(&Part::Id)) {
                let hs = headers_without(&with_value(&signed, idh, format!("{id}x")), None);
                refuse("another id", &hs, &body, now, &url, "POST");
            }
        }
        Mutation::OtherTimestamp => {
            if let (Some(TimestampSource::Header(th)), true) =
                (rule.map(|r| &r.source), h.template.contains(&Part::Timestamp))
            {
                let unit = rule.expect("a rule").unit;
                let hs = headers_without(&with_value(&signed, th, unit.format(now + 1)), None);
                refuse("another signed timestamp", &hs, &body, now, &url, "POST");
            }
        }
    }
    Ok(())
}

/// Every built-in HMAC preset (the input picks one): sign as the sender
/// does, verify accepts; one mutation of what is signed, verify refuses.
pub fn hmac_presets(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let presets = hmac_presets_list();
    let Ok(i) = u.choose_index(presets.len()) else { return };
    let (p, h) = &presets[i];
    let _ = round_trip(&mut u, p, h, p.name);
}

/// One entry of a structured signature header.
#[derive(Debug, Clone, Arbitrary)]
enum Entry {
    /// The signed timestamp.
    Timestamp,
    /// The valid signature.
    Signature,
    /// The valid signature in upper case (hex is case-insensitive).
    SignatureUpper,
    /// Another timestamp.
    OtherTimestamp(u16),
    /// A wrong signature (of the right length).
    Decoy(Vec<u8>),
    /// A key the scheme ignores (Stripe's `v0`), with any value.
    Other(String),
    /// No `=` at all.
    Garbage(String),
    /// An empty entry.
    Empty,
}

/// Stripe-style `t=…,v1=…` headers (every structured preset): entries in
/// any order, repeated, padded, mixed with decoys and unknown keys. Accepted
/// exactly when the last timestamp entry is the signed one and some
/// signature entry is the valid one.
pub fn structured_header(data: &[u8]) {
    let _ = structured_header_inner(&mut Unstructured::new(data));
}

fn structured_header_inner(u: &mut Unstructured<'_>) -> Result<()> {
    let presets: Vec<_> = hmac_presets_list()
        .into_iter()
        .filter(|(_, h)| matches!(h.format, SignatureFormat::Structured { .. }))
        .collect();
    let (p, h) = &presets[u.choose_index(presets.len())?];
    let SignatureFormat::Structured { separator, timestamp_key, signature_key } = &h.format else { unreachable!() };
    let now = u.int_in_range(NOW_RANGE)?;
    let secret = Secret::new(secret_text(h.secret, &key(u, 40)?));
    let body = bytes(u, 256)?;
    let signed = h.sign(&secret, &body, now, "", BASE_URL, "POST").expect("sign");
    let alphabet = Alphabet::of(h.encoding);
    let sig_len = alphabet.encoded_len(tag_len(h.algorithm));
    let real_sig = &signed[0].1[signed[0].1.len() - sig_len..];
    let ts_text = h.timestamp.as_ref().expect("structured presets sign a timestamp").unit.format(now);

    let entries: Vec<(Entry, bool)> = u.arbitrary_iter()?.take(12).collect::<Result<_>>()?;
    let (mut parts, mut last_ts, mut valid_sig) = (Vec::new(), None::<String>, false);
    for (entry, pad) in entries {
        let text = match entry {
            Entry::Timestamp => {
                last_ts = Some(ts_text.clone());
                format!("{timestamp_key}={ts_text}")
            }
            Entry::OtherTimestamp(d) => {
                let t = h.timestamp.as_ref().expect("rule").unit.format(now + 1 + u64::from(d));
                last_ts = Some(t.clone());
                format!("{timestamp_key}={t}")
            }
            Entry::Signature => {
                valid_sig = true;
                format!("{signature_key}={}{real_sig}", h.prefix)
            }
            Entry::SignatureUpper => {
                valid_sig |= alphabet == Alphabet::Hex;
                format!("{signature_key}={}{}", h.prefix, real_sig.to_ascii_uppercase())
            }
            Entry::Decoy(mut d) => {
                d.resize(tag_len(h.algorithm), 0);
                // A decoy equal to the valid MAC would be the valid one.
                let enc = hex::encode(&d);
                valid_sig |= enc == real_sig;
                format!("{signature_key}={}{enc}", h.prefix)
            }
            Entry::Other(v) => format!("v0={}", v.replace(*separator, "")),
            Entry::Garbage(g) => g.replace([*separator, '='], ""),
            Entry::Empty => String::new(),
        };
        parts.push(if pad { format!(" {text} ") } else { text });
    }
    let header = parts.join(&separator.to_string());
    let headers = Headers::new().with(&signed[0].0, header.clone());
    let r = verify::verify(p, &Scheme::Hmac(h.clone()), None, &[secret], inbound(&headers, &body, now, BASE_URL));
    let expect = valid_sig && last_ts.as_deref() == Some(ts_text.as_str());
    match (expect, r) {
        (true, Err(e)) => panic!("{}: {header:?} refused: {e:?}", p.name),
        (false, Ok(_)) => panic!("{}: {header:?} accepted", p.name),
        _ => {}
    }
    Ok(())
}

/// A `[routes.<name>.scheme]` table built from the input.
pub(crate) fn scheme_table(u: &mut Unstructured<'_>) -> Result<Map<String, Value>> {
    /// Absent, one of `valid` (most often), or one of `odd` (values that
    /// validation must refuse, or that test its layout checks).
    fn pick<'a>(u: &mut Unstructured<'_>, absent: bool, valid: &[&'a str], odd: &[&'a str]) -> Result<Option<&'a str>> {
        Ok(match u.int_in_range(0..=9u8)? {
            0..=3 if absent => None,
            0..=7 => Some(*u.choose(valid)?),
            _ => Some(*u.choose(odd)?),
        })
    }
    let mut m = Map::new();
    let mut put = |k: &str, v: Option<&str>| {
        if let Some(v) = v {
            m.insert(k.to_owned(), Value::from(v));
        }
    };
    put("type", pick(u, true, &["hmac"], &["token", "basic-auth", "other"])?);
    put("algorithm", pick(u, true, &["sha1", "sha256", "sha512", "sha256-secret-prefix"], &["md5"])?);
    put("encoding", pick(u, true, &["hex", "base64", "base64url"], &["b32"])?);
    put("header", pick(u, false, &["X-Sig", "x-signature", "X-Acme-Signature"], &["X-Timestamp"])?);
    put("prefix", pick(u, true, &["sha256=", "v1=", "v0:", "", "t"], &[" v1=", "v1,", "a;b"])?);
    put("format", pick(u, true, &["plain", "list", "structured"], &["nested"])?);
    put("separator", pick(u, true, &[",", ";", " ", "|"], &["=", "a", "+", "-", ":", "T", "/", ",,"])?);
    put("timestamp_key", pick(u, true, &["t", "ts", "time"], &["v1", "t=", " t", ""])?);
    put("signature_key", pick(u, true, &["v1", "h1", "sig"], &["t", "s;g"])?);
    let template = if u.ratio(2, 3)? {
        let pieces = ["{id}", "{timestamp}", "{url}", "{method}", ".", ":", "v0:", "{body}"];
        let mut t = String::new();
        for _ in 0..u.int_in_range(0..=4)? {
            t.push_str(u.choose(&pieces)?);
        }
        if !u.ratio(1, 10)? {
            t.push_str("{body}");
        }
        if u.ratio(1, 10)? {
            t.push_str(u.choose(&["{", "}", "{nope}"])?);
        }
        Some(t)
    } else {
        None
    };
    put("template", template.as_deref());
    put(
        "timestamp",
        pick(u, true, &["structured", "X-Timestamp", "json:meta.ts"], &["json:", "X-Sig", "x-request-id"])?,
    );
    put("timestamp_unit", pick(u, true, &["seconds", "milliseconds", "rfc3339"], &["minutes"])?);
    put("id_header", pick(u, true, &["X-Id", "x-request-id"], &["X-Sig", "X-Timestamp"])?);
    put("secret_encoding", pick(u, true, &["raw", "base64", "hex", "whsec"], &["pem"])?);
    put("event", pick(u, true, &["header:X-Event", "json:type"], &["json:", "nope"])?);
    put("delivery", pick(u, true, &["header:X-Id", "json:id"], &["header:"])?);
    if u.ratio(1, 8)? {
        m.insert("headers".to_owned(), json!(["x-sig-a", "x-sig-b"]));
    }
    if u.arbitrary()? {
        m.insert("tolerance_secs".to_owned(), Value::from(u.int_in_range(0..=90_000u64)?));
    }
    if u.arbitrary()? {
        m.insert("past_only".to_owned(), Value::from(u.arbitrary::<bool>()?));
    }
    if u.ratio(1, 16)? {
        m.insert("bogus".to_owned(), Value::from(any_text(u, 8)?));
    }
    Ok(m)
}

/// Schemes written in configuration (`provider = "custom"`): any table
/// either is refused with problems, or gives a scheme whose own sender's
/// signatures verify, and whose mutations are refused.
///
/// An input that starts with a JSON object is that table, the bytes after
/// it the request: saved crash inputs are written so, as text that does not
/// depend on how [`scheme_table`] decodes bytes.
pub fn custom_scheme(data: &[u8]) {
    let mut stream = serde_json::Deserializer::from_slice(data).into_iter::<Map<String, Value>>();
    let (table, rest) = match (data.first(), stream.next()) {
        (Some(b'{'), Some(Ok(table))) => (Some(table), &data[stream.byte_offset()..]),
        _ => (None, data),
    };
    let mut u = Unstructured::new(rest);
    let Some(table) = table.or_else(|| scheme_table(&mut u).ok()) else { return };
    match custom::from_table(&table) {
        Err(problems) => assert!(!problems.is_empty(), "refused without a problem: {table:?}"),
        Ok(Scheme::Hmac(h)) => {
            let _ = round_trip(
                &mut u,
                verify::catalogue::custom(),
                &h,
                &format!("custom {}", Value::Object(table.clone())),
            );
        }
        Ok(scheme @ (Scheme::Token(_) | Scheme::BasicAuth(_))) => {
            let _ = crate::shared::round_trip(&mut u, verify::catalogue::custom(), &scheme);
        }
        Ok(other) => panic!("a table gave a {} scheme", other.kind()),
    }
}
