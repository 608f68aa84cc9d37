//! Import a compose file and render what it says: none of it may panic, hang or take memory
//! without bound, whatever the input (the YAML builder bounds nesting and alias expansion).
#![no_main]

use libfuzzer_sys::fuzz_target;
use miette::{GraphicalReportHandler, GraphicalTheme};
use stackr_import::{Input, import};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let input = Input {
        path: "/fuzz/compose.yaml".into(),
        text: text.to_string(),
        profile: None,
    };
    let imported = import(std::slice::from_ref(&input));
    let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor());
    for d in &imported.diagnostics {
        let mut out = String::new();
        let _ = handler.render_report(&mut out, d);
    }
});
