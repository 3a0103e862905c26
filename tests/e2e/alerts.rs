//! Failure alerts end to end (issue 14): dead letters and breaker pauses
//! reach the alert destination (the emulator's sink), once per kind and
//! route or flow per window with a digest of the rest, and a destination
//! that cannot be reached never holds a delivery back.

use std::time::Duration;

use flowgate_core::{verify::github, Secret};
use flowgate_e2e::{
    eventually, standard_setup, start_emulator, Emulator, EmulatorConfig, WorkerProcess, GITHUB_VECTOR_SECRET,
};
use flowgate_emulator::{FlowFault, ReceivedAlert};
use serde_json::Value;

/// The alert window of these tests: short, so that a second window can be seen.
const WINDOW_SECS: u64 = 10;

/// `q-alert-gone` dead-letters on its first attempt (its flow answers 404);
/// `q-alert-throttled` has a flow of its own for the breaker.
fn extra(window_secs: u64) -> String {
    format!(
        r#"
[vars.FLOWGATE.routes.q-alert-gone]
provider = "github"
secret_bindings = ["GH_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_GONE"

[vars.FLOWGATE.routes.q-alert-throttled]
provider = "github"
secret_bindings = ["GH_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_ANY"
backoff_base_secs = 1
backoff_max_secs = 1

[vars.FLOWGATE.routes.q-alert-denied]
provider = "github"
secret_bindings = ["GH_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_SPECIFIC_OTHER"

[vars.FLOWGATE.alerts]
url_binding = "ALERT_URL"
format = "json"
window_secs = {window_secs}
"#
    )
}

async fn stack(alert_url: Option<&str>) -> (Emulator, WorkerProcess) {
    stack_with(alert_url, None).await
}

/// `client_secret`: instead of the emulator's (a wrong one makes Entra refuse every token).
async fn stack_with(alert_url: Option<&str>, client_secret: Option<&str>) -> (Emulator, WorkerProcess) {
    let emulator = start_emulator(EmulatorConfig::demo()).await.unwrap();
    let mut setup = standard_setup(&emulator);
    setup.flowgate_toml.push_str(&extra(WINDOW_SECS));
    let url = alert_url.map_or_else(|| emulator.alert_sink_url(), str::to_owned);
    setup.secrets.insert("ALERT_URL".into(), url);
    if let Some(secret) = client_secret {
        setup.secrets.insert("ENTRA_CLIENT_SECRET".into(), secret.into());
    }
    let worker = WorkerProcess::start(&setup).await.unwrap();
    (emulator, worker)
}

/// A marker in every body: an alert must never carry it.
const BODY_MARKER: &str = "body-marker-never-in-an-alert";

/// Sends a signed push; returns its signature header value.
async fn send(worker: &WorkerProcess, route: &str) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    let body = format!(r#"{{"marker":"{BODY_MARKER}","id":"{id}"}}"#).into_bytes();
    let signature = github::sign(&Secret::new(GITHUB_VECTOR_SECRET), &body);
    let headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("x-hub-signature-256".to_owned(), signature.clone()),
        ("x-github-event".to_owned(), "push".to_owned()),
        ("x-github-delivery".to_owned(), id),
    ];
    let a = worker.post_hook(route, &headers, body).await.unwrap();
    assert_eq!(a.status, 202, "{}", a.text);
    signature
}

fn alerts_of(emulator: &Emulator, kind: &str) -> Vec<Value> {
    emulator.alerts().into_iter().map(|a: ReceivedAlert| a.body).filter(|b| b["kind"] == kind).collect()
}

async fn wait_for_alerts(emulator: &Emulator, worker: &WorkerProcess, kind: &str, n: usize) -> Vec<Value> {
    eventually(60, &format!("{n} {kind} alert(s)"), || {
        let a = alerts_of(emulator, kind);
        async move { (a.len() >= n).then_some(a) }
    })
    .await
    .unwrap_or_else(|e| panic!("{e}: {:?}\n{}", emulator.alerts(), worker.log_tail()))
}

fn assert_nothing_secret(emulator: &Emulator, signatures: &[String]) {
    for a in emulator.alerts() {
        assert!(!a.text.contains(BODY_MARKER), "a body in {}", a.text);
        assert!(!a.text.contains(GITHUB_VECTOR_SECRET), "a secret in {}", a.text);
        assert!(!a.text.to_lowercase().contains("bearer"), "a token in {}", a.text);
        for s in signatures {
            assert!(!a.text.contains(s.trim_start_matches("sha256=")), "a signature in {}", a.text);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_lettered_webhook_raises_exactly_one_alert_with_route_flow_id_and_reason() {
    let (emulator, worker) = stack(None).await;
    let signature = send(&worker, "q-alert-gone").await;
    let alerts = wait_for_alerts(&emulator, &worker, "dead_lettered", 1).await;
    let letters = eventually(30, "the dead letter", || {
        let w = &worker;
        async move { w.dead_letters(Some("q-alert-gone")).await.ok().filter(|l| !l.is_empty()) }
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(emulator.alerts().len(), 1, "exactly one alert: {:?}", emulator.alerts());
    let a = &alerts[0];
    assert_eq!(a["route"], "q-alert-gone");
    assert_eq!(a["flow"], "q-alert-gone");
    let letter = letters[0]["id"].as_str().unwrap();
    assert_eq!(format!("{}.q-alert-gone", a["flowgate_id"].as_str().unwrap()), letter);
    assert!(a["reason"].as_str().unwrap().contains("404"), "{a}");
    assert!(a["message"].as_str().unwrap().contains("dead-lettered"), "{a}");
    assert!(a["hint"].as_str().unwrap().contains("flowgate dlq"), "{a}");
    assert!(a["at"].as_u64().unwrap() > 1_700_000_000, "{a}");
    assert!(a.get("suppressed").is_none(), "{a}");
    assert_nothing_secret(&emulator, &[signature]);
    assert!(worker.wait_for_log("alert_sent").await);
}

#[tokio::test(flavor = "multi_thread")]
async fn dead_letters_within_the_window_raise_one_alert_and_the_next_one_carries_the_count() {
    let (emulator, worker) = stack(None).await;
    let mut signatures = Vec::new();
    for _ in 0..4 {
        signatures.push(send(&worker, "q-alert-gone").await);
    }
    eventually(60, "four dead letters", || {
        let w = &worker;
        async move { w.dead_letters(Some("q-alert-gone")).await.ok().filter(|l| l.len() >= 4) }
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", worker.log_tail()));
    let first = wait_for_alerts(&emulator, &worker, "dead_lettered", 1).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(alerts_of(&emulator, "dead_lettered").len(), 1, "one per window: {:?}", emulator.alerts());
    assert!(first[0].get("suppressed").is_none());
    assert!(worker.wait_for_log("alert_suppressed").await);
    // After the window, the next dead letter's alert counts the three held back.
    tokio::time::sleep(Duration::from_secs(WINDOW_SECS)).await;
    signatures.push(send(&worker, "q-alert-gone").await);
    let both = wait_for_alerts(&emulator, &worker, "dead_lettered", 2).await;
    assert_eq!(both[1]["suppressed"]["count"], 3, "{}", both[1]);
    let since = both[1]["suppressed"]["since"].as_u64().unwrap();
    assert!(since >= first[0]["at"].as_u64().unwrap(), "{}", both[1]);
    assert_nothing_secret(&emulator, &signatures);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_429_from_a_flow_raises_a_flow_paused_alert_with_status_and_retry_after() {
    let (emulator, worker) = stack(None).await;
    emulator.inject_flow_faults(vec![FlowFault::status_retry_after(429, 5)]);
    let signature = send(&worker, "q-alert-throttled").await;
    let alerts = wait_for_alerts(&emulator, &worker, "flow_paused", 1).await;
    let a = &alerts[0];
    assert_eq!(a["flow"], "q-alert-throttled");
    assert_eq!(a["status"], 429);
    assert_eq!(a["retry_after"], 5);
    let until = a["paused_until"].as_u64().unwrap();
    let at = a["at"].as_u64().unwrap();
    assert!((at + 3..=at + 7).contains(&until), "{a}");
    assert!(a["message"].as_str().unwrap().contains("429"), "{a}");
    // The delivery itself still arrives after the pause.
    eventually(60, "delivered after the pause", || {
        let n = emulator
            .runs()
            .iter()
            .filter(|r| r.headers.get("x-flowgate-route").map(String::as_str) == Some("q-alert-throttled"))
            .count();
        async move { (n >= 1).then_some(()) }
    })
    .await
    .unwrap();
    assert_eq!(alerts_of(&emulator, "flow_paused").len(), 1);
    assert_nothing_secret(&emulator, &[signature]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_alert_destination_does_not_stop_delivery() {
    // Port 9 (discard) on localhost: nothing listens, the connection is refused.
    let unreachable = "http://127.0.0.1:9/alert-hook-path";
    let (emulator, worker) = stack(Some(unreachable)).await;
    send(&worker, "q-alert-gone").await;
    eventually(60, "the dead letter", || {
        let w = &worker;
        async move { w.dead_letters(Some("q-alert-gone")).await.ok().filter(|l| !l.is_empty()) }
    })
    .await
    .unwrap();
    assert!(worker.wait_for_log("alert_failed").await, "{}", worker.log_tail());
    // Deliveries go on: another webhook, on another route, arrives.
    send(&worker, "q").await;
    eventually(60, "a delivery after the failed alert", || {
        let n = emulator
            .runs()
            .iter()
            .filter(|r| r.headers.get("x-flowgate-route").map(String::as_str) == Some("q"))
            .count();
        async move { (n >= 1).then_some(()) }
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", worker.log_tail()));
    assert!(!worker.log().contains("alert-hook-path"), "the destination's URL is a secret: never logged");
    assert!(worker.log().contains("ALERT_URL"), "the failure names the binding");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flow_refusing_the_tokens_claims_raises_one_alert_with_the_code_and_its_fix() {
    let (emulator, worker) = stack(None).await;
    let mut signatures = Vec::new();
    for _ in 0..3 {
        signatures.push(send(&worker, "q-alert-denied").await);
    }
    let alerts = wait_for_alerts(&emulator, &worker, "flow_refusing_tokens", 1).await;
    let a = &alerts[0];
    assert_eq!(a["flow"], "q-alert-denied");
    assert_eq!(a["route"], "q-alert-denied");
    assert_eq!(a["status"], 401);
    assert_eq!(a["code"], "MisMatchingOAuthClaims");
    assert!(a["hint"].as_str().unwrap().contains("Object ID"), "the fix for 'Specific users': {a}");
    // Three refused deliveries, one alert in the window.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(alerts_of(&emulator, "flow_refusing_tokens").len(), 1, "{:?}", emulator.alerts());
    assert!(emulator.runs().is_empty(), "the flow ran nothing");
    assert_nothing_secret(&emulator, &signatures);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_client_secret_raises_a_token_failed_alert_naming_the_aadsts_code() {
    let wrong = "not-the-client-secret-e2e";
    let (emulator, worker) = stack_with(None, Some(wrong)).await;
    let signature = send(&worker, "q-alert-throttled").await;
    let alerts = wait_for_alerts(&emulator, &worker, "token_failed", 1).await;
    let a = &alerts[0];
    assert_eq!(a["flow"], "q-alert-throttled");
    assert_eq!(a["code"], "AADSTS7000215");
    assert!(a["hint"].as_str().unwrap().contains("Secret ID"), "Entra's fix: {a}");
    assert_eq!(emulator.stats().flow_requests, 0, "nothing reaches the flow without a token");
    for alert in emulator.alerts() {
        assert!(!alert.text.contains(wrong), "the client secret in {}", alert.text);
    }
    assert_nothing_secret(&emulator, &[signature]);
}
