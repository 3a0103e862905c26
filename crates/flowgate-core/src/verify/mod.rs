//! Sender signature verification over the raw request bytes.
//!
//! Every verifier takes the exact body bytes as received, the request
//! headers, the route's secrets (several, for rotation) and the current time,
//! and either returns a [`Verified`] — which only this module can build, and
//! which is the only thing [`crate::forward`] accepts — or a [`VerifyError`].
//! MACs are compared in constant time. Error messages are fixed strings: they
//! never echo attacker input or secret material.

pub mod adyen;
pub mod asymmetric;
pub mod body_fields;
pub mod catalogue;
pub mod circle;
pub mod contentful;
pub mod custom;
mod der;
pub use der::certificate_cache_key;
pub mod discord;
pub mod dropbox_sign;
pub mod ebay;
mod ed25519;
pub mod fetched_key;
pub mod fireblocks;
pub mod github;
pub mod handshake;
pub mod jwt_hs256;
pub mod paypal;
pub mod plaid;
pub mod scheme;
pub mod sendgrid;
pub mod shared_secret;
pub mod sns;
pub mod standard_webhooks;
pub mod telnyx;
mod time;
pub mod twilio;
pub mod wix;
pub mod x509;

use std::borrow::Cow;

#[cfg(any(test, feature = "native-crypto"))]
pub use self::asymmetric::native::NativeCrypto;
pub use self::{
    asymmetric::{Checked, Pending, SignaturePort},
    catalogue::{find_provider, providers, Ack, Provider, ReplayGuard, Scheme},
};
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
    /// The body is over a bound the scheme sets on the work done before
    /// verification (JSON nesting, form parameters, notifications); refused
    /// before any MAC is computed. The text names the bound, never the body.
    #[error("body is over a limit checked before verification: {0}")]
    BodyOverLimit(&'static str),
    /// The body is not of the shape this sender sends (an X route takes only
    /// JSON objects: see [`handshake`], the CRC).
    #[error("body is not of the shape this sender sends")]
    UnexpectedBody,
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
            VerifyError::BodyOverLimit(_) => "body_over_limit",
            VerifyError::UnexpectedBody => "unexpected_body",
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

    /// A 200 plain-text answer, with `X-Content-Type-Options: nosniff` so a
    /// browser never renders an echoed challenge as a page.
    pub fn text(name: &'static str, body: impl Into<String>) -> Self {
        Self {
            name,
            status: 200,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
            headers: vec![("x-content-type-options", "nosniff".to_owned())],
        }
    }
}

/// What a verified signature vouches for, reduced to 32 bytes: the same
/// signed statement — the body and whatever else the sender signs with it
/// (timestamp, id, URL) — always gives the same proof, whatever unsigned
/// headers travel with it, and a different statement gives a different one.
///
/// It is derived from what flowgate itself computed (the expected MAC of the
/// secret that matched, or the hash of an asymmetric signature's message),
/// never from the signature text the request carries: hex case, padding,
/// extra list entries or a malleated ECDSA signature do not change it. The
/// route ledger keeps proofs to refuse replays ([`crate::ledger`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Proof([u8; 32]);

impl Proof {
    /// The proof of a MAC that flowgate computed and found in the request.
    pub(crate) fn of_mac(mac: &[u8]) -> Self {
        Self::of_parts(b"mac", &[mac])
    }

    /// The proof of an asymmetric signature (or a token) over `parts`.
    pub(crate) fn of_message(parts: &[&[u8]]) -> Self {
        Self::of_parts(b"message", parts)
    }

    fn of_parts(kind: &[u8], parts: &[&[u8]]) -> Self {
        use sha2::{Digest as _, Sha256};
        let mut h = Sha256::new();
        h.update(b"flowgate/proof/v1/");
        h.update(kind);
        for p in parts {
            // Length-prefixed, so part boundaries cannot shift.
            h.update((p.len() as u64).to_be_bytes());
            h.update(p);
        }
        Self(h.finalize().into())
    }

