//! `stackr watch` against the real daemon: files and folders created, changed, renamed and
//! removed reach a `FROM scratch` container (no shell, no tar, no rm) on a read-only root;
//! ignored paths do not; a container restarted outside watch catches up; `sync-exec`, a
//! `rebuild` rule and an edit of the stack file are acted on.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::engine::{TestStack, docker};

/// The static demo binary (`web PORT DIR API` serves DIR), built as the root stack builds it.
pub fn demo_binary() -> PathBuf {
    let root = crate::support::root();
    let arch = std::env::consts::ARCH;
    let triple = format!("{arch}-unknown-linux-gnu");
    let status = Command::new(env!("CARGO"))
        .current_dir(&root)
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .args([
            "build",
            "--quiet",
            "--release",
            "--locked",
            "-p",
            "stackr-demo",
            "--target",
            &triple,
            "--target-dir",
            "target/demo",
        ])
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo: {e}"));
    assert!(status.success(), "building stackr-demo failed");
    root.join("target/demo")
        .join(&triple)
        .join("release/stackr-demo")
}

/// A running `stackr watch`, its output collected line by line; interrupted when dropped.
pub(crate) struct Watcher {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Watcher {
    pub(crate) fn start(dir: &Path, args: &[&str]) -> Watcher {
        Watcher::spawn(crate::cli::stackr(dir).args(args))
    }

