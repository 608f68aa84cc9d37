//! The spec crate never panics: every prefix and many mutations of every fixture load (to a
//! stack or to diagnostics) and every diagnostic renders.

use stackr_spec::{Options, load_str};

use crate::support::{render_all, root};

fn fixtures() -> Vec<String> {
    let mut out = Vec::new();
    for dir in ["tests/fixtures/valid", "tests/fixtures/invalid"] {
        let Ok(entries) = std::fs::read_dir(root().join(dir)) else {
            continue;
        };
        for e in entries.flatten() {
            if let Ok(text) = std::fs::read_to_string(e.path()) {
                out.push(text);
            }
        }
    }
    out
}

fn check(text: &str) {
    let loaded = load_str("/fuzz/stack.kdl", text, &Options::default());
    let rendered = render_all(&loaded);
    assert!(
        loaded.stack.is_some() || !loaded.diagnostics.is_empty(),
        "neither a stack nor a diagnostic for:\n{text}"
    );
    let _ = rendered;
}

#[test]
fn every_prefix_of_every_fixture() {
    let files = fixtures();
    assert!(files.len() > 40);
    for text in &files {
        let cuts: Vec<usize> = (0..=text.len())
            .filter(|i| text.is_char_boundary(*i))
            .step_by(2)
            .collect();
        for cut in cuts {
            check(&text[..cut]);
        }
    }
}

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn mutations_of_every_fixture() {
    const PIECES: &[&str] = &[
        "\"",
        "{",
        "}",
        "=",
        "#true",
        "#null",
        "0o777",
        "-1",
        "99999999999999999999",
        "\"\"",
        "(secret)",
        "\n",
        ";",
        "\"a:b:c:d\"",
        "\"1e400s\"",
        "\"-5m\"",
        "é",
        "\\",
        "/*",
        "*/",
        "depends-on \"x\"",
        "port \"0:0\"",
        "service \"s\" {}",
    ];
    let mut rng = Rng(0x5eed_cafe);
    for text in fixtures() {
        for _ in 0..50 {
            let mut s = text.clone();
            for _ in 0..1 + rng.below(3) {
                let mut at = rng.below(s.len() + 1);
                while !s.is_char_boundary(at) {
                    at -= 1;
                }
                if rng.below(2) == 0 {
                    s.insert_str(at, PIECES[rng.below(PIECES.len())]);
                } else {
                    let mut end = (at + 1 + rng.below(8)).min(s.len());
                    while !s.is_char_boundary(end) {
                        end += 1;
                    }
                    s.replace_range(at..end, "");
                }
            }
            check(&s);
        }
    }
}

// Hostile input: each case is refused with its diagnostic, within a time bound (generous: this
// is a debug build on a test thread's 2 MiB stack), never by a crash or an abort.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use stackr_spec::interpolate::parse_dotenv_all;
use stackr_spec::limits::{MAX_FILE_BYTES, MAX_FILES};
use stackr_spec::{FileReader, Loaded, MemoryReader, Problem, ReadError, load};

/// Runs `f` on a thread with the test harness's stack size and fails when it takes longer
/// than `secs` seconds.
fn within<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let _ = tx.send(f());
        })
        .unwrap_or_else(|e| panic!("{e}"));
    rx.recv_timeout(Duration::from_secs(secs))
        .unwrap_or_else(|_| panic!("did not finish within {secs} s (or panicked)"))
}

fn codes(loaded: &Loaded) -> Vec<&'static str> {
    loaded
        .diagnostics
        .iter()
        .map(|d| d.problem.code())
        .collect()
}

fn load_text(text: String) -> Loaded {
    within(30, move || {
        let loaded = load_str("/hostile/stack.kdl", &text, &Options::default());
        let _ = render_all(&loaded);
        loaded
    })
}

#[test]
fn deep_nesting_is_one_diagnostic_not_a_stack_overflow() {
    let n = 100_000;
    let nested = format!("{}{}", "x { ".repeat(n), "}".repeat(n));
    for text in [
        format!("service \"a\" {{\n image \"x\"\n {nested}\n}}\n"),
        format!("service \"a\" {{\n image \"x\"\n env {{ {nested} }}\n}}\n"),
        nested.clone(),
        format!("profile \"p\" {{ {nested} }}\n"),
        format!("/- {nested}\n"),
    ] {
        assert_eq!(codes(&load_text(text)), ["too-deep"]);
    }
    let comments = format!("{}{}", "/* ".repeat(n), "*/ ".repeat(n));
    assert_eq!(codes(&load_text(comments)), ["too-deep"]);
    for prefix in ["/- ", "(t)"] {
        let text = format!("service \"a\" {{ image \"x\" }}\na {}1\n", prefix.repeat(n));
        assert_eq!(codes(&load_text(text)), ["too-many"]);
    }
}

