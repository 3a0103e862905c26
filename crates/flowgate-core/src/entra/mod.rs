//! Microsoft Entra ID client-credentials tokens: the request (client secret
//! or certificate assertion), the answer, what each failure means, and the
//! token cache.
//!
//! - [`assertion`]: certificate client assertions (§3).
//! - [`seal`]: the encrypted KV value.
//! - [`cache`]: memory → KV → Entra, one fetch in flight, refresh at half
//!   life, back-off after failures.
//!
//! Facts: entra-power-automate.md §1.1 (request), §2 (answer, errors,
//! throttling), §3 (certificates, clouds).

pub mod assertion;
pub mod cache;
pub mod seal;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use self::{
    assertion::CertificateCredential,
    cache::{Io, RefreshTicket, Runtime, TokenCache, TokenSource, TokenStore},
    seal::KvSeal,
};
use crate::{config::EntraConfig, secret::Secret};

/// KV's minimum `expirationTtl` (workers-platform.md §1 KV).
pub const KV_MIN_TTL_SECS: u64 = 60;
/// Largest safety margin before expiry; smaller for short-lived tokens.
pub const MAX_EXPIRY_MARGIN_SECS: u64 = 300;

/// The credential material, read from the Worker's secrets.
#[derive(Clone, Debug)]
pub enum ClientCredential {
    /// A client secret.
    Secret(Secret),
    /// A certificate.
    Certificate(CertificateCredential),
}

impl ClientCredential {
    /// The secret material: what the KV encryption key is derived from when
    /// no dedicated key is configured.
    pub fn secret_material(&self) -> &[u8] {
        match self {
            ClientCredential::Secret(s) => s.expose().as_bytes(),
            ClientCredential::Certificate(c) => c.private_key_der.expose(),
        }
    }

    /// A fingerprint that changes when the credential is rotated.
    pub fn fingerprint(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        match self {
            ClientCredential::Secret(s) => {
                h.update(b"secret\0");
                h.update(s.expose().as_bytes());
            }
            ClientCredential::Certificate(c) => {
                h.update(b"certificate\0");
                h.update(&c.certificate_der);
                h.update(c.algorithm.name());
            }
        }
        h.finalize().into()
    }
}

/// The `application/x-www-form-urlencoded` body of a client-secret token request.
pub fn client_secret_form(cfg: &EntraConfig, client_secret: &Secret) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", &cfg.client_id)
        .append_pair("scope", &cfg.scope)
        .append_pair("client_secret", client_secret.expose())
        .append_pair("grant_type", "client_credentials")
        .finish()
}

/// The form body of a certificate token request, given the signed assertion.
pub fn client_assertion_form(cfg: &EntraConfig, assertion: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", &cfg.client_id)
        .append_pair("scope", &cfg.scope)
        .append_pair("client_assertion_type", assertion::ASSERTION_TYPE)
        .append_pair("client_assertion", assertion)
        .append_pair("grant_type", "client_credentials")
        .finish()
}

/// An access token and its lifetime.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedToken {
    /// The bearer token.
    pub access_token: Secret,
    /// When Entra issued it (our clock), seconds since the epoch.
    pub obtained_at: u64,
    /// When it expires, seconds since the epoch.
    pub expires_at: u64,
}

#[derive(Serialize, Deserialize)]
struct TokenJson<'a> {
    access_token: &'a str,
    obtained_at: u64,
    expires_at: u64,
}

impl CachedToken {
    /// Seconds before expiry at which the token stops being handed out:
    /// a quarter of its lifetime, at most five minutes.
    pub fn margin(&self) -> u64 {
        (self.expires_at.saturating_sub(self.obtained_at) / 4).min(MAX_EXPIRY_MARGIN_SECS)
    }

    /// True while the token may still be sent (expiry minus the margin).
    pub fn is_usable(&self, now: u64) -> bool {
        now.saturating_add(self.margin()) < self.expires_at
    }

    /// True from half its lifetime on: time to refresh in the background,
    /// as MSAL does (§2 "MSAL proactive refresh"), long before anyone waits.
    pub fn refresh_due(&self, now: u64) -> bool {
        now >= self.obtained_at + self.expires_at.saturating_sub(self.obtained_at) / 2
    }

