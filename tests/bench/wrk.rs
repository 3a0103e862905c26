//! The load generator: `wrk` (Debian's package; scripts/bench.sh installs it
//! when missing) with `tests/bench/github.lua`, fed with deliveries this
//! module signs: a GitHub push body of a fixed size, a fresh
//! `X-GitHub-Delivery` each, and its `X-Hub-Signature-256`.

use std::{fmt::Write as _, fs, path::Path, time::Duration};

use anyhow::{bail, Context as _};
use flowgate_core::{verify::github, Secret};
use flowgate_e2e::repo_root;

/// The body's `after` commit id is cut out of it: the template's marker.
const AFTER_MARKER: &str = "@@AFTER@@";

/// A GitHub push body of exactly `size` bytes (compact JSON, one line), as
/// the text before and after its 40-hex `after` commit id.
pub(crate) fn push_body_parts(size: usize) -> anyhow::Result<(String, String)> {
    let body = |message: &str| {
        let user = serde_json::json!({
            "name": "octocat", "email": "octocat@github.com", "login": "octocat", "id": 583231,
            "node_id": "MDQ6VXNlcjU4MzIzMQ==", "avatar_url": "https://avatars.githubusercontent.com/u/583231?v=4",
            "url": "https://api.github.com/users/octocat", "html_url": "https://github.com/octocat",
            "type": "User", "site_admin": false
        });
        let commit = |id: &str, msg: &str| {
            serde_json::json!({
                "id": id, "tree_id": "f9d2a07e9488b91af2641b26b9407fe22a451433", "distinct": true,
                "message": msg, "timestamp": "2026-11-27T09:27:11+00:00",
                "url": format!("https://github.com/octo-org/bench/commit/{id}"),
                "author": {"name": "Mona Lisa", "email": "mona@github.com", "username": "mona"},
                "committer": {"name": "GitHub", "email": "noreply@github.com", "username": "web-flow"},
                "added": [], "removed": [], "modified": ["src/lib.rs", "README.md"]
            })
        };
        serde_json::json!({
            "ref": "refs/heads/main",
            "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
            "after": AFTER_MARKER,
            "repository": {
                "id": 186853002, "node_id": "MDEwOlJlcG9zaXRvcnkxODY4NTMwMDI=", "name": "bench",
                "full_name": "octo-org/bench", "private": true, "owner": user,
                "html_url": "https://github.com/octo-org/bench", "description": "flowgate load benchmark",
                "fork": false, "url": "https://github.com/octo-org/bench",
                "created_at": 1557933565, "updated_at": "2026-11-27T09:27:11Z", "pushed_at": 1796808431,
                "git_url": "git://github.com/octo-org/bench.git", "ssh_url": "git@github.com:octo-org/bench.git",
                "clone_url": "https://github.com/octo-org/bench.git", "default_branch": "main",
                "master_branch": "main", "size": 1204, "stargazers_count": 12, "watchers_count": 12,
                "language": "Rust", "has_issues": true, "forks_count": 3, "open_issues_count": 4,
                "topics": ["webhooks", "power-automate"], "visibility": "private"
            },
            "pusher": {"name": "mona", "email": "mona@github.com"},
            "sender": user,
            "created": false, "deleted": false, "forced": false, "base_ref": null,
            "compare": "https://github.com/octo-org/bench/compare/6113728f27ae...0d1a26e67d8f",
            "commits": [
                commit("0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", message),
                commit("8a0f4b2bd2c3a4e5f60718293a4b5c6d7e8f9012", "Bump the bench"),
            ],
            "head_commit": commit("0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", "Bump the bench")
        })
        .to_string()
    };
    // The commit message pads the body to its size (plain ASCII: no escapes).
    let bare = body("").len() - AFTER_MARKER.len() + 40;
    let Some(fill) = size.checked_sub(bare) else { bail!("a push body is at least {bare} bytes, not {size}") };
    let words = b"Refactor the delivery pipeline and update the docs ";
    let message: String = (0..fill).map(|i| char::from(words[i % words.len()])).collect();
    let text = body(&message);
    let (head, tail) = text.split_once(&format!("\"{AFTER_MARKER}\"")).context("the marker is in the body")?;
    Ok((format!("{head}\""), format!("\"{tail}")))
}

