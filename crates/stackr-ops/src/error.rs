//! Why an operation failed: the facts, with all text in `#[error]`.

use stackr_engine::EngineError;
use stackr_reconcile::apply::ApplyError;
use stackr_reconcile::lock::LockError;
use stackr_reconcile::plan::PlanProblem;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum OpError {
    /// The plan has errors: nothing was changed.
    #[error("the plan of stack `{stack}` has {}: nothing was changed", stackr_spec::count(problems.len(), "error"))]
    Plan {
        stack: String,
        problems: Vec<PlanProblem>,
    },
    #[error("no service `{service}` in stack `{stack}`")]
    UnknownService { stack: String, service: String },
    #[error("{context}: {error}")]
    Engine { context: String, error: EngineError },
    #[error("stack `{stack}` has no container of these services to wait for")]
    NothingToWaitFor { stack: String },
    #[error("service `{service}` has no container number {index}")]
    NoContainer { service: String, index: u32 },
    #[error("`{container}` is not running ({state})")]
    NotRunning {
        service: String,
        container: String,
        state: String,
    },
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("service `{service}`: cannot pull `{image}`: {error}")]
    Pull {
        service: String,
        image: String,
        error: EngineError,
    },
    #[error("service `{service}`: cannot push `{image}`: {error}")]
    Push {
        service: String,
        image: String,
        error: EngineError,
    },
    #[error(transparent)]
    Apply(#[from] ApplyError),
    #[error(transparent)]
    Swarm(#[from] stackr_swarm::SwarmError),
    #[error("the plan of stack `{stack}` on the swarm has {}: nothing was changed", stackr_spec::count(problems.len(), "error"))]
    SwarmPlan {
        stack: String,
        problems: Vec<stackr_swarm::plan::SwarmProblem>,
    },
    /// Stopped on request (Ctrl-C) once the engine calls in flight were answered.
    #[error("interrupted: the next `stackr up` picks up where this one stopped")]
    Interrupted,
}
