//! Ordered recovery after a daemon restart: which containers come back by themselves, what
//! each waits for before its own command, and the status volume where they meet (see
//! ARCHITECTURE.md, "Ordered recovery", and `stackr-probe`'s `recover.rs`).
//!
//! A container comes back by itself when its restart policy brings it back without stackr
//! (`always`, `unless-stopped`, `on-failure`). Such a container runs
//! `/.stackr/probe start --as SERVICE/N [--after COND:DEP]... -- ENTRYPOINT CMD`: it waits
//! until each dependency that also comes back by itself meets its condition, then becomes its
//! own command. Its health check runs through `probe report`, which records each result. Both
//! meet in the stack's status volume, a tmpfs: empty after every daemon start, so nothing of
//! a previous run counts.
//!
//! What a container waits for depends only on its own service and on whether each dependency
//! comes back by itself and has a health check: adding a dependent never changes a
//! dependency's container.

use std::collections::BTreeMap;

use stackr_engine::{
    ContainerSpec, HealthSpec, ImageConfig, LABEL_INTERNAL, LABEL_STACK, MountSpec, PROBE_DIR,
    STATUS_DIR, VolumeSpec,
};
use stackr_spec::{Condition, Service, Stack};

use crate::desired::{DesiredVolume, Inputs};

/// The stack's status volume. A dash, where the stack file's volumes have an underscore: no
/// volume of a stack file can take its name.
pub fn status_volume(stack: &str) -> String {
    format!("{stack}-stackr-status")
}

/// The status volume as the plan wants it: a tmpfs, writable by every user.
pub fn status_volume_spec(stack: &str) -> DesiredVolume {
    let labels = BTreeMap::from([
        (LABEL_STACK.to_string(), stack.to_string()),
        (LABEL_INTERNAL.to_string(), "status".to_string()),
    ]);
    DesiredVolume {
        key: "stackr-status".into(),
        spec: VolumeSpec {
            name: status_volume(stack),
            driver: None,
            driver_opts: BTreeMap::from([
                ("type".to_string(), "tmpfs".to_string()),
                ("device".to_string(), "tmpfs".to_string()),
                ("o".to_string(), "size=1m,mode=1777".to_string()),
            ]),
            labels,
        },
        external: false,
    }
}

/// Whether the engine starts the service's containers again by itself, without stackr: they
/// wait for their dependencies then.
pub fn restarts(s: &Service) -> bool {
    s.restarts()
}

/// Whether it surely does so after a daemon restart (`always`, `unless-stopped`): only such a
/// dependency is waited for (`on-failure` brings a container back only after a failure, and
/// one that stopped well at the shutdown stays stopped).
pub fn comes_back(s: &Service) -> bool {
    s.comes_back()
}

/// What a container runs, `(entrypoint, command)`, from the stack file's and the image's: a
/// stack entrypoint drops the image's command, as `docker run --entrypoint` does. `None` when
/// that is not known (an image not inspected yet) or is nothing.
fn argv(
    entrypoint: Option<&Vec<String>>,
    command: Option<&Vec<String>>,
    image: Option<&ImageConfig>,
) -> Option<(Vec<String>, Vec<String>)> {
    let (e, c) = match (entrypoint, image) {
        (Some(e), _) => (e.clone(), command.cloned().unwrap_or_default()),
        (None, Some(i)) => (
            i.entrypoint.clone().unwrap_or_default(),
            command.or(i.cmd.as_ref()).cloned().unwrap_or_default(),
        ),
        (None, None) => return None,
    };
    (!e.is_empty() || !c.is_empty()).then_some((e, c))
}

/// Whether the containers of `s` wait and report (see [`wrap`]).
fn wrapped(stack: &Stack, s: &Service, inputs: &Inputs) -> bool {
    inputs.probe_volume.is_some()
        && restarts(s)
        && argv(
            s.entrypoint.as_ref().map(|e| &e.value),
            s.command.as_ref().map(|c| &c.value),
            inputs
                .image_configs
                .get(&crate::desired::image_of(stack, s)),
        )
        .is_some()
}

