//! `flowgate emulate`: the command-line form of the emulator (the CLI binary
//! mounts [`EmulateArgs`] and calls [`run`]). Plain HTTP by default (what
//! the Worker tests use); `--tls` serves HTTPS with a certificate made at
//! start-up (its CA written to `--ca-out`, printed with the client settings)
//! or with `--cert`/`--key`.

use std::{net::SocketAddr, path::PathBuf};

use crate::{config::Cloud, tls, Emulator, EmulatorConfig, TlsIdentity};

/// `flowgate emulate`: run the emulator until Ctrl-C / SIGTERM.
#[derive(clap::Args, Debug, Clone)]
pub struct EmulateArgs {
    /// Address to listen on (port 0: a free one, printed in the banner).
    #[arg(long, default_value = "127.0.0.1:8790")]
    pub listen: SocketAddr,
    /// TOML configuration (tenants, apps, flows); the demo configuration if
    /// absent.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Token lifetime in seconds (overrides the configuration).
    #[arg(long, value_name = "SECS")]
    pub token_lifetime: Option<u64>,
    /// Serve HTTPS (what MSAL, msal-node and azure-identity need), with a
    /// certificate signed by a local CA made at start-up, unless --cert and
    /// --key are given.
    #[arg(long)]
    pub tls: bool,
    /// PEM certificate chain to serve instead (implies --tls; with --key).
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// PEM private key of --cert.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Where the generated CA certificate is written, for REQUESTS_CA_BUNDLE
    /// / NODE_EXTRA_CA_CERTS [default: <temp dir>/flowgate-emulator-ca.pem].
    #[arg(long, value_name = "FILE")]
    pub ca_out: Option<PathBuf>,
    /// A further name (host name or IP address) for the generated
    /// certificate, besides localhost, 127.0.0.1 and ::1; repeatable.
    #[arg(long = "tls-name", value_name = "NAME")]
    pub tls_names: Vec<String>,
}

/// Starts the emulator, prints a banner and serves until Ctrl-C or SIGTERM.
///
/// # Errors
/// An unreadable or invalid configuration file, an unusable certificate, or
/// a failure to start.
pub async fn run(args: EmulateArgs) -> anyhow::Result<()> {
    let (mut config, is_demo) = match &args.config {
        Some(path) => (EmulatorConfig::from_toml_file(path)?, false),
        None => (EmulatorConfig::demo(), true),
    };
    if let Some(secs) = args.token_lifetime {
        config.token_lifetime_secs = secs;
    }
    let (emulator, tls_note) = match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => {
            let identity = TlsIdentity::from_pem_files(cert, key)?;
            let e = Emulator::start_tls(config, args.listen, &identity).await?;
            (e, Some(format!("  TLS: certificate from {} (key {})\n", cert.display(), key.display())))
        }
        _ if args.tls => {
            let mut names = args.tls_names.clone();
            if !args.listen.ip().is_unspecified() {
                names.push(args.listen.ip().to_string());
            }
            let identity = TlsIdentity::generate(&names)?;
            let ca_path = args.ca_out.clone().unwrap_or_else(|| std::env::temp_dir().join("flowgate-emulator-ca.pem"));
            tls::write_ca(&ca_path, identity.ca_pem.as_deref().unwrap_or_default())?;
            let e = Emulator::start_tls(config, args.listen, &identity).await?;
            let note = tls_banner(&ca_path, &identity.names, &e.base_url());
            (e, Some(note))
        }
        _ => (Emulator::start(config, args.listen).await?, None),
    };
    println!("{}", banner(&emulator, is_demo, tls_note.as_deref()));
    wait_for_stop_signal().await?;
    println!("stopping");
    emulator.shutdown().await;
    Ok(())
}

