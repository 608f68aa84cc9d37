//! Every KDL snippet in the book, the README and the examples is checked.
//!
//! A ```` ```kdl ```` block must be a valid stack file on its own; a ```` ```kdl,invalid ````
//! block must fail (it shows a diagnostic). An invalid block followed by `<!-- output -->` and a
//! ```` ```text ```` block must make `stackr --no-color check` print exactly that text.

use std::path::{Path, PathBuf};

use stackr_spec::{MemoryReader, Options, load_all_profiles};

use crate::support::{FixtureReader, render_all, root};

pub(crate) struct Block {
    pub(crate) file: PathBuf,
    pub(crate) line: usize,
    pub(crate) invalid: bool,
    /// ```` ```kdl,unformatted ````: shown as written on purpose (what `stackr fmt` fixes).
    pub(crate) unformatted: bool,
    pub(crate) text: String,
    /// The `<!-- output -->` text block that follows it.
    output: Option<String>,
}

pub(crate) fn blocks(path: &Path) -> Vec<Block> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    let mut current: Option<Block> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        match &mut current {
            None => {
                if let Some(info) = trimmed.strip_prefix("```kdl") {
                    current = Some(Block {
                        file: path.to_path_buf(),
                        line: i + 1,
                        invalid: info.contains("invalid"),
                        unformatted: info.contains("unformatted"),
                        text: String::new(),
                        output: None,
                    });
                }
            }
            Some(b) => {
                if trimmed.starts_with("```") {
                    out.extend(current.take());
                } else {
                    b.text.push_str(line);
                    b.text.push('\n');
                }
            }
        }
    }
    let lines: Vec<&str> = text.lines().collect();
    for b in &mut out {
        // The block's closing fence, then blank lines, the marker, and a text block.
        let Some(close) = (b.line..lines.len()).find(|&i| lines[i].trim_start().starts_with("```"))
        else {
            continue;
        };
        let mut i = close + 1;
        while i < lines.len() && lines[i].trim().is_empty() {
            i += 1;
        }
        if lines.get(i).map(|l| l.trim()) != Some("<!-- output -->")
            || lines.get(i + 1).map(|l| l.trim()) != Some("```text")
        {
            continue;
        }
        let mut output = String::new();
        for l in &lines[i + 2..] {
            if l.trim_start().starts_with("```") {
                break;
            }
            output.push_str(l);
            output.push('\n');
        }
        b.output = Some(output);
    }
    out
}

/// A snippet as `stackr check` loads it, the base and every profile (without host paths), with
/// variables substituted: defaults (`${PORT:-80}`) apply, and the one variable the book marks
/// required (`${DB_PASSWORD:?...}`) is set, as its reader would.
pub(crate) fn load_snippet(text: &str) -> stackr_spec::Loaded {
    let mut reader = MemoryReader::default();
    let path = PathBuf::from("/book/snippet/stack.kdl");
    reader.files.insert(path.clone(), text.to_string());
    let opts = Options {
        vars: Some(std::collections::BTreeMap::from([(
            "DB_PASSWORD".to_string(),
            "example".to_string(),
        )])),
        ..Options::default()
    };
    load_all_profiles(&[path], &reader, &opts, &|_| Vec::new())
}

pub(crate) fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            markdown_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "md") {
            out.push(p);
        }
    }
}

