//! `cargo bench --bench up`: `stackr up` on a 20-service stack (`STACKR_BENCH_SERVICES=100` for
//! more) against the real engine, next to the same containers created straight through the Docker
//! API at full parallelism, and next to `docker-compose` where it is installed, all in one run.
//!
//! Goals (issue "The reconciler as a library that survives faults"): a no-op `up` on a
//! converged 20-service stack under 30 ms and at least 10x faster than `docker-compose up -d`;
//! a cold `up -d` of 20 independent services within 1.1x of the straight-through API
//! baseline (1.2x before the lock moved to the engine); `down` at most half of
//! docker-compose's. `down` is also measured against the engine driven directly (every
//! container stopped and removed at once): that floor bounds what any tool can do.

// A benchmark reports what it measured on the terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::Command;
use std::time::{Duration, Instant};

mod common;

use common::median;
use stackr_docker::DockerEngine;
use stackr_engine::{ContainerSpec, Engine, LABEL_STACK, NetworkAttachment, NetworkSpec};

/// How many services: `STACKR_BENCH_SERVICES`, 20 when unset (the issue also asks for 100).
fn services() -> usize {
    std::env::var("STACKR_BENCH_SERVICES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20)
}
const IMAGE: &str = "stackr-bench-busybox:1";
const CMD: &str = "trap 'exit 0' TERM; while true; do sleep 1; done";

fn stack_kdl(name: &str) -> String {
    let mut s = format!("stack \"{name}\"\n");
    for i in 0..services() {
        s.push_str(&format!(
            "service \"s{i}\" {{\n    image \"{IMAGE}\"\n    command \"sh\" \"-c\" \"{CMD}\"\n    stop-grace-period \"2s\"\n}}\n"
        ));
    }
    s
}

fn compose_yaml() -> String {
    let mut s = String::from("services:\n");
    for i in 0..services() {
        s.push_str(&format!(
            "  s{i}:\n    image: {IMAGE}\n    command: [\"sh\", \"-c\", \"{}\"]\n    stop_grace_period: 2s\n",
            CMD.replace('$', "$$")
        ));
    }
    s
}

fn clean(label: &str) {
    let filter = format!("label={label}");
    for id in common::docker(&["ps", "-aq", "--filter", &filter]).lines() {
        common::docker(&["rm", "-f", id]);
    }
    for id in common::docker(&["network", "ls", "-q", "--filter", &filter]).lines() {
        common::docker(&["network", "rm", id]);
    }
}

fn timed(cmd: &mut Command) -> Duration {
    let t = Instant::now();
    let out = cmd.output().unwrap_or_else(|e| panic!("{e}"));
    let d = t.elapsed();
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
    d
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1e3)
}