    /// The KV `expirationTtl` for this token: its usable life, never below
    /// KV's 60 s minimum; `None` when it is not worth storing. A token read
    /// back from KV is checked with [`CachedToken::is_usable`] anyway, so the
    /// 60 s floor can never serve an expired token.
    pub fn kv_ttl(&self, now: u64) -> Option<u64> {
        let usable_for = self.expires_at.saturating_sub(self.margin()).saturating_sub(now);
        (usable_for > 0).then(|| usable_for.max(KV_MIN_TTL_SECS))
    }

    /// Plaintext form, sealed by [`KvSeal`] before it reaches KV.
    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(&TokenJson {
            access_token: self.access_token.expose(),
            obtained_at: self.obtained_at,
            expires_at: self.expires_at,
        })
        .expect("plain struct serialises")
    }

    pub(crate) fn from_json(s: &str) -> Option<Self> {
        let v: TokenJson<'_> = serde_json::from_str(s).ok()?;
        (!v.access_token.is_empty()).then(|| CachedToken {
            access_token: Secret::new(v.access_token),
            obtained_at: v.obtained_at,
            expires_at: v.expires_at,
        })
    }
}

/// The KV key for a credential: authority, tenant, client, scope and a
/// fingerprint of the credential, hashed. A rotated secret or certificate
/// therefore never reads a token obtained with the old one, and the key
/// reveals nothing.
pub fn cache_key(cfg: &EntraConfig, credential: &ClientCredential) -> String {
    let mut h = Sha256::new();
    for part in [cfg.authority.as_str(), &cfg.tenant, &cfg.client_id, &cfg.scope] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    h.update(credential.fingerprint());
    format!("entra-token/v1/{}", hex::encode(&h.finalize()[..16]))
}

/// Why no token could be obtained.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Entra answered with an OAuth error.
    #[error("Entra refused the token request (HTTP {status}, {error}{})", aadsts.map(|c| format!(", AADSTS{c}")).unwrap_or_default())]
    Entra {
        /// HTTP status.
        status: u16,
        /// OAuth `error` value, e.g. `invalid_client`.
        error: String,
        /// First AADSTS code in `error_codes`.
        aadsts: Option<u32>,
        /// Entra's `trace_id`, for Microsoft support.
        trace_id: Option<String>,
        /// `Retry-After` seconds on a 429.
        retry_after: Option<u64>,
    },
    /// The answer was not an Entra token response or error.
    #[error("unexpected answer from the token endpoint (HTTP {status})")]
    Unexpected {
        /// HTTP status.
        status: u16,
    },
    /// The request did not complete (network error or timeout).
    #[error("token endpoint unreachable: {0}")]
    Transport(String),
    /// The credential could not be used (e.g. signing the assertion failed).
    #[error("the credential could not be used: {0}")]
    Credential(String),
    /// Entra was not asked: a recent failure holds requests back.
    #[error("token requests held back for {retry_after} s after: {cause}")]
    HeldBack {
        /// Seconds until Entra is asked again.
        retry_after: u64,
        /// The failure that started the hold.
        cause: Box<TokenError>,
    },
}

/// OAuth errors that no retry can fix: the configuration must change.
const PERMANENT_ERRORS: [&str; 6] =
    ["invalid_client", "unauthorized_client", "invalid_request", "invalid_scope", "invalid_grant", "invalid_resource"];

