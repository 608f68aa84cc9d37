//! A service's rolling update: batch by batch, each container replaced as the update's order
//! says (start-first: the new one beside the old until it is healthy; stop-first: the old one
//! goes first), then watched for `monitor`. Failures beyond `max-failure-ratio` take the
//! update's `failure-action`; a rollback replaces the updated containers with what they were
//! created from, with the rollback's own policy.

use std::time::Duration;

use stackr_engine::{ContainerState, Engine, HealthState};
use stackr_spec::model::{FailureAction, UpdateOrder};
use stackr_spec::update::Rollout;
use tokio::sync::watch;

use super::{ApplyError, Run, Seen, Step, UpdateOutcome, create, engine_err, lock, remove};
use crate::desired::{DesiredService, SecretFile, secrets_volume};
use crate::plan::PlanItem;
use crate::rollout::{RolloutPlan, Target, next_name, secrets_volume_of, with_secrets_volume};

/// One slot to replace: its name, the container in it now, and what to make.
#[derive(Debug, Clone)]
struct Slot {
    name: String,
    /// The container in the slot now (`None`: gone already).
    current: Option<String>,
    /// The secrets volume the current container mounts.
    current_secrets: Option<String>,
    /// A `-next` container an interrupted run left, with the target's spec.
    adopt: Option<String>,
    target: Target,
    secrets: Vec<SecretFile>,
    /// What the current container was created from: the way back.
    previous: Option<Target>,
    /// Made by `stackr rollback`: labelled so, for `up`'s plan to say why it replaces it.
    rolled_back: bool,
    /// The stack file's spec (not a way back): its per-replica `pre-start` hooks precede it.
    forward: bool,
}

/// How a replaced slot ended.
#[derive(Debug)]
enum Outcome {
    /// The new container holds the slot, its secrets in `volume`.
    Done { id: String, volume: String },
    /// It failed its health check or exited. `left`: the new container, still in the slot
    /// (stop-first); `None` when it was removed and the old one runs on (start-first).
    Failed {
        reason: String,
        output: Option<String>,
        left: Option<String>,
    },
}

/// A slot whose new container failed: why, and the new container when it stays in the slot.
struct FailedSlot {
    slot: Slot,
    reason: String,
    output: Option<String>,
    left: Option<String>,
}

/// A slot the update replaced: the new container and the secrets volume it mounts.
struct DoneSlot {
    slot: Slot,
    id: String,
    volume: String,
}

/// Why a new container did not hold.
struct Failure {
    reason: String,
    output: Option<String>,
}

/// Runs the rollout the plan has for `s`.
pub(super) async fn roll<E: Engine>(
    run: &Run<'_, E>,
    s: &DesiredService,
    r: &RolloutPlan,
    rx: &watch::Receiver<u64>,
) -> Result<(), ApplyError> {
    let slots: Vec<Vec<Slot>> = r
        .batches
        .iter()
        .map(|b| {
            b.iter()
                .filter_map(|name| slot_of(run, s, name, r.is_rollback))
                .collect()
        })
        .collect();
    let total: usize = slots.iter().map(Vec::len).sum();
    let tolerated = r.update.tolerated(total);
    let has_check = s.has_health_check;
    let mut done: Vec<DoneSlot> = Vec::new();
    let mut failures: Vec<FailedSlot> = Vec::new();
    for (i, batch) in slots.into_iter().enumerate() {
        if i > 0 {
            pause(run, &s.name, r.update.delay).await?;
        }
        (run.progress)(Step::UpdateBatch {
            service: s.name.clone(),
            batch: i + 1,
            batches: r.batches.len(),
            containers: batch.iter().map(|x| x.name.clone()).collect(),
        });
        let results = futures::future::join_all(
            batch
                .iter()
                .map(|slot| replace(run, s, slot, r.update, has_check, rx)),
        )
        .await;
        let mut error = None;
        for (slot, result) in batch.into_iter().zip(results) {
            match result {
                Ok(Outcome::Done { id, volume }) => done.push(DoneSlot { slot, id, volume }),
                Ok(Outcome::Failed {
                    reason,
                    output,
                    left,
                }) => {
                    (run.progress)(Step::ReplaceFailed {
                        service: s.name.clone(),
                        name: slot.name.clone(),
                        reason: reason.clone(),
                    });
                    failures.push(FailedSlot {
                        slot,
                        reason,
                        output,
                        left,
                    });
                }
                Err(e) => {
                    error.get_or_insert(e);
                }
            }
        }
        if let Some(e) = error {
            return Err(e);
        }
        if failures.len() <= tolerated || r.update.failure_action == FailureAction::Continue {
            continue;
        }
        let outcome = match r.update.failure_action {
            FailureAction::Rollback => roll_back(run, s, r.rollback, &done, &failures, rx).await?,
            _ => UpdateOutcome::Paused,
        };
        return Err(failed(s, &failures, outcome));
    }
    if failures.len() > tolerated {
        return Err(failed(s, &failures, UpdateOutcome::Continued));
    }
    Ok(())
}

