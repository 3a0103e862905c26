//! Senders whose proof is inside the JSON body rather than in a header:
//!
//! - **Mailgun** (<https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks>):
//!   `"signature": {"timestamp", "token", "signature"}` where `signature` is the
//!   hex HMAC-SHA256, keyed by the HTTP webhook signing key, of `timestamp ‖ token`
//!   (no separator). Events of a subaccount's domain also carry
//!   `parent-signature`, the same HMAC under the primary account's key; either
//!   verifies. The body itself is not covered by the HMAC: Mailgun signs only
//!   the token and the timestamp (checked in their documentation, 2026), so the
//!   timestamp window is what limits a replay. Mailgun's page says to check
//!   "that the timestamp is not too far from the current time", optionally,
//!   without a figure, and warns that delivery delays outside its control make
//!   an aggressive check unwise; flowgate uses ±5 minutes (overridable per
//!   route with `tolerance_secs`). Event: `event-data.event`; delivery id:
//!   `event-data.id:event-data.timestamp` (Mailgun's ids are unique within a day).
//! - **Figma** webhooks V2 (<https://developers.figma.com/docs/rest-api/webhooks-security>):
//!   the `passcode` chosen when the webhook was created is echoed in every
//!   event body; it is compared in constant time with the route's secret.
//!   Event: `event_type` (`PING` on creation, `FILE_UPDATE`, ...). Figma sends
//!   no delivery id, and none is made up (`<webhook_id>:<timestamp>` collides
//!   for two events in one second). Figma asks
//!   receivers to answer 400 to a wrong passcode (it stops the webhook); that
//!   status is the Worker's choice, not this module's.
//! - **Microsoft Graph** change notifications
//!   (<https://learn.microsoft.com/graph/change-notifications-delivery-webhooks>):
//!   `{"value": [{"clientState": ..., ...}, ...]}`; Graph's changeNotification
//!   reference says to compare each notification's `clientState` with the
//!   value given at subscription, so every one must equal one of the route's
//!   secrets. Event: `value[0].changeType` (or `value[0].lifecycleEvent` for
//!   lifecycle notifications); no delivery id: `subscriptionId` names the
//!   subscription, not one delivery, and Graph's notification `id` is
//!   optional. The validation handshake (`?validationToken=`)
//!   is answered before verification, by `handshake.rs`; the `validationTokens`
//!   JWTs of rich notifications are not checked here.
//!
//! The body has to be read before anything is verified (the proof is in
//! it), so nothing more of it is read than the scheme needs, and that work is
//! bounded (issue #11): the body is never built into a `serde_json::Value`.
//! A visitor picks out the few fields the scheme needs and skips everything
//! else (`serde::de::IgnoredAny`, which serde_json skips without allocating);
//! JSON nested deeper than [`MAX_NESTING`] and Graph batches of more than
//! [`MAX_GRAPH_NOTIFICATIONS`] are refused before any comparison; a string
//! too long to be the proof (longer than every route secret, or than any
//! Mailgun token or signature) is not kept. What is allocated is a few
//! strings, at most the body's size in all. These senders also get a smaller
//! default `max_body_bytes` ([`body_proof_max_body_bytes`]). Measured in
//! `tests/bounded_memory.rs`.

use std::{borrow::Cow, fmt};

use hmac::{Hmac, Mac};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use sha2::Sha256;

use super::{check_window, parse_unix_secs, scheme::Field, Inbound, Labels, Proof, Scheme, Verified, VerifyError};
use crate::{
    headers::Headers,
    secret::{ct_eq, Secret},
};

/// Mailgun's default replay window, seconds (see the module docs).
pub const MAILGUN_TOLERANCE_SECS: u64 = 5 * 60;

/// Deepest JSON nesting read before verification. Real bodies nest a few
/// levels (Graph's `resourceData`, Mailgun's `delivery-status`); serde_json's
/// own limit for typed parsing is 128, but the skipping of unknown content
/// keeps one byte per open bracket, so a 10 MiB `[[[[…` would hold 10 MiB:
/// a plain scan refuses it first, without allocating.
pub const MAX_NESTING: usize = 64;

/// Most notifications in one Microsoft Graph request. Graph batches change
/// notifications into `value` but documents no maximum (changeNotification
/// and webhook-delivery references, 2026); the batches seen are a handful to
/// a few dozen. 1,000 is far above that, and bounds the per-notification
/// work (a comparison with every secret) of an unsigned body.
pub const MAX_GRAPH_NOTIFICATIONS: usize = 1000;

/// Longest Mailgun `timestamp`, `token` or `signature` kept: the token is 50
/// characters and the signature 64 hex digits (Mailgun's securing-webhooks
/// page); anything longer is not Mailgun's and is treated as absent.
const MAX_MAILGUN_FIELD: usize = 512;

/// Default `max_body_bytes` of the senders whose proof is inside the body
/// (`None` for every other sender: the global default applies). Their bodies
/// are parsed before verification, so the cap is kept near what they send:
/// Mailgun's and Figma's events are a few KiB, so 1 MiB; Graph's rich
/// notifications carry encrypted resource data, several per batch, so 4 MiB.
/// A route can still set any `max_body_bytes` up to the global limit.
pub fn body_proof_max_body_bytes(scheme: &Scheme) -> Option<u64> {
    const MIB: u64 = 1024 * 1024;
    match scheme {
        Scheme::Mailgun | Scheme::Figma | Scheme::DropboxSign => Some(MIB),
        Scheme::MsGraph => Some(4 * MIB),
        // Adyen's notification is parsed before its items' HMACs are checked
        // (the module's own bound, answered 413 before the body is parsed).
        Scheme::Adyen => Some(super::adyen::MAX_BODY_BYTES as u64),
        _ => None,
    }
}

