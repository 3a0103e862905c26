//! Sender handshakes, answered by the Worker itself and never forwarded: a
//! flow cannot answer within the sender's deadline (Slack and Zoom give 3 s),
//! and most of these are not events at all (webhook-providers.md §b,
//! "Handshake the receiver must answer"). A handshake is only answered on a
//! route configured for that sender.
//!
//! Two kinds:
//! - [`before_verification`]: requests that carry no signature by design
//!   (Meta's, Dropbox's, Nylas', Strava's, Oura's and Mailchimp's GET
//!   challenges, Okta's and Adobe Acrobat Sign's verification, Microsoft
//!   Graph's and SharePoint's validation tokens, RingCentral's and
//!   Smartsheet's challenge headers, Trello's HEAD, WooCommerce's ping,
//!   Twitter's CRC and LinkedIn's challengeCode). Each is checked as far as
//!   the sender allows (verify tokens, the configured credential) and only
//!   echoes what it was given, or an HMAC of it (Twitter, LinkedIn).
//! - [`after_verification`]: signed setup events (Slack `url_verification`,
//!   Zoom `endpoint.url_validation`, Twitch `webhook_callback_verification`,
//!   Xero intent-to-receive, Discord `PING`, monday.com `challenge`, Dropbox
//!   Sign `callback_test`, Mailchimp's empty validation POST); and setup
//!   pings that only need a 2xx (GitHub `ping`, PagerDuty `pagey.ping`,
//!   Intercom `ping`, Figma `PING`: the provider's `ping_event`).
//!
//! # None of them is an oracle
//! An answer computed from a secret must never be turned into a valid event
//! signature, a kept secret, or a page in someone's browser. Per handshake,
//! the primitive and its input (who chooses the input), and why it is safe:
//!
//! | handshake | answer | input chosen by | why it cannot be abused |
//! |---|---|---|---|
//! | GitHub `ping` | fixed JSON | — (signed) | no secret-derived content |
//! | Slack `url_verification` | echo of `challenge` | Slack (signed) | only a validly signed request is answered; JSON-escaped |
//! | Zoom `endpoint.url_validation` | hex HMAC-SHA256(secret, `plainToken`) | Zoom (signed) | asking needs a signed request; an event signature is HMAC over `v0:ts:body`, which only Zoom's own signed `plainToken` could name |
//! | Twitch callback verification | echo of `challenge`, text/plain | Twitch (signed) | signed; `nosniff` |
//! | Xero intent to receive | empty 200 | — (signed) | no content |
//! | Discord `PING` | fixed `{"type":1}` | — (signed) | no content |
//! | monday.com `challenge` | echo, JSON | monday (signed JWT) | signed; JSON-escaped |
//! | Meta `hub.challenge` | echo, text/plain | anyone | answered only with the route's verify token; ≤ [`MAX_ECHO_BYTES`], `nosniff`, no secret in it |
//! | Dropbox `challenge` | echo, text/plain | anyone | ≤ [`MAX_ECHO_BYTES`], `nosniff`, no secret in it |
//! | Okta verification | echo, JSON | anyone holding the route's secret | answered only with the configured `Authorization`; JSON-escaped |
//! | Microsoft Graph `validationToken` | echo, text/plain | anyone | ≤ [`MAX_ECHO_BYTES`], `nosniff`, no secret in it |
//! | X (Twitter) CRC | `sha256=` base64 HMAC-SHA256(consumer secret, `crc_token`) | anyone (X does not sign its CRC GET: docs.x.com/x-api/webhooks/quickstart, "Securing webhooks": only POSTs carry `x-twitter-webhooks-signature`) | the event signature is the same primitive over the body, so the CRC answer would sign any body put in `crc_token`: a token is answered only if it is shaped like X's (≤ [`MAX_CRC_TOKEN_BYTES`] of `A-Z a-z 0-9 - _ + / =`), and a Twitter route only accepts a JSON object body (`{…}`), which no such token can be |
//! | Asana `X-Hook-Secret` | echo of the header; the value is kept | anyone | kept only while the operator's registration window is open, never replacing one kept, never on a route with `secret_bindings` ([`Before::Keep`]) |
//! | Notion `verification_token` | fixed JSON; the value is kept | anyone | as Asana |
//! | PagerDuty `pagey.ping` | fixed JSON | — (signed) | no secret-derived content |
//! | Intercom `ping` topic | fixed JSON | — (signed) | no secret-derived content |
//! | Figma `PING` | fixed JSON | — (passcode in the body) | no secret-derived content |
//! | Nylas `GET ?challenge=` | echo, text/plain | anyone | ≤ [`MAX_ECHO_BYTES`], `nosniff`, no secret in it |
//! | Strava `GET ?hub.challenge=` | echo, JSON `{"hub.challenge"}` | anyone holding the route's verify token | answered only with the route's `verify_token_binding` secret; JSON-escaped, ≤ [`MAX_ECHO_BYTES`] |
//! | Oura `GET ?verification_token=&challenge=` | echo, JSON `{"challenge"}` | anyone holding the route's verify token | as Strava |
//! | RingCentral `Validation-Token` header | echo in the `Validation-Token` answer header, empty body | anyone | no secret in it; ≤ [`MAX_HEADER_ECHO_BYTES`] of visible ASCII (no header splitting) |
//! | LinkedIn `GET ?challengeCode=` | JSON `{challengeCode, challengeResponse: hex HMAC-SHA256(client secret, challengeCode)}` | anyone (LinkedIn does not sign its validation GET) | the event signature is the same primitive (`hmacsha256=` + hex HMAC over the body): a code is answered only if it is a UUID as LinkedIn sends (36 of `0-9 a-f A-F -`, hyphens at 8/13/18/23), and a LinkedIn route only accepts a JSON object body (`{…}`), which no UUID can be; the reading where the HMAC covers `hmacsha256=`‖body cannot be reached either (a UUID has no `=`); never on a route sharing its secret |
//! | Mailchimp validation `GET` (and empty `POST`) | empty 200 | anyone holding the route's URL token | answered only with the route's `?token=`; no content |
//! | Adobe Acrobat Sign `X-AdobeSign-ClientId` (GET) | echo in the answer header and `{"xAdobeSignClientId"}` | anyone holding the client id | answered only when it equals the route's configured client id, so nothing new is revealed; visible ASCII only |
//! | Smartsheet `Smartsheet-Hook-Challenge` | echo in `Smartsheet-Hook-Response` and `{"smartsheetHookResponse"}` | anyone | no secret in it; ≤ [`MAX_HEADER_ECHO_BYTES`] of visible ASCII; JSON-escaped |
//! | SharePoint `?validationtoken=` | echo, text/plain | anyone | ≤ [`MAX_ECHO_BYTES`], `nosniff`, no secret in it |
//! | Clio `X-Hook-Secret` | echo of the header; the value is kept | anyone | as Asana |
//! | Dropbox Sign `callback_test` | fixed text `Hello API Event Received` | — (signed: event_hash) | no secret-derived content |
//! | Trello `HEAD` (webhook creation) | empty 200 | anyone | no content |
//! | eBay `GET ?challenge_code=` | JSON `{"challengeResponse": hex SHA-256(challengeCode ‖ verification token ‖ endpoint URL)}` | anyone (eBay does not sign it) | a hash, not a MAC eBay or flowgate checks anywhere: it signs no notification (those are ECDSA under eBay's key), reveals the token only by a SHA-256 preimage, and its length extensions are hashes nothing checks; it cannot register another endpoint (eBay compares with the token registered for the endpoint it called). Codes ≤ 256 visible ASCII; JSON-escaped ([`super::ebay::challenge_response`]) |
//! | WooCommerce ping (`webhook_id=<n>`, unsigned) | empty 200 | anyone | no content; only a body that is exactly `webhook_id=` and digits, without a signature header |

