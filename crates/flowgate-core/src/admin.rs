//! The admin API's documents, defined once: the Worker serialises these
//! types, `flowgate status` / `flowgate dlq` and their tests deserialise
//! them, and the web console (`console/`) reads the same JSON.
//!
//! The API lives under [`API_PREFIX`] (`/admin/v1/…`). The paths it had
//! before it was versioned (`/status`, `/admin/dead-letters…`) are kept and
//! served by the same handlers, so they answer the same documents.
//!
//! | request | answer |
//! |---|---|
//! | `GET /admin/v1/status` (`/status`) | [`StatusReport`] |
//! | `GET /admin/v1/deliveries?route=&id=&flow=&state=&limit=` | [`DeliveryPage`] |
//! | `GET /admin/v1/dead-letters?route=&flow=&q=&limit=&cursor=` | [`DeadLetterPage`] |
//! | `GET /admin/v1/dead-letters/{route}/{id}` | [`DeadLetterDetail`] |
//! | `POST /admin/v1/dead-letters/{route}/{id}/redrive` | [`Redriven`] (202) |
//! | `DELETE /admin/v1/dead-letters/{route}/{id}` | nothing (204) |
//! | `POST /admin/v1/dead-letters/redrive` [`BulkFilter`] | [`RedriveRound`] |
//! | `POST /admin/v1/dead-letters/delete` [`BulkFilter`] | [`DeleteRound`] |
//! | `GET /admin/v1/routes/{route}/handshake` (and `POST …/open`, `close`, `reset`) | [`HandshakeWindow`](crate::ledger::HandshakeWindow) |
//! | `POST /admin/v1/routes/{route}/handshake/reveal` | [`RevealedSecret`] |
//! | any error | [`ApiError`] |

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::delivery::AttemptRecord;
use crate::ledger::RouteStatus;

/// Where the versioned API lives.
pub const API_PREFIX: &str = "/admin/v1";

/// Every error answer: a stable code and a message for the operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// `admin_disabled`, `unauthorized`, `not_found`, `bad_request`,
    /// `storage_unavailable`, `none_kept`, …
    pub error: String,
    /// What to do about it.
    #[serde(default)]
    pub message: String,
}

impl ApiError {
    /// An error answer.
    pub fn new(error: &str, message: impl Into<String>) -> Self {
        Self { error: error.to_owned(), message: message.into() }
    }
}

/// `GET /admin/v1/status`. `S` is the route ledger's counters: the
/// ledger's [`RouteStatus`] on the reading side; the Worker passes the
/// ledger's JSON through as it came (`serde_json::Value`), so that it need
/// not compile a reader for a document it only forwards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReport<S = RouteStatus> {
    /// Per route name.
    #[serde(default = "BTreeMap::new")]
    pub routes: BTreeMap<String, RouteEntry<S>>,
    /// One entry per distinct Entra credential.
    #[serde(default)]
    pub token_cache: Vec<TokenCacheEntry>,
}

impl<S> Default for StatusReport<S> {
    fn default() -> Self {
        Self { routes: BTreeMap::new(), token_cache: Vec::new() }
    }
}

/// One route in [`StatusReport`]: its settings, then its ledger's counters
/// (flattened into the same object), or `error` when they could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteEntry<S = RouteStatus> {
    /// `queue` or `direct`.
    #[serde(default)]
    pub mode: Option<String>,
    /// The sender (`github`, `stripe`, `custom`, …).
    #[serde(default)]
    pub provider: Option<String>,
    /// Whether the sender hands over its secret at registration (Asana,
    /// Notion): the route then has a registration window
    /// (`/admin/v1/routes/{route}/handshake`).
    #[serde(default)]
    pub handshake: bool,
    /// The ledger's counters.
    #[serde(flatten, default = "Option::default")]
    pub counters: Option<S>,
    /// Why the counters are missing, when they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The cached Entra token of one credential (never the token itself).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenCacheEntry {
    /// The end of the cache key (a hash naming the credential).
    pub key: String,
    /// The credential's name (`entra` for the default one).
    #[serde(default)]
    pub credential: Option<String>,
    /// Its tenant.
    #[serde(default)]
    pub tenant: Option<String>,
    /// `fresh`, `refresh_due`, `expired` or `absent`.
    pub state: String,
    /// Unix seconds.
    #[serde(default)]
    pub expires_at: Option<u64>,
    /// Seconds left.
    #[serde(default)]
    pub expires_in_secs: Option<u64>,
    /// `memory` or `kv`, when cached.
    #[serde(default)]
    pub cached_in: Option<String>,
    /// The flows using this credential.
    #[serde(default)]
    pub flows: Vec<String>,
}

