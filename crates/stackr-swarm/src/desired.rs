//! The one place where a stack becomes Swarm objects: a service per stack service (replicas,
//! placement, update and rollback configs), an overlay network per network, and a secret or
//! config per content (its name carries the digest of what it holds, since Swarm's are
//! immutable).

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};
use stackr_engine::swarm::{
    FileKind, FileMount, Placement, RestartSpec, ServiceMode, ServiceMount, ServiceNetwork,
    ServicePort, ServiceSpec, TaskResources, UpdateSpec,
};
use stackr_engine::{
    LABEL_HASH, LABEL_INTERNAL, LABEL_PROBE, LABEL_SERVICE, LABEL_SPEC, LABEL_STACK, NetworkSpec,
    PROBE_DIR, SECRETS_DIR, UlimitSpec,
};
use stackr_reconcile::desired::SecretValue;
use stackr_spec::update::Rollout;
use stackr_spec::{
    Condition, ConfigSource, DEFAULT_NETWORK, MountSource, RestartPolicy, SecretSource, Service,
    Stack,
};

use crate::SwarmError;

/// A secret or config carries the stack-local name it was made for.
pub const LABEL_FILE: &str = "io.stackr.file";
/// The digest of a secret's or config's content (never the content).
pub const LABEL_DIGEST: &str = "io.stackr.digest";
/// What the probe's filler service is.
pub const PROBE_FILLER: &str = "probe";
/// The stack-local name of the probe's filler service.
pub const FILLER_KEY: &str = "stackr-probe";

/// The probe runner on a swarm: its volume (on each node) and the image of the global
/// service that fills it, in a registry every node reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmProbe {
    /// `stackr-probe-{digest}`.
    pub volume: String,
    /// `REGISTRY/stackr-probe:{digest}`, pinned by digest once pushed.
    pub image: String,
}

/// What the desired state needs from the world.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// Variables of each service's env files, by path.
    pub env_files: BTreeMap<std::path::PathBuf, Vec<(String, String)>>,
    /// Secret values by secret name. Never in a spec, a label or an event.
    pub secrets: BTreeMap<String, SecretValue>,
    /// The content of each config read from a file, by config name.
    pub configs: BTreeMap<String, Vec<u8>>,
    /// What each image reference deploys as: pinned by digest once pushed (`REF@sha256:...`).
    pub images: BTreeMap<String, String>,
    /// The digest of each built image's inputs (context, Dockerfile, target, args), by image
    /// reference: in the labels of the services that build it, so that the next `up` knows
    /// the image it deployed is still the one these inputs make, wherever it runs.
    pub build_hashes: BTreeMap<String, String>,
    /// The probe runner, when a service has a native `http`/`tcp` check.
    pub probe: Option<SwarmProbe>,
}

/// A network of the stack, as an overlay network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DesiredNetwork {
    pub key: String,
    pub spec: NetworkSpec,
    pub external: bool,
}

/// A secret or config of the stack, named by its content's digest.
#[derive(Clone, PartialEq, Eq)]
pub struct DesiredFile {
    pub kind: FileKind,
    /// The stack-local name.
    pub key: String,
    /// The swarm-side name: `{stack}_{key}_{digest}`, or the external object's name.
    pub name: String,
    pub digest: String,
    pub data: Vec<u8>,
    pub external: bool,
    /// The stack file's labels for it (a Swarm object's labels cannot change: a change makes
    /// a new one, as a change of content does).
    pub labels: BTreeMap<String, String>,
}

impl std::fmt::Debug for DesiredFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DesiredFile")
            .field("kind", &self.kind)
            .field("key", &self.key)
            .field("name", &self.name)
            .field("data", &format_args!("<{} bytes>", self.data.len()))
            .finish()
    }
}

/// What a service waits for before stackr creates or updates it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dependency {
    /// The stack-local name.
    pub service: String,
    pub condition: Condition,
    pub required: bool,
}

/// A service stackr wants on the swarm.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DesiredService {
    /// The stack-local name (`api`).
    pub key: String,
    pub spec: ServiceSpec,
    /// The hash of the spec, in its labels and its tasks' container labels.
    pub hash: String,
    pub depends_on: Vec<Dependency>,
    /// stackr's own (the probe's filler), not the stack file's.
    pub internal: bool,
}

