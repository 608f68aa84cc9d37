//! `stackr lsp` over stdio, as an editor drives it: initialize, open a file with a typo on a
//! line with non-ASCII text, the diagnostic at the right UTF-16 column with its code and
//! help, a change that fixes it clears it, formatting, symbols, shutdown and exit.

use serde_json::{Value, json};

use crate::cli::temp_dir;
use crate::lsp_client::Server;

#[test]
fn the_language_server_reports_formats_and_outlines_a_stack_file() {
    let dir = temp_dir("lsp");
    let path = dir.join("stack.kdl");
    let uri = format!("file://{}", path.display());
    // The typo sits after text of one, two and four bytes per character.
    let text = "stack \"shop\"\nnetwork \"frontend\"\nservice \"web\" {\n  image \"nginx\"\n    labels { note \"é😀\" }; networks \"frontnd\"\n}\n";
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    let mut s = Server::start(&dir, std::time::Duration::from_secs(20));
    let init = s.initialize(json!({}));
    assert_eq!(
        init["result"]["capabilities"]["documentFormattingProvider"],
        true
    );
    s.open(&uri, text);
    let published = s.wait(|m| m["method"] == "textDocument/publishDiagnostics");
    let diags = published["params"]["diagnostics"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let typo = diags
        .iter()
        .find(|d| d["code"] == "stackr::unknown-reference")
        .unwrap_or_else(|| panic!("no unknown-reference in {diags:#?}"));
    let line = text.lines().nth(4).unwrap_or("");
    let column: usize = line[..line.find("\"frontnd\"").unwrap_or(0)]
        .chars()
        .map(char::len_utf16)
        .sum();
    assert_eq!(
        typo["range"]["start"],
        json!({"line": 4, "character": column})
    );
    assert_eq!(
        typo["range"]["end"],
        json!({"line": 4, "character": column + "\"frontnd\"".len()})
    );
    let message = typo["message"].as_str().unwrap_or("");
    assert!(message.contains("did you mean `frontend`?"), "{message}");
    assert_eq!(typo["severity"], 1);
    // The fix, unsaved: the diagnostic goes.
    let fixed = text.replace("frontnd", "frontend");
    s.change(&uri, 2, &fixed);
    let published = s.wait(|m| m["method"] == "textDocument/publishDiagnostics");
    assert_eq!(published["params"]["diagnostics"], json!([]), "{published}");
    // Formatting: one edit, the file as `stackr fmt` lays it out.
    let edits = s.request(
        2,
        "textDocument/formatting",
        json!({"textDocument": {"uri": uri}, "options": {"tabSize": 4, "insertSpaces": true}}),
    );
    let new_text = edits["result"][0]["newText"].as_str().unwrap_or("");
    assert_eq!(
        Some(new_text.to_string()),
        stackr_spec::format::format(&fixed)
    );
    assert!(new_text.contains("\n    image \"nginx\"\n"), "{new_text}");
    // Symbols: the network and the service.
    let symbols = s.request(
        3,
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": uri}}),
    );
    let names: Vec<&str> = strings(&symbols["result"], "name");
    assert_eq!(names, ["frontend", "web"]);
    let shutdown = s.request(4, "shutdown", json!(null));
    assert_eq!(shutdown["result"], Value::Null);
    s.notify("exit", json!(null));
    let status = s.child.wait().unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success(), "{status}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The LSP position of byte `offset` of `text`.
fn pos(text: &str, offset: usize) -> Value {
    let before = &text[..offset];
    let line = before.matches('\n').count();
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    let character: usize = before[start..].chars().map(char::len_utf16).sum();
    json!({"line": line, "character": character})
}

const BASE: &str = r#"stack "shop"
include "more.kdl"
network "back"
volume "data"
secret "token" file="./token.txt"
service "api" {
    image "app:${TAG}"
    restart "no"
    depends-on "db" condition="healthy"
    networks "back"
    mount "data" "/data"
    health {
        interval "5s"
        shell "true"
    }
}
profile "prod" {
    service "api" {
        restart "always"
    }
}
"#;

const MORE: &str = "service \"db\" {\n    image \"postgres\"\n    health {\n        shell \"pg_isready\"\n    }\n}\n";

/// A completion case: what is inserted after `after` (the cursor at `|`), the labels that
/// must be offered and those that must not.
struct Case {
    after: &'static str,
    insert: &'static str,
    offered: &'static [&'static str],
    not: &'static [&'static str],
}

