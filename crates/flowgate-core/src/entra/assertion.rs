//! Certificate credentials: the client assertion (a JWT signed with the
//! certificate's private key) that replaces a client secret
//! (entra-power-automate.md §3).
//!
//! This module builds the signing input and assembles the JWT; the signature
//! itself is made by the caller (Web Crypto in the Worker, the `rsa` crate in
//! the CLI), so no RSA code is compiled into the Worker.

use base64::{
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
    Engine,
};
use serde_json::json;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::{
    config::{AssertionAlgorithm, EntraConfig},
    secret::{Secret, SecretBytes},
};

/// `client_assertion_type` for a JWT assertion.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Lifetime of an assertion. Microsoft: "keep it short – 5-10 minutes after
/// `nbf` at most" (§3).
pub const ASSERTION_LIFETIME_SECS: u64 = 300;

/// A certificate credential, parsed from its PEM secrets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateCredential {
    /// PKCS#8 DER of the private key.
    pub private_key_der: SecretBytes,
    /// DER of the X.509 certificate (what the thumbprints hash).
    pub certificate_der: Vec<u8>,
    /// Signature algorithm.
    pub algorithm: AssertionAlgorithm,
}

impl CertificateCredential {
    /// Parses the PEM private key (PKCS#8, `BEGIN PRIVATE KEY`) and certificate.
    ///
    /// # Errors
    /// What is wrong with which PEM, and how to fix it (never the key).
    pub fn from_pem(
        private_key_pem: &Secret,
        certificate_pem: &str,
        algorithm: AssertionAlgorithm,
    ) -> Result<Self, String> {
        let key = private_key_pem.expose();
        if key.contains("BEGIN RSA PRIVATE KEY") {
            return Err("the private key is PKCS#1 (BEGIN RSA PRIVATE KEY); convert it to PKCS#8 with `openssl pkcs8 -topk8 -nocrypt -in key.pem -out key-pkcs8.pem`".to_owned());
        }
        if key.contains("BEGIN ENCRYPTED PRIVATE KEY") {
            return Err("the private key is encrypted; store it unencrypted (`openssl pkcs8 -topk8 -nocrypt`) — the wrangler secret is what protects it".to_owned());
        }
        let private_key_der = pem_decode(key, "PRIVATE KEY").map_err(|e| format!("private key: {e}"))?;
        let certificate_der = pem_decode(certificate_pem, "CERTIFICATE").map_err(|e| format!("certificate: {e}"))?;
        Ok(Self { private_key_der: SecretBytes::new(private_key_der), certificate_der, algorithm })
    }

    /// `x5t`: base64url SHA-1 thumbprint of the certificate.
    pub fn x5t(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha1::digest(&self.certificate_der))
    }

    /// `x5t#S256`: base64url SHA-256 thumbprint of the certificate.
    pub fn x5t_s256(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(&self.certificate_der))
    }

    /// The JWT signing input (`header.claims`, base64url): RS256 names the
    /// certificate by `x5t`, PS256 by `x5t#S256`.
    pub fn signing_input(&self, cfg: &EntraConfig, now: u64, jti: &str) -> String {
        let header = match self.algorithm {
            AssertionAlgorithm::Rs256 => json!({"alg": "RS256", "typ": "JWT", "x5t": self.x5t()}),
            AssertionAlgorithm::Ps256 => json!({"alg": "PS256", "typ": "JWT", "x5t#S256": self.x5t_s256()}),
        };
        let claims = json!({
            "aud": cfg.token_endpoint(),
            "iss": cfg.client_id,
            "sub": cfg.client_id,
            "jti": jti,
            "nbf": now,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_SECS,
        });
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()))
    }
}

