//! The importer on the seed's compose files and on compose files written for these tests: the
//! stack file it writes must load, and what it means (the resolved stack, per profile) must be
//! what compose would run. Expectations are written by hand from the compose files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use stackr_import::{Imported, Input, import, profile_name};
use stackr_spec::{Options, load_str};

const DIR: &str = "/project";

fn read(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Imports fixture files as if they were in `/project`: (fixture path, project path, profile).
fn run(files: &[(&str, &str, Option<&str>)]) -> Imported {
    let inputs: Vec<Input> = files
        .iter()
        .map(|(fixture, as_path, profile)| Input {
            path: PathBuf::from(DIR).join(as_path),
            text: read(fixture),
            profile: profile.map(str::to_string),
        })
        .collect();
    let out = import(&inputs);
    let errors: Vec<String> = out.diagnostics.iter().map(|d| d.to_string()).collect();
    assert!(errors.is_empty(), "diagnostics: {errors:#?}\n{}", out.kdl);
    out
}

fn one(fixture: &str) -> Imported {
    run(&[(&format!("compose/{fixture}"), "compose.yml", None)])
}

/// The stack the output means with these profiles, as JSON.
fn stack(kdl: &str, profiles: &[&str]) -> Value {
    let opts = Options {
        vars: Some(BTreeMap::new()),
        profiles: profiles.iter().map(|p| p.to_string()).collect(),
        stack_name: Some("test".into()),
        target: None,
    };
    let loaded = load_str(&format!("{DIR}/stack.kdl"), kdl, &opts);
    let errors: Vec<String> = loaded
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{kdl}");
    let stack = loaded.stack.unwrap_or_else(|| panic!("no stack:\n{kdl}"));
    serde_json::to_value(&stack).unwrap_or_else(|e| panic!("{e}"))
}

fn svc<'a>(s: &'a Value, name: &str) -> &'a Value {
    let v = &s["services"][name];
    assert!(!v.is_null(), "no service `{name}` in {:#}", s["services"]);
    v
}

fn names(s: &Value, what: &str) -> Vec<String> {
    s[what]
        .as_object()
        .map_or(Vec::new(), |m| m.keys().cloned().collect())
}

fn env(s: &Value) -> BTreeMap<String, String> {
    s["env"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let v = &e["value"];
            let text = v["text"]
                .as_str()
                .map(str::to_string)
                .or_else(|| v["secret-path"].as_str().map(|n| format!("(secret){n}")))
                .unwrap_or_default();
            (e["name"].as_str().unwrap_or_default().to_string(), text)
        })
        .collect()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Ports as `[IP:][PUBLISHED:]TARGET/PROTOCOL`.
fn ports(s: &Value) -> Vec<String> {
    s["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let mut out = String::new();
            if let Some(ip) = p["host-ip"].as_str() {
                out.push_str(&format!("{ip}:"));
            }
            if let Some(h) = p["published"].as_str() {
                out.push_str(&format!("{h}:"));
            }
            format!(
                "{out}{}/{}",
                p["target"].as_str().unwrap_or(""),
                p["protocol"].as_str().unwrap_or("")
            )
        })
        .collect()
}

/// Mounts as `SOURCE->TARGET[:ro]`; SOURCE is a volume name, a host path, `anonymous` or
/// `tmpfs(SIZE,MODE)`.
fn mounts(s: &Value) -> Vec<String> {
    s["mounts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            let src = &m["source"];
            let source = if let Some(v) = src["volume"].as_str() {
                v.to_string()
            } else if let Some(b) = src["bind"].as_str() {
                b.to_string()
            } else if src.get("tmpfs").is_some() {
                format!("tmpfs({},{})", src["tmpfs"]["size"], src["tmpfs"]["mode"])
            } else {
                "anonymous".into()
            };
            let ro = if m["read-only"] == json!(true) {
                ":ro"
            } else {
                ""
            };
            format!("{source}->{}{ro}", m["target"].as_str().unwrap_or(""))
        })
        .collect()
}

fn deps(s: &Value) -> Vec<String> {
    s["depends-on"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            format!(
                "{}:{}",
                d["service"].as_str().unwrap_or(""),
                d["condition"].as_str().unwrap_or("")
            )
        })
        .collect()
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect()
}

fn report_has(out: &Imported, needle: &str) {
    assert!(
        out.report.iter().any(|l| l.contains(needle)),
        "no report line with `{needle}`:\n{}",
        out.report.join("\n")
    );
    // Every report item is also in the stack file, as a comment (file-level ones aside).
}

// --- The seed's compose project ---------------------------------------------------------

fn seed() -> Imported {
    run(&[
        ("seed/docker-compose.yml", "docker-compose.yml", None),
        (
            "seed/docker-compose.dev.yml",
            "docker-compose.dev.yml",
            None,
        ),
        (
            "seed/.docker/docker-compose.prod.yml",
            ".docker/docker-compose.prod.yml",
            None,
        ),
    ])
}

#[test]
fn seed_base_means_what_compose_runs() {
    let out = seed();
    let s = stack(&out.kdl, &[]);
    assert_eq!(
        names(&s, "services"),
        ["backend", "db", "frontend", "redis"]
    );
    assert_eq!(s["available-profiles"], json!(["dev", "prod"]));
    let db = svc(&s, "db");
    assert_eq!(db["image"], "postgres:15-alpine");
    assert_eq!(
        env(db),
        map(&[
            ("POSTGRES_USER", "scheduler"),
            ("POSTGRES_PASSWORD", "localdev"),
            ("POSTGRES_DB", "residency_scheduler")
        ])
    );
    assert_eq!(mounts(db), ["postgres_data->/var/lib/postgresql/data"]);
    assert_eq!(
        db["health"]["test"],
        json!({"shell": "pg_isready -U scheduler"})
    );
    assert_eq!(db["health"]["interval"], "10s");
    assert_eq!(db["health"]["timeout"], "5s");
    assert_eq!(db["health"]["retries"], 5);
    assert_eq!(
        svc(&s, "redis")["health"]["test"],
        json!({"exec": ["redis-cli", "ping"]})
    );
    let backend = svc(&s, "backend");
    assert_eq!(backend["build"]["context"], "/project/backend");
    assert_eq!(backend["build"]["dockerfile"], "Dockerfile");
    assert_eq!(
        env(backend)["DATABASE_URL"],
        "postgresql+asyncpg://scheduler:localdev@db:5432/residency_scheduler"
    );
    assert_eq!(deps(backend), ["db:healthy", "redis:healthy"]);
    assert_eq!(
        backend["health"]["test"],
        json!({"exec": ["curl", "-f", "http://localhost:8000/health"]})
    );
    let frontend = svc(&s, "frontend");
    assert_eq!(deps(frontend), ["backend:started"]);
    assert_eq!(
        env(frontend),
        map(&[("NEXT_PUBLIC_API_URL", "http://backend:8000")])
    );
    // compose's `default` network, declared with its driver: every service is on it.
    assert_eq!(s["networks"]["default"]["driver"], "bridge");
    assert!(backend["networks"].as_array().is_some_and(Vec::is_empty));
    // The curl test is offered as a native probe, in a comment.
    assert!(out.kdl.contains(
        "exec \"curl\" \"-f\" \"http://localhost:8000/health\" // or probed by stackr, with no curl needed in the image: http port=8000 path=\"/health\""
    ));
    // `${VAR:-default}` is kept as written.
    assert!(
        out.kdl
            .contains("POSTGRES_PASSWORD \"${DB_PASSWORD:-localdev}\"")
    );
}

