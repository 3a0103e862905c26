//! The routing rule engine: rule tables (validation, the "can never match"
//! analysis) and their evaluation on events, and the body path syntax.

use arbitrary::{Result, Unstructured};
use flowgate_core::{
    rules::{parse_rules, Decision, EventView, FieldPath, RouteRules, Segment},
    Headers,
};
use serde_json::{json, Map, Value};

use crate::support::any_text;

const FLOWS: [&str; 3] = ["a", "b", "c"];
const WORDS: [&str; 8] = ["push", "bug", "5", "refs/tags/v1", "", "x.y", "é", "true"];
const HEADERS: [&str; 4] = ["x-ev", "X-Ev", "x-kind", "bad header"];
const PATHS: [&str; 12] = ["a", "a.b", "a.0", "a.*", "a.*.b", "/a/b", "/a~1b", "/a/0", "k", "a..b", "/a/*", "l.*"];
const TYPES: [&str; 6] = [
    "application/json",
    "application/x-www-form-urlencoded",
    "text/plain; charset=utf-8",
    "application/xml",
    "application/cloudevents+json",
    "",
];

fn scalar(u: &mut Unstructured<'_>) -> Result<Value> {
    Ok(match u.int_in_range(0..=5u8)? {
        0 => Value::from(*u.choose(&WORDS)?),
        1 => Value::from(u.int_in_range(0..=6i64)?),
        2 => Value::from(5.0),
        3 => Value::from(u.arbitrary::<bool>()?),
        4 => Value::Null,
        _ => Value::from(any_text(u, 12)?),
    })
}

/// A condition as configured: a value, a one-operator table, or something wrong.
fn condition(u: &mut Unstructured<'_>) -> Result<Value> {
    Ok(match u.int_in_range(0..=6u8)? {
        0 | 1 => scalar(u)?,
        2 => json!({ "one_of": (0..u.int_in_range(0..=3)?).map(|_| scalar(u)).collect::<Result<Vec<_>>>()? }),
        3 => json!({ "prefix": *u.choose(&WORDS)? }),
        4 => json!({ "exists": u.arbitrary::<bool>()? }),
        5 => json!({ "equals": scalar(u)? }),
        _ => json!({ *u.choose(&["equals", "prefix", "nope"])?: scalar(u)?, *u.choose(&["exists", "one_of"])?: true }),
    })
}

pub(crate) fn rule(u: &mut Unstructured<'_>) -> Result<Value> {
    let mut m = Map::new();
    if u.ratio(1, 3)? {
        m.insert("name".into(), Value::from(*u.choose(&["r", "s", " "])?));
    }
    if u.arbitrary()? {
        m.insert("event".into(), condition(u)?);
    }
    if u.ratio(1, 3)? {
        let mut hs = Map::new();
        for _ in 0..u.int_in_range(0..=2)? {
            hs.insert((*u.choose(&HEADERS)?).to_owned(), condition(u)?);
        }
        m.insert("headers".into(), Value::Object(hs));
    }
    if u.arbitrary()? {
        let mut fs = Map::new();
        for _ in 0..u.int_in_range(0..=3)? {
            let path = if u.ratio(1, 6)? { any_text(u, 12)? } else { (*u.choose(&PATHS)?).to_owned() };
            fs.insert(path, condition(u)?);
        }
        m.insert("fields".into(), Value::Object(fs));
    }
    if !u.ratio(1, 12)? {
        let flows: Vec<Value> = (0..u.int_in_range(1..=2)?)
            .map(|_| Ok(Value::from(*u.choose(&["a", "b", "c", "a", "zz"])?)))
            .collect::<Result<_>>()?;
        m.insert("flows".into(), Value::Array(flows));
    }
    if u.ratio(1, 20)? {
        m.insert("bogus".into(), Value::from(1));
    }
    Ok(Value::Object(m))
}

/// A small JSON document over the words and paths the rules use.
fn document(u: &mut Unstructured<'_>, depth: u8) -> Result<Value> {
    if depth == 0 || u.ratio(1, 3)? {
        return scalar(u);
    }
    Ok(if u.arbitrary()? {
        let mut m = Map::new();
        for _ in 0..u.int_in_range(0..=3)? {
            m.insert((*u.choose(&["a", "b", "k", "l", "0", "a/b"])?).to_owned(), document(u, depth - 1)?);
        }
        Value::Object(m)
    } else {
        Value::Array((0..u.int_in_range(0..=3)?).map(|_| document(u, depth - 1)).collect::<Result<_>>()?)
    })
}

