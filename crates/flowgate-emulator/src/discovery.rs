//! Entra's discovery documents, as real Microsoft clients (MSAL for Python,
//! msal-node, azure-identity) read them before their first token request:
//!
//! - `GET /{tenant}/v2.0/.well-known/openid-configuration` (what MSAL reads:
//!   it requires `authorization_endpoint` and `token_endpoint`, msal-node
//!   also `issuer` and `jwks_uri`);
//! - `GET /{tenant}/.well-known/openid-configuration` (v1);
//! - `GET /common/discovery/instance?authorization_endpoint=…` (instance
//!   discovery, which MSAL runs for an authority host it does not know,
//!   unless told not to: `instance_discovery=False`, `knownAuthorities`,
//!   `disable_instance_discovery=True`).
//!
//! The fields are Entra's, as its tenant-specific documents publish them.
//! Every absolute URL is built from the request's origin (`Host` or
//! `X-Forwarded-Host`, and the scheme it arrived on or `X-Forwarded-Proto`,
//! see [`RequestOrigin`]) rather than the bind address, so the document is
//! right on `0.0.0.0`, behind a proxy and over HTTPS; `issuer` is Entra's
//! own (`https://login.microsoftonline.com/{tid}/v2.0`, v1
//! `https://sts.windows.net/{tid}/`), which is what tokens and clients
//! compare, never a URL to fetch. `userinfo_endpoint` is on Microsoft Graph
//! at Entra; here it is on the emulator's origin like the rest (and answers
//! 401: there are no user sign-ins). The cloud fields (`cloud_instance_name`,
//! `cloud_graph_host_name`, `msgraph_host`) are the public cloud's:
//! emulated tenants have no cloud of their own (flows do).

use std::sync::Arc;

