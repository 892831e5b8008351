//! Matching tests: every form of PS3.4 C.2.2.2 at every level, nested keys, scoping and
//! parse errors.

use super::{fixture, ids, params, query, run};
use crate::{parse_qido, IndexRead, Matching};
use arc_model::Level::{self, Instance, Patient, Series, Study};

fn err(level: Level, pairs: &[(&str, &str)]) -> crate::QueryError {
    match parse_qido(level, &params(pairs)) {
        Ok(q) => panic!("{pairs:?} parsed: {q:?}"),
        Err(e) => e,
    }
}

const ALL_STUDIES: [&str; 3] = ["1.2.3.1", "1.2.3.2", "1.2.3.3"];

#[test]
fn universal_matching() {
    let (_d, ix) = fixture();
    assert_eq!(ids(&ix, Study, &[]), ALL_STUDIES);
    assert_eq!(ids(&ix, Study, &[("PatientName", "")]), ALL_STUDIES);
    assert_eq!(ids(&ix, Study, &[("PatientName", "*")]), ALL_STUDIES);
    assert_eq!(ids(&ix, Study, &[("ModalitiesInStudy", "**")]), ALL_STUDIES);
    assert!(query(Study, &[("StudyDescription", "")]).filters[0]
        .any_of
        .is_empty());
}

#[test]
fn single_value_matching_is_case_sensitive() {
    let (_d, ix) = fixture();
    assert_eq!(ids(&ix, Study, &[("AccessionNumber", "ACC1")]), ["1.2.3.1"]);
    assert!(ids(&ix, Study, &[("AccessionNumber", "acc1")]).is_empty());
    assert_eq!(ids(&ix, Study, &[("00080050", "acc3")]), ["1.2.3.3"]);
    assert_eq!(
        ids(&ix, Study, &[("StudyDescription", "MR Brain")]),
        ["1.2.3.2"]
    );
    assert!(ids(&ix, Study, &[("StudyDescription", "MR")]).is_empty());
    assert_eq!(ids(&ix, Study, &[("PatientSex", "F")]), ["1.2.3.3"]);
    // Two keys: both must match.
    assert!(ids(
        &ix,
        Study,
        &[("PatientSex", "F"), ("AccessionNumber", "ACC1")]
    )
    .is_empty());
}

#[test]
fn person_names_match_case_insensitively_on_every_group() {
    let (_d, ix) = fixture();
    let p1 = ["1.2.3.1", "1.2.3.2"];
    for name in [
        "Doe^John",
        "doe^john",
        "DOE^JOHN^^",
        "山田^太郎",
        "やまだ^たろう",
        "Doe^John=山田^太郎=やまだ^たろう",
    ] {
        assert_eq!(ids(&ix, Study, &[("PatientName", name)]), p1, "{name}");
    }
    // by component: an unspecified component matches any value
    assert_eq!(ids(&ix, Study, &[("PatientName", "Doe")]), p1);
    assert_eq!(ids(&ix, Study, &[("PatientName", "^JOHN")]), p1);
    assert_eq!(ids(&ix, Study, &[("PatientName", "^太郎")]), p1);
    assert!(ids(&ix, Study, &[("PatientName", "John")]).is_empty());
    assert!(ids(&ix, Study, &[("PatientName", "Doe^Jo")]).is_empty());
    // several groups match in place
    assert_eq!(ids(&ix, Study, &[("PatientName", "doe=山田")]), p1);
    assert_eq!(ids(&ix, Study, &[("PatientName", "==やまだ")]), p1);
    assert!(ids(&ix, Study, &[("PatientName", "=やまだ")]).is_empty());
    assert_eq!(
        ids(&ix, Study, &[("ReferringPhysicianName", "welby^marcus")]),
        ["1.2.3.1", "1.2.3.3"]
    );
    assert_eq!(
        ids(
            &ix,
            Study,
            &[("NameOfPhysiciansReadingStudy", "WILSON^JAMES")]
        ),
        ["1.2.3.1"]
    );
}

