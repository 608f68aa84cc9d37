//! The operations on the Swarm target: `plan`, `up` (build, push, pin by digest, plan, lock,
//! apply in dependency order), `down`, `ps` (tasks with their node) and `logs` (every task's
//! output), generic over [`Swarm`] so that each runs on the fake as on a real swarm.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use stackr_engine::swarm::{NodeInfo, Swarm, TaskState};
use stackr_engine::{EngineError, LogOptions};
use stackr_spec::Stack;
use stackr_swarm::SwarmError;
use stackr_swarm::apply::{ApplyOptions, SwarmStep};
use stackr_swarm::desired::{Desired, Inputs, SwarmProbe, registry_of, stack_registry, uses_probe};
use stackr_swarm::lock::SwarmLock;
use stackr_swarm::plan::Plan;
use tokio::sync::watch;

use crate::{Context, LogLine, OpError, OpEvent, Sink};

/// What `up --target swarm` is asked for.
#[derive(Debug, Clone, Default)]
pub struct SwarmUpOptions {
    /// `--build`: build and push every built image, even when the swarm runs one made from the
    /// same inputs.
    pub build: bool,
    /// `--wait`: wait until every service meets its own condition.
    pub wait: bool,
    /// How long to wait for another run's lock.
    pub lock_wait: Duration,
}

fn swarm_err(e: SwarmError) -> OpError {
    OpError::Swarm(e)
}

fn engine_err(context: &str) -> impl FnOnce(EngineError) -> OpError + '_ {
    move |error| OpError::Engine {
        context: context.to_string(),
        error,
    }
}

/// The image of the stack's services that is `image` pinned by digest (`IMAGE@sha256:...`),
/// made from the build inputs of digest `build_hash` when one is given: what an `up` deployed
/// before, from whichever machine, and so needs no build and no push.
fn deployed_image(
    services: &[stackr_engine::swarm::ServiceInfo],
    image: &str,
    build_hash: Option<&str>,
) -> Option<String> {
    services
        .iter()
        .filter(|o| o.image.starts_with(&format!("{image}@")))
        .find(|o| {
            build_hash.is_none_or(|h| {
                o.labels
                    .get(stackr_engine::LABEL_BUILD_HASH)
                    .map(String::as_str)
                    == Some(h)
            })
        })
        .map(|o| o.image.clone())
}

/// The digest of a build's inputs (context, Dockerfile, target, args).
async fn build_hash(service: &str, spec: &stackr_engine::BuildSpec) -> Result<String, OpError> {
    let spec = spec.clone();
    let context = format!("build inputs of service `{service}`");
    tokio::task::spawn_blocking(move || stackr_engine::context::build_digest(&spec))
        .await
        .map_err(|e| OpError::Engine {
            context: context.clone(),
            error: EngineError::Other(e.to_string()),
        })?
        .map_err(engine_err(&context))
}

/// The built services with their build specs and the digests of their inputs.
async fn builds(
    stack: &Stack,
    cx: &Context,
) -> Result<Vec<(String, stackr_engine::BuildSpec, Vec<Vec<String>>, String)>, OpError> {
    let mut out = Vec::new();
    for s in stack.services.values() {
        let Some((spec, host_commands)) = stackr_reconcile::desired::build_spec(stack, s, &cx.base)
        else {
            continue;
        };
        let hash = build_hash(&s.name.value, &spec).await?;
        out.push((s.name.value.clone(), spec, host_commands, hash));
    }
    Ok(out)
}

/// The desired state's inputs: what the caller read (env files, secret values, configs) and
/// what each image deploys as.
fn inputs(
    cx: &Context,
    images: BTreeMap<String, String>,
    build_hashes: BTreeMap<String, String>,
    probe: Option<SwarmProbe>,
) -> Inputs {
    Inputs {
        env_files: cx.base.env_files.clone(),
        secrets: cx.base.secrets.clone(),
        configs: cx.base.configs.clone(),
        images,
        build_hashes,
        probe,
    }
}

