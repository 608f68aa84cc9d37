//! Parsing a file again after a small change, as an editor does at every keystroke: the `kdl`
//! parser takes most of a load's time (about 180 ms for a 1,000-service file), so a
//! [`ParseCache`] parses only the top-level nodes whose text changed and reuses the others.
//! The document it gives is the one a whole parse gives: the same nodes, entries and spans.

use std::collections::HashMap;
use std::ops::Range;

use kdl::{KdlDocument, KdlError, KdlNode};
use miette::SourceSpan;

/// The parsed top-level nodes of the last texts, by their text.
#[derive(Debug, Default)]
pub struct ParseCache {
    chunks: HashMap<String, Vec<KdlNode>>,
}

impl ParseCache {
    /// `text` parsed. Only the top-level nodes that were not in the last text are parsed;
    /// when one of them is not valid KDL, the whole text is parsed, so the errors are the
    /// ones a whole parse reports.
    pub fn parse(&mut self, text: &str) -> Result<KdlDocument, KdlError> {
        let Some(chunks) = crate::format::top_level_chunks(text) else {
            return text.parse();
        };
        let mut kept: HashMap<String, Vec<KdlNode>> = HashMap::with_capacity(chunks.len());
        let mut doc = KdlDocument::new();
        for range in chunks {
            let chunk = &text[range.clone()];
            if let Some(nodes) = kept.get(chunk) {
                doc.nodes_mut().extend(shifted(nodes, range.start));
                continue;
            }
            let nodes = match self.chunks.remove(chunk) {
                Some(nodes) => nodes,
                None => match chunk.parse::<KdlDocument>() {
                    Ok(mut parsed) => {
                        let mut nodes = std::mem::take(parsed.nodes_mut());
                        nodes.iter_mut().for_each(slim);
                        nodes
                    }
                    Err(_) => return text.parse(),
                },
            };
            doc.nodes_mut().extend(shifted(&nodes, range.start));
            kept.insert(chunk.to_string(), nodes);
        }
        doc.set_span(SourceSpan::from(0..text.len()));
        self.chunks = kept;
        Ok(doc)
    }
}

/// Drops the whitespace and comments a node keeps to write itself back, which stackr never
/// does with a parsed document: what is left (names, values as written, spans) is what
/// decoding reads, and each copy of the node is cheaper.
fn slim(node: &mut KdlNode) {
    node.clear_format();
    for e in node.entries_mut() {
        if let Some(f) = e.format_mut() {
            for s in [
                &mut f.leading,
                &mut f.trailing,
                &mut f.before_ty_name,
                &mut f.after_ty_name,
                &mut f.after_key,
                &mut f.after_eq,
            ] {
                *s = String::new();
            }
        }
    }
    if let Some(children) = node.children_mut() {
        children.clear_format();
        children.nodes_mut().iter_mut().for_each(slim);
    }
}

/// Copies of `nodes` (parsed on their own) at byte `at` of the whole text.
fn shifted(nodes: &[KdlNode], at: usize) -> impl Iterator<Item = KdlNode> + '_ {
    nodes.iter().cloned().map(move |mut n| {
        if at > 0 {
            shift(&mut n, at);
        }
        n
    })
}

fn moved(span: SourceSpan, by: usize) -> SourceSpan {
    let r: Range<usize> = span.offset() + by..span.offset() + by + span.len();
    r.into()
}

/// Moves every span of `node` by `by` bytes.
fn shift(node: &mut KdlNode, by: usize) {
    node.set_span(moved(node.span(), by));
    let name = node.name_mut();
    name.set_span(moved(name.span(), by));
    if let Some(ty) = node.ty_mut() {
        ty.set_span(moved(ty.span(), by));
    }
    for e in node.entries_mut() {
        e.set_span(moved(e.span(), by));
        if let Some(name) = e.name_mut() {
            name.set_span(moved(name.span(), by));
        }
        if let Some(ty) = e.ty_mut() {
            ty.set_span(moved(ty.span(), by));
        }
    }
    if let Some(children) = node.children_mut() {
        children.set_span(moved(children.span(), by));
        for c in children.nodes_mut() {
            shift(c, by);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every span of a document, in order, with what it is.
    fn spans(doc: &KdlDocument) -> Vec<(String, usize, usize)> {
        let mut out = Vec::new();
        fn walk(nodes: &[KdlNode], out: &mut Vec<(String, usize, usize)>) {
            for n in nodes {
                let s = |x: SourceSpan| (x.offset(), x.len());
                out.push((
                    format!("node {}", n.name().value()),
                    s(n.span()).0,
                    s(n.span()).1,
                ));
                out.push(("name".into(), s(n.name().span()).0, s(n.name().span()).1));
                for e in n.entries() {
                    out.push((format!("entry {}", e.value()), s(e.span()).0, s(e.span()).1));
                    if let Some(k) = e.name() {
                        out.push(("key".into(), s(k.span()).0, s(k.span()).1));
                    }
                }
                if let Some(c) = n.children() {
                    walk(c.nodes(), out);
                }
            }
        }
        walk(doc.nodes(), &mut out);
        out
    }

    const TEXT: &str = "// a stack\nstack \"s\"\n\nservice \"a\" { // first\n    image \"x\" \\\n        \"y\"\n    env A=\"1\"\n}\n/-\nservice \"gone\"\nservice \"b\" { image #\"z}\"#; }\n/* block\n comment */ volume \"v\"\nnetwork \"n\" { labels { k \"\"\"\n    multi\n    \"\"\"\n} }\n";

    #[test]
    fn a_cached_parse_is_a_whole_parse() {
        let whole: KdlDocument = TEXT.parse().unwrap_or_else(|e| panic!("{e:?}"));
        let mut cache = ParseCache::default();
        let first = cache.parse(TEXT).unwrap_or_default();
        assert_eq!(spans(&first), spans(&whole));
        assert!(!spans(&whole).is_empty());
        // A change in one node: the others come from the cache, the spans still right.
        let changed = TEXT.replace("image \"x\"", "image \"xyz\"");
        let whole: KdlDocument = changed.parse().unwrap_or_default();
        let again = cache.parse(&changed).unwrap_or_default();
        assert_eq!(spans(&again), spans(&whole));
        assert_eq!(cache.chunks.len(), 8, "{:?}", cache.chunks.keys());
    }

    #[test]
    fn an_invalid_text_gives_the_whole_parse_errors() {
        let mut cache = ParseCache::default();
        let bad = "service \"a\" {\n    image true\n}\n";
        let ours = cache.parse(bad).err().map(|e| e.diagnostics.len());
        let whole = bad
            .parse::<KdlDocument>()
            .err()
            .map(|e| e.diagnostics.len());
        assert!(ours.is_some());
        assert_eq!(ours, whole);
    }
}
