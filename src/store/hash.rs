//! SHA-256 of files and streams. sha2 uses SHA-NI when the CPU has it.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use sha2::{Digest, Sha256};

/// A SHA-256 digest as 64 lower-case hex digits (the content identity).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Sha256Hex(String);

impl Sha256Hex {
    pub fn from_digest(bytes: [u8; 32]) -> Self {
        let mut s = String::with_capacity(64);
        for b in bytes {
            s.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
            s.push(char::from_digit(u32::from(b & 0xf), 16).unwrap_or('0'));
        }
        Sha256Hex(s)
    }

    /// Parses 64 hex digits (any case); `None` otherwise.
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| Sha256Hex(s.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sha256Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

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

    #[test]
    fn parse_rejects_short_and_non_hex() {
        assert!(Sha256Hex::parse("abc").is_none());
        assert!(Sha256Hex::parse(&"g".repeat(64)).is_none());
        assert_eq!(
            Sha256Hex::parse(&"A".repeat(64)).unwrap().as_str(),
            "a".repeat(64)
        );
    }
}
