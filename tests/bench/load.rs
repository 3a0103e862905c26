//! The Workers under load, side by side in one run: flowgate in each mode,
//! the pass-through floor and a hand-written JavaScript peer, each under its
//! own `wrangler dev` (the same workerd build), all forwarding to the same
//! in-process emulator flow. For each burst (`wrk`, one concurrency level,
//! a fixed time) it records throughput, latency and the CPU time of the
//! Worker's workerd processes, from the start of the burst until the flow
//! runs stop arriving — so queue mode's consumer is counted with its ingest.
//! Optionally it then takes a V8 CPU profile of flowgate in each mode.

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{bail, Context as _};
use flowgate_core::{config::DEFAULT_SCOPE, entra::client_secret_form, Secret};
use flowgate_e2e::{
    demo, repo_root, start_emulator, Emulator, EmulatorConfig, WorkerProcess, WorkerSetup, GITHUB_VECTOR_SECRET,
    PLATFORM_BINDINGS,
};
use flowgate_emulator::AppConfig;

use crate::{cpu, profile, report::load_average, wrk};

/// What to run.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    /// Seconds per burst.
    pub(crate) secs: u64,
    /// Rounds: every target at every level once per round (the table shows
    /// medians over rounds).
    pub(crate) rounds: usize,
    /// Concurrency levels (connections).
    pub(crate) levels: Vec<usize>,
    /// Body size of each delivery, bytes.
    pub(crate) body_bytes: usize,
    /// The profile to take after the rounds, if any.
    pub(crate) profile: Option<ProfilePlan>,
}

/// The profiling part.
#[derive(Clone, Debug)]
pub(crate) struct ProfilePlan {
    /// Seconds of load per mode.
    pub(crate) secs: u64,
    /// Connections.
    pub(crate) connections: usize,
    /// The Worker to profile: a build of flowgate that keeps the wasm name
    /// section (scripts/bench.sh builds it beside the release bundle).
    pub(crate) bundle: PathBuf,
}

/// A Worker (and, for flowgate, a route) under load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Target {
    /// flowgate, `mode = "direct"`, `dedupe = false` (route `gh-nodedupe`).
    DirectNoDedupe,
    /// flowgate, `mode = "direct"`, duplicate suppression on (route `gh`).
    Direct,
    /// flowgate, queue mode, the default (route `gh-queue`).
    Queue,
    /// The hand-written JavaScript Worker, `bench/peer-worker/`.
    Peer,
    /// The pass-through Worker, `bench/floor-worker/`.
    Floor,
}

impl Target {
    /// Every target, in table order.
    pub(crate) const ALL: [Target; 5] =
        [Target::DirectNoDedupe, Target::Direct, Target::Queue, Target::Peer, Target::Floor];

    /// For tables.
    pub(crate) fn title(self) -> &'static str {
        match self {
            Target::DirectNoDedupe => "flowgate direct, no dedupe (`gh-nodedupe`)",
            Target::Direct => "flowgate direct + dedupe (`gh`)",
            Target::Queue => "flowgate queue (`gh-queue`, default mode)",
            Target::Peer => "JS peer (`bench/peer-worker`)",
            Target::Floor => "floor (`bench/floor-worker`)",
        }
    }

    /// For logs and file names.
    pub(crate) fn short(self) -> &'static str {
        match self {
            Target::DirectNoDedupe => "direct-nodedupe",
            Target::Direct => "direct",
            Target::Queue => "queue",
            Target::Peer => "peer",
            Target::Floor => "floor",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Target::DirectNoDedupe => "/hooks/gh-nodedupe",
            Target::Direct => "/hooks/gh",
            Target::Queue => "/hooks/gh-queue",
            Target::Peer | Target::Floor => "/hooks/gh",
        }
    }
}

