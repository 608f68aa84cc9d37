//! `plan` and `up`.

use std::collections::BTreeSet;
use std::time::Duration;

use stackr_engine::{Engine, EngineError};
use stackr_reconcile::apply::{ApplyOptions, Step, apply, build_images, wait_ready};
use stackr_reconcile::desired::{Desired, Inputs};
use stackr_reconcile::lock::StackLock;
use stackr_reconcile::observe::prepare;
use stackr_reconcile::plan::{Action, ObjectKind, Plan, PlanOptions};
use stackr_spec::{PullPolicy, Stack};
use tokio::sync::watch;

use crate::{Context, OpError, OpEvent, Sink};

/// `--pull`: whether to pull the images services name (never those the stack builds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pull {
    Always,
    Missing,
    Never,
}

/// What `up` is asked for.
#[derive(Debug, Clone, Default)]
pub struct UpOptions {
    pub plan: PlanOptions,
    /// `None`: each service's `pull-policy` (missing when unset).
    pub pull: Option<Pull>,
    /// How long a stopping container gets; `None`: its own grace period.
    pub stop_timeout: Option<Duration>,
    /// `--wait`: how long to wait for every service to be ready.
    pub wait: Option<Duration>,
    /// How long to wait for another run's lock.
    pub lock_wait: Duration,
}

/// The plan for the stack as the engine runs it now, with the desired state and the inputs
/// it was made with.
pub async fn plan<E: Engine>(
    engine: &E,
    stack: &Stack,
    cx: &Context,
    opts: &PlanOptions,
) -> Result<(Plan, Desired, Inputs), OpError> {
    let (desired, observed, inputs) = prepare(engine, stack, cx.base.clone()).await?;
    let p = stackr_reconcile::plan::plan(&desired, &observed, opts);
    Ok((p, desired, inputs))
}

fn warn(p: &Plan, sink: Sink<'_>) {
    for w in &p.warnings {
        sink(OpEvent::Warning(w.clone()));
    }
}

fn check(p: Plan) -> Result<Plan, OpError> {
    if p.errors.is_empty() {
        Ok(p)
    } else {
        Err(OpError::Plan {
            stack: p.stack,
            problems: p.errors,
        })
    }
}

/// Pulls what the services need, plans, and applies the plan; then, with `wait`, waits for
/// the services to be ready. Returns the plan applied (the last one) and the inputs it was
/// made with. `cancel` set to `true` stops it once the engine calls in flight are answered.
pub async fn up<E: Engine>(
    engine: &E,
    stack: &Stack,
    cx: &Context,
    opts: &UpOptions,
    cancel: Option<watch::Receiver<bool>>,
    sink: Sink<'_>,
) -> Result<(Plan, Inputs), OpError> {
    // The images the plan observed decide what to pull (each looked at once); a pull means
    // planning again with what the engine has now.
    let (mut p, mut desired, mut inputs) = plan(engine, stack, cx, &opts.plan).await?;
    let pulled = pull_images(engine, stack, &opts.plan.services, opts.pull, &inputs, sink).await?;
    if pulled {
        (p, desired, inputs) = plan(engine, stack, cx, &opts.plan).await?;
    }
    // A plan with nothing to do needs no lock: nothing is changed. Unless a run was killed
    // while it held the lock: what it asked the engine for (a stop, say) may still be under
    // way, so this run takes the lock, which waits that run out, and plans again.
    let p = check(p)?;
    let no_op = !p.has_changes()
        && !StackLock::left_by_a_dead_run(engine, &stack.name)
            .await
            .map_err(|error| OpError::Engine {
                context: "cannot look at the stack's lock".into(),
                error,
            })?;
    if no_op {
        warn(&p, sink);
        let containers = p
            .items
            .iter()
            .filter(|i| i.kind == ObjectKind::Container)
            .count();
        sink(OpEvent::UpToDate {
            stack: stack.name.clone(),
            containers,
        });
        wait(engine, &desired, opts, cancel, sink).await?;
        return Ok((p, inputs));
    }
    let lock =
        StackLock::acquire(engine, &stack.name, &cx.probe, &cx.holder, opts.lock_wait).await?;
    let result = converge(engine, stack, cx, opts, cancel.clone(), sink).await;
    lock.release(engine).await;
    let (p, desired, inputs) = result?;
    wait(engine, &desired, opts, cancel, sink).await?;
    Ok((p, inputs))
}

