//! Senders that put an HS256 JWT (a JWS with a JSON claims set) in a header:
//!
//! - **Netlify** deploy notifications
//!   (<https://docs.netlify.com/site-deploys/deploy-notifications/#payload-signature>):
//!   `X-Webhook-Signature` is a JWS signed with the notification's "JWS
//!   secret token", HS256, whose claims are `iss = "netlify"` and
//!   `sha256 = hex(SHA-256(body))`. Netlify's page was not readable in full
//!   from here; the claim names agree across independent integrations found
//!   with the search tool (a Spring/Nimbus verifier, a Node one checking
//!   `iss=netlify` and `sha256` over the raw body). Event: `X-Netlify-Event`
//!   if sent, else the deploy's `state`; Netlify sends no delivery id (the
//!   body's `id` is the deploy's, shared by all of its notifications).
//! - **monday.com** (<https://developer.monday.com/apps/docs/authorization-header>):
//!   `Authorization: <JWT>` signed with the app's Signing Secret (board
//!   webhooks; lifecycle webhooks use the Client Secret — configure that one
//!   for those routes). monday.com asks receivers to check `exp` and that
//!   `aud` is the app's endpoint URL. `exp` is checked when present; `aud`,
//!   when present, must name the request's URL (scheme, host and path;
//!   ignoring the query string and a trailing `/`). Event: `event.type`;
//!   delivery id: `event.triggerUuid`. The URL-verification `challenge`
//!   request is answered by `handshake.rs` after this verification.
//!
//! Only `alg: HS256` is accepted (never `none`, never an algorithm the
//! token chooses). No JWT crate: base64url and the HMAC are all it takes.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{json_labels, Inbound, Labels, Proof, Verified, VerifyError};
use crate::{
    headers::Headers,
    secret::{ct_eq, Secret},
};

/// Netlify's signature header.
pub const NETLIFY_HEADER: &str = "x-webhook-signature";
/// Netlify's event header.
pub const NETLIFY_EVENT_HEADER: &str = "x-netlify-event";
/// monday.com's header.
pub const MONDAY_HEADER: &str = "authorization";

fn hmac(key: &[u8], input: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    m.update(input);
    m.finalize().into_bytes().to_vec()
}

/// A compact JWS with HS256, signed with `secret`.
pub fn sign(secret: &Secret, claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "HS256", "typ": "JWT"}).to_string());
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let input = format!("{header}.{payload}");
    let sig = URL_SAFE_NO_PAD.encode(hmac(secret.expose().as_bytes(), input.as_bytes()));
    format!("{input}.{sig}")
}

/// Verifies an HS256 token against each secret; returns the matching
/// secret's index and the claims.
fn verify_token(
    token: &str,
    header_name: &'static str,
    secrets: &[Secret],
) -> Result<(usize, Value, Proof), VerifyError> {
    let malformed = || VerifyError::MalformedHeader(header_name.into());
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(malformed());
    };
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).map_err(|_| malformed());
    let header: Value = serde_json::from_slice(&decode(h)?).map_err(|_| malformed())?;
    if header.get("alg").and_then(Value::as_str) != Some("HS256") {
        return Err(malformed());
    }
    let sig = decode(s)?;
    if sig.is_empty() {
        return Err(malformed());
    }
    let input = &token[..h.len() + 1 + p.len()];
    let hits: Vec<bool> = secrets.iter().map(|k| ct_eq(&hmac(k.expose().as_bytes(), input.as_bytes()), &sig)).collect();
    let index = hits.iter().position(|h| *h).ok_or(VerifyError::SignatureMismatch)?;
    // Claims are read only once the signature matched.
    let claims: Value = serde_json::from_slice(&decode(p)?).map_err(|_| malformed())?;
    if !claims.is_object() {
        return Err(malformed());
    }
    // The signing input is what the MAC covers, byte for byte.
    Ok((index, claims, Proof::of_message(&[input.as_bytes()])))
}

