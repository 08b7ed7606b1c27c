//! Hostile-input and round-trip tests for the readers, over synthetic DAF/DAS bytes.

use proptest::prelude::*;

use super::daf::{ByteOrder, FTP_STRING, RECORD_LEN};
use super::*;

/// Builds a small DAF: record 1, one summary record (+ names), then segment data.
/// `segs` are (doubles, ints, data) with the begin/end addresses filled in.
pub(crate) struct DafBuilder {
    pub id: &'static [u8; 8],
    pub nd: usize,
    pub ni: usize,
    pub order: ByteOrder,
    pub format: bool,
    pub ftp: bool,
    pub segs: Vec<(Vec<f64>, Vec<i32>, Vec<f64>)>,
}

impl DafBuilder {
    pub fn spk(segs: Vec<(f64, f64, i32)>) -> Self {
        DafBuilder {
            id: b"DAF/SPK ",
            nd: 2,
            ni: 6,
            order: ByteOrder::Little,
            format: true,
            ftp: true,
            segs: segs
                .into_iter()
                .map(|(a, b, id)| (vec![a, b], vec![id, 0, 1, 2, 0, 0], vec![1.0, 2.0, 3.0]))
                .collect(),
        }
    }

    fn put_i32(&self, buf: &mut [u8], at: usize, v: i32) {
        let b = match self.order {
            ByteOrder::Big => v.to_be_bytes(),
            ByteOrder::Little => v.to_le_bytes(),
        };
        buf[at..at + 4].copy_from_slice(&b);
    }

    fn put_f64(&self, buf: &mut [u8], at: usize, v: f64) {
        let b = match self.order {
            ByteOrder::Big => v.to_be_bytes(),
            ByteOrder::Little => v.to_le_bytes(),
        };
        buf[at..at + 8].copy_from_slice(&b);
    }

    pub fn build(&self) -> Vec<u8> {
        let mut out = vec![0u8; 3 * RECORD_LEN];
        out[..8].copy_from_slice(self.id);
        self.put_i32(&mut out, 8, self.nd as i32);
        self.put_i32(&mut out, 12, self.ni as i32);
        out[16..76].fill(b' ');
        self.put_i32(&mut out, 76, 2);
        self.put_i32(&mut out, 80, 2);
        if self.format {
            out[88..96].copy_from_slice(match self.order {
                ByteOrder::Big => b"BIG-IEEE",
                ByteOrder::Little => b"LTL-IEEE",
            });
        }
        if self.ftp {
            out[699..727].copy_from_slice(FTP_STRING);
        }
        let ss = self.nd + self.ni.div_ceil(2);
        let rec = RECORD_LEN;
        self.put_f64(&mut out, rec + 16, self.segs.len() as f64);
        let mut addr = 3 * 128 + 1; // first word after record 3
        let mut data = Vec::new();
        for (i, (d, ints, body)) in self.segs.iter().enumerate() {
            let at = rec + 24 + i * ss * 8;
            for (k, v) in d.iter().enumerate() {
                self.put_f64(&mut out, at + 8 * k, *v);
            }
            let mut ints = ints.clone();
            let n = ints.len();
            ints[n - 2] = addr as i32;
            ints[n - 1] = (addr + body.len() - 1) as i32;
            for (k, v) in ints.iter().enumerate() {
                self.put_i32(&mut out, at + 8 * self.nd + 4 * k, *v);
            }
            let name = format!("SEGMENT {i}");
            let nat = 2 * rec + i * ss * 8;
            out[nat..nat + ss * 8].fill(b' ');
            out[nat..nat + name.len()].copy_from_slice(name.as_bytes());
            addr += body.len();
            data.extend(body.iter().copied());
        }
        let mut tail = vec![0u8; data.len() * 8];
        for (k, v) in data.iter().enumerate() {
            self.put_f64(&mut tail, 8 * k, *v);
        }
        out.extend(tail);
        let pad = out.len().div_ceil(RECORD_LEN) * RECORD_LEN;
        out.resize(pad, 0);
        let free = addr as i32;
        self.put_i32(&mut out, 84, free);
        out
    }
}

fn read_all(file: &str, bytes: &[u8]) -> Result<(DafKernel, Vec<IdCoverage>), Error> {
    let mut src = bytes;
    let k = binary::read(&mut src, file, true)?;
    let cov = match k.kind {
        KernelKind::Ck => {
            let mut src = bytes;
            binary::ck_coverage(&mut src, file, &k, None, false, Level::Interval, None)?
        }
        _ => binary::et_coverage(file, &k, None)?,
    };
    Ok((k, cov))
}

