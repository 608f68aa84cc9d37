//! Declarations to a validated [`Stack`]: references, cycles, port clashes and the rest of what
//! needs the whole stack. The only place a [`Stack`] is built.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use petgraph::algo::kosaraju_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::model::*;
use crate::port::{PortSpec, Protocol};
use crate::problem::Problem;
use crate::source::{Span, Spanned};
use crate::suggest::{did_you_mean, listed};

/// What validation needs to know besides the declarations.
#[derive(Clone)]
pub struct Context<'a> {
    pub name: String,
    /// `--target`, which beats the file's.
    pub target: Option<Target>,
    pub profiles: Vec<String>,
    /// Every declared profile and the services it declares.
    pub profile_services: &'a BTreeMap<String, Vec<String>>,
}

fn unknown_ref(
    from: String,
    kind: &str,
    name: &Spanned<String>,
    known: &[&str],
    extra_help: Option<String>,
) -> Diagnostic {
    let help = extra_help.or_else(|| match did_you_mean(&name.value, known) {
        Some(best) => Some(format!("did you mean `{best}`?")),
        None if known.is_empty() => Some(format!(
            "no {kind} is declared; declare it with `{kind} \"{}\"`",
            name.value
        )),
        None => Some(format!("declared {kind}s: {}", listed(known))),
    });
    Diagnostic::error(Problem::UnknownReference {
        from,
        kind: kind.into(),
        name: name.value.clone(),
    })
    .with_label(name.span, format!("no such {kind}"))
    .with_help_opt(help)
    .with_suggestion(&name.value, known)
}

/// Validates merged declarations. Returns the stack when there is no error.
pub fn validate(decls: Declarations, cx: &Context<'_>, diags: &mut Diagnostics) -> Option<Stack> {
    let service_names = NameSet::new(decls.services.iter().map(|s| &s.name));
    let network_names = NameSet::new(decls.networks.iter().map(|n| &n.name));
    let volume_names = NameSet::new(decls.volumes.iter().map(|n| &n.name));
    let secret_names = NameSet::new(decls.secrets.iter().map(|n| &n.name));
    let config_names = NameSet::new(decls.configs.iter().map(|n| &n.name));

    for s in &decls.secrets {
        if s.source.is_none() && !diags.has_error_within(s.span) {
            diags.push(
                Diagnostic::error(Problem::SecretWithoutSource {
                    secret: s.name.value.clone(),
                })
                .with_label(s.name.span, "no `file`, `env` or `external`")
                .with_help(format!(
                    "write `secret \"{0}\" file=\"./secrets/{0}.txt\"`, `env=\"VARIABLE\"` or `external=#true`",
                    s.name.value
                )),
            );
        }
    }
    for c in &decls.configs {
        if c.source.is_none() && !diags.has_error_within(c.span) {
            diags.push(
                Diagnostic::error(Problem::ConfigWithoutSource {
                    config: c.name.value.clone(),
                })
                .with_label(c.name.span, "no `file`, `content` or `external`")
                .with_help(format!(
                    "write `config \"{}\" file=\"./PATH\"` or `content=\"...\"`",
                    c.name.value
                )),
            );
        }
    }
    for n in &decls.networks {
        if n.is_external() {
            external_conflicts(
                diags,
                "network",
                &n.name,
                &[
                    ("driver", n.driver.as_ref().map(|d| d.span)),
                    ("internal", n.internal.as_ref().map(|d| d.span)),
                    ("ipam", n.ipam.as_ref().map(|d| d.span)),
                ],
            );
        }
        crate::network::validate(n, &decls.services, diags);
    }
    for v in &decls.volumes {
        if v.is_external() {
            let opts = v.driver_opts.first().map(|o| o.key.span);
            external_conflicts(
                diags,
                "volume",
                &v.name,
                &[
                    ("driver", v.driver.as_ref().map(|d| d.span)),
                    ("driver-opts", opts),
                ],
            );
        }
    }

    let index = Index::new(&decls);
    let is_internal =
        |name: &str| -> bool { index.networks.get(name).is_some_and(|n| n.is_internal()) };

    let names = Names {
        services: service_names,
        networks: network_names,
        volumes: volume_names,
        secrets: secret_names,
        configs: config_names,
        index: &index,
    };
    let target = cx
        .target
        .or(decls.target.as_ref().map(|t| t.value))
        .unwrap_or_default();
    let cx = &Context {
        target: Some(target),
        ..cx.clone()
    };
    let all_services: Vec<&str> = decls
        .services
        .iter()
        .map(|s| s.name.value.as_str())
        .collect();
    for s in &decls.services {
        check_image(s, diags);
        crate::options::validate(&s.options, &s.name.value, &all_services, diags);
        check_dependencies(s, &names, cx, diags);
        check_network_refs(s, &names, diags);
        check_network_mode(s, &names, diags);
        check_endpoints(s, diags);
        check_mount_refs(s, &names, diags);
        check_mount_targets(s, diags);
        check_secret_refs(s, &names, diags);
        check_build_secrets(s, &names, diags);
        check_config_refs(s, &names, diags);
        check_external_files(s, &names, diags);
        check_file_targets(s, diags);
        check_read_only_targets(s, &names, diags);
        check_env(s, &names, diags);
        check_pull_build(s, diags);
        check_rebuild_watch(s, diags);
        sync_targets(s, diags);
        // One engine's limits: on a swarm the routing mesh publishes a port for every
        // replica, and `container-name` is refused outright.
        if target == Target::Engine {
            check_container_name_scale(s, diags);
            check_scaled_ports(s, diags);
            check_start_first(s, diags);
        }
        check_internal_ports(s, &names, &is_internal, diags);
    }

    check_port_conflicts(&decls.services, diags);
    let waves = check_graph(&decls.services, diags);
    if target == Target::Swarm {
        crate::swarm::check(&decls, diags);
    }

    if diags.has_errors() {
        return None;
    }
    let services = by_name(decls.services, |mut s| {
        s.env.retain(|v| v.value.value != EnvValue::Unset);
        fill_defaults(&mut s, target);
        (s.name.value.clone(), s)
    });
    let mut networks: BTreeMap<String, Network> = decls
        .networks
        .into_iter()
        .map(|n| (n.name.value.clone(), n))
        .collect();
    let uses_default = services
        .values()
        .any(|s| s.network_names().contains(&DEFAULT_NETWORK));
    if uses_default && !networks.contains_key(DEFAULT_NETWORK) {
        networks.insert(
            DEFAULT_NETWORK.into(),
            Network {
                name: Spanned::new(DEFAULT_NETWORK.into(), Span::default()),
                ..Network::default()
            },
        );
    }
    Some(Stack {
        name: cx.name.clone(),
        services,
        networks,
        volumes: decls
            .volumes
            .into_iter()
            .map(|v| (v.name.value.clone(), v))
            .collect(),
        secrets: decls
            .secrets
            .into_iter()
            .map(|v| (v.name.value.clone(), v))
            .collect(),
        configs: decls
            .configs
            .into_iter()
            .map(|v| (v.name.value.clone(), v))
            .collect(),
        profiles: cx.profiles.clone(),
        available_profiles: cx.profile_services.keys().cloned().collect(),
        waves,
        target,
    })
}

