//! SHA-256 of files and streams. sha2 uses SHA-NI when the CPU has it.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use sha2::{Digest, Sha256};

pub use crate::content::Sha256Hex;

/// Hashes everything `reader` yields; returns the digest and the byte count.
pub fn hash_reader(reader: &mut dyn Read) -> io::Result<(Sha256Hex, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        len += n as u64;
    }
    Ok((Sha256Hex::from_digest(hasher.finalize().into()), len))
}

/// Hashes a file's bytes (following a symlink to its target).
pub fn hash_file(path: &Path) -> io::Result<(Sha256Hex, u64)> {
    let mut file = File::open(path)?;
    hash_reader(&mut file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digest_of_abc() {
        let (h, n) = hash_reader(&mut &b"abc"[..]).unwrap();
        assert_eq!(n, 3);
        assert_eq!(
            h.as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
