//! Faults at the flow trigger, to test queued delivery with retries end to
//! end: a queue of one-shot [`FlowFault`]s and a standing [`FlowBehaviour`]
//! (the flow being down, or failing at some rate) for long runs.
//!
//! Queued faults come from `POST /_emulator/faults` with
//! `{"flow": [fault, ...]}` (appended; `"token"` may sit beside it) or
//! [`crate::Emulator::inject_flow_faults`]. Each trigger request takes the
//! first queued fault that applies to its flow before anything else:
//!
//! | JSON | answer |
//! |---|---|
//! | `{"status":S}`, S ∈ [`FLOW_FAULT_STATUSES`] | S with the §4 body `{"error":{"code":..,"message":..}}` |
//! | `{"status":429\|503,"retry_after":N}` | the same plus `Retry-After: N` |
//! | `{"delay_ms":N}` | sleeps N ms (at most [`MAX_DELAY_MS`]), then processes normally |
//! | `{"code":C}`, C one of [`TRIGGER_ERRORS`] | that answer of the trigger, with its status (a `status` beside it must be that one) |
//! | any of these plus `"flow_id":"ID"` | applies only to requests for flow ID |
//!
//! A fault restricted to another flow stays queued, in order, and the
//! request takes the next one that applies (or none).
//!
//! The behaviour is set with `PUT /_emulator/flow-behaviour` (or
//! [`crate::Emulator::set_flow_behaviour`]) and stays until changed, deleted
//! or reset. With `down` every request is answered 503; otherwise each
//! request fails with `failure_status` at probability `failure_rate`, drawn
//! from an RNG seeded with `seed` when one is given (so a run is repeatable).
//! A 429 or 503 from the behaviour carries `Retry-After` when `retry_after`
//! is set.
//!
//! Order for one request: a queued status fault answers at once; a queued
//! delay sleeps first; then the behaviour; then the trigger's own checks.
//! Answers from faults and the behaviour are never runs. They count in
//! `Stats::flow_faults_served` / `Stats::flow_behaviour_refusals` and appear
//! in `Stats::flow_rejected` like any other refusal, with a `detail` that
//! says where they came from.
//!
//! Error codes. §4 documents only `MisMatchingOAuthClaims` (wrong claims)
//! and the 504 of a Response action that did not run in time, and its "Could
//! NOT confirm" 3 says no 429 from the trigger was ever confirmed. Every other
//! code below is the emulator's choice, named after the service's style.

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::types::MAX_DELAY_MS;

/// The statuses a flow fault (or the behaviour's `failure_status`) may ask for.
pub const FLOW_FAULT_STATUSES: [u16; 9] = [400, 403, 404, 408, 429, 500, 502, 503, 504];

/// What a queued flow fault does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FlowFaultAction {
    /// Answer this status (one of [`FLOW_FAULT_STATUSES`]) with the §4 body.
    Status {
        /// The HTTP status.
        status: u16,
        /// `Retry-After` seconds; only with 429 or 503.
        retry_after: Option<u64>,
    },
    /// Wait, then process the request normally.
    Delay {
        /// Milliseconds to wait (at most [`MAX_DELAY_MS`]).
        delay_ms: u64,
    },
}

/// One queued fault for one trigger request. JSON forms in the module docs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "FlowFaultWire", into = "FlowFaultWire")]
pub struct FlowFault {
    /// What the fault does.
    pub action: FlowFaultAction,
    /// Only requests for this flow take the fault; `None`: any flow.
    pub flow_id: Option<String>,
    /// The `error.code` of the answer (one of [`TRIGGER_ERRORS`]), instead of
    /// the status's default code ([`error_of`]).
    pub code: Option<String>,
}

