//! Loading the stack for a command: find the files, read the variables, load through the disk,
//! run the host checks. Nothing is printed: the diagnostics come back with the stack.

use std::collections::BTreeMap;
use std::path::PathBuf;

use stackr_spec::{Diagnostic, Loaded, Options, Stack, load, load_all_profiles};

use crate::HostError;
use crate::files::{DiskReader, env_file_paths, host_checks, stack_files, variables};

/// What the command line says about where the stack is and how to read it.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// The working directory: relative paths are read against it.
    pub cwd: PathBuf,
    /// `-f`: the stack files (else `stack.kdl` in `cwd` or its nearest parent).
    pub files: Vec<PathBuf>,
    /// `--env-file`: the env files for variables (else `.env` beside the first stack file).
    pub env_files: Vec<PathBuf>,
    /// `-p`: the stack's name over the file's.
    pub stack_name: Option<String>,
    /// `--profile`.
    pub profiles: Vec<String>,
    /// `--target` (or `STACKR_TARGET`): beats the file's `target`.
    pub target: Option<stackr_spec::Target>,
}

/// The files a stack was loaded from.
#[derive(Debug, Clone)]
pub struct Files {
    pub cwd: PathBuf,
    pub files: Vec<PathBuf>,
    /// Every file the stack depends on: the stack files, the files they include, and the env
    /// files read for variables (watch mode reloads when one changes).
    pub inputs: Vec<PathBuf>,
}

impl Files {
    /// The stack files as the user would name them: relative to the working directory.
    pub fn shown(&self) -> String {
        self.files
            .iter()
            .map(|f| match f.strip_prefix(&self.cwd) {
                Ok(rel) => rel.display().to_string(),
                Err(_) => f.display().to_string(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// How much to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The base and every profile on its own (or the chosen profiles): `stackr check`.
    EveryProfile,
    /// The chosen profiles only.
    Chosen,
}

/// A load: the files, the result with its diagnostics, and the warnings found reading the
/// variables (shown before the stack's own diagnostics).
pub struct Load {
    pub files: Files,
    pub loaded: Loaded,
    /// The variables interpolation read: the shell over the env files.
    pub variables: BTreeMap<String, String>,
    pub variable_warnings: Vec<Diagnostic>,
}

/// Loads the stack as `req` says.
pub fn load_stack(req: &Request, scope: Scope) -> Result<Load, HostError> {
    let cwd = req.cwd.clone();
    let files = stack_files(&cwd, &req.files)?;
    let (vars, variable_warnings) =
        variables(&cwd, &files, &req.env_files).map_err(HostError::Variables)?;
    let opts = Options {
        stack_name: req.stack_name.clone(),
        profiles: req.profiles.clone(),
        vars: Some(vars.clone()),
        target: req.target,
    };
    let reader = DiskReader { cwd: cwd.clone() };
    let loaded = match scope {
        Scope::EveryProfile => load_all_profiles(&files, &reader, &opts, &host_checks),
        Scope::Chosen => {
            let mut l = load(&files, &reader, &opts);
            if let Some(stack) = &l.stack {
                let extra: Vec<_> = host_checks(stack)
                    .into_iter()
                    .map(|d| d.attach(&l.sources))
                    .collect();
                if extra.iter().any(|d| d.is_error()) {
                    l.stack = None;
                }
                l.diagnostics.extend(extra);
            }
            l
        }
    };
    let mut inputs: Vec<PathBuf> = loaded
        .sources
        .files()
        .map(|(_, f)| f.path.clone())
        .collect();
    inputs.extend(env_file_paths(&cwd, &files, &req.env_files));
    inputs.sort();
    inputs.dedup();
    Ok(Load {
        files: Files { cwd, files, inputs },
        loaded,
        variables: vars,
        variable_warnings,
    })
}

/// The valid stack of a load, or why not.
pub fn valid(load: Load) -> Result<(Files, Stack), HostError> {
    let errors = load
        .loaded
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .count();
    match load.loaded.stack {
        Some(stack) if errors == 0 => Ok((load.files, stack)),
        _ => Err(HostError::Invalid {
            files: load.files.shown(),
            errors: errors.max(1),
        }),
    }
}

/// When no stack file is found and `-p` names the stack: a stack that has only that name, for
/// the commands that work by label alone (`ps`, `down`, `logs --no-mask`), as
/// `docker compose -p NAME down` does. `None` when a stack file is to be read.
pub fn name_only(req: &Request) -> Option<Loaded> {
    let name = req.stack_name.as_ref()?;
    if !req.files.is_empty() || stack_files(&req.cwd, &[]).is_ok() {
        return None;
    }
    let text = format!("stack {}\n", stackr_spec::print::quote(name));
    Some(stackr_spec::load_str(
        "stack.kdl",
        &text,
        &Options::default(),
    ))
}

/// The stack with other profiles than the request's; `None` when it is invalid. For hints
/// ("the profile `dev` has watch rules").
pub fn with_profiles(req: &Request, profiles: Vec<String>) -> Option<Stack> {
    let files = stack_files(&req.cwd, &req.files).ok()?;
    let (vars, _) = variables(&req.cwd, &files, &req.env_files).ok()?;
    let opts = Options {
        stack_name: req.stack_name.clone(),
        profiles,
        vars: Some(vars),
        target: req.target,
    };
    let loaded = load(
        &files,
        &DiskReader {
            cwd: req.cwd.clone(),
        },
        &opts,
    );
    if loaded.has_errors() {
        return None;
    }
    loaded.stack
}

/// The profiles not applied to `stack` under which the stack (with the applied ones too)
/// satisfies `wanted`. For hints: "the profile `dev` has watch rules".
pub fn profiles_where(
    req: &Request,
    stack: &Stack,
    wanted: impl Fn(&Stack) -> bool,
) -> Vec<String> {
    stack
        .available_profiles
        .iter()
        .filter(|p| !stack.profiles.contains(p))
        .filter(|p| {
            let mut profiles = stack.profiles.clone();
            profiles.push((*p).clone());
            with_profiles(req, profiles).is_some_and(|s| wanted(&s))
        })
        .cloned()
        .collect()
}
