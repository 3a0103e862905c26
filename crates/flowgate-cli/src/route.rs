//! `flowgate route <route> --event-file FILE`: a dry run of a route's rules
//! on a captured event. It shows how each rule judged the event, which flows
//! get it (or that it is dropped), and what each of them would receive —
//! without checking the signature and without sending anything.
//!
//! The file is either a **capture document**, a JSON object with `headers`
//! (an object of strings, or lists of strings) and one of `body` (a string is
//! the body text verbatim; any other JSON is the body, written compactly:
//! its whitespace removed, keys and numbers left exactly as written) or
//! `body_base64`, with an optional `content_type` — the shape of a dead
//! letter from the Worker's admin API, so a dead letter can be fed back as
//! it is — or **any other file**, which is the body byte for byte; then
//! `--header` gives the headers. `--event` replaces the event type.
//!
//! The event type and delivery id are read as the Worker reads them after
//! verification ([`flowgate_core::verify::labels`], the same per-sender code).
//! A signed setup handshake (GitHub's `ping`, Slack's `url_verification`,
//! ...), which the Worker answers itself, is reported as such.

use std::{path::PathBuf, process::ExitCode};

use anyhow::{bail, Context as _};
use base64::{engine::general_purpose::STANDARD, Engine as _};
use flowgate_core::{
    config::{Config, Payload},
    envelope::{self, EnvelopeMeta},
    rules::{Decision, EventView},
    verify, Headers,
};
use serde_json::{json, Map, Value};

use crate::check::{find_route, read_config};

/// How much of a raw body the report shows, in characters.
const PREVIEW_CHARS: usize = 200;
/// The `flowgate_id` of a dry run's envelopes.
const DRY_RUN_ID: &str = "dry-run";

/// Arguments of `flowgate route`.
#[derive(clap::Args, Debug)]
pub struct RouteArgs {
    /// The route (a `[vars.FLOWGATE.routes.<name>]` table).
    pub route: String,
    /// The captured event: a capture document ({"headers": {..}, "body": .. or "body_base64": ".."},
    /// as the admin API returns a dead letter), or a file that is the body itself.
    #[arg(long)]
    pub event_file: PathBuf,
    /// The wrangler configuration.
    #[arg(long, default_value = "wrangler.toml")]
    pub config: PathBuf,
    /// Use `[env.NAME]` instead of the top level.
    #[arg(long)]
    pub env: Option<String>,
    /// A request header, `Name: value`; repeat. Replaces the capture's header of that name.
    #[arg(long = "header", short = 'H')]
    pub headers: Vec<String>,
    /// The event type, instead of the one the request names.
    #[arg(long)]
    pub event: Option<String>,
    /// Read the file as the body even when it looks like a capture document.
    #[arg(long)]
    pub raw: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// A captured request, ready for the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    /// Request headers, in order (names as written).
    pub headers: Vec<(String, String)>,
    /// The body, byte for byte.
    pub body: Vec<u8>,
    /// What was assumed while reading it, for the report.
    pub notes: Vec<String>,
}

/// Reads an event file (see the module docs); `raw` forces "the file is the
/// body"; `extra` are `--header` values, which replace the capture's headers
/// of the same name.
///
/// # Errors
/// A capture document with a malformed field, or a header that is not `Name: value`.
pub fn read_capture(file: &[u8], raw: bool, extra: &[String]) -> anyhow::Result<Capture> {
    let document = if raw { None } else { capture_document(file) };
    let mut capture = match document {
        Some(doc) => from_document(&doc, file)?,
        None => Capture { headers: Vec::new(), body: file.to_vec(), notes: Vec::new() },
    };
    for line in extra {
        let Some((name, value)) = line.split_once(':') else { bail!("--header {line:?} is not `Name: value`") };
        let name = name.trim();
        capture.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        capture.headers.push((name.to_owned(), value.trim().to_owned()));
    }
    Ok(capture)
}

/// The file as a capture document: a JSON object with an object `headers`
/// and a `body` or `body_base64`.
fn capture_document(file: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice::<Value>(file) {
        Ok(Value::Object(doc))
            if doc.get("headers").is_some_and(Value::is_object)
                && (doc.contains_key("body") || doc.contains_key("body_base64")) =>
        {
            Some(doc)
        }
        _ => None,
    }
}

