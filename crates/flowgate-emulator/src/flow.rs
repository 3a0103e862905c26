//! The Power Automate HTTP trigger:
//! `POST /powerautomate/automations/direct/workflows/{id}/triggers/manual/paths/invoke?api-version=1`
//! (entra-power-automate.md §1.4 URL shape) with the OAuth "Who can trigger
//! the flow" policy (§1.5), the audience of the flow's cloud (§1.2) and the
//! trigger's answers (§4). Injected faults and the standing flow behaviour
//! (`flow_faults.rs`) are applied before the trigger's own checks.
//!
//! The trigger's checks, in order, and their answers (every body is
//! `{"error":{"code":…,"message":…}}`):
//!
//! | check | answer | source |
//! |---|---|---|
//! | the body fits (100 MB) | 413 `RequestEntityTooLarge` | §4 size limit; code: emulator's choice |
//! | the workflow exists and is not deleted | 404 `WorkflowNotFound` | issue #13; unconfirmed, see below |
//! | `api-version` is given | 400 `MissingApiVersionParameter` | Azure's answer; unconfirmed for flows |
//! | the flow is on | 400 `WorkflowTriggerIsNotEnabled` ("…with state 'Disabled': trigger is not enabled.") | field reports (Teams workflow webhooks, 2025–2026) |
//! | not SAS `sig` and Bearer at once | 400 `DirectApiRequestHasMoreThanOneAuthorization` | §4, §1.5 |
//! | a Bearer token | 401 `DirectApiAuthorizationRequired` | §4 |
//! | the token's signature and claims | `MisMatchingOAuthClaims` (401, or `mismatch_status`) | §4; status unconfirmed |
//! | the flow's invoke limit | 429 `WorkflowRequestsThrottled`, `Retry-After` | limits §4; the 429 is the emulator's choice |
//! | the Request Body JSON Schema, if any | 400 `TriggerInputSchemaMismatch` ("…Error details: '…'") | §4 "Schema Validation"; code and message from field reports |
//!
//! Unconfirmed, and why flowgate does not depend on it: whether a deleted
//! flow answers 404 `WorkflowNotFound` or, as some field reports show for
//! flows deleted shortly before, 400 `WorkflowTriggerIsNotEnabled` with state
//! 'Deleted'; the order of the checks (the emulator looks at the flow's state
//! before the caller's token); and what the trigger answers over its invoke
//! limit (§4 says only that activity is "slowed"). flowgate treats 400 and
//! 404 alike (permanent) and 429 as transient, so its reaction is the same
//! either way.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use axum::{
    body::{to_bytes, Body},
    extract::{Path, RawQuery, State as AxState},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use rand::Rng as _;
use serde_json::{json, Value};

use flowgate_core::config::Cloud;

use crate::{
    config::{FlowConfig, FlowState, WhoCanTrigger},
    flow_faults::{self, FlowFaultAction},
    state::{FlowRun, FlowSchema, Rejection, State},
    types::{now_unix, sha256_hex, v1_issuer, v2_issuer},
};

/// Path of a flow's trigger, relative to the emulator's origin.
pub(crate) fn trigger_path(flow_id: &str) -> String {
    format!("/powerautomate/automations/direct/workflows/{flow_id}/triggers/manual/paths/invoke")
}

/// §4: a missing token on an OAuth-mode URL.
const AUTH_REQUIRED_CODE: &str = "DirectApiAuthorizationRequired";
const AUTH_REQUIRED_MESSAGE: &str =
    "The OAuth authorization scheme is required. Please add authentication scheme and try again.";
/// §4 / §1.5: SAS and OAuth on the same request.
const TWO_AUTHS_CODE: &str = "DirectApiRequestHasMoreThanOneAuthorization";
const TWO_AUTHS_MESSAGE: &str = "The request has both SAS authentication scheme and 'Bearer' \
                                 authorization scheme. Only one scheme should be used.";
/// §4: wrong audience, tenant or object ID.
const MISMATCH_CODE: &str = "MisMatchingOAuthClaims";
const MISMATCH_MESSAGE: &str = "One or more claims either missing or does not match with the \
                                open authentication access control policy.";

/// A non-202 answer of the trigger, with the emulator-only detail.
struct Refusal {
    status: StatusCode,
    code: &'static str,
    message: String,
    detail: String,
    /// `Retry-After` seconds (injected 429/503 only).
    retry_after: Option<u64>,
}