/// A dotted path into a JSON value, as text (strings as-is, numbers written
/// out); numeric segments index arrays (`value.0.changeType`).
pub(super) fn json_path(v: &Value, path: &str) -> Option<String> {
    let mut cur = v;
    for key in path.split('.') {
        cur = match cur {
            Value::Array(items) => items.get(key.parse::<usize>().ok()?)?,
            other => other.get(key)?,
        };
    }
    match cur {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// [`json_path`] straight from the body's bytes, without building a
/// `serde_json::Value`: one streaming pass that keeps only the values at the
/// paths (everything else is skipped with `IgnoredAny`), after the nesting
/// check. Labels are read this way for every sender — also after
/// verification, since a static credential (a token, Basic credentials)
/// does not bind the body, and a parsed `Value` costs many times the body.
/// A later duplicate key wins, as in `serde_json::Value`.
pub(super) fn json_path_in(body: &[u8], path: &str) -> Option<String> {
    json_paths_in(body, &[path]).pop().flatten()
}

/// [`json_path_in`] for several paths in one pass; one answer per path.
pub(super) fn json_paths_in(body: &[u8], paths: &[&str]) -> Vec<Option<String>> {
    let out = std::cell::RefCell::new(vec![None; paths.len()]);
    if !nesting_within(body, MAX_NESTING) {
        return out.into_inner();
    }
    let split: Vec<Vec<&str>> = paths.iter().map(|p| p.split('.').collect()).collect();
    let active: Vec<(usize, &[&str])> = split.iter().enumerate().map(|(i, p)| (i, p.as_slice())).collect();
    let mut d = serde_json::Deserializer::from_slice(body);
    let read = PathsSeed { paths: active, out: &out }.deserialize(&mut d).and_then(|()| d.end());
    if read.is_err() {
        // Not one whole JSON document: no labels, as a failed parse gives none.
        return vec![None; paths.len()];
    }
    out.into_inner()
}

/// The paths still being followed (result index, remaining segments), and
/// where their values go.
struct PathsSeed<'a, 'p> {
    paths: Vec<(usize, &'p [&'p str])>,
    out: &'a std::cell::RefCell<Vec<Option<String>>>,
}

impl PathsSeed<'_, '_> {
    /// Paths that end at this value get `text`.
    fn ended(&self, text: Option<String>) {
        let mut out = self.out.borrow_mut();
        for (i, rest) in &self.paths {
            if rest.is_empty() {
                out[*i] = text.clone();
            }
        }
    }

    /// The paths that continue through `key`, one segment shorter.
    fn through(&self, key: &str) -> Vec<(usize, &'_ [&'_ str])> {
        self.paths
            .iter()
            .filter_map(|(i, rest)| rest.split_first().filter(|(h, _)| **h == key).map(|(_, t)| (*i, t)))
            .collect()
    }
}

impl<'de> DeserializeSeed<'de> for PathsSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if self.paths.iter().all(|(_, rest)| rest.is_empty()) {
            let leaf = LeafSeed(usize::MAX).deserialize(d)?;
            self.ended(leaf.text());
            return Ok(());
        }
        d.deserialize_any(self)
    }
}

/// An object key, borrowed when the parser can lend it.
struct KeyText;

impl<'de> DeserializeSeed<'de> for KeyText {
    type Value = Cow<'de, str>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_identifier(self)
    }
}

impl<'de> Visitor<'de> for KeyText {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
}

impl<'de> Visitor<'de> for PathsSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.ended(None);
        while let Some(key) = map.next_key_seed(KeyText)? {
            let next = self.through(&key);
            if next.is_empty() {
                map.next_value::<IgnoredAny>()?;
            } else {
                map.next_value_seed(PathsSeed { paths: next, out: self.out })?;
            }
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.ended(None);
        let mut index = 0usize;
        loop {
            let next = self.through(&index.to_string());
            let more = if next.is_empty() {
                seq.next_element::<IgnoredAny>()?.is_some()
            } else {
                seq.next_element_seed(PathsSeed { paths: next, out: self.out })?.is_some()
            };
            if !more {
                return Ok(());
            }
            index += 1;
        }
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<(), E> {
        self.ended(Some(v.to_owned()));
        Ok(())
    }
    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.ended(Some(v.to_owned()));
        Ok(())
    }
    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        self.ended(Some(serde_json::Number::from(v).to_string()));
        Ok(())
    }
    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        self.ended(Some(serde_json::Number::from(v).to_string()));
        Ok(())
    }
    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        self.ended(serde_json::Number::from_f64(v).map(|n| n.to_string()));
        Ok(())
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        self.ended(None);
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        self.ended(None);
        Ok(())
    }
}

/// The event type and delivery id where `event` and `delivery` say they
/// are (the first found of each), the body read at most once and only if a
/// label lives in it ([`json_paths_in`]: no `Value` is built).
pub(super) fn labels_of(event: &[Field], delivery: &[Field], headers: &Headers, body: &[u8]) -> Labels {
    let paths: Vec<&str> = event
        .iter()
        .chain(delivery)
        .filter_map(|f| match f {
            Field::Json(p) => Some(p.as_ref()),
            Field::Header(_) => None,
        })
        .collect();
    let found = if paths.is_empty() { Vec::new() } else { json_paths_in(body, &paths) };
    let label = |fields: &[Field]| {
        fields.iter().find_map(|f| match f {
            Field::Header(h) => headers.get(h).map(str::to_owned),
            Field::Json(p) => paths.iter().position(|q| q == p).and_then(|i| found[i].clone()),
        })
    };
    Labels { event_type: label(event), delivery_id: label(delivery) }
}

// ---------------------------------------------------------------------------
// Reading only what the scheme needs.

