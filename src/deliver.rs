//! One delivery attempt to a flow — token (memory → KV → Entra), POST, one
//! token refresh on a 401 — shared by `direct` routes (inline) and the queue
//! consumer. Also the per-isolate route secrets everything here needs.

use std::{cell::RefCell, collections::HashMap, rc::Rc, time::Duration};

use flowgate_core::{
    config::{check_flow_url, shared_key_problem, Config, Credential, EntraConfig, Flow, Route},
    delivery::AttemptOutcome,
    entra::{
        cache_key, CachedToken, CertificateCredential, ClientCredential, Io, KvSeal, TokenCache, TokenError,
        TokenOrigin,
    },
    envelope::EnvelopeSpec,
    forward::{classify, FlowOutcome, FlowRequest, RefusingFlows, Webhook},
    verify::key_material,
    Secret,
};
use worker::{Context, Env};

use crate::{
    bindings,
    entra_client::{EntraClient, WorkerRuntime},
    http,
    kv_token_store::KvTokenStore,
    log::{self, now_millis, Record},
};

thread_local! {
    // One token cache per isolate: concurrent webhooks share one Entra request.
    static TOKENS: TokenCache = TokenCache::new();
    // Flows that refused a fresh token: their 401s stop evicting the shared one.
    static REFUSING: Rc<RefusingFlows> = Rc::new(RefusingFlows::new());
    // Route secrets, read and derived once per isolate: a secret cannot change
    // while an isolate lives (changing one deploys a new version). The load
    // benchmark showed the per-request reads and derivations in the gap to a
    // bare pass-through Worker.
    static SECRETS: RefCell<HashMap<String, Rc<RouteSecrets>>> = RefCell::new(HashMap::new());
    // The same for flows: trigger URL and credential, by flow name.
    static FLOW_SECRETS: RefCell<HashMap<String, Rc<FlowSecrets>>> = RefCell::new(HashMap::new());
    // Per route: why it shares its key with another route, if it does.
    static SHARED_KEYS: RefCell<HashMap<String, Option<String>>> = RefCell::new(HashMap::new());
    // The main credential's seal (handed-over handshake secrets).
    static MAIN_SEAL: RefCell<Option<Rc<KvSeal>>> = const { RefCell::new(None) };
}

/// What a route needs from secrets to verify its sender, read before any
/// work is done.
pub(crate) struct RouteSecrets {
    pub(crate) signing: Vec<Secret>,
    pub(crate) verify_token: Option<Secret>,
}

/// What a flow needs from secrets: its trigger URL, and its credential's
/// derivations (the token's cache key, the KV seal, the prepared Entra
/// request). Flows sharing a credential share its cache entry.
pub(crate) struct FlowSecrets {
    pub(crate) flow_url: Secret,
    pub(crate) seal: KvSeal,
    pub(crate) cache_key: String,
    pub(crate) source: EntraClient,
    pub(crate) timeout_secs: u64,
    pub(crate) entra_timeout_secs: u64,
}

/// How one attempt ended, in more detail than the retry rules need (a
/// `direct` route relays it to the sender).
pub(crate) enum Attempt {
    Accepted { run_id: Option<String> },
    NoToken(TokenError),
    Timeout,
    Network(String),
    Refused { status: u16, code: Option<String>, retry_after: Option<u64> },
}

impl Attempt {
    /// The outcome as the retry rules see it.
    pub(crate) fn outcome(&self) -> AttemptOutcome {
        match self {
            Attempt::Accepted { .. } => AttemptOutcome::Answered { status: 202, retry_after: None, code: None },
            Attempt::NoToken(e) => {
                AttemptOutcome::NoToken { retry_after: e.retry_after(), reason: format!("{e}: {}", e.hint()) }
            }
            Attempt::Timeout => AttemptOutcome::Timeout,
            Attempt::Network(e) => AttemptOutcome::Network(e.clone()),
            Attempt::Refused { status, code, retry_after } => {
                AttemptOutcome::Answered { status: *status, retry_after: *retry_after, code: code.clone() }
            }
        }
    }
}

