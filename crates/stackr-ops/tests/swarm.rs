//! The Swarm target's operations on the fake swarm: dependency order read from task states,
//! a second `up` that does nothing, secret rotation that updates exactly its users, a bad
//! update rolled back, a failed one-shot, `down`, and an engine that is no manager. The fake's
//! tasks move one step each time they are listed, so an apply that did not wait would find
//! its dependency's tasks still preparing.

mod common;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use common::{at, load};
use stackr_engine::fake::{Behaviour, FakeEngine};
use stackr_engine::swarm::{FileKind, ServiceMode};
use stackr_ops::{Context, OpError, OpEvent, SwarmUpOptions};
use stackr_reconcile::apply::ProbeRunner;
use stackr_reconcile::desired::SecretValue;
use stackr_swarm::SwarmError;
use stackr_swarm::plan::ServiceAction;

const STACK: &str = r#"
stack "shop"
target "swarm"
network "back" internal=#true
secret "token" env="TOKEN"
service "db" {
    image "reg:5000/db:1"
    health { exec "true"; interval "1s" }
}
service "migrate" {
    image "reg:5000/api:1"
    command "migrate"
    depends-on "db" condition="healthy"
}
service "api" {
    image "reg:5000/api:1"
    scale 3
    network "back"
    network "default"
    secret "token" uid=1000 gid=1000 mode=0o400
    health { http port=8000 path="/health"; interval "1s" }
    depends-on "migrate" condition="completed"
    depends-on "db" condition="healthy"
}
service "web" {
    image "reg:5000/web:1"
    scale 2
    port "8080:80"
    depends-on "api" condition="healthy"
}
"#;

fn cx(token: &str) -> Context {
    let mut base = stackr_reconcile::desired::Inputs::default();
    base.secrets
        .insert("token".into(), SecretValue(token.as_bytes().to_vec()));
    Context {
        base,
        probe: ProbeRunner {
            volume: "stackr-probe-0123456789ab".into(),
            image: "stackr-probe:0123456789ab".into(),
            binary: b"probe",
        },
        holder: "pid 1 on test".into(),
    }
}

fn swarm() -> FakeEngine {
    let e = FakeEngine::new();
    e.join_swarm(3);
    e
}

async fn up(e: &FakeEngine, text: &str, token: &str) -> Result<Vec<OpEvent>, OpError> {
    let events = Mutex::new(Vec::new());
    let sink = |ev: OpEvent| {
        if let Ok(mut v) = events.lock() {
            v.push(ev);
        }
    };
    let opts = SwarmUpOptions {
        build: false,
        wait: true,
        lock_wait: Duration::from_millis(200),
    };
    stackr_ops::swarm_up(e, &load(text), &cx(token), &opts, None, &sink).await?;
    Ok(events.into_inner().unwrap_or_default())
}

/// Where the first task of `service` reached `state`, in the fake's calls.
fn reached(e: &FakeEngine, calls: &[String], service: &str, state: &str) -> usize {
    calls
        .iter()
        .position(|c| {
            c.starts_with("task ") && c.ends_with(&format!(" {state}")) && task_of(e, c, service)
        })
        .unwrap_or_else(|| panic!("no task of {service} reached {state} in {calls:#?}"))
}

fn task_of(e: &FakeEngine, call: &str, service: &str) -> bool {
    let id = call.split_whitespace().nth(1).unwrap_or_default();
    e.task_service(id).as_deref() == Some(&format!("shop_{service}"))
}

#[tokio::test]
async fn every_dependent_is_created_after_its_dependency_meets_its_condition() {
    let e = swarm();
    up(&e, STACK, "t1")
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let calls = e.calls();
    let created = |s: &str| at(&calls, &format!("create-service shop_{s}"));
    // The probe runner is pushed and its filler runs before anything uses it.
    assert!(at(&calls, "push reg:5000/stackr-probe:0123456789ab") < created("stackr-probe"));
    assert!(reached(&e, &calls, "db", "running") < created("migrate"));
    assert!(reached(&e, &calls, "migrate", "complete") < created("api"));
    assert!(reached(&e, &calls, "api", "running") < created("web"));
    assert!(reached(&e, &calls, "stackr-probe", "running") < created("api"));
    // What each became.
    let api = e
        .service_spec("shop_api")
        .unwrap_or_else(|| panic!("no api"));
    assert_eq!(api.mode, ServiceMode::Replicated { replicas: 3 });
    assert_eq!(api.secrets.len(), 1);
    assert_eq!(
        (api.secrets[0].uid.as_str(), api.secrets[0].mode),
        ("1000", 0o400)
    );
    assert!(api.secrets[0].id.is_some(), "the secret is named by id too");
    let migrate = e
        .service_spec("shop_migrate")
        .unwrap_or_else(|| panic!("no migrate"));
    assert!(
        migrate.mode.is_job(),
        "a completed one-shot is a job: {:?}",
        migrate.mode
    );
    let web = e
        .service_spec("shop_web")
        .unwrap_or_else(|| panic!("no web"));
    assert_eq!(web.ports[0].mode, "ingress");
    // No secret value anywhere in a spec.
    let json = serde_json::to_string(&api).unwrap_or_default();
    assert!(!json.contains("t1"), "{json}");
}

