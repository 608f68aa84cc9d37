//! The boundary between stackr and a container engine.
//!
//! [`Engine`] is what the reconciler needs from an engine, in plain data: the containers,
//! networks, volumes and images stackr wants ([`ContainerSpec`], [`NetworkSpec`],
//! [`VolumeSpec`], [`BuildSpec`]) and what it observes ([`ContainerInfo`], [`NetworkInfo`],
//! [`VolumeInfo`], [`Event`]). `stackr-docker` implements it over the Docker Engine API;
//! `fake::FakeEngine` (feature `fake`, for tests only) implements it in memory. This crate knows nothing of bollard
//! or of the stack language.

pub mod bases;
pub mod context;
#[cfg(feature = "fake")]
pub mod fake;
pub mod swarm;

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Every object stackr creates carries this label, with the stack's name.
pub const LABEL_STACK: &str = "io.stackr.stack";
/// Containers carry the service they run.
pub const LABEL_SERVICE: &str = "io.stackr.service";
/// Containers carry their number within the service (1, 2, ...).
pub const LABEL_NUMBER: &str = "io.stackr.container-number";
/// Containers carry the hash of everything that, changed, means recreating them.
pub const LABEL_HASH: &str = "io.stackr.spec-hash";
/// Containers carry the spec they were created from (JSON), so a plan can say which field
/// changed. Never holds a secret value: secrets are mounted from files.
pub const LABEL_SPEC: &str = "io.stackr.spec";
/// The container that holds a stack's lock carries this label, with the stack's name (and
/// no `io.stackr.stack`, so that nothing of the stack lists it).
pub const LABEL_LOCK: &str = "io.stackr.lock";
/// The lock's container carries who holds it (`pid PID on HOST`).
pub const LABEL_LOCK_HOLDER: &str = "io.stackr.lock-holder";
/// Short-lived helper containers stackr makes (to fill a volume) carry this label; they are not
/// a service's and are never reported as orphans.
pub const LABEL_HELPER: &str = "io.stackr.helper";
/// A volume stackr makes for itself (not one of the stack file's) carries this label with what
/// it is for (`status`); `down` removes it, `-v` or not.
pub const LABEL_INTERNAL: &str = "io.stackr.internal";
/// A container's secrets volume carries this label, with the container's name.
pub const LABEL_SECRETS_FOR: &str = "io.stackr.secrets-for";
/// The volume holding stackr's probe runner carries this label, with the probe's digest.
pub const LABEL_PROBE: &str = "io.stackr.probe";
/// Images built by stackr carry the hash of their build inputs.
pub const LABEL_BUILD_HASH: &str = "io.stackr.build-hash";
/// On a built image: the images its build started from, with their ids then (see [`bases`]).
pub const LABEL_BUILD_BASES: &str = "io.stackr.build-bases";
/// Containers carry the id of the image they were created from.
pub const LABEL_IMAGE_ID: &str = "io.stackr.image-id";

// The paths stackr uses inside containers: one home, as for the labels above.

/// Where a container's secrets volume is mounted.
pub const SECRETS_DIR: &str = "/run/secrets";
/// The file in a secrets volume that holds the digests of its secrets (never values).
pub const SECRETS_DIGEST_FILE: &str = ".stackr-digest";
/// Where the probe volume is mounted in containers that use native probes or sync rules.
pub const PROBE_DIR: &str = "/.stackr";
/// Where the stack's status volume is mounted in containers that come back by themselves
/// after a daemon restart: their starts and health results, for ordered recovery.
pub const STATUS_DIR: &str = "/.stackr-status";

/// What the engine is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineInfo {
    pub server_version: String,
    pub api_version: String,
    /// Where the engine was reached (`unix:///var/run/docker.sock`, `tcp://...`).
    pub endpoint: String,
}

/// What the engine's machine has: the most a container may be limited to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    /// CPUs the engine sees (a container's `NanoCpus` may not exceed them).
    pub cpus: u32,
}