/// The inputs without building or pushing anything (for `plan`): a built image deploys as
/// the swarm runs it when that was made from the same inputs (else as its tag: the plan shows
/// it changing).
async fn inputs_as_deployed<S: Swarm>(
    engine: &S,
    stack: &Stack,
    cx: &Context,
) -> Result<Inputs, OpError> {
    let services = engine
        .list_services(&stack.name)
        .await
        .map_err(engine_err("services"))?;
    let mut images = BTreeMap::new();
    let mut build_hashes = BTreeMap::new();
    for (_, spec, _, hash) in builds(stack, cx).await? {
        if let Some(d) = deployed_image(&services, &spec.tag, Some(&hash)) {
            images.insert(spec.tag.clone(), d);
        }
        build_hashes.insert(spec.tag, hash);
    }
    let probe = match (uses_probe(stack), stack_registry(stack)) {
        (true, Some(registry)) => {
            let reference = probe_reference(&registry, &cx.probe.image);
            Some(SwarmProbe {
                volume: cx.probe.volume.clone(),
                image: deployed_image(&services, &reference, None).unwrap_or(reference),
            })
        }
        _ => None,
    };
    Ok(inputs(cx, images, build_hashes, probe))
}

/// `REGISTRY/stackr-probe:DIGEST` for the local `stackr-probe:DIGEST`.
fn probe_reference(registry: &str, local: &str) -> String {
    format!("{registry}/{local}")
}

/// The plan for the stack as the swarm runs it now (nothing is built or pushed).
pub async fn swarm_plan<S: Swarm>(
    engine: &S,
    stack: &Stack,
    cx: &Context,
) -> Result<(Plan, Desired), OpError> {
    stackr_swarm::observe::check_manager(engine)
        .await
        .map_err(swarm_err)?;
    let inputs = inputs_as_deployed(engine, stack, cx).await?;
    plan_with(engine, stack, &inputs).await
}

async fn plan_with<S: Swarm>(
    engine: &S,
    stack: &Stack,
    inputs: &Inputs,
) -> Result<(Plan, Desired), OpError> {
    let desired = stackr_swarm::desired::desired(stack, inputs).map_err(swarm_err)?;
    let observed = stackr_swarm::observe::observe(engine, &desired)
        .await
        .map_err(swarm_err)?;
    Ok((stackr_swarm::plan::plan(&desired, &observed), desired))
}

/// Builds the stack's images, pushes them and the probe runner's to their registries, and
/// returns what each deploys as, pinned by the digest the registry gave. An image the swarm
/// already runs, made from the same inputs, is neither built nor pushed again (unless
/// `force`): a build on another machine gives other bytes, and would roll every task for
/// nothing.
async fn images<S: Swarm>(
    engine: &S,
    stack: &Stack,
    cx: &Context,
    force: bool,
    sink: Sink<'_>,
) -> Result<Inputs, OpError> {
    let services = engine
        .list_services(&stack.name)
        .await
        .map_err(engine_err("services"))?;
    let mut images = BTreeMap::new();
    let mut build_hashes = BTreeMap::new();
    for (service, spec, host_commands, hash) in builds(stack, cx).await? {
        build_hashes.insert(spec.tag.clone(), hash.clone());
        if images.contains_key(&spec.tag) {
            continue;
        }
        if !force && let Some(d) = deployed_image(&services, &spec.tag, Some(&hash)) {
            images.insert(spec.tag.clone(), d);
            continue;
        }
        if !host_commands.is_empty() {
            return Err(OpError::Swarm(SwarmError::Unsupported {
                service,
                what: "`pre-build` host commands on the Swarm target".into(),
                help: "run them before `stackr up --target swarm`, or build with `stackr build` on the engine target first".into(),
            }));
        }
        if registry_of(&spec.tag).is_none() {
            return Err(OpError::Swarm(SwarmError::Unsupported {
                service,
                what: format!(
                    "image `{}` names no registry, and Swarm nodes cannot build",
                    spec.tag
                ),
                help: "write `image \"REGISTRY:PORT/NAME:TAG\"` with a registry every node reaches"
                    .into(),
            }));
        }
        let context = format!("build of service `{service}`");
        engine
            .build_image(&spec, &|_| {})
            .await
            .map_err(engine_err(&context))?;
        let digest = engine
            .push_image(&spec.tag)
            .await
            .map_err(engine_err(&context))?;
        let pinned = format!("{}@{digest}", spec.tag);
        sink(OpEvent::Pushed {
            service,
            image: pinned.clone(),
        });
        images.insert(spec.tag, pinned);
    }
    let probe = if uses_probe(stack) {
        let Some(registry) = stack_registry(stack) else {
            return Err(OpError::Swarm(SwarmError::ProbeNeedsRegistry));
        };
        let reference = probe_reference(&registry, &cx.probe.image);
        Some(match deployed_image(&services, &reference, None) {
            Some(image) if !force => SwarmProbe {
                volume: cx.probe.volume.clone(),
                image,
            },
            _ => push_probe(engine, cx, &registry, sink).await?,
        })
    } else {
        None
    };
    Ok(inputs(cx, images, build_hashes, probe))
}