/// The finished assertion: signing input plus the base64url signature.
pub fn assemble(signing_input: &str, signature: &[u8]) -> String {
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// The body of one PEM block with `label` (`-----BEGIN {label}-----`).
///
/// # Errors
/// A fixed description when there is no such block or it is not base64.
pub fn pem_decode(text: &str, label: &str) -> Result<Vec<u8>, &'static str> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    // Wrangler secrets set from a shell often carry literal "\n" sequences.
    let text = text.replace("\\n", "\n");
    let start = text.find(&begin).ok_or("no PEM block with the expected label")? + begin.len();
    let stop = text[start..].find(&end).ok_or("the PEM block is not terminated")? + start;
    let b64: String = text[start..stop].chars().filter(|c| !c.is_whitespace()).collect();
    let der = STANDARD.decode(b64).map_err(|_| "the PEM block is not valid base64")?;
    if der.is_empty() {
        return Err("the PEM block is empty");
    }
    Ok(der)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Cloud, Credential};

    const CERT: &str = include_str!("../../../../tests/fixtures/entra-test-cert.pem");
    const KEY: &str = include_str!("../../../../tests/fixtures/entra-test-key.pem");
    // Computed independently: openssl x509 -outform der | openssl sha1 -binary | base64url.
    const CERT_X5T: &str = "l9R5MQqZn5ZWNqKw2MUreJqiMT8";

    fn cfg() -> EntraConfig {
        EntraConfig {
            cloud: Cloud::Public,
            authority: "https://login.microsoftonline.com".into(),
            tenant: "contoso.onmicrosoft.com".into(),
            client_id: "5b6f2a10-7c1d-4e8f-9a2b-3c4d5e6f7a81".into(),
            scope: Cloud::Public.default_scope(),
            credential: Credential::ClientSecret { binding: "S".into() },
            timeout_secs: 5,
            token_cache_key_binding: None,
        }
    }

    fn decode(part: &str) -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn rs256_assertion_names_the_certificate_by_sha1_thumbprint() {
        let c = CertificateCredential::from_pem(&Secret::new(KEY), CERT, AssertionAlgorithm::Rs256).unwrap();
        assert_eq!(c.x5t(), CERT_X5T);
        let input = c.signing_input(&cfg(), 1_700_000_000, "jti-1");
        let (h, claims) = input.split_once('.').unwrap();
        let h = decode(h);
        assert_eq!(h["alg"], "RS256");
        assert_eq!(h["x5t"], CERT_X5T);
        assert!(h.get("x5t#S256").is_none());
        let claims = decode(claims);
        assert_eq!(claims["aud"], "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token");
        assert_eq!(claims["iss"], "5b6f2a10-7c1d-4e8f-9a2b-3c4d5e6f7a81");
        assert_eq!(claims["sub"], claims["iss"]);
        assert_eq!(claims["jti"], "jti-1");
        assert_eq!(claims["nbf"], 1_700_000_000u64);
        assert_eq!(claims["exp"], 1_700_000_300u64);
        let jwt = assemble(&input, &[1, 2, 3]);
        assert_eq!(jwt.split('.').count(), 3);
        assert!(jwt.ends_with(".AQID"));
    }

    #[test]
    fn ps256_assertion_uses_the_sha256_thumbprint() {
        let c = CertificateCredential::from_pem(&Secret::new(KEY), CERT, AssertionAlgorithm::Ps256).unwrap();
        let input = c.signing_input(&cfg(), 0, "j");
        let h = decode(input.split('.').next().unwrap());
        assert_eq!(h["alg"], "PS256");
        assert_eq!(h["x5t#S256"], c.x5t_s256());
        assert!(h.get("x5t").is_none());
        assert_eq!(URL_SAFE_NO_PAD.decode(c.x5t_s256()).unwrap().len(), 32);
    }

    #[test]
    fn pem_problems_are_explained_without_the_key() {
        let pkcs1 = "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----";
        let err = CertificateCredential::from_pem(&Secret::new(pkcs1), CERT, AssertionAlgorithm::Rs256).unwrap_err();
        assert!(err.contains("openssl pkcs8 -topk8"));
        assert!(!err.contains("MIIB"));
        let err =
            CertificateCredential::from_pem(&Secret::new(KEY), "not a pem", AssertionAlgorithm::Rs256).unwrap_err();
        assert!(err.starts_with("certificate:"));
        assert_eq!(
            pem_decode("-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----", "CERTIFICATE"),
            Err("the PEM block is not valid base64")
        );
        // Literal "\n" (as pasted into a one-line secret) is accepted.
        let one_line = CERT.replace('\n', "\\n");
        assert_eq!(pem_decode(&one_line, "CERTIFICATE").unwrap(), pem_decode(CERT, "CERTIFICATE").unwrap());
    }
}
