//! `make bench`: the wasm/native factor behind the CPU-per-request estimate.
//!
//! The same workloads as `benches/verify.rs` (shared code), timed in a plain
//! loop, so that one program runs both natively and as `wasm32-wasip1` under
//! Node's WASI — V8, the engine workerd runs the Worker's wasm in. Prints one
//! `name<TAB>nanoseconds per iteration` line per workload (median of rounds).
//!
//! ```sh
//! cargo run --release -p flowgate-core --example wasm_factor
//! cargo build --release -p flowgate-core --example wasm_factor --target wasm32-wasip1
//! node --no-warnings tests/bench/wasi-run.mjs target/wasm32-wasip1/release/examples/wasm_factor.wasm
//! ```

// `Instant::now` panics on wasm32-unknown-unknown (the Worker's target), hence
// the crate's lint; this program runs natively and on wasm32-wasip1, whose
// WASI clock it has.
#![allow(clippy::disallowed_methods)]

#[path = "../benches/common/mod.rs"]
mod common;

use std::{
    hint::black_box,
    time::{Duration, Instant},
};

use common::{families, Refresh, Webhook};

/// Each timed round lasts about this long; the first rounds warm up (V8
/// compiles hot wasm functions again with its optimising tier).
const ROUND: Duration = Duration::from_millis(40);
const WARM_UP_ROUNDS: usize = 3;
const ROUNDS: usize = 9;

/// Median nanoseconds per call of `f`.
fn time(mut f: impl FnMut() -> usize) -> f64 {
    // Calibrate: iterations that fill one round.
    let mut iters: u32 = 1;
    loop {
        let start = Instant::now();
        for _ in 0..iters {
            black_box(f());
        }
        let took = start.elapsed();
        if took >= ROUND / 4 || iters >= 1 << 24 {
            let scale = ROUND.as_secs_f64() / took.as_secs_f64().max(1e-9);
            iters = ((f64::from(iters) * scale).ceil() as u32).max(1);
            break;
        }
        iters *= 4;
    }
    let mut per_iter: Vec<f64> = (0..WARM_UP_ROUNDS + ROUNDS)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iters {
                black_box(f());
            }
            start.elapsed().as_secs_f64() * 1e9 / f64::from(iters)
        })
        .skip(WARM_UP_ROUNDS)
        .collect();
    per_iter.sort_by(f64::total_cmp);
    per_iter[per_iter.len() / 2]
}

fn main() {
    for family in families() {
        for (label, n) in [("1KB", 1024), ("64KB", 64 * 1024)] {
            let case = (family.case)(n);
            println!("verify-{}/flowgate/{label}\t{:.1}", family.name, time(|| case.run()));
        }
    }
    for (label, n) in [("1KB", 1024), ("64KB", 64 * 1024)] {
        let webhook = Webhook::new(n);
        println!("webhook/github-2-secrets/{label}\t{:.1}", time(|| webhook.run()));
    }
    let refresh = Refresh::default();
    println!("webhook/certificate-extra/per-request\t{:.1}", time(|| refresh.certificate_per_request()));
    println!("token-refresh/client-secret/rust-side\t{:.1}", time(|| refresh.client_secret()));
    println!("token-refresh/certificate/rust-side\t{:.1}", time(|| refresh.certificate()));
}
