//! The senders' own SDKs judge what `flowgate send` sends (issue 15): the
//! request it POSTs for Shopify is accepted by `@shopify/shopify-api`'s
//! `webhooks.validate` (which needs the `X-Shopify-*` headers beside the
//! HMAC), and the one for Box by `box-node-sdk`'s
//! `WebhooksManager.validateMessage` (which needs `box-signature-version`,
//! `box-signature-algorithm` and a fresh `box-delivery-timestamp`); the same
//! requests signed with another secret are refused by both.
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
