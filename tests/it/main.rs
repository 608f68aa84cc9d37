//! stackr's integration tests: one binary, one module per area.

mod book;
mod cli;
mod config;
mod daemon;
mod engine;
mod faults;
mod fixtures;
mod hashes;
mod interpolation;
mod merge;
mod plan_json;
mod robustness;
mod support;
mod watch;
