//! The operations a user runs on a stack, between the CLI and the reconciler: `up`, `plan`,
//! `down`, `stop` (dependents first), `follow` (the logs of `logs -f` and of an attached
//! `up`), `attach` (an attached `up`: its logs, stopping on an exit or on Ctrl-C), `run`
//! (a one-off container), and the commands that act on containers one by one (`act`: stop,
//! start, restart, kill, rm). Each is
//! generic over [`stackr_engine::Engine`], so that every one is tested on the fake engine as
//! well as on the daemon; each reports what it does as typed [`OpEvent`]s to a
//! sink the caller renders, and fails with a typed [`OpError`]. Nothing here prints, reads a
//! file or the environment: the caller passes what it read ([`Context`]).
//!
//! `up` is level-triggered: it plans, takes the lock only when there is something to do,
//! plans again under the lock, builds what the plan builds, then observes and plans again
//! with the same pure `plan`, so that what it applies is decided by `plan` alone from what the
//! engine has (a rebuild that gives the same image keeps its containers, because the plan
//! made after the build sees the same image id).

mod attach;
mod containers;
mod down;
mod error;
mod inventory;
mod logs;
mod ps;
mod rollback;
mod run;
mod stop;
mod swarm;
pub mod text;
mod up;
mod wait;

pub use attach::{Abort, AttachEnd, AttachOptions, attach};
pub use containers::{
    Attached, Did, Verb, act, attach_service, chosen, containers, copy_from, copy_into, known, one,
    running, top,
};
pub use down::{DownOptions, down};
pub use error::OpError;
pub use inventory::{ImageRow, StatsRow, images, stats, volumes};
pub use logs::{LogLine, MIN_MASKED, Mask, follow, follow_events, follow_with, logs};
pub use ps::{PsRow, ps, stacks};
pub use rollback::{RollbackOptions, rollback};
pub use run::{RunEnd, RunOptions, run};
pub use stop::stop;
pub use swarm::{SwarmUpOptions, TaskRow, swarm_down, swarm_logs, swarm_plan, swarm_ps, swarm_up};
pub use up::{
    Pull, ScaleError, UpOptions, build, plan, pull, push, push_list, scale, scale_arg, up,
};
pub use wait::{Exit, wait};

use stackr_reconcile::apply::{ProbeRunner, Step};
use stackr_reconcile::desired::Inputs;
use stackr_reconcile::plan::{Plan, PlanWarning};

/// What the caller read from the world for an operation: the env files and secret values
/// (`base`), the probe runner, and who it is (for the lock).
#[derive(Debug, Clone)]
pub struct Context {
    pub base: Inputs,
    pub probe: ProbeRunner,
    /// Shown to runs that wait for this one's lock, like `pid 4242 on build-7`.
    pub holder: String,
}

/// What an operation did or is doing, for the caller to render.
#[derive(Debug, Clone, PartialEq)]
pub enum OpEvent {
    /// A step of applying a plan.
    Step(Step),
    PullStarted {
        service: String,
        image: String,
    },
    PullFinished {
        service: String,
        image: String,
    },
    /// `pull` could not pull an image (the others go on).
    PullFailed {
        service: String,
        image: String,
        error: stackr_engine::EngineError,
    },
    /// The plan about to be applied (the last one made, under the lock).
    Applying {
        plan: Plan,
    },
    /// Nothing to do.
    UpToDate {
        stack: String,
        containers: usize,
    },
    /// A `pre-stop` hook failed; the stop went on.
    HookFailed {
        container: String,
        message: String,
    },
    /// `rollback`: a chosen service has no container that replaced another.
    NothingToRollBack {
        service: String,
    },
    /// A warning of the plan applied (or found to have nothing to do).
    Warning(PlanWarning),
    /// `down` kept a volume that a container of another stack uses.
    VolumeKept {
        volume: String,
    },
    /// `stop` stopped a container.
    Stopped {
        container: String,
    },
    /// An attached `up` stops the stack: `because` a container exited (with `code`), or on
    /// request (Ctrl-C) when `None`.
    StackStopping {
        because: Option<String>,
        code: Option<i32>,
    },
    /// Interrupted again while stopping: what still runs is killed.
    Killing,

    /// `stop`, `start`, `restart`, `kill` or `rm` acted on a container.
    Container {
        name: String,
        service: String,
        did: Did,
    },

    /// Swarm target: a step of applying.
    Swarm(stackr_swarm::apply::SwarmStep),
    /// Swarm target: the plan about to be applied (under the lock).
    SwarmApplying {
        plan: stackr_swarm::plan::Plan,
    },
    /// Swarm target: an image built and pushed (or stackr's probe runner pushed), as it
    /// deploys, pinned by digest.
    Pushed {
        service: String,
        image: String,
    },
    /// `push`: an image could not be pushed (with `--ignore-push-failures`, the others go on).
    PushFailed {
        service: String,
        image: String,
        error: stackr_engine::EngineError,
    },
    /// Swarm target: nothing to do.
    SwarmUpToDate {
        stack: String,
        services: usize,
    },
    /// Swarm target: `down` left these volumes on the nodes that made them.
    VolumesOnNodes {
        volumes: Vec<String>,
    },
}

/// Whether `cancel` has turned true.
pub(crate) fn is_cancelled(cancel: &Option<tokio::sync::watch::Receiver<bool>>) -> bool {
    cancel.as_ref().is_some_and(|c| *c.borrow())
}

/// Ends when `cancel` turns true; never without one (a dropped sender is no cancel).
pub(crate) async fn cancelled(cancel: Option<tokio::sync::watch::Receiver<bool>>) {
    if let Some(mut c) = cancel
        && c.wait_for(|v| *v).await.is_ok()
    {
        return;
    }
    std::future::pending::<()>().await
}

/// Where events go.
pub type Sink<'a> = &'a (dyn Fn(OpEvent) + Send + Sync);
