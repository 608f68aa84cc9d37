//! Watching host folders: one non-recursive inotify watch per folder that a rule covers and
//! does not ignore (so an ignored `node_modules/` costs nothing), new folders added as they
//! appear, events handed to the async side through a channel.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use notify::event::{AccessKind, AccessMode, MetadataKind, ModifyKind};
use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc::UnboundedSender;

use crate::WatchError;
use crate::rules::Rules;

/// What the watcher reports.
#[derive(Debug)]
pub enum FsEvent {
    /// Paths that were created.
    Created(Vec<PathBuf>),
    /// Paths that were written, renamed or removed.
    Changed(Vec<PathBuf>),
    /// The watcher's own trouble (the event queue overflowed, say).
    Error(String),
}

/// The folders being watched.
pub struct FsWatcher {
    watcher: notify::RecommendedWatcher,
    watched: BTreeSet<PathBuf>,
}

impl FsWatcher {
    /// A watcher sending its events to `tx`.
    pub fn new(tx: UnboundedSender<FsEvent>) -> Result<FsWatcher, WatchError> {
        let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            let msg = match res {
                Ok(ev) => {
                    if !relevant(&ev.kind) {
                        return;
                    }
                    if matches!(ev.kind, EventKind::Create(_)) {
                        FsEvent::Created(ev.paths)
                    } else {
                        FsEvent::Changed(ev.paths)
                    }
                }
                Err(e) => FsEvent::Error(e.to_string()),
            };
            let _ = tx.send(msg);
        })
        .map_err(|e| WatchError::Watch {
            path: String::new(),
            message: e.to_string(),
        })?;
        Ok(FsWatcher {
            watcher,
            watched: BTreeSet::new(),
        })
    }

    /// How many folders are watched.
    pub fn len(&self) -> usize {
        self.watched.len()
    }

    pub fn is_empty(&self) -> bool {
        self.watched.is_empty()
    }

    /// Watches one folder, without its subfolders. Watching it twice is a no-op.
    pub fn watch_dir(&mut self, dir: &Path) -> Result<(), WatchError> {
        if self.watched.contains(dir) {
            return Ok(());
        }
        match self.watcher.watch(dir, RecursiveMode::NonRecursive) {
            Ok(()) => {
                self.watched.insert(dir.to_path_buf());
                Ok(())
            }
            Err(e) => Err(match e.kind {
                notify::ErrorKind::MaxFilesWatch => WatchError::TooManyWatches {
                    path: dir.display().to_string(),
                },
                notify::ErrorKind::Io(ref io)
                    if io.raw_os_error() == Some(28 /* ENOSPC */) =>
                {
                    WatchError::TooManyWatches {
                        path: dir.display().to_string(),
                    }
                }
                _ => WatchError::Watch {
                    path: dir.display().to_string(),
                    message: e.to_string(),
                },
            }),
        }
    }

    /// Watches `dir` and every folder under it that the rules want. Returns the folders newly
    /// watched.
    pub fn watch_tree(&mut self, rules: &Rules, dir: &Path) -> Result<Vec<PathBuf>, WatchError> {
        let mut added = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            if !d.is_dir() {
                continue;
            }
            if !self.watched.contains(&d) {
                self.watch_dir(&d)?;
                added.push(d.clone());
            }
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in entries.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    let p = e.path();
                    if rules.watch_dir(&p) {
                        stack.push(p);
                    }
                }
            }
        }
        Ok(added)
    }

    /// Watches what the rules need: each folder rule's tree, each file rule's folder.
    pub fn watch_rules(&mut self, rules: &Rules) -> Result<(), WatchError> {
        for (dir, recursive) in rules.roots() {
            // A rule's path that does not exist yet is caught when it appears in its parent.
            let existing = if dir.is_dir() {
                dir.clone()
            } else {
                match dir.ancestors().find(|a| a.is_dir()) {
                    Some(a) => a.to_path_buf(),
                    None => continue,
                }
            };
            if recursive && existing == dir {
                self.watch_tree(rules, &dir)?;
                // Its parent too, to see the folder itself removed and made again (a build
                // output folder, a branch switch).
                if let Some(parent) = dir.parent().filter(|p| p.is_dir()) {
                    self.watch_dir(parent)?;
                }
            } else {
                self.watch_dir(&existing)?;
            }
        }
        Ok(())
    }

    /// Forgets a folder that is gone, and everything under it (the kernel dropped their
    /// watches): when a folder of that name appears again, it is watched anew.
    pub fn forget(&mut self, path: &Path) {
        self.watched.retain(|w| !w.starts_with(path));
    }

    /// Stops watching everything (before watching a changed stack's rules).
    pub fn clear(&mut self) {
        for d in std::mem::take(&mut self.watched) {
            let _ = self.watcher.unwatch(&d);
        }
    }
}

