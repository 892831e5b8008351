//! Snapshots, the lease and the layout against real parts: a memory log, the folder store on
//! a temporary folder, a projector on disk. A restored projection must answer as the one it
//! was taken from; damaged, partial or foreign generations must be passed over.

use arc_archive::Archive;
use arc_cluster::{
    prune, publish, read_layout_position, restore, series_key, Generation, LayoutWriter, Lease,
    Manifest,
};
use arc_eventlog::{EventLog, MemoryLog, Record};
use arc_index::{parse_qido, IndexRead};
use arc_model::{
    meta_key, Actor, AttrValue, Event, EventEnvelope, IndexAttrs, InstanceStored, Level,
    OverwritePolicy, Source,
};
use arc_objstore::{FolderStore, ObjectStore};
use arc_projector::Projector;
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;

fn attrs(patient: &str, study: &str, series: &str, sop: &str) -> IndexAttrs {
    let t = |vr: &str, v: &str| AttrValue::text(vr, vec![v.to_string()]);
    IndexAttrs::from([
        ("00100020".to_string(), t("LO", patient)),
        ("00100010".to_string(), t("PN", &format!("Doe^{patient}"))),
        ("0020000D".to_string(), t("UI", study)),
        ("0020000E".to_string(), t("UI", series)),
        ("00080018".to_string(), t("UI", sop)),
        ("00080016".to_string(), t("UI", "1.2.840.10008.5.1.4.1.1.2")),
        ("00080060".to_string(), t("CS", "CT")),
    ])
}

/// The event of instance `i`: ten instances per series, two series per study.
fn event(i: usize, meta_sha: &str) -> Bytes {
    let (study, series, sop) = (
        format!("1.2.{}", i / 20),
        format!("1.2.{}.{}", i / 20, i / 10),
        format!("1.2.{}.{}.{i}", i / 20, i / 10),
    );
    let env = EventEnvelope::new(
        Event::InstanceStored(InstanceStored {
            study_uid: study.clone(),
            series_uid: series.clone(),
            sop_instance_uid: sop.clone(),
            sop_class_uid: "1.2.840.10008.5.1.4.1.1.2".into(),
            transfer_syntax: "1.2.840.10008.1.2.1".into(),
            sha256: format!("{i:064x}"),
            meta_sha256: meta_sha.to_string(),
            size: 100,
            source: Source::Stow,
            overwrite: OverwritePolicy::Never,
            attrs: attrs(&format!("P{}", i / 20), &study, &series, &sop),
            coerced: IndexAttrs::new(),
        }),
        Actor::default(),
    );
    Bytes::from(env.to_bytes())
}

struct Rig {
    _dir: tempfile::TempDir,
    root: std::path::PathBuf,
    log: Arc<dyn EventLog>,
    store: Arc<dyn ObjectStore>,
    projector: Projector,
}

impl Rig {
    async fn new() -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let store: Arc<dyn ObjectStore> =
            Arc::new(FolderStore::open(&root.join("objects")).unwrap());
        let projector = Projector::open(&root.join("a/projection")).unwrap();
        Rig {
            _dir: dir,
            root,
            log: Arc::new(MemoryLog::new()),
            store,
            projector,
        }
    }

    /// Appends and applies instances `from..to`.
    async fn add(&self, from: usize, to: usize) {
        let header = serde_json::json!({"00080018": {"vr": "UI", "Value": ["x"]}});
        let packed = zstd::bulk::compress(&serde_json::to_vec(&header).unwrap(), 3).unwrap();
        let meta_sha = arc_objstore::sha256_hex(&packed);
        self.store
            .put(&meta_key(&meta_sha), Bytes::from(packed))
            .await
            .unwrap();
        let seqs = self
            .log
            .append((from..to).map(|i| event(i, &meta_sha)).collect())
            .await
            .unwrap();
        let records = self
            .log
            .read(seqs[0], to - from, Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(
            records.iter().map(|r: &Record| r.seq).collect::<Vec<_>>(),
            seqs
        );
        self.projector.apply_batch(&records).unwrap();
    }

    async fn publish(&self) -> Manifest {
        publish(
            &self.projector,
            &*self.store,
            &self.root.join("a/staging"),
            "node-a",
            0,
        )
        .await
        .unwrap()
        .manifest
    }

    fn folder(&self, key: &str) -> std::path::PathBuf {
        self.root.join("objects").join(key)
    }
}

