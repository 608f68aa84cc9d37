//! The `stackr` command: arguments in, output and an exit code out. All the work lives in the
//! library crates; this binary only wires them to a terminal.

// The binary is where output is rendered; the library crates never print (the workspace's
// lints deny it), they report typed events and errors.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod check;
mod cli;
mod commands;
mod config;
mod engine;
mod files;
mod graph;
mod import;
mod lifecycle;
mod load;
mod logs;
mod progress;
mod ps;
mod render;
mod watch;

use std::process::ExitCode;

use clap::Parser;

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
    let code = match &args.command {
        cli::Command::Check => check::run(&args.global, &out),
        cli::Command::Config(c) => config::run(&args.global, c, &out),
        cli::Command::Graph(g) => graph::run(&args.global, g, &out),
        cli::Command::Plan(a) => lifecycle::plan_cmd(&args.global, a, &out),
        cli::Command::Up(a) => lifecycle::up_cmd(&args.global, a, &out),
        cli::Command::Watch(a) => watch::watch_cmd(&args.global, a, &out),
        cli::Command::Down(a) => lifecycle::down_cmd(&args.global, a, &out),
        cli::Command::Ps(a) => ps::ps_cmd(&args.global, a, &out),
        cli::Command::Logs(a) => logs::logs_cmd(&args.global, a, &out),
        cli::Command::Build(a) => lifecycle::build_cmd(&args.global, a, &out),
        cli::Command::Stop(a) => commands::stop(&args.global, a, &out),
        cli::Command::Start(a) => commands::start(&args.global, a, &out),
        cli::Command::Restart(a) => commands::restart(&args.global, a, &out),
        cli::Command::Kill(a) => commands::kill(&args.global, a, &out),
        cli::Command::Rm(a) => commands::rm(&args.global, a, &out),
        cli::Command::Exec(a) => commands::exec(&args.global, a, &out),
        cli::Command::Run(a) => commands::run(&args.global, a, &out),
        cli::Command::Cp(a) => commands::cp(&args.global, a, &out),
        cli::Command::Port(a) => commands::port(&args.global, a, &out),
        cli::Command::Top(a) => commands::top(&args.global, a, &out),
        cli::Command::Ls(a) => commands::ls(a),
        cli::Command::Events(a) => commands::events(&args.global, a, &out),
        cli::Command::Pull(a) => commands::pull(&args.global, a, &out),
        cli::Command::Version(a) => commands::version(a),
        cli::Command::Import(a) => import::run(a, &out),
        cli::Command::Completion { shell } => {
            let mut cmd = <cli::Cli as clap::CommandFactory>::command();
            clap_complete::generate(*shell, &mut cmd, "stackr", &mut std::io::stdout());
            0
        }
        cli::Command::Man => {
            let cmd = <cli::Cli as clap::CommandFactory>::command();
            match clap_mangen::Man::new(cmd).render(&mut std::io::stdout()) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("error: {e}");
                    1
                }
            }
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// The static probe runner given to containers for native health checks.
pub static PROBE: &[u8] = include_bytes!(env!("STACKR_PROBE_PATH"));
