//! Shared state of a running emulator: configuration, parsed certificates,
//! signing key, accepted flow runs, counters, token revocation, client
//! assertion `jti`s seen, the token and flow fault queues and the flow
//! behaviour. Also the records it exposes ([`FlowRun`], [`Stats`],
//! [`Rejection`], [`RunsSummary`]).

use std::{
    collections::{BTreeMap, HashMap, HashSet, VecDeque},
    sync::{Mutex, MutexGuard},
    time::{SystemTime, UNIX_EPOCH},
};

use base64::{engine::general_purpose::STANDARD, Engine as _};
use rand::{rngs::StdRng, Rng as _, SeedableRng as _};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::{
    assertion::RegisteredCertificate,
    config::{AppConfig, EmulatorConfig, FlowConfig, TenantConfig},
    faults::TokenFault,
    flow_faults::{FlowBehaviour, FlowFault},
    jwt::SigningKey,
};

/// Header with the sender's delivery id, as the Worker forwards it
/// (`flowgate_core::forward::HEADER_DELIVERY`); `GET /_emulator/runs?delivery=`
/// filters on it.
pub const DELIVERY_HEADER: &str = "x-flowgate-delivery";
/// Header with flowgate's own id of an accepted webhook; the same on every
/// attempt, so [`RunsSummary`] counts runs per id to find duplicates.
pub const FLOWGATE_ID_HEADER: &str = "x-flowgate-id";
/// Header with the delivery attempt number (1 for the first).
pub const ATTEMPT_HEADER: &str = "x-flowgate-attempt";

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
}

/// Everything the HTTP handlers share. Build with [`State::new`] and hand to
/// [`super::app`], or let [`super::Emulator::start`] do both.
pub struct State {
    config: EmulatorConfig,
    /// Parsed certificates per app: (tenant, client ID, certificates).
    certificates: Vec<(String, String, Vec<RegisteredCertificate>)>,
    base_url: String,
    key: SigningKey,
    max_body_bytes: usize,
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
        Ok(Self {
            config,
            certificates,
            base_url: base_url.trim_end_matches('/').to_owned(),
            key,
            max_body_bytes: MAX_TRIGGER_BODY_BYTES,
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

    /// Appends to both queues at once (`POST /_emulator/faults`).
    pub(crate) fn inject_faults(&self, token: Vec<TokenFault>, flow: Vec<FlowFault>) {
        let mut inner = self.lock();
        inner.token_faults.extend(token);
        inner.flow_faults.extend(flow);
    }

    /// Drops every queued fault, token and flow.
    pub fn clear_faults(&self) {
        let mut inner = self.lock();
        inner.token_faults.clear();
        inner.flow_faults.clear();
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
    /// when it was seen before (a replay).
    pub(crate) fn claim_assertion_jti(&self, client_id: &str, jti: &str, exp: u64) -> bool {
        let now = now_unix();
        let mut inner = self.lock();
        inner.assertion_jtis.retain(|_, e| *e > now);
        let key = (client_id.to_ascii_lowercase(), jti.to_owned());
        if inner.assertion_jtis.contains_key(&key) {
            return false;
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

/// Current Unix time in whole seconds (0 if the clock is before 1970).
pub(crate) fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Lower-case hex SHA-256.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) for Unix seconds; Entra's error timestamps
/// append a `Z` to this.
pub(crate) fn format_utc(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Proleptic Gregorian date of a day count since 1970-01-01, using 400-year
/// eras of 146 097 days (each era starts on a March 1st so leap days fall at
/// the end of the era-year).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z / 146_097;
    let doe = z % 146_097; // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // 0..=365, from March 1st
    let mp = (5 * doy + 2) / 153; // month index, March = 0
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formatting_matches_httpdate() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00");
        assert_eq!(format_utc(1_700_000_000), "2023-11-14 22:13:20");
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00:00");
        const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
        // Cross-check against an independent formatter over ~250 years.
        let mut s: u64 = 12_345;
        while s < 8_000_000_000 {
            let http = httpdate::fmt_http_date(UNIX_EPOCH + std::time::Duration::from_secs(s));
            // "Tue, 14 Nov 2023 22:13:20 GMT"
            let f: Vec<&str> = http.split([' ', ',']).filter(|p| !p.is_empty()).collect();
            let month = MONTHS.iter().position(|m| *m == f[2]).unwrap() + 1;
            let expected = format!("{}-{month:02}-{} {}", f[3], f[1], f[4]);
            assert_eq!(format_utc(s), expected, "{s}");
            s += 3_456_789;
        }
    }

    #[test]
    fn flow_run_json_has_base64_and_text_and_round_trips() {
        let mut run = FlowRun {
            flow_id: "f".into(),
            run_id: "r".into(),
            received_at: 1,
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
