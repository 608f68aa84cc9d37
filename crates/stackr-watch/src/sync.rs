//! What to send to a container for changed host paths, and sending it.
//!
//! Files and folders that exist on the host are packed into one tar archive and extracted
//! into the running container by the engine's archive API (no tool in the image needed).
//! Paths that are gone are removed by stackr's probe runner, mounted read-only at `/.stackr`
//! in every container with sync rules: the engine API has no delete, and the image may have
//! no `rm`. Comparing a folder by content (the first sync, or after a restart) runs the probe
//! runner's `hash` in the container.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};
use stackr_engine::PROBE_DIR;
use stackr_engine::{Engine, EngineError, ExecSpec, LogChunk};
use thiserror::Error;

use crate::rules::Rule;

/// Why a sync failed.
#[derive(Debug, Error)]
pub enum SyncError {
    #[error("cannot copy into `{path}`: {source}")]
    Upload { path: String, source: EngineError },
    #[error("cannot remove {paths}: {output}")]
    Remove { paths: String, output: String },
    #[error("cannot list `{path}` in the container: {message}")]
    List { path: String, message: String },
    #[error("cannot read `{path}`: {source}")]
    Read { path: String, source: io::Error },
}

/// What a host path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
}

/// A host path to copy to a container path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub host: PathBuf,
    pub kind: Kind,
}

/// What one sync sends: uploads by container path (parents before children) and container
/// paths to remove.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Batch {
    pub uploads: BTreeMap<String, Upload>,
    pub deletes: BTreeSet<String>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.uploads.is_empty() && self.deletes.is_empty()
    }

    /// How many files (not folders) it copies.
    pub fn files(&self) -> usize {
        self.uploads
            .values()
            .filter(|u| u.kind != Kind::Dir)
            .count()
    }

    /// A one-line summary, paths relative to `target`: `copied a.html, b/c.css; removed
    /// old.html`, at most `max` names in all, then `+N more`.
    pub fn summary(&self, target: &str, max: usize) -> String {
        // A file rule's upload is its target itself: name it by its file name.
        let rel = |p: &str| -> String {
            match p.strip_prefix(target).map(|r| r.trim_start_matches('/')) {
                Some("") | None => p.rsplit('/').next().unwrap_or(p).to_string(),
                Some(r) => r.to_string(),
            }
        };
        let mut copied: Vec<String> = self
            .uploads
            .iter()
            .filter(|(_, u)| u.kind != Kind::Dir)
            .map(|(p, _)| rel(p))
            .collect();
        if copied.is_empty() {
            copied = self
                .uploads
                .keys()
                .map(|p| format!("{}/", rel(p)))
                .collect();
        }
        let removed: Vec<String> = self.deletes.iter().map(|p| rel(p)).collect();
        let mut budget = max;
        let mut part = |verb: &str, names: &[String]| -> Option<String> {
            if names.is_empty() {
                return None;
            }
            let shown = names.len().min(budget.max(1));
            budget = budget.saturating_sub(shown);
            let mut s = format!("{verb} {}", names[..shown].join(", "));
            if names.len() > shown {
                s.push_str(&format!(" +{} more", names.len() - shown));
            }
            Some(s)
        };
        let parts: Vec<String> = [part("copied", &copied), part("removed", &removed)]
            .into_iter()
            .flatten()
            .collect();
        parts.join("; ")
    }

    fn add_upload(&mut self, rule: &Rule, host: &Path, kind: Kind) {
        let Some(cpath) = rule.container_path(host) else {
            return;
        };
        // The folders between the rule's path and this one travel too, so that they get the
        // host's mode and the container user as owner, not the engine's defaults.
        let mut parent = host.parent();
        while let Some(p) = parent {
            if !p.starts_with(&rule.path) || p == rule.path {
                break;
            }
            if let Some(cp) = rule.container_path(p) {
                self.uploads.entry(cp).or_insert(Upload {
                    host: p.to_path_buf(),
                    kind: Kind::Dir,
                });
            }
            parent = p.parent();
        }
        self.uploads.insert(
            cpath,
            Upload {
                host: host.to_path_buf(),
                kind,
            },
        );
    }

    /// Drops removals under another removal, and removals of what is uploaded.
    fn tidy(&mut self) {
        let all: Vec<String> = self.deletes.iter().cloned().collect();
        self.deletes.retain(|d| {
            !all.iter()
                .any(|o| o != d && d.starts_with(&format!("{o}/")))
                && !self.uploads.contains_key(d)
        });
    }
}

