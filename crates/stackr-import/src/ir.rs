//! The intermediate form between compose and KDL: each declaration is a list of keyed
//! entries. An entry's key is its compose merge slot (`env:NAME`, `port:8080:80`,
//! `mount:/data`, `build.dockerfile`...), chosen so that overlaying entries by key is compose's
//! override rule and stackr's profile merge alike. Diffing an override against the base is
//! then "keep the entries the base does not already hold".

use std::collections::HashMap;

use crate::kdl::{Node, Val};

/// Where an entry is written in its declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// An argument or property of the declaration node itself (networks, volumes...).
    Head,
    /// A node of its own.
    Own,
    Env,
    Build,
    Health,
    Update,
    Rollback,
    Limits,
    Reservations,
    Watch,
    Networks,
    Expose,
    Labels,
    Sysctls,
    ExtraHosts,
    DriverOpts,
    StorageOpt,
    Annotations,
}

/// What an entry contributes to its group's node.
#[derive(Debug, Clone, PartialEq)]
pub enum Frag {
    Arg(Val),
    Prop(String, Val),
    Child(Node),
    /// Only a comment (something that could not be imported).
    Nothing,
}

/// One keyed piece of a declaration, with the comments that go with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub group: Group,
    pub key: String,
    pub frag: Frag,
    pub notes: Vec<String>,
}

impl Entry {
    pub fn new(group: Group, key: impl Into<String>, frag: Frag) -> Entry {
        Entry {
            group,
            key: key.into(),
            frag,
            notes: Vec::new(),
        }
    }

    pub fn own(key: impl Into<String>, node: Node) -> Entry {
        Entry::new(Group::Own, key, Frag::Child(node))
    }

    pub fn note(mut self, n: Option<String>) -> Entry {
        self.notes.extend(n);
        self
    }

    /// The same content, comments aside.
    pub fn same(&self, other: &Entry) -> bool {
        self.key == other.key && self.group == other.group && self.frag == other.frag
    }
}

/// The kind of a top-level declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Service,
    Network,
    Volume,
    Secret,
    Config,
}

impl Kind {
    pub fn node_name(self) -> &'static str {
        match self {
            Kind::Service => "service",
            Kind::Network => "network",
            Kind::Volume => "volume",
            Kind::Secret => "secret",
            Kind::Config => "config",
        }
    }
}

/// A service, network, volume, secret or config.
#[derive(Debug, Clone, PartialEq)]
pub struct Decl {
    pub kind: Kind,
    pub name: String,
    pub entries: Vec<Entry>,
    /// Comment lines above the declaration.
    pub notes: Vec<String>,
    /// Compose's service-level `profiles`.
    pub profiles: Vec<String>,
    /// The compose key each entry came from (entry key → compose key), for `!reset` and
    /// `!override`.
    pub origins: HashMap<String, String>,
    /// Compose keys tagged `!reset` (the inherited value is removed) or `!override` (it is
    /// replaced, not merged), with the span of the key.
    pub resets: Vec<(String, stackr_spec::Span)>,
    pub overrides: Vec<String>,
    /// Where each key is in `entries`, so that a push is a lookup, not a scan.
    index: HashMap<String, Vec<usize>>,
}

