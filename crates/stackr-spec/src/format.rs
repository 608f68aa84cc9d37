//! `stackr fmt`: the canonical layout of a stack file.
//!
//! The layout is whitespace only, so that meaning cannot change: every token (a string in any
//! of KDL's forms, a number, a comment, a slashdash, a brace) is written as the author wrote
//! it, in the same order, on the same line. What is canonical:
//!
//! - four spaces of indentation per open `{` (a line that starts with `}` closes first), and
//!   one more level for a line continued with `\`;
//! - one space between tokens that the author separated, none between tokens that touched
//!   (`key=value`, `(secret)"name"`), and one on each side of a brace within a line;
//! - at most one blank line in a row, none at the start or end of the file or of a block, and
//!   one after each top-level block;
//! - no trailing whitespace, `\n` line ends, one newline at the end.
//!
//! The inside of a multi-line string or block comment is never touched: a multi-line string's
//! indentation is part of its value. The text must be valid KDL; formatting an invalid file is
//! refused rather than guessed.

/// One piece of a line: a token, and whether whitespace came before it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Piece<'a> {
    text: &'a str,
    spaced: bool,
    kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Open,
    Close,
    /// A `//` comment: the rest of the line.
    LineComment,
    /// A `\` that continues the node on the next line.
    Continuation,
    Other,
}

/// A line of the input, as pieces; `None` for a blank line.
type Line<'a> = Option<Vec<Piece<'a>>>;

/// The indentation of one level.
const INDENT: &str = "    ";

/// `text` in the canonical layout. `None` when it is not valid KDL (the caller reports the
/// parse errors, as `check` does).
pub fn format(text: &str) -> Option<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.parse::<kdl::KdlDocument>().is_err() {
        return None;
    }
    let lines = lines(text)?;
    Some(render(&split_blocks(lines)))
}

/// Each line split where a block opens or closes across lines: what follows a `{` whose `}`
/// is on a later line starts a line of its own, and so does a `}` whose `{` was on an earlier
/// one (`health { shell "x"` / `interval "5s" }` become a block of two lines). A newline in
/// a block's place is whitespace to KDL: nodes end at it as they do at a brace.
fn split_blocks(lines: Vec<Line<'_>>) -> Vec<Line<'_>> {
    let mut out = Vec::with_capacity(lines.len());
    for line in lines {
        let Some(pieces) = line else {
            out.push(None);
            continue;
        };
        // Which braces pair up within the line.
        let mut paired = vec![false; pieces.len()];
        let mut open: Vec<usize> = Vec::new();
        for (k, p) in pieces.iter().enumerate() {
            match p.kind {
                Kind::Open => open.push(k),
                Kind::Close => {
                    if let Some(o) = open.pop() {
                        paired[o] = true;
                        paired[k] = true;
                    }
                }
                _ => {}
            }
        }
        let mut current: Vec<Piece<'_>> = Vec::new();
        let count = pieces.len();
        // A `{ // comment` keeps its comment.
        let comment_next: Vec<bool> = (0..count)
            .map(|k| {
                pieces
                    .get(k + 1)
                    .is_some_and(|n| n.kind == Kind::LineComment)
            })
            .collect();
        for (k, p) in pieces.into_iter().enumerate() {
            if p.kind == Kind::Close && !paired[k] && !current.is_empty() {
                out.push(Some(std::mem::take(&mut current)));
            }
            let breaks_after = p.kind == Kind::Open && !paired[k];
            current.push(p);
            if breaks_after && k + 1 < count && !comment_next[k] {
                out.push(Some(std::mem::take(&mut current)));
            }
        }
        if !current.is_empty() {
            out.push(Some(current));
        }
    }
    out
}

/// Splits `text` into lines of pieces. Strings and block comments may span lines: they stay
/// one piece of the line they start on.
fn lines(text: &str) -> Option<Vec<Line<'_>>> {
    let mut out: Vec<Line<'_>> = Vec::new();
    let mut current: Vec<Piece<'_>> = Vec::new();
    let mut spaced = false;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'\n' | b'\r' => {
                i += if c == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                out.push((!current.is_empty()).then(|| std::mem::take(&mut current)));
                spaced = false;
            }
            b' ' | b'\t' => {
                i += 1;
                spaced = true;
            }
            _ => {
                let end = token_end(text, i)?;
                let piece = &text[i..end];
                let kind = match piece {
                    "{" => Kind::Open,
                    "}" => Kind::Close,
                    "\\" => Kind::Continuation,
                    p if p.starts_with("//") => Kind::LineComment,
                    _ => Kind::Other,
                };
                current.push(Piece {
                    text: piece,
                    spaced,
                    kind,
                });
                spaced = false;
                i = end;
            }
        }
    }
    if !current.is_empty() {
        out.push(Some(current));
    }
    Some(out)
}

