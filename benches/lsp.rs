//! `cargo bench --bench lsp`: how long `stackr lsp` takes to answer as the user types, on the
//! real binary over stdio, next to a whole `stackr check` process on the same file (the
//! ratio is measured in the same run; no editor's server for compose files can run offline
//! here to be the peer).
//!
//! Goal (issue "editor support"): on a 1,000-service file, the diagnostics after a change
//! arrive in under 100 ms (p99), the 10 ms the server waits for more typing included; a
//! completion answers in under 100 ms. The 50-service figures are printed beside them.

// A benchmark reports what it measured on the terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

mod common;
#[path = "../tests/it/lsp_client.rs"]
mod lsp_client;

use common::{median, stack_kdl};
use lsp_client::Server;

/// Changes measured per size.
const CHANGES: usize = 200;

/// The p-th percentile of some timings.
fn percentile(mut xs: Vec<Duration>, p: f64) -> Duration {
    xs.sort();
    let i = ((xs.len() as f64 - 1.0) * p).round() as usize;
    xs[i.min(xs.len() - 1)]
}

/// A generated stack with two profiles that change some services, as real ones do.
fn stack(n: usize) -> String {
    let mut s = stack_kdl(n);
    s.push_str("profile \"dev\" {\n");
    for i in (0..n).step_by(10) {
        s.push_str(&format!(
            "    service \"svc{i}\" {{\n        env DEBUG=\"1\"\n    }}\n"
        ));
    }
    s.push_str("}\nprofile \"prod\" {\n");
    for i in (0..n).step_by(10) {
        s.push_str(&format!(
            "    service \"svc{i}\" {{\n        env LOG_LEVEL=\"warn\"\n    }}\n"
        ));
    }
    s.push_str("}\n");
    s
}

struct Figures {
    diagnostics: (Duration, Duration),
    completion: (Duration, Duration),
    check: Duration,
}

fn measure(n: usize) -> Figures {
    let dir = std::env::temp_dir().join(format!("stackr-bench-lsp-{n}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let path = dir.join("stack.kdl");
    let text = stack(n);
    std::fs::write(&path, &text).unwrap_or_else(|e| panic!("{e}"));
    let uri = format!("file://{}", path.display());
    let mut s = Server::start(&dir, Duration::from_secs(60));
    s.initialize(json!({}));
    s.open(&uri, &text);
    s.wait(|m| m["method"] == "textDocument/publishDiagnostics");
    let mut diagnostics = Vec::new();
    let mut completion = Vec::new();
    // The line of the middle service's image, as the user edits it.
    let needle = format!("image \"app{}:1.{}\"", n / 2, n / 2);
    let at = text.find(&needle).unwrap_or(0);
    let line = text[..at].matches('\n').count();
    for i in 0..CHANGES {
        // A typo every other change, fixed by the next: the diagnostics differ each time.
        let changed = if i % 2 == 0 {
            text.replacen(&needle, &format!("imag \"app:{i}\""), 1)
        } else {
            text.replacen(&needle, &format!("image \"app:{i}\""), 1)
        };
        let started = Instant::now();
        s.change(&uri, i as i64 + 2, &changed);
        let published = s.wait(|m| m["method"] == "textDocument/publishDiagnostics");
        diagnostics.push(started.elapsed());
        let count = published["params"]["diagnostics"]
            .as_array()
            .map_or(0, Vec::len);
        assert_eq!(count, usize::from(i % 2 == 0), "{published}");
        let started = Instant::now();
        let id = 100 + i as i64;
        let answer = s.request(
            id,
            "textDocument/completion",
            json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": 4}}),
        );
        completion.push(started.elapsed());
        assert!(
            answer["result"].as_array().is_some_and(|a| !a.is_empty()),
            "{answer}"
        );
    }
    let mut checks = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_stackr"))
            .arg("check")
            .current_dir(&dir)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        checks.push(started.elapsed());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Figures {
        diagnostics: (
            percentile(diagnostics.clone(), 0.5),
            percentile(diagnostics, 0.99),
        ),
        completion: (
            percentile(completion.clone(), 0.5),
            percentile(completion, 0.99),
        ),
        check: median(checks),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    println!("stackr lsp: {CHANGES} changes per file, on the real binary over stdio");
    println!(
        "{:>9} {:>14} {:>14} {:>14} {:>14} {:>12} {:>10}",
        "services",
        "diag p50 ms",
        "diag p99 ms",
        "compl p50 ms",
        "compl p99 ms",
        "check ms",
        "p50/check"
    );
    let mut goal = true;
    for n in [50, 1000] {
        let f = measure(n);
        println!(
            "{n:>9} {:>14.1} {:>14.1} {:>14.1} {:>14.1} {:>12.1} {:>10.2}",
            ms(f.diagnostics.0),
            ms(f.diagnostics.1),
            ms(f.completion.0),
            ms(f.completion.1),
            ms(f.check),
            ms(f.diagnostics.0) / ms(f.check),
        );
        if n == 1000 {
            goal = f.diagnostics.1 < Duration::from_millis(100)
                && f.completion.1 < Duration::from_millis(100);
        }
    }
    println!(
        "goal (1,000 services: diagnostics and completion under 100 ms at p99): {}",
        if goal { "met" } else { "NOT met" }
    );
}
