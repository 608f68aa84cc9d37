//! `stackr fmt`: the canonical layout. What the book shows, the examples and the root stack
//! file are laid out so; formatting any fixture keeps its comments and its meaning (the
//! resolved stack is the same) and a second pass changes nothing.

use std::path::Path;

use stackr_spec::format::format;

use crate::book::{blocks, load_snippet, markdown_files};
use crate::cli::{run, stackr, temp_dir};
use crate::support::{kdl_files, root};

/// A stack file of the repository.
pub(crate) struct Text {
    pub(crate) place: String,
    pub(crate) text: String,
    /// It is a valid stack (an invalid one may not even be KDL).
    pub(crate) valid: bool,
    /// It must be laid out canonically: what users read and copy (not the fixtures, which
    /// are laid out as tests need them).
    canonical: bool,
}

/// Every stack file of the repository: the fixtures (valid and invalid), the examples, the
/// root stack file, and the book's and README's KDL blocks.
pub(crate) fn stack_texts() -> Vec<Text> {
    let mut out = Vec::new();
    for dir in ["tests/fixtures/valid", "tests/fixtures/invalid"] {
        for f in kdl_files(dir) {
            let text = std::fs::read_to_string(&f).unwrap_or_else(|e| panic!("{e}"));
            out.push(Text {
                place: f.display().to_string(),
                text,
                valid: !dir.ends_with("invalid"),
                canonical: false,
            });
        }
    }
    for f in [
        root().join("stack.kdl"),
        root().join("examples/residency-scheduler/stack.kdl"),
    ] {
        let text = std::fs::read_to_string(&f).unwrap_or_else(|e| panic!("{e}"));
        out.push(Text {
            place: f.display().to_string(),
            text,
            valid: true,
            canonical: true,
        });
    }
    let mut md = vec![root().join("README.md")];
    markdown_files(&root().join("book/src"), &mut md);
    md.sort();
    for f in md {
        for b in blocks(&f) {
            out.push(Text {
                place: format!("{}:{}", b.file.display(), b.line),
                text: dedent(&b.text),
                valid: !b.invalid,
                // Shown unformatted on purpose, or showing an error at a given line.
                canonical: !b.invalid && !b.unformatted,
            });
        }
    }
    out
}

/// A markdown block's text without the indentation of the list it sits in.
fn dedent(text: &str) -> String {
    let cut = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    text.lines()
        .map(|l| l.get(cut..).unwrap_or("").to_string() + "\n")
        .collect()
}

/// The comments of a KDL text, in order.
fn comments(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_string = false;
    for line in text.lines() {
        // Good enough for the repository's files: quotes are balanced on a line except in
        // multi-line strings, which hold no `//`.
        let mut prev = ' ';
        for (i, c) in line.char_indices() {
            if c == '"' && prev != '\\' {
                in_string = !in_string;
            }
            if !in_string && line[i..].starts_with("//") {
                out.push(line[i..].trim_end().to_string());
                break;
            }
            prev = c;
        }
        in_string = false;
    }
    out
}

#[test]
fn the_book_the_examples_and_the_root_stack_file_are_laid_out_canonically() {
    let mut wrong = Vec::new();
    for Text {
        place,
        text,
        canonical,
        ..
    } in stack_texts()
    {
        if !canonical {
            continue;
        }
        match format(&text) {
            Some(f) if f == text => {}
            Some(f) => {
                let line = text
                    .lines()
                    .zip(f.lines())
                    .position(|(a, b)| a != b)
                    .map_or(0, |n| n + 1);
                wrong.push(format!("{place}: not formatted (line {line} of the block)"));
            }
            None => wrong.push(format!("{place}: not KDL")),
        }
    }
    assert!(
        wrong.is_empty(),
        "run `stackr fmt` on these:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn formatting_keeps_comments_and_meaning_and_a_second_pass_changes_nothing() {
    let mut checked = 0;
    for Text {
        place, text, valid, ..
    } in stack_texts()
    {
        let Some(once) = format(&text) else {
            assert!(!valid, "{place}: a valid stack file is not KDL?");
            continue;
        };
        checked += 1;
        assert_eq!(
            format(&once).as_deref(),
            Some(once.as_str()),
            "{place}: not idempotent"
        );
        assert_eq!(
            comments(&once),
            comments(&text),
            "{place}: comments changed"
        );
        if valid {
            assert_eq!(
                resolved(&once),
                resolved(&text),
                "{place}: the meaning changed"
            );
        }
    }
    assert!(checked > 100, "only {checked} stack files formatted");
}

/// The stack a text means, every profile included, as `config --format json` would show it.
fn resolved(text: &str) -> String {
    serde_json::to_string(&load_snippet(text).stack).unwrap_or_default()
}

/// `stackr fmt` on a file written in a hurry, as users see it; `--check` names an unformatted
/// file and fails; a file that is not KDL is refused with its syntax errors.
#[test]
fn fmt_lays_out_a_messy_file_and_check_fails_on_it() {
    let dir = temp_dir("fmt");
    let messy = std::fs::read_to_string(root().join("tests/fixtures/fmt/messy.kdl"))
        .unwrap_or_else(|e| panic!("{e}"));
    let file = dir.join("stack.kdl");
    std::fs::write(&file, &messy).unwrap_or_else(|e| panic!("{e}"));
    let r = run(stackr(&dir).args(["fmt", "--check"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("stack.kdl: not formatted (from line 1)"),
        "{}",
        r.stderr
    );
    assert_eq!(read(&file), messy, "--check changed the file");
    let r = run(stackr(&dir).arg("fmt"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let formatted = read(&file);
    insta::assert_snapshot!(formatted);
    assert_eq!(resolved(&formatted), resolved(&messy));
    let r = run(stackr(&dir).args(["fmt", "--check", "stack.kdl"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    std::fs::write(dir.join("broken.kdl"), "service \"a\" {\n").unwrap_or_else(|e| panic!("{e}"));
    let r = run(stackr(&dir).args(["fmt", "broken.kdl"]));
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("not valid KDL: nothing was formatted"),
        "{}",
        r.stderr
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{e}"))
}
