//! The envelope builder: one JSON document per request, for any request.

use arbitrary::{Result, Unstructured};
use base64::{engine::general_purpose::STANDARD, Engine};
use flowgate_core::{
    envelope::{self, body_encoding, form_object, BodyEncoding, BodyHint, EnvelopeMeta, EnvelopeSpec, NEVER_COPIED},
    Headers,
};
use serde_json::Value;

use crate::support::{any_text, bytes, json_value};

const NAMES: [&str; 7] =
    ["x-github-event", "X-Hook-Id", "authorization", "cookie", "content-type", "x-a", "Proxy-Authorization"];
const TYPES: [&str; 7] = [
    "application/json",
    "application/x-www-form-urlencoded; charset=utf-8",
    "text/plain",
    "application/xml",
    "APPLICATION/JSON",
    "application/vnd.api+json",
    "",
];

/// serde_json's nesting limit: an envelope adds one level to the body.
fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// A request from the input: the envelope is JSON, carries the metadata
/// as given, exactly the selected headers the request has (never a
/// credential header), and the body losslessly (JSON as is, a form as an
/// object of strings, anything else base64). The spec parser and the
/// schema take the same names.
pub fn envelope(data: &[u8]) {
    let _ = inner(&mut Unstructured::new(data));
}

fn name(u: &mut Unstructured<'_>) -> Result<String> {
    Ok(if u.ratio(3, 4)? { (*u.choose(&NAMES)?).to_owned() } else { any_text(u, 16)? })
}

fn inner(u: &mut Unstructured<'_>) -> Result<()> {
    let route = any_text(u, 20)?;
    let provider = any_text(u, 20)?;
    let event_type = if u.arbitrary()? { Some(any_text(u, 30)?) } else { None };
    let delivery_id = if u.arbitrary()? { Some(any_text(u, 30)?) } else { None };
    let flowgate_id = any_text(u, 20)?;
    let received_at_unix: u64 = u.arbitrary()?;
    let selected: Vec<String> = (0..u.int_in_range(0..=4)?).map(|_| name(u)).collect::<Result<_>>()?;
    let mut headers = Headers::new();
    for _ in 0..u.int_in_range(0..=5)? {
        headers.insert(&name(u)?, any_text(u, 30)?);
    }
    let content_type = match u.int_in_range(0..=2u8)? {
        0 => None,
        1 => Some((*u.choose(&TYPES)?).to_owned()),
        _ => Some(any_text(u, 30)?),
    };
    let body = match u.int_in_range(0..=4u8)? {
        0 => any_text(u, 400)?.into_bytes(),
        1 => bytes(u, 400)?,
        // Nested as deep as serde_json reads, and one deeper.
        2 if u.ratio(1, 8)? => {
            let n = u.int_in_range(120..=130)?;
            format!("{}{}", "[".repeat(n), "]".repeat(n)).into_bytes()
        }
        _ => format!(" {}\n", json_value(u, 4)?).into_bytes(),
    };

    let meta = EnvelopeMeta {
        route: &route,
        provider: &provider,
        event_type: event_type.as_deref(),
        delivery_id: delivery_id.as_deref(),
        flowgate_id: &flowgate_id,
        received_at_unix,
    };
    let spec = EnvelopeSpec::new(&selected);
    let out = envelope::build(&meta, &spec, &headers, content_type.as_deref(), &body);
    let encoding = body_encoding(content_type.as_deref(), &body);
    let parsed: Value = match serde_json::from_slice(&out) {
        Ok(v) => v,
        Err(e) => {
            // Valid JSON, one level deeper than serde_json reads by default.
            let inner: Option<Value> = serde_json::from_slice(&body).ok();
            assert!(
                encoding == BodyEncoding::Json && inner.is_none_or(|v| depth(&v) >= 127),
                "the envelope is not JSON ({e}): {}",
                String::from_utf8_lossy(&out)
            );
            return Ok(());
        }
    };
    let text = |k: &str| parsed.get(k).and_then(Value::as_str).map(str::to_owned);
    assert_eq!(text("route").as_deref(), Some(route.as_str()));
    assert_eq!(text("provider").as_deref(), Some(provider.as_str()));
    assert_eq!(text("event_type"), event_type);
    assert_eq!(text("delivery_id"), delivery_id);
    assert_eq!(text("flowgate_id").as_deref(), Some(flowgate_id.as_str()));
    assert_eq!(text("received_at"), Some(envelope::rfc3339(received_at_unix)));
    assert_eq!(text("content_type"), content_type);
    assert_eq!(text("body_encoding").as_deref(), Some(encoding.name()));

    let copied = parsed.get("headers").and_then(Value::as_object).expect("a headers object");
    for (k, v) in copied {
        assert!(!NEVER_COPIED.contains(&k.as_str()), "credential header {k} copied");
        assert!(spec.headers().contains(k), "{k} was not selected");
        assert_eq!(headers.get(k), v.as_str(), "{k}: not the first value");
    }
    for h in spec.headers() {
        if headers.get(h).is_some() && !NEVER_COPIED.contains(&h.as_str()) {
            assert!(copied.contains_key(h), "selected header {h} left out");
        }
    }

    let carried = parsed.get("body").expect("a body");
    match encoding {
        BodyEncoding::Json => {
            let original: Value = serde_json::from_slice(&body).expect("JSON");
            assert_eq!(carried, &original);
        }
        BodyEncoding::Form => assert_eq!(carried, &form_object(&body)),
        BodyEncoding::Base64 => {
            let decoded = STANDARD.decode(carried.as_str().expect("a base64 string")).expect("base64");
            assert_eq!(decoded, body);
        }
    }

    // The configured form of the same list: accepted names are header names,
    // lower case, each once, never a credential header.
    let configured = Value::Array(selected.iter().map(|s| Value::from(s.as_str())).collect());
    if let Ok(spec) = EnvelopeSpec::from_config("routes.r.envelope_headers", Some(&configured)) {
        for (i, h) in spec.headers().iter().enumerate() {
            assert_eq!(h, &h.to_ascii_lowercase());
            assert!(!NEVER_COPIED.contains(&h.as_str()));
            assert!(!spec.headers()[..i].contains(h));
        }
    }
    for hint in [BodyHint::Unknown, BodyHint::Form] {
        let schema = envelope::schema(&route, &provider, &spec, hint);
        assert!(schema.is_object());
    }
    Ok(())
}
