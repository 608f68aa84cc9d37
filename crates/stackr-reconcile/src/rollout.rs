//! Rolling updates, the plan's side: which containers are replaced in which batches, the
//! temporary name a new container has while its old one still runs, and the spec a container
//! was created from, to go back to.
//!
//! Names during a start-first replace: the new container is created as `{name}-next` (with the
//! service's network aliases, so the service's name answers from both), and renamed to
//! `{name}` once the old one is removed. Both carry the slot's number label. An interruption
//! leaves one of: the old container alone (replaced again), the old one and a `-next` (the
//! `-next` is adopted when it has the wanted spec, removed otherwise), or a `-next` alone
//! (renamed). Never more than one old and one new container per slot.

use std::collections::BTreeMap;

use serde::Serialize;
use stackr_engine::{ContainerInfo, ContainerSpec, LABEL_HASH, LABEL_IMAGE_ID, LABEL_SPEC};
use stackr_spec::update::Rollout;

/// Where a container's secrets volume is recorded (its name changes with the slot's
/// temporaries, so it is not derived from the container's name).
pub const LABEL_SECRETS_VOLUME: &str = "io.stackr.secrets-volume";
/// The spec a container replaced, for `stackr rollback` (as `io.stackr.spec` holds it).
pub const LABEL_PREVIOUS_SPEC: &str = "io.stackr.previous-spec";
/// The image id that spec ran.
pub const LABEL_PREVIOUS_IMAGE_ID: &str = "io.stackr.previous-image-id";
/// Set on a container made by `stackr rollback`: the stack file wants another spec.
pub const LABEL_ROLLED_BACK: &str = "io.stackr.rolled-back";

/// What the temporary name of a slot's new container ends with.
pub const NEXT_SUFFIX: &str = "-next";

/// The temporary name of a slot's new container while its old one runs.
pub fn next_name(name: &str) -> String {
    format!("{name}{NEXT_SUFFIX}")
}

/// A spec to create a slot's container from: what the stack file wants, or what a container
/// was created from before (for a rollback).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub spec: ContainerSpec,
    pub hash: String,
}

/// The spec a container was created from, with the image id it ran and its labels as they
/// were: creating it again gives a container the plan counts as the same. `None` for a
/// container whose labels do not say (not made by stackr, or too old).
pub fn created_from(c: &ContainerInfo) -> Option<Target> {
    let mut t = previous_target(
        c.labels.get(LABEL_SPEC)?,
        c.labels.get(LABEL_IMAGE_ID).map(String::as_str),
    )?;
    if let Some(v) = c.labels.get(LABEL_SECRETS_VOLUME) {
        t.spec
            .labels
            .insert(LABEL_SECRETS_VOLUME.to_string(), v.clone());
    }
    Some(t)
}

/// The secrets volume a container made from `spec` mounts: the label when it has one, else
/// the mount at `/run/secrets`.
pub fn secrets_volume_of(spec: &ContainerSpec) -> Option<String> {
    if let Some(v) = spec.labels.get(LABEL_SECRETS_VOLUME) {
        return Some(v.clone());
    }
    spec.mounts.iter().find_map(|m| match m {
        stackr_engine::MountSpec::Volume {
            source: Some(src),
            target,
            ..
        } if target == stackr_engine::SECRETS_DIR => Some(src.clone()),
        _ => None,
    })
}

/// `spec` with its secrets in `volume` (the label says which).
pub fn with_secrets_volume(mut spec: ContainerSpec, volume: &str) -> ContainerSpec {
    for m in &mut spec.mounts {
        if let stackr_engine::MountSpec::Volume {
            source: Some(src),
            target,
            ..
        } = m
            && target == stackr_engine::SECRETS_DIR
        {
            *src = volume.to_string();
            spec.labels
                .insert(LABEL_SECRETS_VOLUME.to_string(), volume.to_string());
        }
    }
    spec
}

/// The spec a container replaced (its `previous` labels), for `stackr rollback`.
pub fn replaced_by(c: &ContainerInfo) -> Option<Target> {
    previous_target(
        c.labels.get(LABEL_PREVIOUS_SPEC)?,
        c.labels.get(LABEL_PREVIOUS_IMAGE_ID).map(String::as_str),
    )
}

