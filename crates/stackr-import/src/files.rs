//! The compose files of one import: the ones given, and the ones they name (`extends` with
//! `file:`, `include`), read through the caller's [`FileReader`] once each and converted with
//! their own directory, so that their relative paths are written for the stack file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use stackr_spec::{Diagnostic, FileReader, SourceFile, SourceMap, Span};

use crate::ReportItem;
use crate::compose::{self, Include, Resolve};
use crate::ctx::{Ctx, normalize};
use crate::ir::Decl;
use crate::service;
use crate::yaml::{self, Yaml};

/// One compose file read and parsed.
#[derive(Clone)]
struct Opened {
    path: PathBuf,
    display: String,
    text: String,
    root: Option<Yaml>,
}

/// The files of an import, and what converting them found.
pub struct Loader<'r> {
    reader: &'r dyn FileReader,
    vars: &'r BTreeMap<String, String>,
    stack_dir: PathBuf,
    pub sources: SourceMap,
    pub diags: Vec<Diagnostic>,
    opened: Vec<Opened>,
    /// The `extends` (file, service) and `include` (file, "") being resolved, for cycles.
    active: Vec<(PathBuf, String)>,
    /// Services of other files already resolved: each is converted (and reported) once,
    /// however many services extend it.
    extended: Vec<((PathBuf, String), Option<Decl>)>,
}

impl<'r> Loader<'r> {
    pub fn new(
        reader: &'r dyn FileReader,
        vars: &'r BTreeMap<String, String>,
        stack_dir: PathBuf,
    ) -> Self {
        Loader {
            reader,
            vars,
            stack_dir,
            sources: SourceMap::default(),
            diags: Vec::new(),
            opened: Vec::new(),
            active: Vec::new(),
            extended: Vec::new(),
        }
    }

    /// A file given on the command line, already read.
    pub fn add(&mut self, path: &Path, display: String, text: String) -> usize {
        let id = self
            .sources
            .add(SourceFile::new(path, display.clone(), text.as_str()));
        let root = yaml::parse(id, &text, &mut self.diags);
        self.opened.push(Opened {
            path: normalize(path),
            display,
            text,
            root,
        });
        self.opened.len() - 1
    }

    /// Reads a file another names, once.
    fn open(&mut self, path: &Path, display: String) -> Result<usize, String> {
        if let Some(i) = self.opened.iter().position(|o| o.path == path) {
            return Ok(i);
        }
        let bytes = self.reader.read(path).map_err(|e| e.to_string())?;
        let text = stackr_spec::decode_file(path, &display, &bytes).map_err(|d| d.to_string())?;
        Ok(self.add(path, display, text))
    }

    /// Converts file `i`, whose relative paths start from `dir`.
    pub fn convert(&mut self, i: usize, dir: PathBuf) -> (compose::File, Vec<ReportItem>) {
        let o = self.opened[i].clone();
        let vars = self.vars;
        let mut ctx = Ctx::new(&o.display, &o.text, vars, dir, self.stack_dir.clone());
        self.active.push((o.path.clone(), String::new()));
        let file = match &o.root {
            Some(root) => compose::convert(&mut ctx, root, self),
            None => compose::File::default(),
        };
        self.active.pop();
        self.diags.append(&mut ctx.diags);
        (file, ctx.report)
    }

    /// The name the report gives a file named from `ctx`'s file.
    fn display(ctx: &Ctx<'_>, rel: &str) -> String {
        let base = Path::new(ctx.name).parent().unwrap_or(Path::new(""));
        normalize(&base.join(rel)).display().to_string()
    }
}

fn is_remote(p: &str) -> bool {
    p.contains("://") || p.starts_with("git@")
}

