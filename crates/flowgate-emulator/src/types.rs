//! The leaf of the emulator's modules: types and helpers that the token
//! endpoint, the client-assertion checks, the fault queues and the shared
//! state all use, so that none of them needs another (`state`, `assertion`,
//! `faults` and `entra` used to import one another in a cycle). Nothing here
//! imports another module of this crate.
//!
//! - [`EntraError`]: an Entra token-endpoint error and its JSON answer
//!   (entra-power-automate.md §2 "Error format").
//! - [`RequestOrigin`]: the origin a request was sent to (`Host` or
//!   `X-Forwarded-Host`, and the scheme it arrived on or
//!   `X-Forwarded-Proto`), from which every absolute URL the emulator hands
//!   out is built.
//! - Clock, hashing and formatting helpers; the issuers of a tenant; the
//!   header names of flowgate's provenance headers; [`MAX_DELAY_MS`].

use std::time::{SystemTime, UNIX_EPOCH};

use axum::{
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;
use sha2::{Digest as _, Sha256};

/// Header with the sender's delivery id, as the Worker forwards it
/// (`flowgate_core::forward::HEADER_DELIVERY`); `GET /_emulator/runs?delivery=`
/// filters on it.
pub const DELIVERY_HEADER: &str = "x-flowgate-delivery";
/// Header with flowgate's own id of an accepted webhook; the same on every
/// attempt, so `RunsSummary` counts runs per id to find duplicates.
pub const FLOWGATE_ID_HEADER: &str = "x-flowgate-id";
/// Header with the delivery attempt number (1 for the first).
pub const ATTEMPT_HEADER: &str = "x-flowgate-attempt";

/// Longest delay a fault may ask for (10 minutes).
pub const MAX_DELAY_MS: u64 = 600_000;

/// An Entra token-endpoint error, rendered as §2 "Error format" describes.
#[derive(Debug)]
pub(crate) struct EntraError {
    /// AADSTS number.
    pub(crate) code: u32,
    /// OAuth `error` value.
    pub(crate) error: &'static str,
    /// Text after `AADSTSnnn: `.
    pub(crate) message: String,
    /// HTTP status: 400 unless a fault asks for another.
    status: StatusCode,
    /// `Retry-After` seconds (429 faults).
    retry_after: Option<u64>,
}

impl EntraError {
    pub(crate) fn new(code: u32, error: &'static str, message: impl Into<String>) -> Self {
        Self { code, error, message: message.into(), status: StatusCode::BAD_REQUEST, retry_after: None }
    }

    /// The same error with another HTTP status (and `Retry-After`).
    pub(crate) fn with_status(mut self, status: StatusCode, retry_after: Option<u64>) -> Self {
        self.status = status;
        self.retry_after = retry_after;
        self
    }

    /// The HTTP status the error is sent with.
    #[cfg(test)]
    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    pub(crate) fn missing_parameter(name: &str) -> Self {
        Self::new(
            900_144,
            "invalid_request",
            format!("The request body must contain the following parameter: '{name}'."),
        )
    }

    pub(crate) fn tenant_not_found(tenant: &str) -> Self {
        Self::new(
            90_002,
            "invalid_request",
            format!(
                "Tenant '{}' not found. Check to make sure you have the correct tenant ID and \
                 are signing into the correct cloud. Check with your subscription \
                 administrator, this may happen if there are no active subscriptions for the \
                 tenant.",
                echo(tenant)
            ),
        )
    }

    pub(crate) fn unknown_client(client_id: &str, directory: &str) -> Self {
        Self::new(
            700_016,
            "unauthorized_client",
            format!(
                "Application with identifier '{}' was not found in the directory '{directory}'. \
                 This can happen if the application has not been installed by the administrator \
                 of the tenant or consented to by any user in the tenant. You may have sent your \
                 authentication request to the wrong tenant.",
                echo(client_id)
            ),
        )
    }

    pub(crate) fn no_credential() -> Self {
        Self::new(
            7_000_218,
            "invalid_client",
            "The request body must contain the following parameter: 'client_assertion' or \
             'client_secret'.",
        )
    }

    pub(crate) fn invalid_secret(client_id: &str) -> Self {
        Self::new(
            7_000_215,
            "invalid_client",
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is \
                 the client secret value, not the client secret ID, for a secret added to app \
                 '{}'.",
                echo(client_id)
            ),
        )
    }

    /// AADSTS7000222 (§2), only ever sent as an injected fault: the emulator
    /// has no secret expiry dates.
    pub(crate) fn secret_expired(client_id: &str) -> Self {
        Self::new(
            7_000_222,
            "invalid_client",
            format!(
                "The provided client secret keys for app '{}' are expired. Visit the Azure portal \
                 to create new keys for your app: https://aka.ms/NewClientSecret, or consider using \
                 certificate credentials for added security: https://aka.ms/certCreds.",
                echo(client_id)
            ),
        )
    }

    /// AADSTS53003 (§2), only ever sent as an injected fault.
    pub(crate) fn blocked_by_conditional_access() -> Self {
        Self::new(
            53_003,
            "invalid_grant",
            "Access has been blocked by Conditional Access policies. The access policy does not \
             allow token issuance.",
        )
    }

    pub(crate) fn invalid_scope(scope: &str) -> Self {
        Self::new(
            70_011,
            "invalid_scope",
            format!(
                "The provided request must include a 'scope' input parameter. The provided value \
                 for the input parameter 'scope' is not valid. The scope {} is not valid.",
                echo(scope)
            ),
        )
    }

    pub(crate) fn resource_not_found(resource: &str, directory: &str) -> Self {
        Self::new(
            500_011,
            "invalid_resource",
            format!(
                "The resource principal named {} was not found in the tenant named {}. This can \
                 happen if the application has not been installed by the administrator of the \
                 tenant or consented to by any user in the tenant. You might have sent your \
                 authentication request to the wrong tenant.",
                echo(resource),
                echo(directory)
            ),
        )
    }

    /// The error Entra would send for `code`, for the codes an injected fault
    /// may name ([`faults::KNOWN_AADSTS`]); `None` for any other code. The
    /// request's tenant, client ID and scope fill the messages.
    pub(crate) fn for_code(code: u32, tenant: &str, client_id: &str, scope: &str) -> Option<Self> {
        Some(match code {
            7_000_215 => Self::invalid_secret(client_id),
            7_000_222 => Self::secret_expired(client_id),
            7_000_218 => Self::no_credential(),
            700_016 => Self::unknown_client(client_id, tenant),
            90_002 => Self::tenant_not_found(tenant),
            70_011 => Self::invalid_scope(scope),
            500_011 => Self::resource_not_found(scope.strip_suffix("/.default").unwrap_or(scope), tenant),
            53_003 => Self::blocked_by_conditional_access(),
            700_027 => Self::new(
                700_027,
                "invalid_client",
                "Client assertion contains an invalid signature. [Reason - The provided signature value \
                 did not match the expected signature value.]",
            ),
            50_012 => {
                Self::new(50_012, "invalid_client", "Client assertion audience claim does not match Realm issuer.")
            }
            _ => return None,
        })
    }

    /// The Entra JSON body with the error's status (400 unless a fault says
    /// otherwise). `correlation_id` echoes the caller's `client-request-id`
    /// when that is a GUID, as Entra does.
    pub(crate) fn into_response(self, base_url: &str, correlation_id: Option<String>) -> Response {
        let trace_id = uuid::Uuid::new_v4().to_string();
        let correlation_id = correlation_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let timestamp = format!("{}Z", format_utc(now_unix()));
        let description = format!(
            "AADSTS{}: {}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}",
            self.code, self.message
        );
        let body = json!({
            "error": self.error,
            "error_description": description,
            "error_codes": [self.code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": format!("{base_url}/error?code={}", self.code),
        });
        let mut resp = (self.status, Json(body)).into_response();
        no_store(resp.headers_mut());
        if let Some(secs) = self.retry_after {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

/// Current Unix time in whole seconds (0 if the clock is before 1970).
pub(crate) fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Current Unix time in milliseconds (0 if the clock is before 1970).
pub(crate) fn now_millis() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)).unwrap_or(0)
}

/// Lower-case hex SHA-256.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) for Unix seconds; Entra's error timestamps
/// append a `Z` to this.
pub(crate) fn format_utc(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Proleptic Gregorian date of a day count since 1970-01-01, using 400-year
/// eras of 146 097 days (each era starts on a March 1st so leap days fall at
/// the end of the era-year).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z / 146_097;
    let doe = z % 146_097; // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // 0..=365, from March 1st
    let mp = (5 * doy + 2) / 153; // month index, March = 0
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// v1 issuer for a tenant (§1.5 "Token version").
pub(crate) fn v1_issuer(tenant_id: &str) -> String {
    format!("https://sts.windows.net/{tenant_id}/")
}

/// v2 issuer for a tenant, as Entra's v2 discovery document names it
/// (§1.5: the trigger's policy accepts either issuer).
pub(crate) fn v2_issuer(tenant_id: &str) -> String {
    format!("https://login.microsoftonline.com/{tenant_id}/v2.0")
}

/// Truncates attacker-chosen text before it is echoed in an error message.
pub(crate) fn echo(s: &str) -> String {
    s.chars().take(128).collect()
}

/// `Cache-Control: no-store` as Entra sends it on token answers.
pub(crate) fn no_store(h: &mut HeaderMap) {
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store, no-cache"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// The caller's `client-request-id` when it is a GUID, which Entra echoes as
/// `correlation_id`.
pub(crate) fn correlation_id(headers: &HeaderMap) -> Option<String> {
    let v = headers.get("client-request-id")?.to_str().ok()?;
    uuid::Uuid::parse_str(v).ok().map(|u| u.to_string())
}

/// Where a request was sent: `scheme://host[:port]`, without a trailing
/// slash. Every absolute URL the emulator hands out (discovery documents,
/// `error_uri`, the index) is built from it, so it is right on any bind
/// address and behind a proxy, and a client assertion's `aud` is checked
/// against it (§3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RequestOrigin(String);

impl RequestOrigin {
    /// From the request: the host is `X-Forwarded-Host` (first value), else
    /// `Host` (HTTP/1.1; hyper exposes HTTP/2's `:authority` as `Host` too),
    /// else `fallback`'s; the scheme is `X-Forwarded-Proto` (first value,
    /// `http` or `https`), else `scheme`, the one the request arrived on. A
    /// host with characters no host name has is ignored (it would end up in
    /// URLs verbatim).
    pub(crate) fn of(headers: &HeaderMap, scheme: &str, fallback: &str) -> Self {
        let first = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let scheme = match first("x-forwarded-proto").map(str::to_ascii_lowercase) {
            Some(p) if p == "http" || p == "https" => p,
            _ => scheme.to_owned(),
        };
        let host = first("x-forwarded-host")
            .filter(|h| is_host(h))
            .or_else(|| first(header::HOST.as_str()).filter(|h| is_host(h)));
        match host {
            Some(h) => Self(format!("{scheme}://{h}")),
            None => {
                let bare = fallback.split_once("://").map_or(fallback, |(_, rest)| rest);
                Self(format!("{scheme}://{}", bare.trim_end_matches('/')))
            }
        }
    }

    /// `scheme://host[:port]`.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port` with the characters those
/// have, at most 255 of them.
fn is_host(h: &str) -> bool {
    h.len() <= 255
        && h.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formatting_matches_httpdate() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00");
        assert_eq!(format_utc(1_700_000_000), "2023-11-14 22:13:20");
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00:00");
        const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
        // Cross-check against an independent formatter over ~250 years.
        let mut s: u64 = 12_345;
        while s < 8_000_000_000 {
            let http = httpdate::fmt_http_date(UNIX_EPOCH + std::time::Duration::from_secs(s));
            // "Tue, 14 Nov 2023 22:13:20 GMT"
            let f: Vec<&str> = http.split([' ', ',']).filter(|p| !p.is_empty()).collect();
            let month = MONTHS.iter().position(|m| *m == f[2]).unwrap() + 1;
            let expected = format!("{}-{month:02}-{} {}", f[3], f[1], f[4]);
            assert_eq!(format_utc(s), expected, "{s}");
            s += 3_456_789;
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn the_origin_comes_from_the_request_then_the_proxy_headers() {
        let fallback = "http://127.0.0.1:8790";
        let o = |pairs: &[(&str, &str)], scheme: &str| RequestOrigin::of(&headers(pairs), scheme, fallback).0;
        assert_eq!(o(&[("host", "localhost:9443")], "https"), "https://localhost:9443");
        assert_eq!(o(&[("host", "[::1]:8790")], "http"), "http://[::1]:8790");
        assert_eq!(o(&[], "http"), "http://127.0.0.1:8790", "no Host: the bind address");
        assert_eq!(o(&[], "https"), "https://127.0.0.1:8790");
        // Behind a TLS-terminating proxy.
        assert_eq!(
            o(
                &[("host", "127.0.0.1:8790"), ("x-forwarded-proto", "https"), ("x-forwarded-host", "login.test")],
                "http"
            ),
            "https://login.test"
        );
        assert_eq!(o(&[("host", "a.test"), ("x-forwarded-proto", "https, http")], "http"), "https://a.test");
        // Garbage is ignored, never put into URLs.
        assert_eq!(o(&[("host", "a.test"), ("x-forwarded-proto", "gopher")], "http"), "http://a.test");
        assert_eq!(o(&[("host", "a.test/evil?x")], "http"), "http://127.0.0.1:8790");
        assert_eq!(o(&[("host", "a.test"), ("x-forwarded-host", "b test")], "http"), "http://a.test");
    }
}