#[test]
fn seed_dev_profile_is_base_plus_dev_override() {
    let out = seed();
    let s = stack(&out.kdl, &["dev"]);
    assert_eq!(ports(svc(&s, "db")), ["5432:5432/tcp"]);
    assert_eq!(ports(svc(&s, "redis")), ["6379:6379/tcp"]);
    let backend = svc(&s, "backend");
    assert_eq!(backend["build"]["context"], "/project/backend");
    assert_eq!(backend["build"]["dockerfile"], "Dockerfile.local");
    assert_eq!(
        strs(&backend["command"]),
        [
            "uvicorn",
            "app.main:app",
            "--host",
            "0.0.0.0",
            "--port",
            "8000",
            "--reload"
        ]
    );
    assert_eq!(env(backend)["LOG_LEVEL"], "DEBUG");
    assert_eq!(env(backend)["REDIS_URL"], "redis://redis:6379/0");
    assert_eq!(mounts(backend), ["/project/backend/app->/app/app"]);
    assert_eq!(deps(backend), ["db:healthy", "redis:healthy"]);
    let frontend = svc(&s, "frontend");
    assert_eq!(frontend["build"]["dockerfile"], "Dockerfile.local");
    assert_eq!(strs(&frontend["command"]), ["npm", "run", "dev"]);
    assert_eq!(ports(frontend), ["3000:3000/tcp"]);
    assert_eq!(
        mounts(frontend),
        [
            "/project/frontend/src->/app/src",
            "/project/frontend/public->/app/public"
        ]
    );
    report_has(
        &out,
        "docker-compose.dev.yml:16: service `backend`: `:delegated`",
    );
    // The profile holds only what the override changes: the build context is the base's.
    let dev = out
        .kdl
        .split("profile \"dev\" {")
        .nth(1)
        .unwrap_or_default();
    let dev = dev.split("profile \"prod\" {").next().unwrap_or_default();
    assert!(dev.contains("build dockerfile=\"Dockerfile.local\""));
    assert!(!dev.contains("./backend\""));
    assert!(!dev.contains("image"));
}