fn previous_target(json: &str, image_id: Option<&str>) -> Option<Target> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    let mut spec: ContainerSpec = serde_json::from_value(value.clone()).ok()?;
    let image_id = image_id.unwrap_or("");
    let hash = crate::hash::spec_hash(&value, image_id);
    spec.labels.insert(LABEL_HASH.into(), hash.clone());
    spec.labels.insert(LABEL_SPEC.into(), json.to_string());
    spec.labels
        .insert(LABEL_IMAGE_ID.into(), image_id.to_string());
    // The image it ran, by id: its tag may name another image by now.
    if !image_id.is_empty() {
        spec.image = image_id.to_string();
    }
    Some(Target { spec, hash })
}

/// A service's rolling update in the plan: its policy, the one its rollback follows, and the
/// containers of each batch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RolloutPlan {
    pub service: String,
    pub update: Rollout,
    pub rollback: Rollout,
    /// Container names, batch by batch.
    pub batches: Vec<Vec<String>>,
    /// `stackr rollback`: going back to the specs the containers replaced.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub is_rollback: bool,
}

impl RolloutPlan {
    /// The batches of `names` (in slot order) for a policy.
    pub fn batches(policy: &Rollout, names: Vec<String>) -> Vec<Vec<String>> {
        let size = policy.batch_size(names.len());
        names.chunks(size).map(<[String]>::to_vec).collect()
    }

    /// One line: order, batches, what a failure does.
    pub fn summary(&self) -> String {
        let u = &self.update;
        let sizes: Vec<usize> = self.batches.iter().map(Vec::len).collect();
        let batches = match sizes.as_slice() {
            [one] => format!("1 batch of {one}"),
            _ if sizes.iter().all(|s| *s == sizes[0]) => {
                format!("{} batches of {}", sizes.len(), sizes[0])
            }
            _ => format!(
                "{} batches ({})",
                sizes.len(),
                sizes
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let mut parts = vec![u.order.as_str().to_string(), batches];
        if !u.delay.is_zero() {
            parts.push(format!(
                "{} between batches",
                stackr_spec::units::format_duration(u.delay)
            ));
        }
        if !u.monitor.is_zero() {
            parts.push(format!(
                "each watched for {}",
                stackr_spec::units::format_duration(u.monitor)
            ));
        }
        if !self.is_rollback {
            parts.push(format!("on failure: {}", u.failure_action.as_str()));
        }
        parts.join(", ")
    }
}

/// The labels a replacing container adds to its target's: the spec it replaces (as made by
/// `created_from`), for `stackr rollback`. Not part of the spec's hash.
pub fn previous_labels(old: &ContainerSpec) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(spec) = old.labels.get(LABEL_SPEC) {
        out.insert(LABEL_PREVIOUS_SPEC.to_string(), spec.clone());
        if let Some(id) = old.labels.get(LABEL_IMAGE_ID) {
            out.insert(LABEL_PREVIOUS_IMAGE_ID.to_string(), id.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use stackr_engine::{HealthSpec, MountSpec, NetworkAttachment};

    /// The stored spec leaves default fields out (`false`, empty lists): a writable volume, a
    /// network without aliases or a health check inheriting the image's test made the spec
    /// unreadable, so the container had no way back (`stackr rollback`, a failed update).
    #[test]
    fn the_spec_of_a_container_with_a_writable_volume_reads_back() {
        let spec = ContainerSpec {
            name: "s-api-1".into(),
            image: "api:1".into(),
            mounts: vec![MountSpec::Volume {
                source: Some("s_data".into()),
                target: "/data".into(),
                read_only: false,
                subpath: None,
            }],
            networks: vec![NetworkAttachment {
                network: "s_default".into(),
                network_id: None,
                aliases: Vec::new(),
                ipv4_address: None,
                ipv6_address: None,
                ..NetworkAttachment::default()
            }],
            health: Some(HealthSpec {
                retries: Some(5),
                ..HealthSpec::default()
            }),
            ..ContainerSpec::default()
        };
        let value = serde_json::to_value(&spec).unwrap_or_default();
        let json = crate::hash::pruned(&value).unwrap_or_default().to_string();
        let target = previous_target(&json, Some("sha256:1")).map(|t| t.spec);
        assert_eq!(target.as_ref().map(|s| &s.mounts), Some(&spec.mounts));
        assert_eq!(target.as_ref().map(|s| &s.networks), Some(&spec.networks));
        assert_eq!(target.map(|s| s.health), Some(spec.health));
    }
}
