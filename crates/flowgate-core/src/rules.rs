//! Edge routing: which of a route's flows get a verified event.
//!
//! Each route may list rules, evaluated in the Worker after verification:
//!
//! ```toml
//! [[vars.FLOWGATE.routes.gh.rules]]
//! name = "pushes"                  # optional; default "rule 1", "rule 2", ...
//! event = "push"                   # the event type, as the provider names it
//! flows = ["deploys"]              # one or more flows (fan-out)
//!
//! [[vars.FLOWGATE.routes.gh.rules]]
//! event = "issues"
//! fields = { "action" = "labeled", "label.name" = "bug" }
//! headers = { "x-github-hook-installation-target-type" = { one_of = ["organization", "repository"] } }
//! flows = ["bugs"]
//! ```
//!
//! **Conditions.** `event` is one condition; `headers` and `fields` map a
//! header name (case-insensitive) or a body path to one condition each. A
//! condition is a plain value (equals) or a table with exactly one operator:
//! `equals = X`, `one_of = [X, ...]`, `prefix = "..."` or `exists = true|false`.
//! The event type and headers are text, so their values must be strings.
//!
//! **Body paths.** A path starting with `/` is a JSON Pointer (RFC 6901, `~1`
//! for `/` and `~0` for `~` in a key). Anything else is dotted: `a.b.0.c`,
//! where a number indexes a list and `*` stands for any element of a list
//! (the condition holds when it holds for at least one element; `exists =
//! false` holds when no element has the field). Keys containing dots need a
//! pointer. Empty segments and `*` in a pointer are configuration errors.
//!
//! **Body values.** The body is read as [`crate::envelope`] reads it, so
//! "JSON" means the same in a rule and in an envelope: a form-encoded body
//! (Slack commands, Twilio) is an object of strings (a repeated key is a list
//! of strings; Slack's `payload` field stays a string); a JSON, `text/plain`
//! or unlabelled body is JSON if it parses; anything else is opaque. `equals`
//! compares JSON values by type (`"5"` is not `5`; `5` equals `5.0`), except in
//! a form, where every value is a string and the condition's value is compared
//! as written (`5` matches `"5"`, `true` matches `"true"`). `prefix` applies to
//! strings only. `exists` is true when the path resolves, to `null` too. A
//! missing field, or a body that is not JSON or a form, fails every condition
//! except `exists = false`.
//!
//! **Order.** A rule matches when all its conditions hold. Rules are tried in
//! order and the first match wins (as in a firewall); its flows get the
//! event. When none matches, the route's `default_flow` gets it, or the
//! event is acknowledged and dropped. The body is parsed at most once, and
//! only when a field condition is reached.
//!
//! **Validation.** [`parse_rules`] reports every problem at once, each with a
//! fix: unknown settings and operators, missing or unknown flows, bad paths,
//! values of the wrong type, and rules that can never match because an
//! earlier rule matches everything they match. Paths index rules from 0, as
//! the rest of the configuration does (`routes.gh.rules[0]` is "rule 1").

use std::{cell::OnceCell, fmt};

use serde_json::{Map, Value};

use crate::{
    config::Problem,
    envelope::{declared_kind, form_object, is_header_name, DeclaredKind},
    headers::Headers,
};

/// The settings a rule may have.
const RULE_KEYS: [&str; 5] = ["name", "event", "headers", "fields", "flows"];
/// The operators of a condition table.
const OPERATORS: [&str; 4] = ["equals", "one_of", "prefix", "exists"];
/// Longest rendering of a seen value in a [`RuleTrace`], in characters.
const SEEN_MAX_CHARS: usize = 80;
/// How to write a body path, for problems.
const PATH_FIX: &str = "write a dotted path such as \"label.name\" or \"commits.0.id\" (* for any element of a list), \
     or a JSON Pointer such as \"/label/name\" (~1 for / and ~0 for ~ inside a key)";

/// One step of a body path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// An object key, or a list index when the key is a number.
    Key(String),
    /// Any element of a list (dotted paths only).
    Any,
}

/// A path into the body, as configured. Two paths are equal when they name
/// the same location (`/a/b` and `a.b`).
#[derive(Debug, Clone)]
pub struct FieldPath {
    text: String,
    segments: Vec<Segment>,
}

impl PartialEq for FieldPath {
    fn eq(&self, other: &Self) -> bool {
        self.segments == other.segments
    }
}

impl Eq for FieldPath {}

impl FieldPath {
    /// Parses a JSON Pointer (`/a/b~1c`) or a dotted path (`a.*.0`).
    ///
    /// # Errors
    /// Why the path is not one, as a phrase to follow "bad path": empty, an
    /// empty segment, a trailing dot, a `~` escape other than `~0`/`~1`, or
    /// `*` in a pointer.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let segments = if let Some(pointer) = text.strip_prefix('/') {
            pointer.split('/').map(pointer_token).collect::<Result<_, _>>()?
        } else if text.is_empty() {
            return Err("the path is empty");
        } else if text.ends_with('.') {
            return Err("it ends with a dot");
        } else {
            text.split('.')
                .map(|s| match s {
                    "" => Err("it has an empty segment (two dots in a row, or a leading dot)"),
                    "*" => Ok(Segment::Any),
                    key => Ok(Segment::Key(key.to_owned())),
                })
                .collect::<Result<_, _>>()?
        };
        Ok(Self { text: text.to_owned(), segments })
    }

    /// The path as configured.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The steps of the path.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Every value the path reaches in `root` (several through `*`).
    fn resolve<'v>(&self, root: &'v Value) -> Vec<&'v Value> {
        let mut found = Vec::new();
        resolve(root, &self.segments, &mut found);
        found
    }
}

fn pointer_token(token: &str) -> Result<Segment, &'static str> {
    match token {
        "" => return Err("it has an empty segment (\"//\", or a trailing /)"),
        "*" => return Err("* (any element) works in dotted paths only; a JSON Pointer names one location"),
        _ => {}
    }
    let mut key = String::with_capacity(token.len());
    let mut chars = token.chars();
    while let Some(c) = chars.next() {
        if c != '~' {
            key.push(c);
            continue;
        }
        match chars.next() {
            Some('0') => key.push('~'),
            Some('1') => key.push('/'),
            _ => return Err("it has a ~ that is not ~0 (for ~) or ~1 (for /)"),
        }
    }
    Ok(Segment::Key(key))
}

/// A list index: digits, without leading zeros (RFC 6901's rule, used for
/// dotted paths too).
fn list_index(key: &str) -> Option<usize> {
    let canonical = key == "0" || !key.starts_with('0');
    if canonical && !key.is_empty() && key.bytes().all(|b| b.is_ascii_digit()) {
        key.parse().ok()
    } else {
        None
    }
}

fn resolve<'v>(value: &'v Value, segments: &[Segment], found: &mut Vec<&'v Value>) {
    let Some((first, rest)) = segments.split_first() else {
        found.push(value);
        return;
    };
    match (first, value) {
        (Segment::Any, Value::Array(items)) => items.iter().for_each(|item| resolve(item, rest, found)),
        (Segment::Key(key), Value::Object(map)) => {
            if let Some(v) = map.get(key) {
                resolve(v, rest, found);
            }
        }
        (Segment::Key(key), Value::Array(items)) => {
            if let Some(v) = list_index(key).and_then(|i| items.get(i)) {
                resolve(v, rest, found);
            }
        }
        _ => {}
    }
}

/// What a condition looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The event type, as the provider names it.
    Event,
    /// A request header (lower-case name); its first value if repeated.
    Header(String),
    /// A path into the body.
    Field(FieldPath),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Event => f.write_str("event"),
            Target::Header(name) => write!(f, "header {name}"),
            Target::Field(path) => write!(f, "field {}", path.text),
        }
    }
}

/// What a condition requires. Values are strings, numbers or booleans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Test {
    /// Equal to this value.
    Equals(Value),
    /// Equal to one of these values.
    OneOf(Vec<Value>),
    /// A string starting with this.
    Prefix(String),
    /// Present (`true`) or absent (`false`).
    Exists(bool),
}

impl Test {
    /// The test on a text (the event type or a header).
    fn on_text(&self, text: Option<&str>) -> bool {
        match (self, text) {
            (Test::Exists(want), t) => t.is_some() == *want,
            (_, None) => false,
            (Test::Equals(c), Some(t)) => c.as_str() == Some(t),
            (Test::OneOf(cs), Some(t)) => cs.iter().any(|c| c.as_str() == Some(t)),
            (Test::Prefix(p), Some(t)) => t.starts_with(p.as_str()),
        }
    }

