//! What the server says about one document: its diagnostics and its symbols, and the
//! conversion of byte offsets to LSP positions (lines and UTF-16 code units).

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use lsp_types::{DiagnosticSeverity, DocumentSymbol, NumberOrString, Position, Range, SymbolKind};
use stackr_host::files::VariablesRead;
use stackr_spec::incremental::{ParseCache, Parsed};
use stackr_spec::{FileReader, Options, ReadError, Severity};

/// The LSP position of byte `offset` of `text`: its line, and its column in UTF-16 code
/// units. An offset past the end or inside a character is clamped to what precedes it.
pub fn position(text: &str, offset: usize) -> Position {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count();
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    let character: usize = before[start..].chars().map(char::len_utf16).sum();
    Position::new(
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(character).unwrap_or(u32::MAX),
    )
}

/// The byte offset of LSP position `p` in `text` (the inverse of [`position`]); past the
/// end of a line or of the text, its end.
pub fn offset(text: &str, p: Position) -> usize {
    let mut line_start = 0;
    for _ in 0..p.line {
        match text[line_start..].find('\n') {
            Some(i) => line_start += i + 1,
            None => return text.len(),
        }
    }
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |i| line_start + i);
    let mut units = 0u32;
    for (i, c) in text[line_start..line_end].char_indices() {
        if units >= p.character {
            return line_start + i;
        }
        units += c.len_utf16() as u32;
    }
    line_end
}

/// The document and the other open ones over the disk: an unsaved include is read as the
/// editor has it.
struct Overlay<'a> {
    document: (&'a Path, &'a str),
    open: &'a HashMap<PathBuf, &'a str>,
    disk: stackr_host::files::DiskReader,
    /// The document's parse cache: a change parses only the nodes it touched.
    cache: Option<&'a RefCell<ParseCache>>,
}

impl FileReader for Overlay<'_> {
    fn read(&self, path: &Path) -> Result<Vec<u8>, ReadError> {
        if path == self.document.0 {
            return Ok(self.document.1.as_bytes().to_vec());
        }
        match self.open.get(path) {
            Some(text) => Ok(text.as_bytes().to_vec()),
            None => self.disk.read(path),
        }
    }

    fn display_name(&self, path: &Path) -> String {
        self.disk.display_name(path)
    }

    fn parse(&self, path: &Path, text: &str) -> Result<Parsed, kdl::KdlError> {
        match self.cache.filter(|_| path == self.document.0) {
            Some(cache) => parse_with(cache, text),
            None => text.parse(),
        }
    }
}

/// `text` parsed through `cache` (a whole parse if the cache is in use, which a single
/// thread never sees).
pub fn parse_with(cache: &RefCell<ParseCache>, text: &str) -> Result<Parsed, kdl::KdlError> {
    match cache.try_borrow_mut() {
        Ok(mut c) => c.parse(text),
        Err(_) => text.parse(),
    }
}

impl<'a> Overlay<'a> {
    fn new(path: &'a Path, text: &'a str, open: &'a HashMap<PathBuf, &'a str>) -> Self {
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Overlay {
            document: (path, text),
            open,
            disk: stackr_host::files::DiskReader { cwd: dir },
            cache: None,
        }
    }
}

/// A document as the server has it: its path and unsaved text, the stack file it is part of,
/// the other open documents (by path), and its parse cache.
pub struct Source<'a> {
    pub path: &'a Path,
    pub text: &'a str,
    /// The stack file that includes the document (directly or not), or the document itself:
    /// what is loaded to check it, whose `.env` it sees.
    pub entry: &'a Path,
    pub open: &'a HashMap<PathBuf, &'a str>,
    pub cache: Option<&'a RefCell<ParseCache>>,
}

impl<'a> Source<'a> {
    /// A reader of the files of the stack as the editor has them.
    fn reader(&self) -> Overlay<'a> {
        Overlay {
            cache: self.cache,
            ..Overlay::new(self.path, self.text, self.open)
        }
    }

    /// The text of `file` as the editor has it: this document, another open one, the disk.
    pub fn read(&self, file: &Path) -> Result<String, ReadError> {
        let bytes = self.reader().read(file)?;
        String::from_utf8(bytes).map_err(|e| ReadError::NotUtf8 {
            offset: e.utf8_error().valid_up_to(),
        })
    }

    /// The variables the stack file sees: the shell over its `.env` as the editor has it.
    pub fn variables(&self) -> VariablesRead {
        let dir = self.entry.parent().unwrap_or(Path::new(""));
        stackr_host::files::read_variables(dir, &[self.entry.to_path_buf()], &[], &|file| {
            self.read(file)
        })
    }
}

