//! End-to-end harness: the emulator (in-process, on a free loopback port) and
//! the real Worker under `wrangler dev` (a child process in its own process
//! group, on free ports, stopped by its pid when the handle drops).
//!
//! Each [`WorkerProcess`] gets its own directory under `target/e2e/` holding a
//! generated `wrangler.toml` (pointing at the prebuilt `build/index.js`, so
//! nothing is rebuilt per test), its `.dev.vars`, its persisted state and its
//! log, which is printed when a start fails.

use std::{
    collections::BTreeMap,
    fs,
    net::{SocketAddr, TcpListener},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{bail, Context as _};
pub use flowgate_cli::emulator::{Emulator, EmulatorConfig, FlowRun, Stats};

/// Demo tenant, app and flows of `EmulatorConfig::demo()`, under short names.
pub mod demo {
    pub use flowgate_cli::emulator::{
        DEMO_CLIENT_ID as CLIENT_ID, DEMO_CLIENT_SECRET as CLIENT_SECRET, DEMO_FLOW_ANY_USER as FLOW_ANY,
        DEMO_FLOW_SPECIFIC_DEMO_APP as FLOW_SPECIFIC_ALLOWED, DEMO_FLOW_SPECIFIC_OTHER as FLOW_SPECIFIC_OTHER,
        DEMO_SP_OBJECT_ID as SP_OBJECT_ID, DEMO_TENANT_DOMAIN as TENANT_DOMAIN, DEMO_TENANT_ID as TENANT_ID,
    };
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// A free loopback port (bind to 0, read it back, release it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free loopback port")
}

/// Starts an emulator on a free port.
///
/// # Errors
/// When it cannot start.
pub async fn start_emulator(config: EmulatorConfig) -> anyhow::Result<Emulator> {
    Emulator::start(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
}

/// How the Worker under test is configured.
#[derive(Clone, Debug)]
pub struct WorkerSetup {
    /// `[vars.FLOWGATE]` as TOML (without the table header lines for routes: full tables).
    pub flowgate_toml: String,
    /// `.dev.vars` entries.
    pub secrets: BTreeMap<String, String>,
    /// Keep KV (and other) state here across restarts.
    pub persist_to: Option<PathBuf>,
    /// The Worker script; `None` is the built flowgate Worker, `build/index.js`
    /// (the load bench also runs a bare pass-through Worker for comparison).
    pub main: Option<PathBuf>,
}

/// The standard test configuration: routes for every case the tests need,
/// all pointing at `emulator`, with the demo app's client secret.
pub fn standard_setup(emulator: &Emulator) -> WorkerSetup {
    let entra = "client_secret_binding = \"ENTRA_CLIENT_SECRET\"\n";
    let mut setup = setup_with_entra(emulator, entra);
    setup.secrets.insert("ENTRA_CLIENT_SECRET".into(), demo::CLIENT_SECRET.to_owned());
    setup
}

/// The standard routes with `entra_lines` (credential, cloud, ...) added to
/// `[vars.FLOWGATE.entra]`; the credential's secrets are the caller's to add.
pub fn setup_with_entra(emulator: &Emulator, entra_lines: &str) -> WorkerSetup {
    let flowgate_toml = format!(
        r#"
[vars.FLOWGATE.entra]
authority = "{authority}"
tenant = "{tenant}"
client_id = "{client}"
{entra_lines}
[vars.FLOWGATE.routes.gh]
provider = "github"
secret_bindings = ["GH_SECRET_OLD", "GH_SECRET"]
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.sw]
provider = "standard-webhooks"
secret_bindings = ["SW_SECRET"]
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.gh-allowed]
provider = "github"
secret_bindings = ["GH_SECRET"]
flow_url_binding = "FLOW_SPECIFIC_ALLOWED"

[vars.FLOWGATE.routes.gh-denied]
provider = "github"
secret_bindings = ["GH_SECRET"]
flow_url_binding = "FLOW_SPECIFIC_OTHER"

[vars.FLOWGATE.routes.gh-nodedupe]
provider = "github"
secret_bindings = ["GH_SECRET_OLD", "GH_SECRET"]
flow_url_binding = "FLOW_ANY"
dedupe = false

[vars.FLOWGATE.routes.gh-small]
provider = "github"
secret_bindings = ["GH_SECRET"]
flow_url_binding = "FLOW_ANY"
max_body_bytes = 1024

[vars.FLOWGATE.routes.gh-unset]
provider = "github"
secret_bindings = ["GH_SECRET"]
flow_url_binding = "FLOW_URL_NOT_SET"
{senders}"#,
        senders = SENDER_ROUTES.replace("@EMULATOR_BASE_URL@", &emulator.base_url()),
        authority = emulator.base_url(),
        tenant = demo::TENANT_DOMAIN,
        client = demo::CLIENT_ID,
    );
    let secrets = [
        ("GH_SECRET_OLD", "previous-github-secret".to_owned()),
        ("GH_SECRET", GITHUB_VECTOR_SECRET.to_owned()),
        ("SW_SECRET", STANDARD_WEBHOOKS_VECTOR_SECRET.to_owned()),
        ("FLOW_ANY", emulator.flow_url(demo::FLOW_ANY)),
        ("FLOW_SPECIFIC_ALLOWED", emulator.flow_url(demo::FLOW_SPECIFIC_ALLOWED)),
        ("FLOW_SPECIFIC_OTHER", emulator.flow_url(demo::FLOW_SPECIFIC_OTHER)),
        ("FLOW_GONE", emulator.flow_url("no-such-flow")),
        ("FLOWGATE_ADMIN_TOKEN", ADMIN_TOKEN.to_owned()),
        ("SENDER_SECRET", SENDER_SECRET.to_owned()),
        ("META_VERIFY_TOKEN", META_VERIFY_TOKEN.to_owned()),
        ("DISCORD_PUBLIC_KEY", discord_public_key()),
        ("PLAID_CLIENT_ID", flowgate_cli::emulator::DEMO_PLAID_CLIENT_ID.to_owned()),
        ("PLAID_SECRET", flowgate_cli::emulator::DEMO_PLAID_SECRET.to_owned()),
        ("PLAID_SECRET_WRONG", "not-the-plaid-secret".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    WorkerSetup { flowgate_toml: direct_mode(&flowgate_toml) + QUEUE_ROUTES, secrets, persist_to: None, main: None }
}

/// Queue-mode routes (the default mode): quick retries for the tests.
const QUEUE_ROUTES: &str = r#"
[vars.FLOWGATE.routes.q]
provider = "github"
secret_bindings = ["GH_SECRET"]
flow_url_binding = "FLOW_ANY"
max_attempts = 4
backoff_base_secs = 1
backoff_max_secs = 2

[vars.FLOWGATE.routes.q-many]
provider = "github"
secret_bindings = ["GH_SECRET"]
flow_url_binding = "FLOW_ANY"
max_attempts = 12
backoff_base_secs = 1
backoff_max_secs = 2
lost_after_secs = 5

[vars.FLOWGATE.routes.q-sw]
provider = "standard-webhooks"
secret_bindings = ["SW_SECRET"]
flow_url_binding = "FLOW_ANY"
max_attempts = 3
backoff_base_secs = 1
backoff_max_secs = 1
max_body_bytes = 8388608

[vars.FLOWGATE.routes.q-gone]
provider = "github"
secret_bindings = ["GH_SECRET"]
flow_url_binding = "FLOW_GONE"
"#;

/// The admin API's bearer token in the test Worker.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// The signing secret of every route in [`SENDER_ROUTES`].
pub const SENDER_SECRET: &str = "a-sender-signing-secret";
/// The Discord application's private key the tests sign with (RFC 8032 test 1).
pub const DISCORD_PRIVATE_KEY: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";

/// The public key the `discord` route verifies with.
pub fn discord_public_key() -> String {
    let discord = flowgate_core::verify::find_provider("discord").expect("discord is built in");
    flowgate_cli::send::verifying_key(discord, &flowgate_core::Secret::new(DISCORD_PRIVATE_KEY))
        .expect("a valid private key")
        .expect("discord verifies with a public key")
}

/// The P-256 key the emulator's Plaid verification key is made of (signs `plaid` webhooks).
pub const PLAID_PRIVATE_KEY: &str = flowgate_cli::emulator::DEMO_PLAID_PRIVATE_KEY;

/// Meta's verify token on the `meta` route.
pub const META_VERIFY_TOKEN: &str = "meta verify token";

/// One route per built-in sender the end-to-end tests exercise (route name =
/// provider name), and a custom scheme written like Stripe's. Plaid's key
/// endpoint is the emulator's (`@EMULATOR_BASE_URL@` is replaced by its base URL);
/// `plaid-wrong` has a Plaid secret the emulator refuses.
const SENDER_ROUTES: &str = r#"
[vars.FLOWGATE.routes.stripe]
provider = "stripe"
secret_bindings = ["SENDER_SECRET"]
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.slack]
provider = "slack"
secret_bindings = ["SENDER_SECRET"]
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.zoom]
provider = "zoom"
secret_bindings = ["SENDER_SECRET"]
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.twitch]
provider = "twitch"
secret_bindings = ["SENDER_SECRET"]
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.meta]
provider = "meta"
secret_bindings = ["SENDER_SECRET"]
flow_url_binding = "FLOW_ANY"
verify_token_binding = "META_VERIFY_TOKEN"

