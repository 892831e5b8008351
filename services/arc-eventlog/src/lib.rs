//! arc-eventlog owns the ordered event log: the [`EventLog`] trait, the segmented file log
//! (the embedded default), the memory log, and one conformance suite that every backend passes.
//!
//! Records are opaque bytes (serialized `EventEnvelope`s); the log assigns each a sequence
//! number, dense from 0, that orders every change to the archive.
//!
//! Backends are chosen by URI with [`open_uri`]: `file:///dir` (or a plain path),
//! `memory://` / `mem://`, and `kafka://…` (cargo feature `kafka`).

use async_trait::async_trait;
use bytes::Bytes;
use std::fmt::Debug;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

mod file;
#[cfg(feature = "kafka")]
mod kafka;
mod memory;
#[cfg(any(test, feature = "testsuite"))]
pub mod testsuite;

pub use file::{FileLog, FileLogOptions, OpenReport};
#[cfg(feature = "kafka")]
pub use kafka::{KafkaLog, KafkaOptions};
pub use memory::MemoryLog;

/// One record read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Position in the log, dense from 0.
    pub seq: u64,
    /// The bytes as appended.
    pub data: Bytes,
}

/// Errors of a log backend.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The log could not be reached or written; nothing was appended.
    #[error("event log unavailable: {0}")]
    Unavailable(String),
    /// A record before the tail is damaged: the log needs repair, not a restart.
    #[error("event log damaged at {location}: {detail}")]
    Corrupt {
        /// File and offset (or partition and offset) of the damaged record.
        location: String,
        /// What is wrong with it.
        detail: String,
    },
    /// A read asked for a position beyond the end.
    #[error("position {0} is beyond the end of the log ({1})")]
    OutOfRange(u64, u64),
    /// An I/O error.
    #[error("event log I/O: {0}")]
    Io(#[from] std::io::Error),
    /// A URI that names no backend this build has.
    #[error("unsupported event log URI {0}")]
    Unsupported(String),
    /// The log exists but is set up so that it could lose or reorder events (a Kafka topic
    /// with several partitions or a finite retention); the message says how to fix it.
    #[error("event log misconfigured: {0}")]
    Misconfigured(String),
}

/// Result of log operations.
pub type Result<T, E = LogError> = std::result::Result<T, E>;

/// The ordered, durable log of events.
#[async_trait]
pub trait EventLog: Debug + Send + Sync + 'static {
    /// Appends records and returns the sequence of each, in the order given. Durable on
    /// return: when this returns `Ok`, a crash cannot lose them. The sequences ascend but need
    /// not be contiguous: other writers (other nodes on one Kafka partition) may land records
    /// between them. A backend that retries an append whose outcome it could not learn may
    /// store a record twice; the answer names the copy it saw acknowledged, and readers
    /// match copies by the event id inside the record. On `Err` they were not acknowledged:
    /// a backend may still find them after a restart if the failure hit after the bytes left
    /// (a failed fsync, a timed-out delivery), but never acknowledges them before. An empty
    /// `records` appends nothing and returns an empty vector.
    async fn append(&self, records: Vec<Bytes>) -> Result<Vec<u64>>;
    /// Reads up to `max` records starting at `from`. When `from` is the end of the log it
    /// waits up to `wait` for new records and returns an empty batch if none came. Beyond
    /// the end it fails with [`LogError::OutOfRange`]. It may return fewer than `max`
    /// records when they are large; only an empty batch means "nothing new".
    async fn read(&self, from: u64, max: usize, wait: Duration) -> Result<Vec<Record>>;
    /// The sequence the next appended record will get (the number of records).
    async fn end(&self) -> Result<u64>;
    /// The URI this log was opened from.
    fn uri(&self) -> String;
}

