//! compose-go's own full example (`loader/full-example.yml`, kept in the import corpus from
//! before it was removed upstream) against what compose-go's test expects of it
//! (`full-struct_test.go` beside it), field by field: every key is carried over with the
//! value compose-go reads, or named by the compatibility report with its reason.
//!
//! The file is inconsistent on purpose (links and dependencies on services it does not
//! declare, a container name with six replicas): compose-go's test loads it with its
//! consistency check off, so this test reads the stack file import writes without validating
//! it, and `stackr import` on it refuses to write, as compose refuses to run it.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Value, json};
use serde_yaml::Value as Yaml;
use stackr_import::{Input, ReportItem, import};
use stackr_spec::{Diagnostics, FileId, SourceFile, parse_file};

use crate::support::root;

const DIR: &str = "/project";
const FILE: &str = "tests/import-corpus/compose-go/loader/full-example.yml";

struct Imported {
    /// The stack file's declarations, decoded, as JSON.
    body: Value,
    report: Vec<ReportItem>,
}

/// Imports the file as compose-go's test loads it: from `/project`, with `HOME` and the
/// variables its test sets, and the project name it gives.
fn imported() -> Imported {
    let text = std::fs::read_to_string(root().join(FILE)).unwrap_or_else(|e| panic!("{e}"));
    let out = import(&[Input {
        path: format!("{DIR}/compose.yml").into(),
        text,
        profile: None,
    }]);
    let vars: BTreeMap<String, String> = [("HOME", "/home/user"), ("QUX", "qux_from_environment")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let source = SourceFile::new(format!("{DIR}/stack.kdl"), "stack.kdl", out.kdl.as_str());
    let mut diags = Diagnostics::default();
    let file = parse_file(
        FileId(0),
        &source,
        &stackr_spec::MemoryReader::default(),
        Some(&vars),
        &mut HashSet::new(),
        &mut diags,
    )
    .unwrap_or_else(|| panic!("the stack file import wrote does not parse:\n{}", out.kdl));
    Imported {
        body: serde_json::to_value(&file.body).unwrap_or_else(|e| panic!("{e}")),
        report: out.items,
    }
}

fn named<'a>(body: &'a Value, list: &str, name: &str) -> &'a Value {
    body[list]
        .as_array()
        .and_then(|l| l.iter().find(|x| x["name"] == name))
        .unwrap_or_else(|| panic!("no {list} `{name}` in {body:#}"))
}

fn kv(pairs: &[(&str, &str)]) -> Value {
    pairs
        .iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect()
}

fn update() -> Value {
    json!({"parallelism": 3, "delay": "10s", "failure-action": "continue", "monitor": "1m",
           "max-failure-ratio": 0.3, "order": "start-first"})
}

fn bind(source: &str, target: &str, read_only: bool) -> Value {
    json!({"source": {"bind": source}, "target": target, "read-only": read_only})
}

fn tmpfs(target: &str, size: Option<u64>) -> Value {
    json!({"source": {"tmpfs": {"size": size, "mode": null}}, "target": target, "read-only": false})
}

fn port(host_ip: Option<&str>, published: Option<&str>, target: &str) -> Value {
    json!({"host-ip": host_ip, "published": published, "target": target, "protocol": "tcp"})
}

