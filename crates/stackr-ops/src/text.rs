//! What an operation's events say: the line people read (on stderr) and the event of the
//! versioned JSON stream (`--format json`). Steps of applying a plan are
//! `stackr_reconcile::steps`'. The binary decides where they go; nothing here prints.

use serde_json::{Value, json};
use stackr_engine::EngineError;
use stackr_reconcile::apply::{ApplyError, DownReport};
use stackr_reconcile::lock::LockError;
use stackr_spec::count;

use crate::{Did, OpError, OpEvent};

/// An engine error about a service, with its help: the lines of an `error:`.
pub fn engine_error(service: Option<&str>, e: &EngineError) -> String {
    let mut text = match service {
        Some(s) => format!("error: service `{s}`: {e}"),
        None => format!("error: {e}"),
    };
    if let Some(h) = e.help() {
        text.push_str(&format!("\n  help: {h}"));
    }
    text
}

/// The lines people read for an event (none for a step, or for one that says nothing).
pub fn lines(e: &OpEvent) -> Option<String> {
    Some(match e {
        OpEvent::Step(_)
        | OpEvent::PullStarted { .. }
        | OpEvent::PullFinished { .. }
        | OpEvent::Applying { .. } => return None,
        OpEvent::Warning(w) => format!("warning: {w}"),
        OpEvent::PullFailed { service, error, .. } | OpEvent::PushFailed { service, error, .. } => {
            engine_error(Some(service), error)
        }
        OpEvent::UpToDate { stack, containers } => format!(
            "stack `{stack}` is up to date ({})",
            count(*containers, "container")
        ),
        OpEvent::StackStopping {
            because: Some(name),
            code: Some(code),
        } => format!("{name} exited with code {code}: stopping the stack"),
        OpEvent::StackStopping { .. } => "stopping (Ctrl-C again to kill)".into(),
        OpEvent::Killing => "killing".into(),
        OpEvent::Container { name, service, did } => match did {
            Did::Failed(error) => engine_error(Some(service), error),
            Did::KeptRunning => format!("{name}: running, kept (`rm -s` stops it first)"),
            _ => format!("{name}: {}", did_word(did)),
        },
        OpEvent::Stopped { container } => format!("{container}: stopped"),
        OpEvent::NothingToRollBack { service } => {
            format!("{service}: nothing to roll back to (no container of it replaced another)")
        }
        OpEvent::HookFailed { message, .. } => {
            format!("warning: {message}; stopped all the same")
        }
        OpEvent::VolumeKept { volume } => format!(
            "warning: volume {volume} is kept: a container that is not this stack's still uses it"
        ),
        OpEvent::Swarm(step) => stackr_swarm::text::step_line(step),
        OpEvent::SwarmApplying { .. } => return None,
        OpEvent::Pushed { service, image } => format!("{service}: pushed {image}"),
        OpEvent::SwarmUpToDate { stack, services } => format!(
            "stack `{stack}` is up to date on the swarm ({})",
            count(*services, "service")
        ),
        OpEvent::VolumesOnNodes { volumes } => format!(
            "volumes stay on the nodes that made them: {} (remove them on each node with `docker volume rm`)",
            volumes.join(", ")
        ),
    })
}

fn did_word(did: &Did) -> &'static str {
    match did {
        Did::Stopped => "stopped",
        Did::Started => "started",
        Did::Restarted => "restarted",
        Did::Killed => "killed",
        Did::Removed => "removed",
        Did::Paused => "paused",
        Did::Unpaused => "unpaused",
        Did::KeptRunning => "kept",
        Did::Failed(_) => "failed",
    }
}

/// The event of the JSON stream: its name and fields (none for a step: see
/// `stackr_reconcile::steps::event`).
pub fn event(e: &OpEvent) -> Option<(&'static str, Value)> {
    Some(match e {
        OpEvent::Step(_) => return None,
        OpEvent::Warning(w) => (
            "warning",
            json!({"code": w.code(), "message": w.to_string()}),
        ),
        OpEvent::PullStarted { service, image } => {
            ("pull-started", json!({"service": service, "image": image}))
        }
        OpEvent::PullFinished { service, image } => {
            ("pull-finished", json!({"service": service, "image": image}))
        }
        OpEvent::PullFailed {
            service,
            image,
            error,
        } => (
            "pull-failed",
            json!({"service": service, "image": image, "message": error.to_string()}),
        ),
        OpEvent::PushFailed {
            service,
            image,
            error,
        } => (
            "push-failed",
            json!({"service": service, "image": image, "message": error.to_string()}),
        ),
        OpEvent::Applying { plan } => ("plan", json!({ "plan": serde_json::to_value(plan).ok()? })),
        OpEvent::UpToDate { stack, containers } => (
            "up-to-date",
            json!({"stack": stack, "containers": containers}),
        ),
        OpEvent::StackStopping { because, code } => {
            ("stack-stopping", json!({"because": because, "code": code}))
        }
        OpEvent::Killing => ("killing", json!({})),
        OpEvent::Container { name, service, did } => (
            "container",
            json!({"container": name, "service": service, "did": did_word(did)}),
        ),
        OpEvent::Stopped { container } => ("container-stopped", json!({"container": container})),
        OpEvent::NothingToRollBack { service } => {
            ("nothing-to-roll-back", json!({"service": service}))
        }
        OpEvent::HookFailed { container, message } => (
            "hook-failed",
            json!({"container": container, "message": message}),
        ),
        OpEvent::VolumeKept { volume } => (
            "volume-kept",
            json!({"volume": volume, "reason": "in use by a container of another stack"}),
        ),
        OpEvent::Swarm(step) => ("swarm-step", serde_json::to_value(step).ok()?),
        OpEvent::SwarmApplying { plan } => {
            ("plan", json!({ "plan": serde_json::to_value(plan).ok()? }))
        }
        OpEvent::Pushed { service, image } => {
            ("pushed", json!({"service": service, "image": image}))
        }
        OpEvent::SwarmUpToDate { stack, services } => {
            ("up-to-date", json!({"stack": stack, "services": services}))
        }
        OpEvent::VolumesOnNodes { volumes } => ("volumes-on-nodes", json!({"volumes": volumes})),
    })
}

