//! Tests of the matching forms beyond the basic ones: empty value matching, fuzzy person
//! names, numbers, nested keys of every indexed sequence, DT values, `orderby` (across
//! segments, with stable paging) and the size aggregate.

use super::{attrs, build, fixture, ids, query, run};
use crate::{EntityDoc, IndexRead, StudyIndex};
use arc_model::dictionary::{lookup, CODE_ITEM, VERIFYING_OBSERVER_ITEM};
use arc_model::Level::{Instance, Series, Study};
use arc_model::{AttrValue, IndexAttrs};

#[test]
fn empty_value_matching() {
    let (_d, ix) = fixture();
    assert_eq!(
        ids(&ix, Study, &[("ReferringPhysicianName", "\"\"")]),
        ["1.2.3.2"]
    );
    assert_eq!(
        ids(&ix, Study, &[("NameOfPhysiciansReadingStudy", "\"\"")]),
        ["1.2.3.2", "1.2.3.3"]
    );
    assert!(ids(&ix, Study, &[("AccessionNumber", "\"\"")]).is_empty());
    assert_eq!(
        ids(&ix, Series, &[("RequestAttributesSequence", "\"\"")]),
        ["1.2.3.1.2", "1.2.3.3.1"]
    );
    assert_eq!(
        ids(
            &ix,
            Series,
            &[("RequestAttributesSequence.RequestedProcedureID", "\"\"")]
        ),
        ["1.2.3.1.2", "1.2.3.2.1", "1.2.3.3.1"]
    );
    assert_eq!(
        ids(&ix, Study, &[("StudyTime", "\"\"")]),
        Vec::<String>::new()
    );
    assert_eq!(ids(&ix, Series, &[("SeriesDate", "\"\"")]).len(), 3);
}

/// A small archive of studies with names, numbers and sequences of their own.
fn studies(names: &[(&str, &str, &str)]) -> Vec<EntityDoc> {
    names
        .iter()
        .enumerate()
        .map(|(i, (uid, name, number))| EntityDoc {
            level: Study,
            uid: uid.to_string(),
            study_uid: None,
            series_uid: None,
            ord: 100 - i as u64,
            size: 1000 + i as u64,
            attrs: attrs(&[
                ("StudyInstanceUID", &[uid]),
                ("PatientName", &[name]),
                ("StudyID", &[number]),
                ("NumberOfStudyRelatedInstances", &[number]),
            ]),
        })
        .collect()
}

#[test]
fn fuzzy_person_names() {
    let (_d, ix) = build(studies(&[
        ("1", "Buc^Jérôme", "1"),
        ("2", "Äneas^Rüdiger", "2"),
        ("3", "Smith-Jones^Mary Ann", "3"),
        ("4", "Yamada^Tarou=山田^太郎=やまだ^たろう", "4"),
    ]));
    let fuzzy = |v: &str| ids(&ix, Study, &[("PatientName", v), ("fuzzymatching", "true")]);
    assert_eq!(fuzzy("jerome"), ["1"]);
    assert_eq!(fuzzy("JER"), ["1"]);
    assert_eq!(fuzzy("buc jé"), ["1"]);
    assert_eq!(fuzzy("aneas^rudi"), ["2"]);
    assert_eq!(fuzzy("jones"), ["3"]);
    assert_eq!(fuzzy("ann smith"), ["3"]);
    assert_eq!(fuzzy("太郎"), ["4"]);
    assert_eq!(fuzzy("tar*"), ["4"]);
    assert!(
        fuzzy("erome").is_empty(),
        "a word must begin with the query"
    );
    assert!(fuzzy("jerome^x").is_empty(), "every word must match");
    assert_eq!(fuzzy("*").len(), 4);
    // the parameter may come before the key
    assert_eq!(
        ids(
            &ix,
            Study,
            &[("fuzzymatching", "true"), ("PatientName", "mary")]
        ),
        ["3"]
    );
    // without it, literal component matching
    assert!(ids(&ix, Study, &[("PatientName", "jerome")]).is_empty());
    assert_eq!(ids(&ix, Study, &[("PatientName", "buc^JÉRÔME")]), ["1"]);
}

#[test]
fn numbers_match_by_value() {
    let (_d, ix) = fixture();
    assert_eq!(
        ids(
            &ix,
            Series,
            &[("SeriesNumber", "01"), ("StudyInstanceUID", "1.2.3.1")]
        ),
        ["1.2.3.1.1"]
    );
    assert_eq!(
        ids(&ix, Instance, &[("InstanceNumber", "+2")]),
        ["1.2.3.1.1.2"]
    );
    assert_eq!(ids(&ix, Instance, &[("Rows", "512.0")]).len(), 5);
    assert_eq!(
        crate::parse_qido(Instance, &super::params(&[("InstanceNumber", "two")]))
            .unwrap_err()
            .key,
        "InstanceNumber"
    );
}

