//! Reading what the engine runs for a stack.

use std::collections::{BTreeMap, BTreeSet};

use stackr_engine::{ContainerInfo, Engine, LABEL_STACK, Result};

use crate::desired::Desired;
use crate::plan::Observed;

use stackr_engine::SECRETS_DIGEST_FILE;

/// The content of the first file of a tar archive.
fn first_file(tar: &[u8]) -> Option<String> {
    let mut archive = tar::Archive::new(tar);
    let mut entry = archive.entries().ok()?.next()?.ok()?;
    let mut out = String::new();
    std::io::Read::read_to_string(&mut entry, &mut out).ok()?;
    Some(out)
}

/// Everything [`crate::plan::plan`] needs to know about the engine, read in parallel.
pub async fn observe<E: Engine>(engine: &E, desired: &Desired) -> Result<Observed> {
    let stack = desired.stack.as_str();
    // The machine's CPUs, only when a limit needs them (the engine's `/info` takes a few
    // milliseconds, more than the lists).
    let needs_cpus = desired
        .services
        .iter()
        .any(|s| s.containers.iter().any(|c| c.spec.nano_cpus.is_some()));
    let cpus = async {
        if needs_cpus {
            engine.resources().await.map(|r| Some(r.cpus))
        } else {
            Ok(None)
        }
    };
    // The engine's API version, when a container asks for a field that needs a newer one.
    let needs_api = desired.services.iter().any(|s| {
        !crate::plan::newer_api_build_fields(s.build.as_ref()).is_empty()
            || s.containers
                .iter()
                .any(|c| !crate::plan::newer_api_fields(&c.spec).is_empty())
    });
    let api = async {
        if needs_api {
            engine
                .info()
                .await
                .map(|i| crate::plan::api_of(&i.api_version))
        } else {
            Ok(None)
        }
    };
    // Every stackr container, in one call: this stack's, and the others' whose names this
    // stack must not take.
    let (all, networks, volumes, engine_cpus, engine_api) = futures::try_join!(
        engine.list_all_containers(),
        engine.list_networks(stack),
        engine.list_volumes(stack),
        cpus,
        api
    )?;
    let wanted: BTreeSet<&str> = desired
        .services
        .iter()
        .flat_map(|s| s.containers.iter().map(|c| c.spec.name.as_str()))
        .collect();
    // Of a name held by several networks (an interrupted run's duplicates), how many
    // containers each has: the plan keeps the one in use.
    let mut networks = networks;
    for i in 0..networks.len() {
        let dups = networks
            .iter()
            .filter(|n| n.name == networks[i].name)
            .count();
        if dups > 1
            && let Some(info) = engine.inspect_network(&networks[i].id).await?
        {
            networks[i].attached = info.attached;
        }
    }
    let (containers, others): (Vec<ContainerInfo>, Vec<ContainerInfo>) = all
        .into_iter()
        .partition(|c| c.labels.get(LABEL_STACK).map(String::as_str) == Some(stack));
    let other_stacks_containers = others
        .into_iter()
        .filter(|c| wanted.contains(c.name.as_str()))
        .map(|c| (c.name.clone(), c))
        .collect();
    // What holds the names of this stack's networks and volumes that are not its own.
    let mut foreign_networks = BTreeMap::new();
    for n in desired.networks.iter().filter(|n| !n.external) {
        if networks.iter().any(|o| o.name == n.spec.name) {
            continue;
        }
        if let Some(info) = engine.inspect_network(&n.spec.name).await? {
            foreign_networks.insert(n.spec.name.clone(), info);
        }
    }
    let mut foreign_volumes = BTreeMap::new();
    for v in desired.volumes.iter().filter(|v| !v.external) {
        if volumes.iter().any(|o| o.name == v.spec.name) {
            continue;
        }
        if let Some(info) = engine.inspect_volume(&v.spec.name).await? {
            foreign_volumes.insert(v.spec.name.clone(), info);
        }
    }
    let mut images = BTreeMap::new();
    let refs: Vec<&str> = {
        // The services' images, and those their `pre-start` hooks run from.
        let mut r: Vec<&str> = desired
            .services
            .iter()
            .map(|s| s.image.as_str())
            .chain(desired.services.iter().flat_map(|s| {
                s.pre_start
                    .iter()
                    .flat_map(|h| h.runs.iter().map(|(_, c)| c.spec.image.as_str()))
            }))
            .collect();
        r.sort_unstable();
        r.dedup();
        r
    };
    let found = futures::future::try_join_all(refs.iter().map(|r| engine.inspect_image(r))).await?;
    for (r, info) in refs.into_iter().zip(found) {
        images.insert(r.to_string(), info);
    }
    let mut external_networks = BTreeMap::new();
    for n in desired.networks.iter().filter(|n| n.external) {
        let exists = engine.inspect_network(&n.spec.name).await?.is_some();
        external_networks.insert(n.spec.name.clone(), exists);
    }
    let mut external_volumes = BTreeMap::new();
    for v in desired.volumes.iter().filter(|v| v.external) {
        let info = engine.inspect_volume(&v.spec.name).await?;
        external_volumes.insert(v.spec.name.clone(), info);
    }
    // What the secrets volumes of existing containers hold (digests, never values).
    let mut secret_digests = BTreeMap::new();
    for s in &desired.services {
        for want in s.containers.iter().filter(|c| !c.secrets.is_empty()) {
            let Some(c) = containers.iter().find(|c| c.name == want.spec.name) else {
                continue;
            };
            let path = format!("{}/{SECRETS_DIGEST_FILE}", stackr_engine::SECRETS_DIR);
            if let Ok(tar) = engine.download_archive(&c.id, &path).await
                && let Some(text) = first_file(&tar)
            {
                secret_digests.insert(c.name.clone(), text);
            }
        }
    }
    Ok(Observed {
        engine_cpus,
        engine_api,
        secret_digests,
        containers,
        networks,
        volumes,
        images,
        external_networks,
        external_volumes,
        foreign_networks,
        foreign_volumes,
        other_stacks_containers,
    })
}

