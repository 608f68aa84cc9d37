//! The plan: what must change on the engine for it to run the stack, and why. Pure: the same
//! desired state and observations always give the same plan.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use stackr_engine::{
    ContainerInfo, ContainerState, ImageInfo, LABEL_HASH, LABEL_SPEC, NetworkInfo, VolumeInfo,
};

use crate::desired::Desired;
pub use crate::problem::{Kind, PlanProblem, PlanWarning};

use stackr_engine::{LABEL_IMAGE_ID, MountSpec};

/// What the engine runs for a stack, and the images and external objects a stack names.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub containers: Vec<ContainerInfo>,
    pub networks: Vec<NetworkInfo>,
    pub volumes: Vec<VolumeInfo>,
    /// Every image reference the stack uses, and what the engine has for it.
    pub images: BTreeMap<String, Option<ImageInfo>>,
    /// External networks by engine name: whether they exist.
    pub external_networks: BTreeMap<String, bool>,
    /// External volumes by engine name: what the engine has under that name.
    pub external_volumes: BTreeMap<String, Option<VolumeInfo>>,
    /// Networks and volumes of the stack that exist under their engine name without this
    /// stack's label: what the engine has there.
    pub foreign_networks: BTreeMap<String, NetworkInfo>,
    pub foreign_volumes: BTreeMap<String, VolumeInfo>,
    /// Containers of other stacks, by name (the only ones whose name this stack could want).
    pub other_stacks_containers: BTreeMap<String, ContainerInfo>,
    /// The digest file of each existing container's secrets volume, by container name.
    pub secret_digests: BTreeMap<String, String>,
    /// The CPUs of the engine's machine, read when a service has a CPU limit.
    pub engine_cpus: Option<u32>,
    /// The engine's API version, read when a service sets a field that needs a newer one.
    pub engine_api: Option<(u32, u32)>,
}

/// `1.41` as `(1, 41)`.
pub fn api_of(version: &str) -> Option<(u32, u32)> {
    let (major, minor) = version.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// What the caller asked for.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Rebuild every image that is built.
    pub build: bool,
    pub force_recreate: bool,
    pub no_recreate: bool,
    pub remove_orphans: bool,
    /// Only these services (and what they depend on); empty: all.
    pub services: Vec<String>,
    /// With `services`: not what they depend on.
    pub no_deps: bool,
    /// `up --no-start` (`stackr create`): containers are made, none is started.
    pub no_start: bool,
}

/// What kind of object an item is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ObjectKind {
    Network,
    Volume,
    Image,
    Container,
}

/// What happens to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Create,
    Build,
    /// Stop-first: the old container goes, then the new one is made under its name.
    Recreate,
    /// Start-first: the new container runs beside the old one until it is healthy.
    Replace,
    /// An interrupted replace is finished: the new container takes the slot's name.
    Rename,
    Start,
    /// A paused container (`stackr pause`) is thawed.
    Unpause,
    Restart,
    Keep,
    Remove,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Build => "build",
            Action::Recreate => "recreate",
            Action::Replace => "replace",
            Action::Rename => "rename",
            Action::Start => "start",
            Action::Restart => "restart",
            Action::Unpause => "unpause",
            Action::Keep => "keep",
            Action::Remove => "remove",
        }
    }

    pub fn is_change(self) -> bool {
        self != Action::Keep
    }
}

/// A field that differs between a running container and the stack file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub field: String,
    pub from: String,
    pub to: String,
}

/// One object and what happens to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanItem {
    pub kind: ObjectKind,
    /// The engine-side name.
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    pub action: Action,
    /// The existing object's id, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A replace that goes on with the new container an interrupted one left (its id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// What to make instead of the stack file's spec (`stackr rollback`).
    #[serde(skip)]
    pub target: Option<crate::rollout::Target>,
    /// What the replaced container was created from: what a failed update goes back to.
    #[serde(skip)]
    pub previous: Option<crate::rollout::Target>,
}

/// The plan for a stack.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub stack: String,
    pub items: Vec<PlanItem>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<PlanWarning>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<PlanProblem>,
    /// Services that run as root, without a memory limit or with a writable root filesystem,
    /// unless they acknowledge it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hardening: Vec<Hardening>,
    /// The services whose containers are replaced, batch by batch.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rollouts: Vec<crate::rollout::RolloutPlan>,
    /// The `pre-start` hooks that run, per service.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pre_start: Vec<crate::prestart::PreStartRun>,
    /// Containers (by slot name) started without their dependencies (`up --no-deps`): once
    /// started, stackr ends their recovery wait, as compose starts them at once.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub released: Vec<String>,
    /// `up --no-start`: what is created is not started; nothing else starts either.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_start: bool,
}

/// A service's hardening warnings: `root`, `no-memory-limit`, `writable-root`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hardening {
    pub service: String,
    pub warnings: Vec<String>,
}

impl Plan {
    /// Whether applying the plan would change anything.
    pub fn has_changes(&self) -> bool {
        self.items.iter().any(|i| i.action.is_change())
    }

    pub fn count(&self, action: Action) -> usize {
        self.items.iter().filter(|i| i.action == action).count()
    }

    pub fn item(&self, kind: ObjectKind, name: &str) -> Option<&PlanItem> {
        self.items.iter().find(|i| i.kind == kind && i.name == name)
    }

    /// The rolling update of a service, when its containers are replaced.
    pub fn rollout(&self, service: &str) -> Option<&crate::rollout::RolloutPlan> {
        self.rollouts.iter().find(|r| r.service == service)
    }

    /// A plan for `stack` with nothing in it yet.
    fn empty(stack: &str) -> Plan {
        Plan {
            stack: stack.to_string(),
            items: Vec::new(),
            warnings: Vec::new(),
            errors: Vec::new(),
            hardening: Vec::new(),
            rollouts: Vec::new(),
            pre_start: Vec::new(),
            released: Vec::new(),
            no_start: false,
        }
    }

    /// The `pre-start` hooks the plan runs for a service.
    pub fn pre_start_of(&self, service: &str) -> Option<&crate::prestart::PreStartRun> {
        self.pre_start.iter().find(|r| r.service == service)
    }
}

fn item(kind: ObjectKind, name: &str, action: Action) -> PlanItem {
    PlanItem {
        kind,
        name: name.to_string(),
        service: None,
        action,
        id: None,
        changes: Vec::new(),
        reason: None,
        next: None,
        target: None,
        previous: None,
    }
}