struct Event {
    event_type: Option<String>,
    headers: Headers,
    content_type: Option<String>,
    body: Vec<u8>,
}

fn event(u: &mut Unstructured<'_>) -> Result<Event> {
    let event_type = if u.ratio(3, 4)? { Some((*u.choose(&WORDS)?).to_owned()) } else { None };
    let mut headers = Headers::new();
    for _ in 0..u.int_in_range(0..=2)? {
        headers.insert(u.choose(&HEADERS)?, *u.choose(&WORDS)?);
    }
    let content_type = if u.ratio(4, 5)? { Some((*u.choose(&TYPES)?).to_owned()) } else { None };
    let body = match u.int_in_range(0..=3u8)? {
        0 | 1 => document(u, 4)?.to_string().into_bytes(),
        2 => {
            let pairs: Vec<(&str, &str)> = (0..u.int_in_range(0..=4)?)
                .map(|_| Ok((*u.choose(&["a", "k", "l"])?, *u.choose(&WORDS)?)))
                .collect::<Result<_>>()?;
            form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish().into_bytes()
        }
        _ => crate::support::bytes(u, 64)?,
    };
    Ok(Event { event_type, headers, content_type, body })
}

fn view(e: &Event) -> EventView<'_> {
    EventView {
        event_type: e.event_type.as_deref(),
        headers: &e.headers,
        content_type: e.content_type.as_deref(),
        body: &e.body,
    }
}

fn matches(rules: &RouteRules, e: &Event) -> bool {
    matches!(rules.evaluate(&view(e)), Decision::Deliver { rule: Some(_), .. })
}

/// Rule tables from the input, validated; on several events: evaluation
/// is deterministic, agrees with `explain`, delivers only to known flows;
/// and a rule reported as unable to ever match is matched by no event that
/// no earlier rule matches.
pub fn rules(data: &[u8]) {
    let _ = rules_inner(&mut Unstructured::new(data));
}

fn rules_inner(u: &mut Unstructured<'_>) -> Result<()> {
    let items: Vec<Value> = (0..u.int_in_range(0..=4)?).map(|_| rule(u)).collect::<Result<_>>()?;
    let default_flow = match u.int_in_range(0..=3u8)? {
        0 => Some(Value::from("a")),
        1 => Some(Value::from("zz")),
        2 if u.ratio(1, 4)? => Some(Value::from(3)),
        _ => None,
    };
    let rules_value = if items.is_empty() && u.arbitrary()? { None } else { Some(Value::Array(items.clone())) };
    let result = parse_rules("r", rules_value.as_ref(), default_flow.as_ref(), &FLOWS);
    let events: Vec<Event> = (0..u.int_in_range(1..=4)?).map(|_| event(u)).collect::<Result<_>>()?;
    match &result {
        Ok(rules) => {
            for e in &events {
                let v = view(e);
                let decision = rules.evaluate(&v);
                assert_eq!(decision, rules.evaluate(&v), "evaluation is not deterministic");
                let traces = rules.explain(&v);
                assert_eq!(traces.len(), rules.rules().len());
                for t in &traces {
                    let _ = t.to_string();
                    if let Some(m) = &t.failed {
                        assert!(m.seen.chars().count() <= 81, "seen is not truncated: {}", m.seen);
                    }
                }
                match (traces.iter().find(|t| t.matched()), decision) {
                    (Some(t), Decision::Deliver { rule: Some(name), flows }) => {
                        assert_eq!(t.rule.name(), name, "explain and evaluate disagree");
                        assert_eq!(t.rule.flows(), flows);
                    }
                    (None, Decision::Deliver { rule: None, flows }) => {
                        assert_eq!(Some(flows[0].as_str()), rules.default_flow());
                    }
                    (None, Decision::Drop) => assert!(rules.default_flow().is_none()),
                    (t, d) => panic!("explain {:?} but evaluate {d:?}", t.map(|t| t.rule.name())),
                }
                if !rules.needs_body() {
                    // No rule looks at the body: another body goes the same way.
                    let other = EventView { body: b"\x00not json", ..v };
                    assert_eq!(rules.evaluate(&other), decision, "a body-blind rule set read the body");
                }
                for f in rules.flows() {
                    assert!(FLOWS.contains(&f), "{f}");
                }
                if let Decision::Deliver { flows, .. } = decision {
                    assert!(!flows.is_empty() && flows.iter().all(|f| FLOWS.contains(&f.as_str())), "{flows:?}");
                }
            }
        }
        Err(problems) => assert!(!problems.is_empty()),
    }

    // The shadowing analysis is sound: each rule on its own, and for every
    // rule reported as unable to match, an event it matches is matched by
    // an earlier rule.
    let alone: Vec<Option<RouteRules>> =
        items.iter().map(|r| parse_rules("r", Some(&Value::Array(vec![r.clone()])), None, &FLOWS).ok()).collect();
    if let Err(problems) = &result {
        for (j, shadowed) in alone.iter().enumerate() {
            let at = format!("routes.r.rules[{j}]");
            let reported = problems.iter().any(|p| p.path == at && p.message.contains("can never match"));
            let Some(shadowed) = shadowed.as_ref().filter(|_| reported) else { continue };
            for e in &events {
                if matches(shadowed, e) {
                    let earlier = alone[..j].iter().flatten().any(|r| matches(r, e));
                    assert!(
                        earlier,
                        "rule {j} was reported as never matching, but it alone matches an event: {:?}",
                        items[j]
                    );
                }
            }
        }
    }
    Ok(())
}

