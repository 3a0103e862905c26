//! HTTP-level tests of the emulator: `app(state).oneshot(..)` for most
//! behaviour, a real server (`Emulator::start` + reqwest) for expiry,
//! revocation, large bodies and delays. Client assertions are signed here
//! with the `rsa` crate and the fixture keys, and certificates are named by
//! thumbprints computed here, independently of `assertion.rs`.

use std::{
    net::SocketAddr,
    sync::{Arc, OnceLock},
    time::{Duration, Instant},
};

use axum::{
    body::{Body, Bytes},
    http::{header, HeaderMap, Request, StatusCode},
};
use base64::{
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
    Engine as _,
};
use http_body_util::BodyExt as _;
use rsa::{
    pkcs1v15,
    pkcs8::DecodePrivateKey as _,
    pss,
    signature::{RandomizedSigner as _, SignatureEncoding as _, Signer as _, Verifier as _},
    BigUint, RsaPrivateKey, RsaPublicKey,
};
use serde_json::{json, Value};
use sha1::Sha1;
use sha2::{Digest as _, Sha256};
use tower::ServiceExt as _;

use crate::{
    app,
    assertion::{RegisteredCertificate, JWT_BEARER},
    config::*,
    faults::KNOWN_AADSTS,
    flow::trigger_path,
    jwt::{decode_unverified, SigningKey, RSA_BITS},
    types::{now_unix, sha256_hex},
    Emulator, EmulatorConfig, FlowBehaviour, FlowFault, FlowRun, RunsSummary, State, Stats, TokenFault, ATTEMPT_HEADER,
    DELIVERY_HEADER, FLOWGATE_ID_HEADER, FLOW_FAULT_STATUSES,
};

const GOOD_SCOPE: &str = "https://service.flow.microsoft.com//.default";
const SLASHLESS_SCOPE: &str = "https://service.flow.microsoft.com/.default";
const FLOW_AUD: &str = "https://service.flow.microsoft.com/";
const MISMATCH_MESSAGE: &str = "One or more claims either missing or does not match with the \
                                open authentication access control policy.";

// ---- shared keys: RSA generation is slow, do it once per test binary ----

fn cached_key(cell: &'static OnceLock<RsaPrivateKey>) -> SigningKey {
    let key = cell.get_or_init(|| RsaPrivateKey::new(&mut rand::rngs::OsRng, RSA_BITS).expect("RSA key generation"));
    SigningKey::from_private_key(key.clone())
}

/// The key the oneshot tests' emulator signs with.
pub(crate) fn test_key() -> SigningKey {
    static KEY: OnceLock<RsaPrivateKey> = OnceLock::new();
    cached_key(&KEY)
}

static OTHER_KEY: OnceLock<RsaPrivateKey> = OnceLock::new();

/// A different key, for "signed by someone else" tests.
pub(crate) fn other_key() -> SigningKey {
    cached_key(&OTHER_KEY)
}

/// The private key behind [`other_key`].
fn other_rsa() -> RsaPrivateKey {
    other_key(); // initialise the cell
    OTHER_KEY.get().expect("initialised above").clone()
}

fn state_with(config: EmulatorConfig) -> Arc<State> {
    Arc::new(State::with_key(config, "http://emulator.test".into(), test_key()).unwrap())
}

fn demo_state() -> Arc<State> {
    state_with(EmulatorConfig::demo())
}

// ---- request helpers ----

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {:?}", String::from_utf8_lossy(&self.body)))
    }
}

async fn send(st: &Arc<State>, req: Request<Body>) -> Resp {
    let resp = app(Arc::clone(st)).oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    Resp { status, headers, body }
}

fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

fn token_request(tenant: &str, pairs: &[(&str, &str)]) -> Request<Body> {
    Request::post(format!("/{tenant}/oauth2/v2.0/token"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form(pairs)))
        .unwrap()
}

fn demo_form(scope: &str) -> Vec<(&str, &str)> {
    vec![
        ("grant_type", "client_credentials"),
        ("client_id", DEMO_CLIENT_ID),
        ("client_secret", DEMO_CLIENT_SECRET),
        ("scope", scope),
    ]
}

async fn token(st: &Arc<State>, scope: &str) -> String {
    let r = send(st, token_request(DEMO_TENANT_ID, &demo_form(scope))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.json()["access_token"].as_str().unwrap().to_owned()
}

fn trigger_request(flow_id: &str, bearer: Option<&str>, body: impl Into<Body>) -> Request<Body> {
    let mut b = Request::post(format!("{}?api-version=1", trigger_path(flow_id)))
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(t) = bearer {
        b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    b.body(body.into()).unwrap()
}

fn assert_mismatch(r: &Resp) {
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{:?}", r.body);
    assert_eq!(r.json(), json!({"error": {"code": "MisMatchingOAuthClaims", "message": MISMATCH_MESSAGE}}));
}

/// Claims like the emulator's own, for forging variants with a chosen key.
fn demo_claims() -> Value {
    let now = now_unix();
    json!({
        "aud": FLOW_AUD,
        "iss": format!("https://sts.windows.net/{DEMO_TENANT_ID}/"),
        "iat": now, "nbf": now, "exp": now + 600,
        "appid": DEMO_CLIENT_ID, "idtyp": "app",
        "oid": DEMO_SP_OBJECT_ID, "sub": DEMO_SP_OBJECT_ID,
        "tid": DEMO_TENANT_ID, "uti": "forged-uti", "ver": "1.0",
    })
}

// ---- Entra token endpoint ----

#[tokio::test]
async fn double_slash_scope_gives_aud_with_slash_and_verifiable_rs256() {
    let st = demo_state();
    let r = send(&st, token_request(DEMO_TENANT_ID, &demo_form(GOOD_SCOPE))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers[header::CACHE_CONTROL], "no-store, no-cache");
    let body = r.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["ext_expires_in"], 3599);
    let jwt = body["access_token"].as_str().unwrap();

    // Verify with the published JWKS only (n, e), independently of jwt.rs.
    let keys =
        send(&st, Request::get(format!("/{DEMO_TENANT_ID}/discovery/v2.0/keys")).body(Body::empty()).unwrap()).await;
    assert_eq!(keys.status, StatusCode::OK);
    let jwk = keys.json()["keys"][0].clone();
    assert_eq!(jwk["kty"], "RSA");
    assert_eq!(jwk["use"], "sig");
    let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
    let e = URL_SAFE_NO_PAD.decode(jwk["e"].as_str().unwrap()).unwrap();
    let public = RsaPublicKey::new(BigUint::from_bytes_be(&n), BigUint::from_bytes_be(&e)).unwrap();
    let (signing_input, sig) = jwt.rsplit_once('.').unwrap();
    let sig = pkcs1v15::Signature::try_from(URL_SAFE_NO_PAD.decode(sig).unwrap().as_slice()).unwrap();
    pkcs1v15::VerifyingKey::<Sha256>::new(public)
        .verify(signing_input.as_bytes(), &sig)
        .expect("RS256 signature verifies with the JWKS key");

    let (h, c) = decode_unverified(jwt).unwrap();
    assert_eq!(h["alg"], "RS256");
    assert_eq!(h["typ"], "JWT");
    assert_eq!(h["kid"], jwk["kid"]);
    assert_eq!(h["x5t"], jwk["kid"]);
    assert_eq!(c["aud"], FLOW_AUD);
    let iss = format!("https://sts.windows.net/{DEMO_TENANT_ID}/");
    assert_eq!(c["iss"], iss);
    assert_eq!(c["idp"], iss);
    assert_eq!(c["tid"], DEMO_TENANT_ID);
    assert_eq!(c["appid"], DEMO_CLIENT_ID);
    assert_eq!(c["appidacr"], "1");
    assert_eq!(c["idtyp"], "app");
    assert_eq!(c["ver"], "1.0");
    assert_eq!(c["oid"], DEMO_SP_OBJECT_ID, "oid is the service principal, §1.5");
    assert_eq!(c["sub"], DEMO_SP_OBJECT_ID);
    assert_ne!(c["oid"], DEMO_CLIENT_ID);
    assert_eq!(c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(), 3599);
    assert_eq!(c["nbf"], c["iat"]);
    let now = now_unix();
    assert!(c["iat"].as_u64().unwrap().abs_diff(now) <= 5);
    for k in ["aio", "rh", "uti"] {
        assert!(!c[k].as_str().unwrap().is_empty(), "{k}");
    }
    // Each token is unique.
    let c2 = decode_unverified(&token(&st, GOOD_SCOPE).await).unwrap().1;
    assert_ne!(c["uti"], c2["uti"]);
}

#[tokio::test]
async fn single_slash_scope_gives_slashless_aud_which_the_flow_rejects() {
    let st = demo_state();
    let jwt = token(&st, SLASHLESS_SCOPE).await;
    let claims = decode_unverified(&jwt).unwrap().1;
    assert_eq!(claims["aud"], "https://service.flow.microsoft.com");

    let r = send(&st, trigger_request(DEMO_FLOW_ANY_USER, Some(&jwt), "{}")).await;
    assert_mismatch(&r);
    let stats = st.stats();
    assert_eq!(stats.flow_rejected.len(), 1);
    assert_eq!(stats.flow_rejected[0].code, "MisMatchingOAuthClaims");
    assert!(stats.flow_rejected[0].detail.contains("trailing slash"));
    assert!(st.runs().is_empty());

    // The same app with the right scope gets in.
    let good = token(&st, GOOD_SCOPE).await;
    let r = send(&st, trigger_request(DEMO_FLOW_ANY_USER, Some(&good), "{}")).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
}

/// Sends a token request and checks the §2 error shape; returns the body.
async fn expect_entra_error(st: &Arc<State>, req: Request<Body>, error: &str, code: u64) -> Value {
    let r = send(st, req).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    check_entra_error(&r, error, code)
}

/// Checks a response has the §2 error shape with `error` and `code`.
fn check_entra_error(r: &Resp, error: &str, code: u64) -> Value {
    assert_eq!(r.headers[header::CACHE_CONTROL], "no-store, no-cache");
    let b = r.json();
    assert_eq!(b["error"], error, "{b}");
    assert_eq!(b["error_codes"], json!([code]), "{b}");
    let trace = b["trace_id"].as_str().unwrap();
    let corr = b["correlation_id"].as_str().unwrap();
    let ts = b["timestamp"].as_str().unwrap();
    uuid::Uuid::parse_str(trace).unwrap();
    uuid::Uuid::parse_str(corr).unwrap();
    // "yyyy-mm-dd hh:mm:ssZ"
    assert_eq!(ts.len(), 20, "{ts}");
    assert!(ts.ends_with('Z') && &ts[10..11] == " " && &ts[4..5] == "-", "{ts}");
    let desc = b["error_description"].as_str().unwrap();
    assert!(desc.starts_with(&format!("AADSTS{code}: ")), "{desc}");
    assert!(desc.ends_with(&format!("\r\nTrace ID: {trace}\r\nCorrelation ID: {corr}\r\nTimestamp: {ts}")), "{desc}");
    assert_eq!(b["error_uri"], format!("http://emulator.test/error?code={code}"));
    let keys: Vec<&String> = b.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 7, "{keys:?}");
    b
}

#[tokio::test]
async fn aadsts90002_unknown_tenant() {
    let st = demo_state();
    let b = expect_entra_error(
        &st,
        token_request("fabrikam.onmicrosoft.com", &demo_form(GOOD_SCOPE)),
        "invalid_request",
        90002,
    )
    .await;
    assert!(b["error_description"].as_str().unwrap().contains("Tenant 'fabrikam.onmicrosoft.com' not found"));
    expect_entra_error(
        &st,
        token_request("00000000-0000-0000-0000-000000000000", &demo_form(GOOD_SCOPE)),
        "invalid_request",
        90002,
    )
    .await;
}

#[tokio::test]
async fn aadsts700016_unknown_client() {
    let st = demo_state();
    let mut f = demo_form(GOOD_SCOPE);
    f[1].1 = "99999999-7c1d-4e8f-9a2b-3c4d5e6f7a81";
    expect_entra_error(&st, token_request(DEMO_TENANT_ID, &f), "unauthorized_client", 700016).await;
}

#[tokio::test]
async fn aadsts7000215_wrong_secret() {
    let st = demo_state();
    let mut f = demo_form(GOOD_SCOPE);
    f[2].1 = "not-the-secret";
    let b = expect_entra_error(&st, token_request(DEMO_TENANT_ID, &f), "invalid_client", 7000215).await;
    assert!(!b.to_string().contains("not-the-secret"), "no secret echo");
}

#[tokio::test]
async fn aadsts7000218_missing_secret() {
    let st = demo_state();
    let f: Vec<_> = demo_form(GOOD_SCOPE).into_iter().filter(|(k, _)| *k != "client_secret").collect();
    expect_entra_error(&st, token_request(DEMO_TENANT_ID, &f), "invalid_client", 7000218).await;
    // An empty value counts as missing.
    let mut f = demo_form(GOOD_SCOPE);
    f[2].1 = "";
    expect_entra_error(&st, token_request(DEMO_TENANT_ID, &f), "invalid_client", 7000218).await;
}

#[tokio::test]
async fn aadsts70011_scope_without_default() {
    let st = demo_state();
    for scope in
        ["https://service.flow.microsoft.com/", "https://service.flow.microsoft.com/user_impersonation", "/.default"]
    {
        expect_entra_error(&st, token_request(DEMO_TENANT_ID, &demo_form(scope)), "invalid_scope", 70011).await;
    }
}

#[tokio::test]
async fn aadsts700022_more_than_one_scope() {
    let st = demo_state();
    let scope = format!("{GOOD_SCOPE} https://graph.microsoft.com/.default");
    expect_entra_error(&st, token_request(DEMO_TENANT_ID, &demo_form(&scope)), "invalid_scope", 700022).await;
}

#[tokio::test]
async fn aadsts500011_unknown_resource() {
    let st = demo_state();
    for scope in [
        "https://graph.microsoft.com/.default",
        "https://api.powerplatform.com/.default",
        "https://service.flow.microsoft.com///.default",
    ] {
        let b =
            expect_entra_error(&st, token_request(DEMO_TENANT_ID, &demo_form(scope)), "invalid_resource", 500011).await;
        assert!(b["error_description"].as_str().unwrap().contains("resource principal named"));
    }
}

