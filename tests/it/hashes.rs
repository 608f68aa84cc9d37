//! The recreate decision's hashes: pinned for `every-node.kdl`, so that a change which would
//! recreate users' containers after an upgrade shows up here first; and unchanged by an
//! optional field left at its default.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use stackr_reconcile::desired::{Desired, Inputs, SecretValue, desired};
use stackr_reconcile::hash::spec_hash;
use stackr_spec::{MemoryReader, Options, load};

use crate::support::{fixture_vars, root};

/// `every-node.kdl` loaded from a fixed directory, so host paths (binds, build contexts) and
/// with them the hashes do not depend on where the repository is checked out.
fn every_node() -> Desired {
    let dir = Path::new("/srv/fixtures");
    let mut reader = MemoryReader::default();
    for file in ["every-node.kdl", "common.kdl"] {
        let text = std::fs::read_to_string(root().join("tests/fixtures/valid").join(file))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        reader.files.insert(dir.join(file), text);
    }
    let opts = Options {
        vars: Some(fixture_vars()),
        ..Options::default()
    };
    let loaded = load(&[dir.join("every-node.kdl")], &reader, &opts);
    let Some(stack) = loaded.stack else {
        panic!("every-node.kdl does not load: {:?}", loaded.diagnostics);
    };
    let inputs = Inputs {
        image_ids: BTreeMap::from([("postgres:16".to_string(), "sha256:0123".to_string())]),
        env_files: BTreeMap::from([(
            PathBuf::from("/srv/fixtures/api.env"),
            vec![("FROM_FILE".to_string(), "1".to_string())],
        )]),
        probe_volume: Some("stackr-probe-000000000000".into()),
        secrets: stack
            .secrets
            .keys()
            .map(|k| (k.clone(), SecretValue(format!("value of {k}").into_bytes())))
            .collect(),
        ..Inputs::default()
    };
    desired(&stack, &inputs).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_spec_hashes_of_every_node_are_pinned() {
    let hashes: Vec<String> = every_node()
        .services
        .iter()
        .flat_map(|s| s.containers.iter())
        .map(|c| format!("{} {}", c.spec.name, c.hash))
        .collect();
    insta::assert_snapshot!(hashes.join("\n"));
}

#[test]
fn an_optional_field_left_at_its_default_changes_no_hash() {
    for s in &every_node().services {
        for c in &s.containers {
            let image_id = c
                .spec
                .labels
                .get(stackr_engine::LABEL_IMAGE_ID)
                .cloned()
                .unwrap_or_default();
            let mut spec = c.spec.clone();
            for label in [stackr_engine::LABEL_HASH, stackr_engine::LABEL_SPEC] {
                spec.labels.remove(label);
            }
            spec.labels.remove(stackr_engine::LABEL_IMAGE_ID);
            let mut value = serde_json::to_value(&spec).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(spec_hash(&value, &image_id), c.hash, "{}", c.spec.name);
            // What a later stackr adds: options, flags, lists and maps, all left unset.
            let Some(obj) = value.as_object_mut() else {
                panic!("a spec is an object");
            };
            obj.insert("future_option".into(), serde_json::Value::Null);
            obj.insert("future_flag".into(), serde_json::Value::Bool(false));
            obj.insert("future_list".into(), serde_json::json!([]));
            obj.insert("future_map".into(), serde_json::json!({}));
            obj.insert("future_block".into(), serde_json::json!({"inner": null}));
            assert_eq!(
                spec_hash(&value, &image_id),
                c.hash,
                "{}: a default field changed the hash",
                c.spec.name
            );
            // A field that is set does change it.
            value["future_flag"] = serde_json::Value::Bool(true);
            assert_ne!(spec_hash(&value, &image_id), c.hash, "{}", c.spec.name);
        }
    }
}
