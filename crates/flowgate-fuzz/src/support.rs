//! What the targets share: turning fuzz bytes into well-formed pieces
//! (secrets, ids, URLs, bodies) and the small mutations every round trip
//! applies to a signature.

use arbitrary::{Result, Unstructured};
use base64::{
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
    Engine,
};
use flowgate_core::{
    verify::{
        scheme::{Encoding, MacAlgorithm, SecretEncoding},
        Inbound, Verified, VerifyError,
    },
    Headers, Secret,
};

/// Earliest and latest "now" a round trip signs at (2001 .. 2100): every
/// sender's timestamp format can write these.
pub(crate) const NOW_RANGE: std::ops::RangeInclusive<u64> = 1_000_000_000..=4_102_444_800;

/// The URL every target posts to unless it builds its own.
pub(crate) const BASE_URL: &str = "https://flowgate.example/hooks/";

/// Characters of ids, paths and tokens: no whitespace (verifiers trim header
/// values), none that a URL or a list separator would give a meaning to.
pub(crate) const TOKEN: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~";

/// Lower-case hexadecimal digits.
pub(crate) const HEX: &[u8] = b"0123456789abcdef";
/// The standard base64 alphabet.
pub(crate) const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/// The URL-safe base64 alphabet.
pub(crate) const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// A string of `min..=max` characters of `alphabet`.
pub(crate) fn text_of(u: &mut Unstructured<'_>, alphabet: &[u8], min: usize, max: usize) -> Result<String> {
    let len = u.int_in_range(min..=max)?;
    let mut s = String::with_capacity(len);
    for _ in 0..len {
        s.push(char::from(*u.choose(alphabet)?));
    }
    Ok(s)
}

/// Arbitrary bytes, at most `max`.
pub(crate) fn bytes(u: &mut Unstructured<'_>, max: usize) -> Result<Vec<u8>> {
    let len = u.int_in_range(0..=max)?;
    Ok(u.bytes(len.min(u.len()))?.to_vec())
}

/// Arbitrary text (valid UTF-8 by construction), at most `max` bytes.
pub(crate) fn any_text(u: &mut Unstructured<'_>, max: usize) -> Result<String> {
    let s: String = u.arbitrary()?;
    Ok(truncate_to(s, max))
}

fn truncate_to(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

/// Key bytes, `1..=max` of them.
pub(crate) fn key(u: &mut Unstructured<'_>, max: usize) -> Result<Vec<u8>> {
    let len = u.int_in_range(1..=max)?;
    let mut k = Vec::with_capacity(len);
    for _ in 0..len {
        k.push(u.arbitrary::<u8>()?);
    }
    Ok(k)
}

/// Printable ASCII without space (0x21..=0x7e) for `key`: a raw secret that
/// is never blank and survives trimming.
pub(crate) fn printable(key: &[u8]) -> String {
    key.iter().map(|b| char::from(0x21 + b % 94)).collect()
}

/// The secret text whose key (`encoding.key`) is `key` (printable first, for raw).
pub(crate) fn secret_text(encoding: SecretEncoding, key: &[u8]) -> String {
    match encoding {
        SecretEncoding::Raw => printable(key),
        SecretEncoding::Base64 => STANDARD.encode(key),
        SecretEncoding::Hex => hex::encode(key),
        SecretEncoding::Whsec => format!("whsec_{}", STANDARD.encode(key)),
    }
}

/// `key` with byte `at` changed (in printable form for raw secrets), the
/// length kept: a different key that no HMAC can confuse with `key` (HMAC
/// pads short keys with zeros and hashes long ones, so only keys of equal
/// length are guaranteed distinct MAC keys).
pub(crate) fn other_key(encoding: SecretEncoding, key: &[u8], at: usize, delta: u8) -> Vec<u8> {
    let mut k = key.to_vec();
    let i = at % k.len();
    match encoding {
        // printable() maps b to 0x21 + b % 94: move within the 94 classes.
        SecretEncoding::Raw => k[i] = ((k[i] % 94) + 1 + delta % 93) % 94,
        _ => k[i] ^= delta.max(1),
    }
    k
}

/// Length of a MAC tag.
pub(crate) fn tag_len(alg: MacAlgorithm) -> usize {
    match alg {
        MacAlgorithm::HmacSha1 => 20,
        MacAlgorithm::HmacSha256 | MacAlgorithm::Sha256SecretPrefix => 32,
        MacAlgorithm::HmacSha512 => 64,
    }
}

/// How a signature's text is written, for changing one character of it so
/// that the decoded bytes change (hex is case-insensitive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Alphabet {
    Hex,
    Base64,
    Base64Url,
}