impl TokenError {
    /// One line for the operator: what to fix.
    pub fn hint(&self) -> &'static str {
        match self {
            TokenError::Entra { aadsts: Some(code), .. } => aadsts_hint(*code),
            TokenError::Entra { status: 429, .. } => {
                "Entra is throttling token requests; flowgate waits as Retry-After says before asking again"
            }
            TokenError::Entra { status: 500..=599, .. } => "Entra is failing; flowgate retried; the sender should retry later",
            TokenError::Entra { .. } => "Entra rejected the request; see the error code in Entra's documentation",
            TokenError::Unexpected { .. } => {
                "entra.authority does not point at an Entra token endpoint (check the host and the cloud)"
            }
            TokenError::Transport(_) => "the token endpoint could not be reached; check entra.authority; the sender should retry",
            TokenError::Credential(_) => {
                "the certificate or its private key could not be used: check the PEM secrets (PKCS#8 key, the certificate uploaded to the app)"
            }
            TokenError::HeldBack { cause, .. } => cause.hint(),
        }
    }

    /// A stable label for logs and the sender's error body.
    pub fn code(&self) -> String {
        match self {
            TokenError::Entra { aadsts: Some(c), .. } => format!("AADSTS{c}"),
            TokenError::Entra { error, .. } => error.clone(),
            TokenError::Unexpected { .. } => "unexpected_answer".to_owned(),
            TokenError::Transport(_) => "unreachable".to_owned(),
            TokenError::Credential(_) => "credential_unusable".to_owned(),
            TokenError::HeldBack { cause, .. } => cause.code(),
        }
    }

    /// Seconds the caller should wait before trying again, if known.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            TokenError::Entra { retry_after, .. } => *retry_after,
            TokenError::HeldBack { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// Worth retrying at once (with a short, jittered pause): a network
    /// error, a timeout, or a 5xx from Entra.
    pub fn is_transient(&self) -> bool {
        matches!(self, TokenError::Transport(_) | TokenError::Entra { status: 500..=599, .. })
    }

    /// Only a configuration change fixes it: wrong or expired secret,
    /// unknown app or tenant, bad assertion, Conditional Access, ...
    pub fn is_permanent(&self) -> bool {
        match self {
            TokenError::Entra { status: 429 | 500..=599, .. } => false,
            TokenError::Entra { error, status, .. } => {
                PERMANENT_ERRORS.contains(&error.as_str()) || (400..500).contains(status)
            }
            TokenError::Unexpected { .. } | TokenError::Credential(_) => true,
            TokenError::Transport(_) | TokenError::HeldBack { .. } => false,
        }
    }
}

/// What to do about an AADSTS code (reference-error-codes, entra-power-automate.md §2).
pub fn aadsts_hint(code: u32) -> &'static str {
    match code {
        7_000_215 => "invalid client secret: store the secret's Value (not its Secret ID) with `wrangler secret put` under entra.client_secret_binding",
        7_000_222 => "the client secret has expired: create a new one under App registrations → Certificates & secrets and store it with `wrangler secret put`",
        7_000_218 => "no credential was sent: set entra.client_secret_binding or entra.certificate and store the secrets with `wrangler secret put`",
        700_016 => "no application with entra.client_id in this tenant: check client_id (Application ID, not Object ID), tenant and cloud",
        90_002 => "tenant not found: check entra.tenant, or entra.cloud/entra.authority if the tenant is in a sovereign cloud",
        70_011 => "invalid scope: use https://service.flow.microsoft.com//.default (one resource, ending in /.default)",
        700_022 => "only one resource may be requested: use a single scope ending in /.default",
        500_011 => "the resource in entra.scope is not in this tenant: check the scope's host and entra.cloud",
        53_003 => "blocked by Conditional Access: ask your Entra admin to exclude this workload identity or allow its location",
        9_001_023 | 90_124 | 90_130 => "use a tenant-specific endpoint: set entra.tenant to the tenant GUID or domain, not common/organizations",
        700_027 => "the client assertion failed validation: upload this certificate (the .cer/.pem, not the key) to the app registration, and check entra.certificate.algorithm (RS256 works everywhere)",
        50_012 => "the client assertion was rejected (audience, issuer, expiry or reuse): check entra.client_id, entra.tenant and the Worker's clock",
        700_023 => "the client assertion's audience is wrong: its aud must be this tenant's token endpoint; check entra.tenant and entra.authority",
        700_024 => "the client assertion is not within its valid time range: check the clock (assertions are valid for 5 minutes)",
        90_055 => "Entra is throttling this tenant: flowgate waits before asking again",
        _ => "see https://learn.microsoft.com/entra/identity-platform/reference-error-codes for this code",
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    token_type: Option<String>,
    access_token: Option<String>,
    expires_in: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ErrorResponse {
    error: String,
    #[serde(default)]
    error_codes: Vec<u32>,
    trace_id: Option<String>,
}

/// Interprets the token endpoint's answer. `now` is when it arrived.
///
/// # Errors
/// [`TokenError::Entra`] for an Entra error body, [`TokenError::Unexpected`]
/// for anything else that is not a usable token.
pub fn parse_token_response(
    status: u16,
    retry_after: Option<u64>,
    body: &[u8],
    now: u64,
) -> Result<CachedToken, TokenError> {
    if (200..300).contains(&status) {
        let r: TokenResponse = serde_json::from_slice(body).map_err(|_| TokenError::Unexpected { status })?;
        // v2 sends a number, v1 a numeric string; accept both.
        let expires_in = match r.expires_in {
            Some(serde_json::Value::Number(n)) => n.as_u64(),
            Some(serde_json::Value::String(s)) => s.parse().ok(),
            _ => None,
        };
        return match (r.token_type.as_deref(), r.access_token, expires_in) {
            (Some(t), Some(tok), Some(exp)) if t.eq_ignore_ascii_case("bearer") && !tok.is_empty() && exp > 0 => {
                Ok(CachedToken {
                    access_token: Secret::new(tok),
                    obtained_at: now,
                    expires_at: now.saturating_add(exp),
                })
            }
            _ => Err(TokenError::Unexpected { status }),
        };
    }
    match serde_json::from_slice::<ErrorResponse>(body) {
        Ok(e) => Err(TokenError::Entra {
            status,
            error: e.error,
            aadsts: e.error_codes.first().copied(),
            trace_id: e.trace_id,
            retry_after,
        }),
        Err(_) if status == 429 || status >= 500 => Err(TokenError::Entra {
            status,
            error: if status == 429 { "throttled" } else { "server_error" }.to_owned(),
            aadsts: None,
            trace_id: None,
            retry_after,
        }),
        Err(_) => Err(TokenError::Unexpected { status }),
    }
}

/// Where a token came from (for logs and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenOrigin {
    /// This isolate's memory.
    Memory,
    /// Workers KV.
    Kv,
    /// A new request to Entra.
    Entra,
}

