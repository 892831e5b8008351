//! arc-fs is the thin filesystem seam under the file event log and the folder object store.
//! Production code uses [`RealFs`]; crash tests use [`SimFs`] (module `sim`), which keeps
//! only what was made durable by [`FsFile::sync`] / [`Fs::truncate`] / [`Fs::sync_dir`]
//! when the test "restarts" it after a simulated crash.
//!
//! The contract mirrors POSIX: file contents are durable after [`FsFile::sync`] of that file;
//! a directory entry (creation, rename, removal) is durable after `sync_dir` of its parent.

use std::fmt::Debug;
use std::io;
use std::path::Path;

mod real;
pub mod sim;

pub use real::RealFs;
pub use sim::SimFs;

/// An open file that is written at its end.
pub trait FsFile: Debug + Send + Sync {
    /// Appends all of `data`.
    fn write_all(&mut self, data: &[u8]) -> io::Result<()>;
    /// Makes every byte written so far durable (fsync / fdatasync).
    fn sync(&mut self) -> io::Result<()>;
}

/// The filesystem operations the storage backends need, and nothing more.
pub trait Fs: Debug + Send + Sync + 'static {
    /// Creates a directory and its parents (entries durable only after `sync_dir` of each parent).
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Creates (or truncates) a file for writing.
    fn create(&self, path: &Path) -> io::Result<Box<dyn FsFile>>;
    /// Opens a file for appending, creating it if missing.
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn FsFile>>;
    /// Reads a whole file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Reads up to `len` bytes at `offset` (fewer at the end of the file).
    fn read_at(&self, path: &Path, offset: u64, len: usize) -> io::Result<Vec<u8>>;
    /// The size of a file, or `None` when it does not exist.
    fn size(&self, path: &Path) -> io::Result<Option<u64>>;
    /// Cuts (or zero-extends) a file to `len` bytes; durable on return: implementations sync it.
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()>;
    /// Renames atomically, replacing `to`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes a file; a missing file is an error of kind `NotFound`.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Makes the entries of a directory durable.
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
    /// Names of the entries of a directory (files and directories), sorted; a missing directory is `NotFound`.
    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>>;
    /// Whether `path` is an existing directory.
    fn is_dir(&self, path: &Path) -> bool;
}
