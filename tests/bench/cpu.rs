//! CPU time of a `wrangler dev`: the user + system time (`/proc/<pid>/stat`
//! fields 14 and 15, every thread of the process) of each workerd process
//! in the process tree below the harness's child, and of wrangler's own
//! Node process (which relays workerd's log lines) for context.
//!
//! wrangler 4 runs two workerd processes: the runtime, which runs the Worker
//! and Miniflare's local KV, Queues, R2 and Durable Object simulators (its
//! command line has `--inspector-addr`), and a proxy in front of it — the
//! public port's ProxyWorker, through which every request passes, and the
//! InspectorProxyWorker, which receives the runtime's console events.

use std::{collections::HashMap, fs, process::Command, time::Duration};

use anyhow::{bail, Context as _};

/// Accumulated CPU time, in clock ticks.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Ticks {
    /// The workerd processes.
    pub(crate) workerd: u64,
    /// Of which the runtime's.
    pub(crate) runtime: u64,
    /// The Node processes (wrangler).
    pub(crate) node: u64,
}

/// The processes of one `wrangler dev`.
#[derive(Debug)]
pub(crate) struct Probe {
    workerd: Vec<u32>,
    runtime: Vec<u32>,
    node: Vec<u32>,
    tick: Duration,
}

/// `(comm, ppid, utime + stime)` from `/proc/<pid>/stat`.
fn stat(pid: u32) -> Option<(String, u32, u64)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // comm is in parentheses and may hold spaces: the fields follow the last ')'.
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_owned();
    let rest: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // rest[0] is field 3 (state): field n is rest[n - 3].
    let ppid = rest.get(1)?.parse().ok()?;
    let utime: u64 = rest.get(11)?.parse().ok()?;
    let stime: u64 = rest.get(12)?.parse().ok()?;
    Some((comm, ppid, utime + stime))
}

/// Every process below `root` (not `root` itself), with its comm.
fn descendants(root: u32) -> Vec<(u32, String)> {
    let mut children: HashMap<u32, Vec<(u32, String)>> = HashMap::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        if let Some((comm, ppid, _)) = stat(pid) {
            children.entry(ppid).or_default().push((pid, comm));
        }
    }
    let mut out = Vec::new();
    let mut todo = vec![root];
    while let Some(p) = todo.pop() {
        for (pid, comm) in children.remove(&p).unwrap_or_default() {
            todo.push(pid);
            out.push((pid, comm));
        }
    }
    out
}

/// The length of a clock tick (`getconf CLK_TCK`, usually 100 per second).
fn tick() -> Duration {
    let hz = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<u64>().ok())
        .filter(|&hz| hz > 0)
        .unwrap_or(100);
    Duration::from_secs_f64(1.0 / hz as f64)
}

impl Probe {
    /// Finds the workerd and Node processes below `root`.
    ///
    /// # Errors
    /// No workerd process below it.
    pub(crate) fn new(root: u32) -> anyhow::Result<Self> {
        let tree = descendants(root);
        let pick = |name: &str| tree.iter().filter(|(_, c)| c == name).map(|(p, _)| *p).collect::<Vec<_>>();
        let (workerd, node) = (pick("workerd"), pick("node"));
        if workerd.is_empty() {
            bail!("no workerd process below pid {root} (processes: {tree:?})");
        }
        let runtime = workerd
            .iter()
            .copied()
            .filter(|p| {
                fs::read(format!("/proc/{p}/cmdline"))
                    .is_ok_and(|c| c.split(|&b| b == 0).any(|a| a.starts_with(b"--inspector-addr")))
            })
            .collect();
        Ok(Probe { workerd, runtime, node, tick: tick() })
    }

    /// The workerd pids.
    pub(crate) fn workerd_pids(&self) -> &[u32] {
        &self.workerd
    }

    /// The runtime's workerd pids (the others are wrangler's proxy).
    pub(crate) fn runtime_pids(&self) -> &[u32] {
        &self.runtime
    }

    /// CPU time so far.
    ///
    /// # Errors
    /// A workerd process has gone (it restarted, or wrangler stopped).
    pub(crate) fn sample(&self) -> anyhow::Result<Ticks> {
        let sum = |pids: &[u32]| -> anyhow::Result<u64> {
            pids.iter().map(|&p| stat(p).map(|(_, _, t)| t).with_context(|| format!("process {p} has gone"))).sum()
        };
        Ok(Ticks { workerd: sum(&self.workerd)?, runtime: sum(&self.runtime)?, node: sum(&self.node).unwrap_or(0) })
    }

    /// `ticks` as a duration.
    pub(crate) fn time(&self, ticks: u64) -> Duration {
        self.tick * u32::try_from(ticks).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_own_stat() {
        let me = std::process::id();
        let (comm, ppid, _) = stat(me).expect("own stat");
        assert!(!comm.is_empty());
        assert!(ppid > 0);
        // This test process is below its parent.
        assert!(descendants(ppid).iter().any(|(p, _)| *p == me));
    }
}
