//! Kernel type detection: content first, extension second (pure over the first bytes
//! of a file and its name).
//!
//! Binary kernels open with an 8-byte id word: `DAF/SPK`, `DAF/CK`, `DAF/PCK`, legacy
//! `NAIF/DAF` (typed by extension), `DAS/DSK`, `DAS/EK`, `NAIF/DAS`. The binary byte
//! order is the `LOCFMT` string of the file record: offset 88 in a DAF, offset 84 in a
//! DAS (NAIF DAF and DAS Required Reading). Text kernels open with `KPL/<TYPE>`; older
//! ones have no header and are recognised by extension plus a `\begindata` marker.
//! An HTML error page, a Git LFS pointer or an empty file is never a kernel, whatever
//! its name says.

use serde::Serialize;

/// How many leading bytes [`detect`] needs.
pub const HEAD_LEN: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KernelType {
    Spk,
    Ck,
    Pck,
    Fk,
    Ik,
    Lsk,
    Sclk,
    Dsk,
    Ek,
    Mk,
    /// A DAF/DAS of a kind the id word does not name (legacy `NAIF/DAF`).
    Daf,
    Das,
}

impl KernelType {
    pub fn as_str(self) -> &'static str {
        match self {
            KernelType::Spk => "spk",
            KernelType::Ck => "ck",
            KernelType::Pck => "pck",
            KernelType::Fk => "fk",
            KernelType::Ik => "ik",
            KernelType::Lsk => "lsk",
            KernelType::Sclk => "sclk",
            KernelType::Dsk => "dsk",
            KernelType::Ek => "ek",
            KernelType::Mk => "mk",
            KernelType::Daf => "daf",
            KernelType::Das => "das",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "spk" => KernelType::Spk,
            "ck" => KernelType::Ck,
            "pck" => KernelType::Pck,
            "fk" => KernelType::Fk,
            "ik" => KernelType::Ik,
            "lsk" => KernelType::Lsk,
            "sclk" => KernelType::Sclk,
            "dsk" => KernelType::Dsk,
            "ek" => KernelType::Ek,
            "mk" => KernelType::Mk,
            "daf" => KernelType::Daf,
            "das" => KernelType::Das,
            _ => return None,
        })
    }

    /// The type NAIF's file-naming convention gives an extension (any case).
    /// Guesses the type from a file name's extension, in any case (`.bsp` → SPK,
    /// `.TPC` → PCK); a path's directories (`/` or `\\`) are ignored.
    pub fn from_extension(name: &str) -> Option<Self> {
        let file = name.rsplit(['/', '\\']).next().unwrap_or(name);
        let ext = file.rsplit_once('.')?.1.to_ascii_lowercase();
        Some(match ext.as_str() {
            "bsp" => KernelType::Spk,
            "bc" => KernelType::Ck,
            "bpc" | "tpc" => KernelType::Pck,
            "tf" => KernelType::Fk,
            "ti" => KernelType::Ik,
            "tls" => KernelType::Lsk,
            "tsc" => KernelType::Sclk,
            "bds" => KernelType::Dsk,
            "bes" => KernelType::Ek,
            "tm" => KernelType::Mk,
            _ => return None,
        })
    }
}

/// The byte order of a binary kernel (DAF/DAS `BIG-IEEE` or `LTL-IEEE`), and the
/// reading of its words (the coverage reader uses the same type).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum ByteOrder {
    #[serde(rename = "BIG-IEEE")]
    Big,
    #[serde(rename = "LTL-IEEE")]
    Little,
}

impl ByteOrder {
    pub fn as_str(self) -> &'static str {
        match self {
            ByteOrder::Big => "BIG-IEEE",
            ByteOrder::Little => "LTL-IEEE",
        }
    }

    /// The 32-bit integer at the start of `b`.
    pub fn i32(self, b: &[u8]) -> i32 {
        let a = [b[0], b[1], b[2], b[3]];
        match self {
            ByteOrder::Big => i32::from_be_bytes(a),
            ByteOrder::Little => i32::from_le_bytes(a),
        }
    }

    /// The double at the start of `b`.
    pub fn f64(self, b: &[u8]) -> f64 {
        let a = [b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]];
        match self {
            ByteOrder::Big => f64::from_be_bytes(a),
            ByteOrder::Little => f64::from_le_bytes(a),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Daf,
    Das,
    Text,
}

