//! arc-projector applies the event log to the node's projection: a redb state store
//! (entities, current attributes, aggregates, UID → blob map, verdicts) and the tantivy index.
//! Both record the log position they cover; after a crash each catches up from its own
//! position, so no event is applied twice to either (ARCHITECTURE.md section 1).
//!
//! Batches: every event that arrived while the previous batch ran is applied in one state
//! transaction and one index commit, so concurrent writers share commits.

mod apply;
mod docs;
mod progress;
mod snapshot;
mod state;

pub use apply::{current_attrs, patient_key};
pub use progress::{Progress, Restored};
pub use snapshot::{SnapshotFiles, STATE_FORMAT};
pub use state::{InstanceRec, Outcome, PatientRec, SeriesRec, StateReader, StudyRec};

use arc_eventlog::{EventLog, Record};
use arc_index::{StudyIndex, StudyReader};
use arc_model::EventEnvelope;
use redb::ReadableTable;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Errors of the projection.
#[derive(Debug, thiserror::Error)]
pub enum ProjectorError {
    /// The state store failed or holds something unreadable.
    #[error("projection state: {0}")]
    State(String),
    /// The index failed.
    #[error("projection index: {0}")]
    Index(#[from] arc_index::IndexError),
    /// The log failed.
    #[error("projection log: {0}")]
    Log(#[from] arc_eventlog::LogError),
    /// The log is behind the projection: it was reset or replaced.
    #[error("the event log ends at {log_end} but this node's projection is at {position}: the log was reset; move {dir} away to rebuild from the log, or point the node at the right log")]
    LogBehind {
        /// End of the log.
        log_end: u64,
        /// Position of the projection.
        position: u64,
        /// The projection folder.
        dir: PathBuf,
    },
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for ProjectorError {
            fn from(e: $t) -> Self { ProjectorError::State(e.to_string()) }
        }
    )*};
}
from_redb!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// Result of projection operations.
pub type Result<T, E = ProjectorError> = std::result::Result<T, E>;

/// The node's projection: apply batches, read state, search the index.
#[derive(Debug, Clone)]
pub struct Projector {
    db: Arc<redb::Database>,
    writer: Arc<Mutex<StudyIndex>>,
    reader: StudyReader,
    applied: Arc<watch::Sender<u64>>,
    dir: PathBuf,
    /// When the state store last made a commit durable (see [`DURABLE_EVERY`]), and
    /// whether non-durable commits came after it.
    durability: Arc<Mutex<DurableClock>>,
    /// Where the projection started and how far the log reaches (see [`status`](Self::status)).
    progress: Arc<Mutex<Progress>>,
}

#[derive(Debug)]
struct DurableClock {
    last: Instant,
    behind: bool,
}

/// Longest time between durable commits of the state store. Commits in between are visible
/// at once but not synced: the projection is derived, so after a machine crash it resumes
/// from its last durable position and re-applies at most this much of the log, while each
/// batch saves a disk flush (redb `Durability::None`). The index keeps its own position.
const DURABLE_EVERY: Duration = Duration::from_secs(1);

