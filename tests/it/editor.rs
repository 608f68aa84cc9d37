//! `stackr lsp` in real editors: Debian's Neovim (0.7.2, headless) and Emacs (28.2 in batch
//! mode, with Debian's eglot 1.9), each configured with the book's own snippet (taken from
//! `book/src/editors.md`, so the book's set-up is what is tried). Each opens a stack file
//! with a typo, waits for the diagnostic, applies the server's code action, saves, and waits
//! for the diagnostics to clear.

use std::process::Command;

use crate::cli::temp_dir;
use crate::support::root;

/// The book's block fenced ```` ```INFO ````.
fn book_snippet(info: &str) -> String {
    let chapter = std::fs::read_to_string(root().join("book/src/editors.md"))
        .unwrap_or_else(|e| panic!("{e}"));
    let fence = format!("```{info}\n");
    let start = chapter
        .find(&fence)
        .unwrap_or_else(|| panic!("editors.md has no {fence} block"))
        + fence.len();
    let len = chapter[start..].find("```").unwrap_or(0);
    chapter[start..start + len].to_string()
}

/// The stack file with its typo, and as the fix leaves it.
const TYPO: &str = "stack \"shop\"\nservice \"web\" {\n    imag \"nginx\"\n}\n";
const FIXED: &str = "stack \"shop\"\nservice \"web\" {\n    image \"nginx\"\n}\n";

/// Runs `editor` (which must be installed: `.ci/run` installs it) in a folder of its own with
/// `files` written there and `stackr` on the PATH; checks that it succeeds and leaves the
/// stack file fixed.
fn run_editor(editor: &str, args: &[&str], files: &[(&str, &str)]) {
    let found = Command::new(editor).arg("--version").output();
    let version = found.unwrap_or_else(|e| {
        panic!("this test needs {editor} (.ci/run installs it from Debian's packages): {e}")
    });
    assert!(version.status.success(), "{editor} --version failed");
    let dir = temp_dir(editor);
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap_or_else(|e| panic!("{e}"));
    }
    let file = dir.join("stack.kdl");
    std::fs::write(&file, TYPO).unwrap_or_else(|e| panic!("{e}"));
    // A project for editors that want one.
    let git = Command::new("git")
        .args(["init", "-q"])
        .current_dir(&dir)
        .status();
    assert!(git.is_ok_and(|s| s.success()), "git init failed");
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_stackr"))
        .parent()
        .unwrap_or_else(|| panic!("no bin dir"))
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // The editor's state stays in the test's folder.
    let out = Command::new(editor)
        .args(args)
        .current_dir(&dir)
        .env("PATH", path)
        .env("HOME", &dir)
        .env("XDG_STATE_HOME", dir.join("state"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {editor}: {e}"));
    let saved = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        out.status.success(),
        "{editor} exited with {}: {}{}\nfile now:\n{saved}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(saved, FIXED);
    let _ = std::fs::remove_dir_all(&dir);
}

/// What Neovim does once the file is open; exits with a code of its own at each failure.
const NVIM_DRIVER: &str = r#"
local function fail(code, what)
  io.stderr:write('editor test: ' .. what .. '\n')
  vim.cmd('cquit ' .. code)
end
if not vim.wait(20000, function() return #vim.diagnostic.get(0) > 0 end, 50) then
  fail(2, 'no diagnostic arrived')
end
local d = vim.diagnostic.get(0)[1]
if d.code ~= 'stackr::unknown-node' then fail(3, 'unexpected diagnostic ' .. tostring(d.code)) end
vim.api.nvim_win_set_cursor(0, { d.lnum + 1, d.col })
local params = vim.lsp.util.make_range_params()
params.context = { diagnostics = vim.lsp.diagnostic.get_line_diagnostics(0) }
local results = vim.lsp.buf_request_sync(0, 'textDocument/codeAction', params, 10000) or {}
local applied = false
for _, res in pairs(results) do
  for _, action in ipairs(res.result or {}) do
    if not applied and action.edit then
      vim.lsp.util.apply_workspace_edit(action.edit, 'utf-16')
      applied = true
    end
  end
end
if not applied then fail(4, 'no code action') end
vim.cmd('write')
if not vim.wait(20000, function() return #vim.diagnostic.get(0) == 0 end, 50) then
  fail(5, 'the diagnostic stayed after the fix')
end
vim.cmd('qall!')
"#;

#[test]
fn neovim_shows_the_diagnostic_and_applies_the_fix() {
    let init = book_snippet("lua,nvim-0.7");
    run_editor(
        "nvim",
        &[
            "--headless",
            "-n",
            "-i",
            "NONE",
            "-u",
            "init.lua",
            "stack.kdl",
            "-c",
            "luafile driver.lua",
        ],
        &[("init.lua", &init), ("driver.lua", NVIM_DRIVER)],
    );
}

/// What Emacs does once the book's set-up is loaded; exits with a code of its own at each
/// failure.
const EMACS_DRIVER: &str = r#"
(defun editor-test-fail (code what)
  (message "editor test: %s" what)
  (kill-emacs code))
(defun editor-test-wait (pred)
  (let ((n 0))
    (while (and (not (funcall pred)) (< n 200))
      (accept-process-output nil 0.1)
      (setq n (1+ n)))
    (funcall pred)))
(package-initialize)
(require 'eglot)
(find-file (expand-file-name "stack.kdl"))
(unless (eq major-mode 'kdl-mode) (editor-test-fail 6 "not in kdl-mode"))
(call-interactively #'eglot)
(unless (editor-test-wait (lambda () (flymake-diagnostics)))
  (editor-test-fail 2 "no diagnostic arrived"))
(let ((code (flymake-diagnostic-text (car (flymake-diagnostics)))))
  (unless (string-match-p "unknown node `imag`" code)
    (editor-test-fail 3 (format "unexpected diagnostic %s" code))))
(let ((actions (eglot-code-actions (point-min) (point-max))))
  (unless actions (editor-test-fail 4 "no code action"))
  (eglot--apply-workspace-edit (plist-get (car actions) :edit)))
(save-buffer)
(unless (editor-test-wait (lambda () (null (flymake-diagnostics))))
  (editor-test-fail 5 "the diagnostic stayed after the fix"))
(kill-emacs 0)
"#;

#[test]
fn emacs_eglot_shows_the_diagnostic_and_applies_the_fix() {
    let init = book_snippet("elisp,emacs");
    run_editor(
        "emacs",
        &["--batch", "-l", "init.el", "-l", "driver.el"],
        &[("init.el", &init), ("driver.el", EMACS_DRIVER)],
    );
}
