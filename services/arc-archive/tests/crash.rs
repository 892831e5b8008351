//! Crash safety of the whole write path on the embedded default: the file log and the folder
//! store share one simulated filesystem that, at a crash point the test chooses, loses every
//! write, rename and folder entry not yet fsynced. After each crash: the log reopens (a torn
//! tail is cut), every acknowledged instance is found and its bytes come back, and no event
//! references a missing blob.

use arc_archive::{Archive, PartResult, StoreRequest};
use arc_eventlog::{EventLog, FileLog, FileLogOptions};
use arc_fs::{Fs, SimFs};
use arc_index::{parse_qido, IndexRead};
use arc_model::{blob_key, meta_key, Actor, Event, EventEnvelope, Level, OverwritePolicy, Source};
use arc_objstore::{FolderStore, ObjectStore};
use arc_projector::Projector;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const FILES: &[&str] = &[
    "CT_small.dcm",
    "MR_small.dcm",
    "rtplan.dcm",
    "waveform_ecg.dcm",
    "reportsi.dcm",
    "examples_palette.dcm",
];

fn fixture(name: &str) -> Bytes {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/pydicom")
        .join(name);
    Bytes::from(std::fs::read(path).expect("fixture"))
}

fn open(fs: &Arc<SimFs>) -> (Arc<dyn EventLog>, Arc<dyn ObjectStore>) {
    let fs: Arc<dyn Fs> = fs.clone();
    let opts = FileLogOptions {
        segment_bytes: 4096,
        ..FileLogOptions::default()
    };
    let (log, _) = FileLog::open_with(fs.clone(), Path::new("/data/log"), opts)
        .expect("log opens after a crash");
    let store = FolderStore::open_with(fs, Path::new("/data/objects")).expect("store opens");
    (Arc::new(log), Arc::new(store))
}

/// Stores the fixtures in three concurrent requests; returns SOP Instance UID → bytes of
/// every instance whose store was acknowledged.
async fn workload(archive: &Archive, files: &[(String, Bytes)]) -> BTreeMap<String, Bytes> {
    let requests = files.chunks(2).map(|chunk| {
        let archive = archive.clone();
        let parts: Vec<Bytes> = chunk.iter().map(|(_, b)| b.clone()).collect();
        async move {
            let req = StoreRequest {
                parts: parts.clone(),
                study_uid: None,
                actor: Actor::default(),
                source: Source::Stow,
            };
            (parts, archive.store(req).await)
        }
    });
    let mut acked = BTreeMap::new();
    for (parts, result) in futures::future::join_all(requests).await {
        let Ok(report) = result else { continue };
        for (part, r) in parts.into_iter().zip(report.results) {
            if let PartResult::Stored {
                sop_instance_uid, ..
            } = r
            {
                acked.insert(sop_instance_uid, part);
            }
        }
    }
    acked
}

async fn check_after_restart(fs: &Arc<SimFs>, acked: &BTreeMap<String, Bytes>) {
    let (log, store) = open(fs);
    let dir = tempfile::tempdir().unwrap();
    let projector = Projector::open(dir.path()).unwrap();
    projector.catch_up(&*log, |_, _| {}).await.unwrap();
    let state = projector.state();
    for (sop, bytes) in acked {
        let rec = state
            .instance(sop)
            .unwrap()
            .unwrap_or_else(|| panic!("acknowledged {sop} lost"));
        assert_eq!(
            &store.get(&blob_key(&rec.sha256)).await.unwrap(),
            bytes,
            "{sop}"
        );
        let q = parse_qido(Level::Instance, &[("SOPInstanceUID".into(), sop.clone())]).unwrap();
        assert_eq!(
            projector.index().count(&q).unwrap(),
            1,
            "{sop} not found by QIDO"
        );
    }
    // Blobs first, then the event: every event names blobs that exist.
    let end = log.end().await.unwrap();
    for rec in log.read(0, end as usize + 1, Duration::ZERO).await.unwrap() {
        let Event::InstanceStored(e) = EventEnvelope::from_bytes(&rec.data).unwrap().event;
        assert_eq!(
            store.head(&blob_key(&e.sha256)).await.unwrap(),
            Some(e.size),
            "event {} without its blob",
            rec.seq
        );
        assert!(
            store
                .head(&meta_key(&e.meta_sha256))
                .await
                .unwrap()
                .is_some(),
            "event {} without its header",
            rec.seq
        );
    }
    // And the archive takes writes again.
    let archive = Archive::new(
        log.clone(),
        store,
        projector.clone(),
        OverwritePolicy::Never,
        Duration::from_secs(5),
    );
    let runner = tokio::spawn(projector.run(log));
    let req = StoreRequest {
        parts: vec![fixture("MR_small.dcm")],
        study_uid: None,
        actor: Actor::default(),
        source: Source::Stow,
    };
    assert!(archive.store(req).await.is_ok());
    runner.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_crash_point_keeps_every_acknowledged_instance() {
    let files: Vec<(String, Bytes)> = FILES.iter().map(|n| (n.to_string(), fixture(n))).collect();
    // Measure the workload's length in filesystem operations once, then crash at points across it.
    let total = {
        let fs = SimFs::new();
        let (log, store) = open(&fs);
        let dir = tempfile::tempdir().unwrap();
        let projector = Projector::open(dir.path()).unwrap();
        let runner = tokio::spawn(projector.clone().run(log.clone()));
        let start = fs.ops();
        let archive = Archive::new(
            log,
            store,
            projector,
            OverwritePolicy::Never,
            Duration::from_secs(5),
        );
        let acked = workload(&archive, &files).await;
        assert_eq!(
            acked.len(),
            files.len(),
            "without a crash everything is stored"
        );
        runner.abort();
        fs.ops() - start
    };
    assert!(
        total > 20,
        "workload too small to crash inside: {total} ops"
    );
    let step = (total / 60).max(1);
    let mut crashed_mid_way = 0;
    for k in (0..=total).step_by(step as usize) {
        let fs = SimFs::new();
        let (log, store) = open(&fs);
        let dir = tempfile::tempdir().unwrap();
        let projector = Projector::open(dir.path()).unwrap();
        let runner = tokio::spawn(projector.clone().run(log.clone()));
        fs.crash_after(k);
        let archive = Archive::new(
            log,
            store,
            projector,
            OverwritePolicy::Never,
            Duration::from_millis(500),
        );
        let acked = workload(&archive, &files).await;
        runner.abort();
        drop(archive);
        if !acked.is_empty() && acked.len() < files.len() {
            crashed_mid_way += 1;
        }
        check_after_restart(&fs.restart(k % 2 == 0), &acked).await;
    }
    assert!(
        crashed_mid_way > 0,
        "no crash point fell between acknowledged writes"
    );
}
