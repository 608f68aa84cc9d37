//! Talking to the engine from a command: connecting, reading a stack's env files, and
//! printing what went wrong in words that name the service.

use std::collections::BTreeMap;
use std::path::PathBuf;

use stackr_docker::DockerEngine;

use crate::cli::Global;
use crate::lifecycle::runtime;
use crate::load::valid_stack;
use crate::render::Output;
use stackr_engine::EngineError;
use stackr_reconcile::apply::ApplyError;
use stackr_spec::Stack;
use stackr_spec::interpolate::parse_dotenv_all;

/// Runs `f` with a valid stack and a connected engine.
pub fn with_engine<F>(global: &Global, out: &Output, f: F) -> i32
where
    F: AsyncFnOnce(&DockerEngine, &Stack) -> i32,
{
    let (_, stack) = match valid_stack(global, out) {
        Ok(x) => x,
        Err(code) => return code,
    };
    on_engine(async |engine| f(engine, &stack).await)
}

/// Runs `f` with the stack (or, without a stack file, only its `-p` name; the flag says
/// which) and a connected engine: for commands that work by label.
pub fn with_engine_by_label<F>(global: &Global, out: &Output, f: F) -> i32
where
    F: AsyncFnOnce(&DockerEngine, &Stack, bool) -> i32,
{
    let (stack, from_file) = match crate::load::stack_or_name(global, out) {
        Ok(x) => x,
        Err(code) => return code,
    };
    on_engine(async |engine| f(engine, &stack, from_file).await)
}

/// Runs `f` on a runtime with a connected engine; its result is the exit code.
pub fn on_engine<F>(f: F) -> i32
where
    F: AsyncFnOnce(&DockerEngine) -> i32,
{
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let code = rt.block_on(async {
        let engine = match connect().await {
            Ok(e) => e,
            Err(code) => return code,
        };
        f(&engine).await
    });
    // A read of standard input may still be blocked (an interactive `exec`): do not wait for it.
    rt.shutdown_background();
    code
}

/// Connects to the engine (`DOCKER_HOST`, or the local socket).
pub async fn connect() -> Result<DockerEngine, i32> {
    match DockerEngine::connect().await {
        Ok(e) => Ok(e),
        Err(e) => {
            print_engine_error(&e, None);
            Err(1)
        }
    }
}

/// Reads the value of every secret a service uses, before anything on the engine is touched: a
/// missing file or an unset variable is an error here. Values are never printed.
pub fn secret_values(
    stack: &Stack,
) -> Result<BTreeMap<String, stackr_reconcile::desired::SecretValue>, i32> {
    use stackr_spec::SecretSource;
    let mut out = BTreeMap::new();
    let used: std::collections::BTreeSet<&String> = stack
        .services
        .values()
        .flat_map(|s| s.secrets.iter().map(|f| &f.name.value))
        .collect();
    for name in used {
        let Some(secret) = stack.secrets.get(name) else {
            continue;
        };
        let value = match secret.source.as_ref().map(|s| &s.value) {
            Some(SecretSource::File(path)) => match std::fs::read(path) {
                Ok(v) => {
                    if !secret
                        .acknowledge_readable
                        .as_ref()
                        .is_some_and(|a| a.value)
                    {
                        warn_if_readable(name, path);
                    }
                    v
                }
                Err(e) => {
                    eprintln!(
                        "error: secret `{name}`: cannot read `{}`: {e}",
                        path.display()
                    );
                    eprintln!(
                        "  help: nothing was changed; create the file, or point `file=` at it"
                    );
                    return Err(1);
                }
            },
            Some(SecretSource::Env(var)) => match std::env::var_os(var) {
                Some(v) => v.into_encoded_bytes(),
                None => {
                    eprintln!("error: secret `{name}`: the variable `{var}` is not set");
                    eprintln!(
                        "  help: nothing was changed; export `{var}` in the shell that runs stackr"
                    );
                    return Err(1);
                }
            },
            _ => continue,
        };
        out.insert(name.clone(), stackr_reconcile::desired::SecretValue(value));
    }
    Ok(out)
}

