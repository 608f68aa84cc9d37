//! One run per stack per engine: the lock lives on the engine itself, so it holds whatever
//! address, user, temp directory or machine each client reaches the engine from.
//!
//! The lock is a container named `stackr-lock-{stack}`: the engine lets one container only
//! hold a name, so creating it is the atomic test-and-set. It runs stackr's probe runner
//! (`probe hold`, from a one-file image imported from the probe binary), which lives until its
//! input ends; the holder keeps the input attached (`StdinOnce`), so when the holder goes, by
//! `kill -9` or a lost machine included, the engine closes the input, the container exits and
//! removes itself (`AutoRemove`): a holder that dies releases the lock.
//!
//! A lock container that never started (its holder died between create and start) or that
//! exited without being removed is stale: a waiter that sees it so for a while removes it.
//! The container carries no `io.stackr.stack` label, so nothing of the stack lists it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use stackr_engine::{
    ContainerSpec, ContainerState, Engine, EngineError, Held, LABEL_LOCK, LABEL_LOCK_HOLDER,
};
use thiserror::Error;

use crate::apply::ProbeRunner;

/// Why the lock was not taken.
#[derive(Debug, Error)]
pub enum LockError {
    #[error("another stackr run holds stack `{stack}`{}", holder.as_ref().map(|h| format!(" ({h})")).unwrap_or_default())]
    Busy {
        stack: String,
        holder: Option<String>,
    },
    #[error("cannot take the lock of stack `{stack}` on the engine: {error}")]
    Engine { stack: String, error: EngineError },
}

/// A held lock; [`StackLock::release`] or dropping it frees it, as soon as the engine sees the
/// connection close.
#[derive(Debug)]
pub struct StackLock {
    held: Option<Held>,
    /// The lock container's id.
    pub id: String,
    stack: String,
}

/// The name of a stack's lock container.
pub fn lock_name(stack: &str) -> String {
    format!("stackr-lock-{stack}")
}

/// How long a lock container may stay not running before a waiter takes it for stale.
const STALE_AFTER: Duration = Duration::from_secs(3);

impl StackLock {
    /// Takes the lock of `stack`, waiting up to `wait` for another run to end, and starts its
    /// container (a holder that dies from here on releases it). `holder` says who asks (shown
    /// to the runs that wait for it).
    pub async fn acquire<E: Engine>(
        engine: &E,
        stack: &str,
        probe: &ProbeRunner,
        holder: &str,
        wait: Duration,
    ) -> Result<StackLock, LockError> {
        let lock = Self::take(engine, stack, probe, holder, wait).await?;
        if let Err(e) = lock.start(engine).await {
            lock.release(engine).await;
            return Err(e);
        }
        Ok(lock)
    }

    /// [`StackLock::acquire`] without the start: the name is held.
    ///
    /// Starting the lock beside the work instead of before it was tried (it saves the start's
    /// few hundred milliseconds): the kill trials then found containers stopped after the next
    /// `up` converged, by a dead run's `stop` still in flight. Kept sequential.
    async fn take<E: Engine>(
        engine: &E,
        stack: &str,
        probe: &ProbeRunner,
        holder: &str,
        wait: Duration,
    ) -> Result<StackLock, LockError> {
        let fail = |error| LockError::Engine {
            stack: stack.to_string(),
            error,
        };
        ensure_image(engine, probe).await.map_err(fail)?;
        let spec = lock_spec(stack, &probe.image, holder);
        let start = Instant::now();
        let mut not_running_since: Option<Instant> = None;
        loop {
            match engine.create_container(&spec).await.map(|c| c.id) {
                Ok(id) => return hold(engine, id, stack).await.map_err(fail),
                Err(EngineError::Conflict { .. }) => {}
                Err(e) => return Err(fail(e)),
            }
            let current = engine.inspect_container(&spec.name).await.map_err(fail)?;
            let Some(current) = current else {
                // Released in the meantime.
                continue;
            };
            if current.state == ContainerState::Running {
                not_running_since = None;
            } else {
                let since = *not_running_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= STALE_AFTER {
                    match engine.remove_container(&current.id).await {
                        Ok(()) | Err(EngineError::NotFound { .. }) => {}
                        Err(e) => return Err(fail(e)),
                    }
                    not_running_since = None;
                    continue;
                }
            }
            // A lock container that is not running is waited out until it counts as stale,
            // whatever `wait` is: only a live holder makes the lock busy.
            if start.elapsed() >= wait && current.state == ContainerState::Running {
                return Err(LockError::Busy {
                    stack: stack.to_string(),
                    holder: current.labels.get(LABEL_LOCK_HOLDER).cloned(),
                });
            }
            // Soon at first (a holder that just released is gone in milliseconds), then less
            // often.
            let waited = start.elapsed().as_millis().min(1000) as u64;
            tokio::time::sleep(Duration::from_millis(20 + waited / 10)).await;
        }
    }

