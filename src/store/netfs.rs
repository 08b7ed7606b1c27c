//! Refusing a home on a network filesystem (DESIGN.md §6: the home stays local).
//!
//! The catalogue is SQLite in WAL mode, whose shared-memory index needs every
//! process on one host, and the home lock is `flock`, which NFS, Lustre, GPFS and SMB
//! honour partially or not at all. A home there corrupts the catalogue under
//! concurrent use, so commands refuse it before opening anything; teams share
//! kernels through a team store instead.
//!
//! The check is `statfs(2)`'s `f_type` on the home (or its nearest existing
//! ancestor, before the first command creates it). Test seam: the environment
//! variable `KDB_TEST_HOME_FSTYPE` (a name below, e.g. `nfs`) stands in for the
//! detected type, so the refusal is testable without a network mount.

use std::path::{Path, PathBuf};

/// `f_type` magic numbers of network filesystems (linux/magic.h, Lustre, GPFS).
const NETWORK: &[(u64, &str)] = &[
    (0x6969, "nfs"),
    (0x0BD0_0BD0, "lustre"),
    (0x4750_4653, "gpfs"),
    (0x517B, "smb"),
    (0xFF53_4D42, "cifs"),
    (0xFE53_4D42, "smb2"),
    (0x5346_414F, "afs"),
];

/// The test seam's variable.
pub const TEST_FSTYPE_ENV: &str = "KDB_TEST_HOME_FSTYPE";

#[derive(Debug, thiserror::Error)]
#[error(
    "the home `{path}` is on a network filesystem ({fs}): kdb's catalogue (SQLite in WAL \
     mode) and its lock need a local disk; set KDB_HOME to a local directory and share \
     kernels through a team store (`[team] stores` in the config file, see docs/team.md)"
)]
pub struct NetworkHome {
    pub path: PathBuf,
    pub fs: &'static str,
}

/// The network filesystem a magic number names, if it is one.
pub fn network_name(magic: u64) -> Option<&'static str> {
    NETWORK.iter().find(|(m, _)| *m == magic).map(|(_, n)| *n)
}

/// Refuses `home` when it (or its nearest existing ancestor) is on a network
/// filesystem. A `statfs` that fails says nothing (the command's own I/O reports it).
pub fn check_home(home: &Path) -> Result<(), NetworkHome> {
    let fs = match std::env::var(TEST_FSTYPE_ENV) {
        Ok(name) if !name.is_empty() => NETWORK.iter().find(|(_, n)| *n == name).map(|(_, n)| *n),
        _ => detect(home),
    };
    match fs {
        Some(fs) => Err(NetworkHome {
            path: home.to_path_buf(),
            fs,
        }),
        None => Ok(()),
    }
}

fn detect(home: &Path) -> Option<&'static str> {
    let existing = home.ancestors().find(|p| p.exists())?;
    let s = rustix::fs::statfs(existing).ok()?;
    #[allow(clippy::cast_sign_loss, clippy::unnecessary_cast)]
    let magic = (s.f_type as i64 as u64) & 0xFFFF_FFFF;
    network_name(magic)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nfs_lustre_gpfs_and_smb_are_network_filesystems() {
        for (magic, name) in [
            (0x6969, "nfs"),
            (0x0BD0_0BD0, "lustre"),
            (0x4750_4653, "gpfs"),
            (0xFF53_4D42, "cifs"),
        ] {
            assert_eq!(network_name(magic), Some(name));
        }
        // ext4, xfs, btrfs, tmpfs, overlayfs.
        for local in [0xEF53, 0x5846_5342, 0x9123_683E, 0x0102_1994, 0x794C_7630] {
            assert_eq!(network_name(local), None);
        }
    }
}
