//! The fake's swarm: three nodes, services whose tasks move forward one step each time the
//! tasks are listed (so a caller that does not wait for them sees them unfinished), secrets
//! and configs whose content it keeps only to count it, a registry it "pushes" to. Tasks of a
//! service in [`Behaviour::unhealthy`] (by its `io.stackr.service` label) stay `starting`; a
//! job's tasks fail with the service's [`Behaviour::exit_codes`] entry when it has one; an
//! update of a service whose new tasks are unhealthy, with `failure_action` `rollback`, is
//! rolled back by the swarm.

use super::*;
use crate::swarm::*;

#[derive(Debug, Clone)]
pub(super) struct FakeService {
    info: ServiceInfo,
    spec: ServiceSpec,
    previous: Option<ServiceSpec>,
}

#[derive(Debug, Default)]
pub(super) struct SwarmState {
    /// Whether the engine is a swarm manager (`FakeEngine::join_swarm`).
    active: bool,
    nodes: Vec<NodeInfo>,
    services: BTreeMap<String, FakeService>,
    tasks: Vec<TaskInfo>,
    objects: BTreeMap<String, (FileKind, FileObjectInfo, usize)>,
    /// Task ids to the step they reach when next listed.
    pending: BTreeMap<String, TaskState>,
}

impl FakeEngine {
    /// Makes the fake a manager of a swarm of `nodes` nodes (`node-1` the manager).
    pub fn join_swarm(&self, nodes: usize) {
        let mut st = lock(&self.state);
        st.swarm.active = true;
        st.swarm.nodes = (1..=nodes)
            .map(|i| NodeInfo {
                id: format!("node{i}"),
                hostname: format!("node-{i}"),
                role: if i == 1 { "manager" } else { "worker" }.into(),
                availability: "active".into(),
                state: "ready".into(),
                addr: format!("10.0.0.{i}"),
                leader: i == 1,
            })
            .collect();
    }

    /// A node goes down: its tasks fail and the swarm starts them again elsewhere.
    pub fn node_down(&self, node: &str) {
        let mut st = lock(&self.state);
        for n in st.swarm.nodes.iter_mut().filter(|n| n.id == node) {
            n.state = "down".into();
        }
        let lost: Vec<TaskInfo> = st
            .swarm
            .tasks
            .iter()
            .filter(|t| t.node_id.as_deref() == Some(node) && t.state == TaskState::Running)
            .cloned()
            .collect();
        for t in lost {
            for x in st.swarm.tasks.iter_mut().filter(|x| x.id == t.id) {
                x.state = TaskState::Orphaned;
                x.desired_state = TaskState::Shutdown;
            }
            let Some(spec) = st.swarm.services.get(&t.service_id).map(|s| s.spec.clone()) else {
                continue;
            };
            let unhealthy = lock(&self.behaviour).unhealthy.clone();
            new_task(
                &mut st,
                &t.service_id,
                &spec,
                t.slot,
                &unhealthy,
                &BTreeMap::new(),
            );
        }
    }

    /// The spec a service was last given.
    pub fn service_spec(&self, name: &str) -> Option<ServiceSpec> {
        lock(&self.state)
            .swarm
            .services
            .values()
            .find(|s| s.spec.name == name)
            .map(|s| s.spec.clone())
    }

    /// The name of the service a task belongs to.
    pub fn task_service(&self, task: &str) -> Option<String> {
        let st = lock(&self.state);
        let t = st.swarm.tasks.iter().find(|t| t.id == task)?;
        st.swarm
            .services
            .get(&t.service_id)
            .map(|s| s.spec.name.clone())
    }

    /// The secrets or configs the fake holds, by name.
    pub fn file_objects(&self, kind: FileKind) -> Vec<String> {
        lock(&self.state)
            .swarm
            .objects
            .values()
            .filter(|(k, _, _)| *k == kind)
            .map(|(_, o, _)| o.name.clone())
            .collect()
    }

    fn swarm_active(&self) -> Result<()> {
        self.unreachable()?;
        if lock(&self.state).swarm.active {
            Ok(())
        } else {
            Err(EngineError::Api {
                status: 503,
                message: "This node is not a swarm manager.".into(),
            })
        }
    }
}

