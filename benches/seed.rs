//! `cargo bench --bench seed`: the seed's application (`examples/residency-scheduler`, profiles
//! `dev` and `offline`: Postgres, Redis, the FastAPI backend, the frontend stand-in, nginx) run
//! by stackr and by docker-compose from the example's compose files, on the same local images,
//! side by side in one run. `STACKR_BENCH_RUNS` runs each (3 when unset); medians are shown.
//!
//! - cold `up -d`, from nothing (volume included) until nginx answers `/api/health` with 200,
//!   which the backend gives only when Postgres and Redis answer;
//! - a no-op `up -d` of the running stack;
//! - `down` (the volume kept);
//! - save to new response in dev: an edit of a route, until nginx serves the new answer.
//!   stackr syncs it with `watch`; compose bind-mounts the code. uvicorn `--reload` in both.
//!
//! The images the two tools build (backend, frontend, nginx) are built once before anything is
//! timed. Each run's figures are printed as it goes: a cold `up` is quantised by the health
//! checks' one-second interval (Postgres is healthy at the second or the third check), so
//! single runs differ by a second, and the medians are what to compare.

// A benchmark reports what it measured on the terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{median, root};

const PROFILES: &[&str] = &["--profile", "dev", "--profile", "offline"];
const COMPOSE_FILES: &[&str] = &[
    "-f",
    "docker-compose.yml",
    "-f",
    "docker-compose.dev.yml",
    "-f",
    "docker-compose.offline.yml",
];

