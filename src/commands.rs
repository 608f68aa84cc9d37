//! The rest of the compose CLI: `stop`, `start`, `restart`, `kill`, `rm`, `port`, `top`, `ls`,
//! `events`, `version`, `exec`, `cp`, `pull`, `run`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt;
use serde_json::json;
use stackr_docker::DockerEngine;
use stackr_engine::{ContainerState, Engine, ExecSpec, LogChunk, LogStream};
use stackr_ops::{OpEvent, Verb};
use stackr_spec::Stack;

use crate::cli::{
    AttachArgs, CpArgs, EventsArgs, ExecArgs, Global, InventoryArgs, KillArgs, LsArgs, PortArgs,
    PushArgs, RmArgs, RunArgs, ServicesArgs, StopArgs, TableFormat, TopArgs, VersionArgs,
};
use crate::engine::{on_engine, runtime, with_engine};
use crate::progress::{Reporter, render_event};
use crate::render::Output;
use crate::status::{CliError, CmdResult, ExitStatus};

/// `stop`, `start`, `restart`, `kill` and `rm`: acts on each chosen container, saying what
/// became of it.
async fn act(engine: &DockerEngine, stack: &Stack, services: &[String], verb: &Verb) -> CmdResult {
    let list = stackr_ops::chosen(stackr_ops::containers(engine, stack, services).await?, verb);
    act_on(engine, &list, verb).await
}

/// [`act`] on containers already chosen.
async fn act_on(
    engine: &DockerEngine,
    list: &[stackr_engine::ContainerInfo],
    verb: &Verb,
) -> CmdResult {
    if list.is_empty() && *verb == Verb::Start {
        eprintln!("nothing to start: `stackr up` creates what is missing");
    }
    let sink = |e: OpEvent| render_event(&Reporter::Plain, e);
    let failed = stackr_ops::act(engine, list, verb, &sink).await;
    Ok(ExitStatus::from_failures(failed))
}

pub fn stop(global: &Global, args: &StopArgs, out: &Output) -> CmdResult {
    let timeout = args.timeout.map(Duration::from_secs);
    crate::engine::with_container_engine(global, out, "stop", async |engine, stack| {
        act(engine, stack, &args.services, &Verb::Stop { timeout }).await
    })
}

pub fn start(global: &Global, args: &ServicesArgs, out: &Output) -> CmdResult {
    crate::engine::with_container_engine(global, out, "start", async |engine, stack| {
        act(engine, stack, &args.services, &Verb::Start).await
    })
}

pub fn restart(global: &Global, args: &StopArgs, out: &Output) -> CmdResult {
    let timeout = args.timeout.map(Duration::from_secs);
    crate::engine::with_container_engine(global, out, "restart", async |engine, stack| {
        act(engine, stack, &args.services, &Verb::Restart { timeout }).await
    })
}

pub fn kill(global: &Global, args: &KillArgs, out: &Output) -> CmdResult {
    let signal = args.signal.clone();
    crate::engine::with_container_engine(global, out, "kill", async |engine, stack| {
        act(engine, stack, &args.services, &Verb::Kill { signal }).await
    })
}

pub fn pause(global: &Global, args: &ServicesArgs, out: &Output) -> CmdResult {
    crate::engine::with_container_engine(global, out, "pause", async |engine, stack| {
        act(engine, stack, &args.services, &Verb::Pause).await
    })
}

pub fn unpause(global: &Global, args: &ServicesArgs, out: &Output) -> CmdResult {
    crate::engine::with_container_engine(global, out, "unpause", async |engine, stack| {
        act(engine, stack, &args.services, &Verb::Unpause).await
    })
}

