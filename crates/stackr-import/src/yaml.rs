//! YAML text to a tree that keeps byte spans, with anchors, aliases and merge keys (`<<`)
//! resolved, duplicate keys reported, and the scalar style kept (a quoted `"8080"` is a
//! string, a plain `8080` a number), as compose reads it.
//!
//! Built on `saphyr-parser`'s event stream, whose markers count characters: they are turned
//! into byte offsets here so that spans index the text as `stackr_spec::Span` expects.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle};
use stackr_spec::{Diagnostic, FileId, Problem, Span};

/// A YAML node and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Yaml {
    pub kind: Kind,
    pub span: Span,
    /// A local tag such as `!reset` or `!override`, without the `!`.
    pub tag: Option<String>,
}

/// What a node holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A scalar as written; `plain` when unquoted (so `true`, `8080`, `~` may be typed).
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Yaml>),
    Map(Vec<Entry>),
}

/// One `key: value` pair of a mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_span: Span,
    pub value: Yaml,
}

impl Yaml {
    /// A plain `null`, `~` or empty scalar.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar { text, plain: true } if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// The text of a scalar (any style), `None` for collections and null.
    pub fn scalar(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { text, .. } if !self.is_null() => Some(text),
            _ => None,
        }
    }

    /// A boolean as compose reads one: a plain `true`/`false` (any case).
    pub fn as_bool(&self) -> Option<bool> {
        match &self.kind {
            Kind::Scalar { text, plain: true } => match text.to_ascii_lowercase().as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[Entry]> {
        match &self.kind {
            Kind::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Yaml]> {
        match &self.kind {
            Kind::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The value under `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Yaml> {
        self.as_map()?
            .iter()
            .find(|e| e.key == key)
            .map(|e| &e.value)
    }

    /// What the node is, for "expected X, found Y" messages.
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            _ if self.is_null() => "nothing (null)",
            Kind::Scalar { .. } => "a scalar",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }
}

/// Parses one YAML document. `None` when the text is not valid YAML (the error is in `diags`);
/// an empty document gives a null scalar.
pub fn parse(file: FileId, text: &str, diags: &mut Vec<Diagnostic>) -> Option<Yaml> {
    let offsets: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(text.len()))
        .collect();
    let byte = |char_index: usize| offsets.get(char_index).copied().unwrap_or(text.len());
    let mut events = Vec::new();
    let mut depth = 0usize;
    for item in Parser::new_from_str(text) {
        match item {
            Ok((ev, span)) => {
                let start = byte(span.start.index());
                let end = byte(span.end.index()).max(start);
                let span = Span {
                    file,
                    offset: start,
                    len: end - start,
                };
                match ev {
                    Event::SequenceStart(..) | Event::MappingStart(..) => depth += 1,
                    Event::SequenceEnd | Event::MappingEnd => depth = depth.saturating_sub(1),
                    _ => {}
                }
                if depth > MAX_DEPTH {
                    diags.push(
                        Diagnostic::error(Problem::TooDeep {
                            what: "YAML lists and mappings".into(),
                            limit: MAX_DEPTH,
                        })
                        .with_label(span, "one level too deep")
                        .with_help("a compose file needs a handful of levels: flatten this part"),
                    );
                    return None;
                }
                events.push((ev, span));
            }
            Err(e) => {
                let offset = byte(e.marker().index());
                let len = usize::from(offset < text.len());
                let message = e.info().to_string();
                let mut d = Diagnostic::error(Problem::Syntax {
                    message: format!("invalid YAML: {message}"),
                })
                .with_label(Span { file, offset, len }, "here");
                if message.contains("tab") || text.contains('\t') {
                    d = d.with_help("YAML indents with spaces, never tabs");
                } else if message.contains("mapping values") {
                    d = d.with_help("quote values that hold `: `, e.g. `command: \"echo a: b\"`");
                }
                diags.push(d);
                return None;
            }
        }
    }
    let mut b = Builder {
        file,
        events: events.into_iter(),
        anchors: HashMap::new(),
        diags,
        documents: 0,
        built: 0,
        expanded: 0,
    };
    b.stream()
}

/// How deep lists and mappings may nest.
pub const MAX_DEPTH: usize = 64;

/// How many nodes aliases and merge keys may copy in all: a "billion laughs" file of 1 KB
/// would otherwise expand to gigabytes.
pub const MAX_EXPANDED_NODES: usize = 1_000_000;

struct Builder<'d, 'i, I: Iterator<Item = (Event<'i>, Span)>> {
    file: FileId,
    events: I,
    /// Each anchor's node, and how many nodes it holds.
    anchors: HashMap<usize, (Yaml, usize)>,
    diags: &'d mut Vec<Diagnostic>,
    documents: usize,
    /// Nodes built so far, copies included.
    built: usize,
    /// Nodes copied by aliases and merge keys so far.
    expanded: usize,
}

