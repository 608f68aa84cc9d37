//! A [`Stack`] back to KDL: the canonical, fully resolved stack file `stackr config` prints.
//!
//! Reading the output again gives the same stack (the round-trip tests hold this). Every `$` is
//! written as `$$`, since the values are already interpolated.

use std::path::Path;

use kdl::{KdlDocument, KdlEntry, KdlNode, KdlValue};

use crate::model::*;
use crate::port::PortSpec;
use crate::units::format_duration;

fn esc(s: &str) -> String {
    s.replace('$', "$$")
}

pub(crate) fn text(s: &str) -> KdlEntry {
    KdlEntry::new(KdlValue::String(esc(s)))
}

fn path(p: &Path) -> KdlEntry {
    text(&p.to_string_lossy())
}

fn prop(key: &str, value: impl Into<KdlValue>) -> KdlEntry {
    let value = match value.into() {
        KdlValue::String(s) => KdlValue::String(esc(&s)),
        other => other,
    };
    KdlEntry::new_prop(key, value)
}

pub(crate) fn int(n: impl Into<i128>) -> KdlEntry {
    KdlEntry::new(KdlValue::Integer(n.into()))
}

pub(crate) fn node(name: &str, entries: Vec<KdlEntry>) -> KdlNode {
    let mut n = KdlNode::new(name);
    n.entries_mut().extend(entries);
    n
}

fn with_children(mut n: KdlNode, children: Vec<KdlNode>) -> KdlNode {
    if !children.is_empty() {
        n.ensure_children().nodes_mut().extend(children);
    }
    n
}

pub(crate) fn map_node(name: &str, items: &[KeyValue]) -> Option<KdlNode> {
    if items.is_empty() {
        return None;
    }
    let children = items
        .iter()
        .map(|kv| node(&kv.key.value, vec![text(&kv.value.value)]))
        .collect();
    Some(with_children(KdlNode::new(name), children))
}

fn argv(name: &str, args: &[String]) -> KdlNode {
    node(name, args.iter().map(|a| text(a)).collect())
}

fn duration(
    name: &str,
    d: &Option<crate::source::Spanned<std::time::Duration>>,
) -> Option<KdlNode> {
    d.as_ref()
        .map(|d| node(name, vec![text(&format_duration(d.value))]))
}

pub(crate) fn flag(name: &str, b: &Option<crate::source::Spanned<bool>>) -> Option<KdlNode> {
    b.as_ref().map(|b| node(name, vec![KdlEntry::new(b.value)]))
}

pub(crate) fn string(name: &str, s: &Option<crate::source::Spanned<String>>) -> Option<KdlNode> {
    s.as_ref().map(|s| node(name, vec![text(&s.value)]))
}

fn mode_entry(key: &str, mode: u32) -> KdlEntry {
    KdlEntry::new_prop(key, KdlValue::Integer(i128::from(mode)))
}

fn port(p: &PortSpec) -> KdlNode {
    let mut entries = vec![text(&p.to_string())];
    if p.host_mode {
        entries.push(prop("mode", "host"));
    }
    node("port", entries)
}

fn placement(p: &Placement) -> KdlNode {
    let mut c: Vec<KdlNode> = Vec::new();
    c.extend(
        p.constraints
            .iter()
            .map(|x| node("constraint", vec![text(&x.value)])),
    );
    if !p.spread.is_empty() {
        c.push(node(
            "spread",
            p.spread.iter().map(|x| text(&x.value)).collect(),
        ));
    }
    c.extend(
        p.max_per_node
            .as_ref()
            .map(|m| node("max-per-node", vec![int(m.value)])),
    );
    with_children(KdlNode::new("placement"), c)
}

fn resources(name: &str, r: &Resources) -> Option<KdlNode> {
    if r.is_empty() {
        return None;
    }
    let mut entries = Vec::new();
    if let Some(c) = &r.cpus {
        let n = c.value.nano_cpus();
        let value = if n % 1_000_000_000 == 0 {
            KdlValue::Integer(i128::from(n / 1_000_000_000))
        } else {
            KdlValue::Float(n as f64 / 1e9)
        };
        entries.push(prop("cpus", value));
    }
    if let Some(m) = &r.memory {
        entries.push(prop("memory", m.value.to_string()));
    }
    if let Some(p) = &r.pids {
        entries.push(prop("pids", KdlValue::Integer(i128::from(p.value))));
    }
    Some(node(name, entries))
}

