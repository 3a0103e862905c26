//! What flowgate sends to the flow, and what the flow's answer means.
//!
//! Only a [`Verified`] request can be turned into a forward, so nothing
//! unverified reaches a flow. The body is passed on untouched (the caller
//! sends [`Verified::body`] as is); this module decides the headers and
//! classifies the trigger's answer (entra-power-automate.md §4).

use std::{cell::RefCell, collections::HashMap};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::{secret::Secret, verify::Verified};

/// Provenance header: the flowgate route name.
pub const HEADER_ROUTE: &str = "x-flowgate-route";
/// Provenance header: the sender's scheme (`github`, `standard-webhooks`).
pub const HEADER_PROVIDER: &str = "x-flowgate-provider";
/// Provenance header: the event type, as the sender names it.
pub const HEADER_EVENT: &str = "x-flowgate-event";
/// Provenance header: the sender's delivery id.
pub const HEADER_DELIVERY: &str = "x-flowgate-delivery";
/// Longest provenance value passed on; longer values are cut.
const MAX_HEADER_VALUE: usize = 256;

/// Provenance header: flowgate's own id of the accepted webhook (the same
/// on every attempt and every redrive: a flow can de-duplicate on it).
pub const HEADER_ID: &str = "x-flowgate-id";
/// Provenance header: the attempt number, 1-based (queue mode).
pub const HEADER_ATTEMPT: &str = "x-flowgate-attempt";

/// Where a forwarded webhook came from, for the provenance headers.
#[derive(Debug, Clone, Copy, Default)]
pub struct Provenance<'a> {
    /// The flowgate route.
    pub route: &'a str,
    /// The sender's scheme.
    pub provider: &'a str,
    /// The sender's event type.
    pub event_type: Option<&'a str>,
    /// The sender's delivery id.
    pub delivery_id: Option<&'a str>,
    /// flowgate's id of the accepted webhook.
    pub flowgate_id: Option<&'a str>,
    /// Attempt number (queue mode).
    pub attempt: Option<u32>,
}

impl<'a> Provenance<'a> {
    /// The provenance of a verified request on `route`.
    pub fn of(route: &'a str, verified: &'a Verified<'_>) -> Self {
        Self {
            route,
            provider: verified.provider(),
            event_type: verified.event_type(),
            delivery_id: verified.delivery_id(),
            flowgate_id: None,
            attempt: None,
        }
    }
}

/// The headers of the request to the flow, in order. The body is the
/// verified body, byte for byte.
pub fn flow_headers(p: &Provenance<'_>, content_type: Option<&str>, token: &Secret) -> Vec<(&'static str, String)> {
    let mut h = vec![("authorization", format!("Bearer {}", token.expose()))];
    if let Some(ct) = content_type.and_then(header_safe) {
        h.push(("content-type", ct));
    }
    h.push((HEADER_ROUTE, p.route.to_owned()));
    h.push((HEADER_PROVIDER, p.provider.to_owned()));
    if let Some(ev) = p.event_type.and_then(header_safe) {
        h.push((HEADER_EVENT, ev));
    }
    if let Some(id) = p.delivery_id.and_then(header_safe) {
        h.push((HEADER_DELIVERY, id));
    }
    if let Some(id) = p.flowgate_id.and_then(header_safe) {
        h.push((HEADER_ID, id));
    }
    if let Some(n) = p.attempt {
        h.push((HEADER_ATTEMPT, n.to_string()));
    }
    h
}

/// A header value made safe to send: visible ASCII and spaces only, at most
/// [`MAX_HEADER_VALUE`] bytes; `None` when nothing is left. Sender-supplied
/// labels such as `X-GitHub-Event` are not covered by the signature, so they
/// are never trusted to be well-formed.
pub fn header_safe(value: &str) -> Option<String> {
    let clean: String = value.chars().filter(|c| c.is_ascii_graphic() || *c == ' ').take(MAX_HEADER_VALUE).collect();
    let clean = clean.trim().to_owned();
    (!clean.is_empty()).then_some(clean)
}

/// What the flow's answer means for flowgate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowOutcome {
    /// 2xx: the flow accepted the run (202 without a Response action).
    Accepted,
    /// 401: the token was refused; drop it, get a new one, retry once.
    Unauthorized {
        /// The trigger's error code (`MisMatchingOAuthClaims`, ...).
        code: Option<String>,
    },
    /// Anything else: the flow did not take the run.
    Failed {
        /// The trigger's HTTP status.
        status: u16,
        /// The trigger's error code, when it sent one.
        code: Option<String>,
    },
}

#[derive(Deserialize)]
struct FlowErrorBody {
    error: FlowError,
}

#[derive(Deserialize)]
struct FlowError {
    code: String,
}

/// The trigger's `{"error":{"code":...}}` code, if the body has one.
pub fn flow_error_code(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<FlowErrorBody>(body).ok().and_then(|b| header_safe(&b.error.code))
}

/// Classifies the trigger's answer.
pub fn classify(status: u16, body: &[u8]) -> FlowOutcome {
    match status {
        200..=299 => FlowOutcome::Accepted,
        401 => FlowOutcome::Unauthorized { code: flow_error_code(body) },
        _ => FlowOutcome::Failed { status, code: flow_error_code(body) },
    }
}

