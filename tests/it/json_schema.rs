//! The JSON Schema of `stackr config --format json` (`book/src/schema/stack.schema.json`):
//! it is the model's (generated from the types `config` serializes), and the JSON of every
//! valid fixture, example and book snippet, in the base and with each profile, matches it.

use std::path::{Path, PathBuf};

use serde_json::Value;
use stackr_spec::{FileReader, Options, Stack};

use crate::book::{blocks, markdown_files};
use crate::cli::{run, stackr};
use crate::support::{FixtureReader, fixture_vars, kdl_files, root};

fn published() -> PathBuf {
    root().join("book/src/schema/stack.schema.json")
}

fn generated() -> String {
    let schema = stackr_spec::stack_schema();
    serde_json::to_string_pretty(&schema).unwrap_or_else(|e| panic!("{e}")) + "\n"
}

#[test]
fn the_published_schema_is_the_models() {
    let now = generated();
    if std::env::var_os("STACKR_BLESS").is_some() {
        std::fs::write(published(), &now).unwrap_or_else(|e| panic!("{e}"));
    }
    let written = std::fs::read_to_string(published()).unwrap_or_default();
    assert!(
        written == now,
        "book/src/schema/stack.schema.json is not the model's schema; run STACKR_BLESS=1 cargo test --test it json_schema"
    );
}

/// The stack of `path` in the base and with each of its profiles.
fn stacks(
    path: &Path,
    reader: &dyn FileReader,
    vars: &std::collections::BTreeMap<String, String>,
) -> Vec<Stack> {
    let opts = Options {
        vars: Some(vars.clone()),
        ..Options::default()
    };
    let base = stackr_spec::load(&[path.to_path_buf()], reader, &opts);
    let Some(stack) = base.stack else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for profile in &stack.available_profiles {
        let with = Options {
            profiles: vec![profile.clone()],
            ..opts.clone()
        };
        out.extend(stackr_spec::load(&[path.to_path_buf()], reader, &with).stack);
    }
    out.push(stack);
    out
}

fn errors(validator: &jsonschema::Validator, json: &Value) -> Vec<String> {
    validator
        .iter_errors(json)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .take(5)
        .collect()
}

#[test]
fn config_json_of_every_fixture_example_and_snippet_matches_the_schema() {
    let schema: Value =
        serde_json::to_value(stackr_spec::stack_schema()).unwrap_or_else(|e| panic!("{e}"));
    let validator = jsonschema::validator_for(&schema)
        .unwrap_or_else(|e| panic!("the schema is not a schema: {e}"));
    let mut checked = 0;
    let mut wrong = Vec::new();
    let mut check = |place: String, json: Value| {
        checked += 1;
        let found = errors(&validator, &json);
        if !found.is_empty() {
            wrong.push(format!("{place}: {found:?}"));
        }
    };
    // The fixtures, through the library (as `config` serializes them).
    for f in &kdl_files("tests/fixtures/valid") {
        let all = stacks(f, &FixtureReader, &fixture_vars());
        assert!(!all.is_empty(), "{} does not load", f.display());
        for s in all {
            let json = serde_json::to_value(&s).unwrap_or_else(|e| panic!("{e}"));
            check(format!("{} {:?}", f.display(), s.profiles), json);
        }
    }
    // The book's valid snippets.
    let mut md = Vec::new();
    markdown_files(&root().join("book/src"), &mut md);
    md.sort();
    let vars =
        std::collections::BTreeMap::from([("DB_PASSWORD".to_string(), "example".to_string())]);
    for f in md {
        for b in blocks(&f).into_iter().filter(|b| !b.invalid) {
            let mut reader = stackr_spec::MemoryReader::default();
            let path = PathBuf::from("/book/snippet/stack.kdl");
            reader.files.insert(path.clone(), b.text.clone());
            for s in stacks(&path, &reader, &vars) {
                let json = serde_json::to_value(&s).unwrap_or_else(|e| panic!("{e}"));
                check(
                    format!("{}:{} {:?}", b.file.display(), b.line, s.profiles),
                    json,
                );
            }
        }
    }
    // The examples and the root stack file, through `stackr config --format json` itself.
    for (dir, profiles) in [
        (root(), vec![None]),
        (
            root().join("examples/residency-scheduler"),
            vec![None, Some("dev"), Some("prod")],
        ),
    ] {
        for profile in profiles {
            let mut args = vec!["config", "--format", "json"];
            if let Some(p) = profile {
                args.extend(["--profile", p]);
            }
            let out = run(stackr(&dir).args(&args));
            assert!(out.code == 0, "{}: {}", dir.display(), out.stderr);
            let json: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
            check(
                format!("stackr config in {} {profile:?}", dir.display()),
                json,
            );
        }
    }
    assert!(checked > 150, "only {checked} stacks checked");
    assert!(
        wrong.is_empty(),
        "not as the schema says:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_schema_refuses_what_config_never_prints() {
    let schema: Value =
        serde_json::to_value(stackr_spec::stack_schema()).unwrap_or_else(|e| panic!("{e}"));
    let validator = jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{e}"));
    let loaded = stackr_spec::load_str(
        "stack.kdl",
        "stack \"t\"\nservice \"web\" {\n    image \"nginx\"\n    port \"8080:80\"\n}\n",
        &Options::default(),
    );
    let stack = loaded
        .stack
        .unwrap_or_else(|| panic!("{:?}", loaded.diagnostics));
    let good = serde_json::to_value(&stack).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        errors(&validator, &good).is_empty(),
        "{:?}",
        errors(&validator, &good)
    );
    let mutations: [(&str, Value); 4] = [
        ("/services/web/imagee", Value::from("x")),
        ("/services/web/restart", Value::from("sometimes")),
        ("/services/web/ports/0/target", Value::from(80)),
        ("/services/web/scale", Value::from("three")),
    ];
    for (pointer, value) in mutations {
        let mut bad = good.clone();
        let (parent, key) = pointer.rsplit_once('/').unwrap_or_default();
        match bad.pointer_mut(parent) {
            Some(Value::Object(map)) => {
                map.insert(key.to_string(), value);
            }
            Some(Value::Array(list)) => {
                let i: usize = key.parse().unwrap_or(0);
                list[i] = value;
            }
            _ => panic!("no {parent}"),
        }
        assert!(
            !errors(&validator, &bad).is_empty(),
            "the schema takes {pointer}"
        );
    }
}
