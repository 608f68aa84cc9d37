//! Lifecycle hooks on the fake engine: `post-start` after each start stackr makes (a failing
//! one fails `up` naming the service, and fails a start-first update, which is rolled back),
//! `pre-stop` before each stop (a failing one is reported and the stop goes on).

use std::sync::Mutex;
use std::time::Duration;

use stackr_ops::{DownOptions, OpError, OpEvent};
use stackr_reconcile::apply::ApplyError;
use stackr_spec::Stack;

mod common;

use common::{at, cx, engine, load, up};

fn stack(hooks: &str, v: &str) -> Stack {
    let text = format!(
        r#"
stack "hk"
service "api" {{
    image "api:1"
    env V="{v}"
    health {{ exec "true"; }}
    {hooks}
}}
"#
    );
    load(&text)
}

const HOOKS: &str = r#"post-start "sh" "-c" "echo started" user="root"
    pre-stop "sh" "-c" "echo stopping" { env REASON="stop"; }"#;

#[tokio::test]
async fn post_start_runs_after_each_start_and_pre_stop_before_each_stop() {
    let e = engine();
    up(&e, &stack(HOOKS, "1"))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let calls = e.calls();
    assert!(at(&calls, "start hk-api-1") < at(&calls, "exec hk-api-1 sh -c echo started"));
    // A start-first update: the new container's post-start, the old one's pre-stop.
    e.clear_calls();
    up(&e, &stack(HOOKS, "2"))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let calls = e.calls();
    assert!(
        at(&calls, "exec hk-api-1-next sh -c echo started")
            < at(&calls, "exec hk-api-1 sh -c echo stopping")
    );
    assert!(at(&calls, "exec hk-api-1 sh -c echo stopping") < at(&calls, "stop hk-api-1"));
    // down: pre-stop first.
    e.clear_calls();
    let o = DownOptions {
        lock_wait: Duration::from_millis(200),
        ..DownOptions::default()
    };
    let s = stack(HOOKS, "2");
    stackr_ops::down(&e, &s.name, &s.waves, &cx(), &o, &|_| {})
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let calls = e.calls();
    assert!(at(&calls, "exec hk-api-1 sh -c echo stopping") < at(&calls, "stop hk-api-1"));
}

