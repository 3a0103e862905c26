//! The results table: criterion's medians (verification, per-request Rust
//! work), the wasm/native loop, the load run and the bundle, as Markdown.

use std::{collections::BTreeMap, fmt::Write as _, fs, path::Path, process::Command, time::Duration};

use crate::{
    bundle::{Bundle, BUDGET_GZIP_KIB},
    load::{LoadResult, Phase, Target},
};

/// Targets from the issue.
const VERIFY_RATIO_TARGET: f64 = 1.1;
const THROUGHPUT_RATIO_TARGET: f64 = 0.8;
/// Workers Free plan: CPU time per request.
const FREE_PLAN_CPU_MS: f64 = 10.0;

/// The scheme families of `crates/flowgate-core/benches/common/mod.rs`:
/// (criterion group suffix, what it is, the primitive).
const FAMILIES: &[(&str, &str, &str)] = &[
    ("github", "hex HMAC over the body (GitHub)", "HMAC-SHA256(body)"),
    ("stripe", "timestamped HMAC (Stripe)", "HMAC-SHA256(body)"),
    ("standard-webhooks", "Standard Webhooks (id.ts.body)", "HMAC-SHA256(body)"),
    ("twilio", "Twilio: URL + sorted form params", "HMAC-SHA1(url‖body)"),
    ("discord", "Ed25519 (Discord)", "ed25519-dalek verify_strict(ts‖body)"),
    ("sendgrid", "ECDSA P-256 (SendGrid)", "p256 verify(ts‖body)"),
];
const SIZES: &[(&str, &str)] = &[("1KB", "1 KB"), ("64KB", "64 KB"), ("1MB", "1 MB")];

/// Per-request workloads: (criterion id, what it is).
const WORK: &[(&str, &str)] = &[
    ("webhook/github-2-secrets/1KB", "per webhook, 1 KB GitHub delivery, 2 rotation secrets, client secret"),
    ("webhook/github-2-secrets/64KB", "per webhook, 64 KB GitHub delivery, 2 rotation secrets"),
    (
        "webhook/certificate-extra/per-request",
        "+ per webhook with a certificate credential (PEM parsed, seal key derived)",
    ),
    ("token-refresh/client-secret/rust-side", "token refresh, client secret (form, answer parsed, KV value sealed)"),
    ("token-refresh/certificate/rust-side", "token refresh, certificate (+ assertion built; RSA signing not included)"),
];

/// Criterion's median for `id` (`group/function/parameter`), nanoseconds.
pub(crate) fn criterion_median(dir: &Path, id: &str) -> Option<f64> {
    let text = fs::read_to_string(dir.join(id).join("new/estimates.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["median"]["point_estimate"].as_f64()
}

/// `name<TAB>ns` lines (the wasm/native loop's output).
pub(crate) fn read_loop(path: &Path) -> BTreeMap<String, f64> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (name, ns) = l.split_once('\t')?;
            Some((name.to_owned(), ns.trim().parse().ok()?))
        })
        .collect()
}

fn fmt_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