    /// The test on every value a path reached: any one may satisfy it;
    /// `exists` looks at whether there is any.
    fn on_values(&self, found: &[&Value], form: bool) -> bool {
        match self {
            Test::Exists(want) => found.is_empty() != *want,
            Test::Equals(c) => found.iter().any(|v| same(v, c, form)),
            Test::OneOf(cs) => found.iter().any(|v| cs.iter().any(|c| same(v, c, form))),
            Test::Prefix(p) => found.iter().any(|v| v.as_str().is_some_and(|s| s.starts_with(p.as_str()))),
        }
    }

    /// True when every value passing `self` passes `earlier` too, for certain
    /// (used to find rules that can never match). Conservative: `false`
    /// means "not proven", never "different".
    fn implies(&self, earlier: &Test) -> bool {
        use Test::{Equals, Exists, OneOf, Prefix};
        let starts = |v: &Value, p: &str| v.as_str().is_some_and(|s| s.starts_with(p));
        match (self, earlier) {
            (a, b) if a == b => true,
            (Equals(_) | OneOf(_) | Prefix(_), Exists(true)) => true,
            (Equals(x), OneOf(ys)) => ys.contains(x),
            (OneOf(xs), OneOf(ys)) => xs.iter().all(|x| ys.contains(x)),
            (OneOf(xs), Equals(y)) => xs.iter().all(|x| x == y),
            (Equals(x), Prefix(p)) => starts(x, p),
            (OneOf(xs), Prefix(p)) => xs.iter().all(|x| starts(x, p)),
            (Prefix(q), Prefix(p)) => q.starts_with(p.as_str()),
            _ => false,
        }
    }

    /// "wanted ..." in a trace.
    fn wanted(&self) -> String {
        match self {
            Test::Equals(c) => c.to_string(),
            Test::OneOf(cs) => format!("one of {}", Value::Array(cs.clone())),
            Test::Prefix(p) => format!("a string starting with {}", Value::from(p.as_str())),
            Test::Exists(true) => "it present".to_owned(),
            Test::Exists(false) => "it absent".to_owned(),
        }
    }
}

impl fmt::Display for Test {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Test::Equals(c) => write!(f, "= {c}"),
            Test::OneOf(cs) => write!(f, "one of {}", Value::Array(cs.clone())),
            Test::Prefix(p) => write!(f, "starts with {}", Value::from(p.as_str())),
            Test::Exists(true) => f.write_str("exists"),
            Test::Exists(false) => f.write_str("does not exist"),
        }
    }
}

/// A body value against a condition's value (see the module docs).
fn same(v: &Value, c: &Value, form: bool) -> bool {
    match (v, c) {
        (Value::String(s), Value::Number(n)) if form => *s == n.to_string(),
        (Value::String(s), Value::Bool(b)) if form => *s == b.to_string(),
        (Value::Number(a), Value::Number(b)) if a.is_f64() || b.is_f64() => a.as_f64() == b.as_f64(),
        _ => v == c,
    }
}

/// One condition of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    target: Target,
    test: Test,
}

impl Condition {
    /// What it looks at.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// What it requires.
    pub fn test(&self) -> &Test {
        &self.test
    }

    fn holds(&self, event: &Event<'_, '_>) -> bool {
        match &self.target {
            Target::Event => self.test.on_text(event.view.event_type),
            Target::Header(name) => self.test.on_text(event.view.headers.get(name)),
            Target::Field(path) => match event.body() {
                Body::Opaque => self.test == Test::Exists(false),
                Body::Json(root) => self.test.on_values(&path.resolve(root), false),
                Body::Form(root) => self.test.on_values(&path.resolve(root), true),
            },
        }
    }

    /// What the event has where this condition looks, for traces.
    fn seen(&self, event: &Event<'_, '_>) -> String {
        let text = |t: Option<&str>| t.map_or_else(|| "is missing".to_owned(), |t| format!("= {}", Value::from(t)));
        let seen = match &self.target {
            Target::Event => text(event.view.event_type),
            Target::Header(name) => text(event.view.headers.get(name)),
            Target::Field(path) => match event.body() {
                Body::Opaque => "cannot be read: the body is neither JSON nor form-encoded".to_owned(),
                Body::Json(root) | Body::Form(root) => match path.resolve(root).as_slice() {
                    [] => "is missing".to_owned(),
                    [one] => format!("= {one}"),
                    many => {
                        let all: Vec<String> = many.iter().map(ToString::to_string).collect();
                        format!("= each of [{}]", all.join(", "))
                    }
                },
            },
        };
        truncate(seen)
    }

    /// True when `self` holding proves `earlier` holds.
    fn implies(&self, earlier: &Condition) -> bool {
        self.target == earlier.target && self.test.implies(&earlier.test)
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.target, self.test)
    }
}

fn truncate(mut s: String) -> String {
    if let Some((cut, _)) = s.char_indices().nth(SEEN_MAX_CHARS) {
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// One rule: conditions that must all hold, and the flows that then get the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    position: usize,
    name: String,
    named: bool,
    conditions: Vec<Condition>,
    flows: Vec<String>,
}

impl Rule {
    /// The rule's name (`rule 3` when none is configured).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its place in the route's list, from 1.
    pub fn position(&self) -> usize {
        self.position
    }

    /// Its conditions: the event type first, then headers, then body fields.
    pub fn conditions(&self) -> &[Condition] {
        &self.conditions
    }

    /// The flows that get the events it matches.
    pub fn flows(&self) -> &[String] {
        &self.flows
    }

    /// True for a rule without conditions: it matches every event.
    pub fn is_catch_all(&self) -> bool {
        self.conditions.is_empty()
    }

    fn first_failure(&self, event: &Event<'_, '_>) -> Option<&Condition> {
        self.conditions.iter().find(|c| !c.holds(event))
    }

    /// True when every event `later` matches is matched by `self` too.
    fn covers(&self, later: &Rule) -> bool {
        self.conditions.iter().all(|e| later.conditions.iter().any(|l| l.implies(e)))
    }
}

impl fmt::Display for Rule {
    /// `rule 2 'bugs'`, or `rule 2` when the rule has no name of its own.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.named {
            write!(f, "rule {} '{}'", self.position, self.name)
        } else {
            write!(f, "rule {}", self.position)
        }
    }
}

/// A route's rules and default flow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteRules {
    rules: Vec<Rule>,
    default_flow: Option<String>,
}

/// The verified event, as the rules see it.
#[derive(Debug, Clone, Copy)]
pub struct EventView<'a> {
    /// The event type, as the provider names it ([`crate::verify::Verified::event_type`]).
    pub event_type: Option<&'a str>,
    /// The request headers.
    pub headers: &'a Headers,
    /// The request's `Content-Type`.
    pub content_type: Option<&'a str>,
    /// The verified body.
    pub body: &'a [u8],
}

/// Where an event goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision<'a> {
    /// Send it to these flows.
    Deliver {
        /// The matching rule's name; `None` when it is the default flow.
        rule: Option<&'a str>,
        /// The flows, at least one, none twice.
        flows: &'a [String],
    },
    /// No rule matched and there is no default flow: acknowledge the sender
    /// and drop the event (count and log it as dropped).
    Drop,
}

/// Whether one rule matched an event, and if not, why.
#[derive(Debug, Clone)]
pub struct RuleTrace<'a> {
    /// The rule.
    pub rule: &'a Rule,
    /// The first condition that failed, with what the event had; `None` when
    /// the rule matched.
    pub failed: Option<Miss<'a>>,
}

impl RuleTrace<'_> {
    /// True when every condition held.
    pub fn matched(&self) -> bool {
        self.failed.is_none()
    }
}

/// A failed condition and what the event had there.
#[derive(Debug, Clone)]
pub struct Miss<'a> {
    /// The condition.
    pub condition: &'a Condition,
    /// `= "enhancement"`, `is missing`, ... (at most 80 characters and `…`).
    pub seen: String,
}

impl fmt::Display for RuleTrace<'_> {
    /// `rule 2 'bugs': field label.name = "enhancement", wanted "bug"`, or
    /// `rule 1 'pushes': matched → deploys`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.failed {
            None => write!(f, "{}: matched → {}", self.rule, self.rule.flows.join(", ")),
            Some(m) => {
                write!(f, "{}: {} {}, wanted {}", self.rule, m.condition.target, m.seen, m.condition.test.wanted())
            }
        }
    }
}

/// The body as rules read it (see the module docs).
enum Body {
    Json(Value),
    Form(Value),
    Opaque,
}

