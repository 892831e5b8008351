//! file owns the embedded default event log: segmented append-only files in one directory,
//! with CRC32C framing, group-commit fsync, torn-tail repair on open and an in-memory index.
//!
//! Layout: `{dir}/{first_seq:020}.seg`, each a run of frames (see `frame`). A segment is
//! rolled when the next batch would take it past `segment_bytes`. Readers only ever see
//! records whose fsync completed, so nothing read can be taken back by a crash.

mod frame;
mod recover;
mod writer;

#[cfg(test)]
mod crash_tests;
#[cfg(test)]
mod tests;

use crate::{wait_beyond, EventLog, LogError, Record, Result};
use arc_fs::{Fs, RealFs};
use async_trait::async_trait;
use bytes::Bytes;
use recover::SegmentIndex;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::{oneshot, watch};

/// The largest amount of record bytes one `read` call gathers (at least one record is
/// always returned), so a reader asking for many large records does not hold them all.
const READ_BUDGET: u64 = 16 << 20;

/// Settings of a [`FileLog`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileLogOptions {
    /// A segment is rolled when the next batch would take it past this size.
    pub segment_bytes: u64,
    /// Appends are batched into one write and fsync up to about this many bytes.
    pub max_batch_bytes: usize,
}

impl Default for FileLogOptions {
    fn default() -> Self {
        FileLogOptions {
            segment_bytes: 64 << 20,
            max_batch_bytes: 8 << 20,
        }
    }
}

/// What opening a file log found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenReport {
    /// Records in the log (the sequence the next append gets).
    pub records: u64,
    /// The segment whose torn tail was cut, and how many bytes were cut.
    pub torn_tail_cut: Option<(String, u64)>,
}

/// State shared by the log handle, its readers and its writer thread.
pub(crate) struct Shared {
    pub fs: Arc<dyn Fs>,
    pub dir: PathBuf,
    index: Mutex<Vec<SegmentIndex>>,
    /// The number of durable records; readers wait on it.
    end: watch::Sender<u64>,
    /// Set once a write or fsync failed; no append is accepted after it.
    pub failed: AtomicBool,
}

impl Shared {
    fn index(&self) -> MutexGuard<'_, Vec<SegmentIndex>> {
        // The index is only changed by whole-value pushes; a panic elsewhere cannot leave
        // it half-updated, so a poisoned lock is still safe to use.
        self.index
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Makes records written to the last segment visible, after their fsync.
    pub(crate) fn publish(&self, offsets: Vec<u64>, size: u64, end: u64) {
        let mut index = self.index();
        if let Some(last) = index.last_mut() {
            last.offsets.extend(offsets);
            last.size = size;
        }
        // Sent under the index lock so readers never see an end the index does not cover.
        self.end.send_replace(end);
    }

    pub(crate) fn start_segment(&self, segment: SegmentIndex) {
        self.index().push(segment);
    }

    /// Reads records `from..end` (at most `max`, and about `READ_BUDGET` bytes).
    fn read_blocking(&self, from: u64, end: u64, max: usize) -> Result<Vec<Record>> {
        let plan = self.plan_read(from, end, max);
        let mut out = Vec::new();
        for chunk in plan {
            let len = usize::try_from(chunk.end_offset - chunk.start_offset)
                .map_err(|_| LogError::Unavailable("read too large for this platform".into()))?;
            let buf = self.fs.read_at(&chunk.path, chunk.start_offset, len)?;
            for (seq, &offset) in (chunk.first_seq..).zip(&chunk.offsets) {
                let at = (offset - chunk.start_offset) as usize;
                let location = || format!("{}:{offset}", chunk.path.display());
                match frame::decode(&buf, at) {
                    frame::Frame::Valid { len } => {
                        let start = at + frame::HEADER;
                        let data = Bytes::copy_from_slice(&buf[start..start + len]);
                        out.push(Record { seq, data });
                    }
                    // The bytes were valid when written and indexed: this is new damage.
                    other => {
                        return Err(LogError::Corrupt {
                            location: location(),
                            detail: format!("record {seq} no longer reads back: {other:?}"),
                        })
                    }
                }
            }
        }
        Ok(out)
    }

    /// Under the index lock, picks the byte ranges to read; the reading happens without it.
    fn plan_read(&self, from: u64, end: u64, max: usize) -> Vec<Chunk> {
        let index = self.index();
        let mut chunks = Vec::new();
        let mut seq = from;
        let mut budget = READ_BUDGET;
        let mut left = max as u64;
        // The last segment whose first sequence is <= `from`.
        let mut i = index
            .partition_point(|s| s.first_seq <= from)
            .saturating_sub(1);
        while seq < end && left > 0 && budget > 0 && i < index.len() {
            let segment = &index[i];
            let first = (seq - segment.first_seq) as usize;
            let mut count = 0usize;
            let mut bytes = 0u64;
            for k in first..segment.offsets.len() {
                if (count as u64) == left || segment.first_seq + k as u64 >= end {
                    break;
                }
                let next = segment.offsets.get(k + 1).copied().unwrap_or(segment.size);
                let size = next - segment.offsets[k];
                if bytes + size > budget && (count > 0 || !chunks.is_empty()) {
                    budget = 0;
                    break;
                }
                bytes += size;
                count += 1;
            }
            if count > 0 {
                let start_offset = segment.offsets[first];
                chunks.push(Chunk {
                    path: segment.path.clone(),
                    first_seq: seq,
                    offsets: segment.offsets[first..first + count].to_vec(),
                    start_offset,
                    end_offset: start_offset + bytes,
                });
            }
            seq += count as u64;
            left -= count as u64;
            budget = budget.saturating_sub(bytes);
            i += 1;
        }
        chunks
    }
}

