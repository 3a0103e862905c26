//! The `flowgate` binary as a user runs it.

use std::{path::PathBuf, process::Command};

fn flowgate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_flowgate"))
}

fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flowgate-cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn check_accepts_the_repository_configuration() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../wrangler.toml");
    let out = flowgate()
        .args(["check"])
        .arg(&repo)
        .args(["--dev-vars"])
        .arg(repo.with_file_name(".dev.vars.example"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains(": OK"), "{stdout}");
}

#[test]
fn check_names_every_problem_of_a_broken_configuration_and_fails() {
    let broken = r#"
name = "flowgate"
[vars.FLOWGATE.entra]
tenant = "common"
client_id = "5b6f2a10-7c1d-4e8f-9a2b-3c4d5e6f7a81"
client_secret_binding = "ENTRA_CLIENT_SECRET"
scope = "https://service.flow.microsoft.com/.default"
[vars.FLOWGATE.routes.github]
provider = "githib"
secret_bindings = ["GITHUB_WEBHOOK_SECRET"]
flow_url_binding = "https://prod-00.westus.logic.azure.com/workflows/1/triggers/manual/paths/invoke"
"#;
    let path = temp_file("wrangler.toml", broken);
    let out = flowgate().arg("check").arg(&path).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    for expected in [
        "4 problem(s), 1 warning(s)",
        "vars.FLOWGATE.entra.tenant",
        "vars.FLOWGATE.entra.scope",
        "https://service.flow.microsoft.com//.default",
        "vars.FLOWGATE.routes.github.provider: unknown provider \"githib\"",
        "vars.FLOWGATE.routes.github.flow_url_binding",
        "wrangler secret put",
        "warning: kv_namespaces",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?} in:\n{stdout}");
    }
}

#[test]
fn check_explains_a_missing_file() {
    let out = flowgate().args(["check", "/nonexistent/wrangler.toml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("reading /nonexistent/wrangler.toml"));
}

#[test]
fn send_refuses_an_unknown_provider_with_the_list() {
    let out = flowgate().args(["send", "stripe", "--url", "http://127.0.0.1:9/x", "--secret", "s"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("github, standard-webhooks or svix"), "{stderr}");
}
