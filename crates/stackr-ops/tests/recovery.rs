//! Ordered recovery through `up` on the fake engine: what the containers that come back by
//! themselves are made with, and `up --no-deps` ending the wait of what it starts alone.

use std::time::Duration;

use stackr_engine::ImageConfig;
use stackr_ops::UpOptions;
use stackr_reconcile::plan::PlanOptions;

mod common;

use common::{at, engine, load};

/// The shared context, with the probe volume the binary gives (`stackr_host::inputs`).
fn cx() -> stackr_ops::Context {
    let mut c = common::cx();
    c.base.probe_volume = Some(c.probe.volume.clone());
    c
}

const CHAIN: &str = r#"
stack "rc"
service "db" {
    image "api:1"
    restart "unless-stopped"
    health { exec "true"; }
}
service "api" {
    image "api:1"
    restart "unless-stopped"
    depends-on "db" condition="healthy"
}
"#;

async fn up_with(e: &stackr_engine::fake::FakeEngine, plan: PlanOptions) {
    let o = UpOptions {
        lock_wait: Duration::from_millis(200),
        plan,
        ..UpOptions::default()
    };
    stackr_ops::up(e, &load(CHAIN), &cx(), &o, None, &|_| {})
        .await
        .unwrap_or_else(|err| panic!("{err}"));
}

fn with_command() -> stackr_engine::fake::FakeEngine {
    let e = engine();
    e.set_image_config(
        "api:1",
        ImageConfig {
            entrypoint: None,
            cmd: Some(vec!["/app".into()]),
            health_test: None,
        },
    );
    e
}

const RELEASE: &str = "exec rc-api-1 /.stackr/probe release --as api/1";

#[tokio::test]
async fn up_makes_the_status_volume_and_down_removes_it() {
    let e = with_command();
    up_with(&e, PlanOptions::default()).await;
    let calls = e.calls();
    assert!(at(&calls, "create-volume rc-stackr-status") < at(&calls, "create rc-db-1"));
    // Started in order by `up` itself: nothing to release.
    assert!(calls.iter().all(|c| c != RELEASE), "{calls:?}");
    e.clear_calls();
    let s = load(CHAIN);
    let o = stackr_ops::DownOptions {
        lock_wait: Duration::from_millis(200),
        ..stackr_ops::DownOptions::default()
    };
    stackr_ops::down(&e, &s.name, &s.waves, &cx(), &o, &|_| {})
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert!(
        e.calls()
            .iter()
            .any(|c| c == "remove-volume rc-stackr-status"),
        "{:?}",
        e.calls()
    );
}

#[tokio::test]
async fn up_no_deps_ends_the_wait_of_what_it_starts_alone() {
    let e = with_command();
    up_with(
        &e,
        PlanOptions {
            services: vec!["api".into()],
            no_deps: true,
            ..PlanOptions::default()
        },
    )
    .await;
    let calls = e.calls();
    assert!(calls.iter().all(|c| c != "start rc-db-1"), "{calls:?}");
    assert!(at(&calls, "start rc-api-1") < at(&calls, RELEASE));
}

async fn verb(e: &stackr_engine::fake::FakeEngine, services: &[&str], v: stackr_ops::Verb) {
    let services: Vec<String> = services.iter().map(|s| s.to_string()).collect();
    let list = stackr_ops::containers(e, &load(CHAIN), &services)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let list = stackr_ops::chosen(list, &v);
    assert_eq!(stackr_ops::act(e, &list, &v, &|_| {}).await, 0);
}

#[tokio::test]
async fn start_of_a_service_whose_dependency_is_stopped_ends_its_wait() {
    let e = with_command();
    up_with(&e, PlanOptions::default()).await;
    verb(&e, &[], stackr_ops::Verb::Stop { timeout: None }).await;
    // The whole stack, in start order: the waits order it, nothing is released.
    e.clear_calls();
    verb(&e, &[], stackr_ops::Verb::Start).await;
    assert!(e.calls().iter().all(|c| c != RELEASE), "{:?}", e.calls());
    // `api` alone while `db` is stopped: started at once, as compose's `start` does.
    verb(&e, &[], stackr_ops::Verb::Stop { timeout: None }).await;
    e.clear_calls();
    verb(&e, &["api"], stackr_ops::Verb::Start).await;
    let calls = e.calls();
    assert!(
        at(&calls, "start rc-api-1") < at(&calls, RELEASE),
        "{calls:?}"
    );
}

#[tokio::test]
async fn a_replica_removed_by_a_scale_down_forgets_its_records_first() {
    let e = with_command();
    let scaled = |n: u32| {
        load(&format!(
            r#"
stack "rc"
service "api" {{
    image "api:1"
    restart "unless-stopped"
    scale {n}
}}
"#
        ))
    };
    let o = UpOptions {
        lock_wait: Duration::from_millis(200),
        ..UpOptions::default()
    };
    stackr_ops::up(&e, &scaled(2), &cx(), &o, None, &|_| {})
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    e.clear_calls();
    stackr_ops::up(&e, &scaled(1), &cx(), &o, None, &|_| {})
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let calls = e.calls();
    assert!(
        at(&calls, "exec rc-api-2 /.stackr/probe forget --as api/2") < at(&calls, "stop rc-api-2"),
        "{calls:?}"
    );
    assert!(calls.iter().all(|c| !c.contains("forget --as api/1")));
}
