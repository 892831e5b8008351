//! SimFs owns the in-memory crash-simulating filesystem used by durability tests.
//!
//! The model is a tree of inodes. Every directory keeps two entry maps: the current one
//! (what a running process sees) and the durable one (what survives power loss, updated by
//! `sync_dir`). Every file keeps its current bytes and its durable bytes (updated by
//! `FsFile::sync` and `truncate`). [`SimFs::restart`] builds the filesystem a rebooted
//! machine would find by walking the durable entries from the root.

mod tree;

use crate::{Fs, FsFile};
use std::fmt;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use tree::{lock, not_found, split, Ino, Node, State, ROOT};

/// An in-memory filesystem that forgets what was not made durable when it is "restarted".
pub struct SimFs {
    state: Arc<Mutex<State>>,
}

impl fmt::Debug for SimFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("SimFs")
            .field("ops", &state.ops)
            .field("crash_at", &state.crash_at)
            .field("inodes", &state.nodes.len())
            .finish()
    }
}

impl SimFs {
    /// An empty filesystem holding only the root directory.
    pub fn new() -> Arc<SimFs> {
        Arc::new(SimFs {
            state: Arc::new(Mutex::new(State::empty())),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// After `n` more mutating operations succeed, every later operation (mutating or not)
    /// fails with an `io::Error` ("simulated crash").
    pub fn crash_after(&self, n: u64) {
        let mut state = self.lock();
        state.crash_at = Some(state.ops + n);
    }

    /// Number of mutating operations performed so far (create, open_append, write_all,
    /// sync, truncate, rename, remove_file, sync_dir, create_dir_all).
    pub fn ops(&self) -> u64 {
        self.lock().ops
    }

    /// The filesystem as a machine would find it after power loss: a new `SimFs` holding
    /// only what was durable. With `keep_torn_tail`, each surviving file also keeps a
    /// prefix (about half, at least 1 byte when there is any) of the bytes appended to it
    /// after its last sync — a torn write.
    pub fn restart(&self, keep_torn_tail: bool) -> Arc<SimFs> {
        let state = self.lock().after_power_loss(keep_torn_tail);
        Arc::new(SimFs {
            state: Arc::new(Mutex::new(state)),
        })
    }
}

/// An open file of a [`SimFs`]; it keeps writing to its inode even after the name is gone.
#[derive(Debug)]
struct SimFile {
    state: Arc<Mutex<State>>,
    ino: Ino,
}

impl FsFile for SimFile {
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut state = lock(&self.state);
        state.check()?;
        state.file_mut(self.ino)?;
        state.begin_mutation()?;
        let (data, _) = state.file_mut(self.ino)?;
        // Both `create` and `open_append` handles write at the end: the callers only append.
        data.extend_from_slice(bytes);
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        let mut state = lock(&self.state);
        state.check()?;
        state.file_mut(self.ino)?;
        state.begin_mutation()?;
        let (data, durable) = state.file_mut(self.ino)?;
        durable.clone_from(data);
        Ok(())
    }
}

impl Fs for SimFs {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut state = self.lock();
        state.check()?;
        let components = split(path)?;
        // Validate first so a failing call changes nothing.
        let mut ino = Some(ROOT);
        for name in &components {
            let Some(dir) = ino else { break };
            ino = state.entries(dir)?.get(name).copied();
        }
        if let Some(last) = ino {
            state.entries(last)?;
        }
        state.begin_mutation()?;
        let mut dir = ROOT;
        for name in components {
            dir = match state.entries(dir)?.get(&name) {
                Some(child) => *child,
                None => {
                    let child = state.alloc(Node::empty_dir());
                    state.entries_mut(dir)?.insert(name, child);
                    child
                }
            };
        }
        Ok(())
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn FsFile>> {
        let mut state = self.lock();
        state.check()?;
        let ino = state.open_file(path, true)?;
        Ok(Box::new(SimFile {
            state: self.state.clone(),
            ino,
        }))
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn FsFile>> {
        let mut state = self.lock();
        state.check()?;
        let ino = state.open_file(path, false)?;
        Ok(Box::new(SimFile {
            state: self.state.clone(),
            ino,
        }))
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let state = self.lock();
        state.check()?;
        state.file_data(path).cloned()
    }

    fn read_at(&self, path: &Path, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let state = self.lock();
        state.check()?;
        let data = state.file_data(path)?;
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(data.len());
        let end = start.saturating_add(len).min(data.len());
        Ok(data[start..end].to_vec())
    }

    fn size(&self, path: &Path) -> io::Result<Option<u64>> {
        let state = self.lock();
        state.check()?;
        match state.file_data(path) {
            Ok(data) => Ok(Some(data.len() as u64)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let mut state = self.lock();
        state.check()?;
        let ino = state.lookup(&split(path)?)?;
        state.file_mut(ino)?;
        let len = usize::try_from(len)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "length too large"))?;
        state.begin_mutation()?;
        let (data, durable) = state.file_mut(ino)?;
        // Like `set_len`: shorter cuts, longer pads with zeros; RealFs syncs, so do we.
        data.resize(len, 0);
        durable.clone_from(data);
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut state = self.lock();
        state.check()?;
        let (from_dir, from_name) = state.parent_of(from)?;
        let (to_dir, to_name) = state.parent_of(to)?;
        let ino = *state
            .entries(from_dir)?
            .get(&from_name)
            .ok_or_else(|| not_found(&from_name))?;
        let moving_dir = matches!(state.nodes.get(&ino), Some(Node::Dir { .. }));
        if let Some(target) = state.entries(to_dir)?.get(&to_name).copied() {
            match (moving_dir, state.nodes.get(&target)) {
                (false, Some(Node::Dir { .. })) => {
                    return Err(io::Error::from(io::ErrorKind::IsADirectory))
                }
                (true, Some(Node::File { .. })) => {
                    return Err(io::Error::from(io::ErrorKind::NotADirectory))
                }
                (true, Some(Node::Dir { entries, .. })) if !entries.is_empty() => {
                    return Err(io::Error::from(io::ErrorKind::DirectoryNotEmpty))
                }
                _ => {}
            }
        }
        if moving_dir {
            let from_parts = split(from)?;
            let to_parts = split(to)?;
            if to_parts.len() > from_parts.len() && to_parts.starts_with(&from_parts) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "cannot move a directory into itself",
                ));
            }
        }
        state.begin_mutation()?;
        if from_dir == to_dir && from_name == to_name {
            return Ok(());
        }
        state.entries_mut(from_dir)?.remove(&from_name);
        state.entries_mut(to_dir)?.insert(to_name, ino);
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let mut state = self.lock();
        state.check()?;
        let (dir, name) = state.parent_of(path)?;
        let ino = *state
            .entries(dir)?
            .get(&name)
            .ok_or_else(|| not_found(&name))?;
        if matches!(state.nodes.get(&ino), Some(Node::Dir { .. })) {
            return Err(io::Error::from(io::ErrorKind::IsADirectory));
        }
        state.begin_mutation()?;
        state.entries_mut(dir)?.remove(&name);
        Ok(())
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        let mut state = self.lock();
        state.check()?;
        let ino = state.lookup(&split(path)?)?;
        state.entries(ino)?;
        state.begin_mutation()?;
        if let Some(Node::Dir { entries, durable }) = state.nodes.get_mut(&ino) {
            durable.clone_from(entries);
        }
        Ok(())
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let state = self.lock();
        state.check()?;
        let ino = state.lookup(&split(path)?)?;
        // BTreeMap keys are already sorted.
        Ok(state.entries(ino)?.keys().cloned().collect())
    }

    fn is_dir(&self, path: &Path) -> bool {
        let state = self.lock();
        if state.crashed() {
            return false;
        }
        let Ok(components) = split(path) else {
            return false;
        };
        state
            .lookup(&components)
            .is_ok_and(|ino| matches!(state.nodes.get(&ino), Some(Node::Dir { .. })))
    }
}

#[cfg(test)]
mod tests;
