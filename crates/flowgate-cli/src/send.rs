//! `flowgate send <provider>`: sign a payload exactly as the sender does and
//! POST it, like `stripe trigger`. The signing code is the core's, which is
//! checked against each sender's published vectors and mutation suites.

use std::{path::PathBuf, process::ExitCode};

use anyhow::{bail, Context as _};
use flowgate_core::{
    verify::{
        find_provider,
        scheme::{Field, HmacScheme},
        standard_webhooks, Provider, Scheme,
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
    /// The signing secret (for Standard Webhooks, the whsec_… value).
    #[arg(long, env = "FLOWGATE_SEND_SECRET", hide_env_values = true)]
    pub secret: String,
    /// Body to send, byte for byte (default: a sample event).
    #[arg(long)]
    pub body: Option<PathBuf>,
    /// Event type (default: the sender's typical one).
    #[arg(long)]
    pub event: Option<String>,
    /// Content-Type of the body.
    #[arg(long, default_value = "application/json")]
    pub content_type: String,
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
    let mut v = serde_json::json!({
        "id": id,
        "type": event,
        "webhookTimestamp": now * 1000,
        "data": {"object": {"id": "obj_2Nq", "amount": 4200, "currency": "usd"}},
        "flowgate_sample": true,
    });
    if let Scheme::Hmac(h) = provider.scheme() {
        let paths = h.event.iter().map(|f| (f, event)).chain(h.delivery.iter().map(|f| (f, id.as_str())));
        for (field, value) in paths {
            if let Field::Json(path) = field {
                set_path(&mut v, path, value);
            }
        }
    }
    v.to_string().into_bytes()
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
fn label_headers(h: &HmacScheme, event: &str, delivery: &str, headers: &mut Vec<(String, String)>) {
    if let Some(Field::Header(name)) = h.event.first() {
        headers.push((name.to_string(), event.to_owned()));
    }
    if let Some(Field::Header(name)) = h.delivery.first() {
        if !headers.iter().any(|(k, _)| k == name.as_ref()) {
            headers.push((name.to_string(), delivery.to_owned()));
        }
    }
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
    match provider.scheme() {
        Scheme::Hmac(h) => {
            let signed = h
                .sign(secret, &body, now, &delivery, url, "POST")
                .map_err(|why| anyhow::anyhow!("the secret is not in the form {} uses: it {why}", provider.title))?;
            headers.extend(signed);
            label_headers(&h, event, &delivery, &mut headers);
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
    let signed = sign(provider, &Secret::new(args.secret.clone()), body, &event, &args.content_type, &args.url, now)?;

    let client = reqwest::Client::new();
    let mut req = client.post(&args.url).body(signed.body.clone());
    for (k, v) in &signed.headers {
        req = req.header(k, v);
    }
    let resp = req.send().await.with_context(|| format!("POST {}", args.url))?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    println!("POST {} ({} bytes, {} signature) → {status}", args.url, signed.body.len(), provider.name);
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

    fn secret_for(p: &Provider) -> Secret {
        Secret::new(match p.scheme() {
            Scheme::StandardWebhooks => "whsec_ZGVtby1zdGFuZGFyZC13ZWJob29rcy1zZWNyZXQ=",
            Scheme::Hmac(h) if h.secret == SecretEncoding::Base64 => "ZGVtby1zZWNyZXQ=",
            Scheme::Hmac(h) if h.secret == SecretEncoding::Hex => "0a0b0c0d",
            Scheme::Hmac(_) => "demo-secret",
        })
    }

    #[test]
    fn every_built_in_sender_is_signed_so_that_flowgate_verifies_it() {
        let url = "http://127.0.0.1:8787/hooks/x";
        for p in providers() {
            let s = secret_for(p);
            let now = 1_700_000_000;
            let req =
                sign(p, &s, sample_body(p, p.sample_event, now), p.sample_event, "application/json", url, now).unwrap();
            let headers: Headers = req.headers.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
            let inbound = Inbound { headers: &headers, body: &req.body, now_secs: now + 1, method: "POST", url };
            let v = verify(p, &p.scheme(), None, &[s], inbound).unwrap_or_else(|e| panic!("{}: {e}", p.name));
            if !matches!(
                p.name,
                "dropbox" | "asana" | "xero" | "twitter" | "airtable" | "hubspot" | "hubspot-v1" | "hubspot-v2"
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
    fn bad_secrets_are_explained() {
        let err =
            sign(find_provider("standard-webhooks").unwrap(), &Secret::new("whsec_***"), vec![], "e", "a", "u", 1)
                .unwrap_err();
        assert!(err.to_string().contains("not a Standard Webhooks secret"));
        let err = sign(find_provider("airtable").unwrap(), &Secret::new("not base64!"), vec![], "e", "a", "u", 1)
            .unwrap_err();
        assert!(err.to_string().contains("Airtable"), "{err}");
    }
}
