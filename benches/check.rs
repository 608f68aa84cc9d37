//! `cargo bench --bench check`: how long the stack language takes, next to the `kdl` crate's
//! own parse, and a whole `stackr check` process (next to `docker-compose config` when it is
//! installed, as a ratio measured in the same run).
//!
//! Goals (issue "the stack language, part 2"): for a generated 1000-service stack (about
//! 190 KB), decoding, validating and building the graph take under 25 ms beyond the `kdl`
//! parse; a typical 50-service stack checks in under 30 ms as a whole process.
//!
//! Goals (issue "hostile input"): `check` grows linearly with the stack and with the number
//! of problems: 40,000 services check in under 2 s, and in under 5x the time of 10,000; the
//! 100,000 figure and a file with 20,000 errors (loaded, then the 200 diagnostics the CLI
//! shows rendered) are printed beside them.

// A benchmark reports what it measured on the terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use stackr_spec::{MemoryReader, Options, load, load_all_profiles};

mod common;

use common::{median, stack_kdl};

fn compose_yaml(n: usize) -> String {
    let mut s = String::from("services:\n");
    for i in 0..n {
        let port = 8000 + (i % 1000);
        s.push_str(&format!(
            "  svc{i}:\n    image: registry.local/app{i}:1.{i}\n    environment:\n      LOG_LEVEL: info\n      PORT: \"{port}\"\n      ID: \"{i}\"\n    ports:\n      - \"127.0.0.1:{host}:{port}\"\n    volumes:\n      - data{i}:/data\n    healthcheck:\n      test: [\"CMD\", \"curl\", \"-f\", \"http://localhost:{port}/health\"]\n      interval: 10s\n",
            host = 10000 + i
        ));
        if i > 0 {
            s.push_str(&format!(
                "    depends_on:\n      svc{}:\n        condition: service_healthy\n",
                i - 1
            ));
        }
    }
    s.push_str("volumes:\n");
    for i in 0..n {
        s.push_str(&format!("  data{i}: {{}}\n"));
    }
    s
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    let _ = f();
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(f());
                t.elapsed()
            })
            .collect(),
    )
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn in_memory(n: usize, runs: usize) {
    let text = stack_kdl(n);
    let path = PathBuf::from("/bench/stack.kdl");
    let mut reader = MemoryReader::default();
    reader.files.insert(path.clone(), text.clone());
    let opts = Options {
        vars: Some(Default::default()),
        ..Options::default()
    };
    let parse = time(runs, || {
        text.parse::<kdl::KdlDocument>().map(|d| d.nodes().len())
    });
    let full = time(runs, || {
        load(std::slice::from_ref(&path), &reader, &opts)
            .stack
            .is_some()
    });
    let loaded = load(std::slice::from_ref(&path), &reader, &opts);
    assert!(loaded.stack.is_some(), "the generated stack must be valid");
    let beyond = full.saturating_sub(parse);
    println!(
        "{n:>5} services ({:>4} KB): kdl parse {:>10}, stackr load {:>10}, stackr's own work {:>10}",
        text.len() / 1024,
        ms(parse),
        ms(full),
        ms(beyond)
    );
}

fn process(dir: &Path, runs: usize, program: &str, args: &[&str]) -> Option<Duration> {
    let ok = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?
        .status
        .success();
    if !ok {
        return None;
    }
    Some(time(runs, || {
        Command::new(program)
            .args(args)
            .current_dir(dir)
            .output()
            .map(|o| o.status.success())
    }))
}

/// A plain stack of `n` services for the scaling runs: image, env, labels, a health check
/// and a dependency on the service before (no host ports: there are only 64k of them).
fn scale_kdl(n: usize) -> String {
    let mut s = String::from("stack \"scale\"\n");
    for i in 0..n {
        s.push_str(&format!(
            "service \"svc{i}\" {{\n    image \"app{i}:1.{i}\"\n    env ID=\"{i}\" LOG=\"info\"\n    labels tier=\"web\"\n    health {{ exec \"true\" }}\n"
        ));
        if i > 0 {
            s.push_str(&format!("    depends-on \"svc{}\"\n", i - 1));
        }
        s.push_str("}\n");
    }
    s
}

