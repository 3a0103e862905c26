//! Senders whose proof is a field of the JSON body: Mailgun (an HMAC of
//! timestamp ‖ token), Figma (`passcode`), Microsoft Graph (every
//! notification's `clientState`).

use arbitrary::{Arbitrary, Result, Unstructured};
use flowgate_core::{
    verify::{self, body_fields::mailgun_signature, find_provider, Provider, Scheme, VerifyError},
    Headers, Secret,
};
use serde_json::{json, Value};

use crate::support::{
    accepted, alter_suffix, any_text, inbound, key, other_key, outcome, printable, refused, text_of, Alphabet, Outcome,
    BASE_URL, NOW_RANGE, TOKEN,
};

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Mutation {
    None,
    /// Another token, timestamp or signature; a missing or mistyped field.
    OtherToken,
    OtherTimestamp(u8),
    AlterSignature {
        at: usize,
        pick: u8,
    },
    WrongSecret {
        at: usize,
        delta: u8,
    },
    DropField,
    WrongType,
    TooOld(u16),
    TooNew(u16),
    /// Mailgun: the valid MAC as `parent-signature` (a subaccount's primary
    /// key signs it) and garbage as `signature`: accepted.
    ParentSignature,
    /// Graph: one more notification, with another client state.
    ForeignNotification,
    /// Graph: no notifications.
    EmptyList,
}

fn run(p: &Provider, s: &Scheme, secrets: &[Secret], body: &[u8], now: u64, tol: Option<u64>) -> Outcome {
    let headers = Headers::new();
    outcome(verify::verify(p, s, tol, secrets, inbound(&headers, body, now, BASE_URL)))
}

/// Mailgun, Figma or Graph (the input picks): the body a sender sends
/// verifies; one mutation of its proof; refused.
pub fn body_fields(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let _ = match u.int_in_range(0..=2u8) {
        Ok(0) => mailgun(&mut u),
        Ok(1) => figma(&mut u),
        _ => msgraph(&mut u),
    };
}

fn mailgun(u: &mut Unstructured<'_>) -> Result<()> {
    let p = find_provider("mailgun").expect("built in");
    let scheme = p.scheme();
    let key = key(u, 48)?;
    let secret = Secret::new(printable(&key));
    let now = u.int_in_range(NOW_RANGE)?;
    let token = text_of(u, TOKEN, 1, 50)?;
    let tolerance: Option<u64> = if u.arbitrary()? { Some(u.int_in_range(1..=3600)?) } else { None };
    let numeric_ts: bool = u.arbitrary()?;
    let event = any_text(u, 40)?;
    let mutation: Mutation = u.arbitrary()?;
    let mut sig = mailgun_signature(&secret, now, &token);
    if numeric_ts {
        // Mailgun writes the timestamp as a string or a number.
        sig["timestamp"] = Value::from(now);
    }
    let body_of = |sig: &Value| json!({"signature": sig, "event-data": {"event": event, "id": "ev-1"}}).to_string();
    let body = body_of(&sig);
    let secrets = [secret];
    let v = accepted("mailgun", run(p, &scheme, &secrets, body.as_bytes(), now, tolerance));
    assert_eq!(v.event_type.as_deref(), Some(event.as_str()));
    let window = tolerance.unwrap_or(verify::body_fields::MAILGUN_TOLERANCE_SECS);
    let changed = |f: &dyn Fn(&mut Value)| {
        let mut s = sig.clone();
        f(&mut s);
        body_of(&s)
    };
    let hex_sig = sig["signature"].as_str().expect("hex").to_owned();
    let refuse = |why: &str, body: String, now: u64, secrets: &[Secret]| {
        refused(&format!("mailgun: {why}"), run(p, &scheme, secrets, body.as_bytes(), now, tolerance))
    };
    match mutation {
        Mutation::OtherToken => {
            refuse("another token", changed(&|s| s["token"] = Value::from(format!("{token}x"))), now, &secrets);
        }
        Mutation::OtherTimestamp(d) => {
            let ts = (now + 1 + u64::from(d)).to_string();
            refuse("another timestamp", changed(&|s| s["timestamp"] = Value::from(ts.clone())), now, &secrets);
        }
        Mutation::AlterSignature { at, pick } => {
            let bad = alter_suffix(&hex_sig, hex_sig.len(), at, pick, Alphabet::Hex);
            refuse("signature altered", changed(&|s| s["signature"] = Value::from(bad.clone())), now, &secrets);
        }
        Mutation::WrongSecret { at, delta } => {
            let wrong = Secret::new(printable(&other_key(verify::scheme::SecretEncoding::Raw, &key, at, delta)));
            refuse("another secret", body.clone(), now, &[wrong]);
        }
        Mutation::DropField => {
            refuse("no signature object", json!({"event-data": {}}).to_string(), now, &secrets);
        }
        Mutation::WrongType => {
            refuse("token not a string", changed(&|s| s["token"] = json!(["x"])), now, &secrets);
        }
        Mutation::TooOld(d) => {
            let e = refuse("too old", body.clone(), now + window + 1 + u64::from(d), &secrets);
            assert_eq!(e, VerifyError::TimestampTooOld);
        }
        Mutation::TooNew(d) => {
            let e = refuse("in the future", body.clone(), now - window - 1 - u64::from(d), &secrets);
            assert_eq!(e, VerifyError::TimestampInFuture);
        }
        Mutation::ParentSignature => {
            let b = changed(&|s| {
                s["parent-signature"] = Value::from(hex_sig.clone());
                s["signature"] = Value::from("00");
            });
            accepted("mailgun: parent-signature", run(p, &scheme, &secrets, b.as_bytes(), now, tolerance));
        }
        _ => {}
    }
    Ok(())
}