/// A mount of a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "type")]
pub enum MountSpec {
    /// A named volume (its engine name) or, with `source: None`, an anonymous one.
    // A spec is stored without its default fields (`io.stackr.spec`): each field that can be
    // left out has a default, so that what is stored reads back.
    Volume {
        source: Option<String>,
        target: String,
        #[serde(default)]
        read_only: bool,
        /// A directory inside the volume, mounted instead of its root (Engine API 1.45).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        subpath: Option<String>,
    },
    /// An image's file system, read-only (Engine API 1.47).
    Image {
        image: String,
        target: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        subpath: Option<String>,
    },
    Bind {
        source: PathBuf,
        target: String,
        #[serde(default)]
        read_only: bool,
    },
    Tmpfs {
        target: String,
        size: Option<u64>,
        mode: Option<u32>,
    },
}

/// A published port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortBinding {
    pub container_port: u16,
    /// `tcp`, `udp`, `sctp`.
    pub protocol: String,
    pub host_ip: Option<String>,
    /// `None`: the engine picks one.
    pub host_port: Option<u16>,
}

/// A health check, in Docker's terms.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HealthSpec {
    /// `["CMD", ...]`, `["CMD-SHELL", "..."]` or `["NONE"]`.
    #[serde(default)]
    pub test: Vec<String>,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub retries: Option<u32>,
    pub start_period: Option<Duration>,
    /// Engine API 1.44 and newer only.
    pub start_interval: Option<Duration>,
}

/// A network a container joins.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NetworkAttachment {
    /// The engine-side network name.
    pub network: String,
    /// The network's id, when known: the engine joins by it, so a duplicate name (left by an
    /// interrupted run) is never ambiguous. Not part of what a container is (nor its hash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_id: Option<String>,
    #[serde(default)]
    pub aliases: Vec<String>,
    pub ipv4_address: Option<String>,
    pub ipv6_address: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub link_local_ips: Vec<String>,
    /// Options of the network's driver for this endpoint.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub driver_opts: BTreeMap<String, String>,
    /// The container's MAC address on this network (Engine API 1.44).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<String>,
    /// The default route goes through the gateway of the highest (Engine API 1.48).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gw_priority: Option<i64>,
}

impl NetworkAttachment {
    /// What to name the network by in engine calls: its id when known, else its name.
    pub fn target(&self) -> &str {
        self.network_id.as_deref().unwrap_or(&self.network)
    }
}

/// A ulimit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UlimitSpec {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

/// A container stackr wants.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    pub labels: BTreeMap<String, String>,
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    /// `KEY=value`, in order.
    pub env: Vec<String>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    pub hostname: Option<String>,
    pub tty: bool,
    pub stdin_open: bool,
    /// Close the input once the one attached client goes (`StdinOnce`).
    pub stdin_once: bool,
    /// The engine removes the container once it exits.
    pub auto_remove: bool,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<Duration>,
    /// `8000/tcp`.
    pub exposed_ports: Vec<String>,
    pub health: Option<HealthSpec>,
    pub mounts: Vec<MountSpec>,
    pub ports: Vec<PortBinding>,
    /// `host`, `none`, `container:ID`; `None`: the networks below.
    pub network_mode: Option<String>,
    pub networks: Vec<NetworkAttachment>,
    /// `no`, `always`, `unless-stopped`, `on-failure`.
    pub restart: String,
    pub restart_max_retries: Option<i64>,
    pub init: Option<bool>,
    pub read_only: bool,
    pub privileged: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub security_opt: Vec<String>,
    pub memory: Option<i64>,
    pub memory_reservation: Option<i64>,
    pub nano_cpus: Option<i64>,
    pub pids_limit: Option<i64>,
    pub shm_size: Option<i64>,
    /// `HOST[:CONTAINER[:PERMISSIONS]]`.
    pub devices: Vec<String>,
    pub ulimits: Vec<UlimitSpec>,
    pub sysctls: BTreeMap<String, String>,
    pub log_driver: Option<String>,
    pub log_options: BTreeMap<String, String>,
    /// `HOST:IP`.
    pub extra_hosts: Vec<String>,
    /// DNS, namespaces, cgroups, the runtime, the CPU scheduler's knobs.
    #[serde(skip_serializing_if = "HostOptions::is_empty")]
    pub host: HostOptions,
}