#[test]
fn an_integer_past_128_bits_is_one_diagnostic() {
    let text = format!(
        "service \"a\" {{\n image \"x\"\n scale {}\n}}\n",
        "9".repeat(200)
    );
    assert_eq!(codes(&load_text(text)), ["number-too-large"]);
}

#[test]
fn an_env_file_expansion_bomb_stops_at_the_value_limit() {
    // Each variable is ten copies of the one before: the 30th would be 10^31 bytes.
    let mut text = String::from("V0=xxxxxxxxxx\n");
    for i in 1..30 {
        text.push_str(&format!("V{i}={}\n", format!("${{V{}}}", i - 1).repeat(10)));
    }
    let d = within(30, move || parse_dotenv_all(&text, &BTreeMap::new()));
    assert!(
        d.errors
            .iter()
            .any(|e| e.reason.contains("longer than 1 MiB")),
        "{:?}",
        d.errors
    );
    let total: usize = d.vars.iter().map(|(_, v)| v.len()).sum();
    assert!(total <= stackr_spec::limits::MAX_INTERPOLATED_BYTES);
}

#[test]
fn an_interpolation_bomb_stops_at_the_file_limit() {
    let mut text = String::from("service \"a\" {\n image \"x\"\n env {\n");
    for i in 0..2000 {
        text.push_str(&format!("  E{i} \"{}\"\n", "${BIG}".repeat(1000)));
    }
    text.push_str(" }\n}\n");
    let loaded = within(60, move || {
        let vars = [("BIG".to_string(), "x".repeat(100_000))].into();
        let opts = Options {
            vars: Some(vars),
            ..Options::default()
        };
        load_str("/hostile/stack.kdl", &text, &opts)
    });
    let codes = codes(&loaded);
    assert_eq!(codes.last(), Some(&"too-much-interpolation"), "{codes:?}");
    assert!(codes.len() <= 20, "{codes:?}");
}

#[test]
fn many_unset_variables_in_one_value_cost_linear_time() {
    let value: String = (0..100_000).map(|i| format!("${{U{i}}}")).collect();
    let text = format!("service \"a\" {{\n image \"x\"\n command \"{value}\"\n}}\n");
    let loaded = within(60, move || {
        let opts = Options {
            vars: Some(BTreeMap::new()),
            ..Options::default()
        };
        load_str("/hostile/stack.kdl", &text, &opts)
    });
    assert_eq!(loaded.diagnostics.len(), 100_000);
}

/// Reads bytes from memory, as the disk reader would give them.
struct Bytes(BTreeMap<PathBuf, Vec<u8>>);

impl FileReader for Bytes {
    fn read(&self, path: &Path) -> Result<Vec<u8>, ReadError> {
        self.0.get(path).cloned().ok_or(ReadError::NotFound)
    }
}

fn load_bytes(files: Vec<(&str, Vec<u8>)>) -> Loaded {
    let entry = PathBuf::from(files[0].0);
    let reader = Bytes(
        files
            .into_iter()
            .map(|(p, b)| (PathBuf::from(p), b))
            .collect(),
    );
    within(30, move || {
        let loaded = load(&[entry], &reader, &Options::default());
        let _ = render_all(&loaded);
        loaded
    })
}

#[test]
fn bad_encodings_are_reported_at_the_first_bad_byte() {
    let mut latin1 = b"service \"caf".to_vec();
    latin1.extend([0xE9, b'"', b' ', b'{', b'}', b'\n']);
    let utf16: Vec<u8> = "service \"a\" { image \"x\" }\n"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let with_bom: Vec<u8> = [0xFF, 0xFE].into_iter().chain(utf16.clone()).collect();
    let mut shown = String::new();
    for (name, bytes, offset) in [
        ("latin1", latin1, 12),
        ("utf16", utf16, 1),
        ("utf16-bom", with_bom, 0),
    ] {
        let loaded = load_bytes(vec![("/hostile/stack.kdl", bytes)]);
        let d = &loaded.diagnostics[..];
        assert_eq!(d.len(), 1, "{name}");
        assert_eq!(d[0].problem.code(), "encoding", "{name}");
        assert_eq!(d[0].primary().map(|s| s.offset), Some(offset), "{name}");
        shown.push_str(&format!("--- {name}\n{}", render_all(&loaded)));
    }
    insta::assert_snapshot!(shown);
}

