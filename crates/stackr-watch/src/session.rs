//! The watch loop, generic over the engine: catch every container up by content, then act on
//! batches of file events (sync, sync and restart, sync and exec, rebuild), on container
//! starts (a container started outside watch is caught up again) and on edits of the stack
//! files (loaded again by the [`Host`] and applied). What it does is reported as
//! [`WatchEvent`]s; an error is reported and the watch goes on. It ends when `stop` turns true.
//!
//! What the loop needs from its caller is the [`Host`]: bringing services to the desired state
//! (`up`'s converge, with the caller's rendering of it) and loading the stack files again.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures::StreamExt;
use stackr_engine::{ContainerState, Engine, EngineError, EventKind, LABEL_HELPER};
use stackr_reconcile::plan::PlanOptions;
use stackr_spec::{MountSource, Stack, WatchAction};
use thiserror::Error;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::WatchError;
use crate::fs::{FsEvent, FsWatcher};
use crate::rules::{Rule, Rules};
use crate::sync::{self, Batch, Owner, Target};

/// After the first event of a batch, how long the watcher waits for quiet before acting: an
/// editor's save is several events within a millisecond or two.
const QUIET: Duration = Duration::from_millis(3);
/// A batch is acted on after this long even if events keep coming.
const MAX_BATCH: Duration = Duration::from_millis(200);
/// How long the loop waits before asking again for an engine that went away.
const ENGINE_RETRY: Duration = Duration::from_secs(1);
/// How long it waits before opening again an event stream that ended while the engine is there.
const REOPEN_PAUSE: Duration = Duration::from_millis(100);

/// What the watch loop needs from its caller.
pub trait Host: Send + Sync {
    /// Brings the chosen services to what `stack` says, as `up` does, reporting as it goes.
    /// False when it failed (the host has said why).
    fn converge(&self, stack: &Stack, opts: &PlanOptions) -> impl Future<Output = bool> + Send;
    /// Loads the stack files again after an edit; `None` when they are invalid (the host has
    /// said why).
    fn reload(&self) -> Option<Stack>;
}

/// Why a watch could not start.
#[derive(Debug, Error)]
pub enum SessionError {
    #[error(transparent)]
    Watch(#[from] WatchError),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Why a file was synced, restarted for, or rebuilt for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// These host paths changed.
    Changed(Vec<PathBuf>),
    /// The service was rebuilt (a dependent restarted with it).
    Rebuilt(String),
}

/// What followed a sync into one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Then {
    /// Nothing: the rule only syncs.
    Nothing,
    Restarted,
    RestartFailed(String),
    /// The rule's command ran and exited 0.
    Ran(Vec<String>),
    /// The rule's command exited with another code.
    Exited {
        cmd: Vec<String>,
        code: i64,
        output: String,
    },
    /// The rule's command could not run.
    NotRun {
        cmd: Vec<String>,
        output: String,
    },
}

/// What a watch did, for the caller to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    /// Watching (again, after an applied edit of the stack files, when `reloaded` is set).
    Watching {
        services: Vec<String>,
        rules: usize,
        folders: usize,
        reloaded: Option<Duration>,
    },
    /// A container was brought in line with a host path at start.
    CaughtUp {
        service: String,
        path: PathBuf,
        summary: String,
        target: String,
        took: Duration,
    },
    CatchUpFailed {
        service: String,
        target: String,
        /// The container, when the host side was read.
        container: Option<String>,
        error: String,
        took: Duration,
    },
    /// A change to sync to a service none of whose containers runs.
    NotRunning {
        service: String,
        pending: String,
    },
    /// A batch was written into a container (`container` is named when the service has
    /// several), and what followed.
    Synced {
        service: String,
        container: Option<String>,
        summary: String,
        target: String,
        then: Then,
        took: Duration,
    },
    SyncFailed {
        service: String,
        target: String,
        error: String,
        took: Duration,
    },
    Restarted {
        service: String,
        why: Why,
        took: Duration,
    },
    RestartFailed {
        service: String,
        error: String,
    },
    Rebuilding {
        service: String,
        paths: Vec<PathBuf>,
    },
    Rebuilt {
        service: String,
        took: Duration,
    },
    RebuildFailed {
        service: String,
        took: Duration,
    },
    /// A stack file changed: it is loaded again and applied.
    StackChanged,
    /// The edited stack files are invalid (the host said why): nothing changed.
    StackInvalid,
    /// The edited stack files have no usable watch rules: nothing changed.
    StackRulesInvalid(String),
    /// Applying the edited stack files failed (the host said why).
    StackNotApplied,
    /// An engine call failed; the watch goes on.
    EngineError(EngineError),
    /// The engine went away: the watch waits for it.
    EngineLost(EngineError),
    EngineBack,
    /// The file watcher reported a problem.
    WatcherError(String),
    /// Ctrl-C (or the caller's stop): the watch ended.
    Stopped,
}

