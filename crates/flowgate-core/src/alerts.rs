//! Failure alerts: what flowgate tells an operator when deliveries fail in a
//! way that needs a person (`[vars.FLOWGATE.alerts]`).
//!
//! - [`Alert`]: one event (kind, route/flow, time, a one-line message, the
//!   fix where flowgate has one). Built only from names, ids, statuses and
//!   flowgate's own reasons: never a body, a secret, a token or a
//!   signature header.
//! - [`Format`]: how an alert is written for its destination (a Teams
//!   workflow webhook's Adaptive Card message, Slack's `{"text": …}`, or the
//!   alert object as JSON).
//! - [`admit`]: the rate limit, at most one alert per (kind, route-or-flow)
//!   per window; suppressed alerts are counted and the next one sent
//!   carries a [`Digest`]. The Worker keeps each key's [`GateEntry`] in the
//!   alert gate Durable Object; [`MemoryGate`] is the same port in memory.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::envelope::rfc3339;

/// Default rate-limit window, seconds (one alert per kind and subject per 10 minutes).
pub const DEFAULT_WINDOW_SECS: u64 = 600;
/// The shortest window `window_secs` accepts, seconds.
pub const MIN_WINDOW_SECS: u64 = 10;
/// The longest window `window_secs` accepts, seconds (one day).
pub const MAX_WINDOW_SECS: u64 = 86_400;
/// How long the Worker waits for an alert destination, seconds.
pub const SEND_TIMEOUT_SECS: u64 = 5;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A delivery was dead-lettered (no more attempts).
    DeadLettered,
    /// The flow pacer's breaker paused a flow after a 429 or 503.
    FlowPaused,
    /// A flow refused flowgate's token for its claims (`MisMatchingOAuthClaims`).
    FlowRefusingTokens,
    /// No Entra token could be obtained for a flow (an AADSTS error, or Entra unreachable).
    TokenFailed,
}

impl AlertKind {
    /// The kind's name, as in the alert and the README.
    pub fn name(self) -> &'static str {
        match self {
            AlertKind::DeadLettered => "dead_lettered",
            AlertKind::FlowPaused => "flow_paused",
            AlertKind::FlowRefusingTokens => "flow_refusing_tokens",
            AlertKind::TokenFailed => "token_failed",
        }
    }

    /// A title for chat messages.
    fn title(self) -> &'static str {
        match self {
            AlertKind::DeadLettered => "Delivery dead-lettered",
            AlertKind::FlowPaused => "Flow paused",
            AlertKind::FlowRefusingTokens => "Flow refusing flowgate's token",
            AlertKind::TokenFailed => "No Entra token",
        }
    }
}

/// Alerts suppressed by the rate limit since the last one sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digest {
    /// How many.
    pub count: u32,
    /// When the first of them happened, Unix seconds.
    pub since: u64,
}

impl Digest {
    /// "12 more since 08:01 UTC".
    pub fn describe(&self) -> String {
        let stamp = rfc3339(self.since);
        // rfc3339 is YYYY-MM-DDTHH:MM:SSZ: the time of day is at 11..16.
        let hhmm = stamp.get(11..16).unwrap_or(&stamp);
        format!("{} more since {hhmm} UTC", self.count)
    }
}

/// One alert. Every field is a name, an id, a status or flowgate's own text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// What happened.
    pub kind: AlertKind,
    /// The route, when the event has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// The flow, when the event has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow: Option<String>,
    /// When, Unix seconds.
    pub at: u64,
    /// One line saying what happened.
    pub message: String,
    /// What to do about it, where flowgate knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The delivery's flowgate id (dead letters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flowgate_id: Option<String>,
    /// Why it was dead-lettered (flowgate's reason; never the body).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The flow's status that paused it (429/503) or refused the token (401/403).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The flow's error code (`MisMatchingOAuthClaims`) or Entra's (`AADSTS7000215`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The flow's `Retry-After`, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// Until when the flow is paused, Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_until: Option<u64>,
    /// Alerts of this kind and subject suppressed since the last one sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<Digest>,
}