    /// Lower-case hex (64 characters), as the ledger stores it.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl std::fmt::Debug for Proof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Proof({})", &self.to_hex()[..16])
    }
}

/// SHA-256 of a body, lower-case hex: how the route ledger tells two bodies
/// sent under one delivery id apart.
pub fn body_digest_hex(body: &[u8]) -> String {
    use sha2::{Digest as _, Sha256};
    hex::encode(Sha256::digest(body))
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
    /// What the signature vouches for; `None` for schemes whose credential
    /// is the same on every request (a token, Basic credentials, a passcode):
    /// there is no per-request statement to recognise a replay by.
    proof: Option<Proof>,
    /// The proof covers the body and nothing else (the signed string is
    /// `{body}`), so it also tells bodies apart.
    proof_is_body: bool,
}

impl<'a> Verified<'a> {
    /// A verified request, labelled as [`labels`] labels it (every verifier
    /// builds its result through here, so the two cannot disagree).
    fn labelled(provider: &'static str, secret_index: usize, body: &'a [u8], labels: Labels) -> Self {
        Self {
            provider,
            secret_index,
            body,
            event_type: labels.event_type,
            delivery_id: labels.delivery_id,
            handshake: None,
            proof: None,
            proof_is_body: false,
        }
    }

    /// Records what the signature vouches for.
    fn with_proof(mut self, proof: Proof) -> Self {
        self.proof = Some(proof);
        self
    }

    /// Marks the proof as covering the body alone (signed string `{body}`).
    /// A caveat: with two secrets in rotation, a sender that re-signs a retry
    /// with the other key gives the same body another digest, so that retry
    /// is not recognised as a duplicate (it is forwarded once more).
    fn body_proof(mut self) -> Self {
        self.proof_is_body = self.proof.is_some();
        self
    }

    /// What the signature vouches for ([`Proof`]); `None` for schemes that
    /// carry the same credential on every request.
    pub fn proof(&self) -> Option<Proof> {
        self.proof
    }

    /// SHA-256 of the body, hex — computed only when the proof does not
    /// already tell bodies apart (body-only MACs), in which case it is the proof.
    pub fn body_digest(&self) -> String {
        match self.proof {
            Some(p) if self.proof_is_body => p.to_hex(),
            _ => body_digest_hex(self.body),
        }
    }

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

/// A verified request that owns its body: what [`verify_request`] returns,
/// and the only input of [`crate::forward::Webhook::accept`], so the bytes a
/// flow receives are the bytes whose signature was checked. Only this module
/// builds one.
#[derive(Debug)]
pub struct VerifiedRequest {
    provider: &'static str,
    secret_index: usize,
    body: Vec<u8>,
    event_type: Option<String>,
    delivery_id: Option<String>,
    handshake: Option<Handshake>,
    proof: Option<Proof>,
    proof_is_body: bool,
}

impl VerifiedRequest {
    /// The verified request, borrowed (for handshakes and routing).
    pub fn view(&self) -> Verified<'_> {
        Verified {
            provider: self.provider,
            secret_index: self.secret_index,
            body: &self.body,
            event_type: self.event_type.clone(),
            delivery_id: self.delivery_id.clone(),
            handshake: self.handshake.clone(),
            proof: self.proof,
            proof_is_body: self.proof_is_body,
        }
    }

