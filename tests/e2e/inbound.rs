//! Inbound: signatures (published vectors, tampering, rotation), handshakes,
//! and every bad input — through the shared stack.

use flowgate_core::{
    verify::{github, standard_webhooks},
    Secret,
};
use flowgate_e2e::{demo, now_secs, runs_for, GITHUB_VECTOR_SECRET, STANDARD_WEBHOOKS_VECTOR_SECRET};

use crate::shared;

/// (what is being tried, headers, body)
type Case<'a> = (&'a str, Vec<(String, String)>, Vec<u8>);

fn delivery() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn github_headers(sig: &str, event: &str, delivery: &str, content_type: &str) -> Vec<(String, String)> {
    vec![
        ("content-type".into(), content_type.into()),
        ("x-hub-signature-256".into(), sig.into()),
        ("x-github-event".into(), event.into()),
        ("x-github-delivery".into(), delivery.into()),
    ]
}

fn sw_headers(prefix: &str, id: &str, ts: u64, sig: &str) -> Vec<(String, String)> {
    vec![
        ("content-type".into(), "application/octet-stream".into()),
        (format!("{prefix}-id"), id.into()),
        (format!("{prefix}-timestamp"), ts.to_string()),
        (format!("{prefix}-signature"), sig.into()),
    ]
}

// GitHub's published vector (webhook-providers.md §c).
const GH_BODY: &[u8] = b"Hello, World!";
const GH_SIG: &str = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

#[tokio::test]
async fn github_published_vector_reaches_the_flow_byte_exact_with_a_bearer_token() {
    let s = shared();
    let id = delivery();
    let a =
        s.worker.post_hook("gh", &github_headers(GH_SIG, "push", &id, "text/plain"), GH_BODY.to_vec()).await.unwrap();
    assert_eq!(a.status, 202, "{}", a.text);
    assert_eq!(a.json["status"], "accepted");
    assert_eq!(a.json["delivery_id"], id.as_str());

    let runs = runs_for(&s.emulator, &id);
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run.flow_id, demo::FLOW_ANY);
    assert_eq!(run.body, GH_BODY);
    assert_eq!(run.headers["content-type"], "text/plain");
    assert_eq!(run.headers["x-flowgate-route"], "gh");
    assert_eq!(run.headers["x-flowgate-provider"], "github");
    assert_eq!(run.headers["x-flowgate-event"], "push");
    assert!(run.headers["authorization"].starts_with("Bearer "));
    // The token is what the double-slash scope yields (entra-power-automate.md §1.3).
    assert_eq!(run.token_claims["aud"], "https://service.flow.microsoft.com/");
    assert_eq!(run.token_claims["tid"], demo::TENANT_ID);
    assert_eq!(run.token_claims["oid"], demo::SP_OBJECT_ID);
    assert_eq!(run.token_claims["appid"], demo::CLIENT_ID);
    // The sender's signature is not passed on.
    assert!(!run.headers.contains_key("x-hub-signature-256"));
    assert_eq!(a.json["flow_run_id"], run.run_id.as_str());
}

#[tokio::test]
async fn a_chunked_body_under_the_limit_is_verified_and_forwarded_byte_exact() {
    let s = shared();
    let id = delivery();
    let chunks = vec![b"{\"part\":1,".to_vec(), vec![b' '; 300], b"\"part\":2}".to_vec()];
    let whole: Vec<u8> = chunks.concat();
    let sig = github::sign(&Secret::new(GITHUB_VECTOR_SECRET), &whole);
    let (status, text) =
        s.worker.post_chunked("gh", &github_headers(&sig, "push", &id, "application/json"), &chunks).await.unwrap();
    assert_eq!(status, 202, "{text}");
    assert_eq!(runs_for(&s.emulator, &id)[0].body, whole);
}

#[tokio::test]
async fn github_secret_rotation_accepts_the_previous_secret() {
    let s = shared();
    let id = delivery();
    let body = br#"{"zen":"Keep it logically awesome."}"#.to_vec();
    let sig = github::sign(&Secret::new("previous-github-secret"), &body);
    let a =
        s.worker.post_hook("gh", &github_headers(&sig, "issues", &id, "application/json"), body.clone()).await.unwrap();
    assert_eq!(a.status, 202, "{}", a.text);
    assert_eq!(runs_for(&s.emulator, &id)[0].body, body);
}