impl Alert {
    /// A delivery to `flow` on `route` (flowgate id `id`) was dead-lettered for `reason`.
    pub fn dead_lettered(route: &str, flow: &str, id: &str, reason: &str, at: u64) -> Self {
        Alert {
            kind: AlertKind::DeadLettered,
            route: Some(route.to_owned()),
            flow: Some(flow.to_owned()),
            at,
            message: format!("a delivery on route {route} to flow {flow} was dead-lettered: {reason}"),
            hint: Some(format!(
                "see it with `flowgate dlq show {route}/{id}.{flow}`; once the cause is fixed, `flowgate dlq redrive {route}/{id}.{flow}`"
            )),
            flowgate_id: Some(id.to_owned()),
            reason: Some(reason.to_owned()),
            status: None,
            code: None,
            retry_after: None,
            paused_until: None,
            suppressed: None,
        }
    }

    /// `flow` answered `status` (with `retry_after`) and is paused until
    /// `paused_until_ms` (Unix ms).
    pub fn flow_paused(
        flow: &str,
        status: Option<u16>,
        retry_after: Option<u64>,
        paused_until_ms: i64,
        at: u64,
    ) -> Self {
        let until = u64::try_from(paused_until_ms / 1000).unwrap_or(0);
        let answered = status.map_or_else(|| "429/503".to_owned(), |s| s.to_string());
        let retry = retry_after.map_or_else(String::new, |r| format!(" with Retry-After {r} s"));
        Alert {
            kind: AlertKind::FlowPaused,
            route: None,
            flow: Some(flow.to_owned()),
            at,
            message: format!(
                "flow {flow} answered {answered}{retry}: no delivery is attempted until {}",
                rfc3339(until)
            ),
            hint: Some(
                "the flow is throttled (Power Automate's request limits): deliveries wait and are not lost; if it recurs, set max_rate on the flow (README.md, Pacing)".to_owned(),
            ),
            flowgate_id: None,
            reason: None,
            status,
            code: None,
            retry_after,
            paused_until: Some(until),
            suppressed: None,
        }
    }

    /// `flow` (delivering for `route`) answered `status` with `code`
    /// (`MisMatchingOAuthClaims`): it refuses the token's claims, and every
    /// delivery to it will fail the same way until its settings or
    /// flowgate's credential change. `hint` is the code's fix.
    pub fn flow_refusing_tokens(route: &str, flow: &str, status: u16, code: &str, hint: &str, at: u64) -> Self {
        Alert {
            kind: AlertKind::FlowRefusingTokens,
            route: Some(route.to_owned()),
            flow: Some(flow.to_owned()),
            at,
            message: format!("flow {flow} refused flowgate's Entra token: HTTP {status} {code}"),
            hint: Some(hint.to_owned()),
            flowgate_id: None,
            reason: None,
            status: Some(status),
            code: Some(code.to_owned()),
            retry_after: None,
            paused_until: None,
            suppressed: None,
        }
    }

    /// No token could be had for `flow` (delivering for `route`): `reason`
    /// is flowgate's message, with Entra's `code` (AADSTS…) when Entra gave one.
    pub fn token_failed(route: &str, flow: &str, code: Option<&str>, reason: &str, at: u64) -> Self {
        Alert {
            kind: AlertKind::TokenFailed,
            route: Some(route.to_owned()),
            flow: Some(flow.to_owned()),
            at,
            message: format!("no Entra token for flow {flow}: deliveries to it wait and are retried"),
            hint: Some(reason.to_owned()),
            flowgate_id: None,
            reason: None,
            status: None,
            code: code.map(str::to_owned),
            retry_after: None,
            paused_until: None,
            suppressed: None,
        }
    }

    /// The rate limit's key: kind and subject (the route of a dead letter,
    /// the flow of a pause).
    pub fn key(&self) -> String {
        let subject = match self.kind {
            AlertKind::DeadLettered => self.route.as_deref().or(self.flow.as_deref()),
            AlertKind::FlowPaused | AlertKind::FlowRefusingTokens | AlertKind::TokenFailed => self.flow.as_deref(),
        };
        format!("{}/{}", self.kind.name(), subject.unwrap_or("-"))
    }

    /// The one-line text, with the digest when alerts were suppressed.
    fn line(&self) -> String {
        match &self.suppressed {
            Some(d) => format!("{} ({})", self.message, d.describe()),
            None => self.message.clone(),
        }
    }
}

/// How alerts are written for the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A Teams "workflow" incoming webhook: a message with one Adaptive Card.
    Teams,
    /// A Slack incoming webhook: `{"text": …}`.
    Slack,
    /// The alert object itself.
    Json,
}