    /// Starts the lock's container, so that if this run dies, the engine closes its input
    /// and the container goes: the lock is released.
    fn start<'a, E: Engine>(
        &self,
        engine: &'a E,
    ) -> impl Future<Output = Result<(), LockError>> + Send + 'a {
        // What the start needs, not the lock itself (its held connection is not `Sync`).
        let (id, stack) = (self.id.clone(), self.stack.clone());
        async move {
            engine
                .start_container(&id)
                .await
                .map_err(|error| LockError::Engine { stack, error })
        }
    }

    /// Frees the lock now: the connection closes and the lock's container is removed, so that
    /// a run right after this one finds the name free (left to the engine alone, the container
    /// takes long enough to go that the next run has to wait for it).
    /// Whether the stack's lock is there but its holder is gone (its container no longer
    /// runs): a killed run, whose engine calls may still be under way.
    pub async fn left_by_a_dead_run<E: Engine>(
        engine: &E,
        stack: &str,
    ) -> Result<bool, EngineError> {
        let found = engine.inspect_container(&lock_name(stack)).await?;
        Ok(found.is_some_and(|c| c.state != ContainerState::Running))
    }

    pub async fn release<E: Engine>(mut self, engine: &E) {
        self.held = None;
        let _ = engine.remove_container(&self.id).await;
    }
}

/// Attaches to the created lock container; a failure removes it again. The lock is held from
/// here (the name is taken); [`StackLock::start`] makes a holder that dies release it.
async fn hold<E: Engine>(engine: &E, id: String, stack: &str) -> Result<StackLock, EngineError> {
    match engine.hold_input(&id).await {
        Ok(held) => Ok(StackLock {
            held: Some(held),
            id,
            stack: stack.to_string(),
        }),
        Err(e) => {
            let _ = engine.remove_container(&id).await;
            Err(e)
        }
    }
}

/// The image the lock container runs: the probe runner alone, imported when missing.
async fn ensure_image<E: Engine>(engine: &E, probe: &ProbeRunner) -> Result<(), EngineError> {
    if engine.inspect_image(&probe.image).await?.is_some() {
        return Ok(());
    }
    let tar = stackr_engine::context::single_file_tar("probe", probe.binary, 0o755)?;
    engine.import_image(tar, &probe.image).await.map(|_| ())
}

fn lock_spec(stack: &str, image: &str, holder: &str) -> ContainerSpec {
    ContainerSpec {
        name: lock_name(stack),
        image: image.to_string(),
        labels: BTreeMap::from([
            (LABEL_LOCK.to_string(), stack.to_string()),
            (LABEL_LOCK_HOLDER.to_string(), holder.to_string()),
        ]),
        entrypoint: Some(vec!["/probe".into(), "hold".into()]),
        stdin_open: true,
        stdin_once: true,
        // Not removed when its holder dies: an exited lock tells the next run that a run was
        // killed, whose engine calls (a stop, say) may still be under way; that run waits it
        // out as stale before it plans. `release` removes it.
        auto_remove: false,
        network_mode: Some("none".into()),
        restart: "no".into(),
        ..ContainerSpec::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stackr_engine::fake::FakeEngine;

    fn probe() -> ProbeRunner {
        ProbeRunner {
            volume: "stackr-probe-test".into(),
            image: "stackr-probe:test".into(),
            binary: b"probe",
        }
    }

    #[tokio::test]
    async fn a_second_holder_waits_then_fails_and_a_dropped_lock_is_free() {
        let engine = FakeEngine::new();
        let first = StackLock::acquire(&engine, "shop", &probe(), "pid 1 on a", Duration::ZERO)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let second = StackLock::acquire(
            &engine,
            "shop",
            &probe(),
            "pid 2 on b",
            Duration::from_millis(250),
        )
        .await;
        match second {
            Err(LockError::Busy { stack, holder }) => {
                assert_eq!(stack, "shop");
                assert_eq!(holder.as_deref(), Some("pid 1 on a"));
            }
            other => panic!("expected Busy, got {other:?}"),
        }
        // Another stack is not blocked.
        let other = StackLock::acquire(&engine, "other", &probe(), "pid 2 on b", Duration::ZERO)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        // A holder that goes (as a killed one does: its connection closes) frees the lock.
        drop(first);
        let again = StackLock::acquire(&engine, "shop", &probe(), "pid 2 on b", Duration::ZERO)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        again.release(&engine).await;
        other.release(&engine).await;
        assert!(engine.container_states().is_empty());
    }

    #[tokio::test]
    async fn a_lock_container_that_never_started_is_taken_over() {
        let engine = FakeEngine::new();
        engine.add_image("stackr-probe:test");
        // A holder killed between create and start leaves it created.
        let stale = lock_spec("shop", "stackr-probe:test", "pid 1 on a");
        engine
            .create_container(&stale)
            .await
            .map(|c| c.id)
            .unwrap_or_else(|e| panic!("{e}"));
        let lock = StackLock::acquire(
            &engine,
            "shop",
            &probe(),
            "pid 2 on b",
            Duration::from_secs(10),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        lock.release(&engine).await;
    }
}
