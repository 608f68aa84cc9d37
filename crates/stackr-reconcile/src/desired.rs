//! From a [`Stack`] to the objects stackr wants on the engine: the one place where a service
//! becomes a container spec.

use std::collections::BTreeMap;
use std::path::PathBuf;

use sha2::{Digest, Sha256};
use stackr_engine::{
    BuildSpec, ContainerSpec, HealthSpec, LABEL_HASH, LABEL_NUMBER, LABEL_SERVICE, LABEL_SPEC,
    LABEL_STACK, MountSpec, NetworkAttachment, NetworkSpec, PortBinding, UlimitSpec, VolumeSpec,
};
use stackr_spec::{
    Condition, ConfigSource, DEFAULT_NETWORK, EnvValue, HealthTest, MountSource, NetworkMode,
    RestartPolicy, SecretSource, Service, Stack,
};

use crate::ReconcileError;

/// What the caller learnt from the world that the spec alone does not say.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// The image id each image reference resolves to on the engine (a new build or pull
    /// changes it, and so the containers using it).
    pub image_ids: BTreeMap<String, String>,
    /// Variables read from each service's env files and label files, by file path.
    pub env_files: BTreeMap<PathBuf, Vec<(String, String)>>,
    /// The digest of each built image's inputs (context, Dockerfile, target, args), by tag.
    pub build_digests: BTreeMap<String, String>,
    /// The images each build starts from, by tag, with their ids on the engine (`None`: not
    /// there yet, the build pulls it).
    pub build_bases: BTreeMap<String, Vec<(String, Option<String>)>>,
    /// The volume holding stackr's probe runner, for native `http` and `tcp` checks.
    pub probe_volume: Option<String>,
    /// Secret values by secret name, read from their files and variables by the caller. Never
    /// printed, never in a spec, a label or an event.
    pub secrets: BTreeMap<String, SecretValue>,
    /// What each image runs by default, by image reference: ordered recovery puts its wait in
    /// front of it.
    pub image_configs: BTreeMap<String, stackr_engine::ImageConfig>,
    /// The content of each config that a service uses and that comes from a file, by config
    /// name: the Swarm target makes Swarm configs of them (the engine target bind-mounts the
    /// file and leaves this empty).
    pub configs: BTreeMap<String, Vec<u8>>,
}

/// A secret's value; its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(pub Vec<u8>);

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretValue({} bytes)", self.0.len())
    }
}

use stackr_engine::{PROBE_DIR, SECRETS_DIR};

/// A secret file to put into a container's secrets volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretFile {
    /// `secret` or `config` (an inline config is a file of the secrets volume too).
    pub kind: &'static str,
    pub name: String,
    /// The file's path inside the secrets volume (relative to `/run/secrets`).
    pub path: String,
    pub value: SecretValue,
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
    /// For a `target` outside `/run/secrets`: that absolute path, where a symbolic link to
    /// the file is put into the container before it starts (the file itself stays in the
    /// secrets volume, so nothing of the image is hidden by a mount).
    pub link: Option<String>,
}

/// Where the secrets with a `target` outside `/run/secrets` live in the secrets volume.
pub const SECRETS_ELSEWHERE: &str = ".targets";

/// The volume holding a container's secrets.
pub fn secrets_volume(container: &str) -> String {
    format!("{container}_secrets")
}

/// One line per secret, `PATH UID GID MODE SHA256`: what the digest file in a secrets volume
/// holds, so a plan can tell which secret changed without ever reading a value.
pub fn secrets_digest(files: &[SecretFile]) -> String {
    let mut out = String::new();
    for f in files {
        let d = Sha256::digest(&f.value.0);
        let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
        out.push_str(&format!(
            "{} {} {} {:o} {hex}\n",
            f.path, f.uid, f.gid, f.mode
        ));
    }
    out
}

/// A network stackr wants, or uses without owning.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredNetwork {
    /// The name in the stack file.
    pub key: String,
    pub spec: NetworkSpec,
    pub external: bool,
}

/// A volume stackr wants, or uses without owning.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredVolume {
    pub key: String,
    pub spec: VolumeSpec,
    pub external: bool,
}

/// One container of a service.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredContainer {
    pub number: u32,
    pub spec: ContainerSpec,
    /// The hash of everything that, changed, means recreating the container.
    pub hash: String,
    /// The files of its secrets volume (mounted read-only at `/run/secrets`).
    pub secrets: Vec<SecretFile>,
}

/// A dependency edge.
#[derive(Debug, Clone, PartialEq)]
pub struct Dependency {
    pub service: String,
    pub condition: Condition,
    pub restart: bool,
    pub required: bool,
}

/// A service and its containers.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredService {
    pub name: String,
    pub image: String,
    /// Set when the service builds its image.
    pub build: Option<BuildSpec>,
    /// Host commands to run before building, in the build context.
    pub pre_build: Vec<Vec<String>>,
    pub depends_on: Vec<Dependency>,
    pub has_health_check: bool,
    pub containers: Vec<DesiredContainer>,
    /// Hardening warnings the service acknowledges.
    pub acknowledged: Vec<String>,
    /// How a change replaces its containers, and how a failed one is undone.
    pub update: stackr_spec::update::Rollout,
    pub rollback: stackr_spec::update::Rollout,
    /// Its `pre-start` hooks, with the containers they run in.
    pub pre_start: Vec<crate::prestart::PreStart>,
}

/// Everything a stack wants on the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    pub stack: String,
    pub networks: Vec<DesiredNetwork>,
    pub volumes: Vec<DesiredVolume>,
    /// In start order.
    pub services: Vec<DesiredService>,
    pub waves: Vec<Vec<String>>,
}

impl Desired {
    pub fn service(&self, name: &str) -> Option<&DesiredService> {
        self.services.iter().find(|s| s.name == name)
    }
}