use axum::{
    extract::{Path, Query, State as AxState},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{
    entra::is_multi_tenant_alias,
    state::State,
    types::{correlation_id, v1_issuer, v2_issuer, EntraError, RequestOrigin},
};

/// Claims Entra lists in its tenant-specific v2 document.
const CLAIMS_SUPPORTED: [&str; 19] = [
    "sub",
    "iss",
    "cloud_instance_name",
    "cloud_instance_host_name",
    "cloud_graph_host_name",
    "msgraph_host",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "acr",
    "nonce",
    "preferred_username",
    "name",
    "tid",
    "ver",
    "at_hash",
    "c_hash",
    "email",
];

/// The tenant a discovery URL names: the GUID of a known tenant (Entra
/// writes the GUID into the document whether the URL named it or a domain),
/// or a multi-tenant alias as written, whose issuer is a `{tenantid}`
/// template.
enum Named {
    Tenant(String),
    Alias(String),
}

fn named(st: &State, tenant: &str) -> Option<Named> {
    match st.tenant(tenant) {
        Some(t) => Some(Named::Tenant(t.id.clone())),
        None if is_multi_tenant_alias(tenant) => Some(Named::Alias(tenant.to_ascii_lowercase())),
        None => None,
    }
}

/// Entra's v2 discovery document for `tenant`, its URLs on `origin`.
fn v2_document(origin: &RequestOrigin, tenant: &Named) -> Value {
    let (path, issuer) = match tenant {
        Named::Tenant(id) => (id.as_str(), v2_issuer(id)),
        Named::Alias(alias) => (alias.as_str(), v2_issuer("{tenantid}")),
    };
    let at = format!("{}/{path}", origin.as_str());
    json!({
        "token_endpoint": format!("{at}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        // Not in Entra's document: the emulator says which assertion
        // algorithms it checks (§3).
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "PS256"],
        "jwks_uri": format!("{at}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": issuer,
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": format!("{}/oidc/userinfo", origin.as_str()),
        "authorization_endpoint": format!("{at}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{at}/oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{at}/oauth2/v2.0/logout"),
        "claims_supported": CLAIMS_SUPPORTED,
        "kerberos_endpoint": format!("{at}/kerberos"),
        "tenant_region_scope": "WW",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    })
}

/// Entra's v1 discovery document for `tenant`, its URLs on `origin`.
fn v1_document(origin: &RequestOrigin, tenant: &Named) -> Value {
    let (path, issuer) = match tenant {
        Named::Tenant(id) => (id.as_str(), v1_issuer(id)),
        Named::Alias(alias) => (alias.as_str(), v1_issuer("{tenantid}")),
    };
    let at = format!("{}/{path}", origin.as_str());
    json!({
        "token_endpoint": format!("{at}/oauth2/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{at}/discovery/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
        "scopes_supported": ["openid"],
        "issuer": issuer,
        "microsoft_multi_refresh_token": true,
        "authorization_endpoint": format!("{at}/oauth2/authorize"),
        "device_authorization_endpoint": format!("{at}/oauth2/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{at}/oauth2/logout"),
        "claims_supported": [
            "sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
            "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "amr", "nonce", "email", "given_name",
            "family_name", "nickname",
        ],
        "check_session_iframe": format!("{at}/oauth2/checksession"),
        "userinfo_endpoint": format!("{at}/openid/userinfo"),
        "kerberos_endpoint": format!("{at}/kerberos"),
        "tenant_region_scope": "WW",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    })
}

fn document(st: &State, tenant: &str, headers: &HeaderMap, v2: bool) -> Response {
    let origin = st.origin(headers);
    match named(st, tenant) {
        Some(n) => Json(if v2 { v2_document(&origin, &n) } else { v1_document(&origin, &n) }).into_response(),
        None => EntraError::tenant_not_found(tenant).into_response(origin.as_str(), correlation_id(headers)),
    }
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`.
pub(crate) async fn openid_configuration(
    AxState(st): AxState<Arc<State>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    document(&st, &tenant, &headers, true)
}

/// `GET /{tenant}/.well-known/openid-configuration` (v1).
pub(crate) async fn openid_configuration_v1(
    AxState(st): AxState<Arc<State>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    document(&st, &tenant, &headers, false)
}

/// Query of the instance discovery endpoint.
#[derive(Deserialize)]
pub(crate) struct InstanceQuery {
    authorization_endpoint: Option<String>,
    #[serde(rename = "api-version")]
    api_version: Option<String>,
}

/// `GET /{tenant}/discovery/instance?api-version=1.1&authorization_endpoint=URL`
/// (MSAL calls it under `/common`): Entra's instance discovery. An
/// authorization endpoint on the emulator's host (the request's, or the bind
/// address's; ports aside) is a known instance: the answer names the tenant
/// discovery document of the tenant in its path on the request's origin (v2
/// when the endpoint is a v2 one, as Entra answers) and one metadata entry
/// whose aliases are that origin's host. Any
/// other host is `invalid_instance` (AADSTS50049), as Entra answers for a
/// host it does not know.
pub(crate) async fn instance_discovery(
    AxState(st): AxState<Arc<State>>,
    Path(_tenant): Path<String>,
    Query(q): Query<InstanceQuery>,
    headers: HeaderMap,
) -> Response {
    let origin = st.origin(&headers);
    let api_version = q.api_version.unwrap_or_else(|| "1.1".to_owned());
    let invalid = |why: &str| {
        EntraError::new(50_049, "invalid_instance", format!("Unknown or invalid instance. {why}"))
            .into_response(origin.as_str(), correlation_id(&headers))
    };
    let Some(endpoint) = q.authorization_endpoint else {
        return EntraError::new(
            90_014,
            "invalid_request",
            "The request body must contain the following parameter: 'authorization_endpoint'.",
        )
        .into_response(origin.as_str(), correlation_id(&headers));
    };
    let Some((scheme, rest)) = endpoint.split_once("://") else { return invalid("Not a URL.") };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    // MSAL names the instance by host name only (`https://{hostname}/{tenant}/oauth2/v2.0/authorize`,
    // the port dropped), so hosts are compared without ports.
    let host_of = |a: &str| {
        let a = a.split_once("://").map_or(a, |(_, rest)| rest);
        match a.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default().to_ascii_lowercase(),
            None => a.split(':').next().unwrap_or_default().to_ascii_lowercase(),
        }
    };
    let known = [host_of(origin.as_str()), host_of(st.base_url())];
    if !(scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http"))
        || !known.contains(&host_of(authority))
    {
        return invalid("The authority is not this emulator.");
    }
    let tenant = path.trim_start_matches('/').split('/').next().filter(|t| !t.is_empty()).unwrap_or("common");
    let version = if path.contains("/oauth2/v2.0/") { "/v2.0" } else { "" };
    // The document is on the origin this request came to (port included).
    let here = origin.as_str().split_once("://").map_or(origin.as_str(), |(_, a)| a).to_ascii_lowercase();
    let body = json!({
        "tenant_discovery_endpoint": format!("{}/{tenant}{version}/.well-known/openid-configuration", origin.as_str()),
        "api-version": api_version,
        "metadata": [{"preferred_network": here, "preferred_cache": here, "aliases": [here]}],
    });
    Json(body).into_response()
}

/// `GET /oidc/userinfo` and `GET /{tenant}/openid/userinfo`: there are no
/// user sign-ins, so no token is good here.
pub(crate) async fn userinfo() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [("www-authenticate", "Bearer error=\"invalid_token\", error_description=\"no user sign-ins here\"")],
    )
        .into_response()
}
