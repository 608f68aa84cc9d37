//! stackr's stack language: KDL text to a validated [`Stack`], or every problem at once.
//!
//! This crate does no IO: files are read through the [`FileReader`] the caller passes, so the
//! same code serves the CLI, tests (with an in-memory reader) and the fuzzer. It never panics
//! on any input; every problem becomes a [`Diagnostic`] with a span.
//!
//! ```
//! use stackr_spec::{load_str, Options};
//! let loaded = load_str("/app/stack.kdl", r#"service "web" { image "nginx" }"#, &Options::default());
//! let stack = loaded.stack.expect("valid");
//! assert_eq!(stack.name, "app");
//! assert!(stack.services.contains_key("web"));
//! ```

mod decode;
pub use decode::{is_named_context_source, is_remote_context};
pub use reader::normalize_path;
pub mod diagnostic;
pub mod format;
mod guard;
mod hook;
pub mod incremental;
pub mod limits;
/// "1 error", "3 warnings": a count and its noun, plural when it is not one.
pub fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

pub mod graph;
pub mod interpolate;
pub mod keyword;
pub mod lex;
pub mod merge;
pub mod model;
pub(crate) mod network;
pub mod options;
pub mod port;
pub mod print;
pub mod problem;
mod reader;
pub mod schema;
mod serde_util;
pub mod source;
mod suggest;
mod swarm;
pub mod units;
pub mod update;
pub mod validate;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

pub use diagnostic::{Diagnostic, Diagnostics, Severity};
pub use model::*;
pub use problem::Problem;
pub use source::{FileId, SourceFile, SourceMap, Span, Spanned};

/// Reads stack files for [`load`]; the CLI reads the disk, tests read memory.
pub trait FileReader {
    /// The file's bytes. A reader of the disk reads only regular files, and at most
    /// [`limits::MAX_FILE_BYTES`] of them (more is [`ReadError::TooLarge`]).
    fn read(&self, path: &Path) -> Result<Vec<u8>, ReadError>;

    /// What diagnostics call the file; the CLI shortens paths under the working directory.
    fn display_name(&self, path: &Path) -> String {
        path.display().to_string()
    }

    /// The file's text parsed as KDL. An editor's reader keeps a
    /// [`incremental::ParseCache`] to parse only what changed since the last time.
    fn parse(&self, _path: &Path, text: &str) -> Result<incremental::Parsed, kdl::KdlError> {
        text.parse()
    }
}

/// Reads nothing: every path but the ones given is missing.
#[derive(Debug, Default)]
pub struct MemoryReader {
    pub files: BTreeMap<PathBuf, String>,
}

impl FileReader for MemoryReader {
    fn read(&self, path: &Path) -> Result<Vec<u8>, ReadError> {
        self.files
            .get(path)
            .map(|t| t.clone().into_bytes())
            .ok_or(ReadError::NotFound)
    }
}

/// Why a file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("no such file")]
    NotFound,
    #[error("it is {kind}, not a regular file")]
    NotRegular { kind: &'static str },
    #[error("it is larger than {}", limits::show_bytes(*limit))]
    TooLarge { limit: u64 },
    #[error("it is not UTF-8 text (byte {offset} is not part of a UTF-8 character)")]
    NotUtf8 { offset: usize },
    #[error("{message}")]
    Io { message: String },
}

impl From<std::io::Error> for ReadError {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::NotFound {
            ReadError::NotFound
        } else {
            ReadError::Io {
                message: e.to_string(),
            }
        }
    }
}

/// What the caller chose on the command line.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `-p/--stack-name`: beats the file's `stack` node and the directory name.
    pub stack_name: Option<String>,
    /// `--profile`, in order.
    pub profiles: Vec<String>,
    /// Variables for interpolation: the shell environment over the env files. `None` turns
    /// interpolation off (values are taken as written).
    pub vars: Option<BTreeMap<String, String>>,
    /// `--target`: beats the file's `target`.
    pub target: Option<Target>,
}

