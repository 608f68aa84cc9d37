//! Builds `stackr-probe` as a static binary for the target and embeds it: stackr gives it to
//! containers for native `http`/`tcp` health checks, whatever their image holds.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default());
    let target = std::env::var("TARGET").unwrap_or_default();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    println!("cargo:rerun-if-changed=crates/stackr-probe/src");
    println!("cargo:rerun-if-changed=crates/stackr-probe/Cargo.toml");
    let target_dir = out.join("probe");
    let status = Command::new(&cargo)
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "stackr-probe",
            "--target",
            &target,
        ])
        .arg("--manifest-path")
        .arg(manifest.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("RUSTC_WRAPPER")
        .env(
            "RUSTFLAGS",
            "-C target-feature=+crt-static -C strip=symbols",
        )
        .status();
    match status {
        Ok(s) if s.success() => {}
        other => panic!("building the static stackr-probe failed: {other:?}"),
    }
    let bin = target_dir
        .join(&target)
        .join("release")
        .join("stackr-probe");
    println!("cargo:rustc-env=STACKR_PROBE_PATH={}", bin.display());
}
