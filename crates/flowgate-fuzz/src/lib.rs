//! flowgate's fuzz targets, as plain functions of the fuzzer's bytes.
//!
//! Each `pub fn <target>(data: &[u8])` decodes `data` into a structured
//! input (with `arbitrary`, or as text) and asserts its properties by
//! panicking: no panic on any input, and, for every signature scheme,
//! "verify(sign(x)) accepts while verify(mutate(sign(x))) refuses" — the
//! request is signed with the scheme's own signer, verified, changed in one
//! way the input chooses (a body byte, the signature, a header dropped, the
//! time moved past the window, another secret, …) and verified again.
//!
//! The targets use only flowgate-core's public entry points (`verify::verify`,
//! each scheme's signer and parsers, `Config::from_json`, the rules and the
//! envelope builder), which stay stable while the verifiers' internals change.
//!
//! `fuzz/` (cargo-fuzz, nightly) wraps each in `fuzz_target!`; on stable,
//! `tests/replay.rs` runs every saved corpus and crash input through the same
//! functions, so `cargo test -p flowgate-fuzz` is the regression suite.
#![forbid(unsafe_code)]

mod asymmetric;
mod body_fields;
mod config;
mod contentful;
mod envelope;
mod hmac;
mod jwt;
mod rules;
mod shared;
mod standard_webhooks;
mod support;
mod timestamps;
mod twilio;
mod verify_raw;

pub use crate::{
    asymmetric::{discord, sendgrid},
    body_fields::body_fields,
    config::{config, config_structured},
    contentful::contentful,
    envelope::envelope,
    hmac::{custom_scheme, hmac_presets, structured_header},
    jwt::{jwt_hs256, plaid},
    rules::{rule_path, rules},
    shared::shared_secret,
    standard_webhooks::standard_webhooks,
    timestamps::timestamps,
    twilio::twilio,
    verify_raw::verify_raw,
};

/// A fuzz target: the fuzzer's bytes in, a panic when a property fails.
pub type Target = fn(&[u8]);

/// Every target by name (the name of its `fuzz/fuzz_targets/*.rs`, corpus
/// and artifacts directories).
pub const TARGETS: &[(&str, Target)] = &[
    ("hmac_presets", hmac_presets),
    ("structured_header", structured_header),
    ("custom_scheme", custom_scheme),
    ("standard_webhooks", standard_webhooks),
    ("twilio", twilio),
    ("discord", discord),
    ("sendgrid", sendgrid),
    ("body_fields", body_fields),
    ("contentful", contentful),
    ("jwt_hs256", jwt_hs256),
    ("plaid", plaid),
    ("shared_secret", shared_secret),
    ("timestamps", timestamps),
    ("verify_raw", verify_raw),
    ("config", config),
    ("config_structured", config_structured),
    ("rules", rules),
    ("rule_path", rule_path),
    ("envelope", envelope),
];
