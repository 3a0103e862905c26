//! `POST /hooks/{route}`: verify, obtain a token, forward.
//!
//! Steps, in order; each failure answers at once and forwards nothing:
//! (1) route and method; (2) every setting the route needs (fail closed);
//! (3) body size, then the raw bytes; (4) signature; (5) handshakes;
//! (6) token; (7) forward, with one token refresh on a 401.

use std::{rc::Rc, time::Duration};

use flowgate_core::{
    config::{check_flow_url, Config, Credential, Route},
    entra::TokenStore,
    entra::{
        cache_key, CachedToken, CertificateCredential, ClientCredential, Io, KvSeal, TokenCache, TokenError,
        TokenOrigin,
    },
    forward::{classify, flow_failure_hint, flow_headers, FlowOutcome, RefusingFlows},
    verify::{
        handshake::{self, Before},
        verify, Handshake, HandshakeReply, Inbound, VerifyError,
    },
    Headers, Secret,
};
use worker::{Context, Env, Method, Request};

use crate::{
    bindings,
    entra_client::{EntraClient, WorkerRuntime},
    http::{self, ReadError},
    kv_token_store::KvTokenStore,
    log::{self, now_millis, Record},
    plaid_keys,
    reply::Reply,
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
    static SECRETS: std::cell::RefCell<std::collections::HashMap<String, Rc<RouteSecrets>>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// Everything a route needs from secrets, read before any work is done, and
/// what is derived from them (the token's cache key, the KV seal, the
/// prepared Entra request).
struct RouteSecrets {
    signing: Vec<Secret>,
    verify_token: Option<Secret>,
    flow_url: Secret,
    seal: KvSeal,
    cache_key: String,
    source: EntraClient,
}

pub(crate) async fn handle(mut req: Request, env: &Env, ctx: &Context, route_name: &str, request_id: &str) -> Reply {
    let started = now_millis();
    let mut rec = Record { level: "info", request_id, route: route_name, ..Record::default() };
    let reply = run(&mut req, env, ctx, route_name, &mut rec).await;
    rec.status = reply.status();
    rec.duration_ms = now_millis().saturating_sub(started);
    if rec.status >= 500 {
        rec.level = "error";
    } else if rec.status >= 400 {
        rec.level = "warn";
    }
    log::emit(&rec);
    reply
}

async fn run(req: &mut Request, env: &Env, ctx: &Context, route_name: &str, rec: &mut Record<'_>) -> Reply {
    // (1) Route and method.
    let config = match bindings::config(env) {
        Ok(c) => c,
        Err(problems) => {
            rec.outcome = "misconfigured";
            rec.message = Some(format!(
                "{} configuration problem(s), first: {}; run `flowgate check`",
                problems.len(),
                problems.first().map(ToString::to_string).unwrap_or_default()
            ));
            return Reply::Misconfigured;
        }
    };
    let Some(route) = config.routes.get(route_name) else {
        rec.outcome = "unknown_route";
        return Reply::NotFound;
    };
    rec.provider = Some(route.provider.name);
    let method = req.method();
    let get_handshake = method == Method::Get && handshake::answers_get(route.provider.name);
    if method != Method::Post && !get_handshake {
        rec.outcome = "method_not_allowed";
        return Reply::MethodNotAllowed { allow: "POST" };
    }

    // (2) Settings, before reading anything from the sender.
    let secrets = match cached_route_secrets(env, route, &config) {
        Ok(s) => s,
        Err(message) => {
            rec.outcome = "misconfigured";
            rec.message = Some(message);
            return Reply::Misconfigured;
        }
    };
    // The URL as received, unparsed: parsing it with the `url` crate would
    // pull its IDNA tables (about 250 KB) into the Worker for nothing.
    let url = req.inner().url();

    // (3) Size, then the exact bytes. The body is read as a stream and
    // abandoned past the limit, so a body without Content-Length (chunked)
    // cannot make the isolate buffer more than the limit either.
    let declared = req.headers().get("content-length").ok().flatten().and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > route.max_body_bytes) {
        rec.outcome = "too_large";
        return Reply::PayloadTooLarge { max_bytes: route.max_body_bytes };
    }
    let limit = usize::try_from(route.max_body_bytes).unwrap_or(usize::MAX);
    let stream = if req.inner().body().is_some() { req.stream().ok() } else { None };
    let body = match http::read_capped(stream, limit, true).await {
        Ok(b) => b,
        Err(ReadError::TooLarge) => {
            rec.outcome = "too_large";
            return Reply::PayloadTooLarge { max_bytes: route.max_body_bytes };
        }
        Err(ReadError::Failed(e)) => {
            rec.outcome = "body_unreadable";
            rec.message = Some(e);
            return Reply::BadRequest;
        }
    };
    rec.body_bytes = body.len();
    let headers: Headers = req.headers().entries().collect();

    // Unsigned handshakes (Meta, Dropbox, Okta, Microsoft Graph, Twitter,
    // Asana, Notion), only on a route of that sender.
    let store = KvTokenStore(bindings::token_cache(env));
    let early = handshake::before_verification(
        route.provider.name,
        if get_handshake { "GET" } else { "POST" },
        &url,
        &headers,
        &body,
        &secrets.signing,
        secrets.verify_token.as_ref(),
    );
    match early {
        Some(Before::Answer(reply)) => {
            rec.outcome = "handshake";
            rec.event_type = Some(reply.name.to_owned());
            return Reply::HandshakeReply(reply);
        }
        Some(Before::Refuse(status, why)) => {
            rec.outcome = "handshake_refused";
            rec.message = Some(why.to_owned());
            return Reply::HandshakeRefused { status };
        }
        Some(Before::Store { secret, reply }) => {
            rec.event_type = Some(reply.name.to_owned());
            return keep_handshake_secret(&store, route, secret, reply, rec).await;
        }
        None if get_handshake => {
            rec.outcome = "method_not_allowed";
            return Reply::MethodNotAllowed { allow: "POST" };
        }
        None => {}
    }
    // Senders that handed their secret over in a handshake: verify with it too.
    let mut signing = secrets.signing.clone();
    if let Some(name) = handshake::stored_secret_name(route.provider.name) {
        if let Some(kept) = store.get(&handshake_key(&route.name, name)).await {
            signing.push(Secret::new(kept));
        }
    }
    // Plaid: the key its token names (memory → KV → Plaid's key endpoint).
    if let Some(plaid) = &route.plaid {
        match plaid_keys::verification_key(env, &store, route, plaid, &headers, rec).await {
            Ok(jwk) => signing.push(jwk),
            Err(reply) => return reply,
        }
    }

    // (4) Signature over the raw bytes.
    let inbound = Inbound { headers: &headers, body: &body, now_secs: now_millis() / 1000, method: "POST", url: &url };
    let verified = match verify(route.provider, &route.scheme, route.tolerance_override, &signing, inbound) {
        Ok(v) => v,
        Err(e) => return rejected(e, route, rec),
    };
    rec.delivery_id = verified.delivery_id().map(str::to_owned);
    rec.event_type = verified.event_type().map(str::to_owned);

    // (5) Handshakes are answered here; a flow could not answer in time.
    if let Some(Handshake::Ping(provider)) = verified.handshake() {
        rec.outcome = "handshake";
        return Reply::Handshake { what: format!("{provider}-ping") };
    }
    if let Some(reply) = handshake::after_verification(&verified, &headers, &signing) {
        rec.outcome = "handshake";
        rec.event_type = Some(reply.name.to_owned());
        return Reply::HandshakeReply(reply);
    }

    // (6) Token, (7) forward; one refresh and retry on a 401.
    let key = secrets.cache_key.clone();
    let source = secrets.source.clone();
    let cache = TOKENS.with(Clone::clone);
    let refusing = REFUSING.with(Rc::clone);
    // Wait on another request's token fetch a little longer than it may take
    // (three tries of the token endpoint's timeout).
    let max_wait_ms = (config.entra.timeout_secs * 3 + 2) * 1000;
    let io = Io { store: &store, source: &source, runtime: &WorkerRuntime, seal: &secrets.seal, max_wait_ms };
    let content_type = headers.get("content-type");
    let timeout = Duration::from_secs(route.flow_timeout_secs);

    let mut refused: Option<CachedToken> = None;
    loop {
        rec.attempts += 1;
        let now = now_millis() / 1000;
        let avoid = refused.as_ref().map(|t| &t.access_token);
        let (token, origin) = match cache.get(&key, avoid, &io).await {
            Ok(t) => t,
            Err(e) => return token_failed(&e, rec),
        };
        rec.token_source = Some(origin.name());
        if token.refresh_due(now) {
            refresh_in_background(ctx, &cache, &key, &store, &source, &secrets.seal, max_wait_ms);
        }
        let out_headers = flow_headers(&route.name, &verified, content_type, &token.access_token);
        let answer = match http::post(secrets.flow_url.expose(), &out_headers, &body, timeout, "x-ms-workflow-run-id")
            .await
        {
            Ok(a) => a,
            Err(http::Failure::Timeout) => {
                rec.outcome = "flow_timeout";
                rec.message = Some(format!("the flow did not answer within {} s", route.flow_timeout_secs));
                return Reply::FlowFailed {
                        status: None,
                        code: None,
                        hint: "the flow did not answer in time; it may still have started a run, so a redelivery can run it twice (flows can de-duplicate on x-flowgate-delivery)",
                    };
            }
            Err(http::Failure::Network(e)) => {
                rec.outcome = "flow_unreachable";
                rec.message = Some(format!("flow call failed: {e}"));
                return Reply::FlowFailed {
                    status: None,
                    code: None,
                    hint: "the flow could not be reached; nothing was delivered",
                };
            }
        };
        rec.upstream_status = Some(answer.status);
        match classify(answer.status, &answer.body) {
            FlowOutcome::Accepted => {
                rec.outcome = "forwarded";
                rec.flow_run_id = answer.header.clone();
                return Reply::Accepted {
                    route: route.name.clone(),
                    delivery_id: rec.delivery_id.clone(),
                    flow_run_id: answer.header,
                };
            }
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
                return flow_failed(answer.status, code, rec);
            }
            FlowOutcome::Failed { status, code } => return flow_failed(status, code, rec),
        }
    }
}

