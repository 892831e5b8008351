//! The S3 store against a real S3 server. Start one with `infra/s3/start.sh` and source the
//! `env` file it writes (tests/run does both); a missing variable or a server that does not
//! answer fails every test, saying so. Each test works under its own fresh prefix.

use arc_objstore::{ObjectStore, S3Options, S3Store, StaticCredentials, StoreError, MIN_PART_SIZE};
use bytes::Bytes;
use futures::TryStreamExt;
use std::time::Duration;

const HOW: &str = "start a test S3 server with infra/s3/start.sh and source the env file it writes (tests/run does both)";

/// Bounds a call that must fail by itself (timeouts and retries inside the store); it is a
/// guard against hanging for minutes, not a measurement.
const HANG_GUARD: Duration = Duration::from_secs(90);

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: {HOW}"))
}

/// Options for the test server under a prefix of its own.
fn options(name: &str) -> S3Options {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let prefix = format!("tests/{name}-{}-{nanos}", std::process::id());
    let mut o = S3Options::new(&var("ARCSTREAM_TEST_S3_BUCKET"), &prefix).unwrap();
    o.endpoint = Some(var("ARCSTREAM_TEST_S3_ENDPOINT"));
    o.path_style = Some(true);
    o.region = Some(var("ARCSTREAM_TEST_S3_REGION"));
    o.credentials = Some(StaticCredentials {
        access_key_id: var("ARCSTREAM_TEST_S3_ACCESS_KEY"),
        secret_access_key: var("ARCSTREAM_TEST_S3_SECRET_KEY"),
    });
    o
}

async fn open_with(o: S3Options) -> S3Store {
    let endpoint = o.endpoint.clone().unwrap_or_default();
    S3Store::open(o)
        .await
        .unwrap_or_else(|e| panic!("cannot open the test S3 server at {endpoint}: {e}\n{HOW}"))
}

async fn open(name: &str) -> S3Store {
    open_with(options(name)).await
}

fn pattern(len: usize, seed: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 31 + seed * 7) % 251) as u8)
        .collect()
}

async fn stream_all(store: &S3Store, key: &str) -> (u64, usize, Vec<u8>) {
    let s = store.get_stream(key).await.expect("get_stream");
    let chunks: Vec<Bytes> = s.chunks.try_collect().await.expect("stream chunks");
    (s.size, chunks.len(), chunks.concat())
}

async fn etag(store: &S3Store, key: &str) -> String {
    let head = store
        .client()
        .head_object()
        .bucket(store.bucket())
        .key(store.object_key(key))
        .send()
        .await
        .expect("raw head");
    head.e_tag().expect("etag").trim_matches('"').to_string()
}

