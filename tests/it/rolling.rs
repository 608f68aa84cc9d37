//! Rolling updates against the real daemon: 2 replicas behind a native http probe, and a
//! client container requesting them by service name in a loop, as a proxy would (each address
//! the name resolves to in turn, passing over one that refuses or closes before answering).
//! An update is start-first and no request fails; an update whose health check never passes
//! is rolled back, `up` fails naming the service and quoting the check, and still no request
//! fails.

use std::time::{Duration, Instant};

use crate::engine::{TestStack, docker};
use crate::watch::demo_binary;

fn stack(name: &str, version: &str, health_path: &str) -> String {
    format!(
        r#"
stack "{name}"
service "api" {{
    image "{name}:demo"
    build "./demo"
    command "version" "8080"
    env VERSION="{version}"
    scale 2
    health {{
        http port=8080 path="{health_path}"
        interval "500ms"
        timeout "1s"
        retries 2
    }}
}}
service "client" {{
    image "{name}:demo"
    command "load" "http://api:8080/"
    depends-on "api" condition="healthy"
}}
"#
    )
}

fn demo_stack(tag: &str) -> TestStack {
    let s = TestStack::new(tag, |n| stack(n, "1", "/health"));
    let demo = s.dir.join("demo");
    std::fs::create_dir_all(&demo).unwrap_or_else(|e| panic!("{e}"));
    std::fs::copy(demo_binary(), demo.join("stackr-demo")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        demo.join("Dockerfile"),
        "FROM scratch\nCOPY stackr-demo /stackr-demo\nENTRYPOINT [\"/stackr-demo\"]\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    s
}

/// The client's outcomes so far: `ok version N` or `fail WHY`.
fn outcomes(s: &TestStack) -> Vec<String> {
    docker(&["logs", &format!("{}-client-1", s.name)])
        .lines()
        .map(str::to_string)
        .collect()
}

fn wait_for(s: &TestStack, what: &str, timeout: Duration) {
    let start = Instant::now();
    while !outcomes(s).iter().any(|l| l == what) {
        assert!(
            start.elapsed() < timeout,
            "the client never saw `{what}`: {:?}",
            outcomes(s).iter().rev().take(5).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn failures(lines: &[String]) -> Vec<&String> {
    lines.iter().filter(|l| !l.starts_with("ok ")).collect()
}

/// No request failed; otherwise what the engine did meanwhile, to tell why.
fn no_failure(s: &TestStack, lines: &[String], up: &str) {
    let failed = failures(lines);
    if failed.is_empty() {
        return;
    }
    let events = docker(&[
        "events",
        "--since",
        "3m",
        "--until",
        "0s",
        "--filter",
        &format!("label=io.stackr.stack={}", s.name),
        "--format",
        "{{.TimeNano}} {{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.container}}",
    ]);
    panic!("requests failed: {failed:#?}\nup said:\n{up}\nthe engine's events:\n{events}");
}

fn env_of(container: &str) -> String {
    docker(&["inspect", "--format", "{{json .Config.Env}}", container])
}

#[test]
fn a_start_first_update_and_a_failed_one_lose_no_request() {
    let s = demo_stack("rolling");
    let r = s.stackr(&["up", "-d"]);
    assert_eq!(r.code, 0, "up: {}", r.stderr);
    wait_for(&s, "ok version 1", Duration::from_secs(30));

    // An update: each replica replaced start-first while the client runs.
    s.write(stack(&s.name, "2", "/health"));
    let plan = s.stackr(&["plan"]);
    assert!(
        plan.stdout
            .contains("update of `api`: start-first, 2 batches of 1"),
        "{}",
        plan.stdout
    );
    let r = s.stackr(&["up", "-d"]);
    assert_eq!(r.code, 0, "up: {}", r.stderr);
    assert!(r.stderr.contains("renamed to"), "{}", r.stderr);
    wait_for(&s, "ok version 2", Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(500));
    let lines = outcomes(&s);
    no_failure(&s, &lines, &r.stderr);
    let names: Vec<String> = s.containers().into_keys().collect();
    let api = |n: u32| format!("{}-api-{n}", s.name);
    assert_eq!(
        names,
        vec![api(1), api(2), format!("{}-client-1", s.name)],
        "every slot under its own name"
    );
    for n in [1, 2] {
        assert!(env_of(&api(n)).contains("VERSION=2"), "{}", env_of(&api(n)));
    }

    // `stackr rollback` goes back to version 1 the same way; `up` deploys the file again.
    let r = s.stackr(&["rollback"]);
    assert_eq!(r.code, 0, "rollback: {}", r.stderr);
    wait_for(&s, "ok version 1", Duration::from_secs(10));
    for n in [1, 2] {
        assert!(env_of(&api(n)).contains("VERSION=1"), "{}", env_of(&api(n)));
    }
    let plan = s.stackr(&["plan"]);
    assert!(
        plan.stdout.contains("rolled back by `stackr rollback`"),
        "{}",
        plan.stdout
    );
    let r = s.stackr(&["up", "-d"]);
    assert_eq!(r.code, 0, "up: {}", r.stderr);
    std::thread::sleep(Duration::from_millis(500));
    let lines = outcomes(&s);
    no_failure(&s, &lines, &r.stderr);
    // Once the last old replica is gone, only the new version answers.
    let after = lines.len();

    // A change whose health check never passes: rolled back, and still no request fails.
    s.write(stack(&s.name, "3", "/nowhere"));
    let r = s.stackr(&["up", "-d"]);
    assert_ne!(r.code, 0, "a failed update fails up: {}", r.stderr);
    assert!(
        r.stderr
            .contains("the update of service `api` failed: the new `"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("rolled back"), "{}", r.stderr);
    assert!(
        r.stderr.contains("its last health check said") && r.stderr.contains("404"),
        "the last health output is quoted: {}",
        r.stderr
    );
    std::thread::sleep(Duration::from_millis(500));
    let lines = outcomes(&s);
    no_failure(&s, &lines, &r.stderr);
    assert!(
        !lines[after..].iter().any(|l| l == "ok version 1"),
        "version 1 answered after the last update"
    );
    let names: Vec<String> = s.containers().into_keys().collect();
    assert_eq!(
        names,
        vec![api(1), api(2), format!("{}-client-1", s.name)],
        "no container left over"
    );
    for n in [1, 2] {
        let env = env_of(&api(n));
        assert!(env.contains("VERSION=2"), "back on the old spec: {env}");
    }
    let r = s.stackr(&["plan"]);
    assert!(
        r.stdout.contains("2 to replace"),
        "the file still wants it: {}",
        r.stdout
    );
}

/// `post-start` runs in the container once it started; `pre-stop` runs before `stop` and
/// `down` stop it (it writes into a volume that outlives the container).
#[test]
fn post_start_and_pre_stop_hooks_run_in_the_container() {
    let s = TestStack::new("hooks", |n| {
        format!(
            r#"
stack "{n}"
volume "log"
service "app" {{
    image "{n}:img"
    build "./img"
    command "sh" "-c" "trap 'exit 0' TERM; while true; do sleep 0.2; done"
    mount "log" "/log"
    post-start "sh" "-c" "echo started-$$STAGE >> /log/hooks" {{
        env STAGE="one"
    }}
    pre-stop "sh" "-c" "echo stopping >> /log/hooks"
}}
"#
        )
    });
    let r = s.stackr(&["up", "-d"]);
    assert_eq!(r.code, 0, "up: {}", r.stderr);
    let log = || s.stackr(&["exec", "app", "cat", "/log/hooks"]).stdout;
    assert_eq!(log(), "started-one\n");
    let r = s.stackr(&["stop"]);
    assert_eq!(r.code, 0, "stop: {}", r.stderr);
    let r = s.stackr(&["start"]);
    assert_eq!(r.code, 0, "start: {}", r.stderr);
    assert_eq!(log(), "started-one\nstopping\nstarted-one\n");
    // A failing post-start fails `up`, naming the service, the command and its code.
    let text = std::fs::read_to_string(s.dir.join("stack.kdl")).unwrap_or_default();
    s.write(text.replace(
        r#"post-start "sh" "-c" "echo started-$$STAGE >> /log/hooks""#,
        r#"post-start "sh" "-c" "echo no database; exit 3""#,
    ));
    let r = s.stackr(&["up", "-d"]);
    assert_ne!(r.code, 0, "a failing post-start fails up");
    assert!(
        r.stderr
            .contains("post-start hook `sh -c echo no database; exit 3`")
            && r.stderr.contains("exited with code 3")
            && r.stderr.contains("no database"),
        "{}",
        r.stderr
    );
}

/// `pre-start`: once before the service's first container starts, per replica before each;
/// a second `up` runs nothing; a new spec runs them again before the new containers; a
/// failing one fails `up` with its output, and its container stays until the next run.
#[test]
fn pre_start_hooks_run_before_the_service_starts() {
    let stack = |n: &str, version: &str, once: &str| {
        format!(
            r#"
stack "{n}"
volume "data"
service "app" {{
    image "{n}:img"
    build "./img"
    scale 2
    env VERSION="{version}"
    mount "data" "/data"
    command "sh" "-c" "if grep -q migrated-{version} /data/log; then echo ok >> /data/starts; else echo early >> /data/starts; fi; trap 'exit 0' TERM; while true; do sleep 0.2; done"
    pre-start "sh" "-c" "{once}" {{
        env STEP="migrated"
    }}
    pre-start "sh" "-c" "echo replica >> /data/log" per-replica=#true user="0"
}}
"#
        )
    };
    let migrate = |v: &str| format!("sleep 1; echo $$STEP-{v} >> /data/log");
    let s = TestStack::new("prestart", |n| stack(n, "1", &migrate("1")));
    let r = s.stackr(&["up", "-d"]);
    assert_eq!(r.code, 0, "up: {}", r.stderr);
    let read = |file: &str| {
        s.stackr(&[
            "exec",
            "--index",
            "1",
            "app",
            "cat",
            &format!("/data/{file}"),
        ])
        .stdout
    };
    assert_eq!(read("log"), "migrated-1\nreplica\nreplica\n");
    assert_eq!(
        read("starts"),
        "ok\nok\n",
        "each replica started after the migration"
    );
    let leftovers = || {
        let out = std::process::Command::new("docker")
            .args(["ps", "-a", "--format", "{{.Names}}", "--filter"])
            .arg(format!("name={}-app", s.name))
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains("pre-start"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(leftovers(), Vec::<String>::new());

    let r = s.stackr(&["up", "-d"]);
    assert_eq!(r.code, 0, "second up: {}", r.stderr);
    assert_eq!(
        read("log"),
        "migrated-1\nreplica\nreplica\n",
        "nothing ran again"
    );

    // A new version: the migration first, then each new replica's own hook.
    s.write(stack(&s.name, "2", &migrate("2")));
    let r = s.stackr(&["up", "-d"]);
    assert_eq!(r.code, 0, "update: {}", r.stderr);
    assert_eq!(
        read("log"),
        "migrated-1\nreplica\nreplica\nmigrated-2\nreplica\nreplica\n"
    );
    assert_eq!(read("starts"), "ok\nok\nok\nok\n");

    // A failing migration stops the update before any new container; its output is quoted.
    s.write(stack(
        &s.name,
        "3",
        "echo cannot reach the database; exit 17",
    ));
    let r = s.stackr(&["up", "-d"]);
    assert_ne!(r.code, 0, "a failing pre-start fails up");
    assert!(
        r.stderr.contains("the pre-start hook")
            && r.stderr.contains("exited with code 17")
            && r.stderr.contains("cannot reach the database"),
        "{}",
        r.stderr
    );
    assert_eq!(
        read("starts").lines().count(),
        4,
        "no new container started"
    );
    assert_eq!(leftovers(), vec![format!("{}-app-pre-start-1", s.name)]);
    let r = s.stackr(&["down"]);
    assert_eq!(r.code, 0, "down: {}", r.stderr);
    assert_eq!(leftovers(), Vec::<String>::new(), "down removes it");
}