/// `services` by name, each made by `entry`. They are put in order by their names first and
/// then moved once each: a service is a few kilobytes, and inserting them one by one in
/// declaration order moves each many times inside the map.
fn by_name(
    services: Vec<Service>,
    entry: impl Fn(Service) -> (String, Service),
) -> BTreeMap<String, Service> {
    let mut order: Vec<usize> = (0..services.len()).collect();
    order.sort_by(|a, b| services[*a].name.value.cmp(&services[*b].name.value));
    let mut slots: Vec<Option<Service>> = services.into_iter().map(Some).collect();
    order
        .into_iter()
        .filter_map(|i| slots[i].take())
        .map(entry)
        .collect()
}

/// The names a service may refer to, and the declarations they come from.
struct Names<'a> {
    services: NameSet<'a>,
    networks: NameSet<'a>,
    volumes: NameSet<'a>,
    secrets: NameSet<'a>,
    configs: NameSet<'a>,
    index: &'a Index<'a>,
}

/// The declarations by name.
struct Index<'a> {
    services: HashMap<&'a str, &'a Service>,
    networks: HashMap<&'a str, &'a Network>,
    secrets: HashMap<&'a str, &'a Secret>,
    configs: HashMap<&'a str, &'a Config>,
}

impl<'a> Index<'a> {
    fn new(d: &'a Declarations) -> Self {
        Index {
            services: d
                .services
                .iter()
                .map(|x| (x.name.value.as_str(), x))
                .collect(),
            networks: d
                .networks
                .iter()
                .map(|x| (x.name.value.as_str(), x))
                .collect(),
            secrets: d
                .secrets
                .iter()
                .map(|x| (x.name.value.as_str(), x))
                .collect(),
            configs: d
                .configs
                .iter()
                .map(|x| (x.name.value.as_str(), x))
                .collect(),
        }
    }
}

/// Declared names in order (for suggestions and lists), with a set for lookups: a check per
/// reference is a lookup, not a scan of every name.
struct NameSet<'a> {
    list: Vec<&'a str>,
    set: HashSet<&'a str>,
}

impl<'a> NameSet<'a> {
    fn new(names: impl Iterator<Item = &'a Spanned<String>>) -> Self {
        let list: Vec<&str> = names.map(|n| n.value.as_str()).collect();
        let set = list.iter().copied().collect();
        NameSet { list, set }
    }

    fn contains(&self, name: &str) -> bool {
        self.set.contains(name)
    }
}