/// Where a handed-over handshake secret is kept (in the `TOKEN_CACHE` namespace).
fn handshake_key(route: &str, name: &str) -> String {
    format!("handshake/v1/{route}/{name}")
}

/// Keeps a secret handed over in a handshake — never replacing one already
/// kept, so nobody can re-register the route behind the operator's back —
/// and answers the sender.
async fn keep_handshake_secret(
    store: &KvTokenStore,
    route: &Route,
    secret: Secret,
    reply: HandshakeReply,
    rec: &mut Record<'_>,
) -> Reply {
    let Some(name) = handshake::stored_secret_name(route.provider.name) else { return Reply::Misconfigured };
    let key = handshake_key(&route.name, name);
    if store.0.is_none() {
        rec.outcome = "misconfigured";
        rec.message = Some("the handshake's secret cannot be kept: bind a KV namespace as TOKEN_CACHE".to_owned());
        return Reply::Misconfigured;
    }
    if store.get(&key).await.is_some() {
        rec.outcome = "handshake_refused";
        rec.message = Some(format!(
            "a {name} is already kept for route {}; to register again, delete it: npx wrangler kv key delete --binding TOKEN_CACHE \"{key}\"",
            route.name
        ));
        return Reply::HandshakeRefused { status: 409 };
    }
    store.put_permanent(&key, secret.expose().to_owned()).await;
    rec.outcome = "handshake";
    rec.message = Some(format!("kept the {name} for route {} (KV key {key})", route.name));
    Reply::HandshakeReply(reply)
}

