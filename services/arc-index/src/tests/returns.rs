//! Return-key tests (PS3.18 10.6.3.3): defaults per level, upper levels for unscoped
//! searches, match keys, includefield.

use super::{fixture, query};
use crate::{default_return_tags, select_return, IndexRead, QidoQuery};
use arc_model::Level::{self, Instance, Patient, Series, Study};

/// Keywords returned for the first hit of `q`.
fn returned(ix: &impl IndexRead, q: &QidoQuery) -> Vec<&'static str> {
    let page = ix.search(q).unwrap();
    let hit = page.hits.first().expect("a hit");
    select_return(q.level, hit, q)
        .keys()
        .map(|tag| {
            arc_model::dictionary::lookup(tag)
                .map_or_else(|| panic!("unknown {tag}"), |e| e.keyword)
        })
        .collect()
}

#[test]
fn default_tags_are_known_and_carry_the_uids_above() {
    for level in [Patient, Study, Series, Instance] {
        for tag in default_return_tags(level) {
            assert!(arc_model::dictionary::lookup(tag).is_some(), "{tag}");
        }
    }
    assert!(default_return_tags(Series).contains(&"0020000D"));
    assert!(default_return_tags(Instance).contains(&"0020000D"));
    assert!(default_return_tags(Instance).contains(&"0020000E"));
}

#[test]
fn study_defaults_match_keys_and_includefield() {
    let (_d, ix) = fixture();
    let q = query(Level::Study, &[("AccessionNumber", "ACC1")]);
    let r = returned(&ix, &q);
    for k in [
        "StudyDate",
        "StudyTime",
        "AccessionNumber",
        "ModalitiesInStudy",
        "PatientName",
    ] {
        assert!(r.contains(&k), "{k} in {r:?}");
    }
    for k in [
        "StudyDescription",
        "NameOfPhysiciansReadingStudy",
        "SOPClassesInStudy",
    ] {
        assert!(!r.contains(&k), "{k} in {r:?}");
    }
    // A universal match key is returned (PS3.18 10.6.3.3.1).
    let q = query(
        Study,
        &[("AccessionNumber", "ACC1"), ("StudyDescription", "")],
    );
    assert!(returned(&ix, &q).contains(&"StudyDescription"));
    for include in [
        "StudyDescription",
        "00081030",
        "StudyDescription,SOPClassesInStudy",
    ] {
        let q = query(
            Study,
            &[("AccessionNumber", "ACC1"), ("includefield", include)],
        );
        assert!(returned(&ix, &q).contains(&"StudyDescription"), "{include}");
    }
    let q = query(
        Study,
        &[("AccessionNumber", "ACC1"), ("includefield", "all")],
    );
    assert!(q.include_all);
    let r = returned(&ix, &q);
    assert!(r.contains(&"NameOfPhysiciansReadingStudy") && r.contains(&"SOPClassesInStudy"));
}

#[test]
fn series_returns_study_attributes_only_when_unscoped() {
    let (_d, ix) = fixture();
    let q = query(Series, &[("SeriesInstanceUID", "1.2.3.1.1")]);
    let r = returned(&ix, &q);
    for k in [
        "Modality",
        "SeriesNumber",
        "RequestAttributesSequence",
        "StudyInstanceUID",
        "StudyDate",
        "PatientID",
    ] {
        assert!(r.contains(&k), "{k} in {r:?}");
    }
    assert!(r.contains(&"SeriesDescription") && !r.contains(&"BodyPartExamined"));
    let r = returned(&ix, &q.clone().with_study("1.2.3.1"));
    assert!(r.contains(&"StudyInstanceUID") && r.contains(&"Modality"));
    assert!(
        !r.contains(&"StudyDate") && !r.contains(&"PatientID"),
        "{r:?}"
    );
    // includefield of a study attribute is honoured; of an instance attribute it is not.
    let q =
        query(Series, &[("includefield", "StudyDescription,SOPClassUID")]).with_study("1.2.3.1");
    let r = returned(&ix, &q);
    assert!(
        r.contains(&"StudyDescription") && !r.contains(&"SOPClassUID"),
        "{r:?}"
    );
}

#[test]
fn instance_returns_series_attributes_unless_scoped_to_the_series() {
    let (_d, ix) = fixture();
    let scoped = query(Instance, &[])
        .with_study("1.2.3.1")
        .with_series("1.2.3.1.1");
    let r = returned(&ix, &scoped);
    for k in [
        "SOPInstanceUID",
        "SOPClassUID",
        "InstanceNumber",
        "Rows",
        "StudyInstanceUID",
        "SeriesInstanceUID",
    ] {
        assert!(r.contains(&k), "{k} in {r:?}");
    }
    assert!(!r.contains(&"Modality") && !r.contains(&"StudyDate") && !r.contains(&"ImageType"));
    let r = returned(&ix, &query(Instance, &[]).with_study("1.2.3.1"));
    assert!(
        r.contains(&"Modality") && !r.contains(&"StudyDate"),
        "{r:?}"
    );
    let r = returned(&ix, &query(Instance, &[]));
    assert!(r.contains(&"Modality") && r.contains(&"StudyDate"), "{r:?}");
    let r = returned(
        &ix,
        &query(Instance, &[("includefield", "ImageType")]).with_study("1.2.3.1"),
    );
    assert!(r.contains(&"ImageType"));
}

#[test]
fn patient_defaults() {
    let (_d, ix) = fixture();
    let r = returned(&ix, &query(Patient, &[("PatientID", "PID1")]));
    assert_eq!(
        r,
        [
            "PatientName",
            "PatientID",
            "IssuerOfPatientID",
            "PatientBirthDate",
            "PatientSex",
            "NumberOfPatientRelatedStudies"
        ]
    );
}

#[test]
fn includefield_forms() {
    let q = query(
        Series,
        &[
            (
                "includefield",
                "00081030, RequestAttributesSequence.ScheduledProcedureStepID",
            ),
            ("includefield", "0008103e"),
            ("includefield", "PerformedProtocolCodeSequence"),
            ("includefield", "00081030"),
        ],
    );
    assert_eq!(q.includefield, ["00081030", "00400275", "0008103E"]);
    assert_eq!(q.warnings.len(), 1, "{:?}", q.warnings);
}