impl<'i, I: Iterator<Item = (Event<'i>, Span)>> Builder<'_, 'i, I> {
    fn stream(&mut self) -> Option<Yaml> {
        let mut first: Option<Yaml> = None;
        while let Some((ev, _)) = self.events.next() {
            match ev {
                Event::DocumentStart(_) => {
                    self.documents += 1;
                    let Some((ev, span)) = self.events.next() else {
                        break;
                    };
                    let node = self.node(ev, span)?;
                    if self.documents == 1 {
                        first = Some(node);
                    } else {
                        self.diags.push(
                            Diagnostic::error(Problem::Syntax {
                                message: "a compose file holds one YAML document, found more"
                                    .into(),
                            })
                            .with_label(span, "a second document")
                            .with_help("split the documents into separate files and import each"),
                        );
                    }
                }
                Event::StreamEnd => break,
                _ => {}
            }
        }
        Some(first.unwrap_or(Yaml {
            kind: Kind::Scalar {
                text: String::new(),
                plain: true,
            },
            span: Span {
                file: self.file,
                offset: 0,
                len: 0,
            },
            tag: None,
        }))
    }

    /// Counts `n` copied nodes; `false` (with the diagnostic) past the limit.
    fn expand(&mut self, n: usize, span: Span) -> bool {
        self.expanded += n;
        self.built += n;
        if self.expanded <= MAX_EXPANDED_NODES {
            return true;
        }
        self.diags.push(
            Diagnostic::error(Problem::TooLarge {
                what: "aliases and merge keys".into(),
                limit: format!("{MAX_EXPANDED_NODES} nodes"),
            })
            .with_label(span, "the copy that crosses the limit")
            .with_help("aliases here copy aliases that copy others: write the values out, or share fewer levels"),
        );
        false
    }

    fn node(&mut self, ev: Event<'i>, span: Span) -> Option<Yaml> {
        // Where this node's count starts: an anchor's size is what was built since.
        let before = self.built;
        self.built += 1;
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let node = Yaml {
                    kind: Kind::Scalar {
                        text: text.into_owned(),
                        plain: style == ScalarStyle::Plain,
                    },
                    span,
                    tag: local_tag(tag.as_deref()),
                };
                self.anchor(anchor, &node, before).then_some(node)
            }
            Event::Alias(id) => match self.anchors.get(&id) {
                Some((n, size)) => {
                    let n = n.clone();
                    self.built -= 1;
                    self.expand(*size, span).then_some(n)
                }
                None => {
                    self.diags.push(
                        Diagnostic::error(Problem::Syntax {
                            message: "invalid YAML: alias to an unknown anchor".into(),
                        })
                        .with_label(span, "unknown anchor"),
                    );
                    None
                }
            },
            Event::SequenceStart(anchor, tag) => {
                let mut items = Vec::new();
                let end;
                loop {
                    let (ev, s) = self.events.next()?;
                    if matches!(ev, Event::SequenceEnd) {
                        end = s;
                        break;
                    }
                    items.push(self.node(ev, s)?);
                }
                let node = Yaml {
                    kind: Kind::Seq(items),
                    span: join(span, end),
                    tag: local_tag(tag.as_deref()),
                };
                self.anchor(anchor, &node, before).then_some(node)
            }
            Event::MappingStart(anchor, tag) => {
                let mut entries: Vec<Entry> = Vec::new();
                let mut keys: HashMap<String, Span> = HashMap::new();
                // Merged-in entries (`<<`) yield to keys written in the mapping itself.
                let mut merged: Vec<Entry> = Vec::new();
                let mut merged_keys: std::collections::HashSet<String> = Default::default();
                let end;
                loop {
                    let (ev, s) = self.events.next()?;
                    if matches!(ev, Event::MappingEnd) {
                        end = s;
                        break;
                    }
                    let key = self.node(ev, s)?;
                    let (kev, ks) = self.events.next()?;
                    let value = self.node(kev, ks)?;
                    let key_text = match &key.kind {
                        Kind::Scalar { text, .. } => text.clone(),
                        _ => {
                            self.diags.push(
                                Diagnostic::error(Problem::Syntax {
                                    message: "a mapping key must be a scalar".into(),
                                })
                                .with_label(key.span, "not a scalar"),
                            );
                            continue;
                        }
                    };
                    if key_text == "<<" && matches!(&key.kind, Kind::Scalar { plain: true, .. }) {
                        if !self.merge_into((&mut merged, &mut merged_keys), &value) {
                            return None;
                        }
                        continue;
                    }
                    if let Some(first) = keys.get(&key_text) {
                        self.diags.push(
                            Diagnostic::error(Problem::Duplicate {
                                kind: "key".into(),
                                name: key_text.clone(),
                            })
                            .with_label(key.span, "defined again here")
                            .with_label(*first, "first defined here")
                            .with_help("compose refuses duplicate keys: keep one"),
                        );
                        continue;
                    }
                    keys.insert(key_text.clone(), key.span);
                    entries.push(Entry {
                        key: key_text,
                        key_span: key.span,
                        value,
                    });
                }
                for m in merged {
                    if !keys.contains_key(&m.key) {
                        entries.push(m);
                    }
                }
                let node = Yaml {
                    kind: Kind::Map(entries),
                    span: join(span, end),
                    tag: local_tag(tag.as_deref()),
                };
                self.anchor(anchor, &node, before).then_some(node)
            }
            _ => None,
        }
    }

    /// `<<: *a` or `<<: [*a, *b]`: earlier sources win over later ones. `false` when the
    /// copies cross [`MAX_EXPANDED_NODES`].
    fn merge_into(
        &mut self,
        (merged, have): (&mut Vec<Entry>, &mut std::collections::HashSet<String>),
        value: &Yaml,
    ) -> bool {
        let sources: Vec<&Yaml> = match &value.kind {
            Kind::Seq(items) => items.iter().collect(),
            _ => vec![value],
        };
        for src in sources {
            match &src.kind {
                Kind::Map(es) => {
                    for e in es {
                        if !have.insert(e.key.clone()) {
                            continue;
                        }
                        // Each merge copies the entry once more.
                        if !self.expand(count_nodes(&e.value), src.span) {
                            return false;
                        }
                        merged.push(e.clone());
                    }
                }
                _ => self.diags.push(
                    Diagnostic::error(Problem::Syntax {
                        message: format!(
                            "a merge key `<<` takes a mapping, found {}",
                            src.describe()
                        ),
                    })
                    .with_label(src.span, "not a mapping")
                    .with_help("write `<<: *anchor` where the anchor names a mapping"),
                ),
            }
        }
        true
    }

    /// Keeps an anchored node for its aliases. The copy kept counts as expansion too: anchors
    /// nested in anchors would otherwise copy a large list once per level.
    fn anchor(&mut self, id: usize, node: &Yaml, before: usize) -> bool {
        if id == 0 {
            return true;
        }
        let size = self.built - before;
        if !self.expand(size, node.span) {
            return false;
        }
        // The copy is not part of the tree: only the expansion count keeps it.
        self.built -= size;
        self.anchors.insert(id, (node.clone(), size));
        true
    }
}

