//! Conversions between stackr's plain data and bollard's models: a [`ContainerSpec`] into a
//! create request, and the daemon's replies (container lists and inspections, networks,
//! volumes, events) into [`ContainerInfo`] and friends.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerStateStatusEnum, ContainerSummary,
    ContainerSummaryStateEnum, DeviceMapping, DeviceRequest, EndpointIpamConfig, EndpointSettings,
    EventMessage, HealthConfig, HealthStatusEnum, HostConfig, HostConfigCgroupnsModeEnum,
    HostConfigLogConfig, Mount, MountTmpfsOptions, MountType, Network, NetworkInspect,
    NetworkingConfig, PortBinding as DockerPortBinding, PortMap, ResourcesBlkioWeightDevice,
    ResourcesUlimits, RestartPolicy, RestartPolicyNameEnum, ThrottleDevice, Volume,
};
use stackr_engine::{
    ContainerInfo, ContainerSpec, ContainerState, EngineError, Event, EventKind, HealthSpec,
    HealthState, LABEL_SERVICE, MountSpec, NetworkAttachment, NetworkInfo, PublishedPort,
    VolumeInfo,
};

/// The negotiated Engine API version, to gate newer fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ApiVersion {
    pub major: usize,
    pub minor: usize,
}

impl ApiVersion {
    pub(crate) fn at_least(self, major: usize, minor: usize) -> bool {
        self >= ApiVersion { major, minor }
    }
}

impl std::fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// A duration in whole seconds, rounded up: `1.5s` waits 2 seconds, not 1.
pub(crate) fn whole_seconds(d: Duration) -> i64 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i64::try_from(secs).unwrap_or(i64::MAX)
}

fn non_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
    if v.is_empty() { None } else { Some(v) }
}

