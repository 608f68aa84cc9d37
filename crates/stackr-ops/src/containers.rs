//! The compose commands that act on a stack's containers one by one: `stop`, `start`,
//! `restart`, `kill`, `rm`. Each picks the chosen services' containers in start order (stops
//! and removals go the other way, dependents first), acts on each, reports each as an
//! [`OpEvent::Container`], and goes on past a container that fails.

use std::time::Duration;

use stackr_engine::{ContainerInfo, ContainerState, Engine, EngineError};
use stackr_spec::Stack;

use crate::{OpError, OpEvent, Sink};

/// What to do to each chosen container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verb {
    /// Stop the running ones, dependents first.
    Stop { timeout: Option<Duration> },
    /// Start those not running, in start order.
    Start,
    /// Stop and start each, in start order.
    Restart { timeout: Option<Duration> },
    /// Send a signal to the running ones.
    Kill { signal: String },
    /// Remove the stopped ones, dependents first; with `stop`, the running ones too.
    Remove { stop: bool },
    /// Freeze the running ones, dependents first.
    Pause,
    /// Thaw the paused ones, in start order.
    Unpause,
}

/// What happened to one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Did {
    Stopped,
    Started,
    Restarted,
    Killed,
    Removed,
    Paused,
    Unpaused,
    /// `rm` without `stop` keeps a running container.
    KeptRunning,
    Failed(EngineError),
}

/// The chosen services' containers (all when `services` is empty; never one-offs), in start
/// order; an unknown service is an error.
pub async fn containers<E: Engine>(
    engine: &E,
    stack: &Stack,
    services: &[String],
) -> Result<Vec<ContainerInfo>, OpError> {
    known(stack, services)?;
    let mut list = engine
        .list_containers(&stack.name)
        .await
        .map_err(|error| OpError::Engine {
            context: "cannot list the stack's containers".into(),
            error,
        })?;
    // One-offs (`stackr run`) are not the service's: `start` must not run an old one again.
    list.retain(|c| {
        !c.labels.contains_key(stackr_engine::LABEL_HELPER)
            && c.service()
                .is_some_and(|s| services.is_empty() || services.iter().any(|x| x == s))
    });
    let order: Vec<&String> = stack.waves.iter().flatten().collect();
    list.sort_by_key(|c| {
        let wave = order.iter().position(|s| Some(s.as_str()) == c.service());
        (wave.unwrap_or(usize::MAX), c.number())
    });
    Ok(list)
}

/// Every one of `services` is a service of the stack.
pub fn known(stack: &Stack, services: &[String]) -> Result<(), OpError> {
    match services.iter().find(|s| !stack.services.contains_key(*s)) {
        Some(unknown) => Err(OpError::UnknownService {
            stack: stack.name.clone(),
            service: unknown.clone(),
        }),
        None => Ok(()),
    }
}

/// The containers a verb acts on, in the order it acts.
pub fn chosen(list: Vec<ContainerInfo>, verb: &Verb) -> Vec<ContainerInfo> {
    let running = |c: &ContainerInfo| c.state == ContainerState::Running;
    let mut list: Vec<ContainerInfo> = match verb {
        Verb::Stop { .. } | Verb::Kill { .. } => list.into_iter().filter(running).collect(),
        Verb::Start => list.into_iter().filter(|c| !running(c)).collect(),
        Verb::Restart { .. } | Verb::Remove { .. } => list,
        Verb::Pause => list.into_iter().filter(running).collect(),
        Verb::Unpause => list
            .into_iter()
            .filter(|c| c.state == ContainerState::Paused)
            .collect(),
    };
    if matches!(verb, Verb::Stop { .. } | Verb::Remove { .. } | Verb::Pause) {
        list.reverse();
    }
    list
}

/// Acts on each container of `list` (as [`chosen`] gives it), one by one, reporting each.
/// Returns how many failed.
pub async fn act<E: Engine>(
    engine: &E,
    list: &[ContainerInfo],
    verb: &Verb,
    sink: Sink<'_>,
) -> usize {
    let mut failed = 0;
    for c in list {
        let did = match act_on(engine, c, verb, sink).await {
            Ok(did) => did,
            Err(e) => {
                failed += 1;
                Did::Failed(e)
            }
        };
        sink(OpEvent::Container {
            name: c.name.clone(),
            service: c.service().unwrap_or_default().to_string(),
            did,
        });
    }
    failed
}

