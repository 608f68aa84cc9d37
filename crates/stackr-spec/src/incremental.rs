//! Parsing a file again after a small change, as an editor does at every keystroke: the `kdl`
//! parser takes most of a load's time (about 180 ms for a 1,000-service file), so a
//! [`ParseCache`] parses only the top-level nodes whose text changed and reuses the others.
//! The document it gives is the one a whole parse gives: the same nodes, entries and spans.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use kdl::{KdlDocument, KdlError, KdlNode};
use miette::SourceSpan;

/// A parsed file: its top-level nodes, in runs shared with the [`ParseCache`] that gave
/// them, so that a load reads them where they are instead of copying them. A run is copied
/// only when it is changed ([`Parsed::runs_mut`]; interpolation does, for the runs that hold
/// a `$`).
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    runs: Vec<Arc<Vec<KdlNode>>>,
}

impl Parsed {
    /// The top-level nodes, in order.
    pub fn nodes(&self) -> impl Iterator<Item = &KdlNode> {
        self.runs.iter().flat_map(|r| r.iter())
    }

    /// The runs of top-level nodes, in order, each to change with [`Arc::make_mut`].
    pub fn runs_mut(&mut self) -> &mut [Arc<Vec<KdlNode>>] {
        &mut self.runs
    }
}

impl std::str::FromStr for Parsed {
    type Err = KdlError;

    /// A whole parse, without a cache.
    fn from_str(text: &str) -> Result<Self, KdlError> {
        text.parse::<KdlDocument>().map(Parsed::from)
    }
}

impl From<KdlDocument> for Parsed {
    fn from(mut doc: KdlDocument) -> Self {
        Parsed {
            runs: vec![Arc::new(std::mem::take(doc.nodes_mut()))],
        }
    }
}

/// The top-level nodes of one chunk of the last text, and where that chunk began.
#[derive(Debug)]
struct Chunk {
    at: usize,
    nodes: Arc<Vec<KdlNode>>,
}

/// The parsed top-level nodes of the last texts, by their text.
#[derive(Debug, Default)]
pub struct ParseCache {
    chunks: HashMap<String, Chunk>,
}

impl ParseCache {
    /// `text` parsed. Only the top-level nodes that were not in the last text are parsed, and
    /// the others are shared with the cache (moved in place when their place in the text
    /// changed, which copies them only while an earlier [`Parsed`] still holds them); when a
    /// new one is not valid KDL, the whole text is parsed, so the errors are the ones a whole
    /// parse reports.
    pub fn parse(&mut self, text: &str) -> Result<Parsed, KdlError> {
        let Some(chunks) = crate::format::top_level_chunks(text) else {
            return text.parse();
        };
        let mut kept: HashMap<String, Chunk> = HashMap::with_capacity(chunks.len());
        let mut runs = Vec::with_capacity(chunks.len());
        for range in chunks {
            let chunk = &text[range.clone()];
            if let Some(same) = kept.get(chunk) {
                // The same text twice (blank lines, a node repeated): a copy of its own.
                let mut nodes = Vec::clone(&same.nodes);
                shift_all(&mut nodes, same.at, range.start);
                runs.push(Arc::new(nodes));
                continue;
            }
            // The key comes back with the chunk: a text that did not change costs no copy.
            let (key, mut cached) = match self.chunks.remove_entry(chunk) {
                Some(entry) => entry,
                None => match chunk.parse::<KdlDocument>() {
                    Ok(mut parsed) => {
                        let mut nodes = std::mem::take(parsed.nodes_mut());
                        nodes.iter_mut().for_each(slim);
                        let nodes = Arc::new(nodes);
                        (chunk.to_string(), Chunk { at: 0, nodes })
                    }
                    Err(_) => return text.parse(),
                },
            };
            if cached.at != range.start {
                shift_all(
                    Arc::<Vec<KdlNode>>::make_mut(&mut cached.nodes),
                    cached.at,
                    range.start,
                );
                cached.at = range.start;
            }
            runs.push(Arc::clone(&cached.nodes));
            kept.insert(key, cached);
        }
        self.chunks = kept;
        Ok(Parsed { runs })
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

/// Moves `nodes`, found at byte `from` of the text, to byte `to`.
fn shift_all(nodes: &mut [KdlNode], from: usize, to: usize) {
    for n in nodes {
        shift(n, from, to);
    }
}

/// `span` of a chunk that began at byte `from`, for the chunk at byte `to`.
fn moved(span: SourceSpan, from: usize, to: usize) -> SourceSpan {
    let offset = span.offset().saturating_sub(from) + to;
    let r: Range<usize> = offset..offset + span.len();
    r.into()
}

/// Moves every span of `node` from a chunk at byte `from` to one at byte `to`.
fn shift(node: &mut KdlNode, from: usize, to: usize) {
    node.set_span(moved(node.span(), from, to));
    let name = node.name_mut();
    name.set_span(moved(name.span(), from, to));
    if let Some(ty) = node.ty_mut() {
        ty.set_span(moved(ty.span(), from, to));
    }
    for e in node.entries_mut() {
        e.set_span(moved(e.span(), from, to));
        if let Some(name) = e.name_mut() {
            name.set_span(moved(name.span(), from, to));
        }
        if let Some(ty) = e.ty_mut() {
            ty.set_span(moved(ty.span(), from, to));
        }
    }
    if let Some(children) = node.children_mut() {
        children.set_span(moved(children.span(), from, to));
        for c in children.nodes_mut() {
            shift(c, from, to);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every span of some top-level nodes, in order, with what it is.
    fn spans<'a>(nodes: impl Iterator<Item = &'a KdlNode>) -> Vec<(String, usize, usize)> {
        let mut out = Vec::new();
        fn walk<'a>(
            nodes: impl Iterator<Item = &'a KdlNode>,
            out: &mut Vec<(String, usize, usize)>,
        ) {
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
                    walk(c.nodes().iter(), out);
                }
            }
        }
        walk(nodes, &mut out);
        out
    }

