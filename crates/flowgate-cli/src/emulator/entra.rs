//! Microsoft Entra ID, as far as the client-credentials grant needs it:
//! `POST /{tenant}/oauth2/v2.0/token`, `GET /{tenant}/discovery/v2.0/keys`,
//! the OpenID discovery document, and Entra-shaped error bodies.
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
    http::{header, HeaderMap, HeaderValue, StatusCode},
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

use super::{
    assertion::{self, Expected, JWT_BEARER},
    config::{AppConfig, Cloud, TenantConfig},
    faults::{self, TokenFault},
    state::{format_utc, now_unix, State},
};

/// Largest token-request body read; real requests are a few hundred bytes.
const MAX_TOKEN_REQUEST_BYTES: usize = 64 * 1024;

/// The only grant the emulator supports (§1.1).
const CLIENT_CREDENTIALS: &str = "client_credentials";

/// The suffix a client-credentials scope must carry (§1.1).
const DEFAULT_SCOPE_SUFFIX: &str = "/.default";

/// An Entra token-endpoint error, rendered as §2 "Error format" describes.
#[derive(Debug)]
pub(crate) struct EntraError {
    /// AADSTS number.
    pub(crate) code: u32,
    /// OAuth `error` value.
    pub(crate) error: &'static str,
    /// Text after `AADSTSnnn: `.
    pub(crate) message: String,
    /// HTTP status: 400 unless a fault asks for another.
    status: StatusCode,
    /// `Retry-After` seconds (429 faults).
    retry_after: Option<u64>,
}

impl EntraError {
    pub(crate) fn new(code: u32, error: &'static str, message: impl Into<String>) -> Self {
        Self { code, error, message: message.into(), status: StatusCode::BAD_REQUEST, retry_after: None }
    }

    /// The same error with another HTTP status (and `Retry-After`).
    pub(crate) fn with_status(mut self, status: StatusCode, retry_after: Option<u64>) -> Self {
        self.status = status;
        self.retry_after = retry_after;
        self
    }

    /// The HTTP status the error is sent with.
    #[cfg(test)]
    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    fn missing_parameter(name: &str) -> Self {
        Self::new(
            900_144,
            "invalid_request",
            format!("The request body must contain the following parameter: '{name}'."),
        )
    }

    fn tenant_not_found(tenant: &str) -> Self {
        Self::new(
            90_002,
            "invalid_request",
            format!(
                "Tenant '{}' not found. Check to make sure you have the correct tenant ID and \
                 are signing into the correct cloud. Check with your subscription \
                 administrator, this may happen if there are no active subscriptions for the \
                 tenant.",
                echo(tenant)
            ),
        )
    }

    fn unknown_client(client_id: &str, tenant: &TenantConfig) -> Self {
        let directory = tenant.domains.first().unwrap_or(&tenant.id);
        Self::new(
            700_016,
            "unauthorized_client",
            format!(
                "Application with identifier '{}' was not found in the directory '{directory}'. \
                 This can happen if the application has not been installed by the administrator \
                 of the tenant or consented to by any user in the tenant. You may have sent your \
                 authentication request to the wrong tenant.",
                echo(client_id)
            ),
        )
    }

    fn no_credential() -> Self {
        Self::new(
            7_000_218,
            "invalid_client",
            "The request body must contain the following parameter: 'client_assertion' or \
             'client_secret'.",
        )
    }

