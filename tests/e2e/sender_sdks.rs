//! The senders' own SDKs judge what `flowgate send` sends (issue 15): the
//! request it POSTs for Shopify is accepted by `@shopify/shopify-api`'s
//! `webhooks.validate` (which needs the `X-Shopify-*` headers beside the
//! HMAC), and the one for Box by `box-node-sdk`'s
//! `WebhooksManager.validateMessage` (which needs `box-signature-version`,
//! `box-signature-algorithm` and a fresh `box-delivery-timestamp`); the same
//! requests signed with another secret are refused by both. Then Stripe's
//! `stripe` (`webhooks.constructEvent`), GitHub's `@octokit/webhooks-methods`
//! (`verify`), `standardwebhooks` (`Webhook.verify`), Twilio's `twilio`
//! (`validateRequest`), Slack's `@slack/bolt` (`verifySlackRequest`),
//! Adyen's `@adyen/api-library` (`hmacValidator.validateHMAC`, every item,
//! and `validateHMACSignature` over a platform webhook's body) and Wix's
//! `@wix/sdk`
//! (`AppStrategy` + `webhooks.process`) judge theirs the same way.
//! `tests/clients/sender_sdks.mjs` runs the SDKs (versions pinned in
//! `package-lock.json`) behind a loopback HTTP server; `make test` installs
//! them from the lockfile first.

