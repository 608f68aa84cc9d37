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
