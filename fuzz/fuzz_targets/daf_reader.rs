//! Any bytes: the coverage readers (DAF summary chain, SPK/CK/PCK descriptors, CK
//! interval data, DAS directory and DSK descriptors) never panic and never hang; every
//! error names the file. The first bytes of the input are kept as they come, so the
//! fuzzer also explores valid id words (seed the corpus with real kernels).

#![no_main]

use kdb::coverage::{Level, binary, das};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let check = |e: kdb::coverage::Error| {
        assert!(e.to_string().contains("`fuzz`"), "{e}");
    };
    let mut src = data;
    match binary::read(&mut src, "fuzz", true) {
        Ok(k) => {
            let _ = binary::et_coverage("fuzz", &k, None).map_err(check);
            for level in [Level::Segment, Level::Interval] {
                let mut src = data;
                let _ = binary::ck_coverage(&mut src, "fuzz", &k, None, false, level, None).map_err(check);
            }
        }
        Err(e) => check(e),
    }
    let mut src = data;
    let _ = das::read(&mut src, "fuzz").map_err(check);
});
