//! `cargo bench --bench watch`: how fast an edit on the host is readable in the container, and
//! what an idle watch costs.
//!
//! - Latency: a `FROM scratch` web server (the demo binary) serves a volume that
//!   `stackr watch` syncs from a host folder; 200 edits of one file, each timed from the write
//!   on the host to the first HTTP answer with the new content (polled every millisecond on
//!   loopback). Goal: p50 under 60 ms, p99 under 150 ms. For scale, the same measure for
//!   `docker cp` of the file (the engine's archive upload alone, no watching) in the same run.
//!   compose's watch waits 500 ms before it starts a sync (docker-compose 1.x has no watch).
//! - Idle cost: `stackr watch` over a 20-service stack, each with a sync rule: its resident
//!   memory (goal: under 25 MB) and the CPU it uses over 10 idle seconds (goal: none
//!   measurable).

// A benchmark reports what it measured on the terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;

use common::docker;

const EDITS: usize = 200;

fn service(name: &str, image: &str, port: Option<u16>) -> String {
    let port = port
        .map(|p| format!("    port \"127.0.0.1:{p}:8080\"\n"))
        .unwrap_or_default();
    format!(
        "service \"{name}\" {{\n    image \"{image}\"\n    command \"web\" \"8080\" \"/srv/site\" \"127.0.0.1:9\"\n    mount \"site-{name}\" \"/srv/site\"\n{port}    read-only #true\n    watch {{\n        sync \"./site-{name}\" target=\"/srv/site\"\n    }}\n}}\nvolume \"site-{name}\"\n"
    )
}

/// A running `stackr watch` with its output lines.
struct Watch {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Watch {
    fn start(dir: &Path) -> Watch {
        let mut child = Command::new(env!("CARGO_BIN_EXE_stackr"))
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .arg("watch")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"));
        let lines = Arc::new(Mutex::new(Vec::new()));
        if let Some(out) = child.stdout.take() {
            let lines = Arc::clone(&lines);
            std::thread::spawn(move || {
                for l in BufReader::new(out).lines().map_while(Result::ok) {
                    if let Ok(mut v) = lines.lock() {
                        v.push(l);
                    }
                }
            });
        }
        let w = Watch { child, lines };
        let deadline = Instant::now() + Duration::from_secs(300);
        while !w.said("watching") {
            assert!(Instant::now() < deadline, "stackr watch did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        w
    }

    fn said(&self, what: &str) -> bool {
        self.lines
            .lock()
            .map(|l| l.iter().any(|x| x.contains(what)))
            .unwrap_or(false)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn get(port: u16, path: &str) -> Option<String> {
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        c,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut s = String::new();
    c.read_to_string(&mut s).ok()?;
    s.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
}

/// Writes `content` and times until the container serves it.
fn timed(port: u16, content: &str, write: impl Fn()) -> Duration {
    let start = Instant::now();
    write();
    loop {
        if get(port, "/f.html").as_deref() == Some(content) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{content} never arrived"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn percentiles(mut xs: Vec<Duration>) -> (f64, f64, f64, f64) {
    xs.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let at = |q: f64| ms(xs[((xs.len() as f64 - 1.0) * q).round() as usize]);
    (at(0.5), at(0.9), at(0.99), ms(xs[xs.len() - 1]))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"))
}

struct Cleanup(Vec<String>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for name in &self.0 {
            let filter = format!("label=io.stackr.stack={name}");
            for id in docker(&["ps", "-aq", "--filter", &filter]).lines() {
                docker(&["rm", "-f", "-v", id]);
            }
            for id in docker(&["network", "ls", "-q", "--filter", &filter]).lines() {
                docker(&["network", "rm", id]);
            }
            for v in docker(&["volume", "ls", "-q", "--filter", &filter]).lines() {
                docker(&["volume", "rm", "-f", v]);
            }
        }
    }
}

/// Resident memory in KiB and CPU ticks (user + system) of a process.
fn usage(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime is the 14th field.
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = fields
        .get(11)
        .and_then(|u| u.parse::<u64>().ok())
        .unwrap_or(0)
        + fields
            .get(12)
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0);
    (rss, ticks)
}

fn main() {
    let id = std::process::id();
    let dir = std::env::temp_dir().join(format!("stackr-bench-watch-{id}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let image = format!("stackr-bench-watch:{id}");
    common::demo_image(&dir, &image);
    let one = format!("stackr-bench-watch-{id}");
    let many = format!("stackr-bench-watch-idle-{id}");
    let _cleanup = Cleanup(vec![one.clone(), many.clone()]);

    // Latency.
    let port = free_port();
    let d1 = dir.join("one");
    std::fs::create_dir_all(d1.join("site-web")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        d1.join("stack.kdl"),
        format!("stack \"{one}\"\n{}", service("web", &image, Some(port))),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let file = d1.join("site-web/f.html");
    std::fs::write(&file, "start").unwrap_or_else(|e| panic!("{e}"));
    let watch = Watch::start(&d1);
    let mut ours = Vec::new();
    for i in 0..EDITS {
        let content = format!("edit {i}");
        ours.push(timed(port, &content, || {
            std::fs::write(&file, &content).unwrap_or_else(|e| panic!("{e}"))
        }));
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(watch);
    let (p50, p90, p99, max) = percentiles(ours);
    println!(
        "watch, host write -> readable in the container, {EDITS} edits: p50 {p50:.1} ms, p90 {p90:.1} ms, p99 {p99:.1} ms, max {max:.1} ms (goal: p50 < 60, p99 < 150)"
    );
    let container = format!("{one}-web-1");
    let mut cp = Vec::new();
    for i in 0..20 {
        let content = format!("cp {i}");
        cp.push(timed(port, &content, || {
            std::fs::write(&file, &content).unwrap_or_else(|e| panic!("{e}"));
            let ok = Command::new("docker")
                .args(["cp", "-q"])
                .arg(&file)
                .arg(format!("{container}:/srv/site/f.html"))
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "docker cp failed");
        }));
    }
    let (cp50, ..) = percentiles(cp);
    println!(
        "for scale, `docker cp` of the file (no watching): p50 {cp50:.1} ms; stackr's p50 is {:.2}x that",
        p50 / cp50
    );

    // Idle cost over 20 services.
    let d2 = dir.join("many");
    let mut text = format!("stack \"{many}\"\n");
    for i in 0..20 {
        let name = format!("s{i:02}");
        std::fs::create_dir_all(d2.join(format!("site-{name}/a/b")))
            .unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(d2.join(format!("site-{name}/a/b/index.html")), "x")
            .unwrap_or_else(|e| panic!("{e}"));
        text.push_str(&service(&name, &image, None));
    }
    std::fs::write(d2.join("stack.kdl"), text).unwrap_or_else(|e| panic!("{e}"));
    let watch = Watch::start(&d2);
    std::thread::sleep(Duration::from_secs(2));
    let pid = watch.child.id();
    let (_, t0) = usage(pid);
    std::thread::sleep(Duration::from_secs(10));
    let (rss, t1) = usage(pid);
    let hz = 100.0; // USER_HZ on Linux
    println!(
        "idle watch over 20 services (20 sync rules): {:.1} MB resident (goal < 25), {:.2}% of a CPU over 10 s ({} ticks)",
        rss as f64 / 1024.0,
        (t1 - t0) as f64 / hz / 10.0 * 100.0,
        t1 - t0
    );
    drop(watch);
    let _ = std::fs::remove_dir_all(&dir);
    docker(&["rmi", &image]);
}