fn map_of(m: &BTreeMap<String, String>) -> Option<HashMap<String, String>> {
    if m.is_empty() {
        None
    } else {
        Some(m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }
}

fn sorted(m: Option<HashMap<String, String>>) -> BTreeMap<String, String> {
    m.unwrap_or_default().into_iter().collect()
}

/// The host options of a container (`docker run --dns`, `--ipc`...). Annotations need API
/// 1.43: the plan refuses them on an older engine, so they are never dropped here unseen.
fn host_options(h: &stackr_engine::HostOptions, api: ApiVersion) -> HostConfig {
    let list = |v: &[String]| non_empty(v.to_vec());
    HostConfig {
        dns: list(&h.dns),
        dns_search: list(&h.dns_search),
        dns_options: list(&h.dns_options),
        runtime: h.runtime.clone(),
        ipc_mode: h.ipc_mode.clone(),
        pid_mode: h.pid_mode.clone(),
        uts_mode: h.uts_mode.clone(),
        userns_mode: h.userns_mode.clone(),
        cgroupns_mode: h.cgroupns_mode.as_deref().and_then(|m| match m {
            "host" => Some(HostConfigCgroupnsModeEnum::HOST),
            "private" => Some(HostConfigCgroupnsModeEnum::PRIVATE),
            _ => None,
        }),
        cgroup_parent: h.cgroup_parent.clone(),
        group_add: list(&h.group_add),
        device_cgroup_rules: list(&h.device_cgroup_rules),
        storage_opt: map_of(&h.storage_opt),
        annotations: if api.at_least(1, 43) {
            map_of(&h.annotations)
        } else {
            None
        },
        oom_kill_disable: h.oom_kill_disable,
        oom_score_adj: h.oom_score_adj,
        cpu_shares: h.cpu_shares,
        cpu_period: h.cpu_period,
        cpu_quota: h.cpu_quota,
        cpuset_cpus: h.cpuset_cpus.clone(),
        memory_swappiness: h.memory_swappiness,
        memory_swap: h.memory_swap,
        volumes_from: list(&h.volumes_from),
        device_requests: non_empty(h.device_requests.iter().map(device_request).collect()),
        ..blkio(&h.blkio)
    }
}

fn device_request(d: &stackr_engine::DeviceRequest) -> DeviceRequest {
    DeviceRequest {
        driver: d.driver.clone(),
        count: Some(d.count),
        device_ids: non_empty(d.device_ids.clone()),
        capabilities: Some(vec![d.capabilities.clone()]),
        options: map_of(&d.options),
    }
}

/// Block IO weights and limits (rates beyond i64 are capped).
fn blkio(b: &stackr_engine::BlkioSpec) -> HostConfig {
    let rates = |l: &[(String, u64)]| {
        non_empty(
            l.iter()
                .map(|(path, rate)| ThrottleDevice {
                    path: Some(path.clone()),
                    rate: Some(i64::try_from(*rate).unwrap_or(i64::MAX)),
                })
                .collect(),
        )
    };
    HostConfig {
        blkio_weight: b.weight,
        blkio_weight_device: non_empty(
            b.weight_device
                .iter()
                .map(|(path, weight)| ResourcesBlkioWeightDevice {
                    path: Some(path.clone()),
                    weight: Some(usize::from(*weight)),
                })
                .collect(),
        ),
        blkio_device_read_bps: rates(&b.read_bps),
        blkio_device_write_bps: rates(&b.write_bps),
        blkio_device_read_iops: rates(&b.read_iops),
        blkio_device_write_iops: rates(&b.write_iops),
        ..Default::default()
    }
}

/// A stats sample as stackr reports it; the CPU share as `docker stats` computes it (the
/// container's CPU time over the machine's, since the previous sample, times the CPUs).
pub(crate) fn stats_of(
    s: &bollard::models::ContainerStatsResponse,
) -> stackr_engine::ContainerStats {
    let total = |c: &Option<bollard::models::ContainerCpuStats>| {
        let c = c.as_ref();
        (
            c.and_then(|c| c.cpu_usage.as_ref())
                .and_then(|u| u.total_usage)
                .unwrap_or(0),
            c.and_then(|c| c.system_cpu_usage).unwrap_or(0),
            c.and_then(|c| c.online_cpus).unwrap_or(1),
        )
    };
    let (cpu, system, cpus) = total(&s.cpu_stats);
    let (pre_cpu, pre_system, _) = total(&s.precpu_stats);
    let cpu_delta = cpu.saturating_sub(pre_cpu) as f64;
    let system_delta = system.saturating_sub(pre_system) as f64;
    let cpu_percent = if system_delta > 0.0 {
        cpu_delta / system_delta * f64::from(cpus) * 100.0
    } else {
        0.0
    };
    let memory = s.memory_stats.as_ref();
    // As `docker stats`: the page cache is not the container's use.
    let cache = memory
        .and_then(|m| m.stats.as_ref())
        .and_then(|m| {
            m.get("inactive_file")
                .or_else(|| m.get("total_inactive_file"))
        })
        .copied()
        .unwrap_or(0);
    let (mut rx, mut tx) = (0, 0);
    for n in s.networks.iter().flat_map(|n| n.values()) {
        rx += n.rx_bytes.unwrap_or(0);
        tx += n.tx_bytes.unwrap_or(0);
    }
    let (mut read, mut write) = (0, 0);
    for e in s
        .blkio_stats
        .as_ref()
        .and_then(|b| b.io_service_bytes_recursive.as_ref())
        .into_iter()
        .flatten()
    {
        match e.op.as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some("read") => read += e.value.unwrap_or(0),
            Some("write") => write += e.value.unwrap_or(0),
            _ => {}
        }
    }
    stackr_engine::ContainerStats {
        cpu_percent,
        memory_usage: memory
            .and_then(|m| m.usage)
            .unwrap_or(0)
            .saturating_sub(cache),
        memory_limit: memory.and_then(|m| m.limit).unwrap_or(0),
        net_rx: rx,
        net_tx: tx,
        block_read: read,
        block_write: write,
        pids: s.pids_stats.as_ref().and_then(|p| p.current).unwrap_or(0),
    }
}

/// `REPO[:TAG]` split at the tag's colon (not a registry port's).
pub(crate) fn split_reference(r: &str) -> (&str, Option<&str>) {
    match r.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, Some(tag)),
        _ => (r, None),
    }
}

/// A health check in Docker's terms; `StartInterval` only from API 1.44.
pub(crate) fn health_config(h: &HealthSpec, api: ApiVersion) -> HealthConfig {
    HealthConfig {
        test: Some(h.test.clone()),
        interval: h.interval.map(nanos),
        timeout: h.timeout.map(nanos),
        retries: h.retries.map(i64::from),
        start_period: h.start_period.map(nanos),
        start_interval: if api.at_least(1, 44) {
            h.start_interval.map(nanos)
        } else {
            None
        },
    }
}

