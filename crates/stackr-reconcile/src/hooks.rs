//! Lifecycle hooks: a service's `post-start` commands run in a container after stackr starts
//! it, its `pre-stop` commands before stackr stops a running one. They travel in the
//! container's `io.stackr.hooks` label (part of its spec, so a changed hook recreates it), so
//! that every stop finds them, `down` without the stack file included.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use stackr_engine::{Engine, ExecSpec};
use stackr_spec::Service;
use thiserror::Error;

/// The label that holds a container's hooks (JSON).
pub const LABEL_HOOKS: &str = "io.stackr.hooks";

/// One hook command, as the engine runs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookCommand {
    pub cmd: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workdir: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub privileged: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
}

/// A `pre-start` hook as the label keeps it (so that a changed one replaces the containers,
/// as compose's hash does): the command, and where it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PreStartCommand {
    #[serde(flatten)]
    pub command: HookCommand,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub per_replica: bool,
}

/// A container's hooks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Hooks {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pre_start: Vec<PreStartCommand>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_start: Vec<HookCommand>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pre_stop: Vec<HookCommand>,
}

/// Which hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    PreStart,
    PostStart,
    PreStop,
}

impl std::fmt::Display for Which {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Which::PreStart => "pre-start",
            Which::PostStart => "post-start",
            Which::PreStop => "pre-stop",
        })
    }
}

/// A hook that failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HookError {
    #[error("the {which} hook `{command}` of `{container}` exited with code {code}")]
    Failed {
        which: Which,
        container: String,
        command: String,
        code: i64,
        /// The end of what it printed.
        output: String,
    },
    #[error("the {which} hook `{command}` of `{container}` could not run: {error}")]
    Engine {
        which: Which,
        container: String,
        command: String,
        error: String,
    },
    #[error("the {which} hook `{command}` of `{container}` did not end within {seconds} s")]
    TimedOut {
        which: Which,
        container: String,
        command: String,
        seconds: u64,
    },
}

impl HookError {
    /// The container the hook ran in.
    pub fn container(&self) -> &str {
        match self {
            HookError::Failed { container, .. }
            | HookError::Engine { container, .. }
            | HookError::TimedOut { container, .. } => container,
        }
    }

    /// What the hook printed last, when it failed.
    pub fn output(&self) -> Option<&str> {
        match self {
            HookError::Failed { output, .. } if !output.is_empty() => Some(output),
            _ => None,
        }
    }
}

/// A hook of the stack file as the engine runs it.
pub fn command_of(h: &stackr_spec::model::Hook) -> HookCommand {
    HookCommand {
        cmd: h.command.value.clone(),
        user: h.user.as_ref().map(|u| u.value.clone()),
        workdir: h.workdir.as_ref().map(|w| w.value.clone()),
        privileged: h.privileged.as_ref().is_some_and(|p| p.value),
        env: h
            .env
            .iter()
            .map(|kv| format!("{}={}", kv.key.value, kv.value.value))
            .collect(),
    }
}

fn commands(hooks: &[stackr_spec::model::Hook]) -> Vec<HookCommand> {
    hooks.iter().map(command_of).collect()
}

/// The label value for a service's hooks; `None` when it has none.
pub fn label(s: &Service) -> Option<String> {
    let hooks = Hooks {
        pre_start: s
            .pre_start
            .iter()
            .map(|h| PreStartCommand {
                command: command_of(h),
                image: h.image.as_ref().map(|i| i.value.clone()),
                per_replica: h.per_replica.as_ref().is_some_and(|p| p.value),
            })
            .collect(),
        post_start: commands(&s.post_start),
        pre_stop: commands(&s.pre_stop),
    };
    if hooks == Hooks::default() {
        return None;
    }
    serde_json::to_string(&hooks).ok()
}

/// The hooks a container's labels hold.
pub fn of(labels: &BTreeMap<String, String>) -> Hooks {
    labels
        .get(LABEL_HOOKS)
        .and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_default()
}

/// Runs hooks in order in a running container; the first that fails ends it. Each gets
/// `timeout` at most.
pub async fn run<E: Engine>(
    engine: &E,
    id: &str,
    container: &str,
    which: Which,
    hooks: &[HookCommand],
    timeout: Duration,
) -> Result<(), HookError> {
    for h in hooks {
        let command = h.cmd.join(" ");
        let spec = ExecSpec {
            cmd: h.cmd.clone(),
            user: h.user.clone(),
            working_dir: h.workdir.clone(),
            env: h.env.clone(),
            privileged: h.privileged,
            ..ExecSpec::default()
        };
        let printed = Mutex::new(String::new());
        let collect = |chunk: stackr_engine::LogChunk| {
            if let Ok(mut p) = printed.lock() {
                p.push_str(&chunk.text);
                if p.len() > 8192 {
                    let cut = p.len() - 4096;
                    let at = (cut..p.len())
                        .find(|i| p.is_char_boundary(*i))
                        .unwrap_or(cut);
                    p.drain(..at);
                }
            }
        };
        let ran = tokio::time::timeout(timeout, engine.exec(id, &spec, None, &collect)).await;
        let output = printed.into_inner().unwrap_or_default().trim().to_string();
        match ran {
            Err(_) => {
                return Err(HookError::TimedOut {
                    which,
                    container: container.to_string(),
                    command,
                    seconds: timeout.as_secs(),
                });
            }
            Ok(Err(e)) => {
                return Err(HookError::Engine {
                    which,
                    container: container.to_string(),
                    command,
                    error: e.to_string(),
                });
            }
            Ok(Ok(Some(0) | None)) => {}
            Ok(Ok(Some(code))) => {
                return Err(HookError::Failed {
                    which,
                    container: container.to_string(),
                    command,
                    code,
                    output,
                });
            }
        }
    }
    Ok(())
}

/// Runs a container's `pre-stop` hooks when it runs, each within `timeout` (10 s when `None`,
/// Docker's default grace period). `known`: the container's labels when the caller has them;
/// without a hook there, the engine is not asked at all.
pub async fn pre_stop<E: Engine>(
    engine: &E,
    id: &str,
    known: Option<&BTreeMap<String, String>>,
    timeout: Option<Duration>,
) -> Result<(), HookError> {
    if known.is_some_and(|l| of(l).pre_stop.is_empty()) {
        return Ok(());
    }
    let Ok(Some(info)) = engine.inspect_container(id).await else {
        return Ok(());
    };
    let hooks = of(&info.labels);
    if hooks.pre_stop.is_empty() || info.state != stackr_engine::ContainerState::Running {
        return Ok(());
    }
    let grace = timeout.unwrap_or(Duration::from_secs(10));
    run(
        engine,
        id,
        &info.name,
        Which::PreStop,
        &hooks.pre_stop,
        grace,
    )
    .await
}

/// How long a `post-start` hook may run.
pub const POST_START_TIMEOUT: Duration = Duration::from_secs(300);

/// Runs a just-started container's `post-start` hooks, as its labels hold them.
pub async fn post_start<E: Engine>(
    engine: &E,
    id: &str,
    name: &str,
    labels: &BTreeMap<String, String>,
) -> Result<(), HookError> {
    let hooks = of(labels).post_start;
    run(
        engine,
        id,
        name,
        Which::PostStart,
        &hooks,
        POST_START_TIMEOUT,
    )
    .await
}