/// The services to act on: the ones asked for and everything they depend on.
fn selected(desired: &Desired, wanted: &[String]) -> BTreeSet<String> {
    if wanted.is_empty() {
        return desired.services.iter().map(|s| s.name.clone()).collect();
    }
    let mut out = BTreeSet::new();
    let mut todo: Vec<String> = wanted.to_vec();
    while let Some(name) = todo.pop() {
        if !out.insert(name.clone()) {
            continue;
        }
        if let Some(s) = desired.service(&name) {
            todo.extend(s.depends_on.iter().map(|d| d.service.clone()));
        }
    }
    out
}

/// Flattens a spec's JSON into `field → value` for a readable diff; `env` is keyed by name and
/// the bookkeeping labels are left out.
fn flatten(json: &serde_json::Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(obj) = json.as_object() else {
        return out;
    };
    for (k, v) in obj {
        match (k.as_str(), v) {
            ("env", serde_json::Value::Array(items)) => {
                for item in items {
                    let s = item.as_str().unwrap_or_default();
                    let (name, value) = s.split_once('=').unwrap_or((s, ""));
                    out.insert(format!("env.{name}"), format!("{value:?}"));
                }
            }
            ("labels", serde_json::Value::Object(labels)) => {
                for (lk, lv) in labels {
                    if lk == LABEL_HASH || lk == LABEL_SPEC || lk == LABEL_IMAGE_ID {
                        continue;
                    }
                    out.insert(format!("labels.{lk}"), lv.to_string());
                }
            }
            (_, other) => flatten_value(k, other, &mut out),
        }
    }
    out
}

/// One field, readably: objects field by field (`health.interval`), durations as `1.5s`,
/// memory sizes in MiB or GiB, CPUs as a count.
fn flatten_value(key: &str, v: &serde_json::Value, out: &mut BTreeMap<String, String>) {
    use serde_json::Value;
    let field = key.rsplit('.').next().unwrap_or(key);
    match v {
        Value::Null => {
            out.insert(key.to_string(), "none".into());
        }
        Value::Object(o) if o.len() == 2 && o.contains_key("secs") && o.contains_key("nanos") => {
            let secs = o.get("secs").and_then(Value::as_u64).unwrap_or(0);
            let nanos = o.get("nanos").and_then(Value::as_u64).unwrap_or(0);
            let d = std::time::Duration::new(secs, u32::try_from(nanos).unwrap_or(0));
            out.insert(key.to_string(), format!("{d:?}"));
        }
        Value::Object(o) => {
            for (k, v) in o {
                flatten_value(&format!("{key}.{k}"), v, out);
            }
        }
        Value::Number(n)
            if matches!(
                field,
                "memory" | "memory_reservation" | "shm_size" | "memory_swap"
            ) =>
        {
            let b = n.as_i64().unwrap_or(0);
            let text = if b > 0 && b % (1 << 30) == 0 {
                format!("{} GiB", b >> 30)
            } else if b > 0 && b % (1 << 20) == 0 {
                format!("{} MiB", b >> 20)
            } else {
                format!("{b} bytes")
            };
            out.insert(key.to_string(), text);
        }
        Value::Number(n) if field == "nano_cpus" => {
            let cpus = n.as_f64().unwrap_or(0.0) / 1e9;
            out.insert(key.replace("nano_cpus", "cpus"), format!("{cpus}"));
        }
        other => {
            out.insert(key.to_string(), other.to_string());
        }
    }
}

/// Field-level differences between the spec a container was created from and the wanted one.
pub fn diff_specs(old_json: &str, new: &stackr_engine::ContainerSpec) -> Vec<Change> {
    let Ok(old) = serde_json::from_str::<serde_json::Value>(old_json) else {
        return vec![Change {
            field: "spec".into(),
            from: "unreadable".into(),
            to: "current".into(),
        }];
    };
    let Ok(new) = serde_json::to_value(new) else {
        return Vec::new();
    };
    diff_values(&old, &new)
}

/// Field-level differences between two specs as JSON (`env[2]`, `health.interval`), compared
/// as hashed: a field left at its default reads the same as one not there.
pub fn diff_values(old: &serde_json::Value, new: &serde_json::Value) -> Vec<Change> {
    let prune = |v: &serde_json::Value| crate::hash::pruned(v).unwrap_or_default();
    let (a, b) = (flatten(&prune(old)), flatten(&prune(new)));
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter_map(|k| {
            let from = a.get(k).cloned().unwrap_or_else(|| "none".into());
            let to = b.get(k).cloned().unwrap_or_else(|| "none".into());
            (from != to).then(|| Change {
                field: k.clone(),
                from,
                to,
            })
        })
        .collect()
}

fn short(id: &str) -> String {
    id.trim_start_matches("sha256:").chars().take(12).collect()
}

/// Whether a container that is not running stays so: a one-shot that others wait to complete,
/// and that did. Anything else that is not running is started again, as compose does.
pub fn stays_done(
    desired: &Desired,
    service: &str,
    want: &crate::desired::DesiredContainer,
    current: &ContainerInfo,
) -> bool {
    let waited_on = desired.services.iter().any(|o| {
        o.depends_on
            .iter()
            .any(|d| d.service == service && d.condition == stackr_spec::Condition::Completed)
    });
    current.state == ContainerState::Exited
        && current.exit_code == Some(0)
        && want.spec.restart == "no"
        && waited_on
}

/// The hash of the spec a container was created from, by this version's rules (so that an
/// upgrade of stackr recreates nothing); the hash label when the spec label is unreadable.
pub fn created_hash(c: &ContainerInfo) -> Option<String> {
    let image_id = c.labels.get(LABEL_IMAGE_ID).map_or("", String::as_str);
    c.labels
        .get(LABEL_SPEC)
        .and_then(|spec| crate::hash::stored_hash(spec, image_id))
        .or_else(|| c.labels.get(LABEL_HASH).cloned())
}

/// The reason of a container recreated because its image is rebuilt (and nothing else).
pub const REASON_IMAGE_REBUILT: &str = "its image is rebuilt";

