//! `stackr config`: the fully resolved stack (profiles applied, variables interpolated,
//! defaults filled, paths absolute) as KDL or JSON. Secret values are never read.

use crate::cli::{ConfigArgs, ConfigFormat, Global};
use crate::load::valid_stack;
use crate::render::Output;
use crate::status::{CliError, CmdResult, ExitStatus};

/// The variables of interpolation, as the stack's load reads them.
fn variables(global: &Global) -> Result<std::collections::BTreeMap<String, String>, CliError> {
    let req = crate::load::request(global)?;
    let files = stackr_host::files::stack_files(&req.cwd, &req.files)?;
    let (vars, _) = stackr_host::files::variables(&req.cwd, &files, &req.env_files)
        .map_err(stackr_host::HostError::Variables)?;
    Ok(vars)
}

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

/// `--variables`: what the stack files use, with whether each is set now.
fn print_variables(global: &Global, format: &ConfigFormat, out: &Output) -> CmdResult {
    let load = crate::load::load_stack(global, out, stackr_host::load::Scope::Chosen)?;
    let vars = variables(global)?;
    let mut uses: Vec<stackr_spec::interpolate::VarUse> = Vec::new();
    for (_, f) in load.loaded.sources.files() {
        if f.path.extension().is_none_or(|e| e != "kdl") {
            continue;
        }
        for u in stackr_spec::interpolate::variables_in_stack_file(&f.text) {
            match uses.iter_mut().find(|m| m.name == u.name) {
                Some(m) => {
                    m.required |= u.required;
                    m.default = m.default.take().or(u.default);
                    m.alternate = m.alternate.take().or(u.alternate);
                }
                None => uses.push(u),
            }
        }
    }
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
        let vars = variables(global)?;
        for (k, v) in &vars {
            println!("{k}={v}");
        }
        return Ok(ExitStatus::Success);
    }
    if args.variables {
        return print_variables(global, &args.format, out);
    }
    match args.format {
        ConfigFormat::Kdl => print!("{}", stackr_spec::print::to_kdl(&stack)),
        ConfigFormat::Json => println!("{}", serde_json::to_string_pretty(&stack)?),
    }
    Ok(ExitStatus::Success)
}