/// True when no bracket in `body` (outside strings) opens deeper than `max`.
/// One pass, no allocation; not a JSON validator (the parse that follows is).
fn nesting_within(body: &[u8], max: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in body {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return false;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    true
}

/// One JSON value where the scheme expects a string or a number.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Leaf<'de> {
    /// A string, borrowed from the body when it has no escapes.
    Str(Cow<'de, str>),
    /// A number, written as `serde_json::Value` writes it (so labels read
    /// here equal those of [`json_path`]).
    Num(String),
    /// A string longer than the reader's cap: not kept.
    Long,
    /// `null`, a boolean, an array or an object: skipped, not kept.
    Other,
}

impl Leaf<'_> {
    /// The string, if the value is one (and was kept).
    fn as_str(&self) -> Option<&str> {
        match self {
            Leaf::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A string or a number as text, as [`json_path`] gives it.
    fn text(&self) -> Option<String> {
        match self {
            Leaf::Str(s) => Some(s.clone().into_owned()),
            Leaf::Num(n) => Some(n.clone()),
            Leaf::Long | Leaf::Other => None,
        }
    }
}

/// Reads one value as a [`Leaf`], keeping strings of at most `0` bytes.
#[derive(Clone, Copy)]
struct LeafSeed(usize);

impl<'de> DeserializeSeed<'de> for LeafSeed {
    type Value = Leaf<'de>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Leaf<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for LeafSeed {
    type Value = Leaf<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Leaf<'de>, E> {
        Ok(if v.len() > self.0 { Leaf::Long } else { Leaf::Str(Cow::Borrowed(v)) })
    }
    fn visit_str<E>(self, v: &str) -> Result<Leaf<'de>, E> {
        // The length is checked before anything is copied.
        Ok(if v.len() > self.0 { Leaf::Long } else { Leaf::Str(Cow::Owned(v.to_owned())) })
    }
    fn visit_u64<E>(self, v: u64) -> Result<Leaf<'de>, E> {
        Ok(Leaf::Num(serde_json::Number::from(v).to_string()))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Leaf<'de>, E> {
        Ok(Leaf::Num(serde_json::Number::from(v).to_string()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Leaf<'de>, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Leaf::Other, |n| Leaf::Num(n.to_string())))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Leaf<'de>, E> {
        Ok(Leaf::Other)
    }
    fn visit_unit<E>(self) -> Result<Leaf<'de>, E> {
        Ok(Leaf::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Leaf<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Leaf::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Leaf<'de>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Leaf::Other)
    }
}

/// An object key: its position in a list of wanted names, or `None`.
/// Compared as the parser hands it over; never copied.
struct KeySeed(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Option<usize>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        d.deserialize_identifier(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Option<usize>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E>(self, v: &str) -> Result<Option<usize>, E> {
        Ok(self.0.iter().position(|n| *n == v))
    }
}

/// What to do with the value of each wanted key of an object.
trait Picker<'de> {
    /// The wanted keys.
    const KEYS: &'static [&'static str];
    /// Reads the value of key `KEYS[index]` (a later duplicate key replaces
    /// an earlier one, as in `serde_json::Value`).
    fn pick<A: MapAccess<'de>>(&mut self, index: usize, map: &mut A) -> Result<(), A::Error>;
}

/// Reads an object into a [`Picker`], skipping every other key. Anything
/// other than an object is skipped too and leaves the picker empty, as
/// `Value::get` on a non-object finds nothing.
struct Object<P>(P);

impl<'de, P: Picker<'de>> DeserializeSeed<'de> for Object<P> {
    type Value = (P, bool);
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(P, bool), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, P: Picker<'de>> Visitor<'de> for Object<P> {
    /// The picker, and whether the value was an object.
    type Value = (P, bool);
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(P, bool), A::Error> {
        while let Some(key) = map.next_key_seed(KeySeed(P::KEYS))? {
            match key {
                Some(index) => self.0.pick(index, &mut map)?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok((self.0, true))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(P, bool), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok((self.0, false))
    }
    fn visit_borrowed_str<E>(self, _: &'de str) -> Result<(P, bool), E> {
        Ok((self.0, false))
    }
    fn visit_str<E>(self, _: &str) -> Result<(P, bool), E> {
        Ok((self.0, false))
    }
    fn visit_u64<E>(self, _: u64) -> Result<(P, bool), E> {
        Ok((self.0, false))
    }
    fn visit_i64<E>(self, _: i64) -> Result<(P, bool), E> {
        Ok((self.0, false))
    }
    fn visit_f64<E>(self, _: f64) -> Result<(P, bool), E> {
        Ok((self.0, false))
    }
    fn visit_bool<E>(self, _: bool) -> Result<(P, bool), E> {
        Ok((self.0, false))
    }
    fn visit_unit<E>(self) -> Result<(P, bool), E> {
        Ok((self.0, false))
    }
}

/// Several leaves of one object, by position in `KEYS`, each kept up to
/// the cap of the same position.
struct Leaves<'de, const N: usize> {
    keys: &'static [&'static str],
    caps: [usize; N],
    found: [Option<Leaf<'de>>; N],
}

/// Parses `body` (a whole JSON document) with `seed`: nesting checked
/// first, trailing bytes refused. `None` for anything that is not JSON of
/// the expected shape; `over` when the nesting is too deep.
fn read<'de, S: DeserializeSeed<'de>>(body: &'de [u8], seed: S) -> Result<S::Value, ReadError> {
    if !nesting_within(body, MAX_NESTING) {
        return Err(ReadError::TooDeep);
    }
    let mut d = serde_json::Deserializer::from_slice(body);
    let v = seed.deserialize(&mut d).map_err(|_| ReadError::NotJson)?;
    d.end().map_err(|_| ReadError::NotJson)?;
    Ok(v)
}

/// Why a body could not be read.
enum ReadError {
    /// Nested deeper than [`MAX_NESTING`].
    TooDeep,
    /// Not JSON (or stopped by a bound the seed checks).
    NotJson,
}

impl ReadError {
    fn into_verify(self, field: &'static str) -> VerifyError {
        match self {
            ReadError::TooDeep => VerifyError::BodyOverLimit("JSON nested more than 64 levels"),
            ReadError::NotJson => VerifyError::MalformedHeader(field.into()),
        }
    }
}

macro_rules! leaves_picker {
    ($name:ident, $n:literal, [$($key:literal),+]) => {
        struct $name<'de>(Leaves<'de, $n>);
        impl<'de> $name<'de> {
            fn new(caps: [usize; $n]) -> Self {
                Self(Leaves { keys: Self::KEYS, caps, found: Default::default() })
            }
            fn get(&self, key: &str) -> Option<&Leaf<'de>> {
                self.0.keys.iter().position(|k| *k == key).and_then(|i| self.0.found[i].as_ref())
            }
        }
        impl<'de> Picker<'de> for $name<'de> {
            const KEYS: &'static [&'static str] = &[$($key),+];
            fn pick<A: MapAccess<'de>>(&mut self, index: usize, map: &mut A) -> Result<(), A::Error> {
                self.0.found[index] = Some(map.next_value_seed(LeafSeed(self.0.caps[index]))?);
                Ok(())
            }
        }
    };
}

