//! Fireblocks (webhooks v1, the `Fireblocks-Signature` header):
//! <https://developers.fireblocks.com/reference/verify-requests>
//!
//! `Fireblocks-Signature` is `Base64(RSA512(private key, SHA512(eventBody)))`:
//! an RSASSA-PKCS1-v1_5 / SHA-512 signature of the body, verified with a
//! fixed public key that Fireblocks publishes on that page, one for
//! production workspaces and one for sandbox ones (read 2026-12-02; their
//! code examples verify `JSON.stringify(req.body)` with `RSA-SHA512`, which
//! for Fireblocks' compact JSON is the body as sent). The route's secret is
//! `production`, `sandbox`, or the public key itself (PEM or base64 DER
//! SubjectPublicKeyInfo), for a key Fireblocks publishes later.
//!
//! Fireblocks documents a newer detached-JWS header
//! (`Fireblocks-Webhook-Signature`, keys from a JWKS endpoint) and sends both
//! during its migration; this module checks the legacy one.
//!
//! Event type: the JSON `type` (`TRANSACTION_CREATED`, …). No delivery id:
//! `data.id` is the transaction's, shared by its status updates.

use base64::{engine::general_purpose::STANDARD, Engine};

use super::{
    asymmetric::{Algorithm, Candidate, KeyOrigin, Pending, PublicKey},
    decode_keys,
    der::{self, unarmor, SpkiKey},
    json_labels, Inbound, Labels, Proof, Verified, VerifyError,
};
use crate::secret::Secret;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "fireblocks-signature";

/// Fireblocks' public key for production workspaces (its "Validate Requests" page).
pub const PRODUCTION_KEY: &str = "-----BEGIN PUBLIC KEY-----
MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEA0+6wd9OJQpK60ZI7qnZG
jjQ0wNFUHfRv85Tdyek8+ahlg1Ph8uhwl4N6DZw5LwLXhNjzAbQ8LGPxt36RUZl5
YlxTru0jZNKx5lslR+H4i936A4pKBjgiMmSkVwXD9HcfKHTp70GQ812+J0Fvti/v
4nrrUpc011Wo4F6omt1QcYsi4GTI5OsEbeKQ24BtUd6Z1Nm/EP7PfPxeb4CP8KOH
clM8K7OwBUfWrip8Ptljjz9BNOZUF94iyjJ/BIzGJjyCntho64ehpUYP8UJykLVd
CGcu7sVYWnknf1ZGLuqqZQt4qt7cUUhFGielssZP9N9x7wzaAIFcT3yQ+ELDu1SZ
dE4lZsf2uMyfj58V8GDOLLE233+LRsRbJ083x+e2mW5BdAGtGgQBusFfnmv5Bxqd
HgS55hsna5725/44tvxll261TgQvjGrTxwe7e5Ia3d2Syc+e89mXQaI/+cZnylNP
SwCCvx8mOM847T0XkVRX3ZrwXtHIA25uKsPJzUtksDnAowB91j7RJkjXxJcz3Vh1
4k182UFOTPRW9jzdWNSyWQGl/vpe9oQ4c2Ly15+/toBo4YXJeDdDnZ5c/O+KKadc
IMPBpnPrH/0O97uMPuED+nI6ISGOTMLZo35xJ96gPBwyG5s2QxIkKPXIrhgcgUnk
tSM7QYNhlftT4/yVvYnk0YcCAwEAAQ==
-----END PUBLIC KEY-----";

/// Fireblocks' public key for sandbox workspaces (same page).
pub const SANDBOX_KEY: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAw+fZuC+0vDYTf8fYnCN6
71iHg98lPHBmafmqZqb+TUexn9sH6qNIBZ5SgYFxFK6dYXIuJ5uoORzihREvZVZP
8DphdeKOMUrMr6b+Cchb2qS8qz8WS7xtyLU9GnBn6M5mWfjkjQr1jbilH15Zvcpz
ECC8aPUAy2EbHpnr10if2IHkIAWLYD+0khpCjpWtsfuX+LxqzlqQVW9xc6z7tshK
eCSEa6Oh8+ia7Zlu0b+2xmy2Arb6xGl+s+Rnof4lsq9tZS6f03huc+XVTmd6H2We
WxFMfGyDCX2akEg2aAvx7231/6S0vBFGiX0C+3GbXlieHDplLGoODHUt5hxbPJnK
IwIDAQAB
-----END PUBLIC KEY-----";