impl TokenOrigin {
    /// Lower-case name for logs.
    pub fn name(self) -> &'static str {
        match self {
            TokenOrigin::Memory => "memory",
            TokenOrigin::Kv => "kv",
            TokenOrigin::Entra => "entra",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{AssertionAlgorithm, Cloud, Credential};

    pub(crate) fn cfg() -> EntraConfig {
        EntraConfig {
            cloud: Cloud::Public,
            authority: "https://login.microsoftonline.com".into(),
            tenant: "contoso.onmicrosoft.com".into(),
            client_id: "5b6f2a10-7c1d-4e8f-9a2b-3c4d5e6f7a81".into(),
            scope: "https://service.flow.microsoft.com//.default".into(),
            credential: Credential::ClientSecret { binding: "S".into() },
            timeout_secs: 5,
            token_cache_key_binding: None,
        }
    }

    #[test]
    fn form_bodies_keep_the_double_slash_and_encode_the_credential() {
        let body = client_secret_form(&cfg(), &Secret::new("a+b/c=d&e"));
        assert_eq!(
            body,
            "client_id=5b6f2a10-7c1d-4e8f-9a2b-3c4d5e6f7a81\
             &scope=https%3A%2F%2Fservice.flow.microsoft.com%2F%2F.default\
             &client_secret=a%2Bb%2Fc%3Dd%26e&grant_type=client_credentials"
        );
        let body = client_assertion_form(&cfg(), "h.c.s");
        assert!(body.contains(
            "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=h.c.s&"
        ));
        assert!(!body.contains("client_secret"));
    }

    #[test]
    fn cache_key_changes_with_every_credential_part() {
        let s = ClientCredential::Secret(Secret::new("one"));
        let base = cache_key(&cfg(), &s);
        assert!(base.starts_with("entra-token/v1/"));
        assert_ne!(base, cache_key(&cfg(), &ClientCredential::Secret(Secret::new("two"))));
        let mut c = cfg();
        c.tenant = "fabrikam.onmicrosoft.com".into();
        assert_ne!(base, cache_key(&c, &s));
        let mut c = cfg();
        c.scope = "https://service.flow.microsoft.com/.default".into();
        assert_ne!(base, cache_key(&c, &s));
        assert!(!base.contains("one"));
        let cert = |pem: &str, alg| {
            ClientCredential::Certificate(
                CertificateCredential::from_pem(
                    &Secret::new(include_str!("../../../../tests/fixtures/entra-test-key.pem")),
                    pem,
                    alg,
                )
                .unwrap(),
            )
        };
        let test = include_str!("../../../../tests/fixtures/entra-test-cert.pem");
        let other = include_str!("../../../../tests/fixtures/entra-other-cert.pem");
        let k1 = cache_key(&cfg(), &cert(test, AssertionAlgorithm::Rs256));
        assert_ne!(k1, cache_key(&cfg(), &cert(other, AssertionAlgorithm::Rs256)), "rotated certificate");
        assert_ne!(k1, cache_key(&cfg(), &cert(test, AssertionAlgorithm::Ps256)));
        assert_ne!(k1, base);
    }

    #[test]
    fn parses_success_v2_and_v1_shapes() {
        let t = parse_token_response(
            200,
            None,
            br#"{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"eyJ"}"#,
            1000,
        )
        .unwrap();
        assert_eq!(t.expires_at, 4599);
        assert_eq!(t.access_token.expose(), "eyJ");
        let t =
            parse_token_response(200, None, br#"{"token_type":"Bearer","expires_in":"3599","access_token":"eyJ"}"#, 0)
                .unwrap();
        assert_eq!(t.expires_at, 3599);
        for bad in [
            &br#"{"token_type":"mac","expires_in":1,"access_token":"x"}"#[..],
            b"{}",
            b"<html>",
            br#"{"token_type":"Bearer","expires_in":0,"access_token":"x"}"#,
        ] {
            assert_eq!(parse_token_response(200, None, bad, 0), Err(TokenError::Unexpected { status: 200 }));
        }
    }

    #[test]
    fn parses_entra_errors_with_hints_and_classes() {
        let body = br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.","error_codes":[7000215],"timestamp":"2026-11-27 06:00:00Z","trace_id":"t-1","correlation_id":"c-1"}"#;
        let err = parse_token_response(400, None, body, 0).unwrap_err();
        assert_eq!(err.code(), "AADSTS7000215");
        assert!(err.hint().contains("Secret ID"));
        assert!(err.is_permanent() && !err.is_transient());
        assert!(matches!(err, TokenError::Entra { trace_id: Some(ref t), .. } if t == "t-1"));
        let err = parse_token_response(429, Some(60), b"", 0).unwrap_err();
        assert!(matches!(err, TokenError::Entra { status: 429, retry_after: Some(60), .. }));
        assert!(!err.is_permanent() && !err.is_transient());
        assert_eq!(err.retry_after(), Some(60));
        let err = parse_token_response(503, None, b"<html>", 0).unwrap_err();
        assert!(err.is_transient() && !err.is_permanent());
        assert_eq!(parse_token_response(404, None, b"<html>", 0), Err(TokenError::Unexpected { status: 404 }));
        assert!(TokenError::Transport("timed out".into()).is_transient());
        for code in [7_000_215, 7_000_222, 700_016, 90_002, 70_011, 53_003, 700_027, 50_012] {
            assert!(!aadsts_hint(code).starts_with("see "), "{code} has a specific hint");
        }
        let held = TokenError::HeldBack { retry_after: 30, cause: Box::new(err) };
        assert_eq!(held.retry_after(), Some(30));
    }

    #[test]
    fn usable_window_refresh_point_and_kv_ttl() {
        let t = |obtained, expires| CachedToken {
            access_token: Secret::new("x"),
            obtained_at: obtained,
            expires_at: expires,
        };
        // Hour-long token: 5 min margin, refresh from half-life.
        let hour = t(0, 3600);
        assert_eq!(hour.margin(), 300);
        assert!(hour.is_usable(3299));
        assert!(!hour.is_usable(3300));
        assert!(!hour.refresh_due(1799));
        assert!(hour.refresh_due(1800));
        assert_eq!(hour.kv_ttl(0), Some(3300));
        // Short token: a quarter of its life, and never below KV's 60 s floor.
        let short = t(0, 8);
        assert_eq!(short.margin(), 2);
        assert!(short.is_usable(5));
        assert!(!short.is_usable(6));
        assert!(short.refresh_due(4));
        assert_eq!(short.kv_ttl(0), Some(60));
        assert_eq!(short.kv_ttl(6), None);
    }
}