/// The engine's container options beyond the common ones (`docker run --dns`, `--ipc`,
/// `--cgroup-parent`...). Left out of a stored spec when empty, so that specs stored before
/// they existed read back the same.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct HostOptions {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_search: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_options: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domainname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<String>,
    /// `os/arch[/variant]` (a query parameter of the create call).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    /// `host`, `private`, `shareable`, `container:NAME`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipc_mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid_mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uts_mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub userns_mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cgroupns_mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cgroup_parent: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub group_add: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub device_cgroup_rules: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub storage_opt: BTreeMap<String, String>,
    /// OCI annotations; the engine takes them from API 1.43.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oom_kill_disable: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oom_score_adj: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_shares: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_period: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_quota: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpuset_cpus: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_swappiness: Option<i64>,
    /// Memory plus swap, in bytes; -1: unlimited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_swap: Option<i64>,
    /// `CONTAINER:ALIAS`, on every network the container joins.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
    /// `CONTAINER[:ro|rw]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes_from: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub device_requests: Vec<DeviceRequest>,
    #[serde(skip_serializing_if = "BlkioSpec::is_empty")]
    pub blkio: BlkioSpec,
}

/// A request for devices from a driver (GPUs: `docker run --gpus`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DeviceRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// -1: all.
    pub count: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub device_ids: Vec<String>,
    /// One set of capabilities, all required (`["gpu"]`).
    pub capabilities: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
}

/// Block IO weight and per-device limits.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct BlkioSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<u16>,
    /// `(device path, weight)`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub weight_device: Vec<(String, u16)>,
    /// `(device path, bytes a second)`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub read_bps: Vec<(String, u64)>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub write_bps: Vec<(String, u64)>,
    /// `(device path, operations a second)`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub read_iops: Vec<(String, u64)>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub write_iops: Vec<(String, u64)>,
}

impl BlkioSpec {
    pub fn is_empty(&self) -> bool {
        *self == BlkioSpec::default()
    }
}

impl HostOptions {
    pub fn is_empty(&self) -> bool {
        *self == HostOptions::default()
    }

    /// Whether the engine refuses to create the container before another exists: it joins
    /// another's IPC or PID namespace, links to it, or takes its volumes.
    pub fn needs_others_first(&self) -> bool {
        [&self.ipc_mode, &self.pid_mode]
            .iter()
            .any(|m| m.as_deref().is_some_and(|m| m.starts_with("container:")))
            || !self.links.is_empty()
            || !self.volumes_from.is_empty()
    }
}

/// A network stackr wants.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NetworkSpec {
    pub name: String,
    pub driver: Option<String>,
    pub internal: bool,
    /// Containers outside a swarm service may join it (overlay networks only).
    #[serde(default)]
    pub attachable: bool,
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub driver_opts: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub enable_ipv6: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipam: Option<IpamSpec>,
}

/// A network's address management: its driver, pools and options.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct IpamSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    pub pools: Vec<IpamPool>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
}

/// One address pool of a network.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct IpamPool {
    pub subnet: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_range: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub aux_addresses: BTreeMap<String, String>,
}

/// The label of a network made with a driver's options, IPv6 or an ipam: a digest of those
/// settings, which the engine cannot change in place.
pub const LABEL_NETWORK_CONFIG: &str = "io.stackr.network-config";

/// A volume stackr wants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeSpec {
    pub name: String,
    pub driver: Option<String>,
    pub driver_opts: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

/// An image to build.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BuildSpec {
    /// The build context directory; `.dockerignore` in it is honoured.
    pub context: PathBuf,
    /// Relative to the context; with `dockerfile_inline`, the name its text gets in the
    /// context sent ([`context::INLINE_DOCKERFILE`]).
    pub dockerfile: String,
    /// The Dockerfile's text, written in the stack file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dockerfile_inline: Option<String>,
    /// A context the engine fetches itself (a git repository, a tarball's URL) instead of
    /// `context`; `dockerfile` is then a path inside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
    pub target: Option<String>,
    pub args: BTreeMap<String, String>,
    /// The tag the image gets.
    pub tag: String,
    pub labels: BTreeMap<String, String>,
    /// More tags for the built image.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_tags: Vec<String>,
    /// Images whose layers the build may reuse.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cache_from: Vec<String>,
    /// The network `RUN` steps use (`host`, `none`, a network's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// `os/arch[/variant]` to build for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// The size of `/dev/shm` for `RUN` steps, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<u64>,
    /// Secrets `RUN --mount=type=secret,id=ID` steps may read. The build then runs on
    /// BuildKit, which asks stackr for each value while it builds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<BuildSecret>,
    /// Forward the SSH agent of `SSH_AUTH_SOCK` to `RUN --mount=type=ssh` steps (BuildKit).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ssh: bool,
    /// Named contexts by name, as BuildKit takes them (`docker-image://REF`, a URL): `FROM
    /// NAME` and `COPY --from=NAME` use them. BuildKit 0.10 (Engine API 1.42) or newer.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub additional_contexts: BTreeMap<String, String>,
}