impl Refusal {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self { status, code, detail: message.clone(), message, retry_after: None }
    }

    fn mismatch(st: &State, detail: String) -> Self {
        // "Could NOT confirm" 2: real reports show 401 or 403; configurable.
        let status = StatusCode::from_u16(st.config().mismatch_status).unwrap_or(StatusCode::UNAUTHORIZED);
        Self { status, code: MISMATCH_CODE, message: MISMATCH_MESSAGE.to_owned(), detail, retry_after: None }
    }

    /// The answer of an injected status (with the error `code`, when the
    /// fault names one); `why` (where it came from) is the detail recorded
    /// in the rejection list.
    fn injected(status: u16, retry_after: Option<u64>, code: Option<&str>, why: &str) -> Self {
        let (code, message) = match code.and_then(flow_faults::trigger_error) {
            Some((code, _, message)) => (code, message),
            None if code.is_some() => ("InjectedFault", "Emulated error (injected fault)."),
            None => flow_faults::error_of(status),
        };
        Self {
            status: flow_faults::status_code(status),
            code,
            message: message.to_owned(),
            detail: format!("{why}: {status}"),
            retry_after,
        }
    }
}

/// `POST` to a trigger URL.
pub(crate) async fn trigger(
    AxState(st): AxState<Arc<State>>,
    Path(flow_id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    st.record_flow_request();
    let body = match injected(&st, &flow_id).await {
        Some(refusal) => {
            // Drain the upload first, as `accept` does, so the client reads
            // the answer instead of a reset connection.
            let _ = to_bytes(body, st.max_body_bytes()).await;
            return refuse(&st, &flow_id, refusal);
        }
        None => body,
    };
    match accept(&st, &flow_id, query.as_deref(), &headers, body).await {
        Ok(run) => {
            let run_id = run.run_id.clone();
            st.record_run(run);
            let mut resp = StatusCode::ACCEPTED.into_response();
            let h = resp.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&run_id) {
                h.insert("x-ms-workflow-run-id", v);
            }
            if let Ok(v) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
                h.insert("x-ms-correlation-id", v);
            }
            resp
        }
        Err(r) => refuse(&st, &flow_id, r),
    }
}