#[test]
fn seed_prod_profile_is_base_plus_prod_override() {
    let out = seed();
    // External secrets stay external (`check` then asks for a source on a single engine):
    // given one here, the rest of the profile is compared as it means.
    for name in ["db_password", "secret_key"] {
        let external = format!("secret \"{name}\" external=#true");
        assert!(out.kdl.contains(&external), "{}", out.kdl);
    }
    let sourced = out.kdl.replace("external=#true", "env=\"FROM_THE_TEST\"");
    let s = stack(&sourced, &["prod"]);
    let backend = svc(&s, "backend");
    assert_eq!(
        backend["limits"],
        json!({"cpus": 4.0, "memory": 4u64 << 30, "pids": null})
    );
    assert_eq!(
        backend["reservations"],
        json!({"cpus": 1.0, "memory": 1u64 << 30, "pids": null})
    );
    assert_eq!(backend["no-new-privileges"], true);
    assert_eq!(backend["read-only"], true);
    assert_eq!(mounts(backend), ["tmpfs(null,null)->/tmp"]);
    let secrets: Vec<&str> = backend["secrets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(secrets, ["db_password", "secret_key"]);
    assert_eq!(
        env(backend)["DATABASE_PASSWORD_FILE"],
        "(secret)db_password"
    );
    assert_eq!(env(backend)["SECRET_KEY_FILE"], "(secret)secret_key");
    assert_eq!(env(backend)["REDIS_URL"], "redis://redis:6379/0");
    assert_eq!(
        svc(&s, "db")["limits"],
        json!({"cpus": 2.0, "memory": 2u64 << 30, "pids": null})
    );
    // The report says what external secrets mean.
    report_has(
        &out,
        ".docker/docker-compose.prod.yml:33: secret `db_password`: an external secret",
    );
    // The prod networks are declared as in compose, and reported as unused.
    assert_eq!(s["networks"]["backend-network"]["internal"], true);
    assert_eq!(s["networks"]["frontend-network"]["driver"], "bridge");
    report_has(
        &out,
        "network `backend-network` is declared, but no service joins it",
    );
    report_has(
        &out,
        "network `frontend-network` is declared, but no service joins it",
    );
    assert!(out.kdl.contains("// import: an external secret"));
}

#[test]
fn seed_profiles_can_be_named_on_the_command_line() {
    let out = run(&[
        ("seed/docker-compose.yml", "docker-compose.yml", None),
        (
            "seed/docker-compose.dev.yml",
            "docker-compose.dev.yml",
            Some("local"),
        ),
    ]);
    assert!(out.kdl.contains("profile \"local\" {"));
    assert_eq!(stack(&out.kdl, &[])["available-profiles"], json!(["local"]));
}

// --- Compose files written for these tests ----------------------------------------------

#[test]
fn web_db_cache() {
    let out = one("web-db-cache.yml");
    let s = stack(&out.kdl, &[]);
    let web = svc(&s, "web");
    assert_eq!(web["image"], "ghcr.io/example/web:1.4");
    assert_eq!(web["restart"], "unless-stopped");
    assert_eq!(
        ports(web),
        ["8080:80/tcp", "127.0.0.1:9090:9090/tcp", "3000/tcp"]
    );
    assert_eq!(
        env(web),
        map(&[
            ("DATABASE_URL", "postgres://app:secret@db:5432/app"),
            ("CACHE_URL", "redis://cache:6379"),
        ])
    );
    // `DEBUG` has no value: passed through from the environment, left out when unset there
    // (as compose does), set when it is.
    assert!(out.kdl.contains("        DEBUG\n"), "{}", out.kdl);
    let loaded = load_str(
        &format!("{DIR}/stack.kdl"),
        &out.kdl,
        &Options {
            vars: Some(BTreeMap::from([("DEBUG".to_string(), "1".to_string())])),
            stack_name: Some("test".into()),
            ..Options::default()
        },
    );
    let with = serde_json::to_value(loaded.stack.unwrap_or_else(|| panic!("no stack")))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(env(&with["services"]["web"])["DEBUG"], "1");
    assert_eq!(
        web["env-files"],
        json!([{"path": "/project/.env.web", "required": true}])
    );
    assert_eq!(deps(web), ["db:started", "cache:started"]);
    assert_eq!(
        web["health"]["test"],
        json!({"shell": "wget -q --spider http://localhost/ || exit 1"})
    );
    let db = svc(&s, "db");
    assert_eq!(env(db)["PGPORT"], "5432");
    assert_eq!(db["health"]["start-period"], "20s");
    let cache = svc(&s, "cache");
    assert_eq!(
        strs(&cache["command"]),
        ["redis-server", "--appendonly", "yes"]
    );
    assert_eq!(mounts(cache), ["cachedata->/data"]);
    assert_eq!(s["volumes"]["cachedata"]["driver"], "local");
    assert!(
        !out.report.iter().any(|l| l.contains("DEBUG")),
        "a pass-through is carried exactly: {:?}",
        out.report
    );
}

#[test]
fn build_with_args_and_targets() {
    let out = one("build-args.yml");
    let s = stack(&out.kdl, &[]);
    assert_eq!(s["name"], "test"); // `-p` wins over the file's `stack "shop"`
    assert!(out.kdl.contains("stack \"shop\""));
    let api = svc(&s, "api");
    assert_eq!(api["build"]["context"], "/project/api");
    assert_eq!(api["build"]["dockerfile"], "docker/Dockerfile.prod");
    assert_eq!(api["build"]["target"], "runtime");
    assert_eq!(
        api["build"]["args"],
        json!([{"key": "PYTHON_VERSION", "value": "3.12"}, {"key": "GIT_SHA", "value": "dev"}])
    );
    assert_eq!(api["image"], "shop/api:latest");
    assert_eq!(strs(&api["entrypoint"]), ["/usr/bin/tini", "--"]);
    // A folded string is split into words as compose does, quotes included.
    assert_eq!(
        strs(&api["command"]),
        ["sh", "-c", "python -m app --port 8000"]
    );
    let worker = svc(&s, "worker");
    assert_eq!(worker["build"]["context"], "/project/worker");
    assert_eq!(
        worker["build"]["args"],
        json!([{"key": "NODE_ENV", "value": "production"}, {"key": "NPM_TOKEN", "value": ""}])
    );
    report_has(&out, "build arg `NPM_TOKEN` has no value");
    // Build secrets by the id the Dockerfile names; the default agent; what BuildKit's
    // Dockerfile sets or stackr cannot forward is reported.
    assert_eq!(
        worker["build"]["secrets"],
        json!([{"name": "npm_token"}, {"name": "deploy_key", "id": "key"}])
    );
    assert_eq!(strs(&worker["build"]["ssh"]), ["default"]);
    report_has(&out, "`mode` of build secret `deploy_key` is not imported");
    report_has(
        &out,
        "`build.ssh` entry `deploy=~/.ssh/id_ed25519` is not imported",
    );
    assert_eq!(
        worker["build"]["additional-contexts"],
        json!([{"key": "base", "value": "docker-image://alpine:3.20"},
               {"key": "api", "value": "service:api"}])
    );
    report_has(
        &out,
        "additional context `shared` (`../shared`) is not imported",
    );
    let docs = svc(&s, "docs");
    assert_eq!(docs["working-dir"], "/srv");
    assert_eq!(docs["user"], "1000");
}

#[test]
fn anchors_merge_keys_and_extension_fields() {
    let out = one("anchors.yml");
    let s = stack(&out.kdl, &[]);
    assert_eq!(names(&s, "services"), ["api", "worker"]);
    let api = svc(&s, "api");
    assert_eq!(api["restart"], "always");
    assert_eq!(
        env(api),
        map(&[("TZ", "UTC"), ("LOG_LEVEL", "debug"), ("API_PORT", "8000")])
    );
    assert_eq!(api["logging"]["driver"], "json-file");
    assert_eq!(
        api["logging"]["options"],
        json!([{"key": "max-size", "value": "10m"}, {"key": "max-file", "value": "3"}])
    );
    assert_eq!(api["health"]["interval"], "5s");
    assert_eq!(api["health"]["timeout"], "2s");
    assert_eq!(api["health"]["retries"], 10);
    assert!(out.kdl.contains("http port=8000 path=\"/healthz\""));
    let worker = svc(&s, "worker");
    assert_eq!(worker["restart"], json!({"on-failure": {"max_retries": 5}}));
    assert_eq!(env(worker), map(&[("TZ", "UTC"), ("LOG_LEVEL", "info")]));
    report_has(&out, "the extension field `x-common` is not carried over");
    assert!(!out.kdl.contains("x-team"));
}

#[test]
fn long_form_ports_and_volumes() {
    let out = one("long-forms.yml");
    let s = stack(&out.kdl, &[]);
    let proxy = svc(&s, "proxy");
    assert_eq!(
        ports(proxy),
        [
            "8080:80/tcp",
            "127.0.0.1:8443:443/tcp",
            "5353:53/udp",
            "9000/tcp",
            "::1:8081:81/tcp"
        ]
    );
    assert_eq!(
        mounts(proxy),
        [
            "static->/usr/share/nginx/html:ro",
            "/project/conf/nginx.conf->/etc/nginx/nginx.conf:ro",
            "/project/certs->/etc/nginx/certs",
            "tmpfs(67108864,1023)->/var/cache/nginx",
            "anonymous->/var/log/nginx",
            "/project/html->/srv/html:ro",
            "tmpfs(16777216,493)->/run",
        ]
    );
    report_has(
        &out,
        "`volume.nocopy` on `/usr/share/nginx/html` is not imported",
    );
    report_has(&out, "the mount option `z`");
    report_has(&out, "the tmpfs option `noexec`");
}

#[test]
fn external_and_internal_networks() {
    let out = one("external-networks.yml");
    let s = stack(&out.kdl, &[]);
    assert_eq!(s["networks"]["shared"]["external"], true);
    assert_eq!(s["networks"]["shared"]["engine-name"], "infra_shared");
    assert_eq!(s["networks"]["legacy"]["engine-name"], "old_net");
    assert_eq!(s["networks"]["back"]["internal"], true);
    assert_eq!(
        s["networks"]["front"]["labels"],
        json!([{"key": "com.example.tier", "value": "front"}])
    );
    let app = svc(&s, "app");
    let nets: Vec<Value> = app["networks"].as_array().cloned().unwrap_or_default();
    assert_eq!(nets.len(), 3);
    // `back` has the highest `priority`: compose joins it first, and so it is written first.
    assert_eq!(nets[0]["name"], "back");
    // The subnet (`ipam`) is carried over, and so the fixed address in it.
    assert!(nets[0]["ipv4-address"].is_string(), "{}", out.kdl);
    assert!(s["networks"]["back"]["ipam"]["subnets"][0]["subnet"].is_string());
    assert_eq!(nets[1]["name"], "front");
    assert_eq!(nets[1]["aliases"], json!(["app.internal", "api"]));
    assert_eq!(nets[2]["name"], "shared");
    assert_eq!(
        svc(&s, "sidecar")["network-mode"],
        json!({"service": "app"})
    );
    report_has(
        &out,
        "network `legacy` is declared, but no service joins it",
    );
}

#[test]
fn compose_profiles_become_profile_blocks() {
    let out = one("profiles.yml");
    let base = stack(&out.kdl, &[]);
    assert_eq!(names(&base, "services"), ["app", "db"]);
    assert_eq!(base["available-profiles"], json!(["debug", "mail"]));
    let debug = stack(&out.kdl, &["debug"]);
    assert_eq!(
        names(&debug, "services"),
        ["adminer", "app", "db", "mailhog"]
    );
    assert_eq!(ports(svc(&debug, "adminer")), ["8088:8080/tcp"]);
    assert_eq!(deps(svc(&debug, "adminer")), ["db:started"]);
    let mail = stack(&out.kdl, &["mail"]);
    assert_eq!(names(&mail, "services"), ["app", "db", "mailhog"]);
    assert!(out.report.is_empty(), "{:?}", out.report);
}

#[test]
fn develop_watch_rules() {
    let out = one("watch.yml");
    let s = stack(&out.kdl, &[]);
    let web = svc(&s, "web");
    let rules: Vec<String> = web["watch"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|w| {
            format!(
                "{} {} {}",
                w["action"].as_str().unwrap_or(""),
                w["path"].as_str().unwrap_or(""),
                w["target"]
            )
        })
        .collect();
    assert_eq!(
        rules,
        [
            "sync /project/web/src \"/app/src\"",
            "rebuild /project/web/package.json null",
            "sync-restart /project/web/config \"/app/config\"",
            "sync-exec /project/web/templates \"/app/templates\"",
            "restart /project/web/.env null",
        ]
    );
    assert_eq!(
        web["watch"][0]["ignore"],
        json!(["node_modules/", "*.test.js"])
    );
    assert_eq!(web["watch"][3]["exec"], json!(["kill", "-HUP", "1"]));
    assert_eq!(web["watch"][3]["exec-user"], "root");
    assert_eq!(web["watch"][3]["exec-workdir"], "/app");
    assert_eq!(web["watch"][3]["exec-privileged"], true);
    assert_eq!(web["watch"][3]["exec-env"][0]["key"], "RELOAD");
    assert!(
        !out.report.iter().any(|l| l.contains("is not imported")),
        "every action is imported: {:?}",
        out.report
    );
}

#[test]
fn secrets_configs_and_octal_modes() {
    let out = one("secrets-configs.yml");
    let s = stack(&out.kdl, &[]);
    assert_eq!(
        s["secrets"]["db_password"]["source"],
        json!({"file": "/project/secrets/db_password.txt"})
    );
    assert_eq!(s["secrets"]["api_key"]["source"], json!({"env": "API_KEY"}));
    assert_eq!(
        s["configs"]["motd"]["source"],
        json!({"content": "Welcome to the app!\n"})
    );
    assert_eq!(s["configs"]["banner"]["source"], json!({"content": ""}));
    let app = svc(&s, "app");
    let secrets = &app["secrets"];
    assert_eq!(
        secrets[1],
        json!({"name": "api_key", "target": "api.key", "uid": 1000, "gid": 1000, "mode": 0o400})
    );
    // `mode: 400` is decimal in compose too (0o620): kept, and reported.
    assert_eq!(secrets[2]["mode"], 400);
    report_has(&out, "`mode` is 400, which compose reads as decimal too");
    // A quoted mode is octal.
    assert_eq!(app["configs"][0]["mode"], 0o440);
    assert_eq!(env(app)["DB_PASSWORD_FILE"], "(secret)db_password");
    assert_eq!(env(app)["API_KEY_FILE"], "(secret)api_key");
    report_has(&out, "`name: ignored-name` is not imported");
    report_has(&out, "config `banner` from the variable `BANNER_TEXT`");
}

#[test]
fn swarm_only_keys_are_reported_not_dropped_and_update_config_is_imported() {
    let out = one("swarm-deploy.yml");
    let s = stack(&out.kdl, &[]);
    let api = svc(&s, "api");
    assert_eq!(api["scale"], 3);
    assert_eq!(api["restart"], json!({"on-failure": {"max_retries": 4}}));
    assert_eq!(
        api["limits"],
        json!({"cpus": 1.5, "memory": 512u64 << 20, "pids": 200})
    );
    assert_eq!(
        api["reservations"],
        json!({"cpus": 0.25, "memory": 128u64 << 20, "pids": null})
    );
    let legacy = svc(&s, "legacy");
    assert_eq!(
        legacy["limits"],
        json!({"cpus": 0.5, "memory": 1u64 << 30, "pids": 100})
    );
    assert_eq!(legacy["reservations"]["memory"], 256u64 << 20);
    // `update_config` has the meaning of stackr's `update` block: carried over.
    assert_eq!(api["update"]["parallelism"], 1);
    assert_eq!(api["update"]["delay"], "10s");
    assert_eq!(api["update"]["order"], "start-first");
    assert_eq!(api["update"]["failure-action"], "pause");
    assert_eq!(api["update"]["monitor"], "30s");
    assert_eq!(api["update"]["max-failure-ratio"], 0.5);
    assert_eq!(api["rollback"]["parallelism"], 0);
    report_has(
        &out,
        "`rollback_config.failure_action: rollback` is not imported",
    );
    assert!(!out.kdl.contains("update_config` is not imported"));
    // Placement and the endpoint mode have their meaning on the Swarm target: carried over.
    assert_eq!(
        api["placement"]["constraints"],
        json!(["node.role==worker"])
    );
    assert_eq!(api["endpoint-mode"], "vip");
    // Device reservations are device requests, as `gpus`; links are links.
    assert_eq!(api["gpus"], json!([{"count": -1, "capabilities": ["gpu"]}]));
    assert_eq!(legacy["links"], json!(["api"]));
    for needle in [
        "`version` is dropped",
        "`deploy.restart_policy.delay` is not imported",
    ] {
        report_has(&out, needle);
        assert!(
            out.kdl.contains(&format!("// import: {needle}")),
            "no comment `{needle}`"
        );
    }
    // The engine's container options are carried over now.
    let legacy = svc(&s, "legacy");
    assert_eq!(legacy["cpu-shares"], 512, "{}", out.kdl);
    assert!(
        !out.report
            .iter()
            .any(|l| l.contains("cpu_shares") || l.contains("`dns`"))
    );
}

#[test]
fn hardening_and_runtime_options() {
    let out = one("hardening.yml");
    let s = stack(&out.kdl, &[]);
    let app = svc(&s, "app");
    assert_eq!(app["init"], true);
    assert_eq!(app["read-only"], true);
    assert_eq!(app["user"], "10001:10001");
    assert_eq!(app["cap-drop"], json!(["ALL"]));
    assert_eq!(app["cap-add"], json!(["NET_BIND_SERVICE"]));
    assert_eq!(app["no-new-privileges"], true);
    assert_eq!(app["security-opt"], json!(["apparmor=unconfined"]));
    assert_eq!(
        app["ulimits"],
        json!([{"name": "nproc", "soft": 65535, "hard": 65535}, {"name": "nofile", "soft": 20000, "hard": 40000}])
    );
    assert_eq!(
        app["sysctls"],
        json!([{"key": "net.core.somaxconn", "value": "1024"}])
    );
    assert_eq!(app["shm-size"], 256u64 << 20);
    assert_eq!(app["stop-signal"], "SIGINT");
    assert_eq!(app["stop-grace-period"], "1m30s");
    assert_eq!(app["devices"], json!(["/dev/fuse"]));
    assert_eq!(
        app["labels"],
        json!([{"key": "com.example.team", "value": "payments"}, {"key": "traefik.enable", "value": "true"}])
    );
    assert_eq!(
        app["extra-hosts"],
        json!([{"key": "host.docker.internal", "value": "host-gateway"}, {"key": "db.local", "value": "10.0.0.5"}])
    );
    assert_eq!(app["logging"]["driver"], "local");
    assert_eq!(app["pull-policy"], "missing");
    assert_eq!(app["hostname"], "app01");
    assert_eq!(app["container-name"], "my-app");
    assert_eq!(app["tty"], true);
    assert_eq!(app["stdin-open"], true);
    assert_eq!(app["expose"].as_array().map(Vec::len), Some(2));
    assert_eq!(app["health"]["disabled"], true);
    let job = svc(&s, "job");
    assert_eq!(job["health"]["disabled"], true);
    assert_eq!(job["restart"], "no");
    assert_eq!(job["scale"], 2);
    assert_eq!(job["privileged"], false);
    assert!(out.report.is_empty(), "{:?}", out.report);
}

#[test]
fn extends_in_the_same_file() {
    let out = one("extends.yml");
    let s = stack(&out.kdl, &[]);
    let child = svc(&s, "child");
    assert_eq!(child["image"], "example/base:1");
    assert_eq!(env(child), map(&[("A", "1"), ("B", "20"), ("C", "3")]));
    assert_eq!(ports(child), ["7000/tcp", "7001/tcp"]);
    assert_eq!(child["restart"], "always");
    let grandchild = svc(&s, "grandchild");
    assert_eq!(grandchild["image"], "example/other:2");
    assert_eq!(env(grandchild), env(child));
}

#[test]
fn override_file_merges_as_compose_does() {
    let out = run(&[
        ("compose/override-base.yml", "compose.yml", None),
        ("compose/override-local.yml", "compose.local.yml", None),
    ]);
    assert!(out.kdl.contains("profile \"local\" {"));
    let base = stack(&out.kdl, &[]);
    assert_eq!(names(&base, "services"), ["db", "web"]);
    let s = stack(&out.kdl, &["local"]);
    assert_eq!(names(&s, "services"), ["cache", "db", "web"]);
    let web = svc(&s, "web");
    // Scalars and commands replace.
    assert_eq!(web["image"], "example/web:1");
    assert_eq!(strs(&web["command"]), ["serve", "--port", "80", "--reload"]);
    // Ports append without duplicates; env and labels merge by key.
    assert_eq!(ports(web), ["80:80/tcp", "5678:5678/tcp"]);
    assert_eq!(env(web), map(&[("MODE", "dev"), ("KEEP", "yes")]));
    assert_eq!(
        web["labels"],
        json!([{"key": "tier", "value": "web"}, {"key": "debug", "value": "true"}])
    );
    // Volumes merge by target.
    assert_eq!(
        mounts(web),
        ["/project/data->/data", "/project/static->/static:ro"]
    );
    // depends_on merges by service; the healthcheck field by field.
    assert_eq!(deps(web), ["db:healthy", "cache:started"]);
    assert_eq!(web["health"]["interval"], "5s");
    assert_eq!(web["health"]["retries"], 3);
    assert_eq!(
        web["health"]["test"],
        json!({"exec": ["curl", "-f", "http://localhost/health"]})
    );
    assert_eq!(
        svc(&s, "db")["health"]["test"],
        json!({"shell": "pg_isready"})
    );
    assert_eq!(s["networks"]["back"]["internal"], true);
    assert_eq!(base["networks"]["back"]["internal"], Value::Null);
    // Only the changes are written: not the image the override repeats.
    let profile = out
        .kdl
        .split("profile \"local\" {")
        .nth(1)
        .unwrap_or_default();
    assert!(!profile.contains("example/web:1"));
    assert!(!profile.contains("\"80:80\""));
}

/// Regression: an override whose `build` names no `context` (only args, say) was written as
/// `build "."`, moving the service's build to the project directory; compose keeps the
/// base's context. A service only the override declares still gets compose's default.
#[test]
fn an_override_build_without_context_keeps_the_base_context() {
    let out = run(&[
        ("compose/override-build-base.yml", "compose.yml", None),
        (
            "compose/override-build-args.yml",
            "compose.offline.yml",
            None,
        ),
    ]);
    let s = stack(&out.kdl, &["offline"]);
    let api = &svc(&s, "api")["build"];
    assert_eq!(api["context"], "/project/api");
    assert_eq!(api["dockerfile"], "Dockerfile");
    assert_eq!(
        api["args"],
        json!([{"key": "BASE", "value": "local/python:3.11"}])
    );
    assert_eq!(svc(&s, "worker")["build"]["context"], "/project/worker");
    assert_eq!(svc(&s, "tool")["build"]["context"], "/project");
    assert_eq!(svc(&s, "tool")["build"]["dockerfile"], "Tool.Dockerfile");
}

// --- Diagnostics ----------------------------------------------------------------------------

fn errors(fixture: &str) -> (Imported, Vec<(String, String, String)>) {
    let text = read(&format!("errors/{fixture}"));
    let out = import(&[Input {
        path: PathBuf::from(fixture),
        text: text.clone(),
        profile: None,
    }]);
    let found = out
        .diagnostics
        .iter()
        .map(|d| {
            let at = d.primary().map_or(String::new(), |s| {
                text[s.offset..s.offset + s.len].to_string()
            });
            (d.problem.code().to_string(), d.to_string(), at)
        })
        .collect();
    (out, found)
}

#[test]
fn unknown_keys_get_spans_and_suggestions() {
    let (out, found) = errors("unknown-keys.yml");
    assert!(out.has_errors());
    let codes: Vec<(&str, &str)> = found
        .iter()
        .map(|(c, _, at)| (c.as_str(), at.as_str()))
        .collect();
    assert_eq!(
        codes,
        [
            ("unknown-property", "enviroment"),
            ("unknown-property", "portz"),
            ("unknown-property", "intervall"),
            ("unknown-property", "bogus"),
        ]
    );
    assert_eq!(
        found[0].1,
        "unknown property `enviroment` on `services.web`"
    );
    assert_eq!(
        found[2].1,
        "unknown property `intervall` on `services.web.healthcheck`"
    );
    let helps: Vec<Option<String>> = out.diagnostics.iter().map(|d| d.help.clone()).collect();
    assert_eq!(helps[0].as_deref(), Some("did you mean `environment`?"));
    assert_eq!(helps[1].as_deref(), Some("did you mean `ports`?"));
    assert_eq!(helps[2].as_deref(), Some("did you mean `interval`?"));
}

#[test]
fn yaml_errors_get_spans() {
    let (out, found) = errors("bad-yaml.yml");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "syntax");
    assert!(found[0].1.starts_with("invalid YAML: "), "{}", found[0].1);
    assert!(out.diagnostics[0].primary().is_some());
    let (_, found) = errors("duplicate-key.yml");
    assert_eq!(
        found,
        [(
            "duplicate".into(),
            "key `image` is defined twice".into(),
            "image".into()
        )]
    );
}