impl<'a> std::ops::Deref for NameSet<'a> {
    type Target = [&'a str];
    fn deref(&self) -> &[&'a str] {
        &self.list
    }
}

/// A service has an image or a build.
fn check_image(s: &Service, diags: &mut Diagnostics) {
    let sname = &s.name.value;
    if s.image.is_none() && s.build.is_none() && !diags.has_error_within(s.span) {
        diags.push(
            Diagnostic::error(Problem::NoImage {
                service: sname.clone(),
            })
            .with_label(s.name.span, "no image to run")
            .with_help("add `image \"NAME:TAG\"` or `build \"./DIRECTORY\"`"),
        );
    }
}

/// `depends-on` names services of the stack.
fn check_dependencies(s: &Service, names: &Names<'_>, cx: &Context<'_>, diags: &mut Diagnostics) {
    let sname = &s.name.value;
    let place = format!("service `{}`", s.name.value);
    let service_names = &names.services;
    for d in &s.depends_on {
        if d.service.value == *sname {
            diags.push(
                Diagnostic::error(Problem::SelfDependency {
                    service: sname.clone(),
                })
                .with_label(d.service.span, "depends on itself")
                .with_help("remove this `depends-on`"),
            );
            continue;
        }
        if !service_names.contains(d.service.value.as_str()) {
            if !d.required {
                continue;
            }
            let enabling: Vec<&String> = cx
                .profile_services
                .iter()
                .filter(|(_, svcs)| svcs.contains(&d.service.value))
                .map(|(p, _)| p)
                .collect();
            let help = if enabling.is_empty() {
                None
            } else {
                let list: Vec<String> = enabling
                    .iter()
                    .map(|p| format!("`--profile {p}`"))
                    .collect();
                Some(format!(
                    "`{}` exists only in profile {}: enable it with {}, or mark the dependency `required=#false`",
                    d.service.value,
                    enabling
                        .iter()
                        .map(|p| format!("`{p}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    list.join(" or ")
                ))
            };
            diags.push(unknown_ref(
                format!("`depends-on` of {place}"),
                "service",
                &d.service,
                service_names,
                help,
            ));
            continue;
        }
        if let Some(dep) = names.index.services.get(d.service.value.as_str())
            && cx.target != Some(Target::Swarm)
            && s.restarts()
            && !dep.comes_back()
            && dep.scale() > 0
            && d.required
            && d.condition != Condition::Completed
        {
            diags.push(
                Diagnostic::warning(Problem::DependencyNotRestarted {
                    service: sname.clone(),
                    dependency: dep.name.value.clone(),
                })
                .with_label(d.service.span, "waited for by `up` only")
                .with_help(format!(
                    "give `{dep}` the restart policy `always` or `unless-stopped` (`on-failure` brings a container back only after it failed): after a daemon restart, the engine starts `{sname}` again but not `{dep}`, and `{sname}` starts without it",
                    dep = dep.name.value
                )),
            );
        }
        if d.condition == Condition::Healthy {
            let dep = names.index.services.get(d.service.value.as_str());
            if let Some(dep) = dep
                && !dep.has_health_check()
            {
                diags.push(
                        Diagnostic::warning(Problem::HealthyWithoutCheck {
                            service: sname.clone(),
                            dependency: dep.name.value.clone(),
                        })
                        .with_label(d.service.span, "waits for healthy")
                        .with_label(dep.name.span, "no `health` here")
                        .with_help(format!(
                            "give `{}` a `health` block, unless its image has a HEALTHCHECK; otherwise `{sname}` never starts",
                            dep.name.value
                        )),
                    );
            }
        }
    }
}

/// `networks` names networks of the stack.
fn check_network_refs(s: &Service, names: &Names<'_>, diags: &mut Diagnostics) {
    let place = format!("service `{}`", s.name.value);
    let network_names = &names.networks;
    for n in &s.networks {
        if n.name.value != DEFAULT_NETWORK && !network_names.contains(n.name.value.as_str()) {
            diags.push(unknown_ref(
                place.to_string(),
                "network",
                &n.name,
                network_names,
                None,
            ));
        }
    }
}

/// `network-mode` names what it can join.
fn check_network_mode(s: &Service, names: &Names<'_>, diags: &mut Diagnostics) {
    let sname = &s.name.value;
    let place = format!("service `{}`", s.name.value);
    let service_names = &names.services;
    if let Some(b) = &s.build
        && let (Some(remote), Some(first)) = (&b.remote, b.pre_build.first())
    {
        diags.push(
            Diagnostic::error(Problem::Conflict {
                first: "a remote build context".into(),
                second: "`pre-build`".into(),
                place: format!("the build of {place}"),
            })
            .with_label(remote.span, "fetched by the engine")
            .with_label(first.span, "runs in a local context")
            .with_help("pre-build commands run in a directory on this machine: build from a local checkout, or drop them"),
        );
    }
    if let Some(b) = &s.build
        && let (Some(d), Some(i)) = (&b.dockerfile, &b.dockerfile_inline)
    {
        diags.push(
            Diagnostic::error(Problem::Conflict {
                first: "`dockerfile`".into(),
                second: "`dockerfile-inline`".into(),
                place: format!("the build of {place}"),
            })
            .with_label(d.span, "a Dockerfile in the context")
            .with_label(i.span, "a Dockerfile written here")
            .with_help("keep one of them"),
        );
    }
    if let Some(b) = &s.build {
        check_build_options(b, &place, diags);
    }
    if let Some(mode) = &s.network_mode {
        if let Some(first) = s.networks.first() {
            diags.push(
                Diagnostic::error(Problem::Conflict {
                    first: "`network-mode`".into(),
                    second: "`networks`".into(),
                    place: place.clone(),
                })
                .with_label(mode.span, "network mode")
                .with_label(first.name.span, "networks")
                .with_help(
                    "a container with a network mode joins no other network: keep one of them",
                ),
            );
        }
        if let NetworkMode::Service(other) = &mode.value
            && !service_names.contains(other.as_str())
        {
            let name = Spanned::new(other.clone(), mode.span);
            diags.push(unknown_ref(
                format!("`network-mode` of {place}"),
                "service",
                &name,
                service_names,
                None,
            ));
        }
        if matches!(mode.value, NetworkMode::Host)
            && let Some(p) = s.ports.first()
        {
            diags.push(
                Diagnostic::warning(Problem::PortsIgnoredWithHostNetwork {
                    service: sname.clone(),
                })
                .with_label(p.span, "ignored with host networking")
                .with_help(
                    "with host networking the container's ports are the host's: remove `port`",
                ),
            );
        }
    }
}

/// Mounts name volumes of the stack.
fn check_mount_refs(s: &Service, names: &Names<'_>, diags: &mut Diagnostics) {
    let place = format!("service `{}`", s.name.value);
    let volume_names = &names.volumes;
    for m in &s.mounts {
        if let MountSource::Volume(v) = &m.source.value
            && !volume_names.contains(v.as_str())
        {
            let name = Spanned::new(v.clone(), m.source.span);
            let help = Some(match did_you_mean(v, volume_names) {
                Some(best) => {
                    format!("did you mean `{best}`? (a host path starts with `./` or `/`)")
                }
                None => format!(
                    "declare it at top level with `volume \"{v}\"`, or write a host path as \"./{v}\""
                ),
            });
            diags.push(unknown_ref(
                format!("a mount of {place}"),
                "volume",
                &name,
                volume_names,
                help,
            ));
        }
    }
}

/// No two mounts share a target.
fn check_mount_targets(s: &Service, diags: &mut Diagnostics) {
    let place = format!("service `{}`", s.name.value);
    for (i, m) in s.mounts.iter().enumerate() {
        if let Some(first) = s.mounts[..i]
            .iter()
            .find(|o| o.target.value == m.target.value)
        {
            diags.push(
                Diagnostic::error(Problem::SetTwice {
                    field: format!("mount target `{}`", m.target.value),
                    place: place.clone(),
                })
                .with_label(m.target.span, "mounted again here")
                .with_label(first.target.span, "first mounted here"),
            );
        }
    }
}

/// `secret` names secrets of the stack.
fn check_secret_refs(s: &Service, names: &Names<'_>, diags: &mut Diagnostics) {
    let place = format!("service `{}`", s.name.value);
    let secret_names = &names.secrets;
    for f in &s.secrets {
        if !secret_names.contains(f.name.value.as_str()) {
            diags.push(unknown_ref(
                place.to_string(),
                "secret",
                &f.name,
                secret_names,
                None,
            ));
        }
    }
}

/// A service's MAC address and link-local addresses on each network are addresses.
fn check_endpoints(s: &Service, diags: &mut Diagnostics) {
    for n in &s.networks {
        let place = format!("network `{}` of service `{}`", n.name.value, s.name.value);
        if let Some(m) = &n.mac_address {
            crate::options::check_mac(m, &format!("`mac-address` on {place}"), diags);
        }
        for ip in n
            .link_local_ips
            .iter()
            .filter(|ip| ip.value.parse::<std::net::IpAddr>().is_err())
        {
            diags.push(
                Diagnostic::error(Problem::InvalidValue {
                    field: format!("`link-local-ips` on {place}"),
                    value: ip.value.clone(),
                    reason: "not an IP address".into(),
                })
                .with_label(ip.span, "not an address"),
            );
        }
    }
}

/// A build's `secret`s name secrets of the stack whose values stackr reads (an external one
/// has none here), each id once; its `ssh` is the default agent; both need a local context and
/// a network BuildKit knows.
fn check_build_secrets(s: &Service, names: &Names<'_>, diags: &mut Diagnostics) {
    let Some(b) = &s.build else { return };
    let place = format!("the build of service `{}`", s.name.value);
    let mut ids: Vec<&crate::BuildSecret> = Vec::new();
    for f in &b.secrets {
        if !names.secrets.contains(f.name.value.as_str()) {
            diags.push(unknown_ref(
                place.clone(),
                "secret",
                &f.name,
                &names.secrets,
                None,
            ));
        } else if let Some(SecretSource::External(_)) = secret_source(names, &f.name.value) {
            diags.push(
                Diagnostic::error(Problem::InvalidValue {
                    field: format!("a secret of {place}"),
                    value: f.name.value.clone(),
                    reason: "the secret is external: a build reads its value on this machine"
                        .into(),
                })
                .with_label(f.name.span, "external")
                .with_help(format!(
                    "give secret `{}` a `file=` or `env=` source for the build",
                    f.name.value
                )),
            );
        }
        match ids.iter().find(|x| x.id() == f.id()) {
            Some(first) => diags.push(
                Diagnostic::error(Problem::SetTwice {
                    field: format!("build secret id `{}`", f.id()),
                    place: place.clone(),
                })
                .with_label(f.span, "set again here")
                .with_label(first.span, "first set here")
                .with_help("give one of them another `id=`"),
            ),
            None => ids.push(f),
        }
    }
    for agent in b.ssh.iter().filter(|a| a.value != "default") {
        diags.push(
            Diagnostic::error(Problem::InvalidValue {
                field: format!("`ssh` of {place}"),
                value: agent.value.clone(),
                reason: "stackr forwards the default agent only (the one of `SSH_AUTH_SOCK`)"
                    .into(),
            })
            .with_label(agent.span, "not `default`")
            .with_help("write `ssh \"default\"`, and `ssh-add` the key to the agent"),
        );
    }
    check_additional_contexts(b, &place, names, diags);
    let buildkit = b
        .secrets
        .first()
        .map(|f| f.span)
        .or(b.ssh.first().map(|a| a.span))
        .or(b.additional_contexts.first().map(|c| c.key.span));
    let Some(used) = buildkit else { return };
    if let Some(remote) = &b.remote {
        diags.push(
            Diagnostic::error(Problem::Conflict {
                first: "a remote build context".into(),
                second: "a build `secret`, `ssh` or additional context".into(),
                place: place.clone(),
            })
            .with_label(remote.span, "fetched by the engine")
            .with_label(used, "needs BuildKit, which stackr gives a local context")
            .with_help("build from a local checkout"),
        );
    }
    if let Some(net) = b
        .network
        .as_ref()
        .filter(|n| !matches!(n.value.as_str(), "default" | "bridge" | "host" | "none"))
    {
        diags.push(
            Diagnostic::error(Problem::Conflict {
                first: format!("the build network `{}`", net.value),
                second: "a build `secret`, `ssh` or additional context".into(),
                place,
            })
            .with_label(net.span, "a named network")
            .with_label(used, "needs BuildKit")
            .with_help("BuildKit runs `RUN` steps on `default`, `host` or `none`"),
        );
    }
}

/// An additional context is an image, another service's image or a URL: BuildKit takes a
/// folder only through a file sync stackr does not have.
fn check_additional_contexts(
    b: &crate::Build,
    place: &str,
    names: &Names<'_>,
    diags: &mut Diagnostics,
) {
    for c in &b.additional_contexts {
        let value = &c.value;
        if let Some(service) = value.value.strip_prefix("service:") {
            if !names.services.contains(service) {
                let named = Spanned::new(service.to_string(), value.span);
                diags.push(unknown_ref(
                    format!("additional context `{}` of {place}", c.key.value),
                    "service",
                    &named,
                    &names.services,
                    None,
                ));
            }
            continue;
        }
        if !crate::is_named_context_source(&value.value) {
            diags.push(
                Diagnostic::error(Problem::InvalidValue {
                    field: format!("additional context `{}` of {place}", c.key.value),
                    value: value.value.clone(),
                    reason: "stackr sends no folder as an additional context yet (BuildKit takes one through a file sync of its session)".into(),
                })
                .with_label(value.span, "a folder")
                .with_help("use an image (`docker-image://REF`), another service's image (`service:NAME`) or a git or https URL; or copy the folder into the build context"),
            );
        }
    }
}

/// Secrets and configs a service uses that live in a store of the engine (`external`): a
/// single engine has none (`up` would refuse them); the Swarm target will take them.
fn check_external_files(s: &Service, names: &Names<'_>, diags: &mut Diagnostics) {
    let secrets = s.secrets.iter().filter(|f| {
        matches!(
            secret_source(names, &f.name.value),
            Some(SecretSource::External(_))
        )
    });
    let configs = s.configs.iter().filter(|f| {
        matches!(
            config_source(names, &f.name.value),
            Some(ConfigSource::External(_))
        )
    });
    let used = secrets
        .map(|f| ("secret", f, "`file=` or `env=`"))
        .chain(configs.map(|f| ("config", f, "`file=` or `content=`")));
    for (kind, f, sources) in used {
        diags.push(
            Diagnostic::error(Problem::ExternalOnEngine {
                service: s.name.value.clone(),
                kind: kind.into(),
                name: f.name.value.clone(),
            })
            .with_label(f.name.span, "external")
            .with_help(format!(
                "give {kind} `{}` a source stackr reads ({sources}); external ones need a Swarm",
                f.name.value
            )),
        );
    }
}

/// The source of the declared secret `name`.
fn secret_source<'a>(names: &Names<'a>, name: &str) -> Option<&'a SecretSource> {
    let d = names.index.secrets.get(name)?;
    d.source.as_ref().map(|x| &x.value)
}

/// The source of the declared config `name`.
fn config_source<'a>(names: &Names<'a>, name: &str) -> Option<&'a ConfigSource> {
    let d = names.index.configs.get(name)?;
    d.source.as_ref().map(|x| &x.value)
}