/// Under the lock: plan again, build what the plan builds, observe and plan again, apply.
/// Returns the plan applied, with the desired state and inputs it was made from.
async fn converge<E: Engine>(
    engine: &E,
    stack: &Stack,
    cx: &Context,
    opts: &UpOptions,
    cancel: Option<watch::Receiver<bool>>,
    sink: Sink<'_>,
) -> Result<(Plan, Desired, Inputs), OpError> {
    let on_step = |s: Step| sink(OpEvent::Step(s));
    let (mut p, mut desired, mut inputs) = plan(engine, stack, cx, &opts.plan).await?;
    p = check(p)?;
    let builds: Vec<&str> = p
        .items
        .iter()
        .filter(|i| i.kind == ObjectKind::Image && i.action == Action::Build)
        .filter_map(|i| i.service.as_deref())
        .collect();
    if !builds.is_empty() {
        let to_build: Vec<_> = builds.iter().filter_map(|s| desired.service(s)).collect();
        build_images(engine, &to_build, &on_step).await?;
        if crate::is_cancelled(&cancel) {
            return Err(OpError::Interrupted);
        }
        // What the images are now decides the containers: the same pure plan, made again.
        let again = PlanOptions {
            build: false,
            ..opts.plan.clone()
        };
        (p, desired, inputs) = plan(engine, stack, cx, &again).await?;
        p = check(p)?;
    }
    warn(&p, sink);
    sink(OpEvent::Applying { plan: p.clone() });
    if p.has_changes() {
        let apply_opts = ApplyOptions {
            stop_timeout: opts.stop_timeout,
            probe: Some(cx.probe.clone()),
            cancel: cancel.clone(),
        };
        match apply(engine, stack, inputs.clone(), &p, &apply_opts, &on_step).await {
            Ok(()) => {}
            Err(_) if crate::is_cancelled(&cancel) => return Err(OpError::Interrupted),
            Err(e) => return Err(e.into()),
        }
    }
    Ok((p, desired, inputs))
}

/// `--wait`: every chosen service ready.
async fn wait<E: Engine>(
    engine: &E,
    desired: &Desired,
    opts: &UpOptions,
    cancel: Option<watch::Receiver<bool>>,
    sink: Sink<'_>,
) -> Result<(), OpError> {
    let Some(timeout) = opts.wait else {
        return Ok(());
    };
    let on_step = |s: Step| sink(OpEvent::Step(s));
    let ready = wait_ready(engine, desired, &opts.plan.services, timeout, &on_step);
    // Waiting changes nothing: a cancel ends it at once.
    let cancelled = crate::cancelled(cancel);
    tokio::select! {
        r = ready => Ok(r?),
        () = cancelled => Err(OpError::Interrupted),
    }
}

