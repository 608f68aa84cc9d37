//! The Swarm target on a real three-node swarm of the test's own (`cluster.rs`): a stack with
//! an exec check, a completed one-shot, a scaled API with a native http probe, a secret with
//! its owner and mode on an internal overlay network, and a published web service comes up in
//! dependency order with `up --target swarm --wait`, spread over the nodes, and the next plan
//! is empty; a rotated secret updates only its users; a bad update is rolled back by Swarm and
//! `up` fails naming the service; a node that stops has its tasks rescheduled.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::cli::{Run, run};
use crate::cluster::{Cluster, Node, nanos};

fn stack_text(name: &str, registry: &str, api_health: &str) -> String {
    format!(
        r#"stack "{name}"
target "swarm"
network "back" internal=#true
secret "token" file="./token.txt" {{
    labels {{
        com.example.rotates "monthly"
    }}
}}
service "db" {{
    image "{registry}/{name}-box:1"
    build "./img"
    network "back"
    stop-grace-period "1s"
    command "sh" "-c" "sleep 2; touch /ready; exec sleep 100000"
    health {{
        exec "test" "-f" "/ready"
        interval "1s"
    }}
}}
service "migrate" {{
    image "{registry}/{name}-box:1"
    network "back"
    command "sh" "-c" "echo migrated; sleep 1"
    depends-on "db" condition="healthy"
}}
service "api" {{
    image "{registry}/{name}-box:1"
    scale 3
    network "back"
    network "default"
    stop-grace-period "1s"
    secret "token" uid=1000 gid=1000 mode=0o400
    command "sh" "-c" "mkdir -p /www && echo ok > /www/health && exec httpd -f -p 8000 -h /www"
    health {{
        http port=8000 path="{api_health}"
        interval "1s"
        retries 2
    }}
    depends-on "migrate" condition="completed"
    depends-on "db" condition="healthy"
}}
service "web" {{
    image "{registry}/{name}-box:1"
    scale 2
    port "18080:80" mode="host"
    endpoint-mode "dnsrr"
    stop-grace-period "1s"
    command "sh" "-c" "mkdir -p /www && echo web > /www/index.html && exec httpd -f -p 80 -h /www"
    depends-on "api" condition="healthy"
}}
"#
    )
}

struct Deployment {
    cluster: Cluster,
    dir: PathBuf,
    name: String,
}

impl Deployment {
    fn new(tag: &str) -> Deployment {
        let cluster = Cluster::start(tag);
        let name = format!("sw{tag}{}", std::process::id() % 10000);
        let dir = cluster.dir.join("stack");
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        crate::daemon::busybox_context(&dir);
        write_token(&dir, "first-token");
        let d = Deployment { cluster, dir, name };
        d.write("/health");
        d
    }

