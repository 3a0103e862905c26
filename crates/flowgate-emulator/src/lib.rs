//! Emulator of Microsoft Entra ID and Power Automate HTTP triggers (plus
//! Plaid's verification key endpoint and the senders' signatures): the
//! ground truth of flowgate's end-to-end tests, and a drop-in for real
//! Microsoft clients (MSAL for Python, msal-node, azure-identity) over HTTPS.
//!
//! One HTTP server plays the services so the relay, and any other client
//! of the same app registration, can be tested end to end without a
//! Microsoft tenant. It behaves as /work/shared/reference/entra-power-automate.md
//! says the real services do, including the traps: `…/.default` versus
//! `…//.default` (§1.3), `oid` being the service principal's object ID
//! (§1.5), and the trigger's error bodies (§4). Where that reference leaves a
//! behaviour unconfirmed, the module that emulates it says so.
//!
//! The token endpoint accepts client secrets and certificate credentials
//! (client assertions signed RS256 + `x5t` or PS256 + `x5t#S256` with the key
//! of a certificate registered on the app, §3), and knows the flow service of
//! all five clouds (§1.2, flowgate-core's cloud table); each flow demands its
//! own cloud's audience. The discovery documents are Entra's, with every URL
//! taken from the request (`discovery.rs`). Faults (429 with `Retry-After`,
//! 500, 503, delays, chosen AADSTS errors, §2) can be queued for the token
//! endpoint through `POST /_emulator/faults` or [`Emulator::inject_token_faults`].
//!
//! Flows can be off, suspended or deleted, have a Request Body JSON Schema
//! and an invoke limit (`flow.rs`, [`FlowConfig`], `PUT /_emulator/flows/{id}`);
//! their triggers can fail too: one-shot faults (a status or a trigger error
//! code with the §4 body, `Retry-After` on 429/503, or a delay; optionally for
//! one flow only) through the same endpoint's `"flow"` key or
//! [`Emulator::inject_flow_faults`], and a standing behaviour (down, or
//! failing at a seeded rate) through `PUT /_emulator/flow-behaviour` or
//! [`Emulator::set_flow_behaviour`]. Runs keep every request header, so
//! `GET /_emulator/runs?delivery=` and `GET /_emulator/runs/summary` (runs
//! per `x-flowgate-id`, duplicates) can check "each webhook exactly once".
//!
//! Endpoints (the `/` index lists them with examples):
//! - `POST /{tenant}/oauth2/v2.0/token`, `POST /{tenant}/oauth2/token` (v1),
//!   `GET /{tenant}/discovery/v2.0/keys`, `GET /{tenant}/discovery/keys`,
//!   `GET /{tenant}/v2.0/.well-known/openid-configuration`,
//!   `GET /{tenant}/.well-known/openid-configuration`,
//!   `GET /common/discovery/instance`, `GET /error`
//! - `POST /powerautomate/automations/direct/workflows/{id}/triggers/manual/paths/invoke`
//! - `POST /webhook_verification_key/get` (Plaid)
//! - `POST /identity/v1/oauth2/token`, `GET /commerce/notification/v1/public_key/{kid}` (eBay),
//!   `GET /v2/notifications/publicKey/{id}` (Circle): `key_hosts.rs`
//! - `GET /_emulator/runs[?delivery=&flowgate_id=&bodies=false]`,
//!   `GET /_emulator/runs/summary`, `GET /_emulator/stats`,
//!   `POST /_emulator/revoke`, `POST /_emulator/reset`,
//!   `GET|POST|DELETE /_emulator/faults`,
//!   `GET|PUT|DELETE /_emulator/flow-behaviour`,
//!   `GET /_emulator/flows`, `PUT /_emulator/flows/{id}`
//! - `POST /alerts/sink` (a generic alert destination), `GET|DELETE
//!   /_emulator/alerts` (what it received): `alerts.rs`
//!
//! Modules, leaves first (no cycles: `types` imports no other module):
//! - `types.rs`: [`EntraError`](types::EntraError), `RequestOrigin`, clock and
//!   formatting helpers, the provenance header names.
//! - `jwt.rs`: RS256 signing key, token minting and verification.
//! - `assertion.rs`: certificate parsing and client-assertion checks, with
//!   the AADSTS code chosen for each failure.
//! - `faults.rs`: [`TokenFault`] and the answers of injected token faults.
//! - `flow_faults.rs`: [`FlowFault`], [`FlowBehaviour`], the trigger's error codes.
//! - `plaid.rs`: Plaid's `/webhook_verification_key/get` and [`PlaidFault`].
//! - `sns.rs`: AWS SNS's signing certificate and `ConfirmSubscription`; PayPal's certificate.
//! - `config.rs`: [`EmulatorConfig`], the TOML form and the demo directory.
//! - `state.rs`: [`State`] shared by the handlers; [`FlowRun`], [`Stats`],
//!   [`Rejection`].
//! - `entra.rs`: the token endpoints, JWKS, the error page.
//! - `discovery.rs`: the OpenID discovery documents and instance discovery.
//! - `flow.rs`: the trigger, its OAuth policy, state, schema and invoke limit.
//! - `inspect.rs`: `/_emulator/*` and the `/` index.
//! - `tls.rs`: [`TlsIdentity`] (a generated CA and leaf, or PEM files) and
//!   the TLS listener.
//! - `command.rs`: [`EmulateArgs`] and [`run`], the `flowgate emulate` command.
//! - `senders.rs`: signs webhooks as each built-in sender does (`flowgate send`).
//! - `tests.rs`: HTTP-level tests (`oneshot` and real servers, HTTP and HTTPS).
#![forbid(unsafe_code)]