    /// Runs `cmd` (a `stackr` command), collecting its output.
    pub(crate) fn spawn(cmd: &mut Command) -> Watcher {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start stackr watch: {e}"));
        let lines = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let lines = Arc::clone(&lines);
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if let Ok(mut l) = lines.lock() {
                        l.push(line);
                    }
                }
            });
        }
        Watcher { child, lines }
    }

    pub(crate) fn output(&self) -> String {
        self.lines.lock().map(|l| l.join("\n")).unwrap_or_default()
    }

    /// Waits until a line contains `what`, after the first `skip` lines; fails at once when
    /// stackr has exited.
    pub(crate) fn wait_line(&mut self, skip: usize, what: &str, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(l) = self.lines.lock()
                && let Some(i) = l.iter().skip(skip).position(|x| x.contains(what))
            {
                return skip + i + 1;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                // Let the readers catch the last lines.
                std::thread::sleep(Duration::from_millis(200));
                panic!(
                    "stackr exited ({status}) before a line with {what:?}:\n{}",
                    self.output()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no line with {what:?} in time:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.lines.lock().map(|l| l.len()).unwrap_or(0)
    }

    /// Ctrl-C; returns the exit code.
    pub(crate) fn interrupt(mut self) -> Option<i32> {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    l.local_addr()
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// `GET path` on loopback: `(status, body)`.
fn get(port: u16, path: &str) -> (u16, String) {
    crate::support::http(port, "GET", path, None)
}

/// Polls until `GET path` answers `status` (and `body`, when given).
fn eventually(port: u16, path: &str, status: u16, body: Option<&str>, w: &Watcher) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (s, b) = get(port, path);
        if s == status && body.is_none_or(|want| b == want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "GET {path}: {s} {b:?}, expected {status} {body:?}; watch said:\n{}",
            w.output()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn write(path: &Path, text: &str) {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).unwrap_or_else(|e| panic!("{e}"));
    }
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

#[test]
fn sync_reaches_a_scratch_container_on_a_read_only_root() {
    let port = free_port();
    let s = TestStack::new("watch-sync", |n| {
        format!(
            r#"
stack "{n}"
volume "site"
service "web" {{
    image "{n}:scratch"
    build "./scratch"
    command "web" "8080" "/srv/site" "127.0.0.1:9"
    mount "site" "/srv/site"
    port "127.0.0.1:{port}:8080"
    read-only #true
    user "65534:65534"
    cap-drop "ALL"
    no-new-privileges #true
    watch {{
        sync "./site" target="/srv/site" {{
            ignore "*.tmp"
            ignore "cache/"
        }}
    }}
}}
"#
        )
    });
    let scratch = s.dir.join("scratch");
    std::fs::create_dir_all(&scratch).unwrap_or_else(|e| panic!("{e}"));
    std::fs::copy(demo_binary(), scratch.join("stackr-demo")).unwrap_or_else(|e| panic!("{e}"));
    write(
        &scratch.join("Dockerfile"),
        "FROM scratch\nCOPY stackr-demo /stackr-demo\nENTRYPOINT [\"/stackr-demo\"]\n",
    );
    let site = s.dir.join("site");
    write(&site.join("index.html"), "first");
    std::os::unix::fs::symlink("index.html", site.join("link.html"))
        .unwrap_or_else(|e| panic!("{e}"));
    // Already in the container before watch starts: caught up by content, not by mtime.
    let mut w = Watcher::start(&s.dir, &["watch"]);
    let mut seen = w.wait_line(0, "watching web", Duration::from_secs(120));
    eventually(port, "/index.html", 200, Some("first"), &w);
    eventually(port, "/link.html", 200, Some("first"), &w);

    // Created, changed.
    write(&site.join("a.html"), "a1");
    eventually(port, "/a.html", 200, Some("a1"), &w);
    seen = w.wait_line(
        seen,
        "web: copied a.html in /srv/site (",
        Duration::from_secs(5),
    );
    assert!(seen > 0);
    write(&site.join("a.html"), "a2");
    eventually(port, "/a.html", 200, Some("a2"), &w);
    // A whole new tree of folders, however deep.
    write(&site.join("d1/d2/d3/deep.html"), "deep");
    eventually(port, "/d1/d2/d3/deep.html", 200, Some("deep"), &w);
    // Renamed file and folder: the old paths disappear in the container.
    std::fs::rename(site.join("a.html"), site.join("b.html")).unwrap_or_else(|e| panic!("{e}"));
    eventually(port, "/b.html", 200, Some("a2"), &w);
    eventually(port, "/a.html", 404, None, &w);
    std::fs::rename(site.join("d1"), site.join("e1")).unwrap_or_else(|e| panic!("{e}"));
    eventually(port, "/e1/d2/d3/deep.html", 200, Some("deep"), &w);
    eventually(port, "/d1/d2/d3/deep.html", 404, None, &w);
    // Removed file and folder.
    std::fs::remove_dir_all(site.join("e1")).unwrap_or_else(|e| panic!("{e}"));
    eventually(port, "/e1/d2/d3/deep.html", 404, None, &w);
    // A folder made again under a removed one's name is watched again.
    write(&site.join("e1/again.html"), "again");
    eventually(port, "/e1/again.html", 200, Some("again"), &w);
    write(&site.join("e1/again.html"), "again2");
    eventually(port, "/e1/again.html", 200, Some("again2"), &w);
    std::fs::remove_file(site.join("b.html")).unwrap_or_else(|e| panic!("{e}"));
    eventually(port, "/b.html", 404, None, &w);
    // Ignored paths are not synced: a later file arrives, they never do.
    write(&site.join("x.tmp"), "ignored");
    write(&site.join("cache/c.html"), "ignored");
    write(&site.join(".index.html.swp"), "editor");
    write(&site.join("marker.html"), "m");
    eventually(port, "/marker.html", 200, Some("m"), &w);
    std::thread::sleep(Duration::from_millis(300));
    for p in ["/x.tmp", "/cache/c.html", "/.index.html.swp"] {
        assert_eq!(get(port, p).0, 404, "{p} was synced:\n{}", w.output());
    }

    // A container restarted outside watch is caught up: remove a file behind watch's back
    // (with the probe runner: the image has no rm), restart, and it comes back.
    let container = format!("{}-web-1", s.name);
    docker(&[
        "exec",
        "-u",
        "0",
        &container,
        "/.stackr/probe",
        "rm",
        "/srv/site/marker.html",
    ]);
    assert_eq!(get(port, "/marker.html").0, 404);
    let before = w.len();
    docker(&["restart", "-t", "1", &container]);
    let at = w.wait_line(
        before,
        "web: caught up with ./site",
        Duration::from_secs(20),
    );
    eventually(port, "/marker.html", 200, Some("m"), &w);
    // Only what differed was sent: not the link, nor the files in step.
    let line = w
        .output()
        .lines()
        .nth(at - 1)
        .unwrap_or_default()
        .to_string();
    assert!(line.contains("copied marker.html in /srv/site"), "{line}");
    assert!(!line.contains("link") && !line.contains("index"), "{line}");

    assert_eq!(w.interrupt(), Some(0));
}

#[test]
fn sync_exec_rebuild_and_stack_file_edits() {
    let text = |n: &str, mark: &str| {
        format!(
            r#"
stack "{n}"
service "app" {{
    image "{n}:img"
    build "./img"
    command "sh" "-c" "trap 'exit 0' TERM; mkdir -p /conf; while true; do sleep 0.2; done"
    env MARK="{mark}"
    init #true
    watch {{
        rebuild "./img/version.txt"
        sync-exec "./conf" target="/conf" {{
            exec "sh" "-c" "cat /conf/c.txt > /seen; echo \" $$RELOAD $$(pwd)\" >> /seen" workdir="/conf"
            env RELOAD="yes"
        }}
    }}
}}
service "restarter" {{
    image "{n}:img"
    command "sh" "-c" "trap 'exit 0' TERM; while true; do sleep 0.2; done"
    init #true
    watch {{
        sync-restart "./settings.ini" target="/etc/settings.ini"
    }}
}}
service "follower" {{
    image "{n}:img"
    command "sh" "-c" "trap 'exit 0' TERM; while true; do sleep 0.2; done"
    init #true
    depends-on "app" restart=#true
    watch {{
        restart "./follower.conf"
    }}
}}
"#
        )
    };
    let s = TestStack::new("watch-rebuild", |n| text(n, "one"));
    write(&s.dir.join("img/version.txt"), "1");
    write(&s.dir.join("conf/c.txt"), "start");
    write(&s.dir.join("settings.ini"), "level=1");
    let mut w = Watcher::start(&s.dir, &["watch"]);
    let mut seen = w.wait_line(0, "watching app", Duration::from_secs(120));
    let container = format!("{}-app-1", s.name);

    // sync-exec: synced, then the command runs in the container.
    write(&s.dir.join("conf/c.txt"), "hello");
    seen = w.wait_line(seen, "ran `sh -c", Duration::from_secs(10));
    // With its own folder and environment.
    assert_eq!(
        docker(&["exec", &container, "cat", "/seen"]),
        "hello yes /conf\n"
    );

    // sync-restart of a single file: copied to its target, then the container restarts.
    let restarter = format!("{}-restarter-1", s.name);
    let started_at = |c: &str| docker(&["inspect", "--format", "{{.State.StartedAt}}", c]);
    let restarter_started = started_at(&restarter);
    write(&s.dir.join("settings.ini"), "level=2");
    seen = w.wait_line(
        seen,
        "restarter: copied settings.ini in /etc/settings.ini; restarted",
        Duration::from_secs(30),
    );
    assert_eq!(
        docker(&["exec", &restarter, "cat", "/etc/settings.ini"]),
        "level=2"
    );
    assert_ne!(started_at(&restarter), restarter_started);

    // rebuild: a new image, a new container.
    let id = |c: &str| docker(&["inspect", "--format", "{{.Id}}", c]);
    let before = id(&container);
    write(&s.dir.join("img/version.txt"), "2");
    let follower = format!("{}-follower-1", s.name);
    let follower_started = started_at(&follower);
    seen = w.wait_line(seen, "app: rebuilt and recreated", Duration::from_secs(120));
    assert_ne!(id(&container), before, "the container was recreated");
    // A dependent that asks to restart with it does.
    seen = w.wait_line(
        seen,
        "follower: restarted: app was rebuilt",
        Duration::from_secs(30),
    );
    assert_ne!(started_at(&follower), follower_started);
    // restart: nothing copied, the container restarted.
    let follower_started = started_at(&follower);
    write(&s.dir.join("follower.conf"), "x");
    seen = w.wait_line(
        seen,
        "follower: restarted: ./follower.conf changed",
        Duration::from_secs(30),
    );
    assert_ne!(started_at(&follower), follower_started);

    // The stack file edited while watching: re-planned and applied.
    s.write(text(&s.name, "two"));
    seen = w.wait_line(seen, "stack file applied", Duration::from_secs(60));
    let env = docker(&["inspect", "--format", "{{json .Config.Env}}", &container]);
    assert!(env.contains("MARK=two"), "{env}");
    // So is an edit of the `.env` the stack's variables come from.
    s.write(text(&s.name, "${MARK_VALUE:-two}"));
    seen = w.wait_line(seen, "stack file applied", Duration::from_secs(60));
    write(&s.dir.join(".env"), "MARK_VALUE=three\n");
    w.wait_line(seen, "stack file applied", Duration::from_secs(60));
    let env = docker(&["inspect", "--format", "{{json .Config.Env}}", &container]);
    assert!(env.contains("MARK=three"), "{env}");
    assert_eq!(w.interrupt(), Some(0));
}

/// `up --watch`: up, then watch with the logs; Ctrl-C stops the stack as an attached `up`
/// does.
#[test]
fn up_watch_streams_logs_syncs_and_stops_on_ctrl_c() {
    let s = TestStack::new("up-watch", |n| {
        format!(
            r#"
stack "{n}"
service "app" {{
    image "{n}:img"
    build "./img"
    command "sh" "-c" "trap 'exit 0' TERM; echo app is up; while true; do sleep 0.2; done"
    watch {{
        sync "./src" target="/src"
    }}
}}
"#
        )
    });
    write(&s.dir.join("src/a.txt"), "a");
    let mut w = Watcher::start(&s.dir, &["up", "--watch"]);
    let seen = w.wait_line(0, "watching app", Duration::from_secs(120));
    w.wait_line(0, "app is up", Duration::from_secs(20));
    let container = format!("{}-app-1", s.name);
    assert_eq!(docker(&["exec", &container, "cat", "/src/a.txt"]), "a");
    write(&s.dir.join("src/b/c.txt"), "c");
    w.wait_line(seen, "app: copied b/c.txt in /src", Duration::from_secs(10));
    assert_eq!(docker(&["exec", &container, "cat", "/src/b/c.txt"]), "c");
    assert_eq!(w.interrupt(), Some(0));
    let state = docker(&["inspect", "--format", "{{.State.Status}}", &container]);
    assert_eq!(state.trim(), "exited", "the stack is stopped");
}

/// Regression: a service whose `user` is a name only its image knows. Watch let the engine
/// give synced files that user's ids (`copyUIDGID`), which Engine 20.10 looks up in the host's
/// user database: every sync failed with "unable to find entry". The name is now read in the
/// container's own `/etc/passwd` and `/etc/group`, and the files get those ids.
#[test]
fn sync_to_a_user_only_the_image_knows() {
    let s = TestStack::new("watch-user", |n| {
        format!(
            r#"
stack "{n}"
service "app" {{
    image "{n}-named:img"
    build "./named"
    user "stackr-image-only:stackr-image-group"
    command "sh" "-c" "trap 'exit 0' TERM; while true; do sleep 0.2; done"
    watch {{
        sync "./src" target="/home/app/src"
    }}
}}
"#
        )
    });
    let named = s.dir.join("named");
    std::fs::create_dir_all(&named).unwrap_or_else(|e| panic!("{e}"));
    std::fs::copy(crate::engine::which_busybox(), named.join("busybox"))
        .unwrap_or_else(|e| panic!("{e}"));
    write(
        &named.join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n\
         RUN echo 'root:x:0:0::/:/bin/sh' > /etc/passwd && echo 'stackr-image-only:x:4321:4321::/home/app:/bin/sh' >> /etc/passwd \
         && echo 'root:x:0:' > /etc/group && echo 'stackr-image-group:x:4322:' >> /etc/group \
         && mkdir -p /home/app/src && chown -R 4321:4322 /home/app\n",
    );
    write(&s.dir.join("src/a.txt"), "one");
    let mut w = Watcher::start(&s.dir, &["watch"]);
    let seen = w.wait_line(0, "watching app", Duration::from_secs(120));
    write(&s.dir.join("src/b.txt"), "two");
    w.wait_line(seen, "app: copied b.txt", Duration::from_secs(20));
    let stat = docker(&[
        "exec",
        &format!("{}-app-1", s.name),
        "stat",
        "-c",
        "%n %u %g",
        "/home/app/src/a.txt",
        "/home/app/src/b.txt",
    ]);
    assert_eq!(
        stat,
        "/home/app/src/a.txt 4321 4322\n/home/app/src/b.txt 4321 4322\n",
        "{}",
        w.output()
    );
    assert!(!w.output().contains("unable to find"), "{}", w.output());
    assert_eq!(w.interrupt(), Some(0));
}