    /// The provider's name.
    pub fn provider(&self) -> &'static str {
        self.provider
    }
    /// The verified raw body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }
    /// The event type as the sender names it.
    pub fn event_type(&self) -> Option<&str> {
        self.event_type.as_deref()
    }
    /// The sender's delivery id.
    pub fn delivery_id(&self) -> Option<&str> {
        self.delivery_id.as_deref()
    }
    /// Set when the request is a handshake the Worker answers itself.
    pub fn handshake(&self) -> Option<&Handshake> {
        self.handshake.as_ref()
    }
    /// What the signature vouches for ([`Proof`]).
    pub fn proof(&self) -> Option<Proof> {
        self.proof
    }
    /// As [`Verified::body_digest`].
    pub fn body_digest(&self) -> String {
        self.view().body_digest()
    }

    /// The body digest the duplicate check compares: [`Self::body_digest`],
    /// or, for a sender that changes some top-level JSON members from one
    /// attempt to the next (`per_attempt`, [`Provider::per_attempt_members`]),
    /// the digest of the body without them. The body is verified and within
    /// the route's size cap, so parsing it here is bounded; serde_json's map
    /// is ordered by key, so the same members give the same bytes.
    pub fn dedupe_digest(&self, per_attempt: &[&str]) -> String {
        if per_attempt.is_empty() {
            return self.body_digest();
        }
        match serde_json::from_slice::<serde_json::Value>(&self.body) {
            Ok(serde_json::Value::Object(mut members)) => {
                for m in per_attempt {
                    members.remove(*m);
                }
                body_digest_hex(&serde_json::to_vec(&members).unwrap_or_default())
            }
            _ => self.body_digest(),
        }
    }

    /// The body, given up (the caller forwards it).
    pub(crate) fn into_parts(self) -> (&'static str, Vec<u8>, Option<String>, Option<String>) {
        (self.provider, self.body, self.event_type, self.delivery_id)
    }
}

/// A request as it arrived, owning its body, for [`verify_request`].
#[derive(Debug)]
pub struct Received<'a> {
    /// Request headers.
    pub headers: &'a Headers,
    /// The raw body bytes exactly as received.
    pub body: Vec<u8>,
    /// Current time, seconds since the epoch.
    pub now_secs: u64,
    /// The request method.
    pub method: &'a str,
    /// The full request URL as received.
    pub url: &'a str,
}

/// [`verify_with`], taking the body by value: on success the body moves
/// into the [`VerifiedRequest`] (no copy), so what is forwarded is what was
/// verified. Asymmetric signatures are checked by `port` (Web Crypto in the
/// Worker).
///
/// # Errors
/// As [`verify`].
pub async fn verify_request_with<P: SignaturePort + ?Sized>(
    port: &P,
    provider: &Provider,
    scheme: &Scheme,
    tolerance_override: Option<u64>,
    secrets: &[Secret],
    received: Received<'_>,
) -> Result<VerifiedRequest, VerifyError> {
    let Received { headers, body, now_secs, method, url } = received;
    let inbound = Inbound { headers, body: &body, now_secs, method, url };
    let v = verify_with(port, provider, scheme, tolerance_override, secrets, inbound).await?;
    let Verified { provider, secret_index, event_type, delivery_id, handshake, proof, proof_is_body, .. } = v;
    Ok(VerifiedRequest { provider, secret_index, body, event_type, delivery_id, handshake, proof, proof_is_body })
}

/// [`verify_request_with`] on native crypto, synchronously.
///
/// # Errors
/// As [`verify`].
#[cfg(any(test, feature = "native-crypto"))]
pub fn verify_request(
    provider: &Provider,
    scheme: &Scheme,
    tolerance_override: Option<u64>,
    secrets: &[Secret],
    received: Received<'_>,
) -> Result<VerifiedRequest, VerifyError> {
    let Received { headers, body, now_secs, method, url } = received;
    let v =
        verify(provider, scheme, tolerance_override, secrets, Inbound { headers, body: &body, now_secs, method, url })?;
    let Verified { provider, secret_index, event_type, delivery_id, handshake, proof, proof_is_body, .. } = v;
    Ok(VerifiedRequest { provider, secret_index, body, event_type, delivery_id, handshake, proof, proof_is_body })
}

/// What a request says about itself: its event type and delivery id, as
/// the sender names them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Labels {
    /// The event type ([`Verified::event_type`]).
    pub event_type: Option<String>,
    /// The delivery id ([`Verified::delivery_id`]).
    pub delivery_id: Option<String>,
}