#[tokio::test]
async fn a_second_up_changes_nothing_and_plans_nothing() {
    let e = swarm();
    up(&e, STACK, "t1")
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    e.clear_calls();
    let events = up(&e, STACK, "t1")
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert!(
        events
            .iter()
            .any(|ev| matches!(ev, OpEvent::SwarmUpToDate { services: 5, .. })),
        "{events:#?}"
    );
    let changes: Vec<String> = e
        .calls()
        .into_iter()
        .filter(|c| {
            c.starts_with("create-") || c.starts_with("update-") || c.starts_with("remove-")
        })
        .filter(|c| !c.contains("stackr-lock"))
        .collect();
    assert!(changes.is_empty(), "{changes:#?}");
    let (plan, _) = stackr_ops::swarm_plan(&e, &load(STACK), &cx("t1"))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert!(plan.is_empty(), "{plan:#?}");
}

#[tokio::test]
async fn a_rotated_secret_updates_exactly_its_users_and_the_old_one_goes() {
    let e = swarm();
    up(&e, STACK, "t1")
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let before = e.file_objects(FileKind::Secret);
    assert_eq!(before.len(), 1, "{before:?}");
    e.clear_calls();
    let (plan, _) = stackr_ops::swarm_plan(&e, &load(STACK), &cx("t2"))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let updated: Vec<&str> = plan
        .services
        .iter()
        .filter(|s| matches!(s.action, ServiceAction::Update { .. }))
        .map(|s| s.key.as_str())
        .collect();
    assert_eq!(updated, ["api"], "{plan:#?}");
    up(&e, STACK, "t2")
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let calls = e.calls();
    let updates: Vec<&String> = calls
        .iter()
        .filter(|c| c.starts_with("update-service shop_"))
        .collect();
    assert_eq!(updates, ["update-service shop_api"], "{calls:#?}");
    let after = e.file_objects(FileKind::Secret);
    assert_eq!(after.len(), 1, "{after:?}");
    assert_ne!(after, before, "a new secret, named by its digest");
    assert!(
        at(&calls, &format!("remove-secret {}", before[0])) > at(&calls, "update-service shop_api")
    );
}

#[tokio::test]
async fn a_bad_update_is_rolled_back_and_up_fails_naming_the_service() {
    let e = swarm();
    up(&e, STACK, "t1")
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let broken = STACK.replace(
        "service \"api\" {\n    image \"reg:5000/api:1\"",
        "service \"api\" {\n    image \"reg:5000/api:1\"\n    env BROKEN=\"1\"",
    );
    let err = up(&e, &broken, "t1").await.err();
    match err {
        Some(OpError::Swarm(SwarmError::RolledBack { service, .. })) => assert_eq!(service, "api"),
        other => panic!("expected a rollback of api, got {other:?}"),
    }
    // The swarm runs the previous spec again.
    let api = e
        .service_spec("shop_api")
        .unwrap_or_else(|| panic!("no api"));
    assert!(
        !api.env.iter().any(|v| v.starts_with("BROKEN")),
        "{:?}",
        api.env
    );
}

#[tokio::test]
async fn a_failed_one_shot_stops_its_dependents_and_says_why() {
    let e = swarm();
    e.set_behaviour(Behaviour {
        exit_codes: BTreeMap::from([("migrate".to_string(), 3)]),
        ..Behaviour::default()
    });
    let err = up(&e, STACK, "t1").await.err();
    match err {
        Some(OpError::Swarm(SwarmError::ServiceFailed { service, reason })) => {
            assert_eq!(service, "migrate");
            assert!(reason.contains("non-zero exit"), "{reason}");
        }
        other => panic!("expected migrate to fail, got {other:?}"),
    }
    let calls = e.calls();
    assert!(
        !calls.iter().any(|c| c == "create-service shop_api"),
        "{calls:#?}"
    );
    assert!(
        !calls.iter().any(|c| c == "create-service shop_web"),
        "{calls:#?}"
    );
}

