//! One compose service to a `service` declaration: every key of the compose specification is
//! either converted, or noted (with the reason) in the report and as a comment, or, when
//! compose does not know it either, a diagnostic with a "did you mean".

use stackr_spec::port::parse_port_spec;

use crate::ctx::Ctx;
use crate::ir::{Decl, Entry, Frag, Group, Kind};
use crate::kdl::{Node, Val};
use crate::shell;
use crate::yaml::{self, Yaml};

/// Keys compose knows that stackr has no equivalent for, and why.
const UNSUPPORTED: &[(&str, &str)] = &[
    ("attach", "not supported yet"),
    ("cpu_count", "Windows only"),
    ("cpu_percent", "Windows only"),
    ("cpu_rt_period", "not supported yet"),
    ("cpu_rt_runtime", "not supported yet"),
    ("credential_spec", "Windows and Swarm only"),
    ("isolation", "Windows only"),
    ("use_api_socket", "not supported yet"),
    ("models", "not supported yet"),
    ("provider", "not supported yet"),
    (
        "volume_driver",
        "a compose file format 2 key, not supported",
    ),
    (
        "log_driver",
        "a compose file format 1 key: write `logging.driver`",
    ),
    (
        "log_opt",
        "a compose file format 1 key: write `logging.options`",
    ),
    ("net", "a compose file format 1 key: write `network_mode`"),
];

const SUPPORTED: &[&str] = &[
    "image",
    "build",
    "command",
    "entrypoint",
    "environment",
    "pre_start",
    "post_start",
    "pre_stop",
    "env_file",
    "ports",
    "expose",
    "volumes",
    "tmpfs",
    "networks",
    "network_mode",
    "healthcheck",
    "depends_on",
    "restart",
    "scale",
    "container_name",
    "user",
    "working_dir",
    "labels",
    "init",
    "tty",
    "stdin_open",
    "stop_signal",
    "stop_grace_period",
    "deploy",
    "cpus",
    "mem_limit",
    "mem_reservation",
    "pids_limit",
    "shm_size",
    "devices",
    "read_only",
    "privileged",
    "cap_add",
    "cap_drop",
    "security_opt",
    "ulimits",
    "sysctls",
    "logging",
    "extra_hosts",
    "hostname",
    "pull_policy",
    "secrets",
    "configs",
    "develop",
    "profiles",
    "extends",
    "links",
    "annotations",
    "cgroup",
    "cgroup_parent",
    "cpu_period",
    "cpu_quota",
    "cpu_shares",
    "cpuset",
    "device_cgroup_rules",
    "dns",
    "dns_opt",
    "dns_search",
    "domainname",
    "group_add",
    "ipc",
    "mac_address",
    "mem_swappiness",
    "memswap_limit",
    "oom_kill_disable",
    "oom_score_adj",
    "pid",
    "platform",
    "runtime",
    "storage_opt",
    "userns_mode",
    "uts",
    "external_links",
    "volumes_from",
    "label_file",
    "gpus",
    "blkio_config",
];

fn known_keys() -> Vec<&'static str> {
    SUPPORTED
        .iter()
        .copied()
        .chain(UNSUPPORTED.iter().map(|(k, _)| *k))
        .collect()
}

/// What a service's `extends` asks for, resolved by the caller.
#[derive(Debug, Clone)]
pub struct Extends {
    pub service: String,
    pub span: stackr_spec::Span,
    /// `extends.file`: the service is in another compose file.
    pub file: Option<String>,
}

/// Converts one service. `extends` is returned for the caller to resolve against the file's
/// other services.
pub fn service(ctx: &mut Ctx<'_>, name: &str, y: &Yaml) -> (Decl, Option<Extends>) {
    ctx.place = format!("service `{name}`");
    ctx.path = format!("services.{name}");
    let mut d = Decl::new(Kind::Service, name);
    let mut extends = None;
    let has_restart = y.get("restart").is_some();
    let known = known_keys();
    for e in ctx.map(y, "a service") {
        let v = &e.value;
        let k = e.key.as_str();
        if k.starts_with("x-") {
            continue;
        }
        match v.tag.as_deref() {
            Some("reset") => {
                d.resets.push((k.to_string(), e.key_span));
                continue;
            }
            Some("override") => d.overrides.push(k.to_string()),
            _ => {}
        }
        ctx.path = format!("services.{name}.{k}");
        if let Some(tag) = nested_tag(v) {
            note_entry(
                ctx,
                &mut d,
                e.key_span,
                &format!("tag:{k}"),
                format!(
                    "`!{tag}` inside `{k}` is not applied: import applies `!reset` and `!override` to a service's own keys only; write the value out"
                ),
            );
        }
        let start = d.entries.len();
        service_key(ctx, e, &mut d, &mut extends, has_restart, &known);
        ctx.path = format!("services.{name}");
        d.came_from(start, k);
    }
    (d, extends)
}

/// An integer; for `cpu_period` and `cpu_quota` also a duration (compose takes `100ms`), in
/// microseconds.
fn micro_or_int(ctx: &mut Ctx<'_>, v: &Yaml, k: &str) -> Option<i64> {
    if matches!(k, "cpu_period" | "cpu_quota")
        && let Some(t) = v.scalar()
        && t.parse::<i64>().is_err()
        && let Ok(d) = stackr_spec::units::parse_duration(t)
    {
        return i64::try_from(d.as_micros()).ok();
    }
    ctx.int(v, &format!("`{k}`"))
}

/// A `!reset` or `!override` below a value, if any.
fn nested_tag(v: &Yaml) -> Option<String> {
    let children: Vec<&Yaml> = match &v.kind {
        yaml::Kind::Map(entries) => entries.iter().map(|e| &e.value).collect(),
        yaml::Kind::Seq(items) => items.iter().collect(),
        _ => Vec::new(),
    };
    children.into_iter().find_map(|c| {
        c.tag
            .clone()
            .filter(|t| t == "reset" || t == "override")
            .or_else(|| nested_tag(c))
    })
}