impl Format {
    /// The `format` values, as configured.
    pub const NAMES: [&'static str; 3] = ["teams", "slack", "json"];

    /// The format named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "teams" => Some(Format::Teams),
            "slack" => Some(Format::Slack),
            "json" => Some(Format::Json),
            _ => None,
        }
    }

    /// The request body for `alert`.
    pub fn body(self, alert: &Alert) -> Value {
        match self {
            Format::Json => serde_json::to_value(alert).unwrap_or(Value::Null),
            Format::Slack => {
                let mut text = format!("*flowgate: {}* {}", alert.kind.title(), alert.line());
                if let Some(hint) = &alert.hint {
                    text.push_str("\nFix: ");
                    text.push_str(hint);
                }
                json!({ "text": text })
            }
            Format::Teams => teams_card(alert),
        }
    }
}

/// A Teams workflow webhook message ("Post to a channel when a webhook
/// request is received"): `attachments` of one Adaptive Card.
fn teams_card(alert: &Alert) -> Value {
    let mut facts = vec![json!({ "title": "Kind", "value": alert.kind.name() })];
    for (title, value) in [("Route", &alert.route), ("Flow", &alert.flow), ("Flowgate id", &alert.flowgate_id)] {
        if let Some(v) = value {
            facts.push(json!({ "title": title, "value": v }));
        }
    }
    if let Some(s) = alert.status {
        facts.push(json!({ "title": "Status", "value": s.to_string() }));
    }
    if let Some(c) = &alert.code {
        facts.push(json!({ "title": "Error code", "value": c }));
    }
    if let Some(r) = alert.retry_after {
        facts.push(json!({ "title": "Retry-After", "value": format!("{r} s") }));
    }
    if let Some(u) = alert.paused_until {
        facts.push(json!({ "title": "Paused until", "value": rfc3339(u) }));
    }
    facts.push(json!({ "title": "Time", "value": rfc3339(alert.at) }));
    if let Some(d) = &alert.suppressed {
        facts.push(json!({ "title": "Suppressed", "value": d.describe() }));
    }
    let mut body = vec![
        json!({ "type": "TextBlock", "size": "Medium", "weight": "Bolder", "text": format!("flowgate: {}", alert.kind.title()) }),
        json!({ "type": "TextBlock", "wrap": true, "text": alert.message }),
        json!({ "type": "FactSet", "facts": facts }),
    ];
    if let Some(hint) = &alert.hint {
        body.push(json!({ "type": "TextBlock", "wrap": true, "isSubtle": true, "text": format!("Fix: {hint}") }));
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": body,
            },
        }],
    })
}

/// One rate-limit key's state, as the alert gate stores it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateEntry {
    /// When the last alert was sent, Unix seconds (0: never).
    pub last_sent: u64,
    /// Alerts suppressed since.
    pub suppressed: u32,
    /// When the first of them happened.
    pub suppressed_since: u64,
}

/// The Worker's question to the alert gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateRequest {
    /// [`Alert::key`].
    pub key: String,
    /// The window, seconds.
    pub window_secs: u64,
    /// When the alert happened, Unix seconds.
    pub now: u64,
}

/// The gate's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum GateDecision {
    /// Send it, with the digest of those suppressed before it, if any.
    Send {
        /// Suppressed since the last one sent.
        digest: Option<Digest>,
    },
    /// Another alert of the key was sent within the window: counted, not sent.
    Suppress,
}

/// The rate limit: at most one alert per key per `window_secs`. Returns
/// the decision and the key's new state.
pub fn admit(entry: Option<GateEntry>, now: u64, window_secs: u64) -> (GateDecision, GateEntry) {
    let e = entry.unwrap_or_default();
    let sent_before = e.last_sent > 0;
    if sent_before && now < e.last_sent.saturating_add(window_secs) {
        let since = if e.suppressed == 0 { now } else { e.suppressed_since };
        return (
            GateDecision::Suppress,
            GateEntry { suppressed: e.suppressed.saturating_add(1), suppressed_since: since, ..e },
        );
    }
    let digest = (e.suppressed > 0).then_some(Digest { count: e.suppressed, since: e.suppressed_since });
    (GateDecision::Send { digest }, GateEntry { last_sent: now.max(1), suppressed: 0, suppressed_since: 0 })
}

