//! `flowgate`: the local Entra/Power Automate emulator, signed test sends and
//! offline configuration checks. See `flowgate --help`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use flowgate_cli::{check, dlq, handshake_cmd, providers, route, schema, send, token, verify_cmd};
use flowgate_emulator as emulator;

#[derive(Parser)]
#[command(name = "flowgate", version, about = "flowgate: signed SaaS webhooks → Entra token → Power Automate flow")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the local emulator of Entra's token endpoint and a Power Automate trigger.
    Emulate(emulator::EmulateArgs),
    /// Sign a sample (or given) payload exactly as a sender does and POST it.
    Send(send::SendArgs),
    /// Validate flowgate's configuration in wrangler.toml offline; print every problem and its fix.
    Check(check::CheckArgs),
    /// Print the JSON Schema of a route's envelope, for the flow's "When an HTTP request is received" trigger.
    Schema(schema::SchemaArgs),
    /// Dry-run a route's rules on a captured event: which rules match, what each flow would receive (nothing is sent).
    Route(route::RouteArgs),
    /// Obtain a token with the configured credential and explain its claims (for MisMatchingOAuthClaims).
    Token(token::TokenArgs),
    /// Check a captured request against a route's secret offline, and say why it fails.
    Verify(verify_cmd::VerifyArgs),
    /// Show the Worker's per-route counters and cached-token state (admin API; token from FLOWGATE_ADMIN_TOKEN).
    Status(dlq::StatusArgs),
    /// List, show, redrive or delete dead letters (admin API; token from FLOWGATE_ADMIN_TOKEN).
    Dlq(dlq::DlqArgs),
    /// Open the registration window of an Asana/Notion route, or reset, show or reveal its kept secret (admin API).
    Handshake(handshake_cmd::HandshakeArgs),
    /// List the built-in senders: what is checked, the test evidence, their docs.
    Providers {
        /// Print a Markdown table.
        #[arg(long)]
        markdown: bool,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Emulate(args) => emulator::run(args).await.map(|()| ExitCode::SUCCESS),
        Command::Send(args) => send::run(args).await,
        Command::Check(args) => check::run(&args),
        Command::Schema(args) => schema::run(&args),
        Command::Route(args) => route::run(&args),
        Command::Token(args) => token::run(&args).await,
        Command::Providers { markdown } => Ok(providers::run(markdown)),
        Command::Verify(args) => verify_cmd::run(&args),
        Command::Status(args) => dlq::run_status(args).await,
        Command::Dlq(args) => dlq::run_dlq(args).await,
        Command::Handshake(args) => handshake_cmd::run(args).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("flowgate: {e:#}");
            ExitCode::from(2)
        }
    }
}
