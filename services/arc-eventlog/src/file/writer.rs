//! writer owns the group-commit thread of the file log: it takes every pending append,
//! writes them in one go, fsyncs once, publishes them to readers and acknowledges them.

use super::frame;
use super::recover::{segment_name, SegmentIndex};
use super::Shared;
use crate::{LogError, Result};
use arc_fs::FsFile;
use bytes::Bytes;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;
use tokio::sync::oneshot;

/// One `append` call waiting for its records to be durable.
pub(crate) struct Request {
    pub records: Vec<Bytes>,
    /// Bytes of all frames of the request.
    pub bytes: usize,
    pub reply: oneshot::Sender<Result<u64>>,
}

/// The writer's view of the segment it appends to.
pub(crate) struct Writer {
    pub shared: Arc<Shared>,
    pub file: Box<dyn FsFile>,
    pub path: PathBuf,
    /// Bytes of the current segment that are durable.
    pub size: u64,
    /// The sequence the next record gets.
    pub next_seq: u64,
    pub segment_bytes: u64,
    pub max_batch_bytes: usize,
}

impl Writer {
    /// Runs until every sender of `rx` is gone (the log was dropped).
    pub(crate) fn run(mut self, rx: Receiver<Request>) {
        let mut carry: Option<Request> = None;
        loop {
            let first = match carry.take() {
                Some(request) => request,
                None => match rx.recv() {
                    Ok(request) => request,
                    Err(_) => break,
                },
            };
            let mut bytes = first.bytes;
            let mut batch = vec![first];
            // Group commit: everything that queued up while the last fsync ran shares the
            // next one, up to a size bound so one batch does not grow a segment far past
            // its roll size or hold readers back for long.
            while bytes < self.max_batch_bytes {
                match rx.try_recv() {
                    Ok(request) if bytes + request.bytes > self.max_batch_bytes => {
                        carry = Some(request);
                        break;
                    }
                    Ok(request) => {
                        bytes += request.bytes;
                        batch.push(request);
                    }
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                }
            }
            self.commit(batch, bytes);
        }
        tracing::debug!(path = %self.path.display(), "event log writer stopped");
    }

    fn commit(&mut self, batch: Vec<Request>, bytes: usize) {
        if self.shared.failed.load(Ordering::Acquire) {
            for request in batch {
                let _ = request.reply.send(Err(unavailable_after_failure()));
            }
            return;
        }
        let first_seq = self.next_seq;
        match self.write_batch(&batch, bytes) {
            Ok(offsets) => {
                let count = offsets.len() as u64;
                self.size += bytes as u64;
                self.next_seq += count;
                self.shared.publish(offsets, self.size, self.next_seq);
                let mut seq = first_seq;
                for request in batch {
                    let n = request.records.len() as u64;
                    // The caller may have given up waiting; its records are durable anyway.
                    let _ = request.reply.send(Ok(seq));
                    seq += n;
                }
            }
            Err(e) => {
                // Never acknowledge what may not be durable, and never write after a failed
                // fsync: the kernel may have dropped the dirty pages, so later "successful"
                // fsyncs would prove nothing. The log stays refused until reopened.
                self.shared.failed.store(true, Ordering::Release);
                tracing::error!(path = %self.path.display(), error = %e, "event log write failed, refusing further appends");
                self.undo_unacknowledged();
                let message = format!("write to {} failed: {e}", self.path.display());
                for request in batch {
                    let _ = request
                        .reply
                        .send(Err(LogError::Unavailable(message.clone())));
                }
            }
        }
    }

    /// Writes and syncs one batch; returns the offsets of its frames in the current segment.
    fn write_batch(&mut self, batch: &[Request], bytes: usize) -> io::Result<Vec<u64>> {
        if self.size > 0 && self.size + bytes as u64 > self.segment_bytes {
            self.roll()?;
        }
        let mut buf = Vec::with_capacity(bytes);
        let mut offsets = Vec::new();
        for record in batch.iter().flat_map(|r| r.records.iter()) {
            offsets.push(self.size + buf.len() as u64);
            frame::encode_into(&mut buf, record);
        }
        self.file.write_all(&buf)?;
        self.file.sync()?;
        Ok(offsets)
    }

    /// Starts a new segment. The old one needs no sync: every batch in it was synced.
    fn roll(&mut self) -> io::Result<()> {
        let path = self.shared.dir.join(segment_name(self.next_seq));
        let file = self.shared.fs.create(&path)?;
        // The new name must be durable before any record in it is acknowledged; an empty
        // segment left behind by a failure here is consistent (it starts at the next sequence).
        self.shared.fs.sync_dir(&self.shared.dir)?;
        tracing::debug!(path = %path.display(), first_seq = self.next_seq, "rolled event log segment");
        self.shared.start_segment(SegmentIndex {
            first_seq: self.next_seq,
            path: path.clone(),
            offsets: Vec::new(),
            size: 0,
        });
        self.file = file;
        self.path = path;
        self.size = 0;
        Ok(())
    }

    /// Best effort after a failure: cut the current segment back to its durable size, so a
    /// failed append stays absent after a restart when the disk still takes this much.
    fn undo_unacknowledged(&self) {
        match self.shared.fs.truncate(&self.path, self.size) {
            Ok(()) => {
                tracing::warn!(path = %self.path.display(), size = self.size, "cut unacknowledged bytes after failed write")
            }
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "could not cut unacknowledged bytes; they may reappear on reopen")
            }
        }
    }
}

pub(crate) fn unavailable_after_failure() -> LogError {
    LogError::Unavailable("an earlier write failed; reopen the log to continue".to_string())
}
