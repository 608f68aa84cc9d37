//! What a stack file and its includes declare and where each declaration is named: the
//! names behind completion of references, go to definition, find references and rename.
//! Built from the parsed documents with the language schema (which arguments name a service,
//! a network, ...), so it knows the exact place of every name.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use kdl::{KdlDocument, KdlEntry, KdlNode, KdlValue};
use stackr_spec::incremental::Parsed;
use stackr_spec::schema::{self, RefKind, Value};

/// How the index reads and parses the stack's files (the server: as the editor has them,
/// the document through its parse cache).
pub trait Files {
    fn read(&self, path: &Path) -> Option<String>;
    fn parse(&self, path: &Path, text: &str) -> Option<Parsed>;
}

/// A name in a file: a declaration's or a reference's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    pub kind: RefKind,
    pub name: String,
    pub file: PathBuf,
    /// The byte range of the name itself (inside its quotes).
    pub range: std::ops::Range<usize>,
}

/// The declarations and references of a stack file and what it includes.
#[derive(Debug, Clone, Default)]
pub struct Index {
    pub declarations: Vec<Name>,
    pub references: Vec<Name>,
    /// The files read, with their text (positions are computed on it).
    pub files: Vec<(PathBuf, String)>,
}

impl Index {
    /// Indexes the file at `path` and, through `include`, the files it includes, reading and
    /// parsing each with `files`. `None` when `path` itself is not valid KDL; an include
    /// that is not is left out.
    pub fn build(path: &Path, files: &dyn Files) -> Option<Index> {
        let mut index = Index::default();
        let mut seen = HashSet::new();
        let text = files.read(path)?;
        let doc = files.parse(path, &text)?;
        index.add(path, text, &doc, files, &mut seen);
        Some(index)
    }

    fn add(
        &mut self,
        path: &Path,
        text: String,
        doc: &Parsed,
        files: &dyn Files,
        seen: &mut HashSet<PathBuf>,
    ) {
        if !seen.insert(path.to_path_buf()) {
            return;
        }
        let mut includes = Vec::new();
        for node in doc.nodes() {
            match node.name().value() {
                "include" => includes.extend(
                    node.entries()
                        .iter()
                        .filter(|e| e.name().is_none())
                        .filter_map(|e| e.value().as_string())
                        .map(|p| path.parent().unwrap_or(Path::new("")).join(p)),
                ),
                "profile" => {
                    for inner in node.children().map_or(&[][..], KdlDocument::nodes) {
                        self.declaration(path, &text, inner);
                        self.walk(path, &text, inner, &mut vec!["profile"]);
                    }
                }
                _ => {
                    self.declaration(path, &text, node);
                    self.walk(path, &text, node, &mut Vec::new());
                }
            }
        }
        for node in doc.nodes().filter(|n| n.name().value() == "profile") {
            if let Some(name) = first_string(node) {
                self.declarations
                    .push(name_at(RefKind::Profile, path, &text, name));
            }
        }
        self.files.push((path.to_path_buf(), text));
        for include in includes {
            if let Some(text) = files.read(&include)
                && let Some(doc) = files.parse(&include, &text)
            {
                self.add(&include, text, &doc, files, seen);
            }
        }
    }

    fn declaration(&mut self, path: &Path, text: &str, node: &KdlNode) {
        let Some(kind) = RefKind::of_declaration(node.name().value()) else {
            return;
        };
        if let Some(entry) = first_string(node) {
            self.declarations.push(name_at(kind, path, text, entry));
        }
    }

    /// The references in `node` and its blocks; `path` holds the names of the nodes around it.
    fn walk<'a>(&mut self, file: &Path, text: &str, node: &'a KdlNode, path: &mut Vec<&'a str>) {
        path.push(node.name().value());
        let place: Vec<&str> = path.iter().filter(|p| **p != "profile").copied().collect();
        if let Some(spec) = schema::node(&place) {
            if let Value::Ref(kind) = spec.args {
                for entry in referring_args(node) {
                    if let Some(name) = reference(kind, node.name().value(), text, entry) {
                        self.references.push(Name {
                            kind,
                            name: name.0,
                            file: file.to_path_buf(),
                            range: name.1,
                        });
                    }
                }
            }
            if !spec.map && !spec.options {
                for child in node.children().map_or(&[][..], KdlDocument::nodes) {
                    self.walk(file, text, child, path);
                }
            }
        }
        path.pop();
    }

    /// The declaration or reference whose name holds byte `offset` of `file`.
    pub fn name_at(&self, file: &Path, offset: usize) -> Option<&Name> {
        self.declarations
            .iter()
            .chain(&self.references)
            .find(|n| n.file == file && n.range.start <= offset && offset <= n.range.end)
    }

    /// The declarations of `kind` called `name` (a profile may declare a service again).
    pub fn declared<'a>(&'a self, kind: RefKind, name: &'a str) -> impl Iterator<Item = &'a Name> {
        self.declarations
            .iter()
            .filter(move |d| d.kind == kind && d.name == name)
    }

    /// Every place `name` of `kind` is written: declarations and references.
    pub fn occurrences<'a>(
        &'a self,
        kind: RefKind,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Name> {
        self.declarations
            .iter()
            .chain(&self.references)
            .filter(move |d| d.kind == kind && d.name == name)
    }

    /// The names declared of `kind`, each once, in order.
    pub fn names(&self, kind: RefKind) -> Vec<&str> {
        let mut seen = HashSet::new();
        self.declarations
            .iter()
            .filter(|d| d.kind == kind && seen.insert(d.name.as_str()))
            .map(|d| d.name.as_str())
            .collect()
    }

    /// The text of `file`, when it was read.
    pub fn text(&self, file: &Path) -> Option<&str> {
        self.files
            .iter()
            .find(|(p, _)| p == file)
            .map(|(_, t)| t.as_str())
    }
}

