//! flowgate's retry rules against Power Automate's other answers (issue
//! #13), end to end through queue-mode routes: a flow turned off (400
//! `WorkflowTriggerIsNotEnabled`), an unknown or deleted flow (404
//! `WorkflowNotFound`), a body that does not match the trigger's Request Body
//! JSON Schema (400 `TriggerInputSchemaMismatch`, with the schema `flowgate
//! schema` prints), a SAS URL given a Bearer token (400
//! `DirectApiRequestHasMoreThanOneAuthorization`; flowgate never makes that
//! call itself: a SAS URL, like a URL on a host that is not Power
//! Automate's, is a configuration error) and the flow's invoke limit (429
//! with `Retry-After`). Permanent answers become dead letters at once, the
//! reason naming the code; the 429 is retried after its delay and delivered.

use std::{
    process::Command,
    sync::OnceLock,
    time::{Duration, Instant},
};

use flowgate_core::{verify::github, Secret};
use flowgate_e2e::{
    demo, eventually, repo_root, runs_for, setup_with_entra, start_emulator, Emulator, EmulatorConfig, WorkerProcess,
    GITHUB_VECTOR_SECRET,
};
use flowgate_emulator::{Cloud, FlowConfig, FlowFault, FlowState, WhoCanTrigger};
use reqwest::Method;
use serde_json::Value;

const FLOW_OFF: &str = "0ff0000000000000000000000000f10a";
const FLOW_DELETED: &str = "de1e7ed000000000000000000000f10a";
const FLOW_SCHEMA: &str = "5c4e3a0000000000000000000000f10a";
const FLOW_LIMITED: &str = "11317ed000000000000000000000f10a";
const FLOW_CODES: &str = "c0de500000000000000000000000f10a";

/// Seconds of the limited flow's invoke window (one call per window).
const WINDOW_SECS: u64 = 4;

