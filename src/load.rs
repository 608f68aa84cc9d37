//! Loading the stack for a command: find the files, read the variables, load, print
//! diagnostics.

use std::io::Write;
use std::path::PathBuf;

use stackr_spec::{Loaded, Options, Stack, load, load_all_profiles};

use crate::cli::Global;
use crate::files::{DiskReader, host_checks, stack_files, variables};
use crate::render::{Output, count};

/// What a command needs to name the files it read.
pub struct Context {
    pub cwd: PathBuf,
    pub files: Vec<PathBuf>,
    /// Every file the stack depends on: the stack files, the files they include, and the env
    /// files read for variables (watch mode reloads when one changes).
    pub inputs: Vec<PathBuf>,
}

impl Context {
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
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The base and every profile on its own (or the chosen profiles): `stackr check`.
    EveryProfile,
    /// The chosen profiles only.
    Chosen,
}

/// Loads the stack and prints its diagnostics to stderr. `Err` carries the exit code.
pub fn load_stack(global: &Global, out: &Output, scope: Scope) -> Result<(Context, Loaded), i32> {
    let cwd = std::env::current_dir().map_err(|e| {
        eprintln!("error: cannot read the working directory: {e}");
        1
    })?;
    let files = stack_files(&cwd, &global.file_args()).map_err(|msg| {
        eprintln!("error: {msg}");
        eprintln!("  help: create a stack.kdl, or name one with `-f PATH`");
        1
    })?;
    let (vars, warnings) = variables(&cwd, &files, &global.env_files).map_err(|problems| {
        for d in &problems {
            eprint!("{}", out.diagnostic(d));
        }
        1
    })?;
    for d in &warnings {
        eprint!("{}", out.diagnostic(d));
        eprintln!();
    }
    let opts = Options {
        stack_name: global.stack_name.clone(),
        profiles: global.profile_args(),
        vars: Some(vars),
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
    inputs.extend(crate::files::env_file_paths(
        &cwd,
        &files,
        &global.env_files,
    ));
    inputs.sort();
    inputs.dedup();
    let cx = Context { cwd, files, inputs };
    let mut stderr = std::io::stderr().lock();
    for d in &loaded.diagnostics {
        let _ = write!(stderr, "{}", out.diagnostic(d));
        let _ = writeln!(stderr);
    }
    Ok((cx, loaded))
}

/// Loads a valid stack or reports why not (exit code 1).
pub fn valid_stack(global: &Global, out: &Output) -> Result<(Context, Stack), i32> {
    let (cx, loaded) = load_stack(global, out, Scope::Chosen)?;
    let errors = loaded.diagnostics.iter().filter(|d| d.is_error()).count();
    match loaded.stack {
        Some(stack) if errors == 0 => Ok((cx, stack)),
        _ => {
            eprintln!(
                "error: {} is invalid: {}",
                cx.shown(),
                count(errors.max(1), "error")
            );
            Err(1)
        }
    }
}

/// The stack from its file; or, when no stack file is found and `-p` names the stack, a stack
/// that has only that name, for the commands that work by label alone (`ps`, `down`), as
/// `docker compose -p NAME down` does. The flag says whether a file was read.
pub fn stack_or_name(global: &Global, out: &Output) -> Result<(Stack, bool), i32> {
    if let Some(name) = &global.stack_name
        && global.file_args().is_empty()
        && let Ok(cwd) = std::env::current_dir()
        && stack_files(&cwd, &[]).is_err()
    {
        let text = format!("stack {}\n", stackr_spec::print::quote(name));
        let loaded = stackr_spec::load_str("stack.kdl", &text, &Options::default());
        return match loaded.stack {
            Some(stack) => Ok((stack, false)),
            None => {
                for d in &loaded.diagnostics {
                    eprint!("{}", out.diagnostic(d));
                }
                Err(1)
            }
        };
    }
    valid_stack(global, out).map(|(_, stack)| (stack, true))
}

/// The stack with other profiles than the command line's, loaded without printing anything;
/// `None` when it is invalid. For hints ("the profile `dev` has watch rules").
pub fn quiet_load(global: &Global, profiles: Vec<String>) -> Option<Stack> {
    let cwd = std::env::current_dir().ok()?;
    let files = stack_files(&cwd, &global.file_args()).ok()?;
    let (vars, _) = variables(&cwd, &files, &global.env_files).ok()?;
    let opts = Options {
        stack_name: global.stack_name.clone(),
        profiles,
        vars: Some(vars),
    };
    let loaded = load(&files, &DiskReader { cwd }, &opts);
    if loaded.has_errors() {
        return None;
    }
    loaded.stack
}
