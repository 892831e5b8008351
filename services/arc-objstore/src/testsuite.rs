//! The conformance suite owns the behaviour every [`ObjectStore`] backend must show.
//!
//! Backends call [`run`] on an empty store from their tests (other crates enable the
//! `testsuite` feature). It panics with the failing check's name.

use crate::{ObjectStore, StoreError};
use bytes::Bytes;

/// Checks a backend; the store must be empty when called and holds test objects afterwards.
pub async fn run(store: &dyn ObjectStore) {
    assert!(!store.uri().is_empty(), "uri names the store");
    put_get_overwrite(store).await;
    put_if_absent_keeps_the_first(store).await;
    missing_objects(store).await;
    ranges(store).await;
    delete_is_idempotent(store).await;
    empty_and_large_objects(store).await;
    invalid_keys_are_refused(store).await;
    concurrent_puts(store).await;
    files_and_streams(store).await;
    listing(store).await;
}

/// `put_file`, `put_file_if_absent` and `get_stream` move large objects without holding
/// them whole, and agree with `put` and `get`.
async fn files_and_streams(store: &dyn ObjectStore) {
    use futures::TryStreamExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.bin");
    let big = pattern(3 * crate::CHUNK + 12_345);
    std::fs::write(&path, &big).expect("write source file");
    store.put_file("suite/file", &path).await.expect("put_file");
    assert_eq!(
        store.head("suite/file").await.expect("head file"),
        Some(big.len() as u64)
    );
    let streamed = store.get_stream("suite/file").await.expect("get_stream");
    assert_eq!(streamed.size, big.len() as u64, "stream size");
    let chunks: Vec<Bytes> = streamed.chunks.try_collect().await.expect("stream chunks");
    assert!(chunks.concat() == big, "streamed bytes equal the file");

    std::fs::write(&path, b"other").expect("rewrite source file");
    assert!(!store
        .put_file_if_absent("suite/file", &path)
        .await
        .expect("put_file_if_absent present"));
    assert_eq!(
        store.head("suite/file").await.expect("head kept"),
        Some(big.len() as u64)
    );
    assert!(store
        .put_file_if_absent("suite/file2", &path)
        .await
        .expect("put_file_if_absent absent"));
    assert_eq!(
        store.get("suite/file2").await.expect("get file2"),
        b("other")
    );

    std::fs::write(&path, b"").expect("empty source file");
    store
        .put_file("suite/file-empty", &path)
        .await
        .expect("put_file empty");
    let empty = store
        .get_stream("suite/file-empty")
        .await
        .expect("stream empty");
    assert_eq!(empty.size, 0);
    let chunks: Vec<Bytes> = empty.chunks.try_collect().await.expect("empty chunks");
    assert!(chunks.concat().is_empty(), "empty stream");

    assert!(
        matches!(
            store.get_stream("suite/absent").await,
            Err(StoreError::NotFound(_))
        ),
        "stream of a missing object"
    );
    assert!(
        matches!(
            store.put_file("suite/x", &dir.path().join("missing")).await,
            Err(StoreError::Io(_))
        ),
        "missing source file"
    );
    for k in ["suite/file", "suite/file2", "suite/file-empty"] {
        store.delete(k).await.expect("delete");
    }
}

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

async fn put_get_overwrite(store: &dyn ObjectStore) {
    store.put("suite/one", b("1")).await.expect("put");
    assert_eq!(store.get("suite/one").await.expect("get"), b("1"));
    store
        .put("suite/one", b("eleven"))
        .await
        .expect("overwrite");
    assert_eq!(
        store.get("suite/one").await.expect("get after overwrite"),
        b("eleven")
    );
    assert_eq!(store.head("suite/one").await.expect("head"), Some(6));
    // A new nested folder on the way.
    store
        .put("suite/deep/er/still/x", b("x"))
        .await
        .expect("nested put");
    assert_eq!(
        store
            .get("suite/deep/er/still/x")
            .await
            .expect("nested get"),
        b("x")
    );
}