/// What the bytes of a file are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Detection {
    Kernel {
        kernel_type: KernelType,
        format: Format,
        byte_order: Option<ByteOrder>,
    },
    /// Named like a kernel (or claiming to be one) but not one; the reason says why.
    NotKernel(&'static str),
    /// Neither named nor shaped like a kernel: not kdb's business.
    Unrelated,
}

/// Classifies a file from its first [`HEAD_LEN`] bytes, its name and its total size.
pub fn detect(head: &[u8], name: &str, size: u64) -> Detection {
    let by_ext = KernelType::from_extension(name);
    if size == 0 || head.is_empty() {
        return if by_ext.is_some() {
            Detection::NotKernel("empty file")
        } else {
            Detection::Unrelated
        };
    }
    if head.starts_with(b"version https://git-lfs") {
        return Detection::NotKernel("Git LFS pointer, not the kernel it stands for");
    }
    if looks_like_html(head) {
        return Detection::NotKernel("HTML page (an error page saved under a kernel name?)");
    }
    let id = &head[..head.len().min(8)];
    let id = std::str::from_utf8(id).unwrap_or("").trim_end();
    let binary = |kernel_type: Option<KernelType>, format: Format, fallback: KernelType| {
        let offset = if format == Format::Daf { 88 } else { 84 };
        Detection::Kernel {
            kernel_type: kernel_type.unwrap_or(fallback),
            format,
            byte_order: byte_order_at(head, offset),
        }
    };
    match id {
        "DAF/SPK" => return binary(Some(KernelType::Spk), Format::Daf, KernelType::Spk),
        "DAF/CK" => return binary(Some(KernelType::Ck), Format::Daf, KernelType::Ck),
        "DAF/PCK" => return binary(Some(KernelType::Pck), Format::Daf, KernelType::Pck),
        "DAF/EK" => return binary(Some(KernelType::Ek), Format::Daf, KernelType::Ek),
        "NAIF/DAF" => {
            let t =
                by_ext.filter(|t| matches!(t, KernelType::Spk | KernelType::Ck | KernelType::Pck));
            return binary(t, Format::Daf, KernelType::Daf);
        }
        "DAS/DSK" => return binary(Some(KernelType::Dsk), Format::Das, KernelType::Dsk),
        "DAS/EK" => return binary(Some(KernelType::Ek), Format::Das, KernelType::Ek),
        "NAIF/DAS" => {
            let t = by_ext.filter(|t| matches!(t, KernelType::Dsk | KernelType::Ek));
            return binary(t, Format::Das, KernelType::Das);
        }
        _ => {}
    }
    if id.starts_with("DAF/") {
        return binary(None, Format::Daf, by_ext.unwrap_or(KernelType::Daf));
    }
    if id.starts_with("DAS/") {
        return binary(None, Format::Das, by_ext.unwrap_or(KernelType::Das));
    }
    if let Some(rest) = head.strip_prefix(b"KPL/") {
        let word: String = rest
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric())
            .map(|&b| char::from(b))
            .collect();
        let t = match word.to_ascii_uppercase().as_str() {
            "LSK" => Some(KernelType::Lsk),
            "FK" => Some(KernelType::Fk),
            "IK" => Some(KernelType::Ik),
            "SCLK" => Some(KernelType::Sclk),
            "PCK" => Some(KernelType::Pck),
            "MK" => Some(KernelType::Mk),
            "DSK" => Some(KernelType::Dsk),
            _ => None,
        };
        if let Some(t) = t.or(by_ext) {
            return Detection::Kernel {
                kernel_type: t,
                format: Format::Text,
                byte_order: None,
            };
        }
    }
    if head.starts_with(b"DAFETF") || head.starts_with(b"DASETF") {
        return Detection::NotKernel("SPICE transfer-format file (convert it with tobin first)");
    }
    match by_ext {
        Some(KernelType::Spk | KernelType::Ck | KernelType::Dsk | KernelType::Ek) => {
            Detection::NotKernel("no DAF/DAS id word where a binary kernel starts")
        }
        Some(KernelType::Pck) if name.to_ascii_lowercase().ends_with(".bpc") => {
            Detection::NotKernel("no DAF id word where a binary PCK starts")
        }
        Some(t) => {
            if !is_text(head) {
                Detection::NotKernel("binary data under a text-kernel name")
            } else if contains_begindata(head) || size as usize > head.len() {
                Detection::Kernel {
                    kernel_type: t,
                    format: Format::Text,
                    byte_order: None,
                }
            } else {
                Detection::NotKernel("text without a `\\begindata` block")
            }
        }
        None => Detection::Unrelated,
    }
}

