//! Queue mode end to end: acknowledged at once, delivered through Queues
//! with retries, dead letters in R2 with redrive, duplicates suppressed by
//! the route ledger (a Durable Object) — under `wrangler dev`'s local
//! Queues, R2 and Durable Objects, against the emulator's flow faults.

use std::{collections::BTreeSet, time::Instant};

use flowgate_core::{
    verify::{github, standard_webhooks},
    Secret,
};
use flowgate_e2e::{
    eventually, now_secs, runs_for, standard_setup, start_emulator, Emulator, EmulatorConfig, WorkerProcess,
    GITHUB_VECTOR_SECRET, STANDARD_WEBHOOKS_VECTOR_SECRET,
};
use flowgate_emulator::{FlowBehaviour, FlowFault};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

fn github_signed(body: &[u8], delivery: &str) -> Vec<(String, String)> {
    vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("x-hub-signature-256".to_owned(), github::sign(&Secret::new(GITHUB_VECTOR_SECRET), body)),
        ("x-github-event".to_owned(), "push".to_owned()),
        ("x-github-delivery".to_owned(), delivery.to_owned()),
    ]
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

async fn stack() -> (Emulator, WorkerProcess) {
    let emulator = start_emulator(EmulatorConfig::demo()).await.unwrap();
    let worker = WorkerProcess::start(&standard_setup(&emulator)).await.unwrap();
    (emulator, worker)
}

