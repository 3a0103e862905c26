//! The JWT senders: Netlify and monday.com (HS256, shared secret) and
//! Plaid (ES256, a JWK per `kid`), plus Plaid's token and key parsers.

use arbitrary::{Arbitrary, Result, Unstructured};
use flowgate_core::{
    verify::{
        self, find_provider,
        jwt_hs256::{self, MONDAY_HEADER, NETLIFY_HEADER},
        plaid, sendgrid, VerifyError,
    },
    Headers, Secret,
};
use serde_json::{json, Value};

use crate::support::{
    alter_suffix, any_text, b64url, bytes, inbound, key, other_key, printable, text_of, Alphabet, BodyChange, BASE_URL,
    NOW_RANGE,
};

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Mutation {
    None,
    Body(BodyChange),
    DropHeader,
    /// One character of the header, payload or signature part.
    AlterPart {
        part: u8,
        at: usize,
        pick: u8,
    },
    /// `alg` other than the scheme's, signature kept.
    OtherAlg(u8),
    WrongSecret {
        at: usize,
        delta: u8,
    },
    Expired(u16),
    /// Netlify: another issuer; monday.com: another audience; Plaid: another kid.
    OtherClaim,
    /// monday.com: a query string or a trailing slash on the audience's URL,
    /// or `Bearer `; Plaid: a key that retires later: accepted.
    Tolerated(u8),
    /// Plaid: the key has retired.
    Retired(u16),
    /// Plaid: `iat` outside the window, either way.
    IatOutside {
        later: bool,
        by: u16,
    },
}

/// A token with one character of one part changed.
fn alter_part(token: &str, part: u8, at: usize, pick: u8) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let i = usize::from(part) % parts.len();
    parts[i] = alter_suffix(&parts[i], parts[i].len(), at, pick, Alphabet::Base64Url);
    parts.join(".")
}

/// A token with another `alg` in its header, the rest kept.
fn with_alg(token: &str, alg: &str) -> String {
    let mut parts: Vec<&str> = token.split('.').collect();
    let header = b64url(json!({"alg": alg, "typ": "JWT", "kid": plaid::TEST_KID}).to_string().as_bytes());
    parts[0] = &header;
    parts.join(".")
}

const ALGS: [&str; 5] = ["none", "HS512", "RS256", "ES256", "HS256"];

/// Netlify or monday.com (the input picks): a token as the sender signs it
/// verifies; one mutation; refused.
pub fn jwt_hs256(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let _ = hs256(&mut u);
}

