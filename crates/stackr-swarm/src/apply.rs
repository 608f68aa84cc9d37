//! Executes a Swarm plan as written: networks, then secrets and configs, then every service as
//! a future that first waits for its dependencies' conditions (Swarm has no `depends-on`),
//! then creates or updates it and, for an update, follows the rollout batch by batch until
//! Swarm says it completed or rolled back. Old secrets, configs, services and networks go
//! last, once nothing uses them.
//!
//! Waiting reads task states: each look is cued by the swarm's events (a service updated, a
//! container of this node started or died) or, when none comes, after a backoff that starts
//! at 25 ms and doubles up to a second: no fixed poll floor, and no event is needed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use stackr_engine::EngineError;
use stackr_engine::swarm::{
    FileKind, FileObjectSpec, NodeInfo, ServiceInfo, ServiceMode, ServiceSpec, Swarm, TaskInfo,
    TaskState,
};
use stackr_spec::Condition;
use tokio::sync::Notify;

use crate::SwarmError;
use crate::desired::{Desired, DesiredService, file_labels};
use crate::plan::{ObjectAction, Plan, ServiceAction};
use crate::ready::{Readiness, own_condition, readiness, wanted};

/// A step of applying, as it happens.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "step", rename_all = "kebab-case")]
pub enum SwarmStep {
    NetworkCreated {
        name: String,
    },
    NetworkRemoved {
        name: String,
    },
    FileCreated {
        kind: FileKind,
        name: String,
    },
    FileRemoved {
        kind: FileKind,
        name: String,
    },
    /// A removal that must wait (the object is still in use): it is left for the next `up`.
    FileKept {
        kind: FileKind,
        name: String,
        reason: String,
    },
    /// `service` waits for `on` to meet `condition`.
    Waiting {
        service: String,
        on: String,
        condition: String,
        progress: String,
    },
    DependencyReady {
        service: String,
        on: String,
        condition: String,
    },
    ServiceCreated {
        service: String,
    },
    ServiceUpdating {
        service: String,
        rolling: Option<String>,
    },
    /// A batch of a rolling update is done: `updated` of `total` tasks run the new spec.
    Batch {
        service: String,
        updated: u64,
        total: u64,
    },
    ServiceUpdated {
        service: String,
    },
    ServiceRemoved {
        service: String,
    },
    /// `--wait`: the service meets its own condition.
    Ready {
        service: String,
        condition: String,
    },
}

/// How to apply.
#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    /// Wait until every service meets its own condition (`up --wait`).
    pub wait: bool,
    /// Set to stop at the next step (Ctrl-C).
    pub cancel: Option<tokio::sync::watch::Receiver<bool>>,
}

/// Wakes waiting loops when the swarm reports a change, else after their backoff.
struct Cues {
    notify: Arc<Notify>,
    task: Option<tokio::task::JoinHandle<()>>,
    cancel: Option<tokio::sync::watch::Receiver<bool>>,
    failed: tokio::sync::watch::Sender<bool>,
}

impl Cues {
    async fn new<S: Swarm>(engine: &S, cancel: Option<tokio::sync::watch::Receiver<bool>>) -> Cues {
        let notify = Arc::new(Notify::new());
        // Without events the loops still look after their backoff: events only make it sooner.
        let task = match engine.swarm_events().await {
            Ok(mut events) => {
                let n = notify.clone();
                Some(tokio::spawn(async move {
                    while let Some(Ok(_)) = events.next().await {
                        n.notify_waiters();
                    }
                }))
            }
            Err(_) => None,
        };
        Cues {
            notify,
            task,
            cancel,
            failed: tokio::sync::watch::Sender::new(false),
        }
    }

    fn stopped(&self) -> bool {
        *self.failed.borrow() || self.cancel.as_ref().is_some_and(|c| *c.borrow())
    }

    /// Waits for a cue or the backoff of look number `n`.
    async fn next(&self, n: u32) -> Result<(), SwarmError> {
        if self.stopped() {
            return Err(SwarmError::Interrupted);
        }
        let backoff =
            Duration::from_millis(25u64.saturating_mul(1 << n.min(6))).min(Duration::from_secs(1));
        let mut failed = self.failed.subscribe();
        let mut cancel = self.cancel.clone();
        tokio::select! {
            _ = self.notify.notified() => {}
            _ = tokio::time::sleep(backoff) => {}
            _ = failed.wait_for(|f| *f) => {}
            _ = async {
                match cancel.as_mut() {
                    Some(c) => { let _ = c.wait_for(|x| *x).await; }
                    None => std::future::pending::<()>().await,
                }
            } => {}
        }
        if self.stopped() {
            return Err(SwarmError::Interrupted);
        }
        Ok(())
    }
}