#[tokio::test]
async fn github_tampering_is_rejected_and_nothing_is_forwarded() {
    let s = shared();
    let mut bad_sig = GH_SIG.to_owned();
    bad_sig.replace_range(bad_sig.len() - 1.., "8");
    let wrong_secret = github::sign(&Secret::new("it's a secret to everybody"), GH_BODY);
    let cases: Vec<Case> = vec![
        ("tampered body", github_headers(GH_SIG, "push", &delivery(), "text/plain"), b"Hello, World?".to_vec()),
        ("tampered signature", github_headers(&bad_sig, "push", &delivery(), "text/plain"), GH_BODY.to_vec()),
        ("wrong secret", github_headers(&wrong_secret, "push", &delivery(), "text/plain"), GH_BODY.to_vec()),
        (
            "sha1 prefix",
            github_headers(&GH_SIG.replace("sha256=", "sha1="), "push", &delivery(), "text/plain"),
            GH_BODY.to_vec(),
        ),
        ("no signature", github_headers(GH_SIG, "push", &delivery(), "text/plain")[..1].to_vec(), GH_BODY.to_vec()),
    ];
    for (what, headers, body) in cases {
        let id = headers.iter().find(|(k, _)| k == "x-github-delivery").map(|(_, v)| v.clone());
        let a = s.worker.post_hook("gh", &headers, body).await.unwrap();
        assert_eq!(a.status, 401, "{what}: {}", a.text);
        assert_eq!(a.json["error"], "invalid_signature", "{what}");
        if let Some(id) = id {
            assert!(runs_for(&s.emulator, &id).is_empty(), "{what} was forwarded");
        }
    }
}

#[tokio::test]
async fn github_ping_is_answered_at_the_edge_not_forwarded() {
    let s = shared();
    let id = delivery();
    let body = br#"{"zen":"Design for failure.","hook_id":1}"#.to_vec();
    let sig = github::sign(&Secret::new(GITHUB_VECTOR_SECRET), &body);
    let a = s.worker.post_hook("gh", &github_headers(&sig, "ping", &id, "application/json"), body).await.unwrap();
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json["handshake"], "github-ping");
    assert!(runs_for(&s.emulator, &id).is_empty());
}

// Standard Webhooks' published vector (webhook-providers.md §c).
const SW_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const SW_TS: u64 = 1_614_265_330;
const SW_BODY: &[u8] = br#"{"test": 2432232314}"#;
const SW_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
const SW_SIG_BAD: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=";

#[tokio::test]
async fn standard_webhooks_published_vector_is_refused_today_as_a_replay() {
    // The vector is valid, but signed in 2021: outside the ±5 min window.
    let s = shared();
    let a = s.worker.post_hook("sw", &sw_headers("webhook", SW_ID, SW_TS, SW_SIG), SW_BODY.to_vec()).await.unwrap();
    assert_eq!(a.status, 401, "{}", a.text);
    assert!(runs_for(&s.emulator, SW_ID).is_empty());
    assert!(s.worker.wait_for_log("signed timestamp is too old").await, "the reason is logged");
}

#[tokio::test]
async fn standard_webhooks_fresh_signatures_pass_with_both_header_families() {
    let s = shared();
    let secret = Secret::new(STANDARD_WEBHOOKS_VECTOR_SECRET);
    // Every byte value, to prove the body is passed on untouched.
    let body: Vec<u8> = (0..=255u8).chain(b"{\"type\":\"x\"}".iter().copied()).collect();
    for prefix in ["webhook", "svix"] {
        let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
        let ts = now_secs();
        let good = standard_webhooks::sign(&secret, &id, ts, &body).unwrap();
        // Several signatures in one header, the right one third (rotation).
        let header = format!("{SW_SIG_BAD} v1a,AAAA {good} v1,AAAA");
        let a = s.worker.post_hook("sw", &sw_headers(prefix, &id, ts, &header), body.clone()).await.unwrap();
        assert_eq!(a.status, 202, "{prefix}: {}", a.text);
        let runs = runs_for(&s.emulator, &id);
        assert_eq!(runs.len(), 1, "{prefix}");
        assert_eq!(runs[0].body, body, "{prefix}: byte-exact");
        assert_eq!(runs[0].headers["x-flowgate-provider"], "standard-webhooks");
        assert_eq!(runs[0].headers["content-type"], "application/octet-stream");
    }
}