/// The result of a load: every file read, the stack if it is valid, and every diagnostic.
#[derive(Debug, Default)]
pub struct Loaded {
    pub sources: SourceMap,
    pub files: Vec<StackFile>,
    pub stack: Option<Stack>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Loaded {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Parses and decodes one file, interpolating variables in string values when `vars` is
/// given. Syntax errors are reported and give `None`. `warned` holds the unset variables
/// already reported, so each is reported once per load.
pub fn parse_file(
    file: FileId,
    source: &SourceFile,
    reader: &dyn FileReader,
    vars: Option<&BTreeMap<String, String>>,
    warned: &mut HashSet<String>,
    diags: &mut Diagnostics,
) -> Option<StackFile> {
    let mut refused = Vec::new();
    if !guard::scan(file, &source.text, &mut refused) {
        diags.extend(refused);
        return None;
    }
    let mut doc = match reader.parse(&source.path, &source.text) {
        Ok(doc) => doc,
        Err(err) => {
            for d in err.diagnostics {
                diags.push(syntax_diagnostic(file, &source.text, &d));
            }
            return None;
        }
    };
    let mut reader = reader::Reader {
        file,
        dir: source.dir().to_path_buf(),
        home: vars
            .and_then(|v| v.get("HOME"))
            .filter(|h| h.starts_with('/'))
            .map(PathBuf::from),
        vars: vars.cloned().unwrap_or_default(),
        diags,
    };
    if let Some(vars) = vars {
        let mut budget = limits::MAX_INTERPOLATED_BYTES;
        for run in doc.runs_mut() {
            // Only a run that holds a `$` is changed (and so copied from the parse cache).
            if !run.iter().any(holds_dollar) {
                continue;
            }
            let nodes = std::sync::Arc::<Vec<kdl::KdlNode>>::make_mut(run);
            if !interpolate_nodes(&mut reader, nodes, vars, warned, &mut budget) {
                return None;
            }
        }
    }
    Some(decode::decode_document(&mut reader, doc.nodes()))
}

/// Whether a string value of `node` or of a node inside it holds a `$`.
fn holds_dollar(node: &kdl::KdlNode) -> bool {
    node.entries()
        .iter()
        .any(|e| matches!(e.value(), kdl::KdlValue::String(s) if s.contains('$')))
        || node
            .children()
            .is_some_and(|c| c.nodes().iter().any(holds_dollar))
}

/// Interpolates every string value. `false` (with the diagnostic) when the values together
/// grow past `budget` bytes: the file is not decoded then.
fn interpolate_nodes(
    r: &mut reader::Reader<'_>,
    nodes: &mut [kdl::KdlNode],
    vars: &BTreeMap<String, String>,
    warned: &mut HashSet<String>,
    budget: &mut usize,
) -> bool {
    for node in nodes {
        for entry in node.entries_mut() {
            let kdl::KdlValue::String(text) = entry.value() else {
                continue;
            };
            if !text.contains('$') {
                continue;
            }
            let span = r.value_span(entry);
            match interpolate::interpolate_within(text, vars, budget) {
                Err(interpolate::InterpolationError::Budget { .. }) => {
                    r.push(too_much_interpolation(span));
                    return false;
                }
                Ok(done) => {
                    for name in done.unset {
                        if warned.contains(&name) {
                            continue;
                        }
                        r.push(
                            Diagnostic::warning(Problem::UnsetVariable { name: name.clone() })
                                .with_label(span, "not set")
                                .with_help(format!(
                                    "set it in the shell or in `.env` beside the stack file, or give it a default: `${{{name}:-default}}`"
                                )),
                        );
                        warned.insert(name);
                    }
                    *entry.value_mut() = kdl::KdlValue::String(done.text);
                }
                Err(error) => {
                    let help = match &error {
                        interpolate::InterpolationError::Required { name, .. } => {
                            format!("set `{name}` in the shell or in `.env` beside the stack file")
                        }
                        interpolate::InterpolationError::Invalid { .. } => {
                            "write `$$` for a literal `$`".to_string()
                        }
                        interpolate::InterpolationError::TooLong { .. } => {
                            "values are at most 1 MiB: put large contents in a file".to_string()
                        }
                        interpolate::InterpolationError::TooDeep { .. } => {
                            "nest fewer defaults inside one another".to_string()
                        }
                        interpolate::InterpolationError::Budget { .. } => {
                            "interpolate smaller values, or fewer of them".to_string()
                        }
                    };
                    r.push(
                        Diagnostic::error(Problem::Interpolation { error })
                            .with_label(span, "cannot interpolate")
                            .with_help(help),
                    );
                }
            }
        }
        if let Some(children) = node.children_mut()
            && !interpolate_nodes(r, children.nodes_mut(), vars, warned, budget)
        {
            return false;
        }
    }
    true
}

fn too_much_interpolation(span: Span) -> Diagnostic {
    Diagnostic::error(Problem::TooMuchInterpolation {
        limit: limits::MAX_INTERPOLATED_BYTES,
    })
    .with_label(span, "the value that crosses it")
    .with_help("interpolate smaller values, or fewer of them")
}

fn syntax_diagnostic(file: FileId, text: &str, d: &kdl::KdlDiagnostic) -> Diagnostic {
    let offset = d.span.offset().min(text.len());
    let len = d.span.len().min(text.len() - offset);
    let span = Span { file, offset, len };
    let snippet = text.get(offset..offset + len).unwrap_or("");
    let word: String = text
        .get(offset..)
        .unwrap_or("")
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != ';' && *c != '}' && *c != '{')
        .collect();
    let message = d
        .message
        .clone()
        .unwrap_or_else(|| "invalid KDL".to_string());
    let (help, fix) = if matches!(word.as_str(), "true" | "false" | "null") {
        (
            Some(format!(
                "KDL v2 writes `{word}` as `#{word}` (a bare `{word}` was KDL v1)"
            )),
            Some(format!("#{word}")),
        )
    } else if word.contains(':') && word.chars().any(|c| c.is_ascii_digit()) {
        (
            Some(format!(
                "values with `:` are strings in KDL: write \"{word}\""
            )),
            Some(format!("\"{word}\"")),
        )
    } else if word.starts_with('$') {
        (
            Some(format!("quote values that hold variables: \"{word}\"")),
            Some(format!("\"{word}\"")),
        )
    } else {
        (d.help.clone(), None)
    };
    let label = d.label.clone().unwrap_or_else(|| "here".into());
    let _ = snippet;
    Diagnostic::error(Problem::Syntax {
        message: format!("invalid KDL: {}", lowercase_first(&message)),
    })
    .with_label(span, label)
    .with_help_opt(help)
    .with_fix_opt(fix.map(|to| (word, to)))
}

fn lowercase_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// The JSON Schema (draft 2020-12) of the resolved stack, the shape `stackr config --format
/// json` prints, for other tools (published as `book/src/schema/stack.schema.json`). Objects
/// are closed: a key the schema does not name is an error, so the schema cannot fall behind
/// the model unnoticed.
pub fn stack_schema() -> schemars::Schema {
    let closed = schemars::transform::RecursiveTransform(|schema: &mut schemars::Schema| {
        if schema.get("properties").is_some() && schema.get("additionalProperties").is_none() {
            schema.insert("additionalProperties".into(), false.into());
        }
    });
    let mut schema = schemars::generate::SchemaSettings::default()
        .for_serialize()
        .with_transform(closed)
        .into_generator()
        .into_root_schema_for::<Stack>();
    schema.insert(
        "title".into(),
        "The resolved stack (stackr config --format json)".into(),
    );
    // The model's own doc comment speaks of the code that builds it.
    schema.insert(
        "description".into(),
        "A stack after its files, includes, profiles and variables are resolved and checked: every reference resolves, every value is in range, the dependency graph has no cycle.".into(),
    );
    schema
}

/// Turns a directory name into a stack name as compose does with project names: lowercase,
/// only `a-z`, `0-9`, `_` and `-`, starting with a letter or digit.
pub fn normalize_stack_name(dir_name: &str) -> String {
    let lower: String = dir_name
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-')
        .collect();
    lower.trim_start_matches(['_', '-']).to_string()
}

fn valid_stack_name(name: &str) -> bool {
    !name.is_empty() && normalize_stack_name(name) == name
}

/// Every file read and decoded, before profiles are chosen: what [`assemble`] works from.
struct Read {
    base: Declarations,
    profiles: Vec<Profile>,
    stack_node: Option<Spanned<String>>,
    /// A file could not be read or parsed: there is nothing sound to validate.
    broken: bool,
}

/// Reads each entry file with its includes and overlays later files on earlier ones.
fn read_all(
    entries: &[PathBuf],
    reader: &dyn FileReader,
    opts: &Options,
    loaded: &mut Loaded,
    diags: &mut Diagnostics,
) -> Read {
    let mut read = Read {
        base: Declarations::default(),
        profiles: Vec::new(),
        stack_node: None,
        broken: false,
    };
    let mut warned = HashSet::new();
    for (i, path) in entries.iter().enumerate() {
        // This entry's files: an include is looked up among them (another entry may have
        // read the same file, and its copy is flattened with that entry).
        let first = loaded.files.len();
        let mut walk = Walk {
            reader,
            opts,
            loaded,
            diags,
            warned: &mut warned,
            open: Vec::new(),
            done: Default::default(),
        };
        let Some(file) = walk.read(path, None) else {
            read.broken = true;
            continue;
        };
        if loaded.files[file].stack.is_some() {
            read.stack_node = loaded.files[file].stack.clone();
        }
        let (decls, profs) = flatten(
            file - first,
            &mut loaded.files[first..],
            &loaded.sources,
            diags,
            &mut Vec::new(),
        );
        if i == 0 {
            read.base = decls;
        } else {
            merge::merge_declarations(&mut read.base, decls);
        }
        for p in profs {
            match read
                .profiles
                .iter_mut()
                .find(|q| q.name.value == p.name.value)
            {
                Some(q) => merge::merge_declarations(&mut q.body, p.body),
                None => read.profiles.push(p),
            }
        }
    }
    // A file that could not be parsed, or an include that could not be read, leaves nothing
    // sound to validate: whatever it declared would show up as unknown references.
    if diags.iter().any(|d| {
        matches!(
            d.problem,
            Problem::Syntax { .. }
                | Problem::Unreadable { .. }
                | Problem::Encoding { .. }
                | Problem::TooDeep { .. }
                | Problem::TooMany { .. }
                | Problem::NumberTooLarge { .. }
                | Problem::TooManyFiles { .. }
                | Problem::TooMuchInterpolation { .. }
        )
    }) {
        read.broken = true;
    }
    read
}

/// Applies profiles to `base` (what was read, or a copy of it) and validates.
fn assemble(
    read: &Read,
    base: Declarations,
    entries: &[PathBuf],
    opts: &Options,
    diags: &mut Diagnostics,
) -> Option<Stack> {
    let name = stack_name(entries, opts, read.stack_node.as_ref(), diags);
    let profile_services: BTreeMap<String, Vec<String>> = read
        .profiles
        .iter()
        .map(|p| {
            (
                p.name.value.clone(),
                p.body
                    .services
                    .iter()
                    .map(|s| s.name.value.clone())
                    .collect(),
            )
        })
        .collect();
    let mut decls = base;
    for wanted in &opts.profiles {
        match read.profiles.iter().find(|p| p.name.value == *wanted) {
            Some(p) => merge::merge_declarations(&mut decls, p.body.clone()),
            None => {
                let names: Vec<&str> = read
                    .profiles
                    .iter()
                    .map(|p| p.name.value.as_str())
                    .collect();
                let help = match suggest::did_you_mean(wanted, &names) {
                    Some(best) => format!("did you mean `{best}`?"),
                    None if names.is_empty() => "the stack declares no profile".into(),
                    None => format!("declared profiles: {}", suggest::listed(&names)),
                };
                diags.push(
                    Diagnostic::error(Problem::UnknownReference {
                        from: "`--profile`".into(),
                        kind: "profile".into(),
                        name: wanted.clone(),
                    })
                    .with_help(help),
                );
            }
        }
    }
    let cx = validate::Context {
        name,
        target: opts.target,
        profiles: opts.profiles.clone(),
        profile_services: &profile_services,
    };
    validate::validate(decls, &cx, diags)
}

/// Loads stack files: reads each with its includes, overlays later files on earlier ones,
/// applies the chosen profiles and validates.
pub fn load(entries: &[PathBuf], reader: &dyn FileReader, opts: &Options) -> Loaded {
    let mut loaded = Loaded::default();
    let mut diags = Diagnostics::default();
    let mut read = read_all(entries, reader, opts, &mut loaded, &mut diags);
    // Validation runs after decoding errors too, so that every problem is reported in one run;
    // it only stops when a file could not be read or parsed at all.
    if !read.broken {
        let base = std::mem::take(&mut read.base);
        loaded.stack = assemble(&read, base, entries, opts, &mut diags);
    }
    finish(&mut loaded, diags);
    loaded
}

/// `f` of each item, on up to as many threads as the machine has cores; the results in the
/// items' order. A thread that fails leaves its items to be done on this one.
fn in_parallel<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(items.len());
    if workers <= 1 {
        return items.iter().map(&f).collect();
    }
    let mut out: Vec<Option<R>> = items.iter().map(|_| None).collect();
    std::thread::scope(|s| {
        let f = &f;
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                s.spawn(move || {
                    (w..items.len())
                        .step_by(workers)
                        .map(|i| (i, f(&items[i])))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            for (i, r) in h.join().unwrap_or_default() {
                out[i] = Some(r);
            }
        }
    });
    out.into_iter()
        .zip(items)
        .map(|(r, item)| r.unwrap_or_else(|| f(item)))
        .collect()
}

/// Validates the base and every declared profile applied on its own, as `stackr check` does
/// (or, when `opts` names profiles, exactly that combination). Files are read once. Returns the
/// base (or chosen) stack, with the diagnostics of every profile added without repeats.
///
/// `host` checks each valid stack against the world (files that must exist, for instance).
pub fn load_all_profiles(
    entries: &[PathBuf],
    reader: &dyn FileReader,
    opts: &Options,
    host: &(dyn Fn(&Stack) -> Vec<Diagnostic> + Sync),
) -> Loaded {
    let mut loaded = Loaded::default();
    let mut diags = Diagnostics::default();
    let read = read_all(entries, reader, opts, &mut loaded, &mut diags);
    if read.broken {
        finish(&mut loaded, diags);
        return loaded;
    }
    let mut runs: Vec<Options> = vec![opts.clone()];
    if opts.profiles.is_empty() {
        for p in &read.profiles {
            let mut o = opts.clone();
            o.profiles = vec![p.name.value.clone()];
            runs.push(o);
        }
    }
    let mut all: Vec<Diagnostic> = diags.into_vec();
    let decode_count = all.len();
    // What each run found, so that a problem found again is a lookup, not a scan.
    let mut found: std::collections::HashSet<(String, Option<Span>)> = Default::default();
    // The runs are independent: they run side by side, and their results are merged in order.
    let decoded = &all[..decode_count];
    let results = in_parallel(&runs, |run| {
        // Each run sees the decoding diagnostics, so follow-on problems stay suppressed.
        let mut d = Diagnostics::default();
        d.extend(decoded.iter().cloned());
        let stack = assemble(&read, read.base.clone(), entries, run, &mut d);
        if let Some(stack) = &stack {
            d.extend(host(stack));
        }
        let found: Vec<Diagnostic> = d.into_vec().into_iter().skip(decode_count).collect();
        (stack, found)
    });
    for (i, (run, (stack, found_here))) in runs.iter().zip(results).enumerate() {
        for diag in found_here {
            if found.insert((format!("{:?}", diag.problem), diag.primary())) {
                // A problem only a profile brings says which profile.
                let diag = if i > 0 {
                    diag.with_note(format!("found with `--profile {}`", run.profiles.join(",")))
                } else {
                    diag
                };
                all.push(diag);
            }
        }
        if i == 0 {
            loaded.stack = stack;
        }
    }
    let mut diags = Diagnostics::default();
    diags.extend(all);
    if diags.has_errors() {
        loaded.stack = None;
    }
    finish(&mut loaded, diags);
    loaded
}

/// A file's bytes as text, or the diagnostic (with its excerpt) at the first byte that makes
/// it not UTF-8 text: for files read outside a load, such as compose files for `import`.
pub fn decode_file(path: &Path, name: &str, bytes: &[u8]) -> Result<String, Box<Diagnostic>> {
    let (text, fault) = guard::decode(bytes);
    match fault {
        None => Ok(text),
        Some(fault) => {
            let mut sources = SourceMap::default();
            let id = sources.add(SourceFile::new(path, name, text));
            Err(Box::new(fault.diagnostic(id, name).attach(&sources)))
        }
    }
}

/// Loads one in-memory file (for tests, examples and the book).
pub fn load_str(path: &str, text: &str, opts: &Options) -> Loaded {
    let mut reader = MemoryReader::default();
    reader.files.insert(PathBuf::from(path), text.to_string());
    load(&[PathBuf::from(path)], &reader, opts)
}

fn finish(loaded: &mut Loaded, diags: Diagnostics) {
    let mut list = diags.into_vec();
    list.sort_by_key(|d| d.primary().map(|s| (s.file, s.offset)));
    loaded.diagnostics = list
        .into_iter()
        .map(|d| d.attach(&loaded.sources))
        .collect();
}

fn stack_name(
    entries: &[PathBuf],
    opts: &Options,
    node: Option<&Spanned<String>>,
    diags: &mut Diagnostics,
) -> String {
    if let Some(n) = &opts.stack_name {
        if !valid_stack_name(n) {
            diags.push(
                Diagnostic::error(Problem::InvalidName {
                    what: "stack".into(),
                    name: n.clone(),
                    reason: "stack names hold only lowercase letters, digits, `_` and `-`, and start with a letter or digit".into(),
                })
                .with_help(format!("try `{}`", normalize_stack_name(n))),
            );
        }
        return n.clone();
    }
    if let Some(n) = node {
        if !valid_stack_name(&n.value) {
            let fixed = normalize_stack_name(&n.value);
            diags.push(
                Diagnostic::error(Problem::InvalidName {
                    what: "stack".into(),
                    name: n.value.clone(),
                    reason: "stack names hold only lowercase letters, digits, `_` and `-`, and start with a letter or digit".into(),
                })
                .with_label(n.span, "invalid stack name")
                .with_help_opt((!fixed.is_empty()).then(|| format!("write `stack \"{fixed}\"`"))),
            );
        }
        return n.value.clone();
    }
    let dir = entries
        .first()
        .and_then(|p| p.parent())
        .and_then(|d| d.file_name())
        .map(|d| d.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = normalize_stack_name(&dir);
    if name.is_empty() {
        diags.push(
            Diagnostic::error(Problem::InvalidName {
                what: "stack".into(),
                name: dir,
                reason: "no stack name can be made from the directory name".into(),
            })
            .with_help("name the stack with `stack \"NAME\"` in the file, or `-p NAME`"),
        );
    }
    name
}

/// Reading one entry file and, depth first, the files it includes.
struct Walk<'a> {
    reader: &'a dyn FileReader,
    opts: &'a Options,
    loaded: &'a mut Loaded,
    diags: &'a mut Diagnostics,
    warned: &'a mut HashSet<String>,
    /// The files being read, outermost first: an include cycle comes back to one of them.
    open: Vec<PathBuf>,
    /// Every file read for this entry file: one included twice would be read twice (and a
    /// chain of such files 2^n times), and what it declares would clash with itself.
    done: std::collections::HashSet<PathBuf>,
}

impl Walk<'_> {
    /// Reads `path` (included at `from`) and what it includes; its index in `loaded.files`.
    fn read(&mut self, path: &Path, from: Option<Span>) -> Option<usize> {
        let refused = if self.open.iter().any(|p| p == path) {
            Some((
                Problem::IncludeCycle {
                    path: self.reader.display_name(path),
                },
                "included again here",
                "remove one of the `include` nodes",
            ))
        } else if self.done.contains(path) {
            Some((
                Problem::IncludedTwice {
                    path: self.reader.display_name(path),
                },
                "included again here",
                "a file is included once: remove this `include`",
            ))
        } else if self.loaded.sources.len() >= limits::MAX_FILES {
            Some((
                Problem::TooManyFiles {
                    limit: limits::MAX_FILES,
                },
                "one file too many",
                "merge some of the included files",
            ))
        } else {
            None
        };
        if let Some((problem, label, help)) = refused {
            let mut d = Diagnostic::error(problem);
            if let Some(span) = from {
                d = d.with_label(span, label);
            }
            self.diags.push(d.with_help(help));
            return None;
        }
        let (source, fault) = self.source(path, from)?;
        let id = self.loaded.sources.add(source.clone());
        if let Some(fault) = fault {
            self.diags.push(fault.diagnostic(id, &source.name));
            return None;
        }
        let file = parse_file(
            id,
            &source,
            self.reader,
            self.opts.vars.as_ref(),
            self.warned,
            self.diags,
        )?;
        self.done.insert(path.to_path_buf());
        self.open.push(path.to_path_buf());
        let includes = file.includes.clone();
        if let (Some(span), Some(name)) = (from, &file.stack) {
            self.diags.push(
                Diagnostic::warning(Problem::Other {
                    message: format!(
                        "the `stack` name `{}` of an included file is not used",
                        name.value
                    ),
                })
                .with_label(name.span, "ignored")
                .with_label(span, "included here")
                .with_help("the including file (or `-p`) names the stack; remove `stack` here"),
            );
        }
        self.loaded.files.push(file);
        let index = self.loaded.files.len() - 1;
        for inc in includes {
            self.read(&inc.value, Some(inc.span));
        }
        self.open.pop();
        Some(index)
    }

