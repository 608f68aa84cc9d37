//! KDL document to [`StackFile`]: one function per node kind.
//!
//! Decoding checks each node's own shape and values; what needs the whole stack (references,
//! cycles, port clashes) is left to [`crate::validate`].

use std::collections::HashMap;

use kdl::{KdlNode, KdlValue};

use crate::diagnostic::Diagnostic;
use crate::model::*;
use crate::port::{PortRange, PortSpec, Protocol, parse_port_range, parse_port_spec};
use crate::problem::Problem;
use crate::reader::{Reader, Shape, View, describe};
use crate::source::{Span, Spanned};

pub(crate) const TOP_NODES: &[&str] = &[
    "stack", "include", "target", "service", "network", "volume", "secret", "config", "profile",
];
pub(crate) const PROFILE_NODES: &[&str] =
    &["target", "service", "network", "volume", "secret", "config"];
pub(crate) const PLACEMENT_NODES: &[&str] = &["constraint", "spread", "max-per-node"];

pub(crate) const HEALTH_NODES: &[&str] = &[
    "exec",
    "shell",
    "http",
    "tcp",
    "interval",
    "timeout",
    "retries",
    "start-period",
    "start-interval",
    "disable",
];

pub(crate) const BUILD_NODES: &[&str] = &[
    "arg",
    "args",
    "pre-build",
    "dockerfile-inline",
    "tags",
    "labels",
    "cache-from",
    "secret",
    "ssh",
    "additional-contexts",
];
pub(crate) const WATCH_NODES: &[&str] =
    &["sync", "rebuild", "restart", "sync-restart", "sync-exec"];
pub(crate) const SERVICE_NETWORK_NODES: &[&str] = &[
    "aliases",
    "ipv4-address",
    "ipv6-address",
    "link-local-ips",
    "driver-opts",
    "mac-address",
    "gw-priority",
];

pub(crate) fn one(what: &'static str, usage: &'static str) -> Shape {
    Shape {
        min: 1,
        max: Some(1),
        what,
        props: &[],
        children: false,
        usage,
    }
}

pub(crate) fn many(what: &'static str, usage: &'static str) -> Shape {
    Shape {
        min: 1,
        max: None,
        what,
        props: &[],
        children: false,
        usage,
    }
}

/// Decodes a parsed KDL document.
pub(crate) fn decode_document<'a>(
    r: &mut Reader<'_>,
    nodes: impl Iterator<Item = &'a KdlNode>,
) -> StackFile {
    let mut file = StackFile {
        file: r.file,
        ..StackFile::default()
    };
    let mut profiles: Vec<Profile> = Vec::new();
    let mut profile_names: HashMap<String, Span> = HashMap::new();
    let mut top = Declared::new();
    for node in nodes {
        match node.name().value() {
            "stack" => {
                let v = r.open(node, &one("a stack name", "stack \"NAME\""));
                if let Some(e) = v.arg(0) {
                    let name = r.nonempty(e, "`stack`");
                    r.set_once(&mut file.stack, name, "stack", "the file");
                }
            }
            "include" => {
                let v = r.open(node, &many("a path", "include \"PATH\""));
                for e in &v.args {
                    if let Some(p) = r.path(e, "`include`") {
                        file.includes.push(p);
                    }
                }
            }
            "profile" => {
                let v = r.open(
                    node,
                    &Shape {
                        children: true,
                        ..one("a profile name", "profile \"NAME\" { ... }")
                    },
                );
                let Some(name) = v.arg(0).and_then(|e| r.nonempty(e, "`profile`")) else {
                    continue;
                };
                check_name(r, "profile", &name);
                if let Some(first) = profile_names.get(&name.value) {
                    r.push(
                        Diagnostic::error(Problem::Duplicate {
                            kind: "profile".into(),
                            name: name.value.clone(),
                        })
                        .with_label(name.span, "defined again here")
                        .with_label(*first, "first defined here")
                        .with_help("put everything the profile changes in one block"),
                    );
                    continue;
                }
                profile_names.insert(name.value.clone(), name.span);
                let mut body = Declarations::default();
                let mut declared = Declared::new();
                let place = format!("profile `{}`", name.value);
                for child in v.children() {
                    let into = (&mut body, &mut declared);
                    decode_declaration(r, child, into, &place, PROFILE_NODES);
                }
                profiles.push(Profile { name, body });
            }
            _ => {
                let into = (&mut file.body, &mut top);
                decode_declaration(r, node, into, "the stack file", TOP_NODES);
            }
        }
    }
    file.profiles = profiles;
    file
}

/// The names declared so far in one [`Declarations`], by kind: a duplicate is a lookup.
type Declared = HashMap<(&'static str, String), Span>;

/// Adds `item` unless a `kind` of its name is declared already (then reports it).
fn declare<T>(
    r: &mut Reader<'_>,
    (list, declared): (&mut Vec<T>, &mut Declared),
    item: T,
    kind: &'static str,
    name: impl Fn(&T) -> &Spanned<String>,
    place: &str,
) {
    let n = name(&item);
    match declared.get(&(kind, n.value.clone())) {
        Some(first) => r.push(duplicate(kind, n, *first, place)),
        None => {
            declared.insert((kind, n.value.clone()), n.span);
            list.push(item);
        }
    }
}

/// A service, network, volume, secret or config at top level or in a profile.
fn decode_declaration(
    r: &mut Reader<'_>,
    node: &KdlNode,
    (decls, declared): (&mut Declarations, &mut Declared),
    place: &str,
    allowed: &[&str],
) {
    match node.name().value() {
        "target" => decode_target(r, node, decls, place),
        "service" => {
            if let Some(s) = decode_service(r, node) {
                let into = (&mut decls.services, declared);
                declare(r, into, s, "service", |s| &s.name, place);
            }
        }
        "network" => {
            if let Some(n) = decode_network(r, node) {
                let into = (&mut decls.networks, declared);
                declare(r, into, n, "network", |n| &n.name, place);
            }
        }
        "volume" => {
            if let Some(n) = decode_volume(r, node) {
                let into = (&mut decls.volumes, declared);
                declare(r, into, n, "volume", |n| &n.name, place);
            }
        }
        "secret" => {
            if let Some(n) = decode_secret(r, node) {
                let into = (&mut decls.secrets, declared);
                declare(r, into, n, "secret", |n| &n.name, place);
            }
        }
        "config" => {
            if let Some(n) = decode_config(r, node) {
                let into = (&mut decls.configs, declared);
                declare(r, into, n, "config", |n| &n.name, place);
            }
        }
        "stack" | "include" | "profile" if allowed == PROFILE_NODES => {
            let name = node.name().value();
            r.push(
                Diagnostic::error(Problem::UnknownNode {
                    name: name.into(),
                    place: place.into(),
                })
                .with_label(r.name_span(node), "only at top level")
                .with_help(format!(
                    "`{name}` belongs at the top level of the file, outside any profile"
                )),
            );
        }
        _ => r.unknown_node(node, place, allowed),
    }
}

/// `target "swarm"` at top level or in a profile.
fn decode_target(r: &mut Reader<'_>, node: &KdlNode, decls: &mut Declarations, place: &str) {
    let v = r.open(node, &one("a target", "target \"swarm\""));
    let Some(t) = v.arg(0).and_then(|e| r.nonempty(e, "`target`")) else {
        return;
    };
    let Some(target) = Target::parse(&t.value) else {
        let best = crate::suggest::did_you_mean(&t.value, Target::NAMES);
        let fix = best.map(|b| (t.value.clone(), b.to_string()));
        let help = match best {
            Some(best) => format!("did you mean `{best}`?"),
            None => "write `target \"engine\"` (containers on one engine) or `target \"swarm\"` (services on a Docker Swarm)".into(),
        };
        r.push(
            Diagnostic::error(Problem::InvalidValue {
                field: "`target`".into(),
                value: t.value.clone(),
                reason: "the targets are `engine` and `swarm`".into(),
            })
            .with_label(t.span, "unknown target")
            .with_help(help)
            .with_fix_opt(fix),
        );
        return;
    };
    r.set_once(
        &mut decls.target,
        Some(Spanned::new(target, t.span)),
        "target",
        place,
    );
}

/// `placement { constraint "..."; spread "..."; max-per-node N }` in a service.
fn decode_placement(r: &mut Reader<'_>, child: &KdlNode, s: &mut Service, place: &str) {
    let v = r.open(
        child,
        &Shape {
            min: 0,
            max: Some(0),
            what: "no argument",
            props: &[],
            children: true,
            usage: "placement { constraint \"node.role==worker\"; max-per-node 1 }",
        },
    );
    let mut p = Placement {
        span: r.span(child.span()),
        ..Placement::default()
    };
    let inner = format!("the placement of {place}");
    for node in v.children() {
        match node.name().value() {
            "constraint" => {
                let before = p.constraints.len();
                strings_node(r, node, &mut p.constraints);
                for c in &p.constraints[before..] {
                    if let Some(reason) = constraint_problem(&c.value) {
                        r.push(
                            Diagnostic::error(Problem::InvalidValue {
                                field: "`constraint`".into(),
                                value: c.value.clone(),
                                reason: reason.into(),
                            })
                            .with_label(c.span, "invalid constraint")
                            .with_help("write `ATTRIBUTE==VALUE` or `ATTRIBUTE!=VALUE`: `node.role==worker`, `node.labels.zone!=b`, `node.hostname==web-1`"),
                        );
                    }
                }
            }
            "spread" => strings_node(r, node, &mut p.spread),
            "max-per-node" => {
                let v = r.open(node, &one("a count", "max-per-node 1"));
                if let Some(e) = v.arg(0) {
                    let n = r
                        .integer(e, "`max-per-node`", 1, 1000)
                        .map(|n| n.map(|v| v as u32));
                    r.set_once(&mut p.max_per_node, n, "max-per-node", &inner);
                }
            }
            _ => r.unknown_node(node, &inner, PLACEMENT_NODES),
        }
    }
    if let Some(first) = &s.placement {
        r.push(
            Diagnostic::error(Problem::SetTwice {
                field: "`placement`".into(),
                place: place.into(),
            })
            .with_label(p.span, "set again here")
            .with_label(first.span, "first set here")
            .with_help("write one block with every setting"),
        );
        return;
    }
    s.placement = Some(p);
}

/// Why a placement constraint is not one Swarm reads, if it is not.
fn constraint_problem(c: &str) -> Option<&'static str> {
    let Some((attr, value)) = c.split_once("==").or_else(|| c.split_once("!=")) else {
        return Some("a constraint is `ATTRIBUTE==VALUE` or `ATTRIBUTE!=VALUE`");
    };
    let (attr, value) = (attr.trim(), value.trim());
    if attr.is_empty() || value.is_empty() {
        return Some("a constraint compares an attribute with a value");
    }
    let known = [
        "node.id",
        "node.hostname",
        "node.role",
        "node.platform.os",
        "node.platform.arch",
    ];
    if known.contains(&attr)
        || attr.starts_with("node.labels.")
        || attr.starts_with("engine.labels.")
    {
        None
    } else {
        Some(
            "the attributes are node.id, node.hostname, node.role, node.platform.os, node.platform.arch, node.labels.NAME and engine.labels.NAME",
        )
    }
}

fn duplicate(kind: &str, name: &Spanned<String>, first: Span, place: &str) -> Diagnostic {
    let help = if place.starts_with("profile") {
        format!("a {place} can change a {kind} only once: merge the two blocks")
    } else {
        "give one of them another name, or merge the two blocks".to_string()
    };
    Diagnostic::error(Problem::Duplicate {
        kind: kind.into(),
        name: name.value.clone(),
    })
    .with_label(name.span, "defined again here")
    .with_label(first, "first defined here")
    .with_help(help)
}

