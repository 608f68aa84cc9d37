//! The import corpus (`tests/import-corpus`, pinned in its `SOURCE.md`): compose's own e2e
//! fixtures and compose-go's test files, compose files no one here wrote. `manifest.txt` says
//! which of them compose accepts (and with which variables), and why it refuses the others.
//!
//! Each file compose accepts is imported beside itself and, through `-o`, into another folder;
//! both stack files must pass `stackr check` and mean the same stack. The result is then
//! compared with the compose file, read by a YAML parser of this test's own: every service,
//! image, port, environment key, volume, network, secret, health check and dependency is either
//! carried over or named by the report (`import --format json`). A file compose refuses must
//! be refused by stackr too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use serde_yaml::Value as Yaml;

use crate::cli::{run, stackr, temp_dir};
use crate::support::root;

/// What the share of files compose accepts that import and check both ways must not fall
/// below. The goal is 0.97; the measured share is printed by the test.
const FLOOR: f64 = 0.97;

#[derive(Debug)]
struct Case {
    path: String,
    vars: Vec<(String, String)>,
    /// `None`: compose accepts it; otherwise why compose refuses it.
    refused: Option<String>,
}

fn manifest() -> Vec<Case> {
    let path = root().join("tests/import-corpus/manifest.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (verdict, rest) = line.split_once(' ').unwrap_or((line, ""));
        let case = match verdict {
            "accepts" => {
                let mut words = rest.split(" | ");
                let path = words.next().unwrap_or("").trim().to_string();
                let vars = words
                    .next()
                    .unwrap_or("")
                    .split_whitespace()
                    .filter_map(|w| w.split_once('='))
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                Case {
                    path,
                    vars,
                    refused: None,
                }
            }
            "refuses" => {
                let (path, why) = rest.split_once(" | ").unwrap_or((rest, ""));
                Case {
                    path: path.trim().to_string(),
                    vars: Vec::new(),
                    refused: Some(why.trim().to_string()),
                }
            }
            other => panic!("manifest: unknown verdict `{other}` in `{line}`"),
        };
        out.push(case);
    }
    out
}

/// Every compose file of the corpus is in the manifest, and nothing else.
#[test]
fn the_manifest_names_every_compose_file_of_the_corpus() {
    let corpus = root().join("tests/import-corpus");
    let mut found = Vec::new();
    collect_yaml(&corpus, &corpus, &mut found);
    found.sort();
    let mut listed: Vec<String> = manifest().into_iter().map(|c| c.path).collect();
    listed.sort();
    assert_eq!(found, listed);
}

fn collect_yaml(base: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect_yaml(base, &p, out);
        } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            let rel = p.strip_prefix(base).unwrap_or(&p);
            out.push(rel.display().to_string());
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("{}: {e}", to.display()));
    for e in std::fs::read_dir(from)
        .unwrap_or_else(|e| panic!("{e}"))
        .flatten()
    {
        let p = e.path();
        let dest = to.join(e.file_name());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        }
    }
}

/// What happened to one file.
#[derive(Debug, Default)]
struct Outcome {
    /// Why it failed, when it did.
    failure: Option<String>,
    /// What neither the stack nor the report has.
    silent: Vec<String>,
}

fn command(dir: &Path, vars: &[(String, String)]) -> std::process::Command {
    let mut cmd = stackr(dir);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd
}

