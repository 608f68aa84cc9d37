//! What is refused before the KDL parser sees a file: bytes that are not UTF-8 text, nesting
//! deep enough to exhaust the parser's stack, and integers wider than KDL's 128 bits (which the
//! parser reports as a cascade of unrelated errors).
//!
//! The scan is one pass over the text with a small lexer that knows where strings and comments
//! are, so that braces inside them do not count. It never allocates per token.

use crate::diagnostic::Diagnostic;
use crate::lex;
use crate::limits::{MAX_COMMENT_DEPTH, MAX_DEPTH};
use crate::problem::{EncodingProblem, Problem};
use crate::source::{FileId, Span};

/// Bytes that are not a stack file's text: where and why.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fault {
    offset: usize,
    problem: EncodingProblem,
}

impl Fault {
    pub fn diagnostic(&self, file: FileId, path: &str) -> Diagnostic {
        let (len, label, help) = match self.problem {
            EncodingProblem::NotUtf8 { .. } => (
                0,
                "here",
                "stack files are UTF-8 text: save the file as UTF-8",
            ),
            EncodingProblem::Utf16 => (0, "here", ICONV_HELP),
            EncodingProblem::Nul => (1, "a NUL byte", "stack files are text: remove the NUL byte"),
        };
        Diagnostic::error(Problem::Encoding {
            path: path.to_string(),
            problem: self.problem,
        })
        .with_label(
            Span {
                file,
                offset: self.offset,
                len,
            },
            label,
        )
        .with_help(help)
    }
}

const ICONV_HELP: &str =
    "stack files are UTF-8: convert it, e.g. `iconv -f UTF-16 -t UTF-8 FILE > FILE.utf8`";

/// The text of a file, and the fault at the first byte that makes it not UTF-8 text. With a
/// fault the text is still given (lossily decoded, so every offset up to the bad byte is the
/// file's own) for the diagnostic's excerpt.
pub(crate) fn decode(bytes: &[u8]) -> (String, Option<Fault>) {
    let fault = |offset, problem| Some(Fault { offset, problem });
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return (
            String::from_utf8_lossy(bytes).into_owned(),
            fault(0, EncodingProblem::Utf16),
        );
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => match text.find('\0') {
            Some(nul) => {
                // ASCII in UTF-16 has a NUL beside every character.
                let problem = if bytes.get(nul + 2) == Some(&0) {
                    EncodingProblem::Utf16
                } else {
                    EncodingProblem::Nul
                };
                (text.to_string(), fault(nul, problem))
            }
            None => (text.to_string(), None),
        },
        Err(e) => {
            let offset = e.valid_up_to();
            let byte = bytes.get(offset).copied().unwrap_or(0);
            (
                String::from_utf8_lossy(bytes).into_owned(),
                fault(offset, EncodingProblem::NotUtf8 { byte }),
            )
        }
    }
}

/// Scans `text` for what the parser must not see. Returns `false` (with the diagnostics pushed)
/// when the file must not be parsed.
pub(crate) fn scan(file: FileId, text: &str, diags: &mut Vec<Diagnostic>) -> bool {
    let mut s = Scanner {
        t: text,
        b: text.as_bytes(),
        i: 0,
        file,
        depth: 0,
        strays: 0,
        node_start: None,
        prefixes: 0,
        in_annotation: false,
        found: Vec::new(),
    };
    s.run();
    let ok = s.found.is_empty();
    diags.extend(s.found);
    ok
}

struct Scanner<'t> {
    t: &'t str,
    b: &'t [u8],
    i: usize,
    file: FileId,
    /// How many children blocks are open here.
    depth: usize,
    /// `}` that closed no block (the parser recovers from each by recursion).
    strays: usize,
    /// Where the node being read started, for the depth diagnostic.
    node_start: Option<usize>,
    /// `/-` and `(type)` read one after another, with only whitespace, newlines and comments
    /// between them (the parser's `/-` takes all of those, and recurses on the next `/-`).
    prefixes: usize,
    /// Inside the parentheses of a `(type)`.
    in_annotation: bool,
    found: Vec<Diagnostic>,
}

/// The most pieces (`*`, `/`, and the text between them) one `/* */` comment may hold: the
/// parser reads each by recursion.
const MAX_COMMENT_PIECES: usize = 2000;