/// `check`'s work in process: every profile loaded and validated, then the diagnostics the
/// CLI shows (the first 200) rendered.
fn check_in_memory(text: &str) -> (Duration, usize) {
    let path = PathBuf::from("/bench/stack.kdl");
    let mut reader = MemoryReader::default();
    reader.files.insert(path.clone(), text.to_string());
    let opts = Options {
        vars: Some(Default::default()),
        ..Options::default()
    };
    let handler =
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor());
    let mut problems = 0;
    let t = time(3, || {
        let loaded =
            load_all_profiles(std::slice::from_ref(&path), &reader, &opts, &|_| Vec::new());
        let mut out = String::new();
        for d in loaded.diagnostics.iter().take(200) {
            let _ = handler.render_report(&mut out, d);
        }
        problems = loaded.diagnostics.len();
        out.len()
    });
    (t, problems)
}

/// The smallest useful service: an image and one variable (about 50 bytes).
fn minimal_kdl(n: usize) -> String {
    (0..n)
        .map(|i| format!("service \"s{i}\" {{\n    image \"busybox\"\n    env A=\"1\"\n}}\n"))
        .collect()
}

fn scale() {
    scale_one("minimal services (an image, one variable)", minimal_kdl);
    scale_one(
        "full services (env, labels, health, a dependency chain)",
        scale_kdl,
    );
    let errors: String = (0..20_000)
        .map(|i| format!("service \"s{i}\" {{\n    imag \"busybox\"\n}}\n"))
        .collect();
    let (t, problems) = check_in_memory(&errors);
    println!(
        "{problems:>7} errors: {:>10} (load, then the 200 shown rendered)",
        ms(t)
    );
}

fn scale_one(shape: &str, make: fn(usize) -> String) {
    println!("check at scale, {shape} (in process, median of 3; the kdl parse alone once)");
    let mut base = None;
    for n in [10_000, 40_000, 100_000] {
        let text = make(n);
        let parse = time(1, || {
            text.parse::<kdl::KdlDocument>().map(|d| d.nodes().len())
        });
        let (t, problems) = check_in_memory(&text);
        assert_eq!(problems, 0, "the generated stack must be valid");
        let per = t.as_secs_f64() * 1e6 / n as f64;
        let ratio = base.map_or(String::new(), |b: Duration| {
            format!(", {:.2}x the 10k figure", t.as_secs_f64() / b.as_secs_f64())
        });
        println!(
            "{n:>7} services ({:>6} KB): {:>10} ({per:.1} us per service{ratio}); kdl parse {}",
            text.len() / 1024,
            ms(t),
            ms(parse)
        );
        base.get_or_insert(t);
    }
}

fn main() {
    println!("stack language, release build, median of runs");
    in_memory(50, 50);
    in_memory(1000, 15);
    scale();

    let dir = std::env::temp_dir().join(format!("stackr-bench-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join("stack.kdl"), stack_kdl(50));
    let _ = std::fs::write(dir.join("docker-compose.yml"), compose_yaml(50));
    let stackr = env!("CARGO_BIN_EXE_stackr");
    let ours = process(&dir, 20, stackr, &["check"]);
    match ours {
        Some(t) => println!("whole process, 50 services: stackr check {}", ms(t)),
        None => println!("whole process: stackr check failed"),
    }
    let compose = process(&dir, 5, "docker-compose", &["config", "-q"]);
    match (ours, compose) {
        (Some(a), Some(b)) => println!(
            "whole process, 50 services: docker-compose config -q {} (stackr is {:.1}x faster)",
            ms(b),
            b.as_secs_f64() / a.as_secs_f64()
        ),
        _ => println!("docker-compose is not installed here: no side-by-side number"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}
