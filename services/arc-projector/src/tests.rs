//! Projector unit tests: verdicts, aggregates and recovery from a lagging index or state.

use super::*;
use arc_index::{parse_qido, IndexRead, QidoQuery};
use arc_model::{
    Actor, AttrValue, Event, IndexAttrs, InstanceStored, Level, OverwritePolicy, Source,
};
use bytes::Bytes;

fn attrs(patient: &str, study: &str, series: &str, sop: &str, modality: &str) -> IndexAttrs {
    let t = |vr: &str, v: &str| AttrValue::text(vr, vec![v.to_string()]);
    IndexAttrs::from([
        ("00100020".to_string(), t("LO", patient)),
        ("00100010".to_string(), t("PN", &format!("Doe^{patient}"))),
        ("0020000D".to_string(), t("UI", study)),
        ("0020000E".to_string(), t("UI", series)),
        ("00080018".to_string(), t("UI", sop)),
        ("00080016".to_string(), t("UI", "1.2.840.10008.5.1.4.1.1.2")),
        ("00080060".to_string(), t("CS", modality)),
    ])
}

fn stored(
    study: &str,
    series: &str,
    sop: &str,
    sha: &str,
    modality: &str,
    overwrite: OverwritePolicy,
) -> EventEnvelope {
    EventEnvelope::new(
        Event::InstanceStored(InstanceStored {
            study_uid: study.into(),
            series_uid: series.into(),
            sop_instance_uid: sop.into(),
            sop_class_uid: "1.2.840.10008.5.1.4.1.1.2".into(),
            transfer_syntax: "1.2.840.10008.1.2.1".into(),
            sha256: sha.repeat(64 / sha.len()),
            meta_sha256: "00".repeat(32),
            size: 100,
            source: Source::Stow,
            overwrite,
            attrs: attrs("P1", study, series, sop, modality),
            coerced: IndexAttrs::new(),
        }),
        Actor::default(),
    )
}

fn records(from: u64, envs: &[EventEnvelope]) -> Vec<Record> {
    envs.iter()
        .enumerate()
        .map(|(i, e)| Record {
            seq: from + i as u64,
            data: Bytes::from(e.to_bytes()),
        })
        .collect()
}

fn q(level: Level, params: &[(&str, &str)]) -> QidoQuery {
    let p: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    parse_qido(level, &p).unwrap()
}

#[test]
fn verdicts_and_counts_follow_log_order() {
    let dir = tempfile::tempdir().unwrap();
    let p = Projector::open(dir.path()).unwrap();
    let e = [
        stored("1.1", "1.1.1", "1.1.1.1", "a", "CT", OverwritePolicy::Never),
        stored("1.1", "1.1.1", "1.1.1.2", "b", "CT", OverwritePolicy::Never),
        stored("1.1", "1.1.2", "1.1.2.1", "c", "SR", OverwritePolicy::Never),
        stored("1.1", "1.1.1", "1.1.1.1", "a", "CT", OverwritePolicy::Never), // same bytes
        stored("1.1", "1.1.1", "1.1.1.2", "d", "CT", OverwritePolicy::Never), // different bytes
        stored("1.2", "1.1.1", "1.2.1.1", "e", "CT", OverwritePolicy::Never), // series of another study
    ];
    assert_eq!(p.apply_batch(&records(0, &e)).unwrap(), 6);
    let s = p.state();
    assert_eq!(
        s.outcome(&e[0].id.to_string()).unwrap(),
        Some(Outcome::Stored { seq: 0 })
    );
    assert_eq!(
        s.outcome(&e[3].id.to_string()).unwrap(),
        Some(Outcome::Unchanged { seq: 0 })
    );
    assert!(matches!(
        s.outcome(&e[4].id.to_string()).unwrap(),
        Some(Outcome::Refused { status: 0x0111, .. })
    ));
    assert!(matches!(
        s.outcome(&e[5].id.to_string()).unwrap(),
        Some(Outcome::Refused { status: 0xC409, .. })
    ));
    let study = s.study("1.1").unwrap().unwrap();
    assert_eq!((study.series, study.instances), (2, 3));
    assert_eq!(
        study.modalities.iter().cloned().collect::<Vec<_>>(),
        vec!["CT", "SR"]
    );
    let page = p.index().search(&q(Level::Study, &[])).unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(page.hits[0]["00201208"].values, vec!["3"]);
    assert_eq!(
        p.index()
            .count(&q(Level::Instance, &[("StudyInstanceUID", "1.1")]))
            .unwrap(),
        3
    );
    assert_eq!(
        s.instance("1.1.1.2").unwrap().unwrap().sha256,
        "b".repeat(64)
    );
}

