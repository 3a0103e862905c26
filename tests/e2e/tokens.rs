//! Tokens: one Entra request per token lifetime, KV reuse across restarts,
//! refresh on expiry and on a flow 401, Entra errors — each on its own
//! emulator and Worker, because they assert on counters.

use std::time::Duration;

use flowgate_core::{verify::github, Secret};
use flowgate_e2e::{
    demo, runs_for, standard_setup, start_emulator, EmulatorConfig, WorkerProcess, GITHUB_VECTOR_SECRET,
};

fn signed(body: &[u8]) -> (String, Vec<(String, String)>) {
    let id = uuid::Uuid::new_v4().to_string();
    let headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("x-hub-signature-256".to_owned(), github::sign(&Secret::new(GITHUB_VECTOR_SECRET), body)),
        ("x-github-event".to_owned(), "push".to_owned()),
        ("x-github-delivery".to_owned(), id.clone()),
    ];
    (id, headers)
}

async fn send(worker: &WorkerProcess, n: usize) -> (String, u16) {
    let body = format!(r#"{{"n":{n}}}"#).into_bytes();
    let (id, headers) = signed(&body);
    let a = worker.post_hook("gh", &headers, body).await.unwrap();
    (id, a.status)
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_concurrent_webhooks_make_one_token_request() {
    let emulator = start_emulator(EmulatorConfig::demo()).await.unwrap();
    let worker = WorkerProcess::start(&standard_setup(&emulator)).await.unwrap();
    let results = futures::future::join_all((0..50).map(|n| send(&worker, n))).await;
    for (id, status) in &results {
        assert_eq!(*status, 202, "{}", worker.log_tail());
        assert_eq!(runs_for(&emulator, id).len(), 1);
    }
    let stats = emulator.stats();
    assert_eq!(stats.token_requests, 1, "50 concurrent webhooks share one token request");
    assert_eq!(stats.flow_accepted, 50);
    let tokens: std::collections::BTreeSet<String> = emulator.runs().into_iter().map(|r| r.token_id).collect();
    assert_eq!(tokens.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_is_reused_from_kv_after_the_worker_restarts() {
    let emulator = start_emulator(EmulatorConfig::demo()).await.unwrap();
    let state = flowgate_e2e::repo_root().join("target/e2e").join(format!("persist-{}", uuid::Uuid::new_v4().simple()));
    let mut setup = standard_setup(&emulator);
    setup.persist_to = Some(state.clone());

    let mut first = WorkerProcess::start(&setup).await.unwrap();
    assert_eq!(send(&first, 1).await.1, 202);
    assert_eq!(emulator.stats().token_requests, 1);
    first.stop();

    // A new process: empty isolate memory, same persisted KV.
    let second = WorkerProcess::start(&setup).await.unwrap();
    assert_eq!(send(&second, 2).await.1, 202, "{}", second.log_tail());
    assert_eq!(emulator.stats().token_requests, 1, "the token came from KV, not Entra");
    let runs = emulator.runs();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].token_id, runs[1].token_id);
    assert!(second.wait_for_log(r#""token_source":"kv""#).await, "{}", second.log_tail());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expiring_token_is_replaced_before_the_flow_sees_it_expired() {
    let emulator = start_emulator(EmulatorConfig { token_lifetime_secs: 8, ..EmulatorConfig::demo() }).await.unwrap();
    let worker = WorkerProcess::start(&standard_setup(&emulator)).await.unwrap();
    assert_eq!(send(&worker, 1).await.1, 202);
    // Usable for three quarters of its 8 s life; wait past that.
    tokio::time::sleep(Duration::from_millis(6500)).await;
    assert_eq!(send(&worker, 2).await.1, 202, "{}", worker.log_tail());
    let stats = emulator.stats();
    assert_eq!(stats.token_requests, 2);
    assert!(stats.flow_rejected.is_empty(), "no expired token was ever sent: {:?}", stats.flow_rejected);
    let runs = emulator.runs();
    assert_ne!(runs[0].token_id, runs[1].token_id);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flow_401_drops_the_token_refreshes_once_and_retries_once() {
    let emulator = start_emulator(EmulatorConfig::demo()).await.unwrap();
    let worker = WorkerProcess::start(&standard_setup(&emulator)).await.unwrap();
    assert_eq!(send(&worker, 1).await.1, 202);
    emulator.revoke_tokens_issued_before_now();

    let (id, status) = send(&worker, 2).await;
    assert_eq!(status, 202, "{}", worker.log_tail());
    let stats = emulator.stats();
    assert_eq!(stats.token_requests, 2, "one refresh");
    assert_eq!(stats.flow_rejected.len(), 1, "one refused attempt");
    assert_eq!(stats.flow_rejected[0].status, 401);
    assert_eq!(stats.flow_accepted, 2);
    assert_eq!(runs_for(&emulator, &id).len(), 1, "delivered once");

    // The new token is cached again: no further Entra request.
    assert_eq!(send(&worker, 3).await.1, 202);
    assert_eq!(emulator.stats().token_requests, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flow_that_refuses_even_fresh_tokens_does_not_drain_entra_or_evict_the_token() {
    let emulator = start_emulator(EmulatorConfig::demo()).await.unwrap();
    let worker = WorkerProcess::start(&standard_setup(&emulator)).await.unwrap();
    for n in 0..4 {
        let body = format!(r#"{{"n":{n}}}"#).into_bytes();
        let (id, headers) = signed(&body);
        let a = worker.post_hook("gh-denied", &headers, body).await.unwrap();
        assert_eq!(a.status, 502, "{}", a.text);
        assert_eq!(a.json["flow_error"], "MisMatchingOAuthClaims");
        assert!(runs_for(&emulator, &id).is_empty());
    }
    // The first token was refused fresh: the flow is held, so its later 401s
    // neither evict the shared token nor ask Entra again.
    assert_eq!(emulator.stats().token_requests, 1, "{:?}", emulator.stats());
    assert_eq!(send(&worker, 9).await.1, 202, "other routes keep using the token");
    assert_eq!(emulator.stats().token_requests, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn entra_errors_become_a_502_naming_the_aadsts_code() {
    let emulator = start_emulator(EmulatorConfig::demo()).await.unwrap();
    let mut setup = standard_setup(&emulator);
    setup.secrets.insert("ENTRA_CLIENT_SECRET".into(), "not-the-client-secret".into());
    let worker = WorkerProcess::start(&setup).await.unwrap();
    let body = br#"{"n":1}"#;
    let (id, headers) = signed(body);
    let a = worker.post_hook("gh", &headers, body.to_vec()).await.unwrap();
    assert_eq!(a.status, 502, "{}", a.text);
    assert_eq!(a.json["error"], "token_unavailable");
    assert_eq!(a.json["entra_error"], "AADSTS7000215");
    assert!(a.json["message"].as_str().unwrap().contains("Secret ID"), "{}", a.text);
    assert!(runs_for(&emulator, &id).is_empty());
    assert_eq!(emulator.stats().flow_requests, 0, "nothing reaches the flow without a token");
    assert!(!worker.log().contains("not-the-client-secret"));
}

#[tokio::test]
async fn the_emulator_refuses_a_single_slash_default_token_with_mismatching_oauth_claims() {
    // entra-power-automate.md §1.3: `/.default` drops the audience's trailing slash.
    let emulator = start_emulator(EmulatorConfig::demo()).await.unwrap();
    let client = reqwest::Client::new();
    let token_url = format!("{}/{}/oauth2/v2.0/token", emulator.base_url(), demo::TENANT_ID);
    let mut tokens = Vec::new();
    for scope in ["https://service.flow.microsoft.com/.default", "https://service.flow.microsoft.com//.default"] {
        let r: serde_json::Value = client
            .post(&token_url)
            .form(&[
                ("client_id", demo::CLIENT_ID),
                ("client_secret", demo::CLIENT_SECRET),
                ("scope", scope),
                ("grant_type", "client_credentials"),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        tokens.push(r["access_token"].as_str().expect("a token").to_owned());
    }
    let flow = emulator.flow_url(demo::FLOW_ANY);
    let single = client.post(&flow).bearer_auth(&tokens[0]).body("{}").send().await.unwrap();
    assert_eq!(single.status(), 401);
    let body: serde_json::Value = single.json().await.unwrap();
    assert_eq!(body["error"]["code"], "MisMatchingOAuthClaims");
    let double = client.post(&flow).bearer_auth(&tokens[1]).body("{}").send().await.unwrap();
    assert_eq!(double.status(), 202);
}
