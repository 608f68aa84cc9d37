//! The conversion context of one compose file: where diagnostics and report lines go, and the
//! typed readings of YAML scalars (integers, booleans, durations, sizes, modes) with compose's
//! rules and traps.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use stackr_spec::units::{parse_cpus, parse_duration, parse_size};
use stackr_spec::{Diagnostic, Problem, Span};

use crate::kdl::{Node, Val};
use crate::yaml::{Entry, Kind, Yaml};

/// Converting one compose file.
pub struct Ctx<'a> {
    /// What the report calls the file.
    pub name: &'a str,
    pub text: &'a str,
    /// What is being converted, for messages: "service `db`".
    pub place: String,
    /// Where in the compose file, for unknown keys: `services.web.healthcheck`.
    pub path: String,
    pub diags: Vec<Diagnostic>,
    pub report: Vec<crate::ReportItem>,
    /// The variables compose would interpolate with (shell, `.env`, `--env-file`).
    pub vars: &'a BTreeMap<String, String>,
    /// The directory relative paths of this file start from.
    pub dir: PathBuf,
    /// The directory of the stack file being written: relative paths are rewritten from it.
    pub stack_dir: PathBuf,
}

impl<'a> Ctx<'a> {
    pub fn new(
        name: &'a str,
        text: &'a str,
        vars: &'a BTreeMap<String, String>,
        dir: PathBuf,
        stack_dir: PathBuf,
    ) -> Self {
        Ctx {
            name,
            text,
            place: "the file".into(),
            path: "the top level".into(),
            diags: Vec::new(),
            report: Vec::new(),
            vars,
            dir,
            stack_dir,
        }
    }

    /// The 1-based line and column of a span's start.
    fn position(&self, span: Span) -> (usize, usize) {
        let before = self.text.get(..span.offset).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    }

    /// The compose key a note is about: the key path being converted, and the key at the span
    /// when the span is one.
    fn key_at(&self, span: Span) -> String {
        let at = self
            .text
            .get(span.offset..span.offset + span.len)
            .unwrap_or("");
        // A key is followed by its `:`; a value that looks like a word is no key.
        let followed_by_colon = self.text.get(span.offset + span.len..).is_some_and(|rest| {
            rest.trim_start_matches([' ', '\t', '"', '\''])
                .starts_with(':')
        });
        let is_key = followed_by_colon
            && !at.is_empty()
            && at.len() <= 64
            && at
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        // The keys above it in the file, when they spell out where `self.path` is: a key in a
        // nested mapping or a list item (`services.api.build.secrets.mode`).
        let nested = is_key
            .then(|| parent_keys(self.text, span.offset))
            .map(|mut keys| {
                keys.push(at.to_string());
                keys.join(".")
            })
            .filter(|full| {
                full.strip_prefix(self.path.as_str())
                    .is_some_and(|rest| rest.starts_with('.') && rest.len() > at.len() + 1)
            });
        if let Some(full) = nested {
            full
        } else if is_key && !self.path.ends_with(&format!(".{at}")) && self.path != "the top level"
        {
            format!("{}.{at}", self.path)
        } else if is_key && self.path == "the top level" {
            at.to_string()
        } else if self.path == "the top level" {
            String::new()
        } else {
            self.path.clone()
        }
    }

    /// Records what stackr does differently or not at all: an item of the report, and the
    /// comment returned for the stack file.
    pub fn note(&mut self, span: Span, text: impl Into<String>) -> String {
        let text = text.into();
        let (line, column) = self.position(span);
        self.report.push(crate::ReportItem {
            file: self.name.to_string(),
            line,
            column,
            place: self.place.clone(),
            key: self.key_at(span),
            message: text.clone(),
        });
        format!("import: {text}")
    }

    /// A path of this file as the stack file must write it: relative paths start from the
    /// compose file's directory, the stack file's may be elsewhere (`-o`, `include`, `extends`
    /// of another file). Absolute paths, `~` and paths that start with a variable are kept.
    pub fn local_path(&self, p: &str) -> String {
        if p.is_empty()
            || p.starts_with('/')
            || p.starts_with('~')
            || p.starts_with('$')
            || p.contains("://")
            || self.dir == self.stack_dir
        {
            return p.to_string();
        }
        let target = normalize(&self.dir.join(p));
        let rel = relative(&normalize(&self.stack_dir), &target);
        let s = rel.to_string_lossy().to_string();
        if s.is_empty() {
            ".".into()
        } else if s.starts_with("..") || s.starts_with('/') {
            s
        } else {
            format!("./{s}")
        }
    }

