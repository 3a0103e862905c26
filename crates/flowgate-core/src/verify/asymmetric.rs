//! Asymmetric signatures behind a port: the core decides *what* must be
//! verified, the platform does the arithmetic.
//!
//! Discord and Telnyx sign with Ed25519, SendGrid with ECDSA P-256, Plaid
//! with ES256, AWS SNS and Fireblocks with RSA. The Worker verifies these
//! with Web Crypto (`crypto.subtle.verify`, native code in workerd), so no
//! curve or bignum code is in its WebAssembly bundle (issue 12: the bundle
//! budget); native builds (tests, the CLI, the emulator) use RustCrypto
//! behind the `native-crypto` feature ([`native`]).
//!
//! The flow is honest about Web Crypto being asynchronous:
//!
//! 1. a verifier parses the request and the keys (all of it here, in the
//!    core: DER, PEM, JWKs, certificates) and returns [`Checked::Pending`] —
//!    a [`Pending`] holding one message, one signature and the candidate
//!    keys (several, for rotation) — instead of a [`Verified`];
//! 2. the caller asks its [`SignaturePort`] about each [`AsymmetricCheck`]
//!    (the first [`Answer::Valid`] ends it);
//! 3. [`Pending::complete`], given the answers, runs what the verifier
//!    checks after the signature (timestamps, body hashes) and is the only
//!    way to obtain the [`Verified`] — so the promise "only a verified value
//!    can be forwarded" holds on this path too.
//!
//! [`resolve`] does 2 and 3 for any port. The port is trusted: it is the
//! platform's crypto, and `complete` believes what it is told.

use std::fmt;

use super::{Handshake, Verified, VerifyError};

/// A signature algorithm, with its hash where it has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// Ed25519 (RFC 8032), the key as 32 raw bytes.
    Ed25519,
    /// ECDSA over P-256 with SHA-256; the key is the 65-byte uncompressed
    /// point (`04 ‖ x ‖ y`), the signature raw `r ‖ s` (IEEE P1363, 64
    /// bytes) as Web Crypto takes it — DER signatures are converted here.
    EcdsaP256Sha256,
    /// ECDSA over P-256 with SHA-1 (eBay's notification signatures, whose
    /// public key says `"digest": "SHA1"`); key and signature as
    /// [`Algorithm::EcdsaP256Sha256`].
    EcdsaP256Sha1,
    /// RSASSA-PKCS1-v1_5 with SHA-1 (AWS SNS `SignatureVersion` 1); the key
    /// is a DER SubjectPublicKeyInfo.
    RsaPkcs1Sha1,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (AWS SNS `SignatureVersion` 2).
    RsaPkcs1Sha256,
    /// RSASSA-PKCS1-v1_5 with SHA-512 (Fireblocks).
    RsaPkcs1Sha512,
}

impl Algorithm {
    /// How the key bytes of this algorithm are written.
    pub fn key_format(self) -> KeyFormat {
        match self {
            Algorithm::Ed25519 | Algorithm::EcdsaP256Sha256 | Algorithm::EcdsaP256Sha1 => KeyFormat::Raw,
            Algorithm::RsaPkcs1Sha1 | Algorithm::RsaPkcs1Sha256 | Algorithm::RsaPkcs1Sha512 => KeyFormat::Spki,
        }
    }
}

/// The encoding of an [`AsymmetricCheck`]'s key, as Web Crypto's
/// `importKey` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFormat {
    /// `raw`: Ed25519's 32 bytes, or P-256's uncompressed point.
    Raw,
    /// `spki`: a DER SubjectPublicKeyInfo.
    Spki,
}

impl KeyFormat {
    /// The `importKey` format name.
    pub fn web_crypto_name(self) -> &'static str {
        match self {
            KeyFormat::Raw => "raw",
            KeyFormat::Spki => "spki",
        }
    }
}

/// A public key a verifier will check a signature with.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    algorithm: Algorithm,
    bytes: Vec<u8>,
}

