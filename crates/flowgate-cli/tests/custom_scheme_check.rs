//! `flowgate check` on a custom scheme that still asks for the prefix hash
//! (`algorithm = "sha256-secret-prefix"`), which custom schemes no longer
//! offer (issue #11, item 7): the problem and its fix are printed, exit 1.

use std::process::Command;

#[test]
fn check_refuses_a_custom_prefix_hash_scheme_and_says_what_to_use() {
    let config = r#"
name = "flowgate"
[vars.FLOWGATE.entra]
tenant = "contoso.onmicrosoft.com"
client_id = "5b6f2a10-7c1d-4e8f-9a2b-3c4d5e6f7a81"
client_secret_binding = "ENTRA_CLIENT_SECRET"

[vars.FLOWGATE.routes.acme]
provider = "custom"
secret_bindings = ["ACME_SECRET"]
flow_url_binding = "FLOW_URL_ACME"

[vars.FLOWGATE.routes.acme.scheme]
algorithm = "sha256-secret-prefix"
encoding = "hex"
header = "X-Acme-Signature"
"#;
    let dir = std::env::temp_dir().join(format!("flowgate-prefix-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("wrangler.toml");
    std::fs::write(&path, config).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_flowgate")).arg("check").arg(&path).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    for expected in [
        "vars.FLOWGATE.routes.acme.scheme.algorithm",
        "no longer offered for custom schemes",
        "length extension",
        "algorithm = \"sha256\"",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?} in:\n{stdout}");
    }
    // The same route with an HMAC passes the scheme check.
    std::fs::write(&path, config.replace("sha256-secret-prefix", "sha256")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_flowgate")).arg("check").arg(&path).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("scheme.algorithm"), "{stdout}");
}