#[test]
fn every_kdl_block_in_the_book_and_readme() {
    let mut files = vec![root().join("README.md")];
    markdown_files(&root().join("book/src"), &mut files);
    files.sort();
    let mut checked = 0;
    let mut failures = Vec::new();
    for file in &files {
        for b in blocks(file) {
            checked += 1;
            let loaded = load_snippet(&b.text);
            let ok = if b.invalid {
                loaded.has_errors()
            } else {
                !loaded.has_errors()
            };
            if !ok {
                failures.push(format!(
                    "{}:{} ({}):\n{}",
                    b.file.display(),
                    b.line,
                    if b.invalid {
                        "expected errors"
                    } else {
                        "expected valid"
                    },
                    render_all(&loaded)
                ));
            }
        }
    }
    assert!(checked >= 30, "only {checked} KDL blocks found in the book");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// What the book shows `stackr check` printing is what it prints.
#[test]
fn shown_check_output_is_real() {
    let mut files = vec![root().join("README.md")];
    markdown_files(&root().join("book/src"), &mut files);
    files.sort();
    let mut failures = Vec::new();
    let mut checked = 0;
    for file in &files {
        for (n, b) in blocks(file).into_iter().enumerate() {
            let (true, Some(want)) = (b.invalid, &b.output) else {
                continue;
            };
            checked += 1;
            let dir = crate::cli::temp_dir(&format!("book-output-{n}"));
            std::fs::write(dir.join("stack.kdl"), &b.text).unwrap_or_else(|e| panic!("{e}"));
            let r = crate::cli::run(crate::cli::stackr(&dir).arg("check"));
            let _ = std::fs::remove_dir_all(&dir);
            // Markdown keeps no trailing spaces; miette's empty source lines have one.
            let trimmed = |t: &str| t.lines().map(str::trim_end).collect::<Vec<_>>().join("\n");
            if trimmed(&r.stderr) != trimmed(want) {
                failures.push(format!(
                    "{}:{}: `stackr check` prints:\n{}",
                    b.file.display(),
                    b.line,
                    r.stderr
                ));
            }
        }
    }
    assert!(checked >= 2, "only {checked} output blocks found");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Examples are loaded as the CLI loads them: with interpolation (and no variables set).
fn interpolating() -> Options {
    Options {
        vars: Some(std::collections::BTreeMap::new()),
        ..Options::default()
    }
}

#[test]
fn every_example_stack_is_valid() {
    let mut found = 0;
    for entry in std::fs::read_dir(root().join("examples"))
        .unwrap_or_else(|e| panic!("{e}"))
        .flatten()
    {
        let path = entry.path().join("stack.kdl");
        if !path.is_file() {
            continue;
        }
        found += 1;
        let loaded = load_all_profiles(
            std::slice::from_ref(&path),
            &FixtureReader,
            &interpolating(),
            &|_| Vec::new(),
        );
        assert!(
            !loaded.has_errors(),
            "{}:\n{}",
            path.display(),
            render_all(&loaded)
        );
    }
    assert!(found >= 1);
    let loaded = load_all_profiles(
        &[root().join("stack.kdl")],
        &FixtureReader,
        &interpolating(),
        &|_| Vec::new(),
    );
    assert!(!loaded.has_errors(), "stack.kdl:\n{}", render_all(&loaded));
}

/// The book's SUMMARY links every chapter, and every chapter file is linked.
#[test]
fn book_summary_links_every_chapter() {
    let src = root().join("book/src");
    let summary = std::fs::read_to_string(src.join("SUMMARY.md")).unwrap_or_else(|e| panic!("{e}"));
    let mut files = Vec::new();
    markdown_files(&src, &mut files);
    for f in files {
        let rel = f.strip_prefix(&src).unwrap_or(&f).display().to_string();
        if rel == "SUMMARY.md" {
            continue;
        }
        assert!(
            summary.contains(&format!("({rel})")),
            "{rel} is not in SUMMARY.md"
        );
    }
    for link in summary.split("](").skip(1) {
        let target = link.split(')').next().unwrap_or("");
        assert!(
            src.join(target).is_file(),
            "SUMMARY.md links missing {target}"
        );
    }
}

/// `book/src/commands/reference.md` is every command's `--help`, as the binary prints it.
/// `STACKR_BLESS=1 cargo test --test it command_reference` rewrites it after a change.
#[test]
fn command_reference_matches_help() {
    let bin = env!("CARGO_BIN_EXE_stackr");
    let help = |args: &[&str]| -> String {
        let out = std::process::Command::new(bin)
            .args(args)
            .env("NO_COLOR", "1")
            .env("COLUMNS", "100")
            .env_remove("STACKR_STACK_NAME")
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let top = help(&["--help"]);
    let commands: Vec<String> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .filter(|c| c != "help")
        .collect();
    assert!(commands.len() >= 25, "{commands:?}");
    let mut page = String::from(
        "# Command reference\n\nEvery command's `--help`, as `stackr` prints it (a test keeps this page in step with\nthe binary).\n\n## stackr\n\n```text\n",
    );
    page.push_str(top.trim_end());
    page.push_str("\n```\n");
    for c in &commands {
        page.push_str(&format!("\n## stackr {c}\n\n```text\n"));
        page.push_str(help(&[c, "--help"]).trim_end());
        page.push_str("\n```\n");
    }
    let path = root().join("book/src/commands/reference.md");
    if std::env::var_os("STACKR_BLESS").is_some() {
        std::fs::write(&path, &page).unwrap_or_else(|e| panic!("{e}"));
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        current == page,
        "book/src/commands/reference.md is out of date: run `STACKR_BLESS=1 cargo test --test it command_reference`"
    );
}

/// The walk-through of "Coming from compose" shows `examples/residency-scheduler/stack.kdl`
/// as it is in the repository, not an older copy.
#[test]
fn the_walk_through_shows_the_example_stack_file() {
    let chapter = std::fs::read_to_string(root().join("book/src/coming-from-compose.md"))
        .unwrap_or_else(|e| panic!("{e}"));
    let file = std::fs::read_to_string(root().join("examples/residency-scheduler/stack.kdl"))
        .unwrap_or_else(|e| panic!("{e}"));
    let anchor = "As one stack file, `examples/residency-scheduler/stack.kdl` in the repository";
    let shown = chapter
        .split_once(anchor)
        .and_then(|(_, rest)| rest.split_once("```kdl\n"))
        .and_then(|(_, rest)| rest.split_once("```\n"))
        .map(|(block, _)| block)
        .unwrap_or_else(|| panic!("no stack file after {anchor:?}"));
    assert_eq!(
        shown, file,
        "copy examples/residency-scheduler/stack.kdl into the chapter"
    );
}