/// Networks: created when missing, kept when there; one of a name only (a duplicate left by
/// an interrupted run goes); never another stack's or one stackr did not make.
fn plan_networks(desired: &Desired, observed: &Observed, p: &mut Plan) {
    for n in &desired.networks {
        let name = &n.spec.name;
        if n.external {
            if !observed
                .external_networks
                .get(name)
                .copied()
                .unwrap_or(false)
            {
                p.errors
                    .push(PlanProblem::ExternalNetworkMissing { name: name.clone() });
            }
            continue;
        }
        if let Some(other) = observed.foreign_networks.get(name) {
            p.errors
                .push(match other.labels.get(stackr_engine::LABEL_STACK) {
                    Some(owner) => PlanProblem::OwnedByAnotherStack {
                        kind: Kind::Network,
                        name: name.clone(),
                        stack: desired.stack.clone(),
                        owner: owner.clone(),
                        service: None,
                    },
                    None => PlanProblem::ForeignNetwork {
                        name: name.clone(),
                        stack: desired.stack.clone(),
                    },
                });
            continue;
        }
        let mut found: Vec<&NetworkInfo> = observed
            .networks
            .iter()
            .filter(|o| o.name == *name)
            .collect();
        // The one kept is the one containers use, else the oldest (as `apply` keeps when
        // its own create races another's).
        found.sort_by_key(|n| {
            (
                std::cmp::Reverse(n.attached.unwrap_or(0)),
                n.created,
                n.id.clone(),
            )
        });
        let Some(keep) = found.first() else {
            p.items
                .push(item(ObjectKind::Network, name, Action::Create));
            continue;
        };
        if keep.internal != n.spec.internal {
            // A network cannot change while containers use it.
            p.errors.push(PlanProblem::NetworkInternalChanged {
                name: name.clone(),
                on_engine: keep.internal,
            });
            continue;
        }
        let config = stackr_engine::LABEL_NETWORK_CONFIG;
        if keep.labels.get(config) != n.spec.labels.get(config) {
            p.errors
                .push(PlanProblem::NetworkConfigChanged { name: name.clone() });
            continue;
        }
        let mut it = item(ObjectKind::Network, name, Action::Keep);
        it.id = Some(keep.id.clone());
        p.items.push(it);
        for dup in found.iter().skip(1) {
            let mut it = item(ObjectKind::Network, name, Action::Remove);
            it.id = Some(dup.id.clone());
            it.reason = Some(REASON_DUPLICATE_NETWORK.into());
            p.items.push(it);
        }
    }
}

/// The reason of a network removed because another of its name is kept.
pub const REASON_DUPLICATE_NETWORK: &str =
    "a duplicate of the same name, left by an interrupted run";

/// Volumes: created when missing, kept when there; never another stack's. An external volume
/// must exist and must not be another stack's, nor hold a container's secrets.
fn plan_volumes(desired: &Desired, observed: &Observed, p: &mut Plan) {
    for v in &desired.volumes {
        let name = &v.spec.name;
        if v.external {
            match observed.external_volumes.get(name).cloned().flatten() {
                None => p
                    .errors
                    .push(PlanProblem::ExternalVolumeMissing { name: name.clone() }),
                Some(info) => {
                    if let Some(container) = info.labels.get(stackr_engine::LABEL_SECRETS_FOR) {
                        p.errors.push(PlanProblem::ExternalSecretsVolume {
                            name: name.clone(),
                            container: container.clone(),
                        });
                    } else if let Some(owner) = info.labels.get(stackr_engine::LABEL_STACK)
                        && *owner != desired.stack
                    {
                        p.errors.push(PlanProblem::ExternalVolumeOfAnotherStack {
                            name: name.clone(),
                            stack: desired.stack.clone(),
                            owner: owner.clone(),
                        });
                    }
                }
            }
            continue;
        }
        if let Some(other) = observed.foreign_volumes.get(name) {
            match other.labels.get(stackr_engine::LABEL_STACK) {
                Some(owner) => p.errors.push(PlanProblem::OwnedByAnotherStack {
                    kind: Kind::Volume,
                    name: name.clone(),
                    stack: desired.stack.clone(),
                    owner: owner.clone(),
                    service: None,
                }),
                None => {
                    p.warnings.push(PlanWarning::ForeignVolume {
                        name: name.clone(),
                        stack: desired.stack.clone(),
                    });
                    p.items.push(item(ObjectKind::Volume, name, Action::Keep));
                }
            }
            continue;
        }
        let exists = observed.volumes.iter().any(|o| o.name == *name);
        p.items.push(item(
            ObjectKind::Volume,
            name,
            if exists { Action::Keep } else { Action::Create },
        ));
    }
}

/// `pre-start` hooks: those run once run when the plan starts a container of the service and
/// none of its containers runs, or when it recreates or replaces them (a new spec: a migration
/// for the new version), never for a scale-up beside running replicas; those run per replica
/// precede each container the plan starts.
fn plan_pre_start(desired: &Desired, observed: &Observed, p: &mut Plan) {
    for s in desired.services.iter().filter(|s| !s.pre_start.is_empty()) {
        let items: Vec<&PlanItem> = p
            .items
            .iter()
            .filter(|i| i.kind == ObjectKind::Container && i.service.as_deref() == Some(&s.name))
            .collect();
        let starting: Vec<String> = items
            .iter()
            .filter(|i| {
                matches!(
                    i.action,
                    Action::Create | Action::Recreate | Action::Replace | Action::Start
                )
            })
            .map(|i| i.name.clone())
            .collect();
        if starting.is_empty() {
            continue;
        }
        let running = observed.containers.iter().any(|c| {
            c.service() == Some(s.name.as_str())
                && c.state == ContainerState::Running
                && !c.labels.contains_key(stackr_engine::LABEL_HELPER)
        });
        let renewed = items
            .iter()
            .any(|i| matches!(i.action, Action::Recreate | Action::Replace));
        let once = s.pre_start.iter().any(|h| !h.per_replica) && (!running || renewed);
        let replicas = if s.pre_start.iter().any(|h| h.per_replica) {
            starting
        } else {
            Vec::new()
        };
        if once || !replicas.is_empty() {
            p.pre_start.push(crate::prestart::PreStartRun {
                service: s.name.clone(),
                once,
                replicas,
            });
        }
    }
}

