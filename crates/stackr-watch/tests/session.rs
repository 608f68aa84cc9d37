//! The watch loop on the fake engine: it catches containers up at start, syncs a changed file
//! into the running container, restarts for a `restart` rule, applies an edited stack file,
//! says when the engine goes away, and ends when asked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use stackr_engine::fake::FakeEngine;
use stackr_ops::{Context, UpOptions};
use stackr_reconcile::apply::ProbeRunner;
use stackr_reconcile::plan::PlanOptions;
use stackr_spec::{Options, Stack, load_str};
use stackr_watch::session::{self, Host, Session, Then, WatchEvent, Why};

const STACK: &str = r#"
stack "w"
service "web" {
    image "nginx:1.27"
    watch {
        sync "./site" target="/srv/site"
        restart "./conf"
    }
}
"#;

fn load(path: &Path) -> Option<Stack> {
    let text = std::fs::read_to_string(path).ok()?;
    let opts = Options {
        vars: Some(BTreeMap::new()),
        ..Options::default()
    };
    load_str(&path.to_string_lossy(), &text, &opts).stack
}

/// What the operations are given in these tests.
fn context() -> Context {
    Context {
        base: Default::default(),
        probe: ProbeRunner {
            volume: "stackr-probe-test".into(),
            image: "stackr-probe:test".into(),
            binary: b"probe",
        },
        holder: "pid 1 on test".into(),
    }
}

/// The test's host: `up` on the fake, and the stack file read again; both counted.
struct TestHost<'a> {
    engine: &'a FakeEngine,
    file: PathBuf,
    converged: Mutex<Vec<PlanOptions>>,
}

impl Host for TestHost<'_> {
    async fn converge(&self, stack: &Stack, opts: &PlanOptions) -> bool {
        if let Ok(mut c) = self.converged.lock() {
            c.push(opts.clone());
        }
        let cx = context();
        let up = UpOptions {
            plan: opts.clone(),
            lock_wait: Duration::from_millis(200),
            ..UpOptions::default()
        };
        stackr_ops::up(self.engine, stack, &cx, &up, None, &|_| {})
            .await
            .is_ok()
    }

    fn reload(&self) -> Option<Stack> {
        load(&self.file)
    }
}

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn project(tag: &str, stack: &str) -> Dir {
    let dir = std::env::temp_dir().join(format!("stackr-watch-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for sub in ["site", "conf"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap_or_else(|e| panic!("{e}"));
    }
    std::fs::write(dir.join("site/index.html"), "hello\n").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("conf/app.conf"), "a=1\n").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("stack.kdl"), stack).unwrap_or_else(|e| panic!("{e}"));
    Dir(dir)
}

type Seen = Mutex<Vec<WatchEvent>>;

