//! `cargo bench --bench rolling`: a start-first rolling update of 1, 2 and 4 replicas behind a
//! health check, against the real engine. `STACKR_BENCH_RUNS` updates per count (3 when
//! unset); medians are shown. `STACKR_BENCH_PHASES=1` also prints each batch's phases.
//!
//! Goal (issue "Production on one host"): stackr's overhead over the health checks' own time
//! is under 200 ms per batch. Both are read from the engine's own clock (its events), for
//! each batch: from the new container's `create` to its `rename` (the batch, as stackr runs
//! it) next to from its `start` to its `health_status: healthy` (the check's own time, which
//! no tool can shorten). The peer is the engine driven directly through its API (bollard,
//! no tool in between) doing the same replace: create the new container, start it, wait for
//! its healthy event, stop and remove the old one, rename the new one; its batches are read
//! from the same events. Both use the same exec health check every 250 ms. stackr's overhead
//! per batch is its batch less the direct one (the engine's create, start, stop and remove
//! are in both).

// A benchmark reports what it measured on the terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

mod common;

use common::median;
use stackr_docker::DockerEngine;
use stackr_engine::{
    ContainerSpec, Engine, HealthSpec, LABEL_STACK, NetworkAttachment, NetworkSpec,
};

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
        exec "/stackr-demo" "check" "http://127.0.0.1:8080/health"
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
        .filter_map(|[c, s, h, r]| {
            if std::env::var_os("STACKR_BENCH_PHASES").is_some() {
                println!(
                    "  create->start {:?}, start->healthy {:?}, healthy->rename {:?}",
                    ns((*s)? - (*c)?),
                    ns((*h)? - (*s)?),
                    ns((*r)? - (*h)?)
                );
            }
            Some((ns((*r)? - (*c)?), ns((*h)? - (*s)?)))
        })
        .collect()
}

/// A container of the direct baseline: what the stack file's service asks for, by hand.
fn direct_spec(name: &str, net: &str, slot: usize, version: usize) -> ContainerSpec {
    ContainerSpec {
        name: format!("{name}-api-{slot}-next"),
        image: IMAGE.into(),
        labels: BTreeMap::from([(LABEL_STACK.to_string(), name.to_string())]),
        command: Some(vec!["version".into(), "8080".into()]),
        env: vec![format!("VERSION={version}")],
        health: Some(HealthSpec {
            test: vec![
                "CMD".into(),
                "/stackr-demo".into(),
                "check".into(),
                "http://127.0.0.1:8080/health".into(),
            ],
            interval: Some(Duration::from_millis(250)),
            timeout: None,
            retries: None,
            start_period: None,
            start_interval: None,
        }),
        networks: vec![NetworkAttachment {
            network: net.into(),
            network_id: None,
            aliases: vec!["api".into()],
            ipv4_address: None,
            ipv6_address: None,
            ..NetworkAttachment::default()
        }],
        restart: "no".into(),
        stop_timeout: Some(Duration::from_secs(2)),
        ..ContainerSpec::default()
    }
}

/// Waits for a container's healthy event.
async fn healthy(
    events: &mut futures::stream::BoxStream<'static, stackr_engine::Result<stackr_engine::Event>>,
    id: &str,
) {
    use futures::StreamExt;
    while let Some(ev) = events.next().await {
        let ev = ev.unwrap_or_else(|e| panic!("{e}"));
        if ev.container_id == id
            && ev.kind == stackr_engine::EventKind::Health(stackr_engine::HealthState::Healthy)
        {
            return;
        }
    }
    panic!("the event stream ended");
}

/// One slot replaced start-first, straight through the API.
async fn direct_replace(
    engine: &DockerEngine,
    events: &mut futures::stream::BoxStream<'static, stackr_engine::Result<stackr_engine::Event>>,
    spec: &ContainerSpec,
    old: Option<&str>,
    final_name: &str,
) -> String {
    let id = engine
        .create_container(spec)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .id;
    engine
        .start_container(&id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    healthy(events, &id).await;
    if let Some(old) = old {
        engine
            .stop_container(old, Some(Duration::from_secs(2)))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        engine
            .remove_container(old)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    engine
        .rename_container(&id, final_name)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    id
}

/// The direct baseline for `replicas`: brought up, then updated `runs()` times, one replica
/// at a time. Returns its batches as the engine's events show them.
async fn direct(engine: &DockerEngine, name: &str, replicas: usize) -> Vec<(Duration, Duration)> {
    let net = format!("{name}_default");
    engine
        .create_network(&NetworkSpec {
            name: net.clone(),
            driver: None,
            internal: false,
            attachable: false,
            labels: BTreeMap::from([(LABEL_STACK.to_string(), name.to_string())]),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut events = engine.events(name).await.unwrap_or_else(|e| panic!("{e}"));
    let mut ids: Vec<String> = Vec::new();
    for slot in 1..=replicas {
        let spec = direct_spec(name, &net, slot, 0);
        let final_name = format!("{name}-api-{slot}");
        ids.push(direct_replace(engine, &mut events, &spec, None, &final_name).await);
    }
    let mut found = Vec::new();
    for run in 1..=runs() {
        let since = engine_now() - 1_000_000_000;
        for slot in 1..=replicas {
            let spec = direct_spec(name, &net, slot, run);
            let final_name = format!("{name}-api-{slot}");
            let old = ids[slot - 1].clone();
            ids[slot - 1] =
                direct_replace(engine, &mut events, &spec, Some(&old), &final_name).await;
        }
        found.extend(batches(name, since));
    }
    found
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
    let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    let engine = rt
        .block_on(DockerEngine::connect())
        .unwrap_or_else(|e| panic!("{e}"));
    println!(
        "{:>8}  {:>9}  {:>12}  {:>13}  {:>13}  {:>17}  {:>6}",
        "replicas",
        "stackr up",
        "stackr batch",
        "direct batch",
        "health check",
        "overhead / batch",
        "ratio"
    );
    let mut worst = Duration::ZERO;
    for replicas in [1usize, 2, 4] {
        let name = format!("stackr-bench-rolling-{replicas}-{}", std::process::id());
        clean(&name);
        std::fs::write(dir.join("stack.kdl"), stack_kdl(&name, replicas, 0))
            .unwrap_or_else(|e| panic!("{e}"));
        stackr(&dir, &["up", "-d", "--wait"]);
        let (mut ups, mut batch, mut health) = (vec![], vec![], vec![]);
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
            }
        }
        clean(&name);
        let direct_name = format!("{name}-direct");
        clean(&direct_name);
        let direct: Vec<Duration> = rt
            .block_on(direct(&engine, &direct_name, replicas))
            .into_iter()
            .map(|(b, _)| b)
            .collect();
        clean(&direct_name);
        let (b, d) = (median(batch), median(direct));
        let o = b.saturating_sub(d);
        worst = worst.max(o);
        println!(
            "{replicas:>8}  {:>6} ms  {:>9} ms  {:>10} ms  {:>10} ms  {:>14} ms  {:>5.2}x",
            median(ups).as_millis(),
            b.as_millis(),
            d.as_millis(),
            median(health).as_millis(),
            o.as_millis(),
            b.as_secs_f64() / d.as_secs_f64(),
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "goal: overhead over the engine driven directly under 200 ms per batch: {} (worst {} ms)",
        if worst < Duration::from_millis(200) {
            "met"
        } else {
            "NOT met"
        },
        worst.as_millis()
    );
}
