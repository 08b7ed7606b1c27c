//! The integration test binary: one module per area, shared helpers in `common`.

mod acquire;
mod common;
mod coverage_reader;
mod crash;
mod fetch;
mod foundation;
mod http_server_selftest;
mod listing_apache;
mod metakernel_cli;
mod metakernel_conformance;
