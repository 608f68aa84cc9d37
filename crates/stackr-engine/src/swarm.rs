//! The Swarm side of the boundary: what the Swarm target needs from an engine that is a
//! Swarm manager, in plain data. Swarm schedules containers itself, so stackr describes
//! services ([`ServiceSpec`]) and observes services, tasks and nodes.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

use crate::{Engine, HealthSpec, LogChunk, LogOptions, Result, UlimitSpec};

/// The engine's place in a swarm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwarmInfo {
    /// The node the engine runs on.
    pub node_id: String,
    /// `inactive`, `pending`, `active`, `error`, `locked`.
    pub state: String,
    /// Only a manager can run services.
    pub manager: bool,
    pub nodes: u32,
    pub managers: u32,
    /// The manager's clock, in seconds since the Unix epoch (leases are read against it, so
    /// the clocks of the machines stackr runs on do not matter).
    pub clock: Option<i64>,
}

/// A node of the swarm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    pub id: String,
    pub hostname: String,
    /// `manager` or `worker`.
    pub role: String,
    /// `active`, `pause`, `drain`.
    pub availability: String,
    /// `ready`, `down`, `unknown`, `disconnected`.
    pub state: String,
    pub addr: String,
    pub leader: bool,
}

/// How a service runs its tasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceMode {
    Replicated {
        replicas: u64,
    },
    /// Runs `completions` tasks to completion, `max_concurrent` at a time.
    ReplicatedJob {
        max_concurrent: u64,
        completions: u64,
    },
    Global,
}

impl Default for ServiceMode {
    fn default() -> Self {
        ServiceMode::Replicated { replicas: 1 }
    }
}

impl ServiceMode {
    /// How many tasks the service wants running (or completed, for a job); `None`: one per node.
    pub fn wanted(&self) -> Option<u64> {
        match self {
            ServiceMode::Replicated { replicas } => Some(*replicas),
            ServiceMode::ReplicatedJob { completions, .. } => Some(*completions),
            ServiceMode::Global => None,
        }
    }

    pub fn is_job(&self) -> bool {
        matches!(self, ServiceMode::ReplicatedJob { .. })
    }
}

/// A published port of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicePort {
    pub target: u16,
    /// `None`: Swarm picks one.
    pub published: Option<u16>,
    /// `tcp`, `udp`, `sctp`.
    pub protocol: String,
    /// `ingress` (the routing mesh: every node answers) or `host` (the node running the task).
    pub mode: String,
}

/// A secret or config a service's tasks get as a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileMount {
    /// The object's engine name (which names its content's digest).
    pub name: String,
    /// The object's id, once it exists: not part of what a service is (nor of its hash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The file's path: relative to `/run/secrets` for a secret, absolute for a config.
    pub target: String,
    pub uid: String,
    pub gid: String,
    pub mode: u32,
}

/// A network a service's tasks join.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceNetwork {
    /// The engine-side name.
    pub network: String,
    /// The network's id, once it exists: not part of what a service is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default)]
    pub aliases: Vec<String>,
}

/// A mount of a service's tasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "type")]
pub enum ServiceMount {
    /// A named volume (on each node that runs a task) or, with no source, an anonymous one.
    Volume {
        source: Option<String>,
        target: String,
        #[serde(default)]
        read_only: bool,
        /// Labels the volume gets when a node creates it.
        #[serde(default)]
        labels: BTreeMap<String, String>,
    },
    /// A path of the node that runs the task.
    Bind {
        source: String,
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

/// Where tasks may run.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Placement {
    /// `node.role==worker`, `node.labels.zone!=b`.
    pub constraints: Vec<String>,
    /// Spread descriptors, in order: `node.labels.zone`.
    pub spread: Vec<String>,
    /// At most this many tasks per node (0: no limit).
    pub max_replicas: u64,
}

/// What restarts a task (Swarm's restart policy).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartSpec {
    /// `none`, `on-failure`, `any`.
    pub condition: String,
    pub max_attempts: Option<u64>,
    pub delay: Option<Duration>,
}

/// `UpdateConfig` or `RollbackConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateSpec {
    pub parallelism: u64,
    pub delay: Duration,
    /// `pause`, `continue`, `rollback` (an update only).
    pub failure_action: String,
    pub monitor: Duration,
    pub max_failure_ratio: f64,
    /// `stop-first` or `start-first`.
    pub order: String,
}

