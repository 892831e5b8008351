//! Restoring a projection: the newest generation whose manifest is present, readable, of
//! this build's formats, not beyond the log's end, and whose every file has the size and
//! SHA-256 the manifest names. Anything less is skipped for the next older one.

use crate::manifest::{Generation, Manifest, SNAPSHOTS};
use crate::{io_err, ClusterError, Result};
use arc_objstore::ObjectStore;
use arc_projector::Restored;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;

/// Fills the empty projection folder `dir` from the newest valid snapshot. `log_end` is the
/// end of the log the node runs on: a snapshot beyond it was taken from another log. Returns
/// `None` (and leaves `dir` untouched) when no snapshot is usable.
pub async fn restore(
    store: &dyn ObjectStore,
    dir: &Path,
    log_end: u64,
) -> Result<Option<Restored>> {
    let generations = Generation::list(store).await?;
    for g in generations.iter().filter(|g| g.complete) {
        if g.position > log_end {
            tracing::warn!(
                generation = %g.name, position = g.position, log_end,
                "snapshot is beyond the end of the log (taken from another log?); skipping it"
            );
            continue;
        }
        let manifest = match g.manifest(store).await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(generation = %g.name, error = %e, "snapshot manifest unusable; trying an older one");
                continue;
            }
        };
        let tmp = dir.with_extension("restoring");
        match download(store, &manifest, &tmp).await {
            Ok(()) => {
                install(&tmp, dir)?;
                return Ok(Some(Restored {
                    generation: manifest.generation,
                    position: manifest.position,
                }));
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&tmp);
                tracing::warn!(generation = %g.name, error = %e, "snapshot damaged or incomplete; trying an older one");
            }
        }
    }
    Ok(None)
}

/// Downloads every file of `m` into `tmp`, checking size and hash as the bytes arrive.
async fn download(store: &dyn ObjectStore, m: &Manifest, tmp: &Path) -> Result<()> {
    let _ = std::fs::remove_dir_all(tmp);
    std::fs::create_dir_all(tmp.join("index")).map_err(|e| io_err(tmp.display(), e))?;
    let invalid = |why: String| ClusterError::Invalid {
        generation: m.generation.clone(),
        why,
    };
    for f in &m.files {
        let key = format!("{SNAPSHOTS}/{}/{}", m.generation, f.path);
        let path = tmp.join(&f.path);
        let mut stream = store.get_stream(&key).await?;
        if stream.size != f.size {
            return Err(invalid(format!(
                "{} is {} bytes, the manifest says {}",
                f.path, stream.size, f.size
            )));
        }
        let mut out = std::io::BufWriter::new(
            std::fs::File::create(&path).map_err(|e| io_err(path.display(), e))?,
        );
        let mut h = Sha256::new();
        let mut got = 0u64;
        while let Some(chunk) = stream.chunks.next().await {
            let chunk = chunk?;
            got += chunk.len() as u64;
            h.update(&chunk);
            out.write_all(&chunk)
                .map_err(|e| io_err(path.display(), e))?;
        }
        let file = out
            .into_inner()
            .map_err(|e| io_err(path.display(), e.error()))?;
        file.sync_all().map_err(|e| io_err(path.display(), e))?;
        let sha = hex::encode(h.finalize());
        if got != f.size || sha != f.sha256 {
            return Err(invalid(format!(
                "{} does not match its manifest (size {got}, SHA-256 {sha})",
                f.path
            )));
        }
    }
    // tantivy deletes only the files it lists as its own; list the segments so merges on
    // this node collect them like the segments it writes itself.
    let managed: Vec<&str> = m
        .files
        .iter()
        .filter_map(|f| f.path.strip_prefix("index/"))
        .filter(|n| *n != "meta.json")
        .collect();
    let json = serde_json::to_vec(&managed).map_err(|e| io_err(".managed.json", e))?;
    std::fs::write(tmp.join("index/.managed.json"), json).map_err(|e| io_err(tmp.display(), e))?;
    Ok(())
}

/// Moves the downloaded folder into place (an empty projection folder is replaced; a
/// non-empty one is never touched).
fn install(tmp: &Path, dir: &Path) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir(dir)
            .map_err(|e| io_err(format!("{} (restore needs it empty)", dir.display()), e))?;
    }
    std::fs::rename(tmp, dir).map_err(|e| io_err(dir.display(), e))?;
    if let Some(parent) = dir.parent() {
        if let Ok(d) = std::fs::File::open(parent) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}
