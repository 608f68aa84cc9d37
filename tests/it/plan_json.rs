//! What `up --format json` did is exactly what `plan --format json` said, scenario by
//! scenario, on the real daemon: a fresh stack, a change, scaling up and down, an orphan, a
//! rebuild to the same image, a one-shot that stays done.

use std::process::Command;

use serde_json::Value;

use crate::engine::TestStack;

/// init (one-shot, waited on) -> api -> web; `extra` is appended to the stack file.
fn text(name: &str, mode: &str, api_scale: u32, extra: &str) -> String {
    format!(
        r#"
stack "{name}"

service "init" {{
    image "{name}:img"
    build "./img"
    command "sh" "-c" "echo seeded"
    restart "no"
}}

service "api" {{
    image "{name}:img"
    command "sh" "-c" "trap 'exit 0' TERM; while true; do sleep 0.2; done"
    env MODE="{mode}"
    scale {api_scale}
    depends-on "init" condition="completed"
}}

service "web" {{
    image "{name}:img"
    command "sh" "-c" "trap 'exit 0' TERM; while true; do sleep 0.2; done"
    depends-on "api"
}}
{extra}
"#
    )
}

fn json_lines(out: &str) -> Vec<Value> {
    out.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect()
}

/// What the plan says to do to containers, as sorted `(container, step)` pairs.
fn said(plan: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for item in plan["items"].as_array().into_iter().flatten() {
        if item["kind"] != "container" {
            continue;
        }
        let name = item["name"].as_str().unwrap_or_default().to_string();
        let steps: &[&str] = match item["action"].as_str().unwrap_or_default() {
            "create" => &["created", "started"],
            "recreate" => &["removed", "created", "started"],
            "start" => &["started"],
            "restart" => &["restarted"],
            "remove" => &["removed"],
            _ => &[],
        };
        out.extend(steps.iter().map(|s| (name.clone(), s.to_string())));
    }
    out.sort();
    out
}

/// What `up --format json` reports it did to containers, in the same terms.
fn did(events: &[Value]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = events
        .iter()
        .filter_map(|e| {
            let step = e["event"].as_str()?.strip_prefix("container-")?;
            if !matches!(step, "created" | "removed" | "started" | "restarted") {
                return None;
            }
            Some((e["container"].as_str()?.to_string(), step.to_string()))
        })
        .collect();
    out.sort();
    out
}

/// Plans, then ups with the same arguments, and checks that they agree.
fn up_does_what_plan_said(s: &TestStack, args: &[&str], scenario: &str) -> Vec<(String, String)> {
    let mut plan_args = vec!["plan", "--format", "json"];
    plan_args.extend(args);
    let p = s.stackr(&plan_args);
    assert!(p.code == 0, "{scenario}: plan: {}{}", p.stdout, p.stderr);
    let plan: Value = serde_json::from_str(&p.stdout)
        .unwrap_or_else(|e| panic!("{scenario}: plan JSON: {e}\n{}", p.stdout));
    let mut up_args = vec!["up", "-d", "--format", "json"];
    up_args.extend(args);
    let u = s.stackr(&up_args);
    assert_eq!(u.code, 0, "{scenario}: up: {}{}", u.stdout, u.stderr);
    let events = json_lines(&u.stdout);
    let (said, did) = (said(&plan), did(&events));
    assert_eq!(
        did, said,
        "{scenario}: up did (left) what plan said (right)\nplan: {plan:#}\nup: {}",
        u.stdout
    );
    did
}

#[test]
fn up_does_exactly_what_plan_said_in_every_scenario() {
    let s = TestStack::new("plan-eq", |n| text(n, "one", 1, ""));
    let n = s.name.clone();
    let fresh = up_does_what_plan_said(&s, &[], "a fresh stack");
    assert_eq!(fresh.len(), 6, "{fresh:?}");
    // A second up: nothing, and the one-shot stays done.
    let again = up_does_what_plan_said(&s, &[], "a converged stack");
    assert!(again.is_empty(), "{again:?}");
    s.write(text(&n, "two", 1, ""));
    let change = up_does_what_plan_said(&s, &[], "a changed env");
    assert!(
        change.contains(&(format!("{n}-api-1"), "removed".into())),
        "{change:?}"
    );
    s.write(text(&n, "two", 3, ""));
    let up3 = up_does_what_plan_said(&s, &[], "scaled up");
    assert_eq!(up3.len(), 4, "two created and started: {up3:?}");
    s.write(text(&n, "two", 1, ""));
    let down1 = up_does_what_plan_said(&s, &[], "scaled down");
    assert_eq!(down1.len(), 2, "two removed: {down1:?}");
    let extra =
        format!("service \"tmp\" {{\n    image \"{n}:img\"\n    command \"sleep\" \"100\"\n}}\n");
    s.write(text(&n, "two", 1, &extra));
    up_does_what_plan_said(&s, &[], "a new service");
    s.write(text(&n, "two", 1, ""));
    let orphan = up_does_what_plan_said(&s, &["--remove-orphans"], "an orphan removed");
    assert_eq!(orphan, [(format!("{n}-tmp-1"), "removed".to_string())]);
    // A rebuild that gives the same image (the build cache): `build`, then plan and up agree
    // that nothing changes.
    let b = Command::new(env!("CARGO_BIN_EXE_stackr"))
        .current_dir(&s.dir)
        .env("NO_COLOR", "1")
        .arg("build")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    let same = up_does_what_plan_said(&s, &[], "a rebuild to the same image");
    assert!(same.is_empty(), "{same:?}");
    // `up --build`: the plan cannot know the build will give the same image; up builds,
    // plans again, and keeps everything, and says so in the plan it applies.
    let u = s.stackr(&["up", "-d", "--build", "--format", "json"]);
    assert_eq!(u.code, 0, "{}", u.stderr);
    let events = json_lines(&u.stdout);
    assert!(did(&events).is_empty(), "{}", u.stdout);
    let applied = events
        .iter()
        .find(|e| e["event"] == "plan")
        .unwrap_or_else(|| panic!("up reports the plan it applies: {}", u.stdout));
    assert!(said(&applied["plan"]).is_empty(), "{applied:#}");
}
