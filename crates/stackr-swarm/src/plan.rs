//! The Swarm target's plan: desired services, networks, secrets and configs against what the
//! swarm runs, object by object. Pure: same inputs, same plan; apply executes it as written.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;
use stackr_engine::swarm::{FileKind, ServiceMode, ServiceSpec};
use stackr_engine::{LABEL_HASH, LABEL_SPEC, NetworkSpec};
use stackr_reconcile::plan::Change;
use thiserror::Error;

use crate::desired::{Desired, DesiredService};
use crate::observe::Observed;

/// What happens to a service.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum ServiceAction {
    Create,
    /// Swarm rolls the new spec out by the service's update config.
    Update {
        changes: Vec<Change>,
        /// How the update rolls (`1 at a time, start-first`); `None` for a job (it runs again).
        rolling: Option<String>,
    },
    /// A change Swarm cannot make in place (a service that becomes a job, or the reverse):
    /// removed, then created.
    Replace {
        reason: String,
    },
    Keep,
    Remove,
}

/// A service and what happens to it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceItem {
    /// The stack-local name.
    pub key: String,
    /// The swarm-side name.
    pub name: String,
    pub id: Option<String>,
    /// The version an update names.
    pub version: u64,
    pub action: ServiceAction,
}

/// What happens to a network, secret or config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ObjectAction {
    Create,
    Keep,
    Remove,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetworkItem {
    pub name: String,
    pub id: Option<String>,
    pub action: ObjectAction,
    #[serde(skip)]
    pub spec: Option<NetworkSpec>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileItem {
    pub kind: FileKind,
    /// The stack-local name.
    pub key: String,
    pub name: String,
    pub id: Option<String>,
    pub action: ObjectAction,
}

/// Why the plan cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize)]
#[serde(tag = "code", rename_all = "kebab-case")]
pub enum SwarmProblem {
    #[error("service `{name}` exists on the swarm and is not this stack's")]
    ServiceNotOurs { name: String },
    #[error("network `{name}` exists on the swarm and is not this stack's")]
    NetworkNotOurs { name: String },
    #[error("external network `{name}` is not on the swarm")]
    ExternalNetworkMissing { name: String },
    #[error("external {kind} `{name}` is not on the swarm")]
    ExternalFileMissing { kind: String, name: String },
}

impl SwarmProblem {
    pub fn help(&self) -> String {
        match self {
            SwarmProblem::ServiceNotOurs { .. } | SwarmProblem::NetworkNotOurs { .. } => {
                "remove it (`docker service rm` / `docker network rm`), or give this stack another name with `-p`".into()
            }
            SwarmProblem::ExternalNetworkMissing { name } => {
                format!("create it first: `docker network create -d overlay {name}`")
            }
            SwarmProblem::ExternalFileMissing { kind, name } => {
                format!("create it first: `docker {kind} create {name} FILE`")
            }
        }
    }
}

/// The whole plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub stack: String,
    pub nodes: usize,
    pub networks: Vec<NetworkItem>,
    pub files: Vec<FileItem>,
    /// The desired services in start order, then the ones removed.
    pub services: Vec<ServiceItem>,
    pub problems: Vec<SwarmProblem>,
}

impl Plan {
    /// Whether applying it would change nothing.
    pub fn is_empty(&self) -> bool {
        self.networks.iter().all(|n| n.action == ObjectAction::Keep)
            && self.files.iter().all(|f| f.action == ObjectAction::Keep)
            && self
                .services
                .iter()
                .all(|s| s.action == ServiceAction::Keep)
    }

    /// How many objects it changes.
    pub fn change_count(&self) -> usize {
        self.networks
            .iter()
            .filter(|n| n.action != ObjectAction::Keep)
            .count()
            + self
                .files
                .iter()
                .filter(|f| f.action != ObjectAction::Keep)
                .count()
            + self
                .services
                .iter()
                .filter(|s| s.action != ServiceAction::Keep)
                .count()
    }
}

/// A spec as stored in its `io.stackr.spec` label: without stackr's own labels.
pub fn unsealed(spec: &ServiceSpec) -> Value {
    let mut s = spec.clone();
    s.labels.remove(LABEL_HASH);
    s.labels.remove(LABEL_SPEC);
    s.container_labels.clear();
    serde_json::to_value(&s).unwrap_or_default()
}

fn rolling(spec: &ServiceSpec) -> Option<String> {
    if spec.mode.is_job() {
        return None;
    }
    let replicas = match spec.mode {
        ServiceMode::Replicated { replicas } => format!("{replicas} replicas"),
        _ => "every node".into(),
    };
    Some(match &spec.update {
        Some(u) if u.parallelism == 0 => format!("all at once, {}, over {replicas}", u.order),
        Some(u) => format!("{} at a time, {}, over {replicas}", u.parallelism, u.order),
        None => format!("1 at a time, stop-first, over {replicas}"),
    })
}

