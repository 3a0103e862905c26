//! `flowgate send <provider>`: sign a payload exactly as the sender does and
//! POST it, like `stripe trigger`. The signing code is the core's, which is
//! checked against each sender's published vectors and mutation suites.

use std::{path::PathBuf, process::ExitCode};

use anyhow::{bail, Context as _};
use flowgate_core::{
    verify::{
        body_fields, contentful, discord, find_provider, jwt_hs256, plaid,
        scheme::Field,
        sendgrid,
        shared_secret::{self, HeaderSecret},
        standard_webhooks, twilio, Provider, Scheme,
    },
    Secret,
};

/// Arguments of `flowgate send`.
#[derive(clap::Args, Debug)]
pub struct SendArgs {
    /// Sender to imitate (`flowgate providers` lists them).
    pub provider: String,
    /// Where to POST, e.g. http://127.0.0.1:8787/hooks/github-demo
    #[arg(long)]
    pub url: String,
    /// The signing secret (for Standard Webhooks, the whsec_… value; for basic-auth
    /// senders, user:password). Discord, SendGrid and Plaid sign with a private key and
    /// the route holds the public one: give the private key here — Discord: 64 hex digits
    /// (Ed25519 seed); SendGrid and Plaid: 64 hex digits (P-256 scalar) or base64 PKCS#8
    /// DER — and `send` prints the public key to configure (Plaid: the JWK, kid
    /// `flowgate-test-plaid-kid`, as Plaid's key endpoint returns it).
    #[arg(long, env = "FLOWGATE_SEND_SECRET", hide_env_values = true)]
    pub secret: String,
    /// Body to send, byte for byte (default: a sample event).
    #[arg(long)]
    pub body: Option<PathBuf>,
    /// Event type (default: the sender's typical one).
    #[arg(long)]
    pub event: Option<String>,
    /// Content-Type of the body (default: application/json; for Twilio's sample,
    /// application/x-www-form-urlencoded). A Twilio JSON body is sent as Twilio
    /// sends one: with bodySHA256=<hex SHA-256> added to the URL.
    #[arg(long)]
    pub content_type: Option<String>,
}

/// A signed request, ready to send.
#[derive(Debug, Clone)]
pub struct SignedRequest {
    /// Headers, including the signature.
    pub headers: Vec<(String, String)>,
    /// The exact body.
    pub body: Vec<u8>,
}

/// A sample payload: the fields senders commonly carry (`type`, `id`,
/// Linear's `webhookTimestamp`), plus the event type and delivery id at the
/// JSON paths where `provider` reads them, so both show up in the forwarded
/// headers as they would for the real sender.
pub fn sample_body(provider: &Provider, event: &str, now: u64) -> Vec<u8> {
    let id = format!("evt_{}", uuid::Uuid::new_v4().simple());
    if let Some(body) = sender_sample(provider, event, &id, now) {
        return body;
    }
    let mut v = serde_json::json!({
        "id": id,
        "type": event,
        "webhookTimestamp": now * 1000,
        "data": {"object": {"id": "obj_2Nq", "amount": 4200, "currency": "usd"}},
        "flowgate_sample": true,
    });
    let (events, deliveries) = label_fields(&provider.scheme());
    let paths = events.iter().map(|f| (f, event)).chain(deliveries.iter().map(|f| (f, id.as_str())));
    for (field, value) in paths {
        if let Field::Json(path) = field {
            set_path(&mut v, path, value);
        }
    }
    v.to_string().into_bytes()
}

/// Where a scheme reads the event type and the delivery id, for the
/// schemes that say so in fields.
fn label_fields(scheme: &Scheme) -> (Vec<Field>, Vec<Field>) {
    match scheme {
        Scheme::Hmac(h) => (h.event.clone(), h.delivery.clone()),
        Scheme::Token(h) | Scheme::BasicAuth(h) => (h.event.clone(), h.delivery.clone()),
        _ => (Vec::new(), Vec::new()),
    }
}