/// The index reads the stack's files as the checks do: as the editor has them, the document
/// through its parse cache.
impl crate::index::Files for Source<'_> {
    fn read(&self, path: &Path) -> Option<String> {
        Source::read(self, path).ok()
    }

    fn parse(&self, path: &Path, text: &str) -> Option<Parsed> {
        self.reader().parse(path, text).ok()
    }
}

/// What checking a stack file found, and the files it read to find it (a change to one of
/// them, open or on the disk, changes what the document's check finds).
#[derive(Debug, Default)]
pub struct Checked {
    pub diagnostics: Vec<lsp_types::Diagnostic>,
    pub reads: Vec<PathBuf>,
}

/// How the node `field` of service `service` reads in the resolved stack: without a profile
/// (the first entry, `None`) and with each of `profiles`. Each is the field's nodes as
/// `stackr config` prints them; `None` for a stack without that service or that does not
/// load.
pub fn effective(
    src: &Source<'_>,
    profiles: &[&str],
    service: &str,
    field: &str,
) -> Vec<(Option<String>, Option<Vec<String>>)> {
    let path = src.entry;
    let reader = src.reader();
    let vars = crate::variables::of(src)
        .into_iter()
        .map(|v| (v.name, v.value))
        .collect();
    let runs = std::iter::once(None).chain(profiles.iter().map(|p| Some(p.to_string())));
    runs.map(|profile| {
        let opts = Options {
            vars: Some(std::collections::BTreeMap::clone(&vars)),
            profiles: profile.iter().cloned().collect(),
            ..Options::default()
        };
        let loaded = stackr_spec::load(&[path.to_path_buf()], &reader, &opts);
        let nodes = loaded.stack.and_then(|stack| {
            let doc: kdl::KdlDocument = stackr_spec::print::to_kdl(&stack).parse().ok()?;
            let node = doc.nodes().iter().find(|n| {
                n.name().value() == "service"
                    && n.entries().first().and_then(|e| e.value().as_string()) == Some(service)
            })?;
            Some(
                node.children()
                    .map_or(&[][..], kdl::KdlDocument::nodes)
                    .iter()
                    .filter(|c| c.name().value() == field)
                    .map(|c| c.to_string().trim().to_string())
                    .collect(),
            )
        });
        (profile, nodes)
    })
    .collect()
}

/// Every problem `stackr check` of the document's stack file finds (the base and each
/// profile, the machine's paths included), with `text` as the document's content and the
/// `open` documents over the disk, that points into the document. The variables are what
/// could be read of `.env` (its own problems are the `.env` document's: [`env_diagnostics`]).
pub fn diagnostics(src: &Source<'_>) -> Checked {
    let (path, text, entry) = (src.path, src.text, src.entry);
    let dir = entry.parent().map(Path::to_path_buf).unwrap_or_default();
    let reader = src.reader();
    let opts = Options {
        vars: Some(src.variables().vars),
        ..Options::default()
    };
    let loaded = stackr_spec::load_all_profiles(
        &[entry.to_path_buf()],
        &reader,
        &opts,
        &stackr_host::files::host_checks,
    );
    let mut reads: Vec<PathBuf> = loaded
        .sources
        .files()
        .map(|(_, f)| f.path.clone())
        .collect();
    reads.extend(stackr_host::files::env_file_paths(
        &dir,
        &[entry.to_path_buf()],
        &[],
    ));
    let Some(file) = loaded
        .sources
        .files()
        .find(|(_, f)| f.path == path)
        .map(|(id, _)| id)
    else {
        return Checked {
            diagnostics: Vec::new(),
            reads,
        };
    };
    let diagnostics = loaded
        .diagnostics
        .iter()
        .filter(|d| d.labels.first().is_some_and(|l| l.span.file == file))
        .filter_map(|d| to_lsp(d, text))
        .collect();
    Checked { diagnostics, reads }
}

/// The problems of a `.env` document as the editor has it: lines that are not `KEY=value`,
/// and lines that use a variable set nowhere.
pub fn env_diagnostics(src: &Source<'_>) -> Vec<lsp_types::Diagnostic> {
    let dir = src.path.parent().unwrap_or(Path::new(""));
    let read = stackr_host::files::read_variables(dir, &[], &[src.path.to_path_buf()], &|file| {
        src.read(file)
    });
    read.problems
        .iter()
        .chain(&read.warnings)
        .filter_map(|d| to_lsp(d, src.text))
        .collect()
}

