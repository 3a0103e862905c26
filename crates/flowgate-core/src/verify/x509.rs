//! X.509 certificates a sender names by URL (AWS SNS's `SigningCertURL`,
//! PayPal's `PAYPAL-CERT-URL`): which URLs may be fetched, the RSA key of a
//! PEM certificate, and what the host's answer means. One module for every
//! such sender; each says only which hosts are its own. The Worker's half
//! (caching, the fetch budget, 502s) is `src/x509_certs.rs`.
//!
//! Nothing of the certificate but its key is checked: the sender's host,
//! reached over https, is the trust anchor (as in AWS's validators).

use base64::{engine::general_purpose::STANDARD, Engine};

use super::{
    der::{self, unarmor, SpkiKey},
    plaid::keys::KeyAnswer,
};

/// The longest certificate accepted (SNS's and PayPal's are about 2 KB of PEM).
pub const MAX_CERT_BYTES: usize = 16 * 1024;
/// The longest certificate URL accepted.
pub const MAX_URL_BYTES: usize = 1024;

/// The path-and-query of `url` when it is `https://<host>/…` with `host_ok`
/// (no user info, no port, no fragment, no backslash or whitespace); or,
/// with `base` set — the emulator, in tests — when it is under that base,
/// and then nothing else is.
pub(super) fn allowed_path<'u>(url: &'u str, base: Option<&str>, host_ok: fn(&str) -> bool) -> Option<&'u str> {
    if url.len() > MAX_URL_BYTES || url.contains(['#', '@', '\\']) || url.bytes().any(|b| b <= b' ' || b >= 0x7f) {
        return None;
    }
    if let Some(base) = base {
        let rest = url.strip_prefix(base.trim_end_matches('/'))?;
        return rest.starts_with('/').then_some(rest);
    }
    let rest = url.strip_prefix("https://")?;
    let (host, path) = rest.split_at(rest.find('/')?);
    host_ok(host).then_some(path)
}

/// The RSA key (DER SubjectPublicKeyInfo) of a PEM certificate.
///
/// # Errors
/// A fixed reason when it is not a PEM X.509 certificate with an RSA key.
pub fn certificate_key(pem: &str) -> Result<Vec<u8>, &'static str> {
    if !pem.contains("-----BEGIN CERTIFICATE-----") || pem.len() > MAX_CERT_BYTES {
        return Err("is not a PEM certificate");
    }
    let der = STANDARD.decode(unarmor(pem)).map_err(|_| "is not a PEM certificate")?;
    let spki = der::certificate_spki(&der).ok_or("is not an X.509 certificate")?;
    match der::spki(spki) {
        Some(SpkiKey::Rsa) => Ok(spki.to_vec()),
        _ => Err("does not hold an RSA key"),
    }
}

/// What an answer to a certificate fetch means: 200 with an RSA certificate
/// is the key; 403 or 404 (what SNS's S3-backed hosts and PayPal answer for
/// a certificate that does not exist) is a forged URL, remembered as such;
/// 429 holds fetches back; anything else is 502.
pub fn classify_certificate(status: u16, retry_after: Option<u64>, body: &[u8]) -> KeyAnswer {
    match status {
        200 => match std::str::from_utf8(body).ok().filter(|pem| certificate_key(pem).is_ok()) {
            Some(pem) => KeyAnswer::Key(pem.to_owned()),
            None => KeyAnswer::Unavailable { reason: "200 without an RSA certificate".to_owned() },
        },
        403 | 404 => KeyAnswer::UnknownKid { code: status.to_string() },
        429 => KeyAnswer::Throttled { retry_after_secs: retry_after },
        other => KeyAnswer::Unavailable { reason: other.to_string() },
    }
}