/// What compose-go's test expects of `services.foo`, key by key, as the decoded stack holds
/// it: (compose key, JSON pointer into the service, value).
fn foo_carried() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        (
            "annotations",
            "/annotations",
            kv(&[("com.example.foo", "bar")]),
        ),
        ("build.context", "/build/context", json!("/project/dir")),
        ("build.dockerfile", "/build/dockerfile", json!("Dockerfile")),
        ("build.args", "/build/args", kv(&[("foo", "bar")])),
        ("build.ssh", "/build/ssh", json!(["default"])),
        ("build.target", "/build/target", json!("foo")),
        ("build.network", "/build/network", json!("foo")),
        (
            "build.cache_from",
            "/build/cache-from",
            json!(["foo", "bar"]),
        ),
        ("build.labels", "/build/labels", kv(&[("FOO", "BAR")])),
        // The id a Dockerfile names is compose's target.
        (
            "build.secrets",
            "/build/secrets",
            json!([{"name": "secret1", "id": "/run/secrets/secret1"},
                   {"name": "secret2", "id": "my_secret"}]),
        ),
        // compose defines `${COMPOSE_PROJECT_NAME}` as the project's name: written out.
        (
            "build.tags",
            "/build/tags",
            json!([
                "foo:v1.0.0",
                "docker.io/username/foo:my-other-tag",
                "full_example_project_name:1.0.0"
            ]),
        ),
        ("cap_add", "/cap-add", json!(["ALL"])),
        ("cap_drop", "/cap-drop", json!(["NET_ADMIN", "SYS_ADMIN"])),
        ("cgroup_parent", "/cgroup-parent", json!("m-executor-abcd")),
        (
            "command",
            "/command",
            json!(["bundle", "exec", "thin", "-p", "3000"]),
        ),
        (
            "configs",
            "/configs",
            json!([{"name": "config1", "target": null, "uid": null, "gid": null, "mode": null},
                   {"name": "config2", "target": "/my_config", "uid": 103, "gid": 103, "mode": 0o440}]),
        ),
        (
            "container_name",
            "/container-name",
            json!("my-web-container"),
        ),
        (
            "depends_on",
            "/depends-on",
            json!([{"service": "db", "condition": "started", "required": true, "restart": false},
                   {"service": "redis", "condition": "started", "required": true, "restart": false}]),
        ),
        // `mode: replicated` is what a service is.
        ("deploy.mode", "/scale", json!(6)),
        ("deploy.replicas", "/scale", json!(6)),
        ("deploy.rollback_config", "/rollback", update()),
        ("deploy.update_config", "/update", update()),
        (
            "deploy.resources",
            "/limits",
            json!({"cpus": 0.001, "memory": 50 * 1024 * 1024, "pids": null}),
        ),
        (
            "deploy.resources",
            "/reservations",
            json!({"cpus": 0.0001, "memory": 20 * 1024 * 1024, "pids": null}),
        ),
        (
            "deploy.placement",
            "/placement",
            json!({"constraints": ["node=foo"], "max-per-node": 5, "spread": ["node.labels.az"]}),
        ),
        ("deploy.endpoint_mode", "/endpoint-mode", json!("dnsrr")),
        (
            "device_cgroup_rules",
            "/device-cgroup-rules",
            json!(["c 1:3 mr", "a 7:* rmw"]),
        ),
        (
            "devices",
            "/devices",
            json!(["/dev/ttyUSB0:/dev/ttyUSB0:rwm"]),
        ),
        ("dns", "/dns", json!(["8.8.8.8", "9.9.9.9"])),
        (
            "dns_search",
            "/dns-search",
            json!(["dc1.example.com", "dc2.example.com"]),
        ),
        ("domainname", "/domainname", json!("foo.com")),
        (
            "entrypoint",
            "/entrypoint",
            json!(["/code/entrypoint.sh", "-p", "3000"]),
        ),
        // The files' variables (FOO, BAR, ENV.WITH.DOT, ...) are read when the stack runs.
        (
            "env_file",
            "/env-files",
            json!([{"path": "/project/example1.env", "required": true},
                   {"path": "/project/example2.env", "required": false}]),
        ),
        (
            "environment",
            "/env",
            json!([{"name": "BAZ", "value": {"text": "baz_from_service_def"}},
                   {"name": "QUX", "value": {"text": "qux_from_environment"}}]),
        ),
        (
            "expose",
            "/expose",
            json!([["3000", "tcp"], ["8000", "tcp"]]),
        ),
        (
            "external_links",
            "/external-links",
            json!(["redis_1", "project_db_1:mysql", "project_db_1:postgresql"]),
        ),
        (
            "extra_hosts",
            "/extra-hosts",
            kv(&[
                ("otherhost", "50.31.209.229"),
                ("somehost", "162.242.195.82"),
            ]),
        ),
        (
            "healthcheck",
            "/health",
            json!({"test": {"shell": "echo \"hello world\""}, "interval": "10s", "timeout": "1s",
                   "retries": 5, "start-period": "15s", "start-interval": "5s", "disabled": null}),
        ),
        ("hostname", "/hostname", json!("foo")),
        ("image", "/image", json!("redis")),
        ("ipc", "/ipc", json!("host")),
        ("uts", "/uts", json!("host")),
        // The files' labels are read when the stack runs, under the service's own.
        (
            "labels",
            "/labels",
            kv(&[
                ("com.example.description", "Accounting webapp"),
                ("com.example.number", "42"),
                ("com.example.empty-label", ""),
            ]),
        ),
        (
            "label_file",
            "/label-files",
            json!([{"path": "/project/example1.label", "required": true},
                   {"path": "/project/example2.label", "required": true}]),
        ),
        ("links", "/links", json!(["db", "db:database", "redis"])),
        (
            "logging",
            "/logging",
            json!({"driver": "syslog", "options": kv(&[("syslog-address", "tcp://192.168.0.42:123")])}),
        ),
        ("mac_address", "/mac-address", json!("02:42:ac:11:65:43")),
        (
            "network_mode",
            "/network-mode",
            json!({"container": "0cfeab0f748b9a743dc3da582046357c6ef497631c1a016d28d2bf9b4f899f7b"}),
        ),
        (
            "networks",
            "/networks",
            json!([
                {"name": "some-network", "aliases": ["alias1", "alias3"], "ipv4-address": null, "ipv6-address": null},
                {"name": "other-network", "aliases": [], "ipv4-address": "172.16.238.10", "ipv6-address": "2001:3984:3989::10",
                 "mac-address": "02:42:72:98:65:08"},
                {"name": "other-other-network", "aliases": [], "ipv4-address": null, "ipv6-address": null},
            ]),
        ),
        ("pid", "/pid", json!("host")),
        // compose-go lists a range port by port; stackr keeps the range.
        (
            "ports",
            "/ports",
            json!([
                port(None, None, "3000"),
                port(None, None, "3001-3005"),
                port(None, Some("8000"), "8000"),
                port(None, Some("9090-9091"), "8080-8081"),
                port(None, Some("49100"), "22"),
                port(Some("127.0.0.1"), Some("8001"), "8001"),
                port(Some("127.0.0.1"), Some("5000-5010"), "5000-5010"),
            ]),
        ),
        ("privileged", "/privileged", json!(true)),
        ("read_only", "/read-only", json!(true)),
        ("restart", "/restart", json!("always")),
        (
            "secrets",
            "/secrets",
            json!([{"name": "secret1", "target": "/run/secrets/secret1", "uid": null, "gid": null, "mode": null},
                   {"name": "secret2", "target": "my_secret", "uid": 103, "gid": 103, "mode": 0o440}]),
        ),
        (
            "security_opt",
            "/security-opt",
            json!(["label=level:s0:c100,c200", "label=type:svirt_apache_t"]),
        ),
        ("stdin_open", "/stdin-open", json!(true)),
        ("stop_grace_period", "/stop-grace-period", json!("20s")),
        ("stop_signal", "/stop-signal", json!("SIGUSR1")),
        ("storage_opt", "/storage-opt", kv(&[("size", "20G")])),
        (
            "sysctls",
            "/sysctls",
            kv(&[
                ("net.core.somaxconn", "1024"),
                ("net.ipv4.tcp_syncookies", "0"),
            ]),
        ),
        ("tmpfs", "/mounts/0", tmpfs("/run", None)),
        ("tmpfs", "/mounts/1", tmpfs("/tmp", None)),
        ("tty", "/tty", json!(true)),
        (
            "ulimits",
            "/ulimits",
            json!([{"name": "nproc", "soft": 65535, "hard": 65535},
                   {"name": "nofile", "soft": 20000, "hard": 40000}]),
        ),
        ("user", "/user", json!("someone")),
        (
            "volumes",
            "/mounts/2",
            json!({"source": "anonymous", "target": "/var/lib/anonymous", "read-only": false}),
        ),
        (
            "volumes",
            "/mounts/3",
            bind("/opt/data", "/var/lib/data", false),
        ),
        ("volumes", "/mounts/4", bind("/project", "/code", false)),
        (
            "volumes",
            "/mounts/5",
            bind("/project/static", "/var/www/html", false),
        ),
        (
            "volumes",
            "/mounts/6",
            bind("/home/user/configs", "/etc/configs", true),
        ),
        (
            "volumes",
            "/mounts/7",
            json!({"source": {"volume": "datavolume"}, "target": "/var/lib/volume", "read-only": false}),
        ),
        (
            "volumes",
            "/mounts/8",
            bind("/project/opt", "/opt/cached", false),
        ),
        ("volumes", "/mounts/9", tmpfs("/opt/tmpfs", Some(10000))),
        ("working_dir", "/working-dir", json!("/code")),
    ]
}

