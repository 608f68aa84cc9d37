//! `down`.

use std::time::Duration;

use stackr_engine::Engine;
use stackr_reconcile::apply::{DownReport, Step};
use stackr_reconcile::lock::StackLock;

use crate::{Context, OpError, OpEvent, Sink};

/// What `down` is asked for.
#[derive(Debug, Clone, Default)]
pub struct DownOptions {
    pub remove_volumes: bool,
    pub remove_orphans: bool,
    pub timeout: Option<Duration>,
    pub lock_wait: Duration,
}

/// Removes the stack's containers in reverse start order (`waves` is the start order), then
/// its networks and, with `remove_volumes`, its volumes, holding the stack's lock.
pub async fn down<E: Engine>(
    engine: &E,
    stack: &str,
    waves: &[Vec<String>],
    cx: &Context,
    opts: &DownOptions,
    sink: Sink<'_>,
) -> Result<DownReport, OpError> {
    let lock = StackLock::acquire(engine, stack, &cx.probe, &cx.holder, opts.lock_wait).await?;
    let on_step = |s: Step| sink(OpEvent::Step(s));
    let reconcile_opts = stackr_reconcile::apply::DownOptions {
        remove_volumes: opts.remove_volumes,
        remove_orphans: opts.remove_orphans,
        timeout: opts.timeout,
    };
    let result =
        stackr_reconcile::apply::down(engine, stack, waves, &reconcile_opts, &on_step).await;
    lock.release(engine).await;
    let report = result?;
    for v in &report.volumes_in_use {
        sink(OpEvent::VolumeKept { volume: v.clone() });
    }
    Ok(report)
}