/// Waits until an event matches, failing with what was seen after 10 s.
async fn wait_for(seen: &Seen, what: &str, f: impl Fn(&WatchEvent) -> bool) {
    for _ in 0..1000 {
        if seen.lock().is_ok_and(|v| v.iter().any(&f)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "no {what} event; seen: {:#?}",
        seen.lock().map(|v| v.clone())
    );
}

/// Runs a watch of `dir`'s stack while `drive` runs, then stops it; returns every event.
async fn watching<F: AsyncFnOnce(&Seen, &FakeEngine)>(
    engine: &FakeEngine,
    dir: &Path,
    drive: F,
) -> Vec<WatchEvent> {
    let file = dir.join("stack.kdl");
    let Some(stack) = load(&file) else {
        panic!("the test's stack is invalid")
    };
    let host = TestHost {
        engine,
        file: file.clone(),
        converged: Mutex::new(Vec::new()),
    };
    assert!(host.converge(&stack, &PlanOptions::default()).await);
    let seen: Seen = Mutex::new(Vec::new());
    let sink = |e: WatchEvent| {
        if let Ok(mut v) = seen.lock() {
            v.push(e);
        }
    };
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let session = Session {
        engine,
        host: &host,
        files: vec![file],
        stack,
        services: &[],
        sink: &sink,
    };
    let run = session::watch(session, stop);
    let driver = async {
        wait_for(&seen, "watching", |e| {
            matches!(e, WatchEvent::Watching { .. })
        })
        .await;
        drive(&seen, engine).await;
        let _ = stop_tx.send(true);
    };
    let (result, ()) = tokio::join!(run, driver);
    if let Err(e) = result {
        panic!("the watch did not start: {e}");
    }
    seen.into_inner().unwrap_or_default()
}

fn engine() -> FakeEngine {
    let e = FakeEngine::new();
    e.add_image("nginx:1.27");
    e
}

#[tokio::test]
async fn a_changed_file_is_synced_into_the_running_container() {
    let dir = project("sync", STACK);
    let e = engine();
    let root = dir.0.clone();
    let events = watching(&e, &dir.0, async |seen, engine| {
        engine.clear_calls();
        std::fs::write(root.join("site/index.html"), "changed\n").unwrap_or_else(|x| panic!("{x}"));
        wait_for(seen, "synced", |e| matches!(e, WatchEvent::Synced { .. })).await;
        let calls = engine.calls();
        assert!(
            calls
                .iter()
                .any(|c| c.starts_with("upload w-web-1 /srv/site")),
            "no upload into the container: {calls:?}"
        );
    })
    .await;
    let synced = events.iter().find_map(|e| match e {
        WatchEvent::Synced {
            service,
            target,
            then,
            container,
            ..
        } => Some((
            service.clone(),
            target.clone(),
            then.clone(),
            container.clone(),
        )),
        _ => None,
    });
    assert_eq!(
        synced,
        Some(("web".into(), "/srv/site".into(), Then::Nothing, None))
    );
    assert_eq!(events.last(), Some(&WatchEvent::Stopped));
}

/// An editor's save through a temporary file (written, then renamed over the file, as
/// `sed -i` does): the file is copied, and the temporary file, created and gone within the
/// batch, is not removed in the container, where it never was (that was one more engine call
/// per save). A file that was there before and is removed still is.
#[tokio::test]
async fn a_temporary_file_of_a_save_is_not_removed_in_the_container() {
    let dir = project("tempsave", STACK);
    let e = engine();
    let root = dir.0.clone();
    watching(&e, &dir.0, async |seen, engine| {
        engine.clear_calls();
        let tmp = root.join("site/.sedAbC123");
        std::fs::write(&tmp, "saved\n").unwrap_or_else(|x| panic!("{x}"));
        std::fs::rename(&tmp, root.join("site/index.html")).unwrap_or_else(|x| panic!("{x}"));
        wait_for(seen, "synced", |e| matches!(e, WatchEvent::Synced { .. })).await;
        let calls = engine.calls();
        assert!(
            calls
                .iter()
                .any(|c| c.starts_with("upload w-web-1 /srv/site")),
            "no upload: {calls:?}"
        );
        assert!(
            !calls.iter().any(|c| c.starts_with("exec")),
            "a removal was sent for the temporary file: {calls:?}"
        );
        // A file that existed before the batch and is removed is removed in the container.
        engine.clear_calls();
        std::fs::remove_file(root.join("site/index.html")).unwrap_or_else(|x| panic!("{x}"));
        for _ in 0..500 {
            if engine.calls().iter().any(|c| c.starts_with("exec")) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let calls = engine.calls();
        assert!(
            calls
                .iter()
                .any(|c| c.starts_with("exec") && c.contains("index.html")),
            "no removal of index.html: {calls:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_restart_rule_restarts_the_service_naming_the_file() {
    let dir = project("restart", STACK);
    let e = engine();
    let root = dir.0.clone();
    let events = watching(&e, &dir.0, async |seen, engine| {
        engine.clear_calls();
        std::fs::write(root.join("conf/app.conf"), "a=2\n").unwrap_or_else(|x| panic!("{x}"));
        wait_for(seen, "restarted", |e| {
            matches!(e, WatchEvent::Restarted { .. })
        })
        .await;
        let calls = engine.calls();
        assert!(calls.contains(&"stop w-web-1".to_string()), "{calls:?}");
        assert!(calls.contains(&"start w-web-1".to_string()), "{calls:?}");
    })
    .await;
    let why = events.iter().find_map(|e| match e {
        WatchEvent::Restarted { service, why, .. } if service == "web" => Some(why.clone()),
        _ => None,
    });
    assert_eq!(why, Some(Why::Changed(vec![dir.0.join("conf/app.conf")])));
}

#[tokio::test]
async fn an_edited_stack_file_is_applied_and_its_rules_watched() {
    let dir = project("reload", STACK);
    let e = engine();
    let root = dir.0.clone();
    let events = watching(&e, &dir.0, async |seen, engine| {
        let scaled = STACK.replace("image \"nginx:1.27\"", "image \"nginx:1.27\"\n    scale 2");
        std::fs::write(root.join("stack.kdl"), scaled).unwrap_or_else(|x| panic!("{x}"));
        wait_for(seen, "re-watching", |e| {
            matches!(
                e,
                WatchEvent::Watching {
                    reloaded: Some(_),
                    ..
                }
            )
        })
        .await;
        let names: Vec<String> = engine.container_states().into_keys().collect();
        assert!(names.contains(&"w-web-2".to_string()), "{names:?}");
    })
    .await;
    assert!(events.contains(&WatchEvent::StackChanged));
}

#[tokio::test]
async fn an_invalid_stack_file_changes_nothing_and_the_watch_goes_on() {
    let dir = project("invalid", STACK);
    let e = engine();
    let root = dir.0.clone();
    watching(&e, &dir.0, async |seen, engine| {
        engine.clear_calls();
        std::fs::write(root.join("stack.kdl"), "service {").unwrap_or_else(|x| panic!("{x}"));
        wait_for(seen, "invalid", |e| *e == WatchEvent::StackInvalid).await;
        // Still watching: a change is synced.
        std::fs::write(root.join("site/index.html"), "again\n").unwrap_or_else(|x| panic!("{x}"));
        wait_for(seen, "synced", |e| matches!(e, WatchEvent::Synced { .. })).await;
        let calls = engine.calls();
        assert!(
            !calls
                .iter()
                .any(|c| c.starts_with("remove") || c.starts_with("create")),
            "{calls:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn losing_the_engine_is_said_and_the_watch_goes_on() {
    let dir = project("gone", STACK);
    let e = engine();
    let root = dir.0.clone();
    let events = watching(&e, &dir.0, async |seen, engine| {
        engine.go_away();
        wait_for(seen, "engine lost", |e| {
            matches!(e, WatchEvent::EngineLost(_))
        })
        .await;
        engine.come_back();
        wait_for(seen, "engine back", |e| *e == WatchEvent::EngineBack).await;
        std::fs::write(root.join("site/index.html"), "back\n").unwrap_or_else(|x| panic!("{x}"));
        wait_for(seen, "synced", |e| matches!(e, WatchEvent::Synced { .. })).await;
    })
    .await;
    let lost = events
        .iter()
        .filter(|e| matches!(e, WatchEvent::EngineLost(_)))
        .count();
    assert_eq!(lost, 1, "said once, not once a second: {events:#?}");
    // Containers the daemon brought back are caught up again.
    let back = events.iter().position(|e| *e == WatchEvent::EngineBack);
    assert!(
        back.is_some_and(|i| events[i..]
            .iter()
            .any(|e| matches!(e, WatchEvent::CaughtUp { .. }))),
        "{events:#?}"
    );
    assert_eq!(events.last(), Some(&WatchEvent::Stopped));
}

#[tokio::test]
async fn a_change_for_a_stopped_service_is_pending_until_it_starts() {
    let dir = project("stopped", STACK);
    let e = engine();
    let root = dir.0.clone();
    watching(&e, &dir.0, async |seen, engine| {
        let sink = |_| {};
        let waves = vec![vec!["web".to_string()]];
        if let Err(x) = stackr_ops::stop(engine, "w", &waves, None, &sink).await {
            panic!("{x}");
        }
        // The watch reads its targets again on the container's `die`.
        tokio::time::sleep(Duration::from_millis(100)).await;
        std::fs::write(root.join("site/index.html"), "later\n").unwrap_or_else(|x| panic!("{x}"));
        wait_for(
            seen,
            "not running",
            |e| matches!(e, WatchEvent::NotRunning { service, .. } if service == "web"),
        )
        .await;
    })
    .await;
}

#[tokio::test]
async fn a_one_off_of_the_service_is_neither_synced_nor_restarted() {
    let dir = project("one-off", STACK);
    let e = engine();
    let root = dir.0.clone();
    watching(&e, &dir.0, async |seen, engine| {
        let run = stackr_ops::RunOptions {
            service: "web".into(),
            detach: true,
            no_deps: true,
            ..Default::default()
        };
        let Some(stack) = load(&root.join("stack.kdl")) else {
            panic!("invalid stack")
        };
        let cx = context();
        let started = stackr_ops::run(engine, &stack, &cx, &run, None, &|_| {}, &|_| {}).await;
        assert!(started.is_ok(), "{started:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
        engine.clear_calls();
        std::fs::write(root.join("site/index.html"), "x\n").unwrap_or_else(|x| panic!("{x}"));
        std::fs::write(root.join("conf/app.conf"), "a=3\n").unwrap_or_else(|x| panic!("{x}"));
        wait_for(seen, "restarted", |e| {
            matches!(e, WatchEvent::Restarted { .. })
        })
        .await;
        wait_for(seen, "synced", |e| matches!(e, WatchEvent::Synced { .. })).await;
        let calls = engine.calls();
        assert!(
            !calls.iter().any(|c| c.contains("w-web-run-1")),
            "the one-off was touched: {calls:?}"
        );
    })
    .await;
}
