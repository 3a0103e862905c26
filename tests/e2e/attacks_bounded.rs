//! Attacks on the work done before verification, through the real Worker
//! (issue #11, items 4–6): hostile bodies to senders whose body is read
//! before any MAC, forged Plaid tokens that make flowgate ask Plaid for
//! keys, Plaid failing, and Twilio SharedKey signatures. To be folded into
//! `attacks.rs`.

use std::time::{Duration, Instant};

use flowgate_core::{
    verify::{
        find_provider,
        plaid::{self, keys},
        twilio,
    },
    Secret,
};
use flowgate_e2e::{
    now_secs, standard_setup, start_emulator, EmulatorConfig, WorkerProcess, PLAID_PRIVATE_KEY, SENDER_SECRET,
    TWILIO_SHARED_KEY,
};
use flowgate_emulator::senders::{sample_body, sign, twilio_shared_key};

use crate::shared;

const MIB: usize = 1024 * 1024;

/// `item` repeated (joined by `sep`) between `prefix` and `suffix`, to `len` bytes at most.
fn filled(prefix: &str, item: &str, sep: &str, suffix: &str, len: usize) -> Vec<u8> {
    let n = (len - prefix.len() - suffix.len() + sep.len()) / (item.len() + sep.len());
    let mut b = Vec::with_capacity(len);
    b.extend_from_slice(prefix.as_bytes());
    for i in 0..n {
        if i > 0 {
            b.extend_from_slice(sep.as_bytes());
        }
        b.extend_from_slice(item.as_bytes());
    }
    b.extend_from_slice(suffix.as_bytes());
    b
}