#[test]
fn invalid_values_get_spans() {
    let (_, found) = errors("bad-values.yml");
    let at: Vec<(&str, &str)> = found
        .iter()
        .map(|(c, _, at)| (c.as_str(), at.as_str()))
        .collect();
    assert_eq!(
        at,
        [
            ("invalid-port", "\"99999:80\""),
            ("invalid-duration", "10"),
            ("invalid-value", "sometimes")
        ]
    );
}

// --- Edges --------------------------------------------------------------------------------

#[test]
fn profile_names_come_from_file_names() {
    for (file, want) in [
        ("docker-compose.dev.yml", "dev"),
        (".docker/docker-compose.prod.yml", "prod"),
        ("compose.override.yaml", "override"),
        ("staging.yml", "staging"),
        ("docker-compose.CI Build.yml", "ci-build"),
    ] {
        assert_eq!(profile_name(Path::new(file)), want, "{file}");
    }
}

#[test]
fn two_overrides_with_one_profile_name_are_an_error() {
    let text = "services:\n  a:\n    image: x\n".to_string();
    let input = |p: &str| Input {
        path: PathBuf::from(p),
        text: text.clone(),
        profile: None,
    };
    let out = import(&[
        input("compose.yml"),
        input("a/compose.dev.yml"),
        input("b/compose.dev.yml"),
    ]);
    assert!(
        out.diagnostics
            .iter()
            .any(|d| d.problem.code() == "duplicate")
    );
}