#[cfg(test)]
thread_local! {
    /// How many times a body was read (the laziness tests).
    static BODY_READS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn read_body(content_type: Option<&str>, body: &[u8]) -> Body {
    #[cfg(test)]
    BODY_READS.with(|n| n.set(n.get() + 1));
    match declared_kind(content_type) {
        DeclaredKind::Form => Body::Form(form_object(body)),
        DeclaredKind::MaybeJson => serde_json::from_slice(body).map_or(Body::Opaque, Body::Json),
        DeclaredKind::Other => Body::Opaque,
    }
}

/// One evaluation: the event and, once a field condition needs it, its body.
struct Event<'v, 'e> {
    view: &'v EventView<'e>,
    body: OnceCell<Body>,
}

impl<'v, 'e> Event<'v, 'e> {
    fn new(view: &'v EventView<'e>) -> Self {
        Self { view, body: OnceCell::new() }
    }

    fn body(&self) -> &Body {
        self.body.get_or_init(|| read_body(self.view.content_type, self.view.body))
    }
}

impl RouteRules {
    /// No rules: every event goes to `flow` (a route without `rules`).
    pub fn default_only(flow: impl Into<String>) -> Self {
        Self { rules: Vec::new(), default_flow: Some(flow.into()) }
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The flow that gets events no rule matches.
    pub fn default_flow(&self) -> Option<&str> {
        self.default_flow.as_deref()
    }

    /// True when the route has no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Every flow these rules can deliver to, each once, in order of first
    /// mention (the default flow last).
    pub fn flows(&self) -> Vec<&str> {
        let mut all: Vec<&str> = Vec::new();
        for f in self.rules.iter().flat_map(|r| &r.flows).chain(&self.default_flow) {
            if !all.contains(&f.as_str()) {
                all.push(f);
            }
        }
        all
    }

    /// True when some rule looks at the body.
    pub fn needs_body(&self) -> bool {
        self.rules.iter().flat_map(|r| &r.conditions).any(|c| matches!(c.target, Target::Field(_)))
    }

    /// Where `event` goes: the first matching rule's flows, else the default
    /// flow, else [`Decision::Drop`]. The body is parsed at most once, and
    /// only if a field condition is reached.
    pub fn evaluate<'a>(&'a self, event: &EventView<'_>) -> Decision<'a> {
        let event = Event::new(event);
        if let Some(rule) = self.rules.iter().find(|r| r.first_failure(&event).is_none()) {
            return Decision::Deliver { rule: Some(&rule.name), flows: &rule.flows };
        }
        match &self.default_flow {
            Some(flow) => Decision::Deliver { rule: None, flows: std::slice::from_ref(flow) },
            None => Decision::Drop,
        }
    }

    /// Every rule against `event`, each with whether it matched and, if not,
    /// its first failing condition and what the event had there (for
    /// `flowgate route --event-file`). Unlike [`RouteRules::evaluate`] it
    /// goes on past the first match; the first trace that matched is the one
    /// that decides. Seen values are the event's own (header values
    /// included): for operators, not for logs.
    pub fn explain(&self, event: &EventView<'_>) -> Vec<RuleTrace<'_>> {
        let event = Event::new(event);
        self.rules
            .iter()
            .map(|rule| RuleTrace {
                rule,
                failed: rule.first_failure(&event).map(|condition| Miss { condition, seen: condition.seen(&event) }),
            })
            .collect()
    }
}

struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, path: impl Into<String>, message: impl Into<String>, fix: impl Into<String>) {
        self.0.push(Problem { path: path.into(), message: message.into(), fix: fix.into() });
    }
}

/// A key as it appears in a problem's path: bare when TOML would accept it
/// bare, quoted otherwise (`fields."label.name"`).
fn key_path(key: &str) -> String {
    if !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        key.to_owned()
    } else {
        Value::from(key).to_string()
    }
}

/// What the configured flows are, for the fix of an unknown or missing flow.
fn flows_fix(known: &[&str]) -> String {
    if known.is_empty() {
        "no flows are configured: define the flow first".to_owned()
    } else {
        format!("use one of the configured flows: {}", known.join(", "))
    }
}

/// Parses and validates a route's `rules` list and `default_flow` (the JSON
/// form of `[[vars.FLOWGATE.routes.<route>.rules]]` and
/// `routes.<route>.default_flow`). `known_flows` are the flow names the
/// configuration defines. Absent rules give an empty rule set (every event
/// to the default flow, or dropped without one).
///
/// # Errors
/// Every problem found, each with the path inside `[vars.FLOWGATE]` and the
/// fix; the messages are for operators. Values from the configuration are
/// quoted in them (rules hold no secrets).
pub fn parse_rules(
    route: &str,
    rules: Option<&Value>,
    default_flow: Option<&Value>,
    known_flows: &[&str],
) -> Result<RouteRules, Vec<Problem>> {
    let mut p = Problems(Vec::new());
    let base = format!("routes.{}", key_path(route));

    // (1) The default flow.
    let default_at = format!("{base}.default_flow");
    let default_flow = match default_flow {
        None => None,
        Some(Value::String(flow)) if known_flows.contains(&flow.as_str()) => Some(flow.clone()),
        Some(Value::String(flow)) => {
            p.add(&default_at, format!("unknown flow {flow:?}"), flows_fix(known_flows));
            None
        }
        Some(_) => {
            p.add(&default_at, "must be a flow name (a string)", "write default_flow = \"<flow>\"");
            None
        }
    };

    // (2) Each rule on its own.
    let rules_at = format!("{base}.rules");
    let items: &[Value] = match rules {
        None => &[],
        Some(Value::Array(items)) => {
            if items.is_empty() {
                p.add(
                    &rules_at,
                    "is an empty list",
                    format!(
                        "remove rules, or add a [[vars.FLOWGATE.routes.{route}.rules]] table with flows = [\"<flow>\"]"
                    ),
                );
            }
            items
        }
        Some(_) => {
            p.add(
                &rules_at,
                "must be a list of rule tables",
                format!("write each rule as a [[vars.FLOWGATE.routes.{route}.rules]] table with flows = [\"<flow>\"] and its conditions"),
            );
            &[]
        }
    };
    let parsed: Vec<Rule> = items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| parse_rule(&format!("{rules_at}[{i}]"), i + 1, item, known_flows, &mut p))
        .collect();

    // (3) Across rules (only those without problems of their own).
    let rule_at = |r: &Rule| format!("{rules_at}[{}]", r.position - 1);
    for (j, later) in parsed.iter().enumerate() {
        if let Some(same) = parsed[..j].iter().find(|e| e.name == later.name) {
            p.add(
                format!("{}.name", rule_at(later)),
                format!("{} has the same name as rule {}", later, same.position),
                "give each rule its own name",
            );
        }
        if let Some(earlier) = parsed[..j].iter().find(|e| e.covers(later)) {
            let why = if earlier.is_catch_all() {
                format!("{earlier} comes first and has no conditions, so it takes every event")
            } else {
                format!("{earlier} comes first and matches every event this rule matches")
            };
            p.add(
                rule_at(later),
                format!("{later} can never match: {why}"),
                format!("move {later} above {earlier}, or remove it"),
            );
        }
    }
    if let (Some(flow), Some(catch_all)) = (&default_flow, parsed.iter().find(|r| r.is_catch_all())) {
        p.add(
            default_at,
            format!("the default flow {flow:?} is never used: {catch_all} has no conditions, so it takes every event"),
            format!("remove default_flow, or give {catch_all} conditions"),
        );
    }

    if p.0.is_empty() {
        Ok(RouteRules { rules: parsed, default_flow })
    } else {
        Err(p.0)
    }
}

/// One rule; `None` when it has problems (they are added to `p`).
fn parse_rule(at: &str, position: usize, value: &Value, known: &[&str], p: &mut Problems) -> Option<Rule> {
    let Some(table) = value.as_object() else {
        p.add(
            at,
            "must be a table",
            "write the rule as a [[...rules]] table with flows = [\"<flow>\"] and its conditions",
        );
        return None;
    };
    let before = p.0.len();
    for key in table.keys().filter(|k| !RULE_KEYS.contains(&k.as_str())) {
        p.add(
            format!("{at}.{}", key_path(key)),
            "unknown rule setting",
            format!("remove it or use one of: {}", RULE_KEYS.join(", ")),
        );
    }
    let name = match table.get("name") {
        None => None,
        Some(Value::String(name)) if !name.trim().is_empty() => Some(name.clone()),
        Some(_) => {
            p.add(
                format!("{at}.name"),
                "must be a non-empty string",
                format!("write name = \"<what the rule is for>\", or remove it to call the rule \"rule {position}\""),
            );
            None
        }
    };

    let mut conditions = Vec::new();
    if let Some(v) = table.get("event") {
        if let Some(test) = parse_test(&format!("{at}.event"), v, true, p) {
            conditions.push(Condition { target: Target::Event, test });
        }
    }
    match table.get("headers") {
        None => {}
        Some(Value::Object(headers)) => {
            let mut names: Vec<String> = Vec::new();
            for (name, v) in headers {
                let here = format!("{at}.headers.{}", key_path(name));
                let lower = name.to_ascii_lowercase();
                if !is_header_name(name) {
                    p.add(
                        here,
                        format!("{name:?} is not an HTTP header name"),
                        "use the header's name only, e.g. \"x-github-event\"",
                    );
                } else if names.contains(&lower) {
                    p.add(
                        here,
                        format!("header {lower} has a second condition (names are case-insensitive)"),
                        "keep one condition per header",
                    );
                } else if let Some(test) = parse_test(&here, v, true, p) {
                    names.push(lower.clone());
                    conditions.push(Condition { target: Target::Header(lower), test });
                }
            }
        }
        Some(_) => p.add(
            format!("{at}.headers"),
            "must be a table of header conditions",
            "write headers = { \"x-header-name\" = \"value\" }",
        ),
    }
    match table.get("fields") {
        None => {}
        Some(Value::Object(fields)) => {
            for (path, v) in fields {
                let here = format!("{at}.fields.{}", key_path(path));
                match FieldPath::parse(path) {
                    Err(why) => p.add(here, format!("bad path {path:?}: {why}"), PATH_FIX),
                    Ok(path) => {
                        if let Some(test) = parse_test(&here, v, false, p) {
                            conditions.push(Condition { target: Target::Field(path), test });
                        }
                    }
                }
            }
        }
        Some(_) => p.add(
            format!("{at}.fields"),
            "must be a table of body-field conditions",
            "write fields = { \"label.name\" = \"bug\" }",
        ),
    }
    let flows = parse_flows(&format!("{at}.flows"), table.get("flows"), known, p);

    (p.0.len() == before).then(|| Rule {
        position,
        named: name.is_some(),
        name: name.unwrap_or_else(|| format!("rule {position}")),
        conditions,
        flows,
    })
}

