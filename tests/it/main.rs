//! stackr's integration tests: one binary, one module per area.

mod book;
mod cli;
mod fixtures;
mod robustness;
mod support;
