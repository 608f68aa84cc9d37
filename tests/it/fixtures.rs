//! Data-driven fixtures: every file in `tests/fixtures/invalid` must fail with the code its
//! header names, and its rendered diagnostics are snapshotted; every file in
//! `tests/fixtures/valid` must load, and its warnings are snapshotted.

use std::fmt::Write;

use crate::support::{expected_code, load_fixture, render_all, root};

#[test]
fn invalid_fixtures() {
    let mut count = 0;
    insta::glob!("..", "fixtures/invalid/*.kdl", |path| {
        count += 1;
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{e}"));
        let text = String::from_utf8_lossy(&bytes);
        let loaded = load_fixture(path);
        assert!(
            loaded.has_errors(),
            "{} should be invalid but loaded",
            path.display()
        );
        let code = expected_code(&text)
            .unwrap_or_else(|| panic!("{} has no `// expect: CODE` header", path.display()));
        assert!(
            loaded
                .diagnostics
                .iter()
                .any(|d| d.is_error() && d.problem.code() == code),
            "{}: expected an error `{code}`, got {:?}",
            path.display(),
            loaded
                .diagnostics
                .iter()
                .map(|d| d.problem.code())
                .collect::<Vec<_>>()
        );
        insta::assert_snapshot!(render_all(&loaded));
    });
    assert!(count >= 40, "only {count} invalid fixtures");
}

#[test]
fn valid_fixtures() {
    insta::glob!("..", "fixtures/valid/*.kdl", |path| {
        let loaded = load_fixture(path);
        let stack = loaded.stack.as_ref().unwrap_or_else(|| {
            panic!(
                "{} should be valid:\n{}",
                path.display(),
                render_all(&loaded)
            )
        });
        let mut summary = String::new();
        let _ = writeln!(summary, "stack: {}", stack.name);
        for (i, wave) in stack.waves.iter().enumerate() {
            let _ = writeln!(summary, "wave {}: {}", i + 1, wave.join(", "));
        }
        let _ = writeln!(
            summary,
            "networks: {}",
            stack
                .networks
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
        if !stack.available_profiles.is_empty() {
            let _ = writeln!(summary, "profiles: {}", stack.available_profiles.join(", "));
        }
        for s in stack.services.values() {
            let u = stackr_spec::update::update_of(s);
            let r = stackr_spec::update::rollback_of(s);
            let _ = writeln!(
                summary,
                "update {}: {}; rollback: {}",
                s.name.value,
                rollout(&u),
                rollout(&r)
            );
        }
        let _ = writeln!(summary, "---");
        summary.push_str(&render_all(&loaded));
        insta::assert_snapshot!(summary);
    });
}

/// An update or rollback in one line: what `plan` and `up` will do.
fn rollout(r: &stackr_spec::update::Rollout) -> String {
    let at_once = match r.parallelism {
        0 => "all at once".to_string(),
        n => format!("{n} at a time"),
    };
    let d = stackr_spec::units::format_duration;
    format!(
        "{}, {at_once}, delay {}, monitor {}, on failure {}, max failure ratio {}",
        r.order.as_str(),
        d(r.delay),
        d(r.monitor),
        r.failure_action.as_str(),
        r.max_failure_ratio
    )
}

/// Every problem in a file is reported in one run.
#[test]
fn all_problems_reported_at_once() {
    let path = root().join("tests/fixtures/invalid/many-problems-at-once.kdl");
    let loaded = load_fixture(&path);
    let codes: Vec<&str> = loaded
        .diagnostics
        .iter()
        .map(|d| d.problem.code())
        .collect();
    for code in [
        "unknown-reference",
        "invalid-size",
        "invalid-value",
        "port-conflict",
    ] {
        assert!(codes.contains(&code), "missing {code} in {codes:?}");
    }
    assert!(loaded.diagnostics.len() >= 5, "{codes:?}");
}
