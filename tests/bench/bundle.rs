//! The Worker bundle: what `wrangler deploy --dry-run` would upload, and the
//! wasm alone, raw and `gzip -9`.

use std::{fs, path::Path, process::Command};

use anyhow::{bail, Context as _};

/// Budget for the upload, gzipped (KiB, as wrangler counts).
pub(crate) const BUDGET_GZIP_KIB: f64 = 300.0;

/// Bundle sizes.
#[derive(Debug)]
pub(crate) struct Bundle {
    /// `build/index_bg.wasm`, bytes.
    pub(crate) wasm_raw: u64,
    /// The same, `gzip -9`, bytes.
    pub(crate) wasm_gzip9: u64,
    /// wrangler's "Total Upload" (JS + wasm), KiB.
    pub(crate) upload_kib: f64,
    /// wrangler's gzip figure for it, KiB.
    pub(crate) upload_gzip_kib: f64,
}

impl Bundle {
    /// True when the gzipped upload exceeds [`BUDGET_GZIP_KIB`].
    pub(crate) fn over_budget(&self) -> bool {
        self.upload_gzip_kib > BUDGET_GZIP_KIB
    }
}

/// Parses wrangler's `Total Upload: 609.93 KiB / gzip: 226.11 KiB`.
pub(crate) fn parse_total_upload(text: &str) -> Option<(f64, f64)> {
    let line = text.lines().find(|l| l.contains("Total Upload:"))?;
    let rest = line.split_once("Total Upload:")?.1;
    let (raw, gz) = rest.split_once("/ gzip:")?;
    let kib = |s: &str| s.trim().strip_suffix("KiB").and_then(|n| n.trim().parse::<f64>().ok());
    Some((kib(raw)?, kib(gz)?))
}

/// Measures the built Worker in `root/build`, dry-running wrangler into `out`.
///
/// # Errors
/// No build, or wrangler/gzip failing.
pub(crate) fn measure(root: &Path, out: &Path) -> anyhow::Result<Bundle> {
    let wasm = root.join("build/index_bg.wasm");
    let wasm_raw = fs::metadata(&wasm).with_context(|| format!("{} (run `make build`)", wasm.display()))?.len();
    let gz = Command::new("gzip").args(["-9", "-c"]).arg(&wasm).output().context("running gzip")?;
    if !gz.status.success() {
        bail!("gzip -9 {} failed", wasm.display());
    }

    // A configuration without the build step (the bundle is already built),
    // with the Worker's bindings.
    let _ = fs::remove_dir_all(out);
    fs::create_dir_all(out)?;
    let config = out.join("wrangler.toml");
    fs::write(
        &config,
        format!(
            "name = \"flowgate\"\nmain = \"{}\"\ncompatibility_date = \"2026-04-20\"\nsend_metrics = false\n\n\
             [[kv_namespaces]]\nbinding = \"TOKEN_CACHE\"\nid = \"flowgate-bench\"\n",
            root.join("build/index.js").display()
        ),
    )?;
    let wrangler = root.join("node_modules/.bin/wrangler");
    let run = Command::new(&wrangler)
        .current_dir(out)
        .args(["deploy", "--dry-run", "--config", "wrangler.toml", "--outdir"])
        .arg(out.join("dist"))
        .env("WRANGLER_SEND_METRICS", "false")
        .env("WRANGLER_SEND_ERROR_REPORTS", "false")
        .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
        .env("WRANGLER_HIDE_BANNER", "true")
        .env("CI", "true")
        .output()
        .with_context(|| format!("running {}", wrangler.display()))?;
    let text = format!("{}{}", String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    if !run.status.success() {
        bail!("wrangler deploy --dry-run failed:\n{text}");
    }
    let (upload_kib, upload_gzip_kib) =
        parse_total_upload(&text).with_context(|| format!("no \"Total Upload\" line in wrangler's output:\n{text}"))?;
    Ok(Bundle { wasm_raw, wasm_gzip9: gz.stdout.len() as u64, upload_kib, upload_gzip_kib })
}

#[cfg(test)]
mod tests {
    use super::parse_total_upload;

    #[test]
    fn reads_wranglers_total() {
        let out = "Total Upload: 609.93 KiB / gzip: 226.11 KiB\nYour Worker has access to…";
        assert_eq!(parse_total_upload(out), Some((609.93, 226.11)));
        assert_eq!(parse_total_upload("nothing"), None);
    }
}
