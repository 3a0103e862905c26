//! The flow pacer: one Durable Object per flow holding its
//! [`flowgate_core::pacing::Pacer`] (rate window, concurrency leases,
//! breaker), asked by the queue consumer once per flow per batch. The rules
//! are in `flowgate-core`; this is the storage and the wire.
//!
//! The rate window and the leases live in the object's memory: an object
//! that is evicted (idle for a while) forgets them, which can only let a
//! window start afresh after a quiet spell. The breaker's pause is also
//! written to storage, so a pause outlives the object.

use std::cell::RefCell;

use flowgate_core::pacing::{PaceAnswer, PaceRequest, Pacer, PauseState, Report, ReportAnswer};
use serde::{de::DeserializeOwned, Serialize};
use worker::{
    durable_object, wasm_bindgen, DurableObject, Env, Method, Request, RequestInit, Response, Result, State, Stub,
};

use crate::log::now_millis;

/// The pacers' Durable Object namespace.
pub(crate) const PACER_BINDING: &str = "FLOW_PACER";
/// The storage key of the breaker's pause.
const PAUSE_KEY: &str = "pause";

#[durable_object]
pub struct FlowPacer {
    state: State,
    #[allow(dead_code)] // the macro's constructor hands it over
    env: Env,
    /// Loaded on the first request (the pause from storage).
    pacer: RefCell<Option<Pacer>>,
}

impl DurableObject for FlowPacer {
    fn new(state: State, env: Env) -> Self {
        Self { state, env, pacer: RefCell::new(None) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let op = req.path();
        let body = req.text().await?;
        if self.pacer.borrow().is_none() {
            let pause: Option<PauseState> = self.state.storage().get(PAUSE_KEY).await.ok().flatten();
            let pacer = pause.map_or_else(Pacer::default, |p| Pacer::default().with_pause(p));
            self.pacer.replace(Some(pacer));
        }
        let now = i64::try_from(now_millis()).unwrap_or(i64::MAX);
        let (answer, pause_before, pause_after) = {
            let mut guard = self.pacer.borrow_mut();
            let pacer = guard.get_or_insert_with(Pacer::default);
            let before = pacer.pause();
            let answer = match op.trim_start_matches('/') {
                PaceRequest::OP => serde_json::to_string(&pacer.ask(&serde_json::from_str(&body)?, now))?,
                Report::OP => {
                    let pause_started = pacer.report(&serde_json::from_str(&body)?, now);
                    serde_json::to_string(&ReportAnswer { pause_started })?
                }
                _ => return Response::error("no such pacer operation", 404),
            };
            (answer, before, pacer.pause())
        };
        if pause_after != pause_before {
            self.state.storage().put(PAUSE_KEY, pause_after).await?;
        }
        let mut resp = Response::ok(answer)?;
        resp.headers_mut().set("content-type", "application/json")?;
        Ok(resp)
    }
}

/// A flow's pacer.
pub(crate) struct FlowPacerClient {
    stub: Stub,
}

impl FlowPacerClient {
    /// The pacer of `flow`; `Err` names the missing binding.
    pub(crate) fn of(env: &Env, flow: &str) -> std::result::Result<Self, String> {
        let ns = env.durable_object(PACER_BINDING).map_err(|_| {
            format!("no Durable Object binding {PACER_BINDING}: add the FLOW_PACER [[durable_objects.bindings]] and its [[migrations]] block of README.md, Deploying")
        })?;
        let stub = ns.get_by_name(flow).map_err(|e| format!("pacer for flow {flow}: {e}"))?;
        Ok(Self { stub })
    }

    /// Which of a batch's deliveries to `flow` may be attempted now.
    pub(crate) async fn ask(&self, req: &PaceRequest) -> Result<PaceAnswer> {
        self.call(PaceRequest::OP, req).await
    }

    /// How the granted attempts went; the answer says whether they started a pause.
    pub(crate) async fn report(&self, report: &Report) -> Result<ReportAnswer> {
        self.call(Report::OP, report).await
    }

    async fn call<T: Serialize, R: DeserializeOwned>(&self, op: &str, req: &T) -> Result<R> {
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_body(Some(serde_json::to_string(req)?.into()));
        let req = Request::new_with_init(&format!("https://pacer/{op}"), &init)?;
        let mut resp = self.stub.fetch_with_request(req).await?;
        if resp.status_code() != 200 {
            return Err(worker::Error::RustError(format!("pacer {op}: HTTP {}", resp.status_code())));
        }
        resp.json().await
    }
}