/// The trigger's own error answers a fault can name by code: `(code,
/// status, message)`. Sources, by row: §4 (field reports of the trigger,
/// Teams workflow webhooks and Logic Apps for the last four); the 429 is
/// the emulator's choice ("Could NOT confirm" 3). Messages name the trigger
/// `manual`, as the trigger URL does.
pub const TRIGGER_ERRORS: [(&str, u16, &str); 7] = [
    (
        "WorkflowTriggerIsNotEnabled",
        400,
        "Could not execute workflow trigger 'manual' with state 'Disabled': trigger is not enabled.",
    ),
    ("WorkflowNotFound", 404, "The workflow could not be found."),
    (
        "TriggerInputSchemaMismatch",
        400,
        "The input body for trigger 'manual' of type 'Request' did not match its schema definition.",
    ),
    (
        "DirectApiRequestHasMoreThanOneAuthorization",
        400,
        "The request has both SAS authentication scheme and 'Bearer' authorization scheme. Only one scheme \
         should be used.",
    ),
    (
        "MisMatchingOAuthClaims",
        403,
        "One or more claims either missing or does not match with the open authentication access control policy.",
    ),
    (
        "WorkflowRequestsThrottled",
        429,
        "The workflow has too many requests; the request was throttled. Retry after the interval in the \
         Retry-After header.",
    ),
    ("ActionResponseTimedOut", 504, "The execution of template action 'Response' timed out."),
];

/// The row of [`TRIGGER_ERRORS`] for `code`.
pub(crate) fn trigger_error(code: &str) -> Option<(&'static str, u16, &'static str)> {
    TRIGGER_ERRORS.iter().copied().find(|(c, _, _)| *c == code)
}

impl FlowFault {
    /// A status fault for any flow. Not validated here: from Rust, a status
    /// outside [`FLOW_FAULT_STATUSES`] is served with a generic error code
    /// (500 if it is no HTTP status at all); the JSON form refuses it.
    pub fn status(status: u16) -> Self {
        Self { action: FlowFaultAction::Status { status, retry_after: None }, flow_id: None, code: None }
    }

    /// A 429 or 503 (or any status) with `Retry-After: secs`.
    pub fn status_retry_after(status: u16, secs: u64) -> Self {
        Self { action: FlowFaultAction::Status { status, retry_after: Some(secs) }, flow_id: None, code: None }
    }

    /// A delay before normal processing, for any flow.
    pub fn delay_ms(delay_ms: u64) -> Self {
        Self { action: FlowFaultAction::Delay { delay_ms }, flow_id: None, code: None }
    }

    /// The trigger's answer with this `error.code` (one of
    /// [`TRIGGER_ERRORS`]) and its status. From Rust an unknown code is
    /// served as a 400 with a generic message; the JSON form refuses it.
    pub fn code(code: &'static str) -> Self {
        let status = trigger_error(code).map_or(400, |(_, s, _)| s);
        Self {
            action: FlowFaultAction::Status { status, retry_after: None },
            flow_id: None,
            code: Some(code.to_owned()),
        }
    }

    /// The same fault, restricted to one flow.
    #[must_use]
    pub fn for_flow(mut self, flow_id: impl Into<String>) -> Self {
        self.flow_id = Some(flow_id.into());
        self
    }

    /// Whether a request for `flow_id` takes this fault.
    pub(crate) fn applies_to(&self, flow_id: &str) -> bool {
        self.flow_id.as_deref().is_none_or(|f| f == flow_id)
    }
}

/// The JSON shape: exactly one of `status` and `delay_ms`, optional
/// `retry_after` (with `status` 429/503) and `flow_id`.
#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FlowFaultWire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retry_after: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    delay_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    flow_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    code: Option<String>,
}

fn check_status(status: u16, retry_after: Option<u64>) -> Result<(), String> {
    if !FLOW_FAULT_STATUSES.contains(&status) {
        return Err(format!("status {status} is not a flow fault status ({FLOW_FAULT_STATUSES:?})"));
    }
    if retry_after.is_some() && status != 429 && status != 503 {
        return Err("retry_after goes with status 429 or 503 only".to_owned());
    }
    Ok(())
}

impl TryFrom<FlowFaultWire> for FlowFault {
    type Error = String;

