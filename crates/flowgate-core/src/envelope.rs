//! Payload shaping: the `envelope` form of what a flow receives, and its JSON
//! Schema.
//!
//! A target flow gets either the sender's body untouched (`raw`, the
//! default, which needs nothing from this module) or one JSON document:
//!
//! ```json
//! {"route": "gh", "provider": "github", "event_type": "push",
//!  "delivery_id": "72d3162e-…", "flowgate_id": "…",
//!  "received_at": "2026-11-27T08:30:00Z",
//!  "headers": {"x-github-hook-id": "123"},
//!  "content_type": "application/json",
//!  "body_encoding": "json", "body": {…}}
//! ```
//!
//! How the body is carried ([`body_encoding`]), one rule, shared with the
//! rule engine ([`crate::rules`]) so that "the body is JSON" means the same
//! thing in both places:
//!
//! - `form`: the content type is `application/x-www-form-urlencoded` (Slack
//!   slash commands and interactivity, Twilio). The body becomes an object of
//!   strings, percent- and plus-decoded; a key sent several times becomes an
//!   array of its strings. Always an object, even for an empty body. Slack's
//!   `payload` field stays a string: its JSON is the flow's to parse.
//! - `json`: the content type is JSON (`application/json`, `text/json`,
//!   `*/*+json`), `text/plain` (AWS SNS sends its JSON as text) or absent,
//!   **and** the bytes are valid UTF-8 JSON. The body is embedded verbatim,
//!   byte for byte: nothing is parsed into numbers and written back, so a
//!   64-bit id or a long decimal reaches the flow exactly as the sender wrote
//!   it. (The workspace does not enable serde_json's `arbitrary_precision`,
//!   and `RawValue` would need its `raw_value` feature; validating with
//!   `IgnoredAny` and copying the bytes needs neither.)
//! - `base64`: everything else, including text that is not JSON, a JSON
//!   content type whose body does not parse, and the empty body — standard
//!   alphabet, padded. The content type is in the envelope, so the flow can
//!   decode it.
//!
//! [`schema`] publishes the envelope's JSON Schema per route, for the flow's
//! "When an HTTP request is received" trigger.

use base64::Engine as _;
use serde::de::IgnoredAny;
use serde_json::{json, Map, Value};

use crate::{config::Problem, headers::Headers};

/// Headers never copied into an envelope, even when selected: they carry
/// credentials (a basic-auth or token scheme's shared secret, cookies), and a
/// flow has no use for them.
pub const NEVER_COPIED: [&str; 3] = ["authorization", "proxy-authorization", "cookie"];

/// Latest time [`rfc3339`] writes; a later clock reading is clamped to it so
/// the year keeps four digits.
const MAX_UNIX_SECS: u64 = 253_402_300_799; // 9999-12-31T23:59:59Z

/// Which request headers a route's envelopes carry (lower-case names).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvelopeSpec {
    headers: Vec<String>,
}

impl EnvelopeSpec {
    /// A spec selecting `headers` (lower-cased, duplicates dropped, order kept).
    /// Names in [`NEVER_COPIED`] are accepted here but never copied; use
    /// [`EnvelopeSpec::from_config`] to report them to the operator.
    pub fn new<S: AsRef<str>>(headers: impl IntoIterator<Item = S>) -> Self {
        let mut out: Vec<String> = Vec::new();
        for h in headers {
            let h = h.as_ref().to_ascii_lowercase();
            if !out.contains(&h) {
                out.push(h);
            }
        }
        Self { headers: out }
    }

