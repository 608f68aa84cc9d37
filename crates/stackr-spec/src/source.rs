//! Source files, file ids and spans.
//!
//! A [`Span`] names a file by [`FileId`] and a byte range in it. The [`SourceMap`] owns every
//! file that took part in a load, so a diagnostic can show the text it points at.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents};

/// Index of a file in a [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct FileId(pub u32);

/// A byte range in one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub file: FileId,
    pub offset: usize,
    pub len: usize,
}

impl Span {
    pub fn new(file: FileId, span: SourceSpan) -> Self {
        Span {
            file,
            offset: span.offset(),
            len: span.len(),
        }
    }

    pub fn source_span(&self) -> SourceSpan {
        SourceSpan::new(self.offset.into(), self.len)
    }
}

/// A value together with where it was written.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Spanned<U> {
        Spanned {
            value: f(self.value),
            span: self.span,
        }
    }

    pub fn as_ref(&self) -> Spanned<&T> {
        Spanned {
            value: &self.value,
            span: self.span,
        }
    }
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// One stack file's text, as read by the caller.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path the file was read from; relative paths inside it resolve against its parent.
    pub path: PathBuf,
    /// What diagnostics call the file (usually the path as the user wrote it).
    pub name: String,
    pub text: Arc<str>,
    shown: Arc<Shown>,
}

impl SourceFile {
    pub fn new(
        path: impl Into<PathBuf>,
        name: impl Into<String>,
        text: impl Into<Arc<str>>,
    ) -> Self {
        let name = name.into();
        let text = text.into();
        let shown = Arc::new(Shown::new(name.clone(), text.clone()));
        SourceFile {
            path: path.into(),
            name,
            text,
            shown,
        }
    }

    /// The directory relative paths in this file are resolved against.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// The file as miette source code, named for reports: control characters shown as `?`,
    /// excerpts found through a line index (not by scanning from the start) and cut around the
    /// span on very long lines.
    pub fn shown(&self) -> Arc<Shown> {
        self.shown.clone()
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> Option<(usize, usize)> {
        self.shown.line_col(offset)
    }
}

/// A file's text as diagnostics show it. Every byte offset is the file's own: a control
/// character is replaced by as many `?` as it has bytes, so that no escape sequence from a file
/// reaches a terminal.
#[derive(Debug)]
pub struct Shown {
    name: String,
    /// The file's own text: columns count its characters.
    original: Arc<str>,
    text: String,
    /// The byte offset of each line's start.
    lines: Vec<usize>,
    /// Every [`CHAR_MARK`] bytes (rounded up to a character boundary): the offset and how many
    /// characters come before it, so that a column is counted from near the offset.
    marks: Vec<(usize, usize)>,
}

const CHAR_MARK: usize = 1024;

/// Lines longer than this are cut around the span in excerpts.
const LONG_LINE: usize = 4096;
/// How much of a long line is shown on each side of the span.
const LONG_LINE_CONTEXT: usize = 120;

/// Whether a character must not reach a terminal: C0 and C1 controls other than tab, line
/// feed and carriage return, DEL, and the bidirectional overrides that reorder what is shown.
pub fn is_hidden_control(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every control character written as an escape (`\u{1b}`, `\n`, `\t`): for messages
/// that quote what a user wrote.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    escape_where(text, |c| c.is_control() || is_hidden_control(c))
}

/// `text` as it may reach a terminal: line breaks and tabs kept, every other control
/// character (a carriage return too, which could hide what came before it on the line)
/// written as an escape. For text with several lines, such as an error with its help.
pub fn escape_for_terminal(text: &str) -> Cow<'_, str> {
    escape_where(text, |c| c == '\r' || is_hidden_control(c))
}

fn escape_where(text: &str, escaped: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(&escaped) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            c if !escaped(c) => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    Cow::Owned(out)
}

