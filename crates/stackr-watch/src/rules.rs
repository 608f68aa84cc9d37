//! Which watch rule a changed host path belongs to.
//!
//! A path counts for a rule when it is the rule's path or lies under it, and none of these
//! ignore it: the rule's own `ignore` patterns (gitignore syntax, relative to the rule's path),
//! the service's build context `.dockerignore` (for paths inside the context), `.git/` and
//! editors' temporary files. When the rule has `include` globs, only files matching one count.
//! Ignored folders are not watched at all.

use std::path::{Path, PathBuf};

use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::overrides::{Override, OverrideBuilder};
use stackr_spec::{Stack, WatchAction};

use crate::WatchError;

/// Always ignored: version control and the temporary files editors write beside the files
/// being edited (vim's swap files and its `4913` probe, emacs' lock and autosave files,
/// backups ending in `~`, JetBrains' safe-write files).
pub const DEFAULT_IGNORES: &[&str] = &[
    ".git/",
    ".hg/",
    ".svn/",
    "*~",
    "*.swp",
    "*.swx",
    "*.swo",
    "4913",
    ".#*",
    "#*#",
    "*___jb_tmp___",
    "*___jb_old___",
    ".DS_Store",
];

/// One watch rule of one service, ready to match paths.
#[derive(Debug)]
pub struct Rule {
    pub service: String,
    pub action: WatchAction,
    /// The host path watched (absolute).
    pub path: PathBuf,
    /// Whether the path is a folder (a file rule matches that one file).
    pub is_dir: bool,
    /// Where files go in the container (`sync`, `sync-restart`, `sync-exec`).
    pub target: Option<String>,
    /// The command `sync-exec` runs after a sync, with its user, folder, privilege and
    /// environment (`KEY=value`).
    pub exec: Option<stackr_engine::ExecSpec>,
    /// The rule's own patterns and the defaults, rooted at the rule's folder.
    ignore: Gitignore,
    /// The build context's `.dockerignore`, with the context's path.
    dockerignore: Option<(PathBuf, Gitignore)>,
    include: Option<Override>,
}

impl Rule {
    /// The folder patterns are relative to: the rule's path, or a file rule's parent.
    pub fn root(&self) -> &Path {
        if self.is_dir {
            &self.path
        } else {
            self.path.parent().unwrap_or(&self.path)
        }
    }

    /// Whether `path` is the rule's path or under it.
    pub fn covers(&self, path: &Path) -> bool {
        if self.is_dir {
            path.starts_with(&self.path)
        } else {
            path == self.path
        }
    }

    /// Whether `path` (under the rule's root) is ignored. `is_dir`: whether it is a folder.
    pub fn ignored(&self, path: &Path, is_dir: bool) -> bool {
        if let Ok(rel) = path.strip_prefix(self.root())
            && !rel.as_os_str().is_empty()
            && self
                .ignore
                .matched_path_or_any_parents(rel, is_dir)
                .is_ignore()
        {
            return true;
        }
        if let Some((context, di)) = &self.dockerignore
            && let Ok(rel) = path.strip_prefix(context)
            && !rel.as_os_str().is_empty()
            && di.matched_path_or_any_parents(rel, is_dir).is_ignore()
        {
            return true;
        }
        false
    }

    /// Whether a change of `path` counts for this rule: covered, not ignored, and (for files)
    /// matching the `include` globs when there are any.
    pub fn counts(&self, path: &Path, is_dir: bool) -> bool {
        if !self.covers(path) || self.ignored(path, is_dir) {
            return false;
        }
        if is_dir {
            return true;
        }
        match (&self.include, path.strip_prefix(self.root())) {
            (Some(inc), Ok(rel)) => matches!(inc.matched(rel, false), Match::Whitelist(_)),
            _ => true,
        }
    }

    /// The path of `path` in the container: the target plus its path under the rule's.
    pub fn container_path(&self, path: &Path) -> Option<String> {
        let target = self.target.as_deref()?;
        let rel = path.strip_prefix(&self.path).ok()?;
        let target = target.trim_end_matches('/');
        if rel.as_os_str().is_empty() {
            return Some(if target.is_empty() {
                "/".into()
            } else {
                target.into()
            });
        }
        Some(format!("{target}/{}", rel.to_string_lossy()))
    }

    /// Whether the rule copies files into the container.
    pub fn syncs(&self) -> bool {
        matches!(
            self.action,
            WatchAction::Sync | WatchAction::SyncRestart | WatchAction::SyncExec
        )
    }
}

