//! `GET /console`: the web console, static files (`console/`) served from
//! Workers Static Assets through the `ASSETS` binding, so none of it is in
//! the wasm bundle. `run_worker_first = true` keeps every request with the
//! Worker: only the paths below reach the assets, with headers that keep the
//! page to itself (no framing, no other origin, no referrer).
//!
//! The console holds no secret: it asks for the admin token, keeps it in
//! `sessionStorage`, and calls the admin API ([`crate::admin`]) with it.

use worker::{Env, Headers, Method, Request, Response, Result};

use crate::reply::Reply;

/// The Static Assets binding (`[assets] binding` in wrangler.toml).
pub(crate) const ASSETS_BINDING: &str = "ASSETS";

/// The console's pages and files, and the asset each is.
fn asset_path(path: &str) -> Option<&'static str> {
    match path {
        "/console" | "/console/" | "/console/index.html" => Some("/index.html"),
        "/console/console.js" => Some("/console.js"),
        "/console/console.css" => Some("/console.css"),
        _ => None,
    }
}

/// Whether `path` is the console's.
pub(crate) fn is_console_path(path: &str) -> bool {
    path == "/console" || path.starts_with("/console/")
}

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
                   frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

pub(crate) async fn serve(req: &Request, env: &Env, path: &str) -> Result<Response> {
    if !matches!(req.method(), Method::Get | Method::Head) {
        return Reply::MethodNotAllowed { allow: "GET, HEAD" }.into_response("");
    }
    let Some(asset) = asset_path(path) else {
        return Response::error("not found", 404);
    };
    let Ok(assets) = env.assets(ASSETS_BINDING) else {
        return Response::error(
            "The console is not deployed with this Worker: wrangler.toml needs [assets] directory = \"console\", \
             binding = \"ASSETS\", run_worker_first = true (see README, Web console).",
            404,
        );
    };
    let mut found = assets.fetch(format!("https://assets.local{asset}"), None).await?;
    if found.status_code() != 200 {
        return Response::error("not found", 404);
    }
    let content_type = found.headers().get("content-type")?.unwrap_or_else(|| "application/octet-stream".into());
    let bytes = found.bytes().await?;
    let headers = Headers::new();
    headers.set("content-type", &content_type)?;
    headers.set("content-security-policy", CSP)?;
    headers.set("x-content-type-options", "nosniff")?;
    headers.set("x-frame-options", "DENY")?;
    headers.set("referrer-policy", "no-referrer")?;
    headers.set("cache-control", "no-cache")?;
    Ok(Response::from_bytes(bytes)?.with_headers(headers))
}