    /// The file's text (and what makes it not UTF-8 text), or `None` with the reason reported.
    fn source(
        &mut self,
        path: &Path,
        from: Option<Span>,
    ) -> Option<(SourceFile, Option<guard::Fault>)> {
        let name = self.reader.display_name(path);
        let bytes = self.reader.read(path).and_then(|b| {
            if b.len() as u64 > limits::MAX_FILE_BYTES {
                Err(ReadError::TooLarge {
                    limit: limits::MAX_FILE_BYTES,
                })
            } else {
                Ok(b)
            }
        });
        match bytes {
            Ok(bytes) => {
                let (text, fault) = guard::decode(&bytes);
                Some((SourceFile::new(path, name, text), fault))
            }
            Err(error) => {
                let mut d = Diagnostic::error(Problem::Unreadable { path: name, error });
                if let Some(span) = from {
                    d = d.with_label(span, "included here");
                }
                self.diags.push(d);
                None
            }
        }
    }
}

/// A file's declarations with its includes' added (included first; a name declared in both is
/// an error), and its profiles.
fn flatten(
    index: usize,
    files: &mut [StackFile],
    sources: &SourceMap,
    diags: &mut Diagnostics,
    flattened: &mut Vec<usize>,
) -> (Declarations, Vec<Profile>) {
    let includes = files[index].includes.clone();
    let mut decls = Declarations::default();
    let mut profiles: Vec<Profile> = Vec::new();
    flattened.push(index);
    {
        for inc in &includes {
            // An include cycle or a file included twice was reported while reading: each file
            // is followed once (following every include of a file included twice at each
            // level would cost 2^n).
            let Some(j) = files
                .iter()
                .position(|f| sources.get(f.file).is_some_and(|s| s.path == inc.value))
                .filter(|j| !flattened.contains(j))
            else {
                continue;
            };
            let (d, p) = flatten(j, files, sources, diags, flattened);
            union(&mut decls, d, diags);
            for prof in p {
                match profiles
                    .iter_mut()
                    .find(|q| q.name.value == prof.name.value)
                {
                    Some(q) => merge::merge_declarations(&mut q.body, prof.body),
                    None => profiles.push(prof),
                }
            }
        }
    }
    // Each file is flattened once: what it declares is taken, not copied.
    let file = &mut files[index];
    union(&mut decls, std::mem::take(&mut file.body), diags);
    for prof in std::mem::take(&mut file.profiles) {
        match profiles
            .iter_mut()
            .find(|q| q.name.value == prof.name.value)
        {
            Some(q) => merge::merge_declarations(&mut q.body, prof.body),
            None => profiles.push(prof),
        }
    }
    (decls, profiles)
}