/// Rejects a token whose numeric `exp` has passed.
fn check_exp(claims: &Value, now: u64) -> Result<(), VerifyError> {
    match claims.get("exp") {
        None => Ok(()),
        Some(exp) => match exp.as_u64().or_else(|| exp.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)) {
            Some(exp) if now < exp => Ok(()),
            Some(_) => Err(VerifyError::TimestampTooOld),
            None => Err(VerifyError::MalformedHeader("exp".into())),
        },
    }
}

pub(super) fn verify_netlify<'a>(
    provider: &'static str,
    secrets: &[Secret],
    inbound: Inbound<'a>,
) -> Result<Verified<'a>, VerifyError> {
    let token = inbound.headers.get(NETLIFY_HEADER).ok_or(VerifyError::MissingHeader(NETLIFY_HEADER.into()))?;
    let (secret_index, claims, proof) = verify_token(token.trim(), NETLIFY_HEADER, secrets)?;
    let iss_ok = claims.get("iss").and_then(Value::as_str) == Some("netlify");
    let digest = Sha256::digest(inbound.body);
    let hash_ok = claims
        .get("sha256")
        .and_then(Value::as_str)
        .and_then(|h| hex::decode(h).ok())
        .is_some_and(|h| ct_eq(&h, &digest));
    if !iss_ok || !hash_ok {
        return Err(VerifyError::SignatureMismatch);
    }
    check_exp(&claims, inbound.now_secs)?;
    Ok(Verified::labelled(provider, secret_index, inbound.body, netlify_labels(inbound.headers, inbound.body))
        .with_proof(proof))
}

/// `X-Netlify-Event`, else the deploy's `state`; no delivery id (see the module docs).
pub(super) fn netlify_labels(headers: &Headers, body: &[u8]) -> Labels {
    let event_type = headers
        .get(NETLIFY_EVENT_HEADER)
        .map(str::to_owned)
        .or_else(|| super::body_fields::json_path_in(body, "state"));
    Labels { event_type, delivery_id: None }
}

/// The Netlify claims for `body`.
pub fn netlify_claims(body: &[u8]) -> Value {
    json!({ "iss": "netlify", "sha256": hex::encode(Sha256::digest(body)) })
}

/// `scheme://host/path` of a URL, without query, fragment or trailing `/`,
/// host lower-cased: what an `aud` is compared on.
fn url_identity(url: &str) -> String {
    let base = url.split(['?', '#']).next().unwrap_or(url);
    let lower = match base.split_once("://") {
        Some((scheme, rest)) => {
            let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            format!("{}://{}{path}", scheme.to_ascii_lowercase(), host.to_ascii_lowercase())
        }
        None => base.to_owned(),
    };
    lower.trim_end_matches('/').to_owned()
}

pub(super) fn verify_monday<'a>(
    provider: &'static str,
    secrets: &[Secret],
    inbound: Inbound<'a>,
) -> Result<Verified<'a>, VerifyError> {
    let value = inbound.headers.get(MONDAY_HEADER).ok_or(VerifyError::MissingHeader(MONDAY_HEADER.into()))?.trim();
    // monday.com sends the bare token; a `Bearer ` prefix is tolerated.
    let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).unwrap_or(value);
    let (secret_index, claims, proof) = verify_token(token.trim(), MONDAY_HEADER, secrets)?;
    check_exp(&claims, inbound.now_secs)?;
    if let Some(aud) = claims.get("aud") {
        let ok = aud.as_str().is_some_and(|a| url_identity(a) == url_identity(inbound.url));
        if !ok {
            return Err(VerifyError::SignatureMismatch);
        }
    }
    Ok(Verified::labelled(provider, secret_index, inbound.body, monday_labels(inbound.body)).with_proof(proof))
}

/// monday.com's `event.type` and `event.triggerUuid`.
pub(super) fn monday_labels(body: &[u8]) -> Labels {
    json_labels(body, "event.type", "event.triggerUuid")
}

