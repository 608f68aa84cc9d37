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
use std::path::PathBuf;
use std::time::Duration;

use crossbeam_channel::RecvTimeoutError;
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, RequestId, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, Notification as _,
    PublishDiagnostics,
};
use lsp_types::request::{
    CodeActionRequest, Completion, DocumentSymbolRequest, FoldingRangeRequest, Formatting,
    GotoDefinition, HoverRequest, PrepareRenameRequest, References, Rename, Request as _,
    SemanticTokensFullRequest,
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
use index::Index;

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
    let _params: InitializeParams = serde_json::from_value(params).map_err(fail)?;
    let mut server = Server::default();
    server.serve(&connection)?;
    drop(connection);
    threads.join().map_err(fail)
}

/// An open document.
struct Doc {
    text: String,
    /// Its parses, by top-level node: a change parses only the nodes it touched.
    parses: std::cell::RefCell<stackr_spec::incremental::ParseCache>,
    /// What the stack declares, from the last text that parsed: completion and navigation
    /// go on working while the user is in the middle of a change.
    index: Option<Index>,
    /// The index was built from `text` (or `text` does not parse, and it is the last good).
    fresh: bool,
}

/// The open documents, by URI, and those whose diagnostics are due.
#[derive(Default)]
struct Server {
    open: HashMap<Url, Doc>,
    due: HashSet<Url>,
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
                    if let Some(closed) = self.notification(n) {
                        send(connection, Message::Notification(closed))?;
                    }
                }
                Message::Response(_) => {}
            }
        }
    }

    /// Publishes the diagnostics of every document changed since the last time.
    fn publish_due(&mut self, connection: &Connection) -> Result<(), LspError> {
        for uri in std::mem::take(&mut self.due) {
            let Some(doc) = self.open.get(&uri) else {
                continue;
            };
            let Ok(path) = uri.to_file_path() else {
                continue;
            };
            let others = self.others(&uri);
            let list = diagnostics(&document::Source {
                path: &path,
                text: &doc.text,
                open: &others,
                cache: Some(&doc.parses),
            });
            send(connection, Message::Notification(publish(uri, list)))?;
        }
        Ok(())
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
        let Some(doc) = self.open.get(uri) else {
            return;
        };
        if doc.fresh {
            return;
        }
        let Ok(path) = uri.to_file_path() else { return };
        let others = self.others(uri);
        let built = Index::build(
            &path,
            &|file| document::read_text(file, &path, &doc.text, &others),
            &|text| document::parse_with(&doc.parses, text).ok(),
        );
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
        if let Some(uri) = document_of(&req.params).filter(|_| uses_index) {
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
        let vars = || {
            uri.to_file_path()
                .map(|p| variables::of(&p))
                .unwrap_or_default()
        };
        complete::completions(&doc.text, offset(&doc.text, pos), doc.index.as_ref(), &vars)
    }

    fn hover(&self, uri: &Url, pos: lsp_types::Position) -> Option<lsp_types::Hover> {
        let doc = self.open.get(uri)?;
        let path = uri.to_file_path().ok()?;
        let vars = variables::of(&path);
        let at = offset(&doc.text, pos);
        let (shown, field) = hover::hover(&doc.text, &path, at, doc.index.as_ref(), &vars)?;
        let mut markdown = shown.markdown;
        if let (Some(field), Some(index)) = (field, doc.index.as_ref()) {
            let profiles = index.names(stackr_spec::schema::RefKind::Profile);
            if !profiles.is_empty() {
                let others = self.others(uri);
                let src = document::Source {
                    path: &path,
                    text: &doc.text,
                    open: &others,
                    cache: Some(&doc.parses),
                };
                let values = document::effective(&src, &profiles, &field.service, &field.field);
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
    /// closed document). A change makes the document's diagnostics due.
    fn notification(&mut self, n: Notification) -> Option<Notification> {
        match n.method.as_str() {
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
                self.open.remove(&p.text_document.uri);
                self.due.remove(&p.text_document.uri);
                return Some(publish(p.text_document.uri, Vec::new()));
            }
            _ => {}
        }
        None
    }

    fn changed(&mut self, uri: Url, text: String) {
        let (index, parses) = match self.open.remove(&uri) {
            Some(d) => (d.index, d.parses),
            None => Default::default(),
        };
        self.open.insert(
            uri.clone(),
            Doc {
                text,
                parses,
                index,
                fresh: false,
            },
        );
        // The index is built when a request needs it: typing costs one parse, for the
        // diagnostics.
        self.due.insert(uri);
    }
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
