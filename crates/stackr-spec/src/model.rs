//! The typed model of a stack.
//!
//! The same declaration types serve two layers: what one file (or one profile block) declares,
//! where every field is optional so that overlays can be merged, and the validated [`Stack`],
//! which only [`crate::validate`] constructs. Values keep their [`Span`] so later stages can
//! point at the text that asked for them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Serialize;

use crate::port::{PortRange, PortSpec, Protocol};
use crate::source::{FileId, Span, Spanned};
use crate::units::{ByteSize, Cpus};

/// A `key value` pair from a map node such as `env`, `labels` or `sysctls`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct KeyValue {
    pub key: Spanned<String>,
    pub value: Spanned<String>,
}

/// The value of an environment variable.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum EnvValue {
    Text(String),
    /// `(secret)"name"`: the path where that secret is mounted in the container.
    SecretPath(String),
    /// `#null`: the variable is removed (an overlay can unset what the base set).
    Unset,
}

/// One environment variable.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct EnvVar {
    pub name: Spanned<String>,
    pub value: Spanned<EnvValue>,
}

/// `env-file "path" required=#false`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct EnvFile {
    pub path: Spanned<PathBuf>,
    pub required: bool,
}

/// `build`: how to build the service's image.
#[derive(Debug, Clone, PartialEq, Default, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Build {
    #[serde(skip)]
    pub span: Span,
    /// The directory of the file that declared the build: the context when none is given.
    #[serde(skip)]
    pub dir: PathBuf,
    pub context: Option<Spanned<PathBuf>>,
    /// A remote context instead: a git repository (`https://host/repo.git#ref:dir`,
    /// `git@host:repo.git`) or a tarball's URL, which the engine fetches itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote: Option<Spanned<String>>,
    pub dockerfile: Option<Spanned<String>>,
    /// The Dockerfile's text, written in the stack file (compose's `dockerfile_inline`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dockerfile_inline: Option<Spanned<String>>,
    pub target: Option<Spanned<String>>,
    pub args: Vec<KeyValue>,
    /// Host commands run, in order, in the build context before the image build.
    pub pre_build: Vec<Spanned<Vec<String>>>,
    /// More tags for the built image.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Spanned<String>>,
    /// Labels of the built image.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<KeyValue>,
    /// Images whose layers the build may reuse.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cache_from: Vec<Spanned<String>>,
    /// The network of `RUN` steps: `host`, `none` or a network's engine name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<Spanned<String>>,
    /// `os/arch[/variant]` to build for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<Spanned<String>>,
    /// `/dev/shm` of `RUN` steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<Spanned<ByteSize>>,
    /// Stack secrets `RUN --mount=type=secret` steps may read (the build runs on BuildKit).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<BuildSecret>,
    /// SSH agents `RUN --mount=type=ssh` steps may use: `default`, the agent of
    /// `SSH_AUTH_SOCK` (the build runs on BuildKit).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ssh: Vec<Spanned<String>>,
    /// Named contexts `FROM NAME` and `COPY --from=NAME` may use: an image
    /// (`docker-image://REF`), another service's image (`service:NAME`) or a URL.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub additional_contexts: Vec<KeyValue>,
}

/// `secret "NAME" id="ID"` in a build: a stack secret, by the id the Dockerfile names.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct BuildSecret {
    #[serde(skip)]
    pub span: Span,
    pub name: Spanned<String>,
    /// The id in `RUN --mount=type=secret,id=ID`; the secret's name when left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Spanned<String>>,
}

impl BuildSecret {
    /// The id the Dockerfile names.
    pub fn id(&self) -> &str {
        self.id.as_ref().map_or(&self.name.value, |i| &i.value)
    }
}

/// What a mount attaches.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum MountSource {
    /// A volume declared at top level, by its stack-local name.
    Volume(String),
    /// An anonymous volume.
    Anonymous,
    /// A host path (absolute after decoding).
    Bind(PathBuf),
    /// An image's file system, read-only.
    Image(String),
    /// A tmpfs mount.
    Tmpfs {
        size: Option<ByteSize>,
        mode: Option<u32>,
    },
}