/// For changed host paths under a sync rule: what exists is uploaded (a folder with all it
/// holds that counts for the rule), what is gone is removed. Removals honour the rule's
/// ignores (a removed folder may have held files its `include` wants, so `include` does not
/// filter them).
pub fn batch(rule: &Rule, paths: &BTreeSet<PathBuf>) -> Batch {
    let mut b = Batch::default();
    for p in paths {
        if !rule.covers(p) {
            continue;
        }
        match std::fs::symlink_metadata(p) {
            Ok(m) if m.is_dir() => {
                if !rule.counts(p, true) {
                    continue;
                }
                if *p != rule.path {
                    b.add_upload(rule, p, Kind::Dir);
                }
                walk(rule, p, &mut b);
            }
            Ok(m) => {
                if rule.counts(p, false) {
                    let kind = if m.file_type().is_symlink() {
                        Kind::Symlink
                    } else if m.is_file() {
                        Kind::File
                    } else {
                        continue;
                    };
                    b.add_upload(rule, p, kind);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if *p == rule.path || rule.ignored(p, false) || rule.ignored(p, true) {
                    continue;
                }
                if let Some(cp) = rule.container_path(p) {
                    b.deletes.insert(cp);
                }
            }
            Err(_) => {}
        }
    }
    b.tidy();
    b
}

/// Everything under `dir` that counts for the rule.
fn walk(rule: &Rule, dir: &Path, b: &mut Batch) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(ft) = entry.file_type() else { continue };
        if ft.is_dir() {
            if rule.counts(&path, true) {
                b.add_upload(rule, &path, Kind::Dir);
                walk(rule, &path, b);
            }
        } else if (ft.is_file() || ft.is_symlink()) && rule.counts(&path, false) {
            let kind = if ft.is_symlink() {
                Kind::Symlink
            } else {
                Kind::File
            };
            b.add_upload(rule, &path, kind);
        }
    }
}

/// Who owns the files in the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub uid: u64,
    pub gid: u64,
    /// Let the engine give the files the container user's ids: a user given by name that the
    /// container's own `/etc/passwd` does not have (see [`Owner::resolve`]).
    pub container_user: bool,
}

impl Owner {
    /// From a service's `user`: numeric `UID:GID` goes into the archive; a name is resolved
    /// by the engine; none is root.
    pub fn of(user: Option<&str>) -> Owner {
        let Some(user) = user else {
            return Owner {
                uid: 0,
                gid: 0,
                container_user: false,
            };
        };
        let (u, g) = match user.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (user, None),
        };
        match (u.parse::<u64>(), g.map(str::parse::<u64>)) {
            (Ok(uid), Some(Ok(gid))) => Owner {
                uid,
                gid,
                container_user: false,
            },
            _ => Owner {
                uid: 0,
                gid: 0,
                container_user: true,
            },
        }
    }

    /// A `user` with a name in it (`app`, `app:staff`, `1000:staff`), read in the container's
    /// own `/etc/passwd` and `/etc/group`: a user without a group gets its primary group.
    /// `None` when a name is not there. (Left to the engine, Engine 20.10 looks names up in
    /// the host's user database, where a user only the image has is not found.)
    pub fn resolve(user: &str, passwd: &str, group: &str) -> Option<Owner> {
        let (u, g) = match user.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (user, None),
        };
        // name:x:uid:gid:... (passwd) and name:x:gid:... (group)
        let field = |text: &str, name: &str, at: usize| -> Option<u64> {
            text.lines()
                .map(|l| l.split(':').collect::<Vec<_>>())
                .find(|f| f.first() == Some(&name))
                .and_then(|f| f.get(at).and_then(|v| v.parse().ok()))
        };
        let (uid, primary) = match u.parse::<u64>() {
            Ok(uid) => (uid, None),
            Err(_) => (field(passwd, u, 2)?, field(passwd, u, 3)),
        };
        let gid = match g {
            Some(g) => match g.parse::<u64>() {
                Ok(gid) => gid,
                Err(_) => field(group, g, 2)?,
            },
            None => primary?,
        };
        Some(Owner {
            uid,
            gid,
            container_user: false,
        })
    }
}