    fn try_from(w: FlowFaultWire) -> Result<Self, String> {
        if w.flow_id.as_deref().is_some_and(str::is_empty) {
            return Err("flow_id is empty; leave it out to match every flow".to_owned());
        }
        let code = match w.code.as_deref() {
            None => None,
            Some(c) => {
                let (code, status, _) = trigger_error(c).ok_or_else(|| {
                    let known: Vec<&str> = TRIGGER_ERRORS.iter().map(|(c, _, _)| *c).collect();
                    format!("code {c:?} is not emulated; known codes: {}", known.join(", "))
                })?;
                if w.delay_ms.is_some() {
                    return Err("code goes with an answer, not with delay_ms".to_owned());
                }
                if w.status.is_some_and(|s| s != status) {
                    return Err(format!("{code} is answered with status {status}"));
                }
                if w.retry_after.is_some() && status != 429 && status != 503 {
                    return Err("retry_after goes with status 429 or 503 only".to_owned());
                }
                let action = FlowFaultAction::Status { status, retry_after: w.retry_after };
                return Ok(Self { action, flow_id: w.flow_id, code: Some(code.to_owned()) });
            }
        };
        let action = match (w.status, w.delay_ms) {
            (Some(status), None) => {
                check_status(status, w.retry_after)?;
                FlowFaultAction::Status { status, retry_after: w.retry_after }
            }
            (None, Some(_)) if w.retry_after.is_some() => {
                return Err("retry_after goes with status 429 or 503 only".to_owned())
            }
            (None, Some(ms)) if ms <= MAX_DELAY_MS => FlowFaultAction::Delay { delay_ms: ms },
            (None, Some(_)) => return Err(format!("delay_ms is at most {MAX_DELAY_MS}")),
            _ => return Err("a flow fault has exactly one of \"status\" or \"delay_ms\"".to_owned()),
        };
        Ok(Self { action, flow_id: w.flow_id, code })
    }
}

impl From<FlowFault> for FlowFaultWire {
    fn from(f: FlowFault) -> Self {
        let mut w = Self { flow_id: f.flow_id, code: f.code, ..Self::default() };
        match f.action {
            FlowFaultAction::Status { status, retry_after } => {
                w.status = Some(status);
                w.retry_after = retry_after;
            }
            FlowFaultAction::Delay { delay_ms } => w.delay_ms = Some(delay_ms),
        }
        w
    }
}

/// The standing behaviour of every flow. The default is "healthy".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "FlowBehaviourWire", into = "FlowBehaviourWire")]
pub struct FlowBehaviour {
    /// Every trigger request is answered 503 while true.
    pub down: bool,
    /// Probability in [0, 1] that a request fails with `failure_status`.
    pub failure_rate: f64,
    /// Status of a random failure (one of [`FLOW_FAULT_STATUSES`]; 500 by
    /// default).
    pub failure_status: u16,
    /// `Retry-After` seconds on the 503s of `down` and on 429/503 failures.
    pub retry_after: Option<u64>,
    /// Seed of the failure draws; `None`: a fresh random seed.
    pub seed: Option<u64>,
}

impl Default for FlowBehaviour {
    fn default() -> Self {
        Self { down: false, failure_rate: 0.0, failure_status: 500, retry_after: None, seed: None }
    }
}

impl FlowBehaviour {
    /// Every request answered 503, with `Retry-After` when given.
    pub fn down(retry_after: Option<u64>) -> Self {
        Self { down: true, retry_after, ..Self::default() }
    }

    /// Requests fail with `status` at probability `rate`, seeded.
    pub fn failing(rate: f64, status: u16, seed: u64) -> Self {
        Self { failure_rate: rate, failure_status: status, seed: Some(seed), ..Self::default() }
    }

    /// Whether the settings are usable (also applied to the JSON form).
    ///
    /// # Errors
    /// A rate outside [0, 1] (or not a number), or a status outside
    /// [`FLOW_FAULT_STATUSES`]; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.failure_rate) {
            return Err(format!("failure_rate {} is not within [0, 1]", self.failure_rate));
        }
        if !FLOW_FAULT_STATUSES.contains(&self.failure_status) {
            return Err(format!(
                "failure_status {} is not a flow fault status ({FLOW_FAULT_STATUSES:?})",
                self.failure_status
            ));
        }
        Ok(())
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FlowBehaviourWire {
    #[serde(default)]
    down: bool,
    #[serde(default)]
    failure_rate: f64,
    #[serde(default = "default_failure_status")]
    failure_status: u16,
    #[serde(default)]
    retry_after: Option<u64>,
    #[serde(default)]
    seed: Option<u64>,
}

