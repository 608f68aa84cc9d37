//! What the Swarm target cannot honour, found before anything runs: `check --target swarm`
//! (and every command on that target) reports each with its span, so nothing is dropped
//! silently. Errors for what Swarm cannot do at all; warnings for what it does differently
//! (data that stays on one node).

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::model::*;
use crate::problem::Problem;
use crate::source::Span;

/// Every problem of `decls` on the Swarm target.
pub(crate) fn check(decls: &Declarations, diags: &mut Diagnostics) {
    for n in &decls.networks {
        check_network(n, diags);
    }
    for s in &decls.services {
        check_image(s, diags);
        check_unsupported(s, diags);
        check_ports(s, diags);
        check_networks(s, diags);
        check_mounts(s, &decls.volumes, diags);
    }
}

/// The first container option a service sets, with its span and name.
fn first_option(o: &crate::model::ContainerOptions) -> Option<(Span, &'static str)> {
    let lists = [
        (&o.dns, "dns"),
        (&o.dns_search, "dns-search"),
        (&o.dns_opt, "dns-opt"),
        (&o.group_add, "group-add"),
        (&o.device_cgroup_rules, "device-cgroup-rule"),
        (&o.links, "links"),
        (&o.external_links, "external-links"),
        (&o.volumes_from, "volumes-from"),
    ];
    let texts = [
        (&o.domainname, "domainname"),
        (&o.mac_address, "mac-address"),
        (&o.platform, "platform"),
        (&o.runtime, "runtime"),
        (&o.ipc, "ipc"),
        (&o.pid, "pid"),
        (&o.uts, "uts"),
        (&o.userns_mode, "userns-mode"),
        (&o.cgroup, "cgroup"),
        (&o.cgroup_parent, "cgroup-parent"),
        (&o.cpuset, "cpuset"),
    ];
    let ints = [
        (&o.oom_score_adj, "oom-score-adj"),
        (&o.cpu_shares, "cpu-shares"),
        (&o.cpu_period, "cpu-period"),
        (&o.cpu_quota, "cpu-quota"),
        (&o.mem_swappiness, "mem-swappiness"),
    ];
    lists
        .iter()
        .find_map(|(l, n)| l.first().map(|x| (x.span, *n)))
        .or_else(|| {
            texts
                .iter()
                .find_map(|(t, n)| t.as_ref().map(|x| (x.span, *n)))
        })
        .or_else(|| {
            ints.iter()
                .find_map(|(t, n)| t.as_ref().map(|x| (x.span, *n)))
        })
        .or_else(|| o.storage_opt.first().map(|kv| (kv.key.span, "storage-opt")))
        .or_else(|| o.annotations.first().map(|kv| (kv.key.span, "annotations")))
        .or_else(|| {
            o.oom_kill_disable
                .as_ref()
                .map(|b| (b.span, "oom-kill-disable"))
        })
        .or_else(|| o.memswap_limit.as_ref().map(|m| (m.span, "memswap-limit")))
        .or_else(|| o.gpus.first().map(|g| (g.span, "gpu")))
        .or_else(|| o.label_files.first().map(|f| (f.path.span, "label-file")))
        .or_else(|| o.blkio.as_ref().map(|b| (b.span, "blkio")))
}

fn unsupported(s: &Service, span: Span, field: &str, reason: &str, help: &str) -> Diagnostic {
    Diagnostic::error(Problem::SwarmUnsupported {
        service: s.name.value.clone(),
        field: field.into(),
        reason: reason.into(),
    })
    .with_label(span, "not on Swarm")
    .with_help(help)
}

/// Whether an image reference names a registry host (`registry:5000/app`, `ghcr.io/app`,
/// `localhost/app`): the first path component has a `.` or `:`, or is `localhost`.
pub fn names_registry(image: &str) -> bool {
    match image.split_once('/') {
        Some((host, _)) => host.contains('.') || host.contains(':') || host == "localhost",
        None => false,
    }
}

