//! Code actions: the one fix a diagnostic carries (`stackr_spec::diagnostic::Fix`), as an
//! edit: a misspelt name becomes the suggestion, `true` becomes `#true`, `8080:80` is quoted.

use std::collections::HashMap;

use lsp_types::{CodeAction, CodeActionKind, Diagnostic, TextEdit, Url, WorkspaceEdit};
use serde_json::Value;

use crate::document::{offset, position};

/// What the server puts in a diagnostic's `data` for its fix.
pub fn fix_data(fix: &stackr_spec::diagnostic::Fix) -> Value {
    serde_json::json!({ "from": fix.from, "to": fix.to })
}

/// The quick fixes of the diagnostics the client sends back (they hold their fix in `data`).
pub fn quick_fixes(uri: &Url, text: &str, diagnostics: &[Diagnostic]) -> Vec<CodeAction> {
    diagnostics
        .iter()
        .filter_map(|d| {
            let data = d.data.as_ref()?;
            let from = data.get("from")?.as_str()?;
            let to = data.get("to")?.as_str()?;
            let start = offset(text, d.range.start);
            let end = offset(text, d.range.end);
            let at = text.get(start..end)?.find(from)? + start;
            let edit = TextEdit {
                range: lsp_types::Range {
                    start: position(text, at),
                    end: position(text, at + from.len()),
                },
                new_text: to.to_string(),
            };
            Some(CodeAction {
                title: format!("Replace `{from}` with `{to}`"),
                kind: Some(CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![d.clone()]),
                edit: Some(WorkspaceEdit {
                    changes: Some(HashMap::from([(uri.clone(), vec![edit])])),
                    ..WorkspaceEdit::default()
                }),
                is_preferred: Some(true),
                ..CodeAction::default()
            })
        })
        .collect()
}
