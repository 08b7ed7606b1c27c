//! An archive laid out like NAIF's (`pub/naif/M/kernels/<sub>/<name>`) under a temp
//! document root, for the HTTP test server or `file://` URLs.

use std::path::{Path, PathBuf};

use super::write;

pub struct Archive {
    dir: tempfile::TempDir,
}

impl Default for Archive {
    fn default() -> Self {
        Self::new()
    }
}

impl Archive {
    pub fn new() -> Self {
        Archive {
            dir: tempfile::Builder::new()
                .prefix("kdb-archive-")
                .tempdir()
                .unwrap(),
        }
    }

    /// The document root.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Where `rel` (under `kernels/`) lives on disk.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root().join("pub/naif/M/kernels").join(rel)
    }

    /// The URL path of `rel` (under `kernels/`).
    pub fn url_path(rel: &str) -> String {
        format!("/pub/naif/M/kernels/{rel}")
    }

    pub fn kernel(&self, rel: &str, bytes: &[u8]) {
        write(&self.path(rel), bytes);
    }

    /// A NAIF-style metakernel (`PATH_VALUES = '..'`) in `mk/` listing `rels` as
    /// `$KERNELS/<rel>`; returns its URL path.
    pub fn mk(&self, name: &str, rels: &[&str]) -> String {
        let entries: Vec<String> = rels.iter().map(|r| format!("  '$KERNELS/{r}'")).collect();
        self.mk_text(
            name,
            &format!(
                "KPL/MK\n\\begindata\nPATH_VALUES = ( '..' )\nPATH_SYMBOLS = ( 'KERNELS' )\nKERNELS_TO_LOAD = (\n{}\n)\n\\begintext\n",
                entries.join("\n")
            ),
        )
    }

    /// A metakernel with this text in `mk/`; returns its URL path.
    pub fn mk_text(&self, name: &str, text: &str) -> String {
        write(&self.path(&format!("mk/{name}")), text.as_bytes());
        Self::url_path(&format!("mk/{name}"))
    }

    /// SPKs `spk/<name>.bsp`, the i-th of `names` of seed `first_seed + i` and
    /// `len(name)` bytes; returns their paths under `kernels/`, in order (for [`Self::mk`]).
    pub fn spks(
        &self,
        names: &[&str],
        first_seed: u64,
        len: impl Fn(&str) -> usize,
    ) -> Vec<String> {
        let rels: Vec<String> = names.iter().map(|n| format!("spk/{n}.bsp")).collect();
        for (i, (n, rel)) in names.iter().zip(&rels).enumerate() {
            self.kernel(rel, &super::spk_bytes(first_seed + i as u64, len(n)));
        }
        rels
    }
}
