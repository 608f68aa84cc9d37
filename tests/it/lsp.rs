//! `stackr lsp` over stdio, as an editor drives it: initialize, open a file with a typo on a
//! line with non-ASCII text, the diagnostic at the right UTF-16 column with its code and
//! help, a change that fixes it clears it, formatting, symbols, shutdown and exit.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::cli::temp_dir;

struct Server {
    child: Child,
    stdin: ChildStdin,
    messages: mpsc::Receiver<Value>,
}

impl Server {
    fn start(dir: &std::path::Path) -> Server {
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
        }
    }

    fn send(&mut self, message: Value) {
        let body = message.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len())
            .unwrap_or_else(|e| panic!("{e}"));
        self.stdin.flush().unwrap_or_else(|e| panic!("{e}"));
    }

    fn request(&mut self, id: i64, method: &str, params: Value) -> Value {
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        self.wait(|m| m["id"] == id)
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// The next message that `pick` takes, within 20 seconds.
    fn wait(&self, pick: impl Fn(&Value) -> bool) -> Value {
        loop {
            let m = self
                .messages
                .recv_timeout(Duration::from_secs(20))
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

#[test]
fn the_language_server_reports_formats_and_outlines_a_stack_file() {
    let dir = temp_dir("lsp");
    let path = dir.join("stack.kdl");
    let uri = format!("file://{}", path.display());
    // The typo sits after text of one, two and four bytes per character.
    let text = "stack \"shop\"\nnetwork \"frontend\"\nservice \"web\" {\n  image \"nginx\"\n    labels { note \"é😀\" }; networks \"frontnd\"\n}\n";
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    let mut s = Server::start(&dir);
    let init = s.request(
        1,
        "initialize",
        json!({"processId": null, "rootUri": format!("file://{}", dir.display()), "capabilities": {}}),
    );
    assert_eq!(
        init["result"]["capabilities"]["documentFormattingProvider"],
        true
    );
    s.notify("initialized", json!({}));
    s.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "kdl", "version": 1, "text": text}}),
    );
    let published = s.wait(|m| m["method"] == "textDocument/publishDiagnostics");
    let diags = published["params"]["diagnostics"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let typo = diags
        .iter()
        .find(|d| d["code"] == "stackr::unknown-reference")
        .unwrap_or_else(|| panic!("no unknown-reference in {diags:#?}"));
    let line = text.lines().nth(4).unwrap_or("");
    let column: usize = line[..line.find("\"frontnd\"").unwrap_or(0)]
        .chars()
        .map(char::len_utf16)
        .sum();
    assert_eq!(
        typo["range"]["start"],
        json!({"line": 4, "character": column})
    );
    assert_eq!(
        typo["range"]["end"],
        json!({"line": 4, "character": column + "\"frontnd\"".len()})
    );
    let message = typo["message"].as_str().unwrap_or("");
    assert!(message.contains("did you mean `frontend`?"), "{message}");
    assert_eq!(typo["severity"], 1);
    // The fix, unsaved: the diagnostic goes.
    let fixed = text.replace("frontnd", "frontend");
    s.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": fixed}]}),
    );
    let published = s.wait(|m| m["method"] == "textDocument/publishDiagnostics");
    assert_eq!(published["params"]["diagnostics"], json!([]), "{published}");
    // Formatting: one edit, the file as `stackr fmt` lays it out.
    let edits = s.request(
        2,
        "textDocument/formatting",
        json!({"textDocument": {"uri": uri}, "options": {"tabSize": 4, "insertSpaces": true}}),
    );
    let new_text = edits["result"][0]["newText"].as_str().unwrap_or("");
    assert_eq!(
        Some(new_text.to_string()),
        stackr_spec::format::format(&fixed)
    );
    assert!(new_text.contains("\n    image \"nginx\"\n"), "{new_text}");
    // Symbols: the network and the service.
    let symbols = s.request(
        3,
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": uri}}),
    );
    let names: Vec<&str> = symbols["result"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["frontend", "web"]);
    let shutdown = s.request(4, "shutdown", json!(null));
    assert_eq!(shutdown["result"], Value::Null);
    s.notify("exit", json!(null));
    let status = s.child.wait().unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success(), "{status}");
    let _ = std::fs::remove_dir_all(&dir);
}