/// One measured burst.
#[derive(Clone, Debug)]
pub(crate) struct Phase {
    /// Which Worker.
    pub(crate) target: Target,
    /// Connections.
    pub(crate) concurrency: usize,
    /// Round (0-based).
    pub(crate) round: usize,
    /// What wrk saw.
    pub(crate) wrk: wrk::Outcome,
    /// Flow runs the emulator accepted from the start of the burst until
    /// they stopped arriving: the deliveries the Worker completed.
    pub(crate) runs: u64,
    /// workerd CPU time (user + system) over the same interval.
    pub(crate) cpu: Duration,
    /// Of which the runtime's workerd (the Worker and the local simulators;
    /// the rest is wrangler's proxy workerd).
    pub(crate) runtime_cpu: Duration,
    /// wrangler's Node process CPU time over it (log relay; not the Worker's).
    pub(crate) node_cpu: Duration,
    /// From the end of the burst until the runs stopped arriving.
    pub(crate) drain: Duration,
    /// False when the runs never caught up with the 202s (180 s).
    pub(crate) drained: bool,
    /// 1-minute load average when the burst started.
    pub(crate) load_average: f64,
    /// Entra token requests the emulator saw during it (any client).
    pub(crate) token_requests: u64,
}

impl Phase {
    /// workerd CPU time per completed delivery.
    pub(crate) fn cpu_per_request(&self) -> Option<Duration> {
        self.per_request(self.cpu)
    }

    /// `d` per completed delivery.
    pub(crate) fn per_request(&self, d: Duration) -> Option<Duration> {
        (self.runs > 0).then(|| d / u32::try_from(self.runs).unwrap_or(u32::MAX))
    }
}

/// A profile of flowgate in one mode.
#[derive(Debug)]
pub(crate) struct Profiled {
    /// The mode.
    pub(crate) target: Target,
    /// Its summary.
    pub(crate) summary: profile::Summary,
    /// The saved `.cpuprofile`.
    pub(crate) file: PathBuf,
    /// The burst it covered.
    pub(crate) phase: Phase,
}

