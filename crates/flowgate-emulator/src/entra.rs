//! Microsoft Entra ID's token endpoint, as far as the client-credentials
//! grant needs it: `POST /{tenant}/oauth2/v2.0/token` (and the v1
//! `/{tenant}/oauth2/token` with `resource=`), `GET /{tenant}/discovery/v2.0/keys`
//! and the `/error` page Entra-shaped error bodies point at. The discovery
//! documents are in `discovery.rs`.
//!
//! Behaviour follows /work/shared/reference/entra-power-automate.md §1.1–§3:
//! client secrets (form or HTTP Basic) and certificate credentials (client
//! assertions, checked in `assertion.rs`); the flow-service resources of all
//! five clouds (§1.2); and injected faults (`faults.rs`, §2 throttling),
//! served before a request is processed.

use std::{sync::Arc, time::Duration};

use axum::{
    body::{to_bytes, Body},
    extract::{Path, Query, State as AxState},
    http::{header, HeaderMap},
    response::{IntoResponse, Response},
    Json,
};
use base64::{
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
    Engine as _,
};
use rand::RngCore as _;
use serde::Serialize;
use serde_json::json;

use flowgate_core::config::Cloud;

use crate::{
    assertion::{self, Expected, JWT_BEARER},
    config::{AppConfig, TenantConfig},
    faults::{self, TokenFault},
    state::State,
    types::{correlation_id, echo, no_store, now_unix, v1_issuer, v2_issuer, EntraError, RequestOrigin},
};

/// Largest token-request body read; real requests are a few hundred bytes.
const MAX_TOKEN_REQUEST_BYTES: usize = 64 * 1024;

/// The only grant the emulator supports (§1.1).
const CLIENT_CREDENTIALS: &str = "client_credentials";

/// The suffix a client-credentials scope must carry (§1.1).
const DEFAULT_SCOPE_SUFFIX: &str = "/.default";

/// Which token endpoint a request came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// `/{tenant}/oauth2/v2.0/token`: `scope={resource}/.default` (§1.1).
    V2,
    /// `/{tenant}/oauth2/token`: `resource={resource}`, the trailing slash
    /// kept as written (§1.3 "v1 alternative"). Its answer carries
    /// `expires_on`, `not_before` and `resource`, the numbers as strings, as
    /// the v1 endpoint writes them.
    V1,
}

impl Endpoint {
    /// The endpoint's path under `/{tenant}`.
    pub(crate) fn path(self) -> &'static str {
        match self {
            Endpoint::V2 => "oauth2/v2.0/token",
            Endpoint::V1 => "oauth2/token",
        }
    }
}

/// Successful token response (§2 "Success").
#[derive(Serialize)]
struct TokenResponse {
    token_type: &'static str,
    expires_in: u64,
    ext_expires_in: u64,
    access_token: String,
}

/// Successful v1 token response: the same fields, numbers as strings, plus
/// `expires_on`, `not_before` and `resource`.
#[derive(Serialize)]
struct TokenResponseV1 {
    token_type: &'static str,
    expires_in: String,
    ext_expires_in: String,
    expires_on: String,
    not_before: String,
    resource: String,
    access_token: String,
}

/// What `issue` made: the answer's fields and the new token's `uti`.
struct Issued {
    access_token: String,
    uti: String,
    lifetime: u64,
    iat: u64,
    resource: String,
}

impl Issued {
    fn into_response(self, endpoint: Endpoint) -> Response {
        let lifetime = self.lifetime;
        match endpoint {
            Endpoint::V2 => Json(TokenResponse {
                token_type: "Bearer",
                expires_in: lifetime,
                ext_expires_in: lifetime,
                access_token: self.access_token,
            })
            .into_response(),
            Endpoint::V1 => Json(TokenResponseV1 {
                token_type: "Bearer",
                expires_in: lifetime.to_string(),
                ext_expires_in: lifetime.to_string(),
                expires_on: self.iat.saturating_add(lifetime).to_string(),
                not_before: self.iat.to_string(),
                resource: self.resource,
                access_token: self.access_token,
            })
            .into_response(),
        }
    }
}

