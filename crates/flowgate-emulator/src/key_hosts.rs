//! eBay's and Circle's notification key endpoints (issue 15), for the
//! Worker's fetcher of keys by id (`src/fetched_keys.rs`):
//!
//! - eBay: `POST /identity/v1/oauth2/token` (client credentials grant:
//!   `Authorization: Basic base64(client_id:client_secret)`, form
//!   `grant_type=client_credentials&scope=https://api.ebay.com/oauth/api_scope`)
//!   answered `{"access_token", "expires_in": 7200, "token_type": "Application
//!   Access Token"}`, or 401 `{"error": "invalid_client"}`; then `GET
//!   /commerce/notification/v1/public_key/{kid}` with `Bearer <token>`,
//!   answered `{"key": <one-line PEM>, "algorithm": "ECDSA", "digest":
//!   "SHA1"}`, 404 with eBay's error object for another kid, 401 for
//!   another token (eBay's documented shapes; the error ids are the
//!   emulator's choice).
//! - Circle: `GET /v2/notifications/publicKey/{id}` with `Bearer <API key>`,
//!   answered `{"data": {"id", "algorithm": "ECDSA_SHA_256", "publicKey",
//!   "createdDate"}}`, 404 `{"code": 404, "message"}` for another id, 401
//!   for another key.
//!
//! **Faults.** `POST /_emulator/faults` with `{"ebay": [...]}` or
//! `{"circle": [...]}` queues faults of Plaid's forms (`{"status": 429,
//! "retry_after": N}`, `{"status": 500}`, `{"status": 503}`, `{"delay_ms":
//! N}`), served one per key request (not per token request).

use std::{sync::Arc, time::Duration};

use axum::{
    body::Bytes,
    extract::{Path, State as AxState},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use base64::{engine::general_purpose::STANDARD, Engine};
use flowgate_core::{
    secret::ct_eq,
    verify::{circle, ebay},
    Secret,
};
use serde_json::json;

use crate::{
    config::{
        DEMO_CIRCLE_API_KEY, DEMO_CIRCLE_PRIVATE_KEY, DEMO_EBAY_CLIENT_ID, DEMO_EBAY_CLIENT_SECRET,
        DEMO_EBAY_PRIVATE_KEY,
    },
    plaid::PlaidFault,
    state::State,
};

/// The application token the emulated eBay token endpoint issues (fixed:
/// the emulator holds no per-token state for eBay).
pub const DEMO_EBAY_APP_TOKEN: &str = "v^1.1#i^1#f^0#p^1#I^3#r^0#t^flowgate-demo-application-token";

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ")
}

/// A fault's answer, or `None` to go on (after any delay).
async fn fault(st: &State, host: &str) -> Option<Response> {
    let (status, retry_after) = match st.next_key_host_fault(host)? {
        PlaidFault::Delay { delay_ms } => {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            return None;
        }
        PlaidFault::RateLimited { retry_after } => (StatusCode::TOO_MANY_REQUESTS, retry_after),
        PlaidFault::InternalServerError => (StatusCode::INTERNAL_SERVER_ERROR, None),
        PlaidFault::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, None),
    };
    let body = if host == "ebay" {
        json!({"errors": [{"errorId": 195000 + u32::from(status.as_u16()), "domain": "API_NOTIFICATION",
                           "category": "APPLICATION", "message": status.canonical_reason()}]})
    } else {
        json!({"code": status.as_u16(), "message": status.canonical_reason()})
    };
    let mut resp = (status, Json(body)).into_response();
    if let Some(secs) = retry_after {
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    Some(resp)
}

/// `POST /identity/v1/oauth2/token` (eBay).
pub(crate) async fn ebay_token(AxState(st): AxState<Arc<State>>, headers: HeaderMap, body: Bytes) -> Response {
    st.record_key_host_request("ebay-token");
    let expected = STANDARD.encode(format!("{DEMO_EBAY_CLIENT_ID}:{DEMO_EBAY_CLIENT_SECRET}"));
    let given = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Basic "));
    if !given.is_some_and(|g| ct_eq(g.as_bytes(), expected.as_bytes())) {
        let body = json!({"error": "invalid_client", "error_description": "client authentication failed"});
        return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    }
    let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if field("grant_type") != Some("client_credentials") {
        let body = json!({"error": "unsupported_grant_type", "error_description": "grant type in request is not supported by the authorization server"});
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    }
    if field("scope") != Some(ebay::API_SCOPE) {
        let body = json!({"error": "invalid_scope", "error_description": "The requested scope is invalid, unknown, malformed, or exceeds the scope granted to the client"});
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    }
    Json(json!({"access_token": DEMO_EBAY_APP_TOKEN, "expires_in": 7200, "token_type": "Application Access Token"}))
        .into_response()
}

/// `GET /commerce/notification/v1/public_key/{kid}` (eBay).
pub(crate) async fn ebay_key(
    AxState(st): AxState<Arc<State>>,
    Path(kid): Path<String>,
    headers: HeaderMap,
) -> Response {
    st.record_key_host_request("ebay-key");
    if let Some(resp) = fault(&st, "ebay").await {
        return resp;
    }
    if !bearer(&headers).is_some_and(|t| ct_eq(t.as_bytes(), DEMO_EBAY_APP_TOKEN.as_bytes())) {
        let body = json!({"errors": [{"errorId": 1001, "domain": "OAuth", "category": "REQUEST",
                                      "message": "Invalid access token"}]});
        return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    }
    if kid != ebay::TEST_KID {
        let body = json!({"errors": [{"errorId": 195001, "domain": "API_NOTIFICATION", "category": "REQUEST",
                                      "message": "The specified public key id was not found."}]});
        return (StatusCode::NOT_FOUND, Json(body)).into_response();
    }
    Json(ebay::key_answer(&Secret::new(DEMO_EBAY_PRIVATE_KEY)).expect("a valid test key")).into_response()
}

/// `GET /v2/notifications/publicKey/{id}` (Circle).
pub(crate) async fn circle_key(
    AxState(st): AxState<Arc<State>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    st.record_key_host_request("circle-key");
    if let Some(resp) = fault(&st, "circle").await {
        return resp;
    }
    if !bearer(&headers).is_some_and(|t| ct_eq(t.as_bytes(), DEMO_CIRCLE_API_KEY.as_bytes())) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"code": 401, "message": "Malformed authorization."})))
            .into_response();
    }
    if !id.eq_ignore_ascii_case(circle::TEST_KEY_ID) {
        return (StatusCode::NOT_FOUND, Json(json!({"code": 404, "message": "Resource not found"}))).into_response();
    }
    Json(circle::key_answer(&Secret::new(DEMO_CIRCLE_PRIVATE_KEY), circle::TEST_KEY_ID).expect("a valid test key"))
        .into_response()
}
