//! `stats`, `export` and `commit`: a service's containers as the engine sees them.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use serde_json::json;

use crate::cli::{CommitArgs, ExportArgs, Global, StatsArgs, TableFormat};
use crate::render::Output;
use crate::status::{CliError, CmdResult, ExitStatus};

/// How often live `stats` samples.
const EVERY: Duration = Duration::from_secs(1);

/// `stackr stats`: a sample of every running container, again every second until Ctrl-C
/// (once with `--no-stream`); on a terminal each sample replaces the last.
pub fn stats(global: &Global, args: &StatsArgs, out: &Output) -> CmdResult {
    crate::engine::with_container_engine(global, out, "stats", async |engine, stack| {
        let terminal = std::io::stdout().is_terminal();
        // One listener for the whole run: a Ctrl-C while a sample is taken is not lost.
        let interrupted = tokio::signal::ctrl_c();
        tokio::pin!(interrupted);
        loop {
            // A sample takes the engine about a second (it reads twice, for the CPU share):
            // the next one starts a second after this one did.
            let started = std::time::Instant::now();
            let rows = tokio::select! {
                rows = stackr_ops::stats(engine, stack, &args.services) => rows?,
                _ = &mut interrupted => return Ok(ExitStatus::Success),
            };
            print_sample(&rows, args.format, terminal && !args.no_stream);
            if args.no_stream {
                return Ok(ExitStatus::Success);
            }
            tokio::select! {
                () = tokio::time::sleep(EVERY.saturating_sub(started.elapsed())) => {}
                _ = &mut interrupted => return Ok(ExitStatus::Success),
            }
        }
    })
}

fn print_sample(rows: &[stackr_ops::StatsRow], format: TableFormat, redraw: bool) {
    let mut out = std::io::stdout().lock();
    if format == TableFormat::Json {
        let v: Vec<_> = rows
            .iter()
            .map(|r| {
                let s = &r.stats;
                json!({"container": r.container, "service": r.service,
                       "cpu_percent": (s.cpu_percent * 100.0).round() / 100.0,
                       "memory_usage": s.memory_usage, "memory_limit": s.memory_limit,
                       "net_rx": s.net_rx, "net_tx": s.net_tx,
                       "block_read": s.block_read, "block_write": s.block_write, "pids": s.pids})
            })
            .collect();
        let _ = writeln!(out, "{}", serde_json::Value::Array(v));
        let _ = out.flush();
        return;
    }
    let bytes = |n: u64| stackr_spec::limits::show_bytes(n);
    let mut table = vec![
        [
            "CONTAINER",
            "CPU %",
            "MEM USAGE / LIMIT",
            "MEM %",
            "NET I/O",
            "BLOCK I/O",
            "PIDS",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for r in rows {
        let s = &r.stats;
        let mem_pct = if s.memory_limit > 0 {
            s.memory_usage as f64 / s.memory_limit as f64 * 100.0
        } else {
            0.0
        };
        table.push(vec![
            r.container.clone(),
            format!("{:.2}%", s.cpu_percent),
            format!("{} / {}", bytes(s.memory_usage), bytes(s.memory_limit)),
            format!("{mem_pct:.2}%"),
            format!("{} / {}", bytes(s.net_rx), bytes(s.net_tx)),
            format!("{} / {}", bytes(s.block_read), bytes(s.block_write)),
            s.pids.to_string(),
        ]);
    }
    if redraw {
        let _ = write!(out, "\x1b[2J\x1b[H");
    }
    let _ = write!(out, "{}", stackr_ops::text::table(&table));
    if !redraw {
        let _ = writeln!(out);
    }
    let _ = out.flush();
}

/// `stackr export SERVICE`: the container's filesystem as a tar archive, to a file or to
/// standard output (never to a terminal).
pub fn export(global: &Global, args: &ExportArgs, out: &Output) -> CmdResult {
    if args.output.is_none() && std::io::stdout().is_terminal() {
        return Err(CliError::BadArguments {
            message: "`export` writes a tar archive, and standard output is a terminal".into(),
            help: "write it to a file: `stackr export SERVICE -o FILE.tar`, or redirect it".into(),
        });
    }
    crate::engine::with_container_engine(global, out, "export", async |engine, stack| {
        let c = stackr_ops::one(engine, stack, &args.service, args.index).await?;
        let tar = stackr_engine::Engine::export_container(engine, &c.id)
            .await
            .map_err(|error| stackr_ops::OpError::Engine {
                context: format!("cannot export `{}`", c.name),
                error,
            })?;
        match &args.output {
            Some(path) => std::fs::write(path, &tar).map_err(|error| CliError::Write {
                path: path.clone(),
                error,
            })?,
            None => {
                let mut stdout = std::io::stdout().lock();
                stdout
                    .write_all(&tar)
                    .and_then(|()| stdout.flush())
                    .map_err(|error| CliError::Write {
                        path: "standard output".into(),
                        error,
                    })?;
            }
        }
        Ok(ExitStatus::Success)
    })
}

/// `stackr commit SERVICE [REPOSITORY[:TAG]]`: an image of the container's filesystem; prints
/// its id.
pub fn commit(global: &Global, args: &CommitArgs, out: &Output) -> CmdResult {
    crate::engine::with_container_engine(global, out, "commit", async |engine, stack| {
        let c = stackr_ops::one(engine, stack, &args.service, args.index).await?;
        let commit = stackr_engine::Commit {
            reference: args.reference.clone(),
            message: args.message.clone(),
            author: args.author.clone(),
            changes: args.change.clone(),
            pause: args.pause,
        };
        let id = stackr_engine::Engine::commit_container(engine, &c.id, &commit)
            .await
            .map_err(|error| stackr_ops::OpError::Engine {
                context: format!("cannot commit `{}`", c.name),
                error,
            })?;
        println!("{id}");
        Ok(ExitStatus::Success)
    })
}