fn stack_labels(stack: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(LABEL_STACK.to_string(), stack.to_string())])
}

/// The engine name of a stack's network.
pub fn network_name(stack: &Stack, key: &str) -> String {
    match stack.networks.get(key) {
        Some(n) => match (&n.engine_name, n.is_external()) {
            (Some(name), _) => name.value.clone(),
            (None, true) => key.to_string(),
            (None, false) => format!("{}_{key}", stack.name),
        },
        None => format!("{}_{key}", stack.name),
    }
}

/// The engine name of a stack's volume.
pub fn volume_name(stack: &Stack, key: &str) -> String {
    match stack.volumes.get(key) {
        Some(v) => match (&v.engine_name, v.is_external()) {
            (Some(name), _) => name.value.clone(),
            (None, true) => key.to_string(),
            (None, false) => format!("{}_{key}", stack.name),
        },
        None => format!("{}_{key}", stack.name),
    }
}

/// The image a service runs: its `image`, or `{stack}-{service}` when it builds one.
pub fn image_of(stack: &Stack, s: &Service) -> String {
    match (&s.image, &s.build) {
        (Some(i), _) => i.value.clone(),
        (None, _) => format!("{}-{}", stack.name, s.name.value),
    }
}

/// A container's name: `container-name`, or `{stack}-{service}-{n}` as compose names them.
pub fn container_name(stack: &Stack, s: &Service, n: u32) -> String {
    match &s.container_name {
        Some(c) => c.value.clone(),
        None => format!("{}-{}-{n}", stack.name, s.name.value),
    }
}

/// The container's health check; `true` when it runs stackr's probe (so the probe volume must
/// be mounted).
pub fn health_spec(
    s: &Service,
    inputs: &Inputs,
) -> Result<(Option<HealthSpec>, bool), ReconcileError> {
    let Some(h) = &s.health else {
        return Ok((None, false));
    };
    let probe = |args: Vec<String>| -> Result<Vec<String>, ReconcileError> {
        if inputs.probe_volume.is_none() {
            return Err(ReconcileError::Unsupported {
                service: s.name.value.clone(),
                what: "native `http` and `tcp` probes".into(),
                help: "this build of stackr has no probe runner; use `exec` or `shell`".into(),
            });
        }
        Ok(["CMD".to_string(), format!("{PROBE_DIR}/probe")]
            .into_iter()
            .chain(args)
            .collect())
    };
    let mut uses_probe = false;
    let test = match (&h.test, h.disabled.as_ref().is_some_and(|d| d.value)) {
        (_, true) => vec!["NONE".to_string()],
        (None, false) => Vec::new(),
        (Some(t), false) => match &t.value {
            HealthTest::Exec(args) => std::iter::once("CMD".to_string())
                .chain(args.iter().cloned())
                .collect(),
            HealthTest::Shell(cmd) => vec!["CMD-SHELL".to_string(), cmd.clone()],
            HealthTest::Http(p) => {
                uses_probe = true;
                let mut args = vec![
                    "http".to_string(),
                    p.host.clone().unwrap_or_else(|| "127.0.0.1".into()),
                    p.port.to_string(),
                    p.path.clone(),
                    format!("{}-{}", p.status.0, p.status.1),
                ];
                if let Some(b) = &p.body {
                    args.push(b.clone());
                }
                probe(args)?
            }
            HealthTest::Tcp(p) => {
                uses_probe = true;
                probe(vec![
                    "tcp".to_string(),
                    p.host.clone().unwrap_or_else(|| "127.0.0.1".into()),
                    p.port.to_string(),
                ])?
            }
        },
    };
    Ok((
        Some(HealthSpec {
            test,
            interval: h.interval.as_ref().map(|d| d.value),
            timeout: h.timeout.as_ref().map(|d| d.value),
            retries: h.retries.as_ref().map(|r| r.value),
            start_period: h.start_period.as_ref().map(|d| d.value),
            start_interval: h.start_interval.as_ref().map(|d| d.value),
        }),
        uses_probe,
    ))
}

/// The service's environment: its env files in order, then its `env` (a later one wins).
pub fn service_env(s: &Service, inputs: &Inputs) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = Vec::new();
    for f in &s.env_files {
        if let Some(vars) = inputs.env_files.get(&f.path.value) {
            for (k, v) in vars {
                env.retain(|(e, _)| e != k);
                env.push((k.clone(), v.clone()));
            }
        }
    }
    for var in &s.env {
        let value = match &var.value.value {
            EnvValue::Text(t) => t.clone(),
            EnvValue::SecretPath(name) => s
                .secrets
                .iter()
                .find(|f| f.name.value == *name)
                .map(|f| f.secret_path())
                .unwrap_or_else(|| format!("/run/secrets/{name}")),
            EnvValue::Unset => continue,
        };
        env.retain(|(e, _)| *e != var.name.value);
        env.push((var.name.value.clone(), value));
    }
    env
}

/// A map node's pairs (`sysctls`, logging options) as a map.
pub fn key_values(kv: &[stackr_spec::KeyValue]) -> BTreeMap<String, String> {
    kv.iter()
        .map(|kv| (kv.key.value.clone(), kv.value.value.clone()))
        .collect()
}

/// The options of the service's logging driver.
pub fn log_options(s: &Service) -> BTreeMap<String, String> {
    s.logging
        .as_ref()
        .map(|l| key_values(&l.options))
        .unwrap_or_default()
}

/// The service's extra hosts as `HOST:IP`.
pub fn extra_hosts(s: &Service) -> Vec<String> {
    s.extra_hosts
        .iter()
        .map(|kv| format!("{}:{}", kv.key.value, kv.value.value))
        .collect()
}