#[test]
fn wildcard_matching() {
    let (_d, ix) = fixture();
    assert_eq!(
        ids(&ix, Study, &[("PatientName", "do*")]),
        ["1.2.3.1", "1.2.3.2"]
    );
    assert_eq!(
        ids(&ix, Study, &[("PatientName", "d?e^j*")]),
        ["1.2.3.1", "1.2.3.2"]
    );
    assert_eq!(ids(&ix, Study, &[("PatientName", "*^JANE")]), ["1.2.3.3"]);
    assert_eq!(
        ids(&ix, Study, &[("PatientName", "山田*")]),
        ["1.2.3.1", "1.2.3.2"]
    );
    // Other VRs stay case-sensitive.
    assert_eq!(ids(&ix, Study, &[("StudyDescription", "CT*")]), ["1.2.3.1"]);
    assert_eq!(
        ids(&ix, Study, &[("StudyDescription", "?? Chest*")]),
        ["1.2.3.1"]
    );
    // Regex metacharacters are literal.
    assert_eq!(
        ids(&ix, Study, &[("StudyDescription", "*(contrast)")]),
        ["1.2.3.1"]
    );
    assert!(ids(&ix, Study, &[("StudyDescription", "CT.Chest*")]).is_empty());
    assert!(ids(&ix, Study, &[("StudyDescription", "CT Chest (contrast")]).is_empty());
    assert_eq!(
        ids(&ix, Study, &[("AccessionNumber", "ACC?")]),
        ["1.2.3.1", "1.2.3.2"]
    );
    assert_eq!(
        ids(&ix, Study, &[("AccessionNumber", "acc?\\ACC2")]),
        ["1.2.3.2", "1.2.3.3"]
    );
    assert_eq!(
        ids(&ix, Series, &[("SeriesDescription", "*a*")]),
        ["1.2.3.1.1", "1.2.3.2.1"]
    );
}

#[test]
fn uid_list_matching() {
    let (_d, ix) = fixture();
    assert_eq!(
        ids(&ix, Study, &[("StudyInstanceUID", "1.2.3.1,1.2.3.3")]),
        ["1.2.3.1", "1.2.3.3"]
    );
    assert_eq!(
        ids(&ix, Study, &[("StudyInstanceUID", "1.2.3.2\\1.2.3.3")]),
        ["1.2.3.2", "1.2.3.3"]
    );
    assert_eq!(ids(&ix, Study, &[("0020000D", "1.2.3.2")]), ["1.2.3.2"]);
    assert!(ids(&ix, Study, &[("StudyInstanceUID", "1.2.3")]).is_empty());
    assert_eq!(
        ids(
            &ix,
            Instance,
            &[("SOPInstanceUID", "1.2.3.1.1.2, 1.2.3.3.1.1")]
        ),
        ["1.2.3.1.1.2", "1.2.3.3.1.1"]
    );
    assert_eq!(
        err(Study, &[("StudyInstanceUID", "1.2.*")]).key,
        "StudyInstanceUID"
    );
}

#[test]
fn multi_valued_attributes_and_modality_at_study_level() {
    let (_d, ix) = fixture();
    assert_eq!(ids(&ix, Study, &[("ModalitiesInStudy", "SR")]), ["1.2.3.1"]);
    assert_eq!(
        ids(&ix, Study, &[("ModalitiesInStudy", "CT")]),
        ["1.2.3.1", "1.2.3.3"]
    );
    assert_eq!(ids(&ix, Study, &[("Modality", "MR")]), ["1.2.3.2"]);
    assert_eq!(ids(&ix, Study, &[("00080060", "CT\\MR")]), ALL_STUDIES);
    assert_eq!(
        ids(&ix, Study, &[("Modality", "MR,SR")]),
        ["1.2.3.1", "1.2.3.2"]
    );
    assert_eq!(
        ids(&ix, Study, &[("SOPClassUID", "1.2.840.10008.5.1.4.1.1.4")]),
        ["1.2.3.2"]
    );
    assert_eq!(
        ids(&ix, Instance, &[("ImageType", "AXIAL")]),
        ["1.2.3.1.1.1"]
    );
    assert_eq!(ids(&ix, Instance, &[("ImageType", "ORIGINAL")]).len(), 3);
    assert_eq!(
        ids(&ix, Series, &[("Modality", "CT")]),
        ["1.2.3.1.1", "1.2.3.3.1"]
    );
}

