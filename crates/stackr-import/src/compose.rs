//! One compose file to declarations: the top-level keys (`name`, `services`, `networks`,
//! `volumes`, `secrets`, `configs`), with `extends` inside the file resolved and extension
//! fields (`x-*`) noted as not carried over (their uses through anchors are already written
//! out in full by the YAML loader).

use stackr_spec::Span;

use crate::ctx::Ctx;
use crate::ir::{Decl, Entry, Frag, Group, Kind};
use crate::kdl::{Node, Val};
use crate::service::{self, Extends};
use crate::yaml::{self, Yaml};

/// What converting a file needs from other files: `extends` with `file:` and `include`. The
/// caller reads them (this crate does no IO).
pub trait Resolve {
    /// Service `service` of compose file `file` (relative to `ctx.dir`), its own `extends`
    /// resolved and its paths written for the stack file; `None` after a diagnostic.
    fn extended(
        &mut self,
        ctx: &mut Ctx<'_>,
        file: &str,
        service: &str,
        span: Span,
    ) -> Option<Decl>;

    /// The declarations of the compose files one `include` item names.
    fn included(&mut self, ctx: &mut Ctx<'_>, item: &Include) -> Vec<Decl>;
}

/// One item of `include`.
#[derive(Debug, Clone)]
pub struct Include {
    pub paths: Vec<(String, Span)>,
    pub project_directory: Option<String>,
    pub env_files: Vec<(String, Span)>,
}

/// What one compose file declares.
#[derive(Debug, Default)]
pub struct File {
    /// The top-level `name`.
    pub name: Option<(String, Span)>,
    pub decls: Vec<Decl>,
    /// Comment lines for the head of the stack file.
    pub notes: Vec<String>,
}

const TOP_KEYS: &[&str] = &[
    "version", "name", "services", "networks", "volumes", "secrets", "configs", "include", "models",
];

/// Converts a parsed compose file.
pub fn convert(ctx: &mut Ctx<'_>, root: &Yaml, resolve: &mut dyn Resolve) -> File {
    let mut file = File::default();
    let mut services: Vec<(Decl, Option<Extends>)> = Vec::new();
    let mut included: Vec<Decl> = Vec::new();
    ctx.place = "the file".into();
    ctx.path = "the top level".into();
    if root.is_null() {
        ctx.diags.push(
            stackr_spec::Diagnostic::error(stackr_spec::Problem::Other {
                message: format!("{} is empty: it declares nothing to import", ctx.name),
            })
            .with_help("compose refuses an empty file too; give it `services:`"),
        );
        return file;
    }
    if root.as_map().is_none() {
        ctx.wrong_type(
            root,
            "a compose file",
            "a mapping of `services`, `networks`, ...",
        );
        return file;
    }
    for e in ctx.map(root, "a compose file") {
        ctx.place = "the file".into();
        ctx.path = "the top level".into();
        let v = &e.value;
        match e.key.as_str() {
            "version" => {
                let n = ctx.note(
                    e.key_span,
                    "`version` is dropped: it is obsolete, compose ignores it too",
                );
                file.notes.push(n);
            }
            "name" => {
                if let Some(t) = ctx.text(v, "`name`") {
                    file.name = Some((t, v.span));
                }
            }
            "services" => {
                for s in ctx.map(v, "`services`") {
                    services.push(service::service(ctx, &s.key, &s.value));
                }
            }
            "networks" => {
                for n in ctx.map(v, "`networks`") {
                    file.decls.push(network(ctx, &n.key, &n.value));
                }
            }
            "volumes" => {
                for n in ctx.map(v, "`volumes`") {
                    file.decls.push(volume(ctx, &n.key, &n.value));
                }
            }
            "secrets" | "configs" => {
                let kind = if e.key == "secrets" {
                    Kind::Secret
                } else {
                    Kind::Config
                };
                for n in ctx.map(v, &format!("`{}`", e.key)) {
                    file.decls.push(file_source(ctx, kind, &n.key, &n.value));
                }
            }
            "include" => {
                ctx.path = "include".into();
                for item in includes(ctx, v) {
                    let decls = resolve.included(ctx, &item);
                    included.extend(decls);
                }
            }
            "models" => {
                let n = ctx.note(e.key_span, "`models` is not imported: stackr runs no AI models; run the model runner yourself and give the services its address");
                file.notes.push(n);
            }
            k if k.starts_with("x-") => {
                let n = ctx.note(e.key_span, format!("the extension field `{k}` is not carried over: where anchors and merge keys used it, its values are written out"));
                file.notes.push(n);
            }
            _ => ctx.unknown_key(e, TOP_KEYS),
        }
    }
    merge_included(&mut file, &mut services, included);
    extends_files(ctx, &mut services, resolve);
    resolve_extends(ctx, &mut services);
    file.decls.extend(services.into_iter().map(|(d, _)| d));
    file
}

/// The items of `include`: a path, or `{path, project_directory, env_file}`.
fn includes(ctx: &mut Ctx<'_>, v: &Yaml) -> Vec<Include> {
    let Some(items) = v.as_seq() else {
        ctx.wrong_type(v, "`include`", "a list");
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        if item.as_map().is_none() {
            if let Some(t) = ctx.text(item, "an `include` item") {
                out.push(Include {
                    paths: vec![(t, item.span)],
                    project_directory: None,
                    env_files: Vec::new(),
                });
            }
            continue;
        }
        let mut inc = Include {
            paths: Vec::new(),
            project_directory: None,
            env_files: Vec::new(),
        };
        for e in ctx.map(item, "an `include` item") {
            match e.key.as_str() {
                "path" => {
                    inc.paths = ctx
                        .strings(&e.value, "`include.path`")
                        .into_iter()
                        .map(|(t, y)| (t, y.span))
                        .collect()
                }
                "project_directory" => {
                    inc.project_directory = ctx.text(&e.value, "`include.project_directory`")
                }
                "env_file" => {
                    inc.env_files = ctx
                        .strings(&e.value, "`include.env_file`")
                        .into_iter()
                        .map(|(t, y)| (t, y.span))
                        .collect()
                }
                k if k.starts_with("x-") => {}
                _ => ctx.unknown_key(e, &["path", "project_directory", "env_file"]),
            }
        }
        if inc.paths.is_empty() {
            ctx.invalid(item, "an `include` item", "", "it names no `path`");
            continue;
        }
        out.push(inc);
    }
    out
}

/// Included declarations join the file's, before `extends` is resolved (a service may extend
/// an included one). A name declared in both is merged, this file's values winning, as
/// compose does.
fn merge_included(
    file: &mut File,
    services: &mut Vec<(Decl, Option<Extends>)>,
    included: Vec<Decl>,
) {
    for d in included {
        if d.kind == Kind::Service {
            match services.iter_mut().find(|(s, _)| s.name == d.name) {
                Some((own, _)) => {
                    let mut merged = d.clone();
                    merged.overlay(own);
                    merged.notes = own.notes.clone();
                    merged.profiles = own.profiles.clone();
                    *own = merged;
                }
                None => services.insert(0, (d, None)),
            }
            continue;
        }
        match file
            .decls
            .iter_mut()
            .find(|o| o.kind == d.kind && o.name == d.name)
        {
            Some(own) => {
                let mut merged = d.clone();
                merged.overlay(own);
                *own = merged;
            }
            None => file.decls.push(d),
        }
    }
}

/// `extends: {file: F, service: S}`: the service of the other file, overlaid with this one.
fn extends_files(
    ctx: &mut Ctx<'_>,
    services: &mut [(Decl, Option<Extends>)],
    resolve: &mut dyn Resolve,
) {
    for (decl, ext) in services.iter_mut() {
        let Some(Extends {
            service,
            span,
            file: Some(file),
        }) = ext.clone()
        else {
            continue;
        };
        *ext = None;
        ctx.place = format!("service `{}`", decl.name);
        let Some(mut base) = resolve.extended(ctx, &file, &service, span) else {
            continue;
        };
        base.notes.clear();
        base.overlay(decl);
        base.name = decl.name.clone();
        base.profiles = decl.profiles.clone();
        base.notes = decl.notes.clone();
        base.resets = decl.resets.clone();
        base.overrides = decl.overrides.clone();
        *decl = base;
    }
}

/// `extends: {service: NAME}` in the same file: the named service, overlaid with this one.
fn resolve_extends(ctx: &mut Ctx<'_>, services: &mut [(Decl, Option<Extends>)]) {
    for i in 0..services.len() {
        let mut chain = vec![services[i].0.name.clone()];
        let mut layers: Vec<Decl> = Vec::new();
        let mut cur = i;
        while let Some(ext) = &services[cur].1 {
            let Some(j) = services.iter().position(|(d, _)| d.name == ext.service) else {
                ctx.place = format!("service `{}`", services[cur].0.name);
                ctx.invalid_span(
                    ext.span,
                    "`extends`",
                    &ext.service,
                    "no service of this file has that name",
                );
                break;
            };
            if chain.contains(&ext.service) {
                ctx.place = format!("service `{}`", services[cur].0.name);
                ctx.invalid_span(
                    ext.span,
                    "`extends`",
                    &ext.service,
                    "the services extend each other in a cycle",
                );
                break;
            }
            chain.push(ext.service.clone());
            let mut base = services[j].0.clone();
            base.notes.clear();
            layers.push(base);
            cur = j;
        }
        if layers.is_empty() {
            continue;
        }
        let own = services[i].0.clone();
        let mut merged = layers.pop().unwrap_or_else(|| own.clone());
        while let Some(l) = layers.pop() {
            merged.overlay(&l);
        }
        merged.overlay(&own);
        merged.name = own.name.clone();
        merged.profiles = own.profiles.clone();
        merged.notes = own.notes.clone();
        merged.resets = own.resets.clone();
        merged.overrides = own.overrides.clone();
        services[i].0 = merged;
    }
}

fn network(ctx: &mut Ctx<'_>, name: &str, y: &Yaml) -> Decl {
    ctx.place = format!("network `{name}`");
    ctx.path = format!("networks.{name}");
    let mut d = Decl::new(Kind::Network, name);
    for e in ctx.map(y, "a network") {
        let v = &e.value;
        match e.key.as_str() {
            "driver" | "name" => {
                if let Some(t) = ctx.text(v, &format!("`{}`", e.key)) {
                    d.push(head(&e.key, Val::Str(t)));
                }
            }
            "internal" => {
                if let Some(b) = ctx.bool(v, "`internal`") {
                    d.push(head("internal", Val::Bool(b)));
                }
            }
            "external" => external(ctx, v, &mut d),
            "labels" => labels(ctx, v, &mut d),
            "enable_ipv6" => {
                if let Some(b) = ctx.bool(v, "`enable_ipv6`") {
                    d.push(head("enable-ipv6", Val::Bool(b)));
                }
            }
            "driver_opts" => driver_opts(ctx, v, &mut d),
            "ipam" => {
                let n = ipam(ctx, v);
                d.push(Entry::new(Group::Own, "ipam", Frag::Child(n)));
            }
            "enable_ipv4" | "attachable" => {
                let why = if e.key == "attachable" {
                    "a Swarm overlay network's setting: write `attachable=#true` on a network of a `target \"swarm\"` stack"
                } else {
                    "an IPv6-only network needs Engine API 1.47"
                };
                let n = ctx.note(e.key_span, format!("`{}` is not imported: {why}", e.key));
                d.notes.push(n);
            }
            k if k.starts_with("x-") => {}
            _ => ctx.unknown_key(
                e,
                &[
                    "driver",
                    "driver_opts",
                    "attachable",
                    "enable_ipv6",
                    "enable_ipv4",
                    "ipam",
                    "internal",
                    "labels",
                    "external",
                    "name",
                ],
            ),
        }
    }
    d
}

/// `driver_opts` of a network or a volume: its `driver-opts` children.
fn driver_opts(ctx: &mut Ctx<'_>, v: &Yaml, d: &mut Decl) {
    for (k, val, _) in ctx.key_values(v, "`driver_opts`") {
        d.push(Entry::new(
            Group::DriverOpts,
            format!("opt:{k}"),
            Frag::Child(Node::new(k).arg(Val::Str(val.unwrap_or_default()))),
        ));
    }
}

/// `ipam: {driver, config: [{subnet, ip_range, gateway, aux_addresses}], options}`.
fn ipam(ctx: &mut Ctx<'_>, y: &Yaml) -> Node {
    let mut n = Node::new("ipam");
    for e in ctx.map(y, "`ipam`") {
        let v = &e.value;
        match e.key.as_str() {
            "driver" => {
                if let Some(t) = ctx.text(v, "`ipam.driver`") {
                    n = n.prop("driver", Val::Str(t));
                }
            }
            "config" => {
                let yaml::Kind::Seq(items) = &v.kind else {
                    ctx.text(v, "`ipam.config`: a list");
                    continue;
                };
                for item in items {
                    n = n.child(ipam_pool(ctx, item));
                }
            }
            "options" => n = n.child(ctx.map_node(v, "options", "`ipam.options`")),
            k if k.starts_with("x-") => {}
            _ => ctx.unknown_key(e, &["driver", "config", "options"]),
        }
    }
    n
}

fn ipam_pool(ctx: &mut Ctx<'_>, y: &Yaml) -> Node {
    let mut n = Node::new("subnet");
    for e in ctx.map(y, "an `ipam.config` entry") {
        let v = &e.value;
        match e.key.as_str() {
            "subnet" => {
                if let Some(t) = ctx.text(v, "`subnet`") {
                    n.args.insert(0, Val::Str(t));
                }
            }
            "ip_range" | "gateway" => {
                if let Some(t) = ctx.text(v, &format!("`{}`", e.key)) {
                    n = n.prop(e.key.replace('_', "-"), Val::Str(t));
                }
            }
            "aux_addresses" => {
                n = n.child(ctx.map_node(v, "aux-addresses", "`aux_addresses`"));
            }
            k if k.starts_with("x-") => {}
            _ => ctx.unknown_key(e, &["subnet", "ip_range", "gateway", "aux_addresses"]),
        }
    }
    n
}

fn volume(ctx: &mut Ctx<'_>, name: &str, y: &Yaml) -> Decl {
    ctx.place = format!("volume `{name}`");
    ctx.path = format!("volumes.{name}");
    let mut d = Decl::new(Kind::Volume, name);
    for e in ctx.map(y, "a volume") {
        let v = &e.value;
        match e.key.as_str() {
            "driver" | "name" => {
                if let Some(t) = ctx.text(v, &format!("`{}`", e.key)) {
                    d.push(head(&e.key, Val::Str(t)));
                }
            }
            "external" => external(ctx, v, &mut d),
            "labels" => labels(ctx, v, &mut d),
            "driver_opts" => driver_opts(ctx, v, &mut d),
            k if k.starts_with("x-") => {}
            _ => ctx.unknown_key(e, &["driver", "driver_opts", "external", "labels", "name"]),
        }
    }
    d
}

fn file_source(ctx: &mut Ctx<'_>, kind: Kind, name: &str, y: &Yaml) -> Decl {
    let what = kind.node_name();
    ctx.place = format!("{what} `{name}`");
    ctx.path = format!("{what}s.{name}");
    let mut d = Decl::new(kind, name);
    let mut external_flag = false;
    let mut engine_name = None;
    let mut labels = None;
    for e in ctx.map(y, &format!("a {what}")) {
        let v = &e.value;
        match e.key.as_str() {
            "file" => {
                if let Some(t) = ctx.text(v, "`file`") {
                    d.push(head("file", Val::Str(ctx.local_path(&t))));
                }
            }
            "environment" => {
                if let Some(t) = ctx.text(v, "`environment`") {
                    if kind == Kind::Secret {
                        d.push(head("env", Val::Str(t)));
                    } else {
                        let n = ctx.note(e.key_span, format!("config `{name}` from the variable `{t}` is written as `content=\"${{{t}}}\"`: the same text, interpolated"));
                        d.notes.push(n);
                        d.push(head("content", Val::Str(format!("${{{t}}}"))));
                    }
                }
            }
            "content" if kind == Kind::Config => {
                if let Some(t) = ctx.text(v, "`content`") {
                    d.push(head("content", Val::Str(t)));
                }
            }
            "external" => {
                external(ctx, v, &mut d);
                external_flag = v.as_bool() == Some(true) || v.as_map().is_some();
                if external_flag && kind == Kind::Secret {
                    let n = ctx.note(e.key_span, "an external secret: compose refuses external secrets outside Swarm, and stackr cannot mount one on a single engine either (`check` refuses a service that uses it); give it `file=` or `env=` to run it here");
                    d.notes.push(n);
                }
            }
            "name" => engine_name = ctx.text(v, "`name`").map(|t| (t, e.key_span)),
            "labels" => labels = Some((v.clone(), e.key_span)),
            "driver" | "driver_opts" | "template_driver" => {
                let n = ctx.note(
                    e.key_span,
                    format!("`{}` is not imported: Swarm only", e.key),
                );
                d.notes.push(n);
            }
            k if k.starts_with("x-") => {}
            _ => ctx.unknown_key(
                e,
                &[
                    "file",
                    "environment",
                    "content",
                    "external",
                    "name",
                    "driver",
                    "driver_opts",
                    "template_driver",
                    "labels",
                ],
            ),
        }
    }
    // Labels of the Swarm object stackr makes; an external one is not stackr's to label.
    if let Some((v, span)) = labels {
        if external_flag {
            let note = ctx.note(
                span,
                format!(
                    "`labels` of external {what} `{name}` are not imported: stackr does not make it"
                ),
            );
            d.notes.push(note);
        } else {
            let n = ctx.map_node(&v, "labels", "`labels`");
            d.push(Entry::own("labels", n));
        }
    }
    if let Some((n, span)) = engine_name {
        if external_flag {
            d.push(head("name", Val::Str(n)));
        } else {
            let note = ctx.note(
                span,
                format!("`name: {n}` is not imported: stackr names only external {what}s"),
            );
            d.notes.push(note);
        }
    }
    d
}

fn head(key: &str, v: Val) -> Entry {
    Entry::new(
        Group::Head,
        format!("head.{key}"),
        Frag::Prop(key.into(), v),
    )
}

/// `external: true`, or the legacy `external: {name: X}`.
fn external(ctx: &mut Ctx<'_>, v: &Yaml, d: &mut Decl) {
    if v.as_map().is_some() {
        d.push(head("external", Val::Bool(true)));
        if let Some(n) = v.get("name").and_then(|n| ctx.text(n, "`external.name`")) {
            d.push(head("name", Val::Str(n)));
        }
        return;
    }
    if let Some(b) = ctx.bool(v, "`external`") {
        d.push(head("external", Val::Bool(b)));
    }
}

fn labels(ctx: &mut Ctx<'_>, v: &Yaml, d: &mut Decl) {
    for (k, val, _) in ctx.key_values(v, "`labels`") {
        d.push(Entry::new(
            Group::Labels,
            format!("label:{k}"),
            Frag::Child(Node::new(k).arg(Val::Str(val.unwrap_or_default()))),
        ));
    }
}
