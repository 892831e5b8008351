//! arc-archive owns the command handlers: it validates input, writes blobs first, appends
//! events, waits for the local projection, and answers from the projector's verdict
//! (ARCHITECTURE.md section 1). It also reads stored objects back for the retrieve services.

mod retrieve;
mod spool;
mod store;

pub use retrieve::{Retrieve, RetrieveError};
pub use spool::{
    clean_spool_dir, spool_body, PartContent, SpoolError, SpooledPart, MEMORY_PART_LIMIT,
};
pub use store::{
    naming_head, PartOutcome, PartResult, Prepared, StoreContext, StoreReport, StoreRequest,
    CANNOT_UNDERSTAND, COERCION_OF_DATA_ELEMENTS, DATA_SET_DOES_NOT_MATCH, DIFF_STUDY_INSTANCE_UID,
    FULL_PARSE_LIMIT, OUT_OF_RESOURCES,
};

use arc_eventlog::EventLog;
use arc_model::OverwritePolicy;
use arc_objstore::ObjectStore;
use arc_projector::Projector;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Errors that stop a whole command. Part-level problems are results, not errors.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// Nothing was appended: the object store or the log could not be written (HTTP 503).
    #[error("archive unavailable, nothing was stored: {0}")]
    Unavailable(String),
}

/// The archive's command side, shared by every interface of a node.
#[derive(Debug, Clone)]
pub struct Archive {
    pub(crate) log: Arc<dyn EventLog>,
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) projector: Projector,
    pub(crate) overwrite: OverwritePolicy,
    pub(crate) write_wait: Duration,
    pub(crate) spool_dir: PathBuf,
}

impl Archive {
    /// Assembles the archive from its parts.
    pub fn new(
        log: Arc<dyn EventLog>,
        store: Arc<dyn ObjectStore>,
        projector: Projector,
        overwrite: OverwritePolicy,
        write_wait: Duration,
    ) -> Self {
        Archive {
            log,
            store,
            projector,
            overwrite,
            write_wait,
            spool_dir: std::env::temp_dir().join("arcstream-spool"),
        }
    }

    /// Spools large request parts under `dir` (the node's data folder), removing leftovers
    /// of an earlier run.
    pub fn with_spool_dir(mut self, dir: PathBuf) -> Self {
        if let Err(e) = spool::clean_spool_dir(&dir) {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot clean the spool folder");
        }
        self.spool_dir = dir;
        self
    }

    /// Where request parts are spooled.
    pub fn spool_dir(&self) -> &std::path::Path {
        &self.spool_dir
    }

    /// The projection this node reads from.
    pub fn projector(&self) -> &Projector {
        &self.projector
    }

    /// The object store.
    pub fn object_store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The event log.
    pub fn log(&self) -> &Arc<dyn EventLog> {
        &self.log
    }

    /// Read access to stored objects.
    pub fn retrieve(&self) -> Retrieve {
        Retrieve {
            store: self.store.clone(),
            state: self.projector.state(),
        }
    }
}
