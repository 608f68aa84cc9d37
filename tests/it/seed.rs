//! The seed's application, for real: `examples/residency-scheduler` (Postgres, Redis, the
//! FastAPI backend, the frontend stand-in and nginx) on the local images of its
//! `offline/build-images.sh`, built once and kept (the script skips what is up to date).
//!
//! Each test runs a copy of the example in a temp dir under a stack name of its own, on free
//! host ports, and removes everything labelled with that name when it ends, even on failure.
//! Without a daemon, or when the images cannot be built (no debootstrap, not root), they fail.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cli::{Run, run};
use crate::engine::{docker, remove_stack_objects};
use crate::support::{http, root};
use crate::watch::{Watcher, free_port};

static N: AtomicUsize = AtomicUsize::new(0);

fn example() -> PathBuf {
    root().join("examples/residency-scheduler")
}

/// Builds the offline images once per test run; the script skips those that are up to date.
fn offline_images() {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let out = Command::new(example().join("offline/build-images.sh"))
            .output()
            .map_err(|e| format!("cannot run offline/build-images.sh: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "offline/build-images.sh failed ({}): these tests need its images (it needs root, debootstrap and a Debian mirror; .ci/run installs debootstrap)\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    });
    if let Err(e) = built {
        panic!("{e}");
    }
}

/// A copy of the example under a stack name of its own, on free ports.
struct Seed {
    name: String,
    dir: PathBuf,
    http: u16,
    env: Vec<(String, String)>,
    /// The heavy tests' turn (see `support::heavy_turn`), released after the teardown.
    _turn: std::sync::MutexGuard<'static, ()>,
}

