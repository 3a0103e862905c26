//! Shared state of a running emulator: configuration, parsed certificates,
//! signing key, accepted flow runs, counters, token revocation, client
//! assertion `jti`s seen, the token and flow fault queues and the flow
//! behaviour. Also the records it exposes ([`FlowRun`], [`Stats`],
//! [`Rejection`], [`RunsSummary`]).

use std::{
    collections::{BTreeMap, HashMap, HashSet, VecDeque},
    sync::{Arc, Mutex, MutexGuard},
};

use axum::http::HeaderMap;
use base64::{engine::general_purpose::STANDARD, Engine as _};
use rand::{rngs::StdRng, Rng as _, SeedableRng as _};
use serde::{Deserialize, Serialize};

use crate::{
    assertion::RegisteredCertificate,
    config::{compile_schema, AppConfig, EmulatorConfig, FlowConfig, FlowState, TenantConfig},
    faults::TokenFault,
    flow_faults::{FlowBehaviour, FlowFault},
    jwt::SigningKey,
    plaid::PlaidFault,
    types::{now_millis, now_unix, RequestOrigin, DELIVERY_HEADER, FLOWGATE_ID_HEADER},
};

/// Largest trigger body accepted. Power Automate's message limit is 100 MB
/// (entra-power-automate.md §4); the emulator allows a little more so that a
/// size limit under test is always the relay's, never the emulator's.
pub const MAX_TRIGGER_BODY_BYTES: usize = 110 * 1024 * 1024;

/// One accepted flow invocation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "FlowRunWire", try_from = "FlowRunWire")]
pub struct FlowRun {
    /// Workflow ID from the trigger URL.
    pub flow_id: String,
    /// Run ID returned in `x-ms-workflow-run-id`.
    pub run_id: String,
    /// Unix seconds when the request was accepted.
    pub received_at: u64,
    /// The same, Unix milliseconds (pacing tests look at the spacing of runs).
    pub received_at_ms: u64,
    /// Request headers, lower-case names; `authorization` is redacted to
    /// `Bearer <redacted>`; repeated headers are joined with `", "`.
    pub headers: BTreeMap<String, String>,
    /// The verified token's claims.
    pub token_claims: serde_json::Value,
    /// The token's `uti` (or `jti`) claim: tells tokens apart.
    pub token_id: String,
    /// The exact request body (serialised as `body_base64`).
    pub body: Vec<u8>,
    /// Lower-case hex SHA-256 of `body`.
    pub body_sha256: String,
    /// `body.len()`.
    pub body_len: u64,
}

/// JSON form of [`FlowRun`]: the body as base64 plus, when it is valid UTF-8,
/// as text.
#[derive(Serialize, Deserialize)]
struct FlowRunWire {
    flow_id: String,
    run_id: String,
    received_at: u64,
    #[serde(default)]
    received_at_ms: u64,
    headers: BTreeMap<String, String>,
    token_claims: serde_json::Value,
    token_id: String,
    body_base64: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body_text: Option<String>,
    body_sha256: String,
    body_len: u64,
}

impl From<FlowRun> for FlowRunWire {
    fn from(r: FlowRun) -> Self {
        Self {
            body_base64: STANDARD.encode(&r.body),
            body_text: String::from_utf8(r.body).ok(),
            flow_id: r.flow_id,
            run_id: r.run_id,
            received_at: r.received_at,
            received_at_ms: r.received_at_ms,
            headers: r.headers,
            token_claims: r.token_claims,
            token_id: r.token_id,
            body_sha256: r.body_sha256,
            body_len: r.body_len,
        }
    }
}

impl TryFrom<FlowRunWire> for FlowRun {
    type Error = base64::DecodeError;
    fn try_from(w: FlowRunWire) -> Result<Self, Self::Error> {
        Ok(Self {
            body: STANDARD.decode(&w.body_base64)?,
            flow_id: w.flow_id,
            run_id: w.run_id,
            received_at: w.received_at,
            received_at_ms: w.received_at_ms,
            headers: w.headers,
            token_claims: w.token_claims,
            token_id: w.token_id,
            body_sha256: w.body_sha256,
            body_len: w.body_len,
        })
    }
}