/// `mount SOURCE TARGET`, `tmpfs TARGET`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Mount {
    #[serde(skip)]
    pub span: Span,
    pub source: Spanned<MountSource>,
    pub target: Spanned<String>,
    pub read_only: bool,
    /// A directory inside the volume or image, mounted instead of its root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subpath: Option<Spanned<String>>,
}

/// A network a service joins.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct ServiceNetwork {
    pub name: Spanned<String>,
    pub aliases: Vec<Spanned<String>>,
    pub ipv4_address: Option<Spanned<String>>,
    pub ipv6_address: Option<Spanned<String>>,
    /// Link-local addresses the container also has on this network.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub link_local_ips: Vec<Spanned<String>>,
    /// Options of the network's driver for this endpoint.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub driver_opts: Vec<KeyValue>,
    /// The container's MAC address on this network (Engine API 1.44).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<Spanned<String>>,
    /// Which network's gateway is the default route: the highest (Engine API 1.48).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gw_priority: Option<Spanned<i64>>,
}

impl ServiceNetwork {
    /// A network joined by name only.
    pub fn named(name: Spanned<String>) -> ServiceNetwork {
        ServiceNetwork {
            name,
            aliases: Vec::new(),
            ipv4_address: None,
            ipv6_address: None,
            link_local_ips: Vec::new(),
            driver_opts: Vec::new(),
            mac_address: None,
            gw_priority: None,
        }
    }
}

/// `network-mode`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum NetworkMode {
    Bridge,
    Host,
    None,
    Service(String),
    Container(String),
}

/// An HTTP probe run by stackr, not by a tool in the image.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct HttpProbe {
    pub port: u16,
    pub path: String,
    pub host: Option<String>,
    /// Accepted status codes, inclusive.
    pub status: (u16, u16),
    /// A substring the body must contain.
    pub body: Option<String>,
}

/// A TCP probe run by stackr: healthy when a connection opens.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct TcpProbe {
    pub port: u16,
    pub host: Option<String>,
}

/// The test a health check runs.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum HealthTest {
    /// Run by Docker without a shell.
    Exec(Vec<String>),
    /// Run by Docker with `/bin/sh -c`.
    Shell(String),
    Http(HttpProbe),
    Tcp(TcpProbe),
}

/// `health { ... }`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Health {
    #[serde(skip)]
    pub span: Span,
    /// `None`: keep the image's own test (timings may still be changed).
    pub test: Option<Spanned<HealthTest>>,
    #[serde(serialize_with = "crate::serde_util::opt_duration")]
    #[schemars(with = "Option<crate::serde_util::DurationText>")]
    pub interval: Option<Spanned<Duration>>,
    #[serde(serialize_with = "crate::serde_util::opt_duration")]
    #[schemars(with = "Option<crate::serde_util::DurationText>")]
    pub timeout: Option<Spanned<Duration>>,
    pub retries: Option<Spanned<u32>>,
    #[serde(serialize_with = "crate::serde_util::opt_duration")]
    #[schemars(with = "Option<crate::serde_util::DurationText>")]
    pub start_period: Option<Spanned<Duration>>,
    #[serde(serialize_with = "crate::serde_util::opt_duration")]
    #[schemars(with = "Option<crate::serde_util::DurationText>")]
    pub start_interval: Option<Spanned<Duration>>,
    /// `disable #true`: turn off the image's health check.
    pub disabled: Option<Spanned<bool>>,
}

impl Health {
    /// Whether this health block gives the service a check (its own or the image's).
    pub fn is_check(&self) -> bool {
        self.test.is_some() && !self.disabled.as_ref().is_some_and(|d| d.value)
    }
}

/// When a dependency counts as ready.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Condition {
    #[default]
    Started,
    Healthy,
    Completed,
}

impl Condition {
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::Started => "started",
            Condition::Healthy => "healthy",
            Condition::Completed => "completed",
        }
    }
}

/// `depends-on "service" condition=... restart=... required=...`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Dependency {
    #[serde(skip)]
    pub span: Span,
    pub service: Spanned<String>,
    pub condition: Condition,
    /// Restart this service when the dependency is restarted or recreated.
    pub restart: bool,
    /// `required=#false`: go on without it when it is not enabled or fails to start.
    pub required: bool,
}