/// Sends one GitHub webhook to `route`; asserts it was queued; returns its delivery id.
async fn send_queued(worker: &WorkerProcess, route: &str, n: usize) -> String {
    let id = new_id();
    let body = format!(r#"{{"n":{n}}}"#).into_bytes();
    let a = worker.post_hook(route, &github_signed(&body, &id), body).await.unwrap();
    assert_eq!(a.status, 202, "{}", a.text);
    assert_eq!(a.json["status"], "queued", "{}", a.text);
    assert_eq!(a.json["delivery_id"], id.as_str());
    id
}

async fn delivered(emulator: &Emulator, delivery: &str, secs: u64) -> Vec<flowgate_e2e::FlowRun> {
    let d = delivery.to_owned();
    eventually(secs, &format!("delivery {d} reaches the flow"), || {
        let runs = runs_for(emulator, &d);
        async move { (!runs.is_empty()).then_some(runs) }
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flow_failing_the_first_attempts_gets_the_webhook_once_after_retries_honouring_retry_after() {
    let (emulator, worker) = stack().await;
    emulator.inject_flow_faults(vec![FlowFault::status_retry_after(503, 3), FlowFault::status(500)]);
    let started = Instant::now();
    let id = send_queued(&worker, "q", 1).await;
    assert!(started.elapsed().as_secs() < 3, "the sender is answered before any delivery attempt");

    let runs = delivered(&emulator, &id, 40).await;
    // 503 with Retry-After: 3 → at least 3 s before the second attempt.
    assert!(started.elapsed().as_secs() >= 3, "Retry-After was not honoured: {:?}", started.elapsed());
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].headers["x-flowgate-attempt"], "3", "two refusals, then the run");
    assert_eq!(runs[0].body, br#"{"n":1}"#);
    assert!(runs[0].headers["authorization"].starts_with("Bearer "));
    assert_eq!(runs[0].headers["x-flowgate-route"], "q");
    assert_eq!(emulator.stats().flow_faults_served, 2);

    // Nothing comes twice, and the ledger counted it.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(runs_for(&emulator, &id).len(), 1);
    let (status, s) = worker.admin(Method::GET, "/status", None).await.unwrap();
    assert_eq!(status, 200, "{s}");
    assert_eq!(s["routes"]["q"]["mode"], "queue");
    assert_eq!(s["routes"]["q"]["accepted"], 1);
    assert_eq!(s["routes"]["q"]["delivered"], 1);
    assert_eq!(s["routes"]["q"]["retrying"], 0);
    let token = &s["token_cache"][0];
    assert_eq!(token["state"], "fresh", "{s}");
    assert!(token["expires_in_secs"].as_u64().unwrap() > 60, "{s}");
    assert!(!s.to_string().contains("eyJ"), "no token in the status: {s}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flow_down_for_the_whole_run_dead_letters_everything_and_a_redrive_delivers_each_once() {
    let (emulator, worker) = stack().await;
    emulator.set_flow_behaviour(FlowBehaviour::down(None)).unwrap();
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(send_queued(&worker, "q", n).await);
    }
    // max_attempts = 4 on route q, backoff 1–2 s.
    let letters = eventually(60, "five dead letters", || async {
        let l = worker.dead_letters(Some("q")).await.ok()?;
        (l.len() == 5).then_some(l)
    })
    .await
    .unwrap();
    for l in &letters {
        assert_eq!(l["attempts"], 4, "{l}");
        let reason = l["reason"].as_str().unwrap();
        assert!(reason.contains("gave up after 4 attempt(s)") && reason.contains("503"), "{reason}");
    }
    assert!(emulator.runs().is_empty(), "nothing reached the flow");

    // One letter in full: exact body, headers, history.
    let first = letters[0]["id"].as_str().unwrap();
    let (status, full) = worker.admin(Method::GET, &format!("/admin/dead-letters/q/{first}"), None).await.unwrap();
    assert_eq!(status, 200, "{full}");
    let body = base64_decode(full["body_base64"].as_str().unwrap());
    assert!(body.starts_with(br#"{"n":"#), "{body:?}");
    assert!(ids.contains(&full["delivery_id"].as_str().unwrap().to_owned()));
    assert_eq!(full["headers"]["x-github-event"], "push");
    assert!(full["headers"].get("authorization").is_none());
    let history = full["history"].as_array().unwrap();
    assert_eq!(history.len(), 4, "{full}");
    assert!(history.iter().all(|h| h["status"] == 503), "{full}");
    let (_, s) = worker.admin(Method::GET, "/status", None).await.unwrap();
    assert_eq!(s["routes"]["q"]["dead_lettered"], 5, "{s}");
    assert_eq!(s["routes"]["q"]["dead_letters_waiting"], 5, "{s}");

    // The operator's CLI sees the same letters (the CLI ↔ Worker contract).
    let list = cli(&worker, &["dlq", "list", "--route", "q", "--json"]);
    assert!(list.status.success(), "{}", String::from_utf8_lossy(&list.stderr));
    let listed: Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(5), "{listed}");
    let show = cli(&worker, &["dlq", "show", &format!("q/{first}")]);
    assert!(show.status.success(), "{}", String::from_utf8_lossy(&show.stderr));
    let shown = String::from_utf8_lossy(&show.stdout);
    assert!(shown.contains("503") && shown.contains("x-github-event"), "{shown}");
    let status = cli(&worker, &["status", "--json"]);
    let st: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(st["routes"]["q"]["dead_letters_waiting"], 5, "{st}");

    // The flow is back: redrive all; each arrives once; no letters left.
    emulator.set_flow_behaviour(FlowBehaviour::default()).unwrap();
    let (status, r) =
        worker.admin(Method::POST, "/admin/dead-letters/redrive", Some(json!({"route": "q"}))).await.unwrap();
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["redriven"], 5, "{r}");
    assert_eq!(r["remaining"], 0, "{r}");
    for id in &ids {
        delivered(&emulator, id, 30).await;
    }
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    for id in &ids {
        assert_eq!(runs_for(&emulator, id).len(), 1, "{id} exactly once");
    }
    assert!(worker.dead_letters(Some("q")).await.unwrap().is_empty());
    let (_, s) = worker.admin(Method::GET, "/status", None).await.unwrap();
    assert_eq!(s["routes"]["q"]["delivered"], 5, "{s}");
    assert_eq!(s["routes"]["q"]["redriven"], 5, "{s}");
    assert_eq!(s["routes"]["q"]["dead_letters_waiting"], 0, "{s}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_permanent_refusal_goes_straight_to_dead_letters_and_can_be_deleted() {
    let (emulator, worker) = stack().await;
    // q-gone's trigger URL names a flow that does not exist: 404 WorkflowNotFound.
    let id = send_queued(&worker, "q-gone", 1).await;
    let letters = eventually(30, "a dead letter", || async {
        let l = worker.dead_letters(Some("q-gone")).await.ok()?;
        (!l.is_empty()).then_some(l)
    })
    .await
    .unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0]["attempts"], 1, "no retries for a 404");
    assert_eq!(letters[0]["delivery_id"], id.as_str());
    let reason = letters[0]["reason"].as_str().unwrap();
    assert!(reason.starts_with("permanent") && reason.contains("WorkflowNotFound"), "{reason}");
    assert!(emulator.runs().is_empty());

    let path = format!("/admin/dead-letters/q-gone/{}", letters[0]["id"].as_str().unwrap());
    let deleted = cli(&worker, &["dlq", "delete", &format!("q-gone/{}", letters[0]["id"].as_str().unwrap())]);
    assert!(deleted.status.success(), "{}", String::from_utf8_lossy(&deleted.stderr));
    assert_eq!(worker.admin(Method::GET, &path, None).await.unwrap().0, 404);
    assert!(worker.dead_letters(Some("q-gone")).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_webhooks_with_a_fifth_of_flow_calls_failing_each_reach_the_flow_exactly_once() {
    let (emulator, worker) = stack().await;
    let behaviour = FlowBehaviour { failure_rate: 0.2, failure_status: 500, seed: Some(7), ..FlowBehaviour::default() };
    emulator.set_flow_behaviour(behaviour).unwrap();
    let worker = std::sync::Arc::new(worker);
    let mut accepted = BTreeSet::new();
    let ids: Vec<usize> = (0..1000).collect();
    for chunk in ids.chunks(25) {
        let sends = chunk.iter().map(|n| {
            let worker = std::sync::Arc::clone(&worker);
            let n = *n;
            tokio::spawn(async move {
                let id = new_id();
                let body = format!(r#"{{"n":{n}}}"#).into_bytes();
                let a = worker.post_hook("q-many", &github_signed(&body, &id), body).await.unwrap();
                (a.status, a.json["flowgate_id"].as_str().map(str::to_owned), a.text)
            })
        });
        for s in futures::future::join_all(sends).await {
            let (status, fid, text) = s.unwrap();
            assert_eq!(status, 202, "{text}");
            accepted.insert(fid.expect("a flowgate id"));
        }
    }
    assert_eq!(accepted.len(), 1000);

    let summary = eventually(240, "1000 distinct deliveries", || {
        let s = emulator.runs_summary();
        async move { (s.by_flowgate_id.len() >= 1000).then_some(s) }
    })
    .await
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let summary_after = emulator.runs_summary();
    assert!(summary.duplicates.is_empty() && summary_after.duplicates.is_empty(), "{:?}", summary_after.duplicates);
    let delivered: BTreeSet<String> = summary_after.by_flowgate_id.keys().cloned().collect();
    assert_eq!(delivered, accepted, "every accepted webhook, and only those");
    let refused = emulator.stats().flow_behaviour_refusals;
    assert!(refused > 150, "the failures really happened: {refused}");
    assert!(worker.dead_letters(Some("q-many")).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_delivery_sent_three_times_runs_the_flow_once() {
    let (emulator, worker) = stack().await;
    let id = new_id();
    let body = br#"{"action":"opened"}"#.to_vec();
    let headers = github_signed(&body, &id);
    // Queue mode answers every copy at once (one queue send, no ledger call):
    // the consumer recognises the copies and drops them before the flow.
    for _ in 0..3 {
        let a = worker.post_hook("q", &headers, body.clone()).await.unwrap();
        assert_eq!(a.status, 202, "{}", a.text);
        assert_eq!(a.json["status"], "queued");
    }
    // Direct mode judges before the flow call: the copy is told it is one.
    let direct_id = new_id();
    let direct_headers = github_signed(&body, &direct_id);
    assert_eq!(worker.post_hook("gh", &direct_headers, body.clone()).await.unwrap().status, 202);
    let again = worker.post_hook("gh", &direct_headers, body.clone()).await.unwrap();
    assert_eq!((again.status, again.json["status"].as_str()), (200, Some("duplicate")), "{}", again.text);

    delivered(&emulator, &id, 30).await;
    let counted = eventually(30, "the two copies counted as duplicates", || async {
        let (_, s) = worker.admin(Method::GET, "/status", None).await.ok()?;
        (s["routes"]["q"]["duplicates"] == 2).then_some(s)
    })
    .await
    .unwrap();
    assert_eq!(counted["routes"]["q"]["accepted"], 1, "{counted}");
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(runs_for(&emulator, &id).len(), 1);
    assert_eq!(runs_for(&emulator, &direct_id).len(), 1);
    assert!(worker.wait_for_log(r#""outcome":"duplicate""#).await, "the consumer logs what it dropped");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_direct_delivery_is_not_remembered_so_the_senders_retry_goes_through() {
    let (emulator, worker) = stack().await;
    emulator.inject_flow_faults(vec![FlowFault::status(500)]);
    let id = new_id();
    let body = br#"{"retry":true}"#.to_vec();
    let headers = github_signed(&body, &id);
    assert_eq!(worker.post_hook("gh", &headers, body.clone()).await.unwrap().status, 502);
    let again = worker.post_hook("gh", &headers, body).await.unwrap();
    assert_eq!(again.status, 202, "{}", again.text);
    assert_eq!(runs_for(&emulator, &id).len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_five_megabyte_payload_is_delivered_byte_exact_through_r2() {
    let (emulator, worker) = stack().await;
    let body: Vec<u8> = (0..5_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let ts = now_secs();
    let msg_id = format!("msg_{}", uuid::Uuid::new_v4().simple());
    let sig = standard_webhooks::sign(&Secret::new(STANDARD_WEBHOOKS_VECTOR_SECRET), &msg_id, ts, &body).unwrap();
    let headers = vec![
        ("content-type".to_owned(), "application/octet-stream".to_owned()),
        ("webhook-id".to_owned(), msg_id.clone()),
        ("webhook-timestamp".to_owned(), ts.to_string()),
        ("webhook-signature".to_owned(), sig),
    ];
    let a = worker.post_hook("q-sw", &headers, body.clone()).await.unwrap();
    assert_eq!(a.status, 202, "{}", a.text);
    let runs = delivered(&emulator, &msg_id, 60).await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].body_len, 5_000_000);
    assert_eq!(runs[0].body_sha256, hex::encode(Sha256::digest(&body)));
    assert_eq!(runs[0].headers["content-type"], "application/octet-stream");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_restarted_mid_run_with_its_state_loses_nothing() {
    let emulator = start_emulator(EmulatorConfig::demo()).await.unwrap();
    let state = flowgate_e2e::repo_root().join("target/e2e").join(format!("persist-{}", uuid::Uuid::new_v4().simple()));
    let mut setup = standard_setup(&emulator);
    setup.persist_to = Some(state);
    // The flow is down while the first Worker runs: everything waits in the queue.
    emulator.set_flow_behaviour(FlowBehaviour::down(Some(2))).unwrap();
    let mut first = WorkerProcess::start(&setup).await.unwrap();
    let mut ids = Vec::new();
    for n in 0..20 {
        ids.push(send_queued(&first, "q-many", n).await);
    }
    // The ledger keeps a copy of a message once its first attempt failed (the
    // consumer records it then); until the consumer has seen a message, it
    // exists only in the queue — on Cloudflare on disk, under `wrangler dev`
    // in memory. So the restart comes once every message has been attempted.
    eventually(60, "every message attempted once and back in the queue", || async {
        let (_, s) = first.admin(Method::GET, "/status", None).await.ok()?;
        let r = &s["routes"]["q-many"];
        (r["retrying"] == 20 && r["queued"] == 0).then_some(())
    })
    .await
    .unwrap();
    first.stop();

    emulator.set_flow_behaviour(FlowBehaviour::default()).unwrap();
    let second = WorkerProcess::start(&setup).await.unwrap();
    // The restarted queue is empty: the ledger sends each copy again once its
    // next attempt is overdue (at most 60 s after it was due; an attempt cut
    // off by the stop keeps its lease first — as long as the longest attempt
    // can take: 2 × 8 s flow + 3 × 3 × 5 s token + 30 s = 91 s).
    for id in &ids {
        delivered(&emulator, id, 180).await;
    }
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    for id in &ids {
        assert_eq!(runs_for(&emulator, id).len(), 1, "{id} exactly once\n{}", second.log_tail());
    }
    let (_, s) = second.admin(Method::GET, "/status", None).await.unwrap();
    assert!(s["routes"]["q-many"]["recovered"].as_u64().unwrap_or(0) >= 20, "sent again by the ledger: {s}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_api_is_off_without_its_secret_and_refuses_a_wrong_token() {
    let emulator = start_emulator(EmulatorConfig::demo()).await.unwrap();
    let mut setup = standard_setup(&emulator);
    let worker = WorkerProcess::start(&setup).await.unwrap();
    let wrong = worker.client().get(worker.url("/status")).bearer_auth("not-the-token").send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let none = worker.client().get(worker.url("/admin/dead-letters")).send().await.unwrap();
    assert_eq!(none.status(), 401);
    drop(worker);

    setup.secrets.remove("FLOWGATE_ADMIN_TOKEN");
    let worker = WorkerProcess::start(&setup).await.unwrap();
    let off = worker.client().get(worker.url("/status")).bearer_auth("anything").send().await.unwrap();
    assert_eq!(off.status(), 404);
    let v: Value = off.json().await.unwrap();
    assert_eq!(v["error"], "admin_disabled");
}

/// Runs the `flowgate` CLI against `worker`'s admin API.
fn cli(worker: &WorkerProcess, args: &[&str]) -> std::process::Output {
    std::process::Command::new(flowgate_e2e::repo_root().join("target/debug/flowgate"))
        .args(args)
        .env("FLOWGATE_URL", worker.url(""))
        .env("FLOWGATE_ADMIN_TOKEN", flowgate_e2e::ADMIN_TOKEN)
        .output()
        .expect("target/debug/flowgate runs (make build)")
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_copy_sent_while_the_first_is_still_being_forwarded_is_told_to_retry_not_that_it_arrived() {
    let (emulator, worker) = stack().await;
    // Direct mode; the flow takes 4 s to answer the first call.
    emulator.inject_flow_faults(vec![FlowFault::delay_ms(4000)]);
    let id = new_id();
    let body = br#"{"slow":true}"#.to_vec();
    let headers = github_signed(&body, &id);
    let worker = std::sync::Arc::new(worker);
    let first = {
        let (worker, headers, body) = (std::sync::Arc::clone(&worker), headers.clone(), body.clone());
        tokio::spawn(async move { worker.post_hook("gh", &headers, body).await.unwrap() })
    };
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let meanwhile = worker.post_hook("gh", &headers, body.clone()).await.unwrap();
    assert_eq!(meanwhile.status, 409, "{}", meanwhile.text);
    assert_eq!(meanwhile.json["error"], "in_progress");
    assert_eq!(meanwhile.retry_after.as_deref(), Some("10"));
    let first = first.await.unwrap();
    assert_eq!(first.status, 202, "{}", first.text);
    let after = worker.post_hook("gh", &headers, body).await.unwrap();
    assert_eq!(after.status, 200, "{}", after.text);
    assert_eq!(after.json["status"], "duplicate");
    assert_eq!(runs_for(&emulator, &id).len(), 1);
}

/// The route ledger's request count (`ledger_calls`, counted by the Durable
/// Object itself) for `route`; the status request that reads it is one.
async fn ledger_calls(worker: &WorkerProcess, route: &str) -> u64 {
    let (status, s) = worker.admin(Method::GET, "/status", None).await.unwrap();
    assert_eq!(status, 200, "{s}");
    s["routes"][route]["ledger_calls"].as_u64().unwrap_or_else(|| panic!("no ledger_calls for {route}: {s}"))
}

/// Sends `n` GitHub webhooks to `route` at once; asserts the answer's status.
async fn send_many(worker: &std::sync::Arc<WorkerProcess>, route: &str, n: usize, status: u16) -> Vec<String> {
    let sends = (0..n).map(|i| {
        let (worker, route) = (std::sync::Arc::clone(worker), route.to_owned());
        tokio::spawn(async move {
            let id = new_id();
            let body = format!(r#"{{"calls":{i}}}"#).into_bytes();
            let a = worker.post_hook(&route, &github_signed(&body, &id), body).await.unwrap();
            assert_eq!(a.status, status, "{route}: {}", a.text);
            id
        })
    });
    futures::future::join_all(sends).await.into_iter().map(Result::unwrap).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn each_mode_costs_the_route_ledger_the_calls_its_guarantees_need_and_no_more() {
    // Issue 12: one platform operation per webhook on the sender's request.
    // Before: queue mode 3 ledger calls per webhook (accept on the request,
    // begin and finish per attempt), direct mode 2 (accept, and the record
    // after the response), 1 even with nothing to judge (the record).
    let (emulator, worker) = stack().await;
    let worker = std::sync::Arc::new(worker);
    const N: usize = 20;
    // (1) Direct, nothing to judge (no dedupe, no replay guard): none. The
    // counts wait in the isolate's mailbox, which the status request carries.
    let before = ledger_calls(&worker, "gh-nodedupe").await;
    let ids = send_many(&worker, "gh-nodedupe", N, 202).await;
    let direct_plain = ledger_calls(&worker, "gh-nodedupe").await.saturating_sub(before + 1);
    assert!(direct_plain <= 1, "{direct_plain} calls for {N} webhooks (at most one mailbox flush)");
    let (_, s) = worker.admin(Method::GET, "/status", None).await.unwrap();
    assert_eq!(
        (&s["routes"]["gh-nodedupe"]["accepted"], &s["routes"]["gh-nodedupe"]["delivered"]),
        (&json!(N), &json!(N)),
        "{s}"
    );
    // (2) Direct with duplicate suppression: one before each flow call, none after.
    let before = ledger_calls(&worker, "gh").await;
    send_many(&worker, "gh", N, 202).await;
    let direct_judged = ledger_calls(&worker, "gh").await.saturating_sub(before + 1);
    assert!((N as u64..=N as u64 + 1).contains(&direct_judged), "{direct_judged} calls for {N} webhooks");
    // (3) Queue mode: none on the request; the consumer's two per route and batch.
    let before = ledger_calls(&worker, "q").await;
    let queued = send_many(&worker, "q", N, 202).await;
    for id in &queued {
        delivered(&emulator, id, 30).await;
    }
    // Status reads are ledger calls too: count them, to count only the consumer's.
    let mut reads = 0;
    let after = loop {
        let (_, s) = worker.admin(Method::GET, "/status", None).await.unwrap();
        reads += 1;
        let r = &s["routes"]["q"];
        if r["delivered"] == N && r["queued"] == 0 {
            break r["ledger_calls"].as_u64().unwrap();
        }
        assert!(reads < 60, "the outcomes were not recorded: {s}");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    };
    let consumer = after.saturating_sub(before + reads);
    eprintln!(
        "ledger calls for {N} webhooks: direct without anything to judge {direct_plain}, direct with dedupe \
         {direct_judged}, queue mode {consumer} (all the consumer's, batches of up to 10)"
    );
    assert!(consumer <= (N as u64) / 2, "{consumer} consumer calls for {N} webhooks");
    for id in ids.iter().chain(&queued) {
        assert_eq!(runs_for(&emulator, id).len(), 1);
    }
}
