//! Running `pre-start` hooks (see [`crate::prestart`]): each in its own container, made anew,
//! waited for until it exits, removed when it succeeded and kept for inspection when it
//! failed (the next run, or `down`, removes it).

use std::time::Duration;

use futures::StreamExt;
use stackr_engine::{ContainerState, Engine, LogOptions};

use super::{ApplyError, Run, Step, engine_err, fill_secrets, link_secrets};
use crate::desired::{DesiredContainer, DesiredService};
use crate::hooks::{HookError, Which};

/// How often a running hook is looked at.
const POLL: Duration = Duration::from_millis(100);

/// The hooks run once, in order, when the plan says so: before the service's first
/// container starts (and before a rolling update's first new one).
pub(super) async fn once<E: Engine>(
    run: &Run<'_, E>,
    s: &DesiredService,
) -> Result<(), ApplyError> {
    if !run.plan.pre_start_of(&s.name).is_some_and(|r| r.once) {
        return Ok(());
    }
    for h in s.pre_start.iter().filter(|h| !h.per_replica) {
        if let Some(c) = h.run_for(1) {
            run_one(run, s, &h.command, c).await?;
        }
    }
    Ok(())
}

/// The per-replica hooks, in order, before the container of slot `slot` (its final name)
/// starts, when the plan says so.
pub(super) async fn before<E: Engine>(
    run: &Run<'_, E>,
    s: &DesiredService,
    slot: &str,
) -> Result<(), ApplyError> {
    if !run
        .plan
        .pre_start_of(&s.name)
        .is_some_and(|r| r.replicas.iter().any(|n| n == slot))
    {
        return Ok(());
    }
    let Some(number) = s
        .containers
        .iter()
        .find(|c| c.spec.name == slot)
        .map(|c| c.number)
    else {
        return Ok(());
    };
    for h in s.pre_start.iter().filter(|h| h.per_replica) {
        if let Some(c) = h.run_for(number) {
            run_one(run, s, &h.command, c).await?;
        }
    }
    Ok(())
}

/// Runs one hook in its container; `Err` when it exits non-zero (its container stays).
async fn run_one<E: Engine>(
    run: &Run<'_, E>,
    s: &DesiredService,
    command: &str,
    want: &DesiredContainer,
) -> Result<(), ApplyError> {
    let (engine, name, svc) = (run.engine, &want.spec.name, Some(s.name.as_str()));
    run.go_on(&s.name)?;
    let left = engine
        .inspect_container(name)
        .await
        .map_err(|e| engine_err(format!("cannot inspect `{name}`"), svc, e))?;
    if let Some(old) = left {
        // Only a hook's container of this stack: the name may be another's.
        let ours = old
            .labels
            .get(stackr_engine::LABEL_HELPER)
            .map(String::as_str)
            == Some(crate::prestart::HELPER)
            && old.labels.get(stackr_engine::LABEL_STACK) == Some(&run.desired.stack);
        if !ours {
            return Err(engine_err(
                format!("cannot run the pre-start hook `{command}`"),
                svc,
                stackr_engine::EngineError::Other(format!(
                    "the name `{name}` is taken by a container that is not this stack's pre-start hook"
                )),
            ));
        }
        remove_it(engine, &old.id, want).await;
    }
    (run.progress)(Step::PreStart {
        service: s.name.clone(),
        name: name.clone(),
        command: command.to_string(),
    });
    if !want.secrets.is_empty() {
        fill_secrets(engine, &run.desired.stack, want)
            .await
            .map_err(|e| engine_err(format!("cannot give `{name}` its secrets"), svc, e))?;
    }
    let id = engine
        .create_container(&run.joining_by_id(&want.spec))
        .await
        .map(|c| c.id)
        .map_err(|e| engine_err(format!("cannot create `{name}`"), svc, e))?;
    if want.secrets.iter().any(|f| f.link.is_some()) {
        link_secrets(engine, &id, &want.secrets)
            .await
            .map_err(|e| engine_err(format!("cannot give `{name}` its secrets"), svc, e))?;
    }
    engine
        .start_container(&id)
        .await
        .map_err(|e| engine_err(format!("cannot start `{name}`"), svc, e))?;
    let code = wait_exit(run, s, &id, name).await?;
    if code == 0 {
        remove_it(engine, &id, want).await;
        (run.progress)(Step::PreStartDone {
            service: s.name.clone(),
            name: name.clone(),
        });
        return Ok(());
    }
    Err(ApplyError::Hook {
        service: s.name.clone(),
        error: HookError::Failed {
            which: Which::PreStart,
            container: name.clone(),
            command: command.to_string(),
            code,
            output: last_output(engine, &id).await,
        },
    })
}

/// Its exit code, once it exits; a stopped run stops it.
async fn wait_exit<E: Engine>(
    run: &Run<'_, E>,
    s: &DesiredService,
    id: &str,
    name: &str,
) -> Result<i64, ApplyError> {
    loop {
        if let Err(e) = run.go_on(&s.name) {
            let _ = run.engine.stop_container(id, run.opts.stop_timeout).await;
            return Err(e);
        }
        let info = run
            .engine
            .inspect_container(id)
            .await
            .map_err(|e| engine_err(format!("cannot inspect `{name}`"), Some(&s.name), e))?;
        match info {
            None => return Ok(-1),
            Some(i) if matches!(i.state, ContainerState::Exited | ContainerState::Dead) => {
                return Ok(i.exit_code.unwrap_or(-1));
            }
            Some(_) => tokio::time::sleep(POLL).await,
        }
    }
}

/// The last lines it printed.
async fn last_output<E: Engine>(engine: &E, id: &str) -> String {
    let opts = LogOptions {
        follow: false,
        tail: Some(20),
        timestamps: false,
        ..Default::default()
    };
    let mut out = String::new();
    if let Ok(mut logs) = engine.logs(id, &opts).await {
        while let Some(Ok(chunk)) = logs.next().await {
            out.push_str(&chunk.text);
        }
    }
    out.trim().to_string()
}

/// Removes a hook's container and its secrets volume.
async fn remove_it<E: Engine>(engine: &E, id: &str, want: &DesiredContainer) {
    let _ = engine.remove_container(id).await;
    if !want.secrets.is_empty() {
        let _ = engine
            .remove_volume(&crate::desired::secrets_volume(&want.spec.name))
            .await;
    }
}
