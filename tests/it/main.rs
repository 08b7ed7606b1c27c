//! The integration test binary: one module per area, shared helpers in `common`.

mod acquire;
mod common;
mod crash;
mod fetch;
mod foundation;
mod http_server_selftest;
mod listing_apache;
mod lockfile;
mod metakernel_cli;
mod metakernel_conformance;
