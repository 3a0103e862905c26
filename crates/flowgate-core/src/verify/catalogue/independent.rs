//! What the independent-signing tests of the catalogue's presets share
//! (`hookdeck_list.rs`, `more_senders.rs`): MACs made with `hmac`/`sha1`/`sha2`
//! directly, not with flowgate's own signer, and one verification call that
//! reports the labels a preset gives a request.

use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha512};

use crate::{
    headers::Headers,
    secret::Secret,
    verify::{find_provider, verify, Inbound, VerifyError},
};

/// The URL every independently signed request is sent to.
pub(super) const URL: &str = "https://flowgate.example/hooks/independent";

fn mac<M: Mac + hmac::digest::KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut m = <M as hmac::digest::KeyInit>::new_from_slice(key).unwrap();
    parts.iter().for_each(|p| m.update(p));
    m.finalize().into_bytes().to_vec()
}

/// HMAC-SHA256 of the concatenated parts.
pub(super) fn hmac256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    mac::<Hmac<Sha256>>(key, parts)
}

/// HMAC-SHA1 of the concatenated parts.
pub(super) fn hmac1(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    mac::<Hmac<Sha1>>(key, parts)
}

/// HMAC-SHA512 of the concatenated parts.
pub(super) fn hmac512(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    mac::<Hmac<Sha512>>(key, parts)
}

/// The event type and delivery id a preset read from a request.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Labels {
    pub(super) event: Option<String>,
    pub(super) delivery: Option<String>,
}

pub(super) fn labels(event: Option<&str>, delivery: Option<&str>) -> Labels {
    Labels { event: event.map(str::to_owned), delivery: delivery.map(str::to_owned) }
}

/// Verifies a request to [`URL`] with the built-in preset `name` and the
/// route secrets `secrets`, at `now`.
pub(super) fn run(
    name: &str,
    secrets: &[&str],
    headers: &[(&str, String)],
    body: &[u8],
    now: u64,
) -> Result<Labels, VerifyError> {
    let p = find_provider(name).unwrap_or_else(|| panic!("{name} is built in"));
    let h: Headers = headers.iter().map(|(k, v)| (*k, v.clone())).collect();
    let secrets: Vec<Secret> = secrets.iter().map(|s| Secret::new(*s)).collect();
    verify(p, &p.scheme(), None, &secrets, Inbound { headers: &h, body, now_secs: now, method: "POST", url: URL })
        .map(|v| Labels { event: v.event_type().map(str::to_owned), delivery: v.delivery_id().map(str::to_owned) })
}

/// One sender's request, signed as the sender signs it; the signature
/// header comes first.
pub(super) struct Case {
    pub(super) name: &'static str,
    pub(super) headers: Vec<(&'static str, String)>,
    pub(super) body: Vec<u8>,
    pub(super) expect: Labels,
}
