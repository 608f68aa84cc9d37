//! `cargo bench --bench swarm`: the same application deployed to a real three-node swarm (the
//! test suite's cluster: three `dockerd` in network namespaces and a registry) by
//! `docker stack deploy` of a compose file, and by `stackr up --target swarm --wait` of the
//! stack file that `stackr import` made of that compose file. Side by side, in one run: the
//! time until every service is converged, whether the dependency order was kept (read from the
//! swarm's own task times), and what each tool said it dropped.
//!
//! The application: db (an exec health check, 2 s to become ready), migrate (a one-shot that
//! waits for db to be healthy), api (3 replicas, a health check, a secret with owner and
//! mode, on an internal network beside db), web (2 replicas, a port on the nodes, after api
//! is healthy). Runs as root (namespaces, a bridge, a firewall rule), as the tests do.

// A benchmark reports what it measured on the terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

#[path = "../tests/it/cluster.rs"]
#[allow(dead_code)]
mod cluster;

/// What the cluster harness takes from the test suite's support module.
mod support {
    static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());

    pub fn heavy_turn() -> std::sync::MutexGuard<'static, ()> {
        HEAVY
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

use cluster::{Cluster, Node, nanos};

fn compose(registry: &str) -> String {
    format!(
        r#"services:
  db:
    image: {registry}/bench-box:1
    command: ["sh", "-c", "sleep 2; touch /ready; exec sleep 100000"]
    stop_grace_period: 1s
    healthcheck:
      test: ["CMD", "test", "-f", "/ready"]
      interval: 1s
    networks: [back]
  migrate:
    image: {registry}/bench-box:1
    command: ["sh", "-c", "echo migrated; sleep 1"]
    depends_on:
      db:
        condition: service_healthy
    deploy:
      restart_policy:
        condition: none
    networks: [back]
  api:
    image: {registry}/bench-box:1
    command: ["sh", "-c", "mkdir -p /www && echo ok > /www/health && exec httpd -f -p 8000 -h /www"]
    stop_grace_period: 1s
    healthcheck:
      test: ["CMD", "test", "-f", "/www/health"]
      interval: 1s
    deploy:
      replicas: 3
    secrets:
      - source: token
        uid: "1000"
        gid: "1000"
        mode: 0400
    depends_on:
      migrate:
        condition: service_completed_successfully
      db:
        condition: service_healthy
    networks: [back, default]
  web:
    image: {registry}/bench-box:1
    command: ["sh", "-c", "mkdir -p /www && echo web > /www/index.html && exec httpd -f -p 80 -h /www"]
    stop_grace_period: 1s
    deploy:
      replicas: 2
      endpoint_mode: dnsrr
    ports:
      - target: 80
        published: 18090
        mode: host
    depends_on:
      api:
        condition: service_healthy
secrets:
  token:
    file: ./token.txt
networks:
  back:
    internal: true
"#
    )
}

