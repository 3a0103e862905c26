//! Plaid's `POST /webhook_verification_key/get`
//! (<https://plaid.com/docs/api/webhooks/webhook-verification/>): the body
//! `{"client_id", "secret", "key_id"}` (Plaid also takes the credentials in
//! `PLAID-CLIENT-ID` / `PLAID-SECRET` headers) is answered with
//! `{"key": <JWK>, "request_id"}` for the configured key, or 400 with Plaid's
//! error object. The error codes for bad credentials (`INVALID_API_KEYS`)
//! and an unknown key id (`INVALID_WEBHOOK_VERIFICATION_KEY_ID`) follow
//! Plaid's error list as remembered; the search tool did not confirm the
//! second one.

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::State as AxState,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use flowgate_core::{
    secret::ct_eq,
    verify::{plaid, sendgrid},
    Secret,
};
use serde_json::{json, Value};

use super::state::State;

fn request_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..15].to_owned()
}

/// A Plaid error answer (HTTP 400).
fn error(error_type: &str, code: &str, message: &str) -> Response {
    let body = json!({
        "display_message": null,
        "error_code": code,
        "error_message": message,
        "error_type": error_type,
        "request_id": request_id(),
    });
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
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