/// Parses `HOST[:CONTAINER[:PERMISSIONS]]` as `docker run --device` does.
pub(crate) fn parse_device(s: &str) -> Result<DeviceMapping, EngineError> {
    fn is_mode(m: &str) -> bool {
        !m.is_empty() && m.len() <= 3 && m.chars().all(|c| matches!(c, 'r' | 'w' | 'm'))
    }
    let parts: Vec<&str> = s.split(':').collect();
    let invalid = || {
        EngineError::Other(format!(
            "invalid device `{s}`: expected HOST[:CONTAINER[:PERMISSIONS]]"
        ))
    };
    let (host, container, perms) = match parts.as_slice() {
        [host] => (*host, *host, "rwm"),
        [host, second] if is_mode(second) => (*host, *host, *second),
        [host, container] => (*host, *container, "rwm"),
        [host, container, perms] if is_mode(perms) => (*host, *container, *perms),
        _ => return Err(invalid()),
    };
    if host.is_empty() || container.is_empty() {
        return Err(invalid());
    }
    Ok(DeviceMapping {
        path_on_host: Some(host.to_string()),
        path_in_container: Some(container.to_string()),
        cgroup_permissions: Some(perms.to_string()),
    })
}

fn restart_policy(spec: &ContainerSpec) -> Result<Option<RestartPolicy>, EngineError> {
    let name = match spec.restart.as_str() {
        "" => return Ok(None),
        "no" => RestartPolicyNameEnum::NO,
        "always" => RestartPolicyNameEnum::ALWAYS,
        "unless-stopped" => RestartPolicyNameEnum::UNLESS_STOPPED,
        "on-failure" => RestartPolicyNameEnum::ON_FAILURE,
        other => {
            return Err(EngineError::Other(format!(
                "container `{}` has unknown restart policy `{other}`",
                spec.name
            )));
        }
    };
    Ok(Some(RestartPolicy {
        name: Some(name),
        maximum_retry_count: if name == RestartPolicyNameEnum::ON_FAILURE {
            spec.restart_max_retries
        } else {
            None
        },
    }))
}

fn mount(m: &MountSpec) -> Mount {
    match m {
        MountSpec::Volume {
            source,
            target,
            read_only,
            subpath,
        } => Mount {
            typ: Some(MountType::VOLUME),
            source: source.clone(),
            target: Some(target.clone()),
            read_only: Some(*read_only),
            // API 1.45 (the plan refuses it before).
            volume_options: subpath
                .as_ref()
                .map(|s| bollard::models::MountVolumeOptions {
                    subpath: Some(s.clone()),
                    ..Default::default()
                }),
            ..Default::default()
        },
        // API 1.47 (the plan refuses it before).
        MountSpec::Image {
            image,
            target,
            subpath,
        } => Mount {
            typ: Some(MountType::IMAGE),
            source: Some(image.clone()),
            target: Some(target.clone()),
            read_only: Some(true),
            image_options: subpath
                .as_ref()
                .map(|s| bollard::models::MountImageOptions {
                    subpath: Some(s.clone()),
                }),
            ..Default::default()
        },
        MountSpec::Bind {
            source,
            target,
            read_only,
        } => Mount {
            typ: Some(MountType::BIND),
            source: Some(source.to_string_lossy().into_owned()),
            target: Some(target.clone()),
            read_only: Some(*read_only),
            ..Default::default()
        },
        MountSpec::Tmpfs { target, size, mode } => Mount {
            typ: Some(MountType::TMPFS),
            target: Some(target.clone()),
            tmpfs_options: if size.is_some() || mode.is_some() {
                Some(MountTmpfsOptions {
                    size_bytes: size.map(|s| i64::try_from(s).unwrap_or(i64::MAX)),
                    mode: mode.map(i64::from),
                    options: None,
                })
            } else {
                None
            },
            ..Default::default()
        },
    }
}