fn hs256(u: &mut Unstructured<'_>) -> Result<()> {
    let monday: bool = u.arbitrary()?;
    let p = find_provider(if monday { "monday" } else { "netlify" }).expect("built in");
    let scheme = p.scheme();
    let key = key(u, 64)?;
    let secret = Secret::new(printable(&key));
    let now = u.int_in_range(NOW_RANGE)?;
    let body = bytes(u, 400)?;
    let path = text_of(u, b"abcxyz012-_/", 0, 16)?;
    let url = format!("{BASE_URL}{path}");
    let with_exp: bool = u.arbitrary()?;
    let mutation: Mutation = u.arbitrary()?;
    let name = if monday { MONDAY_HEADER } else { NETLIFY_HEADER };
    let mut claims = if monday { jwt_hs256::monday_claims(&url, now) } else { jwt_hs256::netlify_claims(&body) };
    if with_exp && !monday {
        claims["exp"] = Value::from(now + 60);
    }
    let token = jwt_hs256::sign(&secret, &claims);
    let secrets = [secret];
    let run = |value: Option<String>, body: &[u8], now: u64, url: &str, secrets: &[Secret]| {
        let headers = match value {
            Some(v) => Headers::new().with(name, v),
            None => Headers::new(),
        };
        verify::verify(p, &scheme, None, secrets, inbound(&headers, body, now, url)).map(|_| ())
    };
    let what = p.name;
    run(Some(token.clone()), &body, now, &url, &secrets).unwrap_or_else(|e| panic!("{what}: refused: {e:?}"));
    let refuse = |why: &str, r: std::result::Result<(), VerifyError>| match r {
        Ok(()) => panic!("{what}: {why}: accepted"),
        Err(e) => e,
    };
    let resign = |f: &dyn Fn(&mut Value)| {
        let mut c = claims.clone();
        f(&mut c);
        jwt_hs256::sign(&secrets[0], &c)
    };
    match mutation {
        Mutation::None | Mutation::Retired(_) | Mutation::IatOutside { .. } => {}
        Mutation::Body(c) => {
            let r = run(Some(token.clone()), &c.apply(&body), now, &url, &secrets);
            if monday {
                // monday.com's token does not cover the body.
                r.unwrap_or_else(|e| panic!("monday: body changed: {e:?}"));
            } else {
                refuse("body changed", r);
            }
        }
        Mutation::DropHeader => {
            refuse("no token", run(None, &body, now, &url, &secrets));
        }
        Mutation::AlterPart { part, at, pick } => {
            refuse("token altered", run(Some(alter_part(&token, part, at, pick)), &body, now, &url, &secrets));
        }
        Mutation::OtherAlg(i) => {
            let alg = ALGS[usize::from(i) % 4];
            refuse("another alg", run(Some(with_alg(&token, alg)), &body, now, &url, &secrets));
        }
        Mutation::WrongSecret { at, delta } => {
            let wrong = Secret::new(printable(&other_key(verify::scheme::SecretEncoding::Raw, &key, at, delta)));
            refuse("another secret", run(Some(token.clone()), &body, now, &url, &[wrong]));
        }
        Mutation::Expired(d) => {
            let t = resign(&|c| c["exp"] = Value::from(now - u64::from(d)));
            let e = refuse("expired", run(Some(t), &body, now, &url, &secrets));
            assert_eq!(e, VerifyError::TimestampTooOld);
        }
        Mutation::OtherClaim => {
            let t = if monday {
                resign(&|c| c["aud"] = Value::from(format!("{url}x/")))
            } else {
                resign(&|c| c["iss"] = Value::from("netlify-not"))
            };
            refuse("another issuer or audience", run(Some(t), &body, now, &url, &secrets));
        }
        Mutation::Tolerated(k) if monday => {
            let (value, received) = match k % 3 {
                0 => (format!("Bearer {token}"), url.clone()),
                1 => (token.clone(), format!("{url}?a=b")),
                _ => (token.clone(), format!("{url}/")),
            };
            run(Some(value), &body, now, &received, &secrets).unwrap_or_else(|e| panic!("monday: tolerated: {e:?}"));
        }
        Mutation::Tolerated(_) => {}
    }
    Ok(())
}

/// Plaid: an ES256 token from a P-256 key of the input, named by `kid`;
/// the route holds the JWK; verify accepts; one mutation; refused. Other
/// inputs go through Plaid's JWK and token-header parsers as raw text.
pub fn plaid(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let _ = match u.int_in_range(0..=3u8) {
        Ok(0) => plaid_parsers(&mut u),
        _ => plaid_round_trip(&mut u),
    };
}

const KID: &[u8] = b"abcdefABCDEF0123456789-_.";

fn plaid_parsers(u: &mut Unstructured<'_>) -> Result<()> {
    let text = any_text(u, 600)?;
    if let Ok(jwk) = plaid::parse_jwk(&text) {
        assert!(plaid::is_valid_kid(&jwk.kid), "parse_jwk accepted the kid {:?}", jwk.kid);
    }
    let headers = Headers::new().with(plaid::HEADER, text.clone());
    if let Some(kid) = plaid::jwt_kid(&headers) {
        assert!(plaid::is_valid_kid(&kid), "jwt_kid returned {kid:?}");
    }
    // A token that names a kid but is signed by nothing.
    let forged = format!("{}.{}.{}", b64url(text.as_bytes()), b64url(b"{}"), b64url(&[0; 64]));
    let _ = plaid::jwt_kid(&Headers::new().with(plaid::HEADER, forged));
    Ok(())
}

