//! Faults injected at the token endpoint, to test how a client copes with
//! Entra throttling and failing (entra-power-automate.md §2). Faults at the
//! flow trigger are in `flow_faults.rs`; both share the queue document
//! `FaultQueue` of `/_emulator/faults` (`inspect.rs`).
//!
//! A queue of [`TokenFault`]s is filled through `POST /_emulator/faults`
//! (`{"token": [fault, ...]}`, appended) or [`crate::Emulator::inject_token_faults`].
//! Each token request takes the next fault, if any, before it is processed:
//!
//! | JSON | answer |
//! |---|---|
//! | `{"status":429,"retry_after":N}` | 429, `Retry-After: N` (default 60, as §2 quotes), `temporarily_unavailable` / AADSTS90055 |
//! | `{"status":500}` | 500, `temporarily_unavailable` / AADSTS50000 |
//! | `{"status":503}` | 503, `temporarily_unavailable` / AADSTS90033 |
//! | `{"delay_ms":N}` | sleeps N ms, then answers the request normally |
//! | `{"aadsts":CODE}` | 400 with the error Entra sends for CODE (one of [`KNOWN_AADSTS`]) |
//!
//! Every body has the §2 error shape. Entra documents the 429 and its
//! `Retry-After` but not the body; the emulator's choice is
//! `temporarily_unavailable` with 90055 (TenantThrottlingError). For 500 and
//! 503 it is `temporarily_unavailable` with 50000 (TokenIssuanceError) and
//! 90033 (MsodsServiceUnavailable). A served fault counts in
//! `Stats::token_faults_served` and, except a delay, in `token_errors`.

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::types::EntraError;
pub use crate::types::MAX_DELAY_MS;

/// The AADSTS codes an `{"aadsts": CODE}` fault may name.
pub const KNOWN_AADSTS: [u32; 10] =
    [7_000_215, 7_000_222, 700_016, 90_002, 70_011, 700_027, 50_012, 53_003, 500_011, 7_000_218];

/// One fault for one token request. JSON forms in the module docs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "FaultWire", into = "FaultWire")]
pub enum TokenFault {
    /// HTTP 429 with `Retry-After: retry_after` (seconds).
    Throttle {
        /// Seconds in `Retry-After`.
        retry_after: u64,
    },
    /// HTTP 500.
    InternalServerError,
    /// HTTP 503.
    ServiceUnavailable,
    /// Wait, then answer normally.
    Delay {
        /// Milliseconds to wait.
        delay_ms: u64,
    },
    /// HTTP 400 with this AADSTS error. Codes outside [`KNOWN_AADSTS`] are
    /// refused by the JSON form; injected from Rust they are answered as
    /// `invalid_request` with a generic text.
    Aadsts {
        /// The AADSTS number.
        code: u32,
    },
}

/// The JSON shape of a fault: exactly one of `status`, `delay_ms`, `aadsts`.
#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultWire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retry_after: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    delay_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    aadsts: Option<u32>,
}

impl TryFrom<FaultWire> for TokenFault {
    type Error = String;

    fn try_from(w: FaultWire) -> Result<Self, String> {
        if w.retry_after.is_some() && w.status != Some(429) {
            return Err("retry_after goes with \"status\": 429 only".to_owned());
        }
        match (w.status, w.delay_ms, w.aadsts) {
            (Some(429), None, None) => Ok(Self::Throttle { retry_after: w.retry_after.unwrap_or(60) }),
            (Some(500), None, None) => Ok(Self::InternalServerError),
            (Some(503), None, None) => Ok(Self::ServiceUnavailable),
            (Some(s), None, None) => Err(format!("status {s} is not a fault status (429, 500 or 503)")),
            (None, Some(ms), None) if ms <= MAX_DELAY_MS => Ok(Self::Delay { delay_ms: ms }),
            (None, Some(_), None) => Err(format!("delay_ms is at most {MAX_DELAY_MS}")),
            (None, None, Some(code)) if KNOWN_AADSTS.contains(&code) => Ok(Self::Aadsts { code }),
            (None, None, Some(code)) => Err(format!("AADSTS{code} is not emulated; known codes: {KNOWN_AADSTS:?}")),
            _ => Err("a fault has exactly one of \"status\", \"delay_ms\" or \"aadsts\"".to_owned()),
        }
    }
}

