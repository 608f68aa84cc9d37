//! stackr's probe runner. stackr puts this static binary into a read-only volume mounted in
//! the container at `/.stackr`, and registers it as the container's Docker health check, so
//! native `http` and `tcp` probes need nothing in the image (no shell, no curl):
//!
//! - `probe http HOST PORT PATH MIN-MAX [BODY]`: healthy when `GET PATH` answers a status in
//!   MIN..=MAX (and, when given, a body containing BODY);
//! - `probe tcp HOST PORT`: healthy when a connection opens;
//! - `probe rm PATH...`: removes files and folders (for watch mode, in images without `rm`);
//! - `probe hash DIR`: one line per entry under DIR, `f SHA256 MODE PATH`, `d MODE PATH`,
//!   `l TARGET PATH` (a symlink) or `o PATH` (anything else), paths relative to DIR and,
//!   like link targets, hex-encoded (`missing` when DIR does not exist): what watch mode
//!   compares with the host to sync by content.
//!
//! - `probe start ...` and `probe report ...`: ordered recovery after a daemon restart (see
//!   `recover.rs`).
//!
//! It prints one line saying what it saw: Docker keeps it as the check's output.

// A program of its own, not a library of stackr's: it prints.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

mod recover;

const TIMEOUT: Duration = Duration::from_secs(30);
/// Where the stack's status volume is mounted (`stackr_engine::STATUS_DIR`; this program
/// depends on nothing of stackr's).
const STATUS_DIR: &str = "/.stackr-status";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match argv.as_slice() {
        ["http", host, port, path, range, rest @ ..] => {
            http(host, port, path, range, rest.first().copied())
        }
        ["tcp", host, port] => tcp(host, port).map(|addr| format!("tcp {addr}: connected")),
        ["rm", paths @ ..] => rm(paths),
        ["hash", dir] => hash(std::path::Path::new(dir)),
        ["hold"] => hold(),
        ["fill", dir] => fill(std::path::Path::new(dir)),
        ["start", rest @ ..] => return recover::start(std::path::Path::new(STATUS_DIR), rest),
        ["report", rest @ ..] => return recover::report(std::path::Path::new(STATUS_DIR), rest),
        ["release", rest @ ..] => {
            return recover::release(std::path::Path::new(STATUS_DIR), rest);
        }
        ["forget", rest @ ..] => {
            return recover::forget_slot(std::path::Path::new(STATUS_DIR), rest);
        }
        _ => Err(
            "usage: probe http HOST PORT PATH MIN-MAX [BODY] | tcp HOST PORT | rm PATH... | hash DIR | hold | start --as SERVICE/N [--after COND:SERVICE]... -- ARGV... | report --as SERVICE/N [--retries R] -- ARGV... | release --as SERVICE/N | forget --as SERVICE/N"
                .into(),
        ),
    };
    match result {
        Ok(msg) => {
            println!("{msg}");
            ExitCode::SUCCESS
        }
        Err(msg) => {
            println!("{msg}");
            ExitCode::FAILURE
        }
    }
}

/// Runs until standard input ends: the stack lock's container, which lives exactly as long
/// as its holder's connection to the engine (the engine closes the input when it drops).
fn hold() -> Result<String, String> {
    let mut sink = [0u8; 512];
    let mut input = std::io::stdin().lock();
    loop {
        match std::io::Read::read(&mut input, &mut sink) {
            Ok(0) => return Ok("released".into()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("hold: {e}")),
        }
    }
}

/// The Swarm target's filler (a global service, one task per node): puts this binary into
/// `dir/probe` (the node's probe volume) unless it is there already, then stays until it is
/// stopped, so that a node that joins later gets its own.
fn fill(dir: &std::path::Path) -> Result<String, String> {
    let me =
        std::fs::read("/proc/self/exe").map_err(|e| format!("fill: cannot read myself: {e}"))?;
    let target = dir.join("probe");
    if std::fs::read(&target).ok().as_deref() != Some(me.as_slice()) {
        let tmp = dir.join(format!(".probe-{}", std::process::id()));
        std::fs::write(&tmp, &me).map_err(|e| format!("fill: {}: {e}", tmp.display()))?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| format!("fill: {}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &target).map_err(|e| format!("fill: {}: {e}", target.display()))?;
    }
    println!("fill: {} ready", target.display());
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        let _ = signal_hook::flag::register(sig, std::sync::Arc::clone(&stop));
    }
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    Ok("fill: stopped".into())
}

fn connect(host: &str, port: &str) -> Result<TcpStream, String> {
    let addr = format!("{host}:{port}");
    let addrs = addr
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {addr}: {e}"))?;
    let mut last = format!("no address for {addr}");
    for a in addrs {
        match TcpStream::connect_timeout(&a, TIMEOUT) {
            Ok(s) => {
                let _ = s.set_read_timeout(Some(TIMEOUT));
                let _ = s.set_write_timeout(Some(TIMEOUT));
                return Ok(s);
            }
            Err(e) => last = format!("cannot connect to {addr}: {e}"),
        }
    }
    Err(last)
}