/// The byte ranges of the top-level nodes of `text`, each with the comments and blank lines
/// before it, which together are the whole text: each range ends after a newline outside any
/// block, string or comment, where the node is not continued (`\`) or commented out (`/-`).
/// Each range is a KDL document of its own when `text` is one. `None` where `text` has a
/// block comment that does not end.
pub(crate) fn top_level_chunks(text: &str) -> Option<Vec<std::ops::Range<usize>>> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let (mut start, mut depth, mut i) = (0, 0usize, 0);
    // The node goes on after the newline.
    let mut carried = false;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                i += 1;
                if depth == 0 && !carried {
                    out.push(start..i);
                    start = i;
                }
                carried = false;
            }
            b' ' | b'\t' | b'\r' => i += 1,
            _ => {
                let end = token_end(text, i)?;
                match &text[i..end] {
                    "{" => depth += 1,
                    "}" => depth = depth.saturating_sub(1),
                    "\\" | "/-" => carried = true,
                    t if t.starts_with("//") => {}
                    _ => carried = false,
                }
                i = end;
            }
        }
    }
    if start < text.len() {
        out.push(start..text.len());
    }
    Some(out)
}

/// Where the token that starts at `i` ends (exclusive), strings, comments and bare words read
/// as [`crate::lex`] reads them. `None` for an unterminated block comment, which a valid
/// document does not have.
fn token_end(text: &str, i: usize) -> Option<usize> {
    let rest = &text[i..];
    let b = text.as_bytes();
    if rest.starts_with("//") {
        return Some(i + rest.find(['\n', '\r']).unwrap_or(rest.len()));
    }
    if rest.starts_with("/*") {
        let (end, closed) = crate::lex::block_comment_end(text, i);
        return closed.then_some(end);
    }
    match b[i] {
        b'{' | b'}' | b';' | b'=' | b'(' | b')' => return Some(i + 1),
        b'"' | b'#' => {
            if let Some(q) = crate::lex::string_at(b, i) {
                return Some(q.end);
            }
        }
        _ => {}
    }
    // A bare word: its first character, then up to one that ends a word.
    let first = rest.chars().next().map_or(1, char::len_utf8);
    let len = rest[first..]
        .char_indices()
        .find(|(_, ch)| crate::lex::ends_word(*ch))
        .map_or(rest.len(), |(k, _)| first + k);
    Some(i + len)
}

