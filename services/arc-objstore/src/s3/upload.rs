//! S3 uploads own single PUTs, multipart uploads streamed from a file, and write-if-absent.
//!
//! Write-if-absent uses `If-None-Match: *` (on PutObject and on CompleteMultipartUpload)
//! where the server honours it. Whether it does is probed at open, because servers differ:
//! some answer 412 as S3 does, some answer 501, and some ignore the header and overwrite
//! silently, which only a second write of the same key can reveal.
//!
//! Where the header is not honoured the store checks with HEAD, then writes. That is racy
//! (two writers may both find the key absent and both write), and safe here all the same:
//! the archive's keys name their content (SHA-256), so racing writers write the same bytes,
//! and `false` is only ever answered after HEAD found an object, which S3 stores durably
//! before it answers a PUT and shows to every later read.

use super::client::upload_config;
use super::{errors, S3Store};
use crate::{ObjectStore, Result, StoreError, TEMP_PREFIX};
use aws_sdk_s3::primitives::{ByteStream, Length};
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Parts in flight at once in a multipart upload: keeps the link busy while bounding
/// memory and open requests.
const PARTS_IN_FLIGHT: usize = 4;

/// Times a conditional write is tried again after S3 answers 409 (another conditional write
/// of the same key was in progress).
const CONFLICT_RETRIES: u32 = 3;

/// What to upload.
pub(super) enum Body {
    Bytes(Bytes),
    File(PathBuf),
}

/// How a write ended.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Put {
    Written,
    /// `If-None-Match: *` found an object (412).
    Exists,
    /// The server does not implement `If-None-Match` on writes (501).
    Unsupported,
    /// A concurrent conditional write of the key was in progress (409).
    Conflict,
}

/// The outcome of a conditional write from the server's answer status and code.
fn conditional_answer(status: Option<u16>, code: Option<&str>) -> Option<Put> {
    match (status, code) {
        (Some(412), _) | (_, Some("PreconditionFailed")) => Some(Put::Exists),
        (Some(501), _) | (_, Some("NotImplemented")) => Some(Put::Unsupported),
        (Some(409), _) | (_, Some("ConditionalRequestConflict")) => Some(Put::Conflict),
        _ => None,
    }
}

/// Whether the server honours `If-None-Match: *`, from the answer to a second conditional
/// write of a key the first one wrote: 412 yes; overwritten (200) or 501 no.
fn probe_verdict(second: &Put) -> bool {
    *second == Put::Exists
}

impl S3Store {
    /// One PutObject of `body` under `key`; with `if_none_match`, only if no object is there.
    pub(super) async fn put_once(&self, key: &str, body: Body, if_none_match: bool) -> Result<Put> {
        let (stream, len) = match body {
            Body::Bytes(b) => {
                let len = b.len() as u64;
                (ByteStream::from(b), len)
            }
            Body::File(path) => {
                let len = tokio::fs::metadata(&path).await?.len();
                (file_stream(&path, 0, len).await?, len)
            }
        };
        let req = self
            .client()
            .put_object()
            .bucket(self.bucket())
            .key(self.object_key(key))
            .content_length(len as i64)
            .body(stream)
            .set_if_none_match(if_none_match.then(|| "*".to_string()));
        match req
            .customize()
            .config_override(upload_config(&self.inner.opts, len))
            .send()
            .await
        {
            Ok(_) => Ok(Put::Written),
            Err(e) => match if_none_match
                .then(|| conditional_answer(errors::status(&e), errors::code(&e)))
                .flatten()
            {
                Some(put) => Ok(put),
                None => Err(self.err(e, "put", key)),
            },
        }
    }

