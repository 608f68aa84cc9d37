//! stackr's [`Engine`] over the Docker Engine API, with bollard.
//!
//! [`DockerEngine::connect`] reaches the daemon named by `DOCKER_HOST` (the local socket by
//! default) and negotiates the API version, so newer request fields are only sent to daemons
//! that know them. This is the only crate that names bollard: everything it exposes is
//! `stackr-engine`'s plain data, and every error is an [`EngineError`].

mod buildkit;
mod convert;
mod error;
mod swarm;

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::models::{NetworkConnectRequest, NetworkCreateRequest, VolumeCreateRequest};
use bollard::query_parameters::{
    BuildImageOptionsBuilder, CreateContainerOptionsBuilder, EventsOptionsBuilder,
    InspectContainerOptions, InspectNetworkOptions, KillContainerOptionsBuilder,
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder,
    LogsOptionsBuilder, RemoveContainerOptionsBuilder, RemoveVolumeOptions, StartContainerOptions,
    StopContainerOptionsBuilder,
};
use futures::StreamExt;
use futures::stream::BoxStream;
use stackr_engine::{
    BuildSpec, ContainerInfo, ContainerSpec, Engine, EngineError, EngineInfo, Event, ImageInfo,
    LABEL_STACK, LogChunk, LogOptions, LogStream, NetworkInfo, NetworkSpec, Result, VolumeInfo,
    VolumeSpec,
};

use crate::convert::ApiVersion;

/// The endpoint used when `DOCKER_HOST` is not set.
const DEFAULT_ENDPOINT: &str = "unix:///var/run/docker.sock";

/// How many lines of a build's output a [`EngineError::BuildFailed`] carries.
const BUILD_TAIL_LINES: usize = 20;

/// What a classic build printed that an error needs: the image it made, the step it was at,
/// its last lines.
#[derive(Debug, Default)]
struct BuildLog {
    image_id: Option<String>,
    step: Option<String>,
    tail: VecDeque<String>,
}

/// A Docker daemon, reached over its Engine API.
#[derive(Debug, Clone)]
pub struct DockerEngine {
    docker: Docker,
    endpoint: String,
    /// The API version both sides speak, asked for when a request first needs it (bollard
    /// sends its requests unversioned, so the daemon answers in its own; only the fields stackr
    /// sends at create time depend on the version).
    api: std::sync::Arc<tokio::sync::OnceCell<ApiVersion>>,
}

impl DockerEngine {
    /// Connects to the daemon of `DOCKER_HOST` (the local socket when unset) and negotiates
    /// the API version.
    pub async fn connect() -> Result<DockerEngine> {
        let endpoint = std::env::var("DOCKER_HOST")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
        DockerEngine::connect_to(&endpoint).await
    }

    /// Connects to the daemon at `endpoint` (`unix:///var/run/docker.sock`, `tcp://host:2375`):
    /// a ping, so that an unreachable daemon is said at once. The API version is negotiated
    /// when first needed ([`DockerEngine::api_version`]): `/version` takes about 10 ms on
    /// these daemons, `/_ping` about 1, and most commands never create anything.
    pub async fn connect_to(endpoint: &str) -> Result<DockerEngine> {
        let docker =
            Docker::connect_with_host(endpoint).map_err(|e| error::map(endpoint, "connect", e))?;
        docker
            .ping()
            .await
            .map_err(|e| error::map(endpoint, "ping", e))?;
        Ok(DockerEngine {
            docker,
            endpoint: endpoint.to_string(),
            api: Default::default(),
        })
    }

    /// The API version both sides speak: the daemon's, or bollard's when older.
    async fn api(&self) -> Result<ApiVersion> {
        let ours = ApiVersion {
            major: bollard::API_DEFAULT_VERSION.major_version,
            minor: bollard::API_DEFAULT_VERSION.minor_version,
        };
        let negotiated = self.api.get_or_try_init(|| async {
            let v = self
                .docker
                .version()
                .await
                .map_err(|e| self.err("API version negotiation", e))?;
            let theirs = v
                .api_version
                .as_deref()
                .and_then(|a| a.split_once('.'))
                .and_then(|(major, minor)| {
                    Some(ApiVersion {
                        major: major.parse().ok()?,
                        minor: minor.parse().ok()?,
                    })
                })
                .ok_or_else(|| {
                    EngineError::Other(format!(
                        "the daemon at {} gave no API version it speaks",
                        self.endpoint
                    ))
                })?;
            Ok::<ApiVersion, EngineError>(theirs.min(ours))
        });
        negotiated.await.copied()
    }