#[cfg(unix)]
fn warn_if_readable(name: &str, path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        eprintln!(
            "warning: the file of secret `{name}` ({}) can be read by its group or others (mode {:o})",
            path.display(),
            meta.permissions().mode() & 0o777
        );
        eprintln!(
            "  help: `chmod 600 {}`, or, for a demo value, `acknowledge=\"readable-file\"` on the secret",
            path.display()
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable(_name: &str, _path: &std::path::Path) {}

/// Reads every env file the stack's services name (missing optional ones are skipped).
pub fn env_files(stack: &Stack) -> Result<BTreeMap<PathBuf, Vec<(String, String)>>, i32> {
    let shell: BTreeMap<String, String> = std::env::vars().collect();
    let mut out = BTreeMap::new();
    for s in stack.services.values() {
        for f in &s.env_files {
            if out.contains_key(&f.path.value) {
                continue;
            }
            match std::fs::read_to_string(&f.path.value) {
                Ok(text) => {
                    let d = parse_dotenv_all(&text, &shell);
                    for (e, _) in &d.unset {
                        eprintln!(
                            "warning: env file `{}` of service `{}`: {e}: using an empty string",
                            f.path.value.display(),
                            s.name.value
                        );
                    }
                    if !d.errors.is_empty() {
                        for e in &d.errors {
                            eprintln!(
                                "error: env file `{}` of service `{}`: {e}",
                                f.path.value.display(),
                                s.name.value
                            );
                        }
                        eprintln!(
                            "  help: env files hold `KEY=value` lines; quote values with spaces or `#`"
                        );
                        return Err(1);
                    }
                    out.insert(f.path.value.clone(), d.vars);
                }
                Err(_) if !f.required => {}
                Err(e) => {
                    eprintln!(
                        "error: cannot read env file `{}` of service `{}`: {e}",
                        f.path.value.display(),
                        s.name.value
                    );
                    return Err(1);
                }
            }
        }
    }
    Ok(out)
}

fn help_for(e: &EngineError) -> Option<String> {
    match e {
        EngineError::Unreachable { .. } => Some(
            "is the Docker daemon running? stackr uses `DOCKER_HOST` when it is set, else the local socket".into(),
        ),
        EngineError::ImageMissing { .. } => Some(
            "no registry can be reached from here: build the image (`build` in the stack file) or load it with `docker load`".into(),
        ),
        EngineError::PortAllocated { .. } => Some(
            "another process or container already listens on that host port: stop it, or publish another port".into(),
        ),
        EngineError::Conflict { .. } => Some(
            "a container or network of that name exists and does not belong to this stack: remove or rename it, or set `container-name`".into(),
        ),
        _ => None,
    }
}

/// Prints an engine error with its help.
pub fn print_engine_error(e: &EngineError, service: Option<&str>) {
    match service {
        Some(s) => eprintln!("error: service `{s}`: {e}"),
        None => eprintln!("error: {e}"),
    }
    print_engine_help(e);
}

/// The help line of an engine error, when it has one.
pub fn print_engine_help(e: &EngineError) {
    if let Some(h) = help_for(e) {
        eprintln!("  help: {h}");
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    all[start..].join("\n")
}

/// Prints why applying stopped.
pub fn print_apply_error(e: &ApplyError) {
    match e {
        ApplyError::Engine {
            context,
            service,
            error,
        } => {
            match service {
                Some(s) => eprintln!("error: service `{s}`: {context}: {error}"),
                None => eprintln!("error: {context}: {error}"),
            }
            if let Some(h) = help_for(error) {
                eprintln!("  help: {h}");
            }
        }
        ApplyError::Build { service, error } => {
            eprintln!("error: the build of service `{service}` failed: {error}");
            if let EngineError::BuildFailed { output, .. } = error
                && !output.trim().is_empty()
            {
                eprintln!("  its last output:");
                for line in tail(output, 20).lines() {
                    eprintln!("  | {line}");
                }
            }
        }
        ApplyError::PreBuild { output, .. } => {
            eprintln!("error: {e}");
            if !output.trim().is_empty() {
                eprintln!("  its output:");
                for line in tail(output, 20).lines() {
                    eprintln!("  | {line}");
                }
            }
        }
        ApplyError::Cancelled { .. } => eprintln!("error: {e}"),
        ApplyError::Dependency { output, .. } | ApplyError::NotReady { output, .. } => {
            eprintln!("error: {e}");
            if let Some(out) = output {
                eprintln!("  its last health check said:");
                for line in tail(out, 10).lines() {
                    eprintln!("  | {line}");
                }
            }
        }
        ApplyError::Reconcile(r) => {
            eprintln!("error: {r}");
            if let Some(h) = r.help() {
                eprintln!("  help: {h}");
            }
        }
    }
}
