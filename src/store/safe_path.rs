//! The only way to turn a path taken from outside data (a metakernel entry, a listing
//! href, a URL path) into a path under a root kdb writes to.
//!
//! Validation is lexical and happens before any I/O (DESIGN.md §3, invariant 5):
//! absolute paths, `..` segments, empty segments that hide traversal, NUL bytes and
//! back-slashes are refused. [`SafeRelPath::under`] additionally refuses a path whose
//! existing prefix under the root passes through a symlink, so a link planted in a
//! tree cannot redirect a write outside it.

use std::fmt;
use std::path::{Component, Path, PathBuf};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PathError {
    #[error("refusing `{path}`: {reason}")]
    Unsafe { path: String, reason: &'static str },
    #[error("refusing `{path}`: `{link}` is a symlink inside `{root}`")]
    SymlinkEscape {
        path: String,
        link: PathBuf,
        root: PathBuf,
    },
}

/// A non-empty relative path of normal segments only (`a/b/c.bsp`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SafeRelPath(String);

impl SafeRelPath {
    pub fn new(path: &str) -> Result<Self, PathError> {
        let unsafe_ = |reason| PathError::Unsafe {
            path: path.to_owned(),
            reason,
        };
        if path.is_empty() {
            return Err(unsafe_("empty path"));
        }
        if path.contains('\0') {
            return Err(unsafe_("contains a NUL byte"));
        }
        if path.contains('\\') {
            return Err(unsafe_("contains a back-slash"));
        }
        if path.starts_with('/') {
            return Err(unsafe_("absolute path"));
        }
        let mut parts = Vec::new();
        for seg in path.split('/') {
            match seg {
                "" | "." => continue,
                ".." => return Err(unsafe_("`..` segment leaves the root")),
                s if s.starts_with(crate::store::fsio::TEMP_PREFIX) => {
                    return Err(unsafe_("reserved name"));
                }
                s => parts.push(s),
            }
        }
        if parts.is_empty() {
            return Err(unsafe_("names no file"));
        }
        Ok(SafeRelPath(parts.join("/")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// `root/self`, refusing when an existing component below `root` is a symlink
    /// (the final component may be a link: it is replaced by rename, never followed).
    pub fn under(&self, root: &Path) -> Result<PathBuf, PathError> {
        self.under_checked(root, &mut std::collections::HashSet::new())
    }

    /// [`SafeRelPath::under`] for many paths: directories already found not to be
    /// links (in `checked`) are not looked at again, so thousands of entries in one
    /// directory cost one `lstat` per directory, not per entry.
    pub fn under_checked(
        &self,
        root: &Path,
        checked: &mut std::collections::HashSet<PathBuf>,
    ) -> Result<PathBuf, PathError> {
        let mut cur = root.to_path_buf();
        let segs: Vec<&str> = self.0.split('/').collect();
        for (i, seg) in segs.iter().enumerate() {
            cur.push(seg);
            if i + 1 == segs.len() {
                break;
            }
            if checked.contains(&cur) {
                continue;
            }
            if let Ok(meta) = std::fs::symlink_metadata(&cur)
                && meta.file_type().is_symlink()
            {
                return Err(PathError::SymlinkEscape {
                    path: self.0.clone(),
                    link: cur,
                    root: root.to_path_buf(),
                });
            }
            checked.insert(cur.clone());
        }
        Ok(cur)
    }
}

impl fmt::Display for SafeRelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Lexically normalises `path` (which may be absolute) and returns it when it stays
/// inside `root`; `..` that climbs above `root` is refused. No I/O.
pub fn contained(root: &Path, path: &Path) -> Result<PathBuf, PathError> {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        root.join(path)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::ParentDir => {
                if !out.pop() {
                    return Err(PathError::Unsafe {
                        path: path.display().to_string(),
                        reason: "`..` climbs above the filesystem root",
                    });
                }
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    if out.starts_with(root) {
        Ok(out)
    } else {
        Err(PathError::Unsafe {
            path: path.display().to_string(),
            reason: "resolves outside the root",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_relative_paths() {
        assert_eq!(
            SafeRelPath::new("spk/./de440s.bsp").unwrap().as_str(),
            "spk/de440s.bsp"
        );
        assert_eq!(SafeRelPath::new("a//b").unwrap().as_str(), "a/b");
        assert_eq!(SafeRelPath::new("ck/x.bc").unwrap().file_name(), "x.bc");
    }

    #[test]
    fn refuses_traversal_absolute_and_odd_bytes() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a/..",
            "a\\..\\b",
            "a\0b",
            ".",
            "./",
            ".kdb-tmp-x",
        ] {
            assert!(SafeRelPath::new(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn contained_normalises_and_refuses_escapes() {
        let root = Path::new("/home/u/kdb");
        assert_eq!(
            contained(root, Path::new("a/./b/../c")).unwrap(),
            root.join("a/c")
        );
        assert!(contained(root, Path::new("../../../../tmp/pwn.bsp")).is_err());
        assert!(contained(root, Path::new("/tmp/pwn.bsp")).is_err());
        assert!(contained(root, Path::new("/home/u/kdb2/x")).is_err());
    }

    #[test]
    fn under_refuses_symlinked_directory() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        #[allow(clippy::disallowed_methods)]
        std::os::unix::fs::symlink(outside.path(), dir.path().join("spk")).unwrap();
        let rel = SafeRelPath::new("spk/de.bsp").unwrap();
        assert!(matches!(
            rel.under(dir.path()),
            Err(PathError::SymlinkEscape { .. })
        ));
        let ok = SafeRelPath::new("ck/de.bc").unwrap();
        assert_eq!(ok.under(dir.path()).unwrap(), dir.path().join("ck/de.bc"));
    }
}
