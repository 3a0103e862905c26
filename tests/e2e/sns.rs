//! AWS SNS through the real Worker: the certificate fetched from
//! `SigningCertURL` (the emulator standing in for
//! `https://sns.<region>.amazonaws.com`, by the routes' `sns_emulator_origin`),
//! RSA checked by Web Crypto, notifications forwarded byte for byte and
//! deduplicated on `MessageId`, subscription confirmations confirmed only on
//! the route that opts in for its topic.

use flowgate_e2e::{now_secs, standard_setup, start_emulator, Answer, Emulator, EmulatorConfig, WorkerProcess};
use flowgate_emulator::{
    senders::{sns_message, SignedRequest, SnsKind, SNS_DEMO_TOPIC},
    DEMO_SNS_PRIVATE_KEY,
};
use serde_json::Value;

fn message(emulator: &Emulator, kind: SnsKind, topic: &str, text: &str) -> SignedRequest {
    sns_message(DEMO_SNS_PRIVATE_KEY, kind, topic, text, &emulator.base_url(), now_secs()).unwrap()
}

/// `m` with its (unsigned) `SigningCertURL` replaced.
fn with_cert_url(m: &SignedRequest, url: &str) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(&m.body).unwrap();
    v["SigningCertURL"] = url.into();
    v.to_string().into_bytes()
}