const IN_API: &str = "    networks \"back\"\n";

const CASES: &[Case] = &[
    Case {
        after: IN_API,
        insert: "    |\n",
        offered: &["image", "depends-on", "health", "watch"],
        not: &["stack", "interval"],
    },
    Case {
        after: IN_API,
        insert: "    health {\n        |\n    }\n",
        offered: &["interval", "http", "exec"],
        not: &["image"],
    },
    Case {
        after: IN_API,
        insert: "    restart |\n",
        offered: &["always", "on-failure", "max-retries="],
        not: &["#true"],
    },
    Case {
        after: IN_API,
        insert: "    depends-on \"|\"\n",
        offered: &["db", "api"],
        not: &["back"],
    },
    Case {
        after: IN_API,
        insert: "    depends-on \"db\" condition=\"|\"\n",
        offered: &["healthy", "completed", "started"],
        not: &["always"],
    },
    Case {
        after: IN_API,
        insert: "    depends-on \"db\" required=|\n",
        offered: &["#true", "#false"],
        not: &["db"],
    },
    Case {
        after: IN_API,
        insert: "    networks \"|\"\n",
        offered: &["back"],
        not: &["data"],
    },
    Case {
        after: IN_API,
        insert: "    mount \"|\" \"/x\"\n",
        offered: &["data"],
        not: &["back"],
    },
    Case {
        after: IN_API,
        insert: "    secret \"|\"\n",
        offered: &["token"],
        not: &["data"],
    },
    Case {
        after: IN_API,
        insert: "    env \"X\" \"${|}\"\n",
        offered: &["TAG", "DB_PASSWORD"],
        not: &["image"],
    },
    Case {
        after: IN_API,
        insert: "    build \".\" {\n        |\n    }\n",
        offered: &["dockerfile-inline", "secret", "ssh"],
        not: &["image"],
    },
    Case {
        after: IN_API,
        insert: "    port \"80\" pro|\n",
        offered: &["protocol=", "published="],
        not: &["image"],
    },
    Case {
        after: IN_API,
        insert: "    watch {\n        sync \"./src\" target=\"/app\" {\n            |\n        }\n    }\n",
        offered: &["ignore", "include"],
        not: &["exec"],
    },
    Case {
        after: "}\nprofile",
        insert: "|",
        offered: &["profile", "service"],
        not: &["image"],
    },
    Case {
        after: "        restart \"always\"\n",
        insert: "        |\n",
        offered: &["image", "scale"],
        not: &["profile"],
    },
    // Not KDL (the string is open): the names come from the last text that parsed.
    Case {
        after: IN_API,
        insert: "    depends-on \"d|\n",
        offered: &["db"],
        not: &[],
    },
    Case {
        after: "secret \"token\" file=\"./token.txt\"\n",
        insert: "|\n",
        offered: &["service", "profile", "include", "volume"],
        not: &["image"],
    },
];

