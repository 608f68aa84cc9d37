//! stackr's integration tests: one binary, one module per area.

// The fault trials say what they did, for the one reading a failure.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod architecture;
mod book;
mod cli;
mod cluster;
mod config;
mod daemon;
mod editor;
mod engine;
mod faults;
mod fixtures;
mod format;
mod full_example;
mod hashes;
mod import_corpus;
mod interpolation;
mod json_schema;
mod lsp;
mod lsp_client;
mod merge;
mod plan_json;
mod recovery;
mod robustness;
mod rolling;
mod schema;
mod seed;
mod support;
mod swarm;
mod watch;
