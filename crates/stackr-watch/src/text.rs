//! What a watch says, as people read it: one line per [`WatchEvent`], paths relative to the
//! working directory, durations in ms or s. Whether the line reports a problem decides where
//! the caller writes it (stderr) and its `error:`/`warning:` prefix is part of the text.

use std::path::{Path, PathBuf};
use std::time::Duration;

use stackr_spec::count;

use crate::session::{Then, WatchEvent, Why};

/// A line of a watch's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub text: String,
    /// Something went wrong (an `error:` or `warning:` line).
    pub problem: bool,
}

/// The line for a watch event.
pub fn line(e: &WatchEvent, cwd: &Path) -> Line {
    match text(e, cwd) {
        Ok(text) => Line {
            text,
            problem: false,
        },
        Err(text) => Line {
            text,
            problem: true,
        },
    }
}

/// The line for a watch event (with paths shown relative to `cwd`): `Ok` for what went
/// well, `Err` for what went wrong.
fn text(e: &WatchEvent, cwd: &Path) -> Result<String, String> {
    let still = "; still watching";
    Ok(match e {
        WatchEvent::Watching {
            services,
            rules,
            folders,
            reloaded,
        } => {
            let what = format!(
                "{} ({}, {})",
                services.join(", "),
                count(*rules, "rule"),
                count(*folders, "folder")
            );
            match reloaded {
                None => format!("watching {what}; Ctrl-C stops"),
                Some(t) => format!("stack file applied; watching {what} ({})", took(*t)),
            }
        }
        WatchEvent::CaughtUp {
            service,
            path,
            summary,
            target,
            took: t,
        } => format!(
            "{service}: caught up with {}: {summary} in {target} ({})",
            shown(path, cwd),
            took(*t)
        ),
        WatchEvent::CatchUpFailed {
            service,
            target,
            container,
            error,
            took: t,
        } => {
            let place = container
                .as_ref()
                .map_or(String::new(), |c| format!(" in {c}"));
            return Err(format!(
                "error: {service}: catching up {target}{place} failed ({}): {error}{still}",
                took(*t)
            ));
        }
        WatchEvent::NotRunning { service, pending } => {
            format!("{service}: not running; synced when it starts (pending: {pending})")
        }
        WatchEvent::Synced {
            service,
            container,
            summary,
            target,
            then,
            took: t,
        } => {
            let many = container
                .as_ref()
                .map_or(String::new(), |c| format!(" [{c}]"));
            let done = format!("{service}{many}: {summary} in {target}");
            match then {
                Then::Nothing => format!("{done} ({})", took(*t)),
                Then::Restarted => format!("{done}; restarted ({})", took(*t)),
                Then::Ran(cmd) => format!("{done}; ran `{}` ({})", cmd.join(" "), took(*t)),
                Then::RestartFailed(err) => {
                    return Err(format!(
                        "error: {done}, but the restart failed: {err}{still}"
                    ));
                }
                Then::Exited { cmd, code, output } => {
                    return Err(format!(
                        "error: {done}, but `{}` exited with {code}: {}{still}",
                        cmd.join(" "),
                        output.trim()
                    ));
                }
                Then::NotRun { cmd, output } => {
                    return Err(format!(
                        "error: {done}, but `{}` could not run: {}{still}",
                        cmd.join(" "),
                        output.trim()
                    ));
                }
            }
        }
        WatchEvent::SyncFailed {
            service,
            target,
            error,
            took: t,
        } => {
            return Err(format!(
                "error: {service}: sync to {target} failed ({}): {error}{still}",
                took(*t)
            ));
        }
        WatchEvent::Restarted {
            service,
            why,
            took: t,
        } => {
            let why = match why {
                Why::Changed(paths) => format!("{} changed", shown_all(paths, cwd)),
                Why::Rebuilt(s) => format!("{s} was rebuilt"),
            };
            format!("{service}: restarted: {why} ({})", took(*t))
        }
        WatchEvent::RestartFailed { service, error } => {
            return Err(format!(
                "error: {service}: cannot restart it: {error}{still}"
            ));
        }
        WatchEvent::Rebuilding { service, paths } => {
            format!("{service}: {} changed: rebuilding", shown_all(paths, cwd))
        }
        WatchEvent::Rebuilt { service, took: t } => {
            format!("{service}: rebuilt and recreated ({})", took(*t))
        }
        WatchEvent::RebuildFailed { service, took: t } => {
            return Err(format!(
                "error: {service}: the rebuild failed ({}){still}",
                took(*t)
            ));
        }
        WatchEvent::StackChanged => "stack file changed: planning".into(),
        WatchEvent::StackInvalid => {
            return Err(format!(
                "error: the stack file is invalid; nothing changed{still}"
            ));
        }
        WatchEvent::StackRulesInvalid(e) => {
            return Err(format!("error: {e}; nothing changed{still}"));
        }
        WatchEvent::StackNotApplied => {
            return Err(format!("error: the new stack file was not applied{still}"));
        }
        WatchEvent::EngineError(e) | WatchEvent::EngineLost(e) => {
            return Err(format!("error: {e}"));
        }
        WatchEvent::EngineBack => return Err("watch: the engine is back, watching again".into()),
        WatchEvent::WatcherError(e) => return Err(format!("warning: the file watcher: {e}")),
        WatchEvent::Stopped => "stopped watching".into(),
    })
}

fn shown_all(paths: &[PathBuf], cwd: &Path) -> String {
    paths
        .iter()
        .map(|p| shown(p, cwd))
        .collect::<Vec<_>>()
        .join(", ")
}

fn shown(p: &Path, cwd: &Path) -> String {
    match p.strip_prefix(cwd) {
        Ok(r) => format!("./{}", r.display()),
        Err(_) => p.display().to_string(),
    }
}

fn took(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_shown_from_the_working_directory_and_problems_are_marked() {
        let cwd = Path::new("/p");
        let e = WatchEvent::Restarted {
            service: "web".into(),
            why: Why::Changed(vec![
                PathBuf::from("/p/conf/a.conf"),
                PathBuf::from("/etc/x"),
            ]),
            took: Duration::from_millis(42),
        };
        assert_eq!(
            line(&e, cwd),
            Line {
                text: "web: restarted: ./conf/a.conf, /etc/x changed (42 ms)".into(),
                problem: false
            }
        );
        let e = WatchEvent::SyncFailed {
            service: "web".into(),
            target: "/srv".into(),
            error: "denied".into(),
            took: Duration::from_millis(1500),
        };
        assert_eq!(
            line(&e, cwd).text,
            "error: web: sync to /srv failed (1.5 s): denied; still watching"
        );
        assert!(line(&e, cwd).problem);
    }
}