/// The uploads as a tar archive with names relative to `base` (a folder in the container).
/// A file that vanished since the change was seen is left out (its removal comes next).
pub fn tar(batch: &Batch, base: &str, owner: Owner) -> Result<Vec<u8>, SyncError> {
    let base = base.trim_end_matches('/');
    let mut t = tar::Builder::new(Vec::new());
    for (cpath, up) in &batch.uploads {
        let Some(name) = cpath
            .strip_prefix(base)
            .map(|r| r.trim_start_matches('/'))
            .filter(|r| !r.is_empty())
        else {
            continue;
        };
        let meta = match std::fs::symlink_metadata(&up.host) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(SyncError::Read {
                    path: up.host.display().to_string(),
                    source,
                });
            }
        };
        let mut h = tar::Header::new_gnu();
        h.set_uid(owner.uid);
        h.set_gid(owner.gid);
        h.set_mode(meta.permissions().mode() & 0o7777);
        h.set_mtime(u64::try_from(meta.mtime()).unwrap_or(0));
        let read_err = |source: io::Error| SyncError::Read {
            path: up.host.display().to_string(),
            source,
        };
        match up.kind {
            Kind::Dir => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                t.append_data(&mut h, name, io::empty()).map_err(read_err)?;
            }
            Kind::File => {
                let data = match std::fs::read(&up.host) {
                    Ok(d) => d,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(read_err(e)),
                };
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(data.len() as u64);
                t.append_data(&mut h, name, data.as_slice())
                    .map_err(read_err)?;
            }
            Kind::Symlink => {
                let to = std::fs::read_link(&up.host).map_err(read_err)?;
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                t.append_link(&mut h, name, &to).map_err(read_err)?;
            }
        }
    }
    t.into_inner().map_err(|source| SyncError::Read {
        path: base.to_string(),
        source,
    })
}

/// A folder's entries by path relative to it.
pub type Listing = BTreeMap<PathBuf, Entry>;

/// An entry of a [`Listing`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    File {
        digest: String,
        mode: u32,
    },
    Dir,
    /// A symbolic link, with its target hex-encoded.
    Link {
        target: String,
    },
    Other,
}

/// A link's target as the probe runner writes it: hex.
fn link_hex(path: &Path) -> io::Result<String> {
    let target = std::fs::read_link(path)?;
    Ok(hex(target.as_os_str().as_encoded_bytes()))
}

/// The probe runner's `hash` output; `None` when the folder does not exist. Paths and link
/// targets come hex-encoded.
pub fn parse_listing(text: &str) -> Option<Listing> {
    let mut out = Listing::new();
    for line in text.lines() {
        if line == "missing" {
            return None;
        }
        let parts: Vec<&str> = line.split(' ').collect();
        let (path, entry) = match parts.as_slice() {
            ["f", digest, mode, path] => (
                path,
                Entry::File {
                    digest: (*digest).to_string(),
                    mode: u32::from_str_radix(mode, 8).unwrap_or(0),
                },
            ),
            ["d", _, path] => (path, Entry::Dir),
            ["l", target, path] => (
                path,
                Entry::Link {
                    target: (*target).to_string(),
                },
            ),
            ["o", path] => (path, Entry::Other),
            _ => continue,
        };
        if let Some(p) = unhex(path) {
            out.insert(p, entry);
        }
    }
    Some(out)
}

/// A hex-encoded path.
fn unhex(text: &str) -> Option<PathBuf> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect();
    Some(PathBuf::from(std::ffi::OsString::from_vec(bytes?)))
}