    /// A scalar's value with the variables compose would use (`None` when it uses one that is
    /// set nowhere and has no default).
    pub fn resolve(&self, t: &str) -> Option<String> {
        let r = stackr_spec::interpolate::interpolate(t, self.vars).ok()?;
        r.unset.is_empty().then_some(r.text)
    }

    pub fn error(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    pub fn wrong_type(&mut self, y: &Yaml, what: &str, expected: &str) {
        self.diags.push(
            Diagnostic::error(Problem::WrongType {
                what: format!("{what} in {}", self.place),
                expected: expected.into(),
                found: y.describe().into(),
            })
            .with_label(y.span, format!("expected {expected}")),
        );
    }

    pub fn invalid(&mut self, y: &Yaml, what: &str, value: &str, reason: impl Into<String>) {
        self.diags.push(
            Diagnostic::error(Problem::InvalidValue {
                field: format!("{what} in {}", self.place),
                value: value.into(),
                reason: reason.into(),
            })
            .with_label(y.span, "invalid"),
        );
    }

    /// A key compose does not know.
    pub fn unknown_key(&mut self, e: &Entry, known: &[&str]) {
        let best = known
            .iter()
            .map(|k| (strsim::jaro_winkler(&e.key, k), *k))
            .filter(|(score, _)| *score >= 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0));
        let suffix = format!(".{}", e.key);
        let node = self.path.strip_suffix(&suffix).unwrap_or(&self.path);
        let d = Diagnostic::error(Problem::UnknownProperty {
            name: e.key.clone(),
            node: node.to_string(),
        })
        .with_label(e.key_span, "unknown key");
        let d = match best {
            Some((_, k)) => d.with_help(format!("did you mean `{k}`?")),
            None => d.with_help(format!(
                "compose knows {}; extension keys start with `x-`",
                list(known)
            )),
        };
        self.diags.push(d);
    }

