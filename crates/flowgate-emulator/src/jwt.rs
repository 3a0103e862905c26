//! RS256 JSON Web Tokens: the emulator's signing key, token minting, the JWKS
//! entry, and strict verification of tokens presented to a flow trigger.
//!
//! Only what the emulator needs is implemented: compact serialisation,
//! `alg` RS256 (RSASSA-PKCS1-v1_5 with SHA-256, RFC 7518 §3.3), unpadded
//! base64url. Verification never panics on attacker input; every failure is a
//! [`JwtError`].

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use rsa::{
    pkcs1v15,
    signature::{SignatureEncoding as _, Signer as _, Verifier as _},
    traits::PublicKeyParts as _,
    RsaPrivateKey,
};
use serde::Serialize;
use serde_json::{json, Value};
use sha1::{Digest as _, Sha1};
use sha2::Sha256;

/// Modulus size of the generated key, as Entra's signing keys.
pub(crate) const RSA_BITS: usize = 2048;

/// Longest bearer token the verifier will look at; real Entra tokens are a
/// few kilobytes.
const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Why a presented token was not accepted. The flow answers all of these the
/// same way (`MisMatchingOAuthClaims`); the variant only goes into the
/// emulator's rejection detail.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum JwtError {
    /// Not three base64url parts of JSON, or too long.
    #[error("malformed JWT: {0}")]
    Malformed(&'static str),
    /// `alg` other than RS256 (including `none`).
    #[error("unsupported JWT alg (only RS256 is accepted)")]
    UnsupportedAlg,
    /// `kid` names a key the emulator does not have.
    #[error("JWT kid is not the emulator's signing key")]
    UnknownKey,
    /// The RS256 signature does not verify with the emulator's key.
    #[error("JWT signature does not verify with the emulator's signing key")]
    BadSignature,
}

/// The JOSE header Entra puts on access tokens (`x5t` = `kid`).
#[derive(Serialize)]
struct Header<'a> {
    typ: &'static str,
    alg: &'static str,
    x5t: &'a str,
    kid: &'a str,
}

/// The emulator's RSA key pair with its derived key ID and JWK fields.
pub(crate) struct SigningKey {
    signer: pkcs1v15::SigningKey<Sha256>,
    verifier: pkcs1v15::VerifyingKey<Sha256>,
    kid: String,
    n_b64: String,
    e_b64: String,
}

impl SigningKey {
    /// Generates a fresh 2048-bit key (CPU-heavy: call off the async runtime).
    ///
    /// # Errors
    /// If the RSA key generation fails.
    pub(crate) fn generate() -> anyhow::Result<Self> {
        let key = RsaPrivateKey::new(&mut rand::rngs::OsRng, RSA_BITS)?;
        Ok(Self::from_private_key(key))
    }

    /// Wraps an existing private key.
    pub(crate) fn from_private_key(key: RsaPrivateKey) -> Self {
        let public = key.to_public_key();
        let n = public.n().to_bytes_be();
        let e = public.e().to_bytes_be();
        // Entra's `kid`/`x5t` is the base64url SHA-1 thumbprint of the signing
        // certificate; there is no certificate here, so hash the public key.
        let mut h = Sha1::new();
        h.update(&n);
        h.update(&e);
        let kid = URL_SAFE_NO_PAD.encode(h.finalize());
        Self {
            signer: pkcs1v15::SigningKey::<Sha256>::new(key),
            verifier: pkcs1v15::VerifyingKey::<Sha256>::new(public),
            kid,
            n_b64: URL_SAFE_NO_PAD.encode(n),
            e_b64: URL_SAFE_NO_PAD.encode(e),
        }
    }

    /// Key ID (also used as `x5t`).
    #[cfg(test)]
    pub(crate) fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK, as Entra's `discovery/v2.0/keys` lists it.
    pub(crate) fn jwk(&self, issuer: &str) -> Value {
        json!({
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": self.n_b64,
            "e": self.e_b64,
            "issuer": issuer,
        })
    }