/// The RSA public key (DER SubjectPublicKeyInfo) a route secret names.
///
/// # Errors
/// A fixed reason when it is neither `production`, `sandbox`, nor an RSA
/// public key in PEM or base64 DER.
pub fn decode_public_key(secret: &Secret) -> Result<PublicKey, &'static str> {
    let text = match secret.expose().trim() {
        "production" => PRODUCTION_KEY,
        "sandbox" => SANDBOX_KEY,
        other => other,
    };
    let der = STANDARD.decode(unarmor(text)).map_err(|_| "is not production, sandbox, or a base64/PEM public key")?;
    match der::spki(&der) {
        Some(SpkiKey::Rsa) => Ok(PublicKey::new(Algorithm::RsaPkcs1Sha512, der)),
        _ => Err("is not an RSA public key (SubjectPublicKeyInfo)"),
    }
}

pub(super) fn verify<'a>(
    provider: &'static str,
    secrets: &[Secret],
    inbound: Inbound<'a>,
) -> Result<Pending<'a>, VerifyError> {
    let keys = decode_keys(provider, secrets, decode_public_key)?;
    let sig = inbound.headers.get(SIGNATURE_HEADER).ok_or(VerifyError::MissingHeader(SIGNATURE_HEADER.into()))?;
    let sig = STANDARD
        .decode(sig.trim())
        .ok()
        .filter(|s| !s.is_empty())
        .ok_or(VerifyError::MalformedHeader(SIGNATURE_HEADER.into()))?;
    let candidates = keys.into_iter().enumerate().map(|(secret_index, key)| Candidate { key, secret_index }).collect();
    let then = move |secret_index| {
        Ok(Verified::labelled(provider, secret_index, inbound.body, labels(inbound.body))
            .with_proof(Proof::of_message(&[inbound.body]))
            .body_proof())
    };
    Ok(Pending::new(provider, inbound.body.to_vec(), sig, candidates, KeyOrigin::RouteSecret, then))
}

/// The event's `type`; no delivery id (see the module docs).
pub(super) fn labels(body: &[u8]) -> Labels {
    Labels { delivery_id: None, ..json_labels(body, "type", "type") }
}

/// The `Fireblocks-Signature` value for `body` under an RSA private key
/// (PKCS#8 or PKCS#1 PEM): for `flowgate send` and tests.
///
/// # Errors
/// A fixed reason when the key is not an RSA private key.
#[cfg(any(test, feature = "native-crypto"))]
pub fn sign(private_pem: &str, body: &[u8]) -> Result<String, &'static str> {
    use rsa::{pkcs1::DecodeRsaPrivateKey, pkcs8::DecodePrivateKey, Pkcs1v15Sign, RsaPrivateKey};
    use sha2::{Digest, Sha512};
    let key = RsaPrivateKey::from_pkcs8_pem(private_pem)
        .or_else(|_| RsaPrivateKey::from_pkcs1_pem(private_pem))
        .map_err(|_| "is not an RSA private key (PEM)")?;
    let sig = key.sign(Pkcs1v15Sign::new::<Sha512>(), &Sha512::digest(body)).map_err(|_| "cannot sign")?;
    Ok(STANDARD.encode(sig))
}

