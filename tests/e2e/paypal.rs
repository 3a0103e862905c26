//! PayPal through the real Worker: the certificate fetched from
//! `PAYPAL-CERT-URL` (the emulator standing in for PayPal's API host, by the
//! routes' `paypal_emulator_origin`), RSA-SHA256 checked by Web Crypto over
//! `id|time|webhook id|crc32(body)`, notifications forwarded byte for byte.

use flowgate_core::verify::paypal;
use flowgate_e2e::{now_secs, standard_setup, start_emulator, EmulatorConfig, WorkerProcess};
use flowgate_emulator::{
    senders::{paypal_headers, sample_body, PAYPAL_DEMO_WEBHOOK_ID},
    DEMO_SNS_PRIVATE_KEY,
};

#[tokio::test(flavor = "multi_thread")]
async fn paypal_notifications_verify_with_the_fetched_certificate_and_the_routes_webhook_id() {
    let emulator = start_emulator(EmulatorConfig::demo()).await.unwrap();
    let worker = WorkerProcess::start(&standard_setup(&emulator)).await.unwrap();
    let p = flowgate_core::verify::find_provider("paypal").unwrap();
    let body = sample_body(p, "PAYMENT.CAPTURE.COMPLETED", now_secs());
    let sign = |body: &[u8]| {
        let mut h =
            paypal_headers(DEMO_SNS_PRIVATE_KEY, PAYPAL_DEMO_WEBHOOK_ID, body, &emulator.base_url(), now_secs())
                .unwrap();
        h.push(("content-type".to_owned(), "application/json".to_owned()));
        h
    };
    let headers = sign(&body);

    // The certificate host fails: 502, nothing forwarded.
    emulator.inject_cert_faults(vec![503]);
    let a = worker.post_hook("paypal", &headers, body.clone()).await.unwrap();
    assert_eq!(a.status, 502, "{}\n{}", a.text, worker.log_tail());
    assert_eq!(emulator.stats().paypal_cert_requests, 1);

    // Then it answers: verified and forwarded byte for byte.
    let a = worker.post_hook("paypal", &headers, body.clone()).await.unwrap();
    assert_eq!(a.status, 202, "{}\n{}", a.text, worker.log_tail());
    let run = emulator.runs().into_iter().find(|r| r.body == body).expect("forwarded byte for byte");
    assert_eq!(run.headers["x-flowgate-provider"], "paypal");
    assert_eq!(run.headers["x-flowgate-event"], "PAYMENT.CAPTURE.COMPLETED");
    assert_eq!(emulator.stats().paypal_cert_requests, 2);

    // A changed body, or another webhook's route: 401, not forwarded.
    let mut tampered = body.clone();
    let at = tampered.len() / 2;
    tampered[at] ^= 0x01;
    let a = worker.post_hook("paypal", &headers, tampered).await.unwrap();
    assert_eq!(a.status, 401, "{}", a.text);
    let a = worker.post_hook("paypal-other", &headers, body.clone()).await.unwrap();
    assert_eq!(a.status, 401, "{}", a.text);

    // A certificate URL off PayPal's hosts: 401 without a fetch.
    let mut foreign = sign(&body);
    for (k, v) in &mut foreign {
        if k == paypal::CERT_URL_HEADER {
            *v = "https://evil.example/v1/notifications/certs/CERT-flowgate-test".to_owned();
        }
    }
    let a = worker.post_hook("paypal", &foreign, body.clone()).await.unwrap();
    assert_eq!(a.status, 401, "{}", a.text);
    assert_eq!(emulator.stats().paypal_cert_requests, 2, "no fetch but the first two");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(emulator.stats().flow_accepted, 1);
}
