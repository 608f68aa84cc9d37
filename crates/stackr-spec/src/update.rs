//! `update` and `rollback`: how a service's containers are replaced when it changes, with
//! Swarm's `update_config` meaning, so that the Swarm target reads the same block.
//!
//! What is written is an `UpdatePolicy`; `Rollout` is what it means, every default filled in.
//! The defaults never give up a healthy container when they can avoid it: a service with a
//! health check that can run twice (no fixed host port or address, and no writable volume
//! shared by its single container) starts each new container first and keeps the old one
//! until the new one is healthy; others stop first, as compose always does.

use std::time::Duration;

use kdl::KdlNode;

use crate::diagnostic::Diagnostic;
use crate::keyword::UpdateNode;
use crate::model::{FailureAction, MountSource, Service, UpdateOrder, UpdatePolicy};
use crate::problem::Problem;
use crate::reader::{Reader, Shape};
use crate::source::{Span, Spanned};

/// An update or rollback as it runs: every field resolved.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Rollout {
    pub order: UpdateOrder,
    /// Containers replaced at once; 0: all.
    pub parallelism: u32,
    #[serde(serialize_with = "duration")]
    #[schemars(with = "crate::serde_util::DurationText")]
    pub delay: Duration,
    #[serde(serialize_with = "duration")]
    #[schemars(with = "crate::serde_util::DurationText")]
    pub monitor: Duration,
    pub failure_action: FailureAction,
    pub max_failure_ratio: f64,
}

fn duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::units::format_duration(*d))
}

impl Rollout {
    /// The containers of each batch, for `count` containers to replace.
    pub fn batch_size(&self, count: usize) -> usize {
        match self.parallelism {
            0 => count.max(1),
            n => n as usize,
        }
    }

    /// How many failures of `replaced` containers are tolerated before `failure-action`.
    pub fn tolerated(&self, replaced: usize) -> usize {
        (self.max_failure_ratio * replaced as f64).floor() as usize
    }
}

/// What keeps two containers of a service from running at once, where it is written.
#[derive(Debug, Clone, PartialEq)]
pub enum Blocker {
    /// A host port published by one container at a time.
    FixedPort { port: String, span: Span },
    /// A fixed address on a network.
    FixedAddress { address: String, span: Span },
}

/// The first setting that keeps an old and a new container of `s` from running side by side.
pub fn start_first_blocker(s: &Service) -> Option<Blocker> {
    let batch = s
        .update
        .as_ref()
        .and_then(|u| u.parallelism.as_ref())
        .map_or(1, |p| if p.value == 0 { s.scale() } else { p.value });
    // A range serves as many containers as it has ports.
    let needed = s.scale().saturating_add(batch);
    if let Some(p) = s
        .ports
        .iter()
        .find(|p| p.value.published.is_some_and(|r| r.len() < needed))
    {
        return Some(Blocker::FixedPort {
            port: p.value.to_string(),
            span: p.span,
        });
    }
    s.networks.iter().find_map(|n| {
        let a = n.ipv4_address.as_ref().or(n.ipv6_address.as_ref())?;
        Some(Blocker::FixedAddress {
            address: a.value.clone(),
            span: a.span,
        })
    })
}

/// Whether a single container writes a volume or host folder that a second one would share.
fn shares_writable_data(s: &Service) -> bool {
    s.scale() <= 1
        && s.mounts.iter().any(|m| {
            !m.read_only
                && matches!(
                    m.source.value,
                    MountSource::Volume(_) | MountSource::Bind(_)
                )
        })
}

/// The order a service updates in when it names none.
pub fn default_order(s: &Service) -> UpdateOrder {
    if s.has_health_check() && start_first_blocker(s).is_none() && !shares_writable_data(s) {
        UpdateOrder::StartFirst
    } else {
        UpdateOrder::StopFirst
    }
}

fn value<T: Copy>(field: &Option<Spanned<T>>) -> Option<T> {
    field.as_ref().map(|f| f.value)
}

/// The service's update, with defaults: its default order, one container at a time, no
/// delay, no monitoring beyond the health check, and a rollback on failure.
pub fn update_of(s: &Service) -> Rollout {
    let written = s.update.clone().unwrap_or_default();
    Rollout {
        order: value(&written.order).unwrap_or_else(|| default_order(s)),
        parallelism: value(&written.parallelism).unwrap_or(1),
        delay: value(&written.delay).unwrap_or_default(),
        monitor: value(&written.monitor).unwrap_or_default(),
        failure_action: value(&written.failure_action).unwrap_or(FailureAction::Rollback),
        max_failure_ratio: value(&written.max_failure_ratio).unwrap_or(0.0),
    }
}

