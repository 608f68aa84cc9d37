//! `plan`, `up`, `down` and `build`: the commands that read and change what runs.

use std::time::Duration;

use stackr_docker::DockerEngine;
use stackr_ops::{Abort, AttachOptions, DownOptions, OpEvent, Pull, UpOptions};
use stackr_reconcile::plan::{PlanOptions, render_text};
use stackr_spec::Stack;

use crate::cli::{
    BuildArgs, DownArgs, Global, PlanArgs, PlanFormat, ProgressFormat, PullWhen, RollbackArgs,
    UpArgs,
};
use crate::engine::{LOCK_WAIT, context, holder, on_engine, probe, with_engine};
use crate::load::valid_stack;
use crate::logs::{LogPrinter, follow};
use crate::progress::{Reporter, render_event};
use crate::render::Output;
use crate::status::{CliError, CmdResult, ExitStatus};

/// The plan options of `plan`.
fn plan_options(a: &PlanArgs) -> PlanOptions {
    PlanOptions {
        build: a.build,
        force_recreate: a.force_recreate,
        no_recreate: a.no_recreate,
        remove_orphans: a.remove_orphans,
        services: a.services.clone(),
        no_deps: a.no_deps,
        no_start: false,
    }
}

/// `stackr plan`: what `up` would do. Exit 0: no changes; 2 with `--detailed-exitcode` when
/// there are changes; 1 on errors.
pub fn plan_cmd(global: &Global, args: &PlanArgs, out: &Output) -> CmdResult {
    with_engine(global, out, async |engine, stack| {
        if crate::engine::on_swarm(stack) {
            return crate::swarm::plan(engine, stack, args).await;
        }
        let cx = context(stack)?;
        let (p, _, _) = stackr_ops::plan(engine, stack, &cx, &plan_options(args)).await?;
        match args.format {
            PlanFormat::Text => print!("{}", render_text(&p)),
            PlanFormat::Json => println!("{}", serde_json::to_string_pretty(&p)?),
        }
        Ok(if !p.errors.is_empty() {
            ExitStatus::Failure
        } else if args.detailed_exitcode && p.has_changes() {
            ExitStatus::Changes
        } else {
            ExitStatus::Success
        })
    })
}

/// Applies `--scale SERVICE=N` to the stack.
fn apply_scale(stack: &mut Stack, scales: &[String]) -> Result<(), CliError> {
    for s in scales {
        let scaled = stackr_ops::scale_arg(s).and_then(|(svc, n)| stackr_ops::scale(stack, svc, n));
        if let Err(e) = scaled {
            let (flag, arg, reason) = ("--scale", s.clone(), e.to_string());
            return Err(match e {
                stackr_ops::ScaleError::Syntax | stackr_ops::ScaleError::NotANumber { .. } => {
                    CliError::Usage { flag, arg, reason }
                }
                _ => CliError::FlagValue { flag, arg, reason },
            });
        }
    }
    Ok(())
}

/// `up`'s options from its arguments.
fn up_options(args: &UpArgs) -> UpOptions {
    UpOptions {
        plan: PlanOptions {
            build: args.build,
            force_recreate: args.force_recreate,
            no_recreate: args.no_recreate,
            remove_orphans: args.remove_orphans,
            services: args.services.clone(),
            no_deps: args.no_deps,
            no_start: args.no_start,
        },
        pull: args.pull.map(|p| match p {
            PullWhen::Always => Pull::Always,
            PullWhen::Missing => Pull::Missing,
            PullWhen::Never => Pull::Never,
        }),
        stop_timeout: args.timeout.map(Duration::from_secs),
        wait: args.wait.then(|| Duration::from_secs(args.wait_timeout)),
        lock_wait: LOCK_WAIT,
    }
}

/// A detached `up` of these services, every other flag at its default: what `create` and
/// `scale` start from.
fn detached_up(services: Vec<String>) -> UpArgs {
    UpArgs {
        detach: true,
        build: false,
        force_recreate: false,
        no_recreate: false,
        remove_orphans: false,
        timeout: None,
        wait: false,
        wait_timeout: 0,
        format: ProgressFormat::Text,
        no_deps: false,
        scale: Vec::new(),
        pull: None,
        abort_on_container_exit: false,
        exit_code_from: None,
        abort_on_container_failure: false,
        attach: Vec::new(),
        no_attach: Vec::new(),
        timestamps: false,
        quiet_pull: false,
        yes: false,
        watch: false,
        no_start: false,
        services,
    }
}

