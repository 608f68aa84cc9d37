//! A service's [`ContainerOptions`]: DNS, namespaces, cgroups, the runtime and the CPU
//! scheduler's knobs, as compose has them. Decoded, merged, printed and checked here, so that
//! the service's own code stays about the service.

use kdl::{KdlNode, KdlValue};

use crate::decode::{bool_node, one, string_node, strings_node};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::keyword::ServiceNode as K;
use crate::merge::{append_unique, merge_kv, replace};
use crate::model::{Blkio, BlkioDevice, ContainerOptions, EnvFile, Gpu};
use crate::print::{flag, int, map_node, node, string, text};
use crate::problem::Problem;
use crate::reader::{Reader, Shape};
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
        K::Links => strings_node(r, child, &mut o.links),
        K::ExternalLinks => strings_node(r, child, &mut o.external_links),
        K::VolumesFrom => strings_node(r, child, &mut o.volumes_from),
        K::Gpu => o.gpus.extend(gpu(r, child, place)),
        K::LabelFile => {
            let files = crate::decode::file_list(r, child, "label-file \"PATH\" required=#false");
            o.label_files.extend(files);
        }
        K::Blkio => {
            let b = blkio(r, child, place);
            if o.blkio.is_some() {
                r.push(
                    Diagnostic::error(Problem::SetTwice {
                        field: "`blkio`".into(),
                        place: place.into(),
                    })
                    .with_label(r.name_span(child), "set again here")
                    .with_help("write one `blkio` node"),
                );
            }
            o.blkio = Some(b);
        }
        _ => r.unknown_node(child, place, K::NAMES),
    }
}

/// `gpu "all"`, `gpu 2 driver="nvidia"`, `gpu { device-ids "0" "3"; capabilities "gpu" }`.
fn gpu(r: &mut Reader<'_>, child: &KdlNode, place: &str) -> Option<Gpu> {
    use crate::keyword::GpuNode as G;
    let v = r.open(
        child,
        &Shape {
            min: 0,
            max: Some(1),
            what: "`\"all\"` or a count",
            props: &["driver"],
            children: true,
            usage: "gpu \"all\"",
        },
    );
    let mut g = Gpu {
        span: r.span(child.span()),
        ..Default::default()
    };
    if let Some(e) = v.arg(0) {
        let span = r.value_span(e);
        match e.value() {
            KdlValue::String(s) if s == "all" => g.count = Some(Spanned::new(-1, span)),
            KdlValue::Integer(_) => {
                g.count = r
                    .integer(e, "the count of `gpu`", 1, 1024)
                    .map(|n| n.map(|v| v as i64));
            }
            _ => r.wrong_type(e, "the count of `gpu`", "\"all\" or a whole number", None),
        }
    }
    g.driver = v.prop("driver").and_then(|e| r.nonempty(e, "`driver`"));
    for c in v.children() {
        match G::from_name(c.name().value()) {
            Some(G::DeviceIds) => strings_node(r, c, &mut g.device_ids),
            Some(G::Capabilities) => strings_node(r, c, &mut g.capabilities),
            Some(G::Options) => {
                let kv = r.map(c, &format!("the GPU options of {place}"));
                g.options.extend(kv);
            }
            None => r.unknown_node(c, &format!("`gpu` of {place}"), G::NAMES),
        }
    }
    if g.count.is_some() && !g.device_ids.is_empty() {
        r.push(
            Diagnostic::error(Problem::Other {
                message: format!("`gpu` of {place} has both a count and `device-ids`"),
            })
            .with_label(r.name_span(child), "both")
            .with_help("give a count, or the devices' ids, not both"),
        );
        return None;
    }
    if g.count.is_none() && g.device_ids.is_empty() {
        g.count = Some(Spanned::new(-1, g.span));
    }
    Some(g)
}