#[test]
fn never_panics_on_any_prefix_of_any_fixture() {
    let mut files = vec![
        "seed/docker-compose.yml".to_string(),
        "seed/docker-compose.dev.yml".into(),
        "seed/.docker/docker-compose.prod.yml".into(),
    ];
    for dir in ["compose", "errors"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(dir);
        for e in std::fs::read_dir(&path)
            .unwrap_or_else(|e| panic!("{e}"))
            .flatten()
        {
            files.push(format!("{dir}/{}", e.file_name().to_string_lossy()));
        }
    }
    for f in files {
        let text = read(&f);
        let cuts: Vec<usize> = text.char_indices().map(|(i, _)| i).step_by(7).collect();
        for cut in cuts {
            let prefix = &text[..cut];
            let _ = import(&[Input {
                path: PathBuf::from("/p/compose.yml"),
                text: prefix.to_string(),
                profile: None,
            }]);
            let _ = import(&[
                Input {
                    path: PathBuf::from("/p/compose.yml"),
                    text: text.clone(),
                    profile: None,
                },
                Input {
                    path: PathBuf::from("/p/compose.x.yml"),
                    text: prefix.to_string(),
                    profile: None,
                },
            ]);
        }
    }
}

#[test]
fn pre_start_post_start_and_pre_stop_become_hooks() {
    let out = one("lifecycle-hooks.yml");
    let s = stack(&out.kdl, &[]);
    let api = svc(&s, "api");
    assert_eq!(
        api["pre-start"],
        json!([
            {"command": ["migrate", "--up"], "user": null, "workdir": null, "privileged": null, "env": [{"key": "STEP", "value": "one"}]},
            {"command": ["chown", "-R", "1000", "/data"], "user": "root", "workdir": null, "privileged": null, "env": [], "image": "example/tools", "per-replica": true}
        ])
    );
    assert!(!out.kdl.contains("pre_start"), "{}", out.kdl);
    assert_eq!(
        api["post-start"],
        json!([
            {"command": ["sh", "-c", "echo up > /tmp/up"], "user": "root", "workdir": null, "privileged": true, "env": []},
            {"command": ["touch", "/tmp/second"], "user": null, "workdir": null, "privileged": null, "env": []}
        ])
    );
    assert_eq!(
        api["pre-stop"],
        json!([{"command": ["sh", "-c", "sleep 1"], "user": null, "workdir": "/app", "privileged": null, "env": [{"key": "REASON", "value": "stop"}]}])
    );
    assert!(
        !out.kdl.contains("post_start` is not imported"),
        "{}",
        out.kdl
    );
}