/// Writes `n` signed deliveries for `github.lua` to `path`: the body's two
/// parts, then `"<delivery id> <after> <signature>"` per line.
///
/// # Errors
/// Writing the file.
pub(crate) fn write_deliveries(path: &Path, n: usize, body_bytes: usize, secret: &Secret) -> anyhow::Result<()> {
    let (head, tail) = push_body_parts(body_bytes)?;
    let mut out = String::with_capacity(2 * body_bytes + n * 150);
    let _ = writeln!(out, "{head}\n{tail}");
    let mut body = Vec::with_capacity(body_bytes);
    for _ in 0..n {
        let id = uuid::Uuid::new_v4();
        let after = format!("{}{}", id.simple(), &uuid::Uuid::new_v4().simple().to_string()[..8]);
        body.clear();
        body.extend_from_slice(head.as_bytes());
        body.extend_from_slice(after.as_bytes());
        body.extend_from_slice(tail.as_bytes());
        debug_assert_eq!(body.len(), body_bytes);
        let _ = writeln!(out, "{id} {after} {}", github::sign(secret, &body));
    }
    fs::write(path, out).with_context(|| format!("writing {}", path.display()))
}

/// What one `wrk` run measured.
#[derive(Clone, Debug)]
pub(crate) struct Outcome {
    /// Answers received.
    pub(crate) requests: u64,
    /// Wall time of the run.
    pub(crate) duration: Duration,
    /// Answers other than 202.
    pub(crate) non202: u64,
    /// Connect, read and write errors and timeouts.
    pub(crate) transport_errors: u64,
    /// Times a thread ran out of prepared deliveries (its next requests
    /// repeat earlier ones).
    pub(crate) exhausted: u64,
    /// Median latency.
    pub(crate) p50: Duration,
    /// 99th percentile latency.
    pub(crate) p99: Duration,
}

impl Outcome {
    /// Answers per second.
    pub(crate) fn rps(&self) -> f64 {
        self.requests as f64 / self.duration.as_secs_f64().max(1e-9)
    }

    /// Answers that were 202.
    pub(crate) fn accepted(&self) -> u64 {
        self.requests.saturating_sub(self.non202)
    }
}

/// Runs `wrk` for `secs` seconds at `connections` against `url` with the
/// deliveries in `file` (one thread for one connection, else two).
///
/// # Errors
/// wrk missing or failing, or its output lacking the `BENCH` line.
pub(crate) async fn run(url: &str, connections: usize, secs: u64, file: &Path) -> anyhow::Result<Outcome> {
    let threads = connections.min(2);
    let script = repo_root().join("tests/bench/github.lua");
    let out = tokio::process::Command::new("wrk")
        .args(["-t", &threads.to_string(), "-c", &connections.to_string(), "-d", &format!("{secs}s")])
        .args(["--timeout", "30s", "-s"])
        .arg(&script)
        .arg(url)
        .arg("--")
        .arg(file)
        .arg(threads.to_string())
        .output()
        .await
        .context("running wrk (scripts/bench.sh installs it: apt-get install -y wrk)")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("wrk failed ({}):\n{stdout}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    }
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("BENCH "))
        .with_context(|| format!("no BENCH line in wrk's output:\n{stdout}"))?;
    let v: serde_json::Value = serde_json::from_str(line).with_context(|| format!("wrk's BENCH line: {line}"))?;
    let n = |k: &str| v[k].as_u64().unwrap_or(0);
    Ok(Outcome {
        requests: n("requests"),
        duration: Duration::from_micros(n("duration_us")),
        non202: n("non202"),
        transport_errors: n("connect_errors") + n("read_errors") + n("write_errors") + n("timeouts"),
        exhausted: n("exhausted"),
        p50: Duration::from_micros(n("p50_us")),
        p99: Duration::from_micros(n("p99_us")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_body_has_its_size_and_parses() {
        for size in [4096, 8192, 65536] {
            let (head, tail) = push_body_parts(size).unwrap();
            let body = format!("{head}{}{tail}", "a".repeat(40));
            assert_eq!(body.len(), size);
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["after"], "a".repeat(40));
            assert!(!head.contains('\n') && !tail.contains('\n'));
        }
        assert!(push_body_parts(100).is_err());
    }

    #[test]
    fn deliveries_are_signed() {
        let dir = std::env::temp_dir().join(format!("flowgate-bench-{}", uuid::Uuid::new_v4().simple()));
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("d.txt");
        let secret = Secret::new("s");
        write_deliveries(&file, 3, 8192, &secret).unwrap();
        let text = fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5);
        for l in &lines[2..] {
            let parts: Vec<&str> = l.split(' ').collect();
            let body = format!("{}{}{}", lines[0], parts[1], lines[1]);
            assert_eq!(parts[2], github::sign(&secret, body.as_bytes()));
        }
        fs::remove_dir_all(dir).unwrap();
    }
}