/// `stackr scale web=3 worker=2`: `up -d --scale ... web worker`.
pub fn scale_cmd(global: &Global, args: &crate::cli::ScaleArgs, out: &Output) -> CmdResult {
    let services: Vec<String> = args
        .scales
        .iter()
        .map(|s| {
            s.split_once('=')
                .map_or(s.as_str(), |(svc, _)| svc)
                .to_string()
        })
        .collect();
    let up = UpArgs {
        no_deps: args.no_deps,
        scale: args.scales.clone(),
        ..detached_up(services)
    };
    up_cmd(global, &up, out)
}

/// `stackr create`: `up --no-start`.
pub fn create_cmd(global: &Global, args: &crate::cli::CreateArgs, out: &Output) -> CmdResult {
    let up = UpArgs {
        build: args.build,
        force_recreate: args.force_recreate,
        no_recreate: args.no_recreate,
        remove_orphans: args.remove_orphans,
        scale: args.scale.clone(),
        pull: args.pull,
        no_start: true,
        ..detached_up(args.services.clone())
    };
    up_cmd(global, &up, out)
}

/// `stackr up`.
pub fn up_cmd(global: &Global, args: &UpArgs, out: &Output) -> CmdResult {
    let (files, mut stack) = valid_stack(global, out)?;
    if crate::engine::on_swarm(&stack) {
        return on_engine(async |engine| crate::swarm::up(engine, &stack, args).await);
    }
    apply_scale(&mut stack, &args.scale)?;
    if args.watch
        && let Err(e) = stackr_watch::rules::Rules::new(&stack, &[])
    {
        return Err(crate::watch::no_rules(
            global,
            &stack,
            &[],
            e,
            "`--watch`: ",
        ));
    }
    let named = args
        .exit_code_from
        .iter()
        .map(|s| ("--exit-code-from", s))
        .chain(args.attach.iter().map(|s| ("--attach", s)))
        .chain(args.no_attach.iter().map(|s| ("--no-attach", s)));
    for (flag, svc) in named {
        if !stack.services.contains_key(svc) {
            return Err(CliError::FlagValue {
                flag,
                arg: svc.clone(),
                reason: format!("no service `{svc}` in stack `{}`", stack.name),
            });
        }
    }
    let reporter = Reporter::new(args.format == ProgressFormat::Json);
    on_engine(async |engine| {
        let inputs = crate::engine::converge_quietly(
            engine,
            &stack,
            up_options(args),
            &reporter,
            args.quiet_pull,
        )
        .await?;
        reporter.finish();
        reporter.event("done", serde_json::json!({"stack": stack.name}));
        if args.watch {
            let watching = crate::watch::run(engine, global, out, files.inputs, stack.clone(), &[]);
            if args.detach {
                return watching.await;
            }
            return watch_attached(engine, &stack, &inputs, args, out, watching).await;
        }
        if args.detach || args.wait || args.no_start || reporter.is_json() {
            return Ok(ExitStatus::Success);
        }
        let abort = match &args.exit_code_from {
            Some(svc) => Some(Abort::ExitOf(svc.clone())),
            None if args.abort_on_container_failure => Some(Abort::AnyFailure),
            None => args.abort_on_container_exit.then_some(Abort::AnyExit),
        };
        let opts = AttachOptions {
            services: args.services.clone(),
            abort,
            stop_timeout: args.timeout.map(Duration::from_secs),
            timestamps: args.timestamps,
        };
        let shown = Shown {
            only: args.attach.clone(),
            not: args.no_attach.clone(),
        };
        attached(engine, &stack, &inputs, &opts, &shown, out.color_stdout).await
    })
}

/// `up --watch` attached: the logs beside the watch; when either ends, the stack stops.
async fn watch_attached(
    engine: &DockerEngine,
    stack: &Stack,
    inputs: &stackr_reconcile::desired::Inputs,
    args: &UpArgs,
    out: &Output,
    watching: impl Future<Output = CmdResult>,
) -> CmdResult {
    let printer = LogPrinter::new(stack, out.color_stdout, false).mask(&inputs.secrets);
    let logs = follow(engine, &stack.name, &args.services, None, &printer);
    let ended = tokio::select! {
        status = watching => status,
        r = logs => r.map(|()| ExitStatus::Success).map_err(CliError::from),
    };
    // Said before the stack stops, so that a failing stop cannot hide it.
    let status = ended.unwrap_or_else(|e| {
        crate::report::error(&e, out);
        e.status()
    });
    eprintln!("stopping the stack (the next `stackr up` starts it again)");
    let sink = |e: OpEvent| render_event(&Reporter::Plain, e);
    let timeout = args.timeout.map(Duration::from_secs);
    stackr_ops::stop(engine, &stack.name, &stack.waves, timeout, &sink).await?;
    Ok(status)
}