#[test]
fn a_file_past_16_mib_is_refused() {
    let big = vec![b' '; MAX_FILE_BYTES as usize + 1];
    let loaded = load_bytes(vec![("/hostile/stack.kdl", big)]);
    assert!(matches!(
        loaded.diagnostics[0].problem,
        Problem::Unreadable {
            error: ReadError::TooLarge { .. },
            ..
        }
    ));
}

#[test]
fn including_past_the_file_limit_is_refused() {
    let mut files = Vec::new();
    for i in 0..MAX_FILES + 10 {
        files.push((
            format!("/hostile/f{i}.kdl"),
            format!("include \"f{}.kdl\"\n", i + 1).into_bytes(),
        ));
    }
    let files = files.iter().map(|(p, b)| (p.as_str(), b.clone())).collect();
    let loaded = load_bytes(files);
    assert_eq!(codes(&loaded), ["too-many-files"]);
}

#[test]
fn a_chain_of_files_each_included_twice_is_read_once_each() {
    // Followed blindly this is 2^40 reads.
    let k = 40;
    let mut reader = MemoryReader::default();
    for i in 0..k {
        let next = format!("f{}.kdl", i + 1);
        reader.files.insert(
            PathBuf::from(format!("/hostile/f{i}.kdl")),
            format!("include \"{next}\"\ninclude \"{next}\"\n"),
        );
    }
    reader.files.insert(
        PathBuf::from(format!("/hostile/f{k}.kdl")),
        "service \"z\" { image \"x\" }\n".into(),
    );
    let loaded = within(30, move || {
        load(
            &[PathBuf::from("/hostile/f0.kdl")],
            &reader,
            &Options::default(),
        )
    });
    assert!(codes(&loaded).iter().all(|c| *c == "included-twice"));
    assert_eq!(loaded.sources.len(), k + 1);
}

#[test]
fn twenty_thousand_errors_load_and_render_in_linear_time() {
    let text: String = (0..20_000)
        .map(|i| format!("service \"s{i}\" {{\n imag \"busybox\"\n}}\n"))
        .collect();
    let loaded = within(120, move || {
        let loaded = load_str("/hostile/stack.kdl", &text, &Options::default());
        // What the CLI shows: the first 200.
        for d in loaded.diagnostics.iter().take(200) {
            let _ = crate::support::render(d);
        }
        loaded
    });
    // An unknown node per service (the missing image follows from it and is not repeated).
    assert_eq!(loaded.diagnostics.len(), 20_000);
}

#[test]
fn excerpts_of_a_very_long_line_are_cut_around_the_span() {
    // Minified: a megabyte on one line, with a problem at its end.
    let filler = " ".repeat(1 << 20);
    let text = format!("service \"a\" {{ image \"x\";{filler} imag \"y\" }}\n");
    let loaded = load_text(text);
    let shown = render_all(&loaded);
    assert!(shown.contains("imag"), "{shown}");
    assert!(shown.len() < 4_000, "{} bytes shown", shown.len());
}

#[test]
fn no_control_character_from_the_input_reaches_the_output() {
    let text = "service \"a\u{1b}[2J\u{9b}31m\u{202e}\" {\n image \"x\u{1b}]0;pwned\u{7}\"\n}\nservice \"b\x1b[2J\" {}\n";
    let loaded = load_text(text.to_string());
    let shown = render_all(&loaded);
    assert!(!loaded.diagnostics.is_empty());
    assert!(
        !shown.chars().any(stackr_spec::source::is_hidden_control),
        "{shown:?}"
    );
}

mod yaml {
    use super::within;
    use stackr_import::{Input, import};