/// The service's own mounts: volumes, binds and tmpfs.
fn service_mounts(stack: &Stack, s: &Service) -> Vec<MountSpec> {
    let mut mounts = Vec::new();
    for m in &s.mounts {
        mounts.push(match &m.source.value {
            MountSource::Volume(v) => MountSpec::Volume {
                source: Some(volume_name(stack, v)),
                target: m.target.value.clone(),
                read_only: m.read_only,
                subpath: m.subpath.as_ref().map(|s| s.value.clone()),
            },
            MountSource::Image(image) => MountSpec::Image {
                image: image.clone(),
                target: m.target.value.clone(),
                subpath: m.subpath.as_ref().map(|s| s.value.clone()),
            },
            MountSource::Anonymous => MountSpec::Volume {
                source: None,
                target: m.target.value.clone(),
                read_only: m.read_only,
                subpath: None,
            },
            MountSource::Bind(p) => MountSpec::Bind {
                source: p.clone(),
                target: m.target.value.clone(),
                read_only: m.read_only,
            },
            MountSource::Tmpfs { size, mode } => MountSpec::Tmpfs {
                target: m.target.value.clone(),
                size: size.map(|b| b.0),
                mode: *mode,
            },
        });
    }
    mounts
}

/// The files of the container's secrets volume. Secrets go into a volume of the container's
/// own, with their owner and mode, mounted read-only at /run/secrets: never an environment
/// variable, a label or an image layer.
fn secret_files(
    stack: &Stack,
    s: &Service,
    inputs: &Inputs,
) -> Result<Vec<SecretFile>, ReconcileError> {
    let service = s.name.value.clone();
    let mut secret_files = Vec::new();
    for f in &s.secrets {
        let Some(secret) = stack.secrets.get(&f.name.value) else {
            continue;
        };
        if matches!(
            secret.source.as_ref().map(|x| &x.value),
            Some(SecretSource::External(_)) | None
        ) {
            return Err(ReconcileError::ExternalSecret {
                service: service.clone(),
                secret: f.name.value.clone(),
            });
        }
        let (rel, link) = volume_path(&service, "secret", &f.name.value, f.secret_path())?;
        let Some(value) = inputs.secrets.get(&f.name.value) else {
            return Err(ReconcileError::Internal(format!(
                "the value of secret `{}` was not read",
                f.name.value
            )));
        };
        secret_files.push(SecretFile {
            kind: "secret",
            name: f.name.value.clone(),
            path: rel,
            link,
            value: value.clone(),
            uid: f.uid.as_ref().map_or(0, |u| u.value),
            gid: f.gid.as_ref().map_or(0, |g| g.value),
            mode: f.mode.as_ref().map_or(0o444, |m| m.value),
        });
    }
    secret_files.extend(inline_configs(stack, s)?);
    Ok(secret_files)
}

/// Where a file of the secrets volume lives in it, and the link to it when its target is
/// outside `/run/secrets`.
fn volume_path(
    service: &str,
    kind: &str,
    name: &str,
    path: String,
) -> Result<(String, Option<String>), ReconcileError> {
    if path.split('/').any(|c| c == "..") {
        return Err(ReconcileError::Unsupported {
            service: service.to_string(),
            what: format!("{kind} `{name}` at `{path}`, a path with `..`"),
            help: "give it a `target` without `..`".into(),
        });
    }
    match path.strip_prefix(&format!("{SECRETS_DIR}/")) {
        Some(rel) => Ok((rel.to_string(), None)),
        None => Ok((format!("{SECRETS_ELSEWHERE}{path}"), Some(path.clone()))),
    }
}

/// The service's configs with inline `content`: files of its secrets volume (a config is no
/// secret, but it needs the same: a file the container owns, with its owner and mode, that no
/// host path holds), linked from their target.
fn inline_configs(stack: &Stack, s: &Service) -> Result<Vec<SecretFile>, ReconcileError> {
    let mut files = Vec::new();
    for f in &s.configs {
        let Some(config) = stack.configs.get(&f.name.value) else {
            continue;
        };
        let Some(ConfigSource::Content(text)) = config.source.as_ref().map(|x| &x.value) else {
            continue;
        };
        let (path, link) = volume_path(&s.name.value, "config", &f.name.value, f.config_path())?;
        files.push(SecretFile {
            kind: "config",
            name: f.name.value.clone(),
            path,
            link,
            value: SecretValue(text.as_bytes().to_vec()),
            uid: f.uid.as_ref().map_or(0, |u| u.value),
            gid: f.gid.as_ref().map_or(0, |g| g.value),
            mode: f.mode.as_ref().map_or(0o444, |m| m.value),
        });
    }
    Ok(files)
}

/// The service's configs, bind-mounted read-only from their files.
fn config_mounts(stack: &Stack, s: &Service) -> Result<Vec<MountSpec>, ReconcileError> {
    let mut mounts = Vec::new();
    for f in &s.configs {
        let Some(config) = stack.configs.get(&f.name.value) else {
            continue;
        };
        match config.source.as_ref().map(|x| &x.value) {
            Some(ConfigSource::File(p)) => mounts.push(MountSpec::Bind {
                source: p.clone(),
                target: f.config_path(),
                read_only: true,
            }),
            // A file of the secrets volume (`inline_configs`).
            Some(ConfigSource::Content(_)) => {}
            _ => {
                return Err(ReconcileError::Unsupported {
                    service: s.name.value.clone(),
                    what: format!("external config `{}`", f.name.value),
                    help: "give it `file=` or `content=`; external configs need a Swarm".into(),
                });
            }
        }
    }
    Ok(mounts)
}

