//! `stackr graph`: the dependency graph with the conditions on its edges, and the start order
//! as waves (the text is `stackr_spec::graph`'s).

use stackr_spec::graph::{GraphFormat as Format, render};

use crate::cli::{Global, GraphArgs, GraphFormat};
use crate::load::valid_stack;
use crate::render::Output;

pub fn run(global: &Global, args: &GraphArgs, out: &Output) -> crate::status::CmdResult {
    let (_, stack) = valid_stack(global, out)?;
    let format = match args.format {
        GraphFormat::Text => Format::Text,
        GraphFormat::Dot => Format::Dot,
        GraphFormat::Mermaid => Format::Mermaid,
    };
    print!("{}", render(&stack, format));
    Ok(crate::status::ExitStatus::Success)
}
