//! The memory store owns objects in a `BTreeMap` behind a lock: tests and `mem://` URIs.

use crate::{validate_key, validate_prefix, ObjectStore, Result, StoreError};
use async_trait::async_trait;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Objects held in memory; nothing survives the process. Each instance is its own store.
#[derive(Debug, Default)]
pub struct MemoryStore {
    objects: RwLock<BTreeMap<String, Bytes>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    // A panic while holding the lock cannot leave the map half-updated (every update is a
    // single insert or remove), so a poisoned lock is still safe to use.
    fn read(&self) -> RwLockReadGuard<'_, BTreeMap<String, Bytes>> {
        self.objects.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, BTreeMap<String, Bytes>> {
        self.objects.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl ObjectStore for MemoryStore {
    async fn put(&self, key: &str, data: Bytes) -> Result<()> {
        validate_key(key)?;
        self.write().insert(key.to_string(), data);
        Ok(())
    }

    async fn put_if_absent(&self, key: &str, data: Bytes) -> Result<bool> {
        validate_key(key)?;
        let mut map = self.write();
        if map.contains_key(key) {
            return Ok(false);
        }
        map.insert(key.to_string(), data);
        Ok(true)
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        validate_key(key)?;
        self.read()
            .get(key)
            .cloned()
            .ok_or_else(|| StoreError::NotFound(key.to_string()))
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
        let data = self.get(key).await?;
        let len = data.len() as u64;
        let end = range.end.min(len);
        if range.start >= end {
            return Ok(Bytes::new());
        }
        // Both bounds are at most `len`, which came from a `usize`.
        Ok(data.slice(range.start as usize..end as usize))
    }

    async fn head(&self, key: &str) -> Result<Option<u64>> {
        validate_key(key)?;
        Ok(self.read().get(key).map(|d| d.len() as u64))
    }

    async fn delete(&self, key: &str) -> Result<()> {
        validate_key(key)?;
        self.write().remove(key);
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        validate_prefix(prefix)?;
        let map = self.read();
        Ok(map
            .range(prefix.to_string()..)
            .map(|(k, _)| k)
            .take_while(|k| k.starts_with(prefix))
            .cloned()
            .collect())
    }

    fn uri(&self) -> String {
        "memory://".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn memory_store_passes_the_conformance_suite() {
        crate::testsuite::run(&MemoryStore::new()).await;
    }
}