impl BuildSpec {
    /// Whether the build needs BuildKit: the classic builder has no secrets, no SSH and no
    /// named contexts.
    pub fn needs_buildkit(&self) -> bool {
        !self.secrets.is_empty() || self.ssh || !self.additional_contexts.is_empty()
    }
}

/// A container the engine made, and what it warned about while making it (a limit the kernel
/// cannot enforce, which the engine drops and says so).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Created {
    pub id: String,
    pub warnings: Vec<String>,
}

/// A secret a build may read, by the id its Dockerfile names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildSecret {
    pub id: String,
    pub source: BuildSecretSource,
}

/// Where a build secret's value is read from, when the builder asks for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BuildSecretSource {
    File(PathBuf),
    Env(String),
}

/// How `attach` connects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttachSpec {
    /// Keys that detach from a container with a terminal (the engine's default: `ctrl-p,ctrl-q`).
    pub detach_keys: Option<String>,
    /// The terminal's size, for a container with a terminal.
    pub size: Option<(u16, u16)>,
}

/// A container's resource use at one moment (`stackr stats`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerStats {
    /// Of one CPU: 150.0 is one and a half CPUs busy.
    pub cpu_percent: f64,
    pub memory_usage: u64,
    /// The container's limit, or the machine's memory.
    pub memory_limit: u64,
    pub net_rx: u64,
    pub net_tx: u64,
    pub block_read: u64,
    pub block_write: u64,
    pub pids: u64,
}

/// What `stackr commit` makes of a container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Commit {
    /// `REPOSITORY[:TAG]`; `None`: an untagged image.
    pub reference: Option<String>,
    pub message: Option<String>,
    pub author: Option<String>,
    /// Dockerfile instructions applied to the image (`CMD ["sh"]`), one per entry.
    pub changes: Vec<String>,
    /// Pause the container while it is committed.
    pub pause: bool,
}

/// A container's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ContainerState {
    Created,
    Running,
    Restarting,
    Paused,
    Exited,
    Removing,
    Dead,
}

impl ContainerState {
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerState::Created => "created",
            ContainerState::Running => "running",
            ContainerState::Restarting => "restarting",
            ContainerState::Paused => "paused",
            ContainerState::Exited => "exited",
            ContainerState::Removing => "removing",
            ContainerState::Dead => "dead",
        }
    }
}

/// A container's health, when it has a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HealthState {
    Starting,
    Healthy,
    Unhealthy,
}

impl HealthState {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::Starting => "starting",
            HealthState::Healthy => "healthy",
            HealthState::Unhealthy => "unhealthy",
        }
    }
}

/// A published port as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedPort {
    pub container_port: u16,
    pub protocol: String,
    pub host_ip: Option<String>,
    pub host_port: Option<u16>,
}

/// A container as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerInfo {
    pub id: String,
    /// Without the leading `/`.
    pub name: String,
    pub image: String,
    pub labels: BTreeMap<String, String>,
    pub state: ContainerState,
    pub exit_code: Option<i64>,
    pub health: Option<HealthState>,
    /// The last health check's output, when the engine reports it (inspect only).
    pub health_output: Option<String>,
    pub ports: Vec<PublishedPort>,
    /// The networks it is attached to, by name (`None`: not reported).
    #[serde(default)]
    pub networks: Option<Vec<String>>,
}

impl ContainerInfo {
    pub fn service(&self) -> Option<&str> {
        self.labels.get(LABEL_SERVICE).map(String::as_str)
    }

