//! [`Swarm`] over the Docker Engine API: services, tasks, nodes, secrets and configs of the
//! swarm the engine manages. Swarm's fields need Engine API 1.41 (jobs, capabilities,
//! ulimits, pids limits), which every engine here speaks.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use base64::Engine as _;
use bollard::models::{
    ConfigSpec, EndpointPortConfig, EndpointPortConfigProtocolEnum,
    EndpointPortConfigPublishModeEnum, EndpointSpec, EndpointSpecModeEnum, Limit, Mount,
    MountTmpfsOptions, MountType, MountVolumeOptions, NetworkAttachmentConfig, ResourceObject,
    ResourcesUlimits, SecretSpec, Service, ServiceSpec as DockerServiceSpec, ServiceSpecMode,
    ServiceSpecModeReplicated, ServiceSpecModeReplicatedJob, ServiceSpecRollbackConfig,
    ServiceSpecRollbackConfigFailureActionEnum, ServiceSpecRollbackConfigOrderEnum,
    ServiceSpecUpdateConfig, ServiceSpecUpdateConfigFailureActionEnum,
    ServiceSpecUpdateConfigOrderEnum, Task, TaskSpec, TaskSpecContainerSpec,
    TaskSpecContainerSpecConfigs, TaskSpecContainerSpecFile, TaskSpecContainerSpecFile1,
    TaskSpecContainerSpecSecrets, TaskSpecLogDriver, TaskSpecPlacement,
    TaskSpecPlacementPreferences, TaskSpecPlacementSpread, TaskSpecResources,
    TaskSpecRestartPolicy, TaskSpecRestartPolicyConditionEnum,
};
use bollard::query_parameters::{
    EventsOptionsBuilder, ListConfigsOptionsBuilder, ListSecretsOptionsBuilder,
    ListServicesOptionsBuilder, ListTasksOptionsBuilder, PushImageOptionsBuilder,
    TagImageOptionsBuilder, UpdateServiceOptionsBuilder,
};
use futures::StreamExt;
use futures::stream::BoxStream;
use stackr_engine::swarm::{
    FileKind, FileObjectInfo, FileObjectSpec, NodeInfo, RestartSpec, ServiceInfo, ServiceMode,
    ServiceMount, ServiceSpec, Swarm, SwarmEvent, SwarmInfo, TaskInfo, TaskState, UpdateSpec,
    UpdateStatus,
};
use stackr_engine::{EngineError, LABEL_STACK, LogChunk, LogOptions, Result};

use crate::DockerEngine;
use crate::convert::{ApiVersion, health_config};

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