/// POSTs `webhook` to `flow` (its body raw or in the route's envelope) with
/// a token; one refresh and retry when a cached token is refused. Only an
/// accepted [`Webhook`] can be sent: the request is built from it
/// ([`FlowRequest`]). Fills the token and upstream fields of `rec`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn attempt(
    env: &Env,
    ctx: &Context,
    secrets: &FlowSecrets,
    webhook: &Webhook,
    flow: &Flow,
    envelope: &EnvelopeSpec,
    attempt_number: Option<u32>,
    rec: &mut Record<'_>,
) -> Attempt {
    let store = KvTokenStore(bindings::token_cache(env));
    let key = secrets.cache_key.clone();
    let source = secrets.source.clone();
    let cache = TOKENS.with(Clone::clone);
    let refusing = REFUSING.with(Rc::clone);
    // Wait on another request's token fetch a little longer than it may take
    // (three tries of the token endpoint's timeout).
    let max_wait_ms = (secrets.entra_timeout_secs * 3 + 2) * 1000;
    let io = Io { store: &store, source: &source, runtime: &WorkerRuntime, seal: &secrets.seal, max_wait_ms };
    let timeout = Duration::from_secs(secrets.timeout_secs);

    let mut refused: Option<CachedToken> = None;
    loop {
        rec.attempts += 1;
        let now = now_millis() / 1000;
        let avoid = refused.as_ref().map(|t| &t.access_token);
        let (token, origin) = match cache.get(&key, avoid, &io).await {
            Ok(t) => t,
            Err(e) => return Attempt::NoToken(e),
        };
        rec.token_source = Some(origin.name());
        if token.refresh_due(now) {
            refresh_in_background(ctx, &cache, &key, &store, &source, &secrets.seal, max_wait_ms);
        }
        let request = FlowRequest::new(webhook, flow.payload, envelope, attempt_number, &token.access_token);
        let answer = match http::post_flow(secrets.flow_url.expose(), &request, timeout).await {
            Ok(a) => a,
            Err(http::Failure::Timeout) => return Attempt::Timeout,
            Err(http::Failure::Network(e)) => return Attempt::Network(e),
        };
        rec.upstream_status = Some(answer.status);
        match classify(answer.status, &answer.body) {
            FlowOutcome::Accepted => return Attempt::Accepted { run_id: answer.header },
            FlowOutcome::Unauthorized { .. }
                if refused.is_none()
                    && matches!(origin, TokenOrigin::Memory | TokenOrigin::Kv)
                    && refusing.may_refresh_for(&secrets.flow_url, now) =>
            {
                // A cached token was refused (revoked, or expired early):
                // drop it everywhere and try once with a fresh one.
                cache.invalidate(&key, &token, &store).await;
                refused = Some(token);
            }
            FlowOutcome::Unauthorized { code } => {
                if origin == TokenOrigin::Entra {
                    // Even a fresh token is refused: this flow's settings
                    // reject the app. Stop evicting the shared token for a while.
                    refusing.record_fresh_refusal(&secrets.flow_url, now);
                }
                return Attempt::Refused { status: answer.status, code, retry_after: answer.retry_after };
            }
            FlowOutcome::Failed { status, code } => {
                return Attempt::Refused { status, code, retry_after: answer.retry_after }
            }
        }
    }
}

/// (obtained, expires, where) of the token cached for the route's
/// credential — this isolate's memory, else KV — for `GET /status`; never
/// the token itself.
pub(crate) async fn token_times(env: &Env, secrets: &FlowSecrets) -> Option<(u64, u64, &'static str)> {
    if let Some((obtained, expires)) = TOKENS.with(|c| c.memory_times(&secrets.cache_key)) {
        return Some((obtained, expires, "memory"));
    }
    let store = KvTokenStore(bindings::token_cache(env));
    let sealed = flowgate_core::entra::TokenStore::get(&store, &secrets.cache_key).await?;
    let t = secrets.seal.open(&secrets.cache_key, &sealed)?;
    Some((t.obtained_at, t.expires_at, "kv"))
}

