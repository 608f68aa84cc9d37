//! Overlaying declarations: a profile on the base, a later file on an earlier one.
//!
//! Compose's override rules: maps merge by key, lists append with de-duplication keys (ports
//! by value, mounts by target, env by name, secrets by target), scalars replace, and
//! `command`, `entrypoint` and the health test replace.

use crate::model::*;

pub(crate) fn replace<T>(base: &mut Option<T>, over: Option<T>) {
    if over.is_some() {
        *base = over;
    }
}

fn merge_by_key<T, K: PartialEq>(base: &mut Vec<T>, over: Vec<T>, key: impl Fn(&T) -> K) {
    for item in over {
        let k = key(&item);
        match base.iter_mut().find(|b| key(b) == k) {
            Some(slot) => *slot = item,
            None => base.push(item),
        }
    }
}

pub(crate) fn merge_kv(base: &mut Vec<KeyValue>, over: Vec<KeyValue>) {
    merge_by_key(base, over, |kv| kv.key.value.clone());
}

pub(crate) fn append_unique<T: PartialEq, K: PartialEq>(
    base: &mut Vec<T>,
    over: Vec<T>,
    key: impl Fn(&T) -> K,
) {
    for item in over {
        let k = key(&item);
        if !base.iter().any(|b| key(b) == k) {
            base.push(item);
        }
    }
}

/// Overlays one service on another.
pub fn merge_service(base: &mut Service, over: Service) {
    // Every field, by name: a new field of `Service` does not compile until it is merged.
    let Service {
        span: _,
        name: _,
        image,
        build,
        command,
        entrypoint,
        env,
        env_files,
        ports,
        expose,
        mounts,
        networks,
        network_mode,
        health,
        depends_on,
        restart,
        scale,
        container_name,
        user,
        working_dir,
        labels,
        init,
        tty,
        stdin_open,
        stop_signal,
        stop_grace_period,
        limits,
        reservations,
        shm_size,
        devices,
        read_only,
        privileged,
        cap_add,
        cap_drop,
        no_new_privileges,
        security_opt,
        ulimits,
        sysctls,
        logging,
        extra_hosts,
        hostname,
        pull_policy,
        secrets,
        configs,
        watch,
        acknowledge,
        update,
        rollback,
        pre_start,
        post_start,
        pre_stop,
        placement,
        endpoint_mode,
        options,
    } = over;
    crate::options::merge(&mut base.options, *options);
    replace(&mut base.image, image);
    match (&mut base.build, build) {
        (Some(b), Some(o)) => {
            b.span = o.span;
            if o.context.is_some() {
                b.remote = None;
            }
            if o.remote.is_some() {
                b.context = None;
            }
            replace(&mut b.context, o.context);
            replace(&mut b.remote, o.remote);
            // A Dockerfile named by the profile replaces one written inline, and the reverse.
            if o.dockerfile.is_some() {
                b.dockerfile_inline = None;
            }
            if o.dockerfile_inline.is_some() {
                b.dockerfile = None;
            }
            replace(&mut b.dockerfile, o.dockerfile);
            replace(&mut b.dockerfile_inline, o.dockerfile_inline);
            replace(&mut b.target, o.target);
            merge_kv(&mut b.args, o.args);
            if !o.pre_build.is_empty() {
                b.pre_build = o.pre_build;
            }
            append_unique(&mut b.tags, o.tags, |t| t.value.clone());
            merge_kv(&mut b.labels, o.labels);
            append_unique(&mut b.cache_from, o.cache_from, |t| t.value.clone());
            replace(&mut b.network, o.network);
            replace(&mut b.platform, o.platform);
            replace(&mut b.shm_size, o.shm_size);
            // An overlay's secret replaces the base's of the same name (its `id` may differ).
            for secret in o.secrets {
                b.secrets.retain(|x| x.name.value != secret.name.value);
                b.secrets.push(secret);
            }
            append_unique(&mut b.ssh, o.ssh, |t| t.value.clone());
            merge_kv(&mut b.additional_contexts, o.additional_contexts);
        }
        (slot @ None, Some(o)) => *slot = Some(o),
        (_, None) => {}
    }
    replace(&mut base.command, command);
    replace(&mut base.entrypoint, entrypoint);
    merge_by_key(&mut base.env, env, |v| v.name.value.clone());
    append_unique(&mut base.env_files, env_files, |f| f.path.value.clone());
    append_unique(&mut base.ports, ports, |p| p.value.clone());
    append_unique(&mut base.expose, expose, |p| p.value);
    merge_by_key(&mut base.mounts, mounts, |m| m.target.value.clone());
    merge_by_key(&mut base.networks, networks, |n| n.name.value.clone());
    replace(&mut base.network_mode, network_mode);
    match (&mut base.health, health) {
        (Some(b), Some(o)) => {
            b.span = o.span;
            replace(&mut b.test, o.test);
            replace(&mut b.interval, o.interval);
            replace(&mut b.timeout, o.timeout);
            replace(&mut b.retries, o.retries);
            replace(&mut b.start_period, o.start_period);
            replace(&mut b.start_interval, o.start_interval);
            replace(&mut b.disabled, o.disabled);
        }
        (slot @ None, Some(o)) => *slot = Some(o),
        (_, None) => {}
    }
    merge_by_key(&mut base.depends_on, depends_on, |d| {
        d.service.value.clone()
    });
    replace(&mut base.restart, restart);
    replace(&mut base.scale, scale);
    replace(&mut base.container_name, container_name);
    replace(&mut base.user, user);
    replace(&mut base.working_dir, working_dir);
    merge_kv(&mut base.labels, labels);
    replace(&mut base.init, init);
    replace(&mut base.tty, tty);
    replace(&mut base.stdin_open, stdin_open);
    replace(&mut base.stop_signal, stop_signal);
    replace(&mut base.stop_grace_period, stop_grace_period);
    merge_resources(&mut base.limits, limits);
    merge_resources(&mut base.reservations, reservations);
    replace(&mut base.shm_size, shm_size);
    append_unique(&mut base.devices, devices, |d| d.value.clone());
    replace(&mut base.read_only, read_only);
    replace(&mut base.privileged, privileged);
    append_unique(&mut base.cap_add, cap_add, |d| d.value.clone());
    append_unique(&mut base.cap_drop, cap_drop, |d| d.value.clone());
    replace(&mut base.no_new_privileges, no_new_privileges);
    append_unique(&mut base.security_opt, security_opt, |d| d.value.clone());
    merge_by_key(&mut base.ulimits, ulimits, |u| u.name.value.clone());
    merge_kv(&mut base.sysctls, sysctls);
    match (&mut base.logging, logging) {
        (Some(b), Some(o)) if b.driver.value == o.driver.value => {
            merge_kv(&mut b.options, o.options)
        }
        (slot, Some(o)) => *slot = Some(o),
        (_, None) => {}
    }
    merge_kv(&mut base.extra_hosts, extra_hosts);
    replace(&mut base.hostname, hostname);
    replace(&mut base.pull_policy, pull_policy);
    merge_by_key(&mut base.secrets, secrets, FileRef::secret_path);
    merge_by_key(&mut base.configs, configs, FileRef::config_path);
    append_unique(&mut base.acknowledge, acknowledge, |a| a.value.clone());
    merge_update(&mut base.update, update);
    // Hooks append, as compose's sequences do.
    base.pre_start.extend(pre_start);
    base.post_start.extend(post_start);
    base.pre_stop.extend(pre_stop);
    merge_update(&mut base.rollback, rollback);
    replace(&mut base.endpoint_mode, endpoint_mode);
    match (&mut base.placement, placement) {
        (Some(b), Some(o)) => {
            b.span = o.span;
            append_unique(&mut b.constraints, o.constraints, |c| c.value.clone());
            if !o.spread.is_empty() {
                b.spread = o.spread;
            }
            replace(&mut b.max_per_node, o.max_per_node);
        }
        (slot @ None, Some(o)) => *slot = Some(o),
        (_, None) => {}
    }
    append_unique(&mut base.watch, watch, |w| {
        (
            w.action.value,
            w.path.value.clone(),
            w.target.as_ref().map(|t| t.value.clone()),
        )
    });
}