/// What a client needs to trust the generated certificate and to use the
/// emulator as its authority (README "Pointing a real client at the
/// emulator").
fn tls_banner(ca: &std::path::Path, names: &[String], base: &str) -> String {
    let ca = ca.display();
    format!(
        "  CA certificate: {ca}\n\
         \x20 TLS: a certificate for {} signed by that CA (made at start-up; trust the CA, not the certificate)\n\
         \x20   Python (msal, azure-identity):  export REQUESTS_CA_BUNDLE={ca}\n\
         \x20     msal.ConfidentialClientApplication(..., authority=\"{base}/<tenant>\", instance_discovery=False)\n\
         \x20     ClientSecretCredential(<tenant>, ..., authority=\"{base}\", disable_instance_discovery=True)\n\
         \x20   Node (@azure/msal-node):         export NODE_EXTRA_CA_CERTS={ca}\n\
         \x20     auth: {{ authority: \"{base}/<tenant>\", knownAuthorities: [\"{}\"] }}\n",
        names.join(", "),
        base.split_once("://").map_or(base, |(_, h)| h),
    )
}

/// The start-up text. Client secrets are shown only for the built-in demo
/// configuration, whose secret is public anyway.
pub(crate) fn banner(e: &Emulator, is_demo: bool, tls_note: Option<&str>) -> String {
    let base = e.base_url();
    let config = e.state().config();
    let mut s = format!("flowgate emulator listening on {base}\n");
    if let Some(note) = tls_note {
        s.push_str(note);
    }
    s.push_str(&format!(
        "  Entra authority host: {base}   (for every cloud)\n\
         \x20 token endpoint:       {base}/<tenant>/oauth2/v2.0/token   (client secret or client assertion)\n\
         \x20 discovery:            {base}/<tenant>/v2.0/.well-known/openid-configuration\n\
         \x20 token lifetime:       {} s\n\
         \x20 scopes (double slash: §1.3):\n",
        config.token_lifetime_secs
    ));
    for c in Cloud::ALL {
        s.push_str(&format!("    {:<9} {}/.default\n", c.name(), config.audience_of(c)));
    }
    for t in &config.tenants {
        s.push_str(&format!("  tenant {}  {}\n", t.id, t.domains.join(", ")));
    }
    for a in &config.apps {
        let secret = if is_demo { a.client_secrets.join(", ") } else { "(as in the config file)".to_owned() };
        s.push_str(&format!(
            "  app {:?}  client_id {}  client_secret {secret}  certificates {}  service principal oid {}\n",
            a.display_name,
            a.client_id,
            a.certificates.len(),
            a.service_principal_object_id
        ));
    }
    let plaid_secret = if is_demo { config.plaid.secret.as_str() } else { "(as in the config file)" };
    s.push_str(&format!(
        "  Plaid key endpoint:   {base}/webhook_verification_key/get   client_id {}  secret {plaid_secret}  kid {}\n",
        config.plaid.client_id, config.plaid.kid
    ));
    s.push_str(&format!(
        "  eBay key host:        {base}/identity/v1/oauth2/token, {base}/commerce/notification/v1/public_key/{}   client_id {}  (ebay_environment = \"{base}\")\n",
        flowgate_core::verify::ebay::TEST_KID,
        crate::config::DEMO_EBAY_CLIENT_ID
    ));
    s.push_str(&format!(
        "  Circle key host:      {base}/v2/notifications/publicKey/{}   (circle_environment = \"{base}\")\n",
        flowgate_core::verify::circle::TEST_KEY_ID
    ));
    s.push_str("  flows:\n");
    for f in &config.flows {
        let schema = if f.request_schema.is_some() { ", schema" } else { "" };
        s.push_str(&format!(
            "    {}  [{}, {}, {}{schema}]\n",
            e.flow_url(&f.id),
            f.cloud.name(),
            f.who_can_trigger.as_str(),
            f.state.as_str()
        ));
    }
    s.push_str(&format!(
        "  runs:  {base}/_emulator/runs (summary: /_emulator/runs/summary)   stats: {base}/_emulator/stats\n\
         \x20 faults: {base}/_emulator/faults   flow behaviour: {base}/_emulator/flow-behaviour   flows: {base}/_emulator/flows\n\
         \x20 (GET / lists all)\n\
         Press Ctrl-C to stop."
    ));
    s
}

async fn wait_for_stop_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await?;
    Ok(())
}
