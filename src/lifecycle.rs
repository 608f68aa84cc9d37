//! `plan`, `up`, `down` and `build`: the commands that read and change what runs.

use std::time::Duration;

use stackr_docker::DockerEngine;
use stackr_ops::{Abort, AttachOptions, DownOptions, OpError, OpEvent, Pull, UpOptions};
use stackr_reconcile::apply::{ProbeRunner, Step, build_images, wait_ready};
use stackr_reconcile::lock::LockError;
use stackr_reconcile::plan::{Plan, PlanOptions, render_text};
use stackr_spec::Stack;

use crate::cli::{
    BuildArgs, DownArgs, Global, PlanArgs, PlanFormat, ProgressFormat, PullWhen, UpArgs,
};
use crate::engine::{
    connect, env_files, print_apply_error, print_engine_error, print_engine_help, with_engine,
};
use crate::load::valid_stack;
use crate::logs::{LogPrinter, follow};
use crate::progress::Reporter;
use crate::render::Output;

/// A runtime for the engine commands.
pub fn runtime() -> Result<tokio::runtime::Runtime, i32> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("error: cannot start the async runtime: {e}");
            1
        })
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

/// Plain progress lines (for commands without a reporter).
pub fn print_step(step: Step) {
    if let Some(line) = crate::progress::plain(&step) {
        eprintln!("{line}");
    }
}

/// Who this run is, for the lock: `pid PID on HOST`.
pub fn holder() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "this machine".into());
    format!("pid {} on {host}", std::process::id())
}

/// What the operations need from this machine: env files, secret values, the probe runner.
pub fn context(stack: &Stack) -> Result<stackr_ops::Context, i32> {
    Ok(stackr_ops::Context {
        base: stackr_reconcile::desired::Inputs {
            env_files: env_files(stack)?,
            probe_volume: Some(probe().volume),
            secrets: crate::engine::secret_values(stack)?,
            ..Default::default()
        },
        probe: probe(),
        holder: holder(),
    })
}

/// How long a run waits for another's lock.
pub const LOCK_WAIT: Duration = Duration::from_secs(2);

pub async fn make_plan(
    engine: &DockerEngine,
    stack: &Stack,
    opts: &PlanOptions,
) -> Result<(Plan, stackr_reconcile::desired::Inputs), i32> {
    let cx = context(stack)?;
    match stackr_ops::plan(engine, stack, &cx, opts).await {
        Ok((p, _, inputs)) => Ok((p, inputs)),
        Err(e) => {
            print_op_error(&e);
            Err(1)
        }
    }
}

fn print_problems(problems: &[stackr_reconcile::plan::PlanProblem]) {
    for e in problems {
        eprintln!("error: {e}");
        if let Some(h) = e.help() {
            eprintln!("  help: {h}");
        }
    }
}

/// Prints why an operation failed.
pub fn print_op_error(e: &OpError) {
    match e {
        OpError::Plan { problems, .. } => print_problems(problems),
        OpError::Lock(l @ LockError::Busy { .. }) => {
            eprintln!("error: {l}");
            eprintln!(
                "  help: wait for it to finish, or stop it; two runs on one stack at once would fight over its containers"
            );
        }
        OpError::Lock(l) => eprintln!("error: {l}"),
        OpError::Pull { service, error, .. } => print_engine_error(error, Some(service)),
        OpError::Apply(a) => print_apply_error(a),
        OpError::Interrupted => eprintln!("{e}"),
        OpError::UnknownService { .. } => eprintln!("error: {e}"),
        OpError::Engine { error, .. } => {
            eprintln!("error: {e}");
            print_engine_help(error);
        }
    }
}

