//! What a stack holds on the engine beyond its containers: the images they run (`stackr
//! images`) and its volumes (`stackr volumes`).

use stackr_engine::{Engine, VolumeInfo};
use stackr_spec::{MountSource, Stack};

use crate::OpError;

/// One container's image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRow {
    pub container: String,
    pub service: String,
    /// The reference the container was created from.
    pub image: String,
    /// The image's id; `None` when the engine no longer has it.
    pub id: Option<String>,
    pub repo_tags: Vec<String>,
    pub size: Option<i64>,
}

/// The images of the chosen services' containers (all when `services` is empty), in start
/// order.
pub async fn images<E: Engine>(
    engine: &E,
    stack: &Stack,
    services: &[String],
) -> Result<Vec<ImageRow>, OpError> {
    let list = crate::containers(engine, stack, services).await?;
    let mut rows = Vec::new();
    for c in list {
        let found = engine
            .inspect_image(&c.image)
            .await
            .map_err(|error| OpError::Engine {
                context: format!("cannot inspect the image of `{}`", c.name),
                error,
            })?;
        rows.push(ImageRow {
            service: c.service().unwrap_or_default().to_string(),
            container: c.name,
            image: c.image,
            id: found.as_ref().map(|i| i.id.clone()),
            repo_tags: found
                .as_ref()
                .map(|i| i.repo_tags.clone())
                .unwrap_or_default(),
            size: found.and_then(|i| i.size),
        });
    }
    Ok(rows)
}

/// The stack's volumes on the engine; with `services`, those that these services mount.
pub async fn volumes<E: Engine>(
    engine: &E,
    stack: &Stack,
    services: &[String],
) -> Result<Vec<VolumeInfo>, OpError> {
    crate::known(stack, services)?;
    let all = engine
        .list_volumes(&stack.name)
        .await
        .map_err(|error| OpError::Engine {
            context: "cannot list the stack's volumes".into(),
            error,
        })?;
    if services.is_empty() {
        return Ok(all);
    }
    // The engine's names of the volumes these services mount.
    let wanted: Vec<String> = services
        .iter()
        .filter_map(|s| stack.services.get(s))
        .flat_map(|s| s.mounts.iter())
        .filter_map(|m| match &m.source.value {
            MountSource::Volume(v) => Some(stackr_reconcile::desired::volume_name(stack, v)),
            _ => None,
        })
        .collect();
    Ok(all
        .into_iter()
        .filter(|v| wanted.contains(&v.name))
        .collect())
}

/// One running container's resource use.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsRow {
    pub container: String,
    pub service: String,
    pub stats: stackr_engine::ContainerStats,
}

/// A sample of every running container of the chosen services (all when empty), taken at
/// once, in start order.
pub async fn stats<E: Engine>(
    engine: &E,
    stack: &Stack,
    services: &[String],
) -> Result<Vec<StatsRow>, OpError> {
    let list = crate::containers(engine, stack, services).await?;
    let running: Vec<_> = list
        .into_iter()
        .filter(|c| c.state == stackr_engine::ContainerState::Running)
        .collect();
    let samples = futures::future::join_all(running.iter().map(|c| engine.stats(&c.id))).await;
    let mut rows = Vec::new();
    for (c, sample) in running.into_iter().zip(samples) {
        // A container that stopped meanwhile is left out, as `docker stats` does.
        let Ok(stats) = sample else { continue };
        rows.push(StatsRow {
            service: c.service().unwrap_or_default().to_string(),
            container: c.name,
            stats,
        });
    }
    Ok(rows)
}
