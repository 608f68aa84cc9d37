//! Where the cursor is in a stack file that is being typed, and so may not be valid KDL: the
//! blocks around it, the node it is in, and the word it is on. A small scanner of its own
//! that forgives what is unfinished (an open string, a missing brace), which a parser cannot;
//! strings and comments are read by `stackr_spec::lex`, as the guard and the formatter read them.

use stackr_spec::lex;

/// What is being typed at the cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Typing {
    /// A node's name (the first word of a node).
    NodeName,
    /// An entry after the node's name: an argument or a property's name.
    Entry,
    /// The value of property `prop`.
    PropValue { prop: String },
    /// The name of a variable, after `${` in a string.
    Variable,
}

/// The cursor's place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The names of the nodes whose blocks hold the cursor, outermost first.
    pub path: Vec<String>,
    /// The first argument of each of those nodes (a service's name), as written.
    pub path_args: Vec<Option<String>>,
    /// The node the cursor is in, when it is past its name.
    pub node: Option<String>,
    /// What is being typed.
    pub typing: Typing,
    /// The part of the word already typed (a string's text without its quote).
    pub prefix: String,
    /// Where that part starts (a byte offset): a completion replaces from there to the cursor.
    pub start: usize,
    /// The word is inside a string.
    pub in_string: bool,
}

impl Cursor {
    /// The path as the schema takes it.
    pub fn schema_path(&self) -> Vec<&str> {
        self.path.iter().map(String::as_str).collect()
    }
}

/// One word or string of the node being scanned.
#[derive(Debug, Default)]
struct Token {
    text: String,
    /// Where its value starts: after `=` for a property, after the quote for a string.
    value_start: usize,
    /// `name=` was read: the property's name.
    prop: Option<String>,
    in_string: bool,
}

/// The scanner's state at the cursor.
#[derive(Default)]
struct Scan {
    blocks: Vec<String>,
    block_args: Vec<Option<String>>,
    /// The finished tokens of the current node.
    node: Vec<String>,
    /// The token being read.
    token: Option<Token>,
}

impl Scan {
    fn end_token(&mut self) {
        if let Some(t) = self.token.take() {
            // A property counts as an entry; only the node's name is needed by text.
            self.node.push(t.text);
        }
    }

    fn end_node(&mut self) {
        self.end_token();
        self.node.clear();
    }

    fn token(&mut self, at: usize) -> &mut Token {
        self.token.get_or_insert_with(|| Token {
            value_start: at,
            ..Token::default()
        })
    }
}

/// Where the cursor at byte `offset` of `text` is.
pub fn at(text: &str, offset: usize) -> Cursor {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let bytes = before.as_bytes();
    let mut s = Scan::default();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'\n' | b';' => {
                s.end_node();
                i += 1;
            }
            b' ' | b'\t' | b'\r' => {
                s.end_token();
                i += 1;
            }
            b'{' => {
                s.end_token();
                let name = s.node.first().cloned().unwrap_or_default();
                s.blocks.push(name);
                s.block_args.push(s.node.get(1).cloned());
                s.node.clear();
                i += 1;
            }
            b'}' => {
                s.end_node();
                s.blocks.pop();
                s.block_args.pop();
                i += 1;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i = before[i..].find('\n').map_or(bytes.len(), |n| i + n);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => i = lex::block_comment_end(before, i).0,
            b'/' if bytes.get(i + 1) == Some(&b'-') => i += 2,
            b'\\' => {
                // A line continuation: the node goes on after the newline.
                i = before[i..].find('\n').map_or(bytes.len(), |n| i + n + 1);
            }
            b'(' => {
                s.end_token();
                i = before[i..].find(')').map_or(bytes.len(), |n| i + n + 1);
            }
            b'"' | b'#' if let Some(q) = lex::string_at(bytes, i) => {
                let t = s.token(i);
                t.value_start = q.text.start;
                t.text.push_str(&before[q.text.clone()]);
                // Not closed before the cursor: the cursor is in it. A single-line string
                // left open on an earlier line ends there, as the parser reads it.
                t.in_string = !q.closed && q.end >= bytes.len();
                i = q.end;
            }
            b'=' => {
                let t = s.token(i);
                t.prop = Some(std::mem::take(&mut t.text));
                t.value_start = i + 1;
                i += 1;
            }
            _ => {
                let ch = before[i..].chars().next().map_or(1, char::len_utf8);
                s.token(i).text.push_str(&before[i..i + ch]);
                i += ch;
            }
        }
    }
    finish(s, before)
}

