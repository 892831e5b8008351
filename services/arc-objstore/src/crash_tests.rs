//! Crash tests own the proof that the folder store keeps every acknowledged write across a
//! simulated power loss at every point of a workload (`arc_fs::SimFs`).
//!
//! The model: for each key, the set of states a reopened store may show. An acknowledged
//! write pins the state; a failed write adds its outcome to the allowed set (it may have
//! happened or not), and nothing else is ever allowed: no partial object, no temp file.

use crate::{FolderStore, ObjectStore, StoreError, TEMP_PREFIX};
use arc_fs::{Fs, SimFs};
use bytes::Bytes;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

const ROOT: &str = "/data/store";

#[derive(Clone)]
enum Op {
    Put(&'static str, Bytes),
    PutIfAbsent(&'static str, Bytes),
    Delete(&'static str),
}

fn value(tag: &str, len: usize) -> Bytes {
    let seed = tag
        .bytes()
        .fold(7u8, |a, b| a.wrapping_mul(31).wrapping_add(b));
    (0..len)
        .map(|i| seed.wrapping_add((i % 251) as u8))
        .collect::<Vec<u8>>()
        .into()
}

/// Puts into new nested folders, into existing ones, overwrites, put_if_absent both ways,
/// an empty object, a larger object and a delete.
fn workload() -> Vec<Op> {
    use Op::*;
    vec![
        Put("a", value("a1", 10)),
        Put("blobs/sha256/ab/abc.dcm", value("abc", 300)),
        Put("blobs/sha256/ab/abd.dcm", value("abd", 301)),
        Put("blobs/sha256/cd/cde.dcm", value("cde", 302)),
        Put("a", value("a2", 20)),
        PutIfAbsent("meta/sha256/ab/abc.json.zst", value("meta", 40)),
        PutIfAbsent("a", value("a3", 30)),
        Put("empty", Bytes::new()),
        Delete("blobs/sha256/ab/abd.dcm"),
        Put("big", value("big", 100 * 1024)),
        Put("deep/er/and/deeper/k", value("deep", 5)),
        Put("blobs/sha256/ab/abd.dcm", value("abd2", 303)),
    ]
}

/// Allowed states per key (`None` = absent).
type Model = BTreeMap<String, Vec<Option<Bytes>>>;

fn allow(model: &mut Model, key: &str, state: Option<Bytes>, acknowledged: bool) {
    let states = model.entry(key.to_string()).or_insert_with(|| vec![None]);
    if acknowledged {
        states.clear();
    }
    if !states.contains(&state) {
        states.push(state);
    }
}

async fn apply(store: &FolderStore, op: Op, model: &mut Model) {
    match op {
        Op::Put(key, data) => {
            let ok = store.put(key, data.clone()).await.is_ok();
            allow(model, key, Some(data), ok);
        }
        Op::PutIfAbsent(key, data) => match store.put_if_absent(key, data.clone()).await {
            Ok(true) => allow(model, key, Some(data), true),
            // `false` promises the existing object is durable: absence is no longer allowed.
            Ok(false) => model
                .entry(key.to_string())
                .or_insert_with(|| vec![None])
                .retain(Option::is_some),
            Err(_) => allow(model, key, Some(data), false),
        },
        Op::Delete(key) => {
            let ok = store.delete(key).await.is_ok();
            allow(model, key, None, ok);
        }
    }
}

/// Reopens the store on the restarted filesystem and checks it against the model.
async fn check_after_restart(fs: Arc<SimFs>, model: &Model, what: &str) {
    let store = FolderStore::open_with(fs.clone(), Path::new(ROOT))
        .unwrap_or_else(|e| panic!("{what}: reopen failed: {e}"));
    let listed = store
        .list("")
        .await
        .unwrap_or_else(|e| panic!("{what}: list: {e}"));
    for key in &listed {
        assert!(
            model.contains_key(key),
            "{what}: unknown object {key} listed"
        );
        assert!(
            !key.contains(TEMP_PREFIX),
            "{what}: temp file listed: {key}"
        );
    }
    for (key, allowed) in model {
        let state = match store.get(key).await {
            Ok(data) => Some(data),
            Err(StoreError::NotFound(_)) => None,
            Err(e) => panic!("{what}: get {key}: {e}"),
        };
        assert!(
            allowed.contains(&state),
            "{what}: {key} is {:?} bytes, allowed {:?}",
            state.as_ref().map(Bytes::len),
            allowed
                .iter()
                .map(|s| s.as_ref().map(Bytes::len))
                .collect::<Vec<_>>()
        );
        assert_eq!(
            listed.contains(key),
            state.is_some(),
            "{what}: list and get disagree on {key}"
        );
        let size = store
            .head(key)
            .await
            .unwrap_or_else(|e| panic!("{what}: head {key}: {e}"));
        assert_eq!(
            size,
            state.as_ref().map(|d| d.len() as u64),
            "{what}: head {key}"
        );
    }
    // Every file under the root is an object the model allows or a temp file; nothing else.
    let mut stack = vec![Path::new(ROOT).to_path_buf()];
    while let Some(dir) = stack.pop() {
        for name in fs
            .list_dir(&dir)
            .unwrap_or_else(|e| panic!("{what}: list_dir: {e}"))
        {
            let path = dir.join(&name);
            if fs.is_dir(&path) {
                stack.push(path);
            } else if !name.starts_with(TEMP_PREFIX) {
                let key = path
                    .strip_prefix(ROOT)
                    .map(|p| p.to_string_lossy().into_owned());
                assert!(
                    key.is_ok_and(|k| listed.contains(&k)),
                    "{what}: stray file {path:?}"
                );
            }
        }
    }
    // Leftovers of the crash do not get in the way of new writes.
    store
        .put("after/crash", Bytes::from_static(b"ok"))
        .await
        .expect("put after restart");
    assert_eq!(
        store.get("after/crash").await.expect("get after restart"),
        &b"ok"[..]
    );
}

/// Runs the workload with a crash after `crash_after` mutating ops (none if `None`) and
/// returns the number of ops it made and the model of allowed states.
async fn run_workload(fs: &Arc<SimFs>, crash_after: Option<u64>) -> (u64, Model) {
    let store = FolderStore::open_with(fs.clone(), Path::new(ROOT)).expect("open");
    let start = fs.ops();
    if let Some(k) = crash_after {
        fs.crash_after(k);
    }
    let mut model = Model::new();
    for op in workload() {
        apply(&store, op, &mut model).await;
    }
    (fs.ops() - start, model)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folder_store_on_simfs_passes_the_conformance_suite() {
    let fs = SimFs::new();
    let store = FolderStore::open_with(fs.clone(), Path::new(ROOT)).expect("open");
    crate::testsuite::run(&store).await;
    // Everything the suite left is durable.
    let after = FolderStore::open_with(fs.restart(false), Path::new(ROOT)).expect("reopen");
    assert_eq!(after.list("").await.unwrap(), store.list("").await.unwrap());
    assert_eq!(after.get("suite/big").await.unwrap().len(), 5 * 1024 * 1024);
}

#[tokio::test]
async fn every_acknowledged_put_survives_a_crash_at_every_point() {
    let fs = SimFs::new();
    let (total, model) = run_workload(&fs, None).await;
    assert!(
        model.values().all(|s| s.len() == 1),
        "without a crash every op is acknowledged"
    );
    check_after_restart(fs.restart(false), &model, "no crash").await;
    assert!(total > 50, "the workload makes many mutating ops ({total})");

    for k in 0..=total {
        for torn in [false, true] {
            let fs = SimFs::new();
            let (_, model) = run_workload(&fs, Some(k)).await;
            let what = format!("crash after {k} of {total} ops, torn tail {torn}");
            check_after_restart(fs.restart(torn), &model, &what).await;
        }
    }
}

/// Concurrent puts into shared new folders: a put must not trust a folder another put
/// created but has not made durable yet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_puts_into_new_folders_survive_a_crash_at_every_point() {
    const KEYS: [&str; 8] = [
        "x/1/a", "x/1/b", "x/2/a", "x/2/b", "y/a", "y/b", "x/1/c", "z",
    ];
    let run = |fs: Arc<SimFs>, crash_after: Option<u64>| async move {
        let store = FolderStore::open_with(fs.clone(), Path::new(ROOT)).expect("open");
        let start = fs.ops();
        if let Some(k) = crash_after {
            fs.crash_after(k);
        }
        let puts = KEYS.into_iter().map(|key| {
            let store = store.clone();
            tokio::spawn(async move { store.put(key, value(key, 64)).await.is_ok() })
        });
        let mut model = Model::new();
        for (key, put) in KEYS.iter().zip(puts.collect::<Vec<_>>()) {
            let ok = put.await.expect("join");
            allow(&mut model, key, Some(value(key, 64)), ok);
        }
        (fs.ops() - start, model)
    };
    let (total, _) = run(SimFs::new(), None).await;
    // Interleavings differ between runs, so go a little past one run's count.
    for k in 0..total + 8 {
        for round in 0..3 {
            let fs = SimFs::new();
            let (_, model) = run(fs.clone(), Some(k)).await;
            let what = format!("concurrent, crash after {k} ops, round {round}");
            check_after_restart(fs.restart(false), &model, &what).await;
        }
    }
}
