//! Rolling updates on the fake engine: start-first keeps the old container until the new one
//! is healthy, batches follow `parallelism`, a failure rolls back, and an interrupted update
//! is finished by the next `up`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use stackr_engine::Engine;
use stackr_engine::fake::{Behaviour, FakeEngine};
use stackr_ops::{OpError, OpEvent};
use stackr_reconcile::apply::{ApplyError, Step, UpdateOutcome};
use stackr_reconcile::plan::{Action, ObjectKind, PlanOptions};
use stackr_spec::Stack;

mod common;

use common::{at, cx, engine, load, up};

/// A service of 2 replicas behind a health check, with `V` in its env and `extra` inside it.
fn api(v: &str, extra: &str) -> Stack {
    load(&format!(
        r#"
stack "roll"
service "api" {{
    image "api:1"
    scale 2
    env V="{v}"
    health {{ exec "true"; interval "1s" }}
    {extra}
}}
"#
    ))
}

async fn plan_text(e: &FakeEngine, s: &Stack) -> String {
    let (p, _, _) = stackr_ops::plan(e, s, &cx(), &PlanOptions::default())
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    stackr_reconcile::plan::render_text(&p)
}

fn env_of(e: &FakeEngine, name: &str) -> Vec<String> {
    e.spec_of(name)
        .map(|s| s.env)
        .unwrap_or_else(|| panic!("no container {name}"))
}