fn default_failure_status() -> u16 {
    500
}

impl TryFrom<FlowBehaviourWire> for FlowBehaviour {
    type Error = String;

    fn try_from(w: FlowBehaviourWire) -> Result<Self, String> {
        let b = Self {
            down: w.down,
            failure_rate: w.failure_rate,
            failure_status: w.failure_status,
            retry_after: w.retry_after,
            seed: w.seed,
        };
        b.validate()?;
        Ok(b)
    }
}

impl From<FlowBehaviour> for FlowBehaviourWire {
    fn from(b: FlowBehaviour) -> Self {
        Self {
            down: b.down,
            failure_rate: b.failure_rate,
            failure_status: b.failure_status,
            retry_after: b.retry_after,
            seed: b.seed,
        }
    }
}

/// The trigger's error for an injected status: `(error.code, error.message)`.
pub(crate) fn error_of(status: u16) -> (&'static str, &'static str) {
    match status {
        // The emulator's choice: the code Logic Apps uses when a body fails
        // the trigger's schema (§4: "a non-matching body returns HTTP 400").
        400 => (
            "TriggerInputSchemaMismatch",
            "The input body for trigger 'manual' of type 'Request' did not match its schema definition.",
        ),
        // §4: the wrong-claims answer, seen as 401 or 403.
        403 => (
            "MisMatchingOAuthClaims",
            "One or more claims either missing or does not match with the open authentication access \
             control policy.",
        ),
        // The emulator's own answer for an unknown workflow (flow.rs).
        404 => ("WorkflowNotFound", "The workflow could not be found."),
        // From here on the emulator's choice (not in §4).
        408 => ("RequestTimeout", "The request timed out before it was fully received."),
        // "Could NOT confirm" 3: no 429 from a trigger was ever confirmed.
        429 => (
            "WorkflowRequestsThrottled",
            "The workflow has too many requests; the request was throttled. Retry after the interval in \
             the Retry-After header.",
        ),
        500 => ("InternalServerError", "The server encountered an internal error. Please retry the request."),
        502 => ("BadGateway", "The service received an invalid response from an upstream server."),
        503 => ("ServiceUnavailable", "The service is temporarily unavailable. Please retry the request."),
        // §4: a Response action that does not run in time yields 504.
        504 => (
            "ActionResponseTimedOut",
            "The execution of template action 'Response' timed out: the client application timed out \
             waiting for a response from the service.",
        ),
        _ => ("InjectedFault", "Emulated error (injected fault)."),
    }
}

