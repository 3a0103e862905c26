//! `flowgate verify <provider>`: check a captured request (headers, body,
//! URL) against the route's secret(s) offline, and say exactly why it fails —
//! without printing any secret.

use std::{path::PathBuf, process::ExitCode};

use anyhow::{bail, Context as _};
use flowgate_core::{
    verify::{find_provider, twilio, verify, Inbound, Scheme, VerifyError},
    Headers, Secret,
};

/// Arguments of `flowgate verify`.
#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// The sender (`flowgate providers`).
    pub provider: String,
    /// The route's signing secret; repeat for several (rotation).
    #[arg(long = "secret", env = "FLOWGATE_VERIFY_SECRET", hide_env_values = true, required = true)]
    pub secrets: Vec<String>,
    /// The captured body, byte for byte.
    #[arg(long)]
    pub body: PathBuf,
    /// A captured header, `Name: value`; repeat.
    #[arg(long = "header", short = 'H')]
    pub headers: Vec<String>,
    /// A file of captured headers, one `Name: value` per line.
    #[arg(long)]
    pub headers_file: Option<PathBuf>,
    /// The URL the sender posted to (URL-bound schemes: Square, Twilio, HubSpot, Trello).
    #[arg(long, default_value = "https://flowgate.example/hooks/route")]
    pub url: String,
    /// The request method.
    #[arg(long, default_value = "POST")]
    pub method: String,
    /// Verify as at this Unix time (a captured request's own time), instead of now.
    #[arg(long)]
    pub now: Option<u64>,
}

/// Why a request does not verify, in words, and whether it does.
pub fn diagnose(
    provider_name: &str,
    secrets: &[Secret],
    headers: &Headers,
    body: &[u8],
    url: &str,
    method: &str,
    now: u64,
) -> anyhow::Result<(bool, Vec<String>)> {
    let p = find_provider(provider_name)
        .with_context(|| format!("unknown provider {provider_name:?}; `flowgate providers` lists them"))?;
    let scheme = p.scheme();
    let check = |body: &[u8], url: &str, now: u64| {
        verify(p, &scheme, None, secrets, Inbound { headers, body, now_secs: now, method, url })
            .map(|v| (v.event_type().map(str::to_owned), v.delivery_id().map(str::to_owned), v.secret_index()))
    };
    let mut lines = Vec::new();
    match check(body, url, now) {
        Ok((event, delivery, index)) => {
            lines.push(format!("verified as {} with secret #{} of {}", p.title, index + 1, secrets.len()));
            lines.push(format!("event type: {}", event.as_deref().unwrap_or("(none)")));
            lines.push(format!("delivery id: {}", delivery.as_deref().unwrap_or("(none)")));
            return Ok((true, lines));
        }
        Err(e) => lines.push(format!("NOT verified: {e}")),
    }
    if scheme == Scheme::Twilio {
        lines.push(twilio_algorithm(headers));
    }
    let err = check(body, url, now).unwrap_err();
    match &err {
        VerifyError::MissingHeader(h) => lines.push(format!(
            "the request has no {h} header: is it really from {}? (`flowgate providers` shows what {} sends)",
            p.title, p.name
        )),
        // (Twilio's settings header is explained above, with the algorithm it names.)
        VerifyError::MalformedHeader(h) if h == twilio::SIGNATURE_SETTINGS_HEADER => {}
        VerifyError::MalformedHeader(h) => lines.push(format!("{h} is not in {}'s format: {}", p.title, p.checks)),
        VerifyError::TimestampTooOld | VerifyError::TimestampInFuture => {
            lines.push("the signature matches, but the signed timestamp is outside the replay window".into());
            lines.push("a captured request can be checked at its own time with --now <unix seconds>".into());
        }
        VerifyError::BodyOverLimit(what) => lines.push(format!(
            "the body is refused before its signature is checked ({what}): {} never sends such a body, so it is not from {}",
            p.title, p.title
        )),
        VerifyError::NoSecret | VerifyError::InvalidSecret { .. } => {
            lines.push(format!("the secret is not usable: {err}"))
        }
        VerifyError::UnexpectedBody => lines.push(format!(
            "{} sends JSON objects only ({}); this body is something else, so it is refused before its signature is checked",
            p.title, p.checks
        )),
        VerifyError::SignatureMismatch => {
            // Look for the usual culprits, each by one targeted retry.
            let mut found = false;
            if let Scheme::Hmac(h) = &scheme {
                if h.url_bound() {
                    for variant in url_variants(url) {
                        if check(body, &variant, now).is_ok() {
                            lines.push(format!("the signature matches the URL {variant}: the sender signed the URL it was given, so configure that exact URL (proxies and custom domains change it)"));
                            found = true;
                        }
                    }
                }
            }
            for (what, changed) in body_variants(body) {
                if check(&changed, url, now).is_ok() {
                    lines.push(format!("the signature matches the body {what}: something between the sender and flowgate changed the body"));
                    found = true;
                }
            }
            if !found {
                lines.push("the signature does not match with the given secret(s): either the secret is wrong (check for the whole value, no spaces; Stripe keeps whsec_ as part of the key) or the body was changed in transit (re-serialised JSON, changed line endings)".into());
            }
        }
    }
    Ok((false, lines))
}

