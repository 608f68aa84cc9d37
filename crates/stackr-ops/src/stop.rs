//! Stopping a stack (dependents first).

use std::time::Duration;

use stackr_engine::{ContainerState, Engine};

use crate::{OpEvent, Sink};

/// Stops every running container of the stack, in the reverse of the start order `waves`:
/// each wave at once, a wave only once the one that depends on it has stopped.
pub async fn stop<E: Engine>(
    engine: &E,
    stack: &str,
    waves: &[Vec<String>],
    timeout: Option<Duration>,
    sink: Sink<'_>,
) -> stackr_engine::Result<()> {
    let list = engine.list_containers(stack).await?;
    for wave in waves.iter().rev() {
        let stops = list
            .iter()
            .filter(|c| c.service().is_some_and(|s| wave.iter().any(|w| w == s)))
            .filter(|c| c.state == ContainerState::Running)
            .map(|c| async move {
                let labels = Some(&c.labels);
                if let Err(e) =
                    stackr_reconcile::hooks::pre_stop(engine, &c.id, labels, timeout).await
                {
                    sink(OpEvent::HookFailed {
                        container: c.name.clone(),
                        message: e.to_string(),
                    });
                }
                let r = engine.stop_container(&c.id, timeout).await;
                if r.is_ok() {
                    sink(OpEvent::Stopped {
                        container: c.name.clone(),
                    });
                }
                r
            });
        for r in futures::future::join_all(stops).await {
            r?;
        }
    }
    Ok(())
}
