//! Configuration parsing and validation: `[vars.FLOWGATE]` as operators
//! write it (TOML, the way `flowgate check` reads wrangler.toml) and as the
//! Worker receives it (JSON).

use arbitrary::{Result, Unstructured};
use flowgate_core::config::{check_flow_url, check_scope, Cloud, Config};
use serde_json::{json, Value};

/// Text in a URL that no message may repeat (a trigger URL is a credential).
const MARK: &str = "ZQXJ7731";

/// The text as TOML (a whole wrangler.toml, whose `vars.FLOWGATE` is taken,
/// or the table itself) and as JSON, validated: no panic, the same answer
/// twice, problems when refused, a consistent configuration when accepted,
/// and no problem that repeats a binding value (a pasted secret). The text
/// is also checked as a flow URL and a scope.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(doc) = toml::from_str::<toml::Value>(text) {
        let table = doc.get("vars").and_then(|v| v.get("FLOWGATE")).unwrap_or(&doc);
        if let Ok(json) = serde_json::to_value(table) {
            check(&json);
        }
    }
    if let Ok(json) = serde_json::from_str::<Value>(text) {
        check(&json);
    }
    let _ = check_scope(text);
    let marked = format!("{text}{MARK}");
    for url in [text.to_owned(), marked.clone(), marked.replacen('?', &format!("?{MARK}"), 1)] {
        for (cloud, any) in [(Cloud::Public, false), (Cloud::GccHigh, false), (Cloud::Public, true)] {
            match check_flow_url(&url, cloud, any) {
                Err(why) => assert!(!why.contains(MARK), "check_flow_url repeats the URL: {why}"),
                Ok(warnings) => {
                    for w in warnings {
                        assert!(!w.contains(MARK), "check_flow_url repeats the URL in a warning: {w}");
                    }
                }
            }
        }
    }
}

fn check(value: &Value) {
    let first = Config::from_json(value);
    assert_eq!(first, Config::from_json(value), "validation is not deterministic");
    match first {
        Err(problems) => {
            assert!(!problems.is_empty(), "refused without a problem");
            for p in &problems {
                let _ = p.to_string();
            }
            // The same configuration with every binding value that is not a
            // secret name (a pasted secret, as validation sees it) replaced
            // by a marker: no problem repeats one. (Marking them, rather than
            // looking for the values themselves, keeps a value that happens
            // to be a piece of a fixed message from counting.)
            let mut marked = value.clone();
            if mark_pasted(&mut marked, false) {
                let Err(problems) = Config::from_json(&marked) else { panic!("a pasted secret made it valid") };
                for p in &problems {
                    assert!(
                        !p.message.contains(PASTE_MARK) && !p.fix.contains(PASTE_MARK),
                        "a problem repeats a binding value: {p}"
                    );
                }
            }
        }
        Ok(config) => consistent(&config),
    }
}

/// Replaces each `*_binding` value that is not a secret name by one
/// containing [`PASTE_MARK`]; true when it replaced any.
fn mark_pasted(v: &mut Value, under_binding: bool) -> bool {
    match v {
        Value::Object(m) => m
            .iter_mut()
            .fold(false, |any, (k, x)| mark_pasted(x, k.ends_with("_binding") || k == "secret_bindings") | any),
        Value::Array(items) => items.iter_mut().fold(false, |any, x| mark_pasted(x, under_binding) | any),
        Value::String(s) if under_binding && !s.is_empty() && !is_binding_name(s) => {
            *s = format!("whsec_{PASTE_MARK}");
            true
        }
        _ => false,
    }
}

/// In a pasted secret: text no fixed message contains.
const PASTE_MARK: &str = "\u{1}pasted\u{1}";

/// What validation promises about an accepted configuration.
fn consistent(config: &Config) {
    assert!(!config.routes.is_empty(), "accepted without routes");
    for (name, route) in &config.routes {
        assert_eq!(&route.name, name);
        assert!(is_name(name), "route name {name:?}");
        for flow in route.rules.flows() {
            assert!(config.flows.contains_key(flow), "route {name} names an unknown flow {flow}");
        }
        for rule in route.rules.rules() {
            assert!(!rule.flows().is_empty(), "route {name}: {rule} goes nowhere");
        }
        assert!(!route.keeps_header("authorization"), "route {name} keeps credentials");
        let plaid = route.plaid.iter().flat_map(|p| [&p.client_id_binding, &p.secret_binding]);
        let bindings = route.secret_bindings.iter().chain(&route.verify_token_binding).chain(plaid);
        for b in bindings.chain(Some(&route.flow_url_binding).filter(|b| !b.is_empty())) {
            assert!(is_binding_name(b), "route {name}: accepted the binding {b:?}");
        }
    }
    for entra in std::iter::once(&config.entra).chain(config.credentials.values()) {
        for b in entra.bindings() {
            assert!(is_binding_name(b), "accepted the credential binding {b:?}");
        }
    }
    for (name, flow) in &config.flows {
        assert_eq!(&flow.name, name);
        if let Some(c) = &flow.credential {
            assert!(config.credentials.contains_key(c), "flow {name} names an unknown credential {c}");
        }
        let _ = config.credential(flow).token_endpoint();
        assert!(is_binding_name(&flow.url_binding), "flow {name}: accepted the binding {:?}", flow.url_binding);
    }
}

