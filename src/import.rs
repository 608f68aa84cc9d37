//! `stackr import`: compose files in, a stack file out (the work is `stackr-import`'s).

use std::path::{Path, PathBuf};

use stackr_import::Input;

use crate::cli::ImportArgs;
use crate::render::Output;
use crate::status::{CliError, CmdResult, ExitStatus};

/// `FILE[:PROFILE]`: the suffix is a profile name when the whole argument is not a file.
fn split(arg: &str) -> (PathBuf, Option<String>) {
    if Path::new(arg).exists() {
        return (PathBuf::from(arg), None);
    }
    match arg.rsplit_once(':') {
        Some((file, profile)) if !profile.is_empty() && !profile.contains('/') => {
            (PathBuf::from(file), Some(profile.to_string()))
        }
        _ => (PathBuf::from(arg), None),
    }
}

pub fn run(global: &crate::cli::Global, args: &ImportArgs, out: &Output) -> CmdResult {
    let mut inputs = Vec::new();
    for arg in &args.files {
        let (path, profile) = split(arg);
        let bytes = stackr_host::files::read_regular(&path, stackr_spec::limits::MAX_FILE_BYTES)
            .map_err(|error| CliError::Read {
                path: path.clone(),
                error,
            })?;
        let text = match stackr_spec::decode_file(&path, &path.display().to_string(), &bytes) {
            Ok(text) => text,
            Err(d) => {
                eprint!("{}", out.diagnostic(&d));
                return Err(CliError::ImportFailed);
            }
        };
        inputs.push(Input {
            path,
            text,
            profile,
        });
    }
    // `--target swarm`: a compose file made for `docker stack deploy`, written with
    // `target "swarm"` and checked for a swarm.
    let target = global.target.map(|t| match t {
        crate::cli::TargetArg::Engine => stackr_spec::Target::Engine,
        crate::cli::TargetArg::Swarm => stackr_spec::Target::Swarm,
    });
    let imported = stackr_import::import_for(&inputs, target);
    eprint!("{}", out.diagnostics(&imported.diagnostics));
    if !imported.report.is_empty() {
        eprintln!("not carried over, or changed in meaning (also written as comments):");
        for line in &imported.report {
            eprintln!("  {}", stackr_spec::source::escape_for_terminal(line));
        }
    }
    if imported.has_errors() {
        return Err(CliError::ImportFailed);
    }
    match &args.output {
        Some(path) => {
            if path.exists() && !args.force {
                return Err(CliError::Exists { path: path.clone() });
            }
            std::fs::write(path, &imported.kdl).map_err(|error| CliError::Write {
                path: path.clone(),
                error,
            })?;
            eprintln!(
                "wrote {}: check it with `stackr -f {} check`",
                path.display(),
                path.display()
            );
        }
        None => print!("{}", imported.kdl),
    }
    Ok(ExitStatus::Success)
}