#[test]
fn a_compose_file_for_docker_stack_deploy_imports_for_a_swarm() {
    let text = r#"
services:
  web:
    image: registry.example:5000/web:1
    deploy:
      replicas: 3
      endpoint_mode: dnsrr
      placement:
        constraints: ["node.role == worker"]
        preferences:
          - spread: node.labels.zone
        max_replicas_per_node: 1
    ports:
      - target: 80
        published: 8080
        mode: host
"#;
    let input = Input {
        path: PathBuf::from(format!("{DIR}/compose.yml")),
        text: text.into(),
        profile: None,
    };
    let out = stackr_import::import_for(&[input], Some(stackr_spec::Target::Swarm));
    let errors: Vec<String> = out
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}\n{}", out.kdl);
    for want in [
        "target \"swarm\"",
        "port \"8080:80\" mode=\"host\"",
        "endpoint-mode \"dnsrr\"",
        "constraint \"node.role==worker\"",
        "spread \"node.labels.zone\"",
        "max-per-node 1",
    ] {
        assert!(out.kdl.contains(want), "no `{want}` in:\n{}", out.kdl);
    }
    // The same file for the engine: three containers cannot share host port 8080.
    let input = Input {
        path: PathBuf::from(format!("{DIR}/compose.yml")),
        text: text.into(),
        profile: None,
    };
    let engine = stackr_import::import(&[input]);
    assert!(
        engine.diagnostics.iter().any(|d| d.is_error()),
        "{}",
        engine.kdl
    );
}

// --- Other files, variables, other directories ------------------------------------------

/// Imports `/project/compose.yml` with other files in memory, variables and where the stack
/// file goes.
fn with_files(
    main: &str,
    others: &[(&str, &str)],
    vars: &[(&str, &str)],
    stack_file: Option<&str>,
) -> Imported {
    let reader = stackr_spec::MemoryReader {
        files: others
            .iter()
            .map(|(p, t)| (PathBuf::from(p), t.to_string()))
            .collect(),
    };
    let opts = stackr_import::Options {
        target: None,
        vars: vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        reader: &reader,
        stack_file: stack_file.map(PathBuf::from),
        cwd: PathBuf::from("/"),
        host: &|_| Vec::new(),
    };
    let input = Input {
        path: PathBuf::from(format!("{DIR}/compose.yml")),
        text: main.into(),
        profile: None,
    };
    stackr_import::import_with(&[input], &opts)
}

fn no_errors(out: &Imported) {
    let errors: Vec<String> = out
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{}", out.kdl);
}

#[test]
fn extends_of_another_file_takes_its_service_with_its_paths() {
    let out = with_files(
        "services:\n  web:\n    extends:\n      file: common/base.yml\n      service: app\n    environment:\n      MODE: web\n",
        &[(
            "/project/common/base.yml",
            "services:\n  root:\n    image: busybox\n    env_file: [base.env]\n  app:\n    extends: root\n    build: ./app\n    volumes: [\"./data:/data\"]\n    environment:\n      MODE: base\n      LEVEL: \"1\"\n",
        )],
        &[],
        None,
    );
    no_errors(&out);
    let s = stack(&out.kdl, &[]);
    let web = svc(&s, "web");
    assert_eq!(web["image"], "busybox", "{}", out.kdl);
    assert_eq!(env(web)["MODE"], "web");
    assert_eq!(env(web)["LEVEL"], "1");
    // The other file's paths start from its own directory.
    assert!(out.kdl.contains("build \"./common/app\""), "{}", out.kdl);
    assert!(
        out.kdl.contains("mount \"./common/data\" \"/data\""),
        "{}",
        out.kdl
    );
    assert!(
        out.kdl.contains("env-file \"./common/base.env\""),
        "{}",
        out.kdl
    );
}

#[test]
fn extends_of_a_missing_file_or_service_is_an_error_at_the_key() {
    let out = with_files(
        "services:\n  a:\n    extends: {file: nope.yml, service: x}\n  b:\n    extends: {file: other.yml, service: y}\n",
        &[(
            "/project/other.yml",
            "services:\n  z:\n    image: busybox\n",
        )],
        &[],
        None,
    );
    let errors: Vec<String> = out.diagnostics.iter().map(|d| d.to_string()).collect();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("nope.yml") && e.contains("cannot read it")),
        "{errors:#?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("has no service of that name")),
        "{errors:#?}"
    );
}

#[test]
fn include_brings_the_included_files_declarations_with_their_paths() {
    let out = with_files(
        "include:\n  - db/compose.yml\n  - path: [cache.yml]\n    project_directory: shared\nservices:\n  web:\n    image: busybox\n    depends_on: [db, cache]\n",
        &[
            (
                "/project/db/compose.yml",
                "services:\n  db:\n    image: postgres\n    volumes: [\"./init:/docker-entrypoint-initdb.d\", \"data:/var/lib/postgresql/data\"]\nvolumes:\n  data:\n",
            ),
            (
                "/project/cache.yml",
                "services:\n  cache:\n    image: redis\n    env_file: cache.env\n",
            ),
        ],
        &[],
        None,
    );
    no_errors(&out);
    let s = stack(&out.kdl, &[]);
    assert_eq!(names(&s, "services"), ["cache", "db", "web"]);
    assert_eq!(names(&s, "volumes"), ["data"]);
    assert!(out.kdl.contains("mount \"./db/init\""), "{}", out.kdl);
    // `project_directory` is where the included file's relative paths start.
    assert!(
        out.kdl.contains("env-file \"./shared/cache.env\""),
        "{}",
        out.kdl
    );
}

#[test]
fn include_of_itself_is_a_cycle_and_a_remote_include_is_reported() {
    let out = with_files(
        "include:\n  - compose.yml\nservices:\n  a:\n    image: busybox\n",
        &[(
            "/project/compose.yml",
            "include:\n  - compose.yml\nservices:\n  a:\n    image: busybox\n",
        )],
        &[],
        None,
    );
    let errors: Vec<String> = out.diagnostics.iter().map(|d| d.to_string()).collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(errors[0].contains("cycle"), "{errors:#?}");
    let out = with_files(
        "include:\n  - oci://docker.io/acme/stack:1\nservices:\n  a:\n    image: busybox\n",
        &[],
        &[],
        None,
    );
    no_errors(&out);
    report_has(
        &out,
        "the remote include `oci://docker.io/acme/stack:1` is not imported",
    );
    assert!(out.items.iter().any(|i| i.key == "include" && i.line == 2));
}

