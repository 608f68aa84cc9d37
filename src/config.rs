//! `stackr config`: the fully resolved stack (profiles applied, variables interpolated,
//! defaults filled, paths absolute) as KDL or JSON. Secret values are never read.

use crate::cli::{ConfigArgs, ConfigFormat, Global};
use crate::load::valid_stack;
use crate::render::Output;

pub fn run(global: &Global, args: &ConfigArgs, out: &Output) -> i32 {
    let (_, stack) = match valid_stack(global, out) {
        Ok(x) => x,
        Err(code) => return code,
    };
    if args.list_services {
        for name in stack.services.keys() {
            println!("{name}");
        }
        return 0;
    }
    if args.list_profiles {
        for name in &stack.available_profiles {
            println!("{name}");
        }
        return 0;
    }
    if args.list_volumes {
        for name in stack.volumes.keys() {
            println!("{name}");
        }
        return 0;
    }
    match args.format {
        ConfigFormat::Kdl => print!("{}", stackr_spec::print::to_kdl(&stack)),
        ConfigFormat::Json => match serde_json::to_string_pretty(&stack) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("error: cannot write JSON: {e}");
                return 1;
            }
        },
    }
    0
}
