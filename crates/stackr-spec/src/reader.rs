//! Reading KDL nodes: shapes, typed values and the diagnostics when they do not fit.
//!
//! A [`Reader`] belongs to one file. [`Reader::open`] checks a node against its [`Shape`]
//! (arguments, properties, children) and reports every mismatch; the typed getters turn entries
//! into values or report why they cannot.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use kdl::{KdlEntry, KdlNode, KdlValue};

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::model::KeyValue;
use crate::problem::Problem;
use crate::source::{FileId, Span, Spanned};
use crate::suggest::help_for;
use crate::units::{ByteSize, Cpus, parse_cpus, parse_duration, parse_size};

/// What a node may hold.
pub(crate) struct Shape {
    /// Fewest positional arguments.
    pub min: usize,
    /// Most positional arguments (`None`: any number).
    pub max: Option<usize>,
    /// What the arguments are, for "missing" messages: `a service name`.
    pub what: &'static str,
    /// Allowed property names; `["*"]` allows any (map nodes such as `env`).
    pub props: &'static [&'static str],
    pub children: bool,
    /// How the node is written, for help lines.
    pub usage: &'static str,
}

/// A node whose shape has been checked.
pub(crate) struct View<'n> {
    pub node: &'n KdlNode,
    pub args: Vec<&'n KdlEntry>,
    pub props: Vec<(&'n str, &'n KdlEntry)>,
}

impl<'n> View<'n> {
    pub fn arg(&self, i: usize) -> Option<&'n KdlEntry> {
        self.args.get(i).copied()
    }

    /// The last property with this name.
    pub fn prop(&self, name: &str) -> Option<&'n KdlEntry> {
        self.props
            .iter()
            .rev()
            .find(|(k, _)| *k == name)
            .map(|(_, e)| *e)
    }

    pub fn children(&self) -> &'n [KdlNode] {
        self.node.children().map_or(&[], |d| d.nodes())
    }
}

/// Describes a KDL value for messages: `string "x"`, `integer 5`, `#true`.
pub(crate) fn describe(value: &KdlValue) -> String {
    match value {
        KdlValue::String(s) => format!("string {s:?}"),
        KdlValue::Integer(i) => format!("integer {i}"),
        KdlValue::Float(f) => format!("number {f}"),
        KdlValue::Bool(b) => format!("#{b}"),
        KdlValue::Null => "#null".into(),
    }
}

/// Joins `rel` onto `dir` and removes `.` and `..` without touching the file system. `~` and
/// `~/...` start from `home` (`$HOME` of the variables); without one, and for `~user`, the path
/// is kept as written.
pub(crate) fn resolve_path(dir: &Path, rel: &str, home: Option<&Path>) -> PathBuf {
    if rel.starts_with('~') {
        let rest = match rel.strip_prefix("~/") {
            Some(rest) => Some(rest),
            None if rel == "~" => Some(""),
            None => None,
        };
        return match (home, rest) {
            (Some(h), Some(rest)) => resolve_path(h, &format!("./{rest}"), None),
            _ => PathBuf::from(rel),
        };
    }
    let mut out = normalize_path(&dir.join(rel));
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// `a/./b/../c` as `a/c`, without asking the disk: `..` above the root stays at the root, `..`
/// at the start of a relative path is kept; an empty path for the current directory.
pub fn normalize_path(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(".."),
            },
            other => out.push(other.as_os_str()),
        }
    }
    out
}

pub(crate) struct Reader<'a> {
    pub file: FileId,
    pub dir: PathBuf,
    /// `$HOME`, for paths that start with `~`.
    pub home: Option<PathBuf>,
    /// The variables of interpolation, for env variables passed through by name (`env {
    /// DEBUG }`); empty when interpolation is off.
    pub vars: std::collections::BTreeMap<String, String>,
    pub diags: &'a mut Diagnostics,
}