/// What of `services.foo` is not carried over, and the words of the reason (the key as the
/// report's JSON names it).
const FOO_REPORTED: &[(&str, &str)] = &[
    (
        "build.additional_contexts.foo",
        "no folder as a named context",
    ),
    ("build.platforms", "several platforms"),
    (
        "build.secrets.uid",
        "the Dockerfile's `RUN --mount=type=secret,uid=...` sets it",
    ),
    (
        "build.secrets.gid",
        "the Dockerfile's `RUN --mount=type=secret,gid=...` sets it",
    ),
    (
        "build.secrets.mode",
        "the Dockerfile's `RUN --mount=type=secret,mode=...` sets it",
    ),
    ("deploy.labels", "Swarm only"),
    (
        "deploy.resources.reservations.generic_resources",
        "not imported",
    ),
    ("deploy.restart_policy", "the service's `restart` is used"),
    ("deploy.restart_policy.delay", "not imported"),
    ("deploy.restart_policy.window", "not imported"),
    ("volumes.consistency", "no effect on Linux"),
];

/// Keys of `services.foo` that need no place in a stack file: extension fields, which
/// compose itself ignores.
const FOO_IGNORED: &[&str] = &["x-bar", "x-foo"];

/// The keys of `services.foo` in the compose file, with those of `build` and `deploy` one
/// level down (`build.ssh`).
fn foo_keys() -> Vec<String> {
    let text = std::fs::read_to_string(root().join(FILE)).unwrap_or_else(|e| panic!("{e}"));
    let doc: Yaml = serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    let service = &doc["services"]["foo"];
    let mut keys = Vec::new();
    for (k, v) in service.as_mapping().into_iter().flatten() {
        let k = k.as_str().unwrap_or_default().to_string();
        match (k.as_str(), v.as_mapping()) {
            ("build" | "deploy", Some(inner)) => keys.extend(
                inner
                    .keys()
                    .map(|i| format!("{k}.{}", i.as_str().unwrap_or(""))),
            ),
            _ => keys.push(k),
        }
    }
    keys
}

