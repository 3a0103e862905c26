//! Handed-over secrets (Asana's X-Hook-Secret, Notion's verification_token):
//! kept in the route ledger only while the operator's registration window
//! is open, never replaced silently.

use serde::{Deserialize, Serialize};

use super::secs;

/// A secret kept for a route, sealed (encrypted) by the Worker before it is
/// stored: the ledger never holds it in clear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptSecret {
    /// The sealed value (opaque to the ledger).
    pub sealed: String,
    /// When it was kept, Unix seconds.
    pub kept_at: i64,
}

/// Where a route's registration window and handed-over secrets live.
pub trait HandshakeStore {
    /// The storage's error.
    type Error;
    /// Until when the operator's registration window is open (Unix seconds), if set.
    fn window(&mut self) -> Result<Option<i64>, Self::Error>;
    /// Opens (`Some`) or closes (`None`) the window.
    fn set_window(&mut self, until: Option<i64>) -> Result<(), Self::Error>;
    /// The secret kept under `name`.
    fn kept(&mut self, name: &str) -> Result<Option<KeptSecret>, Self::Error>;
    /// Keeps a secret under `name` if none is (insert-if-absent).
    fn put_kept(&mut self, name: &str, secret: KeptSecret) -> Result<(), Self::Error>;
    /// Forgets the secret kept under `name`.
    fn delete_kept(&mut self, name: &str) -> Result<(), Self::Error>;
}

/// Why a handed-over secret was not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeepRefused {
    /// No registration window is open: the operator did not ask for one.
    WindowClosed,
    /// A secret is kept already; it is never replaced silently.
    AlreadyKept,
}

impl KeepRefused {
    /// A stable label for logs.
    pub fn code(self) -> &'static str {
        match self {
            KeepRefused::WindowClosed => "registration_window_closed",
            KeepRefused::AlreadyKept => "secret_already_kept",
        }
    }
}

/// The Worker's requests to a route ledger about handed-over secrets, and
/// the admin API's (one enum, so both sides name the operations once).
/// `name` is the secret's ([`crate::verify::handshake::stored_secret_name`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
// Externally tagged (`{"keep": {...}}`): an internally tagged enum makes
// serde buffer every request before reading it, about 10 KB more wasm.
#[serde(rename_all = "snake_case")]
pub enum HandshakeRequest {
    /// Keep a handed-over secret, sealed (answer: [`KeepAnswer`]).
    Keep {
        /// The secret's name.
        name: String,
        /// The sealed value.
        sealed: String,
    },
    /// The kept secret, if any (answer: `Option<KeptSecret>`).
    Kept {
        /// The secret's name.
        name: String,
    },
    /// Open the registration window (answer: [`HandshakeStatus`]).
    Open {
        /// The secret's name.
        name: String,
        /// For how long, seconds (at most [`MAX_REGISTRATION_WINDOW_SECS`]).
        for_secs: u64,
    },
    /// Close the window (answer: [`HandshakeStatus`]).
    Close {
        /// The secret's name.
        name: String,
    },
    /// Forget the kept secret, so the sender can register again (answer: [`HandshakeStatus`]).
    Reset {
        /// The secret's name.
        name: String,
    },
    /// The window and what is kept (answer: [`HandshakeStatus`]).
    Status {
        /// The secret's name.
        name: String,
    },
}

/// The answer to [`HandshakeRequest::Keep`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeepAnswer {
    /// Kept; the window is closed.
    Kept,
    /// Not kept.
    Refused(KeepRefused),
}

/// A route's registration window and kept secret, as the admin API shows
/// them (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandshakeStatus {
    /// Until when the window is open (Unix seconds); `None` when closed.
    pub open_until: Option<i64>,
    /// When the secret was kept (Unix seconds); `None` when none is.
    pub kept_at: Option<i64>,
}

/// The admin API's answer about a route's registration window
/// (`/admin/v1/routes/{route}/handshake…`): the Worker writes it, the CLI
/// reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandshakeWindow {
    /// The route.
    pub route: String,
    /// The handed-over secret's name (`asana-x-hook-secret`, `notion-verification-token`).
    pub name: String,
    /// Until when the window is open (Unix seconds); `None` when closed.
    pub open_until: Option<i64>,
    /// When the secret was kept (Unix seconds); `None` when none is.
    pub kept_at: Option<i64>,
}

fn status_of<S: HandshakeStore>(store: &mut S, name: &str, now: i64) -> Result<HandshakeStatus, S::Error> {
    Ok(HandshakeStatus {
        open_until: store.window()?.filter(|until| *until > now),
        kept_at: store.kept(name)?.map(|k| k.kept_at),
    })
}

/// Carries out `req` against `store` at `now` (the Durable Object's side).
/// Answers are JSON values of the types named on each request.
///
/// # Errors
/// The storage's.
pub fn handle_handshake<S: HandshakeStore>(
    store: &mut S,
    req: HandshakeRequest,
    now: i64,
) -> Result<serde_json::Value, S::Error> {
    let json = |v: Result<serde_json::Value, serde_json::Error>| v.unwrap_or(serde_json::Value::Null);
    Ok(match req {
        HandshakeRequest::Keep { name, sealed } => json(serde_json::to_value(match keep(store, &name, sealed, now)? {
            Ok(()) => KeepAnswer::Kept,
            Err(why) => KeepAnswer::Refused(why),
        })),
        HandshakeRequest::Kept { name } => json(serde_json::to_value(store.kept(&name)?)),
        HandshakeRequest::Open { name, for_secs } => {
            open_window(store, for_secs, now)?;
            json(serde_json::to_value(status_of(store, &name, now)?))
        }
        HandshakeRequest::Close { name } => {
            store.set_window(None)?;
            json(serde_json::to_value(status_of(store, &name, now)?))
        }
        HandshakeRequest::Reset { name } => {
            store.delete_kept(&name)?;
            json(serde_json::to_value(status_of(store, &name, now)?))
        }
        HandshakeRequest::Status { name } => json(serde_json::to_value(status_of(store, &name, now)?)),
    })
}

/// Longest registration window an operator may open (seconds): registering
/// a webhook takes a minute; a window left open is an open door.
pub const MAX_REGISTRATION_WINDOW_SECS: u64 = 3600;

/// Opens the route's registration window for `for_secs` (at most
/// [`MAX_REGISTRATION_WINDOW_SECS`]); returns until when.
///
/// # Errors
/// The storage's.
pub fn open_window<S: HandshakeStore>(store: &mut S, for_secs: u64, now: i64) -> Result<i64, S::Error> {
    let until = now.saturating_add(secs(for_secs.clamp(1, MAX_REGISTRATION_WINDOW_SECS)));
    store.set_window(Some(until))?;
    Ok(until)
}

/// Keeps a handed-over secret: only while the window is open, only when
/// none is kept (insert-if-absent, atomic within the Durable Object, which
/// handles one request at a time); the window closes once a secret is kept
/// (one registration per window).
///
/// # Errors
/// The storage's; `Ok(Err(KeepRefused))` when nothing was kept.
pub fn keep<S: HandshakeStore>(
    store: &mut S,
    name: &str,
    sealed: String,
    now: i64,
) -> Result<Result<(), KeepRefused>, S::Error> {
    if store.window()?.is_none_or(|until| until <= now) {
        return Ok(Err(KeepRefused::WindowClosed));
    }
    if store.kept(name)?.is_some() {
        return Ok(Err(KeepRefused::AlreadyKept));
    }
    store.put_kept(name, KeptSecret { sealed, kept_at: now })?;
    store.set_window(None)?;
    Ok(Ok(()))
}
