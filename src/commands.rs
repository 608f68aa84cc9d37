//! The rest of the compose CLI: `stop`, `start`, `restart`, `kill`, `rm`, `port`, `top`, `ls`,
//! `events`, `version`, `exec`, `cp`, `pull`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt;
use serde_json::json;
use stackr_docker::DockerEngine;
use stackr_engine::{ContainerInfo, ContainerState, Engine, ExecSpec, LABEL_STACK, LogStream};
use stackr_spec::Stack;

use crate::cli::{
    CpArgs, EventsArgs, ExecArgs, Global, KillArgs, LsArgs, PortArgs, RmArgs, RunArgs,
    ServicesArgs, StopArgs, TableFormat, TopArgs, VersionArgs,
};
use crate::engine::{print_engine_error, with_engine};
use crate::lifecycle::runtime;
use crate::progress::Reporter;
use crate::render::Output;
use stackr_ops::Verb;

fn check_services(stack: &Stack, services: &[String]) -> Result<(), i32> {
    stackr_ops::known(stack, services).map_err(|e| {
        crate::lifecycle::print_op_error(&e);
        1
    })
}

/// The stack's containers of the chosen services (all when empty), in start order.
async fn containers(
    engine: &DockerEngine,
    stack: &Stack,
    services: &[String],
) -> Result<Vec<ContainerInfo>, i32> {
    stackr_ops::containers(engine, stack, services)
        .await
        .map_err(|e| {
            crate::lifecycle::print_op_error(&e);
            1
        })
}

/// One container of a service: `--index N`, default 1.
async fn one_container(
    engine: &DockerEngine,
    stack: &Stack,
    service: &str,
    index: u32,
) -> Result<ContainerInfo, i32> {
    let list = containers(engine, stack, &[service.to_string()]).await?;
    match list.into_iter().find(|c| c.number() == Some(index)) {
        Some(c) => Ok(c),
        None => {
            eprintln!("error: service `{service}` has no container number {index}");
            eprintln!("  help: is the stack up? `stackr ps -a` lists its containers");
            Err(1)
        }
    }
}

/// `stop`, `start`, `restart`, `kill` and `rm` after its question: acts on each chosen
/// container, saying what became of it.
async fn act(engine: &DockerEngine, stack: &Stack, services: &[String], verb: &Verb) -> i32 {
    let list = match containers(engine, stack, services).await {
        Ok(l) => stackr_ops::chosen(l, verb),
        Err(code) => return code,
    };
    if list.is_empty() && *verb == Verb::Start {
        eprintln!("nothing to start: `stackr up` creates what is missing");
    }
    let sink = |e: stackr_ops::OpEvent| crate::lifecycle::render_event(&Reporter::Plain, e);
    let failed = stackr_ops::act(engine, &list, verb, &sink).await;
    i32::from(failed > 0)
}

pub fn stop(global: &Global, args: &StopArgs, out: &Output) -> i32 {
    let timeout = args.timeout.map(Duration::from_secs);
    with_engine(global, out, async |engine, stack| {
        act(engine, stack, &args.services, &Verb::Stop { timeout }).await
    })
}

pub fn start(global: &Global, args: &ServicesArgs, out: &Output) -> i32 {
    with_engine(global, out, async |engine, stack| {
        act(engine, stack, &args.services, &Verb::Start).await
    })
}

pub fn restart(global: &Global, args: &StopArgs, out: &Output) -> i32 {
    let timeout = args.timeout.map(Duration::from_secs);
    with_engine(global, out, async |engine, stack| {
        act(engine, stack, &args.services, &Verb::Restart { timeout }).await
    })
}

pub fn kill(global: &Global, args: &KillArgs, out: &Output) -> i32 {
    let signal = args.signal.clone();
    with_engine(global, out, async |engine, stack| {
        act(engine, stack, &args.services, &Verb::Kill { signal }).await
    })
}

pub fn rm(global: &Global, args: &RmArgs, out: &Output) -> i32 {
    let verb = Verb::Remove { stop: args.stop };
    with_engine(global, out, async |engine, stack| {
        // As compose does: without `-f`, asked first on a terminal.
        if !args.force && std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            let list = match containers(engine, stack, &args.services).await {
                Ok(l) => stackr_ops::chosen(l, &verb),
                Err(code) => return code,
            };
            let going: Vec<&str> = list
                .iter()
                .filter(|c| args.stop || c.state != ContainerState::Running)
                .map(|c| c.name.as_str())
                .collect();
            if !going.is_empty() && !confirm(&format!("Going to remove {}.", going.join(", "))) {
                eprintln!("nothing removed");
                return 0;
            }
        }
        act(engine, stack, &args.services, &verb).await
    })
}

