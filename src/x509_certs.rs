//! X.509 certificates fetched by URL from the sender's own host: AWS SNS's
//! `SigningCertURL` (`https://sns.<region>.amazonaws.com/….pem`) and
//! PayPal's `PAYPAL-CERT-URL` (`https://api.paypal.com/v1/notifications/certs/…`). One
//! module for every sender that names its certificate by URL, so each one
//! only says which URLs may be fetched ([`CertHost::allowed`], decided in
//! flowgate-core before anything is fetched) and what an answer means
//! ([`CertHost::classify`]).
//!
//! Looked up in a per-isolate map, then KV (`x509/v1/<SHA-256 of the URL>`,
//! 24 h; a value read back is checked again), then the host (GET, 5 s, no
//! redirects). The fetch rules are Plaid's (`verify::plaid::keys`, one
//! [`FetchPolicy`] for this module's hosts): a URL the host does not know
//! (403/404) is a forged request (401), remembered for a minute per route;
//! each isolate makes at most a small budget of fetches (a forger naming
//! random certificate URLs on a real SNS host costs SNS that much, no
//! more); 429 (which holds fetches back), 5xx, a non-certificate 200 or no
//! answer are 502.

use std::{cell::RefCell, collections::HashMap, time::Duration};

use flowgate_core::{
    config::Route,
    entra::TokenStore,
    verify::{
        certificate_cache_key, paypal,
        plaid::keys::{FetchPolicy, KeyAnswer, Refusal, FETCH_BURST, FETCH_REFILL_SECS},
        sns, x509, VerifyError,
    },
    Headers, Secret,
};

use crate::{
    http,
    kv_token_store::KvTokenStore,
    log::{now_millis, Record},
    reply::Reply,
};

/// How long a certificate is kept, in memory and in KV.
const CERT_TTL_SECS: u64 = 24 * 3600;
/// Time allowed for the certificate host.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Most certificates kept per isolate.
const MAX_CERTS_IN_MEMORY: usize = 32;

/// A sender whose certificate is fetched by URL.
pub(crate) struct CertHost {
    /// Its name in log messages.
    pub(crate) sender: &'static str,
    /// The URL the request names, when it may be fetched; `None` refuses
    /// the request (401) without a fetch. Arguments: the headers, the body,
    /// and the route's emulator origin (tests).
    pub(crate) allowed: fn(&Headers, &[u8], Option<&str>) -> Option<String>,
    /// What the host's answer means (`KeyAnswer::Key` holds the PEM).
    pub(crate) classify: fn(u16, Option<u64>, &[u8]) -> KeyAnswer,
    /// Whether a PEM read back from KV is still a usable certificate.
    pub(crate) usable: fn(&str) -> bool,
}

/// AWS SNS: `SigningCertURL` on an SNS host.
pub(crate) const SNS: CertHost = CertHost {
    sender: "SNS",
    allowed: |_, body, origin| sns::cert_url(body, origin),
    classify: x509::classify_certificate,
    usable: |pem| x509::certificate_key(pem).is_ok(),
};

/// PayPal: `PAYPAL-CERT-URL` on a PayPal API host.
pub(crate) const PAYPAL: CertHost = CertHost {
    sender: "PayPal",
    allowed: |headers, _, origin| paypal::cert_url(headers, origin),
    classify: x509::classify_certificate,
    usable: |pem| x509::certificate_key(pem).is_ok(),
};

thread_local! {
    // cache key → (PEM, fetched at, Unix seconds).
    static CERTS: RefCell<HashMap<String, (String, u64)>> = RefCell::new(HashMap::new());
    // Unknown URLs, the fetch budget and the hosts' 429 hold, for this isolate.
    static POLICY: RefCell<FetchPolicy> = RefCell::new(FetchPolicy::new());
}