/// Records a refusal and answers it with the §4 error body (plus
/// `Retry-After` when the refusal has one).
fn refuse(st: &State, flow_id: &str, r: Refusal) -> Response {
    st.record_rejection(Rejection {
        flow_id: flow_id.chars().take(128).collect(),
        status: r.status.as_u16(),
        code: r.code.to_owned(),
        detail: r.detail,
    });
    let mut resp = (r.status, Json(json!({"error": {"code": r.code, "message": r.message}}))).into_response();
    if let Some(secs) = r.retry_after {
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}

/// The queued fault for this request, then the flow behaviour
/// (`flow_faults.rs`): a refusal to answer instead of processing, or `None`
/// (after any injected delay) to process the request normally.
async fn injected(st: &State, flow_id: &str) -> Option<Refusal> {
    if let Some(fault) = st.next_flow_fault(flow_id) {
        match fault.action {
            FlowFaultAction::Delay { delay_ms } => tokio::time::sleep(Duration::from_millis(delay_ms)).await,
            FlowFaultAction::Status { status, retry_after } => {
                return Some(Refusal::injected(status, retry_after, fault.code.as_deref(), "injected flow fault"));
            }
        }
    }
    st.behaviour_refusal().map(|(status, retry_after, why)| Refusal::injected(status, retry_after, None, why))
}

/// The trigger's checks, in order.
async fn accept(
    st: &State,
    flow_id: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Body,
) -> Result<FlowRun, Refusal> {
    // 1. Read the whole body first, even for requests that will be refused,
    //    so the caller always gets the JSON answer rather than a connection
    //    reset mid-upload.
    let body = to_bytes(body, st.max_body_bytes()).await.map_err(|_| {
        Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            format!(
                "The request body exceeds the maximum of {} bytes (Power Automate allows 100 MB, \
                 entra-power-automate.md §4).",
                st.max_body_bytes()
            ),
        )
    })?;

    // 2. The workflow must exist (a deleted one is gone: module docs).
    let state = st.flow_state(flow_id);
    let flow = st.flow(flow_id).filter(|_| state != Some(FlowState::Deleted)).ok_or_else(|| {
        Refusal::new(
            StatusCode::NOT_FOUND,
            "WorkflowNotFound",
            format!("The workflow '{}' could not be found.", flow_id.chars().take(128).collect::<String>()),
        )
    })?;

    // 3. Query: api-version is required (§1.4 URL shape); `sig` marks SAS.
    let mut api_version = None;
    let mut has_sig = false;
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "api-version" if api_version.is_none() => api_version = Some(v.into_owned()),
            "sig" => has_sig = true,
            _ => {}
        }
    }
    if api_version.as_deref().is_none_or(str::is_empty) {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        ));
    }

    // 3b. The flow must be on (field reports; module docs).
    let shown = match state {
        Some(FlowState::Disabled) => Some("Disabled"),
        Some(FlowState::Suspended) => Some("Suspended"),
        _ => None,
    };
    if let Some(shown) = shown {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "WorkflowTriggerIsNotEnabled",
            format!(
                "Could not execute workflow '{}' trigger 'manual' with state '{shown}': trigger is not enabled.",
                flow.id
            ),
        ));
    }

    // 4. SAS and OAuth together is an error (§1.5 Logic Apps policy, §4: 400).
    let authorization = headers.get(header::AUTHORIZATION);
    if has_sig && authorization.is_some() {
        return Err(Refusal::new(StatusCode::BAD_REQUEST, TWO_AUTHS_CODE, TWO_AUTHS_MESSAGE));
    }

    // 5. Only the Bearer scheme is accepted (§1.5); without it: 401 (§4).
    let token = authorization
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Refusal::new(StatusCode::UNAUTHORIZED, AUTH_REQUIRED_CODE, AUTH_REQUIRED_MESSAGE))?;

    // 6. The token must be one the emulator signed, unrevoked, and satisfy
    //    the flow's policy. Every failure looks the same to the caller.
    let claims = st.key().verify(token).map_err(|e| Refusal::mismatch(st, e.to_string()))?;
    let token_id =
        claims.get("uti").or_else(|| claims.get("jti")).and_then(Value::as_str).unwrap_or_default().to_owned();
    let now = now_unix();
    check_policy(flow, st.config().audience_of(flow.cloud), &claims, now).map_err(|d| Refusal::mismatch(st, d))?;
    if st.is_revoked(&token_id) {
        return Err(Refusal::mismatch(
            st,
            "token was issued before the last revoke and is treated as expired".to_owned(),
        ));
    }

    // 7. The flow's invoke limit (§4 throughput; the 429 is the emulator's
    //    choice: Microsoft's docs say only that the flow is "slowed").
    if let Some(retry_after) = st.take_invocation(flow) {
        let (code, _, message) =
            flow_faults::trigger_error("WorkflowRequestsThrottled").unwrap_or(("WorkflowRequestsThrottled", 429, ""));
        let mut r = Refusal::new(StatusCode::TOO_MANY_REQUESTS, code, message);
        r.detail = format!(
            "invoke limit: {} calls per {} s ({:?} profile unless overridden)",
            flow.invoke_limit(),
            flow.invoke_window_secs(),
            flow.performance_profile
        );
        r.retry_after = Some(retry_after);
        return Err(r);
    }

    // 8. The trigger's Request Body JSON Schema, if it has one.
    if let Some(schema) = st.flow_schema(&flow.id) {
        check_schema(&schema, headers, &body)?;
    }

    // 9. Accept: keep the exact bytes.
    Ok(FlowRun {
        flow_id: flow.id.clone(),
        run_id: new_run_id(),
        received_at: now,
        received_at_ms: now_ms(),
        headers: recorded_headers(headers),
        token_claims: claims,
        token_id,
        body_sha256: sha256_hex(&body),
        body_len: body.len() as u64,
        body: body.to_vec(),
    })
}