[vars.FLOWGATE.routes.dropbox]
provider = "dropbox"
secret_bindings = ["SENDER_SECRET"]
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.twitter]
provider = "twitter"
secret_bindings = ["SENDER_SECRET"]
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.xero]
provider = "xero"
secret_bindings = ["SENDER_SECRET"]
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.square]
provider = "square"
secret_bindings = ["SENDER_SECRET"]
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.okta]
provider = "okta"
secret_bindings = ["SENDER_SECRET"]
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.msgraph]
provider = "msgraph"
secret_bindings = ["SENDER_SECRET"]
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.monday]
provider = "monday"
secret_bindings = ["SENDER_SECRET"]
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.discord]
provider = "discord"
secret_bindings = ["DISCORD_PUBLIC_KEY"]
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.asana]
provider = "asana"
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.notion]
provider = "notion"
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.plaid]
provider = "plaid"
plaid_client_id_binding = "PLAID_CLIENT_ID"
plaid_secret_binding = "PLAID_SECRET"
plaid_environment = "@EMULATOR_BASE_URL@"
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.plaid-wrong]
provider = "plaid"
plaid_client_id_binding = "PLAID_CLIENT_ID"
plaid_secret_binding = "PLAID_SECRET_WRONG"
plaid_environment = "@EMULATOR_BASE_URL@"
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.acme]
provider = "custom"
secret_bindings = ["SENDER_SECRET"]
flow_url_binding = "FLOW_ANY"