/// Where a service's secrets and configs go: never through `..`, and never two at one path
/// (the second would silently hide the first).
fn check_file_targets(s: &Service, diags: &mut Diagnostics) {
    let place = format!("service `{}`", s.name.value);
    let targets = s
        .secrets
        .iter()
        .map(|f| ("secret", f, f.secret_path()))
        .chain(s.configs.iter().map(|f| ("config", f, f.config_path())));
    let mut seen: BTreeMap<String, (&str, &str, Span)> = BTreeMap::new();
    for (kind, f, path) in targets {
        let span = f.target.as_ref().map_or(f.name.span, |t| t.span);
        let wrong = if path.split('/').any(|c| c == "..") {
            Some((
                "through `..`",
                "`..` here",
                "give it a `target` without `..`",
            ))
        } else if path.ends_with('/') {
            // The engine cannot put a file where a directory is named (`/` least of all).
            Some((
                "a directory, not a file",
                "a directory",
                "give it a `target` that names a file, such as `/etc/app/NAME`",
            ))
        } else {
            None
        };
        if let Some((why, label, help)) = wrong {
            diags.push(
                Diagnostic::error(Problem::Other {
                    message: format!("{place}: {kind} `{}` goes to `{path}`, {why}", f.name.value),
                })
                .with_label(span, label)
                .with_help(help),
            );
            continue;
        }
        match seen.get(&path) {
            Some((other_kind, other, other_span)) => diags.push(
                Diagnostic::error(Problem::Other {
                    message: format!(
                        "{place}: {kind} `{}` and {other_kind} `{other}` both go to `{path}`",
                        f.name.value
                    ),
                })
                .with_label(span, "the second")
                .with_label(*other_span, "the first")
                .with_help("give one of them another `target`"),
            ),
            None => {
                seen.insert(path, (kind, &f.name.value, span));
            }
        }
    }
}

