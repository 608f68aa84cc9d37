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
    let cwd = std::env::current_dir().map_err(stackr_host::HostError::WorkingDirectory)?;
    let first = inputs
        .first()
        .map(|i| cwd.join(&i.path))
        .unwrap_or_else(|| cwd.clone());
    // compose's variables: the shell over `.env` beside the first compose file, or over the
    // `--env-file`s.
    let (vars, warnings) =
        stackr_host::files::variables(&cwd, std::slice::from_ref(&first), &global.env_files)
            .map_err(stackr_host::HostError::Variables)?;
    eprint!("{}", out.diagnostics(&warnings));
    let stack_file = match &args.output {
        Some(p) => cwd.join(p),
        None => first.parent().unwrap_or(&cwd).join("stack.kdl"),
    };
    let reader = stackr_host::files::DiskReader { cwd: cwd.clone() };
    let opts = stackr_import::Options {
        target,
        vars,
        reader: &reader,
        stack_file: Some(stack_file.clone()),
        cwd: cwd.clone(),
        host: &stackr_host::files::host_checks,
    };
    let mut imported = stackr_import::import_with(&inputs, &opts);
    let env = env_for(
        &cwd,
        &first,
        &stack_file,
        &global.env_files,
        args.output.is_some(),
    );
    if let EnvFile::Different { from } = &env {
        imported.items.push(stackr_import::ReportItem::general(
            "the stack file",
            ".env",
            format!(
                "`{}` holds other variables than the compose file's `.env`: run stackr with `--env-file {}`",
                stack_file.with_file_name(".env").display(),
                from.display()
            ),
        ));
    }
    if let EnvFile::Given(files) = &env {
        let list: Vec<String> = files
            .iter()
            .map(|f| format!("--env-file {}", f.display()))
            .collect();
        imported.items.push(stackr_import::ReportItem::general(
            "the stack file",
            ".env",
            format!(
                "the variables came from the env files given: run stackr with `{}` too",
                list.join(" ")
            ),
        ));
    }
    eprint!("{}", out.diagnostics(&imported.diagnostics));
    let json = matches!(args.format, crate::cli::PlanFormat::Json);
    if !json && !imported.items.is_empty() {
        eprintln!("not carried over, or changed in meaning (also written as comments):");
        for item in &imported.items {
            eprintln!(
                "  {}",
                stackr_spec::source::escape_for_terminal(&item.to_string())
            );
        }
    }
    let written = if imported.has_errors() {
        None
    } else {
        write_output(args, &imported, &env, json)?
    };
    if json {
        println!("{}", report_json(&imported, written.as_deref()));
    }
    if imported.has_errors() {
        return Err(CliError::ImportFailed);
    }
    Ok(ExitStatus::Success)
}

/// What the stack file needs of the compose file's `.env` where it is written.
enum EnvFile {
    /// Nothing to do: no `.env`, or the stack file goes beside it, or the same file is there.
    Nothing,
    /// Copy it beside the stack file.
    Copy { from: PathBuf, to: PathBuf },
    /// Another `.env` is there already.
    Different { from: PathBuf },
    /// `--env-file` named the variables' files.
    Given(Vec<PathBuf>),
}

fn env_for(
    cwd: &Path,
    first: &Path,
    stack_file: &Path,
    env_files: &[PathBuf],
    writing: bool,
) -> EnvFile {
    if !env_files.is_empty() {
        return EnvFile::Given(env_files.to_vec());
    }
    let (Some(from_dir), Some(to_dir)) = (first.parent(), stack_file.parent()) else {
        return EnvFile::Nothing;
    };
    let from = from_dir.join(".env");
    let to = to_dir.join(".env");
    if !writing || from_dir == to_dir || !from.is_file() {
        return EnvFile::Nothing;
    }
    match (std::fs::read(&from), std::fs::read(&to)) {
        (Ok(_), Err(_)) => EnvFile::Copy { from, to },
        (Ok(a), Ok(b)) if a == b => EnvFile::Nothing,
        _ => EnvFile::Different {
            from: from
                .strip_prefix(cwd)
                .map_or(from.clone(), Path::to_path_buf),
        },
    }
}

/// Writes the stack file (and the `.env` it needs); the path written, or `None` on standard
/// output.
fn write_output(
    args: &ImportArgs,
    imported: &stackr_import::Imported,
    env: &EnvFile,
    json: bool,
) -> Result<Option<PathBuf>, CliError> {
    let Some(path) = &args.output else {
        if !json {
            print!("{}", imported.kdl);
        }
        return Ok(None);
    };
    if path.exists() && !args.force {
        return Err(CliError::Exists { path: path.clone() });
    }
    std::fs::write(path, &imported.kdl).map_err(|error| CliError::Write {
        path: path.clone(),
        error,
    })?;
    if let EnvFile::Copy { from, to } = env {
        std::fs::copy(from, to).map_err(|error| CliError::Write {
            path: to.clone(),
            error,
        })?;
        eprintln!("copied {} beside it: the stack's variables", from.display());
    }
    eprintln!(
        "wrote {}: check it with `stackr -f {} check`",
        path.display(),
        path.display()
    );
    Ok(Some(path.clone()))
}

/// `import --format json`: the report as data.
fn report_json(imported: &stackr_import::Imported, written: Option<&Path>) -> String {
    let items: Vec<serde_json::Value> = imported
        .items
        .iter()
        .map(|i| {
            serde_json::json!({
                "file": (!i.file.is_empty()).then_some(&i.file),
                "line": (i.line > 0).then_some(i.line),
                "column": (i.column > 0).then_some(i.column),
                "place": i.place,
                "key": i.key,
                "message": i.message,
            })
        })
        .collect();
    let errors: Vec<serde_json::Value> = imported
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| {
            let at = d.position();
            serde_json::json!({
                "file": at.map(|(f, _, _)| f),
                "line": at.map(|(_, l, _)| l),
                "column": at.map(|(_, _, c)| c),
                "code": d.problem.code(),
                "message": d.to_string(),
                "help": d.help,
            })
        })
        .collect();
    let v = serde_json::json!({
        "written": written.map(|p| p.display().to_string()),
        "kdl": (written.is_none() && !imported.has_errors()).then_some(&imported.kdl),
        "not_carried_over": items,
        "errors": errors,
    });
    serde_json::to_string_pretty(&v).unwrap_or_default()
}