/// Names of services, networks, volumes, secrets, configs and profiles: what compose accepts.
fn check_name(r: &mut Reader<'_>, what: &str, name: &Spanned<String>) -> bool {
    let s = &name.value;
    let first_ok = s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if first_ok && rest_ok {
        return true;
    }
    r.push(
        Diagnostic::error(Problem::InvalidName {
            what: what.into(),
            name: s.clone(),
            reason:
                "names start with a letter or digit and hold only letters, digits, `_`, `.` and `-`"
                    .into(),
        })
        .with_label(name.span, "invalid name"),
    );
    false
}

fn name_arg(r: &mut Reader<'_>, v: &View<'_>, what: &str) -> Option<Spanned<String>> {
    let name = r.nonempty(v.arg(0)?, &format!("the {what} name"))?;
    check_name(r, what, &name);
    Some(name)
}

fn decode_network(r: &mut Reader<'_>, node: &KdlNode) -> Option<Network> {
    let v = r.open(
        node,
        &Shape {
            min: 1,
            max: Some(1),
            what: "a network name",
            props: &["name", "driver", "internal", "external", "attachable", "enable-ipv6"],
            children: true,
            usage: "network \"NAME\" driver=\"bridge\" internal=#true external=#true attachable=#true enable-ipv6=#true name=\"ENGINE-NAME\"",
        },
    );
    let name = name_arg(r, &v, "network")?;
    let mut n = Network {
        name,
        ..Network::default()
    };
    if let Some(e) = v.prop("name") {
        n.engine_name = r.nonempty(e, "the network's `name`");
    }
    if let Some(e) = v.prop("driver") {
        n.driver = r.nonempty(e, "the network's `driver`");
    }
    if let Some(e) = v.prop("internal") {
        n.internal = r.bool(e, "`internal`");
    }
    if let Some(e) = v.prop("external") {
        n.external = r.bool(e, "`external`");
    }
    if let Some(e) = v.prop("attachable") {
        n.attachable = r.bool(e, "`attachable`");
    }
    if let Some(e) = v.prop("enable-ipv6") {
        n.enable_ipv6 = r.bool(e, "`enable-ipv6`");
    }
    let place = format!("network `{}`", n.name.value);
    for child in v.children() {
        match child.name().value() {
            "labels" => n.labels.extend(r.map(child, "the network's labels")),
            "driver-opts" => n
                .driver_opts
                .extend(r.map(child, "the network's driver options")),
            "ipam" => {
                let ipam = crate::network::decode_ipam(r, child, &place);
                if n.ipam.is_some() {
                    r.push(
                        Diagnostic::error(Problem::SetTwice {
                            field: "`ipam`".into(),
                            place: place.clone(),
                        })
                        .with_label(ipam.span, "set again here")
                        .with_help("write one `ipam` node"),
                    );
                }
                n.ipam = Some(ipam);
            }
            _ => r.unknown_node(child, &place, &["labels", "driver-opts", "ipam"]),
        }
    }
    Some(n)
}

fn decode_volume(r: &mut Reader<'_>, node: &KdlNode) -> Option<Volume> {
    let v = r.open(
        node,
        &Shape {
            min: 1,
            max: Some(1),
            what: "a volume name",
            props: &["name", "driver", "external"],
            children: true,
            usage: "volume \"NAME\" driver=\"local\" external=#true name=\"ENGINE-NAME\"",
        },
    );
    let name = name_arg(r, &v, "volume")?;
    let mut vol = Volume {
        name,
        ..Volume::default()
    };
    if let Some(e) = v.prop("name") {
        vol.engine_name = r.nonempty(e, "the volume's `name`");
    }
    if let Some(e) = v.prop("driver") {
        vol.driver = r.nonempty(e, "the volume's `driver`");
    }
    if let Some(e) = v.prop("external") {
        vol.external = r.bool(e, "`external`");
    }
    for child in v.children() {
        match child.name().value() {
            "labels" => vol.labels.extend(r.map(child, "the volume's labels")),
            "driver-opts" => vol
                .driver_opts
                .extend(r.map(child, "the volume's driver options")),
            _ => r.unknown_node(
                child,
                &format!("volume `{}`", vol.name.value),
                &["labels", "driver-opts"],
            ),
        }
    }
    Some(vol)
}

fn decode_secret(r: &mut Reader<'_>, node: &KdlNode) -> Option<Secret> {
    let v = r.open(
        node,
        &Shape {
            min: 1,
            max: Some(1),
            what: "a secret name",
            props: &["file", "env", "external", "name", "acknowledge"],
            children: true,
            usage: "secret \"NAME\" file=\"PATH\" | env=\"VARIABLE\" | external=#true",
        },
    );
    let name = name_arg(r, &v, "secret")?;
    let mut sources: Vec<Spanned<SecretSource>> = Vec::new();
    if let Some(e) = v.prop("file")
        && let Some(p) = r.path(e, "the secret's `file`")
    {
        sources.push(p.map(SecretSource::File));
    }
    if let Some(e) = v.prop("env")
        && let Some(s) = r.nonempty(e, "the secret's `env`")
    {
        check_env_name(r, &s);
        sources.push(s.map(SecretSource::Env));
    }
    if let Some(e) = v.prop("external") {
        if let Some(b) = r.bool(e, "`external`")
            && b.value
        {
            let engine = match v.prop("name") {
                Some(n) => r
                    .nonempty(n, "the secret's `name`")
                    .map_or(name.value.clone(), |s| s.value),
                None => name.value.clone(),
            };
            sources.push(Spanned::new(SecretSource::External(engine), b.span));
        }
    } else if let Some(e) = v.prop("name") {
        r.push(
            Diagnostic::error(Problem::Other {
                message: format!(
                    "`name` on secret `{}` only applies to external secrets",
                    name.value
                ),
            })
            .with_label(r.entry_span(e), "not external")
            .with_help("add `external=#true`, or remove `name`"),
        );
    }
    let source = several_sources(
        r,
        sources,
        &format!("secret `{}`", name.value),
        "`file`, `env` or `external`",
    );
    let mut acknowledge_readable = None;
    if let Some(e) = v.prop("acknowledge")
        && let Some(w) = r.nonempty(e, "`acknowledge`")
    {
        if w.value == "readable-file" {
            acknowledge_readable = Some(Spanned::new(true, w.span));
        } else {
            r.push(
                Diagnostic::error(Problem::InvalidValue {
                    field: "the secret's `acknowledge`".into(),
                    value: w.value.clone(),
                    reason: "a secret can only acknowledge `readable-file`".into(),
                })
                .with_label(w.span, "unknown warning")
                .with_help("write `acknowledge=\"readable-file\"` for a file readable by its group or others on purpose (a demo value)"),
            );
        }
    }
    let labels = file_labels(r, &v, &format!("secret `{}`", name.value));
    Some(Secret {
        span: r.span(node.span()),
        name,
        source,
        acknowledge_readable,
        labels,
    })
}

/// The `labels { ... }` child of a secret or config, its only child.
fn file_labels(r: &mut Reader<'_>, v: &crate::reader::View<'_>, place: &str) -> Vec<KeyValue> {
    let mut labels = Vec::new();
    for c in v.children() {
        match c.name().value() {
            "labels" => labels.extend(r.map(c, &format!("the labels of {place}"))),
            _ => r.unknown_node(c, place, &["labels"]),
        }
    }
    labels
}

fn decode_config(r: &mut Reader<'_>, node: &KdlNode) -> Option<Config> {
    let v = r.open(
        node,
        &Shape {
            min: 1,
            max: Some(1),
            what: "a config name",
            props: &["file", "content", "external", "name"],
            children: true,
            usage: "config \"NAME\" file=\"PATH\" | content=\"TEXT\" | external=#true",
        },
    );
    let name = name_arg(r, &v, "config")?;
    let mut sources: Vec<Spanned<ConfigSource>> = Vec::new();
    if let Some(e) = v.prop("file")
        && let Some(p) = r.path(e, "the config's `file`")
    {
        sources.push(p.map(ConfigSource::File));
    }
    if let Some(e) = v.prop("content")
        && let Some(s) = r.string(e, "the config's `content`")
    {
        sources.push(s.map(ConfigSource::Content));
    }
    if let Some(e) = v.prop("external")
        && let Some(b) = r.bool(e, "`external`")
        && b.value
    {
        let engine = match v.prop("name") {
            Some(n) => r
                .nonempty(n, "the config's `name`")
                .map_or(name.value.clone(), |s| s.value),
            None => name.value.clone(),
        };
        sources.push(Spanned::new(ConfigSource::External(engine), b.span));
    }
    let external = sources
        .iter()
        .any(|s| matches!(s.value, ConfigSource::External(_)));
    if !external && let Some(e) = v.prop("name") {
        r.push(
            Diagnostic::error(Problem::Other {
                message: format!(
                    "`name` on config `{}` only applies to external configs",
                    name.value
                ),
            })
            .with_label(r.entry_span(e), "not external")
            .with_help("add `external=#true`, or remove `name`"),
        );
    }
    let source = several_sources(
        r,
        sources,
        &format!("config `{}`", name.value),
        "`file`, `content` or `external`",
    );
    let labels = file_labels(r, &v, &format!("config `{}`", name.value));
    Some(Config {
        span: r.span(node.span()),
        name,
        source,
        labels,
    })
}

fn several_sources<T>(
    r: &mut Reader<'_>,
    mut sources: Vec<Spanned<T>>,
    what: &str,
    keys: &str,
) -> Option<Spanned<T>> {
    if sources.len() > 1 {
        let mut d = Diagnostic::error(Problem::SeveralSources { what: what.into() });
        for s in &sources {
            d = d.with_label(s.span, "a source");
        }
        r.push(d.with_help(format!("keep exactly one of {keys}")));
    }
    if sources.is_empty() {
        None
    } else {
        Some(sources.remove(0))
    }
}

fn check_env_name(r: &mut Reader<'_>, s: &Spanned<String>) {
    let ok = s
        .value
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        r.push(
            Diagnostic::error(Problem::InvalidName {
                what: "environment variable".into(),
                name: s.value.clone(),
                reason:
                    "a variable name holds letters, digits and `_`, and does not start with a digit"
                        .into(),
            })
            .with_label(s.span, "invalid name"),
        );
    }
}

/// A service block: `service "name" { ... }`.
fn decode_service(r: &mut Reader<'_>, node: &KdlNode) -> Option<Service> {
    let v = r.open(
        node,
        &Shape {
            children: true,
            ..one("a service name", "service \"NAME\" { image \"IMAGE\" }")
        },
    );
    let name = name_arg(r, &v, "service")?;
    let place = format!("service `{}`", name.value);
    let mut s = Service {
        span: r.span(node.span()),
        name,
        ..Service::default()
    };
    for child in v.children() {
        decode_service_child(r, child, &mut s, &place);
    }
    drop_repeats(r, &place, &mut s);
    Some(s)
}

/// What a service lists once each (env variables, networks, dependencies, ulimits), checked
/// once all its nodes are decoded: one pass with a map, however many nodes the lists come
/// from. The first of a name is kept; each later one is reported.
fn drop_repeats(r: &mut Reader<'_>, place: &str, s: &mut Service) {
    let labels = ("set again here", "first set here");
    keep_first(r, place, &mut s.env, |v| &v.name, "env", labels);
    let joined = ("joined again here", "first joined here");
    keep_first(r, place, &mut s.networks, |n| &n.name, "network", joined);
    let again = ("again here", "first here");
    keep_first(
        r,
        place,
        &mut s.depends_on,
        |d| &d.service,
        "depends-on",
        again,
    );
    keep_first(r, place, &mut s.ulimits, |u| &u.name, "ulimit", labels);
}