async fn put_if_absent_keeps_the_first(store: &dyn ObjectStore) {
    assert!(
        store
            .put_if_absent("suite/pia", b("first"))
            .await
            .expect("pia 1"),
        "first writes"
    );
    assert!(
        !store
            .put_if_absent("suite/pia", b("second"))
            .await
            .expect("pia 2"),
        "second skips"
    );
    assert_eq!(
        store.get("suite/pia").await.expect("get pia"),
        b("first"),
        "original bytes kept"
    );
    assert!(store
        .put_if_absent("suite/new/dir/pia", b("n"))
        .await
        .expect("pia nested"));
}

async fn missing_objects(store: &dyn ObjectStore) {
    let err = store.get("suite/missing").await.expect_err("get missing");
    assert!(matches!(err, StoreError::NotFound(_)), "get missing: {err}");
    let err = store
        .get("nowhere/at/all")
        .await
        .expect_err("get missing nested");
    assert!(
        matches!(err, StoreError::NotFound(_)),
        "get missing nested: {err}"
    );
    let err = store
        .get_range("suite/missing", 0..1)
        .await
        .expect_err("range missing");
    assert!(
        matches!(err, StoreError::NotFound(_)),
        "range missing: {err}"
    );
    assert_eq!(
        store.head("suite/missing").await.expect("head missing"),
        None
    );
}

async fn ranges(store: &dyn ObjectStore) {
    store
        .put("suite/range", b("0123456789"))
        .await
        .expect("put range");
    let cases: [(std::ops::Range<u64>, &str); 9] = [
        (0..10, "0123456789"),
        (2..5, "234"),
        (0..1, "0"),
        (9..10, "9"),
        (8..100, "89"),
        (0..u64::MAX, "0123456789"),
        (5..5, ""),
        (10..12, ""),
        (20..30, ""),
    ];
    for (range, want) in cases {
        let got = store
            .get_range("suite/range", range.clone())
            .await
            .expect("get_range");
        assert_eq!(got, Bytes::from(want), "range {range:?}");
    }
    #[allow(clippy::reversed_empty_ranges)]
    let inverted = store
        .get_range("suite/range", 6..3)
        .await
        .expect("inverted range");
    assert!(inverted.is_empty(), "inverted range is empty");
}

async fn delete_is_idempotent(store: &dyn ObjectStore) {
    store.put("suite/del", b("d")).await.expect("put del");
    store.delete("suite/del").await.expect("delete");
    assert_eq!(store.head("suite/del").await.expect("head deleted"), None);
    let err = store.get("suite/del").await.expect_err("get deleted");
    assert!(matches!(err, StoreError::NotFound(_)), "get deleted: {err}");
    store.delete("suite/del").await.expect("delete again");
    store
        .delete("never/was/here")
        .await
        .expect("delete never-existing");
    // Deleted keys can be written again.
    store
        .put("suite/del", b("again"))
        .await
        .expect("put after delete");
    assert_eq!(
        store.get("suite/del").await.expect("get re-put"),
        b("again")
    );
    store.delete("suite/del").await.expect("delete re-put");
}

fn pattern(len: usize) -> Bytes {
    (0..len)
        .map(|i| (i * 31 % 251) as u8)
        .collect::<Vec<u8>>()
        .into()
}

async fn empty_and_large_objects(store: &dyn ObjectStore) {
    store
        .put("suite/empty", Bytes::new())
        .await
        .expect("put empty");
    assert_eq!(
        store.get("suite/empty").await.expect("get empty"),
        Bytes::new()
    );
    assert_eq!(
        store.head("suite/empty").await.expect("head empty"),
        Some(0)
    );
    assert!(store
        .get_range("suite/empty", 0..10)
        .await
        .expect("range empty")
        .is_empty());

    let big = pattern(5 * 1024 * 1024);
    store
        .put("suite/big", big.clone())
        .await
        .expect("put 5 MiB");
    assert_eq!(
        store.head("suite/big").await.expect("head big"),
        Some(big.len() as u64)
    );
    assert!(
        store.get("suite/big").await.expect("get big") == big,
        "5 MiB round trip"
    );
    let mid = store
        .get_range("suite/big", 1_000_000..3_000_001)
        .await
        .expect("range big");
    assert!(mid == big.slice(1_000_000..3_000_001), "5 MiB range");
}

