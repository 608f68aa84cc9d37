//! The build context: a tar of the context directory that honours `.dockerignore` (as
//! Docker's patterns, anchored at the context root) and always holds the Dockerfile and the
//! `.dockerignore` itself.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use crate::EngineError;
use ignore::gitignore::{Gitignore, GitignoreBuilder};

/// The most a build's own small files (`.dockerignore`, the Dockerfile read for its `FROM`
/// lines) may hold: a Dockerfile is a few kilobytes.
pub const MAX_SMALL_FILE: u64 = 1 << 20;

/// Reads a small text file of a build context: a regular file only (a FIFO or a device put
/// there would block the read, or never end), opened without blocking in case one is swapped
/// in, and at most [`MAX_SMALL_FILE`] bytes.
pub fn read_small_file(path: &Path) -> io::Result<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let not_regular = || io::Error::new(io::ErrorKind::InvalidInput, "not a regular file");
    if !fs::metadata(path)?.is_file() {
        return Err(not_regular());
    }
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(not_regular());
    }
    let mut bytes = Vec::new();
    file.take(MAX_SMALL_FILE + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_SMALL_FILE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {MAX_SMALL_FILE} bytes"),
        ));
    }
    String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// The `.dockerignore` of a context, as a matcher. Docker's patterns are relative to the
/// context root, so each one is anchored there.
pub fn dockerignore(context: &Path) -> Result<Gitignore, EngineError> {
    let mut builder = GitignoreBuilder::new(context);
    let path = context.join(".dockerignore");
    let text = match read_small_file(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(EngineError::Other(format!(
                "cannot read `{}`: {e}",
                path.display()
            )));
        }
    };
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (negate, pattern) = match line.strip_prefix('!') {
            Some(p) => (true, p.trim()),
            None => (false, line),
        };
        let pattern = pattern.trim_start_matches("./").trim_start_matches('/');
        if pattern.is_empty() {
            continue;
        }
        let anchored = format!("{}/{pattern}", if negate { "!" } else { "" });
        builder
            .add_line(Some(path.clone()), &anchored)
            .map_err(|e| {
                EngineError::Other(format!(
                    "`{}`: invalid pattern `{line}`: {e}",
                    path.display()
                ))
            })?;
    }
    builder
        .build()
        .map_err(|e| EngineError::Other(format!("`{}`: {e}", path.display())))
}

/// The name a Dockerfile written in the stack file gets in the build context sent.
pub const INLINE_DOCKERFILE: &str = ".stackr-inline.Dockerfile";

/// The context of a build as sent: its files, and the Dockerfile written inline.
pub fn tar_build(spec: &crate::BuildSpec) -> Result<Vec<u8>, EngineError> {
    let inline = spec
        .dockerfile_inline
        .as_deref()
        .map(|text| (spec.dockerfile.as_str(), text));
    tar_context_with(&spec.context, &spec.dockerfile, inline)
}

/// The context's files, as a tar archive.
pub fn tar_context(context: &Path, dockerfile: &str) -> Result<Vec<u8>, EngineError> {
    tar_context_with(context, dockerfile, None)
}

/// [`tar_context`] with one more file, `(name, text)`, in place of any file of that name.
fn tar_context_with(
    context: &Path,
    dockerfile: &str,
    extra: Option<(&str, &str)>,
) -> Result<Vec<u8>, EngineError> {
    let meta = fs::metadata(context).map_err(|e| {
        EngineError::Other(format!(
            "build context `{}` cannot be read: {e}",
            context.display()
        ))
    })?;
    if !meta.is_dir() {
        return Err(EngineError::Other(format!(
            "build context `{}` is not a directory",
            context.display()
        )));
    }
    let ignore = dockerignore(context)?;
    let always: Vec<PathBuf> = [dockerfile, ".dockerignore"]
        .iter()
        .map(|p| normalise(Path::new(p)))
        .collect();
    let mut tar = tar::Builder::new(Vec::new());
    tar.mode(tar::HeaderMode::Deterministic);
    tar.follow_symlinks(false);
    let mut walker = Walker {
        root: context,
        ignore: &ignore,
        always: &always,
        descend_ignored: ignore.num_whitelists() > 0,
        replaced: extra.map(|(name, _)| normalise(Path::new(name))),
        tar: &mut tar,
    };
    walker.walk(Path::new("")).map_err(|e| {
        EngineError::Other(format!(
            "cannot pack build context `{}`: {e}",
            context.display()
        ))
    })?;
    if let Some((name, text)) = extra {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mtime(0);
        tar.append_data(&mut header, name, text.as_bytes())
            .map_err(|e| EngineError::Other(format!("cannot pack the inline Dockerfile: {e}")))?;
    }
    tar.into_inner().map_err(|e| {
        EngineError::Other(format!(
            "cannot pack build context `{}`: {e}",
            context.display()
        ))
    })
}

