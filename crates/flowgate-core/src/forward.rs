//! What flowgate sends to the flow, and what the flow's answer means.
//!
//! Only a verified request can be turned into a forward, so nothing
//! unverified reaches a flow: a [`Webhook`] is built from a
//! [`VerifiedRequest`] (or read back from flowgate's own queue), and a
//! [`FlowRequest`] — the headers and body a flow receives — only from a
//! [`Webhook`]. The body is passed on untouched (or wrapped in the envelope);
//! this module also classifies the trigger's answer (entra-power-automate.md §4).

use std::{borrow::Cow, cell::RefCell, collections::HashMap};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::{
    config::{Payload, Route},
    delivery::{BodyRef, QueuedDelivery, MESSAGE_VERSION},
    envelope::{self, EnvelopeMeta, EnvelopeSpec},
    headers::Headers,
    ledger::Fingerprint,
    secret::Secret,
    verify::{ReplayGuard, VerifiedRequest},
};

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

/// An accepted webhook: a verified request with what flowgate adds to it
/// (the route, its own id, when it arrived) and the sender's headers it keeps.
///
/// It is what a flow can receive, and the only thing [`FlowRequest::new`]
/// takes: there are two ways to build one, and both start from verified
/// bytes — [`Webhook::accept`] from a [`VerifiedRequest`] (which only
/// [`crate::verify`] builds), and [`Webhook::from_queue`] from flowgate's own
/// queue message (written only after verification; the queue is not
/// reachable from the internet). Fields are private.
#[derive(Debug, Clone)]
pub struct Webhook {
    route: String,
    provider: String,
    event_type: Option<String>,
    delivery_id: Option<String>,
    flowgate_id: String,
    received_at: u64,
    content_type: Option<String>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    fingerprint: Fingerprint,
}

impl Webhook {
    /// A verified request accepted on `route`, under flowgate's id
    /// `flowgate_id`, at `received_at` (Unix seconds). `headers` are the
    /// request's; only those the route keeps are retained (never credentials
    /// nor the route's own secret header, [`Route::keeps_header`]).
    pub fn accept(
        verified: VerifiedRequest,
        route: &Route,
        flowgate_id: &str,
        received_at: u64,
        headers: &Headers,
    ) -> Self {
        let fingerprint = Fingerprint {
            delivery_id: verified.delivery_id().map(str::to_owned),
            body: verified.dedupe_digest(route.provider.per_attempt_members()),
            proof: match route.provider.replay_guard(&route.scheme) {
                ReplayGuard::On => verified.proof().map(|p| p.to_hex()),
                ReplayGuard::Off(_) => None,
            },
        };
        let (provider, body, event_type, delivery_id) = verified.into_parts();
        Self {
            route: route.name.clone(),
            provider: provider.to_owned(),
            event_type,
            delivery_id,
            flowgate_id: flowgate_id.to_owned(),
            received_at,
            content_type: headers.get("content-type").map(str::to_owned),
            headers: headers
                .iter()
                .filter(|(k, _)| route.keeps_header(k))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            body,
            fingerprint,
        }
    }

    /// The webhook a queue message carries, with its body (inline or read
    /// from R2). This is the one way back in from the queue: the queue is
    /// written only by flowgate, after verification ([`Webhook::queue_message`]).
    pub fn from_queue(message: &QueuedDelivery, body: Vec<u8>) -> Self {
        Self {
            route: message.route.clone(),
            provider: message.provider.clone(),
            event_type: message.event_type.clone(),
            delivery_id: message.delivery_id.clone(),
            flowgate_id: message.id.clone(),
            received_at: message.received_at,
            content_type: message.content_type.clone(),
            headers: message.headers.clone(),
            fingerprint: Fingerprint {
                delivery_id: message.delivery_id.clone(),
                body: message.body_digest.clone().unwrap_or_default(),
                proof: message.proof.clone(),
            },
            body,
        }
    }

