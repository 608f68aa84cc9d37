//! The one place errors and warnings are written for people: a [`CliError`] (or an operation's,
//! an engine's, the host's) as `error:` lines with their help and the output that explains
//! them, without colour so that they read the same in a log.

use stackr_engine::EngineError;
use stackr_host::{HostError, HostWarning};
use stackr_ops::text::Text;

use crate::render::Output;
use crate::status::CliError;

/// Writes an error to stderr.
pub fn error(e: &CliError, out: &Output) {
    eprint!("{}", error_text(e, out));
}

/// Writes an engine error about a service to stderr.
pub fn engine(service: Option<&str>, e: &EngineError) {
    eprintln!("{}", stackr_ops::text::engine_error(service, e));
}

/// Writes a warning of the host's to stderr.
pub fn host_warning(w: &HostWarning) {
    eprintln!("warning: {w}");
    if let Some(h) = w.help() {
        eprintln!("  help: {h}");
    }
}

/// The text of an error, every line ended.
pub fn error_text(e: &CliError, out: &Output) -> String {
    let mut t = Text::default();
    match e {
        CliError::Host(HostError::Variables(diagnostics)) => {
            t.raw(&out.diagnostics(diagnostics));
        }
        // One line per problem of the file, then the help once.
        CliError::Host(
            h @ HostError::EnvFile {
                path,
                service,
                lines,
            },
        ) => {
            for l in lines {
                t.line(&format!(
                    "error: env file `{}` of service `{service}`: {l}",
                    path.display()
                ));
            }
            t.help(h.help().as_deref());
        }
        CliError::Session(stackr_watch::session::SessionError::Engine(error)) => {
            t.line(&stackr_ops::text::engine_error(None, error));
        }
        CliError::Op(op) => t.raw(&stackr_ops::text::op_error(op)),
        CliError::Apply(a) => t.raw(&stackr_ops::text::apply_error(a)),
        CliError::Engine { service, error } => {
            t.line(&stackr_ops::text::engine_error(service.as_deref(), error));
        }
        _ => {
            t.error(e);
            t.help(e.help().as_deref());
        }
    }
    t.0
}