#[tokio::test]
async fn other_token_errors_and_bad_input_never_500() {
    let st = demo_state();
    let mut f = demo_form(GOOD_SCOPE);
    f[0].1 = "password";
    expect_entra_error(&st, token_request(DEMO_TENANT_ID, &f), "unsupported_grant_type", 70003).await;
    expect_entra_error(&st, token_request("common", &demo_form(GOOD_SCOPE)), "invalid_request", 9001023).await;
    let f: Vec<_> = demo_form(GOOD_SCOPE).into_iter().filter(|(k, _)| *k != "scope").collect();
    expect_entra_error(&st, token_request(DEMO_TENANT_ID, &f), "invalid_request", 900144).await;
    // A JSON body is not read as parameters.
    let req = Request::post(format!("/{DEMO_TENANT_ID}/oauth2/v2.0/token"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json!({"grant_type": "client_credentials"}).to_string()))
        .unwrap();
    expect_entra_error(&st, req, "invalid_request", 900144).await;
    // Broken percent-encoding is kept literally; non-UTF-8 bytes are lossy.
    let req = Request::post(format!("/{DEMO_TENANT_ID}/oauth2/v2.0/token"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(b"grant_type=%zz%&\xff\xfe=\x80&&==".to_vec()))
        .unwrap();
    expect_entra_error(&st, req, "unsupported_grant_type", 70003).await;
    let req = Request::post(format!("/{DEMO_TENANT_ID}/oauth2/v2.0/token"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(b"\xff\xfe=\x80&&==&%%%".to_vec()))
        .unwrap();
    expect_entra_error(&st, req, "invalid_request", 900144).await;
    // Malformed Basic header: no credentials from it.
    for basic in ["Basic !!!notbase64", "Basic ", "Basic Zm9v"] {
        let f: Vec<_> = demo_form(GOOD_SCOPE).into_iter().filter(|(k, _)| *k != "client_secret").collect();
        let mut req = token_request(DEMO_TENANT_ID, &f);
        req.headers_mut().insert(header::AUTHORIZATION, basic.parse().unwrap());
        expect_entra_error(&st, req, "invalid_client", 7000218).await;
    }
    // `client-request-id` becomes the correlation id.
    let mut req = token_request("nope", &demo_form(GOOD_SCOPE));
    let cid = "0f0e0d0c-0b0a-4908-8706-050403020100";
    req.headers_mut().insert("client-request-id", cid.parse().unwrap());
    let b = expect_entra_error(&st, req, "invalid_request", 90002).await;
    assert_eq!(b["correlation_id"], cid);
}

fn basic(id: &str, secret: &str) -> String {
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!("Basic {}", STANDARD.encode(format!("{}:{}", enc(id), enc(secret))))
}

#[tokio::test]
async fn basic_auth_works_with_url_encoded_secret_and_rotation() {
    let mut config = EmulatorConfig::demo();
    let tricky = "s3cr:t+with%sp ce&=/~";
    config.apps[0].client_secrets = vec!["old-secret".into(), tricky.into()];
    let st = state_with(config);
    for secret in ["old-secret", tricky] {
        let mut req = token_request(DEMO_TENANT_ID, &[("grant_type", "client_credentials"), ("scope", GOOD_SCOPE)]);
        req.headers_mut().insert(header::AUTHORIZATION, basic(DEMO_CLIENT_ID, secret).parse().unwrap());
        let r = send(&st, req).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let c = decode_unverified(r.json()["access_token"].as_str().unwrap()).unwrap().1;
        assert_eq!(c["appid"], DEMO_CLIENT_ID);
        // Form secret works for each rotated secret too.
        let mut f = demo_form(GOOD_SCOPE);
        f[2].1 = secret;
        let r = send(&st, token_request(DEMO_TENANT_ID, &f)).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    // Basic with a wrong secret.
    let mut req = token_request(DEMO_TENANT_ID, &[("grant_type", "client_credentials"), ("scope", GOOD_SCOPE)]);
    req.headers_mut().insert(header::AUTHORIZATION, basic(DEMO_CLIENT_ID, "wrong").parse().unwrap());
    expect_entra_error(&st, req, "invalid_client", 7000215).await;
    assert_eq!(st.stats().token_requests_by_client[DEMO_CLIENT_ID], 5);
}

#[tokio::test]
async fn tenant_by_domain_works_and_tokens_carry_the_guid() {
    let st = demo_state();
    for tenant in [DEMO_TENANT_DOMAIN, "Contoso.OnMicrosoft.com"] {
        let r = send(&st, token_request(tenant, &demo_form(GOOD_SCOPE))).await;
        assert_eq!(r.status, StatusCode::OK);
        let c = decode_unverified(r.json()["access_token"].as_str().unwrap()).unwrap().1;
        assert_eq!(c["tid"], DEMO_TENANT_ID);
        assert_eq!(c["iss"], format!("https://sts.windows.net/{DEMO_TENANT_ID}/"));
    }
    let keys =
        send(&st, Request::get(format!("/{DEMO_TENANT_DOMAIN}/discovery/v2.0/keys")).body(Body::empty()).unwrap())
            .await;
    assert_eq!(keys.status, StatusCode::OK);
    let unknown =
        send(&st, Request::get("/nope.onmicrosoft.com/discovery/v2.0/keys").body(Body::empty()).unwrap()).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown.json()["error_codes"], json!([90002]));
    let oidc = send(
        &st,
        Request::get(format!("/{DEMO_TENANT_DOMAIN}/v2.0/.well-known/openid-configuration"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(oidc.json()["token_endpoint"], format!("http://emulator.test/{DEMO_TENANT_ID}/oauth2/v2.0/token"));
}

// ---- flow trigger ----

#[tokio::test]
async fn no_bearer_is_401_direct_api_authorization_required() {
    let st = demo_state();
    let expected = json!({"error": {
        "code": "DirectApiAuthorizationRequired",
        "message": "The OAuth authorization scheme is required. Please add authentication scheme and try again."
    }});
    let r = send(&st, trigger_request(DEMO_FLOW_ANY_USER, None, "{}")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json(), expected);
    for auth in ["Basic Zm9vOmJhcg==", "Bearer", "Bearer   ", "token"] {
        let mut req = trigger_request(DEMO_FLOW_ANY_USER, None, "{}");
        req.headers_mut().insert(header::AUTHORIZATION, auth.parse().unwrap());
        let r = send(&st, req).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{auth}");
        assert_eq!(r.json(), expected, "{auth}");
    }
    assert!(st.runs().is_empty());
}

#[tokio::test]
async fn sig_plus_bearer_is_400() {
    let st = demo_state();
    let jwt = token(&st, GOOD_SCOPE).await;
    let req = Request::post(format!(
        "{}?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=abc",
        trigger_path(DEMO_FLOW_ANY_USER)
    ))
    .header(header::AUTHORIZATION, format!("Bearer {jwt}"))
    .body(Body::from("{}"))
    .unwrap();
    let r = send(&st, req).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"]["code"], "DirectApiRequestHasMoreThanOneAuthorization");
    assert!(st.runs().is_empty());
}

#[tokio::test]
async fn unknown_workflow_and_missing_api_version() {
    let st = demo_state();
    let jwt = token(&st, GOOD_SCOPE).await;
    let r = send(&st, trigger_request("deadbeef", Some(&jwt), "{}")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json()["error"]["code"], "WorkflowNotFound");

    let req = Request::post(trigger_path(DEMO_FLOW_ANY_USER))
        .header(header::AUTHORIZATION, format!("Bearer {jwt}"))
        .body(Body::from("{}"))
        .unwrap();
    let r = send(&st, req).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"]["code"], "MissingApiVersionParameter");
    assert!(st.runs().is_empty());
}

#[tokio::test]
async fn token_signed_by_another_key_is_rejected() {
    let st = demo_state();
    // Same kid as the emulator's, so only the signature itself differs.
    let ours = test_key();
    let mut forged = other_key().sign(&demo_claims()).unwrap();
    let (h, c) = decode_unverified(&forged).unwrap();
    assert_ne!(h["kid"], ours.kid());
    let header = json!({"typ": "JWT", "alg": "RS256", "kid": ours.kid(), "x5t": ours.kid()});
    let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(c.to_string()));
    let sig = {
        use rsa::signature::{SignatureEncoding as _, Signer as _};
        pkcs1v15::SigningKey::<Sha256>::new(other_rsa()).sign(input.as_bytes()).to_vec()
    };
    let same_kid = format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig));
    for t in [&forged, &same_kid] {
        let r = send(&st, trigger_request(DEMO_FLOW_ANY_USER, Some(t), "{}")).await;
        assert_mismatch(&r);
    }
    // Payload swapped under a genuine signature.
    let genuine = token(&st, SLASHLESS_SCOPE).await;
    let parts: Vec<&str> = genuine.split('.').collect();
    let mut claims = decode_unverified(&genuine).unwrap().1;
    claims["aud"] = json!(FLOW_AUD);
    forged = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(claims.to_string()), parts[2]);
    let r = send(&st, trigger_request(DEMO_FLOW_ANY_USER, Some(&forged), "{}")).await;
    assert_mismatch(&r);
    // Garbage bearer values.
    for t in ["abc", "a.b.c", "e30.e30.", "!!.??.**", &"x.".repeat(20_000)] {
        let r = send(&st, trigger_request(DEMO_FLOW_ANY_USER, Some(t), "{}")).await;
        assert_mismatch(&r);
    }
    assert!(st.runs().is_empty());
    assert_eq!(st.stats().flow_rejected.len(), 8);
}

#[tokio::test]
async fn claim_policy_checks_with_emulator_signed_tokens() {
    let st = demo_state();
    let key = test_key();
    let now = now_unix();
    let accept = |mutate: &dyn Fn(&mut Value)| {
        let mut c = demo_claims();
        mutate(&mut c);
        key.sign(&c).unwrap()
    };
    type Mutation = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Mutation, bool)> = vec![
        ("baseline", Box::new(|_| {}), true),
        (
            "v2 issuer",
            Box::new(|c| c["iss"] = json!(format!("https://login.microsoftonline.com/{DEMO_TENANT_ID}/v2.0"))),
            true,
        ),
        ("no nbf", Box::new(|c| drop(c.as_object_mut().unwrap().remove("nbf"))), true),
        ("no exp", Box::new(|c| drop(c.as_object_mut().unwrap().remove("exp"))), false),
        ("exp now", Box::new(move |c| c["exp"] = json!(now)), false),
        ("exp string", Box::new(move |c| c["exp"] = json!("9999999999")), false),
        ("nbf future", Box::new(move |c| c["nbf"] = json!(now + 60)), false),
        ("no aud", Box::new(|c| drop(c.as_object_mut().unwrap().remove("aud"))), false),
        ("aud array", Box::new(|c| c["aud"] = json!([FLOW_AUD])), false),
        ("other aud", Box::new(|c| c["aud"] = json!("https://graph.microsoft.com")), false),
        ("other tid", Box::new(|c| c["tid"] = json!("00000000-0000-0000-0000-000000000000")), false),
        (
            "other iss",
            Box::new(|c| c["iss"] = json!("https://sts.windows.net/00000000-0000-0000-0000-000000000000/")),
            false,
        ),
        ("no iss", Box::new(|c| drop(c.as_object_mut().unwrap().remove("iss"))), false),
    ];
    for (name, mutate, ok) in &cases {
        let t = accept(mutate.as_ref());
        let r = send(&st, trigger_request(DEMO_FLOW_ANY_USER, Some(&t), "{}")).await;
        if *ok {
            assert_eq!(r.status, StatusCode::ACCEPTED, "{name}: {:?}", r.body);
        } else {
            assert_mismatch(&r);
        }
    }
    // The configured mismatch status is used.
    let mut config = EmulatorConfig::demo();
    config.mismatch_status = 403;
    let st403 = state_with(config);
    let t = accept(&|c| c["aud"] = json!("https://service.flow.microsoft.com"));
    let r = send(&st403, trigger_request(DEMO_FLOW_ANY_USER, Some(&t), "{}")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.json()["error"]["code"], "MisMatchingOAuthClaims");
    assert_eq!(st403.stats().flow_rejected[0].status, 403);
}

#[tokio::test]
async fn specific_users_allows_listed_oid_only() {
    let st = demo_state();
    let jwt = token(&st, GOOD_SCOPE).await;
    let r = send(&st, trigger_request(DEMO_FLOW_SPECIFIC_DEMO_APP, Some(&jwt), "{}")).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let r = send(&st, trigger_request(DEMO_FLOW_SPECIFIC_OTHER, Some(&jwt), "{}")).await;
    assert_mismatch(&r);
    let rej = &st.stats().flow_rejected[0];
    assert_eq!(rej.flow_id, DEMO_FLOW_SPECIFIC_OTHER);
    assert!(rej.detail.contains("oid"), "{}", rej.detail);

    // A token for the other object ID (same tenant) is accepted there.
    let key = test_key();
    let mut c = demo_claims();
    c["oid"] = json!(DEMO_OTHER_OBJECT_ID.to_uppercase());
    let other = key.sign(&c).unwrap();
    let r = send(&st, trigger_request(DEMO_FLOW_SPECIFIC_OTHER, Some(&other), "{}")).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    // Putting the *client id* in the allow list does not help (§1.5).
    let mut config = EmulatorConfig::demo();
    config.flows[1].allowed_object_ids = vec![DEMO_CLIENT_ID.into()];
    let st2 = state_with(config);
    let r = send(&st2, trigger_request(DEMO_FLOW_SPECIFIC_DEMO_APP, Some(&jwt), "{}")).await;
    assert_mismatch(&r);
}

#[tokio::test]
async fn blank_allow_list_behaves_like_any_user_and_tenant_must_match() {
    let mut config = EmulatorConfig::demo();
    config.flows[2].allowed_object_ids.clear();
    let other_tenant = "22222222-3333-4444-5555-666666666666";
    config.tenants.push(TenantConfig { id: other_tenant.into(), domains: vec!["fabrikam.onmicrosoft.com".into()] });
    config.apps.push(AppConfig {
        tenant: other_tenant.into(),
        client_id: "33333333-0000-0000-0000-000000000000".into(),
        client_secrets: vec!["fabrikam-secret".into()],
        certificates: Vec::new(),
        service_principal_object_id: "44444444-0000-0000-0000-000000000000".into(),
        display_name: String::new(),
    });
    let st = state_with(config);
    let jwt = token(&st, GOOD_SCOPE).await;
    let r = send(&st, trigger_request(DEMO_FLOW_SPECIFIC_OTHER, Some(&jwt), "{}")).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);

    // The demo client id does not exist in the other tenant.
    let r = send(&st, token_request("fabrikam.onmicrosoft.com", &demo_form(GOOD_SCOPE))).await;
    assert_eq!(r.json()["error_codes"], json!([700016]));
    // A genuine token from the other tenant is refused by a contoso flow.
    let r = send(
        &st,
        token_request(
            "fabrikam.onmicrosoft.com",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "33333333-0000-0000-0000-000000000000"),
                ("client_secret", "fabrikam-secret"),
                ("scope", GOOD_SCOPE),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let foreign_tenant = r.json()["access_token"].as_str().unwrap().to_owned();
    let r = send(&st, trigger_request(DEMO_FLOW_ANY_USER, Some(&foreign_tenant), "{}")).await;
    assert_mismatch(&r);
    assert!(st.stats().flow_rejected[0].detail.contains("tid"));
}

#[tokio::test]
async fn revoke_rejects_old_tokens_and_new_ones_work() {
    let st = demo_state();
    let old = token(&st, GOOD_SCOPE).await;
    let r = send(&st, trigger_request(DEMO_FLOW_ANY_USER, Some(&old), "1")).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let r = send(&st, Request::post("/_emulator/revoke").body(Body::empty()).unwrap()).await;
    assert_eq!(r.json(), json!({"revoked_tokens": 1}));
    let r = send(&st, trigger_request(DEMO_FLOW_ANY_USER, Some(&old), "2")).await;
    assert_mismatch(&r);
    let new = token(&st, GOOD_SCOPE).await;
    let r = send(&st, trigger_request(DEMO_FLOW_ANY_USER, Some(&new), "3")).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let runs = st.runs();
    assert_eq!(runs.len(), 2);
    assert_ne!(runs[0].token_id, runs[1].token_id);
}

#[tokio::test]
async fn accepted_run_keeps_exact_bytes_headers_and_claims() {
    let st = demo_state();
    let jwt = token(&st, GOOD_SCOPE).await;
    let uti = decode_unverified(&jwt).unwrap().1["uti"].clone();
    // > 2 MB (above axum's default limit) with every byte value, non-UTF-8.
    let big: Vec<u8> =
        (0..(2 * 1024 * 1024 + 12_345)).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    assert!(String::from_utf8(big.clone()).is_err());
    let mut req = trigger_request(DEMO_FLOW_ANY_USER, Some(&jwt), big.clone());
    req.headers_mut().insert("X-Flowgate-Source", "github".parse().unwrap());
    req.headers_mut().append("x-multi", "a".parse().unwrap());
    req.headers_mut().append("x-multi", "b".parse().unwrap());
    let r = send(&st, req).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    assert!(r.body.is_empty());
    let run_id = r.headers["x-ms-workflow-run-id"].to_str().unwrap().to_owned();
    assert!(run_id.starts_with("08584") && run_id.len() == 34, "{run_id}");

    let text = "{\"msg\":\"héllo\"}";
    let r = send(&st, trigger_request(DEMO_FLOW_ANY_USER, Some(&jwt), text)).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);

    let runs = st.runs();
    assert_eq!(runs.len(), 2);
    let run: &FlowRun = &runs[0];
    assert_eq!(run.run_id, run_id);
    assert_eq!(run.flow_id, DEMO_FLOW_ANY_USER);
    assert_eq!(run.body, big);
    assert_eq!(run.body_len, big.len() as u64);
    assert_eq!(run.body_sha256, sha256_hex(&big));
    assert_eq!(run.headers["authorization"], "Bearer <redacted>");
    assert_eq!(run.headers["x-flowgate-source"], "github");
    assert_eq!(run.headers["x-multi"], "a, b");
    assert_eq!(run.token_id, uti.as_str().unwrap());
    assert_eq!(run.token_claims["aud"], FLOW_AUD);
    assert!(run.received_at.abs_diff(now_unix()) <= 5);

    // The inspection endpoint serves the same, base64 plus text when UTF-8.
    let r = send(&st, Request::get("/_emulator/runs").body(Body::empty()).unwrap()).await;
    let v = r.json();
    assert!(!r.body.windows(jwt.len()).any(|w| w == jwt.as_bytes()), "token leaked");
    assert_eq!(STANDARD.decode(v["runs"][0]["body_base64"].as_str().unwrap()).unwrap(), big);
    assert!(v["runs"][0].get("body_text").is_none());
    assert_eq!(v["runs"][1]["body_text"], text);
    let parsed: Vec<FlowRun> = serde_json::from_value(v["runs"].clone()).unwrap();
    assert_eq!(parsed, runs);
}

