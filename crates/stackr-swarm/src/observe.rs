//! What the swarm runs of a stack: its services (by label) with their tasks, its overlay
//! networks, secrets and configs, the nodes, and whatever holds a name the stack wants.

use std::collections::BTreeMap;

use stackr_engine::swarm::{
    FileKind, FileObjectInfo, NodeInfo, ServiceInfo, Swarm, SwarmInfo, TaskInfo,
};
use stackr_engine::{EngineInfo, NetworkInfo};

use crate::SwarmError;
use crate::desired::Desired;

/// The swarm as stackr found it.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub swarm: Option<SwarmInfo>,
    pub nodes: Vec<NodeInfo>,
    /// The stack's services.
    pub services: Vec<ServiceInfo>,
    /// The tasks of the stack's services.
    pub tasks: Vec<TaskInfo>,
    /// The stack's networks.
    pub networks: Vec<NetworkInfo>,
    /// The stack's secrets and configs.
    pub files: Vec<(FileKind, FileObjectInfo)>,
    /// Objects of a name the stack wants that are not the stack's: services and networks by
    /// name, and the external secrets and configs it names.
    pub foreign_services: BTreeMap<String, ServiceInfo>,
    pub foreign_networks: BTreeMap<String, NetworkInfo>,
    pub external_files: BTreeMap<(FileKind, String), FileObjectInfo>,
}

/// The engine must be a manager of a swarm.
pub async fn check_manager<S: Swarm>(engine: &S) -> Result<SwarmInfo, SwarmError> {
    let swarm = engine
        .swarm_info()
        .await
        .map_err(SwarmError::engine("the swarm"))?;
    let in_swarm = match swarm {
        Some(s) if s.manager => return Ok(s),
        other => other.is_some(),
    };
    // Only a refusal names the endpoint: asked for then.
    let info: EngineInfo = engine
        .info()
        .await
        .map_err(SwarmError::engine("the engine"))?;
    Err(if in_swarm {
        SwarmError::NotAManager {
            endpoint: info.endpoint,
        }
    } else {
        SwarmError::NotASwarm {
            endpoint: info.endpoint,
        }
    })
}

/// Reads the stack's services, their tasks, networks, secrets and configs.
pub async fn observe<S: Swarm>(engine: &S, desired: &Desired) -> Result<Observed, SwarmError> {
    let swarm = check_manager(engine).await?;
    let stack = &desired.stack;
    let services = engine
        .list_services(stack)
        .await
        .map_err(SwarmError::engine("services"))?;
    let ids: Vec<String> = services.iter().map(|s| s.id.clone()).collect();
    let tasks = engine
        .list_tasks(&ids)
        .await
        .map_err(SwarmError::engine("tasks"))?;
    let networks = engine
        .list_networks(stack)
        .await
        .map_err(SwarmError::engine("networks"))?;
    let nodes = engine
        .list_nodes()
        .await
        .map_err(SwarmError::engine("nodes"))?;
    let mut files = Vec::new();
    for kind in [FileKind::Secret, FileKind::Config] {
        let list = engine
            .list_file_objects(kind, stack)
            .await
            .map_err(SwarmError::engine(format!("{}s", kind.as_str())))?;
        files.extend(list.into_iter().map(|o| (kind, o)));
    }
    let mut observed = Observed {
        swarm: Some(swarm),
        nodes,
        services,
        tasks,
        networks,
        files,
        ..Observed::default()
    };
    foreign(engine, desired, &mut observed).await?;
    Ok(observed)
}

/// What holds the names the stack wants, when it is not the stack's.
async fn foreign<S: Swarm>(
    engine: &S,
    desired: &Desired,
    observed: &mut Observed,
) -> Result<(), SwarmError> {
    for s in &desired.services {
        if observed.services.iter().any(|o| o.name == s.spec.name) {
            continue;
        }
        if let Some(found) = engine
            .inspect_service(&s.spec.name)
            .await
            .map_err(SwarmError::engine(format!("service `{}`", s.spec.name)))?
        {
            observed.foreign_services.insert(s.spec.name.clone(), found);
        }
    }
    for n in &desired.networks {
        if observed.networks.iter().any(|o| o.name == n.spec.name) {
            continue;
        }
        if let Some(found) = engine
            .inspect_network(&n.spec.name)
            .await
            .map_err(SwarmError::engine(format!("network `{}`", n.spec.name)))?
        {
            observed.foreign_networks.insert(n.spec.name.clone(), found);
        }
    }
    for f in desired.files.iter().filter(|f| f.external) {
        if let Some(found) =
            engine
                .inspect_file_object(f.kind, &f.name)
                .await
                .map_err(SwarmError::engine(format!(
                    "{} `{}`",
                    f.kind.as_str(),
                    f.name
                )))?
        {
            observed
                .external_files
                .insert((f.kind, f.name.clone()), found);
        }
    }
    Ok(())
}

/// Whether a swarm service is one of the stack file's (not stackr's own).
pub fn key_of(s: &ServiceInfo) -> Option<&str> {
    s.labels
        .get(stackr_engine::LABEL_SERVICE)
        .map(String::as_str)
}