/// Adds declarations from an included file; the same name in both is an error.
fn union(into: &mut Declarations, from: Declarations, diags: &mut Diagnostics) {
    fn add<T>(
        list: &mut Vec<T>,
        items: Vec<T>,
        kind: &str,
        name: impl Fn(&T) -> &Spanned<String>,
        diags: &mut Diagnostics,
    ) {
        let mut index: std::collections::HashMap<String, Span> = list
            .iter()
            .map(|o| (name(o).value.clone(), name(o).span))
            .collect();
        for item in items {
            if let Some(first) = index.get(&name(&item).value) {
                let n = name(&item);
                diags.push(
                    Diagnostic::error(Problem::Duplicate {
                        kind: kind.into(),
                        name: n.value.clone(),
                    })
                    .with_label(n.span, "defined again here")
                    .with_label(*first, "first defined here")
                    .with_help("an included file cannot redefine what the stack already has: rename one of them"),
                );
                continue;
            }
            index.insert(name(&item).value.clone(), name(&item).span);
            list.push(item);
        }
    }
    // The including file's `target` is unioned last, and wins over its includes'.
    if from.target.is_some() {
        into.target = from.target;
    }
    add(
        &mut into.services,
        from.services,
        "service",
        |s| &s.name,
        diags,
    );
    add(
        &mut into.networks,
        from.networks,
        "network",
        |s| &s.name,
        diags,
    );
    add(
        &mut into.volumes,
        from.volumes,
        "volume",
        |s| &s.name,
        diags,
    );
    add(
        &mut into.secrets,
        from.secrets,
        "secret",
        |s| &s.name,
        diags,
    );
    add(
        &mut into.configs,
        from.configs,
        "config",
        |s| &s.name,
        diags,
    );
}