fn check_image(s: &Service, diags: &mut Diagnostics) {
    let Some(build) = &s.build else { return };
    let ok = s.image.as_ref().is_some_and(|i| names_registry(&i.value));
    if ok {
        return;
    }
    let span = s.image.as_ref().map_or(build.span, |i| i.span);
    diags.push(
        Diagnostic::error(Problem::SwarmImageNeedsRegistry {
            service: s.name.value.clone(),
        })
        .with_label(span, "needs a registry")
        .with_help(format!(
            "stackr builds the image here, pushes it and deploys it by digest, so every node runs the same bytes: write `image \"REGISTRY:PORT/{}:TAG\"` with a registry every node reaches",
            s.name.value
        )),
    );
}

fn check_unsupported(s: &Service, diags: &mut Diagnostics) {
    let no_hooks = "Swarm starts and stops tasks itself, with no place for stackr to run a command: run it in the image's entrypoint, or as a one-shot service that others depend on with `condition=\"completed\"`";
    let mut refuse = |span: Span, field: &str, reason: &str, help: &str| {
        diags.push(unsupported(s, span, field, reason, help));
    };
    if let Some(m) = &s.network_mode {
        refuse(
            m.span,
            "`network-mode`",
            "tasks join the stack's overlay networks only",
            "remove `network-mode` and join networks with `network`",
        );
    }
    if let Some(c) = &s.container_name {
        refuse(
            c.span,
            "`container-name`",
            "Swarm names every task itself (`STACK_SERVICE.SLOT.ID`)",
            "remove it: other services reach this one by its service name",
        );
    }
    for d in &s.devices {
        refuse(
            d.span,
            "`device`",
            "Swarm services cannot map host devices (Engine API 1.41)",
            "run this service on the engine target, or give the node's device to a plugin",
        );
    }
    if let Some(p) = s.privileged.as_ref().filter(|p| p.value) {
        refuse(
            p.span,
            "`privileged`",
            "Swarm services cannot run privileged",
            "grant the capabilities it needs with `cap-add`",
        );
    }
    if let Some(w) = s.watch.first() {
        refuse(
            w.action.span,
            "`watch`",
            "watch mode syncs files into containers of one engine",
            "keep watch rules in a profile for development on the engine target",
        );
    }
    for o in &s.security_opt {
        refuse(
            o.span,
            "`security-opt`",
            "Swarm services take no security options (Engine API 1.41)",
            "remove it, or run this service on the engine target",
        );
    }
    if let Some(n) = s.no_new_privileges.as_ref().filter(|n| n.value) {
        refuse(
            n.span,
            "`no-new-privileges`",
            "Swarm services have it from Engine API 1.46, and this version speaks 1.41",
            "remove it, or run this service on the engine target",
        );
    }
    if let Some((span, field)) = first_option(&s.options) {
        refuse(
            span,
            &format!("`{field}`"),
            "the Swarm target does not pass this container option to its tasks yet",
            "remove it for the swarm (a profile can keep it for the engine target)",
        );
    }
    if let Some(m) = &s.shm_size {
        refuse(
            m.span,
            "`shm-size`",
            "Swarm services have no shm size",
            "mount a tmpfs instead: `tmpfs \"/dev/shm\" size=\"64m\"`",
        );
    }
    if let Some(p) = &s.reservations.pids {
        refuse(
            p.span,
            "a `pids` reservation",
            "Swarm reserves CPUs and memory only",
            "keep `pids` under `limits`",
        );
    }
    for (hooks, field) in [
        (&s.pre_start, "`pre-start`"),
        (&s.post_start, "`post-start`"),
        (&s.pre_stop, "`pre-stop`"),
    ] {
        if let Some(h) = hooks.first() {
            refuse(h.span, field, "Swarm runs no hooks", no_hooks);
        }
    }
    for d in s.depends_on.iter().filter(|d| d.restart) {
        refuse(
            d.span,
            "`depends-on ... restart=#true`",
            "Swarm restarts tasks without stackr, which could not restart the dependents",
            "remove `restart=#true`",
        );
    }
}