/// A new task of a service, on the next node in turn, on its way to its final state.
fn new_task(
    st: &mut State,
    service_id: &str,
    spec: &ServiceSpec,
    slot: Option<u64>,
    unhealthy: &BTreeSet<String>,
    exit_codes: &BTreeMap<String, i64>,
) {
    st.next_id += 1;
    let id = format!("task{:04}", st.next_id);
    let nodes: Vec<&NodeInfo> = st
        .swarm
        .nodes
        .iter()
        .filter(|n| n.state == "ready")
        .collect();
    let node = (!nodes.is_empty()).then(|| {
        nodes[usize::try_from(st.next_id).unwrap_or(0) % nodes.len()]
            .id
            .clone()
    });
    let service = spec
        .labels
        .get(crate::LABEL_SERVICE)
        .cloned()
        .unwrap_or_default();
    let env_unhealthy = spec.env.iter().any(|e| e.contains("BROKEN"));
    let exit = exit_codes.get(&service).copied();
    let last = match (&spec.mode, exit) {
        (ServiceMode::ReplicatedJob { .. }, Some(c)) if c != 0 => TaskState::Failed,
        (ServiceMode::ReplicatedJob { .. }, _) => TaskState::Complete,
        _ if spec.health.is_some() && (unhealthy.contains(&service) || env_unhealthy) => {
            TaskState::Starting
        }
        _ => TaskState::Running,
    };
    let job_iteration = st
        .swarm
        .services
        .get(service_id)
        .and_then(|s| s.info.job_iteration);
    st.swarm.pending.insert(id.clone(), last);
    st.swarm.tasks.push(TaskInfo {
        id,
        service_id: service_id.to_string(),
        slot,
        node_id: node,
        state: TaskState::Preparing,
        desired_state: if spec.mode.is_job() {
            TaskState::Complete
        } else {
            TaskState::Running
        },
        message: "preparing".into(),
        error: None,
        exit_code: None,
        container_id: None,
        container_labels: spec.container_labels.clone(),
        job_iteration,
        timestamp: String::new(),
        created_at: format!("{:08}", st.next_id),
    });
}

/// The tasks a spec wants, made anew (the old ones shut down).
fn schedule(st: &mut State, service_id: &str, spec: &ServiceSpec, b: &Behaviour) {
    for t in st
        .swarm
        .tasks
        .iter_mut()
        .filter(|t| t.service_id == service_id && !t.state.is_final())
    {
        t.state = TaskState::Shutdown;
        t.desired_state = TaskState::Shutdown;
    }
    let count = match spec.mode {
        ServiceMode::Global => st.swarm.nodes.len() as u64,
        ref m => m.wanted().unwrap_or(1),
    };
    for slot in 1..=count {
        new_task(
            st,
            service_id,
            spec,
            Some(slot),
            &b.unhealthy,
            &b.exit_codes,
        );
    }
}

impl Swarm for FakeEngine {
    async fn swarm_info(&self) -> Result<Option<SwarmInfo>> {
        self.unreachable()?;
        let st = lock(&self.state);
        Ok(st.swarm.active.then(|| SwarmInfo {
            node_id: "node1".into(),
            state: "active".into(),
            manager: true,
            nodes: u32::try_from(st.swarm.nodes.len()).unwrap_or(0),
            managers: 1,
            clock: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .ok()
                .and_then(|d| i64::try_from(d.as_secs()).ok()),
        }))
    }

    async fn list_nodes(&self) -> Result<Vec<NodeInfo>> {
        self.swarm_active()?;
        Ok(lock(&self.state).swarm.nodes.clone())
    }

    async fn list_services(&self, stack: &str) -> Result<Vec<ServiceInfo>> {
        self.swarm_active()?;
        Ok(lock(&self.state)
            .swarm
            .services
            .values()
            .filter(|s| of_stack(&s.info.labels, stack))
            .map(|s| s.info.clone())
            .collect())
    }

    async fn inspect_service(&self, name: &str) -> Result<Option<ServiceInfo>> {
        self.swarm_active()?;
        Ok(lock(&self.state)
            .swarm
            .services
            .values()
            .find(|s| s.info.id == name || s.info.name == name)
            .map(|s| s.info.clone()))
    }