fn parse_flows(at: &str, value: Option<&Value>, known: &[&str], p: &mut Problems) -> Vec<String> {
    let example = format!("flows = [\"{}\"]", known.first().copied().unwrap_or("<flow>"));
    let items = match value {
        None => {
            p.add(at, "missing: a rule names the flows that get the events it matches", format!("add {example}"));
            return Vec::new();
        }
        Some(Value::String(flow)) => {
            p.add(at, "must be a list", format!("write flows = [{flow:?}]"));
            return Vec::new();
        }
        Some(Value::Array(items)) if items.is_empty() => {
            p.add(at, "is empty: the rule would send its events nowhere", format!("write {example}"));
            return Vec::new();
        }
        Some(Value::Array(items)) => items,
        Some(_) => {
            p.add(at, "must be a list of flow names", format!("write {example}"));
            return Vec::new();
        }
    };
    let mut flows: Vec<String> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let here = format!("{at}[{i}]");
        match item.as_str() {
            None => p.add(here, "must be a flow name (a string)", "write the flow's name in quotes"),
            Some(flow) if !known.contains(&flow) => p.add(here, format!("unknown flow {flow:?}"), flows_fix(known)),
            Some(flow) if flows.iter().any(|f| f == flow) => {
                p.add(here, format!("flow {flow:?} is listed twice"), "list each flow once");
            }
            Some(flow) => flows.push(flow.to_owned()),
        }
    }
    flows
}

/// One condition: a plain value (equals) or a one-operator table.
/// `text_only` for the event type and headers, which are strings.
fn parse_test(at: &str, value: &Value, text_only: bool, p: &mut Problems) -> Option<Test> {
    match value {
        Value::Object(ops) => parse_operator(at, ops, text_only, p),
        Value::Array(_) => {
            p.add(
                at,
                "a list is not a condition",
                format!("to accept any of several values write {{ one_of = {value} }}"),
            );
            None
        }
        _ => scalar(at, value, text_only, p).map(Test::Equals),
    }
}

fn parse_operator(at: &str, ops: &Map<String, Value>, text_only: bool, p: &mut Problems) -> Option<Test> {
    let ops_list = OPERATORS.join(", ");
    let mut unknown = false;
    for key in ops.keys().filter(|k| !OPERATORS.contains(&k.as_str())) {
        unknown = true;
        p.add(format!("{at}.{}", key_path(key)), "unknown operator", format!("use one of: {ops_list}"));
    }
    let given: Vec<(&String, &Value)> = ops.iter().filter(|(k, _)| OPERATORS.contains(&k.as_str())).collect();
    let (op, v) = match given.as_slice() {
        [one] => *one,
        [] if unknown => return None,
        [] => {
            p.add(
                at,
                "empty condition",
                format!("write exactly one of {ops_list}, e.g. {{ prefix = \"refs/tags/\" }}"),
            );
            return None;
        }
        several => {
            let names: Vec<&str> = several.iter().map(|(k, _)| k.as_str()).collect();
            p.add(
                at,
                format!("several operators ({})", names.join(", ")),
                "keep one: a condition has exactly one operator (to require more, use another rule)",
            );
            return None;
        }
    };
    let here = format!("{at}.{op}");
    let test = match op.as_str() {
        "equals" => scalar(&here, v, text_only, p).map(Test::Equals),
        "one_of" => match v {
            Value::Array(items) if items.is_empty() => {
                p.add(here, "is empty: nothing would match", "list at least one value, e.g. one_of = [\"a\", \"b\"]");
                None
            }
            Value::Array(items) => {
                let values: Vec<Option<Value>> =
                    items.iter().enumerate().map(|(i, x)| scalar(&format!("{here}[{i}]"), x, text_only, p)).collect();
                values.into_iter().collect::<Option<Vec<_>>>().map(Test::OneOf)
            }
            _ => {
                p.add(here, "must be a list", "write one_of = [\"a\", \"b\"]");
                None
            }
        },
        "prefix" => match v {
            Value::String(s) if s.is_empty() => {
                p.add(
                    here,
                    "is empty: it would match every string",
                    "write the text the value starts with, or use exists = true",
                );
                None
            }
            Value::String(s) => Some(Test::Prefix(s.clone())),
            _ => {
                p.add(here, "must be a string", "write prefix = \"refs/tags/\" (prefixes apply to text only)");
                None
            }
        },
        _ => match v {
            Value::Bool(b) => Some(Test::Exists(*b)),
            _ => {
                p.add(here, "must be true or false", "write exists = true (present) or exists = false (absent)");
                None
            }
        },
    };
    if unknown {
        None
    } else {
        test
    }
}