/// The health test the container runs, in the engine's form, when it has one: the stack
/// file's, or the image's where the stack file names none.
fn health_test(spec: &ContainerSpec, image: &ImageConfig) -> Option<Vec<String>> {
    let test = match &spec.health {
        Some(h) if !h.test.is_empty() => h.test.clone(),
        _ => image.health_test.clone()?,
    };
    match test.first().map(String::as_str) {
        Some("CMD" | "CMD-SHELL") if test.len() > 1 => Some(test),
        _ => None,
    }
}

/// Whether a service's containers report their health: it comes back by itself and has a
/// health check (its own or its image's).
fn reports_health(s: &Service, image: Option<&ImageConfig>) -> bool {
    match &s.health {
        Some(h) if h.disabled.as_ref().is_some_and(|d| d.value) => false,
        Some(h) if h.test.is_some() => true,
        _ => image.is_some_and(|i| {
            i.health_test
                .as_ref()
                .and_then(|t| t.first())
                .is_some_and(|w| w == "CMD" || w == "CMD-SHELL")
        }),
    }
}

/// What a container of `s` waits for after a daemon restart: `started:DEP` or `healthy:DEP`
/// for each required dependency that surely comes back by itself, has replicas and reports.
/// A one-shot's completion is not waited for: it completed before (`up` waited for it) and
/// the engine does not run it again.
pub fn afters(stack: &Stack, s: &Service, inputs: &Inputs) -> Vec<String> {
    let mut out = Vec::new();
    for d in s.depends_on.iter().filter(|d| d.required) {
        let Some(dep) = stack.services.get(&d.service.value) else {
            continue;
        };
        if !comes_back(dep) || dep.scale() == 0 || !wrapped(stack, dep, inputs) {
            continue;
        }
        let image = inputs
            .image_configs
            .get(&crate::desired::image_of(stack, dep));
        let word = match d.condition {
            Condition::Started => "started",
            Condition::Healthy if reports_health(dep, image) => "healthy",
            Condition::Healthy => "started",
            Condition::Completed => continue,
        };
        out.push(format!("{word}:{}", d.service.value));
    }
    out
}

/// The arguments of `probe start` before `--`, when the container runs its command through it.
fn start_args(spec: &ContainerSpec) -> Option<&[String]> {
    let e = spec.entrypoint.as_ref()?;
    if e.first().map(String::as_str) != Some(&format!("{PROBE_DIR}/probe"))
        || e.get(1).map(String::as_str) != Some("start")
    {
        return None;
    }
    let end = e.iter().position(|a| a == "--")?;
    Some(&e[2..end])
}

/// The `SERVICE/N` a container records its start and health as, when it does.
pub fn reporting_slot(spec: &ContainerSpec) -> Option<&str> {
    let args = start_args(spec)?;
    let at = args.iter().position(|a| a == "--as")?;
    args.get(at + 1).map(String::as_str)
}

/// The services a container's wait is for (`--after COND:SERVICE`).
pub fn waits_for(spec: &ContainerSpec) -> Vec<&str> {
    start_args(spec)
        .unwrap_or_default()
        .windows(2)
        .filter(|w| w[0] == "--after")
        .filter_map(|w| w[1].split_once(':').map(|(_, s)| s))
        .collect()
}

/// The `SERVICE/N` a container's wait is for, when it waits for a dependency.
pub fn waiting_slot(spec: &ContainerSpec) -> Option<&str> {
    if waits_for(spec).is_empty() {
        return None;
    }
    reporting_slot(spec)
}