/// The endpoint settings of a network attachment.
/// A network's address management as the engine takes it.
pub(crate) fn ipam(i: &stackr_engine::IpamSpec) -> bollard::models::Ipam {
    bollard::models::Ipam {
        driver: i.driver.clone(),
        config: Some(
            i.pools
                .iter()
                .map(|p| bollard::models::IpamConfig {
                    subnet: Some(p.subnet.clone()),
                    ip_range: p.ip_range.clone(),
                    gateway: p.gateway.clone(),
                    auxiliary_addresses: map_of(&p.aux_addresses),
                })
                .collect(),
        ),
        options: map_of(&i.options),
    }
}

/// A network attachment, with the container's links (the engine keeps them per network).
pub(crate) fn endpoint(a: &NetworkAttachment, links: &[String]) -> EndpointSettings {
    let ipam =
        if a.ipv4_address.is_some() || a.ipv6_address.is_some() || !a.link_local_ips.is_empty() {
            Some(EndpointIpamConfig {
                ipv4_address: a.ipv4_address.clone(),
                ipv6_address: a.ipv6_address.clone(),
                link_local_ips: non_empty(a.link_local_ips.clone()),
            })
        } else {
            None
        };
    EndpointSettings {
        aliases: non_empty(a.aliases.clone()),
        ipam_config: ipam,
        links: non_empty(links.to_vec()),
        driver_opts: (!a.driver_opts.is_empty()).then(|| {
            a.driver_opts
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        }),
        // Sent only by a plan that found the engine new enough (1.44, 1.48).
        mac_address: a.mac_address.clone(),
        gw_priority: a.gw_priority,
        ..Default::default()
    }
}

/// The create request of a container. Joins the first of `spec.networks` only (API 1.41 takes
/// one network at create time); the caller connects the others.
pub(crate) fn create_body(
    spec: &ContainerSpec,
    api: ApiVersion,
) -> Result<ContainerCreateBody, EngineError> {
    let mut exposed: Vec<String> = spec.exposed_ports.clone();
    let mut bindings: PortMap = HashMap::new();
    for p in &spec.ports {
        let key = format!("{}/{}", p.container_port, p.protocol);
        if !exposed.contains(&key) {
            exposed.push(key.clone());
        }
        bindings
            .entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(DockerPortBinding {
                host_ip: p.host_ip.clone(),
                host_port: Some(p.host_port.map(|h| h.to_string()).unwrap_or_default()),
            });
    }

    let devices = spec
        .devices
        .iter()
        .map(|d| parse_device(d))
        .collect::<Result<Vec<_>, _>>()?;

    let first_network = if spec.network_mode.is_none() {
        spec.networks.first()
    } else {
        None
    };
    let network_mode = match (&spec.network_mode, first_network) {
        (Some(mode), _) => Some(mode.clone()),
        (None, Some(n)) => Some(n.target().to_string()),
        (None, None) => None,
    };

    let host_config = HostConfig {
        auto_remove: spec.auto_remove.then_some(true),
        mounts: non_empty(spec.mounts.iter().map(mount).collect()),
        port_bindings: if bindings.is_empty() {
            None
        } else {
            Some(bindings)
        },
        network_mode,
        restart_policy: restart_policy(spec)?,
        init: spec.init,
        readonly_rootfs: Some(spec.read_only),
        privileged: Some(spec.privileged),
        cap_add: non_empty(spec.cap_add.clone()),
        cap_drop: non_empty(spec.cap_drop.clone()),
        security_opt: non_empty(spec.security_opt.clone()),
        memory: spec.memory,
        memory_reservation: spec.memory_reservation,
        nano_cpus: spec.nano_cpus,
        pids_limit: spec.pids_limit,
        shm_size: spec.shm_size,
        devices: non_empty(devices),
        ulimits: non_empty(
            spec.ulimits
                .iter()
                .map(|u| ResourcesUlimits {
                    name: Some(u.name.clone()),
                    soft: Some(u.soft),
                    hard: Some(u.hard),
                })
                .collect(),
        ),
        sysctls: map_of(&spec.sysctls),
        log_config: spec.log_driver.as_ref().map(|driver| HostConfigLogConfig {
            typ: Some(driver.clone()),
            config: map_of(&spec.log_options),
        }),
        extra_hosts: non_empty(spec.extra_hosts.clone()),
        ..host_options(&spec.host, api)
    };

    // The MAC address is the first network's from API 1.44 (the plan refuses it before).
    let networking_config = first_network.map(|n| {
        let mut e = endpoint(n, &spec.host.links);
        if api.at_least(1, 44) {
            e.mac_address.clone_from(&spec.host.mac_address);
        }
        NetworkingConfig {
            endpoints_config: Some(HashMap::from([(n.target().to_string(), e)])),
        }
    });

    Ok(ContainerCreateBody {
        image: Some(spec.image.clone()),
        labels: map_of(&spec.labels),
        cmd: spec.command.clone(),
        entrypoint: spec.entrypoint.clone(),
        env: non_empty(spec.env.clone()),
        user: spec.user.clone(),
        working_dir: spec.working_dir.clone(),
        hostname: spec.hostname.clone(),
        domainname: spec.host.domainname.clone(),
        tty: Some(spec.tty),
        open_stdin: Some(spec.stdin_open),
        stdin_once: spec.stdin_once.then_some(true),
        attach_stdin: spec.stdin_once.then_some(true),
        stop_signal: spec.stop_signal.clone(),
        stop_timeout: spec.stop_timeout.map(whole_seconds),
        exposed_ports: non_empty(exposed),
        healthcheck: spec.health.as_ref().map(|h| health_config(h, api)),
        host_config: Some(host_config),
        networking_config,
        ..Default::default()
    })
}