/// Whether an event can change what a container should hold: reads, opens and access-time
/// updates cannot.
fn relevant(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        EventKind::Modify(ModifyKind::Metadata(MetadataKind::AccessTime)) => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ignored_folders_are_not_watched_and_new_files_are_reported() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let d = dir.path();
        for sub in [
            "app/src/lib",
            "app/node_modules/a/b",
            "app/.git/objects",
            "app/src/__pycache__",
        ] {
            std::fs::create_dir_all(d.join(sub)).unwrap_or_else(|e| panic!("{e}"));
        }
        let rules = crate::testing::rules(
            d,
            r#"sync "./app" target="/app" { ignore "node_modules/" "__pycache__/"; }"#,
        );
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut w = FsWatcher::new(tx).unwrap_or_else(|e| panic!("{e}"));
        w.watch_rules(&rules).unwrap_or_else(|e| panic!("{e}"));
        let watched: Vec<String> = w
            .watched
            .iter()
            .filter_map(|p| p.strip_prefix(d).ok().map(|r| r.display().to_string()))
            .collect();
        assert_eq!(watched, ["", "app", "app/src", "app/src/lib"]);
        std::fs::write(d.join("app/src/lib/m.py"), "x").unwrap_or_else(|e| panic!("{e}"));
        let ev = tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv()).await;
        match ev {
            Ok(Some(FsEvent::Created(paths) | FsEvent::Changed(paths))) => {
                assert!(paths.contains(&d.join("app/src/lib/m.py")), "{paths:?}")
            }
            other => panic!("{other:?}"),
        }
    }
    async fn next_with(
        rx: &mut tokio::sync::mpsc::UnboundedReceiver<FsEvent>,
        want: &Path,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        while let Ok(Some(ev)) = tokio::time::timeout_at(deadline, rx.recv()).await {
            if let FsEvent::Created(paths) | FsEvent::Changed(paths) = ev
                && paths.iter().any(|p| p == want)
            {
                return true;
            }
        }
        false
    }

    /// A folder removed and made again (the rule's own, or one under it) is watched again,
    /// as the `watch` loop does it: forget what is gone, watch what appears.
    #[tokio::test]
    async fn folders_removed_and_made_again_are_watched_again() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let d = dir.path();
        std::fs::create_dir_all(d.join("dist/sub")).unwrap_or_else(|e| panic!("{e}"));
        let rules = crate::testing::rules(d, r#"sync "./dist" target="/srv""#);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut w = FsWatcher::new(tx).unwrap_or_else(|e| panic!("{e}"));
        w.watch_rules(&rules).unwrap_or_else(|e| panic!("{e}"));
        for gone in [d.join("dist/sub"), d.join("dist")] {
            std::fs::remove_dir_all(&gone).unwrap_or_else(|e| panic!("{e}"));
            assert!(
                next_with(&mut rx, &gone).await,
                "removal of {}",
                gone.display()
            );
            w.forget(&gone);
            std::fs::create_dir_all(&gone).unwrap_or_else(|e| panic!("{e}"));
            assert!(
                next_with(&mut rx, &gone).await,
                "{} made again",
                gone.display()
            );
            w.watch_tree(&rules, &gone)
                .unwrap_or_else(|e| panic!("{e}"));
            let inside = gone.join("new.html");
            std::fs::write(&inside, "x").unwrap_or_else(|e| panic!("{e}"));
            assert!(
                next_with(&mut rx, &inside).await,
                "{} seen",
                inside.display()
            );
        }
    }
}
