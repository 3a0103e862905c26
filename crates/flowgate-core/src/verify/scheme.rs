//! The configurable HMAC scheme: one engine for every sender that signs with
//! an HMAC (or a plain hash) over a string built from the body, an id, a
//! timestamp, the URL and the method — which is most of them
//! (webhook-providers.md §b). Built-in senders are presets of it
//! ([`super::catalogue`]); senders that are not built in are written as the
//! same thing in configuration.
//!
//! The engine makes one pass over the body per secret (the signed string is
//! fed to the MAC piece by piece; the body is never copied) and parses JSON
//! only after the signature has matched.

use std::borrow::Cow;

use base64::{
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
    Engine,
};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

use super::{
    check_window, check_window_past_only, decode_keys, parse_unix_secs, time, Inbound, Labels, Proof, Verified,
    VerifyError,
};
use crate::{headers::Headers, secret::Secret};

type Name = Cow<'static, str>;

/// The MAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacAlgorithm {
    /// HMAC-SHA1.
    HmacSha1,
    /// HMAC-SHA256.
    HmacSha256,
    /// HMAC-SHA512.
    HmacSha512,
    /// SHA-256 of the secret followed by the signed string (not an HMAC:
    /// HubSpot's v1 and v2 signatures). Weaker than an HMAC: SHA-256 is
    /// length-extendable, so one signed request lets anyone sign the same
    /// string with bytes appended. Kept for the built-in HubSpot presets only;
    /// custom schemes refuse it (`custom.rs`).
    Sha256SecretPrefix,
}

impl MacAlgorithm {
    /// Configuration name.
    pub fn name(self) -> &'static str {
        match self {
            MacAlgorithm::HmacSha1 => "sha1",
            MacAlgorithm::HmacSha256 => "sha256",
            MacAlgorithm::HmacSha512 => "sha512",
            MacAlgorithm::Sha256SecretPrefix => "sha256-secret-prefix",
        }
    }

    /// Parses a configuration name.
    pub fn from_name(s: &str) -> Option<Self> {
        [Self::HmacSha1, Self::HmacSha256, Self::HmacSha512, Self::Sha256SecretPrefix]
            .into_iter()
            .find(|a| a.name() == s)
    }
}

/// How the signature is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Hexadecimal (either case accepted).
    Hex,
    /// Standard base64 with padding.
    Base64,
    /// URL-safe base64 without padding.
    Base64Url,
}

impl Encoding {
    /// Configuration name.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Hex => "hex",
            Encoding::Base64 => "base64",
            Encoding::Base64Url => "base64url",
        }
    }

    /// Parses a configuration name.
    pub fn from_name(s: &str) -> Option<Self> {
        [Self::Hex, Self::Base64, Self::Base64Url].into_iter().find(|e| e.name() == s)
    }

    fn decode(self, s: &str) -> Option<Vec<u8>> {
        match self {
            Encoding::Hex => hex::decode(s).ok(),
            Encoding::Base64 => STANDARD.decode(s).ok(),
            Encoding::Base64Url => URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok(),
        }
    }

    fn encode(self, bytes: &[u8]) -> String {
        match self {
            Encoding::Hex => hex::encode(bytes),
            Encoding::Base64 => STANDARD.encode(bytes),
            Encoding::Base64Url => URL_SAFE_NO_PAD.encode(bytes),
        }
    }
}

/// How the secret becomes the MAC key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretEncoding {
    /// The secret's UTF-8 bytes, as typed (Stripe's whole `whsec_…` string too).
    Raw,
    /// Base64-decoded (Airtable).
    Base64,
    /// Hex-decoded (Adyen, Authorize.Net).
    Hex,
    /// `whsec_` prefix removed, then base64-decoded (Standard Webhooks, Svix).
    Whsec,
}

