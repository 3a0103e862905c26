//! `flowgate providers`: the built-in senders, what is checked, the test
//! evidence and each sender's documentation.

use std::process::ExitCode;

use flowgate_core::verify::providers;

/// Prints the catalogue as a table (`--markdown` for the README's form).
pub fn run(markdown: bool) -> ExitCode {
    let all = providers();
    if markdown {
        println!("| provider | sender | what is checked | evidence | docs |");
        println!("|---|---|---|---|---|");
        for p in all {
            println!("| `{}` | {} | {} | {} | {} |", p.name, p.title, p.checks, p.evidence.label(), p.docs);
        }
    } else {
        println!("{} built-in senders (plus provider = \"custom\" for any other HMAC sender):\n", all.len());
        for p in all {
            let kind = p.scheme().kind();
            println!("{:<18} {:<44} [{kind}; {}]", p.name, p.title, p.evidence.label());
            println!("{:<18} {}", "", p.checks);
            println!("{:<18} {}", "", p.docs);
        }
    }
    ExitCode::SUCCESS
}
