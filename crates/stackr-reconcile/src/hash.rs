//! The hash that decides a recreate: it covers only what the user declared.
//!
//! A container spec is hashed in a canonical form: fields left at their default (`null`,
//! `false`, an empty list or map) are left out and object keys are sorted. A new version of
//! stackr that adds an optional field to `ContainerSpec` therefore changes no hash of a
//! container that does not use it, and no container is recreated after an upgrade (compose's
//! `hash.go` omits empty fields for the same reason).
//!
//! The plan hashes the spec a container was created from (its `io.stackr.spec` label) with
//! the current rules, rather than trusting the hash label an older stackr wrote, so a change
//! of the rules themselves recreates nothing either.
//!
//! The probe volume's name carries the digest of the probe runner (`stackr-probe-{digest}`),
//! which changes with every build of stackr that changes the probe: it is hashed as
//! `stackr-probe`, so an upgrade recreates nothing. A container keeps the probe volume it was
//! created with (volumes in use are never removed), and the arguments it runs the probe with
//! are in its spec: a change of those does recreate it.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// `value` without its default fields, recursively: `None` when nothing is left.
pub fn pruned(value: &Value) -> Option<Value> {
    match value {
        Value::Null | Value::Bool(false) => None,
        Value::Array(items) if items.is_empty() => None,
        Value::Object(map) if map.is_empty() => None,
        Value::Array(items) => Some(Value::Array(
            // Inside a list a default still holds its place: keep it as it is.
            items
                .iter()
                .map(|v| pruned(v).unwrap_or_else(|| v.clone()))
                .collect(),
        )),
        Value::Object(map) => {
            let kept: serde_json::Map<String, Value> = map
                .iter()
                .filter_map(|(k, v)| pruned(v).map(|v| (k.clone(), v)))
                .collect();
            (!kept.is_empty()).then_some(Value::Object(kept))
        }
        other => Some(other.clone()),
    }
}

/// The canonical text of a value: sorted keys, no spaces.
fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                if let Some(v) = map.get(k) {
                    canonical(v, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(v, out);
            }
            out.push(']');
        }
        Value::String(s) if is_probe_volume(s) => {
            out.push_str(&Value::String(PROBE_VOLUME.into()).to_string());
        }
        other => out.push_str(&other.to_string()),
    }
}

/// What every probe volume's name is hashed as.
const PROBE_VOLUME: &str = "stackr-probe";

/// `stackr-probe-` and hex digits: a probe volume's name.
fn is_probe_volume(s: &str) -> bool {
    s.strip_prefix("stackr-probe-")
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The hash of a spec (as JSON) and the id of the image it runs.
pub fn spec_hash(spec: &Value, image_id: &str) -> String {
    let mut text = String::new();
    if let Some(v) = pruned(spec) {
        canonical(&v, &mut text);
    }
    let mut h = Sha256::new();
    h.update(text.as_bytes());
    h.update([0u8]);
    h.update(image_id.as_bytes());
    let digest = h.finalize();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The hash of the spec a container was created from, by the current rules: `spec_json` is
/// its `io.stackr.spec` label. `None` when the label is not readable JSON.
pub fn stored_hash(spec_json: &str, image_id: &str) -> Option<String> {
    let v: Value = serde_json::from_str(spec_json).ok()?;
    Some(spec_hash(&v, image_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_are_left_out_and_keys_sorted() {
        let a = json!({"image": "x", "env": [], "tty": false, "user": null, "labels": {}});
        let b = json!({"image": "x"});
        assert_eq!(spec_hash(&a, "sha256:1"), spec_hash(&b, "sha256:1"));
        let c = json!({"tty": true, "image": "x"});
        let d = json!({"image": "x", "tty": true});
        assert_eq!(spec_hash(&c, ""), spec_hash(&d, ""));
        assert_ne!(spec_hash(&b, ""), spec_hash(&c, ""));
        assert_ne!(spec_hash(&b, "sha256:1"), spec_hash(&b, "sha256:2"));
    }

    #[test]
    fn a_new_probe_runner_recreates_nothing() {
        let old = json!({"mounts": [{"volume": {"source": "stackr-probe-0123abcd", "target": "/.stackr"}}]});
        let new = json!({"mounts": [{"volume": {"source": "stackr-probe-99ff00ee", "target": "/.stackr"}}]});
        assert_eq!(spec_hash(&old, ""), spec_hash(&new, ""));
        let other =
            json!({"mounts": [{"volume": {"source": "stackr-probe-data", "target": "/.stackr"}}]});
        assert_ne!(spec_hash(&old, ""), spec_hash(&other, ""));
    }

    #[test]
    fn a_default_inside_a_list_keeps_its_place() {
        let a = json!({"command": ["sh", "", "x"]});
        let b = json!({"command": ["sh", "x"]});
        assert_ne!(spec_hash(&a, ""), spec_hash(&b, ""));
        let a = json!({"health": {"test": ["CMD"], "retries": null}});
        let b = json!({"health": {"test": ["CMD"]}});
        assert_eq!(spec_hash(&a, ""), spec_hash(&b, ""));
    }
}