/// The format NAIF's naming convention promises for a file name: binary (`.bsp`,
/// `.bc`, `.bpc`, `.bds`, `.bes`) or text (`.tls`, `.tf`, `.ti`, `.tsc`, `.tpc`,
/// `.tm`), in any case. `None` for other names.
pub fn named_binary(name: &str) -> Option<bool> {
    let file = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let ext = file.rsplit_once('.')?.1.to_ascii_lowercase();
    match ext.as_str() {
        "bsp" | "bc" | "bpc" | "bds" | "bes" => Some(true),
        "tls" | "tf" | "ti" | "tsc" | "tpc" | "tm" => Some(false),
        _ => None,
    }
}

/// Why a detected kernel cannot be what its name says: a text kernel under a binary
/// kernel's name (an LSK served as `x.bsp`) or a DAF/DAS under a text kernel's name
/// (an SPK served as `x.tls`). SPICE picks the reader by content, so such a file
/// loads as something other than what the metakernel's author listed.
pub fn contradiction(detection: &Detection, name: &str) -> Option<String> {
    let Detection::Kernel {
        kernel_type,
        format,
        ..
    } = detection
    else {
        return None;
    };
    let binary = *format != Format::Text;
    match named_binary(name)? {
        true if !binary => Some(format!(
            "a text {} kernel under the binary kernel name `{name}`",
            kernel_type.as_str().to_ascii_uppercase()
        )),
        false if binary => Some(format!(
            "a binary {} kernel under the text kernel name `{name}`",
            kernel_type.as_str().to_ascii_uppercase()
        )),
        _ => None,
    }
}

fn byte_order_at(head: &[u8], offset: usize) -> Option<ByteOrder> {
    match head.get(offset..offset + 8)? {
        b"BIG-IEEE" => Some(ByteOrder::Big),
        b"LTL-IEEE" => Some(ByteOrder::Little),
        _ => None,
    }
}

fn looks_like_html(head: &[u8]) -> bool {
    let start = head
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(0);
    let probe: Vec<u8> = head[start..head.len().min(start + 512)].to_ascii_lowercase();
    probe.starts_with(b"<!doctype html")
        || probe.starts_with(b"<html")
        || probe.starts_with(b"<?xml")
        || probe.starts_with(b"<head")
        || (probe.starts_with(b"<") && probe.windows(5).any(|w| w == b"<body"))
}

fn is_text(head: &[u8]) -> bool {
    !head.contains(&0)
}

fn contains_begindata(head: &[u8]) -> bool {
    head.windows(10).any(|w| w == b"\\begindata")
}

#[cfg(test)]
mod tests {
    #[test]
    fn kernel_type_from_extension() {
        let cases = [
            ("de440s.bsp", Some(KernelType::Spk)),
            ("a.BC", Some(KernelType::Ck)),
            ("x.tf", Some(KernelType::Fk)),
            ("x.ti", Some(KernelType::Ik)),
            ("naif0012.TLS", Some(KernelType::Lsk)),
            ("x.tsc", Some(KernelType::Sclk)),
            ("pck00011.tpc", Some(KernelType::Pck)),
            ("earth.bpc", Some(KernelType::Pck)),
            ("shape.bds", Some(KernelType::Dsk)),
            ("x.bes", Some(KernelType::Ek)),
            ("juice_ops.tm", Some(KernelType::Mk)),
            ("README", None),
            ("dir.bsp/readme", None),
            ("kernels\\lsk\\naif0012.tls", Some(KernelType::Lsk)),
        ];
        for (name, want) in cases {
            assert_eq!(KernelType::from_extension(name), want, "{name}");
        }
        assert_eq!(KernelType::Pck.as_str(), "pck");
    }

    use super::*;

    fn daf(id: &[u8; 8], order: &[u8; 8]) -> Vec<u8> {
        let mut v = vec![b' '; 1024];
        v[..8].copy_from_slice(id);
        v[88..96].copy_from_slice(order);
        v
    }