/// Limits or reservations of a service's tasks.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskResources {
    pub nano_cpus: Option<i64>,
    pub memory: Option<i64>,
    /// Limits only.
    pub pids: Option<i64>,
}

/// A service stackr wants.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceSpec {
    pub name: String,
    /// The service's labels (stackr's own among them).
    pub labels: BTreeMap<String, String>,
    /// The labels of its tasks' containers.
    pub container_labels: BTreeMap<String, String>,
    pub image: String,
    pub entrypoint: Option<Vec<String>>,
    pub command: Option<Vec<String>>,
    /// `KEY=value`.
    pub env: Vec<String>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    pub hostname: Option<String>,
    pub tty: bool,
    pub stdin_open: bool,
    pub init: Option<bool>,
    pub read_only: bool,
    pub stop_signal: Option<String>,
    pub stop_grace_period: Option<Duration>,
    pub health: Option<HealthSpec>,
    pub mounts: Vec<ServiceMount>,
    pub secrets: Vec<FileMount>,
    pub configs: Vec<FileMount>,
    pub networks: Vec<ServiceNetwork>,
    pub ports: Vec<ServicePort>,
    /// `vip` (Swarm's default) or `dnsrr`.
    pub endpoint_mode: Option<String>,
    pub mode: ServiceMode,
    pub restart: Option<RestartSpec>,
    pub limits: TaskResources,
    pub reservations: TaskResources,
    pub placement: Placement,
    pub update: Option<UpdateSpec>,
    pub rollback: Option<UpdateSpec>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub sysctls: BTreeMap<String, String>,
    pub ulimits: Vec<UlimitSpec>,
    pub log_driver: Option<String>,
    pub log_options: BTreeMap<String, String>,
    /// `HOST:IP`.
    pub extra_hosts: Vec<String>,
}

/// Where a rolling update of a service stands (Swarm's `UpdateStatus`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateStatus {
    /// `updating`, `paused`, `completed`, `rollback_started`, `rollback_paused`,
    /// `rollback_completed`.
    pub state: String,
    pub message: String,
}

/// A service as the swarm has it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceInfo {
    pub id: String,
    pub name: String,
    /// The version an update must name (optimistic concurrency).
    pub version: u64,
    pub labels: BTreeMap<String, String>,
    pub image: String,
    pub mode: ServiceMode,
    pub update_status: Option<UpdateStatus>,
    /// A job's current run (tasks of earlier runs carry earlier ones).
    pub job_iteration: Option<u64>,
    /// Its restart condition: `none` (a failed task stays failed), `on-failure`, `any`.
    #[serde(default)]
    pub restart: Option<String>,
}

/// The states of a task, in Swarm's order (a task only moves forward).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskState {
    New,
    Pending,
    Assigned,
    Accepted,
    Preparing,
    Ready,
    Starting,
    Running,
    Complete,
    Shutdown,
    Failed,
    Rejected,
    Remove,
    Orphaned,
}

impl TaskState {
    pub fn parse(s: &str) -> TaskState {
        match s {
            "new" => TaskState::New,
            "pending" => TaskState::Pending,
            "assigned" => TaskState::Assigned,
            "accepted" => TaskState::Accepted,
            "preparing" => TaskState::Preparing,
            "ready" => TaskState::Ready,
            "starting" => TaskState::Starting,
            "running" => TaskState::Running,
            "complete" => TaskState::Complete,
            "shutdown" => TaskState::Shutdown,
            "rejected" => TaskState::Rejected,
            "remove" => TaskState::Remove,
            "orphaned" => TaskState::Orphaned,
            _ => TaskState::Failed,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::New => "new",
            TaskState::Pending => "pending",
            TaskState::Assigned => "assigned",
            TaskState::Accepted => "accepted",
            TaskState::Preparing => "preparing",
            TaskState::Ready => "ready",
            TaskState::Starting => "starting",
            TaskState::Running => "running",
            TaskState::Complete => "complete",
            TaskState::Shutdown => "shutdown",
            TaskState::Failed => "failed",
            TaskState::Rejected => "rejected",
            TaskState::Remove => "remove",
            TaskState::Orphaned => "orphaned",
        }
    }

    /// A task that will not run again.
    pub fn is_final(self) -> bool {
        self >= TaskState::Complete
    }
}

