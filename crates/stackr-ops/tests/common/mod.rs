//! What the rollout and hook tests share: a stack from text, a context, `up` collecting what
//! it reports, and the position of an engine call.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use stackr_engine::fake::FakeEngine;
use stackr_ops::{Context, OpError, OpEvent, UpOptions};
use stackr_reconcile::apply::ProbeRunner;
use stackr_spec::{Options, Stack, load_str};

/// The valid stack of `text` (a panic listing the diagnostics otherwise).
pub fn load(text: &str) -> Stack {
    let opts = Options {
        vars: Some(BTreeMap::new()),
        ..Options::default()
    };
    let loaded = load_str("/nowhere/stack.kdl", text, &opts);
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

/// A context with a secret `token` (value `t`).
pub fn cx() -> Context {
    let mut base = stackr_reconcile::desired::Inputs::default();
    base.secrets.insert(
        "token".into(),
        stackr_reconcile::desired::SecretValue(b"t".to_vec()),
    );
    Context {
        base,
        probe: ProbeRunner {
            volume: "stackr-probe-test".into(),
            image: "stackr-probe:test".into(),
            binary: b"probe",
        },
        holder: "pid 1 on test".into(),
    }
}

/// A fake engine with the image `api:1`.
pub fn engine() -> FakeEngine {
    let e = FakeEngine::new();
    e.add_image("api:1");
    e
}

/// `up`, returning what it reported.
pub async fn up(e: &FakeEngine, s: &Stack) -> Result<Vec<OpEvent>, OpError> {
    let events = Mutex::new(Vec::new());
    let sink = |ev: OpEvent| {
        if let Ok(mut v) = events.lock() {
            v.push(ev);
        }
    };
    let o = UpOptions {
        lock_wait: Duration::from_millis(200),
        ..UpOptions::default()
    };
    stackr_ops::up(e, s, &cx(), &o, None, &sink).await?;
    Ok(events.into_inner().unwrap_or_default())
}

/// The position of a call, which must have been made.
pub fn at(calls: &[String], call: &str) -> usize {
    calls
        .iter()
        .position(|c| c == call)
        .unwrap_or_else(|| panic!("no call `{call}` in {calls:#?}"))
}