/// Runs `probe VERB --as SLOT` in a running container (`release`: end its wait, `forget`: its
/// records go before it is removed for good); `Err` when it fails.
pub async fn probe_in<E: stackr_engine::Engine>(
    engine: &E,
    id: &str,
    verb: &str,
    slot: &str,
) -> stackr_engine::Result<()> {
    let exec = stackr_engine::ExecSpec {
        cmd: vec![
            format!("{PROBE_DIR}/probe"),
            verb.into(),
            "--as".into(),
            slot.into(),
        ],
        ..stackr_engine::ExecSpec::default()
    };
    match engine.exec(id, &exec, None, &|_| {}).await? {
        Some(0) | None => Ok(()),
        Some(code) => Err(stackr_engine::EngineError::Other(format!(
            "`probe {verb} --as {slot}` exited with code {code}"
        ))),
    }
}

/// Puts the wait in front of the container's command and the report around its health
/// check, and mounts the probe and status volumes. Leaves the spec as it is (and says so)
/// when the service does not come back by itself, or when what the container runs is not
/// known (an image not inspected yet).
pub fn wrap(spec: &mut ContainerSpec, stack: &Stack, s: &Service, n: u32, inputs: &Inputs) -> bool {
    let Some(probe_volume) = &inputs.probe_volume else {
        return false;
    };
    if !restarts(s) {
        return false;
    }
    let image = inputs.image_configs.get(&spec.image);
    // The command is spelt out: the entrypoint set here would drop the image's.
    let Some((entrypoint, command)) = argv(spec.entrypoint.as_ref(), spec.command.as_ref(), image)
    else {
        return false;
    };
    let slot = format!("{}/{n}", s.name.value);
    let probe = format!("{PROBE_DIR}/probe");
    let mut wrapped = vec![probe.clone(), "start".into(), "--as".into(), slot.clone()];
    for a in afters(stack, s, inputs) {
        wrapped.push("--after".into());
        wrapped.push(a);
    }
    // A waiting container stops on the service's own stop signal too.
    if let Some(sig) = &spec.stop_signal {
        wrapped.push("--stop-signal".into());
        wrapped.push(sig.clone());
    }
    wrapped.push("--".into());
    wrapped.extend(entrypoint);
    spec.entrypoint = Some(wrapped);
    spec.command = (!command.is_empty()).then_some(command);

    if let Some(test) = image.map_or_else(
        || health_test(spec, &ImageConfig::default()),
        |i| health_test(spec, i),
    ) {
        let retries = spec.health.as_ref().and_then(|h| h.retries).unwrap_or(3);
        // Docker's default timeout: a check that outlives it is a failure, and is ended.
        let timeout = spec
            .health
            .as_ref()
            .and_then(|h| h.timeout)
            .map_or(30, |t| t.as_secs().max(1));
        let mut report = vec![
            "CMD".to_string(),
            probe,
            "report".into(),
            "--as".into(),
            slot,
            "--retries".into(),
            retries.to_string(),
            "--timeout".into(),
            timeout.to_string(),
            "--".into(),
        ];
        match test[0].as_str() {
            "CMD-SHELL" => {
                report.extend(["/bin/sh".to_string(), "-c".to_string()]);
                report.extend(test[1..].iter().cloned());
            }
            _ => report.extend(test[1..].iter().cloned()),
        }
        match &mut spec.health {
            Some(h) => h.test = report,
            None => {
                spec.health = Some(HealthSpec {
                    test: report,
                    interval: None,
                    timeout: None,
                    retries: None,
                    start_period: None,
                    start_interval: None,
                });
            }
        }
    }

    let mounts_probe = spec
        .mounts
        .iter()
        .any(|m| matches!(m, MountSpec::Volume { source: Some(v), .. } if v == probe_volume));
    if !mounts_probe {
        spec.mounts.push(MountSpec::Volume {
            source: Some(probe_volume.clone()),
            target: PROBE_DIR.into(),
            read_only: true,
            subpath: None,
        });
    }
    spec.mounts.push(MountSpec::Volume {
        source: Some(status_volume(&stack.name)),
        target: STATUS_DIR.into(),
        read_only: false,
        subpath: None,
    });
    true
}