/// The gate in memory (tests, and the shape the Durable Object keeps per key).
#[derive(Debug, Default)]
pub struct MemoryGate {
    entries: BTreeMap<String, GateEntry>,
}

impl MemoryGate {
    /// Answers `req`, keeping the key's state.
    pub fn ask(&mut self, req: &GateRequest) -> GateDecision {
        let (decision, entry) = admit(self.entries.get(&req.key).copied(), req.now, req.window_secs);
        self.entries.insert(req.key.clone(), entry);
        decision
    }
}

/// `[vars.FLOWGATE.alerts]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertsConfig {
    /// The wrangler secret holding the incoming-webhook URL.
    pub url_binding: String,
    /// How alerts are written.
    pub format: Format,
    /// The rate limit's window, seconds.
    pub window_secs: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: u64 = 1_767_254_460; // 2026-01-01T08:01:00Z

    fn req(key: &str, now: u64) -> GateRequest {
        GateRequest { key: key.to_owned(), window_secs: 600, now }
    }

    #[test]
    fn a_flow_refusing_tokens_is_keyed_by_flow_and_carries_status_code_and_fix() {
        let hint = crate::forward::flow_failure_hint(401, Some(crate::forward::MISMATCHED_CLAIMS));
        let a = Alert::flow_refusing_tokens("r1", "orders", 401, crate::forward::MISMATCHED_CLAIMS, hint, AT);
        assert_eq!(a.key(), "flow_refusing_tokens/orders");
        let b = Alert::flow_refusing_tokens("r2", "orders", 401, crate::forward::MISMATCHED_CLAIMS, hint, AT);
        assert_eq!(a.key(), b.key(), "two routes to one flow share its limit");
        let v = Format::Json.body(&a);
        assert_eq!(v["kind"], "flow_refusing_tokens");
        assert_eq!(v["status"], 401);
        assert_eq!(v["code"], "MisMatchingOAuthClaims");
        assert!(v["hint"].as_str().unwrap().contains("Object ID"), "{v}");
        let card = Format::Teams.body(&a).to_string();
        assert!(card.contains("Error code") && card.contains("MisMatchingOAuthClaims"), "{card}");
    }

    #[test]
    fn a_token_failure_names_entras_code_and_flowgates_fix() {
        let a = Alert::token_failed("r1", "orders", Some("AADSTS7000215"), "invalid client secret: copy the Value", AT);
        assert_eq!(a.key(), "token_failed/orders");
        let v = Format::Json.body(&a);
        assert_eq!(v["code"], "AADSTS7000215");
        assert_eq!(v["hint"], "invalid client secret: copy the Value");
        assert!(v["message"].as_str().unwrap().contains("orders"), "{v}");
        let none = Alert::token_failed("r1", "orders", None, "the secret ENTRA_CLIENT_SECRET is not set", AT);
        assert!(Format::Json.body(&none).get("code").is_none());
        let slack = Format::Slack.body(&a)["text"].as_str().unwrap().to_owned();
        assert!(
            slack.starts_with("*flowgate: No Entra token*") && slack.contains("Fix: invalid client secret"),
            "{slack}"
        );
    }

    #[test]
    fn the_first_alert_of_a_key_is_sent_without_digest() {
        let mut g = MemoryGate::default();
        assert_eq!(g.ask(&req("dead_lettered/a", AT)), GateDecision::Send { digest: None });
    }

    #[test]
    fn alerts_within_the_window_are_suppressed_and_counted_into_the_next_ones_digest() {
        let mut g = MemoryGate::default();
        assert_eq!(g.ask(&req("k", AT)), GateDecision::Send { digest: None });
        for i in 1..=12 {
            assert_eq!(g.ask(&req("k", AT + i)), GateDecision::Suppress);
        }
        assert_eq!(g.ask(&req("k", AT + 599)), GateDecision::Suppress);
        let d = g.ask(&req("k", AT + 600));
        assert_eq!(d, GateDecision::Send { digest: Some(Digest { count: 13, since: AT + 1 }) });
        // The digest is spent: the next window starts clean.
        assert_eq!(g.ask(&req("k", AT + 1200)), GateDecision::Send { digest: None });
    }

    #[test]
    fn keys_are_limited_separately() {
        let mut g = MemoryGate::default();
        assert!(matches!(g.ask(&req("dead_lettered/a", AT)), GateDecision::Send { .. }));
        assert!(matches!(g.ask(&req("dead_lettered/b", AT)), GateDecision::Send { .. }));
        assert!(matches!(g.ask(&req("flow_paused/a", AT)), GateDecision::Send { .. }));
        assert_eq!(g.ask(&req("dead_lettered/a", AT + 5)), GateDecision::Suppress);
    }

    #[test]
    fn a_clock_going_backwards_suppresses_rather_than_floods() {
        let (_, e) = admit(None, AT, 600);
        assert_eq!(admit(Some(e), AT - 30, 600).0, GateDecision::Suppress);
    }

    #[test]
    fn digest_reads_count_and_time_of_day() {
        assert_eq!(Digest { count: 12, since: AT }.describe(), "12 more since 08:01 UTC");
    }

    #[test]
    fn alert_keys_are_kind_and_subject() {
        let d = Alert::dead_lettered("gh", "gh", "abc", "flow answered 404", AT);
        assert_eq!(d.key(), "dead_lettered/gh");
        let p = Alert::flow_paused("deploys", Some(429), Some(5), 1_767_254_465_000, AT);
        assert_eq!(p.key(), "flow_paused/deploys");
    }

    fn sample() -> Alert {
        let mut a = Alert::dead_lettered("gh", "deploys", "0a1b2c", "the flow answered 404 (trigger gone)", AT);
        a.suppressed = Some(Digest { count: 3, since: AT - 60 });
        a
    }

    #[test]
    fn json_format_is_the_alert_object() {
        let v = Format::Json.body(&sample());
        assert_eq!(v["kind"], "dead_lettered");
        assert_eq!(v["route"], "gh");
        assert_eq!(v["flow"], "deploys");
        assert_eq!(v["flowgate_id"], "0a1b2c");
        assert_eq!(v["reason"], "the flow answered 404 (trigger gone)");
        assert_eq!(v["at"], AT);
        assert_eq!(v["suppressed"]["count"], 3);
        assert!(v["hint"].as_str().unwrap().contains("flowgate dlq"));
        let back: Alert = serde_json::from_value(v).unwrap();
        assert_eq!(back, sample());
    }

    #[test]
    fn slack_format_is_one_text_with_the_digest_and_the_fix() {
        let v = Format::Slack.body(&sample());
        let text = v["text"].as_str().unwrap();
        assert_eq!(v.as_object().unwrap().len(), 1);
        assert!(text.contains("dead-lettered"), "{text}");
        assert!(text.contains("3 more since 08:00 UTC"), "{text}");
        assert!(text.contains("Fix: see it with"), "{text}");
    }

    #[test]
    fn teams_format_is_a_message_with_one_adaptive_card() {
        let a = Alert::flow_paused("deploys", Some(429), Some(5), 1_767_254_465_000, AT);
        let v = Format::Teams.body(&a);
        assert_eq!(v["type"], "message");
        let att = &v["attachments"][0];
        assert_eq!(att["contentType"], "application/vnd.microsoft.card.adaptive");
        assert_eq!(att["content"]["type"], "AdaptiveCard");
        let text = v.to_string();
        for want in ["flow_paused", "deploys", "429", "5 s", "2026-01-01T08:01:05Z"] {
            assert!(text.contains(want), "{want} in {text}");
        }
    }

    #[test]
    fn no_format_carries_more_than_the_alerts_own_fields() {
        // An alert is made only of names, ids, statuses and flowgate's
        // reasons: a format adds nothing from elsewhere (no URL, header or
        // body). Every string in every format is one of the alert's own or
        // fixed text.
        let a = sample();
        for f in [Format::Teams, Format::Slack, Format::Json] {
            let text = f.body(&a).to_string().replace("http://adaptivecards.io/schemas/adaptive-card.json", "");
            for leak in ["sig", "secret", "token", "Bearer", "http"] {
                assert!(!text.to_lowercase().contains(&leak.to_lowercase()), "{leak} in {f:?}: {text}");
            }
        }
    }

    #[test]
    fn formats_parse_by_name() {
        for n in Format::NAMES {
            assert!(Format::parse(n).is_some());
        }
        assert_eq!(Format::parse("Teams"), None);
    }
}
