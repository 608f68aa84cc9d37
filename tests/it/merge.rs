//! Overlays (profiles and later `-f` files) follow compose's override rules, case by case:
//! scalars replace; maps merge by key; ports append without duplicates; mounts by target, env
//! by name and secrets by target replace their match; command, entrypoint and the health test
//! replace; services that exist only in an overlay are added.

use std::collections::BTreeMap;
use std::path::PathBuf;

use stackr_spec::{
    EnvValue, HealthTest, MemoryReader, MountSource, Options, Service, Stack, load, load_str,
};

use crate::support::render_all;

const BASE: &str = r#"
network "backend"
volume "data"
volume "other"
secret "a" file="./a.txt"
secret "b" file="./b.txt"

service "db" {
    image "postgres:15"
    health { shell "pg_isready" }
}

service "web" {
    image "web:1"
    user "1000"
    command "serve" "--port" "80"
    entrypoint "/init"
    env {
        A "1"
        B "2"
    }
    labels { tier "front"; team "a" }
    port "8080:80"
    port "9090:90"
    mount "data" "/data"
    mount "./conf" "/conf" read-only=#true
    networks "backend"
    depends-on "db"
    secret "a" target="/run/secrets/token"
    cap-add "NET_ADMIN"
    ulimit "nofile" 1024
    sysctls { net.core.somaxconn "128" }
    logging "json-file" { max-size "10m" }
    health {
        exec "check"
        interval "10s"
        retries 3
    }
    build "./web" {
        arg "X" "1"
        arg "Y" "2"
    }
}
"#;

fn with_profile(overlay: &str) -> Stack {
    let text = format!("{BASE}\nprofile \"p\" {{\n{overlay}\n}}\n");
    let opts = Options {
        profiles: vec!["p".into()],
        vars: Some(BTreeMap::new()),
        ..Options::default()
    };
    let loaded = load_str("/app/stack.kdl", &text, &opts);
    match loaded.stack {
        Some(s) => s,
        None => panic!("{}", render_all(&loaded)),
    }
}

fn web(stack: &Stack) -> &Service {
    &stack.services["web"]
}