impl PublicKey {
    /// A key for `algorithm`, in that algorithm's [`KeyFormat`]. The bytes
    /// are checked for their shape by the module that parsed them; the
    /// platform checks the rest when it imports the key.
    pub(crate) fn new(algorithm: Algorithm, bytes: Vec<u8>) -> Self {
        Self { algorithm, bytes }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The key bytes (raw or SPKI, as [`Algorithm::key_format`] says).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({:?}, {} bytes)", self.algorithm, self.bytes.len())
    }
}

/// One question for the [`SignaturePort`]: does `signature` sign `message`
/// under `key`?
#[derive(Debug, Clone, Copy)]
pub struct AsymmetricCheck<'p> {
    /// The algorithm (and hash).
    pub algorithm: Algorithm,
    /// How [`Self::key`] is encoded.
    pub key_format: KeyFormat,
    /// The public key.
    pub key: &'p [u8],
    /// The signed message, exactly (the platform hashes it).
    pub message: &'p [u8],
    /// The signature, in the form Web Crypto takes (ECDSA: raw `r ‖ s`).
    pub signature: &'p [u8],
}

/// What the port found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The signature verifies under the key.
    Valid,
    /// It does not (or it is not even of the algorithm's shape).
    Invalid,
    /// The platform refused the key itself (not a point on the curve, not
    /// an RSA key): a configuration error when the key is the route's.
    KeyRejected,
}

/// The platform's signature verification: Web Crypto in the Worker,
/// RustCrypto natively ([`native::NativeCrypto`]).
// Single-threaded wasm: the port's futures are not Send, and need not be.
#[allow(async_fn_in_trait)]
pub trait SignaturePort {
    /// Whether `check.signature` signs `check.message` under `check.key`.
    async fn check(&self, check: &AsymmetricCheck<'_>) -> Answer;
}

/// Where a candidate key came from, which decides what a rejected key means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyOrigin {
    /// The route's secret at this position: a rejected key is flowgate's
    /// configuration error ([`VerifyError::InvalidSecret`]).
    RouteSecret,
    /// Fetched or published by the sender (a certificate, a JWK): a
    /// rejected key fails the request, it is not the operator's to fix.
    Sender,
}

/// A candidate key and the route secret it stands for.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub(crate) key: PublicKey,
    pub(crate) secret_index: usize,
}

type Then<'a> = Box<dyn FnOnce(usize) -> Result<Verified<'a>, VerifyError> + 'a>;

/// A request whose signature is parsed but not yet checked: ask the port
/// about [`Pending::checks`], then [`Pending::complete`] with its answers.
pub struct Pending<'a> {
    provider: &'static str,
    message: Vec<u8>,
    signature: Vec<u8>,
    candidates: Vec<Candidate>,
    origin: KeyOrigin,
    /// What the verifier checks once a key verified (given its secret
    /// index), building the [`Verified`].
    then: Then<'a>,
    /// The provider's setup ping (`Provider::ping`), judged on the result.
    ping: Option<(&'static str, &'static str)>,
}

impl fmt::Debug for Pending<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pending")
            .field("provider", &self.provider)
            .field("message_bytes", &self.message.len())
            .field("candidates", &self.candidates)
            .finish_non_exhaustive()
    }
}

impl<'a> Pending<'a> {
    /// A pending verification of `signature` over `message` under each of
    /// `candidates` in turn; `then` runs once one verified.
    pub(crate) fn new(
        provider: &'static str,
        message: Vec<u8>,
        signature: Vec<u8>,
        candidates: Vec<Candidate>,
        origin: KeyOrigin,
        then: impl FnOnce(usize) -> Result<Verified<'a>, VerifyError> + 'a,
    ) -> Self {
        Self { provider, message, signature, candidates, origin, then: Box::new(then), ping: None }
    }

    pub(crate) fn with_ping(mut self, ping: Option<(&'static str, &'static str)>) -> Self {
        self.ping = ping;
        self
    }

