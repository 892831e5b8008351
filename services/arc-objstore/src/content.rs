//! Content addressing owns the SHA-256 naming of immutable blobs and their write-once put.

use crate::{ObjectStore, Result, StoreError};
use bytes::Bytes;
use sha2::{Digest, Sha256};

/// Above this size hashing runs on a blocking thread: SHA-256 is CPU-bound (~2 ms per MiB)
/// and would otherwise stall an async worker.
const HASH_OFF_THREAD: usize = 256 * 1024;

/// The SHA-256 of `data` as 64 lower-case hex digits.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Stores `data` under `key_for(sha256)` and returns `(sha256, key)`.
///
/// When an object of the same key and size is already there, nothing is written: the key
/// names the content, so it is the same blob. (`put_if_absent` returning `false` also
/// promises the object is durable, so the caller may reference it right away.) An object of
/// another size under the key is a damaged copy and is replaced.
pub async fn put_content_addressed(
    store: &dyn ObjectStore,
    key_for: impl Fn(&str) -> String,
    data: Bytes,
) -> Result<(String, String)> {
    let sha = if data.len() > HASH_OFF_THREAD {
        let bytes = data.clone();
        tokio::task::spawn_blocking(move || sha256_hex(&bytes))
            .await
            .map_err(|e| StoreError::Unavailable(format!("hashing task failed: {e}")))?
    } else {
        sha256_hex(&data)
    };
    let key = key_for(&sha);
    let size = data.len() as u64;
    if !store.put_if_absent(&key, data.clone()).await? {
        match store.head(&key).await? {
            Some(existing) if existing == size => {}
            // Other size (damaged), or deleted since the check: write it.
            _ => store.put(&key, data).await?,
        }
    }
    Ok((sha, key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryStore;

    fn blob_key(sha: &str) -> String {
        format!("blobs/sha256/{}/{sha}.dcm", &sha[..2])
    }

    #[test]
    fn sha256_of_known_inputs() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[tokio::test]
    async fn same_content_is_written_once_and_damaged_copies_are_replaced() {
        let store = MemoryStore::new();
        let data = Bytes::from_static(b"dicom bytes");
        let (sha, key) = put_content_addressed(&store, blob_key, data.clone())
            .await
            .unwrap();
        assert_eq!(sha, sha256_hex(&data));
        assert_eq!(key, blob_key(&sha));
        assert_eq!(store.get(&key).await.unwrap(), data);

        // Same key and size already there: left alone (proved by planting other same-size bytes).
        let planted = Bytes::from_static(b"DICOM BYTES");
        store.put(&key, planted.clone()).await.unwrap();
        put_content_addressed(&store, blob_key, data.clone())
            .await
            .unwrap();
        assert_eq!(store.get(&key).await.unwrap(), planted);

        // A truncated copy is replaced.
        store.put(&key, Bytes::from_static(b"dicom")).await.unwrap();
        put_content_addressed(&store, blob_key, data.clone())
            .await
            .unwrap();
        assert_eq!(store.get(&key).await.unwrap(), data);
    }

    #[tokio::test]
    async fn large_blobs_hash_the_same_off_thread() {
        let store = MemoryStore::new();
        let data = Bytes::from(vec![7u8; HASH_OFF_THREAD + 1]);
        let (sha, _) = put_content_addressed(&store, blob_key, data.clone())
            .await
            .unwrap();
        assert_eq!(sha, sha256_hex(&data));
    }
}
