//! arc-objstore owns the object store: the [`ObjectStore`] trait, the folder store (the
//! embedded default), the memory store, the S3 store (cargo feature `s3`), and one
//! conformance suite that every backend passes.
//!
//! Keys are relative, `/`-separated paths (`blobs/sha256/ab/abcd….dcm`); [`validate_key`]
//! refuses any key that could leave the store's root. [`open`] (async, every scheme) and
//! [`open_uri`] (local schemes) pick the backend by URI scheme; [`put_content_addressed`]
//! writes immutable blobs under their SHA-256.

mod content;
mod folder;
mod memory;
#[cfg(feature = "s3")]
mod s3;
#[cfg(any(test, feature = "testsuite"))]
pub mod testsuite;
mod uri;

#[cfg(test)]
mod crash_tests;

pub use content::{put_content_addressed, sha256_hex};
pub use folder::{FolderStore, TEMP_PREFIX};
pub use memory::MemoryStore;
#[cfg(feature = "s3")]
pub use s3::{S3Options, S3Store, StaticCredentials, DEFAULT_PART_SIZE, MIN_PART_SIZE};
pub use uri::{open, open_uri};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;
use std::fmt::Debug;
use std::ops::Range;
use std::path::Path;

/// The bytes of one object as a stream of chunks, with its size known up front (so an HTTP
/// answer can carry Content-Length before the first chunk).
pub struct ObjectStream {
    /// Size of the whole object.
    pub size: u64,
    /// The chunks in order; an error ends the stream.
    pub chunks: BoxStream<'static, Result<Bytes>>,
}

impl Debug for ObjectStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStream")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// Chunk size of streamed reads and file copies.
pub const CHUNK: usize = 1 << 20;

/// Errors of an object store backend.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No object under that key.
    #[error("object not found: {0}")]
    NotFound(String),
    /// The key is not a valid relative object key.
    #[error("invalid object key {0:?}: {1}")]
    InvalidKey(String, &'static str),
    /// The store could not be reached or written.
    #[error("object store unavailable: {0}")]
    Unavailable(String),
    /// An I/O error.
    #[error("object store I/O: {0}")]
    Io(#[from] std::io::Error),
    /// A URI that names no backend this build has.
    #[error("unsupported object store URI {0}")]
    Unsupported(String),
}

/// Result of store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Immutable-by-convention objects under relative keys.
#[async_trait]
pub trait ObjectStore: Debug + Send + Sync + 'static {
    /// Writes an object durably, replacing any object under the key.
    async fn put(&self, key: &str, data: Bytes) -> Result<()>;
    /// Writes an object only if none exists under the key; returns whether it wrote.
    /// `false` means an object is present and durable (the caller may reference it).
    async fn put_if_absent(&self, key: &str, data: Bytes) -> Result<bool>;
    /// Reads a whole object.
    async fn get(&self, key: &str) -> Result<Bytes>;
    /// Reads a byte range of an object (clamped to its end; a range starting at or beyond
    /// the end, or an inverted range, is empty). A missing object is `NotFound`.
    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes>;
    /// The size of an object, or `None` if absent.
    async fn head(&self, key: &str) -> Result<Option<u64>>;
    /// Deletes an object; deleting a missing object is not an error.
    async fn delete(&self, key: &str) -> Result<()>;
    /// Keys starting with a prefix (a plain string prefix, as in S3: `a/b` matches `a/bc`),
    /// sorted; the empty prefix lists everything. See [`validate_prefix`].
    async fn list(&self, prefix: &str) -> Result<Vec<String>>;
    /// The URI this store was opened from.
    fn uri(&self) -> String;

    /// Writes an object from a local file, durably, replacing any object under the key.
    /// Large objects go through here so they are never held whole in memory; backends
    /// override the default (which reads the file into memory) with a streamed copy or a
    /// multipart upload.
    async fn put_file(&self, key: &str, path: &Path) -> Result<()> {
        let data = tokio::fs::read(path).await?;
        self.put(key, Bytes::from(data)).await
    }

    /// [`ObjectStore::put_file`] unless an object exists under the key; returns whether it
    /// wrote (`false` promises a durable object, as [`ObjectStore::put_if_absent`] does).
    async fn put_file_if_absent(&self, key: &str, path: &Path) -> Result<bool> {
        if self.head(key).await?.is_some() {
            return Ok(false);
        }
        let data = tokio::fs::read(path).await?;
        self.put_if_absent(key, Bytes::from(data)).await
    }

    /// Reads an object as a stream of chunks. The default reads it whole; backends override
    /// it with ranged reads so retrieval of large objects stays flat in memory.
    async fn get_stream(&self, key: &str) -> Result<ObjectStream> {
        let data = self.get(key).await?;
        let size = data.len() as u64;
        Ok(ObjectStream {
            size,
            chunks: futures::stream::once(async move { Ok(data) }).boxed(),
        })
    }
}

/// Checks that a key is a relative path of plain segments: no empty, `.` or `..`
/// segment, no leading `/`, no backslash or NUL, at most 1024 bytes.
pub fn validate_key(key: &str) -> Result<()> {
    let bad = |why| Err(StoreError::InvalidKey(key.to_string(), why));
    if key.is_empty() || key.len() > 1024 {
        return bad("must be 1 to 1024 bytes");
    }
    if key.contains('\\') || key.contains('\0') {
        return bad("must not contain a backslash or NUL");
    }
    if key
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return bad("segments must be non-empty and not . or ..");
    }
    Ok(())
}

/// Checks a listing prefix: empty, or a string whose every segment but the last is a plain
/// key segment (the last may be partial or empty, as in `blobs/sha256/a` or `blobs/`), so a
/// listing can never walk outside the store's root.
pub fn validate_prefix(prefix: &str) -> Result<()> {
    let bad = |why| Err(StoreError::InvalidKey(prefix.to_string(), why));
    if prefix.len() > 1024 {
        return bad("prefix must be at most 1024 bytes");
    }
    if prefix.contains('\\') || prefix.contains('\0') {
        return bad("must not contain a backslash or NUL");
    }
    match prefix.rsplit_once('/') {
        None => Ok(()),
        Some((dirs, _last)) => validate_key(dirs).map_err(|_| {
            StoreError::InvalidKey(prefix.to_string(), "prefix folders must be plain segments")
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_could_leave_the_root_are_refused() {
        for bad in [
            "", "../x", "/abs", "a//b", "a/./b", "a/../b", "a\\b", "a/", "a\0b", "..", ".",
        ] {
            assert!(validate_key(bad).is_err(), "{bad:?} accepted");
        }
        assert!(validate_key(&"x".repeat(1025)).is_err());
        for good in [
            "a",
            "a/b",
            "blobs/sha256/ab/abcd.dcm",
            "..a",
            "a..",
            ".hidden",
        ] {
            validate_key(good).unwrap();
        }
    }

    #[test]
    fn prefixes_may_end_partially_but_never_escape() {
        for good in ["", "a", "a/", "a/b", "blobs/sha256/a", ".."] {
            validate_prefix(good).unwrap();
        }
        for bad in ["/", "/abs", "../", "../x", "a//", "a/./", "a\\b", "a/../b/"] {
            assert!(validate_prefix(bad).is_err(), "{bad:?} accepted");
        }
    }
}