/// `stackr wait`: until the services' containers have stopped; the last exit code is
/// stackr's. With `--down-project`, the stack is taken down then.
pub fn wait(global: &Global, args: &crate::cli::WaitArgs, out: &Output) -> CmdResult {
    crate::engine::with_container_engine(global, out, "wait", async |engine, stack| {
        let said = |e: &stackr_ops::Exit| {
            println!("{} exited with code {}", e.container, e.code);
        };
        let exits = stackr_ops::wait(engine, stack, &args.services, &said).await?;
        if args.down_project {
            let cx = crate::engine::context(stack)?;
            let opts = stackr_ops::DownOptions {
                remove_volumes: false,
                remove_orphans: true,
                timeout: None,
                lock_wait: crate::engine::LOCK_WAIT,
            };
            let sink = |e: OpEvent| render_event(&Reporter::Plain, e);
            stackr_ops::down(engine, &stack.name, &stack.waves, &cx, &opts, &sink).await?;
        }
        Ok(match exits.last().map_or(0, |e| e.code) {
            0 => ExitStatus::Success,
            code => ExitStatus::Container(code),
        })
    })
}

/// `stackr images`: the images the stack's containers run.
pub fn images(global: &Global, args: &InventoryArgs, out: &Output) -> CmdResult {
    crate::engine::with_container_engine(global, out, "images", async |engine, stack| {
        let rows = stackr_ops::images(engine, stack, &args.services).await?;
        let short = |id: &Option<String>| {
            id.as_deref()
                .map(|i| i.trim_start_matches("sha256:").chars().take(12).collect())
                .unwrap_or_else(|| "(gone)".to_string())
        };
        if args.quiet {
            let mut ids: Vec<String> = rows.iter().filter_map(|r| r.id.clone()).collect();
            ids.dedup();
            for id in ids {
                println!("{id}");
            }
            return Ok(ExitStatus::Success);
        }
        match args.format {
            TableFormat::Json => {
                let v: Vec<_> = rows
                    .iter()
                    .map(|r| {
                        json!({"container": r.container, "service": r.service, "image": r.image,
                               "id": r.id, "repo_tags": r.repo_tags, "size": r.size})
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(v));
            }
            TableFormat::Table => {
                let mut table = vec![
                    ["CONTAINER", "IMAGE", "IMAGE ID", "SIZE"]
                        .map(String::from)
                        .to_vec(),
                ];
                for r in &rows {
                    table.push(vec![
                        r.container.clone(),
                        r.image.clone(),
                        short(&r.id),
                        r.size
                            .map(|s| stackr_spec::limits::show_bytes(s.max(0) as u64))
                            .unwrap_or_default(),
                    ]);
                }
                print!("{}", stackr_ops::text::table(&table));
            }
        }
        Ok(ExitStatus::Success)
    })
}

/// `stackr volumes`: the stack's volumes on the engine.
pub fn volumes(global: &Global, args: &InventoryArgs, out: &Output) -> CmdResult {
    crate::engine::with_container_engine(global, out, "volumes", async |engine, stack| {
        let list = stackr_ops::volumes(engine, stack, &args.services).await?;
        if args.quiet {
            for v in &list {
                println!("{}", v.name);
            }
            return Ok(ExitStatus::Success);
        }
        match args.format {
            TableFormat::Json => {
                let v: Vec<_> = list
                    .iter()
                    .map(|v| json!({"name": v.name, "driver": v.driver, "labels": v.labels}))
                    .collect();
                println!("{}", serde_json::Value::Array(v));
            }
            TableFormat::Table => {
                let mut table = vec![vec!["VOLUME".to_string(), "DRIVER".to_string()]];
                for v in &list {
                    table.push(vec![v.name.clone(), v.driver.clone()]);
                }
                print!("{}", stackr_ops::text::table(&table));
            }
        }
        Ok(ExitStatus::Success)
    })
}

pub fn rm(global: &Global, args: &RmArgs, out: &Output) -> CmdResult {
    let verb = Verb::Remove { stop: args.stop };
    crate::engine::with_container_engine(global, out, "rm", async |engine, stack| {
        let list = stackr_ops::chosen(
            stackr_ops::containers(engine, stack, &args.services).await?,
            &verb,
        );
        // As compose does: without `-f`, asked first on a terminal, about what goes.
        if !args.force && std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            let going: Vec<&str> = list
                .iter()
                .filter(|c| args.stop || c.state != ContainerState::Running)
                .map(|c| c.name.as_str())
                .collect();
            if !going.is_empty() && !confirm(&format!("Going to remove {}.", going.join(", "))) {
                eprintln!("nothing removed");
                return Ok(ExitStatus::Success);
            }
        }
        act_on(engine, &list, &verb).await
    })
}