#[test]
fn reset_removes_what_extends_gave_and_override_replaces_it() {
    let out = with_files(
        "services:\n  base:\n    image: busybox\n    command: sleep 1\n    ports: [\"8080:80\"]\n    environment: {A: \"1\", B: \"2\"}\n  a:\n    extends: base\n    command: !reset null\n    ports: !override [\"9090:80\"]\n    environment: !override {C: \"3\"}\n",
        &[],
        &[],
        None,
    );
    no_errors(&out);
    let s = stack(&out.kdl, &[]);
    let a = svc(&s, "a");
    assert!(a["command"].is_null(), "{}", out.kdl);
    assert_eq!(a["ports"].as_array().map(Vec::len), Some(1), "{}", out.kdl);
    assert_eq!(a["ports"][0]["published"], "9090", "{}", out.kdl);
    assert_eq!(env(a).keys().collect::<Vec<_>>(), ["C"], "{}", out.kdl);
}

#[test]
fn dockerfile_inline_becomes_a_multi_line_string_that_reads_back() {
    let text = "FROM busybox\nRUN echo \"a \\\\ b\" > /x\n\nCMD [\"cat\", \"/x\"]\n";
    let yaml = format!(
        "services:\n  a:\n    build:\n      context: .\n      dockerfile_inline: |\n{}",
        text.lines()
            .map(|l| format!("        {l}\n"))
            .collect::<String>()
    );
    let out = one_text(&yaml);
    assert!(out.kdl.contains("dockerfile-inline #\"\"\""), "{}", out.kdl);
    let s = stack(&out.kdl, &[]);
    let inline = svc(&s, "a")["build"]["dockerfile-inline"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(inline, text.trim_end_matches('\n'), "{}", out.kdl);
}

fn one_text(yaml: &str) -> Imported {
    let out = with_files(yaml, &[], &[], None);
    no_errors(&out);
    out
}

#[test]
fn variables_are_kept_as_written_and_used_for_numbers_and_the_check() {
    let out = with_files(
        "services:\n  a:\n    image: ${IMAGE}:${TAG:-1}\n    scale: ${N}\n    volumes:\n      - ${SOURCE:-/dev/null}:/tmp/foo:ro\n",
        &[],
        &[("IMAGE", "busybox"), ("N", "3")],
        None,
    );
    no_errors(&out);
    assert!(
        out.kdl.contains("image \"${IMAGE}:${TAG:-1}\""),
        "{}",
        out.kdl
    );
    assert!(out.kdl.contains("scale 3"), "{}", out.kdl);
    assert!(
        out.kdl
            .contains("mount \"${SOURCE:-/dev/null}\" \"/tmp/foo\" read-only=#true"),
        "{}",
        out.kdl
    );
    report_has(&out, "its value now, 3, is written");
    // Without the variable, the image is `:1`: the check says so.
    let out = with_files("services:\n  a:\n    image: ${IMAGE}:1\n", &[], &[], None);
    assert!(out.has_errors(), "{}", out.kdl);
}

#[test]
fn a_stack_file_written_elsewhere_gets_its_paths_rewritten() {
    let out = with_files(
        "services:\n  a:\n    build: ./app\n    env_file: .env.a\n    volumes: [\"./data:/data\", \"/abs:/abs\", \"~/x:/x\", \"named:/n\"]\n    secrets: [s]\nsecrets:\n  s:\n    file: ../secrets/s.txt\nvolumes:\n  named: {}\n",
        &[],
        &[],
        Some("/elsewhere/deploy/stack.kdl"),
    );
    no_errors(&out);
    for want in [
        "build \"../../project/app\"",
        "env-file \"../../project/.env.a\"",
        "mount \"../../project/data\" \"/data\"",
        "mount \"/abs\" \"/abs\"",
        "mount \"~/x\" \"/x\"",
        "mount \"named\" \"/n\"",
        "file=\"../../secrets/s.txt\"",
    ] {
        assert!(out.kdl.contains(want), "no `{want}` in:\n{}", out.kdl);
    }
}

#[test]
fn an_empty_compose_file_is_refused_as_compose_does() {
    let out = with_files("# nothing here\n", &[], &[], None);
    assert!(out.has_errors());
    assert!(out.diagnostics[0].to_string().contains("is empty"));
}

#[test]
fn report_items_name_the_compose_key_and_its_position() {
    let out = one_text(
        "services:\n  a:\n    image: busybox\n    build:\n      context: .\n      cache_to: [type=inline]\n      secrets:\n        - source: s\n          mode: 0400\nsecrets:\n  s:\n    file: ./s.txt\n",
    );
    // A key in a list item of a nested mapping is named by its whole path.
    let nested = out
        .items
        .iter()
        .find(|i| i.key == "services.a.build.secrets.mode")
        .unwrap_or_else(|| panic!("{:#?}", out.items));
    assert_eq!((nested.line, nested.column), (9, 11));
    let item = out
        .items
        .iter()
        .find(|i| i.key == "services.a.build.cache_to")
        .unwrap_or_else(|| panic!("{:#?}", out.items));
    assert_eq!((item.line, item.column), (6, 7));
    assert_eq!(item.file, "/project/compose.yml");
}

#[test]
fn an_override_files_paths_start_from_the_first_files_directory() {
    // compose: every `-f` file's relative paths start from the first file's directory.
    let out = run(&[
        ("compose/web-db-cache.yml", "compose.yml", None),
        (
            "compose/override-local.yml",
            "ovr/compose.local.yml",
            Some("local"),
        ),
    ]);
    assert!(!out.kdl.contains("./ovr/"), "{}", out.kdl);
}

#[test]
fn a_service_may_extend_an_included_one_and_include_items_override_in_order() {
    let out = with_files(
        "include:\n  - path: [lib/base.yml, lib/more.yml]\nservices:\n  api:\n    extends: base\n    environment: {ROLE: api}\n  base:\n    environment: {LOCAL: \"1\"}\n",
        &[
            (
                "/project/lib/base.yml",
                "services:\n  base:\n    image: busybox:1\n    build: {args: {A: \"1\"}}\n    environment: {FROM: base}\n",
            ),
            (
                "/project/lib/more.yml",
                "services:\n  base:\n    image: busybox:2\n",
            ),
        ],
        &[],
        None,
    );
    no_errors(&out);
    let s = stack(&out.kdl, &[]);
    let api = svc(&s, "api");
    assert_eq!(api["image"], "busybox:2", "{}", out.kdl);
    assert_eq!(env(api)["FROM"], "base");
    assert_eq!(env(api)["ROLE"], "api");
    // The including file's own `base` is merged over the included one.
    assert_eq!(env(svc(&s, "base"))["LOCAL"], "1", "{}", out.kdl);
    assert_eq!(env(svc(&s, "base"))["FROM"], "base", "{}", out.kdl);
    // One build context: the included file's default, written from its project directory.
    assert_eq!(out.kdl.matches("build \"./lib\"").count(), 2, "{}", out.kdl);
}

#[test]
fn the_engines_container_options_are_carried_over() {
    let out = one_text(
        "services:\n  a:\n    image: busybox\n    dns: 10.0.0.2\n    dns_search: [internal.example]\n    dns_opt: [\"ndots:2\"]\n    domainname: example.com\n    platform: linux/amd64\n    runtime: runc\n    ipc: service:b\n    pid: host\n    uts: host\n    userns_mode: host\n    cgroup: private\n    cgroup_parent: stackr.slice\n    group_add: [audio]\n    device_cgroup_rules: [\"c 1:3 mr\"]\n    storage_opt: {size: 20G}\n    annotations: {com.example.team: core}\n    oom_kill_disable: false\n    oom_score_adj: 100\n    cpu_shares: 512\n    cpu_period: 100ms\n    cpu_quota: 50000\n    cpuset: \"0\"\n    mem_swappiness: 10\n    memswap_limit: -1\n  b:\n    image: busybox\n    ipc: shareable\n",
    );
    assert!(out.report.is_empty(), "{:#?}", out.report);
    let s = stack(&out.kdl, &[]);
    let a = svc(&s, "a");
    assert_eq!(a["dns"], json!(["10.0.0.2"]));
    assert_eq!(a["dns-search"], json!(["internal.example"]));
    assert_eq!(a["dns-opt"], json!(["ndots:2"]));
    for (k, v) in [
        ("domainname", "example.com"),
        ("platform", "linux/amd64"),
        ("runtime", "runc"),
        ("ipc", "service:b"),
        ("pid", "host"),
        ("uts", "host"),
        ("userns-mode", "host"),
        ("cgroup", "private"),
        ("cgroup-parent", "stackr.slice"),
        ("cpuset", "0"),
    ] {
        assert_eq!(a[k], v, "{k}: {}", out.kdl);
    }
    assert_eq!(a["group-add"], json!(["audio"]));
    assert_eq!(a["device-cgroup-rules"], json!(["c 1:3 mr"]));
    assert_eq!(a["storage-opt"][0]["key"], "size");
    assert_eq!(a["annotations"][0]["value"], "core");
    assert_eq!(a["oom-kill-disable"], false);
    assert_eq!(a["oom-score-adj"], 100);
    assert_eq!(a["cpu-shares"], 512);
    assert_eq!(a["cpu-period"], 100_000, "100ms in microseconds");
    assert_eq!(a["cpu-quota"], 50_000);
    assert_eq!(a["mem-swappiness"], 10);
    assert!(out.kdl.contains("memswap-limit -1"), "{}", out.kdl);
}

#[test]
fn a_fixed_address_is_kept_with_the_networks_ipam_and_driver_options() {
    let out = one_text(
        "services:\n  a:\n    image: busybox\n    networks:\n      back:\n        ipv4_address: 172.28.5.10\n        aliases: [alpha]\nnetworks:\n  back:\n    enable_ipv6: true\n    driver_opts: {com.docker.network.bridge.name: br-back}\n    ipam:\n      driver: default\n      config:\n        - subnet: 172.28.0.0/16\n          ip_range: 172.28.5.0/24\n          gateway: 172.28.5.254\n          aux_addresses: {host1: 172.28.1.5}\n      options: {foo: bar}\n",
    );
    assert!(out.report.is_empty(), "{:#?}", out.report);
    let s = stack(&out.kdl, &[]);
    let a = svc(&s, "a");
    assert_eq!(
        a["networks"][0]["ipv4-address"], "172.28.5.10",
        "{}",
        out.kdl
    );
    let back = &s["networks"]["back"];
    assert_eq!(back["enable-ipv6"], true);
    assert_eq!(back["driver-opts"][0]["value"], "br-back");
    assert_eq!(
        back["ipam"],
        json!({
            "driver": "default",
            "subnets": [{
                "subnet": "172.28.0.0/16",
                "ip-range": "172.28.5.0/24",
                "gateway": "172.28.5.254",
                "aux-addresses": [{"key": "host1", "value": "172.28.1.5"}]
            }],
            "options": [{"key": "foo", "value": "bar"}]
        })
    );
}

/// A service's endpoint settings on each network are carried, and its networks are written in
/// compose's `priority` order (highest first: the one joined at create).
#[test]
fn endpoint_settings_are_carried_and_networks_follow_their_priority() {
    let out = one_text(
        "services:\n  a:\n    image: busybox\n    networks:\n      front:\n        priority: 1\n      back:\n        priority: 100\n        link_local_ips: [169.254.8.8]\n        driver_opts: {com.example.opt: \"on\"}\n        mac_address: 02:42:ac:11:00:02\n        gw_priority: 5\n      side: {}\nnetworks:\n  front: {}\n  back: {}\n  side: {}\n",
    );
    assert!(out.report.is_empty(), "{:#?}", out.report);
    let s = stack(&out.kdl, &[]);
    let nets = &svc(&s, "a")["networks"];
    let names: Vec<&str> = nets
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["name"].as_str())
        .collect();
    assert_eq!(names, ["back", "front", "side"], "{}", out.kdl);
    assert_eq!(nets[0]["link-local-ips"], json!(["169.254.8.8"]));
    assert_eq!(
        nets[0]["driver-opts"],
        json!([{"key": "com.example.opt", "value": "on"}])
    );
    assert_eq!(nets[0]["mac-address"], "02:42:ac:11:00:02");
    assert_eq!(nets[0]["gw-priority"], 5);
}