/// `a/./b` → `a/b`, without a leading `./` or `/`.
fn normalise(p: &Path) -> PathBuf {
    p.components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect()
}

struct Walker<'a> {
    root: &'a Path,
    ignore: &'a Gitignore,
    always: &'a [PathBuf],
    /// Whether an ignored directory may hold a re-included (`!`) file.
    descend_ignored: bool,
    /// A file left out: the inline Dockerfile takes its name.
    replaced: Option<PathBuf>,
    tar: &'a mut tar::Builder<Vec<u8>>,
}

impl Walker<'_> {
    fn walk(&mut self, rel_dir: &Path) -> io::Result<()> {
        let mut entries: Vec<_> =
            fs::read_dir(self.root.join(rel_dir))?.collect::<io::Result<_>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let rel = rel_dir.join(entry.file_name());
            let file_type = entry.file_type()?;
            let is_dir = file_type.is_dir();
            if self.replaced.as_ref() == Some(&rel) {
                continue;
            }
            let kept = self.always.contains(&rel)
                || !self
                    .ignore
                    .matched_path_or_any_parents(&rel, is_dir)
                    .is_ignore();
            if is_dir {
                if kept {
                    self.tar.append_dir(&rel, entry.path())?;
                }
                let holds_kept_file = self.always.iter().any(|a| a.starts_with(&rel));
                if kept || self.descend_ignored || holds_kept_file {
                    self.walk(&rel)?;
                }
            } else if kept && (file_type.is_file() || file_type.is_symlink()) {
                // Sockets, fifos and devices are no part of a build context.
                self.tar.append_path_with_name(entry.path(), &rel)?;
            }
        }
        Ok(())
    }
}

