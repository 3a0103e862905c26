//! The `flowgate` command-line tool, as a library so the end-to-end tests can
//! run the emulator in-process and reuse the signers.
//!
//! - [`emulator`]: Entra token endpoint + Power Automate trigger, locally.
//! - [`send`]: sign and POST a webhook as a given sender does.
//! - [`providers`]: list the built-in senders.
//! - [`check`]: offline validation of `wrangler.toml`.
//! - [`schema`]: the JSON Schema of a route's envelope, for the flow's trigger.
//! - [`route`]: a dry run of a route's rules on a captured event.
//! - [`dlq`]: `flowgate status` and `flowgate dlq`, the Worker's admin API.
//! - [`token`]: obtain a token and explain its claims.
//! - [`verify_cmd`]: check a captured request offline and explain why it fails.
#![forbid(unsafe_code)]

pub mod check;
pub mod dlq;
pub mod emulator;
pub mod providers;
pub mod route;
pub mod schema;
pub mod send;
pub mod token;
pub mod verify_cmd;
