//! A V8 CPU profile of a Worker under `wrangler dev`, taken through the
//! inspector wrangler exposes (`--inspector-port`) with the DevTools
//! protocol over a WebSocket (`Profiler.enable`, `Profiler.start`, the load,
//! `Profiler.stop`), and its summary: self time by function and by kind.
//! `FLOWGATE_BENCH_CDP_DEBUG=1` prints what the inspector sends.

use std::{collections::HashMap, time::Duration};

use anyhow::{bail, Context as _};
use futures::{SinkExt as _, StreamExt as _};
use tokio_tungstenite::{tungstenite::Message, MaybeTlsStream, WebSocketStream};

/// A DevTools protocol session with one Worker's isolate.
pub(crate) struct Inspector {
    ws: WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>,
    next_id: u64,
    /// The target's title, as the inspector lists it.
    pub(crate) target: String,
}

impl Inspector {
    /// Connects to the first target `http://127.0.0.1:{port}/json` lists.
    ///
    /// # Errors
    /// No inspector there, no target, or the WebSocket refused.
    pub(crate) async fn connect(port: u16) -> anyhow::Result<Self> {
        let list: serde_json::Value = reqwest::get(format!("http://127.0.0.1:{port}/json"))
            .await
            .and_then(reqwest::Response::error_for_status)
            .with_context(|| format!("the inspector on port {port}"))?
            .json()
            .await?;
        let target = list
            .as_array()
            .and_then(|a| a.iter().find(|t| t["webSocketDebuggerUrl"].is_string()))
            .with_context(|| format!("the inspector on port {port} lists no target: {list}"))?;
        let url = target["webSocketDebuggerUrl"].as_str().unwrap_or_default().to_owned();
        let title = target["title"].as_str().unwrap_or("?").to_owned();
        let (ws, _) = tokio_tungstenite::connect_async(&url).await.with_context(|| format!("connecting to {url}"))?;
        Ok(Inspector { ws, next_id: 1, target: title })
    }

    /// Sends `method` and waits for its answer (events in between are
    /// skipped).
    ///
    /// # Errors
    /// The connection failing, or the method answering an error.
    pub(crate) async fn call(&mut self, method: &str, params: serde_json::Value) -> anyhow::Result<serde_json::Value> {
        let id = self.next_id;
        self.next_id += 1;
        let msg = serde_json::json!({"id": id, "method": method, "params": params});
        self.ws.send(Message::Text(msg.to_string().into())).await.with_context(|| format!("sending {method}"))?;
        let answer = tokio::time::timeout(Duration::from_secs(120), async {
            while let Some(frame) = self.ws.next().await {
                let text = match frame? {
                    Message::Text(t) => t.to_string(),
                    Message::Binary(b) => String::from_utf8_lossy(&b).into_owned(),
                    Message::Close(_) => bail!("the inspector closed the connection"),
                    _ => continue,
                };
                if std::env::var_os("FLOWGATE_BENCH_CDP_DEBUG").is_some() {
                    eprintln!("cdp< {}", text.chars().take(200).collect::<String>());
                }
                let v: serde_json::Value = serde_json::from_str(&text)?;
                if v["id"].as_u64() == Some(id) {
                    return Ok(v);
                }
            }
            bail!("the inspector closed the connection")
        })
        .await
        .with_context(|| format!("no answer to {method} in 120 s"))??;
        if let Some(e) = answer.get("error") {
            bail!("{method}: {e}");
        }
        Ok(answer["result"].clone())
    }
}

impl Inspector {
    /// The source of each script in `ids` (`Debugger.getScriptSource`; the
    /// debugger is enabled for it and disabled after).
    ///
    /// # Errors
    /// The inspector refusing.
    pub(crate) async fn sources(&mut self, ids: &[String]) -> anyhow::Result<HashMap<String, String>> {
        self.call("Debugger.enable", serde_json::json!({})).await?;
        let mut out = HashMap::new();
        for id in ids {
            let r = self.call("Debugger.getScriptSource", serde_json::json!({"scriptId": id})).await?;
            out.insert(id.clone(), r["scriptSource"].as_str().unwrap_or_default().to_owned());
        }
        self.call("Debugger.disable", serde_json::json!({})).await?;
        Ok(out)
    }
}

/// One function's self time.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    /// Function name: Rust symbols without their hash, the JS glue's
    /// imports by their wasm-bindgen name (`__wbg_exec: return e.exec(…)`).
    pub(crate) function: String,
    /// `wasm`, `file.js:line`, or empty for V8's and workerd's own entries.
    pub(crate) location: String,
    /// Samples in it.
    pub(crate) samples: u64,
    /// The nearest named caller (trampolines and anonymous frames skipped)
    /// of most of its samples, with that share.
    pub(crate) caller: Option<(String, f64)>,
}

