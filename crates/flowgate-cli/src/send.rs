//! `flowgate send <provider>`: sign a payload exactly as the sender does and
//! POST it, like `stripe trigger`. The signers are the emulator crate's
//! (`flowgate_emulator::senders`), which the end-to-end tests use too.

use std::{path::PathBuf, process::ExitCode};

use anyhow::{bail, Context as _};
use flowgate_core::{
    verify::{find_provider, twilio, Scheme},
    Secret,
};
pub use flowgate_emulator::senders::{
    sample_body, sample_content_type, sign, twilio_shared_key, verifying_key, SignedRequest,
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
    /// `flowgate-test-plaid-kid`, as Plaid's key endpoint returns it). eBay and Circle
    /// sign with a P-256 key too (kid/key id the emulator's test key's; the emulator
    /// serves the public key: its demo keys are DEMO_EBAY_PRIVATE_KEY / DEMO_CIRCLE_PRIVATE_KEY).
    /// AWS SNS: the RSA
    /// private key (PEM) of the emulator's test certificate (tests/fixtures/entra-test-key.pem);
    /// the Notification names its SigningCertURL at the emulator (http://127.0.0.1:8790),
    /// which a route accepts with sns_emulator_origin = "http://127.0.0.1:8790". PayPal: the
    /// same key; signed for webhook id FLOWGATEDEMOWEBHOOK1, the certificate named at the
    /// emulator (paypal_emulator_origin = "http://127.0.0.1:8790").
    ///
    /// Fireblocks and Wix sign with an RSA private key: give its PEM here (a value
    /// starting with `-----BEGIN` is taken as the secret, not as a flag), and `send`
    /// prints the public key the route holds.
    #[arg(long, env = "FLOWGATE_SEND_SECRET", hide_env_values = true, allow_hyphen_values = true)]
    pub secret: String,
    /// Body to send, byte for byte (default: a sample event).
    #[arg(long)]
    pub body: Option<PathBuf>,
    /// Event type (default: the sender's typical one).
    #[arg(long)]
    pub event: Option<String>,
    /// Content-Type of the body (default: application/json; for Twilio's and Mailchimp's samples,
    /// application/x-www-form-urlencoded). A Twilio JSON body is sent as Twilio
    /// sends one: with bodySHA256=<hex SHA-256> added to the URL.
    #[arg(long)]
    pub content_type: Option<String>,
    /// Twilio only: how to sign. `sha1` (default) as Twilio signs with the Auth
    /// Token; `sha256` as a Webhook Setting with a SharedKey signs (HMAC-SHA256,
    /// announced in X-Twilio-Webhooks-Signature-Settings) — `--secret` is then
    /// the SharedKey's secret.
    #[arg(long, value_enum, default_value_t = TwilioAlgorithm::Sha1)]
    pub twilio_algorithm: TwilioAlgorithm,
    /// Twilio only, with `--twilio-algorithm sha256`: the SharedKey id announced (`key=`).
    #[arg(long, default_value = "webhooks_sharedkey_flowgate_sample")]
    pub twilio_key_id: String,
}

/// How `flowgate send twilio` signs.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TwilioAlgorithm {
    /// HMAC-SHA1 with the Auth Token, no settings header (Twilio's default).
    Sha1,
    /// HMAC-SHA256 with a SharedKey, announced in the settings header.
    Sha256,
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
    let is_twilio = provider.scheme() == Scheme::Twilio;
    if args.twilio_algorithm != TwilioAlgorithm::Sha1 && !is_twilio {
        bail!("--twilio-algorithm is for `flowgate send twilio` only");
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    let event = args.event.clone().unwrap_or_else(|| provider.sample_event.to_owned());
    let body = match &args.body {
        Some(path) => std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
        None => sample_body(provider, &event, now),
    };
    let default_type = if args.body.is_none() { sample_content_type(provider) } else { "application/json" };
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
    let mut signed = sign(provider, &secret, body, &event, &content_type, &url, now)?;
    if is_twilio && args.twilio_algorithm == TwilioAlgorithm::Sha256 {
        twilio_shared_key(&mut signed, &secret, &url, &args.twilio_key_id, twilio::Algorithm::HmacSha256);
    }

    // Some senders add to the URL they were given: the secret of a URL-token
    // sender (Mailchimp, Strava), PandaDoc's signature.
    let url = signed.url(&url);
    let client = reqwest::Client::new();
    let mut req = client.post(&url).body(signed.body.clone());
    for (k, v) in &signed.headers {
        req = req.header(k, v);
    }
    let resp = req.send().await.with_context(|| format!("POST {}", args.url))?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    // The query may carry the secret (URL-token senders): not printed.
    let shown = if signed.query.is_some() { format!("{}?…", args.url) } else { url.clone() };
    println!("POST {shown} ({} bytes, {} signature) → {status}", signed.body.len(), provider.name);
    if !text.is_empty() {
        println!("{text}");
    }
    Ok(if status.is_success() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

#[cfg(test)]
mod tests {
    use flowgate_core::{
        verify::{verify, Inbound},
        Headers,
    };

    use super::*;

    #[test]
    fn twilio_shared_key_requests_are_signed_with_hmac_sha256() {
        let p = find_provider("twilio").unwrap();
        let s = Secret::new("whsk_test_shared_key_secret_0123456789");
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let form = b"CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&From=%2B14158675309&To=%2B18005551212";
        let mut req = sign(p, &s, form.to_vec(), "e", "application/x-www-form-urlencoded", url, 1).unwrap();
        twilio_shared_key(&mut req, &s, url, "webhooks_sharedkey_01", twilio::Algorithm::HmacSha256);
        let header =
            |name: &str| req.headers.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect::<Vec<_>>();
        // twilio-node 6.3.1 and twilio-python 9.13.0 compute this signature for this request.
        assert_eq!(header(twilio::SIGNATURE_HEADER), ["wjHJM72LOTkEDvDysme5Vc5kuViojpoRl6meohYN7QE="]);
        assert_eq!(header(twilio::SIGNATURE_SETTINGS_HEADER), ["key=webhooks_sharedkey_01,algorithm=HMAC_SHA256"]);
        let headers: Headers = req.headers.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        let inbound = Inbound { headers: &headers, body: &req.body, now_secs: 1, method: "POST", url };
        assert!(verify(p, &p.scheme(), None, std::slice::from_ref(&s), inbound).is_ok());
        // Without the settings header the same signature is not an HMAC-SHA1 one.
        let stripped: Headers = req
            .headers
            .iter()
            .filter(|(k, _)| k != twilio::SIGNATURE_SETTINGS_HEADER)
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        let inbound = Inbound { headers: &stripped, body: &req.body, now_secs: 1, method: "POST", url };
        assert!(verify(p, &p.scheme(), None, &[s], inbound).is_err());
    }
}
