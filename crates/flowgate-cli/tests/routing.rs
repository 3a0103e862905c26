//! Edge routing as a user meets it: "GitHub push → flow A, issues labelled
//! bug → flow B, everything else dropped" written in wrangler.toml, then
//! `flowgate check`, `flowgate route` and `flowgate schema` run on it.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use serde_json::Value;

/// The issue's example: pushes to one flow, labelled bugs to another (in
/// its envelope), every other event dropped.
const WRANGLER: &str = r#"
name = "flowgate"
[[kv_namespaces]]
binding = "TOKEN_CACHE"
id = "x"

[[queues.producers]]
queue = "flowgate-deliveries"
binding = "DELIVERIES"

[[queues.consumers]]
queue = "flowgate-deliveries"
max_retries = 100
dead_letter_queue = "flowgate-deliveries-dlq"

[[queues.consumers]]
queue = "flowgate-deliveries-dlq"

[[r2_buckets]]
binding = "DELIVERY_STORE"
bucket_name = "flowgate-deliveries"

[[durable_objects.bindings]]
name = "LEDGER"
class_name = "RouteLedger"

[[durable_objects.bindings]]
name = "FLOW_PACER"
class_name = "FlowPacer"

[[migrations]]
tag = "v1"
new_sqlite_classes = ["RouteLedger"]

[[migrations]]
tag = "v2"
new_sqlite_classes = ["FlowPacer"]

[vars.FLOWGATE.entra]
tenant = "contoso.onmicrosoft.com"
client_id = "5b6f2a10-7c1d-4e8f-9a2b-3c4d5e6f7a81"
client_secret_binding = "ENTRA_CLIENT_SECRET"

[vars.FLOWGATE.flows.deploys]
url_binding = "FLOW_URL_DEPLOYS"

[vars.FLOWGATE.flows.bugs]
url_binding = "FLOW_URL_BUGS"
payload = "envelope"

[vars.FLOWGATE.routes.gh]
provider = "github"
secret_bindings = ["GITHUB_WEBHOOK_SECRET"]
envelope_headers = ["x-github-hook-id"]

[[vars.FLOWGATE.routes.gh.rules]]
event = "push"
flows = ["deploys"]

[[vars.FLOWGATE.routes.gh.rules]]
event = "issues"
fields = { action = "labeled", "label.name" = "bug" }
flows = ["bugs"]
"#;

fn flowgate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_flowgate"))
}

/// A fresh directory holding the configuration.
fn project() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flowgate-routing-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("wrangler.toml"), WRANGLER).unwrap();
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A captured GitHub delivery, as a capture document.
fn capture(event: &str, body: &str) -> String {
    format!(
        r#"{{"headers": {{"X-GitHub-Event": "{event}", "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
             "X-GitHub-Hook-ID": "292430182", "Content-Type": "application/json"}},
            "body": {body}}}"#
    )
}

fn route(dir: &Path, file: &Path, extra: &[&str]) -> (Output, String) {
    let out = flowgate()
        .args(["route", "gh", "--config"])
        .arg(dir.join("wrangler.toml"))
        .arg("--event-file")
        .arg(file)
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out, stdout)
}

#[test]
fn check_accepts_the_example_and_summarises_its_rules() {
    let dir = project();
    let out = flowgate().arg("check").arg(dir.join("wrangler.toml")).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains(": OK"), "{stdout}");
    assert!(stdout.contains("gh: 2 rules → deploys, bugs (envelope); unmatched events dropped"), "{stdout}");
}

#[test]
fn check_explains_a_rule_naming_an_unknown_flow() {
    let dir = project();
    let config = write(&dir, "broken.toml", &WRANGLER.replace("flows = [\"bugs\"]", "flows = [\"bug\"]"));
    let out = flowgate().arg("check").arg(&config).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("vars.FLOWGATE.routes.gh.rules[1].flows[0]: unknown flow \"bug\""), "{stdout}");
    assert!(stdout.contains("fix: use one of the configured flows: bugs, deploys"), "{stdout}");
}

