//! `run`: a one-off container of a service. What it depends on is brought up first (as `up`
//! would, unless `no_deps`); the one-off's spec is the desired state's
//! ([`stackr_reconcile::desired::one_off_spec`]); its output streams to the caller, and its
//! exit code is the run's.

use std::time::Duration;

use futures::StreamExt;
use stackr_engine::{ContainerState, Engine, EngineError, LogChunk, LogOptions};
use stackr_reconcile::apply::{ApplyError, fill_secrets, link_secrets};
use stackr_reconcile::desired::{DesiredContainer, OneOff, one_off_name, one_off_spec};
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
/// bringing up its dependencies does. `cancel` stops that as it stops `up`; once the one-off
/// runs, it stops the one-off (with its grace period), which `run` then removes with
/// `remove`, and ends as interrupted.
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
    let base = dependencies(engine, stack, service, cx, opts, cancel.clone(), sink).await?;
    if crate::is_cancelled(&cancel) {
        return Err(OpError::Interrupted);
    }
    build_if_missing(engine, stack, service, cx, sink).await?;
    let want = one_off(engine, stack, service, opts, &base).await?;
    let name = want.spec.name.clone();
    let id = create_and_start(engine, stack, &want, &opts.service, &cancel).await?;
    if opts.detach {
        return Ok(RunEnd::Detached { name });
    }
    let (code, stopped) = stream(engine, &id, output, cancel).await;
    if opts.remove {
        remove(engine, &id, &want).await;
    }
    if stopped {
        return Err(OpError::Interrupted);
    }
    Ok(RunEnd::Exited { name, code })
}

/// The stack's networks and volumes, made when missing (a one-off joins them even when
/// nothing of the stack runs): the networks and volumes of `up`'s plan, and nothing else of
/// it.
async fn shared_objects<E: Engine>(
    engine: &E,
    stack: &Stack,
    cx: &Context,
    opts: &RunOptions,
    sink: Sink<'_>,
) -> Result<stackr_reconcile::desired::Inputs, OpError> {
    use stackr_reconcile::plan::ObjectKind;
    let (mut p, _, inputs) = crate::plan(engine, stack, cx, &PlanOptions::default()).await?;
    p.items
        .retain(|i| matches!(i.kind, ObjectKind::Network | ObjectKind::Volume));
    p.rollouts.clear();
    p.pre_start.clear();
    p.released.clear();
    if !p.has_changes() {
        return Ok(inputs);
    }
    let lock = stackr_reconcile::lock::StackLock::acquire(
        engine,
        &stack.name,
        &cx.probe,
        &cx.holder,
        opts.up.lock_wait,
    )
    .await?;
    let on_step = |s: stackr_reconcile::apply::Step| sink(crate::OpEvent::Step(s));
    let apply_opts = stackr_reconcile::apply::ApplyOptions {
        stop_timeout: None,
        probe: Some(cx.probe.clone()),
        cancel: None,
    };
    let r =
        stackr_reconcile::apply::apply(engine, stack, inputs.clone(), &p, &apply_opts, &on_step)
            .await;
    lock.release(engine).await;
    r.map_err(OpError::from)?;
    Ok(inputs)
}

/// The service's image when it is built and the engine does not have it (compose's `run`
/// builds it too).
async fn build_if_missing<E: Engine>(
    engine: &E,
    stack: &Stack,
    service: &stackr_spec::Service,
    cx: &Context,
    sink: Sink<'_>,
) -> Result<(), OpError> {
    if service.build.is_none() {
        return Ok(());
    }
    let image = stackr_reconcile::desired::image_of(stack, service);
    let there = engine
        .inspect_image(&image)
        .await
        .map_err(|e| engine_error("cannot inspect its image", &service.name.value, e))?;
    if there.is_none() {
        crate::build(
            engine,
            stack,
            cx,
            std::slice::from_ref(&service.name.value),
            sink,
        )
        .await?;
    }
    Ok(())
}

