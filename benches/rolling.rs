//! `cargo bench --bench rolling`: a start-first rolling update of 1, 2 and 4 replicas behind a
//! native http health check, against the real engine. `STACKR_BENCH_RUNS` updates per count
//! (3 when unset); medians are shown.
//!
//! Goal (issue "Production on one host"): stackr's overhead over the health checks' own time
//! is under 200 ms per batch. Both are read from the engine's own clock (its events), for
//! each batch: from the new container's `create` to its `rename` (the batch, as stackr runs
//! it) next to from its `start` to its `health_status: healthy` (the check's own time, which
//! no tool can shorten). The peer is the engine itself: what is left is stackr's.

// A benchmark reports what it measured on the terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

mod common;

use common::median;

const IMAGE: &str = "stackr-bench-demo:rolling";

fn runs() -> usize {
    std::env::var("STACKR_BENCH_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3)
}

fn stack_kdl(name: &str, replicas: usize, version: usize) -> String {
    format!(
        r#"
stack "{name}"
service "api" {{
    image "{IMAGE}"
    command "version" "8080"
    env VERSION="{version}"
    scale {replicas}
    stop-grace-period "2s"
    health {{
        http port=8080 path="/health"
        interval "250ms"
    }}
}}
"#
    )
}

fn clean(name: &str) {
    let filter = format!("label=io.stackr.stack={name}");
    for id in common::docker(&["ps", "-aq", "--filter", &filter]).lines() {
        common::docker(&["rm", "-f", "-v", id]);
    }
    for id in common::docker(&["network", "ls", "-q", "--filter", &filter]).lines() {
        common::docker(&["network", "rm", id]);
    }
    for v in common::docker(&["volume", "ls", "-q", "--filter", &filter]).lines() {
        common::docker(&["volume", "rm", "-f", v]);
    }
}

fn stackr(dir: &std::path::Path, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_stackr"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run stackr: {e}"));
    assert!(
        out.status.success(),
        "stackr {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Now, in nanoseconds: the engine runs on this machine, so its events use this clock.
fn engine_now() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

/// Per batch (by its new container's final name): (the batch, the health check's own time).
fn batches(name: &str, since: i128) -> Vec<(Duration, Duration)> {
    let until = engine_now() + 1_000_000_000;
    let text = common::docker(&[
        "events",
        "--since",
        &format!("{}.{:09}", since / 1_000_000_000, since % 1_000_000_000),
        "--until",
        &format!("{}.{:09}", until / 1_000_000_000, until % 1_000_000_000),
        "--filter",
        &format!("label=io.stackr.stack={name}"),
        "--format",
        "{{.TimeNano}} {{.Action}} {{.Actor.Attributes.name}}",
    ]);
    // Container name → (create, start, healthy, rename) times.
    let mut seen: BTreeMap<String, [Option<i128>; 4]> = BTreeMap::new();
    for line in text.lines() {
        let mut parts = line.splitn(2, ' ');
        let (Some(t), Some(rest)) = (parts.next(), parts.next()) else {
            continue;
        };
        let Ok(t) = t.parse::<i128>() else { continue };
        let Some((action, who)) = rest.rsplit_once(' ') else {
            continue;
        };
        let slot = match action {
            "create" => 0,
            "start" => 1,
            "health_status: healthy" => 2,
            "rename" => 3,
            _ => continue,
        };
        // Renamed: the event names the container by its new name.
        let key = who.trim_end_matches("-next").to_string();
        let entry = seen.entry(key).or_default();
        if entry[slot].is_none() && (slot == 3 || who.ends_with("-next")) {
            entry[slot] = Some(t);
        }
    }
    let ns = |d: i128| Duration::from_nanos(d.max(0) as u64);
    seen.values()
        .filter_map(|[c, s, h, r]| Some((ns((*r)? - (*c)?), ns((*h)? - (*s)?))))
        .collect()
}

fn main() {
    let dir = std::env::temp_dir().join(format!("stackr-bench-rolling-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    common::demo_image(&dir, IMAGE);
    println!(
        "start-first rolling updates, {} runs per count (medians)",
        runs()
    );
    println!(
        "{:>8}  {:>10}  {:>12}  {:>14}  {:>18}",
        "replicas", "up", "batch", "health check", "overhead / batch"
    );
    let mut worst = Duration::ZERO;
    for replicas in [1usize, 2, 4] {
        let name = format!("stackr-bench-rolling-{replicas}-{}", std::process::id());
        clean(&name);
        std::fs::write(dir.join("stack.kdl"), stack_kdl(&name, replicas, 0))
            .unwrap_or_else(|e| panic!("{e}"));
        stackr(&dir, &["up", "-d", "--wait"]);
        let (mut ups, mut batch, mut health, mut overhead) = (vec![], vec![], vec![], vec![]);
        for run in 1..=runs() {
            std::fs::write(dir.join("stack.kdl"), stack_kdl(&name, replicas, run))
                .unwrap_or_else(|e| panic!("{e}"));
            let since = engine_now() - 1_000_000_000;
            let t = Instant::now();
            stackr(&dir, &["up", "-d"]);
            ups.push(t.elapsed());
            let found = batches(&name, since);
            assert_eq!(found.len(), replicas, "one batch per replica: {found:?}");
            for (b, h) in found {
                batch.push(b);
                health.push(h);
                overhead.push(b.saturating_sub(h));
            }
        }
        clean(&name);
        let o = median(overhead);
        worst = worst.max(o);
        println!(
            "{replicas:>8}  {:>8} ms  {:>9} ms  {:>11} ms  {:>15} ms",
            median(ups).as_millis(),
            median(batch).as_millis(),
            median(health).as_millis(),
            o.as_millis(),
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "goal: overhead under 200 ms per batch: {} (worst median {} ms)",
        if worst < Duration::from_millis(200) {
            "met"
        } else {
            "NOT met"
        },
        worst.as_millis()
    );
}