/// A valid signed request of `provider` to `route`, as the sender makes it.
fn valid(worker: &WorkerProcess, provider: &str, route: &str) -> flowgate_emulator::senders::SignedRequest {
    let p = find_provider(provider).unwrap();
    let body = sample_body(p, p.sample_event, now_secs());
    let content_type = if provider == "twilio" { "application/x-www-form-urlencoded" } else { "application/json" };
    let url = worker.url(&format!("/hooks/{route}"));
    sign(p, &Secret::new(SENDER_SECRET), body, p.sample_event, content_type, &url, now_secs()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_10_mib_bodies_are_refused_and_the_next_real_webhook_is_delivered() {
    let s = shared();
    let (worker, emulator) = (&s.worker, &s.emulator);
    // 10 MiB less a few bytes: at the global cap, so read in full where the cap is 10 MiB.
    let size = 10 * MIB - 16;
    let cases: Vec<(&str, &str, Vec<u8>, u16)> = vec![
        // Mailgun's own default cap (1 MiB): refused unread.
        ("mailgun", "mailgun", filled("[", "1", ",", "]", size), 413),
        // With a 10 MiB cap the body is read: deep nesting, a huge array, a huge
        // object are refused before any MAC, within bounded memory.
        ("mailgun", "mailgun-big", filled(r#"{"x":"#, "[", "", "}", size), 401),
        ("mailgun", "mailgun-big", filled("[", "1", ",", "]", size), 401),
        ("mailgun", "mailgun-big", filled(r#"{"event-data":{"tags":["#, r#""t""#, ",", "]}}", size), 401),
        // Twilio: `a&a&…` is over the form-parameter cap; then one huge form pair.
        ("twilio", "twilio", filled("", "a", "&", "", size), 401),
        ("twilio", "twilio", filled("Body=", "x", "", "", size), 401),
        // Graph: a million notifications.
        ("msgraph", "msgraph", filled(r#"{"value":["#, r#"{"clientState":"x"}"#, ",", "]}", 4 * MIB - 16), 401),
    ];
    for (provider, route, body, expected) in cases {
        let started = Instant::now();
        let headers = match provider {
            // A forger's signature: right form, wrong value.
            "twilio" => vec![(twilio::SIGNATURE_HEADER.to_owned(), "RSOYDt4T1cUTdK1PDd93/VVr8B8=".to_owned())],
            _ => vec![("content-type".to_owned(), "application/json".to_owned())],
        };
        let len = body.len();
        let a = worker.post_hook(route, &headers, body).await.unwrap();
        assert_eq!(a.status, expected, "{route}: {len} B: {}\n{}", a.text, worker.log_tail());
        assert!(started.elapsed() < Duration::from_secs(20), "{route}: took {:?}", started.elapsed());
        // The very next real webhook to the same route is delivered, byte for byte.
        let real = valid(worker, provider, route);
        let a = worker.post_hook(route, &real.headers, real.body.clone()).await.unwrap();
        assert_eq!(a.status, 202, "{route}: after a hostile body: {}\n{}", a.text, worker.log_tail());
        assert!(emulator.runs().iter().any(|r| r.body == real.body), "{route}: the real webhook reached the flow");
    }
    assert!(worker.wait_for_log("body_over_limit").await, "the refusals are logged with their cause");
}

#[tokio::test(flavor = "multi_thread")]
async fn twilio_shared_key_signatures_verify_through_the_worker() {
    let s = shared();
    let (worker, emulator) = (&s.worker, &s.emulator);
    let url = worker.url("/hooks/twilio");
    let key = Secret::new(TWILIO_SHARED_KEY);
    let mut req = valid(worker, "twilio", "twilio");
    twilio_shared_key(&mut req, &key, &url, "webhooks_sharedkey_e2e", twilio::Algorithm::HmacSha256);
    let a = worker.post_hook("twilio", &req.headers, req.body.clone()).await.unwrap();
    assert_eq!(a.status, 202, "{}\n{}", a.text, worker.log_tail());
    let run = emulator.runs().into_iter().find(|r| r.body == req.body).expect("delivered");
    assert_eq!(run.headers["x-flowgate-provider"], "twilio");

    // The same signature announced under an algorithm flowgate does not know: refused.
    let mut unknown = req.clone();
    for (k, v) in &mut unknown.headers {
        if k == twilio::SIGNATURE_SETTINGS_HEADER {
            *v = "key=webhooks_sharedkey_e2e,algorithm=HMAC_SHA512".to_owned();
        }
    }
    let a = worker.post_hook("twilio", &unknown.headers, unknown.body.clone()).await.unwrap();
    assert_eq!(a.status, 401, "{}", a.text);
    // Without the settings header, the SHA-256 signature is not taken as an HMAC-SHA1 one.
    let stripped: Vec<_> =
        req.headers.iter().filter(|(k, _)| k != twilio::SIGNATURE_SETTINGS_HEADER).cloned().collect();
    assert_eq!(worker.post_hook("twilio", &stripped, req.body.clone()).await.unwrap().status, 401);
    // And the Auth Token's HMAC-SHA1 still verifies on the same route.
    let classic = valid(worker, "twilio", "twilio");
    assert_eq!(worker.post_hook("twilio", &classic.headers, classic.body).await.unwrap().status, 202);
}

/// A Plaid webhook body and its token, naming `kid` and signed with the
/// emulator's Plaid key.
fn plaid_request(kid: &str) -> (Vec<(String, String)>, Vec<u8>) {
    let p = find_provider("plaid").unwrap();
    let body = sample_body(p, "TRANSACTIONS.SYNC_UPDATES_AVAILABLE", now_secs());
    let token = plaid::sign(&Secret::new(PLAID_PRIVATE_KEY), kid, &plaid::claims(&body, now_secs())).unwrap();
    (vec![(plaid::HEADER.to_owned(), token), ("content-type".into(), "application/json".into())], body)
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_plaid_kids_cost_plaid_at_most_the_fetch_budget() {
    // Its own Worker: the budget and the caches are per isolate.
    let emulator = start_emulator(EmulatorConfig::demo()).await.unwrap();
    let worker = WorkerProcess::start(&standard_setup(&emulator)).await.unwrap();
    let started = Instant::now();

    // A real webhook: its key is fetched once (one of the budget).
    let (headers, body) = plaid_request(plaid::TEST_KID);
    let a = worker.post_hook("plaid", &headers, body).await.unwrap();
    assert_eq!(a.status, 202, "{}\n{}", a.text, worker.log_tail());
    assert_eq!(emulator.stats().plaid_key_requests, 1);

    // A forged kid Plaid does not know: asked once, refused; sent again, not asked again.
    let (headers, body) = plaid_request("forged-kid-repeated");
    assert_eq!(worker.post_hook("plaid", &headers, body.clone()).await.unwrap().status, 401);
    assert_eq!(emulator.stats().plaid_key_requests, 2);
    assert_eq!(worker.post_hook("plaid", &headers, body).await.unwrap().status, 401);
    assert_eq!(emulator.stats().plaid_key_requests, 2, "an unknown kid is remembered");

    // A fresh random kid every time: never accepted, and Plaid hears of only the budget.
    let mut statuses = Vec::new();
    for _ in 0..25 {
        let (headers, body) = plaid_request(&uuid::Uuid::new_v4().to_string());
        let a = worker.post_hook("plaid", &headers, body).await.unwrap();
        if a.status == 502 {
            assert_eq!(a.json["error"], "verification_key_unavailable", "{}", a.text);
        }
        statuses.push(a.status);
        // Real webhooks with the known kid still verify meanwhile.
        let (headers, body) = plaid_request(plaid::TEST_KID);
        assert_eq!(worker.post_hook("plaid", &headers, body).await.unwrap().status, 202);
    }
    assert!(statuses.iter().all(|s| matches!(s, 401 | 502)), "{statuses:?}");
    let refills = started.elapsed().as_secs() / keys::FETCH_REFILL_SECS;
    let budget = u64::from(keys::FETCH_BURST) + refills;
    let asked = emulator.stats().plaid_key_requests;
    assert!(asked <= budget, "Plaid was asked {asked} times; the budget is {budget}");
    assert!(asked >= u64::from(keys::FETCH_BURST), "the budget is used before refusing ({asked})");
    let fetched_forged = statuses.iter().filter(|s| **s == 401).count() as u64;
    assert_eq!(fetched_forged, asked - 2, "each forged kid Plaid was asked about is a 401: {statuses:?}");
    assert!(statuses.contains(&502), "past the budget, the answer is 502: {statuses:?}");
    assert!(worker.wait_for_log("fetch budget").await, "{}", worker.log_tail());
    assert!(!worker.log().contains(flowgate_emulator::DEMO_PLAID_SECRET));
}

/// Needs the emulator's Plaid faults (`POST /_emulator/faults` with
/// `{"plaid": [...]}` and `GET /_emulator/stats`' `plaid_key_requests`),
/// which another branch adds.
#[tokio::test(flavor = "multi_thread")]
async fn plaids_429_and_5xx_are_502_and_a_429_holds_key_fetches_back() {
    let emulator = start_emulator(EmulatorConfig::demo()).await.unwrap();
    let worker = WorkerProcess::start(&standard_setup(&emulator)).await.unwrap();
    let faults = serde_json::json!({"plaid": [{"status": 429, "retry_after": 5}, {"status": 500}, {"status": 503}]});
    let r = reqwest::Client::new()
        .post(format!("{}/_emulator/faults", emulator.base_url()))
        .json(&faults)
        .send()
        .await
        .unwrap();
    let status = r.status();
    assert!(status.is_success(), "the emulator takes Plaid faults: {status} {}", r.text().await.unwrap_or_default());
    let stats = || async {
        let v: serde_json::Value =
            reqwest::get(format!("{}/_emulator/stats", emulator.base_url())).await.unwrap().json().await.unwrap();
        v["plaid_key_requests"].as_u64().expect("stats count Plaid key requests")
    };
    let send = || async {
        let (headers, body) = plaid_request(plaid::TEST_KID);
        worker.post_hook("plaid", &headers, body).await.unwrap()
    };

    // 429: 502, never 401; fetches are then held back for its Retry-After.
    let a = send().await;
    assert_eq!((a.status, a.json["error"].as_str()), (502, Some("verification_key_unavailable")), "{}", a.text);
    assert_eq!(stats().await, 1);
    let a = send().await;
    assert_eq!(a.status, 502, "{}", a.text);
    assert_eq!(stats().await, 1, "held back: Plaid not asked during its Retry-After");
    tokio::time::sleep(Duration::from_millis(5_500)).await;
    // 500, then 503: 502 each, Plaid asked each time.
    for n in [2, 3] {
        let a = send().await;
        assert_eq!((a.status, a.json["error"].as_str()), (502, Some("verification_key_unavailable")), "{}", a.text);
        assert_eq!(stats().await, n);
    }
    // Plaid answers again: the webhook is delivered, and the key is cached.
    let a = send().await;
    assert_eq!(a.status, 202, "{}\n{}", a.text, worker.log_tail());
    assert_eq!(send().await.status, 202);
    assert_eq!(stats().await, 4);
    assert_eq!(emulator.stats().flow_accepted, 2, "nothing was forwarded while Plaid failed");
    assert!(worker.wait_for_log("answered 429").await, "{}", worker.log_tail());
}
