//! Applying a plan, and tearing a stack down.
//!
//! Every service runs as its own future: it removes and creates what its plan items ask for
//! right away (so that only the start remains), then waits until each of its dependencies meets
//! its condition, then starts. Conditions are learnt from the engine's event stream, subscribed
//! before anything is created; a dependency that is overdue is inspected, so a missed event
//! never hangs the run.
//!
//! A recreate stops and removes the old container before creating the new one under the same
//! name: an interruption at any point leaves at most one container per slot, never a temporary
//! name, and the next run converges.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use stackr_engine::{
    ContainerInfo, ContainerState, Engine, EngineError, EventKind, HealthState, LABEL_STACK,
};
use stackr_spec::{Condition, Stack};
use thiserror::Error;
use tokio::sync::watch;

mod pre_start;
mod roll;

use crate::ReconcileError;
use crate::desired::{DesiredContainer, DesiredService, Inputs, desired};
use crate::plan::{Action, ObjectKind, Plan, PlanItem};

/// Something that happened while applying, for the user to see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    NetworkCreated {
        name: String,
    },
    VolumeCreated {
        name: String,
    },
    NetworkRemoved {
        name: String,
    },
    PreBuild {
        service: String,
        command: String,
    },
    Building {
        service: String,
        tag: String,
    },
    BuildOutput {
        service: String,
        line: String,
    },
    Built {
        service: String,
        id: String,
    },
    Removed {
        service: String,
        name: String,
    },
    /// `warnings`: what the engine said while creating it (a limit it dropped).
    Created {
        service: String,
        name: String,
        warnings: Vec<String>,
    },
    Waiting {
        service: String,
        dependency: String,
        condition: Condition,
    },
    /// The start request is about to be sent (the dependencies are met).
    Starting {
        service: String,
        name: String,
    },
    Started {
        service: String,
        name: String,
    },
    Restarted {
        service: String,
        name: String,
    },
    /// `engine_time`: when the engine says the check passed (Unix nanoseconds).
    Healthy {
        service: String,
        name: String,
        engine_time: Option<i64>,
    },
    Exited {
        service: String,
        name: String,
        code: i64,
    },
    /// A batch of a rolling update begins.
    UpdateBatch {
        service: String,
        /// From 1.
        batch: usize,
        batches: usize,
        containers: Vec<String>,
    },
    /// A new container of a rolling update took its slot's name.
    Renamed {
        service: String,
        from: String,
        to: String,
    },
    /// A new container of a rolling update failed.
    ReplaceFailed {
        service: String,
        name: String,
        reason: String,
    },
    /// A failed update is undone: these containers get their previous spec back.
    RollingBack {
        service: String,
        containers: Vec<String>,
    },
    /// A `pre-start` hook begins, in its own container.
    PreStart {
        service: String,
        name: String,
        command: String,
    },
    /// A `pre-start` hook ended well; its container is gone.
    PreStartDone {
        service: String,
        name: String,
    },
    /// A `pre-stop` hook failed; the stop went on.
    HookFailed {
        service: String,
        name: String,
        message: String,
    },
}

/// Why applying stopped.
#[derive(Debug, Error)]
pub enum ApplyError {
    #[error("{context}: {error}")]
    Engine {
        context: String,
        service: Option<String>,
        error: EngineError,
    },
    #[error("the build of service `{service}` failed: {error}")]
    Build { service: String, error: EngineError },
    #[error("the pre-build command `{command}` of service `{service}` failed ({status})")]
    PreBuild {
        service: String,
        command: String,
        status: String,
        output: String,
    },
    #[error("service `{service}` cannot start: dependency `{dependency}` {reason}")]
    Dependency {
        service: String,
        dependency: String,
        reason: String,
        /// The dependency's last health check output, when it is unhealthy.
        output: Option<String>,
    },
    #[error("service `{service}` is not ready: {reason}")]
    NotReady {
        service: String,
        reason: String,
        /// Its last health check output, when it has one.
        output: Option<String>,
    },
    #[error(transparent)]
    UpdateFailed(Box<UpdateFailure>),
    #[error("service `{service}`: {error}")]
    Hook {
        service: String,
        error: crate::hooks::HookError,
    },
    #[error("service `{service}` was stopped before it started: {reason}")]
    Cancelled { service: String, reason: String },
    #[error(transparent)]
    Reconcile(#[from] ReconcileError),
}

/// A rolling update that failed: the last container that failed and why, and what became of
/// the update.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "the update of service `{service}` failed: the new `{container}` {reason}{}; {outcome}",
    if *failed > 1 { format!(" ({failed} containers failed)") } else { String::new() }
)]
pub struct UpdateFailure {
    pub service: String,
    pub container: String,
    pub reason: String,
    /// Its last health check output.
    pub output: Option<String>,
    pub failed: usize,
    pub outcome: UpdateOutcome,
}

/// What became of a failed update.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UpdateOutcome {
    #[error("it was rolled back: every container runs its previous spec")]
    RolledBack,
    #[error("rolling it back failed too: {reason}")]
    RollbackFailed { reason: String },
    #[error(
        "the update is paused: the containers replaced so far keep the new spec, the others \
         the old one (`up` tries again, `stackr rollback` goes back)"
    )]
    Paused,
    #[error("the other containers were updated (`failure-action \"continue\"`)")]
    Continued,
}

/// stackr's probe runner: the volume it lives in and the static binary to put there.
#[derive(Debug, Clone)]
pub struct ProbeRunner {
    pub volume: String,
    /// An image of the probe runner alone (the stack lock runs it).
    pub image: String,
    pub binary: &'static [u8],
}

/// How to apply.
#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    /// How long a stopping container gets before it is killed; `None`: its own grace period.
    pub stop_timeout: Option<Duration>,
    /// Given to containers with native `http`/`tcp` checks.
    pub probe: Option<ProbeRunner>,
    /// Set to `true` to stop: each service stops at its next step, and `apply` returns once
    /// no engine call is in flight.
    pub cancel: Option<watch::Receiver<bool>>,
}

/// Puts the probe runner into its volume, creating the volume when missing. The volume is
/// shared by every stack on the engine (it is named after the probe's digest), so runs of other
/// stacks may fill it at the same moment: the probe already there, whole, is left alone, and a
/// fill that collides with another is tried again. The volume is read and filled through a
/// helper container that is never started (made from `image`, which any image does, since
/// nothing in it runs), then removed; an interrupted fill is repaired by the next run.
pub async fn ensure_probe<E: Engine>(
    engine: &E,
    probe: &ProbeRunner,
    image: &str,
    stack: &str,
) -> stackr_engine::Result<()> {
    if engine.inspect_volume(&probe.volume).await?.is_none() {
        let created = engine
            .create_volume(&stackr_engine::VolumeSpec {
                name: probe.volume.clone(),
                driver: None,
                driver_opts: BTreeMap::new(),
                labels: BTreeMap::from([(
                    stackr_engine::LABEL_PROBE.to_string(),
                    probe.volume.clone(),
                )]),
            })
            .await;
        match created {
            // Made by another run in the meantime.
            Err(EngineError::Conflict { .. }) => {}
            other => other?,
        }
    }
    let mut attempt = 0;
    loop {
        match fill_probe(engine, probe, image, stack).await {
            Ok(()) => return Ok(()),
            Err(e) if attempt >= 4 => return Err(e),
            Err(_) => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(150 * attempt)).await;
            }
        }
    }
}