fn failed(s: &DesiredService, failures: &[FailedSlot], outcome: UpdateOutcome) -> ApplyError {
    let last = &failures[failures.len() - 1];
    ApplyError::UpdateFailed(Box::new(super::UpdateFailure {
        service: s.name.clone(),
        container: last.slot.name.clone(),
        reason: last.reason.clone(),
        output: last.output.clone(),
        failed: failures.len(),
        outcome,
    }))
}

/// The slot a plan item names, with what to make there.
fn slot_of<E: Engine>(
    run: &Run<'_, E>,
    s: &DesiredService,
    name: &str,
    is_rollback: bool,
) -> Option<Slot> {
    let it: &PlanItem = run.plan.items.iter().find(|i| {
        i.name == name
            && i.service.as_deref() == Some(s.name.as_str())
            && matches!(
                i.action,
                crate::plan::Action::Recreate | crate::plan::Action::Replace
            )
    })?;
    let want = s.containers.iter().find(|c| c.spec.name == name);
    let target = match (&it.target, want) {
        (Some(t), _) => t.clone(),
        (None, Some(w)) => Target {
            spec: w.spec.clone(),
            hash: w.hash.clone(),
        },
        (None, None) => return None,
    };
    Some(Slot {
        name: name.to_string(),
        current: it.id.clone(),
        current_secrets: it
            .previous
            .as_ref()
            .and_then(|p| secrets_volume_of(&p.spec)),
        adopt: it.next.clone(),
        target,
        secrets: want.map(|w| w.secrets.clone()).unwrap_or_default(),
        previous: it.previous.clone(),
        rolled_back: is_rollback,
        forward: it.target.is_none(),
    })
}

/// Waits `delay` between batches, unless the run is stopped.
async fn pause<E: Engine>(
    run: &Run<'_, E>,
    service: &str,
    delay: Duration,
) -> Result<(), ApplyError> {
    let end = tokio::time::Instant::now() + delay;
    loop {
        run.go_on(service)?;
        let now = tokio::time::Instant::now();
        if now >= end {
            return Ok(());
        }
        tokio::time::sleep((end - now).min(Duration::from_millis(200))).await;
    }
}

/// Replaces one slot in the given order.
async fn replace<E: Engine>(
    run: &Run<'_, E>,
    s: &DesiredService,
    slot: &Slot,
    policy: Rollout,
    has_check: bool,
    rx: &watch::Receiver<u64>,
) -> Result<Outcome, ApplyError> {
    match policy.order {
        UpdateOrder::StartFirst if slot.current.is_some() => {
            start_first(run, s, slot, policy.monitor, has_check, rx.clone()).await
        }
        _ => stop_first(run, s, slot, policy.monitor, has_check, rx.clone()).await,
    }
}

/// The volume for the new container's secrets: not the one the old container still mounts.
fn new_secrets_volume(slot: &Slot, temporary: bool) -> String {
    let own = secrets_volume(&slot.name);
    if !temporary {
        return own;
    }
    if slot.current_secrets.as_deref() == Some(own.as_str()) || slot.current_secrets.is_none() {
        secrets_volume(&next_name(&slot.name))
    } else {
        own
    }
}