// Mailgun's `signature` object and the labels in `event-data`.
leaves_picker!(MailgunSignature, 4, ["timestamp", "token", "signature", "parent-signature"]);
leaves_picker!(MailgunEvent, 3, ["event", "id", "timestamp"]);
// Figma's top-level fields.
leaves_picker!(FigmaFields, 2, ["passcode", "event_type"]);
// One Graph notification.
leaves_picker!(GraphNotification, 3, ["clientState", "changeType", "lifecycleEvent"]);

/// The top level of a Mailgun body.
#[derive(Default)]
struct MailgunBody<'de> {
    signature: Option<(MailgunSignature<'de>, bool)>,
    event: Option<MailgunEvent<'de>>,
}

impl<'de> Picker<'de> for MailgunBody<'de> {
    const KEYS: &'static [&'static str] = &["signature", "event-data"];
    fn pick<A: MapAccess<'de>>(&mut self, index: usize, map: &mut A) -> Result<(), A::Error> {
        if index == 0 {
            let caps = [MAX_MAILGUN_FIELD; 4];
            self.signature = Some(map.next_value_seed(Object(MailgunSignature::new(caps)))?);
        } else {
            self.event = Some(map.next_value_seed(Object(MailgunEvent::new([usize::MAX; 3])))?.0);
        }
        Ok(())
    }
}

impl Default for MailgunEvent<'_> {
    fn default() -> Self {
        Self::new([usize::MAX; 3])
    }
}

fn text_of(leaf: Option<&Leaf<'_>>) -> Option<String> {
    leaf.and_then(Leaf::text)
}

fn mailgun_mac(key: &[u8], timestamp: &str, token: &str) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    m.update(timestamp.as_bytes());
    m.update(token.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// The `signature` object Mailgun sends with `timestamp` and `token`, keyed
/// by `secret` (for `flowgate send` and tests).
pub fn mailgun_signature(secret: &Secret, timestamp: u64, token: &str) -> Value {
    let ts = timestamp.to_string();
    let sig = hex::encode(mailgun_mac(secret.expose().as_bytes(), &ts, token));
    serde_json::json!({ "timestamp": ts, "token": token, "signature": sig })
}

pub(super) fn verify_mailgun<'a>(
    provider: &'static str,
    tolerance_override: Option<u64>,
    secrets: &[Secret],
    inbound: Inbound<'a>,
) -> Result<Verified<'a>, VerifyError> {
    const FIELD: &str = "signature";
    let (body, _) = read(inbound.body, Object(MailgunBody::default())).map_err(|e| e.into_verify(FIELD))?;
    let (sig, _) = body.signature.ok_or(VerifyError::MissingHeader(FIELD.into()))?;
    let malformed = || VerifyError::MalformedHeader(FIELD.into());
    let ts_text = text_of(sig.get("timestamp")).ok_or_else(malformed)?;
    let token = sig.get("token").and_then(Leaf::as_str).filter(|t| !t.is_empty()).ok_or_else(malformed)?;
    let ts = parse_unix_secs(&ts_text).ok_or_else(malformed)?;
    let candidates: Vec<Vec<u8>> = ["signature", "parent-signature"]
        .iter()
        .filter_map(|k| sig.get(k).and_then(Leaf::as_str))
        .filter_map(|s| hex::decode(s.trim()).ok())
        .filter(|s| !s.is_empty())
        .collect();
    if candidates.is_empty() {
        return Err(malformed());
    }
    let macs: Vec<Vec<u8>> = secrets.iter().map(|s| mailgun_mac(s.expose().as_bytes(), &ts_text, token)).collect();
    let hits: Vec<bool> = macs.iter().map(|m| candidates.iter().fold(false, |hit, c| ct_eq(m, c) | hit)).collect();
    let secret_index = hits.iter().position(|h| *h).ok_or(VerifyError::SignatureMismatch)?;
    check_window(ts, inbound.now_secs, tolerance_override.unwrap_or(MAILGUN_TOLERANCE_SECS))?;
    let event = body.event.unwrap_or_default();
    // Mailgun's event ids are "unique within a day": qualified by the event's
    // own timestamp, as `mailgun_labels` does.
    let delivery_id = match (text_of(event.get("id")), text_of(event.get("timestamp"))) {
        (Some(id), Some(ts)) => Some(format!("{id}:{ts}")),
        _ => None,
    };
    let labels = Labels { event_type: text_of(event.get("event")), delivery_id };
    // Mailgun signs timestamp‖token, not the body: the proof names the token,
    // and the route ledger refuses it on any other body (a replay).
    let proof = Proof::of_mac(&macs[secret_index]);
    Ok(Verified::labelled(provider, secret_index, inbound.body, labels).with_proof(proof))
}

/// Mailgun's `event-data.event` and `event-data.id`, from a parsed body
/// (dry runs; [`verify_mailgun`] reads the same fields without a `Value`).
pub(super) fn mailgun_labels(body: &Value) -> Labels {
    // Mailgun's event ids are "unique within a day" (event structure docs),
    // and the dedupe window is 72 h: the id is qualified by the event's own
    // timestamp, which a retry keeps.
    let delivery_id = match (json_path(body, "event-data.id"), json_path(body, "event-data.timestamp")) {
        (Some(id), Some(ts)) => Some(format!("{id}:{ts}")),
        _ => None,
    };
    Labels { event_type: json_path(body, "event-data.event"), delivery_id }
}

/// The longest of the route's secrets, in bytes: a longer value in the body
/// cannot equal any of them, so it is not kept.
fn longest(secrets: &[Secret]) -> usize {
    secrets.iter().map(|s| s.expose().len()).max().unwrap_or(0)
}

/// Compares `given` with every secret (no early exit); the first match.
fn matching_secret(secrets: &[Secret], given: &str) -> Option<usize> {
    let hits: Vec<bool> = secrets.iter().map(|s| ct_eq(s.expose().as_bytes(), given.as_bytes())).collect();
    hits.iter().position(|h| *h)
}

