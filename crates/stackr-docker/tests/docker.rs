//! `DockerEngine` against the real daemon: networks and volumes, a container's whole life
//! (networks, mounts, a published port, events, health, logs), builds that fail, images that
//! are missing, and a host port taken twice.
//!
//! Images cannot be pulled here, so a `FROM scratch` image with a static busybox is built
//! with the engine's own `build_image`. Everything a test creates carries its own
//! `io.stackr.stack` label and is removed by that label when the test ends, passed or not.
//! The tests run one at a time (builds share the daemon's layer cache) and fail, never skip,
//! when the daemon cannot be reached.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use stackr_docker::DockerEngine;
use stackr_engine::{
    BuildSpec, ContainerSpec, ContainerState, Engine, EngineError, Event, EventKind, HealthSpec,
    HealthState, LABEL_SERVICE, LABEL_STACK, LogOptions, LogStream, MountSpec, NetworkAttachment,
    NetworkSpec, PortBinding, Result, VolumeSpec,
};

/// One test at a time: image builds and removals share the daemon's layer cache.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
static NEXT: AtomicUsize = AtomicUsize::new(0);

const BUSYBOX: &str = "/usr/bin/busybox";
const WAIT: Duration = Duration::from_secs(30);

/// A test's stack: its unique name, and the clean-up of everything labelled with it.
struct Stack {
    name: String,
    dir: PathBuf,
}

impl Stack {
    fn new(test: &str) -> Stack {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let name = format!("stackr-test-docker-{}-{n}-{test}", std::process::id());
        let dir = std::env::temp_dir().join(&name);
        let stack = Stack { name, dir };
        stack.clean();
        stack
    }

    fn labels(&self, service: Option<&str>) -> BTreeMap<String, String> {
        let mut labels = BTreeMap::from([(LABEL_STACK.to_string(), self.name.clone())]);
        if let Some(s) = service {
            labels.insert(LABEL_SERVICE.to_string(), s.to_string());
        }
        labels
    }

    fn filter(&self) -> String {
        format!("label={LABEL_STACK}={}", self.name)
    }

