//! `stackr logs`, and the log view of an attached `up`: one prefix per container, aligned and
//! coloured, following containers that restart.

use std::io::Write;

use stackr_engine::{Engine, LogChunk, LogOptions};
use stackr_spec::Stack;

use crate::cli::{Global, LogsArgs};
use crate::render::Output;
use crate::status::{CliError, CmdResult, ExitStatus};

const COLORS: &[&str] = &["36", "33", "32", "35", "34", "96", "93", "92", "95", "94"];

/// Prints log lines with a `name | ` prefix, secret values masked.
pub struct LogPrinter {
    color: bool,
    width: usize,
    services: Vec<String>,
    timestamps: bool,
    mask: stackr_ops::Mask,
    /// `false`: lines as the container wrote them (`logs --no-prefix`).
    prefix: bool,
}

impl LogPrinter {
    pub fn new(stack: &Stack, color: bool, timestamps: bool) -> Self {
        let width = stack
            .services
            .values()
            .map(|s| stackr_reconcile::desired::container_name(stack, s, s.scale().max(1)).len())
            .max()
            .unwrap_or(0);
        LogPrinter {
            color,
            width,
            services: stack.services.keys().cloned().collect(),
            timestamps,
            mask: stackr_ops::Mask::default(),
            prefix: true,
        }
    }

    /// With or without the `container |` prefix.
    pub fn prefix(mut self, on: bool) -> Self {
        self.prefix = on;
        self
    }

    /// Masks these secret values in what is printed; says which are too short to mask.
    pub fn mask(
        mut self,
        values: &std::collections::BTreeMap<String, stackr_reconcile::desired::SecretValue>,
    ) -> Self {
        let (mask, short) = stackr_ops::Mask::new(values);
        self.mask = mask;
        if let Some(note) = stackr_ops::text::unmasked_note(&short) {
            eprintln!("{note}");
        }
        self
    }

    pub fn print(&self, name: &str, service: &str, chunk: &LogChunk) {
        let prefix = format!("{name:<width$} |", width = self.width);
        let prefix = if self.color {
            let i = self.services.iter().position(|s| s == service).unwrap_or(0);
            format!("\x1b[{}m{prefix}\x1b[0m", COLORS[i % COLORS.len()])
        } else {
            prefix
        };
        let mut out = std::io::stdout().lock();
        for line in self.mask.apply(&chunk.text).lines() {
            if self.prefix {
                let _ = writeln!(out, "{prefix} {line}");
            } else {
                let _ = writeln!(out, "{line}");
            }
        }
        let _ = out.flush();
    }

    /// Prints a line of [`stackr_ops::follow`] or [`stackr_ops::logs`].
    pub fn line(&self, l: stackr_ops::LogLine) {
        self.print(&l.container, &l.service, &l.chunk);
    }
}

/// Follows the logs of the chosen services (all when empty) until every followed container has
/// stopped (`stackr_ops::follow`), printed by `printer`.
pub async fn follow<E: Engine>(
    engine: &E,
    stack: &str,
    services: &[String],
    tail: Option<u64>,
    printer: &LogPrinter,
) -> stackr_engine::Result<()> {
    let sink = |l: stackr_ops::LogLine| printer.line(l);
    stackr_ops::follow(engine, stack, services, tail, printer.timestamps, &sink).await
}

/// `stackr logs`.
pub fn logs_cmd(global: &Global, args: &LogsArgs, out: &Output) -> CmdResult {
    let (stack, from_file) = crate::load::stack_or_name(global, out)?;
    if !from_file && !args.no_mask {
        return Err(CliError::CannotMask { stack: stack.name });
    }
    if from_file {
        stackr_ops::known(&stack, &args.services)?;
    }
    let color = out.color_stdout;
    let since = log_time("--since", args.since.as_ref())?;
    let until = log_time("--until", args.until.as_ref())?;
    crate::engine::on_engine(async |engine| {
        let mut printer = LogPrinter::new(&stack, color, args.timestamps).prefix(!args.no_prefix);
        if !args.no_mask {
            printer = printer.mask(&crate::engine::secret_values(&stack)?);
        }
        if crate::engine::on_swarm(&stack) {
            return swarm_logs(engine, &stack, args, &printer).await;
        }
        let opts = LogOptions {
            follow: false,
            tail: args.tail,
            timestamps: args.timestamps,
            since,
            until,
        };
        // `--index N`: the N-th container of each chosen service.
        let only: Option<Vec<String>> = args.index.map(|n| {
            stack
                .services
                .values()
                .map(|s| stackr_reconcile::desired::container_name(&stack, s, n))
                .collect()
        });
        let sink = |l: stackr_ops::LogLine| {
            if only
                .as_ref()
                .is_none_or(|names| names.contains(&l.container))
            {
                printer.line(l);
            }
        };
        if args.follow {
            stackr_ops::follow_with(engine, &stack.name, &args.services, &opts, &sink).await?;
            return Ok(ExitStatus::Success);
        }
        stackr_ops::logs(engine, &stack.name, &args.services, &opts, &sink).await?;
        Ok(ExitStatus::Success)
    })
}

/// `--since`/`--until` in Unix seconds.
fn log_time(flag: &str, value: Option<&String>) -> Result<Option<i64>, CliError> {
    let Some(v) = value else {
        return Ok(None);
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    stackr_spec::units::parse_log_time(v, now)
        .map(Some)
        .map_err(|message| CliError::BadArguments {
            message: format!("`{flag}`: {message}"),
            help: "write `--since 10m`, `--since 2026-12-06T10:00:00Z` or a Unix timestamp".into(),
        })
}

/// `logs` on a swarm: every task's output (as it comes with `-f`), secrets masked.
pub async fn swarm_logs(
    engine: &stackr_docker::DockerEngine,
    stack: &Stack,
    args: &LogsArgs,
    printer: &LogPrinter,
) -> CmdResult {
    let opts = LogOptions {
        follow: args.follow,
        tail: args.tail,
        timestamps: args.timestamps,
        since: log_time("--since", args.since.as_ref())?,
        until: log_time("--until", args.until.as_ref())?,
    };
    let sink = |l: stackr_ops::LogLine| printer.line(l);
    stackr_ops::swarm_logs(engine, &stack.name, &args.services, &opts, &sink).await?;
    Ok(ExitStatus::Success)
}
