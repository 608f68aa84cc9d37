//! Diagnostics: every problem found in a stack file, as data.
//!
//! A [`Diagnostic`] is a [`Problem`] (what is wrong, with the facts), labelled spans (where) and
//! an optional help line (what to do). It implements [`miette::Diagnostic`] so the edge can
//! render it; this crate never prints.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use miette::{LabeledSpan, SourceCode};

use crate::problem::Problem;
use crate::source::{FileId, Shown, SourceMap, Span, escape_controls};

/// How bad a diagnostic is: errors make the stack invalid, warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

/// A labelled span.
#[derive(Debug, Clone)]
pub struct Label {
    pub span: Span,
    pub text: Option<String>,
}

/// The one edit that fixes a problem, for editors to offer: the first `from` in the text of
/// the primary label becomes `to` (a misspelt name its suggestion, `true` becomes `#true`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fix {
    pub from: String,
    pub to: String,
}

/// One problem in a stack, with where it is and how to fix it.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub severity: Severity,
    pub problem: Problem,
    /// The first label is the primary one.
    pub labels: Vec<Label>,
    pub help: Option<String>,
    /// The edit that fixes it, when there is exactly one.
    pub fix: Option<Fix>,
    source: Option<Arc<Shown>>,
    /// Labels that point into another file than the primary one, shown as nested reports.
    related: Vec<Diagnostic>,
}

impl Diagnostic {
    pub fn error(problem: Problem) -> Self {
        Diagnostic {
            severity: Severity::Error,
            problem,
            labels: Vec::new(),
            help: None,
            fix: None,
            source: None,
            related: Vec::new(),
        }
    }

    pub fn warning(problem: Problem) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(problem)
        }
    }

    pub fn with_label(mut self, span: Span, text: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            text: Some(text.into()),
        });
        self
    }

    pub fn with_span(mut self, span: Span) -> Self {
        self.labels.push(Label { span, text: None });
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a note shown under the diagnostic, with no source excerpt.
    pub fn with_note(mut self, text: impl Into<String>) -> Self {
        self.related.push(Diagnostic {
            severity: Severity::Warning,
            problem: Problem::Note { text: text.into() },
            labels: Vec::new(),
            help: None,
            fix: None,
            source: None,
            related: Vec::new(),
        });
        self
    }

    /// The fix: `from` in the primary label's text becomes `to`.
    pub fn with_fix(mut self, from: impl Into<String>, to: impl Into<String>) -> Self {
        self.fix = Some(Fix {
            from: from.into(),
            to: to.into(),
        });
        self
    }

    /// [`Diagnostic::with_fix`] when there is one.
    pub fn with_fix_opt(self, fix: Option<(String, String)>) -> Self {
        match fix {
            Some((from, to)) => self.with_fix(from, to),
            None => self,
        }
    }

    pub fn with_help_opt(mut self, help: Option<String>) -> Self {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    /// The notes shown under it (which profile brought it, for instance).
    pub fn notes(&self) -> impl Iterator<Item = &str> {
        self.related.iter().filter_map(|r| match &r.problem {
            Problem::Note { text } if r.labels.is_empty() => Some(text.as_str()),
            _ => None,
        })
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The primary span, if the diagnostic points anywhere.
    pub fn primary(&self) -> Option<Span> {
        self.labels.first().map(|l| l.span)
    }

    /// Attaches the source text the labels point into. Secondary labels in another file, or
    /// too far from the primary one to show in one excerpt, become related notes with their own
    /// excerpt.
    /// Where the primary label points, for plain data (`--format json`): the file as reports
    /// name it, and the 1-based line and column; `None` without a label or an attached source.
    pub fn position(&self) -> Option<(&str, usize, usize)> {
        let source = self.source.as_ref()?;
        let label = self.labels.first()?;
        let (line, column) = source.line_col(label.span.offset)?;
        Some((source.name(), line, column))
    }

    pub fn attach(mut self, sources: &SourceMap) -> Self {
        let Some(primary) = self.primary() else {
            return self;
        };
        let primary_line = sources.line_col(primary).map_or(0, |(l, _)| l);
        let mut here = Vec::new();
        let mut elsewhere = Vec::new();
        for (i, label) in self.labels.into_iter().enumerate() {
            let near = label.span.file == primary.file
                && sources
                    .line_col(label.span)
                    .is_some_and(|(l, _)| l.abs_diff(primary_line) <= MAX_LABEL_DISTANCE);
            if i == 0 || near {
                here.push(label);
            } else {
                elsewhere.push(label);
            }
        }
        self.labels = here;
        self.source = sources.get(primary.file).map(|f| f.shown());
        for label in elsewhere {
            let note = Diagnostic {
                severity: Severity::Warning,
                problem: Problem::Note {
                    text: label.text.clone().unwrap_or_else(|| "see here".into()),
                },
                labels: vec![label],
                help: None,
                fix: None,
                source: None,
                related: Vec::new(),
            };
            self.related.push(note.attach(sources));
        }
        self
    }
}

/// Secondary labels more lines away than this from the primary one are shown on their own.
const MAX_LABEL_DISTANCE: usize = 6;

/// What a user wrote reaches the terminal with its control characters escaped.
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&escape_controls(&self.problem.to_string()))
    }
}