/// Asks on the terminal; yes only when answered so.
fn confirm(question: &str) -> bool {
    eprint!("{question} Are you sure? [yN] ");
    let mut answer = String::new();
    let _ = std::io::stdin().read_line(&mut answer);
    matches!(answer.trim(), "y" | "Y" | "yes")
}

/// `stackr port`: the host address a container port is published on.
pub fn port(global: &Global, args: &PortArgs, out: &Output) -> CmdResult {
    let (port, protocol) = match args.port.split_once('/') {
        Some((p, proto)) => (p, proto.to_string()),
        None => (args.port.as_str(), args.protocol.clone()),
    };
    let Ok(port) = port.parse::<u16>() else {
        return Err(CliError::BadArguments {
            message: format!("`{}` is not a port", args.port),
            help: "write the container's port, as `stackr port web 80` or `stackr port web 53/udp`"
                .into(),
        });
    };
    crate::engine::with_container_engine(global, out, "port", async |engine, stack| {
        let c = stackr_ops::one(engine, stack, &args.service, args.index).await?;
        let found = c
            .ports
            .iter()
            .find(|p| p.container_port == port && p.protocol == protocol && p.host_port.is_some());
        let Some(p) = found else {
            return Err(CliError::NoPublishedPort {
                container: c.name,
                port,
                protocol,
            });
        };
        println!(
            "{}:{}",
            p.host_ip.as_deref().unwrap_or("0.0.0.0"),
            p.host_port.unwrap_or_default()
        );
        Ok(ExitStatus::Success)
    })
}

/// `stackr top`: the processes of the chosen services' running containers.
pub fn top(global: &Global, args: &TopArgs, out: &Output) -> CmdResult {
    crate::engine::with_container_engine(global, out, "top", async |engine, stack| {
        let all = stackr_ops::top(engine, stack, &args.services).await?;
        match args.format {
            TableFormat::Json => {
                let v: Vec<_> = all
                    .iter()
                    .map(|(name, p)| json!({"container": name, "titles": p.titles, "processes": p.rows}))
                    .collect();
                println!("{}", serde_json::Value::Array(v));
            }
            TableFormat::Table => {
                for (name, p) in &all {
                    println!("{name}");
                    let mut rows = vec![p.titles.clone()];
                    rows.extend(p.rows.iter().cloned());
                    print!("{}", stackr_ops::text::table(&rows));
                    println!();
                }
            }
        }
        Ok(ExitStatus::Success)
    })
}

/// `stackr ls`: every stack on the engine, found by label; needs no stack file.
pub fn ls(args: &LsArgs) -> CmdResult {
    on_engine(async |engine| {
        let stacks = stackr_ops::stacks(engine, args.all).await?;
        match args.format {
            TableFormat::Json => {
                let v: Vec<_> = stacks
                    .iter()
                    .map(|(name, states)| json!({"name": name, "containers": states}))
                    .collect();
                println!("{}", serde_json::Value::Array(v));
            }
            TableFormat::Table => {
                let mut rows = vec![vec!["STACK".to_string(), "CONTAINERS".to_string()]];
                for (name, states) in &stacks {
                    let summary: Vec<String> =
                        states.iter().map(|(s, n)| format!("{s}({n})")).collect();
                    rows.push(vec![name.clone(), summary.join(", ")]);
                }
                print!("{}", stackr_ops::text::table(&rows));
            }
        }
        Ok(ExitStatus::Success)
    })
}