fn keep_first<T>(
    r: &mut Reader<'_>,
    place: &str,
    list: &mut Vec<T>,
    name: impl Fn(&T) -> &Spanned<String>,
    field: &str,
    (again, first): (&str, &str),
) {
    let mut seen: HashMap<String, Span> = HashMap::new();
    list.retain(|item| {
        let n = name(item);
        let Some(at) = seen.get(&n.value) else {
            seen.insert(n.value.clone(), n.span);
            return true;
        };
        r.push(
            Diagnostic::error(Problem::SetTwice {
                field: format!("{field} `{}`", n.value),
                place: place.into(),
            })
            .with_label(n.span, again)
            .with_label(*at, first),
        );
        false
    });
}

/// A block a service has once (`update`, `rollback`).
fn set_block(
    r: &mut Reader<'_>,
    slot: &mut Option<Box<UpdatePolicy>>,
    block: UpdatePolicy,
    name: &str,
    place: &str,
) {
    if let Some(first) = slot {
        r.push(
            Diagnostic::error(Problem::SetTwice {
                field: format!("`{name}`"),
                place: place.into(),
            })
            .with_label(block.span, "set again here")
            .with_label(first.span, "first set here")
            .with_help("write one block with every setting"),
        );
        return;
    }
    *slot = Some(Box::new(block));
}

pub(crate) fn bool_node(
    r: &mut Reader<'_>,
    child: &KdlNode,
    slot: &mut Option<Spanned<bool>>,
    place: &str,
) {
    let name = child.name().value();
    let v = r.open(
        child,
        &Shape {
            min: 1,
            max: Some(1),
            what: "#true or #false",
            props: &[],
            children: false,
            usage: "NAME #true",
        },
    );
    if let Some(e) = v.arg(0) {
        let b = r.bool(e, &format!("`{name}`"));
        r.set_once(slot, b, name, place);
    }
}

pub(crate) fn string_node(
    r: &mut Reader<'_>,
    child: &KdlNode,
    slot: &mut Option<Spanned<String>>,
    place: &str,
) {
    let name = child.name().value();
    let v = r.open(child, &one("a value", "NAME \"VALUE\""));
    if let Some(e) = v.arg(0) {
        let s = r.nonempty(e, &format!("`{name}`"));
        r.set_once(slot, s, name, place);
    }
}

pub(crate) fn strings_node(r: &mut Reader<'_>, child: &KdlNode, out: &mut Vec<Spanned<String>>) {
    let name = child.name().value();
    let v = r.open(
        child,
        &many("one or more values", "NAME \"VALUE\" \"VALUE\""),
    );
    for e in &v.args {
        if let Some(s) = r.nonempty(e, &format!("`{name}`")) {
            out.push(s);
        }
    }
}

fn decode_service_child(r: &mut Reader<'_>, child: &KdlNode, s: &mut Service, place: &str) {
    use crate::keyword::ServiceNode as K;
    match K::from_name(child.name().value()) {
        Some(K::Image) => service_image(r, child, s, place),
        Some(K::Build) => decode_build(r, child, s, place),
        Some(K::Command) | Some(K::Entrypoint) => service_command_or_entrypoint(r, child, s, place),
        Some(K::Env) => decode_env(r, child, s),
        Some(K::EnvFile) => service_env_file(r, child, s),
        Some(K::Port) => decode_port(r, child, s),
        Some(K::Expose) => service_expose(r, child, s),
        Some(K::Mount) => decode_mount(r, child, s),
        Some(K::Tmpfs) => decode_tmpfs(r, child, s),
        Some(K::Networks) => service_networks(r, child, s),
        Some(K::Network) => service_network(r, child, s, place),
        Some(K::NetworkMode) => service_network_mode(r, child, s, place),
        Some(K::Health) => service_health(r, child, s, place),
        Some(K::DependsOn) => decode_depends_on(r, child, s),
        Some(K::Restart) => service_restart(r, child, s, place),
        Some(K::Scale) => {
            let v = r.open(child, &one("a count", "scale 3"));
            if let Some(e) = v.arg(0) {
                let n = r
                    .integer(e, "`scale`", 0, 1000)
                    .map(|n| n.map(|v| v as u32));
                r.set_once(&mut s.scale, n, "scale", place);
            }
        }
        Some(K::ContainerName) => service_container_name(r, child, s, place),
        Some(K::User) => {
            let v = r.open(child, &one("a user", "user \"1000:1000\""));
            if let Some(e) = v.arg(0) {
                let u = r.text(e, "`user`");
                r.set_once(&mut s.user, u, "user", place);
            }
        }
        Some(K::WorkingDir) => {
            let v = r.open(child, &one("a directory", "working-dir \"/app\""));
            if let Some(e) = v.arg(0) {
                let d = r.container_path(e, "`working-dir`");
                r.set_once(&mut s.working_dir, d, "working-dir", place);
            }
        }
        Some(K::Labels) => {
            let kv = r.map(child, &format!("the labels of {place}"));
            s.labels.extend(kv);
        }
        Some(K::PreStart) => s.pre_start.extend(crate::hook::decode(r, child, place)),
        Some(K::PostStart) => s.post_start.extend(crate::hook::decode(r, child, place)),
        Some(K::PreStop) => s.pre_stop.extend(crate::hook::decode(r, child, place)),
        Some(K::Update) => {
            let u = crate::update::decode(r, child, place);
            set_block(r, &mut s.update, u, "update", place);
        }
        Some(K::Rollback) => {
            let u = crate::update::decode(r, child, place);
            set_block(r, &mut s.rollback, u, "rollback", place);
        }
        Some(K::Init) => bool_node(r, child, &mut s.init, place),
        Some(K::Tty) => bool_node(r, child, &mut s.tty, place),
        Some(K::StdinOpen) => bool_node(r, child, &mut s.stdin_open, place),
        Some(K::ReadOnly) => bool_node(r, child, &mut s.read_only, place),
        Some(K::Privileged) => bool_node(r, child, &mut s.privileged, place),
        Some(K::NoNewPrivileges) => bool_node(r, child, &mut s.no_new_privileges, place),
        Some(K::StopSignal) => service_stop_signal(r, child, s, place),
        Some(K::StopGracePeriod) => {
            let v = r.open(child, &one("a duration", "stop-grace-period \"10s\""));
            if let Some(e) = v.arg(0) {
                let d = r.duration(e, "`stop-grace-period`");
                r.set_once(&mut s.stop_grace_period, d, "stop-grace-period", place);
            }
        }
        Some(K::Limits) | Some(K::Reservations) => {
            service_limits_or_reservations(r, child, s, place)
        }
        Some(K::ShmSize) => {
            let v = r.open(child, &one("a size", "shm-size \"64m\""));
            if let Some(e) = v.arg(0) {
                let sz = r.size(e, "`shm-size`");
                r.set_once(&mut s.shm_size, sz, "shm-size", place);
            }
        }
        Some(K::Device) => strings_node(r, child, &mut s.devices),
        Some(K::CapAdd) => strings_node(r, child, &mut s.cap_add),
        Some(K::CapDrop) => strings_node(r, child, &mut s.cap_drop),
        Some(K::SecurityOpt) => strings_node(r, child, &mut s.security_opt),
        Some(K::Ulimit) => service_ulimit(r, child, s),
        Some(K::Sysctls) => {
            let kv = r.map(child, &format!("the sysctls of {place}"));
            s.sysctls.extend(kv);
        }
        Some(K::Logging) => service_logging(r, child, s, place),
        Some(K::ExtraHosts) => service_extra_hosts(r, child, s, place),
        Some(K::Hostname) => string_node(r, child, &mut s.hostname, place),
        Some(K::PullPolicy) => service_pull_policy(r, child, s, place),
        Some(K::Secret) | Some(K::Config) => service_secret_or_config(r, child, s, place),
        Some(K::Watch) => decode_watch(r, child, s, place),
        Some(K::Acknowledge) => service_acknowledge(r, child, s),
        Some(K::Placement) => decode_placement(r, child, s, place),
        Some(K::EndpointMode) => service_endpoint_mode(r, child, s, place),
        Some(k) => crate::options::decode(r, child, k, &mut s.options, place),
        None => r.unknown_node(child, place, K::NAMES),
    }
}

/// `image` in a service.
fn service_image(r: &mut Reader<'_>, child: &KdlNode, s: &mut Service, place: &str) {
    let v = r.open(child, &one("an image reference", "image \"NAME:TAG\""));
    if let Some(e) = v.arg(0) {
        let img = r.nonempty(e, "`image`");
        if let Some(img) = &img
            && let Some(reason) = image_problem(&img.value)
        {
            let help = img.value.ends_with(':').then(|| {
                "an empty tag often comes from an unset variable: give it a default, `${TAG:-latest}`".to_string()
            });
            r.push(
                Diagnostic::error(Problem::InvalidValue {
                    field: "`image`".into(),
                    value: img.value.clone(),
                    reason: reason.into(),
                })
                .with_label(img.span, "invalid reference")
                .with_help_opt(help),
            );
        }
        r.set_once(&mut s.image, img, "image", place);
    }
}

/// `command` / `entrypoint` in a service.
fn service_command_or_entrypoint(
    r: &mut Reader<'_>,
    child: &KdlNode,
    s: &mut Service,
    place: &str,
) {
    let name = child.name().value();
    let v = r.open(
        child,
        &many(
            "the program and its arguments",
            "command \"PROGRAM\" \"ARG\" ...",
        ),
    );
    let argv = r.argv(&v, &format!("`{name}`"));
    let slot = if name == "command" {
        &mut s.command
    } else {
        &mut s.entrypoint
    };
    r.set_once(slot, argv, name, place);
}

/// `env-file` in a service.
fn service_env_file(r: &mut Reader<'_>, child: &KdlNode, s: &mut Service) {
    let files = file_list(r, child, "env-file \"PATH\" required=#false");
    s.env_files.extend(files);
}

/// `NAME "PATH" ... required=#false`: files of `KEY=VALUE` lines (`env-file`, `label-file`).
pub(crate) fn file_list(r: &mut Reader<'_>, child: &KdlNode, usage: &'static str) -> Vec<EnvFile> {
    let v = r.open(
        child,
        &Shape {
            props: &["required"],
            ..many("a path", usage)
        },
    );
    let required = v
        .prop("required")
        .and_then(|e| r.bool(e, "`required`"))
        .is_none_or(|b| b.value);
    let what = format!("`{}`", child.name().value());
    v.args
        .iter()
        .filter_map(|e| r.path(e, &what))
        .map(|path| EnvFile { path, required })
        .collect()
}

/// `expose` in a service.
fn service_expose(r: &mut Reader<'_>, child: &KdlNode, s: &mut Service) {
    let v = r.open(child, &many("a port", "expose 8000 \"9000-9010/udp\""));
    for e in &v.args {
        let span = r.value_span(e);
        let text = match e.value() {
            KdlValue::Integer(i) => i.to_string(),
            KdlValue::String(t) => t.clone(),
            other => {
                r.push(
                    Diagnostic::error(Problem::WrongType {
                        what: "`expose`".into(),
                        expected: "a port".into(),
                        found: describe(other),
                    })
                    .with_label(span, "expected a port"),
                );
                continue;
            }
        };
        let (range, proto) = match text.rsplit_once('/') {
            Some((p, proto)) => (p.to_string(), Protocol::parse(proto)),
            None => (text.clone(), Ok(Protocol::Tcp)),
        };
        match proto.and_then(|p| parse_port_range(&range).map(|r| (r, p))) {
            Ok(v) => s.expose.push(Spanned::new(v, span)),
            Err(error) => r.push(
                Diagnostic::error(Problem::InvalidPort { value: text, error })
                    .with_label(span, "invalid port")
                    .with_help("write a container port or range: `8000`, `9000-9010/udp`"),
            ),
        }
    }
}

