//! `flowgate token`: obtain a token exactly as the Worker would, with the
//! configured credential, and explain its claims against what the flow's
//! "Who can trigger the flow" setting needs. This is what to run when a flow
//! answers `MisMatchingOAuthClaims` (entra-power-automate.md §1.2–§1.5, §6).

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use anyhow::{bail, Context as _};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use flowgate_core::{
    config::{AssertionAlgorithm, Cloud, Config, Credential, EntraConfig},
    entra::{
        assertion, client_assertion_form, client_secret_form, parse_token_response, CertificateCredential, TokenError,
    },
    Secret,
};
use rsa::{
    pkcs8::DecodePrivateKey,
    signature::{RandomizedSigner, SignatureEncoding, Signer},
    RsaPrivateKey,
};
use sha2::Sha256;

use crate::check::{load_config, parse_dev_vars};

/// Arguments of `flowgate token`.
#[derive(clap::Args, Debug)]
pub struct TokenArgs {
    /// The wrangler configuration to read `[vars.FLOWGATE.entra]` from.
    #[arg(default_value = "wrangler.toml")]
    pub config: PathBuf,
    /// Use `[env.NAME]`.
    #[arg(long)]
    pub env: Option<String>,
    /// Where the credential's secrets are (dotenv format; default: .dev.vars beside the config).
    /// Values can also come from the environment, under the same names.
    #[arg(long)]
    pub dev_vars: Option<PathBuf>,
    /// Request this scope instead of the configured one (to see what a wrong scope yields).
    #[arg(long)]
    pub scope: Option<String>,
    /// Print the raw access token too (it is a bearer credential: handle with care).
    #[arg(long)]
    pub show_token: bool,
}

/// What the token's claims say about the flow's trigger setting.
#[derive(Debug, PartialEq, Eq)]
pub struct Diagnosis {
    /// Lines to print.
    pub lines: Vec<String>,
    /// True when `aud` is what the cloud's flows demand.
    pub audience_ok: bool,
}

/// Compares a token's claims with what a flow in `cloud` demands.
pub fn diagnose(claims: &serde_json::Value, cloud: Cloud, scope: &str) -> Diagnosis {
    let s = |k: &str| claims.get(k).and_then(serde_json::Value::as_str).unwrap_or("(absent)").to_owned();
    let want = cloud.flow_audience();
    let aud = s("aud");
    let mut lines = vec![
        format!("aud   {aud}"),
        format!("iss   {}", s("iss")),
        format!("tid   {}", s("tid")),
        format!("oid   {}", s("oid")),
        format!(
            "appid {}",
            claims.get("appid").or_else(|| claims.get("azp")).and_then(|v| v.as_str()).unwrap_or("(absent)")
        ),
        format!(
            "exp   {}",
            claims.get("exp").and_then(serde_json::Value::as_u64).map_or("(absent)".to_owned(), |e| e.to_string())
        ),
        String::new(),
    ];
    let audience_ok = aud == want;
    if audience_ok {
        lines.push(format!("OK  aud is exactly {want}, as {} flows demand (trailing slash included)", cloud.name()));
    } else if aud == want.trim_end_matches('/') {
        lines.push(format!("BAD aud lacks the trailing slash: the flow answers MisMatchingOAuthClaims. The scope \"{scope}\" has a single slash; request {want}/.default (double slash)"));
    } else {
        lines.push(format!(
            "BAD aud is not {want}: the flow answers MisMatchingOAuthClaims. Check entra.cloud / entra.scope"
        ));
    }
    lines.push(format!("'Any user in my tenant' accepts it if the flow lives in tenant {}", s("tid")));
    lines.push(format!(
        "'Specific users in my tenant' accepts it if the list holds {} (the service principal's Object ID, not the client ID)",
        s("oid")
    ));
    Diagnosis { lines, audience_ok }
}

/// The payload of a JWT, decoded (signature not checked: this only explains).
///
/// # Errors
/// When the token is not a JWT.
pub fn jwt_claims(token: &str) -> anyhow::Result<serde_json::Value> {
    let payload = token.split('.').nth(1).context("the access token is not a JWT")?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).context("the JWT payload is not base64url")?;
    serde_json::from_slice(&bytes).context("the JWT payload is not JSON")
}

/// Signs a client assertion natively, as the Worker does with Web Crypto.
///
/// # Errors
/// When the key is not an RSA PKCS#8 key.
pub fn sign_assertion(cfg: &EntraConfig, cert: &CertificateCredential, now: u64) -> anyhow::Result<String> {
    let key = RsaPrivateKey::from_pkcs8_der(cert.private_key_der.expose())
        .context("the private key is not an RSA PKCS#8 key")?;
    let input = cert.signing_input(cfg, now, &uuid::Uuid::new_v4().to_string());
    let signature = match cert.algorithm {
        AssertionAlgorithm::Rs256 => rsa::pkcs1v15::SigningKey::<Sha256>::new(key).sign(input.as_bytes()).to_vec(),
        AssertionAlgorithm::Ps256 => rsa::pss::SigningKey::<Sha256>::new_with_salt_len(key, 32)
            .sign_with_rng(&mut rand::thread_rng(), input.as_bytes())
            .to_vec(),
    };
    Ok(assertion::assemble(&input, &signature))
}