fn finish(s: Scan, before: &str) -> Cursor {
    let path = s.blocks;
    let path_args = s.block_args;
    let token = s.token.unwrap_or(Token {
        value_start: before.len(),
        ..Token::default()
    });
    let node = s.node.first().cloned();
    if token.in_string
        && let Some(open) = token.text.rfind("${")
        && !token.text[open..].contains('}')
    {
        let name = token.text[open + 2..].to_string();
        return Cursor {
            path,
            path_args,
            node,
            typing: Typing::Variable,
            start: before.len() - name.len(),
            prefix: name,
            in_string: true,
        };
    }
    let typing = match (&node, &token.prop) {
        (_, Some(prop)) => Typing::PropValue { prop: prop.clone() },
        (None, None) => Typing::NodeName,
        (Some(_), None) => Typing::Entry,
    };
    Cursor {
        path,
        path_args,
        node,
        typing,
        prefix: token.text,
        start: token.value_start,
        in_string: token.in_string,
    }
}

/// The ranges of the blocks that span lines (for folding): the offsets of `{` and `}`.
pub fn blocks(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut open = Vec::new();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => i = lex::block_comment_end(text, i).0,
            b'"' | b'#' if let Some(q) = lex::string_at(bytes, i) => i = q.end,
            b'{' => {
                open.push(i);
                i += 1;
            }
            b'}' => {
                if let Some(start) = open.pop() {
                    out.push((start, i));
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cursor at `|` of `marked`.
    fn cursor(marked: &str) -> Cursor {
        let offset = marked.find('|').unwrap_or(marked.len());
        let text = marked.replacen('|', "", 1);
        at(&text, offset)
    }

    #[test]
    fn the_path_is_the_open_blocks() {
        let c = cursor("service \"a\" {\n    health {\n        |\n");
        assert_eq!(c.path, ["service", "health"]);
        assert_eq!(c.typing, Typing::NodeName);
        let c = cursor("profile \"dev\" { service \"a\" { image \"x\" }\n    serv|");
        assert_eq!(c.path, ["profile"]);
        assert_eq!(c.prefix, "serv");
        assert_eq!(c.typing, Typing::NodeName);
    }

    #[test]
    fn strings_comments_and_continuations_do_not_confuse_it() {
        let c = cursor("service \"{a\" { // {\n  /* { } */ command \"}\" \\\n    \"x\" |");
        assert_eq!(c.path, ["service"]);
        assert_eq!(c.node.as_deref(), Some("command"));
        assert_eq!(c.typing, Typing::Entry);
    }

    #[test]
    fn entries_properties_and_strings() {
        let c = cursor("service \"a\" {\n  depends-on \"db\" condition=\"hea|");
        assert_eq!(
            c.typing,
            Typing::PropValue {
                prop: "condition".into()
            }
        );
        assert_eq!(c.prefix, "hea");
        assert!(c.in_string);
        let c = cursor("service \"a\" {\n  depends-on \"d|");
        assert_eq!(c.typing, Typing::Entry);
        assert_eq!((c.prefix.as_str(), c.in_string), ("d", true));
        let c = cursor("service \"a\" {\n  restart |");
        assert_eq!((c.typing, c.prefix.as_str()), (Typing::Entry, ""));
    }

    #[test]
    fn variables_inside_strings() {
        let c = cursor("service \"a\" {\n  image \"app:${TA|");
        assert_eq!(c.typing, Typing::Variable);
        assert_eq!(c.prefix, "TA");
        let c = cursor("service \"a\" {\n  image \"app:${TAG}|");
        assert_eq!(c.typing, Typing::Entry);
    }

    #[test]
    fn blocks_are_found_outside_strings_and_comments() {
        let text = "a {\n  b \"{\" {\n  }\n}\n// {\n";
        assert_eq!(blocks(text), [(2, 18), (12, 16)]);
    }

    /// A string left open on a line ended that line: completion on every later line, and
    /// folding of the blocks after it, read the rest of the file as the string.
    #[test]
    fn an_unclosed_string_on_an_earlier_line_does_not_swallow_the_rest() {
        let c = cursor("service \"web\" {\n    image \"ngin\n    |\n}\n");
        assert_eq!(c.path, ["service"]);
        assert_eq!(c.typing, Typing::NodeName);
        assert!(!c.in_string);
        let c = cursor("service \"web\" {\n    image \"ngin\n    health {\n        inter|");
        assert_eq!(c.path, ["service", "health"]);
        assert_eq!(c.prefix, "inter");
        let text = "a \"open\nb {\n}\n";
        assert_eq!(blocks(text), [(10, 12)]);
        // A multi-line string runs over lines, and the cursor may be in it.
        let c = cursor("service \"web\" {\n    command \"\"\"\n    run ${PO|");
        assert_eq!(c.typing, Typing::Variable);
        assert_eq!(c.prefix, "PO");
    }
}
