//! Real Microsoft clients against `flowgate emulate --tls` (issue #13): the
//! command runs as a child process on a free port, with its generated CA;
//! MSAL for Python, azure-identity and msal-node obtain tokens with the demo
//! app's client secret and its certificate (`tests/fixtures/entra-test-*.pem`),
//! changing nothing but the authority and the documented discovery options,
//! and PyJWT / jose verify every token against the emulator's JWKS with the
//! audience and issuer the flow checks (`tests/clients/`). `make test`
//! creates the Python environment (`.venv-clients/`) and installs the npm
//! packages from the lockfile first.

use std::{
    io::{BufRead as _, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use flowgate_e2e::{demo, repo_root};

/// `flowgate emulate --tls` as a child process, stopped by its pid on drop.
struct TlsEmulator {
    child: Child,
    base_url: String,
    ca: PathBuf,
    _dir: PathBuf,
}

impl TlsEmulator {
    fn start() -> Self {
        let dir = repo_root().join("target/e2e").join(format!("clients-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = dir.join("ca.pem");
        let mut child = Command::new(repo_root().join("target/debug/flowgate"))
            .args(["emulate", "--tls", "--listen", "127.0.0.1:0", "--ca-out"])
            .arg(&ca)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("target/debug/flowgate runs (make build)");
        // The banner's first line names the address: "… listening on https://127.0.0.1:PORT".
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("flowgate emulator listening on ") {
                    let _ = tx.send(url.trim().to_owned());
                }
            }
        });
        let base_url = rx.recv_timeout(Duration::from_secs(60)).expect("the emulator starts and prints its address");
        assert!(base_url.starts_with("https://127.0.0.1:"), "{base_url}");
        assert!(std::fs::read_to_string(&ca).unwrap().contains("BEGIN CERTIFICATE"), "the CA is written first");
        Self { child, base_url, ca, _dir: dir }
    }

    /// Runs a client program with the environment the scripts read.
    fn run(&self, program: &PathBuf, script: &str, ca_var: &str) -> (bool, String) {
        let root = repo_root();
        let started = Instant::now();
        let out = Command::new(program)
            .arg(root.join("tests/clients").join(script))
            .current_dir(&root)
            .env("FLOWGATE_AUTHORITY_HOST", &self.base_url)
            .env("FLOWGATE_TENANT", demo::TENANT_DOMAIN)
            .env("FLOWGATE_TENANT_ID", demo::TENANT_ID)
            .env("FLOWGATE_CLIENT_ID", demo::CLIENT_ID)
            .env("FLOWGATE_CLIENT_SECRET", demo::CLIENT_SECRET)
            .env("FLOWGATE_CERT", root.join("tests/fixtures/entra-test-cert.pem"))
            .env("FLOWGATE_KEY", root.join("tests/fixtures/entra-test-key.pem"))
            .env(ca_var, &self.ca)
            // No proxy, no other CA: only what the README tells a user to set.
            .env_remove("HTTPS_PROXY")
            .env_remove("https_proxy")
            .env_remove("SSL_CERT_FILE")
            .output()
            .unwrap_or_else(|e| panic!("{} cannot run ({e}): run `make test`, which installs it", program.display()));
        let text = format!(
            "{}{}\n({script}: {:.1} s)",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            started.elapsed().as_secs_f64()
        );
        (out.status.success(), text)
    }
}

impl Drop for TlsEmulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn python() -> PathBuf {
    std::env::var_os("FLOWGATE_CLIENTS_PYTHON")
        .map_or_else(|| repo_root().join(".venv-clients/bin/python"), PathBuf::from)
}

/// Every line of `checks` is reported `"ok": true` by the script.
fn assert_passed(ok: bool, output: &str, checks: &[&str]) {
    assert!(ok, "the client script failed:\n{output}");
    for c in checks {
        let line = output
            .lines()
            .find(|l| l.contains(&format!("\"client\": \"{c}\"")) || l.contains(&format!("\"client\":\"{c}\"")));
        assert!(
            line.is_some_and(|l| l.contains("\"ok\": true") || l.contains("\"ok\":true")),
            "{c} missing:\n{output}"
        );
    }
}

#[test]
fn msal_python_and_azure_identity_get_verified_tokens_from_the_tls_emulator_with_a_secret_and_a_certificate() {
    let e = TlsEmulator::start();
    let (ok, output) = e.run(&python(), "python_clients.py", "REQUESTS_CA_BUNDLE");
    assert_passed(
        ok,
        &output,
        &[
            "msal-python secret",
            "msal-python secret (emulator's instance discovery)",
            "msal-python certificate (thumbprint)",
            "msal-python certificate (public_certificate)",
            "azure-identity ClientSecretCredential",
            "azure-identity CertificateCredential",
            "msal-python wrong secret",
        ],
    );
}

#[test]
fn msal_node_gets_verified_tokens_from_the_tls_emulator_with_a_secret_and_a_certificate() {
    let e = TlsEmulator::start();
    let (ok, output) = e.run(&PathBuf::from("node"), "msal_node.mjs", "NODE_EXTRA_CA_CERTS");
    assert_passed(
        ok,
        &output,
        &[
            "msal-node secret",
            "msal-node certificate (thumbprintSha256)",
            "msal-node certificate (thumbprint)",
            "msal-node wrong secret",
        ],
    );
}