/// Attached `up`: streams logs; the first Ctrl-C stops the stack gracefully, a second kills.
/// Whose output an attached `up` shows (`--attach`, `--no-attach`); every container is
/// followed all the same.
struct Shown {
    only: Vec<String>,
    not: Vec<String>,
}

impl Shown {
    fn shows(&self, service: &str) -> bool {
        (self.only.is_empty() || self.only.iter().any(|s| s == service))
            && !self.not.iter().any(|s| s == service)
    }
}

async fn attached(
    engine: &DockerEngine,
    stack: &Stack,
    inputs: &stackr_reconcile::desired::Inputs,
    opts: &AttachOptions,
    shown: &Shown,
    color: bool,
) -> CmdResult {
    let printer = LogPrinter::new(stack, color, opts.timestamps).mask(&inputs.secrets);
    let (tx, interrupts) = tokio::sync::mpsc::unbounded_channel();
    let forward = tokio::spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() && tx.send(()).is_ok() {}
    });
    let logs = |l: stackr_ops::LogLine| {
        if shown.shows(&l.service) {
            printer.line(l);
        }
    };
    let sink = |e: OpEvent| render_event(&Reporter::Plain, e);
    let r = stackr_ops::attach(
        engine,
        &stack.name,
        &stack.waves,
        opts,
        interrupts,
        &logs,
        &sink,
    );
    let r = r.await;
    forward.abort();
    Ok(match r?.code() {
        0 => ExitStatus::Success,
        130 => ExitStatus::Interrupted,
        code => ExitStatus::Container(code.into()),
    })
}

/// `stackr down`.
pub fn down_cmd(global: &Global, args: &DownArgs, out: &Output) -> CmdResult {
    crate::engine::with_engine_by_label(global, out, async |engine, stack, from_file| {
        if crate::engine::on_swarm(stack) {
            return crate::swarm::down(engine, stack, args).await;
        }
        if !from_file {
            eprintln!(
                "no stack file: removing everything labelled as stack `{}`",
                stack.name
            );
        }
        let opts = DownOptions {
            remove_volumes: args.volumes,
            // Without the file, every service is unknown: all go.
            remove_orphans: args.remove_orphans || !from_file,
            timeout: args.timeout.map(Duration::from_secs),
            lock_wait: LOCK_WAIT,
        };
        let reporter = Reporter::new(args.format == ProgressFormat::Json);
        let sink = |e: OpEvent| render_event(&reporter, e);
        let cx = stackr_ops::Context {
            base: Default::default(),
            probe: probe(),
            holder: holder(),
        };
        let result = stackr_ops::down(engine, &stack.name, &stack.waves, &cx, &opts, &sink).await;
        reporter.finish();
        let report = match result {
            Ok(report) => report,
            Err(e) => {
                reporter.event("error", serde_json::json!({"message": e.to_string()}));
                return Err(e.into());
            }
        };
        crate::progress::render_down(&reporter, &stack.name, &report);
        Ok(ExitStatus::Success)
    })
}

/// `stackr rollback`.
pub fn rollback_cmd(global: &Global, args: &RollbackArgs, out: &Output) -> CmdResult {
    crate::engine::with_container_engine(global, out, "rollback", async |engine, stack| {
        let cx = context(stack)?;
        let opts = stackr_ops::RollbackOptions {
            services: args.services.clone(),
            stop_timeout: args.timeout.map(Duration::from_secs),
            lock_wait: LOCK_WAIT,
            dry_run: args.dry_run,
        };
        let reporter = Reporter::new(args.format == ProgressFormat::Json);
        let sink = |e: OpEvent| render_event(&reporter, e);
        let (cancel, interrupts) = crate::engine::graceful_interrupts();
        let result = stackr_ops::rollback(engine, stack, &cx, &opts, Some(cancel), &sink).await;
        interrupts.abort();
        reporter.finish();
        let p = result?;
        if args.dry_run {
            print!("{}", render_text(&p));
        }
        Ok(ExitStatus::Success)
    })
}

/// `stackr build`.
pub fn build_cmd(global: &Global, args: &BuildArgs, out: &Output) -> CmdResult {
    with_engine(global, out, async |engine, stack| {
        // A build needs no env file: only what the desired state cannot do without.
        let cx = crate::engine::context_with(stack, false)?;
        let sink = |e: OpEvent| render_event(&Reporter::Plain, e);
        if stackr_ops::build(engine, stack, &cx, &args.services, &sink).await? == 0 {
            eprintln!("nothing to build: no chosen service has a `build`");
        }
        Ok(ExitStatus::Success)
    })
}
