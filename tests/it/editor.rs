//! `stackr lsp` in a real editor: Debian's Neovim (0.7.2), headless, configured with the
//! book's own Neovim 0.7 snippet (taken from `book/src/editors.md`, so the book's set-up is
//! what is tried). It opens a stack file with a typo, waits for the diagnostic, applies the
//! server's code action, saves, and waits for the diagnostics to clear.

use std::process::Command;

use crate::cli::temp_dir;
use crate::support::root;

/// The book's Lua block for Neovim 0.7 (fenced ```` ```lua,nvim-0.7 ````).
fn book_snippet() -> String {
    let chapter = std::fs::read_to_string(root().join("book/src/editors.md"))
        .unwrap_or_else(|e| panic!("{e}"));
    let start = chapter
        .find("```lua,nvim-0.7\n")
        .unwrap_or_else(|| panic!("editors.md has no ```lua,nvim-0.7 block"))
        + "```lua,nvim-0.7\n".len();
    let len = chapter[start..].find("```").unwrap_or(0);
    chapter[start..start + len].to_string()
}

/// What the test does once the file is open; exits with a code of its own at each failure.
const DRIVER: &str = r#"
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
    let nvim = Command::new("nvim").arg("--version").output();
    let version = nvim.unwrap_or_else(|e| {
        panic!("this test needs Neovim (`apt-get install neovim`; .ci/run installs it): {e}")
    });
    assert!(version.status.success(), "nvim --version failed");
    let dir = temp_dir("nvim");
    let file = dir.join("stack.kdl");
    std::fs::write(
        &file,
        "stack \"shop\"\nservice \"web\" {\n    imag \"nginx\"\n}\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let init = dir.join("init.lua");
    std::fs::write(&init, book_snippet()).unwrap_or_else(|e| panic!("{e}"));
    let driver = dir.join("driver.lua");
    std::fs::write(&driver, DRIVER).unwrap_or_else(|e| panic!("{e}"));
    // `stackr` on the PATH, as the snippet names it; Neovim's state kept in the test's folder.
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_stackr"))
        .parent()
        .unwrap_or_else(|| panic!("no bin dir"))
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("nvim")
        .args(["--headless", "-n", "-i", "NONE", "-u"])
        .arg(&init)
        .arg(&file)
        .arg("-c")
        .arg(format!("luafile {}", driver.display()))
        .current_dir(&dir)
        .env("PATH", path)
        .env("XDG_STATE_HOME", dir.join("state"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run nvim: {e}"));
    let saved = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        out.status.success(),
        "nvim exited with {}: {}{}\nfile now:\n{saved}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        saved,
        "stack \"shop\"\nservice \"web\" {\n    image \"nginx\"\n}\n"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