/// The lines in the canonical layout.
fn render(lines: &[Line<'_>]) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    let mut blank_pending = false;
    let mut continued = false;
    let mut after_open = true;
    let mut block_ended = false;
    for line in lines {
        let Some(pieces) = line else {
            blank_pending = !after_open;
            continue;
        };
        let closes_first = pieces.first().is_some_and(|p| p.kind == Kind::Close);
        if (blank_pending || block_ended) && !closes_first {
            out.push('\n');
        }
        let depth_before = depth;
        blank_pending = false;
        let level = depth.saturating_sub(usize::from(closes_first)) + usize::from(continued);
        for _ in 0..level {
            out.push_str(INDENT);
        }
        for (k, p) in pieces.iter().enumerate() {
            // Braces always stand apart on a line (`a { b }`): whitespace around a block's
            // braces is never part of a value.
            let after_open = k > 0 && pieces[k - 1].kind == Kind::Open;
            if k > 0 && (p.spaced || matches!(p.kind, Kind::Open | Kind::Close) || after_open) {
                out.push(' ');
            }
            out.push_str(p.text);
            match p.kind {
                Kind::Open => depth += 1,
                Kind::Close => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        out.push('\n');
        let last = pieces
            .iter()
            .rev()
            .find(|p| p.kind != Kind::LineComment)
            .map(|p| p.kind);
        continued = last == Some(Kind::Continuation);
        after_open = last == Some(Kind::Open);
        // A top-level block stands apart from what follows it.
        block_ended = depth == 0 && depth_before > 0;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::format;

    fn f(text: &str) -> String {
        format(text).unwrap_or_else(|| panic!("not KDL: {text}"))
    }

    #[test]
    fn indentation_spacing_and_blank_lines_become_canonical() {
        let messy = "\n\n// a stack\nstack   \"shop\"\n\n\n\nservice \"web\"   {\n  image  \"nginx\"   // the proxy\n\n\n      port \"8080:80\"\n\n  health { http port=80 path=\"/\" }\n\n}\n\n\n";
        assert_eq!(
            f(messy),
            "// a stack\nstack \"shop\"\n\nservice \"web\" {\n    image \"nginx\" // the proxy\n\n    port \"8080:80\"\n\n    health { http port=80 path=\"/\" }\n}\n"
        );
    }

    #[test]
    fn formatting_twice_changes_nothing() {
        let once = f("service \"a\" {\n\timage \"x\"\n  env {\n A \"1\"\n }\n}\n");
        assert_eq!(f(&once), once);
        assert_eq!(
            once,
            "service \"a\" {\n    image \"x\"\n    env {\n        A \"1\"\n    }\n}\n"
        );
    }

    #[test]
    fn strings_comments_and_touching_tokens_are_kept_as_written() {
        let text = "service \"a\" {\n        build { dockerfile-inline #\"\"\"\n  FROM scratch\n      COPY x /\n  \"\"\"# }\n   /* a\n  block */ env KEY=(secret)\"t\" /-OLD=\"x\" \"a  b\"\n  secret \"s\" mode=0o400 ; image \"i\"\n}\n";
        assert_eq!(
            f(text),
            "service \"a\" {\n    build { dockerfile-inline #\"\"\"\n  FROM scratch\n      COPY x /\n  \"\"\"# }\n    /* a\n  block */ env KEY=(secret)\"t\" /-OLD=\"x\" \"a  b\"\n    secret \"s\" mode=0o400 ; image \"i\"\n}\n"
        );
    }

    #[test]
    fn braces_stand_apart_within_a_line() {
        assert_eq!(
            f("service \"a\"{\nhealth {tcp port=80}\n}\n"),
            "service \"a\" {\n    health { tcp port=80 }\n}\n"
        );
    }

    #[test]
    fn a_block_that_spans_lines_opens_and_closes_on_lines_of_its_own() {
        assert_eq!(
            f("service \"a\" { image \"x\"\nhealth { shell \"t\"\ninterval \"5s\" } }\n"),
            "service \"a\" {\n    image \"x\"\n    health {\n        shell \"t\"\n        interval \"5s\"\n    }\n}\n"
        );
        assert_eq!(
            f("service \"a\" { // the api\n}\n"),
            "service \"a\" { // the api\n}\n"
        );
    }

    #[test]
    fn a_continued_line_is_indented_one_more_level() {
        assert_eq!(
            f("service \"a\" {\ncommand \"sh\" \\\n\"-c\" \"true\"\n}\n"),
            "service \"a\" {\n    command \"sh\" \\\n        \"-c\" \"true\"\n}\n"
        );
    }

    #[test]
    fn invalid_kdl_is_not_formatted() {
        assert_eq!(format("service \"a\" {\n"), None);
        assert_eq!(format(""), Some(String::new()));
    }
}