#[tokio::test]
async fn oversized_body_is_413_and_counted() {
    let mut st = State::with_key(EmulatorConfig::demo(), "http://e".into(), test_key()).unwrap();
    st.set_max_body_bytes(1000);
    let st = Arc::new(st);
    let jwt = token(&st, GOOD_SCOPE).await;
    let r = send(&st, trigger_request(DEMO_FLOW_ANY_USER, Some(&jwt), vec![b'a'; 1000])).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let r = send(&st, trigger_request(DEMO_FLOW_ANY_USER, Some(&jwt), vec![b'a'; 1001])).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    let s = st.stats();
    assert_eq!((s.flow_requests, s.flow_accepted), (2, 1));
    assert_eq!(s.flow_rejected[0].status, 413);
}

#[tokio::test]
async fn stats_count_every_request_and_reset_clears() {
    let st = demo_state();
    token(&st, GOOD_SCOPE).await; // ok
    let jwt = token(&st, GOOD_SCOPE).await; // ok
    send(&st, token_request("nope", &demo_form(GOOD_SCOPE))).await; // error
    let mut f = demo_form(GOOD_SCOPE);
    f[1].1 = "other-client";
    send(&st, token_request(DEMO_TENANT_ID, &f)).await; // error
    send(&st, token_request(DEMO_TENANT_ID, &[("grant_type", "client_credentials")])).await; // error, no client id

    send(&st, trigger_request(DEMO_FLOW_ANY_USER, Some(&jwt), "a")).await; // 202
    send(&st, trigger_request(DEMO_FLOW_ANY_USER, None, "b")).await; // 401
    send(&st, trigger_request("nope", Some(&jwt), "c")).await; // 404
    send(&st, trigger_request(DEMO_FLOW_SPECIFIC_OTHER, Some(&jwt), "d")).await; // mismatch

    let r = send(&st, Request::get("/_emulator/stats").body(Body::empty()).unwrap()).await;
    let s: Stats = serde_json::from_value(r.json()).unwrap();
    assert_eq!(s, st.stats());
    assert_eq!(s.token_requests, 5);
    assert_eq!(s.tokens_issued, 2);
    assert_eq!(s.token_errors, 3);
    assert_eq!(
        s.token_requests_by_client,
        [(String::new(), 1), (DEMO_CLIENT_ID.to_owned(), 3), ("other-client".to_owned(), 1)].into_iter().collect()
    );
    assert_eq!(s.flow_requests, 4);
    assert_eq!(s.flow_accepted, 1);
    let rej: Vec<(&str, u16, &str)> =
        s.flow_rejected.iter().map(|r| (r.flow_id.as_str(), r.status, r.code.as_str())).collect();
    assert_eq!(
        rej,
        vec![
            (DEMO_FLOW_ANY_USER, 401, "DirectApiAuthorizationRequired"),
            ("nope", 404, "WorkflowNotFound"),
            (DEMO_FLOW_SPECIFIC_OTHER, 401, "MisMatchingOAuthClaims"),
        ]
    );

    let r = send(&st, Request::post("/_emulator/reset").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(st.stats(), Stats::default());
    assert!(st.runs().is_empty());
    // Tokens survive a reset.
    let r = send(&st, trigger_request(DEMO_FLOW_ANY_USER, Some(&jwt), "a")).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn index_and_error_page_are_plain_text() {
    let st = demo_state();
    let r = send(&st, Request::get("/").body(Body::empty()).unwrap()).await;
    let text = String::from_utf8(r.body.to_vec()).unwrap();
    assert!(text.contains(&trigger_path(DEMO_FLOW_ANY_USER)));
    assert!(text.contains("/_emulator/runs"));
    assert!(text.contains("/_emulator/faults"));
    assert!(text.contains("/_emulator/runs/summary"));
    assert!(text.contains("/_emulator/flow-behaviour"));
    assert!(text.contains("\"flow\":  [{\"status\":503,\"retry_after\":5}"), "{text}");
    assert!(text.contains("client_assertion"));
    for cloud in Cloud::ALL {
        assert!(text.contains(&format!("{}/.default", cloud.flow_audience())), "{text}");
    }
    assert!(text.contains(&format!(
        "{}?api-version=1   [gcc-high, any-user-in-tenant, enabled]",
        trigger_path(DEMO_FLOW_GCC_HIGH)
    )));
    assert!(!text.contains(DEMO_CLIENT_SECRET));
    let r = send(&st, Request::get("/error?code=500011").body(Body::empty()).unwrap()).await;
    assert!(String::from_utf8_lossy(&r.body).starts_with("AADSTS500011:"));
    let r = send(&st, Request::get("/nowhere/at/all/x/y").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

// ---- a real server over TCP ----

fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

async fn http_token(client: &reqwest::Client, e: &Emulator) -> String {
    let r = client
        .post(format!("{}/{DEMO_TENANT_ID}/oauth2/v2.0/token", e.base_url()))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form(&demo_form(GOOD_SCOPE)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    v["access_token"].as_str().unwrap().to_owned()
}

async fn http_trigger(client: &reqwest::Client, e: &Emulator, token: &str, body: Vec<u8>) -> reqwest::Response {
    client.post(e.flow_url(DEMO_FLOW_ANY_USER)).bearer_auth(token).body(body).send().await.unwrap()
}

#[tokio::test]
async fn real_server_expiry_revoke_large_body_and_shutdown() {
    let config = EmulatorConfig { token_lifetime_secs: 1, ..EmulatorConfig::demo() };
    let e = Emulator::start(config, localhost()).await.unwrap();
    assert!(e.base_url().starts_with("http://127.0.0.1:"));
    assert_ne!(e.addr().port(), 0);
    assert_eq!(
        e.flow_url("abc"),
        format!(
            "{}/powerautomate/automations/direct/workflows/abc/triggers/manual/paths/invoke?api-version=1",
            e.base_url()
        )
    );
    let client = reqwest::Client::new();

    // Expiry: lifetime 1 s, no clock-skew allowance.
    let short = http_token(&client, &e).await;
    let c = decode_unverified(&short).unwrap().1;
    assert_eq!(c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(), 1);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r = http_trigger(&client, &e, &short, b"late".to_vec()).await;
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "MisMatchingOAuthClaims");
    assert!(e.stats().flow_rejected[0].detail.contains("expired"));
    e.shutdown().await;

    // Revocation and a large non-UTF-8 body over a real socket.
    let e = Emulator::start(EmulatorConfig::demo(), localhost()).await.unwrap();
    let old = http_token(&client, &e).await;
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8 ^ 0x80).collect();
    let r = http_trigger(&client, &e, &old, big.clone()).await;
    assert_eq!(r.status(), 202);
    let run_id = r.headers()["x-ms-workflow-run-id"].to_str().unwrap().to_owned();
    e.revoke_tokens_issued_before_now();
    let r = http_trigger(&client, &e, &old, b"x".to_vec()).await;
    assert_eq!(r.status(), 401);
    let new = http_token(&client, &e).await;
    let r = http_trigger(&client, &e, &new, b"y".to_vec()).await;
    assert_eq!(r.status(), 202);

    let runs = e.runs();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].run_id, run_id);
    assert_eq!(runs[0].body, big);
    assert_eq!(runs[1].body, b"y");
    let v: Value = client.get(format!("{}/_emulator/runs", e.base_url())).send().await.unwrap().json().await.unwrap();
    assert_eq!(v["runs"][1]["body_text"], "y");
    let s = e.stats();
    assert_eq!((s.token_requests, s.tokens_issued, s.flow_requests, s.flow_accepted), (2, 2, 3, 2));
    e.reset();
    assert!(e.runs().is_empty());
    assert_eq!(e.stats(), Stats::default());

    let base = e.base_url();
    e.shutdown().await;
    assert!(client.get(format!("{base}/")).send().await.is_err());
}

#[tokio::test]
async fn banner_lists_urls_and_shows_secrets_only_for_the_demo() {
    let e = Emulator::start(EmulatorConfig::demo(), localhost()).await.unwrap();
    let demo = crate::command::banner(&e, true, None);
    for flow in [
        DEMO_FLOW_ANY_USER,
        DEMO_FLOW_SPECIFIC_DEMO_APP,
        DEMO_FLOW_SPECIFIC_OTHER,
        DEMO_FLOW_GCC,
        DEMO_FLOW_GCC_HIGH,
        DEMO_FLOW_DOD,
        DEMO_FLOW_CHINA,
    ] {
        assert!(demo.contains(&e.flow_url(flow)), "{demo}");
    }
    for s in [
        DEMO_TENANT_ID,
        DEMO_CLIENT_ID,
        DEMO_CLIENT_SECRET,
        "/_emulator/runs",
        "/_emulator/faults",
        GOOD_SCOPE,
        "https://service.powerautomate.cn//.default",
        "certificates 1",
        "[china, any-user-in-tenant, enabled]",
    ] {
        assert!(demo.contains(s), "{s} missing from {demo}");
    }
    assert!(!crate::command::banner(&e, false, None).contains(DEMO_CLIENT_SECRET));
    e.shutdown().await;
}

// ---- certificate credentials (client assertions, §3) ----

const TEST_KEY_PEM: &str = include_str!("../../../tests/fixtures/entra-test-key.pem");
const OTHER_CERT_PEM: &str = include_str!("../../../tests/fixtures/entra-other-cert.pem");
const OTHER_KEY_PEM: &str = include_str!("../../../tests/fixtures/entra-other-key.pem");
/// `openssl x509 -outform der | openssl sha1 -binary | base64url` of the
/// registered test certificate: computed outside this code base.
const TEST_CERT_X5T: &str = "l9R5MQqZn5ZWNqKw2MUreJqiMT8";

/// DER of a PEM certificate, decoded here by hand.
fn pem_der(pem: &str) -> Vec<u8> {
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(b64).unwrap()
}

fn x5t(cert_pem: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha1::digest(pem_der(cert_pem)))
}

fn x5t_s256(cert_pem: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(pem_der(cert_pem)))
}

#[derive(Clone, Copy, Debug)]
enum Alg {
    /// RSASSA-PKCS1-v1_5 + SHA-256, named by `x5t`.
    Rs256,
    /// RSASSA-PSS + SHA-256, MGF1-SHA-256, 32-byte salt, named by `x5t#S256`.
    Ps256,
}

fn private_key(pem: &str) -> RsaPrivateKey {
    RsaPrivateKey::from_pkcs8_pem(pem).unwrap()
}

/// Signs `input` as `alg` with `key`.
fn rsa_sign(key: &RsaPrivateKey, alg: Alg, input: &str) -> Vec<u8> {
    match alg {
        Alg::Rs256 => pkcs1v15::SigningKey::<Sha256>::new(key.clone()).sign(input.as_bytes()).to_vec(),
        Alg::Ps256 => {
            pss::SigningKey::<Sha256>::new(key.clone()).sign_with_rng(&mut rand::rngs::OsRng, input.as_bytes()).to_vec()
        }
    }
}

/// A compact JWT with exactly this header and these claims.
fn signed_jwt(key: &RsaPrivateKey, alg: Alg, header: &Value, claims: &Value) -> String {
    let input =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let sig = rsa_sign(key, alg, &input);
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// The §3 header for `alg` naming `cert_pem`.
fn assertion_header(alg: Alg, cert_pem: &str) -> Value {
    match alg {
        Alg::Rs256 => json!({"alg": "RS256", "typ": "JWT", "x5t": x5t(cert_pem)}),
        Alg::Ps256 => json!({"alg": "PS256", "typ": "JWT", "x5t#S256": x5t_s256(cert_pem)}),
    }
}

/// The token endpoint of the oneshot tests' emulator, tenant as given.
fn endpoint(tenant: &str) -> String {
    format!("http://emulator.test/{tenant}/oauth2/v2.0/token")
}

/// §3 claims for the demo app, valid for 5 minutes, with a fresh `jti`.
fn assertion_claims(aud: &str) -> Value {
    let now = now_unix();
    json!({
        "aud": aud,
        "iss": DEMO_CLIENT_ID,
        "sub": DEMO_CLIENT_ID,
        "jti": uuid::Uuid::new_v4().to_string(),
        "nbf": now,
        "iat": now,
        "exp": now + 300,
    })
}

/// A valid assertion for the demo app and the demo tenant's GUID endpoint.
fn demo_assertion(alg: Alg) -> String {
    let claims = assertion_claims(&endpoint(DEMO_TENANT_ID));
    signed_jwt(&private_key(TEST_KEY_PEM), alg, &assertion_header(alg, DEMO_CERT_PEM), &claims)
}

fn assertion_request(tenant: &str, assertion: &str, scope: &str) -> Request<Body> {
    token_request(
        tenant,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", DEMO_CLIENT_ID),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", assertion),
            ("scope", scope),
        ],
    )
}

/// A token request with `assertion` to the demo tenant's GUID endpoint.
async fn send_assertion(st: &Arc<State>, assertion: &str) -> Resp {
    send(st, assertion_request(DEMO_TENANT_ID, assertion, GOOD_SCOPE)).await
}

/// Sends `assertion`; expects an `invalid_client` error with `code` whose
/// description contains `needle`.
async fn expect_assertion_error(st: &Arc<State>, assertion: &str, code: u64, needle: &str) {
    let r = send_assertion(st, assertion).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    let b = check_entra_error(&r, "invalid_client", code);
    let desc = b["error_description"].as_str().unwrap();
    assert!(desc.contains(needle), "{needle:?} not in {desc}");
}

#[test]
fn thumbprints_match_an_independent_computation() {
    // The fixture thumbprint computed by openssl, the test helper's and the
    // emulator's all agree.
    assert_eq!(x5t(DEMO_CERT_PEM), TEST_CERT_X5T);
    let parsed = RegisteredCertificate::from_pem(DEMO_CERT_PEM).unwrap();
    assert_eq!(parsed.x5t(), TEST_CERT_X5T);
    assert_eq!(parsed.x5t_s256(), x5t_s256(DEMO_CERT_PEM));
    assert_ne!(x5t(OTHER_CERT_PEM), TEST_CERT_X5T);
}

#[tokio::test]
async fn rs256_x5t_assertion_gets_a_token_with_the_apps_claims() {
    let st = demo_state();
    let r = send_assertion(&st, &demo_assertion(Alg::Rs256)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let body = r.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    let jwt = body["access_token"].as_str().unwrap();
    let c = decode_unverified(jwt).unwrap().1;
    assert_eq!(c["appid"], DEMO_CLIENT_ID);
    assert_eq!(c["oid"], DEMO_SP_OBJECT_ID);
    assert_eq!(c["sub"], DEMO_SP_OBJECT_ID);
    assert_eq!(c["tid"], DEMO_TENANT_ID);
    assert_eq!(c["aud"], FLOW_AUD);
    assert_eq!(c["appidacr"], "2", "2 = certificate (1 = secret)");
    // The token works at the flow like a secret-based one.
    let r = send(&st, trigger_request(DEMO_FLOW_ANY_USER, Some(jwt), "{}")).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let r = send(&st, trigger_request(DEMO_FLOW_SPECIFIC_DEMO_APP, Some(jwt), "{}")).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);

    // Sent to the domain-named endpoint, `aud` may be that URL or its GUID form.
    let key = private_key(TEST_KEY_PEM);
    for aud in [endpoint(DEMO_TENANT_DOMAIN), endpoint(DEMO_TENANT_ID)] {
        let a = signed_jwt(&key, Alg::Rs256, &assertion_header(Alg::Rs256, DEMO_CERT_PEM), &assertion_claims(&aud));
        let r = send(&st, assertion_request(DEMO_TENANT_DOMAIN, &a, GOOD_SCOPE)).await;
        assert_eq!(r.status, StatusCode::OK, "{aud}: {:?}", r.body);
    }
    let s = st.stats();
    assert_eq!((s.token_requests, s.assertion_requests, s.tokens_issued), (3, 3, 3));
    assert_eq!(s.token_requests_by_client[DEMO_CLIENT_ID], 3);
    // Secret requests are not assertion requests.
    token(&st, GOOD_SCOPE).await;
    let s = st.stats();
    assert_eq!((s.token_requests, s.assertion_requests), (4, 3));
}