impl SecretEncoding {
    /// Configuration name.
    pub fn name(self) -> &'static str {
        match self {
            SecretEncoding::Raw => "raw",
            SecretEncoding::Base64 => "base64",
            SecretEncoding::Hex => "hex",
            SecretEncoding::Whsec => "whsec",
        }
    }

    /// Parses a configuration name.
    pub fn from_name(s: &str) -> Option<Self> {
        [Self::Raw, Self::Base64, Self::Hex, Self::Whsec].into_iter().find(|e| e.name() == s)
    }

    /// The key for `secret`.
    ///
    /// # Errors
    /// A fixed reason when the secret is not in this form.
    pub fn key(self, secret: &Secret) -> Result<Vec<u8>, &'static str> {
        let s = secret.expose();
        let key = match self {
            SecretEncoding::Raw => s.as_bytes().to_vec(),
            SecretEncoding::Base64 => STANDARD.decode(s.trim()).map_err(|_| "is not base64")?,
            SecretEncoding::Hex => hex::decode(s.trim()).map_err(|_| "is not hex")?,
            SecretEncoding::Whsec => {
                let b64 = s.trim().strip_prefix("whsec_").unwrap_or(s.trim());
                STANDARD.decode(b64).map_err(|_| "is not base64 after the whsec_ prefix")?
            }
        };
        if key.is_empty() {
            return Err("is empty");
        }
        Ok(key)
    }
}

/// How the signature header is laid out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureFormat {
    /// One signature, after the prefix.
    Plain,
    /// Several signatures separated by `separator`, each after the prefix;
    /// entries without the prefix are skipped (PagerDuty's `v1=a,v1=b`).
    List {
        /// Separator between entries.
        separator: char,
    },
    /// `key=value` pairs (Stripe's `t=…,v1=…,v1=…`): the timestamp under
    /// `timestamp_key`, signatures under `signature_key` (several allowed);
    /// other keys are ignored (Stripe's test-mode `v0`). Whitespace also
    /// separates pairs (Persona's `t=…,v1=… t=…,v1=…` during a rotation).
    Structured {
        /// Separator between pairs (`,` or `;`).
        separator: char,
        /// Key of the timestamp.
        timestamp_key: Name,
        /// Key of each signature.
        signature_key: Name,
    },
}

/// One piece of the signed string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Literal text.
    Literal(Name),
    /// The delivery id (from the id header).
    Id,
    /// The timestamp exactly as sent.
    Timestamp,
    /// The raw body.
    Body,
    /// The full request URL as received.
    Url,
    /// The request method.
    Method,
    /// The URL with the percent-encodings HubSpot lists decoded (`%3A %2F
    /// %3F %40 %21 %24 %27 %28 %29 %2A %2C %3B`); HubSpot's v3 signature
    /// covers that form. Not available in configured templates.
    UrlHubSpotDecoded,
}

/// HubSpot's v3 URI form: the listed percent-encodings decoded, nothing else.
pub fn hubspot_decode(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    let mut rest = url;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let code = rest.get(i + 1..i + 3).unwrap_or("");
        let decoded = match code.to_ascii_uppercase().as_str() {
            "3A" => Some(':'),
            "2F" => Some('/'),
            "3F" => Some('?'),
            "40" => Some('@'),
            "21" => Some('!'),
            "24" => Some('$'),
            "27" => Some('\''),
            "28" => Some('('),
            "29" => Some(')'),
            "2A" => Some('*'),
            "2C" => Some(','),
            "3B" => Some(';'),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[i + 3..];
            }
            None => {
                out.push('%');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Parses a signed-string template such as `{timestamp}.{body}`.
///
/// # Errors
/// An unknown `{placeholder}` or an unclosed brace.
pub fn parse_template(t: &str) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut rest = t;
    while !rest.is_empty() {
        match rest.find('{') {
            Some(0) => {
                let close = rest.find('}').ok_or_else(|| "has an unclosed '{'".to_owned())?;
                parts.push(match &rest[1..close] {
                    "id" => Part::Id,
                    "timestamp" => Part::Timestamp,
                    "body" => Part::Body,
                    "url" => Part::Url,
                    "method" => Part::Method,
                    other => return Err(format!("has an unknown placeholder {{{other}}}: use {{id}}, {{timestamp}}, {{body}}, {{url}} or {{method}}")),
                });
                rest = &rest[close + 1..];
            }
            Some(i) => {
                parts.push(Part::Literal(rest[..i].to_owned().into()));
                rest = &rest[i..];
            }
            None => {
                parts.push(Part::Literal(rest.to_owned().into()));
                rest = "";
            }
        }
    }
    Ok(parts)
}

/// How a timestamp is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampUnit {
    /// Unix seconds.
    Seconds,
    /// Unix milliseconds.
    Millis,
    /// RFC 3339 / ISO 8601 (`2024-01-02T03:04:05.123Z`).
    Rfc3339,
    /// RFC 3339 whose zone may be left out, read as UTC
    /// (`2024-03-27T15:42:29.551`: Orb's `X-Orb-Timestamp`, which Orb's SDKs
    /// parse so).
    Iso8601Utc,
    /// A signed value that is not a time (Checkbook's `nonce`): it is part
    /// of the signed string, and nothing checks it against the clock. Built-in
    /// presets only (a configured scheme cannot choose it): a signed string
    /// with a nonce and no time has no replay window, so the route ledger's
    /// replay guard is what refuses a captured request sent again.
    Nonce,
}