/// A wrangler secret name, as validation defines one.
fn is_binding_name(s: &str) -> bool {
    let mut b = s.bytes();
    s.len() <= 128
        && b.next().is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

fn is_name(s: &str) -> bool {
    let mut b = s.bytes();
    (1..=64).contains(&s.len())
        && b.next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && b.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'_')
}

/// A binding value that is a pasted secret, not a name: no problem may repeat it.
const PASTED: &str = "whsec_Zq8pastedSecretValue==";

/// A valid configuration: one credential, two flows, a single-flow route and
/// a route with rules.
fn base() -> Value {
    json!({
        "entra": {"tenant": "contoso.onmicrosoft.com", "client_id": "5b6f2a10-7c1d-4e8f-9a2b-3c4d5e6f7a81",
                  "client_secret_binding": "ENTRA_CLIENT_SECRET"},
        "credentials": {"partner": {"tenant": "fabrikam.onmicrosoft.com", "client_id": "0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5",
                                    "client_secret_binding": "PARTNER_SECRET"}},
        "flows": {"a": {"url_binding": "FLOW_A"}, "b": {"url_binding": "FLOW_B", "payload": "envelope", "credential": "partner"}},
        "routes": {
            "gh": {"provider": "github", "secret_bindings": ["GH_SECRET"], "flow_url_binding": "FLOW_GH"},
            "routed": {"provider": "stripe", "secret_bindings": ["STRIPE_SECRET"], "default_flow": "a",
                       "rules": [{"event": "invoice.paid", "flows": ["b"]}]},
        },
    })
}

