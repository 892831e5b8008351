//! Tests of the index: a fixture archive of two patients, three studies, four series and
//! five instances with realistic attributes, shared by the matching, return-key and
//! lifecycle tests.

mod forms;
mod lifecycle;
mod matching;
mod returns;

use crate::{parse_qido, EntityDoc, IndexRead, QidoQuery, StudyIndex};
use arc_model::dictionary::{lookup, REQUEST_ATTRIBUTES_ITEM};
use arc_model::{AttrValue, IndexAttrs, Level};

/// Attributes from `(keyword, values)` pairs.
pub(crate) fn attrs(pairs: &[(&str, &[&str])]) -> IndexAttrs {
    pairs
        .iter()
        .map(|(keyword, values)| {
            let e = lookup(keyword).unwrap_or_else(|| panic!("no keyword {keyword}"));
            let values = values.iter().map(|v| v.to_string()).collect();
            (e.tag.to_string(), AttrValue::text(e.vr, values))
        })
        .collect()
}

/// A RequestAttributesSequence with one item per list of `(keyword, value)`.
fn request_attributes(items: &[&[(&str, &str)]]) -> IndexAttrs {
    let items = items
        .iter()
        .map(|pairs| {
            pairs
                .iter()
                .map(|(keyword, value)| {
                    let e = REQUEST_ATTRIBUTES_ITEM
                        .iter()
                        .find(|e| e.keyword == *keyword)
                        .unwrap();
                    (
                        e.tag.to_string(),
                        AttrValue::text(e.vr, vec![value.to_string()]),
                    )
                })
                .collect()
        })
        .collect();
    let seq = AttrValue {
        vr: "SQ".into(),
        values: vec![],
        items,
    };
    IndexAttrs::from([("00400275".to_string(), seq)])
}

fn merged(parts: &[&IndexAttrs]) -> IndexAttrs {
    parts
        .iter()
        .flat_map(|p| p.iter().map(|(k, v)| (k.clone(), v.clone())))
        .collect()
}

const CT: &str = "1.2.840.10008.5.1.4.1.1.2";
const MR: &str = "1.2.840.10008.5.1.4.1.1.4";
const SR: &str = "1.2.840.10008.5.1.4.1.1.88.11";