async fn post(worker: &WorkerProcess, route: &str, m: &SignedRequest, body: Vec<u8>) -> Answer {
    worker.post_hook(route, &m.headers, body).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn sns_cert_host_failure_is_502_then_notifications_are_forwarded_byte_exact_and_deduplicated() {
    let emulator = start_emulator(EmulatorConfig::demo()).await.unwrap();
    let worker = WorkerProcess::start(&standard_setup(&emulator)).await.unwrap();
    let m = message(&emulator, SnsKind::Notification, SNS_DEMO_TOPIC, r#"{"order":42}"#);

    // The certificate host answers 503, then 500: 502 each time, nothing forwarded.
    emulator.inject_cert_faults(vec![503, 500]);
    for _ in 0..2 {
        let a = post(&worker, "sns", &m, m.body.clone()).await;
        assert_eq!(a.status, 502, "{}\n{}", a.text, worker.log_tail());
        assert_eq!(a.json["error"], "verification_key_unavailable");
    }
    assert_eq!(emulator.stats().sns_cert_requests, 2);
    assert_eq!(emulator.stats().flow_accepted, 0);

    // The host answers: verified, forwarded byte for byte.
    let a = post(&worker, "sns", &m, m.body.clone()).await;
    assert_eq!(a.status, 202, "{}\n{}", a.text, worker.log_tail());
    let run = emulator.runs().into_iter().find(|r| r.body == m.body).expect("forwarded byte for byte");
    assert_eq!(run.headers["x-flowgate-provider"], "aws-sns");
    assert_eq!(run.headers["x-flowgate-event"], "Notification");
    assert_eq!(emulator.stats().sns_cert_requests, 3);

    // SNS's retry of the same MessageId: not forwarded again.
    let a = post(&worker, "sns", &m, m.body.clone()).await;
    assert!(a.status == 200 || a.status == 202, "{}", a.text);
    // Another notification: the cached certificate verifies it.
    let second = message(&emulator, SnsKind::Notification, SNS_DEMO_TOPIC, "second");
    let a = post(&worker, "sns", &second, second.body.clone()).await;
    assert_eq!(a.status, 202, "{}", a.text);
    assert_eq!(emulator.stats().sns_cert_requests, 3, "the certificate is cached");
    // Queue mode: wait for the consumer before counting runs.
    for _ in 0..100 {
        if emulator.runs().len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let runs = emulator.runs();
    assert_eq!(runs.iter().filter(|r| r.body == m.body).count(), 1, "MessageId deduplicated");
    assert_eq!(runs.iter().filter(|r| r.body == second.body).count(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn sns_tampered_messages_and_foreign_certificate_urls_are_refused_unforwarded() {
    let emulator = start_emulator(EmulatorConfig::demo()).await.unwrap();
    let worker = WorkerProcess::start(&standard_setup(&emulator)).await.unwrap();
    let m = message(&emulator, SnsKind::Notification, SNS_DEMO_TOPIC, "hello");

    // A SigningCertURL off SNS's host (or, on a route without the emulator's
    // origin, the emulator's): 401 without a fetch.
    for (route, url) in [
        ("sns", "https://evil.example/SimpleNotificationService-x.pem".to_owned()),
        ("sns", "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem".to_owned()),
        ("sns-production", format!("{}/sns/SimpleNotificationService-flowgate-test.pem", emulator.base_url())),
    ] {
        let a = post(&worker, route, &m, with_cert_url(&m, &url)).await;
        assert_eq!(a.status, 401, "{route} {url}: {}", a.text);
    }
    assert_eq!(emulator.stats().sns_cert_requests, 0, "nothing fetched");

    // A certificate the host does not have: fetched once (404), then remembered.
    let missing = format!("{}/sns/SimpleNotificationService-unknown.pem", emulator.base_url());
    for _ in 0..2 {
        let a = post(&worker, "sns", &m, with_cert_url(&m, &missing)).await;
        assert_eq!(a.status, 401, "{}", a.text);
    }
    assert_eq!(emulator.stats().sns_cert_requests, 1, "a forged URL is asked about once");

    // A tampered message: 401, not forwarded.
    let tampered = String::from_utf8(m.body.clone()).unwrap().replacen("hello", "hellO", 1).into_bytes();
    let a = post(&worker, "sns", &m, tampered).await;
    assert_eq!(a.status, 401, "{}", a.text);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(emulator.stats().flow_requests, 0, "nothing forwarded");
}

#[tokio::test(flavor = "multi_thread")]
async fn sns_subscription_is_confirmed_only_on_the_route_that_opts_in_for_its_topic() {
    let emulator = start_emulator(EmulatorConfig::demo()).await.unwrap();
    let worker = WorkerProcess::start(&standard_setup(&emulator)).await.unwrap();
    let confirm = message(&emulator, SnsKind::SubscriptionConfirmation, SNS_DEMO_TOPIC, "You have chosen to subscribe");

    // Without the opt-in: answered 200, SubscribeURL not fetched, not forwarded.
    let a = post(&worker, "sns", &confirm, confirm.body.clone()).await;
    assert_eq!(a.status, 200, "{}\n{}", a.text, worker.log_tail());
    assert_eq!(a.json["handshake"], "aws-sns-subscription-pending");
    assert!(worker.wait_for_log("sns_confirm_subscriptions is off").await, "{}", worker.log_tail());
    assert_eq!(emulator.stats().sns_confirmations, 0);

    // With it, for the allowed topic: exactly one GET of the SubscribeURL.
    let a = post(&worker, "sns-confirm", &confirm, confirm.body.clone()).await;
    assert_eq!(a.status, 200, "{}\n{}", a.text, worker.log_tail());
    assert_eq!(a.json["handshake"], "aws-sns-subscription-confirmed");
    assert_eq!(emulator.stats().sns_confirmations, 1);
    // Re-sent (SNS's retry, or replayed): answered, SNS not asked again.
    let a = post(&worker, "sns-confirm", &confirm, confirm.body.clone()).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(emulator.stats().sns_confirmations, 1);

    // Another account's topic: refused, not confirmed.
    let other = "arn:aws:sns:us-east-1:999999999999:attacker";
    let foreign = message(&emulator, SnsKind::SubscriptionConfirmation, other, "subscribe");
    let a = post(&worker, "sns-confirm", &foreign, foreign.body.clone()).await;
    assert_eq!(a.status, 403, "{}", a.text);
    let note = message(&emulator, SnsKind::Notification, other, "hi");
    let a = post(&worker, "sns-confirm", &note, note.body.clone()).await;
    assert_eq!(a.status, 403, "{}", a.text);
    assert_eq!(emulator.stats().sns_confirmations, 1);

    // An unsubscription: verified and answered, not forwarded.
    let unsub = message(&emulator, SnsKind::UnsubscribeConfirmation, SNS_DEMO_TOPIC, "You have chosen to deactivate");
    let a = post(&worker, "sns-confirm", &unsub, unsub.body.clone()).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json["handshake"], "aws-sns-unsubscribe");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(emulator.stats().flow_requests, 0, "nothing forwarded");
    assert_eq!(emulator.stats().sns_cert_requests, 1, "one certificate for all");
    // The Token (a capability) is never logged.
    let v: Value = serde_json::from_slice(&confirm.body).unwrap();
    assert!(!worker.log().contains(v["Token"].as_str().unwrap()));
}