fn names(e: &FakeEngine) -> BTreeSet<String> {
    e.container_states()
        .into_keys()
        .filter(|n| n.starts_with("roll-"))
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn a_start_first_update_keeps_each_old_container_until_its_new_one_is_healthy() {
    let e = engine();
    up(&e, &api("1", ""))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let s2 = api("2", "");
    insta::assert_snapshot!(plan_text(&e, &s2).await);
    e.clear_calls();
    up(&e, &s2).await.unwrap_or_else(|err| panic!("{err}"));
    let calls = e.calls();
    for n in ["1", "2"] {
        let (old, new) = (format!("roll-api-{n}"), format!("roll-api-{n}-next"));
        let started = at(&calls, &format!("start {new}"));
        assert!(at(&calls, &format!("create {new}")) < started);
        assert!(started < at(&calls, &format!("stop {old}")));
        assert!(at(&calls, &format!("remove {old}")) < at(&calls, &format!("rename {new} {old}")));
    }
    // One at a time: the second slot begins once the first is done.
    assert!(at(&calls, "rename roll-api-1-next roll-api-1") < at(&calls, "create roll-api-2-next"));
    assert_eq!(names(&e), set(&["roll-api-1", "roll-api-2"]));
    for n in ["roll-api-1", "roll-api-2"] {
        assert!(
            env_of(&e, n).contains(&"V=2".to_string()),
            "{n} runs the new spec"
        );
    }
    // Converged: nothing more to do.
    let text = plan_text(&e, &s2).await;
    assert!(!text.contains(" to "), "{text}");
}

#[tokio::test]
async fn parallelism_replaces_that_many_containers_at_once() {
    let e = engine();
    let extra = "update { parallelism 2 }";
    up(&e, &api("1", extra))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    e.clear_calls();
    up(&e, &api("2", extra))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let calls = e.calls();
    // Both new containers start before either old one goes.
    let last_start = at(&calls, "start roll-api-1-next").max(at(&calls, "start roll-api-2-next"));
    let first_stop = at(&calls, "stop roll-api-1").min(at(&calls, "stop roll-api-2"));
    assert!(last_start < first_stop, "{calls:#?}");
}

#[tokio::test]
async fn a_start_first_update_that_never_gets_healthy_is_rolled_back_and_names_the_service() {
    let e = engine();
    up(&e, &api("1", ""))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let ids: BTreeMap<String, String> = ["roll-api-1", "roll-api-2"]
        .iter()
        .map(|n| {
            (
                n.to_string(),
                e.spec_of(n).map(|s| s.name).unwrap_or_default(),
            )
        })
        .collect();
    e.set_behaviour(Behaviour {
        unhealthy_env: set(&["V=2"]),
        ..Behaviour::default()
    });
    let err = up(&e, &api("2", ""))
        .await
        .err()
        .unwrap_or_else(|| panic!("a failing update fails `up`"));
    let OpError::Apply(ApplyError::UpdateFailed(f)) = &err else {
        panic!("{err:?}");
    };
    assert_eq!(f.service, "api");
    assert_eq!(f.output.as_deref(), Some("check failed (fake)"));
    assert_eq!(f.outcome, UpdateOutcome::RolledBack);
    insta::assert_snapshot!(stackr_ops::text::op_error(&err));
    // The old containers never stopped; the failed one is gone.
    assert!(
        !e.calls()
            .iter()
            .any(|c| c == "stop roll-api-1" || c == "stop roll-api-2")
    );
    assert_eq!(names(&e), set(&["roll-api-1", "roll-api-2"]));
    for n in ids.keys() {
        assert!(env_of(&e, n).contains(&"V=1".to_string()));
    }
}

#[tokio::test]
async fn a_stop_first_update_that_fails_is_rolled_back_to_the_same_spec_and_image() {
    let e = engine();
    let extra = r#"update { order "stop-first"; parallelism 1; max-failure-ratio 0.5 }"#;
    up(&e, &api("1", extra))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let before: BTreeMap<&str, stackr_engine::ContainerSpec> = ["roll-api-1", "roll-api-2"]
        .into_iter()
        .map(|n| (n, e.spec_of(n).unwrap_or_default()))
        .collect();
    e.set_behaviour(Behaviour {
        unhealthy_env: set(&["V=2"]),
        ..Behaviour::default()
    });
    // The first failure is tolerated (half of two), the second is not: both are put back.
    let err = up(&e, &api("2", extra))
        .await
        .err()
        .unwrap_or_else(|| panic!("a failing update fails `up`"));
    let text = stackr_ops::text::op_error(&err);
    assert!(text.contains("2 containers failed"), "{text}");
    assert!(text.contains("rolled back"), "{text}");
    assert_eq!(names(&e), set(&["roll-api-1", "roll-api-2"]));
    for n in ["roll-api-1", "roll-api-2"] {
        let spec = e.spec_of(n).unwrap_or_default();
        assert!(spec.env.contains(&"V=1".to_string()), "{n}: {:?}", spec.env);
        for label in [stackr_engine::LABEL_HASH, stackr_engine::LABEL_IMAGE_ID] {
            assert_eq!(
                spec.labels.get(label),
                before[n].labels.get(label),
                "{n} has the {label} it had"
            );
        }
    }
    // The stack file still wants the new spec: the next `up` tries again.
    assert!(
        plan_text(&e, &api("2", extra))
            .await
            .contains("2 to recreate")
    );
}

#[tokio::test]
async fn a_paused_update_leaves_the_replaced_containers_and_says_so() {
    let e = engine();
    let extra = r#"update { failure-action "pause" }"#;
    up(&e, &api("1", extra))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    e.set_behaviour(Behaviour {
        unhealthy_env: set(&["V=2"]),
        ..Behaviour::default()
    });
    let err = up(&e, &api("2", extra)).await.err();
    let Some(OpError::Apply(ApplyError::UpdateFailed(f))) = err else {
        panic!("{err:?}");
    };
    assert_eq!(f.outcome, UpdateOutcome::Paused);
    assert_eq!(names(&e), set(&["roll-api-1", "roll-api-2"]));
}

#[tokio::test]
async fn a_new_container_left_alone_by_an_interrupted_update_is_renamed() {
    let e = engine();
    up(&e, &api("1", ""))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    up(&e, &api("2", ""))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    // As a run killed between removing the old container and renaming the new one leaves it.
    let id = e
        .inspect_container("roll-api-1")
        .await
        .ok()
        .flatten()
        .map(|c| c.id)
        .unwrap_or_default();
    e.rename_container(&id, "roll-api-1-next")
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let text = plan_text(&e, &api("2", "")).await;
    assert!(
        text.contains("rename (finishes an interrupted update"),
        "{text}"
    );
    e.clear_calls();
    up(&e, &api("2", ""))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let creates: Vec<String> = e
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("create roll-"))
        .collect();
    assert!(creates.is_empty(), "{creates:?}");
    assert_eq!(names(&e), set(&["roll-api-1", "roll-api-2"]));
}

