//! `stackr watch` (and `stackr up --watch`): keeps running services in step with files on the
//! host by each service's watch rules, until interrupted.
//!
//! The loop: bring the stack up; catch each container up by content; then act on batches of
//! file events (sync, sync and restart, sync and exec, rebuild), on container starts (a
//! container started outside watch is caught up again) and on edits of the stack file
//! (re-planned and applied). An error is printed and the watch goes on.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures::StreamExt;
use stackr_docker::DockerEngine;
use stackr_engine::{ContainerState, Engine, EventKind};
use stackr_reconcile::plan::PlanOptions;
use stackr_spec::{MountSource, Stack, WatchAction};
use stackr_watch::fs::{FsEvent, FsWatcher};
use stackr_watch::rules::{Rule, Rules};
use stackr_watch::sync::{self, Batch, Owner, Target};

use crate::cli::{Global, WatchArgs};
use crate::engine::print_engine_error;
use crate::lifecycle::converge;
use crate::load::valid_stack;
use crate::progress::Reporter;
use crate::render::Output;
use crate::render::count;

/// After the first event of a batch, how long the watcher waits for quiet before acting: an
/// editor's save is several events within a millisecond or two.
const QUIET: Duration = Duration::from_millis(3);
/// A batch is acted on after this long even if events keep coming.
const MAX_BATCH: Duration = Duration::from_millis(200);

/// `stackr watch`.
pub fn watch_cmd(global: &Global, args: &WatchArgs, out: &Output) -> i32 {
    let (cx, stack) = match valid_stack(global, out) {
        Ok(x) => x,
        Err(code) => return code,
    };
    if let Err(e) = Rules::new(&stack, &args.services) {
        eprintln!("error: {e}");
        hint_profiles(global, &stack, &args.services);
        return 1;
    }
    crate::engine::on_engine(async |engine| {
        if !args.no_up {
            let reporter = Reporter::new(false);
            let opts = PlanOptions {
                services: args.services.clone(),
                ..PlanOptions::default()
            };
            if let Err(code) = converge(engine, &stack, &opts, None, None, &reporter).await {
                return code;
            }
            reporter.finish();
        }
        run(engine, global, out, cx.inputs, stack, &args.services).await
    })
}

/// The state of a watch.
struct Watch<'a> {
    engine: &'a DockerEngine,
    global: &'a Global,
    out: &'a Output,
    services: &'a [String],
    files: Vec<PathBuf>,
    /// The stack files' text as last loaded: an event that leaves it the same is no edit.
    texts: Vec<Option<String>>,
    stack: Stack,
    rules: Rules,
    /// Running containers of the services with sync rules.
    targets: BTreeMap<String, Vec<Target>>,
}

