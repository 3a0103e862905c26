//! `flowgate providers`: the built-in senders, what is checked, what
//! de-duplicates them, whether the replay guard applies, the test evidence
//! and each sender's documentation; with `--markdown`, README's table and
//! its comparison with Hookdeck and ngrok ([`NOT_BUILT_IN`]).

use std::{fmt::Write as _, process::ExitCode};

use flowgate_core::verify::{providers, Provider, ReplayGuard};

/// The senders Hookdeck or ngrok verify that flowgate does not build in, one
/// a line (`name who,verifies`; `#` comments), in `not_built_in.txt`: one
/// place to shrink when a sender becomes a preset (a test fails while a
/// built-in is listed).
pub const NOT_BUILT_IN: &str = include_str!("not_built_in.txt");

/// [`NOT_BUILT_IN`] as (name, who verifies it) pairs, in file order.
pub fn not_built_in() -> Vec<(&'static str, &'static str)> {
    NOT_BUILT_IN
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split_once(' ').map_or((l, ""), |(n, w)| (n, w.trim())))
        .collect()
}

/// README's provider section as `flowgate providers --markdown` prints it:
/// the count, the table, and the comparison with Hookdeck and ngrok.
pub fn markdown() -> String {
    let all = providers();
    let mut out =
        format!("**{} built-in senders**, plus `provider = \"custom\"` for any other HMAC sender.\n\n", all.len());
    out.push_str(
        "| provider | sender | what is checked | signature binds | dedupe on | replay guard | evidence | docs |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|---|\n");
    for p in all {
        let guard = match p.replay_guard(&p.scheme()) {
            ReplayGuard::On => "on",
            ReplayGuard::Off(_) => "off",
        };
        // Table cells: a `|` inside one would end it.
        let checks = p.checks.replace('|', "\\|");
        let _ = writeln!(
            out,
            "| `{}` | {} | {checks} | {} | {} | {guard} | {} | {} |",
            p.name,
            p.title,
            binds(p),
            dedupe_source(p),
            p.evidence.label(),
            p.docs
        );
    }
    let gaps = not_built_in();
    let names: Vec<String> = gaps.iter().map(|(n, _)| format!("`{n}`")).collect();
    let _ = write!(
        out,
        "\nSenders that Hookdeck or ngrok verify and flowgate does not ({}): {}.\n",
        gaps.len(),
        names.join(", ")
    );
    out
}

/// What de-duplicates `p`'s webhooks: the delivery id's source, or "none".
pub fn dedupe_source(p: &Provider) -> String {
    let id = p.scheme().delivery_source().unwrap_or_else(|| "none".to_owned());
    match p.per_attempt_members() {
        [] => id,
        members => format!("{id} (body compared without {}: changed per attempt)", members.join(", ")),
    }
}

/// What `p`'s signature covers (README, Security model).
pub fn binds(p: &Provider) -> String {
    let parts = p.scheme().binds();
    if parts.is_empty() {
        "nothing (the same credential on every request)".to_owned()
    } else {
        parts.join(", ")
    }
}

/// Whether the replay guard applies to `p`, and if not, why.
pub fn replay_guard(p: &Provider) -> String {
    match p.replay_guard(&p.scheme()) {
        ReplayGuard::On => "on".to_owned(),
        ReplayGuard::Off(why) => format!("off: {why}"),
    }
}

/// Prints the catalogue as a table (`--markdown` for the README's form).
pub fn run(as_markdown: bool) -> ExitCode {
    use std::fmt::Write as _;
    let all = providers();
    let mut text = String::new();
    if as_markdown {
        text = markdown();
    } else {
        let _ =
            writeln!(text, "{} built-in senders (plus provider = \"custom\" for any other HMAC sender):\n", all.len());
        for p in all {
            let kind = p.scheme().kind();
            let _ = writeln!(text, "{:<18} {:<44} [{kind}; {}]", p.name, p.title, p.evidence.label());
            let _ = writeln!(text, "{:<18} {}", "", p.checks);
            let _ = writeln!(text, "{:<18} signature binds: {}", "", binds(p));
            let _ = writeln!(text, "{:<18} dedupe on: {}; replay guard: {}", "", dedupe_source(p), replay_guard(p));
            let _ = writeln!(text, "{:<18} {} (read {})", "", p.docs, p.docs_read);
        }
    }
    crate::emit(&text)
}

#[cfg(test)]
mod tests {
    use flowgate_core::verify::find_provider;

    use super::*;

    #[test]
    fn the_senders_listed_as_not_built_in_are_not_built_in() {
        let gaps = not_built_in();
        assert!(!gaps.is_empty());
        for (name, who) in &gaps {
            assert!(find_provider(name).is_none(), "{name} is built in now: remove it from not_built_in.txt");
            assert!(
                who.split(',').all(|w| matches!(w, "hookdeck" | "ngrok")),
                "{name}: who verifies it is hookdeck and/or ngrok, got {who:?}"
            );
        }
        let mut sorted: Vec<_> = gaps.iter().map(|(n, _)| *n).collect();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted, gaps.iter().map(|(n, _)| *n).collect::<Vec<_>>(), "sorted, once each");
    }

    /// README's provider table and comparison line are what
    /// `flowgate providers --markdown` prints: regenerate them with it.
    #[test]
    fn readme_shows_the_markdown_listing() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
        assert!(
            readme.contains(&markdown()),
            "README.md's provider table is stale: paste `flowgate providers --markdown` into its Providers section"
        );
    }
}