/// The labels `scheme` reads from a request, **without verifying it**: for
/// `flowgate route --event-file` (a dry run of the rules on a captured
/// event), never for deciding anything about a live request. Each verifier
/// labels the requests it accepts with the same per-scheme function, so a
/// request that verifies gets exactly these labels from [`verify`].
///
/// The only difference is in what a verifier would refuse: a Standard
/// Webhooks request without a signature header takes its id from whichever
/// id header it has (`webhook-id` first), where [`verify`] refuses it.
pub fn labels(scheme: &Scheme, headers: &Headers, body: &[u8]) -> Labels {
    let parsed = || serde_json::from_slice::<serde_json::Value>(body).ok();
    match scheme {
        Scheme::Hmac(h) => h.labels(headers, body),
        Scheme::StandardWebhooks => standard_webhooks::labels(headers, body),
        Scheme::Twilio => twilio::labels(headers),
        Scheme::Discord => discord::labels(body),
        Scheme::Telnyx => telnyx::labels(body),
        Scheme::SendGrid => sendgrid::labels(body),
        Scheme::Mailgun => parsed().map(|v| body_fields::mailgun_labels(&v)).unwrap_or_default(),
        Scheme::Figma => parsed().map(|v| body_fields::figma_labels(&v)).unwrap_or_default(),
        Scheme::MsGraph => parsed().map(|v| body_fields::msgraph_labels(&v)).unwrap_or_default(),
        Scheme::Token(h) | Scheme::BasicAuth(h) | Scheme::QueryToken(h) => shared_secret::labels(h, headers, body),
        Scheme::DropboxSign => dropbox_sign::labels(headers, body),
        Scheme::Netlify => jwt_hs256::netlify_labels(headers, body),
        Scheme::Monday => jwt_hs256::monday_labels(body),
        Scheme::Contentful => contentful::labels(headers),
        Scheme::Plaid => plaid::labels(body),
        Scheme::Sns => sns::labels(body),
        Scheme::PayPal => paypal::labels(body),
        Scheme::Fireblocks => fireblocks::labels(body),
        Scheme::Adyen => adyen::labels(body),
        Scheme::Wix => wix::labels(body),
        Scheme::Ebay => ebay::labels(body),
        Scheme::Circle => circle::labels(body),
    }
}

/// The handshake the Worker would answer itself, after verifying the
/// request, instead of forwarding it — a setup ping (`github-ping`) or a
/// signed challenge (`slack-url-verification`, `discord-ping`, ...) —
/// judged **without verifying it**, for dry runs. Handshakes that come
/// before verification (GET challenges, Graph's `validationToken`) depend on
/// the method and URL, which a dry run does not have, and are not covered.
pub fn handshake_name(provider: &Provider, scheme: &Scheme, headers: &Headers, body: &[u8]) -> Option<String> {
    let v = Verified::labelled(provider.name, 0, body, labels(scheme, headers, body));
    if let Some(Handshake::Ping(name)) = provider.ping(&v) {
        return Some(format!("{name}-ping"));
    }
    // A stand-in secret: the answer's content is not wanted, only whether
    // there is one (Zoom's needs a secret to be computed at all).
    handshake::after_verification(&v, headers, &[Secret::new("dry-run")]).map(|reply| reply.name.to_owned())
}

/// Verifies `inbound` as `scheme` signs it, against each of `secrets`, on
/// native crypto (tests, the CLI, the emulator): [`start`], then any
/// signature checked by [`NativeCrypto`] at once.
///
/// # Errors
/// [`VerifyError`]: the configuration variants (`NoSecret`, `InvalidSecret`)
/// are flowgate's fault; every other variant means the request is rejected.
#[cfg(any(test, feature = "native-crypto"))]
pub fn verify<'a>(
    provider: &Provider,
    scheme: &Scheme,
    tolerance_override: Option<u64>,
    secrets: &[Secret],
    inbound: Inbound<'a>,
) -> Result<Verified<'a>, VerifyError> {
    match start(provider, scheme, tolerance_override, secrets, inbound)? {
        Checked::Verified(v) => Ok(v),
        Checked::Pending(p) => NativeCrypto::complete(p),
    }
}

