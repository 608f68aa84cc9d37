//! `stackr config`: the fully resolved stack (profiles applied, variables interpolated,
//! defaults filled, paths absolute) as KDL or JSON. Secret values are never read.

use crate::cli::{ConfigArgs, ConfigFormat, Global};
use crate::render::Output;
use crate::status::{CliError, CmdResult, ExitStatus};

/// `--hash`: `SERVICE DIGEST` of the chosen services' resolved settings.
fn hashes(stack: &stackr_spec::Stack, which: &str) -> CmdResult {
    let all = which.trim() == "*";
    let wanted: Vec<&str> = which.split(',').map(str::trim).collect();
    if let Some(unknown) = wanted
        .iter()
        .find(|w| !all && !stack.services.contains_key(**w))
    {
        return Err(CliError::BadArguments {
            message: format!("no service `{unknown}` in stack `{}`", stack.name),
            help: "name services of the stack, comma-separated, or `*` for all".into(),
        });
    }
    for (name, s) in &stack.services {
        if !all && !wanted.contains(&name.as_str()) {
            continue;
        }
        let json = serde_json::to_value(s)?;
        let digest = stackr_reconcile::hash::spec_hash(&json, "");
        println!("{name} {digest}");
    }
    Ok(ExitStatus::Success)
}

/// `--variables`: what the stack files (their texts) use, with whether each is set now.
fn print_variables(
    texts: &[std::sync::Arc<str>],
    vars: &std::collections::BTreeMap<String, String>,
    format: &ConfigFormat,
) -> CmdResult {
    let mut uses = stackr_spec::interpolate::variables_in_stack_files(texts.iter().map(|t| &**t));
    uses.sort_by(|a, b| a.name.cmp(&b.name));
    if matches!(format, ConfigFormat::Json) {
        let v: Vec<_> = uses
            .iter()
            .map(|u| {
                serde_json::json!({"name": u.name, "required": u.required, "default": u.default,
                                   "alternate": u.alternate, "set": vars.contains_key(&u.name)})
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitStatus::Success);
    }
    let mut rows = vec![
        [
            "NAME",
            "REQUIRED",
            "DEFAULT VALUE",
            "ALTERNATE VALUE",
            "SET",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for u in &uses {
        rows.push(vec![
            u.name.clone(),
            if u.required { "yes" } else { "no" }.into(),
            u.default.clone().unwrap_or_default(),
            u.alternate.clone().unwrap_or_default(),
            if vars.contains_key(&u.name) {
                "yes"
            } else {
                "no"
            }
            .into(),
        ]);
    }
    print!("{}", stackr_ops::text::table(&rows));
    Ok(ExitStatus::Success)
}

pub fn run(global: &Global, args: &ConfigArgs, out: &Output) -> CmdResult {
    // One load: the variables it read and the stack files' texts serve the listings too.
    let load = crate::load::load_stack(global, out, stackr_host::load::Scope::Chosen)?;
    let vars = load.variables.clone();
    let texts: Vec<std::sync::Arc<str>> = load
        .loaded
        .sources
        .files()
        .filter(|(_, f)| f.path.extension().is_some_and(|e| e == "kdl"))
        .map(|(_, f)| f.text.clone())
        .collect();
    let (_, stack) = stackr_host::load::valid(load)?;
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
    if args.list_images {
        for s in stack.services.values() {
            println!("{}", stackr_reconcile::desired::image_of(&stack, s));
        }
        return Ok(ExitStatus::Success);
    }
    if let Some(which) = &args.hash {
        return hashes(&stack, which);
    }
    if args.environment {
        for (k, v) in &vars {
            println!("{k}={v}");
        }
        return Ok(ExitStatus::Success);
    }
    if args.variables {
        return print_variables(&texts, &vars, &args.format);
    }
    match args.format {
        ConfigFormat::Kdl => print!("{}", stackr_spec::print::to_kdl(&stack)),
        ConfigFormat::Json => println!("{}", serde_json::to_string_pretty(&stack)?),
    }
    Ok(ExitStatus::Success)
}