/// Which MAC a Twilio request was checked with, and with which secret, as
/// its `X-Twilio-Webhooks-Signature-Settings` announces. The announced text
/// is the sender's: shown cut to printable ASCII.
fn twilio_algorithm(headers: &Headers) -> String {
    let shown = |v: &str| v.chars().filter(|c| c.is_ascii_graphic()).take(80).collect::<String>();
    match twilio::announced(headers) {
        twilio::Announced::AuthToken => "checked as HMAC_SHA1 with the Auth Token: the request has no X-Twilio-Webhooks-Signature-Settings header (a SharedKey signature would announce itself there)".to_owned(),
        twilio::Announced::SharedKey { key, algorithm } => format!(
            "checked as {} (announced in X-Twilio-Webhooks-Signature-Settings, SharedKey {}): the secret must be that SharedKey's secret, not the Auth Token",
            algorithm.name(),
            key.map_or_else(|| "(no key id)".to_owned(), shown),
        ),
        twilio::Announced::Unsupported { algorithm } => format!(
            "X-Twilio-Webhooks-Signature-Settings announces algorithm {:?}, which neither Twilio's SDKs nor flowgate support (HMAC_SHA1, HMAC_SHA256): refused, never checked as HMAC_SHA1",
            shown(algorithm)
        ),
    }
}

fn url_variants(url: &str) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(rest) = url.strip_prefix("https://") {
        v.push(format!("http://{rest}"));
    }
    if let Some(rest) = url.strip_prefix("http://") {
        v.push(format!("https://{rest}"));
    }
    match url.split_once('?') {
        Some((path, q)) if path.ends_with('/') => v.push(format!("{}?{q}", path.trim_end_matches('/'))),
        Some((path, q)) => v.push(format!("{path}/?{q}")),
        None if url.ends_with('/') => v.push(url.trim_end_matches('/').to_owned()),
        None => v.push(format!("{url}/")),
    }
    v
}

fn body_variants(body: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let mut v = Vec::new();
    if body.ends_with(b"\n") {
        v.push((
            "without its trailing newline",
            body.strip_suffix(b"\r\n").or(body.strip_suffix(b"\n")).unwrap_or(body).to_vec(),
        ));
    } else {
        v.push(("with a trailing newline", [body, b"\n"].concat()));
        v.push(("with a trailing CRLF", [body, b"\r\n"].concat()));
    }
    if body.windows(2).any(|w| w == b"\r\n") {
        let lf: Vec<u8> = String::from_utf8_lossy(body).replace("\r\n", "\n").into_bytes();
        v.push(("with CRLF line endings turned into LF", lf));
    }
    v
}

