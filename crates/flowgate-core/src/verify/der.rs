//! The few DER structures the asymmetric senders need, read by hand:
//! SubjectPublicKeyInfo (SendGrid's key, RSA keys), an X.509 certificate's
//! SPKI (AWS SNS), an ECDSA signature (SendGrid's DER `r`, `s`), and PEM
//! armour.
//!
//! Why not `der`/`x509-cert`/`spki`: these are parsed in the Worker, and
//! every crate here is WebAssembly bundle size (issue 12's budget); the walk
//! below is a few hundred bytes of code and only *locates* bytes — the key
//! itself is checked by the platform when it imports it (Web Crypto, or
//! RustCrypto natively). Tests compare it with `x509-cert` on real
//! certificates. Lengths are definite, at most 4 bytes; indefinite lengths
//! (BER) are refused. Nothing here indexes past a slice's end.

/// `1.2.840.10045.2.1` id-ecPublicKey.
const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// `1.2.840.10045.3.1.7` prime256v1 (P-256).
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// `1.2.840.113549.1.1.1` rsaEncryption.
const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OID: u8 = 0x06;
const NULL: u8 = 0x05;

/// One TLV: `(tag, contents, the whole encoding, the rest)`.
type Tlv<'a> = (u8, &'a [u8], &'a [u8], &'a [u8]);

fn tlv(input: &[u8]) -> Option<Tlv<'_>> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let (bytes, rest) = rest.split_at_checked(n)?;
        if bytes[0] == 0 {
            return None; // not minimal
        }
        let len = bytes.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        if len < 0x80 {
            return None; // not minimal
        }
        (len, rest)
    };
    let (contents, rest) = rest.split_at_checked(len)?;
    let whole = &input[..input.len() - rest.len()];
    Some((tag, contents, whole, rest))
}

/// The contents of a TLV of tag `want`, and the rest.
fn expect(input: &[u8], want: u8) -> Option<(&[u8], &[u8])> {
    let (tag, contents, _, rest) = tlv(input)?;
    (tag == want).then_some((contents, rest))
}

/// A parsed SubjectPublicKeyInfo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SpkiKey<'a> {
    /// A P-256 key: the point as written in the BIT STRING.
    P256(&'a [u8]),
    /// An RSA key (the whole SPKI, which Web Crypto imports as `spki`).
    Rsa,
}

/// Reads a DER SubjectPublicKeyInfo (the whole input, nothing after it).
pub(crate) fn spki(der: &[u8]) -> Option<SpkiKey<'_>> {
    let (body, rest) = expect(der, SEQUENCE)?;
    if !rest.is_empty() {
        return None;
    }
    let (alg, body) = expect(body, SEQUENCE)?;
    let (bits, after) = expect(body, BIT_STRING)?;
    if !after.is_empty() {
        return None;
    }
    let (unused, key) = bits.split_first()?;
    if *unused != 0 {
        return None;
    }
    let (oid, params) = expect(alg, OID)?;
    if oid == OID_EC_PUBLIC_KEY {
        let (curve, rest) = expect(params, OID)?;
        (curve == OID_P256 && rest.is_empty()).then_some(SpkiKey::P256(key))
    } else if oid == OID_RSA {
        // Parameters: NULL (RFC 3279), or absent as some encoders write it.
        let params_ok = params.is_empty() || expect(params, NULL).is_some_and(|(c, r)| c.is_empty() && r.is_empty());
        // The key is RSAPublicKey ::= SEQUENCE { modulus, publicExponent }.
        let (seq, rest) = expect(key, SEQUENCE)?;
        let (_, seq) = expect(seq, INTEGER)?;
        let (_, seq) = expect(seq, INTEGER)?;
        (params_ok && rest.is_empty() && seq.is_empty()).then_some(SpkiKey::Rsa)
    } else {
        None
    }
}

/// The SubjectPublicKeyInfo (its whole DER encoding) of an X.509
/// certificate. Nothing else of the certificate is read: who may sign is
/// decided by where it was fetched from (SNS: an `sns.<region>.amazonaws.com`
/// host over https), as AWS's own validators decide it.
pub(crate) fn certificate_spki(der: &[u8]) -> Option<&[u8]> {
    let (cert, rest) = expect(der, SEQUENCE)?;
    if !rest.is_empty() {
        return None;
    }
    let (tbs, _) = expect(cert, SEQUENCE)?;
    let mut fields = tbs;
    // version [0] EXPLICIT, optional.
    if let Some((0xa0, _, _, rest)) = tlv(fields) {
        fields = rest;
    }
    // serialNumber, signature, issuer, validity, subject.
    let (_, mut fields) = expect(fields, INTEGER)?;
    for _ in 0..4 {
        fields = expect(fields, SEQUENCE)?.1;
    }
    let (tag, _, whole, _) = tlv(fields)?;
    (tag == SEQUENCE).then_some(whole)
}