    fn write(&self, api_health: &str) {
        std::fs::write(
            self.dir.join("stack.kdl"),
            stack_text(&self.name, &self.cluster.registry, api_health),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }

    /// `stackr` on the swarm's manager; interrupted (as by Ctrl-C) after 5 minutes, so that
    /// a wait that never ends fails the test rather than hanging it.
    fn stackr(&self, args: &[&str]) -> Run {
        let mut cmd = std::process::Command::new("timeout");
        cmd.args(["-s", "INT", "300", env!("CARGO_BIN_EXE_stackr")])
            .args(args)
            .current_dir(&self.dir)
            .env_remove("STACKR_FILE")
            .env_remove("STACKR_PROFILE")
            .env_remove("STACKR_STACK_NAME")
            .env_remove("STACKR_TARGET")
            .env("NO_COLOR", "1")
            .env("DOCKER_HOST", self.cluster.manager().host());
        run(&mut cmd)
    }

    fn manager(&self) -> &Node {
        self.cluster.manager()
    }

    /// `(id, node id, state, created, state timestamp)` of each task of a service.
    fn tasks(&self, service: &str) -> Vec<Task> {
        let ids = self.manager().must(&[
            "service",
            "ps",
            "-q",
            "--no-trunc",
            &format!("{}_{service}", self.name),
        ]);
        ids.lines()
            .filter(|l| !l.is_empty())
            .map(|id| {
                let line = self.manager().must(&[
                    "inspect",
                    "--format",
                    "{{.NodeID}}|{{.Status.State}}|{{.DesiredState}}|{{json .CreatedAt}}|{{json .Status.Timestamp}}|{{with .Status.ContainerStatus}}{{.ContainerID}}{{end}}",
                    id,
                ]);
                let f: Vec<&str> = line.split('|').collect();
                Task {
                    node: f.first().copied().unwrap_or_default().to_string(),
                    state: f.get(1).copied().unwrap_or_default().to_string(),
                    desired: f.get(2).copied().unwrap_or_default().to_string(),
                    created: nanos(f.get(3).copied().unwrap_or_default()),
                    changed: nanos(f.get(4).copied().unwrap_or_default()),
                    container: f.get(5).copied().unwrap_or_default().to_string(),
                }
            })
            .collect()
    }

    fn version(&self, service: &str) -> String {
        self.manager().must(&[
            "service",
            "inspect",
            "--format",
            "{{.Version.Index}}",
            &format!("{}_{service}", self.name),
        ])
    }

    fn node(&self, id: &str) -> &Node {
        let ids = self.cluster.node_ids();
        let i = ids
            .iter()
            .position(|n| n == id)
            .unwrap_or_else(|| panic!("no node {id} in {ids:?}"));
        &self.cluster.nodes[i]
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        // The cluster goes with everything on it; nothing touched the machine's daemon.
    }
}

#[derive(Debug)]
struct Task {
    node: String,
    state: String,
    desired: String,
    created: i128,
    changed: i128,
    container: String,
}

fn write_token(dir: &Path, value: &str) {
    let path = dir.join("token.txt");
    std::fs::write(&path, value).unwrap_or_else(|e| panic!("{e}"));
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
}

/// An HTTP GET to a namespaced node of the test: `(status, body)`.
fn get(addr: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let Ok(mut c) = std::net::TcpStream::connect(addr) else {
        return (0, String::new());
    };
    let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = write!(c, "GET {path} HTTP/1.0\r\nHost: test\r\n\r\n");
    let mut s = String::new();
    let _ = c.read_to_string(&mut s);
    let status = s
        .split_whitespace()
        .nth(1)
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    (
        status,
        s.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default(),
    )
}

fn ok(r: &Run, what: &str) {
    assert_eq!(
        r.code, 0,
        "{what}:\nstdout:\n{}\nstderr:\n{}",
        r.stdout, r.stderr
    );
}

/// The latest time any running task of `tasks` reached its state, and the earliest creation.
fn last_ready(tasks: &[Task], state: &str) -> i128 {
    tasks
        .iter()
        .filter(|t| t.state == state)
        .map(|t| t.changed)
        .max()
        .unwrap_or(i128::MAX)
}

fn first_created(tasks: &[Task]) -> i128 {
    tasks.iter().map(|t| t.created).min().unwrap_or(0)
}

#[test]
fn a_stack_comes_up_on_three_nodes_in_dependency_order_and_then_plans_nothing() {
    let d = Deployment::new("up");
    let started = Instant::now();
    let r = d.stackr(&["up", "--wait"]);
    ok(&r, "up --target swarm --wait");
    let took = started.elapsed();
    eprintln!("up on the swarm took {took:?}:\n{}", r.stderr);

    // Dependency order, from the swarm's own task times.
    let db = d.tasks("db");
    let migrate = d.tasks("migrate");
    let api = d.tasks("api");
    let web = d.tasks("web");
    assert!(
        last_ready(&db, "running") <= first_created(&migrate),
        "migrate was created before db was healthy:\n{db:#?}\n{migrate:#?}"
    );
    assert!(
        last_ready(&migrate, "complete") <= first_created(&api),
        "api was created before migrate completed:\n{migrate:#?}\n{api:#?}"
    );
    assert!(
        last_ready(&api, "running") <= first_created(&web),
        "web was created before api was healthy:\n{api:#?}\n{web:#?}"
    );
    assert_eq!(
        api.iter().filter(|t| t.state == "running").count(),
        3,
        "{api:#?}"
    );
    assert_eq!(
        web.iter().filter(|t| t.state == "running").count(),
        2,
        "{web:#?}"
    );

    // Spread over the three nodes.
    let mut nodes: Vec<&str> = db
        .iter()
        .chain(&api)
        .chain(&web)
        .filter(|t| t.state == "running")
        .map(|t| t.node.as_str())
        .collect();
    nodes.sort();
    nodes.dedup();
    assert_eq!(nodes.len(), 3, "tasks ran on {nodes:?}");

    // The secret, with its owner and mode, in every api task (on whatever node runs it).
    for t in api.iter().filter(|t| t.state == "running") {
        let node = d.node(&t.node);
        let stat = node.must(&[
            "exec",
            &t.container,
            "stat",
            "-c",
            "%u %g %a",
            "/run/secrets/token",
        ]);
        assert_eq!(stat, "1000 1000 400", "on {}", node.name);
        let value = node.must(&["exec", &t.container, "cat", "/run/secrets/token"]);
        assert_eq!(value, "first-token");
    }
    // Published on the nodes that run web's tasks (`mode="host"`: this machine's kernel has
    // no IPVS, which the routing mesh and virtual IPs need).
    for t in web.iter().filter(|t| t.state == "running") {
        let n = d.node(&t.node);
        let (status, body) = get(&format!("{}:18080", n.ip), "/");
        assert_eq!((status, body.trim()), (200, "web"), "through {}", n.name);
    }
    // The secret's own label is on the Swarm secret, with stackr's.
    let labels = d.manager().must(&[
        "secret",
        "ls",
        "--filter",
        &format!("label=io.stackr.stack={}", d.name),
        "--filter",
        "label=com.example.rotates=monthly",
        "--format",
        "{{.Name}}",
    ]);
    assert!(
        labels.starts_with(&format!("{}_token_", d.name)),
        "no labelled secret: {labels}"
    );
    // No secret value in what stackr said, nor in a service spec.
    assert!(!r.stderr.contains("first-token") && !r.stdout.contains("first-token"));
    let spec = d
        .manager()
        .must(&["service", "inspect", &format!("{}_api", d.name)]);
    assert!(!spec.contains("first-token"));

    // The next plan is empty, and a second up changes nothing.
    let p = d.stackr(&["plan", "--detailed-exitcode"]);
    assert_eq!(p.code, 0, "plan after up:\n{}\n{}", p.stdout, p.stderr);
    assert!(p.stdout.contains("nothing to do"), "{}", p.stdout);
    let before = d.version("api");
    ok(&d.stackr(&["up"]), "second up");
    assert_eq!(d.version("api"), before);

    // A Swarm config holds at most 1000 KB: the probe runner (1.4 MB) cannot travel as one,
    // which is why a global service fills a volume on each node.
    let big = d.dir.join("big");
    std::fs::write(&big, vec![b'x'; 1_400_000]).unwrap_or_else(|e| panic!("{e}"));
    let refused = d.manager().docker(&[
        "config",
        "create",
        &format!("{}-big", d.name),
        &big.display().to_string(),
    ]);
    assert!(!refused.status.success(), "a 1.4 MB config was accepted");
    std::fs::write(&big, vec![b'x'; 1_000_000]).unwrap_or_else(|e| panic!("{e}"));
    d.manager().must(&[
        "config",
        "create",
        &format!("{}-fits", d.name),
        &big.display().to_string(),
    ]);
    d.manager()
        .must(&["config", "rm", &format!("{}-fits", d.name)]);

    // logs: every task's output, tagged with its task; -f follows them.
    let logs = d.stackr(&["logs", "migrate"]);
    ok(&logs, "logs");
    assert!(
        logs.stdout.contains("migrate.1") && logs.stdout.contains("migrated"),
        "{}",
        logs.stdout
    );
    let mut follow = std::process::Command::new("timeout");
    follow
        .args(["-s", "INT", "4", env!("CARGO_BIN_EXE_stackr"), "logs", "-f"])
        .current_dir(&d.dir)
        .env_remove("STACKR_TARGET")
        .env("NO_COLOR", "1")
        .env("DOCKER_HOST", d.manager().host());
    let followed = run(&mut follow);
    assert!(
        followed.stdout.contains("migrated"),
        "logs -f:\n{}\n{}",
        followed.stdout,
        followed.stderr
    );

    // ps shows the tasks with their nodes.
    let ps = d.stackr(&["ps"]);
    ok(&ps, "ps");
    assert!(
        ps.stdout.contains("api.3") && ps.stdout.contains("running"),
        "{}",
        ps.stdout
    );

    // down removes what the stack made.
    ok(&d.stackr(&["down"]), "down");
    let left = d.manager().must(&[
        "service",
        "ls",
        "-q",
        "--filter",
        &format!("label=io.stackr.stack={}", d.name),
    ]);
    assert!(left.is_empty(), "{left}");
    let secrets = d.manager().must(&[
        "secret",
        "ls",
        "-q",
        "--filter",
        &format!("label=io.stackr.stack={}", d.name),
    ]);
    assert!(secrets.is_empty(), "{secrets}");
}

#[test]
fn a_rotated_secret_updates_only_its_users_and_a_bad_update_is_rolled_back() {
    let d = Deployment::new("rot");
    ok(&d.stackr(&["up", "--wait"]), "first up");
    let (db, web, api) = (d.version("db"), d.version("web"), d.version("api"));
    let old = d.manager().must(&["secret", "ls", "--format", "{{.Name}}"]);

    write_token(&d.dir, "second-token");
    let r = d.stackr(&["up", "--wait"]);
    ok(&r, "up after the rotation");
    assert_eq!(
        (d.version("db"), d.version("web")),
        (db, web),
        "only api uses the secret"
    );
    assert_ne!(d.version("api"), api);
    assert!(
        r.stderr.contains("tasks updated"),
        "batches are reported:\n{}",
        r.stderr
    );
    let now = d.manager().must(&["secret", "ls", "--format", "{{.Name}}"]);
    assert_ne!(now, old);
    assert_eq!(
        now.lines().count(),
        1,
        "the old secret went once unused: {now}"
    );
    for t in d.tasks("api").iter().filter(|t| t.desired == "running") {
        let value = d
            .node(&t.node)
            .must(&["exec", &t.container, "cat", "/run/secrets/token"]);
        assert_eq!(value, "second-token");
    }

    // A health check that never passes: Swarm rolls the update back, `up` fails naming api.
    d.write("/missing");
    let r = d.stackr(&["up"]);
    assert_ne!(r.code, 0, "a rolled-back update must fail:\n{}", r.stderr);
    assert!(
        r.stderr.contains("service `api`") && r.stderr.contains("rolled it back"),
        "{}",
        r.stderr
    );
    let running: Vec<Task> = d
        .tasks("api")
        .into_iter()
        .filter(|t| t.state == "running")
        .collect();
    assert_eq!(
        running.len(),
        3,
        "the previous spec runs again: {running:#?}"
    );
}

#[test]
fn a_node_that_stops_has_its_tasks_rescheduled_and_the_stack_converges_when_it_is_back() {
    let mut d = Deployment::new("node");
    ok(&d.stackr(&["up", "--wait"]), "up");
    let ids = d.cluster.node_ids();
    let worker = ids[2].clone();
    d.cluster.nodes[2].stop();
    // The swarm sees the node down and starts its tasks elsewhere.
    let start = Instant::now();
    loop {
        let ps = d.stackr(&["ps"]);
        let rescheduled = d
            .tasks("api")
            .iter()
            .filter(|t| t.state == "running" && t.node != worker)
            .count()
            == 3;
        if ps.stdout.contains("down") && rescheduled {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the node's tasks were not rescheduled:\n{}\n{:#?}",
            ps.stdout,
            d.tasks("api")
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    let registry = d.cluster.registry.clone();
    d.cluster.nodes[2].start_again(&registry);
    let start = Instant::now();
    loop {
        let p = d.stackr(&["plan", "--detailed-exitcode"]);
        let ready = d.manager().must(&["node", "ls", "--format", "{{.Status}}"]);
        if p.code == 0 && ready.lines().all(|l| l == "Ready") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "not converged with the node back:\n{}\n{ready}",
            p.stdout
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    ok(&d.stackr(&["up", "--wait"]), "up with the node back");
}

#[test]
fn a_second_up_through_another_manager_is_refused_while_the_first_holds_the_lock() {
    let d = Deployment::new("lock");
    // A second manager: the lock must hold whichever manager a run reaches.
    let ids = d.cluster.node_ids();
    d.manager().must(&["node", "promote", &ids[1]]);
    let manager = d.manager().host();
    let second = d.cluster.nodes[1].host();
    let dir = d.dir.clone();
    // The second run starts once the first holds the lock (seen through the first manager).
    let b = std::thread::spawn(move || {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(120) {
            let out = std::process::Command::new("docker")
                .args([
                    "-H",
                    &manager,
                    "service",
                    "ls",
                    "-q",
                    "--filter",
                    "label=io.stackr.lock",
                ])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                .unwrap_or_default();
            if !out.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut cmd = std::process::Command::new("timeout");
        cmd.args([
            "-s",
            "INT",
            "300",
            env!("CARGO_BIN_EXE_stackr"),
            "up",
            "--wait",
        ])
        .current_dir(&dir)
        .env_remove("STACKR_TARGET")
        .env("NO_COLOR", "1")
        .env("DOCKER_HOST", second);
        run(&mut cmd)
    });
    let a = d.stackr(&["up", "--wait"]);
    let b = b
        .join()
        .unwrap_or_else(|_| panic!("the second run panicked"));
    ok(&a, "the first up");
    assert_ne!(
        b.code, 0,
        "the second run did not wait for the lock:\n{}",
        b.stderr
    );
    assert!(
        b.stderr.contains("another stackr run holds stack") && b.stderr.contains("pid "),
        "{}",
        b.stderr
    );
    assert!(
        !b.stderr.contains("created"),
        "both runs created services:\n{}",
        b.stderr
    );
    // Released: no lock service is left, and a run through the second manager finds the stack
    // up to date.
    let locks = d
        .manager()
        .must(&["service", "ls", "-q", "--filter", "label=io.stackr.lock"]);
    assert!(locks.is_empty(), "{locks}");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_stackr"));
    cmd.arg("up")
        .current_dir(&d.dir)
        .env_remove("STACKR_TARGET")
        .env("NO_COLOR", "1")
        .env("DOCKER_HOST", d.cluster.nodes[1].host());
    let again = run(&mut cmd);
    ok(&again, "up through the second manager");
    assert!(again.stderr.contains("up to date"), "{}", again.stderr);
}