    /// Where the daemon was reached.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The negotiated Engine API version, like `1.41`.
    pub async fn api_version(&self) -> Result<String> {
        Ok(self.api().await?.to_string())
    }

    /// A build on the engine's classic builder, its output streamed to `progress`.
    async fn build_classic(
        &self,
        spec: &BuildSpec,
        progress: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<BuildLog> {
        // A remote context is fetched by the engine: the body is empty (bollard needs one).
        let body = match &spec.remote {
            Some(_) => Vec::new(),
            None => stackr_engine::context::tar_build(spec)?,
        };
        let mut options = BuildImageOptionsBuilder::default()
            .dockerfile(&spec.dockerfile)
            .t(&spec.tag)
            .rm(true)
            .forcerm(true)
            .buildargs(
                &spec
                    .args
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<HashMap<_, _>>(),
            )
            .labels(
                &spec
                    .labels
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<HashMap<_, _>>(),
            );
        if let Some(target) = &spec.target {
            options = options.target(target);
        }
        if let Some(remote) = &spec.remote {
            options = options.remote(remote);
        }
        if !spec.cache_from.is_empty() {
            options = options.cachefrom(&spec.cache_from);
        }
        if let Some(network) = &spec.network {
            options = options.networkmode(network);
        }
        if let Some(platform) = &spec.platform {
            options = options.platform(platform);
        }
        if let Some(shm) = spec.shm_size {
            options = options.shmsize(i32::try_from(shm).unwrap_or(i32::MAX));
        }
        let mut stream =
            self.docker
                .build_image(options.build(), None, Some(bollard::body_full(body.into())));

        let mut tail: VecDeque<String> = VecDeque::with_capacity(BUILD_TAIL_LINES);
        let mut step: Option<String> = None;
        let mut image_id: Option<String> = None;
        let remember = |line: &str, tail: &mut VecDeque<String>, step: &mut Option<String>| {
            if line.starts_with("Step ") && line.contains(" : ") {
                *step = Some(line.to_string());
            }
            if tail.len() == BUILD_TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(line.to_string());
            progress(line);
        };
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    if let Some(text) = info.stream.as_deref().or(info.status.as_deref()) {
                        for line in text.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
                            remember(line, &mut tail, &mut step);
                            if let Some(id) = line.strip_prefix("Successfully built ") {
                                image_id.get_or_insert_with(|| id.trim().to_string());
                            }
                        }
                    }
                    if let Some(bollard::models::BuildInfoAux::Default(
                        bollard::models::ImageId { id: Some(id) },
                    )) = info.aux
                    {
                        image_id = Some(id);
                    }
                }
                Err(bollard::errors::Error::DockerStreamError { error }) => {
                    remember(&error, &mut tail, &mut step);
                    return Err(EngineError::BuildFailed {
                        step,
                        message: error,
                        output: Vec::from(tail).join("\n"),
                    });
                }
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code,
                    message,
                }) if (400..500).contains(&status_code) => {
                    return Err(EngineError::BuildFailed {
                        step,
                        message,
                        output: Vec::from(tail).join("\n"),
                    });
                }
                Err(e) => return Err(self.err(&format!("build of `{}`", spec.tag), e)),
            }
        }
        Ok(BuildLog {
            image_id,
            step,
            tail,
        })
    }

    fn err(&self, what: &str, e: bollard::errors::Error) -> EngineError {
        error::map(&self.endpoint, what, e)
    }

    /// An attached connection (`exec`, `attach`): `input` goes to the process in the
    /// background (its end closes the process's input when `close_input`), the process's
    /// output to `output`, until the output ends.
    async fn relay(
        &self,
        what: &str,
        writer: std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>,
        mut stream: std::pin::Pin<
            Box<
                dyn futures::Stream<Item = std::result::Result<LogOutput, bollard::errors::Error>>
                    + Send,
            >,
        >,
        input: Option<BoxStream<'static, Vec<u8>>>,
        close_input: bool,
        output: &(dyn Fn(LogChunk) + Send + Sync),
    ) -> Result<()> {
        // Without input the writer is kept until the end, as the connection's other half.
        let (feeder, _kept) = match input {
            Some(input) => (Some(tokio::spawn(feed(writer, input, close_input))), None),
            None => (None, Some(writer)),
        };
        let mut result = Ok(());
        while let Some(item) = stream.next().await {
            match log_chunk(item, &self.endpoint, what) {
                Some(Ok(chunk)) => output(chunk),
                Some(Err(e)) => {
                    result = Err(e);
                    break;
                }
                None => {}
            }
        }
        if let Some(f) = feeder {
            f.abort();
        }
        result
    }

    /// An inspect's answer: the object, `None` when the engine does not know it, or the error.
    fn found<T>(
        &self,
        answer: std::result::Result<T, bollard::errors::Error>,
        what: impl FnOnce() -> String,
    ) -> Result<Option<T>> {
        match answer {
            Ok(v) => Ok(Some(v)),
            Err(e) if error::is_not_found(&e) => Ok(None),
            Err(e) => Err(self.err(&what(), e)),
        }
    }

    fn stack_filter(stack: &str) -> HashMap<String, Vec<String>> {
        HashMap::from([("label".to_string(), vec![format!("{LABEL_STACK}={stack}")])])
    }

    async fn containers(
        &self,
        filters: HashMap<String, Vec<String>>,
    ) -> Result<Vec<ContainerInfo>> {
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let list = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|e| self.err("containers", e))?;
        let mut infos: Vec<ContainerInfo> =
            list.into_iter().map(convert::info_of_summary).collect();
        infos.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(infos)
    }

    /// The daemon's clock, as `docker events --since` takes it (this machine's when the
    /// daemon does not say).
    async fn daemon_now(&self) -> Result<String> {
        let info = self.docker.info().await.map_err(|e| self.err("info", e))?;
        if let Some(t) = info
            .system_time
            .as_deref()
            .and_then(convert::unix_timestamp)
        {
            return Ok(t);
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Ok(format!("{}.{:09}", now.as_secs(), now.subsec_nanos()))
    }
}