impl Projector {
    /// Opens (or creates) the projection in `dir` (`state.redb` and `index/`).
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir)
            .map_err(|e| ProjectorError::State(format!("{}: {e}", dir.display())))?;
        let db = Arc::new(redb::Database::create(dir.join("state.redb"))?);
        {
            // Create every table up front so readers never see a missing one mid-run.
            let txn = db.begin_write()?;
            txn.open_table(state::META)?;
            txn.open_table(state::PATIENTS)?;
            txn.open_table(state::STUDIES)?;
            txn.open_table(state::SERIES)?;
            txn.open_table(state::INSTANCES)?;
            txn.open_table(state::CHILDREN)?;
            txn.open_table(state::OUTCOMES)?;
            txn.commit()?;
        }
        let index = StudyIndex::open(&dir.join("index"))?;
        let state = StateReader { db: db.clone() };
        let applied = state
            .position()?
            .min(index.committed_position().unwrap_or(0));
        let (tx, _) = watch::channel(applied);
        let reader = index.reader();
        Ok(Projector {
            db,
            writer: Arc::new(Mutex::new(index)),
            reader,
            applied: Arc::new(tx),
            dir: dir.to_path_buf(),
            durability: Arc::new(Mutex::new(DurableClock {
                last: Instant::now(),
                behind: false,
            })),
            progress: Arc::new(Mutex::new(Progress::opened(applied))),
        })
    }

    /// Reads the state store.
    pub fn state(&self) -> StateReader {
        StateReader {
            db: self.db.clone(),
        }
    }

    /// The index, for searches (`arc_index::IndexRead`).
    pub fn index(&self) -> &StudyReader {
        &self.reader
    }

    fn index_position(&self) -> u64 {
        self.writer
            .lock()
            .expect("index writer lock")
            .committed_position()
            .unwrap_or(0)
    }

    /// The next sequence both the state store and the index have applied.
    pub fn applied(&self) -> u64 {
        *self.applied.borrow()
    }

    /// Waits until the event at `seq` is applied and searchable; false if `timeout` ran out first.
    pub async fn wait_applied(&self, seq: u64, timeout: Duration) -> bool {
        let mut rx = self.applied.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|next| *next > seq))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Refuses to run against a log that ends before what this projection already applied.
    pub async fn check_log(&self, log: &dyn EventLog) -> Result<()> {
        let log_end = log.end().await?;
        let position = self.state().position()?.max(self.index_position());
        if log_end < position {
            return Err(ProjectorError::LogBehind {
                log_end,
                position,
                dir: self.dir.clone(),
            });
        }
        Ok(())
    }

    /// Applies one batch of consecutive records (blocking: call off the async workers).
    /// Returns the next sequence to apply.
    pub fn apply_batch(&self, records: &[Record]) -> Result<u64> {
        let Some(last) = records.last() else {
            return Ok(self.applied());
        };
        // One batch at a time: the writer lock also orders concurrent callers. It is taken
        // before the state transaction so that a snapshot, which holds it and then reads
        // (or checkpoints) the state store, never waits on a batch that waits on it.
        let mut index = self.writer.lock().expect("index writer lock");
        let mut txn = self.db.begin_write()?;
        let durable = self
            .durability
            .lock()
            .expect("durability clock")
            .last
            .elapsed()
            >= DURABLE_EVERY;
        if !durable {
            txn.set_durability(redb::Durability::None)
                .map_err(|e| ProjectorError::State(e.to_string()))?;
        }
        let state_next = txn
            .open_table(state::META)?
            .get(state::NEXT)?
            .map(|v| v.value())
            .unwrap_or(0);
        let index_next = index.committed_position().unwrap_or(0);
        let mut touched = apply::Touched::default();
        for rec in records {
            let env = match EventEnvelope::from_bytes(&rec.data) {
                Ok(env) => env,
                Err(e) => {
                    // Deterministic either way: an event this version cannot read is skipped
                    // by every node of this version alike.
                    tracing::error!(seq = rec.seq, error = %e, "skipping undecodable event");
                    continue;
                }
            };
            if rec.seq >= state_next {
                apply::apply(&txn, rec.seq, &env)?;
            }
            if rec.seq >= index_next || rec.seq >= state_next {
                touched.add_event(&env.event);
            }
        }
        let next = last.seq + 1;
        txn.open_table(state::META)?.insert(state::NEXT, next)?;
        docs::rebuild(&txn, &mut index, &touched)?;
        index.commit(next)?;
        txn.commit()?;
        let mut clock = self.durability.lock().expect("durability clock");
        if durable {
            *clock = DurableClock {
                last: Instant::now(),
                behind: false,
            };
        } else {
            clock.behind = true;
        }
        drop(clock);
        self.reader.reload()?;
        self.applied.send_replace(next);
        self.note_log_end(next);
        Ok(next)
    }

    /// Makes every commit so far durable (an empty commit with full durability persists the
    /// non-durable ones before it). Called when the log goes quiet and at the end of a catch-up.
    pub fn checkpoint(&self) -> Result<()> {
        let mut clock = self.durability.lock().expect("durability clock");
        if clock.behind {
            self.db.begin_write()?.commit()?;
        }
        *clock = DurableClock {
            last: Instant::now(),
            behind: false,
        };
        Ok(())
    }

    /// Follows the log for ever: reads what arrived, applies it, publishes the position.
    /// Errors are logged and retried with a pause; the projection never skips an event.
    pub async fn run(self, log: Arc<dyn EventLog>) {
        let mut next = self.applied();
        loop {
            let records = match log.read(next, 4096, Duration::from_millis(500)).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(error = %e, next, "event log read failed; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            };
            if records.is_empty() {
                // Nothing new: the log ends where this projection stands.
                self.note_log_end(next);
                // Quiet log: make what was applied durable, off the async workers.
                let this = self.clone();
                if let Ok(Err(e)) = tokio::task::spawn_blocking(move || this.checkpoint()).await {
                    tracing::warn!(error = %e, "projection checkpoint failed");
                }
                continue;
            }
            let this = self.clone();
            match tokio::task::spawn_blocking(move || this.apply_batch(&records)).await {
                Ok(Ok(n)) => next = n,
                Ok(Err(e)) => {
                    tracing::error!(error = %e, next, "applying events failed; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => tracing::error!(error = %e, "projection task panicked"),
            }
        }
    }

    /// Applies the whole log from where the projection stands to its end, calling
    /// `progress(applied, end)` after each batch. Used by `arcstream reindex` and at start.
    pub async fn catch_up(
        &self,
        log: &dyn EventLog,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<u64> {
        let end = log.end().await?;
        let mut next = self.applied();
        while next < end {
            let records = log.read(next, 4096, Duration::ZERO).await?;
            if records.is_empty() {
                break;
            }
            let this = self.clone();
            next = tokio::task::spawn_blocking(move || this.apply_batch(&records))
                .await
                .map_err(|e| ProjectorError::State(format!("projection task failed: {e}")))??;
            progress(next, end);
        }
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.checkpoint())
            .await
            .map_err(|e| ProjectorError::State(format!("projection task failed: {e}")))??;
        Ok(next)
    }
}

#[cfg(test)]
mod tests;
