//! Completion: what may be typed at the cursor, from the language's schema (nodes, properties,
//! fixed words), the stack's declarations (references) and the variables (`${VAR}`).

use lsp_types::{
    CompletionItem, CompletionItemKind, CompletionTextEdit, Documentation, MarkupContent,
    MarkupKind, Range, TextEdit,
};
use stackr_spec::schema::{self, Node, RefKind, Value};

use crate::cursor::{self, Cursor, Typing};
use crate::document::position;
use crate::index::Index;
use crate::variables::Variable;

/// The completions at byte `offset` of `text`; `index` holds what the stack declares (the last
/// good one while the text does not parse), `vars` reads the variables interpolation sees
/// (the `.env` file and the environment: only when a `${` is being typed).
pub fn completions(
    text: &str,
    offset: usize,
    index: Option<&Index>,
    vars: &dyn Fn() -> Vec<Variable>,
) -> Vec<CompletionItem> {
    let c = cursor::at(text, offset);
    let range = Range {
        start: position(text, c.start),
        end: position(text, offset),
    };
    let path = c.schema_path();
    let mut items = match &c.typing {
        Typing::NodeName => nodes(&path),
        Typing::Variable => variables(&vars()),
        Typing::Entry => {
            let node = c.node.as_deref().and_then(|n| node_at(&path, n));
            let mut items = Vec::new();
            if let Some(node) = node {
                if !c.in_string {
                    items.extend(props(node, &path));
                }
                items.extend(values(node.args, &c, index));
            }
            items
        }
        Typing::PropValue { prop } => c
            .node
            .as_deref()
            .and_then(|n| node_at(&path, n))
            .and_then(|n| n.prop(prop))
            .map(|p| values(p.value, &c, index))
            .unwrap_or_default(),
    };
    for item in &mut items {
        let new_text = item
            .insert_text
            .take()
            .unwrap_or_else(|| item.label.clone());
        item.text_edit = Some(CompletionTextEdit::Edit(TextEdit { range, new_text }));
    }
    items
}

fn node_at(path: &[&str], name: &str) -> Option<&'static Node> {
    let mut full = path.to_vec();
    full.push(name);
    schema::node(&full)
}

fn docs(path: &[&str], prop: Option<&str>) -> Option<Documentation> {
    let text = crate::reference::lookup(crate::reference::outside_profile(path), prop)?;
    Some(Documentation::MarkupContent(MarkupContent {
        kind: MarkupKind::Markdown,
        value: text,
    }))
}

fn nodes(path: &[&str]) -> Vec<CompletionItem> {
    let Some(children) = schema::children_at(path) else {
        return Vec::new();
    };
    children
        .iter()
        .map(|node| {
            let mut at = path.to_vec();
            at.push(node.name);
            CompletionItem {
                label: node.name.to_string(),
                kind: Some(CompletionItemKind::KEYWORD),
                documentation: docs(&at, None),
                ..CompletionItem::default()
            }
        })
        .collect()
}

fn props(node: &'static Node, path: &[&str]) -> Vec<CompletionItem> {
    let mut at = path.to_vec();
    at.push(node.name);
    node.props
        .iter()
        .map(|p| CompletionItem {
            label: format!("{}=", p.name),
            kind: Some(CompletionItemKind::PROPERTY),
            documentation: docs(&at, Some(p.name)),
            ..CompletionItem::default()
        })
        .collect()
}

/// The values a `value` may be: its words, `#true`/`#false`, or the declared names.
fn values(value: Value, c: &Cursor, index: Option<&Index>) -> Vec<CompletionItem> {
    let quoted = |w: &str| {
        if c.in_string {
            w.to_string()
        } else {
            format!("\"{w}\"")
        }
    };
    match value {
        Value::Any => Vec::new(),
        Value::Bool if !c.in_string => ["#true", "#false"]
            .iter()
            .map(|b| CompletionItem {
                label: b.to_string(),
                kind: Some(CompletionItemKind::VALUE),
                ..CompletionItem::default()
            })
            .collect(),
        Value::Bool => Vec::new(),
        Value::Words(words) => words
            .iter()
            .map(|w| CompletionItem {
                label: w.to_string(),
                kind: Some(CompletionItemKind::ENUM_MEMBER),
                insert_text: Some(quoted(w)),
                ..CompletionItem::default()
            })
            .collect(),
        Value::Ref(kind) => index
            .map(|ix| ix.names(kind))
            .unwrap_or_default()
            .into_iter()
            .map(|name| CompletionItem {
                label: name.to_string(),
                kind: Some(ref_kind(kind)),
                detail: Some(kind.declared_by().to_string()),
                insert_text: Some(quoted(name)),
                ..CompletionItem::default()
            })
            .collect(),
    }
}

fn ref_kind(kind: RefKind) -> CompletionItemKind {
    match kind {
        RefKind::Service => CompletionItemKind::CLASS,
        RefKind::Network => CompletionItemKind::INTERFACE,
        RefKind::Volume => CompletionItemKind::STRUCT,
        RefKind::Secret => CompletionItemKind::CONSTANT,
        RefKind::Config => CompletionItemKind::FILE,
        RefKind::Profile => CompletionItemKind::MODULE,
    }
}

fn variables(vars: &[Variable]) -> Vec<CompletionItem> {
    vars.iter()
        .map(|v| CompletionItem {
            label: v.name.clone(),
            kind: Some(CompletionItemKind::VARIABLE),
            detail: Some(v.source.to_string()),
            // The env files' variables first: they are the stack's own.
            sort_text: Some(format!("{}{}", v.source.rank(), v.name)),
            ..CompletionItem::default()
        })
        .collect()
}
