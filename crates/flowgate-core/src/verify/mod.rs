//! Sender signature verification over the raw request bytes.
//!
//! Every verifier takes the exact body bytes as received, the request
//! headers, the route's secrets (several, for rotation) and the current time,
//! and either returns a [`Verified`] — which only this module can build, and
//! which is the only thing [`crate::forward`] accepts — or a [`VerifyError`].
//! MACs are compared in constant time. Error messages are fixed strings: they
//! never echo attacker input or secret material.

pub mod body_fields;
pub mod catalogue;
pub mod contentful;
pub mod custom;
pub mod discord;
pub mod github;
pub mod handshake;
pub mod jwt_hs256;
pub mod plaid;
pub mod scheme;
pub mod sendgrid;
pub mod shared_secret;
pub mod standard_webhooks;
mod time;
pub mod twilio;

use std::borrow::Cow;

pub use self::catalogue::{find_provider, providers, Provider, Scheme};
use crate::{headers::Headers, secret::Secret};

/// What a verifier needs to know about one inbound request.
#[derive(Debug, Clone, Copy)]
pub struct Inbound<'a> {
    /// Request headers.
    pub headers: &'a Headers,
    /// The raw body bytes exactly as received.
    pub body: &'a [u8],
    /// Current time, seconds since the epoch.
    pub now_secs: u64,
    /// The request method (`POST`).
    pub method: &'a str,
    /// The full request URL as received (for URL-bound schemes).
    pub url: &'a str,
}

impl<'a> Inbound<'a> {
    /// A POST to `https://flowgate.example/hooks/test` (tests, benchmarks).
    pub fn post(headers: &'a Headers, body: &'a [u8], now_secs: u64) -> Self {
        Self { headers, body, now_secs, method: "POST", url: "https://flowgate.example/hooks/test" }
    }
}

/// Why a request was not verified. The `Display` text is fixed per variant
/// and safe to log; nothing from the request or the secret is included.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A header the scheme requires is absent (the name is the scheme's, not the sender's).
    #[error("missing header {0}")]
    MissingHeader(Cow<'static, str>),
    /// A header is present but not in the scheme's format.
    #[error("malformed header {0}")]
    MalformedHeader(Cow<'static, str>),
    /// No signature in the request matches any of the route's secrets.
    #[error("signature does not match")]
    SignatureMismatch,
    /// The signed timestamp is older than the tolerance allows (replay).
    #[error("signed timestamp is too old")]
    TimestampTooOld,
    /// The signed timestamp is further in the future than the tolerance allows.
    #[error("signed timestamp is in the future")]
    TimestampInFuture,
    /// The route has no usable secret: a configuration error, not the sender's.
    #[error("route has no signing secret")]
    NoSecret,
    /// One of the route's secrets is not in the form the scheme needs
    /// (for example a `whsec_` secret that is not base64).
    #[error("signing secret #{index} is not a valid {provider} secret: it {reason}")]
    InvalidSecret {
        /// Position of the bad secret in the route's list (0-based).
        index: usize,
        /// The provider whose format it fails.
        provider: &'static str,
        /// What is wrong with it (never the secret itself).
        reason: &'static str,
    },
}

impl VerifyError {
    /// True when the fault is flowgate's configuration, not the request:
    /// the Worker answers 500 and logs, instead of 401.
    pub fn is_config_error(&self) -> bool {
        matches!(self, VerifyError::NoSecret | VerifyError::InvalidSecret { .. })
    }

    /// A stable, low-cardinality label for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::MissingHeader(_) => "missing_header",
            VerifyError::MalformedHeader(_) => "malformed_header",
            VerifyError::SignatureMismatch => "signature_mismatch",
            VerifyError::TimestampTooOld => "timestamp_too_old",
            VerifyError::TimestampInFuture => "timestamp_in_future",
            VerifyError::NoSecret => "no_secret",
            VerifyError::InvalidSecret { .. } => "invalid_secret",
        }
    }
}

/// A sender handshake that the Worker answers itself instead of forwarding
/// it to the flow: a flow could not answer within the sender's deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handshake {
    /// A setup event that only needs a 2xx (GitHub's `ping`); the name is
    /// the provider's.
    Ping(&'static str),
    /// Answer exactly this.
    Reply(HandshakeReply),
}

