//! The token as stored in KV: encrypted and authenticated with AES-256-GCM.
//!
//! A token in plain KV would be a bearer credential readable by anyone who
//! can read the namespace. The value is `v1.` + base64url(nonce ‖ ciphertext
//! ‖ tag); the KV key is the associated data, so a value copied under
//! another key does not open. Anything that does not open is a cache miss.

use aes_gcm::{
    aead::{Aead, KeyInit, Payload},
    Aes256Gcm, Nonce,
};
use base64::{
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
    Engine,
};
use hkdf::Hkdf;
use sha2::Sha256;

use super::CachedToken;
use crate::secret::Secret;

const VERSION: &str = "v1.";
const NONCE_LEN: usize = 12;

/// Seals and opens KV token values.
#[derive(Clone)]
pub struct KvSeal {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for KvSeal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KvSeal([redacted])")
    }
}

impl KvSeal {
    /// From a 32-byte key.
    pub fn from_key(key: &[u8; 32]) -> Self {
        Self { cipher: Aes256Gcm::new(key.into()) }
    }

    /// From a dedicated wrangler secret: 32 random bytes, base64
    /// (`openssl rand -base64 32`).
    ///
    /// # Errors
    /// When the secret is not base64 of exactly 32 bytes.
    pub fn from_base64(secret: &Secret) -> Result<Self, &'static str> {
        let bytes = STANDARD
            .decode(secret.expose().trim())
            .map_err(|_| "is not base64 (make one with `openssl rand -base64 32`)")?;
        let key: [u8; 32] =
            bytes.try_into().map_err(|_| "must decode to exactly 32 bytes (`openssl rand -base64 32`)")?;
        Ok(Self::from_key(&key))
    }

    /// Derived from the credential's secret material with HKDF-SHA256, when
    /// no dedicated key is configured: whoever can read the namespace but
    /// not the Worker's secrets cannot open the value, and rotating the
    /// credential changes the key.
    pub fn derived_from(credential_material: &[u8]) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(b"flowgate"), credential_material);
        let mut key = [0u8; 32];
        hk.expand(b"token-cache/v1", &mut key).expect("32 bytes is a valid HKDF-SHA256 output length");
        Self::from_key(&key)
    }

    /// Seals `token` for `kv_key` with a fresh random `nonce`.
    pub fn seal(&self, kv_key: &str, token: &CachedToken, nonce: [u8; NONCE_LEN]) -> String {
        self.seal_bytes(kv_key, token.to_json().as_bytes(), nonce)
    }

    /// Opens a value sealed for `kv_key`; `None` if it was altered, sealed
    /// under another key or for another KV key, or is not a sealed value.
    pub fn open(&self, kv_key: &str, value: &str) -> Option<CachedToken> {
        CachedToken::from_json(std::str::from_utf8(&self.open_bytes(kv_key, value)?).ok()?)
    }

    /// Seals a secret (a sender's handed-over signing secret) under the
    /// name `aad` it is stored by, the same way.
    pub fn seal_secret(&self, aad: &str, secret: &Secret, nonce: [u8; NONCE_LEN]) -> String {
        self.seal_bytes(aad, secret.expose().as_bytes(), nonce)
    }

    /// Opens a secret sealed by [`KvSeal::seal_secret`] under `aad`.
    pub fn open_secret(&self, aad: &str, value: &str) -> Option<Secret> {
        String::from_utf8(self.open_bytes(aad, value)?).ok().map(Secret::new)
    }

    fn seal_bytes(&self, aad: &str, plaintext: &[u8], nonce: [u8; NONCE_LEN]) -> String {
        let ciphertext = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: aad.as_bytes() })
            .expect("AES-GCM encryption of a small buffer cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        format!("{VERSION}{}", URL_SAFE_NO_PAD.encode(out))
    }

    fn open_bytes(&self, aad: &str, value: &str) -> Option<Vec<u8>> {
        let raw = URL_SAFE_NO_PAD.decode(value.strip_prefix(VERSION)?).ok()?;
        if raw.len() <= NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = raw.split_at(NONCE_LEN);
        self.cipher.decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: aad.as_bytes() }).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> CachedToken {
        CachedToken { access_token: Secret::new("eyJ.secret-token"), obtained_at: 10, expires_at: 3610 }
    }

    #[test]
    fn round_trip_and_the_value_is_not_the_token() {
        let seal = KvSeal::from_key(&[7; 32]);
        let v = seal.seal("k", &token(), [1; 12]);
        assert!(v.starts_with("v1."));
        assert!(!v.contains("eyJ") && !v.contains("secret-token"));
        assert_eq!(seal.open("k", &v), Some(token()));
    }

    #[test]
    fn tampered_moved_or_foreign_values_do_not_open() {
        let seal = KvSeal::from_key(&[7; 32]);
        let v = seal.seal("k", &token(), [1; 12]);
        // Flip one bit in each position of the payload.
        let raw = URL_SAFE_NO_PAD.decode(&v[3..]).unwrap();
        for i in 0..raw.len() {
            let mut t = raw.clone();
            t[i] ^= 1;
            assert_eq!(seal.open("k", &format!("v1.{}", URL_SAFE_NO_PAD.encode(&t))), None, "byte {i}");
        }
        assert_eq!(seal.open("other-key", &v), None, "bound to its KV key");
        assert_eq!(KvSeal::from_key(&[8; 32]).open("k", &v), None, "another key");
        assert_eq!(seal.open("k", r#"{"access_token":"x","obtained_at":1,"expires_at":2}"#), None, "plaintext");
        assert_eq!(seal.open("k", "v1."), None);
        assert_eq!(seal.open("k", "v1.!!"), None);
    }

    #[test]
    fn handed_over_secrets_round_trip_bound_to_their_name() {
        let seal = KvSeal::from_key(&[7; 32]);
        let v = seal.seal_secret("handshake/v1/asana/asana-x-hook-secret", &Secret::new("b537207f20cbfa02"), [3; 12]);
        assert!(!v.contains("b537207f20cbfa02"));
        assert_eq!(
            seal.open_secret("handshake/v1/asana/asana-x-hook-secret", &v).map(|s| s.expose().to_owned()),
            Some("b537207f20cbfa02".to_owned())
        );
        assert!(seal.open_secret("handshake/v1/other/asana-x-hook-secret", &v).is_none());
        assert!(KvSeal::from_key(&[9; 32]).open_secret("handshake/v1/asana/asana-x-hook-secret", &v).is_none());
    }

    #[test]
    fn keys_from_secrets() {
        assert!(KvSeal::from_base64(&Secret::new("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")).is_ok());
        assert!(KvSeal::from_base64(&Secret::new("AAEC")).is_err());
        assert!(KvSeal::from_base64(&Secret::new("not base64!")).is_err());
        let a = KvSeal::derived_from(b"secret-one");
        let b = KvSeal::derived_from(b"secret-two");
        let v = a.seal("k", &token(), [0; 12]);
        assert_eq!(a.open("k", &v), Some(token()));
        assert_eq!(b.open("k", &v), None, "a rotated credential cannot read the old value");
    }
}