/// `restart`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    No,
    Always,
    UnlessStopped,
    OnFailure { max_retries: Option<u32> },
}

/// `pull-policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PullPolicy {
    Always,
    Missing,
    Never,
    Build,
}

/// `limits` or `reservations`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Resources {
    pub cpus: Option<Spanned<Cpus>>,
    pub memory: Option<Spanned<ByteSize>>,
    pub pids: Option<Spanned<i64>>,
}

impl Resources {
    pub fn is_empty(&self) -> bool {
        self.cpus.is_none() && self.memory.is_none() && self.pids.is_none()
    }
}

/// `ulimit "nofile" soft=1024 hard=2048`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Ulimit {
    pub name: Spanned<String>,
    pub soft: i64,
    pub hard: i64,
}

/// `logging "driver" { options ... }`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Logging {
    pub driver: Spanned<String>,
    pub options: Vec<KeyValue>,
}

/// A secret or config a service mounts.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct FileRef {
    pub name: Spanned<String>,
    pub target: Option<Spanned<String>>,
    pub uid: Option<Spanned<u32>>,
    pub gid: Option<Spanned<u32>>,
    pub mode: Option<Spanned<u32>>,
}

impl FileRef {
    /// Where a secret is mounted: its `target` (absolute, or relative to `/run/secrets`), or
    /// `/run/secrets/NAME`.
    pub fn secret_path(&self) -> String {
        match &self.target {
            Some(t) if t.value.starts_with('/') => t.value.clone(),
            Some(t) => format!("/run/secrets/{}", t.value),
            None => format!("/run/secrets/{}", self.name.value),
        }
    }

    /// Where a config is mounted: its `target`, or `/NAME`.
    pub fn config_path(&self) -> String {
        match &self.target {
            Some(t) if t.value.starts_with('/') => t.value.clone(),
            Some(t) => format!("/{}", t.value),
            None => format!("/{}", self.name.value),
        }
    }
}

/// What a watch rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum WatchAction {
    Sync,
    Rebuild,
    /// Restart the container (nothing is copied).
    Restart,
    SyncRestart,
    SyncExec,
}

impl WatchAction {
    pub fn as_str(self) -> &'static str {
        match self {
            WatchAction::Sync => "sync",
            WatchAction::Rebuild => "rebuild",
            WatchAction::Restart => "restart",
            WatchAction::SyncRestart => "sync-restart",
            WatchAction::SyncExec => "sync-exec",
        }
    }
}

/// One `watch` rule.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct WatchRule {
    pub action: Spanned<WatchAction>,
    /// The host path watched (absolute after decoding).
    pub path: Spanned<PathBuf>,
    /// Where files are synced in the container.
    pub target: Option<Spanned<String>>,
    /// The command `sync-exec` runs in the container after a sync.
    pub exec: Option<Spanned<Vec<String>>>,
    /// How it runs: `exec ... user="..." workdir="..." privileged=#true`, and `env` pairs.
    pub exec_user: Option<Spanned<String>>,
    pub exec_workdir: Option<Spanned<String>>,
    pub exec_privileged: Option<Spanned<bool>>,
    pub exec_env: Vec<KeyValue>,
    /// Gitignore patterns, relative to `path`.
    pub ignore: Vec<Spanned<String>>,
    /// Globs: when any are given, only matching files trigger the rule.
    pub include: Vec<Spanned<String>>,
}

