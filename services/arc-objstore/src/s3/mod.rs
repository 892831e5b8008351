//! The S3 store owns objects in an S3 bucket (AWS or any S3-compatible server) under an
//! optional key prefix, through `aws-sdk-s3`.
//!
//! Reads are ranged or streamed GETs; large files go up as multipart uploads streamed from
//! the file (see `upload`). Writes are durable when S3 answers 200, and S3 reads are
//! strongly consistent after a write, so `put_if_absent` answering `false` always means a
//! stored object that later reads will see.
//!
//! Like the folder store, keys are checked with [`validate_key`] and may not have a segment
//! starting with [`TEMP_PREFIX`]: such keys name this store's own probe objects, which no
//! listing shows.

mod client;
mod errors;
mod options;
mod upload;

pub use options::{S3Options, StaticCredentials, DEFAULT_PART_SIZE, MIN_PART_SIZE};

use crate::{
    validate_key, validate_prefix, ObjectStore, ObjectStream, Result, StoreError, TEMP_PREFIX,
};
use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use futures::StreamExt;
use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Objects in an S3 bucket under a prefix.
#[derive(Clone)]
pub struct S3Store {
    inner: Arc<Inner>,
}

struct Inner {
    client: aws_sdk_s3::Client,
    opts: S3Options,
    /// The endpoint in words, for error messages.
    endpoint: String,
    /// Whether the server honours `If-None-Match: *` on writes (probed at open; turned off
    /// if the server later answers 501 to it).
    conditional: AtomicBool,
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Store")
            .field("uri", &self.inner.opts.uri())
            .field("endpoint", &self.inner.endpoint)
            .field("conditional_put", &self.conditional_put())
            .finish()
    }
}

impl S3Store {
    /// Opens the store of an `s3://bucket[/prefix][?endpoint=…&path_style=…&region=…]` URI.
    pub async fn open_uri(uri: &str) -> Result<Self> {
        let rest = uri.split_once("://").map_or(uri, |(_, rest)| rest);
        Self::open(S3Options::from_uri_rest(rest)?).await
    }

    /// Opens a store: checks that the bucket answers (saying clearly why not), then finds
    /// out whether the server honours conditional writes, unless `opts` says.
    pub async fn open(opts: S3Options) -> Result<Self> {
        let (client, endpoint) = client::build(&opts).await;
        let inner = Inner {
            client,
            opts,
            endpoint,
            conditional: AtomicBool::new(false),
        };
        let store = Self {
            inner: Arc::new(inner),
        };
        store.check_bucket().await?;
        let conditional = match store.inner.opts.conditional_put {
            Some(set) => set,
            None => store.probe_conditional().await,
        };
        store
            .inner
            .conditional
            .store(conditional, Ordering::Relaxed);
        tracing::info!(uri = %store.uri(), endpoint = %store.inner.endpoint, conditional, "s3 store opened");
        Ok(store)
    }

    /// Whether writes-if-absent use `If-None-Match: *` (else head, then put).
    pub fn conditional_put(&self) -> bool {
        self.inner.conditional.load(Ordering::Relaxed)
    }

    /// The SDK client (tests use it to look at what the server holds).
    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.inner.client
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.inner.opts.bucket
    }

    /// The S3 key of a store key: the prefix applied.
    pub fn object_key(&self, key: &str) -> String {
        match self.inner.opts.prefix.as_str() {
            "" => key.to_string(),
            prefix => format!("{prefix}/{key}"),
        }
    }

    async fn check_bucket(&self) -> Result<()> {
        let bucket = self.bucket();
        match self.client().head_bucket().bucket(bucket).send().await {
            Ok(_) => Ok(()),
            Err(e) => Err(StoreError::Unavailable(format!(
                "bucket {bucket:?} at {}: {}",
                self.inner.endpoint,
                errors::reason(&e)
            ))),
        }
    }

    fn err<E>(
        &self,
        e: aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
        op: &str,
        key: &str,
    ) -> StoreError
    where
        E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        errors::map(e, op, key, &self.inner.endpoint)
    }

    /// Starts a GET of a whole object or a range; `None` when S3 says the range is
    /// unsatisfiable (it starts at or past the end of an existing object).
    async fn get_object(
        &self,
        key: &str,
        range: Option<String>,
    ) -> Result<Option<aws_sdk_s3::operation::get_object::GetObjectOutput>> {
        check_key(key)?;
        let req = self
            .client()
            .get_object()
            .bucket(self.bucket())
            .key(self.object_key(key))
            .set_range(range);
        match req.send().await {
            Ok(out) => Ok(Some(out)),
            Err(e) if errors::status(&e) == Some(416) => Ok(None),
            Err(e) => Err(self.err(e, "get", key)),
        }
    }
}

/// A store key: a valid key with no segment that could be this store's own temp name.
fn check_key(key: &str) -> Result<()> {
    validate_key(key)?;
    if key.split('/').any(|s| s.starts_with(TEMP_PREFIX)) {
        return Err(StoreError::InvalidKey(
            key.to_string(),
            "segments must not start with .tmp-",
        ));
    }
    Ok(())
}

async fn collect(body: ByteStream, key: &str) -> Result<Bytes> {
    body.collect()
        .await
        .map(|b| b.into_bytes())
        .map_err(|e| StoreError::Unavailable(format!("reading {key:?}: {e}")))
}