impl Scanner<'_> {
    fn span(&self, offset: usize, len: usize) -> Span {
        Span {
            file: self.file,
            offset,
            len,
        }
    }

    fn peek(&self, n: usize) -> Option<u8> {
        self.b.get(self.i + n).copied()
    }

    /// The character here, when `i` is at the start of one.
    fn char_here(&self) -> Option<char> {
        self.t.get(self.i..).and_then(|t| t.chars().next())
    }

    fn refuse(&mut self, problem: Problem, at: (usize, usize), label: &str, help: &str) {
        self.found.push(
            Diagnostic::error(problem)
                .with_label(self.span(at.0, at.1), label)
                .with_help(help),
        );
    }

    fn run(&mut self) {
        while let Some(c) = self.peek(0) {
            let ok = match c {
                b'\n' | b';' => {
                    if c == b';' {
                        self.token();
                    }
                    self.node_start = None;
                    self.i += 1;
                    true
                }
                b'/' if self.peek(1) == Some(b'/') => {
                    self.line_comment();
                    true
                }
                b'/' if self.peek(1) == Some(b'*') => self.block_comment(),
                b'/' if self.peek(1) == Some(b'-') => {
                    self.i += 2;
                    self.prefix(2)
                }
                b'(' => {
                    self.in_annotation = true;
                    self.i += 1;
                    self.prefix(1)
                }
                b')' => {
                    self.in_annotation = false;
                    self.i += 1;
                    true
                }
                b'{' => self.open_block(),
                b'}' => self.close_block(),
                b'"' | b'#' if let Some(q) = lex::string_at(self.b, self.i) => {
                    self.mark();
                    self.token();
                    self.i = q.end;
                    true
                }
                b'=' => {
                    self.token();
                    self.i += 1;
                    true
                }
                b'\\' => {
                    self.i += 1;
                    true
                }
                _ => {
                    match self.char_here() {
                        Some(ch) if lex::is_space(ch) => {
                            if matches!(
                                ch,
                                '\r' | '\u{b}' | '\u{c}' | '\u{85}' | '\u{2028}' | '\u{2029}'
                            ) {
                                // KDL's other newlines end a node as `\n` does.
                                self.node_start = None;
                            }
                            self.i += ch.len_utf8();
                        }
                        _ => {
                            self.mark();
                            self.token();
                            self.word();
                        }
                    }
                    true
                }
            };
            if !ok {
                return;
            }
        }
    }

    /// A value, name or brace: what ends a run of `/-` and `(type)` prefixes.
    fn token(&mut self) {
        if !self.in_annotation {
            self.prefixes = 0;
        }
    }

    /// Counts the `/-` or `(` of `len` bytes just read; `false` past the limit.
    fn prefix(&mut self, len: usize) -> bool {
        self.prefixes += 1;
        if self.prefixes <= MAX_DEPTH {
            return true;
        }
        self.refuse(
            Problem::TooMany {
                what: "`/-` comments and `(type)` annotations in a row".into(),
                limit: MAX_DEPTH,
            },
            (self.i - len, len),
            "one too many",
            "one `/-` comments out what follows it, and a value takes one `(type)`: remove the others",
        );
        false
    }

    fn open_block(&mut self) -> bool {
        self.token();
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let start = self.node_start.unwrap_or(self.i);
            self.refuse(
                Problem::TooDeep {
                    what: "nodes".into(),
                    limit: MAX_DEPTH,
                },
                (start, self.i + 1 - start),
                "one level too deep",
                "a stack needs a handful of levels: flatten this part",
            );
            return false;
        }
        self.node_start = None;
        self.i += 1;
        true
    }

    fn close_block(&mut self) -> bool {
        self.token();
        if self.depth == 0 {
            self.strays += 1;
            if self.strays > MAX_DEPTH {
                self.refuse(
                    Problem::TooMany {
                        what: "`}` that close no block".into(),
                        limit: MAX_DEPTH,
                    },
                    (self.i, 1),
                    "closes nothing",
                    "remove the `}` that have no `{`",
                );
                return false;
            }
        }
        self.depth = self.depth.saturating_sub(1);
        self.node_start = None;
        self.i += 1;
        true
    }

    fn mark(&mut self) {
        if self.node_start.is_none() {
            self.node_start = Some(self.i);
        }
    }

    fn line_comment(&mut self) {
        while let Some(c) = self.peek(0) {
            if c == b'\n' {
                return;
            }
            self.i += 1;
        }
    }

    /// A `/* ... */` comment, which nests in KDL. `false` when it nests too deep or holds too
    /// many pieces.
    fn block_comment(&mut self) -> bool {
        let mut depth = 0usize;
        let mut pieces = 0usize;
        let mut in_text = false;
        while let Some(c) = self.peek(0) {
            let next = self.peek(1);
            let step = match (c, next) {
                (b'/', Some(b'*')) => {
                    depth += 1;
                    if depth > MAX_COMMENT_DEPTH {
                        self.refuse(
                            Problem::TooDeep {
                                what: "comments".into(),
                                limit: MAX_COMMENT_DEPTH,
                            },
                            (self.i, 2),
                            "one level too deep",
                            "`/*` opens a comment inside a comment in KDL: close each one with `*/`, or use `//`",
                        );
                        return false;
                    }
                    2
                }
                (b'*', Some(b'/')) => {
                    depth -= 1;
                    if depth == 0 {
                        self.i += 2;
                        return true;
                    }
                    2
                }
                (b'*' | b'/', _) => 1,
                _ => 0,
            };
            // A run of text is one piece; each `*`, `/`, `/*` and `*/` another.
            let piece = step > 0 || !in_text;
            in_text = step == 0;
            if piece {
                pieces += 1;
                if pieces > MAX_COMMENT_PIECES {
                    self.refuse(
                        Problem::TooMany {
                            what:
                                "pieces (`*`, `/` and the text between them) in one `/* */` comment"
                                    .into(),
                            limit: MAX_COMMENT_PIECES,
                        },
                        (self.i, 1),
                        "one too many",
                        "use `//` comments for long texts, or fewer `*` and `/` inside this one",
                    );
                    return false;
                }
            }
            self.i += step.max(1);
        }
        true
    }

    /// A bare word; an integer too wide for 128 bits is reported.
    fn word(&mut self) {
        let start = self.i;
        while let Some(ch) = self.char_here() {
            if lex::ends_word(ch) {
                break;
            }
            self.i += ch.len_utf8();
        }
        if self.i == start {
            // A character no rule takes (a stray `#`, `[`): step over it.
            self.i += self.char_here().map_or(1, char::len_utf8);
            return;
        }
        let word = &self.b[start..self.i];
        if integer_overflows(word) {
            self.refuse(
                Problem::NumberTooLarge {
                    number: String::from_utf8_lossy(word).into_owned(),
                },
                (start, word.len()),
                "too large for a KDL integer",
                "KDL integers hold 128 bits, and no field takes more than 64: write a smaller number, or a string",
            );
        }
    }
}

