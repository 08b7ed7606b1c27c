//! Where else a published file may be found: the same path under a mirror, and the
//! archive's `former_versions/` and `a_old_versions/` siblings (NAIF and ESA move a
//! superseded kernel there). Pure URL arithmetic.

use url::Url;

/// `source` served from `mirror`: the mirror's scheme, host and port, the mirror's
/// path followed by the source's path (`file:///mnt/naif` serves
/// `https://naif.jpl.nasa.gov/pub/naif/X/a.bsp` as `file:///mnt/naif/pub/naif/X/a.bsp`).
pub fn mirrored(mirror: &Url, source: &Url) -> Url {
    let mut u = mirror.clone();
    u.set_path(&format!(
        "{}{}",
        mirror.path().trim_end_matches('/'),
        source.path()
    ));
    u.set_query(source.query());
    u.set_fragment(None);
    u
}

/// `…/spk/a.bsp` → `…/spk/<dir>/a.bsp`.
pub fn sibling(source: &Url, dir: &str) -> Option<Url> {
    let last = source.path_segments()?.next_back()?;
    if last.is_empty() {
        return None;
    }
    source.join(&format!("{dir}/{last}")).ok()
}

/// Every place to look for `source`, in order: each mirror, the source; then the
/// same for `former_versions/` and `a_old_versions/`. Pure.
pub fn candidates(source: &Url, mirrors: &[Url]) -> Vec<Url> {
    let mut variants = vec![source.clone()];
    variants.extend(
        ["former_versions", "a_old_versions"]
            .iter()
            .filter_map(|d| sibling(source, d)),
    );
    let mut out = Vec::new();
    for v in &variants {
        out.extend(mirrors.iter().map(|m| mirrored(m, v)));
        out.push(v.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn mirrors_replace_scheme_and_host() {
        let src = u("https://naif.jpl.nasa.gov/pub/naif/X/kernels/spk/a%20b.bsp");
        assert_eq!(
            mirrored(&u("file:///mnt/naif"), &src).as_str(),
            "file:///mnt/naif/pub/naif/X/kernels/spk/a%20b.bsp"
        );
        assert_eq!(
            mirrored(&u("http://127.0.0.1:8080/copy/"), &src).as_str(),
            "http://127.0.0.1:8080/copy/pub/naif/X/kernels/spk/a%20b.bsp"
        );
    }

    #[test]
    fn candidates_try_mirrors_then_source_then_former_versions() {
        let src = u("https://h/pub/naif/X/kernels/spk/a.bsp");
        let c: Vec<String> = candidates(&src, &[u("file:///m")])
            .iter()
            .map(Url::to_string)
            .collect();
        assert_eq!(
            c,
            [
                "file:///m/pub/naif/X/kernels/spk/a.bsp",
                "https://h/pub/naif/X/kernels/spk/a.bsp",
                "file:///m/pub/naif/X/kernels/spk/former_versions/a.bsp",
                "https://h/pub/naif/X/kernels/spk/former_versions/a.bsp",
                "file:///m/pub/naif/X/kernels/spk/a_old_versions/a.bsp",
                "https://h/pub/naif/X/kernels/spk/a_old_versions/a.bsp",
            ]
        );
    }
}