fn secret_value(vars: &std::collections::BTreeMap<String, String>, name: &str) -> anyhow::Result<String> {
    vars.get(name)
        .cloned()
        .or_else(|| std::env::var(name).ok())
        .with_context(|| format!("secret {name} is neither in the dev vars file nor in the environment"))
}

/// The token request's form body for the configured credential.
///
/// # Errors
/// A missing secret or an unusable certificate.
pub fn form_body(
    config: &Config,
    vars: &std::collections::BTreeMap<String, String>,
    now: u64,
) -> anyhow::Result<String> {
    Ok(match &config.entra.credential {
        Credential::ClientSecret { binding } => {
            client_secret_form(&config.entra, &Secret::new(secret_value(vars, binding)?))
        }
        Credential::Certificate { private_key_binding, certificate_binding, algorithm } => {
            let cert = CertificateCredential::from_pem(
                &Secret::new(secret_value(vars, private_key_binding)?),
                &secret_value(vars, certificate_binding)?,
                *algorithm,
            )
            .map_err(|e| anyhow::anyhow!(e))?;
            client_assertion_form(&config.entra, &sign_assertion(&config.entra, &cert, now)?)
        }
    })
}

/// Runs `flowgate token`: exit 0 when the token's audience is right, 1 when
/// it is not, 2 when no token could be obtained.
///
/// # Errors
/// Unreadable files, an unusable configuration, or a failed request.
pub async fn run(args: &TokenArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.config).with_context(|| format!("reading {}", args.config.display()))?;
    let mut config = load_config(&text, args.env.as_deref()).map_err(|problems| {
        let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("the configuration has problems (run `flowgate check`):\n  {}", list.join("\n  "))
    })?;
    if let Some(scope) = &args.scope {
        config.entra.scope.clone_from(scope);
    }
    let vars_path =
        args.dev_vars.clone().unwrap_or_else(|| args.config.parent().unwrap_or(Path::new(".")).join(".dev.vars"));
    let vars = std::fs::read_to_string(&vars_path).map(|t| parse_dev_vars(&t)).unwrap_or_default();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();

    let endpoint = config.entra.token_endpoint();
    let body = form_body(&config, &vars, now)?;
    let resp = reqwest::Client::new()
        .post(&endpoint)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .with_context(|| format!("POST {endpoint}"))?;
    let status = resp.status().as_u16();
    let retry_after = resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    let bytes = resp.bytes().await?;
    println!("POST {endpoint}  scope={}", config.entra.scope);
    let token = match parse_token_response(status, retry_after, &bytes, now) {
        Ok(t) => t,
        Err(e) => {
            println!("no token: {e}");
            println!("fix: {}", e.hint());
            if let TokenError::Entra { trace_id: Some(t), .. } = &e {
                println!("Entra trace id: {t}");
            }
            return Ok(ExitCode::from(2));
        }
    };
    let claims = jwt_claims(token.access_token.expose())?;
    println!("token obtained, valid for {} s; its claims:", token.expires_at - token.obtained_at);
    let d = diagnose(&claims, config.entra.cloud, &config.entra.scope);
    for line in &d.lines {
        println!("  {line}");
    }
    if args.show_token {
        println!("\n{}", token.access_token.expose());
    }
    if d.audience_ok {
        Ok(ExitCode::SUCCESS)
    } else {
        bail!("the token's audience is wrong (see above)")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn explains_the_missing_trailing_slash() {
        let claims = json!({"aud": "https://service.flow.microsoft.com", "tid": "t", "oid": "o", "iss": "https://sts.windows.net/t/", "exp": 1});
        let d = diagnose(&claims, Cloud::Public, "https://service.flow.microsoft.com/.default");
        assert!(!d.audience_ok);
        let text = d.lines.join("\n");
        assert!(text.contains("lacks the trailing slash"), "{text}");
        assert!(text.contains("https://service.flow.microsoft.com//.default"), "{text}");
        assert!(text.contains("holds o (the service principal's Object ID"), "{text}");
    }

    #[test]
    fn accepts_the_exact_audience_per_cloud() {
        for cloud in Cloud::ALL {
            let claims = json!({"aud": cloud.flow_audience(), "tid": "t", "oid": "o"});
            assert!(diagnose(&claims, cloud, &cloud.default_scope()).audience_ok, "{}", cloud.name());
        }
        let gcc_token = json!({"aud": Cloud::Gcc.flow_audience()});
        let d = diagnose(&gcc_token, Cloud::Public, "x");
        assert!(!d.audience_ok);
        assert!(d.lines.join("\n").contains("entra.cloud"));
    }

    #[test]
    fn jwt_payloads_decode() {
        let t = format!("e30.{}.sig", URL_SAFE_NO_PAD.encode(br#"{"aud":"a"}"#));
        assert_eq!(jwt_claims(&t).unwrap()["aud"], "a");
        assert!(jwt_claims("opaque").is_err());
    }
}
