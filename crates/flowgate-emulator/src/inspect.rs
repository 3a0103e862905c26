//! Inspection and control endpoints under `/_emulator/` (for tests and for a
//! person trying the emulator) and the plain-text index at `/`. None of these
//! exist in the real services.

use std::sync::Arc;

use axum::extract::Path;
use axum::{
    body::Bytes,
    extract::{Query, State as AxState},
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use flowgate_core::config::Cloud;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::{
    config::FlowState,
    faults::{TokenFault, KNOWN_AADSTS},
    flow::trigger_path,
    flow_faults::{FlowBehaviour, FlowFault, FLOW_FAULT_STATUSES, TRIGGER_ERRORS},
    plaid::PlaidFault,
    state::State,
};

/// Body of `POST /_emulator/faults` and of `GET` on it. Any key may be left
/// out of a `POST`; `GET` always shows every queue.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FaultQueue {
    /// Faults for the token endpoint, in the order they are served (`faults.rs`).
    #[serde(default)]
    pub(crate) token: Vec<TokenFault>,
    /// Faults for the flow triggers (`flow_faults.rs`), in queue order.
    #[serde(default)]
    pub(crate) flow: Vec<FlowFault>,
    /// Faults for Plaid's key endpoint (`plaid.rs`), in the order they are served.
    #[serde(default)]
    pub(crate) plaid: Vec<PlaidFault>,
    /// Faults for eBay's key endpoint (`key_hosts.rs`), same forms as Plaid's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) ebay: Vec<PlaidFault>,
    /// Faults for Circle's key endpoint (`key_hosts.rs`), same forms as Plaid's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) circle: Vec<PlaidFault>,
}

/// Query of `GET /_emulator/runs`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RunsQuery {
    /// Only runs whose `x-flowgate-delivery` header is this.
    delivery: Option<String>,
    /// Only runs whose `x-flowgate-id` header is this.
    flowgate_id: Option<String>,
    /// `false`: leave out `body_base64`/`body_text` (length and SHA-256
    /// stay), for long runs or large bodies.
    bodies: Option<bool>,
}

/// `GET /_emulator/runs[?delivery=D][&flowgate_id=I][&bodies=false]`:
/// `{"runs": [FlowRun...]}`, accepted runs in order, filtered by header.
pub(crate) async fn runs(AxState(st): AxState<Arc<State>>, Query(q): Query<RunsQuery>) -> Response {
    let with_bodies = q.bodies.unwrap_or(true);
    let runs = st.runs_matching(q.delivery.as_deref(), q.flowgate_id.as_deref(), with_bodies);
    if with_bodies {
        return Json(json!({ "runs": runs })).into_response();
    }
    let runs: Vec<Value> = runs
        .into_iter()
        .map(|r| {
            let mut v = json!(r);
            if let Some(o) = v.as_object_mut() {
                o.remove("body_base64");
                o.remove("body_text");
            }
            v
        })
        .collect();
    Json(json!({ "runs": runs })).into_response()
}

/// `GET /_emulator/runs/summary`: `{"runs": n, "by_flowgate_id": {id: n},
/// "duplicates": [id...], "without_flowgate_id": n}`.
pub(crate) async fn runs_summary(AxState(st): AxState<Arc<State>>) -> Response {
    Json(st.runs_summary()).into_response()
}

/// `GET /_emulator/flow-behaviour`: the behaviour in force.
pub(crate) async fn flow_behaviour(AxState(st): AxState<Arc<State>>) -> Response {
    Json(st.flow_behaviour()).into_response()
}

/// `PUT /_emulator/flow-behaviour` with `{"down": bool, "failure_rate": f,
/// "failure_status": S, "retry_after": N|null, "seed": N|null}` (every field
/// optional; left out means healthy): replaces the behaviour and answers
/// with it. 400 with `{"error": "..."}` when it is not understood.
pub(crate) async fn set_flow_behaviour(AxState(st): AxState<Arc<State>>, body: Bytes) -> Response {
    // Through `Value` so that only an object is taken: serde would read
    // the struct from a JSON array as well.
    let result = serde_json::from_slice::<Value>(&body)
        .map_err(|e| e.to_string())
        .and_then(|v| if v.is_object() { Ok(v) } else { Err("the behaviour is a JSON object".to_owned()) })
        .and_then(|v| serde_json::from_value::<FlowBehaviour>(v).map_err(|e| e.to_string()))
        .and_then(|b| st.set_flow_behaviour(b));
    match result {
        Ok(()) => Json(st.flow_behaviour()).into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({
                "error": e,
                "expected": "{\"down\": false, \"failure_rate\": 0.0..=1.0, \"failure_status\": 500, \"retry_after\": N|null, \"seed\": N|null}",
                "failure_statuses": FLOW_FAULT_STATUSES,
            })),
        )
            .into_response(),
    }
}

