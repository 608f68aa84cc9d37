//! `stackr check`: validate the base and every profile, print every problem.

use std::io::Write;

use stackr_spec::{Options, load_all_profiles};

use crate::cli::Global;
use crate::files::{DiskReader, host_checks, stack_files, variables};
use crate::render::{Output, count};

pub fn run(global: &Global, out: &Output) -> i32 {
    let cwd = match std::env::current_dir() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: cannot read the working directory: {e}");
            return 1;
        }
    };
    let files = match stack_files(&cwd, &global.file_args()) {
        Ok(f) => f,
        Err(msg) => {
            eprintln!("error: {msg}");
            eprintln!("  help: create a stack.kdl, or name one with `-f PATH`");
            return 1;
        }
    };
    let vars = match variables(&cwd, &files, &global.env_files) {
        Ok(v) => v,
        Err(problems) => {
            for d in &problems {
                eprint!("{}", out.diagnostic(d));
            }
            return 1;
        }
    };
    let opts = Options {
        stack_name: global.stack_name.clone(),
        profiles: global.profile_args(),
        vars: Some(vars),
    };
    let reader = DiskReader { cwd: cwd.clone() };
    let loaded = load_all_profiles(&files, &reader, &opts, &host_checks);
    let mut stderr = std::io::stderr().lock();
    for d in &loaded.diagnostics {
        let _ = write!(stderr, "{}", out.diagnostic(d));
        let _ = writeln!(stderr);
    }
    let errors = loaded.diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = loaded.diagnostics.len() - errors;
    let names: Vec<String> = files.iter().map(|f| reader_name(&cwd, f)).collect();
    let shown = names.join(", ");
    if errors > 0 {
        let _ = writeln!(
            stderr,
            "error: {shown} is invalid: {}{}",
            count(errors, "error"),
            if warnings > 0 {
                format!(", {}", count(warnings, "warning"))
            } else {
                String::new()
            }
        );
        return 1;
    }
    let Some(stack) = &loaded.stack else {
        let _ = writeln!(stderr, "error: {shown} is invalid");
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

fn reader_name(cwd: &std::path::Path, path: &std::path::Path) -> String {
    match path.strip_prefix(cwd) {
        Ok(rel) => rel.display().to_string(),
        Err(_) => path.display().to_string(),
    }
}