    #[test]
    fn daf_id_words_and_byte_order() {
        let d = detect(&daf(b"DAF/SPK ", b"LTL-IEEE"), "x.bsp", 1024);
        assert_eq!(
            d,
            Detection::Kernel {
                kernel_type: KernelType::Spk,
                format: Format::Daf,
                byte_order: Some(ByteOrder::Little)
            }
        );
        let d = detect(&daf(b"DAF/CK  ", b"BIG-IEEE"), "x.bin", 1024);
        assert!(matches!(
            d,
            Detection::Kernel {
                kernel_type: KernelType::Ck,
                byte_order: Some(ByteOrder::Big),
                ..
            }
        ));
        let d = detect(&daf(b"NAIF/DAF", b"BIG-IEEE"), "old.bc", 1024);
        assert!(matches!(
            d,
            Detection::Kernel {
                kernel_type: KernelType::Ck,
                ..
            }
        ));
    }

    #[test]
    fn das_byte_order_at_84() {
        let mut v = vec![b' '; 1024];
        v[..8].copy_from_slice(b"DAS/DSK ");
        v[84..92].copy_from_slice(b"LTL-IEEE");
        assert!(matches!(
            detect(&v, "phobos.bds", 1024),
            Detection::Kernel {
                kernel_type: KernelType::Dsk,
                format: Format::Das,
                byte_order: Some(ByteOrder::Little)
            }
        ));
    }

    #[test]
    fn text_kernels_by_header_then_extension() {
        assert!(matches!(
            detect(b"KPL/LSK\n\\begindata\n", "a.txt", 20),
            Detection::Kernel {
                kernel_type: KernelType::Lsk,
                ..
            }
        ));
        assert!(matches!(
            detect(b"KPL/MK\n", "a.tm", 7),
            Detection::Kernel {
                kernel_type: KernelType::Mk,
                ..
            }
        ));
        assert!(matches!(
            detect(b"old frames\n\\begindata\nX=1\n", "a.TF", 26),
            Detection::Kernel {
                kernel_type: KernelType::Fk,
                ..
            }
        ));
        assert_eq!(detect(b"hello", "notes.txt", 5), Detection::Unrelated);
    }

    #[test]
    fn impostors_are_not_kernels() {
        assert!(matches!(
            detect(b"", "x.bsp", 0),
            Detection::NotKernel("empty file")
        ));
        assert!(matches!(
            detect(b"<!DOCTYPE html><html><body>404</body></html>", "x.bsp", 44),
            Detection::NotKernel(r) if r.starts_with("HTML")
        ));
        assert!(matches!(
            detect(b"  <html>\n<head><title>Error</title>", "x.tls", 40),
            Detection::NotKernel(r) if r.starts_with("HTML")
        ));
        let lfs = b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12\n";
        assert!(
            matches!(detect(lfs, "x.bsp", lfs.len() as u64), Detection::NotKernel(r) if r.contains("LFS"))
        );
        assert!(matches!(
            detect(b"garbage bytes", "x.bc", 13),
            Detection::NotKernel(_)
        ));
    }

    #[test]
    fn extension_table_is_case_insensitive() {
        assert_eq!(KernelType::from_extension("A.BSP"), Some(KernelType::Spk));
        assert_eq!(KernelType::from_extension("a.Tsc"), Some(KernelType::Sclk));
        assert_eq!(KernelType::from_extension("a.bpc"), Some(KernelType::Pck));
        assert_eq!(KernelType::from_extension("bsp"), None);
    }

    #[test]
    fn content_contradicting_the_name_is_named() {
        let lsk = detect(b"KPL/LSK\n\\begindata\nX = 1\n", "naif0012.bsp", 25);
        assert!(contradiction(&lsk, "naif0012.bsp").is_some_and(|w| w.contains("text LSK")));
        let spk = detect(&daf(b"DAF/SPK ", b"LTL-IEEE"), "de.tls", 1024);
        assert!(contradiction(&spk, "de.tls").is_some_and(|w| w.contains("binary SPK")));
        // What the name promises: no contradiction (a binary PCK as `.bpc`, a text
        // PCK as `.TPC`, unknown extensions).
        let bpc = detect(&daf(b"DAF/PCK ", b"LTL-IEEE"), "e.bpc", 1024);
        assert_eq!(contradiction(&bpc, "e.bpc"), None);
        let tpc = detect(b"KPL/PCK\n\\begindata\n", "p.TPC", 19);
        assert_eq!(contradiction(&tpc, "p.TPC"), None);
        assert_eq!(contradiction(&spk, "de.bin"), None);
        assert_eq!(contradiction(&Detection::Unrelated, "x.bsp"), None);
    }
}