fn tcp(host: &str, port: &str) -> Result<String, String> {
    connect(host, port).map(|_| format!("{host}:{port}"))
}

fn http(
    host: &str,
    port: &str,
    path: &str,
    range: &str,
    body: Option<&str>,
) -> Result<String, String> {
    let (min, max) = match range.split_once('-') {
        Some((a, b)) => (a.parse::<u16>(), b.parse::<u16>()),
        None => (range.parse::<u16>(), range.parse::<u16>()),
    };
    let (Ok(min), Ok(max)) = (min, max) else {
        return Err(format!("bad status range {range}"));
    };
    let mut conn = connect(host, port)?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: stackr-probe\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
    conn.write_all(request.as_bytes())
        .map_err(|e| format!("http {host}:{port}{path}: cannot send: {e}"))?;
    // Read at most 64 KiB: enough for a status line and a health body.
    let mut buf = Vec::new();
    let _ = conn.take(64 * 1024).read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("http {host}:{port}{path}: no HTTP answer"))?;
    let answer_body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    if !(min..=max).contains(&status) {
        return Err(format!(
            "http {host}:{port}{path}: status {status}, expected {range}"
        ));
    }
    if let Some(want) = body
        && !answer_body.contains(want)
    {
        let shown: String = answer_body.chars().take(200).collect();
        return Err(format!(
            "http {host}:{port}{path}: status {status}, but the body lacks {want:?}: {shown:?}"
        ));
    }
    Ok(format!("http {host}:{port}{path}: status {status}"))
}

/// Removes each path, going on past what cannot be removed (so that a second run with more
/// rights finishes the job); fails naming the first path that stayed.
fn rm(paths: &[&str]) -> Result<String, String> {
    let mut removed = 0;
    let mut first_error = None;
    for p in paths {
        match remove(std::path::Path::new(p)) {
            Ok(true) => removed += 1,
            Ok(false) => {}
            Err(e) => {
                first_error.get_or_insert(format!("cannot remove {p}: {e}"));
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(format!("removed {removed}")),
    }
}

/// Removes a file or a folder with everything in it; `Ok(false)` when it was not there.
fn remove(path: &std::path::Path) -> std::io::Result<bool> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    if !meta.is_dir() {
        return std::fs::remove_file(path).map(|()| true);
    }
    let mut first = None;
    for entry in std::fs::read_dir(path)? {
        match entry.and_then(|e| remove(&e.path())) {
            Ok(_) => {}
            Err(e) => {
                first.get_or_insert(e);
            }
        }
    }
    match std::fs::remove_dir(path) {
        Ok(()) => Ok(true),
        Err(e) => Err(first.unwrap_or(e)),
    }
}

fn hash(dir: &std::path::Path) -> Result<String, String> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(format!("{} is not a directory", dir.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok("missing".into()),
        Err(e) => return Err(format!("cannot read {}: {e}", dir.display())),
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut stack = vec![std::path::PathBuf::new()];
    let mut count = 0usize;
    while let Some(rel) = stack.pop() {
        let entries = std::fs::read_dir(dir.join(&rel))
            .map_err(|e| format!("cannot list {}: {e}", dir.join(&rel).display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("cannot list {}: {e}", rel.display()))?;
            let path = rel.join(entry.file_name());
            let meta = entry
                .metadata()
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let mode = meta.permissions().mode() & 0o7777;
            let line = if meta.is_dir() {
                stack.push(path.clone());
                format!("d {mode:o} {}", hex(path.as_os_str().as_encoded_bytes()))
            } else if meta.is_file() {
                let digest = file_digest(&dir.join(&path))
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                format!(
                    "f {digest} {mode:o} {}",
                    hex(path.as_os_str().as_encoded_bytes())
                )
            } else if meta.file_type().is_symlink() {
                // The link's target, hex-encoded: a target may hold spaces.
                let target = std::fs::read_link(dir.join(&path))
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                format!(
                    "l {} {}",
                    hex(target.as_os_str().as_encoded_bytes()),
                    hex(path.as_os_str().as_encoded_bytes())
                )
            } else {
                format!("o {}", hex(path.as_os_str().as_encoded_bytes()))
            };
            writeln!(out, "{line}").map_err(|e| e.to_string())?;
            count += 1;
        }
    }
    out.flush().map_err(|e| e.to_string())?;
    Ok(format!("hashed {count}"))
}

/// Bytes as lowercase hex: paths and link targets travel this way, whatever they hold
/// (spaces, newlines, bytes that are not UTF-8).
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn file_digest(path: &std::path::Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}
