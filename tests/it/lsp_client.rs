//! A language client over stdio for `stackr lsp`: Content-Length framing, requests,
//! notifications, and waiting for a message. Shared by the protocol tests and the
//! benchmark (`benches/lsp.rs` includes this file).

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

pub struct Server {
    /// The `stackr lsp` process.
    pub child: Child,
    stdin: ChildStdin,
    messages: mpsc::Receiver<Value>,
    patience: Duration,
}

impl Server {
    /// Starts `stackr lsp` in `dir`; answers are awaited `patience` at most.
    pub fn start(dir: &std::path::Path, patience: Duration) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_stackr"))
            .arg("lsp")
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start stackr lsp: {e}"));
        let stdin = child.stdin.take().unwrap_or_else(|| panic!("no stdin"));
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let (tx, messages) = mpsc::channel();
        std::thread::spawn(move || read_messages(stdout, &tx));
        Server {
            child,
            stdin,
            messages,
            patience,
        }
    }

    pub fn send(&mut self, message: Value) {
        let body = message.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len())
            .unwrap_or_else(|e| panic!("{e}"));
        self.stdin.flush().unwrap_or_else(|e| panic!("{e}"));
    }

    pub fn request(&mut self, id: i64, method: &str, params: Value) -> Value {
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        self.wait(|m| m["id"] == id)
    }

    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// `initialize` with the client's `capabilities` (its answer), then `initialized`.
    pub fn initialize(&mut self, capabilities: Value) -> Value {
        let answer = self.request(
            0,
            "initialize",
            json!({"processId": null, "capabilities": capabilities}),
        );
        self.notify("initialized", json!({}));
        answer
    }

    /// `textDocument/didOpen` of `uri` with `text`.
    pub fn open(&mut self, uri: &str, text: &str) {
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": "kdl", "version": 1, "text": text}}),
        );
    }

    /// `textDocument/didChange` of `uri`: its whole `text`, at `version`.
    pub fn change(&mut self, uri: &str, version: i64, text: &str) {
        self.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]}),
        );
    }

    /// The next message that `pick` takes.
    pub fn wait(&self, pick: impl Fn(&Value) -> bool) -> Value {
        loop {
            let m = self
                .messages
                .recv_timeout(self.patience)
                .unwrap_or_else(|e| panic!("no answer from stackr lsp: {e}"));
            if pick(&m) {
                return m;
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_messages(stdout: ChildStdout, tx: &mpsc::Sender<Value>) {
    let mut r = BufReader::new(stdout);
    loop {
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(n) = line.strip_prefix("Content-Length: ") {
                length = n.parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        if let Ok(v) = serde_json::from_slice(&body)
            && tx.send(v).is_err()
        {
            return;
        }
    }
}