#[test]
fn date_matching() {
    let (_d, ix) = fixture();
    assert_eq!(ids(&ix, Study, &[("StudyDate", "20240115")]), ["1.2.3.1"]);
    assert_eq!(ids(&ix, Study, &[("StudyDate", "2024.01.15")]), ["1.2.3.1"]);
    assert_eq!(
        ids(&ix, Study, &[("StudyDate", "20240101-20240131")]),
        ["1.2.3.1"]
    );
    assert_eq!(
        ids(&ix, Study, &[("StudyDate", "20231231-20240115")]),
        ["1.2.3.1", "1.2.3.3"]
    );
    assert_eq!(ids(&ix, Study, &[("StudyDate", "-20231231")]), ["1.2.3.3"]);
    assert_eq!(ids(&ix, Study, &[("StudyDate", "20240201-")]), ["1.2.3.2"]);
    assert_eq!(
        ids(&ix, Study, &[("StudyDate", "20240116-20240229")]),
        Vec::<String>::new()
    );
    assert_eq!(
        ids(&ix, Study, &[("StudyDate", "20240115\\20240301")]),
        ["1.2.3.1", "1.2.3.2"]
    );
    assert_eq!(
        ids(&ix, Study, &[("PatientBirthDate", "-19800101")]),
        ["1.2.3.1", "1.2.3.2"]
    );
    assert_eq!(
        ids(&ix, Series, &[("SeriesDate", "20240115")]),
        ["1.2.3.1.1"]
    );
}

#[test]
fn time_matching() {
    let (_d, ix) = fixture();
    // Stored 093015.5 lies within the minute 0930.
    assert_eq!(ids(&ix, Study, &[("StudyTime", "0930-0930")]), ["1.2.3.1"]);
    assert_eq!(ids(&ix, Study, &[("StudyTime", "-0930")]), ["1.2.3.1"]);
    assert_eq!(ids(&ix, Study, &[("StudyTime", "0930")]), ["1.2.3.1"]);
    assert_eq!(ids(&ix, Study, &[("StudyTime", "093015.5")]), ["1.2.3.1"]);
    assert_eq!(
        ids(&ix, Study, &[("StudyTime", "0931-")]),
        ["1.2.3.2", "1.2.3.3"]
    );
    assert_eq!(ids(&ix, Study, &[("StudyTime", "0900-1000")]), ["1.2.3.1"]);
    assert_eq!(ids(&ix, Study, &[("StudyTime", "14")]), ["1.2.3.2"]);
    assert_eq!(ids(&ix, Study, &[("StudyTime", "2359-")]), ["1.2.3.3"]);
    assert!(ids(&ix, Study, &[("StudyTime", "0931-1359")]).is_empty());
    assert_eq!(
        ids(&ix, Instance, &[("ContentTime", "0931-0932")]),
        ["1.2.3.1.1.1", "1.2.3.1.1.2"]
    );
    // Date and time together are one datetime range (PS3.4 C.2.2.2.5.1): from 2023-12-31
    // at the start of the day to 2024-01-15 at 12:00, so 2023-12-31 23:59:59 is in it.
    assert_eq!(
        ids(
            &ix,
            Study,
            &[("StudyDate", "20231231-20240115"), ("StudyTime", "-1200")]
        ),
        ["1.2.3.1", "1.2.3.3"]
    );
    assert_eq!(
        ids(
            &ix,
            Study,
            &[
                ("StudyDate", "20240115-20240301"),
                ("StudyTime", "0900-1500")
            ]
        ),
        ["1.2.3.1", "1.2.3.2"]
    );
    // 2024-01-15 09:30 is before 10:00 that day, 2024-03-01 14:00 after 12:00
    assert!(ids(
        &ix,
        Study,
        &[
            ("StudyDate", "20240115-20240301"),
            ("StudyTime", "1000-1200")
        ]
    )
    .is_empty());
    // the time key is returned but no longer matched on its own
    let q = query(Study, &[("StudyDate", "20240115"), ("StudyTime", "0930")]);
    assert_eq!(q.filters[0].field, "StudyDate+StudyTime#n");
    assert!(q.filters[1].any_of.is_empty());
    // a time range crossing midnight, alone
    assert_eq!(
        ids(&ix, Study, &[("StudyTime", "2300-0931")]),
        ["1.2.3.1", "1.2.3.3"]
    );
}

#[test]
fn range_values_are_normalized() {
    let q = query(
        Study,
        &[("StudyTime", "0930-10"), ("PatientBirthDate", "-20240131")],
    );
    assert_eq!(
        q.filters[0].any_of,
        [Matching::Range {
            lower: Some("093000.000000".into()),
            upper: Some("105959.999999".into())
        }]
    );
    assert_eq!(q.filters[0].field, "StudyTime#n");
    assert_eq!(
        q.filters[1].any_of,
        [Matching::Range {
            lower: None,
            upper: Some("20240131".into())
        }]
    );
}

