//! Structured logs: one JSON object per line on the console (`wrangler tail`,
//! Workers Logs). Never a secret, a token or a body: only route, provider,
//! outcome, delivery id, upstream status, duration and fixed messages.

use flowgate_core::config::Problem;
use serde::Serialize;
use worker::console_log;

/// Milliseconds since the epoch (`Date.now()`; `std::time` panics on wasm32).
pub(crate) fn now_millis() -> u64 {
    worker::Date::now().as_millis()
}

/// One handled webhook.
#[derive(Serialize, Default)]
pub(crate) struct Record<'a> {
    pub(crate) level: &'static str,
    pub(crate) request_id: &'a str,
    pub(crate) route: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) provider: Option<&'static str>,
    pub(crate) outcome: &'static str,
    pub(crate) status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) delivery_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) event_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) upstream_status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) token_source: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) flow_run_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) message: Option<String>,
    /// The rule that matched (routing rules).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) rule: Option<String>,
    /// The target flow(s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) flow: Option<String>,
    /// The queue attempt, 1-based (queue mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) attempt: Option<u32>,
    pub(crate) body_bytes: usize,
    pub(crate) attempts: u8,
    pub(crate) duration_ms: u64,
}

pub(crate) fn emit<T: Serialize>(record: &T) {
    if let Ok(line) = serde_json::to_string(record) {
        console_log!("{line}");
    }
}

#[derive(Serialize)]
struct Note<'a> {
    level: &'static str,
    event: &'a str,
    message: &'a str,
}

/// A warning that is not about one webhook (KV trouble and the like).
pub(crate) fn warn(event: &str, message: &str) {
    note("warn", event, message);
}

/// A line that is not about one webhook (background refresh and the like).
pub(crate) fn note(level: &'static str, event: &str, message: &str) {
    emit(&Note { level, event, message });
}

#[derive(Serialize)]
struct ConfigProblem<'a> {
    level: &'static str,
    event: &'static str,
    setting: &'a str,
    problem: &'a str,
    fix: &'a str,
}

/// A configuration problem, logged once per isolate.
pub(crate) fn config_problem(p: &Problem) {
    emit(&ConfigProblem {
        level: "error",
        event: "config_invalid",
        setting: &p.path,
        problem: &p.message,
        fix: &p.fix,
    });
}