/// One look at the probe volume, and a fill when its probe is missing or not this one.
async fn fill_probe<E: Engine>(
    engine: &E,
    probe: &ProbeRunner,
    image: &str,
    stack: &str,
) -> stackr_engine::Result<()> {
    let helper_name = format!("{stack}-stackr-probe-fill");
    let id = create_helper(engine, stack, &helper_name, image, &probe.volume).await?;
    let result = async {
        let current = match engine.download_archive(&id, "/fill/probe").await {
            Ok(archive) => single_file(&archive),
            Err(EngineError::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        if current.as_deref() == Some(probe.binary) {
            return Ok(());
        }
        let tar = stackr_engine::context::single_file_tar("probe", probe.binary, 0o755)?;
        engine.upload_archive(&id, "/fill", tar, false).await
    }
    .await;
    let removed = engine.remove_container(&id).await;
    result?;
    removed
}

/// The content of the one regular file of a tar archive.
fn single_file(archive: &[u8]) -> Option<Vec<u8>> {
    let mut t = tar::Archive::new(archive);
    for entry in t.entries().ok()? {
        let mut entry = entry.ok()?;
        if entry.header().entry_type().is_file() {
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut data).ok()?;
            return Some(data);
        }
    }
    None
}

/// Extracts `tar` into the root of `volume` through a helper container that is never started
/// (made from `image`: nothing in it runs), then removes the helper. A helper left by an
/// interrupted run is removed first.
async fn fill_volume<E: Engine>(
    engine: &E,
    stack: &str,
    helper_name: &str,
    image: &str,
    volume: &str,
    tar: Vec<u8>,
) -> stackr_engine::Result<()> {
    let id = create_helper(engine, stack, helper_name, image, volume).await?;
    // The owners and modes in the archive, whatever user the image names (the helper is made
    // from the service's image, so it has the image's user).
    let uploaded = engine.upload_archive(&id, "/fill", tar, false).await;
    let removed = engine.remove_container(&id).await;
    uploaded?;
    removed
}

/// A never-started container with `volume` at `/fill`; a helper of that name left by an
/// interrupted run is removed first.
async fn create_helper<E: Engine>(
    engine: &E,
    stack: &str,
    helper_name: &str,
    image: &str,
    volume: &str,
) -> stackr_engine::Result<String> {
    if let Some(old) = engine.inspect_container(helper_name).await? {
        engine.remove_container(&old.id).await?;
    }
    let helper = stackr_engine::ContainerSpec {
        name: helper_name.to_string(),
        image: image.to_string(),
        labels: BTreeMap::from([
            (LABEL_STACK.to_string(), stack.to_string()),
            (stackr_engine::LABEL_HELPER.to_string(), "fill".to_string()),
        ]),
        entrypoint: Some(vec!["/never-started".into()]),
        mounts: vec![stackr_engine::MountSpec::Volume {
            source: Some(volume.to_string()),
            target: "/fill".into(),
            read_only: false,
            subpath: None,
        }],
        network_mode: Some("none".into()),
        restart: "no".into(),
        ..stackr_engine::ContainerSpec::default()
    };
    engine.create_container(&helper).await.map(|c| c.id)
}

/// What a container has shown so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Seen {
    started: bool,
    health: Option<HealthState>,
    exit_code: Option<i64>,
    health_output: Option<String>,
}

type Shared = Arc<Mutex<State>>;

#[derive(Debug, Default)]
struct State {
    /// Container id → service.
    ids: BTreeMap<String, String>,
    /// Container id → what it showed.
    seen: BTreeMap<String, Seen>,
    /// Services whose containers are all started (or kept running).
    started: BTreeMap<String, bool>,
    /// Services that failed to start.
    failed: BTreeMap<String, String>,
    /// The service that failed first (not merely stopped by another's failure).
    first_failed: Option<String>,
    /// Why every service stops at its next step, once one has failed.
    cancelled: Option<String>,
}

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, State> {
    match s.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

fn engine_err(context: String, service: Option<&str>, error: EngineError) -> ApplyError {
    ApplyError::Engine {
        context,
        service: service.map(String::from),
        error,
    }
}

/// Runs a service's pre-build host commands in its build context.
async fn pre_build(
    service: &DesiredService,
    context: &Path,
    progress: &(dyn Fn(Step) + Send + Sync),
) -> Result<(), ApplyError> {
    for cmd in &service.pre_build {
        let Some((program, args)) = cmd.split_first() else {
            continue;
        };
        let shown = cmd.join(" ");
        progress(Step::PreBuild {
            service: service.name.clone(),
            command: shown.clone(),
        });
        let out = tokio::process::Command::new(program)
            .args(args)
            .current_dir(context)
            .stdin(std::process::Stdio::null())
            .output()
            .await;
        match out {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                let mut output = String::from_utf8_lossy(&o.stdout).into_owned();
                output.push_str(&String::from_utf8_lossy(&o.stderr));
                return Err(ApplyError::PreBuild {
                    service: service.name.clone(),
                    command: shown,
                    status: o.status.to_string(),
                    output,
                });
            }
            Err(e) => {
                return Err(ApplyError::PreBuild {
                    service: service.name.clone(),
                    command: shown,
                    status: e.to_string(),
                    output: String::new(),
                });
            }
        }
    }
    Ok(())
}

/// Builds the images the plan asks for; returns the new image ids by reference.
/// The builds in an order where one that takes another service's image as a named context
/// (`service:NAME`, `docker-image://` of its tag) comes after that service's build.
fn build_order<'a>(services: &[&'a DesiredService]) -> Vec<&'a DesiredService> {
    let tags: std::collections::BTreeSet<String> = services
        .iter()
        .filter_map(|s| s.build.as_ref())
        .map(|b| format!("docker-image://{}", b.tag))
        .collect();
    let (later, first): (Vec<&DesiredService>, Vec<&DesiredService>) =
        services.iter().partition(|s| {
            s.build
                .as_ref()
                .is_some_and(|b| b.additional_contexts.values().any(|c| tags.contains(c)))
        });
    first.into_iter().chain(later).collect()
}

pub async fn build_images<E: Engine>(
    engine: &E,
    services: &[&DesiredService],
    progress: &(dyn Fn(Step) + Send + Sync),
) -> Result<BTreeMap<String, String>, ApplyError> {
    let mut ids = BTreeMap::new();
    for s in build_order(services) {
        let Some(b) = &s.build else { continue };
        pre_build(s, &b.context, progress).await?;
        // The inputs as they are now that the host commands ran: the label the next plan
        // compares with.
        let mut b = b.clone();
        let spec = b.clone();
        let digest =
            tokio::task::spawn_blocking(move || stackr_engine::context::build_digest(&spec))
                .await
                .map_err(|e| ApplyError::Reconcile(ReconcileError::Internal(e.to_string())))?
                .map_err(|error| ApplyError::Build {
                    service: s.name.clone(),
                    error,
                })?;
        b.labels
            .insert(stackr_engine::LABEL_BUILD_HASH.into(), digest);
        let b = &b;
        progress(Step::Building {
            service: s.name.clone(),
            tag: b.tag.clone(),
        });
        let name = s.name.clone();
        let on_line = move |line: &str| {
            progress(Step::BuildOutput {
                service: name.clone(),
                line: line.to_string(),
            })
        };
        let id = engine
            .build_image(b, &on_line)
            .await
            .map_err(|error| ApplyError::Build {
                service: s.name.clone(),
                error,
            })?;
        progress(Step::Built {
            service: s.name.clone(),
            id: id.clone(),
        });
        ids.insert(b.tag.clone(), id);
    }
    Ok(ids)
}

