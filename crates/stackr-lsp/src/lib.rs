//! `stackr lsp`: a language server for stack files over stdio.
//!
//! It offers what `stackr check` knows as the user types: every problem of the open file
//! (the base and every profile, the machine's paths included) as diagnostics with their code
//! and their fix as a code action, over the unsaved text; completion of nodes, properties,
//! words, declared names and variables; hover with the book's reference text, a variable's
//! value and a field's value after profiles; go to definition, references and rename across
//! includes; formatting (`stackr fmt`'s layout); the outline, folding and semantic tokens.
//!
//! It is built on `lsp-server` and `lsp-types`, rust-analyzer's own: a synchronous loop over
//! a crossbeam channel, no async runtime, which is all a server that answers from memory in
//! milliseconds needs (see ARCHITECTURE.md). Positions are UTF-16, as LSP requires.

mod actions;
mod complete;
mod cursor;
mod document;
mod hover;
mod index;
mod navigate;
mod reference;
mod semantic;
mod variables;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crossbeam_channel::RecvTimeoutError;
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, RequestId, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidChangeWatchedFiles, DidCloseTextDocument, DidOpenTextDocument,
    Notification as _, PublishDiagnostics,
};
use lsp_types::request::{
    CodeActionRequest, Completion, DocumentSymbolRequest, FoldingRangeRequest, Formatting,
    GotoDefinition, HoverRequest, PrepareRenameRequest, References, RegisterCapability, Rename,
    Request as _, SemanticTokensFullRequest,
};
use lsp_types::{
    CodeActionProviderCapability, CompletionOptions, DocumentSymbolResponse, FoldingRange,
    FoldingRangeProviderCapability, HoverProviderCapability, InitializeParams, OneOf,
    PublishDiagnosticsParams, RenameOptions, ServerCapabilities, TextDocumentSyncCapability,
    TextDocumentSyncKind, TextEdit, Url,
};
use serde_json::Value;

pub use document::{diagnostics, position, symbols};

use document::offset;
use index::{Files as _, Index};

/// How many folders up, from a document's, a `stack.kdl` that includes it is looked for.
const ENTRY_LEVELS: usize = 4;

/// How long the server waits for more typing before it checks a changed document: a burst
/// of changes is checked once, at its end.
pub const DEBOUNCE: Duration = Duration::from_millis(10);

/// What can stop the server.
#[derive(Debug)]
pub struct LspError(pub String);

impl std::fmt::Display for LspError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LspError {}

fn fail(e: impl std::fmt::Display) -> LspError {
    LspError(e.to_string())
}

fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        document_formatting_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec!["\"".into(), "=".into(), "{".into(), " ".into()]),
            ..CompletionOptions::default()
        }),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        rename_provider: Some(OneOf::Right(RenameOptions {
            prepare_provider: Some(true),
            work_done_progress_options: Default::default(),
        })),
        code_action_provider: Some(CodeActionProviderCapability::Simple(true)),
        folding_range_provider: Some(FoldingRangeProviderCapability::Simple(true)),
        semantic_tokens_provider: Some(
            lsp_types::SemanticTokensOptions {
                legend: semantic::legend(),
                full: Some(lsp_types::SemanticTokensFullOptions::Bool(true)),
                ..lsp_types::SemanticTokensOptions::default()
            }
            .into(),
        ),
        ..ServerCapabilities::default()
    }
}

/// Serves the client on stdin and stdout until it says `exit`.
pub fn run_stdio() -> Result<(), LspError> {
    let (connection, threads) = Connection::stdio();
    let caps = serde_json::to_value(capabilities()).map_err(fail)?;
    let params = connection.initialize(caps).map_err(fail)?;
    let params: InitializeParams = serde_json::from_value(params).map_err(fail)?;
    let mut server = Server {
        watch_files: params
            .capabilities
            .workspace
            .and_then(|w| w.did_change_watched_files)
            .and_then(|w| w.dynamic_registration)
            .unwrap_or(false),
        ..Server::default()
    };
    // `initialize` has waited for the client's `initialized`: requests may go out now.
    if server.watch_files {
        send(&connection, Message::Request(watch_request()))?;
    }
    server.serve(&connection)?;
    drop(connection);
    threads.join().map_err(fail)
}