/// From half its lifetime on, the token is replaced after the response, under
/// `ctx.wait_until`; one refresh per isolate and key.
fn refresh_in_background(
    ctx: &Context,
    cache: &TokenCache,
    key: &str,
    store: &KvTokenStore,
    source: &EntraClient,
    seal: &KvSeal,
    max_wait_ms: u64,
) {
    let Some(ticket) = cache.try_begin_refresh(key) else { return };
    let (cache, store, source, seal) = (cache.clone(), store.clone(), source.clone(), seal.clone());
    ctx.wait_until(async move {
        let io = Io { store: &store, source: &source, runtime: &WorkerRuntime, seal: &seal, max_wait_ms };
        match cache.refresh(ticket, &io).await {
            Ok(origin) => log::note("info", "token_refreshed", origin.name()),
            Err(e) => log::note("warn", "token_refresh_failed", &format!("{e}: {}", e.hint())),
        }
    });
}

/// The route's secrets from this isolate's memory, or read (and kept) now.
/// Failures are not kept: each request reports them.
pub(crate) fn route_secrets(env: &Env, route: &Route) -> Result<Rc<RouteSecrets>, String> {
    if let Some(s) = SECRETS.with(|m| m.borrow().get(&route.name).cloned()) {
        return Ok(s);
    }
    let missing = |name: &str, what: &str| missing(&format!("route {}", route.name), name, what);
    let mut signing = Vec::with_capacity(route.secret_bindings.len());
    for name in &route.secret_bindings {
        signing.push(bindings::secret(env, name).ok_or_else(|| missing(name, "webhook signing secret"))?);
    }
    let verify_token = match &route.verify_token_binding {
        Some(name) => Some(bindings::secret(env, name).ok_or_else(|| missing(name, "handshake verify token"))?),
        None => None,
    };
    let s = Rc::new(RouteSecrets { signing, verify_token });
    SECRETS.with(|m| m.borrow_mut().insert(route.name.clone(), Rc::clone(&s)));
    Ok(s)
}

/// Why `route` must not run because it holds the same key material as
/// another route ([`shared_key_problem`]), computed once per isolate. Keys
/// are compared as the verifiers derive them (a base64 secret decoded, a
/// public key parsed), in constant time; routes whose secrets are not set
/// are skipped (they answer 500 themselves).
pub(crate) fn shared_key_problem_of(env: &Env, config: &Config, route: &Route) -> Option<String> {
    if let Some(known) = SHARED_KEYS.with(|m| m.borrow().get(&route.name).cloned()) {
        return known;
    }
    let keys = |r: &Route| route_secrets(env, r).map(|s| key_material(&r.scheme, &s.signing)).unwrap_or_default();
    let mine = keys(route);
    let problem = config.routes.values().filter(|o| o.name != route.name).find_map(|other| {
        let theirs = keys(other);
        let shared = mine.iter().any(|a| theirs.iter().any(|b| flowgate_core::secret::ct_eq(a, b)));
        if shared {
            shared_key_problem(route, other)
        } else {
            None
        }
    });
    SHARED_KEYS.with(|m| m.borrow_mut().insert(route.name.clone(), problem.clone()));
    problem
}

/// Every flow a route can deliver to has its secrets (checked before a
/// webhook is accepted, so a misconfigured flow is a 500 the sender retries,
/// not a delivery that can never succeed).
pub(crate) fn check_route_flows(env: &Env, route: &Route, config: &Config) -> Result<(), String> {
    for name in route.rules.flows() {
        let flow = config.flows.get(name).ok_or_else(|| format!("route {}: no flow named {name}", route.name))?;
        flow_secrets(env, flow, config)?;
    }
    Ok(())
}