#[test]
fn the_language_server_completes_hovers_navigates_renames_and_fixes() {
    let dir = temp_dir("lsp-features");
    let path = dir.join("stack.kdl");
    let more = dir.join("more.kdl");
    let uri = format!("file://{}", path.display());
    let more_uri = format!("file://{}", more.display());
    let write =
        |p: &std::path::Path, t: &str| std::fs::write(p, t).unwrap_or_else(|e| panic!("{e}"));
    write(&path, BASE);
    write(&more, MORE);
    write(&dir.join("token.txt"), "s3cret\n");
    write(&dir.join(".env"), "TAG=1.2\nDB_PASSWORD=x\n");
    let mut s = Server::start(&dir, std::time::Duration::from_secs(20));
    let init = s.initialize(json!({}));
    let caps = &init["result"]["capabilities"];
    for cap in [
        "hoverProvider",
        "definitionProvider",
        "referencesProvider",
        "codeActionProvider",
        "foldingRangeProvider",
    ] {
        assert_eq!(caps[cap], true, "{cap}: {caps}");
    }
    s.open(&uri, BASE);
    // The base is valid; the profile brings a warning, and says so.
    let published = s.wait(|m| m["method"] == "textDocument/publishDiagnostics");
    let diags = &published["params"]["diagnostics"];
    assert_eq!(
        diags[0]["code"], "stackr::dependency-not-restarted",
        "{published}"
    );
    let message = diags[0]["message"].as_str().unwrap_or("");
    assert!(
        message.ends_with("\nnote: found with `--profile prod`"),
        "{message}"
    );
    assert_eq!(diags.as_array().map(Vec::len), Some(1), "{published}");
    let mut id = 10;
    let mut version = 2;
    let mut change = |s: &mut Server, text: &str| {
        s.change(&uri, version, text);
        version += 1;
    };

    // Completion.
    for case in CASES {
        let at = BASE
            .find(case.after)
            .unwrap_or_else(|| panic!("{}", case.after))
            + case.after.len();
        let marked = format!("{}{}{}", &BASE[..at], case.insert, &BASE[at..]);
        let cursor = marked.find('|').unwrap_or(0);
        let text = marked.replacen('|', "", 1);
        change(&mut s, &text);
        id += 1;
        let answer = s.request(
            id,
            "textDocument/completion",
            json!({"textDocument": {"uri": uri}, "position": pos(&text, cursor)}),
        );
        let labels: Vec<&str> = strings(&answer["result"], "label");
        for want in case.offered {
            assert!(
                labels.contains(want),
                "`{want}` not offered at {:?}: {labels:?}",
                case.insert
            );
        }
        for not in case.not {
            assert!(
                !labels.contains(not),
                "`{not}` offered at {:?}: {labels:?}",
                case.insert
            );
        }
    }
    change(&mut s, BASE);

    // Hover: the reference text, the value after profiles, a variable, a property.
    let mut hover = |s: &mut Server, needle: &str, within: usize| {
        id += 1;
        let at = BASE.find(needle).unwrap_or_else(|| panic!("{needle}")) + within;
        let answer = s.request(
            id,
            "textDocument/hover",
            json!({"textDocument": {"uri": uri}, "position": pos(BASE, at)}),
        );
        answer["result"]["contents"]["value"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let restart = hover(&mut s, "restart \"no\"", 2);
    assert!(restart.contains("## restart"), "{restart}");
    assert!(
        restart.contains("`--profile prod`: `restart \"always\"`"),
        "{restart}"
    );
    assert!(
        restart.contains("without a profile: `restart \"no\"`"),
        "{restart}"
    );
    let tag = hover(&mut s, "${TAG}", 3);
    assert_eq!(tag, "`TAG` = `1.2` (from .env)");
    let condition = hover(&mut s, "condition=", 2);
    assert!(
        condition.starts_with("`condition=\"started\"`"),
        "{condition}"
    );
    let interval = hover(&mut s, "interval", 1);
    assert!(interval.contains("time between two checks"), "{interval}");

    // Definition, across the include.
    id += 1;
    let at = BASE.find("\"db\"").unwrap_or(0) + 2;
    let def = s.request(
        id,
        "textDocument/definition",
        json!({"textDocument": {"uri": uri}, "position": pos(BASE, at)}),
    );
    assert_eq!(
        def["result"],
        json!([{"uri": more_uri, "range": {"start": {"line": 0, "character": 9}, "end": {"line": 0, "character": 11}}}])
    );
    // References of a network: its declaration and its use.
    id += 1;
    let at = BASE.find("network \"back\"").unwrap_or(0) + 10;
    let refs = s.request(
        id,
        "textDocument/references",
        json!({"textDocument": {"uri": uri}, "position": pos(BASE, at), "context": {"includeDeclaration": true}}),
    );
    let lines: Vec<u64> = refs["result"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["range"]["start"]["line"].as_u64())
        .collect();
    assert_eq!(lines, [2, 9]);
    // Rename a volume: the declaration and the mount.
    id += 1;
    let at = BASE.find("volume \"data\"").unwrap_or(0) + 9;
    let renamed = s.request(
        id,
        "textDocument/rename",
        json!({"textDocument": {"uri": uri}, "position": pos(BASE, at), "newName": "pgdata"}),
    );
    let edits = renamed["result"]["changes"][&uri]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut after = BASE.to_string();
    let mut sorted: Vec<(usize, usize)> = edits
        .iter()
        .map(|e| {
            let line = |p: &Value| p["line"].as_u64().unwrap_or(0) as usize;
            let ch = |p: &Value| p["character"].as_u64().unwrap_or(0) as usize;
            let start = &e["range"]["start"];
            let offset = BASE
                .split_inclusive('\n')
                .take(line(start))
                .map(str::len)
                .sum::<usize>()
                + ch(start);
            (offset, ch(&e["range"]["end"]) - ch(start))
        })
        .collect();
    sorted.sort_unstable();
    for (offset, len) in sorted.into_iter().rev() {
        after.replace_range(offset..offset + len, "pgdata");
    }
    assert_eq!(after, BASE.replace("\"data\"", "\"pgdata\""));
    id += 1;
    let refused = s.request(
        id,
        "textDocument/rename",
        json!({"textDocument": {"uri": uri}, "position": pos(BASE, at), "newName": "no good"}),
    );
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("not a name"),
        "{refused}"
    );

    // Code actions: the diagnostics' fixes.
    let typos = BASE.replace("    restart \"no\"\n", "    restrt \"no\"\n    init true\n");
    change(&mut s, &typos);
    let published = s.wait(|m| {
        m["method"] == "textDocument/publishDiagnostics"
            && m["params"]["diagnostics"]
                .as_array()
                .is_some_and(|d| !d.is_empty())
    });
    let diags = published["params"]["diagnostics"].clone();
    id += 1;
    let actions = s.request(
        id,
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri}, "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "context": {"diagnostics": diags}}),
    );
    let titles: Vec<&str> = strings(&actions["result"], "title");
    assert_eq!(titles, ["Replace `true` with `#true`"], "{actions}");
    let fixed = typos.replace("init true", "init #true");
    change(&mut s, &fixed);
    let published = s.wait(|m| m["method"] == "textDocument/publishDiagnostics");
    let diags = published["params"]["diagnostics"].clone();
    id += 1;
    let actions = s.request(
        id,
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri}, "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "context": {"diagnostics": diags}}),
    );
    let action = &actions["result"][0];
    assert_eq!(
        action["title"], "Replace `restrt` with `restart`",
        "{actions}"
    );
    let edit = &action["edit"]["changes"][&uri][0];
    assert_eq!(edit["newText"], "restart");
    assert_eq!(edit["range"]["start"], json!({"line": 7, "character": 4}));

    // Folding: the blocks that span lines.
    id += 1;
    let folds = s.request(
        id,
        "textDocument/foldingRange",
        json!({"textDocument": {"uri": uri}}),
    );
    let starts: Vec<u64> = folds["result"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["startLine"].as_u64())
        .collect();
    assert_eq!(starts, [5, 12, 17, 18]);

    // Semantic tokens: five numbers each; the file starts with a node name (type 0,
    // `stack`, 5 wide) and its string (type 2).
    id += 1;
    let tokens = s.request(
        id,
        "textDocument/semanticTokens/full",
        json!({"textDocument": {"uri": uri}}),
    );
    let data: Vec<u64> = tokens["result"]["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_u64)
        .collect();
    assert!(data.len() > 50 && data.len().is_multiple_of(5), "{tokens}");
    assert_eq!(&data[..10], [0, 0, 5, 0, 0, 0, 6, 6, 2, 0]);

    id += 1;
    s.request(id, "shutdown", json!(null));
    s.notify("exit", json!(null));
    let status = s.child.wait().unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success(), "{status}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The diagnostics published for each of `uris`, the next time each is published.
fn published(s: &Server, uris: &[&str]) -> std::collections::BTreeMap<String, Vec<Value>> {
    let mut out = std::collections::BTreeMap::new();
    while out.len() < uris.len() {
        let m = s.wait(|m| {
            m["method"] == "textDocument/publishDiagnostics"
                && uris.contains(&m["params"]["uri"].as_str().unwrap_or(""))
        });
        let uri = m["params"]["uri"].as_str().unwrap_or("").to_string();
        let list = m["params"]["diagnostics"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        out.insert(uri, list);
    }
    out
}

/// The `key` strings of the items of the array `list`, in order.
fn strings<'a>(list: &'a Value, key: &str) -> Vec<&'a str> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item[key].as_str())
        .collect()
}

