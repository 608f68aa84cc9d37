//! The machine stackr runs on, read for a command: which stack files to load (`-f`, or
//! `stack.kdl` in the nearest parent), the variables for interpolation (the shell over the
//! env files), loading through the disk, the host checks (build contexts, env files, secret
//! files and bind sources exist), and what the operations need from this machine: the env
//! files services name and the secret values ([`inputs`]); and `cp`'s packing and unpacking
//! of host paths ([`archive`]).
//!
//! It reads files and the environment, and nothing else: no engine, no terminal. What it
//! finds wrong is a [`HostError`] or a [`HostWarning`] with the facts; the binary renders them.

pub mod archive;
pub mod files;
pub mod inputs;
pub mod load;

use std::path::PathBuf;

use stackr_spec::count;
use thiserror::Error;

/// Why the machine's side of a command cannot go on.
#[derive(Debug, Error)]
pub enum HostError {
    #[error("cannot read the working directory: {0}")]
    WorkingDirectory(std::io::Error),
    #[error("no stack.kdl in {} or any parent directory", dir.display())]
    NoStackFile { dir: PathBuf },
    /// The env files for variables cannot be read (the diagnostics say where).
    #[error("the env files cannot be read")]
    Variables(Vec<stackr_spec::Diagnostic>),
    /// The stack has errors (its diagnostics were returned with it).
    #[error("{files} is invalid: {}", count(*errors, "error"))]
    Invalid { files: String, errors: usize },
    #[error("secret `{name}`: cannot read `{}`: {error}", path.display())]
    SecretFile {
        name: String,
        path: PathBuf,
        error: stackr_spec::ReadError,
    },
    #[error("secret `{name}`: the variable `{var}` is not set")]
    SecretVariable { name: String, var: String },
    #[error("config `{name}`: cannot read `{}`: {error}", path.display())]
    ConfigFile {
        name: String,
        path: PathBuf,
        error: stackr_spec::ReadError,
    },
    #[error("cannot read env file `{}` of service `{service}`: {error}", path.display())]
    EnvFileRead {
        path: PathBuf,
        service: String,
        error: stackr_spec::ReadError,
    },
    #[error("env file `{}` of service `{service}`: {}", path.display(), lines.join("; "))]
    EnvFile {
        path: PathBuf,
        service: String,
        lines: Vec<String>,
    },
}

impl HostError {
    /// What to do about it.
    pub fn help(&self) -> Option<String> {
        Some(match self {
            HostError::NoStackFile { .. } => {
                "create a stack.kdl, or name one with `-f PATH`".into()
            }
            HostError::SecretFile { .. } => {
                "nothing was changed; create the file, or point `file=` at it".into()
            }
            HostError::SecretVariable { var, .. } => {
                format!("nothing was changed; export `{var}` in the shell that runs stackr")
            }
            HostError::EnvFile { .. } => {
                "env files hold `KEY=value` lines; quote values with spaces or `#`".into()
            }
            _ => return None,
        })
    }
}

/// What is worth saying but stops nothing.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HostWarning {
    #[error(
        "the file of secret `{name}` ({}) can be read by its group or others (mode {mode:o})",
        path.display()
    )]
    ReadableSecret {
        name: String,
        path: PathBuf,
        mode: u32,
    },
    #[error(
        "env file `{}` of service `{service}`: {message}: using an empty string",
        path.display()
    )]
    UnsetInEnvFile {
        path: PathBuf,
        service: String,
        message: String,
    },
}

impl HostWarning {
    /// What to do about it.
    pub fn help(&self) -> Option<String> {
        match self {
            HostWarning::ReadableSecret { path, .. } => Some(format!(
                "`chmod 600 {}`, or, for a demo value, `acknowledge=\"readable-file\"` on the secret",
                path.display()
            )),
            HostWarning::UnsetInEnvFile { .. } => None,
        }
    }
}
