//! `stackr ps`: the stack's containers: service, container, state, health, ports.

use serde::Serialize;
use stackr_engine::{ContainerState, Engine};

use crate::cli::{Global, PsArgs, TableFormat};
use crate::render::Output;
use crate::status::{CmdResult, ExitStatus};

#[derive(Serialize)]
struct Row {
    service: String,
    container: String,
    state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    exit_code: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    health: Option<String>,
    ports: Vec<String>,
}

pub fn ps_cmd(global: &Global, args: &PsArgs, out: &Output) -> CmdResult {
    crate::engine::with_engine_by_label(global, out, async |engine, stack, _| {
        let list = engine.list_containers(&stack.name).await?;
        let mut rows: Vec<Row> = Vec::new();
        for c in list {
            if !args.all && c.state != ContainerState::Running {
                continue;
            }
            // Health is only in an inspect.
            let detail = match engine.inspect_container(&c.id).await {
                Ok(Some(d)) => d,
                _ => c.clone(),
            };
            let mut ports: Vec<String> = c
                .ports
                .iter()
                .map(|p| match (&p.host_ip, p.host_port) {
                    (Some(ip), Some(h)) => format!("{ip}:{h}->{}/{}", p.container_port, p.protocol),
                    (None, Some(h)) => format!("{h}->{}/{}", p.container_port, p.protocol),
                    _ => format!("{}/{}", p.container_port, p.protocol),
                })
                .collect();
            ports.sort();
            ports.dedup();
            rows.push(Row {
                service: c.service().unwrap_or("?").to_string(),
                container: c.name.clone(),
                state: c.state.as_str().to_string(),
                exit_code: if c.state == ContainerState::Exited {
                    detail.exit_code
                } else {
                    None
                },
                health: detail.health.map(|h| h.as_str().to_string()),
                ports,
            });
        }
        rows.sort_by(|a, b| {
            a.service
                .cmp(&b.service)
                .then(a.container.cmp(&b.container))
        });
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