    /// The questions for the port, in order (one per candidate key).
    pub fn checks(&self) -> impl Iterator<Item = AsymmetricCheck<'_>> + use<'_, 'a> {
        self.candidates.iter().map(|c| AsymmetricCheck {
            algorithm: c.key.algorithm,
            key_format: c.key.algorithm.key_format(),
            key: &c.key.bytes,
            message: &self.message,
            signature: &self.signature,
        })
    }

    /// The [`Verified`] request, when the port found a key that verifies.
    /// `answers[i]` is the port's answer for the `i`-th check; the answers
    /// may stop at the first that is not [`Answer::Invalid`].
    ///
    /// # Errors
    /// [`VerifyError::SignatureMismatch`] when no answer is `Valid`;
    /// [`VerifyError::InvalidSecret`] when the platform rejected one of the
    /// route's keys before one verified; or what the verifier checks after
    /// the signature (a stale timestamp, another body's hash).
    pub fn complete(self, answers: &[Answer]) -> Result<Verified<'a>, VerifyError> {
        for (candidate, answer) in self.candidates.iter().zip(answers) {
            match (answer, self.origin) {
                (Answer::Valid, _) => {
                    let mut v = (self.then)(candidate.secret_index)?;
                    if let (Some((name, event)), Some(ev)) = (self.ping, v.event_type()) {
                        if event == ev {
                            v.handshake = Some(Handshake::Ping(name));
                        }
                    }
                    return Ok(v);
                }
                (Answer::KeyRejected, KeyOrigin::RouteSecret) => {
                    return Err(VerifyError::InvalidSecret {
                        index: candidate.secret_index,
                        provider: self.provider,
                        reason: "was refused as a public key by the platform's crypto",
                    })
                }
                (Answer::KeyRejected, KeyOrigin::Sender) | (Answer::Invalid, _) => {}
            }
        }
        Err(VerifyError::SignatureMismatch)
    }
}

/// What a verifier found: a decision, or a signature still to be checked.
#[derive(Debug)]
pub enum Checked<'a> {
    /// Decided without asymmetric crypto (an HMAC, a token).
    Verified(Verified<'a>),
    /// A signature for the [`SignaturePort`].
    Pending(Pending<'a>),
}

/// Asks `port` about each of `pending`'s checks in turn (stopping at the
/// first that is not `Invalid`) and completes it.
///
/// # Errors
/// As [`Pending::complete`].
pub async fn resolve<'a, P: SignaturePort + ?Sized>(
    port: &P,
    pending: Pending<'a>,
) -> Result<Verified<'a>, VerifyError> {
    let mut answers = Vec::with_capacity(pending.candidates.len());
    for check in pending.checks() {
        let answer = port.check(&check).await;
        answers.push(answer);
        if answer != Answer::Invalid {
            break;
        }
    }
    pending.complete(&answers)
}

/// RustCrypto behind the port, for native builds: tests, the CLI, the
/// emulator. Off in the Worker's build (its bundle has no curve or RSA code).
#[cfg(any(test, feature = "native-crypto"))]
pub mod native {
    use super::{Algorithm, Answer, AsymmetricCheck, Pending, SignaturePort};
    use crate::verify::{Verified, VerifyError};

    /// The native implementation of [`SignaturePort`] (synchronous underneath).
    #[derive(Debug, Clone, Copy, Default)]
    pub struct NativeCrypto;

    impl NativeCrypto {
        /// The answer to `check`, computed at once.
        pub fn answer(check: &AsymmetricCheck<'_>) -> Answer {
            match check.algorithm {
                Algorithm::Ed25519 => ed25519(check),
                Algorithm::EcdsaP256Sha256 => p256(check),
                Algorithm::EcdsaP256Sha1 => p256_sha1(check),
                Algorithm::RsaPkcs1Sha1 => rsa::<sha1::Sha1>(check),
                Algorithm::RsaPkcs1Sha256 => rsa::<sha2::Sha256>(check),
                Algorithm::RsaPkcs1Sha512 => rsa::<sha2::Sha512>(check),
            }
        }

