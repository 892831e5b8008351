//! The index's directory: tantivy's `MmapDirectory` with the data syncs of new files
//! gathered and run in parallel at the commit, instead of one after another as each file
//! is closed.
//!
//! Why: a commit writes about ten segment files, and `MmapDirectory` syncs each as it is
//! closed — ten disk flushes in a row, the largest cost of a small projection batch. The
//! promise is unchanged: tantivy calls [`Directory::sync_directory`] before it writes
//! `meta.json` (`segment_updater::save_metas`), and here that call first syncs every file
//! written since the last one (all at once, so the disk can serve them together), then the
//! folder. So no `meta.json` ever names a file whose bytes are not on disk.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tantivy::directory::error::{DeleteError, LockError, OpenReadError, OpenWriteError};
use tantivy::directory::{
    AntiCallToken, Directory, DirectoryLock, FileHandle, Lock, MmapDirectory, TerminatingWrite,
    WatchCallback, WatchHandle, WritePtr,
};

/// Most syncs run at once; a commit rarely writes more files than this.
const PARALLEL_SYNCS: usize = 16;

/// `MmapDirectory` whose new files are synced together at the next `sync_directory`.
#[derive(Clone, Debug)]
pub(crate) struct SyncedDirectory {
    inner: MmapDirectory,
    root: PathBuf,
    /// Files closed since the last `sync_directory`, whose data is not yet synced.
    pending: Arc<Mutex<Vec<File>>>,
}

impl SyncedDirectory {
    pub(crate) fn open(root: &Path) -> tantivy::Result<Self> {
        let inner = MmapDirectory::open(root).map_err(tantivy::TantivyError::from)?;
        Ok(SyncedDirectory {
            inner,
            root: root.to_path_buf(),
            pending: Arc::default(),
        })
    }

    /// Syncs the data of every file closed since the last call, in parallel.
    fn sync_pending(&self) -> io::Result<()> {
        let files = std::mem::take(&mut *self.pending.lock().expect("pending syncs lock"));
        if files.is_empty() {
            return Ok(());
        }
        let per_thread = files.len().div_ceil(PARALLEL_SYNCS);
        let result = std::thread::scope(|scope| {
            let handles: Vec<_> = files
                .chunks(per_thread)
                .map(|chunk| scope.spawn(move || chunk.iter().try_for_each(File::sync_data)))
                .collect();
            handles.into_iter().try_for_each(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(io::Error::other("sync thread panicked")))
            })
        });
        if result.is_err() {
            // The files stay unsynced: keep them pending so the next commit tries again
            // rather than naming them in a meta.json.
            self.pending
                .lock()
                .expect("pending syncs lock")
                .extend(files);
        }
        result
    }
}

/// A new file: written through, its data sync left to the next `sync_directory`.
struct DeferredFile {
    file: File,
    pending: Arc<Mutex<Vec<File>>>,
}

impl Write for DeferredFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl TerminatingWrite for DeferredFile {
    fn terminate_ref(&mut self, _: AntiCallToken) -> io::Result<()> {
        self.file.flush()?;
        let handle = self.file.try_clone()?;
        self.pending
            .lock()
            .expect("pending syncs lock")
            .push(handle);
        Ok(())
    }
}

impl Directory for SyncedDirectory {
    fn get_file_handle(&self, path: &Path) -> Result<Arc<dyn FileHandle>, OpenReadError> {
        self.inner.get_file_handle(path)
    }

    fn delete(&self, path: &Path) -> Result<(), DeleteError> {
        self.inner.delete(path)
    }

    fn exists(&self, path: &Path) -> Result<bool, OpenReadError> {
        self.inner.exists(path)
    }

    fn open_write(&self, path: &Path) -> Result<WritePtr, OpenWriteError> {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(self.root.join(path))
            .map_err(|e| {
                if e.kind() == io::ErrorKind::AlreadyExists {
                    OpenWriteError::FileAlreadyExists(path.to_path_buf())
                } else {
                    OpenWriteError::wrap_io_error(e, path.to_path_buf())
                }
            })?;
        Ok(BufWriter::new(Box::new(DeferredFile {
            file,
            pending: self.pending.clone(),
        })))
    }

    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        self.inner.atomic_read(path)
    }

    fn atomic_write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        self.inner.atomic_write(path, data)
    }

    fn sync_directory(&self) -> io::Result<()> {
        self.sync_pending()?;
        self.inner.sync_directory()
    }

    fn acquire_lock(&self, lock: &Lock) -> Result<DirectoryLock, LockError> {
        self.inner.acquire_lock(lock)
    }

    fn watch(&self, watch_callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        self.inner.watch(watch_callback)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_files_wait_for_sync_directory_and_are_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let d = SyncedDirectory::open(dir.path()).unwrap();
        for name in ["a.idx", "b.idx"] {
            let mut w = d.open_write(Path::new(name)).unwrap();
            w.write_all(name.as_bytes()).unwrap();
            w.terminate().unwrap();
        }
        assert_eq!(d.pending.lock().unwrap().len(), 2);
        d.sync_directory().unwrap();
        assert!(d.pending.lock().unwrap().is_empty());
        let bytes = d
            .open_read(Path::new("b.idx"))
            .unwrap()
            .read_bytes()
            .unwrap();
        assert_eq!(bytes.as_slice(), b"b.idx");
        assert!(matches!(
            d.open_write(Path::new("a.idx")),
            Err(OpenWriteError::FileAlreadyExists(_))
        ));
    }
}
