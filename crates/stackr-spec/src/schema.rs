//! The stack language as data: which nodes go where, their properties, and which values an
//! argument or a property takes (a fixed word, a boolean, or the name of something the stack
//! declares). Editors ask it what may be typed at a place (`stackr lsp`'s completion and
//! hover); the decoder stays the judge of what is valid, and tests hold the two together:
//! every node, property and word listed here decodes without an unknown-name error, and every
//! node and property of the book's examples and the fixtures is listed here.

use crate::keyword::ServiceNode;
#[cfg(test)]
use crate::keyword::{BlkioNode, GpuNode, UpdateNode};

/// What the stack declares that a value can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefKind {
    Service,
    Network,
    Volume,
    Secret,
    Config,
    Profile,
}

impl RefKind {
    /// The top-level node that declares one.
    pub fn declared_by(self) -> &'static str {
        match self {
            RefKind::Service => "service",
            RefKind::Network => "network",
            RefKind::Volume => "volume",
            RefKind::Secret => "secret",
            RefKind::Config => "config",
            RefKind::Profile => "profile",
        }
    }

    /// The kind a top-level node declares.
    pub fn of_declaration(node: &str) -> Option<RefKind> {
        [
            RefKind::Service,
            RefKind::Network,
            RefKind::Volume,
            RefKind::Secret,
            RefKind::Config,
            RefKind::Profile,
        ]
        .into_iter()
        .find(|k| k.declared_by() == node)
    }
}

/// What an argument or a property takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    /// Free text or a number.
    Any,
    /// `#true` or `#false`.
    Bool,
    /// One of these words (some nodes take other text too; these are the ones to offer).
    Words(&'static [&'static str]),
    /// The name of a declared service, network, ...
    Ref(RefKind),
}

/// A property of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prop {
    pub name: &'static str,
    pub value: Value,
}

/// A node of the language at one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    pub name: &'static str,
    /// What its arguments are.
    pub args: Value,
    pub props: &'static [Prop],
    /// The nodes its block holds.
    pub children: &'static [Node],
    /// A map (`env`, `labels`, ...): any key, as a property or a child node.
    pub map: bool,
    /// Free keys as child nodes only (`logging`'s options).
    pub options: bool,
}

const fn n(name: &'static str) -> Node {
    Node {
        name,
        args: Value::Any,
        props: &[],
        children: &[],
        map: false,
        options: false,
    }
}

const fn p(name: &'static str) -> Prop {
    Prop {
        name,
        value: Value::Any,
    }
}

const fn flag(name: &'static str) -> Prop {
    Prop {
        name,
        value: Value::Bool,
    }
}

const fn words(name: &'static str, words: &'static [&'static str]) -> Prop {
    Prop {
        name,
        value: Value::Words(words),
    }
}

impl Node {
    const fn args(mut self, args: Value) -> Node {
        self.args = args;
        self
    }
    const fn props(mut self, props: &'static [Prop]) -> Node {
        self.props = props;
        self
    }
    const fn children(mut self, children: &'static [Node]) -> Node {
        self.children = children;
        self
    }
    const fn map(mut self) -> Node {
        self.map = true;
        self
    }
    const fn options(mut self) -> Node {
        self.options = true;
        self
    }

    /// The child node called `name`.
    pub fn child(&self, name: &str) -> Option<&'static Node> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The property called `name`.
    pub fn prop(&self, name: &str) -> Option<&'static Prop> {
        self.props.iter().find(|p| p.name == name)
    }
}

const fn map(name: &'static str) -> Node {
    n(name).map()
}

const fn bool_node(name: &'static str) -> Node {
    n(name).args(Value::Bool)
}

