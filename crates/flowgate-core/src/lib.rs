//! flowgate's core: everything that decides, nothing that does I/O.
//!
//! The Worker crate (the repository root) translates `worker::Request`/`Env`
//! into these types and these results back into responses; the CLI reuses the
//! same code natively. Nothing here depends on `worker`, so every rule is unit
//! tested with `cargo test -p flowgate-core`.
//!
//! - [`verify`]: sender signature verification over the raw body bytes.
//! - [`config`]: the route/Entra configuration model and its validation.
//! - [`entra`]: the client-credentials request, Entra's answers, and the
//!   token-cache policy (memory → KV → Entra, one request in flight).
//! - [`delivery`]: queue messages and the retry / dead-letter rules.
//! - [`forward`]: what is sent to the flow and what the sender is answered.
//! - [`ledger`]: the route ledger's rules: duplicates, replays, the delivery
//!   state machine, handed-over secrets, and the requests and answers between
//!   the Worker and its Durable Object.
//! - [`pacing`]: a flow's `max_rate`, `max_concurrency` and circuit breaker.
//! - [`rules`]: edge routing, which of a route's flows get an event.
//! - [`envelope`]: the `envelope` payload shape and its JSON Schema.
//! - [`alerts`]: failure alerts, their formats and their rate limit.
//! - [`admin`]: the admin API's documents (Worker, CLI and console share them).
//! - [`secret`], [`clock`], [`headers`]: small shared types.
#![forbid(unsafe_code)]

pub mod admin;
pub mod alerts;
pub mod clock;
pub mod config;
pub mod delivery;
pub mod entra;
pub mod envelope;
pub mod forward;
pub mod headers;
pub mod ledger;
pub mod metrics;
pub mod pacing;
pub mod rules;
pub mod secret;
pub mod verify;

pub use clock::Clock;
pub use headers::Headers;
pub use secret::Secret;
