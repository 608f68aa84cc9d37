//! `stackr watch` (and `stackr up --watch`): the arguments and the rendering of the watch loop,
//! which is `stackr_watch::session` (generic over the engine).

use std::path::{Path, PathBuf};

use stackr_docker::DockerEngine;
use stackr_reconcile::plan::PlanOptions;
use stackr_spec::Stack;
use stackr_watch::rules::Rules;
use stackr_watch::session::{self, Host, Session, WatchEvent};

use stackr_ops::UpOptions;
use stackr_watch::WatchError;

use crate::cli::{Global, WatchArgs};
use crate::engine::{LOCK_WAIT, converge};
use crate::load::valid_stack;
use crate::progress::Reporter;
use crate::render::Output;
use crate::status::{CliError, CmdResult, ExitStatus};

/// `stackr watch`.
pub fn watch_cmd(global: &Global, args: &WatchArgs, out: &Output) -> CmdResult {
    let (files, stack) = valid_stack(global, out)?;
    crate::engine::refuse(
        &stack,
        "watch",
        "watch mode syncs files into the containers of one engine, and a swarm runs tasks on any node (check refuses watch rules there)",
    )?;
    if let Err(e) = Rules::new(&stack, &args.services) {
        return Err(no_rules(global, &stack, &args.services, e, ""));
    }
    crate::engine::on_engine(async |engine| {
        if !args.no_up {
            let reporter = Reporter::new(false);
            let opts = UpOptions {
                plan: PlanOptions {
                    services: args.services.clone(),
                    ..PlanOptions::default()
                },
                lock_wait: LOCK_WAIT,
                ..UpOptions::default()
            };
            converge(engine, &stack, opts, &reporter).await?;
            reporter.finish();
        }
        run(engine, global, out, files.inputs, stack, &args.services).await
    })
}

/// The binary's side of a watch: `up`'s converge with its progress lines, and loading the
/// stack files again.
struct CliHost<'a> {
    engine: &'a DockerEngine,
    global: &'a Global,
    out: &'a Output,
}

impl Host for CliHost<'_> {
    async fn converge(&self, stack: &Stack, opts: &PlanOptions) -> bool {
        let reporter = Reporter::new(false);
        let up = UpOptions {
            plan: opts.clone(),
            lock_wait: LOCK_WAIT,
            ..UpOptions::default()
        };
        let r = converge(self.engine, stack, up, &reporter).await;
        reporter.finish();
        if let Err(e) = &r {
            crate::report::error(e, self.out);
        }
        r.is_ok()
    }

    fn reload(&self) -> Option<Stack> {
        match valid_stack(self.global, self.out) {
            Ok((_, s)) => Some(s),
            Err(e) => {
                crate::report::error(&e, self.out);
                None
            }
        }
    }
}

/// Watches until Ctrl-C.
pub async fn run(
    engine: &DockerEngine,
    global: &Global,
    out: &Output,
    files: Vec<PathBuf>,
    stack: Stack,
    services: &[String],
) -> CmdResult {
    let host = CliHost {
        engine,
        global,
        out,
    };
    let cwd = std::env::current_dir().unwrap_or_default();
    let sink = |e: WatchEvent| render(&e, &cwd);
    // Ctrl-C ends the watch, also while an action runs (the action sees it too and stops).
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    // A second Ctrl-C leaves at once (an action that hangs would otherwise hold the watch).
    let interrupts = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = stop_tx.send(true);
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    let session = Session {
        engine,
        host: &host,
        files,
        stack,
        services,
        sink: &sink,
    };
    let result = session::watch(session, stop).await;
    interrupts.abort();
    result?;
    Ok(ExitStatus::Success)
}

/// The error for a stack without watch rules, naming the profiles that have some.
pub fn no_rules(
    global: &Global,
    stack: &Stack,
    services: &[String],
    e: WatchError,
    prefix: &str,
) -> CliError {
    let with_rules = crate::load::request(global).map_or(Vec::new(), |req| {
        stackr_host::load::profiles_where(&req, stack, |s| Rules::new(s, services).is_ok())
    });
    let help = with_rules.first().map(|first| {
        let names: Vec<String> = with_rules.iter().map(|p| format!("`{p}`")).collect();
        format!(
            "the profile {} has watch rules: `stackr --profile {first} watch`",
            names.join(", ")
        )
    });
    CliError::Other {
        message: format!("{prefix}{e}"),
        help,
    }
}

/// One line for a watch event: what went well on stdout, what went wrong on stderr.
fn render(e: &WatchEvent, cwd: &Path) {
    match e {
        WatchEvent::EngineError(e) => return crate::report::engine(None, e),
        WatchEvent::EngineLost(e) => {
            crate::report::engine(None, e);
            return eprintln!("watch: waiting for the engine to come back");
        }
        _ => {}
    }
    let line = stackr_watch::text::line(e, cwd);
    if line.problem {
        eprintln!("{}", line.text);
    } else {
        println!("{}", line.text);
    }
}
