//! How `up`, `down` and `build` report progress: a live view on a terminal, plain lines
//! otherwise, or a JSON event stream (`--format json`).
//!
//! The JSON stream is one object per line on stdout, schema version 1:
//! `{"v":1,"time_ms":1764250000000,"event":"container-started","service":"web","container":"shop-web-1"}`.
//! Events: `network-created`, `volume-created`, `pre-build`, `build-started`, `build-output`,
//! `build-finished`, `container-removed`, `container-created`, `waiting`,
//! `container-starting` (the start request), `container-started`, `container-restarted`,
//! `container-healthy` (with `engine_time_ms`, when the engine saw it), `container-exited`
//! (with `exit_code`), `network-removed` (a duplicate), `pull-started`, `pull-finished`,
//! `warning` (with `code` and `message`), `plan` (the plan `up` applies, as `plan --format
//! json` gives it), `up-to-date`, `volume-kept`, `error` (with `message`), `done`.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use stackr_ops::OpEvent;
use stackr_reconcile::apply::Step;

/// Where progress goes.
pub enum Reporter {
    Plain,
    Json,
    Live(Live),
}

/// The live view: one line per service (or network, volume, image).
pub struct Live {
    multi: MultiProgress,
    lines: Mutex<BTreeMap<String, ProgressBar>>,
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

impl Reporter {
    /// JSON when asked; a live view when stderr is a terminal; plain lines otherwise.
    pub fn new(json: bool) -> Reporter {
        if json {
            Reporter::Json
        } else if std::io::stderr().is_terminal() && std::env::var_os("STACKR_PLAIN").is_none() {
            Reporter::Live(Live {
                multi: MultiProgress::new(),
                lines: Mutex::new(BTreeMap::new()),
            })
        } else {
            Reporter::Plain
        }
    }

    pub fn is_json(&self) -> bool {
        matches!(self, Reporter::Json)
    }

    /// A JSON event (only in JSON mode).
    pub fn event(&self, event: &str, fields: Value) {
        if let Reporter::Json = self {
            let mut obj = json!({"v": 1, "time_ms": now_ms() as u64, "event": event});
            if let (Some(o), Value::Object(f)) = (obj.as_object_mut(), fields) {
                o.extend(f);
            }
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{obj}");
            let _ = out.flush();
        }
    }

    /// Ends the live view, leaving its last lines on screen.
    pub fn finish(&self) {
        if let Reporter::Live(live) = self
            && let Ok(lines) = live.lines.lock()
        {
            for bar in lines.values() {
                if !bar.is_finished() {
                    bar.finish();
                }
            }
        }
    }

    pub fn step(&self, step: Step) {
        match self {
            Reporter::Plain => {
                if let Some(line) = plain(&step) {
                    eprintln!("{line}");
                }
            }
            Reporter::Json => {
                let (event, fields) = json_of(&step);
                self.event(event, fields);
            }
            Reporter::Live(live) => live.step(&step),
        }
    }
}

fn short(id: &str) -> String {
    id.trim_start_matches("sha256:").chars().take(12).collect()
}

/// The plain line for a step, if it has one.
pub fn plain(step: &Step) -> Option<String> {
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
        Step::Created { name, .. } => format!("{name}: created"),
        Step::Waiting { .. } | Step::Starting { .. } => return None,
        Step::Started { name, .. } => format!("{name}: started"),
        Step::Restarted { name, .. } => format!("{name}: restarted"),
        Step::Healthy { name, .. } => format!("{name}: healthy"),
        Step::Exited { name, code, .. } => format!("{name}: exited with code {code}"),
    })
}

fn json_of(step: &Step) -> (&'static str, Value) {
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
        Step::Created { service, name } => (
            "container-created",
            json!({"service": service, "container": name}),
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
    }
}

