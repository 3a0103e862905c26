//! eBay notifications (Marketplace Account Deletion and the Notification
//! API's other topics):
//! <https://developer.ebay.com/marketplace-account-deletion> and
//! <https://developer.ebay.com/api-docs/commerce/notification/resources/public_key/methods/getPublicKey>
//! (docs read 2026-12-02, with eBay's own SDK, `eBay/event-notification-nodejs-sdk`,
//! `lib/validator.js`, `lib/client.js`, `lib/constants.js` and `test/test.json`).
//!
//! What eBay does, as its SDK shows:
//! - `X-EBAY-SIGNATURE` is base64 of a JSON object
//!   `{"alg":"ecdsa","kid":"<key id>","signature":"<base64 DER>","digest":"SHA1"}`;
//! - the signature is ECDSA over the notification, hashed with **SHA-1**
//!   (the SDK's `crypto.createVerify('ssl3-sha1')`, and the key's own
//!   `"digest": "SHA1"`), in DER (`MEYCIQ…`), converted here to the raw
//!   `r ‖ s` Web Crypto takes;
//! - the key comes from `GET {api}/commerce/notification/v1/public_key/{kid}`
//!   with an OAuth *application* token (client credentials grant, scope
//!   `https://api.ebay.com/oauth/api_scope`), answered
//!   `{"key": "-----BEGIN PUBLIC KEY-----MFkw…-----END PUBLIC KEY-----",
//!   "algorithm": "ECDSA", "digest": "SHA1"}` — a P-256
//!   SubjectPublicKeyInfo as a one-line PEM; eBay asks that it be cached
//!   ("one-hour is recommended") rather than fetched per notification.
//!
//! **Raw bytes, not re-serialised JSON.** eBay's SDK verifies
//! `JSON.stringify(JSON.parse(body))`; flowgate verifies the bytes received,
//! never a re-serialisation. eBay sends compact JSON, for which the two are
//! the same bytes: the SDK's own published vector (`test/test.json`,
//! `VALID`), written compactly, verifies here
//! (`ebays_published_vector_verifies_over_its_compact_body`). A body eBay
//! sent indented would fail closed (401), never open.
//!
//! The route's secrets are P-256 public keys (PEM, one-line PEM as eBay
//! returns it, or base64 DER): the Worker puts the key fetched for the
//! header's `kid` there (memory → KV → eBay, [`EbaySource`] under the rules
//! of [`super::fetched_key`]), and any pinned key in `secret_bindings`
//! verifies too.
//!
//! eBay's signature covers the body only, with no timestamp: the replay
//! guard (per signature) and the delivery id (`notification.notificationId`,
//! the same on each of eBay's retries, which count up `publishAttemptCount`)
//! are what stop a replay. Event type: `metadata.topic`.
//!
//! eBay's endpoint validation (`GET ?challenge_code=…`) is answered in
//! [`super::handshake`], with [`challenge_response`].

use base64::{
    engine::general_purpose::{STANDARD, STANDARD_NO_PAD},
    Engine,
};
#[cfg(any(test, feature = "native-crypto"))]
use p256::ecdsa::{signature::hazmat::PrehashSigner, Signature};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{
    asymmetric::{Algorithm, Candidate, KeyOrigin, Pending, PublicKey},
    decode_keys,
    der::{self, SpkiKey},
    fetched_key::{
        classify_failure, classify_oauth_token, host_of, is_valid_key_id, Credentials, KeyAnswer, KeyRequest,
        KeySource, TokenAnswer,
    },
    json_labels, Inbound, Labels, Proof, Verified, VerifyError,
};
use crate::{config::EbaySettings, headers::Headers, secret::Secret};

/// The signature header.
pub const HEADER: &str = "x-ebay-signature";
/// The `kid` `flowgate send ebay` signs with, and the emulator's test key's.
pub const TEST_KID: &str = "8f5bbd1c-5b8a-4d77-9f05-8e1d0c4b7a21";
/// The OAuth scope of the application token the key endpoint takes.
pub const API_SCOPE: &str = "https://api.ebay.com/oauth/api_scope";
/// How long a fetched key is kept (eBay: "one-hour is recommended").
pub const KEY_TTL_SECS: u64 = 3600;
/// Longest `X-EBAY-SIGNATURE` read (eBay's are about 250 characters).
const MAX_HEADER_LEN: usize = 2048;
/// Longest `challenge_code` answered (eBay's are 64 hex digits).
pub const MAX_CHALLENGE_LEN: usize = 256;

