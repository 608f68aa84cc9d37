//! Ordered recovery in the desired state: which containers wait for what after a daemon
//! restart, and what stays as the stack file says.

use stackr_engine::{ImageConfig, MountSpec};
use stackr_reconcile::desired::{DesiredContainer, Inputs, OneOff, desired, one_off_spec};
use stackr_spec::Stack;

mod common;

const CHAIN: &str = r#"
stack "chain"
service "db" {
    image "db:1"
    restart "unless-stopped"
    health { shell "pg_isready"; retries 5 }
}
service "migrate" {
    image "api:1"
    command "migrate"
    depends-on "db" condition="healthy"
}
service "api" {
    image "api:1"
    restart "always"
    depends-on "db" condition="healthy"
    depends-on "migrate" condition="completed"
    health { exec "/app" "health" }
}
service "web" {
    image "web:1"
    entrypoint "/web"
    restart "on-failure"
    depends-on "api" condition="healthy"
    depends-on "cache"
}
service "cache" {
    image "cache:1"
    command "cache" "--fast"
}
"#;

fn load(text: &str) -> Stack {
    common::stack_with(text, &[])
}

fn image(entrypoint: &[&str], cmd: &[&str], health: Option<&[&str]>) -> ImageConfig {
    let v = |a: &[&str]| (!a.is_empty()).then(|| a.iter().map(|s| s.to_string()).collect());
    ImageConfig {
        entrypoint: v(entrypoint),
        cmd: v(cmd),
        health_test: health.and_then(v),
    }
}

fn inputs() -> Inputs {
    let mut i = Inputs {
        probe_volume: Some("stackr-probe-x".into()),
        ..Inputs::default()
    };
    i.image_configs.insert(
        "db:1".into(),
        image(&["docker-entrypoint.sh"], &["postgres"], None),
    );
    i.image_configs
        .insert("api:1".into(), image(&[], &["/app", "serve"], None));
    i.image_configs
        .insert("web:1".into(), image(&[], &["ignored"], None));
    i.image_configs
        .insert("cache:1".into(), image(&[], &["cache"], None));
    i
}

fn container<'a>(d: &'a stackr_reconcile::desired::Desired, service: &str) -> &'a DesiredContainer {
    d.service(service)
        .and_then(|s| s.containers.first())
        .unwrap_or_else(|| panic!("no container of {service}"))
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn mounts_status(c: &DesiredContainer) -> bool {
    c.spec.mounts.iter().any(|m| {
        matches!(m, MountSpec::Volume { source: Some(v), target, read_only: false, .. }
            if v == "chain-stackr-status" && target == "/.stackr-status")
    })
}

#[test]
fn a_service_that_comes_back_waits_for_its_dependencies_then_runs_the_image_command() {
    let d = desired(&load(CHAIN), &inputs()).unwrap_or_else(|e| panic!("{e}"));
    let api = container(&d, "api");
    assert_eq!(
        api.spec.entrypoint,
        Some(strs(&[
            "/.stackr/probe",
            "start",
            "--as",
            "api/1",
            "--after",
            "healthy:db",
            "--"
        ]))
    );
    // The image has no entrypoint: its command is spelt out, since an entrypoint drops it.
    assert_eq!(api.spec.command, Some(strs(&["/app", "serve"])));
    assert!(mounts_status(api));
    assert!(api.spec.mounts.iter().any(|m| matches!(m,
        MountSpec::Volume { source: Some(v), read_only: true, .. } if v == "stackr-probe-x")));
}

#[test]
fn the_health_check_of_a_service_that_comes_back_is_reported() {
    let d = desired(&load(CHAIN), &inputs()).unwrap_or_else(|e| panic!("{e}"));
    let db = container(&d, "db");
    let health = db.spec.health.as_ref().map(|h| h.test.clone());
    assert_eq!(
        health,
        Some(strs(&[
            "CMD",
            "/.stackr/probe",
            "report",
            "--as",
            "db/1",
            "--retries",
            "5",
            "--timeout",
            "30",
            "--",
            "/bin/sh",
            "-c",
            "pg_isready"
        ]))
    );
    // No dependency: it only says when it started.
    assert_eq!(
        db.spec.entrypoint,
        Some(strs(&[
            "/.stackr/probe",
            "start",
            "--as",
            "db/1",
            "--",
            "docker-entrypoint.sh"
        ]))
    );
    assert_eq!(db.spec.command, Some(strs(&["postgres"])));
}

#[test]
fn a_stack_entrypoint_keeps_dropping_the_image_command() {
    let d = desired(&load(CHAIN), &inputs()).unwrap_or_else(|e| panic!("{e}"));
    let web = container(&d, "web");
    // `cache` does not come back by itself (no restart policy): not waited for.
    assert_eq!(
        web.spec.entrypoint,
        Some(strs(&[
            "/.stackr/probe",
            "start",
            "--as",
            "web/1",
            "--after",
            "healthy:api",
            "--",
            "/web"
        ]))
    );
    assert_eq!(web.spec.command, None);
}

#[test]
fn a_service_without_a_restart_policy_is_as_the_stack_file_says() {
    let d = desired(&load(CHAIN), &inputs()).unwrap_or_else(|e| panic!("{e}"));
    for name in ["cache", "migrate"] {
        let c = container(&d, name);
        assert_eq!(c.spec.entrypoint, None, "{name}");
        assert!(!mounts_status(c), "{name}");
    }
    assert_eq!(
        container(&d, "cache").spec.command,
        Some(strs(&["cache", "--fast"]))
    );
    assert!(
        d.volumes
            .iter()
            .any(|v| v.spec.name == "chain-stackr-status"
                && v.spec.driver_opts.get("type").map(String::as_str) == Some("tmpfs"))
    );
}