    pub fn number(&self) -> Option<u32> {
        self.labels.get(LABEL_NUMBER).and_then(|n| n.parse().ok())
    }
}

/// A network as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkInfo {
    pub id: String,
    pub name: String,
    pub driver: String,
    pub internal: bool,
    pub labels: BTreeMap<String, String>,
    /// When the engine made it, in nanoseconds since the Unix epoch (`None`: not reported).
    #[serde(default)]
    pub created: Option<i128>,
    /// How many containers are attached (inspect only; `None`: not reported).
    #[serde(default)]
    pub attached: Option<usize>,
}

/// A volume as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeInfo {
    pub name: String,
    pub driver: String,
    pub labels: BTreeMap<String, String>,
}

/// An image as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageInfo {
    pub id: String,
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub config: ImageConfig,
    /// `REPOSITORY:TAG` names the image has.
    #[serde(default)]
    pub repo_tags: Vec<String>,
    /// Bytes, when the engine says.
    #[serde(default)]
    pub size: Option<i64>,
}

/// What an image runs when a container sets nothing: what ordered recovery needs to put its
/// wait in front of the image's own command and health check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    /// The image's `HEALTHCHECK` test, as the engine keeps it (`CMD`, `CMD-SHELL`, `NONE`).
    pub health_test: Option<Vec<String>>,
}

/// What happened to a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    Create,
    Start,
    Die { exit_code: i64 },
    Health(HealthState),
    Destroy,
    Other(String),
}

/// As `stackr events` shows it: `start`, `die (exit code 1)`, `health: healthy`.
impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EventKind::Create => f.write_str("create"),
            EventKind::Start => f.write_str("start"),
            EventKind::Die { exit_code } => write!(f, "die (exit code {exit_code})"),
            EventKind::Health(h) => write!(f, "health: {}", h.as_str()),
            EventKind::Destroy => f.write_str("destroy"),
            EventKind::Other(a) => f.write_str(a),
        }
    }
}

/// A container event of the engine's stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub container_id: String,
    pub container_name: String,
    pub service: Option<String>,
    pub kind: EventKind,
    /// When the engine says it happened, in nanoseconds since the Unix epoch.
    pub time_nanos: Option<i64>,
}

/// Which output stream a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogStream {
    Stdout,
    Stderr,
}

/// A chunk of a container's output (usually one line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogChunk {
    pub stream: LogStream,
    pub text: String,
}

/// Options for [`Engine::logs`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// Only output after this Unix time (`logs --since`).
    pub since: Option<i64>,
    /// Only output before this Unix time (`logs --until`).
    pub until: Option<i64>,
    pub follow: bool,
    /// `None`: all lines.
    pub tail: Option<u64>,
    pub timestamps: bool,
}

/// A command to run in a running container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecSpec {
    pub cmd: Vec<String>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    /// `KEY=value`.
    pub env: Vec<String>,
    /// Allocate a pseudo-terminal (output comes as one stream).
    pub tty: bool,
    /// Start it and return at once.
    pub detach: bool,
    /// The terminal's size (columns, rows), for a pseudo-terminal.
    pub size: Option<(u16, u16)>,
    /// Every capability, whatever the container dropped (`exec --privileged`).
    pub privileged: bool,
}

/// The processes of a container, as `ps` shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Processes {
    pub titles: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// An open connection to the engine that keeps a container's input open; dropping it closes
/// the input (and the container, when it runs until its input ends).
pub struct Held(pub Box<dyn std::any::Any + Send>);

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Held")
    }
}

/// What can go wrong talking to an engine.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EngineError {
    #[error("cannot reach the Docker engine at {endpoint}: {reason}")]
    Unreachable { endpoint: String, reason: String },
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("{what} already exists: {message}")]
    Conflict { what: String, message: String },
    #[error("host port already allocated: {message}")]
    PortAllocated { message: String },
    #[error("image `{image}` is not on the engine, and it cannot be pulled here")]
    ImageMissing { image: String },
    #[error("build failed{}: {message}", step.as_ref().map(|s| format!(" at `{s}`")).unwrap_or_default())]
    BuildFailed {
        step: Option<String>,
        message: String,
        /// The last lines of the build's output.
        output: String,
    },
    #[error("the engine refused: {message} (HTTP {status})")]
    Api { status: u16, message: String },
    #[error("{0}")]
    Other(String),
}