impl Decl {
    pub fn new(kind: Kind, name: impl Into<String>) -> Decl {
        Decl {
            kind,
            name: name.into(),
            entries: Vec::new(),
            notes: Vec::new(),
            profiles: Vec::new(),
            origins: HashMap::new(),
            resets: Vec::new(),
            overrides: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// Records that the entries from `start` on came from compose key `key`.
    pub fn came_from(&mut self, start: usize, key: &str) {
        for e in self.entries.iter().skip(start) {
            self.origins.insert(e.key.clone(), key.to_string());
        }
    }

    /// Removes the entries with entry key `key`.
    fn forget_key(&mut self, key: &str) {
        if !self.index.contains_key(key) {
            return;
        }
        self.entries.retain(|e| e.key != key);
        self.index.clear();
        for (i, e) in self.entries.iter().enumerate() {
            self.index.entry(e.key.clone()).or_default().push(i);
        }
    }

    /// Removes the entries that came from compose key `key`.
    fn forget(&mut self, key: &str) {
        let origins = &self.origins;
        self.entries
            .retain(|e| origins.get(&e.key).is_none_or(|k| k != key));
        self.index.clear();
        for (i, e) in self.entries.iter().enumerate() {
            self.index.entry(e.key.clone()).or_default().push(i);
        }
    }

    /// Adds an entry, replacing one with the same key (compose: the later value wins).
    pub fn push(&mut self, e: Entry) {
        if e.frag != Frag::Nothing
            && let Some(&i) = self.index.get(&e.key).and_then(|at| at.first())
            && let Some(slot) = self.entries.get_mut(i)
        {
            let mut notes = std::mem::take(&mut slot.notes);
            *slot = e;
            notes.append(&mut slot.notes);
            slot.notes = notes;
            return;
        }
        self.append(e);
    }

    /// Adds an entry at the end, whatever it holds.
    fn append(&mut self, e: Entry) {
        self.index
            .entry(e.key.clone())
            .or_default()
            .push(self.entries.len());
        self.entries.push(e);
    }

    /// Whether an entry with the same content is here.
    fn holds(&self, e: &Entry) -> bool {
        self.index
            .get(&e.key)
            .is_some_and(|at| at.iter().any(|&i| self.entries[i].same(e)))
    }

    /// Overlays another declaration's entries (compose's `extends` and override rules).
    pub fn overlay(&mut self, over: &Decl) {
        for k in over
            .resets
            .iter()
            .map(|(k, _)| k)
            .chain(over.overrides.iter())
        {
            self.forget(k);
        }
        for (k, v) in &over.origins {
            self.origins.insert(k.clone(), v.clone());
        }
        // compose's default build context is only the default where no side names one.
        let explicit = |d: &Decl| d.entries.iter().any(|e| e.key == "build.context");
        let self_explicit = explicit(self);
        if explicit(over) {
            self.forget_key(crate::service::DEFAULT_CONTEXT);
        }
        for e in &over.entries {
            if self_explicit && e.key == crate::service::DEFAULT_CONTEXT {
                continue;
            }
            self.push(e.clone());
        }
        self.notes.extend(over.notes.iter().cloned());
    }

    /// What `over` changes in `self`: its entries that `self` does not hold as they are.
    pub fn diff(&self, over: &Decl) -> Decl {
        let mut out = Decl::new(over.kind, over.name.clone());
        out.notes = over.notes.clone();
        out.profiles = over.profiles.clone();
        // An override's `build` without `context` keeps the base's context, as compose merges
        // it: the default context is only the default where the base has none.
        let base_has_context = self
            .entries
            .iter()
            .any(|e| e.key.starts_with("build.context"));
        for e in &over.entries {
            if base_has_context && e.key == crate::service::DEFAULT_CONTEXT {
                continue;
            }
            let kept = e.frag == Frag::Nothing || !self.holds(e);
            if kept {
                out.append(e.clone());
            }
        }
        out
    }

    /// The KDL node of the declaration.
    pub fn to_node(&self) -> Node {
        let mut node = Node::new(self.kind.node_name()).arg(Val::str(&self.name));
        node.comments = self.notes.clone();
        let mut done: Vec<Group> = Vec::new();
        for e in &self.entries {
            match e.group {
                Group::Head => {
                    match &e.frag {
                        Frag::Arg(v) => node.args.push(v.clone()),
                        Frag::Prop(k, v) => node.props.push((k.clone(), v.clone())),
                        Frag::Child(c) => node.children.push(c.clone()),
                        Frag::Nothing => {}
                    }
                    node.comments.extend(e.notes.iter().cloned());
                }
                Group::Own => match &e.frag {
                    Frag::Child(c) => {
                        let mut c = c.clone();
                        c.comments.splice(0..0, e.notes.iter().cloned());
                        node.children.push(c);
                    }
                    _ if !e.notes.is_empty() => node.children.push(Node::comment(e.notes.clone())),
                    _ => {}
                },
                g if done.contains(&g) => {}
                g => {
                    done.push(g);
                    node.children.push(self.group_node(g));
                }
            }
        }
        node
    }

    fn group_node(&self, g: Group) -> Node {
        let name = match g {
            Group::Env => "env",
            Group::Build => "build",
            Group::Health => "health",
            Group::Update => "update",
            Group::Rollback => "rollback",
            Group::Limits => "limits",
            Group::Reservations => "reservations",
            Group::Watch => "watch",
            Group::Networks => "networks",
            Group::Expose => "expose",
            Group::Labels => "labels",
            Group::Sysctls => "sysctls",
            Group::ExtraHosts => "extra-hosts",
            Group::DriverOpts => "driver-opts",
            Group::StorageOpt => "storage-opt",
            Group::Annotations => "annotations",
            Group::Head | Group::Own => "",
        };
        let mut n = Node::new(name);
        for e in self.entries.iter().filter(|e| e.group == g) {
            match &e.frag {
                Frag::Arg(v) => {
                    n.args.push(v.clone());
                    n.comments.extend(e.notes.iter().cloned());
                }
                Frag::Prop(k, v) => {
                    n.props.push((k.clone(), v.clone()));
                    n.comments.extend(e.notes.iter().cloned());
                }
                Frag::Child(c) => {
                    let mut c = c.clone();
                    c.comments.splice(0..0, e.notes.iter().cloned());
                    n.children.push(c);
                }
                Frag::Nothing => n.comments.extend(e.notes.iter().cloned()),
            }
        }
        n
    }
}