    fn clean(&self) {
        let filter = self.filter();
        let containers = docker_lines(&["ps", "-aq", "--filter", &filter]);
        if !containers.is_empty() {
            docker_quiet(&[&["rm", "-f", "-v"], &str_refs(&containers)[..]].concat());
        }
        let networks = docker_lines(&["network", "ls", "-q", "--filter", &filter]);
        if !networks.is_empty() {
            docker_quiet(&[&["network", "rm"], &str_refs(&networks)[..]].concat());
        }
        let volumes = docker_lines(&["volume", "ls", "-q", "--filter", &filter]);
        if !volumes.is_empty() {
            docker_quiet(&[&["volume", "rm", "-f"], &str_refs(&volumes)[..]].concat());
        }
        let images = docker_lines(&["image", "ls", "-a", "-q", "--filter", &filter]);
        if !images.is_empty() {
            docker_quiet(&[&["image", "rm", "-f"], &str_refs(&images)[..]].concat());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.clean();
    }
}

fn str_refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// The non-empty lines a `docker` command prints.
fn docker_lines(args: &[&str]) -> Vec<String> {
    let out = Command::new("docker")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `docker {}`: {e}", args.join(" ")));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

fn docker_quiet(args: &[&str]) {
    let _ = Command::new("docker").args(args).output();
}

async fn engine() -> DockerEngine {
    DockerEngine::connect()
        .await
        .unwrap_or_else(|e| panic!("these tests need a reachable Docker daemon: {e}"))
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap_or(Path::new("/")))
        .unwrap_or_else(|e| panic!("cannot create the parent of {}: {e}", path.display()));
    std::fs::write(path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// A build context with busybox and `dockerfile`.
fn busybox_context(stack: &Stack, name: &str, dockerfile: &str) -> PathBuf {
    let dir = stack.dir.join(name);
    write(&dir.join("Dockerfile"), dockerfile);
    std::fs::copy(BUSYBOX, dir.join("busybox")).unwrap_or_else(|e| {
        panic!("cannot copy {BUSYBOX} (install busybox-static) into the build context: {e}")
    });
    dir
}

const BUSYBOX_DOCKERFILE: &str = "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\",\"--install\",\"-s\",\"/bin\"]\n";

/// Builds the stack's busybox image; returns its tag.
async fn busybox_image(engine: &DockerEngine, stack: &Stack) -> String {
    let context = busybox_context(stack, "image", BUSYBOX_DOCKERFILE);
    let tag = format!("{}-busybox:test", stack.name);
    let spec = BuildSpec {
        dockerfile_inline: None,
        remote: None,
        context,
        dockerfile: "Dockerfile".into(),
        target: None,
        args: BTreeMap::new(),
        tag: tag.clone(),
        labels: stack.labels(None),
        ..Default::default()
    };
    let id = engine
        .build_image(&spec, &|_| {})
        .await
        .unwrap_or_else(|e| panic!("building the busybox test image failed: {e}"));
    assert!(id.starts_with("sha256:"), "image id {id}");
    let image = engine
        .inspect_image(&tag)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("the built image {tag} is not on the engine"));
    assert_eq!(image.id, id);
    assert_eq!(image.labels.get(LABEL_STACK), Some(&stack.name));
    tag
}

fn container(stack: &Stack, service: &str, image: &str, command: &[&str]) -> ContainerSpec {
    ContainerSpec {
        name: format!("{}-{service}-1", stack.name),
        image: image.to_string(),
        labels: stack.labels(Some(service)),
        command: Some(command.iter().map(|s| s.to_string()).collect()),
        stop_timeout: Some(Duration::from_secs(1)),
        restart: "no".into(),
        ..Default::default()
    }
}

/// Waits for the first event of `name` that `want` accepts.
async fn wait_for(
    events: &mut BoxStream<'static, Result<Event>>,
    name: &str,
    what: &str,
    want: impl Fn(&EventKind) -> bool,
) -> Event {
    let found = tokio::time::timeout(WAIT, async {
        while let Some(event) = events.next().await {
            let event = event.unwrap_or_else(|e| panic!("the event stream failed: {e}"));
            if event.container_name == name && want(&event.kind) {
                return Some(event);
            }
        }
        None
    })
    .await;
    match found {
        Ok(Some(event)) => event,
        Ok(None) => panic!("the event stream ended before {what} of {name}"),
        Err(_) => panic!("no {what} event of {name} within {WAIT:?}"),
    }
}

async fn logs_of(engine: &DockerEngine, id: &str, options: &LogOptions) -> (String, String) {
    let mut stream = engine
        .logs(id, options)
        .await
        .unwrap_or_else(|e| panic!("logs of {id}: {e}"));
    let (mut out, mut err) = (String::new(), String::new());
    let collected = tokio::time::timeout(WAIT, async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.unwrap_or_else(|e| panic!("logs of {id}: {e}"));
            match chunk.stream {
                LogStream::Stdout => out.push_str(&chunk.text),
                LogStream::Stderr => err.push_str(&chunk.text),
            }
        }
    })
    .await;
    assert!(
        collected.is_ok(),
        "the logs of {id} did not end within {WAIT:?}"
    );
    (out, err)
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    listener
        .local_addr()
        .unwrap_or_else(|e| panic!("{e}"))
        .port()
}

#[tokio::test]
async fn info_reports_the_api_version_and_endpoint() {
    let _serial = SERIAL.lock().await;
    let engine = engine().await;
    let info = engine.info().await.unwrap_or_else(|e| panic!("info: {e}"));
    let (major, minor) = info
        .api_version
        .split_once('.')
        .unwrap_or_else(|| panic!("api version {}", info.api_version));
    assert_eq!(major, "1");
    assert!(
        minor.parse::<u32>().unwrap_or_else(|e| panic!("{e}")) >= 41,
        "{info:?}"
    );
    assert!(!info.server_version.is_empty());
    assert_eq!(info.endpoint, engine.endpoint());
    let negotiated = engine.api_version().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(negotiated.starts_with("1."), "{negotiated}");
}