    fn codes(text: String) -> Vec<&'static str> {
        within(60, move || {
            let input = Input {
                path: "/hostile/compose.yaml".into(),
                text,
                profile: None,
            };
            let imported = import(&[input]);
            imported
                .diagnostics
                .iter()
                .filter(|d| d.is_error())
                .map(|d| d.problem.code())
                .collect()
        })
    }

    #[test]
    fn billion_laughs_is_refused_at_the_expansion_limit() {
        let mut text = String::from("x-a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..9u8 {
            let (this, prev) = ((b'b' + i) as char, (b'a' + i) as char);
            let refs = vec![format!("*{prev}"); 10].join(", ");
            text.push_str(&format!("x-{this}: &{this} [{refs}]\n"));
        }
        text.push_str("services:\n  web:\n    image: x\n    command: *j\n");
        assert_eq!(codes(text), ["too-large"]);
    }

    #[test]
    fn a_merge_key_bomb_is_refused_at_the_expansion_limit() {
        let mut text = String::from("x-0: &x0 {a: 1, b: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}\n");
        for i in 1..12 {
            text.push_str(&format!("x-{i}: &x{i}\n  <<: *x{}\n", i - 1));
            for j in 0..10 {
                text.push_str(&format!("  k{j}: *x{}\n", i - 1));
            }
        }
        text.push_str("services:\n  web:\n    image: x\n");
        assert_eq!(codes(text), ["too-large"]);
    }

    #[test]
    fn deep_yaml_is_one_diagnostic() {
        for (open, close) in [("[", "]"), ("{a: ", "}")] {
            let n = 100_000;
            let text = format!(
                "services:\n  web:\n    image: x\n    x-deep: {}1{}\n",
                open.repeat(n),
                close.repeat(n)
            );
            let codes = codes(text);
            assert_eq!(codes.len(), 1, "{codes:?}");
        }
    }

    #[test]
    fn a_mapping_with_many_keys_imports_in_linear_time() {
        let mut text = String::from("services:\n  web:\n    image: x\n    environment:\n");
        for i in 0..100_000 {
            text.push_str(&format!("      K{i}: v\n"));
        }
        text.push_str("      K7: again\n");
        assert_eq!(codes(text), ["duplicate"]);
    }
}

mod files {
    use std::process::Command;

    use crate::cli::{run, stackr, temp_dir};