/// The base64 DER public key (a route secret) of an RSA private key.
///
/// # Errors
/// As [`sign`].
#[cfg(any(test, feature = "native-crypto"))]
pub fn public_key_base64(private_pem: &str) -> Result<String, &'static str> {
    use rsa::{pkcs1::DecodeRsaPrivateKey, pkcs8::DecodePrivateKey, pkcs8::EncodePublicKey, RsaPrivateKey};
    let key = RsaPrivateKey::from_pkcs8_pem(private_pem)
        .or_else(|_| RsaPrivateKey::from_pkcs1_pem(private_pem))
        .map_err(|_| "is not an RSA private key (PEM)")?;
    let der = key.to_public_key().to_public_key_der().map_err(|_| "cannot be encoded")?;
    Ok(STANDARD.encode(der.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        headers::Headers,
        verify::{find_provider, verify as verify_any},
    };

    const KEY: &str = include_str!("../../../../tests/fixtures/entra-test-key.pem");
    const OTHER: &str = include_str!("../../../../tests/fixtures/entra-other-key.pem");
    const BODY: &[u8] = br#"{"type":"TRANSACTION_STATUS_UPDATED","tenantId":"6d25b9d5-e4e1-4f3b-9b1e-000000000000","timestamp":1700000000000,"data":{"id":"0e6fe4b2-5b2c-4f1a-9d2c-000000000001","status":"COMPLETED"}}"#;

    fn run(sig: Option<&str>, body: &[u8], secret: &str) -> Result<Verified<'static>, VerifyError> {
        let p = find_provider("fireblocks").unwrap();
        let mut h = Headers::new();
        if let Some(s) = sig {
            h.insert("Fireblocks-Signature", s);
        }
        let h: &'static Headers = Box::leak(Box::new(h));
        let body: &'static [u8] = Box::leak(body.to_vec().into_boxed_slice());
        verify_any(p, &p.scheme(), None, &[Secret::new(secret)], Inbound::post(h, body, 1_700_000_000))
    }

    #[test]
    fn fireblocks_published_keys_are_rsa_keys() {
        for secret in ["production", "sandbox", PRODUCTION_KEY, SANDBOX_KEY] {
            let k = decode_public_key(&Secret::new(secret)).unwrap();
            assert_eq!(k.algorithm(), Algorithm::RsaPkcs1Sha512);
            // The native port imports them (4096- and 2048-bit keys).
            use rsa::{pkcs8::DecodePublicKey, traits::PublicKeyParts};
            let key = rsa::RsaPublicKey::from_public_key_der(k.bytes()).unwrap();
            assert!([2048, 4096].contains(&(key.size() * 8)));
        }
        // A signature by some other key fails under the production key.
        let sig = sign(KEY, BODY).unwrap();
        assert_eq!(run(Some(&sig), BODY, "production").unwrap_err(), VerifyError::SignatureMismatch);
    }

    #[test]
    fn round_trip_signed_as_fireblocks_signs() {
        let public = public_key_base64(KEY).unwrap();
        let sig = sign(KEY, BODY).unwrap();
        let v = run(Some(&sig), BODY, &public).unwrap();
        assert_eq!((v.event_type(), v.delivery_id()), (Some("TRANSACTION_STATUS_UPDATED"), None));
        // PEM form of the same key.
        let pem = format!("-----BEGIN PUBLIC KEY-----\n{public}\n-----END PUBLIC KEY-----\n");
        assert!(run(Some(&sig), BODY, &pem).is_ok());
    }

    #[test]
    fn every_mutation_is_rejected() {
        let public = public_key_base64(KEY).unwrap();
        let sig = sign(KEY, BODY).unwrap();
        for i in [0, BODY.len() / 2, BODY.len() - 1] {
            let mut b = BODY.to_vec();
            b[i] ^= 1;
            assert_eq!(run(Some(&sig), &b, &public).unwrap_err(), VerifyError::SignatureMismatch, "{i}");
        }
        assert_eq!(run(Some(&sig), &[BODY, b"\n"].concat(), &public).unwrap_err(), VerifyError::SignatureMismatch);
        let mut raw = STANDARD.decode(&sig).unwrap();
        raw[7] ^= 1;
        assert_eq!(run(Some(&STANDARD.encode(&raw)), BODY, &public).unwrap_err(), VerifyError::SignatureMismatch);
        // Truncated: still base64, the wrong length for the key; not base64; empty.
        assert_eq!(run(Some(&sig[..40]), BODY, &public).unwrap_err(), VerifyError::SignatureMismatch);
        assert_eq!(run(Some("!!"), BODY, &public).unwrap_err(), VerifyError::MalformedHeader(SIGNATURE_HEADER.into()));
        assert_eq!(run(Some(""), BODY, &public).unwrap_err(), VerifyError::MalformedHeader(SIGNATURE_HEADER.into()));
        assert_eq!(run(None, BODY, &public).unwrap_err(), VerifyError::MissingHeader(SIGNATURE_HEADER.into()));
        // Signed by another key.
        let forged = sign(OTHER, BODY).unwrap();
        assert_eq!(run(Some(&forged), BODY, &public).unwrap_err(), VerifyError::SignatureMismatch);
        // Keys that are not RSA public keys are configuration errors.
        let p256 = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==";
        for bad in ["staging", "AAAA", p256] {
            assert!(run(Some(&sig), BODY, bad).unwrap_err().is_config_error(), "{bad}");
        }
    }
}
