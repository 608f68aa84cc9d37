//! One run per stack at a time: an exclusive lock on a file named after the stack. The lock
//! belongs to the open file, so the kernel releases it when its holder exits, even by
//! `kill -9`: a killed run never leaves it behind.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use thiserror::Error;

/// Why the lock was not taken.
#[derive(Debug, Error)]
pub enum LockError {
    #[error("another stackr run holds stack `{stack}`{holder}")]
    Busy { stack: String, holder: String },
    #[error("cannot use the lock file {path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// A held lock; dropping it releases it.
#[derive(Debug)]
pub struct StackLock {
    _file: File,
    pub path: PathBuf,
}

/// Where lock files live: `$XDG_RUNTIME_DIR/stackr`, or the temp dir.
pub fn lock_dir() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d).join("stackr"),
        _ => std::env::temp_dir().join("stackr-locks"),
    }
}

fn path_for(dir: &Path, stack: &str, endpoint: &str) -> PathBuf {
    // The engine is part of the name: the same stack on two engines is two stacks.
    let safe: String = endpoint
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    dir.join(format!("{stack}@{safe}.lock"))
}

impl StackLock {
    /// Takes the lock for `stack` on `endpoint`, waiting up to `wait` for another run to end.
    pub fn acquire(
        dir: &Path,
        stack: &str,
        endpoint: &str,
        wait: Duration,
    ) -> Result<StackLock, LockError> {
        let path = path_for(dir, stack, endpoint);
        let io = |error| LockError::Io {
            path: path.clone(),
            error,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {
                    if start.elapsed() >= wait {
                        let mut holder = String::new();
                        let _ = file.read_to_string(&mut holder);
                        let holder = holder.trim();
                        let holder = if holder.is_empty() {
                            String::new()
                        } else {
                            format!(" (pid {holder})")
                        };
                        return Err(LockError::Busy {
                            stack: stack.to_string(),
                            holder,
                        });
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(TryLockError::Error(e)) => return Err(io(e)),
            }
        }
        let _ = file.set_len(0);
        let _ = file.seek(SeekFrom::Start(0));
        let _ = write!(file, "{}", std::process::id());
        let _ = file.flush();
        Ok(StackLock { _file: file, path })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_waits_then_fails_and_a_dropped_lock_is_free() {
        let dir = std::env::temp_dir().join(format!("stackr-lock-test-{}", std::process::id()));
        let first = StackLock::acquire(&dir, "shop", "unix:///x", Duration::ZERO)
            .unwrap_or_else(|e| panic!("{e}"));
        let second = StackLock::acquire(&dir, "shop", "unix:///x", Duration::from_millis(120));
        match second {
            Err(LockError::Busy { stack, holder }) => {
                assert_eq!(stack, "shop");
                assert!(holder.contains(&std::process::id().to_string()), "{holder}");
            }
            other => panic!("expected Busy, got {other:?}"),
        }
        // Another stack, or the same stack on another engine, is not blocked.
        assert!(StackLock::acquire(&dir, "other", "unix:///x", Duration::ZERO).is_ok());
        assert!(StackLock::acquire(&dir, "shop", "tcp://remote", Duration::ZERO).is_ok());
        drop(first);
        assert!(StackLock::acquire(&dir, "shop", "unix:///x", Duration::ZERO).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
