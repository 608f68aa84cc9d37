//! A network's addresses (`ipam`): decoded, printed and checked here.

use std::net::IpAddr;

use kdl::{KdlEntry, KdlNode, KdlValue};

use crate::decode::many;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::model::{Ipam, IpamSubnet, Network, Service};
use crate::print::{map_node, node, text};
use crate::problem::Problem;
use crate::reader::Reader;
use crate::reader::Shape;

/// `ipam driver="default" { subnet "172.28.0.0/16" ip-range="..." gateway="..."; options {..} }`.
pub(crate) fn decode_ipam(r: &mut Reader<'_>, child: &KdlNode, place: &str) -> Ipam {
    let v = r.open(
        child,
        &Shape {
            min: 0,
            max: Some(0),
            what: "",
            props: &["driver"],
            children: true,
            usage: "ipam driver=\"default\" { subnet \"172.28.0.0/16\" gateway=\"172.28.0.1\" }",
        },
    );
    let mut ipam = Ipam {
        span: r.span(child.span()),
        driver: v
            .prop("driver")
            .and_then(|e| r.nonempty(e, "the ipam `driver`")),
        ..Ipam::default()
    };
    let place = format!("the ipam of {place}");
    for c in v.children() {
        match c.name().value() {
            "subnet" => ipam.subnets.extend(decode_subnet(r, c, &place)),
            "options" => ipam
                .options
                .extend(r.map(c, &format!("the options of {place}"))),
            _ => r.unknown_node(c, &place, &["subnet", "options"]),
        }
    }
    ipam
}

fn decode_subnet(r: &mut Reader<'_>, c: &KdlNode, place: &str) -> Option<IpamSubnet> {
    let v = r.open(
        c,
        &Shape {
            props: &["ip-range", "gateway"],
            children: true,
            max: Some(1),
            ..many(
                "a subnet",
                "subnet \"172.28.0.0/16\" ip-range=\"172.28.5.0/24\" gateway=\"172.28.5.254\"",
            )
        },
    );
    let subnet = r.nonempty(v.arg(0)?, "`subnet`")?;
    let mut s = IpamSubnet {
        subnet,
        ip_range: v.prop("ip-range").and_then(|e| r.nonempty(e, "`ip-range`")),
        gateway: v.prop("gateway").and_then(|e| r.nonempty(e, "`gateway`")),
        aux_addresses: Vec::new(),
    };
    for a in v.children() {
        match a.name().value() {
            "aux-addresses" => s
                .aux_addresses
                .extend(r.map(a, &format!("the aux addresses of {place}"))),
            _ => r.unknown_node(a, &format!("a subnet of {place}"), &["aux-addresses"]),
        }
    }
    Some(s)
}

pub(crate) fn print_ipam(ipam: &Ipam) -> KdlNode {
    let mut e = Vec::new();
    if let Some(d) = &ipam.driver {
        e.push(KdlEntry::new_prop(
            "driver",
            KdlValue::String(d.value.clone()),
        ));
    }
    let mut n = node("ipam", e);
    let mut children: Vec<KdlNode> = Vec::new();
    for s in &ipam.subnets {
        let mut e = vec![text(&s.subnet.value)];
        if let Some(x) = &s.ip_range {
            e.push(KdlEntry::new_prop(
                "ip-range",
                KdlValue::String(x.value.clone()),
            ));
        }
        if let Some(x) = &s.gateway {
            e.push(KdlEntry::new_prop(
                "gateway",
                KdlValue::String(x.value.clone()),
            ));
        }
        let mut sn = node("subnet", e);
        if let Some(aux) = map_node("aux-addresses", &s.aux_addresses) {
            sn.ensure_children().nodes_mut().push(aux);
        }
        children.push(sn);
    }
    children.extend(map_node("options", &ipam.options));
    if !children.is_empty() {
        n.ensure_children().nodes_mut().extend(children);
    }
    n
}