fn service_item(want: &DesiredService, observed: &Observed) -> ServiceItem {
    let found = observed.services.iter().find(|o| o.name == want.spec.name);
    let Some(found) = found else {
        return ServiceItem {
            key: want.key.clone(),
            name: want.spec.name.clone(),
            id: None,
            version: 0,
            action: ServiceAction::Create,
        };
    };
    let stored = found.labels.get(LABEL_SPEC);
    let current = stored.and_then(|j| serde_json::from_str::<Value>(j).ok());
    let same = current
        .as_ref()
        .is_some_and(|v| stackr_reconcile::hash::spec_hash(v, "") == want.hash);
    let action = if same {
        ServiceAction::Keep
    } else if found.mode.is_job() != want.spec.mode.is_job() {
        ServiceAction::Replace {
            reason: if want.spec.mode.is_job() {
                "it becomes a one-shot job (others wait for it to complete)".into()
            } else {
                "it is no longer a one-shot job".into()
            },
        }
    } else {
        ServiceAction::Update {
            changes: match &current {
                Some(v) => stackr_reconcile::plan::diff_values(v, &unsealed(&want.spec)),
                None => vec![Change {
                    field: "spec".into(),
                    from: "not recorded".into(),
                    to: "current".into(),
                }],
            },
            rolling: rolling(&want.spec),
        }
    };
    ServiceItem {
        key: want.key.clone(),
        name: want.spec.name.clone(),
        id: Some(found.id.clone()),
        version: found.version,
        action,
    }
}

fn networks(
    desired: &Desired,
    observed: &Observed,
    problems: &mut Vec<SwarmProblem>,
) -> Vec<NetworkItem> {
    let mut items = Vec::new();
    for n in &desired.networks {
        let name = n.spec.name.clone();
        if n.external {
            if !observed.foreign_networks.contains_key(&name)
                && !observed.networks.iter().any(|o| o.name == name)
            {
                problems.push(SwarmProblem::ExternalNetworkMissing { name });
            }
            continue;
        }
        if observed.foreign_networks.contains_key(&name) {
            problems.push(SwarmProblem::NetworkNotOurs { name });
            continue;
        }
        let found = observed.networks.iter().find(|o| o.name == name);
        items.push(NetworkItem {
            id: found.map(|f| f.id.clone()),
            action: if found.is_some() {
                ObjectAction::Keep
            } else {
                ObjectAction::Create
            },
            spec: Some(n.spec.clone()),
            name,
        });
    }
    let wanted: BTreeSet<&str> = desired
        .networks
        .iter()
        .map(|n| n.spec.name.as_str())
        .collect();
    for o in &observed.networks {
        if !wanted.contains(o.name.as_str()) {
            items.push(NetworkItem {
                name: o.name.clone(),
                id: Some(o.id.clone()),
                action: ObjectAction::Remove,
                spec: None,
            });
        }
    }
    items
}

fn files(
    desired: &Desired,
    observed: &Observed,
    problems: &mut Vec<SwarmProblem>,
) -> Vec<FileItem> {
    let mut items = Vec::new();
    for f in &desired.files {
        if f.external {
            if !observed
                .external_files
                .contains_key(&(f.kind, f.name.clone()))
            {
                problems.push(SwarmProblem::ExternalFileMissing {
                    kind: f.kind.as_str().into(),
                    name: f.name.clone(),
                });
            }
            continue;
        }
        let found = observed
            .files
            .iter()
            .find(|(k, o)| *k == f.kind && o.name == f.name);
        items.push(FileItem {
            kind: f.kind,
            key: f.key.clone(),
            name: f.name.clone(),
            id: found.map(|(_, o)| o.id.clone()),
            action: if found.is_some() {
                ObjectAction::Keep
            } else {
                ObjectAction::Create
            },
        });
    }
    for (kind, o) in &observed.files {
        let wanted = desired
            .files
            .iter()
            .any(|f| f.kind == *kind && f.name == o.name);
        if !wanted {
            items.push(FileItem {
                kind: *kind,
                key: o
                    .labels
                    .get(crate::desired::LABEL_FILE)
                    .cloned()
                    .unwrap_or_default(),
                name: o.name.clone(),
                id: Some(o.id.clone()),
                action: ObjectAction::Remove,
            });
        }
    }
    items
}

/// The plan of `desired` against `observed`.
pub fn plan(desired: &Desired, observed: &Observed) -> Plan {
    let mut problems = Vec::new();
    let networks = networks(desired, observed, &mut problems);
    let files = files(desired, observed, &mut problems);
    let mut services = Vec::new();
    for want in &desired.services {
        if observed.foreign_services.contains_key(&want.spec.name) {
            problems.push(SwarmProblem::ServiceNotOurs {
                name: want.spec.name.clone(),
            });
            continue;
        }
        services.push(service_item(want, observed));
    }
    let wanted: BTreeSet<&str> = desired
        .services
        .iter()
        .map(|s| s.spec.name.as_str())
        .collect();
    for o in &observed.services {
        if !wanted.contains(o.name.as_str()) {
            services.push(ServiceItem {
                key: crate::observe::key_of(o).unwrap_or(&o.name).to_string(),
                name: o.name.clone(),
                id: Some(o.id.clone()),
                version: o.version,
                action: ServiceAction::Remove,
            });
        }
    }
    Plan {
        stack: desired.stack.clone(),
        nodes: observed.nodes.len(),
        networks,
        files,
        services,
        problems,
    }
}
