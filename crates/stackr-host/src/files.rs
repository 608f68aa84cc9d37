//! The file system side of loading: reading stack files, finding the default one, and checking
//! that the paths a stack names exist on this machine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use stackr_spec::interpolate::parse_dotenv_all;
use stackr_spec::limits;
use stackr_spec::{
    ConfigSource, Diagnostic, FileReader, MountSource, Problem, ReadError, SecretSource,
    SourceFile, SourceMap, Span, Spanned, Stack,
};

/// Reads stack files from disk; names them relative to the working directory.
pub struct DiskReader {
    pub cwd: PathBuf,
}

impl FileReader for DiskReader {
    fn read(&self, path: &Path) -> Result<Vec<u8>, ReadError> {
        read_regular(path, limits::MAX_FILE_BYTES)
    }

    fn display_name(&self, path: &Path) -> String {
        match path.strip_prefix(&self.cwd) {
            Ok(rel) => rel.display().to_string(),
            Err(_) => path.display().to_string(),
        }
    }
}

/// What a path that is not a regular file is, for messages.
fn kind_of(t: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// Why `path` is not a regular file, if it exists and is something else.
fn not_regular(path: &Path) -> Option<&'static str> {
    let meta = std::fs::metadata(path).ok()?;
    (!meta.is_file()).then(|| kind_of(meta.file_type()))
}

/// Reads a regular file of at most `limit` bytes. A device, FIFO, socket or directory is
/// refused before it is read (a FIFO is opened without blocking, so that one made in its place
/// in between cannot hang the read either), and a longer file is refused once `limit` bytes
/// have been read.
pub fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(kind) = not_regular(path) {
        return Err(ReadError::NotRegular { kind });
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular {
            kind: kind_of(meta.file_type()),
        });
    }
    let mut out = Vec::with_capacity(meta.len().min(limit) as usize);
    file.take(limit + 1).read_to_end(&mut out)?;
    if out.len() as u64 > limit {
        return Err(ReadError::TooLarge { limit });
    }
    Ok(out)
}

/// Reads a regular file of at most [`limits::MAX_FILE_BYTES`] that must be UTF-8 text.
pub fn read_text(path: &Path) -> Result<String, ReadError> {
    let bytes = read_regular(path, limits::MAX_FILE_BYTES)?;
    String::from_utf8(bytes).map_err(|e| ReadError::NotUtf8 {
        offset: e.utf8_error().valid_up_to(),
    })
}

/// What is wrong with a host file a stack names: missing, or not a regular file.
fn file_problem(what: &str, path: &Spanned<PathBuf>) -> Option<Diagnostic> {
    let meta = match std::fs::metadata(&path.value) {
        Ok(meta) => meta,
        Err(_) => return Some(missing(what, path)),
    };
    if meta.is_file() {
        return None;
    }
    let kind = kind_of(meta.file_type());
    Some(
        Diagnostic::error(Problem::Unreadable {
            path: path.value.display().to_string(),
            error: ReadError::NotRegular { kind },
        })
        .with_label(path.span, kind)
        .with_help(format!("{what} is a regular file")),
    )
}

/// The stack files to load: the `-f` paths made absolute, or `stack.kdl` in `cwd` or its
/// nearest parent that has one.
pub fn stack_files(cwd: &Path, given: &[PathBuf]) -> Result<Vec<PathBuf>, crate::HostError> {
    if !given.is_empty() {
        return Ok(given.iter().map(|p| cwd.join(p)).collect());
    }
    let mut dir = Some(cwd);
    while let Some(d) = dir {
        let candidate = d.join("stack.kdl");
        if candidate.is_file() {
            return Ok(vec![candidate]);
        }
        dir = d.parent();
    }
    Err(crate::HostError::NoStackFile {
        dir: cwd.to_path_buf(),
    })
}

fn missing(what: &str, path: &Spanned<PathBuf>) -> Diagnostic {
    Diagnostic::error(Problem::MissingPath {
        what: what.into(),
        path: path.value.display().to_string(),
    })
    .with_label(path.span, "not found")
}

/// Checks that the host paths a stack needs exist: build contexts and Dockerfiles, env files,
/// secret and config files, and bind mount sources (a warning: Docker would create an empty
/// directory there).
pub fn host_checks(stack: &Stack) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for s in stack.services.values() {
        if let Some(b) = &s.build {
            let ctx = b.context.clone();
            let dir = ctx.as_ref().map(|c| c.value.clone());
            if let Some(c) = &ctx
                && !c.value.is_dir()
            {
                out.push(
                    missing("build context", c)
                        .with_help("the build context is a directory, relative to the stack file"),
                );
            }
            let dockerfile = b
                .dockerfile
                .as_ref()
                .map_or("Dockerfile", |d| d.value.as_str());
            if let Some(dir) = dir.filter(|d| d.is_dir() && b.dockerfile_inline.is_none()) {
                let path = dir.join(dockerfile);
                if !path.is_file() {
                    let span = b.dockerfile.as_ref().map_or(b.span, |d| d.span);
                    out.push(
                        Diagnostic::error(Problem::MissingPath {
                            what: format!("the Dockerfile of service `{}`", s.name.value),
                            path: path.display().to_string(),
                        })
                        .with_label(span, "not found")
                        .with_help("`dockerfile` is relative to the build context"),
                    );
                }
            }
        }
        for (what, f) in s
            .env_files
            .iter()
            .map(|f| ("an env file", f))
            .chain(s.options.label_files.iter().map(|f| ("a label file", f)))
        {
            if f.required || f.path.value.exists() {
                out.extend(
                    file_problem(what, &f.path)
                        .map(|d| d.with_help("create it, or mark it `required=#false`")),
                );
            }
        }
        for m in &s.mounts {
            if let MountSource::Bind(p) = &m.source.value
                && !p.starts_with("~")
                && !p.exists()
            {
                out.push(
                    Diagnostic::warning(Problem::MissingPath {
                        what: "bind mount source".into(),
                        path: p.display().to_string(),
                    })
                    .with_label(m.source.span, "not found")
                    .with_help("Docker would create an empty directory owned by root here"),
                );
            }
        }
    }
    for sec in stack.secrets.values() {
        if let Some(Spanned {
            value: SecretSource::File(p),
            span,
        }) = &sec.source
            && let Some(d) = file_problem(
                &format!("the file of secret `{}`", sec.name.value),
                &Spanned::new(p.clone(), *span),
            )
        {
            out.push(d.with_help("secret files are regular files, relative to the stack file"));
        }
    }
    for c in stack.configs.values() {
        if let Some(Spanned {
            value: ConfigSource::File(p),
            span,
        }) = &c.source
            && let Some(d) = file_problem(
                &format!("the file of config `{}`", c.name.value),
                &Spanned::new(p.clone(), *span),
            )
        {
            out.push(d);
        }
    }
    out
}

