//! Variable interpolation with compose's syntax and precedence.
//!
//! `$VAR`, `${VAR}`, `${VAR:-default}` (unset or empty), `${VAR-default}` (unset),
//! `${VAR:?message}` / `${VAR?message}` (an error), `${VAR:+replacement}` /
//! `${VAR+replacement}`, nested expansions inside defaults and messages, and `$$` for a
//! literal `$`. The operator is the one right after the name, so `${A-x:?y}` is a default.

use std::collections::{BTreeMap, HashSet};

use thiserror::Error;

/// Why a value could not be interpolated.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InterpolationError {
    #[error("required variable {name} is missing a value{}", message_suffix(.message))]
    Required { name: String, message: String },
    #[error("invalid interpolation `{text}`: {reason}")]
    Invalid { text: String, reason: &'static str },
    #[error("the value would be longer than {} after interpolation", crate::limits::show_bytes(*limit as u64))]
    TooLong { limit: usize },
    #[error("`${{...}}` are nested more than {limit} levels deep")]
    TooDeep { limit: usize },
    #[error("interpolation makes more than {} in this file", crate::limits::show_bytes(*limit as u64))]
    Budget { limit: usize },
}

/// How deep `${A:-${B:-...}}` may nest.
pub const MAX_NESTING: usize = 16;

fn message_suffix(m: &str) -> String {
    if m.is_empty() {
        String::new()
    } else {
        format!(": {m}")
    }
}

/// Where variables come from.
pub trait Variables {
    fn get(&self, name: &str) -> Option<&str>;
}

impl Variables for BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<&str> {
        BTreeMap::get(self, name).map(String::as_str)
    }
}

/// The result of interpolating one value: the text, and the variables that were used but not
/// set (compose warns about each and uses an empty string).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Interpolated {
    pub text: String,
    pub unset: Vec<String>,
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Interpolates `text`. The result is at most [`MAX_VALUE_BYTES`] long, and `${...}` nest at
/// most [`MAX_NESTING`] deep.
///
/// [`MAX_VALUE_BYTES`]: crate::limits::MAX_VALUE_BYTES
pub fn interpolate(text: &str, vars: &dyn Variables) -> Result<Interpolated, InterpolationError> {
    let mut work = crate::limits::MAX_INTERPOLATED_BYTES;
    interpolate_within(text, vars, &mut work)
}

/// [`interpolate`] sharing `work` with the other values of a file: the bytes variables may
/// still add, whatever becomes of them (a value cut short at its limit, or the message of a
/// required variable, costs what it copied). Past it: [`InterpolationError::Budget`].
pub fn interpolate_within(
    text: &str,
    vars: &dyn Variables,
    work: &mut usize,
) -> Result<Interpolated, InterpolationError> {
    let mut out = Acc::new(work);
    let chars: Vec<char> = text.chars().collect();
    expand(&chars, vars, &mut out, 0)?;
    Ok(Interpolated {
        text: out.text,
        unset: out.unset,
    })
}

/// A value being made.
struct Acc<'w> {
    text: String,
    /// Unset names, each once, in the order first used.
    unset: Vec<String>,
    seen: HashSet<String>,
    work: &'w mut usize,
}

impl<'w> Acc<'w> {
    fn new(work: &'w mut usize) -> Self {
        Acc {
            text: String::new(),
            unset: Vec::new(),
            seen: HashSet::new(),
            work,
        }
    }

    fn note_unset(&mut self, name: &str) {
        if !self.seen.contains(name) {
            self.seen.insert(name.to_string());
            self.unset.push(name.to_string());
        }
    }

    /// Adds text from the template itself (bounded by the file's size).
    fn push(&mut self, text: &str) -> Result<(), InterpolationError> {
        if self.text.len() + text.len() > crate::limits::MAX_VALUE_BYTES {
            return Err(InterpolationError::TooLong {
                limit: crate::limits::MAX_VALUE_BYTES,
            });
        }
        self.text.push_str(text);
        Ok(())
    }