/// Renders an operation's events.
pub fn render_event(reporter: &Reporter, event: OpEvent) {
    match event {
        OpEvent::Step(s) => reporter.step(s),
        OpEvent::Warning(w) => {
            reporter.event(
                "warning",
                serde_json::json!({"code": w.code(), "message": w.to_string()}),
            );
            if !reporter.is_json() {
                eprintln!("warning: {w}");
            }
        }
        OpEvent::PullStarted { service, image } => reporter.event(
            "pull-started",
            serde_json::json!({"service": service, "image": image}),
        ),
        OpEvent::PullFinished { service, image } => reporter.event(
            "pull-finished",
            serde_json::json!({"service": service, "image": image}),
        ),
        OpEvent::Applying { plan } => {
            if let Ok(v) = serde_json::to_value(&plan) {
                reporter.event("plan", serde_json::json!({ "plan": v }));
            }
        }
        OpEvent::UpToDate { stack, containers } => {
            reporter.event(
                "up-to-date",
                serde_json::json!({"stack": stack, "containers": containers}),
            );
            if !reporter.is_json() {
                eprintln!(
                    "stack `{stack}` is up to date ({})",
                    crate::render::count(containers, "container")
                );
            }
        }
        OpEvent::StackStopping { because, code } => {
            reporter.event(
                "stack-stopping",
                serde_json::json!({"because": because, "code": code}),
            );
            if !reporter.is_json() {
                match (because, code) {
                    (Some(name), Some(code)) => {
                        eprintln!("{name} exited with code {code}: stopping the stack");
                    }
                    _ => eprintln!("stopping (Ctrl-C again to kill)"),
                }
            }
        }
        OpEvent::Killing => {
            reporter.event("killing", serde_json::json!({}));
            if !reporter.is_json() {
                eprintln!("killing");
            }
        }
        OpEvent::Container { name, service, did } => {
            render_container(reporter, &name, &service, did)
        }
        OpEvent::Stopped { container } => {
            reporter.event(
                "container-stopped",
                serde_json::json!({"container": container}),
            );
            if !reporter.is_json() {
                eprintln!("{container}: stopped");
            }
        }
        OpEvent::VolumeKept { volume } => {
            reporter.event(
                "volume-kept",
                serde_json::json!({"volume": volume, "reason": "in use by a container of another stack"}),
            );
            if !reporter.is_json() {
                eprintln!(
                    "warning: volume {volume} is kept: a container that is not this stack's still uses it"
                );
            }
        }
    }
}

/// What became of a container that `stop`, `start`, `restart`, `kill` or `rm` acted on.
fn render_container(reporter: &Reporter, name: &str, service: &str, did: stackr_ops::Did) {
    use stackr_ops::Did;
    let what = match &did {
        Did::Stopped => "stopped",
        Did::Started => "started",
        Did::Restarted => "restarted",
        Did::Killed => "killed",
        Did::Removed => "removed",
        Did::KeptRunning => "kept",
        Did::Failed(_) => "failed",
    };
    reporter.event(
        "container",
        serde_json::json!({"container": name, "service": service, "did": what}),
    );
    if reporter.is_json() {
        return;
    }
    match did {
        Did::Failed(e) => print_engine_error(&e, Some(service)),
        Did::KeptRunning => eprintln!("{name}: running, kept (`rm -s` stops it first)"),
        _ => eprintln!("{name}: {what}"),
    }
}

/// `stackr plan`: what `up` would do. Exit 0: no changes; 2 with `--detailed-exitcode` when
/// there are changes; 1 on errors.
pub fn plan_cmd(global: &Global, args: &PlanArgs, out: &Output) -> i32 {
    with_engine(global, out, async |engine, stack| {
        let opts = PlanOptions {
            build: args.build,
            force_recreate: args.force_recreate,
            no_recreate: args.no_recreate,
            remove_orphans: args.remove_orphans,
            services: args.services.clone(),
            no_deps: args.no_deps,
        };
        let (p, _) = match make_plan(engine, stack, &opts).await {
            Ok(x) => x,
            Err(code) => return code,
        };
        match args.format {
            PlanFormat::Text => {
                print!("{}", render_text(&p));
            }
            PlanFormat::Json => match serde_json::to_string_pretty(&p) {
                Ok(j) => println!("{j}"),
                Err(e) => {
                    eprintln!("error: {e}");
                    return 1;
                }
            },
        }
        if !p.errors.is_empty() {
            return 1;
        }
        if args.detailed_exitcode && p.has_changes() {
            2
        } else {
            0
        }
    })
}

