//! `stackr check`: validate the base and every profile, print every problem.

use crate::cli::Global;
use crate::load::{Scope, load_stack};
use crate::render::{Output, count};

pub fn run(global: &Global, out: &Output) -> i32 {
    let (cx, loaded) = match load_stack(global, out, Scope::EveryProfile) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let errors = loaded.diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = loaded.diagnostics.len() - errors;
    let shown = cx.shown();
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
        return 1;
    }
    let Some(stack) = &loaded.stack else {
        eprintln!("error: {shown} is invalid");
        return 1;
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
    0
}