mod alerts;
mod assertion;
mod command;
mod config;
mod discovery;
mod entra;
mod faults;
mod flow;
mod flow_faults;
mod inspect;
mod jwt;
mod key_hosts;
mod plaid;
mod samples;
pub mod senders;
mod sns;
mod state;
#[cfg(test)]
mod tests;
pub mod tls;
mod types;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context as _;
use axum::{
    extract::DefaultBodyLimit,
    http::StatusCode,
    routing::{get, post, put},
    Router,
};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

pub use self::{
    alerts::{ReceivedAlert, SINK_PATH as ALERT_SINK_PATH},
    assertion::JWT_BEARER as CLIENT_ASSERTION_TYPE,
    command::{run, EmulateArgs},
    config::{
        AppConfig, Cloud, EmulatorConfig, FlowConfig, FlowState, PerformanceProfile, PlaidConfig, TenantConfig,
        WhoCanTrigger, DEMO_CERT_PEM, DEMO_CIRCLE_API_KEY, DEMO_CIRCLE_PRIVATE_KEY, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET,
        DEMO_EBAY_CLIENT_ID, DEMO_EBAY_CLIENT_SECRET, DEMO_EBAY_PRIVATE_KEY, DEMO_FLOW_ANY_USER, DEMO_FLOW_CHINA,
        DEMO_FLOW_DOD, DEMO_FLOW_GCC, DEMO_FLOW_GCC_HIGH, DEMO_FLOW_SPECIFIC_DEMO_APP, DEMO_FLOW_SPECIFIC_OTHER,
        DEMO_OTHER_OBJECT_ID, DEMO_PLAID_CLIENT_ID, DEMO_PLAID_PRIVATE_KEY, DEMO_PLAID_SECRET, DEMO_SP_OBJECT_ID,
        DEMO_TENANT_DOMAIN, DEMO_TENANT_ID, INVOKE_WINDOW_SECS, PUBLIC_CLOUD_FLOW_AUDIENCE,
    },
    faults::{TokenFault, KNOWN_AADSTS, MAX_DELAY_MS},
    flow_faults::{FlowBehaviour, FlowFault, FlowFaultAction, FLOW_FAULT_STATUSES, TRIGGER_ERRORS},
    key_hosts::DEMO_EBAY_APP_TOKEN,
    plaid::PlaidFault,
    sns::DEMO_SNS_PRIVATE_KEY,
    state::{FlowRun, Rejection, RunsSummary, State, Stats, MAX_TRIGGER_BODY_BYTES},
    tls::TlsIdentity,
    types::{ATTEMPT_HEADER, DELIVERY_HEADER, FLOWGATE_ID_HEADER},
};

/// UTC `YYYY-MM-DD HH:MM:SS` of Unix seconds (`flowgate dlq` prints times so).
pub fn format_utc(secs: u64) -> String {
    types::format_utc(secs)
}