    /// Parses a configured list of header names, e.g.
    /// `envelope_headers = ["x-github-hook-id"]`; `path` is where it sits in
    /// `[vars.FLOWGATE]` (for the problems). Absent means no headers.
    ///
    /// # Errors
    /// Every problem: not a list of strings, a name that is not an HTTP
    /// header name, a credential header ([`NEVER_COPIED`]), a name listed twice.
    pub fn from_config(path: &str, value: Option<&Value>) -> Result<Self, Vec<Problem>> {
        let Some(value) = value else { return Ok(Self::default()) };
        let problem = |path: String, message: String, fix: &str| Problem { path, message, fix: fix.to_owned() };
        let Some(items) = value.as_array() else {
            return Err(vec![problem(
                path.to_owned(),
                "must be a list of header names".to_owned(),
                "write it as a list, e.g. [\"x-github-hook-id\"]",
            )]);
        };
        let mut problems = Vec::new();
        let mut names: Vec<String> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let at = format!("{path}[{i}]");
            let Some(name) = item.as_str() else {
                problems.push(problem(at, "must be a string".to_owned(), "write the header name in quotes"));
                continue;
            };
            let lower = name.to_ascii_lowercase();
            if !is_header_name(name) {
                problems.push(problem(
                    at,
                    format!("{name:?} is not an HTTP header name"),
                    "use the header's name only, e.g. \"x-github-hook-id\" (letters, digits and - _ .)",
                ));
            } else if NEVER_COPIED.contains(&lower.as_str()) {
                problems.push(problem(
                    at,
                    format!("{lower} carries credentials and is never copied into an envelope"),
                    "remove it from the list",
                ));
            } else if names.contains(&lower) {
                problems.push(problem(at, format!("{lower} is listed twice"), "list each header once"));
            } else {
                names.push(lower);
            }
        }
        if problems.is_empty() {
            Ok(Self { headers: names })
        } else {
            Err(problems)
        }
    }

    /// The selected header names, lower-case.
    pub fn headers(&self) -> &[String] {
        &self.headers
    }
}

/// A valid HTTP header name (RFC 9110 `token`).
pub(crate) fn is_header_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The fixed fields of an envelope.
#[derive(Debug, Clone, Copy)]
pub struct EnvelopeMeta<'a> {
    /// The flowgate route name.
    pub route: &'a str,
    /// The provider (`github`, `slack`, ...).
    pub provider: &'a str,
    /// The event type as the sender names it, if it sends one.
    pub event_type: Option<&'a str>,
    /// The sender's delivery id, if it sends one.
    pub delivery_id: Option<&'a str>,
    /// flowgate's own id for this request (also in its logs).
    pub flowgate_id: &'a str,
    /// When the Worker received the request, seconds since the epoch.
    pub received_at_unix: u64,
}

/// How an envelope carries the body (see the module docs for the rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyEncoding {
    /// The sender's JSON, embedded verbatim.
    Json,
    /// A form-encoded body as an object of strings.
    Form,
    /// Anything else, base64 (standard alphabet, padded).
    Base64,
}

impl BodyEncoding {
    /// Every encoding, in the schema's `enum` order.
    pub const ALL: [BodyEncoding; 3] = [BodyEncoding::Json, BodyEncoding::Form, BodyEncoding::Base64];

    /// The `body_encoding` value.
    pub fn name(self) -> &'static str {
        match self {
            BodyEncoding::Json => "json",
            BodyEncoding::Form => "form",
            BodyEncoding::Base64 => "base64",
        }
    }
}

/// What the content type alone says about a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeclaredKind {
    /// Form-encoded: read as an object of strings.
    Form,
    /// JSON, text or unlabelled: JSON if the bytes parse.
    MaybeJson,
    /// Anything else (XML, multipart, binary): opaque.
    Other,
}

/// Classifies a `Content-Type` by its media type (parameters and case ignored).
pub(crate) fn declared_kind(content_type: Option<&str>) -> DeclaredKind {
    let Some(ct) = content_type else { return DeclaredKind::MaybeJson };
    let essence = ct.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    match essence.as_str() {
        "application/x-www-form-urlencoded" => DeclaredKind::Form,
        "" | "application/json" | "text/json" | "text/plain" => DeclaredKind::MaybeJson,
        e if e.ends_with("+json") => DeclaredKind::MaybeJson,
        _ => DeclaredKind::Other,
    }
}

/// True when `body` is one complete JSON document in UTF-8 (surrounding
/// whitespace allowed, nesting up to serde_json's limit of 128).
fn is_json(body: &[u8]) -> bool {
    std::str::from_utf8(body).is_ok_and(|s| serde_json::from_str::<IgnoredAny>(s).is_ok())
}