/// A sample in the shape the sender really sends, where it is not the
/// generic one.
fn sender_sample(provider: &Provider, event: &str, id: &str, now: u64) -> Option<Vec<u8>> {
    use serde_json::json;
    let v = match provider.scheme() {
        Scheme::Twilio => {
            let form = form_urlencoded::Serializer::new(String::new())
                .append_pair("AccountSid", "AC00000000000000000000000000000000")
                .append_pair("MessageSid", &format!("SM{}", &id[4..]))
                .append_pair("From", "+14158675309")
                .append_pair("To", "+18005551212")
                .append_pair("Body", "Hello from flowgate's sample: 'quotes' & +plus")
                .finish();
            return Some(form.into_bytes());
        }
        Scheme::Discord => json!({
            "type": event.parse::<u64>().map_or_else(|_| json!(event), |n| json!(n)),
            "id": id, "application_id": "1234567890", "token": "sample-interaction-token",
            "data": {"name": "flowgate", "type": 1},
        }),
        Scheme::SendGrid => {
            let events = json!([{ "email": "someone@example.com", "event": event, "sg_event_id": id,
                                  "sg_message_id": "flowgate-sample", "timestamp": now }]);
            // SendGrid's bodies end with CRLF, which is signed.
            return Some(format!("{events}\r\n").into_bytes());
        }
        Scheme::Mailgun => json!({
            "event-data": {"event": event, "id": id, "timestamp": now, "recipient": "someone@example.com"},
        }),
        Scheme::Figma => json!({
            "event_type": event, "file_key": "CL06nJNn5eZLQKDoARMND5", "file_name": "flowgate sample",
            "timestamp": "2020-02-23T20:27:16Z", "webhook_id": "22",
        }),
        Scheme::MsGraph => json!({"value": [{
            "subscriptionId": id, "changeType": event, "resource": "Users/sample/Messages/sample",
            "subscriptionExpirationDateTime": "2030-01-01T00:00:00Z", "tenantId": "00000000-0000-0000-0000-000000000000",
        }]}),
        Scheme::Token(_) if provider.name == "okta" => json!({
            "eventType": "com.okta.event_hook", "eventTypeVersion": "1.0", "eventId": id,
            "data": {"events": [{"uuid": id, "eventType": event, "displayMessage": "flowgate sample"}]},
        }),
        Scheme::Netlify => json!({"id": id, "state": event, "name": "flowgate-sample", "branch": "main"}),
        Scheme::Monday => json!({"event": {"type": event, "triggerUuid": id, "boardId": 1, "pulseId": 2}}),
        Scheme::Contentful => json!({"sys": {"id": id, "type": "Entry"}, "fields": {}}),
        Scheme::Plaid => {
            // `TYPE.CODE`, as flowgate reports Plaid's event type.
            let (kind, code) = event.split_once('.').unwrap_or((event, ""));
            let mut v = json!({"webhook_type": kind, "item_id": format!("item_{}", &id[4..]),
                               "environment": "sandbox", "error": null});
            if !code.is_empty() {
                v["webhook_code"] = code.into();
            }
            // Plaid's bodies are JSON indented with two spaces, no trailing newline.
            return serde_json::to_vec_pretty(&v).ok();
        }
        _ => return None,
    };
    Some(v.to_string().into_bytes())
}

/// Sets a dotted `path` in a JSON object, creating objects on the way.
fn set_path(v: &mut serde_json::Value, path: &str, value: &str) {
    let mut cur = v;
    let mut keys = path.split('.').peekable();
    while let Some(k) = keys.next() {
        let Some(obj) = cur.as_object_mut() else { return };
        if keys.peek().is_none() {
            obj.entry(k.to_owned()).or_insert_with(|| value.into());
            return;
        }
        cur = obj.entry(k.to_owned()).or_insert_with(|| serde_json::json!({}));
    }
}