/// [`start`], then any signature checked by `port`.
///
/// # Errors
/// As [`verify`].
pub async fn verify_with<'a, P: SignaturePort + ?Sized>(
    port: &P,
    provider: &Provider,
    scheme: &Scheme,
    tolerance_override: Option<u64>,
    secrets: &[Secret],
    inbound: Inbound<'a>,
) -> Result<Verified<'a>, VerifyError> {
    match start(provider, scheme, tolerance_override, secrets, inbound)? {
        Checked::Verified(v) => Ok(v),
        Checked::Pending(p) => asymmetric::resolve(port, p).await,
    }
}

/// Verifies `inbound` as `scheme` signs it, against each of `secrets`, as
/// far as the core can alone: HMACs and tokens are decided here; an
/// asymmetric signature comes back as a [`Pending`] check for a
/// [`SignaturePort`] ([`asymmetric`]). `tolerance_override` replaces the
/// scheme's replay window when set.
///
/// # Errors
/// As [`verify`].
pub fn start<'a>(
    provider: &Provider,
    scheme: &Scheme,
    tolerance_override: Option<u64>,
    secrets: &[Secret],
    inbound: Inbound<'a>,
) -> Result<Checked<'a>, VerifyError> {
    if secrets.is_empty() || secrets.iter().any(Secret::is_blank) {
        return Err(VerifyError::NoSecret);
    }
    if provider.json_object_body && inbound.body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(VerifyError::UnexpectedBody);
    }
    let pending = |p: Pending<'a>| Ok(Checked::Pending(p.with_ping(provider.ping_rule())));
    let mut verified = match scheme {
        Scheme::Discord => return pending(discord::verify(provider.name, tolerance_override, secrets, inbound)?),
        Scheme::Telnyx => return pending(telnyx::verify(provider.name, tolerance_override, secrets, inbound)?),
        Scheme::SendGrid => return pending(sendgrid::verify(provider.name, tolerance_override, secrets, inbound)?),
        Scheme::Plaid => return pending(plaid::verify(provider.name, tolerance_override, secrets, inbound)?),
        Scheme::Sns => return pending(sns::verify(provider.name, secrets, inbound)?),
        Scheme::PayPal => return pending(paypal::verify(provider.name, secrets, inbound)?),
        Scheme::Fireblocks => return pending(fireblocks::verify(provider.name, secrets, inbound)?),
        Scheme::Wix => return pending(wix::verify(provider.name, tolerance_override, secrets, inbound)?),
        Scheme::Adyen => adyen::verify(provider.name, secrets, inbound)?,
        Scheme::Ebay => return pending(ebay::verify(provider.name, secrets, inbound)?),
        Scheme::Circle => return pending(circle::verify(provider.name, secrets, inbound)?),
        Scheme::Hmac(h) => h.verify(provider.name, tolerance_override, secrets, inbound)?,
        Scheme::StandardWebhooks => standard_webhooks::verify(provider.name, tolerance_override, secrets, inbound)?,
        Scheme::Twilio => twilio::verify(provider.name, secrets, inbound)?,
        Scheme::Mailgun => body_fields::verify_mailgun(provider.name, tolerance_override, secrets, inbound)?,
        Scheme::Figma => body_fields::verify_figma(provider.name, secrets, inbound)?,
        Scheme::MsGraph => body_fields::verify_msgraph(provider.name, secrets, inbound)?,
        Scheme::Token(h) => shared_secret::verify_token(h, provider.name, secrets, inbound)?,
        Scheme::BasicAuth(h) => shared_secret::verify_basic(h, provider.name, secrets, inbound)?,
        Scheme::QueryToken(h) => shared_secret::verify_query_token(h, provider.name, secrets, inbound)?,
        Scheme::DropboxSign => dropbox_sign::verify(provider.name, secrets, inbound)?,
        Scheme::Netlify => jwt_hs256::verify_netlify(provider.name, secrets, inbound)?,
        Scheme::Monday => jwt_hs256::verify_monday(provider.name, secrets, inbound)?,
        Scheme::Contentful => contentful::verify(provider.name, tolerance_override, secrets, inbound)?,
    };
    verified.handshake = provider.ping(&verified);
    Ok(Checked::Verified(verified))
}

