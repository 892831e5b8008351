//! The folder store owns objects as files under one root folder, written crash-safely
//! (temp file, sync, rename, sync the folder) through the [`arc_fs::Fs`] seam.
//!
//! Durability rules (see the contract in `arc-fs`): an object's bytes are synced before it
//! gets its final name, the rename is made durable by syncing the folder, and every folder
//! created on the way is made durable by syncing its parent, so a `put` that returned `Ok`
//! survives a crash, and a crash mid-`put` leaves the old object, the new object, or nothing,
//! plus perhaps a stray temp file that no listing shows and no key can name.
//!
//! A key names a file, so unlike S3 the folder store cannot hold both `a` and `a/b`.

use crate::{validate_key, validate_prefix, ObjectStore, ObjectStream, Result, StoreError};
use arc_fs::{Fs, RealFs};
use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use std::collections::HashSet;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// Names starting with this are temp files of unfinished writes: never listed, never a key segment.
pub const TEMP_PREFIX: &str = ".tmp-";

/// Objects as files under a root folder.
///
/// Two writers of the same key race safely: each writes its own temp file and the last
/// rename wins. For content-addressed keys both have the same bytes, so either outcome is
/// the same object; `put_if_absent` is "absent when checked", not an atomic create.
#[derive(Debug, Clone)]
pub struct FolderStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    fs: Arc<dyn Fs>,
    root: PathBuf,
    /// Folders under the root whose entry in their parent is known durable in this process,
    /// so each folder costs one parent sync per process, not one per put. A folder is added
    /// only after the sync, so a put that finds a folder another put created (but has not
    /// synced yet) syncs it itself instead of trusting it.
    durable_dirs: Mutex<HashSet<PathBuf>>,
}

impl FolderStore {
    /// Opens (creating if needed) a folder store on the real filesystem.
    pub fn open(root: &Path) -> Result<Self> {
        // An absolute root keeps `uri()` meaningful whatever the working directory later is.
        let root = std::path::absolute(root)?;
        Self::open_with(Arc::new(RealFs), &root)
    }

    /// Opens (creating if needed) a folder store on any filesystem (crash tests use `SimFs`).
    pub fn open_with(fs: Arc<dyn Fs>, root: &Path) -> Result<Self> {
        if !fs.is_dir(root) {
            let missing: Vec<&Path> = root
                .ancestors()
                .take_while(|p| !p.as_os_str().is_empty() && !fs.is_dir(p))
                .collect();
            fs.create_dir_all(root)?;
            for dir in missing.iter().rev() {
                fs.sync_dir(parent_of(dir))?;
            }
        }
        let inner = Inner {
            fs,
            root: root.to_path_buf(),
            durable_dirs: Mutex::default(),
        };
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// The root folder.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// Runs blocking filesystem work off the async workers.
    async fn blocking<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || work(&inner))
            .await
            .map_err(|e| StoreError::Unavailable(format!("folder store task failed: {e}")))?
    }
}

/// The parent to sync for a new entry; a bare relative name lives in `.`.
fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Errors that mean "nothing under this name" (a path through a file ends in `NotADirectory`;
/// a key that is a folder ends in `IsADirectory`).
fn is_absent(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory | io::ErrorKind::IsADirectory
    )
}

/// A temp name no other writer uses: per-process nonce plus a process-wide counter (so two
/// stores on one folder in one process cannot collide either), and a bounded piece of the
/// final name so stray temp files can be traced.
fn temp_name(final_name: &str) -> String {
    static NONCE: OnceLock<String> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nonce = NONCE.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        format!("{:x}{:08x}", std::process::id(), nanos)
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // Stay well below NAME_MAX (255) even for long final names.
    let mut cut = final_name.len().min(64);
    while !final_name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{TEMP_PREFIX}{nonce}-{n}-{}", &final_name[..cut])
}

impl Inner {
    /// The file of a key, after refusing keys that could leave the root or name a temp file.
    fn path_of(&self, key: &str) -> Result<PathBuf> {
        validate_key(key)?;
        if key.split('/').any(|s| s.starts_with(TEMP_PREFIX)) {
            return Err(StoreError::InvalidKey(
                key.to_string(),
                "segments must not start with the temp-file prefix .tmp-",
            ));
        }
        Ok(self.root.join(key))
    }

