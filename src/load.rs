//! Loading the stack for a command (`stackr-host` does it) and showing its diagnostics.

use std::io::Write;

use stackr_host::HostError;
use stackr_host::load::{Files, Load, Request, Scope};
use stackr_spec::Stack;

use crate::cli::Global;
use crate::render::Output;
use crate::status::CliError;

/// Where the command line says the stack is.
pub fn request(global: &Global) -> Result<Request, CliError> {
    let cwd = std::env::current_dir().map_err(HostError::WorkingDirectory)?;
    Ok(Request {
        cwd,
        files: global.file_args(),
        env_files: global.env_files.clone(),
        stack_name: global.stack_name.clone(),
        profiles: global.profile_args(),
        target: global.target.map(|t| match t {
            crate::cli::TargetArg::Engine => stackr_spec::Target::Engine,
            crate::cli::TargetArg::Swarm => stackr_spec::Target::Swarm,
        }),
    })
}

/// Loads the stack and writes its diagnostics to stderr.
pub fn load_stack(global: &Global, out: &Output, scope: Scope) -> Result<Load, CliError> {
    let load = stackr_host::load::load_stack(&request(global)?, scope)?;
    let all = load
        .variable_warnings
        .iter()
        .chain(&load.loaded.diagnostics);
    let _ = write!(std::io::stderr().lock(), "{}", out.diagnostics(all));
    Ok(load)
}

/// Loads a valid stack, or says why not.
pub fn valid_stack(global: &Global, out: &Output) -> Result<(Files, Stack), CliError> {
    Ok(stackr_host::load::valid(load_stack(
        global,
        out,
        Scope::Chosen,
    )?)?)
}

/// The stack from its file; or, when no stack file is found and `-p` names the stack, a stack
/// that has only that name, for the commands that work by label alone. The flag says whether
/// a file was read.
pub fn stack_or_name(global: &Global, out: &Output) -> Result<(Stack, bool), CliError> {
    if let Some(loaded) = stackr_host::load::name_only(&request(global)?) {
        eprint!("{}", out.diagnostics(&loaded.diagnostics));
        return match loaded.stack {
            Some(stack) => Ok((stack, false)),
            None => Err(HostError::Invalid {
                files: "`-p`".into(),
                errors: loaded.diagnostics.len().max(1),
            }
            .into()),
        };
    }
    valid_stack(global, out).map(|(_, stack)| (stack, true))
}