/// A CIDR as its address and prefix length.
fn cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (ip, len) = s.split_once('/')?;
    let ip: IpAddr = ip.parse().ok()?;
    let len: u8 = len.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (len <= max).then_some((ip, len))
}

fn contains((net, len): (IpAddr, u8), ip: IpAddr) -> bool {
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let mask = if len == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(len))
            };
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(len))
            };
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

/// Subnets, ranges and gateways are addresses that fit; a service's fixed address on a
/// network lies in one of its subnets.
pub(crate) fn validate(n: &Network, services: &[Service], diags: &mut Diagnostics) {
    let Some(ipam) = &n.ipam else {
        return;
    };
    let net = &n.name.value;
    let mut bad = |v: &crate::Spanned<String>, field: &str, reason: String, label: &str| {
        diags.push(
            Diagnostic::error(Problem::InvalidValue {
                field: format!("`{field}` of network `{net}`"),
                value: v.value.clone(),
                reason,
            })
            .with_label(v.span, label.to_string()),
        );
    };
    let mut subnets = Vec::new();
    for s in &ipam.subnets {
        let Some(sub) = cidr(&s.subnet.value) else {
            bad(
                &s.subnet,
                "subnet",
                "expected an address and a prefix length: `172.28.0.0/16`".into(),
                "not a subnet",
            );
            continue;
        };
        subnets.push(sub);
        if let Some(r) = &s.ip_range {
            match cidr(&r.value) {
                None => bad(
                    r,
                    "ip-range",
                    "expected an address and a prefix length: `172.28.5.0/24`".into(),
                    "not a range",
                ),
                Some((ip, len)) if len < sub.1 || !contains(sub, ip) => {
                    bad(
                        r,
                        "ip-range",
                        format!("it is not inside the subnet `{}`", s.subnet.value),
                        "outside the subnet",
                    );
                }
                _ => {}
            }
        }
        if let Some(g) = &s.gateway {
            match g.value.parse::<IpAddr>() {
                Err(_) => bad(
                    g,
                    "gateway",
                    "a gateway is an IP address".into(),
                    "not an IP address",
                ),
                Ok(ip) if !contains(sub, ip) => {
                    bad(
                        g,
                        "gateway",
                        format!("it is not inside the subnet `{}`", s.subnet.value),
                        "outside the subnet",
                    );
                }
                _ => {}
            }
        }
        for a in &s.aux_addresses {
            if a.value.value.parse::<IpAddr>().is_err() {
                bad(
                    &a.value,
                    "aux-addresses",
                    "an aux address is an IP address".into(),
                    "not an IP address",
                );
            }
        }
    }
    if subnets.is_empty() {
        return;
    }
    for svc in services {
        for sn in svc.networks.iter().filter(|x| x.name.value == *net) {
            for addr in [&sn.ipv4_address, &sn.ipv6_address].into_iter().flatten() {
                let Ok(ip) = addr.value.parse::<IpAddr>() else {
                    continue;
                };
                if !subnets.iter().any(|s| contains(*s, ip)) {
                    diags.push(
                        Diagnostic::error(Problem::InvalidValue {
                            field: format!(
                                "the address of service `{}` on network `{net}`",
                                svc.name.value
                            ),
                            value: addr.value.clone(),
                            reason: "it is in none of the network's subnets".into(),
                        })
                        .with_label(addr.span, "outside the subnets")
                        .with_help("pick an address inside a `subnet` of the network's `ipam`"),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_contain_their_addresses() {
        let s = cidr("172.28.0.0/16").unwrap_or((IpAddr::from([0, 0, 0, 0]), 99));
        assert!(contains(
            s,
            "172.28.5.9".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
        ));
        assert!(!contains(
            s,
            "172.29.0.1".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
        ));
        assert!(cidr("172.28.0.0/33").is_none());
        assert!(cidr("fd00::/64").is_some());
    }
}
