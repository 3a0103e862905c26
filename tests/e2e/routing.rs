//! Edge routing end to end: rules send each event to its flows (or none),
//! flows in two tenants get their own tokens, and an envelope flow gets a
//! JSON document that validates against the schema `flowgate schema` prints.

use std::{collections::BTreeMap, process::Command};

use flowgate_core::{
    verify::{find_provider, github},
    Secret,
};
use flowgate_e2e::{
    demo, eventually, now_secs, repo_root, runs_for, start_emulator, Emulator, EmulatorConfig, FlowRun, WorkerProcess,
    WorkerSetup, ADMIN_TOKEN, SENDER_SECRET,
};
use flowgate_emulator::{senders::sign, AppConfig, Cloud, FlowConfig, TenantConfig, WhoCanTrigger};
use reqwest::Method;
use serde_json::Value;

const PARTNER_TENANT_ID: &str = "2b7e9c41-5d3a-4f60-8e1b-7c9d0a1b2c3d";
const PARTNER_TENANT_DOMAIN: &str = "fabrikam.onmicrosoft.com";
const PARTNER_CLIENT_ID: &str = "7e1d2c3b-4a59-4687-9a0b-1c2d3e4f5a6b";
const PARTNER_CLIENT_SECRET: &str = "fabrikam-client-secret";
const PARTNER_SP_OBJECT_ID: &str = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
const PARTNER_FLOW: &str = "fab0000000000000000000000000f10a";
const COMMANDS_FLOW: &str = "c0ffee00000000000000000000000c0d";

fn emulator_config() -> EmulatorConfig {
    let mut c = EmulatorConfig::demo();
    c.tenants.push(TenantConfig { id: PARTNER_TENANT_ID.into(), domains: vec![PARTNER_TENANT_DOMAIN.into()] });
    c.apps.push(AppConfig {
        tenant: PARTNER_TENANT_ID.into(),
        client_id: PARTNER_CLIENT_ID.into(),
        client_secrets: vec![PARTNER_CLIENT_SECRET.into()],
        certificates: vec![],
        service_principal_object_id: PARTNER_SP_OBJECT_ID.into(),
        display_name: "flowgate-partner".into(),
    });
    let flow = |id: &str, tenant: &str| FlowConfig::new(id, tenant, Cloud::Public, WhoCanTrigger::AnyUserInTenant);
    c.flows.push(flow(PARTNER_FLOW, PARTNER_TENANT_ID));
    c.flows.push(flow(COMMANDS_FLOW, demo::TENANT_ID));
    c
}

/// The Slack route's signing secret: its own, as every route's must be
/// (a Slack signature does not cover the URL; README, Security model).
const SLACK_SECRET: &str = "a-slack-app-signing-secret";

/// The issue's example, plus a partner flow in another tenant and a Slack
/// route whose events reach their flow as an envelope.
fn flowgate_toml(emulator: &Emulator) -> String {
    format!(
        r#"
[vars.FLOWGATE.entra]
authority = "{authority}"
tenant = "{tenant}"
client_id = "{client}"
client_secret_binding = "ENTRA_CLIENT_SECRET"

[vars.FLOWGATE.credentials.fabrikam]
authority = "{authority}"
tenant = "{partner_tenant}"
client_id = "{partner_client}"
client_secret_binding = "FABRIKAM_CLIENT_SECRET"

[vars.FLOWGATE.flows.deploys]
url_binding = "FLOW_DEPLOYS"

[vars.FLOWGATE.flows.bugs]
url_binding = "FLOW_BUGS"

[vars.FLOWGATE.flows.partner]
url_binding = "FLOW_PARTNER"
credential = "fabrikam"

[vars.FLOWGATE.flows.commands]
url_binding = "FLOW_COMMANDS"
payload = "envelope"

[vars.FLOWGATE.routes.gh]
provider = "github"
secret_bindings = ["GH_SECRET"]
backoff_base_secs = 1
backoff_max_secs = 2

[[vars.FLOWGATE.routes.gh.rules]]
name = "pushes"
event = "push"
flows = ["deploys"]

[[vars.FLOWGATE.routes.gh.rules]]
name = "bugs"
event = "issues"
fields = {{ action = "labeled", "label.name" = "bug" }}
flows = ["bugs", "partner"]

[vars.FLOWGATE.routes.slack]
provider = "slack"
secret_bindings = ["SLACK_SECRET"]
default_flow = "commands"
envelope_headers = ["x-slack-request-timestamp"]
"#,
        authority = emulator.base_url(),
        tenant = demo::TENANT_DOMAIN,
        client = demo::CLIENT_ID,
        partner_tenant = PARTNER_TENANT_DOMAIN,
        partner_client = PARTNER_CLIENT_ID,
    )
}

