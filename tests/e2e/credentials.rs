//! Entra credentials as production tenants use them: certificates, clouds,
//! the sealed and self-refreshing cache, and Entra's failures — each on its
//! own emulator and Worker, because they assert on counters.

use std::time::Duration;

use flowgate_core::{verify::github, Secret};
use flowgate_e2e::{
    demo, fixture, runs_for, setup_with_entra, standard_setup, start_emulator, Emulator, EmulatorConfig, WorkerProcess,
    WorkerSetup, GITHUB_VECTOR_SECRET,
};
use flowgate_emulator::{TokenFault, DEMO_FLOW_GCC_HIGH};

/// Sends one signed GitHub webhook to `route`; returns (delivery id, answer).
async fn send(worker: &WorkerProcess, route: &str, n: usize) -> (String, flowgate_e2e::Answer) {
    let body = format!(r#"{{"n":{n}}}"#).into_bytes();
    let id = uuid::Uuid::new_v4().to_string();
    let headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("x-hub-signature-256".to_owned(), github::sign(&Secret::new(GITHUB_VECTOR_SECRET), &body)),
        ("x-github-event".to_owned(), "push".to_owned()),
        ("x-github-delivery".to_owned(), id.clone()),
    ];
    let a = worker.post_hook(route, &headers, body).await.unwrap();
    (id, a)
}

fn certificate_setup(emulator: &Emulator, algorithm: &str, cert: &str, key: &str) -> WorkerSetup {
    let entra = format!(
        "[vars.FLOWGATE.entra.certificate]\nprivate_key_binding = \"ENTRA_CERT_KEY\"\ncertificate_binding = \"ENTRA_CERT\"\nalgorithm = \"{algorithm}\"\n"
    );
    let mut setup = setup_with_entra(emulator, &entra);
    setup.secrets.insert("ENTRA_CERT_KEY".into(), fixture(key));
    setup.secrets.insert("ENTRA_CERT".into(), fixture(cert));
    setup
}

