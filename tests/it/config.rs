//! `stackr config` and `stackr graph`: the resolved stack round-trips through KDL, and the
//! outputs users read are snapshotted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use stackr_spec::{MemoryReader, Options, load, print::to_kdl};

use crate::cli::{run, stackr};
use crate::support::{FixtureReader, render_all, root};

fn stacks_to_check() -> Vec<PathBuf> {
    let mut out = vec![root().join("stack.kdl")];
    for dir in ["tests/fixtures/valid", "examples"] {
        for e in std::fs::read_dir(root().join(dir))
            .unwrap_or_else(|e| panic!("{e}"))
            .flatten()
        {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "kdl") {
                out.push(p);
            } else if p.join("stack.kdl").is_file() {
                out.push(p.join("stack.kdl"));
            }
        }
    }
    out.sort();
    out
}

fn opts(profiles: &[String]) -> Options {
    Options {
        profiles: profiles.to_vec(),
        vars: Some(BTreeMap::new()),
        ..Options::default()
    }
}

fn round_trip(path: &Path, profiles: &[String]) {
    let first = load(&[path.to_path_buf()], &FixtureReader, &opts(profiles));
    let Some(stack) = &first.stack else {
        panic!("{} {profiles:?}:\n{}", path.display(), render_all(&first));
    };
    let text = to_kdl(stack);
    let mut reader = MemoryReader::default();
    reader.files.insert(path.to_path_buf(), text.clone());
    // The printed stack is complete: it needs no profile and no include.
    let second = load(&[path.to_path_buf()], &reader, &opts(&[]));
    let Some(again) = &second.stack else {
        panic!(
            "{} {profiles:?} printed as:\n{text}\nwhich does not load:\n{}",
            path.display(),
            render_all(&second)
        );
    };
    let a = serde_json::to_value(stack).unwrap_or_else(|e| panic!("{e}"));
    let mut b = serde_json::to_value(again).unwrap_or_else(|e| panic!("{e}"));
    // Which profiles were applied is not part of the printed stack.
    b["profiles"] = a["profiles"].clone();
    b["available-profiles"] = a["available-profiles"].clone();
    assert_eq!(
        a,
        b,
        "{} {profiles:?} changed on a round trip through:\n{text}",
        path.display()
    );
    assert_eq!(
        to_kdl(again),
        text,
        "printing is not a fixpoint for {}",
        path.display()
    );
}

#[test]
fn config_round_trips_through_kdl() {
    let mut checked = 0;
    for path in stacks_to_check() {
        let base = load(std::slice::from_ref(&path), &FixtureReader, &opts(&[]));
        let profiles = base
            .stack
            .as_ref()
            .map(|s| s.available_profiles.clone())
            .unwrap_or_default();
        if path.ends_with("common.kdl") && base.stack.is_none() {
            continue;
        }
        round_trip(&path, &[]);
        for p in profiles {
            round_trip(&path, &[p]);
        }
        checked += 1;
    }
    assert!(checked >= 4);
}

/// What the seed's compose files mean, as `stackr config` shows them (paths made relative).
#[test]
fn residency_config_per_profile() {
    let dir = root().join("examples/residency-scheduler");
    let prefix = format!("{}/", dir.display());
    for profile in ["dev", "prod"] {
        let r = run(stackr(&dir).args(["config", "--profile", profile]));
        assert_eq!(r.code, 0, "{}", r.stderr);
        let shown = r.stdout.replace(&prefix, "./");
        insta::assert_snapshot!(format!("residency_config_{profile}"), shown);
    }
}

