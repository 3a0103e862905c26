//! Ed25519 as the senders that sign with it use it (Discord, Telnyx): the
//! route's secret is the sender's *public* key, signatures are checked with
//! `verify_strict` (no small-order keys or malleable signatures; genuine
//! signatures always pass it), and the first route key that verifies wins.
//! Each sender's module says how its keys and signatures are written (hex,
//! base64) and what it signs.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

/// A public key from its 32 bytes.
///
/// # Errors
/// A fixed reason when the bytes are not a valid Ed25519 point.
pub(super) fn public_key(bytes: &[u8; 32]) -> Result<VerifyingKey, &'static str> {
    VerifyingKey::from_bytes(bytes).map_err(|_| "is not a valid Ed25519 public key")
}

/// 32 decoded bytes, or the sender module's reason.
pub(super) fn exact_32(bytes: Vec<u8>, reason: &'static str) -> Result<[u8; 32], &'static str> {
    bytes.try_into().map_err(|_| reason)
}

/// A signing key from its 32-byte seed: for `flowgate send` and tests.
pub(super) fn signing_key(seed: &[u8; 32]) -> SigningKey {
    SigningKey::from_bytes(seed)
}

/// A signature from its decoded bytes, when there are exactly 64.
pub(super) fn signature(bytes: &[u8]) -> Option<Signature> {
    <[u8; 64]>::try_from(bytes).ok().map(|b| Signature::from_bytes(&b))
}

/// The signature of `message` under `key`.
pub(super) fn sign(key: &SigningKey, message: &[u8]) -> [u8; 64] {
    key.sign(message).to_bytes()
}

/// The position of the first of `keys` under which `sig` signs `message`.
pub(super) fn matching_key(keys: &[VerifyingKey], message: &[u8], sig: &Signature) -> Option<usize> {
    keys.iter().position(|k| k.verify_strict(message, sig).is_ok())
}