/// Makes the new container of a slot under `name` (its secrets filled first, into `volume`).
async fn make<E: Engine>(
    run: &Run<'_, E>,
    s: &DesiredService,
    slot: &Slot,
    name: &str,
    volume: &str,
) -> Result<String, ApplyError> {
    let svc = Some(s.name.as_str());
    let mut spec = with_secrets_volume(slot.target.spec.clone(), volume);
    spec.name = name.to_string();
    if let Some(prev) = &slot.previous {
        spec.labels
            .extend(crate::rollout::previous_labels(&prev.spec));
    }
    if slot.rolled_back {
        spec.labels
            .insert(crate::rollout::LABEL_ROLLED_BACK.to_string(), "true".into());
    }
    let has_secrets = secrets_volume_of(&slot.target.spec).is_some();
    if has_secrets {
        run.go_on(&s.name)?;
        super::fill_secrets_volume(
            run.engine,
            &run.desired.stack,
            name,
            volume,
            &spec.image,
            &slot.secrets,
        )
        .await
        .map_err(|e| engine_err(format!("cannot give `{name}` its secrets"), svc, e))?;
    }
    run.go_on(&s.name)?;
    let created = create(run.engine, &run.joining_by_id(&spec), &slot.target.hash)
        .await
        .map_err(|e| engine_err(format!("cannot create `{name}`"), svc, e))?;
    let id = created.id;
    if has_secrets && slot.secrets.iter().any(|f| f.link.is_some()) {
        run.go_on(&s.name)?;
        super::link_secrets(run.engine, &id, &slot.secrets)
            .await
            .map_err(|e| engine_err(format!("cannot give `{name}` its secrets"), svc, e))?;
    }
    (run.progress)(Step::Created {
        service: s.name.clone(),
        name: name.to_string(),
        warnings: created.warnings,
    });
    Ok(id)
}

/// Starts a container of the rollout and watches it. `pre_start`: the slot whose per-replica
/// `pre-start` hooks come first (a failing one is a failed new container).
#[allow(clippy::too_many_arguments)]
async fn start_and_watch<E: Engine>(
    run: &Run<'_, E>,
    s: &DesiredService,
    id: &str,
    name: &str,
    pre_start: Option<&str>,
    monitor: Duration,
    has_check: bool,
    rx: watch::Receiver<u64>,
) -> Result<Result<(), Failure>, ApplyError> {
    let svc = Some(s.name.as_str());
    let info = run
        .engine
        .inspect_container(id)
        .await
        .map_err(|e| engine_err(format!("cannot inspect `{name}`"), svc, e))?;
    let labels = info.as_ref().map(|i| i.labels.clone()).unwrap_or_default();
    let running = info.map(|i| (i.state == ContainerState::Running, super::seen_of(&i)));
    {
        let mut st = lock(run.shared);
        st.ids.insert(id.to_string(), s.name.clone());
        let seen = match &running {
            Some((true, seen)) => seen.clone(),
            _ => Seen::default(),
        };
        st.seen.insert(id.to_string(), seen);
    }
    if !running.as_ref().is_some_and(|(r, _)| *r) {
        if let Some(slot) = pre_start {
            match super::pre_start::before(run, s, slot).await {
                Ok(()) => {}
                Err(ApplyError::Hook { error, .. }) => {
                    return Ok(Err(Failure {
                        reason: format!("could not start: {error}"),
                        output: error.output().map(str::to_string),
                    }));
                }
                Err(e) => return Err(e),
            }
        }
        run.go_on(&s.name)?;
        (run.progress)(Step::Starting {
            service: s.name.clone(),
            name: name.to_string(),
        });
        run.engine
            .start_container(id)
            .await
            .map_err(|e| engine_err(format!("cannot start `{name}`"), svc, e))?;
        lock(run.shared)
            .seen
            .entry(id.to_string())
            .or_default()
            .started = true;
        (run.progress)(Step::Started {
            service: s.name.clone(),
            name: name.to_string(),
        });
        let slot = name
            .strip_suffix(crate::rollout::NEXT_SUFFIX)
            .unwrap_or(name);
        super::release_wait(run, s, id, slot).await?;
        match super::post_start(run.engine, &s.name, id, name, &labels).await {
            Ok(()) => {}
            Err(ApplyError::Hook { error, .. }) => {
                return Ok(Err(Failure {
                    reason: format!("failed its post-start hook: {error}"),
                    output: error.output().map(str::to_string),
                }));
            }
            Err(e) => return Err(e),
        }
    }
    watch_new(run, &s.name, id, monitor, has_check, rx).await
}