/// The probe runner's one-file image, tagged into the stack's registry and pushed.
async fn push_probe<S: Swarm>(
    engine: &S,
    cx: &Context,
    registry: &str,
    sink: Sink<'_>,
) -> Result<SwarmProbe, OpError> {
    let context = "stackr's probe runner";
    if engine
        .inspect_image(&cx.probe.image)
        .await
        .map_err(engine_err(context))?
        .is_none()
    {
        let tar = stackr_engine::context::single_file_tar("probe", cx.probe.binary, 0o755)
            .map_err(engine_err(context))?;
        engine
            .import_image(tar, &cx.probe.image)
            .await
            .map_err(engine_err(context))?;
    }
    let reference = probe_reference(registry, &cx.probe.image);
    engine
        .tag_image(&cx.probe.image, &reference)
        .await
        .map_err(engine_err(context))?;
    let digest = engine
        .push_image(&reference)
        .await
        .map_err(engine_err(context))?;
    let pinned = format!("{reference}@{digest}");
    sink(OpEvent::Pushed {
        service: stackr_swarm::desired::FILLER_KEY.into(),
        image: pinned.clone(),
    });
    Ok(SwarmProbe {
        volume: cx.probe.volume.clone(),
        image: pinned,
    })
}

fn checked(plan: Plan) -> Result<Plan, OpError> {
    if plan.problems.is_empty() {
        Ok(plan)
    } else {
        Err(OpError::SwarmPlan {
            stack: plan.stack.clone(),
            problems: plan.problems,
        })
    }
}

/// `up` on a swarm: builds and pushes, plans; a plan with changes takes the stack's lock
/// (on the swarm), plans again and applies. Returns the plan applied.
pub async fn swarm_up<S: Swarm>(
    engine: &S,
    stack: &Stack,
    cx: &Context,
    opts: &SwarmUpOptions,
    cancel: Option<watch::Receiver<bool>>,
    sink: Sink<'_>,
) -> Result<Plan, OpError> {
    stackr_swarm::observe::check_manager(engine)
        .await
        .map_err(swarm_err)?;
    let inputs = images(engine, stack, cx, opts.build, sink).await?;
    let (plan, desired) = plan_with(engine, stack, &inputs).await?;
    let plan = checked(plan)?;
    let report = |s: SwarmStep| sink(OpEvent::Swarm(s));
    let apply_opts = ApplyOptions {
        wait: opts.wait,
        cancel: cancel.clone(),
    };
    if plan.is_empty() {
        sink(OpEvent::SwarmUpToDate {
            stack: stack.name.clone(),
            services: plan.services.len(),
        });
        if opts.wait {
            stackr_swarm::apply::apply(engine, &desired, &plan, &apply_opts, &report)
                .await
                .map_err(swarm_err)?;
        }
        return Ok(plan);
    }
    let lock = SwarmLock::acquire(engine, &stack.name, &cx.holder, opts.lock_wait).await?;
    let result = lock
        .holding(engine, async {
            let (plan, desired) = plan_with(engine, stack, &inputs).await?;
            let plan = checked(plan)?;
            sink(OpEvent::SwarmApplying { plan: plan.clone() });
            stackr_swarm::apply::apply(engine, &desired, &plan, &apply_opts, &report)
                .await
                .map_err(|e| match e {
                    SwarmError::Interrupted => OpError::Interrupted,
                    e => swarm_err(e),
                })?;
            Ok::<Plan, OpError>(plan)
        })
        .await;
    lock.release(engine).await;
    result
}