/// `networks` in a service.
fn service_networks(r: &mut Reader<'_>, child: &KdlNode, s: &mut Service) {
    let v = r.open(
        child,
        &many("one or more network names", "networks \"NAME\" \"NAME\""),
    );
    for e in &v.args {
        if let Some(n) = r.nonempty(e, "`networks`") {
            s.networks.push(ServiceNetwork::named(n));
        }
    }
}

/// `network` in a service.
fn service_network(r: &mut Reader<'_>, child: &KdlNode, s: &mut Service, place: &str) {
    let v = r.open(
        child,
        &Shape {
            children: true,
            ..one("a network name", "network \"NAME\" { aliases \"ALIAS\" }")
        },
    );
    let Some(n) = v.arg(0).and_then(|e| r.nonempty(e, "`network`")) else {
        return;
    };
    let mut net = ServiceNetwork::named(n);
    let nplace = format!("network `{}` of {place}", net.name.value);
    for c in v.children() {
        match c.name().value() {
            "aliases" => strings_node(r, c, &mut net.aliases),
            "ipv4-address" | "ipv6-address" => {
                let v6 = c.name().value() == "ipv6-address";
                let mut slot = None;
                string_node(r, c, &mut slot, &nplace);
                if let Some(ip) = &slot {
                    let ok = if v6 {
                        ip.value.parse::<std::net::Ipv6Addr>().is_ok()
                    } else {
                        ip.value.parse::<std::net::Ipv4Addr>().is_ok()
                    };
                    if !ok {
                        r.push(
                            Diagnostic::error(Problem::InvalidValue {
                                field: format!("`{}`", c.name().value()),
                                value: ip.value.clone(),
                                reason: format!("not an IPv{} address", if v6 { 6 } else { 4 }),
                            })
                            .with_label(ip.span, "not an address"),
                        );
                        slot = None;
                    }
                }
                let target = if v6 {
                    &mut net.ipv6_address
                } else {
                    &mut net.ipv4_address
                };
                r.set_once(target, slot, c.name().value(), &nplace);
            }
            "link-local-ips" => strings_node(r, c, &mut net.link_local_ips),
            "driver-opts" => net
                .driver_opts
                .extend(r.map(c, &format!("the driver options of {nplace}"))),
            "mac-address" => string_node(r, c, &mut net.mac_address, &nplace),
            "gw-priority" => {
                let v = r.open(c, &one("a priority", "gw-priority 1"));
                if let Some(e) = v.arg(0) {
                    let n = r
                        .integer(
                            e,
                            "`gw-priority`",
                            i128::from(i32::MIN),
                            i128::from(i32::MAX),
                        )
                        .map(|n| n.map(|v| v as i64));
                    r.set_once(&mut net.gw_priority, n, "gw-priority", &nplace);
                }
            }
            _ => r.unknown_node(c, &nplace, SERVICE_NETWORK_NODES),
        }
    }
    s.networks.push(net);
}

/// `network-mode` in a service.
fn service_network_mode(r: &mut Reader<'_>, child: &KdlNode, s: &mut Service, place: &str) {
    let v = r.open(child, &one("a mode", "network-mode \"host\""));
    if let Some(m) = v.arg(0).and_then(|e| r.nonempty(e, "`network-mode`")) {
        let mode = match m.value.as_str() {
            "bridge" => Some(NetworkMode::Bridge),
            "host" => Some(NetworkMode::Host),
            "none" => Some(NetworkMode::None),
            other => {
                if let Some(svc) = other.strip_prefix("service:") {
                    Some(NetworkMode::Service(svc.into()))
                } else if let Some(c) = other.strip_prefix("container:") {
                    Some(NetworkMode::Container(c.into()))
                } else {
                    r.push(
                        Diagnostic::error(Problem::InvalidValue {
                            field: "`network-mode`".into(),
                            value: other.into(),
                            reason: "unknown mode".into(),
                        })
                        .with_label(m.span, "unknown mode")
                        .with_help(
                            "one of `bridge`, `host`, `none`, `service:NAME`, `container:NAME`",
                        ),
                    );
                    None
                }
            }
        };
        let mode = mode.map(|mode| Spanned::new(mode, m.span));
        r.set_once(&mut s.network_mode, mode, "network-mode", place);
    }
}

/// `health` in a service.
fn service_health(r: &mut Reader<'_>, child: &KdlNode, s: &mut Service, place: &str) {
    let h = decode_health(r, child, place);
    if let Some(first) = &s.health {
        r.push(
            Diagnostic::error(Problem::SetTwice {
                field: "`health`".into(),
                place: place.into(),
            })
            .with_label(h.span, "set again here")
            .with_label(first.span, "first set here")
            .with_help("put the whole health check in one `health` block"),
        );
    } else {
        s.health = Some(Box::new(h));
    }
}

/// `restart` in a service.
fn service_restart(r: &mut Reader<'_>, child: &KdlNode, s: &mut Service, place: &str) {
    let v = r.open(
        child,
        &Shape {
            props: &["max-retries"],
            ..one("a policy", "restart \"unless-stopped\"")
        },
    );
    let Some(p) = v.arg(0).and_then(|e| r.nonempty(e, "`restart`")) else {
        return;
    };
    let max = v
        .prop("max-retries")
        .and_then(|e| r.u32(e, "`max-retries`"));
    let policy = match p.value.as_str() {
        "no" => Some(RestartPolicy::No),
        "always" => Some(RestartPolicy::Always),
        "unless-stopped" => Some(RestartPolicy::UnlessStopped),
        "on-failure" => Some(RestartPolicy::OnFailure {
            max_retries: max.as_ref().map(|m| m.value),
        }),
        other => {
            let help = if let Some(n) = other.strip_prefix("on-failure:") {
                format!("write `restart \"on-failure\" max-retries={n}`")
            } else {
                "one of `no`, `always`, `unless-stopped`, `on-failure`".into()
            };
            r.push(
                Diagnostic::error(Problem::InvalidValue {
                    field: "`restart`".into(),
                    value: other.into(),
                    reason: "unknown restart policy".into(),
                })
                .with_label(p.span, "unknown policy")
                .with_help(help),
            );
            None
        }
    };
    if let (Some(m), Some(pol)) = (&max, &policy)
        && !matches!(pol, RestartPolicy::OnFailure { .. })
    {
        r.push(
            Diagnostic::error(Problem::Other {
                message: "`max-retries` only applies to `restart \"on-failure\"`".into(),
            })
            .with_label(m.span, "not used by this policy"),
        );
    }
    let policy = policy.map(|pol| Spanned::new(pol, p.span));
    r.set_once(&mut s.restart, policy, "restart", place);
}

/// `container-name` in a service.
fn service_container_name(r: &mut Reader<'_>, child: &KdlNode, s: &mut Service, place: &str) {
    let mut slot = s.container_name.take();
    string_node(r, child, &mut slot, place);
    if let Some(n) = &slot {
        let ok = n
            .value
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
            && n.value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if !ok {
            r.push(
                Diagnostic::error(Problem::InvalidName {
                    what: "container name".into(),
                    name: n.value.clone(),
                    reason: "Docker accepts letters, digits, `_`, `.` and `-`, starting with a letter or digit".into(),
                })
                .with_label(n.span, "invalid name"),
            );
        }
    }
    s.container_name = slot;
}

/// `stop-signal` in a service.
fn service_stop_signal(r: &mut Reader<'_>, child: &KdlNode, s: &mut Service, place: &str) {
    let mut slot = s.stop_signal.take();
    string_node(r, child, &mut slot, place);
    if let Some(sig) = &slot
        && !is_signal(&sig.value)
    {
        r.push(
            Diagnostic::error(Problem::InvalidValue {
                field: "`stop-signal`".into(),
                value: sig.value.clone(),
                reason: "not a signal".into(),
            })
            .with_label(sig.span, "unknown signal")
            .with_help("write a signal name such as `SIGTERM`, `SIGINT`, `SIGQUIT`, or its number"),
        );
    }
    s.stop_signal = slot;
}

/// `limits` / `reservations` in a service.
fn service_limits_or_reservations(
    r: &mut Reader<'_>,
    child: &KdlNode,
    s: &mut Service,
    place: &str,
) {
    let name = child.name().value();
    let v = r.open(
        child,
        &Shape {
            min: 0,
            max: Some(0),
            what: "",
            props: &["cpus", "memory", "pids"],
            children: false,
            usage: "limits cpus=2 memory=\"512m\" pids=100",
        },
    );
    if v.props.is_empty() {
        r.push(
            Diagnostic::error(Problem::MissingArgument {
                node: name.into(),
                what: "`cpus`, `memory` or `pids`".into(),
            })
            .with_label(r.name_span(child), "sets nothing")
            .with_help(format!(
                "write it as `{name} cpus=2 memory=\"512m\" pids=100`"
            )),
        );
    }
    let cpus = v
        .prop("cpus")
        .and_then(|e| r.cpus(e, &format!("`{name} cpus`")));
    let memory = v
        .prop("memory")
        .and_then(|e| r.size(e, &format!("`{name} memory`")));
    let pids = v
        .prop("pids")
        .and_then(|e| r.integer(e, &format!("`{name} pids`"), -1, i128::from(i64::MAX)))
        .map(|p| p.map(|v| v as i64));
    if name == "reservations"
        && let Some(e) = v.prop("pids")
    {
        r.push(
            Diagnostic::error(Problem::Other {
                message: "Docker cannot reserve pids: `pids` is a limit only".into(),
            })
            .with_label(r.entry_span(e), "not a reservation")
            .with_help("move it to `limits pids=N`"),
        );
    }
    let res = if name == "limits" {
        &mut s.limits
    } else {
        &mut s.reservations
    };
    r.set_once(&mut res.cpus, cpus, &format!("{name} cpus"), place);
    r.set_once(&mut res.memory, memory, &format!("{name} memory"), place);
    r.set_once(&mut res.pids, pids, &format!("{name} pids"), place);
}

/// `ulimit` in a service.
fn service_ulimit(r: &mut Reader<'_>, child: &KdlNode, s: &mut Service) {
    let v = r.open(
        child,
        &Shape {
            min: 1,
            max: Some(2),
            what: "a limit name",
            props: &["soft", "hard"],
            children: false,
            usage: "ulimit \"nofile\" soft=1024 hard=2048",
        },
    );
    let Some(n) = v.arg(0).and_then(|e| r.nonempty(e, "`ulimit`")) else {
        return;
    };
    let what = format!("ulimit `{}`", n.value);
    let both = v
        .arg(1)
        .and_then(|e| r.integer(e, &what, -1, i128::from(i64::MAX)));
    let soft = v
        .prop("soft")
        .and_then(|e| r.integer(e, &what, -1, i128::from(i64::MAX)));
    let hard = v
        .prop("hard")
        .and_then(|e| r.integer(e, &what, -1, i128::from(i64::MAX)));
    let (soft, hard) = match (both, soft, hard) {
        (Some(b), None, None) => (b.value, b.value),
        (None, Some(s), Some(h)) => (s.value, h.value),
        (None, Some(s), None) => (s.value, s.value),
        (None, None, Some(h)) => (h.value, h.value),
        _ => {
            r.push(
                Diagnostic::error(Problem::Other {
                    message: format!("{what} needs one value, or `soft` and `hard`"),
                })
                .with_label(r.name_span(child), "unclear limit")
                .with_help(
                    "write `ulimit \"nofile\" 65536` or `ulimit \"nofile\" soft=1024 hard=2048`",
                ),
            );
            return;
        }
    };
    if soft > hard && hard >= 0 {
        r.push(
            Diagnostic::error(Problem::InvalidValue {
                field: what.clone(),
                value: format!("soft={soft} hard={hard}"),
                reason: "the soft limit is above the hard limit".into(),
            })
            .with_label(r.name_span(child), "soft above hard"),
        );
    }
    s.ulimits.push(Ulimit {
        name: n,
        soft: soft as i64,
        hard: hard as i64,
    });
}