impl Engine for DockerEngine {
    async fn info(&self) -> Result<EngineInfo> {
        let v = self
            .docker
            .version()
            .await
            .map_err(|e| self.err("version", e))?;
        Ok(EngineInfo {
            server_version: v.version.unwrap_or_default(),
            api_version: v.api_version.unwrap_or_default(),
            endpoint: self.endpoint.clone(),
        })
    }

    async fn resources(&self) -> Result<stackr_engine::Resources> {
        let info = self.docker.info().await.map_err(|e| self.err("info", e))?;
        Ok(stackr_engine::Resources {
            cpus: info
                .ncpu
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(u32::MAX),
        })
    }

    async fn list_containers(&self, stack: &str) -> Result<Vec<ContainerInfo>> {
        self.containers(Self::stack_filter(stack)).await
    }

    async fn list_all_containers(&self) -> Result<Vec<ContainerInfo>> {
        self.containers(HashMap::from([(
            "label".to_string(),
            vec![LABEL_STACK.to_string()],
        )]))
        .await
    }

    async fn list_networks(&self, stack: &str) -> Result<Vec<NetworkInfo>> {
        let options = ListNetworksOptionsBuilder::default()
            .filters(&Self::stack_filter(stack))
            .build();
        let list = self
            .docker
            .list_networks(Some(options))
            .await
            .map_err(|e| self.err("networks", e))?;
        let mut infos: Vec<NetworkInfo> = list.into_iter().map(convert::network_of_list).collect();
        infos.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(infos)
    }

    async fn list_volumes(&self, stack: &str) -> Result<Vec<VolumeInfo>> {
        let options = ListVolumesOptionsBuilder::default()
            .filters(&Self::stack_filter(stack))
            .build();
        let list = self
            .docker
            .list_volumes(Some(options))
            .await
            .map_err(|e| self.err("volumes", e))?;
        let mut infos: Vec<VolumeInfo> = list
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(convert::volume_info)
            .collect();
        infos.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(infos)
    }

