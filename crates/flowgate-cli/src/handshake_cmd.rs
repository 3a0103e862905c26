//! `flowgate handshake`: the registration window of a route whose sender
//! hands over its signing secret in a handshake (Asana's `X-Hook-Secret`,
//! Notion's `verification_token`). The Worker keeps such a secret only while
//! a window the operator opened is open, never replacing one it keeps
//! (README, Handshakes).

use std::{io::Write, process::ExitCode};

use anyhow::bail;
use flowgate_core::ledger::HandshakeWindow;

use crate::dlq::{admin_token, finish, now_unix, AdminClient, Connection};

/// Arguments of `flowgate handshake`.
#[derive(clap::Args, Debug, Clone)]
pub struct HandshakeArgs {
    #[command(flatten)]
    pub connection: Connection,
    #[command(subcommand)]
    pub command: HandshakeCommand,
}

/// What to do with the window.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum HandshakeCommand {
    /// Open the window: register the webhook with the sender while it is open.
    Open {
        /// The route (`/hooks/<route>`).
        route: String,
        /// How long: `90s`, `10m`, `1h` (at most 1 h).
        #[arg(long = "for", default_value = "10m", value_parser = parse_duration)]
        duration: u64,
    },
    /// Close the window before it runs out.
    Close {
        /// The route.
        route: String,
    },
    /// Forget the kept secret, so the sender can register again (then `open`).
    Reset {
        /// The route.
        route: String,
    },
    /// Whether the window is open and a secret is kept.
    Status {
        /// The route.
        route: String,
    },
    /// Print the kept secret (Notion's token, to paste into Notion's "Verify" dialog).
    Reveal {
        /// The route.
        route: String,
    },
}

/// `90`, `90s`, `10m`, `1h` → seconds.
///
/// # Errors
/// Not a duration, or zero.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = digits.parse().map_err(|_| format!("{text:?} is not a duration like 10m, 90s or 1h"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        _ => return Err(format!("{text:?}: use s, m or h (e.g. 10m)")),
    };
    if secs == 0 {
        return Err("the window must be open for at least a second".to_owned());
    }
    Ok(secs)
}

/// Runs `flowgate handshake …`.
///
/// # Errors
/// As `flowgate status`.
pub async fn run(args: HandshakeArgs) -> anyhow::Result<ExitCode> {
    let client = AdminClient::new(&args.connection.url, admin_token(|k| std::env::var(k).ok())?)?;
    finish(handshake(&client, &args.command, now_unix(), &mut std::io::stdout().lock()).await)
}

/// `flowgate handshake …`, writing to `out`.
///
/// # Errors
/// An [`crate::dlq::AdminError`] (downcast by the caller), or an output error.
pub async fn handshake(
    client: &AdminClient,
    command: &HandshakeCommand,
    now: u64,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let window = match command {
        HandshakeCommand::Open { route, duration } => {
            if *duration > flowgate_core::ledger::MAX_REGISTRATION_WINDOW_SECS {
                bail!("--for is at most 1h: a window left open lets anyone hand over a secret");
            }
            client.handshake(route, Some("open"), Some(*duration)).await?
        }
        HandshakeCommand::Close { route } => client.handshake(route, Some("close"), None).await?,
        HandshakeCommand::Reset { route } => client.handshake(route, Some("reset"), None).await?,
        HandshakeCommand::Status { route } => client.handshake(route, None, None).await?,
        HandshakeCommand::Reveal { route } => {
            let secret = client.reveal(route).await?;
            writeln!(out, "{}", secret.expose())?;
            return Ok(ExitCode::SUCCESS);
        }
    };
    out.write_all(render(&window, now).as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// The window as a few lines of text.
pub fn render(w: &HandshakeWindow, now: u64) -> String {
    let now = i64::try_from(now).unwrap_or(i64::MAX);
    let window = match w.open_until {
        Some(until) if until > now => format!(
            "open for {} more s: register the webhook with the sender now (one secret is kept, then the window closes)",
            until - now
        ),
        _ => "closed".to_owned(),
    };
    let kept = match w.kept_at {
        Some(at) => format!(
            "kept {} s ago (never replaced: `flowgate handshake reset {}` to register again)",
            now - at,
            w.route
        ),
        None => format!("none yet (`flowgate handshake open {}`, then register the webhook)", w.route),
    };
    format!("route {}: {}\n  window: {window}\n  secret: {kept}\n", w.route, w.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10m"), Ok(600));
        assert_eq!(parse_duration("90s"), Ok(90));
        assert_eq!(parse_duration("90"), Ok(90));
        assert_eq!(parse_duration("1h"), Ok(3600));
        for bad in ["", "m", "0", "10d", "-5m", "1.5m"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn renders_open_and_kept() {
        let w = HandshakeWindow {
            route: "asana".into(),
            name: "asana-x-hook-secret".into(),
            open_until: Some(1600),
            kept_at: None,
        };
        let text = render(&w, 1000);
        assert!(text.contains("open for 600 more s"), "{text}");
        assert!(text.contains("none yet"), "{text}");
        let w = HandshakeWindow { open_until: None, kept_at: Some(900), ..w };
        let text = render(&w, 1000);
        assert!(text.contains("window: closed") && text.contains("kept 100 s ago"), "{text}");
    }
}
