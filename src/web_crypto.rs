//! Web Crypto behind flowgate-core's [`SignaturePort`]: the Worker's
//! asymmetric signature checks (Ed25519, ECDSA P-256, RSASSA-PKCS1-v1_5)
//! run in workerd's native `crypto.subtle`, so the bundle carries no curve
//! or bignum code (issue 12). The core parses everything and says what to
//! check ([`flowgate_core::verify::asymmetric`]); this file only imports
//! the key and calls `verify`.
//!
//! Imported keys are kept per isolate (a bounded map keyed by algorithm and
//! key bytes): a route's key, or a fetched certificate's, is imported once,
//! not on every webhook.

use std::{cell::RefCell, collections::HashMap};

use flowgate_core::verify::asymmetric::{Algorithm, Answer, AsymmetricCheck, SignaturePort};
use wasm_bindgen::{JsCast, JsValue};
use worker::{js_sys, wasm_bindgen_futures::JsFuture};

use crate::log;

/// Most imported keys kept per isolate (routes hold a few; certificates rotate slowly).
const MAX_KEYS: usize = 64;

thread_local! {
    static KEYS: RefCell<HashMap<(Algorithm, Vec<u8>), web_sys::CryptoKey>> = RefCell::new(HashMap::new());
}

/// `crypto.subtle`, as the port.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WebCrypto;

fn object(pairs: &[(&str, &str)]) -> Option<js_sys::Object> {
    let o = js_sys::Object::new();
    for (k, v) in pairs {
        js_sys::Reflect::set(&o, &JsValue::from_str(k), &JsValue::from_str(v)).ok()?;
    }
    Some(o)
}

/// The `importKey` and `verify` algorithm objects.
fn algorithms(algorithm: Algorithm) -> Option<(js_sys::Object, js_sys::Object)> {
    let rsa = |hash| {
        Some((object(&[("name", "RSASSA-PKCS1-v1_5"), ("hash", hash)])?, object(&[("name", "RSASSA-PKCS1-v1_5")])?))
    };
    match algorithm {
        Algorithm::Ed25519 => Some((object(&[("name", "Ed25519")])?, object(&[("name", "Ed25519")])?)),
        Algorithm::EcdsaP256Sha256 => Some((
            object(&[("name", "ECDSA"), ("namedCurve", "P-256")])?,
            object(&[("name", "ECDSA"), ("hash", "SHA-256")])?,
        )),
        Algorithm::EcdsaP256Sha1 => Some((
            object(&[("name", "ECDSA"), ("namedCurve", "P-256")])?,
            object(&[("name", "ECDSA"), ("hash", "SHA-1")])?,
        )),
        Algorithm::RsaPkcs1Sha1 => rsa("SHA-1"),
        Algorithm::RsaPkcs1Sha256 => rsa("SHA-256"),
        Algorithm::RsaPkcs1Sha512 => rsa("SHA-512"),
    }
}

fn subtle() -> Option<web_sys::SubtleCrypto> {
    let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    Some(global.crypto().ok()?.subtle())
}

/// The imported key, from this isolate's map or imported now; `Err` with
/// the answer to give when it cannot be had.
async fn key(
    subtle: &web_sys::SubtleCrypto,
    check: &AsymmetricCheck<'_>,
    import: &js_sys::Object,
) -> Result<web_sys::CryptoKey, Answer> {
    let cache_key = (check.algorithm, check.key.to_vec());
    if let Some(k) = KEYS.with(|m| m.borrow().get(&cache_key).cloned()) {
        return Ok(k);
    }
    let data = js_sys::Uint8Array::from(check.key);
    let usages = js_sys::Array::of1(&JsValue::from_str("verify"));
    let promise = subtle
        .import_key_with_object(check.key_format.web_crypto_name(), &data, import, false, &usages)
        .map_err(|_| Answer::KeyRejected)?;
    let key: web_sys::CryptoKey = JsFuture::from(promise).await.map_err(|_| Answer::KeyRejected)?.unchecked_into();
    KEYS.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() >= MAX_KEYS {
            m.clear();
        }
        m.insert(cache_key, key.clone());
    });
    Ok(key)
}

impl SignaturePort for WebCrypto {
    async fn check(&self, check: &AsymmetricCheck<'_>) -> Answer {
        // Fail closed: without Web Crypto nothing verifies (workerd always has it).
        let (Some(subtle), Some((import, verify))) = (subtle(), algorithms(check.algorithm)) else {
            log::warn("web_crypto_unavailable", "crypto.subtle is not available: signature not verified");
            return Answer::Invalid;
        };
        let key = match key(&subtle, check, &import).await {
            Ok(k) => k,
            Err(answer) => return answer,
        };
        let Ok(promise) =
            subtle.verify_with_object_and_u8_array_and_u8_array(&verify, &key, check.signature, check.message)
        else {
            return Answer::Invalid;
        };
        match JsFuture::from(promise).await {
            Ok(v) if v.as_bool() == Some(true) => Answer::Valid,
            // false, or an exception (a signature of the wrong length for
            // the algorithm): not verified.
            _ => Answer::Invalid,
        }
    }
}