fn state_of_summary(s: Option<ContainerSummaryStateEnum>) -> ContainerState {
    match s {
        Some(ContainerSummaryStateEnum::CREATED) => ContainerState::Created,
        Some(ContainerSummaryStateEnum::RUNNING) => ContainerState::Running,
        Some(ContainerSummaryStateEnum::PAUSED) => ContainerState::Paused,
        Some(ContainerSummaryStateEnum::RESTARTING) => ContainerState::Restarting,
        Some(ContainerSummaryStateEnum::REMOVING) => ContainerState::Removing,
        Some(ContainerSummaryStateEnum::DEAD) => ContainerState::Dead,
        // `stopping` is still running, as far as stackr is concerned.
        Some(ContainerSummaryStateEnum::STOPPING) => ContainerState::Running,
        Some(ContainerSummaryStateEnum::EXITED | ContainerSummaryStateEnum::EMPTY) | None => {
            ContainerState::Exited
        }
    }
}

fn state_of_inspect(s: Option<ContainerStateStatusEnum>) -> ContainerState {
    match s {
        Some(ContainerStateStatusEnum::CREATED) => ContainerState::Created,
        Some(ContainerStateStatusEnum::RUNNING | ContainerStateStatusEnum::STOPPING) => {
            ContainerState::Running
        }
        Some(ContainerStateStatusEnum::PAUSED) => ContainerState::Paused,
        Some(ContainerStateStatusEnum::RESTARTING) => ContainerState::Restarting,
        Some(ContainerStateStatusEnum::REMOVING) => ContainerState::Removing,
        Some(ContainerStateStatusEnum::DEAD) => ContainerState::Dead,
        Some(ContainerStateStatusEnum::EXITED | ContainerStateStatusEnum::EMPTY) | None => {
            ContainerState::Exited
        }
    }
}

fn health_of_str(s: &str) -> Option<HealthState> {
    match s {
        "starting" => Some(HealthState::Starting),
        "healthy" => Some(HealthState::Healthy),
        "unhealthy" => Some(HealthState::Unhealthy),
        _ => None,
    }
}

/// The health and exit code the list's status text carries: `Up 3 seconds (healthy)`,
/// `Up 1 second (health: starting)`, `Exited (3) 2 minutes ago`.
pub(crate) fn parse_status(status: &str) -> (Option<HealthState>, Option<i64>) {
    let health = if status.contains("(healthy)") {
        Some(HealthState::Healthy)
    } else if status.contains("(unhealthy)") {
        Some(HealthState::Unhealthy)
    } else if status.contains("(health: starting)") {
        Some(HealthState::Starting)
    } else {
        None
    };
    let exit_code = status
        .strip_prefix("Exited (")
        .and_then(|rest| rest.split(')').next())
        .and_then(|code| code.trim().parse().ok());
    (health, exit_code)
}

fn port_parts(key: &str) -> Option<(u16, String)> {
    let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    Some((port.parse().ok()?, proto.to_string()))
}