/// Applies a plan. `inputs` are those the plan was made with; images the plan builds are built
/// first and their new ids go into the containers' specs.
pub async fn apply<E: Engine>(
    engine: &E,
    stack: &Stack,
    mut inputs: Inputs,
    plan: &Plan,
    opts: &ApplyOptions,
    progress: &(dyn Fn(Step) + Send + Sync),
) -> Result<(), ApplyError> {
    let events = engine
        .events(&stack.name)
        .await
        .map_err(|e| engine_err("cannot follow the engine's events".into(), None, e))?;
    let first = desired(stack, &inputs)?;

    // The id of each network containers join, so that they join by id.
    let mut network_ids: BTreeMap<String, String> = plan
        .items
        .iter()
        .filter(|i| i.kind == ObjectKind::Network && i.action == Action::Keep)
        .filter_map(|i| Some((i.name.clone(), i.id.clone()?)))
        .collect();
    for it in plan
        .items
        .iter()
        .filter(|i| i.kind == ObjectKind::Network && i.action == Action::Create)
    {
        if let Some(n) = first.networks.iter().find(|n| n.spec.name == it.name) {
            let id = ensure_network(engine, &stack.name, &n.spec)
                .await
                .map_err(|e| engine_err(format!("cannot create network `{}`", it.name), None, e))?;
            network_ids.insert(it.name.clone(), id);
            progress(Step::NetworkCreated {
                name: it.name.clone(),
            });
        }
    }
    // Before any container starts: the engine resolves a container's networks by name when
    // it starts it, so a duplicate name makes every start on it fail.
    remove_duplicate_networks(engine, plan, progress).await?;
    for it in plan
        .items
        .iter()
        .filter(|i| i.kind == ObjectKind::Volume && i.action == Action::Create)
    {
        if let Some(v) = first.volumes.iter().find(|v| v.spec.name == it.name) {
            engine
                .create_volume(&v.spec)
                .await
                .map_err(|e| engine_err(format!("cannot create volume `{}`", it.name), None, e))?;
            progress(Step::VolumeCreated {
                name: it.name.clone(),
            });
        }
    }
    let to_build: Vec<&DesiredService> = plan
        .items
        .iter()
        .filter(|i| i.kind == ObjectKind::Image && i.action == Action::Build)
        .filter_map(|i| i.service.as_deref().and_then(|s| first.service(s)))
        .collect();
    // A plan that builds recreates the containers of the images it builds, as it says: the
    // caller that wants a rebuild to the same image to keep them (`stackr_ops::up`) builds
    // first, then plans again from the images the engine has.
    let built = build_images(engine, &to_build, progress).await?;
    let desired = if built.is_empty() {
        first
    } else {
        // What the new images run, for the wait of ordered recovery.
        for tag in built.keys() {
            let info = engine.inspect_image(tag).await.map_err(|e| {
                engine_err(
                    format!("cannot inspect the image `{tag}` it built"),
                    None,
                    e,
                )
            })?;
            if let Some(info) = info {
                inputs.image_configs.insert(tag.clone(), info.config);
            }
        }
        inputs.image_ids.extend(built);
        crate::desired::desired(stack, &inputs)?
    };

    // Containers with native probes need the probe runner in its volume.
    if let Some(probe) = &opts.probe {
        let needs: Option<&DesiredContainer> = desired
            .services
            .iter()
            .flat_map(|s| s.containers.iter())
            .filter(|c| {
                plan.items.iter().any(|i| {
                    i.kind == ObjectKind::Container
                        && i.name == c.spec.name
                        && matches!(
                            i.action,
                            Action::Create | Action::Recreate | Action::Replace
                        )
                })
            })
            .find(|c| {
                c.spec.mounts.iter().any(|m| {
                    matches!(m, stackr_engine::MountSpec::Volume { source: Some(v), .. } if *v == probe.volume)
                })
            });
        if let Some(c) = needs {
            ensure_probe(engine, probe, &c.spec.image, &stack.name)
                .await
                .map_err(|e| {
                    engine_err("cannot give containers the probe runner".into(), None, e)
                })?;
        }
    }

    // Orphans and surplus containers go first.
    for it in plan
        .items
        .iter()
        .filter(|i| i.kind == ObjectKind::Container && i.action == Action::Remove)
    {
        if let Some(id) = &it.id {
            // One inspect: the records and the `pre-stop` hooks both read its labels.
            let info = engine.inspect_container(id).await.ok().flatten();
            if let Some(info) = &info {
                forget_records(engine, info).await;
            }
            let labels = info.as_ref().map(|i| &i.labels);
            remove(engine, id, labels, opts.stop_timeout, progress)
                .await
                .map_err(|e| {
                    engine_err(
                        format!("cannot remove container `{}`", it.name),
                        it.service.as_deref(),
                        e,
                    )
                })?;
            progress(Step::Removed {
                service: it.service.clone().unwrap_or_default(),
                name: it.name.clone(),
            });
        }
    }

    let shared: Shared = Arc::new(Mutex::new(State::default()));
    let (tx, rx) = watch::channel(0u64);
    let tx = Arc::new(tx);

    // What kept containers already show.
    for it in plan
        .items
        .iter()
        .filter(|i| i.kind == ObjectKind::Container && i.action == Action::Keep)
    {
        let (Some(id), Some(service)) = (&it.id, &it.service) else {
            continue;
        };
        let info = engine
            .inspect_container(id)
            .await
            .map_err(|e| engine_err(format!("cannot inspect `{}`", it.name), Some(service), e))?;
        let mut st = lock(&shared);
        st.ids.insert(id.clone(), service.clone());
        if let Some(info) = info {
            st.seen.insert(id.clone(), seen_of(&info));
        }
    }
    {
        let mut st = lock(&shared);
        for s in &desired.services {
            let items: Vec<&PlanItem> = container_items(plan, &s.name);
            let all_kept = !items.is_empty() && items.iter().all(|i| i.action == Action::Keep);
            let none = items.is_empty();
            if all_kept || none {
                st.started.insert(s.name.clone(), true);
            }
        }
    }

    let event_loop = follow_events(engine, events, shared.clone(), tx.clone(), progress);
    let run = Run {
        engine,
        desired: &desired,
        plan,
        opts,
        shared: &shared,
        network_ids: &network_ids,
        progress,
    };
    // Every service runs to its end: after a failure the others stop at their next step, but
    // no engine call is left in flight when `apply` returns.
    let services = futures::future::join_all(desired.services.iter().map(|s| {
        let tx = tx.clone();
        let rx = rx.clone();
        let run = &run;
        async move {
            let r = run_service(run, s, &tx, rx).await;
            if let Err(e) = &r {
                let mut st = lock(run.shared);
                st.failed.insert(s.name.clone(), e.to_string());
                if st.first_failed.is_none() && !matches!(e, ApplyError::Cancelled { .. }) {
                    st.first_failed = Some(s.name.clone());
                }
                drop(st);
                tx.send_modify(|n| *n += 1);
            }
            r
        }
    }));
    let interrupted = async {
        match opts.cancel.clone() {
            Some(mut cancel) => {
                while !*cancel.borrow_and_update() {
                    if cancel.changed().await.is_err() {
                        return std::future::pending().await;
                    }
                }
            }
            None => std::future::pending::<()>().await,
        }
    };
    futures::pin_mut!(services);
    futures::pin_mut!(event_loop);
    futures::pin_mut!(interrupted);
    let mut stream_error: Option<ApplyError> = None;
    let results = loop {
        tokio::select! {
            results = &mut services => break results,
            r = &mut event_loop, if stream_error.is_none() => {
                let e = match r {
                    Err(e) => e,
                    Ok(()) => engine_err(
                        "the engine's event stream ended".into(),
                        None,
                        EngineError::Other("event stream closed".into()),
                    ),
                };
                cancel(&shared, &tx, e.to_string());
                stream_error = Some(e);
            }
            () = &mut interrupted => cancel(&shared, &tx, "interrupted".into()),
        }
    };
    let first_failed = lock(&shared).first_failed.clone();
    let mut first: Option<ApplyError> = None;
    let mut cancelled: Option<ApplyError> = None;
    // Every failure but a cancellation names itself `first_failed`, so the first is found.
    for (s, r) in desired.services.iter().zip(results) {
        match r {
            Err(e @ ApplyError::Cancelled { .. }) => {
                cancelled.get_or_insert(e);
            }
            Err(e) if first_failed.as_deref() == Some(s.name.as_str()) => first = Some(e),
            _ => {}
        }
    }
    match first.or(stream_error).or(cancelled) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Stops every service at its next step: after a failure, an interruption, or the loss of
/// the event stream.
fn cancel(shared: &Shared, tx: &watch::Sender<u64>, reason: String) {
    lock(shared).cancelled.get_or_insert(reason);
    tx.send_modify(|n| *n += 1);
}

/// Networks of a name that another network of the stack also has, made by an interrupted run.
async fn remove_duplicate_networks<E: Engine>(
    engine: &E,
    plan: &Plan,
    progress: &(dyn Fn(Step) + Send + Sync),
) -> Result<(), ApplyError> {
    for it in plan
        .items
        .iter()
        .filter(|i| i.kind == ObjectKind::Network && i.action == Action::Remove)
    {
        let Some(id) = &it.id else { continue };
        match engine.remove_network(id).await {
            Ok(()) | Err(EngineError::NotFound { .. }) => progress(Step::NetworkRemoved {
                name: it.name.clone(),
            }),
            Err(e) => {
                return Err(engine_err(
                    format!("cannot remove the duplicate network `{}` ({id})", it.name),
                    None,
                    e,
                ));
            }
        }
    }
    Ok(())
}

/// Makes sure one network of the spec's name exists, and returns its id: creates it, adopts
/// the one another run made in the meantime, and of several of that name (an interrupted
/// run's create can land after this one's) keeps the oldest, as the plan does, removing the
/// others while no container uses them yet.
async fn ensure_network<E: Engine>(
    engine: &E,
    stack: &str,
    spec: &stackr_engine::NetworkSpec,
) -> stackr_engine::Result<String> {
    let conflict = match engine.create_network(spec).await {
        Ok(_) => None,
        Err(e @ EngineError::Conflict { .. }) => Some(e),
        Err(e) => return Err(e),
    };
    let mut same: Vec<stackr_engine::NetworkInfo> = engine
        .list_networks(stack)
        .await?
        .into_iter()
        .filter(|n| n.name == spec.name)
        .collect();
    same.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
    let Some(keep) = same.first() else {
        // The name is held by a network that is not this stack's.
        return Err(conflict.unwrap_or_else(|| EngineError::NotFound {
            what: format!("network `{}` just created", spec.name),
        }));
    };
    for dup in same.iter().skip(1) {
        // In use already: the next plan removes it once it is free.
        let _ = engine.remove_network(&dup.id).await;
    }
    Ok(keep.id.clone())
}

fn container_items<'a>(plan: &'a Plan, service: &str) -> Vec<&'a PlanItem> {
    plan.items
        .iter()
        .filter(|i| {
            i.kind == ObjectKind::Container
                && i.service.as_deref() == Some(service)
                && i.action != Action::Remove
        })
        .collect()
}