/// `up --no-deps`: the containers the plan starts that would wait for a dependency.
fn plan_released(desired: &Desired, p: &mut Plan) {
    let started: Vec<String> = p
        .items
        .iter()
        .filter(|i| {
            i.kind == ObjectKind::Container
                && matches!(
                    i.action,
                    Action::Create | Action::Recreate | Action::Replace | Action::Start
                )
        })
        .filter(|i| {
            desired
                .services
                .iter()
                .flat_map(|s| &s.containers)
                .any(|c| c.spec.name == i.name && crate::recovery::waiting_slot(&c.spec).is_some())
        })
        .map(|i| i.name.clone())
        .collect();
    p.released = started;
}

/// Computes the plan.
pub fn plan(desired: &Desired, observed: &Observed, opts: &PlanOptions) -> Plan {
    let mut p = Plan::empty(&desired.stack);
    let chosen = if opts.no_deps && !opts.services.is_empty() {
        opts.services.iter().cloned().collect()
    } else {
        selected(desired, &opts.services)
    };
    for name in &opts.services {
        if desired.service(name).is_none() {
            p.errors.push(PlanProblem::UnknownService {
                stack: desired.stack.clone(),
                service: name.clone(),
            });
        }
    }

    plan_networks(desired, observed, &mut p);
    plan_volumes(desired, observed, &mut p);
    plan_cpu_limits(desired, observed, &chosen, &mut p);
    plan_api_fields(desired, observed, &chosen, &mut p);

    let rebuilt = plan_images(desired, observed, opts, &chosen, &mut p);
    let (recreated, claimed) = plan_containers(desired, observed, opts, &chosen, &rebuilt, &mut p);
    plan_restarts(desired, &recreated, &mut p);
    if opts.no_start {
        plan_no_start(&mut p);
    } else {
        plan_rollouts(desired, &mut p);
        plan_pre_start(desired, observed, &mut p);
    }
    if opts.no_deps && !opts.services.is_empty() {
        plan_released(desired, &mut p);
    }
    plan_hardening(desired, &chosen, &mut p);
    plan_orphans(desired, observed, opts, &claimed, &mut p);
    p
}

/// `stackr rollback`: each running container of the chosen services (all when none are)
/// that replaced another goes back to the spec and image it replaced, with the service's
/// `rollback` policy. Services with nothing to go back to are named in `nothing`.
pub fn plan_rollback(
    desired: &Desired,
    observed: &Observed,
    services: &[String],
) -> (Plan, Vec<String>) {
    // Networks and volumes as `up` would have them (containers join networks by id); no
    // container of the file's spec, no image.
    let mut p = Plan::empty(&desired.stack);
    plan_networks(desired, observed, &mut p);
    plan_volumes(desired, observed, &mut p);
    let mut nothing = Vec::new();
    for s in &desired.services {
        if !services.is_empty() && !services.contains(&s.name) {
            continue;
        }
        let mut names = Vec::new();
        let mut slots: Vec<&ContainerInfo> = observed
            .containers
            .iter()
            .filter(|c| {
                c.service() == Some(s.name.as_str())
                    && !c.labels.contains_key(stackr_engine::LABEL_HELPER)
            })
            .collect();
        slots.sort_by_key(|c| c.number());
        for c in slots {
            let Some(target) = crate::rollout::replaced_by(c) else {
                continue;
            };
            let order = if s.rollback.order == stackr_spec::model::UpdateOrder::StartFirst
                && c.state == ContainerState::Running
            {
                Action::Replace
            } else {
                Action::Recreate
            };
            let mut it = item(ObjectKind::Container, &c.name, order);
            it.service = Some(s.name.clone());
            it.id = Some(c.id.clone());
            let now = c.labels.get(LABEL_SPEC).cloned().unwrap_or_default();
            it.changes = diff_specs(&now, &target.spec);
            it.reason = Some("back to the spec it replaced".into());
            it.previous = crate::rollout::created_from(c);
            it.target = Some(target);
            names.push(c.name.clone());
            p.items.push(it);
        }
        if names.is_empty() {
            nothing.push(s.name.clone());
            continue;
        }
        p.rollouts.push(crate::rollout::RolloutPlan {
            service: s.name.clone(),
            update: s.rollback,
            rollback: s.rollback,
            batches: crate::rollout::RolloutPlan::batches(&s.rollback, names),
            is_rollback: true,
        });
    }
    (p, nothing)
}

/// A CPU limit beyond the engine's CPUs is refused by the engine when the container is
/// created, after the services before it have started: found here, before anything changes.
fn plan_cpu_limits(
    desired: &Desired,
    observed: &Observed,
    chosen: &BTreeSet<String>,
    p: &mut Plan,
) {
    let Some(available) = observed.engine_cpus else {
        return;
    };
    for s in desired.services.iter().filter(|s| chosen.contains(&s.name)) {
        let limit = s.containers.iter().filter_map(|c| c.spec.nano_cpus).max();
        if let Some(nano_cpus) = limit.filter(|n| *n > i64::from(available) * 1_000_000_000) {
            p.errors.push(PlanProblem::CpusBeyondEngine {
                service: s.name.clone(),
                nano_cpus,
                available,
            });
        }
    }
}

/// The fields a container sets that need a newer engine API than 1.41, with the version
/// each needs: the plan checks them, and `observe` asks the engine's version only for them.
pub fn newer_api_fields(spec: &stackr_engine::ContainerSpec) -> Vec<(&'static str, (u32, u32))> {
    let mounts = |f: fn(&MountSpec) -> bool| spec.mounts.iter().any(f);
    [
        ("annotations", !spec.host.annotations.is_empty(), (1, 43)),
        ("mac-address", spec.host.mac_address.is_some(), (1, 44)),
        (
            "network mac-address",
            spec.networks.iter().any(|n| n.mac_address.is_some()),
            (1, 44),
        ),
        (
            "network gw-priority",
            spec.networks.iter().any(|n| n.gw_priority.is_some()),
            (1, 48),
        ),
        (
            "mount subpath=",
            mounts(|m| {
                matches!(
                    m,
                    MountSpec::Volume {
                        subpath: Some(_),
                        ..
                    }
                )
            }),
            (1, 45),
        ),
        (
            "mount image=",
            mounts(|m| matches!(m, MountSpec::Image { .. })),
            (1, 47),
        ),
    ]
    .into_iter()
    .filter(|(_, set, _)| *set)
    .map(|(field, _, needs)| (field, needs))
    .collect()
}

