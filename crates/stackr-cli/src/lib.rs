//! stackr's command line: the arguments of every command, as clap definitions (uv's `uv-cli`
//! is the model). The binary parses them and runs the command; help, shell completions, the
//! man page and the book's command reference all come from these definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// stackr: declarative stacks of containers, with a plan.
#[derive(Debug, Parser)]
#[command(
    name = "stackr",
    version,
    about = "A declarative container orchestrator: compose, with a plan",
    long_about = None,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// Stack file, given before the command (repeatable; later files overlay earlier ones).
    /// Default: `stack.kdl` in the
    /// current directory or the nearest parent that has one. Also `STACKR_FILE`, `:`-separated.
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    pub files: Vec<PathBuf>,

    /// Profile to apply (repeatable). Also `STACKR_PROFILE`, `,`-separated.
    #[arg(long = "profile", global = true, value_name = "NAME")]
    pub profiles: Vec<String>,

    /// Environment file for variable interpolation (repeatable). Default: `.env` beside the
    /// stack file.
    #[arg(long = "env-file", global = true, value_name = "PATH")]
    pub env_files: Vec<PathBuf>,

    /// Stack name, given before the command, instead of the file's `stack` node or its
    /// directory's name.
    #[arg(
        short = 'p',
        long = "stack-name",
        env = "STACKR_STACK_NAME",
        value_name = "NAME"
    )]
    pub stack_name: Option<String>,

    /// Plain output without colour (also when `NO_COLOR` is set).
    #[arg(long = "no-color", global = true)]
    pub no_color: bool,

    /// Where the stack runs: containers on one engine, or services on the Docker Swarm the
    /// engine manages. Beats the stack file's `target` node. Default: the file's, else
    /// `engine`.
    #[arg(
        long = "target",
        global = true,
        env = "STACKR_TARGET",
        value_name = "TARGET"
    )]
    pub target: Option<TargetArg>,
}

/// `--target`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetArg {
    /// Containers on one Docker engine.
    Engine,
    /// Services on a Docker Swarm (the engine must be a manager).
    Swarm,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the stack file, the base and every profile; print every problem found.
    Check,
    /// Print the fully resolved stack: profiles applied, variables interpolated, defaults
    /// filled, paths absolute. Secret values are never read.
    Config(ConfigArgs),
    /// Print the dependency graph: the conditions on its edges and the start order as waves.
    Graph(GraphArgs),
    /// Show what `up` would change, and why, without changing anything.
    Plan(PlanArgs),
    /// Build, create and start the stack; change only what differs from the stack file.
    Up(UpArgs),
    /// Bring the stack up, then keep services in step with files on the host by their watch
    /// rules (sync, restart, exec, rebuild) until interrupted.
    Watch(WatchArgs),
    /// Put services back on the spec and image their containers replaced (the last update),
    /// with each service's `rollback` policy. `up` deploys the stack file again.
    Rollback(RollbackArgs),
    /// Stop and remove the stack's containers and networks (volumes with `-v`).
    Down(DownArgs),
    /// List the stack's containers.
    Ps(PsArgs),
    /// Show the output of the stack's containers.
    Logs(LogsArgs),
    /// Build the images of services that have a `build`.
    Build(BuildArgs),
    /// Stop running containers (dependents first), without removing them.
    Stop(StopArgs),
    /// Start stopped containers.
    Start(ServicesArgs),
    /// Stop and start containers again.
    Restart(StopArgs),
    /// Send a signal to running containers.
    Kill(KillArgs),
    /// Wait until every container of the services has stopped; the last exit code is
    /// stackr's.
    Wait(WaitArgs),
    /// Set the number of containers of services (`web=3`) and bring them to it.
    Scale(ScaleArgs),
    /// Create the stack's networks, volumes and containers without starting them (`up
    /// --no-start`).
    Create(CreateArgs),
    /// Freeze the processes of running containers (dependents first).
    Pause(ServicesArgs),
    /// Thaw paused containers.
    Unpause(ServicesArgs),
    /// List the images the stack's containers run.
    Images(InventoryArgs),
    /// Show the running containers' CPU, memory, network and disk use, live.
    Stats(StatsArgs),
    /// Write a service container's filesystem as a tar archive.
    Export(ExportArgs),
    /// Make an image of a service container's filesystem.
    Commit(CommitArgs),
    /// List the stack's volumes (with services: the volumes they mount).
    Volumes(InventoryArgs),
    /// Remove stopped containers.
    Rm(RmArgs),
    /// Run a command in a service's running container; its exit code is stackr's.
    Exec(ExecArgs),
    /// Attach this terminal's input and output to a service's running container (its main
    /// process), as `docker attach` does; the container's exit code is stackr's.
    Attach(AttachArgs),
    /// Run a one-off container of a service (its dependencies are started first); its exit
    /// code is stackr's.
    Run(RunArgs),
    /// Copy files between a service's container and the host: `SERVICE:/PATH PATH` or the
    /// other way.
    Cp(CpArgs),
    /// Print the host address a container port is published on.
    Port(PortArgs),
    /// Show the processes running in containers.
    Top(TopArgs),
    /// List the stacks on the engine.
    Ls(LsArgs),
    /// Print the stack's container events as they happen.
    Events(EventsArgs),
    /// Pull the images of services that name one.
    Pull(ServicesArgs),
    /// Push the images of services that are built (their `image` and their build's `tags`)
    /// to their registries.
    Push(PushArgs),
    /// Print stackr's and the engine's versions.
    Version(VersionArgs),
    /// Turn compose files into a stack file: the first is the base, each later one a profile
    /// (`FILE:PROFILE` names it). Prints what cannot be carried over.
    Import(ImportArgs),
    /// Lay out stack files canonically (indentation, spacing, blank lines), keeping every
    /// value and comment as written.
    Fmt(FmtArgs),
    /// A language server for stack files on stdin and stdout (diagnostics, formatting,
    /// symbols), for editors.
    Lsp,
    /// Print a shell completion script: `stackr completion bash > /etc/bash_completion.d/stackr`.
    Completion {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `stackr man | man -l -`.
    Man,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Where to write the stack file (default: standard output).
    #[arg(short = 'o', long = "output", value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Overwrite the output file when it exists.
    #[arg(long)]
    pub force: bool,
    /// `json`: the compatibility report as data on standard output (every key not carried
    /// over, with its reason and position), and the stack file with `-o` only.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// Compose files: `docker-compose.yml docker-compose.dev.yml:dev ...`.
    #[arg(required = true, value_name = "FILE[:PROFILE]")]
    pub files: Vec<String>,
}

