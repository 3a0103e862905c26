//! Secrets a sender hands over in a handshake (Asana's `X-Hook-Secret`,
//! Notion's `verification_token`): kept in the route's ledger (the Durable
//! Object — insert-if-absent, strongly consistent), sealed with the main
//! credential's key, and only while the operator's registration window is
//! open (`flowgate handshake open <route>`; the rules are
//! [`flowgate_core::ledger::keep`]).
//!
//! Each isolate keeps the opened secret for [`CACHE_SECS`] (and that none is
//! kept, for [`ABSENT_CACHE_SECS`]), so an Asana event costs a ledger call
//! at most once a minute per isolate, and unsigned requests cannot make it
//! call the ledger more often than that.

use std::{cell::RefCell, collections::HashMap};

use flowgate_core::{
    config::{Config, Route},
    ledger::{HandshakeRequest, HandshakeStatus, KeepAnswer, KeepRefused, KeptSecret},
    Secret,
};
use worker::Env;

use crate::{deliver, ledger::Ledger, log::now_millis};

/// How long an isolate keeps a handed-over secret it read (seconds). A
/// re-registration (reset, then a new secret) reaches every isolate within it.
const CACHE_SECS: u64 = 60;
/// How long an isolate remembers that none is kept (seconds).
const ABSENT_CACHE_SECS: u64 = 10;

thread_local! {
    // route → (the secret, if any; read at, Unix seconds).
    static CACHE: RefCell<HashMap<String, (Option<Secret>, u64)>> = RefCell::new(HashMap::new());
}

/// What the name of a route's handed-over secret is sealed under (the
/// associated data: a value moved to another route does not open).
fn aad(route: &str, name: &str) -> String {
    format!("handshake/v1/{route}/{name}")
}

/// Why a handed-over secret was not kept, for the sender and the log.
pub(crate) enum NotKept {
    /// The ledger refused it (window closed, one kept already).
    Refused(KeepRefused),
    /// Storage or configuration failed.
    Failed(String),
}

/// Keeps `secret` for `route` under `name`.
///
/// # Errors
/// [`NotKept`].
pub(crate) async fn keep(
    env: &Env,
    config: &Config,
    route: &Route,
    name: &str,
    secret: &Secret,
) -> Result<(), NotKept> {
    let seal = deliver::main_seal(env, config).map_err(NotKept::Failed)?;
    let mut nonce = [0u8; 12];
    getrandom::getrandom(&mut nonce).map_err(|e| NotKept::Failed(format!("no random nonce: {e}")))?;
    let sealed = seal.seal_secret(&aad(&route.name, name), secret, nonce);
    let ledger = Ledger::of(env, &route.name).map_err(NotKept::Failed)?;
    let answer: KeepAnswer = ledger
        .handshake(&HandshakeRequest::Keep { name: name.to_owned(), sealed })
        .await
        .map_err(|e| NotKept::Failed(format!("route ledger unavailable: {e}")))?;
    match answer {
        KeepAnswer::Kept => {
            CACHE.with(|c| c.borrow_mut().insert(route.name.clone(), (Some(secret.clone()), now_secs())));
            Ok(())
        }
        KeepAnswer::Refused(why) => Err(NotKept::Refused(why)),
    }
}

/// The secret kept for `route` under `name`, if any (this isolate's copy, or
/// the ledger's).
///
/// # Errors
/// The ledger could not be asked, or the kept value does not open (the main
/// credential changed since it was kept): the message says what to do.
pub(crate) async fn kept(env: &Env, config: &Config, route: &Route, name: &str) -> Result<Option<Secret>, String> {
    let now = now_secs();
    if let Some((secret, at)) = CACHE.with(|c| c.borrow().get(&route.name).cloned()) {
        let ttl = if secret.is_some() { CACHE_SECS } else { ABSENT_CACHE_SECS };
        if now < at.saturating_add(ttl) {
            return Ok(secret);
        }
    }
    let ledger = Ledger::of(env, &route.name)?;
    let kept: Option<KeptSecret> = ledger
        .handshake(&HandshakeRequest::Kept { name: name.to_owned() })
        .await
        .map_err(|e| format!("route ledger unavailable: {e}"))?;
    let secret = match kept {
        None => None,
        Some(k) => {
            let seal = deliver::main_seal(env, config)?;
            Some(seal.open_secret(&aad(&route.name, name), &k.sealed).ok_or_else(|| {
                format!(
                    "route {}: the kept {name} does not open with the current credential's key (it changed since the sender registered); register again: flowgate handshake reset {} && flowgate handshake open {}",
                    route.name, route.name, route.name
                )
            })?)
        }
    };
    CACHE.with(|c| c.borrow_mut().insert(route.name.clone(), (secret.clone(), now)));
    Ok(secret)
}

/// Carries out an operator's request (the admin API) on `route`'s window or
/// kept secret, and forgets this isolate's copy.
///
/// # Errors
/// The ledger could not be asked.
pub(crate) async fn operate(env: &Env, route: &Route, req: &HandshakeRequest) -> Result<HandshakeStatus, String> {
    let ledger = Ledger::of(env, &route.name)?;
    let status = ledger.handshake(req).await.map_err(|e| format!("route ledger unavailable: {e}"))?;
    CACHE.with(|c| c.borrow_mut().remove(&route.name));
    Ok(status)
}

fn now_secs() -> u64 {
    now_millis() / 1000
}