/// Where the events go.
pub type Sink<'a> = &'a (dyn Fn(WatchEvent) + Send + Sync);

/// What a watch is given.
pub struct Session<'a, E, H> {
    pub engine: &'a E,
    pub host: &'a H,
    /// The stack files: an edit of one loads the stack again.
    pub files: Vec<PathBuf>,
    pub stack: Stack,
    /// The services watched (all with rules when empty).
    pub services: &'a [String],
    pub sink: Sink<'a>,
}

/// The state of a running watch.
struct Watch<'a, E, H> {
    engine: &'a E,
    host: &'a H,
    sink: Sink<'a>,
    services: &'a [String],
    files: Vec<PathBuf>,
    /// The stack files' text as last loaded: an event that leaves it the same is no edit.
    texts: Vec<Option<String>>,
    stack: Stack,
    rules: Rules,
    /// Running containers of the services with sync rules.
    targets: BTreeMap<String, Vec<Target>>,
}

/// Watches until `stop` turns true. Errors only when the watch cannot start.
pub async fn watch<E: Engine, H: Host>(
    session: Session<'_, E, H>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(), SessionError> {
    let Session {
        engine,
        host,
        files,
        stack,
        services,
        sink,
    } = session;
    let rules = Rules::new(&stack, services)?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut fsw = FsWatcher::new(tx)?;
    let mut w = Watch {
        engine,
        host,
        sink,
        services,
        texts: read_all(&files),
        files,
        stack,
        rules,
        targets: BTreeMap::new(),
    };
    w.watch_paths(&mut fsw)?;
    // Subscribed before the first sync, so that no start is missed.
    // Fused: a stream that ended (the engine went away) is asked again, never polled again.
    let mut events = engine.events(&w.stack.name).await?.fuse();
    // Said once when the engine goes away, and once when it is back.
    let mut engine_lost = false;
    w.resume().await;
    sink(WatchEvent::Watching {
        services: w.rules.services(),
        rules: w.rules.rules.len(),
        folders: fsw.len(),
        reloaded: None,
    });
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            first = rx.recv() => {
                let Some(first) = first else { break };
                let paths = w.batch(first, &mut rx).await;
                w.on_changes(&mut fsw, paths).await;
                if *stop.borrow() {
                    break;
                }
            }
            ev = events.next() => match ev {
                Some(Ok(ev)) => w.on_engine_event(ev).await,
                Some(Err(e)) => {
                    sink(WatchEvent::EngineError(e));
                    tokio::time::sleep(ENGINE_RETRY).await;
                    if let Ok(s) = engine.events(&w.stack.name).await {
                        events = s.fuse();
                        // What started meanwhile is caught up.
                        w.resume().await;
                    }
                }
                None => {
                    // The engine closed the stream (a restart of the daemon, say): said,
                    // then opened again, without spinning while the engine is away.
                    match engine.info().await {
                        Err(e) if !engine_lost => {
                            sink(WatchEvent::EngineLost(e));
                            engine_lost = true;
                        }
                        Err(_) => {}
                        // Still there: a stream that keeps ending must not spin the loop.
                        Ok(_) => tokio::time::sleep(REOPEN_PAUSE).await,
                    }
                    match engine.events(&w.stack.name).await {
                        Ok(s) => {
                            events = s.fuse();
                            if engine_lost {
                                sink(WatchEvent::EngineBack);
                                engine_lost = false;
                            }
                            // Containers the daemon started again have lost what was synced.
                            w.resume().await;
                        }
                        Err(_) => tokio::time::sleep(ENGINE_RETRY).await,
                    }
                }
            },
        }
    }
    sink(WatchEvent::Stopped);
    Ok(())
}

