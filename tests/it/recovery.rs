//! Ordered recovery on a real daemon: restarted, the daemon starts every container with a
//! restart policy at once; each dependent's own command must still begin only after its
//! dependency's condition holds, with no `stackr` command run.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::daemon::{PrivateDaemon, busybox_context};

/// db (an exec check) → api (healthy) → web, all with restart `policy`. Each command writes, as it
/// begins, whether its dependency's health check had passed in this epoch (the check leaves
/// a marker named after the epoch when it passes); the test writes the epoch into the volume
/// while the daemon is down.
fn chain_with(name: &str, policy: &str) -> String {
    let loop_forever = "trap 'exit 0' TERM; while true; do sleep 0.2; done";
    format!(
        r#"stack "{name}"
volume "state"
service "db" {{
    image "{name}:img"
    build "./img"
    restart "{policy}"
    mount "state" "/state"
    command "sh" "-c" "e=$$(cat /state/epoch 2>/dev/null); echo $$e >> /state/db-starts; sleep 2; touch /state/db-ready-$$e; {loop_forever}"
    health {{
        exec "sh" "-c" "e=$$(cat /state/epoch 2>/dev/null); test -f /state/db-ready-$$e && touch /state/db-healthy-$$e"
        interval "1s"
    }}
}}
service "api" {{
    image "{name}:img"
    restart "{policy}"
    mount "state" "/state"
    depends-on "db" condition="healthy"
    command "sh" "-c" "e=$$(cat /state/epoch 2>/dev/null); if test -f /state/db-healthy-$$e; then echo $$e ok >> /state/api-starts; else echo $$e early >> /state/api-starts; fi; sleep 1; touch /state/api-ready-$$e; {loop_forever}"
    health {{
        shell "e=$$(cat /state/epoch 2>/dev/null); test -f /state/api-ready-$$e && touch /state/api-healthy-$$e"
        interval "1s"
    }}
}}
service "web" {{
    image "{name}:img"
    restart "{policy}"
    mount "state" "/state"
    depends-on "api" condition="healthy"
    command "sh" "-c" "e=$$(cat /state/epoch 2>/dev/null); if test -f /state/api-healthy-$$e; then echo $$e ok >> /state/web-starts; else echo $$e early >> /state/web-starts; fi; {loop_forever}"
}}
"#
    )
}

/// The volume's folder on the host, inside the private daemon's data root.
fn state_dir(daemon: &PrivateDaemon, stack: &str) -> PathBuf {
    daemon
        .dir
        .join("data/volumes")
        .join(format!("{stack}_state"))
        .join("_data")
}

