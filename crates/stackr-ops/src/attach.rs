//! An attached `up`: the stack's logs until every followed container ends, or until one
//! exits (`--abort-on-container-exit`, `--exit-code-from`), or until the user interrupts.
//! Then the stack is stopped, dependents first; a second interrupt kills what still runs.

use std::time::Duration;

use futures::StreamExt;
use stackr_engine::{ContainerState, Engine, EngineError, EventKind, LABEL_HELPER};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::logs::LogLine;
use crate::{OpEvent, Sink};

/// How long the last lines of stopped containers are waited for.
const LAST_LINES: Duration = Duration::from_secs(2);

/// When an attached `up` stops the stack by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Abort {
    /// When any container exits (`--abort-on-container-exit`).
    AnyExit,
    /// When this service's container exits, with its code (`--exit-code-from`).
    ExitOf(String),
    /// When any container exits with a code other than 0 (`--abort-on-container-failure`).
    AnyFailure,
}

/// What an attached `up` follows and how it stops.
#[derive(Debug, Clone, Default)]
pub struct AttachOptions {
    /// The services whose logs are shown (all when empty).
    pub services: Vec<String>,
    pub abort: Option<Abort>,
    /// How long a stopping container gets; `None`: its own grace period.
    pub stop_timeout: Option<Duration>,
    /// Log lines with the engine's timestamps.
    pub timestamps: bool,
}

/// How an attached `up` ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachEnd {
    /// Every followed container ended by itself; `code` is the exit code of the `--exit-code-from`
    /// service's container (0 without it).
    Ended { code: i32 },
    /// A container exited and the stack was stopped: its exit code.
    Exited { container: String, code: i32 },
    /// Interrupted once: the stack was stopped.
    Stopped,
    /// Interrupted twice: what still ran was killed.
    Killed,
}

impl AttachEnd {
    /// The exit code of the run, as compose gives it (130 when interrupted).
    pub fn code(&self) -> i32 {
        match self {
            AttachEnd::Ended { code } | AttachEnd::Exited { code, .. } => *code,
            AttachEnd::Stopped | AttachEnd::Killed => 130,
        }
    }
}

/// Follows the stack's logs until it ends, as [`AttachEnd`] says. Each message on
/// `interrupts` is a Ctrl-C. The engine going away is an error, never a quiet end.
#[allow(clippy::too_many_arguments)]
pub async fn attach<E: Engine>(
    engine: &E,
    stack: &str,
    waves: &[Vec<String>],
    opts: &AttachOptions,
    mut interrupts: UnboundedReceiver<()>,
    logs: &(dyn Fn(LogLine) + Send + Sync),
    sink: Sink<'_>,
) -> Result<AttachEnd, EngineError> {
    let following = crate::follow(engine, stack, &opts.services, None, opts.timestamps, logs);
    futures::pin_mut!(following);
    let exits = first_exit(engine, stack, opts.abort.as_ref(), &opts.services);
    tokio::select! {
        r = &mut following => {
            r?;
            // Every container ended: with `--exit-code-from`, its code.
            let code = match &opts.abort {
                Some(abort) => exited(engine, stack, abort, &opts.services)
                    .await?
                    .map_or(0, |(_, code)| code),
                None => 0,
            };
            Ok(AttachEnd::Ended { code })
        }
        exit = exits => {
            let (container, code) = exit?;
            sink(OpEvent::StackStopping { because: Some(container.clone()), code: Some(code) });
            // Ctrl-C while it stops kills what still runs.
            tokio::select! {
                r = crate::stop(engine, stack, waves, opts.stop_timeout, sink) => r?,
                Some(()) = interrupts.recv() => {
                    sink(OpEvent::Killing);
                    kill_all(engine, stack).await?;
                    return Ok(AttachEnd::Killed);
                }
            }
            // The last lines of the containers that stopped are still on their way.
            let _ = tokio::time::timeout(LAST_LINES, &mut following).await;
            Ok(AttachEnd::Exited { container, code })
        }
        Some(()) = interrupts.recv() => {
            sink(OpEvent::StackStopping { because: None, code: None });
            let stop = crate::stop(engine, stack, waves, opts.stop_timeout, sink);
            tokio::select! {
                r = stop => r.map(|()| AttachEnd::Stopped),
                Some(()) = interrupts.recv() => {
                    sink(OpEvent::Killing);
                    kill_all(engine, stack).await?;
                    Ok(AttachEnd::Killed)
                }
            }
        }
    }
}

