//! Senders whose proof is inside the JSON body rather than in a header:
//!
//! - **Mailgun** (<https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks>):
//!   `"signature": {"timestamp", "token", "signature"}` where `signature` is the
//!   hex HMAC-SHA256, keyed by the HTTP webhook signing key, of `timestamp ‖ token`
//!   (no separator). Events of a subaccount's domain also carry
//!   `parent-signature`, the same HMAC under the primary account's key; either
//!   verifies. The body itself is not covered by the HMAC: Mailgun signs only
//!   the token and the timestamp (checked in their documentation, 2026), so the
//!   timestamp window is what limits a replay. Mailgun's page says to check
//!   "that the timestamp is not too far from the current time", optionally,
//!   without a figure, and warns that delivery delays outside its control make
//!   an aggressive check unwise; flowgate uses ±5 minutes (overridable per
//!   route with `tolerance_secs`). Event: `event-data.event`; delivery id:
//!   `event-data.id`.
//! - **Figma** webhooks V2 (<https://developers.figma.com/docs/rest-api/webhooks-security>):
//!   the `passcode` chosen when the webhook was created is echoed in every
//!   event body; it is compared in constant time with the route's secret.
//!   Event: `event_type` (`PING` on creation, `FILE_UPDATE`, ...). Figma sends
//!   no delivery id; flowgate uses `<webhook_id>:<timestamp>` (the webhook and
//!   the event's own timestamp, per Figma's event reference), which is the
//!   same for retries of one event and differs between events. Figma asks
//!   receivers to answer 400 to a wrong passcode (it stops the webhook); that
//!   status is the Worker's choice, not this module's.
//! - **Microsoft Graph** change notifications
//!   (<https://learn.microsoft.com/graph/change-notifications-delivery-webhooks>):
//!   `{"value": [{"clientState": ..., ...}, ...]}`; Graph's changeNotification
//!   reference says to compare each notification's `clientState` with the
//!   value given at subscription, so every one must equal one of the route's
//!   secrets. Event: `value[0].changeType` (or `value[0].lifecycleEvent` for
//!   lifecycle notifications); delivery id: `value[0].subscriptionId` — it
//!   names the subscription, not one delivery (Graph's optional notification
//!   `id` is not always sent). The validation handshake (`?validationToken=`)
//!   is answered before verification, by `handshake.rs`; the `validationTokens`
//!   JWTs of rich notifications are not checked here.
//!
//! The body has to be parsed before anything is verified (the proof is in
//! it); the route's `max_body_bytes` bounds that.

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use super::{check_window, parse_unix_secs, scheme::Field, Inbound, Labels, Verified, VerifyError};
use crate::{
    headers::Headers,
    secret::{ct_eq, Secret},
};

/// Mailgun's default replay window, seconds (see the module docs).
pub const MAILGUN_TOLERANCE_SECS: u64 = 5 * 60;

