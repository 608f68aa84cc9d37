//! An in-memory [`Engine`] for tests: it keeps containers, networks, volumes and images, emits
//! events as a daemon would, records every call, and can be told to misbehave (a check that
//! never passes, a one-shot that exits non-zero, a failing create).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::broadcast;

use crate::*;

mod swarm;

/// How the fake behaves, per service.
#[derive(Debug, Default, Clone)]
pub struct Behaviour {
    /// Services whose health check never passes.
    pub unhealthy: BTreeSet<String>,
    /// `KEY=VALUE` entries: a container with one in its env never passes its health check
    /// (an update to a broken spec).
    pub unhealthy_env: BTreeSet<String>,
    /// Services whose health check never reports (they stay `starting`).
    pub health_pending: BTreeSet<String>,
    /// Services (or container names) whose containers exit right after starting, with this
    /// code.
    pub exit_codes: BTreeMap<String, i64>,
    /// Container names whose creation fails.
    pub fail_create: BTreeSet<String>,
    /// Container names whose creation takes this long (a failing run then has it in flight).
    pub slow_create: BTreeMap<String, Duration>,
    /// What the engine warns about when it creates the container of that name (a kernel
    /// without block IO weights: "Weight discarded").
    pub create_warnings: BTreeMap<String, Vec<String>>,
    /// The API version the fake speaks (1.41 when unset, as the engines here do).
    pub api_version: Option<String>,
    /// Container names that take this long to stop (a process that ignores its signal).
    pub slow_stop: BTreeMap<String, Duration>,
    /// The CPUs of the fake's machine (64 when unset); a create asking for more is refused,
    /// as Docker refuses it.
    pub cpus: Option<u32>,
}

#[derive(Debug, Clone)]
struct FakeContainer {
    info: ContainerInfo,
    spec: ContainerSpec,
}

#[derive(Debug, Default)]
struct State {
    next_id: u64,
    containers: BTreeMap<String, FakeContainer>,
    networks: BTreeMap<String, NetworkInfo>,
    volumes: BTreeMap<String, VolumeInfo>,
    images: BTreeMap<String, ImageInfo>,
    calls: Vec<String>,
    swarm: swarm::SwarmState,
}

/// The fake engine.
pub struct FakeEngine {
    state: std::sync::Arc<Mutex<State>>,
    /// Engine calls begun and not yet answered.
    in_flight: std::sync::atomic::AtomicUsize,
    /// Set by [`FakeEngine::go_away`]: the daemon is gone (and its event streams end).
    gone: tokio::sync::watch::Sender<bool>,
    behaviour: Mutex<Behaviour>,
    events: broadcast::Sender<Event>,
}