fn seen_of(info: &ContainerInfo) -> Seen {
    Seen {
        started: matches!(
            info.state,
            ContainerState::Running | ContainerState::Restarting
        ) || info.exit_code.is_some(),
        health: info.health,
        exit_code: if info.state == ContainerState::Exited {
            info.exit_code
        } else {
            None
        },
        health_output: info.health_output.clone(),
    }
}

/// Stops (after its `pre-stop` hooks, when it runs) and removes a container. A failing hook is
/// reported and the stop goes on. `labels`: the container's, when the caller knows them.
async fn remove<E: Engine>(
    engine: &E,
    id: &str,
    labels: Option<&BTreeMap<String, String>>,
    timeout: Option<Duration>,
    progress: &(dyn Fn(Step) + Send + Sync),
) -> stackr_engine::Result<()> {
    pre_stop(engine, id, labels, timeout, progress).await;
    match engine.stop_container(id, timeout).await {
        Ok(()) | Err(EngineError::NotFound { .. }) => {}
        Err(e) => return Err(e),
    }
    match engine.remove_container(id).await {
        Ok(()) | Err(EngineError::NotFound { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Runs a running container's `pre-stop` hooks; a failure is reported.
async fn pre_stop<E: Engine>(
    engine: &E,
    id: &str,
    labels: Option<&BTreeMap<String, String>>,
    timeout: Option<Duration>,
    progress: &(dyn Fn(Step) + Send + Sync),
) {
    if let Err(e) = crate::hooks::pre_stop(engine, id, labels, timeout).await {
        progress(Step::HookFailed {
            service: String::new(),
            name: e.container().to_string(),
            message: e.to_string(),
        });
    }
}

/// Before a running container that records its start and health goes for good (a
/// scale-down, an orphan), its records go: what depends on its service must not take its last
/// health for a running replica's. Best effort: a container that cannot run it is stopping.
async fn forget_records<E: Engine>(engine: &E, info: &ContainerInfo) {
    if info.state != ContainerState::Running {
        return;
    }
    let Some(spec) = crate::rollout::created_from(info).map(|t| t.spec) else {
        return;
    };
    if let Some(slot) = crate::recovery::reporting_slot(&spec) {
        let _ = crate::recovery::probe_in(engine, &info.id, "forget", slot).await;
    }
}

/// Ends the recovery wait of a container the plan starts without its dependencies
/// (`up --no-deps`): compose starts such a container at once.
async fn release_wait<E: Engine>(
    run: &Run<'_, E>,
    s: &DesiredService,
    id: &str,
    slot: &str,
) -> Result<(), ApplyError> {
    if !run.plan.released.iter().any(|r| r == slot) {
        return Ok(());
    }
    let Some(waits) = s
        .containers
        .iter()
        .find(|c| c.spec.name == slot)
        .and_then(|c| crate::recovery::waiting_slot(&c.spec))
    else {
        return Ok(());
    };
    crate::recovery::probe_in(run.engine, id, "release", waits)
        .await
        .map_err(|e| {
            engine_err(
                format!("cannot start `{slot}` without its dependencies"),
                Some(&s.name),
                e,
            )
        })
}

/// Runs a just-started container's `post-start` hooks, as its labels hold them.
async fn post_start<E: Engine>(
    engine: &E,
    service: &str,
    id: &str,
    name: &str,
    labels: &BTreeMap<String, String>,
) -> Result<(), ApplyError> {
    crate::hooks::post_start(engine, id, name, labels)
        .await
        .map_err(|error| ApplyError::Hook {
            service: service.to_string(),
            error,
        })
}

/// Reads the engine's events into the shared state; re-inspects containers whose condition is
/// overdue. Ends only with an error.
async fn follow_events<E: Engine>(
    engine: &E,
    mut events: futures::stream::BoxStream<'static, stackr_engine::Result<stackr_engine::Event>>,
    shared: Shared,
    tx: Arc<watch::Sender<u64>>,
    progress: &(dyn Fn(Step) + Send + Sync),
) -> Result<(), ApplyError> {
    loop {
        match tokio::time::timeout(Duration::from_millis(1000), events.next()).await {
            Ok(Some(Ok(ev))) => {
                let service = {
                    let st = lock(&shared);
                    st.ids.get(&ev.container_id).cloned()
                };
                let Some(service) = service else { continue };
                // An unhealthy container's last probe output comes with an inspect.
                let output = if ev.kind == EventKind::Health(HealthState::Unhealthy) {
                    engine
                        .inspect_container(&ev.container_id)
                        .await
                        .ok()
                        .flatten()
                        .and_then(|i| i.health_output)
                } else {
                    None
                };
                let mut st = lock(&shared);
                let seen = st.seen.entry(ev.container_id.clone()).or_default();
                match ev.kind {
                    EventKind::Start => seen.started = true,
                    EventKind::Die { exit_code } => {
                        seen.exit_code = Some(exit_code);
                        progress(Step::Exited {
                            service,
                            name: ev.container_name.clone(),
                            code: exit_code,
                        });
                    }
                    EventKind::Health(h) => {
                        seen.health = Some(h);
                        if output.is_some() {
                            seen.health_output = output;
                        }
                        if h == HealthState::Healthy {
                            progress(Step::Healthy {
                                service,
                                name: ev.container_name.clone(),
                                engine_time: ev.time_nanos,
                            });
                        }
                    }
                    _ => continue,
                }
                drop(st);
                tx.send_modify(|n| *n += 1);
            }
            Ok(Some(Err(e))) => {
                return Err(engine_err(
                    "the engine's event stream failed".into(),
                    None,
                    e,
                ));
            }
            Ok(None) => {
                return Err(engine_err(
                    "the engine's event stream ended".into(),
                    None,
                    EngineError::Other("event stream closed".into()),
                ));
            }
            Err(_) => {
                // Nothing for a while: re-inspect containers still waited on.
                let pending: Vec<String> = {
                    let st = lock(&shared);
                    st.ids
                        .keys()
                        .filter(|id| {
                            st.seen.get(*id).is_none_or(|s| {
                                s.exit_code.is_none() && s.health != Some(HealthState::Healthy)
                            })
                        })
                        .cloned()
                        .collect()
                };
                let mut changed = false;
                for id in pending {
                    if let Ok(Some(info)) = engine.inspect_container(&id).await {
                        let now = seen_of(&info);
                        let mut st = lock(&shared);
                        let old = st.seen.get(&id).cloned().unwrap_or_default();
                        let merged = Seen {
                            started: old.started || now.started,
                            health: now.health.or(old.health),
                            exit_code: now.exit_code.or(old.exit_code),
                            health_output: now.health_output.or(old.health_output.clone()),
                        };
                        if merged != old {
                            st.seen.insert(id, merged);
                            changed = true;
                        }
                    }
                }
                if changed {
                    tx.send_modify(|n| *n += 1);
                }
            }
        }
    }
}

/// Whether `dep` meets `condition`: `Ok(true)` met, `Ok(false)` not yet, `Err` never will.
fn condition_met(
    st: &State,
    desired: &crate::desired::Desired,
    dep: &str,
    condition: Condition,
) -> Result<bool, (String, Option<String>)> {
    if let Some(reason) = st.failed.get(dep) {
        return Err((format!("failed: {reason}"), None));
    }
    let ids: Vec<&String> = st
        .ids
        .iter()
        .filter(|(_, s)| *s == dep)
        .map(|(id, _)| id)
        .collect();
    let all_started = st.started.get(dep).copied().unwrap_or(false);
    if !all_started {
        return Ok(false);
    }
    let has_check = desired.service(dep).is_some_and(|s| s.has_health_check);
    for id in ids {
        let seen = st.seen.get(id).cloned().unwrap_or_default();
        match condition {
            Condition::Started => {
                if let Some(code) = seen.exit_code
                    && code != 0
                {
                    return Err((format!("exited with code {code}"), None));
                }
            }
            Condition::Healthy => {
                if let Some(code) = seen.exit_code {
                    return Err((
                        format!("exited with code {code} before it was healthy"),
                        None,
                    ));
                }
                match seen.health {
                    Some(HealthState::Healthy) => {}
                    Some(HealthState::Unhealthy) => {
                        return Err(("is unhealthy".into(), seen.health_output.clone()));
                    }
                    None if !has_check => {
                        return Err((
                            "has no health check, so it never becomes healthy".into(),
                            None,
                        ));
                    }
                    _ => return Ok(false),
                }
            }
            Condition::Completed => match seen.exit_code {
                Some(0) => {}
                Some(code) => return Err((format!("exited with code {code}"), None)),
                None => return Ok(false),
            },
        }
    }
    Ok(true)
}

/// What every service's run shares.
struct Run<'a, E: Engine> {
    engine: &'a E,
    desired: &'a crate::desired::Desired,
    plan: &'a Plan,
    opts: &'a ApplyOptions,
    shared: &'a Shared,
    /// Network name → id, for containers to join by id.
    network_ids: &'a BTreeMap<String, String>,
    progress: &'a (dyn Fn(Step) + Send + Sync),
}

impl<E: Engine> Run<'_, E> {
    /// `Err` when the run is being stopped: checked before each engine call, so that a
    /// stopped run finishes the call in flight and starts no other.
    fn go_on(&self, service: &str) -> Result<(), ApplyError> {
        match &lock(self.shared).cancelled {
            Some(reason) => Err(ApplyError::Cancelled {
                service: service.to_string(),
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }

    /// The spec to send: networks joined by id.
    fn joining_by_id(&self, spec: &stackr_engine::ContainerSpec) -> stackr_engine::ContainerSpec {
        let mut spec = spec.clone();
        for n in &mut spec.networks {
            n.network_id = self.network_ids.get(&n.network).cloned();
        }
        spec
    }
}

/// One service: make its containers, wait for its dependencies, start.
async fn run_service<E: Engine>(
    run: &Run<'_, E>,
    s: &DesiredService,
    tx: &watch::Sender<u64>,
    rx: watch::Receiver<u64>,
) -> Result<(), ApplyError> {
    let items = container_items(run.plan, &s.name);
    if items.is_empty() || items.iter().all(|i| i.action == Action::Keep) {
        return Ok(());
    }
    // A container that joins another's IPC or PID namespace (or links to it, or takes its
    // volumes) is refused at create until that one exists: it is made after its
    // dependencies, not before as others are.
    let joins = s
        .containers
        .iter()
        .any(|c| c.spec.host.needs_others_first());
    if joins && !run.plan.no_start {
        wait_for_dependencies(run, s, rx.clone()).await?;
    }
    let to_start = make_containers(run, s, &items).await?;
    if run.plan.no_start {
        tx.send_modify(|n| *n += 1);
        return Ok(());
    }
    if !joins {
        wait_for_dependencies(run, s, rx.clone()).await?;
    }
    pre_start::once(run, s).await?;
    start_containers(run, s, to_start).await?;
    if let Some(r) = run.plan.rollout(&s.name) {
        roll::roll(run, s, r, &rx).await?;
    }
    lock(run.shared).started.insert(s.name.clone(), true);
    tx.send_modify(|n| *n += 1);
    Ok(())
}

/// Step 1: creates what is missing and finishes interrupted updates, so that only the start
/// waits for the dependencies (what is replaced is the rollout's, after the start). Returns
/// what to start: id, name, and the plan's action.
async fn make_containers<E: Engine>(
    run: &Run<'_, E>,
    s: &DesiredService,
    items: &[&PlanItem],
) -> Result<Vec<(String, String, Action)>, ApplyError> {
    let (engine, progress) = (run.engine, run.progress);
    let svc = Some(s.name.as_str());
    let mut to_start: Vec<(String, String, Action)> = Vec::new();
    for it in items {
        let want: Option<&DesiredContainer> = s.containers.iter().find(|c| c.spec.name == it.name);
        match it.action {
            Action::Recreate | Action::Replace if run.plan.rollout(&s.name).is_some() => {}
            Action::Rename => {
                let Some(id) = &it.id else { continue };
                run.go_on(&s.name)?;
                to_start.extend(finish_rename(run, s, id, &it.name).await?);
            }
            Action::Create | Action::Recreate | Action::Replace => {
                let Some(want) = want else { continue };
                if let (Action::Recreate | Action::Replace, Some(old)) = (it.action, &it.id) {
                    run.go_on(&s.name)?;
                    let labels = it.previous.as_ref().map(|p| &p.spec.labels);
                    remove(engine, old, labels, run.opts.stop_timeout, progress)
                        .await
                        .map_err(|e| {
                            engine_err(format!("cannot remove the old `{}`", it.name), svc, e)
                        })?;
                    progress(Step::Removed {
                        service: s.name.clone(),
                        name: it.name.clone(),
                    });
                }
                if !want.secrets.is_empty() {
                    run.go_on(&s.name)?;
                    fill_secrets(engine, &run.desired.stack, want)
                        .await
                        .map_err(|e| {
                            engine_err(format!("cannot give `{}` its secrets", it.name), svc, e)
                        })?;
                }
                run.go_on(&s.name)?;
                let created = create(engine, &run.joining_by_id(&want.spec), &want.hash)
                    .await
                    .map_err(|e| engine_err(format!("cannot create `{}`", it.name), svc, e))?;
                let id = created.id;
                if want.secrets.iter().any(|f| f.link.is_some()) {
                    run.go_on(&s.name)?;
                    link_secrets(engine, &id, &want.secrets)
                        .await
                        .map_err(|e| {
                            engine_err(format!("cannot give `{}` its secrets", it.name), svc, e)
                        })?;
                }
                progress(Step::Created {
                    service: s.name.clone(),
                    name: it.name.clone(),
                    warnings: created.warnings,
                });
                lock(run.shared).ids.insert(id.clone(), s.name.clone());
                to_start.push((id, it.name.clone(), it.action));
            }
            Action::Start | Action::Restart | Action::Unpause => {
                if let Some(id) = &it.id {
                    lock(run.shared).ids.insert(id.clone(), s.name.clone());
                    to_start.push((id.clone(), it.name.clone(), it.action));
                }
            }
            _ => {
                if let Some(id) = &it.id {
                    lock(run.shared).ids.insert(id.clone(), s.name.clone());
                }
            }
        }
    }
    Ok(to_start)
}

/// Gives the new container an interrupted update left the slot's name; returns it to start
/// when it is not running.
async fn finish_rename<E: Engine>(
    run: &Run<'_, E>,
    s: &DesiredService,
    id: &str,
    name: &str,
) -> Result<Option<(String, String, Action)>, ApplyError> {
    let svc = Some(s.name.as_str());
    let info = run
        .engine
        .inspect_container(id)
        .await
        .map_err(|e| engine_err(format!("cannot inspect `{name}`"), svc, e))?;
    let from = info
        .as_ref()
        .map_or_else(|| id.to_string(), |i| i.name.clone());
    run.engine
        .rename_container(id, name)
        .await
        .map_err(|e| engine_err(format!("cannot rename `{from}` to `{name}`"), svc, e))?;
    (run.progress)(Step::Renamed {
        service: s.name.clone(),
        from,
        to: name.to_string(),
    });
    let mut st = lock(run.shared);
    st.ids.insert(id.to_string(), s.name.clone());
    match info {
        Some(i) if i.state == ContainerState::Running => {
            st.seen.insert(id.to_string(), seen_of(&i));
            Ok(None)
        }
        _ => Ok(Some((id.to_string(), name.to_string(), Action::Start))),
    }
}

/// Step 2: waits until each dependency meets its condition (a required one that never will
/// fails the service), or the run is stopped.
async fn wait_for_dependencies<E: Engine>(
    run: &Run<'_, E>,
    s: &DesiredService,
    mut rx: watch::Receiver<u64>,
) -> Result<(), ApplyError> {
    for d in &s.depends_on {
        (run.progress)(Step::Waiting {
            service: s.name.clone(),
            dependency: d.service.clone(),
            condition: d.condition,
        });
    }
    loop {
        run.go_on(&s.name)?;
        let verdict = {
            let st = lock(run.shared);
            let mut all = true;
            let mut failure = None;
            for d in &s.depends_on {
                match condition_met(&st, run.desired, &d.service, d.condition) {
                    Ok(true) => {}
                    Ok(false) => all = false,
                    Err(reason) if d.required => {
                        failure = Some((d.service.clone(), reason));
                        break;
                    }
                    Err(_) => {}
                }
            }
            match failure {
                Some(f) => Err(f),
                None => Ok(all),
            }
        };
        match verdict {
            Ok(true) => return Ok(()),
            Ok(false) => {
                if rx.changed().await.is_err() {
                    return Ok(());
                }
            }
            Err((dependency, (reason, output))) => {
                return Err(ApplyError::Dependency {
                    service: s.name.clone(),
                    dependency,
                    reason,
                    output,
                });
            }
        }
    }
}

/// Step 3: starts (or restarts) the containers.
async fn start_containers<E: Engine>(
    run: &Run<'_, E>,
    s: &DesiredService,
    to_start: Vec<(String, String, Action)>,
) -> Result<(), ApplyError> {
    let (engine, progress) = (run.engine, run.progress);
    let svc = Some(s.name.as_str());
    let no_labels = BTreeMap::new();
    for (id, name, action) in to_start {
        run.go_on(&s.name)?;
        if action == Action::Unpause {
            engine
                .unpause_container(&id)
                .await
                .map_err(|e| engine_err(format!("cannot unpause `{name}`"), svc, e))?;
            let mut st = lock(run.shared);
            st.seen.entry(id.clone()).or_default().started = true;
            drop(st);
            progress(Step::Started {
                service: s.name.clone(),
                name,
            });
            continue;
        }
        // Its labels are the desired ones: a container kept or started has the wanted spec.
        let labels = s
            .containers
            .iter()
            .find(|c| c.spec.name == name)
            .map_or(&no_labels, |c| &c.spec.labels);
        if action == Action::Restart {
            pre_stop(engine, &id, Some(labels), run.opts.stop_timeout, progress).await;
            engine
                .stop_container(&id, run.opts.stop_timeout)
                .await
                .map_err(|e| engine_err(format!("cannot stop `{name}`"), svc, e))?;
        }
        if action != Action::Restart {
            pre_start::before(run, s, &name).await?;
        }
        lock(run.shared).seen.insert(id.clone(), Seen::default());
        progress(Step::Starting {
            service: s.name.clone(),
            name: name.clone(),
        });
        engine
            .start_container(&id)
            .await
            .map_err(|e| engine_err(format!("cannot start `{name}`"), svc, e))?;
        lock(run.shared).seen.entry(id.clone()).or_default().started = true;
        release_wait(run, s, &id, &name).await?;
        post_start(engine, &s.name, &id, &name, labels).await?;
        progress(if action == Action::Restart {
            Step::Restarted {
                service: s.name.clone(),
                name,
            }
        } else {
            Step::Started {
                service: s.name.clone(),
                name,
            }
        });
    }
    Ok(())
}

/// Puts a container's secrets into its own secrets volume, made anew: each file with its owner
/// and mode, plus the digest file a later plan compares with. Filled through a helper
/// container that is never started, then removed.
pub async fn fill_secrets<E: Engine>(
    engine: &E,
    stack: &str,
    want: &DesiredContainer,
) -> stackr_engine::Result<()> {
    let container = &want.spec.name;
    let volume = crate::desired::secrets_volume(container);
    fill_secrets_volume(
        engine,
        stack,
        container,
        &volume,
        &want.spec.image,
        &want.secrets,
    )
    .await
}

/// Fills `volume`, made anew, with secrets for `container` (see `fill_secrets`).
pub async fn fill_secrets_volume<E: Engine>(
    engine: &E,
    stack: &str,
    container: &str,
    volume: &str,
    image: &str,
    secrets: &[crate::desired::SecretFile],
) -> stackr_engine::Result<()> {
    let volume = volume.to_string();
    let container = &container.to_string();
    if engine.inspect_volume(&volume).await?.is_some() {
        engine.remove_volume(&volume).await?;
    }
    engine
        .create_volume(&stackr_engine::VolumeSpec {
            name: volume.clone(),
            driver: None,
            driver_opts: BTreeMap::new(),
            labels: BTreeMap::from([
                (LABEL_STACK.to_string(), stack.to_string()),
                (
                    stackr_engine::LABEL_SECRETS_FOR.to_string(),
                    container.clone(),
                ),
            ]),
        })
        .await?;
    fill_volume(
        engine,
        stack,
        &format!("{container}-secrets-fill"),
        image,
        &volume,
        secrets_tar(secrets)?,
    )
    .await
}

/// Puts, into a created container, a symbolic link at each secret `target` outside
/// `/run/secrets`, to the file in its secrets volume. A read-only root filesystem refuses
/// them (the engine's archive API cannot write there).
pub async fn link_secrets<E: Engine>(
    engine: &E,
    id: &str,
    files: &[crate::desired::SecretFile],
) -> stackr_engine::Result<()> {
    let fail = |e: std::io::Error| EngineError::Other(format!("cannot pack the secret links: {e}"));
    let mut b = tar::Builder::new(Vec::new());
    for f in files {
        let Some(at) = &f.link else { continue };
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_mode(0o777);
        let to = format!("{}/{}", stackr_engine::SECRETS_DIR, f.path);
        b.append_link(&mut h, at.trim_start_matches('/'), &to)
            .map_err(fail)?;
    }
    let tar = b.into_inner().map_err(fail)?;
    engine.upload_archive(id, "/", tar, false).await
}

fn secrets_tar(files: &[crate::desired::SecretFile]) -> stackr_engine::Result<Vec<u8>> {
    let fail = |e: std::io::Error| EngineError::Other(format!("cannot pack the secrets: {e}"));
    let mut b = tar::Builder::new(Vec::new());
    let digest = crate::desired::secrets_digest(files);
    let entries = files
        .iter()
        .map(|f| (f.path.as_str(), f.value.0.as_slice(), f.uid, f.gid, f.mode))
        .chain(std::iter::once((
            stackr_engine::SECRETS_DIGEST_FILE,
            digest.as_bytes(),
            0,
            0,
            0o400,
        )));
    for (path, content, uid, gid, mode) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(content.len() as u64);
        h.set_uid(u64::from(uid));
        h.set_gid(u64::from(gid));
        h.set_mode(mode);
        h.set_cksum();
        b.append_data(&mut h, path, content).map_err(fail)?;
    }
    b.into_inner().map_err(fail)
}

/// Creates a container. When the name is taken: a container of another stack (or not
/// stackr's) is an error that says whose it is; one of this stack left by an interrupted run
/// is adopted when it is exactly the one wanted and never started, and replaced otherwise.
/// The engine answers 404 to an inspect of a container whose create is still in flight (an
/// interrupted run's), so a conflict is inspected again until the container shows.
async fn create<E: Engine>(
    engine: &E,
    spec: &stackr_engine::ContainerSpec,
    hash: &str,
) -> stackr_engine::Result<stackr_engine::Created> {
    let (what, message) = match engine.create_container(spec).await {
        Err(EngineError::Conflict { what, message }) => (what, message),
        other => return other,
    };
    let mut found = None;
    for attempt in 0..40u64 {
        found = engine.inspect_container(&spec.name).await?;
        if found.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25 * attempt.min(8))).await;
    }
    let Some(c) = found else {
        return Err(EngineError::Conflict {
            what,
            message: format!("{message}; no container of that name can be inspected"),
        });
    };
    let stack = spec.labels.get(LABEL_STACK);
    if c.labels.get(LABEL_STACK) != stack {
        let owner = match c.labels.get(LABEL_STACK) {
            Some(other) => format!("it belongs to stack `{other}`"),
            None => "it was not made by stackr".to_string(),
        };
        return Err(EngineError::Conflict {
            what,
            message: format!("{message}; {owner}"),
        });
    }
    let networks_joined = c.networks.as_ref().is_none_or(|have| {
        spec.network_mode.is_some() || spec.networks.iter().all(|n| have.contains(&n.network))
    });
    if c.state == ContainerState::Created
        && crate::plan::created_hash(&c).as_deref() == Some(hash)
        && networks_joined
    {
        return Ok(stackr_engine::Created {
            id: c.id,
            warnings: Vec::new(),
        });
    }
    let ten = Some(Duration::from_secs(10));
    remove(engine, &c.id, Some(&c.labels), ten, &|_| {}).await?;
    engine.create_container(spec).await
}

/// What `down` removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DownReport {
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    pub volumes: Vec<String>,
    pub kept: Vec<String>,
    /// Volumes `-v` kept because a container of another stack still uses them.
    pub volumes_in_use: Vec<String>,
}

/// How to tear down.
#[derive(Debug, Clone, Default)]
pub struct DownOptions {
    pub remove_volumes: bool,
    pub remove_orphans: bool,
    pub timeout: Option<Duration>,
}

/// Stops and removes a stack's containers in reverse dependency order, then its networks, and
/// with `remove_volumes` its named volumes. Nothing without the stack's label is touched.
pub async fn down<E: Engine>(
    engine: &E,
    stack: &str,
    waves: &[Vec<String>],
    opts: &DownOptions,
    progress: &(dyn Fn(Step) + Send + Sync),
) -> Result<DownReport, ApplyError> {
    let mut report = DownReport::default();
    let containers = engine
        .list_containers(stack)
        .await
        .map_err(|e| engine_err("cannot list the stack's containers".into(), None, e))?;
    let known: Vec<&str> = waves.iter().flatten().map(String::as_str).collect();
    // Orphans first (they depend on nothing stackr knows), then the waves backwards.
    let mut batches: Vec<Vec<&ContainerInfo>> = Vec::new();
    // Helpers stackr left behind (an interrupted fill) always go, first.
    batches.push(
        containers
            .iter()
            .filter(|c| c.labels.contains_key(stackr_engine::LABEL_HELPER) && c.service().is_none())
            .collect(),
    );
    let orphans: Vec<&ContainerInfo> = containers
        .iter()
        .filter(|c| !c.labels.contains_key(stackr_engine::LABEL_HELPER) || c.service().is_some())
        .filter(|c| c.service().is_none_or(|s| !known.contains(&s)))
        .collect();
    if opts.remove_orphans {
        batches.push(orphans.clone());
    } else {
        report.kept.extend(orphans.iter().map(|c| c.name.clone()));
    }
    for wave in waves.iter().rev() {
        batches.push(
            containers
                .iter()
                .filter(|c| c.service().is_some_and(|s| wave.iter().any(|w| w == s)))
                .collect(),
        );
    }
    for batch in batches {
        let results = futures::future::join_all(batch.iter().map(|c| async move {
            let r = remove(engine, &c.id, Some(&c.labels), opts.timeout, progress).await;
            (c, r)
        }))
        .await;
        for (c, r) in results {
            r.map_err(|e| engine_err(format!("cannot remove `{}`", c.name), c.service(), e))?;
            progress(Step::Removed {
                service: c.service().unwrap_or_default().to_string(),
                name: c.name.clone(),
            });
            report.containers.push(c.name.clone());
        }
    }
    let networks = engine
        .list_networks(stack)
        .await
        .map_err(|e| engine_err("cannot list the stack's networks".into(), None, e))?;
    for n in networks {
        match engine.remove_network(&n.id).await {
            Ok(()) | Err(EngineError::NotFound { .. }) => report.networks.push(n.name),
            Err(_) if !report.kept.is_empty() => report.kept.push(format!("network {}", n.name)),
            Err(e) => {
                return Err(engine_err(
                    format!("cannot remove network `{}`", n.name),
                    None,
                    e,
                ));
            }
        }
    }
    // Secrets volumes go with their containers, and the status volume with the stack, `-v` or
    // not.
    let volumes = engine
        .list_volumes(stack)
        .await
        .map_err(|e| engine_err("cannot list the stack's volumes".into(), None, e))?;
    for v in volumes.iter().filter(|v| {
        v.labels.contains_key(stackr_engine::LABEL_SECRETS_FOR)
            || v.labels.contains_key(stackr_engine::LABEL_INTERNAL)
    }) {
        match engine.remove_volume(&v.name).await {
            Ok(()) | Err(EngineError::NotFound { .. }) => {}
            Err(e) => {
                return Err(engine_err(
                    format!("cannot remove volume `{}`", v.name),
                    None,
                    e,
                ));
            }
        }
    }
    if opts.remove_volumes {
        let volumes = engine
            .list_volumes(stack)
            .await
            .map_err(|e| engine_err("cannot list the stack's volumes".into(), None, e))?;
        for v in volumes.into_iter().filter(|v| {
            !v.labels.contains_key(stackr_engine::LABEL_SECRETS_FOR)
                && !v.labels.contains_key(stackr_engine::LABEL_INTERNAL)
        }) {
            match engine.remove_volume(&v.name).await {
                Ok(()) | Err(EngineError::NotFound { .. }) => report.volumes.push(v.name),
                // Every container of this stack is gone: what still uses it is not this
                // stack's, and its data stays.
                Err(EngineError::Conflict { .. }) => report.volumes_in_use.push(v.name),
                Err(e) => {
                    return Err(engine_err(
                        format!("cannot remove volume `{}`", v.name),
                        None,
                        e,
                    ));
                }
            }
        }
    }
    Ok(report)
}

/// Waits until every chosen service (all when empty) is ready: running, healthy where it has
/// a check, and exited 0 where it is a one-shot (`restart "no"` and exited). Learns from the
/// engine's events, re-inspecting what is still pending every second.
pub async fn wait_ready<E: Engine>(
    engine: &E,
    desired: &crate::desired::Desired,
    services: &[String],
    timeout: Duration,
    progress: &(dyn Fn(Step) + Send + Sync),
) -> Result<(), ApplyError> {
    let stack = desired.stack.as_str();
    let mut events = engine
        .events(stack)
        .await
        .map_err(|e| engine_err("cannot follow the engine's events".into(), None, e))?;
    let deadline = tokio::time::Instant::now() + timeout;
    let chosen = |s: &str| services.is_empty() || services.iter().any(|x| x == s);
    let list = engine
        .list_containers(stack)
        .await
        .map_err(|e| engine_err("cannot list the stack's containers".into(), None, e))?;
    let mut pending: BTreeMap<String, (String, String)> = list
        .iter()
        .filter_map(|c| {
            let svc = c.service()?;
            (chosen(svc) && desired.service(svc).is_some())
                .then(|| (c.id.clone(), (svc.to_string(), c.name.clone())))
        })
        .collect();
    let one_shot = |svc: &str| {
        desired
            .service(svc)
            .is_some_and(|s| s.containers.first().is_some_and(|c| c.spec.restart == "no"))
    };
    let has_check = |svc: &str| desired.service(svc).is_some_and(|s| s.has_health_check);
    let mut last: BTreeMap<String, ContainerInfo> = BTreeMap::new();
    loop {
        // Check everything still pending.
        let ids: Vec<String> = pending.keys().cloned().collect();
        for id in ids {
            let Some((svc, name)) = pending.get(&id).cloned() else {
                continue;
            };
            let info = engine
                .inspect_container(&id)
                .await
                .map_err(|e| engine_err(format!("cannot inspect `{name}`"), Some(&svc), e))?;
            let Some(info) = info else {
                return Err(ApplyError::NotReady {
                    service: svc,
                    reason: format!("container `{name}` is gone"),
                    output: None,
                });
            };
            let ready = match (info.state, info.exit_code) {
                (ContainerState::Exited, Some(0)) if one_shot(&svc) => true,
                (ContainerState::Exited, code) => {
                    return Err(ApplyError::NotReady {
                        service: svc,
                        reason: format!("`{name}` exited with code {}", code.unwrap_or(-1)),
                        output: None,
                    });
                }
                (ContainerState::Running, _) if has_check(&svc) => match info.health {
                    Some(HealthState::Healthy) => true,
                    Some(HealthState::Unhealthy) => {
                        return Err(ApplyError::NotReady {
                            service: svc,
                            reason: format!("`{name}` is unhealthy"),
                            output: info.health_output.clone(),
                        });
                    }
                    _ => false,
                },
                (ContainerState::Running, _) => true,
                _ => false,
            };
            if ready {
                // Reported when it became healthy while waited on, not when it already was.
                if info.health == Some(HealthState::Healthy) && last.contains_key(&id) {
                    progress(Step::Healthy {
                        service: svc.clone(),
                        name: name.clone(),
                        engine_time: None,
                    });
                }
                pending.remove(&id);
            } else {
                last.insert(id.clone(), info);
            }
        }
        if pending.is_empty() {
            return Ok(());
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            let (id, (svc, name)) = pending
                .iter()
                .next()
                .map(|(k, v)| (k.clone(), v.clone()))
                .unwrap_or_default();
            let info = last.get(&id);
            let state = info.map_or("unknown".to_string(), |i| match i.health {
                Some(h) => format!("{}, health {}", i.state.as_str(), h.as_str()),
                None => i.state.as_str().to_string(),
            });
            return Err(ApplyError::NotReady {
                service: svc,
                reason: format!("`{name}` is still {state} after {}s", timeout.as_secs()),
                output: info.and_then(|i| i.health_output.clone()),
            });
        }
        // Wait for an event about a pending container, or a second, or the deadline.
        let tick = left.min(Duration::from_secs(1));
        let _ = tokio::time::timeout(tick, async {
            while let Some(Ok(ev)) = events.next().await {
                if pending.contains_key(&ev.container_id) {
                    break;
                }
            }
        })
        .await;
    }
}