/// Bytes as lowercase hex, as the probe runner writes paths and link targets.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What counts for the rule under its folder on the host, with digests.
pub fn host_listing(rule: &Rule) -> Result<Listing, SyncError> {
    let mut out = Listing::new();
    let mut b = Batch::default();
    if rule.path.is_dir() {
        walk(rule, &rule.path, &mut b);
    }
    for up in b.uploads.values() {
        let Ok(rel) = up.host.strip_prefix(&rule.path) else {
            continue;
        };
        let entry = match up.kind {
            Kind::Dir => Entry::Dir,
            Kind::Symlink => match link_hex(&up.host) {
                Ok(target) => Entry::Link { target },
                Err(_) => Entry::Other,
            },
            Kind::File => {
                let read = |source| SyncError::Read {
                    path: up.host.display().to_string(),
                    source,
                };
                let mut file = std::fs::File::open(&up.host).map_err(read)?;
                let mode = file.metadata().map_err(read)?.permissions().mode();
                let mut hasher = Sha256::new();
                io::copy(&mut file, &mut hasher).map_err(read)?;
                Entry::File {
                    digest: hasher
                        .finalize()
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect(),
                    mode: mode & 0o7777,
                }
            }
        };
        out.insert(rel.to_path_buf(), entry);
    }
    Ok(out)
}

/// What brings the container's folder (`None`: missing) in line with the host's: files that
/// differ in content or mode, and what is missing, are uploaded; what the container has and
/// the host does not is removed, unless the rule ignores it or its `include` leaves it out.
pub fn diff(rule: &Rule, host: &Listing, container: Option<&Listing>) -> Batch {
    let mut b = Batch::default();
    for (rel, entry) in host {
        let same = match (entry, container.and_then(|c| c.get(rel))) {
            (
                Entry::File { digest, mode },
                Some(Entry::File {
                    digest: d2,
                    mode: m2,
                }),
            ) => digest == d2 && mode == m2,
            (Entry::Dir, Some(Entry::Dir)) => true,
            (Entry::Link { target }, Some(Entry::Link { target: t2 })) => target == t2,
            _ => false,
        };
        if !same {
            let kind = match entry {
                Entry::File { .. } => Kind::File,
                Entry::Dir => Kind::Dir,
                Entry::Link { .. } | Entry::Other => Kind::Symlink,
            };
            b.add_upload(rule, &rule.path.join(rel), kind);
        }
    }
    if let Some(c) = container {
        for (rel, entry) in c {
            if host.contains_key(rel) {
                continue;
            }
            let hp = rule.path.join(rel);
            if rule.counts(&hp, *entry == Entry::Dir)
                && let Some(cp) = rule.container_path(&hp)
            {
                b.deletes.insert(cp);
            }
        }
    }
    b.tidy();
    b
}

/// A container to sync into.
#[derive(Debug, Clone)]
pub struct Target {
    pub id: String,
    pub name: String,
    pub owner: Owner,
    /// Mount points of the service's volumes and bind mounts: where an upload can go when
    /// the target folder does not exist yet on a read-only root filesystem.
    pub mounts: Vec<String>,
}

/// Sends a batch: one archive upload for what exists, one probe `rm` for what is gone, both at
/// once (they touch different paths: a path gone from the host is never one being copied, nor
/// under one; an editor's save through a temporary file is then one round trip, not two).
/// Both are answered before it returns. `base` is the folder the rule syncs to (for a file
/// rule, its parent).
pub async fn push<E: Engine>(
    engine: &E,
    target: &Target,
    base: &str,
    batch: &Batch,
) -> Result<(), SyncError> {
    let (uploaded, removed) = futures::join!(
        upload(engine, target, base, batch),
        remove(engine, target, batch)
    );
    uploaded?;
    removed
}