        /// `pending` checked natively, synchronously.
        ///
        /// # Errors
        /// As [`Pending::complete`].
        pub fn complete<'a>(pending: Pending<'a>) -> Result<Verified<'a>, VerifyError> {
            let mut answers = Vec::new();
            for check in pending.checks() {
                let answer = Self::answer(&check);
                answers.push(answer);
                if answer != Answer::Invalid {
                    break;
                }
            }
            pending.complete(&answers)
        }
    }

    impl SignaturePort for NativeCrypto {
        async fn check(&self, check: &AsymmetricCheck<'_>) -> Answer {
            Self::answer(check)
        }
    }

    fn ed25519(check: &AsymmetricCheck<'_>) -> Answer {
        let Ok(key) = <[u8; 32]>::try_from(check.key) else { return Answer::KeyRejected };
        let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(&key) else { return Answer::KeyRejected };
        let Ok(sig) = ed25519_dalek::Signature::from_slice(check.signature) else { return Answer::Invalid };
        // verify_strict: no small-order keys or malleable signatures (the
        // core also refuses those before asking, so both ports agree).
        if key.verify_strict(check.message, &sig).is_ok() {
            Answer::Valid
        } else {
            Answer::Invalid
        }
    }

    fn p256(check: &AsymmetricCheck<'_>) -> Answer {
        use p256::ecdsa::{signature::Verifier, Signature, VerifyingKey};
        let Ok(key) = VerifyingKey::from_sec1_bytes(check.key) else { return Answer::KeyRejected };
        let Ok(sig) = Signature::from_slice(check.signature) else { return Answer::Invalid };
        if key.verify(check.message, &sig).is_ok() {
            Answer::Valid
        } else {
            Answer::Invalid
        }
    }

    fn p256_sha1(check: &AsymmetricCheck<'_>) -> Answer {
        use p256::ecdsa::{signature::hazmat::PrehashVerifier, Signature, VerifyingKey};
        use sha1::Digest;
        let Ok(key) = VerifyingKey::from_sec1_bytes(check.key) else { return Answer::KeyRejected };
        let Ok(sig) = Signature::from_slice(check.signature) else { return Answer::Invalid };
        // ECDSA with a 20-byte digest: the digest is the integer (shorter
        // than the curve order, so not truncated), as Web Crypto computes it.
        let digest = sha1::Sha1::digest(check.message);
        if key.verify_prehash(&digest, &sig).is_ok() {
            Answer::Valid
        } else {
            Answer::Invalid
        }
    }

    fn rsa<D>(check: &AsymmetricCheck<'_>) -> Answer
    where
        D: sha2::Digest + sha2::digest::const_oid::AssociatedOid,
    {
        use rsa::{pkcs8::DecodePublicKey, Pkcs1v15Sign, RsaPublicKey};
        let Ok(key) = RsaPublicKey::from_public_key_der(check.key) else { return Answer::KeyRejected };
        let digest = D::digest(check.message);
        if key.verify(Pkcs1v15Sign::new::<D>(), &digest, check.signature).is_ok() {
            Answer::Valid
        } else {
            Answer::Invalid
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::{
        headers::Headers,
        secret::Secret,
        verify::{discord, find_provider, start, Inbound},
    };

    const PRIVATE: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    const OTHER: &str = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";
    const BODY: &[u8] = br#"{"id":"1","type":2}"#;

    /// A port that answers from a script and counts what it was asked.
    struct Scripted {
        answers: Vec<Answer>,
        asked: Cell<usize>,
    }

    impl SignaturePort for Scripted {
        async fn check(&self, _: &AsymmetricCheck<'_>) -> Answer {
            let i = self.asked.get();
            self.asked.set(i + 1);
            self.answers.get(i).copied().unwrap_or(Answer::Invalid)
        }
    }

    fn pending<'a>(headers: &'a Headers, secrets: &[Secret]) -> Result<Pending<'a>, VerifyError> {
        let p = find_provider("discord").unwrap();
        match start(p, &p.scheme(), None, secrets, Inbound::post(headers, BODY, 1_700_000_000))? {
            Checked::Pending(p) => Ok(p),
            Checked::Verified(_) => panic!("an Ed25519 sender is decided by the port"),
        }
    }

    fn signed() -> Headers {
        Headers::new()
            .with("x-signature-ed25519", discord::sign(&Secret::new(PRIVATE), "1700000000", BODY).unwrap())
            .with("x-signature-timestamp", "1700000000")
    }

    fn keys() -> Vec<Secret> {
        [OTHER, PRIVATE].iter().map(|k| Secret::new(discord::public_key_hex(&Secret::new(*k)).unwrap())).collect()
    }

    #[test]
    fn the_check_is_the_signed_message_the_signature_and_each_route_key() {
        let h = signed();
        let p = pending(&h, &keys()).unwrap();
        let checks: Vec<_> = p.checks().collect();
        assert_eq!(checks.len(), 2);
        for (c, k) in checks.iter().zip(keys()) {
            assert_eq!((c.algorithm, c.key_format), (Algorithm::Ed25519, KeyFormat::Raw));
            assert_eq!(hex::encode(c.key), k.expose());
            assert_eq!(c.message, [b"1700000000".as_slice(), BODY].concat());
            assert_eq!(hex::encode(c.signature), h.get("x-signature-ed25519").unwrap());
        }
        // Natively, the second key verifies, the first does not.
        assert_eq!(NativeCryptoAnswers::of(&p), vec![Answer::Invalid, Answer::Valid]);
    }

    struct NativeCryptoAnswers;
    impl NativeCryptoAnswers {
        fn of(p: &Pending<'_>) -> Vec<Answer> {
            p.checks().map(|c| native::NativeCrypto::answer(&c)).collect()
        }
    }

    #[test]
    fn only_a_valid_answer_completes_a_pending_check() {
        let h = signed();
        for answers in [&[][..], &[Answer::Invalid], &[Answer::Invalid, Answer::Invalid]] {
            assert_eq!(pending(&h, &keys()).unwrap().complete(answers).unwrap_err(), VerifyError::SignatureMismatch);
        }
        let v = pending(&h, &keys()).unwrap().complete(&[Answer::Invalid, Answer::Valid]).unwrap();
        assert_eq!((v.secret_index(), v.delivery_id()), (1, Some("1")));
        // A route key the platform refuses is the operator's to fix, reported by position.
        let err = pending(&h, &keys()).unwrap().complete(&[Answer::KeyRejected]).unwrap_err();
        assert_eq!(
            err,
            VerifyError::InvalidSecret {
                index: 0,
                provider: "discord",
                reason: "was refused as a public key by the platform's crypto"
            }
        );
        assert!(err.is_config_error());
    }

    #[test]
    fn resolve_asks_in_order_and_stops_at_the_first_decisive_answer() {
        let h = signed();
        let port = Scripted { answers: vec![Answer::Invalid, Answer::Valid], asked: Cell::new(0) };
        let v = futures::executor::block_on(resolve(&port, pending(&h, &keys()).unwrap())).unwrap();
        assert_eq!((v.secret_index(), port.asked.get()), (1, 2));
        let port = Scripted { answers: vec![Answer::Valid], asked: Cell::new(0) };
        assert!(futures::executor::block_on(resolve(&port, pending(&h, &keys()).unwrap())).is_ok());
        assert_eq!(port.asked.get(), 1);
        let port = Scripted { answers: vec![Answer::KeyRejected, Answer::Valid], asked: Cell::new(0) };
        assert!(futures::executor::block_on(resolve(&port, pending(&h, &keys()).unwrap()))
            .unwrap_err()
            .is_config_error());
        assert_eq!(port.asked.get(), 1);
        // The native port through the same driver.
        let v = futures::executor::block_on(resolve(&native::NativeCrypto, pending(&h, &keys()).unwrap())).unwrap();
        assert_eq!(v.secret_index(), 1);
    }

    #[test]
    fn a_malleated_ed25519_signature_never_reaches_the_port() {
        let h = signed();
        let mut sig = hex::decode(h.get("x-signature-ed25519").unwrap()).unwrap();
        // S + ℓ: the same point equation, a non-canonical S.
        let order: [u8; 32] = hex::decode("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
            .unwrap()
            .try_into()
            .unwrap();
        let mut carry = 0u16;
        for (s, l) in sig[32..].iter_mut().zip(order) {
            let sum = u16::from(*s) + u16::from(l) + carry;
            *s = sum as u8;
            carry = sum >> 8;
        }
        let h2 =
            Headers::new().with("x-signature-ed25519", hex::encode(&sig)).with("x-signature-timestamp", "1700000000");
        assert_eq!(pending(&h2, &keys()).unwrap_err(), VerifyError::SignatureMismatch);
        // A small-order route key is refused as configuration before any request.
        let weak = Secret::new("0100000000000000000000000000000000000000000000000000000000000000");
        assert!(pending(&h, &[weak]).unwrap_err().is_config_error());
    }
}