[vars.FLOWGATE.routes.acme.scheme]
algorithm = "sha256"
encoding = "hex"
header = "Acme-Signature"
format = "structured"
separator = ","
timestamp_key = "t"
signature_key = "v1"
template = "{timestamp}.{body}"
timestamp = "structured"
tolerance_secs = 300
event = "json:type"
delivery = "json:id"
"#;

/// A test fixture file's text (`tests/fixtures/NAME`).
pub fn fixture(name: &str) -> String {
    fs::read_to_string(repo_root().join("tests/fixtures").join(name)).expect("fixture exists")
}

/// GitHub's published test secret (webhook-providers.md §c).
pub const GITHUB_VECTOR_SECRET: &str = "It's a Secret to Everybody";
/// Standard Webhooks' published test secret (webhook-providers.md §c).
pub const STANDARD_WEBHOOKS_VECTOR_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The queue, bucket and Durable Object bindings of queue mode, as in the
/// README's deployment guide, with the consumer's batching made quick for
/// tests (Miniflare's own defaults differ, workers-platform.md §1 Queues).
const PLATFORM_BINDINGS: &str = r#"
[[queues.producers]]
queue = "flowgate-deliveries"
binding = "DELIVERIES"

[[queues.consumers]]
queue = "flowgate-deliveries"
max_batch_size = 10
max_batch_timeout = 1
max_retries = 100
dead_letter_queue = "flowgate-deliveries-dlq"