/// Per flow of a route, from the deliveries its ledger keeps (delivered
/// ones for 7 days, dead ones until redriven or deleted).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowStatus {
    /// The flow.
    pub flow: String,
    /// Delivered (those the ledger still keeps: the last 7 days).
    #[serde(default)]
    pub delivered: i64,
    /// Waiting for their first attempt.
    #[serde(default)]
    pub queued: i64,
    /// Failing: waiting for another attempt.
    #[serde(default)]
    pub retrying: i64,
    /// Dead letters waiting.
    #[serde(default)]
    pub dead: i64,
    /// The most recent failed attempt, if any.
    #[serde(default)]
    pub last_error: Option<AttemptRecord>,
    /// What to do about it ([`crate::forward::flow_failure_hint`]).
    #[serde(default)]
    pub hint: Option<String>,
}

/// The hint for a failed attempt: by the Power Automate error code its
/// reason names, else by its status.
pub fn attempt_hint(record: &AttemptRecord) -> Option<&'static str> {
    const CODES: [&str; 7] = [
        "MisMatchingOAuthClaims",
        "DirectApiAuthorizationRequired",
        "DirectApiRequestHasMoreThanOneAuthorization",
        "WorkflowNotFound",
        "WorkflowTriggerIsNotEnabled",
        "TriggerInputSchemaMismatch",
        "WorkflowRequestsThrottled",
    ];
    let code = CODES.into_iter().find(|c| record.reason.contains(c));
    match (record.status, code) {
        (Some(s), c) => Some(crate::forward::flow_failure_hint(s, c)),
        (None, Some(c)) => Some(crate::forward::flow_failure_hint(0, Some(c))),
        (None, None) => None,
    }
}

/// One delivery (a webhook for one flow) as its route ledger keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    /// The route.
    pub route: String,
    /// flowgate's id of the webhook (`x-flowgate-id`).
    pub id: String,
    /// The flow.
    pub flow: String,
    /// The sender's delivery id, when the route remembers it.
    #[serde(default)]
    pub delivery_id: Option<String>,
    /// `queued`, `retrying`, `delivered` or `dead`.
    pub state: String,
    /// Attempts made.
    #[serde(default)]
    pub attempts: u32,
    /// Last change (Unix seconds).
    #[serde(default)]
    pub updated: i64,
    /// Retrying: not before this time (Unix seconds).
    #[serde(default)]
    pub next_at: Option<i64>,
    /// The failed attempts, oldest first (at most 25).
    #[serde(default)]
    pub history: Vec<AttemptRecord>,
}

/// `GET /admin/v1/deliveries`: newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryPage<D = DeliveryRecord> {
    /// The deliveries.
    #[serde(default = "Vec::new")]
    pub items: Vec<D>,
    /// Routes whose ledger could not be read, with why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<RouteError>,
}

/// A route the answer could not include.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteError {
    /// The route.
    pub route: String,
    /// Why.
    pub error: String,
}

/// One dead letter as listed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetterSummary {
    /// Route name.
    pub route: String,
    /// The letter: `{flowgate id}.{flow}`.
    pub id: String,
    /// The flow it was for.
    #[serde(default)]
    pub flow: Option<String>,
    /// Why it was given up on.
    #[serde(default)]
    pub reason: Option<String>,
    /// Delivery attempts made.
    #[serde(default)]
    pub attempts: Option<u32>,
    /// Unix seconds the webhook was accepted.
    #[serde(default)]
    pub received_at: Option<u64>,
    /// Unix seconds it became a dead letter.
    #[serde(default)]
    pub dead_at: Option<u64>,
    /// Body size.
    #[serde(default)]
    pub body_bytes: Option<u64>,
    /// The sender's delivery id.
    #[serde(default)]
    pub delivery_id: Option<String>,
    /// The sender's event type.
    #[serde(default)]
    pub event_type: Option<String>,
}

/// A page of `GET /admin/v1/dead-letters`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetterPage {
    /// The letters (those of the page that pass the filter).
    #[serde(default)]
    pub items: Vec<DeadLetterSummary>,
    /// Pass back for the next page; `None`: last page.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// `GET /admin/v1/dead-letters/{route}/{id}`. Signature headers are