    /// Signs `claims` into a compact RS256 JWT with Entra's header shape.
    ///
    /// # Errors
    /// If `claims` cannot be serialised to JSON.
    pub(crate) fn sign<C: Serialize>(&self, claims: &C) -> anyhow::Result<String> {
        let header = Header { typ: "JWT", alg: "RS256", x5t: &self.kid, kid: &self.kid };
        let header = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?);
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?);
        let signing_input = format!("{header}.{payload}");
        let sig = self.signer.sign(signing_input.as_bytes()).to_bytes();
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }

    /// Verifies the signature of a compact JWT and returns its claims.
    /// Claim *values* are not checked here; that is the flow policy's job.
    ///
    /// # Errors
    /// Every [`JwtError`] variant, as documented there.
    pub(crate) fn verify(&self, token: &str) -> Result<Value, JwtError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(JwtError::Malformed("token too long"));
        }
        let mut parts = token.split('.');
        let (Some(h64), Some(p64), Some(s64), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(JwtError::Malformed("not three dot-separated parts"));
        };
        let header = decode_json(h64).ok_or(JwtError::Malformed("header"))?;
        if header.get("alg").and_then(Value::as_str) != Some("RS256") {
            return Err(JwtError::UnsupportedAlg);
        }
        if let Some(kid) = header.get("kid") {
            if kid.as_str() != Some(self.kid.as_str()) {
                return Err(JwtError::UnknownKey);
            }
        }
        let sig = URL_SAFE_NO_PAD.decode(s64).map_err(|_| JwtError::Malformed("signature is not base64url"))?;
        let sig = pkcs1v15::Signature::try_from(sig.as_slice()).map_err(|_| JwtError::BadSignature)?;
        // The signing input is the exact received text of the first two parts.
        let signing_input_len = h64.len() + 1 + p64.len();
        let signing_input = token.get(..signing_input_len).ok_or(JwtError::Malformed("signing input"))?;
        self.verifier.verify(signing_input.as_bytes(), &sig).map_err(|_| JwtError::BadSignature)?;
        let claims = decode_json(p64).ok_or(JwtError::Malformed("payload"))?;
        if !claims.is_object() {
            return Err(JwtError::Malformed("payload is not a JSON object"));
        }
        Ok(claims)
    }
}

/// Decodes one unpadded base64url JWT part into a JSON object.
pub(crate) fn decode_json(part: &str) -> Option<Value> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.is_object().then_some(v)
}

/// Decodes a JWT's payload without verifying anything (tests and tooling).
#[cfg(test)]
pub(crate) fn decode_unverified(token: &str) -> Option<(Value, Value)> {
    let mut parts = token.split('.');
    let header = decode_json(parts.next()?)?;
    let claims = decode_json(parts.next()?)?;
    Some((header, claims))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{other_key, test_key};

    #[test]
    fn round_trip_and_header_shape() {
        let k = test_key();
        let t = k.sign(&json!({"a": 1})).unwrap();
        assert_eq!(k.verify(&t).unwrap(), json!({"a": 1}));
        let (h, c) = decode_unverified(&t).unwrap();
        assert_eq!(h, json!({"typ":"JWT","alg":"RS256","kid":k.kid(),"x5t":k.kid()}));
        assert_eq!(c, json!({"a": 1}));
        assert_eq!(k.kid().len(), 27, "base64url of a 20-byte SHA-1");
    }

    #[test]
    fn rejects_other_key_tampering_and_garbage() {
        let k = test_key();
        let foreign = other_key().sign(&json!({"a": 1})).unwrap();
        assert_eq!(k.verify(&foreign), Err(JwtError::UnknownKey));

        let t = k.sign(&json!({"a": 1})).unwrap();
        let parts: Vec<&str> = t.split('.').collect();
        let forged_payload = URL_SAFE_NO_PAD.encode(br#"{"a":2}"#);
        let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        assert_eq!(k.verify(&tampered), Err(JwtError::BadSignature));

        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let unsigned = format!("{none_header}.{}.", parts[1]);
        assert_eq!(k.verify(&unsigned), Err(JwtError::UnsupportedAlg));

        for garbage in [
            "",
            "abc",
            "a.b",
            "a.b.c",
            "a.b.c.d",
            "!!!.???.***",
            &format!("{}.{}.not*base64", parts[0], parts[1]),
            &format!("{}.{}.{}", parts[0], parts[1], &parts[2][..10]),
        ] {
            assert!(k.verify(garbage).is_err(), "{garbage:?}");
        }
        assert!(k.verify(&"a".repeat(MAX_TOKEN_LEN + 1)).is_err());
    }

    #[test]
    fn jwk_carries_modulus_and_exponent() {
        let k = test_key();
        let jwk = k.jwk("iss");
        assert_eq!(jwk["kty"], "RSA");
        assert_eq!(jwk["e"], "AQAB");
        let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
        assert_eq!(n.len(), RSA_BITS / 8);
    }
}