/// The service's rollback: what it writes, else what its update does, pausing on failure.
pub fn rollback_of(s: &Service) -> Rollout {
    let update = update_of(s);
    let written = s.rollback.clone().unwrap_or_default();
    Rollout {
        order: value(&written.order).unwrap_or(update.order),
        parallelism: value(&written.parallelism).unwrap_or(update.parallelism),
        delay: value(&written.delay).unwrap_or(update.delay),
        monitor: value(&written.monitor).unwrap_or(update.monitor),
        failure_action: value(&written.failure_action).unwrap_or(FailureAction::Pause),
        max_failure_ratio: value(&written.max_failure_ratio).unwrap_or(0.0),
    }
}

const USAGE: &str = "update { order \"start-first\"; parallelism 1; monitor \"10s\" }";

/// Reads `update { ... }` or `rollback { ... }`.
pub(crate) fn decode(r: &mut Reader<'_>, node: &KdlNode, place: &str) -> UpdatePolicy {
    let which = node.name().value();
    let v = r.open(
        node,
        &Shape {
            min: 0,
            max: Some(0),
            what: "",
            props: &[],
            children: true,
            usage: USAGE,
        },
    );
    let mut u = UpdatePolicy {
        span: r.name_span(node),
        ..UpdatePolicy::default()
    };
    let place = format!("the `{which}` of {place}");
    for c in v.children() {
        let name = c.name().value();
        let Some(k) = UpdateNode::from_name(name) else {
            r.unknown_node(c, &place, UpdateNode::NAMES);
            continue;
        };
        let usage = match k {
            UpdateNode::Order => "order \"start-first\"",
            UpdateNode::Parallelism => "parallelism 2",
            UpdateNode::Delay => "delay \"10s\"",
            UpdateNode::Monitor => "monitor \"30s\"",
            UpdateNode::FailureAction => "failure-action \"rollback\"",
            UpdateNode::MaxFailureRatio => "max-failure-ratio 0.25",
        };
        let cv = r.open(
            c,
            &Shape {
                min: 1,
                max: Some(1),
                what: "a value",
                props: &[],
                children: false,
                usage,
            },
        );
        let Some(e) = cv.arg(0) else { continue };
        let what = format!("`{name}`");
        match k {
            UpdateNode::Order => {
                let o = r.nonempty(e, &what).and_then(|t| order(r, t));
                r.set_once(&mut u.order, o, name, &place);
            }
            UpdateNode::Parallelism => {
                let n = r.u32(e, &what);
                r.set_once(&mut u.parallelism, n, name, &place);
            }
            UpdateNode::Delay => {
                let d = r.duration(e, &what);
                r.set_once(&mut u.delay, d, name, &place);
            }
            UpdateNode::Monitor => {
                let d = r.duration(e, &what);
                r.set_once(&mut u.monitor, d, name, &place);
            }
            UpdateNode::FailureAction => {
                let a = r
                    .nonempty(e, &what)
                    .and_then(|t| failure_action(r, t, which == "rollback"));
                r.set_once(&mut u.failure_action, a, name, &place);
            }
            UpdateNode::MaxFailureRatio => {
                let x = r.ratio(e, &what);
                r.set_once(&mut u.max_failure_ratio, x, name, &place);
            }
        }
    }
    u
}

fn order(r: &mut Reader<'_>, t: Spanned<String>) -> Option<Spanned<UpdateOrder>> {
    let o = match t.value.as_str() {
        "start-first" => UpdateOrder::StartFirst,
        "stop-first" => UpdateOrder::StopFirst,
        other => {
            r.push(
                Diagnostic::error(Problem::InvalidValue {
                    field: "`order`".into(),
                    value: other.into(),
                    reason: "unknown order".into(),
                })
                .with_label(t.span, "unknown order")
                .with_help("one of `start-first`, `stop-first`"),
            );
            return None;
        }
    };
    Some(Spanned::new(o, t.span))
}

fn failure_action(
    r: &mut Reader<'_>,
    t: Spanned<String>,
    in_rollback: bool,
) -> Option<Spanned<FailureAction>> {
    let a = match t.value.as_str() {
        "rollback" if in_rollback => {
            r.push(
                Diagnostic::error(Problem::InvalidValue {
                    field: "`failure-action`".into(),
                    value: "rollback".into(),
                    reason: "a rollback cannot roll itself back".into(),
                })
                .with_label(t.span, "inside `rollback`")
                .with_help("a failed rollback can `pause` or `continue`"),
            );
            return None;
        }
        "rollback" => FailureAction::Rollback,
        "pause" => FailureAction::Pause,
        "continue" => FailureAction::Continue,
        other => {
            r.push(
                Diagnostic::error(Problem::InvalidValue {
                    field: "`failure-action`".into(),
                    value: other.into(),
                    reason: "unknown action".into(),
                })
                .with_label(t.span, "unknown action")
                .with_help("one of `rollback`, `pause`, `continue`"),
            );
            return None;
        }
    };
    Some(Spanned::new(a, t.span))
}