impl Alphabet {
    pub(crate) fn of(e: Encoding) -> Self {
        match e {
            Encoding::Hex => Alphabet::Hex,
            Encoding::Base64 => Alphabet::Base64,
            Encoding::Base64Url => Alphabet::Base64Url,
        }
    }

    fn chars(self) -> &'static [u8] {
        match self {
            Alphabet::Hex => HEX,
            Alphabet::Base64 => B64,
            Alphabet::Base64Url => B64URL,
        }
    }

    /// Length of the text of `n` bytes.
    pub(crate) fn encoded_len(self, n: usize) -> usize {
        match self {
            Alphabet::Hex => 2 * n,
            Alphabet::Base64 => n.div_ceil(3) * 4,
            Alphabet::Base64Url => (4 * n).div_ceil(3),
        }
    }

    fn same(self, a: u8, b: u8) -> bool {
        match self {
            Alphabet::Hex => a.eq_ignore_ascii_case(&b),
            _ => a == b,
        }
    }
}

/// `value` with one character of its last `sig_len` characters (the
/// signature) replaced by another of `alphabet` that decodes differently.
pub(crate) fn alter_suffix(value: &str, sig_len: usize, at: usize, pick: u8, alphabet: Alphabet) -> String {
    let mut bytes = value.as_bytes().to_vec();
    let sig_len = sig_len.min(bytes.len());
    if sig_len == 0 {
        bytes.push(b'0');
        return String::from_utf8(bytes).expect("ASCII");
    }
    let i = bytes.len() - sig_len + at % sig_len;
    let options: Vec<u8> = alphabet.chars().iter().copied().filter(|c| !alphabet.same(*c, bytes[i])).collect();
    bytes[i] = options[usize::from(pick) % options.len()];
    String::from_utf8(bytes).unwrap_or_else(|_| value.to_owned() + "0")
}

/// `value` without its last `1..=sig_len` characters.
pub(crate) fn truncate_suffix(value: &str, sig_len: usize, by: usize) -> String {
    let cut = 1 + by % sig_len.clamp(1, value.len().max(1));
    let keep = value.len().saturating_sub(cut);
    value.get(..keep).unwrap_or("").to_owned()
}

/// A body change: one bit flipped, cut short, or one byte longer.
#[derive(Debug, Clone, Copy, arbitrary::Arbitrary)]
pub(crate) enum BodyChange {
    Flip { at: usize, bit: u8 },
    Truncate { keep: usize },
    Append(u8),
    Insert { at: usize, byte: u8 },
}

impl BodyChange {
    /// The changed body; never equal to `body`.
    pub(crate) fn apply(self, body: &[u8]) -> Vec<u8> {
        let mut b = body.to_vec();
        match self {
            BodyChange::Flip { at, bit } if !b.is_empty() => {
                let i = at % b.len();
                b[i] ^= 1 << (bit % 8);
            }
            BodyChange::Truncate { keep } if !b.is_empty() => b.truncate(keep % b.len()),
            BodyChange::Insert { at, byte } => b.insert(at % (b.len() + 1), byte),
            BodyChange::Append(x) => b.push(x),
            // An empty body can be neither flipped nor cut.
            BodyChange::Flip { .. } | BodyChange::Truncate { .. } => b.push(b'x'),
        }
        b
    }
}

