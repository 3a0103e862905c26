//! The results table: criterion's medians (verification), the Workers under
//! load side by side (throughput, latency, CPU per request), flowgate's CPU
//! profiles and the bundle, as Markdown.

use std::{fmt::Write as _, fs, path::Path, process::Command, time::Duration};

use crate::{
    bundle::{Bundle, BUDGET_GZIP_KIB},
    load::{LoadResult, Phase, Profiled, Target},
};

/// Target from the issue.
const VERIFY_RATIO_TARGET: f64 = 1.1;

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

/// Criterion's median for `id` (`group/function/parameter`), nanoseconds.
pub(crate) fn criterion_median(dir: &Path, id: &str) -> Option<f64> {
    let text = fs::read_to_string(dir.join(id).join("new/estimates.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["median"]["point_estimate"].as_f64()
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
        Some(load) => {
            render_load(&mut s, load);
            render_profiles(&mut s, load);
        }
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

    s
}

/// Median over rounds of one target and level.
struct Cell {
    rps: f64,
    p50: Duration,
    p99: Duration,
    cpu: Option<Duration>,
    runtime_cpu: Option<Duration>,
    node_cpu: Option<Duration>,
    non202: u64,
    errors: u64,
    rounds: usize,
}

fn phases_of(phases: &[Phase], t: Target, c: usize) -> Vec<&Phase> {
    phases.iter().filter(|p| p.target == t && p.concurrency == c).collect()
}

fn cell(phases: &[Phase], t: Target, c: usize) -> Cell {
    let mine = phases_of(phases, t, c);
    let cpus: Vec<f64> = mine.iter().filter_map(|p| p.cpu_per_request()).map(|d| d.as_secs_f64()).collect();
    let per = |f: fn(&Phase) -> Duration| -> Vec<f64> {
        mine.iter().filter_map(|p| p.per_request(f(p))).map(|d| d.as_secs_f64()).collect()
    };
    let (runtimes, nodes) = (per(|p| p.runtime_cpu), per(|p| p.node_cpu));
    let dur = |v: Vec<f64>| (!v.is_empty()).then(|| Duration::from_secs_f64(median_f64(v).max(0.0)));
    Cell {
        rps: median_f64(mine.iter().map(|p| p.wrk.rps()).collect()),
        p50: median_duration(mine.iter().map(|p| p.wrk.p50).collect()),
        p99: median_duration(mine.iter().map(|p| p.wrk.p99).collect()),
        cpu: dur(cpus),
        runtime_cpu: dur(runtimes),
        node_cpu: dur(nodes),
        non202: mine.iter().map(|p| p.wrk.non202).sum(),
        errors: mine.iter().map(|p| p.wrk.transport_errors).sum(),
        rounds: mine.len(),
    }
}

/// `t`/peer at level `c`: the median over rounds of the per-round ratio
/// (bursts of one round ran within a minute of each other, so slow phases of
/// a shared machine hit both).
fn paired(phases: &[Phase], t: Target, c: usize, f: impl Fn(&Phase) -> Option<f64>) -> Option<f64> {
    let rounds = phases.iter().map(|p| p.round).max().map_or(0, |m| m + 1);
    let find = |t: Target, r: usize| phases.iter().find(|p| p.target == t && p.concurrency == c && p.round == r);
    let v: Vec<f64> = (0..rounds)
        .filter_map(|r| {
            let (a, b) = (f(find(t, r)?)?, f(find(Target::Peer, r)?)?);
            (b > 0.0).then(|| a / b)
        })
        .collect();
    (!v.is_empty()).then(|| median_f64(v))
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

fn render_load(s: &mut String, load: &LoadResult) {
    let p = &load.plan;
    let loads: Vec<f64> = load.phases.iter().map(|p| p.load_average).filter(|l| l.is_finite()).collect();
    let (lo, hi) = loads.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &l| (lo.min(l), hi.max(l)));
    let _ = writeln!(
        s,
        "Validly signed {:.0} KB GitHub push deliveries (a fresh `X-GitHub-Delivery` each; the body differs only in \
         its `after` commit id, so that flowgate's replay guard sees no replays), sent by `wrk` with \
         `tests/bench/github.lua` for {} s per burst at each concurrency (connections), {} rounds; in each round every \
         Worker gets one burst per level, the order rotating. Each Worker runs under its own `wrangler dev` (same \
         workerd), all forwarding to one in-process emulator flow that checks the RS256 token on every request. \
         flowgate's three routes share one `wrangler dev`, one secret each: `gh-nodedupe` (direct, `dedupe = false`; \
         the replay guard still asks the route ledger), `gh` (direct, duplicate suppression on), `gh-queue` (queue \
         mode, the default). The peer is `bench/peer-worker/` (hand-written JS: Web Crypto HMAC, token in memory \
         then KV, forward, no log line); the floor `bench/floor-worker/` (forward with a fixed token, nothing else). \
         wrk, the emulator, wrangler and workerd share the machine's cores (1-minute load average at the bursts' \
         starts {lo:.2}–{hi:.2}).\n",
        p.body_bytes as f64 / 1024.0,
        p.secs,
        p.rounds,
    );
    let _ = writeln!(
        s,
        "**CPU per request** is user + system time (`/proc/<pid>/stat`) from the start of a burst until its flow \
         runs stop arriving, divided by the flow runs the emulator accepted in that interval, so queue mode's \
         consumer is counted with its ingest. *all workerd*: both workerd processes below the `wrangler dev` pid; \
         *runtime*: the one that runs the Worker and Miniflare's local KV, Queues and Durable Object simulators \
         (the other is wrangler's proxy: every request passes through its ProxyWorker, and its InspectorProxyWorker \
         receives the runtime's console events). *Node*: wrangler's own process (it prints a line per request for \
         every Worker, and relays flowgate's log line). Medians over rounds; ratios are to the peer, the median of \
         per-round ratios.\n"
    );
    let _ = writeln!(
        s,
        "| concurrency | Worker | req/s | × peer | p50 / p99 | CPU/req, all workerd | × peer | runtime workerd | × peer | Node | non-202 / errors |"
    );
    let _ = writeln!(s, "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let opt_us = |d: Option<Duration>| d.map_or_else(|| "—".to_owned(), us);
    for &c in &p.levels {
        for t in Target::ALL {
            let x = cell(&load.phases, t, c);
            if x.rounds == 0 {
                continue;
            }
            let ratio = |f: fn(&Phase) -> Option<f64>| {
                if t == Target::Peer {
                    "1".to_owned()
                } else {
                    paired(&load.phases, t, c, f).map_or_else(|| "—".to_owned(), |r| format!("{r:.2}×"))
                }
            };
            let _ = writeln!(
                s,
                "| {c} | {} | {:.0} | {} | {} / {} | {} | {} | {} | {} | {} | {} / {} |",
                t.title(),
                x.rps,
                ratio(|p| Some(p.wrk.rps())),
                fmt_ms(x.p50),
                fmt_ms(x.p99),
                opt_us(x.cpu),
                ratio(|p| p.cpu_per_request().map(|d| d.as_secs_f64())),
                opt_us(x.runtime_cpu),
                ratio(|p| p.per_request(p.runtime_cpu).map(|d| d.as_secs_f64())),
                opt_us(x.node_cpu),
                x.non202,
                x.errors
            );
        }
    }
    let _ = writeln!(s);
    let drains: Vec<String> = p
        .levels
        .iter()
        .map(|&c| {
            let d = median_duration(phases_of(&load.phases, Target::Queue, c).iter().map(|p| p.drain).collect());
            format!("{:.1} s at {c}", d.as_secs_f64())
        })
        .collect();
    let _ = writeln!(
        s,
        "- Queue mode's req/s is ingest (202 once queued); its deliveries finished {} after the burst ended (median).",
        drains.join(", ")
    );
    let not_drained = load.phases.iter().filter(|p| !p.drained).count();
    if not_drained > 0 {
        let _ = writeln!(s, "- **{not_drained} bursts did not drain within 180 s**: their CPU figures are low.");
    }
    let exhausted: u64 = load.phases.iter().map(|p| p.wrk.exhausted).sum();
    if exhausted > 0 {
        let _ = writeln!(s, "- wrk ran out of prepared deliveries {exhausted} times (repeats answered as duplicates).");
    }
    let idle: Vec<String> =
        load.idle_cpu.iter().map(|(n, d)| format!("{n} {:.1} ms/s", d.as_secs_f64() * 1e3)).collect();
    let procs: Vec<String> = load.workerd_processes.iter().map(|(n, k, r)| format!("{n} {k} ({r} runtime)")).collect();
    let _ = writeln!(
        s,
        "- Idle workerd CPU before the load: {}; workerd processes per `wrangler dev`: {}.",
        idle.join(", "),
        procs.join(", ")
    );
    let measured = |peer: bool| -> u64 {
        load.phases.iter().filter(|p| (p.target == Target::Peer) == peer).map(|p| p.token_requests).sum()
    };
    let (fg, pe) = (measured(false), measured(true));
    let _ = writeln!(
        s,
        "- Entra token requests during the measured bursts: flowgate **{fg}**, peer {pe} {} (each fetched its token \
         during its warm-up and kept it); over the whole run, warm-ups and the profiling runs included: flowgate {}, \
         peer {}. Flow requests the emulator refused: {}.",
        mark(fg == 0 && pe == 0),
        load.flowgate_token_requests,
        load.peer_token_requests,
        load.flow_rejected
    );
}

/// Escapes a function name for a Markdown table cell, shortened.
fn md_name(name: &str) -> String {
    let short: String =
        if name.chars().count() > 100 { name.chars().take(97).chain("…".chars()).collect() } else { name.to_owned() };
    format!("`{}`", short.replace('|', "\\|").replace('`', "'"))
}

fn render_profiles(s: &mut String, load: &LoadResult) {
    let _ = writeln!(s, "\n## Where flowgate's time goes (V8 CPU profile)\n");
    let Some(pp) = &load.plan.profile else {
        let _ = writeln!(s, "Not taken (`--profile-secs 0`).");
        return;
    };
    let (profiled, release) = load.names;
    let _ = writeln!(
        s,
        "Taken through `wrangler dev --inspector-port` (DevTools protocol: `Profiler.start`/`stop`, 200 µs sampling; \
         target {:?}) while `wrk` sent {} s at {} connections to each mode (and, for comparison, to the peer), from \
         a bench-only build of flowgate that keeps the wasm name section ({}; `scripts/bench.sh` runs worker-build \
         into `target/bench/build-names/`: the same code, only the names section differs). The release bundle {} — \
         `scripts/build-worker.sh` strips it — so a profile of it would show `wasm-function[N]`. V8 samples only \
         while the Worker's isolate runs (JS, wasm and the natives they call); what workerd does outside it — HTTP, \
         the local KV/Queues simulators, which are other workers, SQLite below the Durable Object — is in the \
         workerd CPU figure but not here. Self time = samples × the median interval; shares are of the busy \
         samples; “called from” is the nearest named caller, trampolines and anonymous frames skipped. The \
         profiler roughly doubles CPU per request. The `.cpuprofile` files load in Chrome DevTools or speedscope.\n",
        load.inspector_target,
        pp.secs,
        pp.connections,
        if profiled { "it has one" } else { "**but it has none**" },
        if release { "has one too" } else { "has none" }
    );
    for Profiled { target, summary, file, phase } in &load.profiles {
        let busy = summary.busy;
        let share = |n: u64| 100.0 * n as f64 / busy.max(1) as f64;
        let kinds: Vec<String> = summary
            .kinds
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| {
                let name = match k.as_str() {
                    "wasm" => "wasm",
                    "js-bundle" => "the script's JS (flowgate: wasm-bindgen glue)",
                    "js-other" => "other JS",
                    "native" => "natives (Web APIs, DO storage, console)",
                    "gc" => "GC",
                    "program" => "(program): V8/workerd outside JS",
                    other => other,
                };
                format!("{name} {:.0}%", share(*n))
            })
            .collect();
        let crates: Vec<String> =
            summary.wasm_crates.iter().take(10).map(|(c, n)| format!("{c} {:.0}%", share(*n))).collect();
        let busy_time = summary.time(busy);
        let per_request = |d: Duration| {
            (phase.runs > 0)
                .then(|| d / u32::try_from(phase.runs).unwrap_or(u32::MAX))
                .map_or_else(|| "—".to_owned(), us)
        };
        let _ = writeln!(
            s,
            "### {} — {:.0} req/s; per request: {} in the isolate (sampled), {} runtime workerd CPU ({:.0}% of it), {} all workerd\n",
            target.title(),
            phase.wrk.rps(),
            per_request(busy_time),
            per_request(phase.runtime_cpu),
            100.0 * busy_time.as_secs_f64() / phase.runtime_cpu.as_secs_f64().max(1e-9),
            per_request(phase.cpu),
        );
        let _ = writeln!(
            s,
            "{} samples ({:.0} µs median interval), {} busy ({:.2} s): {}. Wasm by crate (% of busy): {}. \
             Named wasm functions: {} of {}. File: `{}`.\n",
            summary.samples,
            summary.interval.as_secs_f64() * 1e6,
            busy,
            busy_time.as_secs_f64(),
            kinds.join(" · "),
            if crates.is_empty() { "—".to_owned() } else { crates.join(", ") },
            summary.wasm_named.0,
            summary.wasm_named.1,
            file.strip_prefix(flowgate_e2e::repo_root()).unwrap_or(file).display()
        );
        let _ = writeln!(s, "| self | % busy | function | where | called from (share) |");
        let _ = writeln!(s, "|---:|---:|---|---|---|");
        for e in &summary.top {
            let _ = writeln!(
                s,
                "| {:.0} ms | {:.1}% | {} | {} | {} |",
                summary.time(e.samples).as_secs_f64() * 1e3,
                share(e.samples),
                md_name(&e.function),
                if e.location.is_empty() { "—" } else { &e.location },
                e.caller
                    .as_ref()
                    .map_or_else(|| "—".to_owned(), |(c, f)| format!("{} ({:.0}%)", md_name(c), f * 100.0))
            );
        }
        let _ = writeln!(s);
    }
}
