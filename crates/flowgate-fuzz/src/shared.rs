//! Shared-secret senders: a header that carries the secret itself (GitLab,
//! Okta) or `Authorization: Basic` (Postmark, Pipedrive).

use arbitrary::{Arbitrary, Result, Unstructured};
use base64::{engine::general_purpose::STANDARD, Engine};
use flowgate_core::{
    verify::{self, providers, shared_secret::basic_header, Provider, Scheme, VerifyError},
    Headers, Secret,
};

use crate::support::{any_text, inbound, printable, BASE_URL};

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Mutation {
    None,
    OtherValue(u8),
    DropHeader,
    /// Surrounding spaces, `basic` in another case: accepted.
    Tolerated(u8),
    /// Basic: another auth scheme, or credentials that are not base64.
    Malformed(u8),
    /// Basic: a route secret without `:` is a configuration error.
    SecretWithoutColon,
}

/// A token or basic-auth route (the input picks a preset): the header the
/// sender sends verifies; another value does not.
pub fn shared_secret(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let presets: Vec<(&Provider, Scheme)> = providers()
        .iter()
        .map(|p| (p, p.scheme()))
        .filter(|(_, s)| matches!(s, Scheme::Token(_) | Scheme::BasicAuth(_)))
        .collect();
    let Ok(i) = u.choose_index(presets.len()) else { return };
    let _ = round_trip(&mut u, presets[i].0, &presets[i].1);
}

/// The round trip for a token or basic-auth `scheme` (also for custom ones).
pub(crate) fn round_trip(u: &mut Unstructured<'_>, provider: &Provider, scheme: &Scheme) -> Result<()> {
    let (Scheme::Token(h) | Scheme::BasicAuth(h)) = scheme else { return Ok(()) };
    let basic = matches!(scheme, Scheme::BasicAuth(_));
    let raw: Vec<u8> = u.arbitrary()?;
    if raw.is_empty() {
        return Ok(());
    }
    let mut secret = printable(&raw);
    if basic && !secret.contains(':') {
        secret.insert(secret.len() / 2, ':');
    }
    let body = any_text(u, 200)?;
    let mutation: Mutation = u.arbitrary()?;
    let value = if basic { basic_header(&Secret::new(secret.clone())) } else { secret.clone() };
    let run = |value: Option<String>, secrets: &[Secret]| {
        let headers = match value {
            Some(v) => Headers::new().with(&h.header, v),
            None => Headers::new(),
        };
        verify::verify(provider, scheme, None, secrets, inbound(&headers, body.as_bytes(), 0, BASE_URL)).map(|_| ())
    };
    let secrets = [Secret::new(secret.clone())];
    let what = provider.name;
    run(Some(value.clone()), &secrets).unwrap_or_else(|e| panic!("{what}: refused: {e:?}"));
    let refuse = |why: &str, r: std::result::Result<(), VerifyError>| match r {
        Ok(()) => panic!("{what}: {why}: accepted"),
        Err(e) => {
            assert!(!e.is_config_error(), "{what}: {why}: {e:?}");
        }
    };
    match mutation {
        Mutation::None => {}
        Mutation::OtherValue(k) => {
            let other = format!("{secret}{}", char::from(0x21 + k % 94));
            let v = if basic { basic_header(&Secret::new(other)) } else { other };
            refuse("another value", run(Some(v), &secrets));
        }
        Mutation::DropHeader => refuse("no header", run(None, &secrets)),
        Mutation::Tolerated(k) => {
            let v = match (basic, k % 3) {
                (true, 0) => value.replacen("Basic", "basic", 1),
                (true, 1) => value.replacen("Basic", "BASIC", 1),
                _ => format!("  {value} "),
            };
            run(Some(v), &secrets).unwrap_or_else(|e| panic!("{what}: tolerated form refused: {e:?}"));
        }
        Mutation::Malformed(k) if basic => {
            let v = match k % 3 {
                0 => value.replacen("Basic", "Bearer", 1),
                1 => format!("Basic !{}", STANDARD.encode(&secret)),
                _ => STANDARD.encode(&secret),
            };
            refuse("malformed basic credentials", run(Some(v), &secrets));
        }
        Mutation::SecretWithoutColon if basic => {
            let e = run(Some(value.clone()), &[Secret::new(secret.replace(':', ""))]).unwrap_err();
            assert!(e.is_config_error(), "{what}: a secret without ':' is flowgate's fault: {e:?}");
        }
        Mutation::Malformed(_) | Mutation::SecretWithoutColon => {}
    }
    Ok(())
}