/// One key of a service.
fn service_key(
    ctx: &mut Ctx<'_>,
    e: &yaml::Entry,
    d: &mut Decl,
    extends: &mut Option<Extends>,
    has_restart: bool,
    known: &[&str],
) {
    let v = &e.value;
    let k = e.key.as_str();
    {
        if let Some((_, why)) = UNSUPPORTED.iter().find(|(u, _)| *u == k) {
            let n = ctx.note(e.key_span, format!("`{k}` is not imported: {why}"));
            d.push(Entry::new(Group::Own, format!("note:{k}"), Frag::Nothing).note(Some(n)));
            return;
        }
        match k {
            "image" => {
                if let Some(t) = ctx.text(v, "`image`") {
                    d.push(Entry::own("image", Node::new("image").arg(Val::Str(t))));
                }
            }
            "build" => build(ctx, v, d),
            "command" | "entrypoint" => {
                if let Some(argv) = argv(ctx, v, k) {
                    let mut n = Node::new(k);
                    n.args = argv.into_iter().map(Val::Str).collect();
                    d.push(Entry::own(k, n));
                }
            }
            "environment" => environment(ctx, v, d),
            "pre_start" | "post_start" | "pre_stop" => hooks(ctx, v, d, k),
            "env_file" => env_file(ctx, v, d),
            "ports" => ports(ctx, v, d),
            "expose" => {
                for (t, item) in ctx.strings(v, "`expose`") {
                    let val = match (t.parse::<i64>(), &item.kind) {
                        (Ok(n), yaml::Kind::Scalar { plain: true, .. }) => Val::Int(n),
                        _ => Val::Str(t.clone()),
                    };
                    d.push(Entry::new(
                        Group::Expose,
                        format!("expose:{t}"),
                        Frag::Arg(val),
                    ));
                }
            }
            "volumes" => volumes(ctx, v, d),
            "tmpfs" => {
                for (t, item) in ctx.strings(v, "`tmpfs`") {
                    tmpfs_short(ctx, &t, &item, d);
                }
            }
            "networks" => networks(ctx, v, d),
            "network_mode" => {
                if let Some(t) = ctx.text(v, "`network_mode`") {
                    d.push(Entry::own(
                        "network-mode",
                        Node::new("network-mode").arg(Val::Str(t)),
                    ));
                }
            }
            "healthcheck" => healthcheck(ctx, v, d),
            "depends_on" => depends_on(ctx, v, d),
            "restart" => {
                if let Some(t) = ctx.text(v, "`restart`") {
                    restart(ctx, v, &t, d);
                }
            }
            "scale" => {
                if let Some(n) = ctx.int(v, "`scale`") {
                    d.push(Entry::own("scale", Node::new("scale").arg(Val::Int(n))));
                }
            }
            "container_name" | "user" | "working_dir" | "hostname" | "stop_signal" => {
                if let Some(t) = ctx.text(v, &format!("`{k}`")) {
                    let name = k.replace('_', "-");
                    d.push(Entry::own(name.clone(), Node::new(name).arg(Val::Str(t))));
                }
            }
            "labels" => {
                for (key, val, _) in ctx.key_values(v, "`labels`") {
                    d.push(Entry::new(
                        Group::Labels,
                        format!("label:{key}"),
                        Frag::Child(Node::new(key).arg(Val::Str(val.unwrap_or_default()))),
                    ));
                }
            }
            "sysctls" => {
                for (key, val, _) in ctx.key_values(v, "`sysctls`") {
                    d.push(Entry::new(
                        Group::Sysctls,
                        format!("sysctl:{key}"),
                        Frag::Child(Node::new(key).arg(Val::Str(val.unwrap_or_default()))),
                    ));
                }
            }
            "init" | "tty" | "stdin_open" | "read_only" | "privileged" => {
                if let Some(b) = ctx.bool(v, &format!("`{k}`")) {
                    let name = k.replace('_', "-");
                    d.push(Entry::own(name.clone(), Node::new(name).arg(Val::Bool(b))));
                }
            }
            "stop_grace_period" => {
                if let Some(t) = ctx.duration(v, "`stop_grace_period`") {
                    d.push(Entry::own(
                        "stop-grace-period",
                        Node::new("stop-grace-period").arg(t),
                    ));
                }
            }
            "shm_size" => {
                if let Some(t) = ctx.size(v, "`shm_size`") {
                    d.push(Entry::own("shm-size", Node::new("shm-size").arg(t)));
                }
            }
            "deploy" => deploy(ctx, v, d, has_restart),
            "cpus" => {
                if let Some(c) = ctx.cpus(v, "`cpus`") {
                    d.push(Entry::new(
                        Group::Limits,
                        "limits.cpus",
                        Frag::Prop("cpus".into(), c),
                    ));
                }
            }
            "mem_limit" | "mem_reservation" => {
                if let Some(s) = ctx.size(v, &format!("`{k}`")) {
                    let (g, key) = if k == "mem_limit" {
                        (Group::Limits, "limits.memory")
                    } else {
                        (Group::Reservations, "reservations.memory")
                    };
                    d.push(Entry::new(g, key, Frag::Prop("memory".into(), s)));
                }
            }
            "pids_limit" => {
                if let Some(n) = ctx.int(v, "`pids_limit`") {
                    d.push(Entry::new(
                        Group::Limits,
                        "limits.pids",
                        Frag::Prop("pids".into(), Val::Int(n)),
                    ));
                }
            }
            "devices" => devices(ctx, v, d),
            "dns" | "dns_search" | "dns_opt" | "group_add" | "device_cgroup_rules" => {
                let name = match k {
                    "device_cgroup_rules" => "device-cgroup-rule".to_string(),
                    _ => k.replace('_', "-"),
                };
                for (t, _) in ctx.strings(v, &format!("`{k}`")) {
                    d.push(Entry::own(
                        format!("{name}:{t}"),
                        Node::new(&name).arg(Val::Str(t)),
                    ));
                }
            }
            "domainname" | "mac_address" | "platform" | "runtime" | "ipc" | "pid" | "uts"
            | "userns_mode" | "cgroup" | "cgroup_parent" | "cpuset" => {
                if let Some(t) = ctx.text(v, &format!("`{k}`")) {
                    let name = k.replace('_', "-");
                    d.push(Entry::own(name.clone(), Node::new(name).arg(Val::Str(t))));
                }
            }
            "oom_score_adj" | "cpu_shares" | "mem_swappiness" | "cpu_period" | "cpu_quota" => {
                if let Some(n) = micro_or_int(ctx, v, k) {
                    let name = k.replace('_', "-");
                    d.push(Entry::own(name.clone(), Node::new(name).arg(Val::Int(n))));
                }
            }
            "oom_kill_disable" => {
                if let Some(b) = ctx.bool(v, "`oom_kill_disable`") {
                    d.push(Entry::own(
                        "oom-kill-disable",
                        Node::new("oom-kill-disable").arg(Val::Bool(b)),
                    ));
                }
            }
            "memswap_limit" => {
                let unlimited = v.scalar() == Some("-1");
                let val = if unlimited {
                    Some(Val::Int(-1))
                } else {
                    ctx.size(v, "`memswap_limit`")
                };
                if let Some(val) = val {
                    d.push(Entry::own(
                        "memswap-limit",
                        Node::new("memswap-limit").arg(val),
                    ));
                }
            }
            "storage_opt" | "annotations" => {
                let (group, name) = if k == "storage_opt" {
                    (Group::StorageOpt, "storage-opt")
                } else {
                    (Group::Annotations, "annotations")
                };
                for (key, val, _) in ctx.key_values(v, &format!("`{k}`")) {
                    d.push(Entry::new(
                        group,
                        format!("{name}:{key}"),
                        Frag::Child(Node::new(key).arg(Val::Str(val.unwrap_or_default()))),
                    ));
                }
            }
            "cap_add" | "cap_drop" => {
                let name = k.replace('_', "-");
                for (t, _) in ctx.strings(v, &format!("`{k}`")) {
                    d.push(Entry::own(
                        format!("{name}:{t}"),
                        Node::new(&name).arg(Val::Str(t)),
                    ));
                }
            }
            "security_opt" => {
                for (t, _) in ctx.strings(v, "`security_opt`") {
                    let nnp = t
                        .strip_prefix("no-new-privileges")
                        .map(|r| r.trim_start_matches([':', '=']));
                    match nnp {
                        Some(rest) if matches!(rest, "" | "true" | "false") => {
                            let b = rest != "false";
                            d.push(Entry::own(
                                "no-new-privileges",
                                Node::new("no-new-privileges").arg(Val::Bool(b)),
                            ));
                        }
                        _ => d.push(Entry::own(
                            format!("security-opt:{t}"),
                            Node::new("security-opt").arg(Val::Str(t)),
                        )),
                    }
                }
            }
            "ulimits" => ulimits(ctx, v, d),
            "logging" => logging(ctx, v, d),
            "extra_hosts" => extra_hosts(ctx, v, d),
            "pull_policy" => {
                if let Some(t) = ctx.text(v, "`pull_policy`") {
                    let p = match t.as_str() {
                        "if_not_present" => Some("missing"),
                        "always" | "missing" | "never" | "build" => Some(t.as_str()),
                        _ => None,
                    };
                    match p {
                        Some(p) => d.push(Entry::own(
                            "pull-policy",
                            Node::new("pull-policy").arg(Val::str(p)),
                        )),
                        None => {
                            let n = ctx.note(v.span, format!("`pull_policy: {t}` is not imported: not supported yet (stackr pulls missing images)"));
                            d.push(
                                Entry::new(Group::Own, "note:pull_policy", Frag::Nothing)
                                    .note(Some(n)),
                            );
                        }
                    }
                }
            }
            "secrets" | "configs" => file_refs(ctx, v, d, k),
            "develop" => develop(ctx, v, d),
            "profiles" => {
                d.profiles = ctx
                    .strings(v, "`profiles`")
                    .into_iter()
                    .map(|(t, _)| t)
                    .collect();
            }
            "extends" => {
                let (service, span, file) = match &v.kind {
                    yaml::Kind::Map(_) => {
                        let file = v.get("file").and_then(|f| ctx.text(f, "`extends.file`"));
                        match v
                            .get("service")
                            .and_then(|s| ctx.text(s, "`extends.service`"))
                        {
                            Some(s) => (s, v.span, file),
                            None => return,
                        }
                    }
                    _ => match ctx.text(v, "`extends`") {
                        Some(s) => (s, v.span, None),
                        None => return,
                    },
                };
                *extends = Some(Extends {
                    service,
                    span,
                    file,
                });
            }
            "links" | "external_links" | "volumes_from" => {
                let name = k.replace('_', "-");
                for (t, _) in ctx.strings(v, &format!("`{k}`")) {
                    d.push(Entry::own(
                        format!("{name}:{t}"),
                        Node::new(&name).arg(Val::Str(t)),
                    ));
                }
            }
            "label_file" => {
                let items: Vec<(String, Yaml)> = match &v.kind {
                    yaml::Kind::Seq(_) => ctx.strings(v, "`label_file`"),
                    _ => ctx
                        .text(v, "`label_file`")
                        .map(|t| (t, v.clone()))
                        .into_iter()
                        .collect(),
                };
                for (t, _) in items {
                    let path = ctx.local_path(&t);
                    d.push(Entry::own(
                        format!("label-file:{t}"),
                        Node::new("label-file").arg(Val::Str(path)),
                    ));
                }
            }
            "gpus" => gpus(ctx, v, d),
            "blkio_config" => {
                if let Some(n) = blkio(ctx, v) {
                    d.push(Entry::own("blkio", n));
                }
            }
            _ => ctx.unknown_key(e, known),
        }
    }
}

/// `gpus: all`, or a list of device requests.
fn gpus(ctx: &mut Ctx<'_>, y: &Yaml, d: &mut Decl) {
    if y.scalar() == Some("all") {
        d.push(Entry::own("gpu:all", Node::new("gpu").arg(Val::str("all"))));
        return;
    }
    let yaml::Kind::Seq(items) = &y.kind else {
        ctx.text(y, "`gpus`: `all` or a list");
        return;
    };
    for (i, item) in items.iter().enumerate() {
        let n = device_request(ctx, item, "gpus");
        d.push(Entry::own(format!("gpu:{i}"), n));
    }
}

/// A `gpus` entry or a `deploy.resources.reservations.devices` one: a `gpu` node.
fn device_request(ctx: &mut Ctx<'_>, item: &Yaml, key: &str) -> Node {
    let mut n = Node::new("gpu");
    {
        for e in ctx.map(item, &format!("a `{key}` entry")) {
            let v = &e.value;
            match e.key.as_str() {
                "count" => {
                    if v.scalar() == Some("all") {
                        n = n.arg(Val::str("all"));
                    } else if let Some(c) = ctx.int(v, &format!("`{key}.count`")) {
                        n = n.arg(Val::Int(c));
                    }
                }
                "driver" => {
                    if let Some(t) = ctx.text(v, &format!("`{key}.driver`")) {
                        n = n.prop("driver", Val::Str(t));
                    }
                }
                "device_ids" | "capabilities" => {
                    let name = e.key.replace('_', "-");
                    let list = ctx.strings(v, &format!("`{key}.{}`", e.key));
                    if !list.is_empty() {
                        let mut c = Node::new(name);
                        for (t, _) in list {
                            c = c.arg(Val::Str(t));
                        }
                        n = n.child(c);
                    }
                }
                "options" => {
                    n = n.child(ctx.map_node(v, "options", &format!("`{key}.options`")));
                }
                k if k.starts_with("x-") => {}
                _ => ctx.unknown_key(
                    e,
                    &["count", "driver", "device_ids", "capabilities", "options"],
                ),
            }
        }
    }
    n
}