impl Resolve for Loader<'_> {
    fn extended(
        &mut self,
        ctx: &mut Ctx<'_>,
        file: &str,
        service: &str,
        span: Span,
    ) -> Option<Decl> {
        let resolved = ctx.resolve(file).unwrap_or_else(|| file.to_string());
        let file = resolved.as_str();
        if is_remote(file) {
            ctx.invalid_span(
                span,
                "`extends.file`",
                file,
                "stackr reads local files only: download the file and extend the copy",
            );
            return None;
        }
        let path = normalize(&ctx.dir.join(file));
        let key = (path.clone(), service.to_string());
        if let Some((_, done)) = self.extended.iter().find(|(k, _)| *k == key) {
            return done.clone();
        }
        if self.active.contains(&key) {
            ctx.invalid_span(
                span,
                "`extends`",
                service,
                "the services extend each other in a cycle",
            );
            return None;
        }
        let i = match self.open(&path, Self::display(ctx, file)) {
            Ok(i) => i,
            Err(e) => {
                ctx.invalid_span(
                    span,
                    "`extends.file`",
                    file,
                    &format!("cannot read it: {e}"),
                );
                return None;
            }
        };
        let o = self.opened[i].clone();
        let Some(y) = o
            .root
            .as_ref()
            .and_then(|r| r.get("services"))
            .and_then(|s| s.get(service))
        else {
            ctx.invalid_span(
                span,
                "`extends`",
                service,
                &format!("`{}` has no service of that name", o.display),
            );
            return None;
        };
        let dir = path.parent().map_or_else(PathBuf::new, Path::to_path_buf);
        let vars = self.vars;
        let mut sub = Ctx::new(&o.display, &o.text, vars, dir, self.stack_dir.clone());
        self.active.push(key);
        let (decl, ext) = service::service(&mut sub, service, y);
        let out = match ext {
            None => Some(decl),
            Some(e) => {
                // The same file: its name, from its own directory.
                let f = e.file.unwrap_or_else(|| {
                    path.file_name()
                        .map(|n| n.to_string_lossy().to_string())
                        .unwrap_or_default()
                });
                self.extended(&mut sub, &f, &e.service, e.span)
                    .map(|mut base| {
                        base.notes.clear();
                        base.overlay(&decl);
                        base.name = decl.name.clone();
                        base.notes = decl.notes.clone();
                        base.resets = decl.resets.clone();
                        base.overrides = decl.overrides.clone();
                        base
                    })
            }
        };
        self.active.pop();
        self.diags.append(&mut sub.diags);
        ctx.report.append(&mut sub.report);
        self.extended
            .push(((path, service.to_string()), out.clone()));
        out
    }

    fn included(&mut self, ctx: &mut Ctx<'_>, item: &Include) -> Vec<Decl> {
        for (f, span) in &item.env_files {
            ctx.note(*span, format!("the include's `env_file` `{f}` is not imported: give its variables to stackr with `--env-file`"));
        }
        let mut decls: Vec<Decl> = Vec::new();
        for (p, span) in &item.paths {
            let resolved = ctx.resolve(p).unwrap_or_else(|| p.clone());
            let p = &resolved;
            if is_remote(p) {
                ctx.note(*span, format!("the remote include `{p}` is not imported: stackr reads local files only; download it and include the copy"));
                continue;
            }
            let path = normalize(&ctx.dir.join(p));
            let key = (path.clone(), String::new());
            if self.active.contains(&key) {
                ctx.invalid_span(
                    *span,
                    "`include`",
                    p,
                    "the files include each other in a cycle",
                );
                continue;
            }
            let i = match self.open(&path, Self::display(ctx, p)) {
                Ok(i) => i,
                Err(e) => {
                    ctx.invalid_span(*span, "`include`", p, &format!("cannot read it: {e}"));
                    continue;
                }
            };
            // The item's first file's directory is the project directory of all its files.
            let first = item
                .paths
                .first()
                .map(|(f, _)| ctx.resolve(f).unwrap_or_else(|| f.clone()))
                .unwrap_or_default();
            let dir = match &item.project_directory {
                Some(d) => normalize(&ctx.dir.join(ctx.resolve(d).unwrap_or_else(|| d.clone()))),
                None => normalize(&ctx.dir.join(first))
                    .parent()
                    .map_or_else(PathBuf::new, Path::to_path_buf),
            };
            let (file, mut report) = self.convert(i, dir);
            ctx.report.append(&mut report);
            // The item's later files override its first, as `-f` files do.
            for d in file.decls {
                match decls
                    .iter_mut()
                    .find(|o| o.kind == d.kind && o.name == d.name)
                {
                    Some(o) => o.overlay(&d),
                    None => decls.push(d),
                }
            }
        }
        decls
    }
}