impl std::error::Error for Diagnostic {}

impl miette::Diagnostic for Diagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(format!("stackr::{}", self.problem.code())))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match (self.severity, &self.problem) {
            (_, Problem::Note { .. }) => miette::Severity::Advice,
            (Severity::Error, _) => miette::Severity::Error,
            (Severity::Warning, _) => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(escape_controls(h)) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_ref().map(|s| s as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() || self.source.is_none() {
            return None;
        }
        Some(Box::new(self.labels.iter().enumerate().map(|(i, l)| {
            let text = l.text.as_deref().map(|t| escape_controls(t).into_owned());
            if i == 0 {
                LabeledSpan::new_primary_with_span(text, l.span.source_span())
            } else {
                LabeledSpan::new_with_span(text, l.span.source_span())
            }
        })))
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.related.is_empty() {
            return None;
        }
        Some(Box::new(
            self.related.iter().map(|d| d as &dyn miette::Diagnostic),
        ))
    }
}

/// Collects diagnostics while decoding and validating. Every check a push makes is a lookup,
/// not a scan of what was pushed before, so that 100,000 problems cost 100,000 steps.
#[derive(Debug, Default)]
pub struct Diagnostics {
    list: Vec<Diagnostic>,
    /// Values that could not be interpolated, by file and start: `(file, offset) -> end`.
    interpolations: BTreeMap<(FileId, usize), usize>,
    /// The start of every error's primary span.
    errors_at: BTreeSet<(FileId, usize)>,
    errors: usize,
}

impl Diagnostics {
    /// Adds a diagnostic, unless it points into a value that could not be interpolated: what
    /// is said about the raw text of such a value would only repeat that error.
    pub fn push(&mut self, d: Diagnostic) {
        let interpolation = matches!(d.problem, Problem::Interpolation { .. });
        if let Some(p) = d.primary() {
            if !interpolation && self.inside_interpolation(p) {
                return;
            }
            if interpolation {
                self.interpolations
                    .insert((p.file, p.offset), p.offset + p.len.max(1));
            }
            if d.is_error() {
                self.errors_at.insert((p.file, p.offset));
            }
        }
        if d.is_error() {
            self.errors += 1;
        }
        self.list.push(d);
    }

    /// Whether `p` starts inside a value that could not be interpolated. Values do not
    /// overlap, so only the nearest one starting at or before `p` can hold it.
    fn inside_interpolation(&self, p: Span) -> bool {
        self.interpolations
            .range(..=(p.file, p.offset))
            .next_back()
            .is_some_and(|((file, _), end)| *file == p.file && p.offset < *end)
    }

    pub fn has_errors(&self) -> bool {
        self.errors > 0
    }

    /// Whether an error was already reported inside `span` (so that a follow-on problem, such
    /// as a missing image after a mistyped `image`, is not reported as well).
    pub fn has_error_within(&self, span: Span) -> bool {
        self.errors_at
            .range((span.file, span.offset)..(span.file, span.offset + span.len))
            .next()
            .is_some()
    }

    pub fn error_count(&self) -> usize {
        self.errors
    }

    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.list
    }

    pub fn extend(&mut self, other: impl IntoIterator<Item = Diagnostic>) {
        for d in other {
            self.push(d);
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.list.iter()
    }
}
