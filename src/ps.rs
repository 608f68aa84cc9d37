//! `stackr ps`: the stack's containers: service, container, state, health, ports.

use crate::cli::{Global, PsArgs, TableFormat};
use crate::render::Output;
use crate::status::{CmdResult, ExitStatus};

pub fn ps_cmd(global: &Global, args: &PsArgs, out: &Output) -> CmdResult {
    crate::engine::with_engine_by_label(global, out, async |engine, stack, _| {
        let rows = stackr_ops::ps(engine, &stack.name, args.all).await?;
        match args.format {
            TableFormat::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
            TableFormat::Table => {
                let head = ["SERVICE", "CONTAINER", "STATE", "HEALTH", "PORTS"];
                let cells: Vec<[String; 5]> = rows
                    .iter()
                    .map(|r| {
                        let state = match r.exit_code {
                            Some(code) => format!("{} ({code})", r.state),
                            None => r.state.clone(),
                        };
                        [
                            r.service.clone(),
                            r.container.clone(),
                            state,
                            r.health.clone().unwrap_or_else(|| "-".into()),
                            r.ports.join(", "),
                        ]
                    })
                    .collect();
                let mut widths = head.map(str::len);
                for row in &cells {
                    for (i, c) in row.iter().enumerate() {
                        widths[i] = widths[i].max(c.len());
                    }
                }
                let line = |cols: [&str; 5]| {
                    let mut s = String::new();
                    for (i, c) in cols.iter().enumerate() {
                        if i == 4 {
                            s.push_str(c);
                        } else {
                            s.push_str(&format!("{c:<w$}  ", w = widths[i]));
                        }
                    }
                    println!("{}", s.trim_end());
                };
                line(head);
                for r in &cells {
                    line([&r[0], &r[1], &r[2], &r[3], &r[4]]);
                }
            }
        }
        Ok(ExitStatus::Success)
    })
}