/// The flow's OAuth policy over verified claims (§1.5, Logic Apps policy
/// semantics: every required claim must match; extra claims are fine).
/// `audience` is the flow's cloud's (§1.2). Returns the reason for the
/// emulator's rejection detail.
pub(crate) fn check_policy(flow: &FlowConfig, audience: &str, claims: &Value, now: u64) -> Result<(), String> {
    let s = |name: &str| claims.get(name).and_then(Value::as_str);

    // §1.2/§1.3: exact match, trailing slash included.
    let bare = |a: &str| a.trim_end_matches('/').to_owned();
    match s("aud") {
        Some(aud) if aud == audience => {}
        Some(aud) if bare(aud) == bare(audience) => {
            return Err(format!(
                "aud {aud:?} is not exactly {audience:?} (trailing slash matters; request \
                 scope {audience}/.default, i.e. with a double slash, entra-power-automate.md §1.3)"
            ))
        }
        Some(aud) if Cloud::ALL.iter().any(|c| bare(c.flow_audience()) == bare(aud)) => {
            let other = Cloud::ALL.iter().find(|c| bare(c.flow_audience()) == bare(aud)).map_or("?", |c| c.name());
            return Err(format!(
                "aud {aud:?} is the {other} cloud's flow audience, but this flow is in the {} cloud and \
                 demands {audience:?} (entra-power-automate.md §1.2)",
                flow.cloud.name()
            ));
        }
        other => return Err(format!("aud {other:?} is not {audience:?}")),
    }
    let tid = s("tid");
    if tid != Some(flow.tenant.as_str()) {
        return Err(format!("tid {tid:?} is not the flow's tenant {:?}", flow.tenant));
    }
    // §1.5: the policy's `iss` is the v1 or the v2 issuer of the tenant.
    match s("iss") {
        Some(iss) if iss == v1_issuer(&flow.tenant) || iss == v2_issuer(&flow.tenant) => {}
        other => return Err(format!("iss {other:?} is not an issuer of tenant {}", flow.tenant)),
    }
    // §4 / "Could NOT confirm" 5: `exp` is required ("token must have an
    // expiration time"); no clock-skew allowance either way.
    match claims.get("exp").and_then(Value::as_f64) {
        None => return Err("token must have an expiration time (exp)".to_owned()),
        Some(exp) if exp <= now as f64 => return Err(format!("token expired at {exp}, now is {now}")),
        Some(_) => {}
    }
    match claims.get("nbf") {
        None => {}
        Some(nbf) => match nbf.as_f64() {
            Some(nbf) if nbf <= now as f64 => {}
            _ => return Err(format!("token not valid yet (nbf {nbf}, now {now})")),
        },
    }
    // §1.5: "Specific users" with a blank list behaves like "Any user".
    if flow.who_can_trigger == WhoCanTrigger::SpecificUsers && !flow.allowed_object_ids.is_empty() {
        let oid = s("oid").map(str::to_ascii_lowercase);
        if !oid.as_deref().is_some_and(|o| flow.allowed_object_ids.iter().any(|a| a == o)) {
            return Err(format!(
                "oid {oid:?} is not among the flow's allowed object IDs (use the service \
                 principal's object ID, not the client ID, §1.5)"
            ));
        }
    }
    Ok(())
}

/// The body against the trigger's schema. A JSON body (`Content-Type:
/// application/json` or `…+json`) is checked as JSON; any other body as a
/// string, as Power Automate does (a `text/plain` body sent to an object
/// schema gets "Invalid type. Expected Object but got String.", field
/// reports). The details are the validator's wording, not Newtonsoft's.
fn check_schema(schema: &FlowSchema, headers: &HeaderMap, body: &[u8]) -> Result<(), Refusal> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .is_some_and(|m| m == "application/json" || m.ends_with("+json"));
    let value = match serde_json::from_slice::<Value>(body) {
        Ok(v) if is_json => v,
        _ => Value::String(String::from_utf8_lossy(body).into_owned()),
    };
    let details: Vec<String> = schema.validator.iter_errors(&value).take(3).map(|e| e.to_string()).collect();
    if details.is_empty() {
        return Ok(());
    }
    let (code, _, message) = flow_faults::trigger_error("TriggerInputSchemaMismatch").unwrap_or((
        "TriggerInputSchemaMismatch",
        400,
        "The input body did not match its schema definition.",
    ));
    let details: String = details.join(",").chars().take(512).collect();
    Err(Refusal::new(StatusCode::BAD_REQUEST, code, format!("{message} Error details: '{details}'.")))
}

/// Request headers as recorded in a [`FlowRun`]: lower-case names, repeated
/// values joined, the bearer token redacted.
fn recorded_headers(headers: &HeaderMap) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        let value = if name == header::AUTHORIZATION {
            "Bearer <redacted>".to_owned()
        } else {
            String::from_utf8_lossy(value.as_bytes()).into_owned()
        };
        out.entry(name.as_str().to_owned())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    out
}

/// A run ID in the style of Logic Apps (`08584…CU..`).
fn new_run_id() -> String {
    let mut rng = rand::thread_rng();
    let digits: String = (0..25).map(|_| char::from(b'0' + rng.gen_range(0..10))).collect();
    format!("08584{digits}CU{:02}", rng.gen_range(0..100))
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