impl EngineError {
    /// What to do about it, when there is a clear way out.
    pub fn help(&self) -> Option<&'static str> {
        match self {
            EngineError::Unreachable { .. } => Some(
                "is the Docker daemon running? stackr uses `DOCKER_HOST` when it is set, else the local socket",
            ),
            EngineError::ImageMissing { .. } => Some(
                "no registry can be reached from here: build the image (`build` in the stack file) or load it with `docker load`",
            ),
            EngineError::PortAllocated { .. } => Some(
                "another process or container already listens on that host port: stop it, or publish another port",
            ),
            EngineError::Conflict { .. } => Some(
                "a container or network of that name exists and does not belong to this stack: remove or rename it, or set `container-name`",
            ),
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, EngineError>;

/// What stackr needs from a container engine.
///
/// Every method takes plain data and returns plain data; implementations map their errors to
/// [`EngineError`]. Lists are filtered by the `io.stackr.stack` label.
pub trait Engine: Send + Sync {
    fn info(&self) -> impl Future<Output = Result<EngineInfo>> + Send;
    /// The CPUs of the engine's machine.
    fn resources(&self) -> impl Future<Output = Result<Resources>> + Send;

    /// The stack's containers (stopped ones too).
    fn list_containers(
        &self,
        stack: &str,
    ) -> impl Future<Output = Result<Vec<ContainerInfo>>> + Send;
    /// Every container labelled by stackr, of any stack.
    fn list_all_containers(&self) -> impl Future<Output = Result<Vec<ContainerInfo>>> + Send;
    fn list_networks(&self, stack: &str) -> impl Future<Output = Result<Vec<NetworkInfo>>> + Send;
    fn list_volumes(&self, stack: &str) -> impl Future<Output = Result<Vec<VolumeInfo>>> + Send;

    /// A network by engine name, whoever owns it.
    fn inspect_network(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<NetworkInfo>>> + Send;
    /// A volume by engine name, whoever owns it.
    fn inspect_volume(&self, name: &str)
    -> impl Future<Output = Result<Option<VolumeInfo>>> + Send;
    /// A container by id or name, whoever owns it.
    fn inspect_container(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<ContainerInfo>>> + Send;
    /// An image by reference or id.
    fn inspect_image(
        &self,
        reference: &str,
    ) -> impl Future<Output = Result<Option<ImageInfo>>> + Send;

    fn create_network(&self, spec: &NetworkSpec) -> impl Future<Output = Result<String>> + Send;
    fn remove_network(&self, id: &str) -> impl Future<Output = Result<()>> + Send;
    fn create_volume(&self, spec: &VolumeSpec) -> impl Future<Output = Result<()>> + Send;
    fn remove_volume(&self, name: &str) -> impl Future<Output = Result<()>> + Send;

    /// Creates a container; returns its id and what the engine warned about.
    fn create_container(
        &self,
        spec: &ContainerSpec,
    ) -> impl Future<Output = Result<Created>> + Send;
    fn start_container(&self, id: &str) -> impl Future<Output = Result<()>> + Send;
    /// Stops with the container's stop signal, then kills after `timeout` (the container's own
    /// stop timeout when `None`).
    fn stop_container(
        &self,
        id: &str,
        timeout: Option<Duration>,
    ) -> impl Future<Output = Result<()>> + Send;
    fn kill_container(&self, id: &str, signal: &str) -> impl Future<Output = Result<()>> + Send;
    /// One sample of a container's resource use, with the CPU share since the engine's
    /// previous sample.
    fn stats(&self, id: &str) -> impl Future<Output = Result<ContainerStats>> + Send;
    /// The container's filesystem, as a tar archive.
    fn export_container(&self, id: &str) -> impl Future<Output = Result<Vec<u8>>> + Send;
    /// Makes an image of a container's filesystem; returns the image's id.
    fn commit_container(
        &self,
        id: &str,
        commit: &Commit,
    ) -> impl Future<Output = Result<String>> + Send;
    /// Freezes a running container's processes (the cgroup freezer).
    fn pause_container(&self, id: &str) -> impl Future<Output = Result<()>> + Send;
    /// Thaws a paused container.
    fn unpause_container(&self, id: &str) -> impl Future<Output = Result<()>> + Send;
    /// Removes a container (forcibly), with its anonymous volumes.
    fn remove_container(&self, id: &str) -> impl Future<Output = Result<()>> + Send;
    /// Gives a container another name (running or not); its network aliases stay. A name in
    /// use is a conflict.
    fn rename_container(&self, id: &str, name: &str) -> impl Future<Output = Result<()>> + Send;

    /// Extracts a tar archive into `path` of a container (created or running). Files land in
    /// volumes and bind mounts under `path` as in the container's view; a read-only root
    /// filesystem refuses them.
    /// The files keep the owners written in the archive, unless `as_container_user`: then
    /// the engine gives them the ids of the container's user (Docker's `copyUIDGID`). A
    /// container with a user by name has it looked up by the daemon, in the host's user
    /// database on Engine 20.10, so a name only the image knows fails there.
    fn upload_archive(
        &self,
        id: &str,
        path: &str,
        tar: Vec<u8>,
        as_container_user: bool,
    ) -> impl Future<Output = Result<()>> + Send;

    /// A tar archive of `path` in a container.
    fn download_archive(
        &self,
        id: &str,
        path: &str,
    ) -> impl Future<Output = Result<Vec<u8>>> + Send;

    /// Runs a command in a running container, streaming its output; returns its exit code
    /// (`None` when detached).
    /// `input`, when given, is fed to the command's standard input.
    fn exec(
        &self,
        id: &str,
        spec: &ExecSpec,
        input: Option<BoxStream<'static, Vec<u8>>>,
        output: &(dyn Fn(LogChunk) + Send + Sync),
    ) -> impl Future<Output = Result<Option<i64>>> + Send;

    /// The processes running in a container.
    fn top(&self, id: &str) -> impl Future<Output = Result<Processes>> + Send;

    /// Makes an image of one layer from a tar archive of its files (`docker import`), tagged
    /// `reference`; returns its id.
    fn import_image(
        &self,
        tar: Vec<u8>,
        reference: &str,
    ) -> impl Future<Output = Result<String>> + Send;

    /// Attaches to a running container's main process, as `docker attach` does: `input` goes
    /// to its standard input (when it has one open), its output to `output`, until the
    /// container stops (or the engine's detach keys are typed, with a terminal). Returns
    fn attach(
        &self,
        id: &str,
        opts: &AttachSpec,
        input: Option<BoxStream<'static, Vec<u8>>>,
        output: &(dyn Fn(LogChunk) + Send + Sync),
    ) -> impl Future<Output = Result<()>> + Send;

    /// Attaches to a created container's input and keeps the connection open until the
    /// returned [`Held`] is dropped, or this process dies.
    fn hold_input(&self, id: &str) -> impl Future<Output = Result<Held>> + Send;

    /// Pulls an image from its registry.
    fn pull_image(&self, reference: &str) -> impl Future<Output = Result<()>> + Send;

    /// Pushes a local image to its registry; returns the digest the registry gave it
    /// (`sha256:...`).
    fn push_image(&self, reference: &str) -> impl Future<Output = Result<String>> + Send;

    /// Tags a local image (by id or reference) as `reference`.
    fn tag_image(&self, image: &str, reference: &str) -> impl Future<Output = Result<()>> + Send;

    /// Container events of a stack, from now on. The stream must be subscribed before the
    /// actions it should report are taken (it is opened when this is called).
    fn events(
        &self,
        stack: &str,
    ) -> impl Future<Output = Result<BoxStream<'static, Result<Event>>>> + Send;

    /// Builds an image; `progress` receives the build's output lines. Returns the image id.
    fn build_image(
        &self,
        spec: &BuildSpec,
        progress: &(dyn Fn(&str) + Send + Sync),
    ) -> impl Future<Output = Result<String>> + Send;

    /// A container's output.
    fn logs(
        &self,
        id: &str,
        options: &LogOptions,
    ) -> impl Future<Output = Result<BoxStream<'static, Result<LogChunk>>>> + Send;
}