const LABELS: Node = map("labels");
const DRIVER_OPTS: Node = map("driver-opts");
const IGNORE_INCLUDE: &[Node] = &[n("ignore"), n("include")];
const HOOK_CHILDREN: &[Node] = &[map("env")];
const HOOK_PROPS: &[Prop] = &[p("user"), p("workdir"), flag("privileged")];
const SECRET_PROPS: &[Prop] = &[p("target"), p("uid"), p("gid"), p("mode")];
const LIMIT_PROPS: &[Prop] = &[p("cpus"), p("memory"), p("pids")];
const BUILD_PROPS: &[Prop] = &[
    p("dockerfile"),
    p("target"),
    p("network"),
    p("platform"),
    p("shm-size"),
];
const FILE_PROPS: &[Prop] = &[flag("required")];
const PORT_PROPS: &[Prop] = &[
    p("target"),
    p("published"),
    p("host-ip"),
    words("protocol", &["tcp", "udp", "sctp"]),
    words("mode", &["host", "ingress"]),
];
const MOUNT_PROPS: &[Prop] = &[flag("read-only"), p("image"), p("subpath")];
const TMPFS_PROPS: &[Prop] = &[p("size"), p("mode")];
const DEPENDS_ON_PROPS: &[Prop] = &[
    words("condition", &["started", "healthy", "completed"]),
    flag("restart"),
    flag("required"),
];
const RESTART_PROPS: &[Prop] = &[p("max-retries")];
const ULIMIT_PROPS: &[Prop] = &[p("soft"), p("hard")];
const PRE_START_PROPS: &[Prop] = &[
    p("user"),
    p("workdir"),
    flag("privileged"),
    p("image"),
    flag("per-replica"),
];
const GPU_PROPS: &[Prop] = &[p("driver")];
const BLKIO_PROPS: &[Prop] = &[p("weight")];

/// The signals offered for `stop-signal` (the decoder takes any signal).
pub const SIGNALS: &[&str] = &[
    "SIGTERM", "SIGINT", "SIGQUIT", "SIGKILL", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGWINCH",
];

const HEALTH: &[Node] = &[
    n("exec"),
    n("shell"),
    n("http").props(&[p("port"), p("path"), p("host"), p("status"), p("body")]),
    n("tcp").props(&[p("port"), p("host")]),
    n("interval"),
    n("timeout"),
    n("retries"),
    n("start-period"),
    n("start-interval"),
    bool_node("disable"),
];

const BUILD: &[Node] = &[
    n("arg"),
    map("args"),
    n("pre-build"),
    n("dockerfile-inline"),
    n("tags"),
    LABELS,
    n("cache-from"),
    n("secret")
        .args(Value::Ref(RefKind::Secret))
        .props(&[p("id")]),
    n("ssh").args(Value::Words(&["default"])),
    map("additional-contexts"),
];

const WATCH: &[Node] = &[
    n("sync").props(&[p("target")]).children(IGNORE_INCLUDE),
    n("rebuild").children(IGNORE_INCLUDE),
    n("restart").children(IGNORE_INCLUDE),
    n("sync-restart")
        .props(&[p("target")])
        .children(IGNORE_INCLUDE),
    n("sync-exec").props(&[p("target")]).children(&[
        n("ignore"),
        n("include"),
        n("exec").props(HOOK_PROPS),
        map("env"),
    ]),
];

const UPDATE: &[Node] = &[
    n("order").args(Value::Words(&["start-first", "stop-first"])),
    n("parallelism"),
    n("delay"),
    n("monitor"),
    n("failure-action").args(Value::Words(&["rollback", "pause", "continue"])),
    n("max-failure-ratio"),
];

/// A rollback cannot roll itself back.
const ROLLBACK: &[Node] = &[
    UPDATE[0],
    UPDATE[1],
    UPDATE[2],
    UPDATE[3],
    n("failure-action").args(Value::Words(&["pause", "continue"])),
    UPDATE[5],
];

const SERVICE_NETWORK: &[Node] = &[
    n("aliases"),
    n("ipv4-address"),
    n("ipv6-address"),
    n("link-local-ips"),
    DRIVER_OPTS,
    n("mac-address"),
    n("gw-priority"),
];

const PLACEMENT: &[Node] = &[n("constraint"), n("spread"), n("max-per-node")];

const GPU: &[Node] = &[n("device-ids"), n("capabilities"), map("options")];

const BLKIO: &[Node] = &[
    n("weight-device"),
    n("device-read-bps"),
    n("device-write-bps"),
    n("device-read-iops"),
    n("device-write-iops"),
];