/// A read-only root cannot take what is put into the container before it starts: a secret
/// with a target outside `/run/secrets` (a link to its file), an inline config.
fn check_read_only_targets(s: &Service, names: &Names<'_>, diags: &mut Diagnostics) {
    if !s.read_only.as_ref().is_some_and(|r| r.value) {
        return;
    }
    let linked_secrets = s
        .secrets
        .iter()
        .filter(|f| !f.secret_path().starts_with("/run/secrets/"))
        .map(|f| ("secret", f, f.secret_path()));
    let inline_configs = s
        .configs
        .iter()
        .filter(|f| {
            matches!(
                config_source(names, &f.name.value),
                Some(ConfigSource::Content(_))
            )
        })
        // Under /run/secrets it is a file of the secrets volume itself: no link.
        .filter(|f| !f.config_path().starts_with("/run/secrets/"))
        .map(|f| ("config", f, f.config_path()));
    for (kind, f, target) in linked_secrets.chain(inline_configs) {
        let span = f.target.as_ref().map_or(f.name.span, |t| t.span);
        diags.push(
            Diagnostic::error(Problem::ReadOnlyTarget {
                service: s.name.value.clone(),
                kind: kind.into(),
                name: f.name.value.clone(),
                target,
            })
            .with_label(span, "written before the container starts")
            .with_help(if kind == "secret" {
                "give it a `target` under /run/secrets (a relative one), or drop `read-only`"
            } else {
                "give the config `file=` (it is mounted, which a read-only root allows), or drop `read-only`"
            }),
        );
    }
}

/// `config` names configs of the stack.
fn check_config_refs(s: &Service, names: &Names<'_>, diags: &mut Diagnostics) {
    let place = format!("service `{}`", s.name.value);
    let config_names = &names.configs;
    for f in &s.configs {
        if !config_names.contains(f.name.value.as_str()) {
            diags.push(unknown_ref(
                place.to_string(),
                "config",
                &f.name,
                config_names,
                None,
            ));
        }
    }
}

/// `env` values that name secrets.
fn check_env(s: &Service, names: &Names<'_>, diags: &mut Diagnostics) {
    let sname = &s.name.value;
    let secret_names = &names.secrets;
    for var in &s.env {
        if let EnvValue::SecretPath(secret) = &var.value.value
            && !s.secrets.iter().any(|f| f.name.value == *secret)
        {
            let declared = secret_names.contains(secret.as_str());
            let help = if declared {
                format!("add `secret \"{secret}\"` to the service so that it is mounted")
            } else {
                format!(
                    "declare it at top level with `secret \"{secret}\" file=\"PATH\"` and add `secret \"{secret}\"` to the service"
                )
            };
            diags.push(
                Diagnostic::error(Problem::SecretPathNotMounted {
                    service: sname.clone(),
                    name: var.name.value.clone(),
                    secret: secret.clone(),
                })
                .with_label(var.value.span, "not mounted in this service")
                .with_help(help),
            );
        }
    }
}

/// A build's extra tags are image references, its shared memory fits the engine's field
/// (2 GiB), its platform is `OS/ARCH[/VARIANT]`.
fn check_build_options(b: &crate::Build, place: &str, diags: &mut Diagnostics) {
    for t in &b.tags {
        if let Some(reason) = crate::decode::image_problem(&t.value) {
            diags.push(
                Diagnostic::error(Problem::InvalidValue {
                    field: format!("a build tag of {place}"),
                    value: t.value.clone(),
                    reason: reason.into(),
                })
                .with_label(t.span, "not an image reference"),
            );
        }
    }
    if let Some(shm) = &b.shm_size
        && shm.value.0 > i32::MAX as u64
    {
        diags.push(
            Diagnostic::error(Problem::InvalidValue {
                field: format!("the build's `shm-size` of {place}"),
                value: shm.value.to_string(),
                reason: "the engine takes at most 2 GiB for a build".into(),
            })
            .with_label(shm.span, "too large"),
        );
    }
    if let Some(p) = &b.platform {
        let parts: Vec<&str> = p.value.split('/').collect();
        if !(2..=3).contains(&parts.len()) || parts.iter().any(|x| x.is_empty()) {
            diags.push(
                Diagnostic::error(Problem::InvalidValue {
                    field: format!("the build's `platform` of {place}"),
                    value: p.value.clone(),
                    reason: "expected `OS/ARCH` or `OS/ARCH/VARIANT`: `linux/amd64`".into(),
                })
                .with_label(p.span, "not a platform"),
            );
        }
    }
}

/// `pull-policy "build"` needs a build.
fn check_pull_build(s: &Service, diags: &mut Diagnostics) {
    let place = format!("service `{}`", s.name.value);
    if s.build.is_none()
        && let Some(p) = &s.pull_policy
        && p.value == PullPolicy::Build
    {
        diags.push(
            Diagnostic::error(Problem::Other {
                message: format!("{place} has `pull-policy \"build\"` but no `build`"),
            })
            .with_label(p.span, "nothing to build")
            .with_help("add `build \"./DIRECTORY\"`, or use another pull policy"),
        );
    }
}

