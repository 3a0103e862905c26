//! `flowgate status` and `flowgate dlq …`: the Worker's admin API from the
//! command line.
//!
//! | command | request |
//! |---|---|
//! | `flowgate status [--json]` | `GET {url}/admin/v1/status` |
//! | `flowgate dlq list [--route R] [--json]` | `GET {url}/admin/v1/dead-letters?route=&limit=&cursor=`, every page |
//! | `flowgate dlq show ROUTE/ID [--body-out FILE]` | `GET {url}/admin/v1/dead-letters/{route}/{id}` |
//! | `flowgate dlq redrive ROUTE/ID` | `POST {url}/admin/v1/dead-letters/{route}/{id}/redrive` |
//! | `flowgate dlq redrive --all [--route R] [--dry-run]` | `POST {url}/admin/v1/dead-letters/redrive` `{"route"?, "dry_run"?}`, repeated while `remaining` > 0 |
//! | `flowgate dlq delete ROUTE/ID` | `DELETE {url}/admin/v1/dead-letters/{route}/{id}` |
//! | `flowgate dlq delete --all [--route R] --yes` | list every page, then one `DELETE` per letter |
//!
//! The documents are [`flowgate_core::admin`]'s, which the Worker writes.
//!
//! Every request carries `Authorization: Bearer <token>`, the token read
//! from the environment variable `FLOWGATE_ADMIN_TOKEN` only: there is no
//! `--token` flag because command lines end up in shell histories and `ps`.
//! Its value is the Worker secret of the same name
//! (`npx wrangler secret put FLOWGATE_ADMIN_TOKEN`).
//!
//! Exit codes: 0 done; 1 the Worker answered with an error (its message and a
//! hint are printed); 2 a usage or network error (as for every `flowgate`
//! command, `main.rs`).
//!
//! Text that comes from the Worker (reasons, headers, a body preview) may
//! hold what a webhook sender wrote, so control characters are replaced
//! before it reaches the terminal.

use std::{collections::BTreeSet, io::Write, path::PathBuf, process::ExitCode, time::Duration};

use anyhow::{bail, Context as _};
use base64::{engine::general_purpose::STANDARD, Engine as _};
use flowgate_core::Secret;
use reqwest::{Method, Url};
use serde_json::{json, Value};

use flowgate_emulator::format_utc;

/// Environment variable with the admin token (the Worker secret's name too).
pub const ADMIN_TOKEN_ENV: &str = "FLOWGATE_ADMIN_TOKEN";
/// Environment variable with the Worker's URL.
pub const URL_ENV: &str = "FLOWGATE_URL";
/// Where `npx wrangler dev` listens.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8787";
/// Items asked for per page by `dlq list`.
const PAGE_LIMIT: u32 = 100;
/// Rounds of `POST /admin/dead-letters/redrive` before `redrive --all` gives
/// up (each round redrives a page; this bounds a Worker whose `remaining`
/// never reaches 0, e.g. letters dead-lettered again as fast as redriven).
const MAX_REDRIVE_ROUNDS: u32 = 1000;
/// Characters of a UTF-8 body shown by `dlq show` without `--body-out`.
const PREVIEW_CHARS: usize = 600;
/// Lines of that preview.
const PREVIEW_LINES: usize = 12;
/// Characters of a reason in the `dlq list` table.
const REASON_CHARS: usize = 60;

/// Where the Worker is.
#[derive(clap::Args, Debug, Clone)]
pub struct Connection {
    /// The flowgate Worker's URL (its admin API is at /status and /admin/…).
    /// The token comes from the FLOWGATE_ADMIN_TOKEN environment variable only.
    #[arg(long, env = URL_ENV, default_value = DEFAULT_URL, global = true)]
    pub url: String,
}

/// Arguments of `flowgate status`.
#[derive(clap::Args, Debug, Clone)]
pub struct StatusArgs {
    #[command(flatten)]
    pub connection: Connection,
    /// Print the Worker's JSON as it came.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `flowgate dlq`.
#[derive(clap::Args, Debug, Clone)]
pub struct DlqArgs {
    #[command(flatten)]
    pub connection: Connection,
    #[command(subcommand)]
    pub command: DlqCommand,
}

/// The `flowgate dlq` subcommands.
#[derive(clap::Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum DlqCommand {
    /// List dead letters (every page): route/id, flow, attempts, reason, age.
    List {
        /// Only this route's letters.
        #[arg(long)]
        route: Option<String>,
        /// Print `{"items": [...]}` with every page's items instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one dead letter: its headers and delivery history, and the body
    /// as a short preview (UTF-8 only) or written to a file.
    Show {
        /// The letter, as ROUTE/ID (as `flowgate dlq list` prints it).
        target: String,
        /// Write the whole body to FILE (bytes as received) instead of a preview.
        #[arg(long, value_name = "FILE")]
        body_out: Option<PathBuf>,
    },
    /// Enqueue dead letters for delivery again (same flowgate id, fresh attempts).
    Redrive {
        /// The letter, as ROUTE/ID.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        target: Option<String>,
        /// Redrive every dead letter (of --route, if given), page after page.
        #[arg(long)]
        all: bool,
        /// With --all: only this route's letters.
        // `conflicts_with = "target"`, since a target is required without
        // --all (clap's `requires = "all"` did not refuse `a/b --route r`).
        #[arg(long, requires = "all", conflicts_with = "target")]
        route: Option<String>,
        /// With --all: only count the letters that would be redriven.
        #[arg(long, requires = "all")]
        dry_run: bool,
    },
    /// Delete dead letters and their stored bodies (they are not delivered).
    Delete {
        /// The letter, as ROUTE/ID.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        target: Option<String>,
        /// Delete every dead letter (of --route, if given); needs --yes.
        #[arg(long, requires = "yes")]
        all: bool,
        /// With --all: only this route's letters.
        // `conflicts_with = "target"`, since a target is required without
        // --all (clap's `requires = "all"` did not refuse `a/b --route r`).
        #[arg(long, requires = "all", conflicts_with = "target")]
        route: Option<String>,
        /// Confirm --all.
        #[arg(long)]
        yes: bool,
    },
}

// ---- the API's documents: flowgate_core::admin (the Worker writes them) ----

pub use flowgate_core::admin::{
    AttemptRecord, BulkFilter, DeadLetterDetail, DeadLetterPage, DeadLetterSummary, DeleteRound, RedriveRound,
    Redriven, RouteEntry, StatusReport, TokenCacheEntry,
};

/// The admin API's path: every call is `{url}/admin/v1/…`.
const API: [&str; 2] = ["admin", "v1"];

// ---- errors ----

/// A failed admin request.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The Worker answered with an error status (exit code 1).
    #[error("{message} (HTTP {status}, {code})")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The body's `error`, or `http_<status>` when the body is not the
        /// API's error JSON.
        code: String,
        /// The body's `message`, or the start of the body.
        message: String,
    },
    /// No answer (exit code 2). The message leaves the cause to the error
    /// chain (`{:#}`), which names the URL.
    #[error("no answer from the Worker")]
    Unreachable {
        /// The request's URL.
        url: String,
        /// What went wrong.
        #[source]
        source: reqwest::Error,
    },
    /// An answer that is not what the API documents (exit code 2).
    #[error("unexpected answer from {url}: {detail}")]
    Unexpected {
        /// The request's URL.
        url: String,
        /// What was wrong with it.
        detail: String,
    },
}

