//! `stackr rollback`: services back to the spec their containers replaced.

use std::time::Duration;

use stackr_engine::Engine;
use stackr_reconcile::apply::{ApplyOptions, Step, apply};
use stackr_reconcile::lock::StackLock;
use stackr_reconcile::observe::prepare;
use stackr_reconcile::plan::{Plan, plan_rollback};
use stackr_spec::Stack;
use tokio::sync::watch;

use crate::{Context, OpError, OpEvent, Sink};

/// What `rollback` is asked for.
#[derive(Debug, Clone, Default)]
pub struct RollbackOptions {
    /// Only these services; empty: all.
    pub services: Vec<String>,
    pub stop_timeout: Option<Duration>,
    pub lock_wait: Duration,
    /// Plan only: change nothing.
    pub dry_run: bool,
}

/// The rollback plan, as the engine runs the stack now.
async fn make<E: Engine>(
    engine: &E,
    stack: &Stack,
    cx: &Context,
    opts: &RollbackOptions,
    sink: Sink<'_>,
) -> Result<(Plan, stackr_reconcile::desired::Inputs), OpError> {
    for s in &opts.services {
        if !stack.services.contains_key(s) {
            return Err(OpError::UnknownService {
                stack: stack.name.clone(),
                service: s.clone(),
            });
        }
    }
    let (desired, observed, inputs) = prepare(engine, stack, cx.base.clone()).await?;
    let (p, nothing) = plan_rollback(&desired, &observed, &opts.services);
    for service in nothing {
        sink(OpEvent::NothingToRollBack { service });
    }
    if !p.errors.is_empty() {
        return Err(OpError::Plan {
            stack: p.stack,
            problems: p.errors,
        });
    }
    Ok((p, inputs))
}

/// Puts each container of the chosen services that replaced another back on the spec and
/// image it replaced, with the service's `rollback` policy. Another `rollback` goes forward
/// again; `up` deploys the stack file. Returns the plan it applied.
pub async fn rollback<E: Engine>(
    engine: &E,
    stack: &Stack,
    cx: &Context,
    opts: &RollbackOptions,
    cancel: Option<watch::Receiver<bool>>,
    sink: Sink<'_>,
) -> Result<Plan, OpError> {
    let (p, _) = make(engine, stack, cx, opts, sink).await?;
    if opts.dry_run || p.rollouts.is_empty() {
        return Ok(p);
    }
    let lock =
        StackLock::acquire(engine, &stack.name, &cx.probe, &cx.holder, opts.lock_wait).await?;
    let result = async {
        // Made again under the lock: what the engine runs now is what goes back.
        let (p, inputs) = make(engine, stack, cx, opts, &|_| {}).await?;
        sink(OpEvent::Applying { plan: p.clone() });
        let on_step = |s: Step| sink(OpEvent::Step(s));
        let apply_opts = ApplyOptions {
            stop_timeout: opts.stop_timeout,
            probe: Some(cx.probe.clone()),
            cancel: cancel.clone(),
        };
        match apply(engine, stack, inputs, &p, &apply_opts, &on_step).await {
            Ok(()) => Ok(p),
            Err(_) if crate::is_cancelled(&cancel) => Err(OpError::Interrupted),
            Err(e) => Err(e.into()),
        }
    }
    .await;
    lock.release(engine).await;
    result
}