/// Pulls the images of services that name one, as `pull` (or their `pull-policy`) asks; an
/// image is missing when the plan's observation (`inputs`) did not find it. Images that a
/// service of the stack builds are never pulled; with services chosen, only theirs are
/// considered. Returns whether it pulled any.
async fn pull_images<E: Engine>(
    engine: &E,
    stack: &Stack,
    services: &[String],
    when: Option<Pull>,
    inputs: &Inputs,
    sink: Sink<'_>,
) -> Result<bool, OpError> {
    let built: Vec<String> = stack
        .services
        .values()
        .filter(|s| s.build.is_some())
        .map(|s| stackr_reconcile::desired::image_of(stack, s))
        .collect();
    // Image → (the first service that names it, whether to pull it always).
    let mut wanted: std::collections::BTreeMap<String, (String, bool)> = Default::default();
    for (s, image) in named_images(stack, services) {
        if built.iter().any(|b| b == image) {
            continue;
        }
        let policy = match when {
            Some(Pull::Always) => PullPolicy::Always,
            Some(Pull::Never) => PullPolicy::Never,
            Some(Pull::Missing) => PullPolicy::Missing,
            None => s
                .pull_policy
                .as_ref()
                .map_or(PullPolicy::Missing, |p| p.value),
        };
        let always = match policy {
            PullPolicy::Always => true,
            PullPolicy::Missing => false,
            PullPolicy::Never | PullPolicy::Build => continue,
        };
        let entry = wanted
            .entry(image.to_string())
            .or_insert_with(|| (s.name.value.clone(), always));
        entry.1 |= always;
    }
    let mut pulled = false;
    for (image, (service, always)) in wanted {
        if !always && inputs.image_ids.contains_key(&image) {
            continue;
        }
        pulled = true;
        sink(OpEvent::PullStarted {
            service: service.clone(),
            image: image.clone(),
        });
        engine
            .pull_image(&image)
            .await
            .map_err(|error: EngineError| OpError::Pull {
                service: service.clone(),
                image: image.clone(),
                error,
            })?;
        sink(OpEvent::PullFinished { service, image });
    }
    Ok(pulled)
}

/// The chosen services (all when `services` is empty) that name an image and build none, with
/// that image: what `pull` and `up`'s pulls consider.
fn named_images<'a>(
    stack: &'a Stack,
    services: &'a [String],
) -> impl Iterator<Item = (&'a stackr_spec::Service, &'a str)> {
    stack
        .services
        .values()
        .filter(|s| services.is_empty() || services.contains(&s.name.value))
        .flat_map(|s| {
            let own = match (&s.image, &s.build) {
                (Some(image), None) => Some((s, image.value.as_str())),
                _ => None,
            };
            // A `pre-start` hook may run from an image of its own.
            let hooks = s
                .pre_start
                .iter()
                .filter_map(move |h| h.image.as_ref().map(|i| (s, i.value.as_str())));
            own.into_iter().chain(hooks)
        })
}

/// `build`: builds the images of the chosen services that have a `build` (all when
/// `services` is empty). Returns how many it built; 0 when none of them builds.
pub async fn build<E: Engine>(
    engine: &E,
    stack: &Stack,
    cx: &Context,
    services: &[String],
    sink: Sink<'_>,
) -> Result<usize, OpError> {
    crate::known(stack, services)?;
    let desired = stackr_reconcile::desired::desired(stack, &cx.base)
        .map_err(|e| OpError::Apply(e.into()))?;
    let chosen: Vec<_> = desired
        .services
        .iter()
        .filter(|s| s.build.is_some())
        .filter(|s| services.is_empty() || services.contains(&s.name))
        .collect();
    if chosen.is_empty() {
        return Ok(0);
    }
    let on_step = |s: Step| sink(OpEvent::Step(s));
    build_images(engine, &chosen, &on_step).await?;
    Ok(chosen.len())
}

/// `pull`: pulls the images of the chosen services that name one (not those the stack
/// builds), reporting each; returns how many failed (the others went on).
pub async fn pull<E: Engine>(
    engine: &E,
    stack: &Stack,
    services: &[String],
    sink: Sink<'_>,
) -> Result<usize, OpError> {
    crate::known(stack, services)?;
    let mut failed = 0;
    for (s, image) in named_images(stack, services) {
        let (service, image) = (s.name.value.clone(), image.to_string());
        match engine.pull_image(&image).await {
            Ok(()) => sink(OpEvent::PullFinished { service, image }),
            Err(error) => {
                failed += 1;
                sink(OpEvent::PullFailed {
                    service,
                    image,
                    error,
                });
            }
        }
    }
    Ok(failed)
}