/// What `down` says once it is done.
pub fn down_lines(stack: &str, report: &DownReport) -> Vec<String> {
    let mut out: Vec<String> = report
        .networks
        .iter()
        .map(|n| format!("network {n}: removed"))
        .chain(report.volumes.iter().map(|v| format!("volume {v}: removed")))
        .chain(report.kept.iter().map(|k| {
            format!(
                "warning: {k} is kept: its service is not in the stack (`--remove-orphans` removes it)"
            )
        }))
        .collect();
    if report.containers.is_empty() && report.networks.is_empty() {
        out.push(format!("stack `{stack}`: nothing to remove"));
    }
    out
}

/// The events of the JSON stream for what `down` removed.
pub fn down_events(stack: &str, report: &DownReport) -> Vec<(&'static str, Value)> {
    report
        .networks
        .iter()
        .map(|n| ("network-removed", json!({"network": n})))
        .chain(
            report
                .volumes
                .iter()
                .map(|v| ("volume-removed", json!({"volume": v}))),
        )
        .chain(std::iter::once(("done", json!({"stack": stack}))))
        .collect()
}

/// Lines of text, each ended.
#[derive(Default)]
pub struct Text(pub String);

impl Text {
    /// Adds a line; control characters in it (from a name, a path, an engine's message) are
    /// escaped, so that none reaches the terminal.
    pub fn line(&mut self, l: &str) {
        self.0
            .push_str(&stackr_spec::source::escape_for_terminal(l));
        self.0.push('\n');
    }

    pub fn raw(&mut self, s: &str) {
        self.0.push_str(s);
    }

    pub fn error(&mut self, e: &dyn std::fmt::Display) {
        self.line(&format!("error: {e}"));
    }

    pub fn help(&mut self, h: Option<&str>) {
        if let Some(h) = h {
            self.line(&format!("  help: {h}"));
        }
    }

    /// The last `n` lines of some output, quoted.
    pub fn quoted(&mut self, title: &str, output: &str, n: usize) {
        if output.trim().is_empty() {
            return;
        }
        self.line(&format!("  {title}:"));
        let all: Vec<&str> = output.lines().collect();
        for l in &all[all.len().saturating_sub(n)..] {
            self.line(&format!("  | {l}"));
        }
    }
}

fn op_error_into(t: &mut Text, e: &OpError) {
    match e {
        OpError::Plan { problems, .. } => {
            for p in problems {
                t.error(p);
                t.help(p.help().as_deref());
            }
        }
        OpError::Lock(l @ LockError::Busy { .. }) => {
            t.error(l);
            t.help(Some(
                "wait for it to finish, or stop it; two runs on one stack at once would fight over its containers",
            ));
        }
        OpError::Pull { service, error, .. } | OpError::Push { service, error, .. } => {
            engine_error_into(t, Some(service), error)
        }
        OpError::Apply(a) => apply_error_into(t, a),
        OpError::Engine { error, .. } => {
            t.error(e);
            t.help(error.help());
        }
        OpError::Interrupted => t.line(&e.to_string()),
        OpError::NoContainer { .. } | OpError::NothingToWaitFor { .. } => {
            t.error(e);
            t.help(Some("is the stack up? `stackr ps -a` lists its containers"));
        }
        OpError::NotRunning { service, .. } => {
            t.error(e);
            t.line(&format!("  help: `stackr start {service}` starts it"));
        }
        OpError::Lock(_) | OpError::UnknownService { .. } => t.error(e),
        OpError::Swarm(s) => {
            t.error(s);
            t.help(s.help().as_deref());
        }
        OpError::SwarmPlan { problems, .. } => {
            for p in problems {
                t.error(p);
                t.help(Some(&p.help()));
            }
        }
    }
}

fn engine_error_into(t: &mut Text, service: Option<&str>, e: &EngineError) {
    t.line(&engine_error(service, e));
}