/// The whole desired state of a stack on a swarm.
#[derive(Debug, Clone)]
pub struct Desired {
    pub stack: String,
    pub networks: Vec<DesiredNetwork>,
    pub files: Vec<DesiredFile>,
    /// In start order: the filler first, then the stack's waves.
    pub services: Vec<DesiredService>,
    /// The engine names of the named volumes services mount (they stay on their nodes).
    pub volumes: Vec<String>,
}

/// `{stack}_{service}`, as `docker stack deploy` names them.
pub fn service_name(stack: &str, key: &str) -> String {
    format!("{stack}_{key}")
}

fn stack_labels(stack: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(LABEL_STACK.to_string(), stack.to_string())])
}

fn digest(data: &[u8]) -> String {
    let d = Sha256::digest(data);
    d.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// The registry host of an image reference, when it names one.
pub fn registry_of(image: &str) -> Option<&str> {
    let (host, _) = image.split_once('/')?;
    (host.contains('.') || host.contains(':') || host == "localhost").then_some(host)
}

/// The registry stackr pushes its own images to (the probe's): that of the first service,
/// by name, whose image names one.
pub fn stack_registry(stack: &Stack) -> Option<String> {
    stack
        .services
        .values()
        .filter_map(|s| s.image.as_ref())
        .find_map(|i| registry_of(&i.value))
        .map(str::to_string)
}

/// Whether any service has a native `http`/`tcp` check.
pub fn uses_probe(stack: &Stack) -> bool {
    stack.services.values().any(|s| {
        s.health.as_ref().is_some_and(|h| {
            h.is_check()
                && h.test.as_ref().is_some_and(|t| {
                    matches!(
                        t.value,
                        stackr_spec::HealthTest::Http(_) | stackr_spec::HealthTest::Tcp(_)
                    )
                })
        })
    })
}

fn files(stack: &Stack, inputs: &Inputs) -> Result<Vec<DesiredFile>, SwarmError> {
    let mut out = Vec::new();
    let used = |kind: FileKind, key: &str| {
        stack.services.values().any(|s| match kind {
            FileKind::Secret => s.secrets.iter().any(|f| f.name.value == key),
            FileKind::Config => s.configs.iter().any(|f| f.name.value == key),
        })
    };
    for (key, secret) in &stack.secrets {
        if !used(FileKind::Secret, key) {
            continue;
        }
        let file = match secret.source.as_ref().map(|s| &s.value) {
            Some(SecretSource::External(name)) => external(FileKind::Secret, key, name),
            _ => {
                let value = inputs.secrets.get(key).ok_or_else(|| {
                    SwarmError::Internal(format!("the value of secret `{key}` was not read"))
                })?;
                owned(
                    &stack.name,
                    FileKind::Secret,
                    key,
                    value.0.clone(),
                    stackr_reconcile::desired::key_values(&secret.labels),
                )
            }
        };
        out.push(file);
    }
    for (key, config) in &stack.configs {
        if !used(FileKind::Config, key) {
            continue;
        }
        let file = match config.source.as_ref().map(|s| &s.value) {
            Some(ConfigSource::External(name)) => external(FileKind::Config, key, name),
            Some(ConfigSource::Content(text)) => owned(
                &stack.name,
                FileKind::Config,
                key,
                text.as_bytes().to_vec(),
                stackr_reconcile::desired::key_values(&config.labels),
            ),
            _ => {
                let data = inputs.configs.get(key).ok_or_else(|| {
                    SwarmError::Internal(format!("the content of config `{key}` was not read"))
                })?;
                owned(
                    &stack.name,
                    FileKind::Config,
                    key,
                    data.clone(),
                    stackr_reconcile::desired::key_values(&config.labels),
                )
            }
        };
        out.push(file);
    }
    Ok(out)
}

fn external(kind: FileKind, key: &str, name: &str) -> DesiredFile {
    DesiredFile {
        kind,
        key: key.to_string(),
        name: name.to_string(),
        digest: String::new(),
        data: Vec::new(),
        external: true,
        labels: BTreeMap::new(),
    }
}

fn owned(
    stack: &str,
    kind: FileKind,
    key: &str,
    data: Vec<u8>,
    labels: BTreeMap<String, String>,
) -> DesiredFile {
    // The labels are part of the name only when there are some, so that the objects made
    // before labels existed keep theirs.
    let digest = if labels.is_empty() {
        digest(&data)
    } else {
        let mut with_labels = data.clone();
        for (k, v) in &labels {
            with_labels.extend_from_slice(format!("\0label\0{k}={v}").as_bytes());
        }
        digest(&with_labels)
    };
    DesiredFile {
        kind,
        key: key.to_string(),
        name: format!("{stack}_{key}_{digest}"),
        digest,
        data,
        external: false,
        labels,
    }
}

/// The labels of a stackr-made secret or config.
pub fn file_labels(stack: &str, f: &DesiredFile) -> BTreeMap<String, String> {
    let mut labels = f.labels.clone();
    labels.extend(stack_labels(stack));
    labels.insert(LABEL_FILE.into(), f.key.clone());
    labels.insert(LABEL_DIGEST.into(), f.digest.clone());
    labels
}

fn network_name(stack: &Stack, key: &str) -> String {
    stackr_reconcile::desired::network_name(stack, key)
}

fn networks(stack: &Stack) -> Vec<DesiredNetwork> {
    stack
        .networks
        .iter()
        .map(|(key, n)| {
            let mut labels = stack_labels(&stack.name);
            labels.extend(stackr_reconcile::desired::key_values(&n.labels));
            DesiredNetwork {
                key: key.clone(),
                spec: NetworkSpec {
                    name: network_name(stack, key),
                    driver: Some("overlay".into()),
                    internal: n.is_internal(),
                    attachable: n.is_attachable(),
                    labels,
                    driver_opts: stackr_reconcile::desired::key_values(&n.driver_opts),
                    enable_ipv6: n.enable_ipv6.as_ref().is_some_and(|b| b.value),
                    ipam: n.ipam.as_ref().map(stackr_reconcile::desired::ipam),
                },
                external: n.is_external(),
            }
        })
        .collect()
}

fn is_job(stack: &Stack, key: &str) -> bool {
    stack.services.values().any(|s| {
        s.depends_on
            .iter()
            .any(|d| d.service.value == key && d.condition == Condition::Completed)
    })
}

fn restart_of(s: &Service, job: bool) -> RestartSpec {
    let (condition, max_attempts) = match s.restart.as_ref().map(|r| &r.value) {
        Some(RestartPolicy::OnFailure { max_retries }) => {
            ("on-failure", max_retries.map(u64::from))
        }
        Some(RestartPolicy::No) => ("none", None),
        // A one-shot that others wait for runs once: a failure is reported, not retried.
        _ if job => ("none", None),
        // Swarm's own default (and `docker stack deploy`'s): a task that ends, or whose node
        // goes, is replaced.
        None | Some(RestartPolicy::Always | RestartPolicy::UnlessStopped) => ("any", None),
    };
    RestartSpec {
        condition: condition.into(),
        max_attempts,
        delay: None,
    }
}

fn update_spec(r: Rollout) -> UpdateSpec {
    UpdateSpec {
        parallelism: u64::from(r.parallelism),
        delay: r.delay,
        failure_action: r.failure_action.as_str().into(),
        monitor: r.monitor,
        max_failure_ratio: r.max_failure_ratio,
        order: r.order.as_str().into(),
    }
}

fn mounts(stack: &Stack, s: &Service) -> Vec<ServiceMount> {
    // Image mounts are refused on a swarm by the stack's checks.
    s.mounts
        .iter()
        .filter_map(|m| {
            Some(match &m.source.value {
                MountSource::Volume(v) => ServiceMount::Volume {
                    source: Some(stackr_reconcile::desired::volume_name(stack, v)),
                    target: m.target.value.clone(),
                    read_only: m.read_only,
                    labels: stack
                        .volumes
                        .get(v)
                        .filter(|v| !v.is_external())
                        .map(|_| stack_labels(&stack.name))
                        .unwrap_or_default(),
                },
                MountSource::Anonymous => ServiceMount::Volume {
                    source: None,
                    target: m.target.value.clone(),
                    read_only: m.read_only,
                    labels: BTreeMap::new(),
                },
                MountSource::Bind(p) => ServiceMount::Bind {
                    source: p.display().to_string(),
                    target: m.target.value.clone(),
                    read_only: m.read_only,
                },
                MountSource::Tmpfs { size, mode } => ServiceMount::Tmpfs {
                    target: m.target.value.clone(),
                    size: size.map(|b| b.0),
                    mode: *mode,
                },
                MountSource::Image(_) => return None,
            })
        })
        .collect()
}

fn file_mounts(s: &Service, files: &[DesiredFile], kind: FileKind) -> Vec<FileMount> {
    let refs = match kind {
        FileKind::Secret => &s.secrets,
        FileKind::Config => &s.configs,
    };
    refs.iter()
        .filter_map(|f| {
            let object = files
                .iter()
                .find(|o| o.kind == kind && o.key == f.name.value)?;
            let target = match kind {
                FileKind::Secret => {
                    let path = f.secret_path();
                    path.strip_prefix(&format!("{SECRETS_DIR}/"))
                        .map(str::to_string)
                        .unwrap_or(path)
                }
                FileKind::Config => f.config_path(),
            };
            Some(FileMount {
                name: object.name.clone(),
                id: None,
                target,
                uid: f.uid.as_ref().map_or(0, |u| u.value).to_string(),
                gid: f.gid.as_ref().map_or(0, |g| g.value).to_string(),
                mode: f.mode.as_ref().map_or(0o444, |m| m.value),
            })
        })
        .collect()
}

fn service_networks(stack: &Stack, s: &Service) -> Vec<ServiceNetwork> {
    let key = s.name.value.clone();
    if s.networks.is_empty() {
        return vec![ServiceNetwork {
            network: network_name(stack, DEFAULT_NETWORK),
            id: None,
            aliases: vec![key],
        }];
    }
    s.networks
        .iter()
        .map(|n| {
            let mut aliases = vec![key.clone()];
            aliases.extend(n.aliases.iter().map(|a| a.value.clone()));
            ServiceNetwork {
                network: network_name(stack, &n.name.value),
                id: None,
                aliases,
            }
        })
        .collect()
}

fn ports(s: &Service) -> Vec<ServicePort> {
    s.ports
        .iter()
        .flat_map(|p| {
            let p = &p.value;
            (0..p.target.len()).map(move |i| {
                let offset = u16::try_from(i).unwrap_or(0);
                ServicePort {
                    target: p.target.start + offset,
                    published: p.published.map(|h| {
                        if h.len() == p.target.len() {
                            h.start + offset
                        } else {
                            h.start
                        }
                    }),
                    protocol: p.protocol.as_str().into(),
                    mode: if p.host_mode { "host" } else { "ingress" }.into(),
                }
            })
        })
        .collect()
}

fn placement(s: &Service) -> Placement {
    let Some(p) = &s.placement else {
        return Placement::default();
    };
    Placement {
        constraints: p.constraints.iter().map(|c| c.value.clone()).collect(),
        spread: p.spread.iter().map(|c| c.value.clone()).collect(),
        max_replicas: p.max_per_node.as_ref().map_or(0, |m| u64::from(m.value)),
    }
}

fn resources(r: &stackr_spec::Resources) -> TaskResources {
    TaskResources {
        nano_cpus: r
            .cpus
            .as_ref()
            .and_then(|c| i64::try_from(c.value.nano_cpus()).ok()),
        memory: r
            .memory
            .as_ref()
            .and_then(|m| i64::try_from(m.value.0).ok()),
        pids: r.pids.as_ref().map(|p| p.value),
    }
}

/// The service spec of `s`, without stackr's hash labels.
fn spec_of(
    stack: &Stack,
    s: &Service,
    files: &[DesiredFile],
    inputs: &Inputs,
) -> Result<ServiceSpec, SwarmError> {
    let key = s.name.value.clone();
    let job = is_job(stack, &key);
    let base = stackr_reconcile::desired::Inputs {
        env_files: inputs.env_files.clone(),
        probe_volume: inputs.probe.as_ref().map(|p| p.volume.clone()),
        ..Default::default()
    };
    let (health, uses_probe) =
        stackr_reconcile::desired::health_spec(s, &base).map_err(|e| SwarmError::Unsupported {
            service: key.clone(),
            what: e.to_string(),
            help: e.help().unwrap_or_default(),
        })?;
    let mut mounts = mounts(stack, s);
    if uses_probe && let Some(p) = &inputs.probe {
        mounts.push(ServiceMount::Volume {
            source: Some(p.volume.clone()),
            target: PROBE_DIR.into(),
            read_only: true,
            labels: BTreeMap::from([(LABEL_PROBE.to_string(), p.volume.clone())]),
        });
    }
    let written = stackr_spec::update::update_of(s);
    let mut labels = stack_labels(&stack.name);
    labels.insert(LABEL_SERVICE.into(), key.clone());
    labels.extend(stackr_reconcile::desired::key_values(&s.labels));
    let image = stackr_reconcile::desired::image_of(stack, s);
    if s.build.is_some()
        && let Some(h) = inputs.build_hashes.get(&image)
    {
        labels.insert(stackr_engine::LABEL_BUILD_HASH.into(), h.clone());
    }
    let scale = u64::from(s.scale());
    Ok(ServiceSpec {
        name: service_name(&stack.name, &key),
        labels,
        container_labels: BTreeMap::new(),
        image: inputs.images.get(&image).cloned().unwrap_or(image),
        entrypoint: s.entrypoint.as_ref().map(|e| e.value.clone()),
        command: s.command.as_ref().map(|c| c.value.clone()),
        env: stackr_reconcile::desired::service_env(s, &base)
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
        user: s.user.as_ref().map(|u| u.value.clone()),
        working_dir: s.working_dir.as_ref().map(|w| w.value.clone()),
        hostname: s.hostname.as_ref().map(|h| h.value.clone()),
        tty: s.tty.as_ref().is_some_and(|t| t.value),
        stdin_open: s.stdin_open.as_ref().is_some_and(|t| t.value),
        init: s.init.as_ref().map(|i| i.value),
        read_only: s.read_only.as_ref().is_some_and(|r| r.value),
        stop_signal: s.stop_signal.as_ref().map(|x| x.value.clone()),
        stop_grace_period: s.stop_grace_period.as_ref().map(|d| d.value),
        health,
        mounts,
        secrets: file_mounts(s, files, FileKind::Secret),
        configs: file_mounts(s, files, FileKind::Config),
        networks: service_networks(stack, s),
        ports: ports(s),
        endpoint_mode: s
            .endpoint_mode
            .as_ref()
            .map(|m| m.value.as_str().to_string()),
        mode: if job {
            ServiceMode::ReplicatedJob {
                max_concurrent: scale.max(1),
                completions: scale,
            }
        } else {
            ServiceMode::Replicated { replicas: scale }
        },
        restart: Some(restart_of(s, job)),
        limits: resources(&s.limits),
        reservations: resources(&s.reservations),
        placement: placement(s),
        update: (s.update.is_some() || s.has_health_check()).then(|| update_spec(written)),
        rollback: s
            .rollback
            .is_some()
            .then(|| update_spec(stackr_spec::update::rollback_of(s))),
        cap_add: s.cap_add.iter().map(|c| c.value.clone()).collect(),
        cap_drop: s.cap_drop.iter().map(|c| c.value.clone()).collect(),
        sysctls: stackr_reconcile::desired::key_values(&s.sysctls),
        ulimits: s
            .ulimits
            .iter()
            .map(|u| UlimitSpec {
                name: u.name.value.clone(),
                soft: u.soft,
                hard: u.hard,
            })
            .collect(),
        log_driver: s.logging.as_ref().map(|l| l.driver.value.clone()),
        log_options: stackr_reconcile::desired::log_options(s),
        extra_hosts: stackr_reconcile::desired::extra_hosts(s),
    })
}

/// Hashes a spec and writes the hash and the spec into its labels (and the hash into its
/// tasks' container labels, so that a task tells which spec it runs).
pub fn sealed(mut spec: ServiceSpec) -> Result<(ServiceSpec, String), SwarmError> {
    let value = serde_json::to_value(&spec).map_err(|e| SwarmError::Internal(e.to_string()))?;
    let hash = stackr_reconcile::hash::spec_hash(&value, "");
    let json = serde_json::to_string(&stackr_reconcile::hash::pruned(&value).unwrap_or_default())
        .map_err(|e| SwarmError::Internal(e.to_string()))?;
    spec.labels.insert(LABEL_HASH.into(), hash.clone());
    spec.labels.insert(LABEL_SPEC.into(), json);
    for key in [LABEL_STACK, LABEL_SERVICE] {
        if let Some(v) = spec.labels.get(key).cloned() {
            spec.container_labels.insert(key.into(), v);
        }
    }
    spec.container_labels
        .insert(LABEL_HASH.into(), hash.clone());
    Ok((spec, hash))
}

/// The global service that puts the probe runner into its volume on every node.
fn filler(stack: &str, probe: &SwarmProbe) -> ServiceSpec {
    let mut labels = stack_labels(stack);
    labels.insert(LABEL_SERVICE.into(), FILLER_KEY.into());
    labels.insert(LABEL_INTERNAL.into(), PROBE_FILLER.into());
    ServiceSpec {
        name: service_name(stack, FILLER_KEY),
        labels,
        image: probe.image.clone(),
        entrypoint: Some(vec!["/probe".into(), "fill".into(), "/fill".into()]),
        mounts: vec![ServiceMount::Volume {
            source: Some(probe.volume.clone()),
            target: "/fill".into(),
            read_only: false,
            labels: BTreeMap::from([(LABEL_PROBE.to_string(), probe.volume.clone())]),
        }],
        mode: ServiceMode::Global,
        restart: Some(RestartSpec {
            condition: "any".into(),
            max_attempts: None,
            delay: None,
        }),
        limits: TaskResources {
            memory: Some(16 << 20),
            ..TaskResources::default()
        },
        ..ServiceSpec::default()
    }
}

/// The desired state of `stack` on a swarm.
pub fn desired(stack: &Stack, inputs: &Inputs) -> Result<Desired, SwarmError> {
    let files = files(stack, inputs)?;
    let mut services = Vec::new();
    if uses_probe(stack) {
        let Some(probe) = &inputs.probe else {
            return Err(SwarmError::ProbeNeedsRegistry);
        };
        let (spec, hash) = sealed(filler(&stack.name, probe))?;
        services.push(DesiredService {
            key: FILLER_KEY.into(),
            spec,
            hash,
            depends_on: Vec::new(),
            internal: true,
        });
    }
    for key in stack.waves.iter().flatten() {
        let Some(s) = stack.services.get(key) else {
            continue;
        };
        let (spec, hash) = sealed(spec_of(stack, s, &files, inputs)?)?;
        let mut depends_on: Vec<Dependency> = s
            .depends_on
            .iter()
            .filter(|d| stack.services.contains_key(&d.service.value))
            .map(|d| Dependency {
                service: d.service.value.clone(),
                condition: d.condition,
                required: d.required,
            })
            .collect();
        if uses_probe_itself(&spec) {
            depends_on.insert(
                0,
                Dependency {
                    service: FILLER_KEY.into(),
                    condition: Condition::Started,
                    required: true,
                },
            );
        }
        services.push(DesiredService {
            key: key.clone(),
            spec,
            hash,
            depends_on,
            internal: false,
        });
    }
    let mut volumes: Vec<String> = stack
        .services
        .values()
        .flat_map(|s| s.mounts.iter())
        .filter_map(|m| match &m.source.value {
            MountSource::Volume(v) => Some(stackr_reconcile::desired::volume_name(stack, v)),
            _ => None,
        })
        .collect();
    volumes.sort();
    volumes.dedup();
    Ok(Desired {
        stack: stack.name.clone(),
        networks: networks(stack),
        files,
        services,
        volumes,
    })
}

fn uses_probe_itself(spec: &ServiceSpec) -> bool {
    spec.health
        .as_ref()
        .is_some_and(|h| h.test.get(1).is_some_and(|p| p.starts_with(PROBE_DIR)))
}
