//! `kdb stats` (what the home holds, by type and mission, and what deduplication
//! saves) and `kdb duplicates` (contents held at several paths).

use super::*;

#[derive(Debug, Serialize, Default)]
pub struct Stats {
    pub contents: u64,
    pub locations: u64,
    pub aliases: u64,
    /// Sum of the sizes of every registered path (what full copies would take).
    pub logical_bytes: u64,
    /// Bytes actually on disk: each real file or object counted once per inode.
    pub physical_bytes: u64,
    /// Sum of the sizes of the distinct contents.
    pub unique_bytes: u64,
    pub by_type: Vec<TypeStats>,
    pub by_mission: Vec<MissionStats>,
}

#[derive(Debug, Serialize, Default, Clone)]
pub struct TypeStats {
    pub kernel_type: String,
    pub contents: u64,
    pub bytes: u64,
}

#[derive(Debug, Serialize, Default, Clone)]
pub struct MissionStats {
    pub mission: Option<String>,
    pub locations: u64,
    pub logical_bytes: u64,
    pub physical_bytes: u64,
}

pub fn stats(ctx: &Ctx<'_>) -> Result<Stats> {
    let cat = ctx.read()?;
    let kernels = cat.all_kernels()?;
    let locations = cat.all_locations()?;
    let (_, _, aliases) = cat.table_counts()?;
    let mut s = Stats {
        contents: kernels.len() as u64,
        locations: locations.len() as u64,
        aliases,
        ..Stats::default()
    };
    let mut types: BTreeMap<String, TypeStats> = BTreeMap::new();
    for k in &kernels {
        s.unique_bytes += k.size;
        let t = types
            .entry(k.kernel_type.clone())
            .or_insert_with(|| TypeStats {
                kernel_type: k.kernel_type.clone(),
                ..TypeStats::default()
            });
        t.contents += 1;
        t.bytes += k.size;
    }
    s.by_type = types.into_values().collect();
    let mut seen = HashSet::new();
    type Inodes = HashSet<(u64, u64)>;
    let mut missions: BTreeMap<Option<String>, (MissionStats, Inodes)> = BTreeMap::new();
    for l in &locations {
        s.logical_bytes += l.stamp.size;
        let m = missions.entry(l.mission.clone()).or_insert_with(|| {
            (
                MissionStats {
                    mission: l.mission.clone(),
                    ..MissionStats::default()
                },
                HashSet::new(),
            )
        });
        m.0.locations += 1;
        m.0.logical_bytes += l.stamp.size;
        if l.kind != LocationKind::Symlink {
            if seen.insert((l.stamp.dev, l.stamp.ino)) {
                s.physical_bytes += l.stamp.size;
            }
            if m.1.insert((l.stamp.dev, l.stamp.ino)) {
                m.0.physical_bytes += l.stamp.size;
            }
        }
    }
    s.by_mission = missions.into_values().map(|(m, _)| m).collect();
    Ok(s)
}

// ---------------------------------------------------------------- duplicates

#[derive(Debug, Serialize)]
pub struct DuplicateGroup {
    pub sha256: Sha256Hex,
    pub canonical: String,
    pub size: u64,
    /// Distinct physical copies (inodes).
    pub copies: u64,
    pub wasted_bytes: u64,
    pub names: Vec<String>,
    pub paths: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Duplicates {
    pub groups: Vec<DuplicateGroup>,
    pub wasted_bytes: u64,
}

pub fn duplicates(ctx: &Ctx<'_>) -> Result<Duplicates> {
    let cat = ctx.read()?;
    let mut by_sha: HashMap<Sha256Hex, Vec<LocationRow>> = HashMap::new();
    for l in cat.all_locations()? {
        if l.kind != LocationKind::Symlink {
            by_sha.entry(l.sha256.clone()).or_default().push(l);
        }
    }
    let mut groups = Vec::new();
    for (sha, rows) in by_sha {
        let inodes: HashSet<(u64, u64)> = rows.iter().map(|r| (r.stamp.dev, r.stamp.ino)).collect();
        if inodes.len() < 2 {
            continue;
        }
        let k = cat.kernel(&sha)?;
        let size = rows[0].stamp.size;
        let mut names: Vec<String> = rows
            .iter()
            .filter(|r| r.kind != LocationKind::Object)
            .map(|r| r.filename.clone())
            .collect();
        names.sort();
        names.dedup();
        groups.push(DuplicateGroup {
            canonical: k.map(|k| k.canonical).unwrap_or_default(),
            copies: inodes.len() as u64,
            wasted_bytes: (inodes.len() as u64 - 1) * size,
            paths: rows.iter().map(|r| r.path.clone()).collect(),
            names,
            size,
            sha256: sha,
        });
    }
    groups.sort_by(|a, b| {
        b.wasted_bytes
            .cmp(&a.wasted_bytes)
            .then(a.canonical.cmp(&b.canonical))
    });
    Ok(Duplicates {
        wasted_bytes: groups.iter().map(|g| g.wasted_bytes).sum(),
        groups,
    })
}