impl AdminError {
    /// What to do about it, for the person at the terminal.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Refused { status, code, .. } => match (code.as_str(), *status) {
                ("admin_disabled", _) => Some(format!(
                    "the Worker has no admin token, so its admin API is off. Set one with \
                     `npx wrangler secret put {ADMIN_TOKEN_ENV}` (for `wrangler dev`: a line \
                     {ADMIN_TOKEN_ENV}=... in .dev.vars), then export the same value as {ADMIN_TOKEN_ENV} here"
                )),
                (_, 401) => Some(format!(
                    "{ADMIN_TOKEN_ENV} here is not the Worker's {ADMIN_TOKEN_ENV} secret. Export the value given \
                     to `npx wrangler secret put {ADMIN_TOKEN_ENV}` (a secret cannot be read back: put a new one \
                     if it is lost)"
                )),
                ("not_found", _) => Some(
                    "no such dead letter (redriven or deleted already?); `flowgate dlq list` shows what is there"
                        .to_owned(),
                ),
                (_, 404 | 405) => Some(format!(
                    "is --url (or {URL_ENV}) the flowgate Worker, and is it a version with the admin API?"
                )),
                ("bad_request", _) | (_, 400) => {
                    Some("check the route name: `flowgate status` lists the routes".to_owned())
                }
                (_, 500..=599) => {
                    Some("the Worker could not complete it; try again, or see `npx wrangler tail`".to_owned())
                }
                _ => None,
            },
            Self::Unreachable { .. } => Some(format!(
                "is the Worker running there? `npx wrangler dev` listens on {DEFAULT_URL}; \
                 pass --url or set {URL_ENV} for a deployed Worker"
            )),
            Self::Unexpected { .. } => {
                Some("is --url the flowgate Worker, and are it and this flowgate the same version?".to_owned())
            }
        }
    }
}

/// The admin token from the environment (`lookup` is `std::env::var`
/// outside tests).
///
/// # Errors
/// When the variable is unset or blank: a message saying how to set it.
pub fn admin_token(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Secret> {
    match lookup(ADMIN_TOKEN_ENV) {
        Some(t) if !t.trim().is_empty() => Ok(Secret::new(t.trim().to_owned())),
        _ => bail!(
            "set the environment variable {ADMIN_TOKEN_ENV} to the Worker's admin token: the value of its secret \
             {ADMIN_TOKEN_ENV} (`npx wrangler secret put {ADMIN_TOKEN_ENV}`; for `wrangler dev`, the line in \
             .dev.vars). There is no --token flag, so the token stays out of shell histories"
        ),
    }
}

/// Splits `ROUTE/ID`.
///
/// # Errors
/// When either half is missing.
pub fn parse_target(target: &str) -> anyhow::Result<(String, String)> {
    match target.split_once('/') {
        Some((route, id)) if !route.is_empty() && !id.is_empty() => Ok((route.to_owned(), id.to_owned())),
        _ => bail!("{target:?} is not ROUTE/ID (as `flowgate dlq list` prints them, e.g. github/01J…)"),
    }
}

// ---- the client ----

/// A client of the Worker's admin API.
pub struct AdminClient {
    base: Url,
    token: Secret,
    http: reqwest::Client,
}

impl std::fmt::Debug for AdminClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminClient").field("base", &self.base.as_str()).field("token", &self.token).finish()
    }
}