/// The certificate the request names, as a route secret; or the answer to
/// give instead (401 or 502, with `rec` filled in).
pub(crate) async fn certificate(
    store: &KvTokenStore,
    host: &CertHost,
    route: &Route,
    emulator_origin: Option<&str>,
    headers: &Headers,
    body: &[u8],
    rec: &mut Record<'_>,
) -> Result<Secret, Reply> {
    let sender = host.sender;
    // (1) Only a URL on the sender's host is ever fetched.
    let Some(url) = (host.allowed)(headers, body, emulator_origin) else {
        let detail = format!(
            "the {sender} certificate URL is missing or not on {sender}'s host (https only): not fetched{}",
            if emulator_origin.is_some() { " (this route accepts only its emulator origin)" } else { "" }
        );
        return Err(rejected(rec, &VerifyError::SignatureMismatch, detail));
    };
    // (2) Memory, then KV.
    let cache_key = certificate_cache_key(&url);
    let now = now_millis() / 1000;
    let in_memory = CERTS.with(|c| {
        c.borrow().get(&cache_key).filter(|(_, at)| at.saturating_add(CERT_TTL_SECS) > now).map(|(p, _)| p.clone())
    });
    if let Some(pem) = in_memory {
        return Ok(Secret::new(pem));
    }
    if let Some(pem) = store.get(&cache_key).await.filter(|p| (host.usable)(p)) {
        remember(&cache_key, &pem, now);
        return Ok(Secret::new(pem));
    }
    // (3) Forged URLs remembered, the budget, the host's 429 hold.
    let unknown_key = format!("{}/{cache_key}", route.name);
    let now_ms = now_millis();
    if POLICY.with(|p| p.borrow().known_unknown(&unknown_key, now_ms)) {
        let detail =
            format!("{sender} said less than a minute ago that it has no certificate at this URL; not asked again");
        return Err(rejected(rec, &VerifyError::SignatureMismatch, detail));
    }
    if let Err(refusal) = POLICY.with(|p| p.borrow_mut().admit(now_ms)) {
        let message = match refusal {
            Refusal::Held { retry_after_secs } => {
                format!("{sender}'s certificate host answered 429: not asked for {retry_after_secs} s more")
            }
            Refusal::OverBudget { retry_after_secs } => format!(
                "this isolate's certificate fetch budget ({FETCH_BURST}, one more every {FETCH_REFILL_SECS} s) is spent, by requests naming certificates not in the cache: {sender} not asked; the next fetch in {retry_after_secs} s"
            ),
        };
        return Err(unavailable(rec, message));
    }
    // (4) Fetch.
    let answer = match http::get(&url, FETCH_TIMEOUT).await {
        Ok(a) => a,
        Err(e) => return Err(unavailable(rec, format!("{sender}'s certificate host failed: {}", e.describe()))),
    };
    let verdict = (host.classify)(answer.status, answer.retry_after, &answer.body);
    POLICY.with(|p| p.borrow_mut().record(&unknown_key, &verdict, now_millis()));
    match verdict {
        KeyAnswer::Key(pem) => {
            store.put(&cache_key, pem.clone(), CERT_TTL_SECS).await;
            remember(&cache_key, &pem, now);
            Ok(Secret::new(pem))
        }
        KeyAnswer::UnknownKid { code } => Err(rejected(
            rec,
            &VerifyError::SignatureMismatch,
            format!("{sender} has no certificate at the URL the message names ({code})"),
        )),
        KeyAnswer::Throttled { retry_after_secs } => Err(unavailable(
            rec,
            format!(
                "{sender}'s certificate host answered 429 (Retry-After {}): fetches held back",
                retry_after_secs.map_or_else(|| "none".to_owned(), |s| format!("{s} s"))
            ),
        )),
        KeyAnswer::BadCredentials { code } => {
            Err(unavailable(rec, format!("{sender}'s certificate host refused the request ({code})")))
        }
        KeyAnswer::Unavailable { reason } => {
            Err(unavailable(rec, format!("{sender}'s certificate host answered {reason}")))
        }
    }
}

fn remember(cache_key: &str, pem: &str, now: u64) {
    CERTS.with(|c| {
        let mut certs = c.borrow_mut();
        if certs.len() >= MAX_CERTS_IN_MEMORY {
            certs.clear();
        }
        certs.insert(cache_key.to_owned(), (pem.to_owned(), now));
    });
}

/// 401, nothing forwarded.
fn rejected(rec: &mut Record<'_>, e: &VerifyError, detail: String) -> Reply {
    rec.outcome = "rejected";
    rec.error_code = Some(e.code().to_owned());
    rec.message = Some(detail);
    Reply::InvalidSignature
}

/// 502, nothing forwarded.
fn unavailable(rec: &mut Record<'_>, message: String) -> Reply {
    rec.outcome = "certificate_unavailable";
    rec.error_code = Some("certificate_unavailable".to_owned());
    rec.message = Some(message);
    Reply::VerificationKeyUnavailable
}