#[test]
fn upper_level_keys_match_at_lower_levels() {
    let (_d, ix) = fixture();
    assert_eq!(
        ids(&ix, Instance, &[("PatientID", "PID1")]),
        ["1.2.3.1.1.1", "1.2.3.1.1.2", "1.2.3.1.2.1", "1.2.3.2.1.1"]
    );
    assert_eq!(
        ids(&ix, Instance, &[("PatientName", "smith*")]),
        ["1.2.3.3.1.1"]
    );
    assert_eq!(
        ids(&ix, Series, &[("StudyDate", "20240115")]),
        ["1.2.3.1.1", "1.2.3.1.2"]
    );
    assert_eq!(ids(&ix, Instance, &[("Modality", "SR")]), ["1.2.3.1.2.1"]);
    assert_eq!(
        ids(&ix, Instance, &[("ModalitiesInStudy", "MR")]),
        ["1.2.3.2.1.1"]
    );
}

#[test]
fn searches_are_scoped_by_level_and_path() {
    let (_d, ix) = fixture();
    let series = |q: crate::QidoQuery| {
        let mut v = run(&ix, &q);
        v.sort();
        v
    };
    assert_eq!(
        series(query(Series, &[]).with_study("1.2.3.1")),
        ["1.2.3.1.1", "1.2.3.1.2"]
    );
    assert_eq!(
        series(query(Series, &[("Modality", "CT")]).with_study("1.2.3.1")),
        ["1.2.3.1.1"]
    );
    assert!(series(query(Series, &[]).with_study("9.9")).is_empty());
    let q = query(Instance, &[])
        .with_study("1.2.3.1")
        .with_series("1.2.3.1.1");
    assert_eq!(series(q), ["1.2.3.1.1.1", "1.2.3.1.1.2"]);
    assert_eq!(series(query(Instance, &[]).with_study("1.2.3.1")).len(), 3);
    assert_eq!(series(query(Study, &[]).with_study("1.2.3.2")), ["1.2.3.2"]);
}

#[test]
fn patient_level() {
    let (_d, ix) = fixture();
    assert_eq!(ids(&ix, Patient, &[]), ["PID1", "PID2"]);
    assert_eq!(
        ids(&ix, Patient, &[("PatientName", "SMITH^JANE")]),
        ["PID2"]
    );
    assert_eq!(ids(&ix, Patient, &[("PatientName", "^*郎")]), ["PID1"]);
    // a wildcard query without `^` also matches the whole group (a "contains" search)
    assert_eq!(ids(&ix, Patient, &[("PatientName", "*郎")]), ["PID1"]);
    assert!(
        ids(&ix, Patient, &[("PatientName", "郎")]).is_empty(),
        "without a wildcard, the family name only"
    );
    assert_eq!(
        ids(&ix, Patient, &[("NumberOfPatientRelatedStudies", "2")]),
        ["PID1"]
    );
    assert_eq!(
        ids(&ix, Patient, &[("PatientBirthDate", "19850101-")]),
        ["PID2"]
    );
    assert_eq!(
        ids(&ix, Patient, &[("IssuerOfPatientID", "HOSP")]),
        ["PID1"]
    );
    assert_eq!(err(Patient, &[("StudyDate", "20240115")]).key, "StudyDate");
}

#[test]
fn nested_request_attributes() {
    let (_d, ix) = fixture();
    let key = "RequestAttributesSequence.ScheduledProcedureStepID";
    assert_eq!(ids(&ix, Series, &[(key, "SPS2")]), ["1.2.3.1.1"]);
    assert_eq!(
        ids(&ix, Series, &[("00400275.00400009", "SPS9")]),
        ["1.2.3.2.1"]
    );
    assert_eq!(
        ids(
            &ix,
            Series,
            &[("RequestAttributesSequence.00400009", "SPS*")]
        ),
        ["1.2.3.1.1", "1.2.3.2.1"]
    );
    assert_eq!(
        ids(
            &ix,
            Series,
            &[("RequestAttributesSequence.AccessionNumber", "ACC1")]
        ),
        ["1.2.3.1.1"]
    );
    assert_eq!(
        ids(
            &ix,
            Series,
            &[("RequestAttributesSequence.RequestedProcedureID", "RP2")]
        ),
        ["1.2.3.1.1"]
    );
    assert_eq!(
        ids(&ix, Instance, &[(key, "SPS1")]),
        ["1.2.3.1.1.1", "1.2.3.1.1.2"]
    );
    assert_eq!(
        ids(&ix, Series, &[("RequestAttributesSequence", "")]).len(),
        4
    );
    assert_eq!(query(Series, &[(key, "x")]).filters[0].tag, "00400275");
    assert_eq!(err(Study, &[(key, "SPS1")]).key, key);
    assert_eq!(
        err(Series, &[("RequestAttributesSequence", "SPS1")]).key,
        "RequestAttributesSequence"
    );
    assert_eq!(
        err(Series, &[("RequestAttributesSequence.Modality", "CT")]).key,
        "RequestAttributesSequence.Modality"
    );
}

