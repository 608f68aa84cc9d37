//! The "Migrating from compose" chapter shows the importer's real output: the stack file and
//! the report for the seed's files, and a rendered diagnostic.

use std::path::{Path, PathBuf};

use stackr_import::{Input, import};

fn chapter() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../book/src/migrating.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn fixture(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_chapter_shows_the_real_import_of_the_seed() {
    let inputs: Vec<Input> = [
        "docker-compose.yml",
        "docker-compose.dev.yml",
        ".docker/docker-compose.prod.yml",
    ]
    .iter()
    .map(|f| Input {
        path: PathBuf::from(f),
        text: fixture(&format!("seed/{f}")),
        profile: None,
    })
    .collect();
    let out = import(&inputs);
    let text = chapter();
    // `kdl,invalid`: the seed's external secrets need a source before `stackr check` passes.
    let kdl = format!("```kdl,invalid\n{}```", out.kdl);
    assert!(
        text.contains(&kdl),
        "the chapter's stack file is not the importer's:\n{}",
        out.kdl
    );
    let report = format!("```text\n{}\n```", out.report.join("\n"));
    assert!(
        text.contains(&report),
        "the chapter's report is not the importer's:\n{report}"
    );
}

#[test]
fn the_chapter_shows_a_real_diagnostic() {
    let text = "services:\n  web:\n    image: nginx\n    enviroment:\n      A: b\n";
    let out = import(&[Input {
        path: PathBuf::from("docker-compose.yml"),
        text: text.into(),
        profile: None,
    }]);
    let handler =
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .with_width(100)
            .with_links(false);
    let mut rendered = String::new();
    for d in &out.diagnostics {
        handler
            .render_report(&mut rendered, d)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let block = format!("```text\n{}```", rendered.trim_start_matches('\n'));
    assert!(chapter().contains(&block), "rendered:\n{rendered}");
}