/// What a build asks for that needs a newer engine API than 1.41: named contexts come with
/// BuildKit 0.10 (Docker Engine 23).
pub fn newer_api_build_fields(
    build: Option<&stackr_engine::BuildSpec>,
) -> Vec<(&'static str, (u32, u32))> {
    match build {
        Some(b) if !b.additional_contexts.is_empty() => {
            vec![("build additional-contexts", (1, 42))]
        }
        _ => Vec::new(),
    }
}

/// Fields the engine's API version does not have: an error naming the version each needs,
/// rather than a field dropped.
fn plan_api_fields(
    desired: &Desired,
    observed: &Observed,
    chosen: &BTreeSet<String>,
    p: &mut Plan,
) {
    let Some(api) = observed.engine_api else {
        return;
    };
    for s in desired.services.iter().filter(|s| chosen.contains(&s.name)) {
        let fields = s
            .containers
            .first()
            .map(|c| newer_api_fields(&c.spec))
            .unwrap_or_default()
            .into_iter()
            .chain(newer_api_build_fields(s.build.as_ref()));
        for (field, needs) in fields {
            if api < needs {
                p.errors.push(PlanProblem::NeedsNewerApi {
                    service: s.name.clone(),
                    field: field.into(),
                    needs: format!("{}.{}", needs.0, needs.1),
                    has: format!("{}.{}", api.0, api.1),
                });
            }
        }
    }
}

/// Images: built ones are built when missing, changed or asked for; others must be there.
/// Returns the image references that will change.
fn plan_images(
    desired: &Desired,
    observed: &Observed,
    opts: &PlanOptions,
    chosen: &BTreeSet<String>,
    p: &mut Plan,
) -> BTreeSet<String> {
    let mut rebuilt: BTreeSet<String> = BTreeSet::new();
    for s in desired.services.iter().filter(|s| chosen.contains(&s.name)) {
        let have = observed.images.get(&s.image).cloned().flatten();
        match (&s.build, have) {
            (Some(_), None) => {
                let mut it = item(ObjectKind::Image, &s.image, Action::Build);
                it.service = Some(s.name.clone());
                it.reason = Some("not built yet".into());
                p.items.push(it);
                rebuilt.insert(s.image.clone());
            }
            (Some(_), Some(img)) if opts.build => {
                let mut it = item(ObjectKind::Image, &s.image, Action::Build);
                it.service = Some(s.name.clone());
                it.id = Some(img.id);
                it.reason = Some("--build".into());
                p.items.push(it);
                rebuilt.insert(s.image.clone());
            }
            (Some(b), Some(img))
                if b.labels
                    .get(stackr_engine::LABEL_BUILD_HASH)
                    .is_some_and(|want| {
                        img.labels.get(stackr_engine::LABEL_BUILD_HASH) != Some(want)
                    }) =>
            {
                let mut it = item(ObjectKind::Image, &s.image, Action::Build);
                it.service = Some(s.name.clone());
                it.id = Some(img.id);
                it.reason = Some("its build inputs changed".into());
                p.items.push(it);
                rebuilt.insert(s.image.clone());
            }
            (Some(b), Some(img)) => {
                let base = changed_base(&b.labels, &img.labels);
                let action = if base.is_some() {
                    Action::Build
                } else {
                    Action::Keep
                };
                let mut it = item(ObjectKind::Image, &s.image, action);
                it.service = Some(s.name.clone());
                it.id = Some(img.id);
                if let Some(base) = base {
                    it.reason = Some(format!("its base image `{base}` changed"));
                    rebuilt.insert(s.image.clone());
                }
                p.items.push(it);
            }
            // Built by another service of the stack, before any container is created.
            (None, None)
                if desired
                    .services
                    .iter()
                    .any(|o| o.build.as_ref().is_some_and(|b| b.tag == s.image)) => {}
            (None, None) => p.errors.push(PlanProblem::ImageMissing {
                service: s.name.clone(),
                image: s.image.clone(),
            }),
            (None, Some(_)) => {}
        }
    }
    rebuilt
}

/// The first base image whose id on the engine differs from the one the image was built on.
/// A base the build pulled (no id then) or that is gone now is no reason to rebuild.
fn changed_base(
    want: &BTreeMap<String, String>,
    built: &BTreeMap<String, String>,
) -> Option<String> {
    let now = stackr_engine::bases::decode(want.get(stackr_engine::LABEL_BUILD_BASES)?);
    let then = stackr_engine::bases::decode(built.get(stackr_engine::LABEL_BUILD_BASES)?);
    then.into_iter().find_map(|(reference, was)| {
        let was = was?;
        let is = now.iter().find(|(r, _)| *r == reference)?.1.as_ref()?;
        (*is != was).then_some(reference)
    })
}

/// Containers, in start order: one item per slot, and the surplus removed. Returns the
/// services recreated and the containers claimed by a slot.
fn plan_containers(
    desired: &Desired,
    observed: &Observed,
    opts: &PlanOptions,
    chosen: &BTreeSet<String>,
    rebuilt: &BTreeSet<String>,
    p: &mut Plan,
) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut recreated: BTreeSet<String> = BTreeSet::new();
    let mut claimed: BTreeSet<String> = BTreeSet::new();
    for s in &desired.services {
        // One-off containers (`stackr run`) are not slots of the service.
        let mine: Vec<&ContainerInfo> = observed
            .containers
            .iter()
            .filter(|c| {
                c.service() == Some(s.name.as_str())
                    && !c.labels.contains_key(stackr_engine::LABEL_HELPER)
            })
            .collect();
        if !chosen.contains(&s.name) {
            for c in &mine {
                claimed.insert(c.id.clone());
            }
            continue;
        }
        for want in &s.containers {
            let mut candidates: Vec<&&ContainerInfo> = mine
                .iter()
                .filter(|c| c.number() == Some(want.number))
                .collect();
            if let Some(done) = plan_interrupted(s, want, &mut candidates, p) {
                for id in done {
                    claimed.insert(id);
                }
                if candidates.is_empty() {
                    recreated.insert(s.name.clone());
                    continue;
                }
            }
            // Prefer a running container, then the one with the wanted spec.
            candidates.sort_by_key(|c| {
                (
                    c.state != ContainerState::Running,
                    created_hash(c).as_ref() != Some(&want.hash),
                )
            });
            let Some(current) = candidates.first() else {
                if let Some(other) = observed.other_stacks_containers.get(&want.spec.name) {
                    p.errors.push(PlanProblem::OwnedByAnotherStack {
                        kind: Kind::Container,
                        name: want.spec.name.clone(),
                        stack: desired.stack.clone(),
                        owner: other
                            .labels
                            .get(stackr_engine::LABEL_STACK)
                            .cloned()
                            .unwrap_or_default(),
                        service: Some(s.name.clone()),
                    });
                    continue;
                }
                let mut it = item(ObjectKind::Container, &want.spec.name, Action::Create);
                it.service = Some(s.name.clone());
                p.items.push(it);
                continue;
            };
            for extra in candidates.iter().skip(1) {
                let mut it = item(ObjectKind::Container, &extra.name, Action::Remove);
                it.service = Some(s.name.clone());
                it.id = Some(extra.id.clone());
                it.reason = Some("a second container for the same slot".into());
                p.items.push(it);
                claimed.insert(extra.id.clone());
            }
            claimed.insert(current.id.clone());
            let it = plan_slot(desired, observed, opts, s, want, current, rebuilt);
            if matches!(it.action, Action::Recreate | Action::Replace) {
                recreated.insert(s.name.clone());
            }
            p.items.push(it);
        }
        // Scaled down: the highest numbers go.
        for c in &mine {
            let wanted = c.number().is_some_and(|n| n as usize <= s.containers.len());
            if !wanted && !claimed.contains(&c.id) {
                let mut it = item(ObjectKind::Container, &c.name, Action::Remove);
                it.service = Some(s.name.clone());
                it.id = Some(c.id.clone());
                it.reason = Some("scaled down".into());
                p.items.push(it);
                claimed.insert(c.id.clone());
            }
        }
    }
    (recreated, claimed)
}

