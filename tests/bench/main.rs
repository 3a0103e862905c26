//! `flowgate-bench` — `make bench` after criterion and the wasm/native loop
//! have run (scripts/bench.sh): measures the bundle, runs the Worker under
//! load against the floor, and writes the whole table to
//! `target/bench/results.md` (and prints it).
//!
//! ```text
//! flowgate-bench [--requests 400] [--reps 3] [--levels 1,16,64] [--body-bytes 1024]
//!                [--floor-log] [--skip-load] [--route gh] [--out target/bench/results.md]
//! ```
//!
//! `--floor-log` makes the floor write one JSON log line per request, as
//! flowgate does (under `wrangler dev` each line is relayed to wrangler's
//! output, which costs CPU on the same 2 cores).
//!
//! Exits 1 when the gzipped upload is over its budget (after writing the table).

mod bundle;
mod load;
mod report;

use std::{fs, path::PathBuf, process::ExitCode};

use anyhow::{bail, Context as _};
use flowgate_e2e::repo_root;

struct Args {
    plan: load::Plan,
    skip_load: bool,
    out: PathBuf,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args {
        plan: load::Plan {
            requests: 400,
            reps: 3,
            levels: vec![1, 16, 64],
            body_bytes: 1024,
            floor_logs: false,
            route: "gh".to_owned(),
        },
        skip_load: false,
        out: repo_root().join("target/bench/results.md"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--requests" => a.plan.requests = value()?.parse().context("--requests")?,
            "--reps" => a.plan.reps = value()?.parse().context("--reps")?,
            "--body-bytes" => a.plan.body_bytes = value()?.parse().context("--body-bytes")?,
            "--levels" => {
                a.plan.levels =
                    value()?.split(',').map(|c| c.trim().parse()).collect::<Result<_, _>>().context("--levels")?;
            }
            "--out" => a.out = PathBuf::from(value()?),
            "--skip-load" => a.skip_load = true,
            "--floor-log" => a.plan.floor_logs = true,
            "--route" => a.plan.route = value()?,
            other => bail!("unknown argument {other}; see the top of tests/bench/main.rs"),
        }
    }
    // Bounded: the load part must stop by itself.
    if a.plan.requests == 0 || a.plan.requests > 100_000 || a.plan.reps == 0 || a.plan.reps > 20 {
        bail!("--requests must be 1..=100000 and --reps 1..=20");
    }
    if a.plan.levels.is_empty() || a.plan.levels.iter().any(|&c| c == 0 || c > 256) {
        bail!("--levels must be concurrency levels in 1..=256");
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
            "load: {} requests × concurrency {:?} × {} repetitions, flowgate and the floor …",
            p.requests, p.levels, p.reps
        );
        Some(load::run(args.plan.clone()).await?)
    };

    let command = std::env::var("FLOWGATE_BENCH_COMMAND").unwrap_or_else(|_| "make bench".to_owned());
    let md = report::render(&report::Inputs {
        load_average_before,
        root: &root,
        command: &command,
        criterion: &root.join("target/criterion"),
        native_loop: report::read_loop(&dir.join("wasm-factor-native.tsv")),
        wasm_loop: report::read_loop(&dir.join("wasm-factor-wasm.tsv")),
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
