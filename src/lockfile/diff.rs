//! Differences between two kernel sets (metakernels or locks), pure.
//!
//! An entry is keyed by its `KERNELS_TO_LOAD` string as written (symbols not
//! substituted), so two versions of a metakernel compare entry for entry even when
//! their `PATH_VALUES` differ. Added and removed are set differences of those keys
//! (first occurrence wins within one list); changed means the same key with
//! different known bytes (sha256). When either side does not know an entry's bytes,
//! the entry is reported as undetermined rather than unchanged.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

/// One entry of a kernel set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Item {
    /// The entry as written in the metakernel (the comparison key).
    pub entry: String,
    /// Its file name.
    pub name: String,
    /// Its content, when known (from a lock or the catalogue).
    pub sha256: Option<String>,
    pub size: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Changed {
    pub entry: String,
    pub name: String,
    pub before: String,
    pub after: String,
    pub before_size: Option<u64>,
    pub after_size: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Diff {
    /// In B, not in A (B's order).
    pub added: Vec<Item>,
    /// In A, not in B (A's order).
    pub removed: Vec<Item>,
    /// In both, other bytes (B's order).
    pub changed: Vec<Changed>,
    /// In both, same bytes (B's order; a list like the other categories).
    pub unchanged: Vec<String>,
    /// In both, bytes unknown on at least one side.
    pub undetermined: Vec<String>,
}

/// Compares kernel set `a` with kernel set `b`.
pub fn diff(a: &[Item], b: &[Item]) -> Diff {
    let (in_a, in_b) = (first(a), first(b));
    let mut out = Diff::default();
    let mut once = HashSet::new();
    for i in a {
        if once.insert(i.entry.as_str()) && !in_b.contains_key(i.entry.as_str()) {
            out.removed.push(i.clone());
        }
    }
    once.clear();
    for i in b {
        if !once.insert(i.entry.as_str()) {
            continue;
        }
        let Some(old) = in_a.get(i.entry.as_str()) else {
            out.added.push(i.clone());
            continue;
        };
        match (&old.sha256, &i.sha256) {
            (Some(x), Some(y)) if x == y => out.unchanged.push(i.entry.clone()),
            (Some(x), Some(y)) => out.changed.push(Changed {
                entry: i.entry.clone(),
                name: i.name.clone(),
                before: x.clone(),
                after: y.clone(),
                before_size: old.size,
                after_size: i.size,
            }),
            _ => out.undetermined.push(i.entry.clone()),
        }
    }
    out
}

/// Each key with its first item.
fn first(items: &[Item]) -> HashMap<&str, &Item> {
    let mut map: HashMap<&str, &Item> = HashMap::new();
    for i in items {
        map.entry(i.entry.as_str()).or_insert(i);
    }
    map
}

/// What fetching set `b` would download, given the contents already held.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Download {
    /// Distinct contents not held.
    pub files: usize,
    /// Their bytes (those of known size).
    pub bytes: u64,
    /// Entries whose content is unknown (a metakernel entry nobody has hashed):
    /// a `get` may or may not download them.
    pub unknown: usize,
}

pub fn download(b: &[Item], held: &dyn Fn(&str) -> bool) -> Download {
    let mut out = Download::default();
    let mut seen = HashSet::new();
    for i in b {
        match &i.sha256 {
            Some(sha) if seen.insert(sha.as_str()) && !held(sha) => {
                out.files += 1;
                out.bytes += i.size.unwrap_or(0);
            }
            Some(_) => {}
            None => out.unknown += 1,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(entry: &str, sha: Option<&str>, size: u64) -> Item {
        Item {
            entry: entry.into(),
            name: entry.rsplit('/').next().unwrap().into(),
            sha256: sha.map(str::to_owned),
            size: Some(size),
        }
    }

    #[test]
    fn added_removed_changed_unchanged_undetermined() {
        let a = [
            item("$K/lsk/a.tls", Some("1"), 10),
            item("$K/spk/b.bsp", Some("2"), 20),
            item("$K/ck/c.bc", Some("3"), 30),
            item("$K/fk/d.tf", None, 40),
        ];
        let b = [
            item("$K/ck/c.bc", Some("33"), 31),
            item("$K/lsk/a.tls", Some("1"), 10),
            item("$K/fk/d.tf", Some("4"), 40),
            item("$K/ik/e.ti", Some("5"), 50),
            item("$K/ik/e.ti", Some("5"), 50),
        ];
        let d = diff(&a, &b);
        assert_eq!(d.added, [b[3].clone()]);
        assert_eq!(d.removed, [a[1].clone()]);
        assert_eq!(d.changed.len(), 1);
        assert_eq!(
            (d.changed[0].before.as_str(), d.changed[0].after.as_str()),
            ("3", "33")
        );
        assert_eq!(d.unchanged.len(), 1);
        assert_eq!(d.undetermined, ["$K/fk/d.tf"]);
        assert_eq!(diff(&b, &b).unchanged.len(), 4);
        let empty = diff(&[], &[]);
        assert_eq!(empty, Diff::default());
    }

    #[test]
    fn download_counts_distinct_contents_not_held() {
        let b = [
            item("x1", Some("1"), 10),
            item("x2", Some("1"), 10),
            item("y", Some("2"), 20),
            item("z", None, 99),
            item("w", Some("3"), 30),
        ];
        let held = |s: &str| s == "3";
        assert_eq!(
            download(&b, &held),
            Download {
                files: 2,
                bytes: 30,
                unknown: 1
            }
        );
    }
}