/// The codes of some diagnostics, in order.
fn codes(list: &[Value]) -> Vec<&str> {
    list.iter().filter_map(|d| d["code"].as_str()).collect()
}

/// A stack file is checked again when what it reads changes: its `.env` open and unsaved (and
/// the `.env` gets diagnostics of its own), an included file open, then closed (the disk
/// again), then changed on the disk (the server asked the client to watch the files). The
/// stack file's features are not offered on a `.env`.
#[test]
fn the_language_server_follows_the_env_file_and_the_includes() {
    let dir = temp_dir("lsp-env");
    let stack = dir.join("stack.kdl");
    let more = dir.join("more.kdl");
    let env = dir.join(".env");
    let text = "stack \"envs\"\ninclude \"more.kdl\"\nservice \"web\" {\n    image \"nginx${STACKR_LSP_TEST_TAG}\"\n    networks \"back\"\n}\n";
    std::fs::write(&stack, text).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&more, "network \"front\"\n").unwrap_or_else(|e| panic!("{e}"));
    let uri = |p: &std::path::Path| format!("file://{}", p.display());
    let (stack_uri, more_uri, env_uri) = (uri(&stack), uri(&more), uri(&env));
    let mut s = Server::start(&dir, std::time::Duration::from_secs(20));
    s.initialize(json!({"workspace": {"didChangeWatchedFiles": {"dynamicRegistration": true}}}));
    let register = s.wait(|m| m["method"] == "client/registerCapability");
    let registration = &register["params"]["registrations"][0];
    assert_eq!(registration["method"], "workspace/didChangeWatchedFiles");
    let globs: Vec<&str> = strings(&registration["registerOptions"]["watchers"], "globPattern");
    assert_eq!(globs, ["**/*.kdl", "**/.env"]);
    s.send(json!({"jsonrpc": "2.0", "id": register["id"], "result": null}));

    s.open(&stack_uri, text);
    let found = published(&s, &[&stack_uri]);
    assert_eq!(
        codes(&found[&stack_uri]),
        ["stackr::unset-variable", "stackr::unknown-reference"],
        "{found:#?}"
    );

    // The `.env` as the editor has it, unsaved: the variable is set.
    s.open(&env_uri, "STACKR_LSP_TEST_TAG=1.27\n");
    let found = published(&s, &[&stack_uri, &env_uri]);
    assert_eq!(codes(&found[&stack_uri]), ["stackr::unknown-reference"]);
    assert_eq!(found[&env_uri], Vec::<Value>::new());
    // A line of it that is not `KEY=value`: its own diagnostic, at its line; the variable
    // above it still counts.
    s.change(&env_uri, 2, "STACKR_LSP_TEST_TAG=1.27\nnot a line\n");
    let found = published(&s, &[&stack_uri, &env_uri]);
    assert_eq!(codes(&found[&stack_uri]), ["stackr::unknown-reference"]);
    let env_diags = &found[&env_uri];
    assert_eq!(env_diags.len(), 1, "{env_diags:#?}");
    assert_eq!(env_diags[0]["range"]["start"]["line"], 1);
    assert!(
        env_diags[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("invalid env file")),
        "{env_diags:#?}"
    );
    // A `.env` is not a stack file: no completion, formatting or tokens there.
    let answer = s.request(
        2,
        "textDocument/completion",
        json!({"textDocument": {"uri": env_uri}, "position": {"line": 0, "character": 0}}),
    );
    assert_eq!(answer["result"], Value::Null, "{answer}");

    // The include, open and unsaved, declares the network; closed, the disk's does not.
    s.open(&more_uri, "network \"front\"\nnetwork \"back\"\n");
    let found = published(&s, &[&stack_uri, &more_uri]);
    assert_eq!(codes(&found[&stack_uri]), Vec::<&str>::new());
    s.notify(
        "textDocument/didClose",
        json!({"textDocument": {"uri": more_uri}}),
    );
    let found = published(&s, &[&stack_uri, &more_uri]);
    assert_eq!(codes(&found[&stack_uri]), ["stackr::unknown-reference"]);
    assert_eq!(found[&more_uri], Vec::<Value>::new());

    // Changed on the disk, as a checkout would: the client says so, and it is checked again.
    std::fs::write(&more, "network \"back\"\n").unwrap_or_else(|e| panic!("{e}"));
    s.notify(
        "workspace/didChangeWatchedFiles",
        json!({"changes": [{"uri": more_uri, "type": 2}]}),
    );
    let found = published(&s, &[&stack_uri]);
    assert_eq!(codes(&found[&stack_uri]), Vec::<&str>::new());

    let shutdown = s.request(3, "shutdown", json!(null));
    assert_eq!(shutdown["result"], Value::Null);
    s.notify("exit", json!(null));
    let _ = s.child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A file that a `stack.kdl` above it includes is checked as part of that stack, on its own