fn file_ref(name: &str, f: &FileRef) -> KdlNode {
    let mut entries = vec![text(&f.name.value)];
    if let Some(t) = &f.target {
        entries.push(prop("target", t.value.as_str()));
    }
    if let Some(u) = &f.uid {
        entries.push(prop("uid", KdlValue::Integer(i128::from(u.value))));
    }
    if let Some(g) = &f.gid {
        entries.push(prop("gid", KdlValue::Integer(i128::from(g.value))));
    }
    if let Some(m) = &f.mode {
        entries.push(mode_entry("mode", m.value));
    }
    node(name, entries)
}

fn health(h: &Health) -> KdlNode {
    let mut children = Vec::new();
    if let Some(t) = &h.test {
        children.push(match &t.value {
            HealthTest::Exec(args) => argv("exec", args),
            HealthTest::Shell(cmd) => node("shell", vec![text(cmd)]),
            HealthTest::Http(p) => {
                let mut e = vec![
                    prop("port", KdlValue::Integer(i128::from(p.port))),
                    prop("path", p.path.as_str()),
                ];
                if let Some(host) = &p.host {
                    e.push(prop("host", host.as_str()));
                }
                let status = if p.status.0 == p.status.1 {
                    p.status.0.to_string()
                } else {
                    format!("{}-{}", p.status.0, p.status.1)
                };
                e.push(prop("status", status));
                if let Some(b) = &p.body {
                    e.push(prop("body", b.as_str()));
                }
                node("http", e)
            }
            HealthTest::Tcp(p) => {
                let mut e = vec![prop("port", KdlValue::Integer(i128::from(p.port)))];
                if let Some(host) = &p.host {
                    e.push(prop("host", host.as_str()));
                }
                node("tcp", e)
            }
        });
    }
    children.extend(duration("interval", &h.interval));
    children.extend(duration("timeout", &h.timeout));
    if let Some(r) = &h.retries {
        children.push(node("retries", vec![int(r.value)]));
    }
    children.extend(duration("start-period", &h.start_period));
    children.extend(duration("start-interval", &h.start_interval));
    children.extend(flag("disable", &h.disabled));
    with_children(KdlNode::new("health"), children)
}

fn hook(name: &str, h: &Hook) -> KdlNode {
    let mut n = argv(name, &h.command.value);
    if let Some(u) = &h.user {
        n.entries_mut().push(prop("user", u.value.as_str()));
    }
    if let Some(w) = &h.workdir {
        n.entries_mut().push(prop("workdir", w.value.as_str()));
    }
    if let Some(p) = &h.privileged {
        n.entries_mut().push(prop("privileged", p.value));
    }
    if let Some(i) = &h.image {
        n.entries_mut().push(prop("image", i.value.as_str()));
    }
    if let Some(p) = &h.per_replica {
        n.entries_mut().push(prop("per-replica", p.value));
    }
    let env: Vec<KdlNode> = map_node("env", &h.env).into_iter().collect();
    with_children(n, env)
}

fn update_policy(name: &str, u: &UpdatePolicy) -> KdlNode {
    use crate::keyword::UpdateNode as U;
    let mut c = Vec::new();
    if let Some(o) = &u.order {
        c.push(node(U::Order.as_str(), vec![text(o.value.as_str())]));
    }
    if let Some(n) = &u.parallelism {
        c.push(node(U::Parallelism.as_str(), vec![int(n.value)]));
    }
    c.extend(duration(U::Delay.as_str(), &u.delay));
    c.extend(duration(U::Monitor.as_str(), &u.monitor));
    if let Some(a) = &u.failure_action {
        c.push(node(
            U::FailureAction.as_str(),
            vec![text(a.value.as_str())],
        ));
    }
    if let Some(x) = &u.max_failure_ratio {
        c.push(node(
            U::MaxFailureRatio.as_str(),
            vec![KdlEntry::new(KdlValue::Float(x.value))],
        ));
    }
    with_children(KdlNode::new(name), c)
}