#[tokio::test]
async fn an_unreachable_daemon_is_reported_with_its_endpoint() {
    let missing = DockerEngine::connect_to("unix:///nonexistent/stackr/docker.sock").await;
    match missing {
        Err(EngineError::Unreachable { endpoint, reason }) => {
            assert_eq!(endpoint, "unix:///nonexistent/stackr/docker.sock");
            assert!(reason.contains("does not exist"), "{reason}");
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
    let port = free_port();
    let endpoint = format!("tcp://127.0.0.1:{port}");
    match DockerEngine::connect_to(&endpoint).await {
        Err(EngineError::Unreachable {
            endpoint: e,
            reason,
        }) => {
            assert_eq!(e, endpoint);
            assert!(reason.contains("refused"), "{reason}");
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
}

#[tokio::test]
async fn networks_and_volumes_are_created_listed_and_removed() {
    let _serial = SERIAL.lock().await;
    let engine = engine().await;
    let stack = Stack::new("netvol");
    let net = NetworkSpec {
        name: format!("{}-back", stack.name),
        driver: None,
        internal: true,
        attachable: false,
        labels: stack.labels(None),
        ..Default::default()
    };
    let id = engine
        .create_network(&net)
        .await
        .unwrap_or_else(|e| panic!("create network: {e}"));
    match engine.create_network(&net).await {
        Err(EngineError::Conflict { .. }) => {}
        other => panic!("a second network of the same name: expected Conflict, got {other:?}"),
    }
    let listed = engine
        .list_networks(&stack.name)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].id, id);
    assert_eq!(listed[0].name, net.name);
    assert_eq!(listed[0].driver, "bridge");
    assert!(listed[0].internal);
    assert_eq!(listed[0].labels, net.labels);
    let inspected = engine
        .inspect_network(&net.name)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(inspected.map(|n| n.id), Some(id.clone()));

    let vol = VolumeSpec {
        name: format!("{}-data", stack.name),
        driver: None,
        driver_opts: BTreeMap::new(),
        labels: stack.labels(None),
    };
    engine
        .create_volume(&vol)
        .await
        .unwrap_or_else(|e| panic!("create volume: {e}"));
    let volumes = engine
        .list_volumes(&stack.name)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(volumes.len(), 1, "{volumes:?}");
    assert_eq!(volumes[0].name, vol.name);
    assert_eq!(volumes[0].driver, "local");
    assert_eq!(volumes[0].labels, vol.labels);
    assert!(
        engine
            .inspect_volume(&vol.name)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_some()
    );

    engine
        .remove_network(&id)
        .await
        .unwrap_or_else(|e| panic!("remove network: {e}"));
    engine
        .remove_volume(&vol.name)
        .await
        .unwrap_or_else(|e| panic!("remove volume: {e}"));
    assert!(
        engine
            .list_networks(&stack.name)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_empty()
    );
    assert!(
        engine
            .list_volumes(&stack.name)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_empty()
    );
    assert_eq!(
        engine
            .inspect_network(&net.name)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        None
    );
    assert_eq!(
        engine
            .inspect_volume(&vol.name)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        None
    );
    match engine.remove_volume(&vol.name).await {
        Err(EngineError::NotFound { .. }) => {}
        other => panic!("removing a removed volume: expected NotFound, got {other:?}"),
    }
}

#[tokio::test]
async fn a_container_lives_and_dies_with_events_health_and_logs() {
    let _serial = SERIAL.lock().await;
    let engine = engine().await;
    let stack = Stack::new("life");
    let image = busybox_image(&engine, &stack).await;

    let mut nets = Vec::new();
    for suffix in ["front", "back"] {
        let spec = NetworkSpec {
            name: format!("{}-{suffix}", stack.name),
            driver: None,
            internal: false,
            attachable: false,
            labels: stack.labels(None),
            ..Default::default()
        };
        engine
            .create_network(&spec)
            .await
            .unwrap_or_else(|e| panic!("network {suffix}: {e}"));
        nets.push(spec.name);
    }
    let volume = format!("{}-data", stack.name);
    engine
        .create_volume(&VolumeSpec {
            name: volume.clone(),
            driver: None,
            driver_opts: BTreeMap::new(),
            labels: stack.labels(None),
        })
        .await
        .unwrap_or_else(|e| panic!("volume: {e}"));

    // Subscribed before anything happens to the containers.
    let mut events = engine
        .events(&stack.name)
        .await
        .unwrap_or_else(|e| panic!("events: {e}"));

    let script = "echo \"foo=$FOO\"; echo to-stderr >&2; \
                  grep -q ' /scratch tmpfs ' /proc/mounts && echo tmpfs-ok; \
                  touch /data/written && echo volume-ok; \
                  exec sleep 300";
    let mut web = container(&stack, "web", &image, &["sh", "-c", script]);
    web.env = vec!["FOO=bar".into()];
    web.mounts = vec![
        MountSpec::Tmpfs {
            target: "/scratch".into(),
            size: Some(1 << 20),
            mode: Some(0o1777),
        },
        MountSpec::Volume {
            source: Some(volume.clone()),
            target: "/data".into(),
            read_only: false,
            subpath: None,
        },
    ];
    web.ports = vec![PortBinding {
        container_port: 8080,
        protocol: "tcp".into(),
        host_ip: Some("127.0.0.1".into()),
        host_port: None,
    }];
    web.networks = vec![
        NetworkAttachment {
            network: nets[0].clone(),
            aliases: vec!["web".into()],
            ipv4_address: None,
            ipv6_address: None,
            network_id: None,
            ..NetworkAttachment::default()
        },
        NetworkAttachment {
            network: nets[1].clone(),
            aliases: vec!["web-back".into()],
            ipv4_address: None,
            ipv6_address: None,
            network_id: None,
            ..NetworkAttachment::default()
        },
    ];
    web.health = Some(HealthSpec {
        test: vec!["CMD-SHELL".into(), "true".into()],
        interval: Some(Duration::from_millis(200)),
        timeout: Some(Duration::from_secs(2)),
        retries: Some(3),
        start_period: None,
        start_interval: Some(Duration::from_millis(100)),
    });
    let web_id = engine
        .create_container(&web)
        .await
        .map(|c| c.id)
        .unwrap_or_else(|e| panic!("create web: {e}"));
    match engine.create_container(&web).await.map(|c| c.id) {
        Err(EngineError::Conflict { .. }) => {}
        other => panic!("a second container of the same name: expected Conflict, got {other:?}"),
    }

    // Both networks were joined before create returned.
    let joined = docker_lines(&[
        "inspect",
        "-f",
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{join $v.Aliases \",\"}}\n{{end}}",
        &web_id,
    ]);
    assert_eq!(joined.len(), 2, "{joined:?}");
    for (net, alias) in nets.iter().zip(["web", "web-back"]) {
        assert!(
            joined
                .iter()
                .any(|l| l.starts_with(&format!("{net}=")) && l.contains(alias)),
            "{net} with alias {alias} in {joined:?}"
        );
    }

    engine
        .start_container(&web_id)
        .await
        .unwrap_or_else(|e| panic!("start web: {e}"));
    let info = engine
        .inspect_container(&web_id)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("web is gone"));
    assert_eq!(info.state, ContainerState::Running);
    assert_eq!(info.name, web.name);
    assert_eq!(info.image, image);
    assert_eq!(info.service(), Some("web"));
    assert_eq!(info.exit_code, None);
    let port = info
        .ports
        .iter()
        .find(|p| p.container_port == 8080 && p.protocol == "tcp")
        .unwrap_or_else(|| panic!("8080/tcp is not published: {:?}", info.ports));
    assert_eq!(port.host_ip.as_deref(), Some("127.0.0.1"));
    assert!(port.host_port.is_some_and(|p| p > 0), "{port:?}");

    wait_for(&mut events, &web.name, "start", |k| *k == EventKind::Start).await;
    let healthy = wait_for(&mut events, &web.name, "health_status: healthy", |k| {
        *k == EventKind::Health(HealthState::Healthy)
    })
    .await;
    assert_eq!(healthy.container_id, web_id);
    assert_eq!(healthy.service.as_deref(), Some("web"));
    let info = engine
        .inspect_container(&web_id)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("web is gone"));
    assert_eq!(info.health, Some(HealthState::Healthy));
    assert!(info.health_output.is_some(), "{info:?}");

    // A one-shot that fails.
    let job = container(
        &stack,
        "job",
        &image,
        &["sh", "-c", "echo one; echo two; echo three; exit 3"],
    );
    let job_id = engine
        .create_container(&job)
        .await
        .map(|c| c.id)
        .unwrap_or_else(|e| panic!("create job: {e}"));
    engine
        .start_container(&job_id)
        .await
        .unwrap_or_else(|e| panic!("start job: {e}"));
    wait_for(&mut events, &job.name, "start", |k| *k == EventKind::Start).await;
    let died = wait_for(&mut events, &job.name, "die", |k| {
        matches!(k, EventKind::Die { .. })
    })
    .await;
    assert_eq!(died.kind, EventKind::Die { exit_code: 3 });
    let info = engine
        .inspect_container(&job.name)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("job is gone"));
    assert_eq!(info.state, ContainerState::Exited);
    assert_eq!(info.exit_code, Some(3));

    let listed = engine
        .list_containers(&stack.name)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = listed.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, vec![job.name.as_str(), web.name.as_str()]);
    assert_eq!(listed[0].state, ContainerState::Exited);
    assert_eq!(listed[0].exit_code, Some(3));
    assert_eq!(listed[1].state, ContainerState::Running);
    assert_eq!(listed[1].health, Some(HealthState::Healthy));
    assert_eq!(listed[1].labels, web.labels);
    assert!(
        listed[1]
            .ports
            .iter()
            .any(|p| p.container_port == 8080 && p.host_port.is_some())
    );
    let all = engine
        .list_all_containers()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(all.iter().any(|c| c.id == web_id) && all.iter().any(|c| c.id == job_id));

    // Logs, stdout and stderr apart.
    let (out, err) = logs_of(&engine, &web_id, &LogOptions::default()).await;
    assert!(out.contains("foo=bar"), "stdout: {out:?}");
    assert!(out.contains("tmpfs-ok"), "stdout: {out:?}");
    assert!(out.contains("volume-ok"), "stdout: {out:?}");
    assert!(!out.contains("to-stderr"), "stdout: {out:?}");
    assert_eq!(err, "to-stderr\n");
    let tail = LogOptions {
        follow: true,
        tail: Some(2),
        timestamps: false,
        ..Default::default()
    };
    let (out, err) = logs_of(&engine, &job_id, &tail).await;
    assert_eq!((out.as_str(), err.as_str()), ("two\nthree\n", ""));
    let stamped = LogOptions {
        follow: false,
        tail: Some(1),
        timestamps: true,
        ..Default::default()
    };
    let (out, _) = logs_of(&engine, &job_id, &stamped).await;
    assert!(
        out.ends_with(" three\n") && out.len() > " three\n".len(),
        "{out:?}"
    );

    // Stop and remove.
    engine
        .stop_container(&web_id, Some(Duration::from_secs(1)))
        .await
        .unwrap_or_else(|e| panic!("stop web: {e}"));
    let died = wait_for(&mut events, &web.name, "die", |k| {
        matches!(k, EventKind::Die { .. })
    })
    .await;
    assert!(
        matches!(
            died.kind,
            EventKind::Die {
                exit_code: 137 | 143
            }
        ),
        "{died:?}"
    );
    let info = engine
        .inspect_container(&web_id)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("web is gone"));
    assert_eq!(info.state, ContainerState::Exited);
    for id in [&web_id, &job_id] {
        engine
            .remove_container(id)
            .await
            .unwrap_or_else(|e| panic!("remove {id}: {e}"));
        assert_eq!(
            engine
                .inspect_container(id)
                .await
                .unwrap_or_else(|e| panic!("{e}")),
            None
        );
    }
    wait_for(&mut events, &web.name, "destroy", |k| {
        *k == EventKind::Destroy
    })
    .await;
    match engine.remove_container(&web_id).await {
        Err(EngineError::NotFound { .. }) => {}
        other => panic!("removing a removed container: expected NotFound, got {other:?}"),
    }
    assert!(
        engine
            .list_containers(&stack.name)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_empty()
    );
    for net in &nets {
        engine
            .remove_network(net)
            .await
            .unwrap_or_else(|e| panic!("remove {net}: {e}"));
    }
    engine
        .remove_volume(&volume)
        .await
        .unwrap_or_else(|e| panic!("remove {volume}: {e}"));
}

