//! `stackr logs`, and the log view of an attached `up`: one prefix per container, aligned and
//! coloured, following containers that restart.

use std::io::Write;

use futures::StreamExt;
use stackr_engine::{Engine, LogChunk, LogOptions, LogStream};
use stackr_spec::Stack;

use crate::cli::{Global, LogsArgs};
use crate::render::Output;
use crate::status::{CliError, CmdResult, ExitStatus};

const COLORS: &[&str] = &["36", "33", "32", "35", "34", "96", "93", "92", "95", "94"];

/// Prints log lines with a `name | ` prefix.
pub struct LogPrinter {
    color: bool,
    width: usize,
    services: Vec<String>,
    timestamps: bool,
    /// Secret values to mask in the output (longest first).
    secrets: Vec<String>,
}

/// Values shorter than this are not masked: they would hide ordinary words.
pub const MIN_MASKED: usize = 4;

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
            secrets: Vec::new(),
        }
    }

    /// Masks these secret values in what is printed; says which are too short to mask.
    pub fn mask(
        mut self,
        values: &std::collections::BTreeMap<String, stackr_reconcile::desired::SecretValue>,
    ) -> Self {
        let mut short = Vec::new();
        for (name, v) in values {
            let text = String::from_utf8_lossy(&v.0).trim().to_string();
            if text.chars().count() < MIN_MASKED {
                short.push(name.clone());
            } else {
                self.secrets.push(text);
            }
        }
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        if !short.is_empty() {
            eprintln!(
                "note: secret{} {} {} shorter than {MIN_MASKED} characters: not masked in the output",
                if short.len() == 1 { "" } else { "s" },
                short
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if short.len() == 1 { "is" } else { "are" }
            );
        }
        self
    }

    pub fn print(&self, name: &str, service: &str, chunk: &LogChunk) {
        let _ = self.timestamps;
        let prefix = format!("{name:<width$} |", width = self.width);
        let prefix = if self.color {
            let i = self.services.iter().position(|s| s == service).unwrap_or(0);
            format!("\x1b[{}m{prefix}\x1b[0m", COLORS[i % COLORS.len()])
        } else {
            prefix
        };
        let mut out = std::io::stdout().lock();
        let mut text = chunk.text.clone();
        for secret in &self.secrets {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), "********");
            }
        }
        for line in text.lines() {
            let _ = match chunk.stream {
                LogStream::Stdout | LogStream::Stderr => writeln!(out, "{prefix} {line}"),
            };
        }
        let _ = out.flush();
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
    let sink = |l: stackr_ops::LogLine| printer.print(&l.container, &l.service, &l.chunk);
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
    crate::engine::on_engine(async |engine| {
        let mut printer = LogPrinter::new(&stack, color, args.timestamps);
        if !args.no_mask {
            printer = printer.mask(&crate::engine::secret_values(&stack)?);
        }
        if args.follow {
            follow(engine, &stack.name, &args.services, args.tail, &printer).await?;
            return Ok(ExitStatus::Success);
        }
        let containers = engine.list_containers(&stack.name).await?;
        let opts = LogOptions {
            follow: false,
            tail: args.tail,
            timestamps: args.timestamps,
        };
        let mut chosen: Vec<_> = containers
            .iter()
            .filter(|c| {
                args.services.is_empty()
                    || c.service()
                        .is_some_and(|s| args.services.iter().any(|x| x == s))
            })
            .collect();
        chosen.sort_by(|a, b| a.name.cmp(&b.name));
        for c in chosen {
            let fail = |e| CliError::engine(c.service(), e);
            let mut stream = engine.logs(&c.id, &opts).await.map_err(fail)?;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(fail)?;
                printer.print(&c.name, c.service().unwrap_or_default(), &chunk);
            }
        }
        Ok(ExitStatus::Success)
    })
}
