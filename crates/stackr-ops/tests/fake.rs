//! The operations on the fake engine: what `up` does is what its plan says, the lock is taken
//! only to change something, a rebuild to the same image keeps its containers, and `down`
//! leaves nothing.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use stackr_engine::Engine;
use stackr_engine::fake::{Behaviour, FakeEngine};
use stackr_ops::{Context, DownOptions, OpError, OpEvent, UpOptions};
use stackr_reconcile::apply::{ProbeRunner, Step};
use stackr_reconcile::lock::{LockError, StackLock};
use stackr_reconcile::plan::{Action, ObjectKind, PlanOptions};
use stackr_spec::{Options, Stack, load_str};

fn stack(text: &str, dir: &std::path::Path) -> Stack {
    let opts = Options {
        vars: Some(BTreeMap::new()),
        ..Options::default()
    };
    let path = dir.join("stack.kdl");
    let loaded = load_str(&path.to_string_lossy(), text, &opts);
    match loaded.stack {
        Some(s) => s,
        None => panic!(
            "{:?}",
            loaded
                .diagnostics
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
        ),
    }
}

/// A build context on disk (the plan hashes its files).
fn context_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("stackr-ops-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("img")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("img/Dockerfile"), "FROM scratch\n").unwrap_or_else(|e| panic!("{e}"));
    dir
}

const SHOP: &str = r#"
stack "shop"
service "db" {
    image "postgres:16"
    health { shell "pg_isready" }
}
service "api" {
    image "shop-api"
    build "./img"
    depends-on "db" condition="healthy"
}
service "web" {
    image "nginx:1.27"
    depends-on "api"
}
"#;

fn engine() -> FakeEngine {
    let e = FakeEngine::new();
    for img in ["postgres:16", "nginx:1.27"] {
        e.add_image(img);
    }
    e.set_behaviour(Behaviour::default());
    e
}

