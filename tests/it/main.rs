//! The integration test binary: one module per area, shared helpers in `common`.
#![allow(clippy::print_stdout, clippy::print_stderr, clippy::too_many_lines)]

mod acquire;
mod common;
mod coverage_cli;
mod coverage_reader;
mod crash;
mod fetch;
mod foundation;
mod http_server_selftest;
mod human_output;
mod integrity;
mod json_contract;
mod listing_apache;
mod lockfile;
mod metakernel_cli;
mod metakernel_conformance;
mod mirrors;
mod network;
mod newuser;
mod progress;
mod safety_bytes;
mod safety_secrets;
mod safety_store;
mod scale;
mod shape;
mod team;
mod window;
