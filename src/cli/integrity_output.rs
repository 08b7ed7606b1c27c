//! Human renderers of `verify`, `prune`, `pins` and `outdated` (the JSON shapes are
//! the report values themselves; docs/cli.md lists them).

use std::fmt::Write as _;

use crate::commands::outdated::{OutdatedReport, Upstream};
use crate::commands::prune::PruneReport;
use crate::commands::verify::VerifyReport;
use crate::db::integrity::PinRow;

pub fn verify(w: &mut String, r: &VerifyReport) {
    for f in &r.findings {
        let level = if f.problem.is_warning() {
            "warning"
        } else {
            "error"
        };
        let sha = f.sha256.as_ref().map(|s| s.short(12)).unwrap_or("-");
        let _ = writeln!(
            w,
            "{level}: {} [{}] {sha}\n    {}\n    fix: {}",
            f.path, f.problem, f.detail, f.fix
        );
    }
    if let Some(c) = &r.checksums {
        let _ = writeln!(
            w,
            "checksum table {}: {} rows, {} match, {} mismatch, {} not held",
            c.table,
            c.rows,
            c.matched,
            c.mismatched.len(),
            c.not_held.len()
        );
    }
    let _ = writeln!(
        w,
        "checked {}: {} errors, {} warnings",
        r.checked,
        r.errors(),
        r.warnings()
    );
}

pub fn prune(w: &mut String, r: &PruneReport) {
    let verb = if r.dry_run { "would remove" } else { "removed" };
    for x in &r.removed {
        let _ = writeln!(w, "{verb} {} ({})", x.path, x.reason);
    }
    for x in &r.strays {
        let _ = writeln!(w, "kept {} (stray: not in the catalogue)", x.path);
    }
    for x in &r.vanished {
        let _ = writeln!(
            w,
            "kept {x} (missing with its directory: an unplugged disk?)"
        );
    }
    let _ = writeln!(
        w,
        "roots: {} metakernels, {} pins, {} locations outside the home; {} contents kept{}",
        r.roots.metakernels,
        r.roots.pinned,
        r.roots.outside_home,
        r.roots.contents,
        if r.roots.kept_versions > 0 {
            format!(" ({} superseded versions kept)", r.roots.kept_versions)
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        w,
        "{verb} {} entries and {} catalogue rows, freeing {} bytes{}",
        r.removed.len(),
        r.rows,
        r.bytes_freed,
        if r.dry_run {
            " (dry run; pass --execute)"
        } else {
            ""
        }
    );
}

pub fn pins(w: &mut String, rows: &Vec<PinRow>) {
    if rows.is_empty() {
        w.push_str("nothing pinned\n");
        return;
    }
    for p in rows {
        let _ = writeln!(
            w,
            "{}  {}  {}  {}",
            p.label,
            p.kind,
            p.sha256.short(12),
            p.pinned_at
        );
    }
}

pub fn outdated(w: &mut String, r: &OutdatedReport) {
    // A server that is down fails every check the same way: say it once per host
    // and cause, with the count, instead of once per kernel.
    let mut unreachable: std::collections::BTreeMap<(String, String), usize> =
        std::collections::BTreeMap::new();
    for i in &r.items {
        if i.status == Upstream::Unchanged {
            continue;
        }
        let detail = if i.status == Upstream::Unreachable {
            let host = url::Url::parse(&i.url)
                .ok()
                .map(|u| match (u.host_str(), u.port()) {
                    (Some(h), Some(p)) => format!("{h}:{p}"),
                    (Some(h), None) => h.to_owned(),
                    _ => u.scheme().to_owned(),
                })
                .unwrap_or_default();
            let cause = i
                .detail
                .as_deref()
                .and_then(|d| d.rsplit(": ").next())
                .unwrap_or("no answer")
                .to_owned();
            *unreachable.entry((host, cause)).or_default() += 1;
            String::new()
        } else {
            i.detail
                .as_deref()
                .map(|d| format!("\n    {d}"))
                .unwrap_or_default()
        };
        let _ = writeln!(
            w,
            "{:<12} {:<10} {}  {}{detail}",
            i.status.to_string(),
            i.kind,
            i.name,
            i.url,
        );
    }
    for ((host, cause), n) in &unreachable {
        let _ = writeln!(
            w,
            "{n} {} could not reach {host}: {cause}",
            if *n == 1 { "check" } else { "checks" }
        );
    }
    let _ = writeln!(
        w,
        "checked {}: {} changed, {} gone, {} unreachable, {} unchanged",
        r.checked,
        r.changed,
        r.gone,
        r.unreachable,
        r.items
            .iter()
            .filter(|i| i.status == Upstream::Unchanged)
            .count()
    );
}