fn flow_failed(status: u16, code: Option<String>, rec: &mut Record<'_>) -> Reply {
    let hint = flow_failure_hint(status, code.as_deref());
    rec.outcome = "flow_rejected";
    rec.error_code.clone_from(&code);
    rec.message = Some(hint.to_owned());
    Reply::FlowFailed { status: Some(status), code, hint }
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
fn cached_route_secrets(env: &Env, route: &Route, config: &Rc<Config>) -> Result<Rc<RouteSecrets>, String> {
    if let Some(s) = SECRETS.with(|m| m.borrow().get(&route.name).cloned()) {
        return Ok(s);
    }
    let s = Rc::new(route_secrets(env, route, config)?);
    SECRETS.with(|m| m.borrow_mut().insert(route.name.clone(), Rc::clone(&s)));
    Ok(s)
}

fn route_secrets(env: &Env, route: &Route, config: &Rc<Config>) -> Result<RouteSecrets, String> {
    let missing = |name: &str, what: &str| {
        format!(
            "route {}: secret {name} ({what}) is not set; run `wrangler secret put {name}` (locally: add it to .dev.vars)",
            route.name
        )
    };
    let mut signing = Vec::with_capacity(route.secret_bindings.len());
    for name in &route.secret_bindings {
        signing.push(bindings::secret(env, name).ok_or_else(|| missing(name, "webhook signing secret"))?);
    }
    let flow_url = bindings::secret(env, &route.flow_url_binding)
        .ok_or_else(|| missing(&route.flow_url_binding, "flow trigger URL"))?;
    check_flow_url(flow_url.expose())
        .map_err(|why| format!("route {}: secret {} (flow trigger URL) {why}", route.name, route.flow_url_binding))?;
    let credential = match &config.entra.credential {
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
                    .map_err(|why| format!("entra.certificate: {why}"))?,
            )
        }
    };
    let seal = match &config.entra.token_cache_key_binding {
        Some(name) => {
            let key = bindings::secret(env, name).ok_or_else(|| missing(name, "token cache encryption key"))?;
            KvSeal::from_base64(&key).map_err(|why| format!("secret {name} (token cache encryption key) {why}"))?
        }
        None => KvSeal::derived_from(credential.secret_material()),
    };
    let verify_token = match &route.verify_token_binding {
        Some(name) => Some(bindings::secret(env, name).ok_or_else(|| missing(name, "handshake verify token"))?),
        None => None,
    };
    let cache_key = cache_key(&config.entra, &credential);
    let source = EntraClient::new(Rc::clone(config), &credential);
    Ok(RouteSecrets { signing, verify_token, flow_url, seal, cache_key, source })
}

fn rejected(e: VerifyError, route: &Route, rec: &mut Record<'_>) -> Reply {
    rec.error_code = Some(e.code().to_owned());
    rec.message = Some(e.to_string());
    if e.is_config_error() {
        rec.outcome = "misconfigured";
        rec.message = Some(format!("route {}: {e}; fix the secret with `wrangler secret put`", route.name));
        Reply::Misconfigured
    } else {
        rec.outcome = "rejected";
        Reply::InvalidSignature
    }
}

fn token_failed(e: &TokenError, rec: &mut Record<'_>) -> Reply {
    rec.outcome = "token_failed";
    rec.error_code = Some(e.code());
    let trace = match e {
        TokenError::Entra { trace_id: Some(t), .. } => format!(" (Entra trace id {t})"),
        _ => String::new(),
    };
    rec.message = Some(format!("{e}: {}{trace}", e.hint()));
    Reply::TokenUnavailable { code: e.code(), hint: e.hint(), retry_after: e.retry_after() }
}
