//! `flowgate-bench` — `make bench` after criterion has run and the
//! profiling build is made (scripts/bench.sh): measures the bundle, runs the
//! Workers under load side by side (flowgate in each mode, a hand-written
//! JavaScript peer, the pass-through floor), profiles flowgate, and writes
//! the whole table to `target/bench/results.md` (and prints it).
//!
//! ```text
//! flowgate-bench [--secs 8] [--rounds 2] [--levels 1,16,64] [--body-bytes 8192]
//!                [--profile-secs 8] [--profile-connections 16]
//!                [--profile-bundle target/bench/build-names/index.js]
//!                [--skip-load] [--out target/bench/results.md]
//! ```
//!
//! `--profile-secs 0` skips the profile. Exits 1 when the gzipped upload is
//! over its budget (after writing the table).

mod bundle;
mod cpu;
mod load;
mod profile;
mod report;
mod wrk;

use std::{fs, path::PathBuf, process::ExitCode};

use anyhow::{bail, Context as _};
use flowgate_e2e::repo_root;

struct Args {
    plan: load::Plan,
    skip_load: bool,
    out: PathBuf,
}

fn parse_args() -> anyhow::Result<Args> {
    let root = repo_root();
    let mut a = Args {
        plan: load::Plan { secs: 8, rounds: 2, levels: vec![1, 16, 64], body_bytes: 8192, profile: None },
        skip_load: false,
        out: root.join("target/bench/results.md"),
    };
    let (mut profile_secs, mut profile_connections) = (8, 16);
    let mut profile_bundle = root.join("target/bench/build-names/index.js");
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--secs" => a.plan.secs = value()?.parse().context("--secs")?,
            "--rounds" => a.plan.rounds = value()?.parse().context("--rounds")?,
            "--body-bytes" => a.plan.body_bytes = value()?.parse().context("--body-bytes")?,
            "--levels" => {
                a.plan.levels =
                    value()?.split(',').map(|c| c.trim().parse()).collect::<Result<_, _>>().context("--levels")?;
            }
            "--profile-secs" => profile_secs = value()?.parse().context("--profile-secs")?,
            "--profile-connections" => profile_connections = value()?.parse().context("--profile-connections")?,
            "--profile-bundle" => profile_bundle = PathBuf::from(value()?),
            "--out" => a.out = PathBuf::from(value()?),
            "--skip-load" => a.skip_load = true,
            other => bail!("unknown argument {other}; see the top of tests/bench/main.rs"),
        }
    }
    // Bounded: the load part must stop by itself.
    if !(1..=300).contains(&a.plan.secs) || !(1..=20).contains(&a.plan.rounds) || profile_secs > 300 {
        bail!("--secs must be 1..=300, --rounds 1..=20 and --profile-secs 0..=300");
    }
    if a.plan.levels.is_empty() || a.plan.levels.iter().any(|&c| c == 0 || c > 256) {
        bail!("--levels must be concurrency levels in 1..=256");
    }
    if !(1..=256).contains(&profile_connections) {
        bail!("--profile-connections must be 1..=256");
    }
    if !(1024..=1_048_576).contains(&a.plan.body_bytes) {
        bail!("--body-bytes must be 1024..=1048576");
    }
    if profile_secs > 0 {
        if !profile_bundle.exists() {
            bail!("{} is missing: scripts/bench.sh builds it (or pass --profile-secs 0)", profile_bundle.display());
        }
        a.plan.profile =
            Some(load::ProfilePlan { secs: profile_secs, connections: profile_connections, bundle: profile_bundle });
    }
    Ok(a)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<ExitCode> {
    let args = parse_args()?;
    let root = repo_root();
    let dir = root.join("target/bench");
    fs::create_dir_all(&dir)?;

    eprintln!("bundle: wrangler deploy --dry-run …");
    let bundle = bundle::measure(&root, &dir.join("dry"))?;

    let load_average_before = report::load_average();
    let load = if args.skip_load {
        None
    } else {
        let p = &args.plan;
        eprintln!(
            "load: {} s × concurrency {:?} × {} rounds, flowgate (3 modes), the peer and the floor …",
            p.secs, p.levels, p.rounds
        );
        Some(load::run(args.plan.clone(), &root.join("build/index.js")).await?)
    };

    let command = std::env::var("FLOWGATE_BENCH_COMMAND").unwrap_or_else(|_| "make bench".to_owned());
    let md = report::render(&report::Inputs {
        load_average_before,
        root: &root,
        command: &command,
        criterion: &root.join("target/criterion"),
        load: load.as_ref(),
        bundle: Some(&bundle),
    });
    if let Some(parent) = args.out.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(&args.out, &md).with_context(|| format!("writing {}", args.out.display()))?;
    println!("{md}");
    eprintln!("written to {}", args.out.display());
    if bundle.over_budget() {
        eprintln!(
            "make bench: the gzipped upload ({:.1} KiB) is over its budget of {:.0} KiB",
            bundle.upload_gzip_kib,
            bundle::BUDGET_GZIP_KIB
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
