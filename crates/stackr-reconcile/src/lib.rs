//! Reconciling: from a [`stackr_spec::Stack`] and what the engine runs to a [`plan::Plan`]
//! (pure), and the plan applied ([`apply`], idempotent: applying a converged stack does
//! nothing).
//!
//! - [`desired`]: the one place where a service becomes a container spec.
//! - [`plan`]: desired vs observed, with field-level reasons.
//! - [`hash`]: the recreate decision's hash, over declared fields only.
//! - [`apply`]: runs a plan with as much parallelism as the dependencies allow, learning
//!   conditions from the engine's event stream.
//! - [`observe`]: reads what the engine runs for a stack.
//! - [`lock`]: one run per stack at a time.
//! - [`prestart`]: `pre-start` hooks, in containers of their own before a service starts.
//! - [`recovery`]: containers that come back by themselves wait for their dependencies.

pub mod apply;
pub mod desired;
pub mod hash;
pub mod hooks;
pub mod lock;
pub mod observe;
pub mod plan;
pub mod prestart;
pub mod problem;
pub mod recovery;
pub mod rollout;
pub mod steps;

use thiserror::Error;

/// Why a stack cannot be reconciled.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReconcileError {
    #[error("service `{service}` uses {what}, which `up` does not support yet")]
    Unsupported {
        service: String,
        what: String,
        help: String,
    },
    #[error(
        "service `{service}` uses external secret `{secret}`: external secrets need a Swarm, and this is a single engine"
    )]
    ExternalSecret { service: String, secret: String },
    #[error("{0}")]
    Internal(String),
}

impl ReconcileError {
    /// What the user can do about it.
    pub fn help(&self) -> Option<String> {
        match self {
            ReconcileError::Unsupported { help, .. } => Some(help.clone()),
            ReconcileError::ExternalSecret { .. } => Some(
                "give the secret a source on this machine (`file=` or `env=`) in the profile you deploy with".into(),
            ),
            ReconcileError::Internal(_) => None,
        }
    }
}
