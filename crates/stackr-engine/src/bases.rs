//! The images a build starts from, so that a base image rebuilt or pulled anew rebuilds the
//! images made on it. docker-compose never notices (it needs `--build`); the offline images of
//! the example are exactly that case: rebuilt locally, and every image on them stale.
//!
//! The label [`crate::LABEL_BUILD_BASES`] on a built image records, for each base, the image id
//! it had when the build started, or `?` when the engine did not have it yet (it pulls it during
//! the build): `ref=id` pairs separated by spaces (a reference has none).

use std::collections::BTreeMap;
use std::path::Path;

/// The images a Dockerfile builds on: each `FROM` that names neither an earlier stage nor
/// `scratch`, with the `ARG`s declared before the first `FROM` substituted (build args over
/// their defaults). A `FROM` whose reference keeps a variable nothing sets is left out, as is
/// everything of a Dockerfile that cannot be read, or is not a regular file of at most
/// [`crate::context::MAX_SMALL_FILE`] bytes (the build itself reports that).
pub fn base_images(
    context: &Path,
    dockerfile: &str,
    args: &BTreeMap<String, String>,
) -> Vec<String> {
    match crate::context::read_small_file(&context.join(dockerfile)) {
        Ok(text) => parse(&text, args),
        Err(_) => Vec::new(),
    }
}

/// [`base_images`] of a Dockerfile's text.
pub fn parse(text: &str, args: &BTreeMap<String, String>) -> Vec<String> {
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    let mut stages: Vec<String> = Vec::new();
    let mut bases: Vec<String> = Vec::new();
    let mut seen_from = false;
    for line in instructions(text) {
        let mut words = line.split_whitespace();
        let Some(keyword) = words.next() else {
            continue;
        };
        let rest: Vec<&str> = words.collect();
        if keyword.eq_ignore_ascii_case("ARG") && !seen_from {
            for decl in &rest {
                let (name, default) = match decl.split_once('=') {
                    Some((n, d)) => (n, Some(unquote(d))),
                    None => (*decl, None),
                };
                let value = args.get(name).cloned().or(default);
                if let Some(v) = value {
                    vars.insert(name.to_string(), v);
                }
            }
        } else if keyword.eq_ignore_ascii_case("FROM") {
            seen_from = true;
            let mut operands = rest.iter().filter(|w| !w.starts_with("--"));
            let Some(image) = operands.next() else {
                continue;
            };
            let alias = match (operands.next(), operands.next()) {
                (Some(as_kw), Some(name)) if as_kw.eq_ignore_ascii_case("AS") => {
                    Some(name.to_ascii_lowercase())
                }
                _ => None,
            };
            // A stage may build on an earlier stage, never on itself.
            if let Some(image) = substitute(&unquote(image), &vars) {
                let lower = image.to_ascii_lowercase();
                let named = lower == "scratch" || stages.contains(&lower) || image.is_empty();
                if !named && !bases.contains(&image) {
                    bases.push(image);
                }
            }
            stages.extend(alias);
        }
    }
    bases
}

/// The instructions of a Dockerfile: comment lines dropped, `\` continuations joined.
fn instructions(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for raw in text.lines() {
        let line = raw.trim();
        if line.starts_with('#') && current.is_empty() {
            continue;
        }
        if let Some(head) = line.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
            continue;
        }
        current.push_str(line);
        if !current.trim().is_empty() {
            out.push(std::mem::take(&mut current));
        }
        current.clear();
    }
    if !current.trim().is_empty() {
        out.push(current);
    }
    out
}

fn unquote(s: &str) -> String {
    s.trim_matches(|c| c == '"' || c == '\'').to_string()
}

/// `$NAME`, `${NAME}` and `${NAME:-default}` replaced; `None` when a variable has no value.
fn substitute(s: &str, vars: &BTreeMap<String, String>) -> Option<String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (expr, tail) = if let Some(inner) = after.strip_prefix('{') {
            let end = inner.find('}')?;
            (&inner[..end], &inner[end + 1..])
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        let (name, default) = match expr.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (expr, None),
        };
        match vars.get(name).filter(|v| !v.is_empty()) {
            Some(v) => out.push_str(v),
            None => out.push_str(default?),
        }
        rest = tail;
    }
    out.push_str(rest);
    Some(out)
}

/// The label's text: `ref=id` (or `ref=?`) pairs, separated by spaces.
pub fn encode(bases: &[(String, Option<String>)]) -> String {
    bases
        .iter()
        .map(|(r, id)| format!("{r}={}", id.as_deref().unwrap_or("?")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The label's pairs; `?` reads as `None`.
pub fn decode(label: &str) -> Vec<(String, Option<String>)> {
    label
        .split_whitespace()
        .filter_map(|l| l.rsplit_once('='))
        .map(|(r, id)| (r.to_string(), (id != "?").then(|| id.to_string())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn stages_and_scratch_are_not_bases() {
        let text = "FROM python:3.12-slim AS builder\nRUN make\n\nFROM builder AS test\nFROM scratch\nCOPY --from=builder /a /a\nFROM python:3.12-slim\n";
        assert_eq!(parse(text, &args(&[])), ["python:3.12-slim"]);
    }

    #[test]
    fn build_args_over_arg_defaults() {
        let text = "ARG PYTHON_IMAGE=python:3.12-slim\nARG TAG\n# a comment\nFROM ${PYTHON_IMAGE} AS builder\nFROM --platform=linux/amd64 \\\n    example/tool:$TAG\nFROM ${MISSING}\nFROM ${MISSING:-fallback:1}\n";
        assert_eq!(
            parse(text, &args(&[])),
            ["python:3.12-slim", "fallback:1"],
            "a FROM with a variable nothing sets is left out"
        );
        assert_eq!(
            parse(
                text,
                &args(&[("PYTHON_IMAGE", "local/python:3.11"), ("TAG", "7")])
            ),
            ["local/python:3.11", "example/tool:7", "fallback:1"]
        );
    }

    #[test]
    fn an_arg_after_the_first_from_is_not_global() {
        let text = "FROM a:1\nARG B=b:2\nFROM ${B}\n";
        assert_eq!(parse(text, &args(&[])), ["a:1"]);
    }

    #[test]
    fn the_label_round_trips() {
        let bases = vec![
            (
                "local/python:3.11".to_string(),
                Some("sha256:abc".to_string()),
            ),
            ("registry:5000/x:1".to_string(), None),
        ];
        assert_eq!(decode(&encode(&bases)), bases);
    }

    /// Regression: the Dockerfile is read for its `FROM` lines before the build; a FIFO in its
    /// place blocked `up` for good. It is not a regular file: no bases, and the build says why.
    #[test]
    fn a_dockerfile_that_is_a_fifo_is_not_read() {
        let dir = std::env::temp_dir().join(format!("stackr-bases-fifo-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let fifo = dir.join("Dockerfile");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .is_ok_and(|s| s.success());
        assert!(made, "mkfifo failed");
        let (tx, rx) = std::sync::mpsc::channel();
        let d = dir.clone();
        std::thread::spawn(move || {
            let _ = tx.send(base_images(&d, "Dockerfile", &BTreeMap::new()));
        });
        let got = rx.recv_timeout(std::time::Duration::from_secs(5));
        assert_eq!(
            got,
            Ok(Vec::new()),
            "reading a FIFO Dockerfile did not return"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
