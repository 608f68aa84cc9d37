//! A private Docker daemon for tests that stop, restart or lose one: `dockerd` in a network
//! namespace of its own (never the machine's shared daemon), with its own data root, exec
//! root and socket. Torn down when dropped, even when the test fails: the daemon and what it
//! started, the namespace, the mounts and the folders.
//!
//! The traps (see the design notes): enter the namespace with `nsenter --net=`, not
//! `ip netns exec` (which remounts `/sys`); give the daemon its own `--config-file`, since the
//! machine's `daemon.json` sets `data-root` and a flag repeating a file setting is refused.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::cluster::alive;
use std::time::{Duration, Instant};

static N: AtomicUsize = AtomicUsize::new(0);

pub struct PrivateDaemon {
    pub name: String,
    pub dir: PathBuf,
    /// `nsenter`, which runs `dockerd`: reaped when dropped.
    child: Option<std::process::Child>,
    /// The heavy tests' turn, released once everything is torn down (fields drop after
    /// `Drop::drop`).
    _turn: std::sync::MutexGuard<'static, ()>,
}

fn sh(cmd: &str, args: &[&str]) -> std::process::Output {
    Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd}: {e}"))
}

impl PrivateDaemon {
    /// Starts a daemon and waits until it answers.
    pub fn start(tag: &str) -> PrivateDaemon {
        let name = format!(
            "stackr-d-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let dir = PathBuf::from("/tmp").join(&name);
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["data", "exec", "run"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap_or_else(|e| panic!("{e}"));
        }
        let turn = crate::support::heavy_turn();
        let mut d = PrivateDaemon {
            name,
            dir,
            child: None,
            _turn: turn,
        };
        let out = sh("ip", &["netns", "add", &d.name]);
        assert!(
            out.status.success(),
            "ip netns add: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        d.child = Some(d.launch());
        d.wait_until_up();
        d
    }

    /// The `DOCKER_HOST` of the daemon.
    pub fn host(&self) -> String {
        format!("unix://{}", self.dir.join("run/docker.sock").display())
    }

    fn launch(&self) -> std::process::Child {
        let driver = crate::cluster::storage_driver();
        let config = self.dir.join("daemon.json");
        std::fs::write(&config, format!(r#"{{"storage-driver":"{driver}"}}"#))
            .unwrap_or_else(|e| panic!("{e}"));
        let log =
            std::fs::File::create(self.dir.join("dockerd.log")).unwrap_or_else(|e| panic!("{e}"));
        let path = |p: &str| self.dir.join(p).display().to_string();
        Command::new("nsenter")
            .arg(format!("--net=/var/run/netns/{}", self.name))
            .args(["dockerd", "--config-file", &path("daemon.json")])
            .args(["--data-root", &path("data"), "--exec-root", &path("exec")])
            .args(["--pidfile", &path("run/dockerd.pid")])
            .args(["-H", &self.host(), "--shutdown-timeout", "2"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start dockerd: {e}"))
    }

    fn wait_until_up(&self) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if self.docker(&["info"]).status.success() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "the private daemon did not start:\n{}",
            std::fs::read_to_string(self.dir.join("dockerd.log")).unwrap_or_default()
        );
    }

    /// `docker -H` this daemon.
    pub fn docker(&self, args: &[&str]) -> std::process::Output {
        Command::new("docker")
            .arg("-H")
            .arg(self.host())
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run docker: {e}"))
    }

    fn pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.dir.join("run/dockerd.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Stops the daemon as a system shutdown does, then starts it again on the same data.
    pub fn restart(&mut self) {
        self.stop();
        self.start_again();
    }

    /// Kills the daemon as a crash does (`kill -9`: its containers' shims live on, nothing is
    /// stopped or unmounted), and waits until it is gone.
    pub fn crash(&self) {
        let Some(pid) = self.pid() else { return };
        let _ = sh("kill", &["-KILL", &pid.to_string()]);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) && alive(pid) {
            std::thread::sleep(Duration::from_millis(50));
        }
        // Its containerd dies with it (the daemon starts it with a parent-death signal). On
        // this machine nothing reaps orphans, so it stays a zombie, which the next daemon
        // takes for a running containerd and waits for in vain: its pid file goes.
        let pidfile = self.dir.join("exec/containerd/containerd.pid");
        if let Some(c) = std::fs::read_to_string(&pidfile)
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok())
        {
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) && alive(c) {
                std::thread::sleep(Duration::from_millis(50));
            }
            if !alive(c) {
                let _ = std::fs::remove_file(&pidfile);
            }
        }
    }

    /// Starts the stopped (or crashed) daemon again on the same data, and waits until it
    /// answers.
    pub fn start_again(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.child = Some(self.launch());
        self.wait_until_up();
    }

    /// Stops the daemon as a system shutdown does (SIGTERM), and waits until it is gone.
    pub fn stop(&self) {
        let Some(pid) = self.pid() else { return };
        let _ = sh("kill", &["-TERM", &pid.to_string()]);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) && alive(pid) {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for PrivateDaemon {
    fn drop(&mut self) {
        self.stop();
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        crate::cluster::release_dir(&self.dir);
        let _ = sh("ip", &["netns", "del", &self.name]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A build context in `dir/img` for a busybox image `FROM scratch` (nothing can be pulled).
pub fn busybox_context(dir: &std::path::Path) {
    std::fs::create_dir_all(dir.join("img")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::copy("/usr/bin/busybox", dir.join("img/busybox"))
        .or_else(|_| std::fs::copy("/bin/busybox", dir.join("img/busybox")))
        .unwrap_or_else(|e| panic!("busybox-static is needed (.ci/run installs it): {e}"));
    std::fs::write(
        dir.join("img/Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
}

/// A stack on the private daemon whose one service talks every half second.
fn talking_stack(dir: &std::path::Path, name: &str) {
    busybox_context(dir);
    std::fs::write(
        dir.join("stack.kdl"),
        format!(
            r#"stack "{name}"
service "talk" {{
    image "{name}:img"
    build "./img"
    command "sh" "-c" "trap 'exit 0' TERM; while true; do echo hello; sleep 0.5; done"
}}
"#
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
}

/// Runs stackr against the daemon until it exits or `limit` passes; returns its exit code
/// (`None`: still running, then killed) and its stderr.
fn exits_within(mut child: std::process::Child, limit: Duration) -> (Option<i32>, String) {
    let start = Instant::now();
    let code = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status.code();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut err);
    }
    (code, err)
}

#[test]
fn logs_follow_and_attached_up_say_so_when_the_daemon_goes_away() {
    for command in [&["logs", "-f"][..], &["up"][..]] {
        let daemon = PrivateDaemon::start("lost");
        let dir = daemon.dir.join("stack");
        talking_stack(&dir, "lost");
        let r = crate::cli::run(
            crate::cli::stackr(&dir)
                .args(["up", "-d"])
                .env("DOCKER_HOST", daemon.host()),
        );
        assert_eq!(r.code, 0, "up: {}", r.stderr);
        let child = crate::cli::stackr(&dir)
            .args(command)
            .env("DOCKER_HOST", daemon.host())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"));
        std::thread::sleep(Duration::from_millis(1500));
        daemon.stop();
        let (code, stderr) = exits_within(child, Duration::from_secs(20));
        assert!(
            code.is_some_and(|c| c != 0),
            "`stackr {}` when the daemon went away: exit {code:?}, stderr:\n{stderr}",
            command.join(" ")
        );
        assert!(
            stderr.contains("cannot reach the Docker engine"),
            "`stackr {}` says why: {stderr}",
            command.join(" ")
        );
    }
}