fn sort_ports(ports: &mut [PublishedPort]) {
    ports.sort_by(|a, b| {
        (a.container_port, &a.protocol, &a.host_ip, a.host_port).cmp(&(
            b.container_port,
            &b.protocol,
            &b.host_ip,
            b.host_port,
        ))
    });
}

/// A container of the list.
pub(crate) fn info_of_summary(c: ContainerSummary) -> ContainerInfo {
    let name = c
        .names
        .as_ref()
        .and_then(|n| n.first())
        .map(|n| n.trim_start_matches('/').to_string())
        .unwrap_or_default();
    let state = state_of_summary(c.state);
    let (health, exit_code) = parse_status(c.status.as_deref().unwrap_or_default());
    let mut ports: Vec<PublishedPort> = c
        .ports
        .unwrap_or_default()
        .into_iter()
        .map(|p| PublishedPort {
            container_port: p.private_port,
            protocol: p
                .typ
                .map(|t| t.to_string())
                .unwrap_or_else(|| "tcp".to_string()),
            host_ip: p.ip.filter(|ip| !ip.is_empty()),
            host_port: p.public_port.filter(|p| *p != 0),
        })
        .collect();
    sort_ports(&mut ports);
    ContainerInfo {
        id: c.id.unwrap_or_default(),
        name,
        image: c.image.unwrap_or_default(),
        labels: sorted(c.labels),
        state,
        exit_code: if matches!(state, ContainerState::Exited | ContainerState::Dead) {
            exit_code
        } else {
            None
        },
        health,
        health_output: None,
        ports,
        networks: c
            .network_settings
            .and_then(|n| n.networks)
            .map(|n| n.into_keys().collect()),
    }
}

/// A container of an inspection.
pub(crate) fn info_of_inspect(c: ContainerInspectResponse) -> ContainerInfo {
    let state = c
        .state
        .as_ref()
        .map(|s| state_of_inspect(s.status))
        .unwrap_or(ContainerState::Exited);
    let health_struct = c.state.as_ref().and_then(|s| s.health.as_ref());
    let health = health_struct.and_then(|h| match h.status {
        Some(HealthStatusEnum::STARTING) => Some(HealthState::Starting),
        Some(HealthStatusEnum::HEALTHY) => Some(HealthState::Healthy),
        Some(HealthStatusEnum::UNHEALTHY) => Some(HealthState::Unhealthy),
        _ => None,
    });
    let health_output = health_struct
        .and_then(|h| h.log.as_ref())
        .and_then(|log| log.last())
        .and_then(|r| r.output.clone());
    let exit_code = if matches!(state, ContainerState::Exited | ContainerState::Dead) {
        c.state.as_ref().and_then(|s| s.exit_code)
    } else {
        None
    };
    let mut ports = Vec::new();
    let networks: Option<Vec<String>> = c
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.as_ref())
        .map(|n| n.keys().cloned().collect());
    let port_map = c.network_settings.and_then(|n| n.ports).unwrap_or_default();
    for (key, bindings) in port_map {
        let Some((container_port, protocol)) = port_parts(&key) else {
            continue;
        };
        match bindings {
            Some(bindings) if !bindings.is_empty() => {
                for b in bindings {
                    ports.push(PublishedPort {
                        container_port,
                        protocol: protocol.clone(),
                        host_ip: b.host_ip.filter(|ip| !ip.is_empty()),
                        host_port: b.host_port.and_then(|p| p.parse().ok()).filter(|p| *p != 0),
                    });
                }
            }
            _ => ports.push(PublishedPort {
                container_port,
                protocol,
                host_ip: None,
                host_port: None,
            }),
        }
    }
    sort_ports(&mut ports);
    let config = c.config.unwrap_or_default();
    ContainerInfo {
        id: c.id.unwrap_or_default(),
        name: c
            .name
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
        image: config.image.unwrap_or_default(),
        labels: sorted(config.labels),
        state,
        exit_code,
        health,
        health_output,
        ports,
        networks,
    }
}

pub(crate) fn network_of_list(n: Network) -> NetworkInfo {
    NetworkInfo {
        id: n.id.unwrap_or_default(),
        name: n.name.unwrap_or_default(),
        driver: n.driver.unwrap_or_default(),
        internal: n.internal.unwrap_or(false),
        labels: sorted(n.labels),
        created: n.created.map(|t| t.unix_timestamp_nanos()),
        attached: None,
    }
}