/// A digest of a build's inputs: the context as it would be sent (after `.dockerignore`), the
/// Dockerfile's name, the target and the build args. A change of any of them means a rebuild.
pub fn build_digest(spec: &crate::BuildSpec) -> Result<String, EngineError> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    // A remote context is known by its address only (a branch that moves is rebuilt with
    // `up --build`).
    let tar = match &spec.remote {
        Some(url) => {
            h.update(b"remote\0");
            h.update(url.as_bytes());
            h.update([0]);
            Vec::new()
        }
        None => tar_build(spec)?,
    };
    // Paths, modes and contents; not times, so that a checkout or a `touch` rebuilds nothing.
    let mut archive = tar::Archive::new(tar.as_slice());
    let entries = archive
        .entries()
        .map_err(|e| EngineError::Other(format!("cannot read the build context: {e}")))?;
    for entry in entries.take_while(|_| spec.remote.is_none()) {
        let mut entry =
            entry.map_err(|e| EngineError::Other(format!("cannot read the build context: {e}")))?;
        let path = entry
            .path()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mode = entry.header().mode().unwrap_or(0);
        h.update(path.as_bytes());
        h.update([0]);
        h.update(mode.to_le_bytes());
        let mut content = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut content)
            .map_err(|e| EngineError::Other(format!("cannot read the build context: {e}")))?;
        h.update((content.len() as u64).to_le_bytes());
        h.update(&content);
    }
    h.update(spec.dockerfile.as_bytes());
    h.update([0]);
    h.update(spec.target.as_deref().unwrap_or("").as_bytes());
    h.update([0]);
    for (k, v) in &spec.args {
        h.update(k.as_bytes());
        h.update([b'=']);
        h.update(v.as_bytes());
        h.update([0]);
    }
    // The image's own labels and platform are part of what is built; stackr's labels are not
    // (the digest is one of them). Left out when unset, so that earlier digests hold.
    for (k, v) in spec
        .labels
        .iter()
        .filter(|(k, _)| !k.starts_with("io.stackr."))
    {
        h.update(b"label\0");
        h.update(k.as_bytes());
        h.update([b'=']);
        h.update(v.as_bytes());
        h.update([0]);
    }
    if let Some(p) = &spec.platform {
        h.update(b"platform\0");
        h.update(p.as_bytes());
        h.update([0]);
    }
    // Which secrets a build reads and whether it forwards the agent, never their values (a
    // rotated token rebuilds nothing, as with compose).
    for s in &spec.secrets {
        h.update(b"secret\0");
        h.update(s.id.as_bytes());
        h.update([0]);
    }
    if spec.ssh {
        h.update(b"ssh\0");
    }
    for (name, source) in &spec.additional_contexts {
        h.update(b"context\0");
        h.update(name.as_bytes());
        h.update([b'=']);
        h.update(source.as_bytes());
        h.update([0]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// A tar archive holding one file.
pub fn single_file_tar(name: &str, content: &[u8], mode: u32) -> Result<Vec<u8>, EngineError> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(content.len() as u64);
    header.set_mode(mode);
    header.set_cksum();
    builder
        .append_data(&mut header, name, content)
        .map_err(|e| EngineError::Other(format!("cannot pack {name}: {e}")))?;
    builder
        .into_inner()
        .map_err(|e| EngineError::Other(format!("cannot pack {name}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(tar_bytes: &[u8]) -> Vec<String> {
        let mut archive = tar::Archive::new(tar_bytes);
        let mut names: Vec<String> = archive
            .entries()
            .unwrap_or_else(|e| panic!("{e}"))
            .map(|e| {
                let e = e.unwrap_or_else(|e| panic!("{e}"));
                e.path()
                    .unwrap_or_else(|e| panic!("{e}"))
                    .display()
                    .to_string()
            })
            .collect();
        names.sort();
        names
    }

    #[test]
    fn dockerignore_is_honoured_and_the_dockerfile_kept() {
        let dir =
            std::env::temp_dir().join(format!("stackr-docker-context-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let write = |p: &str, text: &str| {
            let path = dir.join(p);
            fs::create_dir_all(path.parent().unwrap_or(&dir)).unwrap_or_else(|e| panic!("{e}"));
            fs::write(path, text).unwrap_or_else(|e| panic!("{e}"));
        };
        write("Dockerfile", "FROM scratch\n");
        write(
            ".dockerignore",
            "# comment\nDockerfile\n*.log\nsecret/\n!secret/keep.txt\n",
        );
        write("app.txt", "app");
        write("debug.log", "x");
        write("sub/deep.log", "kept: patterns are anchored at the root");
        write("secret/key", "k");
        write("secret/keep.txt", "keep");
        let tar = tar_context(&dir, "Dockerfile").unwrap_or_else(|e| panic!("{e}"));
        let _ = fs::remove_dir_all(&dir);
        assert_eq!(
            entries(&tar),
            vec![
                ".dockerignore",
                "Dockerfile",
                "app.txt",
                "secret/keep.txt",
                "sub",
                "sub/deep.log"
            ]
        );
    }

    #[test]
    fn an_inline_dockerfile_replaces_a_file_of_its_name() {
        let dir =
            std::env::temp_dir().join(format!("stackr-inline-context-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        fs::write(dir.join(INLINE_DOCKERFILE), "FROM old\n").unwrap_or_else(|e| panic!("{e}"));
        fs::write(dir.join("app.txt"), "app").unwrap_or_else(|e| panic!("{e}"));
        let spec = crate::BuildSpec {
            context: dir.clone(),
            dockerfile: INLINE_DOCKERFILE.into(),
            dockerfile_inline: Some("FROM new\n".into()),
            remote: None,
            target: None,
            args: Default::default(),
            tag: "t".into(),
            ..Default::default()
        };
        let tar = tar_build(&spec).unwrap_or_else(|e| panic!("{e}"));
        let _ = fs::remove_dir_all(&dir);
        assert_eq!(entries(&tar), vec![INLINE_DOCKERFILE, "app.txt"]);
        let mut archive = tar::Archive::new(tar.as_slice());
        let mut text = String::new();
        for e in archive.entries().unwrap_or_else(|e| panic!("{e}")) {
            let mut e = e.unwrap_or_else(|e| panic!("{e}"));
            if e.path().is_ok_and(|p| p.ends_with(INLINE_DOCKERFILE)) {
                std::io::Read::read_to_string(&mut e, &mut text).unwrap_or_else(|e| panic!("{e}"));
            }
        }
        assert_eq!(text, "FROM new\n");
    }

    #[test]
    fn build_secrets_and_ssh_change_the_digest_but_their_sources_do_not() {
        let dir = std::env::temp_dir().join(format!("stackr-secret-digest-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        fs::write(dir.join("Dockerfile"), "FROM scratch\n").unwrap_or_else(|e| panic!("{e}"));
        let plain = crate::BuildSpec {
            context: dir.clone(),
            dockerfile: "Dockerfile".into(),
            tag: "t".into(),
            ..Default::default()
        };
        let secret = |source| crate::BuildSecret {
            id: "token".into(),
            source,
        };
        let with_file = crate::BuildSpec {
            secrets: vec![secret(crate::BuildSecretSource::File("/a".into()))],
            ..plain.clone()
        };
        let with_env = crate::BuildSpec {
            secrets: vec![secret(crate::BuildSecretSource::Env("TOKEN".into()))],
            ..plain.clone()
        };
        let with_ssh = crate::BuildSpec {
            ssh: true,
            ..plain.clone()
        };
        let digests: Vec<String> = [&plain, &with_file, &with_env, &with_ssh]
            .iter()
            .map(|s| build_digest(s).unwrap_or_else(|e| panic!("{e}")))
            .collect();
        let _ = fs::remove_dir_all(&dir);
        assert_ne!(digests[0], digests[1]);
        assert_eq!(digests[1], digests[2]);
        assert_ne!(digests[0], digests[3]);
        assert!(with_ssh.needs_buildkit() && with_env.needs_buildkit());
        assert!(!plain.needs_buildkit());
    }
}