impl Seed {
    fn new(tag: &str) -> Seed {
        let info = Command::new("docker").arg("info").output();
        assert!(
            info.as_ref().is_ok_and(|o| o.status.success()),
            "the Docker daemon is not reachable: these tests need one (.ci/run starts it)"
        );
        offline_images();
        let name = format!(
            "stackr-it-seed-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let dir = std::env::temp_dir().join(&name);
        let _ = std::fs::remove_dir_all(&dir);
        let copied = Command::new("cp")
            .arg("-r")
            .arg(example())
            .arg(&dir)
            .status()
            .unwrap_or_else(|e| panic!("cannot run cp: {e}"));
        assert!(copied.success(), "copying the example failed");
        let http = free_port();
        let env = vec![
            ("HTTP_PORT".to_string(), http.to_string()),
            ("DB_PORT".to_string(), free_port().to_string()),
            ("REDIS_PORT".to_string(), free_port().to_string()),
            ("FRONTEND_PORT".to_string(), free_port().to_string()),
        ];
        Seed {
            name,
            dir,
            http,
            env,
            _turn: crate::support::heavy_turn(),
        }
    }

    fn command(&self, profiles: &[&str], args: &[&str]) -> Command {
        let mut cmd = crate::cli::stackr(&self.dir);
        cmd.env("STACKR_STACK_NAME", &self.name)
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        for p in profiles {
            cmd.args(["--profile", p]);
        }
        cmd.args(args);
        cmd
    }

    fn stackr(&self, profiles: &[&str], args: &[&str]) -> Run {
        run(&mut self.command(profiles, args))
    }

    fn container(&self, service: &str) -> String {
        format!("{}-{service}-1", self.name)
    }

    fn health(&self, service: &str) -> String {
        docker(&[
            "inspect",
            "-f",
            "{{if .State.Health}}{{.State.Health.Status}}{{end}}",
            &self.container(service),
        ])
        .trim()
        .to_string()
    }

    fn exec(&self, service: &str, script: &str) -> String {
        docker(&["exec", &self.container(service), "sh", "-c", script])
            .trim()
            .to_string()
    }
}

impl Drop for Seed {
    fn drop(&mut self) {
        remove_stack_objects(&self.name);
        for image in docker(&[
            "image",
            "ls",
            "-q",
            "--filter",
            &format!("label=io.stackr.stack={}", self.name),
        ])
        .lines()
        {
            docker(&["rmi", "-f", image]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn ok(r: &Run, what: &str) {
    assert_eq!(
        r.code, 0,
        "{what} failed\nstdout:\n{}\nstderr:\n{}",
        r.stdout, r.stderr
    );
}

/// Polls `what` until it returns `Some`, for at most `limit`.
fn eventually<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn json(text: &str, what: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {text}"))
}

fn resident_names(seed: &Seed) -> Vec<String> {
    let (status, body) = http(seed.http, "GET", "/api/residents", None);
    assert_eq!(status, 200, "GET /api/residents: {body}");
    json(&body, "the residents")
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {body}"))
        .iter()
        .filter_map(|r| r["name"].as_str().map(str::to_string))
        .collect()
}

fn add_resident(seed: &Seed, name: &str) {
    let (status, body) = http(
        seed.http,
        "POST",
        "/api/residents",
        Some(&format!(r#"{{"name": "{name}", "pgy_level": 2}}"#)),
    );
    assert_eq!(status, 201, "POST /api/residents: {body}");
}

const DEV: &[&str] = &["dev", "offline"];
const PROD: &[&str] = &["prod", "offline"];

/// Dev, as a developer uses it: everything in dependency order, a resident created through
/// nginx and listed back, `/health` over both checks and its failure when Redis stops, a watch
/// edit of a route served by uvicorn's reload, and the database's volume through
/// `--force-recreate`, `down` and `down -v`.
#[test]
fn the_seed_runs_offline_in_dev() {
    let seed = Seed::new("dev");
    let r = seed.stackr(DEV, &["up", "--wait", "--format", "json"]);
    ok(&r, "up --wait of dev");
    start_order_follows_conditions(&r.stdout);

    let (status, body) = http(seed.http, "GET", "/api/health", None);
    assert_eq!(status, 200, "{body}");
    let health = json(&body, "/health");
    assert_eq!(health["status"], "healthy", "{body}");
    assert_eq!(health["checks"]["database"], "healthy", "{body}");
    assert_eq!(health["checks"]["redis"], "healthy", "{body}");

    add_resident(&seed, "Ada Lovelace");
    assert_eq!(resident_names(&seed), ["Ada Lovelace"]);
    // The frontend renders them on the server, behind nginx.
    let (status, page) = http(seed.http, "GET", "/", None);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Ada Lovelace"), "{page}");

    redis_stopped_makes_the_backend_unhealthy(&seed);
    watch_edit_reaches_uvicorn(&seed);
    data_survives_recreate_and_down(&seed);
}

/// The JSON events of `up`: db and redis healthy before backend starts, backend healthy before
/// nginx starts, frontend after backend started.
fn start_order_follows_conditions(events: &str) {
    let mut seen: Vec<(String, String)> = Vec::new();
    for line in events.lines() {
        let e = json(line, "an event of up");
        if let (Some(event), Some(service)) = (e["event"].as_str(), e["service"].as_str()) {
            seen.push((event.to_string(), service.to_string()));
        }
    }
    let at = |event: &str, service: &str| {
        seen.iter()
            .position(|(e, s)| e == event && s == service)
            .unwrap_or_else(|| panic!("no `{event}` of {service} in:\n{events}"))
    };
    let backend_starts = at("container-starting", "backend");
    assert!(at("container-healthy", "db") < backend_starts, "{events}");
    assert!(
        at("container-healthy", "redis") < backend_starts,
        "{events}"
    );
    let nginx_starts = at("container-starting", "nginx");
    assert!(
        at("container-healthy", "backend") < nginx_starts,
        "{events}"
    );
    assert!(
        at("container-started", "frontend") < nginx_starts,
        "{events}"
    );
    assert!(
        backend_starts < at("container-starting", "frontend"),
        "{events}"
    );
}

/// `up --watch`, as a developer runs it: the stack is up already, so `up` changes nothing and
/// watches; an edit of a route is synced into the container and uvicorn reloads it. Ctrl-C
/// stops the stack (attached `up`).
fn watch_edit_reaches_uvicorn(seed: &Seed) {
    let mut w = Watcher::spawn(&mut seed.command(DEV, &["up", "--watch"]));
    w.wait_line(0, "watching backend, frontend", Duration::from_secs(60));
    let main = seed.dir.join("backend/app/main.py");
    let text = std::fs::read_to_string(&main).unwrap_or_else(|e| panic!("{e}"));
    let before = r#"return {"service": "residency-scheduler", "docs": "/docs"}"#;
    assert!(
        text.contains(before),
        "the root route changed: update this test"
    );
    let edited = text.replace(
        before,
        r#"return {"service": "residency-scheduler", "docs": "/docs", "edited": "by watch"}"#,
    );
    let saved = Instant::now();
    std::fs::write(&main, edited).unwrap_or_else(|e| panic!("{e}"));
    eventually(Duration::from_secs(60), "the edited route answers", || {
        let (status, body) = http(seed.http, "GET", "/api/", None);
        (status == 200 && body.contains("by watch")).then_some(())
    });
    eprintln!(
        "seed: save to new response through watch sync and uvicorn --reload: {:?}",
        saved.elapsed()
    );
    assert!(
        w.output().contains("backend: copied main.py in /app/app"),
        "{}",
        w.output()
    );
    let code = w.interrupt();
    assert_eq!(code, Some(0), "up --watch did not stop cleanly on Ctrl-C");
}

/// Stopping Redis: `/health` says which check fails, answers 503, and the backend's health
/// check turns unhealthy; Redis started again, it recovers.
fn redis_stopped_makes_the_backend_unhealthy(seed: &Seed) {
    ok(&seed.stackr(DEV, &["stop", "redis"]), "stop redis");
    let body = eventually(Duration::from_secs(30), "/health reports redis", || {
        let (status, body) = http(seed.http, "GET", "/api/health", None);
        (status == 503).then_some(body)
    });
    let health = json(&body, "/health");
    assert_eq!(health["status"], "unhealthy", "{body}");
    assert_eq!(health["checks"]["database"], "healthy", "{body}");
    assert!(
        health["checks"]["redis"]
            .as_str()
            .is_some_and(|s| s.starts_with("unhealthy")),
        "{body}"
    );
    eventually(Duration::from_secs(60), "backend turns unhealthy", || {
        (seed.health("backend") == "unhealthy").then_some(())
    });
    ok(&seed.stackr(DEV, &["start", "redis"]), "start redis");
    eventually(Duration::from_secs(60), "backend healthy again", || {
        (seed.health("backend") == "healthy").then_some(())
    });
}

/// The data lives in the `postgres_data` volume: kept by `--force-recreate` and `down`,
/// removed by `down -v`.
fn data_survives_recreate_and_down(seed: &Seed) {
    let r = seed.stackr(DEV, &["up", "--wait", "--force-recreate"]);
    ok(&r, "up --force-recreate");
    assert_eq!(resident_names(seed), ["Ada Lovelace"]);

    ok(&seed.stackr(DEV, &["down"]), "down");
    let volume = format!("{}_postgres_data", seed.name);
    assert_eq!(
        docker(&["volume", "ls", "-q", "-f", &format!("name=^{volume}$")]).trim(),
        volume
    );
    ok(&seed.stackr(DEV, &["up", "--wait"]), "up after down");
    assert_eq!(resident_names(seed), ["Ada Lovelace"]);

    ok(&seed.stackr(DEV, &["down", "-v"]), "down -v");
    assert_eq!(
        docker(&["volume", "ls", "-q", "-f", &format!("name=^{volume}$")]).trim(),
        ""
    );
    ok(&seed.stackr(DEV, &["up", "--wait"]), "up after down -v");
    assert!(resident_names(seed).is_empty(), "the data was removed");
}

/// Prod: secrets from a file and from the environment reach Postgres and the backend with
/// their modes and appear nowhere else; the containers run as their Dockerfiles' users; the
/// backend is read-only, without new privileges, limited, behind an internal network; `plan`
/// gives no hardening warning that is not acknowledged.
#[test]
fn the_seed_runs_offline_in_prod_and_keeps_its_secrets() {
    const DB_PASSWORD: &str = "db-pw-4f1c9e2a7b";
    const SECRET_KEY: &str = "secret-key-8d2b6a0c3e";
    let mut seed = Seed::new("prod");
    seed.env.push(("SECRET_KEY".into(), SECRET_KEY.into()));
    let pw = seed.dir.join("secrets/db_password.txt");
    std::fs::write(&pw, DB_PASSWORD).unwrap_or_else(|e| panic!("{e}"));
    let since = docker(&["system", "info", "-f", "{{.SystemTime}}"]);
    let since = since.trim();

    let mut outputs = Vec::new();
    let plan = seed.stackr(PROD, &["plan"]);
    ok(&plan, "plan of prod");
    assert!(
        !plan.stdout.contains("hardening") && !plan.stderr.contains("hardening"),
        "prod has hardening warnings not acknowledged:\n{}{}",
        plan.stdout,
        plan.stderr
    );
    outputs.push(plan);
    let up = seed.stackr(PROD, &["up", "--wait"]);
    ok(&up, "up --wait of prod");
    outputs.push(up);

    // The password reached Postgres from its file (the backend connects with it), and the
    // backend has both secrets.
    add_resident(&seed, "Grace Hopper");
    assert_eq!(resident_names(&seed), ["Grace Hopper"]);
    assert_eq!(
        seed.exec(
            "backend",
            "stat -c '%n %u %a' /run/secrets/db_password /run/secrets/secret_key"
        ),
        "/run/secrets/db_password 0 444\n/run/secrets/secret_key 1000 400"
    );
    assert_eq!(
        seed.exec("backend", "cat /run/secrets/secret_key"),
        SECRET_KEY
    );
    assert_eq!(seed.exec("db", "cat /run/secrets/db_password"), DB_PASSWORD);

    // The users the Dockerfiles name (nginx's master is root: its image names none).
    assert_eq!(seed.exec("backend", "id -un"), "appuser");
    assert_eq!(seed.exec("frontend", "id -un"), "nextjs");
    assert_eq!(seed.exec("redis", "id -un"), "redis");
    assert_eq!(
        seed.exec("db", "awk '/^Uid:/ { print $2 }' /proc/1/status"),
        "999"
    );

    // Hardening as written.
    let backend = json(
        &docker(&["inspect", &seed.container("backend")]),
        "inspect backend",
    );
    let host = &backend[0]["HostConfig"];
    assert_eq!(host["ReadonlyRootfs"], true);
    assert_eq!(host["Memory"], 4_i64 << 30);
    assert!(
        host["SecurityOpt"]
            .as_array()
            .is_some_and(|o| o.iter().any(|x| x == "no-new-privileges:true")),
        "{host}"
    );
    assert_ne!(seed.exec("backend", "touch /app/x 2>&1; echo $?"), "0");
    let internal = docker(&[
        "network",
        "inspect",
        "-f",
        "{{.Internal}}",
        &format!("{}_backend", seed.name),
    ]);
    assert_eq!(internal.trim(), "true");

    outputs.push(updated_without_downtime(&seed));

    // Nothing the engine shows, and nothing stackr printed, holds a value.
    outputs.push(seed.stackr(PROD, &["ps"]));
    outputs.push(seed.stackr(PROD, &["config"]));
    outputs.push(seed.stackr(PROD, &["logs"]));
    let mut shown = String::new();
    for r in &outputs {
        shown.push_str(&r.stdout);
        shown.push_str(&r.stderr);
    }
    let filter = format!("label=io.stackr.stack={}", seed.name);
    for kind in ["container", "volume", "network"] {
        let list = if kind == "container" {
            docker(&["ps", "-aq", "--filter", &filter])
        } else {
            docker(&[kind, "ls", "-q", "--filter", &filter])
        };
        for id in list.lines() {
            shown.push_str(&docker(&[kind, "inspect", id]));
        }
    }
    let until = docker(&["system", "info", "-f", "{{.SystemTime}}"]);
    shown.push_str(&docker(&[
        "events",
        "--since",
        since,
        "--until",
        until.trim(),
        "--format",
        "{{json .}}",
    ]));
    assert!(
        shown.contains(&seed.name),
        "the check saw the stack's objects"
    );
    for secret in [DB_PASSWORD, SECRET_KEY] {
        assert!(
            !shown.contains(secret),
            "a secret value is shown by the engine or by stackr"
        );
    }
    ok(&seed.stackr(PROD, &["down", "-v"]), "down -v");
}

/// The chapter "Updating without downtime": a new build of the backend replaces the running
/// one start-first while requests flow through nginx, and none fails.
fn updated_without_downtime(seed: &Seed) -> Run {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    let before = docker(&["inspect", "-f", "{{.Id}}", &seed.container("backend")]);
    let stop = Arc::new(AtomicBool::new(false));
    let port = seed.http;
    let flow = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let (mut served, mut failed) = (0usize, Vec::new());
            while !stop.load(Ordering::SeqCst) {
                let t = Instant::now();
                match http(port, "GET", "/api/health", None) {
                    (200, _) => served += 1,
                    (status, body) => failed.push(format!(
                        "{status} {} after {:?}, at {:?}",
                        body.trim(),
                        t.elapsed(),
                        std::time::SystemTime::now()
                    )),
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            (served, failed)
        })
    };
    let main = seed.dir.join("backend/app/main.py");
    let mut code = std::fs::read_to_string(&main).unwrap_or_else(|e| panic!("{e}"));
    code.push_str("\n# release 2\n");
    std::fs::write(&main, code).unwrap_or_else(|e| panic!("{e}"));
    let up = seed.stackr(PROD, &["up", "-d", "--build", "--no-deps", "backend"]);
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::SeqCst);
    let (served, failed) = flow
        .join()
        .unwrap_or_else(|_| panic!("the request loop panicked"));
    ok(&up, "up --build of the backend");
    assert!(
        up.stderr.contains("renamed to"),
        "start-first: {}",
        up.stderr
    );
    assert!(
        failed.is_empty(),
        "{} of {} requests failed: {failed:?}\nup said:\n{}\nnginx said:\n{}",
        failed.len(),
        served + failed.len(),
        up.stderr,
        docker(&["logs", "--since", "2m", &seed.container("nginx")])
    );
    assert!(served > 100, "requests flowed: {served}");
    let after = docker(&["inspect", "-f", "{{.Id}}", &seed.container("backend")]);
    assert_ne!(before, after, "the backend was replaced under its own name");
    up
}

// --- The compose files beside the stack file ----------------------------------------------------

/// `stackr import` of the example's compose files means what the hand-written stack file
/// means, per profile, but for the differences the chapter "The seed's stack, end to end"
/// lists (each normalised here, by name).
#[test]
fn import_of_the_compose_files_means_the_stack_file() {
    let dir = crate::cli::temp_dir("seed-import");
    let copied = Command::new("cp")
        .args(["-r", "-T"])
        .arg(example())
        .arg(&dir)
        .status()
        .unwrap_or_else(|e| panic!("cannot run cp: {e}"));
    assert!(copied.success());
    let r = run(crate::cli::stackr(&dir).args([
        "import",
        "docker-compose.yml",
        "docker-compose.dev.yml:dev",
        ".docker/docker-compose.prod.yml:prod",
        "docker-compose.offline.yml:offline",
        "-o",
        "imported.kdl",
    ]));
    ok(&r, "import");
    for profiles in [&[][..], DEV, PROD] {
        let written = resolved(&dir, "stack.kdl", profiles);
        let imported = resolved(&dir, "imported.kdl", profiles);
        for (name, want) in written.as_object().into_iter().flatten() {
            let got = &imported[name];
            assert_eq!(
                serde_json::to_string_pretty(got).unwrap_or_default(),
                serde_json::to_string_pretty(want).unwrap_or_default(),
                "service `{name}` with profiles {profiles:?}: import (left) and stack.kdl (right) differ"
            );
        }
        assert_eq!(
            imported.as_object().map(|o| o.len()),
            written.as_object().map(|o| o.len()),
            "the same services with {profiles:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The services of `config --format json`, by name, with the known differences normalised.
fn resolved(dir: &Path, file: &str, profiles: &[&str]) -> Value {
    let mut cmd = crate::cli::stackr(dir);
    cmd.args(["-f", file])
        .env("SECRET_KEY", "x")
        .env_remove("HTTP_PORT")
        .env_remove("DB_PASSWORD");
    for p in profiles {
        cmd.args(["--profile", p]);
    }
    let r = run(cmd.args(["config", "--format", "json"]));
    ok(&r, &format!("config of {file} with {profiles:?}"));
    let stack = json(&r.stdout, "config --format json");
    let mut out = serde_json::Map::new();
    for (name, s) in stack["services"].as_object().into_iter().flatten() {
        let mut s = s.clone();
        normalise(&mut s);
        out.insert(name.clone(), s);
    }
    assert_eq!(
        out.len(),
        5,
        "the five services of {file} with {profiles:?}:\n{}",
        r.stdout
    );
    Value::Object(out)
}

/// The differences between the compose files and the stack file, all on purpose.
fn normalise(s: &mut Value) {
    let name = s["name"].as_str().unwrap_or_default().to_string();
    let Some(o) = s.as_object_mut() else { return };
    // 1. `acknowledge` is stackr's own (compose has no hardening review).
    o.remove("acknowledge");
    // 2. Dev: compose bind-mounts the code, the stack file syncs it with `watch`.
    o.remove("watch");
    if let Some(Value::Array(mounts)) = o.get_mut("mounts") {
        mounts.retain(|m| m["source"].get("bind").is_none());
    }
    // 3. Health: stackr's native `http` probe for the backend and nginx; compose has to run a
    //    program of the image (python3 for the backend; nothing that all nginx images have).
    if name == "backend"
        && let Some(h) = o.get_mut("health").and_then(Value::as_object_mut)
    {
        h.remove("test");
    }
    if name == "nginx" {
        o.remove("health");
    }
    // 4. Environment: a secret's path is written `(secret)"NAME"` in the stack file; compose
    //    cannot remove a variable in an override, so prod sets it empty where the stack file
    //    removes it (the postgres image treats empty as unset).
    if let Some(Value::Array(env)) = o.get_mut("env") {
        env.retain(|e| e["value"]["text"] != "");
        for e in env.iter_mut() {
            if let Some(secret) = e["value"]["secret-path"].as_str() {
                e["value"] = serde_json::json!({ "text": format!("/run/secrets/{secret}") });
            }
        }
    }
}
