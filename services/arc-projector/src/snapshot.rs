//! Taking a snapshot of the projection: the state store and the index files of one commit at
//! one position, written into a staging folder that the caller uploads at leisure
//! (ARCHITECTURE.md section 5, `snapshots/`).
//!
//! The writer lock is held only to pin the commit: a durable checkpoint, a read transaction
//! of the state store (redb keeps what it sees while it lives) and hard links of the index's
//! immutable segment files. Copying the state out of the read transaction and uploading
//! happen after the lock is released, so batches go on meanwhile.

use crate::state::{CHILDREN, INSTANCES, META, NEXT, OUTCOMES, PATIENTS, SERIES, STUDIES};
use crate::{Projector, ProjectorError, Result};
use redb::{ReadableDatabase, ReadableTable};
use std::path::Path;

/// The state store's record format; a snapshot of another format is never restored.
/// Change it whenever the tables or their records change incompatibly.
pub const STATE_FORMAT: &str = "state_v1";

/// The files of one snapshot in a staging folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotFiles {
    /// The log position both the state store and the index cover (next sequence to apply).
    pub position: u64,
    /// Paths relative to the staging folder: `state.redb` and `index/…`, sorted.
    pub files: Vec<String>,
}

/// Copies every entry of the listed tables from a read transaction into a write transaction.
macro_rules! copy_tables {
    ($from:expr, $to:expr, $($table:ident),*) => {$(
        {
            let src = $from.open_table($table)?;
            let mut dst = $to.open_table($table)?;
            for entry in src.iter()? {
                let (k, v) = entry?;
                dst.insert(k.value(), v.value())?;
            }
        }
    )*};
}

impl Projector {
    /// Writes a snapshot of the last applied commit into `staging` (emptied first; it must be
    /// on the projection's filesystem, since index files are hard-linked). Blocking: call off
    /// the async workers.
    pub fn snapshot(&self, staging: &Path) -> Result<SnapshotFiles> {
        let io = |e: std::io::Error| ProjectorError::State(format!("{}: {e}", staging.display()));
        let _ = std::fs::remove_dir_all(staging);
        std::fs::create_dir_all(staging).map_err(io)?;
        let (position, index_files, read) = {
            // No batch runs while this is held (apply_batch takes it first).
            let index = self.writer.lock().expect("index writer lock");
            self.checkpoint()?;
            let read = self.db.begin_read()?;
            let state_next = read
                .open_table(META)?
                .get(NEXT)?
                .map(|v| v.value())
                .unwrap_or(0);
            let (position, files) = index.link_commit(&staging.join("index"))?;
            if position != state_next {
                // Both are written by every batch; they differ only after a crash until the
                // next batch, and a snapshot must not mix them.
                return Err(ProjectorError::State(format!(
                    "the index covers {position} but the state store {state_next}; no snapshot until a batch aligns them"
                )));
            }
            (position, files, read)
        };
        let dest = redb::Database::create(staging.join("state.redb"))?;
        let txn = dest.begin_write()?;
        copy_tables!(read, txn, META, PATIENTS, STUDIES, SERIES, INSTANCES, CHILDREN, OUTCOMES);
        txn.commit()?;
        drop(read);
        drop(dest);
        let mut files: Vec<String> = index_files
            .into_iter()
            .map(|f| format!("index/{f}"))
            .collect();
        files.push("state.redb".to_string());
        files.sort();
        Ok(SnapshotFiles { position, files })
    }
}