/// redacted ([`is_signature_header`]); the body is there in full (base64,
/// up to 2 MiB; larger ones only by their R2 key).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetterDetail {
    /// The listed fields.
    #[serde(flatten)]
    pub summary: DeadLetterSummary,
    /// flowgate's id of the webhook.
    #[serde(default)]
    pub flowgate_id: Option<String>,
    /// The sender.
    #[serde(default)]
    pub provider: Option<String>,
    /// The body's content type.
    #[serde(default)]
    pub content_type: Option<String>,
    /// The request headers kept with the letter.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Every failed attempt, oldest first.
    #[serde(default)]
    pub history: Vec<AttemptRecord>,
    /// The body, base64; `None` when too large to include.
    #[serde(default)]
    pub body_base64: Option<String>,
    /// Where a stored body is in R2.
    #[serde(default)]
    pub body_r2_key: Option<String>,
}

/// What replaces a redacted header's value.
pub const REDACTED: &str = "[redacted]";

/// Whether a header carries a sender's signature or credential, whose value
/// the admin API never shows (the letter keeps it: a redrive does not need
/// it, but the record stays as received).
pub fn is_signature_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["signature", "-sig", "token", "secret", "hmac", "api-key", "apikey", "auth"].iter().any(|p| n.contains(p))
}

/// `POST …/{route}/{id}/redrive`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redriven {
    /// Letters enqueued again (1).
    pub redriven: u64,
}

/// Which dead letters a bulk operation takes. Every field narrows it;
/// none: every letter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkFilter {
    /// Only this route's letters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// Only letters for this flow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow: Option<String>,
    /// Only letters whose id, delivery id, event type or reason contains this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    /// Count what would be taken, change nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

impl BulkFilter {
    /// Whether a listed letter passes the filter (the route is the
    /// listing's prefix).
    pub fn matches(&self, l: &DeadLetterSummary) -> bool {
        self.route.as_deref().is_none_or(|r| r == l.route)
            && self.flow.as_deref().is_none_or(|f| l.flow.as_deref() == Some(f))
            && self.q.as_deref().filter(|q| !q.is_empty()).is_none_or(|q| {
                let q = q.to_lowercase();
                [Some(&l.id), l.delivery_id.as_ref(), l.event_type.as_ref(), l.reason.as_ref()]
                    .into_iter()
                    .flatten()
                    .any(|s| s.to_lowercase().contains(&q))
            })
    }
}

/// One round of `POST /admin/v1/dead-letters/redrive`: at most 50 letters
/// per round; repeat while `remaining` > 0 (and `redriven` > 0).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedriveRound {
    /// Letters enqueued again by this request (0 in a dry run).
    pub redriven: u64,
    /// Letters matching the filter before this round.
    #[serde(default)]
    pub matched: u64,
    /// Matching letters still dead after it.
    #[serde(default)]
    pub remaining: u64,
    /// Whether it was a dry run.
    #[serde(default)]
    pub dry_run: bool,
    /// Letters that could not be redriven.
    #[serde(default)]
    pub failed: Vec<BulkFailure>,
}

/// One round of `POST /admin/v1/dead-letters/delete` (at most 200 letters).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteRound {
    /// Letters deleted by this request (0 in a dry run).
    pub deleted: u64,
    /// Letters matching the filter before this round.
    #[serde(default)]
    pub matched: u64,
    /// Matching letters left after it.
    #[serde(default)]
    pub remaining: u64,
    /// Whether it was a dry run.
    #[serde(default)]
    pub dry_run: bool,
    /// Letters that could not be deleted.
    #[serde(default)]
    pub failed: Vec<BulkFailure>,
}

/// A letter a bulk operation could not take.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkFailure {
    /// Its route.
    pub route: String,
    /// The letter.
    pub id: String,
    /// Why.
    pub error: String,
}