/// A service.
#[derive(Debug, Clone, PartialEq, Default, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Service {
    /// The whole `service` node.
    #[serde(skip)]
    pub span: Span,
    pub name: Spanned<String>,
    pub image: Option<Spanned<String>>,
    pub build: Option<Box<Build>>,
    pub command: Option<Spanned<Vec<String>>>,
    pub entrypoint: Option<Spanned<Vec<String>>>,
    pub env: Vec<EnvVar>,
    pub env_files: Vec<EnvFile>,
    pub ports: Vec<Spanned<PortSpec>>,
    pub expose: Vec<Spanned<(PortRange, Protocol)>>,
    pub mounts: Vec<Mount>,
    pub networks: Vec<ServiceNetwork>,
    pub network_mode: Option<Spanned<NetworkMode>>,
    pub health: Option<Box<Health>>,
    pub depends_on: Vec<Dependency>,
    pub restart: Option<Spanned<RestartPolicy>>,
    pub scale: Option<Spanned<u32>>,
    pub container_name: Option<Spanned<String>>,
    pub user: Option<Spanned<String>>,
    pub working_dir: Option<Spanned<String>>,
    pub labels: Vec<KeyValue>,
    pub init: Option<Spanned<bool>>,
    pub tty: Option<Spanned<bool>>,
    pub stdin_open: Option<Spanned<bool>>,
    pub stop_signal: Option<Spanned<String>>,
    #[serde(serialize_with = "crate::serde_util::opt_duration")]
    #[schemars(with = "Option<crate::serde_util::DurationText>")]
    pub stop_grace_period: Option<Spanned<Duration>>,
    pub limits: Resources,
    pub reservations: Resources,
    pub shm_size: Option<Spanned<ByteSize>>,
    pub devices: Vec<Spanned<String>>,
    pub read_only: Option<Spanned<bool>>,
    pub privileged: Option<Spanned<bool>>,
    pub cap_add: Vec<Spanned<String>>,
    pub cap_drop: Vec<Spanned<String>>,
    pub no_new_privileges: Option<Spanned<bool>>,
    pub security_opt: Vec<Spanned<String>>,
    pub ulimits: Vec<Ulimit>,
    pub sysctls: Vec<KeyValue>,
    pub logging: Option<Logging>,
    pub extra_hosts: Vec<KeyValue>,
    pub hostname: Option<Spanned<String>>,
    pub pull_policy: Option<Spanned<PullPolicy>>,
    pub secrets: Vec<FileRef>,
    pub configs: Vec<FileRef>,
    pub watch: Vec<WatchRule>,
    /// Hardening warnings of `plan` this service acknowledges: `root`, `no-memory-limit`,
    /// `writable-root`.
    pub acknowledge: Vec<Spanned<String>>,
    /// How its containers are replaced when the service changes (Swarm's `update_config`).
    pub update: Option<Box<UpdatePolicy>>,
    /// How they are put back after a failed update (Swarm's `rollback_config`).
    pub rollback: Option<Box<UpdatePolicy>>,
    /// Run before stackr starts the service (once, or before each replica), in order, each in
    /// a container of its own.
    pub pre_start: Vec<Hook>,
    /// Run in each container after stackr starts it, in order.
    pub post_start: Vec<Hook>,
    /// Run in each running container before stackr stops it, in order.
    pub pre_stop: Vec<Hook>,
    /// Swarm target: where its tasks may run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    /// Swarm target: how other services reach it: one virtual IP (`vip`) or every task's
    /// address by DNS (`dnsrr`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_mode: Option<Spanned<EndpointMode>>,
    /// What compose passes straight to the engine: DNS, namespaces, cgroups, the runtime, the
    /// CPU scheduler's knobs (written at the service's level in the stack file too).
    #[serde(flatten)]
    pub options: Box<ContainerOptions>,
}

/// The engine's container options a service may set beyond the common ones, each as compose
/// names it (`dns`, `ipc`, `cgroup_parent`...). Empty ones are left out of `config`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct ContainerOptions {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<Spanned<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_search: Vec<Spanned<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_opt: Vec<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domainname: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<Spanned<String>>,
    /// `os/arch[/variant]` of the image to run (and build).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<Spanned<String>>,
    /// The OCI runtime (`runc`, `runsc`...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime: Option<Spanned<String>>,
    /// `host`, `private`, `shareable`, `service:NAME` or `container:NAME`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipc: Option<Spanned<String>>,
    /// `host`, `service:NAME` or `container:NAME`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<Spanned<String>>,
    /// `host`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uts: Option<Spanned<String>>,
    /// `host`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub userns_mode: Option<Spanned<String>>,
    /// The cgroup namespace: `host` or `private`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cgroup_parent: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub group_add: Vec<Spanned<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub device_cgroup_rules: Vec<Spanned<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub storage_opt: Vec<KeyValue>,
    /// OCI annotations (Engine API 1.43 and later).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub annotations: Vec<KeyValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oom_kill_disable: Option<Spanned<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oom_score_adj: Option<Spanned<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_shares: Option<Spanned<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_period: Option<Spanned<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_quota: Option<Spanned<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpuset: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_swappiness: Option<Spanned<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memswap_limit: Option<Spanned<ByteSize>>,
    /// `SERVICE` or `SERVICE:ALIAS`: another service of the stack reached by an extra name.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Spanned<String>>,
    /// `CONTAINER` or `CONTAINER:ALIAS`: a container outside the stack, by an extra name.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub external_links: Vec<Spanned<String>>,
    /// `SERVICE[:ro|rw]` or `container:NAME[:ro|rw]`: every mount of another container.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes_from: Vec<Spanned<String>>,
    /// GPUs (the engine's device requests).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gpus: Vec<Gpu>,
    /// Files of `KEY=VALUE` lines read as labels (the service's own `labels` win).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub label_files: Vec<EnvFile>,
    /// Block IO weights and limits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blkio: Option<Blkio>,
}