/// Watches until Ctrl-C. Returns the exit code.
pub async fn run(
    engine: &DockerEngine,
    global: &Global,
    out: &Output,
    files: Vec<PathBuf>,
    stack: Stack,
    services: &[String],
) -> i32 {
    let rules = match Rules::new(&stack, services) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut fsw = match FsWatcher::new(tx) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let mut w = Watch {
        engine,
        global,
        out,
        services,
        texts: read_all(&files),
        files,
        stack,
        rules,
        targets: BTreeMap::new(),
    };
    // Ctrl-C ends the watch, also while an action runs (the action sees it too and stops).
    let (stop_tx, mut stop) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = stop_tx.send(true);
        }
    });
    if let Err(e) = w.watch_paths(&mut fsw) {
        eprintln!("error: {e}");
        return 1;
    }
    // Subscribed before the first sync, so that no start is missed.
    let mut events = match engine.events(&w.stack.name).await {
        Ok(s) => s,
        Err(e) => {
            print_engine_error(&e, None);
            return 1;
        }
    };
    // Said once when the engine goes away, and once when it is back.
    let mut engine_lost = false;
    w.refresh_targets().await;
    let all: Vec<String> = w.rules.services();
    w.catch_up_all(&all).await;
    println!(
        "watching {} ({}, {}); Ctrl-C stops",
        all.join(", "),
        count(w.rules.rules.len(), "rule"),
        count(fsw.len(), "folder")
    );
    loop {
        tokio::select! {
            _ = stop.changed() => {
                println!("stopped watching");
                return 0;
            }
            first = rx.recv() => {
                let Some(first) = first else { return 0 };
                let mut paths = BTreeSet::new();
                let started = Instant::now();
                add_event(first, &mut paths);
                while started.elapsed() < MAX_BATCH {
                    match tokio::time::timeout(QUIET, rx.recv()).await {
                        Ok(Some(ev)) => add_event(ev, &mut paths),
                        _ => break,
                    }
                }
                w.on_changes(&mut fsw, paths).await;
                if *stop.borrow() {
                    println!("stopped watching");
                    return 0;
                }
            }
            ev = events.next() => {
                match ev {
                    Some(Ok(ev)) => {
                        if matches!(ev.kind, EventKind::Start | EventKind::Die { .. } | EventKind::Destroy) {
                            w.refresh_targets().await;
                        }
                        if ev.kind == EventKind::Start
                            && let Some(svc) = ev.service
                            && w.rules.rules.iter().any(|r| r.service == svc && r.syncs())
                        {
                            w.catch_up(&svc).await;
                        }
                    }
                    Some(Err(e)) => {
                        print_engine_error(&e, None);
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        if let Ok(s) = engine.events(&w.stack.name).await {
                            events = s;
                        }
                    }
                    None => {
                        // The engine closed the stream (a restart of the daemon, say): said,
                        // then opened again, without spinning while the engine is away.
                        if let Err(e) = engine.info().await {
                            if !engine_lost {
                                print_engine_error(&e, None);
                                eprintln!("watch: waiting for the engine to come back");
                                engine_lost = true;
                            }
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                        if let Ok(s) = engine.events(&w.stack.name).await {
                            events = s;
                            if engine_lost {
                                eprintln!("watch: the engine is back, watching again");
                                engine_lost = false;
                                w.refresh_targets().await;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// When the rules live in a profile not applied, names it.
pub fn hint_profiles(global: &Global, stack: &Stack, services: &[String]) {
    let with_rules: Vec<&String> = stack
        .available_profiles
        .iter()
        .filter(|p| !stack.profiles.contains(p))
        .filter(|p| {
            let mut profiles = stack.profiles.clone();
            profiles.push((*p).clone());
            crate::load::quiet_load(global, profiles)
                .is_some_and(|s| Rules::new(&s, services).is_ok())
        })
        .collect();
    if let Some(first) = with_rules.first() {
        let names: Vec<String> = with_rules.iter().map(|p| format!("`{p}`")).collect();
        eprintln!(
            "  help: the profile {} has watch rules: `stackr --profile {first} watch`",
            names.join(", ")
        );
    }
}

fn add_event(ev: FsEvent, paths: &mut BTreeSet<PathBuf>) {
    match ev {
        FsEvent::Changed(ps) => paths.extend(ps),
        FsEvent::Error(e) => eprintln!("warning: the file watcher: {e}"),
    }
}

impl Watch<'_> {
    /// Watches the rules' folders and the stack files' folders.
    fn watch_paths(&mut self, fsw: &mut FsWatcher) -> Result<(), stackr_watch::WatchError> {
        fsw.watch_rules(&self.rules)?;
        for f in &self.files {
            if let Some(dir) = f.parent() {
                fsw.watch_dir(dir)?;
            }
        }
        Ok(())
    }

    /// Reads which containers of the watched services run.
    async fn refresh_targets(&mut self) {
        let list = match self.engine.list_containers(&self.stack.name).await {
            Ok(l) => l,
            Err(e) => {
                print_engine_error(&e, None);
                return;
            }
        };
        let mut targets: BTreeMap<String, Vec<Target>> = BTreeMap::new();
        for c in list {
            let Some(svc) = c.service().map(String::from) else {
                continue;
            };
            if c.state != ContainerState::Running {
                continue;
            }
            let Some(s) = self.stack.services.get(&svc) else {
                continue;
            };
            let mounts = s
                .mounts
                .iter()
                .filter(|m| !m.read_only && !matches!(m.source.value, MountSource::Tmpfs { .. }))
                .map(|m| m.target.value.clone())
                .collect();
            targets.entry(svc).or_default().push(Target {
                id: c.id.clone(),
                name: c.name.clone(),
                owner: Owner::of(s.user.as_ref().map(|u| u.value.as_str())),
                mounts,
            });
        }
        self.targets = targets;
    }

    /// [`Self::catch_up`] for several services at once.
    async fn catch_up_all(&self, services: &[String]) {
        futures::future::join_all(services.iter().map(|s| self.catch_up(s))).await;
    }

    /// Brings every running container of a service in line with the host, by content.
    async fn catch_up(&self, service: &str) {
        let Some(targets) = self.targets.get(service) else {
            return;
        };
        for rule in self
            .rules
            .rules
            .iter()
            .filter(|r| r.service == service && r.syncs())
        {
            let Some(target_path) = rule.target.as_deref() else {
                continue;
            };
            // The host's side, once for every container of the service.
            let started = Instant::now();
            let host = if rule.is_dir {
                match sync::host_listing(rule) {
                    Ok(h) => Some(h),
                    Err(e) => {
                        eprintln!(
                            "error: {service}: catching up {target_path} failed ({}): {e}; still watching",
                            took(started)
                        );
                        continue;
                    }
                }
            } else {
                None
            };
            let here = (!rule.is_dir)
                .then(|| std::fs::read(&rule.path).ok())
                .flatten();
            for t in targets {
                let result = async {
                    let batch = match &host {
                        Some(host) => {
                            let there =
                                sync::container_listing(self.engine, t, target_path).await?;
                            sync::diff(rule, host, there.as_ref())
                        }
                        None => {
                            let there = sync::container_file(self.engine, t, target_path).await?;
                            if there.is_some() && there == here {
                                Batch::default()
                            } else {
                                sync::batch(rule, &BTreeSet::from([rule.path.clone()]))
                            }
                        }
                    };
                    if !batch.is_empty() {
                        sync::push(self.engine, t, &base(rule), &batch).await?;
                    }
                    Ok::<Batch, sync::SyncError>(batch)
                }
                .await;
                match result {
                    Ok(b) if b.is_empty() => {}
                    Ok(b) => println!(
                        "{service}: caught up with {}: {} in {} ({})",
                        shown(&rule.path, &self.global_cwd()),
                        b.summary(target_path, 8),
                        target_path,
                        took(started)
                    ),
                    Err(e) => eprintln!(
                        "error: {service}: catching up {} in {} failed ({}): {e}; still watching",
                        target_path,
                        t.name,
                        took(started)
                    ),
                }
            }
        }
    }

    fn global_cwd(&self) -> PathBuf {
        std::env::current_dir().unwrap_or_default()
    }

    /// Acts on one batch of changed paths.
    async fn on_changes(&mut self, fsw: &mut FsWatcher, paths: BTreeSet<PathBuf>) {
        if paths.iter().any(|p| self.files.contains(p)) {
            let texts = read_all(&self.files);
            if texts != self.texts {
                self.texts = texts;
                self.reload(fsw).await;
                return;
            }
        }
        // Folders that are gone are forgotten; new folders are watched (and their content
        // synced below, as part of the folder).
        for p in &paths {
            if !p.exists() {
                fsw.forget(p);
            }
        }
        for p in &paths {
            if p.is_dir()
                && self.rules.watch_dir(p)
                && let Err(e) = fsw.watch_tree(&self.rules, p)
            {
                eprintln!("error: {e}");
            }
        }
        let mut per_rule: BTreeMap<usize, BTreeSet<PathBuf>> = BTreeMap::new();
        for p in &paths {
            for (i, r) in self.rules.rules.iter().enumerate() {
                if r.covers(p) {
                    per_rule.entry(i).or_default().insert(p.clone());
                }
            }
        }
        let mut rebuild: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
        let mut restart: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
        for (i, ps) in per_rule {
            let rule = &self.rules.rules[i];
            let wanted = match rule.action {
                WatchAction::Rebuild => &mut rebuild,
                WatchAction::Restart => &mut restart,
                _ => {
                    self.sync_rule(rule, &ps).await;
                    continue;
                }
            };
            let counted: Vec<PathBuf> = ps
                .into_iter()
                .filter(|p| {
                    let is_dir = p.is_dir();
                    rule.counts(p, is_dir) || (!p.exists() && !rule.ignored(p, false))
                })
                .collect();
            if !counted.is_empty() {
                wanted
                    .entry(rule.service.clone())
                    .or_default()
                    .extend(counted);
            }
        }
        for (svc, ps) in &rebuild {
            self.rebuild(svc, ps).await;
        }
        // A service rebuilt in this batch was recreated: no restart on top.
        for (svc, ps) in restart.iter().filter(|(s, _)| !rebuild.contains_key(*s)) {
            let cwd = self.global_cwd();
            let names: Vec<String> = ps.iter().map(|p| shown(p, &cwd)).collect();
            self.restart(svc, &format!("{} changed", names.join(", ")))
                .await;
        }
    }

    /// Stops (with its own grace period) and starts one container.
    async fn restart_one(&self, id: &str) -> stackr_engine::Result<()> {
        self.engine.stop_container(id, None).await?;
        self.engine.start_container(id).await
    }

    /// Restarts the running containers of a service, saying why.
    async fn restart(&self, service: &str, why: &str) {
        let list = self.engine.list_containers(&self.stack.name).await;
        for c in list.iter().flatten() {
            if c.service() != Some(service) || c.state != ContainerState::Running {
                continue;
            }
            let started = Instant::now();
            let r = self.restart_one(&c.id).await;
            match r {
                Ok(()) => println!("{service}: restarted: {why} ({})", took(started)),
                Err(e) => eprintln!("error: {service}: cannot restart it: {e}; still watching"),
            }
        }
    }

    /// A sync rule's action for changed paths, in every running container of its service.
    async fn sync_rule(&self, rule: &Rule, paths: &BTreeSet<PathBuf>) {
        let batch = sync::batch(rule, paths);
        if batch.is_empty() {
            return;
        }
        let target_path = rule.target.as_deref().unwrap_or("/");
        let Some(targets) = self.targets.get(&rule.service).filter(|t| !t.is_empty()) else {
            println!(
                "{}: not running; synced when it starts (pending: {})",
                rule.service,
                batch.summary(target_path, 8)
            );
            return;
        };
        for t in targets {
            let started = Instant::now();
            if let Err(e) = sync::push(self.engine, t, &base(rule), &batch).await {
                eprintln!(
                    "error: {}: sync to {target_path} failed ({}): {e}; still watching",
                    rule.service,
                    took(started)
                );
                continue;
            }
            let what = batch.summary(target_path, 8);
            let many = if targets.len() > 1 {
                format!(" [{}]", t.name)
            } else {
                String::new()
            };
            match rule.action {
                WatchAction::SyncRestart => {
                    let r = self.restart_one(&t.id).await;
                    match r {
                        Ok(()) => println!(
                            "{}{many}: {what} in {target_path}; restarted ({})",
                            rule.service,
                            took(started)
                        ),
                        Err(e) => eprintln!(
                            "error: {}{many}: {what} in {target_path}, but the restart failed: {e}; still watching",
                            rule.service
                        ),
                    }
                }
                WatchAction::SyncExec => {
                    let spec = rule.exec.clone().unwrap_or_default();
                    let (code, text) = sync::run_spec(self.engine, &t.id, &spec).await;
                    let cmd = spec.cmd;
                    match code {
                        Some(0) => println!(
                            "{}{many}: {what} in {target_path}; ran `{}` ({})",
                            rule.service,
                            cmd.join(" "),
                            took(started)
                        ),
                        Some(code) => eprintln!(
                            "error: {}{many}: {what} in {target_path}, but `{}` exited with {code}: {}; still watching",
                            rule.service,
                            cmd.join(" "),
                            text.trim()
                        ),
                        None => eprintln!(
                            "error: {}{many}: {what} in {target_path}, but `{}` could not run: {}; still watching",
                            rule.service,
                            cmd.join(" "),
                            text.trim()
                        ),
                    }
                }
                _ => println!(
                    "{}{many}: {what} in {target_path} ({})",
                    rule.service,
                    took(started)
                ),
            }
        }
    }

    /// Rebuilds a service's image and recreates its containers (and dependents that ask to
    /// be restarted with it).
    async fn rebuild(&mut self, service: &str, paths: &[PathBuf]) {
        let started = Instant::now();
        let cwd = self.global_cwd();
        let names: Vec<String> = paths.iter().map(|p| shown(p, &cwd)).collect();
        println!("{service}: {} changed: rebuilding", names.join(", "));
        let opts = PlanOptions {
            build: true,
            services: vec![service.to_string()],
            no_deps: true,
            ..PlanOptions::default()
        };
        let reporter = Reporter::new(false);
        let r = converge(self.engine, &self.stack, &opts, None, None, &reporter).await;
        reporter.finish();
        match r {
            Ok(_) => println!("{service}: rebuilt and recreated ({})", took(started)),
            Err(_) => {
                eprintln!(
                    "error: {service}: the rebuild failed ({}); still watching",
                    took(started)
                );
                return;
            }
        }
        // Dependents that ask to restart with it (`depends-on ... restart=#true`).
        let dependents: Vec<String> = self
            .stack
            .services
            .values()
            .filter(|s| {
                s.depends_on
                    .iter()
                    .any(|d| d.restart && d.service.value == service)
            })
            .map(|s| s.name.value.clone())
            .collect();
        for dep in &dependents {
            self.restart(dep, &format!("{service} was rebuilt")).await;
        }
        self.refresh_targets().await;
    }

    /// The stack file changed: load it again, apply the difference, watch the new rules.
    async fn reload(&mut self, fsw: &mut FsWatcher) {
        let started = Instant::now();
        println!("stack file changed: planning");
        let stack = match valid_stack(self.global, self.out) {
            Ok((_, s)) => s,
            Err(_) => {
                eprintln!("error: the stack file is invalid; nothing changed; still watching");
                return;
            }
        };
        let rules = match Rules::new(&stack, self.services) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {e}; nothing changed; still watching");
                return;
            }
        };
        let opts = PlanOptions {
            services: self.services.to_vec(),
            ..PlanOptions::default()
        };
        let reporter = Reporter::new(false);
        let r = converge(self.engine, &stack, &opts, None, None, &reporter).await;
        reporter.finish();
        if r.is_err() {
            eprintln!("error: the new stack file was not applied; still watching");
            return;
        }
        self.stack = stack;
        self.rules = rules;
        fsw.clear();
        if let Err(e) = self.watch_paths(fsw) {
            eprintln!("error: {e}");
        }
        self.refresh_targets().await;
        self.catch_up_all(&self.rules.services()).await;
        println!(
            "stack file applied; watching {} ({}, {}) ({})",
            self.rules.services().join(", "),
            count(self.rules.rules.len(), "rule"),
            count(fsw.len(), "folder"),
            took(started)
        );
    }
}

fn read_all(files: &[PathBuf]) -> Vec<Option<String>> {
    files
        .iter()
        .map(|f| std::fs::read_to_string(f).ok())
        .collect()
}

/// The folder a rule's archive is extracted into: its target, or a file rule's target's
/// parent.
fn base(rule: &Rule) -> String {
    let target = rule.target.clone().unwrap_or_else(|| "/".into());
    if rule.is_dir {
        return target;
    }
    match Path::new(&target).parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_string_lossy().into_owned(),
        _ => "/".into(),
    }
}

fn shown(p: &Path, cwd: &Path) -> String {
    match p.strip_prefix(cwd) {
        Ok(r) => format!("./{}", r.display()),
        Err(_) => p.display().to_string(),
    }
}

fn took(started: Instant) -> String {
    let d = started.elapsed();
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}