/// `blkio weight=300 { weight-device "/dev/sda" 200; device-read-bps "/dev/sda" "10mb" }`.
fn blkio(r: &mut Reader<'_>, child: &KdlNode, place: &str) -> Blkio {
    use crate::keyword::BlkioNode as B;
    let v = r.open(
        child,
        &Shape {
            min: 0,
            max: Some(0),
            what: "",
            props: &["weight"],
            children: true,
            usage: "blkio weight=300 { device-read-bps \"/dev/sda\" \"10mb\" }",
        },
    );
    let mut b = Blkio {
        span: r.span(child.span()),
        ..Default::default()
    };
    b.weight = v
        .prop("weight")
        .and_then(|e| r.integer(e, "the block IO `weight`", 10, 1000))
        .map(|n| n.map(|v| v as i64));
    for c in v.children() {
        let Some(k) = B::from_name(c.name().value()) else {
            r.unknown_node(c, &format!("`blkio` of {place}"), B::NAMES);
            continue;
        };
        let d = c.name().value();
        let cv = r.open(
            c,
            &Shape {
                min: 2,
                max: Some(2),
                what: "a device and a value",
                props: &[],
                children: false,
                usage: "device-read-bps \"/dev/sda\" \"10mb\"",
            },
        );
        let (Some(path), Some(value)) = (cv.arg(0), cv.arg(1)) else {
            continue;
        };
        let Some(path) = r.nonempty(path, &format!("the device of `{d}`")) else {
            continue;
        };
        let what = format!("`{d}` of {place}");
        let rate = match k {
            B::WeightDevice => r
                .integer(value, &what, 10, 1000)
                .map(|n| n.map(|v| v as u64)),
            B::DeviceReadBps | B::DeviceWriteBps => r.size(value, &what).map(|s| s.map(|b| b.0)),
            B::DeviceReadIops | B::DeviceWriteIops => r
                .integer(value, &what, 1, i128::from(i64::MAX))
                .map(|n| n.map(|v| v as u64)),
        };
        let Some(rate) = rate else { continue };
        let list = match k {
            B::WeightDevice => &mut b.weight_device,
            B::DeviceReadBps => &mut b.device_read_bps,
            B::DeviceWriteBps => &mut b.device_write_bps,
            B::DeviceReadIops => &mut b.device_read_iops,
            B::DeviceWriteIops => &mut b.device_write_iops,
        };
        list.push(BlkioDevice { path, rate });
    }
    b
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
        links,
        external_links,
        volumes_from,
        gpus,
        label_files,
        blkio,
    } = over;
    let value = |s: &Spanned<String>| s.value.clone();
    append_unique(&mut base.dns, dns, value);
    append_unique(&mut base.dns_search, dns_search, value);
    append_unique(&mut base.dns_opt, dns_opt, value);
    append_unique(&mut base.group_add, group_add, value);
    append_unique(&mut base.device_cgroup_rules, device_cgroup_rules, value);
    append_unique(&mut base.links, links, value);
    append_unique(&mut base.external_links, external_links, value);
    append_unique(&mut base.volumes_from, volumes_from, value);
    base.gpus.extend(gpus);
    append_unique(&mut base.label_files, label_files, |f: &EnvFile| {
        f.path.value.clone()
    });
    replace(&mut base.blkio, blkio);
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
    for (k, list) in [
        (K::Links, &o.links),
        (K::ExternalLinks, &o.external_links),
        (K::VolumesFrom, &o.volumes_from),
    ] {
        if !list.is_empty() {
            c.push(node(
                k.as_str(),
                list.iter().map(|x| text(&x.value)).collect(),
            ));
        }
    }
    c.extend(o.gpus.iter().map(print_gpu));
    for f in &o.label_files {
        let mut e = vec![text(&f.path.value.to_string_lossy())];
        if !f.required {
            e.push(kdl::KdlEntry::new_prop("required", false));
        }
        c.push(node(K::LabelFile.as_str(), e));
    }
    c.extend(o.blkio.as_ref().map(print_blkio));
    c
}

fn print_gpu(g: &Gpu) -> KdlNode {
    use crate::keyword::GpuNode as G;
    let mut e = Vec::new();
    match g.count.as_ref().map(|c| c.value) {
        Some(-1) if g.device_ids.is_empty() => e.push(text("all")),
        Some(n) => e.push(int(n)),
        None => {}
    }
    if let Some(d) = &g.driver {
        e.push(kdl::KdlEntry::new_prop(
            "driver",
            KdlValue::String(d.value.clone()),
        ));
    }
    let mut n = node(K::Gpu.as_str(), e);
    let mut children = Vec::new();
    for (k, list) in [
        (G::DeviceIds, &g.device_ids),
        (G::Capabilities, &g.capabilities),
    ] {
        if !list.is_empty() {
            children.push(node(
                k.as_str(),
                list.iter().map(|x| text(&x.value)).collect(),
            ));
        }
    }
    children.extend(map_node(G::Options.as_str(), &g.options));
    if !children.is_empty() {
        n.ensure_children().nodes_mut().extend(children);
    }
    n
}

