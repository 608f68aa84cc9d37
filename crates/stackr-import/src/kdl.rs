//! A small KDL v2 writer: nodes with arguments, properties, children and comments, rendered
//! with four-space indentation. Strings are written as they are (no `$` escaping), so that
//! compose's `${VAR:-default}` reaches the stack file unchanged.

use stackr_spec::print::quote;
use std::fmt::Write;

/// A value in a node.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Str(String),
    Int(i64),
    /// A number written as it must appear (`0.5`, `2`).
    Num(String),
    Bool(bool),
    /// A file mode, written in octal (`0o400`).
    Mode(u32),
    /// `(secret)"name"`: the path where a secret is mounted.
    SecretPath(String),
    /// Text of several lines (a Dockerfile), written as a multi-line raw string when it can be.
    Lines(String),
}

impl Val {
    pub fn str(s: impl Into<String>) -> Val {
        Val::Str(s.into())
    }
}

/// A node: `name arg... key=value... { children }` with comment lines above it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Node {
    pub name: String,
    pub args: Vec<Val>,
    pub props: Vec<(String, Val)>,
    pub children: Vec<Node>,
    /// Comment lines written above the node.
    pub comments: Vec<String>,
    /// A comment at the end of the node's line.
    pub trailing: Option<String>,
    /// Written as a comment only (a blank separator when the name is empty).
    pub comment_only: bool,
}

impl Node {
    pub fn new(name: impl Into<String>) -> Node {
        Node {
            name: name.into(),
            ..Node::default()
        }
    }

    pub fn arg(mut self, v: Val) -> Node {
        self.args.push(v);
        self
    }

    pub fn prop(mut self, k: impl Into<String>, v: Val) -> Node {
        self.props.push((k.into(), v));
        self
    }

    pub fn child(mut self, c: Node) -> Node {
        self.children.push(c);
        self
    }

    /// A line that holds only comments.
    pub fn comment(lines: Vec<String>) -> Node {
        Node {
            comments: lines,
            comment_only: true,
            ..Node::default()
        }
    }

    /// An empty line.
    pub fn blank() -> Node {
        Node {
            comment_only: true,
            ..Node::default()
        }
    }
}

/// Renders nodes at the given depth.
pub fn render(nodes: &[Node], depth: usize, out: &mut String) {
    let pad = "    ".repeat(depth);
    for n in nodes {
        for c in &n.comments {
            for line in c.lines() {
                let _ = writeln!(out, "{pad}// {line}");
            }
        }
        if n.comment_only {
            if n.comments.is_empty() {
                out.push('\n');
            }
            continue;
        }
        out.push_str(&pad);
        out.push_str(&ident(&n.name));
        for a in &n.args {
            out.push(' ');
            match a {
                Val::Lines(t) => out.push_str(&lines(t, &pad)),
                a => out.push_str(&value(a)),
            }
        }
        for (k, v) in &n.props {
            let _ = write!(out, " {}={}", ident(k), value(v));
        }
        if !n.children.is_empty() {
            out.push_str(" {\n");
            render(&n.children, depth + 1, out);
            out.push_str(&pad);
            out.push('}');
        }
        if let Some(t) = &n.trailing {
            let _ = write!(out, " // {t}");
        }
        out.push('\n');
    }
}

/// A multi-line raw string (`#"""` ... `"""#`) whose lines are indented one step past the
/// node; a quoted string when the text cannot be written so.
fn lines(t: &str, pad: &str) -> String {
    let clean = !t.contains("\"\"\"#")
        && !t.contains('\r')
        && t.chars().all(|c| {
            c == '\n'
                || c == '\t'
                || !(c.is_control()
                    || stackr_spec::source::is_hidden_control(c)
                    || matches!(
                        c,
                        '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{feff}'
                    ))
        });
    if !clean {
        return quote(t);
    }
    let inner = format!("{pad}    ");
    let mut out = String::from("#\"\"\"\n");
    for line in t.strip_suffix('\n').unwrap_or(t).split('\n') {
        if !line.trim().is_empty() {
            out.push_str(&inner);
            out.push_str(line);
        }
        out.push('\n');
    }
    out.push_str(&inner);
    out.push_str("\"\"\"#");
    out
}

fn value(v: &Val) -> String {
    match v {
        Val::Lines(t) => quote(t),
        Val::Str(s) => quote(s),
        Val::Int(i) => i.to_string(),
        Val::Num(n) => n.clone(),
        Val::Bool(b) => format!("#{b}"),
        Val::Mode(m) => format!("0o{m:o}"),
        Val::SecretPath(s) => format!("(secret){}", quote(s)),
    }
}

/// A node or property name: bare when it is a plain identifier, quoted otherwise.
pub fn ident(s: &str) -> String {
    let bare = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && !s.starts_with(['-', '.'])
        && !matches!(s, "true" | "false" | "null" | "inf" | "nan");
    if bare { s.to_string() } else { quote(s) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_nested_nodes_and_comments() {
        let mut n = Node::new("service")
            .arg(Val::str("web"))
            .child(Node::new("env").child(Node::new("A B").arg(Val::str("x\"y"))))
            .child(
                Node::new("secret")
                    .arg(Val::str("s"))
                    .prop("mode", Val::Mode(0o400)),
            );
        n.comments.push("imported".into());
        let mut out = String::new();
        render(&[n], 0, &mut out);
        assert_eq!(
            out,
            "// imported\nservice \"web\" {\n    env {\n        \"A B\" \"x\\\"y\"\n    }\n    secret \"s\" mode=0o400\n}\n"
        );
    }
}
