//! Senders whose verification key is fetched by id (issue 15): eBay (the
//! `kid` in `X-EBAY-SIGNATURE`, an OAuth application token first) and
//! Circle (`X-Circle-Key-Id`, the API key), through the real Worker against
//! the emulator's key hosts. Plaid, the first such sender, is in
//! `senders.rs` and `attacks_bounded.rs`.

use flowgate_core::{
    verify::{circle, ebay, find_provider},
    Secret,
};
use flowgate_e2e::{
    now_secs, standard_setup, start_emulator, Emulator, EmulatorConfig, WorkerProcess, CIRCLE_PRIVATE_KEY,
    EBAY_PRIVATE_KEY, EBAY_VERIFICATION_TOKEN,
};
use flowgate_emulator::senders::{sample_body, sign, SignedRequest};
use sha2::{Digest, Sha256};

fn signed(worker: &WorkerProcess, provider: &str, private: &str) -> SignedRequest {
    let p = find_provider(provider).unwrap();
    let body = sample_body(p, p.sample_event, now_secs());
    let url = worker.url(&format!("/hooks/{provider}"));
    sign(p, &Secret::new(private), body, p.sample_event, "application/json", &url, now_secs()).unwrap()
}

async fn faults(emulator: &Emulator, faults: serde_json::Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/_emulator/faults", emulator.base_url()))
        .json(&faults)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap_or_default());
}

/// What both senders go through: forwarded byte for byte with the key
/// fetched once for two webhooks; tampered → 401; an unknown id asked once,
/// then remembered; the key host failing → 502. `requests` counts the key
/// requests the emulator saw.
async fn key_by_id_end_to_end(
    provider: &str,
    private: &str,
    with_kid: impl Fn(&SignedRequest, &str) -> Vec<(String, String)>,
    requests: impl Fn(&Emulator) -> u64,
) {
    let emulator = start_emulator(EmulatorConfig::demo()).await.unwrap();
    let worker = WorkerProcess::start(&standard_setup(&emulator)).await.unwrap();

    // Two signed webhooks: forwarded as sent, one key request between them.
    let first = signed(&worker, provider, private);
    let a = worker.post_hook(provider, &first.headers, first.body.clone()).await.unwrap();
    assert_eq!(a.status, 202, "{}\n{}", a.text, worker.log_tail());
    let second = signed(&worker, provider, private);
    let a = worker.post_hook(provider, &second.headers, second.body.clone()).await.unwrap();
    assert_eq!(a.status, 202, "{}", a.text);
    assert_eq!(requests(&emulator), 1, "{provider}: the key is cached by id");
    let runs = emulator.runs();
    for sent in [&first, &second] {
        let run = runs.iter().find(|r| r.body == sent.body).expect("forwarded byte for byte");
        assert_eq!(run.headers["x-flowgate-provider"], provider);
    }
    assert_eq!(emulator.stats().flow_accepted, 2);

    // Tampered body, or a signature from another key: 401, nothing forwarded.
    let mut tampered = second.body.clone();
    let at = tampered.len() / 2;
    tampered[at] ^= 0x01;
    let a = worker.post_hook(provider, &second.headers, tampered).await.unwrap();
    assert_eq!(a.status, 401, "{}", a.text);
    let forged = signed(&worker, provider, "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721");
    assert_eq!(worker.post_hook(provider, &forged.headers, forged.body).await.unwrap().status, 401);
    assert_eq!(requests(&emulator), 1, "the key in the cache decided both");

    // A malformed signature header: refused without any fetch.
    let mut bad = first.headers.clone();
    for (k, v) in &mut bad {
        if k.eq_ignore_ascii_case("x-ebay-signature") || k.eq_ignore_ascii_case("x-circle-signature") {
            *v = "not-a-signature".to_owned();
        }
    }
    assert_eq!(worker.post_hook(provider, &bad, first.body.clone()).await.unwrap().status, 401);
    assert_eq!(requests(&emulator), 1);

    // An id the host does not know: asked once (401), then remembered (no fetch).
    let unknown = with_kid(&first, "0f0e0d0c-0b0a-4908-8706-050403020100");
    let a = worker.post_hook(provider, &unknown, first.body.clone()).await.unwrap();
    assert_eq!(a.status, 401, "{}", a.text);
    assert_eq!(requests(&emulator), 2);
    let a = worker.post_hook(provider, &unknown, first.body.clone()).await.unwrap();
    assert_eq!(a.status, 401, "{}", a.text);
    assert_eq!(requests(&emulator), 2, "{provider}: an unknown id is negative-cached");

    // The key host failing (5xx) for an id not cached: 502, never 401, nothing forwarded.
    faults(&emulator, serde_json::json!({ provider: [{"status": 503}, {"status": 500}] })).await;
    let other = with_kid(&first, "1f1e1d1c-1b1a-4918-8716-151413121110");
    for n in [3, 4] {
        let a = worker.post_hook(provider, &other, first.body.clone()).await.unwrap();
        assert_eq!((a.status, a.json["error"].as_str()), (502, Some("verification_key_unavailable")), "{}", a.text);
        assert_eq!(requests(&emulator), n);
    }
    assert_eq!(emulator.stats().flow_accepted, 2, "nothing was forwarded but the two signed webhooks");
    assert!(worker.wait_for_log(&format!("{provider}_key_unavailable")).await, "{}", worker.log_tail());
    let log = worker.log();
    for secret in [
        flowgate_emulator::DEMO_EBAY_CLIENT_SECRET,
        flowgate_emulator::DEMO_CIRCLE_API_KEY,
        flowgate_emulator::DEMO_EBAY_APP_TOKEN,
    ] {
        assert!(!log.contains(secret), "a credential reached the log");
    }
}

