//! `flowgate send <provider>`: sign a payload exactly as the sender does and
//! POST it, like `stripe trigger`. The signing code is the core's, which is
//! checked against each sender's published vectors.

use std::{path::PathBuf, process::ExitCode};

use anyhow::{bail, Context as _};
use flowgate_core::{
    verify::{github, standard_webhooks, Provider},
    Secret,
};

/// Arguments of `flowgate send`.
#[derive(clap::Args, Debug)]
pub struct SendArgs {
    /// Sender to imitate: github, standard-webhooks, or svix (Standard Webhooks with svix-* headers).
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
    /// Event type (GitHub `X-GitHub-Event`; default push).
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

/// Which header family a Standard Webhooks sender uses.
fn sw_prefix(name: &str) -> Option<&'static str> {
    match name {
        "standard-webhooks" => Some("webhook"),
        "svix" => Some("svix"),
        _ => None,
    }
}

/// A sample payload for `provider`.
pub fn sample_body(provider: Provider, event: &str) -> Vec<u8> {
    match provider {
        Provider::GitHub => serde_json::json!({
            "ref": "refs/heads/main",
            "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
            "after": "59b20b8d5c6ff8d09518454d4dd8b7a30f095ab5",
            "repository": {"id": 1296269, "full_name": "octocat/Hello-World"},
            "pusher": {"name": "octocat"},
            "sender": {"login": "octocat", "id": 1},
            "flowgate_sample": event,
        })
        .to_string()
        .into_bytes(),
        Provider::StandardWebhooks => serde_json::json!({
            "type": event,
            "timestamp": "2026-11-27T06:00:00.000000Z",
            "data": {"id": "inv_2Nq", "amount_due": 4200, "currency": "usd"},
        })
        .to_string()
        .into_bytes(),
    }
}

/// Signs `body` as `provider_name` does, at time `now` (Unix seconds).
///
/// # Errors
/// Unknown provider, or a secret in the wrong form.
pub fn sign(
    provider_name: &str,
    secret: &Secret,
    body: Vec<u8>,
    event: Option<&str>,
    content_type: &str,
    now: u64,
) -> anyhow::Result<SignedRequest> {
    let provider = Provider::from_name(provider_name)
        .with_context(|| format!("unknown provider {provider_name:?}; use github, standard-webhooks or svix"))?;
    let delivery = uuid::Uuid::new_v4();
    let mut headers = vec![("content-type".to_owned(), content_type.to_owned())];
    match provider {
        Provider::GitHub => {
            headers.push(("user-agent".into(), "GitHub-Hookshot/flowgate-send".into()));
            headers.push(("x-github-event".into(), event.unwrap_or("push").to_owned()));
            headers.push(("x-github-delivery".into(), delivery.to_string()));
            headers.push(("x-hub-signature-256".into(), github::sign(secret, &body)));
        }
        Provider::StandardWebhooks => {
            let prefix = sw_prefix(provider_name).unwrap_or("webhook");
            let id = format!("msg_{}", delivery.simple());
            let sig = standard_webhooks::sign(secret, &id, now, &body)
                .map_err(|why| anyhow::anyhow!("the secret is not a Standard Webhooks secret: {why}"))?;
            headers.push((format!("{prefix}-id"), id));
            headers.push((format!("{prefix}-timestamp"), now.to_string()));
            headers.push((format!("{prefix}-signature"), sig));
        }
    }
    Ok(SignedRequest { headers, body })
}

/// Runs `flowgate send`.
///
/// # Errors
/// Bad arguments or a failed request.
pub async fn run(args: SendArgs) -> anyhow::Result<ExitCode> {
    let provider = Provider::from_name(&args.provider)
        .with_context(|| format!("unknown provider {:?}; use github, standard-webhooks or svix", args.provider))?;
    let event = args.event.clone().unwrap_or_else(|| match provider {
        Provider::GitHub => "push".to_owned(),
        Provider::StandardWebhooks => "invoice.paid".to_owned(),
    });
    let body = match &args.body {
        Some(path) => std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
        None => sample_body(provider, &event),
    };
    if args.secret.is_empty() {
        bail!("--secret is empty");
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    let signed = sign(&args.provider, &Secret::new(args.secret.clone()), body, Some(&event), &args.content_type, now)?;

    let client = reqwest::Client::new();
    let mut req = client.post(&args.url).body(signed.body.clone());
    for (k, v) in &signed.headers {
        req = req.header(k, v);
    }
    let resp = req.send().await.with_context(|| format!("POST {}", args.url))?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    println!("POST {} ({} bytes, {} signature) → {status}", args.url, signed.body.len(), provider.name());
    if !text.is_empty() {
        println!("{text}");
    }
    Ok(if status.is_success() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

#[cfg(test)]
mod tests {
    use flowgate_core::{
        verify::{verify, Inbound, VerifyOptions},
        Headers,
    };

    use super::*;

    fn verifies(provider: Provider, name: &str, secret: &str) {
        let s = Secret::new(secret);
        let req = sign(name, &s, sample_body(provider, "e"), Some("e"), "application/json", 1_700_000_000).unwrap();
        let headers: Headers = req.headers.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        let inbound = Inbound { headers: &headers, body: &req.body, now_secs: 1_700_000_010 };
        assert!(verify(provider, &VerifyOptions::default(), &[s], inbound).is_ok(), "{name}");
    }

    #[test]
    fn signed_requests_verify_with_the_core() {
        verifies(Provider::GitHub, "github", "demo-github-secret");
        verifies(Provider::StandardWebhooks, "standard-webhooks", "whsec_ZGVtby1zdGFuZGFyZC13ZWJob29rcy1zZWNyZXQ=");
        verifies(Provider::StandardWebhooks, "svix", "whsec_ZGVtby1zdGFuZGFyZC13ZWJob29rcy1zZWNyZXQ=");
    }

    #[test]
    fn svix_uses_branded_headers() {
        let s = Secret::new("whsec_ZGVtbw==");
        let req = sign("svix", &s, b"{}".to_vec(), None, "application/json", 1).unwrap();
        assert!(req.headers.iter().any(|(k, _)| k == "svix-signature"));
        assert!(!req.headers.iter().any(|(k, _)| k == "webhook-signature"));
    }

    #[test]
    fn bad_inputs_are_explained() {
        let err = sign("stripe", &Secret::new("x"), vec![], None, "a", 1).unwrap_err();
        assert!(err.to_string().contains("unknown provider"));
        let err = sign("standard-webhooks", &Secret::new("whsec_***"), vec![], None, "a", 1).unwrap_err();
        assert!(err.to_string().contains("not a Standard Webhooks secret"));
    }
}
