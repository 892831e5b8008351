//! How far the projection is behind the log: where it started (a restored snapshot, the
//! position it opened at) and the log's end as last seen, for `/ready`, `/health` and the
//! lag a node reports on every answer.

use crate::Projector;
use arc_eventlog::EventLog;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The snapshot a projection was restored from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    /// The snapshot generation (its folder under `snapshots/`).
    pub generation: String,
    /// The log position it covers (the next sequence to apply).
    pub position: u64,
}

/// Where the projection started and what it knows of the log's end.
#[derive(Debug, Clone)]
pub struct Progress {
    /// The position the projection had when this process opened it (after a restore, the
    /// snapshot's): everything from here on was replayed by this process.
    pub opened_at: u64,
    /// The snapshot it was restored from, if any.
    pub restored: Option<Restored>,
    /// The end of the log (the next sequence it will assign) as last learned; `None` until
    /// first learned.
    pub log_end: Option<u64>,
    /// When the end was last learned (a successful query, or a read that found nothing new).
    pub log_end_at: Option<Instant>,
}

impl Progress {
    pub(crate) fn opened(applied: u64) -> Self {
        Progress {
            opened_at: applied,
            restored: None,
            log_end: None,
            log_end_at: None,
        }
    }
}

impl Projector {
    /// Where the projection started and the log's end as last learned.
    pub fn progress(&self) -> Progress {
        self.progress.lock().expect("progress lock").clone()
    }

    /// Records that this projection was restored from a snapshot.
    pub fn set_restored(&self, restored: Restored) {
        self.progress.lock().expect("progress lock").restored = Some(restored);
    }

    /// Records a log end just learned. The end only moves forward: an older answer that
    /// arrives late changes nothing but the time.
    pub fn note_log_end(&self, end: u64) {
        let mut p = self.progress.lock().expect("progress lock");
        p.log_end = Some(p.log_end.map_or(end, |e| e.max(end)));
        p.log_end_at = Some(Instant::now());
    }

    /// Events the log holds that this projection has not applied, if the end is known.
    pub fn lag(&self) -> Option<u64> {
        let end = self.progress.lock().expect("progress lock").log_end?;
        Some(end.saturating_sub(self.applied()))
    }

    /// Asks the log for its end every `every`, for ever. A failed query keeps the last
    /// known end (its age shows in [`Progress::log_end_at`]).
    pub async fn watch_log_end(self, log: Arc<dyn EventLog>, every: Duration) {
        let mut failing = false;
        loop {
            match tokio::time::timeout(every.max(Duration::from_secs(5)), log.end()).await {
                Ok(Ok(end)) => {
                    if failing {
                        tracing::info!(end, "event log end readable again");
                    }
                    failing = false;
                    self.note_log_end(end);
                }
                Ok(Err(e)) if !failing => {
                    failing = true;
                    tracing::warn!(error = %e, "cannot read the end of the event log; lag figures keep the last known end");
                }
                Err(_) if !failing => {
                    failing = true;
                    tracing::warn!("reading the end of the event log timed out; lag figures keep the last known end");
                }
                _ => {}
            }
            tokio::time::sleep(every).await;
        }
    }
}
