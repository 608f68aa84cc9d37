//! The CLI against the real Docker daemon: up, ps, a second up that changes nothing, a change
//! that recreates only its service, down that leaves nothing, an interrupted up, and two ups at
//! once. Every test uses its own stack name and removes everything with that label when it
//! ends, even when it fails. Without a daemon these tests fail: they never skip.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::cli::{Run, run};

static N: AtomicUsize = AtomicUsize::new(0);

/// A stack of the tests' own, in a temp dir, removed from the engine when dropped.
pub struct TestStack {
    pub name: String,
    pub dir: PathBuf,
}

pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run docker: {e}"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl TestStack {
    pub fn new(tag: &str, text: impl Fn(&str) -> String) -> TestStack {
        let info = Command::new("docker").arg("info").output();
        assert!(
            info.as_ref().is_ok_and(|o| o.status.success()),
            "the Docker daemon is not reachable: these tests need one (.ci/run starts it)"
        );
        let name = format!(
            "stackr-it-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let dir = std::env::temp_dir().join(&name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("img")).unwrap_or_else(|e| panic!("{e}"));
        let busybox = which_busybox();
        std::fs::copy(&busybox, dir.join("img/busybox"))
            .unwrap_or_else(|e| panic!("cannot copy busybox: {e}"));
        std::fs::write(
            dir.join("img/Dockerfile"),
            "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.join("stack.kdl"), text(&name)).unwrap_or_else(|e| panic!("{e}"));
        TestStack { name, dir }
    }

    pub fn write(&self, text: String) {
        std::fs::write(self.dir.join("stack.kdl"), text).unwrap_or_else(|e| panic!("{e}"));
    }

    pub fn stackr(&self, args: &[&str]) -> Run {
        run(crate::cli::stackr(&self.dir).args(args))
    }

    /// Container name → (id, state) of the stack, from the engine.
    pub fn containers(&self) -> BTreeMap<String, (String, String)> {
        docker(&[
            "ps",
            "-a",
            "--filter",
            &format!("label=io.stackr.stack={}", self.name),
            "--format",
            "{{.Names}} {{.ID}} {{.State}}",
        ])
        .lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            Some((
                parts.next()?.to_string(),
                (parts.next()?.to_string(), parts.next()?.to_string()),
            ))
        })
        .collect()
    }

    pub fn count(&self, kind: &str) -> usize {
        let format = if kind == "volume" {
            "{{.Name}}"
        } else {
            "{{.ID}}"
        };
        docker(&[
            kind,
            "ls",
            "-q",
            "--filter",
            &format!("label=io.stackr.stack={}", self.name),
            "--format",
            format,
        ])
        .lines()
        .count()
    }
}