/// A `rebuild` watch rule needs a build.
fn check_rebuild_watch(s: &Service, diags: &mut Diagnostics) {
    let sname = &s.name.value;
    if s.build.is_none()
        && let Some(rule) = s
            .watch
            .iter()
            .find(|w| w.action.value == WatchAction::Rebuild)
    {
        diags.push(
            Diagnostic::error(Problem::RebuildWithoutBuild {
                service: sname.clone(),
            })
            .with_label(rule.action.span, "needs a build")
            .with_help(
                "add `build \"./DIRECTORY\"`, or use `sync-restart` to copy files in and restart",
            ),
        );
    }
}

/// A `container-name` is one container.
fn check_container_name_scale(s: &Service, diags: &mut Diagnostics) {
    let place = format!("service `{}`", s.name.value);
    if let (Some(cn), Some(scale)) = (&s.container_name, &s.scale)
        && scale.value > 1
    {
        diags.push(
            Diagnostic::error(Problem::Conflict {
                first: "`container-name`".into(),
                second: format!("`scale {}`", scale.value),
                place: place.clone(),
            })
            .with_label(cn.span, "one name")
            .with_label(scale.span, "several containers")
            .with_help("container names are unique: remove `container-name` to scale"),
        );
    }
}

/// A scaled service cannot publish one fixed host port.
fn check_scaled_ports(s: &Service, diags: &mut Diagnostics) {
    if s.scale() > 1
        && let Some(p) = s
            .ports
            .iter()
            .find(|p| p.value.published.is_some_and(|r| r.len() == 1))
    {
        diags.push(
            Diagnostic::error(Problem::PortConflict {
                port: port_label(&p.value),
            })
            .with_label(
                p.span,
                format!("published by each of {} containers", s.scale()),
            )
            .with_help(
                "publish a range as wide as the scale, or let the engine pick: `port \"80\"`",
            ),
        );
    }
}

/// An update that starts the new container first needs the old one's ports and addresses
/// free for a second container.
fn check_start_first(s: &Service, diags: &mut Diagnostics) {
    let Some(order) = s.update.as_ref().and_then(|u| u.order.as_ref()) else {
        return;
    };
    if order.value != crate::model::UpdateOrder::StartFirst {
        return;
    }
    let Some(blocker) = crate::update::start_first_blocker(s) else {
        return;
    };
    let (what, span, label, help) = match blocker {
        crate::update::Blocker::FixedPort { port, span } => (
            format!("host port `{port}`"),
            span,
            "published by the old and the new container during the update",
            "update `order \"stop-first\"`, publish a range wider than the scale \
             (`port \"8000-8003:80\"`), or publish through another service (a proxy in front)",
        ),
        crate::update::Blocker::FixedAddress { address, span } => (
            format!("address `{address}`"),
            span,
            "one container's address",
            "update `order \"stop-first\"`, or let the engine give addresses",
        ),
    };
    diags.push(
        Diagnostic::error(Problem::StartFirstBlocked {
            service: s.name.value.clone(),
            what,
        })
        .with_label(span, label)
        .with_label(order.span, "start-first")
        .with_help(help),
    );
}

/// Ports on internal-only networks are dropped by Docker.
fn check_internal_ports(
    s: &Service,
    names: &Names<'_>,
    is_internal: &dyn Fn(&str) -> bool,
    diags: &mut Diagnostics,
) {
    let sname = &s.name.value;
    // Ports on a service whose every network is internal are dropped by Docker.
    if !s.ports.is_empty() && s.network_mode.is_none() {
        let nets = s.network_names();
        if !nets.is_empty() && nets.iter().all(|n| is_internal(n)) {
            let p = &s.ports[0];
            let mut d = Diagnostic::error(Problem::PortOnInternalNetwork {
                service: sname.clone(),
                port: port_label(&p.value),
            })
            .with_label(p.span, "never reachable");
            for n in &s.networks {
                if let Some(net) = names.index.networks.get(n.name.value.as_str())
                    && let Some(i) = &net.internal
                {
                    d = d.with_label(i.span, format!("`{}` is internal", net.name.value));
                }
            }
            diags.push(
                d.with_help("join a network that is not internal as well, or remove the port"),
            );
        }
    }
}

fn external_conflicts(
    diags: &mut Diagnostics,
    kind: &str,
    name: &Spanned<String>,
    fields: &[(&str, Option<Span>)],
) {
    for (field, span) in fields {
        if let Some(span) = span {
            diags.push(
                Diagnostic::error(Problem::Conflict {
                    first: "`external=#true`".into(),
                    second: format!("`{field}`"),
                    place: format!("{kind} `{}`", name.value),
                })
                .with_label(*span, "not used for an external one")
                .with_label(name.span, format!("external {kind}"))
                .with_help(format!(
                    "an external {kind} is created outside stackr: remove `{field}`"
                )),
            );
        }
    }
}

fn port_label(p: &PortSpec) -> String {
    match (p.host_ip, p.published) {
        (Some(ip), Some(h)) => format!("{ip}:{h}/{}", p.protocol),
        (None, Some(h)) => format!("{h}/{}", p.protocol),
        _ => format!("{}/{}", p.target, p.protocol),
    }
}

/// Whether two published ports would bind the same host port.
fn clashes(p: &PortSpec, q: &PortSpec) -> bool {
    let (Some(a), Some(b)) = (p.published, q.published) else {
        return false;
    };
    let ip_overlap = match (p.host_ip, q.host_ip) {
        (Some(x), Some(y)) => x == y || x.is_unspecified() || y.is_unspecified(),
        _ => true,
    };
    ip_overlap && p.protocol == q.protocol && a.overlaps(&b)
}

/// The ports published so far, to find the first one a new port clashes with without
/// comparing every pair (a stack of a thousand services publishes a thousand ports).
#[derive(Default)]
struct Published<'a> {
    all: Vec<(&'a str, &'a Spanned<PortSpec>)>,
    /// Indices in `all` by protocol and host port, for ranges of at most [`Self::NARROW`].
    by_port: HashMap<(Protocol, u16), Vec<usize>>,
    /// Indices in `all` of wider ranges: compared with every new port.
    wide: Vec<usize>,
}

impl<'a> Published<'a> {
    /// The widest range listed port by port.
    const NARROW: u32 = 64;