#[tokio::test(flavor = "multi_thread")]
async fn certificate_credentials_work_end_to_end_with_rs256_and_ps256() {
    let emulator = start_emulator(EmulatorConfig::demo()).await.unwrap();
    for (n, alg) in ["RS256", "PS256"].into_iter().enumerate() {
        let worker =
            WorkerProcess::start(&certificate_setup(&emulator, alg, "entra-test-cert.pem", "entra-test-key.pem"))
                .await
                .unwrap();
        let (id, a) = send(&worker, "gh", n).await;
        assert_eq!(a.status, 202, "{alg}: {}\n{}", a.text, worker.log_tail());
        let run = &runs_for(&emulator, &id)[0];
        assert_eq!(run.token_claims["appidacr"], "2", "{alg}: a certificate-authenticated token");
        assert_eq!(run.token_claims["aud"], "https://service.flow.microsoft.com/");
        assert_eq!(emulator.stats().assertion_requests, n as u64 + 1, "{alg}");
        assert!(!worker.log().contains("BEGIN PRIVATE KEY"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unregistered_certificate_gets_a_502_naming_aadsts700027() {
    let emulator = start_emulator(EmulatorConfig::demo()).await.unwrap();
    let worker =
        WorkerProcess::start(&certificate_setup(&emulator, "RS256", "entra-other-cert.pem", "entra-other-key.pem"))
            .await
            .unwrap();
    let (id, a) = send(&worker, "gh", 1).await;
    assert_eq!(a.status, 502, "{}", a.text);
    assert_eq!(a.json["entra_error"], "AADSTS700027");
    assert!(a.json["message"].as_str().unwrap().contains("upload this certificate"), "{}", a.text);
    assert!(runs_for(&emulator, &id).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sovereign_cloud_setting_yields_that_clouds_audience() {
    let emulator = start_emulator(EmulatorConfig::demo()).await.unwrap();
    let mut setup =
        setup_with_entra(&emulator, "client_secret_binding = \"ENTRA_CLIENT_SECRET\"\ncloud = \"gcc-high\"\n");
    setup.secrets.insert("ENTRA_CLIENT_SECRET".into(), demo::CLIENT_SECRET.into());
    setup.secrets.insert("FLOW_ANY".into(), emulator.flow_url(DEMO_FLOW_GCC_HIGH));
    setup.secrets.insert("FLOW_SPECIFIC_OTHER".into(), emulator.flow_url(demo::FLOW_ANY));
    let worker = WorkerProcess::start(&setup).await.unwrap();
    let (id, a) = send(&worker, "gh", 1).await;
    assert_eq!(a.status, 202, "{}", a.text);
    assert_eq!(runs_for(&emulator, &id)[0].token_claims["aud"], "https://high.service.flow.microsoft.us/");
    // The same token at a public-cloud flow: refused.
    let (_, a) = send(&worker, "gh-denied", 2).await;
    assert_eq!(a.status, 502);
    assert_eq!(a.json["flow_error"], "MisMatchingOAuthClaims");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_is_refreshed_ahead_of_expiry_in_the_background() {
    let emulator = start_emulator(EmulatorConfig { token_lifetime_secs: 8, ..EmulatorConfig::demo() }).await.unwrap();
    let worker = WorkerProcess::start(&standard_setup(&emulator)).await.unwrap();
    assert_eq!(send(&worker, "gh", 1).await.1.status, 202);
    assert_eq!(emulator.stats().token_requests, 1);
    // Past half of the 8 s life, still usable: answered from memory, and
    // the refresh runs after the response.
    tokio::time::sleep(Duration::from_millis(4500)).await;
    let (second, a) = send(&worker, "gh", 2).await;
    assert_eq!(a.status, 202);
    // The refreshed token is in the isolate's memory once this line is logged.
    assert!(worker.wait_for_log(r#""event":"token_refreshed""#).await, "{}", worker.log_tail());
    assert_eq!(emulator.stats().token_requests, 2);
    let (third, a) = send(&worker, "gh", 3).await;
    assert_eq!(a.status, 202);
    assert!(worker.wait_for_log(&third).await);
    let log = worker.log();
    for id in [&second, &third] {
        let line = log.lines().find(|l| l.contains(id.as_str())).expect("log line");
        assert!(line.contains(r#""token_source":"memory""#), "no webhook waited on Entra: {line}");
    }
    let r2 = &runs_for(&emulator, &second)[0];
    let r3 = &runs_for(&emulator, &third)[0];
    assert_ne!(r2.token_id, r3.token_id, "the third webhook used the refreshed token");
    assert_eq!(emulator.stats().token_requests, 2);
}

/// Every file under `dir`, recursively.
fn files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn kv_holds_a_sealed_value_and_a_tampered_one_is_ignored() {
    let emulator = start_emulator(EmulatorConfig::demo()).await.unwrap();
    let state = flowgate_e2e::repo_root().join("target/e2e").join(format!("sealed-{}", uuid::Uuid::new_v4().simple()));
    let mut setup = standard_setup(&emulator);
    setup.persist_to = Some(state.clone());
    let mut worker = WorkerProcess::start(&setup).await.unwrap();
    assert_eq!(send(&worker, "gh", 1).await.1.status, 202);
    worker.stop();

    // What wrangler persisted for KV: no JWT in it, one sealed value.
    let mut sealed = Vec::new();
    for f in files(&state) {
        let bytes = std::fs::read(&f).unwrap();
        assert!(!bytes.windows(3).any(|w| w == b"eyJ"), "plaintext token in {}", f.display());
        if bytes.starts_with(b"v1.") {
            sealed.push(f);
        }
    }
    assert_eq!(sealed.len(), 1, "one sealed token value");
    // Tamper with it: flip its last character.
    let mut value = std::fs::read(&sealed[0]).unwrap();
    let last = value.len() - 1;
    value[last] = if value[last] == b'A' { b'B' } else { b'A' };
    std::fs::write(&sealed[0], value).unwrap();

    let worker = WorkerProcess::start(&setup).await.unwrap();
    let (_, a) = send(&worker, "gh", 2).await;
    assert_eq!(a.status, 202, "{}", a.text);
    assert_eq!(emulator.stats().token_requests, 2, "the tampered value was not used");
    assert!(worker.wait_for_log(r#""token_source":"entra""#).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn rotating_the_client_secret_fetches_a_new_token() {
    let mut config = EmulatorConfig::demo();
    config.apps[0].client_secrets.push("the-next-client-secret".into());
    let emulator = start_emulator(config).await.unwrap();
    let state = flowgate_e2e::repo_root().join("target/e2e").join(format!("rotate-{}", uuid::Uuid::new_v4().simple()));
    let mut setup = standard_setup(&emulator);
    setup.persist_to = Some(state);
    let mut worker = WorkerProcess::start(&setup).await.unwrap();
    assert_eq!(send(&worker, "gh", 1).await.1.status, 202);
    worker.stop();
    setup.secrets.insert("ENTRA_CLIENT_SECRET".into(), "the-next-client-secret".into());
    let worker = WorkerProcess::start(&setup).await.unwrap();
    assert_eq!(send(&worker, "gh", 2).await.1.status, 202);
    assert_eq!(emulator.stats().token_requests, 2, "the old secret's token is not served");
}

#[tokio::test(flavor = "multi_thread")]
async fn entra_faults_are_retried_held_back_or_explained() {
    let emulator = start_emulator(EmulatorConfig::demo()).await.unwrap();
    let worker = WorkerProcess::start(&standard_setup(&emulator)).await.unwrap();

    // A 500 and a slow answer (past the 5 s timeout) are retried within the request.
    emulator.inject_token_faults(vec![TokenFault::InternalServerError, TokenFault::Delay { delay_ms: 6000 }]);
    let (id, a) = send(&worker, "gh", 1).await;
    assert_eq!(a.status, 202, "{}\n{}", a.text, worker.log_tail());
    assert_eq!(runs_for(&emulator, &id).len(), 1);
    assert_eq!(emulator.stats().token_requests, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_429_holds_token_requests_for_retry_after() {
    let emulator = start_emulator(EmulatorConfig::demo()).await.unwrap();
    let worker = WorkerProcess::start(&standard_setup(&emulator)).await.unwrap();
    emulator.inject_token_faults(vec![TokenFault::Throttle { retry_after: 30 }]);
    let (_, a) = send(&worker, "gh", 1).await;
    assert_eq!(a.status, 502, "{}", a.text);
    assert_eq!(a.json["error"], "token_unavailable");
    assert_eq!(a.retry_after.as_deref(), Some("30"));
    let (_, a) = send(&worker, "gh", 2).await;
    assert_eq!(a.status, 502);
    let held: u64 = a.retry_after.unwrap().parse().unwrap();
    assert!((1..=30).contains(&held), "{held}");
    assert_eq!(emulator.stats().token_requests, 1, "Entra is not asked again during Retry-After");
}

#[tokio::test(flavor = "multi_thread")]
async fn permanent_aadsts_errors_are_explained_and_not_retried() {
    let emulator = start_emulator(EmulatorConfig::demo()).await.unwrap();
    // One Worker per code: the hold is per isolate.
    for (code, words) in [(7_000_222, "expired"), (53_003, "Conditional Access"), (90_002, "tenant not found")] {
        let worker = WorkerProcess::start(&standard_setup(&emulator)).await.unwrap();
        emulator.inject_token_faults(vec![TokenFault::Aadsts { code }]);
        let before = emulator.stats().token_requests;
        let (id, a) = send(&worker, "gh", 1).await;
        assert_eq!(a.status, 502, "{code}: {}", a.text);
        assert_eq!(a.json["entra_error"], format!("AADSTS{code}"));
        assert!(a.json["message"].as_str().unwrap().contains(words), "{code}: {}", a.text);
        assert!(runs_for(&emulator, &id).is_empty());
        // Held back: the next webhook gets the same answer at once, without a new request.
        let (_, again) = send(&worker, "gh", 2).await;
        assert_eq!(again.json["entra_error"], format!("AADSTS{code}"));
        assert!(again.retry_after.is_some(), "{code}");
        assert_eq!(emulator.stats().token_requests, before + 1, "{code}: no retry storm");
    }
}