#[tokio::test]
async fn a_failing_post_start_fails_up_naming_the_service() {
    let e = engine();
    let err = up(&e, &stack(r#"post-start "false""#, "1"))
        .await
        .err()
        .unwrap_or_else(|| panic!("a failing hook fails up"));
    let text = stackr_ops::text::op_error(&err);
    assert!(
        text.contains(
            "service `api`: the post-start hook `false` of `hk-api-1` exited with code 1"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn a_new_container_whose_post_start_fails_is_an_update_failure_and_is_rolled_back() {
    let e = engine();
    up(&e, &stack("", "1"))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let err = up(&e, &stack(r#"post-start "false""#, "2")).await.err();
    let Some(OpError::Apply(ApplyError::UpdateFailed(f))) = &err else {
        panic!("{err:?}");
    };
    assert!(
        f.reason.contains("failed its post-start hook"),
        "{}",
        f.reason
    );
    assert!(
        e.spec_of("hk-api-1")
            .is_some_and(|s| s.env.contains(&"V=1".to_string())),
        "the old container runs on"
    );
    assert!(e.spec_of("hk-api-1-next").is_none());
}

#[tokio::test]
async fn a_failing_pre_stop_is_reported_and_the_stop_goes_on() {
    let e = engine();
    let s = stack(r#"pre-stop "false""#, "1");
    up(&e, &s).await.unwrap_or_else(|err| panic!("{err}"));
    let events = Mutex::new(Vec::new());
    let sink = |ev: OpEvent| {
        if let Ok(mut v) = events.lock() {
            v.push(ev);
        }
    };
    stackr_ops::stop(&e, &s.name, &s.waves, None, &sink)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let events = events.into_inner().unwrap_or_default();
    assert!(
        events.iter().any(
            |ev| matches!(ev, OpEvent::HookFailed { container, .. } if container == "hk-api-1")
        ),
        "{events:?}"
    );
    assert!(e.calls().iter().any(|c| c == "stop hk-api-1"));
}

/// A stack whose `api` has two replicas and a `pre-start` hook run once and one per replica.
fn with_pre_start(v: &str) -> Stack {
    load(&format!(
        r#"
stack "hk"
service "db" {{
    image "api:1"
    health {{ exec "true"; }}
}}
service "api" {{
    image "api:1"
    scale 2
    env V="{v}"
    depends-on "db" condition="healthy"
    health {{ exec "true"; }}
    pre-start "migrate" {{ env STEP="once"; }}
    pre-start "chown" "app" "/data" per-replica=#true user="root"
}}
"#
    ))
}

/// The names of every container on the fake engine.
async fn names(e: &stackr_engine::fake::FakeEngine) -> Vec<String> {
    stackr_engine::Engine::list_all_containers(e)
        .await
        .unwrap_or_else(|err| panic!("{err}"))
        .into_iter()
        .map(|c| c.name)
        .collect()
}

/// The fake's pre-start containers exit 0 (or `code` for the one named `failing`).
fn hook_engine(failing: Option<(&str, i64)>) -> stackr_engine::fake::FakeEngine {
    let e = engine();
    let mut exit_codes = std::collections::BTreeMap::from([
        ("hk-api-pre-start-1".to_string(), 0),
        ("hk-api-1-pre-start-2".to_string(), 0),
        ("hk-api-2-pre-start-2".to_string(), 0),
    ]);
    if let Some((name, code)) = failing {
        exit_codes.insert(name.to_string(), code);
    }
    e.set_behaviour(stackr_engine::fake::Behaviour {
        exit_codes,
        ..stackr_engine::fake::Behaviour::default()
    });
    e
}

#[tokio::test]
async fn pre_start_runs_once_before_the_service_and_per_replica_before_each_replica() {
    let e = hook_engine(None);
    up(&e, &with_pre_start("1"))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let calls = e.calls();
    // After the dependency is healthy, before any replica starts.
    assert!(at(&calls, "start hk-db-1") < at(&calls, "start hk-api-pre-start-1"));
    assert!(at(&calls, "start hk-api-pre-start-1") < at(&calls, "start hk-api-1-pre-start-2"));
    assert!(at(&calls, "start hk-api-1-pre-start-2") < at(&calls, "start hk-api-1"));
    assert!(at(&calls, "start hk-api-2-pre-start-2") < at(&calls, "start hk-api-2"));
    // Each ran once, and its container is gone.
    assert_eq!(
        calls
            .iter()
            .filter(|c| *c == "start hk-api-pre-start-1")
            .count(),
        1
    );
    assert!(at(&calls, "start hk-api-pre-start-1") < at(&calls, "remove hk-api-pre-start-1"));
    let names = names(&e).await;
    assert!(names.iter().all(|n| !n.contains("pre-start")), "{names:?}");

    // A second `up` changes nothing and runs nothing.
    e.clear_calls();
    up(&e, &with_pre_start("1"))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert!(
        e.calls().iter().all(|c| !c.contains("pre-start")),
        "{:?}",
        e.calls()
    );

    // A new spec runs them again: once before the update, per replica before each new one.
    e.clear_calls();
    up(&e, &with_pre_start("2"))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let calls = e.calls();
    assert!(at(&calls, "start hk-api-pre-start-1") < at(&calls, "start hk-api-1-pre-start-2"));
    assert!(at(&calls, "start hk-api-1-pre-start-2") < at(&calls, "start hk-api-1-next"));
    assert!(at(&calls, "start hk-api-2-pre-start-2") < at(&calls, "start hk-api-2-next"));
}

#[tokio::test]
async fn a_scale_up_beside_running_replicas_runs_only_the_new_replica_s_hook() {
    let e = hook_engine(Some(("hk-api-3-pre-start-2", 0)));
    up(&e, &with_pre_start("1"))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    e.clear_calls();
    let text = r#"
stack "hk"
service "db" {
    image "api:1"
    health { exec "true"; }
}
service "api" {
    image "api:1"
    scale 3
    env V="1"
    depends-on "db" condition="healthy"
    health { exec "true"; }
    pre-start "migrate" { env STEP="once"; }
    pre-start "chown" "app" "/data" per-replica=#true user="root"
}
"#;
    up(&e, &load(text))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let calls = e.calls();
    assert!(
        calls.iter().all(|c| c != "start hk-api-pre-start-1"),
        "{calls:?}"
    );
    assert!(at(&calls, "start hk-api-3-pre-start-2") < at(&calls, "start hk-api-3"));
}

#[tokio::test]
async fn a_failing_pre_start_fails_up_and_leaves_the_service_unstarted() {
    let e = hook_engine(Some(("hk-api-pre-start-1", 17)));
    let err = up(&e, &with_pre_start("1"))
        .await
        .err()
        .unwrap_or_else(|| panic!("a failing pre-start fails up"));
    let text = stackr_ops::text::op_error(&err);
    assert!(
        text.contains(
            "service `api`: the pre-start hook `migrate` of `hk-api-pre-start-1` exited with code 17"
        ),
        "{text}"
    );
    let calls = e.calls();
    assert!(calls.iter().all(|c| c != "start hk-api-1"), "{calls:?}");
    // Its container stays, for `docker logs`; the next run replaces it.
    assert!(names(&e).await.iter().any(|n| n == "hk-api-pre-start-1"));
    e.set_behaviour(stackr_engine::fake::Behaviour {
        exit_codes: std::collections::BTreeMap::from([
            ("hk-api-pre-start-1".to_string(), 0),
            ("hk-api-1-pre-start-2".to_string(), 0),
            ("hk-api-2-pre-start-2".to_string(), 0),
        ]),
        ..stackr_engine::fake::Behaviour::default()
    });
    up(&e, &with_pre_start("1"))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let left = names(&e).await;
    assert!(left.iter().all(|n| !n.contains("pre-start")), "{left:?}");
}

#[tokio::test]
async fn a_pre_start_image_of_its_own_is_pulled_when_missing() {
    let e = hook_engine(None);
    let text = r#"
stack "hk"
service "api" {
    image "api:1"
    pre-start "migrate" image="tools:1"
}
"#;
    // Missing: `up` pulls it (the fake, like this machine, reaches no registry).
    let err = up(&e, &load(text))
        .await
        .err()
        .unwrap_or_else(|| panic!("a missing hook image fails up"));
    let shown = stackr_ops::text::op_error(&err);
    assert!(shown.contains("tools:1"), "{shown}");
    assert!(e.calls().iter().any(|c| c == "pull tools:1"));
    assert!(e.calls().iter().all(|c| !c.starts_with("create hk-api")));
    // Present: no pull, and the hook runs from it.
    e.add_image("tools:1");
    e.clear_calls();
    up(&e, &load(text))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let calls = e.calls();
    assert!(calls.iter().all(|c| c != "pull tools:1"), "{calls:?}");
    assert!(at(&calls, "start hk-api-pre-start-1") < at(&calls, "start hk-api-1"));
}

#[tokio::test]
async fn a_failing_per_replica_pre_start_in_an_update_is_a_failed_new_container() {
    let e = hook_engine(None);
    up(&e, &with_pre_start("1"))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    e.set_behaviour(stackr_engine::fake::Behaviour {
        exit_codes: std::collections::BTreeMap::from([
            ("hk-api-pre-start-1".to_string(), 0),
            ("hk-api-1-pre-start-2".to_string(), 3),
            ("hk-api-2-pre-start-2".to_string(), 0),
        ]),
        ..stackr_engine::fake::Behaviour::default()
    });
    let err = up(&e, &with_pre_start("2"))
        .await
        .err()
        .unwrap_or_else(|| panic!("the update fails"));
    let text = stackr_ops::text::op_error(&err);
    assert!(
        text.contains("the update of service `api` failed") && text.contains("pre-start"),
        "{text}"
    );
    // Start-first: the new container went, the old ones run on.
    let left = names(&e).await;
    assert!(left.iter().all(|n| !n.ends_with("-next")), "{left:?}");
    assert!(left.iter().any(|n| n == "hk-api-1"), "{left:?}");
    assert!(e.calls().iter().all(|c| c != "start hk-api-1-next"));
}