const PEM_BEGIN: &str = "-----BEGIN PUBLIC KEY-----";
const PEM_END: &str = "-----END PUBLIC KEY-----";

/// What `X-EBAY-SIGNATURE` says, decoded (not verified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeader {
    /// The key id.
    pub kid: String,
    /// The signature as raw `r ‖ s` (64 bytes).
    pub signature: Vec<u8>,
}

/// Decodes `X-EBAY-SIGNATURE`: bounded, base64 JSON with `alg` `ecdsa`,
/// `digest` `SHA1`, a plain `kid` and a DER P-256 signature. Read before any
/// fetch, so a malformed header costs no request to eBay.
///
/// # Errors
/// `MissingHeader` or `MalformedHeader` (`x-ebay-signature`).
pub fn parse_header(headers: &Headers) -> Result<SignatureHeader, VerifyError> {
    let malformed = || VerifyError::MalformedHeader(HEADER.into());
    let text = headers.get(HEADER).ok_or(VerifyError::MissingHeader(HEADER.into()))?.trim();
    if text.is_empty() || text.len() > MAX_HEADER_LEN {
        return Err(malformed());
    }
    let json = STANDARD.decode(text).or_else(|_| STANDARD_NO_PAD.decode(text)).map_err(|_| malformed())?;
    let v: Value = serde_json::from_slice(&json).map_err(|_| malformed())?;
    let field = |k: &str| v.get(k).and_then(Value::as_str);
    // eBay signs with ECDSA and SHA-1 only; anything else is not eBay's.
    if !field("alg").is_some_and(|a| a.eq_ignore_ascii_case("ecdsa"))
        || !field("digest").is_some_and(|d| d.eq_ignore_ascii_case("sha1"))
    {
        return Err(malformed());
    }
    let kid = field("kid").filter(|k| is_valid_key_id(k)).ok_or_else(malformed)?.to_owned();
    let signature = field("signature")
        .and_then(|s| STANDARD.decode(s.trim()).ok())
        .and_then(|d| der::ecdsa_der_to_raw(&d, 32))
        .ok_or_else(malformed)?;
    Ok(SignatureHeader { kid, signature })
}

/// The base64 DER SubjectPublicKeyInfo in a PEM (multi-line, or one line as
/// eBay's key endpoint writes it) or in bare base64.
fn spki_base64(text: &str) -> String {
    text.replace(PEM_BEGIN, "").replace(PEM_END, "").split_whitespace().collect()
}

/// The P-256 key (for ECDSA with SHA-1) in a route secret or in eBay's
/// `key` field.
///
/// # Errors
/// A fixed reason when it is not a P-256 SubjectPublicKeyInfo.
pub fn decode_public_key(secret: &Secret) -> Result<PublicKey, &'static str> {
    let der = STANDARD.decode(spki_base64(secret.expose())).map_err(|_| "is not a PEM or base64 public key")?;
    match der::spki(&der) {
        Some(SpkiKey::P256(point)) if point.len() == 65 && point[0] == 4 => {
            Ok(PublicKey::new(Algorithm::EcdsaP256Sha1, point.to_vec()))
        }
        _ => Err("is not a P-256 public key (SubjectPublicKeyInfo)"),
    }
}

/// eBay's endpoint validation answer: hex SHA-256 of `challengeCode ‖
/// verificationToken ‖ endpoint`, as eBay's SDK computes it
/// (`generateChallengeResponse`).
///
/// # Not an oracle
/// Anyone can send the GET, so anyone can have this computed for a
/// `challenge_code` of their choosing, under the route's secret
/// verification token. What that buys them, and why it is nothing:
/// - it signs nothing: eBay's notifications are ECDSA under eBay's key, so
///   no answer here is, or helps make, a notification signature;
/// - it reveals nothing of the token: recovering it is a SHA-256 preimage
///   (the token is eBay's 32–80 characters, chosen by the operator);
/// - SHA-256 length extension yields hashes of `code ‖ token ‖ endpoint ‖
///   padding ‖ more` — which nothing checks: eBay computes its expected
///   answer itself from the values it holds, and flowgate checks no hash
///   of the token anywhere else;
/// - it cannot register anyone else's endpoint: eBay sends the challenge to
///   the endpoint being registered and compares with the token registered
///   with it; an attacker registering this route's URL in their own eBay
///   app does not know the operator's token, so their registration fails,
///   and registering their own URL needs no answer from here.
///
/// The endpoint is the URL eBay was given; the code is bounded
/// ([`MAX_CHALLENGE_LEN`], visible ASCII) so the answer is cheap, and it is
/// JSON-escaped by the caller.
pub fn challenge_response(code: &str, verification_token: &Secret, endpoint: &str) -> String {
    let digest = Sha256::new()
        .chain_update(code.as_bytes())
        .chain_update(verification_token.expose().as_bytes())
        .chain_update(endpoint.as_bytes())
        .finalize();
    hex::encode(digest)
}