/// The key material `scheme` verifies with, derived from the route's
/// `secrets` as the verifier derives it (a base64 or `whsec_` secret decoded,
/// a public key parsed): what two routes must not share, whatever the
/// secrets' spelling. Schemes whose credential is the same on every request
/// (a token, Basic credentials, a passcode, a `clientState`) give none: a
/// captured request carries it anyway. Secrets not in the scheme's form are
/// skipped (verification reports them).
pub fn key_material(scheme: &Scheme, secrets: &[Secret]) -> Vec<Vec<u8>> {
    if !secret_is_key(scheme) {
        return Vec::new();
    }
    let raw = |s: &Secret| Some(s.expose().as_bytes().to_vec());
    secrets
        .iter()
        .filter_map(|s| match scheme {
            Scheme::Hmac(h) => h.secret.key(s).ok(),
            Scheme::StandardWebhooks => standard_webhooks::decode_secret(s).ok(),
            Scheme::Twilio
            | Scheme::Mailgun
            | Scheme::Contentful
            | Scheme::Netlify
            | Scheme::Monday
            | Scheme::DropboxSign => raw(s),
            Scheme::Discord => discord::decode_public_key(s).ok().map(|k| k.bytes().to_vec()),
            Scheme::Telnyx => telnyx::decode_public_key(s).ok().map(|k| k.bytes().to_vec()),
            Scheme::SendGrid => sendgrid::decode_public_key(s).ok().map(|k| k.bytes().to_vec()),
            Scheme::Fireblocks => fireblocks::decode_public_key(s).ok().map(|k| k.bytes().to_vec()),
            Scheme::Wix => wix::decode_public_key(s).ok().map(|k| k.bytes().to_vec()),
            Scheme::Adyen => adyen::decode_key(s).ok(),
            // Pinned keys; fetched ones are the sender's, like Plaid's.
            Scheme::Ebay => ebay::decode_public_key(s).ok().map(|k| k.bytes().to_vec()),
            Scheme::Circle => sendgrid::decode_public_key(s).ok().map(|k| k.bytes().to_vec()),
            Scheme::Plaid
            | Scheme::Sns
            | Scheme::PayPal
            | Scheme::Figma
            | Scheme::MsGraph
            | Scheme::Token(_)
            | Scheme::BasicAuth(_)
            | Scheme::QueryToken(_) => None,
        })
        .collect()
}

/// Whether `scheme`'s secrets are keys that sign or verify (not a
/// credential sent as is, nor Plaid's fetched keys or SNS's certificates).
pub fn secret_is_key(scheme: &Scheme) -> bool {
    !matches!(
        scheme,
        Scheme::Plaid
            | Scheme::Sns
            | Scheme::PayPal
            | Scheme::Figma
            | Scheme::MsGraph
            | Scheme::Token(_)
            | Scheme::BasicAuth(_)
            | Scheme::QueryToken(_)
    )
}