/// What `push` pushes: the services named (with `include_deps`, and what they depend on,
/// `depends-on` and the services they join) that have a `build`, each with its image and its
/// build's extra tags, as `docker compose push`.
pub fn push_list(stack: &Stack, services: &[String], include_deps: bool) -> Vec<(String, String)> {
    let mut chosen: BTreeSet<String> = BTreeSet::new();
    let mut todo: Vec<String> = if services.is_empty() {
        stack.services.keys().cloned().collect()
    } else {
        services.to_vec()
    };
    while let Some(name) = todo.pop() {
        let Some(s) = stack.services.get(&name) else {
            continue;
        };
        if !chosen.insert(name) || !include_deps {
            continue;
        }
        todo.extend(s.depends_on.iter().map(|d| d.service.value.clone()));
        todo.extend(
            stackr_spec::validate::joined_services(s)
                .into_iter()
                .map(str::to_string),
        );
    }
    let mut out = Vec::new();
    for s in stack
        .services
        .values()
        .filter(|s| chosen.contains(&s.name.value))
    {
        let Some(b) = &s.build else { continue };
        let service = s.name.value.clone();
        out.push((
            service.clone(),
            stackr_reconcile::desired::image_of(stack, s),
        ));
        out.extend(b.tags.iter().map(|t| (service.clone(), t.value.clone())));
    }
    out
}

/// `push`: pushes [`push_list`]'s images. Stops at the first failure unless
/// `ignore_failures`; returns how many failed.
pub async fn push<E: Engine>(
    engine: &E,
    stack: &Stack,
    services: &[String],
    include_deps: bool,
    ignore_failures: bool,
    sink: Sink<'_>,
) -> Result<usize, OpError> {
    crate::known(stack, services)?;
    let mut failed = 0;
    for (service, image) in push_list(stack, services, include_deps) {
        match engine.push_image(&image).await {
            Ok(_) => sink(OpEvent::Pushed { service, image }),
            Err(error) if ignore_failures => {
                failed += 1;
                sink(OpEvent::PushFailed {
                    service,
                    image,
                    error,
                });
            }
            Err(error) => {
                return Err(OpError::Push {
                    service,
                    image,
                    error,
                });
            }
        }
    }
    Ok(failed)
}

/// `--scale SERVICE=N`: how many containers a service runs, over its `scale`.
pub fn scale(stack: &mut Stack, service: &str, count: u32) -> Result<(), ScaleError> {
    let Some(s) = stack.services.get_mut(service) else {
        return Err(ScaleError::UnknownService {
            stack: stack.name.clone(),
            service: service.to_string(),
        });
    };
    if count > 1 && s.container_name.is_some() {
        return Err(ScaleError::ContainerName {
            service: service.to_string(),
            count,
        });
    }
    let span = s.name.span;
    s.scale = Some(stackr_spec::Spanned::new(count, span));
    Ok(())
}

/// `--scale SERVICE=N`, as written: the service and the count.
pub fn scale_arg(arg: &str) -> Result<(&str, u32), ScaleError> {
    let Some((service, n)) = arg.split_once('=') else {
        return Err(ScaleError::Syntax);
    };
    let count = n.parse::<u32>().map_err(|_| ScaleError::NotANumber {
        value: n.to_string(),
    })?;
    Ok((service, count))
}

/// Why a service cannot be scaled so.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScaleError {
    #[error("write `--scale SERVICE=N`")]
    Syntax,
    #[error("`{value}` is not a number")]
    NotANumber { value: String },
    #[error("no service `{service}` in stack `{stack}`")]
    UnknownService { stack: String, service: String },
    #[error("service `{service}` has a `container-name`, so it cannot run {count} containers")]
    ContainerName { service: String, count: u32 },
}
