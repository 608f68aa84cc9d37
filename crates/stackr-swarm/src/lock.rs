//! One run per stack per swarm, whichever manager and whatever address reaches it.
//!
//! The engine target's lock is a container on the engine; a swarm has several managers, so
//! its lock is an object of the swarm itself, which every manager sees the same: a service
//! named `stackr-lock-{stack}` that runs nothing (0 replicas), whose labels say who holds it
//! and until when (a lease, in the managers' clock). Swarm updates a service only at the
//! version the update names, so taking a free or expired lock is a compare-and-swap: of two
//! runs, one wins and the other sees the new version. The holder renews the lease every
//! [`RENEW`]; a holder that died leaves a lease that runs out after [`LEASE`].

use std::collections::BTreeMap;
use std::time::Duration;

use stackr_engine::swarm::{ServiceMode, ServiceSpec, Swarm};
use stackr_engine::{EngineError, LABEL_LOCK, LABEL_LOCK_HOLDER};
use stackr_reconcile::lock::LockError;

/// The lease's end, in seconds of the managers' clock.
pub const LABEL_LOCK_UNTIL: &str = "io.stackr.lock-until";
/// How long a lease lasts unless renewed.
pub const LEASE: Duration = Duration::from_secs(30);
/// How often the holder renews it.
pub const RENEW: Duration = Duration::from_secs(10);

/// The lock service's name.
pub fn lock_name(stack: &str) -> String {
    format!("stackr-lock-{stack}")
}

fn spec(stack: &str, holder: &str, until: i64) -> ServiceSpec {
    ServiceSpec {
        name: lock_name(stack),
        labels: BTreeMap::from([
            (LABEL_LOCK.to_string(), stack.to_string()),
            (LABEL_LOCK_HOLDER.to_string(), holder.to_string()),
            (LABEL_LOCK_UNTIL.to_string(), until.to_string()),
        ]),
        // Never pulled: the service runs no task.
        image: "stackr-lock".into(),
        mode: ServiceMode::Replicated { replicas: 0 },
        ..ServiceSpec::default()
    }
}

/// A held lock. Its lease is renewed while [`SwarmLock::holding`] runs the work it guards;
/// [`SwarmLock::release`] lets it go (a run that dies leaves a lease that runs out).
#[derive(Debug)]
pub struct SwarmLock {
    stack: String,
    holder: String,
}

async fn clock<S: Swarm>(engine: &S, stack: &str) -> Result<i64, LockError> {
    let info = engine
        .swarm_info()
        .await
        .map_err(|error| LockError::Engine {
            stack: stack.into(),
            error,
        })?;
    Ok(info.and_then(|i| i.clock).unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or_default()
    }))
}

fn lease_end(now: i64) -> i64 {
    now + i64::try_from(LEASE.as_secs()).unwrap_or(30)
}

/// One attempt: `Ok(true)` when taken, `Ok(false)` when another run won the race (try again),
/// `Err(Busy)` when a live holder has it.
async fn try_take<S: Swarm>(engine: &S, stack: &str, holder: &str) -> Result<bool, LockError> {
    let err = |error: EngineError| LockError::Engine {
        stack: stack.into(),
        error,
    };
    let now = clock(engine, stack).await?;
    let until = lease_end(now);
    let name = lock_name(stack);
    match engine.inspect_service(&name).await.map_err(err)? {
        None => match engine.create_service(&spec(stack, holder, until)).await {
            Ok(_) => Ok(true),
            Err(EngineError::Conflict { .. }) => Ok(false),
            Err(e) => Err(err(e)),
        },
        Some(found) => {
            let held_until = found
                .labels
                .get(LABEL_LOCK_UNTIL)
                .and_then(|u| u.parse::<i64>().ok())
                .unwrap_or(0);
            if held_until > now {
                return Err(LockError::Busy {
                    stack: stack.into(),
                    holder: found.labels.get(LABEL_LOCK_HOLDER).cloned(),
                });
            }
            match engine
                .update_service(&found.id, found.version, &spec(stack, holder, until))
                .await
            {
                Ok(()) => Ok(true),
                // Another run updated it first: its version moved.
                Err(EngineError::Api { .. }) | Err(EngineError::NotFound { .. }) => Ok(false),
                Err(e) => Err(err(e)),
            }
        }
    }
}

impl SwarmLock {
    /// Takes the stack's lock, waiting up to `wait` for a live holder to let go.
    pub async fn acquire<S: Swarm>(
        engine: &S,
        stack: &str,
        holder: &str,
        wait: Duration,
    ) -> Result<SwarmLock, LockError> {
        let start = std::time::Instant::now();
        loop {
            match try_take(engine, stack, holder).await {
                Ok(true) => {
                    return Ok(SwarmLock {
                        stack: stack.to_string(),
                        holder: holder.to_string(),
                    });
                }
                Ok(false) => {}
                Err(LockError::Busy { .. }) if start.elapsed() < wait => {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Runs `work`, renewing the lease every [`RENEW`] until it ends.
    pub async fn holding<S: Swarm, T>(&self, engine: &S, work: impl Future<Output = T>) -> T {
        let renew = async {
            loop {
                tokio::time::sleep(RENEW).await;
                self.renew(engine).await;
            }
        };
        tokio::select! {
            out = work => out,
            () = renew => unreachable_end(),
        }
    }

    async fn renew<S: Swarm>(&self, engine: &S) {
        let Ok(now) = clock(engine, &self.stack).await else {
            return;
        };
        if let Ok(Some(found)) = engine.inspect_service(&lock_name(&self.stack)).await
            && found.labels.get(LABEL_LOCK_HOLDER) == Some(&self.holder)
        {
            let _ = engine
                .update_service(
                    &found.id,
                    found.version,
                    &spec(&self.stack, &self.holder, lease_end(now)),
                )
                .await;
        }
    }

    /// Lets the lock go: the lock service is removed (when this run still holds it), so the
    /// next run takes it at once.
    pub async fn release<S: Swarm>(self, engine: &S) {
        if let Ok(Some(found)) = engine.inspect_service(&lock_name(&self.stack)).await
            && found.labels.get(LABEL_LOCK_HOLDER) == Some(&self.holder)
        {
            let _ = engine.remove_service(&found.id).await;
        }
    }
}

/// The renewal loop never ends; `select!` needs a value for its arm.
fn unreachable_end<T>() -> T {
    loop {
        std::thread::park();
    }
}