fn setting(u: &mut Unstructured<'_>, section: &str) -> Result<(&'static str, Value)> {
    let binding = |u: &mut Unstructured<'_>| -> Result<Value> {
        Ok(Value::from(*u.choose(&["NAME_OK", PASTED, "", "https://prod.example/flow?sig=abc", "lower_ok"])?))
    };
    let count = |u: &mut Unstructured<'_>| -> Result<Value> {
        Ok(match u.int_in_range(0..=4u8)? {
            0 => Value::from(0),
            1 => Value::from(u.int_in_range(1..=120u64)?),
            2 => Value::from(u.arbitrary::<u64>()?),
            3 => Value::from(-1),
            _ => Value::from("5"),
        })
    };
    Ok(match section {
        "entra" | "credentials" => {
            let key = *u.choose(&[
                "tenant",
                "client_id",
                "client_secret_binding",
                "certificate",
                "cloud",
                "authority",
                "scope",
                "timeout_secs",
                "token_cache_key_binding",
                "colour",
            ])?;
            let v = match key {
                "tenant" => Value::from(*u.choose(&[
                    "contoso.onmicrosoft.com",
                    "common",
                    "x",
                    "1b2c3d4e-0000-4000-8000-0123456789ab",
                    "",
                ])?),
                "client_id" => Value::from(*u.choose(&["5b6f2a10-7c1d-4e8f-9a2b-3c4d5e6f7a81", "not-a-guid"])?),
                "certificate" => json!({"private_key_binding": binding(u)?, "certificate_binding": binding(u)?,
                                        "algorithm": *u.choose(&["RS256", "PS256", "ES256"])?}),
                "cloud" => Value::from(*u.choose(&["public", "gcc", "gcc-high", "dod", "china", "mars"])?),
                "authority" => Value::from(*u.choose(&[
                    "https://login.microsoftonline.us",
                    "http://127.0.0.1:8790",
                    "http://evil.example",
                    "https://a@b.example",
                    "https://[::1]:x",
                    "https://login.microsoftonline.com/tenant",
                ])?),
                "scope" => Value::from(*u.choose(&[
                    "https://service.flow.microsoft.com//.default",
                    "https://service.flow.microsoft.com/.default",
                    "https://a/.default https://b/.default",
                    "x",
                ])?),
                "timeout_secs" => count(u)?,
                _ => binding(u)?,
            };
            (key, v)
        }
        "flows" => {
            let key = *u.choose(&["url_binding", "payload", "credential", "timeout_secs", "colour"])?;
            let v = match key {
                "payload" => Value::from(*u.choose(&["raw", "envelope", "xml"])?),
                "credential" => Value::from(*u.choose(&["partner", "nobody"])?),
                "timeout_secs" => count(u)?,
                _ => binding(u)?,
            };
            (key, v)
        }
        _ => {
            let key = *u.choose(&[
                "provider",
                "secret_bindings",
                "flow_url_binding",
                "max_body_bytes",
                "tolerance_secs",
                "flow_timeout_secs",
                "scheme",
                "verify_token_binding",
                "plaid_client_id_binding",
                "plaid_secret_binding",
                "plaid_environment",
                "sns_emulator_origin",
                "sns_confirm_subscriptions",
                "sns_topic_arns",
                "paypal_webhook_id",
                "paypal_emulator_origin",
                "mode",
                "max_attempts",
                "backoff_base_secs",
                "backoff_max_secs",
                "dedupe",
                "dedupe_window_secs",
                "lost_after_secs",
                "payload",
                "rules",
                "default_flow",
                "envelope_headers",
                "colour",
            ])?;
            let v = match key {
                "provider" => Value::from(*u.choose(&[
                    "github",
                    "stripe",
                    "custom",
                    "plaid",
                    "aws-sns",
                    "paypal",
                    "meta",
                    "asana",
                    "gitlab",
                    "basic-auth",
                    "nope",
                ])?),
                "secret_bindings" => match u.int_in_range(0..=3u8)? {
                    0 => json!([]),
                    1 => json!(["GH_SECRET", "GH_SECRET_NEXT"]),
                    2 => json!([binding(u)?]),
                    _ => binding(u)?,
                },
                "scheme" => Value::Object(crate::hmac::scheme_table(u)?),
                "plaid_environment" => {
                    Value::from(*u.choose(&["production", "sandbox", "http://127.0.0.1:9", "https://evil.example"])?)
                }
                "sns_emulator_origin" | "paypal_emulator_origin" => Value::from(*u.choose(&[
                    "http://127.0.0.1:9",
                    "https://sns.us-east-1.amazonaws.com",
                    "https://evil.example",
                ])?),
                "sns_confirm_subscriptions" => Value::from(u.arbitrary::<bool>()?),
                "sns_topic_arns" => match u.int_in_range(0..=2u8)? {
                    0 => json!([]),
                    1 => json!(["arn:aws:sns:us-east-1:123456789012:orders"]),
                    _ => json!(["arn:aws:sns:*:1:x"]),
                },
                "paypal_webhook_id" => Value::from(*u.choose(&["9XL90610J3647323C", "", "WH-1"])?),
                "mode" => Value::from(*u.choose(&["queue", "direct", "later"])?),
                "dedupe" => Value::from(u.arbitrary::<bool>()?),
                "payload" => Value::from(*u.choose(&["raw", "envelope", "xml"])?),
                "rules" => {
                    Value::Array((0..u.int_in_range(0..=3)?).map(|_| crate::rules::rule(u)).collect::<Result<_>>()?)
                }
                "default_flow" => Value::from(*u.choose(&["a", "b", "gh", "zz"])?),
                "envelope_headers" => json!([*u.choose(&["x-github-event", "authorization", "bad header", "X-A"])?]),
                k if k.ends_with("_binding") => binding(u)?,
                _ => count(u)?,
            };
            (key, v)
        }
    })
}

/// A valid configuration changed by a few settings the input chooses (each
/// right, wrong, or of the wrong type): the same checks as [`config`].
pub fn config_structured(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let mut value = base();
    let edits = u.int_in_range(0..=6).unwrap_or(0);
    for _ in 0..edits {
        let Ok(section) = u.choose(&["entra", "credentials", "flows", "routes", "routes"]) else { break };
        let name = match *section {
            "entra" => None,
            "credentials" => Some(*u.choose(&["partner", "Bad Name"]).unwrap_or(&"partner")),
            "flows" => Some(*u.choose(&["a", "b", "gh", "c"]).unwrap_or(&"a")),
            _ => Some(*u.choose(&["gh", "routed", "new", "Bad Name"]).unwrap_or(&"gh")),
        };
        let Ok((key, v)) = setting(&mut u, section) else { break };
        let remove = u.ratio(1, 6).unwrap_or(false);
        let table = match name {
            None => &mut value[*section],
            Some(n) => &mut value[*section][n],
        };
        if !table.is_object() {
            *table = json!({});
        }
        let t = table.as_object_mut().expect("an object");
        if remove {
            t.remove(key);
        } else {
            t.insert(key.to_owned(), v);
        }
    }
    if edits == 0 {
        // Otherwise every input would only test refusals.
        let base = Config::from_json(&value);
        assert!(base.is_ok(), "the base configuration is refused: {base:?}");
    }
    check(&value);
}
