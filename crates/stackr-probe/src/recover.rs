//! Ordered recovery: what a container that comes back by itself after a daemon restart runs
//! before its own command, and what its health check reports.
//!
//! The stack's status volume (a tmpfs, so empty after every daemon start) holds one folder per
//! service and, per replica `N`, `N.started` (its own command began) and `N.health` (its last
//! health result: `healthy`, `failing K` or `unhealthy`, Docker's meaning with `retries`).
//!
//! - `probe start --as SERVICE/N [--after started:DEP | healthy:DEP]... -- ARGV...` waits
//!   until every `--after` holds, writes `N.started`, and becomes ARGV (`exec`: the service's
//!   own process keeps the container's PID and signals);
//! - `probe report SERVICE/N [--retries R] -- ARGV...` runs a health check and records its
//!   result before passing its exit code on to the engine;
//! - `probe release --as SERVICE/N`, run in the container by stackr (`up --no-deps`), ends the
//!   wait of the container's current run: it writes `N.go` with the start time of the
//!   container's PID 1 (the waiter), so that it counts for that run only.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How often a waiting container looks at the status volume again.
const POLL: Duration = Duration::from_millis(50);
/// After how long a waiting container says what it waits for, and how often again.
const FIRST_NOTICE: Duration = Duration::from_secs(1);
const NOTICE_EVERY: Duration = Duration::from_secs(30);
/// How long a container waits at most: then it starts its command all the same (as the
/// engine alone would have), so that nothing can leave the stack stopped for good.
const GIVE_UP: Duration = Duration::from_secs(300);

/// A condition on a dependency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum After {
    /// One of its replicas has begun its own command since the daemon started.
    Started(String),
    /// One of its replicas has begun its own command and its last health result counts as
    /// healthy.
    Healthy(String),
}

impl After {
    fn parse(s: &str) -> Result<Self, String> {
        match s.split_once(':') {
            Some(("started", dep)) if valid_name(dep) => Ok(After::Started(dep.into())),
            Some(("healthy", dep)) if valid_name(dep) => Ok(After::Healthy(dep.into())),
            _ => Err(format!(
                "bad condition {s:?}: expected started:SERVICE or healthy:SERVICE"
            )),
        }
    }

    fn service(&self) -> &str {
        match self {
            After::Started(s) | After::Healthy(s) => s,
        }
    }

    fn word(&self) -> &'static str {
        match self {
            After::Started(_) => "started",
            After::Healthy(_) => "healthy",
        }
    }
}

/// A replica: `SERVICE/N`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub service: String,
    pub number: String,
}

impl Slot {
    fn parse(s: &str) -> Result<Self, String> {
        match s.split_once('/') {
            Some((service, number))
                if valid_name(service)
                    && !number.is_empty()
                    && number.bytes().all(|b| b.is_ascii_digit()) =>
            {
                Ok(Slot {
                    service: service.into(),
                    number: number.into(),
                })
            }
            _ => Err(format!("bad replica {s:?}: expected SERVICE/N")),
        }
    }

    fn file(&self, dir: &Path, ext: &str) -> PathBuf {
        dir.join(&self.service)
            .join(format!("{}.{ext}", self.number))
    }
}

/// A service name as a folder name: never a path.
fn valid_name(s: &str) -> bool {
    !s.is_empty() && s != "." && s != ".." && !s.contains('/') && !s.contains('\0')
}

/// Whether `after` holds in the status folder `dir`.
pub fn holds(dir: &Path, after: &After) -> bool {
    let Ok(entries) = std::fs::read_dir(dir.join(after.service())) else {
        return false;
    };
    let started: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.strip_suffix(".started").map(str::to_string)
        })
        .collect();
    // A record being cleared (another user's file, emptied rather than removed) is no start.
    let started: Vec<String> = started
        .into_iter()
        .filter(|n| {
            std::fs::read_to_string(dir.join(after.service()).join(format!("{n}.started")))
                .is_ok_and(|t| t.starts_with("started"))
        })
        .collect();
    match after {
        After::Started(_) => !started.is_empty(),
        After::Healthy(service) => started.iter().any(|n| {
            std::fs::read_to_string(dir.join(service).join(format!("{n}.health")))
                .is_ok_and(|h| counts_as_healthy(&h))
        }),
    }
}

fn counts_as_healthy(health: &str) -> bool {
    let h = health.trim();
    h == "healthy" || h.starts_with("failing ")
}