    /// The first port published so far that `p` clashes with.
    fn first_clash(&self, p: &PortSpec) -> Option<(&'a str, &'a Spanned<PortSpec>)> {
        let range = p.published?;
        let first = if range.len() <= Self::NARROW {
            (range.start..=range.end)
                .filter_map(|port| self.by_port.get(&(p.protocol, port)))
                .flatten()
                .chain(&self.wide)
                .copied()
                .filter(|&i| clashes(p, &self.all[i].1.value))
                .min()
        } else {
            (0..self.all.len()).find(|&i| clashes(p, &self.all[i].1.value))
        };
        first.map(|i| self.all[i])
    }

    fn add(&mut self, service: &'a str, p: &'a Spanned<PortSpec>) {
        let Some(range) = p.value.published else {
            return;
        };
        let i = self.all.len();
        self.all.push((service, p));
        if range.len() <= Self::NARROW {
            for port in range.start..=range.end {
                self.by_port
                    .entry((p.value.protocol, port))
                    .or_default()
                    .push(i);
            }
        } else {
            self.wide.push(i);
        }
    }
}

fn check_port_conflicts(services: &[Service], diags: &mut Diagnostics) {
    let mut seen = Published::default();
    for s in services {
        for p in &s.ports {
            if let Some((other_service, q)) = seen.first_clash(&p.value) {
                let same = *other_service == s.name.value;
                let first_label = if same {
                    "first published here".to_string()
                } else {
                    format!("published by `{other_service}`")
                };
                diags.push(
                    Diagnostic::error(Problem::PortConflict {
                        port: port_label(&p.value),
                    })
                    .with_label(p.span, format!("published by `{}`", s.name.value))
                    .with_label(q.span, first_label)
                    .with_help(
                        "a host port can be bound once: pick another host port for one of them",
                    ),
                );
                continue;
            }
            seen.add(s.name.value.as_str(), p);
        }
    }
}

/// The services whose namespaces a service joins (`network-mode "service:X"`, `ipc` and
/// `pid` `service:X`), that it links to or takes volumes from: they start before it.
pub fn joined_services(s: &Service) -> Vec<&str> {
    let mut out = Vec::new();
    if let Some(Spanned {
        value: NetworkMode::Service(other),
        ..
    }) = &s.network_mode
    {
        out.push(other.as_str());
    }
    for mode in [&s.options.ipc, &s.options.pid].into_iter().flatten() {
        if let Some(other) = mode.value.strip_prefix("service:")
            && other != s.name.value
        {
            out.push(other);
        }
    }
    for l in &s.options.links {
        let other = crate::options::link_parts(&l.value).0;
        if other != s.name.value && !out.contains(&other) {
            out.push(other);
        }
    }
    for v in &s.options.volumes_from {
        if let crate::options::VolumesFrom::Service(other, _) =
            crate::options::volumes_from_parts(&v.value)
            && other != s.name.value
            && !out.contains(&other)
        {
            out.push(other);
        }
    }
    out
}

/// Checks the dependency graph for cycles; returns the start waves.
fn check_graph(services: &[Service], diags: &mut Diagnostics) -> Vec<Vec<String>> {
    let mut graph: DiGraph<&str, ()> = DiGraph::new();
    let mut index: BTreeMap<&str, NodeIndex> = BTreeMap::new();
    for s in services {
        index.insert(&s.name.value, graph.add_node(&s.name.value));
    }
    let mut implicit: Vec<(&str, &str)> = Vec::new();
    for s in services {
        for other in joined_services(s) {
            implicit.push((s.name.value.as_str(), other));
        }
    }
    for s in services {
        let Some(&from) = index.get(s.name.value.as_str()) else {
            continue;
        };
        for d in &s.depends_on {
            if d.service.value == s.name.value {
                continue;
            }
            if let Some(&to) = index.get(d.service.value.as_str()) {
                graph.add_edge(to, from, ());
            }
        }
    }
    for (svc, other) in &implicit {
        if let (Some(&from), Some(&to)) = (index.get(svc), index.get(other))
            && from != to
            && !graph.contains_edge(to, from)
        {
            graph.add_edge(to, from, ());
        }
    }
    let by_name: HashMap<&str, &Service> = services
        .iter()
        .map(|s| (s.name.value.as_str(), s))
        .collect();
    let mut has_cycle = false;
    // Kosaraju's walk is iterative: a chain of 100,000 dependencies would overflow the
    // stack in Tarjan's recursive one.
    for scc in kosaraju_scc(&graph) {
        if scc.len() < 2 {
            continue;
        }
        has_cycle = true;
        let members: BTreeSet<&str> = scc.iter().map(|i| graph[*i]).collect();
        // Walk the cycle from its alphabetically first member so the report is stable.
        let mut order: Vec<&str> = Vec::new();
        let mut visited: HashSet<&str> = HashSet::new();
        let mut at = *members.iter().next().unwrap_or(&"");
        while visited.insert(at) {
            order.push(at);
            let next = by_name.get(at).and_then(|s| {
                s.depends_on
                    .iter()
                    .map(|d| d.service.value.as_str())
                    .find(|d| members.contains(d) && (!visited.contains(d) || *d == order[0]))
            });
            match next {
                Some(n) => at = n,
                None => break,
            }
        }
        let mut cycle: Vec<String> = order.iter().map(|s| s.to_string()).collect();
        cycle.push(order[0].to_string());
        let mut d = Diagnostic::error(Problem::Cycle {
            cycle: cycle.clone(),
        });
        for pair in cycle.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            if let Some(dep) = by_name
                .get(a.as_str())
                .and_then(|s| s.depends_on.iter().find(|d| d.service.value == *b))
            {
                d = d.with_label(dep.service.span, format!("`{a}` depends on `{b}`"));
            }
        }
        diags.push(d.with_help("services start after what they depend on, so a cycle can never start: remove one of these `depends-on`"));
    }
    if has_cycle {
        return Vec::new();
    }
    // Waves: each service's wave is one more than the highest of its dependencies.
    let mut wave_of: BTreeMap<&str, usize> = BTreeMap::new();
    if let Ok(order) = petgraph::algo::toposort(&graph, None) {
        for i in order {
            let w = graph
                .neighbors_directed(i, petgraph::Direction::Incoming)
                .filter_map(|p| wave_of.get(graph[p]))
                .map(|w| w + 1)
                .max()
                .unwrap_or(0);
            wave_of.insert(graph[i], w);
        }
    }
    let mut waves: Vec<Vec<String>> = Vec::new();
    for (name, w) in wave_of {
        if waves.len() <= w {
            waves.resize(w + 1, Vec::new());
        }
        waves[w].push(name.to_string());
    }
    waves
}