/// Whether `code` is shaped like a challenge eBay sends.
pub fn plausible_challenge(code: &str) -> bool {
    !code.is_empty() && code.len() <= MAX_CHALLENGE_LEN && code.bytes().all(|b| b.is_ascii_graphic())
}

/// The `X-EBAY-SIGNATURE` value eBay sends for `body`, signed with
/// `private` (64 hex digits or base64 PKCS#8), naming `kid`: for `flowgate
/// send` and tests. RFC 6979 nonces: deterministic.
///
/// # Errors
/// As [`super::sendgrid::signing_key`].
#[cfg(any(test, feature = "native-crypto"))]
pub fn sign(private: &Secret, kid: &str, body: &[u8]) -> Result<String, &'static str> {
    let key = super::sendgrid::signing_key(private)?;
    let digest = sha1::Sha1::digest(body);
    let sig: Signature = key.sign_prehash(&digest).map_err(|_| "cannot sign")?;
    let header = serde_json::json!({
        "alg": "ecdsa", "kid": kid, "signature": STANDARD.encode(sig.to_der().as_bytes()), "digest": "SHA1",
    });
    Ok(STANDARD.encode(header.to_string()))
}

/// eBay's key endpoint answer for the public key of `private`, as eBay
/// writes it (a one-line PEM): the emulator serves it.
///
/// # Errors
/// As [`super::sendgrid::signing_key`].
#[cfg(any(test, feature = "native-crypto"))]
pub fn key_answer(private: &Secret) -> Result<Value, &'static str> {
    let spki = super::sendgrid::public_key_base64(private)?;
    Ok(serde_json::json!({ "key": format!("{PEM_BEGIN}{spki}{PEM_END}"), "algorithm": "ECDSA", "digest": "SHA1" }))
}

pub(super) fn verify<'a>(
    provider: &'static str,
    secrets: &[Secret],
    inbound: Inbound<'a>,
) -> Result<Pending<'a>, VerifyError> {
    let keys = decode_keys(provider, secrets, decode_public_key)?;
    let header = parse_header(inbound.headers)?;
    let candidates = keys.into_iter().enumerate().map(|(secret_index, key)| Candidate { key, secret_index }).collect();
    let then = move |secret_index| {
        Ok(Verified::labelled(provider, secret_index, inbound.body, labels(inbound.body))
            .with_proof(Proof::of_message(&[inbound.body])))
    };
    Ok(Pending::new(provider, inbound.body.to_vec(), header.signature, candidates, KeyOrigin::RouteSecret, then))
}

/// `metadata.topic` and `notification.notificationId`.
pub(super) fn labels(body: &[u8]) -> Labels {
    json_labels(body, "metadata.topic", "notification.notificationId")
}

/// eBay's [`KeySource`]: an application token from
/// `POST {api}/identity/v1/oauth2/token` (client credentials, Basic
/// `client_id:client_secret`), then `GET
/// {api}/commerce/notification/v1/public_key/{kid}` with it. The key kept is
/// the base64 SPKI (`ebay-key/v1/{host}/{kid}`, one hour, as eBay asks).
#[derive(Debug, Clone, Copy)]
pub struct EbaySource<'s>(pub &'s EbaySettings);