/// A dotted path into a JSON value, as text (strings as-is, numbers written
/// out); numeric segments index arrays (`value.0.changeType`).
pub(super) fn json_path(v: &Value, path: &str) -> Option<String> {
    let mut cur = v;
    for key in path.split('.') {
        cur = match cur {
            Value::Array(items) => items.get(key.parse::<usize>().ok()?)?,
            other => other.get(key)?,
        };
    }
    match cur {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The first label found among `fields` (headers, or paths into the parsed body).
pub(super) fn label(fields: &[Field], headers: &Headers, body: Option<&Value>) -> Option<String> {
    fields.iter().find_map(|f| match f {
        Field::Header(h) => headers.get(h).map(str::to_owned),
        Field::Json(p) => body.and_then(|b| json_path(b, p)),
    })
}

fn parse_body(body: &[u8], field: &'static str) -> Result<Value, VerifyError> {
    serde_json::from_slice(body).map_err(|_| VerifyError::MalformedHeader(field.into()))
}

/// A string or number field as text (Mailgun's timestamp comes as either).
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn mailgun_mac(key: &[u8], timestamp: &str, token: &str) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    m.update(timestamp.as_bytes());
    m.update(token.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// The `signature` object Mailgun sends with `timestamp` and `token`, keyed
/// by `secret` (for `flowgate send` and tests).
pub fn mailgun_signature(secret: &Secret, timestamp: u64, token: &str) -> Value {
    let ts = timestamp.to_string();
    let sig = hex::encode(mailgun_mac(secret.expose().as_bytes(), &ts, token));
    serde_json::json!({ "timestamp": ts, "token": token, "signature": sig })
}

pub(super) fn verify_mailgun<'a>(
    provider: &'static str,
    tolerance_override: Option<u64>,
    secrets: &[Secret],
    inbound: Inbound<'a>,
) -> Result<Verified<'a>, VerifyError> {
    const FIELD: &str = "signature";
    let body = parse_body(inbound.body, FIELD)?;
    let sig = body.get(FIELD).ok_or(VerifyError::MissingHeader(FIELD.into()))?;
    let malformed = || VerifyError::MalformedHeader(FIELD.into());
    let ts_text = sig.get("timestamp").and_then(text).ok_or_else(malformed)?;
    let token = sig.get("token").and_then(Value::as_str).filter(|t| !t.is_empty()).ok_or_else(malformed)?;
    let ts = parse_unix_secs(&ts_text).ok_or_else(malformed)?;
    let candidates: Vec<Vec<u8>> = ["signature", "parent-signature"]
        .iter()
        .filter_map(|k| sig.get(*k).and_then(Value::as_str))
        .filter_map(|s| hex::decode(s.trim()).ok())
        .filter(|s| !s.is_empty())
        .collect();
    if candidates.is_empty() {
        return Err(malformed());
    }
    let hits: Vec<bool> = secrets
        .iter()
        .map(|s| {
            let expected = mailgun_mac(s.expose().as_bytes(), &ts_text, token);
            candidates.iter().fold(false, |hit, c| ct_eq(&expected, c) | hit)
        })
        .collect();
    let secret_index = hits.iter().position(|h| *h).ok_or(VerifyError::SignatureMismatch)?;
    check_window(ts, inbound.now_secs, tolerance_override.unwrap_or(MAILGUN_TOLERANCE_SECS))?;
    Ok(Verified::labelled(provider, secret_index, inbound.body, mailgun_labels(&body)))
}

/// Mailgun's `event-data.event` and `event-data.id`.
pub(super) fn mailgun_labels(body: &Value) -> Labels {
    Labels { event_type: json_path(body, "event-data.event"), delivery_id: json_path(body, "event-data.id") }
}

pub(super) fn verify_figma<'a>(
    provider: &'static str,
    secrets: &[Secret],
    inbound: Inbound<'a>,
) -> Result<Verified<'a>, VerifyError> {
    const FIELD: &str = "passcode";
    let body = parse_body(inbound.body, FIELD)?;
    let given = body.get(FIELD).ok_or(VerifyError::MissingHeader(FIELD.into()))?;
    let given = given.as_str().ok_or(VerifyError::MalformedHeader(FIELD.into()))?;
    let hits: Vec<bool> = secrets.iter().map(|s| ct_eq(s.expose().as_bytes(), given.as_bytes())).collect();
    let secret_index = hits.iter().position(|h| *h).ok_or(VerifyError::SignatureMismatch)?;
    Ok(Verified::labelled(provider, secret_index, inbound.body, figma_labels(&body)))
}

/// Figma's `event_type`, and `<webhook_id>:<timestamp>` as the delivery id
/// (see the module docs).
pub(super) fn figma_labels(body: &Value) -> Labels {
    let delivery_id = match (json_path(body, "webhook_id"), json_path(body, "timestamp")) {
        (Some(id), Some(ts)) => Some(format!("{id}:{ts}")),
        _ => None,
    };
    Labels { event_type: json_path(body, "event_type"), delivery_id }
}

pub(super) fn verify_msgraph<'a>(
    provider: &'static str,
    secrets: &[Secret],
    inbound: Inbound<'a>,
) -> Result<Verified<'a>, VerifyError> {
    const FIELD: &str = "clientState";
    let body = parse_body(inbound.body, "value")?;
    let notifications = body
        .get("value")
        .and_then(Value::as_array)
        .filter(|v| !v.is_empty())
        .ok_or(VerifyError::MalformedHeader("value".into()))?;
    let mut first_match = None;
    for n in notifications {
        let state = n.get(FIELD).ok_or(VerifyError::MissingHeader(FIELD.into()))?;
        let state = state.as_str().ok_or(VerifyError::MalformedHeader(FIELD.into()))?;
        // Every secret is compared (no early exit on a match).
        let hits: Vec<bool> = secrets.iter().map(|s| ct_eq(s.expose().as_bytes(), state.as_bytes())).collect();
        let index = hits.iter().position(|h| *h).ok_or(VerifyError::SignatureMismatch)?;
        first_match.get_or_insert(index);
    }
    let secret_index = first_match.ok_or(VerifyError::SignatureMismatch)?;
    Ok(Verified::labelled(provider, secret_index, inbound.body, msgraph_labels(&body)))
}