    fn is_durable(&self, dir: &Path) -> bool {
        self.durable_dirs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(dir)
    }

    fn mark_durable(&self, dir: PathBuf) {
        self.durable_dirs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(dir);
    }

    /// Makes sure `dir` (under the root) exists and that its entry and every ancestor's
    /// entry up to the root are durable.
    fn ensure_dir(&self, dir: &Path) -> io::Result<()> {
        if dir == self.root || self.is_durable(dir) {
            return Ok(());
        }
        self.fs.create_dir_all(dir)?;
        let rel = dir.strip_prefix(&self.root).map_err(io::Error::other)?;
        let mut cur = self.root.clone();
        for part in rel.components() {
            cur.push(part);
            if !self.is_durable(&cur) {
                // Top-down, so a folder is marked only once the chain above it is durable.
                self.fs.sync_dir(parent_of(&cur))?;
                self.mark_durable(cur.clone());
            }
        }
        Ok(())
    }

    fn is_file(&self, path: &Path) -> io::Result<bool> {
        match self.fs.size(path) {
            Ok(Some(_)) => Ok(!self.fs.is_dir(path)),
            Ok(None) => Ok(false),
            Err(e) if is_absent(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Writes an object; with `if_absent`, first checks for an existing one and writes nothing
    /// if there is one. Returns whether it wrote.
    fn put(&self, key: &str, data: &[u8], if_absent: bool) -> Result<bool> {
        self.put_with(key, if_absent, |file| file.write_all(data))
    }

    /// Writes an object from a local file in chunks, so it is never whole in memory.
    fn put_file(&self, key: &str, src: &Path, if_absent: bool) -> Result<bool> {
        let mut input = std::fs::File::open(src)?;
        self.put_with(key, if_absent, |file| {
            let mut buf = vec![0u8; crate::CHUNK];
            loop {
                let n = io::Read::read(&mut input, &mut buf)?;
                if n == 0 {
                    return Ok(());
                }
                file.write_all(&buf[..n])?;
            }
        })
    }

    /// The one write path: `write` fills a temp file, which is synced and renamed in.
    fn put_with(
        &self,
        key: &str,
        if_absent: bool,
        write: impl FnOnce(&mut dyn arc_fs::FsFile) -> io::Result<()>,
    ) -> Result<bool> {
        let path = self.path_of(key)?;
        let dir = parent_of(&path).to_path_buf();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| StoreError::InvalidKey(key.to_string(), "no file name"))?;
        self.ensure_dir(&dir)?;
        if if_absent && self.is_file(&path)? {
            // The object may have just been renamed in by a concurrent writer whose folder
            // sync has not run yet; sync here so `false` promises a durable object.
            self.fs.sync_dir(&dir)?;
            return Ok(false);
        }
        let tmp = dir.join(temp_name(name));
        let written = (|| {
            let mut file = self.fs.create(&tmp)?;
            write(file.as_mut())?;
            file.sync()?;
            drop(file);
            self.fs.rename(&tmp, &path)
        })();
        if let Err(e) = written {
            // Best effort: a leftover temp file is harmless (never listed, never a key).
            let _ = self.fs.remove_file(&tmp);
            return Err(e.into());
        }
        self.fs.sync_dir(&dir)?;
        Ok(true)
    }

    fn get(&self, key: &str) -> Result<Bytes> {
        let path = self.path_of(key)?;
        match self.fs.read(&path) {
            Ok(data) => Ok(Bytes::from(data)),
            Err(e) if is_absent(&e) || self.fs.is_dir(&path) => {
                Err(StoreError::NotFound(key.to_string()))
            }
            Err(e) => Err(e.into()),
        }
    }

    fn head(&self, key: &str) -> Result<Option<u64>> {
        let path = self.path_of(key)?;
        match self.fs.size(&path) {
            // A folder is not an object (it exists because longer keys live under it).
            Ok(Some(_)) if self.fs.is_dir(&path) => Ok(None),
            Ok(size) => Ok(size),
            Err(e) if is_absent(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
        let path = self.path_of(key)?;
        let size = self
            .head(key)?
            .ok_or_else(|| StoreError::NotFound(key.to_string()))?;
        // Clamp before reading so a huge `end` never turns into a huge buffer.
        let end = range.end.min(size);
        if range.start >= end {
            return Ok(Bytes::new());
        }
        let len = usize::try_from(end - range.start).map_err(io::Error::other)?;
        match self.fs.read_at(&path, range.start, len) {
            Ok(data) => Ok(Bytes::from(data)),
            // Deleted between `head` and the read.
            Err(e) if is_absent(&e) => Err(StoreError::NotFound(key.to_string())),
            Err(e) => Err(e.into()),
        }
    }

    fn delete(&self, key: &str) -> Result<()> {
        let path = self.path_of(key)?;
        match self.fs.remove_file(&path) {
            Ok(()) => {
                self.fs.sync_dir(parent_of(&path))?;
                Ok(())
            }
            // Empty folders are left in place: removing them would race with puts into them.
            Err(e) if is_absent(&e) || self.fs.is_dir(&path) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        validate_prefix(prefix)?;
        // Start at the deepest folder the prefix names in full; the rest is a string filter.
        let (rel, start) = match prefix.rsplit_once('/') {
            Some((dirs, _)) => (dirs.to_string(), self.root.join(dirs)),
            None => (String::new(), self.root.clone()),
        };
        let mut keys = Vec::new();
        self.walk(&start, &rel, prefix, &mut keys)?;
        // Per-folder order is not key order (`a-c` < `a/b` as strings), so sort at the end.
        keys.sort();
        Ok(keys)
    }

    fn walk(&self, dir: &Path, rel: &str, prefix: &str, keys: &mut Vec<String>) -> Result<()> {
        let names = match self.fs.list_dir(dir) {
            Ok(names) => names,
            // Missing (or removed while listing): nothing under it.
            Err(e) if is_absent(&e) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        for name in names {
            if name.starts_with(TEMP_PREFIX) {
                continue;
            }
            let key = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            // A stray file no key could name (e.g. a non-UTF-8 name read lossily) is not an object.
            if validate_key(&key).is_err() {
                continue;
            }
            let path = dir.join(&name);
            if self.fs.is_dir(&path) {
                let sub = format!("{key}/");
                if sub.starts_with(prefix) || prefix.starts_with(&sub) {
                    self.walk(&path, &key, prefix, keys)?;
                }
            } else if key.starts_with(prefix) {
                keys.push(key);
            }
        }
        Ok(())
    }
}

#[async_trait]
impl ObjectStore for FolderStore {
    async fn put(&self, key: &str, data: Bytes) -> Result<()> {
        let key = key.to_string();
        self.blocking(move |s| s.put(&key, &data, false).map(|_| ()))
            .await
    }

    async fn put_if_absent(&self, key: &str, data: Bytes) -> Result<bool> {
        let key = key.to_string();
        self.blocking(move |s| s.put(&key, &data, true)).await
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        let key = key.to_string();
        self.blocking(move |s| s.get(&key)).await
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
        let key = key.to_string();
        self.blocking(move |s| s.get_range(&key, range)).await
    }

    async fn head(&self, key: &str) -> Result<Option<u64>> {
        let key = key.to_string();
        self.blocking(move |s| s.head(&key)).await
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let key = key.to_string();
        self.blocking(move |s| s.delete(&key)).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let prefix = prefix.to_string();
        self.blocking(move |s| s.list(&prefix)).await
    }

    async fn put_file(&self, key: &str, path: &Path) -> Result<()> {
        let (key, path) = (key.to_string(), path.to_path_buf());
        self.blocking(move |s| s.put_file(&key, &path, false).map(|_| ()))
            .await
    }

    async fn put_file_if_absent(&self, key: &str, path: &Path) -> Result<bool> {
        let (key, path) = (key.to_string(), path.to_path_buf());
        self.blocking(move |s| s.put_file(&key, &path, true)).await
    }

    async fn get_stream(&self, key: &str) -> Result<ObjectStream> {
        let size = self
            .head(key)
            .await?
            .ok_or_else(|| StoreError::NotFound(key.to_string()))?;
        let (store, key) = (self.clone(), key.to_string());
        // One chunk read at a time, each off the async workers.
        let chunks = futures::stream::try_unfold(0u64, move |at| {
            let (store, key) = (store.clone(), key.clone());
            async move {
                if at >= size {
                    return Ok(None);
                }
                let end = (at + crate::CHUNK as u64).min(size);
                let chunk = store.get_range(&key, at..end).await?;
                if chunk.is_empty() {
                    // Shrunk under us: objects are immutable, so this is damage, not a race.
                    return Err(StoreError::Unavailable(format!(
                        "{key} ended at {at} of {size} bytes"
                    )));
                }
                let next = at + chunk.len() as u64;
                Ok(Some((chunk, next)))
            }
        });
        Ok(ObjectStream {
            size,
            chunks: chunks.boxed(),
        })
    }

    fn uri(&self) -> String {
        if self.inner.root.is_absolute() {
            format!("file://{}", self.inner.root.display())
        } else {
            self.inner.root.display().to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, FolderStore) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FolderStore::open(&dir.path().join("store")).expect("open");
        (dir, store)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn folder_store_passes_the_conformance_suite() {
        let (_dir, store) = store();
        crate::testsuite::run(&store).await;
    }

    #[tokio::test]
    async fn temp_names_are_not_keys_and_stray_temp_files_are_not_listed() {
        let (_dir, store) = store();
        for key in [".tmp-x", "a/.tmp-1-b", ".tmp-/c"] {
            let err = store.put(key, Bytes::from_static(b"x")).await.unwrap_err();
            assert!(matches!(err, StoreError::InvalidKey(..)), "{key}: {err}");
            assert!(matches!(
                store.get(key).await,
                Err(StoreError::InvalidKey(..))
            ));
        }
        store.put("a/b", Bytes::from_static(b"b")).await.unwrap();
        std::fs::write(store.root().join("a/.tmp-123-0-b"), b"torn").unwrap();
        std::fs::write(store.root().join(".tmp-123-1-top"), b"torn").unwrap();
        assert_eq!(store.list("").await.unwrap(), vec!["a/b".to_string()]);
        // A stray temp file does not get in the way of later writes.
        store.put("a/c", Bytes::from_static(b"c")).await.unwrap();
        assert_eq!(
            store.list("a/").await.unwrap(),
            vec!["a/b".to_string(), "a/c".to_string()]
        );
    }

    #[tokio::test]
    async fn a_folder_is_not_an_object() {
        let (_dir, store) = store();
        store.put("a/b", Bytes::from_static(b"b")).await.unwrap();
        assert_eq!(store.head("a").await.unwrap(), None);
        assert!(matches!(store.get("a").await, Err(StoreError::NotFound(_))));
        assert!(matches!(
            store.get_range("a", 0..1).await,
            Err(StoreError::NotFound(_))
        ));
        store.delete("a").await.unwrap();
        // A key below an object is simply absent.
        assert_eq!(store.head("a/b/c").await.unwrap(), None);
        assert!(matches!(
            store.get("a/b/c").await,
            Err(StoreError::NotFound(_))
        ));
        store.delete("a/b/c").await.unwrap();
        assert_eq!(store.get("a/b").await.unwrap(), Bytes::from_static(b"b"));
    }

    #[tokio::test]
    async fn open_creates_the_root_and_reopens_existing_objects() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("x/y/store");
        let store = FolderStore::open(&root).unwrap();
        assert!(root.is_dir());
        assert_eq!(store.uri(), format!("file://{}", root.display()));
        store.put("k", Bytes::from_static(b"v")).await.unwrap();
        let again = FolderStore::open(&root).unwrap();
        assert_eq!(again.get("k").await.unwrap(), Bytes::from_static(b"v"));
    }

    #[test]
    fn temp_names_are_unique_and_bounded() {
        let long = "é".repeat(200);
        let a = temp_name(&long);
        let b = temp_name(&long);
        assert_ne!(a, b);
        assert!(a.starts_with(TEMP_PREFIX) && a.len() < 120, "{a}");
    }
}