/// The plan item of one container slot that has a container: keep, start, or recreate
/// (with the fields that changed).
fn plan_slot(
    desired: &Desired,
    observed: &Observed,
    opts: &PlanOptions,
    s: &crate::desired::DesiredService,
    want: &crate::desired::DesiredContainer,
    current: &ContainerInfo,
    rebuilt: &BTreeSet<String>,
) -> PlanItem {
    // A run killed between creating a container and attaching its other networks leaves
    // it with the right hash but too few networks: that is a change too.
    let missing_networks: Vec<&str> = match &current.networks {
        Some(have) if want.spec.network_mode.is_none() => want
            .spec
            .networks
            .iter()
            .map(|n| n.network.as_str())
            .filter(|n| !have.iter().any(|h| h == n))
            .collect(),
        _ => Vec::new(),
    };
    // A rotated secret (new file content or variable value) recreates its users.
    let changed_secrets: Vec<String> = if want.secrets.is_empty() {
        Vec::new()
    } else {
        let now = crate::desired::secrets_digest(&want.secrets);
        let before = observed
            .secret_digests
            .get(&current.name)
            .cloned()
            .unwrap_or_default();
        want.secrets
            .iter()
            .zip(now.lines())
            .filter(|(_, line)| !before.lines().any(|b| b == *line))
            .map(|(f, _)| format!("{} `{}`", f.kind, f.name))
            .collect()
    };
    let same = created_hash(current).as_ref() == Some(&want.hash)
        && missing_networks.is_empty()
        && changed_secrets.is_empty();
    let image_rebuilt = rebuilt.contains(&s.image);
    let mut it = item(ObjectKind::Container, &want.spec.name, Action::Keep);
    it.service = Some(s.name.clone());
    it.id = Some(current.id.clone());
    if opts.force_recreate && !opts.no_recreate {
        it.action = Action::Recreate;
        it.reason = Some("--force-recreate".into());
    } else if (!same || image_rebuilt || current.name != want.spec.name) && !opts.no_recreate {
        it.action = Action::Recreate;
        let old = current.labels.get(LABEL_SPEC).cloned().unwrap_or_default();
        it.changes = diff_specs(&old, &want.spec);
        for name in &changed_secrets {
            it.changes.push(Change {
                field: name.clone(),
                from: "the value it was created with".into(),
                to: "another value, owner or mode".into(),
            });
        }
        if !missing_networks.is_empty() {
            it.changes.push(Change {
                field: "attached networks".into(),
                from: format!("without {}", missing_networks.join(", ")),
                to: "all of them".into(),
            });
        }
        if current.name != want.spec.name {
            it.changes.push(Change {
                field: "name".into(),
                from: current.name.clone(),
                to: want.spec.name.clone(),
            });
        }
        let old_image = current
            .labels
            .get(LABEL_IMAGE_ID)
            .cloned()
            .unwrap_or_default();
        let new_image = want
            .spec
            .labels
            .get(LABEL_IMAGE_ID)
            .cloned()
            .unwrap_or_default();
        if image_rebuilt {
            it.reason = Some(REASON_IMAGE_REBUILT.into());
        } else if old_image != new_image && !it.changes.iter().any(|c| c.field == "image") {
            it.changes.push(Change {
                field: "image id".into(),
                from: short(&old_image),
                to: short(&new_image),
            });
        }
        if it.changes.is_empty() && it.reason.is_none() {
            it.reason = Some("created from another version of stackr".into());
        }
        if it.reason.is_none()
            && current
                .labels
                .contains_key(crate::rollout::LABEL_ROLLED_BACK)
        {
            it.reason =
                Some("rolled back by `stackr rollback`: `up` deploys the stack file".into());
        }
        it.previous = crate::rollout::created_from(current);
        // Start-first needs an old container that runs: otherwise there is nothing to keep.
        if s.update.order == stackr_spec::model::UpdateOrder::StartFirst
            && current.state == ContainerState::Running
        {
            it.action = Action::Replace;
        }
    } else if current.state == ContainerState::Paused {
        it.action = Action::Unpause;
        it.reason = Some("paused".into());
    } else if current.state != ContainerState::Running {
        if stays_done(desired, &s.name, want, current) {
            it.reason = Some("completed".into());
        } else {
            it.action = Action::Start;
            it.reason = Some(match (current.state, current.exit_code) {
                (ContainerState::Exited, Some(code)) => format!("exited ({code})"),
                (state, _) => state.as_str().to_string(),
            });
        }
    }
    it
}

