//! Microsoft Entra ID, as far as the client-credentials grant needs it:
//! `POST /{tenant}/oauth2/v2.0/token`, `GET /{tenant}/discovery/v2.0/keys`,
//! the OpenID discovery document, and Entra-shaped error bodies.
//!
//! Behaviour follows /work/shared/reference/entra-power-automate.md §1.1–§2.
//! Certificate credentials (`client_assertion`, §3) are not emulated.

use std::sync::Arc;

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

use super::state::{format_utc, now_unix, State};

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
    code: u32,
    /// OAuth `error` value.
    error: &'static str,
    /// Text after `AADSTSnnn: `.
    message: String,
}

impl EntraError {
    fn new(code: u32, error: &'static str, message: impl Into<String>) -> Self {
        Self { code, error, message: message.into() }
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

    /// HTTP 400 with the Entra JSON body. `correlation_id` echoes the
    /// caller's `client-request-id` when that is a GUID, as Entra does.
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
        let mut resp = (StatusCode::BAD_REQUEST, Json(body)).into_response();
        no_store(resp.headers_mut());
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
    Credentials { client_id, secrets }
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
    st.record_token_request(creds.client_id.as_deref().unwrap_or(""));
    match issue(&st, &tenant, &form, &creds) {
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

/// The token endpoint's checks, in order; returns the response and the new
/// token's `uti`.
fn issue(
    st: &State,
    tenant_name: &str,
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

    // 3. Client and its credentials (§1.1, §2 codes 700016/7000218/7000215).
    let client_id = creds.client_id.as_deref().ok_or_else(|| EntraError::missing_parameter("client_id"))?;
    let app = st.app(&tenant.id, client_id).ok_or_else(|| {
        let directory = tenant.domains.first().unwrap_or(&tenant.id);
        EntraError::new(
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
    })?;
    if creds.secrets.is_empty() {
        return Err(EntraError::new(
            7_000_218,
            "invalid_client",
            "The request body must contain the following parameter: 'client_assertion' or \
             'client_secret'.",
        ));
    }
    // Every presented secret must be one of the app's current secrets
    // (several may be valid during rotation).
    let all_valid = creds
        .secrets
        .iter()
        .all(|presented| app.client_secrets.iter().any(|s| ct_eq(s.as_bytes(), presented.as_bytes())));
    if !all_valid {
        return Err(EntraError::new(
            7_000_215,
            "invalid_client",
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is \
                 the client secret value, not the client secret ID, for a secret added to app \
                 '{}'.",
                app.client_id
            ),
        ));
    }

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
    let resource =
        scopes.first().and_then(|s| s.strip_suffix(DEFAULT_SCOPE_SUFFIX)).filter(|r| !r.is_empty()).ok_or_else(
            || {
                EntraError::new(
                    70_011,
                    "invalid_scope",
                    format!(
                        "The provided request must include a 'scope' input parameter. The provided \
                     value for the input parameter 'scope' is not valid. The scope {} is not \
                     valid.",
                        echo(scope)
                    ),
                )
            },
        )?;

    // 5. Resource. entra-power-automate.md §1.3: the flow service's identifier
    //    ends in a slash, so `https://service.flow.microsoft.com//.default`
    //    yields `aud` = `https://service.flow.microsoft.com/`. Asking for
    //    `https://service.flow.microsoft.com/.default` still finds the
    //    resource, but `aud` is then written as requested, *without* the
    //    slash, and the flow later rejects the token (§1.2 exact match).
    let known = st.config().flow_audience.as_str();
    let aud = if resource == known || resource == known.trim_end_matches('/') {
        resource
    } else {
        return Err(EntraError::new(
            500_011,
            "invalid_resource",
            format!(
                "The resource principal named {} was not found in the tenant named {}. This can \
                 happen if the application has not been installed by the administrator of the \
                 tenant or consented to by any user in the tenant. You might have sent your \
                 authentication request to the wrong tenant.",
                echo(resource),
                tenant.domains.first().unwrap_or(&tenant.id)
            ),
        ));
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
        appidacr: "1",
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
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
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
        "7000218" => "No client_secret (form field or HTTP Basic) was sent.",
        "7000215" => "Invalid client secret.",
        "70011" => "Invalid scope: client credentials need exactly `{resource}/.default`.",
        "700022" => "The scope names more than one resource.",
        "500011" => {
            "Resource principal not found; for a flow use \
                     https://service.flow.microsoft.com//.default (double slash)."
        }
        _ => "Unknown code.",
    };
    format!("AADSTS{}: {meaning}\n", echo(&code))
}
