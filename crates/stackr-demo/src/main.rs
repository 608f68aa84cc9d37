//! The programs of stackr's demo stack (the repository's `stack.kdl`), in one static binary
//! with no dependencies but signal-hook, so that its images can be built `FROM scratch` without a registry:
//!
//! - `stackr-demo seed DIR`: a one-shot that writes the site into DIR (a named volume);
//! - `stackr-demo api PORT DIR`: a JSON API that counts visits in DIR/visits (the count
//!   survives a recreate, since DIR is a volume);
//! - `stackr-demo web PORT DIR API`: serves DIR and forwards `/api/...` to the API;
//! - `stackr-demo check URL`: exits 0 when URL answers 2xx: a health check without curl;
//! - `stackr-demo version PORT`: answers `version $VERSION` (the rolling-update tests);
//! - `stackr-demo load URL`: requests URL in a loop and prints `ok BODY` or `fail WHY` for
//!   each, trying each address the name resolves to, as a proxy does.
//!
//! The servers stop gracefully on SIGTERM: the request in hand is answered, then the listener
//! closes and the program exits.
//!
//! With `API_TOKEN_FILE` set (a secret's path), the API answers only requests that carry that
//! token in `X-Api-Token`, and the web server sends it when it forwards.

// A program of its own, not a library of stackr's: it prints.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["seed", dir] => seed(Path::new(dir)),
        ["api", port, dir] => token().and_then(|token| {
            serve(
                port,
                Mode::Api {
                    dir: PathBuf::from(dir),
                    token,
                },
            )
        }),
        ["web", port, dir, api] => token().and_then(|token| {
            serve(
                port,
                Mode::Web {
                    dir: PathBuf::from(dir),
                    api: api.to_string(),
                    token,
                },
            )
        }),
        ["check", url] => check(url),
        ["version", port] => serve(
            port,
            Mode::Version {
                version: std::env::var("VERSION").unwrap_or_default(),
            },
        ),
        ["load", url] => load(url),
        _ => Err(
            "usage: stackr-demo seed DIR | api PORT DIR | web PORT DIR API_ADDR | check URL | \
             version PORT | load URL"
                .into(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stackr-demo: {e}");
            ExitCode::FAILURE
        }
    }
}

type Result<T> = std::result::Result<T, String>;

/// The API token, from the file `API_TOKEN_FILE` names (never printed).
fn token() -> Result<Option<String>> {
    let Some(path) = std::env::var_os("API_TOKEN_FILE") else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "cannot read the API token {}: {e}",
            Path::new(&path).display()
        )
    })?;
    println!(
        "API token loaded from {} ({} bytes)",
        Path::new(&path).display(),
        text.trim().len()
    );
    Ok(Some(text.trim().to_string()))
}

fn seed(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let page = "<!doctype html>\n<title>stackr demo</title>\n<h1>Hello from stackr</h1>\n<p>This page was written by the one-shot <code>seed</code> service into a named volume.</p>\n<p>Visits so far: <a href=\"/api/visits\">/api/visits</a></p>\n";
    std::fs::write(dir.join("index.html"), page)
        .map_err(|e| format!("cannot write the page: {e}"))?;
    println!("seed: wrote {}/index.html", dir.display());
    Ok(())
}

enum Mode {
    Api {
        dir: PathBuf,
        token: Option<String>,
    },
    Web {
        dir: PathBuf,
        api: String,
        token: Option<String>,
    },
    Version {
        version: String,
    },
}

/// Set once SIGTERM arrives; a thread then wakes the accept loop with a connection of its own.
fn stop_on_sigterm(port: &str) -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGTERM])
        .map_err(|e| format!("cannot handle SIGTERM: {e}"))?;
    let flag = stop.clone();
    let wake = format!("127.0.0.1:{port}");
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            flag.store(true, Ordering::SeqCst);
            let _ = TcpStream::connect(&wake);
        }
    });
    Ok(stop)
}

fn serve(port: &str, mode: Mode) -> Result<()> {
    let listener = TcpListener::bind(format!("0.0.0.0:{port}"))
        .map_err(|e| format!("cannot listen on {port}: {e}"))?;
    let stop = stop_on_sigterm(port)?;
    println!("listening on :{port}");
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            println!("SIGTERM: stopping");
            break;
        }
        let Ok(mut conn) = conn else { continue };
        let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
        let Some((path, given)) = request(&conn) else {
            continue;
        };
        let (status, kind, body) = match &mode {
            Mode::Api { token: Some(t), .. } if path != "/health" && given.as_ref() != Some(t) => (
                "401 Unauthorized",
                "text/plain",
                "a valid X-Api-Token is required\n".into(),
            ),
            Mode::Api { dir, .. } => api(dir, &path),
            Mode::Web { dir, api, token } => web(dir, api, token.as_deref(), &path),
            Mode::Version { version } => match path.as_str() {
                "/health" => ("200 OK", "text/plain", "ok\n".into()),
                "/" => ("200 OK", "text/plain", format!("version {version}\n")),
                "/who" => (
                    "200 OK",
                    "text/plain",
                    format!(
                        "{}\n",
                        std::fs::read_to_string("/etc/hostname")
                            .unwrap_or_default()
                            .trim()
                    ),
                ),
                _ => ("404 Not Found", "text/plain", "not found\n".into()),
            },
        };
        if path != "/health" && !matches!(mode, Mode::Version { .. }) {
            println!("{status} {path}");
        }
        let _ = write!(
            conn,
            "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    }
    Ok(())
}

