//! A service's [`ContainerOptions`]: DNS, namespaces, cgroups, the runtime and the CPU
//! scheduler's knobs, as compose has them. Decoded, merged, printed and checked here, so that
//! the service's own code stays about the service.

use kdl::{KdlNode, KdlValue};

use crate::decode::{bool_node, one, string_node, strings_node};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::keyword::ServiceNode as K;
use crate::merge::{append_unique, merge_kv, replace};
use crate::model::ContainerOptions;
use crate::print::{flag, int, map_node, node, string, text};
use crate::problem::Problem;
use crate::reader::Reader;
use crate::source::Spanned;

/// One option node of a service; `false` when `k` is not an option (the caller's).
pub(crate) fn decode(
    r: &mut Reader<'_>,
    child: &KdlNode,
    k: K,
    o: &mut ContainerOptions,
    place: &str,
) {
    match k {
        K::Dns => strings_node(r, child, &mut o.dns),
        K::DnsSearch => strings_node(r, child, &mut o.dns_search),
        K::DnsOpt => strings_node(r, child, &mut o.dns_opt),
        K::GroupAdd => strings_node(r, child, &mut o.group_add),
        K::DeviceCgroupRule => strings_node(r, child, &mut o.device_cgroup_rules),
        K::Domainname => string_node(r, child, &mut o.domainname, place),
        K::MacAddress => string_node(r, child, &mut o.mac_address, place),
        K::Platform => string_node(r, child, &mut o.platform, place),
        K::Runtime => string_node(r, child, &mut o.runtime, place),
        K::Ipc => string_node(r, child, &mut o.ipc, place),
        K::Pid => string_node(r, child, &mut o.pid, place),
        K::Uts => string_node(r, child, &mut o.uts, place),
        K::UsernsMode => string_node(r, child, &mut o.userns_mode, place),
        K::Cgroup => string_node(r, child, &mut o.cgroup, place),
        K::CgroupParent => string_node(r, child, &mut o.cgroup_parent, place),
        K::Cpuset => string_node(r, child, &mut o.cpuset, place),
        K::StorageOpt => {
            let kv = r.map(child, &format!("the storage options of {place}"));
            o.storage_opt.extend(kv);
        }
        K::Annotations => {
            let kv = r.map(child, &format!("the annotations of {place}"));
            o.annotations.extend(kv);
        }
        K::OomKillDisable => bool_node(r, child, &mut o.oom_kill_disable, place),
        K::OomScoreAdj => int_node(r, child, &mut o.oom_score_adj, -1000, 1000, place),
        K::CpuShares => int_node(r, child, &mut o.cpu_shares, 2, 262_144, place),
        K::CpuPeriod => int_node(r, child, &mut o.cpu_period, 1000, 1_000_000, place),
        K::CpuQuota => int_node(r, child, &mut o.cpu_quota, 1000, i64::MAX.into(), place),
        K::MemSwappiness => int_node(r, child, &mut o.mem_swappiness, 0, 100, place),
        K::MemswapLimit => {
            let v = r.open(
                child,
                &one("a size, or -1 for unlimited", "memswap-limit \"1g\""),
            );
            if let Some(e) = v.arg(0) {
                // -1: unlimited swap, as compose and Docker take it.
                let sz = if matches!(e.value(), KdlValue::Integer(-1)) {
                    Some(Spanned::new(
                        crate::units::ByteSize(u64::MAX),
                        r.value_span(e),
                    ))
                } else {
                    r.size(e, "`memswap-limit`")
                };
                r.set_once(&mut o.memswap_limit, sz, "memswap-limit", place);
            }
        }
        _ => r.unknown_node(child, place, K::NAMES),
    }
}

fn int_node(
    r: &mut Reader<'_>,
    child: &KdlNode,
    slot: &mut Option<Spanned<i64>>,
    min: i128,
    max: i128,
    place: &str,
) {
    let name = child.name().value();
    let v = r.open(child, &one("a whole number", "NAME 512"));
    if let Some(e) = v.arg(0) {
        let n = r
            .integer(e, &format!("`{name}`"), min, max)
            .map(|n| n.map(|v| v as i64));
        r.set_once(slot, n, name, place);
    }
}