impl Default for FakeEngine {
    fn default() -> Self {
        FakeEngine::new()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

impl FakeEngine {
    pub fn new() -> Self {
        let (events, _) = broadcast::channel(4096);
        FakeEngine {
            state: std::sync::Arc::new(Mutex::new(State::default())),
            in_flight: std::sync::atomic::AtomicUsize::new(0),
            gone: tokio::sync::watch::Sender::new(false),
            behaviour: Mutex::new(Behaviour::default()),
            events,
        }
    }

    /// The daemon goes away: its event streams end, and `info` and `events` fail as for an
    /// unreachable engine from now on.
    pub fn go_away(&self) {
        self.gone.send_replace(true);
    }

    /// The daemon is back after [`FakeEngine::go_away`].
    pub fn come_back(&self) {
        self.gone.send_replace(false);
    }

    fn unreachable(&self) -> Result<()> {
        if *self.gone.borrow() {
            return Err(EngineError::Unreachable {
                endpoint: "fake://".into(),
                reason: "the fake daemon went away".into(),
            });
        }
        Ok(())
    }

    /// How many creates are under way (begun, not answered).
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Sets a label of a container, as an older stackr may have written it.
    pub fn set_label(&self, container: &str, key: &str, value: &str) {
        let mut st = lock(&self.state);
        if let Some(c) = st
            .containers
            .values_mut()
            .find(|c| c.info.name == container)
        {
            c.info.labels.insert(key.to_string(), value.to_string());
            c.spec.labels.insert(key.to_string(), value.to_string());
        }
    }

    /// Adds a network as another client would make it (a duplicate name included, as an
    /// interrupted run's create can leave); returns its id.
    pub fn add_network(&self, name: &str, labels: BTreeMap<String, String>) -> String {
        insert_network(&mut lock(&self.state), name, None, false, labels)
    }

    /// Adds a volume as another client would make it.
    pub fn add_volume(&self, name: &str, labels: BTreeMap<String, String>) {
        lock(&self.state).volumes.insert(
            name.to_string(),
            VolumeInfo {
                name: name.to_string(),
                driver: "local".into(),
                labels,
            },
        );
    }

    /// Makes an image available, as if it had been pulled or loaded.
    pub fn add_image(&self, reference: &str) {
        let mut st = lock(&self.state);
        st.next_id += 1;
        let id = format!("sha256:{:016x}{:048x}", st.next_id, 0);
        st.images.insert(
            reference.to_string(),
            ImageInfo {
                id,
                labels: BTreeMap::new(),
                config: crate::ImageConfig::default(),
                repo_tags: vec![reference.to_string()],
                size: Some(1024),
            },
        );
    }

    /// Gives an image what it runs by default (its entrypoint, command, health check).
    pub fn set_image_config(&self, reference: &str, config: crate::ImageConfig) {
        if let Some(i) = lock(&self.state).images.get_mut(reference) {
            i.config = config;
        }
    }

    pub fn set_behaviour(&self, b: Behaviour) {
        *lock(&self.behaviour) = b;
    }

    /// Every call made so far, as `verb target`, in order.
    pub fn calls(&self) -> Vec<String> {
        lock(&self.state).calls.clone()
    }

    /// Forgets the calls made so far.
    pub fn clear_calls(&self) {
        lock(&self.state).calls.clear();
    }

    /// The spec a container was created from.
    pub fn spec_of(&self, name: &str) -> Option<ContainerSpec> {
        lock(&self.state)
            .containers
            .values()
            .find(|c| c.info.name == name)
            .map(|c| c.spec.clone())
    }

    /// Containers by name, with their state.
    pub fn container_states(&self) -> BTreeMap<String, ContainerState> {
        lock(&self.state)
            .containers
            .values()
            .map(|c| (c.info.name.clone(), c.info.state))
            .collect()
    }

    /// Detaches a container from a network, as a run killed between creating a container and
    /// attaching its other networks would leave it.
    pub fn detach_network(&self, container: &str, network: &str) {
        let mut st = lock(&self.state);
        for c in st.containers.values_mut() {
            if c.info.name == container
                && let Some(nets) = &mut c.info.networks
            {
                nets.retain(|n| n != network);
            }
        }
    }

    fn create_now(&self, spec: &ContainerSpec) -> Result<String> {
        self.record(format!("create {}", spec.name));
        if lock(&self.behaviour).fail_create.contains(&spec.name) {
            return Err(EngineError::Other(format!(
                "create {} failed (fake)",
                spec.name
            )));
        }
        let info = {
            let mut st = lock(&self.state);
            if st.containers.values().any(|c| c.info.name == spec.name) {
                return Err(EngineError::Conflict {
                    what: format!("container name {}", spec.name),
                    message: "the name is in use".into(),
                });
            }
            if !st.images.contains_key(&spec.image)
                && !st.images.values().any(|i| i.id == spec.image)
            {
                return Err(EngineError::ImageMissing {
                    image: spec.image.clone(),
                });
            }
            st.next_id += 1;
            let id = format!("{:012x}{:052x}", st.next_id, 0);
            let info = ContainerInfo {
                id: id.clone(),
                name: spec.name.clone(),
                image: spec.image.clone(),
                labels: spec.labels.clone(),
                state: ContainerState::Created,
                exit_code: None,
                health: None,
                health_output: None,
                ports: Vec::new(),
                networks: Some(spec.networks.iter().map(|n| n.network.clone()).collect()),
            };
            st.containers.insert(
                id,
                FakeContainer {
                    info: info.clone(),
                    spec: spec.clone(),
                },
            );
            info
        };
        self.emit(&info, EventKind::Create);
        Ok(info.id)
    }

    fn record(&self, call: String) {
        lock(&self.state).calls.push(call);
    }

    fn emit(&self, info: &ContainerInfo, kind: EventKind) {
        let _ = self.events.send(Event {
            container_id: info.id.clone(),
            container_name: info.name.clone(),
            service: info.service().map(String::from),
            kind,
            time_nanos: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .ok()
                .and_then(|d| i64::try_from(d.as_nanos()).ok()),
        });
    }

    fn with_container<T>(&self, id: &str, f: impl FnOnce(&mut FakeContainer) -> T) -> Result<T> {
        let mut st = lock(&self.state);
        let key = st
            .containers
            .iter()
            .find(|(k, c)| *k == id || c.info.name == id)
            .map(|(k, _)| k.clone())
            .ok_or_else(|| EngineError::NotFound {
                what: format!("container {id}"),
            })?;
        let c = st
            .containers
            .get_mut(&key)
            .ok_or_else(|| EngineError::NotFound {
                what: format!("container {id}"),
            })?;
        Ok(f(c))
    }
}

/// A new network in the fake's state; returns its id.
fn insert_network(
    st: &mut State,
    name: &str,
    driver: Option<String>,
    internal: bool,
    labels: BTreeMap<String, String>,
) -> String {
    st.next_id += 1;
    let id = format!("net{:04}", st.next_id);
    let created = Some(i128::from(st.next_id));
    st.networks.insert(
        id.clone(),
        NetworkInfo {
            id: id.clone(),
            name: name.to_string(),
            driver: driver.unwrap_or_else(|| "bridge".into()),
            internal,
            labels,
            created,
            attached: None,
        },
    );
    id
}

fn of_stack(labels: &BTreeMap<String, String>, stack: &str) -> bool {
    labels.get(LABEL_STACK).is_some_and(|s| s == stack)
}

impl Engine for FakeEngine {
    async fn info(&self) -> Result<EngineInfo> {
        self.unreachable()?;
        Ok(EngineInfo {
            server_version: "fake".into(),
            api_version: lock(&self.behaviour)
                .api_version
                .clone()
                .unwrap_or_else(|| "1.41".into()),
            endpoint: "fake://".into(),
        })
    }

    async fn list_containers(&self, stack: &str) -> Result<Vec<ContainerInfo>> {
        Ok(lock(&self.state)
            .containers
            .values()
            .filter(|c| of_stack(&c.info.labels, stack))
            .map(|c| c.info.clone())
            .collect())
    }

    async fn list_all_containers(&self) -> Result<Vec<ContainerInfo>> {
        Ok(lock(&self.state)
            .containers
            .values()
            .filter(|c| c.info.labels.contains_key(LABEL_STACK))
            .map(|c| c.info.clone())
            .collect())
    }

    async fn list_networks(&self, stack: &str) -> Result<Vec<NetworkInfo>> {
        Ok(lock(&self.state)
            .networks
            .values()
            .filter(|n| of_stack(&n.labels, stack))
            .cloned()
            .collect())
    }

    async fn list_volumes(&self, stack: &str) -> Result<Vec<VolumeInfo>> {
        Ok(lock(&self.state)
            .volumes
            .values()
            .filter(|v| of_stack(&v.labels, stack))
            .cloned()
            .collect())
    }

    async fn inspect_network(&self, name: &str) -> Result<Option<NetworkInfo>> {
        let st = lock(&self.state);
        let Some(mut n) = st
            .networks
            .values()
            .find(|n| n.id == name)
            .or_else(|| st.networks.values().find(|n| n.name == name))
            .cloned()
        else {
            return Ok(None);
        };
        let attached =
            st.containers
                .values()
                .filter(|c| {
                    c.spec.networks.iter().any(|a| {
                        a.network_id.as_deref() == Some(n.id.as_str()) || a.network == n.name
                    })
                })
                .count();
        n.attached = Some(attached);
        Ok(Some(n))
    }

    async fn inspect_volume(&self, name: &str) -> Result<Option<VolumeInfo>> {
        Ok(lock(&self.state).volumes.get(name).cloned())
    }

    async fn inspect_container(&self, id: &str) -> Result<Option<ContainerInfo>> {
        Ok(lock(&self.state)
            .containers
            .values()
            .find(|c| c.info.id == id || c.info.name == id)
            .map(|c| c.info.clone()))
    }

    async fn inspect_image(&self, reference: &str) -> Result<Option<ImageInfo>> {
        let st = lock(&self.state);
        Ok(st
            .images
            .get(reference)
            .or_else(|| st.images.values().find(|i| i.id == reference))
            .cloned())
    }

    async fn create_network(&self, spec: &NetworkSpec) -> Result<String> {
        self.record(format!("create-network {}", spec.name));
        let mut st = lock(&self.state);
        if st.networks.values().any(|n| n.name == spec.name) {
            return Err(EngineError::Conflict {
                what: format!("network {}", spec.name),
                message: "a network with this name exists".into(),
            });
        }
        Ok(insert_network(
            &mut st,
            &spec.name,
            spec.driver.clone(),
            spec.internal,
            spec.labels.clone(),
        ))
    }

    async fn remove_network(&self, id: &str) -> Result<()> {
        self.record(format!("remove-network {id}"));
        let mut st = lock(&self.state);
        let key = st
            .networks
            .iter()
            .find(|(k, n)| *k == id || n.name == id)
            .map(|(k, _)| k.clone());
        match key {
            Some(k) => {
                st.networks.remove(&k);
                Ok(())
            }
            None => Err(EngineError::NotFound {
                what: format!("network {id}"),
            }),
        }
    }

    async fn create_volume(&self, spec: &VolumeSpec) -> Result<()> {
        self.record(format!("create-volume {}", spec.name));
        // As Docker does: a volume of that name is there already, it stays as it is.
        lock(&self.state)
            .volumes
            .entry(spec.name.clone())
            .or_insert(VolumeInfo {
                name: spec.name.clone(),
                driver: spec.driver.clone().unwrap_or_else(|| "local".into()),
                labels: spec.labels.clone(),
            });
        Ok(())
    }

    async fn remove_volume(&self, name: &str) -> Result<()> {
        self.record(format!("remove-volume {name}"));
        match lock(&self.state).volumes.remove(name) {
            Some(_) => Ok(()),
            None => Err(EngineError::NotFound {
                what: format!("volume {name}"),
            }),
        }
    }

    async fn resources(&self) -> Result<crate::Resources> {
        self.unreachable()?;
        Ok(crate::Resources {
            cpus: lock(&self.behaviour).cpus.unwrap_or(64),
        })
    }

    async fn create_container(&self, spec: &ContainerSpec) -> Result<crate::Created> {
        use std::sync::atomic::Ordering;
        let cpus = i64::from(lock(&self.behaviour).cpus.unwrap_or(64));
        if spec.nano_cpus.is_some_and(|n| n > cpus * 1_000_000_000) {
            return Err(EngineError::Other(format!(
                "Range of CPUs is from 0.01 to {cpus}.00, as there are only {cpus} CPUs available"
            )));
        }
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let slow = lock(&self.behaviour).slow_create.get(&spec.name).copied();
        if let Some(d) = slow {
            tokio::time::sleep(d).await;
        }
        let r = self.create_now(spec);
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        let warnings = lock(&self.behaviour)
            .create_warnings
            .get(&spec.name)
            .cloned()
            .unwrap_or_default();
        r.map(|id| crate::Created { id, warnings })
    }

    async fn start_container(&self, id: &str) -> Result<()> {
        let behaviour = lock(&self.behaviour).clone();
        let info = self.with_container(id, |c| c.info.clone())?;
        self.record(format!("start {}", info.name));
        // A host port held by another running container.
        {
            let st = lock(&self.state);
            let spec = st
                .containers
                .get(&info.id)
                .map(|c| c.spec.clone())
                .unwrap_or_default();
            for p in spec.ports.iter().filter(|p| p.host_port.is_some()) {
                let taken = st.containers.values().any(|o| {
                    o.info.id != info.id
                        && o.info.state == ContainerState::Running
                        && o.spec
                            .ports
                            .iter()
                            .any(|q| q.host_port == p.host_port && q.protocol == p.protocol)
                });
                if taken {
                    return Err(EngineError::PortAllocated {
                        message: format!(
                            "Bind for 0.0.0.0:{} failed: port is already allocated",
                            p.host_port.unwrap_or_default()
                        ),
                    });
                }
            }
        }
        let service = info.service().unwrap_or_default().to_string();
        let has_health = self.with_container(id, |c| {
            c.info.state = ContainerState::Running;
            c.info.exit_code = None;
            c.info.ports = c
                .spec
                .ports
                .iter()
                .map(|p| PublishedPort {
                    container_port: p.container_port,
                    protocol: p.protocol.clone(),
                    host_ip: p.host_ip.clone(),
                    host_port: p.host_port,
                })
                .collect();
            let checks = c
                .spec
                .health
                .as_ref()
                .is_some_and(|h| h.test.first().is_some_and(|t| t != "NONE"));
            if checks {
                c.info.health = Some(HealthState::Starting);
            }
            checks
        })?;
        self.emit(&info, EventKind::Start);
        if let Some(code) = behaviour
            .exit_codes
            .get(&service)
            .or_else(|| behaviour.exit_codes.get(&info.name))
        {
            let code = *code;
            self.with_container(id, |c| {
                c.info.state = ContainerState::Exited;
                c.info.exit_code = Some(code);
            })?;
            self.emit(&info, EventKind::Die { exit_code: code });
            return Ok(());
        }
        if has_health && !behaviour.health_pending.contains(&service) {
            let broken = lock(&self.state).containers.get(&info.id).is_some_and(|c| {
                c.spec
                    .env
                    .iter()
                    .any(|e| behaviour.unhealthy_env.contains(e))
            });
            let health = if behaviour.unhealthy.contains(&service) || broken {
                HealthState::Unhealthy
            } else {
                HealthState::Healthy
            };
            self.with_container(id, |c| {
                c.info.health = Some(health);
                if health == HealthState::Unhealthy {
                    c.info.health_output = Some("check failed (fake)".into());
                }
            })?;
            self.emit(&info, EventKind::Health(health));
        }
        Ok(())
    }

    async fn stop_container(&self, id: &str, _timeout: Option<Duration>) -> Result<()> {
        let name = self.with_container(id, |c| c.info.name.clone())?;
        let slow = lock(&self.behaviour).slow_stop.get(&name).copied();
        if let Some(d) = slow {
            tokio::time::sleep(d).await;
        }
        let info = self.with_container(id, |c| {
            let was_running = c.info.state == ContainerState::Running;
            c.info.state = ContainerState::Exited;
            c.info.exit_code = Some(0);
            c.info.health = None;
            (c.info.clone(), was_running)
        })?;
        self.record(format!("stop {}", info.0.name));
        if info.1 {
            self.emit(&info.0, EventKind::Die { exit_code: 0 });
        }
        Ok(())
    }

    async fn kill_container(&self, id: &str, signal: &str) -> Result<()> {
        let info = self.with_container(id, |c| {
            c.info.state = ContainerState::Exited;
            c.info.exit_code = Some(137);
            c.info.clone()
        })?;
        self.record(format!("kill {} {signal}", info.name));
        self.emit(&info, EventKind::Die { exit_code: 137 });
        Ok(())
    }

    async fn stats(&self, id: &str) -> Result<crate::ContainerStats> {
        let info = self.with_container(id, |c| c.info.clone())?;
        self.record(format!("stats {}", info.name));
        Ok(crate::ContainerStats {
            memory_usage: 1 << 20,
            memory_limit: 1 << 30,
            pids: 1,
            ..Default::default()
        })
    }

    async fn export_container(&self, id: &str) -> Result<Vec<u8>> {
        let info = self.with_container(id, |c| c.info.clone())?;
        self.record(format!("export {}", info.name));
        crate::context::single_file_tar("exported", info.name.as_bytes(), 0o644)
    }

    async fn commit_container(&self, id: &str, commit: &crate::Commit) -> Result<String> {
        let info = self.with_container(id, |c| c.info.clone())?;
        self.record(format!("commit {}", info.name));
        let reference = commit
            .reference
            .clone()
            .unwrap_or_else(|| format!("commit-of-{}", info.name));
        self.add_image(&reference);
        let st = lock(&self.state);
        Ok(st
            .images
            .get(&reference)
            .map(|i| i.id.clone())
            .unwrap_or_default())
    }

    async fn pause_container(&self, id: &str) -> Result<()> {
        let info = self.with_container(id, |c| c.info.clone())?;
        if info.state != ContainerState::Running {
            return Err(EngineError::Conflict {
                what: format!("container {}", info.name),
                message: "it is not running".into(),
            });
        }
        let info = self.with_container(id, |c| {
            c.info.state = ContainerState::Paused;
            c.info.clone()
        })?;
        self.record(format!("pause {}", info.name));
        self.emit(&info, EventKind::Other("pause".into()));
        Ok(())
    }

    async fn unpause_container(&self, id: &str) -> Result<()> {
        let info = self.with_container(id, |c| c.info.clone())?;
        if info.state != ContainerState::Paused {
            return Err(EngineError::Conflict {
                what: format!("container {}", info.name),
                message: "it is not paused".into(),
            });
        }
        let info = self.with_container(id, |c| {
            c.info.state = ContainerState::Running;
            c.info.clone()
        })?;
        self.record(format!("unpause {}", info.name));
        self.emit(&info, EventKind::Other("unpause".into()));
        Ok(())
    }

    async fn remove_container(&self, id: &str) -> Result<()> {
        let info = self.with_container(id, |c| c.info.clone())?;
        self.record(format!("remove {}", info.name));
        lock(&self.state).containers.remove(&info.id);
        self.emit(&info, EventKind::Destroy);
        Ok(())
    }

    async fn rename_container(&self, id: &str, name: &str) -> Result<()> {
        let info = self.with_container(id, |c| c.info.clone())?;
        self.record(format!("rename {} {name}", info.name));
        let mut st = lock(&self.state);
        if st
            .containers
            .values()
            .any(|c| c.info.name == name && c.info.id != info.id)
        {
            return Err(EngineError::Conflict {
                what: format!("container name {name}"),
                message: "the name is in use".into(),
            });
        }
        if let Some(c) = st.containers.get_mut(&info.id) {
            c.info.name = name.to_string();
            c.spec.name = name.to_string();
        }
        Ok(())
    }

    async fn upload_archive(
        &self,
        id: &str,
        path: &str,
        tar: Vec<u8>,
        _as_container_user: bool,
    ) -> Result<()> {
        let name = self.with_container(id, |c| c.info.name.clone())?;
        self.record(format!("upload {name} {path} ({} bytes)", tar.len()));
        Ok(())
    }

    async fn download_archive(&self, id: &str, path: &str) -> Result<Vec<u8>> {
        let name = self.with_container(id, |c| c.info.name.clone())?;
        self.record(format!("download {name} {path}"));
        crate::context::single_file_tar("file", b"fake\n", 0o644)
    }

    async fn exec(
        &self,
        id: &str,
        spec: &ExecSpec,
        _input: Option<BoxStream<'static, Vec<u8>>>,
        output: &(dyn Fn(LogChunk) + Send + Sync),
    ) -> Result<Option<i64>> {
        let (name, state) = self.with_container(id, |c| (c.info.name.clone(), c.info.state))?;
        if state != ContainerState::Running {
            return Err(EngineError::Conflict {
                what: format!("container {name}"),
                message: "it is not running".into(),
            });
        }
        self.record(format!("exec {name} {}", spec.cmd.join(" ")));
        if spec.detach {
            return Ok(None);
        }
        output(LogChunk {
            stream: LogStream::Stdout,
            text: format!("{}\n", spec.cmd.join(" ")),
        });
        // As in a shell: `false` fails, everything else succeeds.
        Ok(Some(i64::from(
            spec.cmd.first().is_some_and(|c| c == "false"),
        )))
    }

    async fn top(&self, id: &str) -> Result<Processes> {
        let name = self.with_container(id, |c| c.info.name.clone())?;
        Ok(Processes {
            titles: vec!["PID".into(), "CMD".into()],
            rows: vec![vec!["1".into(), name]],
        })
    }

    async fn import_image(&self, _tar: Vec<u8>, reference: &str) -> Result<String> {
        self.record(format!("import-image {reference}"));
        self.add_image(reference);
        lock(&self.state)
            .images
            .get(reference)
            .map(|i| i.id.clone())
            .ok_or_else(|| EngineError::Other("import failed (fake)".into()))
    }

    async fn hold_input(&self, id: &str) -> Result<Held> {
        self.record(format!("hold {id}"));
        self.with_container(id, |_| ())?;
        /// Dropped: the container's input ends, so it exits, and goes when it auto-removes.
        struct Release {
            state: std::sync::Arc<Mutex<State>>,
            id: String,
        }
        impl Drop for Release {
            fn drop(&mut self) {
                let mut st = lock(&self.state);
                let auto = st
                    .containers
                    .get(&self.id)
                    .is_some_and(|c| c.spec.auto_remove);
                if auto {
                    st.containers.remove(&self.id);
                } else if let Some(c) = st.containers.get_mut(&self.id) {
                    c.info.state = ContainerState::Exited;
                    c.info.exit_code = Some(0);
                }
            }
        }
        Ok(Held(Box::new(Release {
            state: self.state.clone(),
            id: id.to_string(),
        })))
    }

    async fn pull_image(&self, reference: &str) -> Result<()> {
        self.record(format!("pull {reference}"));
        Err(EngineError::ImageMissing {
            image: reference.to_string(),
        })
    }

    async fn events(&self, stack: &str) -> Result<BoxStream<'static, Result<Event>>> {
        self.unreachable()?;
        let rx = self.events.subscribe();
        let gone = self.gone.subscribe();
        let state_stack = stack.to_string();
        let stream = futures::stream::unfold((rx, gone), move |(mut rx, mut gone)| async move {
            loop {
                let ev = tokio::select! {
                    r = rx.recv() => Some(r),
                    // The daemon went away (or the fake was dropped): the stream ends.
                    _ = gone.wait_for(|g| *g) => None,
                };
                match ev? {
                    Ok(ev) => return Some((Ok(ev), (rx, gone))),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        })
        .filter(move |ev| {
            // Events of other stacks' containers are dropped; the fake names containers
            // `{stack}-...`, as stackr does.
            let keep = match ev {
                Ok(e) => e.container_name.starts_with(&format!("{state_stack}-")),
                Err(_) => true,
            };
            futures::future::ready(keep)
        });
        Ok(stream.boxed())
    }

    async fn build_image(
        &self,
        spec: &BuildSpec,
        progress: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<String> {
        self.record(format!("build {}", spec.tag));
        for (name, source) in &spec.additional_contexts {
            self.record(format!("build {} context {name}={source}", spec.tag));
        }
        progress(&format!(
            "Step 1/1 : FROM scratch (fake build of {})",
            spec.tag
        ));
        // As a build cache does: the same inputs give the same image.
        let id = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            serde_json::to_string(spec).unwrap_or_default().hash(&mut h);
            format!("sha256:{:016x}{:048x}", h.finish(), 1)
        };
        let mut st = lock(&self.state);
        let mut repo_tags = vec![spec.tag.clone()];
        repo_tags.extend(spec.extra_tags.iter().cloned());
        for tag in &repo_tags {
            st.images.insert(
                tag.clone(),
                ImageInfo {
                    id: id.clone(),
                    labels: spec.labels.clone(),
                    config: crate::ImageConfig::default(),
                    repo_tags: repo_tags.clone(),
                    size: Some(2048),
                },
            );
        }
        Ok(id)
    }

    async fn push_image(&self, reference: &str) -> Result<String> {
        self.record(format!("push {reference}"));
        let st = lock(&self.state);
        let image = st
            .images
            .get(reference)
            .ok_or_else(|| EngineError::NotFound {
                what: format!("image `{reference}`"),
            })?;
        Ok(format!("sha256:{}", image.id.trim_start_matches("sha256:")))
    }

    async fn tag_image(&self, image: &str, reference: &str) -> Result<()> {
        self.record(format!("tag {image} {reference}"));
        let mut st = lock(&self.state);
        let found = st
            .images
            .iter()
            .find(|(r, i)| *r == image || i.id == image)
            .map(|(_, i)| i.clone())
            .ok_or_else(|| EngineError::NotFound {
                what: format!("image `{image}`"),
            })?;
        st.images.insert(reference.to_string(), found);
        Ok(())
    }

    async fn attach(
        &self,
        id: &str,
        _opts: &crate::AttachSpec,
        _input: Option<BoxStream<'static, Vec<u8>>>,
        output: &(dyn Fn(LogChunk) + Send + Sync),
    ) -> Result<()> {
        self.record(format!("attach {id}"));
        // The fake's output is its log line; the attach ends when the container stops.
        let options = LogOptions {
            follow: true,
            ..Default::default()
        };
        let mut stream = self.logs(id, &options).await?;
        while let Some(chunk) = stream.next().await {
            output(chunk?);
        }
        Ok(())
    }

    async fn logs(
        &self,
        id: &str,
        options: &LogOptions,
    ) -> Result<BoxStream<'static, Result<LogChunk>>> {
        // Subscribed before the state is read: a `die` in between is not missed.
        let mut rx = self.events.subscribe();
        let mut gone = self.gone.subscribe();
        let (id, name, state) = self.with_container(id, |c| {
            (c.info.id.clone(), c.info.name.clone(), c.info.state)
        })?;
        let chunk = LogChunk {
            stream: LogStream::Stdout,
            text: format!("{name} started (fake)\n"),
        };
        let first = futures::stream::iter(vec![Ok(chunk)]);
        if !options.follow || state != ContainerState::Running {
            return Ok(first.boxed());
        }
        // Followed, as the daemon does: the stream ends when the container stops or goes,
        // or when the daemon goes away.
        let ended = async move {
            loop {
                tokio::select! {
                    r = rx.recv() => match r {
                        Ok(ev) if ev.container_id == id
                            && matches!(ev.kind, EventKind::Die { .. } | EventKind::Destroy) => return,
                        Err(broadcast::error::RecvError::Closed) => return,
                        _ => {}
                    },
                    _ = gone.wait_for(|g| *g) => return,
                }
            }
        };
        let rest = futures::stream::once(ended).filter_map(|()| futures::future::ready(None));
        Ok(first.chain(rest).boxed())
    }
}
