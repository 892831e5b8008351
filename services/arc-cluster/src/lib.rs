//! arc-cluster owns what the nodes of one archive share besides the log and the blobs:
//! projection snapshots in the object store (`snapshots/{generation}/…`, manifest written
//! last), restoring the newest valid one into an empty projection folder, the lease that
//! lets one node at a time publish them, and the `studies/{study}/series/{series}/
//! metadata.json.zst` layout that node keeps current (ARCHITECTURE.md sections 1 and 5).
//!
//! Correctness never depends on the lease (docs/adr/003-snapshot-lease.md): two publishers
//! write separate generations, restorers take the newest valid manifest, and layout
//! documents are written only forward.

mod layout;
mod lease;
mod manifest;
mod publish;
mod publisher;
mod restore;

pub use layout::{read_layout_position, series_key, LayoutWriter, Pass};
pub use lease::{Lease, LeaseDoc, LEASE_KEY};
pub use manifest::{Generation, Manifest, ManifestFile, MANIFEST_FORMAT, SNAPSHOTS};
pub use publish::{prune, publish, Published};
pub use publisher::{Publisher, PublisherConfig};
pub use restore::restore;

/// Errors of snapshots, the lease and the layout.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The object store failed.
    #[error(transparent)]
    Store(#[from] arc_objstore::StoreError),
    /// The projection failed.
    #[error(transparent)]
    Projection(#[from] arc_projector::ProjectorError),
    /// The event log failed.
    #[error(transparent)]
    Log(#[from] arc_eventlog::LogError),
    /// Reading a stored header failed.
    #[error(transparent)]
    Retrieve(#[from] arc_archive::RetrieveError),
    /// A local file operation failed.
    #[error("{0}")]
    Io(String),
    /// A snapshot in the store is unusable (damaged, partial, of another format).
    #[error("snapshot {generation}: {why}")]
    Invalid {
        /// The generation.
        generation: String,
        /// What is wrong with it.
        why: String,
    },
}

/// Result of cluster operations.
pub type Result<T, E = ClusterError> = std::result::Result<T, E>;

pub(crate) fn io_err(what: impl std::fmt::Display, e: impl std::fmt::Display) -> ClusterError {
    ClusterError::Io(format!("{what}: {e}"))
}
