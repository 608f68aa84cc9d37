//! Parse, decode, validate and render: none of it may panic, whatever the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use miette::{GraphicalReportHandler, GraphicalTheme};
use stackr_spec::{Options, load_str};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let loaded = load_str("/fuzz/stack.kdl", text, &Options::default());
    let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor());
    for d in &loaded.diagnostics {
        let mut out = String::new();
        let _ = handler.render_report(&mut out, d);
    }
});
