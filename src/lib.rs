//! flowgate, the Worker: signed SaaS webhooks in, Entra-authenticated calls
//! to Power Automate flows out.
//!
//! Routes:
//! - `POST /hooks/{route}` — verify the sender's signature over the raw body,
//!   obtain an Entra token (memory → KV → Entra), forward the body byte-exact
//!   to the route's flow ([`hooks`]).
//! - `GET /healthz` — liveness, and whether the configuration is valid.
//!
//! This crate is glue only: request/response, `Env`, KV, `fetch` and status
//! mapping. Every decision is made in `flowgate-core`.
#![forbid(unsafe_code)]

mod bindings;
mod entra_client;
mod hooks;
mod http;
mod kv_token_store;
mod log;
mod reply;

use worker::{event, Context, Env, Method, Request, Response, Result};

use crate::reply::Reply;

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let path = req.path();
    let reply = match path.as_str() {
        "/healthz" | "/healthz/" => healthz(&req, &env),
        _ => match path.strip_prefix("/hooks/") {
            Some(route) if !route.is_empty() && !route.contains('/') => {
                let route = route.to_owned();
                hooks::handle(req, &env, &route).await
            }
            _ => Reply::NotFound,
        },
    };
    reply.into_response()
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