/// `stackr events`: the stack's container events as they happen, until Ctrl-C; the engine
/// going away is said and exits 1.
pub fn events(global: &Global, args: &EventsArgs, out: &Output) -> CmdResult {
    with_engine(global, out, async |engine, stack| {
        stackr_ops::known(stack, &args.services)?;
        let json = args.format == TableFormat::Json;
        let print = |ev: stackr_engine::Event| {
            let action = ev.kind.to_string();
            let mut o = std::io::stdout().lock();
            let _ = if json {
                let v = json!({"time_ns": ev.time_nanos, "service": ev.service, "container": ev.container_name, "action": action});
                writeln!(o, "{v}")
            } else {
                writeln!(o, "{} {action}", ev.container_name)
            };
            let _ = o.flush();
        };
        tokio::select! {
            r = stackr_ops::follow_events(engine, &stack.name, &args.services, &print) => r?,
            _ = tokio::signal::ctrl_c() => {}
        }
        Ok(ExitStatus::Success)
    })
}

/// `stackr version`.
pub fn version(args: &VersionArgs) -> CmdResult {
    let ours = env!("CARGO_PKG_VERSION");
    let engine = runtime()?.block_on(async {
        match stackr_docker::DockerEngine::connect().await {
            Ok(e) => e.info().await.ok(),
            Err(_) => None,
        }
    });
    if args.format == TableFormat::Json {
        println!(
            "{}",
            json!({"stackr": ours, "engine": engine.as_ref().map(|e| json!({"version": e.server_version, "api": e.api_version, "endpoint": e.endpoint}))})
        );
        return Ok(ExitStatus::Success);
    }
    println!("stackr {ours}");
    match engine {
        Some(e) => println!(
            "engine {} (API {}) at {}",
            e.server_version, e.api_version, e.endpoint
        ),
        None => println!("engine: not reachable"),
    }
    Ok(ExitStatus::Success)
}

/// A container's output, as it writes it.
fn write_output(chunk: LogChunk) {
    match chunk.stream {
        LogStream::Stdout => {
            let mut o = std::io::stdout().lock();
            let _ = o.write_all(chunk.text.as_bytes());
            let _ = o.flush();
        }
        LogStream::Stderr => {
            let _ = std::io::stderr().lock().write_all(chunk.text.as_bytes());
        }
    }
}

/// `stackr exec`: runs a command in a service's running container; its exit code is stackr's.
pub fn exec(global: &Global, args: &ExecArgs, out: &Output) -> CmdResult {
    crate::engine::with_container_engine(global, out, "exec", async |engine, stack| {
        let c = stackr_ops::running(engine, stack, &args.service, args.index).await?;
        // A terminal on both ends: a pseudo-terminal, raw input, as `docker exec -it`.
        use std::io::IsTerminal;
        let interactive = !args.detach
            && !args.no_tty
            && std::io::stdin().is_terminal()
            && std::io::stdout().is_terminal();
        let spec = ExecSpec {
            cmd: args.command.clone(),
            user: args.user.clone(),
            working_dir: args.workdir.clone(),
            env: args.env.clone(),
            tty: interactive,
            detach: args.detach,
            size: crossterm::terminal::size().ok().filter(|_| interactive),
            privileged: args.privileged,
        };
        let input = (!args.detach).then(stdin_stream);
        let _raw = interactive.then(RawMode::enable).flatten();
        match engine.exec(&c.id, &spec, input, &write_output).await {
            Ok(Some(0) | None) => Ok(ExitStatus::Success),
            Ok(Some(code)) => Ok(ExitStatus::Container(code)),
            Err(e) => {
                // As `docker exec`: 126 when the command could not run.
                crate::report::engine(Some(&args.service), &e);
                Ok(ExitStatus::Container(126))
            }
        }
    })
}