/// The error must name the file and a record (or say what the bytes are).
fn assert_clear(e: &Error, file: &str) {
    let m = e.to_string();
    assert!(
        m.contains(&format!("`{file}`")),
        "error does not name the file: {m}"
    );
    assert!(
        m.contains("record") || m.contains("line"),
        "error names no record: {m}"
    );
}

#[test]
fn synthetic_spk_reads_in_both_byte_orders_and_legacy() {
    for order in [ByteOrder::Big, ByteOrder::Little] {
        for format in [true, false] {
            let mut b = DafBuilder::spk(vec![(0.0, 10.0, 399), (5.0, 20.0, 399), (-1.0, 1.0, 301)]);
            b.order = order;
            b.format = format;
            b.ftp = format;
            if !format {
                b.id = b"NAIF/DAF";
            }
            let bytes = b.build();
            let (k, cov) = read_all("t.bsp", &bytes).unwrap();
            assert_eq!(k.kind, KernelKind::Spk);
            assert_eq!(k.file_record.byte_order, order);
            assert_eq!(k.file_record.format_field, format);
            assert_eq!(k.segments[1].name.as_deref(), Some("SEGMENT 1"));
            assert_eq!(cov.len(), 2);
            assert_eq!(cov[0].id, 301);
            assert_eq!(cov[1].windows.intervals(), &[[0.0, 20.0]]);
        }
    }
}

