//! The engine edge of a command: a runtime, a connected engine, and what the operations need
//! from this machine (`context`: env files, secret values, the probe runner, who we are).

use std::time::Duration;

use stackr_docker::DockerEngine;
use stackr_ops::{OpEvent, UpOptions};
use stackr_reconcile::apply::ProbeRunner;
use stackr_spec::Stack;

use crate::cli::Global;
use crate::load::{stack_or_name, valid_stack};
use crate::progress::{Reporter, render_event};
use crate::render::Output;
use crate::status::{CliError, CmdResult};

/// A runtime for the engine commands.
pub fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(CliError::Runtime)
}

/// Runs `f` with a valid stack and a connected engine.
pub fn with_engine<F>(global: &Global, out: &Output, f: F) -> CmdResult
where
    F: AsyncFnOnce(&DockerEngine, &Stack) -> CmdResult,
{
    let (_, stack) = valid_stack(global, out)?;
    on_engine(async |engine| f(engine, &stack).await)
}

/// [`with_engine`] for a command that reaches into the stack's containers on one engine
/// (`exec`, `cp`, `stop`...): refused, with the reason, on the Swarm target.
pub fn with_container_engine<F>(
    global: &Global,
    out: &Output,
    command: &'static str,
    f: F,
) -> CmdResult
where
    F: AsyncFnOnce(&DockerEngine, &Stack) -> CmdResult,
{
    let (_, stack) = valid_stack(global, out)?;
    refuse(
        &stack,
        command,
        "Swarm runs the tasks on any node, and stackr reaches only the manager's engine; `docker service` acts on services, `docker exec` on the node that runs a task",
    )?;
    on_engine(async |engine| f(engine, &stack).await)
}

/// Runs `f` with the stack (or, without a stack file, only its `-p` name; the flag says
/// which) and a connected engine: for commands that work by label.
pub fn with_engine_by_label<F>(global: &Global, out: &Output, f: F) -> CmdResult
where
    F: AsyncFnOnce(&DockerEngine, &Stack, bool) -> CmdResult,
{
    let (stack, from_file) = stack_or_name(global, out)?;
    on_engine(async |engine| f(engine, &stack, from_file).await)
}

/// Runs `f` on a runtime with a connected engine (`DOCKER_HOST`, or the local socket).
pub fn on_engine<F>(f: F) -> CmdResult
where
    F: AsyncFnOnce(&DockerEngine) -> CmdResult,
{
    let rt = runtime()?;
    let result = rt.block_on(async {
        let engine = DockerEngine::connect().await?;
        f(&engine).await
    });
    // A read of standard input may still be blocked (an interactive `exec`): do not wait for it.
    rt.shutdown_background();
    result
}

/// stackr's probe runner, embedded at build time, and the volume named after its digest (so
/// two versions of stackr never share one).
pub fn probe() -> ProbeRunner {
    use sha2::{Digest, Sha256};
    let digest: String = Sha256::digest(crate::PROBE)
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect();
    ProbeRunner {
        volume: format!("stackr-probe-{digest}"),
        image: format!("stackr-probe:{digest}"),
        binary: crate::PROBE,
    }
}

/// Who this run is, for the lock: `pid PID on HOST`.
pub fn holder() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "this machine".into());
    format!("pid {} on {host}", std::process::id())
}

/// The secret values of the stack (warnings said).
pub fn secret_values(
    stack: &Stack,
) -> Result<std::collections::BTreeMap<String, stackr_reconcile::desired::SecretValue>, CliError> {
    let mut warnings = Vec::new();
    let values = stackr_host::inputs::secret_values(stack, &mut warnings);
    warnings.iter().for_each(crate::report::host_warning);
    Ok(values?)
}

/// What the operations need from this machine: env files (unless `env_files` is false),
/// secret values, the probe runner, who we are (warnings said).
pub fn context_with(stack: &Stack, env_files: bool) -> Result<stackr_ops::Context, CliError> {
    let mut warnings = Vec::new();
    let base = stackr_host::inputs::read(stack, env_files, probe().volume, &mut warnings);
    warnings.iter().for_each(crate::report::host_warning);
    let mut base = base?;
    if on_swarm(stack) {
        base.configs = stackr_host::inputs::config_contents(stack)?;
    }
    Ok(stackr_ops::Context {
        base,
        probe: probe(),
        holder: holder(),
    })
}

/// [`context_with`] the env files.
pub fn context(stack: &Stack) -> Result<stackr_ops::Context, CliError> {
    context_with(stack, true)
}

/// How long a run waits for another's lock.
pub const LOCK_WAIT: Duration = Duration::from_secs(2);

/// The first Ctrl-C turns the receiver true (an operation then stops once the engine calls in
/// flight are answered); a second leaves at once. Abort the task when the operation is done.
pub fn graceful_interrupts() -> (
    tokio::sync::watch::Receiver<bool>,
    tokio::task::JoinHandle<()>,
) {
    let (cancel, cancelled) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = cancel.send(true);
            eprintln!(
                "interrupted: finishing the engine calls in flight (Ctrl-C again to leave now)"
            );
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    (cancelled, task)
}

/// Pulls what the services need, plans, and applies the plan, holding the stack's lock when
/// there is something to do: what `up` does before it waits or attaches. The first Ctrl-C
/// stops it once the engine calls in flight are answered; a second leaves at once. Returns the
/// inputs it read (the secret values, for the logs that follow to mask).
pub async fn converge(
    engine: &DockerEngine,
    stack: &Stack,
    opts: UpOptions,
    reporter: &Reporter,
) -> Result<stackr_reconcile::desired::Inputs, CliError> {
    converge_quietly(engine, stack, opts, reporter, false).await
}

/// [`converge`]; with `quiet_pull`, pulls are not shown (`up --quiet-pull`).
pub async fn converge_quietly(
    engine: &DockerEngine,
    stack: &Stack,
    opts: UpOptions,
    reporter: &Reporter,
    quiet_pull: bool,
) -> Result<stackr_reconcile::desired::Inputs, CliError> {
    let cx = context(stack)?;
    let (cancelled, interrupts) = graceful_interrupts();
    let sink = |e: OpEvent| {
        let pull = matches!(
            e,
            OpEvent::PullStarted { .. } | OpEvent::PullFinished { .. }
        );
        if !(quiet_pull && pull) {
            render_event(reporter, e);
        }
    };
    let result = stackr_ops::up(engine, stack, &cx, &opts, Some(cancelled), &sink).await;
    interrupts.abort();
    if let Err(e) = &result {
        reporter.finish();
        reporter.event("error", serde_json::json!({"message": e.to_string()}));
    }
    Ok(result?.1)
}

/// Whether the stack runs on a swarm.
pub fn on_swarm(stack: &Stack) -> bool {
    stack.target == stackr_spec::Target::Swarm
}

/// Commands that reach into one container: refused on a swarm, with the reason.
pub fn refuse(stack: &Stack, command: &'static str, reason: &str) -> Result<(), CliError> {
    if on_swarm(stack) {
        return Err(CliError::NotOnSwarm {
            what: format!("`{command}`"),
            reason: reason.to_string(),
        });
    }
    Ok(())
}