/// `stackr attach`: this terminal's input and output on a service's running container, until
/// it stops (its exit code is stackr's) or the user detaches. Ctrl-C is sent on to the
/// container as SIGINT unless `--sig-proxy=false`, where it detaches.
pub fn attach(global: &Global, args: &AttachArgs, out: &Output) -> CmdResult {
    crate::engine::with_container_engine(global, out, "attach", async |engine, stack| {
        use std::io::IsTerminal;
        let tty = stack
            .services
            .get(&args.service)
            .and_then(|s| s.tty.as_ref())
            .is_some_and(|t| t.value);
        let terminal = tty && std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
        let spec = stackr_engine::AttachSpec {
            detach_keys: args.detach_keys.clone(),
            size: crossterm::terminal::size().ok().filter(|_| terminal),
        };
        let input = (!args.no_stdin).then(stdin_stream);
        let _raw = terminal.then(RawMode::enable).flatten();
        // In raw mode Ctrl-C is a byte for the container; otherwise it is stackr's signal.
        let interrupts: futures::stream::BoxStream<'static, ()> = if terminal {
            futures::stream::pending().boxed()
        } else {
            futures::stream::unfold((), |()| async {
                tokio::signal::ctrl_c().await.ok().map(|_| ((), ()))
            })
            .boxed()
        };
        let ended = stackr_ops::attach_service(
            engine,
            stack,
            &args.service,
            args.index,
            &spec,
            input,
            &write_output,
            interrupts,
            args.sig_proxy,
        )
        .await?;
        Ok(match ended {
            stackr_ops::Attached::Exited(0) | stackr_ops::Attached::Detached => ExitStatus::Success,
            stackr_ops::Attached::Exited(code) => ExitStatus::Container(code),
        })
    })
}

/// `SERVICE:PATH`, or a host path.
fn container_side(s: &str) -> Option<(&str, &str)> {
    let (svc, path) = s.split_once(':')?;
    (!svc.is_empty() && !svc.contains('/') && path.starts_with('/')).then_some((svc, path))
}

/// `stackr cp`: copies files between a service's container and the host, either way.
pub fn cp(global: &Global, args: &CpArgs, out: &Output) -> CmdResult {
    let (from, to) = (container_side(&args.source), container_side(&args.dest));
    if from.is_some() == to.is_some() {
        return Err(CliError::BadArguments {
            message: "exactly one side of `cp` is `SERVICE:/PATH`".into(),
            help: "`stackr cp web:/etc/nginx/nginx.conf ./nginx.conf` or `stackr cp ./site web:/srv/site`"
                .into(),
        });
    }
    crate::engine::with_container_engine(global, out, "cp", async |engine, stack| {
        if let Some((svc, path)) = from {
            let (name, tar) = stackr_ops::copy_from(engine, stack, svc, args.index, path).await?;
            let n =
                stackr_host::archive::extract(&tar, Path::new(&args.dest)).map_err(|error| {
                    CliError::Write {
                        path: PathBuf::from(&args.dest),
                        error,
                    }
                })?;
            eprintln!("copied {n} entries from {name}:{path} to {}", args.dest);
        } else if let Some((svc, path)) = to {
            let src = PathBuf::from(&args.source);
            let (dir, name) = stackr_host::archive::destination(path, &src);
            let tar = stackr_host::archive::pack(&src, &name).map_err(|error| CliError::Read {
                path: src.clone(),
                error: error.into(),
            })?;
            let into = stackr_ops::copy_into(engine, stack, svc, args.index, dir, tar).await?;
            eprintln!("copied {} to {into}:{dir}/{name}", args.source);
        }
        Ok(ExitStatus::Success)
    })
}

