//! A generic alert sink (a stand-in for a Teams workflow, Slack or JSON
//! incoming webhook): `POST /alerts/sink` records what it is sent and
//! answers 200; `GET /_emulator/alerts` lists the recorded alerts, oldest
//! first; `DELETE /_emulator/alerts` forgets them. Not a Microsoft service:
//! flowgate's `[vars.FLOWGATE.alerts]` can point at it in tests and demos.

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::State as AxState,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::{state::State, types::now_millis};

/// The sink's path.
pub const SINK_PATH: &str = "/alerts/sink";

/// One request the sink received.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReceivedAlert {
    /// Unix milliseconds.
    pub received_at_ms: u64,
    /// The request's `content-type`.
    pub content_type: Option<String>,
    /// The body as JSON (`null` if it was not JSON).
    pub body: Value,
    /// The body as text.
    pub text: String,
}

/// `POST /alerts/sink`.
pub(crate) async fn sink(AxState(st): AxState<Arc<State>>, headers: HeaderMap, body: Bytes) -> Response {
    let text = String::from_utf8_lossy(&body).into_owned();
    let alert = ReceivedAlert {
        received_at_ms: now_millis(),
        content_type: headers.get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        text,
    };
    st.record_alert(alert);
    (StatusCode::OK, "1").into_response()
}

/// `GET /_emulator/alerts`: `{"alerts": [...]}`.
pub(crate) async fn list(AxState(st): AxState<Arc<State>>) -> Response {
    Json(json!({ "alerts": st.alerts() })).into_response()
}

/// `DELETE /_emulator/alerts`.
pub(crate) async fn clear(AxState(st): AxState<Arc<State>>) -> Response {
    st.clear_alerts();
    StatusCode::NO_CONTENT.into_response()
}
