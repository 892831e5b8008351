//! The `studies/{study}/series/{series}/metadata.json.zst` layout (ARCHITECTURE.md section 5):
//! each series' metadata in WADO-RS form (a JSON array of instance headers, current
//! attributes merged in, BulkDataURIs relative to the instance as stored), zstd-compressed.
//!
//! The document is tagged with the log position of the last change to its series, in a zstd
//! skippable frame after the data (RFC 8878 3.1.2: streaming decoders pass over it, and
//! one-shot decoders stop after the first frame, the data), so a writer can read the last 24
//! bytes to learn whether the document it holds is newer, and a document is only ever
//! replaced by a newer one.

use crate::Result;
use arc_archive::Retrieve;
use arc_eventlog::EventLog;
use arc_model::{Event, EventEnvelope};
use arc_objstore::{ObjectStore, StoreError};
use arc_projector::StateReader;
use bytes::Bytes;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

/// First skippable-frame magic number (RFC 8878 3.1.2), little-endian on the wire.
const SKIPPABLE_MAGIC: u32 = 0x184D_2A50;
/// What the skippable frame holds ahead of the position.
const TAG: &[u8; 8] = b"ARCPOS01";
/// Bytes of the frame: magic, size, tag, position.
const HEADER: usize = 4 + 4 + 8 + 8;
/// Events read from the log per pass at most, so one pass stays short.
const EVENTS_PER_PASS: u64 = 20_000;

/// The key of a series' document.
pub fn series_key(study: &str, series: &str) -> String {
    format!("studies/{study}/series/{series}/metadata.json.zst")
}

fn frame(position: u64) -> [u8; HEADER] {
    let mut out = [0u8; HEADER];
    out[..4].copy_from_slice(&SKIPPABLE_MAGIC.to_le_bytes());
    out[4..8].copy_from_slice(&16u32.to_le_bytes());
    out[8..16].copy_from_slice(TAG);
    out[16..].copy_from_slice(&position.to_le_bytes());
    out
}

/// The position a layout document is tagged with; `None` if absent or untagged.
pub async fn read_layout_position(store: &dyn ObjectStore, key: &str) -> Result<Option<u64>> {
    let Some(size) = store.head(key).await? else {
        return Ok(None);
    };
    if size < HEADER as u64 {
        return Ok(None);
    }
    let head = match store.get_range(key, size - HEADER as u64..size).await {
        Ok(b) => b,
        Err(StoreError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    if head.len() < HEADER || head[..4] != SKIPPABLE_MAGIC.to_le_bytes() || &head[8..16] != TAG {
        return Ok(None);
    }
    let mut pos = [0u8; 8];
    pos.copy_from_slice(&head[16..]);
    Ok(Some(u64::from_le_bytes(pos)))
}

/// What one layout pass did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pass {
    /// The log position the pass got to.
    pub cursor: u64,
    /// Documents written.
    pub written: usize,
    /// Series (study, series) whose documents could not be written, and why.
    pub failed: Vec<((String, String), String)>,
}

/// Writes series documents for the series the log touched.
#[derive(Debug, Clone)]
pub struct LayoutWriter {
    store: Arc<dyn ObjectStore>,
    log: Arc<dyn EventLog>,
    state: StateReader,
    retrieve: Retrieve,
}

impl LayoutWriter {
    /// A writer over the node's store, log and projection.
    pub fn new(
        store: Arc<dyn ObjectStore>,
        log: Arc<dyn EventLog>,
        state: StateReader,
        retrieve: Retrieve,
    ) -> Self {
        LayoutWriter {
            store,
            log,
            state,
            retrieve,
        }
    }

    /// Brings the documents of the series touched by events `from..to` (a bounded share of
    /// them per call), and of the series in `retry`, up to date. A series whose document
    /// cannot be written is reported in the answer, not an error: the others go on.
    pub async fn pass(
        &self,
        from: u64,
        to: u64,
        retry: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Pass> {
        let to = to.min(from.saturating_add(EVENTS_PER_PASS));
        let mut touched: BTreeSet<(String, String)> = retry.into_iter().collect();
        let mut next = from;
        while next < to {
            let records = self.log.read(next, 4096, Duration::ZERO).await?;
            let Some(last) = records.last() else { break };
            for rec in records.iter().filter(|r| r.seq < to) {
                if let Ok(env) = EventEnvelope::from_bytes(&rec.data) {
                    match env.event {
                        Event::InstanceStored(e) => {
                            touched.insert((e.study_uid, e.series_uid));
                        }
                    }
                }
            }
            next = (last.seq + 1).min(to);
        }
        let mut pass = Pass {
            cursor: next,
            written: 0,
            failed: Vec::new(),
        };
        for (study, series) in touched {
            match self.write_series(&study, &series).await {
                Ok(true) => pass.written += 1,
                Ok(false) => {}
                Err(e) => pass.failed.push(((study, series), e.to_string())),
            }
        }
        Ok(pass)
    }

    /// Writes one series' document if the one held is older than the series; returns
    /// whether it wrote.
    pub async fn write_series(&self, study: &str, series: &str) -> Result<bool> {
        let key = series_key(study, series);
        // STOW-RS stores only valid UIDs; a log written before it checked them may hold
        // others, which must not choose their key (`a/b` would add segments)
        if !arc_model::is_valid_uid(study)
            || !arc_model::is_valid_uid(series)
            || arc_objstore::validate_key(&key).is_err()
        {
            tracing::warn!(
                study,
                series,
                "series UIDs do not make an object key; no layout document"
            );
            return Ok(false);
        }
        let Some(rec) = self.state.series(series)? else {
            return Ok(false);
        };
        if rec.study_uid != study {
            return Ok(false);
        }
        if read_layout_position(&*self.store, &key)
            .await?
            .is_some_and(|held| held >= rec.seq)
        {
            return Ok(false);
        }
        let mut headers = Vec::new();
        for (sop, inst) in self.retrieve.select(study, Some(series), None)? {
            let mut header = self.retrieve.header(&sop, &inst).await?;
            arc_dicom::merge_json(&mut header, &inst.overrides());
            headers.push(header);
        }
        let doc = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
            let json = serde_json::to_vec(&serde_json::Value::Array(headers))?;
            let mut out = zstd::bulk::compress(&json, 3)?;
            out.extend(frame(rec.seq));
            Ok(out)
        })
        .await
        .map_err(|e| crate::io_err("layout task", e))?
        .map_err(|e| crate::io_err(&key, e))?;
        self.store.put(&key, Bytes::from(doc)).await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tag_is_a_frame_decoders_skip() {
        let mut doc = zstd::bulk::compress(b"[1,2]", 3).unwrap();
        doc.extend(frame(42));
        assert_eq!(zstd::stream::decode_all(&doc[..]).unwrap(), b"[1,2]");
        assert_eq!(zstd::bulk::decompress(&doc, 100).unwrap(), b"[1,2]");
    }
}
