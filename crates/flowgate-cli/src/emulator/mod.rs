//! Emulator of Microsoft Entra ID's token endpoint and a Power Automate HTTP trigger.
//!
//! One HTTP server plays both services so the relay can be tested end to end
//! without a Microsoft tenant. It behaves as
//! /work/shared/reference/entra-power-automate.md says the real services do,
//! including the traps: `…/.default` versus `…//.default` (§1.3), `oid` being
//! the service principal's object ID (§1.5), and the trigger's error bodies (§4).
//!
//! The token endpoint accepts client secrets and certificate credentials
//! (client assertions signed RS256 + `x5t` or PS256 + `x5t#S256` with the key
//! of a certificate registered on the app, §3), and knows the flow service of
//! all five clouds (§1.2); each flow demands its own cloud's audience. Faults
//! (429 with `Retry-After`, 500, 503, delays, chosen AADSTS errors, §2) can be
//! queued for the token endpoint through `POST /_emulator/faults` or
//! [`Emulator::inject_token_faults`].
//!
//! For queued delivery with retries, the flow triggers can fail too: one-shot
//! faults (a status with the §4 error body, `Retry-After` on 429/503, or a
//! delay; optionally for one flow only) through the same endpoint's `"flow"`
//! key or [`Emulator::inject_flow_faults`], and a standing behaviour (down,
//! or failing at a seeded rate) through `PUT /_emulator/flow-behaviour` or
//! [`Emulator::set_flow_behaviour`]. Runs keep every request header, so
//! `GET /_emulator/runs?delivery=` and `GET /_emulator/runs/summary` (runs
//! per `x-flowgate-id`, duplicates) can check "each webhook exactly once".
//!
//! Endpoints (the `/` index lists them with examples):
//! - `POST /{tenant}/oauth2/v2.0/token`, `GET /{tenant}/discovery/v2.0/keys`,
//!   `GET /{tenant}/v2.0/.well-known/openid-configuration`, `GET /error`
//! - `POST /powerautomate/automations/direct/workflows/{id}/triggers/manual/paths/invoke`
//! - `POST /webhook_verification_key/get` (Plaid)
//! - `GET /_emulator/runs[?delivery=&flowgate_id=&bodies=false]`,
//!   `GET /_emulator/runs/summary`, `GET /_emulator/stats`,
//!   `POST /_emulator/revoke`, `POST /_emulator/reset`,
//!   `GET|POST|DELETE /_emulator/faults`,
//!   `GET|PUT|DELETE /_emulator/flow-behaviour`
//!
//! Files:
//! - `mod.rs`: [`Emulator`] (start/stop a server), [`app`] (the router),
//!   [`EmulateArgs`] and [`run`] (the `flowgate emulate` command).
//! - `config.rs`: [`EmulatorConfig`], [`Cloud`], the TOML form and the demo
//!   directory.
//! - `state.rs`: [`State`] shared by the handlers; [`FlowRun`], [`Stats`],
//!   [`Rejection`].
//! - `entra.rs`: token endpoint, JWKS, discovery, Entra-shaped errors.
//! - `assertion.rs`: certificate parsing and client-assertion checks, with
//!   the AADSTS code chosen for each failure.
//! - `faults.rs`: [`TokenFault`] and the answers of injected token faults.
//! - `flow_faults.rs`: [`FlowFault`], [`FlowBehaviour`] and the trigger's
//!   injected error bodies.
//! - `flow.rs`: the trigger and its OAuth policy.
//! - `jwt.rs`: RS256 signing key, token minting and verification.
//! - `plaid.rs`: Plaid's `/webhook_verification_key/get` (one P-256 test key).
//! - `inspect.rs`: `/_emulator/*` and the `/` index.
//! - `tests.rs`: HTTP-level tests (`oneshot` and a real server).

mod assertion;
mod config;
mod entra;
mod faults;
mod flow;
mod flow_faults;
mod inspect;
mod jwt;
mod plaid;
mod state;
#[cfg(test)]
mod tests;

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use anyhow::Context as _;
use axum::{
    extract::DefaultBodyLimit,
    http::StatusCode,
    routing::{get, post, put},
    Router,
};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

pub use self::{
    assertion::JWT_BEARER as CLIENT_ASSERTION_TYPE,
    config::{
        AppConfig, Cloud, EmulatorConfig, FlowConfig, PlaidConfig, TenantConfig, WhoCanTrigger, DEMO_CERT_PEM,
        DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_FLOW_ANY_USER, DEMO_FLOW_CHINA, DEMO_FLOW_DOD, DEMO_FLOW_GCC,
        DEMO_FLOW_GCC_HIGH, DEMO_FLOW_SPECIFIC_DEMO_APP, DEMO_FLOW_SPECIFIC_OTHER, DEMO_OTHER_OBJECT_ID,
        DEMO_PLAID_CLIENT_ID, DEMO_PLAID_PRIVATE_KEY, DEMO_PLAID_SECRET, DEMO_SP_OBJECT_ID, DEMO_TENANT_DOMAIN,
        DEMO_TENANT_ID, PUBLIC_CLOUD_FLOW_AUDIENCE,
    },
    faults::{TokenFault, KNOWN_AADSTS, MAX_DELAY_MS},
    flow_faults::{FlowBehaviour, FlowFault, FlowFaultAction, FLOW_FAULT_STATUSES},
    state::{
        FlowRun, Rejection, RunsSummary, State, Stats, ATTEMPT_HEADER, DELIVERY_HEADER, FLOWGATE_ID_HEADER,
        MAX_TRIGGER_BODY_BYTES,
    },
};