#[test]
fn hostile_files_give_clear_errors() {
    let good = DafBuilder::spk(vec![(0.0, 10.0, 399)]).build();
    let f = "hostile.bsp";
    let rd = |bytes: &[u8]| read_all(f, bytes).map(|_| ()).unwrap_err();

    // Truncated at every record boundary and in the middle of records.
    for cut in (0..good.len()).step_by(256) {
        if let Err(e) = read_all(f, &good[..cut]) {
            if cut > 0 {
                assert_clear(&e, f);
            }
        } else {
            // Only a cut inside the last record's padding, after the data, is harmless.
            assert!(
                cut > good.len() - RECORD_LEN,
                "a file cut at {cut} bytes read fine"
            );
        }
    }

    // A summary chain that loops (NEXT points to its own record).
    let mut b = good.clone();
    b[RECORD_LEN..RECORD_LEN + 8].copy_from_slice(&2f64.to_le_bytes());
    let e = rd(&b);
    assert!(matches!(e, Error::SummaryLoop { record: 2, .. }), "{e}");
    assert_clear(&e, f);

    // Pointers past the end of the file: NEXT, then FWARD.
    let mut b = good.clone();
    b[RECORD_LEN..RECORD_LEN + 8].copy_from_slice(&99f64.to_le_bytes());
    let e = rd(&b);
    assert!(
        matches!(e, Error::PointerPastEof { pointer: 99, .. }),
        "{e}"
    );
    assert_clear(&e, f);
    let mut b = good.clone();
    b[76..80].copy_from_slice(&1000i32.to_le_bytes());
    let e = rd(&b);
    assert!(matches!(e, Error::PointerPastEof { record: 1, .. }), "{e}");

    // NEXT that is not a record number, NSUM too large.
    let mut b = good.clone();
    b[RECORD_LEN..RECORD_LEN + 8].copy_from_slice(&f64::NAN.to_le_bytes());
    assert_clear(&rd(&b), f);
    let mut b = good.clone();
    b[RECORD_LEN + 16..RECORD_LEN + 24].copy_from_slice(&26f64.to_le_bytes());
    assert!(matches!(rd(&b), Error::BadSummaryRecord { record: 2, .. }));

    // ND/NI out of range, and plausible but wrong for an SPK.
    for (nd, ni) in [(-1i32, 6i32), (2, 1), (125, 6), (100, 100), (2, 251)] {
        let mut b = good.clone();
        b[8..12].copy_from_slice(&nd.to_le_bytes());
        b[12..16].copy_from_slice(&ni.to_le_bytes());
        let e = rd(&b);
        assert!(matches!(e, Error::BadNdNi { .. }), "{nd}/{ni}: {e}");
        assert_clear(&e, f);
    }
    let mut b = good.clone();
    b[12..16].copy_from_slice(&5i32.to_le_bytes());
    assert!(matches!(rd(&b), Error::WrongNdNi { .. }));

    // Not kernels at all.
    let html = b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head><body>Not Found</body></html>\n";
    assert!(rd(html).to_string().contains("an HTML page"));
    let text = b"KPL/LSK\n\\begindata\nDELTET/DELTA_T_A = 32.184\n";
    assert!(rd(text).to_string().contains("text kernel"));
    assert!(
        rd(b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 3\n")
            .to_string()
            .contains("Git LFS")
    );
    assert!(rd(b"just some notes\n").to_string().contains("text"));
    assert!(rd(b"").to_string().contains("empty"));
    for e in [rd(html), rd(text), rd(b"")] {
        assert_clear(&e, f);
    }
    assert!(matches!(
        rd(b"DAFETF NAIF DAF ENCODED TRANSFER FILE\n"),
        Error::TransferFormat { .. }
    ));

    // An ASCII-mode transfer: CRLF → LF (or LF → CRLF) rewrites the FTP string.
    let mut lf = Vec::new();
    for (i, &c) in good.iter().enumerate() {
        if !(c == b'\r' && good.get(i + 1) == Some(&b'\n')) {
            lf.push(c);
        }
    }
    assert!(matches!(rd(&lf), Error::FtpDamaged { .. }), "{}", rd(&lf));
    let mut crlf = Vec::new();
    for &c in &good {
        if c == b'\n' {
            crlf.push(b'\r');
        }
        crlf.push(c);
    }
    let e = rd(&crlf);
    assert!(matches!(e, Error::FtpDamaged { .. }), "{e}");
    assert!(e.to_string().contains("ASCII-mode"));
    assert_clear(&e, f);

    // Segment start after stop: spkcov would signal BADENDPOINTS.
    let b = DafBuilder::spk(vec![(10.0, 0.0, 399)]).build();
    assert!(matches!(
        rd(&b),
        Error::BadSegment {
            segment: 0,
            record: 2,
            ..
        }
    ));
}

/// A CK type 3 segment: `times`, `starts` (interpolation intervals), no angular rates.
fn ck3(times: &[f64], starts: &[f64]) -> Vec<f64> {
    let n = times.len();
    let mut d = vec![0.0; 4 * n];
    d.extend_from_slice(times);
    d.extend((0..(n - 1) / 100).map(|i| times[(i + 1) * 100 - 1]));
    d.extend_from_slice(starts);
    d.extend((0..(starts.len() - 1) / 100).map(|i| starts[(i + 1) * 100 - 1]));
    d.push(starts.len() as f64);
    d.push(n as f64);
    d
}

fn ck(segs: Vec<(i32, f64, f64, Vec<f64>)>) -> Vec<u8> {
    DafBuilder {
        id: b"DAF/CK  ",
        nd: 2,
        ni: 6,
        order: ByteOrder::Little,
        format: true,
        ftp: true,
        segs: segs
            .into_iter()
            .map(|(ty, a, b, data)| (vec![a, b], vec![-82000, 1, ty, 0, 0, 0], data))
            .collect(),
    }
    .build()
}

#[test]
fn ck_interval_levels() {
    // Type 3: intervals run from their start to the last epoch before the next start.
    let times: Vec<f64> = (0..250).map(|i| (i * 10) as f64).collect();
    let d3 = ck3(&times, &[0.0, 1005.0, 2000.0]);
    // Type 1: singletons; type 2: [start_i, stop_i].
    let mut d1 = vec![0.0; 4 * 3];
    d1.extend([5000.0, 5001.0, 5003.0, 3.0]);
    let mut d2 = vec![0.0; 8 * 2];
    d2.extend([6000.0, 6010.0, 6005.0, 6020.0]);
    let bytes = ck(vec![
        (3, 0.0, 2490.0, d3),
        (1, 5000.0, 5003.0, d1),
        (2, 6000.0, 6020.0, d2),
    ]);
    let mut src = &bytes[..];
    let k = binary::read(&mut src, "t.bc", false).unwrap();
    let cov =
        binary::ck_coverage(&mut src, "t.bc", &k, None, false, Level::Interval, None).unwrap();
    assert_eq!(
        cov[0].windows.intervals(),
        &[
            [0.0, 1000.0],
            [1005.0, 1990.0],
            [2000.0, 2490.0],
            [5000.0, 5000.0],
            [5001.0, 5001.0],
            [5003.0, 5003.0],
            [6000.0, 6005.0],
            [6010.0, 6020.0]
        ]
    );
    let seg = binary::ck_coverage(&mut src, "t.bc", &k, None, false, Level::Segment, None).unwrap();
    assert_eq!(
        seg[0].windows.intervals(),
        &[[0.0, 2490.0], [5000.0, 5003.0], [6000.0, 6020.0]]
    );
    // needav: none of these segments has angular velocity.
    assert!(
        binary::ck_coverage(&mut src, "t.bc", &k, None, true, Level::Segment, None)
            .unwrap()
            .is_empty()
    );

    // Reads: a type 3 segment of 250,000 epochs and 3 intervals costs a few kilobytes.
    let times: Vec<f64> = (0..250_000).map(|i| i as f64).collect();
    let big = ck(vec![(
        3,
        0.0,
        249_999.0,
        ck3(&times, &[0.0, 100_000.5, 200_000.5]),
    )]);
    let mut c = Counting::new(&big[..]);
    let k = binary::read(&mut c, "big.bc", false).unwrap();
    let cov =
        binary::ck_coverage(&mut c, "big.bc", &k, None, false, Level::Interval, None).unwrap();
    assert_eq!(
        cov[0].windows.intervals(),
        &[
            [0.0, 100_000.0],
            [100_000.5, 200_000.0],
            [200_000.5, 249_999.0]
        ]
    );
    assert!(
        c.bytes_read() < 64 * 1024,
        "read {} of {} bytes",
        c.bytes_read(),
        big.len()
    );

    // A type 3 segment whose counts lie: a clear error, no panic.
    let mut d = ck3(&[1.0, 2.0], &[1.0]);
    let n = d.len();
    d[n - 1] = 1e9;
    let bad = ck(vec![(3, 0.0, 1.0, d)]);
    let mut src = &bad[..];
    let k = binary::read(&mut src, "bad.bc", false).unwrap();
    let e = binary::ck_coverage(&mut src, "bad.bc", &k, None, false, Level::Interval, None)
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::BadSegment {
                segment: 0,
                record: 2,
                ..
            }
        ),
        "{e}"
    );
    // Types without interval support fall back to segment bounds and say so.
    let t4 = ck(vec![(4, 1.0, 2.0, vec![0.0; 10])]);
    let mut src = &t4[..];
    let k = binary::read(&mut src, "t4.bc", false).unwrap();
    let cov =
        binary::ck_coverage(&mut src, "t4.bc", &k, None, false, Level::Interval, None).unwrap();
    assert_eq!(cov[0].segment_level_types, vec![4]);
    assert_eq!(cov[0].windows.intervals(), &[[1.0, 2.0]]);
}