/// Whether `word` is an integer literal (decimal, `0x`, `0o` or `0b`, with `_` separators)
/// whose value does not fit in an `i128`.
fn integer_overflows(word: &[u8]) -> bool {
    let digits = match word.first() {
        Some(b'+' | b'-') => &word[1..],
        _ => word,
    };
    if !digits.first().is_some_and(u8::is_ascii_digit) {
        return false;
    }
    let (radix, body) = match digits {
        [b'0', b'x', rest @ ..] => (16, rest),
        [b'0', b'o', rest @ ..] => (8, rest),
        [b'0', b'b', rest @ ..] => (2, rest),
        _ => (10, digits),
    };
    let mut value: i128 = 0;
    for &c in body {
        if c == b'_' {
            continue;
        }
        let Some(d) = (c as char).to_digit(radix) else {
            // A float (`1.5`, `1e9`) or not a number: the parser decides.
            return false;
        };
        match value
            .checked_mul(i128::from(radix))
            .and_then(|v| v.checked_add(i128::from(d)))
        {
            Some(v) => value = v,
            None => return true,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<Problem> {
        let mut diags = Vec::new();
        scan(FileId(0), text, &mut diags);
        diags.into_iter().map(|d| d.problem).collect()
    }

    #[test]
    fn braces_in_strings_and_comments_do_not_count() {
        let deep = "{".repeat(MAX_DEPTH + 5);
        for text in [
            format!("a \"{deep}\""),
            format!("a #\"{deep}\"#"),
            format!("a ##\"\"\"\n\"#{deep}\n\"\"\"##"),
            format!("a \"\\\"{deep}\""),
            format!("// {deep}\n"),
            format!("/* {deep} */"),
        ] {
            assert!(problems(&text).is_empty(), "{text}");
        }
    }

    #[test]
    fn nesting_past_the_limit_is_one_diagnostic() {
        let n = MAX_DEPTH + 1;
        let text = format!("{}{}", "a {".repeat(n), "}".repeat(n));
        assert!(matches!(problems(&text)[..], [Problem::TooDeep { .. }]));
        let ok = format!("{}{}", "a {".repeat(MAX_DEPTH), "}".repeat(MAX_DEPTH));
        assert!(problems(&ok).is_empty());
        let comments = format!("{}{}", "/*".repeat(1000), "*/".repeat(1000));
        assert!(matches!(problems(&comments)[..], [Problem::TooDeep { .. }]));
    }

    #[test]
    fn what_the_parser_would_recurse_on() {
        let n = 10_000;
        for (text, code) in [
            ("}".repeat(n), "too-many"),
            (format!("/* {} */", " *".repeat(n)), "too-many"),
            (format!("a \"\n{}", "b {".repeat(n)), "too-deep"),
            (format!("a {}x", "/-/**/ ".repeat(n)), "too-many"),
            (format!("a {}x", "/-\u{3000}".repeat(n)), "too-many"),
            (format!("a\u{a0}#\"C:\\\"# {}", "b {".repeat(n)), "too-deep"),
        ] {
            let found = problems(&text);
            assert_eq!(found.len(), 1, "{code}: {found:?}");
            assert_eq!(found[0].code(), code);
        }
    }

    #[test]
    fn valid_text_is_not_refused() {
        let deep = "{".repeat(MAX_DEPTH + 5);
        for text in [
            // A raw string after non-ASCII whitespace: `\"` does not escape in it.
            format!("a\u{a0}#\"C:\\\"# b \"{deep}\""),
            // An escaped line break inside a string.
            format!("a \"x\\\n  {deep}\""),
            // A long comment without `*` or `/` is one piece.
            format!("/* {} */", "text ".repeat(100_000)),
            format!("a {}1", "/- x ".repeat(100)),
            "a (t)1 (t)2 (t)3".to_string(),
            "}}}".to_string(),
        ] {
            assert!(problems(&text).is_empty(), "{text:.80}");
        }
    }

    #[test]
    fn integers_wider_than_128_bits() {
        assert!(integer_overflows(
            b"999999999999999999999999999999999999999999"
        ));
        assert!(integer_overflows(b"-0xffffffffffffffffffffffffffffffffff"));
        assert!(!integer_overflows(
            b"170141183460469231731687303715884105727"
        ));
        assert!(!integer_overflows(b"1e999"));
        assert!(!integer_overflows(
            b"abc999999999999999999999999999999999999999999"
        ));
        assert_eq!(
            problems("a x1999999999999999999999999999999999999999999").len(),
            0
        );
        assert_eq!(
            problems("a 99999999999999999999999999999999999999999 {}").len(),
            1
        );
    }

    #[test]
    fn encodings() {
        let (_, f) = decode(b"a \"x\xff\"");
        assert_eq!(
            f,
            Some(Fault {
                offset: 4,
                problem: EncodingProblem::NotUtf8 { byte: 0xFF }
            })
        );
        let utf16: Vec<u8> = "a 1".encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert_eq!(
            decode(&utf16).1.map(|f| f.problem),
            Some(EncodingProblem::Utf16)
        );
        let with_bom: Vec<u8> = [0xFF, 0xFE].into_iter().chain(utf16).collect();
        assert_eq!(
            decode(&with_bom).1.map(|f| f.problem),
            Some(EncodingProblem::Utf16)
        );
        assert_eq!(
            decode(b"a\0").1.map(|f| f.problem),
            Some(EncodingProblem::Nul)
        );
        assert!(decode("é ü".as_bytes()).1.is_none());
    }
}