/// Whether a request signed for a route of `scheme` is tied to that route:
/// its signature covers the URL (Square, Twilio, HubSpot v3, Contentful's
/// path, monday.com's `aud`). Otherwise a request accepted on one route
/// verifies on every route holding the same key ([`key_material`]).
pub fn binds_route(scheme: &Scheme) -> bool {
    match scheme {
        Scheme::Hmac(h) => h.url_bound(),
        Scheme::Twilio | Scheme::Contentful | Scheme::Monday => true,
        _ => false,
    }
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
fn json_labels(body: &[u8], event: &str, delivery: &str) -> Labels {
    let mut found = body_fields::json_paths_in(body, &[event, delivery]).into_iter();
    Labels { event_type: found.next().flatten(), delivery_id: found.next().flatten() }
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
    fn key_material_is_the_key_as_the_scheme_derives_it() {
        let p = |n| find_provider(n).unwrap().scheme();
        let k = b"one-key-many-spellings";
        let raw = Secret::new(std::str::from_utf8(k).unwrap());
        let b64 = Secret::new(base64::Engine::encode(&base64::engine::general_purpose::STANDARD, k));
        let whsec = Secret::new(format!("whsec_{}", b64.expose()));
        // X holds the key as written, Airtable base64-encoded, Svix as whsec_: one key.
        assert_eq!(key_material(&p("twitter"), std::slice::from_ref(&raw)), vec![k.to_vec()]);
        assert_eq!(key_material(&p("airtable"), std::slice::from_ref(&b64)), vec![k.to_vec()]);
        assert_eq!(key_material(&p("standard-webhooks"), std::slice::from_ref(&whsec)), vec![k.to_vec()]);
        // Credentials sent as is, and Plaid's fetched keys, are no key material.
        for n in ["gitlab", "figma", "msgraph", "plaid"] {
            assert!(key_material(&p(n), std::slice::from_ref(&raw)).is_empty(), "{n}");
            assert!(!secret_is_key(&p(n)), "{n}");
        }
        // A secret not in the scheme's form is skipped, not guessed at.
        assert!(key_material(&p("airtable"), &[Secret::new("not base64 !")]).is_empty());
    }

    #[test]
    fn only_signatures_over_the_url_bind_a_route() {
        let p = |n| find_provider(n).unwrap().scheme();
        for n in ["twilio", "square", "contentful", "monday"] {
            assert!(binds_route(&p(n)), "{n}");
        }
        for n in ["github", "stripe", "standard-webhooks", "twitter", "discord", "sendgrid"] {
            assert!(!binds_route(&p(n)), "{n}");
        }
    }

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

    /// What `verify` labels a request with, when it verifies it.
    fn verified_labels(p: &Provider, scheme: &Scheme, secret: &Secret, headers: &Headers, body: &[u8]) -> Labels {
        const URL: &str = "https://flowgate.example/hooks/test";
        let inbound = Inbound { headers, body, now_secs: 1_700_000_000, method: "POST", url: URL };
        let v = verify(p, scheme, None, std::slice::from_ref(secret), inbound)
            .unwrap_or_else(|e| panic!("{}: {e}", p.name));
        Labels { event_type: v.event_type().map(str::to_owned), delivery_id: v.delivery_id().map(str::to_owned) }
    }

    #[test]
    fn labels_agree_with_verify_on_signed_requests() {
        use self::scheme::{Field, SecretEncoding};
        const NOW: u64 = 1_700_000_000;
        let body = format!(
            r#"{{"type":"t.top","id":"evt_1","event_id":"e_1","event":{{"type":"t.inner","event_type":"et"}},"webhookTimestamp":{}}}"#,
            NOW * 1000
        );
        let body = body.as_bytes();
        let mut checked = 0;
        for p in providers() {
            let scheme = p.scheme();
            let Scheme::Hmac(h) = &scheme else { continue };
            let secret = Secret::new(match h.secret {
                SecretEncoding::Raw => "a-signing-secret",
                SecretEncoding::Base64 => "YS1zaWduaW5nLXNlY3JldA==",
                SecretEncoding::Hex => "a1b2c3d4e5f60718",
                SecretEncoding::Whsec => "whsec_YS1zaWduaW5nLXNlY3JldA==",
            });
            let signed = h.sign(&secret, body, NOW, "msg_1", "https://flowgate.example/hooks/test", "POST").unwrap();
            // (A signature carried in the URL, PandaDoc's, is not a label's business.)
            if signed.iter().any(|(k, _)| k.starts_with('?')) {
                continue;
            }
            let mut headers: Headers = signed.into_iter().collect();
            // The labels a sender puts in headers, where the preset reads them there.
            for (i, f) in h.event.iter().chain(&h.delivery).enumerate() {
                if let Field::Header(name) = f {
                    if headers.get(name).is_none() {
                        headers.insert(name, format!("label-{i}"));
                    }
                }
            }
            let expected = verified_labels(p, &scheme, &secret, &headers, body);
            assert_eq!(labels(&scheme, &headers, body), expected, "{}", p.name);
            checked += 1;
        }
        assert!(checked > 40, "{checked}");

        // Standard Webhooks in both header families, and shared-secret headers.
        let sw = find_provider("standard-webhooks").unwrap();
        let secret = Secret::new("whsec_YS1zaWduaW5nLXNlY3JldA==");
        let sig = standard_webhooks::sign(&secret, "msg_9", NOW, body).unwrap();
        for prefix in ["webhook", "svix"] {
            let headers = Headers::new()
                .with(&format!("{prefix}-id"), "msg_9")
                .with(&format!("{prefix}-timestamp"), NOW.to_string())
                .with(&format!("{prefix}-signature"), sig.clone());
            let expected = verified_labels(sw, &sw.scheme(), &secret, &headers, body);
            assert_eq!(expected.delivery_id.as_deref(), Some("msg_9"));
            assert_eq!(expected.event_type.as_deref(), Some("t.top"));
            assert_eq!(labels(&sw.scheme(), &headers, body), expected, "{prefix}");
        }
        let gitlab = find_provider("gitlab").unwrap();
        let headers = Headers::new()
            .with("x-gitlab-token", "tok")
            .with("x-gitlab-event", "Push Hook")
            .with("x-gitlab-event-uuid", "u-1");
        let expected = verified_labels(gitlab, &gitlab.scheme(), &Secret::new("tok"), &headers, body);
        assert_eq!(expected.event_type.as_deref(), Some("Push Hook"));
        assert_eq!(labels(&gitlab.scheme(), &headers, body), expected);
    }

    #[test]
    fn handshakes_are_recognised_without_a_signature() {
        let name = |provider: &str, headers: Headers, body: &[u8]| {
            let p = find_provider(provider).unwrap();
            handshake_name(p, &p.scheme(), &headers, body)
        };
        assert_eq!(
            name("github", Headers::new().with("x-github-event", "ping"), b"{}").as_deref(),
            Some("github-ping")
        );
        assert_eq!(name("github", Headers::new().with("x-github-event", "push"), b"{}"), None);
        let challenge = br#"{"type":"url_verification","challenge":"c"}"#;
        assert_eq!(name("slack", Headers::new(), challenge).as_deref(), Some("slack-url-verification"));
        let zoom = br#"{"event":"endpoint.url_validation","payload":{"plainToken":"t"}}"#;
        assert_eq!(name("zoom", Headers::new(), zoom).as_deref(), Some("zoom-url-validation"));
        assert_eq!(name("slack", Headers::new(), br#"{"type":"event_callback"}"#), None);
    }

    #[test]
    fn labels_need_no_signature() {
        let github = find_provider("github").unwrap();
        let headers = Headers::new().with("X-GitHub-Event", "issues").with("X-GitHub-Delivery", "d-1");
        let l = labels(&github.scheme(), &headers, b"not even json");
        assert_eq!((l.event_type.as_deref(), l.delivery_id.as_deref()), (Some("issues"), Some("d-1")));
        // An unsigned Standard Webhooks capture still has its id.
        let sw = find_provider("svix").unwrap();
        let l = labels(&sw.scheme(), &Headers::new().with("svix-id", "msg_1"), br#"{"type":"user.created"}"#);
        assert_eq!((l.event_type.as_deref(), l.delivery_id.as_deref()), (Some("user.created"), Some("msg_1")));
        let l = labels(&sw.scheme(), &Headers::new(), b"");
        assert_eq!(l, Labels::default());
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
