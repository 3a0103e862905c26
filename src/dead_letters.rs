//! Dead letters in R2: one JSON object per delivery flowgate gave up on,
//! holding the queue message (exact body or its R2 key, headers, route,
//! flow), the reason and the attempt history. Summaries ride in the
//! object's custom metadata, so listing needs no reads.
//!
//! Keys: `dead-letters/{route}/{letter}.json`, where `{letter}` is
//! `{flowgate id}.{flow}` (one webhook can go to several flows).

use flowgate_core::{
    admin::{is_signature_header, BulkFilter, DeadLetterDetail, DeadLetterPage, DeadLetterSummary, REDACTED},
    delivery::{AttemptRecord, BodyRef, QueuedDelivery},
};
use serde::{Deserialize, Serialize};
use worker::{Bucket, Env, Include};

use crate::bindings;

const PREFIX: &str = "dead-letters/";
/// Longest reason kept in the listing metadata (R2 allows 2 KB of it).
const SUMMARY_REASON_CHARS: usize = 300;
/// Stored bodies up to this size are included in `show` (base64).
const SHOW_BODY_LIMIT: u64 = 2 * 1024 * 1024;

/// One dead letter.
#[derive(Serialize, Deserialize)]
pub(crate) struct DeadLetter {
    pub(crate) reason: String,
    pub(crate) attempts: u32,
    pub(crate) dead_at: u64,
    pub(crate) history: Vec<AttemptRecord>,
    pub(crate) message: QueuedDelivery,
}

impl DeadLetter {
    pub(crate) fn new(
        message: QueuedDelivery,
        reason: &str,
        attempts: u32,
        history: Vec<AttemptRecord>,
        dead_at: u64,
    ) -> Self {
        Self { reason: reason.to_owned(), attempts, dead_at, history, message }
    }

    /// `{flowgate id}.{flow}`.
    pub(crate) fn letter_id(&self) -> String {
        format!("{}.{}", self.message.id, self.message.flow)
    }

    fn key(&self) -> String {
        letter_key(&self.message.route, &self.letter_id())
    }
}

fn letter_key(route: &str, letter: &str) -> String {
    format!("{PREFIX}{route}/{letter}.json")
}