async fn invalid_keys_are_refused(store: &dyn ObjectStore) {
    let bad = [
        "../x",
        "/abs",
        "a//b",
        "a/./b",
        "a\\b",
        "",
        "a/..",
        "trailing/",
    ];
    for key in bad {
        let is_invalid = |r: Result<(), StoreError>, op: &str| match r {
            Err(StoreError::InvalidKey(..)) => {}
            other => panic!("{op} {key:?} should be InvalidKey, got {other:?}"),
        };
        is_invalid(store.put(key, b("x")).await, "put");
        is_invalid(
            store.put_if_absent(key, b("x")).await.map(|_| ()),
            "put_if_absent",
        );
        is_invalid(store.get(key).await.map(|_| ()), "get");
        is_invalid(store.get_range(key, 0..1).await.map(|_| ()), "get_range");
        is_invalid(store.head(key).await.map(|_| ()), "head");
        is_invalid(store.delete(key).await, "delete");
    }
    for prefix in ["../", "../x", "/abs", "a//", "a\\b"] {
        match store.list(prefix).await {
            Err(StoreError::InvalidKey(..)) => {}
            other => panic!("list {prefix:?} should be InvalidKey, got {other:?}"),
        }
    }
}

async fn concurrent_puts(store: &dyn ObjectStore) {
    let value = |i: usize| Bytes::from(format!("value {i} ").repeat(i + 1));
    let puts = (0..16).map(|i| {
        let key = format!("conc/{}/{i:02}", i % 3);
        async move { store.put(&key, value(i)).await.map(|_| key) }
    });
    for (i, done) in futures::future::join_all(puts)
        .await
        .into_iter()
        .enumerate()
    {
        let key = done.expect("concurrent put");
        assert_eq!(
            store.get(&key).await.expect("get concurrent"),
            value(i),
            "{key}"
        );
    }
}

async fn listing(store: &dyn ObjectStore) {
    for key in [
        "list/b",
        "list/a/x",
        "list/a/y/z",
        "list/ab",
        "list/a-c",
        "other/q",
    ] {
        store.put(key, b("l")).await.expect("put for list");
    }
    let list = |p: &'static str| async move { store.list(p).await.expect("list") };
    assert_eq!(
        list("list/").await,
        ["list/a-c", "list/a/x", "list/a/y/z", "list/ab", "list/b"],
        "nested keys, sorted as strings"
    );
    assert_eq!(
        list("list/a").await,
        ["list/a-c", "list/a/x", "list/a/y/z", "list/ab"],
        "a prefix may end mid-segment"
    );
    assert_eq!(list("list/a/").await, ["list/a/x", "list/a/y/z"]);
    assert_eq!(
        list("list/a/y/z").await,
        ["list/a/y/z"],
        "a whole key lists itself"
    );
    assert!(
        list("nope/").await.is_empty(),
        "unknown prefix lists nothing"
    );
    assert!(list("list/zz").await.is_empty());

    let all = list("").await;
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted, "empty prefix lists all, sorted");
    let want = [
        "conc/0/00",
        "conc/0/03",
        "conc/0/06",
        "conc/0/09",
        "conc/0/12",
        "conc/0/15",
        "conc/1/01",
        "conc/1/04",
        "conc/1/07",
        "conc/1/10",
        "conc/1/13",
        "conc/2/02",
        "conc/2/05",
        "conc/2/08",
        "conc/2/11",
        "conc/2/14",
        "list/a-c",
        "list/a/x",
        "list/a/y/z",
        "list/ab",
        "list/b",
        "other/q",
        "suite/big",
        "suite/deep/er/still/x",
        "suite/empty",
        "suite/new/dir/pia",
        "suite/one",
        "suite/pia",
        "suite/range",
    ];
    assert_eq!(
        all, want,
        "everything written and not deleted, and nothing else (no temp files)"
    );
    for key in &all {
        assert!(
            key.split('/').all(|s| !s.starts_with(".tmp")),
            "temp file listed: {key}"
        );
    }
}