/// Stopped containers whose command holds `marker`.
fn stopped_with(marker: &str) -> Vec<String> {
    docker_lines(&[
        "ps",
        "-a",
        "--no-trunc",
        "--filter",
        "status=exited",
        "--filter",
        "status=created",
        "--filter",
        "status=dead",
        "--format",
        "{{.ID}} {{.Command}}",
    ])
    .into_iter()
    .filter(|l| l.contains(marker))
    .collect()
}

#[tokio::test]
async fn a_failed_build_names_its_step_and_leaves_no_container() {
    let _serial = SERIAL.lock().await;
    let engine = engine().await;
    let stack = Stack::new("badbuild");
    let marker = format!("{}-marker", stack.name);
    // The label comes first, so the steps that succeed leave only labelled images behind.
    let dockerfile = format!(
        "FROM scratch\nLABEL {LABEL_STACK}={stack}\nARG GREETING\nCOPY busybox /bin/busybox\n\
         RUN [\"/bin/busybox\",\"sh\",\"-c\",\"echo $GREETING; echo {marker} >&2; exit 7\"]\n",
        stack = stack.name
    );
    let context = busybox_context(&stack, "bad", &dockerfile);
    let before = stopped_with(&marker);
    assert!(before.is_empty(), "{before:?}");
    let lines = std::sync::Mutex::new(Vec::<String>::new());
    let spec = BuildSpec {
        dockerfile_inline: None,
        remote: None,
        context,
        dockerfile: "Dockerfile".into(),
        target: None,
        args: BTreeMap::from([("GREETING".to_string(), "hello-from-arg".to_string())]),
        tag: format!("{}-bad:test", stack.name),
        labels: stack.labels(None),
        ..Default::default()
    };
    let result = engine
        .build_image(&spec, &|line| {
            if let Ok(mut l) = lines.lock() {
                l.push(line.to_string());
            }
        })
        .await;
    match result {
        Err(EngineError::BuildFailed {
            step,
            message,
            output,
        }) => {
            let step = step.unwrap_or_else(|| panic!("no step in the failure; output:\n{output}"));
            // The labels are a last step of their own.
            assert!(step.starts_with("Step 5/6 : RUN"), "{step}");
            assert!(step.contains(&marker), "{step}");
            assert!(message.contains("non-zero code: 7"), "{message}");
            assert!(
                output.contains("hello-from-arg"),
                "the build arg reached the build: {output}"
            );
            assert!(output.lines().count() <= 20, "{output}");
        }
        other => panic!("expected BuildFailed, got {other:?}"),
    }
    let seen = lines.lock().map(|l| l.clone()).unwrap_or_default();
    assert!(
        seen.iter()
            .any(|l| l.starts_with("Step 1/6 : FROM scratch")),
        "{seen:?}"
    );
    let after = stopped_with(&marker);
    assert!(
        after.is_empty(),
        "the failed step left containers behind: {after:?}"
    );
    assert_eq!(
        engine
            .inspect_image(&spec.tag)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        None
    );
}