fn service(s: &Service) -> KdlNode {
    use crate::keyword::ServiceNode as K;
    // Every field, by name: a new field of `Service` does not compile until it is printed.
    let Service {
        span: _,
        name,
        image,
        build,
        command,
        entrypoint,
        env,
        env_files,
        ports,
        expose,
        mounts,
        networks,
        network_mode,
        health: health_of,
        depends_on,
        restart,
        scale,
        container_name,
        user,
        working_dir,
        labels,
        init,
        tty,
        stdin_open,
        stop_signal,
        stop_grace_period,
        limits,
        reservations,
        shm_size,
        devices,
        read_only,
        privileged,
        cap_add,
        cap_drop,
        no_new_privileges,
        security_opt,
        ulimits,
        sysctls,
        logging,
        extra_hosts,
        hostname,
        pull_policy,
        secrets,
        configs,
        watch,
        acknowledge,
        update,
        rollback,
        pre_start,
        post_start,
        pre_stop,
        placement: place,
        endpoint_mode,
        options,
    } = s;
    let mut c: Vec<KdlNode> = Vec::new();
    c.extend(string(K::Image.as_str(), image));
    if let Some(b) = build {
        let mut e = Vec::new();
        if let Some(ctx) = &b.context {
            e.push(path(&ctx.value));
        }
        if let Some(r) = &b.remote {
            e.push(text(&r.value));
        }
        if let Some(d) = &b.dockerfile {
            e.push(prop("dockerfile", d.value.as_str()));
        }
        if let Some(t) = &b.target {
            e.push(prop("target", t.value.as_str()));
        }
        if let Some(t) = &b.network {
            e.push(prop("network", t.value.as_str()));
        }
        if let Some(t) = &b.platform {
            e.push(prop("platform", t.value.as_str()));
        }
        if let Some(t) = &b.shm_size {
            e.push(prop("shm-size", t.value.to_string()));
        }
        let mut bc: Vec<KdlNode> = b
            .args
            .iter()
            .map(|kv| node("arg", vec![text(&kv.key.value), text(&kv.value.value)]))
            .collect();
        if let Some(d) = &b.dockerfile_inline {
            bc.push(node("dockerfile-inline", vec![text(&d.value)]));
        }
        bc.extend(b.pre_build.iter().map(|cmd| argv("pre-build", &cmd.value)));
        for (name, list) in [
            ("tags", &b.tags),
            ("cache-from", &b.cache_from),
            ("ssh", &b.ssh),
        ] {
            if !list.is_empty() {
                bc.push(node(name, list.iter().map(|x| text(&x.value)).collect()));
            }
        }
        bc.extend(map_node("labels", &b.labels));
        bc.extend(map_node("additional-contexts", &b.additional_contexts));
        for secret in &b.secrets {
            let mut se = vec![text(&secret.name.value)];
            if let Some(id) = &secret.id {
                se.push(prop("id", id.value.as_str()));
            }
            bc.push(node("secret", se));
        }
        c.push(with_children(node(K::Build.as_str(), e), bc));
    }
    if let Some(e) = entrypoint {
        c.push(argv(K::Entrypoint.as_str(), &e.value));
    }
    if let Some(cmd) = command {
        c.push(argv(K::Command.as_str(), &cmd.value));
    }
    if !env.is_empty() {
        let vars = s
            .env
            .iter()
            .map(|v| {
                let value = match &v.value.value {
                    EnvValue::Text(t) => text(t),
                    EnvValue::SecretPath(name) => {
                        let mut e = text(name);
                        e.set_ty("secret");
                        e
                    }
                    EnvValue::Unset => KdlEntry::new(KdlValue::Null),
                };
                node(&v.name.value, vec![value])
            })
            .collect();
        c.push(with_children(KdlNode::new(K::Env.as_str()), vars));
    }
    for f in env_files {
        let mut e = vec![path(&f.path.value)];
        if !f.required {
            e.push(prop("required", false));
        }
        c.push(node(K::EnvFile.as_str(), e));
    }
    c.extend(ports.iter().map(|p| port(&p.value)));
    if !expose.is_empty() {
        let e = s
            .expose
            .iter()
            .map(|x| text(&format!("{}/{}", x.value.0, x.value.1)))
            .collect();
        c.push(node(K::Expose.as_str(), e));
    }
    for m in mounts {
        match &m.source.value {
            MountSource::Tmpfs { size, mode } => {
                let mut e = vec![text(&m.target.value)];
                if let Some(sz) = size {
                    e.push(prop("size", sz.to_string()));
                }
                if let Some(md) = mode {
                    e.push(mode_entry("mode", *md));
                }
                c.push(node(K::Tmpfs.as_str(), e));
            }
            other => {
                let mut e = match other {
                    MountSource::Volume(v) => vec![text(v)],
                    MountSource::Bind(p) => vec![path(p)],
                    _ => Vec::new(),
                };
                e.push(text(&m.target.value));
                if let MountSource::Image(image) = other {
                    e.push(prop("image", image.as_str()));
                }
                if let Some(sp) = &m.subpath {
                    e.push(prop("subpath", sp.value.as_str()));
                }
                if m.read_only {
                    e.push(prop("read-only", true));
                }
                c.push(node(K::Mount.as_str(), e));
            }
        }
    }
    for n in networks {
        let mut nc: Vec<KdlNode> = Vec::new();
        if !n.aliases.is_empty() {
            nc.push(node(
                "aliases",
                n.aliases.iter().map(|a| text(&a.value)).collect(),
            ));
        }
        nc.extend(string("ipv4-address", &n.ipv4_address));
        nc.extend(string("ipv6-address", &n.ipv6_address));
        if !n.link_local_ips.is_empty() {
            nc.push(node(
                "link-local-ips",
                n.link_local_ips.iter().map(|a| text(&a.value)).collect(),
            ));
        }
        nc.extend(map_node("driver-opts", &n.driver_opts));
        nc.extend(string("mac-address", &n.mac_address));
        if let Some(p) = &n.gw_priority {
            nc.push(node(
                "gw-priority",
                vec![KdlEntry::new(i128::from(p.value))],
            ));
        }
        c.push(with_children(
            node(K::Network.as_str(), vec![text(&n.name.value)]),
            nc,
        ));
    }
    if let Some(m) = network_mode {
        let mode = match &m.value {
            NetworkMode::Bridge => "bridge".to_string(),
            NetworkMode::Host => "host".to_string(),
            NetworkMode::None => "none".to_string(),
            NetworkMode::Service(x) => format!("service:{x}"),
            NetworkMode::Container(x) => format!("container:{x}"),
        };
        c.push(node(K::NetworkMode.as_str(), vec![text(&mode)]));
    }
    if let Some(h) = health_of {
        c.push(health(h));
    }
    for d in depends_on {
        let mut e = vec![
            text(&d.service.value),
            prop("condition", d.condition.as_str()),
        ];
        if d.restart {
            e.push(prop("restart", true));
        }
        if !d.required {
            e.push(prop("required", false));
        }
        c.push(node(K::DependsOn.as_str(), e));
    }
    if let Some(r) = restart {
        let mut e = vec![text(match r.value {
            RestartPolicy::No => "no",
            RestartPolicy::Always => "always",
            RestartPolicy::UnlessStopped => "unless-stopped",
            RestartPolicy::OnFailure { .. } => "on-failure",
        })];
        if let RestartPolicy::OnFailure {
            max_retries: Some(n),
        } = r.value
        {
            e.push(prop("max-retries", KdlValue::Integer(i128::from(n))));
        }
        c.push(node(K::Restart.as_str(), e));
    }
    if let Some(n) = scale {
        c.push(node(K::Scale.as_str(), vec![int(n.value)]));
    }
    c.extend(string(K::ContainerName.as_str(), container_name));
    c.extend(string(K::User.as_str(), user));
    c.extend(string(K::WorkingDir.as_str(), working_dir));
    c.extend(map_node("labels", labels));
    c.extend(flag("init", init));
    c.extend(flag("tty", tty));
    c.extend(flag("stdin-open", stdin_open));
    c.extend(string(K::StopSignal.as_str(), stop_signal));
    c.extend(duration("stop-grace-period", stop_grace_period));
    c.extend(resources(K::Limits.as_str(), limits));
    c.extend(resources(K::Reservations.as_str(), reservations));
    if let Some(sz) = shm_size {
        c.push(node(K::ShmSize.as_str(), vec![text(&sz.value.to_string())]));
    }
    for (name, list) in [
        ("device", devices),
        ("cap-add", cap_add),
        ("cap-drop", cap_drop),
        ("security-opt", security_opt),
    ] {
        if !list.is_empty() {
            c.push(node(name, list.iter().map(|x| text(&x.value)).collect()));
        }
    }
    c.extend(flag("read-only", read_only));
    c.extend(flag("privileged", privileged));
    c.extend(flag("no-new-privileges", no_new_privileges));
    for u in ulimits {
        c.push(node(
            "ulimit",
            vec![
                text(&u.name.value),
                prop("soft", KdlValue::Integer(i128::from(u.soft))),
                prop("hard", KdlValue::Integer(i128::from(u.hard))),
            ],
        ));
    }
    c.extend(map_node("sysctls", sysctls));
    if let Some(l) = logging {
        let opts = l
            .options
            .iter()
            .map(|kv| node(&kv.key.value, vec![text(&kv.value.value)]))
            .collect();
        c.push(with_children(
            node(K::Logging.as_str(), vec![text(&l.driver.value)]),
            opts,
        ));
    }
    c.extend(map_node("extra-hosts", extra_hosts));
    c.extend(string(K::Hostname.as_str(), hostname));
    c.extend(crate::options::print(options));
    if let Some(p) = pull_policy {
        let v = match p.value {
            PullPolicy::Always => "always",
            PullPolicy::Missing => "missing",
            PullPolicy::Never => "never",
            PullPolicy::Build => "build",
        };
        c.push(node(K::PullPolicy.as_str(), vec![text(v)]));
    }
    c.extend(secrets.iter().map(|f| file_ref("secret", f)));
    c.extend(configs.iter().map(|f| file_ref("config", f)));
    if !acknowledge.is_empty() {
        c.push(node(
            "acknowledge",
            acknowledge.iter().map(|a| text(&a.value)).collect(),
        ));
    }
    c.extend(pre_start.iter().map(|h| hook(K::PreStart.as_str(), h)));
    c.extend(post_start.iter().map(|h| hook(K::PostStart.as_str(), h)));
    c.extend(pre_stop.iter().map(|h| hook(K::PreStop.as_str(), h)));
    c.extend(
        update
            .as_ref()
            .map(|u| update_policy(K::Update.as_str(), u)),
    );
    c.extend(
        rollback
            .as_ref()
            .map(|u| update_policy(K::Rollback.as_str(), u)),
    );
    c.extend(place.as_ref().map(placement));
    c.extend(
        endpoint_mode
            .as_ref()
            .map(|m| node(K::EndpointMode.as_str(), vec![text(m.value.as_str())])),
    );
    if !watch.is_empty() {
        let rules = s
            .watch
            .iter()
            .map(|w| {
                let mut e = vec![path(&w.path.value)];
                if let Some(t) = &w.target {
                    e.push(prop("target", t.value.as_str()));
                }
                let mut rc = Vec::new();
                if !w.ignore.is_empty() {
                    rc.push(node(
                        "ignore",
                        w.ignore.iter().map(|i| text(&i.value)).collect(),
                    ));
                }
                if !w.include.is_empty() {
                    rc.push(node(
                        "include",
                        w.include.iter().map(|i| text(&i.value)).collect(),
                    ));
                }
                if let Some(x) = &w.exec {
                    let mut n = argv("exec", &x.value);
                    if let Some(u) = &w.exec_user {
                        n.entries_mut().push(prop("user", u.value.as_str()));
                    }
                    if let Some(d) = &w.exec_workdir {
                        n.entries_mut().push(prop("workdir", d.value.as_str()));
                    }
                    if let Some(p) = &w.exec_privileged {
                        n.entries_mut().push(prop("privileged", p.value));
                    }
                    rc.push(n);
                }
                rc.extend(map_node("env", &w.exec_env));
                with_children(node(w.action.value.as_str(), e), rc)
            })
            .collect();
        c.push(with_children(KdlNode::new(K::Watch.as_str()), rules));
    }
    with_children(node("service", vec![text(&name.value)]), c)
}

