//! Talking to SPICE archives: listings of server directories.

pub mod listing;
