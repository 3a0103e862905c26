//! The handshake senders of issue 15 through the real Worker: each sender's
//! setup request answered at the edge exactly as the sender needs it, never
//! forwarded; a wrong verify token or credential refused; and the sender's
//! own signed events (signed as `flowgate send` signs them) forwarded.
//!
//! The tests share one stack (`crate::shared`) and only look at runs of
//! their own senders, counted by the `x-flowgate-provider` the flow receives.

use flowgate_core::{verify::find_provider, Secret};
use flowgate_e2e::{
    now_secs, Answer, WorkerProcess, ADOBE_CLIENT_ID, ADYEN_HMAC_KEY, LINKEDIN_SECRET, LINKEDIN_SHARED_SECRET,
    SENDER_SECRET, VERIFY_TOKEN, WIX_PRIVATE_KEY,
};
use flowgate_emulator::senders::{sample_body, sample_content_type, sign, SignedRequest};
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::shared;

fn hmac_hex(key: &str, msg: &[u8]) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    m.update(msg);
    hex::encode(m.finalize().into_bytes())
}

fn runs_of(provider: &str) -> usize {
    shared()
        .emulator
        .runs()
        .iter()
        .filter(|r| r.headers.get("x-flowgate-provider").map(String::as_str) == Some(provider))
        .count()
}

/// `provider`'s sample event (or `body`), signed for route `route` as the
/// sender signs it.
fn signed(worker: &WorkerProcess, provider: &str, route: &str, secret: &str, body: Option<Vec<u8>>) -> SignedRequest {
    let p = find_provider(provider).unwrap();
    let body = body.unwrap_or_else(|| sample_body(p, p.sample_event, now_secs()));
    let url = worker.url(&format!("/hooks/{route}"));
    sign(p, &Secret::new(secret), body, p.sample_event, sample_content_type(p), &url, now_secs()).unwrap()
}

async fn post(worker: &WorkerProcess, route: &str, req: &SignedRequest) -> Answer {
    worker.post_hook(&req.url(route), &req.headers, req.body.clone()).await.unwrap()
}

/// A raw request to `/hooks/{path}`: status, headers, body.
async fn raw(
    worker: &WorkerProcess,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut req = worker.client().request(method, worker.url(&format!("/hooks/{path}"))).body(body.to_owned());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.unwrap();
    let (status, headers) = (r.status().as_u16(), r.headers().clone());
    (status, headers, r.text().await.unwrap())
}

/// Sends `provider`'s signed sample event to its route and checks it reached
/// the flow, once.
async fn event_is_forwarded(provider: &str, secret: &str) {
    let w = &shared().worker;
    let before = runs_of(provider);
    let req = signed(w, provider, provider, secret, None);
    let a = post(w, provider, &req).await;
    assert_eq!(a.status, 202, "{provider}: {}\n{}", a.text, w.log_tail());
    assert_eq!(runs_of(provider), before + 1, "{provider}: forwarded once");
    // The same signature over another body: refused.
    let mut tampered = req.clone();
    tampered.body.insert(1, b' ');
    assert_eq!(post(w, provider, &tampered).await.status, 401, "{provider}: tampered body");
}

