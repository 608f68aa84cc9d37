//! The stack's lock on a swarm, on the fake swarm: a live holder keeps it (and is named), a
//! released lock is free at once, and a lease that ran out (a holder that died) is taken over.

use std::collections::BTreeMap;
use std::time::Duration;

use stackr_engine::fake::FakeEngine;
use stackr_engine::swarm::{ServiceMode, ServiceSpec, Swarm};
use stackr_engine::{LABEL_LOCK, LABEL_LOCK_HOLDER};
use stackr_reconcile::lock::LockError;
use stackr_swarm::lock::{LABEL_LOCK_UNTIL, SwarmLock, lock_name};

fn swarm() -> FakeEngine {
    let e = FakeEngine::new();
    e.join_swarm(3);
    e
}

#[tokio::test]
async fn a_live_holder_keeps_the_lock_and_is_named() {
    let e = swarm();
    let a = SwarmLock::acquire(&e, "shop", "pid 1 on a", Duration::ZERO)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    match SwarmLock::acquire(&e, "shop", "pid 2 on b", Duration::ZERO).await {
        Err(LockError::Busy { holder, .. }) => assert_eq!(holder.as_deref(), Some("pid 1 on a")),
        other => panic!("the lock was taken from a live holder: {other:?}"),
    }
    // Another stack's lock is another lock.
    SwarmLock::acquire(&e, "other", "pid 2 on b", Duration::ZERO)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    a.release(&e).await;
    SwarmLock::acquire(&e, "shop", "pid 2 on b", Duration::ZERO)
        .await
        .unwrap_or_else(|err| panic!("a released lock is free: {err}"));
}

#[tokio::test]
async fn a_lease_that_ran_out_is_taken_over() {
    let e = swarm();
    // A holder that died: its lease ended a minute ago.
    let spec = ServiceSpec {
        name: lock_name("shop"),
        labels: BTreeMap::from([
            (LABEL_LOCK.to_string(), "shop".to_string()),
            (LABEL_LOCK_HOLDER.to_string(), "pid 9 on gone".to_string()),
            (LABEL_LOCK_UNTIL.to_string(), "60".to_string()),
        ]),
        image: "stackr-lock".into(),
        mode: ServiceMode::Replicated { replicas: 0 },
        ..ServiceSpec::default()
    };
    e.create_service(&spec)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let lock = SwarmLock::acquire(&e, "shop", "pid 2 on b", Duration::ZERO)
        .await
        .unwrap_or_else(|err| panic!("a lease that ran out must be taken over: {err}"));
    let found = e
        .inspect_service(&lock_name("shop"))
        .await
        .unwrap_or_else(|err| panic!("{err}"))
        .unwrap_or_else(|| panic!("no lock service"));
    assert_eq!(
        found.labels.get(LABEL_LOCK_HOLDER).map(String::as_str),
        Some("pid 2 on b")
    );
    lock.release(&e).await;
    assert!(
        e.inspect_service(&lock_name("shop"))
            .await
            .unwrap_or_default()
            .is_none()
    );
}