fn instances(p: &Projector) -> u64 {
    p.index()
        .count(&parse_qido(Level::Instance, &[]).unwrap())
        .unwrap()
}

async fn restore_into(
    rig: &Rig,
    name: &str,
) -> (Option<arc_projector::Restored>, std::path::PathBuf) {
    let dir = rig.root.join(name).join("projection");
    std::fs::create_dir_all(&dir).unwrap();
    let end = rig.log.end().await.unwrap();
    (restore(&*rig.store, &dir, end).await.unwrap(), dir)
}

#[tokio::test]
async fn a_restored_projection_answers_as_the_one_it_was_taken_from() {
    let rig = Rig::new().await;
    rig.add(0, 45).await;
    let m = rig.publish().await;
    assert_eq!(m.position, 45);
    assert!(
        m.files.iter().any(|f| f.path == "state.redb")
            && m.files.iter().any(|f| f.path == "index/meta.json")
    );
    // The staging folder is gone; the manifest's sizes are those of the uploaded objects.
    assert!(!rig.root.join("a/staging").exists());
    for f in &m.files {
        let key = format!("snapshots/{}/{}", m.generation, f.path);
        assert_eq!(rig.store.head(&key).await.unwrap(), Some(f.size), "{key}");
    }
    rig.add(45, 50).await;

    let (restored, dir) = restore_into(&rig, "b").await;
    let restored = restored.expect("a snapshot to restore");
    assert_eq!(
        (restored.generation.as_str(), restored.position),
        (m.generation.as_str(), 45)
    );
    let b = Projector::open(&dir).unwrap();
    assert_eq!(b.applied(), 45);
    assert_eq!(instances(&b), 45);
    // Replaying the tail brings it level with the original.
    b.catch_up(&*rig.log, |_, _| {}).await.unwrap();
    assert_eq!(b.applied(), 50);
    assert_eq!(instances(&b), instances(&rig.projector));
    let q = parse_qido(Level::Study, &[("PatientID".into(), "P2".into())]).unwrap();
    assert_eq!(
        b.index().search(&q).unwrap().hits.len(),
        rig.projector.index().search(&q).unwrap().hits.len()
    );
    assert_eq!(
        b.state().series("1.2.2.4").unwrap(),
        rig.projector.state().series("1.2.2.4").unwrap()
    );
}

#[tokio::test]
async fn a_damaged_newest_generation_is_passed_over_for_an_older_one() {
    let rig = Rig::new().await;
    rig.add(0, 20).await;
    let old = rig.publish().await;
    rig.add(20, 30).await;
    let new = rig.publish().await;
    // Same size, other bytes: only the hash can tell.
    let victim = rig.folder(&format!("snapshots/{}/state.redb", new.generation));
    let mut bytes = std::fs::read(&victim).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&victim, bytes).unwrap();

    let (restored, dir) = restore_into(&rig, "b").await;
    assert_eq!(restored.map(|r| r.generation), Some(old.generation));
    assert_eq!(Projector::open(&dir).unwrap().applied(), 20);
    assert!(
        !dir.with_extension("restoring").exists(),
        "the damaged download is cleaned up"
    );
}

#[tokio::test]
async fn a_generation_without_manifest_or_beyond_the_log_is_not_restored() {
    let rig = Rig::new().await;
    rig.add(0, 10).await;
    let good = rig.publish().await;
    rig.add(10, 25).await;
    // An upload cut short before its manifest: every file there, no manifest.
    let partial = rig.publish().await;
    rig.store
        .delete(&Manifest::key(&partial.generation))
        .await
        .unwrap();
    // A generation from another, longer log.
    let foreign = Generation::new_name(10_000);
    for f in &good.files {
        let bytes = rig
            .store
            .get(&format!("snapshots/{}/{}", good.generation, f.path))
            .await
            .unwrap();
        rig.store
            .put(&format!("snapshots/{foreign}/{}", f.path), bytes)
            .await
            .unwrap();
    }
    let mut m = good.clone();
    m.generation = foreign.clone();
    m.position = 10_000;
    rig.store
        .put(
            &Manifest::key(&foreign),
            Bytes::from(serde_json::to_vec(&m).unwrap()),
        )
        .await
        .unwrap();

    let listed = Generation::list(&*rig.store).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|g| (g.name.as_str(), g.complete))
            .collect::<Vec<_>>(),
        vec![
            (foreign.as_str(), true),
            (partial.generation.as_str(), false),
            (good.generation.as_str(), true),
        ]
    );
    let (restored, _) = restore_into(&rig, "b").await;
    assert_eq!(restored.map(|r| r.generation), Some(good.generation));
}