/// `stackr pull`: pulls the images of services that name one (not those the stack builds).
pub fn pull(global: &Global, args: &ServicesArgs, out: &Output) -> CmdResult {
    with_engine(global, out, async |engine, stack| {
        let sink = |e: OpEvent| match e {
            OpEvent::PullFinished { service, image } => eprintln!("{service}: pulled {image}"),
            OpEvent::PullFailed { service, error, .. } => {
                crate::report::engine(Some(&service), &error);
            }
            _ => {}
        };
        let failed = stackr_ops::pull(engine, stack, &args.services, &sink).await?;
        Ok(ExitStatus::from_failures(failed))
    })
}

/// `stackr push`: the built services' images to their registries.
pub fn push(global: &Global, args: &PushArgs, out: &Output) -> CmdResult {
    with_engine(global, out, async |engine, stack| {
        let quiet = args.quiet;
        let sink = |e: OpEvent| match e {
            OpEvent::Pushed { service, image } if !quiet => eprintln!("{service}: pushed {image}"),
            OpEvent::PushFailed { service, error, .. } => {
                crate::report::engine(Some(&service), &error);
            }
            _ => {}
        };
        let failed = stackr_ops::push(
            engine,
            stack,
            &args.services,
            args.include_deps,
            args.ignore_push_failures,
            &sink,
        )
        .await?;
        Ok(ExitStatus::from_failures(failed))
    })
}

/// `run --env-from-file`: `KEY=VALUE` lines of an env file (the `.env` format).
fn env_from_file(path: &Path) -> Result<Vec<String>, CliError> {
    let text = std::fs::read_to_string(path).map_err(|error| CliError::Read {
        path: path.to_path_buf(),
        error: error.into(),
    })?;
    let shell: std::collections::BTreeMap<String, String> = std::env::vars().collect();
    let parsed = stackr_spec::interpolate::parse_dotenv_all(&text, &shell);
    if let Some(e) = parsed.errors.first() {
        return Err(CliError::BadArguments {
            message: format!("`--env-from-file {}`: {}", path.display(), e.reason),
            help: "env files hold `KEY=value` lines; quote values with spaces or `#`".into(),
        });
    }
    Ok(parsed
        .vars
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect())
}

/// `run -v SOURCE:TARGET[:ro]`: a path (absolute, or from the working directory) is a bind
/// mount; a name is the stack's volume of that name, or an engine volume.
fn run_volume(stack: &Stack, arg: &str) -> Result<stackr_engine::MountSpec, CliError> {
    let bad = |reason: &str| CliError::Usage {
        flag: "-v",
        arg: arg.to_string(),
        reason: reason.to_string(),
    };
    let parts: Vec<&str> = arg.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [t] => (None, *t, ""),
        [s, t] => (Some(*s), *t, ""),
        [s, t, m] => (Some(*s), *t, *m),
        _ => return Err(bad("write SOURCE:TARGET, with `:ro` for a read-only mount")),
    };
    if !target.starts_with('/') {
        return Err(bad("the target is a path in the container, from its root"));
    }
    let read_only = match mode {
        "" | "rw" => false,
        "ro" => true,
        _ => return Err(bad("the mode is `ro` or `rw`")),
    };
    let target = target.to_string();
    Ok(match source {
        None => stackr_engine::MountSpec::Volume {
            source: None,
            target,
            read_only,
            subpath: None,
        },
        Some(s) if s.starts_with('/') || s.starts_with('.') || s.starts_with('~') => {
            let home = std::env::var("HOME").unwrap_or_default();
            let path = match s.strip_prefix("~/") {
                Some(rest) if !home.is_empty() => PathBuf::from(home).join(rest),
                _ => std::env::current_dir().unwrap_or_default().join(s),
            };
            stackr_engine::MountSpec::Bind {
                source: path,
                target,
                read_only,
            }
        }
        Some(name) => stackr_engine::MountSpec::Volume {
            source: Some(stackr_reconcile::desired::volume_name(stack, name)),
            target,
            read_only,
            subpath: None,
        },
    })
}