/// How [`build`] will carry this body.
pub fn body_encoding(content_type: Option<&str>, body: &[u8]) -> BodyEncoding {
    match declared_kind(content_type) {
        DeclaredKind::Form => BodyEncoding::Form,
        DeclaredKind::MaybeJson if is_json(body) => BodyEncoding::Json,
        _ => BodyEncoding::Base64,
    }
}

/// A form-encoded body as an object of strings (percent and `+` decoded,
/// invalid UTF-8 replaced); a repeated key becomes an array of its values, in
/// order.
pub fn form_object(body: &[u8]) -> Value {
    let mut map = Map::new();
    for (k, v) in form_urlencoded::parse(body) {
        let v = Value::String(v.into_owned());
        match map.get_mut(k.as_ref()) {
            None => {
                map.insert(k.into_owned(), v);
            }
            Some(Value::Array(values)) => values.push(v),
            Some(first) => *first = Value::Array(vec![first.take(), v]),
        }
    }
    Value::Object(map)
}

/// Appends `s` as a JSON string.
fn push_str(out: &mut Vec<u8>, s: &str) {
    // Serialising a `str` into a Vec cannot fail: there is no I/O and no
    // value that serde_json refuses.
    serde_json::to_writer(&mut *out, s).expect("a string serialises into a Vec");
}

fn push_key(out: &mut Vec<u8>, key: &str) {
    out.push(b',');
    push_str(out, key);
    out.push(b':');
}

fn push_opt(out: &mut Vec<u8>, key: &str, value: Option<&str>) {
    push_key(out, key);
    match value {
        Some(v) => push_str(out, v),
        None => out.extend_from_slice(b"null"),
    }
}

/// The envelope of one request, as JSON bytes (see the module docs).
/// Selected headers the request does not have are left out; a header sent
/// several times contributes its first value.
pub fn build(
    meta: &EnvelopeMeta<'_>,
    spec: &EnvelopeSpec,
    headers: &Headers,
    content_type: Option<&str>,
    body: &[u8],
) -> Vec<u8> {
    let encoding = body_encoding(content_type, body);
    let mut out = Vec::with_capacity(512 + body.len() / 3 * 4);
    out.extend_from_slice(b"{\"route\":");
    push_str(&mut out, meta.route);
    push_key(&mut out, "provider");
    push_str(&mut out, meta.provider);
    push_opt(&mut out, "event_type", meta.event_type);
    push_opt(&mut out, "delivery_id", meta.delivery_id);
    push_key(&mut out, "flowgate_id");
    push_str(&mut out, meta.flowgate_id);
    push_key(&mut out, "received_at");
    push_str(&mut out, &rfc3339(meta.received_at_unix));
    push_key(&mut out, "headers");
    out.push(b'{');
    let mut first = true;
    for name in &spec.headers {
        let Some(value) = headers.get(name).filter(|_| !NEVER_COPIED.contains(&name.as_str())) else { continue };
        if !first {
            out.push(b',');
        }
        first = false;
        push_str(&mut out, name);
        out.push(b':');
        push_str(&mut out, value);
    }
    out.push(b'}');
    push_opt(&mut out, "content_type", content_type);
    push_key(&mut out, "body_encoding");
    push_str(&mut out, encoding.name());
    push_key(&mut out, "body");
    match encoding {
        BodyEncoding::Json => out.extend_from_slice(body),
        BodyEncoding::Form => {
            // As push_str: a Value built from strings always serialises.
            serde_json::to_writer(&mut out, &form_object(body)).expect("a form object serialises into a Vec");
        }
        BodyEncoding::Base64 => push_str(&mut out, &base64::engine::general_purpose::STANDARD.encode(body)),
    }
    out.push(b'}');
    out
}