/// The engine's bindings of a port spec: one per container port of its range, each on the
/// host port of the same place in the published range (or all on one host port).
pub fn port_bindings(p: &stackr_spec::port::PortSpec) -> Vec<PortBinding> {
    (0..p.target.len())
        .map(|i| PortBinding {
            container_port: p.target.start + i as u16,
            protocol: p.protocol.as_str().into(),
            host_ip: p.host_ip.map(|ip| ip.to_string()),
            host_port: p.published.map(|h| {
                if h.len() == p.target.len() {
                    h.start + i as u16
                } else {
                    h.start
                }
            }),
        })
        .collect()
}

/// The published ports, and the exposed ones (the published ones among them).
fn ports_of(s: &Service) -> (Vec<PortBinding>, Vec<String>) {
    let ports: Vec<PortBinding> = s
        .ports
        .iter()
        .flat_map(|p| port_bindings(&p.value))
        .collect();
    let mut exposed: Vec<String> = s
        .expose
        .iter()
        .flat_map(|e| {
            let (range, proto) = e.value;
            (range.start..=range.end).map(move |p| format!("{p}/{proto}"))
        })
        .collect();
    for p in &ports {
        let e = format!("{}/{}", p.container_port, p.protocol);
        if !exposed.contains(&e) {
            exposed.push(e);
        }
    }
    (ports, exposed)
}

/// The network mode, or the networks joined with their aliases (the service's name first).
fn networking(stack: &Stack, s: &Service) -> (Option<String>, Vec<NetworkAttachment>) {
    let service = s.name.value.clone();
    match &s.network_mode {
        Some(m) => (
            Some(match &m.value {
                NetworkMode::Bridge => "bridge".to_string(),
                NetworkMode::Host => "host".to_string(),
                NetworkMode::None => "none".to_string(),
                NetworkMode::Container(c) => format!("container:{c}"),
                NetworkMode::Service(other) => joined_container(stack, other),
            }),
            Vec::new(),
        ),
        None => {
            let nets: Vec<NetworkAttachment> = if s.networks.is_empty() {
                vec![NetworkAttachment {
                    network: network_name(stack, DEFAULT_NETWORK),
                    aliases: vec![service.clone()],
                    ..NetworkAttachment::default()
                }]
            } else {
                s.networks
                    .iter()
                    .map(|n| {
                        let mut aliases = vec![service.clone()];
                        aliases.extend(n.aliases.iter().map(|a| a.value.clone()));
                        NetworkAttachment {
                            network: network_name(stack, &n.name.value),
                            aliases,
                            ipv4_address: n.ipv4_address.as_ref().map(|a| a.value.clone()),
                            ipv6_address: n.ipv6_address.as_ref().map(|a| a.value.clone()),
                            network_id: None,
                            link_local_ips: n
                                .link_local_ips
                                .iter()
                                .map(|a| a.value.clone())
                                .collect(),
                            driver_opts: key_values(&n.driver_opts),
                            mac_address: n.mac_address.as_ref().map(|a| a.value.clone()),
                            gw_priority: n.gw_priority.as_ref().map(|p| p.value),
                        }
                    })
                    .collect()
            };
            (None, nets)
        }
    }
}

/// The spec of container `n` of service `s`, with its hash. The hash covers the spec (labels
/// included, the hash and spec labels excluded) and the id of the image it runs.
pub fn container_spec(
    stack: &Stack,
    s: &Service,
    n: u32,
    inputs: &Inputs,
) -> Result<DesiredContainer, ReconcileError> {
    spec_of(stack, s, n, inputs, true)
}