#[tokio::test]
async fn a_missing_image_is_reported_as_such() {
    let _serial = SERIAL.lock().await;
    let engine = engine().await;
    let stack = Stack::new("noimage");
    let image = format!("{}-missing:nope", stack.name);
    let spec = container(&stack, "ghost", &image, &["true"]);
    match engine.create_container(&spec).await.map(|c| c.id) {
        Err(EngineError::ImageMissing { image: i }) => assert_eq!(i, image),
        other => panic!("expected ImageMissing, got {other:?}"),
    }
    assert_eq!(
        engine
            .inspect_image(&image)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        None
    );
    assert_eq!(
        engine
            .inspect_container(&spec.name)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        None
    );
}

#[tokio::test]
async fn a_host_port_taken_twice_is_port_allocated() {
    let _serial = SERIAL.lock().await;
    let engine = engine().await;
    let stack = Stack::new("ports");
    let image = busybox_image(&engine, &stack).await;
    let port = free_port();
    let mut ids = Vec::new();
    for service in ["first", "second"] {
        let mut spec = container(&stack, service, &image, &["sleep", "300"]);
        spec.ports = vec![PortBinding {
            container_port: 8080,
            protocol: "tcp".into(),
            host_ip: Some("127.0.0.1".into()),
            host_port: Some(port),
        }];
        ids.push(
            engine
                .create_container(&spec)
                .await
                .map(|c| c.id)
                .unwrap_or_else(|e| panic!("create {service}: {e}")),
        );
    }
    engine
        .start_container(&ids[0])
        .await
        .unwrap_or_else(|e| panic!("start first: {e}"));
    match engine.start_container(&ids[1]).await {
        Err(EngineError::PortAllocated { message }) => {
            assert!(message.contains(&port.to_string()), "{message}")
        }
        other => panic!("expected PortAllocated, got {other:?}"),
    }
    let second = engine
        .inspect_container(&ids[1])
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("second is gone"));
    assert_ne!(second.state, ContainerState::Running);
    engine
        .kill_container(&ids[0], "SIGKILL")
        .await
        .unwrap_or_else(|e| panic!("kill first: {e}"));
    for id in &ids {
        engine
            .remove_container(id)
            .await
            .unwrap_or_else(|e| panic!("remove {id}: {e}"));
    }
}

