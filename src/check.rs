//! `stackr check`: validate the base and every profile, print every problem.

use stackr_host::load::Scope;

use crate::cli::Global;
use crate::load::load_stack;
use crate::render::{Output, count};
use crate::status::{CmdResult, ExitStatus};

pub fn run(global: &Global, out: &Output) -> CmdResult {
    let load = load_stack(global, out, Scope::EveryProfile)?;
    let loaded = &load.loaded;
    let errors = loaded.diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = loaded.diagnostics.len() - errors;
    let shown = load.files.shown();
    if errors > 0 {
        let also = if warnings > 0 {
            format!(", {}", count(warnings, "warning"))
        } else {
            String::new()
        };
        eprintln!(
            "error: {shown} is invalid: {}{also}",
            count(errors, "error")
        );
        return Ok(ExitStatus::Failure);
    }
    let Some(stack) = &loaded.stack else {
        eprintln!("error: {shown} is invalid");
        return Ok(ExitStatus::Failure);
    };
    let mut parts = vec![count(stack.services.len(), "service")];
    let declared_networks = stack.networks.keys().filter(|n| *n != "default").count();
    if declared_networks > 0 {
        parts.push(count(declared_networks, "network"));
    }
    if !stack.volumes.is_empty() {
        parts.push(count(stack.volumes.len(), "volume"));
    }
    if !stack.secrets.is_empty() {
        parts.push(count(stack.secrets.len(), "secret"));
    }
    if !stack.configs.is_empty() {
        parts.push(count(stack.configs.len(), "config"));
    }
    let mut line = format!(
        "{shown}: stack `{}` is valid: {}",
        stack.name,
        parts.join(", ")
    );
    if !stack.profiles.is_empty() {
        line.push_str(&format!("; with profile {}", stack.profiles.join(", ")));
    } else if !stack.available_profiles.is_empty() {
        line.push_str(&format!(
            "; profiles checked: {}",
            stack.available_profiles.join(", ")
        ));
    }
    if warnings > 0 {
        line.push_str(&format!(" ({})", count(warnings, "warning")));
    }
    println!("{line}");
    Ok(ExitStatus::Success)
}
