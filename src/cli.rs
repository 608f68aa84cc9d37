//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// stackr: declarative stacks of containers, with a plan.
#[derive(Debug, Parser)]
#[command(name = "stackr", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// Stack file (repeatable; later files overlay earlier ones). Default: `stack.kdl` in the
    /// current directory or the nearest parent that has one. Also `STACKR_FILE`, `:`-separated.
    #[arg(short = 'f', long = "file", global = true, value_name = "PATH")]
    pub files: Vec<PathBuf>,

    /// Profile to apply (repeatable). Also `STACKR_PROFILE`, `,`-separated.
    #[arg(long = "profile", global = true, value_name = "NAME")]
    pub profiles: Vec<String>,

    /// Environment file for variable interpolation (repeatable). Default: `.env` beside the
    /// stack file.
    #[arg(long = "env-file", global = true, value_name = "PATH")]
    pub env_files: Vec<PathBuf>,

    /// Stack name, instead of the file's `stack` node or its directory's name.
    #[arg(
        short = 'p',
        long = "stack-name",
        global = true,
        env = "STACKR_STACK_NAME",
        value_name = "NAME"
    )]
    pub stack_name: Option<String>,

    /// Plain output without colour (also when `NO_COLOR` is set).
    #[arg(long = "no-color", global = true)]
    pub no_color: bool,
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
