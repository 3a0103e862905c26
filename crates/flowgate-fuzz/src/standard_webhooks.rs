//! Standard Webhooks / Svix: `webhook-*` or `svix-*` headers, a
//! space-separated list of `v1,<base64>` signatures, `whsec_` keys.

use arbitrary::{Arbitrary, Result, Unstructured};
use base64::{engine::general_purpose::STANDARD, Engine};
use flowgate_core::{
    verify::{
        self, find_provider,
        scheme::SecretEncoding,
        standard_webhooks::{self as sw, ID_HEADERS, SIGNATURE_HEADERS, TIMESTAMP_HEADERS},
        VerifyError,
    },
    Headers, Secret,
};

use crate::support::{
    accepted, alter_suffix, bytes, inbound, key, other_key, outcome, rotation, text_of, truncate_suffix, Alphabet,
    BodyChange, BASE_URL, NOW_RANGE, TOKEN,
};

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Mutation {
    None,
    Body(BodyChange),
    DropHeader(u8),
    OtherId,
    OtherTimestamp(u16),
    AlterSignature {
        at: usize,
        pick: u8,
    },
    TruncateSignature(usize),
    WrongSecret {
        at: usize,
        delta: u8,
    },
    TooOld(u16),
    TooNew(u16),
    WindowEdge(bool),
    /// The id header of the other family: the three values are never mixed.
    MixedFamilies,
}

/// A signature-list entry other than the valid one.
#[derive(Debug, Clone, Arbitrary)]
enum Decoy {
    /// A `v1` entry with another MAC.
    WrongV1([u8; 32]),
    /// Another version (`v1a` is Ed25519), whatever follows.
    OtherVersion(String),
    /// Not base64.
    NotBase64,
}

fn secret_for(key: &[u8], prefixed: bool) -> Secret {
    let b64 = STANDARD.encode(key);
    Secret::new(if prefixed { format!("whsec_{b64}") } else { b64 })
}

/// Sign as a Standard Webhooks sender, among decoy signatures (rotation);
/// verify accepts; one mutation; verify refuses.
pub fn standard_webhooks(data: &[u8]) {
    let _ = inner(&mut Unstructured::new(data));
}

