//! The parts of KDL text every scanner of stackr must read alike: strings (quoted, raw,
//! multi-line), block comments and the end of a bare word. The guard, the formatter and the
//! language server's scanners (the cursor, folding, semantic tokens) all read them here.
//!
//! Everything here forgives what is unfinished, as text being typed is: a string that is not
//! closed ends at the end of its line (a single-line one) or of the text (a multi-line one),
//! and says so, as the parser also goes on from the next line.

use std::ops::Range;

/// KDL's whitespace and newlines, beyond ASCII's.
pub fn is_space(c: char) -> bool {
    c.is_whitespace() || c == '\u{feff}'
}

/// Characters that end a bare word (an identifier, a number or a keyword).
pub fn ends_word(c: char) -> bool {
    is_space(c)
        || matches!(
            c,
            '{' | '}' | '(' | ')' | '[' | ']' | ';' | '=' | '"' | '/' | '\\' | '#'
        )
}

/// How many `#` open a raw string at `i` (`#"`, `##"""`), if a string opens there (0 for a
/// quote).
pub fn string_opens(b: &[u8], i: usize) -> Option<usize> {
    let n = b.get(i..)?.iter().take_while(|c| **c == b'#').count();
    (b.get(i + n) == Some(&b'"')).then_some(n)
}

/// A string as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quoted {
    /// Its text between the quotes (escapes as written).
    pub text: Range<usize>,
    /// Just past its closing quotes and `#`s, or where it stops when it is not closed.
    pub end: usize,
    /// It is closed.
    pub closed: bool,
}

/// The string that opens at `i` (its `#`s or its quote), if one opens there.
pub fn string_at(b: &[u8], i: usize) -> Option<Quoted> {
    let hashes = string_opens(b, i)?;
    let quote = i + hashes;
    let rest = b.get(quote..).unwrap_or_default();
    let multi = rest.starts_with(b"\"\"\"\n") || rest.starts_with(b"\"\"\"\r\n");
    let quotes = if multi { 3 } else { 1 };
    let start = quote + quotes;
    let mut k = start;
    while let Some(&c) = b.get(k) {
        if c == b'\n' && !multi {
            break;
        }
        if c == b'\\' && hashes == 0 {
            // An escaped character, a line break (whitespace escape) included.
            k = (k + 2).min(b.len());
            continue;
        }
        if c == b'"'
            && b.len() - k >= quotes + hashes
            && b[k..k + quotes].iter().all(|q| *q == b'"')
            && b[k + quotes..k + quotes + hashes]
                .iter()
                .all(|h| *h == b'#')
        {
            return Some(Quoted {
                text: start..k,
                end: k + quotes + hashes,
                closed: true,
            });
        }
        k += 1;
    }
    let end = k.min(b.len());
    Some(Quoted {
        text: start.min(end)..end,
        end,
        closed: false,
    })
}

/// Where the `/* ... */` comment that opens at `i` ends (comments nest), and whether it is
/// closed (if not, it runs to the end of the text).
pub fn block_comment_end(text: &str, i: usize) -> (usize, bool) {
    let b = text.as_bytes();
    let mut depth = 0usize;
    let mut k = i;
    while k + 1 < b.len() {
        match (b[k], b[k + 1]) {
            (b'/', b'*') => {
                depth += 1;
                k += 2;
            }
            (b'*', b'/') if depth > 0 => {
                depth -= 1;
                k += 2;
                if depth == 0 {
                    return (k, true);
                }
            }
            _ => k += 1,
        }
    }
    (b.len(), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(text: &str) -> Option<(&str, usize, bool)> {
        string_at(text.as_bytes(), 0).map(|q| (&text[q.text], q.end, q.closed))
    }

    #[test]
    fn strings_quoted_raw_and_multi_line() {
        assert_eq!(string(r#""abc" x"#), Some(("abc", 5, true)));
        assert_eq!(string(r#""a\"b" x"#), Some((r#"a\"b"#, 6, true)));
        assert_eq!(string(r##"#"a"b"# x"##), Some((r#"a"b"#, 7, true)));
        assert_eq!(
            string("\"\"\"\nl1\n\"l2\"\n\"\"\" x"),
            Some(("\nl1\n\"l2\"\n", 15, true))
        );
        assert_eq!(string(r#""" x"#), Some(("", 2, true)));
        assert_eq!(string("abc"), None);
    }

    #[test]
    fn an_unclosed_string_ends_at_its_line_and_says_so() {
        // The line after an unclosed string is read as what it is, not as the string.
        assert_eq!(string("\"ngin\n    port"), Some(("ngin", 5, false)));
        assert_eq!(string("\"a\\\"\nb"), Some(("a\\\"", 4, false)));
        assert_eq!(string("\"abc"), Some(("abc", 4, false)));
        assert_eq!(string("\"\"\"\nopen"), Some(("\nopen", 8, false)));
        assert_eq!(string("#\"raw\" still"), Some(("raw\" still", 12, false)));
        assert_eq!(string("\""), Some(("", 1, false)));
    }

    #[test]
    fn block_comments_nest_and_may_be_unclosed() {
        let text = "/* a /* b */ c */ d";
        assert_eq!(block_comment_end(text, 0), (17, true));
        assert_eq!(block_comment_end("/* a /* b */", 0), (12, false));
        assert_eq!(block_comment_end("/*", 0), (2, false));
        assert_eq!(block_comment_end("x /* y */", 2), (9, true));
    }
}
