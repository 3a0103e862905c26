//! flowgate, the Worker: signed SaaS webhooks in, Entra-authenticated calls
//! to Power Automate flows out.
//!
//! Routes:
//! - `POST /hooks/{route}` — verify the sender's signature over the raw body,
//!   obtain an Entra token (memory → KV → Entra), forward the body byte-exact
//!   to the route's flow ([`hooks`]).
//! - `GET /healthz` — liveness, and whether the configuration is valid.
//! - `GET /status`, `/admin/v1/…` (and the unversioned `/admin/…`) — the
//!   operator's API ([`admin`]).
//! - `GET /console` — the web console, from Workers Static Assets ([`console`]).
//! - the `queue` handler — queued deliveries ([`queue`]); the route ledger
//!   Durable Object ([`ledger`]), the flow pacer ([`pacer`]) and failure
//!   alerts with their rate-limit Durable Object ([`alerts`]).
//!
//! This crate is glue only: request/response, `Env`, KV, `fetch` and status
//! mapping. Every decision is made in `flowgate-core`.
#![forbid(unsafe_code)]

mod admin;
mod alerts;
mod bindings;
mod console;
mod dead_letters;
mod deliver;
mod entra_client;
mod fetched_keys;
mod handed_over;
mod hooks;
mod http;
mod kv_token_store;
mod ledger;
mod log;
mod metrics;
mod pacer;
mod queue;
mod reply;
mod web_crypto;
mod x509_certs;

pub use alerts::AlertGate;
pub use ledger::RouteLedger;
pub use pacer::FlowPacer;

use worker::{event, Context, Env, Method, Request, Response, Result};

use crate::reply::Reply;

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    let request_id = request_id();
    let path = req.path();
    if console::is_console_path(&path) {
        return console::serve(&req, &env, &path).await;
    }
    let reply = match path.as_str() {
        "/healthz" | "/healthz/" => healthz(&req, &env),
        p if admin::is_admin_path(p) => {
            let p = p.to_owned();
            admin::handle(req, &env, &p).await
        }
        _ => match path.strip_prefix("/hooks/") {
            Some(route) if !route.is_empty() && !route.contains('/') => {
                let route = route.to_owned();
                hooks::handle(req, &env, &ctx, &route, &request_id).await
            }
            _ => Reply::NotFound,
        },
    };
    reply.into_response(&request_id)
}

/// A random id for this request, in the log line and the
/// `x-flowgate-request-id` answer header, so an operator can find the log
/// line of any delivery a sender reports.
fn request_id() -> String {
    let mut bytes = [0u8; 8];
    // crypto.getRandomValues; if it ever failed, an all-zero id is still a valid label.
    let _ = getrandom::getrandom(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn healthz(req: &Request, env: &Env) -> Reply {
    if !matches!(req.method(), Method::Get | Method::Head) {
        return Reply::MethodNotAllowed { allow: "GET, HEAD" };
    }
    match bindings::config(env) {
        Ok(cfg) => Reply::Health { config_ok: true, routes: cfg.routes.len() },
        Err(_) => Reply::Health { config_ok: false, routes: 0 },
    }
}