/// Runs `flowgate verify`.
///
/// # Errors
/// Unreadable files or an unknown provider.
pub fn run(args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let body = std::fs::read(&args.body).with_context(|| format!("reading {}", args.body.display()))?;
    let mut lines: Vec<String> = args.headers.clone();
    if let Some(f) = &args.headers_file {
        let text = std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        lines.extend(text.lines().map(str::to_owned));
    }
    let mut headers = Headers::new();
    for line in lines.iter().map(|l| l.trim()).filter(|l| !l.is_empty()) {
        let Some((k, v)) = line.split_once(':') else { bail!("header {line:?} is not `Name: value`") };
        headers.insert(k.trim(), v.trim());
    }
    let secrets: Vec<Secret> = args.secrets.iter().map(|s| Secret::new(s.clone())).collect();
    let now = match args.now {
        Some(n) => n,
        None => std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs(),
    };
    let (ok, report) = diagnose(&args.provider, &secrets, &headers, &body, &args.url, &args.method, now)?;
    for line in report {
        println!("{line}");
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

#[cfg(test)]
mod tests {
    use flowgate_core::verify::github;

    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Headers {
        pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
    }

    #[test]
    fn explains_success_and_each_failure() {
        let s = Secret::new("It's a Secret to Everybody");
        let sig = github::sign(&s, b"Hello, World!");
        let h = headers(&[("x-hub-signature-256", &sig), ("x-github-event", "push")]);
        let (ok, lines) = diagnose("github", std::slice::from_ref(&s), &h, b"Hello, World!", "u", "POST", 0).unwrap();
        assert!(ok, "{lines:?}");
        assert!(lines[1].contains("push"));

        let (ok, lines) = diagnose("github", std::slice::from_ref(&s), &h, b"Hello, World!\n", "u", "POST", 0).unwrap();
        assert!(!ok);
        assert!(lines.iter().any(|l| l.contains("without its trailing newline")), "{lines:?}");

        let (_, lines) = diagnose("github", &[Secret::new("wrong")], &h, b"Hello, World!", "u", "POST", 0).unwrap();
        assert!(lines.iter().any(|l| l.contains("secret is wrong")), "{lines:?}");
        assert!(!lines.join("\n").contains("Everybody"), "no secret printed");

        let (_, lines) = diagnose("github", &[s], &Headers::new(), b"x", "u", "POST", 0).unwrap();
        assert!(lines.iter().any(|l| l.contains("no x-hub-signature-256 header")), "{lines:?}");
    }

    #[test]
    fn finds_the_url_a_url_bound_sender_signed() {
        let Scheme::Hmac(h) = find_provider("square").unwrap().scheme() else { panic!() };
        let s = Secret::new("square-key");
        let signed: Headers =
            h.sign(&s, b"{}", 0, "", "http://hooks.example/hooks/sq", "POST").unwrap().into_iter().collect();
        let (ok, lines) =
            diagnose("square", &[s], &signed, b"{}", "https://hooks.example/hooks/sq", "POST", 0).unwrap();
        assert!(!ok);
        assert!(lines.iter().any(|l| l.contains("matches the URL http://hooks.example/hooks/sq")), "{lines:?}");
    }

    #[test]
    fn a_failing_twilio_request_names_the_announced_algorithm() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let body = b"CallSid=CA1&From=%2B14158675309";
        let token = Secret::new("auth-token");
        let shared = Secret::new("shared-key-secret");
        let diagnose_with = |headers: &Headers, secret: &Secret| {
            diagnose("twilio", std::slice::from_ref(secret), headers, body, url, "POST", 0).unwrap()
        };
        // SHA-256 with the SharedKey, checked with the Auth Token: fails, and says why.
        let h = headers(&[
            ("x-twilio-signature", &twilio::sign_with(twilio::Algorithm::HmacSha256, &shared, url, body)),
            ("x-twilio-webhooks-signature-settings", "key=webhooks_sharedkey_01,algorithm=HMAC_SHA256"),
        ]);
        let (ok, lines) = diagnose_with(&h, &token);
        assert!(!ok);
        assert!(
            lines.iter().any(|l| l.contains("checked as HMAC_SHA256")
                && l.contains("webhooks_sharedkey_01")
                && l.contains("SharedKey's secret")),
            "{lines:?}"
        );
        assert!(diagnose_with(&h, &shared).0);
        // The Auth Token signature: named as HMAC_SHA1.
        let h = headers(&[("x-twilio-signature", &twilio::sign(&token, url, body))]);
        let (ok, lines) = diagnose_with(&h, &shared);
        assert!(!ok && lines.iter().any(|l| l.contains("HMAC_SHA1 with the Auth Token")), "{lines:?}");
        // An unknown algorithm: named, and said to be refused.
        let h = headers(&[
            ("x-twilio-signature", &twilio::sign(&token, url, body)),
            ("x-twilio-webhooks-signature-settings", "key=k,algorithm=HMAC_SHA3\u{7}"),
        ]);
        let (ok, lines) = diagnose_with(&h, &token);
        assert!(!ok);
        assert!(
            lines.iter().any(|l| l.contains("\"HMAC_SHA3\"") && l.contains("never checked as HMAC_SHA1")),
            "{lines:?}"
        );
        assert!(!lines.join("\n").contains("auth-token") && !lines.join("\n").contains("shared-key-secret"));
    }

    #[test]
    fn a_stale_request_is_explained_and_now_helps() {
        let Scheme::Hmac(h) = find_provider("slack").unwrap().scheme() else { panic!() };
        let s = Secret::new("slack");
        let signed: Headers = h.sign(&s, b"a=b", 1_000, "", "", "POST").unwrap().into_iter().collect();
        let (ok, lines) = diagnose("slack", std::slice::from_ref(&s), &signed, b"a=b", "u", "POST", 100_000).unwrap();
        assert!(!ok);
        assert!(lines.iter().any(|l| l.contains("--now")), "{lines:?}");
        assert!(diagnose("slack", &[s], &signed, b"a=b", "u", "POST", 1_010).unwrap().0);
    }
}