#[test]
fn overwrite_always_replaces_and_moves_aggregates() {
    let dir = tempfile::tempdir().unwrap();
    let p = Projector::open(dir.path()).unwrap();
    let e = [
        stored("1.1", "1.1.1", "9", "a", "CT", OverwritePolicy::Always),
        stored("1.1", "1.1.2", "9", "b", "MR", OverwritePolicy::Always),
    ];
    p.apply_batch(&records(0, &e)).unwrap();
    assert_eq!(
        p.state().outcome(&e[1].id.to_string()).unwrap(),
        Some(Outcome::Replaced { seq: 1 })
    );
    let study = p.state().study("1.1").unwrap().unwrap();
    assert_eq!((study.series, study.instances), (1, 1));
    assert_eq!(
        study.modalities.iter().cloned().collect::<Vec<_>>(),
        vec!["MR"]
    );
    assert!(p.state().series("1.1.1").unwrap().is_none());
    assert_eq!(p.index().count(&q(Level::Series, &[])).unwrap(), 1);
}

#[test]
fn a_retried_event_id_applies_once_and_reopen_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let e = stored("1.1", "1.1.1", "1", "a", "CT", OverwritePolicy::Never);
    {
        let p = Projector::open(dir.path()).unwrap();
        p.apply_batch(&records(0, &[e.clone(), e.clone()])).unwrap();
        assert_eq!(p.state().study("1.1").unwrap().unwrap().instances, 1);
    }
    let p = Projector::open(dir.path()).unwrap();
    assert_eq!(p.applied(), 2);
    assert_eq!(p.index().count(&q(Level::Instance, &[])).unwrap(), 1);
}

#[test]
fn coerced_attributes_reach_the_index_and_the_record_but_not_the_event_attrs() {
    let dir = tempfile::tempdir().unwrap();
    let p = Projector::open(dir.path()).unwrap();
    let mut e = stored("1.1", "1.1.1", "1", "a", "CT", OverwritePolicy::Never);
    let Event::InstanceStored(ref mut payload) = e.event;
    payload.coerced = IndexAttrs::from([
        (
            "00100010".to_string(),
            AttrValue::text("PN", vec!["Coerced^Name".into()]),
        ),
        (
            "00100020".to_string(),
            AttrValue::text("LO", vec!["NEWID".into()]),
        ),
        (
            "00181000".to_string(),
            AttrValue::text("LO", vec!["SERIAL".into()]),
        ),
    ]);
    e.version = e.event.version();
    assert_eq!(e.version, 2);
    // the same bytes with another coercion are another object; with the same, nothing changes
    let same = EventEnvelope::new(e.event.clone(), Actor::default());
    let plain = stored("1.1", "1.1.1", "1", "a", "CT", OverwritePolicy::Never);
    p.apply_batch(&records(0, &[e.clone(), same.clone(), plain.clone()]))
        .unwrap();
    let s = p.state();
    assert_eq!(
        s.outcome(&same.id.to_string()).unwrap(),
        Some(Outcome::Unchanged { seq: 0 })
    );
    assert!(matches!(
        s.outcome(&plain.id.to_string()).unwrap(),
        Some(Outcome::Refused { status: 0x0111, .. })
    ));
    let rec = s.instance("1").unwrap().unwrap();
    assert_eq!(
        rec.overrides().attrs.len(),
        3,
        "every coerced attribute is merged on retrieve"
    );
    assert!(rec.modified > 0);
    let page = p
        .index()
        .search(&q(Level::Study, &[("PatientName", "Coerced^Name")]))
        .unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(page.hits[0]["00100020"].values, vec!["NEWID"]);
    assert!(
        p.state().patient("NEWID").unwrap().is_some(),
        "the patient key follows the coerced Patient ID"
    );
    assert_eq!(
        p.index()
            .count(&q(Level::Study, &[("PatientName", "Doe^P1")]))
            .unwrap(),
        0
    );
}

#[test]
fn a_copy_landing_after_other_events_is_ignored_the_same_way_in_any_batching() {
    // Kafka may store a retried append twice, with other events between the copies. Applying
    // the late copy again would undo the replacement in between.
    let first = stored("1.1", "1.1.1", "9", "a", "CT", OverwritePolicy::Always);
    let second = stored("1.1", "1.1.1", "9", "b", "CT", OverwritePolicy::Always);
    let log = records(0, &[first.clone(), second.clone(), first.clone()]);

    let one_by_one = tempfile::tempdir().unwrap();
    let p = Projector::open(one_by_one.path()).unwrap();
    for rec in &log {
        p.apply_batch(std::slice::from_ref(rec)).unwrap();
    }
    let together = tempfile::tempdir().unwrap();
    let q2 = Projector::open(together.path()).unwrap();
    q2.apply_batch(&log).unwrap();

    for p in [&p, &q2] {
        assert_eq!(p.applied(), 3, "the copy still moves the position");
        let s = p.state();
        assert_eq!(
            s.instance("9").unwrap().unwrap().sha256,
            "b".repeat(64),
            "the copy must not bring the old bytes back"
        );
        assert_eq!(
            s.outcome(&first.id.to_string()).unwrap(),
            Some(Outcome::Stored { seq: 0 }),
            "the first copy's verdict stands"
        );
        assert_eq!(
            s.outcome(&second.id.to_string()).unwrap(),
            Some(Outcome::Replaced { seq: 1 })
        );
        let study = s.study("1.1").unwrap().unwrap();
        assert_eq!((study.series, study.instances, study.size), (1, 1, 100));
        assert_eq!(p.index().count(&q(Level::Instance, &[])).unwrap(), 1);
    }
}
