//! Go to definition, find references and rename, for services, networks, volumes, secrets,
//! configs and profiles, across the files the stack file includes.

use std::collections::HashMap;
use std::path::Path;

use lsp_types::{Location, Range, TextEdit, Url, WorkspaceEdit};

use crate::document::position;
use crate::index::{Index, Name};

fn location(index: &Index, name: &Name) -> Option<Location> {
    let text = index.text(&name.file)?;
    let uri = Url::from_file_path(&name.file).ok()?;
    Some(Location {
        uri,
        range: range(text, &name.range),
    })
}

pub fn range(text: &str, r: &std::ops::Range<usize>) -> Range {
    Range {
        start: position(text, r.start),
        end: position(text, r.end),
    }
}

/// Where the name at byte `offset` of `file` is declared (a profile may declare a service
/// again: every declaration).
pub fn definition(index: &Index, file: &Path, offset: usize) -> Vec<Location> {
    let Some(name) = index.name_at(file, offset) else {
        return Vec::new();
    };
    index
        .declared(name.kind, &name.name)
        .filter_map(|d| location(index, d))
        .collect()
}

/// Every place the name at byte `offset` of `file` is written.
pub fn references(index: &Index, file: &Path, offset: usize, declarations: bool) -> Vec<Location> {
    let Some(name) = index.name_at(file, offset) else {
        return Vec::new();
    };
    index
        .occurrences(name.kind, &name.name)
        .filter(|n| declarations || !index.declarations.contains(n))
        .filter_map(|n| location(index, n))
        .collect()
}

/// The name rename would change at byte `offset` of `file`, and its range.
pub fn prepare_rename(index: &Index, file: &Path, offset: usize) -> Option<Range> {
    let name = index.name_at(file, offset)?;
    Some(range(index.text(&name.file)?, &name.range))
}

/// Why a new name cannot be taken (the language's rule for names).
pub fn name_problem(new_name: &str) -> Option<String> {
    let ok = new_name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && new_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    (!ok).then(|| {
        format!("`{new_name}` is not a name: start with a letter or digit, then letters, digits, `_`, `-` or `.`")
    })
}

/// The edits that rename the name at byte `offset` of `file`, everywhere it is written.
pub fn rename(index: &Index, file: &Path, offset: usize, new_name: &str) -> Option<WorkspaceEdit> {
    let name = index.name_at(file, offset)?;
    let mut changes: HashMap<Url, Vec<TextEdit>> = HashMap::new();
    for n in index.occurrences(name.kind, &name.name) {
        let Some(text) = index.text(&n.file) else {
            continue;
        };
        let Ok(uri) = Url::from_file_path(&n.file) else {
            continue;
        };
        changes.entry(uri).or_default().push(TextEdit {
            range: range(text, &n.range),
            new_text: new_name.to_string(),
        });
    }
    Some(WorkspaceEdit {
        changes: Some(changes),
        ..WorkspaceEdit::default()
    })
}
