//! Rendering for people: diagnostics through miette, colour only where it helps.

use std::io::IsTerminal;

use miette::{GraphicalReportHandler, GraphicalTheme};
use stackr_spec::Diagnostic;

/// Where and how output goes.
pub struct Output {
    /// Colour on stderr (diagnostics, progress).
    pub color: bool,
    /// Colour on stdout (log prefixes).
    pub color_stdout: bool,
    pub width: usize,
}

impl Output {
    /// Colour when stderr is a terminal, `--no-color` is not given and `NO_COLOR` is unset.
    pub fn new(no_color: bool) -> Self {
        let env_off = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let tty = std::io::stderr().is_terminal();
        let width = if tty {
            std::env::var("COLUMNS")
                .ok()
                .and_then(|c| c.parse().ok())
                .unwrap_or(100)
        } else {
            100
        };
        Output {
            color: tty && !no_color && !env_off,
            color_stdout: std::io::stdout().is_terminal() && !no_color && !env_off,
            width,
        }
    }

    /// A diagnostic as text: source excerpt, labels, help.
    pub fn diagnostic(&self, d: &Diagnostic) -> String {
        let theme = if self.color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        let handler = GraphicalReportHandler::new_themed(theme)
            .with_width(self.width)
            .with_links(false);
        let mut out = String::new();
        if handler.render_report(&mut out, d).is_err() {
            out = format!("{d}\n");
        }
        out
    }
}

/// The most diagnostics written for one command: past them, a line says how many more there
/// are (the last line still gives the total, and the exit code is the same).
pub const MAX_SHOWN: usize = 200;

impl Output {
    /// Diagnostics as `diagnostic` renders them, each followed by a blank line: the first
    /// [`MAX_SHOWN`], then one line for the rest.
    pub fn diagnostics<'d>(&self, list: impl IntoIterator<Item = &'d Diagnostic>) -> String {
        let mut out = String::new();
        let mut more = 0usize;
        for (i, d) in list.into_iter().enumerate() {
            if i < MAX_SHOWN {
                out.push_str(&self.diagnostic(d));
                out.push('\n');
            } else {
                more += 1;
            }
        }
        if more > 0 {
            let noun = if more == 1 { "problem" } else { "problems" };
            out.push_str(&format!(
                "... and {more} more {noun}, not shown: fix these first\n\n"
            ));
        }
        out
    }
}

pub use stackr_spec::count;