pub(super) fn verify_figma<'a>(
    provider: &'static str,
    secrets: &[Secret],
    inbound: Inbound<'a>,
) -> Result<Verified<'a>, VerifyError> {
    const FIELD: &str = "passcode";
    let caps = [longest(secrets), usize::MAX];
    let (body, _) = read(inbound.body, Object(FigmaFields::new(caps))).map_err(|e| e.into_verify(FIELD))?;
    let secret_index = match body.get(FIELD).ok_or(VerifyError::MissingHeader(FIELD.into()))? {
        Leaf::Str(given) => matching_secret(secrets, given).ok_or(VerifyError::SignatureMismatch)?,
        // Longer than every secret: it cannot match.
        Leaf::Long => return Err(VerifyError::SignatureMismatch),
        Leaf::Num(_) | Leaf::Other => return Err(VerifyError::MalformedHeader(FIELD.into())),
    };
    // No delivery id (see `figma_labels`).
    let labels = Labels { event_type: text_of(body.get("event_type")), delivery_id: None };
    Ok(Verified::labelled(provider, secret_index, inbound.body, labels))
}

/// Figma's `event_type` (and no delivery id), from a parsed body (dry runs;
/// [`verify_figma`] reads the same field without a `Value`).
pub(super) fn figma_labels(body: &Value) -> Labels {
    // No delivery id: webhook_id names the webhook (a whole team or project)
    // and timestamps are whole seconds, so two events in one second collided.
    Labels { event_type: json_path(body, "event_type"), delivery_id: None }
}

/// What the Graph notifications said, read one at a time: each
/// `clientState` is compared when it is read and dropped.
struct GraphState<'s> {
    secrets: &'s [Secret],
    /// Notifications seen.
    count: usize,
    /// Set when `value` holds more than [`MAX_GRAPH_NOTIFICATIONS`].
    over: bool,
    /// The first notification's failure, in order.
    first_error: Option<VerifyError>,
    /// The secret the first notification matched.
    first_match: Option<usize>,
    labels: Labels,
}

/// Reads `value`'s notifications into a [`GraphState`].
struct GraphList<'a, 's>(&'a mut GraphState<'s>);

impl<'de> DeserializeSeed<'de> for GraphList<'_, '_> {
    type Value = bool;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for GraphList<'_, '_> {
    /// Whether `value` was an array.
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        let st = self.0;
        let caps = [longest(st.secrets), usize::MAX, usize::MAX];
        while let Some((n, _)) = seq.next_element_seed(Object(GraphNotification::new(caps)))? {
            st.count += 1;
            if st.count > MAX_GRAPH_NOTIFICATIONS {
                // Stop reading here: the rest of the body is not looked at.
                st.over = true;
                return Err(de::Error::custom("too many notifications"));
            }
            const FIELD: &str = "clientState";
            let verdict = match n.get(FIELD) {
                None => Err(VerifyError::MissingHeader(FIELD.into())),
                Some(Leaf::Str(state)) => matching_secret(st.secrets, state).ok_or(VerifyError::SignatureMismatch),
                Some(Leaf::Long) => Err(VerifyError::SignatureMismatch),
                Some(Leaf::Num(_) | Leaf::Other) => Err(VerifyError::MalformedHeader(FIELD.into())),
            };
            if st.count == 1 {
                st.labels = Labels {
                    event_type: text_of(n.get("changeType")).or_else(|| text_of(n.get("lifecycleEvent"))),
                    // No delivery id (see `msgraph_labels`).
                    delivery_id: None,
                };
            }
            match verdict {
                Ok(index) => {
                    st.first_match.get_or_insert(index);
                }
                Err(e) => {
                    st.first_error.get_or_insert(e);
                }
            }
        }
        Ok(true)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(false)
    }
    fn visit_borrowed_str<E>(self, _: &'de str) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_str<E>(self, _: &str) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_u64<E>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_i64<E>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_f64<E>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_bool<E>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_unit<E>(self) -> Result<bool, E> {
        Ok(false)
    }
}

/// The top level of a Graph body: only `value` is read.
struct GraphBody<'a, 's> {
    state: &'a mut GraphState<'s>,
    /// `Some(is_array)` once `value` was seen.
    value: Option<bool>,
}

impl<'de> Picker<'de> for GraphBody<'_, '_> {
    const KEYS: &'static [&'static str] = &["value"];
    fn pick<A: MapAccess<'de>>(&mut self, _: usize, map: &mut A) -> Result<(), A::Error> {
        // A later `value` replaces an earlier one, as in `serde_json::Value`.
        *self.state = GraphState::new(self.state.secrets);
        self.value = Some(map.next_value_seed(GraphList(self.state))?);
        Ok(())
    }
}

impl<'s> GraphState<'s> {
    fn new(secrets: &'s [Secret]) -> Self {
        Self { secrets, count: 0, over: false, first_error: None, first_match: None, labels: Labels::default() }
    }
}

pub(super) fn verify_msgraph<'a>(
    provider: &'static str,
    secrets: &[Secret],
    inbound: Inbound<'a>,
) -> Result<Verified<'a>, VerifyError> {
    const FIELD: &str = "value";
    let mut state = GraphState::new(secrets);
    let value = read(inbound.body, Object(GraphBody { state: &mut state, value: None })).map(|(b, _)| b.value);
    if state.over {
        return Err(VerifyError::BodyOverLimit("more than 1000 Microsoft Graph notifications"));
    }
    if value.map_err(|e| e.into_verify(FIELD))? != Some(true) || state.count == 0 {
        return Err(VerifyError::MalformedHeader(FIELD.into()));
    }
    if let Some(e) = state.first_error {
        return Err(e);
    }
    let secret_index = state.first_match.ok_or(VerifyError::SignatureMismatch)?;
    Ok(Verified::labelled(provider, secret_index, inbound.body, state.labels))
}