/// One line for the operator about a failed trigger call.
pub fn flow_failure_hint(status: u16, code: Option<&str>) -> &'static str {
    match code {
        Some("MisMatchingOAuthClaims") => "the flow refused the token's claims: request scope https://service.flow.microsoft.com//.default (double slash), use the flow's tenant, and for 'Specific users in my tenant' list the service principal's Object ID (Enterprise applications), not the client ID",
        Some("DirectApiAuthorizationRequired") => "the trigger wants a Bearer token but got none",
        Some("DirectApiRequestHasMoreThanOneAuthorization") => "the flow URL carries a SAS sig= and a token: set 'Who can trigger the flow' to a tenant option and copy the new URL",
        Some("WorkflowNotFound") => "no flow at this URL: copy the trigger URL again from the flow designer (it changes when the trigger's settings change)",
        _ => match status {
            400 => "the flow refused the request: if its trigger has a JSON schema with validation on, the body does not match it",
            401 | 403 => "the flow refused flowgate's token: check 'Who can trigger the flow', the tenant and the scope",
            404 => "no flow at this URL: copy the trigger URL again from the flow designer",
            429 => "the flow is being throttled (Power Automate request limits); the sender will retry",
            502..=504 => "the flow did not answer in time or is unavailable; the sender will retry",
            _ => "the flow did not accept the run; see its status and error code",
        },
    }
}

/// How long a flow that refused a token fresh from Entra is left alone:
/// meanwhile its 401s do not evict the shared token or cause new Entra calls.
pub const REFUSAL_HOLD_SECS: u64 = 300;

/// Per isolate, the flows that refused a token just obtained from Entra.
///
/// Tokens are cached per credential, but each flow decides on its own whether
/// to accept them ("Specific users"). A flow that refuses even a fresh token
/// is misconfigured, not holding a stale token: without this, each of its
/// webhooks would evict the token every other route uses and ask Entra for a
/// new one, until Entra throttles the app.
#[derive(Debug, Default)]
pub struct RefusingFlows {
    until: RefCell<HashMap<String, u64>>,
}

impl RefusingFlows {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    fn key(flow_url: &Secret) -> String {
        hex::encode(&Sha256::digest(flow_url.expose().as_bytes())[..16])
    }

    /// False while the flow is held after refusing a fresh token.
    pub fn may_refresh_for(&self, flow_url: &Secret, now: u64) -> bool {
        self.until.borrow().get(&Self::key(flow_url)).is_none_or(|until| now >= *until)
    }

    /// Records that the flow refused a token fresh from Entra.
    pub fn record_fresh_refusal(&self, flow_url: &Secret, now: u64) {
        self.until.borrow_mut().insert(Self::key(flow_url), now.saturating_add(REFUSAL_HOLD_SECS));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        headers::Headers,
        verify::{find_provider, github, verify, Inbound},
    };

    #[test]
    fn headers_carry_token_type_and_provenance() {
        let secret = Secret::new("s");
        let body = b"{}";
        let h = Headers::new()
            .with("x-hub-signature-256", github::sign(&secret, body))
            .with("x-github-event", "push")
            .with("x-github-delivery", "d-1\r\nx-injected: 1");
        let s = [secret];
        let gh = find_provider("github").unwrap();
        let v = verify(gh, &gh.scheme(), None, &s, Inbound::post(&h, body, 0)).unwrap();
        let out = flow_headers(&Provenance::of("gh", &v), Some("application/json"), &Secret::new("tok"));
        assert_eq!(
            out,
            vec![
                ("authorization", "Bearer tok".to_owned()),
                ("content-type", "application/json".to_owned()),
                (HEADER_ROUTE, "gh".to_owned()),
                (HEADER_PROVIDER, "github".to_owned()),
                (HEADER_EVENT, "push".to_owned()),
                (HEADER_DELIVERY, "d-1x-injected: 1".to_owned()),
            ]
        );
        let queued = Provenance { flowgate_id: Some("0a1b"), attempt: Some(3), ..Provenance::of("gh", &v) };
        let out = flow_headers(&queued, None, &Secret::new("tok"));
        assert_eq!(&out[out.len() - 2..], &[(HEADER_ID, "0a1b".to_owned()), (HEADER_ATTEMPT, "3".to_owned())]);
    }

    #[test]
    fn refusing_flows_are_held_for_a_while_then_released() {
        let flows = RefusingFlows::new();
        let a = Secret::new("https://a.example/flow");
        let b = Secret::new("https://b.example/flow");
        assert!(flows.may_refresh_for(&a, 100));
        flows.record_fresh_refusal(&a, 100);
        assert!(!flows.may_refresh_for(&a, 100 + REFUSAL_HOLD_SECS - 1));
        assert!(flows.may_refresh_for(&a, 100 + REFUSAL_HOLD_SECS));
        assert!(flows.may_refresh_for(&b, 101), "other flows are not affected");
    }

    #[test]
    fn header_values_are_sanitised() {
        assert_eq!(header_safe("a\u{0}b\u{7f}é c"), Some("ab c".to_owned()));
        assert_eq!(header_safe("\r\n"), None);
        assert_eq!(header_safe(&"x".repeat(1000)).unwrap().len(), MAX_HEADER_VALUE);
    }

    #[test]
    fn classifies_trigger_answers() {
        assert_eq!(classify(202, b""), FlowOutcome::Accepted);
        assert_eq!(classify(200, b"anything"), FlowOutcome::Accepted);
        let mismatch = br#"{"error":{"code":"MisMatchingOAuthClaims","message":"One or more claims either missing or does not match with the open authentication access control policy."}}"#;
        assert_eq!(classify(401, mismatch), FlowOutcome::Unauthorized { code: Some("MisMatchingOAuthClaims".into()) });
        assert_eq!(
            classify(403, mismatch),
            FlowOutcome::Failed { status: 403, code: Some("MisMatchingOAuthClaims".into()) }
        );
        assert_eq!(classify(500, b"<html>"), FlowOutcome::Failed { status: 500, code: None });
        assert!(flow_failure_hint(401, Some("MisMatchingOAuthClaims")).contains("//.default"));
        assert!(flow_failure_hint(404, None).contains("URL"));
    }
}