    async fn create_service(&self, spec: &ServiceSpec) -> Result<String> {
        self.swarm_active()?;
        self.record(format!("create-service {}", spec.name));
        let b = lock(&self.behaviour).clone();
        let mut st = lock(&self.state);
        if st.swarm.services.values().any(|s| s.spec.name == spec.name) {
            return Err(EngineError::Conflict {
                what: format!("service `{}`", spec.name),
                message: "name conflicts with an existing object".into(),
            });
        }
        for f in spec.secrets.iter().chain(&spec.configs) {
            if !st.swarm.objects.values().any(|(_, o, _)| o.name == f.name) {
                return Err(EngineError::NotFound {
                    what: format!("secret or config `{}`", f.name),
                });
            }
        }
        st.next_id += 1;
        let n = st.next_id;
        let id = format!("svc{n:04}");
        st.swarm.services.insert(
            id.clone(),
            FakeService {
                info: ServiceInfo {
                    id: id.clone(),
                    name: spec.name.clone(),
                    version: n,
                    labels: spec.labels.clone(),
                    image: spec.image.clone(),
                    mode: spec.mode.clone(),
                    update_status: None,
                    job_iteration: spec.mode.is_job().then_some(n),
                    restart: spec.restart.as_ref().map(|r| r.condition.clone()),
                },
                spec: spec.clone(),
                previous: None,
            },
        );
        schedule(&mut st, &id, spec, &b);
        Ok(id)
    }

    async fn update_service(&self, id: &str, version: u64, spec: &ServiceSpec) -> Result<()> {
        self.swarm_active()?;
        self.record(format!("update-service {}", spec.name));
        let b = lock(&self.behaviour).clone();
        let mut st = lock(&self.state);
        st.next_id += 1;
        let next = st.next_id;
        let Some(s) = st.swarm.services.get_mut(id) else {
            return Err(EngineError::NotFound {
                what: format!("service `{id}`"),
            });
        };
        if s.info.version != version {
            return Err(EngineError::Api {
                status: 500,
                message: "update out of sequence".into(),
            });
        }
        let service = spec
            .labels
            .get(crate::LABEL_SERVICE)
            .cloned()
            .unwrap_or_default();
        let fails = spec.health.is_some()
            && (b.unhealthy.contains(&service) || spec.env.iter().any(|e| e.contains("BROKEN")));
        let rolls_back = fails
            && spec
                .update
                .as_ref()
                .is_some_and(|u| u.failure_action == "rollback");
        let old = s.spec.clone();
        s.previous = Some(old.clone());
        s.info.version = next;
        if spec.mode.is_job() {
            s.info.job_iteration = Some(next);
        }
        let (now, status) = if rolls_back {
            (old, ("rollback_completed", "rolled back: task unhealthy"))
        } else if fails {
            (spec.clone(), ("paused", "update paused: task unhealthy"))
        } else {
            (spec.clone(), ("completed", "update completed"))
        };
        s.spec = now.clone();
        s.info.labels = now.labels.clone();
        s.info.image = now.image.clone();
        s.info.mode = now.mode.clone();
        s.info.restart = now.restart.as_ref().map(|r| r.condition.clone());
        s.info.update_status = Some(UpdateStatus {
            state: status.0.into(),
            message: status.1.into(),
        });
        schedule(&mut st, id, &now, &b);
        Ok(())
    }

    async fn rollback_service(&self, id: &str, version: u64) -> Result<()> {
        self.swarm_active()?;
        let previous = {
            let st = lock(&self.state);
            st.swarm.services.get(id).and_then(|s| s.previous.clone())
        };
        let Some(previous) = previous else {
            return Err(EngineError::Api {
                status: 400,
                message: "service has no previous spec".into(),
            });
        };
        self.update_service(id, version, &previous).await
    }

    async fn remove_service(&self, id: &str) -> Result<()> {
        self.swarm_active()?;
        let mut st = lock(&self.state);
        if let Some(s) = st.swarm.services.remove(id) {
            st.calls.push(format!("remove-service {}", s.spec.name));
        }
        st.swarm.tasks.retain(|t| t.service_id != id);
        Ok(())
    }