use base64::{engine::general_purpose::STANDARD, Engine};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::{HandshakeReply, Verified};
use crate::{
    headers::Headers,
    secret::{ct_eq, Secret},
};

/// Longest challenge echoed back as text (Meta, Dropbox, Microsoft Graph).
/// Real ones are far shorter (Meta's is a number, Graph's about 100
/// characters); the bound keeps an unsigned request from making the Worker
/// reflect an arbitrary document.
pub const MAX_ECHO_BYTES: usize = 1024;

/// Longest X (Twitter) `crc_token` answered.
pub const MAX_CRC_TOKEN_BYTES: usize = 256;

/// Longest challenge echoed back in an answer header (RingCentral's
/// `Validation-Token`, Smartsheet's `Smartsheet-Hook-Response`): real ones
/// are a UUID or a few dozen characters.
pub const MAX_HEADER_ECHO_BYTES: usize = 256;

/// Shortest and longest secret a sender may hand over (Asana's
/// `X-Hook-Secret` is 64 hex characters, Notion's token starts `secret_`
/// and is about 50): anything shorter is not a real one, and is refused
/// rather than kept (a blank value would make every later event fail).
pub const HANDED_OVER_SECRET_LEN: std::ops::RangeInclusive<usize> = 16..=512;

/// Largest unsigned body read for a handed-over token (Notion's handshake
/// body is a few dozen bytes).
const MAX_HANDSHAKE_BODY: usize = 4096;

/// What an unsigned request to a route is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Before {
    /// A handshake: answer this.
    Answer(HandshakeReply),
    /// A handshake that failed its check: refuse with this status and reason.
    Refuse(u16, &'static str),
    /// A handshake that hands over the route's signing secret (Asana's
    /// `X-Hook-Secret`, Notion's `verification_token`). The Worker keeps it
    /// only while the operator's registration window is open, only if none
    /// is kept yet, and never on a route with configured `secret_bindings`
    /// (there it answers and keeps nothing); then it answers `reply`.
    Keep {
        /// The name it is kept under ([`stored_secret_name`]).
        name: &'static str,
        /// The secret to keep (checked: [`HANDED_OVER_SECRET_LEN`], visible ASCII).
        secret: Secret,
        /// The answer to the sender.
        reply: HandshakeReply,
    },
}

/// The name under which a sender's handshake secret is kept, for senders
/// that hand one over (and whose events are then verified with it).
pub fn stored_secret_name(provider: &str) -> Option<&'static str> {
    match provider {
        "asana" => Some("asana-x-hook-secret"),
        "notion" => Some("notion-verification-token"),
        "clio" => Some("clio-x-hook-secret"),
        _ => None,
    }
}

/// Senders whose handshake arrives as a GET.
pub fn answers_get(provider: &str) -> bool {
    matches!(
        provider,
        "meta"
            | "dropbox"
            | "okta"
            | "twitter"
            | "nylas"
            | "strava"
            | "oura"
            | "linkedin"
            | "mailchimp"
            | "adobesign"
            | "ebay"
    )
}

/// Senders whose handshake arrives as a HEAD (Trello checks a callback URL
/// with one when a webhook is created).
pub fn answers_head(provider: &str) -> bool {
    provider == "trello"
}

/// Senders whose GET handshake is answered with an HMAC, under the route's
/// secret, of a value anyone chooses (X's CRC, LinkedIn's challengeCode):
/// such a route must not share its secret with another route, whose
/// signatures the answer could then make.
pub fn answers_with_hmac(provider: &str) -> bool {
    matches!(provider, "twitter" | "linkedin")
}

/// Senders whose GET handshake must present a verify token the operator
/// chose (`verify_token_binding`): Meta, Strava, Oura.
pub fn needs_verify_token(provider: &str) -> bool {
    matches!(provider, "meta" | "strava" | "oura" | "ebay")
}

fn query(url: &str, key: &str) -> Option<String> {
    let q = url.split_once('?')?.1.split('#').next().unwrap_or("");
    form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == key).map(|(_, v)| v.into_owned())
}

/// An unsigned challenge echoed as text: bounded, and sent with `nosniff`
/// ([`HandshakeReply::text`]), so it is never rendered as a page.
fn echo(name: &'static str, challenge: String) -> Before {
    if challenge.len() > MAX_ECHO_BYTES {
        return Before::Refuse(400, "challenge longer than flowgate answers");
    }
    Before::Answer(HandshakeReply::text(name, challenge))
}

/// A challenge echoed in an answer header: bounded visible ASCII, so it
/// can neither split the answer's headers nor carry a document.
fn header_echo(value: &str) -> Result<String, &'static str> {
    let v = value.trim();
    if v.is_empty() || v.len() > MAX_HEADER_ECHO_BYTES || !v.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("challenge is not the short visible text this sender sends");
    }
    Ok(v.to_owned())
}

/// A verify token given in the query, compared with the route's.
fn verify_token_matches(given: Option<String>, verify_token: Option<&Secret>) -> bool {
    let given = given.unwrap_or_default();
    verify_token.is_some_and(|t| ct_eq(t.expose().as_bytes(), given.as_bytes()))
}

/// A challenge echoed in a JSON answer: bounded like a text echo.
fn json_echo(name: &'static str, key: &str, challenge: String) -> Before {
    if challenge.len() > MAX_ECHO_BYTES {
        return Before::Refuse(400, "challenge longer than flowgate answers");
    }
    let mut m = serde_json::Map::new();
    m.insert(key.to_owned(), Value::String(challenge));
    Before::Answer(HandshakeReply::json(name, &Value::Object(m)))
}

/// An empty 200 (Mailchimp's validator, Trello's HEAD, WooCommerce's ping).
fn empty(name: &'static str) -> HandshakeReply {
    HandshakeReply::text(name, "")
}

/// Shaped like LinkedIn's `challengeCode`: "a randomly generated type-4
/// UUID string" (8-4-4-4-12 hex digits). No JSON body, and no string with
/// an `=`, is one.
fn plausible_linkedin_code(c: &str) -> bool {
    c.len() == 36
        && c.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// WooCommerce's delivery-URL ping: the body `webhook_id=<digits>`.
fn woocommerce_ping(body: &[u8]) -> bool {
    body.strip_prefix(b"webhook_id=")
        .is_some_and(|id| !id.is_empty() && id.len() <= 20 && id.iter().all(u8::is_ascii_digit))
}

/// Shaped like the `crc_token`s X sends (base64/base64url/UUID text).
fn plausible_crc_token(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= MAX_CRC_TOKEN_BYTES
        && t.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'+' | b'/' | b'='))
}

/// A secret handed over in a handshake, if it is plausible.
fn handed_over(value: &str) -> Result<Secret, &'static str> {
    let v = value.trim();
    if !HANDED_OVER_SECRET_LEN.contains(&v.len()) {
        return Err("the handed-over secret is blank or not of a plausible length; nothing was kept");
    }
    if !v.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("the handed-over secret has characters no sender uses; nothing was kept");
    }
    Ok(Secret::new(v))
}