/// A trigger request that was not accepted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// Workflow ID from the URL (possibly unknown).
    pub flow_id: String,
    /// HTTP status returned.
    pub status: u16,
    /// `error.code` returned, e.g. `MisMatchingOAuthClaims`.
    pub code: String,
    /// Why, in the emulator's words (never sent to the caller, who only gets
    /// the generic message, as from the real service).
    #[serde(default)]
    pub detail: String,
}

/// Counters since start (or the last reset).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Every POST to a token endpoint (secret, assertion or neither).
    pub token_requests: u64,
    /// Token requests that carried a `client_assertion` (§3), valid or not.
    #[serde(default)]
    pub assertion_requests: u64,
    /// Injected token faults served (delays included).
    #[serde(default)]
    pub token_faults_served: u64,
    /// Tokens handed out.
    pub tokens_issued: u64,
    /// Token requests answered with an error.
    pub token_errors: u64,
    /// Token requests per client ID (as sent; `""` when none was sent).
    pub token_requests_by_client: BTreeMap<String, u64>,
    /// Every POST to a trigger URL.
    pub flow_requests: u64,
    /// Trigger requests answered 202.
    pub flow_accepted: u64,
    /// Every other trigger answer, in order (injected ones included).
    pub flow_rejected: Vec<Rejection>,
    /// Queued flow faults served (delays included).
    #[serde(default)]
    pub flow_faults_served: u64,
    /// Trigger requests refused by the flow behaviour (`down` or a random
    /// failure).
    #[serde(default)]
    pub flow_behaviour_refusals: u64,
    /// Every POST to Plaid's `/webhook_verification_key/get`.
    #[serde(default)]
    pub plaid_key_requests: u64,
    /// Queued Plaid key-endpoint faults served (`plaid.rs`).
    #[serde(default)]
    pub plaid_faults_served: u64,
    /// Every POST to eBay's `/identity/v1/oauth2/token` (`key_hosts.rs`).
    #[serde(default)]
    pub ebay_token_requests: u64,
    /// Every GET of eBay's `/commerce/notification/v1/public_key/{kid}`.
    #[serde(default)]
    pub ebay_key_requests: u64,
    /// Every GET of Circle's `/v2/notifications/publicKey/{id}`.
    #[serde(default)]
    pub circle_key_requests: u64,
    /// Queued eBay and Circle key-endpoint faults served.
    #[serde(default)]
    pub key_host_faults_served: u64,
    /// Every GET of an SNS certificate (`sns.rs`), faults included.
    #[serde(default)]
    pub sns_cert_requests: u64,
    /// Every SNS `ConfirmSubscription` GET (a `SubscribeURL` followed).
    #[serde(default)]
    pub sns_confirmations: u64,
    /// Every GET of a PayPal certificate (`sns.rs`), faults included.
    #[serde(default)]
    pub paypal_cert_requests: u64,
    /// Trigger requests answered 429 because the flow's invoke limit was
    /// reached (`flow.rs`, the emulator's choice of answer).
    #[serde(default)]
    pub flow_throttled: u64,
    /// Client assertions accepted although their `jti` had been used before
    /// (MSAL reuses an assertion for up to 9 minutes; see `assertion.rs`).
    #[serde(default)]
    pub assertion_jti_reuses: u64,
}

/// Accepted runs counted per `x-flowgate-id` (`GET /_emulator/runs/summary`),
/// to check "each webhook exactly once" without fetching every body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunsSummary {
    /// Accepted runs.
    pub runs: u64,
    /// Runs per `x-flowgate-id` value.
    pub by_flowgate_id: BTreeMap<String, u64>,
    /// The ids with more than one run, sorted.
    pub duplicates: Vec<String>,
    /// Runs without an `x-flowgate-id` header.
    #[serde(default)]
    pub without_flowgate_id: u64,
}

