//! Contentful: HMAC-SHA256 of the canonical request (method, normalised
//! path and query, the signed headers sorted by name, body), with a
//! millisecond timestamp and a past-only TTL.

use arbitrary::{Arbitrary, Result, Unstructured};
use flowgate_core::{
    verify::{
        self,
        contentful::{self, SIGNATURE_HEADER, TTL_SECS},
        find_provider, VerifyError,
    },
    Headers, Secret,
};

use crate::support::{
    alter_suffix, any_text, bytes, printable, text_of, truncate_suffix, Alphabet, BodyChange, NOW_RANGE,
};

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Mutation {
    None,
    Body(BodyChange),
    OtherMethod,
    OtherPath,
    OtherHeaderValue(u8),
    DropSignedHeader(u8),
    DropHeader(u8),
    AlterSignature {
        at: usize,
        pick: u8,
    },
    TruncateSignature(usize),
    WrongSecret {
        at: usize,
    },
    TooOld(u16),
    /// Contentful's toolkit never rejects a future timestamp.
    Future(u16),
    /// A header that is not signed: accepted.
    ExtraHeader,
}

/// Sign a request as Contentful's toolkit does; verify accepts; one
/// mutation of what is signed; refused.
pub fn contentful(data: &[u8]) {
    let _ = inner(&mut Unstructured::new(data));
}

fn inner(u: &mut Unstructured<'_>) -> Result<()> {
    let p = find_provider("contentful").expect("built in");
    let scheme = p.scheme();
    let key: [u8; 64] = u.arbitrary()?;
    let secret = Secret::new(printable(&key));
    // Contentful refuses timestamps before 2020.
    let now = u.int_in_range(1_600_000_000..=*NOW_RANGE.end())?;
    let ts_ms = now * 1000 - u64::from(u.int_in_range(0..=29_999u16)?);
    let method = *u.choose(&["POST", "PUT", "DELETE", "PATCH"])?;
    let path = text_of(u, b"abcXYZ019/-_.~%!*'() ", 0, 24)?;
    let query = if u.arbitrary()? { format!("?{}", text_of(u, b"ab=&%+ /?:@", 0, 20)?) } else { String::new() };
    let url = format!("https://flowgate.example/{path}{query}");
    // Distinct lower-case names: Contentful signs each header once.
    let n = u.int_in_range(0..=4)?;
    let mut signed_headers: Vec<(String, String)> = Vec::new();
    for i in 0..n {
        signed_headers.push((format!("x-h{i}"), any_text(u, 30)?.replace(['\r', '\n'], "")));
    }
    let body = bytes(u, 400)?;
    let mutation: Mutation = u.arbitrary()?;

    let pairs: Vec<(&str, &str)> = signed_headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let added = contentful::sign(&secret, method, &url, &pairs, &body, ts_ms).expect("a 64-character secret");
    let all: Vec<(String, String)> = signed_headers.iter().cloned().chain(added.iter().cloned()).collect();
    let to_headers = |hs: &[(String, String)]| -> Headers { hs.iter().map(|(k, v)| (k.as_str(), v.clone())).collect() };
    let secrets = [secret];
    let run = |hs: &[(String, String)], body: &[u8], now: u64, method: &str, url: &str, secrets: &[Secret]| {
        let headers = to_headers(hs);
        verify::verify(
            p,
            &scheme,
            None,
            secrets,
            verify::Inbound { headers: &headers, body, now_secs: now, method, url },
        )
        .map(|_| ())
    };
    run(&all, &body, now, method, &url, &secrets)
        .unwrap_or_else(|e| panic!("contentful: refused {all:?} {url}: {e:?}"));
    let refuse = |why: &str, r: std::result::Result<(), VerifyError>| match r {
        Ok(()) => panic!("contentful: {why}: accepted"),
        Err(e) => e,
    };
    let sig = added[0].1.clone();
    let replace = |name: &str, value: String| -> Vec<(String, String)> {
        all.iter().map(|(k, v)| (k.clone(), if k == name { value.clone() } else { v.clone() })).collect()
    };
    match mutation {
        Mutation::None => {}
        Mutation::Body(c) => {
            refuse("body changed", run(&all, &c.apply(&body), now, method, &url, &secrets));
        }
        Mutation::OtherMethod => {
            refuse("another method", run(&all, &body, now, "GET", &url, &secrets));
        }
        Mutation::OtherPath => {
            let other = url.replacen("example/", "example/x", 1);
            refuse("another path", run(&all, &body, now, method, &other, &secrets));
        }
        Mutation::OtherHeaderValue(i) if n > 0 => {
            let (name, value) = &signed_headers[usize::from(i) % n];
            refuse(
                "a signed header changed",
                run(&replace(name, format!("{value}x")), &body, now, method, &url, &secrets),
            );
        }
        Mutation::DropSignedHeader(i) if n > 0 => {
            let name = &signed_headers[usize::from(i) % n].0;
            let hs: Vec<_> = all.iter().filter(|(k, _)| k != name).cloned().collect();
            refuse("a signed header dropped", run(&hs, &body, now, method, &url, &secrets));
        }
        Mutation::DropHeader(i) => {
            let name = &added[usize::from(i) % 3].0;
            let hs: Vec<_> = all.iter().filter(|(k, _)| k != name).cloned().collect();
            refuse("a Contentful header dropped", run(&hs, &body, now, method, &url, &secrets));
        }
        Mutation::AlterSignature { at, pick } => {
            let changed = replace(SIGNATURE_HEADER, alter_suffix(&sig, sig.len(), at, pick, Alphabet::Hex));
            refuse("signature altered", run(&changed, &body, now, method, &url, &secrets));
        }
        Mutation::TruncateSignature(by) => {
            let changed = replace(SIGNATURE_HEADER, truncate_suffix(&sig, sig.len(), by));
            refuse("signature truncated", run(&changed, &body, now, method, &url, &secrets));
        }
        Mutation::WrongSecret { at } => {
            let mut other = key;
            other[at % 64] = other[at % 64].wrapping_add(1);
            let wrong = Secret::new(printable(&other));
            refuse("another secret", run(&all, &body, now, method, &url, &[wrong]));
        }
        Mutation::TooOld(d) => {
            let later = ts_ms / 1000 + TTL_SECS + 1 + u64::from(d);
            let e = refuse("too old", run(&all, &body, later, method, &url, &secrets));
            assert_eq!(e, VerifyError::TimestampTooOld);
        }
        Mutation::Future(d) => {
            let earlier = now - 1 - u64::from(d);
            run(&all, &body, earlier, method, &url, &secrets)
                .unwrap_or_else(|e| panic!("contentful: a future timestamp: {e:?}"));
        }
        Mutation::ExtraHeader => {
            let mut hs = all.clone();
            hs.push(("x-unsigned".to_owned(), "v".to_owned()));
            run(&hs, &body, now, method, &url, &secrets)
                .unwrap_or_else(|e| panic!("contentful: unsigned header: {e:?}"));
        }
        Mutation::OtherHeaderValue(_) | Mutation::DropSignedHeader(_) => {}
    }
    Ok(())
}