    /// Adds a variable's value, charged to the file's work.
    fn push_value(&mut self, text: &str) -> Result<(), InterpolationError> {
        if text.len() > *self.work {
            return Err(InterpolationError::Budget {
                limit: crate::limits::MAX_INTERPOLATED_BYTES,
            });
        }
        *self.work -= text.len();
        self.push(text)
    }
}

/// The text of an invalid template, cut short when it is long.
fn invalid(chars: &[char], reason: &'static str) -> InterpolationError {
    InterpolationError::Invalid {
        text: shorten(chars.iter().copied()),
        reason,
    }
}

/// At most 80 characters of a text quoted in a message.
fn shorten(chars: impl Iterator<Item = char>) -> String {
    const SHOWN: usize = 80;
    let mut chars = chars.peekable();
    let mut text: String = chars.by_ref().take(SHOWN).collect();
    if chars.peek().is_some() {
        text.push('…');
    }
    text
}

fn expand(
    chars: &[char],
    vars: &dyn Variables,
    out: &mut Acc<'_>,
    depth: usize,
) -> Result<(), InterpolationError> {
    if depth > MAX_NESTING {
        return Err(InterpolationError::TooDeep { limit: MAX_NESTING });
    }
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '$' {
            out.push(c.encode_utf8(&mut [0; 4]))?;
            i += 1;
            continue;
        }
        match chars.get(i + 1) {
            Some('$') => {
                out.push("$")?;
                i += 2;
            }
            Some('{') => {
                let end = matching_brace(chars, i + 1)
                    .ok_or_else(|| invalid(chars, "a `${` is not closed by `}`"))?;
                let inner = &chars[i + 2..end];
                substitute(inner, chars, vars, out, depth)?;
                i = end + 1;
            }
            Some(&n) if is_name_start(n) => {
                let mut j = i + 1;
                while j < chars.len() && is_name_char(chars[j]) {
                    j += 1;
                }
                let name: String = chars[i + 1..j].iter().collect();
                lookup(&name, vars, out)?;
                i = j;
            }
            _ => {
                return Err(invalid(
                    chars,
                    "a `$` must start a variable (`$NAME`, `${NAME}`); write `$$` for a literal `$`",
                ));
            }
        }
    }
    Ok(())
}