/// Opens the log a URI names: `file:///dir` or a plain path (the file log), `memory://` or
/// `mem://` (a fresh memory log), `kafka://host:port[,host:port]/topic[?settings]` (the
/// Kafka log, cargo feature `kafka`; it creates or checks its topic, see [`KafkaOptions`]).
pub async fn open_uri(uri: &str) -> Result<Arc<dyn EventLog>> {
    if let Some(rest) = uri.strip_prefix("file://") {
        // `file:///abs`, `file://localhost/abs`; anything else is taken as a relative path.
        let path = rest
            .strip_prefix("localhost")
            .filter(|p| p.starts_with('/'))
            .unwrap_or(rest);
        if path.is_empty() {
            return Err(LogError::Unsupported(format!(
                "{uri}: a file:// URI needs a directory"
            )));
        }
        let (log, _report) = FileLog::open(Path::new(path))?;
        return Ok(Arc::new(log));
    }
    if uri == "memory://"
        || uri == "mem://"
        || uri.starts_with("memory://")
        || uri.starts_with("mem://")
    {
        return Ok(Arc::new(MemoryLog::new()));
    }
    if uri.starts_with("kafka://") {
        #[cfg(feature = "kafka")]
        return Ok(Arc::new(KafkaLog::open(KafkaOptions::parse(uri)?).await?));
        #[cfg(not(feature = "kafka"))]
        return Err(LogError::Unsupported(format!(
            "{uri}: kafka:// needs the `kafka` feature of arc-eventlog, which this build lacks"
        )));
    }
    if let Some((scheme, _)) = uri.split_once("://") {
        return Err(LogError::Unsupported(format!(
            "{uri}: unknown scheme {scheme}:// (expected file://, memory://, mem:// or kafka://)"
        )));
    }
    if uri.is_empty() {
        return Err(LogError::Unsupported("empty event log URI".into()));
    }
    // `word:` before any `/` is a URI gone wrong (`kafka:/host/t`), not a folder to create.
    if let Some((head, _)) = uri.split_once(':') {
        if head.len() > 1
            && head.starts_with(|c: char| c.is_ascii_alphabetic())
            && head
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        {
            return Err(LogError::Unsupported(format!(
                "{uri}: not a URI the log knows (expected a folder path, file:///dir, memory://, mem:// or kafka://host:port/topic)"
            )));
        }
    }
    let (log, _report) = FileLog::open(Path::new(uri))?;
    Ok(Arc::new(log))
}

/// Waits until the end watched by `rx` moves past `from` or `wait` runs out, and returns the
/// end then. Fails when `from` is beyond the end. Does not wait when `max` is 0.
pub(crate) async fn wait_beyond(
    rx: &mut watch::Receiver<u64>,
    from: u64,
    max: usize,
    wait: Duration,
) -> Result<u64> {
    // `None` when `wait` is too long to add to now: that means waiting without limit.
    let deadline = tokio::time::Instant::now().checked_add(wait);
    loop {
        let end = *rx.borrow_and_update();
        if from > end {
            return Err(LogError::OutOfRange(from, end));
        }
        if from < end || max == 0 || wait.is_zero() {
            return Ok(end);
        }
        let changed = match deadline {
            Some(deadline) => match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(changed) => changed,
                Err(_elapsed) => return Ok(end),
            },
            None => rx.changed().await,
        };
        if changed.is_err() {
            // The log is gone; nothing more will come.
            return Ok(end);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn open_uri_resolves_schemes() -> anyhow::Result<()> {
        for uri in ["memory://", "mem://"] {
            let log = open_uri(uri).await?;
            assert_eq!(log.end().await?, 0);
            assert_eq!(log.uri(), "memory://");
        }
        let dir = tempfile::tempdir()?;
        let uri = format!("file://{}", dir.path().join("log").display());
        let log = open_uri(&uri).await?;
        assert_eq!(log.append(vec![Bytes::from_static(b"x")]).await?, vec![0]);
        assert_eq!(log.uri(), uri);
        drop(log);
        let plain = open_uri(&dir.path().join("log").display().to_string()).await?;
        assert_eq!(plain.end().await?, 1);

        #[cfg(not(feature = "kafka"))]
        match open_uri("kafka://localhost:9092/events").await {
            Err(LogError::Unsupported(msg)) => assert!(msg.contains("`kafka` feature"), "{msg}"),
            other => panic!("expected Unsupported, got {other:?}"),
        }
        // With the feature, a bad kafka URI is refused before any connection is tried.
        #[cfg(feature = "kafka")]
        match open_uri("kafka://localhost/events").await {
            Err(LogError::Unsupported(msg)) => assert!(msg.contains("needs a port"), "{msg}"),
            other => panic!("expected Unsupported, got {other:?}"),
        }
        assert!(matches!(
            open_uri("s3://bucket/x").await,
            Err(LogError::Unsupported(_))
        ));
        assert!(matches!(
            open_uri("file://").await,
            Err(LogError::Unsupported(_))
        ));
        for typo in ["kafka:/localhost:9092/t", "file:/tmp/x", "bogus:x"] {
            assert!(
                matches!(open_uri(typo).await, Err(LogError::Unsupported(_))),
                "{typo}"
            );
        }
        Ok(())
    }
}