#[test]
fn a_stack_where_nothing_comes_back_has_no_status_volume() {
    let text = CHAIN
        .replace("restart \"unless-stopped\"", "")
        .replace("restart \"always\"", "")
        .replace("restart \"on-failure\"", "");
    let d = desired(&load(&text), &inputs()).unwrap_or_else(|e| panic!("{e}"));
    assert!(d.volumes.is_empty(), "{:?}", d.volumes);
    assert!(
        d.services
            .iter()
            .all(|s| s.containers[0].spec.entrypoint.is_none() || s.name == "web")
    );
}

#[test]
fn adding_a_dependent_does_not_change_its_dependency() {
    let (head, rest) = CHAIN.split_once("service \"web\"").unwrap_or_default();
    let (_, tail) = rest.split_once("service \"cache\"").unwrap_or_default();
    let without_web = format!("{head}service \"cache\"{tail}");
    let with = desired(&load(CHAIN), &inputs()).unwrap_or_else(|e| panic!("{e}"));
    let without = desired(&load(&without_web), &inputs()).unwrap_or_else(|e| panic!("{e}"));
    assert!(without.service("web").is_none());
    for name in ["db", "api", "cache"] {
        assert_eq!(
            container(&with, name).hash,
            container(&without, name).hash,
            "{name}"
        );
    }
}

#[test]
fn a_health_check_from_the_image_is_reported_and_waited_for() {
    let text = CHAIN.replace("health { exec \"/app\" \"health\" }", "");
    let mut i = inputs();
    i.image_configs.insert(
        "api:1".into(),
        image(&[], &["/app", "serve"], Some(&["CMD-SHELL", "/app health"])),
    );
    let d = desired(&load(&text), &i).unwrap_or_else(|e| panic!("{e}"));
    let api = container(&d, "api");
    let test = api.spec.health.as_ref().map(|h| h.test.clone());
    assert_eq!(
        test.as_deref().map(|t| &t[t.len() - 3..]),
        Some(&strs(&["/bin/sh", "-c", "/app health"])[..])
    );
    assert!(
        container(&d, "web")
            .spec
            .entrypoint
            .as_ref()
            .is_some_and(|e| e.contains(&"healthy:api".to_string()))
    );
}

#[test]
fn a_dependency_without_a_health_check_is_waited_for_as_started() {
    // `web` waits for `api` healthy, but nothing would ever report api's health.
    let text = CHAIN.replace("health { exec \"/app\" \"health\" }", "");
    let d = desired(&load(&text), &inputs()).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        container(&d, "web")
            .spec
            .entrypoint
            .as_ref()
            .is_some_and(|e| e.contains(&"started:api".to_string()))
    );
}

#[test]
fn an_image_not_inspected_yet_is_not_wrapped() {
    let mut i = inputs();
    i.image_configs.remove("api:1");
    let d = desired(&load(CHAIN), &i).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(container(&d, "api").spec.entrypoint, None);
}

#[test]
fn a_one_off_never_waits() {
    let stack = load(CHAIN);
    let api = stack.services.get("api").unwrap_or_else(|| panic!("api"));
    let one =
        one_off_spec(&stack, api, &OneOff::default(), &inputs()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(one.spec.entrypoint, None);
    assert_eq!(one.spec.command, None);
    assert!(!mounts_status(&one));
}

#[test]
fn a_dependency_that_may_not_come_back_is_not_waited_for() {
    // `on-failure` brings back only a container that failed; scale 0 has none.
    let text = CHAIN
        .replace("restart \"unless-stopped\"", "restart \"on-failure\"")
        .replace(
            "health { exec \"/app\" \"health\" }",
            "health { exec \"/app\" \"health\" }\n    stop-signal \"SIGUSR1\"",
        );
    let d = desired(&load(&text), &inputs()).unwrap_or_else(|e| panic!("{e}"));
    let api = container(&d, "api");
    let e = api.spec.entrypoint.clone().unwrap_or_default();
    assert!(!e.iter().any(|a| a == "healthy:db"), "{e:?}");
    // A waiting container stops on the service's own signal.
    assert!(
        e.windows(2)
            .any(|w| w[0] == "--stop-signal" && w[1] == "SIGUSR1"),
        "{e:?}"
    );
    // db itself still waits for nothing and reports (it restarts on failure).
    assert!(container(&d, "db").spec.entrypoint.is_some());

    let scaled = CHAIN.replace(
        "restart \"unless-stopped\"\n",
        "restart \"unless-stopped\"\n    scale 0\n",
    );
    let d = desired(&load(&scaled), &inputs()).unwrap_or_else(|e| panic!("{e}"));
    let e = container(&d, "api")
        .spec
        .entrypoint
        .clone()
        .unwrap_or_default();
    assert!(!e.iter().any(|a| a.ends_with(":db")), "{e:?}");
}

#[test]
fn a_new_probe_runner_recreates_no_container() {
    let mut before = inputs();
    before.probe_volume = Some("stackr-probe-00aa11bb".into());
    let mut after = inputs();
    after.probe_volume = Some("stackr-probe-99ff88ee".into());
    let a = desired(&load(CHAIN), &before).unwrap_or_else(|e| panic!("{e}"));
    let b = desired(&load(CHAIN), &after).unwrap_or_else(|e| panic!("{e}"));
    for name in ["db", "api", "web"] {
        assert_eq!(container(&a, name).hash, container(&b, name).hash, "{name}");
    }
}