/// `down` on a swarm: the stack's services, secrets, configs and networks, under its lock.
/// Named volumes stay on the nodes that made them (reported).
pub async fn swarm_down<S: Swarm>(
    engine: &S,
    stack: &Stack,
    cx: &Context,
    lock_wait: Duration,
    sink: Sink<'_>,
) -> Result<(), OpError> {
    stackr_swarm::observe::check_manager(engine)
        .await
        .map_err(swarm_err)?;
    let lock = SwarmLock::acquire(engine, &stack.name, &cx.holder, lock_wait).await?;
    let report = |s: SwarmStep| sink(OpEvent::Swarm(s));
    let result = lock
        .holding(
            engine,
            stackr_swarm::apply::down(engine, &stack.name, &report),
        )
        .await
        .map_err(swarm_err);
    lock.release(engine).await;
    result?;
    let volumes: Vec<String> = stack
        .volumes
        .iter()
        .filter(|(_, v)| !v.is_external())
        .map(|(k, _)| stackr_reconcile::desired::volume_name(stack, k))
        .collect();
    if !volumes.is_empty() {
        sink(OpEvent::VolumesOnNodes { volumes });
    }
    Ok(())
}

/// One task of `ps` on a swarm.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TaskRow {
    pub service: String,
    /// `api.2` (a replicated service's slot), or `api` on a node (a global one).
    pub task: String,
    pub node: String,
    /// The node's own state: `ready`, `down`.
    pub node_state: String,
    pub state: String,
    pub desired: String,
    /// `starting` while a health check has not passed, `healthy` once it has (Swarm runs a
    /// task with a check only once it is healthy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn node_of(nodes: &[NodeInfo], id: Option<&str>) -> (String, String) {
    match id.and_then(|id| nodes.iter().find(|n| n.id == id)) {
        Some(n) => {
            let name = if n.hostname.is_empty() {
                &n.id
            } else {
                &n.hostname
            };
            // Nodes on one machine share a hostname: the id's start tells them apart.
            let short: String = n.id.chars().take(8).collect();
            (format!("{name} ({short})"), n.state.clone())
        }
        None => ("-".into(), String::new()),
    }
}

/// `ps` on a swarm: the stack's tasks (those meant to run, unless `all`), with their node.
pub async fn swarm_ps<S: Swarm>(
    engine: &S,
    stack: &str,
    all: bool,
) -> Result<(Vec<TaskRow>, Vec<NodeInfo>), OpError> {
    stackr_swarm::observe::check_manager(engine)
        .await
        .map_err(swarm_err)?;
    let services = engine
        .list_services(stack)
        .await
        .map_err(engine_err("services"))?;
    let ids: Vec<String> = services.iter().map(|s| s.id.clone()).collect();
    let tasks = engine.list_tasks(&ids).await.map_err(engine_err("tasks"))?;
    let nodes = engine.list_nodes().await.map_err(engine_err("nodes"))?;
    let mut rows = Vec::new();
    for t in tasks {
        let live = !t.desired_state.is_final() || t.desired_state == TaskState::Complete;
        if !all && !live {
            continue;
        }
        let Some(s) = services.iter().find(|s| s.id == t.service_id) else {
            continue;
        };
        let key = stackr_swarm::observe::key_of(s)
            .unwrap_or(&s.name)
            .to_string();
        let (node, node_state) = node_of(&nodes, t.node_id.as_deref());
        let has_check = s
            .labels
            .get(stackr_engine::LABEL_SPEC)
            .is_some_and(|j| j.contains("\"health\""));
        rows.push(TaskRow {
            task: match t.slot {
                Some(n) => format!("{key}.{n}"),
                None => key.clone(),
            },
            service: key,
            node,
            node_state,
            state: t.state.as_str().into(),
            desired: t.desired_state.as_str().into(),
            health: has_check.then(|| match t.state {
                TaskState::Running => "healthy".into(),
                TaskState::Starting => "starting".into(),
                _ => "-".into(),
            }),
            error: t.error.clone(),
        });
    }
    rows.sort_by(|a, b| (&a.service, &a.task, &a.state).cmp(&(&b.service, &b.task, &b.state)));
    Ok((rows, nodes))
}