/// A container's `pre-stop` hooks before a stop: a failure is reported, the stop goes on.
async fn pre_stop<E: Engine>(
    engine: &E,
    c: &ContainerInfo,
    timeout: Option<std::time::Duration>,
    sink: Sink<'_>,
) {
    let labels = Some(&c.labels);
    if let Err(e) = stackr_reconcile::hooks::pre_stop(engine, &c.id, labels, timeout).await {
        sink(OpEvent::HookFailed {
            container: c.name.clone(),
            message: e.to_string(),
        });
    }
}

/// `start` of a container whose recovery wait is for a dependency with no running container
/// (`stackr start api` while `db` is stopped): it starts at once, as compose's `start` does.
/// With its dependencies running (or started just before, as `start` of the whole stack
/// does in start order), the wait orders it.
async fn release_if_alone<E: Engine>(engine: &E, c: &ContainerInfo) -> Result<(), EngineError> {
    let Some(spec) = stackr_reconcile::rollout::created_from(c).map(|t| t.spec) else {
        return Ok(());
    };
    let (Some(slot), Some(stack)) = (
        stackr_reconcile::recovery::waiting_slot(&spec),
        c.labels.get(stackr_engine::LABEL_STACK),
    ) else {
        return Ok(());
    };
    let others = engine.list_containers(stack).await?;
    let alone = stackr_reconcile::recovery::waits_for(&spec)
        .iter()
        .any(|dep| {
            !others.iter().any(|o| {
                o.service() == Some(*dep)
                    && o.state == ContainerState::Running
                    && !o.labels.contains_key(stackr_engine::LABEL_HELPER)
            })
        });
    if !alone {
        return Ok(());
    }
    stackr_reconcile::recovery::probe_in(engine, &c.id, "release", slot).await
}

/// A container's `post-start` hooks after a start: a failure fails the verb.
async fn post_start<E: Engine>(engine: &E, c: &ContainerInfo) -> Result<(), EngineError> {
    stackr_reconcile::hooks::post_start(engine, &c.id, &c.name, &c.labels)
        .await
        .map_err(|e| EngineError::Other(e.to_string()))
}

async fn act_on<E: Engine>(
    engine: &E,
    c: &ContainerInfo,
    verb: &Verb,
    sink: Sink<'_>,
) -> Result<Did, EngineError> {
    let running = c.state == ContainerState::Running;
    match verb {
        Verb::Stop { timeout } => {
            pre_stop(engine, c, *timeout, sink).await;
            engine.stop_container(&c.id, *timeout).await?;
            Ok(Did::Stopped)
        }
        Verb::Start => {
            engine.start_container(&c.id).await?;
            release_if_alone(engine, c).await?;
            post_start(engine, c).await?;
            Ok(Did::Started)
        }
        Verb::Restart { timeout } => {
            pre_stop(engine, c, *timeout, sink).await;
            engine.stop_container(&c.id, *timeout).await?;
            engine.start_container(&c.id).await?;
            post_start(engine, c).await?;
            Ok(Did::Restarted)
        }
        Verb::Pause => {
            engine.pause_container(&c.id).await?;
            Ok(Did::Paused)
        }
        Verb::Unpause => {
            engine.unpause_container(&c.id).await?;
            Ok(Did::Unpaused)
        }
        Verb::Kill { signal } => {
            engine.kill_container(&c.id, signal).await?;
            Ok(Did::Killed)
        }
        Verb::Remove { stop } if running && !stop => Ok(Did::KeptRunning),
        Verb::Remove { .. } => {
            if running {
                pre_stop(engine, c, None, sink).await;
                engine.stop_container(&c.id, None).await?;
            }
            engine.remove_container(&c.id).await?;
            Ok(Did::Removed)
        }
    }
}

/// Container `index` of a service (`--index N`, 1 by default).
pub async fn one<E: Engine>(
    engine: &E,
    stack: &Stack,
    service: &str,
    index: u32,
) -> Result<ContainerInfo, OpError> {
    let list = containers(engine, stack, &[service.to_string()]).await?;
    list.into_iter()
        .find(|c| c.number() == Some(index))
        .ok_or_else(|| OpError::NoContainer {
            service: service.to_string(),
            index,
        })
}

