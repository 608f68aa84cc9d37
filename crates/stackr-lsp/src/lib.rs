//! `stackr lsp`: a language server for stack files over stdio.
//!
//! It offers what `stackr check` knows as the user types: every problem of the open file
//! (the base and every profile, the machine's paths included) as diagnostics with their code,
//! over the unsaved text; formatting (`stackr fmt`'s layout); and the document's symbols
//! (services, networks, volumes, secrets, configs, profiles).
//!
//! It is built on `lsp-server` and `lsp-types`, rust-analyzer's own: a synchronous loop over
//! a crossbeam channel, no async runtime, which is all a server that answers from memory in
//! milliseconds needs (see ARCHITECTURE.md). Positions are UTF-16, as LSP requires.

mod document;

use std::collections::HashMap;
use std::path::PathBuf;

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, RequestId, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, Notification as _,
    PublishDiagnostics,
};
use lsp_types::request::{DocumentSymbolRequest, Formatting, Request as _};
use lsp_types::{
    DocumentSymbolResponse, InitializeParams, OneOf, PublishDiagnosticsParams, ServerCapabilities,
    TextDocumentSyncCapability, TextDocumentSyncKind, TextEdit, Url,
};

pub use document::{diagnostics, position, symbols};

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

/// Serves the client on stdin and stdout until it says `exit`.
pub fn run_stdio() -> Result<(), LspError> {
    let (connection, threads) = Connection::stdio();
    let capabilities = ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        document_formatting_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        ..ServerCapabilities::default()
    };
    let capabilities = serde_json::to_value(capabilities).map_err(fail)?;
    let params = connection.initialize(capabilities).map_err(fail)?;
    let _params: InitializeParams = serde_json::from_value(params).map_err(fail)?;
    let mut server = Server::default();
    server.serve(&connection)?;
    drop(connection);
    threads.join().map_err(fail)
}

/// The open documents, by URI.
#[derive(Default)]
struct Server {
    open: HashMap<Url, String>,
}

impl Server {
    fn serve(&mut self, connection: &Connection) -> Result<(), LspError> {
        for message in &connection.receiver {
            match message {
                Message::Request(req) => {
                    if connection.handle_shutdown(&req).map_err(fail)? {
                        return Ok(());
                    }
                    let response = self.request(req);
                    connection
                        .sender
                        .send(Message::Response(response))
                        .map_err(fail)?;
                }
                Message::Notification(n) => {
                    for out in self.notification(n) {
                        connection
                            .sender
                            .send(Message::Notification(out))
                            .map_err(fail)?;
                    }
                }
                Message::Response(_) => {}
            }
        }
        Ok(())
    }

    fn request(&self, req: Request) -> Response {
        let id = req.id.clone();
        let result = match req.method.as_str() {
            Formatting::METHOD => {
                serde_json::from_value::<lsp_types::DocumentFormattingParams>(req.params)
                    .map_err(|e| e.to_string())
                    .map(|p| self.formatting(&p.text_document.uri))
                    .and_then(|edits| serde_json::to_value(edits).map_err(|e| e.to_string()))
            }
            DocumentSymbolRequest::METHOD => {
                serde_json::from_value::<lsp_types::DocumentSymbolParams>(req.params)
                    .map_err(|e| e.to_string())
                    .map(|p| {
                        let text = self.open.get(&p.text_document.uri);
                        DocumentSymbolResponse::Nested(text.map(|t| symbols(t)).unwrap_or_default())
                    })
                    .and_then(|s| serde_json::to_value(s).map_err(|e| e.to_string()))
            }
            other => return not_supported(id, other),
        };
        match result {
            Ok(value) => Response::new_ok(id, value),
            Err(message) => Response::new_err(id, ErrorCode::InvalidParams as i32, message),
        }
    }

    /// The whole document in `stackr fmt`'s layout, as one edit; none when it is laid out
    /// so already, or is not valid KDL (its diagnostics say why).
    fn formatting(&self, uri: &Url) -> Vec<TextEdit> {
        let Some(text) = self.open.get(uri) else {
            return Vec::new();
        };
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

    fn notification(&mut self, n: Notification) -> Vec<Notification> {
        let uri = match n.method.as_str() {
            DidOpenTextDocument::METHOD => {
                let Ok(p) =
                    serde_json::from_value::<lsp_types::DidOpenTextDocumentParams>(n.params)
                else {
                    return Vec::new();
                };
                self.open
                    .insert(p.text_document.uri.clone(), p.text_document.text);
                p.text_document.uri
            }
            DidChangeTextDocument::METHOD => {
                let Ok(p) =
                    serde_json::from_value::<lsp_types::DidChangeTextDocumentParams>(n.params)
                else {
                    return Vec::new();
                };
                // Full sync: the last change is the whole text.
                if let Some(change) = p.content_changes.into_iter().last() {
                    self.open.insert(p.text_document.uri.clone(), change.text);
                }
                p.text_document.uri
            }
            DidCloseTextDocument::METHOD => {
                let Ok(p) =
                    serde_json::from_value::<lsp_types::DidCloseTextDocumentParams>(n.params)
                else {
                    return Vec::new();
                };
                self.open.remove(&p.text_document.uri);
                return vec![publish(p.text_document.uri, Vec::new())];
            }
            _ => return Vec::new(),
        };
        let Some(text) = self.open.get(&uri) else {
            return Vec::new();
        };
        let Ok(path) = uri.to_file_path() else {
            return Vec::new();
        };
        // The other open documents, by path (the diagnosed one is read from `text`).
        let others: HashMap<PathBuf, &str> = self
            .open
            .iter()
            .filter(|(u, _)| **u != uri)
            .filter_map(|(u, t)| u.to_file_path().ok().map(|p| (p, t.as_str())))
            .collect();
        vec![publish(uri.clone(), diagnostics(&path, text, &others))]
    }
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