/// [`container_spec`], with (`recover`) or without the wait of ordered recovery.
fn spec_of(
    stack: &Stack,
    s: &Service,
    n: u32,
    inputs: &Inputs,
    recover: bool,
) -> Result<DesiredContainer, ReconcileError> {
    let service = s.name.value.clone();
    let mut labels: BTreeMap<String, String> = BTreeMap::new();
    for f in &s.options.label_files {
        if let Some(vars) = inputs.env_files.get(&f.path.value) {
            labels.extend(vars.iter().cloned());
        }
    }
    labels.extend(
        s.labels
            .iter()
            .map(|kv| (kv.key.value.clone(), kv.value.value.clone())),
    );
    labels.insert(LABEL_STACK.into(), stack.name.clone());
    labels.insert(LABEL_SERVICE.into(), service.clone());
    labels.insert(LABEL_NUMBER.into(), n.to_string());
    if let Some(hooks) = crate::hooks::label(s) {
        labels.insert(crate::hooks::LABEL_HOOKS.into(), hooks);
    }

    let env = service_env(s, inputs);

    let mut mounts = service_mounts(stack, s);
    let secret_files = secret_files(stack, s, inputs)?;
    if !secret_files.is_empty() {
        mounts.push(MountSpec::Volume {
            source: Some(secrets_volume(&container_name(stack, s, n))),
            target: SECRETS_DIR.into(),
            read_only: true,
            subpath: None,
        });
    }
    mounts.extend(config_mounts(stack, s)?);

    let (ports, exposed) = ports_of(s);

    let (network_mode, networks) = networking(stack, s);

    let (restart, max_retries) = match s.restart.as_ref().map(|r| &r.value) {
        Some(RestartPolicy::Always) => ("always", None),
        Some(RestartPolicy::UnlessStopped) => ("unless-stopped", None),
        Some(RestartPolicy::OnFailure { max_retries }) => {
            ("on-failure", max_retries.map(i64::from))
        }
        Some(RestartPolicy::No) | None => ("no", None),
    };
    let mut security_opt: Vec<String> = s.security_opt.iter().map(|x| x.value.clone()).collect();
    if s.no_new_privileges.as_ref().is_some_and(|b| b.value)
        && !security_opt
            .iter()
            .any(|o| o.starts_with("no-new-privileges"))
    {
        security_opt.push("no-new-privileges:true".into());
    }
    let flag = |b: &Option<stackr_spec::Spanned<bool>>| b.as_ref().is_some_and(|b| b.value);
    let (health, uses_probe) = health_spec(s, inputs)?;
    // Watch mode removes and compares files through the probe runner too.
    let syncs = s.watch.iter().any(|w| w.target.is_some());
    if (uses_probe || syncs)
        && let Some(volume) = &inputs.probe_volume
    {
        mounts.push(MountSpec::Volume {
            source: Some(volume.clone()),
            target: PROBE_DIR.into(),
            read_only: true,
            subpath: None,
        });
    }

    let mut spec = ContainerSpec {
        name: container_name(stack, s, n),
        image: image_of(stack, s),
        labels,
        command: s.command.as_ref().map(|c| c.value.clone()),
        entrypoint: s.entrypoint.as_ref().map(|c| c.value.clone()),
        env: env.into_iter().map(|(k, v)| format!("{k}={v}")).collect(),
        user: s.user.as_ref().map(|u| u.value.clone()),
        working_dir: s.working_dir.as_ref().map(|u| u.value.clone()),
        hostname: s.hostname.as_ref().map(|u| u.value.clone()),
        tty: flag(&s.tty),
        stdin_open: flag(&s.stdin_open),
        stdin_once: false,
        auto_remove: false,
        stop_signal: s.stop_signal.as_ref().map(|u| u.value.clone()),
        stop_timeout: s.stop_grace_period.as_ref().map(|d| d.value),
        exposed_ports: exposed,
        health,
        mounts,
        ports,
        network_mode,
        networks,
        restart: restart.into(),
        restart_max_retries: max_retries,
        init: s.init.as_ref().map(|b| b.value),
        read_only: flag(&s.read_only),
        privileged: flag(&s.privileged),
        cap_add: s.cap_add.iter().map(|x| x.value.clone()).collect(),
        cap_drop: s.cap_drop.iter().map(|x| x.value.clone()).collect(),
        security_opt,
        memory: s.limits.memory.as_ref().map(|m| m.value.0 as i64),
        memory_reservation: s.reservations.memory.as_ref().map(|m| m.value.0 as i64),
        nano_cpus: s.limits.cpus.as_ref().map(|c| c.value.nano_cpus() as i64),
        pids_limit: s.limits.pids.as_ref().map(|p| p.value),
        shm_size: s.shm_size.as_ref().map(|m| m.value.0 as i64),
        devices: s.devices.iter().map(|x| x.value.clone()).collect(),
        ulimits: s
            .ulimits
            .iter()
            .map(|u| UlimitSpec {
                name: u.name.value.clone(),
                soft: u.soft,
                hard: u.hard,
            })
            .collect(),
        sysctls: key_values(&s.sysctls),
        log_driver: s.logging.as_ref().map(|l| l.driver.value.clone()),
        log_options: log_options(s),
        extra_hosts: extra_hosts(s),
        host: host_options(stack, s),
    };
    if recover {
        crate::recovery::wrap(&mut spec, stack, s, n, inputs);
    }
    let value = serde_json::to_value(&spec).map_err(|e| ReconcileError::Internal(e.to_string()))?;
    // What is stored is what is hashed: the declared fields only.
    let json = crate::hash::pruned(&value).unwrap_or_default().to_string();
    let image_id = inputs
        .image_ids
        .get(&spec.image)
        .map(String::as_str)
        .unwrap_or("");
    let hash = crate::hash::spec_hash(&value, image_id);
    spec.labels.insert(LABEL_HASH.into(), hash.clone());
    spec.labels.insert(LABEL_SPEC.into(), json);
    spec.labels
        .insert(stackr_engine::LABEL_IMAGE_ID.into(), image_id.to_string());
    Ok(DesiredContainer {
        number: n,
        spec,
        hash,
        secrets: secret_files,
    })
}

/// What a one-off (`stackr run`) changes of its service's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OneOff {
    /// `{stack}-{service}-run-{number}`.
    pub number: u32,
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    /// `KEY=VALUE`, over the service's own.
    pub env: Vec<String>,
    /// `-p`: the one-off publishes these, and none of the service's.
    pub ports: Vec<PortBinding>,
    /// `--service-ports`: the service's own published ports (with `ports` too).
    pub service_ports: bool,
    /// `-v`: mounts over the service's (a mount on the same target replaces it).
    pub mounts: Vec<MountSpec>,
    /// `-l KEY=VALUE`: labels over the service's.
    pub labels: BTreeMap<String, String>,
    /// `--name`: the container's name instead of `{stack}-{service}-run-{number}`.
    pub name: Option<String>,
    /// `--use-aliases`: the service's network aliases (the one-off answers to its name).
    pub use_aliases: bool,
}

/// `container:NAME` of the first container of a service whose namespace another joins
/// (`network-mode`, `ipc`, `pid` `service:NAME`).
fn joined_container(stack: &Stack, service: &str) -> String {
    let target = stack
        .services
        .get(service)
        .map_or_else(|| service.to_string(), |o| container_name(stack, o, 1));
    format!("container:{target}")
}