/// What a profile shows. Times are sample counts × the median sampling
/// interval: workerd takes no samples while the isolate is not running, so
/// the gap to the next sample is not the last sample's time.
#[derive(Clone, Debug)]
pub(crate) struct Summary {
    /// Samples, idle ones included.
    pub(crate) samples: u64,
    /// Samples not idle.
    pub(crate) busy: u64,
    /// The median interval between samples.
    pub(crate) interval: Duration,
    /// Busy samples by kind (wasm, the bundle's JS, other JS, natives, GC, program).
    pub(crate) kinds: Vec<(String, u64)>,
    /// Wasm samples by the crate of the function (`sha2`, `serde_json`, …).
    pub(crate) wasm_crates: Vec<(String, u64)>,
    /// The functions with the most self samples, idle left out.
    pub(crate) top: Vec<Entry>,
    /// Wasm functions sampled that have a name (from the name section) / all.
    pub(crate) wasm_named: (usize, usize),
}

impl Summary {
    /// `samples` as time.
    pub(crate) fn time(&self, samples: u64) -> Duration {
        self.interval * u32::try_from(samples).unwrap_or(u32::MAX)
    }
}

/// The crate a Rust symbol belongs to: `flowgate_core::verify::x` →
/// `flowgate_core`, `<sha2::Sha256 as digest::Update>::update` → `sha2`.
pub(crate) fn crate_of(name: &str) -> String {
    let s = name.trim_start_matches(['<', '&', '*', '(']).trim_start_matches("mut ").trim_start_matches("dyn ");
    match s.split_once("::") {
        Some((first, _)) if !first.is_empty() && !first.contains(' ') => first.to_owned(),
        _ => "(other)".to_owned(),
    }
}