/// Mutable part of [`State`].
#[derive(Default)]
struct Inner {
    runs: Vec<FlowRun>,
    stats: Stats,
    /// `uti`s of tokens issued and not yet revoked.
    live_tokens: HashSet<String>,
    /// `uti`s of tokens issued before a revoke.
    revoked_tokens: HashSet<String>,
    /// (client ID, `jti`) of accepted client assertions, with their `exp`
    /// (entries are dropped once expired: such an assertion is refused
    /// anyway).
    assertion_jtis: HashMap<(String, String), u64>,
    /// Faults the next token requests will get, in order.
    token_faults: VecDeque<TokenFault>,
    /// Faults the next trigger requests will get, in order (each request
    /// takes the first one that applies to its flow).
    flow_faults: VecDeque<FlowFault>,
    /// The flows' standing behaviour.
    flow_behaviour: FlowBehaviour,
    /// Draws of `flow_behaviour.failure_rate`; reseeded by every set.
    behaviour_rng: Option<StdRng>,
    /// Faults the next Plaid key requests will get, in order.
    plaid_faults: VecDeque<PlaidFault>,
    /// Faults the next eBay key requests will get, in order.
    ebay_faults: VecDeque<PlaidFault>,
    /// Faults the next Circle key requests will get, in order.
    circle_faults: VecDeque<PlaidFault>,
    /// Statuses the next SNS certificate requests will get, in order.
    cert_faults: VecDeque<u16>,
    /// Flow states set at run time (`PUT /_emulator/flows/{id}`), over the
    /// configuration's.
    flow_states: HashMap<String, FlowState>,
    /// Request Body JSON Schemas set at run time (`None`: removed).
    flow_schemas: HashMap<String, Option<Arc<FlowSchema>>>,
    /// Per flow, the times (Unix ms) of the trigger requests counted against
    /// its invoke limit, oldest first.
    invocations: HashMap<String, VecDeque<u64>>,
    /// What the alert sink received (`alerts.rs`).
    alerts: Vec<crate::alerts::ReceivedAlert>,
}

/// A trigger's Request Body JSON Schema, compiled.
pub(crate) struct FlowSchema {
    /// The schema as given.
    pub(crate) schema: serde_json::Value,
    /// Its validator.
    pub(crate) validator: jsonschema::Validator,
}

/// Everything the HTTP handlers share. Build with [`State::new`] and hand to
/// [`crate::app`], or let [`crate::Emulator::start`] do both.
pub struct State {
    config: EmulatorConfig,
    /// Parsed certificates per app: (tenant, client ID, certificates).
    certificates: Vec<(String, String, Vec<RegisteredCertificate>)>,
    base_url: String,
    /// `http` or `https`: what requests arrive on (`RequestOrigin`).
    scheme: &'static str,
    key: SigningKey,
    max_body_bytes: usize,
    /// The configured flows' schemas, compiled once.
    schemas: HashMap<String, Arc<FlowSchema>>,
    inner: Mutex<Inner>,
}

impl State {
    /// Validates `config` and generates a fresh RSA signing key (CPU-heavy,
    /// up to a second or so). `base_url` is the emulator's own origin, used
    /// in `error_uri` and discovery documents.
    ///
    /// # Errors
    /// An invalid configuration, or key generation failing.
    pub fn new(config: EmulatorConfig, base_url: impl Into<String>) -> anyhow::Result<Self> {
        let key = SigningKey::generate()?;
        Self::with_key(config, base_url.into(), key)
    }

