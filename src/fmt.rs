//! `stackr fmt`: stack files in the canonical layout (`stackr_spec::format`).

use std::io::Write;
use std::path::Path;

use crate::cli::{FmtArgs, Global};
use crate::render::Output;
use crate::status::{CliError, CmdResult, ExitStatus};

/// Formats each file in place, or with `--check` names those that are not formatted.
pub fn fmt_cmd(global: &Global, args: &FmtArgs, out: &Output) -> CmdResult {
    let cwd = std::env::current_dir().map_err(stackr_host::HostError::WorkingDirectory)?;
    let files = if args.files.is_empty() {
        stackr_host::files::stack_files(&cwd, &global.file_args())?
    } else {
        args.files.iter().map(|p| cwd.join(p)).collect()
    };
    let mut unformatted = 0usize;
    for path in &files {
        let text = stackr_host::files::read_text(path).map_err(|error| CliError::Read {
            path: path.clone(),
            error,
        })?;
        let Some(formatted) = stackr_spec::format::format(&text) else {
            return Err(not_kdl(path, &text, out));
        };
        if formatted == text {
            continue;
        }
        if args.check {
            unformatted += 1;
            let line = first_difference(&text, &formatted);
            eprintln!("{}: not formatted (from line {line})", path.display());
        } else {
            std::fs::write(path, &formatted).map_err(|error| CliError::Write {
                path: path.clone(),
                error,
            })?;
            eprintln!("formatted {}", path.display());
        }
    }
    if unformatted > 0 {
        return Err(CliError::Other {
            message: format!(
                "{} not laid out canonically",
                stackr_spec::count(unformatted, "stack file")
            ),
            help: Some("run `stackr fmt` to lay it out".into()),
        });
    }
    Ok(ExitStatus::Success)
}

/// The 1-based number of the first line that differs.
fn first_difference(a: &str, b: &str) -> usize {
    a.lines()
        .zip(b.lines())
        .position(|(x, y)| x != y)
        .unwrap_or_else(|| a.lines().count().min(b.lines().count()))
        + 1
}

/// A file that is not KDL: its parse errors, shown as `check` shows them.
fn not_kdl(path: &Path, text: &str, out: &Output) -> CliError {
    let name = path.display().to_string();
    let loaded = stackr_spec::load_str(&name, text, &stackr_spec::Options::default());
    let _ = write!(
        std::io::stderr().lock(),
        "{}",
        out.diagnostics(&loaded.diagnostics)
    );
    CliError::Other {
        message: format!("`{name}` is not valid KDL: nothing was formatted"),
        help: Some("fix the syntax errors above, then run `stackr fmt` again".into()),
    }
}