/// The fixture archive. `ord` values are not in insertion order, so ordering is by `ord`.
pub(crate) fn docs() -> Vec<EntityDoc> {
    let p1 = attrs(&[
        ("PatientName", &["Doe^John^^=山田^太郎=やまだ^たろう"]),
        ("PatientID", &["PID1"]),
        ("IssuerOfPatientID", &["HOSP"]),
        ("PatientBirthDate", &["19700101"]),
        ("PatientSex", &["M"]),
    ]);
    let p2 = attrs(&[
        ("PatientName", &["Smith^Jane"]),
        ("PatientID", &["PID2"]),
        ("PatientBirthDate", &["19851231"]),
        ("PatientSex", &["F"]),
    ]);
    let s1 = attrs(&[
        ("SpecificCharacterSet", &["ISO_IR 192"]),
        ("StudyInstanceUID", &["1.2.3.1"]),
        ("StudyDate", &["20240115"]),
        ("StudyTime", &["093015.5"]),
        ("AccessionNumber", &["ACC1"]),
        ("StudyDescription", &["CT Chest (contrast)"]),
        ("ReferringPhysicianName", &["Welby^Marcus"]),
        (
            "NameOfPhysiciansReadingStudy",
            &["House^Gregory", "Wilson^James"],
        ),
        ("StudyID", &["S1"]),
        ("ModalitiesInStudy", &["CT", "SR"]),
        ("SOPClassesInStudy", &[CT, SR]),
        ("InstanceAvailability", &["ONLINE"]),
        ("NumberOfStudyRelatedSeries", &["2"]),
        ("NumberOfStudyRelatedInstances", &["3"]),
    ]);
    let s2 = attrs(&[
        ("StudyInstanceUID", &["1.2.3.2"]),
        ("StudyDate", &["20240301"]),
        ("StudyTime", &["1400"]),
        ("AccessionNumber", &["ACC2"]),
        ("StudyDescription", &["MR Brain"]),
        ("ModalitiesInStudy", &["MR"]),
        ("SOPClassesInStudy", &[MR]),
        ("NumberOfStudyRelatedSeries", &["1"]),
        ("NumberOfStudyRelatedInstances", &["1"]),
    ]);
    let s3 = attrs(&[
        ("StudyInstanceUID", &["1.2.3.3"]),
        ("StudyDate", &["20231231"]),
        ("StudyTime", &["235959"]),
        ("AccessionNumber", &["acc3"]),
        ("StudyDescription", &["ct abdomen"]),
        ("ReferringPhysicianName", &["WELBY^MARCUS"]),
        ("ModalitiesInStudy", &["CT"]),
        ("SOPClassesInStudy", &[CT]),
        ("NumberOfStudyRelatedSeries", &["1"]),
        ("NumberOfStudyRelatedInstances", &["1"]),
    ]);
    let se11 = merged(&[
        &attrs(&[
            ("SeriesInstanceUID", &["1.2.3.1.1"]),
            ("Modality", &["CT"]),
            ("SeriesNumber", &["1"]),
            ("SeriesDescription", &["Axial 5mm"]),
            ("SeriesDate", &["20240115"]),
            ("SeriesTime", &["0931"]),
            ("BodyPartExamined", &["CHEST"]),
            ("PerformedProcedureStepStartDate", &["20240115"]),
            ("NumberOfSeriesRelatedInstances", &["2"]),
        ]),
        &request_attributes(&[
            &[
                ("ScheduledProcedureStepID", "SPS1"),
                ("RequestedProcedureID", "RP1"),
                ("AccessionNumber", "ACC1"),
            ],
            &[
                ("ScheduledProcedureStepID", "SPS2"),
                ("RequestedProcedureID", "RP2"),
            ],
        ]),
    ]);
    let se12 = attrs(&[
        ("SeriesInstanceUID", &["1.2.3.1.2"]),
        ("Modality", &["SR"]),
        ("SeriesNumber", &["2"]),
        ("SeriesDescription", &["Report"]),
        ("NumberOfSeriesRelatedInstances", &["1"]),
    ]);
    let se21 = merged(&[
        &attrs(&[
            ("SeriesInstanceUID", &["1.2.3.2.1"]),
            ("Modality", &["MR"]),
            ("SeriesNumber", &["1"]),
            ("SeriesDescription", &["T1 sag"]),
            ("NumberOfSeriesRelatedInstances", &["1"]),
        ]),
        &request_attributes(&[&[("ScheduledProcedureStepID", "SPS9")]]),
    ]);
    let se31 = attrs(&[
        ("SeriesInstanceUID", &["1.2.3.3.1"]),
        ("Modality", &["CT"]),
        ("SeriesNumber", &["1"]),
        ("SeriesDescription", &["Abdomen"]),
        ("NumberOfSeriesRelatedInstances", &["1"]),
    ]);
    let inst = |uid: &str, class: &str, number: &str, image_type: &[&str], time: &str| {
        attrs(&[
            ("SOPInstanceUID", &[uid]),
            ("SOPClassUID", &[class]),
            ("InstanceNumber", &[number]),
            ("ImageType", image_type),
            ("Rows", &["512"]),
            ("Columns", &["512"]),
            ("ContentTime", &[time]),
        ])
    };
    let patient_counts = |n: &str| attrs(&[("NumberOfPatientRelatedStudies", &[n])]);
    let entity = |level, uid: &str, study: Option<&str>, series: Option<&str>, ord, a| EntityDoc {
        level,
        uid: uid.to_string(),
        study_uid: study.map(str::to_string),
        series_uid: series.map(str::to_string),
        ord,
        size: ord * 10,
        attrs: a,
    };
    use Level::*;
    vec![
        entity(
            Patient,
            "PID1",
            None,
            None,
            2,
            merged(&[&p1, &patient_counts("2")]),
        ),
        entity(
            Patient,
            "PID2",
            None,
            None,
            1,
            merged(&[&p2, &patient_counts("1")]),
        ),
        entity(Study, "1.2.3.1", None, None, 30, merged(&[&p1, &s1])),
        entity(Study, "1.2.3.2", None, None, 10, merged(&[&p1, &s2])),
        entity(Study, "1.2.3.3", None, None, 20, merged(&[&p2, &s3])),
        entity(
            Series,
            "1.2.3.1.1",
            Some("1.2.3.1"),
            None,
            31,
            merged(&[&p1, &s1, &se11]),
        ),
        entity(
            Series,
            "1.2.3.1.2",
            Some("1.2.3.1"),
            None,
            32,
            merged(&[&p1, &s1, &se12]),
        ),
        entity(
            Series,
            "1.2.3.2.1",
            Some("1.2.3.2"),
            None,
            11,
            merged(&[&p1, &s2, &se21]),
        ),
        entity(
            Series,
            "1.2.3.3.1",
            Some("1.2.3.3"),
            None,
            21,
            merged(&[&p2, &s3, &se31]),
        ),
        entity(
            Instance,
            "1.2.3.1.1.1",
            Some("1.2.3.1"),
            Some("1.2.3.1.1"),
            33,
            merged(&[
                &p1,
                &s1,
                &se11,
                &inst(
                    "1.2.3.1.1.1",
                    CT,
                    "1",
                    &["ORIGINAL", "PRIMARY", "AXIAL"],
                    "093100",
                ),
            ]),
        ),
        entity(
            Instance,
            "1.2.3.1.1.2",
            Some("1.2.3.1"),
            Some("1.2.3.1.1"),
            34,
            merged(&[
                &p1,
                &s1,
                &se11,
                &inst(
                    "1.2.3.1.1.2",
                    CT,
                    "2",
                    &["DERIVED", "SECONDARY", "MPR"],
                    "093200.123",
                ),
            ]),
        ),
        entity(
            Instance,
            "1.2.3.1.2.1",
            Some("1.2.3.1"),
            Some("1.2.3.1.2"),
            35,
            merged(&[&p1, &s1, &se12, &inst("1.2.3.1.2.1", SR, "1", &[], "0935")]),
        ),
        entity(
            Instance,
            "1.2.3.2.1.1",
            Some("1.2.3.2"),
            Some("1.2.3.2.1"),
            12,
            merged(&[
                &p1,
                &s2,
                &se21,
                &inst("1.2.3.2.1.1", MR, "1", &["ORIGINAL", "PRIMARY"], "1401"),
            ]),
        ),
        entity(
            Instance,
            "1.2.3.3.1.1",
            Some("1.2.3.3"),
            Some("1.2.3.3.1"),
            22,
            merged(&[
                &p2,
                &s3,
                &se31,
                &inst("1.2.3.3.1.1", CT, "1", &["ORIGINAL"], "235959.999"),
            ]),
        ),
    ]
}