/// Unix seconds as an RFC 3339 UTC timestamp, `2026-11-27T08:30:00Z`.
/// Times after 9999-12-31T23:59:59Z are written as that instant.
pub fn rfc3339(unix_secs: u64) -> String {
    let secs = unix_secs.min(MAX_UNIX_SECS);
    let (year, month, day) = civil_from_days(secs / 86_400);
    let rem = secs % 86_400;
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

fn is_leap(year: u64) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

/// The proleptic Gregorian date `days` days after 1970-01-01. Whole
/// 400-year cycles (always 146 097 days) are skipped at once, then at most
/// 399 years and 11 months are counted off: simple enough to check by eye,
/// and a few hundred additions per envelope cost nothing.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    const CYCLE_DAYS: u64 = 146_097;
    let mut year = 1970 + days / CYCLE_DAYS * 400;
    let mut days = days % CYCLE_DAYS;
    loop {
        let len = if is_leap(year) { 366 } else { 365 };
        if days < len {
            break;
        }
        days -= len;
        year += 1;
    }
    let feb = if is_leap(year) { 29 } else { 28 };
    let mut month = 1;
    for len in [31, feb, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] {
        if days < len {
            break;
        }
        days -= len;
        month += 1;
    }
    (year, month, days + 1)
}

/// What the caller knows of a route's bodies, for [`schema`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyHint {
    /// Anything: `body` gets no type constraint.
    Unknown,
    /// Form-encoded (a Slack slash-command route, Twilio): `body` is an
    /// object of strings or lists of strings.
    Form,
}