fn merge_update(base: &mut Option<Box<UpdatePolicy>>, over: Option<Box<UpdatePolicy>>) {
    match (base, over) {
        (Some(b), Some(o)) => {
            b.span = o.span;
            replace(&mut b.order, o.order);
            replace(&mut b.parallelism, o.parallelism);
            replace(&mut b.delay, o.delay);
            replace(&mut b.monitor, o.monitor);
            replace(&mut b.failure_action, o.failure_action);
            replace(&mut b.max_failure_ratio, o.max_failure_ratio);
        }
        (slot @ None, Some(o)) => *slot = Some(o),
        (_, None) => {}
    }
}

fn merge_resources(base: &mut Resources, over: Resources) {
    replace(&mut base.cpus, over.cpus);
    replace(&mut base.memory, over.memory);
    replace(&mut base.pids, over.pids);
}

fn merge_network(base: &mut Network, over: Network) {
    replace(&mut base.engine_name, over.engine_name);
    replace(&mut base.driver, over.driver);
    replace(&mut base.internal, over.internal);
    replace(&mut base.external, over.external);
    replace(&mut base.attachable, over.attachable);
    merge_kv(&mut base.labels, over.labels);
    merge_kv(&mut base.driver_opts, over.driver_opts);
    replace(&mut base.enable_ipv6, over.enable_ipv6);
    replace(&mut base.ipam, over.ipam);
}

fn merge_volume(base: &mut Volume, over: Volume) {
    replace(&mut base.engine_name, over.engine_name);
    replace(&mut base.driver, over.driver);
    merge_kv(&mut base.driver_opts, over.driver_opts);
    replace(&mut base.external, over.external);
    merge_kv(&mut base.labels, over.labels);
}

/// Overlays declarations (a profile's, or a later file's) on a base.
pub fn merge_declarations(base: &mut Declarations, over: Declarations) {
    replace(&mut base.target, over.target);
    for s in over.services {
        match base
            .services
            .iter_mut()
            .find(|b| b.name.value == s.name.value)
        {
            Some(b) => merge_service(b, s),
            None => base.services.push(s),
        }
    }
    for n in over.networks {
        match base
            .networks
            .iter_mut()
            .find(|b| b.name.value == n.name.value)
        {
            Some(b) => merge_network(b, n),
            None => base.networks.push(n),
        }
    }
    for v in over.volumes {
        match base
            .volumes
            .iter_mut()
            .find(|b| b.name.value == v.name.value)
        {
            Some(b) => merge_volume(b, v),
            None => base.volumes.push(v),
        }
    }
    for s in over.secrets {
        match base
            .secrets
            .iter_mut()
            .find(|b| b.name.value == s.name.value)
        {
            Some(b) => replace(&mut b.source, s.source),
            None => base.secrets.push(s),
        }
    }
    for c in over.configs {
        match base
            .configs
            .iter_mut()
            .find(|b| b.name.value == c.name.value)
        {
            Some(b) => replace(&mut b.source, c.source),
            None => base.configs.push(c),
        }
    }
}
