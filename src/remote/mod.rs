//! Talking to SPICE archives: listings of server directories and the HTTP/file
//! client that fetches metakernels and downloads kernels.

pub mod auth;
pub mod failover;
pub mod fetch;
pub mod listing;
pub mod listings;
pub mod mirror;
pub mod plan;
pub mod probe;