/// Brings up what the service depends on (unless `no_deps`); the inputs to make its spec with.
async fn dependencies<E: Engine>(
    engine: &E,
    stack: &Stack,
    service: &stackr_spec::Service,
    cx: &Context,
    opts: &RunOptions,
    cancel: Option<watch::Receiver<bool>>,
    sink: Sink<'_>,
) -> Result<stackr_reconcile::desired::Inputs, OpError> {
    let deps: Vec<String> = service
        .depends_on
        .iter()
        .map(|d| d.service.value.clone())
        .collect();
    if opts.no_deps || deps.is_empty() {
        return shared_objects(engine, stack, cx, opts, sink).await;
    }
    let up = UpOptions {
        plan: PlanOptions {
            services: deps,
            ..opts.up.plan.clone()
        },
        ..opts.up.clone()
    };
    Ok(crate::up(engine, stack, cx, &up, cancel, sink).await?.1)
}

/// The one-off's desired container: the next free `{stack}-{service}-run-N`.
async fn one_off<E: Engine>(
    engine: &E,
    stack: &Stack,
    service: &stackr_spec::Service,
    opts: &RunOptions,
    base: &stackr_reconcile::desired::Inputs,
) -> Result<DesiredContainer, OpError> {
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
    Ok(one_off_spec(stack, service, &one, base).map_err(ApplyError::from)?)
}

/// Fills its secrets volume, creates and starts it; on a failure (or a cancel before it
/// starts), what was made goes again.
async fn create_and_start<E: Engine>(
    engine: &E,
    stack: &Stack,
    want: &DesiredContainer,
    svc: &str,
    cancel: &Option<watch::Receiver<bool>>,
) -> Result<String, OpError> {
    let name = &want.spec.name;
    if !want.secrets.is_empty() {
        fill_secrets(engine, &stack.name, want)
            .await
            .map_err(|e| engine_error("cannot fill its secrets volume", svc, e))?;
    }
    let id = match engine.create_container(&want.spec).await.map(|c| c.id) {
        Ok(id) => id,
        Err(e) => {
            remove_secrets(engine, want).await;
            return Err(engine_error(&format!("cannot create {name}"), svc, e));
        }
    };
    let started = async {
        if crate::is_cancelled(cancel) {
            return Err(None);
        }
        if want.secrets.iter().any(|f| f.link.is_some()) {
            link_secrets(engine, &id, &want.secrets)
                .await
                .map_err(Some)?;
        }
        engine.start_container(&id).await.map_err(Some)
    };
    match started.await {
        Ok(()) => Ok(id),
        Err(e) => {
            remove(engine, &id, want).await;
            Err(match e {
                Some(e) => engine_error(&format!("cannot start {name}"), svc, e),
                None => OpError::Interrupted,
            })
        }
    }
}

/// Its output until it ends, and its exit code; a cancel meanwhile stops it (the flag says
/// so) and its last output still comes.
async fn stream<E: Engine>(
    engine: &E,
    id: &str,
    output: &(dyn Fn(LogChunk) + Send + Sync),
    cancel: Option<watch::Receiver<bool>>,
) -> (Option<i64>, bool) {
    let waiting = wait(engine, id, output);
    futures::pin_mut!(waiting);
    let cancelled = crate::cancelled(cancel);
    tokio::select! {
        code = &mut waiting => (code, false),
        () = cancelled => {
            let _ = engine.stop_container(id, None).await;
            (waiting.await, true)
        }
    }
}

/// Removes it (stopped first when it still runs) and its secrets volume.
async fn remove<E: Engine>(engine: &E, id: &str, want: &DesiredContainer) {
    if let Ok(Some(c)) = engine.inspect_container(id).await
        && c.state == ContainerState::Running
    {
        let _ = engine.stop_container(id, None).await;
    }
    let _ = engine.remove_container(id).await;
    remove_secrets(engine, want).await;
}

async fn remove_secrets<E: Engine>(engine: &E, want: &DesiredContainer) {
    if !want.secrets.is_empty() {
        let volume = stackr_reconcile::desired::secrets_volume(&want.spec.name);
        let _ = engine.remove_volume(&volume).await;
    }
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
        ..Default::default()
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