/// `headers` as a [`Headers`], without entry `drop` if given.
pub(crate) fn headers_without(headers: &[(String, String)], drop: Option<usize>) -> Headers {
    headers.iter().enumerate().filter(|(i, _)| Some(*i) != drop).map(|(_, (k, v))| (k.as_str(), v.clone())).collect()
}

/// `headers` with the value of `name` replaced.
pub(crate) fn with_value(headers: &[(String, String)], name: &str, value: String) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| (k.clone(), if k.eq_ignore_ascii_case(name) { value.clone() } else { v.clone() }))
        .collect()
}

/// A POST of `body` with `headers` to `url` at `now`.
pub(crate) fn inbound<'a>(headers: &'a Headers, body: &'a [u8], now: u64, url: &'a str) -> Inbound<'a> {
    Inbound { headers, body, now_secs: now, method: "POST", url }
}

/// What an accepted request was found to be (a [`Verified`] without its borrows).
#[derive(Debug)]
pub(crate) struct Accepted {
    pub(crate) secret_index: usize,
    pub(crate) event_type: Option<String>,
    pub(crate) delivery_id: Option<String>,
}

/// The result of one verification.
pub(crate) type Outcome = std::result::Result<Accepted, VerifyError>;

/// `r` without its borrows.
pub(crate) fn outcome(r: std::result::Result<Verified<'_>, VerifyError>) -> Outcome {
    r.map(|v| Accepted {
        secret_index: v.secret_index(),
        event_type: v.event_type().map(str::to_owned),
        delivery_id: v.delivery_id().map(str::to_owned),
    })
}

/// Panics with `what` unless `r` accepted.
#[track_caller]
pub(crate) fn accepted(what: &str, r: Outcome) -> Accepted {
    r.unwrap_or_else(|e| panic!("{what}: a correctly signed request was refused: {e:?}"))
}

/// Panics with `what` unless `r` refused.
#[track_caller]
pub(crate) fn refused(what: &str, r: Outcome) -> VerifyError {
    match r {
        Ok(_) => panic!("{what}: accepted"),
        Err(e) => {
            assert!(!e.is_config_error(), "{what}: refused as a configuration error: {e:?}");
            e
        }
    }
}

/// A secret list with `real` at position `at % (decoys + 1)` among `decoys`;
/// returns the list and the position.
pub(crate) fn rotation(real: Secret, decoys: Vec<Secret>, at: usize) -> (Vec<Secret>, usize) {
    let pos = at % (decoys.len() + 1);
    let mut all = decoys;
    all.insert(pos, real);
    (all, pos)
}

/// Base64url without padding (JWT parts).
pub(crate) fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A JSON value of at most `depth` levels: objects, arrays, strings,
/// numbers (integers and finite floats), booleans, null.
pub(crate) fn json_value(u: &mut Unstructured<'_>, depth: u8) -> Result<serde_json::Value> {
    use serde_json::Value;
    let leaf = depth == 0 || u.ratio(1, 2)?;
    Ok(match u.int_in_range(0..=6u8)? {
        0 if !leaf => {
            let mut m = serde_json::Map::new();
            for _ in 0..u.int_in_range(0..=4)? {
                m.insert(any_text(u, 12)?, json_value(u, depth - 1)?);
            }
            Value::Object(m)
        }
        1 if !leaf => {
            Value::Array((0..u.int_in_range(0..=4)?).map(|_| json_value(u, depth - 1)).collect::<Result<_>>()?)
        }
        0..=2 => Value::from(any_text(u, 24)?),
        3 => Value::from(u.arbitrary::<i64>()?),
        4 => serde_json::Number::from_f64(u.arbitrary()?).map_or(Value::Null, Value::Number),
        5 => Value::from(u.arbitrary::<bool>()?),
        _ => Value::Null,
    })
}
