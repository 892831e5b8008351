//! tree owns the inode model behind `SimFs`: directories and files with their current and
//! durable views, path lookup, and the copy of what survives power loss.
//!
//! Inodes are never freed: an unlinked file can still be durable under an old name (a
//! removal that was never made durable), so keeping them all is the simple correct choice
//! for short-lived tests.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::path::{Component, Path};
use std::sync::{Mutex, MutexGuard};

pub(super) type Ino = u64;

pub(super) const ROOT: Ino = 0;

#[derive(Debug, Clone)]
pub(super) enum Node {
    File {
        data: Vec<u8>,
        durable: Vec<u8>,
    },
    Dir {
        entries: BTreeMap<String, Ino>,
        durable: BTreeMap<String, Ino>,
    },
}

impl Node {
    pub(super) fn empty_dir() -> Node {
        Node::Dir {
            entries: BTreeMap::new(),
            durable: BTreeMap::new(),
        }
    }
}

#[derive(Debug)]
pub(super) struct State {
    pub(super) nodes: HashMap<Ino, Node>,
    pub(super) next_ino: Ino,
    pub(super) ops: u64,
    /// Mutating operations allowed in total before the simulated crash.
    pub(super) crash_at: Option<u64>,
}

impl State {
    pub(super) fn empty() -> State {
        let mut nodes = HashMap::new();
        nodes.insert(ROOT, Node::empty_dir());
        State {
            nodes,
            next_ino: ROOT + 1,
            ops: 0,
            crash_at: None,
        }
    }

    pub(super) fn crashed(&self) -> bool {
        self.crash_at.is_some_and(|at| self.ops >= at)
    }

    /// Fails when the simulated crash has happened (every operation after it fails).
    pub(super) fn check(&self) -> io::Result<()> {
        if self.crashed() {
            Err(io::Error::other("simulated crash"))
        } else {
            Ok(())
        }
    }

    /// Admits one mutating operation; the caller must then perform it without failing
    /// half-way, so an operation is either wholly done or not at all.
    pub(super) fn begin_mutation(&mut self) -> io::Result<()> {
        self.check()?;
        self.ops += 1;
        Ok(())
    }

    /// What a machine would find after power loss: only the durable entries reachable from
    /// the root, each file with its durable bytes (plus a torn prefix of the rest if asked).
    pub(super) fn after_power_loss(&self, keep_torn_tail: bool) -> State {
        let mut nodes = HashMap::new();
        let mut seen = HashSet::new();
        let mut stack = vec![ROOT];
        // Inode ids are kept, so a file durable under two names (a rename made durable in
        // the new directory but not the old one) stays one file, like a hard link.
        while let Some(ino) = stack.pop() {
            if !seen.insert(ino) {
                continue;
            }
            let Some(node) = self.nodes.get(&ino) else {
                continue;
            };
            let survivor = match node {
                Node::Dir { durable, .. } => {
                    let kept: BTreeMap<String, Ino> = durable
                        .iter()
                        .filter(|(_, child)| self.nodes.contains_key(child))
                        .map(|(name, child)| (name.clone(), *child))
                        .collect();
                    stack.extend(kept.values().copied());
                    Node::Dir {
                        entries: kept.clone(),
                        durable: kept,
                    }
                }
                Node::File { data, durable } => {
                    let mut bytes = durable.clone();
                    if keep_torn_tail && data.len() > durable.len() && data.starts_with(durable) {
                        let tail = &data[durable.len()..];
                        bytes.extend_from_slice(&tail[..tail.len().div_ceil(2)]);
                    }
                    Node::File {
                        data: bytes.clone(),
                        durable: bytes,
                    }
                }
            };
            nodes.insert(ino, survivor);
        }
        State {
            nodes,
            next_ino: self.next_ino,
            ops: 0,
            crash_at: None,
        }
    }

    pub(super) fn alloc(&mut self, node: Node) -> Ino {
        let ino = self.next_ino;
        self.next_ino += 1;
        self.nodes.insert(ino, node);
        ino
    }

    pub(super) fn entries(&self, dir: Ino) -> io::Result<&BTreeMap<String, Ino>> {
        match self.nodes.get(&dir) {
            Some(Node::Dir { entries, .. }) => Ok(entries),
            Some(Node::File { .. }) => Err(io::Error::from(io::ErrorKind::NotADirectory)),
            None => Err(io::Error::from(io::ErrorKind::NotFound)),
        }
    }

    pub(super) fn entries_mut(&mut self, dir: Ino) -> io::Result<&mut BTreeMap<String, Ino>> {
        match self.nodes.get_mut(&dir) {
            Some(Node::Dir { entries, .. }) => Ok(entries),
            Some(Node::File { .. }) => Err(io::Error::from(io::ErrorKind::NotADirectory)),
            None => Err(io::Error::from(io::ErrorKind::NotFound)),
        }
    }

    pub(super) fn lookup(&self, components: &[String]) -> io::Result<Ino> {
        let mut ino = ROOT;
        for name in components {
            ino = *self
                .entries(ino)?
                .get(name)
                .ok_or_else(|| not_found(name))?;
        }
        Ok(ino)
    }

    /// The parent directory's inode and the final name of `path`.
    pub(super) fn parent_of(&self, path: &Path) -> io::Result<(Ino, String)> {
        let mut components = split(path)?;
        let name = components
            .pop()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path names the root"))?;
        let parent = self.lookup(&components)?;
        self.entries(parent)?;
        Ok((parent, name))
    }

    pub(super) fn file_mut(&mut self, ino: Ino) -> io::Result<(&mut Vec<u8>, &mut Vec<u8>)> {
        match self.nodes.get_mut(&ino) {
            Some(Node::File { data, durable }) => Ok((data, durable)),
            Some(Node::Dir { .. }) => Err(io::Error::from(io::ErrorKind::IsADirectory)),
            None => Err(io::Error::from(io::ErrorKind::NotFound)),
        }
    }

    pub(super) fn file_data(&self, path: &Path) -> io::Result<&Vec<u8>> {
        let ino = self.lookup(&split(path)?)?;
        match self.nodes.get(&ino) {
            Some(Node::File { data, .. }) => Ok(data),
            Some(Node::Dir { .. }) => Err(io::Error::from(io::ErrorKind::IsADirectory)),
            None => Err(io::Error::from(io::ErrorKind::NotFound)),
        }
    }

    /// Opens (creating if missing) the file at `path`, emptying it when `truncate`.
    pub(super) fn open_file(&mut self, path: &Path, truncate: bool) -> io::Result<Ino> {
        let (parent, name) = self.parent_of(path)?;
        let existing = self.entries(parent)?.get(&name).copied();
        if let Some(ino) = existing {
            self.file_mut(ino)?;
        }
        self.begin_mutation()?;
        match existing {
            Some(ino) => {
                let (data, _) = self.file_mut(ino)?;
                if truncate {
                    data.clear();
                }
                Ok(ino)
            }
            None => {
                let ino = self.alloc(Node::File {
                    data: Vec::new(),
                    durable: Vec::new(),
                });
                self.entries_mut(parent)?.insert(name, ino);
                Ok(ino)
            }
        }
    }
}

pub(super) fn not_found(name: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("no such file or directory: {name}"),
    )
}

/// Splits a path into its names, relative to the root ("/a/b" and "a/b" are the same).
pub(super) fn split(path: &Path) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    for component in path.components() {
        match component {
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(name) => {
                let name = name.to_str().ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidInput, "path is not valid utf-8")
                })?;
                out.push(name.to_owned());
            }
        }
    }
    Ok(out)
}

pub(super) fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panic in another test thread must not hide this filesystem's state.
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
