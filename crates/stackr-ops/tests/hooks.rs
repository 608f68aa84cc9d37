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