/// The watch rules of the services being watched.
#[derive(Debug, Default)]
pub struct Rules {
    pub rules: Vec<Rule>,
}

impl Rules {
    /// The rules of `services` (every service with rules when empty).
    pub fn new(stack: &Stack, services: &[String]) -> Result<Rules, WatchError> {
        for s in services {
            if !stack.services.contains_key(s) {
                return Err(WatchError::UnknownService(s.clone()));
            }
        }
        let mut rules = Vec::new();
        for s in stack.services.values() {
            if !services.is_empty() && !services.contains(&s.name.value) {
                continue;
            }
            let context = s.build.as_ref().map(|b| {
                b.context
                    .as_ref()
                    .map_or_else(|| b.dir.clone(), |c| c.value.clone())
            });
            for w in &s.watch {
                let path = w.path.value.clone();
                // A path that does not exist yet is taken for a folder when it has no
                // extension-like last part; it is watched once it appears.
                let is_dir = match std::fs::metadata(&path) {
                    Ok(m) => m.is_dir(),
                    Err(_) => path.extension().is_none(),
                };
                let root = if is_dir {
                    path.clone()
                } else {
                    path.parent().map(Path::to_path_buf).unwrap_or_default()
                };
                let mut gb = GitignoreBuilder::new(&root);
                for line in DEFAULT_IGNORES {
                    add(&mut gb, line, &s.name.value)?;
                }
                for pat in &w.ignore {
                    add(&mut gb, &pat.value, &s.name.value)?;
                }
                let ignore = gb.build().map_err(|e| WatchError::Pattern {
                    service: s.name.value.clone(),
                    message: e.to_string(),
                })?;
                let dockerignore = match &context {
                    Some(ctx) if path.starts_with(ctx) => {
                        let di = stackr_engine::context::dockerignore(ctx).map_err(|e| {
                            WatchError::Pattern {
                                service: s.name.value.clone(),
                                message: e.to_string(),
                            }
                        })?;
                        Some((ctx.clone(), di))
                    }
                    _ => None,
                };
                let include = if w.include.is_empty() {
                    None
                } else {
                    let mut ob = OverrideBuilder::new(&root);
                    for g in &w.include {
                        ob.add(&g.value).map_err(|e| WatchError::Pattern {
                            service: s.name.value.clone(),
                            message: format!("include `{}`: {e}", g.value),
                        })?;
                    }
                    Some(ob.build().map_err(|e| WatchError::Pattern {
                        service: s.name.value.clone(),
                        message: e.to_string(),
                    })?)
                };
                rules.push(Rule {
                    service: s.name.value.clone(),
                    action: w.action.value,
                    path,
                    is_dir,
                    target: w.target.as_ref().map(|t| t.value.clone()),
                    exec: w.exec.as_ref().map(|e| stackr_engine::ExecSpec {
                        cmd: e.value.clone(),
                        user: w.exec_user.as_ref().map(|u| u.value.clone()),
                        working_dir: w.exec_workdir.as_ref().map(|d| d.value.clone()),
                        privileged: w.exec_privileged.as_ref().is_some_and(|p| p.value),
                        env: w
                            .exec_env
                            .iter()
                            .map(|kv| format!("{}={}", kv.key.value, kv.value.value))
                            .collect(),
                        ..stackr_engine::ExecSpec::default()
                    }),
                    ignore,
                    dockerignore,
                    include,
                });
            }
        }
        if rules.is_empty() {
            return Err(WatchError::NoRules {
                services: services.to_vec(),
            });
        }
        Ok(Rules { rules })
    }

    /// The rules a change of `path` counts for.
    pub fn matching(&self, path: &Path, is_dir: bool) -> Vec<usize> {
        (0..self.rules.len())
            .filter(|&i| self.rules[i].counts(path, is_dir))
            .collect()
    }

    /// Whether a folder must be watched: a rule covers it and does not ignore it.
    pub fn watch_dir(&self, dir: &Path) -> bool {
        self.rules
            .iter()
            .any(|r| r.is_dir && r.covers(dir) && !r.ignored(dir, true))
    }