/// `d` as LSP has it, at its first label in `text` (`None` without a label): its help and
/// notes after the message, its code, and its fix as the data a code action reads.
fn to_lsp(d: &stackr_spec::Diagnostic, text: &str) -> Option<lsp_types::Diagnostic> {
    let label = d.labels.first()?;
    let range = Range {
        start: position(text, label.span.offset),
        end: position(text, label.span.offset + label.span.len),
    };
    let mut message = d.problem.to_string();
    if let Some(help) = &d.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    for note in d.notes() {
        message.push_str("\nnote: ");
        message.push_str(note);
    }
    Some(lsp_types::Diagnostic {
        range,
        severity: Some(match d.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
        }),
        code: Some(NumberOrString::String(format!(
            "stackr::{}",
            d.problem.code()
        ))),
        source: Some("stackr".into()),
        data: d.fix.as_ref().map(crate::actions::fix_data),
        message,
        ..lsp_types::Diagnostic::default()
    })
}

/// The document's declarations, with profiles holding theirs: what an outline shows. Empty
/// when the text is not valid KDL.
pub fn symbols(text: &str) -> Vec<DocumentSymbol> {
    let Ok(doc) = text.parse::<kdl::KdlDocument>() else {
        return Vec::new();
    };
    declarations(text, &doc)
}

fn declarations(text: &str, doc: &kdl::KdlDocument) -> Vec<DocumentSymbol> {
    doc.nodes()
        .iter()
        .filter_map(|node| {
            let kind = match node.name().value() {
                "service" => SymbolKind::CLASS,
                "network" => SymbolKind::INTERFACE,
                "volume" => SymbolKind::STRUCT,
                "secret" => SymbolKind::KEY,
                "config" => SymbolKind::FILE,
                "profile" => SymbolKind::NAMESPACE,
                _ => return None,
            };
            let name_entry = node.entries().iter().find(|e| e.name().is_none())?;
            let name = name_entry.value().as_string()?.to_string();
            let span = node.span();
            let range = Range {
                start: position(text, span.offset()),
                end: position(text, span.offset() + span.len()),
            };
            let name_span = name_entry.span();
            let selection = Range {
                start: position(text, name_span.offset()),
                end: position(text, name_span.offset() + name_span.len()),
            };
            let children = (node.name().value() == "profile")
                .then(|| node.children().map(|c| declarations(text, c)))
                .flatten()
                .filter(|c| !c.is_empty());
            #[allow(deprecated)]
            Some(DocumentSymbol {
                name,
                detail: Some(node.name().value().to_string()),
                kind,
                tags: None,
                deprecated: None,
                range,
                selection_range: selection,
                children,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_utf16_units_on_their_line() {
        let text = "a\n  \"é😀\" x\n";
        // `x` is after 2 spaces, a quote, é (1 unit), 😀 (2 units), a quote and a space.
        let x = text.find('x').unwrap_or(0);
        assert_eq!(position(text, x), Position::new(1, 8));
        assert_eq!(position(text, 0), Position::new(0, 0));
        assert_eq!(position(text, text.len()), Position::new(2, 0));
        assert_eq!(position(text, 10_000), Position::new(2, 0));
        for at in [0, 1, 2, x, x + 1, text.len()] {
            assert_eq!(offset(text, position(text, at)), at);
        }
        assert_eq!(offset(text, Position::new(0, 99)), 1);
        assert_eq!(offset(text, Position::new(9, 0)), text.len());
    }

    #[test]
    fn symbols_are_the_declarations_and_profiles_hold_theirs() {
        let text = "stack \"s\"\nnetwork \"back\"\nservice \"api\" {\n    image \"x\"\n}\nprofile \"dev\" {\n    service \"tools\" {\n        image \"y\"\n    }\n}\n";
        let names: Vec<(String, Vec<String>)> = symbols(text)
            .into_iter()
            .map(|s| {
                let inner = s
                    .children
                    .unwrap_or_default()
                    .into_iter()
                    .map(|c| c.name)
                    .collect();
                (s.name, inner)
            })
            .collect();
        assert_eq!(
            names,
            [
                ("back".to_string(), vec![]),
                ("api".to_string(), vec![]),
                ("dev".to_string(), vec!["tools".to_string()]),
            ]
        );
    }
}
