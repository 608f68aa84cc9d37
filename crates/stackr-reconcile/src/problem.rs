//! What stops a plan from being applied ([`PlanProblem`]) and what it warns about
//! ([`PlanWarning`]): the facts as data, all their text in `#[error]` and [`PlanProblem::help`].

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use thiserror::Error;

/// A kind of engine object, as messages name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Container,
    Network,
    Volume,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Container => "container",
            Kind::Network => "network",
            Kind::Volume => "volume",
        })
    }
}

/// A problem that stops the plan from being applied.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PlanProblem {
    #[error("no service `{service}` in stack `{stack}`")]
    UnknownService { stack: String, service: String },
    #[error(
        "service `{service}` sets `{field}`, which the engine takes from API {needs}; this engine speaks {has}"
    )]
    NeedsNewerApi {
        service: String,
        field: String,
        needs: String,
        has: String,
    },
    #[error("external network `{name}` does not exist")]
    ExternalNetworkMissing { name: String },
    #[error("external volume `{name}` does not exist")]
    ExternalVolumeMissing { name: String },
    #[error(
        "network `{name}` is {} on the engine but {} in the stack file",
        internal_word(*on_engine),
        internal_word(!*on_engine)
    )]
    NetworkInternalChanged { name: String, on_engine: bool },
    #[error(
        "network `{name}` was made with other driver options, IPv6 or ipam settings than the stack file's"
    )]
    NetworkConfigChanged { name: String },
    #[error("service `{service}`: image `{image}` is not on the engine")]
    ImageMissing { service: String, image: String },
    #[error(
        "service `{service}` is limited to {} CPUs, but the engine's machine has {available}",
        cpus_text(*nano_cpus)
    )]
    CpusBeyondEngine {
        service: String,
        nano_cpus: i64,
        available: u32,
    },
    #[error(
        "{kind} `{name}` of stack `{stack}` already exists on the engine and belongs to stack `{owner}`"
    )]
    OwnedByAnotherStack {
        kind: Kind,
        name: String,
        stack: String,
        owner: String,
        /// The service whose container it is, for containers.
        service: Option<String>,
    },
    #[error("network `{name}` of stack `{stack}` already exists on the engine, not made by stackr")]
    ForeignNetwork { name: String, stack: String },
    #[error("external volume `{name}` belongs to stack `{owner}`: stack `{stack}` cannot mount it")]
    ExternalVolumeOfAnotherStack {
        name: String,
        stack: String,
        owner: String,
    },
    #[error(
        "external volume `{name}` holds the secrets of container `{container}`: no stack may mount it"
    )]
    ExternalSecretsVolume { name: String, container: String },
}