/// Start-first: the new container beside the old one, healthy and watched, then the old one
/// removed and the new one renamed to the slot's name.
async fn start_first<E: Engine>(
    run: &Run<'_, E>,
    s: &DesiredService,
    slot: &Slot,
    monitor: Duration,
    has_check: bool,
    rx: watch::Receiver<u64>,
) -> Result<Outcome, ApplyError> {
    let svc = Some(s.name.as_str());
    let temp = next_name(&slot.name);
    let volume = new_secrets_volume(slot, true);
    let id = match &slot.adopt {
        Some(id) => id.clone(),
        None => make(run, s, slot, &temp, &volume).await?,
    };
    let hooks = slot.forward.then_some(slot.name.as_str());
    if let Err(f) = start_and_watch(run, s, &id, &temp, hooks, monitor, has_check, rx).await? {
        forget(run, &id);
        let labels = Some(&slot.target.spec.labels);
        remove(run.engine, &id, labels, run.opts.stop_timeout, run.progress)
            .await
            .map_err(|e| engine_err(format!("cannot remove `{temp}`"), svc, e))?;
        remove_secrets_volume(run, Some(&volume), slot.current_secrets.as_deref()).await;
        (run.progress)(Step::Removed {
            service: s.name.clone(),
            name: temp,
        });
        return Ok(Outcome::Failed {
            reason: f.reason,
            output: f.output,
            left: None,
        });
    }
    remove_old(run, s, slot, &volume).await?;
    run.go_on(&s.name)?;
    run.engine
        .rename_container(&id, &slot.name)
        .await
        .map_err(|e| engine_err(format!("cannot rename `{temp}` to `{}`", slot.name), svc, e))?;
    (run.progress)(Step::Renamed {
        service: s.name.clone(),
        from: temp,
        to: slot.name.clone(),
    });
    Ok(Outcome::Done { id, volume })
}

/// Removes the slot's current container (its `pre-stop` hooks first) and the secrets volume
/// it mounted, unless the new container mounts that one (`keep`).
async fn remove_old<E: Engine>(
    run: &Run<'_, E>,
    s: &DesiredService,
    slot: &Slot,
    keep: &str,
) -> Result<(), ApplyError> {
    let Some(old) = &slot.current else {
        return Ok(());
    };
    run.go_on(&s.name)?;
    forget(run, old);
    let labels = slot.previous.as_ref().map(|p| &p.spec.labels);
    remove(run.engine, old, labels, run.opts.stop_timeout, run.progress)
        .await
        .map_err(|e| {
            engine_err(
                format!("cannot remove the old `{}`", slot.name),
                Some(&s.name),
                e,
            )
        })?;
    remove_secrets_volume(run, slot.current_secrets.as_deref(), Some(keep)).await;
    (run.progress)(Step::Removed {
        service: s.name.clone(),
        name: slot.name.clone(),
    });
    Ok(())
}

/// Stop-first: the old container goes, the new one is made under the slot's name, started
/// and watched. A new container that fails stays (the old one is gone).
async fn stop_first<E: Engine>(
    run: &Run<'_, E>,
    s: &DesiredService,
    slot: &Slot,
    monitor: Duration,
    has_check: bool,
    rx: watch::Receiver<u64>,
) -> Result<Outcome, ApplyError> {
    let volume = new_secrets_volume(slot, false);
    remove_old(run, s, slot, &volume).await?;
    let id = make(run, s, slot, &slot.name, &volume).await?;
    let hooks = slot.forward.then_some(slot.name.as_str());
    match start_and_watch(run, s, &id, &slot.name, hooks, monitor, has_check, rx).await? {
        Ok(()) => Ok(Outcome::Done { id, volume }),
        Err(f) => {
            forget(run, &id);
            Ok(Outcome::Failed {
                reason: f.reason,
                output: f.output,
                left: Some(id),
            })
        }
    }
}

/// The run no longer follows a container (one being removed, or failed): its exit is not the
/// service's.
fn forget<E: Engine>(run: &Run<'_, E>, id: &str) {
    let mut st = lock(run.shared);
    st.ids.remove(id);
    st.seen.remove(id);
}

/// Removes a secrets volume no container uses any more (never `keep`). Best effort: a volume
/// still in use stays, and `down` removes it.
async fn remove_secrets_volume<E: Engine>(
    run: &Run<'_, E>,
    volume: Option<&str>,
    keep: Option<&str>,
) {
    if let Some(v) = volume
        && Some(v) != keep
    {
        let _ = run.engine.remove_volume(v).await;
    }
}