/// A service's container options for the engine. `service:NAME` (sharing another service's
/// IPC or PID namespace) becomes that service's first container.
pub fn host_options(stack: &Stack, s: &Service) -> stackr_engine::HostOptions {
    let o = &s.options;
    let text = |v: &Option<stackr_spec::Spanned<String>>| v.as_ref().map(|x| x.value.clone());
    let list = |v: &[stackr_spec::Spanned<String>]| v.iter().map(|x| x.value.clone()).collect();
    let shared = |v: &Option<stackr_spec::Spanned<String>>| {
        let mode = &v.as_ref()?.value;
        Some(match mode.strip_prefix("service:") {
            Some(other) => joined_container(stack, other),
            None => mode.clone(),
        })
    };
    stackr_engine::HostOptions {
        dns: list(&o.dns),
        dns_search: list(&o.dns_search),
        dns_options: list(&o.dns_opt),
        domainname: text(&o.domainname),
        mac_address: text(&o.mac_address),
        platform: text(&o.platform),
        runtime: text(&o.runtime),
        ipc_mode: shared(&o.ipc),
        pid_mode: shared(&o.pid),
        uts_mode: text(&o.uts),
        userns_mode: text(&o.userns_mode),
        cgroupns_mode: text(&o.cgroup),
        cgroup_parent: text(&o.cgroup_parent),
        group_add: list(&o.group_add),
        device_cgroup_rules: list(&o.device_cgroup_rules),
        storage_opt: key_values(&o.storage_opt),
        annotations: key_values(&o.annotations),
        oom_kill_disable: o.oom_kill_disable.as_ref().map(|b| b.value),
        oom_score_adj: o.oom_score_adj.as_ref().map(|n| n.value),
        cpu_shares: o.cpu_shares.as_ref().map(|n| n.value),
        cpu_period: o.cpu_period.as_ref().map(|n| n.value),
        cpu_quota: o.cpu_quota.as_ref().map(|n| n.value),
        cpuset_cpus: text(&o.cpuset),
        memory_swappiness: o.mem_swappiness.as_ref().map(|n| n.value),
        memory_swap: o.memswap_limit.as_ref().map(|m| {
            if m.value.0 == u64::MAX {
                -1
            } else {
                i64::try_from(m.value.0).unwrap_or(i64::MAX)
            }
        }),
        links: links(stack, s),
        volumes_from: volumes_from(stack, s),
        device_requests: o.gpus.iter().map(device_request).collect(),
        blkio: o.blkio.as_ref().map(blkio).unwrap_or_default(),
    }
}

/// Links as the engine takes them, `CONTAINER:ALIAS`: a service's first container under the
/// alias (compose links every container of it; one name resolves to one container anyway).
fn links(stack: &Stack, s: &Service) -> Vec<String> {
    use stackr_spec::options::link_parts;
    let mut out = Vec::new();
    for l in &s.options.links {
        let (name, alias) = link_parts(&l.value);
        if let Some(other) = stack.services.get(name) {
            out.push(format!("{}:{alias}", container_name(stack, other, 1)));
        }
    }
    for l in &s.options.external_links {
        let (name, alias) = link_parts(&l.value);
        out.push(format!("{name}:{alias}"));
    }
    out
}

/// `volumes-from` as the engine takes it: `CONTAINER[:MODE]`.
fn volumes_from(stack: &Stack, s: &Service) -> Vec<String> {
    use stackr_spec::options::{VolumesFrom, volumes_from_parts};
    s.options
        .volumes_from
        .iter()
        .filter_map(|v| {
            let (name, mode) = match volumes_from_parts(&v.value) {
                VolumesFrom::Service(name, mode) => {
                    (container_name(stack, stack.services.get(name)?, 1), mode)
                }
                VolumesFrom::Container(name, mode) => (name.to_string(), mode),
            };
            Some(match mode {
                Some(m) => format!("{name}:{m}"),
                None => name,
            })
        })
        .collect()
}

fn device_request(g: &stackr_spec::Gpu) -> stackr_engine::DeviceRequest {
    let caps: Vec<String> = g.capabilities.iter().map(|c| c.value.clone()).collect();
    stackr_engine::DeviceRequest {
        driver: g.driver.as_ref().map(|d| d.value.clone()),
        count: if g.device_ids.is_empty() {
            g.count.as_ref().map_or(-1, |c| c.value)
        } else {
            0
        },
        device_ids: g.device_ids.iter().map(|d| d.value.clone()).collect(),
        capabilities: if caps.is_empty() {
            vec!["gpu".into()]
        } else {
            caps
        },
        options: key_values(&g.options),
    }
}

fn blkio(b: &stackr_spec::Blkio) -> stackr_engine::BlkioSpec {
    let weight = |v: u64| u16::try_from(v).unwrap_or(u16::MAX);
    let list = |l: &[stackr_spec::BlkioDevice]| -> Vec<(String, u64)> {
        l.iter()
            .map(|d| (d.path.value.clone(), d.rate.value))
            .collect()
    };
    stackr_engine::BlkioSpec {
        weight: b.weight.as_ref().map(|w| weight(w.value as u64)),
        weight_device: b
            .weight_device
            .iter()
            .map(|d| (d.path.value.clone(), weight(d.rate.value)))
            .collect(),
        read_bps: list(&b.device_read_bps),
        write_bps: list(&b.device_write_bps),
        read_iops: list(&b.device_read_iops),
        write_iops: list(&b.device_write_iops),
    }
}

/// What a service waits for: its `depends-on`, and the services whose namespaces it joins
/// (`network-mode "service:X"`, `ipc`/`pid` `service:X`), which must be started first.
fn dependencies(stack: &Stack, s: &Service) -> Vec<Dependency> {
    let mut out: Vec<Dependency> = s
        .depends_on
        .iter()
        .filter(|d| stack.services.contains_key(&d.service.value))
        .map(|d| Dependency {
            service: d.service.value.clone(),
            condition: d.condition,
            restart: d.restart,
            required: d.required,
        })
        .collect();
    for other in stackr_spec::validate::joined_services(s) {
        if stack.services.contains_key(other) && !out.iter().any(|d| d.service == other) {
            out.push(Dependency {
                service: other.to_string(),
                condition: stackr_spec::Condition::Started,
                restart: false,
                required: true,
            });
        }
    }
    out
}