pub(crate) fn network_of_inspect(n: NetworkInspect) -> NetworkInfo {
    NetworkInfo {
        id: n.id.unwrap_or_default(),
        name: n.name.unwrap_or_default(),
        driver: n.driver.unwrap_or_default(),
        internal: n.internal.unwrap_or(false),
        labels: sorted(n.labels),
        attached: Some(n.containers.as_ref().map_or(0, |c| c.len())),
        created: n.created.map(|t| t.unix_timestamp_nanos()),
    }
}

pub(crate) fn volume_info(v: Volume) -> VolumeInfo {
    VolumeInfo {
        name: v.name,
        driver: v.driver,
        labels: v.labels.into_iter().collect(),
    }
}

/// A container event; `None` for events without a container.
pub(crate) fn event(m: EventMessage) -> Option<Event> {
    let action = m.action.unwrap_or_default();
    let actor = m.actor?;
    let attributes = actor.attributes.unwrap_or_default();
    let kind = match action.as_str() {
        "create" => EventKind::Create,
        "start" => EventKind::Start,
        "die" => EventKind::Die {
            exit_code: attributes
                .get("exitCode")
                .and_then(|c| c.parse().ok())
                .unwrap_or(-1),
        },
        "destroy" => EventKind::Destroy,
        a => match a
            .strip_prefix("health_status:")
            .and_then(|h| health_of_str(h.trim()))
        {
            Some(h) => EventKind::Health(h),
            None => EventKind::Other(a.to_string()),
        },
    };
    Some(Event {
        container_id: actor.id.unwrap_or_default(),
        container_name: attributes.get("name").cloned().unwrap_or_default(),
        service: attributes.get(LABEL_SERVICE).cloned(),
        kind,
        time_nanos: m.time_nano,
    })
}