/// The baseline: one network and `services()` containers created, then started, straight through the API,
/// everything in parallel.
async fn api_baseline(engine: &DockerEngine, name: &str) -> Duration {
    let labels = std::collections::BTreeMap::from([(LABEL_STACK.to_string(), name.to_string())]);
    let t = Instant::now();
    let net = format!("{name}_default");
    engine
        .create_network(&NetworkSpec {
            name: net.clone(),
            driver: None,
            internal: false,
            attachable: false,
            labels: labels.clone(),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let specs: Vec<ContainerSpec> = (0..services())
        .map(|i| ContainerSpec {
            name: format!("{name}-s{i}-1"),
            image: IMAGE.into(),
            labels: labels.clone(),
            command: Some(vec!["sh".into(), "-c".into(), CMD.into()]),
            networks: vec![NetworkAttachment {
                network: net.clone(),
                aliases: vec![format!("s{i}")],
                ipv4_address: None,
                ipv6_address: None,
                network_id: None,
                ..NetworkAttachment::default()
            }],
            restart: "no".into(),
            stop_timeout: Some(Duration::from_secs(2)),
            ..ContainerSpec::default()
        })
        .collect();
    let ids = futures::future::try_join_all(specs.iter().map(|s| engine.create_container(s)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    futures::future::try_join_all(ids.iter().map(|c| engine.start_container(&c.id)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    t.elapsed()
}

/// The baseline of `down`: every container of the stack stopped (2 s grace) and removed, all
/// at once, then its networks, straight through the API.
async fn api_down(engine: &DockerEngine, name: &str) -> Duration {
    let t = Instant::now();
    let list = engine
        .list_containers(name)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    futures::future::try_join_all(list.iter().map(|c| async move {
        engine
            .stop_container(&c.id, Some(Duration::from_secs(2)))
            .await?;
        engine.remove_container(&c.id).await
    }))
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    for n in engine
        .list_networks(name)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
    {
        engine
            .remove_network(&n.id)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    t.elapsed()
}

fn main() {
    let stackr = env!("CARGO_BIN_EXE_stackr");
    let dir = std::env::temp_dir().join(format!("stackr-bench-up-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    common::busybox_image(&dir, IMAGE);
    let name = format!("stackr-bench-{}", std::process::id());
    std::fs::write(dir.join("stack.kdl"), stack_kdl(&name)).unwrap_or_else(|e| panic!("{e}"));
    let label = format!("io.stackr.stack={name}");
    let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    let engine = rt
        .block_on(DockerEngine::connect())
        .unwrap_or_else(|e| panic!("{e}"));

    println!(
        "{} independent services, busybox FROM scratch, median of 3 runs",
        services()
    );
    let mut cold = Vec::new();
    let mut baseline = Vec::new();
    for _ in 0..3 {
        clean(&label);
        baseline.push(rt.block_on(api_baseline(&engine, &name)));
        clean(&label);
        cold.push(timed(
            Command::new(stackr).args(["up", "-d"]).current_dir(&dir),
        ));
        clean(&label);
    }
    let (cold, baseline) = (median(cold), median(baseline));
    println!(
        "cold up -d:   stackr {:>7}   straight API (all parallel) {:>7}   ratio {:.2}x (goal <= 1.1x)",
        ms(cold),
        ms(baseline),
        cold.as_secs_f64() / baseline.as_secs_f64()
    );
    timed(Command::new(stackr).args(["up", "-d"]).current_dir(&dir));
    let noop = median(
        (0..10)
            .map(|_| timed(Command::new(stackr).args(["up", "-d"]).current_dir(&dir)))
            .collect(),
    );
    println!("no-op up -d:  stackr {:>7} (goal < 30 ms)", ms(noop));
    let mut downs = Vec::new();
    let mut api_downs = Vec::new();
    for _ in 0..3 {
        downs.push(timed(
            Command::new(stackr)
                .args(["down", "-t", "2"])
                .current_dir(&dir),
        ));
        timed(Command::new(stackr).args(["up", "-d"]).current_dir(&dir));
        api_downs.push(rt.block_on(api_down(&engine, &name)));
        clean(&label);
        timed(Command::new(stackr).args(["up", "-d"]).current_dir(&dir));
    }
    let (down, api_down) = (median(downs), median(api_downs));
    println!(
        "down -t 2:    stackr {:>7}   straight API (all parallel) {:>7}   ratio {:.2}x",
        ms(down),
        ms(api_down),
        down.as_secs_f64() / api_down.as_secs_f64()
    );
    clean(&label);

    // docker-compose 1.29 stalls at 100 services on these machines (design notes): compared
    // up to 50.
    let compose = services() <= 50
        && Command::new("docker-compose")
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success());
    if compose {
        std::fs::write(dir.join("docker-compose.yml"), compose_yaml())
            .unwrap_or_else(|e| panic!("{e}"));
        let project = format!("{name}c");
        let dc = |args: &[&str]| {
            let mut c = Command::new("docker-compose");
            c.args(["-p", &project]).args(args).current_dir(&dir);
            c
        };
        let cold_c = timed(&mut dc(&["up", "-d"]));
        let noop_c = median((0..3).map(|_| timed(&mut dc(&["up", "-d"]))).collect());
        let down_c = median(
            (0..3)
                .map(|i| {
                    if i > 0 {
                        timed(&mut dc(&["up", "-d"]));
                    }
                    timed(&mut dc(&["down", "-t", "2"]))
                })
                .collect(),
        );
        println!(
            "docker-compose: cold up -d {:>7} (stackr {:.1}x faster); no-op up -d {:>7} (stackr {:.1}x faster, goal >= 10x)",
            ms(cold_c),
            cold_c.as_secs_f64() / cold.as_secs_f64(),
            ms(noop_c),
            noop_c.as_secs_f64() / noop.as_secs_f64()
        );
        println!(
            "docker-compose: down -t 2 {:>7} (stackr takes {:.2}x of it; the engine's own floor is {:.2}x of it)",
            ms(down_c),
            down.as_secs_f64() / down_c.as_secs_f64(),
            api_down.as_secs_f64() / down_c.as_secs_f64()
        );
    } else {
        println!(
            "docker-compose is not installed, or not compared above 50 services: no side-by-side numbers"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