/// A condition's value: a string, or for body fields a number or boolean too.
fn scalar(at: &str, value: &Value, text_only: bool, p: &mut Problems) -> Option<Value> {
    match value {
        Value::String(_) => Some(value.clone()),
        Value::Number(_) | Value::Bool(_) if text_only => {
            p.add(
                at,
                format!("{value} is not text: event types and headers are compared as strings"),
                format!("write it in quotes: \"{value}\""),
            );
            None
        }
        Value::Number(_) | Value::Bool(_) => Some(value.clone()),
        _ => {
            p.add(
                at,
                "must be a string, a number or true/false",
                format!("write one value, or a table with one of {}", OPERATORS.join(", ")),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const FLOWS: [&str; 4] = ["deploys", "bugs", "all", "audit"];
    const FORM: &str = "application/x-www-form-urlencoded";

    /// Rules written as the operator writes them (a `[[rules]]` TOML list).
    fn parse(toml_text: &str, default_flow: Option<&str>) -> Result<RouteRules, Vec<Problem>> {
        let t: toml::Value = toml::from_str(toml_text).expect("test TOML");
        let v = serde_json::to_value(t).unwrap();
        parse_rules("gh", v.get("rules"), default_flow.map(Value::from).as_ref(), &FLOWS)
    }

    fn rules(toml_text: &str) -> RouteRules {
        parse(toml_text, None).unwrap_or_else(|p| panic!("{p:#?}"))
    }

    /// Problems as `path: message` lines.
    fn problems(toml_text: &str, default_flow: Option<&str>) -> Vec<String> {
        let p = parse(toml_text, default_flow).expect_err("should be refused");
        for problem in &p {
            assert!(!problem.fix.is_empty(), "{problem}");
        }
        p.iter().map(|p| format!("{}: {}", p.path, p.message)).collect()
    }

    struct Ev {
        event: Option<&'static str>,
        headers: Headers,
        content_type: Option<&'static str>,
        body: Vec<u8>,
    }

    fn ev(event: Option<&'static str>, body: &str) -> Ev {
        Ev { event, headers: Headers::new(), content_type: Some("application/json"), body: body.as_bytes().to_vec() }
    }

    impl Ev {
        fn view(&self) -> EventView<'_> {
            EventView {
                event_type: self.event,
                headers: &self.headers,
                content_type: self.content_type,
                body: &self.body,
            }
        }
        fn header(mut self, name: &str, value: &str) -> Self {
            self.headers.insert(name, value);
            self
        }
        fn content_type(mut self, ct: Option<&'static str>) -> Self {
            self.content_type = ct;
            self
        }
    }

    /// The rule (by name) that takes the event, `default`, or `drop`.
    fn route(r: &RouteRules, e: &Ev) -> String {
        match r.evaluate(&e.view()) {
            Decision::Deliver { rule: Some(name), .. } => name.to_owned(),
            Decision::Deliver { rule: None, .. } => "default".to_owned(),
            Decision::Drop => "drop".to_owned(),
        }
    }

    /// Does a single-condition rule `cond` (a TOML fragment like
    /// `event = "push"`) match `e`?
    fn holds(cond: &str, e: &Ev) -> bool {
        let r = rules(&format!("[[rules]]\n{cond}\nflows = [\"all\"]"));
        r.evaluate(&e.view()) != Decision::Drop
    }

    #[test]
    fn event_operators() {
        let push = ev(Some("push"), "{}");
        let none = ev(None, "{}");
        for (cond, on_push, on_none) in [
            (r#"event = "push""#, true, false),
            (r#"event = "pus""#, false, false),
            (r#"event = { equals = "push" }"#, true, false),
            (r#"event = { one_of = ["ping", "push"] }"#, true, false),
            (r#"event = { one_of = ["ping"] }"#, false, false),
            (r#"event = { prefix = "pu" }"#, true, false),
            (r#"event = { prefix = "push_" }"#, false, false),
            (r#"event = { exists = true }"#, true, false),
            (r#"event = { exists = false }"#, false, true),
        ] {
            assert_eq!(holds(cond, &push), on_push, "{cond} on push");
            assert_eq!(holds(cond, &none), on_none, "{cond} without event type");
        }
    }

    #[test]
    fn header_operators() {
        let e = ev(None, "{}").header("X-GitHub-Hook-Installation-Target-Type", "repository");
        for (cond, want) in [
            (r#"headers = { "x-github-hook-installation-target-type" = "repository" }"#, true),
            (r#"headers = { "X-GitHub-Hook-Installation-Target-Type" = "repository" }"#, true),
            (r#"headers = { "x-github-hook-installation-target-type" = "Repository" }"#, false),
            (
                r#"headers = { "x-github-hook-installation-target-type" = { one_of = ["organization", "repository"] } }"#,
                true,
            ),
            (r#"headers = { "x-github-hook-installation-target-type" = { prefix = "repo" } }"#, true),
            (r#"headers = { "x-github-hook-installation-target-type" = { exists = true } }"#, true),
            (r#"headers = { "x-github-hook-installation-target-type" = { exists = false } }"#, false),
            // A header the request does not have.
            (r#"headers = { "x-absent" = "repository" }"#, false),
            (r#"headers = { "x-absent" = { one_of = ["repository"] } }"#, false),
            (r#"headers = { "x-absent" = { prefix = "r" } }"#, false),
            (r#"headers = { "x-absent" = { exists = true } }"#, false),
            (r#"headers = { "x-absent" = { exists = false } }"#, true),
        ] {
            assert_eq!(holds(cond, &e), want, "{cond}");
        }
    }

    const ISSUE: &str = r#"{"action": "labeled", "number": 7, "draft": false, "ratio": 0.5, "none": null,
        "label": {"name": "bug"}, "labels": [{"name": "p1"}, {"name": "bug"}], "tags": ["a", "b"],
        "a/b": {"m~n": 1}, "0": "zero-key", "matrix": [[1, 2], [3, [4, 5]]], "commits": [{"id": "c1"}, {"id": "c2", "x": 1}]}"#;

    #[test]
    fn field_operators() {
        let e = ev(None, ISSUE);
        for (cond, want) in [
            (r#"fields = { action = "labeled" }"#, true),
            (r#"fields = { action = { equals = "labeled" } }"#, true),
            (r#"fields = { action = { one_of = ["opened", "labeled"] } }"#, true),
            (r#"fields = { action = { one_of = ["opened", "closed"] } }"#, false),
            (r#"fields = { action = { prefix = "lab" } }"#, true),
            (r#"fields = { action = { prefix = "unlab" } }"#, false),
            (r#"fields = { action = { exists = true } }"#, true),
            (r#"fields = { action = { exists = false } }"#, false),
            (r#"fields = { number = 7 }"#, true),
            (r#"fields = { number = { one_of = [6, 7] } }"#, true),
            (r#"fields = { draft = false }"#, true),
            (r#"fields = { ratio = 0.5 }"#, true),
            (r#"fields = { "label.name" = "bug" }"#, true),
            (r#"fields = { "label.name" = "enhancement" }"#, false),
            // JSON null exists, but equals nothing a condition can name.
            (r#"fields = { none = { exists = true } }"#, true),
            (r#"fields = { none = { exists = false } }"#, false),
            (r#"fields = { none = "null" }"#, false),
            // An object or list is not equal to a scalar.
            (r#"fields = { label = "bug" }"#, false),
            (r#"fields = { tags = "a" }"#, false),
        ] {
            assert_eq!(holds(cond, &e), want, "{cond}");
        }
    }

    #[test]
    fn field_types_are_strict() {
        let e =
            ev(None, r#"{"n": 5, "s": "5", "f": 5.0, "b": true, "t": "true", "big": 18446744073709551615, "neg": -1}"#);
        for (cond, want) in [
            (r#"fields = { n = 5 }"#, true),
            (r#"fields = { n = "5" }"#, false),
            (r#"fields = { s = "5" }"#, true),
            (r#"fields = { s = 5 }"#, false),
            (r#"fields = { f = 5 }"#, true), // numbers compare as numbers
            (r#"fields = { n = 5.0 }"#, true),
            (r#"fields = { b = true }"#, true),
            (r#"fields = { b = "true" }"#, false),
            (r#"fields = { t = true }"#, false),
            (r#"fields = { n = { prefix = "5" } }"#, false), // prefix is for strings
            (r#"fields = { s = { prefix = "5" } }"#, true),
            (r#"fields = { s = { one_of = [5, "6"] } }"#, false),
            (r#"fields = { neg = -1 }"#, true),
        ] {
            assert_eq!(holds(cond, &e), want, "{cond}");
        }
        // The largest u64 is compared exactly when the configuration (JSON) can say it.
        let v = json!([{"fields": {"big": 18_446_744_073_709_551_615_u64}, "flows": ["all"]}]);
        let r = parse_rules("gh", Some(&v), None, &FLOWS).unwrap();
        assert_ne!(r.evaluate(&e.view()), Decision::Drop);
    }

    #[test]
    fn pointer_and_dotted_paths() {
        let e = ev(None, ISSUE);
        for (cond, want) in [
            (r#"fields = { "/label/name" = "bug" }"#, true),
            (r#"fields = { "/a~1b/m~0n" = 1 }"#, true),
            (r#"fields = { "/a/b" = { exists = true } }"#, false),
            (r#"fields = { "/labels/1/name" = "bug" }"#, true),
            (r#"fields = { "/labels/01/name" = { exists = true } }"#, false), // not an index
            (r#"fields = { "/labels/-" = { exists = true } }"#, false),
            (r#"fields = { "labels.1.name" = "bug" }"#, true),
            (r#"fields = { "labels.0.name" = "bug" }"#, false),
            (r#"fields = { "labels.2.name" = { exists = false } }"#, true),
            (r#"fields = { "0" = "zero-key" }"#, true), // a number names a key in an object
            (r#"fields = { "/0" = "zero-key" }"#, true),
            (r#"fields = { "matrix.1.1.0" = 4 }"#, true),
            (r#"fields = { "/matrix/1/1/1" = 5 }"#, true),
            (r#"fields = { "action.x" = { exists = false } }"#, true), // through a string
        ] {
            assert_eq!(holds(cond, &e), want, "{cond}");
        }
    }

    #[test]
    fn wildcard_means_any_element() {
        let e = ev(None, ISSUE);
        for (cond, want) in [
            (r#"fields = { "labels.*.name" = "bug" }"#, true),
            (r#"fields = { "labels.*.name" = "p2" }"#, false),
            (r#"fields = { "labels.*.name" = { one_of = ["p2", "p1"] } }"#, true),
            (r#"fields = { "labels.*.name" = { prefix = "b" } }"#, true),
            (r#"fields = { "tags.*" = "b" }"#, true),
            (r#"fields = { "commits.*.x" = { exists = true } }"#, true),
            (r#"fields = { "commits.*.y" = { exists = false } }"#, true),
            (r#"fields = { "commits.*.x" = { exists = false } }"#, false), // one element has it
            (r#"fields = { "matrix.*.*" = 3 }"#, true),                    // nested lists
            (r#"fields = { "matrix.*.*.*" = 5 }"#, true),
            (r#"fields = { "matrix.*.*" = 4 }"#, false), // 4 is one level deeper
            (r#"fields = { "label.*" = "bug" }"#, false), // * does not enter objects
            (r#"fields = { "action.*" = { exists = false } }"#, true),
        ] {
            assert_eq!(holds(cond, &e), want, "{cond}");
        }
    }

    #[test]
    fn top_level_arrays() {
        let e = ev(None, r#"[{"id": "a"}, {"id": "b", "kind": "x"}]"#);
        for (cond, want) in [
            (r#"fields = { "0.id" = "a" }"#, true),
            (r#"fields = { "/1/id" = "b" }"#, true),
            (r#"fields = { "*.kind" = "x" }"#, true),
            (r#"fields = { "id" = { exists = false } }"#, true),
            (r#"fields = { "2.id" = { exists = true } }"#, false),
        ] {
            assert_eq!(holds(cond, &e), want, "{cond}");
        }
    }

    #[test]
    fn missing_fields_fail_every_operator_but_exists_false() {
        let e = ev(None, ISSUE);
        for (cond, want) in [
            (r#"fields = { "label.color" = "red" }"#, false),
            (r#"fields = { "label.color" = { equals = "red" } }"#, false),
            (r#"fields = { "label.color" = { one_of = ["red"] } }"#, false),
            (r#"fields = { "label.color" = { prefix = "r" } }"#, false),
            (r#"fields = { "label.color" = { exists = true } }"#, false),
            (r#"fields = { "label.color" = { exists = false } }"#, true),
            (r#"fields = { "nope.deeper.still" = { exists = false } }"#, true),
        ] {
            assert_eq!(holds(cond, &e), want, "{cond}");
        }
    }

    #[test]
    fn non_json_bodies_fail_field_conditions_but_exists_false() {
        for e in [
            ev(None, "{not json").content_type(Some("application/json")),
            ev(None, "plain words").content_type(Some("text/plain")),
            ev(None, r#"{"action": "labeled"}"#).content_type(Some("application/xml")), // opaque by its type
            ev(None, "").content_type(None),
        ] {
            for (cond, want) in [
                (r#"fields = { action = "labeled" }"#, false),
                (r#"fields = { action = { one_of = ["labeled"] } }"#, false),
                (r#"fields = { action = { prefix = "l" } }"#, false),
                (r#"fields = { action = { exists = true } }"#, false),
                (r#"fields = { action = { exists = false } }"#, true),
            ] {
                assert_eq!(holds(cond, &e), want, "{cond} on {:?}", String::from_utf8_lossy(&e.body));
            }
        }
        // Text/plain and unlabelled bodies are read as JSON when they are JSON (AWS SNS).
        let sns = ev(None, r#"{"Type": "Notification"}"#).content_type(Some("text/plain; charset=UTF-8"));
        assert!(holds(r#"fields = { Type = "Notification" }"#, &sns));
        assert!(holds(r#"fields = { Type = "Notification" }"#, &sns.content_type(None)));
    }

    #[test]
    fn form_bodies_are_objects_of_strings() {
        let slack =
            ev(Some("command"), "token=x&team_id=T1&command=%2Fdeploy&text=prod+now&count=5&flag=true&to=a&to=b")
                .content_type(Some("application/x-www-form-urlencoded; charset=utf-8"));
        for (cond, want) in [
            (r#"fields = { command = "/deploy" }"#, true),
            (r#"fields = { text = "prod now" }"#, true),
            (r#"fields = { text = { prefix = "prod" } }"#, true),
            (r#"fields = { command = { one_of = ["/deploy", "/rollback"] } }"#, true),
            (r#"fields = { team_id = { exists = true } }"#, true),
            (r#"fields = { user_id = { exists = false } }"#, true),
            (r#"fields = { user_id = "U1" }"#, false),
            // Every form value is a string: numbers and booleans match as written.
            (r#"fields = { count = 5 }"#, true),
            (r#"fields = { count = "5" }"#, true),
            (r#"fields = { count = { one_of = [4, 5] } }"#, true),
            (r#"fields = { flag = true }"#, true),
            // A repeated key is a list.
            (r#"fields = { "to.*" = "b" }"#, true),
            (r#"fields = { "to.0" = "a" }"#, true),
            (r#"fields = { to = "a" }"#, false),
        ] {
            assert_eq!(holds(cond, &slack), want, "{cond}");
        }
        // Slack's interactive `payload` stays a string: no looking inside.
        let interactive = ev(None, "payload=%7B%22type%22%3A%22block_actions%22%7D").content_type(Some(FORM));
        assert!(holds(r#"fields = { payload = { prefix = "{\"type\":\"block_actions\"" } }"#, &interactive));
        assert!(holds(r#"fields = { "payload.type" = { exists = false } }"#, &interactive));
    }

    #[test]
    fn issue_example_push_to_a_bugs_to_b_rest_dropped() {
        let r = rules(
            r#"
            [[rules]]
            name = "pushes"
            event = "push"
            flows = ["deploys"]

            [[rules]]
            name = "bugs"
            event = "issues"
            fields = { action = "labeled", "label.name" = "bug" }
            flows = ["bugs"]
            "#,
        );
        let push = ev(Some("push"), r#"{"ref": "refs/heads/main"}"#);
        assert_eq!(
            r.evaluate(&push.view()),
            Decision::Deliver { rule: Some("pushes"), flows: &["deploys".to_owned()] }
        );
        let bug = ev(Some("issues"), r#"{"action": "labeled", "label": {"name": "bug"}}"#);
        assert_eq!(r.evaluate(&bug.view()), Decision::Deliver { rule: Some("bugs"), flows: &["bugs".to_owned()] });
        for other in [
            ev(Some("issues"), r#"{"action": "labeled", "label": {"name": "enhancement"}}"#),
            ev(Some("issues"), r#"{"action": "opened"}"#),
            ev(Some("star"), "{}"),
            ev(None, "{}"),
        ] {
            assert_eq!(r.evaluate(&other.view()), Decision::Drop);
        }
    }

    #[test]
    fn first_match_wins_then_default_then_drop() {
        let text = r#"
            [[rules]]
            event = "issues"
            fields = { action = "labeled" }
            flows = ["bugs", "audit"]

            [[rules]]
            name = "issues"
            event = "issues"
            flows = ["all"]
        "#;
        let r = rules(text);
        let labeled = ev(Some("issues"), r#"{"action": "labeled"}"#);
        let d = r.evaluate(&labeled.view());
        assert_eq!(d, Decision::Deliver { rule: Some("rule 1"), flows: &["bugs".to_owned(), "audit".to_owned()] });
        assert_eq!(route(&r, &ev(Some("issues"), r#"{"action": "opened"}"#)), "issues");
        assert_eq!(route(&r, &ev(Some("push"), "{}")), "drop");

        let with_default = parse(text, Some("all")).unwrap();
        assert_eq!(with_default.default_flow(), Some("all"));
        let push = ev(Some("push"), "{}");
        assert_eq!(with_default.evaluate(&push.view()), Decision::Deliver { rule: None, flows: &["all".to_owned()] });
        assert_eq!(with_default.flows(), ["bugs", "audit", "all"]);
        assert!(with_default.needs_body());
    }

    #[test]
    fn no_rules_means_default_or_drop() {
        let r = parse_rules("gh", None, Some(&json!("deploys")), &FLOWS).unwrap();
        assert!(r.is_empty());
        let e = ev(Some("anything"), "{}");
        assert_eq!(r.evaluate(&e.view()), Decision::Deliver { rule: None, flows: &["deploys".to_owned()] });
        let only = RouteRules::default_only("deploys");
        assert_eq!(only.evaluate(&e.view()), r.evaluate(&e.view()));
        let none = parse_rules("gh", None, None, &FLOWS).unwrap();
        assert_eq!(none.evaluate(&e.view()), Decision::Drop);
        assert!(none.flows().is_empty());
    }

    #[test]
    fn catch_all_last_rule() {
        let r =
            rules("[[rules]]\nevent = \"push\"\nflows = [\"deploys\"]\n[[rules]]\nname = \"rest\"\nflows = [\"all\"]");
        assert!(r.rules()[1].is_catch_all());
        assert_eq!(route(&r, &ev(Some("star"), "")), "rest");
    }

    #[test]
    fn body_is_parsed_lazily_and_once() {
        let reads = || BODY_READS.with(std::cell::Cell::get);
        // Event-only rules never read the body, so an invalid body still routes.
        let r = rules(
            "[[rules]]\nevent = \"push\"\nflows = [\"deploys\"]\n[[rules]]\nevent = \"issues\"\nflows = [\"bugs\"]",
        );
        assert!(!r.needs_body());
        let before = reads();
        assert_eq!(route(&r, &ev(Some("issues"), "{not json")), "rule 2");
        assert_eq!(reads(), before);

        // Field conditions on several rules: one read for all of them.
        let r = rules(
            r#"
            [[rules]]
            fields = { a = 1 }
            flows = ["all"]
            [[rules]]
            fields = { b = 1 }
            flows = ["all"]
            [[rules]]
            event = "x"
            fields = { c = 1 }
            flows = ["all"]
            "#,
        );
        let before = reads();
        assert_eq!(route(&r, &ev(Some("x"), r#"{"c": 1}"#)), "rule 3");
        assert_eq!(reads(), before + 1);
        // The event is checked before the fields: no read when it fails.
        let r = rules("[[rules]]\nevent = \"x\"\nfields = { c = 1 }\nflows = [\"all\"]");
        let before = reads();
        assert_eq!(route(&r, &ev(Some("y"), r#"{"c": 1}"#)), "drop");
        assert_eq!(reads(), before);
        // explain reads it once too.
        let before = reads();
        let _ = r.explain(&ev(Some("x"), r#"{"c": 2}"#).view());
        assert_eq!(reads(), before + 1);
    }

    #[test]
    fn explain_says_which_condition_failed_and_what_was_seen() {
        let r = rules(
            r#"
            [[rules]]
            name = "pushes"
            event = "push"
            flows = ["deploys"]

            [[rules]]
            name = "bugs"
            event = "issues"
            fields = { "label.name" = "bug" }
            flows = ["bugs"]

            [[rules]]
            headers = { "x-tier" = { one_of = ["gold", "silver"] } }
            flows = ["all"]

            [[rules]]
            fields = { "labels.*.name" = { prefix = "p" }, "none" = { exists = false } }
            flows = ["audit"]

            [[rules]]
            event = { exists = true }
            fields = { "label.color" = { exists = true } }
            flows = ["all", "audit"]
            "#,
        );
        let e = ev(Some("issues"), r#"{"label": {"name": "enhancement"}, "labels": [{"name": "a"}, {"name": "b"}]}"#);
        let lines: Vec<String> = r.explain(&e.view()).iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                r#"rule 1 'pushes': event = "issues", wanted "push""#,
                r#"rule 2 'bugs': field label.name = "enhancement", wanted "bug""#,
                r#"rule 3: header x-tier is missing, wanted one of ["gold","silver"]"#,
                r#"rule 4: field labels.*.name = each of ["a", "b"], wanted a string starting with "p""#,
                r#"rule 5: field label.color is missing, wanted it present"#,
            ]
        );
        let e = ev(Some("issues"), r#"{"label": {"name": "bug", "color": "red"}, "none": 1}"#);
        let traces = r.explain(&e.view());
        assert_eq!(traces.iter().map(RuleTrace::matched).collect::<Vec<_>>(), [false, true, false, false, true]);
        assert_eq!(traces[1].to_string(), "rule 2 'bugs': matched → bugs");
        assert_eq!(
            traces[3].to_string(),
            "rule 4: field labels.*.name is missing, wanted a string starting with \"p\""
        );
        assert_eq!(traces[4].to_string(), "rule 5: matched → all, audit");

        let opaque = ev(Some("issues"), "<xml/>").content_type(Some("application/xml"));
        assert_eq!(
            r.explain(&opaque.view())[1].to_string(),
            "rule 2 'bugs': field label.name cannot be read: the body is neither JSON nor form-encoded, wanted \"bug\""
        );
        let r = rules("[[rules]]\nfields = { none = { exists = false } }\nflows = [\"all\"]");
        let e = ev(None, r#"{"none": null}"#);
        assert_eq!(r.explain(&e.view())[0].to_string(), "rule 1: field none = null, wanted it absent");
    }

    #[test]
    fn explain_truncates_long_values() {
        let r = rules("[[rules]]\nfields = { s = \"short\" }\nflows = [\"all\"]");
        let long = format!(r#"{{"s": "{}"}}"#, "é".repeat(200));
        let trace = &r.explain(&ev(None, &long).view())[0];
        let seen = &trace.failed.as_ref().unwrap().seen;
        assert_eq!(seen.chars().count(), SEEN_MAX_CHARS + 1);
        assert!(seen.starts_with("= \"éé") && seen.ends_with('…'));
    }

    #[test]
    fn paths_parse_and_refuse() {
        let segs = |p: &str| FieldPath::parse(p).map(|p| p.segments);
        let key = |k: &str| Segment::Key(k.to_owned());
        assert_eq!(segs("a.*.0"), Ok(vec![key("a"), Segment::Any, key("0")]));
        assert_eq!(segs("/a~1b/m~0n/~01"), Ok(vec![key("a/b"), key("m~n"), key("~1")]));
        assert_eq!(FieldPath::parse("/a/b").unwrap(), FieldPath::parse("a.b").unwrap());
        for bad in ["", ".", "a.", ".a", "a..b", "/", "/a/", "//a", "/a~", "/a~2", "/*", "/a/*/b"] {
            assert!(FieldPath::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rejects_rules_that_are_not_a_list_of_tables() {
        let p = parse_rules("gh", Some(&json!({"event": "push"})), None, &FLOWS).unwrap_err();
        assert_eq!(p[0].path, "routes.gh.rules");
        let p = parse_rules("gh", Some(&json!([])), None, &FLOWS).unwrap_err();
        assert_eq!((p[0].path.as_str(), p[0].message.as_str()), ("routes.gh.rules", "is an empty list"));
        let p = parse_rules("gh", Some(&json!(["push", {"flows": ["all"]}])), None, &FLOWS).unwrap_err();
        assert_eq!(p.len(), 1);
        assert_eq!((p[0].path.as_str(), p[0].message.as_str()), ("routes.gh.rules[0]", "must be a table"));
        let p = parse_rules("my.route", Some(&json!([{}])), None, &FLOWS).unwrap_err();
        assert_eq!(p[0].path, "routes.\"my.route\".rules[0].flows");
    }

    #[test]
    fn rejects_unknown_rule_settings() {
        assert_eq!(
            problems("[[rules]]\nevnt = \"push\"\nflow = \"all\"\nflows = [\"all\"]", None),
            ["routes.gh.rules[0].evnt: unknown rule setting", "routes.gh.rules[0].flow: unknown rule setting"]
        );
        let p = parse("[[rules]]\nevnt = \"push\"\nflows = [\"all\"]", None).unwrap_err();
        assert_eq!(p[0].fix, "remove it or use one of: name, event, headers, fields, flows");
    }

    #[test]
    fn rejects_missing_empty_unknown_and_duplicate_flows() {
        assert_eq!(
            problems(
                r#"
                [[rules]]
                event = "a"
                [[rules]]
                event = "b"
                flows = []
                [[rules]]
                event = "c"
                flows = "all"
                [[rules]]
                event = "d"
                flows = ["all", "nope", "all", 3]
                "#,
                None
            ),
            [
                "routes.gh.rules[0].flows: missing: a rule names the flows that get the events it matches",
                "routes.gh.rules[1].flows: is empty: the rule would send its events nowhere",
                "routes.gh.rules[2].flows: must be a list",
                "routes.gh.rules[3].flows[1]: unknown flow \"nope\"",
                "routes.gh.rules[3].flows[2]: flow \"all\" is listed twice",
                "routes.gh.rules[3].flows[3]: must be a flow name (a string)",
            ]
        );
        let p = parse("[[rules]]\nflows = [\"nope\"]", None).unwrap_err();
        assert_eq!(p[0].fix, "use one of the configured flows: deploys, bugs, all, audit");
        let p = parse_rules("gh", Some(&json!([{"flows": ["x"]}])), None, &[]).unwrap_err();
        assert_eq!(p[0].fix, "no flows are configured: define the flow first");
    }

    #[test]
    fn rejects_bad_operator_tables() {
        assert_eq!(
            problems(
                r#"
                [[rules]]
                event = {}
                headers = { "x-a" = { prefix = "a", exists = true } }
                fields = { a = { contains = "x" }, b = { one_of = [] }, c = { one_of = "x" }, d = { exists = "yes" }, e = { prefix = 5 }, f = { prefix = "" }, g = { equals = "x", like = "y" } }
                flows = ["all"]
                "#,
                None
            ),
            [
                "routes.gh.rules[0].event: empty condition",
                "routes.gh.rules[0].headers.x-a: several operators (exists, prefix)",
                "routes.gh.rules[0].fields.a.contains: unknown operator",
                "routes.gh.rules[0].fields.b.one_of: is empty: nothing would match",
                "routes.gh.rules[0].fields.c.one_of: must be a list",
                "routes.gh.rules[0].fields.d.exists: must be true or false",
                "routes.gh.rules[0].fields.e.prefix: must be a string",
                "routes.gh.rules[0].fields.f.prefix: is empty: it would match every string",
                "routes.gh.rules[0].fields.g.like: unknown operator",
            ]
        );
    }

    #[test]
    fn rejects_non_text_values_for_events_and_headers() {
        assert_eq!(
            problems(
                r#"
                [[rules]]
                event = 5
                headers = { "x-a" = true, "x-b" = { one_of = ["ok", 2] }, "x-c" = ["a", "b"] }
                fields = { n = [1, 2], m = { one_of = [{ x = 1 }] } }
                flows = ["all"]
                "#,
                None
            ),
            [
                "routes.gh.rules[0].event: 5 is not text: event types and headers are compared as strings",
                "routes.gh.rules[0].headers.x-a: true is not text: event types and headers are compared as strings",
                "routes.gh.rules[0].headers.x-b.one_of[1]: 2 is not text: event types and headers are compared as strings",
                "routes.gh.rules[0].headers.x-c: a list is not a condition",
                "routes.gh.rules[0].fields.m.one_of[0]: must be a string, a number or true/false",
                "routes.gh.rules[0].fields.n: a list is not a condition",
            ]
        );
        let p = parse("[[rules]]\nevent = 5\nflows = [\"all\"]", None).unwrap_err();
        assert_eq!(p[0].fix, "write it in quotes: \"5\"");
        let p = parse("[[rules]]\nfields = { n = [1, 2] }\nflows = [\"all\"]", None).unwrap_err();
        assert_eq!(p[0].fix, "to accept any of several values write { one_of = [1,2] }");
    }

    #[test]
    fn rejects_bad_paths_and_header_names() {
        assert_eq!(
            problems(
                r#"
                [[rules]]
                headers = { "x a" = "1", "X-Dup" = "1", "x-dup" = "2" }
                fields = { "" = 1, "a..b" = 1, "a." = 1, "/a~2" = 1, "/a/*" = 1, "/a//b" = 1 }
                flows = ["all"]
                "#,
                None
            ),
            [
                "routes.gh.rules[0].headers.\"x a\": \"x a\" is not an HTTP header name",
                "routes.gh.rules[0].headers.x-dup: header x-dup has a second condition (names are case-insensitive)",
                "routes.gh.rules[0].fields.\"\": bad path \"\": the path is empty",
                "routes.gh.rules[0].fields.\"/a/*\": bad path \"/a/*\": * (any element) works in dotted paths only; a JSON Pointer names one location",
                "routes.gh.rules[0].fields.\"/a//b\": bad path \"/a//b\": it has an empty segment (\"//\", or a trailing /)",
                "routes.gh.rules[0].fields.\"/a~2\": bad path \"/a~2\": it has a ~ that is not ~0 (for ~) or ~1 (for /)",
                "routes.gh.rules[0].fields.\"a.\": bad path \"a.\": it ends with a dot",
                "routes.gh.rules[0].fields.\"a..b\": bad path \"a..b\": it has an empty segment (two dots in a row, or a leading dot)",
            ]
        );
        let p = parse("[[rules]]\nfields = { \"a..b\" = 1 }\nflows = [\"all\"]", None).unwrap_err();
        assert_eq!(p[0].fix, PATH_FIX);
        assert_eq!(
            problems("[[rules]]\nheaders = \"x\"\nfields = [1]\nflows = [\"all\"]", None),
            [
                "routes.gh.rules[0].headers: must be a table of header conditions",
                "routes.gh.rules[0].fields: must be a table of body-field conditions",
            ]
        );
    }

    #[test]
    fn rejects_bad_and_duplicate_names() {
        assert_eq!(
            problems(
                "[[rules]]\nname = \"\"\nflows = [\"all\"]\n[[rules]]\nname = 3\nevent = \"a\"\nflows = [\"all\"]",
                None
            ),
            [
                "routes.gh.rules[0].name: must be a non-empty string",
                "routes.gh.rules[1].name: must be a non-empty string"
            ]
        );
        assert_eq!(
            problems(
                "[[rules]]\nname = \"x\"\nevent = \"a\"\nflows = [\"all\"]\n[[rules]]\nname = \"x\"\nevent = \"b\"\nflows = [\"all\"]",
                None
            ),
            ["routes.gh.rules[1].name: rule 2 'x' has the same name as rule 1"]
        );
    }

    #[test]
    fn rejects_rules_after_a_catch_all() {
        assert_eq!(
            problems("[[rules]]\nname = \"all\"\nflows = [\"all\"]\n[[rules]]\nevent = \"push\"\nflows = [\"deploys\"]", None),
            ["routes.gh.rules[1]: rule 2 can never match: rule 1 'all' comes first and has no conditions, so it takes every event"]
        );
        let p = parse(
            "[[rules]]\nname = \"all\"\nflows = [\"all\"]\n[[rules]]\nevent = \"push\"\nflows = [\"deploys\"]",
            None,
        )
        .unwrap_err();
        assert_eq!(p[0].fix, "move rule 2 above rule 1 'all', or remove it");
    }

    #[test]
    fn rejects_rules_covered_by_an_earlier_rule() {
        let covered = |earlier: &str, later: &str| {
            parse(&format!("[[rules]]\n{earlier}\nflows = [\"all\"]\n[[rules]]\n{later}\nflows = [\"bugs\"]"), None)
                .err()
                .map(|p| (p[0].path.clone(), p[0].message.clone()))
        };
        let msg = (
            "routes.gh.rules[1]".to_owned(),
            "rule 2 can never match: rule 1 comes first and matches every event this rule matches".to_owned(),
        );
        for (earlier, later) in [
            (r#"event = "issues""#, r#"event = "issues""#),
            (r#"event = "issues""#, "event = \"issues\"\nfields = { action = \"labeled\" }"),
            (r#"fields = { "label.name" = "bug" }"#, r#"fields = { "/label/name" = "bug", x = 1 }"#),
            (r#"headers = { "X-A" = "1" }"#, r#"headers = { "x-a" = "1", "x-b" = "2" }"#),
            (r#"event = { one_of = ["a", "b"] }"#, r#"event = "a""#),
            (r#"event = { one_of = ["a", "b"] }"#, r#"event = { one_of = ["b", "a"] }"#),
            (r#"event = { prefix = "issue" }"#, r#"event = "issues""#),
            (r#"event = { prefix = "issue" }"#, r#"event = { prefix = "issues" }"#),
            (r#"event = { prefix = "a" }"#, r#"event = { one_of = ["ab", "ac"] }"#),
            (r#"event = { exists = true }"#, r#"event = { prefix = "a" }"#),
            (r#"fields = { a = { exists = true } }"#, r#"fields = { a = 1 }"#),
            (r#"fields = { a = { exists = false } }"#, r#"fields = { a = { exists = false }, b = 2 }"#),
        ] {
            assert_eq!(covered(earlier, later), Some(msg.clone()), "{earlier} / {later}");
        }
        // Not provably covered: both rules stay.
        for (earlier, later) in [
            (r#"event = "issues""#, r#"event = "push""#),
            ("event = \"issues\"\nfields = { action = \"labeled\" }", r#"event = "issues""#),
            (r#"event = "a""#, r#"event = { one_of = ["a", "b"] }"#),
            (r#"fields = { a = 5 }"#, r#"fields = { a = "5" }"#),
            (r#"fields = { a = { prefix = "5" } }"#, r#"fields = { a = 5 }"#),
            (r#"fields = { a = { exists = false } }"#, r#"fields = { a = 1 }"#),
            (r#"fields = { "a.b" = 1 }"#, r#"fields = { "a.*" = 1 }"#),
            (r#"headers = { "x-a" = "1" }"#, r#"fields = { "x-a" = "1" }"#),
        ] {
            assert_eq!(covered(earlier, later), None, "{earlier} / {later}");
        }
    }

    #[test]
    fn rejects_bad_default_flows() {
        let p = parse_rules("gh", None, Some(&json!("nope")), &FLOWS).unwrap_err();
        assert_eq!(
            (p[0].path.as_str(), p[0].message.as_str(), p[0].fix.as_str()),
            (
                "routes.gh.default_flow",
                "unknown flow \"nope\"",
                "use one of the configured flows: deploys, bugs, all, audit"
            )
        );
        let p = parse_rules("gh", None, Some(&json!(["all"])), &FLOWS).unwrap_err();
        assert_eq!(p[0].message, "must be a flow name (a string)");
        // A catch-all rule leaves nothing for the default flow.
        assert_eq!(
            problems("[[rules]]\nevent = \"push\"\nflows = [\"deploys\"]\n[[rules]]\nflows = [\"all\"]", Some("audit")),
            ["routes.gh.default_flow: the default flow \"audit\" is never used: rule 2 has no conditions, so it takes every event"]
        );
    }

    #[test]
    fn collects_every_problem_at_once() {
        let p = problems(
            r#"
            [[rules]]
            event = 1
            flows = ["nope"]
            [[rules]]
            fields = { "a..b" = 1 }
            [[rules]]
            colour = "red"
            flows = ["all"]
            "#,
            Some("missing"),
        );
        assert_eq!(p.len(), 6, "{p:#?}");
    }
}
