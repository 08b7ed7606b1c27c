//! Any input: parsing never panics, a successful parse gives the input back byte for
//! byte, and the resolver and both rewriters never panic. A rewrite that succeeds must
//! parse back, and rewriting with the current values must be the identity.

#![no_main]

use std::collections::HashSet;

use kdb::metakernel::Metakernel;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mk) = Metakernel::parse(data) else {
        return;
    };
    assert_eq!(mk.to_bytes(), data);
    let entries = mk.entries();
    let _ = mk.warnings();
    let symbols = mk.path_symbols();

    let mut seen = HashSet::new();
    let unique = symbols.iter().all(|s| seen.insert(s.name.clone()));
    let same: Vec<(String, String)> = symbols
        .iter()
        .map(|s| (s.name.clone(), s.value.clone()))
        .collect();
    if unique {
        assert_eq!(
            mk.rewrite_path_values(&same).expect("identity rewrite"),
            data
        );
    }
    if entries.is_ok() {
        assert_eq!(
            mk.rewrite_entries(|_| None).expect("identity rewrite"),
            data
        );
    }

    let long = "/fuzz/a/very/long/directory/name/that/needs/continuation/".repeat(2);
    let new: Vec<(String, String)> = symbols
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.clone(), format!("{long}{i}/{}", s.value.len())))
        .collect();
    if let Ok(out) = mk.rewrite_path_values(&new) {
        Metakernel::parse(&out).expect("a rewrite must parse back");
    }
    if let Ok(out) = mk.rewrite_entries(|e| Some(format!("{long}{}", e.path.len()))) {
        Metakernel::parse(&out).expect("a rewrite must parse back");
    }
});