#[tokio::test]
async fn ps256_x5t_s256_assertion_gets_a_token() {
    let st = demo_state();
    let a = demo_assertion(Alg::Ps256);
    let (h, _) = decode_unverified(&a).unwrap();
    assert_eq!(h["alg"], "PS256");
    assert_eq!(URL_SAFE_NO_PAD.decode(h["x5t#S256"].as_str().unwrap()).unwrap().len(), 32);
    let r = send_assertion(&st, &a).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let c = decode_unverified(r.json()["access_token"].as_str().unwrap()).unwrap().1;
    assert_eq!(c["appid"], DEMO_CLIENT_ID);
    assert_eq!(c["appidacr"], "2");
    // A PSS signature with another salt length (20) is not PS256.
    let claims = assertion_claims(&endpoint(DEMO_TENANT_ID));
    let header = assertion_header(Alg::Ps256, DEMO_CERT_PEM);
    let input =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let sig = pss::SigningKey::<Sha256>::new_with_salt_len(private_key(TEST_KEY_PEM), 20)
        .sign_with_rng(&mut rand::rngs::OsRng, input.as_bytes())
        .to_vec();
    let a = format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig));
    expect_assertion_error(&st, &a, 700027, "invalid signature").await;
}

#[tokio::test]
async fn unregistered_certificate_is_700027() {
    let st = demo_state();
    let other = private_key(OTHER_KEY_PEM);
    for alg in [Alg::Rs256, Alg::Ps256] {
        let a = signed_jwt(
            &other,
            alg,
            &assertion_header(alg, OTHER_CERT_PEM),
            &assertion_claims(&endpoint(DEMO_TENANT_ID)),
        );
        let r = send_assertion(&st, &a).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
        let b = check_entra_error(&r, "invalid_client", 700027);
        let desc = b["error_description"].as_str().unwrap();
        assert!(desc.contains("The key was not found"), "{desc}");
        // The thumbprint is shown as upper-case hex, as Entra does.
        let shown = match alg {
            Alg::Rs256 => hex::encode_upper(Sha1::digest(pem_der(OTHER_CERT_PEM))),
            Alg::Ps256 => hex::encode_upper(Sha256::digest(pem_der(OTHER_CERT_PEM))),
        };
        assert!(desc.contains(&shown), "{desc}");
        assert!(desc.contains(DEMO_CLIENT_ID), "{desc}");
    }
    // A SHA-256 digest put in `x5t` names no certificate (§3 field reports).
    let header = json!({"alg": "RS256", "typ": "JWT", "x5t": x5t_s256(DEMO_CERT_PEM)});
    let a = signed_jwt(&private_key(TEST_KEY_PEM), Alg::Rs256, &header, &assertion_claims(&endpoint(DEMO_TENANT_ID)));
    expect_assertion_error(&st, &a, 700027, "The key was not found").await;
    // The other key signing under the registered certificate's thumbprint:
    // the key is found, the signature does not verify.
    let a = signed_jwt(
        &other,
        Alg::Rs256,
        &assertion_header(Alg::Rs256, DEMO_CERT_PEM),
        &assertion_claims(&endpoint(DEMO_TENANT_ID)),
    );
    expect_assertion_error(&st, &a, 700027, "invalid signature").await;
    // An app with no certificates knows no key at all.
    let mut config = EmulatorConfig::demo();
    config.apps[0].certificates.clear();
    let st = state_with(config);
    expect_assertion_error(&st, &demo_assertion(Alg::Ps256), 700027, "The key was not found").await;
    assert_eq!(st.stats().tokens_issued, 0);
}

#[tokio::test]
async fn tampered_or_malformed_assertion_is_rejected() {
    let st = demo_state();
    for alg in [Alg::Rs256, Alg::Ps256] {
        let good = demo_assertion(alg);
        let parts: Vec<&str> = good.split('.').collect();
        // Claims changed under the original signature.
        let mut claims = decode_unverified(&good).unwrap().1;
        claims["jti"] = json!("another-jti");
        let swapped = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(claims.to_string()), parts[2]);
        expect_assertion_error(&st, &swapped, 700027, "invalid signature").await;
        // One signature bit flipped.
        let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        sig[100] ^= 0x01;
        let flipped = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(sig));
        expect_assertion_error(&st, &flipped, 700027, "invalid signature").await;
        // Signature cut short.
        let short = format!("{}.{}.{}", parts[0], parts[1], &parts[2][..40]);
        expect_assertion_error(&st, &short, 700027, "invalid signature").await;
    }
    // RS256 signature presented as PS256 (and the reverse).
    let rs = demo_assertion(Alg::Rs256);
    let parts: Vec<&str> = rs.split('.').collect();
    let header = json!({"alg": "PS256", "typ": "JWT", "x5t": x5t(DEMO_CERT_PEM)});
    let relabelled = format!("{}.{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), parts[1], parts[2]);
    expect_assertion_error(&st, &relabelled, 700027, "invalid signature").await;
    // Unsigned / other algorithms.
    let claims = URL_SAFE_NO_PAD.encode(assertion_claims(&endpoint(DEMO_TENANT_ID)).to_string());
    for alg in ["none", "HS256", "ES256"] {
        let h = URL_SAFE_NO_PAD.encode(json!({"alg": alg, "x5t": TEST_CERT_X5T}).to_string());
        expect_assertion_error(&st, &format!("{h}.{claims}."), 700027, "not supported").await;
    }
    // No thumbprint header.
    let a = signed_jwt(
        &private_key(TEST_KEY_PEM),
        Alg::Rs256,
        &json!({"alg": "RS256", "typ": "JWT"}),
        &assertion_claims(&endpoint(DEMO_TENANT_ID)),
    );
    expect_assertion_error(&st, &a, 50027, "No certificate thumbprint").await;
    // Not a JWT.
    for garbage in ["abc", "a.b.c", "a.b.c.d", "e30.e30.", "!!.??.**", &"x".repeat(20_000)] {
        expect_assertion_error(&st, garbage, 50027, "invalid or malformed").await;
    }
    let s = st.stats();
    assert_eq!(s.tokens_issued, 0);
    assert_eq!(s.assertion_requests, s.token_requests);
}

