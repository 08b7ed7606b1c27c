//! `kdb reset`: delete the catalogue (never a kernel file, never the store).

use serde::Serialize;

use super::{Ctx, Result};
use crate::store::fsio;

#[derive(Debug, Serialize)]
pub struct ResetReport {
    pub catalogue: String,
    pub deleted: bool,
}

pub fn run(ctx: &Ctx<'_>) -> Result<ResetReport> {
    let _lock = ctx
        .home
        .lock(ctx.lock_timeout, &mut |p| ctx.reporter.waiting_for_lock(p))?;
    let cat = ctx.home.catalogue();
    let existed = cat.exists();
    for suffix in ["", "-wal", "-shm"] {
        let mut p = cat.clone().into_os_string();
        p.push(suffix);
        fsio::remove_entry(std::path::Path::new(&p))?;
    }
    Ok(ResetReport {
        catalogue: cat.display().to_string(),
        deleted: existed,
    })
}
