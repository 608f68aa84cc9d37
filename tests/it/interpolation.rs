//! Interpolation in stack files, end to end: values, spans of errors, warnings once, and where
//! variables come from (the shell over `.env`, `--env-file`).

use std::collections::BTreeMap;

use stackr_spec::{EnvValue, Options, load_str};

use crate::cli::{run, stackr, temp_dir};
use crate::support::render_all;

fn opts(vars: &[(&str, &str)]) -> Options {
    Options {
        vars: Some(
            vars.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        ),
        ..Options::default()
    }
}

const STACK: &str = r#"
service "web" {
    image "nginx:${TAG:-1.27}"
    env {
        URL "http://${HOST}:${PORT-80}/"
        LITERAL "$$HOME"
        AGAIN "${HOST}"
    }
    port "${PUBLISH:?set PUBLISH to the host port}:80"
}
"#;

#[test]
fn values_are_interpolated() {
    let loaded = load_str(
        "/app/stack.kdl",
        STACK,
        &opts(&[("HOST", "example"), ("PUBLISH", "8080")]),
    );
    let stack = loaded
        .stack
        .as_ref()
        .unwrap_or_else(|| panic!("{}", render_all(&loaded)));
    let web = &stack.services["web"];
    assert_eq!(
        web.image.as_ref().map(|i| i.value.as_str()),
        Some("nginx:1.27")
    );
    let env: Vec<(&str, &EnvValue)> = web
        .env
        .iter()
        .map(|v| (v.name.value.as_str(), &v.value.value))
        .collect();
    assert_eq!(
        env[0],
        ("URL", &EnvValue::Text("http://example:80/".into()))
    );
    assert_eq!(env[1], ("LITERAL", &EnvValue::Text("$HOME".into())));
    assert_eq!(web.ports[0].value.published.map(|p| p.start), Some(8080));
    assert!(loaded.diagnostics.is_empty(), "{}", render_all(&loaded));
}

#[test]
fn required_variable_is_an_error_at_the_value() {
    let loaded = load_str("/app/stack.kdl", STACK, &opts(&[("HOST", "h")]));
    assert!(loaded.has_errors());
    insta::assert_snapshot!(render_all(&loaded), @r#"
    stackr::interpolation

      × required variable PUBLISH is missing a value: set PUBLISH to the host port
        ╭─[/app/stack.kdl:9:10]
      8 │     }
      9 │     port "${PUBLISH:?set PUBLISH to the host port}:80"
        ·          ──────────────────────┬──────────────────────
        ·                                ╰── cannot interpolate
     10 │ }
        ╰────
      help: set `PUBLISH` in the shell or in `.env` beside the stack file
    "#);
}

#[test]
fn unset_variable_warns_once_and_is_empty() {
    let loaded = load_str("/app/stack.kdl", STACK, &opts(&[("PUBLISH", "8080")]));
    let stack = loaded
        .stack
        .as_ref()
        .unwrap_or_else(|| panic!("{}", render_all(&loaded)));
    let warnings: Vec<String> = loaded.diagnostics.iter().map(|d| d.to_string()).collect();
    assert_eq!(
        warnings,
        vec!["variable `HOST` is not set: using an empty string".to_string()]
    );
    let url = &stack.services["web"].env[0].value.value;
    assert_eq!(url, &EnvValue::Text("http://:80/".into()));
}

#[test]
fn interpolation_is_off_without_variables() {
    let loaded = load_str("/app/stack.kdl", STACK, &Options::default());
    let stack = loaded.stack.as_ref();
    assert!(loaded.has_errors(), "the raw port spec is not a port");
    assert!(stack.is_none());
}