fn inner(u: &mut Unstructured<'_>) -> Result<()> {
    let provider = find_provider(if u.arbitrary()? { "svix" } else { "standard-webhooks" }).expect("built in");
    let scheme = provider.scheme();
    let svix: bool = u.arbitrary()?;
    let prefixed: bool = u.arbitrary()?;
    let now = u.int_in_range(NOW_RANGE)?;
    let key = key(u, 64)?;
    let secret = secret_for(&key, prefixed);
    let id = text_of(u, TOKEN, 1, 32)?;
    let body = bytes(u, 512)?;
    let tolerance: Option<u64> = if u.arbitrary()? { Some(u.int_in_range(1..=3600)?) } else { None };
    let decoys: Vec<Decoy> = u.arbitrary_iter()?.take(6).collect::<Result<_>>()?;
    let real_at = u.int_in_range(0..=decoys.len())?;
    let other_secrets: Vec<Secret> =
        (0..u.int_in_range(0..=2)?).map(|i| secret_for(&other_key(SecretEncoding::Base64, &key, i, 5), true)).collect();
    let (secrets, secret_at) = rotation(secret.clone(), other_secrets, u.arbitrary()?);
    let mutation: Mutation = u.arbitrary()?;

    let sig = sw::sign(&secret, &id, now, &body).expect("a valid whsec secret");
    let mut entries: Vec<String> = decoys
        .iter()
        .map(|d| match d {
            Decoy::WrongV1(mac) => format!("v1,{}", STANDARD.encode(mac)),
            Decoy::OtherVersion(rest) => format!("v1a,{}", rest.replace(' ', "")),
            Decoy::NotBase64 => "v1,***".to_owned(),
        })
        .collect();
    entries.insert(real_at, sig.clone());
    let list = entries.join(" ");
    let names = |pair: (&'static str, &'static str)| if svix { pair.1 } else { pair.0 };
    let signed = vec![
        (names(ID_HEADERS).to_owned(), id.clone()),
        (names(TIMESTAMP_HEADERS).to_owned(), now.to_string()),
        (names(SIGNATURE_HEADERS).to_owned(), list.clone()),
    ];
    let to_headers = |hs: &[(String, String)]| -> Headers { hs.iter().map(|(k, v)| (k.as_str(), v.clone())).collect() };
    let run = |hs: &[(String, String)], body: &[u8], now: u64, secrets: &[Secret]| {
        let headers = to_headers(hs);
        verify::verify(provider, &scheme, tolerance, secrets, inbound(&headers, body, now, BASE_URL))
            .map(|v| v.secret_index())
    };
    let set = |i: usize, value: String| {
        let mut hs = signed.clone();
        hs[i].1 = value;
        hs
    };
    let what = provider.name;

    // A decoy that happens to be the valid MAC would make any mutation of
    // the valid entry moot; 2^-256.
    let at = run(&signed, &body, now, &secrets).unwrap_or_else(|e| panic!("{what}: refused {signed:?}: {e:?}"));
    assert_eq!(at, secret_at, "{what}: matched the wrong secret");
    let window = tolerance.unwrap_or(sw::TOLERANCE_SECS);
    let must_refuse = |why: &str, r: std::result::Result<usize, VerifyError>| match r {
        Ok(_) => panic!("{what}: {why}: accepted"),
        Err(e) => {
            assert!(!e.is_config_error(), "{what}: {why}: {e:?}");
            e
        }
    };
    // The valid entry, as the list's last characters once the decoys after it are removed.
    let only_valid = |value: String| {
        let mut es = entries.clone();
        es[real_at] = value;
        es.join(" ")
    };
    let sig_len = sig.len() - 3;
    match mutation {
        Mutation::None => {}
        Mutation::Body(c) => {
            must_refuse("body changed", run(&signed, &c.apply(&body), now, &secrets));
        }
        Mutation::DropHeader(i) => {
            let mut hs = signed.clone();
            hs.remove(usize::from(i) % 3);
            must_refuse("a header dropped", run(&hs, &body, now, &secrets));
        }
        Mutation::OtherId => {
            must_refuse("another id", run(&set(0, format!("{id}x")), &body, now, &secrets));
        }
        Mutation::OtherTimestamp(d) => {
            let ts = (now + 1 + u64::from(d) % 60).to_string();
            must_refuse("another timestamp", run(&set(1, ts), &body, now, &secrets));
        }
        Mutation::AlterSignature { at, pick } => {
            let changed = alter_suffix(&sig, sig_len, at, pick, Alphabet::Base64);
            must_refuse("signature altered", run(&set(2, only_valid(changed)), &body, now, &secrets));
        }
        Mutation::TruncateSignature(by) => {
            let cut = truncate_suffix(&sig, sig_len, by);
            must_refuse("signature truncated", run(&set(2, only_valid(cut)), &body, now, &secrets));
        }
        Mutation::WrongSecret { at, delta } => {
            let wrong = secret_for(&other_key(SecretEncoding::Base64, &key, at, delta), prefixed);
            must_refuse("another secret", run(&signed, &body, now, &[wrong]));
        }
        Mutation::TooOld(d) => {
            let e = must_refuse("too old", run(&signed, &body, now + window + 1 + u64::from(d), &secrets));
            assert_eq!(e, VerifyError::TimestampTooOld);
        }
        Mutation::TooNew(d) => {
            let e = must_refuse("in the future", run(&signed, &body, now - window - 1 - u64::from(d), &secrets));
            assert_eq!(e, VerifyError::TimestampInFuture);
        }
        Mutation::WindowEdge(later) => {
            let at = if later { now + window } else { now - window };
            run(&signed, &body, at, &secrets).unwrap_or_else(|e| panic!("{what}: refused at the window's edge: {e:?}"));
        }
        Mutation::MixedFamilies => {
            let mut hs = signed.clone();
            hs[0].0 = if svix { ID_HEADERS.0 } else { ID_HEADERS.1 }.to_owned();
            must_refuse("id header of the other family", run(&hs, &body, now, &secrets));
        }
    }
    // The verified labels are the unverified ones.
    let headers = to_headers(&signed);
    let v = accepted(
        what,
        outcome(verify::verify(provider, &scheme, tolerance, &secrets, inbound(&headers, &body, now, BASE_URL))),
    );
    assert_eq!(verify::labels(&scheme, &headers, &body).delivery_id, v.delivery_id);
    Ok(())
}
