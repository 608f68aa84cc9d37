//! Rules of ARCHITECTURE.md that a test can hold: the binary's modules import each other
//! without a circle, and only `stackr-docker` depends on bollard.

use std::collections::{BTreeMap, BTreeSet};

use crate::support::root;

/// Each module of `src/` and the modules of `src/` it names (`crate::NAME`).
fn binary_modules() -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    let dir = root().join("src");
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{e}")) {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        let Some(name) = path.file_stem().map(|s| s.to_string_lossy().into_owned()) else {
            continue;
        };
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
        let uses: BTreeSet<String> = text
            .split("crate::")
            .skip(1)
            .map(|rest| {
                rest.chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect::<String>()
            })
            .filter(|m| !m.is_empty() && *m != name && m.chars().all(|c| !c.is_uppercase()))
            .collect();
        out.insert(name, uses);
    }
    out
}

/// A circle through `from`, if there is one.
fn circle(graph: &BTreeMap<String, BTreeSet<String>>, from: &str) -> Option<Vec<String>> {
    let mut stack = vec![(from.to_string(), vec![from.to_string()])];
    let mut seen = BTreeSet::new();
    while let Some((at, path)) = stack.pop() {
        for next in graph.get(&at).into_iter().flatten() {
            if next == from {
                let mut p = path.clone();
                p.push(next.clone());
                return Some(p);
            }
            if seen.insert(next.clone()) {
                let mut p = path.clone();
                p.push(next.clone());
                stack.push((next.clone(), p));
            }
        }
    }
    None
}

#[test]
fn the_binary_modules_import_each_other_without_a_circle() {
    let graph = binary_modules();
    assert!(graph.len() > 10, "{graph:?}");
    for m in graph.keys() {
        if let Some(c) = circle(&graph, m) {
            panic!(
                "the binary's modules import each other in a circle: {}",
                c.join(" -> ")
            );
        }
    }
}

#[test]
fn only_stackr_docker_depends_on_bollard() {
    let crates = root().join("crates");
    let mut with_bollard = Vec::new();
    for entry in std::fs::read_dir(&crates).unwrap_or_else(|e| panic!("{e}")) {
        let dir = entry.unwrap_or_else(|e| panic!("{e}")).path();
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
        if manifest
            .lines()
            .any(|l| l.trim_start().starts_with("bollard"))
        {
            with_bollard.push(dir.file_name().map(|n| n.to_string_lossy().into_owned()));
        }
    }
    let root_manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap_or_default();
    let bin_deps = root_manifest
        .split("[dependencies]")
        .nth(1)
        .and_then(|s| s.split("\n[").next())
        .unwrap_or_default();
    assert!(
        !bin_deps
            .lines()
            .any(|l| l.trim_start().starts_with("bollard")),
        "the binary depends on bollard"
    );
    assert_eq!(with_bollard, [Some("stackr-docker".to_string())]);
}