/// UTC `YYYY-MM-DD HH:MM:SS` of Unix seconds (used by `flowgate dlq` too).
pub(crate) use self::state::format_utc;

/// The router with every endpoint; state is shared through `Arc`.
pub fn app(state: Arc<State>) -> Router {
    // The default 2 MB extractor limit would cut trigger bodies short; the
    // trigger enforces its own limit (§4: 100 MB, plus headroom).
    let body_limit = state.max_body_bytes().saturating_add(1);
    Router::new()
        .route("/", get(inspect::index))
        .route("/{tenant}/oauth2/v2.0/token", post(entra::token))
        .route("/{tenant}/discovery/v2.0/keys", get(entra::keys))
        .route("/{tenant}/discovery/keys", get(entra::keys))
        .route("/{tenant}/v2.0/.well-known/openid-configuration", get(entra::openid_configuration))
        .route("/error", get(entra::error_page))
        .route(
            "/powerautomate/automations/direct/workflows/{workflow_id}/triggers/manual/paths/invoke",
            post(flow::trigger),
        )
        .route("/webhook_verification_key/get", post(plaid::key_get))
        .route("/_emulator/runs", get(inspect::runs))
        .route("/_emulator/runs/summary", get(inspect::runs_summary))
        .route("/_emulator/stats", get(inspect::stats))
        .route("/_emulator/revoke", post(inspect::revoke))
        .route("/_emulator/reset", post(inspect::reset))
        .route("/_emulator/faults", get(inspect::faults).post(inspect::add_faults).delete(inspect::clear_faults))
        .route(
            "/_emulator/flow-behaviour",
            put(inspect::set_flow_behaviour).get(inspect::flow_behaviour).delete(inspect::clear_flow_behaviour),
        )
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found; GET / lists the endpoints\n") })
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// A running emulator server. Dropping it stops the server too (without
/// waiting); [`Emulator::shutdown`] stops it and waits.
pub struct Emulator {
    addr: SocketAddr,
    base_url: String,
    state: Arc<State>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Emulator {
    /// Binds `addr` (use `127.0.0.1:0` for a free port), generates the RSA
    /// signing key and serves in a tokio task.
    ///
    /// # Errors
    /// An invalid configuration, a bind failure, or key generation failing.
    pub async fn start(config: EmulatorConfig, addr: SocketAddr) -> anyhow::Result<Emulator> {
        config.validate()?;
        let listener = TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
        let mut addr = listener.local_addr()?;
        // A wildcard bind is reachable over loopback; advertise that.
        if addr.ip().is_unspecified() {
            addr.set_ip(if addr.is_ipv4() {
                std::net::Ipv4Addr::LOCALHOST.into()
            } else {
                std::net::Ipv6Addr::LOCALHOST.into()
            });
        }
        let base_url = format!("http://{addr}");
        let url = base_url.clone();
        // RSA key generation is CPU-bound: keep it off the async workers.
        let state = tokio::task::spawn_blocking(move || State::new(config, url))
            .await
            .context("key generation task failed")??;
        let state = Arc::new(state);
        let (stop, stopped) = oneshot::channel::<()>();
        let server = axum::serve(listener, app(Arc::clone(&state))).with_graceful_shutdown(async {
            // Either an explicit stop or the `Emulator` being dropped.
            let _ = stopped.await;
        });
        let task = tokio::spawn(async move { server.await });
        Ok(Emulator { addr, base_url, state, stop: Some(stop), task: Some(task) })
    }

    /// The bound address (the real port when started on port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`: the Entra "authority host".
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// Full trigger URL of a flow, including `?api-version=1`.
    pub fn flow_url(&self, flow_id: &str) -> String {
        format!("{}{}?api-version=1", self.base_url, flow::trigger_path(flow_id))
    }

    /// The shared state (configuration, runs, counters).
    pub fn state(&self) -> &Arc<State> {
        &self.state
    }

    /// Accepted runs, in order.
    pub fn runs(&self) -> Vec<FlowRun> {
        self.state.runs()
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        self.state.stats()
    }

    /// From now on every token issued so far is rejected as if expired;
    /// tokens issued later work.
    pub fn revoke_tokens_issued_before_now(&self) {
        self.state.revoke_tokens_issued_before_now();
    }

    /// Accepted runs counted per `x-flowgate-id`, with the duplicates.
    pub fn runs_summary(&self) -> RunsSummary {
        self.state.runs_summary()
    }

    /// Clears runs, counters, queued token and flow faults and the flow
    /// behaviour.
    pub fn reset(&self) {
        self.state.reset();
    }

    /// Appends faults to the token endpoint's queue; each token request
    /// takes the next one before it is processed (`faults.rs`, §2).
    pub fn inject_token_faults(&self, faults: Vec<TokenFault>) {
        self.state.inject_token_faults(faults);
    }

    /// The token faults not served yet, in order.
    pub fn token_faults(&self) -> Vec<TokenFault> {
        self.state.token_faults()
    }

    /// Appends faults to the flow triggers' queue; each trigger request takes
    /// the first one that applies to its flow (`flow_faults.rs`).
    pub fn inject_flow_faults(&self, faults: Vec<FlowFault>) {
        self.state.inject_flow_faults(faults);
    }

    /// The flow faults not served yet, in order.
    pub fn flow_faults(&self) -> Vec<FlowFault> {
        self.state.flow_faults()
    }

    /// Sets how every flow behaves from now on (down, or failing at a rate);
    /// [`FlowBehaviour::default`] is healthy.
    ///
    /// # Errors
    /// A failure rate outside [0, 1] or a status not in
    /// [`FLOW_FAULT_STATUSES`]; the behaviour in force stays then.
    pub fn set_flow_behaviour(&self, behaviour: FlowBehaviour) -> Result<(), String> {
        self.state.set_flow_behaviour(behaviour)
    }

    /// The flow behaviour in force.
    pub fn flow_behaviour(&self) -> FlowBehaviour {
        self.state.flow_behaviour()
    }

    /// Stops accepting connections and waits (up to 10 s) for open ones to
    /// finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(Duration::from_secs(10), &mut task).await.is_err() {
                task.abort();
            }
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// `flowgate emulate`: run the emulator until Ctrl-C / SIGTERM.
#[derive(clap::Args, Debug, Clone)]
pub struct EmulateArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8790")]
    pub listen: SocketAddr,
    /// TOML configuration (tenants, apps, flows); the demo configuration if
    /// absent.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Token lifetime in seconds (overrides the configuration).
    #[arg(long, value_name = "SECS")]
    pub token_lifetime: Option<u64>,
}

/// Starts the emulator, prints a banner and serves until Ctrl-C or SIGTERM.
///
/// # Errors
/// An unreadable or invalid configuration file, or a failure to start.
pub async fn run(args: EmulateArgs) -> anyhow::Result<()> {
    let (mut config, is_demo) = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            let config = EmulatorConfig::from_toml(&text)
                .with_context(|| format!("invalid emulator config {}", path.display()))?;
            (config, false)
        }
        None => (EmulatorConfig::demo(), true),
    };
    if let Some(secs) = args.token_lifetime {
        config.token_lifetime_secs = secs;
    }
    let emulator = Emulator::start(config, args.listen).await?;
    println!("{}", banner(&emulator, is_demo));
    wait_for_stop_signal().await?;
    println!("stopping");
    emulator.shutdown().await;
    Ok(())
}