/// `logs` on a swarm: each chosen service's tasks' output, task by task (each task that ran a
/// container: a slot's earlier ones too). With `follow`, the output of every such task as it
/// comes, interleaved, until each one's stream ends (a running task's when it stops).
pub async fn swarm_logs<S: Swarm>(
    engine: &S,
    stack: &str,
    services: &[String],
    opts: &LogOptions,
    sink: &(dyn Fn(LogLine) + Send + Sync),
) -> Result<(), OpError> {
    stackr_swarm::observe::check_manager(engine)
        .await
        .map_err(swarm_err)?;
    let chosen = chosen_tasks(engine, stack, services).await?;
    let mut streams = Vec::new();
    for (name, key, task) in chosen {
        let context = format!("logs of task `{name}`");
        let stream = match engine.task_logs(&task.id, opts).await {
            Ok(s) => s,
            // A task on a node that is down has no logs to give.
            Err(_) if task.state.is_final() => continue,
            Err(e) => return Err(engine_err(&context)(e)),
        };
        let tagged = stream.map(move |chunk| {
            chunk.map(|chunk| LogLine {
                container: name.clone(),
                service: key.clone(),
                chunk,
            })
        });
        if opts.follow {
            streams.push(tagged.boxed());
        } else {
            drain(tagged.boxed(), &context, sink).await?;
        }
    }
    if opts.follow {
        drain(futures::stream::select_all(streams).boxed(), "logs", sink).await?;
    }
    Ok(())
}

async fn drain(
    mut stream: futures::stream::BoxStream<'_, stackr_engine::Result<LogLine>>,
    context: &str,
    sink: &(dyn Fn(LogLine) + Send + Sync),
) -> Result<(), OpError> {
    while let Some(line) = stream.next().await {
        sink(line.map_err(engine_err(context))?);
    }
    Ok(())
}

/// The tasks whose output `logs` shows, with the name each line is tagged with (`api.2`, or
/// `api@NODE` for a global service) and the service's stack-local name. stackr's own probe
/// filler only when asked for by name.
async fn chosen_tasks<S: Swarm>(
    engine: &S,
    stack: &str,
    services: &[String],
) -> Result<Vec<(String, String, stackr_engine::swarm::TaskInfo)>, OpError> {
    let list = engine
        .list_services(stack)
        .await
        .map_err(engine_err("services"))?;
    let nodes = engine.list_nodes().await.map_err(engine_err("nodes"))?;
    let mut out = Vec::new();
    for s in &list {
        let key = stackr_swarm::observe::key_of(s)
            .unwrap_or(&s.name)
            .to_string();
        if !services.is_empty() && !services.contains(&key) {
            continue;
        }
        if key == stackr_swarm::desired::FILLER_KEY && services.is_empty() {
            continue;
        }
        let tasks = engine
            .list_tasks(std::slice::from_ref(&s.id))
            .await
            .map_err(engine_err("tasks"))?;
        // A job's tasks have no slot: numbered in the order they were made.
        let mut run = 0;
        for t in tasks.into_iter().filter(|t| t.container_id.is_some()) {
            let name = match t.slot {
                Some(n) if n > 0 => format!("{key}.{n}"),
                _ if s.mode.is_job() => {
                    run += 1;
                    format!("{key}.{run}")
                }
                _ => format!("{key}@{}", node_of(&nodes, t.node_id.as_deref()).0),
            };
            out.push((name, key.clone(), t));
        }
    }
    Ok(out)
}