impl Shown {
    fn new(name: String, original: Arc<str>) -> Self {
        let text: &str = &original;
        let mut shown = String::with_capacity(text.len());
        let mut lines = vec![0];
        let mut marks = vec![(0, 0)];
        let mut next_mark = CHAR_MARK;
        for (count, (i, c)) in text.char_indices().enumerate() {
            if i >= next_mark {
                marks.push((i, count));
                next_mark = i + CHAR_MARK;
            }
            if c == '\n' {
                lines.push(i + 1);
            }
            // A carriage return not ending a line would move the cursor back over it.
            let lone_cr = c == '\r' && text.as_bytes().get(i + 1) != Some(&b'\n');
            if is_hidden_control(c) || lone_cr {
                shown.extend(std::iter::repeat_n('?', c.len_utf8()));
            } else {
                shown.push(c);
            }
        }
        Shown {
            name,
            text: shown,
            original: original.clone(),
            lines,
            marks,
        }
    }

    /// The 0-based line holding `offset`.
    fn line_of(&self, offset: usize) -> usize {
        self.lines
            .partition_point(|s| *s <= offset)
            .saturating_sub(1)
    }

    /// Characters before `offset`.
    fn chars_before(&self, offset: usize) -> usize {
        let at = self
            .marks
            .partition_point(|(o, _)| *o <= offset)
            .saturating_sub(1);
        let (o, n) = self.marks.get(at).copied().unwrap_or((0, 0));
        n + self
            .original
            .get(o..offset)
            .map_or(0, |t| t.chars().count())
    }

    /// The name reports give the file.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn line_col(&self, offset: usize) -> Option<(usize, usize)> {
        if offset > self.original.len() || !self.original.is_char_boundary(offset) {
            return None;
        }
        let line = self.line_of(offset);
        let start = self.lines.get(line).copied().unwrap_or(0);
        Some((
            line + 1,
            self.chars_before(offset) - self.chars_before(start) + 1,
        ))
    }

    fn floor(&self, mut i: usize) -> usize {
        i = i.min(self.text.len());
        while !self.text.is_char_boundary(i) {
            i -= 1;
        }
        i
    }

    fn ceil(&self, mut i: usize) -> usize {
        i = i.min(self.text.len());
        while !self.text.is_char_boundary(i) {
            i += 1;
        }
        i
    }
}

impl SourceCode for Shown {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let (offset, len) = (span.offset(), span.len());
        if offset + len > self.text.len() {
            return Err(MietteError::OutOfBounds);
        }
        let first = self.line_of(offset);
        let last = self.line_of((offset + len).saturating_sub(1).max(offset));
        // As miette's own: with no context the excerpt is the span itself.
        let (mut start, mut line) = if before == 0 {
            (offset, first)
        } else {
            let from = first.saturating_sub(before);
            (self.lines[from], from)
        };
        let mut end = if after == 0 {
            self.ceil((offset + len).max(offset + 1))
        } else {
            self.lines
                .get(last + after + 1)
                .copied()
                .unwrap_or(self.text.len())
        };
        if end - start > LONG_LINE {
            // A long line (a minified file, a huge value): the span with some context.
            start = self.floor(
                offset
                    .saturating_sub(LONG_LINE_CONTEXT)
                    .max(self.lines[first]),
            );
            end = self.ceil((offset + len + LONG_LINE_CONTEXT).min(end));
            line = first;
        }
        // miette counts columns in bytes.
        let column = start - self.lines[line];
        let data = &self.text.as_bytes()[start..end];
        // As miette's own: the line breaks from the start of the file to the excerpt's end.
        let line_count = self.lines.partition_point(|s| *s <= end) - 1;
        Ok(Box::new(
            MietteSpanContents::new_named(
                self.name.clone(),
                data,
                (start, end - start).into(),
                line,
                column,
                line_count,
            )
            .with_language("kdl"),
        ))
    }
}

/// Every file that took part in one load, indexed by [`FileId`].
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    pub fn add(&mut self, file: SourceFile) -> FileId {
        let id = FileId(u32::try_from(self.files.len()).unwrap_or(u32::MAX));
        self.files.push(file);
        id
    }

    pub fn get(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id.0 as usize)
    }

    pub fn files(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| (FileId(i as u32), f))
    }

    /// 1-based line and column of a span's start, for plain-text messages.
    pub fn line_col(&self, span: Span) -> Option<(usize, usize)> {
        self.get(span.file)?.line_col(span.offset)
    }

    /// How many files the map holds.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}