/// `logging` in a service.
fn service_logging(r: &mut Reader<'_>, child: &KdlNode, s: &mut Service, place: &str) {
    let v = r.open(
        child,
        &Shape {
            children: true,
            ..one(
                "a logging driver",
                "logging \"json-file\" { max-size \"10m\" }",
            )
        },
    );
    let Some(driver) = v.arg(0).and_then(|e| r.nonempty(e, "`logging`")) else {
        return;
    };
    let mut options = Vec::new();
    for c in v.children() {
        let cv = r.open(c, &one("a value", "OPTION \"VALUE\""));
        if let Some(val) = cv.arg(0).and_then(|e| r.text(e, "a logging option")) {
            options.push(KeyValue {
                key: Spanned::new(c.name().value().into(), r.name_span(c)),
                value: val,
            });
        }
    }
    r.check_unique_keys(&options, "the logging options");
    if let Some(first) = &s.logging {
        r.push(
            Diagnostic::error(Problem::SetTwice {
                field: "`logging`".into(),
                place: place.into(),
            })
            .with_label(driver.span, "set again here")
            .with_label(first.driver.span, "first set here"),
        );
        return;
    }
    s.logging = Some(Logging { driver, options });
}

/// `extra-hosts` in a service.
fn service_extra_hosts(r: &mut Reader<'_>, child: &KdlNode, s: &mut Service, place: &str) {
    // compose's `HOST:IP` form is accepted beside `HOST=IP` and the block form.
    let mut kv = Vec::new();
    let mut rest = child.clone();
    rest.entries_mut().retain(|e| {
        let colon_form = e.name().is_none()
            && matches!(e.value(), KdlValue::String(t) if !t.contains('=') && t.contains(':'));
        !colon_form
    });
    for e in child.entries() {
        if let (None, KdlValue::String(t)) = (e.name(), e.value())
            && !t.contains('=')
            && let Some((host, ip)) = t.split_once(':')
        {
            let span = r.value_span(e);
            kv.push(KeyValue {
                key: Spanned::new(host.into(), span),
                value: Spanned::new(ip.into(), span),
            });
        }
    }
    kv.extend(r.map(&rest, &format!("the extra hosts of {place}")));
    r.check_unique_keys(&kv, &format!("the extra hosts of {place}"));
    s.extra_hosts.extend(kv);
}

/// `pull-policy` in a service.
/// `endpoint-mode "dnsrr"` in a service.
fn service_endpoint_mode(r: &mut Reader<'_>, child: &KdlNode, s: &mut Service, place: &str) {
    let v = r.open(child, &one("a mode", "endpoint-mode \"dnsrr\""));
    let Some(m) = v.arg(0).and_then(|e| r.nonempty(e, "`endpoint-mode`")) else {
        return;
    };
    let mode = match m.value.as_str() {
        "vip" => EndpointMode::Vip,
        "dnsrr" => EndpointMode::Dnsrr,
        other => {
            r.push(
                Diagnostic::error(Problem::InvalidValue {
                    field: "`endpoint-mode`".into(),
                    value: other.into(),
                    reason: "a service is reached through one virtual IP (`vip`) or by DNS round-robin over its tasks (`dnsrr`)".into(),
                })
                .with_label(m.span, "unknown mode")
                .with_help("write `endpoint-mode \"vip\"` or `endpoint-mode \"dnsrr\"`"),
            );
            return;
        }
    };
    r.set_once(
        &mut s.endpoint_mode,
        Some(Spanned::new(mode, m.span)),
        "endpoint-mode",
        place,
    );
}

fn service_pull_policy(r: &mut Reader<'_>, child: &KdlNode, s: &mut Service, place: &str) {
    let v = r.open(child, &one("a policy", "pull-policy \"missing\""));
    if let Some(p) = v.arg(0).and_then(|e| r.nonempty(e, "`pull-policy`")) {
        let policy = match p.value.as_str() {
            "always" => Some(PullPolicy::Always),
            "missing" => Some(PullPolicy::Missing),
            "never" => Some(PullPolicy::Never),
            "build" => Some(PullPolicy::Build),
            other => {
                let help = match other {
                    "if_not_present" | "if-not-present" => {
                        "compose's `if_not_present` is `missing`".into()
                    }
                    _ => "one of `always`, `missing`, `never`, `build`".to_string(),
                };
                r.push(
                    Diagnostic::error(Problem::InvalidValue {
                        field: "`pull-policy`".into(),
                        value: other.into(),
                        reason: "unknown pull policy".into(),
                    })
                    .with_label(p.span, "unknown policy")
                    .with_help(help),
                );
                None
            }
        };
        let policy = policy.map(|pol| Spanned::new(pol, p.span));
        r.set_once(&mut s.pull_policy, policy, "pull-policy", place);
    }
}

/// `secret` / `config` in a service.
fn service_secret_or_config(r: &mut Reader<'_>, child: &KdlNode, s: &mut Service, place: &str) {
    let name = child.name().value();
    let v = r.open(
        child,
        &Shape {
            props: &["target", "uid", "gid", "mode"],
            ..one(
                "a name",
                "secret \"NAME\" target=\"PATH\" uid=1000 gid=1000 mode=0o400",
            )
        },
    );
    let Some(n) = v.arg(0).and_then(|e| r.nonempty(e, &format!("`{name}`"))) else {
        return;
    };
    let fref = FileRef {
        target: v.prop("target").and_then(|e| r.nonempty(e, "`target`")),
        uid: v.prop("uid").and_then(|e| r.u32(e, "`uid`")),
        gid: v.prop("gid").and_then(|e| r.u32(e, "`gid`")),
        mode: v.prop("mode").and_then(|e| r.mode(e, "`mode`")),
        name: n,
    };
    let list = if name == "secret" {
        &mut s.secrets
    } else {
        &mut s.configs
    };
    if let Some(first) = list.iter().find(|f| f.name.value == fref.name.value) {
        r.push(
            Diagnostic::error(Problem::SetTwice {
                field: format!("{name} `{}`", fref.name.value),
                place: place.into(),
            })
            .with_label(fref.name.span, "set again here")
            .with_label(first.name.span, "first set here"),
        );
        return;
    }
    list.push(fref);
}

/// `acknowledge` in a service.
fn service_acknowledge(r: &mut Reader<'_>, child: &KdlNode, s: &mut Service) {
    let v = r.open(
        child,
        &many(
            "one or more warnings",
            "acknowledge \"root\" \"no-memory-limit\" \"writable-root\"",
        ),
    );
    for e in &v.args {
        let Some(w) = r.nonempty(e, "`acknowledge`") else {
            continue;
        };
        if !HARDENING_WARNINGS.contains(&w.value.as_str()) {
            r.push(
                Diagnostic::error(Problem::InvalidValue {
                    field: "`acknowledge`".into(),
                    value: w.value.clone(),
                    reason: "not a warning stackr gives".into(),
                })
                .with_label(w.span, "unknown warning")
                .with_help_opt(crate::suggest::help_for(
                    &w.value,
                    HARDENING_WARNINGS,
                    "one of",
                )),
            );
            continue;
        }
        if !s.acknowledge.iter().any(|a| a.value == w.value) {
            s.acknowledge.push(w);
        }
    }
}

/// Why an image reference cannot be right, if it cannot.
pub(crate) fn image_problem(image: &str) -> Option<&'static str> {
    if image.chars().any(char::is_whitespace) {
        return Some("an image reference has no spaces");
    }
    if image.ends_with(':') {
        return Some("the tag after `:` is empty");
    }
    if image.ends_with('@')
        || image.contains("@sha256:") && image.rsplit("@sha256:").next().is_some_and(str::is_empty)
    {
        return Some("the digest after `@` is empty");
    }
    if image.starts_with(':') || image.starts_with('/') {
        return Some("the repository name is missing");
    }
    if image.contains('$') {
        // Not interpolated (interpolation is off): taken as written.
        return None;
    }
    reference_problem(image)
}

/// What the engine's reference grammar (`distribution/reference`) refuses: a repository path
/// in capitals or with other characters, a tag or digest of the wrong form, a name too long.
fn reference_problem(image: &str) -> Option<&'static str> {
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (image, None),
    };
    if let Some(d) = digest {
        let ok = d.split_once(':').is_some_and(|(algo, hex)| {
            algo.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && algo
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+' | '.'))
                && hex.len() >= 32
                && hex.chars().all(|c| c.is_ascii_hexdigit())
        });
        if !ok {
            return Some("a digest is `ALGORITHM:HEX`, e.g. `sha256:` and 64 hex digits");
        }
    }
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[slash..].rfind(':') {
        Some(i) => (&rest[..slash + i], Some(&rest[slash + i + 1..])),
        None => (rest, None),
    };
    if let Some(tag) = tag {
        let ok = tag.len() <= 128
            && tag
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            && tag
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if !ok {
            return Some(
                "a tag holds at most 128 letters, digits, `_`, `.` and `-`, and does not start with `.` or `-`",
            );
        }
    }
    if name.len() > 255 {
        return Some("the repository name is longer than 255 characters");
    }
    let mut parts = name.split('/').peekable();
    // A first part with `.` or `:`, `localhost`, or capitals is a registry host.
    if let Some(first) = parts.peek().copied()
        && name.contains('/')
        && (first.contains(['.', ':']) || first == "localhost" || first != first.to_lowercase())
    {
        parts.next();
    }
    for part in parts {
        if part.chars().any(|c| c.is_ascii_uppercase()) {
            return Some("the repository name must be lowercase");
        }
        let ok = !part.is_empty()
            && part.starts_with(|c: char| c.is_ascii_alphanumeric())
            && part.ends_with(|c: char| c.is_ascii_alphanumeric())
            && part.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
            })
            && !part.contains("..")
            && !part.contains("___")
            && !part.contains("._")
            && !part.contains("_.")
            && !part.contains("-.")
            && !part.contains(".-")
            && !part.contains("-_")
            && !part.contains("_-");
        if !ok {
            return Some(
                "each part of a repository name is lowercase letters and digits, separated by `.`, `_`, `__` or dashes",
            );
        }
    }
    None
}

fn is_signal(s: &str) -> bool {
    const NAMES: &[&str] = &[
        "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
        "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
        "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "POLL", "PWR", "SYS",
    ];
    if let Ok(n) = s.parse::<u32>() {
        return (1..=64).contains(&n);
    }
    let upper = s.to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    NAMES.contains(&bare) || bare.starts_with("RTMIN") || bare.starts_with("RTMAX")
}

/// Whether a build context is one the engine fetches: a git repository or a URL.
/// Whether a build's additional context is one BuildKit takes by name (an image or an
/// address), as opposed to a folder; `service:NAME` is stackr's, and resolved before.
pub fn is_named_context_source(s: &str) -> bool {
    ["docker-image://", "https://", "http://", "git@", "git://"]
        .iter()
        .any(|p| s.starts_with(p))
}