/// Serves the files of `dir` over HTTP on loopback (git's dumb protocol needs nothing more),
/// until the returned flag is set.
fn serve_files(dir: PathBuf) -> (u16, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    listener
        .set_nonblocking(true)
        .unwrap_or_else(|e| panic!("{e}"));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopped = stop.clone();
    std::thread::spawn(move || {
        while !stopped.load(Ordering::SeqCst) {
            let Ok((mut conn, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            };
            let _ = conn.set_nonblocking(false);
            let mut buf = [0u8; 4096];
            let n = conn.read(&mut buf).unwrap_or(0);
            let request = String::from_utf8_lossy(&buf[..n]).to_string();
            let path = request
                .split_whitespace()
                .nth(1)
                .unwrap_or("/")
                .split('?')
                .next()
                .unwrap_or("/")
                .trim_start_matches('/')
                .to_string();
            let file = dir.join(&path);
            let reply = match std::fs::read(&file) {
                Ok(body) if !path.contains("..") && file.is_file() => {
                    let mut r = format!(
                        "HTTP/1.0 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    r.extend(body);
                    r
                }
                _ => b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
            };
            let _ = conn.write_all(&reply);
        }
    });
    (port, stop)
}

fn git(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("git")
        .args(["-c", "user.email=t@stackr", "-c", "user.name=stackr"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run git: {e}"));
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `dockerfile-inline`: the text is sent as a file of the context; a remote context: the
/// engine clones the repository (served here on loopback) and builds from it.
#[tokio::test]
async fn an_inline_dockerfile_and_a_remote_git_context_build() {
    let _serial = SERIAL.lock().await;
    let engine = engine().await;
    let stack = Stack::new("inline-remote");
    let context = stack.dir.join("inline");
    write(&context.join("hello.txt"), "hello from the context\n");
    let inline = format!(
        "FROM scratch\nLABEL {LABEL_STACK}={stack}\nCOPY hello.txt /hello.txt\n",
        stack = stack.name
    );
    let spec = BuildSpec {
        dockerfile_inline: Some(inline),
        remote: None,
        context,
        dockerfile: stackr_engine::context::INLINE_DOCKERFILE.into(),
        target: None,
        args: BTreeMap::new(),
        tag: format!("{}-inline:test", stack.name),
        labels: stack.labels(None),
        ..Default::default()
    };
    let id = engine
        .build_image(&spec, &|_| {})
        .await
        .unwrap_or_else(|e| panic!("the inline Dockerfile did not build: {e}"));
    let files = docker_lines(&["image", "inspect", "-f", "{{.RootFS.Layers}}", &id]);
    assert_eq!(files.len(), 1, "{files:?}");
    // A remote context: a bare repository served over HTTP.
    let src = stack.dir.join("src");
    write(
        &src.join("Dockerfile"),
        &format!(
            "FROM scratch\nLABEL {LABEL_STACK}={stack}\nCOPY hello.txt /hello.txt\n",
            stack = stack.name
        ),
    );
    write(&src.join("hello.txt"), "hello from git\n");
    git(&src, &["init", "-q"]);
    git(&src, &["add", "."]);
    git(&src, &["commit", "-qm", "context"]);
    let served = stack.dir.join("served");
    std::fs::create_dir_all(&served).unwrap_or_else(|e| panic!("{e}"));
    git(
        &served,
        &[
            "clone",
            "-q",
            "--bare",
            &src.display().to_string(),
            "repo.git",
        ],
    );
    git(&served.join("repo.git"), &["update-server-info"]);
    let (port, stop) = serve_files(served);
    let remote = BuildSpec {
        dockerfile_inline: None,
        remote: Some(format!("http://127.0.0.1:{port}/repo.git")),
        context: PathBuf::new(),
        dockerfile: "Dockerfile".into(),
        target: None,
        args: BTreeMap::new(),
        tag: format!("{}-remote:test", stack.name),
        labels: stack.labels(None),
        ..Default::default()
    };
    let built = engine.build_image(&remote, &|_| {}).await;
    stop.store(true, Ordering::SeqCst);
    let id = built.unwrap_or_else(|e| panic!("the remote context did not build: {e}"));
    let image = engine
        .inspect_image(&remote.tag)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no image {}", remote.tag));
    assert_eq!(image.id, id);
    // The build digest knows a remote context by its address.
    let a = stackr_engine::context::build_digest(&remote).unwrap_or_else(|e| panic!("{e}"));
    let mut other = remote.clone();
    other.remote = Some(format!("http://127.0.0.1:{port}/repo.git#main"));
    let b = stackr_engine::context::build_digest(&other).unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(a, b);
}