fn item(pairs: &[(&'static crate::schema::AttrField, &str)]) -> IndexAttrs {
    pairs
        .iter()
        .map(|(f, v)| {
            (
                f.attr.tag.to_string(),
                AttrValue::text(f.attr.vr, vec![v.to_string()]),
            )
        })
        .collect()
}

fn seq(keyword: &str, items: Vec<IndexAttrs>) -> (String, AttrValue) {
    let e = lookup(keyword).unwrap();
    (
        e.tag.to_string(),
        AttrValue {
            vr: "SQ".into(),
            values: vec![],
            items,
        },
    )
}

fn field(path: &str) -> &'static crate::schema::AttrField {
    crate::schema::attr_fields()
        .iter()
        .find(|f| f.path == path)
        .unwrap()
}

#[test]
fn nested_keys_of_every_sequence_and_date_times() {
    assert!(CODE_ITEM.len() >= 2 && VERIFYING_OBSERVER_ITEM.len() >= 2);
    let inst = |uid: &str, code: &str, observer: &str, when: &str, acquired: &str| {
        let mut a = attrs(&[
            ("SOPInstanceUID", &[uid]),
            ("AcquisitionDateTime", &[acquired]),
        ]);
        a.extend([
            seq(
                "ConceptNameCodeSequence",
                vec![item(&[
                    (field("ConceptNameCodeSequence.CodeValue"), code),
                    (
                        field("ConceptNameCodeSequence.CodingSchemeDesignator"),
                        "LN",
                    ),
                ])],
            ),
            seq(
                "VerifyingObserverSequence",
                vec![item(&[
                    (
                        field("VerifyingObserverSequence.VerifyingObserverName"),
                        observer,
                    ),
                    (
                        field("VerifyingObserverSequence.VerificationDateTime"),
                        when,
                    ),
                ])],
            ),
        ]);
        EntityDoc {
            level: Instance,
            uid: uid.into(),
            study_uid: Some("1".into()),
            series_uid: Some("1.1".into()),
            ord: uid.len() as u64,
            size: 1,
            attrs: a,
        }
    };
    let (_d, ix) = build(vec![
        inst(
            "1.1.1",
            "18748-4",
            "House^Gregory",
            "20240115093000",
            "20240115081500.25",
        ),
        inst(
            "1.1.22",
            "11528-7",
            "Wilson^James",
            "20240116-0500",
            "2024011612",
        ),
    ]);
    let q = |pairs: &[(&str, &str)]| ids(&ix, Instance, pairs);
    assert_eq!(
        q(&[("ConceptNameCodeSequence.CodeValue", "18748-4")]),
        ["1.1.1"]
    );
    assert_eq!(q(&[("0040A043.00080100", "1152*")]), ["1.1.22"]);
    assert_eq!(
        q(&[("VerifyingObserverSequence.VerifyingObserverName", "wilson")]),
        ["1.1.22"]
    );
    assert_eq!(
        q(&[(
            "VerifyingObserverSequence.VerificationDateTime",
            "20240115-20240115"
        )]),
        ["1.1.1"]
    );
    assert_eq!(
        q(&[(
            "VerifyingObserverSequence.VerificationDateTime",
            "202401160000-"
        )]),
        ["1.1.22"]
    );
    assert_eq!(
        q(&[("AcquisitionDateTime", "2024011508-2024011509")]),
        ["1.1.1"]
    );
    assert_eq!(q(&[("AcquisitionDateTime", "20240116")]), ["1.1.22"]);
    assert_eq!(q(&[("AcquisitionDateTime", "2024")]).len(), 2);
    assert!(q(&[("AcquisitionDateTime", "2023-")]).len() == 2);
}

#[test]
fn orderby_sorts_by_value_then_archive_order() {
    let (_d, ix) = fixture();
    let order = |pairs: &[(&str, &str)]| run(&ix, &query(Study, pairs));
    // StudyDate: 1.2.3.3 (2023-12-31), 1.2.3.1 (2024-01-15), 1.2.3.2 (2024-03-01)
    assert_eq!(
        order(&[("orderby", "StudyDate")]),
        ["1.2.3.3", "1.2.3.1", "1.2.3.2"]
    );
    assert_eq!(
        order(&[("orderby", "-StudyDate")]),
        ["1.2.3.2", "1.2.3.1", "1.2.3.3"]
    );
    assert_eq!(
        order(&[("orderby", "00080020")]),
        ["1.2.3.3", "1.2.3.1", "1.2.3.2"]
    );
    // two keys: patient name (case-insensitive), then the latest study first
    assert_eq!(
        order(&[("orderby", "PatientName,-StudyDate")]),
        ["1.2.3.2", "1.2.3.1", "1.2.3.3"]
    );
    assert_eq!(
        order(&[("orderby", "PatientName"), ("orderby", "-StudyDate")]),
        ["1.2.3.2", "1.2.3.1", "1.2.3.3"]
    );
    // equal values keep archive order; a missing value sorts last ascending, first descending
    assert_eq!(
        order(&[("orderby", "ReferringPhysicianName")]),
        ["1.2.3.3", "1.2.3.1", "1.2.3.2"]
    );
    assert_eq!(
        order(&[("orderby", "-ReferringPhysicianName")]),
        ["1.2.3.2", "1.2.3.3", "1.2.3.1"]
    );
    // paging is stable under ordering
    assert_eq!(
        order(&[("orderby", "StudyDate"), ("limit", "1"), ("offset", "1")]),
        ["1.2.3.1"]
    );
    assert_eq!(
        order(&[("orderby", "StudyDate"), ("offset", "2")]),
        ["1.2.3.2"]
    );
    assert_eq!(
        order(&[("orderby", "StudyDate"), ("limit", "0")]),
        Vec::<String>::new()
    );
    for bad in [
        "NoSuchKey",
        "SeriesDescription",
        "RequestAttributesSequence",
        "-",
        "OtherPatientIDsSequence.PatientID",
    ] {
        let e = crate::parse_qido(Study, &super::params(&[("orderby", bad)]));
        assert!(e.is_err_and(|e| e.key == "orderby"), "{bad}");
    }
}

#[test]
fn orderby_numbers_across_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut ix = StudyIndex::open(dir.path()).unwrap();
    // 30 studies in three commits (three segments); StudyID holds a number whose text order
    // differs from its numeric order.
    let numbers: Vec<u64> = (0..30).map(|i| (i * 7919) % 101).collect();
    for (chunk, commit) in numbers.chunks(10).zip(1u64..) {
        for &n in chunk {
            let uid = format!("9.{n}");
            let name = format!("P{}", n % 3);
            for doc in studies(&[(&uid, &name, &n.to_string())]) {
                ix.upsert(EntityDoc { ord: n, ..doc }).unwrap();
            }
        }
        ix.commit(commit).unwrap();
    }
    ix.reload().unwrap();
    let mut want: Vec<u64> = numbers.clone();
    want.sort();
    let got: Vec<String> = run(
        &ix,
        &query(Study, &[("orderby", "NumberOfStudyRelatedInstances")]),
    );
    assert_eq!(
        got,
        want.iter().map(|n| format!("9.{n}")).collect::<Vec<_>>()
    );
    // pages of 7 put together are the whole order, descending too
    let mut pages = Vec::new();
    for offset in (0..30).step_by(7) {
        pages.extend(run(
            &ix,
            &query(
                Study,
                &[
                    ("orderby", "-NumberOfStudyRelatedInstances"),
                    ("limit", "7"),
                    ("offset", &offset.to_string()),
                ],
            ),
        ));
    }
    want.reverse();
    assert_eq!(
        pages,
        want.iter().map(|n| format!("9.{n}")).collect::<Vec<_>>()
    );
    // by name, then number: P0 first, numbers ascending within each name
    let got = run(
        &ix,
        &query(
            Study,
            &[("orderby", "PatientName,NumberOfStudyRelatedInstances")],
        ),
    );
    let mut expected: Vec<(u64, u64)> = numbers.iter().map(|&n| (n % 3, n)).collect();
    expected.sort();
    assert_eq!(
        got,
        expected
            .iter()
            .map(|(_, n)| format!("9.{n}"))
            .collect::<Vec<_>>()
    );
}

