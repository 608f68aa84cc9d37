//! Runs the importer on files from the command line, as `stackr import` will:
//! `cargo run -p stackr-import --example import -- FILE[:PROFILE]...` prints the stack file on
//! stdout, and the report and diagnostics on stderr.

// An example program: it prints.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;

fn main() {
    let mut inputs = Vec::new();
    for arg in std::env::args().skip(1) {
        let (path, profile) = match arg.rsplit_once(':') {
            Some((p, prof)) if !prof.contains('/') => (p.to_string(), Some(prof.to_string())),
            _ => (arg.clone(), None),
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("cannot read `{path}`: {e}");
                std::process::exit(1);
            }
        };
        inputs.push(stackr_import::Input {
            path: PathBuf::from(path),
            text,
            profile,
        });
    }
    let out = stackr_import::import(&inputs);
    print!("{}", out.kdl);
    for line in &out.report {
        eprintln!("{line}");
    }
    for d in &out.diagnostics {
        eprintln!("{d}: {:?}", d.labels.first().map(|l| l.span));
    }
}