fn fmt_ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn median_f64(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn median_duration(v: Vec<Duration>) -> Duration {
    Duration::from_secs_f64(median_f64(v.iter().map(Duration::as_secs_f64).collect()).max(0.0))
}

/// Median requests/s, p50 and p99 over the repetitions of one target and level.
pub(crate) struct Summary {
    /// Requests per second.
    pub(crate) rps: f64,
    /// Median of the per-run medians.
    pub(crate) p50: Duration,
    /// Median of the per-run 99th percentiles.
    pub(crate) p99: Duration,
    /// Non-202 answers over all runs.
    pub(crate) errors: usize,
}

/// flowgate/floor throughput: the median over repetitions of the ratio of
/// the two bursts of one repetition (run back to back, so slow phases of a
/// shared machine hit both).
fn paired_ratio(phases: &[Phase], concurrency: usize) -> f64 {
    let rps = |t: Target, rep: usize| {
        phases.iter().find(|p| p.target == t && p.concurrency == concurrency && p.rep == rep).map(|p| p.rps)
    };
    let reps = phases.iter().map(|p| p.rep).max().map_or(0, |m| m + 1);
    median_f64((0..reps).filter_map(|r| Some(rps(Target::Flowgate, r)? / rps(Target::Floor, r)?)).collect())
}

pub(crate) fn summarise(phases: &[Phase], target: Target, concurrency: usize) -> Summary {
    let mine: Vec<&Phase> = phases.iter().filter(|p| p.target == target && p.concurrency == concurrency).collect();
    Summary {
        rps: median_f64(mine.iter().map(|p| p.rps).collect()),
        p50: median_duration(mine.iter().map(|p| p.p50).collect()),
        p99: median_duration(mine.iter().map(|p| p.p99).collect()),
        errors: mine.iter().map(|p| p.errors.values().sum::<usize>()).sum(),
    }
}

/// One line about the machine: CPU, cores, memory, OS, toolchain.
pub(crate) fn machine(root: &Path) -> String {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, v)| v.trim().to_owned()))
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let mem_gib = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:").map(|r| r.trim().trim_end_matches("kB").trim().to_owned()))
        })
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or_else(String::new, |kb| format!(", {:.0} GiB", kb / 1024.0 / 1024.0));
    let os = fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| t.lines().find_map(|l| l.strip_prefix("PRETTY_NAME=").map(|v| v.trim_matches('"').to_owned())))
        .unwrap_or_else(|| "Linux".to_owned());
    let version = |cmd: &str, arg: &str| {
        Command::new(cmd)
            .arg(arg)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    let wrangler = fs::read_to_string(root.join("node_modules/wrangler/package.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["version"].as_str().map(str::to_owned))
        .unwrap_or_default();
    format!(
        "{cpu}, {cores} cores{mem_gib}, {os}; {}, Node {}, wrangler {wrangler}",
        version("rustc", "--version"),
        version("node", "--version")
    )
}

/// `YYYY-MM-DD HH:MM UTC` for now.
pub(crate) fn utc_now() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", rem / 3600, rem % 3600 / 60)
}

/// The 1-minute load average (other jobs on the machine skew the load part).
pub(crate) fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| t.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

/// Everything the table is made of.
pub(crate) struct Inputs<'a> {
    pub(crate) load_average_before: String,
    pub(crate) root: &'a Path,
    pub(crate) command: &'a str,
    pub(crate) criterion: &'a Path,
    pub(crate) native_loop: BTreeMap<String, f64>,
    pub(crate) wasm_loop: BTreeMap<String, f64>,
    pub(crate) load: Option<&'a LoadResult>,
    pub(crate) bundle: Option<&'a Bundle>,
}

fn mark(ok: bool) -> &'static str {
    if ok {
        "✓"
    } else {
        "✗"
    }
}