/// An index holding `docs`, committed at position 7 and reloaded.
pub(crate) fn build(docs: Vec<EntityDoc>) -> (tempfile::TempDir, StudyIndex) {
    let dir = tempfile::tempdir().unwrap();
    let mut index = StudyIndex::open(dir.path()).unwrap();
    for doc in docs {
        index.upsert(doc).unwrap();
    }
    index.commit(7).unwrap();
    index.reload().unwrap();
    (dir, index)
}

pub(crate) fn fixture() -> (tempfile::TempDir, StudyIndex) {
    build(docs())
}

pub(crate) fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub(crate) fn query(level: Level, pairs: &[(&str, &str)]) -> QidoQuery {
    parse_qido(level, &params(pairs)).unwrap_or_else(|e| panic!("{pairs:?}: {e}"))
}

/// The own UID of a result (the PatientID for patients).
pub(crate) fn own_uid(level: Level, attrs: &IndexAttrs) -> String {
    let tag = match level {
        Level::Patient => "00100020",
        Level::Study => "0020000D",
        Level::Series => "0020000E",
        Level::Instance => "00080018",
    };
    attrs
        .get(tag)
        .and_then(|a| a.first())
        .unwrap_or("?")
        .to_string()
}

/// UIDs of the results of `q`, in result order.
pub(crate) fn run(index: &impl IndexRead, q: &QidoQuery) -> Vec<String> {
    let page = index.search(q).unwrap_or_else(|e| panic!("{q:?}: {e}"));
    page.hits.iter().map(|a| own_uid(q.level, a)).collect()
}

/// UIDs of the results of a parsed query, sorted.
pub(crate) fn ids(index: &impl IndexRead, level: Level, pairs: &[(&str, &str)]) -> Vec<String> {
    let mut out = run(index, &query(level, pairs));
    out.sort();
    out
}
