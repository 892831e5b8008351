//! arc-archive owns the command handlers: it validates input, writes blobs first, appends
//! events, waits for the local projection, and answers from the projector's verdict
//! (ARCHITECTURE.md section 1). It also reads stored objects back for the retrieve services.

mod retrieve;
mod store;

pub use retrieve::{Retrieve, RetrieveError};
pub use store::{PartResult, StoreReport, StoreRequest};

use arc_eventlog::EventLog;
use arc_model::OverwritePolicy;
use arc_objstore::ObjectStore;
use arc_projector::Projector;
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
        Archive { log, store, projector, overwrite, write_wait }
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
        Retrieve { store: self.store.clone(), state: self.projector.state() }
    }
}