/// `DELETE /_emulator/flow-behaviour`: back to healthy (as a reset does,
/// without clearing runs and counters).
pub(crate) async fn clear_flow_behaviour(AxState(st): AxState<Arc<State>>) -> Response {
    // The default behaviour always validates.
    let _ = st.set_flow_behaviour(FlowBehaviour::default());
    StatusCode::NO_CONTENT.into_response()
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

/// `POST /_emulator/reset`: clear runs, counters, queued faults and the
/// flow behaviour.
pub(crate) async fn reset(AxState(st): AxState<Arc<State>>) -> Response {
    st.reset();
    StatusCode::NO_CONTENT.into_response()
}

fn fault_queue(st: &State) -> Response {
    Json(FaultQueue {
        token: st.token_faults(),
        flow: st.flow_faults(),
        plaid: st.plaid_faults(),
        ebay: st.key_host_faults("ebay"),
        circle: st.key_host_faults("circle"),
    })
    .into_response()
}

/// `GET /_emulator/faults`: `{"token": [fault...], "flow": [fault...]}`, the
/// faults not served yet.
pub(crate) async fn faults(AxState(st): AxState<Arc<State>>) -> Response {
    fault_queue(&st)
}

/// `POST /_emulator/faults` with `{"token": [fault...], "flow": [fault...]}`
/// (either key may be left out): appends to the queues (all or nothing) and
/// answers with both queues. 400 with `{"error": "..."}` when a fault is not
/// understood.
pub(crate) async fn add_faults(AxState(st): AxState<Arc<State>>, body: Bytes) -> Response {
    match serde_json::from_slice::<FaultQueue>(&body) {
        Ok(q) => {
            st.inject_faults(q.token, q.flow, q.plaid);
            st.inject_key_host_faults("ebay", q.ebay);
            st.inject_key_host_faults("circle", q.circle);
            fault_queue(&st)
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({
                "error": format!("{e}"),
                "expected": "{\"token\": [{\"status\":429,\"retry_after\":N} | {\"status\":500} | {\"status\":503} | {\"delay_ms\":N} | {\"aadsts\":CODE}, ...], \"flow\": [{\"status\":S} | {\"status\":429|503,\"retry_after\":N} | {\"code\":CODE} | {\"delay_ms\":N}, each with an optional \"flow_id\", ...], \"plaid\": [{\"status\":429,\"retry_after\":N} | {\"status\":500} | {\"status\":503} | {\"delay_ms\":N}, ...]}",
                "known_aadsts": KNOWN_AADSTS,
                "flow_fault_statuses": FLOW_FAULT_STATUSES,
                "flow_fault_codes": TRIGGER_ERRORS.iter().map(|(c, _, _)| *c).collect::<Vec<_>>(),
            })),
        )
            .into_response(),
    }
}

/// `DELETE /_emulator/faults`: drops every queued fault: token, flow and Plaid.
pub(crate) async fn clear_faults(AxState(st): AxState<Arc<State>>) -> Response {
    st.clear_faults();
    StatusCode::NO_CONTENT.into_response()
}

/// One flow as `GET /_emulator/flows` shows it.
fn flow_json(st: &State, id: &str) -> Option<Value> {
    let f = st.config().flows.iter().find(|f| f.id == id)?;
    Some(json!({
        "id": f.id,
        "cloud": f.cloud.name(),
        "who_can_trigger": f.who_can_trigger.as_str(),
        "state": st.flow_state(id).unwrap_or_default().as_str(),
        "request_schema": st.flow_schema_json(id),
        "performance_profile": f.performance_profile,
        "invoke_limit": f.invoke_limit(),
        "invoke_window_secs": f.invoke_window_secs(),
    }))
}

