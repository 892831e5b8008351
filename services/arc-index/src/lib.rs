//! arc-index owns the QIDO-RS / C-FIND index: the tantivy schema built from arc-model's
//! dictionary, the writer the projector feeds, QIDO query parsing (PS3.18 10.6), matching
//! (PS3.4 C.2.2.2) and return-key selection (PS3.18 10.6.3.3).
//!
//! * [`StudyIndex`] is the single writer (projector side) and also answers reads.
//! * [`StudyReader`] is a cheap clone for request handlers; it sees what the last
//!   [`StudyIndex::reload`] made visible (tantivy `ReloadPolicy::Manual`).
//! * [`parse_qido`] turns URL query parameters into a [`QidoQuery`]; its errors are client
//!   errors (HTTP 400).

mod index;
mod matching;
mod normalize;
mod order;
mod pn;
mod query;
mod returns;
mod schema;
mod search;
mod synced_dir;
mod translate;

#[cfg(test)]
mod tests;

pub use index::{EntityDoc, StudyIndex, INDEX_FORMAT};
pub use query::{parse_qido, Filter, Matching, OrderKey, QidoQuery};
pub use returns::{default_return_tags, return_tags, select_return};
pub use search::{IndexRead, QidoPage, StudyReader};

/// A query the client got wrong: the HTTP layer answers 400, C-FIND answers A900/C000.
/// `key` names the parameter at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct QueryError {
    /// The query parameter (attribute key or reserved name) at fault.
    pub key: String,
    /// What is wrong with it.
    pub message: String,
}

impl QueryError {
    pub(crate) fn new(key: &str, message: impl Into<String>) -> Self {
        QueryError {
            key: key.to_string(),
            message: message.into(),
        }
    }
}

/// Errors of the index.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The query is invalid (client error).
    #[error("invalid query: {0}")]
    Query(#[from] QueryError),
    /// tantivy failed (I/O, corruption, lock).
    #[error("index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    /// Creating the index folder failed.
    #[error("index folder: {0}")]
    Io(#[from] std::io::Error),
    /// The index on disk was built by another version of arcstream (another dictionary or
    /// term format): it must be rebuilt from the log.
    #[error("the index in {0} was built by another version of arcstream (this one writes index {1}); stop the node and run `arcstream reindex` with the same settings to rebuild it from the event log")]
    SchemaMismatch(String, &'static str),
    /// Something the index wrote cannot be read back (commit payload, stored attributes).
    #[error("corrupt index data: {0}")]
    Corrupt(String),
}

/// Result of index operations.
pub type Result<T, E = IndexError> = std::result::Result<T, E>;
