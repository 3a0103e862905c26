//! Plaid's `POST /webhook_verification_key/get`
//! (<https://plaid.com/docs/api/webhooks/webhook-verification/>): the body
//! `{"client_id", "secret", "key_id"}` (Plaid also takes the credentials in
//! `PLAID-CLIENT-ID` / `PLAID-SECRET` headers) is answered with
//! `{"key": <JWK>, "request_id"}` for the configured key, or 400 with Plaid's
//! error object. The error codes for bad credentials (`INVALID_API_KEYS`)
//! and an unknown key id (`INVALID_WEBHOOK_VERIFICATION_KEY_ID`) follow
//! Plaid's error list as remembered; the search tool did not confirm the
//! second one.
//!
//! **Faults.** `POST /_emulator/faults` with `{"plaid": [fault, ...]}`
//! (appended; `"token"` and `"flow"` may sit beside it) or
//! [`crate::Emulator::inject_plaid_faults`] queues faults, served one per key
//! request before it is processed, each with Plaid's error object
//! (<https://plaid.com/docs/errors/>: `error_type`, `error_code`,
//! `error_message`, `display_message`, `request_id`):
//!
//! | JSON | answer |
//! |---|---|
//! | `{"status":429,"retry_after":N}` | 429 `RATE_LIMIT_EXCEEDED` / `RATE_LIMIT`, `Retry-After: N` when given |
//! | `{"status":500}` | 500 `API_ERROR` / `INTERNAL_SERVER_ERROR` ("an unexpected error occurred", Plaid's sample) |
//! | `{"status":503}` | 503 `API_ERROR` / `PLANNED_MAINTENANCE` (Plaid's 503) |
//! | `{"delay_ms":N}` | sleeps N ms, then answers normally |
//!
//! Plaid documents per-endpoint codes for rate limits (`ACCOUNTS_LIMIT`, …)
//! and none for this endpoint; `RATE_LIMIT` and the `Retry-After` header
//! (Plaid documents none) are the emulator's choices.

use std::{sync::Arc, time::Duration};

use axum::{
    body::Bytes,
    extract::State as AxState,
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use flowgate_core::{
    secret::ct_eq,
    verify::{plaid, sendgrid},
    Secret,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::{state::State, types::MAX_DELAY_MS};

/// One fault for one Plaid key request. JSON forms in the module docs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PlaidFaultWire", into = "PlaidFaultWire")]
pub enum PlaidFault {
    /// 429 `RATE_LIMIT_EXCEEDED`, with `Retry-After` when given.
    RateLimited {
        /// Seconds in `Retry-After`.
        retry_after: Option<u64>,
    },
    /// 500 `API_ERROR` / `INTERNAL_SERVER_ERROR`.
    InternalServerError,
    /// 503 `API_ERROR` / `PLANNED_MAINTENANCE`.
    Unavailable,
    /// Wait, then answer normally.
    Delay {
        /// Milliseconds to wait.
        delay_ms: u64,
    },
}

#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlaidFaultWire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retry_after: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    delay_ms: Option<u64>,
}

impl TryFrom<PlaidFaultWire> for PlaidFault {
    type Error = String;

    fn try_from(w: PlaidFaultWire) -> Result<Self, String> {
        if w.retry_after.is_some() && w.status != Some(429) {
            return Err("retry_after goes with \"status\": 429 only".to_owned());
        }
        match (w.status, w.delay_ms) {
            (Some(429), None) => Ok(Self::RateLimited { retry_after: w.retry_after }),
            (Some(500), None) => Ok(Self::InternalServerError),
            (Some(503), None) => Ok(Self::Unavailable),
            (Some(s), None) => Err(format!("status {s} is not a Plaid fault status (429, 500 or 503)")),
            (None, Some(ms)) if ms <= MAX_DELAY_MS => Ok(Self::Delay { delay_ms: ms }),
            (None, Some(_)) => Err(format!("delay_ms is at most {MAX_DELAY_MS}")),
            _ => Err("a Plaid fault has exactly one of \"status\" or \"delay_ms\"".to_owned()),
        }
    }
}

impl From<PlaidFault> for PlaidFaultWire {
    fn from(f: PlaidFault) -> Self {
        match f {
            PlaidFault::RateLimited { retry_after } => Self { status: Some(429), retry_after, ..Self::default() },
            PlaidFault::InternalServerError => Self { status: Some(500), ..Self::default() },
            PlaidFault::Unavailable => Self { status: Some(503), ..Self::default() },
            PlaidFault::Delay { delay_ms } => Self { delay_ms: Some(delay_ms), ..Self::default() },
        }
    }
}

/// The answer of a fault other than a delay.
fn fault_answer(fault: &PlaidFault) -> Response {
    let (status, error_type, code, message, retry_after) = match *fault {
        PlaidFault::RateLimited { retry_after } => (
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMIT_EXCEEDED",
            "RATE_LIMIT",
            "rate limit exceeded for attempts to access this endpoint. please try again later",
            retry_after,
        ),
        PlaidFault::Unavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            "API_ERROR",
            "PLANNED_MAINTENANCE",
            "the Plaid API is temporarily unavailable due to planned maintenance",
            None,
        ),
        // A delay never gets here (the handler sleeps instead).
        PlaidFault::InternalServerError | PlaidFault::Delay { .. } => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "API_ERROR",
            "INTERNAL_SERVER_ERROR",
            "an unexpected error occurred",
            None,
        ),
    };
    let mut resp = error_with(status, error_type, code, message);
    if let Some(secs) = retry_after {
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}