/// Asks on the terminal; yes only when answered so.
fn confirm(question: &str) -> bool {
    eprint!("{question} Are you sure? [yN] ");
    let mut answer = String::new();
    let _ = std::io::stdin().read_line(&mut answer);
    matches!(answer.trim(), "y" | "Y" | "yes")
}

pub fn port(global: &Global, args: &PortArgs, out: &Output) -> i32 {
    with_engine(global, out, async |engine, stack| {
        let c = match one_container(engine, stack, &args.service, args.index).await {
            Ok(c) => c,
            Err(code) => return code,
        };
        let (port, proto) = match args.port.split_once('/') {
            Some((p, proto)) => (p, proto.to_string()),
            None => (args.port.as_str(), args.protocol.clone()),
        };
        let Ok(port) = port.parse::<u16>() else {
            eprintln!("error: `{}` is not a port", args.port);
            return 1;
        };
        let found: Vec<String> = c
            .ports
            .iter()
            .filter(|p| p.container_port == port && p.protocol == proto && p.host_port.is_some())
            .map(|p| {
                format!(
                    "{}:{}",
                    p.host_ip.as_deref().unwrap_or("0.0.0.0"),
                    p.host_port.unwrap_or_default()
                )
            })
            .collect();
        match found.first() {
            Some(first) => {
                println!("{first}");
                0
            }
            None => {
                eprintln!(
                    "error: `{}` publishes no host port for {port}/{proto}",
                    c.name
                );
                1
            }
        }
    })
}

pub fn top(global: &Global, args: &TopArgs, out: &Output) -> i32 {
    with_engine(global, out, async |engine, stack| {
        let mut list = match containers(engine, stack, &args.services).await {
            Ok(l) => l,
            Err(code) => return code,
        };
        list.retain(|c| c.state == ContainerState::Running);
        let mut all = Vec::new();
        for c in &list {
            match engine.top(&c.id).await {
                Ok(p) => all.push((c.name.clone(), p)),
                Err(e) => {
                    print_engine_error(&e, c.service());
                    return 1;
                }
            }
        }
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
                    print!("{}", table(&rows));
                    println!();
                }
            }
        }
        0
    })
}

/// Aligned columns.
pub fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; cols];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(c);
            } else {
                line.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `stackr ls`: every stack on the engine, found by label; needs no stack file.
pub fn ls(args: &LsArgs) -> i32 {
    crate::engine::on_engine(async |engine| {
        let list = match engine.list_all_containers().await {
            Ok(l) => l,
            Err(e) => {
                print_engine_error(&e, None);
                return 1;
            }
        };
        let mut stacks: BTreeMap<String, BTreeMap<&'static str, usize>> = BTreeMap::new();
        for c in &list {
            let Some(stack) = c.labels.get(LABEL_STACK) else {
                continue;
            };
            *stacks
                .entry(stack.clone())
                .or_default()
                .entry(c.state.as_str())
                .or_default() += 1;
        }
        if !args.all {
            stacks.retain(|_, states| states.contains_key("running"));
        }
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
                print!("{}", table(&rows));
            }
        }
        0
    })
}

/// `stackr events`: the stack's container events as they happen.
pub fn events(global: &Global, args: &EventsArgs, out: &Output) -> i32 {
    with_engine(global, out, async |engine, stack| {
        if let Err(code) = check_services(stack, &args.services) {
            return code;
        }
        let mut stream = match engine.events(&stack.name).await {
            Ok(s) => s,
            Err(e) => {
                print_engine_error(&e, None);
                return 1;
            }
        };
        loop {
            tokio::select! {
                ev = stream.next() => {
                    let Some(ev) = ev else {
                        // The stream ended: the engine went away (said, exit 1), or is
                        // still there, and is followed again.
                        if let Err(e) = engine.info().await {
                            print_engine_error(&e, None);
                            return 1;
                        }
                        match engine.events(&stack.name).await {
                            Ok(s) => stream = s,
                            Err(e) => {
                                print_engine_error(&e, None);
                                return 1;
                            }
                        }
                        continue;
                    };
                    let ev = match ev {
                        Ok(ev) => ev,
                        Err(e) => {
                            print_engine_error(&e, None);
                            return 1;
                        }
                    };
                    if !args.services.is_empty() && !ev.service.as_ref().is_some_and(|s| args.services.contains(s)) {
                        continue;
                    }
                    let action = match &ev.kind {
                        stackr_engine::EventKind::Create => "create".to_string(),
                        stackr_engine::EventKind::Start => "start".to_string(),
                        stackr_engine::EventKind::Die { exit_code } => format!("die (exit code {exit_code})"),
                        stackr_engine::EventKind::Health(h) => format!("health: {}", h.as_str()),
                        stackr_engine::EventKind::Destroy => "destroy".to_string(),
                        stackr_engine::EventKind::Other(a) => a.clone(),
                    };
                    let mut o = std::io::stdout().lock();
                    let _ = if args.format == TableFormat::Json {
                        writeln!(o, "{}", json!({"time_ns": ev.time_nanos, "service": ev.service, "container": ev.container_name, "action": action}))
                    } else {
                        writeln!(o, "{} {action}", ev.container_name)
                    };
                    let _ = o.flush();
                }
                _ = tokio::signal::ctrl_c() => return 0,
            }
        }
    })
}

