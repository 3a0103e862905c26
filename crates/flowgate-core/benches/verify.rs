//! `make bench`, part 1: what verification costs next to the bare primitive.
//!
//! For each scheme family and body size (1 KB, 64 KB, 1 MB) criterion
//! measures, in the same run, `flowgate` — `verify` as the Worker calls it:
//! headers parsed, signature decoded, constant-time compare, labels read —
//! and `primitive` — the one cryptographic operation any receiver must do
//! over the same bytes (one HMAC of the body, one Ed25519 or ECDSA verify of
//! the signed message). The ratio of the two medians is the overhead figure.
//!
//! The `webhook` and `token-refresh` groups measure the Rust work the Worker
//! does per webhook and per token refresh, natively; `flowgate-bench`
//! (tests/bench) turns them into the CPU-per-request estimate.
//!
//! Results land in `target/criterion/<group>/<function>/<size>/new/estimates.json`,
//! which `flowgate-bench` reads to write `target/bench/results.md`.

mod common;

use std::{hint::black_box, time::Duration};

use common::{families, Refresh, Webhook, SIZES};
use criterion::{
    criterion_group, criterion_main, measurement::WallTime, BenchmarkGroup, BenchmarkId, Criterion, Throughput,
};

/// Shorter runs than criterion's defaults (2 cores, a whole suite to run);
/// the table uses the median of the 20–40 samples.
fn timing<'a>(c: &'a mut Criterion, group: &str, n: usize) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(group);
    g.warm_up_time(Duration::from_millis(500));
    let (secs, samples) = if n >= 1024 * 1024 { (3, 20) } else { (1, 40) };
    g.measurement_time(Duration::from_secs(secs)).sample_size(samples);
    g
}

fn verification(c: &mut Criterion) {
    for family in families() {
        for (label, n) in SIZES {
            let case = (family.case)(n);
            assert_eq!(case.run(), n, "{}: the signed request verifies", family.name);
            let primitive = (family.primitive)(&case);
            assert_eq!(primitive(), primitive(), "{}: the primitive is deterministic", family.name);
            let mut g = timing(c, &format!("verify-{}", family.name), n);
            g.throughput(Throughput::Bytes(n as u64));
            g.bench_function(BenchmarkId::new("flowgate", label), |b| b.iter(|| black_box(case.run())));
            g.bench_function(BenchmarkId::new("primitive", label), |b| b.iter(|| black_box(primitive())));
            g.finish();
        }
    }
}

fn per_request(c: &mut Criterion) {
    for (label, n) in [("1KB", 1024), ("64KB", 64 * 1024)] {
        let webhook = Webhook::new(n);
        webhook.run();
        let mut g = timing(c, "webhook", n);
        g.bench_function(BenchmarkId::new("github-2-secrets", label), |b| b.iter(|| black_box(webhook.run())));
        g.finish();
    }
    let refresh = Refresh::default();
    let mut g = timing(c, "webhook", 0);
    g.bench_function(BenchmarkId::new("certificate-extra", "per-request"), |b| {
        b.iter(|| black_box(refresh.certificate_per_request()));
    });
    g.finish();
    let mut g = timing(c, "token-refresh", 0);
    g.bench_function(BenchmarkId::new("client-secret", "rust-side"), |b| b.iter(|| black_box(refresh.client_secret())));
    g.bench_function(BenchmarkId::new("certificate", "rust-side"), |b| b.iter(|| black_box(refresh.certificate())));
    g.finish();
}

criterion_group!(benches, verification, per_request);
criterion_main!(benches);
