//! `stackr ps`: the stack's containers: service, container, state, health, ports.

use crate::cli::{Global, PsArgs, TableFormat};
use crate::render::Output;
use crate::status::{CmdResult, ExitStatus};

pub fn ps_cmd(global: &Global, args: &PsArgs, out: &Output) -> CmdResult {
    crate::engine::with_engine_by_label(global, out, async |engine, stack, _| {
        if crate::engine::on_swarm(stack) {
            return crate::swarm::ps(engine, stack, args).await;
        }
        let rows = stackr_ops::ps(engine, &stack.name, args.all).await?;
        match args.format {
            TableFormat::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
            TableFormat::Table => print!("{}", stackr_ops::text::ps_table(&rows)),
        }
        Ok(ExitStatus::Success)
    })
}
