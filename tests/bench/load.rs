//! The Worker under load: flowgate under `wrangler dev` and a bare
//! pass-through Worker (the floor), both forwarding to the same emulator flow,
//! measured in the same run with the same signed GitHub deliveries.

use std::{
    collections::BTreeMap,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use anyhow::{bail, Context as _};
use flowgate_core::{config::Config, entra::client_secret_form, verify::github, Secret};
use flowgate_e2e::{
    demo, repo_root, standard_setup, start_emulator, Emulator, EmulatorConfig, WorkerProcess, WorkerSetup,
    GITHUB_VECTOR_SECRET,
};

/// What to run.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    /// Requests per concurrency level and repetition.
    pub(crate) requests: usize,
    /// Repetitions (the table shows medians over them).
    pub(crate) reps: usize,
    /// Concurrency levels.
    pub(crate) levels: Vec<usize>,
    /// Body size of each delivery, bytes.
    pub(crate) body_bytes: usize,
    /// The floor writes one log line per request, as flowgate does.
    pub(crate) floor_logs: bool,
    /// flowgate's route: `gh` (direct mode, duplicate suppression on, as
    /// configured by default) or `gh-nodedupe` (direct mode without it).
    pub(crate) route: String,
}

/// Which Worker a phase measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Target {
    /// flowgate: verify, token from the cache, forward.
    Flowgate,
    /// The bare pass-through Worker: forward with a fixed token.
    Floor,
}

impl Target {
    /// For logs.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Target::Flowgate => "flowgate",
            Target::Floor => "floor",
        }
    }
}

/// One measured burst: `requests` deliveries at one concurrency.
#[derive(Clone, Debug)]
pub(crate) struct Phase {
    /// Which Worker.
    pub(crate) target: Target,
    /// Concurrent senders.
    pub(crate) concurrency: usize,
    /// Repetition (0-based): phases of one repetition and level ran back to back.
    pub(crate) rep: usize,
    /// Requests per second (all requests over the wall time of the burst).
    pub(crate) rps: f64,
    /// Median latency.
    pub(crate) p50: Duration,
    /// 99th percentile latency (nearest rank).
    pub(crate) p99: Duration,
    /// Answers other than 202, and transport errors (status 0), by status.
    pub(crate) errors: BTreeMap<u16, usize>,
}

/// Everything the load part measured.
#[derive(Debug)]
pub(crate) struct LoadResult {
    /// The plan it ran.
    pub(crate) plan: Plan,
    /// Every phase, in the order run.
    pub(crate) phases: Vec<Phase>,
    /// Token requests the emulator saw from flowgate, warm-up included (the
    /// floor's single token is fetched before counting starts).
    pub(crate) token_requests: u64,
    /// Flow runs the emulator accepted during the run (warm-up included).
    pub(crate) flow_accepted: u64,
    /// Flow requests it refused.
    pub(crate) flow_rejected: usize,
    /// Requests sent during the run (warm-up included).
    pub(crate) sent: usize,
}

/// Requests sent to each Worker before measuring.
const WARM_UP_REQUESTS: usize = 300;

/// A prepared, validly signed delivery.
struct Delivery {
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
}

fn deliveries(n: usize, body_bytes: usize) -> Vec<Delivery> {
    let secret = Secret::new(GITHUB_VECTOR_SECRET);
    (0..n)
        .map(|i| {
            let id = uuid::Uuid::new_v4().to_string();
            let head = format!(
                r#"{{"ref":"refs/heads/main","delivery":"{id}","seq":{i},"repository":{{"full_name":"octo/bench"}},"pad":""#
            );
            let mut body = head.into_bytes();
            let fill = body_bytes.saturating_sub(body.len() + 2);
            body.extend((0..fill).map(|j| b"abcdefghijklmnopqrstuvwxyz0123456789"[j % 36]));
            body.extend_from_slice(b"\"}");
            let headers = vec![
                ("content-type", "application/json".to_owned()),
                ("user-agent", "GitHub-Hookshot/bench".to_owned()),
                ("x-github-event", "push".to_owned()),
                ("x-github-delivery", id),
                ("x-hub-signature-256", github::sign(&secret, &body)),
            ];
            Delivery { body, headers }
        })
        .collect()
}

/// Sends `deliveries` to `url` from `concurrency` workers that take the next
/// delivery from a shared counter; one fresh keep-alive client per burst.
async fn burst(
    url: &str,
    deliveries: Vec<Delivery>,
    concurrency: usize,
) -> anyhow::Result<(Duration, Vec<(Duration, u16)>)> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
    let deliveries = Arc::new(deliveries);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, deliveries, next, url) =
                (client.clone(), Arc::clone(&deliveries), Arc::clone(&next), url.to_owned());
            tokio::spawn(async move {
                let mut seen = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(d) = deliveries.get(i) else { break };
                    let mut req = client.post(&url).body(d.body.clone());
                    for (k, v) in &d.headers {
                        req = req.header(*k, v);
                    }
                    let t = Instant::now();
                    let status = match req.send().await {
                        Ok(resp) => {
                            let status = resp.status().as_u16();
                            match resp.bytes().await {
                                Ok(_) => status,
                                Err(_) => 0,
                            }
                        }
                        Err(_) => 0,
                    };
                    seen.push((t.elapsed(), status));
                }
                seen
            })
        })
        .collect();
    let mut all = Vec::with_capacity(deliveries.len());
    for w in workers {
        all.extend(w.await.context("load worker panicked")?);
    }
    Ok((started.elapsed(), all))
}