impl AdminClient {
    /// A client for the Worker at `url`.
    ///
    /// # Errors
    /// When `url` is not an http(s) URL, or the HTTP client cannot be built.
    pub fn new(url: &str, token: Secret) -> anyhow::Result<Self> {
        let base = Url::parse(url).with_context(|| format!("--url {url:?} is not a URL"))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            bail!("--url {url:?} is not an http(s) URL");
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Self { base, token, http })
    }

    /// `{base}/admin/v1/{segments...}`, each segment percent-encoded.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.set_query(None);
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(API).extend(segments);
        }
        url
    }

    /// Sends one request and returns the 2xx body (empty for 204).
    async fn call(&self, method: Method, url: Url, body: Option<&Value>) -> Result<Vec<u8>, AdminError> {
        let shown = url.to_string();
        let mut req = self.http.request(method, url).bearer_auth(self.token.expose());
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|source| AdminError::Unreachable { url: shown.clone(), source })?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|source| AdminError::Unreachable { url: shown.clone(), source })?;
        if status.is_success() {
            return Ok(bytes.to_vec());
        }
        let (code, message) = match serde_json::from_slice::<flowgate_core::admin::ApiError>(&bytes) {
            Ok(e) => (e.error, e.message),
            Err(_) => {
                let text: String = String::from_utf8_lossy(&bytes).chars().take(200).collect();
                let text = clean(text.trim());
                let message =
                    if text.is_empty() { status.canonical_reason().unwrap_or("error").to_owned() } else { text };
                (format!("http_{}", status.as_u16()), message)
            }
        };
        Err(AdminError::Refused { status: status.as_u16(), code: clean(&code), message: clean(&message) })
    }

    async fn call_json<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<(T, Vec<u8>), AdminError> {
        let shown = url.to_string();
        let bytes = self.call(method, url, body).await?;
        let value = serde_json::from_slice(&bytes)
            .map_err(|e| AdminError::Unexpected { url: shown, detail: format!("not the documented JSON: {e}") })?;
        Ok((value, bytes))
    }

    /// `GET /status`, parsed, with the raw body.
    ///
    /// # Errors
    /// See [`AdminError`].
    pub async fn status(&self) -> Result<(StatusReport, Vec<u8>), AdminError> {
        self.call_json(Method::GET, self.url(&["status"]), None).await
    }

    /// One page of `GET /admin/dead-letters`.
    ///
    /// # Errors
    /// See [`AdminError`].
    pub async fn list_page(
        &self,
        route: Option<&str>,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<DeadLetterPage, AdminError> {
        let mut url = self.url(&["dead-letters"]);
        {
            let mut q = url.query_pairs_mut();
            if let Some(r) = route {
                q.append_pair("route", r);
            }
            if let Some(l) = limit {
                q.append_pair("limit", &l.to_string());
            }
            if let Some(c) = cursor {
                q.append_pair("cursor", c);
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        Ok(self.call_json(Method::GET, url, None).await?.0)
    }

    /// Every dead letter (of `route`), following the cursors.
    ///
    /// # Errors
    /// See [`AdminError`]; also a cursor that comes back a second time (the
    /// listing would never end).
    pub async fn list_all(&self, route: Option<&str>) -> Result<Vec<DeadLetterSummary>, AdminError> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        let mut seen = BTreeSet::new();
        loop {
            let page = self.list_page(route, Some(PAGE_LIMIT), cursor.as_deref()).await?;
            items.extend(page.items);
            match page.cursor.filter(|c| !c.is_empty()) {
                None => return Ok(items),
                Some(c) if !seen.insert(c.clone()) => {
                    return Err(AdminError::Unexpected {
                        url: self.url(&["dead-letters"]).to_string(),
                        detail: format!("the cursor {c:?} came back twice; stopping rather than looping"),
                    })
                }
                Some(c) => cursor = Some(c),
            }
        }
    }

    /// `GET /admin/dead-letters/{route}/{id}`.
    ///
    /// # Errors
    /// See [`AdminError`].
    pub async fn show(&self, route: &str, id: &str) -> Result<DeadLetterDetail, AdminError> {
        Ok(self.call_json(Method::GET, self.url(&["dead-letters", route, id]), None).await?.0)
    }

    /// `POST /admin/dead-letters/{route}/{id}/redrive`: how many were
    /// redriven (1).
    ///
    /// # Errors
    /// See [`AdminError`].
    pub async fn redrive(&self, route: &str, id: &str) -> Result<u64, AdminError> {
        let url = self.url(&["dead-letters", route, id, "redrive"]);
        let (r, _): (Redriven, _) = self.call_json(Method::POST, url, None).await?;
        Ok(r.redriven)
    }

    /// One round of `POST /admin/dead-letters/redrive`.
    ///
    /// # Errors
    /// See [`AdminError`].
    pub async fn redrive_round(&self, route: Option<&str>, dry_run: bool) -> Result<RedriveRound, AdminError> {
        let filter = BulkFilter { route: route.map(str::to_owned), dry_run, ..BulkFilter::default() };
        let body = serde_json::to_value(filter).unwrap_or_default();
        let url = self.url(&["dead-letters", "redrive"]);
        Ok(self.call_json(Method::POST, url, Some(&body)).await?.0)
    }

    /// `DELETE /admin/dead-letters/{route}/{id}`.
    ///
    /// # Errors
    /// See [`AdminError`].
    pub async fn delete(&self, route: &str, id: &str) -> Result<(), AdminError> {
        self.call(Method::DELETE, self.url(&["dead-letters", route, id]), None).await.map(drop)
    }

    /// `GET /admin/v1/routes/{route}/handshake` (`op` = `None`), or `POST
    /// …/handshake/{op}` (`open` with `for_secs`, `close`, `reset`).
    ///
    /// # Errors
    /// See [`AdminError`].
    pub async fn handshake(
        &self,
        route: &str,
        op: Option<&str>,
        for_secs: Option<u64>,
    ) -> Result<flowgate_core::ledger::HandshakeWindow, AdminError> {
        let mut segments = vec!["routes", route, "handshake"];
        match op {
            None => self.call_json(Method::GET, self.url(&segments), None).await.map(|(v, _)| v),
            Some(op) => {
                segments.push(op);
                let body = for_secs.map(|s| serde_json::json!({ "for_secs": s }));
                self.call_json(Method::POST, self.url(&segments), body.as_ref()).await.map(|(v, _)| v)
            }
        }
    }

    /// `POST /admin/v1/routes/{route}/handshake/reveal`: the kept secret.
    ///
    /// # Errors
    /// See [`AdminError`].
    pub async fn reveal(&self, route: &str) -> Result<Secret, AdminError> {
        let url = self.url(&["routes", route, "handshake", "reveal"]);
        let (r, _): (flowgate_core::admin::RevealedSecret, _) = self.call_json(Method::POST, url, None).await?;
        Ok(Secret::new(r.secret))
    }
}

// ---- the commands ----

/// Runs `flowgate status`.
///
/// # Errors
/// A missing token, a bad URL or an unreachable Worker (exit code 2); the
/// Worker's refusals are printed and give exit code 1.
pub async fn run_status(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let client = AdminClient::new(&args.connection.url, admin_token(|k| std::env::var(k).ok())?)?;
    finish(status(&client, args.json, now_unix(), &mut std::io::stdout().lock()).await)
}

/// Runs `flowgate dlq …`.
///
/// # Errors
/// As [`run_status`].
pub async fn run_dlq(args: DlqArgs) -> anyhow::Result<ExitCode> {
    let client = AdminClient::new(&args.connection.url, admin_token(|k| std::env::var(k).ok())?)?;
    finish(dlq(&client, &args.command, now_unix(), &mut std::io::stdout().lock()).await)
}

/// Maps a command's outcome to the exit code: a refusal by the Worker is
/// printed with its hint and gives 1; other errors go to `main` (2).
pub(crate) fn finish(result: anyhow::Result<ExitCode>) -> anyhow::Result<ExitCode> {
    match result {
        Ok(code) => Ok(code),
        Err(e) => match e.downcast_ref::<AdminError>() {
            Some(admin @ AdminError::Refused { .. }) => {
                eprintln!("flowgate: the Worker refused: {e:#}");
                if let Some(h) = admin.hint() {
                    eprintln!("hint: {h}");
                }
                Ok(ExitCode::FAILURE)
            }
            // Network and protocol errors are exit code 2, as `main` gives
            // every error; printed here for the hint.
            Some(other) => {
                eprintln!("flowgate: {e:#}");
                if let Some(h) = other.hint() {
                    eprintln!("hint: {h}");
                }
                Ok(ExitCode::from(2))
            }
            None => Err(e),
        },
    }
}

pub(crate) fn now_unix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// `flowgate status`, writing to `out`.
///
/// # Errors
/// An [`AdminError`] (downcast by the caller) or an output error.
pub async fn status(client: &AdminClient, raw: bool, now: u64, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let (report, bytes) = client.status().await?;
    if raw {
        out.write_all(&bytes)?;
        if !bytes.ends_with(b"\n") {
            writeln!(out)?;
        }
    } else {
        out.write_all(render_status(&report, now).as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `flowgate dlq …`, writing to `out`.
///
/// # Errors
/// An [`AdminError`] (downcast by the caller), a bad ROUTE/ID, or a file or
/// output error.
pub async fn dlq(
    client: &AdminClient,
    command: &DlqCommand,
    now: u64,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    match command {
        DlqCommand::List { route, json } => {
            let items = client.list_all(route.as_deref()).await?;
            if *json {
                serde_json::to_writer_pretty(&mut *out, &json!({ "items": items }))?;
                writeln!(out)?;
            } else {
                out.write_all(render_list(&items, now).as_bytes())?;
            }
            Ok(ExitCode::SUCCESS)
        }
        DlqCommand::Show { target, body_out } => {
            let (route, id) = parse_target(target)?;
            let letter = client.show(&route, &id).await?;
            let body = STANDARD.decode(letter.body_base64.as_deref().unwrap_or("").trim()).map_err(|e| {
                AdminError::Unexpected {
                    url: client.url(&["dead-letters", &route, &id]).to_string(),
                    detail: format!("body_base64 is not base64: {e}"),
                }
            })?;
            let body_note = match body_out {
                Some(path) => {
                    std::fs::write(path, &body).with_context(|| format!("writing {}", path.display()))?;
                    format!("{} bytes written to {}\n", body.len(), path.display())
                }
                None => preview(&body),
            };
            out.write_all(render_show(&letter, body.len(), &body_note, now).as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        DlqCommand::Redrive { target: Some(target), .. } => {
            let (route, id) = parse_target(target)?;
            let n = client.redrive(&route, &id).await?;
            writeln!(out, "redriven {n}: {}/{} is queued for delivery again", clean(&route), clean(&id))?;
            Ok(ExitCode::SUCCESS)
        }
        DlqCommand::Redrive { target: None, all, route, dry_run } => {
            if !all {
                bail!("name a dead letter as ROUTE/ID, or pass --all");
            }
            if *dry_run {
                let r = client.redrive_round(route.as_deref(), true).await?;
                let scope = route.as_deref().map_or_else(String::new, |r| format!(" of route {}", clean(r)));
                writeln!(out, "dry run: {} dead letter(s){scope} would be redriven", r.matched)?;
                return Ok(ExitCode::SUCCESS);
            }
            redrive_all(client, route.as_deref(), out).await
        }
        DlqCommand::Delete { target: Some(target), .. } => {
            let (route, id) = parse_target(target)?;
            client.delete(&route, &id).await?;
            writeln!(out, "deleted {}/{}", clean(&route), clean(&id))?;
            Ok(ExitCode::SUCCESS)
        }
        DlqCommand::Delete { target: None, all, route, yes } => {
            if !all {
                bail!("name a dead letter as ROUTE/ID, or pass --all --yes");
            }
            // clap already demands --yes with --all; this guards other callers.
            if !yes {
                bail!("refusing to delete every dead letter without --yes");
            }
            delete_all(client, route.as_deref(), out).await
        }
    }
}

/// Redrives page after page while the Worker says letters remain, and stops
/// when a round redrives none (so a letter that cannot be redriven does not
/// loop forever). Exit code 1 when letters remain at the end.
async fn redrive_all(client: &AdminClient, route: Option<&str>, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let mut total = 0u64;
    let mut failed = Vec::new();
    let mut rounds = 0u32;
    let last = loop {
        let r = client.redrive_round(route, false).await?;
        rounds += 1;
        total += r.redriven;
        failed.extend(r.failed.iter().cloned());
        if r.remaining == 0 || r.redriven == 0 || rounds >= MAX_REDRIVE_ROUNDS {
            break r;
        }
    };
    let scope = route.map_or_else(String::new, |r| format!(" of route {}", clean(r)));
    writeln!(out, "redriven {total} dead letter(s){scope} in {rounds} round(s); {} remain", last.remaining)?;
    for f in &failed {
        writeln!(out, "  not redriven: {}/{}: {}", clean(&f.route), clean(&f.id), clean(&f.error))?;
    }
    if last.remaining == 0 {
        return Ok(ExitCode::SUCCESS);
    }
    if last.redriven == 0 {
        writeln!(out, "stopped: the last round redrove none of the {} remaining (see above)", last.remaining)?;
    } else {
        writeln!(out, "stopped after {rounds} rounds with {} still remaining; run it again", last.remaining)?;
    }
    Ok(ExitCode::FAILURE)
}

/// Lists every letter (of `route`), then deletes them one by one. A letter
/// gone in the meantime (404 `not_found`) is skipped.
async fn delete_all(client: &AdminClient, route: Option<&str>, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let items = client.list_all(route).await?;
    let (mut deleted, mut gone) = (0u64, 0u64);
    for item in &items {
        match client.delete(&item.route, &item.id).await {
            Ok(()) => deleted += 1,
            Err(AdminError::Refused { code, .. }) if code == "not_found" => gone += 1,
            Err(e) => {
                writeln!(out, "deleted {deleted} of {} before an error", items.len())?;
                return Err(e.into());
            }
        }
    }
    let scope = route.map_or_else(String::new, |r| format!(" of route {}", clean(r)));
    write!(out, "deleted {deleted} dead letter(s){scope}")?;
    if gone > 0 {
        write!(out, "; {gone} were already gone")?;
    }
    writeln!(out)?;
    Ok(ExitCode::SUCCESS)
}

// ---- rendering ----

/// Replaces control characters (terminal escapes included) with `?`; `\n`
/// and `\t` stay only when `keep_newlines`.
fn clean_with(s: &str, keep_newlines: bool) -> String {
    s.chars().map(|c| if c.is_control() && !(keep_newlines && (c == '\n' || c == '\t')) { '?' } else { c }).collect()
}

fn clean(s: &str) -> String {
    clean_with(s, false)
}

/// At most `n` characters, with `…` when cut.
fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// `42s`, `5m`, `3h`, `2d` since `t` (`-` for 0 or a future time).
fn age(now: u64, t: u64) -> String {
    if t == 0 || t > now {
        return "-".to_owned();
    }
    let s = now - t;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// Left-aligned columns, two spaces apart.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut s = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut l = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                l.push_str(cell);
            } else {
                l.push_str(cell);
                l.push_str(&" ".repeat(w - cell.chars().count() + 2));
            }
        }
        s.push_str(l.trim_end());
        s.push('\n');
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    s
}

fn count(n: Option<i64>) -> String {
    n.map_or_else(|| "-".to_owned(), |n| n.to_string())
}

/// The `flowgate status` text.
pub fn render_status(r: &StatusReport, now: u64) -> String {
    let mut s = String::new();
    if r.routes.is_empty() {
        s.push_str("no routes\n");
    } else {
        let rows: Vec<Vec<String>> = r
            .routes
            .iter()
            .map(|(name, st)| {
                let c = st.counters.as_ref();
                let n = |f: fn(&flowgate_core::ledger::RouteStatus) -> i64| count(c.map(f));
                let mut row = vec![
                    clean(name),
                    clean(st.mode.as_deref().unwrap_or("?")),
                    n(|c| c.accepted),
                    n(|c| c.queued),
                    n(|c| c.delivered),
                    n(|c| c.retrying),
                    n(|c| c.dead_lettered),
                    n(|c| c.redriven),
                    n(|c| c.duplicates),
                    n(|c| c.dropped),
                ];
                row.push(st.error.as_deref().map_or_else(String::new, |e| format!("error: {}", clean(e))));
                row
            })
            .collect();
        s.push_str(&table(
            &[
                "ROUTE",
                "MODE",
                "ACCEPTED",
                "QUEUED",
                "DELIVERED",
                "RETRYING",
                "DEAD",
                "REDRIVEN",
                "DUPLICATES",
                "DROPPED",
                "",
            ],
            &rows,
        ));
    }
    s.push('\n');
    if r.token_cache.is_empty() {
        s.push_str("token cache: no credentials\n");
    } else {
        let rows: Vec<Vec<String>> = r
            .token_cache
            .iter()
            .map(|t| {
                let expires = match (t.expires_at, t.expires_in_secs) {
                    (Some(at), Some(left)) => format!("{} UTC (in {left} s)", format_utc(at)),
                    (Some(at), None) => {
                        format!("{} UTC ({})", format_utc(at), if at <= now { "past" } else { "ahead" })
                    }
                    (None, _) => "-".to_owned(),
                };
                vec![clean(&t.key), clean(&t.state), expires]
            })
            .collect();
        s.push_str(&table(&["TOKEN CACHE KEY", "STATE", "EXPIRES"], &rows));
    }
    s
}

/// The `flowgate dlq list` table.
pub fn render_list(items: &[DeadLetterSummary], now: u64) -> String {
    if items.is_empty() {
        return "no dead letters\n".to_owned();
    }
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|i| {
            vec![
                format!("{}/{}", clean(&i.route), clean(&i.id)),
                clean(i.flow.as_deref().unwrap_or("-")),
                count(i.attempts.map(i64::from)),
                age(now, i.dead_at.unwrap_or(0)),
                cut(&clean(i.reason.as_deref().unwrap_or("")), REASON_CHARS),
            ]
        })
        .collect();
    let mut s = table(&["ROUTE/ID", "FLOW", "ATTEMPTS", "AGE", "REASON"], &rows);
    s.push_str(&format!("{} dead letter(s)\n", items.len()));
    s
}

/// A short look at a body: the start of it when it is UTF-8, its size
/// otherwise; never all of a large body.
fn preview(body: &[u8]) -> String {
    if body.is_empty() {
        return "(empty body)\n".to_owned();
    }
    let Ok(text) = std::str::from_utf8(body) else {
        return format!("({} bytes, not UTF-8: save them with --body-out FILE)\n", body.len());
    };
    let mut shown: String = text.lines().take(PREVIEW_LINES).collect::<Vec<_>>().join("\n");
    if shown.chars().count() > PREVIEW_CHARS {
        shown = shown.chars().take(PREVIEW_CHARS).collect();
    }
    let mut s = clean_with(&shown, true);
    s.push('\n');
    if shown.len() < text.trim_end().len() {
        s.push_str(&format!("… ({} bytes in all: --body-out FILE saves them)\n", body.len()));
    }
    s
}

/// The `flowgate dlq show` text; `body_note` is the preview or where the body
/// was written.
pub fn render_show(l: &DeadLetterDetail, body_len: usize, body_note: &str, now: u64) -> String {
    let d = &l.summary;
    let when = |t: u64| if t == 0 { "-".to_owned() } else { format!("{} UTC ({} ago)", format_utc(t), age(now, t)) };
    let opt = |v: &Option<String>| clean(v.as_deref().unwrap_or("-"));
    let mut s = format!(
        "dead letter {}/{}\n\
         \x20 flow         {}\n\
         \x20 event type   {}\n\
         \x20 delivery id  {}\n\
         \x20 received     {}\n\
         \x20 dead since   {}\n\
         \x20 attempts     {}\n\
         \x20 reason       {}\n\
         \x20 body         {body_len} bytes, {}\n",
        clean(&d.route),
        clean(&d.id),
        opt(&d.flow),
        opt(&d.event_type),
        opt(&d.delivery_id),
        when(d.received_at.unwrap_or(0)),
        when(d.dead_at.unwrap_or(0)),
        count(d.attempts.map(i64::from)),
        clean(d.reason.as_deref().unwrap_or("-")),
        opt(&l.content_type),
    );
    s.push_str("\nheaders:\n");
    if l.headers.is_empty() {
        s.push_str("  (none)\n");
    }
    for (k, v) in &l.headers {
        s.push_str(&format!("  {}: {}\n", clean(k), clean(v)));
    }
    s.push_str("\nhistory:\n");
    if l.history.is_empty() {
        s.push_str("  (none)\n");
    } else {
        let rows: Vec<Vec<String>> = l
            .history
            .iter()
            .map(|h| {
                vec![
                    h.attempt.to_string(),
                    format!("{} UTC", format_utc(h.at)),
                    h.status.map_or_else(|| "-".to_owned(), |s| s.to_string()),
                    clean(&h.reason),
                ]
            })
            .collect();
        for line in table(&["ATTEMPT", "AT", "STATUS", "REASON"], &rows).lines() {
            s.push_str("  ");
            s.push_str(line);
            s.push('\n');
        }
    }
    s.push_str("\nbody:\n");
    s.push_str(body_note);
    s
}

#[cfg(test)]
mod tests {
    //! The client against a small in-process Worker that implements the
    //! admin API as specified (auth, cursor pages, redrive rounds, errors).

    use std::{
        collections::HashMap,
        sync::{Arc, Mutex},
    };

    use axum::{
        extract::{Path, Query, State},
        http::{HeaderMap, StatusCode, Uri},
        response::{IntoResponse, Response},
        routing::{get, post},
        Json, Router,
    };
    use clap::Parser;

    use super::*;

    const TOKEN: &str = "test-admin-token";
    const NOW: u64 = 1_700_000_000;

    /// The fake Worker's state.
    struct Fake {
        enabled: bool,
        letters: Vec<DeadLetterDetail>,
        /// Ids the redrive rounds fail on.
        stuck: BTreeSet<String>,
        /// Most items per list page, whatever `limit` says.
        page: usize,
        /// Letters per redrive round.
        round: usize,
        /// Every list page answers this cursor (a broken Worker).
        loop_cursor: bool,
        /// `METHOD path?query body` of every request.
        log: Vec<String>,
    }

    impl Fake {
        fn with(letters: Vec<DeadLetterDetail>) -> Self {
            Self {
                enabled: true,
                letters,
                stuck: BTreeSet::new(),
                page: 3,
                round: 2,
                loop_cursor: false,
                log: Vec::new(),
            }
        }
    }

    type Shared = Arc<Mutex<Fake>>;

    fn error(status: StatusCode, code: &str, message: &str) -> Response {
        (status, Json(json!({"error": code, "message": message}))).into_response()
    }

    /// Logs the request, then checks the API is on and the token right:
    /// `Some(refusal)` when not.
    fn admit(st: &Shared, method: &str, uri: &Uri, body: &str, headers: &HeaderMap) -> Option<Response> {
        let mut f = st.lock().unwrap();
        f.log.push(format!("{method} {uri} {body}").trim_end().to_owned());
        if !f.enabled {
            return Some(error(
                StatusCode::NOT_FOUND,
                "admin_disabled",
                "The admin API is off: set the FLOWGATE_ADMIN_TOKEN secret.",
            ));
        }
        match headers.get("authorization").and_then(|v| v.to_str().ok()) {
            Some(v) if v == format!("Bearer {TOKEN}") => None,
            _ => Some(error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Send Authorization: Bearer <FLOWGATE_ADMIN_TOKEN>.",
            )),
        }
    }

    fn not_found(route: &str, id: &str) -> Response {
        error(StatusCode::NOT_FOUND, "not_found", &format!("no dead letter {route}/{id}"))
    }

    async fn status_h(State(st): State<Shared>, uri: Uri, h: HeaderMap) -> Response {
        if let Some(r) = admit(&st, "GET", &uri, "", &h) {
            return r;
        }
        // Exactly as the Worker words it, spacing included, to check --json is raw.
        (
            [("content-type", "application/json")],
            r#"{"routes": {"github": {"mode": "queue", "provider": "github", "handshake": false, "accepted": 10, "delivered": 7, "duplicates": 3, "replays": 0, "dead_lettered": 2, "redriven": 1, "dropped": 0, "recovered": 0, "queued": 0, "retrying": 1, "dead_letters_waiting": 1, "ledger_calls": 9, "flows": []}, "stripe": {"mode": "direct", "provider": "stripe", "handshake": false, "accepted": 4, "delivered": 4, "duplicates": 0, "replays": 0, "dead_lettered": 0, "redriven": 0, "dropped": 1, "recovered": 0, "queued": 0, "retrying": 0, "dead_letters_waiting": 0, "ledger_calls": 2}, "broken": {"mode": "queue", "provider": "github", "handshake": false, "error": "ledger unavailable"}}, "token_cache": [{"key": "a1b2c3d4e5f6", "state": "fresh", "expires_at": 1700001800, "expires_in_secs": 1800}, {"key": "0f0f0f0f0f0f", "state": "absent", "expires_at": null, "expires_in_secs": null}]}"#,
        )
            .into_response()
    }

    async fn list_h(
        State(st): State<Shared>,
        uri: Uri,
        h: HeaderMap,
        Query(q): Query<HashMap<String, String>>,
    ) -> Response {
        if let Some(r) = admit(&st, "GET", &uri, "", &h) {
            return r;
        }
        let f = st.lock().unwrap();
        let matching: Vec<&DeadLetterDetail> =
            f.letters.iter().filter(|l| q.get("route").is_none_or(|r| *r == l.summary.route)).collect();
        let start: usize = q.get("cursor").map_or(0, |c| c.parse().unwrap());
        let limit = q.get("limit").map_or(f.page, |l| l.parse::<usize>().unwrap().min(f.page));
        let end = (start + limit).min(matching.len());
        let items: Vec<&DeadLetterSummary> = matching[start..end].iter().map(|l| &l.summary).collect();
        let cursor = if f.loop_cursor { Some("3".to_owned()) } else { (end < matching.len()).then(|| end.to_string()) };
        Json(json!({"items": items, "cursor": cursor})).into_response()
    }

    async fn show_h(
        State(st): State<Shared>,
        uri: Uri,
        h: HeaderMap,
        Path((route, id)): Path<(String, String)>,
    ) -> Response {
        if let Some(r) = admit(&st, "GET", &uri, "", &h) {
            return r;
        }
        let f = st.lock().unwrap();
        match f.letters.iter().find(|l| l.summary.route == route && l.summary.id == id) {
            Some(l) => Json(l).into_response(),
            None => not_found(&route, &id),
        }
    }

    fn take(f: &mut Fake, route: &str, id: &str) -> bool {
        let before = f.letters.len();
        f.letters.retain(|l| !(l.summary.route == route && l.summary.id == id));
        f.letters.len() < before
    }

    async fn redrive_one_h(
        State(st): State<Shared>,
        uri: Uri,
        h: HeaderMap,
        Path((route, id)): Path<(String, String)>,
    ) -> Response {
        if let Some(r) = admit(&st, "POST", &uri, "", &h) {
            return r;
        }
        if take(&mut st.lock().unwrap(), &route, &id) {
            (StatusCode::ACCEPTED, Json(json!({"redriven": 1}))).into_response()
        } else {
            not_found(&route, &id)
        }
    }

    async fn delete_h(
        State(st): State<Shared>,
        uri: Uri,
        h: HeaderMap,
        Path((route, id)): Path<(String, String)>,
    ) -> Response {
        if let Some(r) = admit(&st, "DELETE", &uri, "", &h) {
            return r;
        }
        if take(&mut st.lock().unwrap(), &route, &id) {
            StatusCode::NO_CONTENT.into_response()
        } else {
            not_found(&route, &id)
        }
    }

    /// Like the Worker: takes the first page of letters (of the route),
    /// redrives those it can, and says how many remain.
    async fn redrive_all_h(State(st): State<Shared>, uri: Uri, h: HeaderMap, body: String) -> Response {
        if let Some(r) = admit(&st, "POST", &uri, &body, &h) {
            return r;
        }
        let v: Value = serde_json::from_str(&body).unwrap();
        let route = v.get("route").and_then(Value::as_str).map(str::to_owned);
        let mut f = st.lock().unwrap();
        let of_route = |l: &DeadLetterDetail| route.as_deref().is_none_or(|r| r == l.summary.route);
        let page: Vec<(String, String)> = f
            .letters
            .iter()
            .filter(|l| of_route(l))
            .take(f.round)
            .map(|l| (l.summary.route.clone(), l.summary.id.clone()))
            .collect();
        let (mut redriven, mut failed) = (0, Vec::new());
        for (r, id) in page {
            if f.stuck.contains(&id) {
                failed.push(json!({"route": r, "id": id, "error": "queue send failed"}));
            } else {
                take(&mut f, &r, &id);
                redriven += 1;
            }
        }
        let remaining = f.letters.iter().filter(|l| of_route(l)).count();
        Json(json!({"redriven": redriven, "remaining": remaining, "failed": failed})).into_response()
    }

    async fn serve(fake: Fake) -> (String, Shared) {
        let shared = Arc::new(Mutex::new(fake));
        let app = Router::new()
            .route("/admin/v1/status", get(status_h))
            .route("/admin/v1/dead-letters", get(list_h))
            .route("/admin/v1/dead-letters/redrive", post(redrive_all_h))
            .route("/admin/v1/dead-letters/{route}/{id}", get(show_h).delete(delete_h))
            .route("/admin/v1/dead-letters/{route}/{id}/redrive", post(redrive_one_h))
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, shared)
    }

    fn letter(route: &str, id: &str, reason: &str, body: &[u8]) -> DeadLetterDetail {
        DeadLetterDetail {
            summary: DeadLetterSummary {
                route: route.into(),
                id: id.into(),
                flow: Some("6d1e0f8b".into()),
                reason: Some(reason.into()),
                attempts: Some(8),
                received_at: Some(NOW - 7200),
                dead_at: Some(NOW - 300),
                body_bytes: Some(body.len() as u64),
                delivery_id: Some(format!("dl-{id}")),
                event_type: None,
            },
            headers: [("content-type".to_owned(), "application/json".to_owned())].into_iter().collect(),
            history: vec![
                AttemptRecord { at: NOW - 7100, attempt: 1, status: Some(503), reason: "flow answered 503".into() },
                AttemptRecord { at: NOW - 300, attempt: 8, status: None, reason: "timeout".into() },
            ],
            content_type: Some("application/json".into()),
            body_base64: Some(STANDARD.encode(body)),
            ..DeadLetterDetail::default()
        }
    }

    fn letters(route: &str, n: usize) -> Vec<DeadLetterDetail> {
        (1..=n).map(|i| letter(route, &format!("{route}{i}"), "flow answered 500", b"{}")).collect()
    }

    fn client(url: &str) -> AdminClient {
        AdminClient::new(url, Secret::new(TOKEN)).unwrap()
    }

    async fn run(c: &AdminClient, cmd: DlqCommand) -> (anyhow::Result<ExitCode>, String) {
        let mut out = Vec::new();
        let r = dlq(c, &cmd, NOW, &mut out).await;
        (r, String::from_utf8(out).unwrap())
    }

    fn refused(e: &anyhow::Error) -> (u16, String) {
        match e.downcast_ref::<AdminError>() {
            Some(AdminError::Refused { status, code, .. }) => (*status, code.clone()),
            other => panic!("not a refusal: {other:?} ({e:#})"),
        }
    }

    fn log(st: &Shared) -> Vec<String> {
        std::mem::take(&mut st.lock().unwrap().log)
    }

    #[derive(Parser, Debug)]
    struct TestCli {
        #[command(subcommand)]
        command: TestCommand,
    }

    #[derive(clap::Subcommand, Debug)]
    enum TestCommand {
        Status(StatusArgs),
        Dlq(DlqArgs),
    }

    fn parse(args: &[&str]) -> Result<TestCommand, clap::Error> {
        TestCli::try_parse_from(std::iter::once("flowgate").chain(args.iter().copied())).map(|c| c.command)
    }

    #[test]
    fn the_token_comes_from_the_environment_only() {
        let e = admin_token(|_| None).unwrap_err().to_string();
        assert!(
            e.contains("FLOWGATE_ADMIN_TOKEN") && e.contains("npx wrangler secret put FLOWGATE_ADMIN_TOKEN"),
            "{e}"
        );
        assert!(admin_token(|_| Some("  ".into())).is_err());
        let t = admin_token(|k| (k == ADMIN_TOKEN_ENV).then(|| " tok \n".to_owned())).unwrap();
        assert_eq!(t.expose(), "tok");
        assert!(!format!("{:?}", client("http://x").token).contains(TOKEN));
        // No flag takes a token.
        assert!(parse(&["status", "--token", "x"]).is_err());
        assert!(parse(&["dlq", "list", "--token", "x"]).is_err());
    }

    #[test]
    fn command_line_rules() {
        let Ok(TestCommand::Dlq(d)) = parse(&["dlq", "list", "--url", "http://w:1", "--route", "github"]) else {
            panic!()
        };
        assert_eq!(d.connection.url, "http://w:1");
        assert_eq!(d.command, DlqCommand::List { route: Some("github".into()), json: false });
        let Ok(TestCommand::Dlq(d)) = parse(&["dlq", "--url", "http://w:2", "show", "a/b", "--body-out", "f"]) else {
            panic!()
        };
        assert_eq!(d.connection.url, "http://w:2");
        let Ok(TestCommand::Status(s)) = parse(&["status", "--json"]) else { panic!() };
        assert!(s.json);
        assert!(s.connection.url == DEFAULT_URL || std::env::var(URL_ENV).is_ok());
        assert!(parse(&["dlq", "redrive", "--all", "--route", "r"]).is_ok());
        assert!(parse(&["dlq", "delete", "--all", "--yes"]).is_ok());
        assert!(parse(&["dlq", "delete", "a/b"]).is_ok());
        for bad in [
            &["dlq", "redrive"][..],
            &["dlq", "redrive", "a/b", "--all"],
            &["dlq", "redrive", "a/b", "--route", "r"],
            &["dlq", "delete", "--all"],
            &["dlq", "delete"],
            &["dlq", "show"],
            &["dlq", "delete", "a/b", "--route", "r"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let e = parse(&["dlq", "delete", "--all"]).unwrap_err().to_string();
        assert!(e.contains("--yes"), "{e}");
    }

    #[test]
    fn targets_are_route_slash_id() {
        assert_eq!(parse_target("github/01J9").unwrap(), ("github".into(), "01J9".into()));
        assert_eq!(parse_target("r/a/b").unwrap(), ("r".into(), "a/b".into()));
        for bad in ["github", "/x", "x/", ""] {
            assert!(parse_target(bad).is_err(), "{bad}");
        }
        assert!(AdminClient::new("ftp://x", Secret::new("t")).is_err());
        assert!(AdminClient::new("not a url", Secret::new("t")).is_err());
    }

    #[tokio::test]
    async fn status_is_a_table_per_route_plus_the_token_cache_and_json_is_raw() {
        let (url, st) = serve(Fake::with(Vec::new())).await;
        let c = client(&url);
        let mut out = Vec::new();
        assert_eq!(status(&c, false, NOW, &mut out).await.unwrap(), ExitCode::SUCCESS);
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0], "ROUTE   MODE    ACCEPTED  QUEUED  DELIVERED  RETRYING  DEAD  REDRIVEN  DUPLICATES  DROPPED",
            "{text}"
        );
        assert_eq!(
            lines[1],
            "broken  queue   -         -       -          -         -     -         -           -        error: ledger unavailable"
        );
        assert_eq!(lines[2], "github  queue   10        0       7          1         2     1         3           0");
        assert_eq!(lines[3], "stripe  direct  4         0       4          0         0     0         0           1");
        assert!(text.contains("a1b2c3d4e5f6     fresh   2023-11-14 22:43:20 UTC (in 1800 s)"), "{text}");
        assert!(text.contains("0f0f0f0f0f0f     absent  -"), "{text}");

        let mut out = Vec::new();
        status(&c, true, NOW, &mut out).await.unwrap();
        let raw = String::from_utf8(out).unwrap();
        assert!(raw.starts_with(r#"{"routes": {"github": {"mode": "queue""#), "{raw}");
        assert!(raw.ends_with("}\n"));
        assert_eq!(log(&st), ["GET /admin/v1/status", "GET /admin/v1/status"]);
    }

    #[tokio::test]
    async fn refusals_are_exit_1_with_a_hint_and_network_errors_exit_2() {
        let (url, st) = serve(Fake::with(Vec::new())).await;
        let wrong = AdminClient::new(&url, Secret::new("not-the-token")).unwrap();
        let e = wrong.status().await.unwrap_err();
        assert!(matches!(&e, AdminError::Refused { status: 401, code, .. } if code == "unauthorized"), "{e}");
        assert!(e.to_string().contains("Send Authorization"), "{e}");
        assert!(e.hint().unwrap().contains("npx wrangler secret put FLOWGATE_ADMIN_TOKEN"));
        let mut out = Vec::new();
        let r = status(&wrong, false, NOW, &mut out).await;
        assert_eq!(finish(r).unwrap(), ExitCode::FAILURE);
        assert!(out.is_empty());

        st.lock().unwrap().enabled = false;
        let e = client(&url).list_page(None, None, None).await.unwrap_err();
        assert!(matches!(&e, AdminError::Refused { status: 404, code, .. } if code == "admin_disabled"), "{e}");
        let hint = e.hint().unwrap();
        assert!(hint.contains("admin API is off") && hint.contains(".dev.vars"), "{hint}");
        st.lock().unwrap().enabled = true;

        // A server that is not the admin API: plain-text 404.
        let e = client(&format!("{url}/elsewhere")).status().await.unwrap_err();
        assert!(matches!(&e, AdminError::Refused { status: 404, code, .. } if code == "http_404"), "{e}");
        assert!(e.hint().unwrap().contains("version with the admin API"));

        // Nobody listening: exit code 2.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let down = client(&format!("http://127.0.0.1:{port}"));
        let e = down.status().await.unwrap_err();
        assert!(matches!(e, AdminError::Unreachable { .. }), "{e}");
        assert!(e.hint().unwrap().contains("wrangler dev"));
        let r = status(&down, false, NOW, &mut Vec::new()).await;
        assert_eq!(finish(r).unwrap(), ExitCode::from(2));
        // Errors that are not the Worker's go to `main` unchanged.
        assert!(finish(Err(anyhow::anyhow!("usage"))).is_err());
    }

    #[tokio::test]
    async fn list_follows_every_cursor_and_filters_by_route() {
        let mut fake = Fake::with(letters("github", 5));
        fake.letters.extend(letters("stripe", 2));
        fake.letters[0].summary.reason = Some(format!("flow answered 500: {}", "x".repeat(100)));
        let (url, st) = serve(fake).await;
        let c = client(&url);

        let all = c.list_all(None).await.unwrap();
        assert_eq!(all.len(), 7);
        assert_eq!(
            log(&st),
            [
                "GET /admin/v1/dead-letters?limit=100",
                "GET /admin/v1/dead-letters?limit=100&cursor=3",
                "GET /admin/v1/dead-letters?limit=100&cursor=6",
            ]
        );
        let (r, text) = run(&c, DlqCommand::List { route: Some("stripe".into()), json: false }).await;
        assert_eq!(r.unwrap(), ExitCode::SUCCESS);
        assert_eq!(log(&st), ["GET /admin/v1/dead-letters?route=stripe&limit=100"]);
        assert_eq!(
            text,
            "ROUTE/ID        FLOW      ATTEMPTS  AGE  REASON\n\
             stripe/stripe1  6d1e0f8b  8         5m   flow answered 500\n\
             stripe/stripe2  6d1e0f8b  8         5m   flow answered 500\n\
             2 dead letter(s)\n"
        );
        let (_, text) = run(&c, DlqCommand::List { route: None, json: false }).await;
        assert!(
            text.contains(&format!("github/github1  6d1e0f8b  8         5m   flow answered 500: {}…", "x".repeat(40))),
            "{text}"
        );
        assert!(text.ends_with("7 dead letter(s)\n"));

        let (_, text) = run(&c, DlqCommand::List { route: Some("github".into()), json: true }).await;
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["items"].as_array().unwrap().len(), 5);
        assert_eq!(v["items"][4]["id"], "github5");
        assert_eq!(v["items"][4]["delivery_id"], "dl-github5");
        assert!(v["items"][4]["event_type"].is_null());

        let (_, text) = run(&c, DlqCommand::List { route: Some("none".into()), json: false }).await;
        assert_eq!(text, "no dead letters\n");

        st.lock().unwrap().loop_cursor = true;
        let e = c.list_all(None).await.unwrap_err();
        assert!(e.to_string().contains("came back twice"), "{e}");
    }

    #[tokio::test]
    async fn show_prints_headers_history_and_only_a_preview_of_the_body() {
        let big: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
        let fake = Fake::with(vec![
            letter("github", "big", "gave up after 8 attempts", big.as_bytes()),
            letter("github", "bin", "x", &[0xff, 0x00, 0x1b]),
            letter("github", "evil", "flow said \u{1b}[31mred\u{1b}[0m", b"{\"a\":\"\x1b]0;title\x07\"}\n"),
            letter("r", "a b?c", "odd id", b""),
        ]);
        let (url, st) = serve(fake).await;
        let c = client(&url);

        let (r, text) = run(&c, DlqCommand::Show { target: "github/big".into(), body_out: None }).await;
        assert_eq!(r.unwrap(), ExitCode::SUCCESS);
        assert!(text.len() < 3_000, "{} bytes", text.len());
        assert!(text.starts_with("dead letter github/big\n  flow         6d1e0f8b\n"), "{text}");
        assert!(text.contains("  delivery id  dl-big\n"));
        assert!(text.contains(&format!("  body         {} bytes, application/json\n", big.len())));
        assert!(text.contains("  content-type: application/json\n"));
        assert!(text.contains("  ATTEMPT  AT                       STATUS  REASON\n"), "{text}");
        assert!(text.contains("  1        2023-11-14 20:15:00 UTC  503     flow answered 503\n"), "{text}");
        assert!(text.contains("  8        2023-11-14 22:08:20 UTC  -       timeout\n"), "{text}");
        assert!(text.contains("body:\nline 0\nline 1\n"));
        assert!(!text.contains("line 12\n"));
        assert!(text.contains(&format!("({} bytes in all: --body-out FILE saves them)", big.len())));

        let dir = std::env::temp_dir().join(format!("flowgate-dlq-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("body.bin");
        let (r, text) = run(&c, DlqCommand::Show { target: "github/big".into(), body_out: Some(path.clone()) }).await;
        r.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), big.as_bytes());
        assert!(text.contains(&format!("{} bytes written to {}", big.len(), path.display())));

        let (_, text) = run(&c, DlqCommand::Show { target: "github/bin".into(), body_out: None }).await;
        assert!(text.contains("(3 bytes, not UTF-8: save them with --body-out FILE)"), "{text}");
        let (_, text) = run(&c, DlqCommand::Show { target: "github/bin".into(), body_out: Some(path.clone()) }).await;
        assert!(text.contains("3 bytes written"));
        assert_eq!(std::fs::read(&path).unwrap(), [0xff, 0x00, 0x1b]);
        std::fs::remove_dir_all(&dir).unwrap();

        // Terminal escapes from the Worker's text never reach the terminal.
        let (_, text) = run(&c, DlqCommand::Show { target: "github/evil".into(), body_out: None }).await;
        assert!(!text.contains('\u{1b}') && !text.contains('\u{7}'), "{text:?}");
        assert!(text.contains("flow said ?[31mred?[0m"));
        let (_, text) = run(&c, DlqCommand::List { route: Some("github".into()), json: false }).await;
        assert!(!text.contains('\u{1b}'));

        // Ids are sent percent-encoded.
        log(&st);
        let (r, text) = run(&c, DlqCommand::Show { target: "r/a b?c".into(), body_out: None }).await;
        r.unwrap();
        assert!(text.contains("(empty body)"));
        assert_eq!(log(&st), ["GET /admin/v1/dead-letters/r/a%20b%3Fc"]);

        let (r, _) = run(&c, DlqCommand::Show { target: "github/nope".into(), body_out: None }).await;
        let e = r.unwrap_err();
        assert_eq!(refused(&e), (404, "not_found".into()));
        assert!(e.downcast_ref::<AdminError>().unwrap().hint().unwrap().contains("flowgate dlq list"));
        let (r, _) = run(&c, DlqCommand::Show { target: "no-slash".into(), body_out: None }).await;
        assert!(r.unwrap_err().to_string().contains("ROUTE/ID"));
    }

    #[tokio::test]
    async fn redrive_and_delete_one() {
        let fake = Fake::with(letters("github", 3));
        let (url, st) = serve(fake).await;
        let c = client(&url);
        let (r, text) = run(
            &c,
            DlqCommand::Redrive { target: Some("github/github2".into()), all: false, route: None, dry_run: false },
        )
        .await;
        assert_eq!(r.unwrap(), ExitCode::SUCCESS);
        assert_eq!(text, "redriven 1: github/github2 is queued for delivery again\n");
        let (r, _) = run(
            &c,
            DlqCommand::Redrive { target: Some("github/github2".into()), all: false, route: None, dry_run: false },
        )
        .await;
        assert_eq!(refused(&r.unwrap_err()), (404, "not_found".into()));
        let (r, text) =
            run(&c, DlqCommand::Delete { target: Some("github/github1".into()), all: false, route: None, yes: false })
                .await;
        assert_eq!(r.unwrap(), ExitCode::SUCCESS);
        assert_eq!(text, "deleted github/github1\n");
        assert_eq!(
            log(&st),
            [
                "POST /admin/v1/dead-letters/github/github2/redrive",
                "POST /admin/v1/dead-letters/github/github2/redrive",
                "DELETE /admin/v1/dead-letters/github/github1",
            ]
        );
        let left: Vec<String> = st.lock().unwrap().letters.iter().map(|l| l.summary.id.clone()).collect();
        assert_eq!(left, ["github3"]);
    }

    #[tokio::test]
    async fn redrive_all_repeats_while_letters_remain() {
        let mut fake = Fake::with(letters("github", 5));
        fake.letters.extend(letters("stripe", 3));
        let (url, st) = serve(fake).await;
        let c = client(&url);

        let (r, text) =
            run(&c, DlqCommand::Redrive { target: None, all: true, route: Some("github".into()), dry_run: false })
                .await;
        assert_eq!(r.unwrap(), ExitCode::SUCCESS);
        assert_eq!(text, "redriven 5 dead letter(s) of route github in 3 round(s); 0 remain\n");
        assert_eq!(log(&st), vec![r#"POST /admin/v1/dead-letters/redrive {"route":"github"}"#; 3]);
        assert_eq!(st.lock().unwrap().letters.len(), 3);

        let (r, text) = run(&c, DlqCommand::Redrive { target: None, all: true, route: None, dry_run: false }).await;
        assert_eq!(r.unwrap(), ExitCode::SUCCESS);
        assert_eq!(text, "redriven 3 dead letter(s) in 2 round(s); 0 remain\n");
        assert_eq!(log(&st), vec!["POST /admin/v1/dead-letters/redrive {}"; 2]);

        // Nothing to do: one round.
        let (r, text) = run(&c, DlqCommand::Redrive { target: None, all: true, route: None, dry_run: false }).await;
        assert_eq!(r.unwrap(), ExitCode::SUCCESS);
        assert_eq!(text, "redriven 0 dead letter(s) in 1 round(s); 0 remain\n");
    }

    #[tokio::test]
    async fn redrive_all_stops_when_a_round_redrives_none() {
        let mut fake = Fake::with(letters("github", 4));
        // The third and fourth cannot be redriven: round 1 redrives two,
        // round 2 meets only the stuck ones and redrives none.
        fake.stuck = ["github3".to_owned(), "github4".to_owned()].into();
        let (url, st) = serve(fake).await;
        let c = client(&url);
        let (r, text) = run(&c, DlqCommand::Redrive { target: None, all: true, route: None, dry_run: false }).await;
        assert_eq!(r.unwrap(), ExitCode::FAILURE);
        assert!(text.starts_with("redriven 2 dead letter(s) in 2 round(s); 2 remain\n"), "{text}");
        assert!(text.contains("not redriven: github/github3: queue send failed"), "{text}");
        assert!(text.contains("stopped: the last round redrove none of the 2 remaining"), "{text}");
        assert_eq!(log(&st).len(), 2);
    }

    #[tokio::test]
    async fn delete_all_lists_every_page_then_deletes_each() {
        let mut fake = Fake::with(letters("github", 4));
        fake.letters.extend(letters("stripe", 2));
        let (url, st) = serve(fake).await;
        let c = client(&url);
        let (r, text) =
            run(&c, DlqCommand::Delete { target: None, all: true, route: Some("github".into()), yes: true }).await;
        assert_eq!(r.unwrap(), ExitCode::SUCCESS);
        assert_eq!(text, "deleted 4 dead letter(s) of route github\n");
        let requests = log(&st);
        assert_eq!(requests.len(), 2 + 4, "{requests:?}");
        assert!(requests[2..].iter().all(|r| r.starts_with("DELETE /admin/v1/dead-letters/github/github")));
        let left: Vec<String> = st.lock().unwrap().letters.iter().map(|l| l.summary.id.clone()).collect();
        assert_eq!(left, ["stripe1", "stripe2"]);
        // Without --yes (only possible from Rust) nothing happens.
        let (r, _) = run(&c, DlqCommand::Delete { target: None, all: true, route: None, yes: false }).await;
        assert!(r.unwrap_err().to_string().contains("--yes"));
        assert!(log(&st).is_empty());
        let (r, text) = run(&c, DlqCommand::Delete { target: None, all: true, route: None, yes: true }).await;
        assert_eq!(r.unwrap(), ExitCode::SUCCESS);
        assert_eq!(text, "deleted 2 dead letter(s)\n");
    }

    #[test]
    fn ages_cuts_and_previews() {
        assert_eq!(age(NOW, NOW - 42), "42s");
        assert_eq!(age(NOW, NOW - 300), "5m");
        assert_eq!(age(NOW, NOW - 3 * 3600), "3h");
        assert_eq!(age(NOW, NOW - 2 * 86_400 - 5), "2d");
        assert_eq!(age(NOW, NOW + 5), "-");
        assert_eq!(age(NOW, 0), "-");
        assert_eq!(cut("héllo", 5), "héllo");
        assert_eq!(cut("héllo!", 5), "héll…");
        assert_eq!(preview(b"{\"a\":1}"), "{\"a\":1}\n");
        let long = "é".repeat(5000);
        let p = preview(long.as_bytes());
        assert!(p.starts_with(&"é".repeat(PREVIEW_CHARS)) && p.contains("10000 bytes in all"), "{p}");
    }
}
