//! The `stackr` binary as users run it.

use std::path::Path;
use std::process::Command;

use crate::support::root;

pub fn stackr(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stackr"));
    cmd.current_dir(dir)
        .env_remove("STACKR_FILE")
        .env_remove("STACKR_PROFILE")
        .env_remove("STACKR_STACK_NAME")
        .env_remove("STACKR_TARGET")
        .env("NO_COLOR", "1");
    cmd
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(cmd: &mut Command) -> Run {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run stackr: {e}"));
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("stackr-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    dir
}

#[test]
fn check_root_stack() {
    let r = run(stackr(&root()).arg("check"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    insta::assert_snapshot!(r.stdout, @"stack.kdl: stack `stackr-demo` is valid: 3 services, 2 networks, 1 volume, 1 secret; profiles checked: dev");
}

#[test]
fn check_residency_example_every_profile() {
    let dir = root().join("examples/residency-scheduler");
    let r = run(stackr(&dir).arg("check"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    insta::assert_snapshot!(r.stdout, @"stack.kdl: stack `residency-scheduler` is valid: 5 services, 2 networks, 1 volume, 2 secrets; profiles checked: dev, offline, prod");
    for profile in ["dev", "prod"] {
        let r = run(stackr(&dir).args(["check", "--profile", profile]));
        assert_eq!(r.code, 0, "{profile}: {}", r.stderr);
        assert!(
            r.stdout.contains(&format!("with profile {profile}")),
            "{}",
            r.stdout
        );
    }
}

#[test]
fn check_finds_stack_file_in_a_parent_directory() {
    let dir = root().join("examples/residency-scheduler/backend/app");
    let r = run(stackr(&dir).arg("check"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("residency-scheduler"), "{}", r.stdout);
}

#[test]
fn invalid_stack_exits_1_with_plain_diagnostics() {
    let dir = temp_dir("invalid");
    std::fs::write(
        dir.join("stack.kdl"),
        "service \"web\" {\n    image \"nginx\"\n    networks \"frontnd\"\n}\nnetwork \"frontend\"\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let r = run(stackr(&dir).arg("check"));
    assert_eq!(r.code, 1);
    assert_eq!(r.stdout, "");
    assert!(
        !r.stderr.contains('\u{1b}'),
        "NO_COLOR output has escape codes"
    );
    insta::assert_snapshot!(r.stderr, @r#"
    stackr::unknown-reference

      × service `web` refers to unknown network `frontnd`
       ╭─[stack.kdl:3:14]
     2 │     image "nginx"
     3 │     networks "frontnd"
       ·              ────┬────
       ·                  ╰── no such network
     4 │ }
       ╰────
      help: did you mean `frontend`?

    error: stack.kdl is invalid: 1 error
    "#);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn warnings_do_not_fail() {
    let dir = temp_dir("warnings");
    std::fs::write(
        dir.join("stack.kdl"),
        "service \"db\" { image \"postgres\" }\nservice \"web\" {\n    image \"nginx\"\n    depends-on \"db\" condition=\"healthy\"\n}\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let r = run(stackr(&dir).arg("check"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("has no health check"), "{}", r.stderr);
    assert!(r.stdout.contains("(1 warning)"), "{}", r.stdout);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn file_flag_env_var_and_stack_name() {
    let dir = temp_dir("flags");
    std::fs::write(dir.join("a.kdl"), "service \"web\" { image \"nginx\" }\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let r = run(stackr(&dir).args(["-f", "a.kdl", "-p", "shop", "check"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with("a.kdl: stack `shop` is valid"),
        "{}",
        r.stdout
    );

    let r = run(stackr(&dir)
        .env("STACKR_FILE", "a.kdl")
        .env("STACKR_STACK_NAME", "env-name")
        .arg("check"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("stack `env-name`"), "{}", r.stdout);

    let r = run(stackr(&dir).args(["-f", "missing.kdl", "check"]));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("cannot read"), "{}", r.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn default_stack_name_is_the_normalised_directory_name() {
    let dir = temp_dir("Dir_Name.With-Dots").join("My App");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        dir.join("stack.kdl"),
        "service \"web\" { image \"nginx\" }\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let r = run(stackr(&dir).arg("check"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("stack `myapp`"), "{}", r.stdout);
}

#[test]
fn missing_stack_file_is_a_clear_error() {
    let dir = temp_dir("empty");
    let r = run(stackr(&dir).arg("check"));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("no stack.kdl in"), "{}", r.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn host_paths_are_checked() {
    let dir = temp_dir("host");
    std::fs::write(
        dir.join("stack.kdl"),
        "secret \"pw\" file=\"./pw.txt\"\nservice \"web\" {\n    build \"./web\"\n    secret \"pw\"\n}\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let r = run(stackr(&dir).arg("check"));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("build context"), "{}", r.stderr);
    assert!(r.stderr.contains("the file of secret `pw`"), "{}", r.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unknown_profile_is_an_error() {
    let dir = root().join("examples/residency-scheduler");
    let r = run(stackr(&dir).args(["check", "--profile", "prdo"]));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("did you mean `prod`?"), "{}", r.stderr);
}

#[test]
fn import_writes_a_stack_file_that_checks() {
    let dir = temp_dir("import");
    let seed = root().join("crates/stackr-import/tests/fixtures/seed");
    for f in ["docker-compose.yml", "docker-compose.dev.yml"] {
        std::fs::copy(seed.join(f), dir.join(f)).unwrap_or_else(|e| panic!("{e}"));
    }
    let import = [
        "import",
        "docker-compose.yml",
        "docker-compose.dev.yml:dev",
        "-o",
        "stack.kdl",
    ];
    // Import's own check is `stackr check`, paths included: without the build contexts it
    // writes nothing.
    let r = run(stackr(&dir).args(import));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("build context does not exist") && !r.stderr.contains("wrote"),
        "{}",
        r.stderr
    );
    assert!(!dir.join("stack.kdl").exists());
    for sub in ["backend/app", "frontend/src", "frontend/public"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap_or_else(|e| panic!("{e}"));
    }
    for df in [
        "backend/Dockerfile",
        "backend/Dockerfile.local",
        "frontend/Dockerfile",
        "frontend/Dockerfile.local",
    ] {
        std::fs::write(dir.join(df), "FROM scratch\n").unwrap_or_else(|e| panic!("{e}"));
    }
    let r = run(stackr(&dir).args(import));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains(":delegated"),
        "the report names what was dropped: {}",
        r.stderr
    );
    let kdl = std::fs::read_to_string(dir.join("stack.kdl")).unwrap_or_default();
    assert!(kdl.contains("profile \"dev\""), "{kdl}");
    // Writing over an existing file needs --force.
    let r = run(stackr(&dir).args(["import", "docker-compose.yml", "-o", "stack.kdl"]));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("--force"), "{}", r.stderr);
    // A YAML error is a diagnostic with a span, and nothing is written.
    std::fs::write(
        dir.join("bad.yml"),
        "services:\n  web:\n    image: nginx\n    enviroment:\n      A: 1\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let r = run(stackr(&dir).args(["import", "bad.yml"]));
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("bad.yml:4:5") && r.stderr.contains("did you mean `environment`?"),
        "{}",
        r.stderr
    );
    // The same error as data: where it is, its code and its help.
    let r = run(stackr(&dir).args(["import", "bad.yml", "--format", "json"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v: serde_json::Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    let error = &v["errors"][0];
    assert_eq!(
        (&error["file"], &error["line"], &error["column"]),
        (
            &serde_json::json!("bad.yml"),
            &serde_json::json!(4),
            &serde_json::json!(5)
        ),
        "{}",
        r.stdout
    );
    assert_eq!(error["code"], "unknown-property", "{}", r.stdout);
    assert!(
        error["help"]
            .as_str()
            .is_some_and(|h| h.contains("did you mean `environment`?")),
        "{}",
        r.stdout
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `watch` on a stack whose rules live in a profile names the profile (no engine needed: it
/// stops before connecting).
#[test]
fn watch_without_rules_names_the_profile_that_has_them() {
    let r = run(stackr(&root()).arg("watch"));
    assert_eq!(r.code, 1, "{}", r.stderr);
    insta::assert_snapshot!(r.stderr, @r"
    error: no service has watch rules: add `watch { sync ... }` to a service (or to a profile's, and pass `--profile`)
      help: the profile `dev` has watch rules: `stackr --profile dev watch`
    ");
}