#[test]
fn size_sums_the_matches() {
    let (_d, ix) = fixture();
    // sizes are ord × 10: studies 1.2.3.1 (30), 1.2.3.2 (10), 1.2.3.3 (20)
    assert_eq!(ix.size(&query(Study, &[])).unwrap(), 600);
    assert_eq!(
        ix.size(&query(Study, &[("PatientID", "PID1")])).unwrap(),
        400
    );
    assert_eq!(ix.size(&query(Study, &[("PatientID", "none")])).unwrap(), 0);
}

#[test]
fn bad_keys_and_values_are_refused() {
    let err = |pairs: &[(&str, &str)]| {
        crate::parse_qido(Study, &super::params(pairs))
            .err()
            .map(|e| (e.key.clone(), e.to_string()))
    };
    let (key, why) = err(&[("StudyInstanceUID", "abc")]).expect("not a UID");
    assert!(
        key == "StudyInstanceUID" && why.contains("not a UID"),
        "{why}"
    );
    assert!(err(&[("StudyInstanceUID", "1.2.3,1..2")]).is_some());
    assert!(
        err(&[("StudyInstanceUID", "1.2.03")]).is_none(),
        "leading zeros are tolerated"
    );
    let (_, why) = err(&[("PatientID", "\0")]).expect("control character");
    assert!(why.contains("control characters"), "{why}");
    assert!(err(&[("PatientName", "Doe\u{1b}$B")]).is_some());
    let (key, why) = err(&[("ModalitiesInStudy", "CT"), ("ModalitiesInStudy", "MR")])
        .expect("the same attribute twice");
    assert!(
        key == "ModalitiesInStudy" && why.contains("already given"),
        "{why}"
    );
    assert!(err(&[("PatientName", "Doe"), ("00100010", "Roe")]).is_some());
    assert!(err(&[("ModalitiesInStudy", "CT\\MR")]).is_none());
    assert!(err(&[
        ("includefield", "StudyDescription"),
        ("includefield", "00080090")
    ])
    .is_none());
}