impl From<TokenFault> for FaultWire {
    fn from(f: TokenFault) -> Self {
        match f {
            TokenFault::Throttle { retry_after } => {
                Self { status: Some(429), retry_after: Some(retry_after), ..Self::default() }
            }
            TokenFault::InternalServerError => Self { status: Some(500), ..Self::default() },
            TokenFault::ServiceUnavailable => Self { status: Some(503), ..Self::default() },
            TokenFault::Delay { delay_ms } => Self { delay_ms: Some(delay_ms), ..Self::default() },
            TokenFault::Aadsts { code } => Self { aadsts: Some(code), ..Self::default() },
        }
    }
}

/// The error answer of a fault other than a delay. `tenant`, `client_id`
/// and `scope` are the request's, for the messages that name them.
pub(crate) fn answer(fault: &TokenFault, tenant: &str, client_id: &str, scope: &str) -> EntraError {
    match *fault {
        TokenFault::Throttle { retry_after } => EntraError::new(
            90_055,
            "temporarily_unavailable",
            format!(
                "There are too many incoming requests for this tenant (TenantThrottlingError). Retry after \
                 {retry_after} seconds."
            ),
        )
        .with_status(StatusCode::TOO_MANY_REQUESTS, Some(retry_after)),
        TokenFault::InternalServerError => EntraError::new(
            50_000,
            "temporarily_unavailable",
            "There was an error issuing a token or an issue with our sign-in service. Please try again.",
        )
        .with_status(StatusCode::INTERNAL_SERVER_ERROR, None),
        TokenFault::ServiceUnavailable => {
            EntraError::new(90_033, "temporarily_unavailable", "A transient error has occurred. Please try again.")
                .with_status(StatusCode::SERVICE_UNAVAILABLE, None)
        }
        TokenFault::Aadsts { code } => EntraError::for_code(code, tenant, client_id, scope)
            .unwrap_or_else(|| EntraError::new(code, "invalid_request", "Emulated error (injected fault).")),
        // The handler sleeps instead; should one get here, answer a 503.
        TokenFault::Delay { .. } => {
            EntraError::new(90_033, "temporarily_unavailable", "A transient error has occurred.")
                .with_status(StatusCode::SERVICE_UNAVAILABLE, None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<TokenFault, String> {
        serde_json::from_str(s).map_err(|e| e.to_string())
    }

    #[test]
    fn json_forms_round_trip() {
        for (json, fault) in [
            (r#"{"status":429,"retry_after":7}"#, TokenFault::Throttle { retry_after: 7 }),
            (r#"{"status":500}"#, TokenFault::InternalServerError),
            (r#"{"status":503}"#, TokenFault::ServiceUnavailable),
            (r#"{"delay_ms":250}"#, TokenFault::Delay { delay_ms: 250 }),
            (r#"{"aadsts":53003}"#, TokenFault::Aadsts { code: 53_003 }),
        ] {
            assert_eq!(parse(json).unwrap(), fault, "{json}");
            assert_eq!(serde_json::to_string(&fault).unwrap(), json);
        }
        assert_eq!(parse(r#"{"status":429}"#).unwrap(), TokenFault::Throttle { retry_after: 60 });
    }

    #[test]
    fn bad_faults_are_refused_with_a_reason() {
        for (json, why) in [
            (r#"{"status":502}"#, "not a fault status"),
            (r#"{"status":500,"retry_after":1}"#, "retry_after"),
            (r#"{"status":429,"delay_ms":1}"#, "exactly one"),
            (r#"{}"#, "exactly one"),
            (r#"{"aadsts":12345}"#, "not emulated"),
            (r#"{"delay_ms":600001}"#, "at most"),
            (r#"{"delay":1}"#, "unknown field"),
        ] {
            let e = parse(json).unwrap_err();
            assert!(e.contains(why), "{json}: {e}");
        }
    }

    #[test]
    fn every_known_code_has_an_entra_answer() {
        for code in KNOWN_AADSTS {
            let e = answer(&TokenFault::Aadsts { code }, "contoso.onmicrosoft.com", "cid", "https://x//.default");
            assert_eq!(e.code, code);
            assert_eq!(e.status(), StatusCode::BAD_REQUEST);
            assert!(!e.message.contains("Emulated error"), "{code}");
        }
        assert!(answer(&TokenFault::Aadsts { code: 7_000_222 }, "t", "cid", "").message.contains("expired"));
        assert_eq!(answer(&TokenFault::Aadsts { code: 53_003 }, "t", "c", "").error, "invalid_grant");
        let other = answer(&TokenFault::Aadsts { code: 1 }, "t", "c", "");
        assert_eq!((other.code, other.error), (1, "invalid_request"));
    }
}