/// The first container to exit that `abort` names (of the followed `services`, all when
/// empty; never a one-off or a helper), with its code; pending forever without `abort`.
async fn first_exit<E: Engine>(
    engine: &E,
    stack: &str,
    abort: Option<&Abort>,
    services: &[String],
) -> Result<(String, i32), EngineError> {
    let Some(abort) = abort else {
        return std::future::pending().await;
    };
    // Events that cannot be read while the engine is there leave the logs to decide, as
    // before; an engine that went away is an error.
    let mut events = match engine.events(stack).await {
        Ok(events) => events,
        Err(e) => return gone_or_pending(engine, e).await,
    };
    // It may have exited before the events were subscribed (a quick one-shot).
    if let Ok(Some(found)) = exited(engine, stack, abort, services).await {
        return Ok(found);
    }
    while let Some(ev) = events.next().await {
        let ev = match ev {
            Ok(ev) => ev,
            Err(e) => return gone_or_pending(engine, e).await,
        };
        if let EventKind::Die { exit_code } = ev.kind
            && counts(abort, services, ev.service.as_deref(), exit_code)
            && !is_helper(engine, &ev.container_id).await
        {
            return Ok((ev.container_name, code_of(exit_code)));
        }
    }
    // The stream ended: an engine that went away is an error; else the logs decide.
    engine.info().await?;
    std::future::pending().await
}

/// Whether an exit of a container of `service` ends an attached `up`.
fn counts(abort: &Abort, services: &[String], service: Option<&str>, exit_code: i64) -> bool {
    let Some(service) = service else {
        return false;
    };
    let followed = services.is_empty() || services.iter().any(|s| s == service);
    match abort {
        Abort::ExitOf(svc) => service == svc,
        Abort::AnyExit => followed,
        Abort::AnyFailure => followed && exit_code != 0,
    }
}

/// A one-off or a helper of stackr's (its exit ends nothing).
async fn is_helper<E: Engine>(engine: &E, id: &str) -> bool {
    matches!(engine.inspect_container(id).await, Ok(Some(c)) if c.labels.contains_key(LABEL_HELPER))
}

/// The engine's error when it went away; else never (the logs decide how attach ends).
async fn gone_or_pending<E: Engine, T>(engine: &E, error: EngineError) -> Result<T, EngineError> {
    if engine.info().await.is_err() {
        return Err(error);
    }
    std::future::pending().await
}

/// The first service container (of the service `abort` names, or of the followed ones) that
/// has exited; one-offs and helpers do not count.
async fn exited<E: Engine>(
    engine: &E,
    stack: &str,
    abort: &Abort,
    services: &[String],
) -> Result<Option<(String, i32)>, EngineError> {
    let list = engine.list_containers(stack).await?;
    Ok(list
        .into_iter()
        .filter(|c| c.state == ContainerState::Exited && !c.labels.contains_key(LABEL_HELPER))
        .filter(|c| counts(abort, services, c.service(), c.exit_code.unwrap_or(0)))
        .find_map(|c| Some((c.name, code_of(c.exit_code?)))))
}

fn code_of(exit_code: i64) -> i32 {
    i32::try_from(exit_code).unwrap_or(1)
}

/// Kills every container of the stack at once.
async fn kill_all<E: Engine>(engine: &E, stack: &str) -> Result<(), EngineError> {
    let list = engine.list_containers(stack).await?;
    let kills = list.iter().map(|c| engine.kill_container(&c.id, "SIGKILL"));
    // A container that ended meanwhile cannot be killed: that is what was wanted.
    futures::future::join_all(kills).await;
    Ok(())
}