/// The stack as a canonical stack file.
pub fn to_kdl(stack: &Stack) -> String {
    let mut doc = KdlDocument::new();
    let nodes = doc.nodes_mut();
    nodes.push(node("stack", vec![text(&stack.name)]));
    if !stack.target.is_engine() {
        nodes.push(node("target", vec![text(stack.target.as_str())]));
    }
    for n in stack.networks.values() {
        let mut e = vec![text(&n.name.value)];
        if let Some(x) = &n.engine_name {
            e.push(prop("name", x.value.as_str()));
        }
        if let Some(x) = &n.driver {
            e.push(prop("driver", x.value.as_str()));
        }
        if let Some(x) = &n.internal {
            e.push(prop("internal", x.value));
        }
        if let Some(x) = &n.external {
            e.push(prop("external", x.value));
        }
        if let Some(x) = &n.attachable {
            e.push(prop("attachable", x.value));
        }
        if let Some(x) = &n.enable_ipv6 {
            e.push(prop("enable-ipv6", x.value));
        }
        let children = map_node("labels", &n.labels)
            .into_iter()
            .chain(map_node("driver-opts", &n.driver_opts))
            .chain(n.ipam.as_ref().map(crate::network::print_ipam))
            .collect();
        nodes.push(with_children(node("network", e), children));
    }
    for v in stack.volumes.values() {
        let mut e = vec![text(&v.name.value)];
        if let Some(x) = &v.engine_name {
            e.push(prop("name", x.value.as_str()));
        }
        if let Some(x) = &v.driver {
            e.push(prop("driver", x.value.as_str()));
        }
        if let Some(x) = &v.external {
            e.push(prop("external", x.value));
        }
        let children = map_node("driver-opts", &v.driver_opts)
            .into_iter()
            .chain(map_node("labels", &v.labels))
            .collect();
        nodes.push(with_children(node("volume", e), children));
    }
    for s in stack.secrets.values() {
        let mut e = vec![text(&s.name.value)];
        match s.source.as_ref().map(|x| &x.value) {
            Some(SecretSource::File(p)) => e.push(prop("file", p.to_string_lossy().into_owned())),
            Some(SecretSource::Env(v)) => e.push(prop("env", v.as_str())),
            Some(SecretSource::External(name)) => {
                e.push(prop("external", true));
                if *name != s.name.value {
                    e.push(prop("name", name.as_str()));
                }
            }
            None => {}
        }
        if s.acknowledge_readable.as_ref().is_some_and(|a| a.value) {
            e.push(prop("acknowledge", "readable-file"));
        }
        nodes.push(with_children(
            node("secret", e),
            map_node("labels", &s.labels).into_iter().collect(),
        ));
    }
    for cfg in stack.configs.values() {
        let mut e = vec![text(&cfg.name.value)];
        match cfg.source.as_ref().map(|x| &x.value) {
            Some(ConfigSource::File(p)) => e.push(prop("file", p.to_string_lossy().into_owned())),
            Some(ConfigSource::Content(t)) => e.push(prop("content", t.as_str())),
            Some(ConfigSource::External(name)) => {
                e.push(prop("external", true));
                if *name != cfg.name.value {
                    e.push(prop("name", name.as_str()));
                }
            }
            None => {}
        }
        nodes.push(with_children(
            node("config", e),
            map_node("labels", &cfg.labels).into_iter().collect(),
        ));
    }
    for s in stack.services.values() {
        nodes.push(service(s));
    }
    doc.autoformat();
    octal_modes(doc.nodes_mut());
    format!("// The resolved stack, as `stackr config` prints it.\n{doc}")
}

/// Autoformatting writes integers in decimal and strings bare where it can; file modes read
/// better in octal, and values read better quoted.
fn octal_modes(nodes: &mut [KdlNode]) {
    for n in nodes {
        for e in n.entries_mut() {
            if let KdlValue::String(v) = e.value() {
                let repr = quote(v);
                let leading = e
                    .format()
                    .map(|f| f.leading.clone())
                    .unwrap_or_else(|| " ".into());
                let after_ty = e.format().map(|f| f.after_ty.clone()).unwrap_or_default();
                e.set_format(kdl::KdlEntryFormat {
                    value_repr: repr,
                    leading,
                    after_ty,
                    ..Default::default()
                });
                continue;
            }
            let is_mode = e.name().is_some_and(|k| k.value() == "mode");
            if let (true, KdlValue::Integer(m)) = (is_mode, e.value()) {
                let repr = format!("0o{m:o}");
                e.set_format(kdl::KdlEntryFormat {
                    value_repr: repr,
                    leading: " ".into(),
                    ..Default::default()
                });
            }
        }
        if let Some(c) = n.children_mut() {
            octal_modes(c.nodes_mut());
        }
    }
}

/// A KDL v2 quoted string.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_control() || crate::source::is_hidden_control(c) => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