impl TimestampUnit {
    /// Configuration name.
    pub fn name(self) -> &'static str {
        match self {
            TimestampUnit::Seconds => "seconds",
            TimestampUnit::Millis => "milliseconds",
            TimestampUnit::Rfc3339 => "rfc3339",
            TimestampUnit::Iso8601Utc => "iso8601-utc",
            TimestampUnit::Nonce => "nonce",
        }
    }

    /// Parses a configuration name.
    pub fn from_name(s: &str) -> Option<Self> {
        [Self::Seconds, Self::Millis, Self::Rfc3339, Self::Iso8601Utc].into_iter().find(|u| u.name() == s)
    }

    /// Seconds since the epoch, or `None` if malformed.
    pub fn parse(self, s: &str) -> Option<u64> {
        match self {
            TimestampUnit::Seconds => parse_unix_secs(s),
            TimestampUnit::Millis => parse_unix_secs(s).map(|ms| ms / 1000),
            TimestampUnit::Rfc3339 => time::parse_rfc3339(s),
            TimestampUnit::Iso8601Utc => time::parse_rfc3339_utc_default(s),
            // Not a time: any decimal number of up to 20 digits.
            TimestampUnit::Nonce => parse_unix_secs(s).map(|_| 0),
        }
    }

    /// How `now` is written in this unit (for signing).
    pub fn format(self, now: u64) -> String {
        match self {
            TimestampUnit::Seconds => now.to_string(),
            TimestampUnit::Millis => (now * 1000).to_string(),
            TimestampUnit::Rfc3339 => time::format_rfc3339(now),
            TimestampUnit::Iso8601Utc => time::format_rfc3339(now).trim_end_matches('Z').to_owned(),
            TimestampUnit::Nonce => now.to_string(),
        }
    }
}

/// Where the timestamp is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimestampSource {
    /// A header.
    Header(Name),
    /// The structured signature header's timestamp key.
    Structured,
    /// A JSON field of the body (Linear's `webhookTimestamp`), read after
    /// the signature matched; it cannot be part of the signed string.
    JsonField(Name),
}

/// The replay window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampRule {
    /// Where the timestamp is.
    pub source: TimestampSource,
    /// How it is written.
    pub unit: TimestampUnit,
    /// Accepted age (and, unless `past_only`, skew into the future), seconds.
    pub tolerance_secs: u64,
    /// Only reject old timestamps, never future ones (Stripe's and Paddle's SDKs).
    pub past_only: bool,
}

/// Where a label (event type, delivery id) is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// A header.
    Header(Name),
    /// A dotted path into the JSON body (`event.type`), read after verification.
    Json(Name),
}