    fn invalid_secret(client_id: &str) -> Self {
        Self::new(
            7_000_215,
            "invalid_client",
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is \
                 the client secret value, not the client secret ID, for a secret added to app \
                 '{}'.",
                echo(client_id)
            ),
        )
    }

    /// AADSTS7000222 (§2), only ever sent as an injected fault: the emulator
    /// has no secret expiry dates.
    pub(crate) fn secret_expired(client_id: &str) -> Self {
        Self::new(
            7_000_222,
            "invalid_client",
            format!(
                "The provided client secret keys for app '{}' are expired. Visit the Azure portal \
                 to create new keys for your app: https://aka.ms/NewClientSecret, or consider using \
                 certificate credentials for added security: https://aka.ms/certCreds.",
                echo(client_id)
            ),
        )
    }

    /// AADSTS53003 (§2), only ever sent as an injected fault.
    pub(crate) fn blocked_by_conditional_access() -> Self {
        Self::new(
            53_003,
            "invalid_grant",
            "Access has been blocked by Conditional Access policies. The access policy does not \
             allow token issuance.",
        )
    }

    fn invalid_scope(scope: &str) -> Self {
        Self::new(
            70_011,
            "invalid_scope",
            format!(
                "The provided request must include a 'scope' input parameter. The provided value \
                 for the input parameter 'scope' is not valid. The scope {} is not valid.",
                echo(scope)
            ),
        )
    }

    fn resource_not_found(resource: &str, directory: &str) -> Self {
        Self::new(
            500_011,
            "invalid_resource",
            format!(
                "The resource principal named {} was not found in the tenant named {}. This can \
                 happen if the application has not been installed by the administrator of the \
                 tenant or consented to by any user in the tenant. You might have sent your \
                 authentication request to the wrong tenant.",
                echo(resource),
                echo(directory)
            ),
        )
    }

    /// The error Entra would send for `code`, for the codes an injected fault
    /// may name ([`faults::KNOWN_AADSTS`]); `None` for any other code. The
    /// request's tenant, client ID and scope fill the messages.
    pub(crate) fn for_code(code: u32, tenant: &str, client_id: &str, scope: &str) -> Option<Self> {
        let stand_in = |name: &str| TenantConfig { id: name.to_owned(), domains: Vec::new() };
        Some(match code {
            7_000_215 => Self::invalid_secret(client_id),
            7_000_222 => Self::secret_expired(client_id),
            7_000_218 => Self::no_credential(),
            700_016 => Self::unknown_client(client_id, &stand_in(tenant)),
            90_002 => Self::tenant_not_found(tenant),
            70_011 => Self::invalid_scope(scope),
            500_011 => Self::resource_not_found(scope.strip_suffix(DEFAULT_SCOPE_SUFFIX).unwrap_or(scope), tenant),
            53_003 => Self::blocked_by_conditional_access(),
            700_027 => Self::new(
                700_027,
                "invalid_client",
                "Client assertion contains an invalid signature. [Reason - The provided signature value \
                 did not match the expected signature value.]",
            ),
            50_012 => {
                Self::new(50_012, "invalid_client", "Client assertion audience claim does not match Realm issuer.")
            }
            _ => return None,
        })
    }

    /// The Entra JSON body with the error's status (400 unless a fault says
    /// otherwise). `correlation_id` echoes the caller's `client-request-id`
    /// when that is a GUID, as Entra does.
    pub(crate) fn into_response(self, base_url: &str, correlation_id: Option<String>) -> Response {
        let trace_id = uuid::Uuid::new_v4().to_string();
        let correlation_id = correlation_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let timestamp = format!("{}Z", format_utc(now_unix()));
        let description = format!(
            "AADSTS{}: {}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}",
            self.code, self.message
        );
        let body = json!({
            "error": self.error,
            "error_description": description,
            "error_codes": [self.code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": format!("{base_url}/error?code={}", self.code),
        });
        let mut resp = (self.status, Json(body)).into_response();
        no_store(resp.headers_mut());
        if let Some(secs) = self.retry_after {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

/// Truncates attacker-chosen text before it is echoed in an error message.
fn echo(s: &str) -> String {
    s.chars().take(128).collect()
}

fn no_store(h: &mut HeaderMap) {
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store, no-cache"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

fn correlation_id(headers: &HeaderMap) -> Option<String> {
    let v = headers.get("client-request-id")?.to_str().ok()?;
    uuid::Uuid::parse_str(v).ok().map(|u| u.to_string())
}

/// Successful token response (§2 "Success").
#[derive(Serialize)]
struct TokenResponse {
    token_type: &'static str,
    expires_in: u64,
    ext_expires_in: u64,
    access_token: String,
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

/// v1 issuer for a tenant (§1.5 "Token version").
pub(crate) fn v1_issuer(tenant_id: &str) -> String {
    format!("https://sts.windows.net/{tenant_id}/")
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
pub(crate) async fn token(
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
    st.record_token_request(creds.client_id.as_deref().unwrap_or(""), creds.assertion.is_some());

    // An injected fault is served before any processing (§2 throttling).
    match st.next_token_fault() {
        None => {}
        Some(TokenFault::Delay { delay_ms }) => tokio::time::sleep(Duration::from_millis(delay_ms)).await,
        Some(fault) => {
            st.record_token_error();
            let scope = form_value(&form, "scope").unwrap_or_default();
            return faults::answer(&fault, &tenant, creds.client_id.as_deref().unwrap_or_default(), scope)
                .into_response(st.base_url(), correlation_id(&headers));
        }
    }

    // Every spelling of the URL this request was sent to: `aud` of a client
    // assertion must be one of them (§3).
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    match issue(&st, &tenant, host, &form, &creds) {
        Ok((resp, uti)) => {
            st.record_token_issued(uti);
            let mut resp = Json(resp).into_response();
            no_store(resp.headers_mut());
            resp
        }
        Err(e) => {
            st.record_token_error();
            e.into_response(st.base_url(), correlation_id(&headers))
        }
    }
}

/// The token endpoint URLs a client assertion's `aud` may name for a request
/// to `/{tenant_in_url}/oauth2/v2.0/token`: as sent and with the tenant GUID,
/// on the emulator's origin and on the request's `Host` (§3).
fn token_endpoints(st: &State, tenant_in_url: &str, tenant: &TenantConfig, host: Option<&str>) -> Vec<String> {
    let mut origins = vec![st.base_url().to_owned()];
    if let Some(h) = host.filter(|h| !h.is_empty()) {
        let o = format!("http://{h}");
        if o != origins[0] {
            origins.push(o);
        }
    }
    let mut out = Vec::new();
    for o in &origins {
        for t in [tenant_in_url, tenant.id.as_str()] {
            let url = format!("{o}/{t}/oauth2/v2.0/token");
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
    tenant_in_url: &str,
    tenant: &TenantConfig,
    host: Option<&str>,
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
            let audiences = token_endpoints(st, tenant_in_url, tenant, host);
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

/// The token endpoint's checks, in order; returns the response and the new
/// token's `uti`.
fn issue(
    st: &State,
    tenant_name: &str,
    host: Option<&str>,
    form: &[(String, String)],
    creds: &Credentials,
) -> Result<(TokenResponse, String), EntraError> {
    // 1. Tenant: GUID or domain (§1.1). The multi-tenant aliases cannot name
    //    the tenant whose app is asking (§2, 9001023 family).
    if ["common", "consumers", "organizations"].iter().any(|a| a.eq_ignore_ascii_case(tenant_name)) {
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
    let app = st.app(&tenant.id, client_id).ok_or_else(|| EntraError::unknown_client(client_id, tenant))?;
    let auth = authenticate(st, tenant_name, tenant, host, app, creds)?;

    // 4. Scope: exactly one `{resource}/.default` (§1.1).
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
    let resource = scopes
        .first()
        .and_then(|s| s.strip_suffix(DEFAULT_SCOPE_SUFFIX))
        .filter(|r| !r.is_empty())
        .ok_or_else(|| EntraError::invalid_scope(scope))?;

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
    Ok((TokenResponse { token_type: "Bearer", expires_in: lifetime, ext_expires_in: lifetime, access_token }, uti))
}

/// `GET /{tenant}/discovery/v2.0/keys` (also `/discovery/keys`): the signing
/// key as a JWKS.
pub(crate) async fn keys(AxState(st): AxState<Arc<State>>, Path(tenant): Path<String>, headers: HeaderMap) -> Response {
    let issuer = match st.tenant(&tenant) {
        Some(t) => format!("https://login.microsoftonline.com/{}/v2.0", t.id),
        None if tenant.eq_ignore_ascii_case("common") => "https://login.microsoftonline.com/{tenantid}/v2.0".to_owned(),
        None => return EntraError::tenant_not_found(&tenant).into_response(st.base_url(), correlation_id(&headers)),
    };
    Json(json!({ "keys": [st.key().jwk(&issuer)] })).into_response()
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`, trimmed to the
/// fields a client-credentials client might read.
pub(crate) async fn openid_configuration(
    AxState(st): AxState<Arc<State>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(t) = st.tenant(&tenant) else {
        return EntraError::tenant_not_found(&tenant).into_response(st.base_url(), correlation_id(&headers));
    };
    let base = st.base_url();
    Json(json!({
        "token_endpoint": format!("{base}/{}/oauth2/v2.0/token", t.id),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "PS256"],
        "jwks_uri": format!("{base}/{}/discovery/v2.0/keys", t.id),
        "issuer": format!("https://login.microsoftonline.com/{}/v2.0", t.id),
        "id_token_signing_alg_values_supported": ["RS256"],
        "tenant_region_scope": "WW",
    }))
    .into_response()
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
