//! `run`: a one-off container of a service. What it depends on is brought up first (as `up`
//! would, unless `no_deps`); the one-off's spec is the desired state's
//! ([`stackr_reconcile::desired::one_off_spec`]); its output streams to the caller, and its
//! exit code is the run's.

use std::time::Duration;

use futures::StreamExt;
use stackr_engine::{ContainerState, Engine, EngineError, LogChunk, LogOptions};
use stackr_reconcile::apply::{ApplyError, fill_secrets, link_secrets};
use stackr_reconcile::desired::{OneOff, one_off_name, one_off_spec};
use stackr_reconcile::plan::PlanOptions;
use stackr_spec::Stack;
use tokio::sync::watch;

use crate::{Context, OpError, Sink, UpOptions};

/// How long a one-off that ended is waited for to show as exited.
const EXIT_WAIT: Duration = Duration::from_secs(10);

/// What `run` is asked for.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub service: String,
    /// The one-off's overrides (its `number` is chosen by `run`).
    pub one_off: OneOff,
    /// Not bringing up what the service depends on.
    pub no_deps: bool,
    /// Started and left running: `run` returns its name.
    pub detach: bool,
    /// Removed (with its secrets volume) once it ends.
    pub remove: bool,
    /// How `up` brings up the dependencies.
    pub up: UpOptions,
}

/// How a one-off ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEnd {
    /// Started and left running (`detach`).
    Detached { name: String },
    /// It exited with this code (`None`: it was not seen to exit).
    Exited { name: String, code: Option<i64> },
}

fn engine_error(context: &str, service: &str, error: EngineError) -> OpError {
    OpError::Apply(ApplyError::Engine {
        context: context.to_string(),
        service: Some(service.to_string()),
        error,
    })
}

/// Runs a one-off container of `opts.service`: `output` gets what it writes, `sink` what
/// bringing up its dependencies does, and `cancel` stops that as it stops `up`.
pub async fn run<E: Engine>(
    engine: &E,
    stack: &Stack,
    cx: &Context,
    opts: &RunOptions,
    cancel: Option<watch::Receiver<bool>>,
    output: &(dyn Fn(LogChunk) + Send + Sync),
    sink: Sink<'_>,
) -> Result<RunEnd, OpError> {
    let Some(service) = stack.services.get(&opts.service) else {
        return Err(OpError::UnknownService {
            stack: stack.name.clone(),
            service: opts.service.clone(),
        });
    };
    let deps: Vec<String> = service
        .depends_on
        .iter()
        .map(|d| d.service.value.clone())
        .collect();
    let mut base = cx.base.clone();
    if !opts.no_deps && !deps.is_empty() {
        let up = UpOptions {
            plan: PlanOptions {
                services: deps,
                ..opts.up.plan.clone()
            },
            ..opts.up.clone()
        };
        base = crate::up(engine, stack, cx, &up, cancel, sink).await?.1;
    }
    let svc = opts.service.as_str();
    let existing = engine
        .list_containers(&stack.name)
        .await
        .map_err(|e| engine_error("cannot list the stack's containers", svc, e))?;
    let number = (1..)
        .find(|n| {
            !existing
                .iter()
                .any(|c| c.name == one_off_name(stack, svc, *n))
        })
        .unwrap_or(1);
    let one = OneOff {
        number,
        ..opts.one_off.clone()
    };
    let want = one_off_spec(stack, service, &one, &base).map_err(ApplyError::from)?;
    let name = want.spec.name.clone();
    if !want.secrets.is_empty() {
        fill_secrets(engine, &stack.name, &want)
            .await
            .map_err(|e| engine_error("cannot fill its secrets volume", svc, e))?;
    }
    let id = engine
        .create_container(&want.spec)
        .await
        .map_err(|e| engine_error(&format!("cannot create {name}"), svc, e))?;
    let started = start(engine, &id, &want).await;
    if let Err(e) = started {
        let _ = engine.remove_container(&id).await;
        return Err(engine_error(&format!("cannot start {name}"), svc, e));
    }
    sink(crate::OpEvent::OneOffStarted { name: name.clone() });
    if opts.detach {
        return Ok(RunEnd::Detached { name });
    }
    let code = wait(engine, &id, output).await;
    if opts.remove {
        let _ = engine.remove_container(&id).await;
        if !want.secrets.is_empty() {
            let volume = stackr_reconcile::desired::secrets_volume(&name);
            let _ = engine.remove_volume(&volume).await;
        }
    }
    Ok(RunEnd::Exited { name, code })
}

/// Links its secrets outside `/run/secrets` and starts it.
async fn start<E: Engine>(
    engine: &E,
    id: &str,
    want: &stackr_reconcile::desired::DesiredContainer,
) -> Result<(), EngineError> {
    if want.secrets.iter().any(|f| f.link.is_some()) {
        link_secrets(engine, id, &want.secrets).await?;
    }
    engine.start_container(id).await
}

/// Streams its output until it ends; its exit code, read from the container (its `die`
/// event may have passed already).
async fn wait<E: Engine>(
    engine: &E,
    id: &str,
    output: &(dyn Fn(LogChunk) + Send + Sync),
) -> Option<i64> {
    let opts = LogOptions {
        follow: true,
        tail: None,
        timestamps: false,
    };
    if let Ok(mut logs) = engine.logs(id, &opts).await {
        while let Some(Ok(chunk)) = logs.next().await {
            output(chunk);
        }
    }
    let deadline = tokio::time::Instant::now() + EXIT_WAIT;
    while tokio::time::Instant::now() < deadline {
        if let Ok(Some(info)) = engine.inspect_container(id).await
            && info.state == ContainerState::Exited
        {
            return info.exit_code;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}