/// The request's path and its `X-Api-Token` header.
fn request(conn: &TcpStream) -> Option<(String, Option<String>)> {
    let mut reader = BufReader::new(conn);
    let mut first = String::new();
    reader.read_line(&mut first).ok()?;
    // Read the headers so the client is not cut off.
    let mut token = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("x-api-token")
        {
            token = Some(value.trim().to_string());
        }
    }
    let path = first.split_whitespace().nth(1)?.to_string();
    Some((path, token))
}

fn api(dir: &Path, path: &str) -> (&'static str, &'static str, String) {
    match path {
        "/health" => ("200 OK", "application/json", "{\"status\":\"ok\"}".into()),
        "/visits" => {
            let file = dir.join("visits");
            let n: u64 = std::fs::read_to_string(&file)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0)
                + 1;
            if let Err(e) = std::fs::write(&file, n.to_string()) {
                return (
                    "500 Internal Server Error",
                    "text/plain",
                    format!("cannot count: {e}\n"),
                );
            }
            (
                "200 OK",
                "application/json",
                format!("{{\"visits\":{n}}}\n"),
            )
        }
        _ => ("404 Not Found", "text/plain", "not found\n".into()),
    }
}

fn web(
    dir: &Path,
    api_addr: &str,
    token: Option<&str>,
    path: &str,
) -> (&'static str, &'static str, String) {
    if path == "/health" {
        return ("200 OK", "text/plain", "ok\n".into());
    }
    if let Some(rest) = path.strip_prefix("/api") {
        return match get(api_addr, rest, token) {
            Ok((200..=299, body)) => ("200 OK", "application/json", body),
            Ok((code, _)) => (
                "502 Bad Gateway",
                "text/plain",
                format!("the api answered {code}\n"),
            ),
            Err(e) => (
                "502 Bad Gateway",
                "text/plain",
                format!("the api is unreachable: {e}\n"),
            ),
        };
    }
    let file = if path == "/" {
        "index.html"
    } else {
        path.trim_start_matches('/')
    };
    if file.contains("..") {
        return ("400 Bad Request", "text/plain", "bad path\n".into());
    }
    match std::fs::read_to_string(dir.join(file)) {
        Ok(body) => ("200 OK", "text/html", body),
        Err(_) => ("404 Not Found", "text/plain", "not found\n".into()),
    }
}

/// A minimal HTTP/1.1 GET: `(status, body)`.
fn get(addr: &str, path: &str, token: Option<&str>) -> Result<(u16, String)> {
    let mut conn = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let path = if path.is_empty() { "/" } else { path };
    write!(
        conn,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{}Connection: close\r\n\r\n",
        token
            .map(|t| format!("X-Api-Token: {t}\r\n"))
            .unwrap_or_default()
    )
    .map_err(|e| e.to_string())?;
    let mut response = String::new();
    conn.read_to_string(&mut response)
        .map_err(|e| e.to_string())?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("no HTTP status in the answer")?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// Requests `url` every 10 ms until stopped, printing the outcome of each.
fn load(url: &str) -> Result<()> {
    let rest = url.strip_prefix("http://").ok_or("only http:// URLs")?;
    let (addr, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let stop = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGTERM, stop.clone())
        .map_err(|e| format!("cannot handle SIGTERM: {e}"))?;
    while !stop.load(Ordering::SeqCst) {
        match get_any(addr, path) {
            Ok((200..=299, body)) => println!("ok {}", body.trim()),
            Ok((code, _)) => println!("fail status {code}"),
            Err(e) => println!(
                "fail {e} (at {:?})",
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
            ),
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// A GET to each address `addr` resolves to in turn, until one answers: an address that
/// refuses the connection, does not take it within 250 ms (a container the engine is still
/// attaching is in its DNS a moment before it can be reached), or closes it before answering
/// is passed over, as nginx's `proxy_next_upstream error timeout` does. A partial answer is
/// not retried.
fn get_any(addr: &str, path: &str) -> Result<(u16, String)> {
    use std::net::ToSocketAddrs;
    let addrs: Vec<std::net::SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {addr}: {e}"))?
        .collect();
    let mut tried: Vec<String> = Vec::new();
    if addrs.is_empty() {
        return Err(format!("{addr} resolves to no address"));
    }
    for a in addrs {
        let mut conn = match TcpStream::connect_timeout(&a, Duration::from_millis(250)) {
            Ok(c) => c,
            Err(e) => {
                tried.push(format!("{a}: {e}"));
                continue;
            }
        };
        let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        if let Err(e) = conn.write_all(request.as_bytes()) {
            tried.push(format!("{a}: {e}"));
            continue;
        }
        let mut response = String::new();
        let read = conn.read_to_string(&mut response);
        if response.is_empty() {
            tried.push(format!("{a}: closed before answering ({read:?})"));
            continue;
        }
        if let Err(e) = read {
            return Err(format!("{a} broke off its answer: {e}"));
        }
        let status = response
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("{a} sent no HTTP status"))?;
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        return Ok((status, body));
    }
    Err(tried.join("; "))
}

fn check(url: &str) -> Result<()> {
    let rest = url.strip_prefix("http://").ok_or("only http:// URLs")?;
    let (addr, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    match get(addr, path, None)? {
        (200..=299, _) => Ok(()),
        (code, _) => Err(format!("{url} answered {code}")),
    }
}