/// The status to answer for an injected `status` (500 if it is not a
/// status at all, which only a fault built in Rust can carry).
pub(crate) fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(s: &str) -> Result<FlowFault, String> {
        serde_json::from_str(s).map_err(|e| e.to_string())
    }

    #[test]
    fn json_forms_round_trip() {
        for (json, fault) in [
            (r#"{"status":500}"#, FlowFault::status(500)),
            (r#"{"status":429,"retry_after":7}"#, FlowFault::status_retry_after(429, 7)),
            (r#"{"status":503,"retry_after":0}"#, FlowFault::status_retry_after(503, 0)),
            (r#"{"delay_ms":250}"#, FlowFault::delay_ms(250)),
            (r#"{"status":404,"flow_id":"abc"}"#, FlowFault::status(404).for_flow("abc")),
            (r#"{"delay_ms":1,"flow_id":"abc"}"#, FlowFault::delay_ms(1).for_flow("abc")),
        ] {
            assert_eq!(parse(json).unwrap(), fault, "{json}");
            assert_eq!(serde_json::to_string(&fault).unwrap(), json);
        }
        for s in FLOW_FAULT_STATUSES {
            assert_eq!(parse(&format!(r#"{{"status":{s}}}"#)).unwrap(), FlowFault::status(s));
        }
    }

    #[test]
    fn bad_faults_are_refused_with_a_reason() {
        for (json, why) in [
            (r#"{"status":401}"#, "not a flow fault status"),
            (r#"{"status":200}"#, "not a flow fault status"),
            (r#"{"status":500,"retry_after":1}"#, "retry_after"),
            (r#"{"delay_ms":5,"retry_after":1}"#, "retry_after"),
            (r#"{"status":500,"delay_ms":1}"#, "exactly one"),
            (r#"{}"#, "exactly one"),
            (r#"{"flow_id":"x"}"#, "exactly one"),
            (r#"{"status":500,"flow_id":""}"#, "flow_id is empty"),
            (r#"{"delay_ms":600001}"#, "at most"),
            (r#"{"status":500,"after_accept":true}"#, "unknown field"),
        ] {
            let e = parse(json).unwrap_err();
            assert!(e.contains(why), "{json}: {e}");
        }
    }

    #[test]
    fn behaviour_json_defaults_and_validation() {
        let b: FlowBehaviour = serde_json::from_value(json!({})).unwrap();
        assert_eq!(b, FlowBehaviour::default());
        let b: FlowBehaviour = serde_json::from_value(json!({"down": true, "retry_after": 5})).unwrap();
        assert_eq!(b, FlowBehaviour::down(Some(5)));
        let b: FlowBehaviour =
            serde_json::from_value(json!({"failure_rate": 0.25, "failure_status": 502, "seed": 9})).unwrap();
        assert_eq!(b, FlowBehaviour::failing(0.25, 502, 9));
        assert_eq!(
            serde_json::to_value(&b).unwrap(),
            json!({"down": false, "failure_rate": 0.25, "failure_status": 502, "retry_after": null, "seed": 9})
        );
        for (v, why) in [
            (json!({"failure_rate": 1.5}), "within [0, 1]"),
            (json!({"failure_rate": -0.1}), "within [0, 1]"),
            (json!({"failure_status": 418}), "failure_status 418"),
            (json!({"down": "yes"}), "invalid type"),
            (json!({"downn": true}), "unknown field"),
        ] {
            let e = serde_json::from_value::<FlowBehaviour>(v.clone()).unwrap_err().to_string();
            assert!(e.contains(why), "{v}: {e}");
        }
        let nan = FlowBehaviour { failure_rate: f64::NAN, ..FlowBehaviour::default() };
        assert!(nan.validate().is_err());
    }

    #[test]
    fn faults_can_name_the_triggers_own_answers_by_code() {
        let f = parse(r#"{"code":"DirectApiRequestHasMoreThanOneAuthorization"}"#).unwrap();
        assert_eq!(f, FlowFault::code("DirectApiRequestHasMoreThanOneAuthorization"));
        assert_eq!(f.action, FlowFaultAction::Status { status: 400, retry_after: None });
        let f = parse(r#"{"code":"WorkflowRequestsThrottled","retry_after":4,"flow_id":"x"}"#).unwrap();
        assert_eq!(f.action, FlowFaultAction::Status { status: 429, retry_after: Some(4) });
        assert_eq!(
            serde_json::to_string(&f).unwrap(),
            r#"{"status":429,"retry_after":4,"flow_id":"x","code":"WorkflowRequestsThrottled"}"#
        );
        assert_eq!(parse(&serde_json::to_string(&f).unwrap()).unwrap(), f);
        for (json, why) in [
            (r#"{"code":"Nope"}"#, "not emulated"),
            (r#"{"code":"WorkflowNotFound","status":400}"#, "status 404"),
            (r#"{"code":"WorkflowNotFound","retry_after":1}"#, "retry_after"),
            (r#"{"code":"WorkflowNotFound","delay_ms":1}"#, "delay_ms"),
        ] {
            let e = parse(json).unwrap_err();
            assert!(e.contains(why), "{json}: {e}");
        }
    }

    #[test]
    fn every_fault_status_has_its_own_code() {
        let codes: std::collections::HashSet<&str> = FLOW_FAULT_STATUSES.iter().map(|&s| error_of(s).0).collect();
        assert_eq!(codes.len(), FLOW_FAULT_STATUSES.len());
        assert_eq!(error_of(403).0, "MisMatchingOAuthClaims");
        assert_eq!(error_of(404).0, "WorkflowNotFound");
        assert!(!codes.contains("InjectedFault"));
    }
}
