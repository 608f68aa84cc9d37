//! Shared helpers: loading in-memory stacks and rendering diagnostics as users see them.

use std::path::{Path, PathBuf};

use miette::{GraphicalReportHandler, GraphicalTheme};
use stackr_spec::{Diagnostic, FileReader, Loaded, Options};

/// The workspace root.
/// Held by the tests that load the machine most (a private daemon restarted or killed, the
/// seed's application): one at a time, so that none of them times out for another's load on
/// a 2-core machine. The others run beside them as before.
static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Takes the heavy tests' turn (see [`HEAVY`]); a test that panicked holding it passes it on.
pub fn heavy_turn() -> std::sync::MutexGuard<'static, ()> {
    HEAVY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Renders a diagnostic without colour at a fixed width, as `stackr --no-color` does.
pub fn render(d: &Diagnostic) -> String {
    let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
        .with_width(100)
        .with_links(false);
    let mut out = String::new();
    handler
        .render_report(&mut out, d)
        .unwrap_or_else(|e| panic!("rendering failed: {e}"));
    out
}

/// Every diagnostic of a load, rendered, one after another.
pub fn render_all(loaded: &Loaded) -> String {
    loaded
        .diagnostics
        .iter()
        .map(render)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads fixture files from disk but names them by file name only, so snapshots do not depend
/// on where the repository is checked out.
pub struct FixtureReader;

impl FileReader for FixtureReader {
    fn read(&self, path: &Path) -> Result<Vec<u8>, stackr_spec::ReadError> {
        stackr_host::files::read_regular(path, stackr_spec::limits::MAX_FILE_BYTES)
    }

    fn display_name(&self, path: &Path) -> String {
        path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    }
}

/// Loads a file from disk with the base and every profile checked, as `stackr check` does, but
/// without host checks (fixtures name files that need not exist).
pub fn load_fixture(path: &Path) -> Loaded {
    let opts = Options {
        vars: Some(fixture_vars()),
        ..Options::default()
    };
    stackr_spec::load_all_profiles(&[path.to_path_buf()], &FixtureReader, &opts, &|_| {
        Vec::new()
    })
}

/// The variables fixtures are interpolated with.
pub fn fixture_vars() -> std::collections::BTreeMap<String, String> {
    [("TAG", "1.27"), ("EMPTY", "")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The `// expect: CODE` header of a fixture.
pub fn expected_code(text: &str) -> Option<&str> {
    text.lines()
        .next()
        .and_then(|l| l.strip_prefix("// expect: "))
        .map(str::trim)
}

/// One HTTP/1.0 request on loopback: `(status, body)`; `(0, "")` when nothing answers.
pub fn http(port: u16, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    use std::io::{Read, Write};
    let Ok(mut c) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new());
    };
    let _ = c.set_read_timeout(Some(std::time::Duration::from_secs(10)));
    let body = body.unwrap_or("");
    let _ = write!(
        c,
        "{method} {path} HTTP/1.0\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut s = String::new();
    let _ = c.read_to_string(&mut s);
    let status = s
        .split_whitespace()
        .nth(1)
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    let body = s.split_once("\r\n\r\n").map(|(_, b)| b.to_string());
    (status, body.unwrap_or_default())
}

/// The `.kdl` files of a directory of the repository, sorted.
pub fn kdl_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "kdl"))
        .collect();
    files.sort();
    files
}