/// The compose file with each long-form `depends_on` as the v3 list of the same services.
fn v3(text: &str) -> String {
    let mut out = String::new();
    let mut in_deps = false;
    for line in text.lines() {
        if line.trim() == "depends_on:" {
            in_deps = true;
            out.push_str(line);
            out.push('\n');
            continue;
        }
        if in_deps {
            let indent = line.len() - line.trim_start().len();
            if indent == 6 && line.trim_end().ends_with(':') {
                out.push_str(&format!("      - {}\n", line.trim().trim_end_matches(':')));
                continue;
            }
            if indent >= 8 {
                continue;
            }
            in_deps = false;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn stackr(dir: &Path, manager: &Node, args: &[&str]) -> (bool, String, String) {
    run(Command::new(env!("CARGO_BIN_EXE_stackr"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("DOCKER_HOST", manager.host()))
}

/// `(state, created, changed)` of each task of a service.
fn tasks(manager: &Node, service: &str) -> Vec<(String, i128, i128)> {
    let (_, ids, _) = run(Command::new("docker").args([
        "-H",
        &manager.host(),
        "service",
        "ps",
        "-q",
        "--no-trunc",
        service,
    ]));
    ids.lines()
        .filter(|l| !l.is_empty())
        .filter_map(|id| {
            let (_, line, _) = run(Command::new("docker").args([
                "-H",
                &manager.host(),
                "inspect",
                "--format",
                "{{.Status.State}}|{{json .CreatedAt}}|{{json .Status.Timestamp}}",
                id,
            ]));
            let f: Vec<&str> = line.trim().split('|').collect();
            Some((f.first()?.to_string(), nanos(f.get(1)?), nanos(f.get(2)?)))
        })
        .collect()
}

/// Whether each dependent's first task was created after its dependency met its condition.
fn order_kept(manager: &Node, stack: &str) -> Vec<(String, bool)> {
    let t = |s: &str| tasks(manager, &format!("{stack}_{s}"));
    let ready = |ts: &[(String, i128, i128)], state: &str| {
        ts.iter()
            .filter(|(s, _, _)| s == state)
            .map(|(_, _, c)| *c)
            .max()
            .unwrap_or(i128::MAX)
    };
    let first = |ts: &[(String, i128, i128)]| ts.iter().map(|(_, c, _)| *c).min().unwrap_or(0);
    let (db, migrate, api, web) = (t("db"), t("migrate"), t("api"), t("web"));
    vec![
        (
            "migrate after db healthy".into(),
            ready(&db, "running") <= first(&migrate),
        ),
        (
            "api after migrate completed".into(),
            ready(&migrate, "complete") <= first(&api),
        ),
        (
            "web after api healthy".into(),
            ready(&api, "running") <= first(&web),
        ),
    ]
}

/// Waits until every service of `stack` runs all its replicas, or, for a one-shot (a job, or
/// a service with restart condition `none` as `docker stack deploy` makes it), completed them.
fn converged(manager: &Node, stack: &str, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        let (_, out, _) = run(Command::new("docker").args([
            "-H",
            &manager.host(),
            "service",
            "ls",
            "--filter",
            &format!("name={stack}_"),
            "--format",
            "{{.Name}} {{.Replicas}}",
        ]));
        let lines: Vec<&str> = out
            .lines()
            .filter(|l| !l.contains("stackr-probe"))
            .collect();
        let done = lines.len() == 4
            && lines.iter().all(|l| {
                let mut f = l.split_whitespace();
                let (name, replicas) = (f.next().unwrap_or(""), f.next().unwrap_or(""));
                let (a, b) = replicas.split_once('/').unwrap_or(("0", "1"));
                let wanted: usize = b.parse().unwrap_or(1);
                let complete = tasks(manager, name)
                    .iter()
                    .filter(|(s, _, _)| s == "complete")
                    .count();
                (a == b && wanted > 0) || complete >= wanted
            });
        if done {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn main() {
    let c = Cluster::start("bench");
    let manager = c.manager();
    let dir = c.dir.join("work");
    std::fs::create_dir_all(dir.join("img")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::copy("/usr/bin/busybox", dir.join("img/busybox"))
        .or_else(|_| std::fs::copy("/bin/busybox", dir.join("img/busybox")))
        .unwrap_or_else(|e| panic!("busybox-static is needed: {e}"));
    std::fs::write(
        dir.join("img/Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("token.txt"), "bench-token").unwrap_or_else(|e| panic!("{e}"));
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(
        dir.join("token.txt"),
        std::fs::Permissions::from_mode(0o600),
    );
    // docker stack deploy cannot build: the image is in the registry for both.
    let image = format!("{}/bench-box:1", c.registry);
    manager.must(&[
        "build",
        "-q",
        "-t",
        &image,
        &dir.join("img").display().to_string(),
    ]);
    manager.must(&["push", &image]);
    std::fs::write(dir.join("compose.yml"), compose(&c.registry)).unwrap_or_else(|e| panic!("{e}"));
    // `docker stack deploy` speaks only the v3 format, which refuses the long form of
    // `depends_on`: its copy lists the same dependencies without their conditions (which it
    // would ignore anyway).
    std::fs::write(dir.join("compose-v3.yml"), v3(&compose(&c.registry)))
        .unwrap_or_else(|e| panic!("{e}"));
    let (ok, _, report) = stackr(
        &dir,
        manager,
        &[
            "import",
            "--target",
            "swarm",
            "compose.yml",
            "-o",
            "stack.kdl",
        ],
    );
    assert!(ok, "import: {report}");

    let limit = Duration::from_secs(300);
    let start = Instant::now();
    let (ok, _, dropped_docker) = run(Command::new("docker").args([
        "-H",
        &manager.host(),
        "stack",
        "deploy",
        "-c",
        &dir.join("compose-v3.yml").display().to_string(),
        "cmp",
    ]));
    assert!(ok, "docker stack deploy: {dropped_docker}");
    let docker_converged = converged(manager, "cmp", limit);
    let docker_took = start.elapsed();
    let docker_order = order_kept(manager, "cmp");
    manager.must(&["stack", "rm", "cmp"]);

    let start = Instant::now();
    let (ok, _, said) = stackr(&dir, manager, &["-p", "stk", "up", "--wait"]);
    let stackr_took = start.elapsed();
    assert!(ok, "stackr up: {said}");
    let stackr_order = order_kept(manager, "stk");

    println!("the same application on a three-node swarm (one run):");
    println!(
        "  docker stack deploy: {} after {:.1} s",
        if docker_converged {
            "converged"
        } else {
            "NOT converged"
        },
        docker_took.as_secs_f64()
    );
    for (what, kept) in &docker_order {
        println!("    {what}: {}", if *kept { "kept" } else { "NOT kept" });
    }
    println!(
        "    said: {}",
        dropped_docker.trim().replace('\n', "\n          ")
    );
    println!(
        "  stackr up --target swarm --wait: converged after {:.1} s ({:.2}x docker's time)",
        stackr_took.as_secs_f64(),
        stackr_took.as_secs_f64() / docker_took.as_secs_f64().max(0.001)
    );
    for (what, kept) in &stackr_order {
        println!("    {what}: {}", if *kept { "kept" } else { "NOT kept" });
    }
    println!(
        "    import said: {}",
        report.trim().replace('\n', "\n                 ")
    );
}
