//! When a service's tasks meet a condition, read from their states (pure).
//!
//! Swarm reports a task `running` once its container started and, when it has a health
//! check, once the check passed (until then it is `starting`): so `healthy` is every wanted
//! task of the current spec running, `started` every one at least starting, and `completed`
//! (a job) every wanted task of its current run complete. Tasks of an earlier spec (their
//! container labels carry its hash) do not count, nor do tasks on their way out.

use stackr_engine::LABEL_HASH;
use stackr_engine::swarm::{NodeInfo, ServiceInfo, ServiceMode, TaskInfo, TaskState};
use stackr_spec::Condition;

/// Where a service stands against a condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// How far it is: `1 of 3 tasks running`.
    Waiting(String),
    /// It will not get there by itself: the last task's error.
    Failed(String),
}

/// How many failed tasks of the current spec, with none running, mean the service fails
/// (Swarm goes on replacing them; stackr stops waiting and says why).
pub const FAILURES: usize = 3;

/// The tasks of `service` that run `hash`, of its current job run.
fn current<'a>(
    service: &'a ServiceInfo,
    hash: &'a str,
    tasks: &'a [TaskInfo],
) -> impl Iterator<Item = &'a TaskInfo> {
    tasks.iter().filter(move |t| {
        t.service_id == service.id
            && t.container_labels.get(LABEL_HASH).map(String::as_str) == Some(hash)
            && (service.job_iteration.is_none() || t.job_iteration == service.job_iteration)
    })
}

/// How many tasks the service wants: its replicas, a job's completions, or one per ready
/// node for a global service.
pub fn wanted(service: &ServiceInfo, nodes: &[NodeInfo]) -> u64 {
    match &service.mode {
        ServiceMode::Global => nodes
            .iter()
            .filter(|n| n.state == "ready" && n.availability == "active")
            .count() as u64,
        m => m.wanted().unwrap_or(1),
    }
}

/// The last error of the service's failed tasks, when they failed often enough and none runs.
/// `once`: a failed task is not replaced (a job, or restart condition `none`).
fn failure<'a>(mut tasks: impl Iterator<Item = &'a TaskInfo>, once: bool) -> Option<String> {
    let mut failed: Vec<&TaskInfo> = Vec::new();
    let mut running = false;
    for t in tasks.by_ref() {
        match t.state {
            TaskState::Failed | TaskState::Rejected => failed.push(t),
            TaskState::Running | TaskState::Complete => running = true,
            _ => {}
        }
    }
    // A task that is not replaced fails the service at once.
    let enough = if once { 1 } else { FAILURES };
    if running || failed.len() < enough {
        return None;
    }
    let last = failed.iter().max_by(|a, b| a.timestamp.cmp(&b.timestamp))?;
    Some(match (&last.error, last.exit_code) {
        (Some(e), _) => e.clone(),
        (None, Some(c)) => format!("exit code {c}"),
        (None, None) => last.message.clone(),
    })
}

/// Whether `service`, running spec `hash`, meets `condition`. `has_check`: its tasks have a
/// health check, so `starting` means started and waiting for the check (without one, a task
/// is `starting` until its container has started).
pub fn readiness(
    service: &ServiceInfo,
    hash: &str,
    condition: Condition,
    has_check: bool,
    tasks: &[TaskInfo],
    nodes: &[NodeInfo],
) -> Readiness {
    let wanted = wanted(service, nodes);
    let job = service.mode.is_job();
    let once = job || service.restart.as_deref() == Some("none");
    if let Some(reason) = failure(current(service, hash, tasks), once) {
        return Readiness::Failed(reason);
    }
    let live = current(service, hash, tasks).filter(|t| !t.desired_state.is_final() || job);
    let (count, what) = match condition {
        Condition::Completed => (
            live.filter(|t| t.state == TaskState::Complete).count(),
            "complete",
        ),
        Condition::Healthy => (
            live.filter(|t| t.state == TaskState::Running).count(),
            "running and healthy",
        ),
        Condition::Started => (
            live.filter(|t| {
                t.state == TaskState::Running || (has_check && t.state == TaskState::Starting)
            })
            .count(),
            "started",
        ),
    };
    if count as u64 >= wanted {
        Readiness::Ready
    } else {
        Readiness::Waiting(format!("{count} of {wanted} tasks {what}"))
    }
}