impl Live {
    fn line(&self, key: &str) -> ProgressBar {
        let mut lines = match self.lines.lock() {
            Ok(l) => l,
            Err(p) => p.into_inner(),
        };
        lines
            .entry(key.to_string())
            .or_insert_with(|| {
                let bar = self.multi.add(ProgressBar::new_spinner());
                let style = ProgressStyle::with_template("{spinner} {prefix:.bold} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner());
                bar.set_style(style);
                bar.set_prefix(key.to_string());
                bar.enable_steady_tick(Duration::from_millis(120));
                bar
            })
            .clone()
    }

    fn done(&self, key: &str, msg: String) {
        let bar = self.line(key);
        bar.set_style(
            ProgressStyle::with_template("✔ {prefix:.bold} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.finish_with_message(msg);
    }

    fn step(&self, step: &Step) {
        match step {
            Step::NetworkCreated { name } => {
                self.done(&format!("network {name}"), "created".into())
            }
            Step::VolumeCreated { name } => self.done(&format!("volume {name}"), "created".into()),
            Step::NetworkRemoved { name } => {
                self.done(&format!("network {name}"), "duplicate removed".into())
            }
            Step::PreBuild { service, command } => self
                .line(service)
                .set_message(format!("running `{command}`")),
            Step::Building { service, tag } => {
                self.line(service).set_message(format!("building {tag}"))
            }
            Step::BuildOutput { service, line } => {
                let line = line.trim();
                if !line.is_empty() {
                    self.line(service).set_message(format!("building: {line}"));
                }
            }
            Step::Built { service, id } => self
                .line(service)
                .set_message(format!("built {}", short(id))),
            Step::Removed { name, .. } => self.line(name).set_message("removed"),
            Step::Created { name, .. } => self.line(name).set_message("created"),
            Step::Waiting {
                service,
                dependency,
                condition,
            } => {
                let _ = (service, dependency, condition);
            }
            Step::Starting { name, .. } => self.line(name).set_message("starting"),
            Step::Started { name, .. } => self.line(name).set_message("started"),
            Step::Restarted { name, .. } => self.line(name).set_message("restarted"),
            Step::Healthy { name, .. } => self.done(name, "healthy".into()),
            Step::Exited { name, code, .. } => self.done(name, format!("exited ({code})")),
        }
    }
}

/// Renders an operation's events.
pub fn render_event(reporter: &Reporter, event: OpEvent) {
    match event {
        OpEvent::Step(s) => reporter.step(s),
        OpEvent::Warning(w) => {
            reporter.event(
                "warning",
                serde_json::json!({"code": w.code(), "message": w.to_string()}),
            );
            if !reporter.is_json() {
                eprintln!("warning: {w}");
            }
        }
        OpEvent::PullStarted { service, image } => reporter.event(
            "pull-started",
            serde_json::json!({"service": service, "image": image}),
        ),
        OpEvent::PullFinished { service, image } => reporter.event(
            "pull-finished",
            serde_json::json!({"service": service, "image": image}),
        ),
        OpEvent::Applying { plan } => {
            if let Ok(v) = serde_json::to_value(&plan) {
                reporter.event("plan", serde_json::json!({ "plan": v }));
            }
        }
        OpEvent::UpToDate { stack, containers } => {
            reporter.event(
                "up-to-date",
                serde_json::json!({"stack": stack, "containers": containers}),
            );
            if !reporter.is_json() {
                eprintln!(
                    "stack `{stack}` is up to date ({})",
                    crate::render::count(containers, "container")
                );
            }
        }
        OpEvent::StackStopping { because, code } => {
            reporter.event(
                "stack-stopping",
                serde_json::json!({"because": because, "code": code}),
            );
            if !reporter.is_json() {
                match (because, code) {
                    (Some(name), Some(code)) => {
                        eprintln!("{name} exited with code {code}: stopping the stack");
                    }
                    _ => eprintln!("stopping (Ctrl-C again to kill)"),
                }
            }
        }
        OpEvent::PullFailed {
            service,
            image,
            error,
        } => {
            reporter.event(
                "pull-failed",
                serde_json::json!({"service": service, "image": image, "message": error.to_string()}),
            );
            if !reporter.is_json() {
                crate::report::engine(Some(&service), &error);
            }
        }
        OpEvent::OneOffStarted { name } => {
            reporter.event("one-off-started", serde_json::json!({"container": name}));
        }
        OpEvent::Killing => {
            reporter.event("killing", serde_json::json!({}));
            if !reporter.is_json() {
                eprintln!("killing");
            }
        }
        OpEvent::Container { name, service, did } => {
            render_container(reporter, &name, &service, did)
        }
        OpEvent::Stopped { container } => {
            reporter.event(
                "container-stopped",
                serde_json::json!({"container": container}),
            );
            if !reporter.is_json() {
                eprintln!("{container}: stopped");
            }
        }
        OpEvent::VolumeKept { volume } => {
            reporter.event(
                "volume-kept",
                serde_json::json!({"volume": volume, "reason": "in use by a container of another stack"}),
            );
            if !reporter.is_json() {
                eprintln!(
                    "warning: volume {volume} is kept: a container that is not this stack's still uses it"
                );
            }
        }
    }
}

/// What became of a container that `stop`, `start`, `restart`, `kill` or `rm` acted on.
fn render_container(reporter: &Reporter, name: &str, service: &str, did: stackr_ops::Did) {
    use stackr_ops::Did;
    let what = match &did {
        Did::Stopped => "stopped",
        Did::Started => "started",
        Did::Restarted => "restarted",
        Did::Killed => "killed",
        Did::Removed => "removed",
        Did::KeptRunning => "kept",
        Did::Failed(_) => "failed",
    };
    reporter.event(
        "container",
        serde_json::json!({"container": name, "service": service, "did": what}),
    );
    if reporter.is_json() {
        return;
    }
    match did {
        Did::Failed(error) => crate::report::engine(Some(service), &error),
        Did::KeptRunning => eprintln!("{name}: running, kept (`rm -s` stops it first)"),
        _ => eprintln!("{name}: {what}"),
    }
}

/// What `down` removed (or kept), once it is done.
pub fn render_down(reporter: &Reporter, stack: &str, report: &stackr_reconcile::apply::DownReport) {
    if reporter.is_json() {
        for n in &report.networks {
            reporter.event("network-removed", serde_json::json!({"network": n}));
        }
        for v in &report.volumes {
            reporter.event("volume-removed", serde_json::json!({"volume": v}));
        }
        reporter.event("done", serde_json::json!({"stack": stack}));
        return;
    }
    for n in &report.networks {
        eprintln!("network {n}: removed");
    }
    for v in &report.volumes {
        eprintln!("volume {v}: removed");
    }
    for k in &report.kept {
        eprintln!(
            "warning: {k} is kept: its service is not in the stack (`--remove-orphans` removes it)"
        );
    }
    if report.containers.is_empty() && report.networks.is_empty() {
        eprintln!("stack `{stack}`: nothing to remove");
    }
}