/// A run of consecutive records in one segment, read with one `read_at`.
struct Chunk {
    path: PathBuf,
    first_seq: u64,
    offsets: Vec<u64>,
    start_offset: u64,
    end_offset: u64,
}

/// The segmented file log (`file://` URIs and plain paths).
pub struct FileLog {
    shared: Arc<Shared>,
    tx: Option<mpsc::Sender<writer::Request>>,
    writer: Option<JoinHandle<()>>,
    uri: String,
}

impl fmt::Debug for FileLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileLog")
            .field("dir", &self.shared.dir)
            .field("end", &*self.shared.end.borrow())
            .field("fs", &self.shared.fs)
            .finish()
    }
}

impl FileLog {
    /// Opens (creating if needed) the log in `dir` on the machine's filesystem.
    pub fn open(dir: &Path) -> Result<(FileLog, OpenReport)> {
        let dir = std::path::absolute(dir)?;
        FileLog::open_with(Arc::new(RealFs), &dir, FileLogOptions::default())
    }

    /// Opens (creating if needed) the log in `dir` through `fs`: validates every record,
    /// cuts a torn tail, and fails with [`LogError::Corrupt`] on damage before the tail.
    pub fn open_with(
        fs: Arc<dyn Fs>,
        dir: &Path,
        opts: FileLogOptions,
    ) -> Result<(FileLog, OpenReport)> {
        let recovered = recover::recover(fs.as_ref(), dir)?;
        let end = recovered.report.records;
        let last = recovered
            .segments
            .last()
            .cloned()
            .ok_or_else(|| LogError::Unavailable("log opened without a segment".into()))?;
        let (end_tx, _) = watch::channel(end);
        let shared = Arc::new(Shared {
            fs,
            dir: dir.to_path_buf(),
            index: Mutex::new(recovered.segments),
            end: end_tx,
            failed: AtomicBool::new(false),
        });
        let writer = writer::Writer {
            shared: shared.clone(),
            file: recovered.tail,
            path: last.path,
            size: last.size,
            next_seq: end,
            segment_bytes: opts.segment_bytes.max(1),
            max_batch_bytes: opts.max_batch_bytes.max(1),
        };
        let (tx, rx) = mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("arc-eventlog-writer".into())
            .spawn(move || writer.run(rx))?;
        let log = FileLog {
            shared,
            tx: Some(tx),
            writer: Some(handle),
            uri: format!("file://{}", dir.display()),
        };
        Ok((log, recovered.report))
    }

    /// The directory holding the segments.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }
}

impl Drop for FileLog {
    fn drop(&mut self) {
        // Closing the channel stops the writer after the batch it is on; joining makes a
        // drop a clean close, so the directory can be reopened right away.
        drop(self.tx.take());
        if let Some(handle) = self.writer.take() {
            if handle.join().is_err() {
                tracing::error!(dir = %self.shared.dir.display(), "event log writer panicked");
            }
        }
    }
}

#[async_trait]
impl EventLog for FileLog {
    async fn append(&self, records: Vec<Bytes>) -> Result<Vec<u64>> {
        if self
            .shared
            .failed
            .load(std::sync::atomic::Ordering::Acquire)
        {
            return Err(writer::unavailable_after_failure());
        }
        if records.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(big) = records.iter().find(|r| r.len() > frame::MAX_RECORD_LEN) {
            return Err(LogError::Io(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "record of {} bytes exceeds the limit of {}",
                    big.len(),
                    frame::MAX_RECORD_LEN
                ),
            )));
        }
        let bytes = records.iter().map(|r| frame::frame_len(r.len())).sum();
        let count = records.len() as u64;
        let (reply, answer) = oneshot::channel();
        let tx = self
            .tx
            .as_ref()
            .ok_or_else(|| LogError::Unavailable("log is closed".into()))?;
        tx.send(writer::Request {
            records,
            bytes,
            reply,
        })
        .map_err(|_| LogError::Unavailable("event log writer stopped".into()))?;
        // One writer thread: a batch is written whole and contiguous.
        let first = answer
            .await
            .map_err(|_| LogError::Unavailable("event log writer stopped".into()))??;
        Ok((first..first + count).collect())
    }

    async fn read(&self, from: u64, max: usize, wait: Duration) -> Result<Vec<Record>> {
        let mut rx = self.shared.end.subscribe();
        let end = wait_beyond(&mut rx, from, max, wait).await?;
        if from >= end || max == 0 {
            return Ok(Vec::new());
        }
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || shared.read_blocking(from, end, max))
            .await
            .map_err(|e| LogError::Unavailable(format!("read task failed: {e}")))?
    }

    async fn end(&self) -> Result<u64> {
        Ok(*self.shared.end.borrow())
    }

    fn uri(&self) -> String {
        self.uri.clone()
    }
}