#[tokio::test]
async fn a_new_container_beside_its_old_one_is_adopted_or_removed_by_the_next_up() {
    // The spec the update wants, as another engine makes it.
    let other = engine();
    up(&other, &api("2", ""))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let mut wanted = other.spec_of("roll-api-1").unwrap_or_default();
    wanted.name = "roll-api-1-next".into();

    let e = engine();
    up(&e, &api("1", ""))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    e.create_container(&wanted)
        .await
        .map(|c| c.id)
        .unwrap_or_else(|err| panic!("{err}"));
    let (p, _, _) = stackr_ops::plan(&e, &api("2", ""), &cx(), &PlanOptions::default())
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let slot = p
        .item(ObjectKind::Container, "roll-api-1")
        .unwrap_or_else(|| panic!("{p:#?}"));
    assert_eq!(slot.action, Action::Replace);
    assert!(slot.next.is_some(), "the new container is adopted");
    e.clear_calls();
    up(&e, &api("2", ""))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert!(!e.calls().iter().any(|c| c == "create roll-api-1-next"));
    assert_eq!(names(&e), set(&["roll-api-1", "roll-api-2"]));

    // A `-next` with a spec no one wants any more is removed.
    let e = engine();
    up(&e, &api("1", ""))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    e.create_container(&wanted)
        .await
        .map(|c| c.id)
        .unwrap_or_else(|err| panic!("{err}"));
    let text = plan_text(&e, &api("1", "")).await;
    assert!(text.contains("left by an interrupted update"), "{text}");
    up(&e, &api("1", ""))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(names(&e), set(&["roll-api-1", "roll-api-2"]));
}

#[tokio::test]
async fn secrets_of_a_start_first_update_go_to_a_volume_the_old_container_does_not_use() {
    let with_secret = |v: &str| {
        load(&format!(
            r#"
stack "roll"
secret "token" env="TOKEN"
service "api" {{
    image "api:1"
    env V="{v}"
    secret "token"
    health {{ exec "true" }}
}}
"#
        ))
    };
    let mounted = |e: &FakeEngine| {
        e.spec_of("roll-api-1")
            .and_then(|s| stackr_reconcile::rollout::secrets_volume_of(&s))
            .unwrap_or_default()
    };
    let e = engine();
    up(&e, &with_secret("1"))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(mounted(&e), "roll-api-1_secrets");
    up(&e, &with_secret("2"))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(mounted(&e), "roll-api-1-next_secrets");
    up(&e, &with_secret("3"))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(mounted(&e), "roll-api-1_secrets");
    let volumes: Vec<String> = e
        .list_volumes("roll")
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|v| v.name)
        .filter(|n| n.contains("secrets"))
        .collect();
    assert_eq!(
        volumes,
        vec!["roll-api-1_secrets".to_string()],
        "the old one is removed"
    );
}

#[tokio::test]
async fn steps_report_batches_and_renames() {
    let e = engine();
    up(&e, &api("1", ""))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let events = up(&e, &api("2", ""))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let lines: Vec<String> = events
        .iter()
        .filter_map(|ev| match ev {
            OpEvent::Step(
                s @ (Step::UpdateBatch { .. } | Step::Renamed { .. } | Step::Removed { .. }),
            ) => stackr_reconcile::steps::line(s),
            _ => None,
        })
        .collect();
    insta::assert_snapshot!(lines.join("\n"));
}

async fn roll_back(e: &FakeEngine, s: &Stack) -> Vec<OpEvent> {
    let events = Mutex::new(Vec::new());
    let sink = |ev: OpEvent| {
        if let Ok(mut v) = events.lock() {
            v.push(ev);
        }
    };
    let o = stackr_ops::RollbackOptions {
        lock_wait: Duration::from_millis(200),
        ..Default::default()
    };
    stackr_ops::rollback(e, s, &cx(), &o, None, &sink)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    events.into_inner().unwrap_or_default()
}

#[tokio::test]
async fn rollback_returns_to_the_previous_spec_and_up_deploys_the_file_again() {
    let e = engine();
    up(&e, &api("1", ""))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    // Nothing was replaced yet: nothing to go back to.
    let said = roll_back(&e, &api("1", "")).await;
    assert!(
        said.contains(&OpEvent::NothingToRollBack {
            service: "api".into()
        }),
        "{said:?}"
    );
    up(&e, &api("2", ""))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    roll_back(&e, &api("2", "")).await;
    for n in ["roll-api-1", "roll-api-2"] {
        assert!(env_of(&e, n).contains(&"V=1".to_string()), "{n} is back");
    }
    assert_eq!(names(&e), set(&["roll-api-1", "roll-api-2"]));
    let text = plan_text(&e, &api("2", "")).await;
    assert!(
        text.contains("rolled back by `stackr rollback`: `up` deploys the stack file"),
        "{text}"
    );
    // A second rollback goes forward again, as Swarm's does.
    roll_back(&e, &api("2", "")).await;
    for n in ["roll-api-1", "roll-api-2"] {
        assert!(env_of(&e, n).contains(&"V=2".to_string()), "{n} is forward");
    }
}
