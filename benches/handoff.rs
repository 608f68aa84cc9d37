//! `cargo bench --bench handoff`: how fast a dependent starts once its dependency is healthy.
//!
//! A chain a -> b -> c (each waits for the previous one to be `healthy`), run 10 times. Two
//! numbers per edge:
//! - stackr's own hand-off: from the engine's `health_status: healthy` event (its time) to
//!   stackr's start request for the dependent (its `container-starting` JSON event). Goal:
//!   under 50 ms (compose polls every 500 ms).
//! - engine to engine: from the healthy event to the dependent's `start` event, as
//!   `docker events` shows it, for stackr and, where installed, for docker-compose in the same
//!   run. This includes the engine's own start time (about 190 ms here).

// A benchmark reports what it measured on the terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::Command;
use std::time::Duration;

mod common;

use common::docker;

const IMAGE: &str = "stackr-bench-busybox:1";
const RUNS: usize = 10;

const CMD: &str = "trap 'exit 0' TERM; while true; do sleep 0.2; done";

fn stack_kdl(name: &str) -> String {
    let mut s = format!("stack \"{name}\"\n");
    for (svc, dep) in [("a", None), ("b", Some("a")), ("c", Some("b"))] {
        s.push_str(&format!(
            "service \"{svc}\" {{\n    image \"{IMAGE}\"\n    command \"sh\" \"-c\" \"{CMD}\"\n    health {{\n        exec \"true\"\n        interval \"100ms\"\n        timeout \"1s\"\n    }}\n"
        ));
        if let Some(d) = dep {
            s.push_str(&format!("    depends-on \"{d}\" condition=\"healthy\"\n"));
        }
        s.push_str("}\n");
    }
    s
}

fn compose_yaml() -> String {
    let mut s = String::from("services:\n");
    for (svc, dep) in [("a", None), ("b", Some("a")), ("c", Some("b"))] {
        s.push_str(&format!(
            "  {svc}:\n    image: {IMAGE}\n    command: [\"sh\", \"-c\", \"{}\"]\n    healthcheck:\n      test: [\"CMD\", \"true\"]\n      interval: 100ms\n      timeout: 1s\n",
            CMD.replace('$', "$$")
        ));
        if let Some(d) = dep {
            s.push_str(&format!(
                "    depends_on:\n      {d}:\n        condition: service_healthy\n"
            ));
        }
    }
    s
}

/// (action, container name, time ns) of a label's containers since `since` (seconds).
fn events(filter: &str, since: u64) -> Vec<(String, String, i128)> {
    let until = unix() + 1;
    docker(&[
        "events",
        "--since",
        &since.to_string(),
        "--until",
        &until.to_string(),
        "--filter",
        filter,
        "--format",
        "{{.Action}}\t{{.Actor.Attributes.name}}\t{{.TimeNano}}",
    ])
    .lines()
    .filter_map(|l| {
        let mut p = l.split('\t');
        Some((
            p.next()?.to_string(),
            p.next()?.to_string(),
            p.next()?.parse().ok()?,
        ))
    })
    .collect()
}

fn unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Healthy event of `dep` to start event of `svc`, in ms.
fn engine_handoffs(evs: &[(String, String, i128)], prefix: &str, sep: char) -> Vec<f64> {
    let find = |action: &str, svc: &str| {
        evs.iter()
            .find(|(a, n, _)| a == action && n.starts_with(&format!("{prefix}{sep}{svc}{sep}")))
            .map(|(_, _, t)| *t)
    };
    [("a", "b"), ("b", "c")]
        .iter()
        .filter_map(|(dep, svc)| {
            let h = find("health_status: healthy", dep)?;
            let s = find("start", svc)?;
            Some((s - h) as f64 / 1e6)
        })
        .collect()
}

fn stats(mut xs: Vec<f64>) -> String {
    if xs.is_empty() {
        return "no data".into();
    }
    xs.sort_by(f64::total_cmp);
    format!(
        "p50 {:.1} ms, max {:.1} ms ({} edges)",
        xs[xs.len() / 2],
        xs[xs.len() - 1],
        xs.len()
    )
}

fn main() {
    let stackr = env!("CARGO_BIN_EXE_stackr");
    let dir = std::env::temp_dir().join(format!("stackr-bench-handoff-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    common::busybox_image(&dir, IMAGE);
    let name = format!("stackr-handoff-{}", std::process::id());
    std::fs::write(dir.join("stack.kdl"), stack_kdl(&name)).unwrap_or_else(|e| panic!("{e}"));
    let mut own = Vec::new();
    let mut engine = Vec::new();
    for _ in 0..RUNS {
        let since = unix().saturating_sub(1);
        let out = Command::new(stackr)
            .args(["up", "-d", "--format", "json"])
            .current_dir(&dir)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        for (dep, svc) in [("a", "b"), ("b", "c")] {
            let healthy = lines
                .iter()
                .find(|e| e["event"] == "container-healthy" && e["service"] == dep)
                .and_then(|e| e["engine_time_ms"].as_f64());
            let starting = lines
                .iter()
                .find(|e| e["event"] == "container-starting" && e["service"] == svc)
                .and_then(|e| e["time_ms"].as_f64());
            if let (Some(h), Some(s)) = (healthy, starting) {
                own.push(s - h);
            }
        }
        std::thread::sleep(Duration::from_millis(300));
        engine.extend(engine_handoffs(
            &events(&format!("label=io.stackr.stack={name}"), since),
            &name,
            '-',
        ));
        let _ = Command::new(stackr)
            .args(["down", "-t", "1"])
            .current_dir(&dir)
            .output();
    }
    println!("healthy chain a -> b -> c, {RUNS} runs");
    println!(
        "stackr, healthy event -> start request: {} (goal p50 < 50 ms)",
        stats(own)
    );
    println!(
        "stackr, healthy event -> start event:   {}",
        stats(engine.clone())
    );

    let compose = Command::new("docker-compose")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if compose {
        std::fs::write(dir.join("docker-compose.yml"), compose_yaml())
            .unwrap_or_else(|e| panic!("{e}"));
        let project = format!("{name}c");
        let mut theirs = Vec::new();
        for _ in 0..RUNS / 2 {
            let since = unix().saturating_sub(1);
            let _ = Command::new("docker-compose")
                .args(["-p", &project, "up", "-d"])
                .current_dir(&dir)
                .output();
            std::thread::sleep(Duration::from_millis(300));
            // docker-compose 1.x names containers {project}_{service}_1.
            theirs.extend(engine_handoffs(
                &events(
                    &format!("label=com.docker.compose.project={project}"),
                    since,
                ),
                &project,
                '_',
            ));
            let _ = Command::new("docker-compose")
                .args(["-p", &project, "down", "-t", "1"])
                .current_dir(&dir)
                .output();
        }
        let ours = stats(engine);
        println!(
            "docker-compose, healthy event -> start event: {} (stackr: {ours})",
            stats(theirs)
        );
    } else {
        println!("docker-compose is not installed: no side-by-side numbers");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