#[test]
fn links_volumes_from_gpus_blkio_and_label_files_are_carried_over() {
    let out = one_text(
        "services:\n  a:\n    image: busybox\n    links: [b, \"b:bee\"]\n    external_links: [\"legacy:old\"]\n    volumes_from: [\"b:ro\", \"container:keeper\"]\n    label_file: [./labels.env]\n    gpus: all\n    blkio_config:\n      weight: 300\n      weight_device: [{path: /dev/sda, weight: 400}]\n      device_read_bps: [{path: /dev/sda, rate: 12mb}]\n      device_write_iops: [{path: /dev/sda, rate: 30}]\n  b:\n    image: busybox\n    gpus:\n      - driver: nvidia\n        count: 2\n        capabilities: [gpu, utility]\n      - device_ids: [\"0\", \"3\"]\n        options: {virtualization: \"false\"}\n",
    );
    assert!(out.report.is_empty(), "{:#?}", out.report);
    let s = stack(&out.kdl, &[]);
    let a = svc(&s, "a");
    assert_eq!(a["links"], json!(["b", "b:bee"]));
    assert_eq!(a["external-links"], json!(["legacy:old"]));
    assert_eq!(a["volumes-from"], json!(["b:ro", "container:keeper"]));
    assert_eq!(a["gpus"], json!([{"count": -1}]));
    assert!(
        a["label-files"][0]["path"]
            .as_str()
            .is_some_and(|p| p.ends_with("labels.env")),
        "{a}"
    );
    assert_eq!(a["blkio"]["weight"], 300);
    assert_eq!(a["blkio"]["weight-device"][0]["rate"], 400);
    assert_eq!(a["blkio"]["device-read-bps"][0]["rate"], 12 * 1024 * 1024);
    assert_eq!(a["blkio"]["device-write-iops"][0]["path"], "/dev/sda");
    let b = svc(&s, "b");
    assert_eq!(
        b["gpus"],
        json!([
            {"count": 2, "driver": "nvidia", "capabilities": ["gpu", "utility"]},
            {"device-ids": ["0", "3"], "options": [{"key": "virtualization", "value": "false"}]}
        ])
    );
}

#[test]
fn image_mounts_and_volume_subpaths_are_carried_over() {
    let out = one_text(
        "services:\n  a:\n    image: busybox\n    volumes:\n      - type: volume\n        source: data\n        target: /srv\n        volume:\n          subpath: site/public\n      - type: image\n        source: acme/tools:1\n        target: /opt/tools\n        image:\n          subpath: bin\nvolumes:\n  data:\n",
    );
    assert!(out.report.is_empty(), "{:#?}", out.report);
    assert!(
        out.kdl
            .contains(r#"mount "data" "/srv" subpath="site/public""#),
        "{}",
        out.kdl
    );
    assert!(
        out.kdl
            .contains(r#"mount "/opt/tools" image="acme/tools:1" subpath="bin""#),
        "{}",
        out.kdl
    );
    let s = stack(&out.kdl, &[]);
    let a = svc(&s, "a");
    assert_eq!(a["mounts"][1]["source"], json!({"image": "acme/tools:1"}));
    assert_eq!(a["mounts"][1]["subpath"], "bin");
}