#[tokio::test(flavor = "multi_thread")]
async fn nylas_challenge_is_echoed_and_its_events_verify() {
    let w = &shared().worker;
    let before = runs_of("nylas");
    let (s, h, body) = raw(w, Method::GET, "nylas?challenge=bc609b38-c81f-47fb-a275-1d9bd61a968b", &[], "").await;
    assert_eq!((s, body.as_str()), (200, "bc609b38-c81f-47fb-a275-1d9bd61a968b"));
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(runs_of("nylas"), before, "the challenge never reaches the flow");
    event_is_forwarded("nylas", SENDER_SECRET).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn strava_subscription_check_needs_the_verify_token_and_events_the_url_token() {
    let w = &shared().worker;
    let before = runs_of("strava");
    let path = |token: &str| {
        format!("strava?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=15f7d1a91c1f40f8a748fd134752feb3")
    };
    let (s, h, body) = raw(w, Method::GET, &path(VERIFY_TOKEN), &[], "").await;
    assert_eq!(s, 200, "{body}");
    assert!(h["content-type"].to_str().unwrap().starts_with("application/json"));
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"hub.challenge": "15f7d1a91c1f40f8a748fd134752feb3"})
    );
    assert_eq!(raw(w, Method::GET, &path("guess"), &[], "").await.0, 403);
    assert_eq!(runs_of("strava"), before);
    // Events: the secret is the URL's ?token= (Strava signs nothing).
    event_is_forwarded_by_url_token("strava").await;
}

async fn event_is_forwarded_by_url_token(provider: &str) {
    let w = &shared().worker;
    let before = runs_of(provider);
    let req = signed(w, provider, provider, SENDER_SECRET, None);
    assert!(req.query.as_deref().is_some_and(|q| q.starts_with("token=")), "{provider}: {:?}", req.query);
    let a = post(w, provider, &req).await;
    assert_eq!(a.status, 202, "{provider}: {}\n{}", a.text, w.log_tail());
    assert_eq!(runs_of(provider), before + 1);
    // Without the token, or with another: refused.
    let a = w.post_hook(provider, &req.headers, req.body.clone()).await.unwrap();
    assert_eq!(a.status, 401, "{provider}: no token");
    let a = w.post_hook(&format!("{provider}?token=guess"), &req.headers, req.body.clone()).await.unwrap();
    assert_eq!(a.status, 401, "{provider}: wrong token");
    assert!(!w.log().contains(SENDER_SECRET), "the URL's token is never logged");
}