    /// The folders to start watching from: each folder rule's path, and each file rule's
    /// parent (watched without its subfolders). Deduplicated.
    pub fn roots(&self) -> Vec<(PathBuf, bool)> {
        let mut out: Vec<(PathBuf, bool)> = Vec::new();
        for r in &self.rules {
            let (dir, recursive) = if r.is_dir {
                (r.path.clone(), true)
            } else {
                (r.root().to_path_buf(), false)
            };
            match out.iter_mut().find(|(d, _)| *d == dir) {
                Some(e) => e.1 |= recursive,
                None => out.push((dir, recursive)),
            }
        }
        out
    }

    /// The services that have rules.
    pub fn services(&self) -> Vec<String> {
        let mut v: Vec<String> = self.rules.iter().map(|r| r.service.clone()).collect();
        v.dedup();
        v
    }
}

fn add(gb: &mut GitignoreBuilder, line: &str, service: &str) -> Result<(), WatchError> {
    gb.add_line(None, line)
        .map(|_| ())
        .map_err(|e| WatchError::Pattern {
            service: service.into(),
            message: format!("ignore `{line}`: {e}"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testing::stack;

    #[test]
    fn ignores_defaults_rule_patterns_and_dockerignore_and_honours_include() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let d = dir.path();
        std::fs::create_dir_all(d.join("app/src/__pycache__")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(d.join("app/.dockerignore"), "secrets/\n**/*.log\n")
            .unwrap_or_else(|e| panic!("{e}"));
        let s = stack(
            d,
            r#"
service "api" {
    build "./app"
    watch {
        sync "./app/src" target="/srv/src" {
            ignore "__pycache__/" "*.pyc"
            ignore "/build"
        }
        sync "./app" target="/srv" {
            include "*.py"
        }
        rebuild "./app/requirements.txt"
    }
}
"#,
        );
        let rules = Rules::new(&s, &[]).unwrap_or_else(|e| panic!("{e}"));
        let src = &rules.rules[0];
        let p = |rel: &str| d.join(rel);
        assert!(src.counts(&p("app/src/main.py"), false));
        assert!(src.counts(&p("app/src/deep/er/x.txt"), false));
        assert!(!src.counts(&p("app/src/__pycache__"), true));
        assert!(!src.counts(&p("app/src/__pycache__/m.cpython.pyc"), false));
        assert!(!src.counts(&p("app/src/x.pyc"), false));
        assert!(!src.counts(&p("app/src/build/out.js"), false), "anchored");
        assert!(src.counts(&p("app/src/lib/build/out.js"), false));
        assert!(!src.counts(&p("app/src/.git/HEAD"), false));
        assert!(!src.counts(&p("app/src/.main.py.swp"), false));
        assert!(!src.counts(&p("app/src/main.py~"), false));
        assert!(!src.counts(&p("app/src/4913"), false));
        assert!(!src.counts(&p("app/src/server.log"), false), "dockerignore");
        assert!(!src.counts(&p("app/other.py"), false), "not under the rule");
        assert_eq!(
            src.container_path(&p("app/src/a/b.py")).as_deref(),
            Some("/srv/src/a/b.py")
        );
        assert_eq!(
            src.container_path(&p("app/src")).as_deref(),
            Some("/srv/src")
        );

        let all = &rules.rules[1];
        assert!(all.counts(&p("app/src/main.py"), false));
        assert!(!all.counts(&p("app/README.md"), false), "include");
        assert!(all.counts(&p("app/docs"), true), "folders are walked");
        assert!(
            !all.counts(&p("app/secrets/x.py"), false),
            "dockerignore folder"
        );
        assert!(!rules.watch_dir(&p("app/secrets")));
        assert!(
            !rules.watch_dir(&p("app/src/__pycache__"))
                || all.counts(&p("app/src/__pycache__"), true)
        );

        let rebuild = &rules.rules[2];
        assert!(!rebuild.is_dir);
        assert!(rebuild.counts(&p("app/requirements.txt"), false));
        assert!(!rebuild.counts(&p("app/requirements.txt.bak"), false));
        assert_eq!(rules.matching(&p("app/requirements.txt"), false), vec![2]);
        assert_eq!(rules.matching(&p("app/src/x.py"), false), vec![0, 1]);
    }

    #[test]
    fn no_rules_and_unknown_services_are_errors() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let s = stack(dir.path(), "service \"web\" { image \"x\" }\n");
        assert!(matches!(
            Rules::new(&s, &[]),
            Err(WatchError::NoRules { .. })
        ));
        assert!(matches!(
            Rules::new(&s, &["nope".into()]),
            Err(WatchError::UnknownService(_))
        ));
    }
}