/// The name of a one-off container.
pub fn one_off_name(stack: &Stack, service: &str, number: u32) -> String {
    format!("{}-{service}-run-{number}", stack.name)
}

/// A one-off container of a service: the service's settings under its own name, with its own
/// secrets volume (never a service container's, which may be recreated while it runs), no
/// published ports but those asked for, no restart policy, no health check, and what `one`
/// overrides. It is a helper (`io.stackr.helper=run`), so no plan counts it as a slot.
pub fn one_off_spec(
    stack: &Stack,
    s: &Service,
    one: &OneOff,
    inputs: &Inputs,
) -> Result<DesiredContainer, ReconcileError> {
    // A one-off has no restart policy: it never comes back by itself, so it never waits.
    let mut want = spec_of(stack, s, 1, inputs, false)?;
    let name = one
        .name
        .clone()
        .unwrap_or_else(|| one_off_name(stack, &s.name.value, one.number));
    rename(&mut want, &name);
    let spec = &mut want.spec;
    for label in [
        LABEL_NUMBER,
        LABEL_HASH,
        LABEL_SPEC,
        crate::hooks::LABEL_HOOKS,
    ] {
        spec.labels.remove(label);
    }
    spec.labels
        .insert(stackr_engine::LABEL_HELPER.into(), "run".into());
    if one.service_ports {
        spec.ports.extend(one.ports.iter().cloned());
    } else {
        spec.ports.clone_from(&one.ports);
    }
    // Not an answer to the service's name unless asked (compose's `run --use-aliases`).
    if !one.use_aliases {
        for n in &mut spec.networks {
            n.aliases.clear();
        }
    }
    for m in &one.mounts {
        let target = mount_target(m);
        spec.mounts.retain(|o| mount_target(o) != target);
        spec.mounts.push(m.clone());
    }
    for (k, v) in &one.labels {
        spec.labels.insert(k.clone(), v.clone());
    }
    spec.restart = "no".into();
    spec.restart_max_retries = None;
    spec.health = None;
    if one.command.is_some() {
        spec.command.clone_from(&one.command);
    }
    if one.entrypoint.is_some() {
        spec.entrypoint.clone_from(&one.entrypoint);
    }
    if one.user.is_some() {
        spec.user.clone_from(&one.user);
    }
    if one.working_dir.is_some() {
        spec.working_dir.clone_from(&one.working_dir);
    }
    for kv in &one.env {
        let key = |e: &str| e.split_once('=').map_or(e, |(k, _)| k).to_string();
        let k = key(kv);
        spec.env.retain(|e| key(e) != k);
        spec.env.push(kv.clone());
    }
    want.hash = String::new();
    want.number = one.number;
    Ok(want)
}

fn mount_target(m: &MountSpec) -> &str {
    match m {
        MountSpec::Volume { target, .. }
        | MountSpec::Bind { target, .. }
        | MountSpec::Image { target, .. }
        | MountSpec::Tmpfs { target, .. } => target,
    }
}

/// Gives a container another name, and with it a secrets volume of its own.
pub(crate) fn rename(want: &mut DesiredContainer, name: &str) {
    let old_secrets = secrets_volume(&want.spec.name);
    for m in &mut want.spec.mounts {
        if let MountSpec::Volume {
            source: Some(src), ..
        } = m
            && *src == old_secrets
        {
            *src = secrets_volume(name);
        }
    }
    want.spec.name = name.to_string();
}

/// The hash of a build's inputs: the build spec itself (the context's content is the
/// engine's business: the image id it produces changes with it).
pub fn build_spec(
    stack: &Stack,
    s: &Service,
    inputs: &Inputs,
) -> Option<(BuildSpec, Vec<Vec<String>>)> {
    let b = s.build.as_ref()?;
    let tag = image_of(stack, s);
    let mut labels = key_values(&b.labels);
    labels.extend(stack_labels(&stack.name));
    if let Some(d) = inputs.build_digests.get(&tag) {
        labels.insert(stackr_engine::LABEL_BUILD_HASH.into(), d.clone());
    }
    if let Some(bases) = inputs.build_bases.get(&tag).filter(|b| !b.is_empty()) {
        labels.insert(
            stackr_engine::LABEL_BUILD_BASES.into(),
            stackr_engine::bases::encode(bases),
        );
    }
    let spec = BuildSpec {
        context: b
            .context
            .as_ref()
            .map(|c| c.value.clone())
            .unwrap_or_else(|| b.dir.clone()),
        dockerfile: match (&b.dockerfile_inline, &b.dockerfile) {
            (Some(_), _) => stackr_engine::context::INLINE_DOCKERFILE.to_string(),
            (None, Some(d)) => d.value.clone(),
            (None, None) => "Dockerfile".to_string(),
        },
        dockerfile_inline: b.dockerfile_inline.as_ref().map(|d| d.value.clone()),
        remote: b.remote.as_ref().map(|r| r.value.clone()),
        target: b.target.as_ref().map(|t| t.value.clone()),
        args: b
            .args
            .iter()
            .map(|kv| (kv.key.value.clone(), kv.value.value.clone()))
            .collect(),
        tag,
        labels,
        extra_tags: b.tags.iter().map(|t| t.value.clone()).collect(),
        cache_from: b.cache_from.iter().map(|t| t.value.clone()).collect(),
        network: b.network.as_ref().map(|t| t.value.clone()),
        platform: b.platform.as_ref().map(|t| t.value.clone()),
        shm_size: b.shm_size.as_ref().map(|t| t.value.0),
        secrets: b
            .secrets
            .iter()
            .filter_map(|f| {
                let source = match &stack.secrets.get(&f.name.value)?.source.as_ref()?.value {
                    stackr_spec::SecretSource::File(p) => {
                        stackr_engine::BuildSecretSource::File(p.clone())
                    }
                    stackr_spec::SecretSource::Env(v) => {
                        stackr_engine::BuildSecretSource::Env(v.clone())
                    }
                    stackr_spec::SecretSource::External(_) => return None,
                };
                Some(stackr_engine::BuildSecret {
                    id: f.id().to_string(),
                    source,
                })
            })
            .collect(),
        ssh: !b.ssh.is_empty(),
        additional_contexts: b
            .additional_contexts
            .iter()
            .map(|kv| {
                let source = &kv.value.value;
                let source = match source.strip_prefix("service:") {
                    Some(other) => match stack.services.get(other) {
                        Some(o) => format!("docker-image://{}", image_of(stack, o)),
                        None => source.clone(),
                    },
                    None => source.clone(),
                };
                (kv.key.value.clone(), source)
            })
            .collect(),
    };
    Some((spec, b.pre_build.iter().map(|c| c.value.clone()).collect()))
}