/// text: the names it uses are declared in the stack file, which neither diagnostics,
/// completion nor go to definition may miss. A change to the stack file, open, checks it
/// again.
#[test]
fn an_included_file_is_checked_as_part_of_its_stack() {
    let dir = temp_dir("lsp-include");
    std::fs::create_dir_all(dir.join("services")).unwrap_or_else(|e| panic!("{e}"));
    let stack = dir.join("stack.kdl");
    let api = dir.join("services/api.kdl");
    let stack_text = "stack \"inc\"\nnetwork \"back\"\ninclude \"services/api.kdl\"\nservice \"db\" { image \"postgres\"; networks \"back\"; }\n";
    let api_text =
        "service \"api\" {\n    image \"api\"\n    networks \"back\"\n    depends-on \"dbb\"\n}\n";
    std::fs::write(&stack, stack_text).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&api, api_text).unwrap_or_else(|e| panic!("{e}"));
    let uri = |p: &std::path::Path| format!("file://{}", p.display());
    let (stack_uri, api_uri) = (uri(&stack), uri(&api));
    let mut s = Server::start(&dir, std::time::Duration::from_secs(20));
    s.initialize(json!({}));
    s.open(&api_uri, api_text);
    let found = published(&s, &[&api_uri]);
    let list = &found[&api_uri];
    assert_eq!(codes(list), ["stackr::unknown-reference"], "{list:#?}");
    let message = list[0]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("`dbb`") && message.contains("`db`"),
        "{message}"
    );
    assert_eq!(list[0]["range"]["start"]["line"], 3);

    // Completion of a network in the included file offers the stack file's.
    let line = api_text.lines().nth(2).unwrap_or("");
    let answer = s.request(
        2,
        "textDocument/completion",
        json!({"textDocument": {"uri": api_uri}, "position": {"line": 2, "character": line.len() - 1}}),
    );
    let labels: Vec<&str> = strings(&answer["result"], "label");
    assert!(labels.contains(&"back"), "{labels:?}");
    // Its definition is in the stack file.
    let answer = s.request(
        3,
        "textDocument/definition",
        json!({"textDocument": {"uri": api_uri}, "position": {"line": 2, "character": line.len() - 3}}),
    );
    assert_eq!(answer["result"][0]["uri"], stack_uri, "{answer}");
    assert_eq!(answer["result"][0]["range"]["start"]["line"], 1, "{answer}");

    // The stack file open, its network renamed without saving: the included file's use of
    // it is now unknown.
    s.open(&stack_uri, stack_text);
    published(&s, &[&stack_uri, &api_uri]);
    let renamed = stack_text.replace("network \"back\"", "network \"front\"");
    s.change(&stack_uri, 2, &renamed);
    let found = published(&s, &[&stack_uri, &api_uri]);
    assert_eq!(
        codes(&found[&api_uri]),
        ["stackr::unknown-reference", "stackr::unknown-reference"],
        "{found:#?}"
    );
    assert_eq!(codes(&found[&stack_uri]), ["stackr::unknown-reference"]);
    // Completion in the included file offers the new name.
    let answer = s.request(
        4,
        "textDocument/completion",
        json!({"textDocument": {"uri": api_uri}, "position": {"line": 2, "character": line.len() - 1}}),
    );
    let labels = strings(&answer["result"], "label");
    assert!(
        labels.contains(&"front") && !labels.contains(&"back"),
        "{labels:?}"
    );
    let _ = s.request(5, "shutdown", json!(null));
    s.notify("exit", json!(null));
    let _ = s.child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