/// Desired state, observations and the inputs they were computed with, ready for
/// [`crate::plan::plan`]: image ids and build digests are added to `base` (env files, the
/// probe volume).
pub async fn prepare<E: Engine>(
    engine: &E,
    stack: &stackr_spec::Stack,
    base: crate::desired::Inputs,
) -> std::result::Result<(Desired, Observed, crate::desired::Inputs), crate::apply::ApplyError> {
    let mut inputs = base;
    let first = crate::desired::desired(stack, &inputs)?;
    // The digest of each build's inputs, so that a changed Dockerfile, context or arg rebuilds.
    for s in &first.services {
        let Some(b) = &s.build else { continue };
        if inputs.build_digests.contains_key(&b.tag) {
            continue;
        }
        let spec = b.clone();
        let (digest, bases) = tokio::task::spawn_blocking(move || {
            let bases = match &spec.dockerfile_inline {
                Some(text) => stackr_engine::bases::parse(text, &spec.args),
                None if spec.remote.is_some() => Vec::new(),
                None => {
                    stackr_engine::bases::base_images(&spec.context, &spec.dockerfile, &spec.args)
                }
            };
            stackr_engine::context::build_digest(&spec).map(|d| (d, bases))
        })
        .await
        .map_err(|e| {
            crate::apply::ApplyError::Reconcile(crate::ReconcileError::Internal(e.to_string()))
        })?
        .map_err(|error| crate::apply::ApplyError::Build {
            service: s.name.clone(),
            error,
        })?;
        inputs.build_digests.insert(b.tag.clone(), digest);
        let ids =
            base_ids(engine, bases)
                .await
                .map_err(|error| crate::apply::ApplyError::Engine {
                    context: format!("cannot inspect the base images of `{}`", b.tag),
                    service: Some(s.name.clone()),
                    error,
                })?;
        inputs.build_bases.insert(b.tag.clone(), ids);
    }
    let first = crate::desired::desired(stack, &inputs)?;
    let observed =
        observe(engine, &first)
            .await
            .map_err(|error| crate::apply::ApplyError::Engine {
                context: "cannot read the stack's state from the engine".into(),
                service: None,
                error,
            })?;
    for (reference, info) in &observed.images {
        if let Some(info) = info {
            inputs.image_ids.insert(reference.clone(), info.id.clone());
            inputs
                .image_configs
                .insert(reference.clone(), info.config.clone());
        }
    }
    let desired = crate::desired::desired(stack, &inputs)?;
    Ok((desired, observed, inputs))
}

/// Each base image with its id on the engine, `None` where the engine does not have it.
async fn base_ids<E: Engine>(
    engine: &E,
    bases: Vec<String>,
) -> Result<Vec<(String, Option<String>)>> {
    let found =
        futures::future::try_join_all(bases.iter().map(|r| engine.inspect_image(r))).await?;
    Ok(bases
        .into_iter()
        .zip(found)
        .map(|(r, info)| (r, info.map(|i| i.id)))
        .collect())
}