/// `GET /_emulator/flows`: every configured flow with its state in force.
pub(crate) async fn flows(AxState(st): AxState<Arc<State>>) -> Response {
    let flows: Vec<Value> = st.config().flows.iter().filter_map(|f| flow_json(&st, &f.id)).collect();
    Json(json!({ "flows": flows })).into_response()
}

/// What `PUT /_emulator/flows/{id}` may change: either key may be left out.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FlowUpdate {
    #[serde(default)]
    state: Option<FlowState>,
    /// A JSON Schema object, or `null` to remove the schema.
    #[serde(default, with = "present")]
    request_schema: Option<Option<Value>>,
}

/// Tells a JSON `null` (`Some(None)`) from a missing key (`None`).
mod present {
    use serde::{Deserialize, Deserializer};
    use serde_json::Value;

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<Value>>, D::Error> {
        Ok(Some(Option::<Value>::deserialize(d)?))
    }
}

/// `PUT /_emulator/flows/{id}` with `{"state": "enabled"|"disabled"|"suspended"|"deleted"}`
/// and/or `{"request_schema": {...}|null}`: turns a configured flow on or off
/// (or deletes it) and sets its trigger's Request Body JSON Schema, from now
/// on; answers with the flow. 404 for a flow that is not configured, 400
/// for what is not understood.
pub(crate) async fn update_flow(AxState(st): AxState<Arc<State>>, Path(id): Path<String>, body: Bytes) -> Response {
    let bad = |e: String| {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": e, "expected": "{\"state\": \"enabled\"|\"disabled\"|\"suspended\"|\"deleted\", \"request_schema\": {...}|null}"})),
        )
            .into_response()
    };
    if st.flow_state(&id).is_none() {
        return (StatusCode::NOT_FOUND, Json(json!({"error": format!("no flow {id:?} is configured")})))
            .into_response();
    }
    let update = match serde_json::from_slice::<FlowUpdate>(&body) {
        Ok(u) => u,
        Err(e) => return bad(e.to_string()),
    };
    if let Some(schema) = &update.request_schema {
        if let Err(e) = st.set_flow_schema(&id, schema.as_ref()) {
            return bad(e);
        }
    }
    if let Some(state) = update.state {
        if let Err(e) = st.set_flow_state(&id, state) {
            return bad(e);
        }
    }
    Json(flow_json(&st, &id)).into_response()
}