/// A complete HMAC scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HmacScheme {
    /// The MAC.
    pub algorithm: MacAlgorithm,
    /// How the signature is written.
    pub encoding: Encoding,
    /// Signature headers, in order; every one present contributes candidates
    /// (Box's primary and secondary, DocuSign's numbered headers).
    pub signature_headers: Vec<Name>,
    /// Text before each signature (`sha256=`, `v0=`), or empty.
    pub prefix: Name,
    /// Header layout.
    pub format: SignatureFormat,
    /// The signed string.
    pub template: Vec<Part>,
    /// The replay window, if the sender signs a timestamp.
    pub timestamp: Option<TimestampRule>,
    /// The delivery id header, when the template uses `{id}`.
    pub id_header: Option<Name>,
    /// How the secret becomes the key.
    pub secret: SecretEncoding,
    /// Where the event type is (first found wins).
    pub event: Vec<Field>,
    /// Where the delivery id is (first found wins).
    pub delivery: Vec<Field>,
    /// The signature comes in the URL's query parameters named by
    /// `signature_headers`, not in headers (PandaDoc's `?signature=`).
    /// Built-in presets only; [`Self::sign`] writes such a signature as an
    /// entry whose name is `?` followed by the parameter's name.
    pub signature_in_query: bool,
}

/// At most this many signature candidates are tried (rotation needs a few;
/// DocuSign allows up to 100 keys, one header each).
const MAX_CANDIDATES: usize = 100;

enum MacState {
    Sha1(Hmac<Sha1>),
    Sha256(Hmac<Sha256>),
    Sha512(Hmac<Sha512>),
    Prefixed(Sha256),
}

impl MacState {
    fn new(alg: MacAlgorithm, key: &[u8]) -> Self {
        // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
        match alg {
            MacAlgorithm::HmacSha1 => MacState::Sha1(Hmac::new_from_slice(key).expect("any key length")),
            MacAlgorithm::HmacSha256 => MacState::Sha256(Hmac::new_from_slice(key).expect("any key length")),
            MacAlgorithm::HmacSha512 => MacState::Sha512(Hmac::new_from_slice(key).expect("any key length")),
            MacAlgorithm::Sha256SecretPrefix => {
                let mut h = Sha256::new();
                h.update(key);
                MacState::Prefixed(h)
            }
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            MacState::Sha1(m) => m.update(data),
            MacState::Sha256(m) => m.update(data),
            MacState::Sha512(m) => m.update(data),
            MacState::Prefixed(h) => h.update(data),
        }
    }

    fn finish(self) -> Vec<u8> {
        match self {
            MacState::Sha1(m) => m.finalize().into_bytes().to_vec(),
            MacState::Sha256(m) => m.finalize().into_bytes().to_vec(),
            MacState::Sha512(m) => m.finalize().into_bytes().to_vec(),
            MacState::Prefixed(h) => h.finalize().to_vec(),
        }
    }
}

/// The values the signed string is built from.
struct Signed<'a> {
    id: &'a str,
    timestamp: &'a str,
    body: &'a [u8],
    url: &'a str,
    method: &'a str,
}

impl HmacScheme {
    fn mac(&self, key: &[u8], s: &Signed<'_>) -> Vec<u8> {
        let mut m = MacState::new(self.algorithm, key);
        for part in &self.template {
            match part {
                Part::Literal(t) => m.update(t.as_bytes()),
                Part::Id => m.update(s.id.as_bytes()),
                Part::Timestamp => m.update(s.timestamp.as_bytes()),
                Part::Body => m.update(s.body),
                Part::Url => m.update(s.url.as_bytes()),
                Part::Method => m.update(s.method.as_bytes()),
                Part::UrlHubSpotDecoded => m.update(hubspot_decode(s.url).as_bytes()),
            }
        }
        m.finish()
    }

    fn uses(&self, part: &Part) -> bool {
        self.template.contains(part)
    }

    /// True when the signed string covers the request URL (Square, HubSpot, Trello, …).
    pub fn url_bound(&self) -> bool {
        self.uses(&Part::Url) || self.uses(&Part::UrlHubSpotDecoded)
    }

    fn first_header(&self) -> Name {
        self.signature_headers.first().cloned().unwrap_or(Cow::Borrowed("signature"))
    }