    /// Checks a mapping's keys; returns its entries (none when it is not a mapping).
    pub fn map<'y>(&mut self, y: &'y Yaml, what: &str) -> &'y [Entry] {
        match y.as_map() {
            Some(m) => m,
            None => {
                if !y.is_null() {
                    self.wrong_type(y, what, "a mapping");
                }
                &[]
            }
        }
    }

    /// A scalar as text (numbers and booleans as written).
    pub fn text(&mut self, y: &Yaml, what: &str) -> Option<String> {
        match &y.kind {
            Kind::Scalar { text, .. } if !y.is_null() => Some(text.clone()),
            _ => {
                self.wrong_type(y, what, "a string");
                None
            }
        }
    }

    /// A list of strings, or one string.
    pub fn strings(&mut self, y: &Yaml, what: &str) -> Vec<(String, Yaml)> {
        match &y.kind {
            Kind::Seq(items) => items
                .iter()
                .filter_map(|i| self.text(i, what).map(|t| (t, i.clone())))
                .collect(),
            Kind::Scalar { .. } if !y.is_null() => self
                .text(y, what)
                .map(|t| (t, y.clone()))
                .into_iter()
                .collect(),
            _ if y.is_null() => Vec::new(),
            _ => {
                self.wrong_type(y, what, "a list of strings");
                Vec::new()
            }
        }
    }

    /// A mapping or a list of `KEY=VALUE` (`KEY` alone gives no value), as compose's
    /// `environment`, `labels`, `args`, `sysctls` take.
    /// A mapping as a node named `name` with a child per key: `options { KEY "VALUE" }`.
    pub fn map_node(&mut self, y: &Yaml, name: &str, what: &str) -> Node {
        let mut n = Node::new(name);
        for (k, val, _) in self.key_values(y, what) {
            n = n.child(Node::new(k).arg(Val::Str(val.unwrap_or_default())));
        }
        n
    }

    pub fn key_values(&mut self, y: &Yaml, what: &str) -> Vec<(String, Option<String>, Span)> {
        match &y.kind {
            Kind::Map(entries) => entries
                .iter()
                .map(|e| {
                    let v = if e.value.is_null() {
                        None
                    } else {
                        self.text(&e.value, what)
                    };
                    (e.key.clone(), v, e.key_span)
                })
                .collect(),
            Kind::Seq(items) => items
                .iter()
                .filter_map(|i| {
                    let t = self.text(i, what)?;
                    Some(match t.split_once('=') {
                        Some((k, v)) => (k.to_string(), Some(v.to_string()), i.span),
                        None => (t, None, i.span),
                    })
                })
                .collect(),
            _ if y.is_null() => Vec::new(),
            _ => {
                self.wrong_type(y, what, "a mapping or a list of `KEY=VALUE`");
                Vec::new()
            }
        }
    }

    pub fn bool(&mut self, y: &Yaml, what: &str) -> Option<bool> {
        if let Some(b) = y.as_bool() {
            return Some(b);
        }
        match y.scalar() {
            Some("true") => Some(true),
            Some("false") => Some(false),
            _ => {
                self.wrong_type(y, what, "`true` or `false`");
                None
            }
        }
    }

    /// An integer. A variable with a default (`${N:-3}`) gives the default, with a note:
    /// stackr interpolates strings only.
    pub fn int(&mut self, y: &Yaml, what: &str) -> Option<i64> {
        let t = self.text(y, what)?;
        if t.contains('$') {
            let resolved = self.resolve(&t).and_then(|v| v.trim().parse::<i64>().ok());
            let default = var_default(&t).and_then(|d| d.parse::<i64>().ok());
            let msg = match (resolved, default) {
                (Some(v), _) => format!(
                    "{what} `{t}` uses a variable: stackr interpolates strings only, so its value now, {v}, is written"
                ),
                (None, Some(d)) => format!(
                    "{what} `{t}` uses a variable: stackr interpolates strings only, so its default {d} is written"
                ),
                (None, None) => format!(
                    "{what} `{t}` uses a variable: stackr interpolates strings only, so it is left out"
                ),
            };
            self.note(y.span, msg);
            return resolved.or(default);
        }
        match t.trim().parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                self.invalid(y, what, &t, "expected an integer");
                None
            }
        }
    }

    pub fn duration(&mut self, y: &Yaml, what: &str) -> Option<Val> {
        let t = self.text(y, what)?;
        if t.contains('$') {
            return Some(Val::Str(t));
        }
        match parse_duration(&t) {
            Ok(_) => Some(Val::Str(t)),
            Err(error) => {
                let help = if t.chars().all(|c| c.is_ascii_digit()) {
                    format!("compose durations have a unit: write `{t}s`")
                } else {
                    "write a number and a unit: `500ms`, `10s`, `1m30s`".into()
                };
                self.diags.push(
                    Diagnostic::error(Problem::InvalidDuration {
                        field: format!("{what} in {}", self.place),
                        value: t,
                        error,
                    })
                    .with_label(y.span, "not a duration")
                    .with_help(help),
                );
                None
            }
        }
    }

    pub fn size(&mut self, y: &Yaml, what: &str) -> Option<Val> {
        let t = self.text(y, what)?;
        if t.contains('$') {
            return Some(Val::Str(t));
        }
        if let Ok(n) = t.parse::<i64>() {
            return Some(Val::Int(n));
        }
        match parse_size(&t) {
            Ok(_) => Some(Val::Str(t)),
            Err(error) => {
                self.diags.push(
                    Diagnostic::error(Problem::InvalidSize {
                        field: format!("{what} in {}", self.place),
                        value: t,
                        error,
                    })
                    .with_label(y.span, "not a size"),
                );
                None
            }
        }
    }

    pub fn cpus(&mut self, y: &Yaml, what: &str) -> Option<Val> {
        let t = self.text(y, what)?;
        if t.contains('$') {
            return Some(Val::Str(t));
        }
        match parse_cpus(&t) {
            Ok(_) => {
                let plain_number = t
                    .split_once('.')
                    .map_or(!t.is_empty(), |(a, b)| !a.is_empty() && !b.is_empty())
                    && t.chars().all(|c| c.is_ascii_digit() || c == '.');
                Some(if plain_number {
                    Val::Num(t)
                } else {
                    Val::Str(t)
                })
            }
            Err(error) => {
                self.diags.push(
                    Diagnostic::error(Problem::InvalidCpus {
                        field: format!("{what} in {}", self.place),
                        value: t,
                        error,
                    })
                    .with_label(y.span, "not a CPU count"),
                );
                None
            }
        }
    }

    /// A file mode as compose reads it: a plain number is read like a YAML 1.1/Go integer
    /// (`0400` and `0o400` are octal, `400` is decimal); a quoted string is octal.
    pub fn mode(&mut self, y: &Yaml, what: &str) -> Option<u32> {
        let Kind::Scalar { text, plain } = &y.kind else {
            self.wrong_type(y, what, "a file mode");
            return None;
        };
        let t = text.trim();
        let parsed = if !plain {
            u32::from_str_radix(t.trim_start_matches("0o"), 8).ok()
        } else if let Some(o) = t.strip_prefix("0o").or_else(|| t.strip_prefix("0O")) {
            u32::from_str_radix(o, 8).ok()
        } else if let Some(x) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
            u32::from_str_radix(x, 16).ok()
        } else if t.len() > 1 && t.starts_with('0') {
            u32::from_str_radix(&t[1..], 8).ok()
        } else {
            t.parse::<u32>().ok()
        };
        let Some(mode) = parsed.filter(|m| *m <= 0o7777) else {
            self.invalid(y, what, t, "expected a file mode such as 0400");
            return None;
        };
        if *plain && !t.starts_with('0') && mode > 7 && t.chars().all(|c| ('0'..='7').contains(&c))
        {
            let msg = format!(
                "{what} is {t}, which compose reads as decimal too: it is written as 0o{mode:o}; if octal was meant, write 0o{t}"
            );
            self.note(y.span, msg);
        }
        Some(mode)
    }
}