fn apply_error_into(t: &mut Text, e: &ApplyError) {
    match e {
        ApplyError::Engine {
            context,
            service,
            error,
        } => {
            match service {
                Some(s) => t.line(&format!("error: service `{s}`: {context}: {error}")),
                None => t.line(&format!("error: {context}: {error}")),
            }
            t.help(error.help());
        }
        ApplyError::Build { error, .. } => {
            t.error(e);
            if let EngineError::BuildFailed { output, .. } = error {
                t.quoted("its last output", output, 20);
            }
        }
        ApplyError::PreBuild { output, .. } => {
            t.error(e);
            t.quoted("its output", output, 20);
        }
        ApplyError::Cancelled { .. } => t.error(e),
        ApplyError::Hook { error, .. } => {
            t.error(e);
            if let Some(out) = error.output() {
                t.quoted("it printed", out, 10);
            }
        }
        ApplyError::Dependency { output, .. } | ApplyError::NotReady { output, .. } => {
            t.error(e);
            if let Some(out) = output {
                t.quoted("its last health check said", out, 10);
            }
        }
        ApplyError::UpdateFailed(f) => {
            t.error(e);
            if let Some(out) = &f.output {
                t.quoted("its last health check said", out, 10);
            }
        }
        ApplyError::Reconcile(r) => {
            t.error(r);
            t.help(r.help().as_deref());
        }
    }
}

/// The lines of an operation's error: each problem with its help, the output that explains a
/// failed build or health check.
pub fn op_error(e: &OpError) -> String {
    let mut t = Text::default();
    op_error_into(&mut t, e);
    t.0
}

/// The lines of an apply error.
pub fn apply_error(e: &ApplyError) -> String {
    let mut t = Text::default();
    apply_error_into(&mut t, e);
    t.0
}

/// Aligned columns: each padded to its widest cell, the last not padded.
pub fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; cols];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(c);
            } else {
                line.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `ps` as a table: service, container, state (with its exit code), health, ports.
pub fn ps_table(rows: &[crate::PsRow]) -> String {
    let mut cells = vec![
        ["SERVICE", "CONTAINER", "STATE", "HEALTH", "PORTS"]
            .map(String::from)
            .to_vec(),
    ];
    cells.extend(rows.iter().map(|r| {
        let state = match r.exit_code {
            Some(code) => format!("{} ({code})", r.state),
            None => r.state.clone(),
        };
        vec![
            r.service.clone(),
            r.container.clone(),
            state,
            r.health.clone().unwrap_or_else(|| "-".into()),
            r.ports.join(", "),
        ]
    }));
    table(&cells)
}

/// `ps` on the Swarm target: one row per task, with its node (and the node's state when it is
/// not ready).
pub fn tasks_table(rows: &[crate::TaskRow]) -> String {
    let mut cells = vec![
        ["SERVICE", "TASK", "NODE", "STATE", "HEALTH", "ERROR"]
            .map(String::from)
            .to_vec(),
    ];
    cells.extend(rows.iter().map(|r| {
        let node = match r.node_state.as_str() {
            "ready" | "" => r.node.clone(),
            other => format!("{} [node {other}]", r.node),
        };
        let state = if r.state == r.desired {
            r.state.clone()
        } else {
            format!("{} (→ {})", r.state, r.desired)
        };
        vec![
            r.service.clone(),
            r.task.clone(),
            node,
            state,
            r.health.clone().unwrap_or_else(|| "-".into()),
            r.error.clone().unwrap_or_else(|| "-".into()),
        ]
    }));
    table(&cells)
}

/// The nodes of a swarm as `ps` lists them under its tasks.
pub fn nodes_lines(nodes: &[stackr_engine::swarm::NodeInfo]) -> String {
    let mut out = String::from("nodes:\n");
    for n in nodes {
        let short: String = n.id.chars().take(8).collect();
        out.push_str(&format!(
            "  {} ({short}) {} {}{}\n",
            n.hostname,
            n.role,
            n.state,
            if n.availability == "active" {
                String::new()
            } else {
                format!(", {}", n.availability)
            }
        ));
    }
    out
}

/// The note for secrets too short to mask in logs, when there are any.
pub fn unmasked_note(short: &[String]) -> Option<String> {
    if short.is_empty() {
        return None;
    }
    let one = short.len() == 1;
    let names: Vec<String> = short.iter().map(|n| format!("`{n}`")).collect();
    Some(format!(
        "note: secret{} {} {} shorter than {} characters: not masked in the output",
        if one { "" } else { "s" },
        names.join(", "),
        if one { "is" } else { "are" },
        crate::MIN_MASKED
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_container_says_its_service_and_the_help() {
        let e = OpEvent::Container {
            name: "s-web-1".into(),
            service: "web".into(),
            did: Did::Failed(EngineError::PortAllocated {
                message: "port is already allocated".into(),
            }),
        };
        let text = lines(&e).unwrap_or_default();
        assert!(text.starts_with("error: service `web`: "), "{text}");
        assert!(text.contains("\n  help: another process"), "{text}");
        assert_eq!(event(&e).map(|(name, _)| name), Some("container"));
    }
}
