//! Twilio: HMAC-SHA1 of the URL and the sorted form parameters (form
//! mode), or of a URL carrying `bodySHA256` (JSON mode).

use arbitrary::{Arbitrary, Result, Unstructured};
use flowgate_core::{
    verify::{
        self, find_provider,
        twilio::{self, SIGNATURE_HEADER},
    },
    Headers, Secret,
};

use crate::support::{
    accepted, alter_suffix, bytes, inbound, key, other_key, outcome, printable, refused, text_of, truncate_suffix,
    Alphabet, BodyChange, NOW_RANGE,
};

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Mutation {
    None,
    Body(BodyChange),
    DropHeader,
    OtherPath,
    AlterSignature {
        at: usize,
        pick: u8,
    },
    TruncateSignature(usize),
    WrongSecret {
        at: usize,
        delta: u8,
    },
    /// Received with a port the sender did not sign (any port, when it
    /// signed none) or without the default one it signed: accepted, as
    /// Twilio's SDKs accept it.
    PortVariant(u16),
}

/// The form parameters as Twilio signs them (sorted, deduplicated, `k‖v`):
/// the reference the body mutations are judged by.
fn signed_params(body: &[u8]) -> Vec<u8> {
    let mut pairs: Vec<(String, String)> =
        form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    pairs.sort();
    pairs.dedup();
    pairs.into_iter().flat_map(|(k, v)| [k.into_bytes(), v.into_bytes()]).flatten().collect()
}

/// Sign a form or JSON webhook as Twilio does; verify accepts; one
/// mutation; verify refuses (form bodies: exactly when the signed
/// parameters change — their order and repeats are not signed).
pub fn twilio(data: &[u8]) {
    let _ = inner(&mut Unstructured::new(data));
}

fn inner(u: &mut Unstructured<'_>) -> Result<()> {
    let provider = find_provider("twilio").expect("built in");
    let scheme = provider.scheme();
    let key = key(u, 40)?;
    let secret = Secret::new(printable(&key));
    let json_mode: bool = u.arbitrary()?;
    let host = text_of(u, b"abcdefghijklmnopqrstuvwxyz0123456789.-", 1, 20)?;
    let port: Option<u16> = if u.ratio(1, 4)? { Some(u.arbitrary()?) } else { None };
    let path = text_of(u, b"abcxyz0123456789/-_.", 0, 20)?;
    let query = if u.arbitrary()? { Some(text_of(u, b"abc=&'%27+ .-", 0, 20)?) } else { None };
    let body = if json_mode || u.arbitrary()? {
        bytes(u, 400)?
    } else {
        let pairs: Vec<(String, String)> = u.arbitrary_iter()?.take(8).collect::<Result<_>>()?;
        form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish().into_bytes()
    };
    let mutation: Mutation = u.arbitrary()?;
    let _now = u.int_in_range(NOW_RANGE)?;

    let authority = match port {
        Some(p) => format!("{host}:{p}"),
        None => host.clone(),
    };
    let mut url = format!("https://{authority}/{path}");
    if let Some(q) = &query {
        url = format!("{url}?{q}");
    }
    if json_mode {
        url = twilio::url_with_body_hash(&url, &body);
    }
    let sig = twilio::sign(&secret, &url, &body);
    let headers = Headers::new().with(SIGNATURE_HEADER, sig.clone());
    let secrets = [secret];
    let run = |headers: &Headers, body: &[u8], url: &str, secrets: &[Secret]| {
        outcome(verify::verify(provider, &scheme, None, secrets, inbound(headers, body, 0, url)))
    };
    accepted("twilio", run(&headers, &body, &url, &secrets));
    let with_sig = |s: String| Headers::new().with(SIGNATURE_HEADER, s);
    match mutation {
        Mutation::None => {}
        Mutation::Body(c) => {
            let changed = c.apply(&body);
            let r = run(&headers, &changed, &url, &secrets);
            if json_mode || signed_params(&changed) != signed_params(&body) {
                refused(&format!("twilio: body changed ({c:?})"), r);
            } else {
                accepted("twilio: the same parameters, reordered or repeated", r);
            }
        }
        Mutation::DropHeader => {
            refused("twilio: no signature", run(&Headers::new(), &body, &url, &secrets));
        }
        Mutation::OtherPath => {
            let other = url.replacen(&format!("{authority}/"), &format!("{authority}/x"), 1);
            refused("twilio: another path", run(&headers, &body, &other, &secrets));
        }
        Mutation::AlterSignature { at, pick } => {
            let changed = alter_suffix(&sig, sig.len(), at, pick, Alphabet::Base64);
            refused("twilio: signature altered", run(&with_sig(changed), &body, &url, &secrets));
        }
        Mutation::TruncateSignature(by) => {
            let cut = truncate_suffix(&sig, sig.len(), by);
            refused("twilio: signature truncated", run(&with_sig(cut), &body, &url, &secrets));
        }
        Mutation::WrongSecret { at, delta } => {
            let wrong =
                Secret::new(printable(&other_key(flowgate_core::verify::scheme::SecretEncoding::Raw, &key, at, delta)));
            refused("twilio: another secret", run(&headers, &body, &url, &[wrong]));
        }
        Mutation::PortVariant(p) => {
            let received = match port {
                None => url.replacen(&format!("//{host}/"), &format!("//{host}:{p}/"), 1),
                Some(443) => url.replacen(&format!("//{host}:443/"), &format!("//{host}/"), 1),
                Some(_) => return Ok(()),
            };
            accepted("twilio: a port variant", run(&headers, &body, &received, &secrets));
        }
    }
    Ok(())
}