fn from_document(doc: &Map<String, Value>, file: &[u8]) -> anyhow::Result<Capture> {
    let mut notes = Vec::new();
    let mut headers = Vec::new();
    for (name, value) in doc.get("headers").and_then(Value::as_object).into_iter().flatten() {
        match value {
            Value::String(v) => headers.push((name.clone(), v.clone())),
            Value::Array(values) if values.iter().all(Value::is_string) => {
                headers.extend(values.iter().filter_map(Value::as_str).map(|v| (name.clone(), v.to_owned())));
            }
            _ => bail!("the capture's header {name:?} is not a string (or a list of strings)"),
        }
    }
    let (body, json_body) = match (doc.get("body"), doc.get("body_base64")) {
        (Some(_), Some(_)) => bail!("the capture has both body and body_base64: keep one"),
        (Some(Value::String(text)), None) => (text.as_bytes().to_vec(), false),
        (Some(value), None) => {
            // The body as written in the file, minus whitespace: parsing it and
            // writing it back would sort its keys and round big numbers.
            let text = std::str::from_utf8(file).ok().and_then(|t| member_text(t, "body"));
            let compact = match text {
                Some(t) => minify(t).into_bytes(),
                None => serde_json::to_vec(value)?,
            };
            (compact, true)
        }
        (None, Some(Value::String(b64))) => {
            (STANDARD.decode(b64.trim()).context("the capture's body_base64 is not base64")?, false)
        }
        (None, Some(_)) => bail!("the capture's body_base64 is not a string"),
        (None, None) => unreachable!("a capture document has a body (capture_document checks)"),
    };
    let has_type = headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("content-type"));
    match doc.get("content_type") {
        Some(Value::String(ct)) if !has_type => headers.push(("content-type".to_owned(), ct.clone())),
        Some(Value::String(_) | Value::Null) | None => {
            if !has_type && json_body {
                headers.push(("content-type".to_owned(), "application/json".to_owned()));
                notes.push("content type assumed: application/json (the capture's body is JSON and names none)".into());
            }
        }
        Some(_) => bail!("the capture's content_type is not a string"),
    }
    Ok(Capture { headers, body, notes })
}

/// The index just past the JSON string that starts at `start` (a `"`).
fn string_end(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    loop {
        match b.get(i)? {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
}

/// The index just past the JSON value that starts at `start`.
fn value_end(b: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = start;
    loop {
        match *b.get(i)? {
            b'"' => {
                i = string_end(b, i)?;
                if depth == 0 {
                    return Some(i);
                }
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth == 0 => return Some(i),
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            c if depth == 0 && (c == b',' || c.is_ascii_whitespace()) => return Some(i),
            _ => {}
        }
        i += 1;
    }
}

/// The text of the top-level member `key` of the JSON object `json`, as
/// written (the first one, if the key is repeated). `json` must be valid JSON.
fn member_text<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    // Only ASCII bytes are looked at, and UTF-8 never hides one inside a
    // multi-byte character, so every index found is a character boundary.
    let b = json.as_bytes();
    let skip = |mut i: usize| {
        while b.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        i
    };
    let mut i = skip(0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    loop {
        i = skip(i);
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = string_end(b, i)?;
        let name: String = serde_json::from_str(&json[i..key_end]).ok()?;
        i = skip(key_end);
        if b.get(i) != Some(&b':') {
            return None;
        }
        let start = skip(i + 1);
        let end = value_end(b, start)?;
        if name == key {
            return Some(&json[start..end]);
        }
        i = skip(end);
        if b.get(i) != Some(&b',') {
            return None;
        }
        i += 1;
    }
}

/// JSON text without the whitespace between tokens.
fn minify(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_ascii_whitespace() {
            out.push(c);
        }
    }
    out
}

/// How one rule judged the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleOutcome {
    /// Its place, from 1.
    pub position: usize,
    /// Its name (`rule 3` when it has none).
    pub name: String,
    /// The flows it names.
    pub flows: Vec<String>,
    /// `None` when it matched; else the first failing condition and what the event had there.
    pub failed: Option<(String, String)>,
    /// The trace line, `rule 2 'bugs': matched → bugs`.
    pub line: String,
}

/// Where the event goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A sender handshake (`github-ping`, `slack-url-verification`): the
    /// Worker answers it itself and forwards nothing; rules are not consulted.
    Handshake(String),
    /// To these flows, by this rule (`None`: the default flow).
    Deliver {
        /// The deciding rule's name and its label (`rule 2 'bugs'`).
        rule: Option<(String, String)>,
        /// The flows.
        flows: Vec<String>,
    },
    /// Acknowledged and dropped.
    Drop,
}

/// What one flow would receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The flow.
    pub flow: String,
    /// Its payload shape.
    pub payload: Payload,
    /// Its named credential (`None`: `[vars.FLOWGATE.entra]`).
    pub credential: Option<String>,
    /// The tenant its token is for.
    pub tenant: String,
    /// The secret holding its trigger URL.
    pub url_binding: String,
    /// The content type it would be sent with.
    pub content_type: Option<String>,
    /// The bytes it would be sent.
    pub bytes: Vec<u8>,
}