/// The answer to a handshake, as the sender expects it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeReply {
    /// Which handshake (for logs), e.g. `slack-url-verification`.
    pub name: &'static str,
    /// HTTP status.
    pub status: u16,
    /// `Content-Type` of the body.
    pub content_type: &'static str,
    /// The body.
    pub body: String,
    /// Extra headers (Asana's `X-Hook-Secret` echo).
    pub headers: Vec<(&'static str, String)>,
}

impl HandshakeReply {
    /// A 200 JSON answer.
    pub fn json(name: &'static str, body: &serde_json::Value) -> Self {
        Self { name, status: 200, content_type: "application/json", body: body.to_string(), headers: Vec::new() }
    }

    /// A 200 plain-text answer.
    pub fn text(name: &'static str, body: impl Into<String>) -> Self {
        Self { name, status: 200, content_type: "text/plain; charset=utf-8", body: body.into(), headers: Vec::new() }
    }
}

/// Proof that a request's signature was checked. Only this module can build
/// one, so nothing unverified can reach [`crate::forward`].
#[derive(Debug)]
pub struct Verified<'a> {
    provider: &'static str,
    /// Which of the route's secrets matched (handshakes answer with it).
    secret_index: usize,
    body: &'a [u8],
    event_type: Option<String>,
    delivery_id: Option<String>,
    handshake: Option<Handshake>,
}

impl<'a> Verified<'a> {
    /// The provider's name (`github`, `stripe`, `custom`, ...).
    pub fn provider(&self) -> &'static str {
        self.provider
    }
    /// The verified raw body.
    pub fn body(&self) -> &'a [u8] {
        self.body
    }
    /// The event type as the sender names it, if it sends one.
    pub fn event_type(&self) -> Option<&str> {
        self.event_type.as_deref()
    }
    /// The sender's delivery id, if it sends one.
    pub fn delivery_id(&self) -> Option<&str> {
        self.delivery_id.as_deref()
    }
    /// The position of the route secret that matched.
    pub fn secret_index(&self) -> usize {
        self.secret_index
    }

    /// Set when the request is a handshake the Worker answers itself.
    pub fn handshake(&self) -> Option<&Handshake> {
        self.handshake.as_ref()
    }
}

/// Verifies `inbound` as `scheme` signs it, against each of `secrets`.
/// `tolerance_override` replaces the scheme's replay window when set.
///
/// # Errors
/// [`VerifyError`]: the configuration variants (`NoSecret`, `InvalidSecret`)
/// are flowgate's fault; every other variant means the request is rejected.
pub fn verify<'a>(
    provider: &Provider,
    scheme: &Scheme,
    tolerance_override: Option<u64>,
    secrets: &[Secret],
    inbound: Inbound<'a>,
) -> Result<Verified<'a>, VerifyError> {
    if secrets.is_empty() || secrets.iter().any(Secret::is_blank) {
        return Err(VerifyError::NoSecret);
    }
    let mut verified = match scheme {
        Scheme::Hmac(h) => h.verify(provider.name, tolerance_override, secrets, inbound)?,
        Scheme::StandardWebhooks => standard_webhooks::verify(provider.name, tolerance_override, secrets, inbound)?,
        Scheme::Twilio => twilio::verify(provider.name, secrets, inbound)?,
        Scheme::Discord => discord::verify(provider.name, tolerance_override, secrets, inbound)?,
        Scheme::SendGrid => sendgrid::verify(provider.name, tolerance_override, secrets, inbound)?,
        Scheme::Mailgun => body_fields::verify_mailgun(provider.name, tolerance_override, secrets, inbound)?,
        Scheme::Figma => body_fields::verify_figma(provider.name, secrets, inbound)?,
        Scheme::MsGraph => body_fields::verify_msgraph(provider.name, secrets, inbound)?,
        Scheme::Token(h) => shared_secret::verify_token(h, provider.name, secrets, inbound)?,
        Scheme::BasicAuth(h) => shared_secret::verify_basic(h, provider.name, secrets, inbound)?,
        Scheme::Netlify => jwt_hs256::verify_netlify(provider.name, secrets, inbound)?,
        Scheme::Monday => jwt_hs256::verify_monday(provider.name, secrets, inbound)?,
        Scheme::Contentful => contentful::verify(provider.name, tolerance_override, secrets, inbound)?,
        Scheme::Plaid => plaid::verify(provider.name, tolerance_override, secrets, inbound)?,
    };
    verified.handshake = provider.ping(&verified);
    Ok(verified)
}

