//! Senders beyond GitHub and Standard Webhooks through the real Worker:
//! signed exactly as each sender signs (`flowgate send`'s signer), their
//! handshakes answered at the edge and never forwarded, and a custom scheme.

use flowgate_core::{
    verify::{find_provider, scheme::HmacScheme, Scheme},
    Secret,
};
use flowgate_e2e::{
    now_secs, runs_for, standard_setup, start_emulator, EmulatorConfig, WorkerProcess, DISCORD_PRIVATE_KEY,
    META_VERIFY_TOKEN, PLAID_PRIVATE_KEY, SENDER_SECRET, TELNYX_PRIVATE_KEY, TWITTER_SECRET,
};
use flowgate_emulator::senders::{sample_body, sign};
use hmac::{Hmac, Mac};
use sha2::Sha256;

fn hmac_hex(key: &str, msg: &str) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    m.update(msg.as_bytes());
    hex::encode(m.finalize().into_bytes())
}

/// POSTs `body` to `route`, signed as `provider` signs for that exact URL.
async fn send_signed(
    worker: &WorkerProcess,
    provider: &str,
    route: &str,
    body: Vec<u8>,
    extra: &[(&str, &str)],
) -> flowgate_e2e::Answer {
    let p = find_provider(provider).unwrap();
    let url = worker.url(&format!("/hooks/{route}"));
    let secret = match provider {
        "discord" => DISCORD_PRIVATE_KEY,
        "telnyx" => TELNYX_PRIVATE_KEY,
        "twitter" => TWITTER_SECRET,
        _ => SENDER_SECRET,
    };
    let mut req = sign(p, &Secret::new(secret), body, p.sample_event, "application/json", &url, now_secs()).unwrap();
    for (k, v) in extra {
        // Replacing what the sender sets by default (Twitch's message type).
        req.headers.retain(|(h, _)| !h.eq_ignore_ascii_case(k));
        req.headers.push(((*k).to_owned(), (*v).to_owned()));
    }
    worker.post_hook(route, &req.headers, req.body).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn built_in_senders_verify_and_forward_through_the_worker() {
    let emulator = start_emulator(EmulatorConfig::demo()).await.unwrap();
    let worker = WorkerProcess::start(&standard_setup(&emulator)).await.unwrap();
    // Stripe, Slack (form-encoded), Square (URL-bound), Twitch (RFC 3339 timestamps), Xero.
    for provider in ["stripe", "slack", "square", "twitch", "xero", "meta", "zoom", "twitter", "dropbox"] {
        let p = find_provider(provider).unwrap();
        let body = sample_body(p, p.sample_event, now_secs());
        let a = send_signed(&worker, provider, provider, body.clone(), &[]).await;
        assert_eq!(a.status, 202, "{provider}: {}\n{}", a.text, worker.log_tail());
        let id = a.json["delivery_id"].as_str().map(str::to_owned);
        let run = emulator.runs().into_iter().find(|r| r.body == body).unwrap_or_else(|| panic!("{provider}: no run"));
        assert_eq!(run.headers["x-flowgate-provider"], provider);
        if let Some(id) = id {
            assert_eq!(runs_for(&emulator, &id).len(), 1, "{provider}");
        }
        // The same signature over another body: refused, not forwarded.
        let mut tampered = body.clone();
        tampered.push(b' ');
        let url = worker.url(&format!("/hooks/{provider}"));
        let secret = if provider == "twitter" { TWITTER_SECRET } else { SENDER_SECRET };
        let signed = sign(p, &Secret::new(secret), body, p.sample_event, "application/json", &url, now_secs()).unwrap();
        let a = worker.post_hook(provider, &signed.headers, tampered).await.unwrap();
        assert_eq!(a.status, 401, "{provider}: tampered body");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_custom_scheme_verifies_like_the_built_in_it_copies() {
    let emulator = start_emulator(EmulatorConfig::demo()).await.unwrap();
    let worker = WorkerProcess::start(&standard_setup(&emulator)).await.unwrap();
    // The `acme` route's scheme is Stripe's, written in wrangler.toml.
    let Scheme::Hmac(stripe) = find_provider("stripe").unwrap().scheme() else { panic!() };
    let acme = HmacScheme { signature_headers: vec!["acme-signature".into()], ..stripe.clone() };
    let body = br#"{"id":"evt_custom_1","type":"thing.happened"}"#.to_vec();
    let headers = acme.sign(&Secret::new(SENDER_SECRET), &body, now_secs(), "", "", "POST").unwrap();
    let a = worker.post_hook("acme", &headers, body.clone()).await.unwrap();
    assert_eq!(a.status, 202, "{}", a.text);
    let run = &runs_for(&emulator, "evt_custom_1")[0];
    assert_eq!(run.headers["x-flowgate-event"], "thing.happened");
    assert_eq!(run.headers["x-flowgate-provider"], "custom");
    let old = acme.sign(&Secret::new(SENDER_SECRET), &body, now_secs() - 301, "", "", "POST").unwrap();
    assert_eq!(worker.post_hook("acme", &old, body).await.unwrap().status, 401, "outside the window");
}

#[tokio::test(flavor = "multi_thread")]
async fn handshakes_are_answered_at_the_edge_and_never_reach_the_flow() {
    let emulator = start_emulator(EmulatorConfig::demo()).await.unwrap();
    let worker = WorkerProcess::start(&standard_setup(&emulator)).await.unwrap();
    let c = worker.client();

    // Slack url_verification (signed).
    let body = br#"{"token":"t","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let a = send_signed(&worker, "slack", "slack", body.to_vec(), &[]).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json["challenge"], "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P");

    // Zoom endpoint.url_validation (signed): encryptedToken = hex HMAC-SHA256(secret, plainToken).
    let body = br#"{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680,"event":"endpoint.url_validation"}"#;
    let a = send_signed(&worker, "zoom", "zoom", body.to_vec(), &[]).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json["plainToken"], "qgg8vlvZRS6UYooatFL8Aw");
    assert_eq!(a.json["encryptedToken"], hmac_hex(SENDER_SECRET, "qgg8vlvZRS6UYooatFL8Aw"));

    // Twitch webhook_callback_verification (signed): the raw challenge, text/plain.
    let body = br#"{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{"type":"channel.follow"}}"#;
    let a = send_signed(
        &worker,
        "twitch",
        "twitch",
        body.to_vec(),
        &[("twitch-eventsub-message-type", "webhook_callback_verification")],
    )
    .await;
    assert_eq!((a.status, a.text.as_str()), (200, "pogchamp-kappa-360noscope-vohiyo"));

    // Xero intent to receive (signed, no events): 200, empty.
    let a = send_signed(&worker, "xero", "xero", br#"{"events":[],"entropy":"S0m3r4Nd0m"}"#.to_vec(), &[]).await;
    assert_eq!((a.status, a.text.as_str()), (200, ""));

    // Meta: GET with the verify token → the challenge; a wrong token → 403.
    let url = worker.url(&format!(
        "/hooks/meta?hub.mode=subscribe&hub.verify_token={}&hub.challenge=1158201444",
        META_VERIFY_TOKEN.replace(' ', "%20")
    ));
    let r = c.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "1158201444");
    let r = c
        .get(worker.url("/hooks/meta?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // Dropbox: GET ?challenge= → echoed, nosniff.
    let r = c.get(worker.url("/hooks/dropbox?challenge=abc123")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.text().await.unwrap(), "abc123");

    // Twitter CRC: GET ?crc_token= → sha256=base64 HMAC(consumer secret, token).
    let r = c.get(worker.url("/hooks/twitter?crc_token=9b4507b3")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    let mut m = Hmac::<Sha256>::new_from_slice(TWITTER_SECRET.as_bytes()).unwrap();
    m.update(b"9b4507b3");
    use base64::Engine;
    let expected = format!("sha256={}", base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes()));
    assert_eq!(v["response_token"], expected);

    // Only on the sender's own routes: a GET challenge on a GitHub route is refused,
    // and an unsigned Slack challenge to the Stripe route is just unsigned.
    assert_eq!(c.get(worker.url("/hooks/gh?challenge=abc")).send().await.unwrap().status(), 405);
    let r = c
        .post(worker.url("/hooks/stripe"))
        .body(r#"{"type":"url_verification","challenge":"x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    assert_eq!(emulator.stats().flow_requests, 0, "no handshake reached the flow");
    assert_eq!(emulator.stats().token_requests, 0, "nor asked Entra for a token");
}

#[tokio::test(flavor = "multi_thread")]
async fn asana_and_notion_hand_over_their_secret_only_in_the_operators_window() {
    let emulator = start_emulator(EmulatorConfig::demo()).await.unwrap();
    let worker = WorkerProcess::start(&standard_setup(&emulator)).await.unwrap();
    let c = worker.client();
    let window = |route: &str, op: &str| format!("/admin/v1/routes/{route}/handshake/{op}");

    // Without a window opened by the operator, nothing is kept.
    let asana_secret = "b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81";
    let r =
        c.post(worker.url("/hooks/asana")).header("x-hook-secret", "an-attackers-secret-0123").send().await.unwrap();
    assert_eq!(r.status(), 403, "{}", worker.log_tail());
    let (s, v) = worker.admin(reqwest::Method::GET, "/admin/v1/routes/asana/handshake", None).await.unwrap();
    assert_eq!(
        (s, v["kept_at"].clone(), v["open_until"].clone()),
        (200, serde_json::Value::Null, serde_json::Value::Null)
    );

    // The operator opens it; Asana's handshake is echoed and kept, once.
    let (s, v) = worker
        .admin(reqwest::Method::POST, &window("asana", "open"), Some(serde_json::json!({"for_secs": 600})))
        .await
        .unwrap();
    assert_eq!(s, 200, "{v}");
    assert!(v["open_until"].as_i64().unwrap() > now_secs() as i64 + 500);
    let r = c.post(worker.url("/hooks/asana")).header("x-hook-secret", asana_secret).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-hook-secret"], asana_secret);
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    // Events are then signed with it.
    let body = br#"{"events":[{"action":"changed","resource":{"gid":"1"}}]}"#.to_vec();
    let sig = hmac_hex(asana_secret, std::str::from_utf8(&body).unwrap());
    let a = worker.post_hook("asana", &[("x-hook-signature".into(), sig.clone())], body.clone()).await.unwrap();
    assert_eq!(a.status, 202, "{}\n{}", a.text, worker.log_tail());
    // The window closed with it: a second handshake is refused, and even in
    // a new window the kept secret is never replaced silently.
    let r =
        c.post(worker.url("/hooks/asana")).header("x-hook-secret", "an-attackers-secret-0123").send().await.unwrap();
    assert_eq!(r.status(), 403);
    worker.admin(reqwest::Method::POST, &window("asana", "open"), None).await.unwrap();
    let r =
        c.post(worker.url("/hooks/asana")).header("x-hook-secret", "an-attackers-secret-0123").send().await.unwrap();
    assert_eq!(r.status(), 409);
    let forged = hmac_hex("an-attackers-secret-0123", std::str::from_utf8(&body).unwrap());
    assert_eq!(
        worker.post_hook("asana", &[("x-hook-signature".into(), forged)], body.clone()).await.unwrap().status,
        401
    );
    // Re-registering is explicit: reset, then the next handshake is kept.
    let (s, v) = worker.admin(reqwest::Method::POST, &window("asana", "reset"), None).await.unwrap();
    assert_eq!((s, v["kept_at"].clone()), (200, serde_json::Value::Null));
    assert!(worker.wait_for_log("handshake_window").await);

    // Notion: a blank token is refused (400), nothing kept; a real one is
    // kept in the window and verifies events; the operator reads it back.
    worker.admin(reqwest::Method::POST, &window("notion", "open"), None).await.unwrap();
    let r = c.post(worker.url("/hooks/notion")).body(r#"{"verification_token":" "}"#).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let token = "secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl";
    let r = c
        .post(worker.url("/hooks/notion"))
        .body(format!(r#"{{"verification_token":"{token}"}}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (s, v) = worker.admin(reqwest::Method::POST, &window("notion", "reveal"), None).await.unwrap();
    assert_eq!((s, v["secret"].as_str()), (200, Some(token)));
    let body = br#"{"id":"n-1","type":"page.created","entity":{"id":"p"}}"#.to_vec();
    let sig = format!("sha256={}", hmac_hex(token, std::str::from_utf8(&body).unwrap()));
    let a = worker.post_hook("notion", &[("x-notion-signature".into(), sig)], body).await.unwrap();
    assert_eq!(a.status, 202, "{}", a.text);
    assert_eq!(runs_for(&emulator, "n-1").len(), 1);

    // A route with configured secret_bindings answers the echo and keeps nothing.
    worker.admin(reqwest::Method::POST, &window("asana-configured", "open"), None).await.unwrap();
    let r = c.post(worker.url("/hooks/asana-configured")).header("x-hook-secret", asana_secret).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let sig = hmac_hex(asana_secret, r#"{"events":[]}"#);
    let a = worker
        .post_hook("asana-configured", &[("x-hook-signature".into(), sig)], br#"{"events":[]}"#.to_vec())
        .await
        .unwrap();
    assert_eq!(a.status, 401, "the handed-over secret was not added to the route's secrets");

    assert!(!worker.log().contains(asana_secret) && !worker.log().contains(token), "kept secrets are never logged");
}

#[tokio::test(flavor = "multi_thread")]
async fn okta_graph_discord_and_monday_handshakes_and_events() {
    let emulator = start_emulator(EmulatorConfig::demo()).await.unwrap();
    let worker = WorkerProcess::start(&standard_setup(&emulator)).await.unwrap();
    let c = worker.client();

    // Okta: GET verification with the configured Authorization value.
    let r = c
        .get(worker.url("/hooks/okta"))
        .header("x-okta-verification-challenge", "vc-42")
        .header("authorization", SENDER_SECRET)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["verification"], "vc-42");
    let r = c.get(worker.url("/hooks/okta")).header("x-okta-verification-challenge", "vc-42").send().await.unwrap();
    assert_eq!(r.status(), 401, "without the configured Authorization");

    // Microsoft Graph: POST ?validationToken= → the token, text/plain.
    let r = c.post(worker.url("/hooks/msgraph?validationToken=Validation%3A%20Testing")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    assert_eq!(r.text().await.unwrap(), "Validation: Testing");

    // Discord: PING (type 1) → {"type":1}.
    let a = send_signed(&worker, "discord", "discord", br#"{"type":1,"id":"ping-1"}"#.to_vec(), &[]).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json["type"], 1);

    // monday.com: {"challenge": c} → the same JSON.
    let a =
        send_signed(&worker, "monday", "monday", br#"{"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmd"}"#.to_vec(), &[])
            .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json["challenge"], "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmd");
    assert_eq!(emulator.stats().flow_requests, 0, "no handshake reached the flow");

    // And their ordinary events are forwarded (Graph and the like carry the
    // secret in the body, so the signer writes the body: count the runs).
    for (n, provider) in ["okta", "msgraph", "discord", "monday"].into_iter().enumerate() {
        let p = find_provider(provider).unwrap();
        let a = send_signed(&worker, provider, provider, sample_body(p, p.sample_event, now_secs()), &[]).await;
        assert_eq!(a.status, 202, "{provider}: {}", a.text);
        assert_eq!(emulator.runs().len(), n + 1, "{provider}");
        assert_eq!(emulator.runs()[n].headers["x-flowgate-provider"], provider);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn plaid_keys_are_fetched_once_by_kid_and_a_tampered_body_is_refused() {
    use flowgate_core::verify::plaid;
    let emulator = start_emulator(EmulatorConfig::demo()).await.unwrap();
    let worker = WorkerProcess::start(&standard_setup(&emulator)).await.unwrap();
    let p = find_provider("plaid").unwrap();
    let key = Secret::new(PLAID_PRIVATE_KEY);
    let signed = |route: &str, event: &str| {
        let body = sample_body(p, event, now_secs());
        sign(p, &key, body, event, "application/json", &worker.url(&format!("/hooks/{route}")), now_secs()).unwrap()
    };

    // First webhook: the key is fetched from Plaid (the emulator), then forwarded.
    let first = signed("plaid", "TRANSACTIONS.SYNC_UPDATES_AVAILABLE");
    let a = worker.post_hook("plaid", &first.headers, first.body.clone()).await.unwrap();
    assert_eq!(a.status, 202, "{}\n{}", a.text, worker.log_tail());
    assert_eq!(emulator.stats().plaid_key_requests, 1);
    let run = emulator.runs().into_iter().find(|r| r.body == first.body).expect("forwarded byte for byte");
    assert_eq!(run.headers["x-flowgate-provider"], "plaid");
    assert_eq!(run.headers["x-flowgate-event"], "TRANSACTIONS.SYNC_UPDATES_AVAILABLE");

    // Second webhook: the cached key verifies it; Plaid is not asked again.
    let second = signed("plaid", "ITEM.WEBHOOK_UPDATE_ACKNOWLEDGED");
    let a = worker.post_hook("plaid", &second.headers, second.body.clone()).await.unwrap();
    assert_eq!(a.status, 202, "{}", a.text);
    assert_eq!(emulator.stats().plaid_key_requests, 1, "the key is cached by kid");
    assert_eq!(emulator.stats().flow_accepted, 2);

    // The same token over a changed body: 401, nothing forwarded.
    let mut tampered = second.body.clone();
    let at = tampered.len() / 2;
    tampered[at] ^= 0x01;
    let a = worker.post_hook("plaid", &second.headers, tampered).await.unwrap();
    assert_eq!(a.status, 401, "{}", a.text);
    assert_eq!(emulator.stats().flow_accepted, 2);

    // A kid Plaid does not know: asked once, then refused as forged (401).
    let body = sample_body(p, p.sample_event, now_secs());
    let token = plaid::sign(&key, "not-a-plaid-kid", &plaid::claims(&body, now_secs())).unwrap();
    let a = worker.post_hook("plaid", &[(plaid::HEADER.to_owned(), token.clone())], body.clone()).await.unwrap();
    assert_eq!(a.status, 401, "{}", a.text);
    assert_eq!(emulator.stats().plaid_key_requests, 2);

    // Credentials Plaid refuses: 502 naming the failure, nothing forwarded, no secret logged.
    let a = worker.post_hook("plaid-wrong", &[(plaid::HEADER.to_owned(), token)], body).await.unwrap();
    assert_eq!(a.status, 502, "{}", a.text);
    assert_eq!(a.json["error"], "verification_key_unavailable");
    assert!(worker.wait_for_log("INVALID_API_KEYS").await, "{}", worker.log_tail());
    assert_eq!(emulator.stats().flow_accepted, 2);
    let log = worker.log();
    assert!(!log.contains(flowgate_emulator::DEMO_PLAID_SECRET) && !log.contains("not-the-plaid-secret"));
}

/// Telnyx, an Ed25519 sender end to end: signed over `timestamp|body` with
/// the account's private key, verified by the Worker with the base64 public
/// key, forwarded once with its labels; the same request again is a
/// duplicate, and so is Telnyx's retry (`meta.attempt` counted up); another
/// event under the same id is forwarded; an altered body, an old timestamp and Discord's
/// `timestamp‖body` form are refused.
#[tokio::test(flavor = "multi_thread")]
async fn telnyx_ed25519_signatures_verify_and_forward_through_the_worker() {
    use flowgate_core::verify::telnyx;
    let emulator = start_emulator(EmulatorConfig::demo()).await.unwrap();
    let worker = WorkerProcess::start(&standard_setup(&emulator)).await.unwrap();
    let p = find_provider("telnyx").unwrap();
    let body = sample_body(p, p.sample_event, now_secs());
    let a = send_signed(&worker, "telnyx", "telnyx", body.clone(), &[]).await;
    assert_eq!(a.status, 202, "{}\n{}", a.text, worker.log_tail());
    let event: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let id = event["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(a.json["delivery_id"].as_str(), Some(id.as_str()));
    let runs = runs_for(&emulator, &id);
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].headers["x-flowgate-provider"], "telnyx");
    assert_eq!(runs[0].headers["x-flowgate-event"], "message.received");
    assert_eq!(runs[0].body, body);

    // The same request again: a duplicate, not forwarded twice.
    let p = find_provider("telnyx").unwrap();
    let url = worker.url("/hooks/telnyx");
    let first =
        sign(p, &Secret::new(TELNYX_PRIVATE_KEY), body.clone(), p.sample_event, "application/json", &url, now_secs())
            .unwrap();
    let again = worker.post_hook("telnyx", &first.headers, first.body.clone()).await.unwrap();
    assert_eq!((again.status, again.json["status"].as_str()), (200, Some("duplicate")), "{}", again.text);
    assert_eq!(runs_for(&emulator, &id).len(), 1, "a re-sent request is not forwarded twice");
    // Telnyx's retry counts meta.attempt up (and its failover names another
    // URL in meta.delivered_to), signed afresh: the same delivery, so a
    // duplicate (the check compares the body without `meta`).
    let mut retry = event.clone();
    retry["meta"]["attempt"] = 2.into();
    retry["meta"]["delivered_to"] = "https://failover.example/telnyx".into();
    let retry = serde_json::to_vec(&retry).unwrap();
    let a = send_signed(&worker, "telnyx", "telnyx", retry, &[]).await;
    assert_eq!((a.status, a.json["status"].as_str()), (200, Some("duplicate")), "{}", a.text);
    assert_eq!(runs_for(&emulator, &id).len(), 1, "a Telnyx retry is not forwarded twice");
    // Another event under the same data.id is forwarded (the same id with
    // another body is logged, never dropped, so a planted id cannot swallow
    // a real event).
    let mut other = event.clone();
    other["data"]["payload"]["text"] = "another event".into();
    let a = send_signed(&worker, "telnyx", "telnyx", serde_json::to_vec(&other).unwrap(), &[]).await;
    assert_eq!(a.status, 202, "{}", a.text);
    assert_eq!(runs_for(&emulator, &id).len(), 2);

    let private = Secret::new(TELNYX_PRIVATE_KEY);
    let fresh = |ts: u64| {
        let mut e = event.clone();
        e["data"]["id"] = format!("{id}-{ts}").into();
        serde_json::to_vec(&e).unwrap()
    };
    // An altered body under a genuine signature.
    let b = fresh(1);
    let ts = now_secs().to_string();
    let sig = telnyx::sign(&private, &ts, &b).unwrap();
    let headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        (telnyx::SIGNATURE_HEADER.to_owned(), sig),
        (telnyx::TIMESTAMP_HEADER.to_owned(), ts.clone()),
    ];
    let mut tampered = b.clone();
    tampered.push(b' ');
    assert_eq!(worker.post_hook("telnyx", &headers, tampered).await.unwrap().status, 401, "altered body");
    // Signed six minutes ago: past Telnyx's 300 seconds.
    let b = fresh(2);
    let old = (now_secs() - 360).to_string();
    let headers = vec![
        (telnyx::SIGNATURE_HEADER.to_owned(), telnyx::sign(&private, &old, &b).unwrap()),
        (telnyx::TIMESTAMP_HEADER.to_owned(), old),
    ];
    assert_eq!(worker.post_hook("telnyx", &headers, b).await.unwrap().status, 401, "too old");
    // Discord's signed string (no '|') under the same key.
    let b = fresh(3);
    let discord_form = {
        use base64::{engine::general_purpose::STANDARD, Engine};
        let seed = hex::encode(STANDARD.decode(TELNYX_PRIVATE_KEY).unwrap());
        let hex_sig = flowgate_core::verify::discord::sign(&Secret::new(seed), &ts, &b).unwrap();
        STANDARD.encode(hex::decode(hex_sig).unwrap())
    };
    let headers = vec![(telnyx::SIGNATURE_HEADER.to_owned(), discord_form), (telnyx::TIMESTAMP_HEADER.to_owned(), ts)];
    assert_eq!(worker.post_hook("telnyx", &headers, b).await.unwrap().status, 401, "timestamp‖body form");
    assert_eq!(runs_for(&emulator, &id).len(), 2);
}