    /// The queue message for delivery to `flow`; its body is still to be
    /// placed (inline or in R2) by the caller.
    pub fn queue_message(&self, flow: &str) -> QueuedDelivery {
        QueuedDelivery {
            v: MESSAGE_VERSION,
            id: self.flowgate_id.clone(),
            route: self.route.clone(),
            flow: flow.to_owned(),
            provider: self.provider.clone(),
            delivery_id: self.delivery_id.clone(),
            event_type: self.event_type.clone(),
            received_at: self.received_at,
            content_type: self.content_type.clone(),
            headers: self.headers.clone(),
            body: BodyRef::Stored { key: String::new(), len: 0 },
            copy: 0,
            body_digest: Some(self.fingerprint.body.clone()),
            proof: self.fingerprint.proof.clone(),
            attempts_before: 0,
        }
    }

    /// The route it came in on.
    pub fn route(&self) -> &str {
        &self.route
    }
    /// The sender's scheme.
    pub fn provider(&self) -> &str {
        &self.provider
    }
    /// The event type as the sender names it.
    pub fn event_type(&self) -> Option<&str> {
        self.event_type.as_deref()
    }
    /// The sender's delivery id.
    pub fn delivery_id(&self) -> Option<&str> {
        self.delivery_id.as_deref()
    }
    /// flowgate's id of the webhook (`x-flowgate-id`).
    pub fn flowgate_id(&self) -> &str {
        &self.flowgate_id
    }
    /// When it was accepted, Unix seconds.
    pub fn received_at(&self) -> u64 {
        self.received_at
    }
    /// The sender's content type.
    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }
    /// The sender's headers flowgate keeps.
    pub fn headers(&self) -> Headers {
        self.headers.iter().map(|(k, v)| (k.as_str(), v.clone())).collect()
    }
    /// The verified body, byte for byte.
    pub fn body(&self) -> &[u8] {
        &self.body
    }
    /// How the route ledger recognises it ([`crate::ledger`]).
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }
}

/// The request to a flow: its headers and body, built only from a
/// [`Webhook`]. The body is the verified body as sent, or the envelope
/// around it; fields are private.
///
/// Forwarding bytes that were not verified does not compile:
///
/// ```compile_fail
/// use flowgate_core::{config::Payload, envelope::EnvelopeSpec, forward::FlowRequest, Secret};
/// let unverified: &[u8] = b"{\"forged\":true}";
/// let _ = FlowRequest::new(unverified, Payload::Raw, &EnvelopeSpec::default(), None, &Secret::new("token"));
/// ```
#[derive(Debug)]
pub struct FlowRequest<'a> {
    headers: Vec<(&'static str, String)>,
    body: Cow<'a, [u8]>,
}

impl<'a> FlowRequest<'a> {
    /// What `webhook` is sent to a flow as: `payload` raw (the body byte
    /// for byte, the sender's content type) or as the route's envelope,
    /// with the token and the provenance headers; `attempt` in queue mode.
    pub fn new(
        webhook: &'a Webhook,
        payload: Payload,
        envelope: &EnvelopeSpec,
        attempt: Option<u32>,
        token: &Secret,
    ) -> Self {
        let (body, content_type) = match payload {
            Payload::Raw => (Cow::Borrowed(webhook.body()), webhook.content_type()),
            Payload::Envelope => {
                let meta = EnvelopeMeta {
                    route: webhook.route(),
                    provider: webhook.provider(),
                    event_type: webhook.event_type(),
                    delivery_id: webhook.delivery_id(),
                    flowgate_id: webhook.flowgate_id(),
                    received_at_unix: webhook.received_at(),
                };
                let body = envelope::build(&meta, envelope, &webhook.headers(), webhook.content_type(), webhook.body());
                (Cow::Owned(body), Some("application/json"))
            }
        };
        let mut h = vec![("authorization", format!("Bearer {}", token.expose()))];
        if let Some(ct) = content_type.and_then(header_safe) {
            h.push(("content-type", ct));
        }
        h.push((HEADER_ROUTE, webhook.route().to_owned()));
        h.push((HEADER_PROVIDER, webhook.provider().to_owned()));
        if let Some(ev) = webhook.event_type().and_then(header_safe) {
            h.push((HEADER_EVENT, ev));
        }
        if let Some(id) = webhook.delivery_id().and_then(header_safe) {
            h.push((HEADER_DELIVERY, id));
        }
        if let Some(id) = header_safe(webhook.flowgate_id()) {
            h.push((HEADER_ID, id));
        }
        if let Some(n) = attempt {
            h.push((HEADER_ATTEMPT, n.to_string()));
        }
        Self { headers: h, body }
    }