/// The index of the `}` closing the `{` at `open`, counting nested `${`.
fn matching_brace(chars: &[char], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = open;
    while i < chars.len() {
        match chars[i] {
            '$' if chars.get(i + 1) == Some(&'$') => {
                i += 2;
                continue;
            }
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn lookup(name: &str, vars: &dyn Variables, out: &mut Acc<'_>) -> Result<(), InterpolationError> {
    match vars.get(name) {
        Some(v) => out.push_value(v),
        None => {
            out.note_unset(name);
            Ok(())
        }
    }
}

fn substitute(
    inner: &[char],
    whole: &[char],
    vars: &dyn Variables,
    out: &mut Acc<'_>,
    depth: usize,
) -> Result<(), InterpolationError> {
    let name_len = inner.iter().take_while(|c| is_name_char(**c)).count();
    if name_len == 0 || !is_name_start(inner[0]) {
        return Err(invalid(whole, "`${...}` must start with a variable name"));
    }
    let name: String = inner[..name_len].iter().collect();
    let rest = &inner[name_len..];
    if rest.is_empty() {
        return lookup(&name, vars, out);
    }
    let (op, arg): (&str, &[char]) = match (rest[0], rest.get(1)) {
        (':', Some('-')) => (":-", &rest[2..]),
        (':', Some('?')) => (":?", &rest[2..]),
        (':', Some('+')) => (":+", &rest[2..]),
        ('-', _) => ("-", &rest[1..]),
        ('?', _) => ("?", &rest[1..]),
        ('+', _) => ("+", &rest[1..]),
        _ => {
            return Err(invalid(
                whole,
                "after the name comes `}`, `:-`, `-`, `:?`, `?`, `:+` or `+`",
            ));
        }
    };
    let value = vars.get(&name);
    let set = value.is_some();
    let non_empty = value.is_some_and(|v| !v.is_empty());
    let expand_arg = |out: &mut Acc<'_>| -> Result<String, InterpolationError> {
        let (text, unset) = {
            let mut sub = Acc::new(&mut *out.work);
            expand(arg, vars, &mut sub, depth + 1)?;
            (sub.text, sub.unset)
        };
        for u in &unset {
            out.note_unset(u);
        }
        Ok(text)
    };
    match op {
        ":-" | "-" => {
            let use_value = if op == ":-" { non_empty } else { set };
            if use_value {
                out.push_value(value.unwrap_or_default())?;
            } else {
                let d = expand_arg(out)?;
                out.push(&d)?;
            }
        }
        ":?" | "?" => {
            let ok = if op == ":?" { non_empty } else { set };
            if ok {
                out.push_value(value.unwrap_or_default())?;
            } else {
                let message = shorten(expand_arg(out)?.chars());
                return Err(InterpolationError::Required { name, message });
            }
        }
        _ => {
            let replace = if op == ":+" { non_empty } else { set };
            if replace {
                let r = expand_arg(out)?;
                out.push(&r)?;
            }
        }
    }
    Ok(())
}

/// A `KEY=value` line of an env file that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("line {line}: {reason}")]
pub struct DotenvError {
    pub line: usize,
    pub offset: usize,
    pub len: usize,
    pub reason: String,
}

/// Parses an env file as compose does: `KEY=value`, `export KEY=value`, `#` comments, single
/// quotes (literal), double quotes (with `\n`, `\t`, `\"`, `\\` escapes, may span lines), and
/// ` #` starting a comment after an unquoted value. Values are interpolated with `vars` (the
/// shell, which wins) and then earlier lines, except in single quotes.
pub fn parse_dotenv(
    text: &str,
    vars: &dyn Variables,
) -> Result<Vec<(String, String)>, DotenvError> {
    let mut d = parse_dotenv_all(text, vars);
    if d.errors.is_empty() {
        Ok(d.vars)
    } else {
        Err(d.errors.remove(0))
    }
}

/// An env file read line by line: what [`parse_dotenv_all`] gives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dotenv {
    /// The variables of the good lines.
    pub vars: Vec<(String, String)>,
    /// Every bad line, in order.
    pub errors: Vec<DotenvError>,
    /// Lines that use a variable that is set nowhere (it reads as empty), with its name.
    pub unset: Vec<(DotenvError, String)>,
}

/// [`parse_dotenv`] that goes on past a bad line: the variables of the good lines, and every
/// problem, in order.
pub fn parse_dotenv_all(text: &str, vars: &dyn Variables) -> Dotenv {
    let mut errors: Vec<DotenvError> = Vec::new();
    let mut unset: Vec<(DotenvError, String)> = Vec::new();
    let mut out: Vec<(String, String)> = Vec::new();
    // Where each key is in `out`, so that a lookup is not a scan.
    let mut index: std::collections::HashMap<String, usize> = Default::default();
    let mut work = crate::limits::MAX_INTERPOLATED_BYTES;
    let mut offset = 0usize;
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut idx = 0;
    while idx < lines.len() {
        let raw = lines[idx];
        let line_no = idx + 1;
        let line_start = offset;
        offset += raw.len();
        idx += 1;
        let line = raw.trim_end_matches(['\n', '\r']);
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let body = trimmed
            .strip_prefix("export ")
            .map_or(trimmed, str::trim_start);
        let err = |reason: String| DotenvError {
            line: line_no,
            offset: line_start,
            len: line.len(),
            reason,
        };
        let Some((key, value)) = body.split_once('=') else {
            // A bare name is compose's "take it from the environment".
            let key = body.trim();
            if key.chars().all(is_name_char) && key.chars().next().is_some_and(is_name_start) {
                if let Some(v) = vars.get(key) {
                    out.push((key.to_string(), v.to_string()));
                }
                continue;
            }
            errors.push(err(format!("expected `KEY=value`, found `{body}`")));
            continue;
        };
        let key = key.trim();
        if !(key.chars().next().is_some_and(is_name_start)
            && key.chars().all(|c| is_name_char(c) || c == '.' || c == '-'))
        {
            errors.push(err(format!("`{key}` is not a variable name")));
            continue;
        }
        let value = value.trim_start();
        let parsed = if let Some(rest) = value.strip_prefix('\'') {
            match rest.find('\'') {
                Some(end) => rest[..end].to_string(),
                None => {
                    errors.push(err("a single quote is not closed".into()));
                    continue;
                }
            }
        } else {
            let template = if let Some(rest) = value.strip_prefix('"') {
                let mut buf = String::new();
                // Keep the line break: a double-quoted value may go on over several lines.
                let mut chunk = if raw.ends_with('\n') {
                    format!("{rest}\n")
                } else {
                    rest.to_string()
                };
                let closed = loop {
                    let mut chars = chunk.chars().peekable();
                    let mut done = false;
                    while let Some(c) = chars.next() {
                        match c {
                            '\\' => match chars.next() {
                                Some('n') => buf.push('\n'),
                                Some('t') => buf.push('\t'),
                                Some('r') => buf.push('\r'),
                                Some('"') => buf.push('"'),
                                Some('\\') => buf.push('\\'),
                                Some('$') => buf.push_str("$$"),
                                Some(o) => {
                                    buf.push('\\');
                                    buf.push(o);
                                }
                                None => buf.push('\\'),
                            },
                            '"' => {
                                done = true;
                                break;
                            }
                            o => buf.push(o),
                        }
                    }
                    if done {
                        break true;
                    }
                    // The value goes on on the next line.
                    match lines.get(idx) {
                        Some(next) => {
                            offset += next.len();
                            idx += 1;
                            chunk = next.to_string();
                        }
                        None => break false,
                    }
                };
                if !closed {
                    errors.push(err("a double quote is not closed".into()));
                    continue;
                }
                buf
            } else {
                let v = match value.find(" #") {
                    Some(i) => &value[..i],
                    None => value,
                };
                v.trim_end().to_string()
            };
            let known = Chain {
                first: &out,
                index: &index,
                then: vars,
            };
            match interpolate_within(&template, &known, &mut work) {
                Ok(i) => {
                    let found = i.unset.iter();
                    unset.extend(found.map(|n| (err(format!("`{n}` is not set")), n.clone())));
                    i.text
                }
                Err(e) => {
                    let stop = matches!(e, InterpolationError::Budget { .. });
                    errors.push(err(e.to_string()));
                    if stop {
                        break;
                    }
                    continue;
                }
            }
        };
        match index.get(key) {
            Some(&i) => out[i].1 = parsed,
            None => {
                index.insert(key.to_string(), out.len());
                out.push((key.to_string(), parsed));
            }
        }
    }
    Dotenv {
        vars: out,
        errors,
        unset,
    }
}

/// The outer variables (the shell wins, as in compose), then earlier lines of the env file.
struct Chain<'a> {
    first: &'a [(String, String)],
    index: &'a std::collections::HashMap<String, usize>,
    then: &'a dyn Variables,
}

