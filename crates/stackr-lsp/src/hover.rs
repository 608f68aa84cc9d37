//! Hover: the book's reference text of a node or property, the value of a `${VAR}` and where
//! it comes from, what a name refers to, and a field's value after each profile's overlay.

use crate::cursor::{self, Typing};
use crate::index::Index;
use crate::reference::{lookup, outside_profile};
use crate::variables::{self, Variable};

/// What the hover over the word at byte `offset` of `text` shows, in Markdown, with the byte
/// range it is about.
pub struct Shown {
    pub markdown: String,
    pub range: std::ops::Range<usize>,
}

/// The node a hover is over, for the caller to add the values after profiles: the service's
/// name and the field.
pub struct Field {
    pub service: String,
    pub field: String,
}

pub fn hover(
    text: &str,
    file: &std::path::Path,
    offset: usize,
    index: Option<&Index>,
    vars: &[Variable],
) -> Option<(Shown, Option<Field>)> {
    if let Some((range, expr)) = variables::expression_at(text, offset) {
        let markdown = variables::describe(expr, vars);
        return Some((Shown { markdown, range }, None));
    }
    let (start, end) = word_at(text, offset)?;
    let word = &text[start..end];
    let c = cursor::at(text, end);
    let path = c.schema_path();
    if c.in_string {
        let name = index?.name_at(file, offset)?;
        let decl = index?.declared(name.kind, &name.name).next();
        let where_ = decl
            .map(|d| {
                let line = index
                    .and_then(|ix| ix.text(&d.file))
                    .map_or(0, |t| t[..d.range.start].matches('\n').count() + 1);
                let file = d
                    .file
                    .file_name()
                    .map_or(String::new(), |f| f.to_string_lossy().to_string());
                format!(", declared in {file} line {line}")
            })
            .unwrap_or_else(|| ", not declared".into());
        let markdown = format!("{} `{}`{where_}", name.kind.declared_by(), name.name);
        return Some((
            Shown {
                markdown,
                range: name.range.clone(),
            },
            None,
        ));
    }
    let range = start..end;
    match c.typing {
        Typing::NodeName => {
            let mut at = path.clone();
            at.push(word);
            let markdown = lookup(outside_profile(&at), None)?;
            let field = (outside_profile(&path) == ["service"])
                .then(|| c.path_args.last().cloned().flatten())
                .flatten()
                .map(|service| Field {
                    service,
                    field: word.to_string(),
                });
            Some((Shown { markdown, range }, field))
        }
        Typing::Entry if text[end..].starts_with('=') => {
            let mut at = path.clone();
            at.push(c.node.as_deref()?);
            let markdown = lookup(outside_profile(&at), Some(word))?;
            Some((Shown { markdown, range }, None))
        }
        _ => None,
    }
}

/// The bounds of the word (a node or property name) around byte `offset`.
fn word_at(text: &str, offset: usize) -> Option<(usize, usize)> {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let offset = offset.min(text.len());
    if !text.is_char_boundary(offset) {
        return None;
    }
    let start = text[..offset]
        .rfind(|c: char| !is_word(c))
        .map_or(0, |i| i + 1);
    let end = text[offset..]
        .find(|c: char| !is_word(c))
        .map_or(text.len(), |i| offset + i);
    (start < end).then_some((start, end))
}

/// The values of a field after each profile, as Markdown, when a profile changes it.
pub fn after_profiles(values: &[(Option<String>, Option<Vec<String>>)]) -> Option<String> {
    let base = values.first()?.1.clone();
    if values.iter().all(|(_, v)| *v == base) {
        return None;
    }
    let show = |v: &Option<Vec<String>>| match v {
        None => "the service is not in this stack, or it does not load".to_string(),
        Some(nodes) if nodes.is_empty() => "not set".to_string(),
        Some(nodes) => nodes
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", "),
    };
    let mut out = String::from("**After profiles**\n");
    for (profile, v) in values {
        let who = match profile {
            None => "without a profile".to_string(),
            Some(p) => format!("`--profile {p}`"),
        };
        out.push_str(&format!("\n- {who}: {}", show(v)));
    }
    Some(out)
}