#[tokio::test]
async fn standard_webhooks_tampering_and_stale_or_future_timestamps_are_rejected() {
    let s = shared();
    let secret = Secret::new(STANDARD_WEBHOOKS_VECTOR_SECRET);
    let body = br#"{"type":"invoice.paid"}"#.to_vec();
    let now = now_secs();
    let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
    let sig_now = standard_webhooks::sign(&secret, &id, now, &body).unwrap();
    let other_secret = Secret::new("whsec_QWxsIHRoZSB3b3JsZCdzIGEgc3RhZ2U=");
    let cases: Vec<Case> = vec![
        ("tampered body", sw_headers("webhook", &id, now, &sig_now), br#"{"type":"invoice.void"}"#.to_vec()),
        ("tampered timestamp", sw_headers("webhook", &id, now + 1, &sig_now), body.clone()),
        ("tampered id", sw_headers("webhook", &format!("{id}x"), now, &sig_now), body.clone()),
        (
            "wrong secret",
            sw_headers("webhook", &id, now, &standard_webhooks::sign(&other_secret, &id, now, &body).unwrap()),
            body.clone(),
        ),
        (
            "6 minutes old",
            sw_headers("webhook", &id, now - 360, &standard_webhooks::sign(&secret, &id, now - 360, &body).unwrap()),
            body.clone(),
        ),
        (
            "6 minutes ahead",
            sw_headers("webhook", &id, now + 360, &standard_webhooks::sign(&secret, &id, now + 360, &body).unwrap()),
            body.clone(),
        ),
        ("negative vector only", sw_headers("webhook", &id, now, SW_SIG_BAD), body.clone()),
    ];
    for (what, headers, body) in cases {
        let a = s.worker.post_hook("sw", &headers, body).await.unwrap();
        assert_eq!(a.status, 401, "{what}: {}", a.text);
        assert_eq!(a.json["error"], "invalid_signature");
    }
    assert!(runs_for(&s.emulator, &id).is_empty());
    assert!(runs_for(&s.emulator, &format!("{id}x")).is_empty());
}

#[tokio::test]
async fn bad_requests_get_clear_errors() {
    let s = shared();
    let c = s.worker.client();
    let r = c.post(s.worker.url("/hooks/no-such-route")).body("{}").send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = c.get(s.worker.url("/hooks/gh")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "POST");
    let r = c.get(s.worker.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let h = c.get(s.worker.url("/healthz")).send().await.unwrap();
    assert_eq!(h.status(), 200);

    // Over the route's 1 KiB limit: 413 before anything else, nothing forwarded.
    let id = delivery();
    let body = vec![b'x'; 2048];
    let sig = github::sign(&Secret::new(GITHUB_VECTOR_SECRET), &body);
    let a = s.worker.post_hook("gh-small", &github_headers(&sig, "push", &id, "text/plain"), body).await.unwrap();
    assert_eq!(a.status, 413, "{}", a.text);
    assert_eq!(a.json["max_bytes"], 1024);
    assert!(runs_for(&s.emulator, &id).is_empty());

    // The same without Content-Length (chunked): still cut off at the limit.
    let id = delivery();
    let chunks = vec![vec![b'x'; 700], vec![b'y'; 700]];
    let whole: Vec<u8> = chunks.concat();
    let sig = github::sign(&Secret::new(GITHUB_VECTOR_SECRET), &whole);
    let (status, text) =
        s.worker.post_chunked("gh-small", &github_headers(&sig, "push", &id, "text/plain"), &chunks).await.unwrap();
    assert_eq!(status, 413, "{text}");
    assert!(runs_for(&s.emulator, &id).is_empty());

    // A route whose flow URL secret is not set: 500, and the log names it.
    let id = delivery();
    let a = s
        .worker
        .post_hook("gh-unset", &github_headers(GH_SIG, "push", &id, "text/plain"), GH_BODY.to_vec())
        .await
        .unwrap();
    assert_eq!(a.status, 500, "{}", a.text);
    assert_eq!(a.json["error"], "misconfigured");
    assert!(!a.text.contains("FLOW_URL_NOT_SET"), "setting names stay in the log");
    assert!(
        s.worker.wait_for_log("secret FLOW_URL_NOT_SET (flow trigger URL) is not set").await,
        "{}",
        s.worker.log_tail()
    );
}

#[tokio::test]
async fn specific_users_flows_accept_the_listed_service_principal_only() {
    let s = shared();
    let id = delivery();
    let a = s
        .worker
        .post_hook("gh-allowed", &github_headers(GH_SIG, "push", &id, "text/plain"), GH_BODY.to_vec())
        .await
        .unwrap();
    assert_eq!(a.status, 202, "{}", a.text);
    assert_eq!(runs_for(&s.emulator, &id)[0].flow_id, demo::FLOW_SPECIFIC_ALLOWED);

    let id = delivery();
    let a = s
        .worker
        .post_hook("gh-denied", &github_headers(GH_SIG, "push", &id, "text/plain"), GH_BODY.to_vec())
        .await
        .unwrap();
    assert_eq!(a.status, 502, "{}", a.text);
    assert_eq!(a.json["error"], "flow_failed");
    assert_eq!(a.json["flow_error"], "MisMatchingOAuthClaims");
    assert!(a.json["message"].as_str().unwrap().contains("Object ID"), "{}", a.text);
    assert!(runs_for(&s.emulator, &id).is_empty());
}

#[tokio::test]
async fn logs_are_json_lines_without_secrets_tokens_or_bodies() {
    let s = shared();
    let id = delivery();
    let body = b"a very recognisable body 7f3c".to_vec();
    let sig = github::sign(&Secret::new(GITHUB_VECTOR_SECRET), &body);
    let a = s.worker.post_hook("gh", &github_headers(&sig, "push", &id, "text/plain"), body).await.unwrap();
    assert_eq!(a.status, 202);
    assert!(s.worker.wait_for_log(&id).await, "a log line for the delivery");
    let request_id = a.request_id.expect("x-flowgate-request-id");
    assert_eq!(request_id.len(), 16);
    let log = s.worker.log();
    let line = log.lines().find(|l| l.contains(&id)).expect("a log line for the delivery");
    let v: serde_json::Value = serde_json::from_str(line.trim()).expect("one JSON object per line");
    assert_eq!(v["route"], "gh");
    assert_eq!(v["request_id"], request_id.as_str());
    assert_eq!(v["outcome"], "forwarded");
    assert_eq!(v["upstream_status"], 202);
    assert!(v["duration_ms"].is_u64());
    for needle in ["recognisable body", GITHUB_VECTOR_SECRET, demo::CLIENT_SECRET, "eyJ"] {
        assert!(!log.contains(needle), "log leaks {needle:?}");
    }
}

#[tokio::test]
async fn flowgate_send_signs_as_the_sender_and_the_flow_gets_the_run() {
    // The command `make dev` prints, against the test Worker.
    let s = shared();
    let bin = flowgate_e2e::repo_root().join("target/debug/flowgate");
    assert!(bin.exists(), "{} is missing: `make build` builds it", bin.display());
    for (provider, route, secret, expected_event) in [
        ("github", "gh", GITHUB_VECTOR_SECRET, "push"),
        ("svix", "sw", STANDARD_WEBHOOKS_VECTOR_SECRET, "invoice.paid"),
    ] {
        let before = s.emulator.runs().len();
        let out = tokio::process::Command::new(&bin)
            .args(["send", provider, "--url", &s.worker.url(&format!("/hooks/{route}")), "--secret", secret])
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{provider}: {stdout}");
        assert!(stdout.contains("202 Accepted"), "{stdout}");
        let answer: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
        let id = answer["delivery_id"].as_str().unwrap();
        let runs = runs_for(&s.emulator, id);
        assert_eq!(runs.len(), 1, "{provider}");
        assert_eq!(runs[0].headers["x-flowgate-event"], expected_event);
        assert!(s.emulator.runs().len() > before);
    }
}
