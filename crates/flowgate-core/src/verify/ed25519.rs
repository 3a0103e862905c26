//! Ed25519 as the senders that sign with it use it (Discord, Telnyx): the
//! route's secret is the sender's *public* key, and the first route key
//! under which the signature verifies wins. Each sender's module says how
//! its keys and signatures are written (hex, base64) and what it signs.
//!
//! The arithmetic is the platform's ([`super::asymmetric`]); the strictness
//! of `ed25519-dalek`'s `verify_strict` is decided here, before asking, so
//! Web Crypto and RustCrypto refuse the same things: keys and `R` values of
//! small order or non-canonical encoding, and a non-canonical `S` (`S ≥ ℓ`,
//! the malleable twin of a signature). Genuine signatures always pass.

use super::asymmetric::{Algorithm, Candidate, PublicKey};

/// The group order ℓ = 2^252 + 27742317777372353535851937790883648493, little-endian.
const ORDER: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// The encodings (with y < p) of the eight points of small order, both
/// signs of x where x = 0 (Pornin et al., "Taming the many EdDSAs", table 6).
const SMALL_ORDER: [[u8; 32]; 10] = {
    let mut t = [[0u8; 32]; 10];
    // y = 1 (the identity) and its "-0" twin.
    t[0][0] = 1;
    t[1][0] = 1;
    t[1][31] = 0x80;
    // y = p - 1 (order 2), and its "-0" twin.
    let mut i = 0;
    while i < 32 {
        t[2][i] = 0xff;
        t[3][i] = 0xff;
        i += 1;
    }
    t[2][0] = 0xec;
    t[2][31] = 0x7f;
    t[3][0] = 0xec;
    // y = 0 (order 4), both signs.
    t[5][31] = 0x80;
    // The four points of order 8.
    t[6] = hex32(b"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05");
    t[7] = hex32(b"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85");
    t[8] = hex32(b"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a");
    t[9] = hex32(b"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa");
    t
};

const fn hex32(h: &[u8; 64]) -> [u8; 32] {
    const fn nibble(c: u8) -> u8 {
        if c >= b'a' {
            c - b'a' + 10
        } else {
            c - b'0'
        }
    }
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = (nibble(h[2 * i]) << 4) | nibble(h[2 * i + 1]);
        i += 1;
    }
    out
}

/// `y ≥ p` (p = 2^255 - 19): a non-canonical point encoding.
fn non_canonical_y(p: &[u8; 32]) -> bool {
    p[31] & 0x7f == 0x7f && p[1..31].iter().all(|b| *b == 0xff) && p[0] >= 0xed
}

/// Whether `p` encodes a point that `verify_strict` refuses as a key or `R`.
fn weak_point(p: &[u8; 32]) -> bool {
    non_canonical_y(p) || SMALL_ORDER.contains(p)
}

/// `S < ℓ`, comparing little-endian from the top byte.
fn canonical_s(s: &[u8]) -> bool {
    for (a, b) in s.iter().rev().zip(ORDER.iter().rev()) {
        if a != b {
            return a < b;
        }
    }
    false
}

/// A public key from its 32 bytes.
///
/// # Errors
/// A fixed reason when the bytes encode a point `verify_strict` refuses.
pub(super) fn public_key(bytes: &[u8; 32]) -> Result<PublicKey, &'static str> {
    if weak_point(bytes) {
        return Err("is a small-order or non-canonical Ed25519 point");
    }
    Ok(PublicKey::new(Algorithm::Ed25519, bytes.to_vec()))
}

/// 32 decoded bytes, or the sender module's reason.
pub(super) fn exact_32(bytes: Vec<u8>, reason: &'static str) -> Result<[u8; 32], &'static str> {
    bytes.try_into().map_err(|_| reason)
}

/// A signature from its decoded bytes, when there are exactly 64.
pub(super) fn signature(bytes: &[u8]) -> Option<[u8; 64]> {
    <[u8; 64]>::try_from(bytes).ok()
}

/// Whether a well-formed signature can verify at all under `verify_strict`'s
/// rules: a canonical `S` and an `R` that is not weak. Checked before the
/// port is asked, so a malleated twin never reaches it.
pub(super) fn strict_shape(sig: &[u8; 64]) -> bool {
    let r: &[u8; 32] = sig[..32].try_into().unwrap_or(&[0; 32]);
    canonical_s(&sig[32..]) && !weak_point(r)
}

/// The candidates for the port: each route key, by position.
pub(super) fn candidates(keys: Vec<PublicKey>) -> Vec<Candidate> {
    keys.into_iter().enumerate().map(|(secret_index, key)| Candidate { key, secret_index }).collect()
}

/// A signing key from its 32-byte seed: for `flowgate send` and tests.
#[cfg(any(test, feature = "native-crypto"))]
pub(super) fn signing_key(seed: &[u8; 32]) -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(seed)
}

/// The signature of `message` under `key`.
#[cfg(any(test, feature = "native-crypto"))]
pub(super) fn sign(key: &ed25519_dalek::SigningKey, message: &[u8]) -> [u8; 64] {
    use ed25519_dalek::Signer;
    key.sign(message).to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_order_points_are_the_ones_dalek_calls_weak() {
        for p in SMALL_ORDER {
            // Every one decompresses (or is refused) as small order in dalek.
            if let Ok(k) = ed25519_dalek::VerifyingKey::from_bytes(&p) {
                assert!(k.is_weak(), "{}", hex::encode(p));
            }
        }
        // The RFC 8032 test key is not weak.
        let rfc = hex32(b"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
        assert!(!weak_point(&rfc));
        assert!(public_key(&rfc).is_ok());
        assert!(public_key(&SMALL_ORDER[6]).is_err());
        // y = p (≡ 0) and y = p + 1 (≡ 1): non-canonical.
        let mut y = [0xff; 32];
        y[31] = 0x7f;
        y[0] = 0xed;
        assert!(weak_point(&y));
        y[0] = 0xee;
        assert!(weak_point(&y));
        y[0] = 0xec;
        assert!(weak_point(&y)); // p - 1 is small order (SMALL_ORDER[2]).
    }

    #[test]
    fn s_must_be_below_the_group_order() {
        assert!(canonical_s(&[0; 32]));
        let mut l = ORDER;
        assert!(!canonical_s(&l));
        l[0] -= 1;
        assert!(canonical_s(&l));
        let mut over = ORDER;
        over[31] = 0x11;
        assert!(!canonical_s(&over));
    }
}