fn map(m: &BTreeMap<String, String>) -> Option<HashMap<String, String>> {
    (!m.is_empty()).then(|| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

fn list(v: &[String]) -> Option<Vec<String>> {
    (!v.is_empty()).then(|| v.to_vec())
}

fn sorted(m: Option<HashMap<String, String>>) -> BTreeMap<String, String> {
    m.unwrap_or_default().into_iter().collect()
}

/// A stack's objects: those labelled with its name.
fn stack_filter(stack: &str) -> HashMap<String, Vec<String>> {
    HashMap::from([("label".to_string(), vec![format!("{LABEL_STACK}={stack}")])])
}

fn mode_of(spec: &ServiceSpec) -> ServiceSpecMode {
    match spec.mode {
        ServiceMode::Replicated { replicas } => ServiceSpecMode {
            replicated: Some(ServiceSpecModeReplicated {
                replicas: Some(i64::try_from(replicas).unwrap_or(i64::MAX)),
            }),
            ..Default::default()
        },
        ServiceMode::ReplicatedJob {
            max_concurrent,
            completions,
        } => ServiceSpecMode {
            replicated_job: Some(ServiceSpecModeReplicatedJob {
                max_concurrent: Some(i64::try_from(max_concurrent).unwrap_or(1)),
                total_completions: Some(i64::try_from(completions).unwrap_or(1)),
            }),
            ..Default::default()
        },
        ServiceMode::Global => ServiceSpecMode {
            global: Some(HashMap::new()),
            ..Default::default()
        },
    }
}

fn mount_of(m: &ServiceMount) -> Mount {
    match m {
        ServiceMount::Volume {
            source,
            target,
            read_only,
            labels,
        } => Mount {
            typ: Some(MountType::VOLUME),
            source: source.clone(),
            target: Some(target.clone()),
            read_only: Some(*read_only),
            volume_options: map(labels).map(|l| MountVolumeOptions {
                labels: Some(l),
                ..Default::default()
            }),
            ..Default::default()
        },
        ServiceMount::Bind {
            source,
            target,
            read_only,
        } => Mount {
            typ: Some(MountType::BIND),
            source: Some(source.clone()),
            target: Some(target.clone()),
            read_only: Some(*read_only),
            ..Default::default()
        },
        ServiceMount::Tmpfs { target, size, mode } => Mount {
            typ: Some(MountType::TMPFS),
            target: Some(target.clone()),
            tmpfs_options: Some(MountTmpfsOptions {
                size_bytes: size.and_then(|s| i64::try_from(s).ok()),
                mode: mode.map(i64::from),
                ..Default::default()
            }),
            ..Default::default()
        },
    }
}

fn restart_of(r: &RestartSpec) -> TaskSpecRestartPolicy {
    TaskSpecRestartPolicy {
        condition: Some(match r.condition.as_str() {
            "none" => TaskSpecRestartPolicyConditionEnum::NONE,
            "on-failure" => TaskSpecRestartPolicyConditionEnum::ON_FAILURE,
            _ => TaskSpecRestartPolicyConditionEnum::ANY,
        }),
        max_attempts: r.max_attempts.and_then(|m| i64::try_from(m).ok()),
        delay: r.delay.map(nanos),
        window: None,
    }
}

fn update_of(u: &UpdateSpec) -> ServiceSpecUpdateConfig {
    ServiceSpecUpdateConfig {
        parallelism: Some(i64::try_from(u.parallelism).unwrap_or(1)),
        delay: Some(nanos(u.delay)),
        failure_action: Some(match u.failure_action.as_str() {
            "continue" => ServiceSpecUpdateConfigFailureActionEnum::CONTINUE,
            "rollback" => ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK,
            _ => ServiceSpecUpdateConfigFailureActionEnum::PAUSE,
        }),
        monitor: Some(nanos(u.monitor)),
        max_failure_ratio: Some(u.max_failure_ratio),
        order: Some(if u.order == "start-first" {
            ServiceSpecUpdateConfigOrderEnum::START_FIRST
        } else {
            ServiceSpecUpdateConfigOrderEnum::STOP_FIRST
        }),
    }
}

fn rollback_of(u: &UpdateSpec) -> ServiceSpecRollbackConfig {
    ServiceSpecRollbackConfig {
        parallelism: Some(i64::try_from(u.parallelism).unwrap_or(1)),
        delay: Some(nanos(u.delay)),
        failure_action: Some(if u.failure_action == "continue" {
            ServiceSpecRollbackConfigFailureActionEnum::CONTINUE
        } else {
            ServiceSpecRollbackConfigFailureActionEnum::PAUSE
        }),
        monitor: Some(nanos(u.monitor)),
        max_failure_ratio: Some(u.max_failure_ratio),
        order: Some(if u.order == "start-first" {
            ServiceSpecRollbackConfigOrderEnum::START_FIRST
        } else {
            ServiceSpecRollbackConfigOrderEnum::STOP_FIRST
        }),
    }
}

fn container_spec_of(spec: &ServiceSpec, api: ApiVersion) -> TaskSpecContainerSpec {
    let secrets = spec
        .secrets
        .iter()
        .map(|s| TaskSpecContainerSpecSecrets {
            file: Some(TaskSpecContainerSpecFile {
                name: Some(s.target.clone()),
                uid: Some(s.uid.clone()),
                gid: Some(s.gid.clone()),
                mode: Some(s.mode),
            }),
            secret_id: s.id.clone(),
            secret_name: Some(s.name.clone()),
        })
        .collect::<Vec<_>>();
    let configs = spec
        .configs
        .iter()
        .map(|c| TaskSpecContainerSpecConfigs {
            file: Some(TaskSpecContainerSpecFile1 {
                name: Some(c.target.clone()),
                uid: Some(c.uid.clone()),
                gid: Some(c.gid.clone()),
                mode: Some(c.mode),
            }),
            config_id: c.id.clone(),
            config_name: Some(c.name.clone()),
            ..Default::default()
        })
        .collect::<Vec<_>>();
    TaskSpecContainerSpec {
        image: Some(spec.image.clone()),
        labels: map(&spec.container_labels),
        command: spec.entrypoint.clone(),
        args: spec.command.clone(),
        hostname: spec.hostname.clone(),
        env: list(&spec.env),
        dir: spec.working_dir.clone(),
        user: spec.user.clone(),
        tty: Some(spec.tty),
        open_stdin: Some(spec.stdin_open),
        read_only: Some(spec.read_only),
        mounts: (!spec.mounts.is_empty()).then(|| spec.mounts.iter().map(mount_of).collect()),
        stop_signal: spec.stop_signal.clone(),
        stop_grace_period: spec.stop_grace_period.map(nanos),
        health_check: spec.health.as_ref().map(|h| health_config(h, api)),
        hosts: (!spec.extra_hosts.is_empty()).then(|| {
            // Swarm writes `IP HOST`, compose's order is `HOST:IP`.
            spec.extra_hosts
                .iter()
                .map(|h| match h.split_once(':') {
                    Some((host, ip)) => format!("{ip} {host}"),
                    None => h.clone(),
                })
                .collect()
        }),
        secrets: (!secrets.is_empty()).then_some(secrets),
        configs: (!configs.is_empty()).then_some(configs),
        init: spec.init,
        sysctls: map(&spec.sysctls),
        capability_add: list(&spec.cap_add),
        capability_drop: list(&spec.cap_drop),
        ulimits: (!spec.ulimits.is_empty()).then(|| {
            spec.ulimits
                .iter()
                .map(|u| ResourcesUlimits {
                    name: Some(u.name.clone()),
                    soft: Some(u.soft),
                    hard: Some(u.hard),
                })
                .collect()
        }),
        ..Default::default()
    }
}

fn resources_of(spec: &ServiceSpec) -> Option<TaskSpecResources> {
    let l = &spec.limits;
    let r = &spec.reservations;
    if l == &Default::default() && r == &Default::default() {
        return None;
    }
    Some(TaskSpecResources {
        limits: Some(Limit {
            nano_cpus: l.nano_cpus,
            memory_bytes: l.memory,
            pids: l.pids,
        }),
        reservations: Some(ResourceObject {
            nano_cpus: r.nano_cpus,
            memory_bytes: r.memory,
            generic_resources: None,
        }),
        ..Default::default()
    })
}

fn placement_of(spec: &ServiceSpec) -> Option<TaskSpecPlacement> {
    let p = &spec.placement;
    if p == &Default::default() {
        return None;
    }
    Some(TaskSpecPlacement {
        constraints: list(&p.constraints),
        preferences: (!p.spread.is_empty()).then(|| {
            p.spread
                .iter()
                .map(|s| TaskSpecPlacementPreferences {
                    spread: Some(TaskSpecPlacementSpread {
                        spread_descriptor: Some(s.clone()),
                    }),
                })
                .collect()
        }),
        max_replicas: (p.max_replicas > 0).then(|| i64::try_from(p.max_replicas).unwrap_or(0)),
        platforms: None,
    })
}

fn endpoint_of(spec: &ServiceSpec) -> Option<EndpointSpec> {
    let mode = spec.endpoint_mode.as_deref().map(|m| {
        if m == "dnsrr" {
            EndpointSpecModeEnum::DNSRR
        } else {
            EndpointSpecModeEnum::VIP
        }
    });
    if spec.ports.is_empty() {
        return mode.map(|mode| EndpointSpec {
            mode: Some(mode),
            ports: None,
        });
    }
    let ports = spec
        .ports
        .iter()
        .map(|p| EndpointPortConfig {
            name: None,
            protocol: Some(match p.protocol.as_str() {
                "udp" => EndpointPortConfigProtocolEnum::UDP,
                "sctp" => EndpointPortConfigProtocolEnum::SCTP,
                _ => EndpointPortConfigProtocolEnum::TCP,
            }),
            target_port: Some(i64::from(p.target)),
            published_port: p.published.map(i64::from),
            publish_mode: Some(if p.mode == "host" {
                EndpointPortConfigPublishModeEnum::HOST
            } else {
                EndpointPortConfigPublishModeEnum::INGRESS
            }),
        })
        .collect();
    Some(EndpointSpec {
        mode,
        ports: Some(ports),
    })
}

/// A [`ServiceSpec`] in the API's terms.
pub(crate) fn service_spec_of(spec: &ServiceSpec, api: ApiVersion) -> DockerServiceSpec {
    let networks = spec
        .networks
        .iter()
        .map(|n| NetworkAttachmentConfig {
            target: Some(n.id.clone().unwrap_or_else(|| n.network.clone())),
            aliases: list(&n.aliases),
            driver_opts: None,
        })
        .collect::<Vec<_>>();
    DockerServiceSpec {
        name: Some(spec.name.clone()),
        labels: map(&spec.labels),
        task_template: Some(TaskSpec {
            container_spec: Some(container_spec_of(spec, api)),
            resources: resources_of(spec),
            restart_policy: spec.restart.as_ref().map(restart_of),
            placement: placement_of(spec),
            networks: (!networks.is_empty()).then_some(networks),
            log_driver: spec.log_driver.as_ref().map(|d| TaskSpecLogDriver {
                name: Some(d.clone()),
                options: map(&spec.log_options),
            }),
            ..Default::default()
        }),
        mode: Some(mode_of(spec)),
        // A job takes neither update nor rollback configs.
        update_config: spec
            .update
            .as_ref()
            .filter(|_| !spec.mode.is_job())
            .map(update_of),
        rollback_config: spec
            .rollback
            .as_ref()
            .filter(|_| !spec.mode.is_job())
            .map(rollback_of),
        networks: None,
        endpoint_spec: endpoint_of(spec),
    }
}

fn mode_of_docker(m: Option<&ServiceSpecMode>) -> ServiceMode {
    let Some(m) = m else {
        return ServiceMode::default();
    };
    if let Some(r) = &m.replicated {
        return ServiceMode::Replicated {
            replicas: r.replicas.and_then(|n| u64::try_from(n).ok()).unwrap_or(1),
        };
    }
    if let Some(j) = &m.replicated_job {
        return ServiceMode::ReplicatedJob {
            max_concurrent: j
                .max_concurrent
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or(1),
            completions: j
                .total_completions
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or(1),
        };
    }
    ServiceMode::Global
}

fn service_info(s: Service) -> ServiceInfo {
    let spec = s.spec.unwrap_or_default();
    let image = spec
        .task_template
        .as_ref()
        .and_then(|t| t.container_spec.as_ref())
        .and_then(|c| c.image.clone())
        .unwrap_or_default();
    ServiceInfo {
        id: s.id.unwrap_or_default(),
        name: spec.name.clone().unwrap_or_default(),
        version: s.version.and_then(|v| v.index).unwrap_or_default(),
        labels: sorted(spec.labels.clone()),
        image,
        mode: mode_of_docker(spec.mode.as_ref()),
        update_status: s.update_status.map(|u| UpdateStatus {
            state: u.state.map(|s| s.to_string()).unwrap_or_default(),
            message: u.message.unwrap_or_default(),
        }),
        job_iteration: s
            .job_status
            .and_then(|j| j.job_iteration)
            .and_then(|v| v.index),
        restart: spec
            .task_template
            .as_ref()
            .and_then(|t| t.restart_policy.as_ref())
            .and_then(|r| r.condition.as_ref())
            .map(|c| c.to_string()),
    }
}

fn task_info(t: Task) -> TaskInfo {
    let status = t.status.unwrap_or_default();
    let container = status.container_status.unwrap_or_default();
    let labels = t.spec.and_then(|s| s.container_spec).and_then(|c| c.labels);
    TaskInfo {
        id: t.id.unwrap_or_default(),
        service_id: t.service_id.unwrap_or_default(),
        slot: t.slot.and_then(|s| u64::try_from(s).ok()),
        node_id: t.node_id.filter(|n| !n.is_empty()),
        state: TaskState::parse(&status.state.map(|s| s.to_string()).unwrap_or_default()),
        desired_state: TaskState::parse(
            &t.desired_state.map(|s| s.to_string()).unwrap_or_default(),
        ),
        message: status.message.unwrap_or_default(),
        error: status.err.filter(|e| !e.is_empty()),
        exit_code: container.exit_code,
        container_id: container.container_id.filter(|c| !c.is_empty()),
        container_labels: sorted(labels),
        job_iteration: t.job_iteration.and_then(|v| v.index),
        timestamp: status.timestamp.map(rfc3339).unwrap_or_default(),
        created_at: t.created_at.map(rfc3339).unwrap_or_default(),
    }
}

/// The engine's time as RFC 3339 text (which sorts as the time does).
fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl DockerEngine {
    async fn swarm_api(&self) -> Result<ApiVersion> {
        let api = self.api().await?;
        if !api.at_least(1, 41) {
            return Err(EngineError::Other(format!(
                "the Swarm target needs Engine API 1.41 or newer (jobs, capabilities, ulimits); the daemon at {} speaks {api}",
                self.endpoint
            )));
        }
        Ok(api)
    }
}

impl Swarm for DockerEngine {
    async fn swarm_info(&self) -> Result<Option<SwarmInfo>> {
        let info = self.docker.info().await.map_err(|e| self.err("info", e))?;
        let Some(s) = info.swarm else { return Ok(None) };
        let state = s
            .local_node_state
            .map(|s| s.to_string())
            .unwrap_or_default();
        if state.is_empty() || state == "inactive" {
            return Ok(None);
        }
        Ok(Some(SwarmInfo {
            node_id: s.node_id.unwrap_or_default(),
            state,
            manager: s.control_available.unwrap_or(false),
            nodes: s.nodes.and_then(|n| u32::try_from(n).ok()).unwrap_or(0),
            managers: s.managers.and_then(|n| u32::try_from(n).ok()).unwrap_or(0),
            clock: info
                .system_time
                .as_deref()
                .and_then(crate::convert::unix_timestamp)
                .and_then(|t| t.split('.').next().and_then(|s| s.parse().ok())),
        }))
    }

    async fn list_nodes(&self) -> Result<Vec<NodeInfo>> {
        let nodes = self
            .docker
            .list_nodes(None::<bollard::query_parameters::ListNodesOptions>)
            .await
            .map_err(|e| self.err("nodes", e))?;
        let mut out: Vec<NodeInfo> = nodes
            .into_iter()
            .map(|n| {
                let spec = n.spec.unwrap_or_default();
                let status = n.status.unwrap_or_default();
                NodeInfo {
                    id: n.id.unwrap_or_default(),
                    hostname: n.description.and_then(|d| d.hostname).unwrap_or_default(),
                    role: spec.role.map(|r| r.to_string()).unwrap_or_default(),
                    availability: spec.availability.map(|a| a.to_string()).unwrap_or_default(),
                    state: status.state.map(|s| s.to_string()).unwrap_or_default(),
                    addr: status.addr.unwrap_or_default(),
                    leader: n.manager_status.and_then(|m| m.leader).unwrap_or(false),
                }
            })
            .collect();
        out.sort_by(|a, b| (&a.hostname, &a.id).cmp(&(&b.hostname, &b.id)));
        Ok(out)
    }

    async fn list_services(&self, stack: &str) -> Result<Vec<ServiceInfo>> {
        let options = ListServicesOptionsBuilder::default()
            .filters(&stack_filter(stack))
            .status(true)
            .build();
        let list = self
            .docker
            .list_services(Some(options))
            .await
            .map_err(|e| self.err("services", e))?;
        let mut out: Vec<ServiceInfo> = list.into_iter().map(service_info).collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    async fn inspect_service(&self, name: &str) -> Result<Option<ServiceInfo>> {
        let answer = self
            .docker
            .inspect_service(
                name,
                None::<bollard::query_parameters::InspectServiceOptions>,
            )
            .await;
        let found = self.found(answer, || format!("service `{name}`"))?;
        Ok(found.map(service_info))
    }

    async fn create_service(&self, spec: &ServiceSpec) -> Result<String> {
        let api = self.swarm_api().await?;
        let answer = self
            .docker
            .create_service(service_spec_of(spec, api), None)
            .await
            .map_err(|e| self.err(&format!("service `{}`", spec.name), e))?;
        Ok(answer.id.unwrap_or_default())
    }

    async fn update_service(&self, id: &str, version: u64, spec: &ServiceSpec) -> Result<()> {
        let api = self.swarm_api().await?;
        let options = UpdateServiceOptionsBuilder::default()
            .version(i32::try_from(version).unwrap_or(i32::MAX))
            .build();
        self.docker
            .update_service(id, service_spec_of(spec, api), options, None)
            .await
            .map_err(|e| self.err(&format!("service `{}`", spec.name), e))?;
        Ok(())
    }

    async fn rollback_service(&self, id: &str, version: u64) -> Result<()> {
        let Some(service) = self
            .docker
            .inspect_service(id, None::<bollard::query_parameters::InspectServiceOptions>)
            .await
            .ok()
        else {
            return Err(EngineError::NotFound {
                what: format!("service `{id}`"),
            });
        };
        let spec = service.spec.unwrap_or_default();
        let options = UpdateServiceOptionsBuilder::default()
            .version(i32::try_from(version).unwrap_or(i32::MAX))
            .rollback("previous")
            .build();
        self.docker
            .update_service(id, spec, options, None)
            .await
            .map_err(|e| self.err(&format!("rollback of service `{id}`"), e))?;
        Ok(())
    }

    async fn remove_service(&self, id: &str) -> Result<()> {
        match self.docker.delete_service(id).await {
            Ok(()) => Ok(()),
            Err(e) if crate::error::is_not_found(&e) => Ok(()),
            Err(e) => Err(self.err(&format!("service `{id}`"), e)),
        }
    }

    async fn list_tasks(&self, services: &[String]) -> Result<Vec<TaskInfo>> {
        if services.is_empty() {
            return Ok(Vec::new());
        }
        let filters = HashMap::from([("service".to_string(), services.to_vec())]);
        let options = ListTasksOptionsBuilder::default().filters(&filters).build();
        let tasks = self
            .docker
            .list_tasks(Some(options))
            .await
            .map_err(|e| self.err("tasks", e))?;
        let mut out: Vec<TaskInfo> = tasks.into_iter().map(task_info).collect();
        out.sort_by(|a, b| {
            (&a.service_id, a.slot, &a.created_at).cmp(&(&b.service_id, b.slot, &b.created_at))
        });
        Ok(out)
    }

    async fn list_file_objects(&self, kind: FileKind, stack: &str) -> Result<Vec<FileObjectInfo>> {
        let filters = stack_filter(stack);
        let mut out: Vec<FileObjectInfo> = match kind {
            FileKind::Secret => self
                .docker
                .list_secrets(Some(
                    ListSecretsOptionsBuilder::default()
                        .filters(&filters)
                        .build(),
                ))
                .await
                .map_err(|e| self.err("secrets", e))?
                .into_iter()
                .map(|s| {
                    let spec = s.spec.unwrap_or_default();
                    FileObjectInfo {
                        id: s.id.unwrap_or_default(),
                        name: spec.name.unwrap_or_default(),
                        labels: sorted(spec.labels),
                    }
                })
                .collect(),
            FileKind::Config => self
                .docker
                .list_configs(Some(
                    ListConfigsOptionsBuilder::default()
                        .filters(&filters)
                        .build(),
                ))
                .await
                .map_err(|e| self.err("configs", e))?
                .into_iter()
                .map(|c| {
                    let spec = c.spec.unwrap_or_default();
                    FileObjectInfo {
                        id: c.id.unwrap_or_default(),
                        name: spec.name.unwrap_or_default(),
                        labels: sorted(spec.labels),
                    }
                })
                .collect(),
        };
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    async fn inspect_file_object(
        &self,
        kind: FileKind,
        name: &str,
    ) -> Result<Option<FileObjectInfo>> {
        let what = || format!("{} `{name}`", kind.as_str());
        Ok(match kind {
            FileKind::Secret => {
                let answer = self.docker.inspect_secret(name).await;
                self.found(answer, what)?.map(|s| {
                    let spec = s.spec.unwrap_or_default();
                    FileObjectInfo {
                        id: s.id.unwrap_or_default(),
                        name: spec.name.unwrap_or_default(),
                        labels: sorted(spec.labels),
                    }
                })
            }
            FileKind::Config => {
                let answer = self.docker.inspect_config(name).await;
                self.found(answer, what)?.map(|c| {
                    let spec = c.spec.unwrap_or_default();
                    FileObjectInfo {
                        id: c.id.unwrap_or_default(),
                        name: spec.name.unwrap_or_default(),
                        labels: sorted(spec.labels),
                    }
                })
            }
        })
    }

    async fn create_file_object(&self, kind: FileKind, spec: &FileObjectSpec) -> Result<String> {
        let data = base64::engine::general_purpose::STANDARD.encode(&spec.data);
        let what = format!("{} `{}`", kind.as_str(), spec.name);
        let answer = match kind {
            FileKind::Secret => {
                self.docker
                    .create_secret(SecretSpec {
                        name: Some(spec.name.clone()),
                        labels: map(&spec.labels),
                        data: Some(data),
                        ..Default::default()
                    })
                    .await
            }
            FileKind::Config => {
                self.docker
                    .create_config(ConfigSpec {
                        name: Some(spec.name.clone()),
                        labels: map(&spec.labels),
                        data: Some(data),
                        ..Default::default()
                    })
                    .await
            }
        };
        // Never the error's own text for a secret: the daemon does not echo the data, but
        // the message is kept to the facts.
        let id = answer.map_err(|e| self.err(&what, e))?;
        Ok(id.id)
    }

    async fn remove_file_object(&self, kind: FileKind, id: &str) -> Result<()> {
        let answer = match kind {
            FileKind::Secret => self.docker.delete_secret(id).await,
            FileKind::Config => self.docker.delete_config(id).await,
        };
        match answer {
            Ok(()) => Ok(()),
            Err(e) if crate::error::is_not_found(&e) => Ok(()),
            Err(e) => Err(self.err(&format!("{} `{id}`", kind.as_str()), e)),
        }
    }

    async fn swarm_events(&self) -> Result<BoxStream<'static, Result<SwarmEvent>>> {
        let since = self.daemon_now().await?;
        let filters = HashMap::from([(
            "type".to_string(),
            vec![
                "service".to_string(),
                "node".to_string(),
                "secret".to_string(),
                "config".to_string(),
                "container".to_string(),
            ],
        )]);
        let options = EventsOptionsBuilder::default()
            .since(&since)
            .filters(&filters)
            .build();
        let endpoint = self.endpoint.clone();
        let stream = self
            .docker
            .events(Some(options))
            .map(move |item| match item {
                Ok(m) => {
                    let actor = m.actor.unwrap_or_default();
                    let attributes = actor.attributes.unwrap_or_default();
                    Ok(SwarmEvent {
                        kind: m.typ.map(|t| t.to_string()).unwrap_or_default(),
                        id: actor.id.unwrap_or_default(),
                        action: m.action.unwrap_or_default(),
                        name: attributes.get("name").cloned(),
                    })
                }
                Err(e) => Err(crate::error::map(&endpoint, "events", e)),
            });
        Ok(stream.boxed())
    }

    async fn task_logs(
        &self,
        id: &str,
        options: &LogOptions,
    ) -> Result<BoxStream<'static, Result<LogChunk>>> {
        let endpoint = self.endpoint.clone();
        let what = format!("logs of task `{id}`");
        let stream = self
            .docker
            .task_logs(id, Some(crate::logs_request(options)))
            .filter_map(move |item| {
                futures::future::ready(crate::log_chunk(item, &endpoint, &what))
            });
        Ok(stream.boxed())
    }
}

impl DockerEngine {
    pub(crate) async fn push(&self, reference: &str) -> Result<String> {
        let (name, tag) = split_tag(reference);
        let options = PushImageOptionsBuilder::default().tag(tag).build();
        let mut stream = self.docker.push_image(name, Some(options), None);
        let mut digest = None;
        let what = format!("push of `{reference}`");
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| self.err(&what, e))?;
            if let Some(e) = info.error_detail.and_then(|d| d.message) {
                return Err(EngineError::Other(format!("{what} failed: {e}")));
            }
            if let Some(d) = info
                .status
                .as_deref()
                .and_then(|s| s.split_once("digest: "))
                .and_then(|(_, rest)| rest.split_whitespace().next())
            {
                digest = Some(d.to_string());
            }
        }
        digest.ok_or_else(|| EngineError::Other(format!("{what}: the registry gave no digest")))
    }

    pub(crate) async fn tag(&self, image: &str, reference: &str) -> Result<()> {
        let (repo, tag) = split_tag(reference);
        let options = TagImageOptionsBuilder::default()
            .repo(repo)
            .tag(tag)
            .build();
        self.docker
            .tag_image(image, Some(options))
            .await
            .map_err(|e| self.err(&format!("tag `{reference}`"), e))
    }
}

/// `registry:5000/app:1.2` → (`registry:5000/app`, `1.2`); no tag → `latest`.
pub(crate) fn split_tag(reference: &str) -> (&str, &str) {
    let last = reference.rsplit('/').next().unwrap_or(reference);
    match last.rsplit_once(':') {
        Some((_, tag)) if !tag.is_empty() => {
            let cut = reference.len() - tag.len() - 1;
            (&reference[..cut], tag)
        }
        _ => (reference, "latest"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_is_split_from_its_repository_not_from_a_registry_port() {
        assert_eq!(split_tag("reg:5000/app:1.2"), ("reg:5000/app", "1.2"));
        assert_eq!(split_tag("reg:5000/app"), ("reg:5000/app", "latest"));
        assert_eq!(split_tag("app"), ("app", "latest"));
    }
}
