//! How a command ends: an [`ExitStatus`] (uv's is the model), or a [`CliError`] with the facts,
//! rendered once at the edge (`report.rs`) and turned into its status.

use std::path::PathBuf;

use stackr_engine::EngineError;
use stackr_host::HostError;
use stackr_ops::OpError;
use stackr_reconcile::apply::ApplyError;
use thiserror::Error;

/// The exit status of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// It did what was asked.
    Success,
    /// It could not: an invalid stack, a failed engine call, a failed operation.
    Failure,
    /// `plan --detailed-exitcode`: the plan has changes.
    Changes,
    /// The arguments are wrong (clap's own errors exit 2 too).
    Usage,
    /// Stopped by Ctrl-C.
    Interrupted,
    /// A container's exit code (`run`, `exec`, `up --exit-code-from`).
    Container(i64),
}

impl ExitStatus {
    /// The process's exit code.
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Changes | ExitStatus::Usage => 2,
            ExitStatus::Interrupted => 130,
            ExitStatus::Container(c) => u8::try_from(c).unwrap_or(1),
        }
    }

    /// Success when nothing failed, else failure.
    pub fn from_failures(failed: usize) -> ExitStatus {
        if failed == 0 {
            ExitStatus::Success
        } else {
            ExitStatus::Failure
        }
    }
}

/// Why a command failed: the facts; the text is in `#[error]`, the help in
/// [`CliError::help`], the rendering in `report.rs`.
#[derive(Debug, Error)]
pub enum CliError {
    #[error(transparent)]
    Host(#[from] HostError),
    #[error(transparent)]
    Op(Box<OpError>),
    #[error(transparent)]
    Apply(Box<ApplyError>),
    #[error("{}{error}", service.as_ref().map(|s| format!("service `{s}`: ")).unwrap_or_default())]
    Engine {
        service: Option<String>,
        error: EngineError,
    },
    #[error(transparent)]
    Session(#[from] stackr_watch::session::SessionError),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("`{flag} {arg}`: {reason}")]
    Usage {
        flag: &'static str,
        arg: String,
        reason: String,
    },
    /// A flag's value that names something the stack does not have.
    #[error("`{flag} {arg}`: {reason}")]
    FlagValue {
        flag: &'static str,
        arg: String,
        reason: String,
    },
    /// A command or flag that has no meaning on the Swarm target.
    #[error("{what} is not available on the Swarm target: {reason}")]
    NotOnSwarm { what: String, reason: String },
    /// Arguments that do not go together, with the way they are written.
    #[error("{message}")]
    BadArguments { message: String, help: String },
    #[error("`{container}` publishes no host port for {port}/{protocol}")]
    NoPublishedPort {
        container: String,
        port: u16,
        protocol: String,
    },
    #[error("no stack file: stackr cannot know the secret values of stack `{stack}` to mask them")]
    CannotMask { stack: String },
    #[error("cannot read `{}`: {error}", path.display())]
    Read {
        path: PathBuf,
        error: stackr_spec::ReadError,
    },
    #[error("cannot write `{}`: {error}", path.display())]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("`{}` exists", path.display())]
    Exists { path: PathBuf },
    #[error("the compose files have errors: nothing written")]
    ImportFailed,
    #[error("cannot write JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A message of a command that has no more facts than its text.
    #[error("{message}")]
    Other {
        message: String,
        help: Option<String>,
    },
}

impl From<OpError> for CliError {
    fn from(e: OpError) -> Self {
        CliError::Op(Box::new(e))
    }
}

impl From<ApplyError> for CliError {
    fn from(e: ApplyError) -> Self {
        CliError::Apply(Box::new(e))
    }
}

impl From<EngineError> for CliError {
    fn from(error: EngineError) -> Self {
        CliError::Engine {
            service: None,
            error,
        }
    }
}

impl CliError {
    /// The exit status it gives.
    pub fn status(&self) -> ExitStatus {
        match self {
            CliError::Usage { .. }
            | CliError::BadArguments { .. }
            | CliError::NotOnSwarm { .. } => ExitStatus::Usage,
            CliError::Op(e) if matches!(**e, OpError::Interrupted) => ExitStatus::Interrupted,
            _ => ExitStatus::Failure,
        }
    }

    /// What to do about it, when there is a clear way out.
    pub fn help(&self) -> Option<String> {
        match self {
            CliError::Host(h) => h.help(),
            CliError::CannotMask { .. } => Some(
                "run it where the stack file is, or pass `--no-mask` to show the logs as they are"
                    .into(),
            ),
            CliError::Exists { .. } => Some("pass `--force` to overwrite it".into()),
            CliError::Other { help, .. } => help.clone(),
            CliError::BadArguments { help, .. } => Some(help.clone()),
            CliError::NotOnSwarm { .. } => Some(
                "run it on the engine target (`--target engine`), or use `docker service` for the swarm's own view".into(),
            ),
            _ => None,
        }
    }
}

/// What a command returns.
pub type CmdResult = Result<ExitStatus, CliError>;