#[tokio::test(flavor = "multi_thread")]
async fn oura_verification_needs_the_verify_token_and_its_events_verify() {
    let w = &shared().worker;
    let before = runs_of("oura");
    let (s, _, body) =
        raw(w, Method::GET, &format!("oura?verification_token={VERIFY_TOKEN}&challenge=Zm9vYmFy"), &[], "").await;
    assert_eq!((s, serde_json::from_str::<Value>(&body).unwrap()), (200, json!({"challenge": "Zm9vYmFy"})));
    assert_eq!(raw(w, Method::GET, "oura?verification_token=guess&challenge=Zm9vYmFy", &[], "").await.0, 403);
    assert_eq!(runs_of("oura"), before);
    event_is_forwarded("oura", SENDER_SECRET).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ringcentral_validation_token_is_echoed_and_events_carry_the_verification_token() {
    let w = &shared().worker;
    let before = runs_of("ringcentral");
    let (s, h, body) =
        raw(w, Method::POST, "ringcentral", &[("validation-token", "7b6d2e1a-0000-4000-8000-000000000001")], "").await;
    assert_eq!((s, body.as_str()), (200, ""));
    assert_eq!(h["validation-token"], "7b6d2e1a-0000-4000-8000-000000000001");
    assert!(body.len() + h.len() * 64 < 1024, "RingCentral wants the answer under 1 KiB");
    assert_eq!(raw(w, Method::POST, "ringcentral", &[("validation-token", "a b")], "").await.0, 400);
    assert_eq!(runs_of("ringcentral"), before);
    let req = signed(w, "ringcentral", "ringcentral", SENDER_SECRET, None);
    assert_eq!(post(w, "ringcentral", &req).await.status, 202);
    assert_eq!(runs_of("ringcentral"), before + 1);
    let mut wrong = req.clone();
    wrong.headers.retain(|(k, _)| k != "verification-token");
    wrong.headers.push(("verification-token".into(), "guess".into()));
    assert_eq!(post(w, "ringcentral", &wrong).await.status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn linkedin_validation_answers_uuid_codes_only_and_never_on_a_shared_secret() {
    let w = &shared().worker;
    let before = runs_of("linkedin");
    let code = "890e4665-4dfe-4ab1-b689-ed553bceeed0";
    let (s, _, body) = raw(w, Method::GET, &format!("linkedin?challengeCode={code}"), &[], "").await;
    assert_eq!(s, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v, json!({"challengeCode": code, "challengeResponse": hmac_hex(LINKEDIN_SECRET, code.as_bytes())}));
    // A body as the code (the oracle attack): refused, nothing computed.
    let forged = r#"{"type":"LEAD_ACTION","notificationId":"forged"}"#;
    let encoded: String = forged
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect();
    let (s, _, text) = raw(w, Method::GET, &format!("linkedin?challengeCode={encoded}"), &[], "").await;
    assert_eq!(s, 400, "{text}");
    assert!(!text.contains("challengeResponse"));
    // The answer does not sign an event: over the code it is not a JSON object,
    // over a JSON body it is the wrong MAC.
    let sig = vec![("x-li-signature".to_owned(), format!("hmacsha256={}", v["challengeResponse"].as_str().unwrap()))];
    assert_eq!(w.post_hook("linkedin", &sig, code.as_bytes().to_vec()).await.unwrap().status, 401);
    assert_eq!(w.post_hook("linkedin", &sig, forged.as_bytes().to_vec()).await.unwrap().status, 401);
    // A route whose key another route holds answers no validation at all,
    // and neither route takes events (one key, one route).
    let (s, _, text) = raw(w, Method::GET, &format!("linkedin-shared?challengeCode={code}"), &[], "").await;
    assert_eq!(s, 500, "{text}");
    assert!(!text.contains(&hmac_hex(LINKEDIN_SHARED_SECRET, code.as_bytes())));
    let gh = signed(w, "github", "linkedin-shared-gh", LINKEDIN_SHARED_SECRET, None);
    assert_eq!(post(w, "linkedin-shared-gh", &gh).await.status, 500);
    assert_eq!(runs_of("linkedin"), before);
    event_is_forwarded("linkedin", LINKEDIN_SECRET).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mailchimp_validation_gets_a_200_and_events_need_the_url_token() {
    let w = &shared().worker;
    let before = runs_of("mailchimp");
    let (s, _, body) = raw(w, Method::GET, &format!("mailchimp?token={SENDER_SECRET}"), &[], "").await;
    assert_eq!((s, body.as_str()), (200, ""));
    assert_eq!(raw(w, Method::GET, "mailchimp", &[], "").await.0, 401);
    // The empty POST some validators send: 200, not an event.
    let (s, _, _) = raw(w, Method::POST, &format!("mailchimp?token={SENDER_SECRET}"), &[], "").await;
    assert_eq!(s, 200);
    assert_eq!(runs_of("mailchimp"), before);
    event_is_forwarded_by_url_token("mailchimp").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn adobe_sign_client_id_is_echoed_on_verification_and_on_every_event() {
    let w = &shared().worker;
    let before = runs_of("adobesign");
    let (s, h, body) = raw(w, Method::GET, "adobesign", &[("x-adobesign-clientid", ADOBE_CLIENT_ID)], "").await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(h["x-adobesign-clientid"], ADOBE_CLIENT_ID);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["xAdobeSignClientId"], ADOBE_CLIENT_ID);
    assert_eq!(raw(w, Method::GET, "adobesign", &[("x-adobesign-clientid", "someone-else")], "").await.0, 401);
    assert_eq!(runs_of("adobesign"), before);
    // Each notification's answer echoes it too, or Acrobat Sign retries.
    let req = signed(w, "adobesign", "adobesign", ADOBE_CLIENT_ID, None);
    let mut r = w.client().post(w.url("/hooks/adobesign")).body(req.body.clone());
    for (k, v) in &req.headers {
        r = r.header(k, v);
    }
    let r = r.send().await.unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(r.headers()["x-adobesign-clientid"], ADOBE_CLIENT_ID);
    assert_eq!(runs_of("adobesign"), before + 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn smartsheet_challenge_is_echoed_and_its_events_verify() {
    let w = &shared().worker;
    let before = runs_of("smartsheet");
    let c = "d78dd1d3-01ce-4481-81de-92b4f3aa5ab1";
    let body = format!(r#"{{"challenge":"{c}","webhookId":4509506114742148}}"#);
    let (s, h, text) = raw(w, Method::POST, "smartsheet", &[("smartsheet-hook-challenge", c)], &body).await;
    assert_eq!(s, 200, "{text}");
    assert_eq!(h["smartsheet-hook-response"], c);
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), json!({"smartsheetHookResponse": c}));
    assert_eq!(runs_of("smartsheet"), before);
    event_is_forwarded("smartsheet", SENDER_SECRET).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sharepoint_validation_token_is_echoed_and_client_state_events_verify() {
    let w = &shared().worker;
    let before = runs_of("sharepoint");
    let (s, h, body) = raw(w, Method::POST, "sharepoint?validationtoken=abc%3A1%2Fsp", &[], "").await;
    assert_eq!((s, body.as_str()), (200, "abc:1/sp"));
    assert!(h["content-type"].to_str().unwrap().starts_with("text/plain"));
    assert_eq!(runs_of("sharepoint"), before);
    let req = signed(w, "sharepoint", "sharepoint", SENDER_SECRET, None);
    assert_eq!(post(w, "sharepoint", &req).await.status, 202);
    assert_eq!(runs_of("sharepoint"), before + 1);
    let forged = String::from_utf8(req.body.clone()).unwrap().replace(SENDER_SECRET, "a-guessed-client-state");
    assert_eq!(w.post_hook("sharepoint", &req.headers, forged.into_bytes()).await.unwrap().status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn clio_hands_over_its_secret_only_in_the_operators_window() {
    let w = &shared().worker;
    let window = |op: &str| format!("/admin/v1/routes/clio/handshake/{op}");
    let secret = "0d4bd1ccc2e3c64e5b6ed8ac6a3e8e63a1b2c3d4";
    // No window: nothing kept.
    assert_eq!(raw(w, Method::POST, "clio", &[("x-hook-secret", "an-attackers-secret-0123")], "").await.0, 403);
    let (s, v) = w.admin(Method::POST, &window("open"), Some(json!({"for_secs": 600}))).await.unwrap();
    assert_eq!(s, 200, "{v}");
    let (s, h, _) = raw(w, Method::POST, "clio", &[("x-hook-secret", secret)], "").await;
    assert_eq!(s, 200);
    assert_eq!(h["x-hook-secret"], secret);
    // Events are signed with it; the window closed; it is never replaced.
    let before = runs_of("clio");
    let req = signed(w, "clio", "clio", secret, None);
    let a = post(w, "clio", &req).await;
    assert_eq!(a.status, 202, "{}\n{}", a.text, w.log_tail());
    assert_eq!(runs_of("clio"), before + 1);
    assert_eq!(raw(w, Method::POST, "clio", &[("x-hook-secret", "an-attackers-secret-0123")], "").await.0, 403);
    let forged = signed(w, "clio", "clio", "an-attackers-secret-0123", None);
    assert_eq!(post(w, "clio", &forged).await.status, 401);
    assert!(!w.log().contains(secret), "the kept secret is never logged");
}

#[tokio::test(flavor = "multi_thread")]
async fn dropbox_sign_callbacks_are_answered_hello_api_event_received() {
    let w = &shared().worker;
    let before = runs_of("dropboxsign");
    // The callback test sent when a callback URL is set: answered, not forwarded.
    let p = find_provider("dropboxsign").unwrap();
    let url = w.url("/hooks/dropboxsign");
    let body = sample_body(p, "callback_test", now_secs());
    let test =
        sign(p, &Secret::new(SENDER_SECRET), body, "callback_test", "application/json", &url, now_secs()).unwrap();
    let a = post(w, "dropboxsign", &test).await;
    assert_eq!((a.status, a.text.as_str()), (200, "Hello API Event Received"), "{}", w.log_tail());
    assert_eq!(runs_of("dropboxsign"), before);
    // An event: forwarded, and answered with the same text (else Dropbox Sign retries).
    let req = signed(w, "dropboxsign", "dropboxsign", SENDER_SECRET, None);
    let a = post(w, "dropboxsign", &req).await;
    assert_eq!((a.status, a.text.as_str()), (200, "Hello API Event Received"));
    assert_eq!(runs_of("dropboxsign"), before + 1);
    let run = shared().emulator.runs().into_iter().rev().find(|r| r.body == req.body).expect("byte for byte");
    assert_eq!(run.headers["x-flowgate-event"], "signature_request_sent");
    // Under another API key: refused (401, not the acknowledgement).
    let forged = signed(w, "dropboxsign", "dropboxsign", "another-api-key", None);
    assert_eq!(post(w, "dropboxsign", &forged).await.status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn adyen_notifications_are_verified_per_item_and_answered_accepted() {
    let w = &shared().worker;
    let before = runs_of("adyen");
    // As `flowgate send adyen` sends it: forwarded byte for byte, answered [accepted].
    let req = signed(w, "adyen", "adyen", ADYEN_HMAC_KEY, None);
    let a = post(w, "adyen", &req).await;
    assert_eq!((a.status, a.text.as_str()), (200, "[accepted]"), "{}", w.log_tail());
    assert_eq!(runs_of("adyen"), before + 1);
    let run = shared().emulator.runs().into_iter().rev().find(|r| r.body == req.body).expect("byte for byte");
    assert_eq!(run.headers["x-flowgate-event"], "AUTHORISATION");
    // The same notification again (Adyen's retry): suppressed, and still answered [accepted].
    let again = post(w, "adyen", &req).await;
    assert!(again.status == 200 || again.status == 409, "{} {}", again.status, again.text);
    assert_eq!(runs_of("adyen"), before + 1, "a retry is not forwarded twice");
    // A captured notification with an unsigned field changed (reason) under
    // the same signed fields: the same delivery id and proof, another body —
    // not forwarded as a new event.
    let text = String::from_utf8(req.body.clone()).unwrap();
    let mut altered = req.clone();
    altered.body = text.replacen("058747:1111:03/2030", "999999:0000:01/2031", 1).into_bytes();
    assert_ne!(altered.body, req.body);
    let a = post(w, "adyen", &altered).await;
    assert!(a.status < 500, "{} {}", a.status, a.text);
    assert_eq!(runs_of("adyen"), before + 1, "an altered copy is not forwarded");
    // A signed field changed (the amount): refused, not forwarded.
    let mut tampered = req.clone();
    tampered.body = text.replacen("\"value\":1130", "\"value\":113000", 1).into_bytes();
    assert_ne!(tampered.body, req.body);
    assert_eq!(post(w, "adyen", &tampered).await.status, 401);
    // Under another HMAC key; and with the signature removed.
    let forged = signed(w, "adyen", "adyen", "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF", None);
    assert_eq!(post(w, "adyen", &forged).await.status, 401);
    let v: Value = serde_json::from_slice(&req.body).unwrap();
    let sig = v["notificationItems"][0]["NotificationRequestItem"]["additionalData"]["hmacSignature"].as_str().unwrap();
    let mut unsigned = req.clone();
    unsigned.body = text.replace(sig, "").into_bytes();
    assert!(post(w, "adyen", &unsigned).await.status >= 400);
    assert_eq!(runs_of("adyen"), before + 1, "nothing unverified reached the flow");
}

#[tokio::test(flavor = "multi_thread")]
async fn wix_jwt_bodies_are_verified_with_the_apps_public_key_and_forwarded_as_is() {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
    let w = &shared().worker;
    let before = runs_of("wix");
    let req = signed(w, "wix", "wix", WIX_PRIVATE_KEY, None);
    assert!(req.headers.contains(&("content-type".to_owned(), "text/plain".to_owned())));
    let a = post(w, "wix", &req).await;
    assert_eq!(a.status, 202, "{}\n{}", a.text, w.log_tail());
    assert_eq!(runs_of("wix"), before + 1);
    let run = shared().emulator.runs().into_iter().rev().find(|r| r.body == req.body).expect("the JWT, byte for byte");
    assert_eq!(run.headers["x-flowgate-event"], "wix.ecom.v1.order_created");
    // Another payload under the same signature; another key's signature; alg none.
    let token = String::from_utf8(req.body.clone()).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["exp"] = json!(claims["exp"].as_u64().unwrap() + 1);
    let swapped = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(claims.to_string()), parts[2]);
    let mut tampered = req.clone();
    tampered.body = swapped.into_bytes();
    assert_eq!(post(w, "wix", &tampered).await.status, 401);
    let other_key = include_str!("../fixtures/entra-test-key.pem");
    let forged = signed(w, "wix", "wix", other_key, None);
    assert_eq!(post(w, "wix", &forged).await.status, 401);
    let none = format!("{}.{}.", URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#), parts[1]);
    let mut unsigned = req.clone();
    unsigned.body = none.into_bytes();
    assert!(post(w, "wix", &unsigned).await.status >= 400);
    assert_eq!(runs_of("wix"), before + 1, "nothing unverified reached the flow");
}

#[tokio::test(flavor = "multi_thread")]
async fn trello_head_woocommerce_ping_and_signed_pings_are_answered_at_the_edge() {
    let w = &shared().worker;
    // Trello checks a new webhook's callback URL with a HEAD.
    let before = runs_of("trello");
    assert_eq!(raw(w, Method::HEAD, "trello", &[], "").await.0, 200);
    assert_eq!(raw(w, Method::HEAD, "stripe", &[], "").await.0, 405, "only on a Trello route");
    assert_eq!(runs_of("trello"), before);
    // WooCommerce's unsigned ping on saving a webhook.
    let before = runs_of("woocommerce");
    let form = [("content-type", "application/x-www-form-urlencoded")];
    assert_eq!(raw(w, Method::POST, "woocommerce", &form, "webhook_id=12").await.0, 200);
    assert_eq!(raw(w, Method::POST, "woocommerce", &form, "webhook_id=12&x=1").await.0, 401);
    assert_eq!(runs_of("woocommerce"), before);
    event_is_forwarded("woocommerce", SENDER_SECRET).await;
    // PagerDuty's pagey.ping, Intercom's ping topic, Figma's PING: signed, 200, not forwarded.
    for (provider, body) in [
        (
            "pagerduty",
            json!({"event": {"id": "01DEN7", "event_type": "pagey.ping", "resource_type": "pagey", "occurred_at": "2026-12-01T00:00:00Z"}}),
        ),
        (
            "intercom",
            json!({"type": "notification_event", "topic": "ping", "id": "notif_ping", "data": {"item": {"type": "ping", "message": "hi"}}}),
        ),
        ("figma", json!({"event_type": "PING", "webhook_id": "22", "timestamp": "2026-12-01T00:00:00Z"})),
    ] {
        let before = runs_of(provider);
        let req = signed(w, provider, provider, SENDER_SECRET, Some(body.to_string().into_bytes()));
        let a = post(w, provider, &req).await;
        assert_eq!(a.status, 200, "{provider}: {}", a.text);
        assert_eq!(a.json["handshake"], format!("{provider}-ping"));
        assert_eq!(runs_of(provider), before, "{provider}: a ping never reaches the flow");
    }
}
