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
    /// Paths that were created, written, renamed or removed.
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
                    FsEvent::Changed(ev.paths)
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
            } else {
                self.watch_dir(&existing)?;
            }
        }
        Ok(())
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