/// What a node of a service block is, by keyword (an exhaustive `match`: a keyword cannot be
/// added to the language without being described here).
const fn service_node(k: ServiceNode) -> Node {
    use ServiceNode as K;
    let name = k.as_str();
    match k {
        K::Build => n(name).props(BUILD_PROPS).children(BUILD),
        K::Env | K::Labels | K::Sysctls | K::StorageOpt | K::Annotations | K::ExtraHosts => {
            map(name)
        }
        K::EnvFile | K::LabelFile => n(name).props(FILE_PROPS),
        K::Port => n(name).props(PORT_PROPS),
        K::Mount => n(name).args(Value::Ref(RefKind::Volume)).props(MOUNT_PROPS),
        K::Tmpfs => n(name).props(TMPFS_PROPS),
        K::Networks => n(name).args(Value::Ref(RefKind::Network)),
        K::Network => n(name)
            .args(Value::Ref(RefKind::Network))
            .children(SERVICE_NETWORK),
        K::NetworkMode => n(name).args(Value::Words(&["bridge", "host", "none"])),
        K::Health => n(name).children(HEALTH),
        K::DependsOn => n(name)
            .args(Value::Ref(RefKind::Service))
            .props(DEPENDS_ON_PROPS),
        K::Restart => n(name)
            .args(Value::Words(&[
                "no",
                "always",
                "on-failure",
                "unless-stopped",
            ]))
            .props(RESTART_PROPS),
        K::Init
        | K::Tty
        | K::StdinOpen
        | K::ReadOnly
        | K::Privileged
        | K::NoNewPrivileges
        | K::OomKillDisable => bool_node(name),
        K::StopSignal => n(name).args(Value::Words(SIGNALS)),
        K::Limits | K::Reservations => n(name).props(LIMIT_PROPS),
        K::Ulimit => n(name).props(ULIMIT_PROPS),
        K::Logging => n(name)
            .args(Value::Words(&[
                "json-file",
                "local",
                "none",
                "syslog",
                "journald",
                "gelf",
                "fluentd",
                "awslogs",
                "splunk",
            ]))
            .options(),
        K::PullPolicy => n(name).args(Value::Words(&["always", "missing", "never", "build"])),
        K::Secret => n(name)
            .args(Value::Ref(RefKind::Secret))
            .props(SECRET_PROPS),
        K::Config => n(name)
            .args(Value::Ref(RefKind::Config))
            .props(SECRET_PROPS),
        K::Watch => n(name).children(WATCH),
        K::Acknowledge => n(name).args(Value::Words(crate::model::HARDENING_WARNINGS)),
        K::Update => n(name).children(UPDATE),
        K::Rollback => n(name).children(ROLLBACK),
        K::PreStart => n(name).props(PRE_START_PROPS).children(HOOK_CHILDREN),
        K::PostStart | K::PreStop => n(name).props(HOOK_PROPS).children(HOOK_CHILDREN),
        K::Placement => n(name).children(PLACEMENT),
        K::EndpointMode => n(name).args(Value::Words(&["vip", "dnsrr"])),
        K::Links | K::VolumesFrom => n(name).args(Value::Ref(RefKind::Service)),
        K::Gpu => n(name)
            .args(Value::Words(&["all"]))
            .props(GPU_PROPS)
            .children(GPU),
        K::Blkio => n(name).props(BLKIO_PROPS).children(BLKIO),
        K::Ipc => n(name).args(Value::Words(&["host", "shareable", "private"])),
        K::Pid => n(name).args(Value::Words(&["host"])),
        K::Cgroup => n(name).args(Value::Words(&["host", "private"])),
        K::Image
        | K::Command
        | K::Entrypoint
        | K::Expose
        | K::Scale
        | K::ContainerName
        | K::User
        | K::WorkingDir
        | K::StopGracePeriod
        | K::ShmSize
        | K::Device
        | K::CapAdd
        | K::CapDrop
        | K::SecurityOpt
        | K::Hostname
        | K::Dns
        | K::DnsSearch
        | K::DnsOpt
        | K::Domainname
        | K::MacAddress
        | K::Platform
        | K::Runtime
        | K::Uts
        | K::UsernsMode
        | K::CgroupParent
        | K::GroupAdd
        | K::DeviceCgroupRule
        | K::OomScoreAdj
        | K::CpuShares
        | K::CpuPeriod
        | K::CpuQuota
        | K::Cpuset
        | K::MemSwappiness
        | K::MemswapLimit
        | K::ExternalLinks => n(name),
    }
}

/// The nodes of a service block, in the reference's order.
pub const SERVICE: &[Node] = &{
    let mut out = [n(""); ServiceNode::ALL.len()];
    let mut i = 0;
    while i < out.len() {
        out[i] = service_node(ServiceNode::ALL[i]);
        i += 1;
    }
    out
};

