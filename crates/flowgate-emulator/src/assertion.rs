//! Certificate credentials at the token endpoint: the client assertion
//! (`client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`,
//! `client_assertion=<JWT>`) that replaces a client secret
//! (entra-power-automate.md §3).
//!
//! What is checked, in order, and how each failure is answered (§2 error
//! shape; every answer is `invalid_client`):
//!
//! | check | AADSTS |
//! |---|---|
//! | three base64url parts of JSON objects with an `alg`, at most 16 KiB | 50027 "JWT token is invalid or malformed." |
//! | `alg` is `RS256` or `PS256` | 700027 (signature cannot be validated) |
//! | `x5t#S256` or `x5t` present | 50027 "No certificate thumbprint specified in token header." |
//! | the thumbprint names a certificate registered on this app | 700027 "…not registered on application. [Reason - The key was not found., …]" |
//! | the signature verifies with that certificate's RSA key | 700027 "Client assertion contains an invalid signature. […]" |
//! | `aud` is the token endpoint the request was sent to | 50012 "Client assertion audience claim does not match Realm issuer." |
//! | `iss` and `sub` are the client ID | 50012 |
//! | `exp` present and in the future; `nbf`, if present, not in the future | 50012 "Client assertion is not within its valid time range." |
//! | `jti` present | 50012 |
//! | `jti` not seen before for this app (checked by the caller) | 50012 |
//!
//! Choices, so tests can rely on them:
//! - Key and signature problems are 700027, as Entra answers today (field
//!   reports: "Client assertion contains an invalid signature. [Reason - The
//!   key was not found., Thumbprint of key used by client: '…']").
//! - Claim problems are 50012 ("AuthenticationFailed", §2), the code Entra
//!   used for exactly these texts for years ("AADSTS50012: Client assertion
//!   audience claim does not match Realm issuer.", "…is not within its valid
//!   time range."). Current Entra answers 700023 for a wrong audience and
//!   700024 for an expired assertion; the emulator keeps to the two codes
//!   §2 lists for assertion failures.
//! - Entra "doesn't place restrictions on the `exp` time" (§3): no maximum
//!   lifetime is enforced. `nbf` may be up to a minute ahead (msal-node sets
//!   it a second ahead); `exp` has no allowance.
//! - A reused `jti` is refused. Entra is not known to do that (tools reuse
//!   an assertion until it expires); the emulator is stricter so that a
//!   client replaying assertions shows up in tests.
//! - The thumbprint header decides the key: `x5t#S256` (SHA-256 of the
//!   certificate DER) when present, else `x5t` (SHA-1). The pairing
//!   RS256+`x5t` / PS256+`x5t#S256` is what clients send (§3); other pairings
//!   are not refused. A SHA-256 digest put in `x5t` names no certificate.
//!   Thumbprints may be base64url or standard base64, padded or not (MSAL
//!   for Python sends standard base64 with padding).
//! - PS256 is RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt
//!   (RFC 7518 §3.5); another salt length fails verification.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use rsa::{pkcs1v15, pkcs8::DecodePublicKey as _, pss, signature::Verifier as _, RsaPublicKey};
use serde_json::Value;
use sha1::Sha1;
use sha2::{Digest as _, Sha256};
use x509_cert::{
    der::{Decode as _, Encode as _},
    Certificate,
};

use crate::{
    jwt::decode_json,
    types::{format_utc, now_unix, EntraError},
};

/// The only `client_assertion_type` Entra accepts for a JWT (§3).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How far in the future an assertion's `nbf` may be: msal-node rounds it
/// up to the next second, and real Entra takes its assertions. Entra's own
/// allowance is not documented; one minute is the emulator's choice.
const NBF_SKEW_SECS: u64 = 60;

/// Longest assertion looked at; real ones are one or two kilobytes.
const MAX_ASSERTION_LEN: usize = 16 * 1024;

/// Where Entra's messages send the reader (as in its 700024 texts).
const DOCS: &str = "https://learn.microsoft.com/entra/identity-platform/certificate-credentials";

/// A certificate registered on an app: its thumbprints and RSA public key.
#[derive(Clone, Debug)]
pub(crate) struct RegisteredCertificate {
    sha1: [u8; 20],
    sha256: [u8; 32],
    key: RsaPublicKey,
}

impl RegisteredCertificate {
    /// Parses one PEM `CERTIFICATE` block (surrounding whitespace allowed).
    ///
    /// # Errors
    /// Not PEM, another PEM label, not a DER X.509 certificate, or a public
    /// key that is not RSA.
    pub(crate) fn from_pem(pem: &str) -> Result<Self, String> {
        let (label, der) =
            x509_cert::der::pem::decode_vec(pem.trim().as_bytes()).map_err(|e| format!("not PEM ({e})"))?;
        if label != "CERTIFICATE" {
            return Err(format!("the PEM label is {label:?}, not \"CERTIFICATE\""));
        }
        let cert = Certificate::from_der(&der).map_err(|e| format!("not an X.509 certificate ({e})"))?;
        let spki =
            cert.tbs_certificate.subject_public_key_info.to_der().map_err(|e| format!("bad public key ({e})"))?;
        let key = RsaPublicKey::from_public_key_der(&spki).map_err(|_| "the public key is not RSA".to_owned())?;
        Ok(Self { sha1: Sha1::digest(&der).into(), sha256: Sha256::digest(&der).into(), key })
    }