    /// The headers, in order.
    pub fn headers(&self) -> &[(&'static str, String)] {
        &self.headers
    }
    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }
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

/// The trigger's error code for a token whose claims its "Who can trigger
/// the flow" setting refuses (entra-power-automate.md).
pub const MISMATCHED_CLAIMS: &str = "MisMatchingOAuthClaims";

/// One line for the operator about a failed trigger call.
pub fn flow_failure_hint(status: u16, code: Option<&str>) -> &'static str {
    match code {
        Some(MISMATCHED_CLAIMS) => "the flow refused the token's claims: request scope https://service.flow.microsoft.com//.default (double slash), use the flow's tenant, and for 'Specific users in my tenant' list the service principal's Object ID (Enterprise applications), not the client ID",
        Some("DirectApiAuthorizationRequired") => "the trigger wants a Bearer token but got none",
        Some("DirectApiRequestHasMoreThanOneAuthorization") => "the flow URL carries a SAS sig= and a token: set 'Who can trigger the flow' to a tenant option and copy the new URL",
        Some("WorkflowNotFound") => "no flow at this URL (deleted, or the URL is stale): copy the trigger URL again from the flow designer (it changes when the trigger's settings change), then redrive",
        Some("WorkflowTriggerIsNotEnabled") => "the flow is turned off (or suspended, or deleted): turn it on in Power Automate (My flows → Turn on), then redrive the dead letters",
        Some("TriggerInputSchemaMismatch") => "the body does not match the trigger's Request Body JSON Schema: for an envelope flow paste `flowgate schema <route>`'s output into the trigger, for a raw flow fix or remove the schema (or turn Schema Validation off), then redrive",
        Some("WorkflowRequestsThrottled") => "the flow is over its request limit (Power Automate throttling): retried after Retry-After",
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
    use crate::verify::{find_provider, github, verify_request, Received};

    fn route(provider: &str) -> Route {
        let config = crate::config::Config::from_json(&serde_json::json!({
            "entra": {
                "tenant": "contoso.onmicrosoft.com",
                "client_id": "5b6f2a10-7c1d-4e8f-9a2b-3c4d5e6f7a81",
                "client_secret_binding": "ENTRA_CLIENT_SECRET"
            },
            "routes": { "gh": { "provider": provider, "secret_bindings": ["S"], "flow_url_binding": "F" } }
        }))
        .unwrap();
        config.routes.get("gh").unwrap().clone()
    }

    fn accepted(h: &Headers, body: &[u8]) -> Webhook {
        let s = [Secret::new("s")];
        let gh = find_provider("github").unwrap();
        let received =
            Received { headers: h, body: body.to_vec(), now_secs: 0, method: "POST", url: "https://x/hooks/gh" };
        let v = verify_request(gh, &gh.scheme(), None, &s, received).unwrap();
        Webhook::accept(v, &route("github"), "0a1b", 1_800_000_000, h)
    }

    /// Telnyx counts `meta.attempt` up (and names the URL in
    /// `meta.delivered_to`) when it retries: the duplicate check compares the
    /// body without `meta`, so a retry is the delivery it repeats, while
    /// another event under the same `data.id` is not.
    #[test]
    fn a_telnyx_retry_has_the_first_attempts_dedupe_digest() {
        use crate::verify::telnyx;
        let private = Secret::new("nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=");
        let public = Secret::new(telnyx::public_key_base64(&private).unwrap());
        let p = find_provider("telnyx").unwrap();
        let accept = |body: &str| {
            let ts = "1700000000";
            let h = Headers::new()
                .with(telnyx::SIGNATURE_HEADER, telnyx::sign(&private, ts, body.as_bytes()).unwrap())
                .with(telnyx::TIMESTAMP_HEADER, ts);
            let received = Received {
                headers: &h,
                body: body.as_bytes().to_vec(),
                now_secs: 1_700_000_001,
                method: "POST",
                url: "https://x/hooks/gh",
            };
            let v = verify_request(p, &p.scheme(), None, std::slice::from_ref(&public), received).unwrap();
            Webhook::accept(v, &route("telnyx"), "0a1b", 1_700_000_001, &h).fingerprint
        };
        let event = |attempt: u32, url: &str, text: &str| {
            format!(
                r#"{{"data":{{"event_type":"message.received","id":"e-1","payload":{{"text":"{text}"}}}},"meta":{{"attempt":{attempt},"delivered_to":"{url}"}}}}"#
            )
        };
        let first = accept(&event(1, "https://a.example/hooks", "hi"));
        let retry = accept(&event(2, "https://a.example/hooks", "hi"));
        let failover = accept(&event(4, "https://failover.example/hooks", "hi"));
        assert_eq!(first.delivery_id.as_deref(), Some("e-1"));
        assert_eq!(first.body, retry.body);
        assert_eq!(first.body, failover.body);
        let other = accept(&event(1, "https://a.example/hooks", "bye"));
        assert_ne!(first.body, other.body, "another event under the same id");
        // Other senders compare the whole body.
        let gh = route("github");
        assert!(gh.provider.per_attempt_members().is_empty());
    }

    #[test]
    fn headers_carry_token_type_and_provenance() {
        let secret = Secret::new("s");
        let body = b"{}";
        let h = Headers::new()
            .with("x-hub-signature-256", github::sign(&secret, body))
            .with("content-type", "application/json")
            .with("x-github-event", "push")
            .with("x-github-delivery", "d-1\r\nx-injected: 1");
        let w = accepted(&h, body);
        let out = FlowRequest::new(&w, Payload::Raw, &EnvelopeSpec::default(), None, &Secret::new("tok"));
        assert_eq!(
            out.headers(),
            &[
                ("authorization", "Bearer tok".to_owned()),
                ("content-type", "application/json".to_owned()),
                (HEADER_ROUTE, "gh".to_owned()),
                (HEADER_PROVIDER, "github".to_owned()),
                (HEADER_EVENT, "push".to_owned()),
                (HEADER_DELIVERY, "d-1x-injected: 1".to_owned()),
                (HEADER_ID, "0a1b".to_owned()),
            ]
        );
        assert_eq!(out.body(), body);
        let out = FlowRequest::new(&w, Payload::Raw, &EnvelopeSpec::default(), Some(3), &Secret::new("tok"));
        assert_eq!(out.headers().last(), Some(&(HEADER_ATTEMPT, "3".to_owned())));
    }

    #[test]
    fn a_webhook_keeps_no_credentials_and_round_trips_through_the_queue() {
        let secret = Secret::new("s");
        let body = br#"{"zen":"Keep it logically awesome."}"#;
        let h = Headers::new()
            .with("x-hub-signature-256", github::sign(&secret, body))
            .with("authorization", "Basic c2VjcmV0")
            .with("x-github-delivery", "d-2");
        let w = accepted(&h, body);
        let kept = w.headers();
        assert!(kept.get("authorization").is_none());
        assert_eq!(kept.get("x-github-delivery"), Some("d-2"));
        // The fingerprint: the delivery id, the body (a body-only MAC's proof), the proof.
        let fp = w.fingerprint().clone();
        assert_eq!(fp.delivery_id.as_deref(), Some("d-2"));
        assert_eq!(Some(fp.body.clone()), fp.proof);
        let m = w.queue_message("flow-a");
        let back = Webhook::from_queue(&m, body.to_vec());
        assert_eq!(back.fingerprint(), &fp);
        assert_eq!((back.route(), back.flowgate_id(), back.body()), ("gh", "0a1b", &body[..]));
        let env = FlowRequest::new(&back, Payload::Envelope, &EnvelopeSpec::default(), Some(1), &Secret::new("t"));
        assert_eq!(env.headers()[1], ("content-type", "application/json".to_owned()));
        let v: serde_json::Value = serde_json::from_slice(env.body()).unwrap();
        assert_eq!(v["body"]["zen"], "Keep it logically awesome.");
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
        assert!(flow_failure_hint(400, Some("WorkflowTriggerIsNotEnabled")).contains("turn it on"));
        assert!(flow_failure_hint(400, Some("TriggerInputSchemaMismatch")).contains("flowgate schema"));
        assert!(flow_failure_hint(400, Some("DirectApiRequestHasMoreThanOneAuthorization")).contains("SAS"));
    }
}
