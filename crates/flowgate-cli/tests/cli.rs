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
fn send_refuses_an_unknown_provider_and_points_at_the_list() {
    let out = flowgate().args(["send", "nonesuch", "--url", "http://127.0.0.1:9/x", "--secret", "s"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("flowgate providers"), "{stderr}");
}

#[test]
fn providers_lists_at_least_fifty_senders_with_their_docs() {
    let out = flowgate().args(["providers", "--markdown"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let rows = text.lines().filter(|l| l.starts_with("| `")).count();
    assert!(rows >= 50, "{rows} rows");
    for name in ["`github`", "`stripe`", "`slack`", "`standard-webhooks`", "`twitch`", "`paddle`"] {
        assert!(text.contains(name), "{name}");
    }
}

/// `flowgate providers | head`: a reader that stops early ends the listing
/// quietly, as any Unix filter does, instead of a panic and a backtrace.
#[cfg(unix)]
#[test]
fn a_reader_that_stops_early_ends_the_listing_quietly() {
    use std::{io::Read, process::Stdio};
    let mut child = flowgate().arg("providers").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut first = [0u8; 16];
    child.stdout.as_mut().unwrap().read_exact(&mut first).unwrap();
    drop(child.stdout.take());
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    let status = child.wait().unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    assert_ne!(status.code(), Some(101), "a panic's exit code");
}

/// `flowgate token` against the emulator, with a client secret or a certificate.
mod token {
    use std::{net::SocketAddr, path::Path, process::Command};

    use flowgate_emulator::{Emulator, EmulatorConfig, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_TENANT_ID};

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures").join(name)).unwrap()
    }

    fn project(emulator: &Emulator, credential: &str, dev_vars: &str) -> std::path::PathBuf {
        let toml = format!(
            r#"[vars.FLOWGATE.entra]
authority = "{}"
tenant = "{DEMO_TENANT_ID}"
client_id = "{DEMO_CLIENT_ID}"
{credential}
[vars.FLOWGATE.routes.gh]
provider = "github"
secret_bindings = ["GH"]
flow_url_binding = "FLOW"
"#,
            emulator.base_url()
        );
        let path = super::temp_file("wrangler.toml", &toml);
        std::fs::write(path.with_file_name(".dev.vars"), dev_vars).unwrap();
        path
    }

    fn run(args: &[&str], config: &Path) -> (Option<i32>, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_flowgate")).arg("token").arg(config).args(args).output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.code(), text)
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn explains_a_good_token_and_a_wrong_audience() {
        let emulator = Emulator::start(EmulatorConfig::demo(), SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
        let config = project(
            &emulator,
            "client_secret_binding = \"ENTRA_CLIENT_SECRET\"",
            &format!("ENTRA_CLIENT_SECRET={DEMO_CLIENT_SECRET}\n"),
        );
        let (code, text) = tokio::task::spawn_blocking({
            let config = config.clone();
            move || run(&[], &config)
        })
        .await
        .unwrap();
        assert_eq!(code, Some(0), "{text}");
        assert!(text.contains("OK  aud is exactly https://service.flow.microsoft.com/"), "{text}");
        assert!(text.contains("oid   0c9e2d4a-6b8f-4a1c-8e3d-2f5a7b9c1d3e"), "{text}");
        assert!(!text.contains("eyJ"), "the token is not printed without --show-token");

        let (code, text) = tokio::task::spawn_blocking(move || {
            run(&["--scope", "https://service.flow.microsoft.com/.default"], &config)
        })
        .await
        .unwrap();
        assert_ne!(code, Some(0), "{text}");
        assert!(text.contains("aud   https://service.flow.microsoft.com\n"), "{text}");
        assert!(text.contains("lacks the trailing slash"), "{text}");
        assert!(text.contains("https://service.flow.microsoft.com//.default (double slash)"), "{text}");
        assert_eq!(emulator.stats().token_requests, 2);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn signs_certificate_assertions_the_emulator_accepts() {
        let emulator = Emulator::start(EmulatorConfig::demo(), SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
        let quoted = |pem: String| pem.replace('\n', "\\n");
        for alg in ["RS256", "PS256"] {
            let config = project(
                &emulator,
                &format!("[vars.FLOWGATE.entra.certificate]\nprivate_key_binding = \"KEY\"\ncertificate_binding = \"CERT\"\nalgorithm = \"{alg}\""),
                &format!(
                    "KEY=\"{}\"\nCERT=\"{}\"\n",
                    quoted(fixture("entra-test-key.pem")),
                    quoted(fixture("entra-test-cert.pem"))
                ),
            );
            let (code, text) = tokio::task::spawn_blocking(move || run(&[], &config)).await.unwrap();
            assert_eq!(code, Some(0), "{alg}: {text}");
            assert!(text.contains("OK  aud is exactly"), "{alg}: {text}");
        }
        assert_eq!(emulator.stats().assertion_requests, 2);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn reports_the_aadsts_fix_when_entra_refuses() {
        let emulator = Emulator::start(EmulatorConfig::demo(), SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
        let config =
            project(&emulator, "client_secret_binding = \"ENTRA_CLIENT_SECRET\"", "ENTRA_CLIENT_SECRET=wrong\n");
        let (code, text) = tokio::task::spawn_blocking(move || run(&[], &config)).await.unwrap();
        assert_eq!(code, Some(2), "{text}");
        assert!(text.contains("AADSTS7000215"), "{text}");
        assert!(text.contains("Secret ID"), "{text}");
    }
}