/// `blkio_config`: a weight and per-device weights and rates.
fn blkio(ctx: &mut Ctx<'_>, y: &Yaml) -> Option<Node> {
    let mut n = Node::new("blkio");
    for e in ctx.map(y, "`blkio_config`") {
        let v = &e.value;
        let key = e.key.as_str();
        match key {
            "weight" => {
                if let Some(w) = ctx.int(v, "`blkio_config.weight`") {
                    n = n.prop("weight", Val::Int(w));
                }
            }
            "weight_device" | "device_read_bps" | "device_write_bps" | "device_read_iops"
            | "device_write_iops" => {
                let yaml::Kind::Seq(items) = &v.kind else {
                    ctx.text(v, &format!("`blkio_config.{key}`: a list"));
                    continue;
                };
                let field = if key == "weight_device" {
                    "weight"
                } else {
                    "rate"
                };
                for item in items {
                    let path = item
                        .get("path")
                        .and_then(|p| ctx.text(p, &format!("`blkio_config.{key}.path`")));
                    let what = format!("`blkio_config.{key}.{field}`");
                    let value = item.get(field).and_then(|r| {
                        if key.ends_with("_bps") {
                            ctx.size(r, &what)
                        } else {
                            ctx.int(r, &what).map(Val::Int)
                        }
                    });
                    if let (Some(path), Some(value)) = (path, value) {
                        n = n.child(
                            Node::new(key.replace('_', "-"))
                                .arg(Val::Str(path))
                                .arg(value),
                        );
                    }
                }
            }
            k if k.starts_with("x-") => {}
            _ => ctx.unknown_key(
                e,
                &[
                    "weight",
                    "weight_device",
                    "device_read_bps",
                    "device_write_bps",
                    "device_read_iops",
                    "device_write_iops",
                ],
            ),
        }
    }
    Some(n)
}

fn note_entry(ctx: &mut Ctx<'_>, d: &mut Decl, span: stackr_spec::Span, key: &str, text: String) {
    let n = ctx.note(span, text);
    d.push(Entry::new(Group::Own, format!("note:{key}"), Frag::Nothing).note(Some(n)));
}

/// `command` / `entrypoint`: a list, or a string split into words as compose does.
fn argv(ctx: &mut Ctx<'_>, y: &Yaml, what: &str) -> Option<Vec<String>> {
    match &y.kind {
        yaml::Kind::Seq(items) => items
            .iter()
            .map(|i| ctx.text(i, &format!("`{what}`")))
            .collect(),
        _ => {
            let t = ctx.text(y, &format!("`{what}`"))?;
            match shell::split(&t) {
                Ok(words) => Some(words),
                Err(shell::SplitError::UnclosedQuote(q)) => {
                    ctx.invalid(
                        y,
                        &format!("`{what}`"),
                        &t,
                        format!("an opening `{q}` is never closed"),
                    );
                    None
                }
            }
        }
    }
}

/// The key of the context compose takes when `build` names none.
pub const DEFAULT_CONTEXT: &str = "build.context.default";

fn build(ctx: &mut Ctx<'_>, y: &Yaml, d: &mut Decl) {
    let context = |ctx: &mut Ctx<'_>, d: &mut Decl, t: String, y: &Yaml| {
        let remote = stackr_spec::is_remote_context(&t);
        if !remote && t.contains("://") {
            note_entry(
                ctx,
                d,
                y.span,
                "build.context",
                format!(
                    "the build context `{t}` is not imported: stackr builds from a local directory, a git repository or an http(s) URL"
                ),
            );
        } else {
            d.push(Entry::new(
                Group::Build,
                "build.context",
                Frag::Arg(Val::Str(if remote { t } else { ctx.local_path(&t) })),
            ));
        }
    };
    if let Some(t) = y.scalar() {
        context(ctx, d, t.to_string(), y);
        return;
    }
    let entries = ctx.map(y, "`build`");
    if entries.iter().all(|e| e.key != "context") && !entries.is_empty() {
        // compose's default context is the project directory, stackr's the stack file's. In
        // an override file the base's context holds instead (see `Decl::diff`).
        d.push(Entry::new(
            Group::Build,
            DEFAULT_CONTEXT,
            Frag::Arg(Val::Str(ctx.local_path("."))),
        ));
    }
    const KNOWN: &[&str] = &[
        "context",
        "dockerfile",
        "target",
        "args",
        "dockerfile_inline",
        "ssh",
        "cache_from",
        "cache_to",
        "additional_contexts",
        "platforms",
        "tags",
        "no_cache",
        "pull",
        "network",
        "labels",
        "shm_size",
        "secrets",
        "extra_hosts",
        "isolation",
        "privileged",
        "ulimits",
        "entitlements",
        "provenance",
        "sbom",
    ];
    for e in entries {
        let v = &e.value;
        match e.key.as_str() {
            k if k.starts_with("x-") => {}
            "context" => {
                if let Some(t) = ctx.text(v, "`build.context`") {
                    context(ctx, d, t, v);
                }
            }
            "dockerfile" | "target" => {
                if let Some(t) = ctx.text(v, &format!("`build.{}`", e.key)) {
                    d.push(Entry::new(
                        Group::Build,
                        format!("build.{}", e.key),
                        Frag::Prop(e.key.clone(), Val::Str(t)),
                    ));
                }
            }
            "dockerfile_inline" => {
                if let Some(t) = ctx.text(v, "`build.dockerfile_inline`") {
                    d.push(Entry::new(
                        Group::Build,
                        "build.dockerfile_inline",
                        Frag::Child(Node::new("dockerfile-inline").arg(Val::Lines(t))),
                    ));
                }
            }
            "args" => {
                for (k, val, span) in ctx.key_values(v, "`build.args`") {
                    let (val, note) = match val {
                        Some(v) => (v, None),
                        None => (
                            format!("${{{k}}}"),
                            Some(ctx.note(span, format!("build arg `{k}` has no value: compose takes it from the environment, written here as `${{{k}}}`"))),
                        ),
                    };
                    d.push(
                        Entry::new(
                            Group::Build,
                            format!("build.arg:{k}"),
                            Frag::Child(Node::new("arg").arg(Val::Str(k)).arg(Val::Str(val))),
                        )
                        .note(note),
                    );
                }
            }
            "network" => {
                if let Some(t) = ctx.text(v, "`build.network`") {
                    d.push(Entry::new(
                        Group::Build,
                        "build.network",
                        Frag::Prop("network".into(), Val::Str(t)),
                    ));
                }
            }
            "shm_size" => {
                if let Some(val) = ctx.size(v, "`build.shm_size`") {
                    d.push(Entry::new(
                        Group::Build,
                        "build.shm_size",
                        Frag::Prop("shm-size".into(), val),
                    ));
                }
            }
            "platforms" => {
                let list = ctx.strings(v, "`build.platforms`");
                match list.as_slice() {
                    [(one, _)] => d.push(Entry::new(
                        Group::Build,
                        "build.platforms",
                        Frag::Prop("platform".into(), Val::Str(one.clone())),
                    )),
                    [] => {}
                    _ => note_entry(
                        ctx,
                        d,
                        e.key_span,
                        "build.platforms",
                        "`build.platforms` with several platforms is not imported: a multi-platform image needs BuildKit's exporter; write the one this engine runs as `platform=`".into(),
                    ),
                }
            }
            "tags" | "cache_from" => {
                let name = e.key.replace('_', "-");
                let list = ctx.strings(v, &format!("`build.{}`", e.key));
                if !list.is_empty() {
                    let mut n = Node::new(&name);
                    for (t, _) in list {
                        n = n.arg(Val::Str(t));
                    }
                    d.push(Entry::new(
                        Group::Build,
                        format!("build.{name}"),
                        Frag::Child(n),
                    ));
                }
            }
            "labels" => {
                let n = ctx.map_node(v, "labels", "`build.labels`");
                d.push(Entry::new(Group::Build, "build.labels", Frag::Child(n)));
            }
            "secrets" => build_secrets(ctx, v, d),
            "additional_contexts" => additional_contexts(ctx, v, d),
            "ssh" => build_ssh(ctx, v, d),
            k if KNOWN.contains(&k) => {
                let why = match k {
                    "cache_to" => {
                        "stackr builds into the engine's image store; a cache export needs a registry or a BuildKit of its own"
                    }
                    "entitlements" | "provenance" | "sbom" => {
                        "it needs a BuildKit of its own (buildx); the engine's builder has none"
                    }
                    _ => "not supported yet",
                };
                note_entry(
                    ctx,
                    d,
                    e.key_span,
                    &format!("build.{k}"),
                    format!("`build.{k}` is not imported: {why}"),
                );
            }
            _ => {
                let inner = format!("the build of {}", ctx.place);
                let place = std::mem::replace(&mut ctx.place, inner);
                let path = ctx.path.clone();
                ctx.path = path.clone();
                ctx.unknown_key(e, KNOWN);
                ctx.place = place;
                ctx.path = path;
            }
        }
    }
}

/// `build.secrets`: `NAME` or `{source, target}`; the target is the id the Dockerfile names.
fn build_secrets(ctx: &mut Ctx<'_>, y: &Yaml, d: &mut Decl) {
    let Some(items) = y.as_seq() else {
        if !y.is_null() {
            ctx.wrong_type(y, "`build.secrets`", "a list");
        }
        return;
    };
    for item in items {
        let (source, id) = if item.as_map().is_some() {
            let Some(source) = item.get("source").and_then(|s| ctx.text(s, "`source`")) else {
                ctx.invalid(item, "a `build.secrets` entry", "", "it has no `source`");
                continue;
            };
            let mut id = None;
            for e in ctx.map(item, "a build secret") {
                match e.key.as_str() {
                    "source" => {}
                    "target" => id = ctx.text(&e.value, "`target`"),
                    // A build secret is a mount of BuildKit's; the Dockerfile sets these.
                    "uid" | "gid" | "mode" => note_entry(
                        ctx,
                        d,
                        e.key_span,
                        &format!("build.secrets.{}", e.key),
                        format!(
                            "`{}` of build secret `{source}` is not imported: the Dockerfile's `RUN --mount=type=secret,{}=...` sets it",
                            e.key, e.key
                        ),
                    ),
                    k if k.starts_with("x-") => {}
                    _ => ctx.unknown_key(e, &["source", "target", "uid", "gid", "mode"]),
                }
            }
            let id = id.filter(|t| *t != source);
            (source, id)
        } else {
            let Some(t) = ctx.text(item, "a `build.secrets` entry") else {
                continue;
            };
            (t, None)
        };
        let mut n = Node::new("secret").arg(Val::str(&source));
        if let Some(id) = id {
            n = n.prop("id", Val::Str(id));
        }
        d.push(Entry::new(
            Group::Build,
            format!("build.secret:{source}"),
            Frag::Child(n),
        ));
    }
}

