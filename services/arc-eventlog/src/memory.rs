//! memory owns the in-memory event log (`memory://`, `mem://`): for tests and throwaway
//! nodes; it forgets everything when dropped.

use crate::{wait_beyond, EventLog, Record, Result};
use async_trait::async_trait;
use bytes::Bytes;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::watch;

/// A log held in a `Vec`; readers at the end are woken by a watch of the record count.
#[derive(Debug)]
pub struct MemoryLog {
    records: Mutex<Vec<Bytes>>,
    end: watch::Sender<u64>,
}

impl Default for MemoryLog {
    fn default() -> Self {
        MemoryLog::new()
    }
}

impl MemoryLog {
    /// An empty log.
    pub fn new() -> MemoryLog {
        MemoryLog {
            records: Mutex::new(Vec::new()),
            end: watch::channel(0).0,
        }
    }

    fn records(&self) -> MutexGuard<'_, Vec<Bytes>> {
        // Pushes are whole; a panicking holder cannot leave the vector half-changed.
        self.records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl EventLog for MemoryLog {
    async fn append(&self, records: Vec<Bytes>) -> Result<Vec<u64>> {
        let mut all = self.records();
        let first = all.len() as u64;
        all.extend(records);
        // Sent under the lock so the published end only ever grows.
        self.end.send_replace(all.len() as u64);
        Ok((first..all.len() as u64).collect())
    }

    async fn read(&self, from: u64, max: usize, wait: Duration) -> Result<Vec<Record>> {
        let mut rx = self.end.subscribe();
        let end = wait_beyond(&mut rx, from, max, wait).await?;
        let all = self.records();
        let stop = end.min(from.saturating_add(max as u64));
        Ok((from..stop)
            .map(|seq| Record {
                seq,
                data: all[seq as usize].clone(),
            })
            .collect())
    }

    async fn end(&self) -> Result<u64> {
        Ok(self.records().len() as u64)
    }

    fn uri(&self) -> String {
        "memory://".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passes_the_conformance_suite() {
        crate::testsuite::run(&MemoryLog::new()).await;
    }
}