fn first_string(node: &KdlNode) -> Option<&KdlEntry> {
    node.entries()
        .iter()
        .find(|e| e.name().is_none())
        .filter(|e| e.value().as_string().is_some())
}

/// The arguments of `node` that name something: all of them, or the first for nodes that
/// take one name and more (`network "back" { ... }`, `mount "data" "/var/lib"`).
fn referring_args(node: &KdlNode) -> Vec<&KdlEntry> {
    let args: Vec<&KdlEntry> = node
        .entries()
        .iter()
        .filter(|e| e.name().is_none())
        .collect();
    match node.name().value() {
        // `mount "/cache"` is an anonymous volume; the source is first of two.
        "mount" if args.len() == 2 => args.into_iter().take(1).collect(),
        "mount" => Vec::new(),
        "network" | "secret" | "config" => args.into_iter().take(1).collect(),
        _ => args,
    }
}

/// The name `entry` of `node` refers to, with its byte range in `text`: the part before `:`
/// for `links "db:alias"` and `volumes-from "db:ro"`; none for a mount of a host path or a
/// `container:` source.
fn reference(
    kind: RefKind,
    node: &str,
    text: &str,
    entry: &KdlEntry,
) -> Option<(String, std::ops::Range<usize>)> {
    let KdlValue::String(value) = entry.value() else {
        return None;
    };
    let name = match node {
        "links" | "volumes-from" => value.split(':').next().unwrap_or(value),
        "mount" if value.starts_with(['/', '.', '~']) => return None,
        _ => value.as_str(),
    };
    if name.is_empty() || value.starts_with("container:") || kind == RefKind::Profile {
        return None;
    }
    let range = inside_quotes(text, entry)?;
    // Escapes would move the name's bytes; only a plain string maps back exactly.
    let written = text.get(range.clone())?;
    written
        .starts_with(name)
        .then(|| (name.to_string(), range.start..range.start + name.len()))
}

fn name_at(kind: RefKind, file: &Path, text: &str, entry: &KdlEntry) -> Name {
    let name = entry.value().as_string().unwrap_or_default().to_string();
    let range = inside_quotes(text, entry).unwrap_or(entry.span().offset()..entry.span().offset());
    Name {
        kind,
        name,
        file: file.to_path_buf(),
        range,
    }
}

/// The byte range of a quoted string entry's text, between its quotes.
fn inside_quotes(text: &str, entry: &KdlEntry) -> Option<std::ops::Range<usize>> {
    let span = entry.span();
    let written = text.get(span.offset()..span.offset() + span.len())?;
    let open = written.find('"')?;
    let close = written.rfind('"')?;
    (close > open).then(|| span.offset() + open + 1..span.offset() + close)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Files in memory.
    struct Memory(Vec<(PathBuf, String)>);

    impl Files for Memory {
        fn read(&self, path: &Path) -> Option<String> {
            self.0
                .iter()
                .find(|(f, _)| f == path)
                .map(|(_, t)| t.clone())
        }

        fn parse(&self, _path: &Path, text: &str) -> Option<Parsed> {
            text.parse().ok()
        }
    }

    fn index(files: &[(&str, &str)]) -> Index {
        let files = files
            .iter()
            .map(|(p, t)| (PathBuf::from(p), t.to_string()))
            .collect();
        Index::build(Path::new("/s/stack.kdl"), &Memory(files)).unwrap_or_default()
    }

    #[test]
    fn declarations_and_references_across_includes() {
        let main = "include \"more.kdl\"\nvolume \"data\"\nservice \"api\" {\n    image \"x\"\n    depends-on \"db\" \"cache\"\n    mount \"data\" \"/d\"\n    mount \"./src\" \"/src\"\n    links \"db:database\"\n}\nprofile \"dev\" {\n    service \"db\" {\n        network \"back\" { aliases \"x\" }\n    }\n}\n";
        let more = "service \"db\" {\n    image \"postgres\"\n}\nnetwork \"back\"\n";
        let ix = index(&[("/s/stack.kdl", main), ("/s/more.kdl", more)]);
        let decl: Vec<(&str, &str)> = ix
            .declarations
            .iter()
            .map(|d| (d.kind.declared_by(), d.name.as_str()))
            .collect();
        assert_eq!(
            decl,
            [
                ("volume", "data"),
                ("service", "api"),
                ("service", "db"),
                ("profile", "dev"),
                ("service", "db"),
                ("network", "back")
            ]
        );
        let refs: Vec<(&str, &str, &str)> = ix
            .references
            .iter()
            .map(|r| {
                let text = if r.file.ends_with("stack.kdl") {
                    main
                } else {
                    more
                };
                (
                    r.kind.declared_by(),
                    r.name.as_str(),
                    &text[r.range.clone()],
                )
            })
            .collect();
        assert_eq!(
            refs,
            [
                ("service", "db", "db"),
                ("service", "cache", "cache"),
                ("volume", "data", "data"),
                ("service", "db", "db"),
                ("network", "back", "back"),
            ]
        );
        let offset = main.find("\"cache\"").unwrap_or(0) + 3;
        assert_eq!(
            ix.name_at(Path::new("/s/stack.kdl"), offset)
                .map(|n| n.name.as_str()),
            Some("cache")
        );
        assert_eq!(ix.occurrences(RefKind::Service, "db").count(), 4);
        assert_eq!(ix.names(RefKind::Service), ["api", "db"]);
    }
}
