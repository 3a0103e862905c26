//! The client-credentials call to Entra's token endpoint, as a
//! `flowgate_core::entra::TokenSource`, with a client secret or a
//! certificate assertion signed by Web Crypto.

use std::{rc::Rc, time::Duration};

use flowgate_core::{
    config::{AssertionAlgorithm, EntraConfig},
    entra::{
        assertion, client_assertion_form, client_secret_form, parse_token_response, CachedToken, CertificateCredential,
        ClientCredential, Runtime, TokenError, TokenSource,
    },
    Secret,
};
use wasm_bindgen::JsCast;
use worker::{js_sys, wasm_bindgen_futures::JsFuture, Delay};

use crate::{
    http,
    log::{self, now_millis},
};

/// `now`, timers and randomness for the core's token cache.
#[derive(Clone, Copy)]
pub(crate) struct WorkerRuntime;

impl Runtime for WorkerRuntime {
    fn now_secs(&self) -> u64 {
        now_millis() / 1000
    }

    async fn sleep(&self, ms: u64) {
        Delay::from(Duration::from_millis(ms)).await;
    }

    fn fill_random(&self, buf: &mut [u8]) {
        // crypto.getRandomValues cannot fail for small buffers in workerd.
        getrandom::getrandom(buf).expect("crypto.getRandomValues is available in Workers");
    }
}

/// Asks Entra for a token. Cheap to clone, so a background refresh can own one.
#[derive(Clone)]
pub(crate) struct EntraClient {
    config: Rc<EntraConfig>,
    /// The prepared form body (client secret) or the certificate to sign with.
    proof: Rc<Proof>,
}

enum Proof {
    Form(Secret),
    Certificate(CertificateCredential),
}

impl EntraClient {
    pub(crate) fn new(config: Rc<EntraConfig>, credential: &ClientCredential) -> Self {
        let proof = match credential {
            ClientCredential::Secret(s) => Proof::Form(Secret::new(client_secret_form(&config, s))),
            ClientCredential::Certificate(c) => Proof::Certificate(c.clone()),
        };
        Self { config, proof: Rc::new(proof) }
    }

    async fn body(&self) -> Result<Secret, TokenError> {
        match &*self.proof {
            Proof::Form(form) => Ok(form.clone()),
            Proof::Certificate(cert) => {
                let mut jti = [0u8; 16];
                WorkerRuntime.fill_random(&mut jti);
                let input = cert.signing_input(&self.config, WorkerRuntime.now_secs(), &hex(&jti));
                let started = now_millis();
                let signature = sign(cert, input.as_bytes()).await.map_err(TokenError::Credential)?;
                log::note(
                    "info",
                    "assertion_signed",
                    &format!("{} in {} ms", cert.algorithm.name(), now_millis() - started),
                );
                Ok(Secret::new(client_assertion_form(&self.config, &assertion::assemble(&input, &signature))))
            }
        }
    }
}

impl TokenSource for EntraClient {
    async fn fetch(&self) -> Result<CachedToken, TokenError> {
        let body = self.body().await?;
        let headers = [("content-type", "application/x-www-form-urlencoded".to_owned())];
        let timeout = Duration::from_secs(self.config.timeout_secs);
        let answer =
            http::post(&self.config.token_endpoint(), &headers, body.expose().as_bytes(), timeout, "x-ms-request-id")
                .await
                .map_err(|f| TokenError::Transport(f.describe()))?;
        parse_token_response(answer.status, answer.retry_after, &answer.body, WorkerRuntime.now_secs())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn js_object(pairs: &[(&str, wasm_bindgen::JsValue)]) -> Result<js_sys::Object, String> {
    let o = js_sys::Object::new();
    for (k, v) in pairs {
        js_sys::Reflect::set(&o, &(*k).into(), v).map_err(|_| "building a Web Crypto algorithm".to_owned())?;
    }
    Ok(o)
}

/// Signs with Web Crypto: RSASSA-PKCS1-v1_5 (RS256) or RSA-PSS with a
/// 32-byte salt (PS256), both over SHA-256. Native code, so the signature
/// costs well under a millisecond of the request's CPU time.
async fn sign(cert: &CertificateCredential, data: &[u8]) -> Result<Vec<u8>, String> {
    fn fail(what: &'static str) -> impl Fn(wasm_bindgen::JsValue) -> String {
        move |_| format!("Web Crypto could not {what}")
    }
    let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    let subtle = global.crypto().map_err(fail("start"))?.subtle();
    let (import, algorithm) = match cert.algorithm {
        AssertionAlgorithm::Rs256 => (
            js_object(&[("name", "RSASSA-PKCS1-v1_5".into()), ("hash", "SHA-256".into())])?,
            js_object(&[("name", "RSASSA-PKCS1-v1_5".into())])?,
        ),
        AssertionAlgorithm::Ps256 => (
            js_object(&[("name", "RSA-PSS".into()), ("hash", "SHA-256".into())])?,
            js_object(&[("name", "RSA-PSS".into()), ("saltLength", 32.into())])?,
        ),
    };
    let key_data = js_sys::Uint8Array::from(cert.private_key_der.expose());
    let usages = js_sys::Array::of1(&"sign".into());
    let key = JsFuture::from(
        subtle
            .import_key_with_object("pkcs8", &key_data, &import, false, &usages)
            .map_err(fail("import the private key (is it an RSA PKCS#8 key?)"))?,
    )
    .await
    .map_err(fail("import the private key (is it an RSA PKCS#8 key?)"))?;
    let signature = JsFuture::from(
        subtle.sign_with_object_and_u8_array(&algorithm, &key.unchecked_into(), data).map_err(fail("sign"))?,
    )
    .await
    .map_err(fail("sign"))?;
    Ok(js_sys::Uint8Array::new(&signature).to_vec())
}