/// The health a result leaves, after `previous`: Docker's rule, where a healthy container
/// turns unhealthy only after `retries` failures in a row, and one success makes it healthy.
pub fn next_health(previous: Option<&str>, ok: bool, retries: u32) -> String {
    if ok {
        return "healthy".into();
    }
    let failures = match previous.map(str::trim) {
        Some("healthy") => 1,
        Some(p) => match p.strip_prefix("failing ").map(str::parse::<u32>) {
            Some(Ok(k)) => k + 1,
            _ => return "unhealthy".into(),
        },
        None => return "unhealthy".into(),
    };
    if failures >= retries.max(1) {
        "unhealthy".into()
    } else {
        format!("failing {failures}")
    }
}

/// Writes `text` to `path` whole: through a temporary file renamed over it, or, where the
/// sticky status folder refuses that (another user's file), in place.
fn write_whole(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let renamed = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, path));
    if renamed.is_ok() {
        return Ok(());
    }
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)?;
    f.write_all(text.as_bytes())
}

/// The service's folder, made writable for every user (replicas of one service may run as
/// different users during an update).
fn service_dir(dir: &Path, slot: &Slot) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let d = dir.join(&slot.service);
    match std::fs::create_dir(&d) {
        Ok(()) => std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o1777))?,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    Ok(d)
}

/// Forgets what an earlier run of `slot` recorded (a crashed one's start and health): a
/// dependent must not take a container that is starting again for one that runs.
pub fn forget(dir: &Path, slot: &Slot) {
    for ext in ["started", "health"] {
        let _ = clear(&slot.file(dir, ext));
    }
}

/// Removes a record; another user's file in the sticky folder, which cannot be removed, is
/// emptied instead.
fn clear(path: &Path) -> std::io::Result<()> {
    if std::fs::remove_file(path).is_err() && path.exists() {
        write_whole(path, "")?;
    }
    Ok(())
}

/// Says that `slot` began its own command; its health starts over, as Docker's does.
pub fn announce(dir: &Path, slot: &Slot) -> std::io::Result<()> {
    service_dir(dir, slot)?;
    clear(&slot.file(dir, "health"))?;
    write_whole(&slot.file(dir, "started"), "started\n")
}

/// Records a health result of `slot`.
pub fn record(dir: &Path, slot: &Slot, ok: bool, retries: u32) -> std::io::Result<()> {
    service_dir(dir, slot)?;
    let path = slot.file(dir, "health");
    let previous = std::fs::read_to_string(&path).ok();
    write_whole(
        &path,
        &(next_health(previous.as_deref(), ok, retries) + "\n"),
    )
}