impl Drop for Cues {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// Applies `plan` (made from `desired`).
pub async fn apply<S: Swarm>(
    engine: &S,
    desired: &Desired,
    plan: &Plan,
    opts: &ApplyOptions,
    report: &(dyn Fn(SwarmStep) + Send + Sync),
) -> Result<(), SwarmError> {
    let cues = Cues::new(engine, opts.cancel.clone()).await;
    let networks = make_networks(engine, plan, report).await?;
    let files = make_files(engine, desired, plan, report).await?;
    let runs = plan.services.iter().filter_map(|item| {
        let want = desired.services.iter().find(|d| d.spec.name == item.name)?;
        let spec = with_ids(&want.spec, &networks, &files);
        Some(async {
            let result = run_service(engine, desired, want, item, spec, &cues, report).await;
            if result.is_err() {
                cues.failed.send_replace(true);
            }
            result
        })
    });
    let results = futures::future::join_all(runs).await;
    // The first real failure, not the interruptions it caused.
    let mut first_interrupt = None;
    for r in results {
        match r {
            Err(SwarmError::Interrupted) => first_interrupt = Some(SwarmError::Interrupted),
            Err(e) => return Err(e),
            Ok(()) => {}
        }
    }
    if let Some(e) = first_interrupt {
        return Err(e);
    }
    remove_old(engine, plan, &cues, report).await?;
    if opts.wait {
        for want in desired.services.iter() {
            let condition = wait_condition(want);
            wait_ready(engine, want, condition, &cues, report, None).await?;
            report(SwarmStep::Ready {
                service: want.key.clone(),
                condition: condition.as_str().into(),
            });
        }
    }
    Ok(())
}

fn wait_condition(want: &DesiredService) -> Condition {
    let info = stackr_engine::swarm::ServiceInfo {
        id: String::new(),
        name: String::new(),
        version: 0,
        labels: BTreeMap::new(),
        image: String::new(),
        mode: want.spec.mode.clone(),
        update_status: None,
        job_iteration: None,
        restart: None,
    };
    own_condition(&info, has_check(want))
}

/// Whether a service's tasks run a health check.
fn has_check(want: &DesiredService) -> bool {
    want.spec
        .health
        .as_ref()
        .is_some_and(|h| h.test.first().is_some_and(|t| t != "NONE"))
}

async fn make_networks<S: Swarm>(
    engine: &S,
    plan: &Plan,
    report: &(dyn Fn(SwarmStep) + Send + Sync),
) -> Result<BTreeMap<String, String>, SwarmError> {
    let mut ids = BTreeMap::new();
    for n in &plan.networks {
        match (n.action, &n.spec) {
            (ObjectAction::Keep, _) => {
                if let Some(id) = &n.id {
                    ids.insert(n.name.clone(), id.clone());
                }
            }
            (ObjectAction::Create, Some(spec)) => {
                let id = match engine.create_network(spec).await {
                    Ok(id) => id,
                    // Made meanwhile (another run, or an earlier interrupted one): adopted.
                    Err(EngineError::Conflict { .. }) => engine
                        .inspect_network(&spec.name)
                        .await
                        .map_err(SwarmError::engine(format!("network `{}`", spec.name)))?
                        .map(|n| n.id)
                        .unwrap_or_default(),
                    Err(e) => {
                        return Err(SwarmError::Engine {
                            context: format!("network `{}`", spec.name),
                            error: e,
                        });
                    }
                };
                report(SwarmStep::NetworkCreated {
                    name: spec.name.clone(),
                });
                ids.insert(n.name.clone(), id);
            }
            _ => {}
        }
    }
    Ok(ids)
}

async fn make_files<S: Swarm>(
    engine: &S,
    desired: &Desired,
    plan: &Plan,
    report: &(dyn Fn(SwarmStep) + Send + Sync),
) -> Result<BTreeMap<(FileKind, String), String>, SwarmError> {
    let mut ids = BTreeMap::new();
    for f in &desired.files {
        let item = plan
            .files
            .iter()
            .find(|i| i.kind == f.kind && i.name == f.name);
        let id = match item {
            Some(i) if i.action == ObjectAction::Keep => i.id.clone().unwrap_or_default(),
            Some(i) if i.action == ObjectAction::Create => {
                let spec = FileObjectSpec {
                    name: f.name.clone(),
                    labels: file_labels(&desired.stack, f),
                    data: f.data.clone(),
                };
                let what = format!("{} `{}`", f.kind.as_str(), f.name);
                let id = match engine.create_file_object(f.kind, &spec).await {
                    Ok(id) => id,
                    // The same content under the same name: made meanwhile, adopted.
                    Err(EngineError::Conflict { .. }) => engine
                        .inspect_file_object(f.kind, &f.name)
                        .await
                        .map_err(SwarmError::engine(what.clone()))?
                        .map(|o| o.id)
                        .unwrap_or_default(),
                    Err(e) => {
                        return Err(SwarmError::Engine {
                            context: what,
                            error: e,
                        });
                    }
                };
                report(SwarmStep::FileCreated {
                    kind: f.kind,
                    name: f.name.clone(),
                });
                id
            }
            // External: the swarm's own object.
            _ => engine
                .inspect_file_object(f.kind, &f.name)
                .await
                .map_err(SwarmError::engine(format!(
                    "{} `{}`",
                    f.kind.as_str(),
                    f.name
                )))?
                .map(|o| o.id)
                .unwrap_or_default(),
        };
        ids.insert((f.kind, f.name.clone()), id);
    }
    Ok(ids)
}

/// The spec with the ids of its networks, secrets and configs (Swarm wants them; they are
/// not part of what the service is, nor of its hash).
fn with_ids(
    spec: &ServiceSpec,
    networks: &BTreeMap<String, String>,
    files: &BTreeMap<(FileKind, String), String>,
) -> ServiceSpec {
    let mut spec = spec.clone();
    for n in &mut spec.networks {
        n.id = networks.get(&n.network).cloned();
    }
    for s in &mut spec.secrets {
        s.id = files.get(&(FileKind::Secret, s.name.clone())).cloned();
    }
    for c in &mut spec.configs {
        c.id = files.get(&(FileKind::Config, c.name.clone())).cloned();
    }
    spec
}

async fn run_service<S: Swarm>(
    engine: &S,
    desired: &Desired,
    want: &DesiredService,
    item: &crate::plan::ServiceItem,
    spec: ServiceSpec,
    cues: &Cues,
    report: &(dyn Fn(SwarmStep) + Send + Sync),
) -> Result<(), SwarmError> {
    // A kept service waits for nothing: its dependents wait for it themselves.
    if item.action == ServiceAction::Keep {
        return Ok(());
    }
    for dep in &want.depends_on {
        let Some(on) = desired.services.iter().find(|d| d.key == dep.service) else {
            continue;
        };
        let result = wait_ready(engine, on, dep.condition, cues, report, Some(&want.key)).await;
        match result {
            Ok(()) => report(SwarmStep::DependencyReady {
                service: want.key.clone(),
                on: on.key.clone(),
                condition: dep.condition.as_str().into(),
            }),
            Err(SwarmError::ServiceFailed { .. }) if !dep.required => {}
            Err(e) => return Err(e),
        }
    }
    let context = format!("service `{}`", want.key);
    match &item.action {
        ServiceAction::Keep => Ok(()),
        ServiceAction::Create => {
            create(engine, &spec, &context).await?;
            report(SwarmStep::ServiceCreated {
                service: want.key.clone(),
            });
            Ok(())
        }
        ServiceAction::Replace { .. } => {
            if let Some(id) = &item.id {
                engine
                    .remove_service(id)
                    .await
                    .map_err(SwarmError::engine(context.clone()))?;
            }
            create(engine, &spec, &context).await?;
            report(SwarmStep::ServiceCreated {
                service: want.key.clone(),
            });
            Ok(())
        }
        ServiceAction::Update { rolling, .. } => {
            let id = item.id.clone().unwrap_or_default();
            engine
                .update_service(&id, item.version, &spec)
                .await
                .map_err(SwarmError::engine(context.clone()))?;
            report(SwarmStep::ServiceUpdating {
                service: want.key.clone(),
                rolling: rolling.clone(),
            });
            if !spec.mode.is_job() {
                follow_update(engine, want, cues, report).await?;
            }
            report(SwarmStep::ServiceUpdated {
                service: want.key.clone(),
            });
            Ok(())
        }
        ServiceAction::Remove => Ok(()),
    }
}

async fn create<S: Swarm>(engine: &S, spec: &ServiceSpec, context: &str) -> Result<(), SwarmError> {
    match engine.create_service(spec).await {
        Ok(_) => Ok(()),
        // Made by an earlier run that was interrupted after the swarm took it.
        Err(EngineError::Conflict { .. }) => Ok(()),
        Err(e) => Err(SwarmError::Engine {
            context: context.to_string(),
            error: e,
        }),
    }
}

/// A service as the swarm has it now, with its tasks and, for a global service (whose wanted
/// tasks are one per node), the nodes; `None` while it does not exist.
async fn look<S: Swarm>(
    engine: &S,
    want: &DesiredService,
) -> Result<Option<(ServiceInfo, Vec<TaskInfo>, Vec<NodeInfo>)>, SwarmError> {
    let context = format!("service `{}`", want.key);
    let Some(info) = engine
        .inspect_service(&want.spec.name)
        .await
        .map_err(SwarmError::engine(context.clone()))?
    else {
        return Ok(None);
    };
    let tasks = engine
        .list_tasks(std::slice::from_ref(&info.id))
        .await
        .map_err(SwarmError::engine(context))?;
    let nodes = if info.mode == ServiceMode::Global {
        engine
            .list_nodes()
            .await
            .map_err(SwarmError::engine("nodes"))?
    } else {
        Vec::new()
    };
    Ok(Some((info, tasks, nodes)))
}

/// Waits until `on` (running spec `on.hash`) meets `condition`; `waiter` names the service
/// that waits, for the report.
async fn wait_ready<S: Swarm>(
    engine: &S,
    on: &DesiredService,
    condition: Condition,
    cues: &Cues,
    report: &(dyn Fn(SwarmStep) + Send + Sync),
    waiter: Option<&str>,
) -> Result<(), SwarmError> {
    let mut last = String::new();
    let mut n = 0;
    loop {
        let state = match look(engine, on).await? {
            // Not created yet (its own future is on its way).
            None => Readiness::Waiting("not created yet".into()),
            Some((info, tasks, nodes)) => {
                readiness(&info, &on.hash, condition, has_check(on), &tasks, &nodes)
            }
        };
        match state {
            Readiness::Ready => return Ok(()),
            Readiness::Failed(reason) => {
                return Err(SwarmError::ServiceFailed {
                    service: on.key.clone(),
                    reason,
                });
            }
            Readiness::Waiting(progress) => {
                if progress != last {
                    if let Some(w) = waiter {
                        report(SwarmStep::Waiting {
                            service: w.to_string(),
                            on: on.key.clone(),
                            condition: condition.as_str().into(),
                            progress: progress.clone(),
                        });
                    }
                    last = progress;
                }
            }
        }
        cues.next(n).await?;
        n += 1;
    }
}

/// Follows a rolling update until Swarm completes it, reporting each batch; a rollback or a
/// pause is an error naming the service.
async fn follow_update<S: Swarm>(
    engine: &S,
    want: &DesiredService,
    cues: &Cues,
    report: &(dyn Fn(SwarmStep) + Send + Sync),
) -> Result<(), SwarmError> {
    let mut reported = 0;
    let mut n = 0;
    loop {
        let Some((info, tasks, nodes)) = look(engine, want).await? else {
            return Err(SwarmError::ServiceFailed {
                service: want.key.clone(),
                reason: "it was removed during its update".into(),
            });
        };
        let status = info.update_status.clone();
        let state = status.as_ref().map(|s| s.state.as_str()).unwrap_or("");
        let message = status
            .as_ref()
            .map(|s| s.message.clone())
            .unwrap_or_default();
        match state {
            "rollback_completed" | "rollback_paused" => {
                return Err(SwarmError::RolledBack {
                    service: want.key.clone(),
                    message,
                });
            }
            "paused" => {
                return Err(SwarmError::UpdatePaused {
                    service: want.key.clone(),
                    message,
                });
            }
            _ => {}
        }
        let total = wanted(&info, &nodes);
        let updated = tasks
            .iter()
            .filter(|t| {
                t.container_labels.get(stackr_engine::LABEL_HASH) == Some(&want.hash)
                    && t.state == TaskState::Running
                    && t.desired_state == TaskState::Running
            })
            .count() as u64;
        if updated > reported {
            report(SwarmStep::Batch {
                service: want.key.clone(),
                updated: updated.min(total),
                total,
            });
            reported = updated;
        }
        let rolling_back = state.starts_with("rollback");
        if updated >= total && state != "updating" && !rolling_back {
            return Ok(());
        }
        cues.next(n).await?;
        n += 1;
    }
}

/// Removes what the plan removes: services, then secrets and configs no service uses any
/// more, then networks.
async fn remove_old<S: Swarm>(
    engine: &S,
    plan: &Plan,
    cues: &Cues,
    report: &(dyn Fn(SwarmStep) + Send + Sync),
) -> Result<(), SwarmError> {
    for s in plan
        .services
        .iter()
        .filter(|s| s.action == ServiceAction::Remove)
    {
        if let Some(id) = &s.id {
            engine
                .remove_service(id)
                .await
                .map_err(SwarmError::engine(format!("service `{}`", s.key)))?;
            report(SwarmStep::ServiceRemoved {
                service: s.key.clone(),
            });
        }
    }
    for f in plan
        .files
        .iter()
        .filter(|f| f.action == ObjectAction::Remove)
    {
        let Some(id) = &f.id else { continue };
        match remove_in_use(cues, || engine.remove_file_object(f.kind, id)).await {
            Ok(()) => report(SwarmStep::FileRemoved {
                kind: f.kind,
                name: f.name.clone(),
            }),
            Err(e) => report(SwarmStep::FileKept {
                kind: f.kind,
                name: f.name.clone(),
                reason: e.to_string(),
            }),
        }
    }
    for n in plan
        .networks
        .iter()
        .filter(|n| n.action == ObjectAction::Remove)
    {
        let Some(id) = &n.id else { continue };
        remove_in_use(cues, || engine.remove_network(id))
            .await
            .map_err(SwarmError::engine(format!("network `{}`", n.name)))?;
        report(SwarmStep::NetworkRemoved {
            name: n.name.clone(),
        });
    }
    Ok(())
}

/// A removal the swarm refuses while tasks shutting down still use the object: tried again
/// for up to 30 seconds.
async fn remove_in_use<F, Fut>(cues: &Cues, remove: F) -> Result<(), EngineError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), EngineError>>,
{
    let start = std::time::Instant::now();
    let mut n = 0;
    loop {
        match remove().await {
            Ok(()) => return Ok(()),
            Err(EngineError::NotFound { .. }) => return Ok(()),
            Err(e) if start.elapsed() > Duration::from_secs(30) => return Err(e),
            Err(EngineError::Api { .. }) | Err(EngineError::Conflict { .. }) => {
                if cues.next(n).await.is_err() {
                    return Err(EngineError::Other("interrupted".into()));
                }
                n += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Removes everything of the stack from the swarm: services first, then its secrets,
/// configs and networks. Volumes stay on their nodes.
pub async fn down<S: Swarm>(
    engine: &S,
    stack: &str,
    report: &(dyn Fn(SwarmStep) + Send + Sync),
) -> Result<(), SwarmError> {
    crate::observe::check_manager(engine).await?;
    let cues = Cues::new(engine, None).await;
    let services = engine
        .list_services(stack)
        .await
        .map_err(SwarmError::engine("services"))?;
    for s in &services {
        engine
            .remove_service(&s.id)
            .await
            .map_err(SwarmError::engine(format!("service `{}`", s.name)))?;
        report(SwarmStep::ServiceRemoved {
            service: crate::observe::key_of(s).unwrap_or(&s.name).to_string(),
        });
    }
    for kind in [FileKind::Secret, FileKind::Config] {
        let list = engine
            .list_file_objects(kind, stack)
            .await
            .map_err(SwarmError::engine(format!("{}s", kind.as_str())))?;
        for o in list {
            remove_in_use(&cues, || engine.remove_file_object(kind, &o.id))
                .await
                .map_err(SwarmError::engine(format!(
                    "{} `{}`",
                    kind.as_str(),
                    o.name
                )))?;
            report(SwarmStep::FileRemoved {
                kind,
                name: o.name.clone(),
            });
        }
    }
    let networks = engine
        .list_networks(stack)
        .await
        .map_err(SwarmError::engine("networks"))?;
    for n in networks {
        remove_in_use(&cues, || engine.remove_network(&n.id))
            .await
            .map_err(SwarmError::engine(format!("network `{}`", n.name)))?;
        report(SwarmStep::NetworkRemoved { name: n.name });
    }
    Ok(())
}
