//! Public-key senders whose route secret is the sender's public key:
//! Discord (Ed25519, hex) and SendGrid (ECDSA P-256, base64 DER). Keys are
//! derived from the input, signed with the schemes' own signers.

use arbitrary::{Arbitrary, Result, Unstructured};
use flowgate_core::{
    verify::{self, discord, find_provider, sendgrid, VerifyError},
    Headers, Secret,
};

use crate::support::{
    accepted, alter_suffix, bytes, inbound, outcome, refused, rotation, text_of, truncate_suffix, Alphabet, BodyChange,
    BASE_URL, NOW_RANGE,
};

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Mutation {
    None,
    Body(BodyChange),
    DropSignature,
    DropTimestamp,
    OtherTimestamp,
    AlterSignature { at: usize, pick: u8 },
    TruncateSignature(usize),
    WrongKey { at: u8, bit: u8 },
    TooOld(u16),
    TooNew(u16),
}

/// Which sender, its header names and how its signature is written.
struct Sender {
    name: &'static str,
    signature_header: &'static str,
    timestamp_header: &'static str,
    alphabet: Alphabet,
    /// The route secret (public key) of a private key, if it is one.
    public: fn(&Secret) -> std::result::Result<String, &'static str>,
    sign: fn(&Secret, &str, &[u8]) -> std::result::Result<String, &'static str>,
}

const DISCORD: Sender = Sender {
    name: "discord",
    signature_header: discord::SIGNATURE_HEADER,
    timestamp_header: discord::TIMESTAMP_HEADER,
    alphabet: Alphabet::Hex,
    public: discord::public_key_hex,
    sign: discord::sign,
};

const SENDGRID: Sender = Sender {
    name: "sendgrid",
    signature_header: sendgrid::SIGNATURE_HEADER,
    timestamp_header: sendgrid::TIMESTAMP_HEADER,
    alphabet: Alphabet::Base64,
    public: sendgrid::public_key_base64,
    sign: sendgrid::sign,
};

/// A private key (32 bytes as hex; for P-256, `None` when not a valid scalar).
fn private_key(seed: [u8; 32]) -> Secret {
    Secret::new(hex::encode(seed))
}

/// PEM armour around a base64 SubjectPublicKeyInfo (SendGrid accepts both).
fn pem(b64: &str) -> String {
    let lines: Vec<&str> =
        b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).expect("base64 is ASCII")).collect();
    format!("-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n", lines.join("\n"))
}

fn round_trip(u: &mut Unstructured<'_>, s: &Sender) -> Result<()> {
    let provider = find_provider(s.name).expect("built in");
    let scheme = provider.scheme();
    let seed: [u8; 32] = u.arbitrary()?;
    let private = private_key(seed);
    // Not every 32 bytes are a P-256 scalar.
    let Ok(public) = (s.public)(&private) else { return Ok(()) };
    let public = if s.alphabet == Alphabet::Base64 && u.arbitrary()? { pem(&public) } else { public };
    let now = u.int_in_range(NOW_RANGE)?;
    let tolerance: Option<u64> = if u.arbitrary()? { Some(u.int_in_range(1..=3600)?) } else { None };
    // The senders check no window unless the route sets one: then the
    // timestamp must be Unix seconds; otherwise it is signed as any text.
    let ts =
        if tolerance.is_some() || u.arbitrary()? { now.to_string() } else { text_of(u, b"0123456789 .:T-Z", 0, 24)? };
    let body = bytes(u, 512)?;
    let decoys: Vec<Secret> = (0..u.int_in_range(0..=2u8)?)
        .filter_map(|i| {
            let mut other = seed;
            other[usize::from(i)] ^= 0x80;
            (s.public)(&private_key(other)).ok().map(Secret::new)
        })
        .collect();
    let (secrets, real_at) = rotation(Secret::new(public), decoys, u.arbitrary()?);
    let mutation: Mutation = u.arbitrary()?;

    let sig = (s.sign)(&private, &ts, &body).expect("a valid private key");
    let signed = Headers::new().with(s.signature_header, sig.clone()).with(s.timestamp_header, ts.clone());
    let run = |headers: &Headers, body: &[u8], now: u64, secrets: &[Secret]| {
        outcome(verify::verify(provider, &scheme, tolerance, secrets, inbound(headers, body, now, BASE_URL)))
    };
    let v = accepted(s.name, run(&signed, &body, now, &secrets));
    assert_eq!(v.secret_index, real_at, "{}: matched the wrong key", s.name);
    let labels = verify::labels(&scheme, &signed, &body);
    assert_eq!((labels.event_type, labels.delivery_id), (v.event_type, v.delivery_id));

    let what = |why: &str| format!("{}: {why}", s.name);
    let both = |sig: String, ts: String| Headers::new().with(s.signature_header, sig).with(s.timestamp_header, ts);
    match mutation {
        Mutation::None => {}
        Mutation::Body(c) => {
            refused(&what("body changed"), run(&signed, &c.apply(&body), now, &secrets));
        }
        Mutation::DropSignature => {
            let hs = Headers::new().with(s.timestamp_header, ts.clone());
            refused(&what("no signature"), run(&hs, &body, now, &secrets));
        }
        Mutation::DropTimestamp => {
            let hs = Headers::new().with(s.signature_header, sig.clone());
            refused(&what("no timestamp"), run(&hs, &body, now, &secrets));
        }
        Mutation::OtherTimestamp => {
            refused(&what("another timestamp"), run(&both(sig.clone(), format!("{ts}0")), &body, now, &secrets));
        }
        Mutation::AlterSignature { at, pick } => {
            let changed = alter_suffix(&sig, sig.len(), at, pick, s.alphabet);
            refused(&what("signature altered"), run(&both(changed, ts.clone()), &body, now, &secrets));
        }
        Mutation::TruncateSignature(by) => {
            let cut = truncate_suffix(&sig, sig.len(), by);
            refused(&what("signature truncated"), run(&both(cut, ts.clone()), &body, now, &secrets));
        }
        Mutation::WrongKey { at, bit } => {
            let mut other = seed;
            other[usize::from(at) % 32] ^= 1 << (bit % 8);
            if let Ok(wrong) = (s.public)(&private_key(other)) {
                refused(&what("another key"), run(&signed, &body, now, &[Secret::new(wrong)]));
            }
        }
        Mutation::TooOld(d) => {
            if let Some(w) = tolerance {
                let e = refused(&what("too old"), run(&signed, &body, now + w + 1 + u64::from(d), &secrets));
                assert_eq!(e, VerifyError::TimestampTooOld);
            }
        }
        Mutation::TooNew(d) => {
            if let Some(w) = tolerance {
                let e = refused(&what("in the future"), run(&signed, &body, now - w - 1 - u64::from(d), &secrets));
                assert_eq!(e, VerifyError::TimestampInFuture);
            }
        }
    }
    Ok(())
}

/// Discord: an Ed25519 key from the input signs `timestamp ‖ body`; the
/// route holds its public key; verify accepts; one mutation; refuses.
pub fn discord(data: &[u8]) {
    let _ = round_trip(&mut Unstructured::new(data), &DISCORD);
}

/// SendGrid: a P-256 key from the input signs `timestamp ‖ body` (DER,
/// base64); the route holds its public key (base64 DER or PEM); verify
/// accepts; one mutation; refuses.
pub fn sendgrid(data: &[u8]) {
    let _ = round_trip(&mut Unstructured::new(data), &SENDGRID);
}
