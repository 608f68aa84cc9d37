//! What the Swarm target says: the plan as people read it, and one line per step of applying.

use std::fmt::Write;

use crate::apply::SwarmStep;
use crate::plan::{ObjectAction, Plan, ServiceAction};

fn mark(a: ObjectAction) -> &'static str {
    match a {
        ObjectAction::Create => "+",
        ObjectAction::Keep => "=",
        ObjectAction::Remove => "-",
    }
}

/// The plan as text: what changes, object by object, with each update's fields and how it
/// rolls; what stays is counted.
pub fn render_plan(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Plan for stack `{}` on the swarm ({} node{}):",
        plan.stack,
        plan.nodes,
        if plan.nodes == 1 { "" } else { "s" }
    );
    let mut kept = 0;
    for n in &plan.networks {
        if n.action == ObjectAction::Keep {
            kept += 1;
            continue;
        }
        let _ = writeln!(out, "  {} network {} (overlay)", mark(n.action), n.name);
    }
    for f in &plan.files {
        if f.action == ObjectAction::Keep {
            kept += 1;
            continue;
        }
        let why = match f.action {
            ObjectAction::Remove => "  (no longer used once the services are updated)",
            _ => "",
        };
        let _ = writeln!(
            out,
            "  {} {} {}{why}",
            mark(f.action),
            f.kind.as_str(),
            f.name
        );
    }
    for s in &plan.services {
        match &s.action {
            ServiceAction::Keep => kept += 1,
            ServiceAction::Create => {
                let _ = writeln!(out, "  + service {}", s.key);
            }
            ServiceAction::Remove => {
                let _ = writeln!(out, "  - service {}  (not in the stack file)", s.key);
            }
            ServiceAction::Replace { reason } => {
                let _ = writeln!(out, "  ± service {}  (replaced: {reason})", s.key);
            }
            ServiceAction::Update { changes, rolling } => {
                let how = match rolling {
                    Some(r) => format!("rolling update, {r}"),
                    None => "runs again".to_string(),
                };
                let _ = writeln!(out, "  ~ service {}  ({how})", s.key);
                for c in changes {
                    let _ = writeln!(out, "      {}: {} → {}", c.field, c.from, c.to);
                }
            }
        }
    }
    if plan.change_count() == 0 {
        let _ = writeln!(out, "  nothing to do: {kept} objects up to date");
    } else if kept > 0 {
        let _ = writeln!(out, "  = {kept} unchanged");
    }
    for p in &plan.problems {
        let _ = writeln!(out, "error: {p}\n  help: {}", p.help());
    }
    out
}

/// One line per step.
pub fn step_line(step: &SwarmStep) -> String {
    match step {
        SwarmStep::NetworkCreated { name } => format!("network {name}: created (overlay)"),
        SwarmStep::NetworkRemoved { name } => format!("network {name}: removed"),
        SwarmStep::FileCreated { kind, name } => format!("{} {name}: created", kind.as_str()),
        SwarmStep::FileRemoved { kind, name } => format!("{} {name}: removed", kind.as_str()),
        SwarmStep::FileKept { kind, name, reason } => {
            format!(
                "{} {name}: kept for now ({reason}); the next `up` removes it",
                kind.as_str()
            )
        }
        SwarmStep::Waiting {
            service,
            on,
            condition,
            progress,
        } => format!("{service}: waiting for {on} to be {condition} ({progress})"),
        SwarmStep::DependencyReady {
            service,
            on,
            condition,
        } => format!("{service}: {on} is {condition}"),
        SwarmStep::ServiceCreated { service } => format!("{service}: created"),
        SwarmStep::ServiceUpdating { service, rolling } => match rolling {
            Some(r) => format!("{service}: updating ({r})"),
            None => format!("{service}: updated, runs again"),
        },
        SwarmStep::Batch {
            service,
            updated,
            total,
        } => format!("{service}: {updated} of {total} tasks updated"),
        SwarmStep::ServiceUpdated { service } => format!("{service}: update complete"),
        SwarmStep::ServiceRemoved { service } => format!("{service}: removed"),
        SwarmStep::Ready { service, condition } => format!("{service}: {condition}"),
    }
}