fn runs() -> usize {
    std::env::var("STACKR_BENCH_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// One of the two tools, on its own copy of the example, name and ports.
struct Tool {
    label: &'static str,
    dir: PathBuf,
    name: String,
    http: u16,
    env: Vec<(String, String)>,
}

impl Tool {
    fn new(label: &'static str) -> Tool {
        let name = format!("stackr-bench-seed-{label}-{}", std::process::id());
        let dir = std::env::temp_dir().join(&name);
        let _ = std::fs::remove_dir_all(&dir);
        let ok = Command::new("cp")
            .arg("-r")
            .arg(root().join("examples/residency-scheduler"))
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "copying the example failed");
        let http = free_port();
        let env = [
            ("HTTP_PORT", http),
            ("DB_PORT", free_port()),
            ("REDIS_PORT", free_port()),
            ("FRONTEND_PORT", free_port()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        Tool {
            label,
            dir,
            name,
            http,
            env,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = if self.label == "stackr" {
            let mut c = Command::new(env!("CARGO_BIN_EXE_stackr"));
            c.args(["-p", &self.name]).args(PROFILES);
            c
        } else {
            let mut c = Command::new("docker-compose");
            c.args(["-p", &self.name]).args(COMPOSE_FILES);
            c
        };
        cmd.current_dir(&self.dir)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("NO_COLOR", "1")
            .args(args);
        cmd
    }

    fn run(&self, args: &[&str]) -> Duration {
        let t = Instant::now();
        let out = self
            .command(args)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let d = t.elapsed();
        assert!(
            out.status.success(),
            "{} {args:?} failed:\n{}",
            self.label,
            String::from_utf8_lossy(&out.stderr)
        );
        d
    }

    /// From nothing until nginx answers `/api/health` with 200.
    fn cold_up(&self) -> Duration {
        self.run(&["down", "-v"]);
        let t = Instant::now();
        self.run(&["up", "-d"]);
        until(Duration::from_secs(180), || {
            get(self.http, "/api/health").0 == 200
        });
        t.elapsed()
    }

    /// Edits the root route (of the example's text, so each edit differs from the last) and
    /// waits until nginx serves the edit; returns the time from the save.
    fn save_to_response(&self, n: usize) -> Duration {
        let main = self.dir.join("backend/app/main.py");
        let original = std::fs::read_to_string(
            root().join("examples/residency-scheduler/backend/app/main.py"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let marker = format!("edit-{n}");
        let edited = original.replacen(
            r#""docs": "/docs""#,
            &format!(r#""docs": "/docs", "edit": "{marker}""#),
            1,
        );
        assert_ne!(
            edited, original,
            "the root route changed: update this benchmark"
        );
        let t = Instant::now();
        std::fs::write(&main, edited).unwrap_or_else(|e| panic!("{e}"));
        until(Duration::from_secs(60), || {
            let (s, b) = get(self.http, "/api/");
            s == 200 && b.contains(&marker)
        });
        let took = t.elapsed();
        // Back as it was: an edited build context would make stackr's next cold `up` rebuild
        // the image (docker-compose never rebuilds by itself), which is not what is measured.
        std::fs::write(&main, original).unwrap_or_else(|e| panic!("{e}"));
        took
    }
}

impl Tool {
    /// The anonymous volumes of the tool's containers (named by a 64-digit hex id).
    fn anonymous_volumes(&self) -> Vec<String> {
        let label = if self.label == "stackr" {
            format!("label=io.stackr.stack={}", self.name)
        } else {
            format!("label=com.docker.compose.project={}", self.name)
        };
        let ids = Command::new("docker")
            .args(["ps", "-aq", "--filter", &label])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let mut volumes = Vec::new();
        for id in ids.lines() {
            let out = Command::new("docker")
                .args([
                    "inspect",
                    "-f",
                    "{{range .Mounts}}{{if eq .Type \"volume\"}}{{.Name}} {{end}}{{end}}",
                    id,
                ])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            volumes.extend(
                out.split_whitespace()
                    .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
                    .map(str::to_string),
            );
        }
        volumes
    }
}

impl Drop for Tool {
    fn drop(&mut self) {
        let anonymous = self.anonymous_volumes();
        let _ = self.command(&["down", "-v"]).output();
        for v in anonymous {
            let _ = Command::new("docker").args(["volume", "rm", &v]).output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn until(limit: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < deadline, "not within {limit:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn get(port: u16, path: &str) -> (u16, String) {
    let Ok(mut c) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new());
    };
    let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = write!(c, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n");
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

/// `stackr watch` of the backend, running until dropped; ready once it says so.
struct Watching(Child);

impl Watching {
    fn start(tool: &Tool) -> Watching {
        let mut child = tool
            .command(&["watch", "--no-up", "backend"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"));
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let streams: [Option<Box<dyn Read + Send>>; 2] = [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ];
        // Both outputs are read to their end, so that watch never blocks on a full pipe.
        for stream in streams.into_iter().flatten() {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in std::io::BufRead::lines(std::io::BufReader::new(stream)) {
                    let Ok(line) = line else { break };
                    let _ = tx.send(line);
                }
            });
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line.contains("watching backend") => return Watching(child),
                Ok(_) => {}
                Err(e) => panic!("stackr watch did not say it was watching: {e}"),
            }
        }
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1e3)
}

fn line(what: &str, stackr: Duration, compose: Duration) {
    println!(
        "{what:<26} stackr {:>9}   docker-compose {:>9}   ratio {:.2}x",
        ms(stackr),
        ms(compose),
        stackr.as_secs_f64() / compose.as_secs_f64()
    );
}

fn build_images() {
    let ok = Command::new(root().join("examples/residency-scheduler/offline/build-images.sh"))
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "offline/build-images.sh failed: the benchmark needs its images"
    );
}

fn main() {
    assert!(
        Command::new("docker-compose")
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success()),
        "docker-compose is needed for the side-by-side (Debian's docker-compose package)"
    );
    build_images();
    let tools = [Tool::new("stackr"), Tool::new("compose")];
    // Build each tool's images (not timed), and leave nothing running.
    tools[0].run(&["build"]);
    tools[1].run(&["build"]);
    let n = runs();
    println!(
        "the seed's stack (dev + offline: 5 services, 2 health-gated waves), median of {n} runs"
    );
    let mut cold = [Vec::new(), Vec::new()];
    let mut noop = [Vec::new(), Vec::new()];
    let mut down = [Vec::new(), Vec::new()];
    let mut save = [Vec::new(), Vec::new()];
    for run in 0..n {
        for (i, t) in tools.iter().enumerate() {
            cold[i].push(t.cold_up());
            noop[i].push(t.run(&["up", "-d"]));
            {
                let _watching = (t.label == "stackr").then(|| Watching::start(t));
                save[i].push(t.save_to_response(run));
            }
            let anonymous = t.anonymous_volumes();
            down[i].push(t.run(&["down"]));
            // docker-compose's `down` keeps the containers' anonymous volumes (Redis's `/data`):
            // not this benchmark's to leave behind. stackr removes them with the containers.
            for v in anonymous {
                let _ = Command::new("docker").args(["volume", "rm", &v]).output();
            }
            eprintln!(
                "run {run}, {}: cold up {}, no-op up {}, save {}, down {}",
                t.label,
                ms(cold[i][run]),
                ms(noop[i][run]),
                ms(save[i][run]),
                ms(down[i][run])
            );
        }
    }
    let [c0, c1] = cold.map(median);
    line("cold up -d to healthy", c0, c1);
    let [n0, n1] = noop.map(median);
    line("no-op up -d", n0, n1);
    let [d0, d1] = down.map(median);
    line("down", d0, d1);
    let [s0, s1] = save.map(median);
    line("save to new response", s0, s1);
    println!("(save to new response: stackr by watch sync, docker-compose by a bind mount)");
}
