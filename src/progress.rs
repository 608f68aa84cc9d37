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
                if let Some(line) = stackr_reconcile::steps::line(&step) {
                    eprintln!("{line}");
                }
            }
            Reporter::Json => {
                let (event, fields) = stackr_reconcile::steps::event(&step);
                self.event(event, fields);
            }
            Reporter::Live(live) => live.step(&step),
        }
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
                .set_message(format!("built {}", stackr_reconcile::steps::short(id))),
            Step::Removed { name, .. } => self.line(name).set_message("removed"),
            Step::Created { name, warnings, .. } if !warnings.is_empty() => {
                self.line(name).set_message(format!(
                    "created; the engine warns: {}",
                    warnings.join("; ")
                ))
            }
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
            Step::UpdateBatch {
                service,
                batch,
                batches,
                ..
            } => self
                .line(service)
                .set_message(format!("updating: batch {batch} of {batches}")),
            Step::Renamed { from, to, .. } => {
                self.line(from).set_message(format!("renamed to {to}"))
            }
            Step::ReplaceFailed { name, reason, .. } => {
                self.done(name, format!("new container {reason}"))
            }
            Step::RollingBack { service, .. } => self.line(service).set_message("rolling back"),
            Step::PreStart { name, command, .. } => self
                .line(name)
                .set_message(format!("running pre-start `{command}`")),
            Step::PreStartDone { name, .. } => self.done(name, "pre-start done".into()),
            Step::HookFailed { name, message, .. } => self
                .line(name)
                .set_message(format!("pre-stop failed: {message}")),
        }
    }
}

/// Renders an operation's event: a step to the reporter, the rest as a JSON event or as its
/// lines on stderr.
pub fn render_event(reporter: &Reporter, event: OpEvent) {
    if let OpEvent::Step(s) = event {
        return reporter.step(s);
    }
    if reporter.is_json() {
        if let Some((name, fields)) = stackr_ops::text::event(&event) {
            reporter.event(name, fields);
        }
    } else if let Some(lines) = stackr_ops::text::lines(&event) {
        eprintln!("{lines}");
    }
}

/// What `down` removed (or kept), once it is done.
pub fn render_down(reporter: &Reporter, stack: &str, report: &stackr_reconcile::apply::DownReport) {
    if reporter.is_json() {
        for (name, fields) in stackr_ops::text::down_events(stack, report) {
            reporter.event(name, fields);
        }
    } else {
        for line in stackr_ops::text::down_lines(stack, report) {
            eprintln!("{line}");
        }
    }
}
