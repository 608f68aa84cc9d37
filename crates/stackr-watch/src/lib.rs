//! Watch mode's building blocks: which rule a changed host path belongs to ([`rules`]), what
//! to send to a container for a batch of changes and sending it through the engine's archive
//! API and stackr's probe runner ([`sync`]), and watching folders with notify ([`fs`]).
//!
//! The loop that ties them to the stack (catching up, acting on batches, reloading the stack
//! file, rebuilding) is [`session::watch`], generic over the engine: the operations layer's
//! watch, beside `stackr-ops` because it reads the host's files. It reports typed
//! [`session::WatchEvent`]s; the binary renders them.

pub mod fs;
pub mod rules;
pub mod session;
pub mod sync;
pub mod text;

#[cfg(test)]
mod testing;

use thiserror::Error;

/// Why watching cannot start or go on.
#[derive(Debug, Error)]
pub enum WatchError {
    #[error("no service `{0}` in the stack")]
    UnknownService(String),
    #[error("{}", no_rules(services))]
    NoRules { services: Vec<String> },
    #[error("service `{service}`: {message}")]
    Pattern { service: String, message: String },
    #[error(
        "the system's limit of inotify watches is reached while watching `{path}`: raise it with `sysctl fs.inotify.max_user_watches=524288`, or ignore big folders in the watch rules"
    )]
    TooManyWatches { path: String },
    #[error("cannot watch `{path}`: {message}")]
    Watch { path: String, message: String },
}

fn no_rules(services: &[String]) -> String {
    if services.is_empty() {
        "no service has watch rules: add `watch { sync ... }` to a service (or to a profile's, and pass `--profile`)".into()
    } else {
        format!(
            "none of {} has watch rules",
            services
                .iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}