const NETWORK: Node = n("network")
    .props(&[
        p("name"),
        p("driver"),
        flag("internal"),
        flag("external"),
        flag("attachable"),
        flag("enable-ipv6"),
    ])
    .children(&[
        LABELS,
        DRIVER_OPTS,
        n("ipam").props(&[p("driver")]).children(&[
            n("subnet")
                .props(&[p("ip-range"), p("gateway")])
                .children(&[map("aux-addresses")]),
            map("options"),
        ]),
    ]);

const DECLARATIONS: [Node; 6] = [
    n("target").args(Value::Words(&["engine", "swarm"])),
    n("service").children(SERVICE),
    NETWORK,
    n("volume")
        .props(&[p("name"), p("driver"), flag("external")])
        .children(&[LABELS, DRIVER_OPTS]),
    n("secret")
        .props(&[
            p("file"),
            p("env"),
            flag("external"),
            p("name"),
            p("acknowledge"),
        ])
        .children(&[LABELS]),
    n("config")
        .props(&[p("file"), p("content"), flag("external"), p("name")])
        .children(&[LABELS]),
];

/// What a profile block holds.
pub const PROFILE: &[Node] = &DECLARATIONS;

/// The top level of a stack file.
pub const TOP: &[Node] = &[
    n("stack"),
    n("include"),
    DECLARATIONS[0],
    DECLARATIONS[1],
    DECLARATIONS[2],
    DECLARATIONS[3],
    DECLARATIONS[4],
    DECLARATIONS[5],
    n("profile").children(PROFILE),
];

/// The nodes that may be written at the end of `path` (node names from the top level, e.g.
/// `["service", "health"]`); `None` when the path leaves the language (or enters a map, whose
/// keys are free).
pub fn children_at(path: &[&str]) -> Option<&'static [Node]> {
    if path.is_empty() {
        return Some(TOP);
    }
    match node_at(path)? {
        Found::Node(node) if !node.map => Some(node.children),
        _ => None,
    }
}

/// What `path` names.
enum Found {
    Node(&'static Node),
    /// Inside a map: free keys.
    InMap,
}

fn node_at(path: &[&str]) -> Option<Found> {
    let (first, rest) = path.split_first()?;
    let mut node = TOP.iter().find(|n| n.name == *first)?;
    for name in rest {
        if node.map {
            return Some(Found::InMap);
        }
        node = node.child(name)?;
    }
    Some(Found::Node(node))
}

/// The node at the end of `path`, if the language has one there (a key inside a map is not
/// one).
pub fn node(path: &[&str]) -> Option<&'static Node> {
    match node_at(path)? {
        Found::Node(node) => Some(node),
        Found::InMap => None,
    }
}