impl<'a> Reader<'a> {
    pub fn span(&self, s: miette::SourceSpan) -> Span {
        Span::new(self.file, s)
    }

    /// The span of a node's name.
    pub fn name_span(&self, node: &KdlNode) -> Span {
        self.span(node.name().span())
    }

    /// The span of an entry's value alone (without `key=` or a type annotation).
    pub fn value_span(&self, e: &KdlEntry) -> Span {
        let whole = e.span();
        match e.format() {
            Some(f) if f.value_repr.len() <= whole.len() => {
                let end = whole.offset() + whole.len();
                Span {
                    file: self.file,
                    offset: end - f.value_repr.len(),
                    len: f.value_repr.len(),
                }
            }
            _ => self.span(whole),
        }
    }

    /// The span of a whole entry (`key=value`, `(type)value`).
    pub fn entry_span(&self, e: &KdlEntry) -> Span {
        self.span(e.span())
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// Checks a node against its shape and reports every mismatch.
    pub fn open<'n>(&mut self, node: &'n KdlNode, shape: &Shape) -> View<'n> {
        self.open_inner(node, shape, false)
    }

    /// Like [`Reader::open`], but allows a type annotation on argument values.
    pub fn open_annotated<'n>(&mut self, node: &'n KdlNode, shape: &Shape) -> View<'n> {
        self.open_inner(node, shape, true)
    }

    fn open_inner<'n>(&mut self, node: &'n KdlNode, shape: &Shape, annotations: bool) -> View<'n> {
        let name = node.name().value();
        if let Some(ty) = node.ty() {
            self.push(
                Diagnostic::error(Problem::UnexpectedAnnotation {
                    node: name.into(),
                    annotation: ty.value().into(),
                })
                .with_label(self.span(ty.span()), "not used here")
                .with_help("remove the annotation"),
            );
        }
        let mut args = Vec::new();
        let mut props: Vec<(&str, &KdlEntry)> = Vec::new();
        for e in node.entries() {
            if !annotations && let Some(ty) = e.ty() {
                self.push(
                    Diagnostic::error(Problem::UnexpectedAnnotation {
                        node: name.into(),
                        annotation: ty.value().into(),
                    })
                    .with_label(self.span(ty.span()), "not used here")
                    .with_help(
                        "type annotations are only read on `env` values: `(secret)\"name\"`",
                    ),
                );
            }
            match e.name() {
                None => args.push(e),
                Some(key) => {
                    let key_name = key.value();
                    if shape.props != ["*"] && !shape.props.contains(&key_name) {
                        let help = if shape.props.is_empty() {
                            Some(format!(
                                "`{name}` takes no properties; it is written `{}`",
                                shape.usage
                            ))
                        } else {
                            help_for(key_name, shape.props, "allowed here")
                        };
                        self.push(
                            Diagnostic::error(Problem::UnknownProperty {
                                name: key_name.into(),
                                node: name.into(),
                            })
                            .with_label(self.span(key.span()), "unknown property")
                            .with_help_opt(help)
                            .with_suggestion(key_name, shape.props),
                        );
                        continue;
                    }
                    if let Some((_, first)) = props.iter().find(|(k, _)| *k == key_name) {
                        let first_span = self.entry_span(first);
                        self.push(
                            Diagnostic::error(Problem::SetTwice {
                                field: format!("`{key_name}`"),
                                place: format!("`{name}`"),
                            })
                            .with_label(self.entry_span(e), "set again here")
                            .with_label(first_span, "first set here")
                            .with_help("remove one of them"),
                        );
                    }
                    props.push((key_name, e));
                }
            }
        }
        if args.len() < shape.min {
            self.push(
                Diagnostic::error(Problem::MissingArgument {
                    node: name.into(),
                    what: shape.what.into(),
                })
                .with_label(self.name_span(node), format!("needs {}", shape.what))
                .with_help(format!("write it as `{}`", shape.usage)),
            );
        }
        if let Some(max) = shape.max
            && args.len() > max
        {
            let expected = match (shape.min, max) {
                (0, 0) => "no arguments".to_string(),
                (a, b) if a == b => {
                    format!("{a} argument{}", if a == 1 { "" } else { "s" })
                }
                (a, b) => format!("{a} to {b} arguments"),
            };
            let extra = args[max];
            self.push(
                Diagnostic::error(Problem::ArgumentCount {
                    node: name.into(),
                    expected,
                    found: args.len(),
                })
                .with_label(self.entry_span(extra), "unexpected argument")
                .with_help(format!("write it as `{}`", shape.usage)),
            );
        }
        if !shape.children
            && let Some(children) = node.children()
        {
            self.push(
                Diagnostic::error(Problem::UnexpectedChildren { node: name.into() })
                    .with_label(self.span(children.span()), "not allowed here")
                    .with_help(format!("write it as `{}`", shape.usage)),
            );
        }
        View { node, args, props }
    }

    /// Reports a node that is not allowed where it stands.
    pub fn unknown_node(&mut self, node: &KdlNode, place: &str, allowed: &[&str]) {
        let name = node.name().value();
        self.push(
            Diagnostic::error(Problem::UnknownNode {
                name: name.into(),
                place: place.into(),
            })
            .with_label(self.name_span(node), "unknown node")
            .with_help_opt(help_for(name, allowed, "allowed here"))
            .with_suggestion(name, allowed),
        );
    }

    pub(crate) fn wrong_type(
        &mut self,
        e: &KdlEntry,
        what: &str,
        expected: &str,
        help: Option<String>,
    ) {
        self.push(
            Diagnostic::error(Problem::WrongType {
                what: what.into(),
                expected: expected.into(),
                found: describe(e.value()),
            })
            .with_label(self.value_span(e), format!("expected {expected}"))
            .with_help_opt(help),
        );
    }

    pub fn string(&mut self, e: &KdlEntry, what: &str) -> Option<Spanned<String>> {
        match e.value() {
            KdlValue::String(s) => self.no_nul(Spanned::new(s.clone(), self.value_span(e)), what),
            KdlValue::Integer(i) => {
                let help = Some(format!("quote it: \"{i}\""));
                self.wrong_type(e, what, "a string", help);
                None
            }
            KdlValue::Bool(b) => {
                let help = Some(format!("quote it: \"{b}\""));
                self.wrong_type(e, what, "a string", help);
                None
            }
            _ => {
                self.wrong_type(e, what, "a string", None);
                None
            }
        }
    }

    /// A non-empty string.
    pub fn nonempty(&mut self, e: &KdlEntry, what: &str) -> Option<Spanned<String>> {
        let s = self.string(e, what)?;
        if s.value.trim().is_empty() {
            self.push(
                Diagnostic::error(Problem::InvalidValue {
                    field: what.into(),
                    value: s.value.clone(),
                    reason: "it is empty".into(),
                })
                .with_label(s.span, "empty"),
            );
            return None;
        }
        Some(s)
    }

    /// A string, or a number or boolean written as one (for env values, labels, argv).
    pub fn text(&mut self, e: &KdlEntry, what: &str) -> Option<Spanned<String>> {
        let span = self.value_span(e);
        // Numbers keep the form they were written in (`1.10`, `0o755`), as a string would.
        let written = e.format().map(|f| f.value_repr.clone());
        let text = match e.value() {
            KdlValue::String(s) => s.clone(),
            KdlValue::Integer(i) => written.unwrap_or_else(|| i.to_string()),
            KdlValue::Float(f) => written.unwrap_or_else(|| f.to_string()),
            KdlValue::Bool(b) => b.to_string(),
            KdlValue::Null => {
                self.wrong_type(e, what, "a string", None);
                return None;
            }
        };
        self.no_nul(Spanned::new(text, span), what)
    }

    /// A string the engine can pass on: a NUL character would cut it short (or make Docker
    /// refuse the container) wherever it goes.
    fn no_nul(&mut self, s: Spanned<String>, what: &str) -> Option<Spanned<String>> {
        if !s.value.contains('\0') {
            return Some(s);
        }
        self.push(
            Diagnostic::error(Problem::InvalidValue {
                field: what.into(),
                value: s.value.clone(),
                reason: "it holds a NUL character, which no engine field can hold".into(),
            })
            .with_label(s.span, "a NUL character")
            .with_help("remove the `\\u{0}`"),
        );
        None
    }

    /// A key the engine passes on (an env variable's name, a label's): not empty, and no
    /// control character; with `no_equals`, no `=` either (the engine would split the key
    /// there: `PATH=/evil:/bin` set to `x` is seen as `PATH` set to `/evil:/bin=x`).
    pub fn check_key(&mut self, key: &Spanned<String>, what: &str, no_equals: bool) -> bool {
        let reason = if key.value.is_empty() {
            "it is empty"
        } else if key.value.chars().any(char::is_control) {
            "it holds a control character"
        } else if no_equals && key.value.contains('=') {
            "it holds `=`, where the engine would cut it"
        } else {
            return true;
        };
        self.push(
            Diagnostic::error(Problem::InvalidName {
                what: what.into(),
                name: key.value.clone(),
                reason: reason.into(),
            })
            .with_label(key.span, "invalid name")
            .with_help_opt(no_equals.then(|| {
                "write the name alone: `env NAME=\"value\"` or `env { NAME \"value\" }`".to_string()
            })),
        );
        false
    }

    pub fn bool(&mut self, e: &KdlEntry, what: &str) -> Option<Spanned<bool>> {
        match e.value() {
            KdlValue::Bool(b) => Some(Spanned::new(*b, self.value_span(e))),
            KdlValue::String(s) if s == "true" || s == "false" => {
                let help = Some(format!("KDL v2 writes booleans as #{s}"));
                self.wrong_type(e, what, "#true or #false", help);
                None
            }
            _ => {
                self.wrong_type(e, what, "#true or #false", None);
                None
            }
        }
    }

    pub fn integer(
        &mut self,
        e: &KdlEntry,
        what: &str,
        min: i128,
        max: i128,
    ) -> Option<Spanned<i128>> {
        let span = self.value_span(e);
        let value = match e.value() {
            KdlValue::Integer(i) => *i,
            KdlValue::String(s) if s.trim().parse::<i128>().is_ok() => {
                let help = Some(format!("remove the quotes: {s}"));
                self.wrong_type(e, what, "an integer", help);
                return None;
            }
            _ => {
                self.wrong_type(e, what, "an integer", None);
                return None;
            }
        };
        if value < min || value > max {
            self.push(
                Diagnostic::error(Problem::InvalidValue {
                    field: what.into(),
                    value: value.to_string(),
                    reason: format!("it must be between {min} and {max}"),
                })
                .with_label(span, "out of range"),
            );
            return None;
        }
        Some(Spanned::new(value, span))
    }

    pub fn u32(&mut self, e: &KdlEntry, what: &str) -> Option<Spanned<u32>> {
        self.integer(e, what, 0, i128::from(u32::MAX))
            .map(|s| s.map(|v| v as u32))
    }

    /// A share between 0 and 1: `0.25`, `0`, `1`.
    pub fn ratio(&mut self, e: &KdlEntry, what: &str) -> Option<Spanned<f64>> {
        let span = self.value_span(e);
        let value = match e.value() {
            KdlValue::Float(f) => *f,
            KdlValue::Integer(i) if (0..=1).contains(i) => *i as f64,
            KdlValue::Integer(i) => {
                let text = i.to_string();
                return self.out_of_unit(what, text, span);
            }
            KdlValue::String(s) if s.trim().parse::<f64>().is_ok() => {
                let help = Some(format!("remove the quotes: {s}"));
                self.wrong_type(e, what, "a number between 0 and 1", help);
                return None;
            }
            _ => {
                self.wrong_type(e, what, "a number between 0 and 1", None);
                return None;
            }
        };
        if !(0.0..=1.0).contains(&value) {
            return self.out_of_unit(what, value.to_string(), span);
        }
        Some(Spanned::new(value, span))
    }

    fn out_of_unit(&mut self, what: &str, value: String, span: Span) -> Option<Spanned<f64>> {
        self.push(
            Diagnostic::error(Problem::InvalidValue {
                field: what.into(),
                value,
                reason: "it is a share of the containers, between 0 and 1".into(),
            })
            .with_label(span, "out of range")
            .with_help("write 0.25 for a quarter of them"),
        );
        None
    }

    pub fn port_number(&mut self, e: &KdlEntry, what: &str) -> Option<Spanned<u16>> {
        self.integer(e, what, 1, 65535).map(|s| s.map(|v| v as u16))
    }

    /// A file mode: an integer (write octal as `0o400`) or an octal string (`"0400"`).
    pub fn mode(&mut self, e: &KdlEntry, what: &str) -> Option<Spanned<u32>> {
        let span = self.value_span(e);
        let value = match e.value() {
            KdlValue::Integer(i) => *i,
            KdlValue::String(s) => match i128::from_str_radix(s.trim_start_matches("0o"), 8) {
                Ok(v) => v,
                Err(_) => {
                    self.wrong_type(e, what, "an octal mode such as 0o400", None);
                    return None;
                }
            },
            _ => {
                self.wrong_type(e, what, "an octal mode such as 0o400", None);
                return None;
            }
        };
        if !(0..=0o7777).contains(&value) {
            let help = if (100..=7777).contains(&value) {
                Some(format!(
                    "KDL reads {value} as decimal; write octal as 0o{value}"
                ))
            } else {
                None
            };
            self.push(
                Diagnostic::error(Problem::InvalidValue {
                    field: what.into(),
                    value: value.to_string(),
                    reason: "a mode must be between 0o0 and 0o7777".into(),
                })
                .with_label(span, "out of range")
                .with_help_opt(help),
            );
            return None;
        }
        if let (KdlValue::Integer(_), Some(f)) = (e.value(), e.format()) {
            let repr = f.value_repr.as_str();
            if !repr.starts_with("0o") && value > 7 {
                self.push(
                    Diagnostic::warning(Problem::InvalidValue {
                        field: what.into(),
                        value: repr.into(),
                        reason: format!("this is decimal {value} (octal 0o{value:o})"),
                    })
                    .with_label(span, "decimal")
                    .with_help(format!(
                        "modes are usually octal: write 0o{repr} if that is what you mean"
                    )),
                );
            }
        }
        Some(Spanned::new(value as u32, span))
    }

    pub fn duration(&mut self, e: &KdlEntry, what: &str) -> Option<Spanned<Duration>> {
        let span = self.value_span(e);
        match e.value() {
            KdlValue::String(s) => match parse_duration(s) {
                Ok(d) => Some(Spanned::new(d, span)),
                Err(error) => {
                    self.push(
                        Diagnostic::error(Problem::InvalidDuration {
                            field: what.into(),
                            value: s.clone(),
                            error,
                        })
                        .with_label(span, "not a duration")
                        .with_help("write a number and a unit: `500ms`, `10s`, `1m30s`, `1h`"),
                    );
                    None
                }
            },
            KdlValue::Integer(i) => {
                let help = Some(format!("durations are strings with a unit: \"{i}s\""));
                self.wrong_type(e, what, "a duration", help);
                None
            }
            _ => {
                self.wrong_type(e, what, "a duration such as \"10s\"", None);
                None
            }
        }
    }

    pub fn size(&mut self, e: &KdlEntry, what: &str) -> Option<Spanned<ByteSize>> {
        let span = self.value_span(e);
        match e.value() {
            KdlValue::Integer(i) if *i >= 0 => Some(Spanned::new(
                ByteSize(u64::try_from(*i).unwrap_or(u64::MAX)),
                span,
            )),
            KdlValue::String(s) => match parse_size(s) {
                Ok(b) => Some(Spanned::new(b, span)),
                Err(error) => {
                    self.push(
                        Diagnostic::error(Problem::InvalidSize {
                            field: what.into(),
                            value: s.clone(),
                            error,
                        })
                        .with_label(span, "not a size")
                        .with_help("write a number and a unit: `64k`, `512m`, `4G`"),
                    );
                    None
                }
            },
            _ => {
                self.wrong_type(e, what, "a size such as \"512m\"", None);
                None
            }
        }
    }

    pub fn cpus(&mut self, e: &KdlEntry, what: &str) -> Option<Spanned<Cpus>> {
        let span = self.value_span(e);
        let text = match e.value() {
            KdlValue::Integer(i) => i.to_string(),
            KdlValue::Float(f) => f.to_string(),
            KdlValue::String(s) => s.clone(),
            _ => {
                self.wrong_type(e, what, "a number of CPUs", None);
                return None;
            }
        };
        match parse_cpus(&text) {
            Ok(c) => Some(Spanned::new(c, span)),
            Err(error) => {
                self.push(
                    Diagnostic::error(Problem::InvalidCpus {
                        field: what.into(),
                        value: text,
                        error,
                    })
                    .with_label(span, "not a CPU count")
                    .with_help("write a positive number: `2`, `0.5`"),
                );
                None
            }
        }
    }

    /// A host path, resolved against the directory of the file that holds it.
    pub fn path(&mut self, e: &KdlEntry, what: &str) -> Option<Spanned<PathBuf>> {
        let s = self.nonempty(e, what)?;
        Some(Spanned::new(
            resolve_path(&self.dir, &s.value, self.home.as_deref()),
            s.span,
        ))
    }

    /// A path inside a container: must be absolute.
    pub fn container_path(&mut self, e: &KdlEntry, what: &str) -> Option<Spanned<String>> {
        let s = self.nonempty(e, what)?;
        if !s.value.starts_with('/') {
            self.push(
                Diagnostic::error(Problem::RelativeContainerPath {
                    what: what.into(),
                    path: s.value.clone(),
                })
                .with_label(s.span, "not absolute")
                .with_help(format!(
                    "write it from the container's root: \"/{}\"",
                    s.value.trim_start_matches("./")
                )),
            );
            return None;
        }
        Some(s)
    }

    /// All positional arguments as text (an argv): `command "a" "b"`.
    pub fn argv(&mut self, view: &View<'_>, what: &str) -> Option<Spanned<Vec<String>>> {
        let first = view.args.first()?;
        let mut span = self.value_span(first);
        let mut out = Vec::new();
        for e in &view.args {
            let s = self.text(e, what)?;
            let end = s.span.offset + s.span.len;
            span.len = end.saturating_sub(span.offset);
            out.push(s.value);
        }
        Some(Spanned::new(out, span))
    }

    /// A map node: `labels { key "value" }`, `labels key="value"`, `labels "key=value"`.
    pub fn map(&mut self, node: &KdlNode, place: &str) -> Vec<KeyValue> {
        let name = node.name().value();
        let mut out: Vec<KeyValue> = Vec::new();
        for e in node.entries() {
            if let Some(ty) = e.ty() {
                self.push(
                    Diagnostic::error(Problem::UnexpectedAnnotation {
                        node: name.into(),
                        annotation: ty.value().into(),
                    })
                    .with_label(self.span(ty.span()), "not used here"),
                );
                continue;
            }
            let what = format!("`{name}` value");
            match e.name() {
                Some(key) => {
                    if let Some(value) = self.text(e, &what) {
                        out.push(KeyValue {
                            key: Spanned::new(key.value().into(), self.span(key.span())),
                            value,
                        });
                    }
                }
                None => {
                    let Some(s) = self.string(e, &what) else {
                        continue;
                    };
                    match s.value.split_once('=') {
                        Some((k, v)) if !k.is_empty() => out.push(KeyValue {
                            key: Spanned::new(k.into(), s.span),
                            value: Spanned::new(v.into(), s.span),
                        }),
                        _ => self.push(
                            Diagnostic::error(Problem::InvalidValue {
                                field: format!("`{name}`"),
                                value: s.value.clone(),
                                reason: "expected `KEY=value`".into(),
                            })
                            .with_label(s.span, "no `=`")
                            .with_help(format!(
                                "write `{name} KEY=\"value\"` or `{name} {{ KEY \"value\" }}`"
                            )),
                        ),
                    }
                }
            }
        }
        for child in node.children().map_or(&[][..], |d| d.nodes()) {
            let key = child.name().value();
            let view = self.open(
                child,
                &Shape {
                    min: 1,
                    max: Some(1),
                    what: "a value",
                    props: &[],
                    children: false,
                    usage: "KEY \"value\"",
                },
            );
            if let Some(e) = view.arg(0)
                && let Some(value) = self.text(e, &format!("`{key}` in {place}"))
            {
                out.push(KeyValue {
                    key: Spanned::new(key.into(), self.name_span(child)),
                    value,
                });
            }
        }
        out.retain(|kv| self.check_key(&kv.key, "key", false));
        self.check_unique_keys(&out, place);
        out
    }

    /// Reports keys given twice in one map.
    pub fn check_unique_keys(&mut self, items: &[KeyValue], place: &str) {
        let mut seen: std::collections::HashMap<&str, &KeyValue> = Default::default();
        for kv in items {
            if let Some(first) = seen.insert(&kv.key.value, kv) {
                self.push(
                    Diagnostic::error(Problem::SetTwice {
                        field: format!("`{}`", kv.key.value),
                        place: place.into(),
                    })
                    .with_label(kv.key.span, "set again here")
                    .with_label(first.key.span, "first set here"),
                );
            }
        }
    }

    /// Stores a single value, reporting a second one.
    pub fn set_once<T>(
        &mut self,
        slot: &mut Option<Spanned<T>>,
        value: Option<Spanned<T>>,
        field: &str,
        place: &str,
    ) {
        let Some(value) = value else { return };
        if let Some(first) = slot {
            self.push(
                Diagnostic::error(Problem::SetTwice {
                    field: format!("`{field}`"),
                    place: place.into(),
                })
                .with_label(value.span, "set again here")
                .with_label(first.span, "first set here")
                .with_help("remove one of them"),
            );
            return;
        }
        *slot = Some(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_lexically() {
        let dir = Path::new("/srv/app");
        assert_eq!(
            resolve_path(dir, "./backend", None),
            PathBuf::from("/srv/app/backend")
        );
        assert_eq!(
            resolve_path(dir, "../x/./y", None),
            PathBuf::from("/srv/x/y")
        );
        assert_eq!(resolve_path(dir, "/abs", None), PathBuf::from("/abs"));
        assert_eq!(resolve_path(dir, ".", None), PathBuf::from("/srv/app"));
        assert_eq!(resolve_path(dir, "~/data", None), PathBuf::from("~/data"));
        assert_eq!(
            resolve_path(Path::new("rel"), "../../x", None),
            PathBuf::from("../x")
        );
    }

    #[test]
    fn a_tilde_starts_from_home_when_it_is_known() {
        let dir = Path::new("/srv/app");
        let home = Some(Path::new("/home/ada"));
        assert_eq!(
            resolve_path(dir, "~/data/../x", home),
            PathBuf::from("/home/ada/x")
        );
        assert_eq!(resolve_path(dir, "~", home), PathBuf::from("/home/ada"));
        assert_eq!(resolve_path(dir, "~bob/x", home), PathBuf::from("~bob/x"));
    }
}