/// Docker's and compose's defaults, written into the model so that every consumer (and
/// `stackr config`) sees the values that apply.
fn fill_defaults(s: &mut Service, target: Target) {
    let at = s.name.span;
    let d = |secs: u64| Some(Spanned::new(std::time::Duration::from_secs(secs), at));
    if let Some(b) = &mut s.build {
        if b.context.is_none() && b.remote.is_none() {
            b.context = Some(Spanned::new(b.dir.clone(), b.span));
        }
        if b.dockerfile.is_none() && b.dockerfile_inline.is_none() {
            b.dockerfile = Some(Spanned::new("Dockerfile".into(), b.span));
        }
    }
    if let Some(h) = &mut s.health
        && h.test.is_some()
    {
        h.interval = h.interval.take().or_else(|| d(30));
        h.timeout = h.timeout.take().or_else(|| d(30));
        h.retries = h.retries.take().or(Some(Spanned::new(3, at)));
        h.start_period = h.start_period.take().or_else(|| d(0));
        h.start_interval = h.start_interval.take().or_else(|| d(5));
    }
    if s.restart.is_none() {
        // Swarm's own default, and `docker stack deploy`'s: a task that ends, or whose node
        // goes, is replaced (a one-shot that others wait for still runs once).
        let default = match target {
            Target::Engine => RestartPolicy::No,
            Target::Swarm => RestartPolicy::Always,
        };
        s.restart = Some(Spanned::new(default, at));
    }
    if s.stop_grace_period.is_none() {
        s.stop_grace_period = d(10);
    }
    if s.pull_policy.is_none() {
        s.pull_policy = Some(Spanned::new(PullPolicy::Missing, at));
    }
}

/// Where watch mode can write: archive uploads into a tmpfs land outside it (invisible in the
/// container), a read-only root filesystem refuses them, and a read-only mount too. A sync
/// target must be on a writable root filesystem, or in a writable volume or bind mount.
fn sync_targets(s: &Service, diags: &mut Diagnostics) {
    let read_only_root = s.read_only.as_ref().is_some_and(|r| r.value);
    for rule in &s.watch {
        let Some(target) = &rule.target else { continue };
        // The deepest mount holding the target.
        let mount = s
            .mounts
            .iter()
            .filter(|m| {
                let t = m.target.value.trim_end_matches('/');
                target.value == t || target.value.starts_with(&format!("{t}/")) || t.is_empty()
            })
            .max_by_key(|m| m.target.value.trim_end_matches('/').len());
        let why = match mount {
            Some(m) if matches!(m.source.value, MountSource::Tmpfs { .. }) => Some((
                format!("is in the tmpfs `{}`", m.target.value),
                "files copied into a running container's tmpfs land beneath it, where the program never sees them: sync into a volume (`mount \"NAME\" \"PATH\"`) instead",
            )),
            Some(m) if m.read_only => Some((
                format!("is in the read-only mount `{}`", m.target.value),
                "drop `read-only=#true` from that mount in the profile you watch with",
            )),
            Some(_) => None,
            None if read_only_root => Some((
                "is on a read-only root filesystem".to_string(),
                "mount a volume at the target (`mount \"NAME\" \"PATH\"`), or drop `read-only` in the profile you watch with",
            )),
            None => None,
        };
        if let Some((why, help)) = why {
            diags.push(
                Diagnostic::error(Problem::UnsyncableTarget {
                    service: s.name.value.clone(),
                    target: target.value.clone(),
                    why,
                })
                .with_label(target.span, "cannot be written")
                .with_help(help),
            );
        }
        // A tmpfs inside the target: what is synced beneath it is invisible.
        let inside = format!("{}/", target.value.trim_end_matches('/'));
        for m in s.mounts.iter().filter(|m| {
            matches!(m.source.value, MountSource::Tmpfs { .. })
                && m.target.value.starts_with(&inside)
        }) {
            let rel = m.target.value[inside.len()..].trim_end_matches('/');
            let ignored = rule.ignore.iter().any(|p| {
                let p = p.value.trim_end_matches("/**").trim_matches('/');
                p == rel
            });
            if ignored {
                continue;
            }
            diags.push(
                Diagnostic::warning(Problem::TmpfsInSyncTarget {
                    service: s.name.value.clone(),
                    tmpfs: m.target.value.clone(),
                    target: target.value.clone(),
                })
                .with_label(target.span, "holds a tmpfs")
                .with_help(format!(
                    "ignore that folder in the rule: `ignore \"/{rel}/\"`"
                )),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::port::PortRange;

    /// Port specs from a small generator: few distinct ports, addresses and protocols, so
    /// that clashes are common; some ranges wider than `Published::NARROW`.
    fn ports(count: usize, mut seed: u64) -> Vec<Spanned<PortSpec>> {
        let mut next = move |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        (0..count)
            .map(|_| {
                let start = 8000 + next(200) as u16;
                let width = [0, 0, 0, 3, 100][next(5) as usize];
                let host_ip = [None, Some("0.0.0.0"), Some("127.0.0.1"), Some("10.0.0.1")]
                    [next(4) as usize]
                    .and_then(|ip| ip.parse().ok());
                let protocol = [Protocol::Tcp, Protocol::Udp][next(2) as usize];
                let published = (next(10) > 0).then_some(PortRange {
                    start,
                    end: start + width,
                });
                Spanned::new(
                    PortSpec {
                        host_ip,
                        published,
                        target: PortRange::single(80),
                        protocol,
                        host_mode: false,
                    },
                    Span::default(),
                )
            })
            .collect()
    }

    #[test]
    fn the_port_index_finds_the_clash_that_comparing_every_pair_finds() {
        for seed in 0..50 {
            let specs = ports(300, seed);
            let mut seen = Published::default();
            let mut pairwise: Vec<&Spanned<PortSpec>> = Vec::new();
            for p in &specs {
                let expected = pairwise.iter().position(|q| clashes(&p.value, &q.value));
                let found = seen.first_clash(&p.value).map(|(_, q)| {
                    pairwise
                        .iter()
                        .position(|r| std::ptr::eq(*r, q))
                        .unwrap_or(usize::MAX)
                });
                assert_eq!(found, expected, "seed {seed}, port {}", p.value);
                if expected.is_none() && p.value.published.is_some() {
                    pairwise.push(p);
                    seen.add("s", p);
                }
            }
        }
    }
}