/// Imports one file both ways, checks both, compares them and the compose file.
fn one(work: &Path, i: usize, case: &Case) -> Outcome {
    let file = work.join(&case.path);
    let dir = file.parent().unwrap_or(work).to_path_buf();
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let beside = dir.join(format!("stackr-import-{i}.kdl"));
    let r = run(command(&dir, &case.vars).args([
        "import",
        &name,
        "-o",
        &beside.display().to_string(),
        "--format",
        "json",
    ]));
    assert!(
        !r.stderr.contains("panicked"),
        "{}: import panicked:\n{}",
        case.path,
        r.stderr
    );
    if r.code != 0 {
        return failed(format!("import beside: exit {}\n{}", r.code, r.stderr));
    }
    let report: Value = match serde_json::from_str(&r.stdout) {
        Ok(v) => v,
        Err(e) => return failed(format!("import --format json: {e}\n{}", r.stdout)),
    };
    let elsewhere_dir = work.join("elsewhere").join(i.to_string());
    std::fs::create_dir_all(&elsewhere_dir).unwrap_or_else(|e| panic!("{e}"));
    let elsewhere = elsewhere_dir.join("stack.kdl");
    let r = run(command(&dir, &case.vars).args([
        "import",
        &name,
        "-o",
        &elsewhere.display().to_string(),
    ]));
    if r.code != 0 {
        return failed(format!(
            "import -o elsewhere: exit {}\n{}",
            r.code, r.stderr
        ));
    }
    // Compose's service profiles are profile blocks: the comparison looks at them all.
    let mut profiles: Vec<String> = compose_services(&file)
        .values()
        .flat_map(|s| yaml_keys(s.get("profiles").unwrap_or(&Yaml::Null)))
        .collect();
    profiles.sort();
    profiles.dedup();
    let mut configs = Vec::new();
    for (stack, at) in [(&beside, &dir), (&elsewhere, &elsewhere_dir)] {
        let f = stack.display().to_string();
        let r = run(command(at, &case.vars).args(["-f", &f, "check"]));
        if r.code != 0 {
            return failed(format!("check of {f}: exit {}\n{}", r.code, r.stderr));
        }
        let mut args = vec!["-f".to_string(), f.clone(), "-p".into(), "corpus".into()];
        for p in &profiles {
            args.push("--profile".into());
            args.push(p.clone());
        }
        args.extend(["config", "--format", "json"].map(String::from));
        let r = run(command(at, &case.vars).args(&args));
        if r.code != 0 {
            return failed(format!("config of {f}: exit {}\n{}", r.code, r.stderr));
        }
        let v: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}"));
        configs.push(v);
    }
    if configs[0] != configs[1] {
        return failed(format!(
            "the stack imported with -o elsewhere means something else:\nbeside: {:#}\nelsewhere: {:#}",
            configs[0]["services"], configs[1]["services"]
        ));
    }
    Outcome {
        failure: None,
        silent: compare(&file, &configs[0], &report),
    }
}

fn failed(why: String) -> Outcome {
    Outcome {
        failure: Some(why),
        silent: Vec::new(),
    }
}

/// The compose services of a file, with the services of the local files it includes.
fn compose_services(file: &Path) -> BTreeMap<String, Yaml> {
    let mut out = BTreeMap::new();
    let Ok(text) = std::fs::read_to_string(file) else {
        return out;
    };
    let Ok(mut doc) = serde_yaml::from_str::<Yaml>(&text) else {
        return out;
    };
    let _ = doc.apply_merge();
    let dir = file.parent().unwrap_or(Path::new(""));
    if let Some(items) = doc.get("include").and_then(Yaml::as_sequence) {
        for item in items {
            let paths: Vec<String> = match item {
                Yaml::String(s) => vec![s.clone()],
                Yaml::Mapping(_) => match item.get("path") {
                    Some(Yaml::String(s)) => vec![s.clone()],
                    Some(Yaml::Sequence(s)) => s
                        .iter()
                        .filter_map(|p| p.as_str().map(str::to_string))
                        .collect(),
                    _ => Vec::new(),
                },
                _ => Vec::new(),
            };
            for p in paths.iter().filter(|p| !p.contains("://")) {
                out.extend(compose_services(&dir.join(p)));
            }
        }
    }
    if let Some(m) = doc.get("services").and_then(Yaml::as_mapping) {
        for (k, v) in m {
            if let Some(k) = k.as_str() {
                out.insert(k.to_string(), v.clone());
            }
        }
    }
    out
}

fn count(v: &Value) -> usize {
    v.as_array().map_or(0, Vec::len)
}

fn yaml_len(v: &Yaml) -> usize {
    match v {
        Yaml::Sequence(s) => s.len(),
        Yaml::Mapping(m) => m.len(),
        Yaml::Null => 0,
        _ => 1,
    }
}

