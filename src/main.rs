//! The `stackr` command: arguments in, output and an exit code out. All the work lives in the
//! library crates; this binary only wires them to a terminal.

mod check;
mod cli;
mod config;
mod files;
mod graph;
mod load;
mod render;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let out = render::Output::new(args.global.no_color);
    let code = match &args.command {
        cli::Command::Check => check::run(&args.global, &out),
        cli::Command::Config(c) => config::run(&args.global, c, &out),
        cli::Command::Graph(g) => graph::run(&args.global, g, &out),
    };
    ExitCode::from(code as u8)
}