fn print_blkio(b: &Blkio) -> KdlNode {
    use crate::keyword::BlkioNode as B;
    let mut e = Vec::new();
    if let Some(w) = &b.weight {
        e.push(kdl::KdlEntry::new_prop(
            "weight",
            KdlValue::Integer(w.value.into()),
        ));
    }
    let mut n = node(K::Blkio.as_str(), e);
    let mut children = Vec::new();
    for (k, list) in [
        (B::WeightDevice, &b.weight_device),
        (B::DeviceReadBps, &b.device_read_bps),
        (B::DeviceWriteBps, &b.device_write_bps),
        (B::DeviceReadIops, &b.device_read_iops),
        (B::DeviceWriteIops, &b.device_write_iops),
    ] {
        for d in list {
            children.push(node(
                k.as_str(),
                vec![text(&d.path.value), int(d.rate.value)],
            ));
        }
    }
    if !children.is_empty() {
        n.ensure_children().nodes_mut().extend(children);
    }
    n
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
    if let Some(m) = &o.mac_address {
        check_mac(m, &format!("`mac-address` of service `{service}`"), diags);
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
    validate_links(o, service, services, diags);
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

/// `NAME:ALIAS` of a link as `(NAME, ALIAS)`; the alias is the name when none is given.
pub fn link_parts(link: &str) -> (&str, &str) {
    match link.split_once(':') {
        Some((name, alias)) => (name, alias),
        None => (link, link),
    }
}

/// What a `volumes-from` entry names.
#[derive(Debug, PartialEq, Eq)]
pub enum VolumesFrom<'a> {
    /// A service of the stack, and the mode (`ro`, `rw`, or none).
    Service(&'a str, Option<&'a str>),
    /// A container by its engine name.
    Container(&'a str, Option<&'a str>),
}

/// `SERVICE[:MODE]` or `container:NAME[:MODE]`.
pub fn volumes_from_parts(v: &str) -> VolumesFrom<'_> {
    fn split(s: &str) -> (&str, Option<&str>) {
        match s.rsplit_once(':') {
            Some((name, mode)) if mode == "ro" || mode == "rw" => (name, Some(mode)),
            _ => (s, None),
        }
    }
    match v.strip_prefix("container:") {
        Some(rest) => {
            let (name, mode) = split(rest);
            VolumesFrom::Container(name, mode)
        }
        None => {
            let (name, mode) = split(v);
            VolumesFrom::Service(name, mode)
        }
    }
}

/// Links name services of the stack, `volumes-from` a service or `container:NAME` and a mode.
fn validate_links(o: &ContainerOptions, service: &str, services: &[&str], diags: &mut Diagnostics) {
    let mut invalid = |field: &str, v: &Spanned<String>, reason: String, label: &str| {
        diags.push(
            Diagnostic::error(Problem::InvalidValue {
                field: format!("`{field}` of service `{service}`"),
                value: v.value.clone(),
                reason,
            })
            .with_label(v.span, label.to_string()),
        );
    };
    for l in &o.links {
        let (name, alias) = link_parts(&l.value);
        if name.is_empty() || alias.is_empty() || alias.contains(':') {
            invalid(
                "links",
                l,
                "expected `SERVICE` or `SERVICE:ALIAS`".into(),
                "not a link",
            );
        } else if name == service {
            invalid(
                "links",
                l,
                "a service cannot link to itself".into(),
                "itself",
            );
        } else if !services.contains(&name) {
            invalid(
                "links",
                l,
                format!(
                    "there is no service `{name}` (a container outside the stack is an `external-links` entry)"
                ),
                "unknown service",
            );
        }
    }
    for l in &o.external_links {
        let (name, alias) = link_parts(&l.value);
        if name.is_empty() || alias.is_empty() || alias.contains(':') {
            invalid(
                "external-links",
                l,
                "expected `CONTAINER` or `CONTAINER:ALIAS`".into(),
                "not a link",
            );
        }
    }
    for v in &o.volumes_from {
        match volumes_from_parts(&v.value) {
            VolumesFrom::Service(name, _) if name == service => {
                invalid(
                    "volumes-from",
                    v,
                    "a service cannot take its own volumes".into(),
                    "itself",
                );
            }
            VolumesFrom::Service(name, _) if name.contains(':') || name.is_empty() => invalid(
                "volumes-from",
                v,
                "expected `SERVICE`, `SERVICE:ro`, `container:NAME` or `container:NAME:rw`".into(),
                "not a source",
            ),
            VolumesFrom::Service(name, _) if !services.contains(&name) => invalid(
                "volumes-from",
                v,
                format!(
                    "there is no service `{name}` (write `container:{name}` for a container outside the stack)"
                ),
                "unknown service",
            ),
            VolumesFrom::Container("", _) => invalid(
                "volumes-from",
                v,
                "`container:` needs a container's name".into(),
                "no name",
            ),
            _ => {}
        }
    }
}

/// A MAC address `field` sets: six hexadecimal pairs.
pub(crate) fn check_mac(m: &Spanned<String>, field: &str, diags: &mut Diagnostics) {
    if !is_mac(&m.value) {
        diags.push(
            Diagnostic::error(Problem::InvalidValue {
                field: field.to_string(),
                value: m.value.clone(),
                reason: "expected six hexadecimal pairs: `02:42:ac:11:00:02`".into(),
            })
            .with_label(m.span, "not a MAC address"),
        );
    }
}

fn is_mac(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}