/// The variables for interpolation: the env files (`--env-file`, or `.env` beside the first
/// stack file), with the shell environment winning over them, as compose does.
/// The env files read for variables: the `--env-file`s (required), else `.env` beside the first
/// stack file (if it exists).
fn env_files_for(
    cwd: &Path,
    stack_files: &[PathBuf],
    env_files: &[PathBuf],
) -> Vec<(PathBuf, bool)> {
    if env_files.is_empty() {
        stack_files
            .first()
            .and_then(|f| f.parent())
            .map(|d| vec![(d.join(".env"), false)])
            .unwrap_or_default()
    } else {
        env_files.iter().map(|f| (cwd.join(f), true)).collect()
    }
}

/// The paths of the env files read for variables (whether they exist or not).
pub fn env_file_paths(cwd: &Path, stack_files: &[PathBuf], env_files: &[PathBuf]) -> Vec<PathBuf> {
    env_files_for(cwd, stack_files, env_files)
        .into_iter()
        .map(|(p, _)| p)
        .collect()
}

/// Variables for interpolation, and the warnings found reading them.
pub type Variables = (BTreeMap<String, String>, Vec<Diagnostic>);

/// The variables for interpolation (the shell over the env files), and warnings (env file
/// lines that use a variable set nowhere); `Err` holds the problems that stop the command.
pub fn variables(
    cwd: &Path,
    stack_files: &[PathBuf],
    env_files: &[PathBuf],
) -> Result<Variables, Vec<Diagnostic>> {
    let read = read_variables(cwd, stack_files, env_files, &read_text);
    if !read.problems.is_empty() {
        return Err(read.problems);
    }
    Ok((read.vars, read.warnings))
}

/// What reading the variables found: an editor shows all of it at once, where a command stops
/// at the problems.
#[derive(Debug, Default)]
pub struct VariablesRead {
    /// The shell over what could be read of the env files.
    pub vars: BTreeMap<String, String>,
    /// Env file lines that use a variable set nowhere.
    pub warnings: Vec<Diagnostic>,
    /// Env files that cannot be read, and their lines that are not `KEY=value`.
    pub problems: Vec<Diagnostic>,
}

/// The variables as [`variables`] reads them, the env files read with `read` (an editor
/// reads the ones it has open, unsaved).
pub fn read_variables(
    cwd: &Path,
    stack_files: &[PathBuf],
    env_files: &[PathBuf],
    read: &dyn Fn(&Path) -> Result<String, ReadError>,
) -> VariablesRead {
    let shell: BTreeMap<String, String> = std::env::vars().collect();
    let files = env_files_for(cwd, stack_files, env_files);
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    for (path, required) in files {
        let text = match read(&path) {
            Ok(t) => t,
            Err(ReadError::NotFound) if !required => continue,
            Err(e) => {
                problems.push(Diagnostic::error(Problem::Other {
                    message: format!("cannot read env file `{}`: {e}", path.display()),
                }));
                continue;
            }
        };
        let mut known = vars.clone();
        for (k, v) in &shell {
            known.insert(k.clone(), v.clone());
        }
        let d = parse_dotenv_all(&text, &known);
        vars.extend(d.vars);
        if d.errors.is_empty() && d.unset.is_empty() {
            continue;
        }
        let name = match path.strip_prefix(cwd) {
            Ok(rel) => rel.display().to_string(),
            Err(_) => path.display().to_string(),
        };
        let mut map = SourceMap::default();
        let id = map.add(SourceFile::new(&path, name, text));
        for (e, name) in &d.unset {
            let span = Span {
                file: id,
                offset: e.offset,
                len: e.len,
            };
            warnings.push(
                Diagnostic::warning(Problem::UnsetVariable { name: name.clone() })
                    .with_label(span, "uses it")
                    .with_help(format!(
                        "set `{name}` in the shell or earlier in this file, or write `${{{name}:-}}` for an empty value"
                    ))
                    .attach(&map),
            );
        }
        for e in d.errors {
            let span = Span {
                file: id,
                offset: e.offset,
                len: e.len,
            };
            problems.push(
                Diagnostic::error(Problem::Other {
                    message: format!("invalid env file: {}", e.reason),
                })
                .with_label(span, "cannot read this line")
                .with_help("env files hold `KEY=value` lines; quote values with spaces or `#`")
                .attach(&map),
            );
        }
    }
    vars.extend(shell);
    VariablesRead {
        vars,
        warnings,
        problems,
    }
}