#[test]
fn a_push_goes_to_flow_a_raw() {
    let dir = project();
    let file = write(&dir, "push.json", &capture("push", r#"{"ref": "refs/heads/main", "after": "a1b2c3"}"#));
    let (out, stdout) = route(&dir, &file, &[]);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    for expected in [
        "The signature is NOT checked; nothing is sent.",
        "event type:   push (from the request, as github names it)",
        "delivery id:  72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "  rule 1: matched → deploys",
        "decision: rule 1 → deploys",
        "deploys would receive the raw body (payload = \"raw\"",
        "  application/json, 42 bytes",
        "  {\"ref\":\"refs/heads/main\",\"after\":\"a1b2c3\"}",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?} in:\n{stdout}");
    }
    assert!(!stdout.contains("bugs would receive"), "{stdout}");
}

#[test]
fn an_issue_labelled_bug_goes_to_flow_b_in_its_envelope() {
    let dir = project();
    let body = r#"{"action": "labeled", "label": {"name": "bug"}, "issue": {"number": 7}}"#;
    let file = write(&dir, "bug.json", &capture("issues", body));
    let (out, stdout) = route(&dir, &file, &[]);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    for expected in [
        "  rule 1: event = \"issues\", wanted \"push\"",
        "  rule 2: matched → bugs",
        "decision: rule 2 → bugs",
        "bugs would receive an envelope (payload = \"envelope\"; token: [vars.FLOWGATE.entra], tenant contoso.onmicrosoft.com; trigger URL: secret FLOW_URL_BUGS):",
        "    \"route\": \"gh\",",
        "    \"event_type\": \"issues\",",
        "    \"flowgate_id\": \"dry-run\",",
        "      \"x-github-hook-id\": \"292430182\"",
        "    \"body_encoding\": \"json\",",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?} in:\n{stdout}");
    }

    // The same as JSON, for scripts.
    let (out, stdout) = route(&dir, &file, &["--json"]);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["decision"]["action"], "deliver");
    assert_eq!(v["decision"]["flows"], serde_json::json!(["bugs"]));
    assert_eq!(v["rules"][0]["matched"], false);
    assert_eq!(v["deliveries"][0]["envelope"]["body"]["label"]["name"], "bug");
    assert_eq!(v["deliveries"][0]["envelope"]["delivery_id"], "72d3162e-cc78-11e3-81ab-4c9367dc0958");
}

#[test]
fn an_issue_labelled_enhancement_is_dropped() {
    let dir = project();
    let body = r#"{"action": "labeled", "label": {"name": "enhancement"}}"#;
    let file = write(&dir, "enhancement.json", &capture("issues", body));
    let (out, stdout) = route(&dir, &file, &[]);
    assert_eq!(out.status.code(), Some(0), "dropped is not an error:\n{stdout}");
    assert!(stdout.contains("  rule 2: field label.name = \"enhancement\", wanted \"bug\""), "{stdout}");
    assert!(stdout.contains("decision: dropped: no rule matched and the route has no default_flow"), "{stdout}");
    assert!(!stdout.contains("would receive"), "{stdout}");
    let (_, stdout) = route(&dir, &file, &["--json"]);
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["decision"]["action"], "drop");
    assert_eq!(v["deliveries"], serde_json::json!([]));
}

#[test]
fn a_bare_body_takes_its_headers_and_event_from_flags() {
    let dir = project();
    let file = write(&dir, "body.json", r#"{"action": "labeled", "label": {"name": "bug"}}"#);
    let (out, stdout) = route(&dir, &file, &["--event", "issues", "-H", "Content-Type: application/json"]);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("event type:   issues (given with --event)"), "{stdout}");
    assert!(stdout.contains("decision: rule 2 → bugs"), "{stdout}");
    let (_, stdout) = route(&dir, &file, &["-H", "X-GitHub-Event: push"]);
    assert!(stdout.contains("decision: rule 1 → deploys"), "{stdout}");
}

#[test]
fn route_errors_exit_2() {
    let dir = project();
    let file = write(&dir, "x.json", "{}");
    let out = flowgate()
        .args(["route", "gitlab", "--config"])
        .arg(dir.join("wrangler.toml"))
        .arg("--event-file")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no route \"gitlab\""));
    let (out, _) = route(&dir, &dir.join("missing.json"), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.json"));
    let config = write(&dir, "broken.toml", &WRANGLER.replace("event = \"push\"", "event = 5"));
    let out =
        flowgate().args(["route", "gh", "--config"]).arg(&config).arg("--event-file").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("routes.gh.rules[0].event"), "{out:?}");
}

#[test]
fn schema_prints_the_envelope_schema_for_the_trigger() {
    let dir = project();
    let out = flowgate().args(["schema", "gh", "--config"]).arg(dir.join("wrangler.toml")).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let schema: Value = serde_json::from_slice(&out.stdout).expect("stdout is the schema alone");
    assert_eq!(schema["type"], "object");
    assert!(schema["properties"]["body"].is_object(), "{schema}");
    assert_eq!(schema["properties"]["headers"]["properties"]["x-github-hook-id"]["type"], "string");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Request Body JSON Schema"), "{stderr}");
    assert!(stderr.contains("Flows that get this envelope: bugs. (Flows deploys get the raw body.)"), "{stderr}");
}