impl Variables for Chain<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.then.get(name).or_else(|| {
            let i = *self.index.get(name)?;
            self.first.get(i).map(|(_, v)| v.as_str())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// compose-go's test mapping: FOO is set, BAR is set but empty.
    fn vars() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("FOO".into(), "first".into()),
            ("BAR".into(), String::new()),
        ])
    }

    fn sub(t: &str) -> Result<String, InterpolationError> {
        interpolate(t, &vars()).map(|i| i.text)
    }

    fn ok(t: &str) -> String {
        sub(t).unwrap_or_else(|e| panic!("{t}: {e}"))
    }

    // The cases below mirror compose-go's template tests one by one.

    #[test]
    fn escaped() {
        assert_eq!(ok("$${foo}"), "${foo}");
        assert_eq!(ok("$$FOO"), "$FOO");
    }

    #[test]
    fn no_match() {
        assert_eq!(ok("foo"), "foo");
    }

    #[test]
    fn invalid_templates() {
        for t in [
            "${", "$}", "${}", "${ }", "${ foo}", "${foo }", "${foo!}", "$", "$5", "a $ b",
        ] {
            assert!(
                matches!(sub(t), Err(InterpolationError::Invalid { .. })),
                "{t} should be invalid: {:?}",
                sub(t)
            );
        }
    }

    #[test]
    fn non_braced_stops_at_non_name_char() {
        assert_eq!(ok("$FOO-bar"), "first-bar");
    }

    #[test]
    fn unset_and_empty_without_default() {
        let r = interpolate("This ${missing} var", &vars()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.text, "This  var");
        assert_eq!(r.unset, vec!["missing".to_string()]);
        let r = interpolate("This ${BAR} var", &vars()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.text, "This  var");
        assert!(r.unset.is_empty(), "an empty variable is set");
    }

    #[test]
    fn value_without_default() {
        assert_eq!(ok("This $FOO var"), "This first var");
        assert_eq!(ok("This ${FOO} var"), "This first var");
    }

    #[test]
    fn defaults() {
        assert_eq!(ok("ok ${missing:-def}"), "ok def");
        assert_eq!(ok("ok ${missing-def}"), "ok def");
        assert_eq!(ok("ok ${BAR:-def}"), "ok def");
        assert_eq!(ok("ok ${FOO:-def}"), "ok first");
        assert_eq!(ok("ok ${BAR-def}"), "ok ");
        assert_eq!(ok("ok ${BAR:-/non:-alphanumeric}"), "ok /non:-alphanumeric");
    }

    #[test]
    fn nested_defaults() {
        assert_eq!(ok("ok ${UNSET_VAR-$FOO}"), "ok first");
        assert_eq!(ok("ok ${UNSET_VAR-${FOO}}"), "ok first");
        assert_eq!(ok("ok ${UNSET_VAR-${FOO} ${FOO}}"), "ok first first");
        assert_eq!(ok("ok ${BAR:-$FOO}"), "ok first");
        assert_eq!(ok("ok ${BAR:-${FOO}}"), "ok first");
        assert_eq!(ok("ok ${BAR:-${FOO} ${FOO}}"), "ok first first");
        assert_eq!(ok("${A:-${B:-${FOO}}}"), "first");
    }

    #[test]
    fn mandatory_errors() {
        for (t, msg) in [
            (
                "not ok ${UNSET_VAR:?Mandatory Variable Unset}",
                "required variable UNSET_VAR is missing a value: Mandatory Variable Unset",
            ),
            (
                "not ok ${BAR:?Mandatory Variable Empty}",
                "required variable BAR is missing a value: Mandatory Variable Empty",
            ),
            (
                "not ok ${UNSET_VAR:?}",
                "required variable UNSET_VAR is missing a value",
            ),
            (
                "not ok ${UNSET_VAR?Mandatory Variable Unset}",
                "required variable UNSET_VAR is missing a value: Mandatory Variable Unset",
            ),
            (
                "not ok ${UNSET_VAR?}",
                "required variable UNSET_VAR is missing a value",
            ),
            (
                "not ok ${UNSET_VAR:?Mandatory Variable ${FOO}}",
                "required variable UNSET_VAR is missing a value: Mandatory Variable first",
            ),
            (
                "not ok ${UNSET_VAR?Mandatory Variable ${FOO}}",
                "required variable UNSET_VAR is missing a value: Mandatory Variable first",
            ),
        ] {
            match sub(t) {
                Err(e @ InterpolationError::Required { .. }) => {
                    assert_eq!(e.to_string(), msg, "{t}")
                }
                other => panic!("{t}: {other:?}"),
            }
        }
    }

    #[test]
    fn mandatory_satisfied() {
        assert_eq!(ok("ok ${FOO:?err}"), "ok first");
        assert_eq!(ok("ok ${FOO?err}"), "ok first");
        assert_eq!(ok("ok ${BAR?err}"), "ok ");
    }

    #[test]
    fn precedence_is_the_first_operator() {
        assert!(
            matches!(sub("${UNSET_VAR?bar-baz}"), Err(InterpolationError::Required { message, .. }) if message == "bar-baz")
        );
        assert_eq!(ok("${UNSET_VAR-myerror?msg}"), "myerror?msg");
        assert_eq!(ok("${FOO?bar-baz}"), "first");
        assert_eq!(
            ok("${BAR:-default_value_for_empty_var}"),
            "default_value_for_empty_var"
        );
        assert_eq!(
            ok("${UNSET_VAR-default_value_for_unset_var}"),
            "default_value_for_unset_var"
        );
    }

    #[test]
    fn replacements() {
        assert_eq!(ok("${FOO:+set}"), "set");
        assert_eq!(ok("${BAR:+set}"), "");
        assert_eq!(ok("${BAR+set}"), "set");
        assert_eq!(ok("${UNSET+set}"), "");
        assert_eq!(ok("${FOO:+x-$FOO}"), "x-first");
    }

    #[test]
    fn dotenv_forms() {
        let text = "# comment\nA=1\nexport B = two\nC='lit $A'\nD=\"q $A\\n\"\nE=x #comment\nF=a#b\nG=\"multi\nline\"\nH=${A:-z}$B\n\nI\n";
        let env = BTreeMap::from([("I".to_string(), "from-env".to_string())]);
        let parsed = parse_dotenv(text, &env).unwrap_or_else(|e| panic!("{e}"));
        let get = |k: &str| parsed.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("A"), Some("1"));
        assert_eq!(get("B"), Some("two"));
        assert_eq!(get("C"), Some("lit $A"));
        assert_eq!(get("D"), Some("q 1\n"));
        assert_eq!(get("E"), Some("x"));
        assert_eq!(get("F"), Some("a#b"));
        assert_eq!(get("G"), Some("multi\nline"));
        assert_eq!(get("H"), Some("1two"));
        assert_eq!(get("I"), Some("from-env"));
    }

    #[test]
    fn dotenv_the_shell_wins_inside_the_file_too() {
        let shell = BTreeMap::from([("H".to_string(), "shell".to_string())]);
        let parsed = parse_dotenv("H=file\nI=$H\n", &shell).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed[1], ("I".to_string(), "shell".to_string()));
    }

    #[test]
    fn dotenv_errors() {
        let empty = BTreeMap::new();
        assert!(parse_dotenv("A='open\n", &empty).is_err());
        assert!(parse_dotenv("A=\"open\n", &empty).is_err());
        assert!(parse_dotenv("1A=x\n", &empty).is_err());
        let d = parse_dotenv_all(
            "A=1\nnot valid line\nB='open\n9C=x\nD=4\nE=${NOPE}x\n",
            &empty,
        );
        let good: Vec<(&str, &str)> = d
            .vars
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(good, [("A", "1"), ("D", "4"), ("E", "x")]);
        let lines: Vec<usize> = d.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [2, 3, 4], "every bad line");
        assert_eq!(d.unset.len(), 1);
        assert_eq!((d.unset[0].0.line, d.unset[0].1.as_str()), (6, "NOPE"));
        let e = parse_dotenv("A=1\nnot valid line\n", &empty).err();
        assert_eq!(e.map(|e| e.line), Some(2));
    }
}