    async fn list_tasks(&self, services: &[String]) -> Result<Vec<TaskInfo>> {
        self.swarm_active()?;
        let mut st = lock(&self.state);
        let ids: Vec<String> = st
            .swarm
            .services
            .values()
            .filter(|s| services.contains(&s.info.id) || services.contains(&s.info.name))
            .map(|s| s.info.id.clone())
            .collect();
        let pending = std::mem::take(&mut st.swarm.pending);
        let mut reached = Vec::new();
        for t in st.swarm.tasks.iter_mut() {
            if let Some(last) = pending.get(&t.id) {
                t.state = *last;
                t.message = last.as_str().into();
                // Its container was made on its way there.
                t.container_id = Some(format!("ctr-{}", t.id));
                if *last == TaskState::Complete {
                    t.exit_code = Some(0);
                }
                if *last == TaskState::Failed {
                    t.exit_code = Some(1);
                    t.error = Some("task: non-zero exit (1)".into());
                }
                reached.push(format!("task {} {}", t.id, last.as_str()));
            }
        }
        st.calls.extend(reached);
        Ok(st
            .swarm
            .tasks
            .iter()
            .filter(|t| ids.contains(&t.service_id))
            .cloned()
            .collect())
    }

    async fn list_file_objects(&self, kind: FileKind, stack: &str) -> Result<Vec<FileObjectInfo>> {
        self.swarm_active()?;
        Ok(lock(&self.state)
            .swarm
            .objects
            .values()
            .filter(|(k, o, _)| *k == kind && of_stack(&o.labels, stack))
            .map(|(_, o, _)| o.clone())
            .collect())
    }

    async fn inspect_file_object(
        &self,
        kind: FileKind,
        name: &str,
    ) -> Result<Option<FileObjectInfo>> {
        self.swarm_active()?;
        Ok(lock(&self.state)
            .swarm
            .objects
            .values()
            .find(|(k, o, _)| *k == kind && (o.name == name || o.id == name))
            .map(|(_, o, _)| o.clone()))
    }

    async fn create_file_object(&self, kind: FileKind, spec: &FileObjectSpec) -> Result<String> {
        self.swarm_active()?;
        self.record(format!("create-{} {}", kind.as_str(), spec.name));
        let mut st = lock(&self.state);
        if st
            .swarm
            .objects
            .values()
            .any(|(k, o, _)| *k == kind && o.name == spec.name)
        {
            return Err(EngineError::Conflict {
                what: format!("{} `{}`", kind.as_str(), spec.name),
                message: "name conflicts with an existing object".into(),
            });
        }
        st.next_id += 1;
        let id = format!("obj{:04}", st.next_id);
        st.swarm.objects.insert(
            id.clone(),
            (
                kind,
                FileObjectInfo {
                    id: id.clone(),
                    name: spec.name.clone(),
                    labels: spec.labels.clone(),
                },
                spec.data.len(),
            ),
        );
        Ok(id)
    }

    async fn remove_file_object(&self, kind: FileKind, id: &str) -> Result<()> {
        self.swarm_active()?;
        let mut st = lock(&self.state);
        let in_use = st.swarm.services.values().any(|s| {
            s.spec.secrets.iter().chain(&s.spec.configs).any(|f| {
                f.id.as_deref() == Some(id)
                    || st
                        .swarm
                        .objects
                        .get(id)
                        .is_some_and(|(_, o, _)| o.name == f.name)
            })
        });
        if in_use {
            return Err(EngineError::Api {
                status: 400,
                message: format!("{} `{id}` is in use", kind.as_str()),
            });
        }
        if let Some((_, o, _)) = st.swarm.objects.remove(id) {
            st.calls
                .push(format!("remove-{} {}", kind.as_str(), o.name));
        }
        Ok(())
    }

    async fn swarm_events(&self) -> Result<BoxStream<'static, Result<SwarmEvent>>> {
        self.swarm_active()?;
        // The fake's tasks move when listed, so nothing happens between two looks: no event
        // is ever due.
        Ok(futures::stream::pending().boxed())
    }

    async fn task_logs(
        &self,
        id: &str,
        _options: &LogOptions,
    ) -> Result<BoxStream<'static, Result<LogChunk>>> {
        self.swarm_active()?;
        let line = LogChunk {
            stream: LogStream::Stdout,
            text: format!("output of {id}\n"),
        };
        Ok(futures::stream::iter([Ok(line)]).boxed())
    }
}
