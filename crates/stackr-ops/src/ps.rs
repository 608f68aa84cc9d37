//! `ps`: the stack's containers as rows (service, container, state, exit code, health, ports).

use stackr_engine::{ContainerState, Engine, EngineError};

/// One container of `ps`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PsRow {
    pub service: String,
    pub container: String,
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<String>,
    /// `HOST_IP:HOST_PORT->PORT/PROTO`, sorted, once each.
    pub ports: Vec<String>,
}

/// The stack's containers (running ones only unless `all`), by service then name.
pub async fn ps<E: Engine>(engine: &E, stack: &str, all: bool) -> Result<Vec<PsRow>, EngineError> {
    let list = engine.list_containers(stack).await?;
    let mut rows = Vec::new();
    for c in list {
        // As `docker ps`: a paused or restarting container is not a stopped one.
        let up = matches!(
            c.state,
            ContainerState::Running | ContainerState::Paused | ContainerState::Restarting
        );
        if !all && !up {
            continue;
        }
        // Health and the exit code are only in an inspect.
        let detail = match engine.inspect_container(&c.id).await {
            Ok(Some(d)) => d,
            _ => c.clone(),
        };
        let mut ports: Vec<String> = c
            .ports
            .iter()
            .map(|p| match (&p.host_ip, p.host_port) {
                (Some(ip), Some(h)) => format!("{ip}:{h}->{}/{}", p.container_port, p.protocol),
                (None, Some(h)) => format!("{h}->{}/{}", p.container_port, p.protocol),
                _ => format!("{}/{}", p.container_port, p.protocol),
            })
            .collect();
        ports.sort();
        ports.dedup();
        rows.push(PsRow {
            service: c.service().unwrap_or("?").to_string(),
            container: c.name.clone(),
            state: c.state.as_str().to_string(),
            exit_code: (c.state == ContainerState::Exited)
                .then_some(detail.exit_code)
                .flatten(),
            health: detail.health.map(|h| h.as_str().to_string()),
            ports,
        });
    }
    rows.sort_by(|a, b| {
        a.service
            .cmp(&b.service)
            .then(a.container.cmp(&b.container))
    });
    Ok(rows)
}

/// Every stack on the engine (found by label, no stack file needed), with how many of its
/// containers are in each state; only those with a running container unless `all`.
pub async fn stacks<E: Engine>(
    engine: &E,
    all: bool,
) -> Result<
    std::collections::BTreeMap<String, std::collections::BTreeMap<&'static str, usize>>,
    EngineError,
> {
    let list = engine.list_all_containers().await?;
    let mut stacks: std::collections::BTreeMap<
        String,
        std::collections::BTreeMap<&'static str, usize>,
    > = std::collections::BTreeMap::new();
    for c in &list {
        let Some(stack) = c.labels.get(stackr_engine::LABEL_STACK) else {
            continue;
        };
        *stacks
            .entry(stack.clone())
            .or_default()
            .entry(c.state.as_str())
            .or_default() += 1;
    }
    if !all {
        stacks.retain(|_, states| states.contains_key("running"));
    }
    Ok(stacks)
}