    /// Writes `body` unless an object is under `key`; `false` when one is.
    pub(super) async fn put_absent(&self, key: &str, body: Body) -> Result<bool> {
        let body = || match &body {
            Body::Bytes(b) => Body::Bytes(b.clone()),
            Body::File(p) => Body::File(p.clone()),
        };
        if self.conditional_put() {
            for attempt in 1..=CONFLICT_RETRIES {
                let put = match body() {
                    Body::File(path) => self.upload_file(key, &path, true).await?,
                    bytes => self.put_once(key, bytes, true).await?,
                };
                match put {
                    Put::Written => return Ok(true),
                    Put::Exists => return Ok(false),
                    Put::Conflict => {
                        tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await
                    }
                    Put::Unsupported => {
                        tracing::warn!(endpoint = %self.inner.endpoint, "the s3 server refused If-None-Match; checking with head before writes from now on");
                        self.inner.conditional.store(false, Ordering::Relaxed);
                        break;
                    }
                }
            }
        }
        // Head, then write: see the module documentation for why this is safe here.
        if self.head(key).await?.is_some() {
            return Ok(false);
        }
        match body() {
            Body::File(path) => self.upload_file(key, &path, false).await?,
            bytes => self.put_once(key, bytes, false).await?,
        };
        Ok(true)
    }

    /// Uploads a file: one PUT up to one part's size, else a multipart upload.
    pub(super) async fn upload_file(
        &self,
        key: &str,
        path: &Path,
        if_none_match: bool,
    ) -> Result<Put> {
        let size = tokio::fs::metadata(path).await?.len();
        let part = self.inner.opts.part_size_for(size);
        if size <= part {
            return self
                .put_once(key, Body::File(path.to_path_buf()), if_none_match)
                .await;
        }
        let object = self.object_key(key);
        let created = self
            .client()
            .create_multipart_upload()
            .bucket(self.bucket())
            .key(&object)
            .send()
            .await
            .map_err(|e| self.err(e, "start multipart upload of", key))?;
        let upload_id = created
            .upload_id()
            .ok_or_else(|| {
                StoreError::Unavailable(format!(
                    "multipart upload of {key:?}: the server gave no upload id"
                ))
            })?
            .to_string();
        let outcome = self
            .upload_parts(key, path, size, part, &upload_id, if_none_match)
            .await;
        if !matches!(outcome, Ok(Put::Written)) {
            // Parts of an unfinished upload are stored (and billed) until aborted.
            let abort = self
                .client()
                .abort_multipart_upload()
                .bucket(self.bucket())
                .key(&object)
                .upload_id(&upload_id);
            if let Err(e) = abort.send().await {
                tracing::warn!(key, upload_id, error = %errors::reason(&e), "cannot abort a multipart upload");
            }
        }
        outcome
    }

    async fn upload_parts(
        &self,
        key: &str,
        path: &Path,
        size: u64,
        part: u64,
        upload_id: &str,
        if_none_match: bool,
    ) -> Result<Put> {
        let object = self.object_key(key);
        let count = size.div_ceil(part);
        let parts: Vec<CompletedPart> = futures::stream::iter(0..count)
            .map(|i| {
                let object = &object;
                async move {
                    let offset = i * part;
                    let len = part.min(size - offset);
                    // Each part reads its slice of the file as it is sent (and again on a
                    // retry): the file is never held whole in memory.
                    let body = file_stream(path, offset, len).await?;
                    let number = i32::try_from(i + 1)
                        .map_err(|_| StoreError::Unavailable("too many parts".into()))?;
                    let out = self
                        .client()
                        .upload_part()
                        .bucket(self.bucket())
                        .key(object)
                        .upload_id(upload_id)
                        .part_number(number)
                        .content_length(len as i64)
                        .body(body)
                        .customize()
                        .config_override(upload_config(&self.inner.opts, len))
                        .send()
                        .await
                        .map_err(|e| self.err(e, &format!("upload part {number} of"), key))?;
                    Ok::<_, StoreError>(
                        CompletedPart::builder()
                            .part_number(number)
                            .set_e_tag(out.e_tag)
                            .build(),
                    )
                }
            })
            .buffered(PARTS_IN_FLIGHT)
            .try_collect()
            .await?;
        let done = CompletedMultipartUpload::builder()
            .set_parts(Some(parts))
            .build();
        let req = self
            .client()
            .complete_multipart_upload()
            .bucket(self.bucket())
            .key(&object)
            .upload_id(upload_id)
            .multipart_upload(done)
            .set_if_none_match(if_none_match.then(|| "*".to_string()));
        // S3 may take a while to assemble a large object before it answers.
        match req
            .customize()
            .config_override(upload_config(&self.inner.opts, size))
            .send()
            .await
        {
            Ok(_) => Ok(Put::Written),
            Err(e) => match if_none_match
                .then(|| conditional_answer(errors::status(&e), errors::code(&e)))
                .flatten()
            {
                Some(put) => Ok(put),
                None => Err(self.err(e, "complete multipart upload of", key)),
            },
        }
    }

