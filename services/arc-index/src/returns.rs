//! Return-key selection for QIDO-RS responses (PS3.18 10.6.3.3): the default attributes of
//! each level, the upper levels' ones for unscoped searches, match keys and includefield.
//! Retrieve URL (0008,1190) is not stored: the HTTP layer adds it.

use arc_model::dictionary::lookup;
use arc_model::{AttrValue, IndexAttrs, Level};

/// Patient level: PatientName, PatientID, IssuerOfPatientID, PatientBirthDate, PatientSex
/// and the patient-related counts (PS3.18 Table 10.6.3-2, PS3.4 C.6.1.1.2).
const PATIENT: &[&str] = &[
    "00080005", "00100010", "00100020", "00100021", "00100030", "00100040", "00201200", "00201202",
    "00201204",
];

/// PS3.18 Table 10.6.3-3 (Study Resources Search Response Payload).
const STUDY: &[&str] = &[
    "00080005", // SpecificCharacterSet
    "00080020", // StudyDate
    "00080030", // StudyTime
    "00080050", // AccessionNumber
    "00080056", // InstanceAvailability
    "00080061", // ModalitiesInStudy
    "00080090", // ReferringPhysicianName
    "00080201", // TimezoneOffsetFromUTC
    "00100010", // PatientName
    "00100020", // PatientID
    "00100030", // PatientBirthDate
    "00100040", // PatientSex
    "0020000D", // StudyInstanceUID
    "00200010", // StudyID
    "00201206", // NumberOfStudyRelatedSeries
    "00201208", // NumberOfStudyRelatedInstances
];

/// PS3.18 Table 10.6.3-4 (Series), plus the Study Instance UID of the study above
/// (PS3.18 10.6.3.3.1).
const SERIES: &[&str] = &[
    "00080005", // SpecificCharacterSet
    "00080060", // Modality
    "00080201", // TimezoneOffsetFromUTC
    "0008103E", // SeriesDescription
    "0020000D", // StudyInstanceUID
    "0020000E", // SeriesInstanceUID
    "00200011", // SeriesNumber
    "00201209", // NumberOfSeriesRelatedInstances
    "00400244", // PerformedProcedureStepStartDate
    "00400245", // PerformedProcedureStepStartTime
    "00400275", // RequestAttributesSequence
];

/// PS3.18 Table 10.6.3-5 (Instance), plus the Study and Series Instance UIDs above.
const INSTANCE: &[&str] = &[
    "00080005", // SpecificCharacterSet
    "00080016", // SOPClassUID
    "00080018", // SOPInstanceUID
    "00080056", // InstanceAvailability
    "00080201", // TimezoneOffsetFromUTC
    "0020000D", // StudyInstanceUID
    "0020000E", // SeriesInstanceUID
    "00200013", // InstanceNumber
    "00280008", // NumberOfFrames
    "00280010", // Rows
    "00280011", // Columns
    "00280100", // BitsAllocated
];

/// The Required keys of the C-FIND levels (PS3.4 C.6.1.1.2-5; the Unique keys are always
/// there): a result carries them even where the object has no such attribute, with no
/// value, as PS3.4 C.2.2.1.2 asks of an SCP and clients of QIDO-RS expect.
const REQUIRED: &[(&str, &str)] = &[
    ("00080020", "DA"), // StudyDate
    ("00080030", "TM"), // StudyTime
    ("00080050", "SH"), // AccessionNumber
    ("00080060", "CS"), // Modality
    ("00100010", "PN"), // PatientName
    ("00100020", "LO"), // PatientID
    ("00200010", "SH"), // StudyID
    ("00200011", "IS"), // SeriesNumber
    ("00200013", "IS"), // InstanceNumber
];

/// The attributes every result of a level carries (PS3.18 Tables 10.6.3-2..5).
pub fn default_return_tags(level: Level) -> &'static [&'static str] {
    match level {
        Level::Patient => PATIENT,
        Level::Study => STUDY,
        Level::Series => SERIES,
        Level::Instance => INSTANCE,
    }
}

/// The tags a result of `q` carries when present (without `includefield=all`): the level's
/// defaults; for searches not scoped to a study (series, instances) or series (instances) the
/// defaults of the levels above (PS3.18 10.6.3.3.2-3); every match key; includefield tags of
/// this level or above (lower-level ones "shall not be returned").
pub fn return_tags(level: Level, q: &crate::QidoQuery) -> Vec<&str> {
    let mut wanted: Vec<&str> = default_return_tags(level).to_vec();
    let unscoped_study = q.study_uid.is_none();
    match level {
        Level::Series if unscoped_study => wanted.extend(STUDY),
        Level::Instance if unscoped_study => wanted.extend(STUDY.iter().chain(SERIES)),
        Level::Instance if q.series_uid.is_none() => wanted.extend(SERIES),
        _ => {}
    }
    wanted.extend(q.filters.iter().map(|f| f.tag));
    wanted.extend(
        q.includefield
            .iter()
            .filter(|t| lookup(t).is_none_or(|e| e.level <= level))
            .map(String::as_str),
    );
    wanted.sort_unstable();
    wanted.dedup();
    wanted
}

/// The attributes of one result to return: those of [`return_tags`], or everything with
/// `includefield=all`.
pub fn select_return(level: Level, attrs: &IndexAttrs, q: &crate::QidoQuery) -> IndexAttrs {
    let wanted = return_tags(level, q);
    let mut out: IndexAttrs = if q.include_all {
        attrs.clone()
    } else {
        attrs
            .iter()
            .filter(|(tag, _)| wanted.binary_search(&tag.as_str()).is_ok())
            .map(|(tag, v)| (tag.clone(), v.clone()))
            .collect()
    };
    for (tag, vr) in REQUIRED {
        if wanted.binary_search(tag).is_ok() && !out.contains_key(*tag) {
            out.insert(tag.to_string(), AttrValue::text(vr, Vec::new()));
        }
    }
    out
}
