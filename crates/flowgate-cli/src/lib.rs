//! The `flowgate` command-line tool, as a library so its integration tests
//! can drive the commands (the emulator and the signers are flowgate-emulator's).
//!
//! - `flowgate emulate` is the emulator crate's (`flowgate_emulator::run`).
//! - [`send`]: sign and POST a webhook as a given sender does.
//! - [`providers`]: list the built-in senders.
//! - [`check`]: offline validation of `wrangler.toml`.
//! - [`schema`]: the JSON Schema of a route's envelope, for the flow's trigger.
//! - [`route`]: a dry run of a route's rules on a captured event.
//! - [`dlq`]: `flowgate status` and `flowgate dlq`, the Worker's admin API.
//! - [`handshake_cmd`]: `flowgate handshake`, the registration window of Asana/Notion routes.
//! - [`token`]: obtain a token and explain its claims.
//! - [`verify_cmd`]: check a captured request offline and explain why it fails.
#![forbid(unsafe_code)]

pub mod check;
pub mod dlq;
pub mod handshake_cmd;
pub mod providers;
pub mod route;
pub mod schema;
pub mod send;
pub mod token;
pub mod verify_cmd;

/// Writes a command's output to stdout. A reader that stops early
/// (`flowgate providers | head`) ends the command quietly, as a Unix filter
/// does; `print!` would panic with a backtrace, because Rust ignores SIGPIPE
/// (restoring it takes `unsafe`, which this workspace forbids).
pub fn emit(text: &str) -> std::process::ExitCode {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("flowgate: cannot write the output: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