/// The JSON Schema of a route's envelopes, for the flow's "When an HTTP
/// request is received" trigger ("Use sample payload to generate schema" is
/// not needed). Only keywords that trigger accepts and that mean the same in
/// drafts 04 and 07 are used: `type` (a list for nullable fields),
/// `properties`, `required`, `items`, `enum`, `additionalProperties`,
/// `title`, `description`; no `$ref`.
///
/// `body` has no type constraint under [`BodyHint::Unknown`]: its shape is
/// the sender's, it differs between event types and changes when the sender
/// adds fields, and a schema that guessed would make the trigger refuse
/// events (with validation on) or hide fields (in dynamic content). Users
/// who want `body`'s fields as dynamic content can replace that one property
/// with a schema generated from a sample event.
pub fn schema(route: &str, provider: &str, spec: &EnvelopeSpec, body_hint: BodyHint) -> Value {
    let text = |description: &str| json!({"type": "string", "description": description});
    let nullable = |description: &str| json!({"type": ["string", "null"], "description": description});
    let header_props: Map<String, Value> = spec
        .headers
        .iter()
        .filter(|h| !NEVER_COPIED.contains(&h.as_str()))
        .map(|h| (h.clone(), json!({"type": "string"})))
        .collect();
    let body = match body_hint {
        BodyHint::Unknown => json!({"description": "The sender's body: JSON as sent, a form as an object, or base64"}),
        BodyHint::Form => json!({
            "type": "object",
            "description": "The form fields; a field sent several times is a list",
            "additionalProperties": {"type": ["string", "array"], "items": {"type": "string"}},
        }),
    };
    let encodings: Vec<&str> = BodyEncoding::ALL.iter().map(|e| e.name()).collect();
    json!({
        "title": format!("flowgate envelope, route {route} ({provider})"),
        "type": "object",
        "properties": {
            "route": text("The flowgate route"),
            "provider": text("The sender"),
            "event_type": nullable("The event type as the sender names it"),
            "delivery_id": nullable("The sender's delivery id"),
            "flowgate_id": text("flowgate's id for this request, as in its logs"),
            "received_at": text("When flowgate received the request, RFC 3339 UTC"),
            "headers": {
                "type": "object",
                "description": "The selected request headers that were present",
                "properties": header_props,
            },
            "content_type": nullable("The sender's Content-Type"),
            "body_encoding": {"type": "string", "enum": encodings},
            "body": body,
        },
        "required": [
            "route", "provider", "event_type", "delivery_id", "flowgate_id",
            "received_at", "headers", "content_type", "body_encoding", "body",
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const META: EnvelopeMeta<'static> = EnvelopeMeta {
        route: "gh",
        provider: "github",
        event_type: Some("push"),
        delivery_id: Some("d-1"),
        flowgate_id: "fg-1",
        received_at_unix: 1_795_768_200,
    };

    fn envelope(spec: &EnvelopeSpec, headers: &Headers, ct: Option<&str>, body: &[u8]) -> Value {
        let bytes = build(&META, spec, headers, ct, body);
        serde_json::from_slice(&bytes).expect("the envelope is JSON")
    }

    #[test]
    fn received_at_is_rfc3339_utc() {
        for (secs, text) in [
            (0, "1970-01-01T00:00:00Z"),
            (68_169_600, "1972-02-29T00:00:00Z"),
            (94_694_399, "1972-12-31T23:59:59Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_000_000_000, "2001-09-09T01:46:40Z"),
            (1_709_164_800, "2024-02-29T00:00:00Z"),
            (1_795_768_200, "2026-11-27T08:30:00Z"),
            (1_798_360_200, "2026-12-27T08:30:00Z"),
            (4_107_542_399, "2100-02-28T23:59:59Z"),
            (4_107_542_400, "2100-03-01T00:00:00Z"),
            (253_402_300_799, "9999-12-31T23:59:59Z"),
            (u64::MAX, "9999-12-31T23:59:59Z"),
        ] {
            assert_eq!(rfc3339(secs), text, "{secs}");
        }
    }

    #[test]
    fn days_and_dates_agree_day_by_day() {
        // Walk 1970..2401 one day at a time: each date follows the previous.
        let mut prev = civil_from_days(0);
        assert_eq!(prev, (1970, 1, 1));
        for d in 1..157_000 {
            let next = civil_from_days(d);
            let (y, m, day) = prev;
            let expected = if next.2 == 1 && next.1 == 1 {
                (y + 1, 1, 1)
            } else if next.2 == 1 {
                (y, m + 1, 1)
            } else {
                (y, m, day + 1)
            };
            assert_eq!(next, expected, "day {d}");
            prev = next;
        }
        assert_eq!(prev, (2399, 11, 7)); // `date -d "1970-01-01 + 156999 days"`
    }

    #[test]
    fn json_body_is_embedded_byte_exact() {
        let body = br#"{"id": 12345678901234567890123, "x": 1.000000000000000000001, "s": "\u00e9"}"#;
        let bytes = build(&META, &EnvelopeSpec::default(), &Headers::new(), Some("application/json"), body);
        let text = String::from_utf8(bytes).unwrap();
        assert!(
            text.ends_with(&format!(",\"body_encoding\":\"json\",\"body\":{}}}", std::str::from_utf8(body).unwrap()))
        );
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["body"]["s"], "é");
        assert_eq!(v["content_type"], "application/json");
    }

    #[test]
    fn fixed_fields() {
        let v = envelope(&EnvelopeSpec::default(), &Headers::new(), None, b"[1,2]");
        assert_eq!(
            v,
            json!({
                "route": "gh", "provider": "github", "event_type": "push", "delivery_id": "d-1",
                "flowgate_id": "fg-1", "received_at": "2026-11-27T08:30:00Z", "headers": {},
                "content_type": null, "body_encoding": "json", "body": [1, 2],
            })
        );
        let meta = EnvelopeMeta { event_type: None, delivery_id: None, ..META };
        let v: Value =
            serde_json::from_slice(&build(&meta, &EnvelopeSpec::default(), &Headers::new(), None, b"1")).unwrap();
        assert_eq!((&v["event_type"], &v["delivery_id"]), (&Value::Null, &Value::Null));
    }

    #[test]
    fn json_content_types() {
        for ct in ["application/json", "Application/JSON; charset=utf-8", "application/cloudevents+json", "text/plain"]
        {
            assert_eq!(body_encoding(Some(ct), b"{}"), BodyEncoding::Json, "{ct}");
        }
        assert_eq!(body_encoding(None, b" {} \n"), BodyEncoding::Json);
        // A JSON-looking body under another media type stays opaque.
        assert_eq!(body_encoding(Some("application/xml"), b"{}"), BodyEncoding::Base64);
        assert_eq!(body_encoding(Some("application/octet-stream"), b"1"), BodyEncoding::Base64);
    }

    #[test]
    fn non_json_and_binary_bodies_are_base64() {
        for (ct, body) in [
            (Some("application/json"), &b"{not json"[..]),
            (Some("text/plain"), b"hello"),
            (None, b"\xff\xfe\x00"),
            (Some("application/octet-stream"), b"\x00\x01\x02\xff"),
            (Some("application/json"), b"{}{}"),
            (Some("application/json"), b"\xef\xbb\xbf{}"), // a BOM is not JSON
        ] {
            let v = envelope(&EnvelopeSpec::default(), &Headers::new(), ct, body);
            assert_eq!(v["body_encoding"], "base64", "{body:?}");
            assert_eq!(v["body"], base64::engine::general_purpose::STANDARD.encode(body));
        }
        let v = envelope(&EnvelopeSpec::default(), &Headers::new(), None, b"\x00\x01\x02\xff");
        assert_eq!(v["body"], "AAEC/w==");
    }

    #[test]
    fn empty_body() {
        let v = envelope(&EnvelopeSpec::default(), &Headers::new(), Some("application/json"), b"");
        assert_eq!((&v["body_encoding"], &v["body"]), (&json!("base64"), &json!("")));
        let v = envelope(&EnvelopeSpec::default(), &Headers::new(), Some("application/x-www-form-urlencoded"), b"");
        assert_eq!((&v["body_encoding"], &v["body"]), (&json!("form"), &json!({})));
    }

    #[test]
    fn form_body_is_an_object_of_strings() {
        let body = b"token=x&team_id=T1&command=%2Fdeploy&text=prod+now&to=a&to=b&to=c&payload=%7B%22a%22%3A1%7D&e=";
        let v = envelope(
            &EnvelopeSpec::default(),
            &Headers::new(),
            Some("application/x-www-form-urlencoded; charset=utf-8"),
            body,
        );
        assert_eq!(v["body_encoding"], "form");
        assert_eq!(
            v["body"],
            json!({
                "token": "x", "team_id": "T1", "command": "/deploy", "text": "prod now",
                "to": ["a", "b", "c"], "payload": "{\"a\":1}", "e": "",
            })
        );
    }

    #[test]
    fn selected_headers_only_and_missing_ones_omitted() {
        let headers = Headers::new()
            .with("X-GitHub-Hook-ID", "123")
            .with("X-Other", "no")
            .with("Authorization", "Basic c2VjcmV0")
            .with("X-Quote", "a\"b");
        let spec = EnvelopeSpec::new(["x-github-hook-id", "X-Absent", "authorization", "x-quote", "X-GITHUB-HOOK-ID"]);
        assert_eq!(spec.headers(), ["x-github-hook-id", "x-absent", "authorization", "x-quote"]);
        let v = envelope(&spec, &headers, None, b"{}");
        assert_eq!(v["headers"], json!({"x-github-hook-id": "123", "x-quote": "a\"b"}));
    }

    #[test]
    fn spec_from_config() {
        let spec = EnvelopeSpec::from_config("routes.gh.envelope_headers", Some(&json!(["X-GitHub-Hook-ID"]))).unwrap();
        assert_eq!(spec.headers(), ["x-github-hook-id"]);
        assert_eq!(EnvelopeSpec::from_config("p", None).unwrap(), EnvelopeSpec::default());
        let problems = EnvelopeSpec::from_config("p", Some(&json!(["a b", 5, "Cookie", "x", "X"]))).unwrap_err();
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["p[0]", "p[1]", "p[2]", "p[4]"]);
        assert!(problems[2].message.contains("credentials"));
        let problems = EnvelopeSpec::from_config("p", Some(&json!("x-a"))).unwrap_err();
        assert_eq!(problems[0].path, "p");
    }

    /// A validator for the keywords [`schema`] uses (enough to prove the
    /// envelopes match it; not a general JSON Schema implementation).
    fn validate(schema: &Value, v: &Value, at: &str) -> Result<(), String> {
        if let Some(t) = schema.get("type") {
            let types: Vec<&str> = match t {
                Value::String(s) => vec![s.as_str()],
                Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                _ => return Err(format!("{at}: bad type keyword")),
            };
            let ok = types.iter().any(|t| match *t {
                "string" => v.is_string(),
                "null" => v.is_null(),
                "object" => v.is_object(),
                "array" => v.is_array(),
                "number" => v.is_number(),
                "integer" => v.is_i64() || v.is_u64(),
                "boolean" => v.is_boolean(),
                _ => false,
            });
            if !ok {
                return Err(format!("{at}: {v} is not {types:?}"));
            }
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
            if !allowed.contains(v) {
                return Err(format!("{at}: {v} not in enum"));
            }
        }
        if let Some(obj) = v.as_object() {
            for r in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
                if !obj.contains_key(r.as_str().unwrap()) {
                    return Err(format!("{at}: missing {r}"));
                }
            }
            let props = schema.get("properties").and_then(Value::as_object);
            for (k, x) in obj {
                match (props.and_then(|p| p.get(k)), schema.get("additionalProperties")) {
                    (Some(s), _) | (None, Some(s)) => validate(s, x, &format!("{at}.{k}"))?,
                    (None, None) => {}
                }
            }
        }
        if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
            for (i, x) in arr.iter().enumerate() {
                validate(items, x, &format!("{at}[{i}]"))?;
            }
        }
        Ok(())
    }

    #[test]
    fn validator_rejects_what_it_should() {
        let s = schema("gh", "github", &EnvelopeSpec::default(), BodyHint::Form);
        let good =
            envelope(&EnvelopeSpec::default(), &Headers::new(), Some("application/x-www-form-urlencoded"), b"a=1");
        assert_eq!(validate(&s, &good, "$"), Ok(()));
        for (key, bad) in
            [("route", json!(null)), ("body_encoding", json!("xml")), ("body", json!({"a": 1})), ("headers", json!([]))]
        {
            let mut v = good.clone();
            v[key] = bad;
            assert!(validate(&s, &v, "$").is_err(), "{key}");
        }
        let mut v = good.clone();
        v.as_object_mut().unwrap().remove("delivery_id");
        assert!(validate(&s, &v, "$").is_err());
    }

    #[test]
    fn every_kind_of_envelope_matches_its_schema() {
        let spec = EnvelopeSpec::new(["x-github-hook-id", "x-absent"]);
        let headers = Headers::new().with("x-github-hook-id", "123");
        let any = schema("gh", "github", &spec, BodyHint::Unknown);
        let form = schema("slack", "slack", &spec, BodyHint::Form);
        for (ct, body) in [
            (Some("application/json"), &b"{\"a\":[1,{\"b\":null}]}"[..]),
            (None, b"\"just a string\""),
            (Some("application/octet-stream"), b"\x00\xff"),
            (Some("application/json"), b""),
            (Some("application/x-www-form-urlencoded"), b"a=1&a=2&b=x"),
        ] {
            let v = envelope(&spec, &headers, ct, body);
            assert_eq!(validate(&any, &v, "$"), Ok(()), "{v}");
            let meta = EnvelopeMeta { event_type: None, delivery_id: None, ..META };
            let v: Value = serde_json::from_slice(&build(&meta, &spec, &Headers::new(), ct, body)).unwrap();
            assert_eq!(validate(&any, &v, "$"), Ok(()), "{v}");
        }
        let v = envelope(&spec, &headers, Some("application/x-www-form-urlencoded"), b"a=1&a=2&b=x");
        assert_eq!(validate(&form, &v, "$"), Ok(()));
        assert_eq!(
            form["properties"]["headers"]["properties"],
            json!({"x-github-hook-id": {"type": "string"}, "x-absent": {"type": "string"}})
        );
    }

    #[test]
    fn schema_uses_only_portable_keywords() {
        const ALLOWED: [&str; 8] =
            ["type", "properties", "required", "items", "enum", "additionalProperties", "title", "description"];
        fn walk(s: &Value) {
            for (k, v) in s.as_object().unwrap() {
                assert!(ALLOWED.contains(&k.as_str()), "{k}");
                match k.as_str() {
                    "properties" => v.as_object().unwrap().values().for_each(walk),
                    "items" | "additionalProperties" => walk(v),
                    _ => {}
                }
            }
        }
        let spec = EnvelopeSpec::new(["authorization", "x-a"]);
        for hint in [BodyHint::Unknown, BodyHint::Form] {
            let s = schema("r", "p", &spec, hint);
            walk(&s);
            assert!(s["properties"]["headers"]["properties"].get("authorization").is_none());
        }
    }
}