/// The length of an answer's body as S3 announced it.
fn length(len: Option<i64>, key: &str) -> Result<u64> {
    len.and_then(|l| u64::try_from(l).ok())
        .ok_or_else(|| StoreError::Unavailable(format!("{key:?}: the server gave no object size")))
}

#[async_trait]
impl ObjectStore for S3Store {
    async fn put(&self, key: &str, data: Bytes) -> Result<()> {
        check_key(key)?;
        self.put_once(key, upload::Body::Bytes(data), false)
            .await
            .map(|_| ())
    }

    async fn put_if_absent(&self, key: &str, data: Bytes) -> Result<bool> {
        check_key(key)?;
        self.put_absent(key, upload::Body::Bytes(data)).await
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        match self.get_object(key, None).await? {
            Some(out) => collect(out.body, key).await,
            // An unranged GET is never unsatisfiable; a server that says so lost the object.
            None => Err(StoreError::NotFound(key.to_string())),
        }
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
        if range.start >= range.end {
            // No bytes wanted, but a missing object is still NotFound.
            return match self.head(key).await? {
                Some(_) => Ok(Bytes::new()),
                None => Err(StoreError::NotFound(key.to_string())),
            };
        }
        // HTTP ranges are inclusive (RFC 9110 14.1.2); S3 clamps an end past the object.
        // Servers parse positions as signed 64-bit numbers, so an end beyond that is left
        // open ("to the end").
        let header = if range.end - 1 > i64::MAX as u64 {
            format!("bytes={}-", range.start)
        } else {
            format!("bytes={}-{}", range.start, range.end - 1)
        };
        let Some(out) = self.get_object(key, Some(header)).await? else {
            return Ok(Bytes::new());
        };
        let ranged = out.content_range.is_some();
        let data = collect(out.body, key).await?;
        if ranged {
            return Ok(data);
        }
        // The whole object came back (a server may ignore Range, e.g. on an empty object).
        let len = data.len() as u64;
        let end = range.end.min(len);
        Ok(if range.start >= end {
            Bytes::new()
        } else {
            data.slice(range.start as usize..end as usize)
        })
    }

    async fn head(&self, key: &str) -> Result<Option<u64>> {
        check_key(key)?;
        let req = self
            .client()
            .head_object()
            .bucket(self.bucket())
            .key(self.object_key(key));
        match req.send().await {
            Ok(out) => Ok(Some(length(out.content_length, key)?)),
            Err(e) => match self.err(e, "head", key) {
                StoreError::NotFound(_) => Ok(None),
                other => Err(other),
            },
        }
    }

    async fn delete(&self, key: &str) -> Result<()> {
        check_key(key)?;
        let req = self
            .client()
            .delete_object()
            .bucket(self.bucket())
            .key(self.object_key(key));
        match req.send().await {
            Ok(_) => Ok(()),
            // S3 answers 204 for a missing key; some compatible servers answer 404.
            Err(e) => match self.err(e, "delete", key) {
                StoreError::NotFound(_) => Ok(()),
                other => Err(other),
            },
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        validate_prefix(prefix)?;
        let root = match self.inner.opts.prefix.as_str() {
            "" => String::new(),
            p => format!("{p}/"),
        };
        let mut pages = self
            .client()
            .list_objects_v2()
            .bucket(self.bucket())
            .prefix(format!("{root}{prefix}"))
            .into_paginator()
            .send();
        let mut keys = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.err(e, "list", prefix))?;
            for object in page.contents() {
                let Some(key) = object.key().and_then(|k| k.strip_prefix(&root)) else {
                    continue;
                };
                // Objects no key could name (written by other tools) and probe objects are
                // not this store's.
                if key.starts_with(prefix) && check_key(key).is_ok() {
                    keys.push(key.to_string());
                }
            }
        }
        // S3 lists in UTF-8 byte order already; sorting costs little and holds the promise
        // for servers that do not.
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    fn uri(&self) -> String {
        self.inner.opts.uri()
    }

    async fn put_file(&self, key: &str, path: &Path) -> Result<()> {
        check_key(key)?;
        self.upload_file(key, path, false).await.map(|_| ())
    }

    async fn put_file_if_absent(&self, key: &str, path: &Path) -> Result<bool> {
        check_key(key)?;
        // Present already: skip the upload (the common case for content-addressed blobs).
        if self.head(key).await?.is_some() {
            return Ok(false);
        }
        self.put_absent(key, upload::Body::File(path.to_path_buf()))
            .await
    }

    async fn get_stream(&self, key: &str) -> Result<ObjectStream> {
        let Some(out) = self.get_object(key, None).await? else {
            return Err(StoreError::NotFound(key.to_string()));
        };
        let size = length(out.content_length, key)?;
        let key = key.to_string();
        // Chunks as the server sends them; a body that ends short is an error, not a
        // silently truncated object.
        let chunks = futures::stream::try_unfold((out.body, 0u64), move |(mut body, got)| {
            let key = key.clone();
            async move {
                match body.try_next().await {
                    Ok(Some(chunk)) => {
                        let got = got + chunk.len() as u64;
                        Ok(Some((chunk, (body, got))))
                    }
                    Ok(None) if got == size => Ok(None),
                    Ok(None) => Err(StoreError::Unavailable(format!(
                        "{key:?} ended at {got} of {size} bytes"
                    ))),
                    Err(e) => Err(StoreError::Unavailable(format!("reading {key:?}: {e}"))),
                }
            }
        });
        Ok(ObjectStream {
            size,
            chunks: chunks.boxed(),
        })
    }
}