/// The start-up text. Client secrets are shown only for the built-in demo
/// configuration, whose secret is public anyway.
fn banner(e: &Emulator, is_demo: bool) -> String {
    let base = e.base_url();
    let config = e.state().config();
    let mut s = format!(
        "flowgate emulator listening on {base}\n\
         \x20 Entra authority host: {base}   (for every cloud)\n\
         \x20 token endpoint:       {base}/<tenant>/oauth2/v2.0/token   (client secret or client assertion)\n\
         \x20 token lifetime:       {} s\n\
         \x20 scopes (double slash: §1.3):\n",
        config.token_lifetime_secs
    );
    for c in Cloud::ALL {
        s.push_str(&format!("    {:<9} {}/.default\n", c.as_str(), config.audience_of(c)));
    }
    for t in &config.tenants {
        s.push_str(&format!("  tenant {}  {}\n", t.id, t.domains.join(", ")));
    }
    for a in &config.apps {
        let secret = if is_demo { a.client_secrets.join(", ") } else { "(as in the config file)".to_owned() };
        s.push_str(&format!(
            "  app {:?}  client_id {}  client_secret {secret}  certificates {}  service principal oid {}\n",
            a.display_name,
            a.client_id,
            a.certificates.len(),
            a.service_principal_object_id
        ));
    }
    let plaid_secret = if is_demo { config.plaid.secret.as_str() } else { "(as in the config file)" };
    s.push_str(&format!(
        "  Plaid key endpoint:   {base}/webhook_verification_key/get   client_id {}  secret {plaid_secret}  kid {}\n",
        config.plaid.client_id, config.plaid.kid
    ));
    s.push_str("  flows:\n");
    for f in &config.flows {
        s.push_str(&format!("    {}  [{}, {}]\n", e.flow_url(&f.id), f.cloud.as_str(), f.who_can_trigger.as_str()));
    }
    s.push_str(&format!(
        "  runs:  {base}/_emulator/runs (summary: /_emulator/runs/summary)   stats: {base}/_emulator/stats\n\
         \x20 faults: {base}/_emulator/faults   flow behaviour: {base}/_emulator/flow-behaviour   (GET / lists all)\n\
         Press Ctrl-C to stop."
    ));
    s
}

async fn wait_for_stop_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await?;
    Ok(())
}