/// The default of `${NAME:-default}` or `${NAME-default}` when that is the whole text.
pub fn var_default(t: &str) -> Option<&str> {
    let inner = t.strip_prefix("${")?.strip_suffix('}')?;
    let (_, d) = inner.split_once(":-").or_else(|| inner.split_once('-'))?;
    Some(d)
}

/// `a/./b/../c` as `a/c`, without asking the disk (the spec crate's rule).
pub fn normalize(p: &Path) -> PathBuf {
    stackr_spec::normalize_path(p)
}

/// The path from directory `from` to `to`, both normalized and both absolute (or both
/// relative to the same directory).
pub fn relative(from: &Path, to: &Path) -> PathBuf {
    let f: Vec<Component> = from.components().collect();
    let t: Vec<Component> = to.components().collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..f.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c.as_os_str());
    }
    out
}

fn list(keys: &[&str]) -> String {
    let mut v: Vec<String> = keys.iter().take(12).map(|k| format!("`{k}`")).collect();
    if keys.len() > 12 {
        v.push("...".into());
    }
    v.join(", ")
}

impl Ctx<'_> {
    /// An invalid value known by its span only.
    pub fn invalid_span(&mut self, span: Span, what: &str, value: &str, reason: &str) {
        self.diags.push(
            Diagnostic::error(Problem::InvalidValue {
                field: format!("{what} in {}", self.place),
                value: value.into(),
                reason: reason.into(),
            })
            .with_label(span, "invalid"),
        );
    }
}

/// The keys of the block mappings that hold the key at `offset`, outermost first, read from
/// the indentation of the lines above it (list items are passed through, flow style is not
/// followed).
fn parent_keys(text: &str, offset: usize) -> Vec<String> {
    let Some(before) = text.get(..offset) else {
        return Vec::new();
    };
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let mut indent = offset - line_start;
    let mut keys = Vec::new();
    for line in before[..line_start].lines().rev() {
        if indent == 0 {
            break;
        }
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let column = line.len() - trimmed.len();
        if column >= indent {
            continue;
        }
        indent = column;
        // `- key: value` is a list item whose first key sits right of the dash.
        if trimmed.starts_with('-') {
            continue;
        }
        let Some((key, _)) = trimmed.split_once(':') else {
            return Vec::new();
        };
        let key = key.trim().trim_matches(['"', '\'']);
        if key.is_empty() || key.contains(' ') {
            return Vec::new();
        }
        keys.push(key.to_string());
    }
    keys.reverse();
    keys
}