impl KeySource for EbaySource<'_> {
    fn sender(&self) -> &'static str {
        "eBay"
    }
    fn unavailable_code(&self) -> &'static str {
        "ebay_key_unavailable"
    }
    fn host(&self) -> &str {
        host_of(&self.0.base_url)
    }
    fn credential_bindings(&self) -> Vec<(&str, &'static str)> {
        vec![
            (self.0.client_id_binding.as_str(), "eBay App ID (client_id)"),
            (self.0.client_secret_binding.as_str(), "eBay Cert ID (client_secret)"),
        ]
    }
    fn key_id(&self, headers: &Headers) -> Result<String, VerifyError> {
        parse_header(headers).map(|h| h.kid)
    }
    fn cache_key(&self, id: &str) -> String {
        format!("ebay-key/v1/{}/{id}", self.host())
    }
    fn key_ttl_secs(&self) -> u64 {
        KEY_TTL_SECS
    }
    fn usable(&self, cached: &str, _id: &str) -> bool {
        decode_public_key(&Secret::new(cached)).is_ok()
    }
    fn token_request(&self, credentials: &Credentials) -> Option<KeyRequest> {
        let value = |i: usize| credentials.get(i).map_or("", Secret::expose);
        let basic = STANDARD.encode(format!("{}:{}", value(0), value(1)));
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("scope", API_SCOPE)
            .finish();
        Some(KeyRequest {
            method: "POST",
            url: format!("{}/identity/v1/oauth2/token", self.0.base_url),
            headers: vec![
                ("authorization", format!("Basic {basic}")),
                ("content-type", "application/x-www-form-urlencoded".to_owned()),
            ],
            body: body.into_bytes(),
        })
    }
    fn token_cache_key(&self, credentials: &Credentials) -> String {
        // The App ID is not a secret (it is in every OAuth URL eBay shows).
        format!("ebay-token/{}/{}", self.host(), credentials.first().map_or("", Secret::expose))
    }
    fn classify_token(&self, status: u16, retry_after: Option<u64>, body: &[u8]) -> TokenAnswer {
        classify_oauth_token(status, retry_after, body)
    }
    fn key_request(&self, id: &str, _credentials: &Credentials, token: Option<&Secret>) -> KeyRequest {
        KeyRequest {
            method: "GET",
            // `id` passed is_valid_key_id: no '/', '?', '%' or dot segment.
            url: format!("{}/commerce/notification/v1/public_key/{id}", self.0.base_url),
            headers: vec![
                ("authorization", format!("Bearer {}", token.map_or("", Secret::expose))),
                ("accept", "application/json".to_owned()),
            ],
            body: Vec::new(),
        }
    }
    fn classify(&self, status: u16, retry_after: Option<u64>, body: &[u8], _id: &str) -> KeyAnswer {
        let v: Option<Value> = serde_json::from_slice(body).ok();
        if status == 200 {
            let field = |k: &str| v.as_ref().and_then(|v| v.get(k)).and_then(Value::as_str);
            let shape_ok = field("algorithm").is_some_and(|a| a.eq_ignore_ascii_case("ecdsa"))
                && field("digest").is_some_and(|d| d.eq_ignore_ascii_case("sha1"));
            return match field("key").filter(|_| shape_ok) {
                Some(pem) if decode_public_key(&Secret::new(pem)).is_ok() => KeyAnswer::Key(spki_base64(pem)),
                _ => KeyAnswer::Unavailable { reason: "200 without an ECDSA/SHA1 P-256 key".to_owned() },
            };
        }
        // eBay's error object: {"errors": [{"errorId", "message", …}]}.
        let code = v
            .as_ref()
            .and_then(|v| v.pointer("/errors/0/errorId"))
            .and_then(Value::as_u64)
            .map(|id| format!("{status} errorId {id}"));
        classify_failure(status, retry_after, &[400, 404], &[401, 403], code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::{find_provider, verify as verify_any};

    const PRIVATE: &str = "a6e3c57dd01abe90086538398355dd4c3b17aa873382b0f24d6129493d8aad60";
    const OTHER: &str = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";
    const BODY: &[u8] = br#"{"metadata":{"topic":"MARKETPLACE_ACCOUNT_DELETION","schemaVersion":"1.0","deprecated":false},"notification":{"notificationId":"49feeaeb-4982-42d9-a377-9645b8479411_33f7e043-fed8-442b-9d44-791923bd9a6d","eventDate":"2021-03-19T20:43:59.462Z","publishDate":"2021-03-19T20:43:59.679Z","publishAttemptCount":1,"data":{"username":"test_user","userId":"ma8vp1jySJC","eiasToken":"nY+sHZ2PrBmdj6wVnY+sEZ2PrA2dj6wJnY+gAZGEpwmdj6x9nY+seQ=="}}}"#;

    // eBay's SDK test vector (eBay/event-notification-nodejs-sdk,
    // test/test.json, "VALID"): its header, and the key its mocked key
    // endpoint returns for kid 9936261a-…; the message is BODY above, which
    // is that test's `message` as JSON.stringify writes it.
    const SDK_HEADER: &str = "eyJhbGciOiJlY2RzYSIsImtpZCI6Ijk5MzYyNjFhLTdkN2ItNDYyMS1hMGYxLTk2Y2NiNDI4YWY0OSIsInNpZ25hdHVyZSI6Ik1FWUNJUUNmeGZJV3V4bVdjSUJRSjljNS9YN2lHREpxczJSQ0dzQkVhQWppbnlycmZBSWhBSVY2d0djVGlCdVY1S0pVaWYyaG9reXJMK1E5c3NIa2FkK214Mm5FRTI1dyIsImRpZ2VzdCI6IlNIQTEifQ==";
    const SDK_KEY: &str = "-----BEGIN PUBLIC KEY-----MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEZhhxXKtR+TOvtDbgTPCkSof02qgBB7IsYOyf76ilExJ/upAa/vKIKheOoCyOpcLmi4t0b4uepb7LLjmMr90FUg==-----END PUBLIC KEY-----";
    // The SDK's SIGNATURE_MISMATCH header: same kid, another signature.
    const SDK_MISMATCH: &str = "eyJhbGciOiJlY2RzYSIsImtpZCI6Ijk5MzYyNjFhLTdkN2ItNDYyMS1hMGYxLTk2Y2NiNDI4YWY0OSIsInNpZ25hdHVyZSI6Ik1FVUNJUUNHY1NubUFrVGZyK1paMlZnMGJXRW9zOGEvdGVCcWk3UGU2OCtoR21MTUNRSWdlRnZrcnRvKzhkczhSVndJM0dnbjFtTUdDck5NRVpKM1NSbE8yZngveHFJPSIsImRpZ2VzdCI6IlNIQTEifQ==";

    fn run(header: &str, body: &[u8], keys: &[&str]) -> Result<Verified<'static>, VerifyError> {
        let p = find_provider("ebay").unwrap();
        let h: &'static Headers = Box::leak(Box::new(Headers::new().with("X-EBAY-SIGNATURE", header)));
        let body: &'static [u8] = Box::leak(body.to_vec().into_boxed_slice());
        let secrets: Vec<Secret> = keys.iter().map(|k| Secret::new(*k)).collect();
        verify_any(p, &p.scheme(), None, &secrets, Inbound::post(h, body, 1_700_000_000))
    }

    fn public(private: &str) -> String {
        key_answer(&Secret::new(private)).unwrap()["key"].as_str().unwrap().to_owned()
    }

    #[test]
    fn ebays_published_vector_verifies_over_its_compact_body() {
        let v = run(SDK_HEADER, BODY, &[SDK_KEY]).unwrap();
        assert_eq!(v.event_type(), Some("MARKETPLACE_ACCOUNT_DELETION"));
        assert_eq!(v.delivery_id(), Some("49feeaeb-4982-42d9-a377-9645b8479411_33f7e043-fed8-442b-9d44-791923bd9a6d"));
        let h = Headers::new().with(HEADER, SDK_HEADER);
        assert_eq!(parse_header(&h).unwrap().kid, "9936261a-7d7b-4621-a0f1-96ccb428af49");
        // The SDK's mismatching signature, and the same body pretty-printed.
        assert_eq!(run(SDK_MISMATCH, BODY, &[SDK_KEY]).unwrap_err(), VerifyError::SignatureMismatch);
        let pretty = serde_json::to_vec_pretty(&serde_json::from_slice::<Value>(BODY).unwrap()).unwrap();
        assert_eq!(run(SDK_HEADER, &pretty, &[SDK_KEY]).unwrap_err(), VerifyError::SignatureMismatch);
    }

    #[test]
    fn signed_as_ebay_signs_round_trips_and_tampering_fails() {
        let header = sign(&Secret::new(PRIVATE), TEST_KID, BODY).unwrap();
        assert!(run(&header, BODY, &[&public(PRIVATE)]).is_ok());
        // Key rotation / a pinned key among several.
        assert_eq!(run(&header, BODY, &[&public(OTHER), &public(PRIVATE)]).unwrap().secret_index(), 1);
        // Body changed anywhere, or another key.
        for i in [0, BODY.len() / 2, BODY.len() - 1] {
            let mut b = BODY.to_vec();
            b[i] ^= 1;
            assert_eq!(run(&header, &b, &[&public(PRIVATE)]).unwrap_err(), VerifyError::SignatureMismatch, "{i}");
        }
        assert_eq!(run(&header, BODY, &[&public(OTHER)]).unwrap_err(), VerifyError::SignatureMismatch);
        // A signature bit flipped inside the DER.
        let mut v: Value = serde_json::from_slice(&STANDARD.decode(&header).unwrap()).unwrap();
        let mut der = STANDARD.decode(v["signature"].as_str().unwrap()).unwrap();
        let last = der.len() - 1;
        der[last] ^= 1;
        v["signature"] = Value::String(STANDARD.encode(&der));
        let flipped = STANDARD.encode(v.to_string());
        assert_eq!(run(&flipped, BODY, &[&public(PRIVATE)]).unwrap_err(), VerifyError::SignatureMismatch);
        // SHA-256 instead of SHA-1 under the same key: not eBay's signature.
        let key = crate::verify::sendgrid::signing_key(&Secret::new(PRIVATE)).unwrap();
        let sha256: Signature = key.sign_prehash(&Sha256::digest(BODY)).unwrap();
        v["signature"] = Value::String(STANDARD.encode(sha256.to_der().as_bytes()));
        let wrong_hash = STANDARD.encode(v.to_string());
        assert_eq!(run(&wrong_hash, BODY, &[&public(PRIVATE)]).unwrap_err(), VerifyError::SignatureMismatch);
    }

    #[test]
    fn malformed_headers_are_refused_before_anything_is_fetched() {
        let good: Value = serde_json::from_slice(&STANDARD.decode(SDK_HEADER).unwrap()).unwrap();
        let with = |k: &str, val: Value| {
            let mut v = good.clone();
            v[k] = val;
            STANDARD.encode(v.to_string())
        };
        let bad = [
            String::new(),
            "not base64!".to_owned(),
            STANDARD.encode("not json"),
            STANDARD.encode("[]"),
            with("alg", "rsa".into()),
            with("alg", Value::Null),
            with("digest", "SHA256".into()),
            with("kid", "../../identity/v1/oauth2/token".into()),
            with("kid", "a b".into()),
            with("kid", "".into()),
            with("kid", 42.into()),
            with("signature", "AAAA".into()),
            with("signature", STANDARD.encode([7u8; 64]).into()),
            "A".repeat(MAX_HEADER_LEN + 1),
        ];
        let src_settings = EbaySettings {
            client_id_binding: "EBAY_CLIENT_ID".into(),
            client_secret_binding: "EBAY_CLIENT_SECRET".into(),
            base_url: crate::config::EBAY_PRODUCTION.into(),
        };
        let src = EbaySource(&src_settings);
        for b in &bad {
            let h = Headers::new().with(HEADER, b.as_str());
            assert_eq!(src.key_id(&h), Err(VerifyError::MalformedHeader(HEADER.into())), "{b}");
            assert_eq!(run(b, BODY, &[SDK_KEY]).unwrap_err(), VerifyError::MalformedHeader(HEADER.into()), "{b}");
        }
        assert_eq!(src.key_id(&Headers::new()), Err(VerifyError::MissingHeader(HEADER.into())));
        // Padding is optional (base64 without '=').
        let unpadded = SDK_HEADER.trim_end_matches('=');
        assert!(run(unpadded, BODY, &[SDK_KEY]).is_ok());
    }

    #[test]
    fn keys_are_checked_as_configuration() {
        for bad in ["", "not a key", "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE", crate::verify::fireblocks::SANDBOX_KEY] {
            let err = run(SDK_HEADER, BODY, &[bad]).unwrap_err();
            assert!(err.is_config_error() || err == VerifyError::NoSecret, "{bad}: {err}");
        }
        // Multi-line PEM and bare base64 are the same key.
        let bare = spki_base64(SDK_KEY);
        let multi = format!("{PEM_BEGIN}\n{}\n{}\n{PEM_END}\n", &bare[..64], &bare[64..]);
        assert!(run(SDK_HEADER, BODY, &[&bare]).is_ok() && run(SDK_HEADER, BODY, &[&multi]).is_ok());
    }

    #[test]
    fn the_challenge_answer_is_ebays_hash() {
        // eBay's example values (its SDK's examples/config.json) and a code:
        // the answer is hex SHA-256 over the three, concatenated.
        let token = Secret::new("71745723-d031-455c-bfa5-f90d11b4f20a");
        let endpoint = "http://www.testendpoint.com/webhook";
        let code = "a8628072-3d33-45ee-9004-bee86830a22d";
        let expected = hex::encode(Sha256::digest(format!("{code}{}{endpoint}", token.expose())));
        assert_eq!(challenge_response(code, &token, endpoint), expected);
        assert_eq!(expected.len(), 64);
        assert!(plausible_challenge(code));
        for bad in ["", "a b", "\u{e9}", &"a".repeat(MAX_CHALLENGE_LEN + 1)] {
            assert!(!plausible_challenge(bad), "{bad}");
        }
    }

    #[test]
    fn ebays_source_asks_for_a_token_then_the_key_and_classifies_answers() {
        let s = EbaySettings {
            client_id_binding: "EBAY_CLIENT_ID".into(),
            client_secret_binding: "EBAY_CLIENT_SECRET".into(),
            base_url: crate::config::EBAY_SANDBOX.into(),
        };
        let src = EbaySource(&s);
        let creds = [Secret::new("App-ID"), Secret::new("Cert-ID")];
        let t = src.token_request(&creds).unwrap();
        assert_eq!((t.method, t.url.as_str()), ("POST", "https://api.sandbox.ebay.com/identity/v1/oauth2/token"));
        assert_eq!(t.headers[0].1, format!("Basic {}", STANDARD.encode("App-ID:Cert-ID")));
        assert_eq!(
            String::from_utf8(t.body).unwrap(),
            "grant_type=client_credentials&scope=https%3A%2F%2Fapi.ebay.com%2Foauth%2Fapi_scope"
        );
        assert_eq!(src.token_cache_key(&creds), "ebay-token/api.sandbox.ebay.com/App-ID");
        let r = src.key_request(TEST_KID, &creds, Some(&Secret::new("v^1.1#tok")));
        assert_eq!(
            (r.method, r.url.as_str()),
            ("GET", format!("https://api.sandbox.ebay.com/commerce/notification/v1/public_key/{TEST_KID}").as_str())
        );
        assert_eq!(r.headers[0].1, "Bearer v^1.1#tok");
        assert_eq!(src.cache_key(TEST_KID), format!("ebay-key/v1/api.sandbox.ebay.com/{TEST_KID}"));

        let answer = key_answer(&Secret::new(PRIVATE)).unwrap().to_string();
        let KeyAnswer::Key(kept) = src.classify(200, None, answer.as_bytes(), TEST_KID) else { panic!() };
        assert!(src.usable(&kept, TEST_KID) && !kept.contains("BEGIN"));
        assert!(run(&sign(&Secret::new(PRIVATE), TEST_KID, BODY).unwrap(), BODY, &[&kept]).is_ok());
        let sha256 = answer.replace("SHA1", "SHA256");
        assert!(matches!(src.classify(200, None, sha256.as_bytes(), TEST_KID), KeyAnswer::Unavailable { .. }));
        assert!(matches!(src.classify(200, None, b"{}", TEST_KID), KeyAnswer::Unavailable { .. }));
        let not_found = br#"{"errors":[{"errorId":195001,"domain":"API_NOTIFICATION","message":"not found"}]}"#;
        assert_eq!(
            src.classify(404, None, not_found, TEST_KID),
            KeyAnswer::UnknownKid { code: "404 errorId 195001".into() }
        );
        assert!(src.classify(404, None, not_found, TEST_KID).is_forged());
        assert!(matches!(src.classify(401, None, b"", TEST_KID), KeyAnswer::BadCredentials { .. }));
        assert!(matches!(
            src.classify(429, Some(9), b"", TEST_KID),
            KeyAnswer::Throttled { retry_after_secs: Some(9) }
        ));
        for s in [500, 502, 503, 302] {
            let a = src.classify(s, None, b"<html>", TEST_KID);
            assert!(matches!(a, KeyAnswer::Unavailable { .. }) && !a.is_forged(), "{s}");
        }
    }
}
