//! `stackr config`: the fully resolved stack (profiles applied, variables interpolated,
//! defaults filled, paths absolute) as KDL or JSON. Secret values are never read.

use crate::cli::{ConfigArgs, ConfigFormat, Global};
use crate::load::valid_stack;
use crate::render::Output;
use crate::status::{CmdResult, ExitStatus};

pub fn run(global: &Global, args: &ConfigArgs, out: &Output) -> CmdResult {
    let (_, stack) = valid_stack(global, out)?;
    if args.list_services {
        for name in stack.services.keys() {
            println!("{name}");
        }
        return Ok(ExitStatus::Success);
    }
    if args.list_profiles {
        for name in &stack.available_profiles {
            println!("{name}");
        }
        return Ok(ExitStatus::Success);
    }
    if args.list_volumes {
        for name in stack.volumes.keys() {
            println!("{name}");
        }
        return Ok(ExitStatus::Success);
    }
    match args.format {
        ConfigFormat::Kdl => print!("{}", stackr_spec::print::to_kdl(&stack)),
        ConfigFormat::Json => println!("{}", serde_json::to_string_pretty(&stack)?),
    }
    Ok(ExitStatus::Success)
}