/// Removes every container, network and volume labelled as `stack`, and its lock's
/// container (which carries no stack label) if a killed run left one.
pub fn remove_stack_objects(stack: &str) {
    docker(&["rm", "-f", &stackr_reconcile::lock::lock_name(stack)]);
    let filter = format!("label=io.stackr.stack={stack}");
    for id in docker(&["ps", "-aq", "--filter", &filter]).lines() {
        docker(&["rm", "-f", "-v", id]);
    }
    // The engine may still be detaching the removed containers: try a few times.
    for _ in 0..5 {
        let left = docker(&["network", "ls", "-q", "--filter", &filter]);
        if left.trim().is_empty() {
            break;
        }
        for id in left.lines() {
            docker(&["network", "rm", id]);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    for v in docker(&["volume", "ls", "-q", "--filter", &filter]).lines() {
        docker(&["volume", "rm", "-f", v]);
    }
}

impl Drop for TestStack {
    fn drop(&mut self) {
        remove_stack_objects(&self.name);
        // The test image's tag stays: removing it while another test builds the same layers
        // can break that build. Tags are cheap; the layers are shared.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub(crate) fn which_busybox() -> PathBuf {
    for p in ["/usr/bin/busybox", "/bin/busybox"] {
        if Path::new(p).is_file() {
            return PathBuf::from(p);
        }
    }
    panic!("busybox-static is not installed (.ci/run installs it)");
}

/// init (one-shot) -> db (healthy) -> api -> web (restarts with api).
fn stack_text(name: &str, api_mode: &str) -> String {
    format!(
        r#"
stack "{name}"
volume "data"

service "init" {{
    image "{name}:img"
    build "./img"
    command "sh" "-c" "echo seeded > /data/seed.txt; echo init done"
    mount "data" "/data"
    restart "no"
}}

service "db" {{
    image "{name}:img"
    command "sh" "-c" "trap 'exit 0' TERM; while true; do sleep 0.2; done"
    mount "data" "/data"
    depends-on "init" condition="completed"
    health {{
        shell "test -f /data/seed.txt"
        interval "200ms"
        timeout "1s"
        retries 20
    }}
}}

service "api" {{
    image "{name}:img"
    command "sh" "-c" "trap 'exit 0' TERM; while true; do sleep 0.2; done"
    env MODE="{api_mode}"
    depends-on "db" condition="healthy"
}}

service "web" {{
    image "{name}:img"
    command "sh" "-c" "trap 'exit 0' TERM; while true; do sleep 0.2; done"
    depends-on "api" restart=#true
}}
"#
    )
}

fn ok(r: &Run, what: &str) {
    assert_eq!(
        r.code, 0,
        "{what} failed:\nstdout:\n{}\nstderr:\n{}",
        r.stdout, r.stderr
    );
}

#[test]
fn up_ps_noop_change_down() {
    let s = TestStack::new("cycle", |n| stack_text(n, "one"));
    let r = s.stackr(&["up", "-d"]);
    ok(&r, "up");
    let first = s.containers();
    assert_eq!(first.len(), 4, "{first:?}");
    for (name, (_, state)) in &first {
        let want = if name.contains("-init-") {
            "exited"
        } else {
            "running"
        };
        assert_eq!(state, want, "{name}");
    }

    let r = s.stackr(&["ps", "--format", "json"]);
    ok(&r, "ps");
    let rows: serde_json::Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    let db = rows
        .as_array()
        .and_then(|a| a.iter().find(|r| r["service"] == "db"))
        .unwrap_or_else(|| panic!("no db in {rows}"));
    assert_eq!(db["health"], "healthy", "{rows}");

    // A second up changes nothing: the same containers.
    let r = s.stackr(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "plan after up shows changes:\n{}", r.stdout);
    // `plan` previews `up`'s options too.
    let r = s.stackr(&[
        "plan",
        "--detailed-exitcode",
        "--force-recreate",
        "--no-deps",
        "api",
    ]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stdout.contains("1 to recreate"), "{}", r.stdout);
    let r = s.stackr(&["up", "-d"]);
    ok(&r, "second up");
    assert!(r.stderr.contains("up to date"), "{}", r.stderr);
    assert_eq!(s.containers(), first);
    // `up --build` on unchanged sources rebuilds to the same image: nothing is recreated
    // (the one-shot, done, stays done).
    let r = s.stackr(&["up", "-d", "--build"]);
    ok(&r, "up --build");
    assert_eq!(s.containers(), first, "{}", r.stderr);

    // Change one service: only it and the dependent that asks to restart move.
    s.write(stack_text(&s.name, "two"));
    let r = s.stackr(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(r#"env.MODE: "one" -> "two""#),
        "{}",
        r.stdout
    );
    let r = s.stackr(&["up", "-d"]);
    ok(&r, "up after a change");
    let after = s.containers();
    let id = |m: &BTreeMap<String, (String, String)>, svc: &str| {
        m.iter()
            .find(|(n, _)| n.contains(&format!("-{svc}-")))
            .map(|(_, v)| v.0.clone())
    };
    assert_ne!(id(&after, "api"), id(&first, "api"), "api is recreated");
    for svc in ["init", "db", "web"] {
        assert_eq!(
            id(&after, svc),
            id(&first, svc),
            "{svc} is kept (web is restarted, not recreated)"
        );
    }
    assert!(r.stderr.contains("web-1: restarted"), "{}", r.stderr);

    // Without the stack file, `-p` is enough for `ps` and `down` (they work by label).
    let elsewhere = crate::cli::temp_dir("by-name");
    let by_name = |args: &[&str]| {
        run(crate::cli::stackr(&elsewhere)
            .arg("-p")
            .arg(&s.name)
            .args(args))
    };
    let r = by_name(&["ps", "--format", "json"]);
    ok(&r, "ps by name");
    assert_eq!(r.stdout.matches("\"container\"").count(), 3, "{}", r.stdout);
    // `logs` too, but only unmasked: without the file, the secret values are unknown.
    let r = by_name(&["logs"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("--no-mask"), "{}", r.stderr);
    let r = by_name(&["logs", "--no-mask", "init"]);
    ok(&r, "logs by name");
    assert!(r.stdout.contains("-init-1 | init done"), "{}", r.stdout);
    let r = by_name(&["down"]);
    ok(&r, "down by name");
    assert!(r.stderr.contains("no stack file"), "{}", r.stderr);
    let _ = std::fs::remove_dir_all(&elsewhere);
    assert!(s.containers().is_empty(), "{:?}", s.containers());
    assert_eq!(s.count("network"), 0);
    assert_eq!(s.count("volume"), 1, "named volumes stay without -v");
    let r = s.stackr(&["down", "-v"]);
    ok(&r, "down -v");
    assert_eq!(s.count("volume"), 0);
}

#[test]
fn an_interrupted_up_converges_without_duplicates() {
    let s = TestStack::new("kill", |n| stack_text(n, "one"));
    ok(&s.stackr(&["up", "-d"]), "up");
    s.write(stack_text(&s.name, "changed"));
    // Kill stackr at several points of a run that recreates everything.
    for delay in [150u64, 400, 800] {
        let mut child = crate::cli::stackr(&s.dir)
            .args(["up", "-d", "--force-recreate"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"));
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill();
        let _ = child.wait();
    }
    let r = s.stackr(&["up", "-d"]);
    ok(&r, "up after the interruptions");
    let containers = s.containers();
    assert_eq!(
        containers.len(),
        4,
        "exactly one container per service: {containers:?}"
    );
    for name in containers.keys() {
        assert!(name.starts_with(&s.name), "no temporary names: {name}");
    }
    let r = s.stackr(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "converged:\n{}", r.stdout);
}

#[test]
fn two_ups_at_once_do_not_collide() {
    let s = TestStack::new("race", |n| stack_text(n, "one"));
    // Build first, so that both runs race on the containers.
    ok(&s.stackr(&["build"]), "build");
    let start = Instant::now();
    let spawn = || {
        crate::cli::stackr(&s.dir)
            .args(["up", "-d"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let (a, b) = (spawn(), spawn());
    let outs =
        [a.wait_with_output(), b.wait_with_output()].map(|o| o.unwrap_or_else(|e| panic!("{e}")));
    for o in &outs {
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(
            o.status.success() || stderr.contains("another stackr run holds stack"),
            "a run failed without saying why: {stderr}"
        );
    }
    assert!(outs.iter().any(|o| o.status.success()));
    assert_eq!(
        s.containers().len(),
        4,
        "{:?} after {:?}",
        s.containers(),
        start.elapsed()
    );
}

#[test]
fn errors_name_the_service() {
    let s = TestStack::new("errors", |n| {
        format!(
            r#"
stack "{n}"
service "base" {{
    image "{n}:img"
    build "./img"
    command "true"
    restart "no"
}}
service "broken" {{
    image "{n}:img"
    command "sh" "-c" "exit 7"
    restart "no"
}}
service "after" {{
    image "{n}:img"
    command "sleep" "60"
    depends-on "broken" condition="completed"
}}
service "missing" {{
    image "stackr-no-such-image:never"
}}
"#
        )
    });
    // `--pull never`: tests send nothing to a registry.
    let r = s.stackr(&["up", "-d", "--pull", "never"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("service `missing`: image `stackr-no-such-image:never` is not on the engine"),
        "{}",
        r.stderr
    );
    // Without the missing image, the failing dependency is named.
    let text = std::fs::read_to_string(s.dir.join("stack.kdl")).unwrap_or_default();
    let cut = text.find("service \"missing\"").unwrap_or(text.len());
    s.write(text[..cut].to_string());
    let r = s.stackr(&["up", "-d"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("service `after` cannot start: dependency `broken` exited with code 7"),
        "{}",
        r.stderr
    );
}

/// The repository's own `stack.kdl`, as the README runs it: built from this workspace, a
/// healthy chain, a one-shot, a volume that survives a recreate, an internal network.
#[test]
fn the_root_stack_runs() {
    let name = format!("stackr-it-root-{}", std::process::id());
    let guard = TestStack {
        name: name.clone(),
        dir: std::env::temp_dir().join(&name),
    };
    let root = crate::support::root();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        l.local_addr()
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let stackr = |args: &[&str]| {
        run(crate::cli::stackr(&root)
            .env("DEMO_PORT", port.to_string())
            .arg("-p")
            .arg(&name)
            .args(args))
    };
    let r = stackr(&["up", "--wait", "--wait-timeout", "120"]);
    ok(&r, "up of the root stack");
    let get = |path: &str| -> String {
        use std::io::{Read, Write};
        let mut c =
            std::net::TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| panic!("{e}"));
        let _ = write!(
            c,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        );
        let mut s = String::new();
        let _ = c.read_to_string(&mut s);
        s
    };
    assert!(get("/").contains("Hello from stackr"));
    // `web` forwards with the api token it reads from its secret: the api counts the visit.
    assert!(get("/api/visits").contains("\"visits\":1"));
    // The token is a file at /run/secrets/api-token, owned by each service's user, on
    // read-only containers; never in what the engine shows.
    let token = std::fs::read_to_string(root.join("demo/secrets/api-token.txt"))
        .unwrap_or_else(|e| panic!("{e}"));
    for svc in ["api", "web"] {
        let inspect = docker(&["inspect", &format!("{name}-{svc}-1")]);
        assert!(
            !inspect.contains(token.trim()),
            "{svc}'s inspect shows the token"
        );
        assert!(
            inspect.contains("\"ReadonlyRootfs\": true"),
            "{svc} is read-only"
        );
    }
    assert!(!r.stdout.contains(token.trim()) && !r.stderr.contains(token.trim()));
    assert!(
        !r.stderr.contains("warning: the file of secret"),
        "acknowledged: {}",
        r.stderr
    );
    let logs = stackr(&["logs", "api", "web"]);
    assert_eq!(
        logs.stdout
            .matches("API token loaded from /run/secrets/api-token")
            .count(),
        2,
        "{}",
        logs.stdout
    );
    // `up -d` returns once `web` started (`--wait` comes with the health work); its check
    // passes within a few intervals.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ps = stackr(&["ps", "--format", "json"]);
        let rows: serde_json::Value =
            serde_json::from_str(&ps.stdout).unwrap_or_else(|e| panic!("{e}: {}", ps.stdout));
        let healthy = ["api", "web"].iter().all(|svc| {
            rows.as_array()
                .and_then(|a| a.iter().find(|r| r["service"] == *svc))
                .is_some_and(|r| r["health"] == "healthy")
        });
        if healthy {
            break;
        }
        assert!(Instant::now() < deadline, "not healthy in time: {rows}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // The count lives in the volume: it survives recreating everything.
    ok(
        &stackr(&["up", "--wait", "--force-recreate"]),
        "up --force-recreate",
    );
    assert!(
        get("/api/visits").contains("\"visits\":2"),
        "the volume kept the count"
    );
    // The api is on the internal network only: it has no published port and no way out.
    let api = docker(&[
        "inspect",
        "--format",
        "{{json .NetworkSettings.Networks}}",
        &format!("{name}-api-1"),
    ]);
    assert!(
        api.contains(&format!("{name}_internal")) && !api.contains("_edge"),
        "{api}"
    );
    ok(&stackr(&["down", "-v"]), "down");
    assert!(guard.containers().is_empty());
}

/// Attached `up` streams logs with aligned prefixes; Ctrl-C stops the stack gracefully.
#[test]
fn attached_up_streams_logs_and_ctrl_c_stops() {
    use std::io::{BufRead, BufReader};
    let s = TestStack::new("attached", |n| {
        format!(
            r#"
stack "{n}"
service "talker" {{
    image "{n}:img"
    build "./img"
    command "sh" "-c" "echo hello from talker; trap 'echo bye; exit 0' TERM; while true; do sleep 0.2; done"
}}
service "quiet-one" {{
    image "{n}:img"
    command "sh" "-c" "trap 'exit 0' TERM; while true; do sleep 0.2; done"
}}
"#
        )
    });
    let mut child = crate::cli::stackr(&s.dir)
        .arg("up")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    while !seen
        .iter()
        .any(|l: &String| l.contains("hello from talker"))
    {
        assert!(Instant::now() < deadline, "no log line in time: {seen:?}");
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            seen.push(line);
        }
    }
    let line = seen
        .iter()
        .find(|l| l.contains("hello from talker"))
        .cloned()
        .unwrap_or_default();
    let prefix = format!("{}-talker-1    | hello from talker", s.name);
    assert_eq!(
        line, prefix,
        "the prefix is aligned to the longest container name"
    );
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .is_ok_and(|st| st.success())
    );
    let status = child.wait().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status.code(), Some(130));
    let states = s.containers();
    assert_eq!(states.len(), 2);
    for (name, (_, state)) in states {
        assert_eq!(state, "exited", "{name} is stopped, not removed");
    }
}

/// `docker events` of a stack between two times: (action, container name, time in ns).
fn engine_events(stack: &str, since: u64) -> Vec<(String, String, i128)> {
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() + 1)
        .unwrap_or_default();
    docker(&[
        "events",
        "--since",
        &since.to_string(),
        "--until",
        &until.to_string(),
        "--filter",
        &format!("label=io.stackr.stack={stack}"),
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

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// A healthy chain a -> b -> c, with native tcp and http probes on a busybox image: each start
/// comes after its dependency's healthy event, the health shows in `docker inspect` after
/// stackr exits, and `--wait` returns once all are healthy.
#[test]
fn a_healthy_chain_with_native_probes() {
    let s = TestStack::new("chain", |n| {
        format!(
            r#"
stack "{n}"
service "a" {{
    image "{n}:img"
    build "./img"
    command "sh" "-c" "trap 'exit 0' TERM; sleep 0.5; httpd -p 7000 -h /; while true; do sleep 0.2; done"
    health {{
        tcp port=7000
        interval "200ms"
        retries 50
    }}
}}
service "b" {{
    image "{n}:img"
    command "sh" "-c" "trap 'exit 0' TERM; mkdir -p /www; echo ok > /www/health; httpd -p 8000 -h /www; while true; do sleep 0.2; done"
    depends-on "a" condition="healthy"
    health {{
        http port=8000 path="/health" body="ok"
        interval "200ms"
        retries 50
    }}
}}
service "c" {{
    image "{n}:img"
    command "sh" "-c" "trap 'exit 0' TERM; while true; do sleep 0.2; done"
    depends-on "b" condition="healthy"
    health {{
        exec "true"
        interval "200ms"
    }}
}}
"#
        )
    });
    let since = unix_now().saturating_sub(1);
    let r = s.stackr(&["up", "--wait", "--wait-timeout", "60", "--format", "json"]);
    ok(&r, "up --wait");
    let events: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    assert!(events.iter().all(|e| e["v"] == 1));
    assert_eq!(
        events.last().map(|e| e["event"].clone()),
        Some(serde_json::json!("done"))
    );
    // Each start request follows its dependency's healthy event.
    let time_of = |event: &str, container: &str| -> i128 {
        engine_events(&s.name, since)
            .into_iter()
            .find(|(a, n, _)| a == event && n == container)
            .map(|(_, _, t)| t)
            .unwrap_or_else(|| panic!("no {event} for {container}"))
    };
    let name = |svc: &str| format!("{}-{svc}-1", s.name);
    for (dep, svc) in [("a", "b"), ("b", "c")] {
        let healthy = time_of("health_status: healthy", &name(dep));
        let started = time_of("start", &name(svc));
        assert!(healthy < started, "{svc} started before {dep} was healthy");
    }
    // The health lives in the engine: docker shows it after stackr is gone.
    for svc in ["a", "b", "c"] {
        let status = docker(&[
            "inspect",
            "--format",
            "{{.State.Health.Status}}",
            &name(svc),
        ]);
        assert_eq!(status.trim(), "healthy", "{svc}");
    }
    let output = docker(&[
        "inspect",
        "--format",
        "{{(index .State.Health.Log 0).Output}}",
        &name("b"),
    ]);
    assert!(output.contains("status 200"), "{output}");
}

/// A probe that never passes fails `--wait`, naming the service and showing the probe's output.
#[test]
fn a_probe_that_never_passes_fails_wait_with_its_output() {
    let s = TestStack::new("never", |n| {
        format!(
            r#"
stack "{n}"
service "stuck" {{
    image "{n}:img"
    build "./img"
    command "sh" "-c" "trap 'exit 0' TERM; while true; do sleep 0.2; done"
    health {{
        http port=9 path="/ready"
        interval "200ms"
        timeout "1s"
        retries 2
    }}
}}
"#
        )
    });
    let r = s.stackr(&["up", "--wait", "--wait-timeout", "30"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("service `stuck` is not ready"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("127.0.0.1:9"),
        "the probe's output is shown: {}",
        r.stderr
    );
}

/// The rest of the compose CLI against the daemon: exec (exit codes), cp both ways, port,
/// stop/start/restart/kill/rm, ls, events, version, scale up and down, --exit-code-from.
#[test]
fn the_compose_commands() {
    let s = TestStack::new("cmds", |n| {
        format!(
            r#"
stack "{n}"
service "app" {{
    image "{n}:img"
    build "./img"
    command "sh" "-c" "trap 'exit 0' TERM; mkdir -p /srv; echo inside > /srv/file.txt; while true; do sleep 0.2; done"
    port "127.0.0.1::8000"
}}
service "job" {{
    image "{n}:img"
    command "sh" "-c" "echo job ran; exit 4"
    restart "no"
}}
"#
        )
    });
    ok(&s.stackr(&["up", "-d", "app"]), "up app");
    // exec passes the command's exit code through, and its output.
    let r = s.stackr(&["exec", "app", "sh", "-c", "cat /srv/file.txt; exit 3"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_eq!(r.stdout, "inside\n");
    let r = s.stackr(&[
        "exec",
        "-e",
        "GREETING=hi",
        "-w",
        "/srv",
        "app",
        "sh",
        "-c",
        "echo $GREETING from $(pwd)",
    ]);
    assert_eq!(r.stdout, "hi from /srv\n", "{}", r.stderr);
    // Without a terminal there is no pseudo-terminal; on one there is (`script` gives one).
    let r = s.stackr(&["exec", "app", "tty"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let bin = env!("CARGO_BIN_EXE_stackr");
    let out = Command::new("script")
        .args(["-qec", &format!("{bin} exec app tty"), "/dev/null"])
        .current_dir(&s.dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run script: {e}"));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("/dev/pts/"),
        "an interactive exec gets a tty: {shown}"
    );
    // Standard input is passed on.
    let mut child = crate::cli::stackr(&s.dir)
        .args(["exec", "-T", "app", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap_or_else(|| panic!("no stdin"));
        let _ = stdin.write_all(b"piped in\n");
    }
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "piped in\n");
    // cp both ways.
    let host = s.dir.join("copied.txt");
    ok(
        &s.stackr(&["cp", "app:/srv/file.txt", host.to_str().unwrap_or_default()]),
        "cp out",
    );
    assert_eq!(
        std::fs::read_to_string(&host).unwrap_or_default(),
        "inside\n"
    );
    std::fs::write(s.dir.join("in.txt"), "from the host\n").unwrap_or_else(|e| panic!("{e}"));
    ok(
        &s.stackr(&[
            "cp",
            s.dir.join("in.txt").to_str().unwrap_or_default(),
            "app:/srv/in.txt",
        ]),
        "cp in",
    );
    let r = s.stackr(&["exec", "app", "cat", "/srv/in.txt"]);
    assert_eq!(r.stdout, "from the host\n");
    // port: the engine chose a host port on 127.0.0.1.
    let r = s.stackr(&["port", "app", "8000"]);
    assert!(
        r.stdout.starts_with("127.0.0.1:"),
        "{} {}",
        r.stdout,
        r.stderr
    );
    // top shows the processes; events streams what happens, as JSON.
    let r = s.stackr(&["top", "app"]);
    assert!(
        r.stdout.contains("PID") && r.stdout.contains("sleep"),
        "{}",
        r.stdout
    );
    let mut events = crate::cli::stackr(&s.dir)
        .args(["events", "--format", "json", "app"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    std::thread::sleep(Duration::from_millis(500));
    ok(
        &s.stackr(&["restart", "-t", "1", "app"]),
        "restart for events",
    );
    std::thread::sleep(Duration::from_millis(500));
    let _ = events.kill();
    let out = events.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(
        lines
            .iter()
            .any(|e| e["action"] == "start" && e["service"] == "app"),
        "{lines:?}"
    );
    // stop, start, restart, kill, rm.
    ok(&s.stackr(&["stop", "-t", "1"]), "stop");
    assert!(s.containers().values().all(|(_, st)| st == "exited"));
    ok(&s.stackr(&["start"]), "start");
    ok(&s.stackr(&["restart", "-t", "1", "app"]), "restart");
    ok(&s.stackr(&["kill", "app"]), "kill");
    ok(&s.stackr(&["rm"]), "rm");
    assert!(s.containers().is_empty(), "{:?}", s.containers());
    // scale up and down, numbered like compose, scaled down from the highest number.
    ok(
        &s.stackr(&["up", "-d", "--scale", "app=3", "app"]),
        "scale up",
    );
    let names: Vec<String> = s.containers().into_keys().collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(names.iter().any(|n| n.ends_with("-app-3")));
    ok(
        &s.stackr(&["up", "-d", "--scale", "app=1", "app"]),
        "scale down",
    );
    let names: Vec<String> = s.containers().into_keys().collect();
    assert_eq!(names, vec![format!("{}-app-1", s.name)]);
    // ls lists the stack; version names the engine.
    let r = run(crate::cli::stackr(&s.dir).args(["ls", "--format", "json"]));
    assert!(r.stdout.contains(&s.name), "{}", r.stdout);
    let r = s.stackr(&["version", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v["engine"]["api"], "1.41");
    // --exit-code-from: attached up ends with the job's code.
    let r = s.stackr(&["up", "--exit-code-from", "job", "job"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stdout.contains("job ran"), "{}", r.stdout);
    // run: a one-off with its own command and env; its code is stackr's; --rm leaves nothing.
    let before = s.containers().len();
    let r = s.stackr(&[
        "run",
        "--rm",
        "-e",
        "WHO=one-off",
        "app",
        "sh",
        "-c",
        "echo $WHO; exit 5",
    ]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert_eq!(r.stdout, "one-off\n");
    assert_eq!(s.containers().len(), before, "run --rm leaves nothing");
    let r = s.stackr(&["run", "app", "true"]);
    ok(&r, "run without --rm");
    assert!(s.containers().keys().any(|n| n.ends_with("-app-run-1")));
    let r = s.stackr(&["plan", "app"]);
    assert!(
        !r.stdout.contains("run-1"),
        "a one-off is not a slot of the service:\n{}",
        r.stdout
    );
    // Completions and the man page come from the same definitions.
    let r = s.stackr(&["completion", "bash"]);
    assert!(r.stdout.contains("stackr") && r.stdout.contains("exec"));
    let r = s.stackr(&["man"]);
    assert!(r.stdout.contains(".TH stackr"));
}

/// Regression: an image built on a local base image was kept when that base was rebuilt (the
/// example's offline images, rebuilt by their script, left every image on them stale, as
/// docker-compose does without `--build`). The image records its bases' ids; a base with
/// another id now rebuilds it, and the next `up` changes nothing.
#[test]
fn a_base_image_rebuilt_rebuilds_the_images_on_it() {
    let s = TestStack::new("base", |n| {
        format!(
            r#"
stack "{n}"
service "app" {{
    build "./app" {{
        arg "BASE" "{n}-base:1"
    }}
    command "sh" "-c" "trap 'exit 0' TERM; while true; do sleep 0.2; done"
}}
"#
        )
    });
    let base_tag = format!("{}-base:1", s.name);
    struct Untag(String);
    impl Drop for Untag {
        fn drop(&mut self) {
            docker(&["rmi", "-f", &self.0]);
        }
    }
    let _untag = Untag(base_tag.clone());
    let base = s.dir.join("base");
    std::fs::create_dir_all(&base).unwrap_or_else(|e| panic!("{e}"));
    std::fs::copy(which_busybox(), base.join("busybox")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        base.join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\nCOPY version /version\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let build_base = |version: &str| {
        std::fs::write(base.join("version"), version).unwrap_or_else(|e| panic!("{e}"));
        let out = Command::new("docker")
            .args(["build", "-q", "-t", &base_tag])
            .arg(&base)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    std::fs::create_dir_all(s.dir.join("app")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        s.dir.join("app/Dockerfile"),
        "ARG BASE=missing\nFROM ${BASE}\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));

    let up_changes_nothing = || {
        let r = s.stackr(&["up", "-d"]);
        assert!(
            format!("{}{}", r.stdout, r.stderr).contains("is up to date"),
            "{}{}",
            r.stdout,
            r.stderr
        );
    };

    build_base("1");
    ok(&s.stackr(&["up", "-d"]), "up");
    assert_eq!(s.stackr(&["exec", "app", "cat", "/version"]).stdout, "1");
    up_changes_nothing();

    build_base("2");
    let r = s.stackr(&["plan"]);
    assert!(
        r.stdout
            .contains(&format!("its base image `{base_tag}` changed")),
        "{}{}",
        r.stdout,
        r.stderr
    );
    ok(&s.stackr(&["up", "-d"]), "up after the base changed");
    assert_eq!(s.stackr(&["exec", "app", "cat", "/version"]).stdout, "2");
    up_changes_nothing();
}

/// Regression: the secrets volume is filled through a helper made from the service's image.
/// When the image's `USER` was a name (`USER appuser`), the upload asked the engine for the
/// container user's ids (`copyUIDGID`), which Engine 20.10 looks up in the host's user
/// database: "getent unable to find entry "appuser"", and `up` failed. The owners and modes
/// in the archive are the ones wanted.
#[test]
fn secrets_reach_a_service_whose_image_names_its_user() {
    let s = TestStack::new("secret-user", |n| {
        format!(
            r#"
stack "{n}"
secret "key" file="./key.txt" acknowledge="readable-file"

service "app" {{
    image "{n}-named:img"
    build "./named"
    command "sh" "-c" "trap 'exit 0' TERM; while true; do sleep 0.2; done"
    secret "key" uid=1000 gid=1000 mode=0o400
}}
"#
        )
    });
    std::fs::create_dir_all(s.dir.join("named")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::copy(which_busybox(), s.dir.join("named/busybox")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        s.dir.join("named/Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n\
         RUN echo 'root:x:0:0::/:/bin/sh' > /etc/passwd && echo 'stackr-image-only-user:x:1000:1000::/:/bin/sh' >> /etc/passwd\n\
         USER stackr-image-only-user\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(s.dir.join("key.txt"), "k3y").unwrap_or_else(|e| panic!("{e}"));
    let r = s.stackr(&["up", "-d"]);
    ok(&r, "up of a service whose image names its user");
    let r = s.stackr(&[
        "exec",
        "app",
        "sh",
        "-c",
        "id -u; stat -c '%u %g %a' /run/secrets/key; cat /run/secrets/key",
    ]);
    assert_eq!(r.stdout, "1000\n1000 1000 400\nk3y", "{}", r.stderr);
}

/// Secrets from a file and from the environment, with uid/gid/mode, on a read-only container:
/// the process reads them with the right owner and mode; nothing the engine shows holds a
/// value; rotating one recreates exactly its users; a missing one fails before any change.
#[test]
fn secrets_are_delivered_with_owner_and_mode_and_never_leak() {
    const FILE_SECRET: &str = "file-secret-b9f1c2";
    const ENV_SECRET: &str = "env-secret-7d3e4a";
    let s = TestStack::new("secrets", |n| {
        format!(
            r#"
stack "{n}"
secret "db_password" file="./db_password.txt"
secret "api_key" env="STACKR_TEST_API_KEY"

service "app" {{
    image "{n}:img"
    build "./img"
    command "sh" "-c" "trap 'exit 0' TERM; echo password is $$(cat /run/secrets/db_password); while true; do sleep 0.2; done"
    read-only #true
    user "1000:1000"
    secret "db_password" uid=1000 gid=1000 mode=0o400
    secret "api_key" target="keys/api" mode=0o440 gid=1000
    env {{
        DB_PASSWORD_FILE (secret)"db_password"
    }}
}}

service "other" {{
    image "{n}:img"
    command "sh" "-c" "trap 'exit 0' TERM; while true; do sleep 0.2; done"
}}
"#
        )
    });
    let pw = s.dir.join("db_password.txt");
    std::fs::write(&pw, FILE_SECRET).unwrap_or_else(|e| panic!("{e}"));
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600));
    }
    let stackr = |args: &[&str]| {
        run(crate::cli::stackr(&s.dir)
            .env("STACKR_TEST_API_KEY", ENV_SECRET)
            .args(args))
    };
    // A missing secret fails before anything on the engine is touched.
    let r = run(crate::cli::stackr(&s.dir)
        .env_remove("STACKR_TEST_API_KEY")
        .args(["up", "-d"]));
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("`STACKR_TEST_API_KEY` is not set"),
        "{}",
        r.stderr
    );
    assert!(s.containers().is_empty(), "nothing was created");

    let mut outputs = Vec::new();
    let r = stackr(&["up", "-d"]);
    ok(&r, "up");
    outputs.push(r);
    let name = format!("{}-app-1", s.name);
    let r = stackr(&[
        "exec",
        "app",
        "sh",
        "-c",
        "stat -c '%u %g %a' /run/secrets/db_password /run/secrets/keys/api; cat /run/secrets/db_password; echo; cat $DB_PASSWORD_FILE",
    ]);
    assert_eq!(
        r.stdout,
        format!("1000 1000 400\n0 1000 440\n{FILE_SECRET}\n{FILE_SECRET}"),
        "{}",
        r.stderr
    );
    // The process (uid 1000, not in the api key's owner) cannot read the 0440 root:1000 file
    // unless its group matches: it does (gid 1000).
    let r = stackr(&["exec", "app", "cat", "/run/secrets/keys/api"]);
    assert_eq!(r.stdout, ENV_SECRET);

    // `logs` masks known secret values; `--no-mask` shows them.
    let r = stackr(&["logs", "app"]);
    assert!(r.stdout.contains("password is ********"), "{}", r.stdout);
    assert!(!r.stdout.contains(FILE_SECRET));
    let r = stackr(&["logs", "--no-mask", "app"]);
    assert!(r.stdout.contains(FILE_SECRET), "{}", r.stdout);
    // Nothing the engine shows holds a value: every container of the stack (env, labels,
    // command, mounts), its volumes, its events.
    let all: Vec<String> = s.containers().into_keys().collect();
    assert_eq!(all.len(), 2, "{all:?}");
    let mut inspect = docker(
        &[
            &["inspect"][..],
            &all.iter().map(String::as_str).collect::<Vec<_>>(),
        ]
        .concat(),
    );
    let volumes = docker(&[
        "volume",
        "ls",
        "-q",
        "--filter",
        &format!("label=io.stackr.stack={}", s.name),
    ]);
    for v in volumes.lines() {
        inspect.push_str(&docker(&["volume", "inspect", v]));
    }
    for secret in [FILE_SECRET, ENV_SECRET] {
        assert!(
            !inspect.contains(secret),
            "docker inspect shows a secret value"
        );
    }
    let events = engine_events(&s.name, unix_now().saturating_sub(120));
    for secret in [FILE_SECRET, ENV_SECRET] {
        assert!(!format!("{events:?}").contains(secret));
    }

    // Rotating the file secret recreates exactly its users.
    let other_before = s.containers().get(&format!("{}-other-1", s.name)).cloned();
    let app_before = s.containers().get(&name).cloned();
    std::fs::write(&pw, "rotated-value-55aa").unwrap_or_else(|e| panic!("{e}"));
    let r = stackr(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stdout.contains("secret `db_password`"), "{}", r.stdout);
    outputs.push(r);
    let r = stackr(&["up", "-d"]);
    ok(&r, "up after rotation");
    outputs.push(r);
    assert_ne!(
        s.containers().get(&name).cloned(),
        app_before,
        "app is recreated"
    );
    assert_eq!(
        s.containers().get(&format!("{}-other-1", s.name)).cloned(),
        other_before,
        "other is kept"
    );
    let r = stackr(&["exec", "app", "cat", "/run/secrets/db_password"]);
    assert_eq!(r.stdout, "rotated-value-55aa");
    // Every other command, in every format it has: none prints a value.
    for args in [
        &["check"][..],
        &["config"],
        &["config", "--format", "json"],
        &["graph"],
        &["plan"],
        &["plan", "--format", "json"],
        &["up", "-d", "--format", "json"],
        &["up", "-d", "--force-recreate", "--format", "json"],
        &["up", "--wait", "--force-recreate"],
        &["ps"],
        &["ps", "--format", "json"],
        &["logs"],
        &["logs", "--timestamps", "app"],
        &["top"],
        &["ls"],
        &["build"],
        &["restart", "app"],
        &["stop"],
        &["start"],
        &[
            "run",
            "--rm",
            "app",
            "sh",
            "-c",
            "test -s $DB_PASSWORD_FILE && echo one-off reads it",
        ],
        &["version"],
    ] {
        let r = stackr(args);
        assert!(r.code == 0, "stackr {args:?} failed: {}", r.stderr);
        if args[0] == "run" {
            // The one-off had secrets of its own, gone with it.
            assert!(r.stdout.contains("one-off reads it"), "{}", r.stdout);
            let vols = docker(&[
                "volume",
                "ls",
                "-q",
                "--filter",
                &format!("label=io.stackr.stack={}", s.name),
            ]);
            assert!(!vols.contains("-run-"), "{vols}");
        }
        outputs.push(r);
    }
    // stackr's own output never shows a value.
    for r in &outputs {
        for secret in [FILE_SECRET, ENV_SECRET, "rotated-value-55aa"] {
            assert!(
                !r.stdout.contains(secret) && !r.stderr.contains(secret),
                "stackr printed a secret"
            );
        }
    }
    let r = stackr(&["down"]);
    ok(&r, "down");
    for secret in [FILE_SECRET, ENV_SECRET, "rotated-value-55aa"] {
        assert!(!r.stdout.contains(secret) && !r.stderr.contains(secret));
    }
    assert_eq!(
        s.count("volume"),
        0,
        "secrets volumes go with their containers"
    );
}

/// Hardening reaches the engine and holds inside the container: limits and reservations,
/// a read-only root with a writable tmpfs, dropped and added capabilities, no new privileges,
/// a user; `plan` warns about what is missing and honours `acknowledge`.
#[test]
fn hardening_is_applied_and_verifiable() {
    let s = TestStack::new("harden", |n| {
        format!(
            r#"
stack "{n}"
service "app" {{
    image "{n}:img"
    build "./img"
    command "sh" "-c" "trap 'exit 0' TERM; while true; do sleep 0.2; done"
    limits cpus=0.5 memory="64m" pids=64
    reservations memory="32m"
    read-only #true
    tmpfs "/tmp" size="8m"
    cap-drop "ALL"
    cap-add "NET_BIND_SERVICE"
    no-new-privileges #true
    user "1000:1000"
    init #true
}}
service "loose" {{
    image "{n}:img"
    command "sh" "-c" "trap 'exit 0' TERM; while true; do sleep 0.2; done"
    init #true
    acknowledge "writable-root"
}}
"#
        )
    });
    let r = s.stackr(&["plan"]);
    // `loose` runs as root with no memory limit: warned; its writable root is acknowledged.
    assert!(r.stdout.contains("loose: runs as root"), "{}", r.stdout);
    assert!(r.stdout.contains("no memory limit"), "{}", r.stdout);
    let loose_line = r
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("loose:"))
        .unwrap_or_default();
    assert!(!loose_line.contains("writable"), "{loose_line}");
    assert!(
        !r.stdout.lines().any(|l| l.trim_start().starts_with("app:")),
        "app is hardened: {}",
        r.stdout
    );
    ok(&s.stackr(&["up", "-d"]), "up");
    let c = format!("{}-app-1", s.name);
    let host = |f: &str| docker(&["inspect", "--format", f, &c]).trim().to_string();
    assert_eq!(host("{{.HostConfig.NanoCpus}}"), "500000000");
    assert_eq!(host("{{.HostConfig.Memory}}"), (64u64 << 20).to_string());
    assert_eq!(
        host("{{.HostConfig.MemoryReservation}}"),
        (32u64 << 20).to_string()
    );
    assert_eq!(host("{{.HostConfig.PidsLimit}}"), "64");
    assert_eq!(host("{{.HostConfig.ReadonlyRootfs}}"), "true");
    assert_eq!(host("{{json .HostConfig.CapDrop}}"), r#"["ALL"]"#);
    assert_eq!(
        host("{{json .HostConfig.CapAdd}}"),
        r#"["NET_BIND_SERVICE"]"#
    );
    assert!(host("{{json .HostConfig.SecurityOpt}}").contains("no-new-privileges"));
    assert_eq!(host("{{.Config.User}}"), "1000:1000");
    // And inside: the user (so no effective capabilities), a bounding set of only
    // NET_BIND_SERVICE (bit 10), no new privileges, a read-only root and a writable tmpfs.
    let r = s.stackr(&[
        "exec",
        "-T",
        "app",
        "sh",
        "-c",
        "id -u; grep -E '^(NoNewPrivs|CapEff|CapBnd)' /proc/self/status | tr -s '\\t' ' '; touch /x 2>/dev/null && echo root-writable; touch /tmp/x && echo tmp-writable",
    ]);
    assert_eq!(
        r.stdout,
        "1000\nCapEff: 0000000000000000\nCapBnd: 0000000000000400\nNoNewPrivs: 1\ntmp-writable\n",
        "{}",
        r.stderr
    );
    ok(&s.stackr(&["down"]), "down");
}

/// The probe volume is shared by every stack on the engine: runs of several stacks that fill
/// it at the same moment all succeed, and leave the probe whole (a collision made `up` fail
/// in CI once: "lchown /fill/probe: no such file or directory").
#[test]
fn concurrent_probe_fills_all_succeed() {
    let s = TestStack::new("probe-race", |n| {
        format!(
            "stack \"{n}\"\nservice \"app\" {{\n    image \"{n}:img\"\n    build \"./img\"\n}}\n"
        )
    });
    ok(&s.stackr(&["build"]), "build");
    let image = format!("{}:img", s.name);
    let volume = format!("{}-probe", s.name);
    let binary: &'static [u8] = Box::leak(vec![7u8; 4 << 20].into_boxed_slice());
    let probe = stackr_reconcile::apply::ProbeRunner {
        volume: volume.clone(),
        image: format!("{}-probe:img", s.name),
        binary,
    };
    let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    let results = rt.block_on(async {
        let engine = stackr_docker::DockerEngine::connect()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        // Every run uses its own stack's helper name, as separate stacks do.
        let stacks: Vec<String> = (0..12).map(|i| format!("{}-{i}", s.name)).collect();
        let mut results = Vec::new();
        for _ in 0..3 {
            let fills = stacks
                .iter()
                .map(|st| stackr_reconcile::apply::ensure_probe(&engine, &probe, &image, st));
            results.extend(futures::future::join_all(fills).await);
        }
        // A second round finds it whole.
        let again =
            stackr_reconcile::apply::ensure_probe(&engine, &probe, &image, &stacks[0]).await;
        (results, again)
    });
    // Whole: its size and its bytes.
    let seen = docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        &format!("{volume}:/p:ro"),
        &image,
        "sh",
        "-c",
        "wc -c < /p/probe; tr -d '\\007' < /p/probe | wc -c",
    ]);
    docker(&["volume", "rm", "-f", &volume]);
    assert_eq!(
        seen.split_whitespace().collect::<Vec<_>>(),
        ["4194304", "0"],
        "{seen}"
    );
    for r in &results.0 {
        assert!(r.is_ok(), "{r:?}");
    }
    assert!(results.1.is_ok(), "{:?}", results.1);
    let names = docker(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(
        !names.contains(&format!("{}-0-stackr-probe-fill", s.name)),
        "helpers are removed: {names}"
    );
}

#[test]
fn a_secret_target_outside_run_secrets_is_delivered_and_rotated() {
    let s = TestStack::new("secret-target", |n| {
        format!(
            r#"
stack "{n}"
secret "token" file="./token.txt"
service "app" {{
    image "{n}:img"
    build "./img"
    command "sh" "-c" "trap 'exit 0' TERM; while true; do sleep 0.2; done"
    secret "token" target="/etc/app/token" mode=0o400
}}
"#
        )
    });
    std::fs::write(s.dir.join("token.txt"), "first value").unwrap_or_else(|e| panic!("{e}"));
    ok(&s.stackr(&["up", "-d"]), "up");
    let name = format!("{}-app-1", s.name);
    let read = || docker(&["exec", &name, "cat", "/etc/app/token"]);
    assert_eq!(read(), "first value");
    // Nothing is mounted over /etc: the link points into the secrets volume.
    let link = docker(&["exec", &name, "readlink", "/etc/app/token"]);
    assert_eq!(link.trim(), "/run/secrets/.targets/etc/app/token");
    std::fs::write(s.dir.join("token.txt"), "second value").unwrap_or_else(|e| panic!("{e}"));
    let r = s.stackr(&["plan"]);
    assert!(r.stdout.contains("secret `token`"), "{}", r.stdout);
    ok(&s.stackr(&["up", "-d"]), "up after the rotation");
    assert_eq!(read(), "second value");
    let r = s.stackr(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
}

#[test]
fn an_inline_config_is_delivered_with_its_mode_and_changed_in_place() {
    let s = TestStack::new("inline-config", |n| {
        format!(
            r#"
stack "{n}"
config "motd" content="first motd"
service "app" {{
    image "{n}:img"
    build "./img"
    command "sh" "-c" "trap 'exit 0' TERM; while true; do sleep 0.2; done"
    config "motd" target="/etc/motd" uid=1000 mode=0o440
}}
"#
        )
    });
    ok(&s.stackr(&["check"]), "check");
    ok(&s.stackr(&["up", "-d"]), "up");
    let name = format!("{}-app-1", s.name);
    let read = || docker(&["exec", &name, "cat", "/etc/motd"]);
    assert_eq!(read(), "first motd");
    let stat = docker(&["exec", &name, "stat", "-L", "-c", "%u %a", "/etc/motd"]);
    assert_eq!(stat.trim(), "1000 440");
    // A new content recreates its user, naming the config.
    let text = std::fs::read_to_string(s.dir.join("stack.kdl")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        s.dir.join("stack.kdl"),
        text.replace("first motd", "second motd"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let r = s.stackr(&["plan"]);
    assert!(r.stdout.contains("config `motd`"), "{}", r.stdout);
    ok(&s.stackr(&["up", "-d"]), "up after the change");
    assert_eq!(read(), "second motd");
    let r = s.stackr(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
}

/// The compose commands of issue 18 on the daemon: `pause`/`unpause` (and `up` thaws what
/// is paused), `images`, `volumes`.
#[test]
fn pause_unpause_images_and_volumes() {
    let s = TestStack::new("pause", |n| {
        format!(
            r#"
stack "{n}"
volume "data"
volume "other"

service "app" {{
    image "{n}:img"
    build "./img"
    command "sh" "-c" "trap 'exit 0' TERM; i=0; while true; do i=$$((i+1)); echo $$i > /data/tick; sleep 0.1; done"
    mount "data" "/data"
}}

service "side" {{
    image "{n}:img"
    command "sh" "-c" "trap 'exit 0' TERM; while true; do sleep 0.2; done"
    mount "other" "/other"
}}
"#
        )
    });
    ok(&s.stackr(&["up", "-d"]), "up");
    ok(&s.stackr(&["pause", "app"]), "pause");
    let states = s.containers();
    let app = format!("{}-app-1", s.name);
    assert_eq!(states[&app].1, "paused", "{states:?}");
    assert_eq!(states[&format!("{}-side-1", s.name)].1, "running");
    // Frozen: the counter does not move.
    let tick = || docker(&["exec", &app, "cat", "/data/tick"]);
    let r = s.stackr(&["ps", "--format", "json"]);
    assert!(r.stdout.contains("paused"), "{}", r.stdout);
    let frozen = docker(&[
        "run",
        "--rm",
        "-v",
        &format!("{}_data:/d", s.name),
        &format!("{}:img", s.name),
        "cat",
        "/d/tick",
    ]);
    std::thread::sleep(Duration::from_millis(400));
    let still = docker(&[
        "run",
        "--rm",
        "-v",
        &format!("{}_data:/d", s.name),
        &format!("{}:img", s.name),
        "cat",
        "/d/tick",
    ]);
    assert_eq!(frozen, still, "a paused container runs on");
    // The plan says so, and `up` thaws it; a second `up` does nothing.
    let r = s.stackr(&["plan"]);
    assert!(r.stdout.contains("1 to unpause"), "{}", r.stdout);
    ok(&s.stackr(&["up", "-d"]), "up thaws");
    assert_eq!(s.containers()[&app].1, "running");
    let r = s.stackr(&["plan"]);
    assert!(
        r.stdout.contains("nothing to do") || !r.stdout.contains("to "),
        "{}",
        r.stdout
    );
    ok(&s.stackr(&["pause"]), "pause all");
    assert!(s.containers().values().all(|(_, st)| st == "paused"));
    let r = s.stackr(&["pause"]);
    ok(&r, "pausing again is nothing to do");
    ok(&s.stackr(&["unpause"]), "unpause all");
    assert!(s.containers().values().all(|(_, st)| st == "running"));
    let before = tick();
    std::thread::sleep(Duration::from_millis(400));
    assert_ne!(before, tick(), "unpaused, it runs again");
    // images: each container's image, with the engine's id and size.
    let r = s.stackr(&["images", "--format", "json"]);
    ok(&r, "images");
    let rows: serde_json::Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}"));
    let id = docker(&[
        "image",
        "inspect",
        "-f",
        "{{.Id}}",
        &format!("{}:img", s.name),
    ]);
    assert_eq!(rows.as_array().map(Vec::len), Some(2), "{rows}");
    for row in rows.as_array().into_iter().flatten() {
        assert_eq!(row["id"], id.trim(), "{row}");
        assert!(row["size"].as_i64().is_some_and(|n| n > 100_000), "{row}");
    }
    let r = s.stackr(&["images", "app"]);
    assert!(
        r.stdout.contains("IMAGE ID") && r.stdout.contains(&app),
        "{}",
        r.stdout
    );
    let r = s.stackr(&["images", "-q"]);
    assert_eq!(r.stdout.trim(), id.trim());
    // volumes: the stack's, or those a service mounts.
    let r = s.stackr(&["volumes", "-q"]);
    assert_eq!(
        r.stdout.lines().collect::<Vec<_>>(),
        [format!("{}_data", s.name), format!("{}_other", s.name)]
    );
    let r = s.stackr(&["volumes", "--format", "json", "side"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v[0]["name"], format!("{}_other", s.name));
    assert_eq!(v.as_array().map(Vec::len), Some(1));
    let r = s.stackr(&["volumes", "nope"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    ok(&s.stackr(&["down", "-v"]), "down");
}

/// `logs --since/--until` (the engine's own times), `--no-prefix` and `--index`.
#[test]
fn logs_since_until_without_prefix_and_by_index() {
    let s = TestStack::new("logtimes", |n| {
        format!(
            r#"
stack "{n}"
service "talk" {{
    image "{n}:img"
    build "./img"
    scale 2
    command "sh" "-c" "trap 'exit 0' TERM; echo first; sleep 3; echo second; while true; do sleep 0.2; done"
}}
"#
        )
    });
    ok(&s.stackr(&["up", "-d"]), "up");
    let two = format!("{}-talk-2", s.name);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !docker(&["logs", &two]).contains("second") {
        assert!(std::time::Instant::now() < deadline, "no second line");
        std::thread::sleep(Duration::from_millis(200));
    }
    let started = docker(&["inspect", "-f", "{{.State.StartedAt}}", &two]);
    let t0 =
        stackr_spec::units::parse_log_time(started.trim(), 0).unwrap_or_else(|e| panic!("{e}"));
    let lines = |args: &[&str]| -> Vec<String> {
        let r = s.stackr(args);
        ok(&r, "logs");
        r.stdout.lines().map(str::to_string).collect()
    };
    let all = lines(&["logs", "--index", "2", "--no-prefix"]);
    assert_eq!(all, ["first", "second"]);
    let later = lines(&[
        "logs",
        "--index",
        "2",
        "--no-prefix",
        "--since",
        &(t0 + 2).to_string(),
    ]);
    assert_eq!(later, ["second"]);
    let early = lines(&[
        "logs",
        "--index",
        "2",
        "--no-prefix",
        "--until",
        &(t0 + 1).to_string(),
    ]);
    assert_eq!(early, ["first"]);
    // With the prefix, both containers; `--index 1` only the first.
    let both = lines(&["logs"]);
    assert_eq!(both.len(), 4, "{both:?}");
    assert!(both.iter().all(|l| l.contains(" | ")), "{both:?}");
    let one = lines(&["logs", "--index", "1"]);
    assert!(
        one.len() == 2
            && one
                .iter()
                .all(|l| l.starts_with(&format!("{}-talk-1 ", s.name))),
        "{one:?}"
    );
    let r = s.stackr(&["logs", "--since", "yesterday"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--since"), "{}", r.stderr);
    ok(&s.stackr(&["down"]), "down");
}

/// `create` (`up --no-start`), and attached `up` with `--abort-on-container-failure`,
/// `--no-attach`/`--attach` and `--timestamps`.
#[test]
fn create_and_the_attached_up_flags_of_compose() {
    let s = TestStack::new("upflags", |n| {
        format!(
            r#"
stack "{n}"
service "fine" {{
    image "{n}:img"
    build "./img"
    restart "no"
    command "sh" "-c" "echo fine-line; sleep 0.5; exit 0"
}}
service "bad" {{
    image "{n}:img"
    restart "no"
    command "sh" "-c" "echo bad-line; sleep 2; exit 3"
}}
service "chatty" {{
    image "{n}:img"
    command "sh" "-c" "trap 'exit 0' TERM; echo chatty-line; while true; do sleep 0.2; done"
}}
"#
        )
    });
    ok(&s.stackr(&["create"]), "create");
    let states = s.containers();
    assert_eq!(states.len(), 3, "{states:?}");
    assert!(states.values().all(|(_, st)| st == "created"), "{states:?}");
    let r = s.stackr(&["plan", "--format", "json"]);
    assert!(
        r.stdout.contains("\"start\""),
        "a later up starts them: {}",
        r.stdout
    );
    // A container that exits 0 ends nothing; one that fails stops the stack with its code.
    let r = s.stackr(&[
        "up",
        "--abort-on-container-failure",
        "--no-attach",
        "chatty",
        "--timestamps",
    ]);
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("bad-line") && r.stdout.contains("fine-line"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("chatty-line"), "{}", r.stdout);
    let bad = r
        .stdout
        .lines()
        .find(|l| l.contains("bad-line"))
        .unwrap_or_default();
    assert!(
        bad.contains("| 20") && bad.contains('T'),
        "timestamps: {bad}"
    );
    assert!(s.containers().values().all(|(_, st)| st != "running"));
    // --attach shows only the services named.
    let r = s.stackr(&["up", "--abort-on-container-failure", "--attach", "chatty"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stdout.contains("chatty-line") && !r.stdout.contains("bad-line"),
        "{}",
        r.stdout
    );
    let r = s.stackr(&["up", "--attach", "nope"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("no service `nope`"), "{}", r.stderr);
    ok(&s.stackr(&["down"]), "down");
}

/// `run --env-from-file`, `-v`, `-l`, `--name`, `--service-ports` and `--use-aliases`.
/// Regression: `run` of a service without dependencies on a stack that is not up failed: its
/// image was not built and its network did not exist.
#[test]
fn run_with_the_flags_of_compose() {
    let s = TestStack::new("runflags", |n| {
        format!(
            r#"
stack "{n}"
volume "data"
service "app" {{
    image "{n}:img"
    build "./img"
    port "127.0.0.1::80"
    command "sh" "-c" "trap 'exit 0' TERM; while true; do sleep 0.2; done"
}}
"#
        )
    });
    std::fs::write(s.dir.join("vars.env"), "A=1\nB=0\n").unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(s.dir.join("host")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(s.dir.join("host/hello.txt"), "hi\n").unwrap_or_else(|e| panic!("{e}"));
    let r = s.stackr(&[
        "run",
        "--rm",
        "--env-from-file",
        "vars.env",
        "-e",
        "B=2",
        "app",
        "sh",
        "-c",
        "echo $A $B",
    ]);
    assert_eq!(r.stdout, "1 2\n", "{}", r.stderr);
    let r = s.stackr(&[
        "run",
        "--rm",
        "-v",
        "data:/d",
        "-v",
        "./host:/h:ro",
        "app",
        "sh",
        "-c",
        "cat /h/hello.txt; echo kept > /d/f; touch /h/x 2>/dev/null || echo read-only",
    ]);
    assert_eq!(r.stdout, "hi\nread-only\n", "{}", r.stderr);
    let r = s.stackr(&["run", "--rm", "-v", "data:/d", "app", "cat", "/d/f"]);
    assert_eq!(r.stdout, "kept\n", "{}", r.stderr);
    // A name, a label, the service's ports and aliases.
    let custom = format!("{}-custom", s.name);
    let r = s.stackr(&[
        "run",
        "-d",
        "--name",
        &custom,
        "-l",
        "team=core",
        "--service-ports",
        "--use-aliases",
        "app",
        "sleep",
        "30",
    ]);
    ok(&r, "run -d");
    assert_eq!(r.stdout.trim(), custom);
    let label = docker(&[
        "inspect",
        "-f",
        "{{index .Config.Labels \"team\"}}",
        &custom,
    ]);
    assert_eq!(label.trim(), "core");
    let port = docker(&["port", &custom, "80/tcp"]);
    assert!(port.starts_with("127.0.0.1:"), "{port}");
    let nets = docker(&[
        "inspect",
        "-f",
        "{{json .NetworkSettings.Networks}}",
        &custom,
    ]);
    assert!(nets.contains("\"app\""), "{nets}");
    // Without the flags: no ports, no aliases.
    let r = s.stackr(&["run", "-d", "app", "sleep", "30"]);
    ok(&r, "run -d plain");
    let plain = r.stdout.trim().to_string();
    assert_eq!(docker(&["port", &plain]).trim(), "");
    let nets = docker(&[
        "inspect",
        "-f",
        "{{json .NetworkSettings.Networks}}",
        &plain,
    ]);
    assert!(!nets.contains("\"app\""), "{nets}");
    let r = s.stackr(&["run", "-v", "data", "app", "true"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    ok(&s.stackr(&["down", "-v"]), "down");
}

/// `wait` (with `--down-project`) and `scale`, as compose has them.
#[test]
fn wait_and_scale() {
    let s = TestStack::new("waitscale", |n| {
        format!(
            r#"
stack "{n}"
service "job" {{
    image "{n}:img"
    build "./img"
    restart "no"
    command "sh" "-c" "sleep 1; exit 4"
}}
service "svc" {{
    image "{n}:img"
    command "sh" "-c" "trap 'exit 0' TERM; while true; do sleep 0.2; done"
}}
"#
        )
    });
    ok(&s.stackr(&["up", "-d"]), "up");
    let r = s.stackr(&["wait", "job"]);
    assert_eq!(r.code, 4, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.stdout, format!("{}-job-1 exited with code 4\n", s.name));
    ok(&s.stackr(&["scale", "svc=3"]), "scale up");
    let svc: Vec<String> = s
        .containers()
        .into_keys()
        .filter(|n| n.contains("-svc-"))
        .collect();
    assert_eq!(svc.len(), 3, "{svc:?}");
    ok(&s.stackr(&["scale", "svc=1"]), "scale down");
    assert_eq!(
        s.containers()
            .keys()
            .filter(|n| n.contains("-svc-"))
            .count(),
        1
    );
    let r = s.stackr(&["scale", "svc"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    // The job has stopped already: `wait` says so at once; `--down-project` takes it down.
    let r = s.stackr(&["wait", "--down-project", "job"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(s.containers().is_empty(), "{:?}", s.containers());
    let r = s.stackr(&["wait"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("no container"), "{}", r.stderr);
}

/// The engine's container options (`dns`, `ipc "service:X"`, `cpu-shares`...) reach the
/// container; fields this engine's API lacks are refused by the plan, naming the version.
/// A network's ipam (subnet, range, gateway, aux address), driver options and a fixed address
/// reach the engine; a change of them is refused while the network exists.
#[test]
fn network_ipam_and_driver_options_reach_the_engine() {
    let s = TestStack::new("ipam", |n| {
        format!(
            r#"
stack "{n}"
network "back" {{
    driver-opts {{
        com.docker.network.driver.mtu "1400"
    }}
    ipam {{
        subnet "10.213.0.0/16" ip-range="10.213.7.0/24" gateway="10.213.7.254" {{
            aux-addresses {{
                reserved "10.213.7.1"
            }}
        }}
    }}
}}
service "app" {{
    image "{n}:img"
    build "./img"
    network "back" {{
        ipv4-address "10.213.7.10"
    }}
    command "sh" "-c" "trap 'exit 0' TERM; while true; do sleep 0.2; done"
}}
"#
        )
    });
    ok(&s.stackr(&["up", "-d"]), "up");
    let net = format!("{}_back", s.name);
    let inspect = |f: &str| {
        docker(&["network", "inspect", "-f", f, &net])
            .trim()
            .to_string()
    };
    assert_eq!(
        inspect("{{json .IPAM.Config}}"),
        r#"[{"Subnet":"10.213.0.0/16","IPRange":"10.213.7.0/24","Gateway":"10.213.7.254","AuxiliaryAddresses":{"reserved":"10.213.7.1"}}]"#
    );
    assert_eq!(
        inspect("{{index .Options \"com.docker.network.driver.mtu\"}}"),
        "1400"
    );
    let app = format!("{}-app-1", s.name);
    let ip = docker(&[
        "inspect",
        "-f",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        &app,
    ]);
    assert_eq!(ip.trim(), "10.213.7.10");
    let r = s.stackr(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    // Another subnet: refused, with the way out.
    let text = std::fs::read_to_string(s.dir.join("stack.kdl")).unwrap_or_default();
    s.write(
        text.replace("ip-range=\"10.213.7.0/24\"", "ip-range=\"10.213.8.0/24\"")
            .replace(
                "ipv4-address \"10.213.7.10\"",
                "ipv4-address \"10.213.8.10\"",
            )
            .replace("gateway=\"10.213.7.254\"", "gateway=\"10.213.8.254\""),
    );
    let r = s.stackr(&["plan"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let said = format!("{}{}", r.stdout, r.stderr);
    assert!(
        said.contains("was made with other driver options, IPv6 or ipam settings")
            && said.contains("`stackr down`, then `stackr up`"),
        "{said}"
    );
    ok(&s.stackr(&["down"]), "down");
    ok(&s.stackr(&["up", "-d"]), "up with the new subnet");
    assert!(inspect("{{json .IPAM.Config}}").contains("10.213.8.0/24"));
    ok(&s.stackr(&["down"]), "down");
}

/// A build's extra tags, image labels, cache sources, network, platform and shared memory
/// reach the engine's builder.
#[test]
fn build_tags_labels_network_platform_and_shm_size_reach_the_builder() {
    let s = TestStack::new("buildopts", |n| {
        format!(
            r#"
stack "{n}"
service "app" {{
    image "{n}:img"
    build "./img" network="none" platform="linux/amd64" shm-size="96m" {{
        tags "{n}:extra" "{n}-mirror:2"
        labels {{
            com.example.built "by-stackr"
        }}
        cache-from "{n}:img"
    }}
    command "sh" "-c" "trap 'exit 0' TERM; while true; do sleep 0.2; done"
}}
"#
        )
    });
    let dockerfile = s.dir.join("img/Dockerfile");
    let text = std::fs::read_to_string(&dockerfile).unwrap_or_default();
    std::fs::write(
        &dockerfile,
        format!(
            "{text}RUN [\"/bin/sh\", \"-c\", \"df -k /dev/shm | tail -1 > /shm.txt; cat /proc/net/dev > /net.txt\"]\n"
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    ok(&s.stackr(&["up", "-d", "--build"]), "up");
    let img = format!("{}:img", s.name);
    let id = |r: &str| {
        docker(&["image", "inspect", "-f", "{{.Id}}", r])
            .trim()
            .to_string()
    };
    // Every tag names the one image.
    assert!(!id(&img).is_empty());
    assert_eq!(id(&format!("{}:extra", s.name)), id(&img));
    assert_eq!(id(&format!("{}-mirror:2", s.name)), id(&img));
    assert_eq!(
        docker(&[
            "image",
            "inspect",
            "-f",
            "{{index .Config.Labels \"com.example.built\"}}",
            &img
        ])
        .trim(),
        "by-stackr"
    );
    assert_eq!(
        docker(&["image", "inspect", "-f", "{{.Os}}/{{.Architecture}}", &img]).trim(),
        "linux/amd64"
    );
    let app = format!("{}-app-1", s.name);
    // RUN had 96 MiB of shared memory and no network but loopback.
    let shm = docker(&["exec", &app, "cat", "/shm.txt"]);
    assert!(shm.contains("98304"), "{shm}");
    let net = docker(&["exec", &app, "cat", "/net.txt"]);
    assert!(net.contains("lo:") && !net.contains("eth0"), "{net}");
    // Another image label rebuilds; the same file does nothing.
    let r = s.stackr(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let text = std::fs::read_to_string(s.dir.join("stack.kdl")).unwrap_or_default();
    s.write(text.replace("by-stackr", "again"));
    let r = s.stackr(&["plan"]);
    assert!(r.stdout.contains("to build"), "{}", r.stdout);
    ok(&s.stackr(&["down"]), "down");
    for t in [format!("{}:extra", s.name), format!("{}-mirror:2", s.name)] {
        let _ = docker(&["rmi", &t]);
    }
}

/// An `ssh-agent` of the test's own, on a socket in the test's folder, stopped on drop.
struct Agent {
    child: std::process::Child,
    socket: PathBuf,
}

impl Agent {
    fn start(dir: &std::path::Path) -> Agent {
        let socket = dir.join("agent.sock");
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start ssh-agent (.ci/run installs it): {e}"));
        let agent = Agent { child, socket };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !agent.socket.exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "ssh-agent made no socket"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        agent
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Build secrets (from a file and from a variable) and the SSH agent reach `RUN --mount`
/// steps on the engine's BuildKit, and no value is in the image; a second plan builds
/// nothing; a missing agent or variable stops `up` before the build; a failing step is named.
#[test]
fn build_secrets_and_the_ssh_agent_reach_buildkit_run_steps() {
    let s = TestStack::new("bksecret", |n| {
        format!(
            r#"
stack "{n}"
secret "npm-token" file="./token.txt"
secret "api-key" env="STACKR_IT_BK_KEY"
service "app" {{
    image "{n}:bk"
    build "./bk" dockerfile="Build.dockerfile" {{
        secret "npm-token"
        secret "api-key" id="key"
        ssh "default"
    }}
    command "sh" "-c" "trap 'exit 0' TERM; while true; do sleep 0.2; done"
}}
"#
        )
    });
    let token = "npm-token-3f9a1c";
    let key = "api-key-77d0e2";
    let secret_file = s.dir.join("token.txt");
    std::fs::write(&secret_file, token).unwrap_or_else(|e| panic!("{e}"));
    std::fs::set_permissions(
        &secret_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(s.dir.join("bk")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::copy(s.dir.join("img/busybox"), s.dir.join("bk/busybox"))
        .unwrap_or_else(|e| panic!("{e}"));
    let dockerfile = "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n\
        RUN --mount=type=secret,id=npm-token --mount=type=secret,id=key sh -c 'sha256sum /run/secrets/npm-token > /seen-token; sha256sum /run/secrets/key > /seen-key'\n\
        RUN --mount=type=ssh sh -c 'test -S \"$SSH_AUTH_SOCK\" && echo agent > /seen-ssh'\n";
    std::fs::write(s.dir.join("bk/Build.dockerfile"), dockerfile).unwrap_or_else(|e| panic!("{e}"));
    let stackr = |args: &[&str], agent: Option<&Agent>, with_key: bool| {
        let mut cmd = crate::cli::stackr(&s.dir);
        cmd.env_remove("SSH_AUTH_SOCK")
            .env_remove("STACKR_IT_BK_KEY");
        if let Some(a) = agent {
            cmd.env("SSH_AUTH_SOCK", &a.socket);
        }
        if with_key {
            cmd.env("STACKR_IT_BK_KEY", key);
        }
        run(cmd.args(args))
    };
    let image = format!("{}:bk", s.name);
    // No agent: refused before anything is built.
    let r = stackr(&["up", "-d"], None, true);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(r.stderr.contains("SSH_AUTH_SOCK"), "{}", r.stderr);
    assert!(docker(&["image", "inspect", &image]).trim() == "[]");
    // No variable: refused, naming the secret and the variable.
    let agent = Agent::start(&s.dir);
    let r = stackr(&["up", "-d"], Some(&agent), false);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stderr.contains("api-key") && r.stderr.contains("STACKR_IT_BK_KEY"),
        "{}",
        r.stderr
    );
    ok(&stackr(&["up", "-d"], Some(&agent), true), "up");
    let app = format!("{}-app-1", s.name);
    let sha = |text: &str| {
        use sha2::Digest;
        let d = sha2::Sha256::digest(text.as_bytes());
        d.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let seen = docker(&["exec", &app, "cat", "/seen-token", "/seen-key", "/seen-ssh"]);
    assert!(seen.contains(&sha(token)), "{seen}");
    assert!(seen.contains(&sha(key)), "{seen}");
    assert!(seen.contains("agent"), "{seen}");
    // No value in the image's history, config or labels.
    let history = docker(&["image", "history", "--no-trunc", &image]);
    let config = docker(&["image", "inspect", &image]);
    for value in [token, key] {
        assert!(
            !history.contains(value) && !config.contains(value),
            "{value} leaked"
        );
    }
    let r = stackr(&["plan", "--detailed-exitcode"], Some(&agent), true);
    assert_eq!(r.code, 0, "{}", r.stdout);
    // A failing step is named by the error.
    std::fs::write(
        s.dir.join("bk/Build.dockerfile"),
        format!("{dockerfile}RUN --mount=type=secret,id=key sh -c 'exit 7'\n"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let r = stackr(&["up", "-d"], Some(&agent), true);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stderr.contains("exit 7") && r.stderr.contains("exit code: 7"),
        "{}",
        r.stderr
    );
    ok(&s.stackr(&["down"]), "down");
    drop(agent);
    let _ = docker(&["rmi", &image]);
}

/// A service's link-local addresses and endpoint driver options on a network reach the
/// engine; a MAC address per network (Engine API 1.44) and a gateway priority (1.48) are
/// refused by this engine's plan, naming the versions, and nothing changes.
#[test]
fn endpoint_options_reach_the_engine_and_newer_ones_are_refused() {
    let text = |n: &str, extra: &str| {
        format!(
            r#"
stack "{n}"
network "back"
service "app" {{
    image "{n}:img"
    build "./img"
    network "back" {{
        link-local-ips "169.254.10.10"
        driver-opts {{
            com.example.endpoint "on"
        }}
        {extra}
    }}
    command "sh" "-c" "trap 'exit 0' TERM; while true; do sleep 0.2; done"
}}
"#
        )
    };
    let s = TestStack::new("endpoint", |n| text(n, ""));
    ok(&s.stackr(&["up", "-d"]), "up");
    let app = format!("{}-app-1", s.name);
    let endpoint = docker(&[
        "inspect",
        "-f",
        &format!(
            "{{{{json (index .NetworkSettings.Networks \"{}_back\")}}}}",
            s.name
        ),
        &app,
    ]);
    assert!(
        endpoint.contains(r#""LinkLocalIPs":["169.254.10.10"]"#),
        "{endpoint}"
    );
    assert!(
        endpoint.contains(r#""DriverOpts":{"com.example.endpoint":"on"}"#),
        "{endpoint}"
    );
    let addresses = docker(&["exec", &app, "ip", "addr"]);
    assert!(addresses.contains("169.254.10.10"), "{addresses}");
    let r = s.stackr(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let id = |c: &str| docker(&["inspect", "-f", "{{.Id}}", c]).trim().to_string();
    let before = id(&app);
    s.write(text(
        &s.name,
        "mac-address \"02:42:ac:1c:00:0a\"\n        gw-priority 10",
    ));
    let r = s.stackr(&["up", "-d"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let said = format!("{}{}", r.stdout, r.stderr);
    assert!(
        said.contains("`network mac-address`, which the engine takes from API 1.44")
            && said.contains("`network gw-priority`, which the engine takes from API 1.48"),
        "{said}"
    );
    assert_eq!(id(&app), before, "the container was left as it was");
    ok(&s.stackr(&["down"]), "down");
}

/// An image mount (Engine API 1.47), a volume's subpath (1.45) and a build's named contexts
/// (1.42) are refused by this engine's plan, naming the versions, rather than dropped.
#[test]
fn image_mounts_and_subpaths_are_refused_by_an_older_engine() {
    let s = TestStack::new("imgmount", |n| {
        format!(
            r#"
stack "{n}"
volume "data"
service "app" {{
    image "{n}:img"
    build "./img"
    mount "data" "/srv" subpath="site"
    mount "/opt/tools" image="{n}:img" subpath="bin"
    command "sleep" "60"
}}
service "tool" {{
    image "{n}-tool:1"
    build "./img" {{
        additional-contexts {{
            base "service:app"
        }}
    }}
    command "sleep" "60"
}}
"#
        )
    });
    let r = s.stackr(&["plan"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let said = format!("{}{}", r.stdout, r.stderr);
    // Named build contexts come with the engine's BuildKit 0.10 (Docker Engine 23).
    assert!(
        said.contains("`build additional-contexts`, which the engine takes from API 1.42"),
        "{said}"
    );
    assert!(
        said.contains("`mount subpath=`, which the engine takes from API 1.45")
            && said.contains("`mount image=`, which the engine takes from API 1.47")
            && said.contains("this engine speaks 1.41"),
        "{said}"
    );
    // Nothing was made.
    let r = s.stackr(&["up", "-d"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        docker(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label=io.stackr.stack={}", s.name)
        ])
        .trim()
        .is_empty()
    );
}

/// The output of a child that ends by itself, killed after `limit` (a hung run fails the
/// test rather than the suite).
fn output_within(mut child: std::process::Child, limit: Duration) -> std::process::Output {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if let Ok(None) = child.try_wait() {
        let _ = child.kill();
    }
    child.wait_with_output().unwrap_or_else(|e| panic!("{e}"))
}

/// `attach`: this process's input reaches the container's main process, its output comes
/// back, and the container's exit code is stackr's.
#[test]
fn attach_sends_input_shows_output_and_returns_the_exit_code() {
    let s = TestStack::new("attach", |n| {
        format!(
            r#"
stack "{n}"
service "app" {{
    image "{n}:img"
    build "./img"
    stdin-open #true
    command "sh" "-c" "echo ready; read x; echo got $$x; exit 3"
}}
service "ticker" {{
    image "{n}:img"
    command "sh" "-c" "trap 'exit 0' TERM; i=0; while true; do i=$$((i+1)); echo tick $$i; sleep 0.2; done"
}}
"#
        )
    });
    ok(&s.stackr(&["up", "-d"]), "up");
    let mut child = crate::cli::stackr(&s.dir)
        .args(["attach", "app"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    // Give the attach a moment to connect before the line goes out.
    std::thread::sleep(Duration::from_millis(800));
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        let _ = stdin.write_all(b"hello\n");
    }
    let out = output_within(child, Duration::from_secs(30));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("got hello"),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(3), "the container's exit code");
    // --no-stdin: the output only, as it comes (not the lines before the attach).
    let child = crate::cli::stackr(&s.dir)
        .args(["attach", "--no-stdin", "ticker"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    std::thread::sleep(Duration::from_millis(1500));
    ok(&s.stackr(&["stop", "ticker"]), "stop ticker");
    let out = output_within(child, Duration::from_secs(30));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let ticks: Vec<&str> = stdout.lines().filter(|l| l.starts_with("tick ")).collect();
    assert!(ticks.len() >= 3, "{stdout}");
    assert_ne!(
        ticks[0], "tick 1",
        "only what came after the attach: {stdout}"
    );
    assert_eq!(out.status.code(), Some(0), "stopped by TERM, exit 0");
    // Not running: said, with the state.
    let r = s.stackr(&["attach", "app"]);
    assert_ne!(r.code, 0);
    ok(&s.stackr(&["down"]), "down");
}

/// A registry of the test's own on loopback (Debian's `docker-registry`), killed on drop.
struct LoopbackRegistry {
    child: std::process::Child,
    port: u16,
    dir: PathBuf,
}

impl LoopbackRegistry {
    fn start(tag: &str) -> LoopbackRegistry {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("{e}"));
        let dir =
            std::env::temp_dir().join(format!("stackr-registry-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data")).unwrap_or_else(|e| panic!("{e}"));
        let config = dir.join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.join("data").display()
            ),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("docker-registry is needed (Debian's package; .ci/run installs it): {e}")
            });
        let r = LoopbackRegistry { child, port, dir };
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the registry did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        r
    }

    /// The tags the registry holds for `repo` (its HTTP API, `GET /v2/REPO/tags/list`).
    fn tags(&self, repo: &str) -> String {
        use std::io::{Read, Write};
        let mut conn = std::net::TcpStream::connect(("127.0.0.1", self.port))
            .unwrap_or_else(|e| panic!("{e}"));
        let _ = write!(
            conn,
            "GET /v2/{repo}/tags/list HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"
        );
        let mut reply = String::new();
        let _ = conn.read_to_string(&mut reply);
        reply
    }
}

impl Drop for LoopbackRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `push`: the built services' images and their build tags reach the registry; a failure
/// stops the push, or is counted with `--ignore-push-failures`.
#[test]
fn push_sends_built_images_and_their_tags_to_the_registry() {
    let registry = LoopbackRegistry::start("push");
    let port = registry.port;
    // A port nothing listens on: the second service's registry is down.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    let s = TestStack::new("push", |n| {
        format!(
            r#"
stack "{n}"
service "app" {{
    image "127.0.0.1:{port}/{n}/app:1"
    build "./img" {{
        tags "127.0.0.1:{port}/{n}/app:latest"
    }}
}}
service "down" {{
    image "127.0.0.1:{closed}/{n}/down:1"
    build "./img"
}}
service "pulled" {{
    image "127.0.0.1:{port}/{n}/pulled:1"
}}
"#
        )
    });
    ok(&s.stackr(&["build"]), "build");
    ok(&s.stackr(&["push", "app"]), "push app");
    let tags = registry.tags(&format!("{}/app", s.name));
    assert!(
        tags.contains("\"1\"") && tags.contains("\"latest\""),
        "{tags}"
    );
    // A service without a build is not pushed.
    assert!(
        registry
            .tags(&format!("{}/pulled", s.name))
            .contains("NAME_UNKNOWN")
    );
    // The registry of `down` is not there: the push fails, naming the service.
    let r = s.stackr(&["push"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("service `down`"), "{}", r.stderr);
    let r = s.stackr(&["push", "--ignore-push-failures"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("app: pushed 127.0.0.1:"), "{}", r.stderr);
    for t in ["1", "latest"] {
        let _ = docker(&["rmi", &format!("127.0.0.1:{port}/{}/app:{t}", s.name)]);
    }
    let _ = docker(&["rmi", &format!("127.0.0.1:{closed}/{}/down:1", s.name)]);
}

#[test]
fn links_volumes_from_label_files_gpus_and_blkio_reach_the_engine() {
    let s = TestStack::new("links", |n| {
        format!(
            r#"
stack "{n}"
volume "store"
service "data" {{
    image "{n}:img"
    build "./img"
    mount "store" "/data"
    command "sh" "-c" "echo kept > /data/hello; trap 'exit 0' TERM; while true; do sleep 0.2; done"
}}
service "app" {{
    image "{n}:img"
    links "data:store-alias"
    volumes-from "data:ro"
    label-file "labels.env"
    labels {{
        com.example.b "own"
    }}
    command "sh" "-c" "trap 'exit 0' TERM; while true; do sleep 0.2; done"
}}
profile "hw" {{
    service "hw" {{
        image "{n}:img"
        command "true"
        gpu "all"
        gpu driver="nvidia" {{
            device-ids "0" "3"
            capabilities "gpu" "utility"
        }}
        blkio weight=300 {{
            device-read-bps "/dev/stackr-test" "1mb"
            device-write-iops "/dev/stackr-test" 30
        }}
    }}
}}
"#
        )
    });
    std::fs::write(
        s.dir.join("labels.env"),
        "com.example.a=from-file\ncom.example.b=from-file\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    ok(&s.stackr(&["up", "-d"]), "up");
    let app = format!("{}-app-1", s.name);
    let data = format!("{}-data-1", s.name);
    let inspect = |c: &str, f: &str| docker(&["inspect", "-f", f, c]).trim().to_string();
    // Labels: the file's, under the service's own.
    assert_eq!(
        inspect(&app, "{{index .Config.Labels \"com.example.a\"}}"),
        "from-file"
    );
    assert_eq!(
        inspect(&app, "{{index .Config.Labels \"com.example.b\"}}"),
        "own"
    );
    // volumes-from: data's volume, read-only, written by data (which started first).
    assert_eq!(
        inspect(&app, "{{json .HostConfig.VolumesFrom}}"),
        format!("[\"{data}:ro\"]")
    );
    assert_eq!(docker(&["exec", &app, "cat", "/data/hello"]).trim(), "kept");
    let r = Command::new("docker")
        .args(["exec", &app, "touch", "/data/nope"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!r.status.success(), "the volume is read-only in app");
    // links: data answers to the alias on the stack's network.
    let links = inspect(
        &app,
        "{{range .NetworkSettings.Networks}}{{json .Links}}{{end}}",
    );
    assert_eq!(links, format!("[\"{data}:store-alias\"]"));
    let ip = inspect(
        &data,
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
    );
    let looked = docker(&["exec", &app, "nslookup", "store-alias"]);
    assert!(looked.contains(&ip), "store-alias is {ip}: {looked}");
    let r = s.stackr(&["graph"]);
    assert!(r.stdout.contains("wave 1: data"), "{}", r.stdout);
    // A second up changes nothing.
    let r = s.stackr(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    // GPUs and block IO limits reach the create call (no GPU here to start it with).
    let created = s.stackr(&["--profile", "hw", "create", "hw"]);
    ok(&created, "create hw");
    let hw = format!("{}-hw-1", s.name);
    // What the engine says of a limit it drops (a kernel without block IO weights) is shown,
    // as `docker create` shows it on the same engine.
    let peer = Command::new("docker")
        .args(["create", "--name", &format!("{}-peer", s.name)])
        .args(["--label", &format!("{}={}", "io.stackr.stack", s.name)])
        .args(["--blkio-weight", "300", &format!("{}:img", s.name), "true"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let _ = docker(&["rm", "-f", &format!("{}-peer", s.name)]);
    let peer_says = String::from_utf8_lossy(&peer.stderr);
    let shown = format!("{}{}", created.stdout, created.stderr);
    match peer_says.lines().find_map(|l| l.strip_prefix("WARNING: ")) {
        Some(warning) => assert!(
            shown.contains(&format!(
                "{hw}: warning: the engine says: {}",
                warning.trim()
            )),
            "docker warns `{warning}`; stackr showed:\n{shown}"
        ),
        None => assert!(!shown.contains("the engine says"), "{shown}"),
    }
    assert_eq!(
        inspect(&hw, "{{json .HostConfig.DeviceRequests}}"),
        r#"[{"Driver":"","Count":-1,"DeviceIDs":null,"Capabilities":[["gpu"]],"Options":null},{"Driver":"nvidia","Count":0,"DeviceIDs":["0","3"],"Capabilities":[["gpu","utility"]],"Options":null}]"#
    );
    assert_eq!(
        inspect(&hw, "{{json .HostConfig.BlkioDeviceReadBps}}"),
        r#"[{"Path":"/dev/stackr-test","Rate":1048576}]"#
    );
    assert_eq!(
        inspect(&hw, "{{json .HostConfig.BlkioDeviceWriteIOps}}"),
        r#"[{"Path":"/dev/stackr-test","Rate":30}]"#
    );
    ok(&s.stackr(&["--profile", "hw", "down"]), "down");
}

#[test]
fn container_options_reach_the_engine() {
    let s = TestStack::new("options", |n| {
        format!(
            r#"
stack "{n}"
service "app" {{
    image "{n}:img"
    build "./img"
    command "sh" "-c" "trap 'exit 0' TERM; while true; do sleep 0.2; done"
    dns "10.9.9.9"
    dns-search "internal.example"
    dns-opt "ndots:3"
    domainname "example.com"
    ipc "service:leader"
    pid "service:leader"
    group-add "1234"
    device-cgroup-rule "c 1:3 mr"
    runtime "runc"
    cgroup "private"
    cpu-shares 512
    cpu-period 100000
    cpu-quota 50000
    cpuset "0"
    oom-score-adj 100
}}
service "leader" {{
    image "{n}:img"
    ipc "shareable"
    command "sh" "-c" "trap 'exit 0' TERM; while true; do sleep 0.2; done"
}}
"#
        )
    });
    ok(&s.stackr(&["up", "-d"]), "up");
    let app = format!("{}-app-1", s.name);
    let leader = format!("{}-leader-1", s.name);
    let inspect = |f: &str| docker(&["inspect", "-f", f, &app]).trim().to_string();
    assert_eq!(inspect("{{json .HostConfig.Dns}}"), "[\"10.9.9.9\"]");
    assert_eq!(
        inspect("{{json .HostConfig.DnsSearch}}"),
        "[\"internal.example\"]"
    );
    assert_eq!(inspect("{{json .HostConfig.DnsOptions}}"), "[\"ndots:3\"]");
    assert_eq!(inspect("{{.Config.Domainname}}"), "example.com");
    // The engine keeps the leader's id.
    let leader_id = docker(&["inspect", "-f", "{{.Id}}", &leader])
        .trim()
        .to_string();
    assert_eq!(
        inspect("{{.HostConfig.IpcMode}}"),
        format!("container:{leader_id}")
    );
    assert_eq!(
        inspect("{{.HostConfig.PidMode}}"),
        format!("container:{leader_id}")
    );
    assert_eq!(inspect("{{json .HostConfig.GroupAdd}}"), "[\"1234\"]");
    assert_eq!(
        inspect("{{json .HostConfig.DeviceCgroupRules}}"),
        "[\"c 1:3 mr\"]"
    );
    assert_eq!(inspect("{{.HostConfig.Runtime}}"), "runc");
    assert_eq!(inspect("{{.HostConfig.CgroupnsMode}}"), "private");
    assert_eq!(inspect("{{.HostConfig.CpuShares}}"), "512");
    assert_eq!(inspect("{{.HostConfig.CpuQuota}}"), "50000");
    assert_eq!(inspect("{{.HostConfig.CpusetCpus}}"), "0");
    assert_eq!(inspect("{{.HostConfig.OomScoreAdj}}"), "100");
    // Inside: the search domain and options reach resolv.conf; the PID namespace is the
    // leader's (its `sleep` is seen).
    let resolv = docker(&["exec", &app, "cat", "/etc/resolv.conf"]);
    assert!(
        resolv.contains("internal.example") && resolv.contains("ndots:3"),
        "{resolv}"
    );
    let ps = docker(&["exec", &app, "ps"]);
    assert!(
        ps.lines().count() > 3,
        "the leader's processes are seen: {ps}"
    );
    // The leader was started first: it is what app joins.
    let r = s.stackr(&["graph"]);
    assert!(r.stdout.contains("wave 1: leader"), "{}", r.stdout);
    // A second up changes nothing.
    let r = s.stackr(&["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    // Annotations need API 1.43, a MAC address 1.44: refused on this engine, naming them.
    let text = std::fs::read_to_string(s.dir.join("stack.kdl")).unwrap_or_default();
    s.write(text.replace(
        "    oom-score-adj 100\n",
        "    oom-score-adj 100\n    annotations {\n        com.example.team \"core\"\n    }\n    mac-address \"02:42:ac:11:00:99\"\n",
    ));
    let r = s.stackr(&["plan"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let said = format!("{}{}", r.stdout, r.stderr);
    assert!(
        said.contains("`annotations`, which the engine takes from API 1.43")
            && said.contains("`mac-address`, which the engine takes from API 1.44")
            && said.contains("this engine speaks 1.41"),
        "{said}"
    );
    ok(&s.stackr(&["down"]), "down");
}

/// `stats --no-stream` (table and JSON), `export` and `commit`.
#[test]
fn stats_export_and_commit() {
    let s = TestStack::new("statsexport", |n| {
        format!(
            r#"
stack "{n}"
service "app" {{
    image "{n}:img"
    build "./img"
    command "sh" "-c" "trap 'exit 0' TERM; echo made > /made.txt; while true; do sleep 0.2; done"
    limits memory="64m"
}}
"#
        )
    });
    ok(&s.stackr(&["up", "-d"]), "up");
    let app = format!("{}-app-1", s.name);
    let r = s.stackr(&["stats", "--no-stream", "--format", "json"]);
    ok(&r, "stats json");
    let v: serde_json::Value =
        serde_json::from_str(r.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    assert_eq!(v[0]["container"], app);
    assert_eq!(v[0]["memory_limit"], 64 * 1024 * 1024, "{v}");
    assert!(v[0]["memory_usage"].as_u64().is_some_and(|m| m > 0), "{v}");
    assert!(v[0]["pids"].as_u64().is_some_and(|p| p >= 2), "{v}");
    let r = s.stackr(&["stats", "--no-stream"]);
    assert!(
        r.stdout.starts_with("CONTAINER") && r.stdout.contains(&app),
        "{}",
        r.stdout
    );
    // Live: a sample a second until interrupted.
    let child = crate::cli::stackr(&s.dir)
        .args(["stats", "--format", "json"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    std::thread::sleep(Duration::from_millis(5000));
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    let samples = String::from_utf8_lossy(&out.stdout).lines().count();
    assert!(samples >= 2, "live stats sampled {samples} times");
    // export: the container's filesystem, with what it wrote.
    let tar = s.dir.join("app.tar");
    ok(
        &s.stackr(&["export", "app", "-o", &tar.display().to_string()]),
        "export",
    );
    let listing = Command::new("tar")
        .args(["-tf", &tar.display().to_string()])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(
        listing.lines().any(|l| l == "made.txt") && listing.contains("bin/busybox"),
        "{listing}"
    );
    // commit: an image of it, with a change applied.
    let reference = format!("{}-committed:1", s.name);
    let r = s.stackr(&[
        "commit",
        "-m",
        "snapshot",
        "-c",
        "ENV COMMITTED=yes",
        "app",
        &reference,
    ]);
    ok(&r, "commit");
    let made = docker(&["run", "--rm", &reference, "cat", "/made.txt"]);
    assert_eq!(made.trim(), "made");
    let comment = docker(&[
        "image",
        "inspect",
        "-f",
        "{{.Comment}} {{json .Config.Env}}",
        &reference,
    ]);
    assert!(
        comment.starts_with("snapshot ") && comment.contains("COMMITTED=yes"),
        "{comment}"
    );
    let _ = docker(&["rmi", "-f", &reference]);
    ok(&s.stackr(&["down"]), "down");
}
