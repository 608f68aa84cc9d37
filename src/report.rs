//! The one place errors and warnings are written for people: a [`CliError`] (or an operation's,
//! an engine's, the host's) as `error:` lines with their help and the output that explains
//! them, without colour so that they read the same in a log.

use stackr_engine::EngineError;
use stackr_host::{HostError, HostWarning};
use stackr_ops::OpError;
use stackr_reconcile::apply::ApplyError;
use stackr_reconcile::lock::LockError;

use crate::render::Output;
use crate::status::{CliError, engine_help};

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
            for d in diagnostics {
                t.raw(&out.diagnostic(d));
            }
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
            engine_error(&mut t, None, error);
        }
        CliError::Op(op) => op_error(&mut t, op),
        CliError::Apply(a) => apply_error(&mut t, a),
        CliError::Engine { error, .. } => {
            t.error(e);
            t.help(engine_help(error));
        }
        _ => {
            t.error(e);
            t.help(e.help().as_deref());
        }
    }
    t.0
}

/// Lines of text.
#[derive(Default)]
struct Text(String);

impl Text {
    fn line(&mut self, l: &str) {
        self.0.push_str(l);
        self.0.push('\n');
    }

    fn raw(&mut self, s: &str) {
        self.0.push_str(s);
    }

    fn error(&mut self, e: &dyn std::fmt::Display) {
        self.line(&format!("error: {e}"));
    }

    fn help(&mut self, h: Option<&str>) {
        if let Some(h) = h {
            self.line(&format!("  help: {h}"));
        }
    }

    /// The last `n` lines of some output, quoted.
    fn quoted(&mut self, title: &str, output: &str, n: usize) {
        if output.trim().is_empty() {
            return;
        }
        self.line(&format!("  {title}:"));
        let all: Vec<&str> = output.lines().collect();
        for l in &all[all.len().saturating_sub(n)..] {
            self.line(&format!("  | {l}"));
        }
    }
}

fn op_error(t: &mut Text, e: &OpError) {
    match e {
        OpError::Plan { problems, .. } => {
            for p in problems {
                t.error(p);
                t.help(p.help().as_deref());
            }
        }
        OpError::Lock(l @ LockError::Busy { .. }) => {
            t.error(l);
            t.help(Some(
                "wait for it to finish, or stop it; two runs on one stack at once would fight over its containers",
            ));
        }
        OpError::Pull { service, error, .. } => engine_error(t, Some(service), error),
        OpError::Apply(a) => apply_error(t, a),
        OpError::Engine { error, .. } => {
            t.error(e);
            t.help(engine_help(error));
        }
        OpError::Interrupted => t.line(&e.to_string()),
        OpError::NoContainer { .. } => {
            t.error(e);
            t.help(Some("is the stack up? `stackr ps -a` lists its containers"));
        }
        OpError::Lock(_) | OpError::UnknownService { .. } => t.error(e),
    }
}

fn engine_error(t: &mut Text, service: Option<&str>, e: &EngineError) {
    t.line(&stackr_ops::text::engine_error(service, e));
}

fn apply_error(t: &mut Text, e: &ApplyError) {
    match e {
        ApplyError::Engine {
            context,
            service,
            error,
        } => {
            match service {
                Some(s) => t.line(&format!("error: service `{s}`: {context}: {error}")),
                None => t.line(&format!("error: {context}: {error}")),
            }
            t.help(engine_help(error));
        }
        ApplyError::Build { error, .. } => {
            t.error(e);
            if let EngineError::BuildFailed { output, .. } = error {
                t.quoted("its last output", output, 20);
            }
        }
        ApplyError::PreBuild { output, .. } => {
            t.error(e);
            t.quoted("its output", output, 20);
        }
        ApplyError::Cancelled { .. } => t.error(e),
        ApplyError::Dependency { output, .. } | ApplyError::NotReady { output, .. } => {
            t.error(e);
            if let Some(out) = output {
                t.quoted("its last health check said", out, 10);
            }
        }
        ApplyError::Reconcile(r) => {
            t.error(r);
            t.help(r.help().as_deref());
        }
    }
}