/// A dry run's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DryRun {
    /// The route.
    pub route: String,
    /// Its provider's name.
    pub provider: String,
    /// Its provider's display name.
    pub provider_title: String,
    /// The event type the rules saw.
    pub event_type: Option<String>,
    /// True when it came from `--event`.
    pub event_forced: bool,
    /// The delivery id, as the Worker reads it.
    pub delivery_id: Option<String>,
    /// The request's content type.
    pub content_type: Option<String>,
    /// The body's size.
    pub body_bytes: usize,
    /// Every rule, in order (empty for a single-flow route).
    pub rules: Vec<RuleOutcome>,
    /// The decision.
    pub outcome: Outcome,
    /// What each target flow would receive, in the decision's order.
    pub deliveries: Vec<Delivery>,
    /// Assumptions made on the way.
    pub notes: Vec<String>,
}

/// Runs `route`'s rules on `capture` as the Worker would after verifying
/// it (the signature is not checked), at `now` (Unix seconds, for the
/// envelope's `received_at`).
///
/// # Errors
/// An unknown route.
pub fn dry_run(
    config: &Config,
    route: &str,
    capture: &Capture,
    event: Option<&str>,
    now: u64,
) -> anyhow::Result<DryRun> {
    let route = find_route(config, route)?;
    let headers: Headers = capture.headers.iter().map(|(n, v)| (n.as_str(), v.clone())).collect();
    let labels = verify::labels(&route.scheme, &headers, &capture.body);
    let event_type = event.map(str::to_owned).or(labels.event_type);
    let content_type = headers.get("content-type");
    let view = EventView { event_type: event_type.as_deref(), headers: &headers, content_type, body: &capture.body };

    let rules = route
        .rules
        .explain(&view)
        .iter()
        .map(|t| RuleOutcome {
            position: t.rule.position(),
            name: t.rule.name().to_owned(),
            flows: t.rule.flows().to_vec(),
            failed: t.failed.as_ref().map(|m| (m.condition.to_string(), m.seen.clone())),
            line: t.to_string(),
        })
        .collect();
    // The Worker answers handshakes before the rules; they are still shown.
    let handshake = verify::handshake_name(route.provider, &route.scheme, &headers, &capture.body);
    let (outcome, targets) = match (handshake, route.rules.evaluate(&view)) {
        (Some(name), _) => (Outcome::Handshake(name), &[][..]),
        (None, Decision::Deliver { rule, flows }) => {
            let rule = rule.map(|name| {
                let label = route.rules.rules().iter().find(|r| r.name() == name).map(ToString::to_string);
                (name.to_owned(), label.unwrap_or_else(|| name.to_owned()))
            });
            (Outcome::Deliver { rule, flows: flows.to_vec() }, flows)
        }
        (None, Decision::Drop) => (Outcome::Drop, &[][..]),
    };

    let meta = EnvelopeMeta {
        route: &route.name,
        provider: route.provider.name,
        event_type: event_type.as_deref(),
        delivery_id: labels.delivery_id.as_deref(),
        flowgate_id: DRY_RUN_ID,
        received_at_unix: now,
    };
    let deliveries = targets
        .iter()
        .filter_map(|name| config.flows.get(name))
        .map(|flow| {
            let (content_type, bytes) = match flow.payload {
                Payload::Raw => (content_type.map(str::to_owned), capture.body.clone()),
                Payload::Envelope => (
                    Some("application/json".to_owned()),
                    envelope::build(&meta, &route.envelope, &headers, content_type, &capture.body),
                ),
            };
            Delivery {
                flow: flow.name.clone(),
                payload: flow.payload,
                credential: flow.credential.clone(),
                tenant: config.credential(flow).tenant.clone(),
                url_binding: flow.url_binding.clone(),
                content_type,
                bytes,
            }
        })
        .collect();

    Ok(DryRun {
        route: route.name.clone(),
        provider: route.provider.name.to_owned(),
        provider_title: route.provider.title.to_owned(),
        event_type,
        event_forced: event.is_some(),
        delivery_id: labels.delivery_id,
        content_type: content_type.map(str::to_owned),
        body_bytes: capture.body.len(),
        rules,
        outcome,
        deliveries,
        notes: capture.notes.clone(),
    })
}

