//! Inspection endpoints under `/_emulator/` (for tests and for a person trying
//! the emulator) and the plain-text index at `/`. None of these exist in the
//! real services.

use std::sync::Arc;

use axum::{
    extract::State as AxState,
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;

use super::{flow::trigger_path, state::State};

/// `GET /_emulator/runs`: `{"runs": [FlowRun...]}`.
pub(crate) async fn runs(AxState(st): AxState<Arc<State>>) -> Response {
    Json(json!({ "runs": st.runs() })).into_response()
}

/// `GET /_emulator/stats`.
pub(crate) async fn stats(AxState(st): AxState<Arc<State>>) -> Response {
    Json(st.stats()).into_response()
}

/// `POST /_emulator/revoke`: every token issued so far is rejected from now on.
pub(crate) async fn revoke(AxState(st): AxState<Arc<State>>) -> Response {
    let n = st.revoke_tokens_issued_before_now();
    Json(json!({ "revoked_tokens": n })).into_response()
}

/// `POST /_emulator/reset`: clear runs and counters.
pub(crate) async fn reset(AxState(st): AxState<Arc<State>>) -> Response {
    st.reset();
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /`: what this server is and which endpoints it has.
pub(crate) async fn index(AxState(st): AxState<Arc<State>>) -> String {
    let base = st.base_url();
    let mut s = format!(
        "flowgate emulator: Microsoft Entra ID (client credentials) + Power Automate HTTP triggers\n\
         \n\
         Entra (authority host {base}):\n\
         \x20 POST {base}/{{tenant}}/oauth2/v2.0/token            form: grant_type=client_credentials, client_id, client_secret (or HTTP Basic), scope\n\
         \x20 GET  {base}/{{tenant}}/discovery/v2.0/keys          JWKS of the RS256 signing key\n\
         \x20 GET  {base}/{{tenant}}/v2.0/.well-known/openid-configuration\n\
         \x20 scope for a flow: {aud}/.default  (note the double slash)\n\
         \n\
         Flow triggers (POST with Authorization: Bearer <token>):\n",
        aud = st.config().flow_audience
    );
    for f in &st.config().flows {
        s.push_str(&format!("  {base}{}?api-version=1   [{}]\n", trigger_path(&f.id), f.who_can_trigger.as_str()));
    }
    s.push_str(&format!(
        "\nInspection:\n\
         \x20 GET  {base}/_emulator/runs     accepted runs (body as base64, and as text when UTF-8)\n\
         \x20 GET  {base}/_emulator/stats    counters and rejections\n\
         \x20 POST {base}/_emulator/revoke   treat every token issued so far as expired\n\
         \x20 POST {base}/_emulator/reset    clear runs and counters\n"
    ));
    s
}
