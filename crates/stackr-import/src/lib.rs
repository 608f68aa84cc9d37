//! `stackr import`: compose YAML to an idiomatic stack file.
//!
//! The first [`Input`] is the base; every later one is an override file that becomes a
//! `profile` block holding only what it changes (compose's override rules and stackr's profile
//! merge are the same, so the base plus the profile means what compose would run with both
//! files). Service-level compose `profiles` become profile blocks too. What stackr cannot
//! express, and what compose itself ignores outside Swarm, goes to the compatibility report
//! and, as `// import:` comments, into the stack file; nothing is dropped silently.
//!
//! The crate does no IO and never panics: the caller reads the files and writes the output.
//!
//! ```
//! use stackr_import::{import, Input};
//! let out = import(&[Input {
//!     path: "/app/docker-compose.yml".into(),
//!     text: "services:\n  web:\n    image: nginx\n    ports: [\"8080:80\"]\n".into(),
//!     profile: None,
//! }]);
//! assert!(out.diagnostics.is_empty());
//! assert!(out.kdl.contains("service \"web\" {\n    image \"nginx\"\n    port \"8080:80\"\n}"));
//! ```

mod compose;
mod ctx;
mod files;
mod ir;
mod kdl;
mod service;
mod shell;
mod yaml;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use stackr_spec::{Diagnostic, FileReader, Problem};

use crate::ir::{Decl, Frag, Group, Kind};
use crate::kdl::{Node, Val};

/// One compose file, as `FILE[:PROFILE]` on the command line.
#[derive(Debug, Clone)]
pub struct Input {
    /// The path as the user gave it (diagnostics and the report name the file by it).
    pub path: PathBuf,
    pub text: String,
    /// The profile an override file becomes; `None` takes it from the file name.
    pub profile: Option<String>,
}

/// One item of the compatibility report: what was not carried over, or changed in meaning,
/// and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportItem {
    /// The compose file, as the report names it (empty for an item about the whole import).
    pub file: String,
    /// 1-based line and column in `file` (0 when `file` is empty).
    pub line: usize,
    pub column: usize,
    /// What it is about, in words: "service `web`".
    pub place: String,
    /// The compose key: `services.web.build.ssh`.
    pub key: String,
    /// What happened and why.
    pub message: String,
}

impl ReportItem {
    /// An item about the import as a whole, or a declaration, rather than a place in a file.
    pub fn general(place: impl Into<String>, key: impl Into<String>, message: String) -> Self {
        ReportItem {
            file: String::new(),
            line: 0,
            column: 0,
            place: place.into(),
            key: key.into(),
            message,
        }
    }
}

impl std::fmt::Display for ReportItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.file.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(
                f,
                "{}:{}: {}: {}",
                self.file, self.line, self.place, self.message
            )
        }
    }
}

/// How to import: everything beyond the compose files themselves.
pub struct Options<'a> {
    /// `--target`: `Some(Target::Swarm)` writes `target "swarm"` and checks for a swarm.
    pub target: Option<stackr_spec::Target>,
    /// The variables compose would interpolate with: the shell over `.env` (or `--env-file`).
    /// The stack file keeps the `${...}` text; these values are what it is checked with.
    pub vars: BTreeMap<String, String>,
    /// Reads the files the compose files name (`extends.file`, `include`), and everything the
    /// check of the result reads.
    pub reader: &'a dyn FileReader,
    /// Where the stack file will be written; relative paths are rewritten to start from its
    /// directory. `None`: `stack.kdl` beside the first compose file.
    pub stack_file: Option<PathBuf>,
    /// The directory the relative paths of the inputs and `stack_file` start from (the CLI's
    /// working directory), so that paths can be rewritten between directories.
    pub cwd: PathBuf,
    /// The checks of the result against the machine (files that must exist), as `stackr
    /// check` runs them.
    pub host: &'a (dyn Fn(&stackr_spec::Stack) -> Vec<Diagnostic> + Sync),
}