/// `4`, `0.5`: a CPU count as the stack file writes it.
fn cpus_text(nano_cpus: i64) -> String {
    let whole = nano_cpus / 1_000_000_000;
    let frac = nano_cpus % 1_000_000_000;
    if frac == 0 {
        return whole.to_string();
    }
    let digits = format!("{frac:09}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

fn internal_word(internal: bool) -> &'static str {
    if internal { "internal" } else { "not internal" }
}

impl PlanProblem {
    /// The stable code, as in `stackr::CODE`.
    pub fn code(&self) -> &'static str {
        match self {
            PlanProblem::UnknownService { .. } => "unknown-service",
            PlanProblem::NeedsNewerApi { .. } => "needs-newer-api",
            PlanProblem::ExternalNetworkMissing { .. } => "external-network-missing",
            PlanProblem::ExternalVolumeMissing { .. } => "external-volume-missing",
            PlanProblem::NetworkInternalChanged { .. } => "network-internal-changed",
            PlanProblem::NetworkConfigChanged { .. } => "network-config-changed",
            PlanProblem::ImageMissing { .. } => "image-missing",
            PlanProblem::CpusBeyondEngine { .. } => "cpus-beyond-engine",
            PlanProblem::OwnedByAnotherStack { .. } => "owned-by-another-stack",
            PlanProblem::ForeignNetwork { .. } => "foreign-network",
            PlanProblem::ExternalVolumeOfAnotherStack { .. } => "external-volume-of-another-stack",
            PlanProblem::ExternalSecretsVolume { .. } => "external-secrets-volume",
        }
    }

    /// The service it is about, when there is one.
    pub fn service(&self) -> Option<&str> {
        match self {
            PlanProblem::UnknownService { service, .. }
            | PlanProblem::NeedsNewerApi { service, .. }
            | PlanProblem::ImageMissing { service, .. }
            | PlanProblem::CpusBeyondEngine { service, .. } => Some(service),
            PlanProblem::OwnedByAnotherStack { service, .. } => service.as_deref(),
            _ => None,
        }
    }

    /// What the user can do about it.
    pub fn help(&self) -> Option<String> {
        Some(match self {
            PlanProblem::UnknownService { .. } => return None,
            PlanProblem::NeedsNewerApi { field, needs, .. } => format!(
                "remove `{field}` for this engine (a profile can set it where the engine is newer), or upgrade the engine to one that speaks API {needs}"
            ),
            PlanProblem::ExternalNetworkMissing { name } => {
                format!("create it first: `docker network create {name}`")
            }
            PlanProblem::ExternalVolumeMissing { name } => {
                format!("create it first: `docker volume create {name}`")
            }
            PlanProblem::NetworkInternalChanged { .. } | PlanProblem::NetworkConfigChanged { .. } => {
                "a network cannot change while containers use it: `stackr down`, then `stackr up`"
                    .into()
            }
            PlanProblem::ImageMissing { .. } => "no registry is configured to pull from: load or build the image first (`docker load`, or give the service a `build`)".into(),
            PlanProblem::CpusBeyondEngine { available, .. } => format!(
                "the engine refuses a CPU limit above the CPUs it has: set `limits cpus=` to at most {available} (a profile can set it per machine), or deploy to a bigger one"
            ),
            PlanProblem::OwnedByAnotherStack { kind: Kind::Container, .. } => {
                "two stacks make the same container name (`{stack}-{service}-{n}`): rename a service, or give it a `container-name`".into()
            }
            PlanProblem::OwnedByAnotherStack { kind, .. } => format!(
                "two stacks make the same {kind} name (`{{stack}}_{{name}}`, or the same `name=`): rename it in one of them; a {kind} meant to be shared is made outside both stacks and declared `external #true` in each"
            ),
            PlanProblem::ForeignNetwork { name, .. } => format!(
                "remove it (`docker network rm {name}`, or `docker compose down` for a compose project), or declare it `external #true` to use it as it is"
            ),
            PlanProblem::ExternalVolumeOfAnotherStack { .. } => "a volume shared by stacks is made outside them (`docker volume create NAME`) and declared `external #true` in each".into(),
            PlanProblem::ExternalSecretsVolume { .. } => {
                "declare the secret in this stack (`secret \"NAME\" file=...`) and give it to the service".into()
            }
        })
    }
}

/// Serialized for `plan --format json` as `{code, service, message, help}`.
impl Serialize for PlanProblem {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("PlanProblem", 4)?;
        s.serialize_field("code", self.code())?;
        if let Some(service) = self.service() {
            s.serialize_field("service", service)?;
        }
        s.serialize_field("message", &self.to_string())?;
        if let Some(help) = self.help() {
            s.serialize_field("help", &help)?;
        }
        s.end()
    }
}

/// Something the plan goes ahead with, but the user should know.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PlanWarning {
    #[error(
        "container `{container}` of service `{service}` is not in the stack any more: `--remove-orphans` removes it"
    )]
    Orphan { container: String, service: String },
    #[error(
        "volume `{name}` already exists, not made by stackr: stack `{stack}` uses it as it is, and `down -v` keeps it"
    )]
    ForeignVolume { name: String, stack: String },
}

impl PlanWarning {
    pub fn code(&self) -> &'static str {
        match self {
            PlanWarning::Orphan { .. } => "orphan",
            PlanWarning::ForeignVolume { .. } => "foreign-volume",
        }
    }
}

/// Serialized as its message, as `plan --format json` always gave warnings.
impl Serialize for PlanWarning {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}