    /// `x5t`: base64url SHA-1 thumbprint of the DER.
    #[cfg(test)]
    pub(crate) fn x5t(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.sha1)
    }

    /// `x5t#S256`: base64url SHA-256 thumbprint of the DER.
    #[cfg(test)]
    pub(crate) fn x5t_s256(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.sha256)
    }
}

/// What the token endpoint knows when it checks an assertion.
pub(crate) struct Expected<'a> {
    /// Client ID the request names (`client_id`).
    pub(crate) client_id: &'a str,
    /// The app's registered certificates.
    pub(crate) certificates: &'a [RegisteredCertificate],
    /// Every spelling of the token endpoint URL that `aud` may be.
    pub(crate) audiences: &'a [String],
}

/// A valid assertion's replay-relevant claims.
#[derive(Debug)]
pub(crate) struct Accepted {
    pub(crate) jti: String,
    pub(crate) exp: u64,
}

fn malformed() -> EntraError {
    EntraError::new(50_027, "invalid_client", "JWT token is invalid or malformed.")
}

fn failed(message: impl Into<String>) -> EntraError {
    EntraError::new(50_012, "invalid_client", message)
}

/// Attacker text echoed in a message, shortened.
fn echo(s: &str) -> String {
    s.chars().take(128).collect()
}

/// `2024-10-02T22:05:03Z` for Unix seconds, as Entra's 700024 text writes times.
fn iso(secs: u64) -> String {
    format!("{}Z", format_utc(secs).replacen(' ', "T", 1))
}

/// A numeric claim (integer or not), floored; `None` if absent or not a
/// non-negative number.
fn num(claims: &Value, name: &str) -> Option<Option<u64>> {
    claims.get(name).map(|v| v.as_f64().filter(|f| f.is_finite() && *f >= 0.0).map(|f| f as u64))
}

/// Looks a thumbprint header up among `certificates` (compared with
/// `digest`): `None` when the header is absent, else the index of the
/// certificate or, when none matches, the thumbprint as Entra shows it
/// (upper-case hex; the text as sent when it is not base64url).
fn lookup(
    header: &Value,
    name: &str,
    certificates: &[RegisteredCertificate],
    digest: impl Fn(&RegisteredCertificate) -> &[u8],
) -> Option<Result<usize, String>> {
    let value = header.get(name)?;
    let Some(raw) = value.as_str() else {
        return Some(Err(value.to_string()));
    };
    let bytes = thumbprint_bytes(raw);
    let hit = bytes.as_deref().and_then(|b| certificates.iter().position(|c| digest(c) == b));
    Some(hit.ok_or_else(|| bytes.as_ref().map_or_else(|| raw.to_owned(), hex::encode_upper)))
}

/// The digest a thumbprint header carries. RFC 7515 says base64url without
/// padding, but MSAL for Python sends standard base64 with padding
/// (`l9R5…iMT8=`), and Entra accepts it (MSAL works against Entra): every
/// base64 spelling is taken.
fn thumbprint_bytes(raw: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE};
    [URL_SAFE_NO_PAD, URL_SAFE, STANDARD, STANDARD_NO_PAD].iter().find_map(|e| e.decode(raw).ok())
}

/// Checks an assertion (see the module docs); the caller then checks that
/// the `jti` is new.
///
/// # Errors
/// The Entra error for the first failed check.
pub(crate) fn verify(assertion: &str, expected: &Expected<'_>) -> Result<Accepted, EntraError> {
    verify_at(assertion, expected, now_unix())
}