/// `gpu "all"`, `gpu 2 driver="nvidia" { capabilities "gpu" "utility" }`: one device request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Gpu {
    #[serde(skip)]
    pub span: Span,
    /// How many; -1: all of them. None with `device-ids`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<Spanned<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub device_ids: Vec<Spanned<String>>,
    /// Default `gpu`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<Spanned<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<KeyValue>,
}

/// `blkio weight=300 { device-read-bps "/dev/sda" "10mb" }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Blkio {
    #[serde(skip)]
    pub span: Span,
    /// 10 to 1000.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<Spanned<i64>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub weight_device: Vec<BlkioDevice>,
    /// Bytes a second.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub device_read_bps: Vec<BlkioDevice>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub device_write_bps: Vec<BlkioDevice>,
    /// Operations a second.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub device_read_iops: Vec<BlkioDevice>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub device_write_iops: Vec<BlkioDevice>,
}

/// A device and its weight or rate.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct BlkioDevice {
    pub path: Spanned<String>,
    pub rate: Spanned<u64>,
}

impl ContainerOptions {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        *self == ContainerOptions::default()
    }
}

/// `endpoint-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum EndpointMode {
    Vip,
    Dnsrr,
}

impl EndpointMode {
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointMode::Vip => "vip",
            EndpointMode::Dnsrr => "dnsrr",
        }
    }
}

/// `pre-start`, `post-start` or `pre-stop`: a command run before the service starts (in a
/// container of its own), or in the service's container.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Hook {
    #[serde(skip)]
    pub span: Span,
    pub command: Spanned<Vec<String>>,
    pub user: Option<Spanned<String>>,
    pub workdir: Option<Spanned<String>>,
    pub privileged: Option<Spanned<bool>>,
    pub env: Vec<KeyValue>,
    /// `pre-start` only: the image to run it from (the service's when left out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<Spanned<String>>,
    /// `pre-start` only: before each replica's start, rather than once per service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_replica: Option<Spanned<bool>>,
}

/// `update { ... }` or `rollback { ... }` as written: a setting left out takes its default
/// when the service is updated.
#[derive(Debug, Clone, PartialEq, Default, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct UpdatePolicy {
    #[serde(skip)]
    pub span: Span,
    pub order: Option<Spanned<UpdateOrder>>,
    /// Containers replaced at once; 0: all of them.
    pub parallelism: Option<Spanned<u32>>,
    #[serde(serialize_with = "crate::serde_util::opt_duration")]
    #[schemars(with = "Option<crate::serde_util::DurationText>")]
    pub delay: Option<Spanned<Duration>>,
    #[serde(serialize_with = "crate::serde_util::opt_duration")]
    #[schemars(with = "Option<crate::serde_util::DurationText>")]
    pub monitor: Option<Spanned<Duration>>,
    pub failure_action: Option<Spanned<FailureAction>>,
    /// The share of replaced containers that may fail before `failure-action` is taken.
    pub max_failure_ratio: Option<Spanned<f64>>,
}

/// `order`: whether a new container starts before its old one stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum UpdateOrder {
    StartFirst,
    StopFirst,
}

impl UpdateOrder {
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateOrder::StartFirst => "start-first",
            UpdateOrder::StopFirst => "stop-first",
        }
    }
}