/// The Markdown report.
pub(crate) fn render(i: &Inputs<'_>) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# flowgate benchmarks\n");
    let _ = writeln!(s, "- run: {} — `{}`", utc_now(), i.command);
    let _ = writeln!(s, "- machine: {}", machine(i.root));
    let _ = writeln!(
        s,
        "- 1-minute load average before the load part: {}, after: {} (other jobs on the machine show here)",
        i.load_average_before,
        load_average()
    );
    let _ = writeln!(
        s,
        "- figures are medians (criterion: of 20–40 samples; load: of the repetitions); ✓/✗ against the target\n"
    );

    // 1. Verification.
    let _ = writeln!(s, "## Verification (native, criterion)\n");
    let _ = writeln!(
        s,
        "`flowgate` is `verify` as the Worker calls it (headers parsed, signature decoded, constant-time compare, \
         labels read); `primitive` is the bare cryptographic operation over the same bytes, measured in the same run.\n"
    );
    let _ = writeln!(
        s,
        "| scheme family | body | flowgate | bare primitive | primitive | ratio (target ≤ {VERIFY_RATIO_TARGET}×) |"
    );
    let _ = writeln!(s, "|---|---|---:|---|---:|---:|");
    let mut missing = Vec::new();
    for (name, title, primitive) in FAMILIES {
        for (size, size_label) in SIZES {
            let ours = criterion_median(i.criterion, &format!("verify-{name}/flowgate/{size}"));
            let bare = criterion_median(i.criterion, &format!("verify-{name}/primitive/{size}"));
            match (ours, bare) {
                (Some(o), Some(b)) => {
                    let r = o / b;
                    let _ = writeln!(
                        s,
                        "| {title} | {size_label} | {} | {primitive} | {} | {r:.2}× {} |",
                        fmt_ns(o),
                        fmt_ns(b),
                        mark(r <= VERIFY_RATIO_TARGET)
                    );
                }
                _ => missing.push(format!("{name}/{size}")),
            }
        }
    }
    if !missing.is_empty() {
        let _ = writeln!(
            s,
            "\nNot measured in this run: {} (run `cargo bench -p flowgate-core --bench verify`).",
            missing.join(", ")
        );
    }

    // 2. Load.
    let _ = writeln!(s, "\n## Worker under load (`wrangler dev`, workerd, loopback)\n");
    match i.load {
        Some(load) => render_load(&mut s, load),
        None => {
            let _ = writeln!(s, "Not run (`--skip-load`).");
        }
    }

    // 3. Bundle.
    let _ = writeln!(s, "\n## Bundle\n");
    match i.bundle {
        Some(b) => {
            let _ = writeln!(s, "| what | raw | gzipped |");
            let _ = writeln!(s, "|---|---:|---:|");
            let _ = writeln!(
                s,
                "| `build/index_bg.wasm` (`gzip -9`) | {:.1} KiB | {:.1} KiB |",
                b.wasm_raw as f64 / 1024.0,
                b.wasm_gzip9 as f64 / 1024.0
            );
            let _ = writeln!(
                s,
                "| upload, JS + wasm (`wrangler deploy --dry-run`) | {:.1} KiB | {:.1} KiB — budget {BUDGET_GZIP_KIB:.0} KiB {} |",
                b.upload_kib,
                b.upload_gzip_kib,
                if b.over_budget() { "✗ **OVER BUDGET**" } else { "✓" }
            );
        }
        None => {
            let _ = writeln!(s, "Not measured.");
        }
    }

    // 4. CPU.
    render_cpu(&mut s, i);
    s
}

fn render_load(s: &mut String, load: &LoadResult) {
    let p = &load.plan;
    let _ = writeln!(
        s,
        "Validly signed {:.0} KB GitHub deliveries (a fresh delivery id each) to route `{}` (direct mode, 2 rotation secrets{}); {} \
         requests per concurrency level and repetition, {} repetitions, flowgate and the floor back to back in each; \
         one keep-alive client per burst. The floor is `bench/floor-worker/`: it forwards the body to the same \
         emulator flow with a fixed token, without verifying, caching or {}. Both forward to the in-process \
         emulator, which checks the RS256 token on every request; the load generator, the emulator, wrangler and \
         workerd share the machine's cores. Throughput ratio: median over repetitions of flowgate/floor.\n",
        p.body_bytes as f64 / 1024.0,
        p.route,
        if p.route == "gh" { ", duplicate suppression on: one route-ledger call before the flow call, one after the response" } else { ", no duplicate suppression: no ledger call before the flow call" },
        p.requests,
        p.reps,
        if p.floor_logs {
            "authenticating, but writing one log line per request as flowgate does (`--floor-log`)"
        } else {
            "logging"
        }
    );
    let _ = writeln!(
        s,
        "| concurrency | flowgate req/s | floor req/s | flowgate/floor (target ≥ {THROUGHPUT_RATIO_TARGET}×) | flowgate p50 / p99 | floor p50 / p99 | non-202 |"
    );
    let _ = writeln!(s, "|---:|---:|---:|---:|---:|---:|---:|");
    for &c in &p.levels {
        let f = summarise(&load.phases, Target::Flowgate, c);
        let b = summarise(&load.phases, Target::Floor, c);
        let r = paired_ratio(&load.phases, c);
        let _ = writeln!(
            s,
            "| {c} | {:.0} | {:.0} | {r:.2}× {} | {} / {} | {} / {} | {} / {} |",
            f.rps,
            b.rps,
            mark(r >= THROUGHPUT_RATIO_TARGET),
            fmt_ms(f.p50),
            fmt_ms(f.p99),
            fmt_ms(b.p50),
            fmt_ms(b.p99),
            f.errors,
            b.errors
        );
    }
    let _ = writeln!(
        s,
        "\nToken requests flowgate made during the run (warm-up included): **{}** (target 1) {}. \
         Flow runs accepted by the emulator: {} of {} requests sent ({} refused).",
        load.token_requests,
        mark(load.token_requests == 1),
        load.flow_accepted,
        load.sent,
        load.flow_rejected
    );
}