#[test]
fn every_field_of_the_full_example_is_carried_as_compose_reads_it_or_reported() {
    let out = imported();
    let service = named(&out.body, "services", "foo");
    let mut wrong = Vec::new();
    for (key, pointer, want) in foo_carried() {
        let got = service.pointer(pointer).cloned().unwrap_or(Value::Null);
        if got != want {
            wrong.push(format!(
                "{key} ({pointer}): stackr has {got}, compose-go reads {want}"
            ));
        }
    }
    let reported: Vec<&str> = out.report.iter().map(|i| i.key.as_str()).collect();
    for (key, why) in FOO_REPORTED {
        let full = format!("services.foo.{key}");
        match out.report.iter().find(|i| i.key == full) {
            Some(item) if item.message.contains(why) => {}
            Some(item) => wrong.push(format!("{full}: reported as \"{}\"", item.message)),
            None => wrong.push(format!(
                "{full}: not reported (the report has {reported:?})"
            )),
        }
        if item_line(&out.report, &full) == 0 {
            wrong.push(format!("{full}: reported without a position"));
        }
    }
    // Every key of the compose service has its place in one of the lists above.
    let carried: Vec<&str> = foo_carried().iter().map(|(k, _, _)| *k).collect();
    for key in foo_keys() {
        let known = carried.contains(&key.as_str())
            || FOO_REPORTED
                .iter()
                .any(|(k, _)| *k == key || k.starts_with(&format!("{key}.")))
            || FOO_IGNORED.contains(&key.as_str());
        if !known {
            wrong.push(format!(
                "services.foo.{key}: neither compared nor reported by this test"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

fn item_line(report: &[ReportItem], key: &str) -> usize {
    report.iter().find(|i| i.key == key).map_or(0, |i| i.line)
}

#[test]
fn the_full_example_networks_volumes_secrets_configs_and_inline_build_are_what_compose_reads() {
    let out = imported();
    let b = &out.body;
    let bar = named(b, "services", "bar");
    assert_eq!(bar["build"]["context"], "/project");
    assert_eq!(
        bar["build"]["dockerfile-inline"],
        "FROM alpine\nRUN echo \"hello\" > /world.txt"
    );
    assert_eq!(named(b, "networks", "some-network")["driver"], Value::Null);
    let other = named(b, "networks", "other-network");
    assert_eq!(other["driver"], "overlay");
    assert_eq!(other["driver-opts"], kv(&[("foo", "bar"), ("baz", "1")]));
    assert_eq!(other["labels"], kv(&[("foo", "bar")]));
    assert_eq!(
        other["ipam"],
        json!({"driver": "overlay", "subnets": [
            {"subnet": "172.28.0.0/16", "ip-range": "172.28.5.0/24", "gateway": "172.28.5.254",
             "aux-addresses": kv(&[("host1", "172.28.1.5"), ("host2", "172.28.1.6"), ("host3", "172.28.1.7")])},
            {"subnet": "2001:3984:3989::/64", "gateway": "2001:3984:3989::1"}]})
    );
    assert_eq!(named(b, "networks", "external-network")["external"], true);
    let cool = named(b, "networks", "other-external-network");
    assert_eq!(
        (&cool["external"], &cool["engine-name"]),
        (&json!(true), &json!("my-cool-network"))
    );

    let vol = |n: &str| named(b, "volumes", n).clone();
    assert_eq!(vol("some-volume")["driver"], Value::Null);
    assert_eq!(vol("other-volume")["driver"], "flocker");
    assert_eq!(
        vol("other-volume")["driver-opts"],
        kv(&[("foo", "bar"), ("baz", "1")])
    );
    assert_eq!(vol("other-volume")["labels"], kv(&[("foo", "bar")]));
    assert_eq!(vol("another-volume")["engine-name"], "user_specified_name");
    assert_eq!(vol("another-volume")["driver"], "vsphere");
    assert_eq!(vol("external-volume")["external"], true);
    assert_eq!(
        vol("other-external-volume")["engine-name"],
        "my-cool-volume"
    );
    assert_eq!(vol("external-volume3")["engine-name"], "this-is-volume3");

    let source = |kind: &str, n: &str| named(b, kind, n)["source"].clone();
    assert_eq!(
        source("secrets", "secret1"),
        json!({"file": "/project/secret_data"})
    );
    assert_eq!(
        source("secrets", "secret2"),
        json!({"external": "my_secret"})
    );
    assert_eq!(source("secrets", "secret3"), json!({"external": "secret3"}));
    assert_eq!(source("secrets", "secret4"), json!({"env": "BAR"}));
    assert_eq!(
        source("secrets", "secret5"),
        json!({"file": "/abs/secret_data"})
    );
    assert_eq!(
        source("configs", "config1"),
        json!({"file": "/project/config_data"})
    );
    assert_eq!(
        source("configs", "config2"),
        json!({"external": "my_config"})
    );
    assert_eq!(source("configs", "config3"), json!({"external": "config3"}));
    assert_eq!(
        source("configs", "config4"),
        json!({"file": "/home/user/config_data"})
    );
    // Labels of the Swarm objects stackr makes are carried; a name for one stackr makes is
    // reported (stackr names them by their content), each at its place.
    assert_eq!(
        named(b, "secrets", "secret1")["labels"],
        kv(&[("foo", "bar")])
    );
    assert_eq!(
        named(b, "configs", "config1")["labels"],
        kv(&[("foo", "bar")])
    );
    assert!(
        out.report.iter().any(|i| i.message.contains(
            "`${COMPOSE_PROJECT_NAME}` is written as the project's name `full_example_project_name`"
        )),
        "the project name's variable is not reported"
    );
    for key in ["secrets.secret4.name", "configs.config4.name"] {
        assert!(item_line(&out.report, key) > 0, "{key} is not reported");
    }
}