/// Applies `--scale SERVICE=N` to the stack.
fn apply_scale(stack: &mut Stack, scales: &[String]) -> Result<(), i32> {
    for s in scales {
        let Some((svc, n)) = s.split_once('=') else {
            eprintln!("error: `--scale {s}`: write `--scale SERVICE=N`");
            return Err(2);
        };
        let Ok(n) = n.parse::<u32>() else {
            eprintln!("error: `--scale {s}`: `{n}` is not a number");
            return Err(2);
        };
        let Some(service) = stack.services.get_mut(svc) else {
            eprintln!(
                "error: `--scale {s}`: no service `{svc}` in stack `{}`",
                stack.name
            );
            return Err(1);
        };
        if n > 1 && service.container_name.is_some() {
            eprintln!(
                "error: service `{svc}` has a `container-name`, so it cannot run {n} containers"
            );
            return Err(1);
        }
        let span = service.name.span;
        service.scale = Some(stackr_spec::Spanned::new(n, span));
    }
    Ok(())
}

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
/// there is something to do: what `up` does before it waits or attaches. Returns the inputs
/// the plan was made with. The first Ctrl-C stops it once the engine calls in flight are
/// answered; a second leaves at once.
pub async fn converge(
    engine: &DockerEngine,
    stack: &Stack,
    opts: &PlanOptions,
    pull: Option<PullWhen>,
    timeout: Option<u64>,
    reporter: &Reporter,
) -> Result<stackr_reconcile::desired::Inputs, i32> {
    let cx = context(stack)?;
    let up_opts = UpOptions {
        plan: opts.clone(),
        pull: pull.map(|p| match p {
            PullWhen::Always => Pull::Always,
            PullWhen::Missing => Pull::Missing,
            PullWhen::Never => Pull::Never,
        }),
        stop_timeout: timeout.map(Duration::from_secs),
        wait: None,
        lock_wait: LOCK_WAIT,
    };
    let (cancelled, interrupts) = graceful_interrupts();
    let sink = |e: OpEvent| render_event(reporter, e);
    let result = stackr_ops::up(engine, stack, &cx, &up_opts, Some(cancelled), &sink).await;
    interrupts.abort();
    match result {
        Ok((_, inputs)) => Ok(inputs),
        Err(e) => {
            reporter.finish();
            let code = if matches!(e, OpError::Interrupted) {
                130
            } else {
                1
            };
            reporter.event("error", serde_json::json!({"message": e.to_string()}));
            print_op_error(&e);
            Err(code)
        }
    }
}

/// `stackr up`.
pub fn up_cmd(global: &Global, args: &UpArgs, out: &Output) -> i32 {
    let (cx, mut stack) = match valid_stack(global, out) {
        Ok(x) => x,
        Err(code) => return code,
    };
    if let Err(code) = apply_scale(&mut stack, &args.scale) {
        return code;
    }
    if args.watch
        && let Err(e) = stackr_watch::rules::Rules::new(&stack, &[])
    {
        eprintln!("error: `--watch`: {e}");
        crate::watch::hint_profiles(global, &stack, &[]);
        return 1;
    }
    if let Some(svc) = &args.exit_code_from
        && !stack.services.contains_key(svc)
    {
        eprintln!(
            "error: `--exit-code-from {svc}`: no service `{svc}` in stack `{}`",
            stack.name
        );
        return 1;
    }
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let color = out.color_stdout;
    let reporter = Reporter::new(args.format == ProgressFormat::Json);

    rt.block_on(async {
        let engine = match connect().await {
            Ok(e) => e,
            Err(code) => return code,
        };
        let opts = PlanOptions {
            build: args.build,
            force_recreate: args.force_recreate,
            no_recreate: args.no_recreate,
            remove_orphans: args.remove_orphans,
            services: args.services.clone(),
            no_deps: args.no_deps,
        };
        let inputs =
            match converge(&engine, &stack, &opts, args.pull, args.timeout, &reporter).await {
                Ok(i) => i,
                Err(code) => return code,
            };
        let on_step = |s: Step| reporter.step(s);
        if args.wait {
            let desired = match stackr_reconcile::desired::desired(&stack, &inputs) {
                Ok(d) => d,
                Err(e) => {
                    print_apply_error(&e.into());
                    return 1;
                }
            };
            let wait = wait_ready(
                &engine,
                &desired,
                &args.services,
                Duration::from_secs(args.wait_timeout),
                &on_step,
            );
            if let Err(e) = wait.await {
                reporter.finish();
                reporter.event("error", serde_json::json!({"message": e.to_string()}));
                print_apply_error(&e);
                return 1;
            }
        }
        reporter.finish();
        reporter.event("done", serde_json::json!({"stack": stack.name}));
        if args.watch {
            let watching =
                crate::watch::run(&engine, global, out, cx.inputs.clone(), stack.clone(), &[]);
            if args.detach {
                return watching.await;
            }
            let printer = match crate::engine::secret_values(&stack) {
                Ok(values) => LogPrinter::new(&stack, color, false).mask(&values),
                Err(code) => return code,
            };
            let logs = follow(&engine, &stack.name, &args.services, None, &printer);
            let code = tokio::select! {
                code = watching => code,
                r = logs => match r {
                    Ok(()) => 0,
                    Err(e) => {
                        print_engine_error(&e, None);
                        1
                    }
                },
            };
            eprintln!("stopping the stack (the next `stackr up` starts it again)");
            if let Err(e) = stop_all(&engine, &stack, args.timeout.map(Duration::from_secs)).await {
                print_engine_error(&e, None);
                return 1;
            }
            return code;
        }
        if args.detach || args.wait || reporter.is_json() {
            return 0;
        }
        let abort = match &args.exit_code_from {
            Some(svc) => Some(Abort::ExitOf(svc.clone())),
            None => args.abort_on_container_exit.then_some(Abort::AnyExit),
        };
        let opts = AttachOptions {
            services: args.services.clone(),
            abort,
            stop_timeout: args.timeout.map(Duration::from_secs),
        };
        attached(&engine, &stack, &opts, color).await
    })
}

