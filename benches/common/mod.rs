//! What the benchmarks share: running `docker`, building their test images, medians. Each
//! benchmark uses some of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// `docker ARGS`: its standard output (empty when it cannot run).
pub fn docker(args: &[&str]) -> String {
    Command::new("docker")
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Builds `tag` from `dir/img`, with `files` (name, source) copied in and `dockerfile`.
fn build(dir: &Path, tag: &str, files: &[(&str, &Path)], dockerfile: &str) {
    let ctx = dir.join("img");
    std::fs::create_dir_all(&ctx).unwrap_or_else(|e| panic!("{e}"));
    for (name, source) in files {
        std::fs::copy(source, ctx.join(name)).unwrap_or_else(|e| panic!("{e}"));
    }
    std::fs::write(ctx.join("Dockerfile"), dockerfile).unwrap_or_else(|e| panic!("{e}"));
    let ok = Command::new("docker")
        .args(["build", "-q", "-t", tag])
        .arg(&ctx)
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(ok, "docker build failed");
}

/// An image FROM scratch with a static busybox and its applets.
pub fn busybox_image(dir: &Path, tag: &str) {
    let busybox = ["/usr/bin/busybox", "/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .unwrap_or_else(|| panic!("busybox-static is needed (.ci/run installs it)"));
    build(
        dir,
        tag,
        &[("busybox", Path::new(busybox))],
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n",
    );
}

/// The demo image, FROM scratch: one static binary of this workspace, no shell.
pub fn demo_image(dir: &Path, tag: &str) {
    let arch = std::env::consts::ARCH;
    let triple = format!("{arch}-unknown-linux-gnu");
    let ok = Command::new(env!("CARGO"))
        .current_dir(root())
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .args([
            "build",
            "--quiet",
            "--release",
            "--locked",
            "-p",
            "stackr-demo",
        ])
        .args(["--target", &triple, "--target-dir", "target/demo"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "building stackr-demo failed");
    let binary = root()
        .join("target/demo")
        .join(&triple)
        .join("release/stackr-demo");
    build(
        dir,
        tag,
        &[("stackr-demo", &binary)],
        "FROM scratch\nCOPY stackr-demo /stackr-demo\nENTRYPOINT [\"/stackr-demo\"]\n",
    );
}

/// The median of some timings.
pub fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

/// A stack of `n` services shaped like real ones: image, env, a port, a volume, a health
/// check, dependencies on earlier services, labels and limits.
pub fn stack_kdl(n: usize) -> String {
    let mut s = String::from("stack \"bench\"\n\n");
    for i in 0..n {
        s.push_str(&format!("volume \"data{i}\"\n"));
    }
    for i in 0..n {
        let port = 8000 + (i % 1000);
        s.push_str(&format!(
            "service \"svc{i}\" {{\n    image \"app{i}:1.{i}\"\n    env PORT=\"{port}\" ID=\"{i}\"\n    port \"{host}:{port}\"\n    mount \"data{i}\" \"/data\"\n    health {{ http port={port} path=\"/health\" }}\n",
            host = 10000 + i,
        ));
        if i > 0 {
            s.push_str(&format!(
                "    depends-on \"svc{}\" condition=\"healthy\"\n",
                i - 1
            ));
        }
        s.push_str("}\n");
    }
    s
}