fn render_cpu(s: &mut String, i: &Inputs<'_>) {
    let _ = writeln!(s, "\n## CPU per request (estimate)\n");
    let _ = writeln!(
        s,
        "workerd run locally reports no CPU time, so this is an estimate of the Worker's own Rust work: the same code \
         timed natively (criterion) and compiled to wasm (`wasm32-wasip1`, release profile, no wasm-opt) under Node's \
         V8 — the engine workerd embeds — in one loop program run both ways (`crates/flowgate-core/examples/wasm_factor.rs`).\n"
    );
    let _ = writeln!(
        s,
        "| path | native (criterion) | wasm in V8 | wasm/native | share of the Free plan's {FREE_PLAN_CPU_MS:.0} ms |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|");
    for (id, title) in WORK {
        let native = criterion_median(i.criterion, id);
        let loop_native = i.native_loop.get(*id).copied();
        let wasm = i.wasm_loop.get(*id).copied();
        let factor = match (wasm, loop_native) {
            (Some(w), Some(n)) if n > 0.0 => Some(w / n),
            _ => None,
        };
        let cell = |v: Option<f64>| v.map_or_else(|| "—".to_owned(), fmt_ns);
        let share = wasm.map_or_else(|| "—".to_owned(), |w| format!("{:.2} %", w / (FREE_PLAN_CPU_MS * 1e6) * 100.0));
        let _ = writeln!(
            s,
            "| {title} | {} | {} | {} | {share} |",
            cell(native),
            cell(wasm),
            factor.map_or_else(|| "—".to_owned(), |f| format!("{f:.1}×"))
        );
    }
    let _ = writeln!(s, "\nVerification alone, compiled to wasm and run in V8 (per request, one secret):\n");
    let _ = writeln!(s, "| scheme family | 1 KB | 64 KB |");
    let _ = writeln!(s, "|---|---:|---:|");
    for (name, title, _) in FAMILIES {
        let cell = |size: &str| {
            i.wasm_loop.get(&format!("verify-{name}/flowgate/{size}")).map_or_else(|| "—".to_owned(), |w| fmt_ns(*w))
        };
        let _ = writeln!(s, "| {title} | {} | {} |", cell("1KB"), cell("64KB"));
    }
    let factors: Vec<f64> = i
        .wasm_loop
        .iter()
        .filter(|(k, _)| k.starts_with("verify-"))
        .filter_map(|(k, w)| i.native_loop.get(k).map(|n| w / n))
        .collect();
    if !factors.is_empty() {
        let lo = factors.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = factors.iter().copied().fold(0.0, f64::max);
        let _ = writeln!(
            s,
            "\nwasm/native over the verification workloads (each family, 1 KB and 64 KB): {lo:.1}–{hi:.1}×, median {:.1}×.",
            median_f64(factors)
        );
    }
    if let Some(load) = i.load {
        let f = summarise(&load.phases, Target::Flowgate, 1);
        let b = summarise(&load.phases, Target::Floor, 1);
        if load.plan.levels.contains(&1) {
            let _ = writeln!(
                s,
                "\nEnd to end at concurrency 1, flowgate's median latency is {} against the floor's {} \
                 ({:+.1} ms): wall time, an upper bound on what flowgate adds per request, CPU included.",
                fmt_ms(f.p50),
                fmt_ms(b.p50),
                (f.p50.as_secs_f64() - b.p50.as_secs_f64()) * 1e3
            );
        }
    }
    let _ = writeln!(
        s,
        "\nWhat this is not: the JS side of a request (streaming the body into wasm, `fetch` to the flow, the log \
         line, building the response) is not in these figures, and V8 in workerd is newer than Node's, so they are \
         an estimate, not a measurement of the deployed Worker. The token-refresh path also signs the certificate \
         assertion in Web Crypto (native code, outside the wasm): the Worker logs it as `assertion_signed`, 1–2 ms \
         wall time in local workerd, once per token (about once an hour), never per webhook."
    );
}
