//! Reads stored instances and their headers back for WADO-RS, WADO-URI and (later) C-MOVE/C-GET.

use arc_model::{blob_key, meta_key};
use arc_objstore::ObjectStore;
use arc_projector::{InstanceRec, StateReader};
use bytes::Bytes;
use std::sync::Arc;

/// Errors of reading stored objects.
#[derive(Debug, thiserror::Error)]
pub enum RetrieveError {
    /// Nothing matches; the text says what was not found and where.
    #[error("{0}")]
    NotFound(String),
    /// The projection could not be read.
    #[error(transparent)]
    State(#[from] arc_projector::ProjectorError),
    /// The object store failed, or a referenced blob is missing (an invariant broken).
    #[error(transparent)]
    Store(#[from] arc_objstore::StoreError),
    /// A header blob is unreadable.
    #[error("header of {0} is unreadable: {1}")]
    BadHeader(String, String),
}

/// Read access to instances, their bytes and their headers.
#[derive(Debug, Clone)]
pub struct Retrieve {
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) state: StateReader,
}

/// The sentence a 404 carries: what was not found, and where it was looked for.
fn not_found(study: &str, series: Option<&str>, instance: Option<&str>) -> String {
    match (series, instance) {
        (Some(s), Some(i)) => format!("instance {i} not found in series {s} of study {study}"),
        (None, Some(i)) => format!("instance {i} not found in study {study}"),
        (Some(s), None) => format!("series {s} not found in study {study}"),
        (None, None) => format!("study {study} not found"),
    }
}

impl Retrieve {
    /// The instances addressed by a study, series or instance, in storage order.
    pub fn select(
        &self,
        study: &str,
        series: Option<&str>,
        instance: Option<&str>,
    ) -> Result<Vec<(String, InstanceRec)>, RetrieveError> {
        let found = match instance {
            Some(sop) => match self.state.instance(sop)? {
                Some(rec)
                    if rec.study_uid == study && series.is_none_or(|s| s == rec.series_uid) =>
                {
                    vec![(sop.to_string(), rec)]
                }
                _ => vec![],
            },
            None => self.state.instances_of(study, series)?,
        };
        if found.is_empty() {
            return Err(RetrieveError::NotFound(not_found(study, series, instance)));
        }
        Ok(found)
    }

    /// The stored bytes of an instance.
    pub async fn bytes(&self, rec: &InstanceRec) -> Result<Bytes, RetrieveError> {
        Ok(self.store.get(&blob_key(&rec.sha256)).await?)
    }

    /// The stored bytes of an instance as a stream of chunks (flat memory for large objects).
    pub async fn stream(
        &self,
        rec: &InstanceRec,
    ) -> Result<arc_objstore::ObjectStream, RetrieveError> {
        Ok(self.store.get_stream(&blob_key(&rec.sha256)).await?)
    }

    /// The last log position and time (Unix ms) that changed a study, series or instance:
    /// what ETag and Last-Modified derive from (ARCHITECTURE.md section 4).
    pub fn version(
        &self,
        study: &str,
        series: Option<&str>,
        instance: Option<&str>,
    ) -> Result<(u64, i64), RetrieveError> {
        let found = match (series, instance) {
            (_, Some(i)) => self.state.instance(i)?.map(|r| (r.seq, r.modified)),
            (Some(se), None) => self.state.series(se)?.map(|r| (r.seq, r.modified)),
            (None, None) => self.state.study(study)?.map(|r| (r.seq, r.modified)),
        };
        found.ok_or_else(|| RetrieveError::NotFound(not_found(study, series, instance)))
    }

    /// The stored header of an instance as DICOM JSON (bulk data as relative BulkDataURIs).
    pub async fn header(
        &self,
        sop: &str,
        rec: &InstanceRec,
    ) -> Result<serde_json::Value, RetrieveError> {
        self.header_with(sop, rec, |h| h).await
    }

    /// The stored header of an instance, handed to `then` on the blocking thread that decoded
    /// it: what a caller does with a header (merge, filter, serialise, drop) is CPU work too,
    /// and a 1,000-instance series is 1,000 of them.
    pub async fn header_with<T: Send + 'static>(
        &self,
        sop: &str,
        rec: &InstanceRec,
        then: impl FnOnce(serde_json::Value) -> T + Send + 'static,
    ) -> Result<T, RetrieveError> {
        let packed = self.store.get(&meta_key(&rec.meta_sha256)).await?;
        let sop = sop.to_string();
        tokio::task::spawn_blocking(move || {
            let json = decompress(&packed)
                .map_err(|e| RetrieveError::BadHeader(sop.clone(), e.to_string()))?;
            let header = serde_json::from_slice(&json)
                .map_err(|e| RetrieveError::BadHeader(sop, e.to_string()))?;
            Ok(then(header))
        })
        .await
        .map_err(|e| RetrieveError::BadHeader(String::new(), e.to_string()))?
    }
}

thread_local! {
    /// One zstd context per blocking thread: creating one costs more than decompressing a
    /// typical header.
    static DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { std::cell::RefCell::new(None) };
}

/// Decompresses a header blob (at most 1 GiB, as before).
fn decompress(packed: &[u8]) -> std::io::Result<Vec<u8>> {
    DECOMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(zstd::bulk::Decompressor::new()?);
        }
        match slot.as_mut() {
            Some(d) => d.decompress(packed, 1 << 30),
            None => zstd::bulk::decompress(packed, 1 << 30),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::not_found;

    #[test]
    fn not_found_says_what_and_where() {
        assert_eq!(not_found("abc", None, None), "study abc not found");
        assert_eq!(
            not_found("1", Some("2"), None),
            "series 2 not found in study 1"
        );
        assert_eq!(
            not_found("1", Some("2"), Some("3")),
            "instance 3 not found in series 2 of study 1"
        );
    }
}
