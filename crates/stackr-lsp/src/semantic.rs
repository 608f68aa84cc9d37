//! Semantic tokens: what each word of a stack file is (a node, a property, a string, a
//! number, a keyword value, a comment, a type annotation, a `${VAR}`), for editors that
//! colour by meaning rather than by a grammar of their own for KDL.

use lsp_types::{SemanticToken, SemanticTokenType, SemanticTokensLegend};

use stackr_spec::lex;

use crate::document::position;

/// The token types, in the legend's order.
const TYPES: [SemanticTokenType; 8] = [
    SemanticTokenType::KEYWORD,
    SemanticTokenType::PROPERTY,
    SemanticTokenType::STRING,
    SemanticTokenType::NUMBER,
    SemanticTokenType::ENUM_MEMBER,
    SemanticTokenType::COMMENT,
    SemanticTokenType::TYPE,
    SemanticTokenType::VARIABLE,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Node = 0,
    Property = 1,
    Str = 2,
    Number = 3,
    Value = 4,
    Comment = 5,
    Type = 6,
    Variable = 7,
}

pub fn legend() -> SemanticTokensLegend {
    SemanticTokensLegend {
        token_types: TYPES.to_vec(),
        token_modifiers: Vec::new(),
    }
}

/// The tokens of `text`, by byte range.
fn tokens(text: &str) -> Vec<(usize, usize, Kind)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    // The next word is a node's name.
    let mut at_node = true;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'\n' | b';' | b'{' | b'}' => {
                at_node = true;
                i += 1;
            }
            b' ' | b'\t' | b'\r' | b'=' => i += 1,
            b'\\' => {
                // A continuation: the node goes on after the newline.
                i = text[i..].find('\n').map_or(bytes.len(), |n| i + n + 1);
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                let end = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
                out.push((i, end, Kind::Comment));
                i = end;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let end = lex::block_comment_end(text, i).0;
                out.push((i, end, Kind::Comment));
                i = end;
            }
            b'/' if bytes.get(i + 1) == Some(&b'-') => {
                out.push((i, i + 2, Kind::Comment));
                i += 2;
            }
            b'(' => {
                let end = text[i..].find(')').map_or(bytes.len(), |n| i + n + 1);
                out.push((i, end, Kind::Type));
                i = end;
            }
            b'"' | b'#' if let Some(q) = lex::string_at(bytes, i) => {
                let end = q.end;
                let kind = if at_node { Kind::Node } else { Kind::Str };
                push_string(text, i, end, kind, &mut out);
                at_node = false;
                i = end;
            }
            _ => {
                // A word: its first character (whatever it is), then up to a delimiter.
                let first = text[i..].chars().next().map_or(1, char::len_utf8);
                let end = text[i + first..]
                    .find(|ch: char| ch.is_whitespace() || "{};=()\"\\".contains(ch))
                    .map_or(bytes.len(), |n| i + first + n);
                let word = &text[i..end];
                let kind = if at_node {
                    Kind::Node
                } else if bytes.get(end) == Some(&b'=') {
                    Kind::Property
                } else if word.starts_with('#') {
                    Kind::Value
                } else if word.starts_with(|ch: char| ch.is_ascii_digit() || ch == '-' || ch == '+')
                {
                    Kind::Number
                } else {
                    Kind::Str
                };
                out.push((i, end, kind));
                at_node = false;
                i = end;
            }
        }
    }
    out
}

/// A string, with each `${...}` in it as a variable of its own (tokens do not overlap).
fn push_string(
    text: &str,
    start: usize,
    end: usize,
    kind: Kind,
    out: &mut Vec<(usize, usize, Kind)>,
) {
    let mut from = start;
    while let Some(open) = text[from..end].find("${") {
        let open = from + open;
        let Some(close) = text[open..end].find('}') else {
            break;
        };
        let close = open + close + 1;
        if open > from {
            out.push((from, open, kind));
        }
        out.push((open, close, Kind::Variable));
        from = close;
    }
    if from < end {
        out.push((from, end, kind));
    }
}

/// The tokens of `text` as LSP encodes them: relative lines and UTF-16 columns, one line
/// each (a multi-line string or comment is cut at its newlines).
pub fn encode(text: &str) -> Vec<SemanticToken> {
    let mut out = Vec::new();
    let (mut last_line, mut last_start) = (0u32, 0u32);
    for (start, end, kind) in tokens(text) {
        let mut from = start;
        for piece in text[start..end].split_inclusive('\n') {
            let piece_end = from + piece.trim_end_matches(['\n', '\r']).len();
            if piece_end > from {
                let a = position(text, from);
                let b = position(text, piece_end);
                let delta_line = a.line - last_line;
                let delta_start = if delta_line == 0 {
                    a.character - last_start
                } else {
                    a.character
                };
                out.push(SemanticToken {
                    delta_line,
                    delta_start,
                    length: b.character - a.character,
                    token_type: kind as u32,
                    token_modifiers_bitset: 0,
                });
                last_line = a.line;
                last_start = a.character;
            }
            from += piece.len();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_what_they_are() {
        let text = "service \"api\" { // the API\n    image \"app:${TAG}\"\n    depends-on \"db\" required=#false\n    scale 2\n    env (secret)\"X\"\n}\n";
        let found: Vec<(&str, Kind)> = tokens(text)
            .into_iter()
            .map(|(s, e, k)| (&text[s..e], k))
            .collect();
        assert_eq!(
            found,
            [
                ("service", Kind::Node),
                ("\"api\"", Kind::Str),
                ("// the API", Kind::Comment),
                ("image", Kind::Node),
                ("\"app:", Kind::Str),
                ("${TAG}", Kind::Variable),
                ("\"", Kind::Str),
                ("depends-on", Kind::Node),
                ("\"db\"", Kind::Str),
                ("required", Kind::Property),
                ("#false", Kind::Value),
                ("scale", Kind::Node),
                ("2", Kind::Number),
                ("env", Kind::Node),
                ("(secret)", Kind::Type),
                ("\"X\"", Kind::Str),
            ]
        );
    }

    #[test]
    fn a_stray_character_that_is_not_ascii_is_a_word_of_its_own() {
        // A no-break space and a stray `)`: neither may split a character.
        let text = "a\u{a0}b )\u{a0}\n";
        let found: Vec<&str> = tokens(text)
            .into_iter()
            .map(|(s, e, _)| &text[s..e])
            .collect();
        assert_eq!(found, ["a", "\u{a0}b", ")", "\u{a0}"]);
        assert_eq!(encode(text).len(), 4);
    }

    #[test]
    fn the_encoding_is_relative_and_cut_at_newlines() {
        let text = "a \"é\" /* x\ny */ b\n";
        let data: Vec<[u32; 4]> = encode(text)
            .into_iter()
            .map(|t| [t.delta_line, t.delta_start, t.length, t.token_type])
            .collect();
        assert_eq!(
            data,
            [
                [0, 0, 1, 0],
                [0, 2, 3, 2],
                [0, 4, 4, 5],
                [1, 0, 4, 5],
                [0, 5, 1, 2]
            ]
        );
    }
}