/// Adds the headers a sender sets beside its signature: the event type and
/// delivery id, where the scheme reads them from headers.
fn label_headers(scheme: &Scheme, event: &str, delivery: &str, headers: &mut Vec<(String, String)>) {
    let (events, deliveries) = label_fields(scheme);
    if let Some(Field::Header(name)) = events.first() {
        headers.push((name.to_string(), event.to_owned()));
    }
    if let Some(Field::Header(name)) = deliveries.first() {
        if !headers.iter().any(|(k, _)| k == name.as_ref()) {
            headers.push((name.to_string(), delivery.to_owned()));
        }
    }
}

/// The JSON object of a body that carries its proof inside (Mailgun, Figma, Graph).
fn json_body(body: &[u8], sender: &str) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    match serde_json::from_slice(body) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        _ => bail!("{sender} carries its secret inside a JSON object body: the body is not one"),
    }
}

fn key_error(provider: &Provider) -> impl Fn(&'static str) -> anyhow::Error + '_ {
    move |why| anyhow::anyhow!("the secret is not in the form {} uses: it {why}", provider.title)
}

/// The public key that verifies what `send` signs with `secret`, for the
/// senders whose route secret is a public key.
///
/// # Errors
/// A private key in the wrong form.
pub fn verifying_key(provider: &Provider, secret: &Secret) -> anyhow::Result<Option<String>> {
    Ok(match provider.scheme() {
        Scheme::Discord => Some(discord::public_key_hex(secret).map_err(key_error(provider))?),
        Scheme::SendGrid => Some(sendgrid::public_key_base64(secret).map_err(key_error(provider))?),
        Scheme::Plaid => Some(plaid::public_jwk_text(secret).map_err(key_error(provider))?),
        _ => None,
    })
}

/// Signs `body` as `provider` does, at time `now` (Unix seconds), for `url`.
///
/// # Errors
/// A secret in the wrong form.
pub fn sign(
    provider: &Provider,
    secret: &Secret,
    body: Vec<u8>,
    event: &str,
    content_type: &str,
    url: &str,
    now: u64,
) -> anyhow::Result<SignedRequest> {
    let delivery = uuid::Uuid::new_v4().to_string();
    let mut headers = vec![("content-type".to_owned(), content_type.to_owned())];
    let mut body = body;
    let scheme = provider.scheme();
    match &scheme {
        Scheme::Hmac(h) => {
            let signed = h.sign(secret, &body, now, &delivery, url, "POST").map_err(key_error(provider))?;
            headers.extend(signed);
            label_headers(&scheme, event, &delivery, &mut headers);
        }
        Scheme::Twilio => {
            headers.push((twilio::SIGNATURE_HEADER.to_owned(), twilio::sign(secret, url, &body)));
            headers.push((twilio::IDEMPOTENCY_HEADER.to_owned(), delivery));
        }
        Scheme::Discord => {
            let ts = now.to_string();
            let sig = discord::sign(secret, &ts, &body).map_err(key_error(provider))?;
            headers.push((discord::SIGNATURE_HEADER.to_owned(), sig));
            headers.push((discord::TIMESTAMP_HEADER.to_owned(), ts));
        }
        Scheme::SendGrid => {
            let ts = now.to_string();
            let sig = sendgrid::sign(secret, &ts, &body).map_err(key_error(provider))?;
            headers.push((sendgrid::SIGNATURE_HEADER.to_owned(), sig));
            headers.push((sendgrid::TIMESTAMP_HEADER.to_owned(), ts));
        }
        Scheme::Mailgun => {
            let mut map = json_body(&body, provider.title)?;
            let token = uuid::Uuid::new_v4().simple().to_string();
            map.insert("signature".to_owned(), body_fields::mailgun_signature(secret, now, &token));
            body = serde_json::Value::Object(map).to_string().into_bytes();
        }
        Scheme::Figma => {
            let mut map = json_body(&body, provider.title)?;
            map.insert("passcode".to_owned(), secret.expose().into());
            body = serde_json::Value::Object(map).to_string().into_bytes();
        }
        Scheme::MsGraph => {
            let mut map = json_body(&body, provider.title)?;
            let Some(serde_json::Value::Array(items)) = map.get_mut("value") else {
                bail!("a Microsoft Graph body is {{\"value\": [notification, ...]}}");
            };
            for n in items.iter_mut().filter_map(serde_json::Value::as_object_mut) {
                n.insert("clientState".to_owned(), secret.expose().into());
            }
            body = serde_json::Value::Object(map).to_string().into_bytes();
        }
        Scheme::Token(HeaderSecret { header, .. }) => {
            headers.push((header.to_string(), secret.expose().to_owned()));
            label_headers(&scheme, event, &delivery, &mut headers);
        }
        Scheme::BasicAuth(HeaderSecret { header, .. }) => {
            shared_secret::check_basic_secret(secret).map_err(key_error(provider))?;
            headers.push((header.to_string(), shared_secret::basic_header(secret)));
            label_headers(&scheme, event, &delivery, &mut headers);
        }
        Scheme::Netlify => {
            let jws = jwt_hs256::sign(secret, &jwt_hs256::netlify_claims(&body));
            headers.push((jwt_hs256::NETLIFY_HEADER.to_owned(), jws));
        }
        Scheme::Monday => {
            headers.push((
                jwt_hs256::MONDAY_HEADER.to_owned(),
                jwt_hs256::sign(secret, &jwt_hs256::monday_claims(url, now)),
            ));
        }
        Scheme::Contentful => {
            let labels = [
                ("x-contentful-topic", event),
                ("x-contentful-idempotency-key", delivery.as_str()),
                ("x-contentful-webhook-name", "flowgate-send"),
            ];
            let signed =
                contentful::sign(secret, "POST", url, &labels, &body, now * 1000).map_err(key_error(provider))?;
            headers.extend(labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
            headers.extend(signed);
        }
        Scheme::Plaid => {
            // Plaid signs {iat, request_body_sha256} (ES256, header kid).
            let jwt = plaid::sign(secret, plaid::TEST_KID, &plaid::claims(&body, now)).map_err(key_error(provider))?;
            headers.push((plaid::HEADER.to_owned(), jwt));
        }
        Scheme::StandardWebhooks => {
            let branded = matches!(provider.name, "svix" | "clerk" | "resend");
            let prefix = if branded { "svix" } else { "webhook" };
            let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
            let sig = standard_webhooks::sign(secret, &id, now, &body)
                .map_err(|why| anyhow::anyhow!("the secret is not a Standard Webhooks secret: it {why}"))?;
            headers.push((format!("{prefix}-id"), id));
            headers.push((format!("{prefix}-timestamp"), now.to_string()));
            headers.push((format!("{prefix}-signature"), sig));
        }
    }
    Ok(SignedRequest { headers, body })
}

fn unknown(name: &str) -> anyhow::Error {
    anyhow::anyhow!("unknown provider {name:?}; `flowgate providers` lists the built-in senders")
}

/// Runs `flowgate send`.
///
/// # Errors
/// Bad arguments or a failed request.
pub async fn run(args: SendArgs) -> anyhow::Result<ExitCode> {
    let provider = find_provider(&args.provider).ok_or_else(|| unknown(&args.provider))?;
    if args.secret.is_empty() {
        bail!("--secret is empty");
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    let event = args.event.clone().unwrap_or_else(|| provider.sample_event.to_owned());
    let body = match &args.body {
        Some(path) => std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
        None => sample_body(provider, &event, now),
    };
    let twilio_form = provider.scheme() == Scheme::Twilio && args.body.is_none();
    let default_type = if twilio_form { "application/x-www-form-urlencoded" } else { "application/json" };
    let content_type = args.content_type.clone().unwrap_or_else(|| default_type.to_owned());
    // Twilio signs a JSON body through the URL: bodySHA256=<hex SHA-256> is added to it.
    let url = if provider.scheme() == Scheme::Twilio && !content_type.starts_with("application/x-www-form-urlencoded") {
        twilio::url_with_body_hash(&args.url, &body)
    } else {
        args.url.clone()
    };
    let secret = Secret::new(args.secret.clone());
    if let Some(public) = verifying_key(provider, &secret)? {
        println!("verifying key (the route's secret for {}): {public}", provider.name);
    }
    let signed = sign(provider, &secret, body, &event, &content_type, &url, now)?;

    let client = reqwest::Client::new();
    let mut req = client.post(&url).body(signed.body.clone());
    for (k, v) in &signed.headers {
        req = req.header(k, v);
    }
    let resp = req.send().await.with_context(|| format!("POST {}", args.url))?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    println!("POST {url} ({} bytes, {} signature) → {status}", signed.body.len(), provider.name);
    if !text.is_empty() {
        println!("{text}");
    }
    Ok(if status.is_success() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

#[cfg(test)]
mod tests {
    use flowgate_core::{
        verify::{providers, scheme::SecretEncoding, verify, Inbound},
        Headers,
    };

    use super::*;

    // Test keys: RFC 8032 §7.1 test 1 (Ed25519) and RFC 6979 §A.2.5 (P-256).
    const ED25519_PRIVATE: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    const P256_PRIVATE: &str = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";

    /// (what `send` signs with, what the route verifies with).
    fn secrets_for(p: &Provider) -> (Secret, Secret) {
        let same = |s: &str| (Secret::new(s), Secret::new(s));
        match p.scheme() {
            Scheme::StandardWebhooks => same("whsec_ZGVtby1zdGFuZGFyZC13ZWJob29rcy1zZWNyZXQ="),
            Scheme::Hmac(h) if h.secret == SecretEncoding::Base64 => same("ZGVtby1zZWNyZXQ="),
            Scheme::Hmac(h) if h.secret == SecretEncoding::Hex => same("0a0b0c0d"),
            Scheme::Discord => {
                let private = Secret::new(ED25519_PRIVATE);
                let public = verifying_key(p, &private).unwrap().unwrap();
                (private, Secret::new(public))
            }
            Scheme::SendGrid | Scheme::Plaid => {
                let private = Secret::new(P256_PRIVATE);
                let public = verifying_key(p, &private).unwrap().unwrap();
                (private, Secret::new(public))
            }
            Scheme::BasicAuth(_) => same("demo-user:demo-password"),
            Scheme::Contentful => same("demo-contentful-signing-secret-demo-contentful-signing-secret-64"),
            _ => same("demo-secret"),
        }
    }

    #[test]
    fn every_built_in_sender_is_signed_so_that_flowgate_verifies_it() {
        let url = "http://127.0.0.1:8787/hooks/x";
        for p in providers() {
            let (signing, verifying) = secrets_for(p);
            let now = 1_700_000_000;
            let req =
                sign(p, &signing, sample_body(p, p.sample_event, now), p.sample_event, "application/json", url, now)
                    .unwrap_or_else(|e| panic!("{}: {e}", p.name));
            let headers: Headers = req.headers.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
            let inbound = Inbound { headers: &headers, body: &req.body, now_secs: now + 1, method: "POST", url };
            let v = verify(p, &p.scheme(), None, std::slice::from_ref(&verifying), inbound)
                .unwrap_or_else(|e| panic!("{}: {e}", p.name));
            // What `send` signs with is not what verifies, for the public-key senders.
            if verifying_key(p, &signing).unwrap().is_some() {
                let inbound = Inbound { headers: &headers, body: &req.body, now_secs: now + 1, method: "POST", url };
                assert!(verify(p, &p.scheme(), None, std::slice::from_ref(&signing), inbound).is_err(), "{}", p.name);
            }
            // And a changed body is refused, for every sender that binds the body (shared
            // tokens, monday.com's JWT, Mailgun's HMAC of timestamp‖token, Figma's passcode
            // and Graph's clientState do not).
            if !matches!(
                p.scheme(),
                Scheme::Token(_)
                    | Scheme::BasicAuth(_)
                    | Scheme::Monday
                    | Scheme::Mailgun
                    | Scheme::Figma
                    | Scheme::MsGraph
            ) {
                let mut tampered = req.body.clone();
                let at = tampered.len() / 2;
                tampered[at] ^= 0x01;
                let inbound = Inbound { headers: &headers, body: &tampered, now_secs: now + 1, method: "POST", url };
                assert!(verify(p, &p.scheme(), None, std::slice::from_ref(&verifying), inbound).is_err(), "{}", p.name);
            }
            if !matches!(
                p.name,
                "dropbox"
                    | "asana"
                    | "xero"
                    | "twitter"
                    | "airtable"
                    | "hubspot"
                    | "hubspot-v1"
                    | "hubspot-v2"
                    | "twilio"
                    | "basic-auth"
            ) {
                // (Those senders carry no event type flowgate reads.)
                assert_eq!(v.event_type(), Some(p.sample_event), "{}: the sample carries the event type", p.name);
            }
        }
    }

    #[test]
    fn svix_branded_senders_use_svix_headers() {
        let s = Secret::new("whsec_ZGVtbw==");
        for name in ["svix", "clerk", "resend"] {
            let req = sign(find_provider(name).unwrap(), &s, b"{}".to_vec(), "e", "application/json", "u", 1).unwrap();
            assert!(req.headers.iter().any(|(k, _)| k == "svix-signature"), "{name}");
        }
        let req = sign(find_provider("standard-webhooks").unwrap(), &s, b"{}".to_vec(), "e", "a", "u", 1).unwrap();
        assert!(req.headers.iter().any(|(k, _)| k == "webhook-signature"));
    }

    #[test]
    fn twilio_json_bodies_are_signed_through_the_url() {
        let p = find_provider("twilio").unwrap();
        let s = Secret::new("twilio-auth-token");
        let body = br#"{"CallSid":"CA1"}"#.to_vec();
        let url = twilio::url_with_body_hash("https://flowgate.example/hooks/tw", &body);
        let req = sign(p, &s, body.clone(), "e", "application/json", &url, 1).unwrap();
        let headers: Headers = req.headers.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        let inbound = Inbound { headers: &headers, body: &req.body, now_secs: 1, method: "POST", url: &url };
        assert!(verify(p, &p.scheme(), None, std::slice::from_ref(&s), inbound).is_ok());
        let inbound = Inbound { headers: &headers, body: b"{}", now_secs: 1, method: "POST", url: &url };
        assert!(verify(p, &p.scheme(), None, &[s], inbound).is_err());
    }

    #[test]
    fn bad_secrets_are_explained() {
        let err =
            sign(find_provider("standard-webhooks").unwrap(), &Secret::new("whsec_***"), vec![], "e", "a", "u", 1)
                .unwrap_err();
        assert!(err.to_string().contains("not a Standard Webhooks secret"));
        let err = sign(find_provider("airtable").unwrap(), &Secret::new("not base64!"), vec![], "e", "a", "u", 1)
            .unwrap_err();
        assert!(err.to_string().contains("Airtable"), "{err}");
        for name in ["discord", "sendgrid", "plaid", "basic-auth", "contentful"] {
            let p = find_provider(name).unwrap();
            let err = sign(p, &Secret::new("nope"), b"{}".to_vec(), "e", "a", "https://x/y", 1).unwrap_err();
            assert!(err.to_string().contains(p.title), "{name}: {err}");
        }
        let err =
            sign(find_provider("mailgun").unwrap(), &Secret::new("k"), b"[]".to_vec(), "e", "a", "u", 1).unwrap_err();
        assert!(err.to_string().contains("JSON object"), "{err}");
    }
}