/// `top`: the processes of the chosen services' running containers, by container name.
pub async fn top<E: Engine>(
    engine: &E,
    stack: &Stack,
    services: &[String],
) -> Result<Vec<(String, stackr_engine::Processes)>, OpError> {
    let mut out = Vec::new();
    for c in containers(engine, stack, services).await? {
        if c.state != ContainerState::Running {
            continue;
        }
        let p = engine.top(&c.id).await.map_err(|error| OpError::Engine {
            context: format!("cannot list the processes of `{}`", c.name),
            error,
        })?;
        out.push((c.name, p));
    }
    Ok(out)
}

/// Container `index` of a service, which must be running (`exec`).
pub async fn running<E: Engine>(
    engine: &E,
    stack: &Stack,
    service: &str,
    index: u32,
) -> Result<ContainerInfo, OpError> {
    let c = one(engine, stack, service, index).await?;
    if c.state != ContainerState::Running {
        return Err(OpError::NotRunning {
            service: service.to_string(),
            container: c.name,
            state: c.state.as_str().to_string(),
        });
    }
    Ok(c)
}

/// How `attach SERVICE` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attached {
    /// The container stopped, with this exit code.
    Exited(i64),
    /// The user detached (the detach keys, or an interrupt without `sig_proxy`); the
    /// container runs on.
    Detached,
}

/// `attach SERVICE`: `input` to the main process of the service's container `index` and its
/// output to `output`, until it stops or the user detaches. Each item of `interrupts`
/// (Ctrl-C) is sent on to the container as SIGINT with `sig_proxy`, and detaches without.
#[allow(clippy::too_many_arguments)]
pub async fn attach_service<E: Engine>(
    engine: &E,
    stack: &Stack,
    service: &str,
    index: u32,
    spec: &stackr_engine::AttachSpec,
    input: Option<futures::stream::BoxStream<'static, Vec<u8>>>,
    output: &(dyn Fn(stackr_engine::LogChunk) + Send + Sync),
    mut interrupts: impl futures::Stream<Item = ()> + Unpin,
    sig_proxy: bool,
) -> Result<Attached, OpError> {
    use futures::StreamExt;
    let c = running(engine, stack, service, index).await?;
    let attached = engine.attach(&c.id, spec, input, output);
    futures::pin_mut!(attached);
    let mut interrupted = false;
    loop {
        tokio::select! {
            r = &mut attached => {
                r.map_err(|error| OpError::Engine { context: format!("cannot attach to `{}`", c.name), error })?;
                break;
            }
            Some(()) = interrupts.next(), if !interrupted || sig_proxy => {
                if !sig_proxy {
                    return Ok(Attached::Detached);
                }
                interrupted = true;
                engine
                    .kill_container(&c.id, "SIGINT")
                    .await
                    .map_err(|error| OpError::Engine { context: format!("cannot interrupt `{}`", c.name), error })?;
            }
        }
    }
    // Stopped: its exit code. Still running: detached.
    let now = engine
        .inspect_container(&c.id)
        .await
        .map_err(|error| OpError::Engine {
            context: format!("cannot inspect `{}`", c.name),
            error,
        })?;
    Ok(match now {
        Some(now) if now.state != ContainerState::Running => {
            Attached::Exited(now.exit_code.unwrap_or(0))
        }
        _ => Attached::Detached,
    })
}

/// `cp SERVICE:PATH ...`: the tar of `path` in container `index` of the service, and the
/// container's name.
pub async fn copy_from<E: Engine>(
    engine: &E,
    stack: &Stack,
    service: &str,
    index: u32,
    path: &str,
) -> Result<(String, Vec<u8>), OpError> {
    let c = one(engine, stack, service, index).await?;
    let tar = engine
        .download_archive(&c.id, path)
        .await
        .map_err(|error| OpError::Engine {
            context: format!("cannot copy `{path}` from `{}`", c.name),
            error,
        })?;
    Ok((c.name, tar))
}

/// `cp ... SERVICE:PATH`: a tar extracted into `dir` of container `index` of the service;
/// the container's name.
pub async fn copy_into<E: Engine>(
    engine: &E,
    stack: &Stack,
    service: &str,
    index: u32,
    dir: &str,
    tar: Vec<u8>,
) -> Result<String, OpError> {
    let c = one(engine, stack, service, index).await?;
    engine
        .upload_archive(&c.id, dir, tar, false)
        .await
        .map_err(|error| OpError::Engine {
            context: format!("cannot copy into `{}` of `{}`", dir, c.name),
            error,
        })?;
    Ok(c.name)
}