/// `stackr version`.
pub fn version(args: &VersionArgs) -> i32 {
    let ours = env!("CARGO_PKG_VERSION");
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let engine = rt.block_on(async {
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
        return 0;
    }
    println!("stackr {ours}");
    match engine {
        Some(e) => println!(
            "engine {} (API {}) at {}",
            e.server_version, e.api_version, e.endpoint
        ),
        None => println!("engine: not reachable"),
    }
    0
}

/// `stackr exec`: runs a command in a service's running container; its exit code is stackr's.
pub fn exec(global: &Global, args: &ExecArgs, out: &Output) -> i32 {
    with_engine(global, out, async |engine, stack| {
        let c = match one_container(engine, stack, &args.service, args.index).await {
            Ok(c) => c,
            Err(code) => return code,
        };
        if c.state != ContainerState::Running {
            eprintln!("error: `{}` is not running ({})", c.name, c.state.as_str());
            return 1;
        }
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
        let print = |chunk: stackr_engine::LogChunk| match chunk.stream {
            LogStream::Stdout => {
                let mut o = std::io::stdout().lock();
                let _ = o.write_all(chunk.text.as_bytes());
                let _ = o.flush();
            }
            LogStream::Stderr => {
                let mut e = std::io::stderr().lock();
                let _ = e.write_all(chunk.text.as_bytes());
            }
        };
        match engine.exec(&c.id, &spec, input, &print).await {
            Ok(Some(code)) => i32::try_from(code).unwrap_or(1),
            Ok(None) => 0,
            Err(e) => {
                print_engine_error(&e, Some(&args.service));
                126
            }
        }
    })
}

/// `SERVICE:PATH`, or a host path.
fn container_side(s: &str) -> Option<(&str, &str)> {
    let (svc, path) = s.split_once(':')?;
    (!svc.is_empty() && !svc.contains('/') && path.starts_with('/')).then_some((svc, path))
}

/// `stackr cp`: copies files between a service's container and the host, either way.
pub fn cp(global: &Global, args: &CpArgs, out: &Output) -> i32 {
    with_engine(global, out, async |engine, stack| {
        match (container_side(&args.source), container_side(&args.dest)) {
            (Some((svc, path)), None) => {
                let c = match one_container(engine, stack, svc, args.index).await {
                    Ok(c) => c,
                    Err(code) => return code,
                };
                let tar = match engine.download_archive(&c.id, path).await {
                    Ok(t) => t,
                    Err(e) => {
                        print_engine_error(&e, Some(svc));
                        return 1;
                    }
                };
                match extract(&tar, Path::new(&args.dest)) {
                    Ok(n) => {
                        eprintln!("copied {n} entries from {}:{path} to {}", c.name, args.dest);
                        0
                    }
                    Err(e) => {
                        eprintln!("error: cannot write to `{}`: {e}", args.dest);
                        1
                    }
                }
            }
            (None, Some((svc, path))) => {
                let c = match one_container(engine, stack, svc, args.index).await {
                    Ok(c) => c,
                    Err(code) => return code,
                };
                let src = PathBuf::from(&args.source);
                let (dir, name) = match path.rsplit_once('/') {
                    Some((d, n)) if !n.is_empty() => {
                        (if d.is_empty() { "/" } else { d }, n.to_string())
                    }
                    _ => (
                        path,
                        src.file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                    ),
                };
                let tar = match pack(&src, &name) {
                    Ok(t) => t,
                    Err(e) => {
                        eprintln!("error: cannot read `{}`: {e}", args.source);
                        return 1;
                    }
                };
                match engine.upload_archive(&c.id, dir, tar, false).await {
                    Ok(()) => {
                        eprintln!("copied {} to {}:{dir}/{name}", args.source, c.name);
                        0
                    }
                    Err(e) => {
                        print_engine_error(&e, Some(svc));
                        1
                    }
                }
            }
            _ => {
                eprintln!("error: exactly one side of `cp` is `SERVICE:/PATH`");
                eprintln!(
                    "  help: `stackr cp web:/etc/nginx/nginx.conf ./nginx.conf` or `stackr cp ./site web:/srv/site`"
                );
                2
            }
        }
    })
}

fn pack(src: &Path, name: &str) -> std::io::Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    if src.is_dir() {
        b.append_dir_all(name, src)?;
    } else {
        b.append_path_with_name(src, name)?;
    }
    b.into_inner()
}