/// An open document.
struct Doc {
    text: String,
    /// The stack file on the disk that includes it, found when it was opened (a `stack.kdl`
    /// in its folder or above); an open document that includes it comes first.
    entry: Option<PathBuf>,
    /// Its parses, by top-level node: a change parses only the nodes it touched.
    parses: std::cell::RefCell<stackr_spec::incremental::ParseCache>,
    /// What the stack declares, from the last text that parsed: completion and navigation
    /// go on working while the user is in the middle of a change.
    index: Option<Index>,
    /// The index was built from `text` (or `text` does not parse, and it is the last good).
    fresh: bool,
    /// The files its last check read (its includes, its `.env`): a change to one of them
    /// makes its diagnostics due again.
    reads: Vec<PathBuf>,
    /// Its last check loaded it as the stack file (not as a file another includes): what it
    /// read is what it includes.
    root: bool,
}

/// The open documents, by URI, and those whose diagnostics are due.
#[derive(Default)]
struct Server {
    open: HashMap<Url, Doc>,
    due: HashSet<Url>,
    /// The client watches files for the server when asked (`client/registerCapability`,
    /// sent once initialized): then what a stack file reads, changed on the disk (an include,
    /// a `.env`), has it checked again.
    watch_files: bool,
}

impl Server {
    fn serve(&mut self, connection: &Connection) -> Result<(), LspError> {
        loop {
            let message = if self.due.is_empty() {
                match connection.receiver.recv() {
                    Ok(m) => m,
                    Err(_) => return Ok(()),
                }
            } else {
                match connection.receiver.recv_timeout(DEBOUNCE) {
                    Ok(m) => m,
                    Err(RecvTimeoutError::Timeout) => {
                        self.publish_due(connection)?;
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => return Ok(()),
                }
            };
            match message {
                Message::Request(req) => {
                    if connection.handle_shutdown(&req).map_err(fail)? {
                        return Ok(());
                    }
                    let response = self.request(req);
                    send(connection, Message::Response(response))?;
                }
                Message::Notification(n) => {
                    if let Some(message) = self.notification(n) {
                        send(connection, message)?;
                    }
                }
                Message::Response(_) => {}
            }
        }
    }

    /// Publishes the diagnostics of every document changed since the last time.
    fn publish_due(&mut self, connection: &Connection) -> Result<(), LspError> {
        for uri in std::mem::take(&mut self.due) {
            let checked = self.with_source(&uri, |src| {
                let checked = if is_env(src.path) {
                    document::Checked {
                        diagnostics: document::env_diagnostics(src),
                        reads: Vec::new(),
                    }
                } else {
                    diagnostics(src)
                };
                (checked, src.entry == src.path && !is_env(src.path))
            });
            let Some((checked, root)) = checked else {
                continue;
            };
            if let Some(doc) = self.open.get_mut(&uri) {
                doc.root = root;
                let before = std::mem::replace(&mut doc.reads, checked.reads);
                // An open document it now includes is now checked as part of it.
                let now_read: Vec<PathBuf> = doc
                    .reads
                    .iter()
                    .filter(|r| root && !before.contains(r))
                    .cloned()
                    .collect();
                self.due.extend(
                    self.open
                        .keys()
                        .filter(|u| *u != &uri)
                        .filter(|u| u.to_file_path().is_ok_and(|p| now_read.contains(&p)))
                        .cloned(),
                );
            }
            let message = publish(uri, checked.diagnostics);
            send(connection, Message::Notification(message))?;
        }
        Ok(())
    }

    /// Runs `f` on the open document `uri` as the checks read it: its path, its unsaved
    /// text, the other open documents and its parse cache.
    fn with_source<R>(&self, uri: &Url, f: impl FnOnce(&document::Source<'_>) -> R) -> Option<R> {
        let doc = self.open.get(uri)?;
        let path = uri.to_file_path().ok()?;
        let others = self.others(uri);
        let entry = self.entry_of(&path, doc);
        Some(f(&document::Source {
            path: &path,
            text: &doc.text,
            entry: &entry,
            open: &others,
            cache: Some(&doc.parses),
        }))
    }

    /// The stack file the document at `path` is part of: an open document whose last check
    /// read it (it includes it), else the one found on the disk when it was opened, else
    /// the document itself.
    fn entry_of(&self, path: &Path, doc: &Doc) -> PathBuf {
        self.open
            .iter()
            .filter_map(|(u, d)| Some((u.to_file_path().ok()?, d)))
            .filter(|(p, d)| p != path && d.root && d.reads.iter().any(|r| r == path))
            .map(|(p, _)| p)
            .min()
            .or_else(|| doc.entry.clone())
            .unwrap_or_else(|| path.to_path_buf())
    }

    /// The `stack.kdl` in the folder of `path` or above that includes it (directly or not),
    /// read as the editor has the files; `None` when `path` is one or none includes it.
    fn disk_entry(&self, path: &Path, text: &str) -> Option<PathBuf> {
        let open: HashMap<PathBuf, &str> = self
            .open
            .iter()
            .filter_map(|(u, d)| Some((u.to_file_path().ok()?, d.text.as_str())))
            .collect();
        for dir in path.ancestors().skip(1).take(ENTRY_LEVELS) {
            let candidate = dir.join("stack.kdl");
            if candidate == path {
                return None;
            }
            let files = document::Source {
                path,
                text,
                entry: &candidate,
                open: &open,
                cache: None,
            };
            let includes = Index::build(&candidate, &files)
                .is_some_and(|ix| ix.files.iter().any(|(p, _)| p == path));
            if includes {
                return Some(candidate);
            }
            if dir.join(".git").exists() {
                break;
            }
        }
        None
    }

    /// Makes due the diagnostics of every open document whose last check read `path`, and
    /// stale its index (the names `path` declares may have changed).
    fn readers_due(&mut self, path: &Path) {
        let Server { open, due, .. } = self;
        for (uri, doc) in open.iter_mut() {
            if doc.reads.iter().any(|r| r == path) {
                due.insert(uri.clone());
                doc.fresh = false;
            }
        }
    }

    /// The other open documents, by path.
    fn others(&self, uri: &Url) -> HashMap<PathBuf, &str> {
        self.open
            .iter()
            .filter(|(u, _)| *u != uri)
            .filter_map(|(u, d)| u.to_file_path().ok().map(|p| (p, d.text.as_str())))
            .collect()
    }

    /// Builds the document's index from its text if it is stale and the text parses.
    fn refresh(&mut self, uri: &Url) {
        if self.open.get(uri).is_none_or(|d| d.fresh) {
            return;
        }
        // A file another includes is indexed with the whole stack (the names it uses are
        // declared there), once its own text parses.
        let built = self
            .with_source(uri, |src| {
                if src.entry != src.path {
                    src.parse(src.path, src.text)?;
                }
                Index::build(src.entry, src)
            })
            .flatten();
        if let Some(doc) = self.open.get_mut(uri) {
            if built.is_some() {
                doc.index = built;
            }
            doc.fresh = true;
        }
    }

    fn request(&mut self, req: Request) -> Response {
        let id = req.id.clone();
        let method = req.method.clone();
        // Only the requests that read what the stack declares need the index (semantic tokens
        // and folding come after every change, and need the text alone).
        let uses_index = [
            Completion::METHOD,
            HoverRequest::METHOD,
            GotoDefinition::METHOD,
            References::METHOD,
            PrepareRenameRequest::METHOD,
            Rename::METHOD,
        ]
        .contains(&method.as_str());
        let document = document_of(&req.params);
        // A `.env` document has diagnostics only: the other features are the stack files'.
        if document
            .as_ref()
            .is_some_and(|u| u.to_file_path().is_ok_and(|p| is_env(&p)))
        {
            return Response::new_ok(id, Value::Null);
        }
        if let Some(uri) = document.filter(|_| uses_index) {
            self.refresh(&uri);
        }
        let result = match method.as_str() {
            Formatting::METHOD => self.answer(req, |s, p: lsp_types::DocumentFormattingParams| {
                Ok(s.formatting(&p.text_document.uri))
            }),
            DocumentSymbolRequest::METHOD => {
                self.answer(req, |s, p: lsp_types::DocumentSymbolParams| {
                    Ok(DocumentSymbolResponse::Nested(symbols(
                        s.text(&p.text_document.uri),
                    )))
                })
            }
            Completion::METHOD => self.answer(req, |s, p: lsp_types::CompletionParams| {
                let at = &p.text_document_position;
                Ok(s.completion(&at.text_document.uri, at.position))
            }),
            HoverRequest::METHOD => self.answer(req, |s, p: lsp_types::HoverParams| {
                let at = &p.text_document_position_params;
                Ok(s.hover(&at.text_document.uri, at.position))
            }),
            GotoDefinition::METHOD => self.answer(req, |s, p: lsp_types::GotoDefinitionParams| {
                let at = &p.text_document_position_params;
                Ok(s.at(&at.text_document.uri, at.position, |ix, path, o| {
                    lsp_types::GotoDefinitionResponse::Array(navigate::definition(ix, path, o))
                }))
            }),
            References::METHOD => self.answer(req, |s, p: lsp_types::ReferenceParams| {
                let at = &p.text_document_position;
                let declarations = p.context.include_declaration;
                Ok(s.at(&at.text_document.uri, at.position, |ix, path, o| {
                    navigate::references(ix, path, o, declarations)
                }))
            }),
            PrepareRenameRequest::METHOD => {
                self.answer(req, |s, p: lsp_types::TextDocumentPositionParams| {
                    Ok(
                        s.at(&p.text_document.uri, p.position, navigate::prepare_rename)
                            .flatten(),
                    )
                })
            }
            Rename::METHOD => self.answer(req, |s, p: lsp_types::RenameParams| {
                if let Some(problem) = navigate::name_problem(&p.new_name) {
                    return Err(problem);
                }
                let at = &p.text_document_position;
                Ok(s.at(&at.text_document.uri, at.position, |ix, path, o| {
                    navigate::rename(ix, path, o, &p.new_name)
                })
                .flatten())
            }),
            CodeActionRequest::METHOD => self.answer(req, |s, p: lsp_types::CodeActionParams| {
                let uri = &p.text_document.uri;
                Ok(actions::quick_fixes(
                    uri,
                    s.text(uri),
                    &p.context.diagnostics,
                ))
            }),
            FoldingRangeRequest::METHOD => self
                .answer(req, |s, p: lsp_types::FoldingRangeParams| {
                    Ok(folding(s.text(&p.text_document.uri)))
                }),
            SemanticTokensFullRequest::METHOD => {
                self.answer(req, |s, p: lsp_types::SemanticTokensParams| {
                    Ok(lsp_types::SemanticTokensResult::Tokens(
                        lsp_types::SemanticTokens {
                            result_id: None,
                            data: semantic::encode(s.text(&p.text_document.uri)),
                        },
                    ))
                })
            }
            other => return not_supported(id, other),
        };
        match result {
            Ok(value) => Response::new_ok(id, value),
            Err(message) => Response::new_err(id, ErrorCode::InvalidParams as i32, message),
        }
    }

    /// The text of an open document; empty for one that is not open.
    fn text(&self, uri: &Url) -> &str {
        self.open.get(uri).map_or("", |d| d.text.as_str())
    }

    /// Decodes a request's parameters and encodes what `f` answers.
    fn answer<P: serde::de::DeserializeOwned, R: serde::Serialize>(
        &self,
        req: Request,
        f: impl FnOnce(&Self, P) -> Result<R, String>,
    ) -> Result<Value, String> {
        let params: P = serde_json::from_value(req.params).map_err(|e| e.to_string())?;
        let result = f(self, params)?;
        serde_json::to_value(result).map_err(|e| e.to_string())
    }

    /// Runs `f` on the document's index with the file and the byte offset of `pos`.
    fn at<R>(
        &self,
        uri: &Url,
        pos: lsp_types::Position,
        f: impl FnOnce(&Index, &std::path::Path, usize) -> R,
    ) -> Option<R> {
        let doc = self.open.get(uri)?;
        let path = uri.to_file_path().ok()?;
        Some(f(doc.index.as_ref()?, &path, offset(&doc.text, pos)))
    }

    fn completion(&self, uri: &Url, pos: lsp_types::Position) -> Vec<lsp_types::CompletionItem> {
        let Some(doc) = self.open.get(uri) else {
            return Vec::new();
        };
        let vars = || self.with_source(uri, variables::of).unwrap_or_default();
        complete::completions(&doc.text, offset(&doc.text, pos), doc.index.as_ref(), &vars)
    }

    fn hover(&self, uri: &Url, pos: lsp_types::Position) -> Option<lsp_types::Hover> {
        let doc = self.open.get(uri)?;
        let path = uri.to_file_path().ok()?;
        let vars = self.with_source(uri, variables::of).unwrap_or_default();
        let at = offset(&doc.text, pos);
        let (shown, field) = hover::hover(&doc.text, &path, at, doc.index.as_ref(), &vars)?;
        let mut markdown = shown.markdown;
        if let (Some(field), Some(index)) = (field, doc.index.as_ref()) {
            let profiles = index.names(stackr_spec::schema::RefKind::Profile);
            if !profiles.is_empty() {
                let values = self
                    .with_source(uri, |src| {
                        document::effective(src, &profiles, &field.service, &field.field)
                    })
                    .unwrap_or_default();
                if let Some(after) = hover::after_profiles(&values) {
                    markdown = format!("{after}\n\n---\n\n{markdown}");
                }
            }
        }
        Some(lsp_types::Hover {
            contents: lsp_types::HoverContents::Markup(lsp_types::MarkupContent {
                kind: lsp_types::MarkupKind::Markdown,
                value: markdown,
            }),
            range: Some(navigate::range(&doc.text, &shown.range)),
        })
    }

    /// The whole document in `stackr fmt`'s layout, as one edit; none when it is laid out
    /// so already, or is not valid KDL (its diagnostics say why).
    fn formatting(&self, uri: &Url) -> Vec<TextEdit> {
        let text = self.text(uri);
        match stackr_spec::format::format(text) {
            Some(formatted) if formatted != *text => vec![TextEdit {
                range: lsp_types::Range {
                    start: lsp_types::Position::new(0, 0),
                    end: position(text, text.len()),
                },
                new_text: formatted,
            }],
            _ => Vec::new(),
        }
    }

    /// Takes a notification in; returns what to send at once (the cleared diagnostics of a
    /// closed document). A change makes the diagnostics of the
    /// document, and of the open documents that read it, due.
    fn notification(&mut self, n: Notification) -> Option<Message> {
        match n.method.as_str() {
            DidChangeWatchedFiles::METHOD => {
                // A file changed on the disk (a checkout, another program): every open stack
                // file is checked again (an include that did not exist may now), and which
                // stack file includes it is looked for again.
                let stacks: Vec<(Url, PathBuf)> = self
                    .open
                    .keys()
                    .filter_map(|u| Some((u.clone(), u.to_file_path().ok()?)))
                    .filter(|(_, p)| !is_env(p))
                    .collect();
                for (uri, path) in stacks {
                    let text = self.text(&uri).to_string();
                    let entry = self.disk_entry(&path, &text);
                    if let Some(doc) = self.open.get_mut(&uri) {
                        doc.entry = entry;
                        doc.fresh = false;
                    }
                    self.due.insert(uri);
                }
            }
            DidOpenTextDocument::METHOD => {
                let p: lsp_types::DidOpenTextDocumentParams =
                    serde_json::from_value(n.params).ok()?;
                self.changed(p.text_document.uri, p.text_document.text);
            }
            DidChangeTextDocument::METHOD => {
                let p: lsp_types::DidChangeTextDocumentParams =
                    serde_json::from_value(n.params).ok()?;
                // Full sync: the last change is the whole text.
                let text = p.content_changes.into_iter().last()?.text;
                self.changed(p.text_document.uri, text);
            }
            DidCloseTextDocument::METHOD => {
                let p: lsp_types::DidCloseTextDocumentParams =
                    serde_json::from_value(n.params).ok()?;
                let uri = p.text_document.uri;
                self.open.remove(&uri);
                self.due.remove(&uri);
                // What read it now reads the disk.
                if let Ok(path) = uri.to_file_path() {
                    self.readers_due(&path);
                }
                return Some(Message::Notification(publish(uri, Vec::new())));
            }
            _ => {}
        }
        None
    }

    fn changed(&mut self, uri: Url, text: String) {
        let path = uri.to_file_path().ok();
        let (entry, index, parses, reads, root) = match self.open.remove(&uri) {
            Some(d) => (d.entry, d.index, d.parses, d.reads, d.root),
            // Newly opened: which stack file on the disk includes it.
            None => (
                path.as_ref()
                    .filter(|p| !is_env(p))
                    .and_then(|p| self.disk_entry(p, &text)),
                None,
                Default::default(),
                Vec::new(),
                false,
            ),
        };
        self.open.insert(
            uri.clone(),
            Doc {
                text,
                entry,
                parses,
                index,
                fresh: false,
                reads,
                root,
            },
        );
        if let Some(path) = path {
            self.readers_due(&path);
        }
        // The index is built when a request needs it: typing costs one parse, for the
        // diagnostics.
        self.due.insert(uri);
    }
}

/// Whether `path` is an env file (`.env`) rather than a stack file.
fn is_env(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == ".env")
}

/// The request that asks the client to watch the stack files and env files on the disk.
fn watch_request() -> Request {
    let watchers = ["**/*.kdl", "**/.env"]
        .into_iter()
        .map(|glob| lsp_types::FileSystemWatcher {
            glob_pattern: lsp_types::GlobPattern::String(glob.into()),
            kind: None,
        })
        .collect();
    let options = lsp_types::DidChangeWatchedFilesRegistrationOptions { watchers };
    Request::new(
        RequestId::from("stackr-watch-files".to_string()),
        RegisterCapability::METHOD.to_string(),
        lsp_types::RegistrationParams {
            registrations: vec![lsp_types::Registration {
                id: "stackr-watch-files".into(),
                method: DidChangeWatchedFiles::METHOD.into(),
                register_options: serde_json::to_value(options).ok(),
            }],
        },
    )
}

/// The document a request is about, from its parameters.
fn document_of(params: &Value) -> Option<Url> {
    let uri = params.get("textDocument")?.get("uri")?.as_str()?;
    Url::parse(uri).ok()
}

fn folding(text: &str) -> Vec<FoldingRange> {
    cursor::blocks(text)
        .into_iter()
        .filter_map(|(open, close)| {
            let start = position(text, open).line;
            let end = position(text, close).line;
            (end > start).then(|| FoldingRange {
                start_line: start,
                end_line: end.saturating_sub(1).max(start),
                ..FoldingRange::default()
            })
        })
        .collect()
}

fn send(connection: &Connection, message: Message) -> Result<(), LspError> {
    connection.sender.send(message).map_err(fail)
}

fn publish(uri: Url, diagnostics: Vec<lsp_types::Diagnostic>) -> Notification {
    Notification::new(
        PublishDiagnostics::METHOD.to_string(),
        PublishDiagnosticsParams {
            uri,
            diagnostics,
            version: None,
        },
    )
}

fn not_supported(id: RequestId, method: &str) -> Response {
    Response::new_err(
        id,
        ErrorCode::MethodNotFound as i32,
        format!("stackr lsp does not answer `{method}`"),
    )
}
