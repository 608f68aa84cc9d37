//! The `stackr` command: arguments in, output and an exit code out. All the work lives in the
//! library crates; this binary only wires them to a terminal.

// The binary is where output is rendered; the library crates never print (the workspace's
// lints deny it), they report typed events and errors.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod check;
mod commands;
mod config;
mod engine;
mod fmt;
mod graph;
mod import;
mod inventory;
mod lifecycle;
mod load;
mod logs;
mod progress;
mod ps;
mod render;
mod report;
mod status;
mod swarm;
mod watch;

use std::process::ExitCode;

use clap::Parser;
// The arguments (`stackr-cli`), named `cli` in the command modules.
use stackr_cli as cli;

fn main() -> ExitCode {
    // Output piped into `head` and closed early is not an error worth a panic message.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.to_string().contains("Broken pipe") {
            std::process::exit(141);
        }
        default_hook(info);
    }));
    let args = cli::Cli::parse();
    let out = render::Output::new(args.global.no_color);
    let status = match dispatch(&args, &out) {
        Ok(status) => status,
        Err(e) => {
            report::error(&e, &out);
            e.status()
        }
    };
    ExitCode::from(status.code())
}

/// Runs the command the arguments name.
fn dispatch(args: &cli::Cli, out: &render::Output) -> status::CmdResult {
    let g = &args.global;
    match &args.command {
        cli::Command::Check => check::run(g, out),
        cli::Command::Config(c) => config::run(g, c, out),
        cli::Command::Graph(a) => graph::run(g, a, out),
        cli::Command::Plan(a) => lifecycle::plan_cmd(g, a, out),
        cli::Command::Up(a) => lifecycle::up_cmd(g, a, out),
        cli::Command::Watch(a) => watch::watch_cmd(g, a, out),
        cli::Command::Down(a) => lifecycle::down_cmd(g, a, out),
        cli::Command::Rollback(a) => lifecycle::rollback_cmd(g, a, out),
        cli::Command::Ps(a) => ps::ps_cmd(g, a, out),
        cli::Command::Logs(a) => logs::logs_cmd(g, a, out),
        cli::Command::Build(a) => lifecycle::build_cmd(g, a, out),
        cli::Command::Stop(a) => commands::stop(g, a, out),
        cli::Command::Start(a) => commands::start(g, a, out),
        cli::Command::Restart(a) => commands::restart(g, a, out),
        cli::Command::Kill(a) => commands::kill(g, a, out),
        cli::Command::Create(a) => lifecycle::create_cmd(g, a, out),
        cli::Command::Wait(a) => commands::wait(g, a, out),
        cli::Command::Scale(a) => lifecycle::scale_cmd(g, a, out),
        cli::Command::Pause(a) => commands::pause(g, a, out),
        cli::Command::Unpause(a) => commands::unpause(g, a, out),
        cli::Command::Images(a) => commands::images(g, a, out),
        cli::Command::Stats(a) => crate::inventory::stats(g, a, out),
        cli::Command::Export(a) => crate::inventory::export(g, a, out),
        cli::Command::Commit(a) => crate::inventory::commit(g, a, out),
        cli::Command::Volumes(a) => commands::volumes(g, a, out),
        cli::Command::Rm(a) => commands::rm(g, a, out),
        cli::Command::Exec(a) => commands::exec(g, a, out),
        cli::Command::Attach(a) => commands::attach(g, a, out),
        cli::Command::Push(a) => commands::push(g, a, out),
        cli::Command::Run(a) => commands::run(g, a, out),
        cli::Command::Cp(a) => commands::cp(g, a, out),
        cli::Command::Port(a) => commands::port(g, a, out),
        cli::Command::Top(a) => commands::top(g, a, out),
        cli::Command::Ls(a) => commands::ls(a),
        cli::Command::Events(a) => commands::events(g, a, out),
        cli::Command::Pull(a) => commands::pull(g, a, out),
        cli::Command::Version(a) => commands::version(a),
        cli::Command::Import(a) => import::run(g, a, out),
        cli::Command::Fmt(a) => fmt::fmt_cmd(g, a, out),
        cli::Command::Lsp => stackr_lsp::run_stdio()
            .map(|()| status::ExitStatus::Success)
            .map_err(|e| status::CliError::Other {
                message: format!("the language server stopped: {e}"),
                help: None,
            }),
        cli::Command::Completion { shell } => {
            let mut cmd = <cli::Cli as clap::CommandFactory>::command();
            clap_complete::generate(*shell, &mut cmd, "stackr", &mut std::io::stdout());
            Ok(status::ExitStatus::Success)
        }
        cli::Command::Man => {
            let cmd = <cli::Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(cmd)
                .render(&mut std::io::stdout())
                .map_err(|error| status::CliError::Write {
                    path: "stdout".into(),
                    error,
                })?;
            Ok(status::ExitStatus::Success)
        }
    }
}

/// The static probe runner given to containers for native health checks.
pub static PROBE: &[u8] = include_bytes!(env!("STACKR_PROBE_PATH"));
