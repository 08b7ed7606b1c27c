//! Where the bytes come from: a local file, a byte slice, or (later) HTTP Range requests.
//!
//! The readers in this module ask for few, large, record-aligned reads (the DAF file
//! record, a summary record with its name record, a block of a CK segment), so a remote
//! implementation maps each [`ByteSource::read_at`] call to one Range request.

use std::io::{Read, Seek, SeekFrom};

/// `n` bytes at `offset` of `src` (record `record` of `file`, for the message).
pub fn read_bytes<S: ByteSource + ?Sized>(
    src: &mut S,
    file: &str,
    record: u64,
    offset: u64,
    n: usize,
) -> Result<Vec<u8>, super::Error> {
    let mut buf = vec![0u8; n];
    src.read_at(offset, &mut buf)
        .map_err(|source| super::Error::Io {
            file: file.into(),
            record,
            source,
        })?;
    Ok(buf)
}

/// The first 1,024-byte record of `src` (or all of a shorter source).
pub fn read_head<S: ByteSource + ?Sized>(src: &mut S, file: &str) -> Result<Vec<u8>, super::Error> {
    let n = src.len().min(1024) as usize;
    read_bytes(src, file, 1, 0, n)
}

/// Random access to the bytes of one kernel.
pub trait ByteSource {
    /// Total length in bytes.
    fn len(&self) -> u64;

    /// Whether the source holds no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Fills `buf` with the bytes at `offset..offset + buf.len()`. Reading past the end
    /// is an error (`UnexpectedEof`); callers check [`ByteSource::len`] first.
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> std::io::Result<()>;
}

impl ByteSource for std::fs::File {
    fn len(&self) -> u64 {
        // A file whose metadata cannot be read is treated as empty: the reader then
        // reports it as truncated at record 1, naming the file.
        self.metadata().map(|m| m.len()).unwrap_or(0)
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.seek(SeekFrom::Start(offset))?;
        self.read_exact(buf)
    }
}

impl ByteSource for &[u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        let start = usize::try_from(offset).ok();
        let range = start.and_then(|s| Some(s..s.checked_add(buf.len())?));
        match range.and_then(|r| self.get(r)) {
            Some(bytes) => {
                buf.copy_from_slice(bytes);
                Ok(())
            }
            None => Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "read past the end of the bytes",
            )),
        }
    }
}

impl<S: ByteSource + ?Sized> ByteSource for &mut S {
    fn len(&self) -> u64 {
        (**self).len()
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        (**self).read_at(offset, buf)
    }
}

/// A [`ByteSource`] that counts what is asked of the source it wraps (tests and
/// benchmarks use it to prove that only the needed records are read).
#[derive(Debug)]
pub struct Counting<S> {
    inner: S,
    bytes: u64,
    reads: u64,
}

impl<S> Counting<S> {
    pub fn new(inner: S) -> Self {
        Counting {
            inner,
            bytes: 0,
            reads: 0,
        }
    }

    /// Bytes requested so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes
    }

    /// `read_at` calls so far (what a remote source would pay in round trips).
    pub fn reads(&self) -> u64 {
        self.reads
    }

    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: ByteSource> ByteSource for Counting<S> {
    fn len(&self) -> u64 {
        self.inner.len()
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.reads += 1;
        self.bytes += buf.len() as u64;
        self.inner.read_at(offset, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_reads_and_refuses_past_end() {
        let bytes: Vec<u8> = (0..10).collect();
        let mut src: &[u8] = &bytes;
        let mut buf = [0u8; 3];
        src.read_at(7, &mut buf).unwrap();
        assert_eq!(buf, [7, 8, 9]);
        assert!(src.read_at(8, &mut buf).is_err());
        assert!(src.read_at(u64::MAX, &mut buf).is_err());
    }

    #[test]
    fn counting_counts() {
        let bytes = [0u8; 100];
        let mut c = Counting::new(&bytes[..]);
        let mut buf = [0u8; 10];
        c.read_at(0, &mut buf).unwrap();
        c.read_at(50, &mut buf).unwrap();
        assert_eq!((c.reads(), c.bytes_read()), (2, 20));
    }
}