/// One use of a variable in a value: `${NAME:-default}`, `${NAME:?message}`, `$NAME`...
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarUse {
    pub name: String,
    /// `${NAME:?...}` / `${NAME?...}`: an error when unset.
    pub required: bool,
    /// `${NAME:-default}` / `${NAME-default}`.
    pub default: Option<String>,
    /// `${NAME:+alternate}` / `${NAME+alternate}`.
    pub alternate: Option<String>,
}

/// The variables a value uses, in order, nested ones included (`${A:-${B}}` uses A and B).
/// Text that is not a valid template gives what could be read before the fault.
pub fn uses(text: &str) -> Vec<VarUse> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    collect_uses(&chars, &mut out, 0);
    out
}

fn collect_uses(chars: &[char], out: &mut Vec<VarUse>, depth: usize) {
    if depth > MAX_NESTING {
        return;
    }
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '$' {
            i += 1;
            continue;
        }
        match chars.get(i + 1) {
            Some('$') => i += 2,
            Some('{') => {
                let Some(end) = matching_brace(chars, i + 1) else {
                    return;
                };
                let inner = &chars[i + 2..end];
                let name_end = inner
                    .iter()
                    .position(|c| !is_name_char(*c))
                    .unwrap_or(inner.len());
                let name: String = inner[..name_end].iter().collect();
                let rest = &inner[name_end..];
                let (op, tail): (&str, &[char]) = match rest {
                    [':', o @ ('-' | '?' | '+'), tail @ ..] => match o {
                        '-' => (":-", tail),
                        '?' => (":?", tail),
                        _ => (":+", tail),
                    },
                    [o @ ('-' | '?' | '+'), tail @ ..] => match o {
                        '-' => ("-", tail),
                        '?' => ("?", tail),
                        _ => ("+", tail),
                    },
                    _ => ("", &[]),
                };
                let tail_text: String = tail.iter().collect();
                if !name.is_empty() {
                    out.push(VarUse {
                        name,
                        required: op.ends_with('?'),
                        default: op.ends_with('-').then(|| tail_text.clone()),
                        alternate: op.ends_with('+').then(|| tail_text.clone()),
                    });
                }
                collect_uses(tail, out, depth + 1);
                i = end + 1;
            }
            Some(&n) if is_name_start(n) => {
                let mut j = i + 1;
                while j < chars.len() && is_name_char(chars[j]) {
                    j += 1;
                }
                out.push(VarUse {
                    name: chars[i + 1..j].iter().collect(),
                    required: false,
                    default: None,
                    alternate: None,
                });
                i = j;
            }
            _ => i += 1,
        }
    }
}

