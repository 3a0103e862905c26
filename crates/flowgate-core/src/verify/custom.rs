//! `provider = "custom"`: a sender that is not built in, described by a
//! `[vars.FLOWGATE.routes.<name>.scheme]` table and verified by the same
//! engine as the built-in presets.
//!
//! ```toml
//! [vars.FLOWGATE.routes.acme.scheme]
//! algorithm = "sha256"                 # sha1 | sha256 | sha512 (HMACs; the prefix hash
//!                                      # SHA-256(secret‖string) is refused: length-extendable)
//! encoding = "hex"                     # hex | base64 | base64url
//! header = "X-Acme-Signature"          # or headers = ["A", "B"]
//! prefix = "sha256="                   # optional
//! format = "structured"                # plain (default) | list | structured
//! separator = ","                      # list and structured
//! timestamp_key = "t"                  # structured
//! signature_key = "v1"                 # structured
//! template = "{timestamp}.{body}"      # over {id} {timestamp} {body} {url} {method}; default "{body}"
//! timestamp = "structured"             # or a header name, e.g. "X-Acme-Timestamp"
//! timestamp_unit = "seconds"           # seconds | milliseconds | rfc3339 | iso8601-utc
//! tolerance_secs = 300
//! past_only = false
//! id_header = "X-Acme-Id"              # for {id}
//! secret_encoding = "raw"              # raw | base64 | hex | whsec
//! event = "header:X-Acme-Event"        # or "json:path.to.type"
//! delivery = "json:id"
//! ```

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::scheme::{
    parse_template, Encoding, Field, HmacScheme, MacAlgorithm, SecretEncoding, SignatureFormat, TimestampRule,
    TimestampSource, TimestampUnit,
};

const FIELDS: [&str; 20] = [
    "type",
    "algorithm",
    "encoding",
    "header",
    "headers",
    "prefix",
    "format",
    "separator",
    "timestamp_key",
    "signature_key",
    "template",
    "timestamp",
    "timestamp_unit",
    "tolerance_secs",
    "past_only",
    "id_header",
    "secret_encoding",
    "event",
    "delivery",
    "comment",
];

/// (field, what is wrong, what to do)
pub type SchemeProblem = (String, String, String);

fn text<'a>(m: &'a Map<String, Value>, k: &str, problems: &mut Vec<SchemeProblem>) -> Option<&'a str> {
    match m.get(k) {
        None => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => {
            problems.push((k.into(), "must be a string".into(), "see README.md, Custom senders".into()));
            None
        }
    }
}

fn owned(s: &str) -> Cow<'static, str> {
    Cow::Owned(s.to_ascii_lowercase())
}

fn field(spec: &str) -> Option<Field> {
    match spec.split_once(':') {
        Some(("header", h)) if !h.is_empty() => Some(Field::Header(owned(h))),
        Some(("json", p)) if !p.is_empty() => Some(Field::Json(Cow::Owned(p.to_owned()))),
        _ => None,
    }
}

/// Builds a route's scheme from its table: `type = "hmac"` (the default: the
/// HMAC engine), `"token"` (a header that must equal the secret) or
/// `"basic-auth"` (`Authorization: Basic` that must equal `user:password`).
///
/// # Errors
/// Every problem, by field.
pub fn from_table(m: &Map<String, Value>) -> Result<super::Scheme, Vec<SchemeProblem>> {
    match m.get("type").map(|t| t.as_str()) {
        None | Some(Some("hmac")) => scheme_from_table(m).map(super::Scheme::Hmac),
        Some(Some(kind @ ("token" | "basic-auth"))) => {
            let mut p: Vec<SchemeProblem> = Vec::new();
            for k in m.keys() {
                if !["type", "header", "event", "delivery", "comment"].contains(&k.as_str()) {
                    p.push((
                        k.clone(),
                        format!("not used by type = \"{kind}\""),
                        "use header, event and delivery".into(),
                    ));
                }
            }
            let header = match (kind, m.get("header")) {
                (_, Some(Value::String(h))) => owned(h),
                ("basic-auth", None) => Cow::Borrowed("authorization"),
                _ => {
                    p.push((
                        "header".into(),
                        "missing".into(),
                        "set header = \"X-Webhook-Token\" (the header that carries the token)".into(),
                    ));
                    Cow::Borrowed("")
                }
            };
            let mut labels = |k: &str| -> Vec<Field> {
                match m.get(k) {
                    None => Vec::new(),
                    Some(Value::String(spec)) => field(spec).map(|f| vec![f]).unwrap_or_else(|| {
                        p.push((
                            k.into(),
                            format!("\"{spec}\" is not header:NAME or json:path"),
                            "e.g. \"header:X-Event\"".into(),
                        ));
                        Vec::new()
                    }),
                    Some(_) => {
                        p.push((k.into(), "must be a string".into(), "e.g. \"json:type\"".into()));
                        Vec::new()
                    }
                }
            };
            let (event, delivery) = (labels("event"), labels("delivery"));
            if !p.is_empty() {
                return Err(p);
            }
            let h = super::shared_secret::HeaderSecret { header, event, delivery };
            Ok(if kind == "token" { super::Scheme::Token(h) } else { super::Scheme::BasicAuth(h) })
        }
        _ => Err(vec![("type".into(), "unknown scheme type".into(), "use hmac (default), token or basic-auth".into())]),
    }
}

