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
mod ir;
mod kdl;
mod service;
mod shell;
mod yaml;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use stackr_spec::{Diagnostic, Problem, SourceFile, SourceMap};

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

/// What an import produced.
#[derive(Debug, Default)]
pub struct Imported {
    /// The whole stack file, with the report's items as `// import:` comments.
    pub kdl: String,
    /// The compatibility report, one line per item (`FILE:LINE: PLACE: what and why`).
    pub report: Vec<String>,
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
    let mut out = Imported::default();
    let mut sources = SourceMap::default();
    let mut diags: Vec<Diagnostic> = Vec::new();
    let mut files: Vec<(String, compose::File)> = Vec::new();
    let mut head_notes: Vec<String> = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        let display = input.path.display().to_string();
        let id = sources.add(SourceFile::new(
            &input.path,
            display.clone(),
            input.text.as_str(),
        ));
        let mut ctx = ctx::Ctx::new(&display, &input.text);
        let file = match yaml::parse(id, &input.text, &mut ctx.diags) {
            Some(root) => compose::convert(&mut ctx, &root),
            None => compose::File::default(),
        };
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
        out.report.append(&mut ctx.report);
        files.push((profile, file));
    }
    let mut stack = assemble(files, &mut out.report, &mut head_notes);
    stack.head = head_notes;
    out.kdl = with_target(stack.render(inputs), target);
    out.diagnostics = diags.into_iter().map(|d| d.attach(&sources)).collect();
    if !out.has_errors()
        && let Some(first) = inputs.first()
    {
        out.diagnostics
            .extend(self_check(first, &out.kdl, target, &mut out.report));
    }
    out
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
    report: &mut Vec<String>,
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
            if d.kind == Kind::Service && !o.profiles.is_empty() {
                let msg = format!(
                    "profile `{profile}`: the compose profiles {:?} of service `{}` are not imported: the service is part of profile `{profile}`",
                    o.profiles, o.name
                );
                report.push(msg.clone());
                d.notes.push(format!("import: {msg}"));
            }
            if !d.entries.is_empty() || !d.notes.is_empty() || base.is_none() {
                decls.push(d);
            }
        }
        let notes = file.notes.clone();
        if decls.is_empty() && notes.is_empty() {
            let msg = format!("profile `{profile}` changes nothing: it is not written");
            report.push(msg);
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
fn unused_networks(stack: &mut Stack, report: &mut Vec<String>) {
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
            report.push(msg);
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
    first: &Input,
    kdl: &str,
    target: Option<stackr_spec::Target>,
    report: &mut Vec<String>,
) -> Vec<Diagnostic> {
    let dir = first.path.parent().unwrap_or(Path::new(""));
    let path = dir.join("stack.kdl");
    let reader = stackr_spec::MemoryReader {
        files: BTreeMap::from([(path.clone(), kdl.to_string())]),
    };
    // Without `stack`, the name comes from the directory, which is the CLI's business.
    let opts = stackr_spec::Options {
        vars: Some(BTreeMap::new()),
        stack_name: (!kdl.lines().any(|l| l.starts_with("stack "))).then(|| "imported".to_string()),
        target,
        ..Default::default()
    };
    let loaded = stackr_spec::load_all_profiles(&[path], &reader, &opts, &|_| Vec::new());
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
        report.push(format!(
            "the imported stack file does not pass `stackr check`: {d}"
        ));
        out.push(d.attach(&loaded.sources));
    }
    out
}