    async fn inspect_network(&self, name: &str) -> Result<Option<NetworkInfo>> {
        let found = self
            .docker
            .inspect_network(name, None::<InspectNetworkOptions>)
            .await;
        self.found(found, || format!("network `{name}`"))
            .map(|n| n.map(convert::network_of_inspect))
    }

    async fn inspect_volume(&self, name: &str) -> Result<Option<VolumeInfo>> {
        let found = self.docker.inspect_volume(name).await;
        self.found(found, || format!("volume `{name}`"))
            .map(|v| v.map(convert::volume_info))
    }

    async fn inspect_container(&self, id: &str) -> Result<Option<ContainerInfo>> {
        let found = self
            .docker
            .inspect_container(id, None::<InspectContainerOptions>)
            .await;
        self.found(found, || format!("container `{id}`"))
            .map(|c| c.map(convert::info_of_inspect))
    }

    async fn inspect_image(&self, reference: &str) -> Result<Option<ImageInfo>> {
        match self.docker.inspect_image(reference).await {
            Ok(i) => {
                let config = i.config.unwrap_or_default();
                Ok(Some(ImageInfo {
                    id: i.id.unwrap_or_default(),
                    config: stackr_engine::ImageConfig {
                        entrypoint: config.entrypoint.filter(|e| !e.is_empty()),
                        cmd: config.cmd.filter(|c| !c.is_empty()),
                        health_test: config
                            .healthcheck
                            .and_then(|h| h.test)
                            .filter(|t| !t.is_empty()),
                    },
                    labels: config.labels.unwrap_or_default().into_iter().collect(),
                    repo_tags: i.repo_tags.unwrap_or_default(),
                    size: i.size,
                }))
            }
            Err(e) if error::is_not_found(&e) => Ok(None),
            Err(e) => Err(self.err(&format!("image `{reference}`"), e)),
        }
    }

