//! What can be wrong with a stack file: one variant per kind of problem, carrying the facts.
//! All message text lives in the `#[error]` attributes here.

use thiserror::Error;

use crate::port::PortError;
use crate::units::{CpusError, DurationError, SizeError};

/// One kind of problem, with the facts a message needs.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum Problem {
    #[error("{message}")]
    Syntax { message: String },

    #[error("unknown node `{name}` in {place}")]
    UnknownNode { name: String, place: String },

    #[error("unknown property `{name}` on `{node}`")]
    UnknownProperty { name: String, node: String },

    #[error("`{node}` takes {expected}, found {found}")]
    ArgumentCount {
        node: String,
        expected: String,
        found: usize,
    },

    #[error("`{node}` is missing {what}")]
    MissingArgument { node: String, what: String },

    #[error("{what} must be {expected}, found {found}")]
    WrongType {
        what: String,
        expected: String,
        found: String,
    },

    #[error("`{node}` takes no children block")]
    UnexpectedChildren { node: String },

    #[error("`{node}` does not take a type annotation `({annotation})`")]
    UnexpectedAnnotation { node: String, annotation: String },

    #[error("{kind} `{name}` is defined twice")]
    Duplicate { kind: String, name: String },

    #[error("{field} is set twice in {place}")]
    SetTwice { field: String, place: String },

    #[error("{what} `{name}` is invalid: {reason}")]
    InvalidName {
        what: String,
        name: String,
        reason: String,
    },

    #[error("{from} refers to unknown {kind} `{name}`")]
    UnknownReference {
        from: String,
        kind: String,
        name: String,
    },

    #[error("dependency cycle: {}", cycle.join(" -> "))]
    Cycle { cycle: Vec<String> },

    #[error("service `{service}` depends on itself")]
    SelfDependency { service: String },

    #[error("invalid duration `{value}` for {field}: {error}")]
    InvalidDuration {
        field: String,
        value: String,
        error: DurationError,
    },

    #[error("invalid size `{value}` for {field}: {error}")]
    InvalidSize {
        field: String,
        value: String,
        error: SizeError,
    },

    #[error("invalid cpus `{value}` for {field}: {error}")]
    InvalidCpus {
        field: String,
        value: String,
        error: CpusError,
    },

    #[error("invalid port `{value}`: {error}")]
    InvalidPort { value: String, error: PortError },

    #[error("invalid value `{value}` for {field}: {reason}")]
    InvalidValue {
        field: String,
        value: String,
        reason: String,
    },

    #[error("host port {port} is published twice")]
    PortConflict { port: String },

    #[error(
        "service `{service}` publishes port {port}, but every network it joins is internal: Docker drops the port silently"
    )]
    PortOnInternalNetwork { service: String, port: String },

    #[error("service `{service}` has neither `image` nor `build`")]
    NoImage { service: String },

    #[error("secret `{secret}` has no source")]
    SecretWithoutSource { secret: String },

    #[error("config `{config}` has no source")]
    ConfigWithoutSource { config: String },

    #[error(
        "service `{service}` uses external {kind} `{name}`: a single Docker engine has no {kind} store to take it from"
    )]
    ExternalOnEngine {
        service: String,
        kind: String,
        name: String,
    },

    #[error(
        "service `{service}` has a read-only root, so {kind} `{name}` cannot be put at `{target}`"
    )]
    ReadOnlyTarget {
        service: String,
        kind: String,
        name: String,
        target: String,
    },

    #[error("{what} has more than one source")]
    SeveralSources { what: String },

    #[error("{first} and {second} cannot be used together in {place}")]
    Conflict {
        first: String,
        second: String,
        place: String,
    },

    #[error(
        "service `{service}` waits for `{dependency}` to be healthy, but `{dependency}` has no health check"
    )]
    HealthyWithoutCheck { service: String, dependency: String },

    #[error(
        "service `{service}` restarts by itself, but its dependency `{dependency}` does not surely come back after a daemon restart"
    )]
    DependencyNotRestarted { service: String, dependency: String },

    #[error(
        "env `{name}` of service `{service}` names secret `{secret}`, which the service does not mount"
    )]
    SecretPathNotMounted {
        service: String,
        name: String,
        secret: String,
    },

    #[error("service `{service}` has a `rebuild` watch rule but no `build`")]
    RebuildWithoutBuild { service: String },

    #[error("the sync target `{target}` of service `{service}` {why}")]
    UnsyncableTarget {
        service: String,
        target: String,
        why: String,
    },

    #[error(
        "the tmpfs `{tmpfs}` of service `{service}` is inside the sync target `{target}`: files synced beneath it are invisible in the container"
    )]
    TmpfsInSyncTarget {
        service: String,
        tmpfs: String,
        target: String,
    },

    #[error("{what} must be an absolute path inside the container, found `{path}`")]
    RelativeContainerPath { what: String, path: String },

    #[error("{what} does not exist: `{path}`")]
    MissingPath { what: String, path: String },

    #[error("{place} has two tests")]
    TwoHealthTests { place: String },

    #[error("`{path}` includes itself (through an include cycle)")]
    IncludeCycle { path: String },

    #[error("cannot read `{path}`: {error}")]
    Unreadable {
        path: String,
        error: crate::ReadError,
    },

    #[error("`{path}` {problem}")]
    Encoding {
        path: String,
        problem: EncodingProblem,
    },

    #[error("{what} are nested more than {limit} levels deep")]
    TooDeep { what: String, limit: usize },

    #[error("more than {limit} {what}")]
    TooMany { what: String, limit: usize },

    #[error("the number `{number}` is too large")]
    NumberTooLarge { number: String },

    #[error("`{path}` is included twice")]
    IncludedTwice { path: String },

    #[error("{what} make more than {limit}")]
    TooLarge { what: String, limit: String },

    #[error("the stack reads more than {limit} files")]
    TooManyFiles { limit: usize },

    #[error("interpolation makes more than {} in one file", crate::limits::show_bytes(*limit as u64))]
    TooMuchInterpolation { limit: usize },

    #[error("the ports of service `{service}` are ignored: it uses the host's network")]
    PortsIgnoredWithHostNetwork { service: String },

    #[error("{error}")]
    Interpolation {
        error: crate::interpolate::InterpolationError,
    },

    #[error("variable `{name}` is not set: using an empty string")]
    UnsetVariable { name: String },

    #[error(
        "service `{service}` updates start-first, but {what} cannot be held by two containers at once"
    )]
    StartFirstBlocked { service: String, what: String },

    #[error("service `{service}`: {field} cannot run on the Swarm target: {reason}")]
    SwarmUnsupported {
        service: String,
        field: String,
        reason: String,
    },

    #[error("{what}: Swarm has no way to honour it")]
    SwarmUnsupportedNetwork { what: String },

    #[error(
        "service `{service}` builds its image, and Swarm nodes cannot build: its `image` must name a registry"
    )]
    SwarmImageNeedsRegistry { service: String },

    #[error("service `{service}`: {what} keeps its data on the node that runs the task")]
    SwarmNodeLocal { service: String, what: String },

    #[error("{message}")]
    Other { message: String },

    #[error("{text}")]
    Note { text: String },
}