fn yaml_keys(v: &Yaml) -> Vec<String> {
    match v {
        Yaml::Mapping(m) => m
            .keys()
            .filter_map(|k| k.as_str().map(str::to_string))
            .collect(),
        Yaml::Sequence(s) => s
            .iter()
            .filter_map(|i| match i {
                Yaml::String(t) => Some(t.split('=').next().unwrap_or("").to_string()),
                Yaml::Mapping(_) => i.get("source").and_then(Yaml::as_str).map(str::to_string),
                _ => None,
            })
            .collect(),
        Yaml::String(s) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// What the stack carries for one compose key of a service: `None` when the key is not one
/// this test compares.
fn carried(key: &str, compose: &Yaml, svc: &Value) -> Option<bool> {
    let names = |field: &str, inner: &str| -> Vec<String> {
        svc[field]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x[inner].as_str().or_else(|| x.as_str()).map(str::to_string))
            .collect()
    };
    Some(match key {
        "image" => !svc["image"].is_null(),
        "build" => !svc["build"].is_null(),
        "ports" => count(&svc["ports"]) == yaml_len(compose),
        "volumes" => count(&svc["mounts"]) + count(&svc["tmpfs"]) >= yaml_len(compose),
        "environment" => {
            let have: Vec<String> = names("env", "name");
            yaml_keys(compose).iter().all(|k| have.contains(k))
        }
        "networks" => {
            let have = names("networks", "name");
            yaml_keys(compose).iter().all(|k| have.contains(k))
        }
        "secrets" => count(&svc["secrets"]) == yaml_len(compose),
        "configs" => count(&svc["configs"]) == yaml_len(compose),
        "healthcheck" => !svc["health"].is_null(),
        "depends_on" => {
            let have = names("depends-on", "service");
            yaml_keys(compose).iter().all(|k| have.contains(k))
        }
        _ => return None,
    })
}

/// The compose keys of `file` that neither the stack nor the report has.
fn compare(file: &Path, stack: &Value, report: &Value) -> Vec<String> {
    let reported: Vec<String> = report["not_carried_over"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["key"].as_str().map(str::to_string))
        .collect();
    let says = |prefix: &str| {
        reported
            .iter()
            .any(|k| k == prefix || k.starts_with(&format!("{prefix}.")))
    };
    let mut silent = Vec::new();
    for (name, compose) in compose_services(file) {
        let svc = &stack["services"][&name];
        if svc.is_null() {
            if !says(&format!("services.{name}")) {
                silent.push(format!("service `{name}`"));
            }
            continue;
        }
        let Some(keys) = compose.as_mapping() else {
            continue;
        };
        for (k, v) in keys {
            let Some(k) = k.as_str() else { continue };
            if v.is_null() {
                continue;
            }
            if carried(k, v, svc) == Some(false) && !says(&format!("services.{name}.{k}")) {
                silent.push(format!("services.{name}.{k}"));
            }
        }
    }
    silent
}

#[test]
fn the_compose_files_compose_accepts_import_and_check_both_ways() {
    let work = temp_dir("import-corpus");
    copy_dir(&root().join("tests/import-corpus"), &work);
    let cases = manifest();
    let mut passed = 0usize;
    let mut accepted = 0usize;
    let mut failures = Vec::new();
    let mut silent = Vec::new();
    let mut not_refused = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        if let Some(why) = &case.refused {
            if refused_by_stackr(&work, i, case) {
                continue;
            }
            not_refused.push(format!("{} (compose: {why})", case.path));
            continue;
        }
        accepted += 1;
        let out = one(&work, i, case);
        if out.failure.is_none() {
            passed += 1;
        }
        if let Some(f) = out.failure {
            failures.push(format!("{}: {f}", case.path));
        }
        for s in out.silent {
            silent.push(format!("{}: {s}", case.path));
        }
    }
    let share = passed as f64 / accepted.max(1) as f64;
    println!(
        "import corpus: {passed} of {accepted} files compose accepts import and pass check beside and through -o ({:.1}%); {} silent drops",
        share * 100.0,
        silent.len()
    );
    for f in &failures {
        println!("FAILED {f}\n");
    }
    let _ = std::fs::remove_dir_all(&work);
    assert!(
        silent.is_empty(),
        "silently dropped:\n{}",
        silent.join("\n")
    );
    assert!(
        not_refused.is_empty(),
        "compose refuses these, stackr did not:\n{}",
        not_refused.join("\n")
    );
    assert!(
        share >= FLOOR,
        "{passed} of {accepted} pass, below {FLOOR}:\n{}",
        failures.join("\n\n")
    );
}

/// Whether stackr refuses a file compose refuses: the import fails, or its stack file does
/// not pass `check`.
fn refused_by_stackr(work: &Path, i: usize, case: &Case) -> bool {
    let file = work.join(&case.path);
    let dir = file.parent().unwrap_or(work).to_path_buf();
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let out: PathBuf = dir.join(format!("stackr-refused-{i}.kdl"));
    let r =
        run(command(&dir, &case.vars).args(["import", &name, "-o", &out.display().to_string()]));
    if r.code != 0 {
        assert!(
            !r.stderr.contains("panicked"),
            "{}: import panicked:\n{}",
            case.path,
            r.stderr
        );
        return true;
    }
    let f = out.display().to_string();
    run(command(&dir, &case.vars).args(["-f", &f, "check"])).code != 0
}