#[test]
fn config_json_and_lists() {
    let dir = root().join("examples/residency-scheduler");
    let r = run(stackr(&dir).args(["config", "--format", "json", "--profile", "prod"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v["name"], "residency-scheduler");
    assert_eq!(v["services"]["backend"]["read-only"], true);
    assert_eq!(v["services"]["backend"]["limits"]["memory"], 4u64 << 30);
    assert_eq!(v["networks"]["backend"]["internal"], true);
    let r = run(stackr(&dir).args(["config", "--services"]));
    assert_eq!(r.stdout, "backend\ndb\nfrontend\nnginx\nredis\n");
    let r = run(stackr(&dir).args(["config", "--profiles"]));
    assert_eq!(r.stdout, "dev\noffline\nprod\n");
}

/// `config` never reads a secret: a secret file that is not there does not stop it... but
/// host checks do, so the value is never needed: the output names the file, not its content.
#[test]
fn config_never_prints_secret_values() {
    let dir = root().join("examples/residency-scheduler");
    let secret = std::fs::read_to_string(dir.join("secrets/db_password.txt"))
        .unwrap_or_else(|e| panic!("{e}"));
    for format in ["kdl", "json"] {
        let r = run(stackr(&dir)
            .args(["config", "--profile", "prod", "--format", format])
            .env("SECRET_KEY", "s3cr3t-value-from-env"));
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(
            !r.stdout.contains(secret.trim()),
            "{format} output holds the secret file's value"
        );
        assert!(
            !r.stdout.contains("s3cr3t-value-from-env"),
            "{format} output holds the env secret's value"
        );
    }
}

#[test]
fn graph_formats() {
    let dir = root().join("examples/residency-scheduler");
    for format in ["text", "dot", "mermaid"] {
        let r = run(stackr(&dir).args(["graph", "--format", format]));
        assert_eq!(r.code, 0, "{}", r.stderr);
        insta::assert_snapshot!(format!("residency_graph_{format}"), r.stdout);
    }
}

/// `config --images`, `--hash`, `--environment` and `--variables`, as compose has them.
#[test]
fn config_lists_images_hashes_environment_and_variables() {
    let dir = crate::cli::temp_dir("config-lists");
    std::fs::write(
        dir.join("stack.kdl"),
        r#"stack "lists"
service "db" {
    image "postgres:${PG:-16}"
    env PASSWORD="${DB_PASSWORD:?set the password}"
}
service "web" {
    build "."
    env MODE="${MODE:+on}" HOST="$HOSTNAME_X"
}
"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("Dockerfile"), "FROM scratch\n").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join(".env"), "DB_PASSWORD=secret\nPG=15\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let r = run(stackr(&dir).args(["config", "--images"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "postgres:15\nlists-web\n");
    let r = run(stackr(&dir).args(["config", "--hash", "*"]));
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", r.stdout);
    assert!(lines[0].starts_with("db ") && lines[1].starts_with("web "));
    // The hash follows the settings.
    let r2 = run(stackr(&dir)
        .env("PG", "17")
        .args(["config", "--hash", "db"]));
    assert_eq!(r2.stdout.lines().count(), 1);
    assert_ne!(r2.stdout.trim(), lines[0]);
    let r = run(stackr(&dir).args(["config", "--hash", "nope"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = run(stackr(&dir)
        .env("MODE", "x")
        .args(["config", "--environment"]));
    assert!(r.stdout.lines().any(|l| l == "PG=15"), "{}", r.stdout);
    assert!(r.stdout.lines().any(|l| l == "MODE=x"));
    let r = run(stackr(&dir).args(["config", "--variables", "--format", "json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = v
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x["name"].as_str())
        .collect();
    assert_eq!(names, ["DB_PASSWORD", "HOSTNAME_X", "MODE", "PG"]);
    assert_eq!(v[0]["required"], true);
    assert_eq!(v[0]["set"], true);
    assert_eq!(v[2]["alternate"], "on");
    assert_eq!(v[3]["default"], "16");
    let r = run(stackr(&dir).args(["config", "--variables"]));
    assert!(
        r.stdout.starts_with("NAME") && r.stdout.contains("DB_PASSWORD  yes"),
        "{}",
        r.stdout
    );
    let _ = std::fs::remove_dir_all(&dir);
}