/// Whether a path segment can be a route or letter id (no traversal, no
/// separators): route names and ids are `[A-Za-z0-9._-]`.
pub(crate) fn is_segment(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 200
        && !s.starts_with('.')
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Writes a dead letter.
pub(crate) async fn put(env: &Env, letter: &DeadLetter) -> Result<(), String> {
    let bucket = bindings::bucket(env)?;
    let m = &letter.message;
    let summary: std::collections::HashMap<String, String> = [
        ("flow", m.flow.clone()),
        ("reason", letter.reason.chars().take(SUMMARY_REASON_CHARS).collect()),
        ("attempts", letter.attempts.to_string()),
        ("received_at", m.received_at.to_string()),
        ("dead_at", letter.dead_at.to_string()),
        ("body_bytes", m.body.len().to_string()),
        ("delivery_id", m.delivery_id.clone().unwrap_or_default().chars().take(200).collect()),
        ("event_type", m.event_type.clone().unwrap_or_default().chars().take(200).collect()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let text = serde_json::to_vec(letter).map_err(|e| e.to_string())?;
    bucket
        .put(letter.key(), text)
        .custom_metadata(summary)
        .execute()
        .await
        .map(drop)
        .map_err(|e| format!("R2 put of the dead letter failed: {e}"))
}

/// Keeps a message that is not a flowgate delivery, as it came.
pub(crate) async fn put_unreadable(env: &Env, message_id: &str, raw: &str) -> Result<(), String> {
    let bucket = bindings::bucket(env)?;
    let id: String = message_id.chars().filter(|c| c.is_ascii_alphanumeric()).take(64).collect();
    bucket
        .put(format!("unreadable-messages/{id}.json"), raw.as_bytes().to_vec())
        .execute()
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

/// A page of summaries (R2's key order), those passing `filter`; the
/// route is the listing's prefix.
pub(crate) async fn list(
    env: &Env,
    filter: &BulkFilter,
    limit: u32,
    cursor: Option<String>,
) -> Result<DeadLetterPage, String> {
    let bucket = bindings::bucket(env)?;
    let prefix = match filter.route.as_deref() {
        Some(r) => format!("{PREFIX}{r}/"),
        None => PREFIX.to_owned(),
    };
    let mut q = bucket.list().prefix(prefix).limit(limit.clamp(1, 1000)).include(vec![Include::CustomMetadata]);
    if let Some(c) = cursor {
        q = q.cursor(c);
    }
    let page = q.execute().await.map_err(|e| format!("R2 list failed: {e}"))?;
    let items: Vec<DeadLetterSummary> = page
        .objects()
        .iter()
        .filter_map(|o| {
            let key = o.key();
            let rest = key.strip_prefix(PREFIX)?.strip_suffix(".json")?;
            let (route, id) = rest.split_once('/')?;
            let meta = o.custom_metadata().unwrap_or_default();
            let text = |k: &str| meta.get(k).filter(|v| !v.is_empty()).cloned();
            let num = |k: &str| meta.get(k).and_then(|v| v.parse::<u64>().ok());
            Some(DeadLetterSummary {
                route: route.to_owned(),
                id: id.to_owned(),
                flow: text("flow"),
                reason: text("reason"),
                attempts: num("attempts").and_then(|n| u32::try_from(n).ok()),
                received_at: num("received_at"),
                dead_at: num("dead_at"),
                body_bytes: num("body_bytes"),
                delivery_id: text("delivery_id"),
                event_type: text("event_type"),
            })
        })
        .filter(|l| filter.matches(l))
        .collect();
    let cursor = if page.truncated() { page.cursor() } else { None };
    Ok(DeadLetterPage { items, cursor })
}

/// Every letter passing `filter`, following the cursors (at most `cap`).
pub(crate) async fn list_matching(
    env: &Env,
    filter: &BulkFilter,
    cap: usize,
) -> Result<Vec<DeadLetterSummary>, String> {
    let mut items = Vec::new();
    let mut cursor = None;
    loop {
        let page = list(env, filter, 1000, cursor).await?;
        items.extend(page.items);
        match page.cursor {
            Some(c) if items.len() < cap => cursor = Some(c),
            _ => break,
        }
    }
    items.truncate(cap);
    Ok(items)
}

/// Reads one dead letter; `Ok(None)` when there is none.
pub(crate) async fn get(env: &Env, route: &str, letter: &str) -> Result<Option<DeadLetter>, String> {
    let bucket = bindings::bucket(env)?;
    let Some(object) =
        bucket.get(letter_key(route, letter)).execute().await.map_err(|e| format!("R2 get failed: {e}"))?
    else {
        return Ok(None);
    };
    let bytes = object.body().ok_or("empty dead letter")?.bytes().await.map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map(Some).map_err(|e| format!("dead letter unreadable: {e}"))
}

/// The full record for `show`: summary, headers (signatures redacted),
/// history, body (base64).
pub(crate) async fn show(env: &Env, letter: &DeadLetter) -> DeadLetterDetail {
    let m = &letter.message;
    let (body_base64, body_r2_key) = match &m.body {
        BodyRef::Inline(b64) => (Some(b64.clone()), None),
        BodyRef::Stored { key, len } if *len <= SHOW_BODY_LIMIT => (stored_base64(env, key).await, Some(key.clone())),
        BodyRef::Stored { key, .. } => (None, Some(key.clone())),
    };
    let headers = m
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), if is_signature_header(k) { REDACTED.to_owned() } else { v.clone() }))
        .collect();
    DeadLetterDetail {
        summary: DeadLetterSummary {
            route: m.route.clone(),
            id: letter.letter_id(),
            flow: Some(m.flow.clone()),
            reason: Some(letter.reason.clone()),
            attempts: Some(letter.attempts),
            received_at: Some(m.received_at),
            dead_at: Some(letter.dead_at),
            body_bytes: Some(m.body.len()),
            delivery_id: m.delivery_id.clone(),
            event_type: m.event_type.clone(),
        },
        flowgate_id: Some(m.id.clone()),
        provider: Some(m.provider.clone()),
        content_type: m.content_type.clone(),
        headers,
        history: letter.history.clone(),
        body_base64,
        body_r2_key,
    }
}

async fn stored_base64(env: &Env, key: &str) -> Option<String> {
    let bucket = bindings::bucket(env).ok()?;
    let bytes = bucket.get(key).execute().await.ok()??.body()?.bytes().await.ok()?;
    match BodyRef::inline(&bytes) {
        BodyRef::Inline(b64) => Some(b64),
        BodyRef::Stored { .. } => None,
    }
}

/// Deletes the letter (and, with `body`, its stored body).
pub(crate) async fn delete(env: &Env, letter: &DeadLetter, body: bool) -> Result<(), String> {
    let bucket: Bucket = bindings::bucket(env)?;
    bucket.delete(letter.key()).await.map_err(|e| format!("R2 delete failed: {e}"))?;
    if body {
        if let BodyRef::Stored { key, .. } = &letter.message.body {
            bucket.delete(key).await.map_err(|e| format!("R2 delete of the stored body failed: {e}"))?;
        }
    }
    Ok(())
}
