//! The Swarm target: the same stack as Docker Swarm services, on an engine that manages a
//! swarm. Swarm schedules the containers itself, so this target describes services (the
//! desired state per service, not per container: `desired`), observes services, tasks and
//! nodes (`observe`), compares them in a pure plan (`plan`) and applies it in dependency
//! order, which Swarm does not know (`apply`): a dependent is created or updated only once
//! its dependencies' tasks meet their condition. It shares with the engine target the
//! validated `Stack`, the declared-fields hash and the field-level diff.

pub mod apply;
pub mod desired;
pub mod lock;
pub mod observe;
pub mod plan;
pub mod ready;
pub mod text;

use stackr_engine::EngineError;
use thiserror::Error;

/// What can go wrong on the Swarm target.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SwarmError {
    #[error("the engine at {endpoint} is not part of a swarm")]
    NotASwarm { endpoint: String },
    #[error("the engine at {endpoint} is a swarm worker; services are managed on a manager")]
    NotAManager { endpoint: String },
    #[error("service `{service}`: {what}")]
    Unsupported {
        service: String,
        what: String,
        help: String,
    },
    #[error(
        "a service has a native `http` or `tcp` check, and no image of the stack names a registry that every node reaches for stackr's probe runner"
    )]
    ProbeNeedsRegistry,
    #[error("{context}: {error}")]
    Engine { context: String, error: EngineError },
    #[error("service `{service}` failed: {reason}")]
    ServiceFailed { service: String, reason: String },
    #[error("service `{service}`: the update failed and Swarm rolled it back: {message}")]
    RolledBack { service: String, message: String },
    #[error("service `{service}`: the update failed and Swarm paused it: {message}")]
    UpdatePaused { service: String, message: String },
    #[error("interrupted: the next `stackr up` picks up where this one stopped")]
    Interrupted,
    #[error("{0}")]
    Internal(String),
}

impl SwarmError {
    /// What the user can do about it.
    pub fn help(&self) -> Option<String> {
        match self {
            SwarmError::NotASwarm { .. } => Some(
                "run `docker swarm init` on the engine (or point DOCKER_HOST at a manager), or deploy with `--target engine`".into(),
            ),
            SwarmError::NotAManager { .. } => {
                Some("point DOCKER_HOST at a manager of the swarm".into())
            }
            SwarmError::Unsupported { help, .. } => Some(help.clone()),
            SwarmError::ProbeNeedsRegistry => Some(
                "give a service an image in a registry (`image \"REGISTRY:PORT/NAME:TAG\"`): stackr pushes its probe runner there, or use an `exec` check".into(),
            ),
            SwarmError::RolledBack { .. } | SwarmError::UpdatePaused { .. } => Some(
                "`stackr ps` shows its tasks and why they failed; fix the stack and run `up` again".into(),
            ),
            SwarmError::ServiceFailed { .. } => {
                Some("`stackr ps` shows its tasks, `stackr logs SERVICE` what they wrote".into())
            }
            _ => None,
        }
    }

    pub(crate) fn engine(context: impl Into<String>) -> impl FnOnce(EngineError) -> SwarmError {
        let context = context.into();
        move |error| SwarmError::Engine { context, error }
    }
}