fn plaid_round_trip(u: &mut Unstructured<'_>) -> Result<()> {
    let p = find_provider("plaid").expect("built in");
    let scheme = p.scheme();
    let scalar: [u8; 32] = u.arbitrary()?;
    let private = Secret::new(hex::encode(scalar));
    let Ok(signing) = sendgrid::signing_key(&private) else { return Ok(()) };
    let kid = text_of(u, KID, 1, 40)?;
    let now = u.int_in_range(NOW_RANGE)?;
    let body = bytes(u, 400)?;
    let tolerance: Option<u64> = if u.arbitrary()? { Some(u.int_in_range(1..=3600)?) } else { None };
    let mutation: Mutation = u.arbitrary()?;
    let jwk_of = |kid: &str, expired_at: Value| {
        let mut jwk = plaid::public_jwk(signing.verifying_key(), kid, 0);
        jwk["expired_at"] = expired_at;
        Secret::new(jwk.to_string())
    };
    let token = plaid::sign(&private, &kid, &plaid::claims(&body, now)).expect("a valid key");
    let headers = Headers::new().with(plaid::HEADER, token.clone());
    assert_eq!(plaid::jwt_kid(&headers).as_deref(), Some(kid.as_str()));
    let secrets = [jwk_of(&kid, Value::Null)];
    let run = |token: String, body: &[u8], now: u64, secrets: &[Secret]| {
        let headers = Headers::new().with(plaid::HEADER, token);
        verify::verify(p, &scheme, tolerance, secrets, inbound(&headers, body, now, BASE_URL)).map(|_| ())
    };
    run(token.clone(), &body, now, &secrets).unwrap_or_else(|e| panic!("plaid: refused: {e:?}"));
    let refuse = |why: &str, r: std::result::Result<(), VerifyError>| match r {
        Ok(()) => panic!("plaid: {why}: accepted"),
        Err(e) => {
            assert!(!e.is_config_error(), "plaid: {why}: {e:?}");
            e
        }
    };
    let window = tolerance.unwrap_or(plaid::MAX_AGE_SECS);
    match mutation {
        Mutation::None | Mutation::Expired(_) => {}
        Mutation::Body(c) => {
            refuse("body changed", run(token.clone(), &c.apply(&body), now, &secrets));
        }
        Mutation::DropHeader => {
            let headers = Headers::new();
            refuse(
                "no token",
                verify::verify(p, &scheme, tolerance, &secrets, inbound(&headers, &body, now, BASE_URL)).map(|_| ()),
            );
        }
        Mutation::AlterPart { part, at, pick } => {
            refuse("token altered", run(alter_part(&token, part, at, pick), &body, now, &secrets));
        }
        Mutation::OtherAlg(i) => {
            let alg = ALGS[usize::from(i) % 3];
            refuse("another alg", run(with_alg(&token, alg), &body, now, &secrets));
        }
        Mutation::WrongSecret { at, delta } => {
            let mut other = scalar;
            other[at % 32] ^= delta.max(1);
            let Ok(k) = sendgrid::signing_key(&Secret::new(hex::encode(other))) else { return Ok(()) };
            let wrong = Secret::new(plaid::public_jwk(k.verifying_key(), &kid, 0).to_string());
            refuse("another key under the same kid", run(token.clone(), &body, now, &[wrong]));
        }
        Mutation::OtherClaim => {
            refuse(
                "the key of another kid",
                run(token.clone(), &body, now, &[jwk_of(&format!("{kid}x"), Value::Null)]),
            );
        }
        Mutation::Tolerated(d) => {
            let later = jwk_of(&kid, Value::from(now + 1 + u64::from(d)));
            run(token.clone(), &body, now, &[later]).unwrap_or_else(|e| panic!("plaid: a key retiring later: {e:?}"));
        }
        Mutation::Retired(d) => {
            let retired = jwk_of(&kid, Value::from(now - u64::from(d)));
            refuse("a retired key", run(token.clone(), &body, now, &[retired]));
        }
        Mutation::IatOutside { later, by } => {
            let at = if later { now + window + 1 + u64::from(by) } else { now - window - 1 - u64::from(by) };
            let e = refuse("iat outside the window", run(token.clone(), &body, at, &secrets));
            let want = if later { VerifyError::TimestampTooOld } else { VerifyError::TimestampInFuture };
            assert_eq!(e, want);
        }
    }
    Ok(())
}