/// Re-indents JSON text without parsing its values, so numbers and strings
/// are shown exactly as they would be sent (a 64-bit id stays as written).
fn pretty_json(text: &str, margin: &str) -> String {
    let mut out = String::from(margin);
    let mut depth = 0usize;
    let (mut in_string, mut escaped) = (false, false);
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.push_str(margin);
        out.push_str(&"  ".repeat(depth));
    };
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                while chars.peek().is_some_and(|n| n.is_ascii_whitespace()) {
                    chars.next();
                }
                out.push(c);
                let close = if c == '{' { '}' } else { ']' };
                if chars.peek() == Some(&close) {
                    out.push(close);
                    chars.next();
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_ascii_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

/// The first [`PREVIEW_CHARS`] characters of a UTF-8 body, control
/// characters escaped (a body must not drive the terminal); `None` when it
/// is not UTF-8.
fn preview(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == PREVIEW_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() && c != '\n' && c != '\t' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Some(out)
}

impl DryRun {
    /// The report as text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut line = |s: &str| {
            out.push_str(s);
            out.push('\n');
        };
        line(&format!(
            "flowgate route {}: a dry run ({}). The signature is NOT checked; nothing is sent.",
            self.route, self.provider_title
        ));
        line("");
        let event = match (&self.event_type, self.event_forced) {
            (Some(e), true) => format!("{e} (given with --event)"),
            (Some(e), false) => format!("{e} (from the request, as {} names it)", self.provider),
            (None, _) => format!("(none: the request names none, as {} reads it)", self.provider),
        };
        line(&format!("event type:   {event}"));
        line(&format!("delivery id:  {}", self.delivery_id.as_deref().unwrap_or("(none)")));
        line(&format!(
            "body:         {} bytes, {}",
            self.body_bytes,
            self.content_type.as_deref().unwrap_or("no content type")
        ));
        for note in &self.notes {
            line(&format!("note:         {note}"));
        }
        line("");
        if self.rules.is_empty() {
            line("rules: none");
        } else {
            line("rules (the first that matches decides):");
            for r in &self.rules {
                line(&format!("  {}", r.line));
            }
        }
        line("");
        match &self.outcome {
            Outcome::Deliver { rule: Some((_, label)), flows } => {
                line(&format!("decision: {label} → {}", flows.join(", ")));
            }
            Outcome::Deliver { rule: None, flows } if self.rules.is_empty() => {
                line(&format!("decision: every event → {}", flows.join(", ")));
            }
            Outcome::Deliver { rule: None, flows } => {
                line(&format!("decision: no rule matched → default flow {}", flows.join(", ")));
            }
            Outcome::Drop => {
                line("decision: dropped: no rule matched and the route has no default_flow");
                line("          (the Worker acknowledges the sender and delivers nothing)");
            }
            Outcome::Handshake(name) => {
                line(&format!("decision: a handshake ({name}): the Worker answers it itself and forwards nothing"));
            }
        }
        for d in &self.deliveries {
            let token = match &d.credential {
                Some(c) => format!("credential {c}, tenant {}", d.tenant),
                None => format!("[vars.FLOWGATE.entra], tenant {}", d.tenant),
            };
            let what = match d.payload {
                Payload::Raw => "the raw body",
                Payload::Envelope => "an envelope",
            };
            line("");
            line(&format!(
                "{} would receive {what} (payload = \"{}\"; token: {token}; trigger URL: secret {}):",
                d.flow,
                d.payload.as_str(),
                d.url_binding
            ));
            match d.payload {
                Payload::Envelope => line(&pretty_json(&String::from_utf8_lossy(&d.bytes), "  ")),
                Payload::Raw => {
                    line(&format!(
                        "  {}, {} bytes",
                        d.content_type.as_deref().unwrap_or("no content type"),
                        d.bytes.len()
                    ));
                    match preview(&d.bytes) {
                        Some(p) if p.is_empty() => {}
                        Some(p) => {
                            for l in p.lines() {
                                line(&format!("  {l}"));
                            }
                        }
                        None => line("  (not UTF-8 text: not shown)"),
                    }
                }
            }
        }
        out
    }

    /// The report as JSON.
    pub fn to_json(&self) -> Value {
        let rules: Vec<Value> = self
            .rules
            .iter()
            .map(|r| {
                json!({
                    "position": r.position,
                    "name": r.name,
                    "flows": r.flows,
                    "matched": r.failed.is_none(),
                    "failed": r.failed.as_ref().map(|(condition, seen)| json!({"condition": condition, "seen": seen})),
                    "trace": r.line,
                })
            })
            .collect();
        let decision = match &self.outcome {
            Outcome::Deliver { rule, flows } => json!({
                "action": "deliver",
                "rule": rule.as_ref().map(|(name, _)| name),
                "default_flow": rule.is_none() && !self.rules.is_empty(),
                "flows": flows,
            }),
            Outcome::Drop => json!({
                "action": "drop",
                "reason": "no rule matched and the route has no default_flow",
            }),
            Outcome::Handshake(name) => json!({"action": "handshake", "handshake": name}),
        };
        let deliveries: Vec<Value> = self
            .deliveries
            .iter()
            .map(|d| {
                let mut v = json!({
                    "flow": d.flow,
                    "payload": d.payload.as_str(),
                    "credential": d.credential,
                    "tenant": d.tenant,
                    "url_binding": d.url_binding,
                    "content_type": d.content_type,
                    "bytes": d.bytes.len(),
                });
                match d.payload {
                    // The envelope is JSON by construction.
                    Payload::Envelope => v["envelope"] = serde_json::from_slice(&d.bytes).unwrap_or(Value::Null),
                    Payload::Raw => v["preview"] = preview(&d.bytes).map_or(Value::Null, Value::from),
                }
                v
            })
            .collect();
        json!({
            "route": self.route,
            "provider": self.provider,
            "signature_checked": false,
            "sent": false,
            "event_type": self.event_type,
            "event_type_forced": self.event_forced,
            "delivery_id": self.delivery_id,
            "content_type": self.content_type,
            "body_bytes": self.body_bytes,
            "rules": rules,
            "decision": decision,
            "deliveries": deliveries,
            "notes": self.notes,
        })
    }
}