[[queues.consumers]]
queue = "flowgate-deliveries-dlq"
max_batch_size = 10
max_batch_timeout = 1

[[r2_buckets]]
binding = "DELIVERY_STORE"
bucket_name = "flowgate-e2e-deliveries"

[[durable_objects.bindings]]
name = "LEDGER"
class_name = "RouteLedger"

[[migrations]]
tag = "v1"
new_sqlite_classes = ["RouteLedger"]
"#;

/// Adds `mode = "direct"` to every route table of `toml` that does not set
/// a mode (the tests of verification and tokens read the flow's answer in
/// the sender's response).
pub fn direct_mode(toml: &str) -> String {
    let mut out = String::with_capacity(toml.len() + 1024);
    for line in toml.lines() {
        out.push_str(line);
        out.push('\n');
        let t = line.trim();
        let is_route_table = t.starts_with("[vars.FLOWGATE.routes.") && t.ends_with(']') && t.matches('.').count() == 3;
        if is_route_table {
            out.push_str("mode = \"direct\"\n");
        }
    }
    out
}

/// `wrangler dev` running the built Worker.
pub struct WorkerProcess {
    child: Option<Child>,
    // Held open: when the test process ends for any reason, the pipe closes
    // and the wrapper script stops wrangler (see `WATCHDOG`).
    _stdin: Option<std::process::ChildStdin>,
    port: u16,
    dir: PathBuf,
    client: reqwest::Client,
}

/// The start failed because a port was taken between choosing it and binding it.
const PORT_TAKEN: &str = "a chosen port was taken before workerd could bind it";

/// Runs wrangler (`"$@"`) in the background and waits for stdin to close —
/// which happens when the test process exits, even on a panic or when the
/// handle lives in a static — then stops the whole process group.
const WATCHDOG: &str = r#""$@" & read -r _; kill -TERM $! 2>/dev/null; sleep 3; kill -KILL 0"#;

fn wrangler_bin() -> PathBuf {
    repo_root().join("node_modules/.bin/wrangler")
}

impl WorkerProcess {
    /// Writes the configuration and starts `wrangler dev`; returns once
    /// `/healthz` answers.
    ///
    /// # Errors
    /// When the Worker is not built, or does not come up within 90 s (the
    /// error carries the tail of wrangler's log).
    pub async fn start(setup: &WorkerSetup) -> anyhow::Result<Self> {
        // A free port is found by binding port 0 and releasing it; another
        // process can take it before workerd binds it. Then start again on
        // new ports (at most three times).
        let mut attempt = 0;
        loop {
            attempt += 1;
            match Self::start_once(setup).await {
                Err(e) if attempt < 3 && e.to_string().contains(PORT_TAKEN) => continue,
                result => return result,
            }
        }
    }