#[test]
fn parse_errors_name_the_key() {
    for (level, key, value) in [
        (Study, "NoSuchKeyword", "x"),
        (Study, "00099999", "x"),
        (Study, "StudyDate.StudyTime.Modality", "x"),
        (Study, "StudyDate", "2024-13"),
        (Study, "StudyDate", "20241301"),
        (Study, "StudyDate", "abc"),
        (Study, "StudyDate", "-"),
        (Study, "StudyDate", "2024*"),
        (Study, "StudyTime", "2500"),
        (Study, "StudyTime", "0930-09x"),
        (Study, "SeriesInstanceUID", "1.2"),
        (Series, "SOPInstanceUID", "1.2"),
        (Study, "NumberOfStudyRelatedSeries", "1*"),
        (Study, "limit", "abc"),
        (Study, "limit", "-1"),
        (Study, "offset", "-1"),
        (Study, "fuzzymatching", "maybe"),
        (Study, "includefield", "not a keyword!"),
        (Study, "includefield", "Nonsense"),
        (Series, "SeriesNumber", "1.5"),
        (Series, "SeriesNumber", "1e3"),
        (Study, "offset", "99999999999999999999"),
    ] {
        let e = err(level, &[(key, value)]);
        assert_eq!(e.key, key, "{key}={value}: {e}");
        assert!(e.to_string().starts_with(&format!("{key}: ")), "{e}");
    }
    assert!(err(Series, &[("SeriesNumber", "1.5")])
        .to_string()
        .contains("not an integer"));
    assert!(err(Study, &[("offset", "99999999999999999999")])
        .to_string()
        .contains("too large"));
    // a limit beyond 64 bits asks for everything (cut to the maximum by the caller)
    let q = query(Study, &[("limit", "99999999999999999999")]);
    assert_eq!(q.limit, Some(u64::MAX));
    // a DICOM keyword the index does not hold is a note, not an error
    let q = query(Study, &[("includefield", "ImageComments")]);
    assert!(
        q.warnings.iter().any(|w| w.contains("ImageComments")),
        "{:?}",
        q.warnings
    );
    let q = query(Series, &[("SeriesNumber", "+12")]);
    assert_eq!(q.filters.len(), 1);
    let long = "A".repeat(5000);
    assert_eq!(err(Study, &[("PatientName", &long)]).key, "PatientName");
    assert_eq!(
        err(Study, &[("StudyDescription", &"?".repeat(17))]).key,
        "StudyDescription"
    );
    assert_eq!(
        err(Study, &[("PatientName", &format!("{}*", "a".repeat(300)))]).key,
        "PatientName"
    );
}

#[test]
fn reserved_parameters() {
    let q = query(
        Study,
        &[
            ("limit", "5"),
            ("offset", "10"),
            ("fuzzymatching", "true"),
            ("orderby", "StudyDate"),
        ],
    );
    assert_eq!((q.limit, q.offset, q.fuzzymatching), (Some(5), 10, true));
    assert_eq!(q.orderby[0].field, "StudyDate#s");
    assert!(q.warnings.is_empty());
    assert!(q.filters.is_empty());
    let q = query(
        Study,
        &[
            ("fuzzymatching", "false"),
            ("accept", "application/dicom+json"),
        ],
    );
    assert!(!q.fuzzymatching && q.warnings.is_empty() && q.filters.is_empty());
}

#[test]
fn hostile_values_do_not_panic() {
    let (_d, ix) = fixture();
    let patterns = [
        "*a?".repeat(1300),
        "?".repeat(4000),
        "*".repeat(4000),
        "\\\\,,,".into(),
    ];
    for p in &patterns {
        for key in [
            "PatientName",
            "StudyDescription",
            "StudyInstanceUID",
            "StudyTime",
            "ModalitiesInStudy",
        ] {
            if let Ok(q) = parse_qido(Study, &params(&[(key, p)])) {
                // Either an answer or a clean error naming the key.
                if let Err(e) = ix.search(&q) {
                    assert!(
                        matches!(e, crate::IndexError::Query(ref qe) if qe.key == key),
                        "{e}"
                    );
                }
            }
        }
    }
    for value in ["年", "2024年0115-", "-0九30", "\u{0}"] {
        let _ = parse_qido(
            Study,
            &params(&[("StudyDate", value), ("StudyTime", value)]),
        );
    }
}
