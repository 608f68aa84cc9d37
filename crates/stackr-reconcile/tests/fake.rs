//! The reconciler against the fake engine: plans for the situations users meet, and apply's
//! ordering, idempotence and failures.

use std::collections::BTreeMap;
use std::sync::Mutex;

use stackr_engine::Engine;
use stackr_engine::fake::{Behaviour, FakeEngine};
use stackr_reconcile::apply::{ApplyError, ApplyOptions, DownOptions, Step, apply, down};
use stackr_reconcile::desired::{Inputs, desired};
use stackr_reconcile::observe::observe;
use stackr_reconcile::plan::{Plan, PlanOptions, plan, render_text};
use stackr_spec::{Options, Stack, load_str};

mod common;

use common::stack_with;

const STACK: &str = r#"
stack "shop"
volume "pgdata"
network "backend" internal=#true
network "frontend"

service "db" {
    image "postgres:16"
    mount "pgdata" "/var/lib/postgresql/data"
    networks "backend"
    health { shell "pg_isready" }
}

service "migrate" {
    image "shop-api:1"
    command "migrate"
    networks "backend"
    depends-on "db" condition="healthy"
}

service "api" {
    image "shop-api:1"
    env LOG_LEVEL="info"
    networks "backend" "frontend"
    depends-on "db" condition="healthy"
    depends-on "migrate" condition="completed"
}

service "web" {
    image "nginx:1.27"
    port "127.0.0.1:8080:80"
    networks "frontend"
    depends-on "api" restart=#true
}

profile "debug" {
    service "api" { env LOG_LEVEL="debug" }
    service "adminer" {
        image "adminer:4"
        networks "backend" "frontend"
        depends-on "db"
    }
}
"#;

fn engine() -> FakeEngine {
    let e = FakeEngine::new();
    for img in [
        "postgres:16",
        "shop-api:1",
        "shop-api:2",
        "nginx:1.27",
        "adminer:4",
    ] {
        e.add_image(img);
    }
    e.set_behaviour(Behaviour {
        exit_codes: BTreeMap::from([("migrate".to_string(), 0)]),
        ..Behaviour::default()
    });
    e
}

async fn inputs(engine: &FakeEngine, stack: &Stack) -> Inputs {
    let d = desired(stack, &Inputs::default()).unwrap_or_else(|e| panic!("{e}"));
    let mut inputs = Inputs::default();
    for s in &d.services {
        if let Ok(Some(img)) = engine.inspect_image(&s.image).await {
            inputs.image_ids.insert(s.image.clone(), img.id);
        }
    }
    inputs
}

async fn make_plan(engine: &FakeEngine, stack: &Stack, opts: &PlanOptions) -> (Plan, Inputs) {
    let inputs = inputs(engine, stack).await;
    let d = desired(stack, &inputs).unwrap_or_else(|e| panic!("{e}"));
    let observed = observe(engine, &d).await.unwrap_or_else(|e| panic!("{e}"));
    (plan(&d, &observed, opts), inputs)
}

async fn up(engine: &FakeEngine, stack: &Stack) -> Result<Vec<Step>, ApplyError> {
    let (p, inputs) = make_plan(engine, stack, &PlanOptions::default()).await;
    let steps = Mutex::new(Vec::new());
    let record = |s: Step| {
        if let Ok(mut v) = steps.lock() {
            v.push(s);
        }
    };
    apply(engine, stack, inputs, &p, &ApplyOptions::default(), &record).await?;
    Ok(steps.into_inner().unwrap_or_default())
}

#[tokio::test]
async fn plan_for_a_fresh_stack() {
    let e = engine();
    let (p, _) = make_plan(&e, &stack_with(STACK, &[]), &PlanOptions::default()).await;
    insta::assert_snapshot!(render_text(&p));
}

#[tokio::test]
async fn apply_starts_in_dependency_order_and_a_second_up_does_nothing() {
    let e = engine();
    let stack = stack_with(STACK, &[]);
    up(&e, &stack).await.unwrap_or_else(|err| panic!("{err}"));
    let starts: Vec<String> = e
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("start "))
        .collect();
    let pos = |name: &str| {
        starts
            .iter()
            .position(|c| c == &format!("start {name}"))
            .unwrap_or(usize::MAX)
    };
    assert!(pos("shop-db-1") < pos("shop-migrate-1"), "{starts:?}");
    assert!(pos("shop-migrate-1") < pos("shop-api-1"), "{starts:?}");
    assert!(pos("shop-api-1") < pos("shop-web-1"), "{starts:?}");

    let (p, _) = make_plan(&e, &stack, &PlanOptions::default()).await;
    // The one-shot `migrate` exited 0: `up` runs it again, as compose does; nothing else moves.
    insta::assert_snapshot!(render_text(&p));
    e.clear_calls();
    up(&e, &stack).await.unwrap_or_else(|err| panic!("{err}"));
    let calls = e.calls();
    assert!(
        calls
            .iter()
            .all(|c| !c.starts_with("create") && !c.starts_with("remove")),
        "{calls:?}"
    );
}