/// What is still awaited, for the container's log: `db to be healthy (db/1: unhealthy)`.
fn awaited(dir: &Path, pending: &[&After]) -> String {
    pending
        .iter()
        .map(|a| {
            let states: Vec<String> = std::fs::read_dir(dir.join(a.service()))
                .into_iter()
                .flatten()
                .filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter_map(|n| n.strip_suffix(".started").map(str::to_string))
                .map(|n| {
                    let h =
                        std::fs::read_to_string(dir.join(a.service()).join(format!("{n}.health")))
                            .map(|h| h.trim().to_string())
                            .unwrap_or_else(|_| "started".into());
                    format!("{}/{n}: {h}", a.service())
                })
                .collect();
            let seen = if states.is_empty() {
                "not started yet".to_string()
            } else {
                states.join(", ")
            };
            format!("{} to be {} ({seen})", a.service(), a.word())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// When process `pid` started (clock ticks since boot): different for every run of a
/// container, whose PID 1 is the waiter.
fn start_time(pid: &str) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name (in parentheses, which may hold spaces): state is field 3,
    // starttime field 22.
    let (_, rest) = stat.rsplit_once(") ")?;
    rest.split_whitespace().nth(19).map(str::to_string)
}

/// The start time of the container's waiter: the process running `probe start` (PID 1, or
/// the child of the engine's `init`).
fn waiter_start_time() -> Option<String> {
    let entries = std::fs::read_dir("/proc").ok()?;
    let mut pids: Vec<u32> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    pids.into_iter().find_map(|pid| {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let mut args = cmdline.split(|b| *b == 0);
        let program = args.next()?;
        (program.ends_with(b"/probe") && args.next() == Some(b"start".as_slice()))
            .then(|| start_time(&pid.to_string()))
            .flatten()
    })
}

/// Whether stackr released this run of the container from its wait.
fn released(dir: &Path, slot: &Slot, me: Option<&str>) -> bool {
    let Some(me) = me else { return false };
    let go = slot.file(dir, "go");
    match std::fs::read_to_string(&go) {
        Ok(t) if t.trim() == me => {
            let _ = std::fs::remove_file(&go);
            true
        }
        _ => false,
    }
}

/// `--as SERVICE/N`, the only arguments of `release` and `forget`.
fn only_slot(what: &str, args: &[&str]) -> Result<Slot, String> {
    match args {
        ["--as", s] => Slot::parse(s),
        _ => Err(format!("{what}: expected --as SERVICE/N")),
    }
}

/// `probe forget`: removes what this replica recorded, before stackr removes it for good (a
/// scale-down): no dependent may take its last health for a running replica's.
pub fn forget_slot(dir: &Path, args: &[&str]) -> ExitCode {
    match only_slot("forget", args) {
        Ok(slot) => {
            forget(dir, &slot);
            println!("forgot {}/{}", slot.service, slot.number);
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("{e}");
            ExitCode::from(2)
        }
    }
}

/// `probe release`: ends the wait of the container's current run.
pub fn release(dir: &Path, args: &[&str]) -> ExitCode {
    let slot = match only_slot("release", args) {
        Ok(s) => s,
        Err(e) => {
            println!("{e}");
            return ExitCode::from(2);
        }
    };
    let Some(waiter) = waiter_start_time() else {
        // Nothing waits (any more): nothing to release.
        println!("release: no waiting process");
        return ExitCode::SUCCESS;
    };
    match service_dir(dir, &slot).and_then(|_| write_whole(&slot.file(dir, "go"), &waiter)) {
        Ok(()) => {
            println!("released {}/{}", slot.service, slot.number);
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("release: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Waits until every condition holds, stackr releases it, or a stop signal comes (then `Err`
/// with the exit code).
pub fn wait(dir: &Path, slot: &Slot, afters: &[After], stop: &AtomicBool) -> Result<(), u8> {
    let began = Instant::now();
    let mut next_notice = FIRST_NOTICE;
    let me = start_time("self");
    loop {
        let pending: Vec<&After> = afters.iter().filter(|a| !holds(dir, a)).collect();
        if pending.is_empty() {
            return Ok(());
        }
        if began.elapsed() >= GIVE_UP {
            eprintln!(
                "stackr: {}/{} starts its command after {}s without {}: it never came",
                slot.service,
                slot.number,
                GIVE_UP.as_secs(),
                awaited(dir, &pending)
            );
            return Ok(());
        }
        if released(dir, slot, me.as_deref()) {
            eprintln!(
                "stackr: {}/{} starts its command without waiting for {}, as `up --no-deps` asked",
                slot.service,
                slot.number,
                awaited(dir, &pending)
            );
            return Ok(());
        }
        if stop.load(Ordering::Relaxed) {
            eprintln!(
                "stackr: {}/{} stopped while waiting",
                slot.service, slot.number
            );
            return Err(143);
        }
        let waited = began.elapsed();
        if waited >= next_notice {
            eprintln!(
                "stackr: {}/{} waits for {} before starting its command ({}s so far)",
                slot.service,
                slot.number,
                awaited(dir, &pending),
                waited.as_secs()
            );
            next_notice = waited + NOTICE_EVERY;
        }
        std::thread::sleep(POLL);
    }
}

struct StartArgs {
    slot: Slot,
    afters: Vec<After>,
    /// The service's stop signal, when it is not one of those always handled.
    stop_signal: Option<i32>,
    argv: Vec<String>,
}

/// A signal by name (`SIGUSR1`, `USR1`) or number, when a waiting process may handle it.
fn signal_number(s: &str) -> Option<i32> {
    use signal_hook::consts as c;
    let name = s.trim_start_matches("SIG");
    let n = match name {
        "HUP" => c::SIGHUP,
        "INT" => c::SIGINT,
        "QUIT" => c::SIGQUIT,
        "USR1" => c::SIGUSR1,
        "USR2" => c::SIGUSR2,
        "TERM" => c::SIGTERM,
        "WINCH" => c::SIGWINCH,
        "PWR" => 30,
        other => other.parse().ok()?,
    };
    (!signal_hook::consts::FORBIDDEN.contains(&n)).then_some(n)
}

fn parse_start(args: &[&str]) -> Result<StartArgs, String> {
    let mut slot = None;
    let mut afters = Vec::new();
    let mut stop_signal = None;
    let mut i = 0;
    while i < args.len() {
        match (args[i], args.get(i + 1)) {
            ("--", _) => {
                let argv: Vec<String> = args[i + 1..].iter().map(|s| s.to_string()).collect();
                let slot = slot.ok_or("start: --as SERVICE/N is missing")?;
                if argv.is_empty() {
                    return Err("start: no command after --".into());
                }
                return Ok(StartArgs {
                    slot,
                    afters,
                    stop_signal,
                    argv,
                });
            }
            ("--as", Some(v)) => slot = Some(Slot::parse(v)?),
            ("--after", Some(v)) => afters.push(After::parse(v)?),
            // One this program cannot handle is left to the engine's kill after the grace.
            ("--stop-signal", Some(v)) => stop_signal = signal_number(v),
            (other, _) => return Err(format!("start: unexpected {other:?}")),
        }
        i += 2;
    }
    Err("start: no command after --".into())
}

/// `probe start`: waits, announces, becomes the command. Returns only on failure.
pub fn start(dir: &Path, args: &[&str]) -> ExitCode {
    let parsed = match parse_start(args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("stackr: {e}");
            return ExitCode::from(2);
        }
    };
    // PID 1 ignores signals it does not handle: without these, `docker stop` of a waiting
    // container would wait out its whole grace period.
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGQUIT,
    ]
    .into_iter()
    .chain(parsed.stop_signal)
    {
        let _ = signal_hook::flag::register(sig, Arc::clone(&stop));
    }
    // A command that cannot run fails now, before anyone is told it started (the engine
    // would have refused to start the container).
    if let Err(e) = runnable(&parsed.argv[0]) {
        eprintln!("stackr: cannot run {}: {e}", parsed.argv[0]);
        return ExitCode::from(127);
    }
    // Without its status volume (never so when stackr made the container) nothing can be
    // known: start at once rather than never.
    if dir.is_dir() {
        forget(dir, &parsed.slot);
        if let Err(code) = wait(dir, &parsed.slot, &parsed.afters, &stop) {
            return ExitCode::from(code);
        }
        if let Err(e) = announce(dir, &parsed.slot) {
            eprintln!(
                "stackr: cannot record the start of {}/{}: {e}",
                parsed.slot.service, parsed.slot.number
            );
        }
    }
    exec(&parsed.argv)
}

/// Whether `program` names an executable file, found on `PATH` when it has no `/`.
fn runnable(program: &str) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        return if executable(Path::new(program)) {
            Ok(())
        } else {
            Err("no such executable file".into())
        };
    }
    let path = std::env::var("PATH")
        .unwrap_or_else(|_| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    if path
        .split(':')
        .any(|d| executable(&Path::new(d).join(program)))
    {
        Ok(())
    } else {
        Err(format!("executable file not found in $PATH ({path})"))
    }
}

/// Replaces this process with `argv`; returns only when that fails (126 or 127, as a shell).
fn exec(argv: &[String]) -> ExitCode {
    use std::os::unix::process::CommandExt;
    let Some((program, rest)) = argv.split_first() else {
        return ExitCode::from(127);
    };
    let e = std::process::Command::new(program).args(rest).exec();
    eprintln!("stackr: cannot run {program}: {e}");
    if e.kind() == std::io::ErrorKind::NotFound {
        ExitCode::from(127)
    } else {
        ExitCode::from(126)
    }
}

/// `probe report`: runs the check, records its result, passes its exit code on.
pub fn report(dir: &Path, args: &[&str]) -> ExitCode {
    let (slot, retries, timeout, argv) = match parse_report(args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("stackr: {e}");
            return ExitCode::from(2);
        }
    };
    let code = check(&argv, timeout);
    if dir.is_dir()
        && let Err(e) = record(dir, &slot, code == 0, retries)
    {
        eprintln!(
            "stackr: cannot record the health of {}/{}: {e}",
            slot.service, slot.number
        );
    }
    ExitCode::from(code)
}

/// Runs a health check: its exit code (128 + the signal that ended it; 1 when it outlived
/// `timeout`, after which it is killed, as the engine counts it failed).
fn check(argv: &[String], timeout: Duration) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    let mut child = match std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            println!("cannot run the health check {}: {e}", argv[0]);
            return 1;
        }
    };
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                return match (status.code(), status.signal()) {
                    (Some(c), _) => u8::try_from(c).unwrap_or(1),
                    (None, Some(s)) => u8::try_from(128 + s).unwrap_or(1),
                    (None, None) => 1,
                };
            }
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                println!("the health check did not end within {}s", timeout.as_secs());
                return 1;
            }
        }
    }
}

