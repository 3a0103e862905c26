//! Inspection and control endpoints under `/_emulator/` (for tests and for a
//! person trying the emulator) and the plain-text index at `/`. None of these
//! exist in the real services.

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::State as AxState,
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;

use super::{
    config::Cloud,
    faults::{FaultQueue, KNOWN_AADSTS},
    flow::trigger_path,
    state::State,
};

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

/// `POST /_emulator/reset`: clear runs, counters and queued faults.
pub(crate) async fn reset(AxState(st): AxState<Arc<State>>) -> Response {
    st.reset();
    StatusCode::NO_CONTENT.into_response()
}

fn fault_queue(st: &State) -> Response {
    Json(FaultQueue { token: st.token_faults() }).into_response()
}

/// `GET /_emulator/faults`: `{"token": [fault...]}`, the faults not served yet.
pub(crate) async fn faults(AxState(st): AxState<Arc<State>>) -> Response {
    fault_queue(&st)
}

/// `POST /_emulator/faults` with `{"token": [fault...]}`: appends to the
/// queue (all or nothing) and answers with the whole queue. 400 with
/// `{"error": "..."}` when a fault is not understood.
pub(crate) async fn add_faults(AxState(st): AxState<Arc<State>>, body: Bytes) -> Response {
    match serde_json::from_slice::<FaultQueue>(&body) {
        Ok(q) => {
            st.inject_token_faults(q.token);
            fault_queue(&st)
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({
                "error": format!("{e}"),
                "expected": "{\"token\": [{\"status\":429,\"retry_after\":N} | {\"status\":500} | {\"status\":503} | {\"delay_ms\":N} | {\"aadsts\":CODE}, ...]}",
                "known_aadsts": KNOWN_AADSTS,
            })),
        )
            .into_response(),
    }
}

/// `DELETE /_emulator/faults`: drops every queued fault.
pub(crate) async fn clear_faults(AxState(st): AxState<Arc<State>>) -> Response {
    st.clear_token_faults();
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /`: what this server is and which endpoints it has.
pub(crate) async fn index(AxState(st): AxState<Arc<State>>) -> String {
    let base = st.base_url();
    let mut s = format!(
        "flowgate emulator: Microsoft Entra ID (client credentials) + Power Automate HTTP triggers\n\
         \n\
         Entra (authority host {base}, standing in for every cloud's authority):\n\
         \x20 POST {base}/{{tenant}}/oauth2/v2.0/token            form: grant_type=client_credentials, client_id, scope, and\n\
         \x20        either client_secret (or HTTP Basic)\n\
         \x20        or client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer + client_assertion=<JWT>\n\
         \x20           (RS256 + x5t = SHA-1 thumbprint, or PS256 + x5t#S256 = SHA-256 thumbprint, of a registered\n\
         \x20           certificate; aud = {base}/{{tenant}}/oauth2/v2.0/token; iss = sub = client_id; exp; new jti)\n\
         \x20 GET  {base}/{{tenant}}/discovery/v2.0/keys          JWKS of the RS256 signing key\n\
         \x20 GET  {base}/{{tenant}}/v2.0/.well-known/openid-configuration\n\
         \x20 scope for a flow (note the double slash), per cloud:\n"
    );
    for c in Cloud::ALL {
        s.push_str(&format!("    {:<9} {}/.default\n", c.as_str(), st.config().audience_of(c)));
    }
    s.push_str(
        "\nFlow triggers (POST with Authorization: Bearer <token>; the token's aud must be the flow's cloud's):\n",
    );
    for f in &st.config().flows {
        s.push_str(&format!(
            "  {base}{}?api-version=1   [{}, {}]\n",
            trigger_path(&f.id),
            f.cloud.as_str(),
            f.who_can_trigger.as_str()
        ));
    }
    s.push_str(&format!(
        "\nPlaid (plaid_environment = \"{base}\"):\n\
         \x20 POST {base}/webhook_verification_key/get   JSON: client_id, secret, key_id → {{\"key\": JWK}} (kid {})\n",
        st.config().plaid.kid
    ));
    s.push_str(&format!(
        "\nInspection and control:\n\
         \x20 GET    {base}/_emulator/runs     accepted runs (body as base64, and as text when UTF-8)\n\
         \x20 GET    {base}/_emulator/stats    counters and rejections\n\
         \x20 POST   {base}/_emulator/revoke   treat every token issued so far as expired\n\
         \x20 POST   {base}/_emulator/reset    clear runs, counters and queued faults\n\
         \x20 POST   {base}/_emulator/faults   append token-endpoint faults, served one per token request:\n\
         \x20        {{\"token\": [{{\"status\":429,\"retry_after\":60}}, {{\"status\":500}}, {{\"status\":503}}, {{\"delay_ms\":1500}}, {{\"aadsts\":7000222}}]}}\n\
         \x20        aadsts codes: {}\n\
         \x20 GET    {base}/_emulator/faults   faults not served yet\n\
         \x20 DELETE {base}/_emulator/faults   drop queued faults\n",
        KNOWN_AADSTS.map(|c| c.to_string()).join(", ")
    ));
    s
}
