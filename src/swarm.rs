//! The Swarm target's commands: `plan`, `up`, `down`, `ps` and `logs` when the stack's target
//! is `swarm` (`--target swarm`, `STACKR_TARGET`, or the file's `target`). The operations are
//! `stackr_ops::swarm_*`; this is arguments in, rendering out.

use stackr_docker::DockerEngine;
use stackr_ops::OpEvent;
use stackr_spec::Stack;

use crate::cli::{DownArgs, PlanArgs, PlanFormat, ProgressFormat, PsArgs, TableFormat, UpArgs};
use crate::engine::{LOCK_WAIT, context};
use crate::progress::{Reporter, render_event};
use crate::status::{CliError, CmdResult, ExitStatus};

/// What `up`'s flags mean nothing on a swarm: refused with the reason, never ignored.
fn refuse_up_flags(args: &UpArgs) -> Result<(), CliError> {
    let refused: &[(bool, &'static str, &str)] = &[
        (
            args.watch,
            "--watch",
            "watch mode syncs files into containers of one engine; Swarm schedules tasks on any node",
        ),
        (
            args.abort_on_container_exit,
            "--abort-on-container-exit",
            "an `up` on a swarm does not attach to tasks",
        ),
        (
            args.exit_code_from.is_some(),
            "--exit-code-from",
            "an `up` on a swarm does not attach to tasks",
        ),
        (
            args.abort_on_container_failure,
            "--abort-on-container-failure",
            "an `up` on a swarm does not attach to tasks",
        ),
        (
            !args.scale.is_empty(),
            "--scale",
            "write `scale` in the stack file: the swarm keeps the replicas it is given",
        ),
        (
            args.force_recreate,
            "--force-recreate",
            "Swarm replaces tasks by rolling updates of changed services",
        ),
        (
            args.no_deps,
            "--no-deps",
            "on a swarm every service is deployed in dependency order",
        ),
        (
            !args.services.is_empty(),
            "SERVICE...",
            "on a swarm `up` deploys the whole stack",
        ),
        (
            args.no_start,
            "--no-start (or `create`)",
            "a swarm service runs its tasks once it exists; scale it to 0 to keep it stopped",
        ),
    ];
    match refused.iter().find(|(set, _, _)| *set) {
        Some((_, flag, reason)) => Err(CliError::NotOnSwarm {
            what: format!("`up {flag}`"),
            reason: reason.to_string(),
        }),
        None => Ok(()),
    }
}

/// `plan` on a swarm.
pub async fn plan(engine: &DockerEngine, stack: &Stack, args: &PlanArgs) -> CmdResult {
    let cx = context(stack)?;
    let (p, _) = stackr_ops::swarm_plan(engine, stack, &cx).await?;
    match args.format {
        PlanFormat::Text => print!("{}", stackr_swarm::text::render_plan(&p)),
        PlanFormat::Json => println!("{}", serde_json::to_string_pretty(&p)?),
    }
    Ok(if !p.problems.is_empty() {
        ExitStatus::Failure
    } else if args.detailed_exitcode && !p.is_empty() {
        ExitStatus::Changes
    } else {
        ExitStatus::Success
    })
}

/// `up` on a swarm: always detached (the swarm runs the tasks).
pub async fn up(engine: &DockerEngine, stack: &Stack, args: &UpArgs) -> CmdResult {
    refuse_up_flags(args)?;
    let cx = context(stack)?;
    let reporter = Reporter::new(args.format == ProgressFormat::Json);
    let sink = |e: OpEvent| render_event(&reporter, e);
    let opts = stackr_ops::SwarmUpOptions {
        build: args.build,
        wait: args.wait,
        lock_wait: LOCK_WAIT,
    };
    let (cancel_tx, cancel) = tokio::sync::watch::channel(false);
    let ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = cancel_tx.send(true);
        }
    });
    let result = stackr_ops::swarm_up(engine, stack, &cx, &opts, Some(cancel), &sink).await;
    ctrl_c.abort();
    reporter.finish();
    match result {
        Ok(_) => {
            reporter.event("done", serde_json::json!({"stack": stack.name}));
            Ok(ExitStatus::Success)
        }
        Err(e) => {
            reporter.event("error", serde_json::json!({"message": e.to_string()}));
            Err(e.into())
        }
    }
}

/// `down` on a swarm.
pub async fn down(engine: &DockerEngine, stack: &Stack, args: &DownArgs) -> CmdResult {
    if args.volumes {
        return Err(CliError::NotOnSwarm {
            what: "`down --volumes`".into(),
            reason: "volumes live on the nodes that made them, which stackr does not reach; remove them on each node with `docker volume rm`".into(),
        });
    }
    let reporter = Reporter::new(args.format == ProgressFormat::Json);
    let sink = |e: OpEvent| render_event(&reporter, e);
    let cx = stackr_ops::Context {
        base: Default::default(),
        probe: crate::engine::probe(),
        holder: crate::engine::holder(),
    };
    let result = stackr_ops::swarm_down(engine, stack, &cx, LOCK_WAIT, &sink).await;
    reporter.finish();
    result?;
    reporter.event("done", serde_json::json!({"stack": stack.name}));
    Ok(ExitStatus::Success)
}

/// `ps` on a swarm: its tasks, with their nodes.
pub async fn ps(engine: &DockerEngine, stack: &Stack, args: &PsArgs) -> CmdResult {
    let (rows, nodes) = stackr_ops::swarm_ps(engine, &stack.name, args.all).await?;
    match args.format {
        TableFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"tasks": rows, "nodes": nodes}))?
        ),
        TableFormat::Table => {
            print!("{}", stackr_ops::text::tasks_table(&rows));
            print!("{}", stackr_ops::text::nodes_lines(&nodes));
        }
    }
    Ok(ExitStatus::Success)
}