/// Extracts a tar into `dest`: a single file becomes `dest` when `dest` is not a directory.
fn extract(tar: &[u8], dest: &Path) -> std::io::Result<usize> {
    let mut archive = tar::Archive::new(tar);
    let entries: Vec<_> = archive.entries()?.collect::<Result<Vec<_>, _>>()?;
    let single_file = entries.len() == 1 && entries[0].header().entry_type().is_file();
    let count = entries.len();
    if single_file && !dest.is_dir() {
        let mut archive = tar::Archive::new(tar);
        if let Some(entry) = archive.entries()?.next() {
            let mut entry = entry?;
            let mut f = std::fs::File::create(dest)?;
            std::io::copy(&mut entry, &mut f)?;
        }
        return Ok(count);
    }
    std::fs::create_dir_all(dest)?;
    tar::Archive::new(tar).unpack(dest)?;
    Ok(count)
}

/// `stackr pull`: pulls the images of services that name one.
pub fn pull(global: &Global, args: &ServicesArgs, out: &Output) -> i32 {
    with_engine(global, out, async |engine, stack| {
        if let Err(code) = check_services(stack, &args.services) {
            return code;
        }
        let mut code = 0;
        for s in stack.services.values() {
            if !args.services.is_empty() && !args.services.contains(&s.name.value) {
                continue;
            }
            let (Some(image), None) = (&s.image, &s.build) else {
                continue;
            };
            match engine.pull_image(&image.value).await {
                Ok(()) => eprintln!("{}: pulled {}", s.name.value, image.value),
                Err(e) => {
                    print_engine_error(&e, Some(&s.name.value));
                    code = 1;
                }
            }
        }
        code
    })
}

/// `stackr run`: a one-off container of a service. Its dependencies are brought up first (as
/// `up -d` would, unless `--no-deps`); the container is named `{stack}-{service}-run-{n}`,
/// gets the service's settings without its published ports, streams its output, and its exit
/// code is stackr's.
pub fn run(global: &Global, args: &RunArgs, out: &Output) -> i32 {
    with_engine(global, out, async |engine, stack| {
        let mut ports = Vec::new();
        for p in &args.publish {
            match stackr_spec::port::parse_port_spec(p) {
                Ok(ps) => ports.extend((0..ps.target.len()).map(|i| {
                    let i = i as u16;
                    stackr_engine::PortBinding {
                        container_port: ps.target.start + i,
                        protocol: ps.protocol.as_str().into(),
                        host_ip: ps.host_ip.map(|ip| ip.to_string()),
                        host_port: ps.published.map(|h| h.start + i),
                    }
                })),
                Err(e) => {
                    eprintln!("error: `-p {p}`: {e}");
                    return 2;
                }
            }
        }
        let opts = stackr_ops::RunOptions {
            service: args.service.clone(),
            one_off: stackr_reconcile::desired::OneOff {
                command: (!args.command.is_empty()).then(|| args.command.clone()),
                entrypoint: args.entrypoint.clone().map(|ep| vec![ep]),
                user: args.user.clone(),
                working_dir: args.workdir.clone(),
                env: args.env.clone(),
                ports,
                ..Default::default()
            },
            no_deps: args.no_deps,
            detach: args.detach,
            remove: args.rm,
            up: stackr_ops::UpOptions {
                lock_wait: crate::lifecycle::LOCK_WAIT,
                ..Default::default()
            },
        };
        let cx = match crate::lifecycle::context(stack) {
            Ok(cx) => cx,
            Err(code) => return code,
        };
        let output = |chunk: stackr_engine::LogChunk| match chunk.stream {
            LogStream::Stdout => {
                let mut o = std::io::stdout().lock();
                let _ = o.write_all(chunk.text.as_bytes());
                let _ = o.flush();
            }
            LogStream::Stderr => {
                let _ = std::io::stderr().lock().write_all(chunk.text.as_bytes());
            }
        };
        let reporter = crate::progress::Reporter::Plain;
        let sink = |e: stackr_ops::OpEvent| crate::lifecycle::render_event(&reporter, e);
        let (cancelled, interrupts) = crate::lifecycle::graceful_interrupts();
        let r = stackr_ops::run(engine, stack, &cx, &opts, Some(cancelled), &output, &sink).await;
        interrupts.abort();
        match r {
            Ok(stackr_ops::RunEnd::Detached { name }) => {
                println!("{name}");
                0
            }
            Ok(stackr_ops::RunEnd::Exited { code, .. }) => {
                code.map_or(1, |c| i32::try_from(c).unwrap_or(1))
            }
            Err(e) => {
                crate::lifecycle::print_op_error(&e);
                1
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