fn unavailable(result: Result<S3Store, StoreError>) -> String {
    match result {
        Err(StoreError::Unavailable(m)) => {
            eprintln!("open failed as expected: {m}");
            m
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_suite_with_conditional_writes() {
    let store = open("suite-conditional").await;
    // s3s-fs (infra/s3) answers 412 to If-None-Match: * on an existing key; the probe at
    // open must have found that out.
    assert!(
        store.conditional_put(),
        "the probe should find If-None-Match honoured: {store:?}"
    );
    arc_objstore::testsuite::run(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_suite_with_head_then_put() {
    let store = open_with(S3Options {
        conditional_put: Some(false),
        ..options("suite-head")
    })
    .await;
    assert!(!store.conditional_put());
    arc_objstore::testsuite::run(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_files_go_up_in_parts_and_read_back_ranged_and_streamed() {
    let store = open_with(S3Options {
        part_size: MIN_PART_SIZE,
        ..options("multipart")
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.bin");
    let part = MIN_PART_SIZE as usize;
    let big = pattern(2 * part + 12_345, 1);
    std::fs::write(&path, &big).unwrap();

    store
        .put_file("big/one", &path)
        .await
        .expect("multipart put_file");
    // S3's ETag of a multipart object is the MD5 of the parts' MD5s, then "-" and the part count.
    assert!(
        etag(&store, "big/one").await.ends_with("-3"),
        "not a 3-part upload: {}",
        etag(&store, "big/one").await
    );
    assert_eq!(store.head("big/one").await.unwrap(), Some(big.len() as u64));
    assert!(
        store.get("big/one").await.unwrap() == big,
        "whole read equals the file"
    );

    let (size, chunks, bytes) = stream_all(&store, "big/one").await;
    assert_eq!(size, big.len() as u64, "size known up front");
    assert!(bytes == big, "streamed bytes equal the file");
    assert!(
        chunks > 1,
        "a {size}-byte object streamed in {chunks} chunk(s)"
    );

    let n = big.len() as u64;
    let p = part as u64;
    for range in [
        0..1,
        p - 10..p + 10,
        2 * p - 1..2 * p + 1,
        n - 5..n,
        100..n + 100,
        n..n + 1,
        3..3,
    ] {
        let got = store
            .get_range("big/one", range.clone())
            .await
            .expect("range");
        let want = &big[(range.start.min(n) as usize)
            ..(range.end.min(n) as usize).max(range.start.min(n) as usize)];
        assert!(
            got == want,
            "range {range:?}: {} bytes, want {}",
            got.len(),
            want.len()
        );
    }

    // A single-part file (at most one part) is one PUT.
    let small = pattern(1000, 2);
    std::fs::write(&path, &small).unwrap();
    store.put_file("big/small", &path).await.unwrap();
    assert!(
        !etag(&store, "big/small").await.contains('-'),
        "one PUT, no parts"
    );
    assert_eq!(store.get("big/small").await.unwrap(), small);
}

/// `put_if_absent` and `put_file_if_absent` (multipart included) keep the first object and
/// write a new one, with conditional writes and with head-then-put.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_if_absent_both_ways_in_both_modes() {
    let dir = tempfile::tempdir().unwrap();
    let first = pattern(2 * MIN_PART_SIZE as usize + 1, 3);
    let other = pattern(2 * MIN_PART_SIZE as usize + 1, 4);
    let (first_path, other_path) = (dir.path().join("first"), dir.path().join("other"));
    std::fs::write(&first_path, &first).unwrap();
    std::fs::write(&other_path, &other).unwrap();
    for conditional in [true, false] {
        let name = if conditional {
            "pia-conditional"
        } else {
            "pia-head"
        };
        let o = S3Options {
            part_size: MIN_PART_SIZE,
            conditional_put: Some(conditional),
            ..options(name)
        };
        let store = open_with(o).await;

        assert!(
            store
                .put_if_absent("k", Bytes::from_static(b"first"))
                .await
                .unwrap(),
            "{name}: absent writes"
        );
        assert!(
            !store
                .put_if_absent("k", Bytes::from_static(b"second"))
                .await
                .unwrap(),
            "{name}: present skips"
        );
        assert_eq!(
            store.get("k").await.unwrap(),
            Bytes::from_static(b"first"),
            "{name}: first kept"
        );

        assert!(
            store.put_file_if_absent("f", &first_path).await.unwrap(),
            "{name}: file absent writes"
        );
        assert!(
            !store.put_file_if_absent("f", &other_path).await.unwrap(),
            "{name}: file present skips"
        );
        assert!(
            store.get("f").await.unwrap() == first,
            "{name}: first file kept"
        );
        assert!(
            etag(&store, "f").await.ends_with("-3"),
            "{name}: file went up in parts"
        );

        // put_if_absent asks no HEAD first when writes are conditional: the server itself
        // must refuse to overwrite.
        if conditional {
            store.put("g", Bytes::from_static(b"there")).await.unwrap();
            assert!(!store
                .put_if_absent("g", Bytes::from_static(b"not"))
                .await
                .unwrap());
            assert_eq!(store.get("g").await.unwrap(), Bytes::from_static(b"there"));
        }
        assert_eq!(
            store.list("").await.unwrap(),
            if conditional {
                vec!["f", "g", "k"]
            } else {
                vec!["f", "k"]
            }
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefixes_keep_stores_apart_and_probes_leave_nothing() {
    let a = open("prefix-a").await;
    let b = open("prefix-b").await;
    a.put("x/1", Bytes::from_static(b"a")).await.unwrap();
    b.put("x/1", Bytes::from_static(b"b")).await.unwrap();
    assert_eq!(a.get("x/1").await.unwrap(), Bytes::from_static(b"a"));
    assert_eq!(b.get("x/1").await.unwrap(), Bytes::from_static(b"b"));
    assert_eq!(a.list("").await.unwrap(), ["x/1"]);
    // In the bucket the key sits under the prefix, and the open-time probe object is gone.
    let raw = a
        .client()
        .list_objects_v2()
        .bucket(a.bucket())
        .prefix(a.object_key(""))
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = raw.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, [a.object_key("x/1")]);
    // Keys that would name the store's own probe objects are refused.
    assert!(matches!(
        a.put(".tmp-x", Bytes::new()).await,
        Err(StoreError::InvalidKey(..))
    ));
}

#[tokio::test]
async fn an_unknown_bucket_fails_at_open_saying_so() {
    let o = S3Options {
        bucket: "no-such-bucket-arcstream".into(),
        ..options("nobucket")
    };
    let msg = unavailable(
        tokio::time::timeout(HANG_GUARD, S3Store::open(o))
            .await
            .expect("hung"),
    );
    assert!(
        msg.contains("no such bucket") && msg.contains("no-such-bucket-arcstream"),
        "{msg}"
    );
}

#[tokio::test]
async fn wrong_credentials_fail_at_open_saying_so() {
    let mut o = options("badcreds");
    o.credentials = Some(StaticCredentials {
        access_key_id: "arcstream-test".into(),
        secret_access_key: "wrong".into(),
    });
    let msg = unavailable(
        tokio::time::timeout(HANG_GUARD, S3Store::open(o))
            .await
            .expect("hung"),
    );
    assert!(
        msg.contains("403") && msg.contains("check the credentials"),
        "{msg}"
    );
}

#[tokio::test]
async fn a_dead_endpoint_fails_at_open_saying_so() {
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let o = S3Options {
        endpoint: Some(format!("http://127.0.0.1:{port}")),
        ..options("dead")
    };
    let msg = unavailable(
        tokio::time::timeout(HANG_GUARD, S3Store::open(o))
            .await
            .expect("hung"),
    );
    assert!(
        msg.contains("cannot connect") && msg.contains(&port.to_string()),
        "{msg}"
    );
}

#[tokio::test]
async fn a_silent_endpoint_times_out() {
    // Accepts connections and never answers: only the read timeout can end a request.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut conns = Vec::new();
        while let Ok((c, _)) = listener.accept().await {
            conns.push(c);
        }
    });
    let o = S3Options {
        endpoint: Some(format!("http://127.0.0.1:{port}")),
        read_timeout: Duration::from_secs(1),
        ..options("silent")
    };
    let msg = unavailable(
        tokio::time::timeout(HANG_GUARD, S3Store::open(o))
            .await
            .expect("hung"),
    );
    assert!(
        msg.contains("no answer in time") || msg.contains("timed out"),
        "{msg}"
    );
    held.abort();
}
