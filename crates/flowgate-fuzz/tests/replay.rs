//! Replays every seed corpus file and every saved crash input through its
//! target function, as an ordinary stable test: `fuzz/corpus/<target>/` and
//! `fuzz/artifacts/<target>/`. A fixed crash stays fixed, as long as the
//! target decodes the saved bytes as it did when they crashed: after changing
//! a decoder, check that each saved input still fails without its fix.

use std::{
    fs,
    panic::{catch_unwind, AssertUnwindSafe},
    path::{Path, PathBuf},
};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The files of `dir`, sorted (none if it does not exist).
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect();
    files.sort();
    files
}

fn replay(name: &str) {
    let (_, target) = flowgate_fuzz::TARGETS.iter().find(|(n, _)| *n == name).expect("a target");
    let corpus = inputs(&fuzz_dir().join("corpus").join(name));
    assert!(!corpus.is_empty(), "{name} has no seed corpus in fuzz/corpus/{name}");
    let mut failed = Vec::new();
    for file in corpus.iter().chain(&inputs(&fuzz_dir().join("artifacts").join(name))) {
        let data = fs::read(file).unwrap();
        if catch_unwind(AssertUnwindSafe(|| target(&data))).is_err() {
            failed.push(file.display().to_string());
        }
    }
    assert!(failed.is_empty(), "{name}: these inputs fail:\n{}", failed.join("\n"));
}

#[test]
fn every_target_has_a_fuzz_target_file() {
    for (name, _) in flowgate_fuzz::TARGETS {
        let file = fuzz_dir().join("fuzz_targets").join(format!("{name}.rs"));
        let text = fs::read_to_string(&file).unwrap_or_else(|_| panic!("{} missing", file.display()));
        assert!(text.contains(&format!("flowgate_fuzz::{name}(")), "{} does not call {name}", file.display());
    }
    let manifest = fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
    for (name, _) in flowgate_fuzz::TARGETS {
        assert!(manifest.contains(&format!("name = \"{name}\"")), "fuzz/Cargo.toml has no [[bin]] {name}");
    }
}

macro_rules! replay_tests {
    ($($name:ident),* $(,)?) => {
        $(#[test] fn $name() { replay(stringify!($name)); })*

        #[test]
        fn every_target_is_replayed() {
            let tested = [$(stringify!($name)),*];
            for (name, _) in flowgate_fuzz::TARGETS {
                assert!(tested.contains(name), "{name} has no replay test");
            }
        }
    };
}

replay_tests!(
    hmac_presets,
    structured_header,
    custom_scheme,
    standard_webhooks,
    twilio,
    discord,
    sendgrid,
    body_fields,
    contentful,
    jwt_hs256,
    plaid,
    shared_secret,
    timestamps,
    verify_raw,
    config,
    config_structured,
    rules,
    rule_path,
    envelope,
);