/// The condition a service itself is ready at, for `--wait` and its dependents' defaults: a
/// job completed, a service with a check healthy, any other started.
pub fn own_condition(service: &ServiceInfo, has_check: bool) -> Condition {
    if service.mode.is_job() {
        Condition::Completed
    } else if has_check {
        Condition::Healthy
    } else {
        Condition::Started
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn service(mode: ServiceMode) -> ServiceInfo {
        ServiceInfo {
            id: "s1".into(),
            name: "shop_api".into(),
            version: 1,
            labels: BTreeMap::new(),
            image: "img".into(),
            mode,
            update_status: None,
            job_iteration: None,
            restart: None,
        }
    }

    fn task(hash: &str, state: TaskState) -> TaskInfo {
        TaskInfo {
            id: format!("t-{hash}-{}", state.as_str()),
            service_id: "s1".into(),
            slot: Some(1),
            node_id: Some("n1".into()),
            state,
            desired_state: TaskState::Running,
            message: String::new(),
            error: (state == TaskState::Failed).then(|| "task: non-zero exit (1)".into()),
            exit_code: None,
            container_id: None,
            container_labels: BTreeMap::from([(LABEL_HASH.to_string(), hash.to_string())]),
            job_iteration: None,
            timestamp: String::new(),
            created_at: String::new(),
        }
    }

    #[test]
    fn tasks_of_an_earlier_spec_do_not_count() {
        let s = service(ServiceMode::Replicated { replicas: 2 });
        let tasks = [
            task("old", TaskState::Running),
            task("old", TaskState::Running),
            task("new", TaskState::Running),
        ];
        assert_eq!(
            readiness(&s, "new", Condition::Healthy, true, &tasks, &[]),
            Readiness::Waiting("1 of 2 tasks running and healthy".into())
        );
    }

    #[test]
    fn a_starting_task_is_started_but_not_healthy() {
        let s = service(ServiceMode::Replicated { replicas: 1 });
        let tasks = [task("h", TaskState::Starting)];
        assert_eq!(
            readiness(&s, "h", Condition::Started, true, &tasks, &[]),
            Readiness::Ready
        );
        // Without a check, `starting` is a container not started yet.
        assert!(matches!(
            readiness(&s, "h", Condition::Started, false, &tasks, &[]),
            Readiness::Waiting(_)
        ));
        assert!(matches!(
            readiness(&s, "h", Condition::Healthy, true, &tasks, &[]),
            Readiness::Waiting(_)
        ));
    }

    #[test]
    fn a_job_fails_at_its_first_failed_task_and_a_service_after_three() {
        let job = service(ServiceMode::ReplicatedJob {
            max_concurrent: 1,
            completions: 1,
        });
        let failed = [task("h", TaskState::Failed)];
        assert_eq!(
            readiness(&job, "h", Condition::Completed, false, &failed, &[]),
            Readiness::Failed("task: non-zero exit (1)".into())
        );
        let s = service(ServiceMode::Replicated { replicas: 1 });
        assert!(matches!(
            readiness(&s, "h", Condition::Healthy, true, &failed, &[]),
            Readiness::Waiting(_)
        ));
        let thrice = [
            task("h", TaskState::Failed),
            task("h", TaskState::Failed),
            task("h", TaskState::Failed),
        ];
        assert!(matches!(
            readiness(&s, "h", Condition::Healthy, true, &thrice, &[]),
            Readiness::Failed(_)
        ));
    }
}