    async fn create_network(&self, spec: &NetworkSpec) -> Result<String> {
        let what = format!("network `{}`", spec.name);
        // Before API 1.44 the daemon creates a second network of the same name unless asked
        // to check; the check is done here, so every version behaves alike.
        let options = ListNetworksOptionsBuilder::default()
            .filters(&HashMap::from([(
                "name".to_string(),
                vec![spec.name.clone()],
            )]))
            .build();
        let existing = self
            .docker
            .list_networks(Some(options))
            .await
            .map_err(|e| self.err(&what, e))?;
        if existing
            .iter()
            .any(|n| n.name.as_deref() == Some(spec.name.as_str()))
        {
            return Err(EngineError::Conflict {
                what,
                message: "a network with this name exists".to_string(),
            });
        }
        let request = NetworkCreateRequest {
            name: spec.name.clone(),
            driver: spec.driver.clone(),
            internal: Some(spec.internal),
            attachable: spec.attachable.then_some(true),
            labels: Some(
                spec.labels
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
            options: (!spec.driver_opts.is_empty()).then(|| {
                spec.driver_opts
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            }),
            enable_ipv6: spec.enable_ipv6.then_some(true),
            ipam: spec.ipam.as_ref().map(convert::ipam),
            ..Default::default()
        };
        let created = self
            .docker
            .create_network(request)
            .await
            .map_err(|e| self.err(&what, e))?;
        Ok(created.id)
    }

    async fn remove_network(&self, id: &str) -> Result<()> {
        self.docker
            .remove_network(id)
            .await
            .map_err(|e| self.err(&format!("network `{id}`"), e))
    }

    async fn create_volume(&self, spec: &VolumeSpec) -> Result<()> {
        let request = VolumeCreateRequest {
            name: Some(spec.name.clone()),
            driver: spec.driver.clone(),
            driver_opts: Some(
                spec.driver_opts
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
            labels: Some(
                spec.labels
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
            ..Default::default()
        };
        self.docker
            .create_volume(request)
            .await
            .map_err(|e| self.err(&format!("volume `{}`", spec.name), e))?;
        Ok(())
    }

    async fn remove_volume(&self, name: &str) -> Result<()> {
        self.docker
            .remove_volume(name, None::<RemoveVolumeOptions>)
            .await
            .map_err(|e| self.err(&format!("volume `{name}`"), e))
    }

    async fn download_archive(&self, id: &str, path: &str) -> Result<Vec<u8>> {
        let options = bollard::query_parameters::DownloadFromContainerOptionsBuilder::default()
            .path(path)
            .build();
        let mut stream = self.docker.download_from_container(id, Some(options));
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.err(&format!("`{path}` in container `{id}`"), e))?;
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    async fn exec(
        &self,
        id: &str,
        spec: &stackr_engine::ExecSpec,
        input: Option<BoxStream<'static, Vec<u8>>>,
        output: &(dyn Fn(LogChunk) + Send + Sync),
    ) -> Result<Option<i64>> {
        let what = format!("container `{id}`");
        let config = bollard::models::ExecConfig {
            attach_stdin: Some(input.is_some() && !spec.detach),
            attach_stdout: Some(!spec.detach),
            attach_stderr: Some(!spec.detach),
            tty: Some(spec.tty),
            env: (!spec.env.is_empty()).then(|| spec.env.clone()),
            cmd: Some(spec.cmd.clone()),
            user: spec.user.clone(),
            working_dir: spec.working_dir.clone(),
            privileged: spec.privileged.then_some(true),
            ..Default::default()
        };
        let created = self
            .docker
            .create_exec(id, config)
            .await
            .map_err(|e| self.err(&what, e))?;
        let start = bollard::exec::StartExecOptions {
            detach: spec.detach,
            tty: spec.tty,
            output_capacity: None,
        };
        match self
            .docker
            .start_exec(&created.id, Some(start))
            .await
            .map_err(|e| self.err(&what, e))?
        {
            bollard::exec::StartExecResults::Detached => return Ok(None),
            bollard::exec::StartExecResults::Attached {
                output: stream,
                input: writer,
            } => {
                if let Some((w, h)) = spec.size.filter(|_| spec.tty) {
                    let resize = bollard::query_parameters::ResizeExecOptions {
                        h: i32::from(h),
                        w: i32::from(w),
                    };
                    let _ = self.docker.resize_exec(&created.id, resize).await;
                }
                // The command's input ends when ours does.
                self.relay(&what, writer, stream, input, true, output)
                    .await?;
            }
        }
        let inspected = self
            .docker
            .inspect_exec(&created.id)
            .await
            .map_err(|e| self.err(&what, e))?;
        Ok(Some(inspected.exit_code.unwrap_or(-1)))
    }

    async fn top(&self, id: &str) -> Result<stackr_engine::Processes> {
        let top = self
            .docker
            .top_processes(id, None::<bollard::query_parameters::TopOptions>)
            .await
            .map_err(|e| self.err(&format!("container `{id}`"), e))?;
        Ok(stackr_engine::Processes {
            titles: top.titles.unwrap_or_default(),
            rows: top.processes.unwrap_or_default(),
        })
    }

    async fn import_image(&self, tar: Vec<u8>, reference: &str) -> Result<String> {
        let (repo, tag) = match reference.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r, t),
            _ => (reference, "latest"),
        };
        let options = bollard::query_parameters::CreateImageOptionsBuilder::default()
            .from_src("-")
            .repo(repo)
            .tag(tag)
            .build();
        let mut stream =
            self.docker
                .create_image(Some(options), Some(bollard::body_full(tar.into())), None);
        while let Some(item) = stream.next().await {
            item.map_err(|e| self.err(&format!("image `{reference}`"), e))?;
        }
        match self.inspect_image(reference).await? {
            Some(i) => Ok(i.id),
            None => Err(EngineError::Other(format!(
                "image `{reference}` is not there after its import"
            ))),
        }
    }

    async fn hold_input(&self, id: &str) -> Result<stackr_engine::Held> {
        let options = bollard::query_parameters::AttachContainerOptionsBuilder::default()
            .stdin(true)
            .stream(true)
            .build();
        let attached = self
            .docker
            .attach_container(id, Some(options))
            .await
            .map_err(|e| self.err(&format!("container `{id}`"), e))?;
        Ok(stackr_engine::Held(Box::new(attached)))
    }

    async fn pull_image(&self, reference: &str) -> Result<()> {
        let (image, tag) = match reference.rsplit_once(':') {
            Some((i, t)) if !t.contains('/') => (i, t),
            _ => (reference, "latest"),
        };
        let options = bollard::query_parameters::CreateImageOptionsBuilder::default()
            .from_image(image)
            .tag(tag)
            .build();
        let mut stream = self.docker.create_image(Some(options), None, None);
        while let Some(item) = stream.next().await {
            if let Err(e) = item {
                let mapped = self.err(&format!("image `{reference}`"), e);
                return Err(match mapped {
                    EngineError::Api { message, .. } | EngineError::Other(message) => {
                        EngineError::Other(format!("cannot pull `{reference}`: {message}"))
                    }
                    other => other,
                });
            }
        }
        Ok(())
    }

    async fn upload_archive(
        &self,
        id: &str,
        path: &str,
        tar: Vec<u8>,
        as_container_user: bool,
    ) -> Result<()> {
        let mut options = bollard::query_parameters::UploadToContainerOptionsBuilder::default()
            .path(path)
            .build();
        if as_container_user {
            options.copy_uidgid = Some("true".into());
        }
        self.docker
            .upload_to_container(id, Some(options), bollard::body_full(tar.into()))
            .await
            .map_err(|e| self.err(&format!("container `{id}`"), e))
    }

    async fn create_container(&self, spec: &ContainerSpec) -> Result<stackr_engine::Created> {
        let what = format!("container `{}`", spec.name);
        let body = convert::create_body(spec, self.api().await?)?;
        let mut options = CreateContainerOptionsBuilder::default().name(&spec.name);
        if let Some(platform) = &spec.host.platform {
            options = options.platform(platform);
        }
        let created = match self
            .docker
            .create_container(Some(options.build()), body)
            .await
        {
            Ok(c) => c,
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404,
                message,
            }) if message.contains("No such image") => {
                return Err(EngineError::ImageMissing {
                    image: spec.image.clone(),
                });
            }
            Err(e) => return Err(self.err(&what, e)),
        };
        let id = created.id;
        // The API takes one network at create time; the others are connected now.
        if spec.network_mode.is_none() {
            for attachment in spec.networks.iter().skip(1) {
                let request = NetworkConnectRequest {
                    container: id.clone(),
                    endpoint_config: Some(convert::endpoint(attachment, &spec.host.links)),
                };
                if let Err(e) = self
                    .docker
                    .connect_network(attachment.target(), request)
                    .await
                {
                    let err = self.err(
                        &format!("network `{}` (joined by {what})", attachment.network),
                        e,
                    );
                    // No half-connected container is left behind.
                    let _ = self.remove_container(&id).await;
                    return Err(err);
                }
            }
        }
        Ok(stackr_engine::Created {
            id,
            warnings: created.warnings,
        })
    }

    async fn start_container(&self, id: &str) -> Result<()> {
        self.docker
            .start_container(id, None::<StartContainerOptions>)
            .await
            .map_err(|e| self.err(&format!("container `{id}`"), e))
    }

    async fn stop_container(&self, id: &str, timeout: Option<Duration>) -> Result<()> {
        let mut options = StopContainerOptionsBuilder::default();
        if let Some(t) = timeout {
            options = options.t(i32::try_from(convert::whole_seconds(t)).unwrap_or(i32::MAX));
        }
        self.docker
            .stop_container(id, Some(options.build()))
            .await
            .map_err(|e| self.err(&format!("container `{id}`"), e))
    }

    async fn kill_container(&self, id: &str, signal: &str) -> Result<()> {
        let options = KillContainerOptionsBuilder::default()
            .signal(signal)
            .build();
        self.docker
            .kill_container(id, Some(options))
            .await
            .map_err(|e| self.err(&format!("container `{id}`"), e))
    }

    async fn stats(&self, id: &str) -> Result<stackr_engine::ContainerStats> {
        // One sample; the engine gives the previous one beside it, for the CPU share.
        let options = bollard::query_parameters::StatsOptionsBuilder::default()
            .stream(false)
            .one_shot(false)
            .build();
        let mut stream = self.docker.stats(id, Some(options));
        match stream.next().await {
            Some(Ok(s)) => Ok(convert::stats_of(&s)),
            Some(Err(e)) => Err(self.err(&format!("container `{id}`"), e)),
            None => Err(EngineError::Other(format!(
                "the engine gave no statistics for container `{id}`"
            ))),
        }
    }

    async fn export_container(&self, id: &str) -> Result<Vec<u8>> {
        let mut stream = self.docker.export_container(id);
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.err(&format!("container `{id}`"), e))?;
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    async fn commit_container(&self, id: &str, commit: &stackr_engine::Commit) -> Result<String> {
        let mut options = bollard::query_parameters::CommitContainerOptionsBuilder::default()
            .container(id)
            .pause(commit.pause);
        if let Some(reference) = &commit.reference {
            let (repo, tag) = convert::split_reference(reference);
            options = options.repo(repo);
            if let Some(tag) = tag {
                options = options.tag(tag);
            }
        }
        if let Some(m) = &commit.message {
            options = options.comment(m);
        }
        if let Some(a) = &commit.author {
            options = options.author(a);
        }
        if !commit.changes.is_empty() {
            options = options.changes(&commit.changes.join("\n"));
        }
        let r = self
            .docker
            .commit_container(options.build(), bollard::models::ContainerConfig::default())
            .await
            .map_err(|e| self.err(&format!("container `{id}`"), e))?;
        Ok(r.id)
    }

    async fn pause_container(&self, id: &str) -> Result<()> {
        self.docker
            .pause_container(id)
            .await
            .map_err(|e| self.err(&format!("container `{id}`"), e))
    }

    async fn unpause_container(&self, id: &str) -> Result<()> {
        self.docker
            .unpause_container(id)
            .await
            .map_err(|e| self.err(&format!("container `{id}`"), e))
    }

    async fn remove_container(&self, id: &str) -> Result<()> {
        let options = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        self.docker
            .remove_container(id, Some(options))
            .await
            .map_err(|e| self.err(&format!("container `{id}`"), e))
    }

    async fn rename_container(&self, id: &str, name: &str) -> Result<()> {
        let options = bollard::query_parameters::RenameContainerOptionsBuilder::default()
            .name(name)
            .build();
        self.docker
            .rename_container(id, options)
            .await
            .map_err(|e| self.err(&format!("container `{id}`"), e))
    }

    async fn events(&self, stack: &str) -> Result<BoxStream<'static, Result<Event>>> {
        // The request is sent by a task, so it may reach the daemon after this returns; the
        // daemon replays what happened since `since` (its own clock, read now) before
        // streaming, so nothing done after this returns is missed.
        let since = self.daemon_now().await?;
        let filters = HashMap::from([
            ("type".to_string(), vec!["container".to_string()]),
            ("label".to_string(), vec![format!("{LABEL_STACK}={stack}")]),
        ]);
        let options = EventsOptionsBuilder::default()
            .since(&since)
            .filters(&filters)
            .build();
        let mut stream = self.docker.events(Some(options));
        let endpoint = self.endpoint.clone();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Event>>(1024);
        tokio::spawn(async move {
            loop {
                let item = tokio::select! {
                    _ = tx.closed() => return,
                    item = stream.next() => item,
                };
                let forwarded = match item {
                    None => return,
                    Some(Ok(message)) => match convert::event(message) {
                        Some(event) => Ok(event),
                        None => continue,
                    },
                    Some(Err(e)) => Err(error::map(&endpoint, "events", e)),
                };
                let failed = forwarded.is_err();
                if tx.send(forwarded).await.is_err() || failed {
                    return;
                }
            }
        });
        let events = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
        Ok(events.boxed())
    }

    async fn build_image(
        &self,
        spec: &BuildSpec,
        progress: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<String> {
        let log = if spec.needs_buildkit() {
            buildkit::build(&self.docker, spec, progress).await?;
            BuildLog::default()
        } else {
            self.build_classic(spec, progress).await?
        };
        let id = match log.image_id {
            Some(id) => id,
            None => match self.inspect_image(&spec.tag).await? {
                Some(image) => image.id,
                None => {
                    return Err(EngineError::BuildFailed {
                        step: log.step,
                        message: format!("the build produced no image `{}`", spec.tag),
                        output: Vec::from(log.tail).join("\n"),
                    });
                }
            },
        };
        // The engine takes one tag with the build; the others are added now.
        for reference in &spec.extra_tags {
            self.tag(&id, reference).await?;
        }
        Ok(id)
    }

    async fn push_image(&self, reference: &str) -> Result<String> {
        self.push(reference).await
    }

    async fn tag_image(&self, image: &str, reference: &str) -> Result<()> {
        self.tag(image, reference).await
    }

    async fn attach(
        &self,
        id: &str,
        opts: &stackr_engine::AttachSpec,
        input: Option<BoxStream<'static, Vec<u8>>>,
        output: &(dyn Fn(LogChunk) + Send + Sync),
    ) -> Result<()> {
        let what = format!("container `{id}`");
        let mut options = bollard::query_parameters::AttachContainerOptionsBuilder::default()
            .stdin(input.is_some())
            .stdout(true)
            .stderr(true)
            .stream(true)
            .logs(false);
        if let Some(keys) = &opts.detach_keys {
            options = options.detach_keys(keys);
        }
        let attached = self
            .docker
            .attach_container(id, Some(options.build()))
            .await
            .map_err(|e| self.err(&what, e))?;
        if let Some((w, h)) = opts.size {
            let resize = bollard::query_parameters::ResizeContainerTTYOptionsBuilder::default()
                .h(i32::from(h))
                .w(i32::from(w))
                .build();
            let _ = self.docker.resize_container_tty(id, resize).await;
        }
        // The container's input stays open after ours ends (others may attach).
        self.relay(&what, attached.input, attached.output, input, false, output)
            .await
    }

    async fn logs(
        &self,
        id: &str,
        options: &LogOptions,
    ) -> Result<BoxStream<'static, Result<LogChunk>>> {
        // A missing container is reported now rather than as the stream's first item.
        if self.inspect_container(id).await?.is_none() {
            return Err(EngineError::NotFound {
                what: format!("container `{id}`"),
            });
        }
        let endpoint = self.endpoint.clone();
        let what = format!("logs of container `{id}`");
        let stream = self
            .docker
            .logs(id, Some(logs_request(options)))
            .filter_map(move |item| futures::future::ready(log_chunk(item, &endpoint, &what)));
        Ok(stream.boxed())
    }
}