/// Waits until a new container is ready (healthy when the service has a check, else
/// started), then watches it for `monitor`: unhealthy, or an exit (any exit, when it has a
/// check; a failing one otherwise), is a failure.
async fn watch_new<E: Engine>(
    run: &Run<'_, E>,
    service: &str,
    id: &str,
    monitor: Duration,
    has_check: bool,
    mut rx: watch::Receiver<u64>,
) -> Result<Result<(), Failure>, ApplyError> {
    loop {
        run.go_on(service)?;
        let seen = lock(run.shared).seen.get(id).cloned().unwrap_or_default();
        if let Some(f) = failure(&seen, has_check) {
            return Ok(Err(f));
        }
        let ready = if has_check {
            seen.health == Some(HealthState::Healthy)
        } else {
            seen.started
        };
        if ready {
            break;
        }
        if rx.changed().await.is_err() {
            return Err(ApplyError::Cancelled {
                service: service.to_string(),
                reason: "the engine's events ended".into(),
            });
        }
    }
    let end = tokio::time::Instant::now() + monitor;
    loop {
        run.go_on(service)?;
        let seen = lock(run.shared).seen.get(id).cloned().unwrap_or_default();
        if let Some(f) = failure(&seen, has_check) {
            return Ok(Err(f));
        }
        tokio::select! {
            () = tokio::time::sleep_until(end) => return Ok(Ok(())),
            r = rx.changed() => {
                if r.is_err() {
                    tokio::time::sleep_until(end).await;
                }
            }
        }
    }
}

fn failure(seen: &Seen, has_check: bool) -> Option<Failure> {
    if let Some(code) = seen.exit_code
        && (code != 0 || has_check)
    {
        return Some(Failure {
            reason: format!("exited with code {code}"),
            output: seen.health_output.clone(),
        });
    }
    (seen.health == Some(HealthState::Unhealthy)).then(|| Failure {
        reason: "is unhealthy".into(),
        output: seen.health_output.clone(),
    })
}

/// Puts back what the failed update replaced: each updated slot, and each stop-first slot
/// whose new container failed, gets a container from the spec it had, with the rollback's
/// policy. What the rollback itself cannot put back is reported.
async fn roll_back<E: Engine>(
    run: &Run<'_, E>,
    s: &DesiredService,
    policy: Rollout,
    done: &[DoneSlot],
    failures: &[FailedSlot],
    rx: &watch::Receiver<u64>,
) -> Result<UpdateOutcome, ApplyError> {
    let mut back: Vec<Slot> = Vec::new();
    let in_slot = done
        .iter()
        .map(|d| (&d.slot, d.id.clone(), d.volume.clone()))
        .chain(failures.iter().filter_map(|f| {
            f.left
                .as_ref()
                .map(|id| (&f.slot, id.clone(), secrets_volume(&f.slot.name)))
        }));
    for (slot, now, volume) in in_slot {
        let Some(previous) = &slot.previous else {
            continue;
        };
        back.push(Slot {
            name: slot.name.clone(),
            current: Some(now),
            current_secrets: secrets_volume_of(&slot.target.spec).map(|_| volume),
            adopt: None,
            target: previous.clone(),
            secrets: slot.secrets.clone(),
            previous: None,
            rolled_back: false,
            forward: false,
        });
    }
    if back.is_empty() {
        // Start-first, failed in its first batch: the old containers never stopped.
        return Ok(UpdateOutcome::RolledBack);
    }
    (run.progress)(Step::RollingBack {
        service: s.name.clone(),
        containers: back.iter().map(|b| b.name.clone()).collect(),
    });
    let size = policy.batch_size(back.len());
    let mut failed_back: Option<String> = None;
    for (i, batch) in back.chunks(size).enumerate() {
        if i > 0 {
            pause(run, &s.name, policy.delay).await?;
        }
        let results = futures::future::join_all(
            batch
                .iter()
                .map(|slot| replace(run, s, slot, policy, slot.target.spec.health.is_some(), rx)),
        )
        .await;
        for (slot, r) in batch.iter().zip(results) {
            if let Outcome::Failed { reason, .. } = r? {
                failed_back.get_or_insert(format!("`{}` {reason}", slot.name));
            }
        }
        if failed_back.is_some() && policy.failure_action == FailureAction::Pause {
            break;
        }
    }
    Ok(match failed_back {
        Some(reason) => UpdateOutcome::RollbackFailed { reason },
        None => UpdateOutcome::RolledBack,
    })
}