/// A profile's options over the base's: single values replace, lists append without
/// repeats, maps merge by key (compose's override rules).
pub(crate) fn merge(base: &mut ContainerOptions, over: ContainerOptions) {
    let ContainerOptions {
        dns,
        dns_search,
        dns_opt,
        domainname,
        mac_address,
        platform,
        runtime,
        ipc,
        pid,
        uts,
        userns_mode,
        cgroup,
        cgroup_parent,
        group_add,
        device_cgroup_rules,
        storage_opt,
        annotations,
        oom_kill_disable,
        oom_score_adj,
        cpu_shares,
        cpu_period,
        cpu_quota,
        cpuset,
        mem_swappiness,
        memswap_limit,
    } = over;
    let value = |s: &Spanned<String>| s.value.clone();
    append_unique(&mut base.dns, dns, value);
    append_unique(&mut base.dns_search, dns_search, value);
    append_unique(&mut base.dns_opt, dns_opt, value);
    append_unique(&mut base.group_add, group_add, value);
    append_unique(&mut base.device_cgroup_rules, device_cgroup_rules, value);
    for (slot, o) in [
        (&mut base.domainname, domainname),
        (&mut base.mac_address, mac_address),
        (&mut base.platform, platform),
        (&mut base.runtime, runtime),
        (&mut base.ipc, ipc),
        (&mut base.pid, pid),
        (&mut base.uts, uts),
        (&mut base.userns_mode, userns_mode),
        (&mut base.cgroup, cgroup),
        (&mut base.cgroup_parent, cgroup_parent),
        (&mut base.cpuset, cpuset),
    ] {
        replace(slot, o);
    }
    merge_kv(&mut base.storage_opt, storage_opt);
    merge_kv(&mut base.annotations, annotations);
    replace(&mut base.oom_kill_disable, oom_kill_disable);
    for (slot, o) in [
        (&mut base.oom_score_adj, oom_score_adj),
        (&mut base.cpu_shares, cpu_shares),
        (&mut base.cpu_period, cpu_period),
        (&mut base.cpu_quota, cpu_quota),
        (&mut base.mem_swappiness, mem_swappiness),
    ] {
        replace(slot, o);
    }
    replace(&mut base.memswap_limit, memswap_limit);
}

/// The options as stack file nodes, in the keyword order.
pub(crate) fn print(o: &ContainerOptions) -> Vec<KdlNode> {
    let mut c = Vec::new();
    for (k, list) in [
        (K::Dns, &o.dns),
        (K::DnsSearch, &o.dns_search),
        (K::DnsOpt, &o.dns_opt),
    ] {
        if !list.is_empty() {
            c.push(node(
                k.as_str(),
                list.iter().map(|x| text(&x.value)).collect(),
            ));
        }
    }
    for (k, s) in [
        (K::Domainname, &o.domainname),
        (K::MacAddress, &o.mac_address),
        (K::Platform, &o.platform),
        (K::Runtime, &o.runtime),
        (K::Ipc, &o.ipc),
        (K::Pid, &o.pid),
        (K::Uts, &o.uts),
        (K::UsernsMode, &o.userns_mode),
        (K::Cgroup, &o.cgroup),
        (K::CgroupParent, &o.cgroup_parent),
    ] {
        c.extend(string(k.as_str(), s));
    }
    for (k, list) in [
        (K::GroupAdd, &o.group_add),
        (K::DeviceCgroupRule, &o.device_cgroup_rules),
    ] {
        if !list.is_empty() {
            c.push(node(
                k.as_str(),
                list.iter().map(|x| text(&x.value)).collect(),
            ));
        }
    }
    c.extend(map_node(K::StorageOpt.as_str(), &o.storage_opt));
    c.extend(map_node(K::Annotations.as_str(), &o.annotations));
    c.extend(flag(K::OomKillDisable.as_str(), &o.oom_kill_disable));
    for (k, n) in [
        (K::OomScoreAdj, &o.oom_score_adj),
        (K::CpuShares, &o.cpu_shares),
        (K::CpuPeriod, &o.cpu_period),
        (K::CpuQuota, &o.cpu_quota),
    ] {
        if let Some(n) = n {
            c.push(node(k.as_str(), vec![int(n.value)]));
        }
    }
    c.extend(string(K::Cpuset.as_str(), &o.cpuset));
    if let Some(n) = &o.mem_swappiness {
        c.push(node(K::MemSwappiness.as_str(), vec![int(n.value)]));
    }
    if let Some(m) = &o.memswap_limit {
        let v = if m.value.0 == u64::MAX {
            int(-1)
        } else {
            text(&m.value.to_string())
        };
        c.push(node(K::MemswapLimit.as_str(), vec![v]));
    }
    c
}