pub fn is_remote_context(s: &str) -> bool {
    ["https://", "http://", "git://", "git@", "github.com/"]
        .iter()
        .any(|p| s.starts_with(p))
}

fn decode_build(r: &mut Reader<'_>, child: &KdlNode, s: &mut Service, place: &str) {
    let v = r.open(
        child,
        &Shape {
            min: 0,
            max: Some(1),
            what: "a build context",
            props: &["dockerfile", "target", "network", "platform", "shm-size"],
            children: true,
            usage: "build \"./CONTEXT\" dockerfile=\"Dockerfile\" target=\"STAGE\"",
        },
    );
    let remote = v
        .arg(0)
        .and_then(|e| e.value().as_string())
        .is_some_and(is_remote_context);
    let mut b = Build {
        span: r.name_span(child),
        dir: r.dir.clone(),
        context: v
            .arg(0)
            .filter(|_| !remote)
            .and_then(|e| r.path(e, "the build context")),
        remote: v
            .arg(0)
            .filter(|_| remote)
            .and_then(|e| r.nonempty(e, "the build context")),
        dockerfile: v
            .prop("dockerfile")
            .and_then(|e| r.nonempty(e, "`dockerfile`")),
        target: v.prop("target").and_then(|e| r.nonempty(e, "`target`")),
        network: v
            .prop("network")
            .and_then(|e| r.nonempty(e, "the build's `network`")),
        platform: v
            .prop("platform")
            .and_then(|e| r.nonempty(e, "the build's `platform`")),
        shm_size: v
            .prop("shm-size")
            .and_then(|e| r.size(e, "the build's `shm-size`")),
        ..Build::default()
    };
    let bplace = format!("the build of {place}");
    for c in v.children() {
        match c.name().value() {
            "arg" => {
                let cv = r.open(
                    c,
                    &Shape {
                        min: 2,
                        max: Some(2),
                        what: "a name and a value",
                        props: &[],
                        children: false,
                        usage: "arg \"NAME\" \"VALUE\"",
                    },
                );
                if let (Some(k), Some(val)) = (
                    cv.arg(0).and_then(|e| r.nonempty(e, "a build arg name")),
                    cv.arg(1).and_then(|e| r.text(e, "a build arg value")),
                ) {
                    b.args.push(KeyValue { key: k, value: val });
                }
            }
            "args" => b.args.extend(r.map(c, &bplace)),
            "tags" => strings_node(r, c, &mut b.tags),
            "cache-from" => strings_node(r, c, &mut b.cache_from),
            "ssh" => strings_node(r, c, &mut b.ssh),
            "additional-contexts" => b
                .additional_contexts
                .extend(r.map(c, &format!("the additional contexts of {place}"))),
            "secret" => {
                let cv = r.open(
                    c,
                    &Shape {
                        min: 1,
                        max: Some(1),
                        what: "a secret's name",
                        props: &["id"],
                        children: false,
                        usage: "secret \"NAME\" id=\"ID\"",
                    },
                );
                if let Some(name) = cv
                    .arg(0)
                    .and_then(|e| r.nonempty(e, "a build secret's name"))
                {
                    b.secrets.push(crate::model::BuildSecret {
                        span: r.name_span(c),
                        name,
                        id: cv
                            .prop("id")
                            .and_then(|e| r.nonempty(e, "a build secret's `id`")),
                    });
                }
            }
            "labels" => b
                .labels
                .extend(r.map(c, &format!("the image labels of {place}"))),
            "pre-build" => {
                let cv = r.open(c, &many("a command", "pre-build \"PROGRAM\" \"ARG\" ..."));
                if let Some(argv) = r.argv(&cv, "`pre-build`") {
                    b.pre_build.push(argv);
                }
            }
            "dockerfile-inline" => {
                let cv = r.open(
                    c,
                    &Shape {
                        min: 1,
                        max: Some(1),
                        what: "the Dockerfile's text",
                        props: &[],
                        children: false,
                        usage: "dockerfile-inline \"\"\"\nFROM scratch\n\"\"\"",
                    },
                );
                let text = cv.arg(0).and_then(|e| r.nonempty(e, "`dockerfile-inline`"));
                if let (Some(t), Some(first)) = (&text, &b.dockerfile_inline) {
                    r.push(
                        Diagnostic::error(Problem::SetTwice {
                            field: "`dockerfile-inline`".into(),
                            place: bplace.clone(),
                        })
                        .with_label(t.span, "set again here")
                        .with_label(first.span, "first set here"),
                    );
                } else if text.is_some() {
                    b.dockerfile_inline = text;
                }
            }
            _ => r.unknown_node(c, &bplace, BUILD_NODES),
        }
    }
    r.check_unique_keys(&b.args, &format!("the build args of {place}"));
    if let Some(first) = &s.build {
        r.push(
            Diagnostic::error(Problem::SetTwice {
                field: "`build`".into(),
                place: place.into(),
            })
            .with_label(b.span, "set again here")
            .with_label(first.span, "first set here")
            .with_help("put the whole build in one `build` node"),
        );
        return;
    }
    s.build = Some(Box::new(b));
}

fn decode_env(r: &mut Reader<'_>, child: &KdlNode, s: &mut Service) {
    let v = r.open_annotated(
        child,
        &Shape {
            min: 0,
            max: None,
            what: "variables",
            props: &["*"],
            children: true,
            usage: "env NAME=\"value\"",
        },
    );
    let _ = v;
    let mut vars: Vec<EnvVar> = Vec::new();
    let entries: Vec<(Spanned<String>, &kdl::KdlEntry)> = child
        .entries()
        .iter()
        .filter_map(|e| {
            e.name()
                .map(|k| (Spanned::new(k.value().to_string(), r.span(k.span())), e))
        })
        .collect();
    for e in child.entries().iter().filter(|e| e.name().is_none()) {
        // `env "NAME=value"`, as compose's list form.
        let Some(t) = r.string(e, "an `env` entry") else {
            continue;
        };
        match t.value.split_once('=') {
            Some((k, val)) if !k.is_empty() => vars.push(EnvVar {
                name: Spanned::new(k.into(), t.span),
                value: Spanned::new(EnvValue::Text(val.into()), t.span),
            }),
            // `env "NAME"`: passed through from the environment, as compose's `- NAME`.
            None if is_env_name(&t.value) => {
                vars.extend(passed_through(r, Spanned::new(t.value.clone(), t.span)));
            }
            _ => r.push(
                Diagnostic::error(Problem::InvalidValue {
                    field: "`env`".into(),
                    value: t.value.clone(),
                    reason: "expected `NAME=value`".into(),
                })
                .with_label(t.span, "no `=`")
                .with_help("write `env NAME=\"value\"` or `env { NAME \"value\" }`"),
            ),
        }
    }
    for (key, e) in entries {
        if let Some(val) = env_value(r, e) {
            vars.push(EnvVar {
                name: key,
                value: val,
            });
        }
    }
    for c in child.children().map_or(&[][..], |d| d.nodes()) {
        // `NAME` alone: passed through from the environment (left out when unset).
        if c.entries().is_empty() && c.children().is_none() {
            let name = Spanned::new(c.name().value().to_string(), r.name_span(c));
            vars.extend(passed_through(r, name));
            continue;
        }
        let cv = r.open_annotated(c, &one("a value", "NAME \"value\""));
        if let Some(e) = cv.arg(0)
            && let Some(val) = env_value(r, e)
        {
            vars.push(EnvVar {
                name: Spanned::new(c.name().value().into(), r.name_span(c)),
                value: val,
            });
        }
    }
    // A name set twice is reported once the whole service is decoded (`drop_repeats`).
    for var in vars {
        if r.check_key(&var.name, "env variable", true) {
            s.env.push(var);
        }
    }
}

fn is_env_name(s: &str) -> bool {
    !s.is_empty() && !s.contains(char::is_whitespace) && !s.contains('=')
}

/// An env variable passed through by name: its value in the environment stackr runs in (the
/// shell over the env files); none when it is not set there, as in compose.
fn passed_through(r: &Reader<'_>, name: Spanned<String>) -> Option<EnvVar> {
    let value = r.vars.get(&name.value)?.clone();
    let span = name.span;
    Some(EnvVar {
        name,
        value: Spanned::new(EnvValue::Text(value), span),
    })
}

fn env_value(r: &mut Reader<'_>, e: &kdl::KdlEntry) -> Option<Spanned<EnvValue>> {
    let span = r.value_span(e);
    if let Some(ty) = e.ty() {
        if ty.value() != "secret" {
            r.push(
                Diagnostic::error(Problem::UnexpectedAnnotation {
                    node: "env".into(),
                    annotation: ty.value().into(),
                })
                .with_label(r.span(ty.span()), "unknown annotation")
                .with_help("the only annotation on an env value is `(secret)\"NAME\"`: the path where that secret is mounted"),
            );
            return None;
        }
        let name = r.nonempty(e, "a `(secret)` value")?;
        return Some(Spanned::new(EnvValue::SecretPath(name.value), span));
    }
    if e.value().is_null() {
        return Some(Spanned::new(EnvValue::Unset, span));
    }
    r.text(e, "an env value").map(|t| t.map(EnvValue::Text))
}