impl<E: Engine, H: Host> Watch<'_, E, H> {
    /// The paths of one batch: events until quiet, or [`MAX_BATCH`] at most. A path created
    /// in the batch and gone again by its end (an editor's temporary file) is left out: it
    /// was never in the container, and removing it there is a call for nothing.
    async fn batch(
        &self,
        first: FsEvent,
        rx: &mut UnboundedReceiver<FsEvent>,
    ) -> BTreeSet<PathBuf> {
        let mut paths = BTreeSet::new();
        let mut fresh = BTreeSet::new();
        let started = Instant::now();
        self.add_event(first, &mut paths, &mut fresh);
        while started.elapsed() < MAX_BATCH {
            match tokio::time::timeout(QUIET, rx.recv()).await {
                Ok(Some(ev)) => self.add_event(ev, &mut paths, &mut fresh),
                _ => break,
            }
        }
        paths.retain(|p| !(fresh.contains(p) && std::fs::symlink_metadata(p).is_err()));
        paths
    }

    /// Adds an event's paths; `fresh` gets those whose first event in the batch is their
    /// creation.
    fn add_event(&self, ev: FsEvent, paths: &mut BTreeSet<PathBuf>, fresh: &mut BTreeSet<PathBuf>) {
        match ev {
            FsEvent::Created(ps) => {
                for p in ps {
                    if !paths.contains(&p) {
                        fresh.insert(p.clone());
                    }
                    paths.insert(p);
                }
            }
            FsEvent::Changed(ps) => paths.extend(ps),
            FsEvent::Error(e) => (self.sink)(WatchEvent::WatcherError(e)),
        }
    }

    /// Reads the targets and catches every one up: at start, and after the event stream was
    /// opened again (containers may have started meanwhile, or come back with a restarted
    /// daemon).
    async fn resume(&mut self) {
        self.refresh_targets().await;
        let services = self.rules.services();
        self.catch_up_all(&services).await;
    }

    /// A container started, died or went: the targets are read again, and one that started
    /// is caught up.
    async fn on_engine_event(&mut self, ev: stackr_engine::Event) {
        if matches!(
            ev.kind,
            EventKind::Start | EventKind::Die { .. } | EventKind::Destroy
        ) {
            self.refresh_targets().await;
        }
        if ev.kind == EventKind::Start
            && let Some(svc) = ev.service
            && self
                .rules
                .rules
                .iter()
                .any(|r| r.service == svc && r.syncs())
        {
            self.catch_up(&svc).await;
        }
    }

    /// Watches the rules' folders and the stack files' folders.
    fn watch_paths(&mut self, fsw: &mut FsWatcher) -> Result<(), WatchError> {
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
                (self.sink)(WatchEvent::EngineError(e));
                return;
            }
        };
        let mut targets: BTreeMap<String, Vec<Target>> = BTreeMap::new();
        for c in list {
            let Some(svc) = c.service().map(String::from) else {
                continue;
            };
            // One-offs (`stackr run`) are the user's: watch neither syncs nor restarts them.
            if c.state != ContainerState::Running || c.labels.contains_key(LABEL_HELPER) {
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
            let user = s.user.as_ref().map(|u| u.value.as_str());
            let mut owner = Owner::of(user);
            if let (true, Some(user)) = (owner.container_user, user) {
                owner = self.owner_in(&c.id, user).await.unwrap_or(owner);
            }
            targets.entry(svc).or_default().push(Target {
                id: c.id.clone(),
                name: c.name.clone(),
                owner,
                mounts,
            });
        }
        self.targets = targets;
    }

    /// A user given by name, resolved in the container's own user database.
    async fn owner_in(&self, id: &str, user: &str) -> Option<Owner> {
        let read = |path: &'static str| async move {
            let bytes = sync::container_file(self.engine, id, path).await.ok()??;
            String::from_utf8(bytes).ok()
        };
        let (passwd, group) = futures::join!(read("/etc/passwd"), read("/etc/group"));
        Owner::resolve(
            user,
            &passwd.unwrap_or_default(),
            &group.unwrap_or_default(),
        )
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
            self.catch_up_rule(rule, targets).await;
        }
    }

    /// [`Self::catch_up`] for one rule: the host's side is read once for every container.
    async fn catch_up_rule(&self, rule: &Rule, targets: &[Target]) {
        let Some(target_path) = rule.target.as_deref() else {
            return;
        };
        let started = Instant::now();
        let failed = |container: Option<&str>, error: String| {
            (self.sink)(WatchEvent::CatchUpFailed {
                service: rule.service.clone(),
                target: target_path.to_string(),
                container: container.map(String::from),
                error,
                took: started.elapsed(),
            });
        };
        let host = if rule.is_dir {
            match sync::host_listing(rule) {
                Ok(h) => Some(h),
                Err(e) => return failed(None, e.to_string()),
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
                        let there = sync::container_listing(self.engine, t, target_path).await?;
                        sync::diff(rule, host, there.as_ref())
                    }
                    None => {
                        let there = sync::container_file(self.engine, &t.id, target_path).await?;
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
                Ok(b) => (self.sink)(WatchEvent::CaughtUp {
                    service: rule.service.clone(),
                    path: rule.path.clone(),
                    summary: b.summary(target_path, 8),
                    target: target_path.to_string(),
                    took: started.elapsed(),
                }),
                Err(e) => failed(Some(&t.name), e.to_string()),
            }
        }
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
        self.follow_folders(fsw, &paths);
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
        for (svc, ps) in restart
            .into_iter()
            .filter(|(s, _)| !rebuild.contains_key(s))
        {
            self.restart(&svc, Why::Changed(ps)).await;
        }
    }

    /// Folders that are gone are forgotten; new folders are watched (their content is synced
    /// as part of the folder).
    fn follow_folders(&self, fsw: &mut FsWatcher, paths: &BTreeSet<PathBuf>) {
        for p in paths {
            if !p.exists() {
                fsw.forget(p);
            }
        }
        for p in paths {
            if p.is_dir()
                && self.rules.watch_dir(p)
                && let Err(e) = fsw.watch_tree(&self.rules, p)
            {
                (self.sink)(WatchEvent::WatcherError(e.to_string()));
            }
        }
    }

    /// Stops (with its own grace period) and starts one container.
    async fn restart_one(&self, id: &str) -> stackr_engine::Result<()> {
        self.engine.stop_container(id, None).await?;
        self.engine.start_container(id).await
    }

    /// Restarts the running containers of a service, saying why.
    async fn restart(&self, service: &str, why: Why) {
        let list = self.engine.list_containers(&self.stack.name).await;
        for c in list.iter().flatten() {
            if c.service() != Some(service)
                || c.state != ContainerState::Running
                || c.labels.contains_key(LABEL_HELPER)
            {
                continue;
            }
            let started = Instant::now();
            let event = match self.restart_one(&c.id).await {
                Ok(()) => WatchEvent::Restarted {
                    service: service.to_string(),
                    why: why.clone(),
                    took: started.elapsed(),
                },
                Err(e) => WatchEvent::RestartFailed {
                    service: service.to_string(),
                    error: e.to_string(),
                },
            };
            (self.sink)(event);
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
            (self.sink)(WatchEvent::NotRunning {
                service: rule.service.clone(),
                pending: batch.summary(target_path, 8),
            });
            return;
        };
        for t in targets {
            let started = Instant::now();
            if let Err(e) = sync::push(self.engine, t, &base(rule), &batch).await {
                (self.sink)(WatchEvent::SyncFailed {
                    service: rule.service.clone(),
                    target: target_path.to_string(),
                    error: e.to_string(),
                    took: started.elapsed(),
                });
                continue;
            }
            let then = self.after_sync(rule, &t.id).await;
            (self.sink)(WatchEvent::Synced {
                service: rule.service.clone(),
                container: (targets.len() > 1).then(|| t.name.clone()),
                summary: batch.summary(target_path, 8),
                target: target_path.to_string(),
                then,
                took: started.elapsed(),
            });
        }
    }

    /// What a rule does in a container after its files were written.
    async fn after_sync(&self, rule: &Rule, id: &str) -> Then {
        match rule.action {
            WatchAction::SyncRestart => match self.restart_one(id).await {
                Ok(()) => Then::Restarted,
                Err(e) => Then::RestartFailed(e.to_string()),
            },
            WatchAction::SyncExec => {
                let spec = rule.exec.clone().unwrap_or_default();
                let (code, output) = sync::run_spec(self.engine, id, &spec).await;
                let cmd = spec.cmd;
                match code {
                    Some(0) => Then::Ran(cmd),
                    Some(code) => Then::Exited { cmd, code, output },
                    None => Then::NotRun { cmd, output },
                }
            }
            _ => Then::Nothing,
        }
    }

    /// Rebuilds a service's image and recreates its containers (and dependents that ask to
    /// be restarted with it).
    async fn rebuild(&mut self, service: &str, paths: &[PathBuf]) {
        let started = Instant::now();
        (self.sink)(WatchEvent::Rebuilding {
            service: service.to_string(),
            paths: paths.to_vec(),
        });
        let opts = PlanOptions {
            build: true,
            services: vec![service.to_string()],
            no_deps: true,
            ..PlanOptions::default()
        };
        if !self.host.converge(&self.stack, &opts).await {
            (self.sink)(WatchEvent::RebuildFailed {
                service: service.to_string(),
                took: started.elapsed(),
            });
            return;
        }
        (self.sink)(WatchEvent::Rebuilt {
            service: service.to_string(),
            took: started.elapsed(),
        });
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
            self.restart(dep, Why::Rebuilt(service.to_string())).await;
        }
        self.refresh_targets().await;
    }

    /// The stack file changed: load it again, apply the difference, watch the new rules.
    async fn reload(&mut self, fsw: &mut FsWatcher) {
        let started = Instant::now();
        (self.sink)(WatchEvent::StackChanged);
        let Some(stack) = self.host.reload() else {
            return (self.sink)(WatchEvent::StackInvalid);
        };
        let rules = match Rules::new(&stack, self.services) {
            Ok(r) => r,
            Err(e) => return (self.sink)(WatchEvent::StackRulesInvalid(e.to_string())),
        };
        let opts = PlanOptions {
            services: self.services.to_vec(),
            ..PlanOptions::default()
        };
        if !self.host.converge(&stack, &opts).await {
            return (self.sink)(WatchEvent::StackNotApplied);
        }
        self.stack = stack;
        self.rules = rules;
        fsw.clear();
        if let Err(e) = self.watch_paths(fsw) {
            (self.sink)(WatchEvent::WatcherError(e.to_string()));
        }
        self.refresh_targets().await;
        let services = self.rules.services();
        self.catch_up_all(&services).await;
        (self.sink)(WatchEvent::Watching {
            services,
            rules: self.rules.rules.len(),
            folders: fsw.len(),
            reloaded: Some(started.elapsed()),
        });
    }
}

/// The stack files' texts, to see whether one changed: only regular files within the size
/// limit are read (the reload reports anything else, as every load does).
fn read_all(files: &[PathBuf]) -> Vec<Option<String>> {
    files
        .iter()
        .map(|f| {
            let meta = std::fs::metadata(f).ok()?;
            if !meta.is_file() || meta.len() > stackr_spec::limits::MAX_FILE_BYTES {
                return None;
            }
            std::fs::read_to_string(f).ok()
        })
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
