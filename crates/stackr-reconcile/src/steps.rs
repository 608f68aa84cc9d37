//! What a step of applying a plan says: the line people read, and the event of the versioned
//! JSON stream (`up --format json`). The binary decides where they go.

use serde_json::{Value, json};

use crate::apply::Step;

/// An image id as people read it: its first 12 hex digits.
pub fn short(id: &str) -> String {
    id.trim_start_matches("sha256:").chars().take(12).collect()
}

/// The line people read for a step, if it has one.
pub fn line(step: &Step) -> Option<String> {
    Some(match step {
        Step::NetworkCreated { name } => format!("network {name}: created"),
        Step::VolumeCreated { name } => format!("volume {name}: created"),
        Step::NetworkRemoved { name } => format!("network {name}: duplicate removed"),
        Step::PreBuild { service, command } => format!("{service}: running `{command}`"),
        Step::Building { service, tag } => format!("{service}: building image {tag}"),
        Step::BuildOutput { service, line } => {
            let line = line.trim_end();
            if line.is_empty() {
                return None;
            }
            format!("{service}: | {line}")
        }
        Step::Built { service, id } => format!("{service}: built {}", short(id)),
        Step::Removed { name, .. } => format!("{name}: removed"),
        Step::Created { name, warnings, .. } => {
            let mut text = format!("{name}: created");
            for w in warnings {
                text.push_str(&format!("\n{name}: warning: the engine says: {}", w.trim()));
            }
            text
        }
        Step::Waiting { .. } | Step::Starting { .. } => return None,
        Step::Started { name, .. } => format!("{name}: started"),
        Step::Restarted { name, .. } => format!("{name}: restarted"),
        Step::Healthy { name, .. } => format!("{name}: healthy"),
        Step::Exited { name, code, .. } => format!("{name}: exited with code {code}"),
        Step::UpdateBatch {
            service,
            batch,
            batches,
            containers,
        } => format!(
            "{service}: updating batch {batch} of {batches}: {}",
            containers.join(", ")
        ),
        Step::Renamed { from, to, .. } => format!("{from}: renamed to {to}"),
        Step::ReplaceFailed { name, reason, .. } => format!("{name}: the new container {reason}"),
        Step::RollingBack {
            service,
            containers,
        } => format!("{service}: rolling back {}", containers.join(", ")),
        Step::HookFailed { message, .. } => format!("warning: {message}; stopped all the same"),
        Step::PreStart { name, command, .. } => format!("{name}: running pre-start `{command}`"),
        Step::PreStartDone { name, .. } => format!("{name}: done"),
    })
}

/// The event of the JSON stream for a step: its name and its fields.
pub fn event(step: &Step) -> (&'static str, Value) {
    match step {
        Step::NetworkCreated { name } => ("network-created", json!({"network": name})),
        Step::VolumeCreated { name } => ("volume-created", json!({"volume": name})),
        Step::NetworkRemoved { name } => ("network-removed", json!({"network": name})),
        Step::PreBuild { service, command } => {
            ("pre-build", json!({"service": service, "command": command}))
        }
        Step::Building { service, tag } => {
            ("build-started", json!({"service": service, "image": tag}))
        }
        Step::BuildOutput { service, line } => (
            "build-output",
            json!({"service": service, "line": line.trim_end()}),
        ),
        Step::Built { service, id } => (
            "build-finished",
            json!({"service": service, "image_id": id}),
        ),
        Step::Removed { service, name } => (
            "container-removed",
            json!({"service": service, "container": name}),
        ),
        Step::Created {
            service,
            name,
            warnings,
        } => (
            "container-created",
            json!({"service": service, "container": name, "warnings": warnings}),
        ),
        Step::Waiting {
            service,
            dependency,
            condition,
        } => (
            "waiting",
            json!({"service": service, "dependency": dependency, "condition": condition.as_str()}),
        ),
        Step::Starting { service, name } => (
            "container-starting",
            json!({"service": service, "container": name}),
        ),
        Step::Started { service, name } => (
            "container-started",
            json!({"service": service, "container": name}),
        ),
        Step::Restarted { service, name } => (
            "container-restarted",
            json!({"service": service, "container": name}),
        ),
        Step::Healthy {
            service,
            name,
            engine_time,
        } => (
            "container-healthy",
            json!({"service": service, "container": name, "engine_time_ms": engine_time.map(|t| t / 1_000_000)}),
        ),
        Step::Exited {
            service,
            name,
            code,
        } => (
            "container-exited",
            json!({"service": service, "container": name, "exit_code": code}),
        ),
        Step::UpdateBatch {
            service,
            batch,
            batches,
            containers,
        } => (
            "update-batch",
            json!({"service": service, "batch": batch, "batches": batches, "containers": containers}),
        ),
        Step::Renamed { service, from, to } => (
            "container-renamed",
            json!({"service": service, "from": from, "container": to}),
        ),
        Step::ReplaceFailed {
            service,
            name,
            reason,
        } => (
            "update-failed",
            json!({"service": service, "container": name, "reason": reason}),
        ),
        Step::RollingBack {
            service,
            containers,
        } => (
            "rollback-started",
            json!({"service": service, "containers": containers}),
        ),
        Step::PreStart {
            service,
            name,
            command,
        } => (
            "pre-start",
            json!({"service": service, "container": name, "command": command}),
        ),
        Step::PreStartDone { service, name } => (
            "pre-start-done",
            json!({"service": service, "container": name}),
        ),
        Step::HookFailed {
            service,
            name,
            message,
        } => (
            "hook-failed",
            json!({"service": service, "container": name, "message": message}),
        ),
    }
}