fn decode_port(r: &mut Reader<'_>, child: &KdlNode, s: &mut Service) {
    let v = r.open(
        child,
        &Shape {
            min: 0,
            max: None,
            what: "a port spec",
            props: &["target", "published", "host-ip", "protocol", "mode"],
            children: false,
            usage: "port \"[IP:]HOST:CONTAINER[/PROTOCOL]\"",
        },
    );
    if v.args.is_empty() && v.props.is_empty() {
        r.push(
            Diagnostic::error(Problem::MissingArgument {
                node: "port".into(),
                what: "a port spec".into(),
            })
            .with_label(r.name_span(child), "needs a port")
            .with_help("write `port \"8080:80\"` or `port target=80 published=8080`"),
        );
        return;
    }
    let host_mode = port_mode(r, &v);
    let long_form = v.props.iter().any(|(k, _)| *k != "mode");
    if !v.args.is_empty() && long_form {
        r.push(
            Diagnostic::error(Problem::Conflict {
                first: "a short port spec".into(),
                second: "long-form properties".into(),
                place: "one `port`".into(),
            })
            .with_label(r.name_span(child), "mixed forms")
            .with_help(
                "write `port \"8080:80\"` or `port target=80 published=8080`, in separate nodes",
            ),
        );
        return;
    }
    for e in &v.args {
        let span = r.value_span(e);
        let text = match e.value() {
            KdlValue::String(t) => t.clone(),
            KdlValue::Integer(i) => i.to_string(),
            other => {
                r.push(
                    Diagnostic::error(Problem::WrongType {
                        what: "`port`".into(),
                        expected: "a port spec string".into(),
                        found: describe(other),
                    })
                    .with_label(span, "expected a port spec"),
                );
                continue;
            }
        };
        match parse_port_spec(&text) {
            Ok(p) => s.ports.push(Spanned::new(PortSpec { host_mode, ..p }, span)),
            Err(error) => r.push(
                Diagnostic::error(Problem::InvalidPort { value: text, error })
                    .with_label(span, "invalid port")
                    .with_help("write `[IP:]HOST:CONTAINER[/PROTOCOL]`, e.g. \"8080:80\", \"127.0.0.1:5432:5432\", \"53:53/udp\""),
            ),
        }
    }
    if !long_form {
        return;
    }
    let Some(target_e) = v.prop("target") else {
        r.push(
            Diagnostic::error(Problem::MissingArgument {
                node: "port".into(),
                what: "`target` (the container port)".into(),
            })
            .with_label(r.name_span(child), "needs target")
            .with_help("write `port target=80 published=8080`"),
        );
        return;
    };
    let range_of = |r: &mut Reader<'_>, e: &kdl::KdlEntry, what: &str| -> Option<PortRange> {
        let span = r.value_span(e);
        let text = match e.value() {
            KdlValue::Integer(i) => i.to_string(),
            KdlValue::String(t) => t.clone(),
            _ => {
                r.push(
                    Diagnostic::error(Problem::WrongType {
                        what: what.into(),
                        expected: "a port or range".into(),
                        found: describe(e.value()),
                    })
                    .with_label(span, "expected a port"),
                );
                return None;
            }
        };
        match parse_port_range(&text) {
            Ok(p) => Some(p),
            Err(error) => {
                r.push(
                    Diagnostic::error(Problem::InvalidPort { value: text, error })
                        .with_label(span, "invalid port"),
                );
                None
            }
        }
    };
    let Some(target) = range_of(r, target_e, "`target`") else {
        return;
    };
    let published = match v.prop("published") {
        Some(e) => match range_of(r, e, "`published`") {
            Some(p) => Some(p),
            None => return,
        },
        None => None,
    };
    let host_ip = match v.prop("host-ip").and_then(|e| r.nonempty(e, "`host-ip`")) {
        Some(ip) => match ip.value.parse() {
            Ok(a) => Some(a),
            Err(_) => {
                r.push(
                    Diagnostic::error(Problem::InvalidPort {
                        value: ip.value.clone(),
                        error: crate::port::PortError::BadIp(ip.value.clone()),
                    })
                    .with_label(ip.span, "not an IP address"),
                );
                return;
            }
        },
        None => None,
    };
    let protocol = match v.prop("protocol").and_then(|e| r.nonempty(e, "`protocol`")) {
        Some(p) => match Protocol::parse(&p.value) {
            Ok(proto) => proto,
            Err(error) => {
                r.push(
                    Diagnostic::error(Problem::InvalidPort {
                        value: p.value.clone(),
                        error,
                    })
                    .with_label(p.span, "unknown protocol"),
                );
                return;
            }
        },
        None => Protocol::Tcp,
    };
    if let Some(p) = published
        && p.len() != target.len()
        && target.len() != 1
    {
        r.push(
            Diagnostic::error(Problem::InvalidPort {
                value: format!("{p}:{target}"),
                error: crate::port::PortError::RangeMismatch {
                    host: p.len(),
                    container: target.len(),
                },
            })
            .with_label(r.name_span(child), "ranges differ"),
        );
        return;
    }
    s.ports.push(Spanned::new(
        PortSpec {
            host_ip,
            published,
            target,
            protocol,
            host_mode,
        },
        r.span(child.span()),
    ));
}

/// A port's `mode`: `"host"` (true) or `"ingress"` (the default).
fn port_mode(r: &mut Reader<'_>, v: &View<'_>) -> bool {
    let Some(m) = v
        .prop("mode")
        .and_then(|e| r.nonempty(e, "the port's `mode`"))
    else {
        return false;
    };
    match m.value.as_str() {
        "host" => true,
        "ingress" => false,
        other => {
            r.push(
                Diagnostic::error(Problem::InvalidValue {
                    field: "the port's `mode`".into(),
                    value: other.into(),
                    reason: "a port is published through the routing mesh (`ingress`) or on the node that runs the task (`host`)".into(),
                })
                .with_label(m.span, "unknown mode")
                .with_help("write `mode=\"host\"` or `mode=\"ingress\"`"),
            );
            false
        }
    }
}

fn decode_mount(r: &mut Reader<'_>, child: &KdlNode, s: &mut Service) {
    let v = r.open(
        child,
        &Shape {
            min: 1,
            max: Some(2),
            what: "a source and a target",
            props: &["read-only", "image", "subpath"],
            children: false,
            usage: "mount \"VOLUME-OR-./PATH\" \"/TARGET\" read-only=#true",
        },
    );
    let image = v
        .prop("image")
        .and_then(|e| r.nonempty(e, "the mount's `image`"));
    let subpath = v.prop("subpath").and_then(|e| r.nonempty(e, "`subpath`"));
    let read_only = v
        .prop("read-only")
        .and_then(|e| r.bool(e, "`read-only`"))
        .is_some_and(|b| b.value);
    let span = r.span(child.span());
    let (source, target) = match (v.args.len(), image) {
        (1, Some(image)) => {
            let Some(t) = r.container_path(v.args[0], "the mount target") else {
                return;
            };
            (image.map(MountSource::Image), t)
        }
        (2, Some(image)) => {
            r.push(
                Diagnostic::error(Problem::Conflict {
                    first: "a source".into(),
                    second: "`image`".into(),
                    place: "a mount".into(),
                })
                .with_label(image.span, "the image is the source")
                .with_help("write `mount \"/TARGET\" image=\"NAME:TAG\"`"),
            );
            return;
        }
        (1, None) => {
            let Some(t) = r.container_path(v.args[0], "the mount target") else {
                return;
            };
            (Spanned::new(MountSource::Anonymous, t.span), t)
        }
        (2, None) => {
            let Some(src) = r.nonempty(v.args[0], "the mount source") else {
                return;
            };
            let Some(t) = r.container_path(v.args[1], "the mount target") else {
                return;
            };
            let is_path = src.value.starts_with('/')
                || src.value.starts_with('.')
                || src.value.starts_with('~');
            let source = if is_path {
                let p = crate::reader::resolve_path(&r.dir, &src.value, r.home.as_deref());
                Spanned::new(MountSource::Bind(p), src.span)
            } else {
                let ok = src
                    .value
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphanumeric())
                    && src
                        .value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
                if !ok {
                    r.push(
                        Diagnostic::error(Problem::InvalidName {
                            what: "volume".into(),
                            name: src.value.clone(),
                            reason:
                                "not a volume name; a host path starts with `/`, `./`, `../` or `~`"
                                    .into(),
                        })
                        .with_label(src.span, "neither a volume nor a path")
                        .with_help(format!("for a host path write \"./{}\"", src.value)),
                    );
                    return;
                }
                Spanned::new(MountSource::Volume(src.value.clone()), src.span)
            };
            (source, t)
        }
        _ => return,
    };
    if let Some(sp) = &subpath
        && !matches!(source.value, MountSource::Volume(_) | MountSource::Image(_))
    {
        r.push(
            Diagnostic::error(Problem::Other {
                message: "`subpath` is for a named volume or an image".into(),
            })
            .with_label(sp.span, "no volume or image here")
            .with_help(
                "a bind mount names the directory itself: `mount \"./dir/sub\" \"/TARGET\"`",
            ),
        );
    }
    if let Some(sp) = &subpath
        && (sp.value.starts_with('/') || sp.value.split('/').any(|c| c == ".."))
    {
        r.push(
            Diagnostic::error(Problem::InvalidValue {
                field: "`subpath`".into(),
                value: sp.value.clone(),
                reason: "a subpath is relative and stays inside the volume (no `/` at the start, no `..`)".into(),
            })
            .with_label(sp.span, "outside the volume"),
        );
    }
    s.mounts.push(Mount {
        span,
        source,
        target,
        read_only,
        subpath,
    });
}

fn decode_tmpfs(r: &mut Reader<'_>, child: &KdlNode, s: &mut Service) {
    let v = r.open(
        child,
        &Shape {
            props: &["size", "mode"],
            ..one("a target", "tmpfs \"/TARGET\" size=\"64m\" mode=0o1777")
        },
    );
    let Some(target) = v
        .arg(0)
        .and_then(|e| r.container_path(e, "the tmpfs target"))
    else {
        return;
    };
    let size = v.prop("size").and_then(|e| r.size(e, "tmpfs `size`"));
    let mode = v.prop("mode").and_then(|e| r.mode(e, "tmpfs `mode`"));
    s.mounts.push(Mount {
        span: r.span(child.span()),
        source: Spanned::new(
            MountSource::Tmpfs {
                size: size.map(|s| s.value),
                mode: mode.map(|m| m.value),
            },
            r.name_span(child),
        ),
        target,
        read_only: false,
        subpath: None,
    });
}

fn decode_health(r: &mut Reader<'_>, child: &KdlNode, place: &str) -> Health {
    let v = r.open(
        child,
        &Shape {
            min: 0,
            max: Some(0),
            what: "",
            props: &[],
            children: true,
            usage: "health { http port=8000 path=\"/health\"; interval \"10s\" }",
        },
    );
    let mut h = Health {
        span: r.name_span(child),
        ..Health::default()
    };
    let hplace = format!("the health check of {place}");
    for c in v.children() {
        let cname = c.name().value();
        match cname {
            "exec" => {
                let cv = r.open(
                    c,
                    &many(
                        "a program and its arguments",
                        "exec \"PROGRAM\" \"ARG\" ...",
                    ),
                );
                let t = r.argv(&cv, "`exec`").map(|a| a.map(HealthTest::Exec));
                set_test(r, &mut h, t, &hplace);
            }
            "shell" => {
                let cv = r.open(
                    c,
                    &one("a shell command", "shell \"pg_isready -U postgres\""),
                );
                let t = cv
                    .arg(0)
                    .and_then(|e| r.nonempty(e, "`shell`"))
                    .map(|s| s.map(HealthTest::Shell));
                set_test(r, &mut h, t, &hplace);
            }
            "http" => {
                let cv = r.open(
                    c,
                    &Shape {
                        min: 0,
                        max: Some(0),
                        what: "",
                        props: &["port", "path", "host", "status", "body"],
                        children: false,
                        usage: "http port=8000 path=\"/health\" status=\"200-399\" body=\"ok\"",
                    },
                );
                let Some(port) = probe_port(r, &cv, c) else {
                    continue;
                };
                let path = match cv.prop("path").and_then(|e| r.nonempty(e, "`path`")) {
                    Some(p) if !p.value.starts_with('/') => {
                        r.push(
                            Diagnostic::error(Problem::InvalidValue {
                                field: "`path`".into(),
                                value: p.value.clone(),
                                reason: "a path starts with `/`".into(),
                            })
                            .with_label(p.span, "no leading `/`")
                            .with_help(format!("write \"/{}\"", p.value)),
                        );
                        continue;
                    }
                    Some(p) => p.value,
                    None => "/".into(),
                };
                let status = match cv.prop("status") {
                    Some(e) => match status_range(r, e) {
                        Some(s) => s,
                        None => continue,
                    },
                    None => (200, 399),
                };
                let probe = HttpProbe {
                    port,
                    path,
                    host: cv
                        .prop("host")
                        .and_then(|e| r.nonempty(e, "`host`"))
                        .map(|s| s.value),
                    status,
                    body: cv
                        .prop("body")
                        .and_then(|e| r.string(e, "`body`"))
                        .map(|s| s.value),
                };
                let t = Some(Spanned::new(HealthTest::Http(probe), r.span(c.span())));
                set_test(r, &mut h, t, &hplace);
            }
            "tcp" => {
                let cv = r.open(
                    c,
                    &Shape {
                        min: 0,
                        max: Some(0),
                        what: "",
                        props: &["port", "host"],
                        children: false,
                        usage: "tcp port=5432",
                    },
                );
                let Some(port) = probe_port(r, &cv, c) else {
                    continue;
                };
                let probe = TcpProbe {
                    port,
                    host: cv
                        .prop("host")
                        .and_then(|e| r.nonempty(e, "`host`"))
                        .map(|s| s.value),
                };
                let t = Some(Spanned::new(HealthTest::Tcp(probe), r.span(c.span())));
                set_test(r, &mut h, t, &hplace);
            }
            "interval" | "timeout" | "start-period" | "start-interval" => {
                let cv = r.open(c, &one("a duration", "interval \"10s\""));
                let d = cv.arg(0).and_then(|e| r.duration(e, &format!("`{cname}`")));
                if let Some(d) = &d
                    && d.value.is_zero()
                    && cname != "start-period"
                {
                    r.push(
                        Diagnostic::error(Problem::InvalidValue {
                            field: format!("`{cname}`"),
                            value: "0".into(),
                            reason: "it must be more than zero".into(),
                        })
                        .with_label(d.span, "zero"),
                    );
                }
                let slot = match cname {
                    "interval" => &mut h.interval,
                    "timeout" => &mut h.timeout,
                    "start-period" => &mut h.start_period,
                    _ => &mut h.start_interval,
                };
                r.set_once(slot, d, cname, &hplace);
            }
            "retries" => {
                let cv = r.open(c, &one("a count", "retries 3"));
                let n = cv.arg(0).and_then(|e| r.u32(e, "`retries`"));
                r.set_once(&mut h.retries, n, "retries", &hplace);
            }
            "disable" => bool_node(r, c, &mut h.disabled, &hplace),
            _ => r.unknown_node(c, &hplace, HEALTH_NODES),
        }
    }
    if h.disabled.as_ref().is_some_and(|d| d.value)
        && let Some(t) = &h.test
    {
        r.push(
            Diagnostic::error(Problem::Conflict {
                first: "`disable #true`".into(),
                second: "a test".into(),
                place: hplace.clone(),
            })
            .with_label(t.span, "a test")
            .with_help("remove the test, or `disable`"),
        );
    }
    h
}