#[tokio::test]
async fn no_snapshot_leaves_the_folder_empty() {
    let rig = Rig::new().await;
    let (restored, dir) = restore_into(&rig, "b").await;
    assert!(restored.is_none());
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
}

#[tokio::test]
async fn pruning_keeps_the_newest_complete_generations() {
    let rig = Rig::new().await;
    let mut names = Vec::new();
    for k in 0..5 {
        rig.add(k * 3, k * 3 + 3).await;
        names.push(rig.publish().await.generation);
    }
    assert_eq!(prune(&*rig.store, 3).await.unwrap(), 2);
    let left: Vec<String> = Generation::list(&*rig.store)
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.name)
        .collect();
    assert_eq!(left, names[2..].iter().rev().cloned().collect::<Vec<_>>());
    assert!(rig
        .store
        .list(&format!("snapshots/{}/", names[0]))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(prune(&*rig.store, 3).await.unwrap(), 0);
}

#[tokio::test]
async fn one_lease_holder_and_takeover_after_expiry() {
    let rig = Rig::new().await;
    let ttl = Duration::from_millis(600);
    let mut a = Lease::new(rig.store.clone(), "a", ttl);
    let mut b = Lease::new(rig.store.clone(), "b", ttl);
    assert!(
        !a.tick(false).await.unwrap(),
        "a node that may not take does not"
    );
    assert!(a.tick(true).await.unwrap());
    assert!(!b.tick(true).await.unwrap());
    assert!(a.tick(true).await.unwrap(), "renewal");
    // a stops renewing (paused, or dead): b takes over once the lease expired.
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    assert!(!a.held(), "a stops acting before the lease can expire");
    assert!(b.tick(true).await.unwrap());
    assert_eq!(b.current().await.unwrap().unwrap().node_id, "b");
    assert!(
        !a.tick(true).await.unwrap(),
        "a sees b's unexpired lease and steps back"
    );
    b.release().await.unwrap();
    assert!(b.current().await.unwrap().is_none());
    assert!(a.tick(true).await.unwrap());
}

#[tokio::test]
async fn layout_documents_are_written_once_per_change_and_only_forward() {
    let rig = Rig::new().await;
    rig.add(0, 15).await;
    let archive = Archive::new(
        rig.log.clone(),
        rig.store.clone(),
        rig.projector.clone(),
        OverwritePolicy::Never,
        Duration::from_secs(1),
    );
    let w = LayoutWriter::new(
        rig.store.clone(),
        rig.log.clone(),
        rig.projector.state(),
        archive.retrieve(),
    );
    let pass = |p: arc_cluster::Pass| (p.cursor, p.written, p.failed.len());
    assert_eq!(pass(w.pass(0, 15, []).await.unwrap()), (15, 2, 0));
    let key = series_key("1.2.0", "1.2.0.1");
    assert_eq!(
        read_layout_position(&*rig.store, &key).await.unwrap(),
        Some(14)
    );
    let doc = zstd::stream::decode_all(&rig.store.get(&key).await.unwrap()[..]).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&doc).unwrap();
    assert_eq!(
        doc.as_array().unwrap().len(),
        5,
        "the series' five instances"
    );
    // Nothing changed: nothing written. A change to one series: that one only.
    assert_eq!(pass(w.pass(0, 15, []).await.unwrap()), (15, 0, 0));
    rig.add(15, 16).await;
    assert_eq!(pass(w.pass(15, 16, []).await.unwrap()), (16, 1, 0));
    assert_eq!(
        read_layout_position(&*rig.store, &key).await.unwrap(),
        Some(15)
    );
    assert_eq!(
        read_layout_position(&*rig.store, &series_key("1.2.0", "1.2.0.0"))
            .await
            .unwrap(),
        Some(9)
    );
}