async fn stack() -> (Emulator, WorkerProcess, String) {
    let emulator = start_emulator(emulator_config()).await.unwrap();
    let toml = flowgate_toml(&emulator);
    let secrets: BTreeMap<String, String> = [
        ("ENTRA_CLIENT_SECRET", demo::CLIENT_SECRET.to_owned()),
        ("FABRIKAM_CLIENT_SECRET", PARTNER_CLIENT_SECRET.to_owned()),
        ("GH_SECRET", SENDER_SECRET.to_owned()),
        ("SLACK_SECRET", SLACK_SECRET.to_owned()),
        ("FLOW_DEPLOYS", emulator.flow_url(demo::FLOW_ANY)),
        ("FLOW_BUGS", emulator.flow_url(demo::FLOW_SPECIFIC_ALLOWED)),
        ("FLOW_PARTNER", emulator.flow_url(PARTNER_FLOW)),
        ("FLOW_COMMANDS", emulator.flow_url(COMMANDS_FLOW)),
        ("FLOWGATE_ADMIN_TOKEN", ADMIN_TOKEN.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let setup =
        WorkerSetup { flowgate_toml: toml.clone(), secrets, persist_to: None, main: None, omit_bindings: Vec::new() };
    let worker = WorkerProcess::start(&setup).await.unwrap();
    (emulator, worker, toml)
}

async fn github_event(worker: &WorkerProcess, event: &str, body: &str) -> (String, flowgate_e2e::Answer) {
    let id = uuid::Uuid::new_v4().to_string();
    let headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("x-hub-signature-256".to_owned(), github::sign(&Secret::new(SENDER_SECRET), body.as_bytes())),
        ("x-github-event".to_owned(), event.to_owned()),
        ("x-github-delivery".to_owned(), id.clone()),
    ];
    let a = worker.post_hook("gh", &headers, body.as_bytes().to_vec()).await.unwrap();
    (id, a)
}

async fn runs_on(emulator: &Emulator, delivery: &str, n: usize) -> Vec<FlowRun> {
    let d = delivery.to_owned();
    eventually(30, &format!("{n} run(s) of {d}"), || {
        let runs = runs_for(emulator, &d);
        async move { (runs.len() >= n).then_some(runs) }
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn events_go_to_the_flows_their_rule_names_in_their_tenants_and_the_rest_is_dropped() {
    let (emulator, worker, _) = stack().await;

    // push → deploys only.
    let (push, a) = github_event(&worker, "push", r#"{"ref":"refs/heads/main"}"#).await;
    assert_eq!(a.status, 202, "{}", a.text);
    let runs = runs_on(&emulator, &push, 1).await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].flow_id, demo::FLOW_ANY);
    assert_eq!(runs[0].body, br#"{"ref":"refs/heads/main"}"#, "raw: byte-exact");

    // issues labelled bug → bugs and partner (fan-out), each its own delivery.
    let bug = r#"{"action":"labeled","label":{"name":"bug"},"issue":{"number":7}}"#;
    let (issue, a) = github_event(&worker, "issues", bug).await;
    assert_eq!(a.status, 202, "{}", a.text);
    let runs = runs_on(&emulator, &issue, 2).await;
    let by_flow: BTreeMap<&str, &FlowRun> = runs.iter().map(|r| (r.flow_id.as_str(), r)).collect();
    assert_eq!(by_flow.len(), 2, "{runs:?}");
    let ours = by_flow[demo::FLOW_SPECIFIC_ALLOWED];
    let theirs = by_flow[PARTNER_FLOW];
    assert_eq!(ours.body, bug.as_bytes());
    assert_eq!(theirs.body, bug.as_bytes());
    // Separate tokens from separate tenants, each accepted by its own flow.
    assert_eq!(ours.token_claims["tid"], demo::TENANT_ID);
    assert_eq!(theirs.token_claims["tid"], PARTNER_TENANT_ID);
    assert_ne!(ours.token_id, theirs.token_id);
    let stats = emulator.stats();
    assert_eq!(stats.token_requests_by_client.get(demo::CLIENT_ID), Some(&1), "{stats:?}");
    assert_eq!(stats.token_requests_by_client.get(PARTNER_CLIENT_ID), Some(&1), "{stats:?}");

    // issues labelled enhancement, and a release: no rule matches, no default → dropped.
    let enhancement = r#"{"action":"labeled","label":{"name":"enhancement"}}"#;
    let (dropped, a) = github_event(&worker, "issues", enhancement).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json["status"], "dropped");
    let (release, a) = github_event(&worker, "release", r#"{"action":"published"}"#).await;
    assert_eq!(a.status, 200, "{}", a.text);
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert!(runs_for(&emulator, &dropped).is_empty());
    assert!(runs_for(&emulator, &release).is_empty());
    assert_eq!(runs_for(&emulator, &issue).len(), 2, "fan-out delivered once per flow");
    assert!(worker.wait_for_log(r#""outcome":"dropped""#).await);
    let (_, s) = worker.admin(Method::GET, "/status", None).await.unwrap();
    assert_eq!(s["routes"]["gh"]["dropped"], 2, "{s}");
    assert_eq!(s["routes"]["gh"]["accepted"], 2, "{s}");
    assert_eq!(s["routes"]["gh"]["delivered"], 3, "{s}");
    assert_eq!(s["token_cache"].as_array().map(Vec::len), Some(2), "two credentials, two cache entries: {s}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_form_encoded_slack_command_reaches_its_flow_as_an_envelope_matching_the_published_schema() {
    let (emulator, worker, toml) = stack().await;
    let body = b"token=x&team_id=T1&command=%2Fdeploy&text=prod+now&user_name=ana".to_vec();
    let url = worker.url("/hooks/slack");
    let slack = find_provider("slack").unwrap();
    let req = sign(slack, &Secret::new(SLACK_SECRET), body, "", "application/x-www-form-urlencoded", &url, now_secs())
        .unwrap();
    let timestamp = req.headers.iter().find(|(k, _)| k == "x-slack-request-timestamp").unwrap().1.clone();
    let a = worker.post_hook("slack", &req.headers, req.body).await.unwrap();
    assert_eq!(a.status, 202, "{}", a.text);
    let flowgate_id = a.json["flowgate_id"].as_str().unwrap().to_owned();

    let run = eventually(30, "the envelope reaches the commands flow", || {
        let runs = emulator.runs();
        let id = flowgate_id.clone();
        async move {
            runs.into_iter().find(|r| r.headers.get("x-flowgate-id").map(String::as_str) == Some(id.as_str()))
        }
    })
    .await
    .unwrap();
    assert_eq!(run.flow_id, COMMANDS_FLOW);
    assert_eq!(run.headers["content-type"], "application/json");
    let envelope: Value = serde_json::from_slice(&run.body).unwrap();
    assert_eq!(envelope["route"], "slack");
    assert_eq!(envelope["provider"], "slack");
    assert_eq!(envelope["flowgate_id"], flowgate_id.as_str());
    assert_eq!(envelope["body_encoding"], "form");
    assert_eq!(envelope["body"]["command"], "/deploy");
    assert_eq!(envelope["body"]["text"], "prod now");
    assert_eq!(envelope["headers"]["x-slack-request-timestamp"], timestamp.as_str());
    assert!(envelope["received_at"].as_str().unwrap().ends_with('Z'));

    // The schema `flowgate schema slack` publishes accepts it, and would refuse a broken one.
    let dir = repo_root().join("target/e2e").join(format!("schema-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("wrangler.toml");
    std::fs::write(&config, format!("name = \"x\"\nmain = \"build/index.js\"\n{toml}")).unwrap();
    let out = Command::new(repo_root().join("target/debug/flowgate"))
        .args(["schema", "slack", "--body", "form", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let schema: Value = serde_json::from_slice(&out.stdout).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(&envelope).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}\n{schema:#}");
    let mut broken = envelope.clone();
    broken["body_encoding"] = Value::from("xml");
    assert!(!validator.is_valid(&broken), "the schema constrains body_encoding");
    broken = envelope.clone();
    broken["body"]["text"] = Value::from(5);
    assert!(!validator.is_valid(&broken), "a form body is an object of strings");
    broken = envelope.clone();
    broken.as_object_mut().unwrap().remove("route");
    assert!(!validator.is_valid(&broken), "the schema requires route");
}