fn set_test(r: &mut Reader<'_>, h: &mut Health, t: Option<Spanned<HealthTest>>, place: &str) {
    let Some(t) = t else { return };
    if let Some(first) = &h.test {
        r.push(
            Diagnostic::error(Problem::TwoHealthTests {
                place: place.into(),
            })
            .with_label(t.span, "second test")
            .with_label(first.span, "first test")
            .with_help(
                "a health check runs one test: keep one of `exec`, `shell`, `http` or `tcp`",
            ),
        );
        return;
    }
    h.test = Some(t);
}

fn probe_port(r: &mut Reader<'_>, v: &View<'_>, node: &KdlNode) -> Option<u16> {
    match v.prop("port") {
        Some(e) => r.port_number(e, "the probe's `port`").map(|p| p.value),
        None => {
            r.push(
                Diagnostic::error(Problem::MissingArgument {
                    node: node.name().value().into(),
                    what: "`port`".into(),
                })
                .with_label(r.name_span(node), "needs port")
                .with_help(format!("write `{} port=8000`", node.name().value())),
            );
            None
        }
    }
}

fn status_range(r: &mut Reader<'_>, e: &kdl::KdlEntry) -> Option<(u16, u16)> {
    let span = r.value_span(e);
    let text = match e.value() {
        KdlValue::Integer(i) => i.to_string(),
        KdlValue::String(s) => s.clone(),
        other => {
            r.push(
                Diagnostic::error(Problem::WrongType {
                    what: "`status`".into(),
                    expected: "a status or range".into(),
                    found: describe(other),
                })
                .with_label(span, "expected a status"),
            );
            return None;
        }
    };
    let parse = |s: &str| {
        s.trim()
            .parse::<u16>()
            .ok()
            .filter(|n| (100..=599).contains(n))
    };
    let range = match text.split_once('-') {
        Some((a, b)) => parse(a).zip(parse(b)).filter(|(a, b)| a <= b),
        None => parse(&text).map(|n| (n, n)),
    };
    if range.is_none() {
        r.push(
            Diagnostic::error(Problem::InvalidValue {
                field: "`status`".into(),
                value: text,
                reason: "expected an HTTP status (100-599) or a range such as `200-299`".into(),
            })
            .with_label(span, "not a status"),
        );
    }
    range
}

fn decode_depends_on(r: &mut Reader<'_>, child: &KdlNode, s: &mut Service) {
    let v = r.open(
        child,
        &Shape {
            props: &["condition", "restart", "required"],
            ..many(
                "a service name",
                "depends-on \"SERVICE\" condition=\"started|healthy|completed\"",
            )
        },
    );
    let condition = match v
        .prop("condition")
        .and_then(|e| r.nonempty(e, "`condition`"))
    {
        Some(c) => match c.value.as_str() {
            "started" => Condition::Started,
            "healthy" => Condition::Healthy,
            "completed" => Condition::Completed,
            other => {
                let help = match other {
                    "service_started" => "compose's `service_started` is `started`".to_string(),
                    "service_healthy" => "compose's `service_healthy` is `healthy`".to_string(),
                    "service_completed_successfully" => {
                        "compose's `service_completed_successfully` is `completed`".to_string()
                    }
                    _ => crate::suggest::help_for(
                        other,
                        &["started", "healthy", "completed"],
                        "one of",
                    )
                    .unwrap_or_default(),
                };
                r.push(
                    Diagnostic::error(Problem::InvalidValue {
                        field: "`condition`".into(),
                        value: other.into(),
                        reason: "unknown condition".into(),
                    })
                    .with_label(c.span, "unknown condition")
                    .with_help(help),
                );
                return;
            }
        },
        None => Condition::Started,
    };
    let restart = v
        .prop("restart")
        .and_then(|e| r.bool(e, "`restart`"))
        .is_some_and(|b| b.value);
    let required = v
        .prop("required")
        .and_then(|e| r.bool(e, "`required`"))
        .is_none_or(|b| b.value);
    for e in &v.args {
        let Some(name) = r.nonempty(e, "`depends-on`") else {
            continue;
        };
        s.depends_on.push(Dependency {
            span: r.span(child.span()),
            service: name,
            condition,
            restart,
            required,
        });
    }
}

fn decode_watch(r: &mut Reader<'_>, child: &KdlNode, s: &mut Service, place: &str) {
    let v = r.open(
        child,
        &Shape {
            min: 0,
            max: Some(0),
            what: "",
            props: &[],
            children: true,
            usage: "watch { sync \"./src\" target=\"/app/src\" }",
        },
    );
    let wplace = format!("the watch rules of {place}");
    for c in v.children() {
        let action = match c.name().value() {
            "sync" => WatchAction::Sync,
            "rebuild" => WatchAction::Rebuild,
            "restart" => WatchAction::Restart,
            "sync-restart" => WatchAction::SyncRestart,
            "sync-exec" => WatchAction::SyncExec,
            _ => {
                r.unknown_node(c, &wplace, WATCH_NODES);
                continue;
            }
        };
        let copies = !matches!(action, WatchAction::Rebuild | WatchAction::Restart);
        let props: &'static [&'static str] = if !copies { &[] } else { &["target"] };
        let usage = match action {
            WatchAction::Sync => {
                "sync \"./PATH\" target=\"/CONTAINER/PATH\" { ignore \"PATTERN\" }"
            }
            WatchAction::Rebuild => "rebuild \"./PATH\"",
            WatchAction::Restart => "restart \"./PATH\"",
            WatchAction::SyncRestart => "sync-restart \"./PATH\" target=\"/CONTAINER/PATH\"",
            WatchAction::SyncExec => {
                "sync-exec \"./PATH\" target=\"/CONTAINER/PATH\" { exec \"PROGRAM\" \"ARG\" }"
            }
        };
        let cv = r.open(
            c,
            &Shape {
                min: 1,
                max: Some(1),
                what: "a host path",
                props,
                children: true,
                usage,
            },
        );
        let Some(path) = cv.arg(0).and_then(|e| r.path(e, "the watched path")) else {
            continue;
        };
        let target = cv
            .prop("target")
            .and_then(|e| r.container_path(e, "the sync `target`"));
        if copies && target.is_none() && cv.prop("target").is_none() {
            r.push(
                Diagnostic::error(Problem::MissingArgument {
                    node: action.as_str().into(),
                    what: "`target`".into(),
                })
                .with_label(r.name_span(c), "needs target")
                .with_help(format!("write it as `{usage}`")),
            );
        }
        let mut rule = WatchRule {
            action: Spanned::new(action, r.name_span(c)),
            path,
            target,
            exec: None,
            exec_user: None,
            exec_workdir: None,
            exec_privileged: None,
            exec_env: Vec::new(),
            ignore: Vec::new(),
            include: Vec::new(),
        };
        let allowed: &[&str] = if action == WatchAction::SyncExec {
            &["ignore", "include", "exec", "env"]
        } else {
            &["ignore", "include"]
        };
        for g in cv.children() {
            match g.name().value() {
                "ignore" => strings_node(r, g, &mut rule.ignore),
                "include" => strings_node(r, g, &mut rule.include),
                "exec" if action == WatchAction::SyncExec => {
                    let gv = r.open(
                        g,
                        &Shape {
                            props: &["user", "workdir", "privileged"],
                            ..many(
                                "a command",
                                "exec \"PROGRAM\" \"ARG\" ... user=\"USER\" workdir=\"/DIR\" privileged=#true",
                            )
                        },
                    );
                    let argv = r.argv(&gv, "`exec`");
                    r.set_once(&mut rule.exec, argv, "exec", &wplace);
                    rule.exec_user = gv
                        .prop("user")
                        .and_then(|e| r.nonempty(e, "the exec `user`"));
                    rule.exec_workdir = gv
                        .prop("workdir")
                        .and_then(|e| r.container_path(e, "the exec `workdir`"));
                    rule.exec_privileged = gv
                        .prop("privileged")
                        .and_then(|e| r.bool(e, "`privileged`"));
                }
                "env" if action == WatchAction::SyncExec => {
                    let kv = r.map(g, "the environment of a `sync-exec` command");
                    rule.exec_env.extend(kv);
                }
                _ => r.unknown_node(g, &format!("a `{}` rule", action.as_str()), allowed),
            }
        }
        if action == WatchAction::SyncExec && rule.exec.is_none() {
            r.push(
                Diagnostic::error(Problem::MissingArgument {
                    node: "sync-exec".into(),
                    what: "an `exec` command".into(),
                })
                .with_label(r.name_span(c), "needs exec")
                .with_help(format!("write it as `{usage}`")),
            );
        }
        s.watch.push(rule);
    }
}

#[cfg(test)]
mod tests {
    use super::image_problem;

    #[test]
    fn image_references_as_the_engine_reads_them() {
        let digest = format!("sha256:{}", "a".repeat(64));
        for ok in [
            "nginx".to_string(),
            "nginx:1.27-alpine".into(),
            "library/nginx".into(),
            "registry.example.com:5000/team/app:v1".into(),
            "Registry.Example.com/team/app".into(),
            "localhost/app:V2".into(),
            "a__b/c--d/e.f_g".into(),
            format!("ghcr.io/owner/repo@{digest}"),
            format!("repo:tag@{digest}"),
            "${REGISTRY}/app".into(),
        ] {
            assert_eq!(image_problem(&ok), None, "{ok}");
        }
        for bad in [
            "Nginx",
            "team/App",
            "a..b",
            "a_-b",
            "a___b",
            "-a",
            "app:",
            ":tag",
            "app:-x",
            "x@sha256:zz",
            "a b",
        ] {
            assert!(image_problem(bad).is_some(), "{bad}");
        }
        let long_tag = format!("app:{}", "t".repeat(129));
        assert!(image_problem(&long_tag).is_some());
    }
}