/// Notion's handshake body: only the token is read; anything else is skipped
/// without being kept (`IgnoredAny`), so an unsigned body costs no more than
/// its bytes.
#[derive(serde::Deserialize)]
struct NotionHandshake {
    verification_token: String,
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

/// The handshake an unsigned request is, for a route of `provider`, if any.
/// `secrets` are the route's signing secrets; `verify_token` is Meta's.
pub fn before_verification(
    provider: &str,
    method: &str,
    url: &str,
    headers: &Headers,
    body: &[u8],
    secrets: &[Secret],
    verify_token: Option<&Secret>,
) -> Option<Before> {
    // Notion: a one-time unsigned POST {"verification_token": "..."}; the
    // operator pastes the token into Notion to activate the subscription,
    // and Notion signs every event with it.
    if provider == "notion" && method == "POST" && headers.get("x-notion-signature").is_none_or(|s| s.is_empty()) {
        if body.len() > MAX_HANDSHAKE_BODY {
            return None;
        }
        let token = serde_json::from_slice::<NotionHandshake>(body).ok()?.verification_token;
        return Some(match handed_over(&token) {
            Ok(secret) => Before::Keep {
                name: "notion-verification-token",
                secret,
                reply: HandshakeReply::json("notion-verification-token", &json!({ "status": "ok" })),
            },
            Err(why) => Before::Refuse(400, why),
        });
    }
    match (provider, method) {
        // Meta: GET ?hub.mode=subscribe&hub.verify_token=<yours>&hub.challenge=<c> → c.
        ("meta", "GET") => {
            let challenge = query(url, "hub.challenge")?;
            let given = query(url, "hub.verify_token").unwrap_or_default();
            let ok = query(url, "hub.mode").as_deref() == Some("subscribe")
                && verify_token.is_some_and(|t| ct_eq(t.expose().as_bytes(), given.as_bytes()));
            Some(if ok {
                echo("meta-verification", challenge)
            } else {
                Before::Refuse(403, "hub.verify_token does not match the route's verify token")
            })
        }
        // Dropbox: GET ?challenge=<c> → c, text/plain, nosniff.
        ("dropbox", "GET") => Some(echo("dropbox-challenge", query(url, "challenge")?)),
        // Okta: GET with X-Okta-Verification-Challenge, carrying the configured
        // Authorization value → {"verification": <v>}.
        ("okta", "GET") => {
            let v = headers.get("x-okta-verification-challenge")?;
            let auth = headers.get("authorization").unwrap_or("");
            if secrets.iter().any(|s| ct_eq(s.expose().as_bytes(), auth.as_bytes())) {
                Some(Before::Answer(HandshakeReply::json("okta-verification", &json!({ "verification": v }))))
            } else {
                Some(Before::Refuse(401, "the Authorization header is not the route's secret"))
            }
        }
        // Asana: the creation handshake POSTs X-Hook-Secret; echo it back (200)
        // while the create call is still in flight, and keep it: later events
        // are signed with it (X-Hook-Signature). Clio's webhook creation does
        // the same (docs.developers.clio.com, Webhooks: "X-Hook-Secret").
        ("asana" | "clio", "POST") => {
            let value = headers.get("x-hook-secret")?;
            let name = stored_secret_name(provider)?;
            Some(match handed_over(value) {
                Ok(secret) => {
                    let mut reply = HandshakeReply::text(name, "");
                    reply.headers.push(("x-hook-secret", secret.expose().to_owned()));
                    Before::Keep { name, secret, reply }
                }
                Err(why) => Before::Refuse(400, why),
            })
        }
        // Nylas (v3): GET ?challenge=<c> → 200, exactly c, within 10 s.
        ("nylas", "GET") => Some(echo("nylas-challenge", query(url, "challenge")?)),
        // Strava: GET ?hub.mode=subscribe&hub.verify_token=<yours>&hub.challenge=<c>
        // → {"hub.challenge": c}, within 2 s.
        ("strava", "GET") => {
            let challenge = query(url, "hub.challenge")?;
            let ok = query(url, "hub.mode").as_deref() == Some("subscribe")
                && verify_token_matches(query(url, "hub.verify_token"), verify_token);
            Some(if ok {
                json_echo("strava-subscription", "hub.challenge", challenge)
            } else {
                Before::Refuse(403, "hub.verify_token does not match the route's verify token")
            })
        }
        // Oura: GET ?verification_token=<yours>&challenge=<c> → {"challenge": c}.
        ("oura", "GET") => {
            let challenge = query(url, "challenge")?;
            Some(if verify_token_matches(query(url, "verification_token"), verify_token) {
                json_echo("oura-verification", "challenge", challenge)
            } else {
                Before::Refuse(403, "verification_token does not match the route's verify token")
            })
        }
        // LinkedIn: GET ?challengeCode=<uuid> → {challengeCode, challengeResponse:
        // hex HMAC-SHA256(client secret, challengeCode)}, within 3 s; re-checked
        // every 2 h. Bounded like X's CRC (module docs).
        ("linkedin", "GET") => {
            let code = query(url, "challengeCode")?;
            if !plausible_linkedin_code(&code) {
                return Some(Before::Refuse(400, "challengeCode is not a UUID as LinkedIn sends"));
            }
            let secret = secrets.first()?;
            let response = hex::encode(hmac_sha256(secret.expose().as_bytes(), code.as_bytes()));
            Some(Before::Answer(HandshakeReply::json(
                "linkedin-validation",
                &json!({ "challengeCode": code, "challengeResponse": response }),
            )))
        }
        // Mailchimp: the validator GETs the webhook URL (with its ?token=) when
        // the webhook is saved; 200 is all it needs.
        ("mailchimp", "GET") => {
            let given = query(url, super::shared_secret::URL_TOKEN_PARAM).unwrap_or_default();
            Some(if secrets.iter().any(|s| ct_eq(s.expose().trim().as_bytes(), given.as_bytes())) {
                Before::Answer(empty("mailchimp-validation"))
            } else {
                Before::Refuse(401, "the URL's token is not the route's secret")
            })
        }
        // Adobe Acrobat Sign: GET with X-AdobeSign-ClientId → 200 with the same
        // client id in X-AdobeSign-ClientId (and {"xAdobeSignClientId"}).
        ("adobesign", "GET") => {
            let id = headers.get("x-adobesign-clientid")?.trim();
            if !secrets.iter().any(|s| ct_eq(s.expose().trim().as_bytes(), id.as_bytes())) {
                return Some(Before::Refuse(401, "X-AdobeSign-ClientId is not the route's client id"));
            }
            let Ok(id) = header_echo(id) else {
                return Some(Before::Refuse(400, "X-AdobeSign-ClientId is not visible text"));
            };
            let mut reply = HandshakeReply::json("adobesign-verification", &json!({ "xAdobeSignClientId": id }));
            reply.headers.push(("x-adobesign-clientid", id));
            Some(Before::Answer(reply))
        }
        // RingCentral: the subscription's creation POSTs a Validation-Token
        // header; answer 200 with the same header, within 3 s, under 1 KiB.
        ("ringcentral", "POST") => {
            let token = headers.get("validation-token")?;
            Some(match header_echo(token) {
                Ok(t) => {
                    let mut reply = empty("ringcentral-validation");
                    reply.headers.push(("validation-token", t));
                    Before::Answer(reply)
                }
                Err(why) => Before::Refuse(400, why),
            })
        }
        // Smartsheet: a Smartsheet-Hook-Challenge header (and {"challenge",
        // "webhookId"}) when a webhook is enabled and every 100 callbacks →
        // 200 echoing it in Smartsheet-Hook-Response (and {"smartsheetHookResponse"}).
        ("smartsheet", "POST") => {
            let challenge = headers.get("smartsheet-hook-challenge")?;
            Some(match header_echo(challenge) {
                Ok(c) => {
                    let mut reply =
                        HandshakeReply::json("smartsheet-verification", &json!({ "smartsheetHookResponse": c }));
                    reply.headers.push(("smartsheet-hook-response", c));
                    Before::Answer(reply)
                }
                Err(why) => Before::Refuse(400, why),
            })
        }
        // SharePoint: POST ?validationtoken=<t> → 200 text/plain t, within 5 s.
        ("sharepoint", "POST") => query(url, "validationtoken")
            .or_else(|| query(url, "validationToken"))
            .map(|t| echo("sharepoint-validation", t)),
        // Trello: HEAD to the callback URL when a webhook is created → 200.
        ("trello", "HEAD") => Some(Before::Answer(empty("trello-head"))),
        // WooCommerce: saving a webhook POSTs `webhook_id=<id>`, unsigned; a
        // non-2xx answer is reported as an error in the store's admin.
        ("woocommerce", "POST")
            if headers.get("x-wc-webhook-signature").is_none_or(|s| s.trim().is_empty()) && woocommerce_ping(body) =>
        {
            Some(Before::Answer(empty("woocommerce-ping")))
        }
        // Microsoft Graph: POST ?validationToken=<t> → 200 text/plain t (URL-decoded), within 10 s.
        ("msgraph", "POST") => query(url, "validationToken").map(|t| echo("msgraph-validation", t)),
        // eBay: GET ?challenge_code=<c> → {"challengeResponse": hex SHA-256(c ‖
        // verification token ‖ endpoint)}, the endpoint being the URL eBay was
        // given: this request's, without its query. Not an oracle (ebay.rs).
        ("ebay", "GET") => {
            let code = query(url, "challenge_code")?;
            if !super::ebay::plausible_challenge(&code) {
                return Some(Before::Refuse(400, "challenge_code is not the short visible text eBay sends"));
            }
            let Some(token) = verify_token else {
                return Some(Before::Refuse(403, "the route has no verification token"));
            };
            let endpoint = url.split(['?', '#']).next().unwrap_or(url);
            let response = super::ebay::challenge_response(&code, token, endpoint);
            Some(Before::Answer(HandshakeReply::json("ebay-challenge", &json!({ "challengeResponse": response }))))
        }
        // Twitter / X CRC: GET ?crc_token=<t> → {"response_token": "sha256=" + base64(HMAC-SHA256(consumer secret, t))}.
        // The same HMAC signs events (over the body): only X-shaped tokens are
        // answered, and Twitter routes take only JSON object bodies (module docs).
        ("twitter", "GET") => {
            let token = query(url, "crc_token")?;
            if !plausible_crc_token(&token) {
                return Some(Before::Refuse(400, "crc_token is not shaped like the tokens X sends"));
            }
            let secret = secrets.first()?;
            let sig = STANDARD.encode(hmac_sha256(secret.expose().as_bytes(), token.as_bytes()));
            Some(Before::Answer(HandshakeReply::json(
                "twitter-crc",
                &json!({ "response_token": format!("sha256={sig}") }),
            )))
        }
        _ => None,
    }
}

/// The handshake a verified request is, if any. `secrets` are the route's;
/// the one that matched answers Zoom's challenge.
pub fn after_verification(v: &Verified<'_>, headers: &Headers, secrets: &[Secret]) -> Option<HandshakeReply> {
    let body = || serde_json::from_slice::<Value>(v.body()).ok();
    match v.provider() {
        "slack" => {
            let b = body()?;
            (b.get("type")?.as_str()? == "url_verification").then(|| {
                HandshakeReply::json(
                    "slack-url-verification",
                    &json!({ "challenge": b.get("challenge").cloned().unwrap_or(Value::Null) }),
                )
            })
        }
        "zoom" => {
            let b = body()?;
            if b.get("event")?.as_str()? != "endpoint.url_validation" {
                return None;
            }
            let plain = b.pointer("/payload/plainToken")?.as_str()?;
            let secret = secrets.get(v.secret_index())?;
            let encrypted = hex::encode(hmac_sha256(secret.expose().as_bytes(), plain.as_bytes()));
            Some(HandshakeReply::json(
                "zoom-url-validation",
                &json!({ "plainToken": plain, "encryptedToken": encrypted }),
            ))
        }
        "twitch" => {
            if headers.get("twitch-eventsub-message-type")? != "webhook_callback_verification" {
                return None;
            }
            let challenge = body()?.get("challenge")?.as_str()?.to_owned();
            Some(HandshakeReply::text("twitch-callback-verification", challenge))
        }
        // Xero's intent to receive: a signed request with no events → 200, empty body.
        "xero" => {
            let b = body()?;
            b.get("events")?.as_array()?.is_empty().then(|| HandshakeReply {
                name: "xero-intent-to-receive",
                status: 200,
                content_type: "text/plain; charset=utf-8",
                body: String::new(),
                headers: Vec::new(),
            })
        }
        // Discord interactions PING (type 1) → {"type": 1}.
        "discord" => {
            (body()?.get("type")?.as_u64()? == 1).then(|| HandshakeReply::json("discord-ping", &json!({ "type": 1 })))
        }
        // monday.com: {"challenge": c} → the same JSON.
        "monday" => {
            let c = body()?.get("challenge")?.clone();
            Some(HandshakeReply::json("monday-challenge", &json!({ "challenge": c })))
        }
        // Dropbox Sign: the callback_test event sent when a callback URL is
        // set → "Hello API Event Received" (the answer every event needs).
        "dropboxsign" => (v.event_type()? == super::dropbox_sign::CALLBACK_TEST)
            .then(|| HandshakeReply::text("dropboxsign-callback-test", super::dropbox_sign::ACK_BODY)),
        // Mailchimp: a POST with an empty body checks the URL (its ?token=
        // verified) when the webhook is saved → 200.
        "mailchimp" => v.body().iter().all(u8::is_ascii_whitespace).then(|| empty("mailchimp-validation")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::{find_provider, verify, Inbound, Scheme};

    fn verified<'a>(name: &str, headers: &'a Headers, body: &'a [u8], secret: &Secret) -> Verified<'a> {
        let p = find_provider(name).unwrap();
        verify(p, &p.scheme(), None, std::slice::from_ref(secret), Inbound::post(headers, body, 1_700_000_000)).unwrap()
    }

    fn signed(name: &str, secret: &Secret, body: &[u8], extra: &[(&str, &str)]) -> Headers {
        let Scheme::Hmac(h) = find_provider(name).unwrap().scheme() else { panic!() };
        let mut headers: Headers = h
            .sign(secret, body, 1_700_000_000, "msg-1", "https://flowgate.example/hooks/test", "POST")
            .unwrap()
            .into_iter()
            .collect();
        for (k, v) in extra {
            headers.insert(k, *v);
        }
        headers
    }

    #[test]
    fn slack_url_verification_echoes_the_challenge() {
        let s = Secret::new("slack-signing-secret");
        let body = br#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
        let h = signed("slack", &s, body, &[]);
        let r = after_verification(&verified("slack", &h, body, &s), &h, &[s]).unwrap();
        assert_eq!(r.body, r#"{"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}"#);
        assert_eq!(r.content_type, "application/json");
        // An ordinary event is not a handshake.
        let body = br#"{"type":"event_callback","event":{"type":"message"}}"#;
        let h = signed("slack", &Secret::new("x"), body, &[]);
        assert!(after_verification(&verified("slack", &h, body, &Secret::new("x")), &h, &[]).is_none());
    }

    #[test]
    fn zoom_url_validation_answers_with_the_hmac_of_the_plain_token() {
        let s = Secret::new("zoom-secret-token");
        let body = br#"{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680,"event":"endpoint.url_validation"}"#;
        let h = signed("zoom", &s, body, &[]);
        let r = after_verification(&verified("zoom", &h, body, &s), &h, std::slice::from_ref(&s)).unwrap();
        let v: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["plainToken"], "qgg8vlvZRS6UYooatFL8Aw");
        assert_eq!(v["encryptedToken"], hex::encode(hmac_sha256(b"zoom-secret-token", b"qgg8vlvZRS6UYooatFL8Aw")));
    }

    #[test]
    fn twitch_callback_verification_returns_the_raw_challenge() {
        let s = Secret::new("twitch-secret-0123456789");
        let body = br#"{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{"type":"channel.follow"}}"#;
        let h = signed("twitch", &s, body, &[("twitch-eventsub-message-type", "webhook_callback_verification")]);
        let r = after_verification(&verified("twitch", &h, body, &s), &h, &[s]).unwrap();
        assert_eq!(r.body, "pogchamp-kappa-360noscope-vohiyo");
        assert!(r.content_type.starts_with("text/plain"));
        let h2 = signed(
            "twitch",
            &Secret::new("twitch-secret-0123456789"),
            body,
            &[("twitch-eventsub-message-type", "notification")],
        );
        assert!(after_verification(&verified("twitch", &h2, body, &Secret::new("twitch-secret-0123456789")), &h2, &[])
            .is_none());
    }

    #[test]
    fn xero_intent_to_receive_is_an_empty_200() {
        let s = Secret::new("xero-key");
        let body = br#"{"events":[],"firstEventSequence":0,"lastEventSequence":0,"entropy":"S0m3r4Nd0mt3xt"}"#;
        let h = signed("xero", &s, body, &[]);
        let r = after_verification(&verified("xero", &h, body, &s), &h, &[s]).unwrap();
        assert_eq!((r.status, r.body.as_str()), (200, ""));
    }

    #[test]
    fn meta_checks_the_verify_token() {
        let url =
            "https://flowgate.example/hooks/fb?hub.mode=subscribe&hub.verify_token=my%20token&hub.challenge=1158201444";
        let token = Secret::new("my token");
        assert_eq!(
            before_verification("meta", "GET", url, &Headers::new(), b"", &[], Some(&token)),
            Some(Before::Answer(HandshakeReply::text("meta-verification", "1158201444")))
        );
        assert!(matches!(
            before_verification("meta", "GET", url, &Headers::new(), b"", &[], Some(&Secret::new("other"))),
            Some(Before::Refuse(403, _))
        ));
        assert!(matches!(
            before_verification("meta", "GET", url, &Headers::new(), b"", &[], None),
            Some(Before::Refuse(403, _))
        ));
        // Only on a Meta route, and only as a GET.
        assert_eq!(before_verification("github", "GET", url, &Headers::new(), b"", &[], Some(&token)), None);
        assert_eq!(before_verification("meta", "POST", url, &Headers::new(), b"", &[], Some(&token)), None);
    }

    #[test]
    fn asana_and_notion_hand_over_a_secret_to_keep() {
        let h =
            Headers::new().with("x-hook-secret", "b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81");
        let Some(Before::Keep { name, secret, reply }) =
            before_verification("asana", "POST", "https://x", &h, b"", &[], None)
        else {
            panic!()
        };
        assert_eq!(name, "asana-x-hook-secret");
        assert_eq!(secret.expose(), "b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81");
        assert_eq!(reply.headers[1], ("x-hook-secret", secret.expose().to_owned()));
        assert_eq!(reply.status, 200);
        // An Asana event (no X-Hook-Secret) is not a handshake.
        assert_eq!(before_verification("asana", "POST", "https://x", &Headers::new(), b"{}", &[], None), None);

        let body =
            br#"{"verification_token":"secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl","other":[1,{"x":2}]}"#;
        let Some(Before::Keep { name, secret, .. }) =
            before_verification("notion", "POST", "https://x", &Headers::new(), body, &[], None)
        else {
            panic!()
        };
        assert_eq!(name, "notion-verification-token");
        assert_eq!(secret.expose(), "secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl");
        // A signed Notion event is not the handshake.
        let signed = Headers::new().with("x-notion-signature", "sha256=00");
        assert_eq!(before_verification("notion", "POST", "https://x", &signed, body, &[], None), None);
        assert_eq!(stored_secret_name("github"), None);
    }

    #[test]
    fn blank_or_implausible_handed_over_secrets_are_refused() {
        for bad in [
            "",
            " ",
            "short",
            "has a space in the middle of it",
            "\u{7}\u{7}\u{7}\u{7}\u{7}\u{7}\u{7}\u{7}\u{7}\u{7}\u{7}\u{7}\u{7}\u{7}\u{7}\u{7}",
        ] {
            let body = serde_json::to_vec(&json!({ "verification_token": bad })).unwrap();
            assert!(
                matches!(
                    before_verification("notion", "POST", "https://x", &Headers::new(), &body, &[], None),
                    Some(Before::Refuse(400, _))
                ),
                "{bad:?}"
            );
            let h = Headers::new().with("x-hook-secret", bad);
            assert!(
                matches!(
                    before_verification("asana", "POST", "https://x", &h, b"", &[], None),
                    Some(Before::Refuse(400, _))
                ),
                "{bad:?}"
            );
        }
        let long = "x".repeat(513);
        let h = Headers::new().with("x-hook-secret", long.as_str());
        assert!(matches!(
            before_verification("asana", "POST", "https://x", &h, b"", &[], None),
            Some(Before::Refuse(400, _))
        ));
        // An unsigned Notion body is read only up to a few KiB, and only its token.
        let big = format!(
            r#"{{"verification_token":"secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0","pad":"{}"}}"#,
            "a".repeat(5000)
        );
        assert_eq!(
            before_verification("notion", "POST", "https://x", &Headers::new(), big.as_bytes(), &[], None),
            None
        );
    }

    #[test]
    fn crc_answers_only_x_shaped_tokens() {
        let secret = [Secret::new("consumer-secret")];
        let crc = |token: &str| {
            let url = format!(
                "https://x/hooks/t?crc_token={}",
                form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>()
            );
            before_verification("twitter", "GET", &url, &Headers::new(), b"", &secret, None)
        };
        assert!(matches!(crc("NjVhZTg1Y2QtNDdkMC00MzJmLWFiMGUtY2I0OWQ3NTBlNDgx"), Some(Before::Answer(_))));
        assert!(matches!(crc("9b4507b3-9f1e-4a79-b6b0-1f5ec1e1b6a3"), Some(Before::Answer(_))));
        // A JSON body as the token: the oracle attack. Refused.
        for bad in [r#"{"for_user_id":"1","tweet_create_events":[]}"#, "", "a b", &"a".repeat(257), "<script>"] {
            assert!(matches!(crc(bad), Some(Before::Refuse(400, _)) | None), "{bad:?}");
        }
    }

    #[test]
    fn a_crc_answer_never_verifies_as_an_event() {
        // The attack: put a body in crc_token, send the answer as the signature.
        let secret = [Secret::new("consumer-secret")];
        let twitter = find_provider("twitter").unwrap();
        for token in ["NjVhZTg1Y2QtNDdkMC00MzJm", "eyJ0ZXN0IjoxfQ=="] {
            let url = format!("https://x/hooks/t?crc_token={token}");
            let Some(Before::Answer(r)) =
                before_verification("twitter", "GET", &url, &Headers::new(), b"", &secret, None)
            else {
                panic!()
            };
            let answer = serde_json::from_str::<Value>(&r.body).unwrap()["response_token"].as_str().unwrap().to_owned();
            let h = Headers::new().with("x-twitter-webhooks-signature", answer);
            let err = verify(twitter, &twitter.scheme(), None, &secret, Inbound::post(&h, token.as_bytes(), 0));
            assert_eq!(err.unwrap_err(), crate::verify::VerifyError::UnexpectedBody);
        }
        // An event body that is a JSON object is checked as usual.
        let body = br#"{"for_user_id":"2244994945","tweet_create_events":[]}"#;
        let sig = format!("sha256={}", STANDARD.encode(hmac_sha256(b"consumer-secret", body)));
        let h = Headers::new().with("x-twitter-webhooks-signature", sig);
        assert!(verify(twitter, &twitter.scheme(), None, &secret, Inbound::post(&h, body, 0)).is_ok());
    }

    #[test]
    fn echoed_challenges_are_bounded_text_with_nosniff() {
        let long = "a".repeat(MAX_ECHO_BYTES + 1);
        for (provider, method, url) in [
            ("dropbox", "GET", format!("https://x/hooks/d?challenge={long}")),
            ("msgraph", "POST", format!("https://x/hooks/g?validationToken={long}")),
        ] {
            assert!(matches!(
                before_verification(provider, method, &url, &Headers::new(), b"", &[], None),
                Some(Before::Refuse(400, _))
            ));
        }
        let url = "https://x/hooks/g?validationToken=%3Chtml%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E";
        let Some(Before::Answer(r)) = before_verification("msgraph", "POST", url, &Headers::new(), b"", &[], None)
        else {
            panic!()
        };
        assert!(r.content_type.starts_with("text/plain"));
        assert!(r.headers.contains(&("x-content-type-options", "nosniff".to_owned())));
    }

    #[test]
    fn dropbox_okta_graph_and_twitter_challenges() {
        let r = before_verification(
            "dropbox",
            "GET",
            "https://x/hooks/d?challenge=abc%2Bdef",
            &Headers::new(),
            b"",
            &[],
            None,
        );
        let Some(Before::Answer(r)) = r else { panic!() };
        assert_eq!(r.body, "abc+def");
        assert_eq!(r.headers, vec![("x-content-type-options", "nosniff".to_owned())]);

        let h =
            Headers::new().with("x-okta-verification-challenge", "vc-123").with("authorization", "okta-shared-secret");
        let Some(Before::Answer(r)) = before_verification(
            "okta",
            "GET",
            "https://x/hooks/o",
            &h,
            b"",
            &[Secret::new("okta-shared-secret")],
            None,
        ) else {
            panic!()
        };
        assert_eq!(r.body, r#"{"verification":"vc-123"}"#);
        let bad = Headers::new().with("x-okta-verification-challenge", "vc-123").with("authorization", "guess");
        assert!(matches!(
            before_verification("okta", "GET", "https://x", &bad, b"", &[Secret::new("okta-shared-secret")], None),
            Some(Before::Refuse(401, _))
        ));

        let Some(Before::Answer(r)) = before_verification(
            "msgraph",
            "POST",
            "https://x/hooks/g?validationToken=Validation%3A%20Testing",
            &Headers::new(),
            b"",
            &[],
            None,
        ) else {
            panic!()
        };
        assert_eq!(r.body, "Validation: Testing");
        assert!(before_verification("msgraph", "POST", "https://x/hooks/g", &Headers::new(), b"", &[], None).is_none());

        let Some(Before::Answer(r)) = before_verification(
            "twitter",
            "GET",
            "https://x/hooks/t?crc_token=9b4507b3-9f1e-4a79",
            &Headers::new(),
            b"",
            &[Secret::new("consumer-secret")],
            None,
        ) else {
            panic!()
        };
        let expected = format!("sha256={}", STANDARD.encode(hmac_sha256(b"consumer-secret", b"9b4507b3-9f1e-4a79")));
        assert_eq!(serde_json::from_str::<Value>(&r.body).unwrap()["response_token"], expected);
    }

    // ----- Issue 15 handshakes -----

    fn unsigned(provider: &str, method: &str, url: &str, headers: &Headers, secrets: &[Secret]) -> Option<Before> {
        before_verification(provider, method, url, headers, b"", secrets, None)
    }

    fn answer(b: Option<Before>) -> HandshakeReply {
        match b {
            Some(Before::Answer(r)) => r,
            other => panic!("not answered: {other:?}"),
        }
    }

    #[test]
    fn nylas_and_sharepoint_echo_their_challenge_as_text() {
        let r = answer(unsigned(
            "nylas",
            "GET",
            "https://x/hooks/n?challenge=bc609b38-c81f-47fb-a275-1d9bd61a968b",
            &Headers::new(),
            &[],
        ));
        assert_eq!((r.status, r.body.as_str()), (200, "bc609b38-c81f-47fb-a275-1d9bd61a968b"));
        assert!(
            r.content_type.starts_with("text/plain")
                && r.headers.contains(&("x-content-type-options", "nosniff".to_owned()))
        );
        // SharePoint's parameter is lower case (and the Graph spelling is taken too).
        for url in ["https://x/hooks/s?validationtoken=abc%3A1", "https://x/hooks/s?validationToken=abc%3A1"] {
            assert_eq!(answer(unsigned("sharepoint", "POST", url, &Headers::new(), &[])).body, "abc:1");
        }
        let long = format!("https://x/hooks/n?challenge={}", "a".repeat(MAX_ECHO_BYTES + 1));
        assert!(matches!(unsigned("nylas", "GET", &long, &Headers::new(), &[]), Some(Before::Refuse(400, _))));
        assert_eq!(unsigned("nylas", "POST", "https://x/hooks/n?challenge=c", &Headers::new(), &[]), None);
        assert_eq!(unsigned("github", "GET", "https://x/hooks/n?challenge=c", &Headers::new(), &[]), None);
    }

    #[test]
    fn ebay_answers_its_challenge_with_the_hash_of_code_token_and_endpoint() {
        let token = Secret::new("71745723-d031-455c-bfa5-f90d11b4f20a");
        let url = "https://flowgate.example/hooks/ebay?challenge_code=a8628072-3d33-45ee-9004-bee86830a22d";
        let h = Headers::new();
        let Some(Before::Answer(reply)) = before_verification("ebay", "GET", url, &h, b"", &[], Some(&token)) else {
            panic!()
        };
        let expected = super::super::ebay::challenge_response(
            "a8628072-3d33-45ee-9004-bee86830a22d",
            &token,
            "https://flowgate.example/hooks/ebay",
        );
        let body: Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(body, json!({ "challengeResponse": expected }));
        // No code: not a handshake; a code eBay would not send, or no token: refused.
        assert_eq!(before_verification("ebay", "GET", "https://x/hooks/ebay", &h, b"", &[], Some(&token)), None);
        let long = format!("https://x/hooks/ebay?challenge_code={}", "a".repeat(300));
        assert!(matches!(
            before_verification("ebay", "GET", &long, &h, b"", &[], Some(&token)),
            Some(Before::Refuse(400, _))
        ));
        assert!(matches!(before_verification("ebay", "GET", url, &h, b"", &[], None), Some(Before::Refuse(403, _))));
        assert!(answers_get("ebay") && needs_verify_token("ebay"));
    }

    #[test]
    fn strava_and_oura_answer_only_with_the_route_verify_token() {
        let token = Secret::new("a-verify-token-0123");
        let strava = "https://x/hooks/s?hub.mode=subscribe&hub.verify_token=a-verify-token-0123&hub.challenge=15f7d1a91c1f40f8a748fd134752feb3";
        let r = answer(before_verification("strava", "GET", strava, &Headers::new(), b"", &[], Some(&token)));
        assert_eq!(r.body, r#"{"hub.challenge":"15f7d1a91c1f40f8a748fd134752feb3"}"#);
        assert_eq!(r.content_type, "application/json");
        let oura = "https://x/hooks/o?verification_token=a-verify-token-0123&challenge=Zm9vYmFy";
        let r = answer(before_verification("oura", "GET", oura, &Headers::new(), b"", &[], Some(&token)));
        assert_eq!(r.body, r#"{"challenge":"Zm9vYmFy"}"#);
        let other = Secret::new("another-token");
        for (p, url) in [("strava", strava), ("oura", oura)] {
            assert!(matches!(
                before_verification(p, "GET", url, &Headers::new(), b"", &[], Some(&other)),
                Some(Before::Refuse(403, _))
            ));
            assert!(matches!(
                before_verification(p, "GET", url, &Headers::new(), b"", &[], None),
                Some(Before::Refuse(403, _))
            ));
        }
        // Strava's mode must be subscribe; a JSON-breaking challenge stays a string.
        let url = strava.replace("subscribe", "unsubscribe");
        assert!(matches!(
            before_verification("strava", "GET", &url, &Headers::new(), b"", &[], Some(&token)),
            Some(Before::Refuse(403, _))
        ));
        let hostile = format!("{oura}%22%7D%2C%22x%22%3A%22");
        let r = answer(before_verification("oura", "GET", &hostile, &Headers::new(), b"", &[], Some(&token)));
        assert_eq!(serde_json::from_str::<Value>(&r.body).unwrap()["challenge"], r#"Zm9vYmFy"},"x":""#);
        assert!(needs_verify_token("strava") && needs_verify_token("oura") && needs_verify_token("meta"));
        assert!(!needs_verify_token("github"));
    }

    #[test]
    fn ringcentral_and_smartsheet_echo_their_challenge_in_a_header() {
        let h = Headers::new().with("validation-token", "7b6d2e1a-0000-4000-8000-000000000001");
        let r = answer(unsigned("ringcentral", "POST", "https://x/hooks/r", &h, &[]));
        assert_eq!((r.status, r.body.as_str()), (200, ""));
        assert!(r.headers.contains(&("validation-token", "7b6d2e1a-0000-4000-8000-000000000001".to_owned())));
        let h = Headers::new().with("smartsheet-hook-challenge", "d78dd1d3-01ce-4481-81de-92b4f3aa5ab1");
        let r = answer(unsigned("smartsheet", "POST", "https://x/hooks/s", &h, &[]));
        assert_eq!(r.body, r#"{"smartsheetHookResponse":"d78dd1d3-01ce-4481-81de-92b4f3aa5ab1"}"#);
        assert!(r.headers.contains(&("smartsheet-hook-response", "d78dd1d3-01ce-4481-81de-92b4f3aa5ab1".to_owned())));
        // Nothing but short visible text goes into a header.
        for bad in ["", "a b", "line\u{0}break", &"a".repeat(MAX_HEADER_ECHO_BYTES + 1)] {
            for (p, name) in [("ringcentral", "validation-token"), ("smartsheet", "smartsheet-hook-challenge")] {
                let h = Headers::new().with(name, bad);
                assert!(
                    matches!(unsigned(p, "POST", "https://x", &h, &[]), Some(Before::Refuse(400, _))),
                    "{p} {bad:?}"
                );
            }
        }
        // Without the header, a request is an event to verify.
        assert_eq!(unsigned("ringcentral", "POST", "https://x", &Headers::new(), &[]), None);
        assert_eq!(unsigned("smartsheet", "POST", "https://x", &Headers::new(), &[]), None);
    }

    #[test]
    fn linkedin_answers_only_uuid_challenge_codes() {
        let secret = [Secret::new("linkedin-client-secret")];
        let code = "890e4665-4dfe-4ab1-b689-ed553bceeed0";
        let url = format!("https://x/hooks/l?challengeCode={code}");
        let r = answer(unsigned("linkedin", "GET", &url, &Headers::new(), &secret));
        let v: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["challengeCode"], code);
        assert_eq!(v["challengeResponse"], hex::encode(hmac_sha256(b"linkedin-client-secret", code.as_bytes())));
        for bad in [
            r#"{"type":"LEAD_ACTION"}"#,
            "890e4665-4dfe-4ab1-b689-ed553bceeed",
            "890e4665-4dfe-4ab1-b689-ed553bceeed00",
            "890e4665x4dfe-4ab1-b689-ed553bceeed0",
            "890e4665-4dfe-4ab1-b689-ed553bceeedg",
            "hmacsha256=890e4665-4dfe-4ab1-b68",
            "",
        ] {
            let url = format!(
                "https://x/hooks/l?challengeCode={}",
                form_urlencoded::byte_serialize(bad.as_bytes()).collect::<String>()
            );
            assert!(
                matches!(unsigned("linkedin", "GET", &url, &Headers::new(), &secret), Some(Before::Refuse(400, _))),
                "{bad:?}"
            );
        }
        assert!(answers_with_hmac("linkedin") && answers_with_hmac("twitter") && !answers_with_hmac("nylas"));
    }

    #[test]
    fn a_linkedin_answer_never_verifies_as_an_event() {
        // The attack: ask for the HMAC of a chosen value, send it as an event's signature.
        let secret = [Secret::new("linkedin-client-secret")];
        let linkedin = find_provider("linkedin").unwrap();
        let code = "890e4665-4dfe-4ab1-b689-ed553bceeed0";
        let r =
            answer(unsigned("linkedin", "GET", &format!("https://x/l?challengeCode={code}"), &Headers::new(), &secret));
        let response =
            serde_json::from_str::<Value>(&r.body).unwrap()["challengeResponse"].as_str().unwrap().to_owned();
        // As the event signature of the code itself (the only body it is an HMAC of): not a JSON object.
        let h = Headers::new().with("x-li-signature", format!("hmacsha256={response}"));
        let err = verify(linkedin, &linkedin.scheme(), None, &secret, Inbound::post(&h, code.as_bytes(), 0));
        assert_eq!(err.unwrap_err(), crate::verify::VerifyError::UnexpectedBody);
        // Over any other body it is simply the wrong MAC.
        let body = br#"{"type":"LEAD_ACTION","notificationId":"n-1"}"#;
        assert!(verify(linkedin, &linkedin.scheme(), None, &secret, Inbound::post(&h, body, 0)).is_err());
        // A real event verifies.
        let sig = format!("hmacsha256={}", hex::encode(hmac_sha256(b"linkedin-client-secret", body)));
        let h = Headers::new().with("x-li-signature", sig);
        assert!(verify(linkedin, &linkedin.scheme(), None, &secret, Inbound::post(&h, body, 0)).is_ok());
    }

    #[test]
    fn mailchimp_and_adobe_sign_answer_only_with_the_route_credential() {
        let secret = [Secret::new("mailchimp-url-token-0123")];
        let r = answer(unsigned(
            "mailchimp",
            "GET",
            "https://x/hooks/m?token=mailchimp-url-token-0123",
            &Headers::new(),
            &secret,
        ));
        assert_eq!((r.status, r.body.as_str()), (200, ""));
        for url in ["https://x/hooks/m", "https://x/hooks/m?token=guess"] {
            assert!(matches!(
                unsigned("mailchimp", "GET", url, &Headers::new(), &secret),
                Some(Before::Refuse(401, _))
            ));
        }
        let id = [Secret::new("CBJCHBCAABAAcl1ientId")];
        let h = Headers::new().with("x-adobesign-clientid", "CBJCHBCAABAAcl1ientId");
        let r = answer(unsigned("adobesign", "GET", "https://x/hooks/a", &h, &id));
        assert_eq!(r.body, r#"{"xAdobeSignClientId":"CBJCHBCAABAAcl1ientId"}"#);
        assert!(r.headers.contains(&("x-adobesign-clientid", "CBJCHBCAABAAcl1ientId".to_owned())));
        let other = Headers::new().with("x-adobesign-clientid", "someone-elses-client-id");
        assert!(matches!(unsigned("adobesign", "GET", "https://x", &other, &id), Some(Before::Refuse(401, _))));
        assert_eq!(unsigned("adobesign", "GET", "https://x", &Headers::new(), &id), None);
    }

    #[test]
    fn clio_hands_over_its_secret_like_asana() {
        let h = Headers::new().with("x-hook-secret", "0d4bd1ccc2e3c64e5b6ed8ac6a3e8e63");
        let Some(Before::Keep { name, secret, reply }) = unsigned("clio", "POST", "https://x", &h, &[]) else {
            panic!()
        };
        assert_eq!((name, secret.expose()), ("clio-x-hook-secret", "0d4bd1ccc2e3c64e5b6ed8ac6a3e8e63"));
        assert!(reply.headers.contains(&("x-hook-secret", "0d4bd1ccc2e3c64e5b6ed8ac6a3e8e63".to_owned())));
        assert_eq!(stored_secret_name("clio"), Some("clio-x-hook-secret"));
        let short = Headers::new().with("x-hook-secret", "short");
        assert!(matches!(unsigned("clio", "POST", "https://x", &short, &[]), Some(Before::Refuse(400, _))));
    }

    #[test]
    fn trello_head_and_the_woocommerce_ping_get_an_empty_200() {
        assert!(answers_head("trello") && !answers_head("github"));
        let r = answer(unsigned("trello", "HEAD", "https://x/hooks/t", &Headers::new(), &[]));
        assert_eq!((r.status, r.body.as_str()), (200, ""));
        let ping = |body: &[u8], headers: &Headers| {
            before_verification("woocommerce", "POST", "https://x", headers, body, &[], None)
        };
        assert_eq!(answer(ping(b"webhook_id=12", &Headers::new())).name, "woocommerce-ping");
        // Anything else is an event to verify: another body, or a signed request.
        for body in [&b"webhook_id="[..], b"webhook_id=12&x=1", b"webhook_id=abc", b"{\"id\":1}"] {
            assert_eq!(ping(body, &Headers::new()), None, "{:?}", String::from_utf8_lossy(body));
        }
        assert_eq!(ping(b"webhook_id=12", &Headers::new().with("x-wc-webhook-signature", "abc")), None);
    }

    #[test]
    fn signed_setup_events_of_issue_15_are_answered() {
        // PagerDuty, Intercom and Figma: their ping events need only a 2xx.
        for (name, body, extra) in [
            ("pagerduty", r#"{"event":{"id":"01DEN7","event_type":"pagey.ping","resource_type":"pagey"}}"#, None),
            ("intercom", r#"{"type":"notification_event","topic":"ping","id":"notif_1"}"#, None),
            (
                "figma",
                r#"{"event_type":"PING","passcode":"figma-passcode-0123","webhook_id":"22"}"#,
                Some("figma-passcode-0123"),
            ),
        ] {
            let p = find_provider(name).unwrap();
            let secret = Secret::new(extra.unwrap_or("a-sender-secret-0123"));
            let h = match p.scheme() {
                Scheme::Hmac(_) => signed(name, &secret, body.as_bytes(), &[]),
                _ => Headers::new(),
            };
            let v = verify(
                p,
                &p.scheme(),
                None,
                std::slice::from_ref(&secret),
                Inbound::post(&h, body.as_bytes(), 1_700_000_000),
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(v.handshake(), Some(&crate::verify::Handshake::Ping(p.name)), "{name}");
        }
        // Dropbox Sign's callback_test: the text it needs, not forwarded.
        let key = Secret::new("dropbox-sign-api-key-0123");
        let hash = crate::verify::dropbox_sign::sign(&key, "1700000000", "callback_test");
        let body =
            format!(r#"{{"event":{{"event_time":"1700000000","event_type":"callback_test","event_hash":"{hash}"}}}}"#);
        let h = Headers::new().with("content-type", "application/json");
        let v = verified("dropboxsign", &h, body.as_bytes(), &key);
        let r = after_verification(&v, &h, &[key]).unwrap();
        assert_eq!((r.status, r.body.as_str()), (200, "Hello API Event Received"));
        // Mailchimp's empty POST (its URL token verified): a 200, not an event.
        let p = find_provider("mailchimp").unwrap();
        let secret = Secret::new("mailchimp-url-token-0123");
        let empty_h = Headers::new();
        let inbound =
            Inbound { url: "https://x/hooks/m?token=mailchimp-url-token-0123", ..Inbound::post(&empty_h, b"", 0) };
        let v = verify(p, &p.scheme(), None, std::slice::from_ref(&secret), inbound).unwrap();
        assert_eq!(after_verification(&v, &empty_h, &[]).unwrap().name, "mailchimp-validation");
        let event = Inbound { body: b"type=subscribe", ..inbound };
        let v = verify(p, &p.scheme(), None, std::slice::from_ref(&secret), event).unwrap();
        assert!(after_verification(&v, &empty_h, &[]).is_none());
    }

    #[test]
    fn the_review_table_has_a_row_per_handshake() {
        // Every sender answered here is named in the module docs' table.
        let docs = include_str!("handshake.rs");
        let table: Vec<&str> = docs.lines().filter(|l| l.starts_with("//! | ") && !l.starts_with("//! |---")).collect();
        assert!(table.len() > 25, "{} handshakes reviewed", table.len() - 1);
        for sender in [
            "GitHub",
            "Slack",
            "Zoom",
            "Twitch",
            "Xero",
            "Discord",
            "monday.com",
            "Meta",
            "Dropbox",
            "Okta",
            "Microsoft Graph",
            "X (Twitter)",
            "Asana",
            "Notion",
            "PagerDuty",
            "Intercom",
            "Figma",
            "Nylas",
            "Strava",
            "Oura",
            "RingCentral",
            "LinkedIn",
            "Mailchimp",
            "Adobe Acrobat Sign",
            "Smartsheet",
            "SharePoint",
            "Clio",
            "Dropbox Sign",
            "Trello",
            "WooCommerce",
        ] {
            assert!(table.iter().any(|row| row.starts_with(&format!("//! | {sender}"))), "no review row for {sender}");
        }
    }
}