#[tokio::test]
async fn changed_env_recreates_the_service_and_restarts_dependents_that_ask() {
    let e = engine();
    up(&e, &stack_with(STACK, &[]))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let changed = STACK.replace(r#"env LOG_LEVEL="info""#, r#"env LOG_LEVEL="warn""#);
    let (p, _) = make_plan(&e, &stack_with(&changed, &[]), &PlanOptions::default()).await;
    insta::assert_snapshot!(render_text(&p));
}

#[tokio::test]
async fn changed_image_recreates_its_users() {
    let e = engine();
    up(&e, &stack_with(STACK, &[]))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let changed = STACK.replace("shop-api:1", "shop-api:2");
    let (p, _) = make_plan(&e, &stack_with(&changed, &[]), &PlanOptions::default()).await;
    insta::assert_snapshot!(render_text(&p));
}

#[tokio::test]
async fn a_removed_service_is_an_orphan() {
    let e = engine();
    up(&e, &stack_with(STACK, &["debug"]))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let stack = stack_with(STACK, &[]);
    let (p, _) = make_plan(&e, &stack, &PlanOptions::default()).await;
    insta::assert_snapshot!("orphan_kept", render_text(&p));
    let (p, _) = make_plan(
        &e,
        &stack,
        &PlanOptions {
            remove_orphans: true,
            ..PlanOptions::default()
        },
    )
    .await;
    insta::assert_snapshot!("orphan_removed", render_text(&p));
}

#[tokio::test]
async fn a_profile_switch() {
    let e = engine();
    up(&e, &stack_with(STACK, &[]))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let (p, _) = make_plan(&e, &stack_with(STACK, &["debug"]), &PlanOptions::default()).await;
    insta::assert_snapshot!(render_text(&p));
    let json = serde_json::to_value(&p).unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(json["items"].as_array().map(Vec::len), Some(p.items.len()));
}

#[tokio::test]
async fn a_failing_dependency_stops_its_dependents() {
    let e = engine();
    e.set_behaviour(Behaviour {
        exit_codes: BTreeMap::from([("migrate".to_string(), 3)]),
        ..Behaviour::default()
    });
    let err = up(&e, &stack_with(STACK, &[]))
        .await
        .err()
        .unwrap_or_else(|| panic!("should fail"));
    insta::assert_snapshot!(err.to_string(), @"service `api` cannot start: dependency `migrate` exited with code 3");
    let states = e.container_states();
    assert!(
        states
            .get("shop-api-1")
            .is_some_and(|s| s.as_str() == "created"),
        "{states:?}"
    );
    assert!(!e.calls().contains(&"start shop-web-1".to_string()));
}

#[tokio::test]
async fn an_unhealthy_dependency_reports_its_probe_output() {
    let e = engine();
    e.set_behaviour(Behaviour {
        unhealthy: ["db".to_string()].into(),
        exit_codes: BTreeMap::from([("migrate".to_string(), 0)]),
        ..Behaviour::default()
    });
    match up(&e, &stack_with(STACK, &[])).await {
        Err(ApplyError::Dependency {
            dependency,
            reason,
            output,
            ..
        }) => {
            assert_eq!(dependency, "db");
            assert_eq!(reason, "is unhealthy");
            assert_eq!(output.as_deref(), Some("check failed (fake)"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn scale_up_and_down() {
    let e = engine();
    let scaled = STACK.replace(
        r#"image "nginx:1.27"
    port "127.0.0.1:8080:80""#,
        r#"image "nginx:1.27"
    scale 3"#,
    );
    up(&e, &stack_with(&scaled, &[]))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert!(e.container_states().contains_key("shop-web-3"));
    let down_to_one = scaled.replace("scale 3", "scale 1");
    let (p, _) = make_plan(&e, &stack_with(&down_to_one, &[]), &PlanOptions::default()).await;
    insta::assert_snapshot!(render_text(&p));
}

#[tokio::test]
async fn a_container_left_by_an_interrupted_run_is_adopted() {
    let e = engine();
    let stack = stack_with(STACK, &[]);
    up(&e, &stack).await.unwrap_or_else(|err| panic!("{err}"));
    // An interrupted recreate: the old container is gone and the new one was created but
    // never started.
    let api = e
        .inspect_container("shop-api-1")
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("api"));
    e.remove_container(&api.id)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let inputs = inputs(&e, &stack).await;
    let d = desired(&stack, &inputs).unwrap_or_else(|err| panic!("{err}"));
    let spec = d
        .service("api")
        .map(|s| s.containers[0].spec.clone())
        .unwrap_or_default();
    e.create_container(&spec)
        .await
        .map(|c| c.id)
        .unwrap_or_else(|err| panic!("{err}"));
    let (p, _) = make_plan(&e, &stack, &PlanOptions::default()).await;
    let line = render_text(&p)
        .lines()
        .find(|l| l.contains("shop-api-1"))
        .map(String::from);
    assert_eq!(
        line.as_deref().map(str::trim),
        Some("> container shop-api-1      start (created)")
    );
    up(&e, &stack).await.unwrap_or_else(|err| panic!("{err}"));
    let apis = e
        .container_states()
        .keys()
        .filter(|n| n.starts_with("shop-api"))
        .count();
    assert_eq!(apis, 1);
}

#[tokio::test]
async fn down_removes_in_reverse_order_and_keeps_volumes() {
    let e = engine();
    let stack = stack_with(STACK, &[]);
    up(&e, &stack).await.unwrap_or_else(|err| panic!("{err}"));
    e.clear_calls();
    let report = down(&e, "shop", &stack.waves, &DownOptions::default(), &|_| {})
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let removes: Vec<String> = e
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("remove "))
        .collect();
    let pos = |n: &str| {
        removes
            .iter()
            .position(|c| c == &format!("remove {n}"))
            .unwrap_or(usize::MAX)
    };
    assert!(pos("shop-web-1") < pos("shop-api-1"), "{removes:?}");
    assert!(pos("shop-api-1") < pos("shop-db-1"), "{removes:?}");
    assert_eq!(report.networks.len(), 2);
    assert!(report.volumes.is_empty());
    assert!(e.list_volumes("shop").await.map(|v| v.len()).unwrap_or(0) == 1);
    let report = down(
        &e,
        "shop",
        &stack.waves,
        &DownOptions {
            remove_volumes: true,
            ..DownOptions::default()
        },
        &|_| {},
    )
    .await
    .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(report.volumes, vec!["shop_pgdata".to_string()]);
}

#[tokio::test]
async fn changed_build_inputs_rebuild_and_recreate_every_user_of_the_image() {
    let dir = std::env::temp_dir().join(format!("stackr-fake-build-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("app")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("app/Dockerfile"), "FROM scratch\n").unwrap_or_else(|e| panic!("{e}"));
    let text = |arg: &str| {
        format!(
            r#"stack "shop"
service "worker" {{
    image "shop-app:dev"
    build "./app" {{ arg "MODE" "{arg}" }}
}}
service "web" {{
    image "shop-app:dev"
    depends-on "worker"
}}"#
        )
    };
    let load = |t: &str| {
        let loaded = load_str(
            &dir.join("stack.kdl").to_string_lossy(),
            t,
            &Options::default(),
        );
        loaded.stack.unwrap_or_else(|| panic!("invalid"))
    };
    let e = engine();
    let stack = load(&text("a"));
    let (p, inputs) = {
        let (d, o, i) = stackr_reconcile::observe::prepare(&e, &stack, Inputs::default())
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        (plan(&d, &o, &PlanOptions::default()), i)
    };
    apply(&e, &stack, inputs, &p, &ApplyOptions::default(), &|_| {})
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let (d, o, _) = stackr_reconcile::observe::prepare(&e, &stack, Inputs::default())
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert!(
        !plan(&d, &o, &PlanOptions::default()).has_changes(),
        "converged"
    );

    let changed = load(&text("b"));
    let (d, o, _) = stackr_reconcile::observe::prepare(&e, &changed, Inputs::default())
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    insta::assert_snapshot!(render_text(&plan(&d, &o, &PlanOptions::default())), @r#"
    stack `shop`: 1 to build, 2 to recreate, 1 unchanged
      = network   shop_default   keep
      + image     shop-app:dev   build (its build inputs changed)
      ~ container shop-worker-1  recreate (its image is rebuilt)
      ~ container shop-web-1     recreate (its image is rebuilt)
    hardening (acknowledge one with `acknowledge "NAME"` in the service):
      worker: runs as root or the image's user (`root`: set `user`); no memory limit (`no-memory-limit`: set `limits memory=`); writable root filesystem (`writable-root`: set `read-only #true`)
      web: runs as root or the image's user (`root`: set `user`); no memory limit (`no-memory-limit`: set `limits memory=`); writable root filesystem (`writable-root`: set `read-only #true`)
    "#);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Regression: a run killed between creating a container and attaching its second network
/// left a container with the right hash that the next plan kept.
#[tokio::test]
async fn a_container_missing_a_network_is_recreated() {
    let e = engine();
    let stack = stack_with(STACK, &[]);
    up(&e, &stack).await.unwrap_or_else(|err| panic!("{err}"));
    e.detach_network("shop-api-1", "shop_frontend");
    let (p, _) = make_plan(&e, &stack, &PlanOptions::default()).await;
    let text = render_text(&p);
    assert!(text.contains("~ container shop-api-1"), "{text}");
    assert!(
        text.contains("attached networks: without shop_frontend -> all of them"),
        "{text}"
    );
}

#[tokio::test]
async fn containers_made_by_an_older_stackr_are_kept_after_an_upgrade() {
    let e = engine();
    let stack = stack_with(STACK, &[]);
    up(&e, &stack).await.unwrap_or_else(|err| panic!("{err}"));
    // An older stackr stored the whole spec, default fields included, and hashed it its
    // own way.
    for (name, _) in e.container_states() {
        let Some(spec) = e.spec_of(&name) else {
            continue;
        };
        let mut clean = spec.clone();
        for l in [
            stackr_engine::LABEL_HASH,
            stackr_engine::LABEL_SPEC,
            stackr_engine::LABEL_IMAGE_ID,
        ] {
            clean.labels.remove(l);
        }
        // What was sent joined networks by id; what a container is does not hold it.
        for n in &mut clean.networks {
            n.network_id = None;
        }
        let full = serde_json::to_string(&clean).unwrap_or_else(|e| panic!("{e}"));
        e.set_label(&name, stackr_engine::LABEL_SPEC, &full);
        e.set_label(
            &name,
            stackr_engine::LABEL_HASH,
            "hashed-by-an-older-stackr",
        );
    }
    let (p, _) = make_plan(&e, &stack, &PlanOptions::default()).await;
    let recreated: Vec<&str> = p
        .items
        .iter()
        .filter(|i| i.action == stackr_reconcile::plan::Action::Recreate)
        .map(|i| i.name.as_str())
        .collect();
    assert!(recreated.is_empty(), "{}", render_text(&p));
}

#[tokio::test]
async fn a_duplicate_network_is_removed_and_the_one_in_use_kept() {
    let e = engine();
    let stack = stack_with(STACK, &[]);
    up(&e, &stack).await.unwrap_or_else(|err| panic!("{err}"));
    let labels = BTreeMap::from([(stackr_engine::LABEL_STACK.to_string(), "shop".to_string())]);
    let dup = e.add_network("shop_backend", labels);
    let (p, _) = make_plan(&e, &stack, &PlanOptions::default()).await;
    let removed: Vec<(&str, Option<&str>)> = p
        .items
        .iter()
        .filter(|i| i.action == stackr_reconcile::plan::Action::Remove)
        .map(|i| (i.name.as_str(), i.id.as_deref()))
        .collect();
    assert_eq!(
        removed,
        [("shop_backend", Some(dup.as_str()))],
        "{}",
        render_text(&p)
    );
    up(&e, &stack).await.unwrap_or_else(|err| panic!("{err}"));
    let left = e.list_networks("shop").await.unwrap_or_default();
    assert_eq!(
        left.iter().filter(|n| n.name == "shop_backend").count(),
        1,
        "{left:?}"
    );
    let (p, _) = make_plan(&e, &stack, &PlanOptions::default()).await;
    assert!(!p.has_changes(), "{}", render_text(&p));
}

#[tokio::test]
async fn objects_of_another_stack_are_refused_with_both_names() {
    let e = engine();
    let other = BTreeMap::from([(stackr_engine::LABEL_STACK.to_string(), "shop_x".to_string())]);
    e.add_volume("shop_pgdata", other.clone());
    e.add_network("shop_frontend", other);
    e.add_volume("shop_cache", BTreeMap::new());
    let text = STACK.replace(r#"volume "pgdata""#, "volume \"pgdata\"\nvolume \"cache\"");
    let (p, _) = make_plan(&e, &stack_with(&text, &[]), &PlanOptions::default()).await;
    insta::assert_snapshot!(render_text(&p));
}

#[tokio::test]
async fn a_failing_create_stops_the_others_with_nothing_in_flight() {
    let e = engine();
    let mut b = Behaviour {
        exit_codes: BTreeMap::from([("migrate".to_string(), 0)]),
        ..Behaviour::default()
    };
    b.fail_create.insert("shop-db-1".into());
    b.slow_create
        .insert("shop-web-1".into(), std::time::Duration::from_millis(300));
    e.set_behaviour(b);
    let err = up(&e, &stack_with(STACK, &[])).await;
    assert!(
        matches!(&err, Err(ApplyError::Engine { service: Some(s), .. }) if s == "db"),
        "the first failure is the one reported: {err:?}"
    );
    assert_eq!(e.in_flight(), 0, "apply returned with a create in flight");
    // What was created then is there to see, and nothing was started after the failure.
    let calls = e.calls();
    assert!(calls.iter().any(|c| c == "create shop-web-1"), "{calls:?}");
    assert!(!calls.iter().any(|c| c.starts_with("start ")), "{calls:?}");
}