fn parse_report(args: &[&str]) -> Result<(Slot, u32, Duration, Vec<String>), String> {
    let mut slot = None;
    let mut retries = 3;
    let mut timeout = Duration::from_secs(30);
    let mut i = 0;
    while i < args.len() {
        match (args[i], args.get(i + 1)) {
            ("--", _) => {
                let argv: Vec<String> = args[i + 1..].iter().map(|s| s.to_string()).collect();
                let slot = slot.ok_or("report: --as SERVICE/N is missing")?;
                if argv.is_empty() {
                    return Err("report: no check after --".into());
                }
                return Ok((slot, retries, timeout, argv));
            }
            ("--timeout", Some(v)) => {
                timeout = Duration::from_secs(
                    v.parse()
                        .map_err(|_| format!("report: bad --timeout {v:?}"))?,
                );
            }
            ("--as", Some(v)) => slot = Some(Slot::parse(v)?),
            ("--retries", Some(v)) => {
                retries = v
                    .parse()
                    .map_err(|_| format!("report: bad --retries {v:?}"))?;
            }
            (other, _) => return Err(format!("report: unexpected {other:?}")),
        }
        i += 2;
    }
    Err("report: no check after --".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(s: &str) -> Slot {
        Slot::parse(s).expect("slot")
    }

    #[test]
    fn nothing_holds_in_an_empty_status_folder() {
        let d = tempfile::tempdir().expect("tempdir");
        assert!(!holds(d.path(), &After::Started("db".into())));
        assert!(!holds(d.path(), &After::Healthy("db".into())));
    }

    #[test]
    fn a_start_holds_started_and_a_health_result_after_it_healthy() {
        let d = tempfile::tempdir().expect("tempdir");
        announce(d.path(), &slot("db/1")).expect("announce");
        assert!(holds(d.path(), &After::Started("db".into())));
        assert!(!holds(d.path(), &After::Healthy("db".into())));
        record(d.path(), &slot("db/1"), true, 3).expect("record");
        assert!(holds(d.path(), &After::Healthy("db".into())));
        assert!(!holds(d.path(), &After::Started("api".into())));
    }

    #[test]
    fn a_health_result_before_the_command_began_does_not_count() {
        // A check that passes while the container still waits (say `true`) is not the
        // service being healthy.
        let d = tempfile::tempdir().expect("tempdir");
        record(d.path(), &slot("api/1"), true, 3).expect("record");
        assert!(!holds(d.path(), &After::Healthy("api".into())));
    }

    #[test]
    fn a_restart_forgets_the_health_of_the_previous_run() {
        let d = tempfile::tempdir().expect("tempdir");
        announce(d.path(), &slot("db/1")).expect("announce");
        record(d.path(), &slot("db/1"), true, 3).expect("record");
        announce(d.path(), &slot("db/1")).expect("announce again");
        assert!(!holds(d.path(), &After::Healthy("db".into())));
    }

    #[test]
    fn one_healthy_replica_is_enough() {
        let d = tempfile::tempdir().expect("tempdir");
        announce(d.path(), &slot("api/1")).expect("announce");
        announce(d.path(), &slot("api/2")).expect("announce");
        record(d.path(), &slot("api/1"), false, 3).expect("record");
        assert!(!holds(d.path(), &After::Healthy("api".into())));
        record(d.path(), &slot("api/2"), true, 3).expect("record");
        assert!(holds(d.path(), &After::Healthy("api".into())));
    }

    #[test]
    fn healthy_turns_unhealthy_after_retries_failures_in_a_row() {
        assert_eq!(next_health(None, true, 3), "healthy");
        assert_eq!(next_health(None, false, 3), "unhealthy");
        assert_eq!(next_health(Some("healthy\n"), false, 3), "failing 1");
        assert_eq!(next_health(Some("failing 1\n"), false, 3), "failing 2");
        assert_eq!(next_health(Some("failing 2"), false, 3), "unhealthy");
        assert_eq!(next_health(Some("failing 2"), true, 3), "healthy");
        assert_eq!(next_health(Some("healthy"), false, 1), "unhealthy");
        assert_eq!(next_health(Some("garbage"), false, 3), "unhealthy");
        assert!(counts_as_healthy("failing 2\n"));
        assert!(!counts_as_healthy("unhealthy"));
        assert!(!counts_as_healthy(""));
    }

    #[test]
    fn a_wait_ends_when_the_condition_comes_true() {
        let d = tempfile::tempdir().expect("tempdir");
        let dir = d.path().to_path_buf();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            announce(&dir, &slot("db/1")).expect("announce");
            record(&dir, &slot("db/1"), true, 3).expect("record");
        });
        let stop = AtomicBool::new(false);
        let began = Instant::now();
        wait(
            d.path(),
            &slot("api/1"),
            &[After::Healthy("db".into())],
            &stop,
        )
        .expect("waited");
        assert!(began.elapsed() >= Duration::from_millis(200));
        writer.join().expect("writer");
    }

    #[test]
    fn a_release_for_this_run_ends_a_wait_and_one_for_another_run_does_not() {
        let d = tempfile::tempdir().expect("tempdir");
        let s = slot("api/1");
        let stop = AtomicBool::new(false);
        std::fs::create_dir_all(d.path().join("api")).expect("mkdir");
        // Left by an earlier run: not this process's start.
        std::fs::write(s.file(d.path(), "go"), "1").expect("write");
        let me = start_time("self").expect("own start time");
        assert!(!released(d.path(), &s, Some(&me)));
        std::fs::write(s.file(d.path(), "go"), &me).expect("write");
        assert_eq!(
            wait(d.path(), &s, &[After::Started("db".into())], &stop),
            Ok(())
        );
        assert!(!s.file(d.path(), "go").exists(), "a release counts once");
    }

    #[test]
    fn a_restarted_container_forgets_its_earlier_run_before_waiting() {
        let d = tempfile::tempdir().expect("tempdir");
        announce(d.path(), &slot("db/1")).expect("announce");
        record(d.path(), &slot("db/1"), true, 3).expect("record");
        forget(d.path(), &slot("db/1"));
        assert!(!holds(d.path(), &After::Started("db".into())));
        // An emptied record (another user's file) is no start either.
        std::fs::write(slot("db/1").file(d.path(), "started"), "").expect("write");
        assert!(!holds(d.path(), &After::Started("db".into())));
    }

    #[test]
    fn a_command_that_cannot_run_is_told_before_anything_is_recorded() {
        assert!(runnable("/bin/sh").is_ok());
        assert!(runnable("sh").is_ok());
        assert!(runnable("/no/such/program").is_err());
        assert!(runnable("no-such-program-of-stackr").is_err());
    }

    #[test]
    fn a_check_that_outlives_its_timeout_fails_and_is_ended() {
        let began = Instant::now();
        let code = check(&["sleep".into(), "5".into()], Duration::from_secs(1));
        assert_eq!(code, 1);
        assert!(began.elapsed() < Duration::from_secs(3));
        assert_eq!(
            check(
                &["sh".into(), "-c".into(), "exit 4".into()],
                Duration::from_secs(5)
            ),
            4
        );
    }

    #[test]
    fn stop_signals_are_read_by_name_or_number() {
        assert_eq!(signal_number("SIGUSR1"), Some(signal_hook::consts::SIGUSR1));
        assert_eq!(signal_number("WINCH"), Some(signal_hook::consts::SIGWINCH));
        assert_eq!(signal_number("9"), None, "KILL cannot be handled");
        assert_eq!(signal_number("SIGRTMIN+3"), None);
    }

    #[test]
    fn a_stop_signal_ends_a_wait() {
        let d = tempfile::tempdir().expect("tempdir");
        let stop = AtomicBool::new(true);
        assert_eq!(
            wait(
                d.path(),
                &slot("api/1"),
                &[After::Started("db".into())],
                &stop
            ),
            Err(143)
        );
    }

    #[test]
    fn arguments_are_checked() {
        assert!(parse_start(&["--as", "api/1", "--after", "healthy:db", "--", "run"]).is_ok());
        assert!(parse_start(&["--as", "api/1", "--"]).is_err());
        assert!(parse_start(&["--as", "api", "--", "run"]).is_err());
        assert!(parse_start(&["--as", "../x/1", "--", "run"]).is_err());
        assert!(parse_start(&["--after", "completed:db", "--as", "a/1", "--", "x"]).is_err());
        assert!(parse_report(&["--as", "db/1", "--retries", "5", "--", "pg_isready"]).is_ok());
        assert!(parse_report(&["--as", "db/1", "--retries", "x", "--", "y"]).is_err());
    }
}
