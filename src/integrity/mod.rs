//! The checks behind `kdb verify` and the registration gate: published checksum
//! tables ([`checksums`], pure), a structural sanity check of DAF/DAS files ([`daf`],
//! over the reads the caller hands in), and the checks of held files against the
//! catalogue's rows ([`health`]: stat, readlink, and one read per physical file).
//!
//! [`refusal`] is the gate every path that registers bytes as a kernel passes (a
//! download, a bundle member): a kernel, of the format its name promises, whose
//! binary structure agrees with its length (DESIGN.md §3, invariant 10).

pub mod checksums;
pub mod daf;
pub mod health;

use std::path::Path;

use crate::kernel::{self, Detection, Format};

/// Why bytes cannot be registered under a kernel's name.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("not a kernel: {0}")]
    NotKernel(&'static str),
    /// The content is a kernel of another format than the name promises.
    #[error("its bytes are {0}")]
    WrongType(String),
    #[error("broken binary kernel structure: {0}")]
    Structure(daf::Defect),
    #[error("cannot read it")]
    Io(#[source] std::io::Error),
}

/// The checks bytes pass before kdb registers them as the kernel `name` (a
/// download, a bundle member): a kernel ([`kernel::detect`]), of the format its
/// name promises ([`kernel::contradiction`]), and — binary — with a DAF/DAS
/// structure that agrees with its length ([`daf::check`]). `head` is the file's
/// first [`kernel::HEAD_LEN`] bytes (or all of a shorter file).
pub fn refusal(file: &std::fs::File, head: &[u8], name: &str, len: u64) -> Result<(), Refusal> {
    let detection = kind_refusal(head, name, len)?;
    structure_refusal(file, &detection, len)
}

/// The first half of [`refusal`]: a kernel, of the format its name promises.
pub fn kind_refusal(head: &[u8], name: &str, len: u64) -> Result<Detection, Refusal> {
    let detection = kernel::detect(head, name, len);
    if let Detection::NotKernel(reason) = detection {
        return Err(Refusal::NotKernel(reason));
    }
    if let Some(what) = kernel::contradiction(&detection, name) {
        return Err(Refusal::WrongType(what));
    }
    Ok(detection)
}

/// The second half of [`refusal`]: a binary kernel's structure agrees with its length.
pub fn structure_refusal(
    file: &std::fs::File,
    detection: &Detection,
    len: u64,
) -> Result<(), Refusal> {
    if let Detection::Kernel {
        format: Format::Daf | Format::Das,
        ..
    } = detection
    {
        return match daf::check(file, len) {
            Ok(()) => Ok(()),
            Err(daf::CheckError::Defect(d)) => Err(Refusal::Structure(d)),
            Err(daf::CheckError::Io(e)) => Err(Refusal::Io(e)),
        };
    }
    Ok(())
}

/// [`refusal`] for the file at `path`.
pub fn check_kernel(path: &Path, name: &str) -> Result<(), Refusal> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(Refusal::Io)?;
    let len = file.metadata().map_err(Refusal::Io)?.len();
    let mut head = Vec::with_capacity(kernel::HEAD_LEN);
    (&file)
        .take(kernel::HEAD_LEN as u64)
        .read_to_end(&mut head)
        .map_err(Refusal::Io)?;
    refusal(&file, &head, name, len)
}