/// The router with every endpoint; state is shared through `Arc`.
pub fn app(state: Arc<State>) -> Router {
    // The default 2 MB extractor limit would cut trigger bodies short; the
    // trigger enforces its own limit (§4: 100 MB, plus headroom).
    let body_limit = state.max_body_bytes().saturating_add(1);
    Router::new()
        .route("/", get(sns::root))
        .route("/sns/{file}", get(sns::certificate))
        .route("/v1/notifications/certs/{id}", get(sns::paypal_certificate))
        .route("/{tenant}/oauth2/v2.0/token", post(entra::token))
        .route("/{tenant}/oauth2/token", post(entra::token_v1))
        .route("/{tenant}/discovery/v2.0/keys", get(entra::keys))
        .route("/{tenant}/discovery/keys", get(entra::keys))
        .route("/{tenant}/discovery/instance", get(discovery::instance_discovery))
        .route("/{tenant}/v2.0/.well-known/openid-configuration", get(discovery::openid_configuration))
        .route("/{tenant}/.well-known/openid-configuration", get(discovery::openid_configuration_v1))
        .route("/oidc/userinfo", get(discovery::userinfo))
        .route("/{tenant}/openid/userinfo", get(discovery::userinfo))
        .route("/error", get(entra::error_page))
        .route(
            "/powerautomate/automations/direct/workflows/{workflow_id}/triggers/manual/paths/invoke",
            post(flow::trigger),
        )
        .route("/webhook_verification_key/get", post(plaid::key_get))
        .route("/identity/v1/oauth2/token", post(key_hosts::ebay_token))
        .route("/commerce/notification/v1/public_key/{kid}", get(key_hosts::ebay_key))
        .route("/v2/notifications/publicKey/{id}", get(key_hosts::circle_key))
        .route(alerts::SINK_PATH, post(alerts::sink))
        .route("/_emulator/alerts", get(alerts::list).delete(alerts::clear))
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
        .route("/_emulator/flows", get(inspect::flows))
        .route("/_emulator/flows/{flow_id}", put(inspect::update_flow))
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
    /// signing key and serves plain HTTP in a tokio task.
    ///
    /// # Errors
    /// An invalid configuration, a bind failure, or key generation failing.
    pub async fn start(config: EmulatorConfig, addr: SocketAddr) -> anyhow::Result<Emulator> {
        Self::start_with(config, addr, None).await
    }

    /// [`Emulator::start`] serving HTTPS with `tls` (see `tls.rs`): what
    /// Microsoft's own clients need.
    ///
    /// # Errors
    /// As [`Emulator::start`], and a certificate rustls cannot use.
    pub async fn start_tls(config: EmulatorConfig, addr: SocketAddr, tls: &TlsIdentity) -> anyhow::Result<Emulator> {
        Self::start_with(config, addr, Some(tls)).await
    }

    async fn start_with(
        config: EmulatorConfig,
        addr: SocketAddr,
        tls: Option<&TlsIdentity>,
    ) -> anyhow::Result<Emulator> {
        config.validate()?;
        let server_config = tls.map(TlsIdentity::server_config).transpose()?;
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
        let scheme = if server_config.is_some() { "https" } else { "http" };
        let base_url = format!("{scheme}://{addr}");
        let url = base_url.clone();
        // RSA key generation is CPU-bound: keep it off the async workers.
        let state = tokio::task::spawn_blocking(move || State::new(config, url))
            .await
            .context("key generation task failed")??;
        let state = Arc::new(state);
        let (stop, stopped) = oneshot::channel::<()>();
        // Either an explicit stop or the `Emulator` being dropped.
        let stopped = async {
            let _ = stopped.await;
        };
        let router = app(Arc::clone(&state));
        let task = match server_config {
            None => {
                let server = axum::serve(listener, router).with_graceful_shutdown(stopped);
                tokio::spawn(async move { server.await })
            }
            Some(c) => {
                let server = axum::serve(tls::TlsListener::new(listener, c)?, router).with_graceful_shutdown(stopped);
                tokio::spawn(async move { server.await })
            }
        };
        Ok(Emulator { addr, base_url, state, stop: Some(stop), task: Some(task) })
    }

    /// The bound address (the real port when started on port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (`https://` with TLS): the Entra "authority host".
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

    /// The alert sink's URL (`POST /alerts/sink`): a destination for
    /// flowgate's `[vars.FLOWGATE.alerts]`.
    pub fn alert_sink_url(&self) -> String {
        format!("{}{}", self.base_url, alerts::SINK_PATH)
    }

    /// What the alert sink received, oldest first.
    pub fn alerts(&self) -> Vec<ReceivedAlert> {
        self.state.alerts()
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

    /// Appends faults to Plaid's key endpoint's queue; each key request
    /// takes the next one before it is processed (`plaid.rs`).
    pub fn inject_plaid_faults(&self, faults: Vec<PlaidFault>) {
        self.state.inject_plaid_faults(faults);
    }

    /// Appends HTTP statuses to the SNS certificate endpoint's queue; each
    /// certificate request takes the next one before it is processed (`sns.rs`).
    pub fn inject_cert_faults(&self, statuses: Vec<u16>) {
        self.state.inject_cert_faults(statuses);
    }

    /// Turns a configured flow on or off, suspends or deletes it, from now on.
    ///
    /// # Errors
    /// No flow has that id.
    pub fn set_flow_state(&self, flow_id: &str, state: FlowState) -> Result<(), String> {
        self.state.set_flow_state(flow_id, state)
    }

    /// Sets (or removes) a configured flow's Request Body JSON Schema, e.g.
    /// what `flowgate schema <route>` prints.
    ///
    /// # Errors
    /// No flow has that id, or the schema does not compile.
    pub fn set_flow_schema(&self, flow_id: &str, schema: Option<&serde_json::Value>) -> Result<(), String> {
        self.state.set_flow_schema(flow_id, schema)
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