/// A DER ECDSA-Sig-Value (`SEQUENCE { r INTEGER, s INTEGER }`) as the raw
/// `r ‖ s` that Web Crypto verifies (IEEE P1363), each `n` bytes.
pub(crate) fn ecdsa_der_to_raw(der: &[u8], n: usize) -> Option<Vec<u8>> {
    let (seq, rest) = expect(der, SEQUENCE)?;
    if !rest.is_empty() {
        return None;
    }
    let (r, seq) = expect(seq, INTEGER)?;
    let (s, seq) = expect(seq, INTEGER)?;
    if !seq.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(2 * n);
    for int in [r, s] {
        // Positive, minimal: a leading 0 only before a high bit.
        let (&first, tail) = int.split_first()?;
        if first & 0x80 != 0 {
            return None;
        }
        let digits = if first == 0 {
            if tail.first().is_none_or(|b| b & 0x80 == 0) {
                return None;
            }
            tail
        } else {
            int
        };
        if digits.len() > n || digits.iter().all(|b| *b == 0) {
            return None;
        }
        out.extend(std::iter::repeat_n(0, n - digits.len()));
        out.extend_from_slice(digits);
    }
    Some(out)
}

/// The base64 inside an optional PEM block, without whitespace.
pub(crate) fn unarmor(text: &str) -> String {
    text.lines().filter(|l| !l.trim_start().starts_with("-----")).flat_map(|l| l.split_whitespace()).collect()
}

/// The cache key (KV and memory) of a certificate fetched from `url`
/// (`x509/v1/<hex SHA-256 of the URL>`): fixed length whatever the URL, and
/// two URLs never share an entry.
pub fn certificate_cache_key(url: &str) -> String {
    use sha2::{Digest, Sha256};
    format!("x509/v1/{}", hex::encode(Sha256::digest(url.as_bytes())))
}

#[cfg(test)]
mod tests {
    use base64::{engine::general_purpose::STANDARD, Engine};

    use super::*;

    // SendGrid's published key (sendgrid-python's test).
    const SENDGRID: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==";

    #[test]
    fn p256_spki_is_read_and_anything_else_refused() {
        let der = STANDARD.decode(SENDGRID).unwrap();
        let SpkiKey::P256(point) = spki(&der).unwrap() else { panic!() };
        assert_eq!((point.len(), point[0]), (65, 4));
        // Truncated, extended, one byte changed in the OIDs, a BIT STRING with unused bits.
        assert_eq!(spki(&der[..der.len() - 1]), None);
        assert_eq!(spki(&[der.as_slice(), &[0]].concat()), None);
        for i in [6, 16] {
            let mut d = der.clone();
            d[i] ^= 1;
            assert_eq!(spki(&d), None, "{i}");
        }
        let mut d = der.clone();
        d[25] = 1;
        assert_eq!(spki(&d), None);
        assert_eq!(spki(b""), None);
    }

    #[test]
    fn der_signatures_become_fixed_width_r_s() {
        // r with a sign byte, s short: both padded to 32.
        let mut der = vec![0x30, 0x00, 0x02, 33, 0x00];
        der.extend([0x80; 32]);
        der.extend([0x02, 2, 0x01, 0x02]);
        der[1] = (der.len() - 2) as u8;
        let raw = ecdsa_der_to_raw(&der, 32).unwrap();
        assert_eq!(&raw[..32], &[0x80; 32]);
        assert_eq!(&raw[32..62], &[0; 30]);
        assert_eq!(&raw[62..], &[1, 2]);
        // Not minimal, negative, zero, too long, trailing data.
        for bad in [
            vec![0x30, 6, 0x02, 1, 0x00, 0x02, 1, 0x01],
            vec![0x30, 6, 0x02, 1, 0x80, 0x02, 1, 0x01],
            vec![0x30, 7, 0x02, 2, 0x00, 0x01, 0x02, 1, 0x01],
            vec![0x30, 6, 0x02, 1, 0x01, 0x02, 1, 0x01, 0x00],
            vec![0x30, 0x81, 6, 0x02, 1, 0x01, 0x02, 1, 0x01],
        ] {
            assert_eq!(ecdsa_der_to_raw(&bad, 32), None, "{bad:?}");
        }
        let mut long = vec![0x30, 37, 0x02, 33, 0x01];
        long.extend([0x01; 32]);
        long.extend([0x02, 1, 0x01]);
        assert_eq!(ecdsa_der_to_raw(&long, 32), None);
    }
}