/// Claims of an app-only v1 access token, in the order Entra writes them.
#[derive(Serialize)]
struct AppOnlyClaims<'a> {
    aud: &'a str,
    iss: String,
    iat: u64,
    nbf: u64,
    exp: u64,
    aio: String,
    appid: &'a str,
    appidacr: &'static str,
    idp: String,
    idtyp: &'static str,
    oid: &'a str,
    rh: String,
    sub: &'a str,
    tid: &'a str,
    uti: String,
    ver: &'static str,
}

fn random_b64(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Client credentials presented in one request.
struct Credentials {
    client_id: Option<String>,
    /// Every secret presented: the form's and/or the Basic header's.
    secrets: Vec<String>,
    /// `client_assertion_type` (§3).
    assertion_type: Option<String>,
    /// `client_assertion`: a JWT signed with a registered certificate's key.
    assertion: Option<String>,
}

/// Reads `client_id`/`client_secret` from the form and from an
/// `Authorization: Basic` header (RFC 6749 §2.3.1: base64 of
/// `urlencode(id):urlencode(secret)`). A malformed Basic header counts as no
/// credentials from that header.
fn credentials(form: &[(String, String)], headers: &HeaderMap) -> Credentials {
    let mut client_id = form_value(form, "client_id").map(str::to_owned);
    let mut secrets: Vec<String> = form_value(form, "client_secret").into_iter().map(str::to_owned).collect();
    if let Some((id, secret)) = basic_credentials(headers) {
        client_id.get_or_insert(id);
        if !secret.is_empty() {
            secrets.push(secret);
        }
    }
    let assertion_type = form_value(form, "client_assertion_type").map(str::to_owned);
    let assertion = form_value(form, "client_assertion").map(str::to_owned);
    Credentials { client_id, secrets, assertion_type, assertion }
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, b64) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(b64.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((form_decode(id), form_decode(secret)))
}

/// `application/x-www-form-urlencoded` decoding of a single value.
fn form_decode(s: &str) -> String {
    form_urlencoded::parse(format!("v={s}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
}

/// First value of a form field, treating an empty value as absent.
fn form_value<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

/// Constant-time comparison (the length is not secret).
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `POST /{tenant}/oauth2/v2.0/token`.
pub(crate) async fn token(st: AxState<Arc<State>>, tenant: Path<String>, headers: HeaderMap, body: Body) -> Response {
    token_at(Endpoint::V2, st, tenant, headers, body).await
}

/// `POST /{tenant}/oauth2/token` (v1: `resource=` instead of `scope=`).
pub(crate) async fn token_v1(
    st: AxState<Arc<State>>,
    tenant: Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    token_at(Endpoint::V1, st, tenant, headers, body).await
}

async fn token_at(
    endpoint: Endpoint,
    AxState(st): AxState<Arc<State>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // Read the body ourselves so that an oversized or broken body is still a
    // counted request with an Entra-shaped answer.
    let form: Vec<(String, String)> = match to_bytes(body, MAX_TOKEN_REQUEST_BYTES).await {
        // Entra reads the parameters only from a form body; anything else
        // (e.g. JSON) looks like a request without parameters.
        Ok(bytes) if is_form(&headers) => form_urlencoded::parse(&bytes).into_owned().collect(),
        _ => Vec::new(),
    };
    let creds = credentials(&form, &headers);
    let origin = st.origin(&headers);
    st.record_token_request(creds.client_id.as_deref().unwrap_or(""), creds.assertion.is_some());

    // An injected fault is served before any processing (§2 throttling).
    match st.next_token_fault() {
        None => {}
        Some(TokenFault::Delay { delay_ms }) => tokio::time::sleep(Duration::from_millis(delay_ms)).await,
        Some(fault) => {
            st.record_token_error();
            let scope = match endpoint {
                Endpoint::V2 => form_value(&form, "scope").unwrap_or_default().to_owned(),
                Endpoint::V1 => format!("{}/.default", form_value(&form, "resource").unwrap_or_default()),
            };
            let scope = scope.as_str();
            return faults::answer(&fault, &tenant, creds.client_id.as_deref().unwrap_or_default(), scope)
                .into_response(origin.as_str(), correlation_id(&headers));
        }
    }

    match issue(&st, endpoint, &tenant, &origin, &form, &creds) {
        Ok(issued) => {
            st.record_token_issued(issued.uti.clone());
            let mut resp = issued.into_response(endpoint);
            no_store(resp.headers_mut());
            resp
        }
        Err(e) => {
            st.record_token_error();
            e.into_response(origin.as_str(), correlation_id(&headers))
        }
    }
}

/// The token endpoint URLs a client assertion's `aud` may name for a request
/// to `/{tenant_in_url}/oauth2/v2.0/token` (or the v1 path): as sent and with the tenant GUID,
/// on the origin the request was sent to (what the discovery document
/// advertised to the client, `discovery.rs`) and on the emulator's bind
/// address (§3).
fn token_endpoints(
    st: &State,
    endpoint: Endpoint,
    tenant_in_url: &str,
    tenant: &TenantConfig,
    origin: &RequestOrigin,
) -> Vec<String> {
    let mut origins = vec![origin.as_str().to_owned()];
    if st.base_url() != origin.as_str() {
        origins.push(st.base_url().to_owned());
    }
    let mut out = Vec::new();
    for o in &origins {
        for t in [tenant_in_url, tenant.id.as_str()] {
            let url = format!("{o}/{t}/{}", endpoint.path());
            if !out.contains(&url) {
                out.push(url);
            }
        }
    }
    out
}

/// How the client authenticated; v1 tokens say so in `appidacr` ("1" for a
/// client secret, "2" for a certificate).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClientAuth {
    Secret,
    Certificate,
}

impl ClientAuth {
    fn appidacr(self) -> &'static str {
        match self {
            Self::Secret => "1",
            Self::Certificate => "2",
        }
    }
}

/// Checks the client's credential: secrets, or a client assertion (§3).
fn authenticate(
    st: &State,
    endpoint: Endpoint,
    tenant_in_url: &str,
    tenant: &TenantConfig,
    origin: &RequestOrigin,
    app: &AppConfig,
    creds: &Credentials,
) -> Result<ClientAuth, EntraError> {
    // Emulator choice for another assertion type: "AADSTS90011: Unexpected
    // client assertion type." (invalid_request), the answer Entra was seen
    // giving (ADAL for Ruby, 2016). AADSTS700024 is not used: Entra uses it
    // for "Client assertion is not within its valid time range".
    if let Some(t) = creds.assertion_type.as_deref().filter(|t| *t != JWT_BEARER) {
        return Err(EntraError::new(
            90_011,
            "invalid_request",
            format!("Unexpected client assertion type '{}'. Use '{JWT_BEARER}'.", echo(t)),
        ));
    }
    match (creds.secrets.is_empty(), creds.assertion.as_deref()) {
        // Emulator choice: one credential per request; both is a malformed
        // request (AADSTS90023 "InvalidRequest").
        (false, Some(_)) => Err(EntraError::new(
            90_023,
            "invalid_request",
            "The request contains both a client secret and a 'client_assertion'; send exactly one \
             client credential.",
        )),
        (true, None) if creds.assertion_type.is_some() => Err(EntraError::missing_parameter("client_assertion")),
        (true, None) => Err(EntraError::no_credential()),
        (true, Some(_)) if creds.assertion_type.is_none() => {
            Err(EntraError::missing_parameter("client_assertion_type"))
        }
        (true, Some(jwt)) => {
            let audiences = token_endpoints(st, endpoint, tenant_in_url, tenant, origin);
            let expected = Expected {
                client_id: &app.client_id,
                certificates: st.certificates(&app.tenant, &app.client_id),
                audiences: &audiences,
            };
            let accepted = assertion::verify(jwt, &expected)?;
            if !st.claim_assertion_jti(&app.client_id, &accepted.jti, accepted.exp) {
                return Err(assertion::replayed(&accepted.jti));
            }
            Ok(ClientAuth::Certificate)
        }
        // Every presented secret must be one of the app's current secrets
        // (several may be valid during rotation).
        (false, None) => {
            let all_valid = creds
                .secrets
                .iter()
                .all(|presented| app.client_secrets.iter().any(|s| ct_eq(s.as_bytes(), presented.as_bytes())));
            if all_valid {
                Ok(ClientAuth::Secret)
            } else {
                Err(EntraError::invalid_secret(&app.client_id))
            }
        }
    }
}

/// The token endpoint's checks, in order; returns the new token.
fn issue(
    st: &State,
    endpoint: Endpoint,
    tenant_name: &str,
    origin: &RequestOrigin,
    form: &[(String, String)],
    creds: &Credentials,
) -> Result<Issued, EntraError> {
    // 1. Tenant: GUID or domain (§1.1). The multi-tenant aliases cannot name
    //    the tenant whose app is asking (§2, 9001023 family).
    if is_multi_tenant_alias(tenant_name) {
        return Err(EntraError::new(
            9_001_023,
            "invalid_request",
            "The grant type isn't supported over the /common or /consumers endpoints. \
             Please use the /organizations or tenant-specific endpoint.",
        ));
    }
    let tenant = st.tenant(tenant_name).ok_or_else(|| EntraError::tenant_not_found(tenant_name))?;

    // 2. Grant type.
    let grant_type = form_value(form, "grant_type").ok_or_else(|| EntraError::missing_parameter("grant_type"))?;
    if grant_type != CLIENT_CREDENTIALS {
        return Err(EntraError::new(
            70_003,
            "unsupported_grant_type",
            format!("The app requested an unsupported grant type '{}'.", echo(grant_type)),
        ));
    }

    // 3. Client and its credential (§1.1, §2 codes 700016/7000218/7000215,
    //    §3 client assertions).
    let client_id = creds.client_id.as_deref().ok_or_else(|| EntraError::missing_parameter("client_id"))?;
    let app = st
        .app(&tenant.id, client_id)
        .ok_or_else(|| EntraError::unknown_client(client_id, tenant.domains.first().unwrap_or(&tenant.id)))?;
    let auth = authenticate(st, endpoint, tenant_name, tenant, origin, app, creds)?;

    // 4. Scope: exactly one `{resource}/.default` (§1.1); on the v1
    //    endpoint, `resource` as it is (§1.3).
    let resource = match endpoint {
        Endpoint::V2 => v2_resource(form)?,
        Endpoint::V1 => form_value(form, "resource").ok_or_else(|| EntraError::missing_parameter("resource"))?,
    };

    // 5. Resource: the flow service of any of the five clouds (§1.2). §1.3:
    //    the service's identifier ends in a slash, so
    //    `https://service.flow.microsoft.com//.default` yields `aud` =
    //    `https://service.flow.microsoft.com/`. Asking for
    //    `https://service.flow.microsoft.com/.default` still finds the
    //    resource, but `aud` is then written as requested, *without* the
    //    slash, and the flow later rejects the token (§1.2 exact match). The
    //    same holds in every cloud. One authority (this origin) serves all
    //    clouds, although the real ones differ (§3 authority hosts).
    let known = Cloud::ALL.iter().map(|&c| st.config().audience_of(c));
    let aud = if known.into_iter().any(|k| resource == k || resource == k.trim_end_matches('/')) {
        resource
    } else {
        return Err(EntraError::resource_not_found(resource, tenant.domains.first().unwrap_or(&tenant.id)));
    };

    // 6. Mint an app-only v1 token (§1.5): `oid`/`sub` are the service
    //    principal's object ID, not the client ID.
    let lifetime = st.config().token_lifetime_secs;
    let iat = now_unix();
    let iss = v1_issuer(&tenant.id);
    let uti = random_b64(16);
    let claims = AppOnlyClaims {
        aud,
        iss: iss.clone(),
        iat,
        nbf: iat,
        exp: iat.saturating_add(lifetime),
        aio: random_b64(48),
        appid: &app.client_id,
        appidacr: auth.appidacr(),
        idp: iss,
        idtyp: "app",
        oid: &app.service_principal_object_id,
        rh: format!("0.A{}", random_b64(40)),
        sub: &app.service_principal_object_id,
        tid: &tenant.id,
        uti: uti.clone(),
        ver: "1.0",
    };
    let access_token = st.key().sign(&claims).map_err(|_| {
        // Serialising a struct of strings and integers cannot fail; answer
        // like Entra's generic server error just in case.
        EntraError::new(90_033, "temporarily_unavailable", "A transient error has occurred.")
    })?;
    Ok(Issued { access_token, uti, lifetime, iat, resource: aud.to_owned() })
}

/// The resource of a v2 request's `scope`: exactly one `{resource}/.default`.
fn v2_resource(form: &[(String, String)]) -> Result<&str, EntraError> {
    let scope = form_value(form, "scope").ok_or_else(|| EntraError::missing_parameter("scope"))?;
    let scopes: Vec<&str> = scope.split(' ').filter(|s| !s.is_empty()).collect();
    if scopes.len() > 1 {
        return Err(EntraError::new(
            700_022,
            "invalid_scope",
            format!(
                "The provided value for the input parameter scope is not valid because it \
                 contains more than one resource. Scope {} is not valid.",
                echo(scope)
            ),
        ));
    }
    scopes
        .first()
        .and_then(|s| s.strip_suffix(DEFAULT_SCOPE_SUFFIX))
        .filter(|r| !r.is_empty())
        .ok_or_else(|| EntraError::invalid_scope(scope))
}

/// `GET /{tenant}/discovery/v2.0/keys` (also `/discovery/keys`): the signing
/// key as a JWKS, each key naming the issuer it signs for as Entra's do.
pub(crate) async fn keys(AxState(st): AxState<Arc<State>>, Path(tenant): Path<String>, headers: HeaderMap) -> Response {
    let issuer = match st.tenant(&tenant) {
        Some(t) => v2_issuer(&t.id),
        None if is_multi_tenant_alias(&tenant) => v2_issuer("{tenantid}"),
        None => {
            return EntraError::tenant_not_found(&tenant)
                .into_response(st.origin(&headers).as_str(), correlation_id(&headers))
        }
    };
    Json(json!({ "keys": [st.key().jwk(&issuer)] })).into_response()
}

/// `common`, `organizations` or `consumers`: they name no tenant.
pub(crate) fn is_multi_tenant_alias(tenant: &str) -> bool {
    ["common", "consumers", "organizations"].iter().any(|a| a.eq_ignore_ascii_case(tenant))
}

/// Query of `GET /error`.
#[derive(serde::Deserialize)]
pub(crate) struct ErrorQuery {
    code: Option<String>,
}

/// `GET /error?code=nnn`: the page `error_uri` points at.
pub(crate) async fn error_page(Query(q): Query<ErrorQuery>) -> String {
    let code = q.code.unwrap_or_default();
    let meaning = match code.as_str() {
        "90002" => "Tenant not found (wrong tenant ID or domain, or wrong cloud).",
        "9001023" => "Use a tenant-specific token endpoint, not /common or /consumers.",
        "900144" => "A required form parameter is missing (body must be form-urlencoded).",
        "70003" => "Unsupported grant_type; the emulator supports client_credentials only.",
        "700016" => "Application (client) ID not found in this tenant.",
        "7000218" => "No client_secret (form field or HTTP Basic) and no client_assertion was sent.",
        "7000215" => "Invalid client secret.",
        "7000222" => "The client secret has expired (injected fault only).",
        "700027" => {
            "Client assertion: unknown certificate thumbprint (x5t / x5t#S256), unsupported alg, or a \
                     signature that does not verify with the registered certificate."
        }
        "50012" => {
            "Client assertion rejected: wrong aud, iss or sub, expired or not yet valid, no jti, or a reused jti."
        }
        "50027" => "Client assertion is not a well-formed JWT, or names no certificate thumbprint.",
        "90011" => "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer.",
        "90023" => "Send either a client secret or a client assertion, not both.",
        "53003" => "Blocked by Conditional Access (injected fault only).",
        "90055" => "Throttled (injected fault): wait for Retry-After.",
        "50000" => "Sign-in service error (injected fault).",
        "90033" => "Transient service error (injected fault).",
        "70011" => "Invalid scope: client credentials need exactly `{resource}/.default`.",
        "700022" => "The scope names more than one resource.",
        "500011" => {
            "Resource principal not found; for a flow use its cloud's audience with a double slash, \
                     e.g. https://service.flow.microsoft.com//.default."
        }
        _ => "Unknown code.",
    };
    format!("AADSTS{}: {meaning}\n", echo(&code))
}