/// Queue-mode routes, one per answer; quick retries as in the other tests.
const ROUTES: &str = r#"
[vars.FLOWGATE.routes.fa-off]
provider = "github"
secret_bindings = ["GH_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_OFF"
max_attempts = 4
backoff_base_secs = 1
backoff_max_secs = 2

[vars.FLOWGATE.routes.fa-deleted]
provider = "github"
secret_bindings = ["GH_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_DELETED"
max_attempts = 4
backoff_base_secs = 1
backoff_max_secs = 2

[vars.FLOWGATE.routes.fa-unknown]
provider = "github"
secret_bindings = ["GH_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_GONE"
max_attempts = 4
backoff_base_secs = 1
backoff_max_secs = 2

[vars.FLOWGATE.routes.fa-schema-raw]
provider = "github"
secret_bindings = ["GH_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_SCHEMA"
max_attempts = 4
backoff_base_secs = 1
backoff_max_secs = 2

[vars.FLOWGATE.routes.fa-schema-envelope]
provider = "github"
secret_bindings = ["GH_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_SCHEMA"
payload = "envelope"
max_attempts = 4
backoff_base_secs = 1
backoff_max_secs = 2

[vars.FLOWGATE.routes.fa-limited]
provider = "github"
secret_bindings = ["GH_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_LIMITED"
max_attempts = 6
backoff_base_secs = 1
backoff_max_secs = 2

[vars.FLOWGATE.routes.fa-codes]
provider = "github"
secret_bindings = ["GH_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_CODES"
max_attempts = 4
backoff_base_secs = 1
backoff_max_secs = 2

[vars.FLOWGATE.routes.fa-sas]
provider = "github"
secret_bindings = ["GH_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_SAS"

[vars.FLOWGATE.routes.fa-foreign]
provider = "github"
secret_bindings = ["GH_SECRET"]
allow_shared_secret = true
flow_url_binding = "FLOW_FOREIGN"
"#;

struct Stack {
    emulator: Emulator,
    worker: WorkerProcess,
    /// `[vars.FLOWGATE]` of the Worker, for `flowgate schema`.
    toml: String,
    _runtime: tokio::runtime::Runtime,
}

static STACK: OnceLock<Stack> = OnceLock::new();

fn flow(id: &str) -> FlowConfig {
    FlowConfig::new(id, demo::TENANT_ID, Cloud::Public, WhoCanTrigger::AnyUserInTenant)
}

/// One emulator and Worker for this file's tests (each uses its own routes
/// and flows), on a runtime of their own.
fn stack() -> &'static Stack {
    STACK.get_or_init(|| {
        std::thread::spawn(|| {
            let runtime =
                tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
            let (emulator, worker, toml) = runtime.block_on(async {
                let mut config = EmulatorConfig::demo();
                config.flows.push(FlowConfig { state: FlowState::Disabled, ..flow(FLOW_OFF) });
                config.flows.push(FlowConfig { state: FlowState::Deleted, ..flow(FLOW_DELETED) });
                config.flows.push(flow(FLOW_SCHEMA));
                config.flows.push(FlowConfig {
                    invoke_limit: Some(1),
                    invoke_window_secs: Some(WINDOW_SECS),
                    ..flow(FLOW_LIMITED)
                });
                config.flows.push(flow(FLOW_CODES));
                let emulator = start_emulator(config).await.expect("emulator starts");
                let mut setup = setup_with_entra(&emulator, "client_secret_binding = \"ENTRA_CLIENT_SECRET\"\n");
                setup.flowgate_toml.push_str(ROUTES);
                let sas = format!("{}&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=c2FzLXNpZw", emulator.flow_url(FLOW_CODES));
                for (k, v) in [
                    ("ENTRA_CLIENT_SECRET", demo::CLIENT_SECRET.to_owned()),
                    ("FLOW_OFF", emulator.flow_url(FLOW_OFF)),
                    ("FLOW_DELETED", emulator.flow_url(FLOW_DELETED)),
                    ("FLOW_SCHEMA", emulator.flow_url(FLOW_SCHEMA)),
                    ("FLOW_LIMITED", emulator.flow_url(FLOW_LIMITED)),
                    ("FLOW_CODES", emulator.flow_url(FLOW_CODES)),
                    ("FLOW_SAS", sas),
                    (
                        "FLOW_FOREIGN",
                        "https://flows.example/powerautomate/automations/direct/workflows/1/triggers/manual/paths/invoke?api-version=1"
                            .to_owned(),
                    ),
                ] {
                    setup.secrets.insert(k.to_owned(), v);
                }
                let toml = setup.flowgate_toml.clone();
                let worker = WorkerProcess::start(&setup).await.expect("worker starts");
                (emulator, worker, toml)
            });
            Stack { emulator, worker, toml, _runtime: runtime }
        })
        .join()
        .expect("the stack starts")
    })
}

fn github_signed(body: &[u8], delivery: &str) -> Vec<(String, String)> {
    vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("x-hub-signature-256".to_owned(), github::sign(&Secret::new(GITHUB_VECTOR_SECRET), body)),
        ("x-github-event".to_owned(), "push".to_owned()),
        ("x-github-delivery".to_owned(), delivery.to_owned()),
    ]
}

/// Sends one GitHub webhook to `route`; returns the Worker's status, answer and the delivery id.
async fn send(route: &str, n: usize) -> (u16, Value, String) {
    let id = uuid::Uuid::new_v4().to_string();
    let body = format!(r#"{{"n":{n}}}"#).into_bytes();
    let a = stack().worker.post_hook(route, &github_signed(&body, &id), body).await.unwrap();
    (a.status, a.json, id)
}

async fn send_queued(route: &str, n: usize) -> String {
    let (status, json, id) = send(route, n).await;
    assert_eq!((status, json["status"].as_str()), (202, Some("queued")), "{json}");
    id
}

/// The one dead letter of `delivery` on `route`, once it is there.
async fn dead_letter(route: &str, delivery: &str) -> Value {
    let worker = &stack().worker;
    eventually(30, &format!("a dead letter for {delivery} on {route}"), || async {
        worker.dead_letters(Some(route)).await.ok()?.into_iter().find(|l| l["delivery_id"] == delivery)
    })
    .await
    .unwrap()
}

/// A permanent answer: dead-lettered after one attempt, the reason naming
/// `code`; nothing reached a flow.
async fn assert_permanent(route: &str, delivery: &str, code: &str, fix: &str) -> Value {
    let letter = dead_letter(route, delivery).await;
    assert_eq!(letter["attempts"], 1, "no retry for a permanent answer: {letter}");
    let reason = letter["reason"].as_str().unwrap();
    assert!(reason.starts_with("permanent") && reason.contains(code) && reason.contains(fix), "{reason}");
    assert!(runs_for(&stack().emulator, delivery).is_empty());
    letter
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flow_turned_off_dead_letters_at_once_naming_workflow_trigger_is_not_enabled_then_redrives_once_on() {
    let s = stack();
    let id = send_queued("fa-off", 1).await;
    let letter = assert_permanent("fa-off", &id, "WorkflowTriggerIsNotEnabled", "turn it on").await;
    let rejected = s.emulator.stats().flow_rejected;
    assert!(rejected
        .iter()
        .any(|r| r.flow_id == FLOW_OFF && r.status == 400 && r.code == "WorkflowTriggerIsNotEnabled"));

    // The operator turns the flow on and redrives: delivered once.
    s.emulator.set_flow_state(FLOW_OFF, FlowState::Enabled).unwrap();
    let path = format!("/admin/dead-letters/fa-off/{}/redrive", letter["id"].as_str().unwrap());
    let (status, r) = s.worker.admin(Method::POST, &path, None).await.unwrap();
    assert_eq!((status, &r["redriven"]), (202, &serde_json::json!(1)), "{r}");
    let d = id.clone();
    eventually(30, "the redriven delivery runs", || {
        let runs = runs_for(&s.emulator, &d);
        async move { (!runs.is_empty()).then_some(()) }
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(runs_for(&s.emulator, &id).len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_or_deleted_flow_dead_letters_at_once_naming_workflow_not_found() {
    let deleted = send_queued("fa-deleted", 1).await;
    let unknown = send_queued("fa-unknown", 2).await;
    assert_permanent("fa-deleted", &deleted, "WorkflowNotFound", "copy the trigger URL again").await;
    assert_permanent("fa-unknown", &unknown, "WorkflowNotFound", "copy the trigger URL again").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_the_triggers_schema_refuses_dead_letters_naming_trigger_input_schema_mismatch_and_the_envelope_passes()
{
    let s = stack();
    // The trigger's Request Body JSON Schema is what `flowgate schema` prints for the envelope route.
    let dir = repo_root().join("target/e2e").join(format!("schema-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("wrangler.toml");
    std::fs::write(&config, format!("name = \"x\"\nmain = \"build/index.js\"\n{}", s.toml)).unwrap();
    let out = Command::new(repo_root().join("target/debug/flowgate"))
        .args(["schema", "fa-schema-envelope", "--config"])
        .arg(&config)
        .output()
        .expect("target/debug/flowgate runs (make build)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let schema: Value = serde_json::from_slice(&out.stdout).unwrap();
    s.emulator.set_flow_schema(FLOW_SCHEMA, Some(&schema)).unwrap();

    let raw = send_queued("fa-schema-raw", 1).await;
    let envelope = send_queued("fa-schema-envelope", 2).await;
    assert_permanent("fa-schema-raw", &raw, "TriggerInputSchemaMismatch", "flowgate schema").await;
    let d = envelope.clone();
    let run = eventually(30, "the envelope passes the schema", || {
        let runs = runs_for(&s.emulator, &d);
        async move { runs.into_iter().next() }
    })
    .await
    .unwrap();
    let body: Value = serde_json::from_slice(&run.body).unwrap();
    assert_eq!(body["route"], "fa-schema-envelope");
    assert!(s.worker.dead_letters(Some("fa-schema-envelope")).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sas_url_with_a_bearer_token_is_permanent_and_flowgate_never_sends_one() {
    let s = stack();
    // The trigger's answer to SAS plus Bearer, served as a fault: permanent, named.
    s.emulator
        .inject_flow_faults(vec![FlowFault::code("DirectApiRequestHasMoreThanOneAuthorization").for_flow(FLOW_CODES)]);
    let id = send_queued("fa-codes", 1).await;
    assert_permanent("fa-codes", &id, "DirectApiRequestHasMoreThanOneAuthorization", "SAS").await;

    // flowgate itself refuses a SAS trigger URL, and a URL on a host that is not
    // Power Automate's: a configuration error (500, the log names the fix); the
    // webhook is not accepted, and no token goes anywhere.
    let before = s.emulator.stats().flow_requests;
    for (route, needle) in
        [("fa-sas", "DirectApiRequestHasMoreThanOneAuthorization"), ("fa-foreign", "allow_any_flow_host = true")]
    {
        let (status, json, _) = send(route, 2).await;
        assert_eq!((status, json["error"].as_str()), (500, Some("misconfigured")), "{route}: {json}");
        assert!(s.worker.wait_for_log(needle).await, "{route}: the log says {needle}");
    }
    assert!(!s.worker.log().contains("c2FzLXNpZw"), "the SAS signature is never logged");
    assert_eq!(s.emulator.stats().flow_requests, before, "nothing was sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn over_the_invoke_limit_the_flow_answers_429_and_flowgate_delivers_after_retry_after() {
    let s = stack();
    let throttled_before = s.emulator.stats().flow_throttled;
    let started = Instant::now();
    let first = send_queued("fa-limited", 1).await;
    let second = send_queued("fa-limited", 2).await;
    let ids = [first, second];
    let runs = eventually(60, "both deliveries run", || {
        let runs: Vec<_> = ids.iter().flat_map(|id| runs_for(&s.emulator, id)).collect();
        async move { (runs.len() >= 2).then_some(runs) }
    })
    .await
    .unwrap();
    assert_eq!(runs.len(), 2, "each once");
    // One call per window: the second was throttled, retried after Retry-After.
    assert!(s.emulator.stats().flow_throttled > throttled_before, "the limit was hit");
    let attempts: Vec<&str> = runs.iter().map(|r| r.headers["x-flowgate-attempt"].as_str()).collect();
    assert!(attempts.contains(&"1") && attempts.iter().any(|a| *a != "1"), "{attempts:?}");
    let (a, b) = (runs[0].received_at.min(runs[1].received_at), runs[0].received_at.max(runs[1].received_at));
    assert!(b - a >= WINDOW_SECS - 1, "the retry waited for the window: {a} → {b}");
    assert!(started.elapsed() < Duration::from_secs(40));
    for id in &ids {
        assert!(s
            .worker
            .dead_letters(Some("fa-limited"))
            .await
            .unwrap()
            .iter()
            .all(|l| l["delivery_id"] != id.as_str()));
    }
}