/// `stackr run`: a one-off container of a service. Its dependencies are brought up first (as
/// `up -d` would, unless `--no-deps`); the container is named `{stack}-{service}-run-{n}`,
/// gets the service's settings without its published ports, streams its output, and its exit
/// code is stackr's.
pub fn run(global: &Global, args: &RunArgs, out: &Output) -> CmdResult {
    let mut ports = Vec::new();
    for p in &args.publish {
        let ps = stackr_spec::port::parse_port_spec(p).map_err(|e| CliError::Usage {
            flag: "-p",
            arg: p.clone(),
            reason: e.to_string(),
        })?;
        ports.extend(stackr_reconcile::desired::port_bindings(&ps));
    }
    // `--env-from-file` first: `-e` wins over it, as in compose.
    let mut env = Vec::new();
    for f in &args.env_from_file {
        env.extend(env_from_file(f)?);
    }
    env.extend(args.env.iter().cloned());
    let mut labels = std::collections::BTreeMap::new();
    for l in &args.label {
        let (k, v) = l.split_once('=').unwrap_or((l.as_str(), ""));
        labels.insert(k.to_string(), v.to_string());
    }
    let mut opts = stackr_ops::RunOptions {
        service: args.service.clone(),
        one_off: stackr_reconcile::desired::OneOff {
            command: (!args.command.is_empty()).then(|| args.command.clone()),
            entrypoint: args.entrypoint.clone().map(|ep| vec![ep]),
            user: args.user.clone(),
            working_dir: args.workdir.clone(),
            env,
            ports,
            service_ports: args.service_ports,
            labels,
            name: args.name.clone(),
            use_aliases: args.use_aliases,
            ..Default::default()
        },
        no_deps: args.no_deps,
        detach: args.detach,
        remove: args.rm,
        up: stackr_ops::UpOptions {
            lock_wait: crate::engine::LOCK_WAIT,
            ..Default::default()
        },
    };
    crate::engine::with_container_engine(global, out, "run", async |engine, stack| {
        stackr_ops::known(stack, std::slice::from_ref(&args.service))?;
        for v in &args.volume {
            opts.one_off.mounts.push(run_volume(stack, v)?);
        }
        let cx = crate::engine::context(stack)?;
        // Ctrl-C: the dependencies' engine calls finish, or the one-off is stopped (and with
        // `--rm` removed); a second leaves at once.
        let sink = |e: OpEvent| render_event(&Reporter::Plain, e);
        let (cancelled, interrupts) = crate::engine::graceful_interrupts();
        let r = stackr_ops::run(
            engine,
            stack,
            &cx,
            &opts,
            Some(cancelled),
            &write_output,
            &sink,
        );
        let r = r.await;
        interrupts.abort();
        match r? {
            stackr_ops::RunEnd::Detached { name } => {
                println!("{name}");
                Ok(ExitStatus::Success)
            }
            stackr_ops::RunEnd::Exited { code: Some(0), .. } => Ok(ExitStatus::Success),
            stackr_ops::RunEnd::Exited { code, .. } => {
                Ok(code.map_or(ExitStatus::Failure, ExitStatus::Container))
            }
        }
    })
}

/// Standard input as a stream of chunks.
fn stdin_stream() -> futures::stream::BoxStream<'static, Vec<u8>> {
    use tokio::io::AsyncReadExt;
    futures::stream::unfold(tokio::io::stdin(), |mut stdin| async move {
        let mut buf = vec![0u8; 4096];
        match stdin.read(&mut buf).await {
            Ok(0) | Err(_) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((buf, stdin))
            }
        }
    })
    .boxed()
}

/// The terminal in raw mode while it lives (keys go to the container as typed).
struct RawMode;

impl RawMode {
    fn enable() -> Option<RawMode> {
        crossterm::terminal::enable_raw_mode()
            .ok()
            .map(|()| RawMode)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = crossterm::terminal::disable_raw_mode();
    }
}