#[test]
fn scalars_replace() {
    let s = with_profile(r#"service "web" { image "web:2"; user "0"; restart "always" }"#);
    assert_eq!(
        web(&s).image.as_ref().map(|i| i.value.as_str()),
        Some("web:2")
    );
    assert_eq!(web(&s).user.as_ref().map(|i| i.value.as_str()), Some("0"));
}

#[test]
fn command_and_entrypoint_replace_whole() {
    let s = with_profile(r#"service "web" { command "dev"; entrypoint "/dev-init" "--" }"#);
    assert_eq!(
        web(&s).command.as_ref().map(|c| c.value.clone()),
        Some(vec!["dev".to_string()])
    );
    assert_eq!(
        web(&s).entrypoint.as_ref().map(|c| c.value.clone()),
        Some(vec!["/dev-init".to_string(), "--".to_string()])
    );
}

#[test]
fn env_merges_by_name_and_null_unsets() {
    let s = with_profile(r#"service "web" { env B="two" C="3" A=#null }"#);
    let env: Vec<(String, EnvValue)> = web(&s)
        .env
        .iter()
        .map(|v| (v.name.value.clone(), v.value.value.clone()))
        .collect();
    assert_eq!(
        env,
        vec![
            ("B".to_string(), EnvValue::Text("two".into())),
            ("C".to_string(), EnvValue::Text("3".into())),
        ]
    );
}

#[test]
fn maps_merge_by_key() {
    let s = with_profile(
        r#"service "web" {
            labels { team "b"; env "dev" }
            sysctls { net.ipv4.ip_forward "1" }
            build { arg "Y" "two"; arg "Z" "3" }
        }"#,
    );
    let labels: Vec<(String, String)> = web(&s)
        .labels
        .iter()
        .map(|kv| (kv.key.value.clone(), kv.value.value.clone()))
        .collect();
    assert_eq!(
        labels,
        vec![
            ("tier".into(), "front".into()),
            ("team".into(), "b".into()),
            ("env".into(), "dev".into())
        ]
    );
    assert_eq!(web(&s).sysctls.len(), 2);
    let args: Vec<(String, String)> = web(&s)
        .build
        .as_ref()
        .map(|b| {
            b.args
                .iter()
                .map(|kv| (kv.key.value.clone(), kv.value.value.clone()))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        args,
        vec![
            ("X".into(), "1".into()),
            ("Y".into(), "two".into()),
            ("Z".into(), "3".into())
        ]
    );
}

#[test]
fn build_fields_replace_one_by_one() {
    let s = with_profile(r#"service "web" { build dockerfile="Dockerfile.dev" target="dev" }"#);
    let b = web(&s).build.as_ref().unwrap_or_else(|| panic!("build"));
    assert_eq!(
        b.context.as_ref().map(|c| c.value.clone()),
        Some(PathBuf::from("/app/web"))
    );
    assert_eq!(
        b.dockerfile.as_ref().map(|d| d.value.as_str()),
        Some("Dockerfile.dev")
    );
    assert_eq!(b.target.as_ref().map(|d| d.value.as_str()), Some("dev"));
}

#[test]
fn ports_append_without_duplicates() {
    let s = with_profile(r#"service "web" { port "8080:80"; port "5678:5678" }"#);
    let ports: Vec<String> = web(&s).ports.iter().map(|p| p.value.to_string()).collect();
    assert_eq!(ports, vec!["8080:80", "9090:90", "5678:5678"]);
}

#[test]
fn mounts_replace_by_target() {
    let s = with_profile(r#"service "web" { mount "other" "/data"; mount "./cache" "/cache" }"#);
    let mounts: Vec<(String, MountSource)> = web(&s)
        .mounts
        .iter()
        .map(|m| (m.target.value.clone(), m.source.value.clone()))
        .collect();
    assert_eq!(
        mounts,
        vec![
            ("/data".into(), MountSource::Volume("other".into())),
            (
                "/conf".into(),
                MountSource::Bind(PathBuf::from("/app/conf"))
            ),
            (
                "/cache".into(),
                MountSource::Bind(PathBuf::from("/app/cache"))
            ),
        ]
    );
}

#[test]
fn secrets_replace_by_target() {
    let s = with_profile(r#"service "web" { secret "b" target="/run/secrets/token"; secret "a" }"#);
    let secrets: Vec<(String, String)> = web(&s)
        .secrets
        .iter()
        .map(|f| (f.name.value.clone(), f.secret_path()))
        .collect();
    assert_eq!(
        secrets,
        vec![
            ("b".into(), "/run/secrets/token".into()),
            ("a".into(), "/run/secrets/a".into())
        ]
    );
}

#[test]
fn health_test_replaces_and_timings_merge() {
    let s =
        with_profile(r#"service "web" { health { http port=80 path="/health"; timeout "2s" } }"#);
    let h = web(&s).health.as_ref().unwrap_or_else(|| panic!("health"));
    assert!(matches!(
        h.test.as_ref().map(|t| &t.value),
        Some(HealthTest::Http(_))
    ));
    assert_eq!(
        h.interval.as_ref().map(|d| d.value.as_secs()),
        Some(10),
        "kept from the base"
    );
    assert_eq!(h.timeout.as_ref().map(|d| d.value.as_secs()), Some(2));
    assert_eq!(h.retries.as_ref().map(|r| r.value), Some(3));
}

#[test]
fn depends_on_and_networks_merge_by_name() {
    let s = with_profile(
        r#"network "frontend"
        service "web" {
            depends-on "db" condition="healthy"
            network "frontend"
        }"#,
    );
    let deps: Vec<(String, &str)> = web(&s)
        .depends_on
        .iter()
        .map(|d| (d.service.value.clone(), d.condition.as_str()))
        .collect();
    assert_eq!(deps, vec![("db".to_string(), "healthy")]);
    let nets: Vec<&str> = web(&s)
        .networks
        .iter()
        .map(|n| n.name.value.as_str())
        .collect();
    assert_eq!(nets, vec!["backend", "frontend"]);
}

#[test]
fn sequences_append_without_duplicates_and_ulimits_by_name() {
    let s =
        with_profile(r#"service "web" { cap-add "NET_ADMIN" "SYS_TIME"; ulimit "nofile" 4096 }"#);
    let caps: Vec<&str> = web(&s).cap_add.iter().map(|c| c.value.as_str()).collect();
    assert_eq!(caps, vec!["NET_ADMIN", "SYS_TIME"]);
    assert_eq!(web(&s).ulimits.len(), 1);
    assert_eq!(web(&s).ulimits[0].soft, 4096);
}

#[test]
fn logging_options_merge_for_the_same_driver_only() {
    let s = with_profile(r#"service "web" { logging "json-file" { max-file "3" } }"#);
    assert_eq!(web(&s).logging.as_ref().map(|l| l.options.len()), Some(2));
    let s = with_profile(r#"service "web" { logging "syslog" { tag "web" } }"#);
    let l = web(&s)
        .logging
        .as_ref()
        .unwrap_or_else(|| panic!("logging"));
    assert_eq!(l.driver.value, "syslog");
    assert_eq!(l.options.len(), 1);
}

#[test]
fn top_level_declarations_overlay_and_new_services_appear() {
    let s = with_profile(
        r#"network "backend" internal=#true
        network "public"
        service "web" { network "public" }
        service "tools" { image "busybox"; networks "backend" }"#,
    );
    assert!(s.networks["backend"].is_internal());
    assert!(s.services.contains_key("tools"));
}

#[test]
fn later_files_overlay_earlier_ones() {
    let mut reader = MemoryReader::default();
    reader.files.insert(
        PathBuf::from("/app/stack.kdl"),
        r#"service "web" { image "web:1"; port "80:80"; env A="1" }"#.into(),
    );
    reader.files.insert(
        PathBuf::from("/app/override/prod.kdl"),
        r#"service "web" { image "web:2"; env B="2"; mount "./data" "/data" }
           service "extra" { image "busybox" }"#
            .into(),
    );
    let loaded = load(
        &[
            PathBuf::from("/app/stack.kdl"),
            PathBuf::from("/app/override/prod.kdl"),
        ],
        &reader,
        &Options::default(),
    );
    let stack = loaded
        .stack
        .as_ref()
        .unwrap_or_else(|| panic!("{}", render_all(&loaded)));
    assert_eq!(
        stack.name, "app",
        "the first file's directory names the stack"
    );
    let web = &stack.services["web"];
    assert_eq!(web.image.as_ref().map(|i| i.value.as_str()), Some("web:2"));
    assert_eq!(web.env.len(), 2);
    assert_eq!(web.ports.len(), 1);
    // A relative path is relative to the file that holds it.
    assert_eq!(
        web.mounts[0].source.value,
        MountSource::Bind(PathBuf::from("/app/override/data"))
    );
    assert!(stack.services.contains_key("extra"));
}

#[test]
fn include_adds_declarations_and_clashes_are_errors() {
    let mut reader = MemoryReader::default();
    reader.files.insert(
        PathBuf::from("/app/stack.kdl"),
        "include \"./shared/db.kdl\"\nservice \"web\" {\n    image \"web\"\n    depends-on \"db\"\n}\n".into(),
    );
    reader.files.insert(
        PathBuf::from("/app/shared/db.kdl"),
        "volume \"pg\"\nservice \"db\" {\n    image \"postgres\"\n    mount \"pg\" \"/var/lib/postgresql/data\"\n    env-file \"./db.env\"\n}\n".into(),
    );
    let loaded = load(
        &[PathBuf::from("/app/stack.kdl")],
        &reader,
        &Options::default(),
    );
    let stack = loaded
        .stack
        .as_ref()
        .unwrap_or_else(|| panic!("{}", render_all(&loaded)));
    assert!(stack.volumes.contains_key("pg"));
    assert_eq!(
        stack.services["db"].env_files[0].path.value,
        PathBuf::from("/app/shared/db.env"),
        "paths in an included file are relative to it"
    );

    reader.files.insert(
        PathBuf::from("/app/stack.kdl"),
        "include \"./shared/db.kdl\"\nservice \"db\" { image \"mysql\" }\n".into(),
    );
    let loaded = load(
        &[PathBuf::from("/app/stack.kdl")],
        &reader,
        &Options::default(),
    );
    assert!(loaded.has_errors());
    assert!(
        loaded
            .diagnostics
            .iter()
            .any(|d| d.problem.code() == "duplicate"),
        "{}",
        render_all(&loaded)
    );
}