#[tokio::test]
async fn down_removes_services_secrets_and_networks_and_says_volumes_stay() {
    let e = swarm();
    let text = STACK.replace(
        "service \"db\" {\n",
        "volume \"data\"\nservice \"db\" {\n    mount \"data\" \"/var/lib/db\"\n",
    );
    up(&e, &text, "t1")
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let events = Mutex::new(Vec::new());
    let sink = |ev: OpEvent| {
        if let Ok(mut v) = events.lock() {
            v.push(ev);
        }
    };
    stackr_ops::swarm_down(
        &e,
        &load(&text),
        &cx("t1"),
        Duration::from_millis(200),
        &sink,
    )
    .await
    .unwrap_or_else(|err| panic!("{err}"));
    assert!(
        stackr_engine::swarm::Swarm::list_services(&e, "shop")
            .await
            .unwrap_or_default()
            .is_empty()
    );
    assert!(e.file_objects(FileKind::Secret).is_empty());
    let events = events.into_inner().unwrap_or_default();
    assert!(
        events.iter().any(|ev| matches!(ev, OpEvent::VolumesOnNodes { volumes } if volumes == &["shop_data".to_string()])),
        "{events:#?}"
    );
}

#[tokio::test]
async fn an_engine_outside_a_swarm_is_refused_with_the_way_out() {
    let e = FakeEngine::new();
    let err = up(&e, STACK, "t1").await.err();
    match err {
        Some(OpError::Swarm(e @ SwarmError::NotASwarm { .. })) => {
            assert!(e.help().unwrap_or_default().contains("docker swarm init"));
        }
        other => panic!("expected NotASwarm, got {other:?}"),
    }
}

#[tokio::test]
async fn ps_lists_tasks_with_their_node_and_a_node_down() {
    let e = swarm();
    up(&e, STACK, "t1")
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    e.node_down("node2");
    let (rows, nodes) = stackr_ops::swarm_ps(&e, "shop", false)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert!(nodes.iter().any(|n| n.id == "node2" && n.state == "down"));
    let api: Vec<_> = rows.iter().filter(|r| r.service == "api").collect();
    assert_eq!(api.len(), 3, "{rows:#?}");
    assert!(rows.iter().all(|r| r.desired != "shutdown"));
    let table = stackr_ops::text::tasks_table(&rows);
    assert!(table.contains("SERVICE"), "{table}");
}

#[tokio::test]
async fn a_built_image_is_pushed_pinned_and_not_built_again_until_its_inputs_change() {
    let dir = std::env::temp_dir().join(format!("stackr-swarm-build-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("Dockerfile"), "FROM scratch\nCOPY a /a\n")
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("a"), "1").unwrap_or_else(|e| panic!("{e}"));
    let text = format!(
        r#"
stack "shop"
target "swarm"
service "app" {{
    image "reg:5000/app:1"
    build "{}"
}}
service "worker" {{
    image "reg:5000/app:1"
    command "work"
}}
"#,
        dir.display()
    );
    let e = swarm();
    up(&e, &text, "t")
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let pushes = |calls: &[String]| {
        calls
            .iter()
            .filter(|c| c.starts_with("push reg:5000/app:1"))
            .count()
    };
    assert_eq!(pushes(&e.calls()), 1, "{:#?}", e.calls());
    let app = e
        .service_spec("shop_app")
        .unwrap_or_else(|| panic!("no app"));
    let worker = e
        .service_spec("shop_worker")
        .unwrap_or_else(|| panic!("no worker"));
    assert!(
        app.image.starts_with("reg:5000/app:1@sha256:"),
        "{}",
        app.image
    );
    assert_eq!(worker.image, app.image, "one build, one pinned reference");

    e.clear_calls();
    up(&e, &text, "t")
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let calls = e.calls();
    assert!(
        !calls
            .iter()
            .any(|c| c.starts_with("build ") || c.starts_with("push reg:5000/app")),
        "{calls:#?}"
    );

    std::fs::write(dir.join("a"), "2").unwrap_or_else(|e| panic!("{e}"));
    e.clear_calls();
    up(&e, &text, "t")
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let calls = e.calls();
    assert_eq!(
        pushes(&calls),
        1,
        "a changed input builds and pushes again: {calls:#?}"
    );
    assert!(
        calls.iter().any(|c| c == "update-service shop_app"),
        "{calls:#?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn logs_follow_every_task_tagged_with_its_slot() {
    let e = swarm();
    up(&e, STACK, "t1")
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let lines = Mutex::new(Vec::new());
    let sink = |l: stackr_ops::LogLine| {
        if let Ok(mut v) = lines.lock() {
            v.push(l.container);
        }
    };
    let opts = stackr_engine::LogOptions {
        follow: true,
        tail: None,
        timestamps: false,
        ..Default::default()
    };
    stackr_ops::swarm_logs(&e, "shop", &["api".to_string()], &opts, &sink)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let mut got = lines.into_inner().unwrap_or_default();
    got.sort();
    assert_eq!(got, ["api.1", "api.2", "api.3"]);
}
