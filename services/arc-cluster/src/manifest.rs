//! The snapshot manifest (`snapshots/{generation}/manifest.json`, written after every file it
//! names) and generation names, which sort by the position they cover.

use crate::{ClusterError, Result};
use arc_objstore::ObjectStore;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Folder of the snapshots in the object store.
pub const SNAPSHOTS: &str = "snapshots";
/// Version of the manifest's own shape.
pub const MANIFEST_FORMAT: u32 = 1;

/// One file of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    /// Path inside the generation and the projection folder: `state.redb` or `index/NAME`.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the bytes, lower-case hex.
    pub sha256: String,
}

/// What a snapshot holds; its presence makes the generation valid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`MANIFEST_FORMAT`] of the writer.
    pub manifest_format: u32,
    /// The generation (its folder name).
    pub generation: String,
    /// The log position state store and index cover: the next sequence to apply.
    pub position: u64,
    /// The node that published it.
    pub node_id: String,
    /// When it was published (RFC 3339), for people.
    pub created: String,
    /// `arc_projector::STATE_FORMAT` of the state store.
    pub state_format: String,
    /// `arc_index::INDEX_FORMAT` of the index.
    pub index_format: String,
    /// Log position up to which the publisher had brought `studies/…` up to date.
    #[serde(default)]
    pub layout_position: u64,
    /// Every file, with size and hash.
    pub files: Vec<ManifestFile>,
}

impl Manifest {
    /// The manifest's key.
    pub fn key(generation: &str) -> String {
        format!("{SNAPSHOTS}/{generation}/manifest.json")
    }

    /// Checks that this build can load the snapshot and that its file paths stay inside
    /// the projection folder.
    pub fn check(&self, generation: &str) -> Result<()> {
        let bad = |why: String| {
            Err(ClusterError::Invalid {
                generation: generation.to_string(),
                why,
            })
        };
        if self.manifest_format != MANIFEST_FORMAT {
            return bad(format!(
                "manifest format {} (this build reads {MANIFEST_FORMAT})",
                self.manifest_format
            ));
        }
        if self.generation != generation {
            return bad(format!("its manifest names generation {}", self.generation));
        }
        if self.state_format != arc_projector::STATE_FORMAT
            || self.index_format != arc_index::INDEX_FORMAT
        {
            return bad(format!(
                "formats {}/{} (this build: {}/{})",
                self.state_format,
                self.index_format,
                arc_projector::STATE_FORMAT,
                arc_index::INDEX_FORMAT
            ));
        }
        if !self.files.iter().any(|f| f.path == "state.redb")
            || !self.files.iter().any(|f| f.path == "index/meta.json")
        {
            return bad("it lacks state.redb or index/meta.json".into());
        }
        for f in &self.files {
            let ok = f.path == "state.redb"
                || f.path.strip_prefix("index/").is_some_and(|n| {
                    !n.is_empty()
                        && !n.starts_with('.')
                        && n.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-')
                });
            if !ok || f.sha256.len() != 64 {
                return bad(format!("file entry {:?} is not a snapshot file", f.path));
            }
        }
        Ok(())
    }
}

/// A generation found in the store.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Generation {
    /// The position its name says it covers (generations sort by it).
    pub position: u64,
    /// The folder name under `snapshots/`.
    pub name: String,
    /// Whether its manifest is present.
    pub complete: bool,
    /// Every key under it.
    pub keys: Vec<String>,
}

impl Generation {
    /// A new generation name for a snapshot at `position`: zero-padded so names sort by
    /// position, and a random part so two publishers never share a folder.
    pub fn new_name(position: u64) -> String {
        format!("{position:020}-{:08x}", rand::random::<u32>())
    }

    fn position_of(name: &str) -> Option<u64> {
        let (pos, rest) = name.split_once('-')?;
        (pos.len() == 20 && !rest.is_empty()).then_some(())?;
        pos.parse().ok()
    }

    /// Every generation in the store, newest (highest position) first.
    pub async fn list(store: &dyn ObjectStore) -> Result<Vec<Generation>> {
        let mut by_name: BTreeMap<String, Generation> = BTreeMap::new();
        for key in store.list(&format!("{SNAPSHOTS}/")).await? {
            let Some((name, rest)) = key[SNAPSHOTS.len() + 1..].split_once('/') else {
                continue;
            };
            let Some(position) = Self::position_of(name) else {
                continue;
            };
            let g = by_name
                .entry(name.to_string())
                .or_insert_with(|| Generation {
                    position,
                    name: name.to_string(),
                    complete: false,
                    keys: Vec::new(),
                });
            g.complete |= rest == "manifest.json";
            g.keys.push(key);
        }
        let mut out: Vec<Generation> = by_name.into_values().collect();
        out.sort_by(|a, b| b.cmp(a));
        Ok(out)
    }

    /// Reads and checks the manifest of a generation.
    pub async fn manifest(&self, store: &dyn ObjectStore) -> Result<Manifest> {
        let bytes = store.get(&Manifest::key(&self.name)).await?;
        let m: Manifest = serde_json::from_slice(&bytes).map_err(|e| ClusterError::Invalid {
            generation: self.name.clone(),
            why: format!("unreadable manifest: {e}"),
        })?;
        m.check(&self.name)?;
        if m.position != self.position {
            return Err(ClusterError::Invalid {
                generation: self.name.clone(),
                why: format!("its manifest says position {}", m.position),
            });
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_by_position_and_parse_back() {
        let a = Generation::new_name(9);
        let b = Generation::new_name(10);
        assert!(a < b);
        assert_eq!(Generation::position_of(&b), Some(10));
        assert_eq!(Generation::position_of("lease.json"), None);
        assert_eq!(Generation::position_of("12-ab"), None);
    }
}