async fn upload<E: Engine>(
    engine: &E,
    target: &Target,
    base: &str,
    batch: &Batch,
) -> Result<(), SyncError> {
    if batch.uploads.is_empty() {
        return Ok(());
    }
    let archive = tar(batch, base, target.owner)?;
    match engine
        .upload_archive(&target.id, base, archive, target.owner.container_user)
        .await
    {
        Ok(()) => Ok(()),
        Err(EngineError::NotFound { .. }) => {
            // The folder does not exist yet: extract from the deepest mount holding it, or
            // from the root, and let the engine create the folders on the way.
            let from = target
                .mounts
                .iter()
                .filter(|m| {
                    let m = m.trim_end_matches('/');
                    base.starts_with(&format!("{m}/"))
                })
                .max_by_key(|m| m.len())
                .map_or("/", String::as_str);
            let archive = tar(batch, from, target.owner)?;
            engine
                .upload_archive(&target.id, from, archive, target.owner.container_user)
                .await
                .map_err(|source| SyncError::Upload {
                    path: base.to_string(),
                    source,
                })
        }
        Err(source) => Err(SyncError::Upload {
            path: base.to_string(),
            source,
        }),
    }
}

async fn remove<E: Engine>(engine: &E, target: &Target, batch: &Batch) -> Result<(), SyncError> {
    if batch.deletes.is_empty() {
        return Ok(());
    }
    let paths: Vec<String> = batch.deletes.iter().cloned().collect();
    let mut cmd = vec![format!("{PROBE_DIR}/probe"), "rm".into()];
    cmd.extend(paths.iter().cloned());
    let (code, output) = run_escalating(engine, &target.id, cmd).await;
    if code != Some(0) {
        return Err(SyncError::Remove {
            paths: paths.join(", "),
            output: output.trim().to_string(),
        });
    }
    Ok(())
}

/// A single file's content in the container `id`; `None` when it does not exist.
pub async fn container_file<E: Engine>(
    engine: &E,
    id: &str,
    path: &str,
) -> Result<Option<Vec<u8>>, SyncError> {
    let list_err = |message: String| SyncError::List {
        path: path.to_string(),
        message,
    };
    let archive = match engine.download_archive(id, path).await {
        Ok(a) => a,
        Err(EngineError::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(list_err(e.to_string())),
    };
    let mut t = ::tar::Archive::new(archive.as_slice());
    let entries = t.entries().map_err(|e| list_err(e.to_string()))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| list_err(e.to_string()))?;
        if entry.header().entry_type().is_file() {
            let mut data = Vec::new();
            io::Read::read_to_end(&mut entry, &mut data).map_err(|e| list_err(e.to_string()))?;
            return Ok(Some(data));
        }
    }
    Ok(None)
}

/// The container's view of a folder, by content; `None` when it does not exist.
pub async fn container_listing<E: Engine>(
    engine: &E,
    target: &Target,
    path: &str,
) -> Result<Option<Listing>, SyncError> {
    let cmd = vec![
        format!("{PROBE_DIR}/probe"),
        "hash".into(),
        path.to_string(),
    ];
    let (code, output) = run_escalating(engine, &target.id, cmd).await;
    if code != Some(0) {
        return Err(SyncError::List {
            path: path.to_string(),
            message: output.trim().lines().last().unwrap_or("").to_string(),
        });
    }
    Ok(parse_listing(&output))
}

/// Runs stackr's probe runner in a container, first as the container's user (what it
/// wrote is its own), then as root (a fresh volume's root folder is root's; what the first
/// run emptied, root can remove), then as root with every capability (root that dropped its
/// capabilities cannot enter folders it does not own; a container with `no-new-privileges`
/// refuses this one). Returns the first success, or the last failure.
async fn run_escalating<E: Engine>(
    engine: &E,
    id: &str,
    cmd: Vec<String>,
) -> (Option<i64>, String) {
    let mut last = (None, String::new());
    for (user, privileged) in [(None, false), (Some("0"), false), (Some("0"), true)] {
        let (code, output) = run(engine, id, cmd.clone(), user, privileged).await;
        if code == Some(0) {
            return (code, output);
        }
        // A refused privileged exec says nothing about the files: keep the earlier reason.
        if !(privileged && code.is_none()) {
            last = (code, output);
        }
    }
    last
}