/// What an import produced.
#[derive(Debug, Default)]
pub struct Imported {
    /// The whole stack file, with the report's items as `// import:` comments.
    pub kdl: String,
    /// The compatibility report, one line per item (`FILE:LINE: PLACE: what and why`).
    pub report: Vec<String>,
    /// The same report as data.
    pub items: Vec<ReportItem>,
    /// Problems in the compose files (YAML errors, unknown keys, invalid values), with spans
    /// and their source attached, ready to render.
    pub diagnostics: Vec<Diagnostic>,
}

impl Imported {
    /// Whether a compose file had errors (the stack file is then incomplete).
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// The profile name an override file gets from its name: `docker-compose.dev.yml` and
/// `compose.dev.yaml` give `dev`, `docker-compose.override.yml` gives `override`.
pub fn profile_name(path: &Path) -> String {
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_default();
    let stem = file
        .strip_suffix(".yml")
        .or_else(|| file.strip_suffix(".yaml"))
        .unwrap_or(&file);
    let mut name = stem;
    for prefix in [
        "docker-compose.",
        "docker-compose-",
        "docker-compose_",
        "compose.",
        "compose-",
        "compose_",
    ] {
        if let Some(rest) = stem.strip_prefix(prefix) {
            name = rest;
            break;
        }
    }
    if let Some(rest) = name
        .strip_suffix(".docker-compose")
        .or_else(|| name.strip_suffix(".compose"))
    {
        name = rest;
    }
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    cleaned.trim_start_matches(['-', '_', '.']).to_string()
}

fn valid_name(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Imports compose files: the first is the base, each later one an override that becomes a
/// profile. No IO; never panics.
pub fn import(inputs: &[Input]) -> Imported {
    import_for(inputs, None)
}

/// [`import`] for a target: `Some(Target::Swarm)` writes `target "swarm"` into the stack file
/// and checks it as the Swarm target would (a scaled service may publish a fixed port through
/// the routing mesh there; a `container-name` may not).
pub fn import_for(inputs: &[Input], target: Option<stackr_spec::Target>) -> Imported {
    let reader = stackr_spec::MemoryReader::default();
    import_with(
        inputs,
        &Options {
            target,
            vars: BTreeMap::new(),
            reader: &reader,
            stack_file: None,
            cwd: PathBuf::new(),
            host: &|_| Vec::new(),
        },
    )
}

/// The stack file's path: the one asked for, or `stack.kdl` beside the first compose file.
fn stack_path(inputs: &[Input], opts: &Options<'_>) -> PathBuf {
    match &opts.stack_file {
        Some(p) => p.clone(),
        None => inputs
            .first()
            .and_then(|i| i.path.parent())
            .unwrap_or(Path::new(""))
            .join("stack.kdl"),
    }
}

/// [`import`] with variables, a reader for the files the compose files name, where the stack
/// file goes and the machine's checks. No IO of its own; never panics.
pub fn import_with(inputs: &[Input], opts: &Options<'_>) -> Imported {
    let target = opts.target;
    let mut out = Imported::default();
    let mut diags: Vec<Diagnostic> = Vec::new();
    let mut files: Vec<(String, compose::File)> = Vec::new();
    let mut head_notes: Vec<String> = Vec::new();
    let stack_file = opts.cwd.join(stack_path(inputs, opts));
    let stack_dir = ctx::normalize(stack_file.parent().unwrap_or(Path::new("")));
    let mut loader = files::Loader::new(opts.reader, &opts.vars, stack_dir);
    for (i, input) in inputs.iter().enumerate() {
        let display = input.path.display().to_string();
        let at = loader.add(
            &opts.cwd.join(&input.path),
            display.clone(),
            input.text.clone(),
        );
        // compose: every `-f` file's relative paths start from the first file's directory.
        let first = inputs
            .first()
            .map_or(input.path.as_path(), |f| f.path.as_path());
        let dir = ctx::normalize(&opts.cwd.join(first.parent().unwrap_or(Path::new(""))));
        let (file, mut file_report) = loader.convert(at, dir);
        out.items.append(&mut file_report);
        let mut ctx = ctx::Ctx::new(
            &display,
            &input.text,
            &opts.vars,
            PathBuf::new(),
            PathBuf::new(),
        );
        let profile = if i == 0 {
            String::new()
        } else {
            let p = input
                .profile
                .clone()
                .unwrap_or_else(|| profile_name(&input.path));
            if !valid_name(&p) {
                diags.push(
                    Diagnostic::error(Problem::InvalidName {
                        what: "profile".into(),
                        name: p.clone(),
                        reason: "names start with a letter or digit and hold only letters, digits, `_`, `.` and `-`".into(),
                    })
                    .with_help(format!("name the profile on the command line: `{display}:NAME`")),
                );
            } else if files.iter().skip(1).any(|(q, _)| *q == p) {
                diags.push(
                    Diagnostic::error(Problem::Duplicate {
                        kind: "profile".into(),
                        name: p.clone(),
                    })
                    .with_help(format!(
                        "name the profile of `{display}` on the command line: `{display}:NAME`"
                    )),
                );
            }
            p
        };
        if i > 0
            && let (Some((n, span)), Some((base, _))) =
                (&file.name, files.first().and_then(|f| f.1.name.as_ref()))
            && n != base
        {
            head_notes.push(ctx.note(
                *span,
                format!(
                    "`name: {n}` of an override file is not imported: the stack keeps `{base}`"
                ),
            ));
        }
        diags.append(&mut ctx.diags);
        out.items.append(&mut ctx.report);
        files.push((profile, file));
    }
    diags.append(&mut loader.diags);
    let mut stack = assemble(files, &mut out.items, &mut head_notes);
    stack.head = head_notes;
    out.kdl = with_target(stack.render(inputs), target);
    let project = opts
        .vars
        .get(PROJECT_NAME_VAR)
        .cloned()
        .or_else(|| stack.name.clone())
        .unwrap_or_else(|| {
            let dir = stack_dir_of(inputs, opts);
            stackr_spec::normalize_stack_name(&dir)
        });
    let (kdl, replaced) = project_name_written_out(&out.kdl, &project);
    if replaced {
        out.kdl = kdl;
        out.items.push(ReportItem::general(
            "the file",
            String::new(),
            format!("`${{{PROJECT_NAME_VAR}}}` is written as the project's name `{project}`: compose defines the variable as that name, stackr has no such variable"),
        ));
    }
    out.diagnostics = diags
        .into_iter()
        .map(|d| d.attach(&loader.sources))
        .collect();
    if !out.has_errors() && !inputs.is_empty() {
        let found = self_check(&stack_file, &out.kdl, opts, &mut out.items);
        out.diagnostics.extend(found);
    }
    out.report = out.items.iter().map(ToString::to_string).collect();
    out
}

/// The variable compose defines as the project's name while it interpolates.
const PROJECT_NAME_VAR: &str = "COMPOSE_PROJECT_NAME";

/// The name of the first compose file's folder: compose's project name when nothing names it.
fn stack_dir_of(inputs: &[Input], opts: &Options<'_>) -> String {
    let first = inputs.first().map_or(Path::new(""), |i| i.path.as_path());
    let dir = ctx::normalize(&opts.cwd.join(first.parent().unwrap_or(Path::new(""))));
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `text` with every `${COMPOSE_PROJECT_NAME...}` and `$COMPOSE_PROJECT_NAME` (not `$$`
/// escaped) replaced by `project`, and whether there was one.
fn project_name_written_out(text: &str, project: &str) -> (String, bool) {
    let mut out = String::with_capacity(text.len());
    let mut replaced = false;
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(escaped) = after.strip_prefix('$') {
            out.push_str("$$");
            rest = escaped;
            continue;
        }
        if let Some(inner) = after.strip_prefix('{')
            && let Some(tail) = inner.strip_prefix(PROJECT_NAME_VAR)
            && (tail.starts_with('}') || tail.starts_with([':', '-', '?', '+']))
            && let Some(end) = tail.find('}')
        {
            out.push_str(project);
            replaced = true;
            rest = &tail[end + 1..];
            continue;
        }
        if let Some(tail) = after.strip_prefix(PROJECT_NAME_VAR)
            && !tail.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        {
            out.push_str(project);
            replaced = true;
            rest = tail;
            continue;
        }
        out.push('$');
        rest = after;
    }
    out.push_str(rest);
    (out, replaced)
}

/// The stack file with `target "..."` after its `stack` line (or first, when it has none).
fn with_target(kdl: String, target: Option<stackr_spec::Target>) -> String {
    let Some(t) = target.filter(|t| *t != stackr_spec::Target::Engine) else {
        return kdl;
    };
    let line = format!("target \"{}\"\n", t.as_str());
    let mut out = String::with_capacity(kdl.len() + line.len());
    let mut done = false;
    for l in kdl.split_inclusive('\n') {
        out.push_str(l);
        if !done && l.starts_with("stack ") {
            out.push_str(&line);
            done = true;
        }
    }
    if !done {
        out.insert_str(0, &line);
    }
    out
}

/// The stack file to write: base declarations and profile blocks.
struct Stack {
    name: Option<String>,
    head: Vec<String>,
    base: Vec<Decl>,
    profiles: Vec<(String, Vec<Decl>, Vec<String>)>,
}

fn assemble(
    files: Vec<(String, compose::File)>,
    report: &mut Vec<ReportItem>,
    head: &mut Vec<String>,
) -> Stack {
    let mut files = files.into_iter();
    let Some((_, base_file)) = files.next() else {
        return Stack {
            name: None,
            head: Vec::new(),
            base: Vec::new(),
            profiles: Vec::new(),
        };
    };
    head.extend(base_file.notes.iter().cloned());
    let mut stack = Stack {
        name: base_file.name.as_ref().map(|(n, _)| n.clone()),
        head: Vec::new(),
        base: Vec::new(),
        profiles: Vec::new(),
    };
    // Compose profiles: a service with `profiles: [a, b]` is declared in both blocks.
    for d in &base_file.decls {
        if d.profiles.is_empty() {
            stack.base.push(d.clone());
            continue;
        }
        for p in &d.profiles {
            add_to_profile(&mut stack.profiles, p, d.clone(), Vec::new());
        }
    }
    for (profile, file) in files {
        let mut decls = Vec::new();
        for o in &file.decls {
            let base = base_file
                .decls
                .iter()
                .find(|b| b.kind == o.kind && b.name == o.name);
            let mut d = match base {
                Some(b) => b.diff(o),
                None => o.clone(),
            };
            for (k, _) in &o.resets {
                let msg = format!(
                    "profile `{profile}`: `{k}: !reset` of service `{}` is not imported: a profile cannot remove a value of the base; remove it from the base, or move it into a profile",
                    o.name
                );
                report.push(ReportItem::general(
                    format!("service `{}`", o.name),
                    format!("services.{}.{k}", o.name),
                    msg.clone(),
                ));
                d.notes.push(format!("import: {msg}"));
            }
            if d.kind == Kind::Service && !o.profiles.is_empty() {
                let msg = format!(
                    "profile `{profile}`: the compose profiles {:?} of service `{}` are not imported: the service is part of profile `{profile}`",
                    o.profiles, o.name
                );
                report.push(ReportItem::general(
                    format!("service `{}`", o.name),
                    format!("services.{}.profiles", o.name),
                    msg.clone(),
                ));
                d.notes.push(format!("import: {msg}"));
            }
            if !d.entries.is_empty() || !d.notes.is_empty() || base.is_none() {
                decls.push(d);
            }
        }
        let notes = file.notes.clone();
        if decls.is_empty() && notes.is_empty() {
            let msg = format!("profile `{profile}` changes nothing: it is not written");
            report.push(ReportItem::general(
                format!("profile `{profile}`"),
                String::new(),
                msg,
            ));
            continue;
        }
        for d in decls {
            add_to_profile(&mut stack.profiles, &profile, d, Vec::new());
        }
        if let Some(p) = stack.profiles.iter_mut().find(|p| p.0 == profile) {
            p.2.extend(notes);
        }
    }
    for d in stack
        .base
        .iter_mut()
        .chain(stack.profiles.iter_mut().flat_map(|p| p.1.iter_mut()))
    {
        secret_paths(d);
    }
    unused_networks(&mut stack, report);
    stack
}

fn add_to_profile(
    profiles: &mut Vec<(String, Vec<Decl>, Vec<String>)>,
    name: &str,
    d: Decl,
    notes: Vec<String>,
) {
    let slot = match profiles.iter().position(|p| p.0 == name) {
        Some(i) => i,
        None => {
            profiles.push((name.to_string(), Vec::new(), Vec::new()));
            profiles.len() - 1
        }
    };
    let p = &mut profiles[slot];
    p.2.extend(notes);
    match p
        .1
        .iter_mut()
        .find(|o| o.kind == d.kind && o.name == d.name)
    {
        Some(o) => o.overlay(&d),
        None => p.1.push(d),
    }
}

/// `KEY_FILE: /run/secrets/NAME` where the service mounts secret `NAME` there becomes
/// `KEY_FILE (secret)"NAME"`: the same path, kept right if the mount moves.
fn secret_paths(d: &mut Decl) {
    if d.kind != Kind::Service {
        return;
    }
    let mounted: Vec<(String, String)> = d
        .entries
        .iter()
        .filter_map(|e| {
            let path = e.key.strip_prefix("secret:")?;
            match &e.frag {
                Frag::Child(n) => match n.args.first() {
                    Some(Val::Str(name)) => Some((path.to_string(), name.clone())),
                    _ => None,
                },
                _ => None,
            }
        })
        .collect();
    for e in &mut d.entries {
        if e.group != Group::Env {
            continue;
        }
        if let Frag::Child(n) = &mut e.frag
            && let Some(Val::Str(v)) = n.args.first()
            && let Some((_, name)) = mounted.iter().find(|(p, _)| p == v)
        {
            n.args[0] = Val::SecretPath(name.clone());
        }
    }
}

/// Reports networks that no service joins (compose creates them anyway, stackr too).
fn unused_networks(stack: &mut Stack, report: &mut Vec<ReportItem>) {
    let joined: Vec<String> = stack
        .base
        .iter()
        .chain(stack.profiles.iter().flat_map(|p| p.1.iter()))
        .flat_map(|d| d.entries.iter())
        .filter_map(|e| e.key.strip_prefix("network:").map(str::to_string))
        .collect();
    let decls = stack
        .base
        .iter_mut()
        .chain(stack.profiles.iter_mut().flat_map(|p| p.1.iter_mut()));
    for n in decls.filter(|d| d.kind == Kind::Network && d.name != "default") {
        if !joined.contains(&n.name) {
            let msg = format!(
                "network `{}` is declared, but no service joins it: it is imported as declared (did the services mean to use it?)",
                n.name
            );
            n.notes.push(format!("import: {msg}"));
            report.push(ReportItem::general(
                format!("network `{}`", n.name),
                format!("networks.{}", n.name),
                msg,
            ));
        }
    }
}

impl Stack {
    fn render(&self, inputs: &[Input]) -> String {
        let mut nodes: Vec<Node> = Vec::new();
        let mut from: Vec<String> = Vec::new();
        for (i, input) in inputs.iter().enumerate() {
            let name = input.path.file_name().map_or_else(
                || input.path.display().to_string(),
                |_| input.path.display().to_string(),
            );
            if i == 0 {
                from.push(name);
            } else {
                let p = input
                    .profile
                    .clone()
                    .unwrap_or_else(|| profile_name(&input.path));
                from.push(format!("{name} (profile \"{p}\")"));
            }
        }
        let mut header = vec![format!(
            "Imported from compose by `stackr import`: {}.",
            from.join(", ")
        )];
        header.push("`// import:` comments are the compatibility report: what is written differently, or not at all.".into());
        header.extend(self.head.iter().cloned());
        nodes.push(Node::comment(header));
        nodes.push(Node::blank());
        if let Some(n) = &self.name {
            nodes.push(Node::new("stack").arg(Val::str(n)));
            nodes.push(Node::blank());
        }
        push_decls(&mut nodes, &self.base);
        for (name, decls, notes) in &self.profiles {
            let mut p = Node::new("profile").arg(Val::str(name));
            p.comments = notes.clone();
            let mut children = Vec::new();
            push_decls(&mut children, decls);
            while children
                .last()
                .is_some_and(|c| c.comment_only && c.comments.is_empty())
            {
                children.pop();
            }
            p.children = children;
            if p.children.is_empty() {
                continue;
            }
            nodes.push(p);
            nodes.push(Node::blank());
        }
        while nodes
            .last()
            .is_some_and(|c| c.comment_only && c.comments.is_empty())
        {
            nodes.pop();
        }
        let mut text = String::new();
        kdl::render(&nodes, 0, &mut text);
        text
    }
}

fn push_decls(nodes: &mut Vec<Node>, decls: &[Decl]) {
    for kind in [Kind::Network, Kind::Volume, Kind::Secret, Kind::Config] {
        let mut any = false;
        for d in decls.iter().filter(|d| d.kind == kind) {
            nodes.push(d.to_node());
            any = true;
        }
        if any {
            nodes.push(Node::blank());
        }
    }
    for d in decls.iter().filter(|d| d.kind == Kind::Service) {
        nodes.push(d.to_node());
        nodes.push(Node::blank());
    }
}

/// Loads the stack file just written, as `stackr check` would (the base and every profile),
/// so that a translation mistake is reported rather than written silently.
fn self_check(
    path: &Path,
    kdl: &str,
    import: &Options<'_>,
    report: &mut Vec<ReportItem>,
) -> Vec<Diagnostic> {
    let reader = Written {
        path,
        kdl,
        rest: import.reader,
    };
    // Without `stack`, the name comes from the directory, which is the CLI's business.
    let opts = stackr_spec::Options {
        vars: Some(import.vars.clone()),
        stack_name: (!kdl.lines().any(|l| l.starts_with("stack "))).then(|| "imported".to_string()),
        target: import.target,
        ..Default::default()
    };
    let loaded = stackr_spec::load_all_profiles(&[path.to_path_buf()], &reader, &opts, import.host);
    let mut out = Vec::new();
    for d in loaded.diagnostics {
        // Variables are the deployer's business: `${X:?}` unset here is no translation error;
        // nor is an external secret or config, which the report already asks about.
        if !d.is_error()
            || matches!(
                d.problem,
                Problem::Interpolation { .. } | Problem::ExternalOnEngine { .. }
            )
        {
            continue;
        }
        report.push(ReportItem::general(
            "the stack file",
            String::new(),
            format!("the imported stack file does not pass `stackr check`: {d}"),
        ));
        out.push(d.attach(&loaded.sources));
    }
    out
}

/// The stack file about to be written, over the caller's reader.
struct Written<'a> {
    path: &'a Path,
    kdl: &'a str,
    rest: &'a dyn FileReader,
}

impl FileReader for Written<'_> {
    fn read(&self, path: &Path) -> Result<Vec<u8>, stackr_spec::ReadError> {
        if path == self.path {
            Ok(self.kdl.as_bytes().to_vec())
        } else {
            self.rest.read(path)
        }
    }

    fn display_name(&self, path: &Path) -> String {
        self.rest.display_name(path)
    }
}

#[cfg(test)]
mod project_name_tests {
    use super::project_name_written_out;

    #[test]
    fn the_project_name_variable_is_written_out_in_every_form_but_an_escaped_one() {
        let (out, replaced) = project_name_written_out(
            "a ${COMPOSE_PROJECT_NAME}:1 b $COMPOSE_PROJECT_NAME/x c ${COMPOSE_PROJECT_NAME:-d} $${COMPOSE_PROJECT_NAME} $COMPOSE_PROJECT_NAMES ${OTHER}",
            "shop",
        );
        assert!(replaced);
        assert_eq!(
            out,
            "a shop:1 b shop/x c shop $${COMPOSE_PROJECT_NAME} $COMPOSE_PROJECT_NAMES ${OTHER}"
        );
        assert_eq!(
            project_name_written_out("no variable", "shop"),
            ("no variable".to_string(), false)
        );
    }
}