/// `GET /`: what this server is and which endpoints it has.
pub(crate) async fn index(AxState(st): AxState<Arc<State>>, headers: axum::http::HeaderMap) -> String {
    let origin = st.origin(&headers);
    let base = origin.as_str();
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
         \x20 GET  {base}/{{tenant}}/v2.0/.well-known/openid-configuration   (v1: {base}/{{tenant}}/.well-known/openid-configuration)\n\
         \x20 GET  {base}/common/discovery/instance?api-version=1.1&authorization_endpoint=…   instance discovery\n\
         \x20 POST {base}/{{tenant}}/oauth2/token                 v1: resource= instead of scope=\n\
         \x20 scope for a flow (note the double slash), per cloud:\n"
    );
    for c in Cloud::ALL {
        s.push_str(&format!("    {:<9} {}/.default\n", c.name(), st.config().audience_of(c)));
    }
    s.push_str(
        "\nFlow triggers (POST with Authorization: Bearer <token>; the token's aud must be the flow's cloud's):\n",
    );
    for f in &st.config().flows {
        s.push_str(&format!(
            "  {base}{}?api-version=1   [{}, {}, {}]\n",
            trigger_path(&f.id),
            f.cloud.name(),
            f.who_can_trigger.as_str(),
            st.flow_state(&f.id).unwrap_or_default().as_str()
        ));
    }
    s.push_str(&format!(
        "\nPlaid (plaid_environment = \"{base}\"):\n\
         \x20 POST {base}/webhook_verification_key/get   JSON: client_id, secret, key_id → {{\"key\": JWK}} (kid {})\n",
        st.config().plaid.kid
    ));
    s.push_str(&format!(
        "\neBay (ebay_environment = \"{base}\") and Circle (circle_environment = \"{base}\"):\n\
         \x20 POST {base}/identity/v1/oauth2/token   Basic client_id:client_secret, client credentials → application token\n\
         \x20 GET  {base}/commerce/notification/v1/public_key/{}   Bearer token → {{\"key\", \"algorithm\", \"digest\"}}\n\
         \x20 GET  {base}/v2/notifications/publicKey/{}   Bearer API key → {{\"data\": {{\"publicKey\", …}}}}\n",
        flowgate_core::verify::ebay::TEST_KID,
        flowgate_core::verify::circle::TEST_KEY_ID
    ));
    s.push_str(&format!(
        "\nAWS SNS (sns_emulator_origin = \"{base}\") and PayPal (paypal_emulator_origin = \"{base}\"):\n\
         \x20 GET  {base}{}   the certificate of tests/fixtures/entra-test-key.pem\n\
         \x20 GET  {base}/?Action=ConfirmSubscription&TopicArn=…&Token=…   SNS's ConfirmSubscription\n\
         \x20 GET  {base}{}{}   the same certificate, as PayPal's certificate host\n",
        flowgate_core::verify::sns::EMULATOR_CERT_PATH,
        flowgate_core::verify::paypal::CERT_PATH,
        flowgate_core::verify::paypal::EMULATOR_CERT_ID,
    ));
    s.push_str(&format!(
        "\nInspection and control:\n\
         \x20 GET    {base}/_emulator/runs     accepted runs (body as base64, and as text when UTF-8)\n\
         \x20        ?delivery=D (x-flowgate-delivery)  ?flowgate_id=I (x-flowgate-id)  ?bodies=false (no bodies)\n\
         \x20 GET    {base}/_emulator/runs/summary   {{\"runs\", \"by_flowgate_id\", \"duplicates\", \"without_flowgate_id\"}}\n\
         \x20 GET    {base}/_emulator/stats    counters and rejections\n\
         \x20 POST   {base}/alerts/sink        a generic alert destination (Teams/Slack/JSON bodies recorded)\n\
         \x20 GET    {base}/_emulator/alerts   what the alert sink received (DELETE clears it)\n\
         \x20 POST   {base}/_emulator/revoke   treat every token issued so far as expired\n\
         \x20 POST   {base}/_emulator/reset    clear runs, counters, queued faults and the flow behaviour\n\
         \x20 POST   {base}/_emulator/faults   append faults, served one per request, in order:\n\
         \x20        {{\"token\": [{{\"status\":429,\"retry_after\":60}}, {{\"status\":500}}, {{\"status\":503}}, {{\"delay_ms\":1500}}, {{\"aadsts\":7000222}}],\n\
         \x20         \"flow\":  [{{\"status\":503,\"retry_after\":5}}, {{\"status\":500,\"flow_id\":\"ID\"}}, {{\"code\":\"WorkflowTriggerIsNotEnabled\"}}, {{\"delay_ms\":1500}}],\n\
         \x20         \"plaid\": [{{\"status\":429,\"retry_after\":5}}, {{\"status\":500}}, {{\"status\":503}}]}}\n\
         \x20        aadsts codes: {}\n\
         \x20        flow statuses: {} (retry_after with 429/503; flow_id: that flow only)\n\
         \x20 GET    {base}/_emulator/faults   faults not served yet\n\
         \x20 DELETE {base}/_emulator/faults   drop queued faults\n\
         \x20 PUT    {base}/_emulator/flow-behaviour   every flow, until changed:\n\
         \x20        {{\"down\": false, \"failure_rate\": 0.1, \"failure_status\": 500, \"retry_after\": null, \"seed\": 42}}\n\
         \x20        (down: every trigger request gets 503; failure_rate: that share fails with failure_status)\n\
         \x20 GET    {base}/_emulator/flow-behaviour   the behaviour in force\n\
         \x20 DELETE {base}/_emulator/flow-behaviour   back to healthy\n\
         \x20 GET    {base}/_emulator/flows    every flow: state, schema, invoke limit\n\
         \x20 PUT    {base}/_emulator/flows/ID {{\"state\": \"enabled\"|\"disabled\"|\"suspended\"|\"deleted\", \"request_schema\": {{…}}|null}}\n",
        KNOWN_AADSTS.map(|c| c.to_string()).join(", "),
        FLOW_FAULT_STATUSES.map(|c| c.to_string()).join(", ")
    ));
    s
}