pub(crate) fn verify_at(assertion: &str, expected: &Expected<'_>, now: u64) -> Result<Accepted, EntraError> {
    if assertion.len() > MAX_ASSERTION_LEN {
        return Err(malformed());
    }
    let mut parts = assertion.split('.');
    let (Some(h64), Some(p64), Some(s64), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(malformed());
    };
    let header = decode_json(h64).ok_or_else(malformed)?;
    let claims = decode_json(p64).ok_or_else(malformed)?;
    let signature = URL_SAFE_NO_PAD.decode(s64).map_err(|_| malformed())?;

    // Header: algorithm, then the certificate the thumbprint names.
    // A JOSE header without `alg` is not a JWT at all.
    let alg = header.get("alg").and_then(Value::as_str).ok_or_else(malformed)?;
    if alg != "RS256" && alg != "PS256" {
        return Err(EntraError::new(
            700_027,
            "invalid_client",
            format!(
                "Client assertion failed signature validation. [Reason - The signing algorithm '{}' is not \
                 supported; use PS256 or RS256.] Review the documentation at {DOCS} .",
                echo(alg)
            ),
        ));
    }
    let by_s256 = lookup(&header, "x5t#S256", expected.certificates, |c| &c.sha256);
    let by_sha1 = lookup(&header, "x5t", expected.certificates, |c| &c.sha1);
    let not_registered = |shown: &str| {
        EntraError::new(
            700_027,
            "invalid_client",
            format!(
                "The certificate with identifier used to sign the client assertion is not registered on \
                 application. [Reason - The key was not found., Thumbprint of key used by client: '{}', \
                 Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured \
                 keys for app Id '{}'.]",
                echo(shown),
                expected.client_id
            ),
        )
    };
    let cert = match (by_s256, by_sha1) {
        (None, None) => {
            return Err(EntraError::new(
                50_027,
                "invalid_client",
                "Invalid JWT token. No certificate thumbprint specified in token header.",
            ))
        }
        (Some(Err(shown)), _) | (_, Some(Err(shown))) => return Err(not_registered(&shown)),
        // Both present: they must name the same certificate.
        (Some(Ok(a)), Some(Ok(b))) if a != b => {
            return Err(not_registered("x5t and x5t#S256 name different certificates"))
        }
        (Some(Ok(i)), _) | (None, Some(Ok(i))) => &expected.certificates[i],
    };

    // Signature over the exact received text of the first two parts.
    let signing_input = &assertion[..h64.len() + 1 + p64.len()];
    let verified = if alg == "RS256" {
        pkcs1v15::Signature::try_from(signature.as_slice()).ok().is_some_and(|s| {
            pkcs1v15::VerifyingKey::<Sha256>::new(cert.key.clone()).verify(signing_input.as_bytes(), &s).is_ok()
        })
    } else {
        // `new` uses the digest size (32) as the salt length, and verification
        // requires exactly that length.
        pss::Signature::try_from(signature.as_slice()).ok().is_some_and(|s| {
            pss::VerifyingKey::<Sha256>::new(cert.key.clone()).verify(signing_input.as_bytes(), &s).is_ok()
        })
    };
    if !verified {
        return Err(EntraError::new(
            700_027,
            "invalid_client",
            format!(
                "Client assertion contains an invalid signature. [Reason - The provided signature value did \
                 not match the expected signature value., Thumbprint of key used by client: '{}']",
                hex::encode_upper(cert.sha1)
            ),
        ));
    }

    // Claims.
    let s = |name: &str| claims.get(name).and_then(Value::as_str);
    match s("aud") {
        Some(aud) if expected.audiences.iter().any(|a| a == aud) => {}
        other => {
            return Err(failed(format!(
                "Client assertion audience claim does not match Realm issuer. The audience in the assertion \
                 was '{}' and the expected audience is '{}' (the token endpoint the request was sent to). \
                 Review the documentation at {DOCS} .",
                echo(&other.map_or_else(|| claims.get("aud").map(Value::to_string).unwrap_or_default(), str::to_owned)),
                expected.audiences.first().map(String::as_str).unwrap_or_default()
            )))
        }
    }
    for claim in ["iss", "sub"] {
        if !s(claim).is_some_and(|v| v.eq_ignore_ascii_case(expected.client_id)) {
            return Err(failed(format!(
                "Client assertion is invalid: its '{claim}' claim ('{}') must be the client_id '{}'. Review \
                 the documentation at {DOCS} .",
                echo(s(claim).unwrap_or_default()),
                expected.client_id
            )));
        }
    }
    let time_range = |nbf: Option<u64>, exp: Option<u64>| {
        failed(format!(
            "Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, \
             expiry time of assertion {}. Review the documentation at {DOCS} .",
            iso(now),
            iso(nbf.unwrap_or(0)),
            exp.map_or_else(|| "(none)".to_owned(), iso)
        ))
    };
    let nbf = match num(&claims, "nbf") {
        None => None,
        Some(Some(n)) if n <= now.saturating_add(NBF_SKEW_SECS) => Some(n),
        Some(n) => return Err(time_range(n, num(&claims, "exp").flatten())),
    };
    let exp = match num(&claims, "exp") {
        Some(Some(e)) if e > now => e,
        Some(e) => return Err(time_range(nbf, e)),
        None => return Err(failed("Client assertion is invalid: it has no 'exp' claim.")),
    };
    let jti = s("jti").filter(|j| !j.is_empty()).ok_or_else(|| {
        failed("Client assertion is invalid: it has no 'jti' claim; give every assertion a new GUID as 'jti'.")
    })?;
    Ok(Accepted { jti: jti.to_owned(), exp })
}

/// The answer to a `jti` seen before (module docs: stricter than Entra).
pub(crate) fn replayed(jti: &str) -> EntraError {
    failed(format!(
        "Client assertion with jti '{}' has already been used. Create a new assertion, with a new 'jti', for \
         every token request.",
        echo(jti)
    ))
}