/// `failure-action`: what a failed update does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FailureAction {
    Rollback,
    Pause,
    Continue,
}

impl FailureAction {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureAction::Rollback => "rollback",
            FailureAction::Pause => "pause",
            FailureAction::Continue => "continue",
        }
    }
}

/// The hardening warnings a service can acknowledge.
pub const HARDENING_WARNINGS: &[&str] = &["root", "no-memory-limit", "writable-root"];

impl Service {
    /// How many containers the service runs (default 1).
    pub fn scale(&self) -> u32 {
        self.scale.as_ref().map_or(1, |s| s.value)
    }

    /// Whether the engine starts the service's containers again by itself, without stackr,
    /// when they exit or after a daemon restart: its restart policy is `always`,
    /// `unless-stopped` or `on-failure`.
    pub fn restarts(&self) -> bool {
        self.comes_back()
            || matches!(
                self.restart.as_ref().map(|r| &r.value),
                Some(RestartPolicy::OnFailure { .. })
            )
    }

    /// Whether the engine surely starts them again after a daemon restart: `always` or
    /// `unless-stopped` (`on-failure` only brings back a container that failed).
    pub fn comes_back(&self) -> bool {
        matches!(
            self.restart.as_ref().map(|r| &r.value),
            Some(RestartPolicy::Always | RestartPolicy::UnlessStopped)
        )
    }

    /// Whether the service has a health check (its own test; an image's own `HEALTHCHECK` is
    /// not known here).
    pub fn has_health_check(&self) -> bool {
        self.health.as_deref().is_some_and(Health::is_check)
    }

    /// The networks the service joins by name; `default` when it names none and has no
    /// network mode.
    pub fn network_names(&self) -> Vec<&str> {
        if self.network_mode.is_some() {
            return Vec::new();
        }
        if self.networks.is_empty() {
            return vec![DEFAULT_NETWORK];
        }
        self.networks
            .iter()
            .map(|n| n.name.value.as_str())
            .collect()
    }
}

/// The name of the network every stack has and services join when they name none.
pub const DEFAULT_NETWORK: &str = "default";

/// A top-level network.
#[derive(Debug, Clone, PartialEq, Default, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Network {
    pub name: Spanned<String>,
    /// The engine-side name (`name=`); default `{stack}_{name}`.
    pub engine_name: Option<Spanned<String>>,
    pub driver: Option<Spanned<String>>,
    pub internal: Option<Spanned<bool>>,
    pub external: Option<Spanned<bool>>,
    /// Swarm target: containers outside the stack's services may join the overlay network.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachable: Option<Spanned<bool>>,
    pub labels: Vec<KeyValue>,
    /// Options of the network's driver (`com.docker.network.bridge.name`...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub driver_opts: Vec<KeyValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_ipv6: Option<Spanned<bool>>,
    /// Its addresses: subnets, ranges, gateways.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipam: Option<Ipam>,
}

/// `ipam driver="default" { subnet "172.28.0.0/16" gateway="172.28.0.1"; options { ... } }`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Ipam {
    #[serde(skip)]
    pub span: Span,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subnets: Vec<IpamSubnet>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<KeyValue>,
}

/// `subnet "CIDR" ip-range="CIDR" gateway="IP" { aux-addresses { NAME "IP" } }`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct IpamSubnet {
    pub subnet: Spanned<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_range: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<Spanned<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aux_addresses: Vec<KeyValue>,
}

impl Network {
    pub fn is_attachable(&self) -> bool {
        self.attachable.as_ref().is_some_and(|b| b.value)
    }
    pub fn is_internal(&self) -> bool {
        self.internal.as_ref().is_some_and(|b| b.value)
    }
    pub fn is_external(&self) -> bool {
        self.external.as_ref().is_some_and(|b| b.value)
    }
}

/// A top-level volume.
#[derive(Debug, Clone, PartialEq, Default, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Volume {
    pub name: Spanned<String>,
    pub engine_name: Option<Spanned<String>>,
    pub driver: Option<Spanned<String>>,
    pub driver_opts: Vec<KeyValue>,
    pub external: Option<Spanned<bool>>,
    pub labels: Vec<KeyValue>,
}

impl Volume {
    pub fn is_external(&self) -> bool {
        self.external.as_ref().is_some_and(|b| b.value)
    }
}

