//! The only code that reads `Env`: binding names, the configuration (parsed
//! and validated once per isolate) and secrets.

use std::{cell::RefCell, rc::Rc};

use flowgate_core::{
    config::{Config, Problem, CONFIG_VAR},
    Secret,
};
use worker::{kv::KvStore, Bucket, Env};

use crate::log;

/// KV namespace that caches Entra tokens.
pub(crate) const TOKEN_CACHE_BINDING: &str = "TOKEN_CACHE";

type Loaded = Result<Rc<Config>, Rc<Vec<Problem>>>;

thread_local! {
    // Vars cannot change while an isolate lives, so the configuration is
    // parsed and validated once; its problems are logged once.
    static CONFIG: RefCell<Option<Loaded>> = const { RefCell::new(None) };
    static WARNED_NO_KV: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The validated configuration, or every problem with it.
pub(crate) fn config(env: &Env) -> Loaded {
    if let Some(c) = CONFIG.with(|c| c.borrow().clone()) {
        return c;
    }
    let loaded = load(env);
    if let Err(problems) = &loaded {
        for p in problems.iter() {
            log::config_problem(p);
        }
    }
    CONFIG.with(|c| *c.borrow_mut() = Some(loaded.clone()));
    loaded
}

fn load(env: &Env) -> Loaded {
    let value: serde_json::Value = env.object_var(CONFIG_VAR).map_err(|_| {
        Rc::new(vec![Problem {
            path: CONFIG_VAR.to_owned(),
            message: "the FLOWGATE var is missing or not an object".to_owned(),
            fix: "add [vars.FLOWGATE.entra] and [vars.FLOWGATE.routes.<name>] tables to wrangler.toml (see README.md, Configuration)".to_owned(),
        }])
    })?;
    let config = Config::from_json(&value).map_err(Rc::new)?;
    let has_pacer = env.durable_object(crate::pacer::PACER_BINDING).is_ok();
    let problems = config.problems_with_pacer(has_pacer, crate::pacer::PACER_BINDING);
    if problems.is_empty() {
        Ok(Rc::new(config))
    } else {
        Err(Rc::new(problems))
    }
}

/// A secret binding's value; `None` when it is unset or blank.
pub(crate) fn secret(env: &Env, name: &str) -> Option<Secret> {
    let value = env.secret(name).ok()?.to_string();
    let s = Secret::new(value);
    (!s.is_blank()).then_some(s)
}

/// The R2 bucket for large bodies and dead letters; `Err` says how to bind it.
pub(crate) fn bucket(env: &Env) -> Result<Bucket, String> {
    env.bucket(crate::queue::BUCKET_BINDING).map_err(|_| {
        format!(
            "no R2 bucket binding {}: add the [[r2_buckets]] block of README.md, Deploying",
            crate::queue::BUCKET_BINDING
        )
    })
}

/// The token-cache namespace; `None` (memory-only caching, logged once per
/// isolate) if unbound.
pub(crate) fn token_cache(env: &Env) -> Option<KvStore> {
    let kv = env.kv(TOKEN_CACHE_BINDING).ok();
    if kv.is_none() && !WARNED_NO_KV.with(|w| w.replace(true)) {
        log::warn(
            "token_cache_unbound",
            "no TOKEN_CACHE KV binding: tokens are cached per isolate only; bind a KV namespace as TOKEN_CACHE",
        );
    }
    kv
}