/// The `p`th percentile (nearest rank) of `sorted`.
pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

async fn phase(target: Target, url: &str, plan: &Plan, concurrency: usize, rep: usize) -> anyhow::Result<Phase> {
    let (wall, seen) = burst(url, deliveries(plan.requests, plan.body_bytes), concurrency).await?;
    let mut latencies: Vec<Duration> = seen.iter().map(|(d, _)| *d).collect();
    latencies.sort();
    let mut errors = BTreeMap::new();
    for (_, status) in &seen {
        if *status != 202 {
            *errors.entry(*status).or_insert(0) += 1;
        }
    }
    let p = Phase {
        target,
        concurrency,
        rep,
        rps: seen.len() as f64 / wall.as_secs_f64(),
        p50: percentile(&latencies, 50.0),
        p99: percentile(&latencies, 99.0),
        errors,
    };
    eprintln!(
        "  {:<8} c={:<3} {:>7.1} req/s  p50 {:>6.1} ms  p99 {:>6.1} ms{}",
        target.name(),
        concurrency,
        p.rps,
        p.p50.as_secs_f64() * 1e3,
        p.p99.as_secs_f64() * 1e3,
        if p.errors.is_empty() { String::new() } else { format!("  errors {:?}", p.errors) }
    );
    Ok(p)
}

/// The floor's token: one client-credentials request to the emulator, with
/// the form flowgate itself sends.
async fn floor_token(emulator: &Emulator) -> anyhow::Result<String> {
    let config = Config::from_json(&serde_json::json!({
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

/// The floor Worker: `bench/floor-worker/index.js`, forwarding to the same
/// flow as flowgate's `gh` route, with the fixed token.
fn floor_setup(emulator: &Emulator, token: &str, log_each_request: bool) -> WorkerSetup {
    WorkerSetup {
        flowgate_toml: format!(
            "\n[vars]\nFLOW_URL = \"{}\"\nLOG_EACH_REQUEST = \"{}\"\n",
            emulator.flow_url(demo::FLOW_ANY),
            u8::from(log_each_request)
        ),
        secrets: [("FLOW_TOKEN".to_owned(), token.to_owned())].into_iter().collect(),
        persist_to: None,
        main: Some(repo_root().join("bench/floor-worker/index.js")),
    }
}

/// Runs the plan: both Workers started once, then for each repetition and
/// concurrency level one burst against each (alternating which goes first).
pub(crate) async fn run(plan: Plan) -> anyhow::Result<LoadResult> {
    let emulator = start_emulator(EmulatorConfig::demo()).await?;
    let token = floor_token(&emulator).await?;
    eprintln!("starting flowgate and the floor Worker under wrangler dev…");
    let flowgate = WorkerProcess::start(&standard_setup(&emulator)).await?;
    let floor = WorkerProcess::start(&floor_setup(&emulator, &token, plan.floor_logs)).await?;
    let url = |t: Target| match t {
        Target::Flowgate => flowgate.url(&format!("/hooks/{}", plan.route)),
        Target::Floor => floor.url("/hooks/gh"),
    };
    let before = emulator.stats();
    let mut sent = 0;

    // Warm-up (not measured): the first request fetches flowgate's token;
    // both isolates warm up, and V8 recompiles the hot code (JS and wasm)
    // with its optimising tier.
    for t in [Target::Flowgate, Target::Floor] {
        let (_, seen) = burst(&url(t), deliveries(WARM_UP_REQUESTS, plan.body_bytes), 16).await?;
        sent += seen.len();
        let bad = seen.iter().filter(|(_, s)| *s != 202).count();
        if bad > 0 {
            let tail = if t == Target::Flowgate { flowgate.log_tail() } else { floor.log_tail() };
            bail!("{}: {bad} of {} warm-up requests were not accepted (202):\n{tail}", t.name(), seen.len());
        }
    }

    let mut phases = Vec::new();
    for rep in 0..plan.reps {
        eprintln!("repetition {} of {}", rep + 1, plan.reps);
        for &c in &plan.levels {
            let order =
                if rep % 2 == 0 { [Target::Flowgate, Target::Floor] } else { [Target::Floor, Target::Flowgate] };
            for t in order {
                phases.push(phase(t, &url(t), &plan, c, rep).await?);
                sent += plan.requests;
            }
        }
    }
    let after = emulator.stats();
    drop(floor);
    drop(flowgate);
    emulator.shutdown().await;
    Ok(LoadResult {
        plan,
        phases,
        token_requests: after.token_requests - before.token_requests,
        flow_accepted: after.flow_accepted - before.flow_accepted,
        flow_rejected: after.flow_rejected.len() - before.flow_rejected.len(),
        sent,
    })
}