fn check_ports(s: &Service, diags: &mut Diagnostics) {
    let dnsrr = s
        .endpoint_mode
        .as_ref()
        .filter(|m| m.value == EndpointMode::Dnsrr);
    for p in &s.ports {
        if let Some(m) = dnsrr
            && !p.value.host_mode
        {
            diags.push(
                unsupported(
                    s,
                    p.span,
                    "a port through the routing mesh",
                    "the routing mesh forwards to a service's virtual IP, and `endpoint-mode \"dnsrr\"` gives it none",
                    "publish it on the nodes that run the tasks: `mode=\"host\"`",
                )
                .with_label(m.span, "no virtual IP"),
            );
        }
        if p.value.host_ip.is_some() {
            diags.push(unsupported(
                s,
                p.span,
                "a port with a host address",
                "Swarm publishes on every address of the node",
                "remove the address, or publish on the engine target",
            ));
        }
    }
}

fn check_networks(s: &Service, diags: &mut Diagnostics) {
    for n in &s.networks {
        for (addr, field) in [
            (&n.ipv4_address, "`ipv4-address`"),
            (&n.ipv6_address, "`ipv6-address`"),
            (&n.mac_address, "`mac-address`"),
            (&n.link_local_ips.first().cloned(), "`link-local-ips`"),
        ] {
            if let Some(a) = addr {
                diags.push(unsupported(
                    s,
                    a.span,
                    field,
                    "Swarm gives every task an address of its own",
                    "remove it: the service's name (a virtual IP) stays the same while tasks come and go",
                ));
            }
        }
    }
}

fn check_network(n: &Network, diags: &mut Diagnostics) {
    if n.is_external() {
        return;
    }
    if let Some(d) = n.driver.as_ref().filter(|d| d.value != "overlay") {
        diags.push(
            Diagnostic::error(Problem::SwarmUnsupportedNetwork {
                what: format!("network `{}` uses the `{}` driver", n.name.value, d.value),
            })
            .with_label(d.span, "not overlay")
            .with_help("on Swarm a stack's networks span the nodes: remove `driver` (or write `driver=\"overlay\"`)"),
        );
    }
}

fn check_mounts(s: &Service, volumes: &[Volume], diags: &mut Diagnostics) {
    for m in &s.mounts {
        let refused = match (&m.source.value, &m.subpath) {
            (MountSource::Image(_), _) => Some((m.source.span, "an image mount")),
            (_, Some(sp)) => Some((sp.span, "subpath")),
            _ => None,
        };
        if let Some((span, field)) = refused {
            diags.push(unsupported(
                s,
                span,
                field,
                "the swarm target does not map it yet",
                "mount a volume's root on a swarm, or run this service on one engine",
            ));
            continue;
        }
        let what = match &m.source.value {
            MountSource::Bind(path) => format!("the bind mount of `{}`", path.display()),
            MountSource::Volume(name) => {
                let shared = volumes.iter().any(|v| {
                    v.name.value == *name && v.driver.as_ref().is_some_and(|d| d.value != "local")
                });
                if shared {
                    continue;
                }
                format!("volume `{name}`")
            }
            MountSource::Anonymous | MountSource::Tmpfs { .. } | MountSource::Image(_) => continue,
        };
        diags.push(
            Diagnostic::warning(Problem::SwarmNodeLocal {
                service: s.name.value.clone(),
                what,
            })
            .with_label(m.span, "on one node")
            .with_help("a task moved to another node finds it empty (a bind needs the path on every node): pin the service with `placement { constraint \"node.hostname==NAME\" }`, or use a volume driver that every node shares"),
        );
    }
}