/// `POST /admin/v1/routes/{route}/handshake/reveal`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevealedSecret {
    /// The route.
    pub route: String,
    /// The secret's name.
    pub name: String,
    /// The kept secret.
    pub secret: String,
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    #[test]
    fn a_route_entry_is_one_flat_object_and_reads_back_with_or_without_counters() {
        let entry = RouteEntry {
            mode: Some("queue".into()),
            provider: Some("github".into()),
            handshake: false,
            counters: Some(RouteStatus { accepted: 3, delivered: 2, ..RouteStatus::default() }),
            error: None,
        };
        let v = serde_json::to_value(&entry).unwrap();
        assert_eq!(v["mode"], "queue");
        assert_eq!(v["accepted"], 3);
        assert_eq!(v["redriven"], 0);
        assert!(v.get("error").is_none());
        let back: RouteEntry = serde_json::from_value(v).unwrap();
        assert_eq!(back, entry);

        // The Worker's side: the ledger's JSON passed through as it came.
        let passed: RouteEntry<Value> =
            RouteEntry { counters: Some(json!({"accepted": 3})), ..entry.clone().into_value() };
        assert_eq!(serde_json::to_value(&passed).unwrap()["accepted"], 3);

        let broken: RouteEntry =
            serde_json::from_value(json!({"mode": "queue", "error": "ledger unavailable"})).unwrap();
        assert_eq!(broken.counters, None);
        assert_eq!(broken.error.as_deref(), Some("ledger unavailable"));
    }

    impl RouteEntry {
        fn into_value(self) -> RouteEntry<Value> {
            RouteEntry {
                mode: self.mode,
                provider: self.provider,
                handshake: self.handshake,
                counters: self.counters.map(|c| serde_json::to_value(c).unwrap()),
                error: self.error,
            }
        }
    }

    #[test]
    fn a_dead_letter_detail_is_its_summary_plus_the_record() {
        let d = DeadLetterDetail {
            summary: DeadLetterSummary {
                route: "q".into(),
                id: "01J.f".into(),
                attempts: Some(4),
                ..Default::default()
            },
            body_base64: Some("e30=".into()),
            ..Default::default()
        };
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(
            (v["route"].as_str(), v["attempts"].as_u64(), v["body_base64"].as_str()),
            (Some("q"), Some(4), Some("e30="))
        );
        assert_eq!(serde_json::from_value::<DeadLetterDetail>(v).unwrap(), d);
    }

    #[test]
    fn bulk_filters_narrow_by_route_flow_and_text() {
        let l = DeadLetterSummary {
            route: "gh".into(),
            id: "abc.deploys".into(),
            flow: Some("deploys".into()),
            reason: Some("gave up after 4 attempt(s): flow answered 503".into()),
            event_type: Some("push".into()),
            ..Default::default()
        };
        assert!(BulkFilter::default().matches(&l));
        assert!(BulkFilter { route: Some("gh".into()), flow: Some("deploys".into()), ..Default::default() }.matches(&l));
        assert!(!BulkFilter { route: Some("other".into()), ..Default::default() }.matches(&l));
        assert!(!BulkFilter { flow: Some("bugs".into()), ..Default::default() }.matches(&l));
        assert!(BulkFilter { q: Some("ANSWERED 503".into()), ..Default::default() }.matches(&l));
        assert!(!BulkFilter { q: Some("404".into()), ..Default::default() }.matches(&l));
        // A dry run reads as one; an absent dry_run is a real run.
        let f: BulkFilter = serde_json::from_str(r#"{"route":"gh","dry_run":true}"#).unwrap();
        assert!(f.dry_run);
        assert!(!serde_json::from_str::<BulkFilter>("{}").unwrap().dry_run);
    }

    #[test]
    fn signature_headers_are_recognised_and_ordinary_ones_are_not() {
        for h in [
            "X-Hub-Signature-256",
            "stripe-signature",
            "webhook-signature",
            "x-slack-signature",
            "x-twilio-signature",
            "x-gitlab-token",
            "x-shopify-hmac-sha256",
            "x-api-key",
        ] {
            assert!(is_signature_header(h), "{h}");
        }
        for h in ["content-type", "x-github-event", "x-github-delivery", "webhook-id", "user-agent"] {
            assert!(!is_signature_header(h), "{h}");
        }
    }

    #[test]
    fn hints_come_from_the_code_in_the_reason_or_the_status() {
        let rec = |status, reason: &str| AttemptRecord { at: 0, attempt: 1, status, reason: reason.into() };
        assert!(attempt_hint(&rec(Some(404), "flow answered 404 WorkflowNotFound"))
            .unwrap()
            .contains("copy the trigger URL"));
        assert!(attempt_hint(&rec(Some(503), "flow answered 503")).unwrap().contains("unavailable"));
        assert_eq!(attempt_hint(&rec(None, "timeout")), None);
    }
}