/// The variables the string values of stack files use (comments aside), merged by name:
/// required when any use requires it, the first default and alternate. A file that does not
/// parse gives none.
pub fn variables_in_stack_files<'a>(texts: impl IntoIterator<Item = &'a str>) -> Vec<VarUse> {
    let mut all: Vec<VarUse> = Vec::new();
    for text in texts {
        if let Ok(doc) = text.parse::<kdl::KdlDocument>() {
            walk_values(doc.nodes(), &mut all, 0);
        }
    }
    let mut merged: Vec<VarUse> = Vec::new();
    for u in all {
        match merged.iter_mut().find(|m| m.name == u.name) {
            Some(m) => {
                m.required |= u.required;
                if m.default.is_none() {
                    m.default = u.default;
                }
                if m.alternate.is_none() {
                    m.alternate = u.alternate;
                }
            }
            None => merged.push(u),
        }
    }
    merged
}

fn walk_values(nodes: &[kdl::KdlNode], out: &mut Vec<VarUse>, depth: usize) {
    if depth > crate::limits::MAX_DEPTH {
        return;
    }
    for n in nodes {
        for e in n.entries() {
            if let Some(s) = e.value().as_string() {
                out.extend(uses(s));
            }
        }
        if let Some(children) = n.children() {
            walk_values(children.nodes(), out, depth + 1);
        }
    }
}

#[cfg(test)]
mod uses_tests {
    use super::*;

    #[test]
    fn uses_read_every_form_and_nested_ones() {
        let u = uses("$A ${B:-x} ${C?no C} ${D:+alt} ${E-${F:?f}} $$G");
        let names: Vec<&str> = u.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["A", "B", "C", "D", "E", "F"]);
        assert_eq!(u[1].default.as_deref(), Some("x"));
        assert!(u[2].required && !u[1].required);
        assert_eq!(u[3].alternate.as_deref(), Some("alt"));
        assert_eq!(u[4].default.as_deref(), Some("${F:?f}"));
        assert!(u[5].required);
    }
}