/// Builds an HMAC scheme from its table.
///
/// # Errors
/// Every problem, by field.
pub fn scheme_from_table(m: &Map<String, Value>) -> Result<HmacScheme, Vec<SchemeProblem>> {
    let mut p: Vec<SchemeProblem> = Vec::new();
    for k in m.keys() {
        if !FIELDS.contains(&k.as_str()) {
            p.push((k.clone(), "unknown setting".into(), format!("use one of: {}", FIELDS.join(", "))));
        }
    }
    if m.get("type").is_some_and(|t| t.as_str() != Some("hmac")) {
        p.push(("type".into(), "not an HMAC scheme".into(), "use from_table for token and basic-auth".into()));
    }
    // The prefix hash SHA-256(secret ‖ message) is not a MAC: from one signed
    // request anyone can compute the hash of a longer message (SHA-256 length
    // extension), i.e. sign an extended body. Only HubSpot's legacy v1/v2
    // signatures use it, and those are built in; a configured sender gets HMACs.
    let prefix_hash = m.get("algorithm").and_then(Value::as_str) == Some(MacAlgorithm::Sha256SecretPrefix.name());
    if prefix_hash {
        p.push((
            "algorithm".into(),
            "\"sha256-secret-prefix\" (SHA-256 of secret‖string) is no longer offered for custom schemes: it is not a MAC, and anyone who has seen one signed request can sign a longer body with it (length extension)".into(),
            "use an HMAC: algorithm = \"sha256\" (HMAC-SHA256; or \"sha512\", \"sha1\") and have the sender sign with that HMAC; HubSpot's v1/v2 signatures are the built-in providers hubspot-v1 and hubspot-v2".into(),
        ));
    }
    let mut choose = |k: &str, default: &str, names: &[&str]| -> String {
        let v = text(m, k, &mut p).unwrap_or(default).to_owned();
        if !names.contains(&v.as_str()) {
            p.push((k.into(), format!("unknown value \"{v}\""), format!("use one of: {}", names.join(", "))));
        }
        v
    };
    let algorithm =
        if prefix_hash { "sha256".to_owned() } else { choose("algorithm", "sha256", &["sha1", "sha256", "sha512"]) };
    let encoding = choose("encoding", "hex", &["hex", "base64", "base64url"]);
    let format = choose("format", "plain", &["plain", "list", "structured"]);
    let unit = choose("timestamp_unit", "seconds", &["seconds", "milliseconds", "rfc3339", "iso8601-utc"]);
    let secret = choose("secret_encoding", "raw", &["raw", "base64", "hex", "whsec"]);

    let headers: Vec<Cow<'static, str>> = match (m.get("header"), m.get("headers")) {
        (Some(Value::String(h)), None) => vec![owned(h)],
        (None, Some(Value::Array(a))) if a.iter().all(Value::is_string) && !a.is_empty() => {
            a.iter().filter_map(Value::as_str).map(owned).collect()
        }
        _ => {
            p.push((
                "header".into(),
                "missing or ambiguous".into(),
                "set header = \"X-Signature\" (or headers = [..] for several)".into(),
            ));
            Vec::new()
        }
    };
    let separator = text(m, "separator", &mut p).unwrap_or(",");
    let separator = match separator.chars().collect::<Vec<_>>()[..] {
        [c] => c,
        _ => {
            p.push(("separator".into(), "must be one character".into(), "use \",\", \";\" or \" \"".into()));
            ','
        }
    };
    let format = match format.as_str() {
        "list" => SignatureFormat::List { separator },
        "structured" => SignatureFormat::Structured {
            separator,
            timestamp_key: Cow::Owned(text(m, "timestamp_key", &mut p).unwrap_or("t").to_owned()),
            signature_key: Cow::Owned(text(m, "signature_key", &mut p).unwrap_or("v1").to_owned()),
        },
        _ => SignatureFormat::Plain,
    };
    let template = match parse_template(text(m, "template", &mut p).unwrap_or("{body}")) {
        Ok(t) => t,
        Err(why) => {
            p.push(("template".into(), why, "use {id}, {timestamp}, {body}, {url}, {method} and literal text".into()));
            Vec::new()
        }
    };
    let tolerance_secs = match m.get("tolerance_secs") {
        None => 300,
        Some(v) => v.as_u64().filter(|t| (1..=86_400).contains(t)).unwrap_or_else(|| {
            p.push((
                "tolerance_secs".into(),
                "must be a whole number from 1 to 86400".into(),
                "senders' libraries use 300".into(),
            ));
            300
        }),
    };
    let past_only = match m.get("past_only") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            p.push(("past_only".into(), "must be true or false".into(), "true only rejects old timestamps".into()));
            false
        }
    };
    let timestamp = text(m, "timestamp", &mut p).map(|t| TimestampRule {
        source: match t {
            "structured" => TimestampSource::Structured,
            t => match t.strip_prefix("json:") {
                Some(path) => TimestampSource::JsonField(Cow::Owned(path.to_owned())),
                None => TimestampSource::Header(owned(t)),
            },
        },
        unit: TimestampUnit::from_name(&unit).unwrap_or(TimestampUnit::Seconds),
        tolerance_secs,
        past_only,
    });
    let mut labels = |k: &str| -> Vec<Field> {
        match text(m, k, &mut p) {
            None => Vec::new(),
            Some(spec) => match field(spec) {
                Some(f) => vec![f],
                None => {
                    p.push((
                        k.into(),
                        format!("\"{spec}\" is not header:NAME or json:path"),
                        "e.g. \"header:X-Event\" or \"json:data.type\"".into(),
                    ));
                    Vec::new()
                }
            },
        }
    };
    let event = labels("event");
    let delivery = labels("delivery");
    let scheme = HmacScheme {
        algorithm: MacAlgorithm::from_name(&algorithm).unwrap_or(MacAlgorithm::HmacSha256),
        encoding: Encoding::from_name(&encoding).unwrap_or(Encoding::Hex),
        signature_headers: headers,
        prefix: Cow::Owned(text(m, "prefix", &mut p).unwrap_or("").to_owned()),
        format,
        template,
        timestamp,
        id_header: text(m, "id_header", &mut p).map(owned),
        secret: SecretEncoding::from_name(&secret).unwrap_or(SecretEncoding::Raw),
        event,
        delivery,
        signature_in_query: false,
    };
    if p.is_empty() {
        if let Err(why) = scheme.validate() {
            p.push(("".into(), why, "see README.md, Custom senders".into()));
        }
    }
    if p.is_empty() {
        Ok(scheme)
    } else {
        Err(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        headers::Headers,
        secret::Secret,
        verify::{catalogue, find_provider, verify, Inbound, Scheme, VerifyError},
    };

    const NOW: u64 = 1_700_000_000;
    const URL: &str = "https://flowgate.example/hooks/test";

    fn tables() -> Map<String, Value> {
        let text = include_str!("../../../../tests/fixtures/custom-schemes.toml");
        let v: toml::Value = toml::from_str(text).unwrap();
        serde_json::to_value(v).unwrap().as_object().unwrap().clone()
    }

    /// (what, headers, body, now)
    type Request = (String, Vec<(String, String)>, Vec<u8>, u64);

    /// A signed request and variations of it.
    fn requests(h: &HmacScheme, secret: &Secret) -> Vec<Request> {
        let body = br#"{"id":"evt_1","type":"a.b","event":{"type":"c"}}"#.to_vec();
        let signed = h.sign(secret, &body, NOW, "msg-1", URL, "POST").unwrap();
        let mut out = vec![("valid".to_owned(), signed.clone(), body.clone(), NOW)];
        let mut b = body.clone();
        b[3] ^= 1;
        out.push(("body changed".into(), signed.clone(), b, NOW));
        for i in 0..signed.len() {
            let mut without = signed.clone();
            without.remove(i);
            out.push((format!("header {i} removed"), without, body.clone(), NOW));
        }
        let mut cut = signed.clone();
        let keep = cut[0].1.len() - 3;
        cut[0].1.truncate(keep);
        out.push(("signature truncated".into(), cut, body.clone(), NOW));
        for dt in [299_i64, 301, 599, 601, -299, -301, -601, -100_000] {
            out.push((format!("now {dt:+}"), signed.clone(), body.clone(), NOW.saturating_add_signed(dt)));
        }
        let other = h.sign(&Secret::new("c29tZS1vdGhlci1zZWNyZXQ="), &body, NOW, "msg-1", URL, "POST").unwrap();
        out.push(("other secret".into(), other, body, NOW));
        out
    }

    fn verdict(
        p: &catalogue::Provider,
        scheme: &Scheme,
        secret: &Secret,
        headers: &[(String, String)],
        body: &[u8],
        now: u64,
    ) -> Result<(Option<String>, Option<String>), VerifyError> {
        let h: Headers = headers.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        verify(
            p,
            scheme,
            None,
            std::slice::from_ref(secret),
            Inbound { headers: &h, body, now_secs: now, method: "POST", url: URL },
        )
        .map(|v| (v.event_type().map(str::to_owned), v.delivery_id().map(str::to_owned)))
    }

    #[test]
    fn the_readme_examples_give_the_built_in_verdicts() {
        let tables = tables();
        assert_eq!(tables.len(), 7);
        for (name, table) in &tables {
            let custom = scheme_from_table(table.as_object().unwrap()).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            let preset_provider = find_provider(name).unwrap();
            let Scheme::Hmac(preset) = preset_provider.scheme() else { panic!() };
            let secret = Secret::new("YS1zaWduaW5nLXNlY3JldC1mb3ItdGVzdHM=");
            for (what, headers, body, now) in requests(&preset, &secret) {
                let built_in = verdict(preset_provider, &Scheme::Hmac(preset.clone()), &secret, &headers, &body, now);
                let configured =
                    verdict(catalogue::custom(), &Scheme::Hmac(custom.clone()), &secret, &headers, &body, now);
                match (&built_in, &configured) {
                    (Ok(a), Ok(b)) => {
                        if table.get("event").is_some() && table.get("delivery").is_some() {
                            assert_eq!(a, b, "{name}: {what}: labels");
                        }
                    }
                    (Err(a), Err(b)) => assert_eq!(a.code(), b.code(), "{name}: {what}"),
                    _ => panic!("{name}: {what}: built-in {built_in:?} vs custom {configured:?}"),
                }
            }
        }
    }

    #[test]
    fn token_and_basic_auth_tables() {
        use crate::headers::Headers;
        let t: Map<String, Value> = serde_json::from_value(
            serde_json::json!({"type": "token", "header": "X-Webhook-Token", "event": "json:kind"}),
        )
        .unwrap();
        let scheme = from_table(&t).unwrap();
        let p = catalogue::custom();
        let s = Secret::new("shared-token-value");
        let good = Headers::new().with("x-webhook-token", "shared-token-value");
        let v =
            verify(p, &scheme, None, std::slice::from_ref(&s), Inbound::post(&good, br#"{"kind":"k"}"#, 0)).unwrap();
        assert_eq!(v.event_type(), Some("k"));
        let bad = Headers::new().with("x-webhook-token", "shared-token-valuE");
        assert!(verify(p, &scheme, None, std::slice::from_ref(&s), Inbound::post(&bad, b"{}", 0)).is_err());
        let t: Map<String, Value> = serde_json::from_value(serde_json::json!({"type": "basic-auth"})).unwrap();
        let scheme = from_table(&t).unwrap();
        let auth = Headers::new().with("authorization", "Basic dXNlcjpwYXNz"); // user:pass
        assert!(verify(p, &scheme, None, &[Secret::new("user:pass")], Inbound::post(&auth, b"", 0)).is_ok());
        assert!(verify(p, &scheme, None, &[Secret::new("user:pasS")], Inbound::post(&auth, b"", 0)).is_err());
        let t: Map<String, Value> =
            serde_json::from_value(serde_json::json!({"type": "token", "algorithm": "sha256"})).unwrap();
        let fields: Vec<String> = from_table(&t).unwrap_err().into_iter().map(|(f, _, _)| f).collect();
        assert_eq!(fields, ["algorithm", "header"]);
        let t: Map<String, Value> = serde_json::from_value(serde_json::json!({"type": "rsa"})).unwrap();
        assert_eq!(from_table(&t).unwrap_err()[0].0, "type");
    }

    #[test]
    fn the_prefix_hash_is_refused_with_the_fix() {
        let t: Map<String, Value> = serde_json::from_value(serde_json::json!({
            "algorithm": "sha256-secret-prefix", "encoding": "hex", "header": "X-Sig",
        }))
        .unwrap();
        let problems = scheme_from_table(&t).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        let (field, what, fix) = &problems[0];
        assert_eq!(field, "algorithm");
        assert!(what.contains("length extension") && what.contains("no longer offered"), "{what}");
        assert!(fix.contains("algorithm = \"sha256\"") && fix.contains("hubspot-v2"), "{fix}");
        // The same table with an HMAC is fine.
        let mut hmac = t.clone();
        hmac.insert("algorithm".into(), "sha256".into());
        assert_eq!(scheme_from_table(&hmac).unwrap().algorithm, MacAlgorithm::HmacSha256);
        // And the configuration (what `flowgate check` and the Worker both run) names it by path.
        let config = serde_json::json!({
            "entra": {"tenant": "contoso.onmicrosoft.com", "client_id": "5b6f2a10-7c1d-4e8f-9a2b-3c4d5e6f7a81",
                      "client_secret_binding": "ENTRA_CLIENT_SECRET"},
            "routes": {"acme": {"provider": "custom", "secret_bindings": ["ACME_SECRET"], "flow_url_binding": "FLOW",
                                "scheme": t}},
        });
        let problems = crate::config::Config::from_json(&config).unwrap_err();
        let p = problems.iter().find(|p| p.path == "routes.acme.scheme.algorithm").expect("the algorithm is named");
        assert!(p.fix.contains("HMAC-SHA256"), "{p:?}");
        // The built-in HubSpot v1/v2 presets keep it.
        for name in ["hubspot-v1", "hubspot-v2"] {
            let Scheme::Hmac(h) = find_provider(name).unwrap().scheme() else { panic!() };
            assert_eq!(h.algorithm, MacAlgorithm::Sha256SecretPrefix, "{name}");
        }
    }

    #[test]
    fn bad_tables_name_each_problem() {
        let t: Map<String, Value> = serde_json::from_value(serde_json::json!({
            "algorithm": "md5",
            "encoding": "hex",
            "template": "{timestamp}.{payload}",
            "format": "structured",
            "tolerance_secs": 0,
            "colour": "red",
        }))
        .unwrap();
        let fields: Vec<String> = scheme_from_table(&t).unwrap_err().into_iter().map(|(f, _, _)| f).collect();
        for f in ["colour", "algorithm", "header", "template", "tolerance_secs"] {
            assert!(fields.iter().any(|x| x == f), "{f} in {fields:?}");
        }
        // Internally inconsistent: {timestamp} with no timestamp source; no {body}.
        let t: Map<String, Value> =
            serde_json::from_value(serde_json::json!({"header": "X-Sig", "template": "{timestamp}.{body}"})).unwrap();
        assert!(scheme_from_table(&t).unwrap_err()[0].1.contains("no timestamp"));
        let t: Map<String, Value> =
            serde_json::from_value(serde_json::json!({"header": "X-Sig", "template": "{id}"})).unwrap();
        assert!(scheme_from_table(&t).unwrap_err()[0].1.contains("{body}"));
    }

    #[test]
    fn layouts_that_cannot_read_back_what_the_sender_writes_are_refused() {
        // Each of these signs headers its own verifier cannot parse (found by
        // the custom_scheme fuzz target: fuzz/artifacts/custom_scheme/).
        for (extra, why) in [
            (serde_json::json!({"format": "structured", "separator": "="}), "separator"),
            (serde_json::json!({"format": "list", "separator": "a"}), "separator"),
            (serde_json::json!({"format": "list", "encoding": "base64", "separator": "+"}), "separator"),
            (serde_json::json!({"format": "list", "prefix": "v1,"}), "separator"),
            (serde_json::json!({"prefix": " v1="}), "whitespace"),
            (serde_json::json!({"format": "structured", "timestamp_key": "v1"}), "same"),
            (serde_json::json!({"format": "structured", "signature_key": "s=g"}), "key"),
            (serde_json::json!({"timestamp": "x-sig", "template": "{timestamp}{body}"}), "timestamp header"),
            (
                serde_json::json!({"id_header": "x-ts", "timestamp": "X-Ts", "template": "{id}{timestamp}{body}"}),
                "the same",
            ),
        ] {
            let mut t: Map<String, Value> = serde_json::from_value(serde_json::json!({"header": "X-Sig"})).unwrap();
            t.extend(extra.as_object().unwrap().clone());
            let problems = scheme_from_table(&t).unwrap_err();
            assert!(problems[0].1.contains(why), "{t:?}: {problems:?}");
        }
        // What the built-in senders use stays valid.
        let t: Map<String, Value> = serde_json::from_value(serde_json::json!({
            "header": "X-Sig", "format": "structured", "separator": ";", "timestamp_key": "ts",
            "signature_key": "h1", "timestamp": "structured", "template": "{timestamp}:{body}"
        }))
        .unwrap();
        assert!(scheme_from_table(&t).is_ok());
    }
}