    fn mkfifo(path: &std::path::Path) {
        let ok = Command::new("mkfifo")
            .arg(path)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "mkfifo failed");
    }

    #[test]
    fn fifos_devices_and_directories_are_refused_without_blocking() {
        let dir = temp_dir("hostile-fifo");
        mkfifo(&dir.join("stack.kdl"));
        mkfifo(&dir.join("vars.env"));
        mkfifo(&dir.join("part.kdl"));
        std::fs::create_dir_all(dir.join("sub")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(
            dir.join("sub/stack.kdl"),
            "include \"../part.kdl\"\ninclude \"/dev/zero\"\nsecret \"s\" file=\"/dev/null\"\nsecret \"d\" file=\".\"\nservice \"a\" {\n image \"x\"\n secret \"s\"\n secret \"d\"\n}\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.join("ok.kdl"), "service \"a\" { image \"x\"; }\n")
            .unwrap_or_else(|e| panic!("{e}"));
        let d = dir.clone();
        let (fifo, include, env) = super::within(60, move || {
            (
                run(stackr(&d).args(["-f", "stack.kdl", "check"])),
                run(stackr(&d).args(["-f", "sub/stack.kdl", "check"])),
                run(stackr(&d).args(["-f", "ok.kdl", "--env-file", "vars.env", "check"])),
            )
        });
        assert_eq!(fifo.code, 1);
        assert!(
            fifo.stderr
                .contains("a FIFO (named pipe), not a regular file"),
            "{}",
            fifo.stderr
        );
        assert_eq!(include.code, 1);
        for what in ["part.kdl", "a character device", "a FIFO"] {
            assert!(include.stderr.contains(what), "{what}: {}", include.stderr);
        }
        assert_ne!(env.code, 0);
        assert!(env.stderr.contains("a FIFO"), "{}", env.stderr);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn secret_files_that_are_devices_or_directories_are_named_so() {
        let dir = temp_dir("hostile-secret");
        std::fs::write(
            dir.join("stack.kdl"),
            "secret \"s\" file=\"/dev/null\"\nsecret \"d\" file=\".\"\nservice \"a\" {\n image \"x\"\n secret \"s\"\n secret \"d\"\n}\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let r = run(stackr(&dir).arg("check"));
        assert_eq!(r.code, 1);
        assert!(
            r.stderr
                .contains("it is a character device, not a regular file"),
            "{}",
            r.stderr
        );
        assert!(
            r.stderr.contains("it is a directory, not a regular file"),
            "{}",
            r.stderr
        );
        assert!(!r.stderr.contains("does not exist"), "{}", r.stderr);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn check_shows_the_first_200_problems_and_counts_them_all() {
        let dir = temp_dir("hostile-many");
        let text: String = (0..250)
            .map(|i| format!("service \"s{i}\" {{\n    imag \"x\"\n}}\n"))
            .collect();
        std::fs::write(dir.join("stack.kdl"), text).unwrap_or_else(|e| panic!("{e}"));
        let r = run(stackr(&dir).arg("check"));
        assert_eq!(r.code, 1);
        assert_eq!(r.stderr.matches("stackr::unknown-node").count(), 200);
        assert!(
            r.stderr.contains("... and 50 more problems, not shown"),
            "{}",
            r.stderr
        );
        assert!(
            r.stderr.trim_end().ends_with("is invalid: 250 errors"),
            "{}",
            r.stderr
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn import_prints_no_escape_from_a_compose_file() {
        let dir = temp_dir("hostile-import");
        std::fs::write(
            dir.join("compose.yaml"),
            "services:\n  \"web\\e[2J\":\n    image: x\n  api:\n    image: \"x\\e]0;title\\a\"\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let out = stackr(&dir)
            .args(["import", "compose.yaml"])
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        for stream in [&out.stdout, &out.stderr] {
            assert!(
                !stream.contains(&0x1b),
                "{}",
                String::from_utf8_lossy(stream)
            );
            assert!(
                !stream.contains(&0x07),
                "{}",
                String::from_utf8_lossy(stream)
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Regression: each file's declarations are taken (not copied) when flattened, and a second
/// `-f` file that includes the same file as the first found the first one's emptied copy: what
/// it redefined of the included file was no longer reported.
#[test]
fn two_entry_files_that_include_one_file_both_get_it() {
    let mut reader = MemoryReader::default();
    for (path, text) in [
        (
            "/s/a.kdl",
            "include \"common.kdl\"\nservice \"web\" { image \"x\"; }\n",
        ),
        (
            "/s/b.kdl",
            "include \"common.kdl\"\nservice \"db\" { image \"y\"; }\n",
        ),
        ("/s/common.kdl", "service \"db\" { image \"db\"; }\n"),
    ] {
        reader.files.insert(PathBuf::from(path), text.to_string());
    }
    let entries = [PathBuf::from("/s/a.kdl"), PathBuf::from("/s/b.kdl")];
    let loaded = load(&entries, &reader, &Options::default());
    let shown = render_all(&loaded);
    assert_eq!(codes(&loaded), ["duplicate"], "{shown}");
    assert!(shown.contains("b.kdl"), "{shown}");
}

/// Regression: the `/-` count was reset by a comment between two `/-` (the parser's `/-`
/// swallows comments), and words ran through non-ASCII whitespace.
#[test]
fn slashdash_runs_through_comments_and_unicode_spaces_are_counted() {
    let n = 50_000;
    for text in [
        format!("a {}x\n", "/-/**/ ".repeat(n)),
        format!("a {}x\n", "/-\u{3000}".repeat(n)),
        format!("a {}x\n", "/- \\\n".repeat(n)),
    ] {
        assert_eq!(codes(&load_text(text)), ["too-many"]);
    }
    // Just under the limits, what the parser recurses on parses on a test thread's stack.
    let comment = format!(
        "/* {} */\nservice \"a\" {{ image \"x\"; }}\n",
        " *".repeat(999)
    );
    assert!(codes(&load_text(comment)).is_empty());
}

/// Regression: each `env` node rebuilt a map of the service's variables to find one set twice
/// (20,000 `env` nodes took 16 s); networks, dependencies and ulimits were scanned per node.
/// Repeats are now found once per service.
#[test]
fn many_list_nodes_in_one_service_are_checked_in_linear_time() {
    let n = 20_000;
    let mut text = String::from("service \"a\" {\n image \"x\"\n");
    for i in 0..n {
        text.push_str(&format!(
            " env E{i}=\"1\"\n networks \"n{i}\"\n depends-on \"b{i}\" required=#false\n ulimit \"u{i}\" 1\n"
        ));
    }
    text.push_str(" env E7=\"again\"\n}\n");
    for i in 0..n {
        text.push_str(&format!("network \"n{i}\"\n"));
    }
    let loaded = load_text(text);
    assert_eq!(codes(&loaded), ["set-twice"]);
}
