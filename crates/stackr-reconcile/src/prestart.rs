//! `pre-start` hooks (compose's `pre_start`): commands run before a service starts, each in a
//! container of its own made from the service's settings (its image, or the hook's; its
//! mounts, networks and environment, with the hook's user, working directory and variables
//! over them), once per service or before each replica. The desired side: which containers
//! they run in, and the plan's decision of when they run.

use serde::Serialize;
use stackr_spec::{Service, Stack};

use crate::ReconcileError;
use crate::desired::{DesiredContainer, Inputs, OneOff, container_name, one_off_spec};

/// The helper label's value on a hook's container.
pub const HELPER: &str = "pre-start";

/// One `pre-start` hook of a service, with the containers it runs in.
#[derive(Debug, Clone, PartialEq)]
pub struct PreStart {
    /// From 1, in the order of the stack file.
    pub index: usize,
    /// The command as people read it.
    pub command: String,
    pub per_replica: bool,
    /// Where it runs: one container (made from replica 1) for a hook run once; one per
    /// replica, by the replica's number, for a hook run per replica.
    pub runs: Vec<(u32, DesiredContainer)>,
}

impl PreStart {
    /// The container it runs in before replica `number` starts (any, for a hook run once).
    pub fn run_for(&self, number: u32) -> Option<&DesiredContainer> {
        if self.per_replica {
            self.runs.iter().find(|(n, _)| *n == number).map(|(_, c)| c)
        } else {
            self.runs.first().map(|(_, c)| c)
        }
    }
}

/// What the plan runs: the hooks run once, and the replicas whose start the per-replica
/// hooks precede.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PreStartRun {
    pub service: String,
    /// The hooks run once run, before the service's first container starts.
    pub once: bool,
    /// The containers (by their slot's name) that the per-replica hooks precede.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<String>,
}

/// The containers a service's `pre-start` hooks run in.
pub fn of(stack: &Stack, s: &Service, inputs: &Inputs) -> Result<Vec<PreStart>, ReconcileError> {
    let mut out = Vec::new();
    for (i, h) in s.pre_start.iter().enumerate() {
        let index = i + 1;
        let per_replica = h.per_replica.as_ref().is_some_and(|p| p.value);
        let numbers: Vec<u32> = if per_replica {
            (1..=s.scale()).collect()
        } else {
            vec![1]
        };
        let mut runs = Vec::new();
        for n in numbers {
            let base = if per_replica {
                container_name(stack, s, n)
            } else {
                format!("{}-{}", stack.name, s.name.value)
            };
            runs.push((
                n,
                spec(stack, s, h, n, &format!("{base}-pre-start-{index}"), inputs)?,
            ));
        }
        out.push(PreStart {
            index,
            command: h.command.value.join(" "),
            per_replica,
            runs,
        });
    }
    Ok(out)
}

/// A hook's container: the service's settings as a one-off has them (no ports, no aliases,
/// no restart policy, no health check, a secrets volume of its own), named `name`, running
/// the hook's command through the image's own entrypoint, as compose does.
fn spec(
    stack: &Stack,
    s: &Service,
    h: &stackr_spec::model::Hook,
    n: u32,
    name: &str,
    inputs: &Inputs,
) -> Result<DesiredContainer, ReconcileError> {
    let command = crate::hooks::command_of(h);
    let one = OneOff {
        number: n,
        command: Some(command.cmd),
        entrypoint: None,
        user: command.user,
        working_dir: command.workdir,
        env: command.env,
        ..OneOff::default()
    };
    let mut want = one_off_spec(stack, s, &one, inputs)?;
    crate::desired::rename(&mut want, name);
    let spec = &mut want.spec;
    spec.entrypoint = None;
    spec.privileged = command.privileged;
    if let Some(image) = &h.image {
        spec.image.clone_from(&image.value);
    }
    spec.labels
        .insert(stackr_engine::LABEL_HELPER.into(), HELPER.into());
    spec.labels.remove(stackr_engine::LABEL_IMAGE_ID);
    Ok(want)
}