fn cx() -> Context {
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

fn opts() -> UpOptions {
    UpOptions {
        lock_wait: Duration::from_millis(200),
        ..UpOptions::default()
    }
}

/// A fake engine with the stack of `text` up, and the folder of its build context (the caller
/// removes it).
async fn stack_up(tag: &str, text: &str) -> (std::path::PathBuf, FakeEngine, Stack) {
    let dir = context_dir(tag);
    let e = engine();
    let s = stack(text, &dir);
    up(&e, &s, &opts())
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    (dir, e, s)
}

/// Runs `up`, returning what it reported.
async fn up(e: &FakeEngine, s: &Stack, o: &UpOptions) -> Result<Vec<OpEvent>, OpError> {
    let events = Mutex::new(Vec::new());
    let sink = |ev: OpEvent| {
        if let Ok(mut v) = events.lock() {
            v.push(ev);
        }
    };
    stackr_ops::up(e, s, &cx(), o, None, &sink).await?;
    Ok(events.into_inner().unwrap_or_default())
}

/// What `up` did to containers, as (name, action) from its steps.
fn did(events: &[OpEvent]) -> Vec<(String, &'static str)> {
    let mut out: Vec<(String, &'static str)> = Vec::new();
    for ev in events {
        let OpEvent::Step(step) = ev else { continue };
        let (name, what) = match step {
            Step::Created { name, .. } => (name, "created"),
            Step::Removed { name, .. } => (name, "removed"),
            Step::Started { name, .. } => (name, "started"),
            Step::Restarted { name, .. } => (name, "restarted"),
            Step::Renamed { to, .. } => (to, "renamed"),
            _ => continue,
        };
        let slot = name.strip_suffix("-next").unwrap_or(name);
        out.push((slot.to_string(), what));
    }
    out.sort();
    out
}

/// What a plan says to do to containers, in the same terms.
fn said(p: &stackr_reconcile::plan::Plan) -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    for i in p.items.iter().filter(|i| i.kind == ObjectKind::Container) {
        let steps: &[&'static str] = match i.action {
            Action::Create => &["created", "started"],
            Action::Recreate => &["removed", "created", "started"],
            // The new container is made as `{name}-next`, and renamed once the old one goes.
            Action::Replace => &["removed", "created", "started", "renamed"],
            Action::Rename => &["renamed"],
            Action::Start | Action::Unpause => &["started"],
            Action::Restart => &["restarted"],
            Action::Remove => &["removed"],
            Action::Keep | Action::Build => &[],
        };
        out.extend(steps.iter().map(|s| (i.name.clone(), *s)));
    }
    out.sort();
    out
}

#[tokio::test]
async fn up_does_what_plan_says_and_a_second_up_takes_no_lock() {
    let dir = context_dir("plan-eq");
    let e = engine();
    let s = stack(SHOP, &dir);
    let (before, _, _) = stackr_ops::plan(&e, &s, &cx(), &PlanOptions::default())
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let events = up(&e, &s, &opts())
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(did(&events), said(&before));
    assert!(
        e.calls().iter().any(|c| c == "create stackr-lock-shop"),
        "a changing up takes the lock"
    );
    assert!(
        !e.container_states().contains_key("stackr-lock-shop"),
        "and releases it"
    );
    e.clear_calls();
    let events = up(&e, &s, &opts())
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert!(
        events
            .iter()
            .any(|ev| matches!(ev, OpEvent::UpToDate { containers: 3, .. })),
        "{events:?}"
    );
    let calls = e.calls();
    assert!(
        calls
            .iter()
            .all(|c| !c.starts_with("create") && !c.starts_with("build")),
        "a no-op up changes nothing and takes no lock: {calls:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_rebuild_to_the_same_image_keeps_its_containers() {
    let (dir, e, s) = stack_up("same-image", SHOP).await;
    let forced = UpOptions {
        plan: PlanOptions {
            build: true,
            ..PlanOptions::default()
        },
        ..opts()
    };
    // The plan says it builds, and would recreate `api` if the image changed.
    let (p, _, _) = stackr_ops::plan(&e, &s, &cx(), &forced.plan)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert!(p.items.iter().any(|i| i.action == Action::Build), "{p:?}");
    e.clear_calls();
    let events = up(&e, &s, &forced)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert!(
        e.calls().iter().any(|c| c == "build shop-api"),
        "{:?}",
        e.calls()
    );
    // The build gave the same image: the plan made after it keeps everything.
    assert_eq!(did(&events), Vec::<(String, &str)>::new(), "{events:?}");
    let applied = events.iter().find_map(|ev| match ev {
        OpEvent::Applying { plan } => Some(plan),
        _ => None,
    });
    assert!(applied.is_some_and(|p| !p.has_changes()), "{applied:?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_run_while_another_holds_the_lock_is_refused_and_changes_nothing() {
    let dir = context_dir("busy");
    let e = engine();
    let s = stack(SHOP, &dir);
    let held = StackLock::acquire(&e, "shop", &cx().probe, "pid 9 on other", Duration::ZERO)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let r = up(&e, &s, &opts()).await;
    match r {
        Err(OpError::Lock(LockError::Busy { holder, .. })) => {
            assert_eq!(holder.as_deref(), Some("pid 9 on other"))
        }
        other => panic!("expected the lock to be busy: {other:?}"),
    }
    let states = e.container_states();
    assert_eq!(states.len(), 1, "only the lock's container: {states:?}");
    held.release(&e).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn plan_errors_stop_up_before_anything_changes() {
    let dir = context_dir("errors");
    let e = FakeEngine::new();
    let s = stack(SHOP, &dir);
    let never = UpOptions {
        pull: Some(stackr_ops::Pull::Never),
        ..opts()
    };
    let r = up(&e, &s, &never).await;
    match r {
        Err(OpError::Plan { problems, .. }) => {
            let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
            assert_eq!(
                text,
                [
                    "service `db`: image `postgres:16` is not on the engine",
                    "service `web`: image `nginx:1.27` is not on the engine"
                ]
            );
        }
        other => panic!("expected plan errors: {other:?}"),
    }
    assert!(e.container_states().is_empty());
    let _ = std::fs::remove_dir_all(dir);
}

/// Regression: a CPU limit above the engine's CPUs (the seed's `cpus=4` on a 2-CPU machine)
/// was refused by the engine at create, after the services before it had started. The plan
/// refuses it, naming the service, before anything changes; a limit the machine has is fine.
#[tokio::test]
async fn a_cpu_limit_beyond_the_engine_is_refused_before_anything_changes() {
    let dir = context_dir("cpus");
    let e = engine();
    e.set_behaviour(Behaviour {
        cpus: Some(2),
        ..Behaviour::default()
    });
    let text = SHOP.replace(
        "depends-on \"db\" condition=\"healthy\"",
        "depends-on \"db\" condition=\"healthy\"\n    limits cpus=4",
    );
    assert_ne!(text, SHOP);
    let s = stack(&text, &dir);
    match up(&e, &s, &opts()).await {
        Err(OpError::Plan { problems, .. }) => {
            let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
            assert_eq!(
                text,
                ["service `api` is limited to 4 CPUs, but the engine's machine has 2"]
            );
            assert_eq!(problems[0].code(), "cpus-beyond-engine");
            assert!(
                problems[0].help().is_some_and(|h| h.contains("at most 2")),
                "{:?}",
                problems[0].help()
            );
        }
        other => panic!("expected a plan error: {other:?}"),
    }
    assert!(e.container_states().is_empty(), "nothing was created");

    let s = stack(
        &SHOP.replace(
            "depends-on \"db\" condition=\"healthy\"",
            "depends-on \"db\" condition=\"healthy\"\n    limits cpus=1.5",
        ),
        &dir,
    );
    up(&e, &s, &opts())
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(e.container_states().len(), 3);
    let _ = std::fs::remove_dir_all(dir);
}

/// What the engine warns about while creating a container (a limit the kernel cannot keep)
/// reaches the user with the step that created it, as a line and as a JSON event.
#[tokio::test]
async fn the_engines_create_warnings_are_shown_with_the_container() {
    let dir = context_dir("warnings");
    let e = engine();
    let warning = "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.";
    e.set_behaviour(Behaviour {
        create_warnings: [("shop-db-1".to_string(), vec![warning.to_string()])].into(),
        ..Behaviour::default()
    });
    let s = stack(SHOP, &dir);
    let events = up(&e, &s, &opts())
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let created: Vec<&Step> = events
        .iter()
        .filter_map(|ev| match ev {
            OpEvent::Step(step @ Step::Created { .. }) => Some(step),
            _ => None,
        })
        .collect();
    assert_eq!(created.len(), 3);
    let lines: Vec<String> = created
        .iter()
        .filter_map(|s| stackr_reconcile::steps::line(s))
        .collect();
    assert!(
        lines.contains(&format!(
            "shop-db-1: created\nshop-db-1: warning: the engine says: {warning}"
        )),
        "{lines:#?}"
    );
    assert!(
        lines.contains(&"shop-api-1: created".to_string()),
        "{lines:#?}"
    );
    let (name, fields) = stackr_reconcile::steps::event(created[0]);
    assert_eq!(name, "container-created");
    assert_eq!(fields["warnings"], serde_json::json!([warning]));
    let _ = std::fs::remove_dir_all(dir);
}

/// A build that takes another service's image as a named context gets it as an image
/// reference and is built after it, whatever the order of the services; an engine older than
/// named contexts (API 1.42) refuses the plan, naming the version.
#[tokio::test]
async fn a_build_with_another_services_image_as_a_context_comes_after_it() {
    let dir = context_dir("contexts");
    let text = r#"
stack "ctx"
service "app" {
    image "ctx-app:1"
    build "./img" {
        additional-contexts {
            base "service:base"
            docs "https://example.com/docs.git#main"
        }
    }
}
service "base" {
    image "ctx-base:1"
    build "./img"
}
"#;
    let s = stack(text, &dir);
    let e = engine();
    match up(&e, &s, &opts()).await {
        Err(OpError::Plan { problems, .. }) => {
            let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
            assert!(
                text.iter()
                    .any(|t| t.contains("additional-contexts") && t.contains("1.42")),
                "{text:?}"
            );
        }
        other => panic!("expected a plan error: {other:?}"),
    }
    assert!(!e.calls().iter().any(|c| c.starts_with("build")));
    e.set_behaviour(Behaviour {
        api_version: Some("1.43".into()),
        ..Behaviour::default()
    });
    up(&e, &s, &opts())
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let builds: Vec<String> = e
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("build "))
        .collect();
    assert_eq!(
        builds,
        [
            "build ctx-base:1",
            "build ctx-app:1",
            "build ctx-app:1 context base=docker-image://ctx-base:1",
            "build ctx-app:1 context docs=https://example.com/docs.git#main",
        ]
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// `attach SERVICE`: an interrupt is sent on to the container as SIGINT and the container's
/// exit code is how the attach ends; without `sig_proxy` the interrupt detaches and the
/// container runs on; a stopped container cannot be attached to.
#[tokio::test]
async fn attach_service_sends_interrupts_on_or_detaches() {
    let (dir, e, s) = stack_up("attach-one", SHOP).await;
    let spec = stackr_engine::AttachSpec::default();
    let seen = Mutex::new(String::new());
    let output = |c: stackr_engine::LogChunk| {
        if let Ok(mut s) = seen.lock() {
            s.push_str(&c.text);
        }
    };
    let once =
        || futures::StreamExt::chain(futures::stream::iter([()]), futures::stream::pending());
    let ended = stackr_ops::attach_service(&e, &s, "api", 1, &spec, None, &output, once(), false)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(ended, stackr_ops::Attached::Detached);
    assert!(!e.calls().iter().any(|c| c.starts_with("kill")));
    assert_eq!(
        e.container_states().get("shop-api-1"),
        Some(&stackr_engine::ContainerState::Running)
    );
    let ended = stackr_ops::attach_service(&e, &s, "api", 1, &spec, None, &output, once(), true)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(ended, stackr_ops::Attached::Exited(137));
    assert!(e.calls().contains(&"kill shop-api-1 SIGINT".to_string()));
    assert!(
        seen.lock()
            .map(|s| s.contains("shop-api-1 started (fake)"))
            .unwrap_or(false)
    );
    match stackr_ops::attach_service(&e, &s, "api", 1, &spec, None, &output, once(), true).await {
        Err(OpError::NotRunning { container, .. }) => assert_eq!(container, "shop-api-1"),
        other => panic!("a stopped container was attached to: {other:?}"),
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn down_removes_everything_and_releases_the_lock() {
    let (dir, e, s) = stack_up("down", SHOP).await;
    let sink = |_: OpEvent| {};
    let down = DownOptions {
        remove_volumes: true,
        lock_wait: Duration::from_millis(200),
        ..DownOptions::default()
    };
    stackr_ops::down(&e, "shop", &s.waves, &cx(), &down, &sink)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert!(
        e.container_states().is_empty(),
        "{:?}",
        e.container_states()
    );
    assert!(e.list_networks("shop").await.unwrap_or_default().is_empty());
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn follow_shows_every_container_and_ends_when_they_do() {
    let (dir, e, s) = stack_up("follow", SHOP).await;
    let lines = Mutex::new(Vec::new());
    let sink = |l: stackr_ops::LogLine| {
        if let Ok(mut v) = lines.lock() {
            v.push(l.container);
        }
    };
    // Followed until the containers stop.
    let follow = stackr_ops::follow(&e, "shop", &[], None, false, &sink);
    let stop = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        stackr_ops::stop(&e, "shop", &s.waves, None, &|_| {}).await
    };
    let (followed, stopped) = tokio::join!(follow, stop);
    followed.unwrap_or_else(|err| panic!("{err}"));
    stopped.unwrap_or_else(|err| panic!("{err}"));
    let mut seen = lines.into_inner().unwrap_or_default();
    seen.sort();
    assert_eq!(seen, ["shop-api-1", "shop-db-1", "shop-web-1"]);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn follow_says_so_when_the_daemon_goes_away() {
    let (dir, e, _) = stack_up("follow-gone", SHOP).await;
    // The streams end while followed, as they do when the daemon goes: not a quiet end.
    let sink = |_: stackr_ops::LogLine| {};
    let follow = stackr_ops::follow(&e, "shop", &[], None, false, &sink);
    let away = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        e.go_away();
    };
    let (r, ()) = tokio::join!(follow, away);
    assert!(
        matches!(r, Err(stackr_engine::EngineError::Unreachable { .. })),
        "{r:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn stop_goes_dependents_first() {
    let (dir, e, s) = stack_up("stop", SHOP).await;
    let stopped = Mutex::new(Vec::new());
    let sink = |ev: OpEvent| {
        if let (OpEvent::Stopped { container }, Ok(mut v)) = (ev, stopped.lock()) {
            v.push(container);
        }
    };
    stackr_ops::stop(&e, "shop", &s.waves, None, &sink)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(
        stopped.into_inner().unwrap_or_default(),
        ["shop-web-1", "shop-api-1", "shop-db-1"]
    );
    let _ = std::fs::remove_dir_all(dir);
}

const WITH_JOB: &str = r#"
stack "att"
service "db" {
    image "postgres:16"
}
service "job" {
    image "nginx:1.27"
    depends-on "db"
}
"#;

/// Runs `attach` with these options while `drive` runs; returns how it ended and its events.
async fn attach_with<F: AsyncFnOnce(&tokio::sync::mpsc::UnboundedSender<()>)>(
    e: &FakeEngine,
    s: &Stack,
    o: &stackr_ops::AttachOptions,
    drive: F,
) -> (
    Result<stackr_ops::AttachEnd, stackr_engine::EngineError>,
    Vec<OpEvent>,
    Vec<String>,
) {
    let events = Mutex::new(Vec::new());
    let sink = |ev: OpEvent| {
        if let Ok(mut v) = events.lock() {
            v.push(ev);
        }
    };
    let lines = Mutex::new(Vec::new());
    let logs = |l: stackr_ops::LogLine| {
        if let Ok(mut v) = lines.lock() {
            v.push(l.container);
        }
    };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let attach = stackr_ops::attach(e, "att", &s.waves, o, rx, &logs, &sink);
    let driver = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        drive(&tx).await;
    };
    let (end, ()) = tokio::join!(attach, driver);
    (
        end,
        events.into_inner().unwrap_or_default(),
        lines.into_inner().unwrap_or_default(),
    )
}

#[tokio::test]
async fn attach_with_exit_code_from_stops_the_stack_with_that_exit_code() {
    let dir = context_dir("attach-exit");
    let e = engine();
    e.set_behaviour(Behaviour {
        exit_codes: BTreeMap::from([("job".to_string(), 3)]),
        ..Behaviour::default()
    });
    let s = stack(WITH_JOB, &dir);
    up(&e, &s, &opts())
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let o = stackr_ops::AttachOptions {
        abort: Some(stackr_ops::Abort::ExitOf("job".into())),
        ..Default::default()
    };
    let (end, events, lines) = attach_with(&e, &s, &o, async |_| {}).await;
    assert_eq!(
        end.ok(),
        Some(stackr_ops::AttachEnd::Exited {
            container: "att-job-1".into(),
            code: 3
        })
    );
    assert_eq!(end_code(&e, &s, &o).await, 3);
    assert!(events.contains(&OpEvent::Stopped {
        container: "att-db-1".into()
    }));
    assert!(lines.contains(&"att-db-1".to_string()), "{lines:?}");
    assert_eq!(
        e.container_states().get("att-db-1"),
        Some(&stackr_engine::ContainerState::Exited)
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// The exit code an attached `up` gives when run again on a stack that already ended.
async fn end_code(e: &FakeEngine, s: &Stack, o: &stackr_ops::AttachOptions) -> i32 {
    let (end, _, _) = attach_with(e, s, o, async |_| {}).await;
    end.map_or(-1, |end| end.code())
}

#[tokio::test]
async fn attach_with_abort_on_exit_stops_when_any_container_exits() {
    let (dir, e, s) = stack_up("attach-any", WITH_JOB).await;
    let o = stackr_ops::AttachOptions {
        abort: Some(stackr_ops::Abort::AnyExit),
        ..Default::default()
    };
    let (end, events, _) = attach_with(&e, &s, &o, async |_| {
        // db ends on its own: the stack stops, job included.
        if let Some((_, id)) = e
            .list_containers("att")
            .await
            .unwrap_or_default()
            .iter()
            .map(|c| (c.name.clone(), c.id.clone()))
            .find(|(n, _)| n == "att-db-1")
        {
            let _ = e.kill_container(&id, "SIGTERM").await;
        }
    })
    .await;
    assert!(
        matches!(&end, Ok(stackr_ops::AttachEnd::Exited { container, .. }) if container == "att-db-1"),
        "{end:?}"
    );
    assert!(events.contains(&OpEvent::Stopped {
        container: "att-job-1".into()
    }));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn attach_ctrl_c_stops_dependents_first_and_twice_kills() {
    let (dir, e, s) = stack_up("attach-ctrl-c", WITH_JOB).await;
    let o = stackr_ops::AttachOptions::default();
    let (end, events, _) = attach_with(&e, &s, &o, async |tx| {
        let _ = tx.send(());
    })
    .await;
    assert_eq!(end.ok(), Some(stackr_ops::AttachEnd::Stopped));
    assert_eq!(
        events,
        [
            OpEvent::StackStopping {
                because: None,
                code: None
            },
            OpEvent::Stopped {
                container: "att-job-1".into()
            },
            OpEvent::Stopped {
                container: "att-db-1".into()
            },
        ]
    );
    // Twice, while a container takes its time to stop: killed.
    e.set_behaviour(Behaviour {
        slow_stop: BTreeMap::from([("att-job-1".to_string(), Duration::from_secs(30))]),
        ..Behaviour::default()
    });
    up(&e, &s, &opts())
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    e.clear_calls();
    let (end, events, _) = attach_with(&e, &s, &o, async |tx| {
        let _ = tx.send(());
        tokio::time::sleep(Duration::from_millis(50)).await;
        let _ = tx.send(());
    })
    .await;
    assert_eq!(end.ok(), Some(stackr_ops::AttachEnd::Killed));
    assert!(events.contains(&OpEvent::Killing), "{events:?}");
    let calls = e.calls();
    assert!(
        calls.iter().any(|c| c.starts_with("kill att-job-1")),
        "{calls:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn attach_says_so_when_the_daemon_goes_away() {
    let (dir, e, s) = stack_up("attach-gone", WITH_JOB).await;
    let o = stackr_ops::AttachOptions::default();
    let (end, _, _) = attach_with(&e, &s, &o, async |_| e.go_away()).await;
    assert!(
        matches!(end, Err(stackr_engine::EngineError::Unreachable { .. })),
        "never a quiet end: {end:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

const RUNS: &str = r#"
stack "r"
service "db" {
    image "postgres:16"
    health { shell "pg_isready" }
}
service "job" {
    image "nginx:1.27"
    command "serve"
    env { MODE "server"; KEEP "yes"; }
    port "8080:80"
    restart "always"
    health { shell "true" }
    depends-on "db" condition="healthy"
}
"#;

async fn run_one(
    e: &FakeEngine,
    s: &Stack,
    o: &stackr_ops::RunOptions,
) -> (Result<stackr_ops::RunEnd, OpError>, String) {
    let out = Mutex::new(String::new());
    let output = |c: stackr_engine::LogChunk| {
        if let Ok(mut o) = out.lock() {
            o.push_str(&c.text);
        }
    };
    let r = stackr_ops::run(e, s, &cx(), o, None, &output, &|_| {}).await;
    (r, out.into_inner().unwrap_or_default())
}

fn run_opts(o: stackr_ops::RunOptions) -> stackr_ops::RunOptions {
    stackr_ops::RunOptions {
        service: "job".into(),
        up: opts(),
        ..o
    }
}

#[tokio::test]
async fn run_brings_up_its_dependencies_and_gives_the_one_off_its_own_settings() {
    let dir = context_dir("run");
    let e = engine();
    e.set_behaviour(Behaviour {
        exit_codes: BTreeMap::from([("job".to_string(), 4)]),
        ..Behaviour::default()
    });
    let s = stack(RUNS, &dir);
    let o = run_opts(stackr_ops::RunOptions {
        one_off: stackr_reconcile::desired::OneOff {
            command: Some(vec!["migrate".into()]),
            env: vec!["MODE=once".into()],
            ..Default::default()
        },
        ..Default::default()
    });
    let (end, output) = run_one(&e, &s, &o).await;
    assert_eq!(
        end.ok(),
        Some(stackr_ops::RunEnd::Exited {
            name: "r-job-run-1".into(),
            code: Some(4)
        })
    );
    assert!(output.contains("r-job-run-1 started"), "{output:?}");
    let states = e.container_states();
    assert_eq!(
        states.get("r-db-1"),
        Some(&stackr_engine::ContainerState::Running),
        "the dependency is up"
    );
    assert!(!states.contains_key("r-job-1"), "not the service itself");
    let Some(spec) = e.spec_of("r-job-run-1") else {
        panic!("no one-off: {states:?}")
    };
    assert_eq!(spec.command, Some(vec!["migrate".to_string()]));
    assert!(
        spec.env.contains(&"MODE=once".to_string()),
        "{:?}",
        spec.env
    );
    assert!(
        !spec.env.contains(&"MODE=server".to_string()),
        "{:?}",
        spec.env
    );
    assert!(spec.env.contains(&"KEEP=yes".to_string()), "{:?}", spec.env);
    assert!(
        spec.ports.is_empty(),
        "no published ports: {:?}",
        spec.ports
    );
    assert_eq!(spec.restart, "no");
    assert_eq!(spec.health, None);
    assert_eq!(
        spec.labels
            .get(stackr_engine::LABEL_HELPER)
            .map(String::as_str),
        Some("run")
    );
    assert!(!spec.labels.contains_key(stackr_engine::LABEL_NUMBER));
    // Not a slot of the service: `up` leaves it alone and plans nothing for it.
    let p = stackr_ops::plan(&e, &s, &cx(), &PlanOptions::default()).await;
    let Ok((p, _, _)) = p else {
        panic!("plan failed")
    };
    let json = serde_json::to_string(&p).unwrap_or_default();
    assert!(!json.contains("r-job-run-1"), "{json}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn run_numbers_one_offs_and_removes_with_rm() {
    let dir = context_dir("run-rm");
    let e = engine();
    let s = stack(RUNS, &dir);
    let detached = run_opts(stackr_ops::RunOptions {
        detach: true,
        no_deps: true,
        ..Default::default()
    });
    let (first, _) = run_one(&e, &s, &detached).await;
    assert_eq!(
        first.ok(),
        Some(stackr_ops::RunEnd::Detached {
            name: "r-job-run-1".into()
        })
    );
    assert!(
        !e.container_states().contains_key("r-db-1"),
        "--no-deps starts no dependency"
    );
    e.set_behaviour(Behaviour {
        exit_codes: BTreeMap::from([("job".to_string(), 0)]),
        ..Behaviour::default()
    });
    let removed = run_opts(stackr_ops::RunOptions {
        remove: true,
        no_deps: true,
        ..Default::default()
    });
    let (second, _) = run_one(&e, &s, &removed).await;
    assert_eq!(
        second.ok(),
        Some(stackr_ops::RunEnd::Exited {
            name: "r-job-run-2".into(),
            code: Some(0)
        })
    );
    let states = e.container_states();
    assert!(states.contains_key("r-job-run-1"), "{states:?}");
    assert!(!states.contains_key("r-job-run-2"), "--rm: {states:?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn run_of_an_unknown_service_changes_nothing() {
    let dir = context_dir("run-unknown");
    let e = engine();
    let s = stack(RUNS, &dir);
    let o = stackr_ops::RunOptions {
        service: "jbo".into(),
        ..run_opts(Default::default())
    };
    let (end, _) = run_one(&e, &s, &o).await;
    assert!(
        matches!(&end, Err(OpError::UnknownService { service, .. }) if service == "jbo"),
        "{end:?}"
    );
    assert!(e.container_states().is_empty());
    let _ = std::fs::remove_dir_all(dir);
}

/// Acts with a verb on the chosen services; returns (container, what became of it).
async fn act_on(
    e: &FakeEngine,
    s: &Stack,
    services: &[&str],
    verb: stackr_ops::Verb,
) -> (Vec<(String, stackr_ops::Did)>, usize) {
    let services: Vec<String> = services.iter().map(|x| x.to_string()).collect();
    let list = stackr_ops::containers(e, s, &services)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let did = Mutex::new(Vec::new());
    let sink = |ev: OpEvent| {
        if let (OpEvent::Container { name, did: d, .. }, Ok(mut v)) = (ev, did.lock()) {
            v.push((name, d));
        }
    };
    let failed = stackr_ops::act(e, &stackr_ops::chosen(list, &verb), &verb, &sink).await;
    (did.into_inner().unwrap_or_default(), failed)
}

#[tokio::test]
async fn stop_start_restart_kill_and_rm_act_in_dependency_order() {
    use stackr_ops::{Did, Verb};
    let (dir, e, s) = stack_up("verbs", SHOP).await;
    let names = |v: &[(String, Did)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    let (did, failed) = act_on(&e, &s, &[], Verb::Stop { timeout: None }).await;
    assert_eq!(failed, 0);
    assert_eq!(names(&did), ["shop-web-1", "shop-api-1", "shop-db-1"]);
    assert!(did.iter().all(|(_, d)| *d == Did::Stopped));
    let (did, _) = act_on(&e, &s, &[], Verb::Start).await;
    assert_eq!(names(&did), ["shop-db-1", "shop-api-1", "shop-web-1"]);
    // Only what is not running starts; only what runs is killed.
    let (did, _) = act_on(&e, &s, &[], Verb::Start).await;
    assert!(did.is_empty(), "{did:?}");
    let (did, _) = act_on(&e, &s, &["api"], Verb::Restart { timeout: None }).await;
    assert_eq!(did, [("shop-api-1".to_string(), Did::Restarted)]);
    let kill = Verb::Kill {
        signal: "SIGHUP".into(),
    };
    e.clear_calls();
    let (did, _) = act_on(&e, &s, &["web"], kill).await;
    assert_eq!(did, [("shop-web-1".to_string(), Did::Killed)]);
    assert!(e.calls().contains(&"kill shop-web-1 SIGHUP".to_string()));
    // rm keeps what runs unless asked to stop it; removes the rest, dependents first.
    let (did, _) = act_on(&e, &s, &[], Verb::Remove { stop: false }).await;
    assert_eq!(
        did,
        [
            ("shop-web-1".to_string(), Did::Removed),
            ("shop-api-1".to_string(), Did::KeptRunning),
            ("shop-db-1".to_string(), Did::KeptRunning),
        ],
        "web was killed, so it is not running"
    );
    let (did, _) = act_on(&e, &s, &[], Verb::Remove { stop: true }).await;
    assert_eq!(names(&did), ["shop-api-1", "shop-db-1"]);
    assert!(e.container_states().keys().all(|n| !n.starts_with("shop-")));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_verb_goes_on_past_a_failing_container_and_counts_it() {
    use stackr_ops::{Did, Verb};
    let (dir, e, s) = stack_up("verbs-fail", SHOP).await;
    let list = stackr_ops::containers(&e, &s, &[])
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    // api's container is gone behind stackr's back: its stop fails, the others go on.
    if let Some(api) = list.iter().find(|c| c.name == "shop-api-1") {
        let _ = e.remove_container(&api.id).await;
    }
    let verb = Verb::Stop { timeout: None };
    let did = Mutex::new(Vec::new());
    let sink = |ev: OpEvent| {
        if let (OpEvent::Container { name, did: d, .. }, Ok(mut v)) = (ev, did.lock()) {
            v.push((name, d));
        }
    };
    let failed = stackr_ops::act(&e, &stackr_ops::chosen(list, &verb), &verb, &sink).await;
    assert_eq!(failed, 1);
    let did = did.into_inner().unwrap_or_default();
    assert!(
        matches!(&did[1], (n, Did::Failed(_)) if n == "shop-api-1"),
        "{did:?}"
    );
    assert_eq!(did[2], ("shop-db-1".to_string(), Did::Stopped));
    // An unknown service is refused before anything is done.
    let r = stackr_ops::containers(&e, &s, &["wbe".to_string()]).await;
    assert!(matches!(r, Err(OpError::UnknownService { .. })), "{r:?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn ps_lists_running_containers_unless_all_with_exit_codes() {
    let dir = context_dir("ps");
    let e = engine();
    e.set_behaviour(Behaviour {
        exit_codes: BTreeMap::from([("job".to_string(), 5)]),
        ..Behaviour::default()
    });
    let s = stack(WITH_JOB, &dir);
    up(&e, &s, &opts())
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let running = stackr_ops::ps(&e, "att", false)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let names: Vec<&str> = running.iter().map(|r| r.container.as_str()).collect();
    assert_eq!(names, ["att-db-1"]);
    let all = stackr_ops::ps(&e, "att", true)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let job = all.iter().find(|r| r.service == "job");
    assert_eq!(
        job.map(|r| (r.state.as_str(), r.exit_code)),
        Some(("exited", Some(5)))
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn events_are_followed_for_the_chosen_services_until_the_daemon_goes() {
    let (dir, e, s) = stack_up("events", SHOP).await;
    let seen = Mutex::new(Vec::new());
    let sink = |ev: stackr_engine::Event| {
        if let Ok(mut v) = seen.lock() {
            v.push(ev.container_name);
        }
    };
    let web = ["web".to_string()];
    let follow = stackr_ops::follow_events(&e, "shop", &web, &sink);
    let drive = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let waves = s.waves.clone();
        let _ = stackr_ops::stop(&e, "shop", &waves, None, &|_| {}).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        e.go_away();
    };
    let (r, ()) = tokio::join!(follow, drive);
    assert!(
        matches!(r, Err(stackr_engine::EngineError::Unreachable { .. })),
        "{r:?}"
    );
    let seen = seen.into_inner().unwrap_or_default();
    assert!(!seen.is_empty(), "web's die was seen");
    assert!(seen.iter().all(|n| n == "shop-web-1"), "{seen:?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_cancel_ends_the_wait_of_up_wait_at_once() {
    let dir = context_dir("wait-cancel");
    let e = engine();
    e.set_behaviour(Behaviour {
        health_pending: ["db".to_string()].into(),
        ..Behaviour::default()
    });
    let s = stack(SHOP, &dir);
    let only_db = PlanOptions {
        services: vec!["db".into()],
        ..PlanOptions::default()
    };
    // Up first, so that the `up --wait` below has nothing to apply: the cancel lands in the wait.
    let first = UpOptions {
        plan: only_db.clone(),
        ..opts()
    };
    up(&e, &s, &first)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let o = UpOptions {
        plan: only_db,
        wait: Some(Duration::from_secs(60)),
        ..opts()
    };
    let (cancel, cancelled) = tokio::sync::watch::channel(false);
    let started = std::time::Instant::now();
    let context = cx();
    let up = stackr_ops::up(&e, &s, &context, &o, Some(cancelled), &|_| {});
    let interrupt = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let _ = cancel.send(true);
    };
    let (r, ()) = tokio::join!(up, interrupt);
    assert!(matches!(r, Err(OpError::Interrupted)), "{r:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn an_old_one_off_that_exited_does_not_end_an_attached_up() {
    let (dir, e, s) = stack_up("attach-one-off", WITH_JOB).await;
    // A `stackr run` of job that exited with 7.
    e.set_behaviour(Behaviour {
        exit_codes: BTreeMap::from([("job".to_string(), 7)]),
        ..Behaviour::default()
    });
    let run = stackr_ops::RunOptions {
        service: "job".into(),
        no_deps: true,
        up: opts(),
        ..Default::default()
    };
    let ran = stackr_ops::run(&e, &s, &cx(), &run, None, &|_| {}, &|_| {}).await;
    assert!(
        matches!(ran, Ok(stackr_ops::RunEnd::Exited { code: Some(7), .. })),
        "{ran:?}"
    );
    let o = stackr_ops::AttachOptions {
        abort: Some(stackr_ops::Abort::AnyExit),
        ..Default::default()
    };
    let (end, _, _) = attach_with(&e, &s, &o, async |tx| {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let _ = tx.send(());
    })
    .await;
    assert_eq!(
        end.ok(),
        Some(stackr_ops::AttachEnd::Stopped),
        "ended by Ctrl-C, not by the one-off"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_cancel_stops_a_running_one_off_and_rm_removes_it() {
    let dir = context_dir("run-cancel");
    let e = engine();
    let s = stack(RUNS, &dir);
    let o = run_opts(stackr_ops::RunOptions {
        no_deps: true,
        remove: true,
        ..Default::default()
    });
    let (cancel, cancelled) = tokio::sync::watch::channel(false);
    let context = cx();
    let run = stackr_ops::run(&e, &s, &context, &o, Some(cancelled), &|_| {}, &|_| {});
    let interrupt = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let _ = cancel.send(true);
    };
    let (r, ()) = tokio::join!(run, interrupt);
    assert!(matches!(r, Err(OpError::Interrupted)), "{r:?}");
    assert!(
        !e.container_states().contains_key("r-job-run-1"),
        "{:?}",
        e.container_states()
    );
    assert!(
        e.calls().contains(&"stop r-job-run-1".to_string()),
        "stopped, with its grace"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn follow_follows_a_container_that_starts_again() {
    let (dir, e, s) = stack_up("follow-restart", SHOP).await;
    let lines = Mutex::new(Vec::new());
    let sink = |l: stackr_ops::LogLine| {
        if let Ok(mut v) = lines.lock() {
            v.push(l.container);
        }
    };
    let follow = stackr_ops::follow(&e, "shop", &[], None, false, &sink);
    let drive = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let list = e.list_containers("shop").await.unwrap_or_default();
        if let Some(api) = list.iter().find(|c| c.name == "shop-api-1") {
            let _ = e.stop_container(&api.id, None).await;
            let _ = e.start_container(&api.id).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        stackr_ops::stop(&e, "shop", &s.waves, None, &|_| {}).await
    };
    let (followed, stopped) = tokio::join!(follow, drive);
    followed.unwrap_or_else(|err| panic!("{err}"));
    stopped.unwrap_or_else(|err| panic!("{err}"));
    let seen = lines.into_inner().unwrap_or_default();
    let api = seen.iter().filter(|n| *n == "shop-api-1").count();
    assert_eq!(api, 2, "its output before and after the restart: {seen:?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn up_and_down_start_their_lock_so_that_a_dead_holder_releases_it() {
    let dir = context_dir("lock-start");
    let e = engine();
    let s = stack(SHOP, &dir);
    e.clear_calls();
    up(&e, &s, &opts())
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let down_opts = DownOptions {
        lock_wait: Duration::from_millis(200),
        ..DownOptions::default()
    };
    stackr_ops::down(&e, "shop", &s.waves, &cx(), &down_opts, &|_| {})
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let calls = e.calls();
    let lock_calls: Vec<&String> = calls
        .iter()
        .filter(|c| c.ends_with("stackr-lock-shop"))
        .collect();
    assert_eq!(
        lock_calls,
        // Each released by removing it: a lock is not removed by the engine when its holder
        // goes, so that a killed holder's lock is seen (and waited out) by the next run.
        [
            "create stackr-lock-shop",
            "start stackr-lock-shop",
            "remove stackr-lock-shop",
            "create stackr-lock-shop",
            "start stackr-lock-shop",
            "remove stackr-lock-shop",
        ],
        "{calls:?}"
    );
    // Released: its container went with its connection.
    assert!(!e.container_states().contains_key("stackr-lock-shop"));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn up_pulls_what_is_missing_and_only_that() {
    let dir = context_dir("pull");
    let e = engine();
    let s = stack(SHOP, &dir);
    e.clear_calls();
    up(&e, &s, &opts())
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert!(
        !e.calls().iter().any(|c| c.starts_with("pull")),
        "present images are not pulled: {:?}",
        e.calls()
    );
    // Missing: pulled (the fake's registry has nothing), and nothing else happens.
    let ghost = stack(&SHOP.replace("nginx:1.27", "ghost:1"), &dir);
    e.clear_calls();
    let r = up(&e, &ghost, &opts()).await;
    assert!(
        matches!(&r, Err(OpError::Pull { image, service, .. }) if image == "ghost:1" && service == "web"),
        "{r:?}"
    );
    assert!(
        !e.calls()
            .iter()
            .any(|c| c.starts_with("create") || c.starts_with("remove")),
        "{:?}",
        e.calls()
    );
    // `--pull always`: pulled even when present.
    let always = UpOptions {
        pull: Some(stackr_ops::Pull::Always),
        ..opts()
    };
    e.clear_calls();
    let r = up(&e, &s, &always).await;
    assert!(matches!(r, Err(OpError::Pull { .. })), "{r:?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn top_exec_and_cp_find_the_container_or_say_why_not() {
    let (dir, e, s) = stack_up("exec-cp-top", SHOP).await;
    let top = stackr_ops::top(&e, &s, &["api".to_string()])
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(
        top.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["shop-api-1"]
    );
    let c = stackr_ops::running(&e, &s, "web", 1)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(c.name, "shop-web-1");
    let (from, tar) = stackr_ops::copy_from(&e, &s, "web", 1, "/etc/motd")
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(from, "shop-web-1");
    assert!(!tar.is_empty());
    let into = stackr_ops::copy_into(&e, &s, "db", 1, "/tmp", tar)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(into, "shop-db-1");
    assert!(
        e.calls()
            .iter()
            .any(|c| c.starts_with("upload shop-db-1 /tmp"))
    );
    // No container 2; a stopped one is not running.
    let r = stackr_ops::running(&e, &s, "web", 2).await;
    assert!(
        matches!(r, Err(OpError::NoContainer { index: 2, .. })),
        "{r:?}"
    );
    stackr_ops::stop(&e, "shop", &s.waves, None, &|_| {})
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let r = stackr_ops::running(&e, &s, "web", 1).await;
    assert!(matches!(r, Err(OpError::NotRunning { .. })), "{r:?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn pause_goes_dependents_first_and_up_thaws_what_is_paused() {
    use stackr_ops::{Did, Verb};
    let (dir, e, s) = stack_up("pause", SHOP).await;
    let (acted, failed) = act_on(&e, &s, &["api", "web"], Verb::Pause).await;
    assert_eq!(failed, 0);
    assert_eq!(
        acted,
        [
            ("shop-web-1".to_string(), Did::Paused),
            ("shop-api-1".to_string(), Did::Paused),
        ]
    );
    // Pausing again has nothing to act on; unpause only thaws what is paused.
    let (acted, _) = act_on(&e, &s, &[], Verb::Pause).await;
    assert_eq!(acted, [("shop-db-1".to_string(), Did::Paused)]);
    let (acted, _) = act_on(&e, &s, &["db"], Verb::Unpause).await;
    assert_eq!(acted, [("shop-db-1".to_string(), Did::Unpaused)]);
    // The plan thaws the paused ones, and `up` does what it says; then nothing is left.
    let (p, _, _) = stackr_ops::plan(&e, &s, &cx(), &PlanOptions::default())
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let text = stackr_reconcile::plan::render_text(&p);
    assert_eq!(p.count(Action::Unpause), 2, "{text}");
    assert!(text.contains("2 to unpause"), "{text}");
    let events = up(&e, &s, &opts())
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(did(&events), said(&p));
    assert!(e.calls().iter().any(|c| c == "unpause shop-api-1"));
    assert!(
        e.container_states()
            .values()
            .all(|st| *st == stackr_engine::ContainerState::Running)
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn up_no_start_creates_without_starting_and_a_later_up_starts() {
    let dir = context_dir("no-start");
    let e = engine();
    let s = stack(SHOP, &dir);
    let o = UpOptions {
        plan: PlanOptions {
            no_start: true,
            ..PlanOptions::default()
        },
        ..opts()
    };
    let (p, _, _) = stackr_ops::plan(&e, &s, &cx(), &o.plan)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert!(p.no_start);
    assert!(stackr_reconcile::plan::render_text(&p).contains("not started"));
    up(&e, &s, &o).await.unwrap_or_else(|err| panic!("{err}"));
    let states = e.container_states();
    assert_eq!(states.len(), 3, "{states:?}");
    assert!(
        states
            .values()
            .all(|st| *st == stackr_engine::ContainerState::Created),
        "{states:?}"
    );
    // Again with --no-start: nothing to do; a plain up starts them, in order.
    let (p, _, _) = stackr_ops::plan(&e, &s, &cx(), &o.plan)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert!(
        !p.has_changes(),
        "{}",
        stackr_reconcile::plan::render_text(&p)
    );
    let events = up(&e, &s, &opts())
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(
        did(&events),
        [
            ("shop-api-1".to_string(), "started"),
            ("shop-db-1".to_string(), "started"),
            ("shop-web-1".to_string(), "started"),
        ]
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Regression: an `up` with nothing to do skipped the lock, so right after a run was killed
/// while stopping a container, it planned "up to date" while that stop was still under way on
/// the engine, and the container stopped after it (the kill trials on the daemon found it).
/// A lock whose holder is gone now sends the `up` through the lock, which waits it out.
#[tokio::test]
async fn a_no_op_up_after_a_killed_run_waits_out_its_lock() {
    let (dir, e, s) = stack_up("dead-lock", SHOP).await;
    // What a killed run leaves: its lock container, no longer running.
    let spec = stackr_engine::ContainerSpec {
        name: stackr_reconcile::lock::lock_name("shop"),
        image: "stackr-probe:test".into(),
        ..Default::default()
    };
    e.create_container(&spec)
        .await
        .map(|c| c.id)
        .unwrap_or_else(|err| panic!("{err}"));
    e.clear_calls();
    let events = up(&e, &s, &opts())
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert!(
        !events
            .iter()
            .any(|ev| matches!(ev, OpEvent::UpToDate { .. })),
        "{events:?}"
    );
    let calls = e.calls();
    assert!(
        calls.iter().any(|c| c == "remove stackr-lock-shop"),
        "the stale lock is waited out and removed: {calls:?}"
    );
    assert!(!e.container_states().contains_key("stackr-lock-shop"));
    // Without a lock left behind, a no-op up takes none.
    e.clear_calls();
    up(&e, &s, &opts())
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert!(!e.calls().iter().any(|c| c.contains("stackr-lock-shop")));
    let _ = std::fs::remove_dir_all(dir);
}

/// `push`: the built services named (and, with `--include-deps`, what they depend on), each
/// image and its build's tags; a service without a build is left alone.
#[tokio::test]
async fn push_pushes_built_images_and_their_tags_with_the_dependencies_asked_for() {
    let dir = context_dir("push");
    let s = stack(
        r#"
stack "p"
service "db" {
    image "reg:5000/db:1"
    build "./img"
}
service "cache" {
    image "redis:7"
}
service "api" {
    image "reg:5000/api:1"
    build "./img" {
        tags "reg:5000/api:latest"
    }
    depends-on "db" "cache"
}
"#,
        &dir,
    );
    let api = vec!["api".to_string()];
    assert_eq!(
        stackr_ops::push_list(&s, &api, false),
        vec![
            ("api".to_string(), "reg:5000/api:1".to_string()),
            ("api".to_string(), "reg:5000/api:latest".to_string())
        ]
    );
    let with_deps: Vec<String> = stackr_ops::push_list(&s, &api, true)
        .into_iter()
        .map(|(_, i)| i)
        .collect();
    assert_eq!(
        with_deps,
        vec!["reg:5000/api:1", "reg:5000/api:latest", "reg:5000/db:1"]
    );
    // Pushing an image that was never built fails, naming the service; with
    // `ignore_failures` the failure is counted and the others go on.
    let engine = FakeEngine::new();
    let events = Mutex::new(Vec::new());
    let sink = |e: OpEvent| events.lock().unwrap_or_else(|p| p.into_inner()).push(e);
    let r = stackr_ops::push(&engine, &s, &api, false, false, &sink).await;
    assert!(
        matches!(&r, Err(OpError::Push { service, .. }) if service == "api"),
        "{r:?}"
    );
    let failed = stackr_ops::push(&engine, &s, &[], false, true, &sink).await;
    assert!(matches!(failed, Ok(3)), "{failed:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