/// `build.additional_contexts`: images, other services' images and URLs are carried; a
/// folder is reported (stackr sends none yet).
fn additional_contexts(ctx: &mut Ctx<'_>, y: &Yaml, d: &mut Decl) {
    let mut n = Node::new("additional-contexts");
    for (name, value, span) in ctx.key_values(y, "`build.additional_contexts`") {
        let value = value.unwrap_or_default();
        let carried = value.starts_with("service:") || stackr_spec::is_named_context_source(&value);
        if carried {
            n = n.child(Node::new(name).arg(Val::Str(value)));
        } else {
            note_entry(
                ctx,
                d,
                span,
                "build.additional_contexts",
                format!(
                    "additional context `{name}` (`{value}`) is not imported: stackr sends no folder as a named context yet (BuildKit takes one through a file sync of its session); copy it into the build context, or use an image"
                ),
            );
        }
    }
    if !n.children.is_empty() {
        d.push(Entry::new(
            Group::Build,
            "build.additional_contexts",
            Frag::Child(n),
        ));
    }
}

/// `build.ssh`: the default agent is carried; keys and sockets by id are reported.
fn build_ssh(ctx: &mut Ctx<'_>, y: &Yaml, d: &mut Decl) {
    let list = ctx.strings(y, "`build.ssh`");
    for (agent, span) in list {
        if agent == "default" {
            d.push(Entry::new(
                Group::Build,
                "build.ssh",
                Frag::Child(Node::new("ssh").arg(Val::Str(agent))),
            ));
        } else {
            note_entry(
                ctx,
                d,
                span.span,
                "build.ssh",
                format!(
                    "`build.ssh` entry `{agent}` is not imported: stackr forwards the default agent only (`SSH_AUTH_SOCK`); add the key to it with `ssh-add` and write `default`"
                ),
            );
        }
    }
}

fn environment(ctx: &mut Ctx<'_>, y: &Yaml, d: &mut Decl) {
    for (k, v, _) in ctx.key_values(y, "`environment`") {
        // No value: passed through from the environment, left out when unset (`env { K }`).
        let node = match v {
            Some(v) => Node::new(k.clone()).arg(Val::Str(v)),
            None => Node::new(k.clone()),
        };
        d.push(Entry::new(
            Group::Env,
            format!("env:{k}"),
            Frag::Child(node),
        ));
    }
}

/// `pre_start`, `post_start` and `pre_stop`: the `pre-start`, `post-start` and `pre-stop`
/// hooks, one node per command (`pre_start` with its `image` and `per_replica`).
fn hooks(ctx: &mut Ctx<'_>, y: &Yaml, d: &mut Decl, key: &str) {
    let name = key.replace('_', "-");
    let Some(items) = y.as_seq() else {
        if !y.is_null() {
            ctx.wrong_type(y, &format!("`{key}`"), "a list");
        }
        return;
    };
    for (i, item) in items.iter().enumerate() {
        let Some(cmd) = item.get("command") else {
            ctx.wrong_type(item, &format!("a `{key}` entry"), "a map with a `command`");
            continue;
        };
        let Some(argv) = argv(ctx, cmd, &format!("{key}.command")) else {
            continue;
        };
        let mut n = Node::new(name.clone());
        n.args = argv.into_iter().map(Val::Str).collect();
        if let Some(u) = item.get("user").and_then(|u| ctx.text(u, "`user`")) {
            n = n.prop("user", Val::Str(u));
        }
        if let Some(w) = item
            .get("working_dir")
            .and_then(|w| ctx.text(w, "`working_dir`"))
        {
            n = n.prop("workdir", Val::Str(w));
        }
        if let Some(p) = item
            .get("privileged")
            .and_then(|p| ctx.bool(p, "`privileged`"))
        {
            n = n.prop("privileged", Val::Bool(p));
        }
        if key == "pre_start" {
            if let Some(image) = item.get("image").and_then(|i| ctx.text(i, "`image`")) {
                n = n.prop("image", Val::Str(image));
            }
            if let Some(p) = item
                .get("per_replica")
                .and_then(|p| ctx.bool(p, "`per_replica`"))
            {
                n = n.prop("per-replica", Val::Bool(p));
            }
        }
        if let Some(env) = item.get("environment") {
            let mut en = Node::new("env");
            for (k, v, _) in ctx.key_values(env, &format!("`{key}.environment`")) {
                en = en.child(Node::new(k).arg(Val::Str(v.unwrap_or_default())));
            }
            n = n.child(en);
        }
        d.push(Entry::own(format!("{name}:{i}"), n));
    }
}

fn env_file(ctx: &mut Ctx<'_>, y: &Yaml, d: &mut Decl) {
    let items: Vec<Yaml> = match &y.kind {
        yaml::Kind::Seq(items) => items.clone(),
        _ => vec![y.clone()],
    };
    for item in items {
        let (path, required) = match &item.kind {
            yaml::Kind::Map(_) => {
                let place = ctx.place.clone();
                for e in ctx.map(&item, "an `env_file` entry") {
                    if !matches!(e.key.as_str(), "path" | "required" | "format")
                        && !e.key.starts_with("x-")
                    {
                        ctx.place = format!("an `env_file` of {place}");
                        let path = ctx.path.clone();
                        ctx.path = path.clone();
                        ctx.unknown_key(e, &["path", "required", "format"]);
                        ctx.place = place.clone();
                        ctx.path = path;
                    }
                }
                let Some(p) = item
                    .get("path")
                    .and_then(|p| ctx.text(p, "`env_file.path`"))
                else {
                    continue;
                };
                let req = item
                    .get("required")
                    .and_then(|r| ctx.bool(r, "`env_file.required`"))
                    .unwrap_or(true);
                if let Some(f) = item.get("format") {
                    note_entry(ctx, d, f.span, "env_file.format", "`env_file.format` is not imported: stackr reads env files in the `.env` format".into());
                }
                (p, req)
            }
            _ => match ctx.text(&item, "`env_file`") {
                Some(p) => (p, true),
                None => continue,
            },
        };
        let path = ctx.local_path(&path);
        let mut n = Node::new("env-file").arg(Val::Str(path.clone()));
        if !required {
            n = n.prop("required", Val::Bool(false));
        }
        d.push(Entry::own(format!("env-file:{path}"), n));
    }
}

fn ports(ctx: &mut Ctx<'_>, y: &Yaml, d: &mut Decl) {
    let Some(items) = y.as_seq() else {
        if !y.is_null() {
            ctx.wrong_type(y, "`ports`", "a list");
        }
        return;
    };
    for item in items {
        let spec = match &item.kind {
            yaml::Kind::Map(_) => match long_port(ctx, item, d) {
                Some(s) => s,
                None => continue,
            },
            _ => {
                let Some(t) = ctx.text(item, "a port") else {
                    continue;
                };
                if !t.contains('$')
                    && let Err(error) = parse_port_spec(&t)
                {
                    ctx.error(
                        stackr_spec::Diagnostic::error(stackr_spec::Problem::InvalidPort {
                            value: t,
                            error,
                        })
                        .with_label(item.span, "invalid port")
                        .with_help("write `[IP:]HOST:CONTAINER[/PROTOCOL]`, e.g. \"8080:80\""),
                    );
                    continue;
                }
                t
            }
        };
        let (spec, host) = match spec.strip_suffix(HOST_MODE) {
            Some(s) => (s.to_string(), true),
            None => (spec, false),
        };
        let mut node = Node::new("port").arg(Val::Str(spec.clone()));
        if host {
            node = node.prop("mode", Val::str("host"));
        }
        d.push(Entry::own(format!("port:{spec}"), node));
    }
}

/// How [`long_port`] marks a port published on the nodes that run a task (`mode: host`).
const HOST_MODE: &str = " mode=host";

/// The long port form, written as the equivalent short spec.
fn long_port(ctx: &mut Ctx<'_>, item: &Yaml, d: &mut Decl) -> Option<String> {
    let place = ctx.place.clone();
    ctx.place = format!("a port of {place}");
    let path = ctx.path.clone();
    ctx.path = path.clone();
    let mut target = None;
    let mut published = None;
    let mut host_ip = None;
    let mut protocol = None;
    let mut host_mode = false;
    for e in ctx.map(item, "a port") {
        let v = &e.value;
        match e.key.as_str() {
            "target" => target = ctx.text(v, "`target`"),
            "published" => published = ctx.text(v, "`published`"),
            "host_ip" => host_ip = ctx.text(v, "`host_ip`"),
            "protocol" => protocol = ctx.text(v, "`protocol`"),
            "mode" => {
                host_mode = v.scalar() == Some("host");
                if v.scalar() != Some("ingress") && v.scalar() != Some("host") {
                    ctx.invalid(
                        v,
                        "`mode`",
                        v.scalar().unwrap_or(""),
                        "expected `ingress` or `host`",
                    );
                }
            }
            "name" | "app_protocol" => {
                let k = e.key.clone();
                note_entry(
                    ctx,
                    d,
                    e.key_span,
                    &format!("port.{k}"),
                    format!("the port's `{k}` is not imported: not supported yet"),
                );
            }
            k if k.starts_with("x-") => {}
            _ => ctx.unknown_key(
                e,
                &[
                    "target",
                    "published",
                    "host_ip",
                    "protocol",
                    "mode",
                    "name",
                    "app_protocol",
                ],
            ),
        }
    }
    ctx.place = place;
    ctx.path = path;
    let Some(target) = target else {
        ctx.error(
            stackr_spec::Diagnostic::error(stackr_spec::Problem::MissingArgument {
                node: "a long-form port".into(),
                what: "`target` (the container port)".into(),
            })
            .with_label(item.span, "needs target"),
        );
        return None;
    };
    let mut spec = String::new();
    if let Some(ip) = host_ip {
        if ip.contains(':') {
            spec.push_str(&format!("[{ip}]:"));
        } else {
            spec.push_str(&format!("{ip}:"));
        }
        spec.push_str(&format!("{}:", published.clone().unwrap_or_default()));
    } else if let Some(p) = &published {
        spec.push_str(&format!("{p}:"));
    }
    spec.push_str(&target);
    if let Some(p) = protocol
        && p != "tcp"
    {
        spec.push_str(&format!("/{p}"));
    }
    if !spec.contains('$')
        && let Err(error) = parse_port_spec(&spec)
    {
        ctx.error(
            stackr_spec::Diagnostic::error(stackr_spec::Problem::InvalidPort {
                value: spec,
                error,
            })
            .with_label(item.span, "invalid port"),
        );
        return None;
    }
    if host_mode {
        spec.push_str(HOST_MODE);
    }
    Some(spec)
}