fn lines(dir: &Path, file: &str) -> Vec<String> {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Waits until `file` has a line for `epoch`; panics with what every file says otherwise.
fn wait_for_line(dir: &Path, file: &str, epoch: u32, daemon: &PrivateDaemon, stack: &str) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if lines(dir, file)
            .iter()
            .any(|l| l.split_whitespace().next() == Some(&epoch.to_string()))
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let ps = daemon.docker(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    let mut logs = String::new();
    for service in ["db", "api", "web"] {
        let out = daemon.docker(&["logs", "--tail", "5", &format!("{stack}-{service}-1")]);
        logs.push_str(&format!(
            "{service}: {}{}\n",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    panic!(
        "after the daemon's restart {epoch}, {file} has no line for it: the stack stayed stopped\n\
         db-starts: {:?}\napi-starts: {:?}\nweb-starts: {:?}\n{}\n{logs}",
        lines(dir, "db-starts"),
        lines(dir, "api-starts"),
        lines(dir, "web-starts"),
        String::from_utf8_lossy(&ps.stdout),
    );
}

fn running(daemon: &PrivateDaemon, container: &str) -> bool {
    let out = daemon.docker(&["inspect", "-f", "{{.State.Running}}", container]);
    String::from_utf8_lossy(&out.stdout).trim() == "true"
}

/// A private daemon running the chain with `policy`, brought up by `stackr up -d`: the daemon,
/// the stack's name, its folder, and the state volume's folder on the host.
fn chain_up(tag: &str, prefix: &str, policy: &str) -> (PrivateDaemon, String, PathBuf, PathBuf) {
    let daemon = PrivateDaemon::start(tag);
    let stack = format!("{prefix}{}", std::process::id());
    let dir = daemon.dir.join("stack");
    busybox_context(&dir);
    std::fs::write(dir.join("stack.kdl"), chain_with(&stack, policy))
        .unwrap_or_else(|e| panic!("{e}"));
    let up = crate::cli::run(
        crate::cli::stackr(&dir)
            .args(["up", "-d"])
            .env("DOCKER_HOST", daemon.host()),
    );
    assert_eq!(up.code, 0, "up: {}", up.stderr);
    let state = state_dir(&daemon, &stack);
    (daemon, stack, dir, state)
}

#[test]
fn a_restarted_daemon_brings_the_stack_back_in_dependency_order() {
    let (mut daemon, stack, dir, state) = chain_up("recover", "rec", "unless-stopped");
    const RESTARTS: u32 = 5;
    for epoch in 1..=RESTARTS {
        let t = Instant::now();
        daemon.stop();
        println!("stop {epoch}: {:?}", t.elapsed());
        std::fs::write(state.join("epoch"), epoch.to_string()).unwrap_or_else(|e| panic!("{e}"));
        let t = Instant::now();
        daemon.restart();
        let restarted = t.elapsed();
        for file in ["db-starts", "api-starts", "web-starts"] {
            wait_for_line(&state, file, epoch, &daemon, &stack);
        }
        println!(
            "restart {epoch}: the daemon answered after {restarted:?}, web began after {:?}",
            t.elapsed()
        );
    }
    // The first line is the first `up` (no epoch yet), which stackr ordered itself.
    let want: Vec<String> = std::iter::once("ok".to_string())
        .chain((1..=RESTARTS).map(|e| format!("{e} ok")))
        .collect();
    for file in ["api-starts", "web-starts"] {
        assert_eq!(
            lines(&state, file),
            want,
            "{file}: after each restart, the command began once, after its dependency was \
             healthy (\"ok\", not \"early\")"
        );
    }

    // The policies keep their meaning: a container stopped by hand stays stopped
    // (`unless-stopped`) while the rest comes back.
    let web = format!("{stack}-web-1");
    let out = daemon.docker(&["stop", "-t", "2", &web]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    daemon.stop();
    let last = RESTARTS + 1;
    std::fs::write(state.join("epoch"), last.to_string()).unwrap_or_else(|e| panic!("{e}"));
    daemon.restart();
    wait_for_line(&state, "api-starts", last, &daemon, &stack);
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        !running(&daemon, &web),
        "a container stopped by hand came back"
    );
    assert!(running(&daemon, &format!("{stack}-api-1")));
    assert_eq!(
        lines(&state, "api-starts").last().map(String::as_str),
        Some(&*format!("{last} ok"))
    );

    // `up --no-deps` starts what it is asked to at once, as compose does, even when what it
    // depends on is stopped: stackr ends its wait.
    let db = format!("{stack}-db-1");
    let out = daemon.docker(&["stop", "-t", "2", &db]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alone = last + 1;
    std::fs::write(state.join("epoch"), alone.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let up = crate::cli::run(
        crate::cli::stackr(&dir)
            .args(["up", "-d", "--no-deps", "--force-recreate", "api"])
            .env("DOCKER_HOST", daemon.host()),
    );
    assert_eq!(up.code, 0, "up --no-deps: {}", up.stderr);
    wait_for_line(&state, "api-starts", alone, &daemon, &stack);
    assert_eq!(
        lines(&state, "api-starts").last().map(String::as_str),
        Some(&*format!("{alone} early")),
        "started without its (stopped) dependency"
    );
    assert!(
        !running(&daemon, &db),
        "--no-deps left the dependency alone"
    );
}

/// The daemon killed (`kill -9`, a crash) at random points of the stack's ordered start, 5
/// times: whatever was waiting, starting or checking when it died, every dependent's own
/// command still begins only after its dependency's check passed in that run, and the stack
/// comes back whole after the last start. With `always`: after a crash (not a restart), Engine
/// 20.10 stops the containers that outlived it and starts the `unless-stopped` ones no more
/// (measured here), which no wait can change.
#[test]
fn a_daemon_killed_at_random_points_still_brings_the_stack_back_in_order() {
    let (mut daemon, stack, _dir, state) = chain_up("recover-kill", "reck", "always");
    let mut rng = crate::faults::Rng::new();
    const CRASHES: u32 = 5;
    for epoch in 1..=CRASHES {
        daemon.crash();
        std::fs::write(state.join("epoch"), epoch.to_string()).unwrap_or_else(|e| panic!("{e}"));
        daemon.start_again();
        if epoch < CRASHES {
            // The next crash lands anywhere in this ordered start (it takes ~5 s).
            std::thread::sleep(Duration::from_millis(rng.below(6000)));
        }
    }
    for file in ["db-starts", "api-starts", "web-starts"] {
        wait_for_line(&state, file, CRASHES, &daemon, &stack);
    }
    for file in ["api-starts", "web-starts"] {
        let early: Vec<String> = lines(&state, file)
            .into_iter()
            .filter(|l| l.ends_with("early"))
            .collect();
        assert!(
            early.is_empty(),
            "{file}: a command began before its dependency's check passed in its run: {early:?} of {:?}",
            lines(&state, file)
        );
    }
}
