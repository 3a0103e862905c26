//! Every answer flowgate gives, and its HTTP status, in one place.
//!
//! Before a signature is verified the answers are uniform and say nothing
//! about why (401 `invalid_signature` for every verification failure). After
//! verification only the genuine sender can see the answer, so a 502 names
//! the upstream failure: it shows up in the sender's delivery log, where the
//! operator looks first.

use flowgate_core::verify::HandshakeReply;
use serde_json::{json, Value};
use worker::{Headers, Response, Result};

pub(crate) enum Reply {
    Health {
        config_ok: bool,
        routes: usize,
    },
    /// The flow took the run.
    Accepted {
        route: String,
        delivery_id: Option<String>,
        flow_run_id: Option<String>,
    },
    /// Queue mode: verified and queued; the flow gets it from the consumer.
    Queued {
        route: String,
        delivery_id: Option<String>,
        id: String,
    },
    /// The sender's delivery id was accepted before, within the route's window.
    Duplicate {
        route: String,
        delivery_id: Option<String>,
    },
    /// Direct mode: the same delivery id is being forwarded right now.
    InProgress,
    /// No routing rule matched and the route has no default flow.
    Dropped {
        route: String,
    },
    /// flowgate's own storage (ledger, queue, R2) failed; nothing was accepted.
    Unavailable {
        what: &'static str,
    },
    /// The admin API's answers.
    Json {
        status: u16,
        body: Value,
    },
    /// A sender handshake answered at the edge, not forwarded.
    Handshake {
        what: String,
    },
    /// A handshake answered exactly as the sender expects.
    HandshakeReply(HandshakeReply),
    /// An unsigned handshake whose check failed (Meta's verify token, Okta's header).
    HandshakeRefused {
        status: u16,
    },
    NotFound,
    /// The body could not be read.
    BadRequest,
    MethodNotAllowed {
        allow: &'static str,
    },
    PayloadTooLarge {
        max_bytes: u64,
    },
    InvalidSignature,
    /// flowgate's own configuration is broken; details are in the log only.
    Misconfigured,
    /// The sender's verification key could not be fetched (Plaid's key endpoint).
    VerificationKeyUnavailable,
    /// No Entra token could be obtained.
    TokenUnavailable {
        code: String,
        hint: &'static str,
        retry_after: Option<u64>,
    },
    /// The flow did not accept the run.
    FlowFailed {
        status: Option<u16>,
        code: Option<String>,
        hint: &'static str,
    },
    /// A 2xx answer to a verified request, as its sender needs it
    /// ([`flowgate_core::verify::Ack`]): a fixed text instead of the JSON, or
    /// a header of the request echoed.
    Acked {
        inner: Box<Reply>,
        text: Option<&'static str>,
        headers: Vec<(&'static str, String)>,
    },
}

/// What a sender needs added to the answers to its verified requests.
pub(crate) struct Ack {
    text: Option<&'static str>,
    headers: Vec<(&'static str, String)>,
}

impl Ack {
    /// The provider's acknowledgement for a verified request with `headers`.
    pub(crate) fn of(ack: flowgate_core::verify::Ack, headers: &flowgate_core::Headers) -> Self {
        use flowgate_core::verify::Ack as A;
        match ack {
            A::Default => Self { text: None, headers: Vec::new() },
            A::Text(t) => Self { text: Some(t), headers: Vec::new() },
            // The header was verified (it is the route's credential); visible
            // ASCII only, so it can be written back as it came.
            A::EchoHeader(name) => Self {
                text: None,
                headers: headers
                    .get(name)
                    .map(str::trim)
                    .filter(|v| !v.is_empty() && v.len() <= 512 && v.bytes().all(|b| b.is_ascii_graphic()))
                    .map(|v| vec![(name, v.to_owned())])
                    .unwrap_or_default(),
            },
        }
    }

    /// `reply` as the sender needs it, when it is a success.
    pub(crate) fn apply(self, reply: Reply) -> Reply {
        if !reply.is_success() || (self.text.is_none() && self.headers.is_empty()) {
            return reply;
        }
        Reply::Acked { inner: Box::new(reply), text: self.text, headers: self.headers }
    }
}

impl Reply {
    pub(crate) fn status(&self) -> u16 {
        match self {
            Reply::Health { config_ok: true, .. } | Reply::Handshake { .. } => 200,
            Reply::Health { config_ok: false, .. } | Reply::Misconfigured => 500,
            Reply::Accepted { .. } | Reply::Queued { .. } => 202,
            Reply::Duplicate { .. } | Reply::Dropped { .. } => 200,
            Reply::Unavailable { .. } => 503,
            Reply::InProgress => 409,
            Reply::Json { status, .. } => *status,
            Reply::NotFound => 404,
            Reply::HandshakeReply(r) => r.status,
            Reply::HandshakeRefused { status } => *status,
            Reply::BadRequest => 400,
            Reply::MethodNotAllowed { .. } => 405,
            Reply::PayloadTooLarge { .. } => 413,
            Reply::InvalidSignature => 401,
            Reply::TokenUnavailable { .. } | Reply::FlowFailed { .. } | Reply::VerificationKeyUnavailable => 502,
            Reply::Acked { text: Some(_), .. } => 200,
            Reply::Acked { inner, .. } => inner.status(),
        }
    }