/// The API's log request for [`LogOptions`] (a container's or a task's).
pub(crate) fn logs_request(options: &LogOptions) -> bollard::query_parameters::LogsOptions {
    let tail = options
        .tail
        .map(|n| n.to_string())
        .unwrap_or_else(|| "all".to_string());
    let mut b = LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .follow(options.follow)
        .timestamps(options.timestamps)
        .tail(&tail);
    // The API takes 32-bit seconds.
    if let Some(since) = options.since {
        b = b.since(since.clamp(0, i64::from(i32::MAX)) as i32);
    }
    if let Some(until) = options.until {
        b = b.until(until.clamp(0, i64::from(i32::MAX)) as i32);
    }
    b.build()
}

/// One item of a log stream as a [`LogChunk`] (none for input echoed back).
/// Writes `input` to an attached process until it ends or the connection does; then closes
/// the process's input when `close`.
async fn feed(
    mut writer: std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>,
    mut input: BoxStream<'static, Vec<u8>>,
    close: bool,
) {
    use tokio::io::AsyncWriteExt;
    while let Some(bytes) = input.next().await {
        if writer.write_all(&bytes).await.is_err() {
            break;
        }
        let _ = writer.flush().await;
    }
    if close {
        let _ = writer.shutdown().await;
    }
}

pub(crate) fn log_chunk(
    item: std::result::Result<LogOutput, bollard::errors::Error>,
    endpoint: &str,
    what: &str,
) -> Option<Result<LogChunk>> {
    match item {
        Ok(LogOutput::StdOut { message } | LogOutput::Console { message }) => Some(Ok(LogChunk {
            stream: LogStream::Stdout,
            text: String::from_utf8_lossy(&message).into_owned(),
        })),
        Ok(LogOutput::StdErr { message }) => Some(Ok(LogChunk {
            stream: LogStream::Stderr,
            text: String::from_utf8_lossy(&message).into_owned(),
        })),
        Ok(LogOutput::StdIn { .. }) => None,
        Err(e) => Some(Err(error::map(endpoint, what, e))),
    }
}