/// The claims monday.com sends, for a request to `url` at `now`.
pub fn monday_claims(url: &str, now: u64) -> Value {
    json!({ "accountId": 1_825_529, "userId": 4_012_689, "aud": url, "exp": now + 300, "iat": now,
            "shortLivedToken": "flowgate-sample" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        headers::Headers,
        verify::{find_provider, verify},
    };

    const NOW: u64 = 1_700_000_000;
    const URL: &str = "https://flowgate.example/hooks/test";
    const SECRET: &str = "netlify-jws-secret-0123456789";

    fn run(
        name: &str,
        h: &Headers,
        body: &[u8],
        secret: &str,
        url: &str,
        now: u64,
    ) -> Result<Verified<'static>, VerifyError> {
        let p = find_provider(name).unwrap();
        let h: &'static Headers = Box::leak(Box::new(h.clone()));
        let body: &'static [u8] = Box::leak(body.to_vec().into_boxed_slice());
        let url: &'static str = Box::leak(url.to_owned().into_boxed_str());
        let inbound = Inbound { headers: h, body, now_secs: now, method: "POST", url };
        verify(p, &p.scheme(), None, &[Secret::new(secret)], inbound)
    }

    #[test]
    fn hs256_matches_rfc7515_appendix_a1_structure() {
        // The signing input is header.payload in base64url, the MAC HMAC-SHA256 of it.
        let t = sign(&Secret::new("k"), &json!({"a": 1}));
        let (input, sig) = t.rsplit_once('.').unwrap();
        assert_eq!(URL_SAFE_NO_PAD.decode(sig).unwrap(), hmac(b"k", input.as_bytes()));
        assert!(verify_token(&t, "h", &[Secret::new("k")]).is_ok());
    }

    #[test]
    fn netlify_round_trip_and_mutations() {
        let body = br#"{"id":"5ebc34bf4fea0b01f02efa3a","state":"ready","name":"www"}"#;
        let good = sign(&Secret::new(SECRET), &netlify_claims(body));
        let h = |t: &str| Headers::new().with("X-Webhook-Signature", t);
        let v = run("netlify", &h(&good), body, SECRET, URL, NOW).unwrap();
        assert_eq!(v.event_type(), Some("ready"));
        let with_event = h(&good).with("X-Netlify-Event", "deploy_succeeded");
        assert_eq!(run("netlify", &with_event, body, SECRET, URL, NOW).unwrap().event_type(), Some("deploy_succeeded"));
        // Body bytes, wrong secret, wrong issuer, no hash, tampered/truncated token, header removed.
        for i in [0, body.len() / 2, body.len() - 1] {
            let mut b = body.to_vec();
            b[i] ^= 0x01;
            assert_eq!(run("netlify", &h(&good), &b, SECRET, URL, NOW).unwrap_err(), VerifyError::SignatureMismatch);
        }
        assert_eq!(run("netlify", &h(&good), body, "other", URL, NOW).unwrap_err(), VerifyError::SignatureMismatch);
        let wrong_iss =
            sign(&Secret::new(SECRET), &json!({"iss": "netlifx", "sha256": netlify_claims(body)["sha256"]}));
        assert_eq!(run("netlify", &h(&wrong_iss), body, SECRET, URL, NOW).unwrap_err(), VerifyError::SignatureMismatch);
        let no_hash = sign(&Secret::new(SECRET), &json!({"iss": "netlify"}));
        assert_eq!(run("netlify", &h(&no_hash), body, SECRET, URL, NOW).unwrap_err(), VerifyError::SignatureMismatch);
        for cut in [1, 2, 4] {
            assert!(run("netlify", &h(&good[..good.len() - cut]), body, SECRET, URL, NOW).is_err(), "{cut}");
        }
        let last = good.chars().last().unwrap();
        let changed = format!("{}{}", &good[..good.len() - 1], if last == 'A' { 'Q' } else { 'A' });
        assert!(run("netlify", &h(&changed), body, SECRET, URL, NOW).is_err());
        assert_eq!(
            run("netlify", &Headers::new(), body, SECRET, URL, NOW).unwrap_err(),
            VerifyError::MissingHeader(NETLIFY_HEADER.into())
        );
        // Claims swapped under the same signature.
        let (hdr, rest) = good.split_once('.').unwrap();
        let sig = rest.rsplit_once('.').unwrap().1;
        let forged = format!("{hdr}.{}.{sig}", URL_SAFE_NO_PAD.encode(netlify_claims(b"{}").to_string()));
        assert_eq!(run("netlify", &h(&forged), b"{}", SECRET, URL, NOW).unwrap_err(), VerifyError::SignatureMismatch);
    }

    #[test]
    fn only_hs256_is_accepted() {
        let body = b"{}";
        let claims = URL_SAFE_NO_PAD.encode(netlify_claims(body).to_string());
        for alg in [json!({"alg": "none"}), json!({"alg": "HS512"}), json!({"alg": "RS256"}), json!({})] {
            let hdr = URL_SAFE_NO_PAD.encode(alg.to_string());
            let input = format!("{hdr}.{claims}");
            let sig = URL_SAFE_NO_PAD.encode(hmac(SECRET.as_bytes(), input.as_bytes()));
            for token in [format!("{input}.{sig}"), format!("{input}.")] {
                let h = Headers::new().with("X-Webhook-Signature", token);
                assert_eq!(
                    run("netlify", &h, body, SECRET, URL, NOW).unwrap_err(),
                    VerifyError::MalformedHeader(NETLIFY_HEADER.into()),
                    "{alg}"
                );
            }
        }
        for junk in ["", "a.b", "a.b.c.d", "!!.!!.!!"] {
            let h = Headers::new().with("X-Webhook-Signature", junk);
            assert!(run("netlify", &h, body, SECRET, URL, NOW).is_err(), "{junk}");
        }
    }

    #[test]
    fn monday_round_trip_exp_and_aud() {
        let body = br#"{"event":{"type":"create_pulse","triggerUuid":"b5ed2e17c530446a98b25b8e6f0d6a1f","boardId":1}}"#;
        let s = Secret::new("monday-signing-secret");
        let token = sign(&s, &monday_claims(URL, NOW));
        let h = |t: &str| Headers::new().with("Authorization", t);
        let v = run("monday", &h(&token), body, s.expose(), URL, NOW).unwrap();
        assert_eq!(v.event_type(), Some("create_pulse"));
        assert_eq!(v.delivery_id(), Some("b5ed2e17c530446a98b25b8e6f0d6a1f"));
        // The token does not cover the body, but is checked for time and audience.
        assert!(run("monday", &h(&format!("Bearer {token}")), body, s.expose(), URL, NOW).is_ok());
        assert!(run("monday", &h(&token), body, s.expose(), &format!("{URL}/?x=1"), NOW).is_ok());
        assert!(run("monday", &h(&token), body, s.expose(), URL, NOW + 299).is_ok());
        assert_eq!(
            run("monday", &h(&token), body, s.expose(), URL, NOW + 300).unwrap_err(),
            VerifyError::TimestampTooOld
        );
        assert_eq!(
            run("monday", &h(&token), body, s.expose(), "https://flowgate.example/hooks/other", NOW).unwrap_err(),
            VerifyError::SignatureMismatch
        );
        assert_eq!(
            run("monday", &h(&token), body, "client-secret", URL, NOW).unwrap_err(),
            VerifyError::SignatureMismatch
        );
        assert_eq!(
            run("monday", &Headers::new(), body, s.expose(), URL, NOW).unwrap_err(),
            VerifyError::MissingHeader(MONDAY_HEADER.into())
        );
        let bad_exp = sign(&s, &json!({"exp": "tomorrow"}));
        assert_eq!(
            run("monday", &h(&bad_exp), body, s.expose(), URL, NOW).unwrap_err(),
            VerifyError::MalformedHeader("exp".into())
        );
        // Without exp or aud the signature alone decides.
        assert!(run("monday", &h(&sign(&s, &json!({"accountId": 1}))), body, s.expose(), URL, NOW).is_ok());
    }
}