    /// Finds out whether the server honours `If-None-Match: *`, by writing a probe object
    /// twice. Any doubt answers "no": the fallback is safe, only slower.
    pub(super) async fn probe_conditional(&self) -> bool {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let key = format!("{TEMP_PREFIX}probe-{}-{nanos}", std::process::id());
        let probe = || Body::Bytes(Bytes::from_static(b"arcstream conditional write probe"));
        let verdict = match self.put_once(&key, probe(), true).await {
            Ok(Put::Written) => match self.put_once(&key, probe(), true).await {
                Ok(second) => {
                    if second == Put::Written {
                        tracing::warn!(endpoint = %self.inner.endpoint, "the s3 server ignores If-None-Match (it overwrote); checking with head before writes");
                    }
                    probe_verdict(&second)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "s3 conditional write probe failed; checking with head before writes");
                    false
                }
            },
            Ok(other) => {
                tracing::info!(answer = ?other, "the s3 server does not take If-None-Match; checking with head before writes");
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot write the s3 probe object (read-only credentials?)");
                false
            }
        };
        let delete = self
            .client()
            .delete_object()
            .bucket(self.bucket())
            .key(self.object_key(&key));
        if let Err(e) = delete.send().await {
            tracing::warn!(key, error = %errors::reason(&e), "cannot delete the s3 probe object; it is never listed");
        }
        verdict
    }
}

/// `len` bytes of a file from `offset`, read as they are sent.
async fn file_stream(path: &Path, offset: u64, len: u64) -> Result<ByteStream> {
    if len == 0 {
        // Confirms the file exists (a missing file is an I/O error) without a stream.
        tokio::fs::metadata(path).await?;
        return Ok(ByteStream::from(Bytes::new()));
    }
    ByteStream::read_from()
        .path(path)
        .offset(offset)
        .length(Length::Exact(len))
        .build()
        .await
        .map_err(|e| {
            StoreError::Io(std::io::Error::other(format!(
                "reading {}: {e}",
                path.display()
            )))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditional_answers_are_read_from_status_or_code() {
        assert_eq!(conditional_answer(Some(412), None), Some(Put::Exists));
        assert_eq!(
            conditional_answer(Some(400), Some("PreconditionFailed")),
            Some(Put::Exists)
        );
        assert_eq!(conditional_answer(Some(501), None), Some(Put::Unsupported));
        assert_eq!(
            conditional_answer(Some(400), Some("NotImplemented")),
            Some(Put::Unsupported)
        );
        assert_eq!(
            conditional_answer(Some(409), Some("ConditionalRequestConflict")),
            Some(Put::Conflict)
        );
        assert_eq!(conditional_answer(Some(403), Some("AccessDenied")), None);
        assert_eq!(conditional_answer(None, None), None);
    }

    #[test]
    fn only_a_refused_second_write_proves_support() {
        assert!(probe_verdict(&Put::Exists));
        // A server that ignores the header overwrites: no support, whatever it answered.
        assert!(!probe_verdict(&Put::Written));
        assert!(!probe_verdict(&Put::Unsupported));
        assert!(!probe_verdict(&Put::Conflict));
    }
}