fn request_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..15].to_owned()
}

/// A Plaid error answer (HTTP 400).
fn error(error_type: &str, code: &str, message: &str) -> Response {
    error_with(StatusCode::BAD_REQUEST, error_type, code, message)
}

/// A Plaid error answer with `status`.
fn error_with(status: StatusCode, error_type: &str, code: &str, message: &str) -> Response {
    let body = json!({
        "display_message": null,
        "error_code": code,
        "error_message": message,
        "error_type": error_type,
        "request_id": request_id(),
    });
    (status, Json(body)).into_response()
}

/// The public JWK the emulator serves (as Plaid returns it).
pub(crate) fn served_jwk(st: &State) -> Value {
    let cfg = &st.config().plaid;
    let key = sendgrid::signing_key(&Secret::new(cfg.private_key.clone())).expect("validated with the configuration");
    let mut jwk = plaid::public_jwk(key.verifying_key(), &cfg.kid, 1_560_466_143);
    jwk["expired_at"] = cfg.expired_at.map_or(Value::Null, Value::from);
    jwk
}

/// `POST /webhook_verification_key/get`.
pub(crate) async fn key_get(AxState(st): AxState<Arc<State>>, headers: HeaderMap, body: Bytes) -> Response {
    st.record_plaid_key_request();
    match st.next_plaid_fault() {
        None => {}
        Some(PlaidFault::Delay { delay_ms }) => tokio::time::sleep(Duration::from_millis(delay_ms)).await,
        Some(fault) => return fault_answer(&fault),
    }
    let Ok(Value::Object(req)) = serde_json::from_slice::<Value>(&body) else {
        return error("INVALID_REQUEST", "INVALID_BODY", "body could not be parsed as JSON");
    };
    let field = |name: &str, header: &str| {
        req.get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| headers.get(header).and_then(|v| v.to_str().ok()).map(str::to_owned))
    };
    let cfg = &st.config().plaid;
    let client_ok = field("client_id", "plaid-client-id").is_some_and(|c| c == cfg.client_id);
    let secret_ok = field("secret", "plaid-secret").is_some_and(|s| ct_eq(s.as_bytes(), cfg.secret.as_bytes()));
    if !client_ok || !secret_ok {
        return error("INVALID_INPUT", "INVALID_API_KEYS", "invalid client_id or secret provided");
    }
    let Some(key_id) = req.get("key_id").and_then(Value::as_str) else {
        return error("INVALID_REQUEST", "MISSING_FIELDS", "the following required fields are missing: key_id");
    };
    if key_id != cfg.kid {
        return error(
            "INVALID_INPUT",
            "INVALID_WEBHOOK_VERIFICATION_KEY_ID",
            "invalid key_id provided to the webhook verification endpoint",
        );
    }
    Json(json!({ "key": served_jwk(&st), "request_id": request_id() })).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<PlaidFault, String> {
        serde_json::from_str(s).map_err(|e| e.to_string())
    }

    #[test]
    fn json_forms_round_trip_and_bad_ones_are_refused() {
        for (json, fault) in [
            (r#"{"status":429,"retry_after":5}"#, PlaidFault::RateLimited { retry_after: Some(5) }),
            (r#"{"status":429}"#, PlaidFault::RateLimited { retry_after: None }),
            (r#"{"status":500}"#, PlaidFault::InternalServerError),
            (r#"{"status":503}"#, PlaidFault::Unavailable),
            (r#"{"delay_ms":20}"#, PlaidFault::Delay { delay_ms: 20 }),
        ] {
            assert_eq!(parse(json).unwrap(), fault, "{json}");
            assert_eq!(serde_json::to_string(&fault).unwrap(), json);
        }
        for (json, why) in [
            (r#"{"status":400}"#, "not a Plaid fault status"),
            (r#"{"status":500,"retry_after":1}"#, "retry_after"),
            (r#"{}"#, "exactly one"),
            (r#"{"status":500,"delay_ms":1}"#, "exactly one"),
            (r#"{"code":"X"}"#, "unknown field"),
        ] {
            let e = parse(json).unwrap_err();
            assert!(e.contains(why), "{json}: {e}");
        }
    }
}