    /// Checks the scheme's own consistency (for configured schemes).
    ///
    /// # Errors
    /// What is inconsistent, for operators.
    pub fn validate(&self) -> Result<(), String> {
        if self.signature_headers.is_empty() {
            return Err("names no signature header".into());
        }
        if !self.uses(&Part::Body) {
            return Err("signed string does not include {body}: the body would not be protected".into());
        }
        if self.uses(&Part::Timestamp)
            && self.timestamp.as_ref().is_none_or(|t| matches!(t.source, TimestampSource::JsonField(_)))
        {
            return Err("signed string uses {timestamp} but no timestamp header (or structured key) is set".into());
        }
        if matches!(self.timestamp.as_ref().map(|t| &t.source), Some(TimestampSource::Structured))
            && !matches!(self.format, SignatureFormat::Structured { .. })
        {
            return Err(
                "the timestamp comes from a structured header but the signature format is not structured".into()
            );
        }
        if self.uses(&Part::Id) && self.id_header.is_none() {
            return Err("signed string uses {id} but no id header is set".into());
        }
        self.validate_layout()
    }

    /// Checks that the headers a sender of this scheme writes ([`Self::sign`])
    /// read back: a separator that can occur inside what it separates, a
    /// prefix that trimming removes, or one header name for two values would
    /// make every request fail (found by fuzzing configured schemes).
    fn validate_layout(&self) -> Result<(), String> {
        let in_signature = |c: char| match self.encoding {
            Encoding::Hex => c.is_ascii_hexdigit(),
            Encoding::Base64 => c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='),
            Encoding::Base64Url => c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '='),
        };
        if self.prefix.starts_with(char::is_whitespace) {
            return Err("prefix starts with whitespace, which is trimmed from the header before it is read".into());
        }
        match &self.format {
            SignatureFormat::Plain => {}
            SignatureFormat::List { separator } => {
                if in_signature(*separator) || self.prefix.contains(*separator) {
                    return Err(format!("separator {separator:?} can occur inside a signature or its prefix"));
                }
            }
            SignatureFormat::Structured { separator, timestamp_key, signature_key } => {
                let rfc3339 = self.timestamp.as_ref().is_some_and(|t| {
                    t.source == TimestampSource::Structured
                        && matches!(t.unit, TimestampUnit::Rfc3339 | TimestampUnit::Iso8601Utc)
                });
                let in_timestamp =
                    |c: char| c.is_ascii_digit() || (rfc3339 && matches!(c, '-' | ':' | 'T' | 'Z' | '.'));
                if *separator == '='
                    || in_signature(*separator)
                    || in_timestamp(*separator)
                    || self.prefix.contains(*separator)
                    || timestamp_key.contains(*separator)
                    || signature_key.contains(*separator)
                {
                    return Err(format!(
                        "separator {separator:?} can occur inside a key, a timestamp, a signature or its prefix"
                    ));
                }
                for key in [timestamp_key, signature_key] {
                    if key.contains('=') || key.contains(char::is_whitespace) {
                        return Err(format!("key {key:?} contains '=' or whitespace"));
                    }
                }
                // Pairs are split on whitespace too (Persona's rotation form).
                if self.prefix.contains(char::is_whitespace) {
                    return Err("prefix contains whitespace, which separates structured pairs".into());
                }
                if timestamp_key == signature_key {
                    return Err("timestamp_key and signature_key are the same".into());
                }
            }
        }
        let timestamp_header = match self.timestamp.as_ref().map(|t| &t.source) {
            Some(TimestampSource::Header(h)) => Some(h),
            _ => None,
        };
        let id_header = self.id_header.as_ref().filter(|_| self.uses(&Part::Id));
        let same = |a: &Name, b: &Name| a.eq_ignore_ascii_case(b);
        for (what, h) in [("timestamp", timestamp_header), ("id", id_header)] {
            if h.is_some_and(|h| self.signature_headers.iter().any(|s| same(s, h))) {
                return Err(format!("the {what} header is also a signature header"));
            }
        }
        if let (Some(t), Some(i)) = (timestamp_header, id_header) {
            if same(t, i) {
                return Err("the timestamp header and the id header are the same".into());
            }
        }
        Ok(())
    }

    /// Verifies `inbound` against each of `secrets`.
    ///
    /// # Errors
    /// [`VerifyError`]; `InvalidSecret` is a configuration error.
    pub fn verify<'a>(
        &self,
        provider: &'static str,
        tolerance_override: Option<u64>,
        secrets: &[Secret],
        inbound: Inbound<'a>,
    ) -> Result<Verified<'a>, VerifyError> {
        let keys = decode_keys(provider, secrets, |s| self.secret.key(s))?;

        // (1) Signature candidates, and a structured timestamp if any.
        let mut candidates: Vec<Vec<u8>> = Vec::new();
        let mut structured_ts: Option<&str> = None;
        let mut seen_header = false;
        let from_query: Vec<Option<String>> = if self.signature_in_query {
            self.signature_headers.iter().map(|name| query_param(inbound.url, name)).collect()
        } else {
            Vec::new()
        };
        for (i, name) in self.signature_headers.iter().enumerate() {
            let value = match from_query.get(i) {
                Some(q) => q.as_deref(),
                None => inbound.headers.get(name),
            };
            let Some(value) = value else { continue };
            seen_header = true;
            let mut push = |text: &str| {
                if candidates.len() < MAX_CANDIDATES {
                    if let Some(sig) = text
                        .trim()
                        .strip_prefix(self.prefix.as_ref())
                        .and_then(|t| self.encoding.decode(t))
                        .filter(|sig| !sig.is_empty())
                    {
                        candidates.push(sig);
                    }
                }
            };
            match &self.format {
                SignatureFormat::Plain => push(value),
                SignatureFormat::List { separator } => value.split(*separator).for_each(push),
                SignatureFormat::Structured { separator, timestamp_key, signature_key } => {
                    // Whitespace separates pairs too: Persona sends two
                    // `t=…,v1=…` groups, space-separated, while it rotates a
                    // secret (and Sanity's SDK accepts `t=… v1=…`).
                    for pair in value.split(|c: char| c == *separator || c.is_whitespace()) {
                        let Some((k, v)) = pair.trim().split_once('=') else { continue };
                        if k == timestamp_key.as_ref() {
                            structured_ts = Some(v);
                        } else if k == signature_key.as_ref() {
                            push(v);
                        }
                    }
                }
            }
        }
        if !seen_header {
            return Err(VerifyError::MissingHeader(self.first_header()));
        }
        if candidates.is_empty() {
            return Err(VerifyError::MalformedHeader(self.first_header()));
        }

        // (2) Timestamp and id, as sent.
        let ts_text = match self.timestamp.as_ref().map(|t| &t.source) {
            Some(TimestampSource::Header(h)) => {
                Some(inbound.headers.get(h).map(str::trim).ok_or_else(|| VerifyError::MissingHeader(h.clone()))?)
            }
            Some(TimestampSource::Structured) => {
                Some(structured_ts.ok_or_else(|| VerifyError::MalformedHeader(self.first_header()))?)
            }
            _ => None,
        };
        let id = match &self.id_header {
            Some(h) if self.uses(&Part::Id) => {
                inbound.headers.get(h).map(str::trim).ok_or_else(|| VerifyError::MissingHeader(h.clone()))?
            }
            _ => "",
        };

        // (3) MAC per key, compared in constant time with every candidate.
        let signed = Signed {
            id,
            timestamp: ts_text.unwrap_or(""),
            body: inbound.body,
            url: inbound.url,
            method: inbound.method,
        };
        // Every key is tried, whichever matches (no early exit).
        let macs: Vec<(bool, Vec<u8>)> = keys
            .iter()
            .map(|key| {
                let expected = self.mac(key, &signed);
                (candidates.iter().fold(false, |hit, c| bool::from(expected.ct_eq(c)) | hit), expected)
            })
            .collect();
        let Some(secret_index) = macs.iter().position(|(hit, _)| *hit) else {
            return Err(VerifyError::SignatureMismatch);
        };
        let proof = Proof::of_mac(&macs[secret_index].1);

        // (4) Replay window, after the signature matched (a nonce is no time).
        if let Some(rule) = self.timestamp.as_ref().filter(|r| r.unit != TimestampUnit::Nonce) {
            let tolerance = tolerance_override.unwrap_or(rule.tolerance_secs);
            let text = match &rule.source {
                TimestampSource::JsonField(path) => json_field(inbound.body, path),
                _ => ts_text.map(str::to_owned),
            };
            let header_name = match &rule.source {
                TimestampSource::Header(h) => h.clone(),
                TimestampSource::JsonField(p) => p.clone(),
                TimestampSource::Structured => self.first_header(),
            };
            let ts =
                text.as_deref().and_then(|t| rule.unit.parse(t)).ok_or(VerifyError::MalformedHeader(header_name))?;
            if rule.past_only {
                check_window_past_only(ts, inbound.now_secs, tolerance)?;
            } else {
                check_window(ts, inbound.now_secs, tolerance)?;
            }
        }

        let verified =
            Verified::labelled(provider, secret_index, inbound.body, self.labels(inbound.headers, inbound.body))
                .with_proof(proof);
        Ok(if self.template == [Part::Body] { verified.body_proof() } else { verified })
    }

    /// The event type and delivery id where this scheme says they are.
    pub(super) fn labels(&self, headers: &Headers, body: &[u8]) -> Labels {
        super::body_fields::labels_of(&self.event, &self.delivery, headers, body)
    }

    /// The headers a sender of this scheme sends for `body` (for
    /// `flowgate send` and the round-trip tests).
    ///
    /// # Errors
    /// When the secret is not in the scheme's form.
    pub fn sign(
        &self,
        secret: &Secret,
        body: &[u8],
        now: u64,
        id: &str,
        url: &str,
        method: &str,
    ) -> Result<Vec<(String, String)>, &'static str> {
        let key = self.secret.key(secret)?;
        let ts = self.timestamp.as_ref().map(|t| t.unit.format(now)).unwrap_or_default();
        let tag = self.mac(&key, &Signed { id, timestamp: &ts, body, url, method });
        let sig = format!("{}{}", self.prefix, self.encoding.encode(&tag));
        let value = match &self.format {
            SignatureFormat::Plain | SignatureFormat::List { .. } => sig,
            SignatureFormat::Structured { separator, timestamp_key, signature_key } => {
                let raw = sig.strip_prefix(self.prefix.as_ref()).unwrap_or(&sig);
                format!("{timestamp_key}={ts}{separator}{signature_key}={}{raw}", self.prefix)
            }
        };
        let name = if self.signature_in_query {
            format!("?{}", self.first_header())
        } else {
            self.first_header().into_owned()
        };
        let mut headers = vec![(name, value)];
        if let Some(TimestampRule { source: TimestampSource::Header(h), .. }) = &self.timestamp {
            headers.push((h.to_string(), ts.clone()));
        }
        if let Some(h) = &self.id_header {
            headers.push((h.to_string(), id.to_owned()));
        }
        Ok(headers)
    }
}

/// What [`HmacScheme::sign`] wrote, split as a sender sends it: the
/// headers, and `url` with the entries named `?param` (a signature carried
/// in the URL) added to its query.
pub fn split_signed(url: &str, signed: &[(String, String)]) -> (Vec<(String, String)>, String) {
    let mut url = url.to_owned();
    let mut headers = Vec::new();
    for (k, v) in signed {
        match k.strip_prefix('?') {
            Some(param) => {
                url.push(if url.contains('?') { '&' } else { '?' });
                url.push_str(&form_urlencoded::Serializer::new(String::new()).append_pair(param, v).finish());
            }
            None => headers.push((k.clone(), v.clone())),
        }
    }
    (headers, url)
}

/// The first value of query parameter `key` in `url`, percent-decoded.
pub(super) fn query_param(url: &str, key: &str) -> Option<String> {
    let q = url.split_once('?')?.1.split('#').next().unwrap_or("");
    form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == key).map(|(_, v)| v.into_owned())
}

/// A dotted path into a JSON body, as text (strings as-is, numbers written out).
pub(super) fn json_field(body: &[u8], path: &str) -> Option<String> {
    super::body_fields::json_path_in(body, path)
}