#[test]
fn shell_beats_dotenv_and_env_file_replaces_it() {
    let dir = temp_dir("interp");
    std::fs::write(
        dir.join("stack.kdl"),
        "service \"web\" {\n    image \"nginx:${TAG:?no tag}\"\n}\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join(".env"), "TAG=from-dotenv\n").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        dir.join("other.env"),
        "# another file\nexport TAG='from-other'\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));

    // `.env` beside the stack file is read.
    let r = run(stackr(&dir).args(["config", "--format", "json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("nginx:from-dotenv"), "{}", r.stdout);
    // The shell wins over it.
    let r = run(stackr(&dir)
        .env("TAG", "from-shell")
        .args(["config", "--format", "json"]));
    assert!(r.stdout.contains("nginx:from-shell"), "{}", r.stdout);
    // `--env-file` replaces `.env`.
    let r = run(stackr(&dir).args(["--env-file", "other.env", "config", "--format", "json"]));
    assert!(r.stdout.contains("nginx:from-other"), "{}", r.stdout);
    // A missing `--env-file` is an error.
    let r = run(stackr(&dir).args(["--env-file", "nope.env", "check"]));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("nope.env"), "{}", r.stderr);
    // A broken env file points at its line.
    std::fs::write(
        dir.join("bad.env"),
        "OK=1\nthis is not a variable\nTAG=x\n9LIVES=y\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let r = run(stackr(&dir).args(["--env-file", "bad.env", "check"]));
    assert_eq!(r.code, 1);
    // Every bad line, not only the first.
    assert!(r.stderr.contains("bad.env:2:1"), "{}", r.stderr);
    assert!(r.stderr.contains("bad.env:4:1"), "{}", r.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A `.env` line that uses a variable set nowhere warns, pointing at the line; the value is
/// empty, and the stack is still valid.
#[test]
fn unset_variable_in_dotenv_warns_at_its_line() {
    let dir = temp_dir("dotenv-unset");
    std::fs::write(
        dir.join("stack.kdl"),
        "stack \"t\"\nservice \"web\" {\n    image \"nginx:${TAG:-1}\"\n}\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join(".env"), "TAG=1.${MINOR}\n").unwrap_or_else(|e| panic!("{e}"));
    let r = run(stackr(&dir)
        .env_remove("MINOR")
        .args(["config", "--format", "json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("nginx:1."), "{}", r.stdout);
    insta::assert_snapshot!(r.stderr, @r#"
    stackr::unset-variable

      ⚠ variable `MINOR` is not set: using an empty string
       ╭─[.env:1:1]
     1 │ TAG=1.${MINOR}
       · ───────┬──────
       ·        ╰── uses it
       ╰────
      help: set `MINOR` in the shell or earlier in this file, or write `${MINOR:-}` for an empty value
    "#);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `env { NAME }` and `env "NAME"`: passed through from the environment, as compose's
/// `environment: [NAME]`; left out when unset, not set to empty.
#[test]
fn env_names_alone_are_passed_through_from_the_environment() {
    let text = r#"
service "web" {
    image "nginx"
    env "TOKEN"
    env {
        DEBUG
        FIXED "1"
    }
}
"#;
    let env_of = |vars: &[(&str, &str)]| -> Vec<(String, String)> {
        let loaded = load_str("/app/stack.kdl", text, &opts(vars));
        let shown = render_all(&loaded);
        let stack = loaded.stack.unwrap_or_else(|| panic!("{shown}"));
        stack.services["web"]
            .env
            .iter()
            .map(|e| {
                let v = match &e.value.value {
                    EnvValue::Text(t) => t.clone(),
                    other => format!("{other:?}"),
                };
                (e.name.value.clone(), v)
            })
            .collect()
    };
    let mut set = env_of(&[("DEBUG", "yes"), ("TOKEN", "t0k")]);
    set.sort();
    assert_eq!(
        set,
        [
            ("DEBUG".to_string(), "yes".to_string()),
            ("FIXED".to_string(), "1".to_string()),
            ("TOKEN".to_string(), "t0k".to_string()),
        ]
    );
    assert_eq!(env_of(&[]), [("FIXED".to_string(), "1".to_string())]);
}