    /// The spans of a whole parse of `text`.
    fn whole(text: &str) -> Vec<(String, usize, usize)> {
        let doc: KdlDocument = text.parse().unwrap_or_else(|e| panic!("{e:?}"));
        spans(doc.nodes().iter())
    }

    /// The spans of a parse of `text` through `cache`.
    fn cached(cache: &mut ParseCache, text: &str) -> Vec<(String, usize, usize)> {
        let parsed = cache.parse(text).unwrap_or_else(|e| panic!("{e:?}"));
        spans(parsed.nodes())
    }

    const TEXT: &str = "// a stack\nstack \"s\"\n\nservice \"a\" { // first\n    image \"x\" \\\n        \"y\"\n    env A=\"1\"\n}\n/-\nservice \"gone\"\nservice \"b\" { image #\"z}\"#; }\n/* block\n comment */ volume \"v\"\nnetwork \"n\" { labels { k \"\"\"\n    multi\n    \"\"\"\n} }\n";

    #[test]
    fn a_cached_parse_is_a_whole_parse() {
        let mut cache = ParseCache::default();
        assert_eq!(cached(&mut cache, TEXT), whole(TEXT));
        assert!(!whole(TEXT).is_empty());
        // A change in one node: the others come from the cache, the spans still right.
        let changed = TEXT.replace("image \"x\"", "image \"xyz\"");
        assert_eq!(cached(&mut cache, &changed), whole(&changed));
        assert_eq!(cache.chunks.len(), 8, "{:?}", cache.chunks.keys());
    }

    #[test]
    fn nodes_after_an_edit_move_both_ways_and_an_earlier_parse_keeps_its_spans() {
        let mut cache = ParseCache::default();
        let first = cache.parse(TEXT).unwrap_or_else(|e| panic!("{e:?}"));
        // Longer, shorter, shorter than the first text, back: each time the nodes after the
        // edit move by a different amount, from where the last parse left them.
        for image in [
            "image \"xyz\"",
            "image \"\"",
            "image \"x\"",
            "image \"a-much-longer-one\"",
        ] {
            let changed = TEXT.replace("image \"x\"", image);
            assert_eq!(cached(&mut cache, &changed), whole(&changed), "{image}");
        }
        // A line added at the top moves everything; the parse still held is not touched.
        let added = format!("include \"more.kdl\"\n{TEXT}");
        let held = cache.parse(&added).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(spans(first.nodes()), whole(TEXT));
        assert_eq!(cached(&mut cache, TEXT), whole(TEXT));
        assert_eq!(spans(held.nodes()), whole(&added));
    }

    #[test]
    fn the_same_node_twice_gets_the_spans_of_each_place() {
        let text = "volume \"v\"\n\nvolume \"v\"\n\nvolume \"v\"\n";
        let mut cache = ParseCache::default();
        assert_eq!(cached(&mut cache, text), whole(text));
        let longer = format!("// a comment\n{text}");
        assert_eq!(cached(&mut cache, &longer), whole(&longer));
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