#[tokio::test]
async fn assertion_with_wrong_aud_is_rejected() {
    let st = demo_state();
    let key = private_key(TEST_KEY_PEM);
    let sign = |aud: Value| {
        let mut c = assertion_claims("");
        c["aud"] = aud;
        signed_jwt(&key, Alg::Rs256, &assertion_header(Alg::Rs256, DEMO_CERT_PEM), &c)
    };
    for aud in [
        // The real authority, not the one the request went to.
        json!(format!("https://login.microsoftonline.com/{DEMO_TENANT_ID}/oauth2/v2.0/token")),
        // Older documented forms (§3).
        json!(format!("http://emulator.test/{DEMO_TENANT_ID}/v2.0")),
        json!(format!("http://emulator.test/{DEMO_TENANT_ID}/oauth2/token")),
        // Another tenant's endpoint; the domain form when the GUID was used.
        json!("http://emulator.test/00000000-0000-0000-0000-000000000000/oauth2/v2.0/token"),
        json!(endpoint(DEMO_TENANT_DOMAIN)),
        json!(format!("{}/", endpoint(DEMO_TENANT_ID))),
        json!([endpoint(DEMO_TENANT_ID)]),
        Value::Null,
    ] {
        let r = send_assertion(&st, &sign(aud.clone())).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{aud}");
        let b = check_entra_error(&r, "invalid_client", 50012);
        assert!(b["error_description"].as_str().unwrap().contains("audience"), "{b}");
    }
    assert_eq!(st.stats().tokens_issued, 0);
    // The right one works.
    let r = send_assertion(&st, &sign(json!(endpoint(DEMO_TENANT_ID)))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

#[tokio::test]
async fn expired_or_not_yet_valid_assertion_is_rejected() {
    let st = demo_state();
    let key = private_key(TEST_KEY_PEM);
    let now = now_unix();
    let sign = |mutate: &dyn Fn(&mut Value)| {
        let mut c = assertion_claims(&endpoint(DEMO_TENANT_ID));
        mutate(&mut c);
        signed_jwt(&key, Alg::Ps256, &assertion_header(Alg::Ps256, DEMO_CERT_PEM), &c)
    };
    let expired = sign(&|c| {
        c["nbf"] = json!(now - 900);
        c["iat"] = json!(now - 900);
        c["exp"] = json!(now - 600);
    });
    expect_assertion_error(&st, &expired, 50012, "not within its valid time range").await;
    expect_assertion_error(&st, &sign(&|c| c["exp"] = json!(now)), 50012, "not within its valid time range").await;
    expect_assertion_error(&st, &sign(&|c| c["nbf"] = json!(now + 120)), 50012, "not within its valid time range")
        .await;
    expect_assertion_error(&st, &sign(&|c| c["exp"] = json!("soon")), 50012, "not within its valid time range").await;
    expect_assertion_error(&st, &sign(&|c| drop(c.as_object_mut().unwrap().remove("exp"))), 50012, "no 'exp'").await;
    assert_eq!(st.stats().tokens_issued, 0);
    // No `nbf` is fine, and Entra sets no maximum lifetime (§3): a day is accepted.
    let r = send_assertion(&st, &sign(&|c| drop(c.as_object_mut().unwrap().remove("nbf")))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = send_assertion(&st, &sign(&|c| c["exp"] = json!(now + 86_400))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

#[tokio::test]
async fn assertion_iss_sub_and_jti_claims_are_checked() {
    let st = demo_state();
    let key = private_key(TEST_KEY_PEM);
    let sign = |mutate: &dyn Fn(&mut Value)| {
        let mut c = assertion_claims(&endpoint(DEMO_TENANT_ID));
        mutate(&mut c);
        signed_jwt(&key, Alg::Rs256, &assertion_header(Alg::Rs256, DEMO_CERT_PEM), &c)
    };
    let other = "99999999-7c1d-4e8f-9a2b-3c4d5e6f7a81";
    expect_assertion_error(&st, &sign(&|c| c["iss"] = json!(other)), 50012, "'iss'").await;
    expect_assertion_error(&st, &sign(&|c| c["sub"] = json!(other)), 50012, "'sub'").await;
    expect_assertion_error(&st, &sign(&|c| c["sub"] = json!(DEMO_SP_OBJECT_ID)), 50012, "'sub'").await;
    expect_assertion_error(&st, &sign(&|c| drop(c.as_object_mut().unwrap().remove("iss"))), 50012, "'iss'").await;
    expect_assertion_error(&st, &sign(&|c| drop(c.as_object_mut().unwrap().remove("jti"))), 50012, "'jti'").await;
    expect_assertion_error(&st, &sign(&|c| c["jti"] = json!("")), 50012, "'jti'").await;
    assert_eq!(st.stats().tokens_issued, 0);
    // GUIDs compare case-insensitively.
    let upper = DEMO_CLIENT_ID.to_uppercase();
    let r = send_assertion(
        &st,
        &sign(&|c| {
            c["iss"] = json!(upper);
            c["sub"] = json!(upper);
        }),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

#[tokio::test]
async fn a_reused_jti_is_accepted_as_entra_does_and_counted() {
    // MSAL for Python keeps one assertion (one jti) for 9 minutes.
    let st = demo_state();
    let a = demo_assertion(Alg::Rs256);
    for _ in 0..3 {
        let r = send_assertion(&st, &a).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    assert_eq!(st.stats().assertion_jti_reuses, 2);
}

#[tokio::test]
async fn reused_jti_is_rejected_on_the_second_use_when_configured() {
    let st = state_with(EmulatorConfig { reject_reused_assertions: true, ..EmulatorConfig::demo() });
    let a = demo_assertion(Alg::Rs256);
    let r = send_assertion(&st, &a).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let jti = decode_unverified(&a).unwrap().1["jti"].as_str().unwrap().to_owned();
    expect_assertion_error(&st, &a, 50012, &format!("jti '{jti}' has already been used")).await;
    // Same jti in a freshly signed PS256 assertion: still a replay.
    let mut c = assertion_claims(&endpoint(DEMO_TENANT_ID));
    c["jti"] = json!(jti);
    let again = signed_jwt(&private_key(TEST_KEY_PEM), Alg::Ps256, &assertion_header(Alg::Ps256, DEMO_CERT_PEM), &c);
    expect_assertion_error(&st, &again, 50012, "already been used").await;
    // Reset does not forget used jtis; a new jti works.
    st.reset();
    expect_assertion_error(&st, &a, 50012, "already been used").await;
    let r = send_assertion(&st, &demo_assertion(Alg::Rs256)).await;
    assert_eq!(r.status, StatusCode::OK);
    let s = st.stats();
    assert_eq!((s.assertion_requests, s.tokens_issued, s.token_errors), (2, 1, 1));
}

#[tokio::test]
async fn credential_combinations_and_assertion_type() {
    let st = demo_state();
    let a = demo_assertion(Alg::Rs256);
    let pairs = |extra: &[(&'static str, String)]| -> Vec<(&'static str, String)> {
        let mut v = vec![
            ("grant_type", "client_credentials".to_owned()),
            ("client_id", DEMO_CLIENT_ID.to_owned()),
            ("scope", GOOD_SCOPE.to_owned()),
        ];
        v.extend_from_slice(extra);
        v
    };
    let req = |p: &[(&'static str, String)]| {
        let p: Vec<(&str, &str)> = p.iter().map(|(k, v)| (*k, v.as_str())).collect();
        token_request(DEMO_TENANT_ID, &p)
    };
    // Secret and assertion together: invalid_request, even when both are good.
    let both = pairs(&[
        ("client_secret", DEMO_CLIENT_SECRET.to_owned()),
        ("client_assertion_type", JWT_BEARER.to_owned()),
        ("client_assertion", a.clone()),
    ]);
    let b = expect_entra_error(&st, req(&both), "invalid_request", 90023).await;
    assert!(b["error_description"].as_str().unwrap().contains("exactly one"));
    // The same with the secret in an HTTP Basic header.
    let mut r = req(&pairs(&[("client_assertion_type", JWT_BEARER.to_owned()), ("client_assertion", a.clone())]));
    r.headers_mut().insert(header::AUTHORIZATION, basic(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET).parse().unwrap());
    expect_entra_error(&st, r, "invalid_request", 90023).await;
    // Another assertion type.
    let saml = pairs(&[
        ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer".to_owned()),
        ("client_assertion", a.clone()),
    ]);
    let b = expect_entra_error(&st, req(&saml), "invalid_request", 90011).await;
    assert!(b["error_description"].as_str().unwrap().contains("Unexpected client assertion type"));
    // Half of the pair.
    let b = expect_entra_error(&st, req(&pairs(&[("client_assertion", a.clone())])), "invalid_request", 900144).await;
    assert!(b["error_description"].as_str().unwrap().contains("'client_assertion_type'"));
    let only_type = pairs(&[("client_assertion_type", JWT_BEARER.to_owned())]);
    let b = expect_entra_error(&st, req(&only_type), "invalid_request", 900144).await;
    assert!(b["error_description"].as_str().unwrap().contains("'client_assertion'"));
    // None of this used up the assertion: it still works alone.
    let ok = pairs(&[("client_assertion_type", JWT_BEARER.to_owned()), ("client_assertion", a)]);
    let r = send(&st, req(&ok)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // A certificate-only app cannot use a secret.
    let mut config = EmulatorConfig::demo();
    config.apps[0].client_secrets.clear();
    let st2 = state_with(config);
    expect_entra_error(&st2, token_request(DEMO_TENANT_ID, &demo_form(GOOD_SCOPE)), "invalid_client", 7000215).await;
    let r = send_assertion(&st2, &demo_assertion(Alg::Ps256)).await;
    assert_eq!(r.status, StatusCode::OK);
    // Discovery advertises the method.
    let oidc = send(
        &st,
        Request::get(format!("/{DEMO_TENANT_ID}/v2.0/.well-known/openid-configuration")).body(Body::empty()).unwrap(),
    )
    .await;
    let v = oidc.json();
    assert!(v["token_endpoint_auth_methods_supported"].as_array().unwrap().contains(&json!("private_key_jwt")));
    assert_eq!(v["token_endpoint_auth_signing_alg_values_supported"], json!(["RS256", "PS256"]));
}

// ---- clouds (§1.2) ----

fn flow_of(cloud: Cloud) -> &'static str {
    match cloud {
        Cloud::Public => DEMO_FLOW_ANY_USER,
        Cloud::Gcc => DEMO_FLOW_GCC,
        Cloud::GccHigh => DEMO_FLOW_GCC_HIGH,
        Cloud::Dod => DEMO_FLOW_DOD,
        Cloud::China => DEMO_FLOW_CHINA,
    }
}

#[tokio::test]
async fn each_clouds_token_is_accepted_by_its_flow_and_rejected_by_the_others() {
    let st = demo_state();
    let audiences = [
        (Cloud::Public, "https://service.flow.microsoft.com/"),
        (Cloud::Gcc, "https://gov.service.flow.microsoft.us/"),
        (Cloud::GccHigh, "https://high.service.flow.microsoft.us/"),
        (Cloud::Dod, "https://service.flow.appsplatform.us/"),
        (Cloud::China, "https://service.powerautomate.cn/"),
    ];
    let mut expected_rejections = 0;
    for (i, (cloud, aud)) in audiences.iter().enumerate() {
        // `//.default` keeps the slash.
        let jwt = token(&st, &format!("{aud}/.default")).await;
        assert_eq!(decode_unverified(&jwt).unwrap().1["aud"], *aud);
        let r = send(&st, trigger_request(flow_of(*cloud), Some(&jwt), "{}")).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{cloud:?}: {:?}", r.body);
        // Every other cloud's flow refuses it.
        for (other, _) in audiences.iter().filter(|(c, _)| c != cloud) {
            let r = send(&st, trigger_request(flow_of(*other), Some(&jwt), "{}")).await;
            assert_mismatch(&r);
            expected_rejections += 1;
            let rej = st.stats().flow_rejected.last().unwrap().clone();
            assert!(rej.detail.contains(cloud.name()) && rej.detail.contains(other.name()), "{}", rej.detail);
        }
        // `/.default` loses it: still issued, refused by the cloud's own flow.
        let slashless = token(&st, &format!("{}/.default", aud.trim_end_matches('/'))).await;
        assert_eq!(decode_unverified(&slashless).unwrap().1["aud"], aud.trim_end_matches('/'));
        let r = send(&st, trigger_request(flow_of(*cloud), Some(&slashless), "{}")).await;
        assert_mismatch(&r);
        expected_rejections += 1;
        assert!(st.stats().flow_rejected.last().unwrap().detail.contains("trailing slash"));
        assert_eq!(st.runs().len(), i + 1);
    }
    let s = st.stats();
    assert_eq!((s.tokens_issued, s.flow_accepted), (10, 5));
    assert_eq!(s.flow_rejected.len(), expected_rejections);
    // Sovereign look-alikes are unknown resources.
    for scope in ["https://service.flow.microsoft.us//.default", "https://service.powerautomate.com//.default"] {
        expect_entra_error(&st, token_request(DEMO_TENANT_ID, &demo_form(scope)), "invalid_resource", 500011).await;
    }
}

#[tokio::test]
async fn custom_public_audience_replaces_the_default_one_only() {
    let mut config = EmulatorConfig::demo();
    config.flow_audience = "https://flow.example/".into();
    let st = state_with(config);
    let jwt = token(&st, "https://flow.example//.default").await;
    let r = send(&st, trigger_request(DEMO_FLOW_ANY_USER, Some(&jwt), "{}")).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    expect_entra_error(&st, token_request(DEMO_TENANT_ID, &demo_form(GOOD_SCOPE)), "invalid_resource", 500011).await;
    let gcc = token(&st, "https://gov.service.flow.microsoft.us//.default").await;
    let r = send(&st, trigger_request(DEMO_FLOW_GCC, Some(&gcc), "{}")).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
}

// ---- token faults (§2) ----

fn post_faults(body: &Value) -> Request<Body> {
    Request::post("/_emulator/faults")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

async fn get_faults(st: &Arc<State>) -> Value {
    let r = send(st, Request::get("/_emulator/faults").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::OK);
    r.json()
}

#[tokio::test]
async fn each_fault_is_served_once_in_order_then_normal_behaviour_resumes() {
    let st = demo_state();
    let faults = json!({"token": [
        {"status": 429, "retry_after": 7},
        {"status": 500},
        {"status": 503},
        {"aadsts": 7000222},
        {"aadsts": 53003},
        {"delay_ms": 250},
        {"aadsts": 700016},
    ]});
    let r = send(&st, post_faults(&faults)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let queued = json!({"token": faults["token"], "flow": [], "plaid": []});
    assert_eq!(r.json(), queued);
    assert_eq!(get_faults(&st).await, queued);

    let req = || token_request(DEMO_TENANT_ID, &demo_form(GOOD_SCOPE));
    // 429 with Retry-After and an Entra-shaped body.
    let r = send(&st, req()).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers[header::RETRY_AFTER], "7");
    check_entra_error(&r, "temporarily_unavailable", 90055);
    // 500, 503.
    let r = send(&st, req()).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(r.headers.get(header::RETRY_AFTER).is_none());
    check_entra_error(&r, "temporarily_unavailable", 50000);
    let r = send(&st, req()).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    check_entra_error(&r, "temporarily_unavailable", 90033);
    // Chosen AADSTS errors, as Entra words them.
    let b = expect_entra_error(&st, req(), "invalid_client", 7000222).await;
    let desc = b["error_description"].as_str().unwrap();
    assert!(desc.contains("client secret keys") && desc.contains("expired") && desc.contains(DEMO_CLIENT_ID), "{desc}");
    let b = expect_entra_error(&st, req(), "invalid_grant", 53003).await;
    assert!(b["error_description"].as_str().unwrap().contains("Conditional Access"));
    // The delay, then a normal answer.
    let started = Instant::now();
    let r = send(&st, req()).await;
    assert!(started.elapsed() >= Duration::from_millis(250), "{:?}", started.elapsed());
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // The fault answers even a request that would have worked.
    let b = expect_entra_error(&st, req(), "unauthorized_client", 700016).await;
    assert!(b["error_description"].as_str().unwrap().contains(DEMO_CLIENT_ID));
    assert_eq!(get_faults(&st).await, json!({"token": [], "flow": [], "plaid": []}));
    // Normal behaviour resumes, errors included.
    let r = send(&st, req()).await;
    assert_eq!(r.status, StatusCode::OK);
    expect_entra_error(&st, token_request("nope", &demo_form(GOOD_SCOPE)), "invalid_request", 90002).await;

    let s = st.stats();
    assert_eq!(s.token_faults_served, 7);
    assert_eq!(s.token_requests, 9);
    assert_eq!(s.tokens_issued, 2);
    assert_eq!(s.token_errors, 7);
}

#[tokio::test]
async fn every_known_aadsts_fault_answers_that_code() {
    let st = demo_state();
    st.inject_token_faults(KNOWN_AADSTS.map(|code| TokenFault::Aadsts { code }));
    for code in KNOWN_AADSTS {
        let r = send(&st, token_request(DEMO_TENANT_DOMAIN, &demo_form(GOOD_SCOPE))).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{code}");
        let b = r.json();
        assert_eq!(b["error_codes"], json!([code]), "{b}");
        assert!(b["error_description"].as_str().unwrap().starts_with(&format!("AADSTS{code}: ")));
    }
    assert!(st.token_faults().is_empty());
    // Faults apply to assertion requests too, and don't use up the assertion.
    st.inject_token_faults(vec![TokenFault::Aadsts { code: 700_027 }]);
    let a = demo_assertion(Alg::Ps256);
    expect_assertion_error(&st, &a, 700027, "invalid signature").await;
    assert_eq!(send_assertion(&st, &a).await.status, StatusCode::OK);
}

#[tokio::test]
async fn fault_queue_is_appended_atomically_cleared_and_reset() {
    let st = demo_state();
    let r = send(&st, post_faults(&json!({"token": [{"status": 500}]}))).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = send(&st, post_faults(&json!({"token": [{"delay_ms": 5}, {"aadsts": 50011}]}))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["error"].as_str().unwrap().contains("AADSTS50011 is not emulated"), "{:?}", r.body);
    for bad in [json!({"token": [{"status": 418}]}), json!({"tokens": []}), json!([1])] {
        assert_eq!(send(&st, post_faults(&bad)).await.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    let r = send(&st, Request::post("/_emulator/faults").body(Body::from("not json")).unwrap()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Nothing of the refused bodies was queued; appending keeps order.
    let r = send(&st, post_faults(&json!({"token": [{"status": 429}]}))).await;
    assert_eq!(
        r.json(),
        json!({"token": [{"status": 500}, {"status": 429, "retry_after": 60}], "flow": [], "plaid": []})
    );
    assert_eq!(st.token_faults(), vec![TokenFault::InternalServerError, TokenFault::Throttle { retry_after: 60 }]);
    let r = send(&st, Request::delete("/_emulator/faults").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(st.token_faults().is_empty());
    st.inject_token_faults(vec![TokenFault::ServiceUnavailable]);
    let r = send(&st, Request::post("/_emulator/reset").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(st.token_faults().is_empty());
    token(&st, GOOD_SCOPE).await;
    assert_eq!(st.stats().token_faults_served, 0);
}

#[tokio::test]
async fn real_server_faults_throttle_delay_and_certificate_credentials() {
    let e = Emulator::start(EmulatorConfig::demo(), localhost()).await.unwrap();
    let client = reqwest::Client::new();
    let token_url = format!("{}/{DEMO_TENANT_ID}/oauth2/v2.0/token", e.base_url());
    let post = |body: String| {
        client.post(&token_url).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded").body(body).send()
    };
    e.inject_token_faults(vec![TokenFault::Throttle { retry_after: 60 }, TokenFault::Delay { delay_ms: 400 }]);
    assert_eq!(e.token_faults().len(), 2);

    let r = post(form(&demo_form(GOOD_SCOPE))).await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "60");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "temporarily_unavailable");
    assert_eq!(v["error_codes"], json!([90055]));

    let started = Instant::now();
    let r = post(form(&demo_form(GOOD_SCOPE))).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(400), "{:?}", started.elapsed());
    assert_eq!(r.status(), 200);
    assert!(e.token_faults().is_empty());

    // A client assertion for the real server's own URL (its `aud`).
    let claims = assertion_claims(&token_url);
    let a = signed_jwt(&private_key(TEST_KEY_PEM), Alg::Ps256, &assertion_header(Alg::Ps256, DEMO_CERT_PEM), &claims);
    let body = form(&[
        ("grant_type", "client_credentials"),
        ("client_id", DEMO_CLIENT_ID),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", &a),
        ("scope", "https://gov.service.flow.microsoft.us//.default"),
    ]);
    let r = post(body.clone()).await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let jwt = v["access_token"].as_str().unwrap();
    let r = client.post(e.flow_url(DEMO_FLOW_GCC)).bearer_auth(jwt).body("{}").send().await.unwrap();
    assert_eq!(r.status(), 202);
    let r = client.post(e.flow_url(DEMO_FLOW_ANY_USER)).bearer_auth(jwt).body("{}").send().await.unwrap();
    assert_eq!(r.status(), 401);
    // Replayed over the wire: accepted, as Entra does (MSAL reuses
    // assertions), and counted.
    let r = post(body).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(e.stats().assertion_jti_reuses, 1);

    let s = e.stats();
    assert_eq!(
        (s.token_requests, s.assertion_requests, s.token_faults_served, s.tokens_issued, s.token_errors),
        (4, 2, 2, 3, 1)
    );
    let v: Value = client.get(format!("{}/_emulator/stats", e.base_url())).send().await.unwrap().json().await.unwrap();
    assert_eq!(v["assertion_requests"], 2);
    assert_eq!(v["token_faults_served"], 2);
    e.inject_token_faults(vec![TokenFault::InternalServerError]);
    e.reset();
    assert!(e.token_faults().is_empty());
    e.shutdown().await;
}

// ---- Plaid's /webhook_verification_key/get ----

fn plaid_key_request(body: Value) -> Request<Body> {
    Request::post("/webhook_verification_key/get")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

#[tokio::test]
async fn plaid_key_endpoint_serves_the_test_key_to_the_configured_credentials() {
    use flowgate_core::{
        verify::{find_provider, plaid, verify, Inbound},
        Headers, Secret,
    };
    let st = demo_state();
    let good = json!({"client_id": DEMO_PLAID_CLIENT_ID, "secret": DEMO_PLAID_SECRET, "key_id": plaid::TEST_KID});
    let r = send(&st, plaid_key_request(good.clone())).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let answer = r.json();
    assert!(answer["request_id"].is_string());
    assert_eq!(answer["key"]["expired_at"], Value::Null);
    // The answer is a JWK flowgate verifies Plaid-signed webhooks with, as the Worker stores it.
    let jwk = plaid::parse_jwk(&answer["key"].to_string()).unwrap();
    assert_eq!(jwk.kid, plaid::TEST_KID);
    let body = b"{\n  \"webhook_code\": \"DEFAULT_UPDATE\",\n  \"webhook_type\": \"TRANSACTIONS\"\n}";
    let now = now_unix();
    let token = plaid::sign(&Secret::new(DEMO_PLAID_PRIVATE_KEY), plaid::TEST_KID, &plaid::claims(body, now)).unwrap();
    let h = Headers::new().with("Plaid-Verification", token);
    let p = find_provider("plaid").unwrap();
    let v = verify(p, &p.scheme(), None, &[Secret::new(answer["key"].to_string())], Inbound::post(&h, body, now));
    assert_eq!(v.unwrap().event_type(), Some("TRANSACTIONS.DEFAULT_UPDATE"));

    // Credentials in Plaid's headers instead of the body.
    let req = Request::post("/webhook_verification_key/get")
        .header("plaid-client-id", DEMO_PLAID_CLIENT_ID)
        .header("plaid-secret", DEMO_PLAID_SECRET)
        .body(Body::from(json!({"key_id": plaid::TEST_KID}).to_string()))
        .unwrap();
    assert_eq!(send(&st, req).await.status, StatusCode::OK);

    // Wrong or missing credentials, unknown key id, missing key id, not JSON: Plaid-shaped 400s.
    let cases = [
        (json!({"client_id": DEMO_PLAID_CLIENT_ID, "secret": "wrong", "key_id": plaid::TEST_KID}), "INVALID_API_KEYS"),
        (
            json!({"client_id": "someone-else", "secret": DEMO_PLAID_SECRET, "key_id": plaid::TEST_KID}),
            "INVALID_API_KEYS",
        ),
        (json!({"key_id": plaid::TEST_KID}), "INVALID_API_KEYS"),
        (
            json!({"client_id": DEMO_PLAID_CLIENT_ID, "secret": DEMO_PLAID_SECRET, "key_id": "6c5516e1-92dc-479e-a8ff-5a51992e0001"}),
            "INVALID_WEBHOOK_VERIFICATION_KEY_ID",
        ),
        (json!({"client_id": DEMO_PLAID_CLIENT_ID, "secret": DEMO_PLAID_SECRET}), "MISSING_FIELDS"),
    ];
    for (body, code) in cases {
        let r = send(&st, plaid_key_request(body)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        let e = r.json();
        assert_eq!(e["error_code"], code);
        assert!(e["error_type"].is_string() && e["error_message"].is_string() && e["request_id"].is_string());
        assert!(!r.body.windows(DEMO_PLAID_SECRET.len()).any(|w| w == DEMO_PLAID_SECRET.as_bytes()));
    }
    let r = send(&st, Request::post("/webhook_verification_key/get").body(Body::from("nope")).unwrap()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(st.stats().plaid_key_requests, 8);

    // A retired key is served with its expired_at.
    let mut config = EmulatorConfig::demo();
    config.plaid.expired_at = Some(1_700_000_000);
    let st = state_with(config);
    let r = send(&st, plaid_key_request(good)).await;
    assert_eq!(r.json()["key"]["expired_at"], 1_700_000_000);
}

// ---- flow faults and behaviour (flow_faults.rs) ----

async fn put_behaviour(st: &Arc<State>, body: &Value) -> Resp {
    let req = Request::put("/_emulator/flow-behaviour")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    send(st, req).await
}

/// A trigger request for `flow` with flowgate's delivery headers.
fn flowgate_request(flow: &str, jwt: &str, delivery: &str, id: Option<&str>, attempt: u32) -> Request<Body> {
    let mut req = trigger_request(flow, Some(jwt), format!("{{\"delivery\":\"{delivery}\"}}"));
    let h = req.headers_mut();
    h.insert(DELIVERY_HEADER, delivery.parse().unwrap());
    if let Some(id) = id {
        h.insert(FLOWGATE_ID_HEADER, id.parse().unwrap());
    }
    h.insert(ATTEMPT_HEADER, attempt.to_string().parse().unwrap());
    req
}

#[test]
fn run_header_names_match_what_the_worker_sends() {
    assert_eq!(DELIVERY_HEADER, flowgate_core::forward::HEADER_DELIVERY);
    assert_eq!((FLOWGATE_ID_HEADER, ATTEMPT_HEADER), ("x-flowgate-id", "x-flowgate-attempt"));
}

#[tokio::test]
async fn each_flow_fault_status_answers_the_trigger_error_shape_and_is_no_run() {
    let st = demo_state();
    let jwt = token(&st, GOOD_SCOPE).await;
    let mut faults: Vec<Value> = FLOW_FAULT_STATUSES.iter().map(|s| json!({"status": s})).collect();
    faults.push(json!({"status": 429, "retry_after": 7}));
    faults.push(json!({"status": 503, "retry_after": 0}));
    let r = send(&st, post_faults(&json!({"flow": faults}))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.json(), json!({"token": [], "flow": faults, "plaid": []}));

    let mut codes = Vec::new();
    for f in &faults {
        let r = send(&st, trigger_request(DEMO_FLOW_ANY_USER, Some(&jwt), "{}")).await;
        assert_eq!(u64::from(r.status.as_u16()), f["status"].as_u64().unwrap(), "{f}");
        let b = r.json();
        let error = b["error"].as_object().unwrap();
        assert_eq!(error.len(), 2, "{b}");
        assert!(!error["message"].as_str().unwrap().is_empty());
        codes.push(error["code"].as_str().unwrap().to_owned());
        let retry_after = r.headers.get(header::RETRY_AFTER).map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(retry_after, f.get("retry_after").map(ToString::to_string), "{f}");
        assert!(r.headers.get("x-ms-workflow-run-id").is_none());
    }
    assert_eq!(codes[1], "MisMatchingOAuthClaims");
    assert_eq!(codes[2], "WorkflowNotFound");
    assert_eq!(codes[4], "WorkflowRequestsThrottled");
    assert_eq!(codes[7], "ServiceUnavailable");
    assert_eq!(send(&st, trigger_request(DEMO_FLOW_ANY_USER, Some(&jwt), "{}")).await.status, StatusCode::ACCEPTED);

    // A queued fault answers before the trigger's own checks: here a request
    // without a token, which would otherwise be a 401.
    st.inject_flow_faults(vec![FlowFault::status(502)]);
    let r = send(&st, trigger_request(DEMO_FLOW_ANY_USER, None, "{}")).await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY);
    assert_eq!(r.json()["error"]["code"], "BadGateway");

    let s = st.stats();
    let n = faults.len() as u64 + 1;
    assert_eq!((s.flow_requests, s.flow_accepted, s.flow_faults_served), (n + 1, 1, n));
    assert_eq!(s.flow_rejected.len() as u64, n);
    assert!(s.flow_rejected.iter().all(|r| r.detail.starts_with("injected flow fault")), "{:?}", s.flow_rejected);
    assert_eq!(s.flow_rejected[1].code, "MisMatchingOAuthClaims");
    assert_eq!(st.runs().len(), 1);
}

#[tokio::test]
async fn flow_fault_delay_then_normal_processing() {
    let st = demo_state();
    let jwt = token(&st, GOOD_SCOPE).await;
    st.inject_flow_faults(vec![FlowFault::delay_ms(250), FlowFault::delay_ms(1)]);
    let started = Instant::now();
    let r = send(&st, trigger_request(DEMO_FLOW_ANY_USER, Some(&jwt), "late")).await;
    assert!(started.elapsed() >= Duration::from_millis(250), "{:?}", started.elapsed());
    assert_eq!(r.status, StatusCode::ACCEPTED);
    // After the delay the normal checks still apply.
    let r = send(&st, trigger_request(DEMO_FLOW_ANY_USER, None, "x")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let s = st.stats();
    assert_eq!((s.flow_faults_served, s.flow_accepted, s.flow_rejected.len()), (2, 1, 1));
    assert_eq!(s.flow_rejected[0].code, "DirectApiAuthorizationRequired");
}

#[tokio::test]
async fn flow_faults_for_one_flow_keep_their_place_in_the_queue() {
    let st = demo_state();
    let jwt = token(&st, GOOD_SCOPE).await;
    let r = send(
        &st,
        post_faults(&json!({"flow": [
            {"status": 500, "flow_id": DEMO_FLOW_SPECIFIC_DEMO_APP},
            {"status": 503},
            {"status": 404, "flow_id": DEMO_FLOW_ANY_USER},
            {"status": 502, "flow_id": DEMO_FLOW_SPECIFIC_DEMO_APP},
        ]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let any = || trigger_request(DEMO_FLOW_ANY_USER, Some(&jwt), "{}");
    let specific = || trigger_request(DEMO_FLOW_SPECIFIC_DEMO_APP, Some(&jwt), "{}");
    // The first fault is another flow's: this request takes the 503.
    assert_eq!(send(&st, any()).await.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(send(&st, any()).await.status, StatusCode::NOT_FOUND);
    assert_eq!(send(&st, any()).await.status, StatusCode::ACCEPTED);
    assert_eq!(
        get_faults(&st).await["flow"],
        json!([
            {"status": 500, "flow_id": DEMO_FLOW_SPECIFIC_DEMO_APP},
            {"status": 502, "flow_id": DEMO_FLOW_SPECIFIC_DEMO_APP},
        ])
    );
    // An unknown flow takes none of them (and gets the usual 404).
    let r = send(&st, trigger_request("nope", Some(&jwt), "{}")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(st.flow_faults().len(), 2);
    assert_eq!(send(&st, specific()).await.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(send(&st, specific()).await.status, StatusCode::BAD_GATEWAY);
    assert_eq!(send(&st, specific()).await.status, StatusCode::ACCEPTED);
    assert!(st.flow_faults().is_empty());
    let stats = st.stats();
    let flows: Vec<(&str, u16)> = stats.flow_rejected.iter().map(|r| (r.flow_id.as_str(), r.status)).collect();
    assert_eq!(
        flows,
        vec![
            (DEMO_FLOW_ANY_USER, 503),
            (DEMO_FLOW_ANY_USER, 404),
            ("nope", 404),
            (DEMO_FLOW_SPECIFIC_DEMO_APP, 500),
            (DEMO_FLOW_SPECIFIC_DEMO_APP, 502),
        ]
    );
}

#[tokio::test]
async fn fault_endpoint_takes_both_queues_atomically_and_delete_and_reset_clear_both() {
    let st = demo_state();
    let both = json!({"token": [{"status": 500}], "flow": [{"status": 429, "retry_after": 3}, {"delay_ms": 5}], "plaid": [{"status": 503}]});
    let r = send(&st, post_faults(&both)).await;
    assert_eq!((r.status, r.json()), (StatusCode::OK, both.clone()));
    assert_eq!(get_faults(&st).await, both);
    for bad in [
        json!({"token": [{"status": 503}], "flow": [{"status": 401}]}),
        json!({"flow": [{"status": 500, "retry_after": 1}]}),
        json!({"flow": [{"status": 500, "after_accept": true}]}),
        json!({"flow": {"status": 500}}),
    ] {
        let r = send(&st, post_faults(&bad)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(r.json()["flow_fault_statuses"].is_array());
    }
    assert_eq!(get_faults(&st).await, both, "a refused body queues nothing");
    assert_eq!(st.token_faults(), vec![TokenFault::InternalServerError]);
    assert_eq!(st.flow_faults(), vec![FlowFault::status_retry_after(429, 3), FlowFault::delay_ms(5)]);
    assert_eq!(st.plaid_faults(), vec![crate::PlaidFault::Unavailable]);
    let r = send(&st, Request::delete("/_emulator/faults").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(get_faults(&st).await, json!({"token": [], "flow": [], "plaid": []}));

    st.inject_flow_faults(vec![FlowFault::status(500)]);
    st.set_flow_behaviour(FlowBehaviour::down(None)).unwrap();
    let r = send(&st, Request::post("/_emulator/reset").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(st.flow_faults().is_empty());
    assert_eq!(st.flow_behaviour(), FlowBehaviour::default());
    let jwt = token(&st, GOOD_SCOPE).await;
    assert_eq!(send(&st, trigger_request(DEMO_FLOW_ANY_USER, Some(&jwt), "{}")).await.status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn flow_behaviour_down_answers_503_until_lifted() {
    let st = demo_state();
    let jwt = token(&st, GOOD_SCOPE).await;
    let r = send(&st, Request::get("/_emulator/flow-behaviour").body(Body::empty()).unwrap()).await;
    assert_eq!(
        r.json(),
        json!({"down": false, "failure_rate": 0.0, "failure_status": 500, "retry_after": null, "seed": null})
    );
    let r = put_behaviour(&st, &json!({"down": true, "retry_after": 5})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.json()["down"], true);
    let r = send(&st, Request::get("/_emulator/flow-behaviour").body(Body::empty()).unwrap()).await;
    assert_eq!(r.json()["retry_after"], 5);

    for flow in [DEMO_FLOW_ANY_USER, DEMO_FLOW_SPECIFIC_DEMO_APP, DEMO_FLOW_ANY_USER] {
        let r = send(&st, trigger_request(flow, Some(&jwt), "{}")).await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers[header::RETRY_AFTER], "5");
        assert_eq!(r.json()["error"]["code"], "ServiceUnavailable");
    }
    // A queued fault comes first, then the behaviour again.
    st.inject_flow_faults(vec![FlowFault::status(500)]);
    let r = send(&st, trigger_request(DEMO_FLOW_ANY_USER, Some(&jwt), "{}")).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(r.headers.get(header::RETRY_AFTER).is_none());
    // Down without retry_after: no header.
    put_behaviour(&st, &json!({"down": true})).await;
    let r = send(&st, trigger_request(DEMO_FLOW_ANY_USER, Some(&jwt), "{}")).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.headers.get(header::RETRY_AFTER).is_none());

    let r = put_behaviour(&st, &json!({"down": false})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(send(&st, trigger_request(DEMO_FLOW_ANY_USER, Some(&jwt), "{}")).await.status, StatusCode::ACCEPTED);
    let s = st.stats();
    assert_eq!((s.flow_behaviour_refusals, s.flow_faults_served, s.flow_accepted), (4, 1, 1));
    assert_eq!(s.flow_rejected.iter().filter(|r| r.detail.starts_with("flow behaviour: down")).count(), 4);
    assert_eq!(st.runs().len(), 1);

    // Refused settings change nothing; DELETE restores health.
    put_behaviour(&st, &json!({"down": true})).await;
    for bad in [json!({"failure_rate": 2.0}), json!({"failure_status": 200}), json!({"down": 1}), json!([])] {
        let r = put_behaviour(&st, &bad).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(r.json()["error"].is_string());
    }
    assert!(st.flow_behaviour().down);
    let r = send(&st, Request::delete("/_emulator/flow-behaviour").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(st.flow_behaviour(), FlowBehaviour::default());
}

/// Sends `n` requests and returns which ones failed, checking each failure.
async fn failure_pattern(
    st: &Arc<State>,
    jwt: &str,
    n: usize,
    status: StatusCode,
    retry_after: Option<&str>,
) -> Vec<bool> {
    let mut failed = Vec::with_capacity(n);
    for _ in 0..n {
        let r = send(st, trigger_request(DEMO_FLOW_ANY_USER, Some(jwt), "{}")).await;
        if r.status == StatusCode::ACCEPTED {
            failed.push(false);
        } else {
            assert_eq!(r.status, status, "{:?}", r.body);
            assert_eq!(r.headers.get(header::RETRY_AFTER).map(|v| v.to_str().unwrap()), retry_after);
            failed.push(true);
        }
    }
    failed
}

#[tokio::test]
async fn flow_behaviour_failure_rate_is_seeded_and_near_the_rate() {
    let st = demo_state();
    let jwt = token(&st, GOOD_SCOPE).await;
    let behaviour = json!({"failure_rate": 0.3, "failure_status": 503, "retry_after": 2, "seed": 42});
    assert_eq!(put_behaviour(&st, &behaviour).await.status, StatusCode::OK);
    let first = failure_pattern(&st, &jwt, 400, StatusCode::SERVICE_UNAVAILABLE, Some("2")).await;
    let failures = first.iter().filter(|f| **f).count();
    // Expected 120, standard deviation about 9: very loose bounds, and the
    // seed makes the outcome fixed anyway.
    assert!((80..=160).contains(&failures), "{failures} of 400 failed");
    // The same seed again gives the same sequence.
    put_behaviour(&st, &behaviour).await;
    assert_eq!(failure_pattern(&st, &jwt, 400, StatusCode::SERVICE_UNAVAILABLE, Some("2")).await, first);
    // Another seed gives another sequence.
    put_behaviour(&st, &json!({"failure_rate": 0.3, "failure_status": 503, "retry_after": 2, "seed": 43})).await;
    assert_ne!(failure_pattern(&st, &jwt, 400, StatusCode::SERVICE_UNAVAILABLE, Some("2")).await, first);

    let s = st.stats();
    let refused = s.flow_rejected.iter().filter(|r| r.detail.starts_with("flow behaviour: failure_rate")).count();
    assert_eq!(refused as u64, s.flow_behaviour_refusals);
    assert_eq!(s.flow_accepted + s.flow_behaviour_refusals, 1200);
    assert_eq!(st.runs().len() as u64, s.flow_accepted);

    // Retry-After only goes with 429/503; rates 0 and 1 are exact; the
    // default failure status is 500.
    st.set_flow_behaviour(FlowBehaviour { retry_after: Some(9), ..FlowBehaviour::failing(1.0, 500, 1) }).unwrap();
    assert!(failure_pattern(&st, &jwt, 20, StatusCode::INTERNAL_SERVER_ERROR, None).await.iter().all(|f| *f));
    put_behaviour(&st, &json!({"failure_rate": 1.0, "failure_status": 429, "retry_after": 9})).await;
    assert!(failure_pattern(&st, &jwt, 5, StatusCode::TOO_MANY_REQUESTS, Some("9")).await.iter().all(|f| *f));
    put_behaviour(&st, &json!({"failure_rate": 1.0})).await;
    assert!(failure_pattern(&st, &jwt, 5, StatusCode::INTERNAL_SERVER_ERROR, None).await.iter().all(|f| *f));
    put_behaviour(&st, &json!({"failure_rate": 0.0, "seed": 5})).await;
    assert!(failure_pattern(&st, &jwt, 20, StatusCode::OK, None).await.iter().all(|f| !*f));
    assert!(st.set_flow_behaviour(FlowBehaviour::failing(1.01, 500, 1)).is_err());
}

#[tokio::test]
async fn runs_keep_flowgate_headers_filter_by_delivery_and_summarise() {
    let st = demo_state();
    let jwt = token(&st, GOOD_SCOPE).await;
    for (delivery, id, attempt) in
        [("d1", Some("fg-a"), 1), ("d2", Some("fg-b"), 1), ("d1", Some("fg-a"), 2), ("d3", None, 1)]
    {
        let r = send(&st, flowgate_request(DEMO_FLOW_ANY_USER, &jwt, delivery, id, attempt)).await;
        assert_eq!(r.status, StatusCode::ACCEPTED);
    }
    let runs = st.runs();
    assert_eq!(runs[2].headers[DELIVERY_HEADER], "d1");
    assert_eq!(runs[2].headers[FLOWGATE_ID_HEADER], "fg-a");
    assert_eq!(runs[2].headers[ATTEMPT_HEADER], "2");

    let get = |q: &str| Request::get(format!("/_emulator/runs{q}")).body(Body::empty()).unwrap();
    let v = send(&st, get("?delivery=d1")).await.json();
    let attempts: Vec<&str> =
        v["runs"].as_array().unwrap().iter().map(|r| r["headers"][ATTEMPT_HEADER].as_str().unwrap()).collect();
    assert_eq!(attempts, ["1", "2"]);
    assert_eq!(v["runs"][0]["body_text"], "{\"delivery\":\"d1\"}");
    assert_eq!(send(&st, get("?delivery=nope")).await.json(), json!({"runs": []}));
    let v = send(&st, get("?flowgate_id=fg-b")).await.json();
    assert_eq!(v["runs"].as_array().unwrap().len(), 1);
    assert_eq!(v["runs"][0]["headers"][DELIVERY_HEADER], "d2");
    assert_eq!(send(&st, get("?delivery=d1&flowgate_id=fg-b")).await.json(), json!({"runs": []}));
    let v = send(&st, get("?bodies=false")).await.json();
    assert_eq!(v["runs"].as_array().unwrap().len(), 4);
    for r in v["runs"].as_array().unwrap() {
        assert!(r.get("body_base64").is_none() && r.get("body_text").is_none(), "{r}");
        assert_eq!(r["body_len"], 17);
        assert!(r["body_sha256"].is_string());
    }
    assert_eq!(send(&st, get("?deliveryy=d1")).await.status, StatusCode::BAD_REQUEST);

    let expected = json!({
        "runs": 4,
        "by_flowgate_id": {"fg-a": 2, "fg-b": 1},
        "duplicates": ["fg-a"],
        "without_flowgate_id": 1,
    });
    let r = send(&st, Request::get("/_emulator/runs/summary").body(Body::empty()).unwrap()).await;
    assert_eq!(r.json(), expected);
    let summary: RunsSummary = serde_json::from_value(expected).unwrap();
    assert_eq!(st.runs_summary(), summary);
    st.reset();
    assert_eq!(st.runs_summary(), RunsSummary::default());
}

#[tokio::test]
async fn real_server_flow_faults_client_timeout_large_body_and_summary() {
    let e = Emulator::start(EmulatorConfig::demo(), localhost()).await.unwrap();
    let client = reqwest::Client::new();
    let jwt = http_token(&client, &e).await;
    let post = |body: Vec<u8>, id: &str| {
        client
            .post(e.flow_url(DEMO_FLOW_ANY_USER))
            .bearer_auth(&jwt)
            .header(DELIVERY_HEADER, format!("dl-{id}"))
            .header(FLOWGATE_ID_HEADER, id)
            .header(ATTEMPT_HEADER, "1")
            .body(body)
            .send()
    };

    // 429 with Retry-After, then a delay longer than the client waits.
    e.inject_flow_faults(vec![FlowFault::status_retry_after(429, 30), FlowFault::delay_ms(1500)]);
    let r = post(b"{}".to_vec(), "x").await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "30");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "WorkflowRequestsThrottled");
    let impatient = client
        .post(e.flow_url(DEMO_FLOW_ANY_USER))
        .bearer_auth(&jwt)
        .timeout(Duration::from_millis(200))
        .body("{}")
        .send()
        .await;
    assert!(impatient.unwrap_err().is_timeout());
    assert!(e.flow_faults().is_empty());

    // A 5 MB body is recorded whole; `bodies=false` keeps listings small.
    let big: Vec<u8> = (0..5 * 1024 * 1024u32).map(|i| b'a' + (i % 26) as u8).collect();
    assert_eq!(post(big.clone(), "big").await.unwrap().status(), 202);
    assert_eq!(post(b"{}".to_vec(), "small").await.unwrap().status(), 202);
    let runs_url = format!("{}/_emulator/runs", e.base_url());
    let v: Value = client.get(format!("{runs_url}?delivery=dl-big")).send().await.unwrap().json().await.unwrap();
    assert_eq!(v["runs"].as_array().unwrap().len(), 1);
    assert_eq!(STANDARD.decode(v["runs"][0]["body_base64"].as_str().unwrap()).unwrap(), big);
    let text = client.get(format!("{runs_url}?bodies=false")).send().await.unwrap().text().await.unwrap();
    assert!(text.len() < 20_000, "{} bytes", text.len());
    assert!(text.contains(&sha256_hex(&big)));

    // Down, then back up.
    e.set_flow_behaviour(FlowBehaviour::down(Some(1))).unwrap();
    let r = post(b"{}".to_vec(), "down").await.unwrap();
    assert_eq!((r.status().as_u16(), r.headers()["retry-after"].to_str().unwrap()), (503, "1"));
    e.set_flow_behaviour(FlowBehaviour::default()).unwrap();
    assert_eq!(post(b"{}".to_vec(), "small").await.unwrap().status(), 202);

    let summary: RunsSummary = client.get(format!("{runs_url}/summary")).send().await.unwrap().json().await.unwrap();
    assert_eq!(summary, e.runs_summary());
    assert_eq!(summary.duplicates, ["small"]);
    // The request that timed out on the client may or may not have become a
    // run (the server finishes it after the client left); without an id it
    // never counts under one.
    assert_eq!(summary.by_flowgate_id.values().sum::<u64>(), 3);
    let s = e.stats();
    assert_eq!((s.flow_faults_served, s.flow_behaviour_refusals), (2, 1));

    e.inject_flow_faults(vec![FlowFault::status(500)]);
    e.set_flow_behaviour(FlowBehaviour::down(None)).unwrap();
    e.reset();
    assert!(e.flow_faults().is_empty());
    assert_eq!(e.flow_behaviour(), FlowBehaviour::default());
    e.shutdown().await;
}

// ---- drop-in for real clients (issue #13) ----

/// MSAL for Python writes `x5t` in standard base64 with padding; msal-node
/// sets `nbf` a second ahead. Both are what Entra accepts.
#[tokio::test]
async fn assertions_as_msal_writes_them_are_accepted() {
    let st = demo_state();
    let der = pem_der(DEMO_CERT_PEM);
    let padded = STANDARD.encode(Sha1::digest(&der));
    assert!(padded.ends_with('='), "{padded}");
    let mut c = assertion_claims(&endpoint(DEMO_TENANT_ID));
    c["nbf"] = json!(now_unix() + 1);
    let header = json!({"alg": "RS256", "typ": "JWT", "x5t": padded});
    let a = signed_jwt(&private_key(TEST_KEY_PEM), Alg::Rs256, &header, &c);
    let r = send_assertion(&st, &a).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

fn get(path: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut b = Request::get(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn discovery_has_entras_fields_with_urls_from_the_request() {
    let st = demo_state();
    let path = format!("/{DEMO_TENANT_DOMAIN}/v2.0/.well-known/openid-configuration");
    let r = send(&st, get(&path, &[("host", "login.test:9443"), ("x-forwarded-proto", "https")])).await;
    assert_eq!(r.status, StatusCode::OK);
    let d = r.json();
    let at = format!("https://login.test:9443/{DEMO_TENANT_ID}");
    for (field, want) in [
        ("authorization_endpoint", format!("{at}/oauth2/v2.0/authorize")),
        ("token_endpoint", format!("{at}/oauth2/v2.0/token")),
        ("device_authorization_endpoint", format!("{at}/oauth2/v2.0/devicecode")),
        ("end_session_endpoint", format!("{at}/oauth2/v2.0/logout")),
        ("userinfo_endpoint", "https://login.test:9443/oidc/userinfo".to_owned()),
        ("jwks_uri", format!("{at}/discovery/v2.0/keys")),
        ("issuer", format!("https://login.microsoftonline.com/{DEMO_TENANT_ID}/v2.0")),
        ("tenant_region_scope", "WW".to_owned()),
        ("cloud_instance_name", "microsoftonline.com".to_owned()),
        ("cloud_graph_host_name", "graph.windows.net".to_owned()),
        ("msgraph_host", "graph.microsoft.com".to_owned()),
    ] {
        assert_eq!(d[field], json!(want), "{field}");
    }
    for list in
        ["response_types_supported", "scopes_supported", "claims_supported", "id_token_signing_alg_values_supported"]
    {
        assert!(!d[list].as_array().unwrap().is_empty(), "{list}");
    }
    // Without proxy headers: the Host and the scheme the server speaks.
    let d = send(&st, get(&path, &[("host", "127.0.0.1:1234")])).await.json();
    assert_eq!(d["token_endpoint"], json!(format!("http://127.0.0.1:1234/{DEMO_TENANT_ID}/oauth2/v2.0/token")));
    // v1.
    let v1 = send(&st, get(&format!("/{DEMO_TENANT_ID}/.well-known/openid-configuration"), &[("host", "h:1")])).await;
    let v1 = v1.json();
    assert_eq!(v1["issuer"], json!(format!("https://sts.windows.net/{DEMO_TENANT_ID}/")));
    assert_eq!(v1["token_endpoint"], json!(format!("http://h:1/{DEMO_TENANT_ID}/oauth2/token")));
    assert_eq!(v1["jwks_uri"], json!(format!("http://h:1/{DEMO_TENANT_ID}/discovery/keys")));
    // An unknown tenant: Entra's 90002; `common` has the `{tenantid}` issuer.
    let r = send(&st, get("/fabrikam.onmicrosoft.com/v2.0/.well-known/openid-configuration", &[])).await;
    check_entra_error(&r, "invalid_request", 90_002);
    let c = send(&st, get("/common/v2.0/.well-known/openid-configuration", &[("host", "h")])).await.json();
    assert_eq!(c["issuer"], "https://login.microsoftonline.com/{tenantid}/v2.0");
    assert_eq!(c["token_endpoint"], "http://h/common/oauth2/v2.0/token");
}

#[tokio::test]
async fn instance_discovery_knows_this_host_only() {
    let st = demo_state();
    let q = |endpoint: &str| {
        format!(
            "/common/discovery/instance?api-version=1.1&authorization_endpoint={}",
            form_urlencoded::byte_serialize(endpoint.as_bytes()).collect::<String>()
        )
    };
    let r = send(&st, get(&q("https://h:9/contoso.onmicrosoft.com/oauth2/v2.0/authorize"), &[("host", "h:9")])).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let v = r.json();
    assert_eq!(
        v["tenant_discovery_endpoint"],
        "http://h:9/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration"
    );
    assert_eq!(v["metadata"][0]["aliases"], json!(["h:9"]));
    // MSAL names the instance without its port.
    let r = send(&st, get(&q("https://h/contoso.onmicrosoft.com/oauth2/v2.0/authorize"), &[("host", "h:9")])).await;
    assert_eq!(
        r.json()["tenant_discovery_endpoint"],
        "http://h:9/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration"
    );
    let v1 = send(&st, get(&q("https://h:9/common/oauth2/authorize"), &[("host", "h:9")])).await.json();
    assert_eq!(v1["tenant_discovery_endpoint"], "http://h:9/common/.well-known/openid-configuration");
    let r = send(&st, get(&q("https://login.example/common/oauth2/v2.0/authorize"), &[("host", "h:9")])).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let v = r.json();
    assert_eq!((v["error"].as_str(), v["error_codes"].clone()), (Some("invalid_instance"), json!([50_049])));
}

#[tokio::test]
async fn the_v1_endpoint_takes_resource_and_answers_v1_fields() {
    let st = demo_state();
    let req = Request::post(format!("/{DEMO_TENANT_ID}/oauth2/token"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form(&[
            ("grant_type", "client_credentials"),
            ("client_id", DEMO_CLIENT_ID),
            ("client_secret", DEMO_CLIENT_SECRET),
            ("resource", FLOW_AUD),
        ])))
        .unwrap();
    let r = send(&st, req).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let v = r.json();
    assert_eq!(v["resource"], FLOW_AUD);
    assert!(v["expires_in"].is_string() && v["expires_on"].is_string() && v["not_before"].is_string(), "{v}");
    let claims = decode_unverified(v["access_token"].as_str().unwrap()).unwrap().1;
    assert_eq!(claims["aud"], FLOW_AUD, "the trailing slash kept as written");
    let r = send(&st, trigger_request(DEMO_FLOW_ANY_USER, v["access_token"].as_str(), "{}")).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
}

// ---- the flow's other answers (issue #13) ----

fn flows_config(mutate: impl FnOnce(&mut FlowConfig)) -> EmulatorConfig {
    let mut c = EmulatorConfig::demo();
    mutate(&mut c.flows[0]);
    c
}

async fn answer(st: &Arc<State>, jwt: &str, body: &str, content_type: &str) -> Resp {
    let req = Request::post(format!("{}?api-version=1", trigger_path(DEMO_FLOW_ANY_USER)))
        .header(header::CONTENT_TYPE, content_type)
        .header(header::AUTHORIZATION, format!("Bearer {jwt}"))
        .body(Body::from(body.to_owned()))
        .unwrap();
    send(st, req).await
}

fn error_code(r: &Resp) -> String {
    r.json()["error"]["code"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_flow_turned_off_suspended_or_deleted_answers_as_power_automate_does() {
    let st = state_with(flows_config(|f| f.state = FlowState::Disabled));
    let jwt = token(&st, GOOD_SCOPE).await;
    let r = answer(&st, &jwt, "{}", "application/json").await;
    assert_eq!((r.status, error_code(&r)), (StatusCode::BAD_REQUEST, "WorkflowTriggerIsNotEnabled".to_owned()));
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("with state 'Disabled': trigger is not enabled"));
    // Turned on at run time (PUT /_emulator/flows/{id}), then suspended, then deleted.
    let put = |body: Value| {
        Request::put(format!("/_emulator/flows/{DEMO_FLOW_ANY_USER}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let r = send(&st, put(json!({"state": "enabled"}))).await;
    assert_eq!((r.status, &r.json()["state"]), (StatusCode::OK, &json!("enabled")));
    assert_eq!(answer(&st, &jwt, "{}", "application/json").await.status, StatusCode::ACCEPTED);
    send(&st, put(json!({"state": "suspended"}))).await;
    let r = answer(&st, &jwt, "{}", "application/json").await;
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("'Suspended'"));
    send(&st, put(json!({"state": "deleted"}))).await;
    let r = answer(&st, &jwt, "{}", "application/json").await;
    assert_eq!((r.status, error_code(&r)), (StatusCode::NOT_FOUND, "WorkflowNotFound".to_owned()));
    // Bad updates.
    assert_eq!(send(&st, put(json!({"state": "paused"}))).await.status, StatusCode::BAD_REQUEST);
    let r = send(&st, Request::put("/_emulator/flows/nope").body(Body::from("{}")).unwrap()).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let flows = send(&st, get("/_emulator/flows", &[])).await.json();
    assert_eq!(flows["flows"][0]["state"], "deleted");
    // A reset brings back the configured state.
    st.reset();
    assert_eq!(st.flow_state(DEMO_FLOW_ANY_USER), Some(FlowState::Disabled));
}

#[tokio::test]
async fn a_body_that_does_not_match_the_triggers_schema_is_refused() {
    let schema = json!({"type": "object", "required": ["route"], "properties": {"route": {"type": "string"}}});
    let st = state_with(flows_config(|f| f.request_schema = Some(schema.to_string())));
    let jwt = token(&st, GOOD_SCOPE).await;
    assert_eq!(answer(&st, &jwt, r#"{"route":"gh"}"#, "application/json").await.status, StatusCode::ACCEPTED);
    let r = answer(&st, &jwt, r#"{"ref":"main"}"#, "application/json").await;
    assert_eq!((r.status, error_code(&r)), (StatusCode::BAD_REQUEST, "TriggerInputSchemaMismatch".to_owned()));
    let message = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.starts_with("The input body for trigger 'manual' of type 'Request' did not match"), "{message}");
    assert!(message.contains("Error details: '") && message.contains("route"), "{message}");
    // Not JSON by its Content-Type: checked as a string, as Power Automate does.
    let r = answer(&st, &jwt, r#"{"route":"gh"}"#, "text/plain").await;
    assert_eq!(error_code(&r), "TriggerInputSchemaMismatch");
    // The schema can be replaced and removed at run time.
    st.set_flow_schema(DEMO_FLOW_ANY_USER, None).unwrap();
    assert_eq!(answer(&st, &jwt, "[]", "application/json").await.status, StatusCode::ACCEPTED);
    assert!(st.set_flow_schema(DEMO_FLOW_ANY_USER, Some(&json!({"type": 5}))).is_err());
    // An unusable schema in the configuration is refused at start.
    assert!(flows_config(|f| f.request_schema = Some("{".into())).validate().is_err());
    assert_eq!(st.stats().flow_rejected.len(), 2);
}

#[tokio::test]
async fn the_invoke_limit_answers_429_with_retry_after_until_the_window_frees_a_call() {
    let st = state_with(flows_config(|f| {
        f.invoke_limit = Some(2);
        f.invoke_window_secs = Some(2);
    }));
    let jwt = token(&st, GOOD_SCOPE).await;
    for _ in 0..2 {
        assert_eq!(answer(&st, &jwt, "{}", "application/json").await.status, StatusCode::ACCEPTED);
    }
    let r = answer(&st, &jwt, "{}", "application/json").await;
    assert_eq!((r.status, error_code(&r)), (StatusCode::TOO_MANY_REQUESTS, "WorkflowRequestsThrottled".to_owned()));
    let retry: u64 = r.headers[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    assert_eq!(st.stats().flow_throttled, 1);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(answer(&st, &jwt, "{}", "application/json").await.status, StatusCode::ACCEPTED);
    // The profiles' limits (§4).
    assert_eq!(PerformanceProfile::Low.invoke_limit_per_5_min(), 4_500);
    assert_eq!(PerformanceProfile::High.invoke_limit_per_5_min(), 45_000);
    assert_eq!(EmulatorConfig::demo().flows[0].invoke_limit(), 45_000);
    assert_eq!(EmulatorConfig::demo().flows[0].invoke_window_secs(), 300);
}

#[tokio::test]
async fn flow_faults_can_answer_with_the_triggers_own_codes() {
    let st = demo_state();
    let jwt = token(&st, GOOD_SCOPE).await;
    let r = send(&st, post_faults(&json!({"flow": [{"code": "DirectApiRequestHasMoreThanOneAuthorization"}]}))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = answer(&st, &jwt, "{}", "application/json").await;
    assert_eq!(
        (r.status, error_code(&r)),
        (StatusCode::BAD_REQUEST, "DirectApiRequestHasMoreThanOneAuthorization".to_owned())
    );
    st.inject_flow_faults(vec![FlowFault::code("WorkflowTriggerIsNotEnabled")]);
    assert_eq!(error_code(&answer(&st, &jwt, "{}", "application/json").await), "WorkflowTriggerIsNotEnabled");
}

#[tokio::test]
async fn plaid_faults_are_served_one_per_key_request_with_plaids_error_body_and_counted() {
    use flowgate_core::verify::plaid;
    let st = demo_state();
    let good = json!({"client_id": DEMO_PLAID_CLIENT_ID, "secret": DEMO_PLAID_SECRET, "key_id": plaid::TEST_KID});
    let faults = json!({"plaid": [{"status": 429, "retry_after": 5}, {"status": 500}, {"status": 503}]});
    assert_eq!(send(&st, post_faults(&faults)).await.status, StatusCode::OK);
    let r = send(&st, plaid_key_request(good.clone())).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers[header::RETRY_AFTER], "5");
    let b = r.json();
    assert_eq!((b["error_type"].as_str(), b["error_code"].as_str()), (Some("RATE_LIMIT_EXCEEDED"), Some("RATE_LIMIT")));
    assert!(b["request_id"].is_string() && b["display_message"].is_null() && b["error_message"].is_string());
    for (status, code) in [
        (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_SERVER_ERROR"),
        (StatusCode::SERVICE_UNAVAILABLE, "PLANNED_MAINTENANCE"),
    ] {
        let r = send(&st, plaid_key_request(good.clone())).await;
        assert_eq!(r.status, status);
        assert_eq!((r.json()["error_type"].clone(), r.json()["error_code"].clone()), (json!("API_ERROR"), json!(code)));
    }
    assert_eq!(send(&st, plaid_key_request(good)).await.status, StatusCode::OK, "the queue is empty again");
    let s = send(&st, get("/_emulator/stats", &[])).await.json();
    assert_eq!((s["plaid_key_requests"].as_u64(), s["plaid_faults_served"].as_u64()), (Some(4), Some(3)));
    let r = send(&st, post_faults(&json!({"plaid": [{"status": 404}]}))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn over_https_with_a_generated_ca_the_discovery_urls_and_tokens_work() {
    let identity = crate::TlsIdentity::generate(&["flowgate.test".to_owned()]).unwrap();
    assert_eq!(identity.names, ["localhost", "127.0.0.1", "::1", "flowgate.test"]);
    let e = Emulator::start_tls(EmulatorConfig::demo(), localhost(), &identity).await.unwrap();
    assert!(e.base_url().starts_with("https://127.0.0.1:"));
    let ca = reqwest::Certificate::from_pem(identity.ca_pem.as_deref().unwrap().as_bytes()).unwrap();
    let client = reqwest::Client::builder().add_root_certificate(ca).build().unwrap();
    let oidc: Value = client
        .get(format!("{}/{DEMO_TENANT_DOMAIN}/v2.0/.well-known/openid-configuration", e.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token_endpoint = oidc["token_endpoint"].as_str().unwrap().to_owned();
    assert_eq!(token_endpoint, format!("{}/{DEMO_TENANT_ID}/oauth2/v2.0/token", e.base_url()));
    let r = client.post(&token_endpoint).form(&demo_form(GOOD_SCOPE)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let jwt = r.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();
    let r = client.post(e.flow_url(DEMO_FLOW_ANY_USER)).bearer_auth(&jwt).body("{}").send().await.unwrap();
    assert_eq!(r.status(), 202);
    // A client that does not trust the CA is refused at the handshake.
    assert!(reqwest::Client::new().get(e.base_url()).send().await.is_err());
    e.shutdown().await;
}

// ---- eBay's and Circle's key hosts (key_hosts.rs), asked as core's KeySources ask ----

fn key_request(r: &flowgate_core::verify::fetched_key::KeyRequest) -> Request<Body> {
    let path = r.url.split_once("://").and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_owned())).unwrap();
    let mut b = Request::builder().method(r.method).uri(path);
    for (k, v) in &r.headers {
        b = b.header(*k, v);
    }
    b.body(Body::from(r.body.clone())).unwrap()
}

#[tokio::test]
async fn ebay_and_circle_key_hosts_answer_what_cores_sources_ask_and_core_reads_the_answers() {
    use flowgate_core::{
        config::{CircleSettings, EbaySettings},
        verify::{
            circle::{self, CircleSource},
            ebay::{self, EbaySource},
            fetched_key::{KeyAnswer, KeySource, TokenAnswer},
        },
        Secret,
    };
    let st = demo_state();
    let base = "http://127.0.0.1:1".to_owned();
    let e = EbaySettings { client_id_binding: "A".into(), client_secret_binding: "B".into(), base_url: base.clone() };
    let src = EbaySource(&e);
    let creds = [Secret::new(crate::DEMO_EBAY_CLIENT_ID), Secret::new(crate::DEMO_EBAY_CLIENT_SECRET)];
    // eBay: a token for the demo app, then the key with it.
    let r = send(&st, key_request(&src.token_request(&creds).unwrap())).await;
    let TokenAnswer::Token { token, .. } = src.classify_token(r.status.as_u16(), None, &r.body) else {
        panic!("{:?}", r.body)
    };
    let r = send(&st, key_request(&src.key_request(ebay::TEST_KID, &creds, Some(&token)))).await;
    let KeyAnswer::Key(key) = src.classify(r.status.as_u16(), None, &r.body, ebay::TEST_KID) else { panic!() };
    let public = crate::senders::verifying_key(
        flowgate_core::verify::find_provider("ebay").unwrap(),
        &Secret::new(crate::DEMO_EBAY_PRIVATE_KEY),
    )
    .unwrap()
    .unwrap();
    assert_eq!(key, public);
    // Another kid, another token, other app credentials.
    let r =
        send(&st, key_request(&src.key_request("0f0e0d0c-0b0a-4908-8706-050403020100", &creds, Some(&token)))).await;
    assert!(src.classify(r.status.as_u16(), None, &r.body, "x").is_forged());
    let r = send(&st, key_request(&src.key_request(ebay::TEST_KID, &creds, Some(&Secret::new("stale"))))).await;
    assert!(matches!(src.classify(r.status.as_u16(), None, &r.body, "x"), KeyAnswer::BadCredentials { .. }));
    let wrong = [Secret::new(crate::DEMO_EBAY_CLIENT_ID), Secret::new("not-the-cert-id")];
    let r = send(&st, key_request(&src.token_request(&wrong).unwrap())).await;
    assert!(matches!(
        src.classify_token(r.status.as_u16(), None, &r.body),
        TokenAnswer::Refused(KeyAnswer::BadCredentials { .. })
    ));

    // Circle: the key for the API key; another id or key refused.
    let c = CircleSettings { api_key_binding: "C".into(), base_url: base };
    let src = CircleSource(&c);
    let creds = [Secret::new(crate::DEMO_CIRCLE_API_KEY)];
    let r = send(&st, key_request(&src.key_request(circle::TEST_KEY_ID, &creds, None))).await;
    assert!(matches!(src.classify(r.status.as_u16(), None, &r.body, circle::TEST_KEY_ID), KeyAnswer::Key(_)));
    let r = send(&st, key_request(&src.key_request("0f0e0d0c-0b0a-4908-8706-050403020100", &creds, None))).await;
    assert!(src.classify(r.status.as_u16(), None, &r.body, "0f0e0d0c-0b0a-4908-8706-050403020100").is_forged());
    let r =
        send(&st, key_request(&src.key_request(circle::TEST_KEY_ID, &[Secret::new("TEST_API_KEY:x:y")], None))).await;
    assert!(matches!(
        src.classify(r.status.as_u16(), None, &r.body, circle::TEST_KEY_ID),
        KeyAnswer::BadCredentials { .. }
    ));

    // Faults: one per key request, counted; the empty queues stay out of GET /_emulator/faults.
    st.inject_key_host_faults("circle", [crate::PlaidFault::Unavailable]);
    let r = send(&st, key_request(&src.key_request(circle::TEST_KEY_ID, &creds, None))).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    let s = st.stats();
    assert_eq!(
        (s.ebay_token_requests, s.ebay_key_requests, s.circle_key_requests, s.key_host_faults_served),
        (2, 3, 4, 1)
    );
}

// ---- AWS SNS: the certificate and ConfirmSubscription ----

#[tokio::test]
async fn sns_messages_verify_with_the_served_certificate_and_subscriptions_are_confirmed() {
    use flowgate_core::{
        verify::{find_provider, sns, verify, Inbound},
        Headers, Secret,
    };

    use crate::senders::{sns_message, SnsKind, SNS_DEMO_TOPIC};
    let st = demo_state();
    let get = |uri: &str| Request::get(uri).body(Body::empty()).unwrap();

    // The certificate at EMULATOR_CERT_PATH verifies what sns_message signs.
    let r = send(&st, get(sns::EMULATOR_CERT_PATH)).await;
    assert_eq!(r.status, StatusCode::OK);
    let pem = String::from_utf8(r.body.to_vec()).unwrap();
    assert!(sns::certificate_key(&pem).is_ok());
    let p = find_provider("aws-sns").unwrap();
    let h = Headers::new();
    for kind in [SnsKind::Notification, SnsKind::SubscriptionConfirmation, SnsKind::UnsubscribeConfirmation] {
        let m =
            sns_message(crate::DEMO_SNS_PRIVATE_KEY, kind, SNS_DEMO_TOPIC, "hi", "http://127.0.0.1:8790", now_unix())
                .unwrap();
        let v = verify(p, &p.scheme(), None, &[Secret::new(pem.clone())], Inbound::post(&h, &m.body, now_unix()));
        assert_eq!(v.unwrap().event_type(), Some(kind.as_str()));
        let header = |name: &str| m.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        assert_eq!(header("x-amz-sns-message-type"), Some(kind.as_str()));
        assert_eq!(header("x-amz-sns-topic-arn"), Some(SNS_DEMO_TOPIC));
        assert!(header("x-amz-sns-message-id").is_some());
        let url = sns::cert_url(&m.body, Some("http://127.0.0.1:8790")).unwrap();
        assert!(url.ends_with(sns::EMULATOR_CERT_PATH));
    }

    // Another certificate: 404, as S3 answers; injected faults first.
    assert_eq!(send(&st, get("/sns/SimpleNotificationService-other.pem")).await.status, StatusCode::NOT_FOUND);
    st.inject_cert_faults([503]);
    assert_eq!(send(&st, get(sns::EMULATOR_CERT_PATH)).await.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(send(&st, get(sns::EMULATOR_CERT_PATH)).await.status, StatusCode::OK);
    assert_eq!(st.stats().sns_cert_requests, 4);

    // ConfirmSubscription is counted; `/` without it is the index.
    let r = send(&st, get("/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-east-1:123456789012:t&Token=ab")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&r.body).contains("<SubscriptionArn>arn:aws:sns:us-east-1:123456789012:t:"));
    assert_eq!(st.stats().sns_confirmations, 1);
    let r = send(&st, get("/")).await;
    assert!(String::from_utf8_lossy(&r.body).starts_with("flowgate emulator"));
    assert_eq!(st.stats().sns_confirmations, 1);
}

#[tokio::test]
async fn paypal_notifications_verify_with_the_served_certificate() {
    use flowgate_core::{
        verify::{find_provider, paypal, verify, Inbound},
        Headers,
    };

    use crate::senders::{paypal_headers, PAYPAL_DEMO_WEBHOOK_ID};
    let st = demo_state();
    let get = |uri: &str| Request::get(uri).body(Body::empty()).unwrap();
    let r = send(&st, get("/v1/notifications/certs/CERT-flowgate-test")).await;
    assert_eq!(r.status, StatusCode::OK);
    let pem = String::from_utf8(r.body.to_vec()).unwrap();
    let body = br#"{"id":"WH-1","event_type":"PAYMENT.CAPTURE.COMPLETED"}"#;
    let signed =
        paypal_headers(crate::DEMO_SNS_PRIVATE_KEY, PAYPAL_DEMO_WEBHOOK_ID, body, "http://127.0.0.1:8790", now_unix())
            .unwrap();
    let h: Headers = signed.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    assert!(paypal::cert_url(&h, Some("http://127.0.0.1:8790")).unwrap().ends_with("/CERT-flowgate-test"));
    let p = find_provider("paypal").unwrap();
    let key = paypal::route_key(PAYPAL_DEMO_WEBHOOK_ID, &pem);
    let v = verify(p, &p.scheme(), None, &[key], Inbound::post(&h, body, now_unix())).unwrap();
    assert_eq!((v.event_type(), v.delivery_id()), (Some("PAYMENT.CAPTURE.COMPLETED"), Some("WH-1")));
    assert_eq!(send(&st, get("/v1/notifications/certs/CERT-other")).await.status, StatusCode::NOT_FOUND);
    st.inject_cert_faults([500]);
    assert_eq!(
        send(&st, get("/v1/notifications/certs/CERT-flowgate-test")).await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(st.stats().paypal_cert_requests, 3);
}

#[tokio::test]
async fn the_alert_sink_records_what_it_is_sent_and_lists_it_until_cleared() {
    let st = demo_state();
    let post = Request::post(crate::alerts::SINK_PATH)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"kind":"dead_lettered","route":"q"}"#))
        .unwrap();
    assert_eq!(send(&st, post).await.status, StatusCode::OK);
    let not_json = Request::post(crate::alerts::SINK_PATH).body(Body::from("plain")).unwrap();
    assert_eq!(send(&st, not_json).await.status, StatusCode::OK);
    let list = send(&st, Request::get("/_emulator/alerts").body(Body::empty()).unwrap()).await.json();
    let alerts = list["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 2);
    assert_eq!(alerts[0]["body"]["kind"], "dead_lettered");
    assert_eq!(alerts[0]["content_type"], "application/json");
    assert_eq!(alerts[1]["body"], Value::Null);
    assert_eq!(alerts[1]["text"], "plain");
    assert_eq!(st.alerts().len(), 2);
    let del = send(&st, Request::delete("/_emulator/alerts").body(Body::empty()).unwrap()).await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    assert!(st.alerts().is_empty());
}