/// `SOURCE:TARGET:OPTIONS` split on the colons outside `${...}` (`${SRC:-/dev/null}:/x:ro`).
fn split_colons(t: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    let bytes = t.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' if depth > 0 => depth -= 1,
            b':' if depth == 0 => {
                parts.push(&t[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(&t[start..]);
    parts
}

fn is_path(s: &str) -> bool {
    s.starts_with('.') || s.starts_with('/') || s.starts_with('~') || s.starts_with('$')
}

fn volumes(ctx: &mut Ctx<'_>, y: &Yaml, d: &mut Decl) {
    let Some(items) = y.as_seq() else {
        if !y.is_null() {
            ctx.wrong_type(y, "`volumes`", "a list");
        }
        return;
    };
    for item in items {
        if item.as_map().is_some() {
            long_volume(ctx, item, d);
            continue;
        }
        let Some(t) = ctx.text(item, "a volume") else {
            continue;
        };
        let parts = split_colons(&t);
        let (source, target, opts) = match parts.as_slice() {
            [t] => (None, *t, ""),
            [s, t] => (Some(*s), *t, ""),
            [s, t, o] => (Some(*s), *t, *o),
            _ => {
                ctx.invalid(item, "a volume", &t, "expected `SOURCE:TARGET[:OPTIONS]`");
                continue;
            }
        };
        let mut read_only = false;
        for o in opts.split(',').filter(|o| !o.is_empty()) {
            match o {
                "ro" => read_only = true,
                "rw" => {}
                "cached" | "delegated" | "consistent" => {
                    note_entry(
                        ctx,
                        d,
                        item.span,
                        &format!("mount-opt:{target}:{o}"),
                        format!("`:{o}` on `{t}` is dropped: it has no effect on Linux"),
                    );
                }
                other => {
                    note_entry(
                        ctx,
                        d,
                        item.span,
                        &format!("mount-opt:{target}:{other}"),
                        format!(
                            "the mount option `{other}` on `{t}` is not imported: not supported yet"
                        ),
                    );
                }
            }
        }
        push_mount(ctx, d, item, source, target, read_only);
    }
}

fn push_mount(
    ctx: &mut Ctx<'_>,
    d: &mut Decl,
    item: &Yaml,
    source: Option<&str>,
    target: &str,
    read_only: bool,
) {
    if !target.starts_with('/') && !target.starts_with('$') {
        ctx.invalid(
            item,
            "a volume's target",
            target,
            "a container path is absolute",
        );
        return;
    }
    let mut n = Node::new("mount");
    if let Some(s) = source {
        if !is_path(s) && s.contains('/') {
            ctx.invalid(
                item,
                "a volume's source",
                s,
                "neither a volume name nor a path (a path starts with `.`, `/` or `~`)",
            );
            return;
        }
        if is_path(s) {
            n = n.arg(Val::Str(ctx.local_path(s)));
        } else {
            n = n.arg(Val::str(s));
        }
    }
    n = n.arg(Val::str(target));
    if read_only {
        n = n.prop("read-only", Val::Bool(true));
    }
    d.push(Entry::own(format!("mount:{target}"), n));
}

fn long_volume(ctx: &mut Ctx<'_>, item: &Yaml, d: &mut Decl) {
    let ty = item
        .get("type")
        .and_then(Yaml::scalar)
        .unwrap_or("volume")
        .to_string();
    let source = item
        .get("source")
        .and_then(|s| ctx.text(s, "a volume's `source`"));
    let Some(target) = item
        .get("target")
        .and_then(|s| ctx.text(s, "a volume's `target`"))
    else {
        ctx.error(
            stackr_spec::Diagnostic::error(stackr_spec::Problem::MissingArgument {
                node: format!("a long-form volume of {}", ctx.place),
                what: "`target`".into(),
            })
            .with_label(item.span, "needs target"),
        );
        return;
    };
    let read_only = item
        .get("read_only")
        .and_then(|b| ctx.bool(b, "`read_only`"))
        .unwrap_or(false);
    const KNOWN: &[&str] = &[
        "type",
        "source",
        "target",
        "read_only",
        "bind",
        "volume",
        "tmpfs",
        "image",
        "consistency",
    ];
    let place = ctx.place.clone();
    let mut subpath: Option<String> = None;
    for e in ctx.map(item, "a volume") {
        match e.key.as_str() {
            "type" | "source" | "target" | "read_only" => {}
            "consistency" => note_entry(
                ctx,
                d,
                e.key_span,
                &format!("mount-opt:{target}:consistency"),
                format!("`consistency` on `{target}` is dropped: it has no effect on Linux"),
            ),
            "tmpfs" if ty == "tmpfs" => {}
            "bind" | "volume" | "image" | "tmpfs" => {
                for o in ctx.map(&e.value, "volume options") {
                    if o.key.starts_with("x-")
                        || (e.key == "bind"
                            && o.key == "create_host_path"
                            && o.value.as_bool() == Some(true))
                    {
                        continue;
                    }
                    if (e.key == "volume" || e.key == "image") && o.key == "subpath" {
                        subpath = ctx.text(&o.value, "`subpath`");
                        continue;
                    }
                    note_entry(
                        ctx,
                        d,
                        o.key_span,
                        &format!("mount-opt:{target}:{}", o.key),
                        format!(
                            "`{}.{}` on `{target}` is not imported: not supported yet",
                            e.key, o.key
                        ),
                    );
                }
            }
            k if k.starts_with("x-") => {}
            _ => {
                ctx.place = format!("a volume of {place}");
                let path = ctx.path.clone();
                ctx.path = path.clone();
                ctx.unknown_key(e, KNOWN);
                ctx.place = place.clone();
                ctx.path = path;
            }
        }
    }
    match ty.as_str() {
        "tmpfs" => {
            let mut n = Node::new("tmpfs").arg(Val::Str(target.clone()));
            if let Some(t) = item.get("tmpfs") {
                for e in ctx.map(t, "`tmpfs`") {
                    match e.key.as_str() {
                        "size" => {
                            if let Some(s) = ctx.size(&e.value, "`tmpfs.size`") {
                                n = n.prop("size", s);
                            }
                        }
                        "mode" => {
                            if let Some(m) = ctx.mode(&e.value, "`tmpfs.mode`") {
                                n = n.prop("mode", Val::Mode(m));
                            }
                        }
                        k if k.starts_with("x-") => {}
                        _ => ctx.unknown_key(e, &["size", "mode"]),
                    }
                }
            }
            d.push(Entry::own(format!("mount:{target}"), n));
        }
        "bind" => {
            let Some(s) = source else {
                ctx.invalid(item, "a bind mount", &target, "it has no `source`");
                return;
            };
            // compose resolves a bind source against the project directory; stackr needs
            // the `./` to tell a path from a volume name.
            let s = if is_path(&s) { s } else { format!("./{s}") };
            push_mount(ctx, d, item, Some(&s), &target, read_only);
        }
        "volume" => {
            push_mount(ctx, d, item, source.as_deref(), &target, read_only);
            if let (
                Some(sp),
                Some(Entry {
                    frag: Frag::Child(n),
                    ..
                }),
            ) = (subpath, d.entries.last_mut())
                && n.name == "mount"
            {
                n.props.push(("subpath".into(), Val::Str(sp)));
            }
        }
        "image" => {
            let Some(image) = source else {
                ctx.invalid(item, "an image mount", &target, "it has no `source` image");
                return;
            };
            let mut n = Node::new("mount")
                .arg(Val::Str(target.clone()))
                .prop("image", Val::Str(image));
            if let Some(sp) = subpath {
                n = n.prop("subpath", Val::Str(sp));
            }
            d.push(Entry::own(format!("mount:{target}"), n));
        }
        other => note_entry(
            ctx,
            d,
            item.span,
            &format!("mount:{target}"),
            format!("the `{other}` mount on `{target}` is not imported: not supported"),
        ),
    }
}

fn tmpfs_short(ctx: &mut Ctx<'_>, t: &str, item: &Yaml, d: &mut Decl) {
    let (target, opts) = t.split_once(':').unwrap_or((t, ""));
    let mut n = Node::new("tmpfs").arg(Val::str(target));
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o.split_once('=') {
            Some(("size", s)) => n = n.prop("size", Val::str(s)),
            Some(("mode", m)) => match u32::from_str_radix(m, 8) {
                Ok(m) => n = n.prop("mode", Val::Mode(m)),
                Err(_) => ctx.invalid(item, "the tmpfs mode", m, "expected an octal mode"),
            },
            _ => note_entry(
                ctx,
                d,
                item.span,
                &format!("tmpfs-opt:{target}:{o}"),
                format!("the tmpfs option `{o}` on `{target}` is not imported: not supported yet"),
            ),
        }
    }
    d.push(Entry::own(format!("mount:{target}"), n));
}

fn networks(ctx: &mut Ctx<'_>, y: &Yaml, d: &mut Decl) {
    match &y.kind {
        yaml::Kind::Seq(_) => {
            for (n, _) in ctx.strings(y, "`networks`") {
                d.push(Entry::new(
                    Group::Networks,
                    format!("network:{n}"),
                    Frag::Arg(Val::Str(n)),
                ));
            }
        }
        yaml::Kind::Map(entries) => {
            // compose joins a service's networks by `priority`, highest first: the order the
            // stack file writes them in.
            let mut joined: Vec<(i64, Entry)> = Vec::new();
            for e in entries {
                let name = e.key.clone();
                let mut priority = 0;
                let mut node = Node::new("network").arg(Val::str(&name));
                let place = ctx.place.clone();
                ctx.place = format!("network `{name}` of {place}");
                let path = ctx.path.clone();
                ctx.path = format!("{path}.{name}");
                for o in ctx.map(&e.value, "a service network") {
                    match o.key.as_str() {
                        "aliases" => {
                            let aliases = ctx.strings(&o.value, "`aliases`");
                            if !aliases.is_empty() {
                                let mut a = Node::new("aliases");
                                a.args = aliases.into_iter().map(|(t, _)| Val::Str(t)).collect();
                                node = node.child(a);
                            }
                        }
                        "ipv4_address" | "ipv6_address" => {
                            if let Some(t) = ctx.text(&o.value, &format!("`{}`", o.key)) {
                                node =
                                    node.child(Node::new(o.key.replace('_', "-")).arg(Val::Str(t)));
                            }
                        }
                        "priority" => {
                            priority = ctx.int(&o.value, "`priority`").unwrap_or(0);
                        }
                        "gw_priority" => {
                            if let Some(p) = ctx.int(&o.value, "`gw_priority`") {
                                node = node.child(Node::new("gw-priority").arg(Val::Int(p)));
                            }
                        }
                        "mac_address" => {
                            if let Some(t) = ctx.text(&o.value, "`mac_address`") {
                                node = node.child(Node::new("mac-address").arg(Val::Str(t)));
                            }
                        }
                        "link_local_ips" => {
                            let ips = ctx.strings(&o.value, "`link_local_ips`");
                            if !ips.is_empty() {
                                let mut n = Node::new("link-local-ips");
                                n.args = ips.into_iter().map(|(t, _)| Val::Str(t)).collect();
                                node = node.child(n);
                            }
                        }
                        "driver_opts" => {
                            node =
                                node.child(ctx.map_node(&o.value, "driver-opts", "`driver_opts`"));
                        }
                        "interface_name" => {
                            let n = ctx.note(
                                o.key_span,
                                "`interface_name` is not imported: the engine on these machines names interfaces itself (a newer engine takes a name)",
                            );
                            node.comments.push(n);
                        }
                        k if k.starts_with("x-") => {}
                        _ => ctx.unknown_key(
                            o,
                            &[
                                "aliases",
                                "ipv4_address",
                                "ipv6_address",
                                "priority",
                                "gw_priority",
                                "link_local_ips",
                                "mac_address",
                                "driver_opts",
                                "interface_name",
                            ],
                        ),
                    }
                }
                ctx.place = place;
                ctx.path = path;
                let entry = if node.children.is_empty() && node.comments.is_empty() {
                    Entry::new(
                        Group::Networks,
                        format!("network:{name}"),
                        Frag::Arg(Val::Str(name)),
                    )
                } else {
                    Entry::own(format!("network:{name}"), node)
                };
                joined.push((priority, entry));
            }
            joined.sort_by_key(|(p, _)| std::cmp::Reverse(*p));
            for (_, entry) in joined {
                d.push(entry);
            }
        }
        _ if y.is_null() => {}
        _ => ctx.wrong_type(y, "`networks`", "a list or a mapping"),
    }
}

fn healthcheck(ctx: &mut Ctx<'_>, y: &Yaml, d: &mut Decl) {
    let place = ctx.place.clone();
    ctx.place = format!("the healthcheck of {place}");
    let path = ctx.path.clone();
    ctx.path = path.clone();
    const KNOWN: &[&str] = &[
        "test",
        "interval",
        "timeout",
        "retries",
        "start_period",
        "start_interval",
        "disable",
    ];
    for e in ctx.map(y, "`healthcheck`") {
        let v = &e.value;
        match e.key.as_str() {
            "test" => {
                if let Some(node) = health_test(ctx, v) {
                    d.push(Entry::new(Group::Health, "health.test", Frag::Child(node)));
                }
            }
            "interval" | "timeout" | "start_period" | "start_interval" => {
                if let Some(t) = ctx.duration(v, &format!("`{}`", e.key)) {
                    let name = e.key.replace('_', "-");
                    d.push(Entry::new(
                        Group::Health,
                        format!("health.{name}"),
                        Frag::Child(Node::new(name).arg(t)),
                    ));
                }
            }
            "retries" => {
                if let Some(n) = ctx.int(v, "`retries`") {
                    d.push(Entry::new(
                        Group::Health,
                        "health.retries",
                        Frag::Child(Node::new("retries").arg(Val::Int(n))),
                    ));
                }
            }
            "disable" => {
                if ctx.bool(v, "`disable`") == Some(true) {
                    d.push(Entry::new(
                        Group::Health,
                        "health.test",
                        Frag::Child(Node::new("disable").arg(Val::Bool(true))),
                    ));
                }
            }
            k if k.starts_with("x-") => {}
            _ => ctx.unknown_key(e, KNOWN),
        }
    }
    ctx.place = place;
    ctx.path = path;
}

fn health_test(ctx: &mut Ctx<'_>, v: &Yaml) -> Option<Node> {
    let (mut node, words) = match &v.kind {
        yaml::Kind::Seq(items) => {
            let words: Vec<String> = items
                .iter()
                .map(|i| ctx.text(i, "`test`"))
                .collect::<Option<_>>()?;
            match words.first().map(String::as_str) {
                Some("CMD") => {
                    let mut n = Node::new("exec");
                    n.args = words[1..].iter().cloned().map(Val::Str).collect();
                    (n, words[1..].to_vec())
                }
                Some("CMD-SHELL") => {
                    let cmd = words[1..].join(" ");
                    let split = shell::split(&cmd).unwrap_or_default();
                    (Node::new("shell").arg(Val::Str(cmd)), split)
                }
                Some("NONE") => return Some(Node::new("disable").arg(Val::Bool(true))),
                _ => {
                    ctx.invalid(
                        v,
                        "`test`",
                        &words.join(" "),
                        "a test list starts with `CMD`, `CMD-SHELL` or `NONE`",
                    );
                    return None;
                }
            }
        }
        _ => {
            let cmd = ctx.text(v, "`test`")?;
            let split = shell::split(&cmd).unwrap_or_default();
            (Node::new("shell").arg(Val::Str(cmd)), split)
        }
    };
    if let Some((port, path)) = http_probe(&words) {
        node.trailing = Some(format!(
            "or probed by stackr, with no curl needed in the image: http port={port} path=\"{path}\""
        ));
    }
    Some(node)
}

/// `curl -f http://localhost:PORT/PATH` (flags and `|| exit 1` allowed): the port and path.
pub fn http_probe(words: &[String]) -> Option<(u16, String)> {
    let mut w = words
        .iter()
        .map(String::as_str)
        .take_while(|w| !matches!(*w, "||" | "&&" | ";" | "|"));
    if w.next()? != "curl" {
        return None;
    }
    let mut fail = false;
    let mut url = None;
    for a in w {
        match a {
            "-f" | "--fail" => fail = true,
            a if a.starts_with('-')
                && !a.starts_with("--")
                && a.len() > 1
                && a[1..].chars().all(|c| "fsSLq".contains(c)) =>
            {
                fail |= a.contains('f');
            }
            "--silent" | "--show-error" | "--location" => {}
            a if a.starts_with("http://") => url = Some(a),
            _ => return None,
        }
    }
    let rest = url?.strip_prefix("http://")?;
    let rest = rest
        .strip_prefix("localhost")
        .or_else(|| rest.strip_prefix("127.0.0.1"))?;
    let (port, path) = match rest.strip_prefix(':') {
        Some(r) => {
            let end = r.find('/').unwrap_or(r.len());
            (r[..end].parse().ok()?, &r[end..])
        }
        None => (80, rest),
    };
    let path = if path.is_empty() { "/" } else { path };
    if !fail || !path.starts_with('/') {
        return None;
    }
    Some((port, path.to_string()))
}

fn depends_on(ctx: &mut Ctx<'_>, y: &Yaml, d: &mut Decl) {
    match &y.kind {
        yaml::Kind::Seq(_) => {
            for (s, _) in ctx.strings(y, "`depends_on`") {
                d.push(Entry::own(
                    format!("dep:{s}"),
                    Node::new("depends-on").arg(Val::Str(s)),
                ));
            }
        }
        yaml::Kind::Map(entries) => {
            for e in entries {
                let mut n = Node::new("depends-on").arg(Val::str(&e.key));
                let place = ctx.place.clone();
                ctx.place = format!("depends_on `{}` of {place}", e.key);
                let path = ctx.path.clone();
                ctx.path = format!("{path}.{}", e.key);
                for o in ctx.map(&e.value, "a dependency") {
                    match o.key.as_str() {
                        "condition" => match o.value.scalar() {
                            Some("service_started") => {}
                            Some("service_healthy") => n = n.prop("condition", Val::str("healthy")),
                            Some("service_completed_successfully") => n = n.prop("condition", Val::str("completed")),
                            other => ctx.invalid(&o.value, "`condition`", other.unwrap_or(""), "expected `service_started`, `service_healthy` or `service_completed_successfully`"),
                        },
                        "restart" => {
                            if ctx.bool(&o.value, "`restart`") == Some(true) {
                                n = n.prop("restart", Val::Bool(true));
                            }
                        }
                        "required" => {
                            if ctx.bool(&o.value, "`required`") == Some(false) {
                                n = n.prop("required", Val::Bool(false));
                            }
                        }
                        k if k.starts_with("x-") => {}
                        _ => ctx.unknown_key(o, &["condition", "restart", "required"]),
                    }
                }
                ctx.place = place;
                ctx.path = path;
                d.push(Entry::own(format!("dep:{}", e.key), n));
            }
        }
        _ if y.is_null() => {}
        _ => ctx.wrong_type(y, "`depends_on`", "a list or a mapping"),
    }
}

fn restart(ctx: &mut Ctx<'_>, y: &Yaml, t: &str, d: &mut Decl) {
    let node = match t.split_once(':') {
        Some(("on-failure", n)) => match n.parse::<i64>() {
            Ok(n) => Node::new("restart")
                .arg(Val::str("on-failure"))
                .prop("max-retries", Val::Int(n)),
            Err(_) => {
                ctx.invalid(y, "`restart`", t, "expected `on-failure:N`");
                return;
            }
        },
        None if matches!(t, "no" | "always" | "unless-stopped" | "on-failure") => {
            Node::new("restart").arg(Val::str(t))
        }
        _ => {
            ctx.invalid(
                y,
                "`restart`",
                t,
                "expected `no`, `always`, `unless-stopped` or `on-failure[:N]`",
            );
            return;
        }
    };
    d.push(Entry::own("restart", node));
}

fn deploy(ctx: &mut Ctx<'_>, y: &Yaml, d: &mut Decl, has_restart: bool) {
    let place = ctx.place.clone();
    ctx.place = format!("the deploy section of {place}");
    let path = ctx.path.clone();
    ctx.path = path.clone();
    const KNOWN: &[&str] = &[
        "resources",
        "replicas",
        "restart_policy",
        "mode",
        "placement",
        "update_config",
        "rollback_config",
        "endpoint_mode",
        "labels",
    ];
    for e in ctx.map(y, "`deploy`") {
        let v = &e.value;
        match e.key.as_str() {
            "replicas" => {
                if let Some(n) = ctx.int(v, "`replicas`") {
                    d.push(Entry::own("scale", Node::new("scale").arg(Val::Int(n))));
                }
            }
            "resources" => {
                for r in ctx.map(v, "`resources`") {
                    let (group, which) = match r.key.as_str() {
                        "limits" => (Group::Limits, "limits"),
                        "reservations" => (Group::Reservations, "reservations"),
                        k if k.starts_with("x-") => continue,
                        _ => {
                            ctx.unknown_key(r, &["limits", "reservations"]);
                            continue;
                        }
                    };
                    for f in ctx.map(&r.value, "resources") {
                        let val = match f.key.as_str() {
                            "cpus" => ctx.cpus(&f.value, "`cpus`"),
                            "memory" => ctx.size(&f.value, "`memory`"),
                            "pids" if which == "limits" => {
                                ctx.int(&f.value, "`pids`").map(Val::Int)
                            }
                            "devices" if which == "reservations" => {
                                if let yaml::Kind::Seq(items) = &f.value.kind {
                                    for (i, item) in items.iter().enumerate() {
                                        let n = device_request(ctx, item, "devices");
                                        d.push(Entry::own(format!("gpu:devices:{i}"), n));
                                    }
                                } else {
                                    ctx.text(&f.value, "`devices`: a list");
                                }
                                None
                            }
                            "devices" | "generic_resources" => {
                                let n = ctx.note(f.key_span, format!("`deploy.resources.{which}.{}` is not imported: not supported yet (GPUs and devices)", f.key));
                                d.push(
                                    Entry::new(
                                        Group::Own,
                                        format!("note:{which}.{}", f.key),
                                        Frag::Nothing,
                                    )
                                    .note(Some(n)),
                                );
                                None
                            }
                            k if k.starts_with("x-") => None,
                            _ => {
                                ctx.unknown_key(
                                    f,
                                    &["cpus", "memory", "pids", "devices", "generic_resources"],
                                );
                                None
                            }
                        };
                        if let Some(val) = val {
                            d.push(Entry::new(
                                group,
                                format!("{which}.{}", f.key),
                                Frag::Prop(f.key.clone(), val),
                            ));
                        }
                    }
                }
            }
            "restart_policy" => {
                let cond = v.get("condition").and_then(Yaml::scalar).unwrap_or("any");
                let policy = match cond {
                    "none" => "no",
                    "on-failure" => "on-failure",
                    _ => "always",
                };
                for o in ctx.map(v, "`restart_policy`") {
                    if matches!(o.key.as_str(), "delay" | "window") {
                        let n = ctx.note(
                            o.key_span,
                            format!(
                                "`deploy.restart_policy.{}` is not imported: not supported yet",
                                o.key
                            ),
                        );
                        d.push(
                            Entry::new(
                                Group::Own,
                                format!("note:restart_policy.{}", o.key),
                                Frag::Nothing,
                            )
                            .note(Some(n)),
                        );
                    }
                }
                if has_restart {
                    let n = ctx.note(
                        e.key_span,
                        "`deploy.restart_policy` is not imported: the service's `restart` is used",
                    );
                    d.push(
                        Entry::new(Group::Own, "note:restart_policy", Frag::Nothing).note(Some(n)),
                    );
                    continue;
                }
                let mut node = Node::new("restart").arg(Val::str(policy));
                if policy == "on-failure"
                    && let Some(m) = v
                        .get("max_attempts")
                        .and_then(|m| ctx.int(m, "`max_attempts`"))
                {
                    node = node.prop("max-retries", Val::Int(m));
                }
                d.push(Entry::own("restart", node));
            }
            "mode" if v.scalar() == Some("replicated") => {}
            "update_config" => update_config(ctx, v, d, Group::Update),
            "rollback_config" => update_config(ctx, v, d, Group::Rollback),
            "endpoint_mode" => {
                if let Some(m) = ctx.text(v, "`endpoint_mode`") {
                    d.push(Entry::own(
                        "endpoint-mode",
                        Node::new("endpoint-mode").arg(Val::Str(m)),
                    ));
                }
            }
            "placement" => placement(ctx, v, d),
            "mode" | "labels" => {
                let n = ctx.note(
                    e.key_span,
                    format!(
                        "`deploy.{}` is not imported: Swarm only, compose ignores it too",
                        e.key
                    ),
                );
                d.push(
                    Entry::new(Group::Own, format!("note:deploy.{}", e.key), Frag::Nothing)
                        .note(Some(n)),
                );
            }
            k if k.starts_with("x-") => {}
            _ => ctx.unknown_key(e, KNOWN),
        }
    }
    ctx.place = place;
    ctx.path = path;
}

/// `deploy.placement`: the `placement` block (constraints, spread preferences, at most so many
/// replicas per node).
fn placement(ctx: &mut Ctx<'_>, y: &Yaml, d: &mut Decl) {
    let mut node = Node::new("placement");
    let mut any = false;
    for e in ctx.map(y, "`deploy.placement`") {
        let v = &e.value;
        match e.key.as_str() {
            "constraints" => {
                for c in v.as_seq().unwrap_or_default() {
                    if let Some(t) = ctx.text(c, "a constraint") {
                        // Compose writes `node.role == worker`; Swarm reads it without spaces too.
                        let t: String = t.split_whitespace().collect();
                        node = node.child(Node::new("constraint").arg(Val::Str(t)));
                        any = true;
                    }
                }
            }
            "preferences" => {
                for p in v.as_seq().unwrap_or_default() {
                    if let Some(s) = p.get("spread").and_then(|s| ctx.text(s, "`spread`")) {
                        node = node.child(Node::new("spread").arg(Val::Str(s)));
                        any = true;
                    }
                }
            }
            "max_replicas_per_node" => {
                if let Some(n) = ctx.int(v, "`max_replicas_per_node`") {
                    node = node.child(Node::new("max-per-node").arg(Val::Int(n)));
                    any = true;
                }
            }
            k if k.starts_with("x-") => {}
            _ => ctx.unknown_key(e, &["constraints", "preferences", "max_replicas_per_node"]),
        }
    }
    if any {
        d.push(Entry::own("placement", node));
    }
}

/// `deploy.update_config` and `deploy.rollback_config`: the `update` and `rollback` blocks,
/// which have their meaning.
fn update_config(ctx: &mut Ctx<'_>, y: &Yaml, d: &mut Decl, group: Group) {
    let block = if group == Group::Update {
        "update"
    } else {
        "rollback"
    };
    const KNOWN: &[&str] = &[
        "parallelism",
        "delay",
        "failure_action",
        "monitor",
        "max_failure_ratio",
        "order",
    ];
    for e in ctx.map(y, &format!("`{block}_config`")) {
        let v = &e.value;
        let what = format!("`{}`", e.key);
        let name = e.key.replace('_', "-");
        let val = match e.key.as_str() {
            "parallelism" => ctx.int(v, &what).map(Val::Int),
            "delay" | "monitor" => ctx.duration(v, &what),
            "max_failure_ratio" => ctx.text(v, &what).map(Val::Num),
            "order" => ctx.text(v, &what).map(Val::Str),
            "failure_action" => match ctx.text(v, &what) {
                Some(a) if group == Group::Rollback && a == "rollback" => {
                    let n = ctx.note(
                        e.key_span,
                        "`rollback_config.failure_action: rollback` is not imported: a rollback \
                         cannot roll itself back (stackr pauses)",
                    );
                    d.push(
                        Entry::new(Group::Own, "note:rollback.failure-action", Frag::Nothing)
                            .note(Some(n)),
                    );
                    None
                }
                a => a.map(Val::Str),
            },
            k if k.starts_with("x-") => None,
            _ => {
                ctx.unknown_key(e, KNOWN);
                None
            }
        };
        if let Some(val) = val {
            d.push(Entry::new(
                group,
                format!("{block}.{name}"),
                Frag::Child(Node::new(name).arg(val)),
            ));
        }
    }
}

fn devices(ctx: &mut Ctx<'_>, y: &Yaml, d: &mut Decl) {
    let Some(items) = y.as_seq() else {
        if !y.is_null() {
            ctx.wrong_type(y, "`devices`", "a list");
        }
        return;
    };
    for item in items {
        let spec = if item.as_map().is_some() {
            let parts: Vec<String> = ["source", "target", "permissions"]
                .iter()
                .filter_map(|k| item.get(k).and_then(Yaml::scalar).map(str::to_string))
                .collect();
            parts.join(":")
        } else {
            match ctx.text(item, "a device") {
                Some(t) => t,
                None => continue,
            }
        };
        d.push(Entry::own(
            format!("device:{spec}"),
            Node::new("device").arg(Val::Str(spec)),
        ));
    }
}

fn ulimits(ctx: &mut Ctx<'_>, y: &Yaml, d: &mut Decl) {
    for e in ctx.map(y, "`ulimits`") {
        let mut n = Node::new("ulimit").arg(Val::str(&e.key));
        if e.value.as_map().is_some() {
            for k in ["soft", "hard"] {
                if let Some(v) = e
                    .value
                    .get(k)
                    .and_then(|v| ctx.int(v, &format!("`ulimits.{}.{k}`", e.key)))
                {
                    n = n.prop(k, Val::Int(v));
                }
            }
        } else if let Some(v) = ctx.int(&e.value, &format!("`ulimits.{}`", e.key)) {
            n = n.arg(Val::Int(v));
        }
        d.push(Entry::own(format!("ulimit:{}", e.key), n));
    }
}

fn logging(ctx: &mut Ctx<'_>, y: &Yaml, d: &mut Decl) {
    let driver = y
        .get("driver")
        .and_then(|v| ctx.text(v, "`logging.driver`"));
    let mut n = Node::new("logging").arg(Val::Str(
        driver.clone().unwrap_or_else(|| "json-file".into()),
    ));
    if driver.is_none() {
        n.comments.push(ctx.note(
            y.span,
            "`logging` names no driver: Docker's default `json-file` is written",
        ));
    }
    for e in ctx.map(y, "`logging`") {
        match e.key.as_str() {
            "driver" => {}
            "options" => {
                for (k, v, _) in ctx.key_values(&e.value, "`logging.options`") {
                    n = n.child(Node::new(k).arg(Val::Str(v.unwrap_or_default())));
                }
            }
            k if k.starts_with("x-") => {}
            _ => ctx.unknown_key(e, &["driver", "options"]),
        }
    }
    d.push(Entry::own("logging", n));
}

fn extra_hosts(ctx: &mut Ctx<'_>, y: &Yaml, d: &mut Decl) {
    let pairs: Vec<(String, String)> = match &y.kind {
        yaml::Kind::Map(_) => ctx
            .key_values(y, "`extra_hosts`")
            .into_iter()
            .map(|(k, v, _)| (k, v.unwrap_or_default()))
            .collect(),
        _ => ctx
            .strings(y, "`extra_hosts`")
            .into_iter()
            .filter_map(|(t, item)| {
                let split = t.split_once('=').or_else(|| t.split_once(':'));
                match split {
                    Some((h, ip)) => Some((
                        h.to_string(),
                        ip.trim_start_matches('[').trim_end_matches(']').to_string(),
                    )),
                    None => {
                        ctx.invalid(&item, "`extra_hosts`", &t, "expected `HOST:IP`");
                        None
                    }
                }
            })
            .collect(),
    };
    for (h, ip) in pairs {
        d.push(Entry::new(
            Group::ExtraHosts,
            format!("host:{h}"),
            Frag::Child(Node::new(h).arg(Val::Str(ip))),
        ));
    }
}

fn file_refs(ctx: &mut Ctx<'_>, y: &Yaml, d: &mut Decl, key: &str) {
    let kind = if key == "secrets" { "secret" } else { "config" };
    let Some(items) = y.as_seq() else {
        if !y.is_null() {
            ctx.wrong_type(y, &format!("`{key}`"), "a list");
        }
        return;
    };
    for item in items {
        let (n, target) = if item.as_map().is_some() {
            let Some(source) = item.get("source").and_then(|s| ctx.text(s, "`source`")) else {
                ctx.invalid(item, &format!("a `{key}` entry"), "", "it has no `source`");
                continue;
            };
            let mut n = Node::new(kind).arg(Val::str(&source));
            let mut target = None;
            for e in ctx.map(item, "a file reference") {
                match e.key.as_str() {
                    "source" => {}
                    "target" => {
                        if let Some(t) = ctx.text(&e.value, "`target`") {
                            target = Some(t.clone());
                            n = n.prop("target", Val::Str(t));
                        }
                    }
                    "uid" | "gid" => {
                        if let Some(v) = ctx.int(&e.value, &format!("`{}`", e.key)) {
                            n = n.prop(e.key.clone(), Val::Int(v));
                        }
                    }
                    "mode" => {
                        if let Some(m) = ctx.mode(&e.value, "`mode`") {
                            n = n.prop("mode", Val::Mode(m));
                        }
                    }
                    k if k.starts_with("x-") => {}
                    _ => ctx.unknown_key(e, &["source", "target", "uid", "gid", "mode"]),
                }
            }
            if n.props
                .iter()
                .any(|(k, _)| matches!(k.as_str(), "uid" | "gid" | "mode"))
            {
                let note = ctx.note(item.span, format!("`uid`, `gid` and `mode` of {kind} `{source}` are applied by stackr; compose outside Swarm may ignore them for file-based {key}"));
                n.comments.push(note);
            }
            (n, target.map(|t| (source, t)))
        } else {
            let Some(t) = ctx.text(item, &format!("a `{key}` entry")) else {
                continue;
            };
            (Node::new(kind).arg(Val::Str(t)), None)
        };
        let name = match n.args.first() {
            Some(Val::Str(s)) => s.clone(),
            _ => continue,
        };
        let path = match (&target, kind) {
            (Some((_, t)), "secret") if t.starts_with('/') => t.clone(),
            (Some((_, t)), "secret") => format!("/run/secrets/{t}"),
            (None, "secret") => format!("/run/secrets/{name}"),
            (Some((_, t)), _) if t.starts_with('/') => t.clone(),
            (Some((_, t)), _) => format!("/{t}"),
            (None, _) => format!("/{name}"),
        };
        d.push(Entry::own(format!("{kind}:{path}"), n));
    }
}

fn develop(ctx: &mut Ctx<'_>, y: &Yaml, d: &mut Decl) {
    for e in ctx.map(y, "`develop`") {
        match e.key.as_str() {
            "watch" => {
                let Some(rules) = e.value.as_seq() else {
                    ctx.wrong_type(&e.value, "`develop.watch`", "a list");
                    continue;
                };
                for r in rules {
                    watch_rule(ctx, r, d);
                }
            }
            k if k.starts_with("x-") => {}
            _ => ctx.unknown_key(e, &["watch"]),
        }
    }
}

fn watch_rule(ctx: &mut Ctx<'_>, r: &Yaml, d: &mut Decl) {
    let Some(path) = r.get("path").and_then(|p| ctx.text(p, "`watch.path`")) else {
        ctx.invalid(r, "a watch rule", "", "it has no `path`");
        return;
    };
    let path = if is_path(&path) {
        path
    } else {
        format!("./{path}")
    };
    let path = ctx.local_path(&path);
    let Some(action) = r.get("action").and_then(|a| ctx.text(a, "`watch.action`")) else {
        ctx.invalid(r, "a watch rule", &path, "it has no `action`");
        return;
    };
    let name = match action.as_str() {
        "sync" => "sync",
        "rebuild" => "rebuild",
        "restart" => "restart",
        "sync+restart" => "sync-restart",
        "sync+exec" => "sync-exec",
        other => {
            note_entry(
                ctx,
                d,
                r.span,
                &format!("watch:{other}:{path}"),
                format!(
                    "the watch action `{other}` on `{path}` is not imported: not supported yet"
                ),
            );
            return;
        }
    };
    let mut n = Node::new(name).arg(Val::str(&path));
    let mut target = String::new();
    for e in ctx.map(r, "a watch rule") {
        match e.key.as_str() {
            "path" | "action" => {}
            "target" => {
                if let Some(t) = ctx.text(&e.value, "`watch.target`") {
                    if name != "rebuild" && name != "restart" {
                        n = n.prop("target", Val::str(&t));
                    }
                    target = t;
                }
            }
            "ignore" | "include" => {
                let pats = ctx.strings(&e.value, &format!("`watch.{}`", e.key));
                if !pats.is_empty() {
                    let mut c = Node::new(e.key.clone());
                    c.args = pats.into_iter().map(|(t, _)| Val::Str(t)).collect();
                    n = n.child(c);
                }
            }
            "exec" => {
                if name == "sync-exec"
                    && let Some(cmd) = e.value.get("command")
                    && let Some(argv) = argv(ctx, cmd, "watch.exec.command")
                {
                    let mut c = Node::new("exec");
                    c.args = argv.into_iter().map(Val::Str).collect();
                    if let Some(u) = e
                        .value
                        .get("user")
                        .and_then(|u| ctx.text(u, "`watch.exec.user`"))
                    {
                        c = c.prop("user", Val::Str(u));
                    }
                    if let Some(w) = e
                        .value
                        .get("working_dir")
                        .and_then(|w| ctx.text(w, "`watch.exec.working_dir`"))
                    {
                        c = c.prop("workdir", Val::Str(w));
                    }
                    if let Some(p) = e
                        .value
                        .get("privileged")
                        .and_then(|p| ctx.bool(p, "`watch.exec.privileged`"))
                    {
                        c = c.prop("privileged", Val::Bool(p));
                    }
                    n = n.child(c);
                    if let Some(env) = e.value.get("environment") {
                        let mut en = Node::new("env");
                        for (k, v, _) in ctx.key_values(env, "`watch.exec.environment`") {
                            en = en.child(Node::new(k).arg(Val::Str(v.unwrap_or_default())));
                        }
                        n = n.child(en);
                    }
                }
            }
            "initial_sync" => {
                let note = ctx.note(
                    e.key_span,
                    "`initial_sync` is not needed: stackr's watch always catches containers up by content",
                );
                n.comments.push(note);
            }
            k if k.starts_with("x-") => {}
            _ => ctx.unknown_key(
                e,
                &[
                    "path",
                    "action",
                    "target",
                    "ignore",
                    "include",
                    "exec",
                    "initial_sync",
                ],
            ),
        }
    }
    d.push(Entry::new(
        Group::Watch,
        format!("watch:{name}:{path}:{target}"),
        Frag::Child(n),
    ));
}