/// The first notification's `changeType` (or `lifecycleEvent`) and
/// `subscriptionId`, from a parsed body (dry runs).
pub(super) fn msgraph_labels(body: &Value) -> Labels {
    Labels {
        event_type: json_path(body, "value.0.changeType").or_else(|| json_path(body, "value.0.lifecycleEvent")),
        // No delivery id: subscriptionId names the subscription (every
        // notification of it shares it), and a notification's own `id` is
        // "Optional" (learn.microsoft.com/graph/api/resources/changenotification).
        delivery_id: None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::verify::{find_provider, verify};

    const NOW: u64 = 1_700_000_000;
    const KEY: &str = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0";

    fn run(name: &str, secrets: &[&str], body: &[u8], now: u64) -> Result<Verified<'static>, VerifyError> {
        let p = find_provider(name).unwrap();
        let secrets: Vec<Secret> = secrets.iter().map(|s| Secret::new(*s)).collect();
        let body: &'static [u8] = Box::leak(body.to_vec().into_boxed_slice());
        let headers: &'static Headers = Box::leak(Box::new(Headers::new()));
        verify(p, &p.scheme(), None, &secrets, Inbound::post(headers, body, now))
    }

    fn mailgun_body(sig: &Value) -> Vec<u8> {
        json!({"signature": sig, "event-data": {"event": "delivered", "id": "CPgfbmQMTCKtHW6uIWtuVe", "timestamp": 1521472262.908181}})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn json_paths_index_arrays_and_write_numbers() {
        let v = json!({"value": [{"changeType": "created", "n": 7}], "a": {"b": "c"}});
        assert_eq!(json_path(&v, "value.0.changeType").as_deref(), Some("created"));
        assert_eq!(json_path(&v, "value.0.n").as_deref(), Some("7"));
        assert_eq!(json_path(&v, "a.b").as_deref(), Some("c"));
        for missing in ["value.1.changeType", "value.x", "a.b.c", "a", "nope"] {
            assert_eq!(json_path(&v, missing), None, "{missing}");
        }
    }

    #[test]
    fn mailgun_round_trip_and_labels() {
        let sig = mailgun_signature(&Secret::new(KEY), NOW, "e0b5477167110d68991efc6b9f89f0a11066af27834600e123");
        let v = run("mailgun", &[KEY], &mailgun_body(&sig), NOW).unwrap();
        assert_eq!(v.event_type(), Some("delivered"));
        // Mailgun's ids are unique within a day: qualified by the event's timestamp.
        assert_eq!(v.delivery_id(), Some("CPgfbmQMTCKtHW6uIWtuVe:1521472262.908181"));
        // The HMAC is hex of HMAC-SHA256(key, timestamp ‖ token), as Mailgun's Node sample computes it.
        let mut m = Hmac::<Sha256>::new_from_slice(KEY.as_bytes()).unwrap();
        m.update(format!("{NOW}e0b5477167110d68991efc6b9f89f0a11066af27834600e123").as_bytes());
        assert_eq!(sig["signature"], hex::encode(m.finalize().into_bytes()));
    }

    #[test]
    fn mailgun_rejects_every_mutation() {
        let token = "e0b5477167110d68991efc6b9f89f0a11066af27834600e123";
        let good = mailgun_signature(&Secret::new(KEY), NOW, token);
        let with = |k: &str, v: Value| {
            let mut s = good.clone();
            s[k] = v;
            mailgun_body(&s)
        };
        let sig = good["signature"].as_str().unwrap().to_owned();
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("token changed", with("token", json!(format!("{token}x")))),
            ("timestamp changed", with("timestamp", json!((NOW + 1).to_string()))),
            ("signature truncated", with("signature", json!(sig[..sig.len() - 2]))),
            ("signature changed", with("signature", json!(format!("{}0", &sig[..sig.len() - 1])))),
            ("signature missing", {
                let mut s = good.clone();
                s.as_object_mut().unwrap().remove("signature");
                mailgun_body(&s)
            }),
            ("no signature object", br#"{"event-data":{"event":"delivered"}}"#.to_vec()),
            ("not JSON", b"timestamp=1&token=2&signature=3".to_vec()),
        ];
        for (what, body) in cases {
            assert!(run("mailgun", &[KEY], &body, NOW).is_err(), "{what} accepted");
        }
        assert_eq!(
            run("mailgun", &["other-key"], &mailgun_body(&good), NOW).unwrap_err(),
            VerifyError::SignatureMismatch
        );
        // ±5 minutes: inside passes, just outside fails each way.
        assert!(run("mailgun", &[KEY], &mailgun_body(&good), NOW + 300).is_ok());
        assert_eq!(run("mailgun", &[KEY], &mailgun_body(&good), NOW + 301).unwrap_err(), VerifyError::TimestampTooOld);
        assert_eq!(
            run("mailgun", &[KEY], &mailgun_body(&good), NOW - 301).unwrap_err(),
            VerifyError::TimestampInFuture
        );
    }

    #[test]
    fn mailgun_accepts_the_parent_signature_and_numeric_timestamps() {
        let token = "tok-0123456789";
        let parent = mailgun_signature(&Secret::new("parent-key"), NOW, token);
        let mut sig = mailgun_signature(&Secret::new("subaccount-key"), NOW, token);
        sig["parent-signature"] = parent["signature"].clone();
        let v = run("mailgun", &["parent-key"], &mailgun_body(&sig), NOW).unwrap();
        assert_eq!(v.secret_index(), 0);
        sig["timestamp"] = json!(NOW);
        assert!(run("mailgun", &["unrelated", "subaccount-key"], &mailgun_body(&sig), NOW).is_ok());
    }

    fn figma(passcode: Value) -> Vec<u8> {
        json!({"event_type": "FILE_UPDATE", "file_key": "CL06nJNn5eZLQKDoARMND5", "passcode": passcode,
               "timestamp": "2020-02-23T20:27:16Z", "webhook_id": "22"})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn figma_passcode_is_compared_exactly() {
        let v = run("figma", &["old-passcode", "secretpasscode"], &figma(json!("secretpasscode")), NOW).unwrap();
        assert_eq!(v.secret_index(), 1);
        assert_eq!(v.event_type(), Some("FILE_UPDATE"));
        // webhook_id:timestamp collided for two events in one second: no id.
        assert_eq!(v.delivery_id(), None);
        for bad in [json!("secretpasscod"), json!("secretpasscodeX"), json!("SECRETPASSCODE"), json!(""), json!(12)] {
            assert!(run("figma", &["secretpasscode"], &figma(bad.clone()), NOW).is_err(), "{bad}");
        }
        let missing = br#"{"event_type":"PING","webhook_id":22}"#;
        assert_eq!(
            run("figma", &["secretpasscode"], missing, NOW).unwrap_err(),
            VerifyError::MissingHeader("passcode".into())
        );
        assert!(run("figma", &["secretpasscode"], b"passcode=secretpasscode", NOW).is_err());
    }

    fn graph(states: &[&str]) -> Vec<u8> {
        let value: Vec<Value> = states
            .iter()
            .map(|s| {
                json!({"subscriptionId": "7f105c7d-2dc5-4530-97cd-4e7ae6534c07", "clientState": s,
                            "changeType": "created", "resource": "Users/x/Messages/y", "tenantId": "t"})
            })
            .collect();
        json!({ "value": value }).to_string().into_bytes()
    }

    #[test]
    fn msgraph_requires_every_client_state() {
        let v =
            run("msgraph", &["secretClientValue"], &graph(&["secretClientValue", "secretClientValue"]), NOW).unwrap();
        assert_eq!(v.event_type(), Some("created"));
        // subscriptionId names the subscription, not the notification: no id.
        assert_eq!(v.delivery_id(), None);
        // Rotation: each notification may carry either configured value.
        assert!(run("msgraph", &["old", "new"], &graph(&["old", "new"]), NOW).is_ok());
        for bad in [&["secretClientValue", "wrong"][..], &["wrong", "secretClientValue"], &["secretClientValu"], &[]] {
            assert!(run("msgraph", &["secretClientValue"], &graph(bad), NOW).is_err(), "{bad:?}");
        }
        let missing = br#"{"value":[{"changeType":"created"}]}"#;
        assert_eq!(run("msgraph", &["s"], missing, NOW).unwrap_err(), VerifyError::MissingHeader("clientState".into()));
        let lifecycle = json!({"value": [{"lifecycleEvent": "reauthorizationRequired", "clientState": "s"}]});
        let v = run("msgraph", &["s"], lifecycle.to_string().as_bytes(), NOW).unwrap();
        assert_eq!(v.event_type(), Some("reauthorizationRequired"));
    }

    /// What `verify` labels a request with, next to what the dry run's
    /// `Value`-based reading gives.
    fn both_labels(name: &str, secret: &str, body: &[u8]) -> (Labels, Labels) {
        let v = run(name, &[secret], body, NOW)
            .unwrap_or_else(|e| panic!("{name}: {e}: {}", String::from_utf8_lossy(body)));
        let typed =
            Labels { event_type: v.event_type().map(str::to_owned), delivery_id: v.delivery_id().map(str::to_owned) };
        let value: Value = serde_json::from_slice(body).unwrap();
        let dry = match name {
            "mailgun" => mailgun_labels(&value),
            "figma" => figma_labels(&value),
            _ => msgraph_labels(&value),
        };
        (typed, dry)
    }

    #[test]
    fn json_paths_read_from_bytes_equal_those_of_a_parsed_value() {
        let body = br#"{"a":{"b":[{"c":"x"},{"c":7,"d":1.5}],"e":"\u00e9"},"a2":null,"dup":"1","dup":"2","0":{"k":"v"},"n":-3}"#;
        let value: Value = serde_json::from_slice(body).unwrap();
        for path in
            ["a.b.0.c", "a.b.1.c", "a.b.1.d", "a.e", "a2", "dup", "0.k", "n", "a.b.2.c", "a.b", "missing", "a.b.x"]
        {
            assert_eq!(json_path_in(body, path), json_path(&value, path), "{path}");
        }
        assert_eq!(json_path_in(br#"[{"event":"dropped"}]"#, "0.event").as_deref(), Some("dropped"));
        let paths = ["a.b.0.c", "a.b.1.c", "dup", "missing", "a.e"];
        let many = json_paths_in(body, &paths);
        assert_eq!(many, paths.iter().map(|p| json_path(&value, p)).collect::<Vec<_>>());
        assert_eq!(json_path_in(b"not json", "a"), None);
        assert_eq!(json_path_in(br#"{"a":"x"} trailing"#, "a"), None);
        let deep = format!("{}{}", "[".repeat(65), "]".repeat(65));
        assert_eq!(json_path_in(deep.as_bytes(), "0"), None);
    }

    #[test]
    fn labels_read_without_a_value_equal_the_dry_runs() {
        let sig = mailgun_signature(&Secret::new(KEY), NOW, "tok-1");
        // Strings with escapes, numbers of every kind, non-scalars, unknown
        // nested content, and a repeated key (the last one counts, as in Value).
        let shapes = [
            json!({"event": "deliv\u{e9}red \"x\"", "id": "a\\b"}),
            json!({"event": 42, "id": -7, "timestamp": 1_521_472_262.908_181}),
            json!({"event": 1.5e3, "id": 0.25}),
            json!({"event": null, "id": true}),
            json!({"event": ["delivered"], "id": {"x": 1}}),
            json!({"deep": [[{"a": [1, {"b": "c"}]}]], "event": "e"}),
            json!({}),
        ];
        for event_data in shapes.iter().cloned().chain([json!("not an object"), json!([1, 2]), json!(12)]) {
            let body = json!({"signature": sig, "event-data": event_data}).to_string();
            let (typed, dry) = both_labels("mailgun", KEY, body.as_bytes());
            assert_eq!(typed, dry, "{body}");
        }
        let body = format!(
            r#"{{"event-data":{{"event":"first"}},"signature":{sig},"event-data":{{"event":"second","id":"i"}}}}"#
        );
        let (typed, dry) = both_labels("mailgun", KEY, body.as_bytes());
        assert_eq!((typed.event_type.as_deref(), &typed), (Some("second"), &dry));

        for extra in shapes {
            let mut b = json!({"passcode": "p", "webhook_id": 22, "timestamp": "2020-02-23T20:27:16Z"});
            for (k, v) in extra.as_object().unwrap() {
                b[if k == "event" { "event_type" } else { k.as_str() }] = v.clone();
            }
            let body = b.to_string();
            let (typed, dry) = both_labels("figma", "p", body.as_bytes());
            assert_eq!(typed, dry, "{body}");

            let mut n = json!({"clientState": "s"});
            for (k, v) in extra.as_object().unwrap() {
                n[if k == "event" { "changeType" } else { "subscriptionId" }] = v.clone();
            }
            let body = json!({"value": [n, {"clientState": "s", "changeType": "later"}]}).to_string();
            let (typed, dry) = both_labels("msgraph", "s", body.as_bytes());
            assert_eq!(typed, dry, "{body}");
        }
        let lifecycle = json!({"value": [{"clientState": "s", "changeType": 3.5, "lifecycleEvent": "missed"}]});
        let (typed, dry) = both_labels("msgraph", "s", lifecycle.to_string().as_bytes());
        assert_eq!(typed, dry);
    }

    #[test]
    fn nesting_is_bounded_before_anything_is_parsed() {
        let sig = mailgun_signature(&Secret::new(KEY), NOW, "tok-1");
        // 64 levels in all (the body's own object is the first) verify; 65 do not.
        let at = |levels: usize| {
            let inner = "[".repeat(levels - 2) + &"]".repeat(levels - 2);
            format!(r#"{{"signature":{sig},"x":{{"y":{inner}}}}}"#).into_bytes()
        };
        assert!(run("mailgun", &[KEY], &at(MAX_NESTING), NOW).is_ok());
        let err = run("mailgun", &[KEY], &at(MAX_NESTING + 1), NOW).unwrap_err();
        assert!(matches!(err, VerifyError::BodyOverLimit(_)), "{err}");
        assert_eq!(err.code(), "body_over_limit");
        assert!(!err.is_config_error());
        // Brackets inside strings (escaped quotes too) are not nesting.
        let text = format!(r#"{{"signature":{sig},"note":"\"{}"}}"#, "[{".repeat(100));
        assert!(run("mailgun", &[KEY], text.as_bytes(), NOW).is_ok());
        for name in ["figma", "msgraph"] {
            let deep = format!("{}{}", "[".repeat(65), "]".repeat(65));
            assert!(matches!(run(name, &["s"], deep.as_bytes(), NOW).unwrap_err(), VerifyError::BodyOverLimit(_)));
        }
        assert!(nesting_within(b"[[]]", 2) && !nesting_within(b"[[[]]]", 2));
        assert!(nesting_within(br#"["\\", "[[["]"#, 1), "an escaped backslash ends before the quote");
    }

    #[test]
    fn graph_batches_are_capped_and_long_states_never_kept() {
        let batch = |n: usize, state: &str| {
            let one = json!({"clientState": state, "changeType": "created"});
            json!({ "value": vec![one; n] }).to_string().into_bytes()
        };
        assert!(run("msgraph", &["s"], &batch(MAX_GRAPH_NOTIFICATIONS, "s"), NOW).is_ok());
        let err = run("msgraph", &["s"], &batch(MAX_GRAPH_NOTIFICATIONS + 1, "s"), NOW).unwrap_err();
        assert_eq!(err, VerifyError::BodyOverLimit("more than 1000 Microsoft Graph notifications"));
        // A clientState longer than every secret cannot match: refused, not copied.
        let long = "s".repeat(10_000);
        assert_eq!(run("msgraph", &["s", "ss"], &batch(1, &long), NOW).unwrap_err(), VerifyError::SignatureMismatch);
        assert_eq!(
            run("figma", &["secretpasscode"], &figma(json!(long)), NOW).unwrap_err(),
            VerifyError::SignatureMismatch
        );
        // Shapes that are not a batch; a body that stops being JSON halfway.
        for bad in
            [&b"[]"[..], b"{}", br#"{"value":{}}"#, br#"{"value":"s"}"#, br#"{"value":[]}"#, br#"[{"value":[]}]"#]
        {
            assert_eq!(
                run("msgraph", &["s"], bad, NOW).unwrap_err(),
                VerifyError::MalformedHeader("value".into()),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let mut cut = batch(3, "s");
        cut.truncate(cut.len() - 2);
        assert_eq!(run("msgraph", &["s"], &cut, NOW).unwrap_err(), VerifyError::MalformedHeader("value".into()));
        let mut trailing = batch(1, "s");
        trailing.extend_from_slice(b" {}");
        assert_eq!(run("msgraph", &["s"], &trailing, NOW).unwrap_err(), VerifyError::MalformedHeader("value".into()));
        // The first failing notification decides, as before (in order).
        let mixed = json!({"value": [{"clientState": "s"}, {"changeType": "x"}, {"clientState": 5}]}).to_string();
        assert_eq!(
            run("msgraph", &["s"], mixed.as_bytes(), NOW).unwrap_err(),
            VerifyError::MissingHeader("clientState".into())
        );
    }

    #[test]
    fn mailgun_fields_are_read_from_objects_only() {
        let sig = mailgun_signature(&Secret::new(KEY), NOW, "tok-1");
        // A top-level array is not read field by field (as a struct would be).
        let positional = json!([sig, {"event": "x"}]).to_string();
        assert_eq!(
            run("mailgun", &[KEY], positional.as_bytes(), NOW).unwrap_err(),
            VerifyError::MissingHeader("signature".into())
        );
        let not_object = json!({"signature": [sig["timestamp"], sig["token"], sig["signature"]]}).to_string();
        assert_eq!(
            run("mailgun", &[KEY], not_object.as_bytes(), NOW).unwrap_err(),
            VerifyError::MalformedHeader("signature".into())
        );
        // A token longer than any Mailgun token is not kept (and not MACed).
        let long = "t".repeat(MAX_MAILGUN_FIELD + 1);
        let body = mailgun_body(&mailgun_signature(&Secret::new(KEY), NOW, &long));
        assert_eq!(run("mailgun", &[KEY], &body, NOW).unwrap_err(), VerifyError::MalformedHeader("signature".into()));
        let body = mailgun_body(&mailgun_signature(&Secret::new(KEY), NOW, &"t".repeat(MAX_MAILGUN_FIELD)));
        assert!(run("mailgun", &[KEY], &body, NOW).is_ok());
        // Escaped strings are read as JSON defines them.
        let escaped = String::from_utf8(mailgun_body(&sig)).unwrap().replace("tok-1", "tok\\u002d1");
        assert!(run("mailgun", &[KEY], escaped.as_bytes(), NOW).is_ok());
    }

    #[test]
    fn body_proof_senders_default_to_smaller_bodies() {
        let default = |name: &str| body_proof_max_body_bytes(&find_provider(name).unwrap().scheme());
        assert_eq!(default("mailgun"), Some(1024 * 1024));
        assert_eq!(default("figma"), Some(1024 * 1024));
        assert_eq!(default("msgraph"), Some(4 * 1024 * 1024));
        for other in ["github", "twilio", "plaid", "okta", "stripe"] {
            assert_eq!(default(other), None, "{other}");
        }
    }
}