#[test]
fn identify_says_what_files_are() {
    assert_eq!(identify("a", b"DAF/SPK ").unwrap(), BinaryKind::Spk);
    assert_eq!(identify("a", b"DAS/DSK ").unwrap(), BinaryKind::Dsk);
    assert_eq!(identify("a", b"DAS/EK  ").unwrap(), BinaryKind::Ek);
    assert_eq!(identify("a", b"NAIF/DAF").unwrap(), BinaryKind::LegacyDaf);
    assert!(
        identify("a", b"<html>")
            .unwrap_err()
            .to_string()
            .contains("HTML")
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Random bytes behind a DAF id word never panic, never hang.
    #[test]
    fn random_daf_bytes_never_panic(id in prop::sample::select(vec![&b"DAF/SPK "[..], b"DAF/CK  ", b"DAF/PCK ", b"NAIF/DAF", b"DAS/DSK "]),
                                    body in prop::collection::vec(any::<u8>(), 0..6000)) {
        let mut bytes = id.to_vec();
        bytes.extend(body);
        let _ = read_all("fuzz.bsp", &bytes);
        let mut src = &bytes[..];
        let _ = das::read(&mut src, "fuzz.bds");
    }

    /// Mutations of a valid SPK/CK: every outcome is Ok or a clear error.
    #[test]
    fn mutated_kernels_fail_clearly(which in 0usize..2, edits in prop::collection::vec((0usize..4096, any::<u8>()), 1..12), cut in 0usize..5000) {
        let mut bytes = if which == 0 {
            DafBuilder::spk(vec![(0.0, 10.0, 399), (5.0, 20.0, 301)]).build()
        } else {
            let times: Vec<f64> = (0..300).map(|i| i as f64).collect();
            ck(vec![(3, 0.0, 299.0, ck3(&times, &[0.0, 100.5]))])
        };
        for (at, v) in edits {
            if at < bytes.len() { bytes[at] = v; }
        }
        bytes.truncate(cut.max(8));
        if let Err(e) = read_all("m.bsp", &bytes) {
            let m = e.to_string();
            prop_assert!(m.contains("`m.bsp`"), "{}", m);
        }
    }
}