fn figma(u: &mut Unstructured<'_>) -> Result<()> {
    let p = find_provider("figma").expect("built in");
    let scheme = p.scheme();
    let passcode = any_text(u, 60)?;
    if passcode.trim().is_empty() {
        return Ok(());
    }
    let mutation: Mutation = u.arbitrary()?;
    let body_of = |passcode: Value| {
        json!({"event_type": "FILE_UPDATE", "passcode": passcode, "webhook_id": "22", "timestamp": "2024-01-01T00:00:00Z"})
            .to_string()
    };
    let secrets = [Secret::new(passcode.clone())];
    let body = body_of(Value::from(passcode.clone()));
    let v = accepted("figma", run(p, &scheme, &secrets, body.as_bytes(), 0, None));
    // Figma has no delivery id (webhook_id:timestamp collided within a second).
    assert_eq!(v.delivery_id, None);
    let refuse = |why: &str, body: String| {
        refused(&format!("figma: {why}"), run(p, &scheme, &secrets, body.as_bytes(), 0, None))
    };
    match mutation {
        Mutation::OtherToken | Mutation::AlterSignature { .. } | Mutation::WrongSecret { .. } => {
            refuse("another passcode", body_of(Value::from(format!("{passcode}x"))));
        }
        Mutation::DropField => {
            refuse("no passcode", json!({"event_type": "PING"}).to_string());
        }
        Mutation::WrongType => {
            refuse("passcode not a string", body_of(json!([passcode])));
        }
        _ => {}
    }
    Ok(())
}

fn msgraph(u: &mut Unstructured<'_>) -> Result<()> {
    let p = find_provider("msgraph").expect("built in");
    let scheme = p.scheme();
    let states: Vec<String> = (0..u.int_in_range(1..=3)?).map(|_| any_text(u, 40)).collect::<Result<_>>()?;
    if states.iter().any(|s| s.trim().is_empty()) {
        return Ok(());
    }
    // Each notification carries one of the route's client states (rotation).
    let picks: Vec<usize> = (0..u.int_in_range(1..=4)?).map(|_| u.choose_index(states.len())).collect::<Result<_>>()?;
    let mutation: Mutation = u.arbitrary()?;
    let note = |state: Value| json!({"clientState": state, "changeType": "created", "subscriptionId": "sub-1"});
    let body_of = |notes: Vec<Value>| json!({ "value": notes }).to_string();
    let notes: Vec<Value> = picks.iter().map(|i| note(Value::from(states[*i].clone()))).collect();
    let secrets: Vec<Secret> = states.iter().map(|s| Secret::new(s.clone())).collect();
    let body = body_of(notes.clone());
    let v = accepted("msgraph", run(p, &scheme, &secrets, body.as_bytes(), 0, None));
    // The first of the route's secrets equal to the first notification's state.
    let first = states.iter().position(|s| *s == states[picks[0]]);
    assert_eq!(Some(v.secret_index), first, "msgraph: the first notification's secret");
    assert_eq!(v.event_type.as_deref(), Some("created"));
    let refuse = |why: &str, body: String| {
        refused(&format!("msgraph: {why}"), run(p, &scheme, &secrets, body.as_bytes(), 0, None))
    };
    let foreign = format!("{}x", states.join(""));
    let with = |n: Value| {
        let mut ns = notes.clone();
        ns.push(n);
        body_of(ns)
    };
    match mutation {
        Mutation::ForeignNotification | Mutation::OtherToken | Mutation::WrongSecret { .. } => {
            // Longer than every state, so equal to none of them.
            refuse("a notification with another client state", with(note(Value::from(foreign))));
        }
        Mutation::DropField => {
            refuse("a notification without clientState", with(json!({"changeType": "updated"})));
        }
        Mutation::WrongType => {
            refuse("clientState not a string", with(note(json!(1))));
        }
        Mutation::EmptyList => {
            refuse("no notifications", body_of(Vec::new()));
        }
        _ => {}
    }
    Ok(())
}