/// A Rust symbol without its `::h<16 hex>` hash and its crates'
/// `[<16 hex>]` disambiguators.
pub(crate) fn tidy_symbol(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(i) = rest.find('[') {
        let (before, after) = rest.split_at(i);
        out.push_str(before);
        match after.find(']') {
            Some(17) if after[1..17].bytes().all(|b| b.is_ascii_hexdigit()) => rest = &after[18..],
            _ => {
                out.push('[');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    match out.rfind("::h") {
        Some(i) if out.len() - i == 19 && out[i + 3..].bytes().all(|b| b.is_ascii_hexdigit()) => out[..i].to_owned(),
        _ => out,
    }
}

fn is_unnamed_wasm(name: &str) -> bool {
    name.starts_with("wasm-function[") || name.starts_with("$func") || name.is_empty()
}

/// The JS glue's name for a function of wasm-bindgen's import object that
/// V8 lists as anonymous: the `__wbg_<name>_<hash>:` key before it on its
/// line, and the first statement of its body (`__wbg_exec: return e.exec(…)`).
fn glue_name(source: &str, line: usize, column: usize) -> Option<String> {
    let mut lines = source.lines().skip(line);
    let text = lines.next()?;
    let before = text.get(..column.min(text.len()))?;
    let key_end = before.rfind(':')?;
    let key_start = before[..key_end].rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'))? + 1;
    let key = &before[key_start..key_end];
    if !key.starts_with("__wbg") && !key.starts_with("__wbindgen") {
        return None;
    }
    let name = match key.rsplit_once('_') {
        Some((n, hash)) if hash.len() >= 8 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => n,
        _ => key,
    };
    let body = lines.next().unwrap_or_default().trim();
    let body: String = body.chars().take(60).collect();
    Some(if body.is_empty() { name.to_owned() } else { format!("{name}: {body}") })
}

/// The `scriptId`s of the JavaScript functions sampled in `profile`.
pub(crate) fn script_ids(profile: &serde_json::Value) -> Vec<String> {
    let mut ids: Vec<String> = profile["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| n["callFrame"]["url"].as_str().is_some_and(|u| !u.is_empty() && !u.starts_with("wasm://")))
        .filter_map(|n| n["callFrame"]["scriptId"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

struct Frame {
    function: String,
    location: String,
    kind: &'static str,
    parent: Option<u64>,
}

/// Summarises a `Profiler.stop` profile; `sources` (by `scriptId`) name the
/// JS glue's anonymous functions.
///
/// # Errors
/// Not a profile.
pub(crate) fn summarise(
    profile: &serde_json::Value,
    sources: &HashMap<String, String>,
    top_n: usize,
) -> anyhow::Result<Summary> {
    let nodes = profile["nodes"].as_array().context("profile without nodes")?;
    let samples = profile["samples"].as_array().context("profile without samples")?;
    let mut deltas: Vec<i64> = profile["timeDeltas"]
        .as_array()
        .context("profile without timeDeltas")?
        .iter()
        .filter_map(|d| d.as_i64())
        .collect();
    deltas.sort_unstable();
    let interval = Duration::from_micros(deltas.get(deltas.len() / 2).copied().unwrap_or(0).max(0) as u64);
    let mut parents: HashMap<u64, u64> = HashMap::new();
    for n in nodes {
        for c in n["children"].as_array().into_iter().flatten().filter_map(serde_json::Value::as_u64) {
            parents.insert(c, n["id"].as_u64().unwrap_or(0));
        }
    }
    let mut frames: HashMap<u64, Frame> = HashMap::new();
    for n in nodes {
        let id = n["id"].as_u64().unwrap_or(0);
        let cf = &n["callFrame"];
        let url = cf["url"].as_str().unwrap_or_default();
        let name = cf["functionName"].as_str().unwrap_or_default();
        let line = usize::try_from(cf["lineNumber"].as_i64().unwrap_or(-1)).ok();
        let column = usize::try_from(cf["columnNumber"].as_i64().unwrap_or(-1)).unwrap_or(0);
        let (location, kind, function) = if url.starts_with("wasm://") {
            ("wasm".to_owned(), "wasm", tidy_symbol(name))
        } else if url.is_empty() {
            let kind = match name {
                "(idle)" => "idle",
                "(garbage collector)" => "gc",
                "(program)" => "program",
                "(root)" => "root",
                _ => "native",
            };
            (String::new(), kind, name.to_owned())
        } else {
            let file = url.rsplit('/').next().unwrap_or(url);
            let kind = if file.starts_with("index.js") { "js-bundle" } else { "js-other" };
            let glue = if name.is_empty() {
                cf["scriptId"]
                    .as_str()
                    .and_then(|id| sources.get(id))
                    .zip(line)
                    .and_then(|(src, l)| glue_name(src, l, column))
            } else {
                None
            };
            let location = line.map_or_else(|| file.to_owned(), |l| format!("{file}:{}", l + 1));
            (location, kind, glue.unwrap_or_else(|| name.to_owned()))
        };
        let function = if function.is_empty() { "(anonymous)".to_owned() } else { function };
        frames.insert(id, Frame { function, location, kind, parent: parents.get(&id).copied() });
    }
    // The nearest ancestor worth naming: not a trampoline, not anonymous.
    let caller = |mut id: u64| -> Option<String> {
        loop {
            id = frames.get(&id)?.parent?;
            let f = frames.get(&id)?;
            let skip = matches!(f.function.as_str(), "wasm-to-js" | "js-to-wasm" | "(anonymous)" | "(root)")
                || (f.kind == "wasm" && is_unnamed_wasm(&f.function));
            if !skip {
                return Some(f.function.clone());
            }
        }
    };
    type Key = (String, String);
    let mut by_fn: HashMap<Key, (u64, &'static str, HashMap<String, u64>)> = HashMap::new();
    let mut by_kind: HashMap<String, u64> = HashMap::new();
    for id in samples.iter().filter_map(serde_json::Value::as_u64) {
        let Some(f) = frames.get(&id) else { continue };
        *by_kind.entry(f.kind.to_owned()).or_default() += 1;
        let e = by_fn.entry((f.function.clone(), f.location.clone())).or_insert((0, f.kind, HashMap::new()));
        e.0 += 1;
        if let Some(c) = caller(id) {
            *e.2.entry(c).or_default() += 1;
        }
    }
    let idle = by_kind.remove("idle").unwrap_or(0);
    by_kind.remove("root");
    let mut wasm_crates: HashMap<String, u64> = HashMap::new();
    let (mut named, mut wasm_fns) = (0, 0);
    for ((function, _), (n, kind, _)) in &by_fn {
        if *kind == "wasm" {
            wasm_fns += 1;
            let unnamed = is_unnamed_wasm(function);
            named += usize::from(!unnamed);
            *wasm_crates.entry(if unnamed { "(unnamed)".to_owned() } else { crate_of(function) }).or_default() += n;
        }
    }
    let sorted = |m: HashMap<String, u64>| {
        let mut v: Vec<(String, u64)> = m.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    };
    let mut top: Vec<Entry> = by_fn
        .into_iter()
        .filter(|(_, (_, kind, _))| !matches!(*kind, "idle" | "root"))
        .map(|((function, location), (samples, _, callers))| {
            let caller = callers
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
                .map(|(c, k)| (c, k as f64 / samples.max(1) as f64));
            Entry { function, location, samples, caller }
        })
        .collect();
    top.sort_by(|a, b| b.samples.cmp(&a.samples).then(a.function.cmp(&b.function)));
    top.truncate(top_n);
    let total = samples.len() as u64;
    Ok(Summary {
        samples: total,
        busy: total.saturating_sub(idle),
        interval,
        kinds: sorted(by_kind),
        wasm_crates: sorted(wasm_crates),
        top,
        wasm_named: (named, wasm_fns),
    })
}

/// Whether a wasm module has a `name` custom section (function names for
/// profiles and stack traces).
pub(crate) fn has_name_section(wasm: &[u8]) -> bool {
    fn leb(b: &[u8], pos: &mut usize) -> Option<usize> {
        let (mut v, mut shift) = (0usize, 0);
        loop {
            let byte = *b.get(*pos)?;
            *pos += 1;
            v |= usize::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(v);
            }
            shift += 7;
            if shift > 35 {
                return None;
            }
        }
    }
    if wasm.get(..4) != Some(b"\0asm") {
        return false;
    }
    let mut pos = 8;
    while pos < wasm.len() {
        let id = wasm[pos];
        pos += 1;
        let Some(len) = leb(wasm, &mut pos) else { return false };
        let end = pos.saturating_add(len);
        if id == 0 {
            let mut p = pos;
            if let Some(n) = leb(wasm, &mut p) {
                if wasm.get(p..p + n) == Some(b"name") {
                    return true;
                }
            }
        }
        pos = end;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crates_of_symbols() {
        assert_eq!(crate_of("flowgate_core::verify::hmac::verify::h0123"), "flowgate_core");
        assert_eq!(crate_of("<sha2::core_api::Sha256VarCore as digest::Update>::update"), "sha2");
        assert_eq!(crate_of("&mut serde_json::de::Deserializer::parse"), "serde_json");
        assert_eq!(crate_of("memcpy"), "(other)");
    }

    #[test]
    fn tidies_symbols() {
        assert_eq!(
            tidy_symbol("flowgate::queue::record::{{closure}}::h57b1bcf7526f31d9"),
            "flowgate::queue::record::{{closure}}"
        );
        assert_eq!(
            tidy_symbol("<dlmalloc[e24a27700634d609]::Dlmalloc<A>>::free::h0123456789abcdef"),
            "<dlmalloc::Dlmalloc<A>>::free"
        );
        assert_eq!(tidy_symbol("a[i]"), "a[i]");
        assert_eq!(tidy_symbol("wasm-function[7]"), "wasm-function[7]");
    }

    #[test]
    fn names_glue_functions() {
        let src = "x\n  }, \"__wbg_error_d1\"), __wbg_exec_85b624bc72d8a6f2: /* @__PURE__ */ __name(function(e, t) {\n    return e.exec(g(t, n), ..._);\n";
        let src = src.replace("\\n", "\n");
        let line = src.lines().nth(1).unwrap();
        let col = line.find("function").unwrap();
        assert_eq!(glue_name(&src, 1, col).unwrap(), "__wbg_exec: return e.exec(g(t, n), ..._);");
    }

    #[test]
    fn summarises_self_samples() {
        let p = serde_json::json!({
            "nodes": [
                {"id": 1, "callFrame": {"functionName": "(root)", "url": "", "lineNumber": -1}, "children": [2, 3, 6]},
                {"id": 2, "callFrame": {"functionName": "(idle)", "url": "", "lineNumber": -1}},
                {"id": 3, "callFrame": {"functionName": "sha2::compress::h0123456789abcdef", "url": "wasm://wasm/ab12", "lineNumber": 0}, "children": [4]},
                {"id": 4, "callFrame": {"functionName": "wasm-to-js", "url": "", "lineNumber": -1}, "children": [5]},
                {"id": 5, "callFrame": {"functionName": "exec", "url": "", "lineNumber": -1}},
                {"id": 6, "callFrame": {"functionName": "wasm-function[7]", "url": "wasm://wasm/ab12", "lineNumber": 0}}
            ],
            "samples": [2, 3, 3, 5, 6, 2, 5],
            "timeDeltas": [0, 100, 100, 100, 5000, 100, 100]
        });
        let s = summarise(&p, &HashMap::new(), 10).unwrap();
        assert_eq!((s.samples, s.busy), (7, 5));
        assert_eq!(s.interval, Duration::from_micros(100));
        assert_eq!(s.top[0].function, "exec");
        assert_eq!(s.top[0].samples, 2);
        assert_eq!(s.top[0].caller, Some(("sha2::compress".to_owned(), 1.0)));
        assert_eq!(s.top[1].function, "sha2::compress");
        assert_eq!(s.wasm_named, (1, 2));
        assert_eq!(s.wasm_crates[0], ("sha2".to_owned(), 2));
        assert_eq!(s.time(5), Duration::from_micros(500));
    }

    #[test]
    fn finds_the_name_section() {
        let header = b"\0asm\x01\0\0\0";
        let mut with = header.to_vec();
        with.extend_from_slice(&[0, 6, 4, b'n', b'a', b'm', b'e', 0]);
        assert!(has_name_section(&with));
        let mut without = header.to_vec();
        without.extend_from_slice(&[0, 5, 3, b'f', b'o', b'o', 0]);
        assert!(!has_name_section(&without));
    }
}
