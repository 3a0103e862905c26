//! Sender handshakes, answered by the Worker itself and never forwarded: a
//! flow cannot answer within the sender's deadline (Slack and Zoom give 3 s),
//! and most of these are not events at all (webhook-providers.md §b,
//! "Handshake the receiver must answer"). A handshake is only answered on a
//! route configured for that sender.
//!
//! Two kinds:
//! - [`before_verification`]: requests that carry no signature by design
//!   (Meta's and Dropbox's GET challenges, Okta's verification, Microsoft
//!   Graph's `validationToken`, Twitter's CRC). Each is checked as far as the
//!   sender allows (Meta's verify token, Okta's authorization header) and only
//!   echoes what it was given, or an HMAC of it (Twitter).
//! - [`after_verification`]: signed setup events (Slack `url_verification`,
//!   Zoom `endpoint.url_validation`, Twitch `webhook_callback_verification`,
//!   Xero intent-to-receive, Discord `PING`, monday.com `challenge`).

use base64::{engine::general_purpose::STANDARD, Engine};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::{HandshakeReply, Verified};
use crate::{
    headers::Headers,
    secret::{ct_eq, Secret},
};

/// What an unsigned request to a route is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Before {
    /// A handshake: answer this.
    Answer(HandshakeReply),
    /// A handshake that failed its check: refuse with this status and reason.
    Refuse(u16, &'static str),
    /// A handshake that hands over the route's signing secret (Asana's
    /// `X-Hook-Secret`, Notion's `verification_token`): keep `secret` under
    /// [`stored_secret_name`], unless one is kept already, then answer.
    Store {
        /// The secret to keep.
        secret: Secret,
        /// The answer once it is kept.
        reply: HandshakeReply,
    },
}

/// The name under which a sender's handshake secret is kept, for senders
/// that hand one over (and whose events are then verified with it).
pub fn stored_secret_name(provider: &str) -> Option<&'static str> {
    match provider {
        "asana" => Some("asana-x-hook-secret"),
        "notion" => Some("notion-verification-token"),
        _ => None,
    }
}

/// Senders whose handshake arrives as a GET.
pub fn answers_get(provider: &str) -> bool {
    matches!(provider, "meta" | "dropbox" | "okta" | "twitter")
}

fn query(url: &str, key: &str) -> Option<String> {
    let q = url.split_once('?')?.1.split('#').next().unwrap_or("");
    form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == key).map(|(_, v)| v.into_owned())
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
        let v: Value = serde_json::from_slice(body).ok()?;
        let token = v.get("verification_token")?.as_str()?;
        return Some(Before::Store {
            secret: Secret::new(token),
            reply: HandshakeReply::json("notion-verification-token", &json!({ "status": "ok" })),
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
                Before::Answer(HandshakeReply::text("meta-verification", challenge))
            } else {
                Before::Refuse(403, "hub.verify_token does not match the route's verify token")
            })
        }
        // Dropbox: GET ?challenge=<c> → c, text/plain, nosniff.
        ("dropbox", "GET") => {
            let mut r = HandshakeReply::text("dropbox-challenge", query(url, "challenge")?);
            r.headers.push(("x-content-type-options", "nosniff".to_owned()));
            Some(Before::Answer(r))
        }
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
        // are signed with it (X-Hook-Signature).
        ("asana", "POST") => {
            let secret = headers.get("x-hook-secret")?.trim();
            if secret.is_empty() {
                return Some(Before::Refuse(400, "empty X-Hook-Secret"));
            }
            let mut reply = HandshakeReply::text("asana-x-hook-secret", "");
            reply.headers.push(("x-hook-secret", secret.to_owned()));
            Some(Before::Store { secret: Secret::new(secret), reply })
        }
        // Microsoft Graph: POST ?validationToken=<t> → 200 text/plain t (URL-decoded), within 10 s.
        ("msgraph", "POST") => {
            query(url, "validationToken").map(|t| Before::Answer(HandshakeReply::text("msgraph-validation", t)))
        }
        // Twitter / X CRC: GET ?crc_token=<t> → {"response_token": "sha256=" + base64(HMAC-SHA256(consumer secret, t))}.
        ("twitter", "GET") => {
            let token = query(url, "crc_token")?;
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
        let Some(Before::Store { secret, reply }) =
            before_verification("asana", "POST", "https://x", &h, b"", &[], None)
        else {
            panic!()
        };
        assert_eq!(secret.expose(), "b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81");
        assert_eq!(reply.headers, vec![("x-hook-secret", secret.expose().to_owned())]);
        assert_eq!(reply.status, 200);
        // An Asana event (no X-Hook-Secret) is not a handshake.
        assert_eq!(before_verification("asana", "POST", "https://x", &Headers::new(), b"{}", &[], None), None);

        let body = br#"{"verification_token":"secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl"}"#;
        let Some(Before::Store { secret, .. }) =
            before_verification("notion", "POST", "https://x", &Headers::new(), body, &[], None)
        else {
            panic!()
        };
        assert_eq!(secret.expose(), "secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl");
        // A signed Notion event is not the handshake.
        let signed = Headers::new().with("x-notion-signature", "sha256=00");
        assert_eq!(before_verification("notion", "POST", "https://x", &signed, body, &[], None), None);
        assert_eq!(stored_secret_name("github"), None);
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
}
