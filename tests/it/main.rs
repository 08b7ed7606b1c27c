//! The integration test binary: one module per area, shared helpers in `common`.
#![allow(clippy::print_stdout, clippy::print_stderr, clippy::too_many_lines)]

mod acquire;
mod common;
mod crash;
mod fetch;
mod foundation;
mod http_server_selftest;
mod human_output;
mod integrity;
mod json_contract;
mod listing_apache;
mod metakernel_cli;
mod metakernel_conformance;
mod progress;
mod shape;
