//! Failure alerts (`[vars.FLOWGATE.alerts]`): the alert gate Durable Object
//! (one per rate-limit key, [`flowgate_core::alerts::admit`] over its one
//! stored entry, so the limit holds across isolates) and the sending.
//!
//! The queue consumer collects a batch's alerts and raises them after the
//! batch's messages are settled: an alert destination that is slow or down
//! can never hold a delivery back. A failure is logged, naming the secret
//! binding, never the URL.

use std::time::Duration;

use flowgate_core::{
    alerts::{admit, Alert, AlertsConfig, GateDecision, GateEntry, GateRequest, SEND_TIMEOUT_SECS},
    config::Config,
};
use futures::future::join_all;
use worker::{durable_object, wasm_bindgen, DurableObject, Env, Method, Request, RequestInit, Response, Result, State};

use crate::{bindings, http, log};

/// The alert gates' Durable Object namespace.
pub(crate) const GATE_BINDING: &str = "ALERT_GATE";
/// The storage key of a gate's entry (each object holds one key's).
const ENTRY_KEY: &str = "entry";

#[durable_object]
pub struct AlertGate {
    state: State,
    #[allow(dead_code)] // the macro's constructor hands it over
    env: Env,
}

impl DurableObject for AlertGate {
    fn new(state: State, env: Env) -> Self {
        Self { state, env }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let ask: GateRequest = serde_json::from_str(&req.text().await?)?;
        // The storage calls hold the object's input gate: two isolates'
        // alerts of one key are decided one after the other.
        let entry: Option<GateEntry> = self.state.storage().get(ENTRY_KEY).await.ok().flatten();
        let (decision, entry) = admit(entry, ask.now, ask.window_secs);
        self.state.storage().put(ENTRY_KEY, entry).await?;
        Response::from_json(&decision)
    }
}

/// Raises `alerts` (if alerts are configured): each through its gate, then
/// to the destination. Never fails; every failure is logged.
pub(crate) async fn raise(env: &Env, config: &Config, alerts: Vec<Alert>) {
    let Some(cfg) = &config.alerts else { return };
    if alerts.is_empty() {
        return;
    }
    join_all(alerts.into_iter().map(|a| raise_one(env, cfg, a))).await;
}

async fn raise_one(env: &Env, cfg: &AlertsConfig, mut alert: Alert) {
    let key = alert.key();
    match ask_gate(env, &key, alert.at, cfg.window_secs).await {
        Ok(GateDecision::Suppress) => {
            log::note(
                "info",
                "alert_suppressed",
                &format!("{key}: another alert was sent within {} s", cfg.window_secs),
            );
            return;
        }
        Ok(GateDecision::Send { digest }) => alert.suppressed = digest,
        // Better one alert too many than a failure nobody hears of.
        Err(e) => log::warn("alert_gate_unavailable", &format!("{key}: {e}; sent without the rate limit")),
    }
    let Some(url) = bindings::secret(env, &cfg.url_binding) else {
        log::warn(
            "alert_failed",
            &format!("{key}: the secret {} is not set: wrangler secret put {}", cfg.url_binding, cfg.url_binding),
        );
        return;
    };
    let body = serde_json::to_vec(&cfg.format.body(&alert)).unwrap_or_default();
    let headers = [("content-type", "application/json".to_owned())];
    let timeout = Duration::from_secs(SEND_TIMEOUT_SECS);
    let dest = &cfg.url_binding;
    match http::post(url.expose(), &headers, &body, timeout, "content-type").await {
        Ok(a) if (200..300).contains(&a.status) => log::note("info", "alert_sent", &key),
        Ok(a) => log::warn("alert_failed", &format!("{key}: the destination ({dest}) answered HTTP {}", a.status)),
        Err(e) => {
            // A fetch error could quote the URL, which is a secret.
            let why = e.describe().replace(url.expose(), "[the URL]");
            log::warn("alert_failed", &format!("{key}: the destination ({dest}) could not be reached: {why}"));
        }
    }
}

async fn ask_gate(env: &Env, key: &str, now: u64, window_secs: u64) -> std::result::Result<GateDecision, String> {
    let ns = env.durable_object(GATE_BINDING).map_err(|_| {
        format!("no Durable Object binding {GATE_BINDING}: add the ALERT_GATE [[durable_objects.bindings]] and its [[migrations]] block of README.md, Deploying")
    })?;
    let stub = ns.get_by_name(key).map_err(|e| e.to_string())?;
    let ask = GateRequest { key: key.to_owned(), window_secs, now };
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(serde_json::to_string(&ask).map_err(|e| e.to_string())?.into()));
    let req = Request::new_with_init("https://alert-gate/ask", &init).map_err(|e| e.to_string())?;
    let mut resp = stub.fetch_with_request(req).await.map_err(|e| e.to_string())?;
    if resp.status_code() != 200 {
        return Err(format!("alert gate: HTTP {}", resp.status_code()));
    }
    resp.json().await.map_err(|e| e.to_string())
}