/// Checks a signed timestamp against `now` with a symmetric tolerance, in
/// saturating arithmetic (no overflow on hostile input).
fn check_window(ts: u64, now: u64, tolerance: u64) -> Result<(), VerifyError> {
    if ts.saturating_add(tolerance) < now {
        Err(VerifyError::TimestampTooOld)
    } else if ts > now.saturating_add(tolerance) {
        Err(VerifyError::TimestampInFuture)
    } else {
        Ok(())
    }
}

/// Decodes every route secret with `decode`, before anything about the
/// request is looked at: a secret in the wrong form is flowgate's fault,
/// reported by its position, whatever the request says.
fn decode_keys<K>(
    provider: &'static str,
    secrets: &[Secret],
    decode: impl Fn(&Secret) -> Result<K, &'static str>,
) -> Result<Vec<K>, VerifyError> {
    secrets
        .iter()
        .enumerate()
        .map(|(index, s)| decode(s).map_err(|reason| VerifyError::InvalidSecret { index, provider, reason }))
        .collect()
}

/// The replay window of senders whose SDKs check none (Discord, SendGrid):
/// applied only when the route sets `tolerance_secs`.
fn optional_window(ts: &str, header: &'static str, tolerance: Option<u64>, now: u64) -> Result<(), VerifyError> {
    let Some(tolerance) = tolerance else { return Ok(()) };
    let t = parse_unix_secs(ts.trim()).ok_or(VerifyError::MalformedHeader(header.into()))?;
    check_window(t, now, tolerance)
}

/// The event type and delivery id at two paths of a JSON body, parsing it once.
fn json_labels(body: &[u8], event: &str, delivery: &str) -> (Option<String>, Option<String>) {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) => (body_fields::json_path(&v, event), body_fields::json_path(&v, delivery)),
        Err(_) => (None, None),
    }
}

/// Checks a signed timestamp that may be in the future (senders whose SDKs
/// only reject old timestamps: Stripe, Paddle).
fn check_window_past_only(ts: u64, now: u64, tolerance: u64) -> Result<(), VerifyError> {
    if ts.saturating_add(tolerance) < now {
        Err(VerifyError::TimestampTooOld)
    } else {
        Ok(())
    }
}

/// Parses a decimal Unix timestamp; rejects signs, spaces and overflow.
fn parse_unix_secs(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_is_symmetric_and_saturating() {
        assert_eq!(check_window(1000, 1300, 300), Ok(()));
        assert_eq!(check_window(1000, 1301, 300), Err(VerifyError::TimestampTooOld));
        assert_eq!(check_window(1300, 1000, 300), Ok(()));
        assert_eq!(check_window(1301, 1000, 300), Err(VerifyError::TimestampInFuture));
        assert_eq!(check_window(u64::MAX, 1000, 300), Err(VerifyError::TimestampInFuture));
        assert_eq!(check_window(0, u64::MAX, 300), Err(VerifyError::TimestampTooOld));
    }

    #[test]
    fn timestamps_parse_strictly() {
        assert_eq!(parse_unix_secs("1614265330"), Some(1_614_265_330));
        for bad in ["", "-1", "+1", " 1", "1.5", "0x10", "99999999999999999999999"] {
            assert_eq!(parse_unix_secs(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn past_only_window_accepts_the_future() {
        assert_eq!(check_window_past_only(1000, 1300, 300), Ok(()));
        assert_eq!(check_window_past_only(1000, 1301, 300), Err(VerifyError::TimestampTooOld));
        assert_eq!(check_window_past_only(u64::MAX, 0, 300), Ok(()));
    }

    #[test]
    fn empty_or_blank_secret_list_is_a_config_error() {
        let h = Headers::new();
        let inbound = Inbound::post(&h, b"x", 0);
        let github = find_provider("github").unwrap();
        let err = verify(github, &github.scheme(), None, &[], inbound).unwrap_err();
        assert_eq!(err, VerifyError::NoSecret);
        assert!(err.is_config_error());
        let err = verify(github, &github.scheme(), None, &[Secret::new(" ")], inbound).unwrap_err();
        assert_eq!(err, VerifyError::NoSecret);
    }
}