    async fn start_once(setup: &WorkerSetup) -> anyhow::Result<Self> {
        let root = repo_root();
        let bundle = setup.main.clone().unwrap_or_else(|| root.join("build/index.js"));
        if !bundle.exists() {
            bail!("{} is missing: run `make build` (or `make test`) first", bundle.display());
        }
        let dir = root.join("target/e2e").join(uuid::Uuid::new_v4().simple().to_string());
        fs::create_dir_all(&dir)?;
        let wrangler_toml = format!(
            r#"name = "flowgate-e2e"
main = "{main}"
compatibility_date = "2026-04-20"
send_metrics = false

[[kv_namespaces]]
binding = "TOKEN_CACHE"
id = "flowgate-e2e-token-cache"
{platform}
{flowgate}"#,
            // Another Worker script (the benchmark's floor) has no queue
            // handler or Durable Object class to bind.
            platform = if setup.main.is_none() { PLATFORM_BINDINGS } else { "" },
            main = bundle.display(),
            flowgate = setup.flowgate_toml,
        );
        fs::write(dir.join("wrangler.toml"), wrangler_toml)?;
        // Multi-line values (PEM) are written double-quoted with \n, as dotenv reads them.
        let dev_vars: String =
            setup
                .secrets
                .iter()
                .map(|(k, v)| {
                    if v.contains('\n') {
                        format!("{k}=\"{}\"\n", v.replace('\n', "\\n"))
                    } else {
                        format!("{k}={v}\n")
                    }
                })
                .collect();
        fs::write(dir.join(".dev.vars"), dev_vars)?;

        let port = free_port();
        let inspector = free_port();
        let persist = setup.persist_to.clone().unwrap_or_else(|| dir.join("state"));
        let log = fs::File::create(dir.join("wrangler.log"))?;
        let mut cmd = Command::new("sh");
        cmd.current_dir(&dir)
            .args(["-c", WATCHDOG, "sh"])
            .arg(wrangler_bin())
            .args(["dev", "--config", "wrangler.toml", "--ip", "127.0.0.1"])
            .args(["--port", &port.to_string(), "--inspector-port", &inspector.to_string()])
            .arg("--persist-to")
            .arg(&persist)
            .args(["--log-level", "log"])
            .env("WRANGLER_SEND_METRICS", "false")
            .env("WRANGLER_SEND_ERROR_REPORTS", "false")
            .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
            .env("WRANGLER_HIDE_BANNER", "true")
            .env("CI", "true")
            .stdin(Stdio::piped())
            .stdout(log.try_clone()?)
            .stderr(log);
        // Own process group, so stopping it also stops workerd.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd.spawn().with_context(|| format!("starting {}", wrangler_bin().display()))?;
        let stdin = child.stdin.take();
        // No idle connections: wrangler's server closes idle keep-alive
        // connections after a few seconds, and a request that races that
        // close fails with "error sending request".
        let client = reqwest::Client::builder().pool_max_idle_per_host(0).build()?;
        let mut w = WorkerProcess { child: Some(child), _stdin: stdin, port, dir, client };
        w.wait_ready().await?;
        Ok(w)
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(90);
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    bail!("wrangler dev exited ({status}):\n{}", self.log_tail());
                }
            }
            if let Ok(r) = self.client.get(self.url("/healthz")).send().await {
                if r.status().is_success() {
                    return Ok(());
                }
            }
            if self.log().contains("Address already in use") {
                bail!("{PORT_TAKEN}:\n{}", self.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        bail!("wrangler dev did not become ready in 90 s:\n{}", self.log_tail())
    }

    /// The last lines of wrangler's output.
    pub fn log_tail(&self) -> String {
        let text = fs::read_to_string(self.dir.join("wrangler.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Everything wrangler printed (the Worker's JSON log lines among it).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("wrangler.log")).unwrap_or_default()
    }

    /// Waits up to 5 s for `needle` to appear in wrangler's output (console
    /// lines reach the log shortly after the response).
    pub async fn wait_for_log(&self, needle: &str) -> bool {
        for _ in 0..50 {
            if self.log().contains(needle) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// An HTTP client.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// POSTs a prepared request to `/hooks/{route}`.
    ///
    /// # Errors
    /// Transport errors.
    pub async fn post_hook(&self, route: &str, headers: &[(String, String)], body: Vec<u8>) -> anyhow::Result<Answer> {
        let mut req = self.client.post(self.url(&format!("/hooks/{route}"))).body(body);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let request_id = header("x-flowgate-request-id");
        let retry_after = header("retry-after");
        let text = resp.text().await?;
        let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        Ok(Answer { status, request_id, retry_after, json, text })
    }

    /// POSTs `chunks` with `Transfer-Encoding: chunked` (no Content-Length),
    /// over a raw connection; returns the status and the body.
    ///
    /// # Errors
    /// Transport errors or an unparseable answer.
    pub async fn post_chunked(
        &self,
        route: &str,
        headers: &[(String, String)],
        chunks: &[Vec<u8>],
    ) -> anyhow::Result<(u16, String)> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await?;
        let mut head = format!(
            "POST /hooks/{route} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n",
            self.port
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        conn.write_all(head.as_bytes()).await?;
        for chunk in chunks {
            conn.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).await?;
            conn.write_all(chunk).await?;
            conn.write_all(b"\r\n").await?;
        }
        conn.write_all(b"0\r\n\r\n").await?;
        let mut answer = Vec::new();
        conn.read_to_end(&mut answer).await?;
        let text = String::from_utf8_lossy(&answer).into_owned();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("no status line in {text:?}"))?;
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
        Ok((status, body))
    }

    /// Stops wrangler and workerd (SIGTERM to the process group, then SIGKILL).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pgid = child.id().to_string();
            let _ = Command::new("kill").args(["-TERM", "--", &format!("-{pgid}")]).status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = Command::new("kill").args(["-KILL", "--", &format!("-{pgid}")]).status();
            let _ = child.wait();
        }
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The Worker's answer.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The `x-flowgate-request-id` answer header.
    pub request_id: Option<String>,
    /// The `retry-after` answer header.
    pub retry_after: Option<String>,
    /// Body as JSON (`Null` if not JSON).
    pub json: serde_json::Value,
    /// Body as text.
    pub text: String,
}

/// Polls `check` every 250 ms until it returns `Some`, for at most `secs`.
///
/// # Errors
/// When time runs out (with `what` in the message).
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return Ok(v);
        }
        if Instant::now() > deadline {
            bail!("not within {secs} s: {what}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

impl WorkerProcess {
    /// An admin API request (`Authorization: Bearer ADMIN_TOKEN`); returns
    /// the status and the JSON body (`Null` if none).
    ///
    /// # Errors
    /// Transport errors.
    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<(u16, serde_json::Value)> {
        let mut req = self.client.request(method, self.url(path)).bearer_auth(ADMIN_TOKEN);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let text = resp.text().await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)))
    }

    /// Every dead letter's summary (all pages).
    ///
    /// # Errors
    /// Transport errors or a non-200 answer.
    pub async fn dead_letters(&self, route: Option<&str>) -> anyhow::Result<Vec<serde_json::Value>> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = "/admin/dead-letters?limit=100".to_owned();
            if let Some(r) = route {
                path.push_str(&format!("&route={r}"));
            }
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let (status, page) = self.admin(reqwest::Method::GET, &path, None).await?;
            if status != 200 {
                bail!("listing dead letters: {status} {page}");
            }
            items.extend(page["items"].as_array().cloned().unwrap_or_default());
            match page["cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return Ok(items),
            }
        }
    }
}

/// Current Unix time in seconds.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs()
}

/// The runs the emulator recorded with `x-flowgate-delivery` = `delivery`.
pub fn runs_for(emulator: &Emulator, delivery: &str) -> Vec<FlowRun> {
    emulator
        .runs()
        .into_iter()
        .filter(|r| r.headers.get("x-flowgate-delivery").map(String::as_str) == Some(delivery))
        .collect()
}