/// The decoder's lists of child names, by the path of the node that holds them, for the test
/// that holds this schema to the decoder.
#[cfg(test)]
pub(crate) fn keyword_lists() -> Vec<(Vec<&'static str>, Vec<&'static str>)> {
    vec![
        (vec!["service"], ServiceNode::NAMES.to_vec()),
        (vec!["service", "blkio"], BlkioNode::NAMES.to_vec()),
        (vec!["service", "gpu"], GpuNode::NAMES.to_vec()),
        (vec!["service", "update"], UpdateNode::NAMES.to_vec()),
        (vec!["service", "rollback"], UpdateNode::NAMES.to_vec()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(nodes: &[Node]) -> Vec<&'static str> {
        nodes.iter().map(|n| n.name).collect()
    }

    #[test]
    fn the_keyword_enums_and_the_schema_list_the_same_nodes() {
        for (path, list) in keyword_lists() {
            let at = children_at(&path).unwrap_or_default();
            assert_eq!(names(at), list, "at {path:?}");
        }
        assert_eq!(names(TOP), crate::decode::TOP_NODES);
        assert_eq!(names(PROFILE), crate::decode::PROFILE_NODES);
        let lists: [(&[&str], &[&str]); 5] = [
            (&["service", "health"], crate::decode::HEALTH_NODES),
            (&["service", "build"], crate::decode::BUILD_NODES),
            (&["service", "watch"], crate::decode::WATCH_NODES),
            (
                &["service", "network"],
                crate::decode::SERVICE_NETWORK_NODES,
            ),
            (&["service", "placement"], crate::decode::PLACEMENT_NODES),
        ];
        for (path, list) in lists {
            assert_eq!(
                names(children_at(path).unwrap_or_default()),
                list,
                "{path:?}"
            );
        }
    }

    /// Every node of the schema with its path.
    fn walk(
        nodes: &'static [Node],
        path: &mut Vec<&'static str>,
        out: &mut Vec<(Vec<&'static str>, &'static Node)>,
    ) {
        for node in nodes {
            path.push(node.name);
            out.push((path.clone(), node));
            walk(node.children, path, out);
            path.pop();
        }
    }

    /// A stack file with `leaf` written at `path` (the last name is the leaf's own); the
    /// blocks around it get the argument they need.
    fn wrapped(path: &[&str], leaf: &str) -> String {
        let mut open = String::new();
        let mut close = String::new();
        for name in &path[..path.len() - 1] {
            let arg = match *name {
                "service" | "profile" | "network" | "volume" | "secret" | "config" => " \"x\"",
                "build" => " \".\"",
                "sync" | "rebuild" | "restart" | "sync-restart" | "sync-exec" => " \"./src\"",
                "logging" => " \"json-file\"",
                _ => "",
            };
            open.push_str(&format!("{name}{arg} {{\n"));
            close.push_str("}\n");
        }
        format!("{open}{leaf}\n{close}")
    }

    /// The problems of `text` of the given codes that point at or into byte range `at`.
    fn problems(text: &str, codes: &[&str], at: Option<std::ops::Range<usize>>) -> Vec<String> {
        let loaded = crate::load_str("stack.kdl", text, &crate::Options::default());
        loaded
            .diagnostics
            .iter()
            .filter(|d| codes.contains(&d.problem.code()))
            .filter(|d| {
                at.as_ref().is_none_or(|r| {
                    d.primary()
                        .is_some_and(|s| s.offset < r.end && s.offset + s.len > r.start)
                })
            })
            .map(|d| d.problem.to_string())
            .collect()
    }

    fn values(v: Value) -> Vec<String> {
        match v {
            Value::Any | Value::Ref(_) => vec!["\"x\"".into()],
            Value::Bool => vec!["#true".into()],
            Value::Words(w) => w.iter().map(|w| format!("\"{w}\"")).collect(),
        }
    }

    #[test]
    fn every_node_property_and_word_of_the_schema_decodes() {
        let mut all = Vec::new();
        walk(TOP, &mut Vec::new(), &mut all);
        let mut wrong = Vec::new();
        let unknown = ["unknown-node", "unknown-property"];
        let refused = ["invalid-value", "wrong-type", "invalid-name"];
        for (path, node) in &all {
            // `word`: a word of the schema's, which must not be refused.
            let mut check = |leaf: String, word: Option<&str>| {
                let text = wrapped(path, &leaf);
                let mut found = problems(&text, &unknown, None);
                if let Some(word) = word {
                    let start = text.rfind(word).unwrap_or(0);
                    found.extend(problems(&text, &refused, Some(start..start + word.len())));
                }
                if !found.is_empty() {
                    wrong.push(format!("{text}=> {found:?}"));
                }
            };
            fn word(value: Value, v: &str) -> Option<&str> {
                matches!(value, Value::Words(_)).then_some(v)
            }
            for v in values(node.args) {
                check(format!("{} {v}", node.name), word(node.args, &v));
            }
            for prop in node.props {
                for v in values(prop.value) {
                    let leaf = format!("{} {}={v}", node.name, prop.name);
                    check(leaf, word(prop.value, &v));
                }
            }
            if node.map {
                check(format!("{} KEY=\"v\"", node.name), None);
            }
            if node.map || node.options {
                check(format!("{} {{\nKEY \"v\"\n}}", node.name), None);
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn paths_lead_into_blocks_and_stop_at_maps() {
        assert_eq!(children_at(&[]), Some(TOP));
        assert_eq!(children_at(&["profile"]), Some(PROFILE));
        assert_eq!(children_at(&["profile", "service"]), Some(SERVICE));
        assert!(children_at(&["service", "env"]).is_none());
        assert!(children_at(&["service", "nope"]).is_none());
        assert_eq!(
            node(&["service", "depends-on"]).map(|n| n.args),
            Some(Value::Ref(RefKind::Service))
        );
        assert!(node(&["service", "env", "KEY"]).is_none());
    }
}