/// A network's ipam for the engine.
pub fn ipam(i: &stackr_spec::Ipam) -> stackr_engine::IpamSpec {
    stackr_engine::IpamSpec {
        driver: i.driver.as_ref().map(|d| d.value.clone()),
        pools: i
            .subnets
            .iter()
            .map(|s| stackr_engine::IpamPool {
                subnet: s.subnet.value.clone(),
                ip_range: s.ip_range.as_ref().map(|x| x.value.clone()),
                gateway: s.gateway.as_ref().map(|x| x.value.clone()),
                aux_addresses: key_values(&s.aux_addresses),
            })
            .collect(),
        options: key_values(&i.options),
    }
}

/// A digest of the settings of a network the engine cannot change in place (driver options,
/// IPv6, ipam); `None` when it has none, so that networks made before they existed match.
pub fn network_config_digest(spec: &NetworkSpec) -> Option<String> {
    use sha2::{Digest, Sha256};
    if spec.driver_opts.is_empty() && !spec.enable_ipv6 && spec.ipam.is_none() {
        return None;
    }
    let text = serde_json::json!({
        "driver_opts": spec.driver_opts,
        "enable_ipv6": spec.enable_ipv6,
        "ipam": spec.ipam,
    })
    .to_string();
    let digest = Sha256::digest(text.as_bytes());
    Some(digest.iter().take(12).map(|b| format!("{b:02x}")).collect())
}

/// Everything the stack wants.
pub fn desired(stack: &Stack, inputs: &Inputs) -> Result<Desired, ReconcileError> {
    let mut networks = Vec::new();
    for (key, n) in &stack.networks {
        let mut labels: BTreeMap<String, String> = n
            .labels
            .iter()
            .map(|kv| (kv.key.value.clone(), kv.value.value.clone()))
            .collect();
        labels.insert(LABEL_STACK.into(), stack.name.clone());
        let mut spec = NetworkSpec {
            name: network_name(stack, key),
            driver: n.driver.as_ref().map(|d| d.value.clone()),
            internal: n.is_internal(),
            attachable: false,
            labels,
            driver_opts: key_values(&n.driver_opts),
            enable_ipv6: n.enable_ipv6.as_ref().is_some_and(|b| b.value),
            ipam: n.ipam.as_ref().map(ipam),
        };
        if let Some(digest) = network_config_digest(&spec) {
            spec.labels
                .insert(stackr_engine::LABEL_NETWORK_CONFIG.into(), digest);
        }
        networks.push(DesiredNetwork {
            key: key.clone(),
            spec,
            external: n.is_external(),
        });
    }
    let mut volumes = Vec::new();
    for (key, v) in &stack.volumes {
        let mut labels: BTreeMap<String, String> = v
            .labels
            .iter()
            .map(|kv| (kv.key.value.clone(), kv.value.value.clone()))
            .collect();
        labels.insert(LABEL_STACK.into(), stack.name.clone());
        volumes.push(DesiredVolume {
            key: key.clone(),
            spec: VolumeSpec {
                name: volume_name(stack, key),
                driver: v.driver.as_ref().map(|d| d.value.clone()),
                driver_opts: v
                    .driver_opts
                    .iter()
                    .map(|kv| (kv.key.value.clone(), kv.value.value.clone()))
                    .collect(),
                labels,
            },
            external: v.is_external(),
        });
    }
    let mut services = Vec::new();
    for name in stack.waves.iter().flatten() {
        let Some(s) = stack.services.get(name) else {
            continue;
        };
        let containers = (1..=s.scale())
            .map(|n| container_spec(stack, s, n, inputs))
            .collect::<Result<Vec<_>, _>>()?;
        let (build, pre_build) = match build_spec(stack, s, inputs) {
            Some((b, p)) => (Some(b), p),
            None => (None, Vec::new()),
        };
        services.push(DesiredService {
            name: name.clone(),
            image: image_of(stack, s),
            build,
            pre_build,
            depends_on: dependencies(stack, s),
            has_health_check: s.has_health_check(),
            containers,
            acknowledged: s.acknowledge.iter().map(|a| a.value.clone()).collect(),
            update: stackr_spec::update::update_of(s),
            rollback: stackr_spec::update::rollback_of(s),
            pre_start: crate::prestart::of(stack, s, inputs)?,
        });
    }
    let status = crate::recovery::status_volume(&stack.name);
    if services.iter().flat_map(|s| &s.containers).any(|c| {
        c.spec
            .mounts
            .iter()
            .any(|m| matches!(m, MountSpec::Volume { source: Some(v), .. } if *v == status))
    }) {
        volumes.push(crate::recovery::status_volume_spec(&stack.name));
    }
    Ok(Desired {
        stack: stack.name.clone(),
        networks,
        volumes,
        services,
        waves: stack.waves.clone(),
    })
}