/// `up --no-start`: nothing starts. What is not running stays so; a replacement that needs
/// its new container running beside the old one becomes a recreate.
fn plan_no_start(p: &mut Plan) {
    p.no_start = true;
    for it in p
        .items
        .iter_mut()
        .filter(|i| i.kind == ObjectKind::Container)
    {
        match it.action {
            Action::Start | Action::Unpause | Action::Restart => {
                it.action = Action::Keep;
                it.reason = Some("not started: `--no-start`".into());
            }
            Action::Replace => it.action = Action::Recreate,
            _ => {}
        }
    }
}

/// Dependents that ask to restart with a recreated dependency.
fn plan_restarts(desired: &Desired, recreated: &BTreeSet<String>, p: &mut Plan) {
    for s in &desired.services {
        let restart_for: Vec<&str> = s
            .depends_on
            .iter()
            .filter(|d| d.restart && recreated.contains(&d.service))
            .map(|d| d.service.as_str())
            .collect();
        if restart_for.is_empty() {
            continue;
        }
        for it in p.items.iter_mut().filter(|i| {
            i.kind == ObjectKind::Container && i.service.as_deref() == Some(s.name.as_str())
        }) {
            if matches!(it.action, Action::Keep | Action::Start) {
                it.action = Action::Restart;
                it.reason = Some(format!("`{}` is recreated", restart_for.join("`, `")));
            }
        }
    }
}

/// A slot an interrupted replace left with a `-next` container: a `-next` with the wanted
/// spec is adopted (renamed when it is alone, the replace finished when the old one is still
/// there); any other `-next` is removed. Returns the containers it dealt with, and leaves in
/// `candidates` those still to plan (none when the slot is settled).
fn plan_interrupted(
    s: &crate::desired::DesiredService,
    want: &crate::desired::DesiredContainer,
    candidates: &mut Vec<&&ContainerInfo>,
    p: &mut Plan,
) -> Option<Vec<String>> {
    let temp = crate::rollout::next_name(&want.spec.name);
    let pos = candidates.iter().position(|c| c.name == temp)?;
    let next = candidates.remove(pos);
    let wanted = created_hash(next).as_ref() == Some(&want.hash);
    let old_is_wanted = candidates
        .iter()
        .any(|c| created_hash(c).as_ref() == Some(&want.hash));
    let mut it = item(ObjectKind::Container, &want.spec.name, Action::Rename);
    it.service = Some(s.name.clone());
    if !wanted || old_is_wanted {
        it.name = next.name.clone();
        it.action = Action::Remove;
        it.id = Some(next.id.clone());
        it.reason = Some("left by an interrupted update".into());
        p.items.push(it);
        return Some(vec![next.id.clone()]);
    }
    match candidates.first() {
        None => {
            it.id = Some(next.id.clone());
            it.reason = Some(format!("finishes an interrupted update: `{temp}`"));
            p.items.push(it);
        }
        Some(old) => {
            it.action = Action::Replace;
            it.id = Some(old.id.clone());
            it.next = Some(next.id.clone());
            it.previous = crate::rollout::created_from(old);
            it.reason = Some(format!(
                "goes on with `{temp}`, left by an interrupted update"
            ));
            for extra in candidates.iter().skip(1) {
                let mut x = item(ObjectKind::Container, &extra.name, Action::Remove);
                x.service = Some(s.name.clone());
                x.id = Some(extra.id.clone());
                x.reason = Some("a second container for the same slot".into());
                p.items.push(x);
            }
            p.items.push(it);
            let ids = std::iter::once(next.id.clone())
                .chain(candidates.iter().map(|c| c.id.clone()))
                .collect();
            candidates.clear();
            return Some(ids);
        }
    }
    Some(vec![next.id.clone()])
}

/// The rolling update of each service whose containers are replaced: the batches its policy
/// makes of them, in slot order.
fn plan_rollouts(desired: &Desired, p: &mut Plan) {
    for s in &desired.services {
        let names: Vec<String> = p
            .items
            .iter()
            .filter(|i| {
                i.kind == ObjectKind::Container
                    && i.service.as_deref() == Some(s.name.as_str())
                    && matches!(i.action, Action::Recreate | Action::Replace)
            })
            .map(|i| i.name.clone())
            .collect();
        if names.is_empty() {
            continue;
        }
        p.rollouts.push(crate::rollout::RolloutPlan {
            service: s.name.clone(),
            update: s.update,
            rollback: s.rollback,
            batches: crate::rollout::RolloutPlan::batches(&s.update, names),
            is_rollback: false,
        });
    }
}

/// Hardening: what a production deploy should not do unknowingly.
fn plan_hardening(desired: &Desired, chosen: &BTreeSet<String>, p: &mut Plan) {
    for s in desired.services.iter().filter(|s| chosen.contains(&s.name)) {
        let Some(c) = s.containers.first() else {
            continue;
        };
        let acked = |w: &str| s.acknowledged.iter().any(|a| a == w);
        let mut found = Vec::new();
        let root = match c.spec.user.as_deref() {
            None => true,
            Some(u) => u == "root" || u == "0" || u.starts_with("0:") || u.starts_with("root:"),
        };
        if root && !acked("root") {
            found.push("root".to_string());
        }
        if c.spec.memory.is_none() && !acked("no-memory-limit") {
            found.push("no-memory-limit".to_string());
        }
        if !c.spec.read_only && !acked("writable-root") {
            found.push("writable-root".to_string());
        }
        if !found.is_empty() {
            p.hardening.push(Hardening {
                service: s.name.clone(),
                warnings: found,
            });
        }
    }
}

/// Orphans: containers of services the stack no longer has.
fn plan_orphans(
    desired: &Desired,
    observed: &Observed,
    opts: &PlanOptions,
    claimed: &BTreeSet<String>,
    p: &mut Plan,
) {
    for c in &observed.containers {
        if claimed.contains(&c.id) || c.labels.contains_key(stackr_engine::LABEL_HELPER) {
            continue;
        }
        let service = c.service().unwrap_or("?").to_string();
        if desired.service(&service).is_some() {
            continue;
        }
        if opts.remove_orphans {
            let mut it = item(ObjectKind::Container, &c.name, Action::Remove);
            it.service = Some(service);
            it.id = Some(c.id.clone());
            it.reason = Some("orphan: its service is no longer in the stack".into());
            p.items.push(it);
        } else {
            p.warnings.push(PlanWarning::Orphan {
                container: c.name.clone(),
                service,
            });
        }
    }
}