/// Runs a command in a container, collecting its output: its exit code (`None` when it could
/// not run) and what it printed (or why it could not run).
pub async fn run<E: Engine>(
    engine: &E,
    id: &str,
    cmd: Vec<String>,
    user: Option<&str>,
    privileged: bool,
) -> (Option<i64>, String) {
    let spec = ExecSpec {
        cmd,
        user: user.map(String::from),
        privileged,
        ..ExecSpec::default()
    };
    // stackr's own commands (removals, listings) are quick: one that hangs is an error, not a
    // watch that stops acting.
    match tokio::time::timeout(PROBE_TIMEOUT, run_spec(engine, id, &spec)).await {
        Ok(r) => r,
        Err(_) => (None, format!("no answer in {} s", PROBE_TIMEOUT.as_secs())),
    }
}

/// How long stackr's own commands in a container may take.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// [`run`] with every option of an exec.
pub async fn run_spec<E: Engine>(engine: &E, id: &str, spec: &ExecSpec) -> (Option<i64>, String) {
    let out = Mutex::new(String::new());
    let collect = |c: LogChunk| {
        if let Ok(mut o) = out.lock() {
            o.push_str(&c.text);
        }
    };
    let code = match engine.exec(id, spec, None, &collect).await {
        Ok(c) => c,
        Err(e) => {
            return (None, e.to_string());
        }
    };
    let text = out.into_inner().unwrap_or_default();
    (code, text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{rules, write};

    fn set(paths: &[PathBuf]) -> BTreeSet<PathBuf> {
        paths.iter().cloned().collect()
    }

    #[test]
    fn a_new_tree_uploads_every_folder_and_file_parents_first() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let d = dir.path();
        let rules = rules(d, r#"sync "./site" target="/srv/site" { ignore "*.tmp"; }"#);
        let rule = &rules.rules[0];
        write(&d.join("site/a/b/c.html"), "c");
        write(&d.join("site/a/b/skip.tmp"), "t");
        write(&d.join("site/a/x.html"), "x");
        let b = batch(rule, &set(&[d.join("site/a")]));
        let keys: Vec<&str> = b.uploads.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "/srv/site/a",
                "/srv/site/a/b",
                "/srv/site/a/b/c.html",
                "/srv/site/a/x.html"
            ]
        );
        assert!(b.deletes.is_empty());
        assert_eq!(b.files(), 2);
        assert_eq!(b.summary("/srv/site", 8), "copied a/b/c.html, a/x.html");
    }

    #[test]
    fn a_rename_uploads_the_new_path_and_removes_the_old_one() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let d = dir.path();
        let rules = rules(d, r#"sync "./site" target="/srv/site""#);
        let rule = &rules.rules[0];
        write(&d.join("site/new/f.html"), "f");
        // `old` (a folder) and `old/f.html` were reported gone; only the folder is removed.
        let b = batch(
            rule,
            &set(&[
                d.join("site/old"),
                d.join("site/old/f.html"),
                d.join("site/new"),
            ]),
        );
        assert_eq!(b.deletes, BTreeSet::from(["/srv/site/old".to_string()]));
        assert!(b.uploads.contains_key("/srv/site/new/f.html"));
        assert_eq!(b.summary("/srv/site", 8), "copied new/f.html; removed old");
        // Ignored and editor files that vanish are not removed in the container.
        let b = batch(
            rule,
            &set(&[d.join("site/.f.html.swp"), d.join("site/.git")]),
        );
        assert!(b.is_empty(), "{b:?}");
    }

    #[test]
    fn tar_names_entries_under_the_base_with_the_owner_and_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let d = dir.path();
        let rules = rules(d, r#"sync "./site" target="/srv/site""#);
        let rule = &rules.rules[0];
        write(&d.join("site/bin/run.sh"), "#!/bin/sh\n");
        std::fs::set_permissions(
            d.join("site/bin/run.sh"),
            std::fs::Permissions::from_mode(0o750),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let b = batch(rule, &set(&[d.join("site/bin/run.sh")]));
        let owner = Owner::of(Some("1000:1001"));
        for (base, names) in [
            ("/srv/site", vec!["bin/", "bin/run.sh"]),
            ("/srv", vec!["site/bin/", "site/bin/run.sh"]),
        ] {
            let bytes = tar(&b, base, owner).unwrap_or_else(|e| panic!("{e}"));
            let mut archive = ::tar::Archive::new(bytes.as_slice());
            let mut seen = Vec::new();
            for e in archive.entries().unwrap_or_else(|e| panic!("{e}")) {
                let e = e.unwrap_or_else(|e| panic!("{e}"));
                let h = e.header();
                assert_eq!(h.uid().ok(), Some(1000));
                assert_eq!(h.gid().ok(), Some(1001));
                let path = e
                    .path()
                    .unwrap_or_else(|e| panic!("{e}"))
                    .display()
                    .to_string();
                if path.ends_with("run.sh") {
                    assert_eq!(h.mode().ok(), Some(0o750));
                }
                seen.push(if h.entry_type().is_dir() && !path.ends_with('/') {
                    format!("{path}/")
                } else {
                    path
                });
            }
            assert_eq!(seen, names);
        }
    }

    #[test]
    fn owners_from_the_service_user() {
        assert_eq!(
            Owner::of(None),
            Owner {
                uid: 0,
                gid: 0,
                container_user: false
            }
        );
        assert_eq!(
            Owner::of(Some("65534:65534")),
            Owner {
                uid: 65534,
                gid: 65534,
                container_user: false
            }
        );
        assert!(Owner::of(Some("node")).container_user);
        let passwd = "root:x:0:0:root:/root:/bin/sh\nappuser:x:1000:1001::/app:/bin/sh\n";
        let group = "root:x:0:\nappgroup:x:1001:\nstaff:x:50:\n";
        let own = |uid, gid| {
            Some(Owner {
                uid,
                gid,
                container_user: false,
            })
        };
        assert_eq!(Owner::resolve("appuser", passwd, group), own(1000, 1001));
        assert_eq!(
            Owner::resolve("appuser:staff", passwd, group),
            own(1000, 50)
        );
        assert_eq!(Owner::resolve("1000:staff", passwd, group), own(1000, 50));
        assert_eq!(Owner::resolve("appuser:7", passwd, group), own(1000, 7));
        assert_eq!(Owner::resolve("nobody", passwd, group), None);
        assert_eq!(Owner::resolve("appuser:wheel", passwd, group), None);
        assert_eq!(
            Owner::resolve("1000", passwd, group),
            None,
            "a uid alone has no group"
        );
        assert!(
            Owner::of(Some("1000")).container_user,
            "the engine knows the group"
        );
    }

    #[test]
    fn diff_by_content_uploads_what_differs_and_removes_what_the_host_lacks() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let d = dir.path();
        let rules = rules(
            d,
            r#"sync "./site" target="/srv/site" { ignore "node_modules/"; }"#,
        );
        let rule = &rules.rules[0];
        write(&d.join("site/same.html"), "same");
        write(&d.join("site/changed.html"), "new");
        write(&d.join("site/new/n.html"), "n");
        let host = host_listing(rule).unwrap_or_else(|e| panic!("{e}"));
        let same = match host.get(Path::new("same.html")) {
            Some(Entry::File { digest, .. }) => digest.clone(),
            other => panic!("{other:?}"),
        };
        let h = |p: &str| hex(p.as_bytes());
        let probe_output = format!(
            "f {same} 644 {}\nf 00 644 {}\nd 755 {}\nf 11 644 {}\nd 755 {}\nf 22 644 {}\nf 33 644 {}\nhashed 7\n",
            h("same.html"),
            h("changed.html"),
            h("gone"),
            h("gone/g.html"),
            h("node_modules"),
            h("node_modules/m.js"),
            h("stale.html"),
        );
        let there = parse_listing(&probe_output);
        assert!(there.is_some());
        let b = diff(rule, &host, there.as_ref());
        let keys: Vec<&str> = b.uploads.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "/srv/site/changed.html",
                "/srv/site/new",
                "/srv/site/new/n.html"
            ]
        );
        assert_eq!(
            b.deletes,
            BTreeSet::from([
                "/srv/site/gone".to_string(),
                "/srv/site/stale.html".to_string()
            ]),
            "ignored node_modules stays"
        );
        // A missing folder: everything goes.
        assert_eq!(parse_listing("missing\n"), None);
        let b = diff(rule, &host, None);
        assert_eq!(b.files(), 3);
        // In step: nothing to do.
        let mut in_step = String::new();
        for (rel, e) in &host {
            match e {
                Entry::File { digest, mode } => in_step.push_str(&format!(
                    "f {digest} {mode:o} {}\n",
                    hex(rel.as_os_str().as_encoded_bytes())
                )),
                Entry::Dir => in_step.push_str(&format!(
                    "d 755 {}\n",
                    hex(rel.as_os_str().as_encoded_bytes())
                )),
                Entry::Link { target } => in_step.push_str(&format!(
                    "l {target} {}\n",
                    hex(rel.as_os_str().as_encoded_bytes())
                )),
                Entry::Other => {}
            }
        }
        assert!(diff(rule, &host, parse_listing(&in_step).as_ref()).is_empty());
    }

    #[test]
    fn listings_carry_any_name() {
        let name = "a b\nc\u{e9}.txt";
        let text = format!("f 00 644 {}\nmissing-not\n", hex(name.as_bytes()));
        let listing = parse_listing(&text).unwrap_or_default();
        assert!(listing.contains_key(Path::new(name)), "{listing:?}");
        assert_eq!(parse_listing("missing\n"), None);
    }

    #[test]
    fn links_compare_by_target() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let d = dir.path();
        let rules = rules(d, r#"sync "./site" target="/srv""#);
        let rule = &rules.rules[0];
        write(&d.join("site/real file.txt"), "x");
        std::os::unix::fs::symlink("real file.txt", d.join("site/my link"))
            .unwrap_or_else(|e| panic!("{e}"));
        let host = host_listing(rule).unwrap_or_else(|e| panic!("{e}"));
        let Some(Entry::File { digest, mode }) = host.get(Path::new("real file.txt")) else {
            panic!("{host:?}")
        };
        let file = format!("f {digest} {mode:o} {}\n", hex(b"real file.txt"));
        // "real file.txt" in hex, as the probe runner writes it.
        let link = hex(b"my link");
        let same = format!("{file}l 7265616c2066696c652e747874 {link}\n");
        assert!(diff(rule, &host, parse_listing(&same).as_ref()).is_empty());
        let other = format!("{file}l 6f74686572 {link}\n");
        let b = diff(rule, &host, parse_listing(&other).as_ref());
        assert_eq!(
            b.uploads.keys().map(String::as_str).collect::<Vec<_>>(),
            ["/srv/my link"]
        );
    }

    #[test]
    fn a_file_rule_syncs_that_file_to_its_target() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let d = dir.path();
        write(&d.join("conf/app.ini"), "a=1");
        let rules = rules(d, r#"sync-restart "./conf/app.ini" target="/etc/app.ini""#);
        let rule = &rules.rules[0];
        assert!(!rule.is_dir);
        let b = batch(rule, &set(&[d.join("conf/app.ini")]));
        assert_eq!(
            b.uploads.keys().map(String::as_str).collect::<Vec<_>>(),
            ["/etc/app.ini"]
        );
        let bytes = tar(&b, "/etc", Owner::of(None)).unwrap_or_else(|e| panic!("{e}"));
        let mut archive = ::tar::Archive::new(bytes.as_slice());
        let names: Vec<String> = archive
            .entries()
            .unwrap_or_else(|e| panic!("{e}"))
            .filter_map(|e| e.ok()?.path().ok().map(|p| p.display().to_string()))
            .collect();
        assert_eq!(names, ["app.ini"]);
        assert!(batch(rule, &set(&[d.join("conf/other.ini")])).is_empty());
    }
}
