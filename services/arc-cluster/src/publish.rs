//! Publishing a snapshot: stage the projection's commit (arc-projector), hash and upload each
//! file under a new generation, then the manifest; and pruning old generations.

use crate::manifest::{Generation, Manifest, ManifestFile, MANIFEST_FORMAT, SNAPSHOTS};
use crate::{io_err, ClusterError, Result};
use arc_objstore::ObjectStore;
use arc_projector::Projector;
use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What one publication did.
#[derive(Debug, Clone)]
pub struct Published {
    /// The manifest written.
    pub manifest: Manifest,
    /// Bytes uploaded (the files, not the manifest).
    pub bytes: u64,
    /// Time to stage the commit (the part under the projector's lock included).
    pub stage: Duration,
    /// Time to hash and upload.
    pub upload: Duration,
}

/// Size and SHA-256 of a local file (blocking).
fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        h.update(&buf[..n]);
    }
    Ok((size, hex::encode(h.finalize())))
}

/// Takes a snapshot of `projector` through the folder `staging` (on the projection's
/// filesystem) and uploads it as a new generation, manifest last. The staging folder is
/// removed afterwards, whatever happened.
pub async fn publish(
    projector: &Projector,
    store: &dyn ObjectStore,
    staging: &Path,
    node_id: &str,
    layout_position: u64,
) -> Result<Published> {
    let started = Instant::now();
    let p = projector.clone();
    let dir = staging.to_path_buf();
    let staged = tokio::task::spawn_blocking(move || p.snapshot(&dir))
        .await
        .map_err(|e| io_err("snapshot task", e))??;
    let stage = started.elapsed();
    let result = upload(store, staging, &staged, node_id, layout_position).await;
    let cleanup = staging.to_path_buf();
    let _ = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(cleanup)).await;
    let (manifest, bytes) = result?;
    Ok(Published {
        manifest,
        bytes,
        stage,
        upload: started.elapsed() - stage,
    })
}

async fn upload(
    store: &dyn ObjectStore,
    staging: &Path,
    staged: &arc_projector::SnapshotFiles,
    node_id: &str,
    layout_position: u64,
) -> Result<(Manifest, u64)> {
    let generation = Generation::new_name(staged.position);
    let mut files = Vec::with_capacity(staged.files.len());
    let mut total = 0;
    for rel in &staged.files {
        let path: PathBuf = staging.join(rel);
        let p = path.clone();
        let (size, sha256) = tokio::task::spawn_blocking(move || hash_file(&p))
            .await
            .map_err(|e| io_err("hash task", e))?
            .map_err(|e| io_err(path.display(), e))?;
        store
            .put_file(&format!("{SNAPSHOTS}/{generation}/{rel}"), &path)
            .await?;
        total += size;
        files.push(ManifestFile {
            path: rel.clone(),
            size,
            sha256,
        });
    }
    let manifest = Manifest {
        manifest_format: MANIFEST_FORMAT,
        generation: generation.clone(),
        position: staged.position,
        node_id: node_id.to_string(),
        created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        state_format: arc_projector::STATE_FORMAT.to_string(),
        index_format: arc_index::INDEX_FORMAT.to_string(),
        layout_position,
        files,
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| io_err("manifest", e))?;
    // Written last: until it is there, no node takes the generation for a snapshot.
    store
        .put(&Manifest::key(&generation), Bytes::from(json))
        .await?;
    Ok((manifest, total))
}

/// Deletes the generations older than the `keep` newest complete ones: complete ones
/// manifest first (so a half-deleted generation is never taken for valid), and incomplete
/// ones (abandoned uploads) below that position too. Returns how many it deleted.
pub async fn prune(store: &dyn ObjectStore, keep: usize) -> Result<usize> {
    let generations = Generation::list(store).await?;
    let complete: Vec<&Generation> = generations.iter().filter(|g| g.complete).collect();
    let Some(oldest_kept) = complete.get(keep.max(1) - 1) else {
        return Ok(0);
    };
    let mut deleted = 0;
    for g in generations
        .iter()
        .filter(|g| (g.position, &g.name) < (oldest_kept.position, &oldest_kept.name))
    {
        if g.complete {
            store.delete(&Manifest::key(&g.name)).await?;
        }
        for key in &g.keys {
            store.delete(key).await.map_err(ClusterError::from)?;
        }
        tracing::debug!(generation = %g.name, "pruned snapshot generation");
        deleted += 1;
    }
    Ok(deleted)
}
