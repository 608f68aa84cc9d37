//! The variables a stack file's `${VAR}` sees, and where each comes from: the shell (the
//! editor's environment) over the `.env` file beside the stack file, as `stackr` reads them.

use crate::document;
use std::collections::BTreeMap;

/// Where a variable's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The environment of the process (the editor's, which is the shell's it was started from).
    Shell,
    /// The `.env` file beside the stack file (the shell's value wins, as in `stackr up`).
    EnvFile,
}

impl Source {
    /// Sorts the env file's variables first: they are the stack's own.
    pub fn rank(self) -> u8 {
        match self {
            Source::EnvFile => 0,
            Source::Shell => 1,
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Source::Shell => "the shell",
            Source::EnvFile => ".env",
        })
    }
}

/// A variable with its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    pub name: String,
    pub value: String,
    pub source: Source,
}

/// The variables of a stack file, its `.env` as the editor has it (the lines of it that can
/// be read, while another is being typed).
pub fn of(src: &document::Source<'_>) -> Vec<Variable> {
    let shell: BTreeMap<String, String> = std::env::vars().collect();
    src.variables()
        .vars
        .into_iter()
        .map(|(name, value)| {
            let source = if shell.contains_key(&name) {
                Source::Shell
            } else {
                Source::EnvFile
            };
            Variable {
                name,
                value,
                source,
            }
        })
        .collect()
}

/// The interpolation `${...}` around byte `offset` of `text`, on its line: its byte range
/// and what is inside the braces.
pub fn expression_at(text: &str, offset: usize) -> Option<(std::ops::Range<usize>, &str)> {
    let line_start = text[..offset.min(text.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |i| line_start + i);
    let line = &text[line_start..line_end];
    let mut from = 0;
    while let Some(open) = line[from..].find("${") {
        let start = line_start + from + open;
        let close = line[from + open..].find('}')?;
        let end = start + close + 1;
        if (start..end).contains(&offset) {
            return Some((start..end, &text[start + 2..end - 1]));
        }
        from += open + close + 1;
    }
    None
}

/// What hovering `${expr}` shows: the name, its value and where it comes from, or what
/// happens when it is unset.
pub fn describe(expr: &str, vars: &[Variable]) -> String {
    let name_end = expr
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(expr.len());
    let (name, rest) = expr.split_at(name_end);
    let found = vars.iter().find(|v| v.name == name);
    let empty_counts = rest.starts_with(':');
    let op = rest.trim_start_matches(':');
    let fallback = |word: &str| op.strip_prefix(word).map(str::to_string);
    match found {
        Some(v) if !(v.value.is_empty() && empty_counts) => {
            format!("`{name}` = `{}` (from {})", v.value, v.source)
        }
        _ => {
            let state = if found.is_some() { "empty" } else { "unset" };
            if let Some(default) = fallback("-") {
                format!("`{name}` is {state}: the default `{default}` is used")
            } else if let Some(message) = fallback("?") {
                format!("`{name}` is {state}: stackr stops with `{message}`")
            } else {
                format!("`{name}` is {state}: it becomes an empty string (stackr warns)")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expression_is_found_on_its_line_and_described() {
        let text = "image \"app:${TAG:-latest}\" \"${X}\"\n";
        let at = text.find("TAG").unwrap_or(0);
        let (range, expr) = expression_at(text, at).unwrap_or((0..0, ""));
        assert_eq!((&text[range], expr), ("${TAG:-latest}", "TAG:-latest"));
        assert!(expression_at(text, 2).is_none());
        let vars = vec![Variable {
            name: "X".into(),
            value: "1".into(),
            source: Source::EnvFile,
        }];
        assert_eq!(
            describe("TAG:-latest", &vars),
            "`TAG` is unset: the default `latest` is used"
        );
        assert_eq!(describe("X", &vars), "`X` = `1` (from .env)");
        assert_eq!(
            describe("Y:?need Y", &vars),
            "`Y` is unset: stackr stops with `need Y`"
        );
    }
}
