//! Pacing to a flow end to end (issue 14): a flow's `max_rate` holds a burst
//! back in the queue so that the flow never sees more than its rate, and a
//! 429 from a flow pauses every delivery to it for its `Retry-After` — the
//! consumer and the flow pacer Durable Object under `wrangler dev`, the
//! emulator timestamping each run (ms).

use std::{
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use flowgate_core::{verify::github, Secret};
use flowgate_e2e::{
    eventually, standard_setup, start_emulator, Emulator, EmulatorConfig, WorkerProcess, GITHUB_VECTOR_SECRET,
};
use flowgate_emulator::{FlowFault, FlowRun};

/// Two queue routes of their own (each its own flow, so its own pacer).
const PACED_ROUTES: &str = r#"
[vars.FLOWGATE.routes.q-paced]
provider = "github"
secret_bindings = ["GH_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_ANY"
max_rate = "50/10s"

[vars.FLOWGATE.routes.q-breaker]
provider = "github"
secret_bindings = ["GH_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_ANY"
backoff_base_secs = 1
backoff_max_secs = 1
"#;

async fn stack() -> (Emulator, WorkerProcess) {
    let emulator = start_emulator(EmulatorConfig::demo()).await.unwrap();
    let mut setup = standard_setup(&emulator);
    setup.flowgate_toml.push_str(PACED_ROUTES);
    let worker = WorkerProcess::start(&setup).await.unwrap();
    (emulator, worker)
}

fn now_ms() -> u64 {
    u64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap()
}

async fn send(worker: &WorkerProcess, route: &str, n: usize) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    let body = format!(r#"{{"n":{n}}}"#).into_bytes();
    let headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("x-hub-signature-256".to_owned(), github::sign(&Secret::new(GITHUB_VECTOR_SECRET), &body)),
        ("x-github-event".to_owned(), "push".to_owned()),
        ("x-github-delivery".to_owned(), id.clone()),
    ];
    let a = worker.post_hook(route, &headers, body).await.unwrap();
    assert_eq!(a.status, 202, "{}", a.text);
    id
}

fn runs_of(emulator: &Emulator, route: &str) -> Vec<FlowRun> {
    let mut runs: Vec<FlowRun> = emulator
        .runs()
        .into_iter()
        .filter(|r| r.headers.get("x-flowgate-route").map(String::as_str) == Some(route))
        .collect();
    runs.sort_by_key(|r| r.received_at_ms);
    runs
}

#[tokio::test(flavor = "multi_thread")]
async fn three_hundred_webhooks_to_a_flow_limited_to_50_per_10s_all_arrive_and_never_faster() {
    let (emulator, worker) = stack().await;
    let worker = Arc::new(worker);
    let mut sent = Vec::new();
    let ids: Vec<usize> = (0..300).collect();
    for chunk in ids.chunks(25) {
        let sends = chunk.iter().map(|n| {
            let worker = Arc::clone(&worker);
            let n = *n;
            tokio::spawn(async move { send(&worker, "q-paced", n).await })
        });
        for s in futures::future::join_all(sends).await {
            sent.push(s.unwrap());
        }
    }
    eventually(240, "300 paced deliveries", || {
        let runs = runs_of(&emulator, "q-paced");
        async move { (runs.len() >= 300).then_some(runs) }
    })
    .await
    .unwrap_or_else(|e| panic!("{e}: {} runs\n{}", runs_of(&emulator, "q-paced").len(), worker.log_tail()));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let runs = runs_of(&emulator, "q-paced");
    let mut delivered: Vec<&str> =
        runs.iter().map(|r| r.headers[flowgate_core::forward::HEADER_DELIVERY].as_str()).collect();
    delivered.sort_unstable();
    sent.sort();
    assert_eq!(delivered, sent, "each webhook once");
    // No 51 runs in any 10 seconds, by the flow's own clock.
    for (i, w) in runs.windows(51).enumerate() {
        let span = w[50].received_at_ms - w[0].received_at_ms;
        assert!(span >= 10_000, "runs {i}..={}: 51 within {span} ms", i + 50);
    }
    // And the burst was spread, not refused: 300 at 50/10s take 50 s at least.
    let span = runs[299].received_at_ms - runs[0].received_at_ms;
    assert!(span >= 50_000, "{span} ms");
    assert!(worker.dead_letters(Some("q-paced")).await.unwrap().is_empty());
    assert!(worker.wait_for_log(r#""outcome":"paced""#).await, "the waits are logged");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flow_answering_429_with_retry_after_5_gets_no_attempt_from_any_delivery_for_5_s() {
    let (emulator, worker) = stack().await;
    emulator.inject_flow_faults(vec![FlowFault::status_retry_after(429, 5)]);
    let sent_at = now_ms();
    let first = send(&worker, "q-breaker", 0).await;
    // The 429 has been answered once the fault is used up.
    eventually(30, "the 429 answered", || {
        let left = emulator.flow_faults().len();
        async move { (left == 0).then_some(()) }
    })
    .await
    .unwrap();
    let others =
        [send(&worker, "q-breaker", 1).await, send(&worker, "q-breaker", 2).await, send(&worker, "q-breaker", 3).await];
    let runs = eventually(60, "all four delivered", || {
        let runs = runs_of(&emulator, "q-breaker");
        async move { (runs.len() >= 4).then_some(runs) }
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", worker.log_tail()));
    for r in &runs {
        let after = r.received_at_ms.saturating_sub(sent_at);
        assert!(
            after >= 5_000,
            "{} reached the flow {after} ms after the first was sent",
            r.headers[flowgate_core::forward::HEADER_DELIVERY]
        );
    }
    let delivered: Vec<&str> =
        runs.iter().map(|r| r.headers[flowgate_core::forward::HEADER_DELIVERY].as_str()).collect();
    for id in others.iter().chain([&first]) {
        assert_eq!(delivered.iter().filter(|d| **d == id.as_str()).count(), 1, "{id} once");
    }
    assert!(worker.wait_for_log("the flow is paused").await, "held deliveries are logged as paused");
    assert!(worker.dead_letters(Some("q-breaker")).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_paced_flow_without_the_pacer_binding_is_refused_as_a_configuration_problem() {
    // A deployment that set max_rate but forgot the FLOW_PACER binding: its
    // deliveries could never be paced, so the configuration fails closed
    // (500 misconfigured, the sender retries) instead of queueing them for ever.
    let emulator = start_emulator(EmulatorConfig::demo()).await.unwrap();
    let mut setup = standard_setup(&emulator);
    setup.flowgate_toml.push_str(PACED_ROUTES);
    setup.omit_bindings.push("FLOW_PACER".to_owned());
    let worker = WorkerProcess::start_even_misconfigured(&setup).await.unwrap();
    let health = reqwest::get(worker.url("/healthz")).await.unwrap();
    assert_eq!(health.status(), 500, "/healthz says the configuration is refused");
    let body = br#"{"n":1}"#.to_vec();
    let headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("x-hub-signature-256".to_owned(), github::sign(&Secret::new(GITHUB_VECTOR_SECRET), &body)),
        ("x-github-event".to_owned(), "push".to_owned()),
        ("x-github-delivery".to_owned(), uuid::Uuid::new_v4().to_string()),
    ];
    let a = worker.post_hook("q-paced", &headers, body).await.unwrap();
    assert_eq!(a.status, 500, "{}", a.text);
    assert_eq!(a.json["error"], "misconfigured", "{}", a.text);
    assert!(worker.wait_for_log("config_invalid").await, "{}", worker.log_tail());
    let log = worker.log();
    assert!(
        log.contains("flows.q-paced") && log.contains("FLOW_PACER"),
        "the problem names the flow and the binding: {}",
        worker.log_tail()
    );
    assert!(emulator.runs().is_empty(), "nothing was forwarded");
}
