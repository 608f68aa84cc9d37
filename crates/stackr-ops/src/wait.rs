//! `wait`: blocks until every container of the chosen services has stopped, as compose's
//! `wait` does; each exit is reported, in the order they happen.

use std::collections::BTreeMap;

use futures::StreamExt;
use stackr_engine::{ContainerState, Engine, EventKind};
use stackr_spec::Stack;

use crate::OpError;

/// One container that stopped, and its exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    pub container: String,
    pub code: i64,
}

fn engine_err(context: &str, error: stackr_engine::EngineError) -> OpError {
    OpError::Engine {
        context: context.into(),
        error,
    }
}

/// Waits until every container of `services` (all when empty) has stopped; `exit` is told of
/// each as it happens (those stopped already first). Returns them in that order. No container
/// at all is an error naming the stack.
pub async fn wait<E: Engine>(
    engine: &E,
    stack: &Stack,
    services: &[String],
    exit: &(dyn Fn(&Exit) + Send + Sync),
) -> Result<Vec<Exit>, OpError> {
    // Subscribed before listing: an exit between the two is not missed.
    let mut events = engine
        .events(&stack.name)
        .await
        .map_err(|e| engine_err("cannot follow the engine's events", e))?;
    let list = crate::containers(engine, stack, services).await?;
    if list.is_empty() {
        return Err(OpError::NothingToWaitFor {
            stack: stack.name.clone(),
        });
    }
    let mut out = Vec::new();
    let mut running: BTreeMap<String, String> = BTreeMap::new();
    for c in list {
        if matches!(
            c.state,
            ContainerState::Running | ContainerState::Paused | ContainerState::Restarting
        ) {
            running.insert(c.id, c.name);
        } else {
            let e = Exit {
                container: c.name,
                code: c.exit_code.unwrap_or(0),
            };
            exit(&e);
            out.push(e);
        }
    }
    while !running.is_empty() {
        let Some(ev) = events.next().await else {
            // The stream ended: the engine went away, or the caller sees the rest anew.
            engine
                .info()
                .await
                .map_err(|e| engine_err("the engine went away while waiting", e))?;
            events = engine
                .events(&stack.name)
                .await
                .map_err(|e| engine_err("cannot follow the engine's events", e))?;
            continue;
        };
        let ev = ev.map_err(|e| engine_err("the engine's events failed", e))?;
        if let EventKind::Die { exit_code } = ev.kind
            && let Some(name) = running.remove(&ev.container_id)
        {
            let e = Exit {
                container: name,
                code: exit_code,
            };
            exit(&e);
            out.push(e);
        }
    }
    Ok(out)
}