    fn body(&self) -> Value {
        match self {
            Reply::Health { config_ok, routes } => json!({
                "status": if *config_ok { "ok" } else { "misconfigured" },
                "routes": routes,
            }),
            Reply::Accepted { route, delivery_id, flow_run_id } => json!({
                "status": "accepted", "route": route, "delivery_id": delivery_id, "flow_run_id": flow_run_id,
            }),
            Reply::Queued { route, delivery_id, id } => json!({
                "status": "queued", "route": route, "delivery_id": delivery_id, "flowgate_id": id,
            }),
            Reply::Duplicate { route, delivery_id } => json!({
                "status": "duplicate", "route": route, "delivery_id": delivery_id,
                "message": "This delivery id was accepted before; it is not forwarded again.",
            }),
            Reply::InProgress => json!({
                "error": "in_progress",
                "message": "This delivery id is being forwarded right now; retry later to learn the outcome.",
            }),
            Reply::Dropped { route } => json!({
                "status": "dropped", "route": route,
                "message": "No routing rule of this route matches the event; it was acknowledged and not forwarded.",
            }),
            Reply::Unavailable { what } => json!({
                "error": "unavailable", "component": what,
                "message": "flowgate could not store the webhook; nothing was accepted. Retry later.",
            }),
            Reply::Json { body, .. } => body.clone(),
            Reply::Handshake { what } => json!({ "status": "ok", "handshake": what }),
            Reply::HandshakeReply(_) => Value::Null,
            Reply::HandshakeRefused { .. } => {
                json!({ "error": "handshake_refused", "message": "The handshake did not carry the configured token." })
            }
            Reply::NotFound => {
                json!({ "error": "not_found", "message": "No such route. Webhooks go to POST /hooks/<route>." })
            }
            Reply::BadRequest => {
                json!({ "error": "bad_request", "message": "The request body could not be read; nothing was forwarded." })
            }
            Reply::MethodNotAllowed { allow } => json!({ "error": "method_not_allowed", "allow": allow }),
            Reply::PayloadTooLarge { max_bytes } => json!({
                "error": "payload_too_large", "max_bytes": max_bytes,
                "message": "The body exceeds this route's max_body_bytes; nothing was forwarded.",
            }),
            Reply::InvalidSignature => json!({
                "error": "invalid_signature",
                "message": "The request's signature could not be verified; nothing was forwarded.",
            }),
            Reply::Misconfigured => json!({
                "error": "misconfigured",
                "message": "This route is not configured correctly; nothing was forwarded. The operator's log names the setting.",
            }),
            Reply::VerificationKeyUnavailable => json!({
                "error": "verification_key_unavailable",
                "message": "The sender's signature verification key could not be fetched; nothing was forwarded. The operator's log has the reason.",
            }),
            Reply::TokenUnavailable { code, hint, .. } => json!({
                "error": "token_unavailable", "entra_error": code, "message": hint,
            }),
            Reply::FlowFailed { status, code, hint } => json!({
                "error": "flow_failed", "flow_status": status, "flow_error": code, "message": hint,
            }),
            Reply::Acked { inner, .. } => inner.body(),
        }
    }

    /// The sender got its webhook taken (2xx) — a handshake counts too.
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status())
    }

    pub(crate) fn into_response(self, request_id: &str) -> Result<Response> {
        if let Reply::Acked { inner, text, headers } = self {
            let mut response = match text {
                Some(t) => {
                    let h = Headers::new();
                    h.set("content-type", "text/plain; charset=utf-8")?;
                    h.set("x-content-type-options", "nosniff")?;
                    h.set("cache-control", "no-store")?;
                    h.set("x-flowgate-request-id", request_id)?;
                    Response::ok(t)?.with_headers(h)
                }
                None => inner.into_response(request_id)?,
            };
            for (k, v) in &headers {
                response.headers_mut().set(k, v)?;
            }
            return Ok(response);
        }
        if let Reply::HandshakeReply(r) = &self {
            // Exactly what the sender expects: its content type, its body.
            let headers = Headers::new();
            headers.set("content-type", r.content_type)?;
            headers.set("cache-control", "no-store")?;
            headers.set("x-flowgate-request-id", request_id)?;
            for (k, v) in &r.headers {
                headers.set(k, v)?;
            }
            return Ok(Response::ok(r.body.clone())?.with_status(r.status).with_headers(headers));
        }
        let headers = Headers::new();
        headers.set("content-type", "application/json")?;
        headers.set("cache-control", "no-store")?;
        headers.set("x-flowgate-request-id", request_id)?;
        if let Reply::MethodNotAllowed { allow } = &self {
            headers.set("allow", allow)?;
        }
        if let Reply::TokenUnavailable { retry_after: Some(s), .. } = &self {
            headers.set("retry-after", &s.to_string())?;
        }
        if let Reply::Unavailable { .. } = &self {
            headers.set("retry-after", "30")?;
        }
        if let Reply::InProgress = &self {
            headers.set("retry-after", "10")?;
        }
        if let Reply::Json { status: 204, .. } = &self {
            return Ok(Response::empty()?.with_status(204).with_headers(headers));
        }
        let status = self.status();
        Ok(Response::from_json(&self.body())?.with_status(status).with_headers(headers))
    }
}