/// Runs `flowgate route`: exit 0 whether the event is delivered or dropped.
///
/// # Errors
/// An unreadable or invalid configuration or event file, or an unknown route.
pub fn run(args: &RouteArgs) -> anyhow::Result<ExitCode> {
    let config = read_config(&args.config, args.env.as_deref())?;
    let file = std::fs::read(&args.event_file).with_context(|| format!("reading {}", args.event_file.display()))?;
    let capture = read_capture(&file, args.raw, &args.headers)?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    let result = dry_run(&config, &args.route, &capture, args.event.as_deref(), now)?;
    let text =
        if args.json { format!("{}\n", serde_json::to_string_pretty(&result.to_json())?) } else { result.render() };
    write_stdout(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// Writes `text` to stdout; a reader that stopped reading (`| head`) is
/// not an error.
///
/// # Errors
/// Any other write error.
pub(crate) fn write_stdout(text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use flowgate_core::{
        verify::{providers, verify as verify_request, Inbound, Labels},
        Secret,
    };

    use super::*;
    use crate::{check::load_config, send};

    const CONFIG: &str = r#"
[vars.FLOWGATE.entra]
tenant = "contoso.onmicrosoft.com"
client_id = "5b6f2a10-7c1d-4e8f-9a2b-3c4d5e6f7a81"
client_secret_binding = "ENTRA_CLIENT_SECRET"
[vars.FLOWGATE.credentials.partner]
tenant = "fabrikam.onmicrosoft.com"
client_id = "0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5"
client_secret_binding = "PARTNER_CLIENT_SECRET"
[vars.FLOWGATE.flows.deploys]
url_binding = "FLOW_URL_DEPLOYS"
[vars.FLOWGATE.flows.bugs]
url_binding = "FLOW_URL_BUGS"
payload = "envelope"
credential = "partner"
[vars.FLOWGATE.routes.gh]
provider = "github"
secret_bindings = ["GH"]
envelope_headers = ["x-github-hook-id"]
[[vars.FLOWGATE.routes.gh.rules]]
name = "pushes"
event = "push"
flows = ["deploys"]
[[vars.FLOWGATE.routes.gh.rules]]
name = "bugs"
event = "issues"
fields = { action = "labeled", "label.name" = "bug" }
flows = ["bugs", "deploys"]
[vars.FLOWGATE.routes.everything]
provider = "github"
secret_bindings = ["GH_EVERYTHING"]
default_flow = "deploys"
[vars.FLOWGATE.routes.single]
provider = "svix"
secret_bindings = ["SVIX"]
flow_url_binding = "FLOW_URL_SINGLE"
"#;

    fn config() -> Config {
        load_config(CONFIG, None).unwrap_or_else(|p| panic!("{p:#?}"))
    }

    fn issue(label: &str) -> Vec<u8> {
        format!(
            r#"{{"headers": {{"X-GitHub-Event": "issues", "X-GitHub-Delivery": "d-1", "X-GitHub-Hook-ID": "42", "Content-Type": "application/json"}},
                "body": {{"action": "labeled", "label": {{"name": "{label}"}}, "issue": {{"id": 12345678901234567890}}}}}}"#
        )
        .into_bytes()
    }

    fn run_on(route: &str, file: &[u8], extra: &[&str]) -> DryRun {
        let extra: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
        let capture = read_capture(file, false, &extra).unwrap();
        dry_run(&config(), route, &capture, None, 1_795_768_200).unwrap()
    }

    #[test]
    fn a_labelled_bug_goes_to_both_flows_each_in_its_shape() {
        let r = run_on("gh", &issue("bug"), &[]);
        assert_eq!((r.event_type.as_deref(), r.delivery_id.as_deref()), (Some("issues"), Some("d-1")));
        assert_eq!(
            r.rules.iter().map(|r| r.line.as_str()).collect::<Vec<_>>(),
            ["rule 1 'pushes': event = \"issues\", wanted \"push\"", "rule 2 'bugs': matched → bugs, deploys"]
        );
        let Outcome::Deliver { rule: Some((name, label)), flows } = &r.outcome else { panic!("{:?}", r.outcome) };
        assert_eq!(
            (name.as_str(), label.as_str(), flows.as_slice()),
            ("bugs", "rule 2 'bugs'", &["bugs".to_owned(), "deploys".to_owned()][..])
        );
        let bugs = &r.deliveries[0];
        assert_eq!(
            (bugs.flow.as_str(), bugs.payload, bugs.tenant.as_str()),
            ("bugs", Payload::Envelope, "fabrikam.onmicrosoft.com")
        );
        let env: Value = serde_json::from_slice(&bugs.bytes).unwrap();
        assert_eq!(env["flowgate_id"], "dry-run");
        assert_eq!(env["received_at"], "2026-11-27T08:30:00Z");
        assert_eq!(env["headers"], json!({"x-github-hook-id": "42"}));
        assert_eq!(env["body"]["label"]["name"], "bug");
        let deploys = &r.deliveries[1];
        assert_eq!((deploys.payload, deploys.content_type.as_deref()), (Payload::Raw, Some("application/json")));
        assert!(deploys.bytes.starts_with(br#"{"action":"labeled""#));

        let text = r.render();
        assert!(text.contains("The signature is NOT checked; nothing is sent."), "{text}");
        assert!(text.contains("decision: rule 2 'bugs' → bugs, deploys"), "{text}");
        assert!(text.contains("bugs would receive an envelope (payload = \"envelope\"; token: credential partner, tenant fabrikam.onmicrosoft.com; trigger URL: secret FLOW_URL_BUGS):"), "{text}");
        // The envelope is shown re-indented, its big number exactly as sent.
        assert!(text.contains("\n  {\n    \"route\": \"gh\",\n"), "{text}");
        assert!(text.contains("\"id\": 12345678901234567890"), "{text}");
        assert!(text.contains("deploys would receive the raw body"), "{text}");
    }

    #[test]
    fn another_label_is_dropped_and_a_push_goes_to_deploys() {
        let r = run_on("gh", &issue("enhancement"), &[]);
        assert_eq!(r.outcome, Outcome::Drop);
        assert!(r.deliveries.is_empty());
        assert_eq!(r.rules[1].failed, Some(("field label.name = \"bug\"".into(), "= \"enhancement\"".into())));
        assert!(r.render().contains("decision: dropped: no rule matched and the route has no default_flow"));
        let j = r.to_json();
        assert_eq!(
            j["decision"],
            json!({"action": "drop", "reason": "no rule matched and the route has no default_flow"})
        );
        assert_eq!(j["signature_checked"], false);

        // A body file with --header, and --event.
        let capture = read_capture(br#"{"ref": "refs/heads/main"}"#, false, &["X-GitHub-Event: push".into()]).unwrap();
        let r = dry_run(&config(), "gh", &capture, None, 0).unwrap();
        assert_eq!(
            r.outcome,
            Outcome::Deliver { rule: Some(("pushes".into(), "rule 1 'pushes'".into())), flows: vec!["deploys".into()] }
        );
        assert_eq!(r.deliveries[0].content_type, None);
        let r = dry_run(&config(), "gh", &capture, Some("issues"), 0).unwrap();
        assert_eq!(r.outcome, Outcome::Drop);
        assert!(r.render().contains("event type:   issues (given with --event)"));
    }

    #[test]
    fn default_flows_and_single_flow_routes() {
        let r = run_on("everything", &issue("x"), &[]);
        assert_eq!(r.outcome, Outcome::Deliver { rule: None, flows: vec!["deploys".into()] });
        assert!(r.render().contains("decision: every event → deploys"));
        let j = r.to_json();
        assert_eq!(j["decision"]["default_flow"], false);
        let r = run_on("single", br#"{"type": "user.created"}"#, &["svix-id: msg_1"]);
        assert_eq!((r.event_type.as_deref(), r.delivery_id.as_deref()), (Some("user.created"), Some("msg_1")));
        assert_eq!(r.deliveries[0].flow, "single");
        assert!(r.render().contains("rules: none"));
    }

    #[test]
    fn handshakes_are_answered_not_routed() {
        let r = run_on("everything", b"{}", &["X-GitHub-Event: ping"]);
        assert_eq!(r.outcome, Outcome::Handshake("github-ping".into()));
        assert!(r.deliveries.is_empty());
        assert!(r.render().contains("decision: a handshake (github-ping): the Worker answers it itself"));
        assert_eq!(r.to_json()["decision"], json!({"action": "handshake", "handshake": "github-ping"}));
    }

    #[test]
    fn json_report_has_every_part() {
        let j = run_on("gh", &issue("bug"), &[]).to_json();
        assert_eq!(j["rules"][0]["failed"], json!({"condition": "event = \"push\"", "seen": "= \"issues\""}));
        assert_eq!(j["rules"][1]["matched"], true);
        assert_eq!(
            j["decision"],
            json!({"action": "deliver", "rule": "bugs", "default_flow": false, "flows": ["bugs", "deploys"]})
        );
        assert_eq!(j["deliveries"][0]["envelope"]["event_type"], "issues");
        assert_eq!(j["deliveries"][0]["credential"], "partner");
        assert!(j["deliveries"][1]["preview"].as_str().unwrap().starts_with("{\"action\""));
        assert_eq!(j["deliveries"][1]["bytes"], j["body_bytes"]);
    }

    #[test]
    fn capture_documents_in_every_form() {
        // A dead letter as the admin API returns it.
        let letter = json!({
            "route": "gh", "id": "x", "headers": {"x-github-event": "push"},
            "content_type": "application/json", "body_base64": STANDARD.encode(br#"{"a":1}"#),
        });
        let c = read_capture(letter.to_string().as_bytes(), false, &[]).unwrap();
        assert_eq!(c.body, br#"{"a":1}"#);
        assert!(c.headers.contains(&("content-type".into(), "application/json".into())));
        // A string body is the text itself; a JSON body is written compactly, typed as JSON.
        let c = read_capture(br#"{"headers": {"a": ["1", "2"]}, "body": "x=1&y=2"}"#, false, &[]).unwrap();
        assert_eq!((c.body.as_slice(), c.headers.len()), (&b"x=1&y=2"[..], 2));
        let c = read_capture(br#"{"headers": {}, "body": {"b": [1, 2]}}"#, false, &["A: b".into()]).unwrap();
        assert_eq!(c.body, br#"{"b":[1,2]}"#);
        assert_eq!(c.headers, [("content-type".into(), "application/json".into()), ("A".into(), "b".into())]);
        assert_eq!(c.notes.len(), 1);
        // --header replaces the capture's header of that name.
        let c = read_capture(
            br#"{"headers": {"Content-Type": "text/plain"}, "body": "x"}"#,
            false,
            &["content-type: text/csv".into()],
        )
        .unwrap();
        assert_eq!(c.headers, [("content-type".into(), "text/csv".into())]);
        // Anything else is the body, and --raw forces that.
        let doc = br#"{"headers": {}, "body": "x"}"#;
        assert_eq!(read_capture(doc, true, &[]).unwrap().body, doc);
        assert_eq!(read_capture(b"\x00\xff", false, &[]).unwrap().body, b"\x00\xff");
        assert_eq!(read_capture(br#"{"headers": {"a": "b"}}"#, false, &[]).unwrap().headers, []);
        for bad in [
            r#"{"headers": {"a": 1}, "body": "x"}"#,
            r#"{"headers": {}, "body": "x", "body_base64": "eA=="}"#,
            r#"{"headers": {}, "body_base64": "not base64!"}"#,
            r#"{"headers": {}, "body": "x", "content_type": 5}"#,
        ] {
            assert!(read_capture(bad.as_bytes(), false, &[]).is_err(), "{bad}");
        }
        assert!(read_capture(b"x", false, &["no colon".into()]).is_err());
    }

    #[test]
    fn a_json_body_keeps_its_key_order_and_numbers() {
        let doc = "{\"headers\": {}, \"body\" :\n {\"z\": 1, \"a\": [12345678901234567890123, 1.10, \"s p\\\"{\"], \"é\": {}},\n \"x\": 1}";
        let c = read_capture(doc.as_bytes(), false, &[]).unwrap();
        assert_eq!(String::from_utf8(c.body).unwrap(), r#"{"z":1,"a":[12345678901234567890123,1.10,"s p\"{"],"é":{}}"#);
        for (json, key, want) in [
            (r#"{"a": 1, "body": true}"#, "body", Some("true")),
            (r#"{"a": {"body": 1}, "body": -2.5e3 }"#, "body", Some("-2.5e3")),
            (r#"{"b\u006fdy": "x", "body": null}"#, "body", Some(r#""x""#)),
            (r#"{"a": "}", "body": [ ]}"#, "body", Some("[ ]")),
            (r#"{"a": 1}"#, "body", None),
            ("[1]", "body", None),
        ] {
            assert_eq!(member_text(json, key), want, "{json}");
        }
    }

    #[test]
    fn previews_are_short_and_inert() {
        assert_eq!(preview(b"\xff"), None);
        assert_eq!(preview("é".repeat(300).as_bytes()).unwrap().chars().count(), PREVIEW_CHARS + 1);
        assert_eq!(preview(b"a\x1b[2Jb\nc").unwrap(), "a\\u{1b}[2Jb\nc");
    }

    #[test]
    fn pretty_json_only_moves_whitespace() {
        let text = r#"{"a":[1,{"b":"x,{y}:\"z\""}],"e":{},"f":[ ],"n":1.0000000000000000001}"#;
        let shown = pretty_json(text, "");
        assert_eq!(
            shown,
            "{\n  \"a\": [\n    1,\n    {\n      \"b\": \"x,{y}:\\\"z\\\"\"\n    }\n  ],\n  \"e\": {},\n  \"f\": [],\n  \"n\": 1.0000000000000000001\n}"
        );
        let strip = |s: &str| s.split_whitespace().collect::<String>();
        assert_eq!(strip(&shown), strip(text).replace(' ', ""));
    }

    /// The dry run reads labels with `verify::labels`; for every built-in
    /// sender, a request `flowgate send` signs gets the same labels from
    /// `verify` as from `labels`, so the dry run sees what the Worker sees.
    #[test]
    fn labels_agree_with_verification_for_every_sender() {
        let url = "http://127.0.0.1:8787/hooks/x";
        let now = 1_700_000_000;
        for p in providers() {
            let secret = match p.scheme() {
                verify::Scheme::StandardWebhooks => "whsec_ZGVtby1zZWNyZXQ=".to_owned(),
                verify::Scheme::Hmac(h) if h.secret == verify::scheme::SecretEncoding::Base64 => {
                    "ZGVtby1zZWNyZXQ=".into()
                }
                verify::Scheme::Hmac(h) if h.secret == verify::scheme::SecretEncoding::Hex => "0a0b0c0d".into(),
                verify::Scheme::Hmac(h) if h.secret == verify::scheme::SecretEncoding::Whsec => {
                    "whsec_ZGVtby1zZWNyZXQ=".into()
                }
                verify::Scheme::BasicAuth(_) => "user:password".into(),
                verify::Scheme::Contentful => "c".repeat(64),
                verify::Scheme::Discord => "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60".into(),
                verify::Scheme::Telnyx => "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=".into(),
                verify::Scheme::SendGrid | verify::Scheme::Plaid | verify::Scheme::Ebay | verify::Scheme::Circle => {
                    "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721".into()
                }
                verify::Scheme::Adyen => "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056".into(),
                verify::Scheme::Sns | verify::Scheme::Fireblocks | verify::Scheme::Wix | verify::Scheme::PayPal => {
                    include_str!("../../../tests/fixtures/entra-test-key.pem").into()
                }
                _ => "demo-secret".into(),
            };
            let signing = Secret::new(secret);
            let verifying = match p.scheme() {
                // The certificate of that key (SNS routes get it by SigningCertURL).
                verify::Scheme::Sns => Secret::new(include_str!("../../../tests/fixtures/entra-test-cert.pem")),
                // PayPal's route secret is the webhook id with the certificate.
                verify::Scheme::PayPal => verify::paypal::route_key(
                    flowgate_emulator::senders::PAYPAL_DEMO_WEBHOOK_ID,
                    include_str!("../../../tests/fixtures/entra-test-cert.pem"),
                ),
                _ => send::verifying_key(p, &signing).unwrap().map_or_else(|| signing.clone(), Secret::new),
            };
            let body = send::sample_body(p, p.sample_event, now);
            let req = send::sign(p, &signing, body, p.sample_event, "application/json", url, now)
                .unwrap_or_else(|e| panic!("{}: {e}", p.name));
            let headers: Headers = req.headers.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
            let url = &req.url(url);
            let inbound = Inbound { headers: &headers, body: &req.body, now_secs: now, method: "POST", url };
            let v = verify_request(p, &p.scheme(), None, std::slice::from_ref(&verifying), inbound)
                .unwrap_or_else(|e| panic!("{}: {e}", p.name));
            let verified = Labels {
                event_type: v.event_type().map(str::to_owned),
                delivery_id: v.delivery_id().map(str::to_owned),
            };
            assert_eq!(verify::labels(&p.scheme(), &headers, &req.body), verified, "{}", p.name);
        }
    }
}
