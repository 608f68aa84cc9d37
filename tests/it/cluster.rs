//! A real Docker Swarm on this machine, for the Swarm target's tests: three `dockerd`, each in
//! a network namespace of its own, joined on a bridge of the test's, plus a registry
//! (Debian's `docker-registry`) on the bridge's address that every node trusts. Never the
//! machine's shared daemon. Torn down when dropped, even when the test fails: the daemons and
//! what they started, the namespaces, the bridge, the firewall rule, the registry, the
//! mounts and the folders.
//!
//! The traps (see the design notes): enter a namespace with `nsenter --net=`, not
//! `ip netns exec`; give each daemon its own `--config-file`; the host drops forwarded
//! traffic between the namespaces until `DOCKER-USER` accepts the bridge's.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static N: AtomicUsize = AtomicUsize::new(0);

fn sh(cmd: &str, args: &[&str]) -> std::process::Output {
    Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd}: {e}"))
}

fn must(cmd: &str, args: &[&str]) -> String {
    let out = sh(cmd, args);
    assert!(
        out.status.success(),
        "{cmd} {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// One node: a daemon in its namespace.
pub struct Node {
    pub name: String,
    pub ip: String,
    pub dir: PathBuf,
    child: Option<Child>,
}

impl Node {
    /// The `DOCKER_HOST` of the node's daemon.
    pub fn host(&self) -> String {
        format!("unix://{}", self.dir.join("run/docker.sock").display())
    }

    /// `docker -H` this node.
    pub fn docker(&self, args: &[&str]) -> std::process::Output {
        Command::new("docker")
            .arg("-H")
            .arg(self.host())
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run docker: {e}"))
    }

    /// `docker -H` this node, which must succeed; its output.
    pub fn must(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(
            out.status.success(),
            "docker {} on {}: {}",
            args.join(" "),
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.dir.join("run/dockerd.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    fn launch(&mut self, registry: &str) {
        let config = self.dir.join("daemon.json");
        std::fs::write(
            &config,
            format!(
                r#"{{"storage-driver":"{}","insecure-registries":["{registry}"]}}"#,
                storage_driver()
            ),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let log =
            std::fs::File::create(self.dir.join("dockerd.log")).unwrap_or_else(|e| panic!("{e}"));
        let path = |p: &str| self.dir.join(p).display().to_string();
        let child = Command::new("nsenter")
            .arg(format!("--net=/var/run/netns/{}", self.name))
            .args(["dockerd", "--config-file", &path("daemon.json")])
            .args(["--data-root", &path("data"), "--exec-root", &path("exec")])
            .args(["--pidfile", &path("run/dockerd.pid")])
            .args(["-H", &self.host(), "--shutdown-timeout", "2"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start dockerd: {e}"));
        self.child = Some(child);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if self.docker(&["info"]).status.success() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "node {} did not start:\n{}",
            self.name,
            std::fs::read_to_string(self.dir.join("dockerd.log")).unwrap_or_default()
        );
    }

    /// Stops the node's daemon as a shutdown does, and waits until it is gone.
    pub fn stop(&self) {
        let Some(pid) = self.pid() else { return };
        let _ = sh("kill", &["-TERM", &pid.to_string()]);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) && alive(pid) {
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Starts the stopped daemon again on the same data.
    pub fn start_again(&mut self, registry: &str) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Its containerd may linger as a zombie (nothing reaps orphans here).
        let _ = std::fs::remove_file(self.dir.join("exec/containerd/containerd.pid"));
        self.launch(registry);
    }
}

/// The storage driver a private daemon uses: fuse-overlayfs when it is there.
pub fn storage_driver() -> &'static str {
    if Command::new("fuse-overlayfs")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        "fuse-overlayfs"
    } else {
        "vfs"
    }
}

/// Whether a process runs: there and not a zombie (nothing reaps orphans on these machines).
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_none_or(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

/// Three nodes (one manager, two workers) and a registry.
pub struct Cluster {
    pub nodes: Vec<Node>,
    pub bridge: String,
    /// `10.213.N.1:5000`: the registry, on the bridge's address.
    pub registry: String,
    pub dir: PathBuf,
    registry_child: Option<Child>,
    firewall: bool,
    _turn: std::sync::MutexGuard<'static, ()>,
}

impl Cluster {
    /// Starts the nodes, forms the swarm and starts the registry.
    pub fn start(tag: &str) -> Cluster {
        let turn = crate::support::heavy_turn();
        let n = N.fetch_add(1, Ordering::SeqCst);
        let id = format!("{}{n}", std::process::id() % 10000);
        let subnet = format!("10.213.{}", (std::process::id() as usize * 7 + n) % 250 + 1);
        let dir = PathBuf::from("/tmp").join(format!("stackr-swarm-{tag}-{id}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let mut c = Cluster {
            nodes: Vec::new(),
            bridge: format!("stkb{id}"),
            registry: format!("{subnet}.1:5000"),
            dir: dir.clone(),
            registry_child: None,
            firewall: false,
            _turn: turn,
        };
        c.network(&subnet, &id);
        c.start_registry(&subnet);
        for i in 1..=3 {
            let registry = c.registry.clone();
            c.nodes[i - 1].launch(&registry);
        }
        c.form_swarm();
        c
    }

    fn network(&mut self, subnet: &str, id: &str) {
        let br = self.bridge.clone();
        must("ip", &["link", "add", "name", &br, "type", "bridge"]);
        must(
            "ip",
            &["addr", "add", &format!("{subnet}.1/24"), "dev", &br],
        );
        must("ip", &["link", "set", &br, "up"]);
        must(
            "iptables",
            &["-I", "DOCKER-USER", "-i", &br, "-o", &br, "-j", "ACCEPT"],
        );
        self.firewall = true;
        for i in 1..=3 {
            let name = format!("stackr-swarm-{id}-{i}");
            let veth = format!("stkv{id}{i}");
            let ip = format!("{subnet}.{}", 10 + i);
            must("ip", &["netns", "add", &name]);
            must(
                "ip",
                &[
                    "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &name,
                ],
            );
            must("ip", &["link", "set", &veth, "master", &br]);
            must("ip", &["link", "set", &veth, "up"]);
            let ns = |args: &[&str]| {
                let mut full = vec!["netns", "exec", name.as_str()];
                full.extend_from_slice(args);
                must("ip", &full);
            };
            ns(&["ip", "addr", "add", &format!("{ip}/24"), "dev", "eth0"]);
            ns(&["ip", "link", "set", "eth0", "up"]);
            ns(&["ip", "link", "set", "lo", "up"]);
            ns(&[
                "ip",
                "route",
                "add",
                "default",
                "via",
                &format!("{subnet}.1"),
            ]);
            let dir = self.dir.join(format!("node{i}"));
            for sub in ["data", "exec", "run"] {
                std::fs::create_dir_all(dir.join(sub)).unwrap_or_else(|e| panic!("{e}"));
            }
            self.nodes.push(Node {
                name,
                ip,
                dir,
                child: None,
            });
        }
    }

    fn start_registry(&mut self, subnet: &str) {
        let root = self.dir.join("registry");
        std::fs::create_dir_all(&root).unwrap_or_else(|e| panic!("{e}"));
        let config = self.dir.join("registry.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {subnet}.1:5000\n",
                root.display()
            ),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let log =
            std::fs::File::create(self.dir.join("registry.log")).unwrap_or_else(|e| panic!("{e}"));
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("docker-registry is needed (Debian's package; .ci/run installs it): {e}")
            });
        self.registry_child = Some(child);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if std::net::TcpStream::connect(format!("{subnet}.1:5000")).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "the registry did not start:\n{}",
            std::fs::read_to_string(self.dir.join("registry.log")).unwrap_or_default()
        );
    }

    fn form_swarm(&self) {
        let manager = &self.nodes[0];
        manager.must(&["swarm", "init", "--advertise-addr", &manager.ip]);
        let token = manager.must(&["swarm", "join-token", "-q", "worker"]);
        let addr = format!("{}:2377", manager.ip);
        for n in &self.nodes[1..] {
            n.must(&["swarm", "join", "--token", &token, &addr]);
        }
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(60) {
            let ready = manager.must(&["node", "ls", "--format", "{{.Status}}"]);
            if ready.lines().filter(|l| *l == "Ready").count() == 3 {
                return;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        panic!("the swarm did not form:\n{}", manager.must(&["node", "ls"]));
    }

    /// The manager.
    pub fn manager(&self) -> &Node {
        &self.nodes[0]
    }

    /// The node id of each node, in order.
    pub fn node_ids(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| n.must(&["info", "--format", "{{.Swarm.NodeID}}"]))
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for n in &self.nodes {
            n.stop();
        }
        for n in &mut self.nodes {
            if let Some(mut c) = n.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        if let Some(mut r) = self.registry_child.take() {
            let _ = r.kill();
            let _ = r.wait();
        }
        release_dir(&self.dir);
        for n in &self.nodes {
            let _ = sh("ip", &["netns", "del", &n.name]);
        }
        let _ = sh("ip", &["link", "del", &self.bridge]);
        if self.firewall {
            let _ = sh(
                "iptables",
                &[
                    "-D",
                    "DOCKER-USER",
                    "-i",
                    &self.bridge,
                    "-o",
                    &self.bridge,
                    "-j",
                    "ACCEPT",
                ],
            );
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Kills what private daemons left running under `dir` (containerd, shims: their command lines
/// name it) and unmounts what they mounted there, deepest first.
pub fn release_dir(dir: &std::path::Path) {
    let _ = sh("pkill", &["-9", "-f", &dir.display().to_string()]);
    std::thread::sleep(Duration::from_millis(300));
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let mut ours: Vec<&str> = mounts
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .filter(|m| m.starts_with(&dir.display().to_string()))
        .collect();
    ours.sort_by_key(|m| std::cmp::Reverse(m.len()));
    for m in ours {
        let _ = sh("umount", &["-l", m]);
    }
}

/// An RFC 3339 time of the swarm (`"2026-12-06T02:34:47.431380132Z"`, quotes allowed) as
/// nanoseconds since the epoch.
pub fn nanos(t: &str) -> i128 {
    let t = t.trim_matches('"');
    let Some((date, rest)) = t.split_once('T') else {
        panic!("not an RFC 3339 time: {t}");
    };
    let d: Vec<i128> = date.split('-').filter_map(|x| x.parse().ok()).collect();
    let clock = rest.trim_end_matches('Z');
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, "0"));
    let c: Vec<i128> = hms.split(':').filter_map(|x| x.parse().ok()).collect();
    assert!(d.len() == 3 && c.len() == 3, "not an RFC 3339 time: {t}");
    let (y, m) = if d[1] <= 2 {
        (d[0] - 1, d[1])
    } else {
        (d[0], d[1])
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d[2] - 1;
    let days = era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
    let frac: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
    (days * 86400 + c[0] * 3600 + c[1] * 60 + c[2]) * 1_000_000_000
        + frac.parse::<i128>().unwrap_or(0)
}