/// Where a secret's value comes from.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SecretSource {
    /// A file on the deployer's machine (absolute after decoding).
    File(PathBuf),
    /// An environment variable of the deployer's shell.
    Env(String),
    /// Managed outside stackr; the engine-side name.
    External(String),
}

/// A top-level secret.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Secret {
    #[serde(skip)]
    pub span: Span,
    pub name: Spanned<String>,
    pub source: Option<Spanned<SecretSource>>,
    /// `acknowledge="readable-file"`: the file is readable by its group or others on purpose
    /// (a demo value), so stackr does not warn about it.
    pub acknowledge_readable: Option<Spanned<bool>>,
    /// Labels of the Swarm secret stackr makes (the engine target has no secret object).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<KeyValue>,
}

/// Where a config's content comes from.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ConfigSource {
    File(PathBuf),
    Content(String),
    External(String),
}

/// A top-level config.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Config {
    #[serde(skip)]
    pub span: Span,
    pub name: Spanned<String>,
    pub source: Option<Spanned<ConfigSource>>,
    /// Labels of the Swarm config stackr makes (the engine target has no config object).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<KeyValue>,
}

/// Where a stack runs: containers on one engine, or services on a Docker Swarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    #[default]
    Engine,
    Swarm,
}

impl Target {
    pub const NAMES: &'static [&'static str] = &["engine", "swarm"];

    pub fn as_str(self) -> &'static str {
        match self {
            Target::Engine => "engine",
            Target::Swarm => "swarm",
        }
    }

    pub fn parse(s: &str) -> Option<Target> {
        match s {
            "engine" => Some(Target::Engine),
            "swarm" => Some(Target::Swarm),
            _ => None,
        }
    }
}

/// `placement { ... }`: where a service's tasks may run (Swarm target).
#[derive(Debug, Clone, PartialEq, Default, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Placement {
    #[serde(skip)]
    pub span: Span,
    /// `constraint "node.role==worker"`.
    pub constraints: Vec<Spanned<String>>,
    /// `spread "node.labels.zone"`: tasks spread evenly over the label's values, in order.
    pub spread: Vec<Spanned<String>>,
    /// `max-per-node 1`.
    pub max_per_node: Option<Spanned<u32>>,
}

/// Top-level declarations: what a file or a profile block declares.
#[derive(Debug, Clone, PartialEq, Default, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Declarations {
    /// `target "swarm"`: where the stack runs unless `--target` says otherwise.
    pub target: Option<Spanned<Target>>,
    pub services: Vec<Service>,
    pub networks: Vec<Network>,
    pub volumes: Vec<Volume>,
    pub secrets: Vec<Secret>,
    pub configs: Vec<Config>,
}

/// A `profile "name" { ... }` block.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Profile {
    pub name: Spanned<String>,
    pub body: Declarations,
}

/// What one stack file declares, decoded but not yet validated.
#[derive(Debug, Clone, PartialEq, Default, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct StackFile {
    #[serde(skip)]
    pub file: FileId,
    pub stack: Option<Spanned<String>>,
    pub includes: Vec<Spanned<PathBuf>>,
    pub body: Declarations,
    pub profiles: Vec<Profile>,
}

/// A validated stack: every reference resolves, every value is in range, the dependency graph
/// has no cycle. Only [`crate::validate`] builds one.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub struct Stack {
    pub name: String,
    pub services: BTreeMap<String, Service>,
    pub networks: BTreeMap<String, Network>,
    pub volumes: BTreeMap<String, Volume>,
    pub secrets: BTreeMap<String, Secret>,
    pub configs: BTreeMap<String, Config>,
    /// The profiles applied, in order.
    pub profiles: Vec<String>,
    /// Every profile the files declare.
    pub available_profiles: Vec<String>,
    /// Start order as waves: each wave depends only on earlier ones.
    pub waves: Vec<Vec<String>>,
    /// Where it runs: `--target`, else the file's `target` (a profile's last), else the engine.
    #[serde(skip_serializing_if = "Target::is_engine")]
    pub target: Target,
}

impl Target {
    pub fn is_engine(&self) -> bool {
        *self == Target::Engine
    }
}