/// Why a file's bytes are not a stack file's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum EncodingProblem {
    #[error("is not UTF-8 text: byte 0x{byte:02X} is not part of a UTF-8 character")]
    NotUtf8 { byte: u8 },
    #[error("is UTF-16 text, and stack files are UTF-8")]
    Utf16,
    #[error("holds a NUL byte: it is not text")]
    Nul,
}

impl Problem {
    /// A stable, kebab-case code shown as `stackr::CODE`.
    pub fn code(&self) -> &'static str {
        match self {
            Problem::Syntax { .. } => "syntax",
            Problem::UnknownNode { .. } => "unknown-node",
            Problem::UnknownProperty { .. } => "unknown-property",
            Problem::ArgumentCount { .. } => "argument-count",
            Problem::MissingArgument { .. } => "missing-argument",
            Problem::WrongType { .. } => "wrong-type",
            Problem::UnexpectedChildren { .. } => "unexpected-children",
            Problem::UnexpectedAnnotation { .. } => "unexpected-annotation",
            Problem::Duplicate { .. } => "duplicate",
            Problem::SetTwice { .. } => "set-twice",
            Problem::InvalidName { .. } => "invalid-name",
            Problem::UnknownReference { .. } => "unknown-reference",
            Problem::Cycle { .. } => "cycle",
            Problem::SelfDependency { .. } => "self-dependency",
            Problem::InvalidDuration { .. } => "invalid-duration",
            Problem::InvalidSize { .. } => "invalid-size",
            Problem::InvalidCpus { .. } => "invalid-cpus",
            Problem::InvalidPort { .. } => "invalid-port",
            Problem::InvalidValue { .. } => "invalid-value",
            Problem::PortConflict { .. } => "port-conflict",
            Problem::PortOnInternalNetwork { .. } => "port-on-internal-network",
            Problem::NoImage { .. } => "no-image",
            Problem::SecretWithoutSource { .. } => "secret-without-source",
            Problem::ConfigWithoutSource { .. } => "config-without-source",
            Problem::ExternalOnEngine { .. } => "external-on-engine",
            Problem::ReadOnlyTarget { .. } => "read-only-target",
            Problem::SeveralSources { .. } => "several-sources",
            Problem::Conflict { .. } => "conflict",
            Problem::HealthyWithoutCheck { .. } => "healthy-without-check",
            Problem::DependencyNotRestarted { .. } => "dependency-not-restarted",
            Problem::SecretPathNotMounted { .. } => "secret-path-not-mounted",
            Problem::RebuildWithoutBuild { .. } => "rebuild-without-build",
            Problem::UnsyncableTarget { .. } => "unsyncable-target",
            Problem::TmpfsInSyncTarget { .. } => "tmpfs-in-sync-target",
            Problem::RelativeContainerPath { .. } => "relative-container-path",
            Problem::MissingPath { .. } => "missing-path",
            Problem::TwoHealthTests { .. } => "two-health-tests",
            Problem::IncludeCycle { .. } => "include-cycle",
            Problem::Unreadable { .. } => "unreadable",
            Problem::Encoding { .. } => "encoding",
            Problem::TooDeep { .. } => "too-deep",
            Problem::TooMany { .. } => "too-many",
            Problem::NumberTooLarge { .. } => "number-too-large",
            Problem::IncludedTwice { .. } => "included-twice",
            Problem::TooManyFiles { .. } => "too-many-files",
            Problem::TooLarge { .. } => "too-large",
            Problem::TooMuchInterpolation { .. } => "too-much-interpolation",
            Problem::PortsIgnoredWithHostNetwork { .. } => "ports-ignored",
            Problem::Interpolation { .. } => "interpolation",
            Problem::UnsetVariable { .. } => "unset-variable",
            Problem::StartFirstBlocked { .. } => "start-first-blocked",
            Problem::SwarmUnsupported { .. } | Problem::SwarmUnsupportedNetwork { .. } => {
                "swarm-unsupported"
            }
            Problem::SwarmImageNeedsRegistry { .. } => "swarm-image-needs-registry",
            Problem::SwarmNodeLocal { .. } => "swarm-node-local",
            Problem::Other { .. } => "invalid",
            Problem::Note { .. } => "note",
        }
    }
}