use std::{
    io::{BufRead as _, BufReader},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use flowgate_e2e::repo_root;

const SHOPIFY_SECRET: &str = "shpss_flowgate_e2e_app_secret";
const BOX_PRIMARY_KEY: &str = "flowgate-e2e-box-primary-key";
// Stripe keys its HMAC with the whole whsec_ string.
const STRIPE_SECRET: &str = "whsec_flowgate_e2e_stripe_endpoint_secret";
const GITHUB_SECRET: &str = "flowgate-e2e-github-webhook-secret";
// base64("flowgate-e2e-standard-webhooks-key").
const SW_SECRET: &str = "whsec_Zmxvd2dhdGUtZTJlLXN0YW5kYXJkLXdlYmhvb2tzLWtleQ==";
const TWILIO_TOKEN: &str = "flowgate-e2e-twilio-auth-token";
const SLACK_SECRET: &str = "flowgate-e2e-slack-signing-secret";
const ADYEN_KEY: &str = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056";
const WIX_PRIVATE_KEY: &str = include_str!("../fixtures/entra-other-key.pem");
const OTHER_RSA_KEY: &str = include_str!("../fixtures/entra-test-key.pem");

/// The Wix app's public key in PEM, as its Webhooks page shows it.
fn wix_public_pem() -> String {
    let wix = flowgate_core::verify::find_provider("wix").unwrap();
    let b64 =
        flowgate_emulator::senders::verifying_key(wix, &flowgate_core::Secret::new(WIX_PRIVATE_KEY)).unwrap().unwrap();
    format!("-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n")
}

/// The SDKs' server, stopped by its pid on drop.
struct SdkServer {
    child: Child,
    port: u16,
    lines: mpsc::Receiver<String>,
}

impl SdkServer {
    fn start() -> Self {
        let root = repo_root();
        let mut child = Command::new("node")
            .arg(root.join("tests/clients/sender_sdks.mjs"))
            .current_dir(&root)
            .env("FLOWGATE_SHOPIFY_SECRET", SHOPIFY_SECRET)
            .env("FLOWGATE_BOX_PRIMARY_KEY", BOX_PRIMARY_KEY)
            .env("FLOWGATE_STRIPE_SECRET", STRIPE_SECRET)
            .env("FLOWGATE_GITHUB_SECRET", GITHUB_SECRET)
            .env("FLOWGATE_SW_SECRET", SW_SECRET)
            .env("FLOWGATE_TWILIO_TOKEN", TWILIO_TOKEN)
            .env("FLOWGATE_ADYEN_KEY", ADYEN_KEY)
            .env("FLOWGATE_SLACK_SECRET", SLACK_SECRET)
            .env("FLOWGATE_WIX_PUBLIC_KEY", wix_public_pem())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node runs tests/clients/sender_sdks.mjs (make test installs its packages)");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let first = lines.recv_timeout(Duration::from_secs(60)).expect("the SDK server starts");
        let port = first.strip_prefix("listening ").and_then(|p| p.trim().parse().ok()).expect("its port");
        Self { child, port, lines }
    }

    /// `flowgate send <provider>` to the SDK's path: its exit status and the
    /// SDK's verdict line.
    fn send(&self, provider: &str, secret: &str) -> (bool, String) {
        let out = Command::new(repo_root().join("target/debug/flowgate"))
            .args([
                "send",
                provider,
                "--url",
                &format!("http://127.0.0.1:{}/{provider}", self.port),
                "--secret",
                secret,
            ])
            .output()
            .expect("target/debug/flowgate runs (make build)");
        let verdict = self.lines.recv_timeout(Duration::from_secs(30)).expect("the SDK judged the request");
        (out.status.success(), verdict)
    }
}

impl Drop for SdkServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn shopify_and_box_sdks_accept_what_flowgate_send_sends() {
    let sdks = SdkServer::start();
    let (ok, verdict) = sdks.send("shopify", SHOPIFY_SECRET);
    assert!(ok && verdict.contains(r#""valid":true"#), "{verdict}");
    // What the SDK read from the headers flowgate send set.
    for field in
        [r#""topic":"ORDERS_CREATE""#, r#""domain":"flowgate-sample.myshopify.com""#, r#""apiVersion":"2025-07""#]
    {
        assert!(verdict.contains(field), "{field}: {verdict}");
    }
    let (ok, verdict) = sdks.send("box", BOX_PRIMARY_KEY);
    assert!(ok && verdict.contains(r#""valid":true"#), "{verdict}");
    assert!(verdict.contains(r#""version":"1""#) && verdict.contains(r#""algorithm":"HmacSHA256""#), "{verdict}");
    // The SDKs do check: another secret is refused, and flowgate send says so.
    for provider in ["shopify", "box"] {
        let (ok, verdict) = sdks.send(provider, "not-the-secret");
        assert!(!ok && verdict.contains(r#""valid":false"#), "{provider}: {verdict}");
    }
}

#[test]
fn stripe_github_standard_webhooks_twilio_slack_adyen_and_wix_sdks_accept_what_flowgate_send_sends() {
    let sdks = SdkServer::start();
    let cases: &[(&str, &str, &[&str], &str)] = &[
        ("stripe", STRIPE_SECRET, &[r#""type":"invoice.paid""#], "whsec_not_the_endpoint_secret"),
        ("github", GITHUB_SECRET, &[r#""event":"push""#], "not-the-github-secret"),
        (
            "standard-webhooks",
            SW_SECRET,
            &[],
            // base64("another-standard-webhooks-key")
            "whsec_YW5vdGhlci1zdGFuZGFyZC13ZWJob29rcy1rZXk=",
        ),
        ("twilio", TWILIO_TOKEN, &[r#""messageSid":"SM"#], "not-the-auth-token"),
        ("slack", SLACK_SECRET, &[r#""type":"event_callback""#], "not-the-signing-secret"),
        (
            "adyen",
            ADYEN_KEY,
            &[r#""items":1"#, r#""eventCode":"AUTHORISATION""#],
            "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF",
        ),
        (
            "adyen-platform",
            ADYEN_KEY,
            &[r#""type":"balancePlatform.accountHolder.created""#],
            "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF",
        ),
        (
            "wix",
            WIX_PRIVATE_KEY,
            &[r#""eventType":"wix.ecom.v1.order_created""#, r#""entityFqdn":"wix.ecom.v1.order""#],
            OTHER_RSA_KEY,
        ),
    ];
    for (provider, secret, fields, wrong) in cases {
        let (ok, verdict) = sdks.send(provider, secret);
        assert!(ok && verdict.contains(r#""valid":true"#), "{provider}: {verdict}");
        for field in *fields {
            assert!(verdict.contains(field), "{provider}: {field}: {verdict}");
        }
        // The SDK does check: signed with another secret (or key), refused.
        let (ok, verdict) = sdks.send(provider, wrong);
        assert!(!ok && verdict.contains(r#""valid":false"#), "{provider} with a wrong secret: {verdict}");
    }
}