/// The plan as people read it: one line per object, the changed fields under the recreated
/// ones, then warnings and errors.
pub fn render_text(plan: &Plan) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let mut counts = Vec::new();
    for (action, word) in [
        (Action::Create, "to create"),
        (Action::Build, "to build"),
        (Action::Recreate, "to recreate"),
        (Action::Replace, "to replace"),
        (Action::Rename, "to rename"),
        (Action::Start, "to start"),
        (Action::Unpause, "to unpause"),
        (Action::Restart, "to restart"),
        (Action::Remove, "to remove"),
        (Action::Keep, "unchanged"),
    ] {
        let n = plan.count(action);
        if n > 0 {
            counts.push(format!("{n} {word}"));
        }
    }
    if counts.is_empty() {
        counts.push("nothing to do".into());
    }
    let _ = writeln!(out, "stack `{}`: {}", plan.stack, counts.join(", "));
    if plan.no_start {
        let _ = writeln!(out, "  (containers are created, not started: `--no-start`)");
    }
    let width = plan.items.iter().map(|i| i.name.len()).max().unwrap_or(0);
    for it in &plan.items {
        let sign = match it.action {
            Action::Create | Action::Build => '+',
            Action::Recreate | Action::Replace | Action::Rename => '~',
            Action::Start | Action::Unpause => '>',
            Action::Restart => 'r',
            Action::Remove => '-',
            Action::Keep => '=',
        };
        let kind = match it.kind {
            ObjectKind::Network => "network",
            ObjectKind::Volume => "volume",
            ObjectKind::Image => "image",
            ObjectKind::Container => "container",
        };
        let reason = it
            .reason
            .as_ref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {sign} {kind:<9} {:<width$}  {}{reason}",
            it.name,
            it.action.as_str()
        );
        for c in &it.changes {
            let _ = writeln!(out, "        {}: {} -> {}", c.field, c.from, c.to);
        }
    }
    // A lone stop-first recreate says all in its line.
    for r in plan.rollouts.iter().filter(|r| {
        r.update.order == stackr_spec::model::UpdateOrder::StartFirst
            || r.batches.iter().map(Vec::len).sum::<usize>() > 1
    }) {
        let what = if r.is_rollback { "rollback" } else { "update" };
        let _ = writeln!(out, "{what} of `{}`: {}", r.service, r.summary());
        if r.batches.len() > 1 || r.batches.iter().any(|b| b.len() > 1) {
            for (i, b) in r.batches.iter().enumerate() {
                let _ = writeln!(out, "  batch {}: {}", i + 1, b.join(", "));
            }
        }
    }
    for r in &plan.pre_start {
        if r.once {
            let _ = writeln!(out, "pre-start of `{}`: once, before it starts", r.service);
        }
        if !r.replicas.is_empty() {
            let _ = writeln!(
                out,
                "pre-start of `{}`: before each of {}",
                r.service,
                r.replicas.join(", ")
            );
        }
    }
    for w in &plan.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    if !plan.hardening.is_empty() {
        let _ = writeln!(
            out,
            "hardening (acknowledge one with `acknowledge \"NAME\"` in the service):"
        );
        for h in &plan.hardening {
            let words: Vec<&str> = h
                .warnings
                .iter()
                .map(|w| match w.as_str() {
                    "root" => "runs as root or the image's user (`root`: set `user`)",
                    "no-memory-limit" => {
                        "no memory limit (`no-memory-limit`: set `limits memory=`)"
                    }
                    _ => "writable root filesystem (`writable-root`: set `read-only #true`)",
                })
                .collect();
            let _ = writeln!(out, "  {}: {}", h.service, words.join("; "));
        }
    }
    for e in &plan.errors {
        let _ = writeln!(out, "error: {e}");
        if let Some(h) = e.help() {
            let _ = writeln!(out, "  help: {h}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use stackr_engine::{ContainerSpec, HealthSpec};
    use std::time::Duration;

    fn bases(text: &str) -> BTreeMap<String, String> {
        BTreeMap::from([(
            stackr_engine::LABEL_BUILD_BASES.to_string(),
            text.to_string(),
        )])
    }

    #[test]
    fn a_base_image_with_another_id_rebuilds_and_a_pulled_one_does_not() {
        let built = bases("local/python:3.11=sha256:aaa registry/x:1=?");
        assert_eq!(
            changed_base(
                &bases("local/python:3.11=sha256:bbb registry/x:1=sha256:ccc"),
                &built
            ),
            Some("local/python:3.11".to_string())
        );
        // The one pulled during the build (no id then) has one now: no rebuild for that.
        assert_eq!(
            changed_base(
                &bases("local/python:3.11=sha256:aaa registry/x:1=sha256:ccc"),
                &built
            ),
            None
        );
        // Gone from the engine, or an image built before stackr recorded bases: no rebuild.
        assert_eq!(changed_base(&bases("local/python:3.11=?"), &built), None);
        assert_eq!(
            changed_base(&bases("local/python:3.11=sha256:bbb"), &BTreeMap::new()),
            None
        );
    }

    #[test]
    fn diffs_read_as_the_stack_file_writes_them() {
        let old = ContainerSpec {
            memory: Some(64 << 20),
            nano_cpus: Some(500_000_000),
            health: Some(HealthSpec {
                test: vec!["CMD".into(), "true".into()],
                interval: Some(Duration::from_secs(1)),
                ..HealthSpec::default()
            }),
            stop_timeout: Some(Duration::from_secs(10)),
            ..ContainerSpec::default()
        };
        let new = ContainerSpec {
            memory: Some(1 << 30),
            nano_cpus: Some(1_500_000_000),
            health: Some(HealthSpec {
                test: vec!["CMD".into(), "true".into()],
                interval: Some(Duration::from_millis(500)),
                ..HealthSpec::default()
            }),
            stop_timeout: Some(Duration::from_secs(5)),
            ..ContainerSpec::default()
        };
        let old_json = serde_json::to_string(&old).unwrap_or_default();
        let shown: Vec<String> = diff_specs(&old_json, &new)
            .into_iter()
            .map(|c| format!("{}: {} -> {}", c.field, c.from, c.to))
            .collect();
        assert_eq!(
            shown,
            [
                "cpus: 0.5 -> 1.5",
                "health.interval: 1s -> 500ms",
                "memory: 64 MiB -> 1 GiB",
                "stop_timeout: 10s -> 5s",
            ]
        );
    }
}