/// Checks the options' values: namespace modes, a `service:NAME` that names a service, a MAC
/// address, a platform.
pub(crate) fn validate(
    o: &ContainerOptions,
    service: &str,
    services: &[&str],
    diags: &mut Diagnostics,
) {
    let mode = |field: &str,
                v: &Spanned<String>,
                allowed: &[&str],
                shared: bool,
                diags: &mut Diagnostics| {
        let value = v.value.as_str();
        if allowed.contains(&value) {
            return;
        }
        if shared {
            if let Some(other) = value.strip_prefix("service:") {
                if other == service {
                    diags.push(
                        Diagnostic::error(Problem::InvalidValue {
                            field: format!("`{field}` of service `{service}`"),
                            value: value.into(),
                            reason: "a service cannot share its own namespace".into(),
                        })
                        .with_label(v.span, "itself"),
                    );
                } else if !services.contains(&other) {
                    diags.push(
                        Diagnostic::error(Problem::InvalidValue {
                            field: format!("`{field}` of service `{service}`"),
                            value: value.into(),
                            reason: format!("there is no service `{other}`"),
                        })
                        .with_label(v.span, "unknown service"),
                    );
                }
                return;
            }
            if value
                .strip_prefix("container:")
                .is_some_and(|c| !c.is_empty())
            {
                return;
            }
        }
        let mut forms: Vec<String> = allowed.iter().map(|a| format!("`{a}`")).collect();
        if shared {
            forms.push("`service:NAME`".into());
            forms.push("`container:NAME`".into());
        }
        diags.push(
            Diagnostic::error(Problem::InvalidValue {
                field: format!("`{field}` of service `{service}`"),
                value: value.into(),
                reason: format!("expected {}", forms.join(", ")),
            })
            .with_label(v.span, "not a mode"),
        );
    };
    if let Some(v) = &o.ipc {
        mode(
            "ipc",
            v,
            &["host", "private", "shareable", "none"],
            true,
            diags,
        );
    }
    if let Some(v) = &o.pid {
        mode("pid", v, &["host"], true, diags);
    }
    if let Some(v) = &o.uts {
        mode("uts", v, &["host"], false, diags);
    }
    if let Some(v) = &o.userns_mode {
        mode("userns-mode", v, &["host"], false, diags);
    }
    if let Some(v) = &o.cgroup {
        mode("cgroup", v, &["host", "private"], false, diags);
    }
    if let Some(m) = &o.mac_address
        && !is_mac(&m.value)
    {
        diags.push(
            Diagnostic::error(Problem::InvalidValue {
                field: format!("`mac-address` of service `{service}`"),
                value: m.value.clone(),
                reason: "expected six hexadecimal pairs: `02:42:ac:11:00:02`".into(),
            })
            .with_label(m.span, "not a MAC address"),
        );
    }
    if let Some(p) = &o.platform {
        let parts: Vec<&str> = p.value.split('/').collect();
        if !(2..=3).contains(&parts.len()) || parts.iter().any(|x| x.is_empty()) {
            diags.push(
                Diagnostic::error(Problem::InvalidValue {
                    field: format!("`platform` of service `{service}`"),
                    value: p.value.clone(),
                    reason: "expected `OS/ARCH` or `OS/ARCH/VARIANT`: `linux/amd64`".into(),
                })
                .with_label(p.span, "not a platform"),
            );
        }
    }
    for d in &o.dns {
        if d.value.parse::<std::net::IpAddr>().is_err() {
            diags.push(
                Diagnostic::error(Problem::InvalidValue {
                    field: format!("`dns` of service `{service}`"),
                    value: d.value.clone(),
                    reason: "a DNS server is an IP address".into(),
                })
                .with_label(d.span, "not an IP address"),
            );
        }
    }
}

fn is_mac(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}