/// An RFC 3339 time (`2024-05-01T12:00:00.123456789Z`, `...+02:00`) as the API's
/// `seconds.nanoseconds` Unix timestamp.
pub(crate) fn unix_timestamp(rfc3339: &str) -> Option<String> {
    let (date, rest) = rfc3339.trim().split_once(['T', 't', ' '])?;
    let mut d = date.splitn(3, '-');
    let year: i64 = d.next()?.parse().ok()?;
    let month: i64 = d.next()?.parse().ok()?;
    let day: i64 = d.next()?.parse().ok()?;
    let zone_at = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
    let (clock, zone) = rest.split_at(zone_at);
    let (hms, fraction) = clock.split_once('.').unwrap_or((clock, ""));
    let mut t = hms.splitn(3, ':');
    let hour: i64 = t.next()?.parse().ok()?;
    let minute: i64 = t.next()?.parse().ok()?;
    let second: i64 = t.next()?.parse().ok()?;
    if !fraction.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let nanos: u32 = format!("{:0<9}", &fraction[..fraction.len().min(9)])
        .parse()
        .ok()?;
    let offset = match zone {
        "" | "Z" | "z" => 0,
        z => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let (h, m) = z[1..].split_once(':').unwrap_or((&z[1..], "0"));
            sign * (h.parse::<i64>().ok()? * 3600 + m.parse::<i64>().ok()? * 60)
        }
    };
    // Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    Some(format!("{secs}.{nanos:09}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::EventActor;

    #[test]
    fn rfc3339_times_become_unix_timestamps() {
        assert_eq!(
            unix_timestamp("1970-01-01T00:00:00Z").as_deref(),
            Some("0.000000000")
        );
        assert_eq!(
            unix_timestamp("2024-05-01T12:34:56.123456789Z").as_deref(),
            Some("1714566896.123456789")
        );
        assert_eq!(
            unix_timestamp("2024-05-01T14:34:56.5+02:00").as_deref(),
            Some("1714566896.500000000")
        );
        assert_eq!(unix_timestamp("yesterday"), None);
    }

    #[test]
    fn devices_parse_like_docker_run() {
        let d = parse_device("/dev/fuse").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(d.path_in_container.as_deref(), Some("/dev/fuse"));
        assert_eq!(d.cgroup_permissions.as_deref(), Some("rwm"));
        let d = parse_device("/dev/sda:/dev/xvda:r").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(d.path_on_host.as_deref(), Some("/dev/sda"));
        assert_eq!(d.path_in_container.as_deref(), Some("/dev/xvda"));
        assert_eq!(d.cgroup_permissions.as_deref(), Some("r"));
        let d = parse_device("/dev/sda:rw").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(d.path_in_container.as_deref(), Some("/dev/sda"));
        assert_eq!(d.cgroup_permissions.as_deref(), Some("rw"));
        assert!(parse_device("/dev/sda:/dev/xvda:x").is_err());
        assert!(parse_device("a:b:r:d").is_err());
    }

    #[test]
    fn list_status_carries_health_and_exit_code() {
        assert_eq!(
            parse_status("Up 3 seconds (healthy)"),
            (Some(HealthState::Healthy), None)
        );
        assert_eq!(
            parse_status("Up 1 second (health: starting)"),
            (Some(HealthState::Starting), None)
        );
        assert_eq!(parse_status("Exited (3) 2 minutes ago"), (None, Some(3)));
        assert_eq!(parse_status("Created"), (None, None));
    }

    #[test]
    fn start_interval_is_omitted_below_1_44() {
        let h = HealthSpec {
            test: vec!["CMD-SHELL".into(), "true".into()],
            interval: Some(Duration::from_millis(200)),
            timeout: None,
            retries: Some(3),
            start_period: None,
            start_interval: Some(Duration::from_secs(1)),
        };
        let old = health_config(
            &h,
            ApiVersion {
                major: 1,
                minor: 41,
            },
        );
        assert_eq!(old.interval, Some(200_000_000));
        assert_eq!(old.start_interval, None);
        let new = health_config(
            &h,
            ApiVersion {
                major: 1,
                minor: 44,
            },
        );
        assert_eq!(new.start_interval, Some(1_000_000_000));
    }

    #[test]
    fn only_the_first_network_is_given_at_create() {
        let spec = ContainerSpec {
            name: "s-web-1".into(),
            image: "img".into(),
            networks: vec![
                NetworkAttachment {
                    network: "a".into(),
                    aliases: vec!["web".into()],
                    ipv4_address: Some("10.1.0.5".into()),
                    ipv6_address: None,
                    network_id: None,
                    ..NetworkAttachment::default()
                },
                NetworkAttachment {
                    network: "b".into(),
                    aliases: vec![],
                    ipv4_address: None,
                    ipv6_address: None,
                    network_id: None,
                    ..NetworkAttachment::default()
                },
            ],
            ..Default::default()
        };
        let body = create_body(
            &spec,
            ApiVersion {
                major: 1,
                minor: 41,
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let endpoints = body
            .networking_config
            .and_then(|n| n.endpoints_config)
            .unwrap_or_default();
        assert_eq!(endpoints.len(), 1);
        let a = endpoints
            .get("a")
            .unwrap_or_else(|| panic!("no endpoint a"));
        assert_eq!(a.aliases.as_deref(), Some(&["web".to_string()][..]));
        assert_eq!(
            a.ipam_config
                .as_ref()
                .and_then(|i| i.ipv4_address.as_deref()),
            Some("10.1.0.5")
        );
        assert_eq!(
            body.host_config.and_then(|h| h.network_mode).as_deref(),
            Some("a")
        );
    }

    #[test]
    fn events_map_health_and_die() {
        let msg = |action: &str, attrs: &[(&str, &str)]| EventMessage {
            action: Some(action.into()),
            actor: Some(EventActor {
                id: Some("abc".into()),
                attributes: Some(
                    attrs
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
            }),
            ..Default::default()
        };
        let e = event(msg(
            "die",
            &[
                ("exitCode", "3"),
                ("name", "s-job-1"),
                (LABEL_SERVICE, "job"),
            ],
        ))
        .unwrap_or_else(|| panic!("no event"));
        assert_eq!(e.kind, EventKind::Die { exit_code: 3 });
        assert_eq!(e.container_name, "s-job-1");
        assert_eq!(e.service.as_deref(), Some("job"));
        let e = event(msg("health_status: healthy", &[])).unwrap_or_else(|| panic!("no event"));
        assert_eq!(e.kind, EventKind::Health(HealthState::Healthy));
        let e = event(msg("exec_start: sh -c true", &[])).unwrap_or_else(|| panic!("no event"));
        assert_eq!(e.kind, EventKind::Other("exec_start: sh -c true".into()));
    }
}