/// The first notification's `changeType` (or `lifecycleEvent`) and `subscriptionId`.
pub(super) fn msgraph_labels(body: &Value) -> Labels {
    Labels {
        event_type: json_path(body, "value.0.changeType").or_else(|| json_path(body, "value.0.lifecycleEvent")),
        delivery_id: json_path(body, "value.0.subscriptionId"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::verify::{find_provider, verify};

    const NOW: u64 = 1_700_000_000;
    const KEY: &str = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0";

    fn run(name: &str, secrets: &[&str], body: &[u8], now: u64) -> Result<Verified<'static>, VerifyError> {
        let p = find_provider(name).unwrap();
        let secrets: Vec<Secret> = secrets.iter().map(|s| Secret::new(*s)).collect();
        let body: &'static [u8] = Box::leak(body.to_vec().into_boxed_slice());
        let headers: &'static Headers = Box::leak(Box::new(Headers::new()));
        verify(p, &p.scheme(), None, &secrets, Inbound::post(headers, body, now))
    }

    fn mailgun_body(sig: &Value) -> Vec<u8> {
        json!({"signature": sig, "event-data": {"event": "delivered", "id": "CPgfbmQMTCKtHW6uIWtuVe"}})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn json_paths_index_arrays_and_write_numbers() {
        let v = json!({"value": [{"changeType": "created", "n": 7}], "a": {"b": "c"}});
        assert_eq!(json_path(&v, "value.0.changeType").as_deref(), Some("created"));
        assert_eq!(json_path(&v, "value.0.n").as_deref(), Some("7"));
        assert_eq!(json_path(&v, "a.b").as_deref(), Some("c"));
        for missing in ["value.1.changeType", "value.x", "a.b.c", "a", "nope"] {
            assert_eq!(json_path(&v, missing), None, "{missing}");
        }
    }

    #[test]
    fn mailgun_round_trip_and_labels() {
        let sig = mailgun_signature(&Secret::new(KEY), NOW, "e0b5477167110d68991efc6b9f89f0a11066af27834600e123");
        let v = run("mailgun", &[KEY], &mailgun_body(&sig), NOW).unwrap();
        assert_eq!(v.event_type(), Some("delivered"));
        assert_eq!(v.delivery_id(), Some("CPgfbmQMTCKtHW6uIWtuVe"));
        // The HMAC is hex of HMAC-SHA256(key, timestamp ‖ token), as Mailgun's Node sample computes it.
        let mut m = Hmac::<Sha256>::new_from_slice(KEY.as_bytes()).unwrap();
        m.update(format!("{NOW}e0b5477167110d68991efc6b9f89f0a11066af27834600e123").as_bytes());
        assert_eq!(sig["signature"], hex::encode(m.finalize().into_bytes()));
    }

    #[test]
    fn mailgun_rejects_every_mutation() {
        let token = "e0b5477167110d68991efc6b9f89f0a11066af27834600e123";
        let good = mailgun_signature(&Secret::new(KEY), NOW, token);
        let with = |k: &str, v: Value| {
            let mut s = good.clone();
            s[k] = v;
            mailgun_body(&s)
        };
        let sig = good["signature"].as_str().unwrap().to_owned();
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("token changed", with("token", json!(format!("{token}x")))),
            ("timestamp changed", with("timestamp", json!((NOW + 1).to_string()))),
            ("signature truncated", with("signature", json!(sig[..sig.len() - 2]))),
            ("signature changed", with("signature", json!(format!("{}0", &sig[..sig.len() - 1])))),
            ("signature missing", {
                let mut s = good.clone();
                s.as_object_mut().unwrap().remove("signature");
                mailgun_body(&s)
            }),
            ("no signature object", br#"{"event-data":{"event":"delivered"}}"#.to_vec()),
            ("not JSON", b"timestamp=1&token=2&signature=3".to_vec()),
        ];
        for (what, body) in cases {
            assert!(run("mailgun", &[KEY], &body, NOW).is_err(), "{what} accepted");
        }
        assert_eq!(
            run("mailgun", &["other-key"], &mailgun_body(&good), NOW).unwrap_err(),
            VerifyError::SignatureMismatch
        );
        // ±5 minutes: inside passes, just outside fails each way.
        assert!(run("mailgun", &[KEY], &mailgun_body(&good), NOW + 300).is_ok());
        assert_eq!(run("mailgun", &[KEY], &mailgun_body(&good), NOW + 301).unwrap_err(), VerifyError::TimestampTooOld);
        assert_eq!(
            run("mailgun", &[KEY], &mailgun_body(&good), NOW - 301).unwrap_err(),
            VerifyError::TimestampInFuture
        );
    }

    #[test]
    fn mailgun_accepts_the_parent_signature_and_numeric_timestamps() {
        let token = "tok-0123456789";
        let parent = mailgun_signature(&Secret::new("parent-key"), NOW, token);
        let mut sig = mailgun_signature(&Secret::new("subaccount-key"), NOW, token);
        sig["parent-signature"] = parent["signature"].clone();
        let v = run("mailgun", &["parent-key"], &mailgun_body(&sig), NOW).unwrap();
        assert_eq!(v.secret_index(), 0);
        sig["timestamp"] = json!(NOW);
        assert!(run("mailgun", &["unrelated", "subaccount-key"], &mailgun_body(&sig), NOW).is_ok());
    }

    fn figma(passcode: Value) -> Vec<u8> {
        json!({"event_type": "FILE_UPDATE", "file_key": "CL06nJNn5eZLQKDoARMND5", "passcode": passcode,
               "timestamp": "2020-02-23T20:27:16Z", "webhook_id": "22"})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn figma_passcode_is_compared_exactly() {
        let v = run("figma", &["old-passcode", "secretpasscode"], &figma(json!("secretpasscode")), NOW).unwrap();
        assert_eq!(v.secret_index(), 1);
        assert_eq!(v.event_type(), Some("FILE_UPDATE"));
        assert_eq!(v.delivery_id(), Some("22:2020-02-23T20:27:16Z"));
        for bad in [json!("secretpasscod"), json!("secretpasscodeX"), json!("SECRETPASSCODE"), json!(""), json!(12)] {
            assert!(run("figma", &["secretpasscode"], &figma(bad.clone()), NOW).is_err(), "{bad}");
        }
        let missing = br#"{"event_type":"PING","webhook_id":22}"#;
        assert_eq!(
            run("figma", &["secretpasscode"], missing, NOW).unwrap_err(),
            VerifyError::MissingHeader("passcode".into())
        );
        assert!(run("figma", &["secretpasscode"], b"passcode=secretpasscode", NOW).is_err());
    }

    fn graph(states: &[&str]) -> Vec<u8> {
        let value: Vec<Value> = states
            .iter()
            .map(|s| {
                json!({"subscriptionId": "7f105c7d-2dc5-4530-97cd-4e7ae6534c07", "clientState": s,
                            "changeType": "created", "resource": "Users/x/Messages/y", "tenantId": "t"})
            })
            .collect();
        json!({ "value": value }).to_string().into_bytes()
    }

    #[test]
    fn msgraph_requires_every_client_state() {
        let v =
            run("msgraph", &["secretClientValue"], &graph(&["secretClientValue", "secretClientValue"]), NOW).unwrap();
        assert_eq!(v.event_type(), Some("created"));
        assert_eq!(v.delivery_id(), Some("7f105c7d-2dc5-4530-97cd-4e7ae6534c07"));
        // Rotation: each notification may carry either configured value.
        assert!(run("msgraph", &["old", "new"], &graph(&["old", "new"]), NOW).is_ok());
        for bad in [&["secretClientValue", "wrong"][..], &["wrong", "secretClientValue"], &["secretClientValu"], &[]] {
            assert!(run("msgraph", &["secretClientValue"], &graph(bad), NOW).is_err(), "{bad:?}");
        }
        let missing = br#"{"value":[{"changeType":"created"}]}"#;
        assert_eq!(run("msgraph", &["s"], missing, NOW).unwrap_err(), VerifyError::MissingHeader("clientState".into()));
        let lifecycle = json!({"value": [{"lifecycleEvent": "reauthorizationRequired", "clientState": "s"}]});
        let v = run("msgraph", &["s"], lifecycle.to_string().as_bytes(), NOW).unwrap();
        assert_eq!(v.event_type(), Some("reauthorizationRequired"));
    }
}