/// Escapes a key for a JSON Pointer.
fn pointer_key(k: &str) -> String {
    k.replace('~', "~0").replace('/', "~1")
}

/// A body path (raw text, up to a NUL byte) against a JSON document (the
/// rest, when it parses; else a fixed one): no panic; the text is kept;
/// a pointer and the dotted form of the same keys are the same path; and a
/// path reaches a value exactly where `serde_json`'s own JSON Pointer does.
pub fn rule_path(data: &[u8]) {
    let (path_bytes, doc_bytes) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let text = String::from_utf8_lossy(path_bytes);
    let doc: Value = serde_json::from_slice(doc_bytes).unwrap_or_else(|_| {
        json!({"a": {"b": 1, "0": "zero"}, "a/b": true, "~": [10, {"c": null}], "l": [{"b": "x"}, {"b": "y"}], "": 0})
    });
    let Ok(path) = FieldPath::parse(&text) else { return };
    assert_eq!(path.as_str(), text);
    assert!(!path.segments().is_empty());
    let keys: Option<Vec<&str>> = path
        .segments()
        .iter()
        .map(|s| match s {
            Segment::Key(k) => Some(k.as_str()),
            Segment::Any => None,
        })
        .collect();
    let Some(keys) = keys else { return };
    let pointer: String = keys.iter().map(|k| format!("/{}", pointer_key(k))).collect();
    let again = FieldPath::parse(&pointer).unwrap_or_else(|e| panic!("{text:?} as the pointer {pointer:?}: {e}"));
    assert_eq!(again, path, "{text:?} and {pointer:?} are different paths");

    // `exists` and `equals` on the document agree with serde_json's pointer.
    let body = doc.to_string();
    let found = doc.pointer(&pointer);
    let rule = |cond: Value| {
        let mut fields = Map::new();
        fields.insert(text.to_string(), cond);
        let r = json!([{ "fields": fields, "flows": ["a"] }]);
        parse_rules("r", Some(&r), None, &FLOWS).unwrap_or_else(|p| panic!("{text:?}: {p:?}"))
    };
    let headers = Headers::new();
    let ev =
        Event { event_type: None, headers, content_type: Some("application/json".into()), body: body.into_bytes() };
    assert_eq!(matches(&rule(json!({"exists": true})), &ev), found.is_some(), "{text:?} in {doc}");
    if let Some(v @ (Value::String(_) | Value::Bool(_))) = found {
        assert!(matches(&rule(v.clone()), &ev), "{text:?} = {v} in {doc}");
    }
}