/// `X-EBAY-SIGNATURE` re-encoded to name `kid` (the signature unchanged).
fn ebay_with_kid(req: &SignedRequest, kid: &str) -> Vec<(String, String)> {
    use base64::{engine::general_purpose::STANDARD, Engine};
    req.headers
        .iter()
        .map(|(k, v)| {
            if k.eq_ignore_ascii_case(ebay::HEADER) {
                let mut j: serde_json::Value = serde_json::from_slice(&STANDARD.decode(v).unwrap()).unwrap();
                j["kid"] = kid.into();
                (k.clone(), STANDARD.encode(j.to_string()))
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect()
}

fn circle_with_kid(req: &SignedRequest, kid: &str) -> Vec<(String, String)> {
    req.headers
        .iter()
        .map(|(k, v)| {
            if k.eq_ignore_ascii_case(circle::KEY_ID_HEADER) {
                (k.clone(), kid.to_owned())
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn ebay_keys_are_fetched_once_by_kid_with_an_app_token_and_failures_are_bounded() {
    key_by_id_end_to_end("ebay", EBAY_PRIVATE_KEY, ebay_with_kid, |e| e.stats().ebay_key_requests).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn circle_keys_are_fetched_once_by_key_id_and_failures_are_bounded() {
    key_by_id_end_to_end("circle", CIRCLE_PRIVATE_KEY, circle_with_kid, |e| e.stats().circle_key_requests).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ebay_endpoint_challenge_is_answered_with_its_hash_and_never_forwarded() {
    let emulator = start_emulator(EmulatorConfig::demo()).await.unwrap();
    let worker = WorkerProcess::start(&standard_setup(&emulator)).await.unwrap();
    let code = "a8628072-3d33-45ee-9004-bee86830a22d";
    let endpoint = worker.url("/hooks/ebay");
    let r = worker.client().get(format!("{endpoint}?challenge_code={code}")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    let expected = hex::encode(Sha256::digest(format!("{code}{EBAY_VERIFICATION_TOKEN}{endpoint}")));
    assert_eq!(v, serde_json::json!({ "challengeResponse": expected }), "{}", worker.log_tail());
    // A code eBay would not send: refused; nothing reached the flow or eBay.
    let long = "a".repeat(300);
    let r = worker.client().get(format!("{endpoint}?challenge_code={long}")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(emulator.stats().flow_requests, 0);
    assert_eq!(emulator.stats().ebay_token_requests + emulator.stats().ebay_key_requests, 0);
}