/// Attached `up`: streams logs; the first Ctrl-C stops the stack gracefully, a second kills.
async fn attached(engine: &DockerEngine, stack: &Stack, opts: &AttachOptions, color: bool) -> i32 {
    let printer = match crate::engine::secret_values(stack) {
        Ok(values) => LogPrinter::new(stack, color, false).mask(&values),
        Err(code) => return code,
    };
    let (tx, interrupts) = tokio::sync::mpsc::unbounded_channel();
    let forward = tokio::spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() && tx.send(()).is_ok() {}
    });
    let logs = |l: stackr_ops::LogLine| printer.print(&l.container, &l.service, &l.chunk);
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
    match r {
        Ok(end) => end.code(),
        Err(e) => {
            print_engine_error(&e, None);
            1
        }
    }
}

/// Stops every container of the stack, dependents first, saying which.
async fn stop_all(
    engine: &DockerEngine,
    stack: &Stack,
    timeout: Option<Duration>,
) -> stackr_engine::Result<()> {
    let sink = |e: OpEvent| {
        if let OpEvent::Stopped { container } = e {
            eprintln!("{container}: stopped");
        }
    };
    stackr_ops::stop(engine, &stack.name, &stack.waves, timeout, &sink).await
}

/// `stackr down`.
pub fn down_cmd(global: &Global, args: &DownArgs, out: &Output) -> i32 {
    crate::engine::with_engine_by_label(global, out, async |engine, stack, from_file| {
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
        if reporter.is_json() {
            return match result {
                Ok(report) => {
                    for n in &report.networks {
                        reporter.event("network-removed", serde_json::json!({"network": n}));
                    }
                    for v in &report.volumes {
                        reporter.event("volume-removed", serde_json::json!({"volume": v}));
                    }
                    reporter.event("done", serde_json::json!({"stack": stack.name}));
                    0
                }
                Err(e) => {
                    reporter.event("error", serde_json::json!({"message": e.to_string()}));
                    print_op_error(&e);
                    1
                }
            };
        }
        match result {
            Ok(report) => {
                for n in &report.networks {
                    eprintln!("network {n}: removed");
                }
                for v in &report.volumes {
                    eprintln!("volume {v}: removed");
                }
                for k in &report.kept {
                    eprintln!(
                        "warning: {k} is kept: its service is not in the stack (`--remove-orphans` removes it)"
                    );
                }
                if report.containers.is_empty() && report.networks.is_empty() {
                    eprintln!("stack `{}`: nothing to remove", stack.name);
                }
                0
            }
            Err(e) => {
                print_op_error(&e);
                1
            }
        }
    })
}

/// `stackr build`.
pub fn build_cmd(global: &Global, args: &BuildArgs, out: &Output) -> i32 {
    with_engine(global, out, async |engine, stack| {
        let inputs = stackr_reconcile::desired::Inputs {
            secrets: match crate::engine::secret_values(stack) {
                Ok(s) => s,
                Err(code) => return code,
            },
            probe_volume: Some(probe().volume),
            ..Default::default()
        };
        let desired = match stackr_reconcile::desired::desired(stack, &inputs) {
            Ok(d) => d,
            Err(e) => {
                print_apply_error(&e.into());
                return 1;
            }
        };
        for s in &args.services {
            if desired.service(s).is_none() {
                eprintln!("error: no service `{s}` in stack `{}`", stack.name);
                return 1;
            }
        }
        let chosen: Vec<&stackr_reconcile::desired::DesiredService> = desired
            .services
            .iter()
            .filter(|s| s.build.is_some())
            .filter(|s| args.services.is_empty() || args.services.contains(&s.name))
            .collect();
        if chosen.is_empty() {
            eprintln!("nothing to build: no chosen service has a `build`");
            return 0;
        }
        match build_images(engine, &chosen, &print_step).await {
            Ok(_) => 0,
            Err(e) => {
                print_apply_error(&e);
                1
            }
        }
    })
}