/// A task of a service: one container, on one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskInfo {
    pub id: String,
    pub service_id: String,
    /// A replicated service's slot (1, 2, ...).
    pub slot: Option<u64>,
    pub node_id: Option<String>,
    pub state: TaskState,
    pub desired_state: TaskState,
    /// What the swarm says about the state (`started`, `task: non-zero exit (1)`).
    pub message: String,
    pub error: Option<String>,
    pub exit_code: Option<i64>,
    pub container_id: Option<String>,
    /// The labels of the task's container (they carry the spec's hash).
    pub container_labels: BTreeMap<String, String>,
    /// The job run the task belongs to.
    pub job_iteration: Option<u64>,
    /// When its state last changed, as the swarm wrote it (RFC 3339).
    pub timestamp: String,
    /// When the task was created (RFC 3339).
    pub created_at: String,
}

/// A secret or config stackr wants: its content goes to the swarm, never into a label.
#[derive(Clone, PartialEq, Eq)]
pub struct FileObjectSpec {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub data: Vec<u8>,
}

impl std::fmt::Debug for FileObjectSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileObjectSpec")
            .field("name", &self.name)
            .field("labels", &self.labels)
            .field("data", &format_args!("<{} bytes>", self.data.len()))
            .finish()
    }
}

/// A secret or config as the swarm has it (never its content).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileObjectInfo {
    pub id: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

/// Secrets or configs: the two kinds of file objects of a swarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileKind {
    Secret,
    Config,
}

impl FileKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Secret => "secret",
            FileKind::Config => "config",
        }
    }
}

/// A change in the swarm, as its event stream reports it (services, nodes, secrets, configs):
/// a cue to look again, never the state itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwarmEvent {
    /// `service`, `node`, `secret`, `config`, `container`.
    pub kind: String,
    pub id: String,
    /// `create`, `update`, `remove`, `start`, `die`, `health_status: healthy`...
    pub action: String,
    /// The object's name, when the event gives it.
    pub name: Option<String>,
}

/// What the Swarm target needs from an engine that is a manager of a swarm. Lists are
/// filtered by the `io.stackr.stack` label, as for [`Engine`].
pub trait Swarm: Engine {
    /// The engine's place in a swarm; `None` when it is in none.
    fn swarm_info(&self) -> impl Future<Output = Result<Option<SwarmInfo>>> + Send;
    fn list_nodes(&self) -> impl Future<Output = Result<Vec<NodeInfo>>> + Send;

    fn list_services(&self, stack: &str) -> impl Future<Output = Result<Vec<ServiceInfo>>> + Send;
    /// A service by name or id, whoever owns it.
    fn inspect_service(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<ServiceInfo>>> + Send;
    /// Creates a service; returns its id.
    fn create_service(&self, spec: &ServiceSpec) -> impl Future<Output = Result<String>> + Send;
    /// Replaces a service's spec (the swarm rolls it out by its update config).
    fn update_service(
        &self,
        id: &str,
        version: u64,
        spec: &ServiceSpec,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Puts back a service's previous spec (`docker service rollback`).
    fn rollback_service(&self, id: &str, version: u64) -> impl Future<Output = Result<()>> + Send;
    fn remove_service(&self, id: &str) -> impl Future<Output = Result<()>> + Send;

    /// The tasks of the given services (ids or names), every state.
    fn list_tasks(&self, services: &[String])
    -> impl Future<Output = Result<Vec<TaskInfo>>> + Send;

    /// The stack's secrets or configs.
    fn list_file_objects(
        &self,
        kind: FileKind,
        stack: &str,
    ) -> impl Future<Output = Result<Vec<FileObjectInfo>>> + Send;
    /// A secret or config by name, whoever owns it.
    fn inspect_file_object(
        &self,
        kind: FileKind,
        name: &str,
    ) -> impl Future<Output = Result<Option<FileObjectInfo>>> + Send;
    /// Creates a secret or config; returns its id. A name in use is a conflict.
    fn create_file_object(
        &self,
        kind: FileKind,
        spec: &FileObjectSpec,
    ) -> impl Future<Output = Result<String>> + Send;
    fn remove_file_object(
        &self,
        kind: FileKind,
        id: &str,
    ) -> impl Future<Output = Result<()>> + Send;

    /// The swarm's events (services, nodes, secrets, configs, this node's containers), from
    /// now on.
    fn swarm_events(
        &self,
    ) -> impl Future<Output = Result<BoxStream<'static, Result<SwarmEvent>>>> + Send;

    /// A task's output, from the node that runs it.
    fn task_logs(
        &self,
        id: &str,
        options: &LogOptions,
    ) -> impl Future<Output = Result<BoxStream<'static, Result<LogChunk>>>> + Send;
}