/// The flow's secrets from this isolate's memory, or read (and kept) now.
pub(crate) fn flow_secrets(env: &Env, flow: &Flow, config: &Config) -> Result<Rc<FlowSecrets>, String> {
    if let Some(s) = FLOW_SECRETS.with(|m| m.borrow().get(&flow.name).cloned()) {
        return Ok(s);
    }
    let s = Rc::new(read_flow_secrets(env, flow, config)?);
    FLOW_SECRETS.with(|m| m.borrow_mut().insert(flow.name.clone(), Rc::clone(&s)));
    Ok(s)
}

fn missing(owner: &str, name: &str, what: &str) -> String {
    format!(
        "{owner}: secret {name} ({what}) is not set; run `wrangler secret put {name}` (locally: add it to .dev.vars)"
    )
}

fn read_flow_secrets(env: &Env, flow: &Flow, config: &Config) -> Result<FlowSecrets, String> {
    let owner = format!("flow {}", flow.name);
    let missing = |name: &str, what: &str| missing(&owner, name, what);
    let flow_url =
        bindings::secret(env, &flow.url_binding).ok_or_else(|| missing(&flow.url_binding, "flow trigger URL"))?;
    check_flow_url(flow_url.expose(), config.credential(flow).cloud, flow.allow_any_host)
        .map_err(|why| format!("{owner}: secret {} (flow trigger URL) {why}", flow.url_binding))?;
    let entra = config.credential(flow);
    let credential = credential(env, entra, &owner)?;
    let seal = seal(env, entra, &credential)?;
    let cache_key = cache_key(entra, &credential);
    let source = EntraClient::new(Rc::new(entra.clone()), &credential);
    Ok(FlowSecrets {
        flow_url,
        seal,
        cache_key,
        source,
        timeout_secs: flow.timeout_secs,
        entra_timeout_secs: entra.timeout_secs,
    })
}

/// The client credential of `entra`, read from its secrets.
fn credential(env: &Env, entra: &EntraConfig, owner: &str) -> Result<ClientCredential, String> {
    let missing = |name: &str, what: &str| missing(owner, name, what);
    Ok(match &entra.credential {
        Credential::ClientSecret { binding } => ClientCredential::Secret(
            bindings::secret(env, binding).ok_or_else(|| missing(binding, "Entra client secret"))?,
        ),
        Credential::Certificate { private_key_binding, certificate_binding, algorithm } => {
            let key = bindings::secret(env, private_key_binding)
                .ok_or_else(|| missing(private_key_binding, "certificate private key, PKCS#8 PEM"))?;
            let cert = bindings::secret(env, certificate_binding)
                .ok_or_else(|| missing(certificate_binding, "certificate, PEM"))?;
            ClientCredential::Certificate(
                CertificateCredential::from_pem(&key, cert.expose(), *algorithm)
                    .map_err(|why| format!("{owner}: certificate: {why}"))?,
            )
        }
    })
}

/// The key that seals what flowgate keeps at rest for `entra`'s credential
/// (tokens in KV, handed-over secrets in the route ledger): the dedicated
/// `token_cache_key_binding`, else derived from the credential.
fn seal(env: &Env, entra: &EntraConfig, credential: &ClientCredential) -> Result<KvSeal, String> {
    match &entra.token_cache_key_binding {
        Some(name) => {
            let key =
                bindings::secret(env, name).ok_or_else(|| missing("entra", name, "token cache encryption key"))?;
            KvSeal::from_base64(&key).map_err(|why| format!("secret {name} (token cache encryption key) {why}"))
        }
        None => Ok(KvSeal::derived_from(credential.secret_material())),
    }
}

/// The seal of the main credential (`[vars.FLOWGATE.entra]`), per isolate:
/// handed-over handshake secrets are sealed with it in the route ledger.
pub(crate) fn main_seal(env: &Env, config: &Config) -> Result<Rc<KvSeal>, String> {
    if let Some(s) = MAIN_SEAL.with(|m| m.borrow().clone()) {
        return Ok(s);
    }
    let credential = credential(env, &config.entra, "entra")?;
    let s = Rc::new(seal(env, &config.entra, &credential)?);
    MAIN_SEAL.with(|m| *m.borrow_mut() = Some(Rc::clone(&s)));
    Ok(s)
}