/// Everything the load part measured.
#[derive(Debug)]
pub(crate) struct LoadResult {
    /// The plan it ran.
    pub(crate) plan: Plan,
    /// Every burst, in the order run.
    pub(crate) phases: Vec<Phase>,
    /// workerd CPU per second while idle, per Worker process, before the load.
    pub(crate) idle_cpu: Vec<(&'static str, Duration)>,
    /// workerd processes per `wrangler dev` (all, the runtime's).
    pub(crate) workerd_processes: Vec<(&'static str, usize, usize)>,
    /// Token requests flowgate made (warm-up included).
    pub(crate) flowgate_token_requests: u64,
    /// Token requests the peer made (warm-up included).
    pub(crate) peer_token_requests: u64,
    /// Flow requests the emulator refused.
    pub(crate) flow_rejected: usize,
    /// The profiles, one per flowgate mode.
    pub(crate) profiles: Vec<Profiled>,
    /// Whether the profiled bundle's wasm has a name section / the release one.
    pub(crate) names: (bool, bool),
    /// The target the inspector listed.
    pub(crate) inspector_target: String,
}

/// The peer's app registration in the emulator (its own, so its token
/// requests are counted apart from flowgate's).
const PEER_CLIENT_ID: &str = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9";
const PEER_CLIENT_SECRET: &str = "peer-bench-client-secret";
const PEER_SP_OBJECT_ID: &str = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a";

/// The demo directory with the peer's app added, and no invoke limit on the
/// flow (a run sends far more than the Medium profile's 45,000 per 5 min).
fn emulator_config() -> EmulatorConfig {
    let mut c = EmulatorConfig::demo();
    c.apps.push(AppConfig {
        tenant: demo::TENANT_ID.to_owned(),
        client_id: PEER_CLIENT_ID.to_owned(),
        client_secrets: vec![PEER_CLIENT_SECRET.to_owned()],
        certificates: Vec::new(),
        service_principal_object_id: PEER_SP_OBJECT_ID.to_owned(),
        display_name: "flowgate-bench-peer".to_owned(),
    });
    for f in &mut c.flows {
        f.invoke_limit = Some(u64::MAX / 2);
    }
    c
}

/// flowgate with the bench's three routes (one secret each, the flow of
/// `demo::FLOW_ANY`), running `bundle`.
fn flowgate_setup(emulator: &Emulator, bundle: &Path) -> WorkerSetup {
    let route = |name: &str, extra: &str| {
        format!(
            "\n[vars.FLOWGATE.routes.{name}]\nprovider = \"github\"\nsecret_bindings = [\"GH_SECRET\"]\n\
             allow_shared_secret = true\nflow_url_binding = \"FLOW_ANY\"\n{extra}"
        )
    };
    let toml = format!(
        "{PLATFORM_BINDINGS}\n[vars.FLOWGATE.entra]\nauthority = \"{}\"\ntenant = \"{}\"\nclient_id = \"{}\"\n\
         client_secret_binding = \"ENTRA_CLIENT_SECRET\"\n{}{}{}",
        emulator.base_url(),
        demo::TENANT_DOMAIN,
        demo::CLIENT_ID,
        route("gh-nodedupe", "mode = \"direct\"\ndedupe = false\nreplay_guard = false\n"),
        route("gh", "mode = \"direct\"\n"),
        route("gh-queue", ""),
    );
    let secrets = [
        ("ENTRA_CLIENT_SECRET", demo::CLIENT_SECRET.to_owned()),
        ("GH_SECRET", GITHUB_VECTOR_SECRET.to_owned()),
        ("FLOW_ANY", emulator.flow_url(demo::FLOW_ANY)),
    ];
    WorkerSetup {
        flowgate_toml: toml,
        secrets: secrets.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        persist_to: None,
        main: Some(bundle.to_path_buf()),
        omit_bindings: Vec::new(),
    }
}

/// The floor's token: one client-credentials request to the emulator.
async fn floor_token(emulator: &Emulator) -> anyhow::Result<String> {
    let config = flowgate_core::config::Config::from_json(&serde_json::json!({
        "entra": {
            "authority": emulator.base_url(),
            "tenant": demo::TENANT_DOMAIN,
            "client_id": demo::CLIENT_ID,
            "client_secret_binding": "ENTRA_CLIENT_SECRET"
        },
        "routes": {"gh": {"provider": "github", "secret_bindings": ["S"], "flow_url_binding": "F"}}
    }))
    .map_err(|p| anyhow::anyhow!("bench configuration: {p:?}"))?;
    let form = client_secret_form(&config.entra, &Secret::new(demo::CLIENT_SECRET));
    let answer: serde_json::Value = reqwest::Client::new()
        .post(config.entra.token_endpoint())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    answer["access_token"].as_str().map(str::to_owned).context("the emulator's token answer has no access_token")
}

fn floor_setup(emulator: &Emulator, token: &str) -> WorkerSetup {
    WorkerSetup {
        flowgate_toml: format!(
            "\n[vars]\nFLOW_URL = \"{}\"\nLOG_EACH_REQUEST = \"0\"\n",
            emulator.flow_url(demo::FLOW_ANY)
        ),
        secrets: [("FLOW_TOKEN".to_owned(), token.to_owned())].into_iter().collect(),
        persist_to: None,
        main: Some(repo_root().join("bench/floor-worker/index.js")),
        omit_bindings: Vec::new(),
    }
}

fn peer_setup(emulator: &Emulator) -> WorkerSetup {
    WorkerSetup {
        flowgate_toml: format!(
            "\n[vars]\nTOKEN_URL = \"{}/{}/oauth2/v2.0/token\"\nCLIENT_ID = \"{PEER_CLIENT_ID}\"\nSCOPE = \"{DEFAULT_SCOPE}\"\n\
             FLOW_URL = \"{}\"\n",
            emulator.base_url(),
            demo::TENANT_DOMAIN,
            emulator.flow_url(demo::FLOW_ANY)
        ),
        secrets: [("GITHUB_SECRET", GITHUB_VECTOR_SECRET), ("CLIENT_SECRET", PEER_CLIENT_SECRET)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        persist_to: None,
        main: Some(repo_root().join("bench/peer-worker/index.js")),
        omit_bindings: Vec::new(),
    }
}

/// A running Worker with its CPU probe.
struct Worker {
    name: &'static str,
    process: WorkerProcess,
    probe: cpu::Probe,
}

impl Worker {
    async fn start(name: &'static str, setup: &WorkerSetup) -> anyhow::Result<Self> {
        let process = WorkerProcess::start(setup).await.with_context(|| format!("starting {name}"))?;
        let pid = process.pid().context("wrangler has no pid")?;
        let probe = cpu::Probe::new(pid).with_context(|| format!("{name}: finding workerd"))?;
        Ok(Worker { name, process, probe })
    }
}

/// Counters the emulator reset would lose, summed over the run.
#[derive(Default)]
struct Tally {
    token_requests: BTreeMap<String, u64>,
    flow_rejected: usize,
}

impl Tally {
    /// Adds the emulator's counters and resets it, so the runs it keeps
    /// (bodies included) do not pile up over the run.
    fn take(&mut self, emulator: &Emulator) {
        let s = emulator.stats();
        for (client, n) in s.token_requests_by_client {
            *self.token_requests.entry(client).or_default() += n;
        }
        self.flow_rejected += s.flow_rejected.len();
        emulator.reset();
    }
}

/// One burst against `worker` at `url`, measured until the flow runs stop
/// arriving (at least as many as wrk saw accepted, and none for 1.5 s).
#[allow(clippy::too_many_arguments)]
async fn burst(
    emulator: &Emulator,
    worker: &Worker,
    target: Target,
    concurrency: usize,
    round: usize,
    secs: u64,
    body_bytes: usize,
    file: &Path,
) -> anyhow::Result<Phase> {
    // Enough prepared deliveries for 3,000 answers a second.
    wrk::write_deliveries(file, (secs as usize * 3000).max(2000), body_bytes, &Secret::new(GITHUB_VECTOR_SECRET))?;
    let load_average = load_average().parse().unwrap_or(f64::NAN);
    let stats = emulator.stats();
    let (runs_before, tokens_before) = (stats.flow_accepted, stats.token_requests);
    let cpu_before = worker.probe.sample()?;
    let out = wrk::run(&worker.process.url(target.path()), concurrency, secs, file).await?;
    let ended = Instant::now();
    let (mut last, mut changed) = (0, Instant::now());
    let drained = loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let runs = emulator.stats().flow_accepted - runs_before;
        if runs != last {
            (last, changed) = (runs, Instant::now());
        }
        if runs >= out.accepted() && changed.elapsed() >= Duration::from_millis(1500) {
            break true;
        }
        if ended.elapsed() > Duration::from_secs(180) {
            break false;
        }
    };
    let cpu_after = worker.probe.sample()?;
    let token_requests = emulator.stats().token_requests - tokens_before;
    let phase = Phase {
        token_requests,
        target,
        concurrency,
        round,
        runs: last,
        cpu: worker.probe.time(cpu_after.workerd - cpu_before.workerd),
        runtime_cpu: worker.probe.time(cpu_after.runtime - cpu_before.runtime),
        node_cpu: worker.probe.time(cpu_after.node - cpu_before.node),
        drain: changed.saturating_duration_since(ended),
        drained,
        load_average,
        wrk: out,
    };
    let w = &phase.wrk;
    eprintln!(
        "  {:<15} c={:<3} {:>6.0} req/s  p50 {:>6.1} ms  p99 {:>6.1} ms  CPU {:>6.0} µs/req  runs {}{}{}{}",
        target.short(),
        concurrency,
        w.rps(),
        w.p50.as_secs_f64() * 1e3,
        w.p99.as_secs_f64() * 1e3,
        phase.cpu_per_request().map_or(f64::NAN, |d| d.as_secs_f64() * 1e6),
        phase.runs,
        if w.non202 + w.transport_errors + w.exhausted > 0 {
            format!("  non-202 {} errors {} exhausted {}", w.non202, w.transport_errors, w.exhausted)
        } else {
            String::new()
        },
        if phase.drained { String::new() } else { "  NOT DRAINED".to_owned() },
        if phase.token_requests > 0 { format!("  token requests {}", phase.token_requests) } else { String::new() }
    );
    Ok(phase)
}

/// Sends load to every route of `worker` until it answers only 202s (JIT
/// tiers up, tokens are fetched, ledgers created).
async fn warm_up(emulator: &Emulator, worker: &Worker, targets: &[Target], file: &Path) -> anyhow::Result<()> {
    for &t in targets {
        let p = burst(emulator, worker, t, 16, 0, 4, 8192, file).await?;
        if p.wrk.non202 + p.wrk.transport_errors > 0 || !p.drained {
            bail!("{}: warm-up was not all 202s:\n{}", t.short(), worker.process.log_tail());
        }
    }
    Ok(())
}

async fn idle_cpu(workers: &[&Worker], secs: u64) -> anyhow::Result<Vec<(&'static str, Duration)>> {
    let before: Vec<cpu::Ticks> = workers.iter().map(|w| w.probe.sample()).collect::<Result<_, _>>()?;
    tokio::time::sleep(Duration::from_secs(secs)).await;
    workers
        .iter()
        .zip(before)
        .map(|(w, b)| Ok((w.name, w.probe.time(w.probe.sample()?.workerd - b.workerd) / u32::try_from(secs)?)))
        .collect()
}

/// One profiled burst per target against `worker`, each profile saved as
/// `target/bench/[flowgate-]<target>.cpuprofile`; then the summaries (the
/// script sources are read after the last profile: the debugger stays off
/// while profiling) and the inspector's name for its target.
async fn profile_bursts(
    emulator: &Emulator,
    worker: &Worker,
    targets: &[Target],
    pp: &ProfilePlan,
    body_bytes: usize,
    file: &Path,
    tally: &mut Tally,
) -> anyhow::Result<(Vec<(Target, profile::Summary, Phase)>, String)> {
    let dir = repo_root().join("target/bench");
    let mut inspector = profile::Inspector::connect(worker.process.inspector_port()).await?;
    inspector.call("Profiler.enable", serde_json::json!({})).await?;
    inspector.call("Profiler.setSamplingInterval", serde_json::json!({"interval": 200})).await?;
    let mut taken = Vec::new();
    for &t in targets {
        inspector.call("Profiler.start", serde_json::json!({})).await?;
        let phase = burst(emulator, worker, t, pp.connections, 0, pp.secs, body_bytes, file).await?;
        let stopped = inspector.call("Profiler.stop", serde_json::json!({})).await?;
        tally.take(emulator);
        let prefix = if t == Target::Peer { "" } else { "flowgate-" };
        fs::write(dir.join(format!("{prefix}{}.cpuprofile", t.short())), stopped["profile"].to_string())?;
        taken.push((t, stopped["profile"].clone(), phase));
    }
    let mut ids: Vec<String> = taken.iter().flat_map(|(_, p, _)| profile::script_ids(p)).collect();
    ids.sort();
    ids.dedup();
    let sources = inspector.sources(&ids).await?;
    let summaries = taken
        .into_iter()
        .map(|(t, raw, phase)| Ok((t, profile::summarise(&raw, &sources, 15)?, phase)))
        .collect::<anyhow::Result<_>>()?;
    Ok((summaries, inspector.target.clone()))
}

/// Runs the plan.
pub(crate) async fn run(plan: Plan, release_bundle: &Path) -> anyhow::Result<LoadResult> {
    let dir = repo_root().join("target/bench");
    let file = dir.join("deliveries.txt");
    let emulator = start_emulator(emulator_config()).await?;
    let token = floor_token(&emulator).await?;
    eprintln!("starting flowgate, the peer and the floor under wrangler dev…");
    let flowgate = Worker::start("flowgate", &flowgate_setup(&emulator, release_bundle)).await?;
    let peer = Worker::start("peer", &peer_setup(&emulator)).await?;
    let floor = Worker::start("floor", &floor_setup(&emulator, &token)).await?;
    let worker = |t: Target| match t {
        Target::Peer => &peer,
        Target::Floor => &floor,
        _ => &flowgate,
    };
    let workerd_processes = [&flowgate, &peer, &floor]
        .iter()
        .map(|w| (w.name, w.probe.workerd_pids().len(), w.probe.runtime_pids().len()))
        .collect();
    let mut tally = Tally::default();
    tally.take(&emulator);

    eprintln!("idle CPU (5 s)…");
    let idle = idle_cpu(&[&flowgate, &peer, &floor], 5).await?;
    eprintln!("warm-up…");
    for t in [Target::DirectNoDedupe, Target::Direct, Target::Queue] {
        warm_up(&emulator, &flowgate, &[t], &file).await?;
    }
    warm_up(&emulator, &peer, &[Target::Peer], &file).await?;
    warm_up(&emulator, &floor, &[Target::Floor], &file).await?;
    tally.take(&emulator);

    let mut phases = Vec::new();
    for round in 0..plan.rounds {
        eprintln!("round {} of {}", round + 1, plan.rounds);
        for (li, &c) in plan.levels.iter().enumerate() {
            // Rotate who goes first, so drift on a shared machine spreads evenly.
            let n = Target::ALL.len();
            for k in 0..n {
                let t = Target::ALL[(k + round + li) % n];
                phases.push(burst(&emulator, worker(t), t, c, round, plan.secs, plan.body_bytes, &file).await?);
                tally.take(&emulator);
            }
        }
    }
    // Profiles with one `wrangler dev` alive at a time: with several (all
    // named flowgate-e2e), an inspector proxy was seen relaying another's
    // runtime.
    drop(floor);
    drop(peer);
    drop(flowgate);

    let release_names = profile::has_name_section(&fs::read(release_bundle.with_file_name("index_bg.wasm"))?);
    let mut profiles = Vec::new();
    let mut profiled_names = false;
    let mut inspector_target = String::new();
    if let Some(pp) = &plan.profile {
        profiled_names = profile::has_name_section(&fs::read(pp.bundle.with_file_name("index_bg.wasm"))?);
        eprintln!("profile: flowgate ({}) and the peer under the inspector…", pp.bundle.display());
        let named = Worker::start("flowgate (names)", &flowgate_setup(&emulator, &pp.bundle)).await?;
        warm_up(&emulator, &named, &[Target::Queue, Target::Direct, Target::DirectNoDedupe], &file).await?;
        tally.take(&emulator);
        let modes = [Target::Queue, Target::Direct, Target::DirectNoDedupe];
        let (mut taken, target) =
            profile_bursts(&emulator, &named, &modes, pp, plan.body_bytes, &file, &mut tally).await?;
        inspector_target = target;
        drop(named);
        // The peer, for comparison: how much of its workerd CPU its isolate holds.
        let peer = Worker::start("peer (profile)", &peer_setup(&emulator)).await?;
        warm_up(&emulator, &peer, &[Target::Peer], &file).await?;
        tally.take(&emulator);
        taken
            .extend(profile_bursts(&emulator, &peer, &[Target::Peer], pp, plan.body_bytes, &file, &mut tally).await?.0);
        for (target, summary, phase) in taken {
            let file = dir.join(format!(
                "{}{}.cpuprofile",
                if target == Target::Peer { "" } else { "flowgate-" },
                target.short()
            ));
            profiles.push(Profiled { target, summary, file, phase });
        }
    }
    let _ = fs::remove_file(&file);
    emulator.shutdown().await;
    Ok(LoadResult {
        plan,
        phases,
        idle_cpu: idle,
        workerd_processes,
        flowgate_token_requests: tally.token_requests.get(demo::CLIENT_ID).copied().unwrap_or(0),
        peer_token_requests: tally.token_requests.get(PEER_CLIENT_ID).copied().unwrap_or(0),
        flow_rejected: tally.flow_rejected,
        profiles,
        names: (profiled_names, release_names),
        inspector_target,
    })
}