#[derive(Debug, Args)]
pub struct FmtArgs {
    /// Change nothing: name the files that are not laid out canonically, and fail if one is.
    #[arg(long)]
    pub check: bool,
    /// Stack files (default: the `-f` files, or `stack.kdl` here or in a parent folder).
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Take the stack down once they have stopped.
    #[arg(long)]
    pub down_project: bool,
    /// The services to wait for (all when none).
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ScaleArgs {
    /// Do not bring up what the services depend on.
    #[arg(long)]
    pub no_deps: bool,
    /// `SERVICE=N`, one or more.
    #[arg(required = true, value_name = "SERVICE=N")]
    pub scales: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Rebuild every image that is built.
    #[arg(long)]
    pub build: bool,
    #[arg(long, conflicts_with = "no_recreate")]
    pub force_recreate: bool,
    #[arg(long)]
    pub no_recreate: bool,
    #[arg(long)]
    pub remove_orphans: bool,
    /// Containers of a service: `--scale web=3`.
    #[arg(long, value_name = "SERVICE=N")]
    pub scale: Vec<String>,
    /// When to pull images.
    #[arg(long, value_enum)]
    pub pull: Option<PullWhen>,
    /// Only these services (and what they depend on).
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// One sample, then exit.
    #[arg(long)]
    pub no_stream: bool,
    /// `json`: one JSON array per sample.
    #[arg(long, value_enum, default_value_t = TableFormat::Table)]
    pub format: TableFormat,
    /// Only these services; all when none.
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to this file instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Which container of the service.
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    pub service: String,
}

#[derive(Debug, Args)]
pub struct CommitArgs {
    /// The commit message.
    #[arg(short = 'm', long)]
    pub message: Option<String>,
    /// The author (`Name <email>`).
    #[arg(short = 'a', long)]
    pub author: Option<String>,
    /// A Dockerfile instruction applied to the image (`CMD ["sh"]`); repeatable.
    #[arg(short = 'c', long = "change")]
    pub change: Vec<String>,
    /// Pause the container while it is committed (`--pause=false`: not).
    #[arg(short = 'p', long, default_value_t = true, action = clap::ArgAction::Set)]
    pub pause: bool,
    /// Which container of the service.
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    pub service: String,
    /// `REPOSITORY[:TAG]` of the image.
    pub reference: Option<String>,
}

#[derive(Debug, Args)]
pub struct InventoryArgs {
    #[arg(long, value_enum, default_value_t = TableFormat::Table)]
    pub format: TableFormat,
    /// Only print names (image ids for `images`).
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Only these services; all when none.
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ServicesArgs {
    /// Only these services; all when none.
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Seconds a container gets to stop before it is killed.
    #[arg(short = 't', long)]
    pub timeout: Option<u64>,
    /// Only these services; all when none.
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// The signal to send.
    #[arg(short = 's', long, default_value = "SIGKILL")]
    pub signal: String,
    /// Only these services; all when none.
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Do not ask before removing (stackr asks only when its input is a terminal).
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Stop running containers first.
    #[arg(short = 's', long)]
    pub stop: bool,
    /// Only these services; all when none.
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Start the command and return at once.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Run as this user.
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Run in this directory.
    #[arg(short = 'w', long)]
    pub workdir: Option<String>,
    /// Set an environment variable (`KEY=value`, repeatable).
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Which container of a scaled service.
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    /// No pseudo-terminal, even on a terminal (one is allocated when stdin and stdout are
    /// terminals).
    #[arg(short = 'T', long = "no-tty")]
    pub no_tty: bool,
    /// Give the command every capability, whatever the container dropped.
    #[arg(long)]
    pub privileged: bool,
    pub service: String,
    /// The command and its arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// Go on past an image that cannot be pushed (the exit status still says so).
    #[arg(long)]
    pub ignore_push_failures: bool,
    /// Also push what the services named depend on.
    #[arg(long)]
    pub include_deps: bool,
    /// Say nothing but errors.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Only these services; all when none.
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Which container of a scaled service.
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    /// Do not send this terminal's input to the container.
    #[arg(long)]
    pub no_stdin: bool,
    /// Forward Ctrl-C to the container as SIGINT (`--sig-proxy=false`: Ctrl-C detaches).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub sig_proxy: bool,
    /// The keys that detach from a container with a terminal (the engine's default:
    /// `ctrl-p,ctrl-q`).
    #[arg(long, value_name = "KEYS")]
    pub detach_keys: Option<String>,
    pub service: String,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    /// Do not start the service's dependencies.
    #[arg(long)]
    pub no_deps: bool,
    /// Start it and return at once, printing its name.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Set an environment variable (`KEY=value`, repeatable).
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Publish a port (`[IP:]HOST:CONTAINER[/PROTOCOL]`, repeatable); the service's own ports
    /// are not published, as compose does.
    #[arg(short = 'p', long = "publish", value_name = "PORT")]
    pub publish: Vec<String>,
    /// Override the image's entrypoint.
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Run as this user.
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Run in this directory.
    #[arg(short = 'w', long)]
    pub workdir: Option<String>,
    /// Variables from an env file (`KEY=value` lines), under those of `-e`; repeatable.
    #[arg(long, value_name = "FILE")]
    pub env_from_file: Vec<PathBuf>,
    /// Publish the service's own ports too (a one-off publishes none by default).
    #[arg(long)]
    pub service_ports: bool,
    /// Mount `SOURCE:TARGET[:ro]`: a path binds it, a name is a volume of the stack (or of
    /// the engine); repeatable.
    #[arg(short = 'v', long = "volume", value_name = "SOURCE:TARGET")]
    pub volume: Vec<String>,
    /// A label `KEY=VALUE` on the one-off; repeatable.
    #[arg(short = 'l', long = "label", value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// The container's name instead of `STACK-SERVICE-run-N`.
    #[arg(long)]
    pub name: Option<String>,
    /// Give the one-off the service's network aliases, so that others reach it by the
    /// service's name.
    #[arg(long)]
    pub use_aliases: bool,
    pub service: String,
    /// The command and its arguments (default: the service's).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CpArgs {
    /// Which container of a scaled service.
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    pub source: String,
    pub dest: String,
}

#[derive(Debug, Args)]
pub struct PortArgs {
    /// `tcp` or `udp`, unless written as `PORT/PROTOCOL`.
    #[arg(long, default_value = "tcp")]
    pub protocol: String,
    /// Which container of a scaled service.
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    pub service: String,
    pub port: String,
}

#[derive(Debug, Args)]
pub struct TopArgs {
    #[arg(long, value_enum, default_value_t = TableFormat::Table)]
    pub format: TableFormat,
    /// Only these services; all when none.
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Stacks with no running container too.
    #[arg(short = 'a', long)]
    pub all: bool,
    #[arg(long, value_enum, default_value_t = TableFormat::Table)]
    pub format: TableFormat,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// One JSON object per event.
    #[arg(long, value_enum, default_value_t = TableFormat::Table)]
    pub format: TableFormat,
    /// Only these services; all when none.
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct VersionArgs {
    #[arg(long, value_enum, default_value_t = TableFormat::Table)]
    pub format: TableFormat,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// Exit 2 when there are changes, 0 when there are none, 1 on errors (as terraform does).
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Preview `up --build`: rebuild images.
    #[arg(long)]
    pub build: bool,
    /// Preview `up --force-recreate`.
    #[arg(long, conflicts_with = "no_recreate")]
    pub force_recreate: bool,
    /// Preview `up --no-recreate`.
    #[arg(long)]
    pub no_recreate: bool,
    /// Preview `up --remove-orphans`.
    #[arg(long)]
    pub remove_orphans: bool,
    /// With services named: not what they depend on.
    #[arg(long)]
    pub no_deps: bool,
    /// Only these services (and what they depend on).
    pub services: Vec<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Return once the stack is up, instead of streaming its logs.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Rebuild images before starting.
    #[arg(long)]
    pub build: bool,
    /// Recreate every container, even unchanged ones.
    #[arg(long, conflicts_with = "no_recreate")]
    pub force_recreate: bool,
    /// Never recreate existing containers, even changed ones.
    #[arg(long)]
    pub no_recreate: bool,
    /// Remove containers of services that are no longer in the stack.
    #[arg(long)]
    pub remove_orphans: bool,
    /// Seconds a container gets to stop before it is killed (default: its stop grace period).
    #[arg(short = 't', long)]
    pub timeout: Option<u64>,
    /// Return once every service is running, healthy where it has a check, and one-shots have
    /// exited 0; fail naming the service otherwise. Implies `-d`.
    #[arg(long)]
    pub wait: bool,
    /// Seconds `--wait` waits at most.
    #[arg(long, value_name = "SECONDS", default_value_t = 300, requires = "wait")]
    pub wait_timeout: u64,
    /// Progress as text (a live view on a terminal) or as JSON events, one per line.
    #[arg(long, value_enum, default_value_t = ProgressFormat::Text)]
    pub format: ProgressFormat,
    /// With services named: do not start what they depend on.
    #[arg(long)]
    pub no_deps: bool,
    /// Run N containers of a service (`--scale web=3`, repeatable), instead of its `scale`.
    #[arg(long, value_name = "SERVICE=N")]
    pub scale: Vec<String>,
    /// When to pull images of services that name one: `always`, `missing` or `never`
    /// (default: each service's `pull-policy`, else `missing`).
    #[arg(long, value_enum)]
    pub pull: Option<PullWhen>,
    /// Attached: stop everything as soon as any container exits.
    #[arg(long, conflicts_with_all = ["detach", "wait"])]
    pub abort_on_container_exit: bool,
    /// Attached: stop everything when this service's container exits, and exit with its code.
    #[arg(long, value_name = "SERVICE", conflicts_with_all = ["detach", "wait"])]
    pub exit_code_from: Option<String>,
    /// Attached: stop the stack when a container exits with a code other than 0; that code
    /// is stackr's.
    #[arg(long, conflicts_with_all = ["detach", "wait", "abort_on_container_exit", "exit_code_from"])]
    pub abort_on_container_failure: bool,
    /// Attached: show only these services' output (repeatable).
    #[arg(long, value_name = "SERVICE", conflicts_with = "no_attach")]
    pub attach: Vec<String>,
    /// Attached: do not show these services' output (repeatable).
    #[arg(long, value_name = "SERVICE")]
    pub no_attach: Vec<String>,
    /// Attached: show the engine's timestamp on each line.
    #[arg(long)]
    pub timestamps: bool,
    /// Do not show pull progress.
    #[arg(long)]
    pub quiet_pull: bool,
    /// Assume yes to every question; `up` asks none, so scripts written for compose run as
    /// they are.
    #[arg(short = 'y', long = "yes")]
    pub yes: bool,
    /// Once up, watch files by the services' watch rules (as `stackr watch`), streaming logs
    /// unless `-d`.
    #[arg(long, conflicts_with_all = ["wait", "abort_on_container_exit", "exit_code_from"])]
    pub watch: bool,
    /// Create what is missing (networks, volumes, containers) without starting anything, as
    /// `stackr create` does.
    #[arg(long, conflicts_with_all = ["wait", "watch", "abort_on_container_exit", "exit_code_from"])]
    pub no_start: bool,
    /// Only these services (and what they depend on).
    pub services: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct WatchArgs {
    /// Do not bring the stack up first: only watch.
    #[arg(long)]
    pub no_up: bool,
    /// Only these services' rules; all services with rules when none.
    pub services: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PullWhen {
    Always,
    Missing,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// Only these services (default: every service that has something to go back to).
    pub services: Vec<String>,
    /// Show what would be rolled back, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Seconds a container gets to stop before it is killed.
    #[arg(short = 't', long)]
    pub timeout: Option<u64>,
    /// Progress as text or as JSON events, one per line.
    #[arg(long, value_enum, default_value_t = ProgressFormat::Text)]
    pub format: ProgressFormat,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Remove the stack's named volumes too.
    #[arg(short = 'v', long)]
    pub volumes: bool,
    /// Remove containers of services that are no longer in the stack.
    #[arg(long)]
    pub remove_orphans: bool,
    /// Seconds a container gets to stop before it is killed.
    #[arg(short = 't', long)]
    pub timeout: Option<u64>,
    /// Progress as text or as JSON events, one per line.
    #[arg(long, value_enum, default_value_t = ProgressFormat::Text)]
    pub format: ProgressFormat,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show stopped containers too.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TableFormat::Table)]
    pub format: TableFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TableFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Keep following new output.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Only the last N lines of each container.
    #[arg(long, value_name = "N")]
    pub tail: Option<u64>,
    /// Show timestamps.
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// Show secret values instead of `********` where a container prints them.
    #[arg(long)]
    pub no_mask: bool,
    /// Only output since this time: a Unix timestamp, an RFC 3339 time
    /// (`2026-12-06T10:00:00Z`) or a duration before now (`42m`).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only output before this time (the same forms as `--since`).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Print lines without the `container |` prefix.
    #[arg(long, visible_alias = "no-log-prefix")]
    pub no_prefix: bool,
    /// Only the container with this number of each service (`web-2`: `--index 2`).
    #[arg(long, value_name = "N")]
    pub index: Option<u32>,
    /// Only these services.
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Only these services.
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = ConfigFormat::Kdl)]
    pub format: ConfigFormat,
    /// Print only the service names, one a line.
    #[arg(long = "services", conflicts_with_all = ["list_profiles", "list_volumes"])]
    pub list_services: bool,
    /// Print only the profile names the stack declares, one a line.
    #[arg(long = "profiles", conflicts_with = "list_volumes")]
    pub list_profiles: bool,
    /// Print only the volume names, one a line.
    #[arg(long = "volumes")]
    pub list_volumes: bool,
    /// Print only the images of the services, one a line (the name a built image gets).
    #[arg(long = "images")]
    pub list_images: bool,
    /// Print `SERVICE HASH` for these services (`*` or a comma-separated list): a digest of
    /// the service's resolved settings, which changes when they do.
    #[arg(long, value_name = "SERVICES")]
    pub hash: Option<String>,
    /// Print the variables interpolation reads (`NAME=value`): the shell over the env files.
    #[arg(long)]
    pub environment: bool,
    /// Print the variables the stack files use: name, whether required, default, alternate.
    #[arg(long)]
    pub variables: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ConfigFormat {
    Kdl,
    Json,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = GraphFormat::Text)]
    pub format: GraphFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum GraphFormat {
    Text,
    Dot,
    Mermaid,
}

impl Global {
    /// `-f` values, or `STACKR_FILE` split on `:`.
    pub fn file_args(&self) -> Vec<PathBuf> {
        if !self.files.is_empty() {
            return self.files.clone();
        }
        match std::env::var("STACKR_FILE") {
            Ok(v) if !v.is_empty() => v
                .split(':')
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
                .collect(),
            _ => Vec::new(),
        }
    }

    /// `--profile` values, or `STACKR_PROFILE` split on `,`.
    pub fn profile_args(&self) -> Vec<String> {
        if !self.profiles.is_empty() {
            return self.profiles.clone();
        }
        match std::env::var("STACKR_PROFILE") {
            Ok(v) => v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}