/// How many nodes a tree holds (without recursion: a tree may be deep).
fn count_nodes(y: &Yaml) -> usize {
    let mut n = 0;
    let mut todo = vec![y];
    while let Some(y) = todo.pop() {
        n += 1;
        match &y.kind {
            Kind::Seq(items) => todo.extend(items),
            Kind::Map(entries) => todo.extend(entries.iter().map(|e| &e.value)),
            Kind::Scalar { .. } => {}
        }
    }
    n
}

fn local_tag(tag: Option<&saphyr_parser::Tag>) -> Option<String> {
    let t = tag?;
    if t.handle == "!" {
        Some(t.suffix.clone())
    } else {
        None
    }
}

fn join(a: Span, b: Span) -> Span {
    let end = (b.offset + b.len).max(a.offset + a.len);
    Span {
        file: a.file,
        offset: a.offset,
        len: end - a.offset,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> (Option<Yaml>, Vec<Diagnostic>) {
        let mut d = Vec::new();
        let y = parse(FileId(0), text, &mut d);
        (y, d)
    }

    #[test]
    fn spans_are_byte_offsets() {
        let text = "é: x\nkey: \"välue\"\n";
        let (y, d) = load(text);
        assert!(d.is_empty());
        let y = y.unwrap_or_else(|| panic!("no yaml"));
        let m = y.as_map().unwrap_or_else(|| panic!("not a map"));
        assert_eq!(&text[m[1].key_span.offset..m[1].key_span.offset + 3], "key");
        let v = &m[1].value.span;
        assert_eq!(&text[v.offset..v.offset + v.len], "\"välue\"");
    }

    #[test]
    fn merge_keys_yield_to_explicit_keys() {
        let text = "a: &base {x: 1, y: 2}\nb:\n  <<: *base\n  y: 3\n";
        let (y, d) = load(text);
        assert!(d.is_empty());
        let y = y.unwrap_or_else(|| panic!("no yaml"));
        let b = y.get("b").unwrap_or_else(|| panic!("no b"));
        assert_eq!(b.get("x").and_then(Yaml::scalar), Some("1"));
        assert_eq!(b.get("y").and_then(Yaml::scalar), Some("3"));
    }

    #[test]
    fn duplicate_keys_and_bad_yaml_are_reported() {
        let (_, d) = load("a: 1\na: 2\n");
        assert_eq!(d.len(), 1);
        let (y, d) = load("a: [1, 2\n");
        assert!(y.is_none());
        assert_eq!(d.len(), 1);
    }
}