    pub(crate) fn with_key(config: EmulatorConfig, base_url: String, key: SigningKey) -> anyhow::Result<Self> {
        let config = config.normalized();
        config.validate()?;
        let mut certificates = Vec::new();
        for a in &config.apps {
            let certs = a
                .certificates
                .iter()
                .map(|pem| RegisteredCertificate::from_pem(pem))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| anyhow::anyhow!("app {:?}: {e}", a.client_id))?;
            certificates.push((a.tenant.clone(), a.client_id.clone(), certs));
        }
        let mut schemas = HashMap::new();
        for f in &config.flows {
            if let Some(text) = &f.request_schema {
                let schema = compile_schema(text).map_err(|e| anyhow::anyhow!("flow {:?}: {e}", f.id))?;
                schemas.insert(f.id.clone(), Arc::new(schema));
            }
        }
        let scheme = if base_url.starts_with("https://") { "https" } else { "http" };
        Ok(Self {
            config,
            certificates,
            base_url: base_url.trim_end_matches('/').to_owned(),
            scheme,
            key,
            max_body_bytes: MAX_TRIGGER_BODY_BYTES,
            schemas,
            inner: Mutex::new(Inner::default()),
        })
    }

    #[cfg(test)]
    pub(crate) fn set_max_body_bytes(&mut self, n: usize) {
        self.max_body_bytes = n;
    }

    /// The (normalised) configuration.
    pub fn config(&self) -> &EmulatorConfig {
        &self.config
    }

    /// The emulator's origin, e.g. `http://127.0.0.1:8790`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The origin `headers`' request was sent to (see [`RequestOrigin`]).
    pub(crate) fn origin(&self, headers: &HeaderMap) -> RequestOrigin {
        RequestOrigin::of(headers, self.scheme, &self.base_url)
    }

    pub(crate) fn key(&self) -> &SigningKey {
        &self.key
    }

    pub(crate) fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    // A handler that panicked while holding the lock must not take the whole
    // emulator down with it: keep using the data.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Accepted runs, in order.
    pub fn runs(&self) -> Vec<FlowRun> {
        self.lock().runs.clone()
    }

    /// What the alert sink received, oldest first.
    pub fn alerts(&self) -> Vec<crate::alerts::ReceivedAlert> {
        self.lock().alerts.clone()
    }

    pub(crate) fn record_alert(&self, alert: crate::alerts::ReceivedAlert) {
        self.lock().alerts.push(alert);
    }

    pub(crate) fn clear_alerts(&self) {
        self.lock().alerts.clear();
    }

    /// Current counters.
    pub fn stats(&self) -> Stats {
        self.lock().stats.clone()
    }

    /// Every token issued so far is from now on rejected by the flows as if
    /// expired. Returns how many tokens that affected.
    pub fn revoke_tokens_issued_before_now(&self) -> usize {
        let mut inner = self.lock();
        let live: Vec<String> = inner.live_tokens.drain().collect();
        let n = live.len();
        inner.revoked_tokens.extend(live);
        n
    }

    /// Clears runs, counters, queued faults (token and flow) and the flow
    /// behaviour. Revocations and the client assertion `jti`s seen stay in
    /// force.
    pub fn reset(&self) {
        let mut inner = self.lock();
        inner.runs.clear();
        inner.stats = Stats::default();
        inner.token_faults.clear();
        inner.flow_faults.clear();
        inner.flow_behaviour = FlowBehaviour::default();
        inner.behaviour_rng = None;
        inner.plaid_faults.clear();
        inner.ebay_faults.clear();
        inner.circle_faults.clear();
        inner.cert_faults.clear();
        inner.flow_states.clear();
        inner.flow_schemas.clear();
        inner.invocations.clear();
        inner.alerts.clear();
    }

    /// Accepted runs whose recorded headers match the filters (`None`: any),
    /// in order. Without `with_bodies` the bodies are left empty (their
    /// length and SHA-256 stay), so nothing large is copied.
    pub fn runs_matching(&self, delivery: Option<&str>, flowgate_id: Option<&str>, with_bodies: bool) -> Vec<FlowRun> {
        let matches = |r: &FlowRun, name: &str, want: Option<&str>| {
            want.is_none_or(|w| r.headers.get(name).is_some_and(|v| v == w))
        };
        self.lock()
            .runs
            .iter()
            .filter(|r| matches(r, DELIVERY_HEADER, delivery) && matches(r, FLOWGATE_ID_HEADER, flowgate_id))
            .map(|r| FlowRun {
                flow_id: r.flow_id.clone(),
                run_id: r.run_id.clone(),
                received_at: r.received_at,
                received_at_ms: r.received_at_ms,
                headers: r.headers.clone(),
                token_claims: r.token_claims.clone(),
                token_id: r.token_id.clone(),
                body: if with_bodies { r.body.clone() } else { Vec::new() },
                body_sha256: r.body_sha256.clone(),
                body_len: r.body_len,
            })
            .collect()
    }

    /// Runs counted per `x-flowgate-id` (see [`RunsSummary`]).
    pub fn runs_summary(&self) -> RunsSummary {
        let inner = self.lock();
        let mut by_flowgate_id: BTreeMap<String, u64> = BTreeMap::new();
        let mut without_flowgate_id = 0;
        for r in &inner.runs {
            match r.headers.get(FLOWGATE_ID_HEADER) {
                Some(id) => *by_flowgate_id.entry(id.clone()).or_default() += 1,
                None => without_flowgate_id += 1,
            }
        }
        let duplicates = by_flowgate_id.iter().filter(|(_, n)| **n > 1).map(|(id, _)| id.clone()).collect();
        RunsSummary { runs: inner.runs.len() as u64, by_flowgate_id, duplicates, without_flowgate_id }
    }

    /// Appends faults to the token endpoint's queue (see `faults.rs`).
    pub fn inject_token_faults(&self, faults: impl IntoIterator<Item = TokenFault>) {
        self.lock().token_faults.extend(faults);
    }

    /// The faults not served yet, in order.
    pub fn token_faults(&self) -> Vec<TokenFault> {
        self.lock().token_faults.iter().cloned().collect()
    }

    /// Drops every queued token fault.
    pub fn clear_token_faults(&self) {
        self.lock().token_faults.clear();
    }

    /// Appends to every queue at once (`POST /_emulator/faults`).
    pub(crate) fn inject_faults(&self, token: Vec<TokenFault>, flow: Vec<FlowFault>, plaid: Vec<PlaidFault>) {
        let mut inner = self.lock();
        inner.token_faults.extend(token);
        inner.flow_faults.extend(flow);
        inner.plaid_faults.extend(plaid);
    }

    /// Appends faults to eBay's (`"ebay"`) or Circle's (`"circle"`) key
    /// endpoint queue (`key_hosts.rs`).
    pub fn inject_key_host_faults(&self, host: &str, faults: impl IntoIterator<Item = PlaidFault>) {
        let mut inner = self.lock();
        match host {
            "ebay" => inner.ebay_faults.extend(faults),
            _ => inner.circle_faults.extend(faults),
        }
    }

    /// The eBay or Circle faults not served yet, in order.
    pub fn key_host_faults(&self, host: &str) -> Vec<PlaidFault> {
        let inner = self.lock();
        let q = if host == "ebay" { &inner.ebay_faults } else { &inner.circle_faults };
        q.iter().cloned().collect()
    }

    /// Takes the next fault for an eBay or Circle key request, counting it.
    pub(crate) fn next_key_host_fault(&self, host: &str) -> Option<PlaidFault> {
        let mut inner = self.lock();
        let fault = if host == "ebay" { inner.ebay_faults.pop_front() } else { inner.circle_faults.pop_front() }?;
        inner.stats.key_host_faults_served += 1;
        Some(fault)
    }

    pub(crate) fn record_key_host_request(&self, what: &str) {
        let mut inner = self.lock();
        match what {
            "ebay-token" => inner.stats.ebay_token_requests += 1,
            "ebay-key" => inner.stats.ebay_key_requests += 1,
            _ => inner.stats.circle_key_requests += 1,
        }
    }

    /// Drops every queued fault: token, flow and Plaid.
    pub fn clear_faults(&self) {
        let mut inner = self.lock();
        inner.token_faults.clear();
        inner.flow_faults.clear();
        inner.plaid_faults.clear();
        inner.ebay_faults.clear();
        inner.circle_faults.clear();
        inner.cert_faults.clear();
    }

    /// Appends faults to the Plaid key endpoint's queue (`plaid.rs`).
    pub fn inject_plaid_faults(&self, faults: impl IntoIterator<Item = PlaidFault>) {
        self.lock().plaid_faults.extend(faults);
    }

    /// Appends statuses to the SNS certificate endpoint's queue (`sns.rs`).
    pub fn inject_cert_faults(&self, statuses: impl IntoIterator<Item = u16>) {
        self.lock().cert_faults.extend(statuses);
    }

    pub(crate) fn next_cert_fault(&self) -> Option<u16> {
        self.lock().cert_faults.pop_front()
    }

    pub(crate) fn record_sns_cert_request(&self) {
        self.lock().stats.sns_cert_requests += 1;
    }

    pub(crate) fn record_paypal_cert_request(&self) {
        self.lock().stats.paypal_cert_requests += 1;
    }

    pub(crate) fn record_sns_confirmation(&self) {
        self.lock().stats.sns_confirmations += 1;
    }

    /// The Plaid faults not served yet, in order.
    pub fn plaid_faults(&self) -> Vec<PlaidFault> {
        self.lock().plaid_faults.iter().cloned().collect()
    }

    /// Takes the next fault for a Plaid key request, counting it as served.
    pub(crate) fn next_plaid_fault(&self) -> Option<PlaidFault> {
        let mut inner = self.lock();
        let fault = inner.plaid_faults.pop_front()?;
        inner.stats.plaid_faults_served += 1;
        Some(fault)
    }

    /// The state a configured flow is in now (run-time setting, else the
    /// configuration's).
    pub fn flow_state(&self, id: &str) -> Option<FlowState> {
        let configured = self.flow(id)?.state;
        Some(self.lock().flow_states.get(id).copied().unwrap_or(configured))
    }

    /// Turns a configured flow on or off, suspends or deletes it, from now on.
    ///
    /// # Errors
    /// No flow has that id.
    pub fn set_flow_state(&self, id: &str, state: FlowState) -> Result<(), String> {
        self.flow(id).ok_or_else(|| format!("no flow {id:?} is configured"))?;
        self.lock().flow_states.insert(id.to_owned(), state);
        Ok(())
    }

    /// The flow's Request Body JSON Schema in force, if any.
    pub(crate) fn flow_schema(&self, id: &str) -> Option<Arc<FlowSchema>> {
        match self.lock().flow_schemas.get(id) {
            Some(set) => set.clone(),
            None => self.schemas.get(id).cloned(),
        }
    }

    /// The schema as JSON (`GET /_emulator/flows`).
    pub fn flow_schema_json(&self, id: &str) -> Option<serde_json::Value> {
        self.flow_schema(id).map(|s| s.schema.clone())
    }

    /// Sets (or with `None` removes) a configured flow's Request Body JSON
    /// Schema from now on: the trigger then refuses bodies that do not
    /// match it (`TriggerInputSchemaMismatch`, `flow.rs`).
    ///
    /// # Errors
    /// No flow has that id, or the schema does not compile.
    pub fn set_flow_schema(&self, id: &str, schema: Option<&serde_json::Value>) -> Result<(), String> {
        self.flow(id).ok_or_else(|| format!("no flow {id:?} is configured"))?;
        let compiled = match schema {
            Some(v) => Some(Arc::new(compile_schema(&v.to_string())?)),
            None => None,
        };
        self.lock().flow_schemas.insert(id.to_owned(), compiled);
        Ok(())
    }

    /// Counts one trigger request against the flow's invoke limit: `None`
    /// when it is within the limit, else the seconds until the oldest
    /// counted request leaves the window (at least 1), for `Retry-After`.
    /// Throttled requests are not counted (`flow.rs`).
    pub(crate) fn take_invocation(&self, flow: &FlowConfig) -> Option<u64> {
        let (limit, window_ms) = (flow.invoke_limit(), flow.invoke_window_secs().saturating_mul(1000));
        let now = now_millis();
        let mut inner = self.lock();
        let calls = inner.invocations.entry(flow.id.clone()).or_default();
        while calls.front().is_some_and(|t| now.saturating_sub(*t) >= window_ms) {
            calls.pop_front();
        }
        if (calls.len() as u64) < limit {
            calls.push_back(now);
            return None;
        }
        let oldest = calls.front().copied().unwrap_or(now);
        let wait_ms = (oldest + window_ms).saturating_sub(now);
        inner.stats.flow_throttled += 1;
        Some(wait_ms.div_ceil(1000).max(1))
    }

    /// Appends faults to the flow triggers' queue (see `flow_faults.rs`).
    pub fn inject_flow_faults(&self, faults: impl IntoIterator<Item = FlowFault>) {
        self.lock().flow_faults.extend(faults);
    }

    /// The flow faults not served yet, in order.
    pub fn flow_faults(&self) -> Vec<FlowFault> {
        self.lock().flow_faults.iter().cloned().collect()
    }

    /// Takes the first queued fault that applies to `flow_id`, counting it
    /// as served; faults for other flows keep their places.
    pub(crate) fn next_flow_fault(&self, flow_id: &str) -> Option<FlowFault> {
        let mut inner = self.lock();
        let i = inner.flow_faults.iter().position(|f| f.applies_to(flow_id))?;
        let fault = inner.flow_faults.remove(i)?;
        inner.stats.flow_faults_served += 1;
        Some(fault)
    }

    /// Replaces the flow behaviour and reseeds its draws (with `seed`, or
    /// from the OS when there is none).
    ///
    /// # Errors
    /// The behaviour fails [`FlowBehaviour::validate`]; nothing changes then.
    pub fn set_flow_behaviour(&self, behaviour: FlowBehaviour) -> Result<(), String> {
        behaviour.validate()?;
        let rng = match behaviour.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_entropy(),
        };
        let mut inner = self.lock();
        inner.flow_behaviour = behaviour;
        inner.behaviour_rng = Some(rng);
        Ok(())
    }

    /// The flow behaviour in force.
    pub fn flow_behaviour(&self) -> FlowBehaviour {
        self.lock().flow_behaviour.clone()
    }

    /// What the behaviour makes of one trigger request: `None` to go on, or
    /// `(status, retry_after, why)` to refuse it (counted here).
    pub(crate) fn behaviour_refusal(&self) -> Option<(u16, Option<u64>, &'static str)> {
        let mut inner = self.lock();
        let b = &inner.flow_behaviour;
        let (down, rate, status, retry_after) = (b.down, b.failure_rate, b.failure_status, b.retry_after);
        let refusal = if down {
            Some((503, retry_after, "flow behaviour: down"))
        } else if rate > 0.0 {
            // Draw only when a rate is set, so a seeded sequence is not
            // shifted by requests made while the rate was 0.
            let rng = inner.behaviour_rng.get_or_insert_with(StdRng::from_entropy);
            let fails = rng.gen::<f64>() < rate;
            let retry_after = retry_after.filter(|_| status == 429 || status == 503);
            fails.then_some((status, retry_after, "flow behaviour: failure_rate"))
        } else {
            None
        };
        if refusal.is_some() {
            inner.stats.flow_behaviour_refusals += 1;
        }
        refusal
    }

    /// Takes the next fault for a token request, counting it as served.
    pub(crate) fn next_token_fault(&self) -> Option<TokenFault> {
        let mut inner = self.lock();
        let fault = inner.token_faults.pop_front()?;
        inner.stats.token_faults_served += 1;
        Some(fault)
    }

    /// The parsed certificates of an app (empty for an unknown one).
    pub(crate) fn certificates(&self, tenant_id: &str, client_id: &str) -> &[RegisteredCertificate] {
        self.certificates
            .iter()
            .find(|(t, c, _)| t == tenant_id && c.eq_ignore_ascii_case(client_id))
            .map_or(&[], |(_, _, certs)| certs.as_slice())
    }

    /// Records an accepted client assertion's `jti` for `client_id`; false
    /// when it was seen before (a replay) and the configuration refuses
    /// replays (`reject_reused_assertions`); a reuse that is let through is
    /// counted in [`Stats::assertion_jti_reuses`].
    pub(crate) fn claim_assertion_jti(&self, client_id: &str, jti: &str, exp: u64) -> bool {
        let now = now_unix();
        let mut inner = self.lock();
        inner.assertion_jtis.retain(|_, e| *e > now);
        let key = (client_id.to_ascii_lowercase(), jti.to_owned());
        if inner.assertion_jtis.contains_key(&key) {
            if self.config.reject_reused_assertions {
                return false;
            }
            inner.stats.assertion_jti_reuses += 1;
            return true;
        }
        inner.assertion_jtis.insert(key, exp);
        true
    }

    pub(crate) fn tenant(&self, name: &str) -> Option<&TenantConfig> {
        self.config
            .tenants
            .iter()
            .find(|t| t.id.eq_ignore_ascii_case(name) || t.domains.iter().any(|d| d.eq_ignore_ascii_case(name)))
    }

    pub(crate) fn app(&self, tenant_id: &str, client_id: &str) -> Option<&AppConfig> {
        self.config.apps.iter().find(|a| a.tenant == tenant_id && a.client_id.eq_ignore_ascii_case(client_id))
    }

    pub(crate) fn flow(&self, id: &str) -> Option<&FlowConfig> {
        self.config.flows.iter().find(|f| f.id == id)
    }

    pub(crate) fn record_token_request(&self, client_id: &str, with_assertion: bool) {
        let mut inner = self.lock();
        inner.stats.token_requests += 1;
        inner.stats.assertion_requests += u64::from(with_assertion);
        *inner.stats.token_requests_by_client.entry(client_id.to_owned()).or_default() += 1;
    }

    pub(crate) fn record_token_issued(&self, uti: String) {
        let mut inner = self.lock();
        inner.stats.tokens_issued += 1;
        inner.live_tokens.insert(uti);
    }

    pub(crate) fn record_token_error(&self) {
        self.lock().stats.token_errors += 1;
    }

    pub(crate) fn is_revoked(&self, token_id: &str) -> bool {
        self.lock().revoked_tokens.contains(token_id)
    }

    pub(crate) fn record_flow_request(&self) {
        self.lock().stats.flow_requests += 1;
    }

    pub(crate) fn record_rejection(&self, rejection: Rejection) {
        self.lock().stats.flow_rejected.push(rejection);
    }

    pub(crate) fn record_plaid_key_request(&self) {
        self.lock().stats.plaid_key_requests += 1;
    }

    pub(crate) fn record_run(&self, run: FlowRun) {
        let mut inner = self.lock();
        inner.stats.flow_accepted += 1;
        inner.runs.push(run);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::sha256_hex;

    #[test]
    fn flow_run_json_has_base64_and_text_and_round_trips() {
        let mut run = FlowRun {
            flow_id: "f".into(),
            run_id: "r".into(),
            received_at: 1,
            received_at_ms: 1_000,
            headers: BTreeMap::new(),
            token_claims: serde_json::json!({"aud": "x"}),
            token_id: "u".into(),
            body: b"hi".to_vec(),
            body_sha256: sha256_hex(b"hi"),
            body_len: 2,
        };
        let v = serde_json::to_value(&run).unwrap();
        assert_eq!(v["body_base64"], "aGk=");
        assert_eq!(v["body_text"], "hi");
        assert!(v.get("body").is_none());
        assert_eq!(serde_json::from_value::<FlowRun>(v).unwrap(), run);

        run.body = vec![0xff, 0xfe];
        let v = serde_json::to_value(&run).unwrap();
        assert_eq!(v["body_base64"], "//4=");
        assert!(v.get("body_text").is_none());
        assert_eq!(serde_json::from_value::<FlowRun>(v).unwrap(), run);
    }
}
