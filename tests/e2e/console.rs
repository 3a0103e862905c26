//! The web console (`GET /console`) in a real browser: headless Chromium
//! from Debian's packages (`/usr/bin/chromium`), driven through the DevTools
//! protocol by npm `playwright-core` (`tests/console/console.mjs`). The test
//! starts the emulator and the Worker, sends webhooks (some dead-lettered,
//! one delivered after a failure), then the script logs in, checks what each
//! page shows, redrives a letter by clicking, runs a bulk dry run and the
//! bulk redrive, and takes the screenshots README shows (`docs/console-*.png`).
//! Here the emulator must then have the run of every redriven letter.

use std::{path::PathBuf, process::Command};

use flowgate_core::{verify::github, Secret};
use flowgate_e2e::{
    eventually, repo_root, runs_for, standard_setup, start_emulator, EmulatorConfig, WorkerProcess, ADMIN_TOKEN,
    GITHUB_VECTOR_SECRET,
};
use flowgate_emulator::{FlowBehaviour, FlowFault};

/// Dead letters the test makes on route `q` (max_attempts 4, backoff 1–2 s).
const DEAD: usize = 3;

async fn send(worker: &WorkerProcess, n: usize) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    let body = format!(r#"{{"n":{n},"repository":{{"full_name":"contoso/app"}}}}"#).into_bytes();
    let headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("x-hub-signature-256".to_owned(), github::sign(&Secret::new(GITHUB_VECTOR_SECRET), &body)),
        ("x-github-event".to_owned(), "push".to_owned()),
        ("x-github-delivery".to_owned(), id.clone()),
    ];
    let a = worker.post_hook("q", &headers, body).await.unwrap();
    assert_eq!(a.status, 202, "{}", a.text);
    id
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_shows_routes_deliveries_and_dead_letters_and_redrives_by_click() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    assert!(
        PathBuf::from(&chromium).exists(),
        "{chromium} is missing: apt-get install -y chromium (.ci/run installs it)"
    );
    let emulator = start_emulator(EmulatorConfig::demo()).await.unwrap();
    let worker = WorkerProcess::start(&standard_setup(&emulator)).await.unwrap();

    // The flow is down: these become dead letters.
    emulator.set_flow_behaviour(FlowBehaviour::down(None)).unwrap();
    let mut dead = Vec::new();
    for n in 0..DEAD {
        dead.push(send(&worker, n).await);
    }
    eventually(60, "the dead letters", || async {
        let l = worker.dead_letters(Some("q")).await.ok()?;
        (l.len() == DEAD).then_some(())
    })
    .await
    .unwrap();
    // The flow is back; one delivery fails once first (its history).
    emulator.set_flow_behaviour(FlowBehaviour::default()).unwrap();
    emulator.inject_flow_faults(vec![FlowFault::status(500)]);
    let retried = send(&worker, 100).await;
    eventually(30, "the retried delivery", || {
        let runs = runs_for(&emulator, &retried);
        async move { (!runs.is_empty()).then_some(()) }
    })
    .await
    .unwrap();
    // The ledger settles the delivery after the attempt.
    eventually(15, "the delivery settled", || async {
        let (_, page) =
            worker.admin(reqwest::Method::GET, &format!("/admin/v1/deliveries?id={retried}"), None).await.ok()?;
        (page["items"][0]["state"] == "delivered").then_some(())
    })
    .await
    .unwrap();

    let docs = repo_root().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    let out = Command::new("node")
        .arg(repo_root().join("tests/console/console.mjs"))
        .current_dir(repo_root())
        .env("FLOWGATE_URL", worker.url(""))
        .env("FLOWGATE_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("FLOWGATE_DELIVERY_ID", &retried)
        .env("FLOWGATE_DEAD_ROUTE", "q")
        .env("FLOWGATE_DEAD_COUNT", DEAD.to_string())
        .env("FLOWGATE_SCREENSHOTS", &docs)
        .env("CHROMIUM", &chromium)
        .output()
        .expect("node runs (make test installs playwright-core from the lockfile)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the console script failed:\n{stdout}\n{}\nwrangler:\n{}",
        String::from_utf8_lossy(&out.stderr),
        worker.log_tail()
    );
    let seen: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or("{}")).unwrap();
    assert!(seen["dry_run"].as_str().unwrap().contains(&format!("{} dead letter(s) match", DEAD - 1)), "{seen}");

    // Every letter redriven (one by click, the rest in bulk) reached the flow, once.
    for id in &dead {
        let runs = eventually(30, &format!("the redriven delivery {id}"), || {
            let runs = runs_for(&emulator, id);
            async move { (!runs.is_empty()).then_some(runs) }
        })
        .await
        .unwrap();
        assert_eq!(runs.len(), 1, "{id}");
    }
    assert!(worker.dead_letters(Some("q")).await.unwrap().is_empty());
    for shot in ["login", "overview", "deliveries", "dead-letter", "dead-letters", "phone"] {
        let p = docs.join(format!("console-{shot}.png"));
        assert!(std::fs::metadata(&p).is_ok_and(|m| m.len() > 1000), "{} was not written", p.display());
    }
}
