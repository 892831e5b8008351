//! The attributes the archive indexes, and the level of the information model each belongs
//! to (PS3.4 C.6.1.1 and the QIDO-RS keys of PS3.18 Tables 10.6.1-5 and 10.6.3-3..5).
//! Events carry these; the index matches and returns them; later levels inherit upper ones.

/// A level of the Patient/Study/Series/Instance information model.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Patient.
    Patient,
    /// Study.
    Study,
    /// Series.
    Series,
    /// Instance (composite object).
    Instance,
}

impl Level {
    /// The lower-case name used in index documents and URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Patient => "patient",
            Level::Study => "study",
            Level::Series => "series",
            Level::Instance => "instance",
        }
    }
}

/// One indexed attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Indexed {
    /// Tag as `GGGGEEEE`.
    pub tag: &'static str,
    /// DICOM keyword.
    pub keyword: &'static str,
    /// Value representation.
    pub vr: &'static str,
    /// Level the attribute belongs to.
    pub level: Level,
}

const fn a(tag: &'static str, keyword: &'static str, vr: &'static str, level: Level) -> Indexed {
    Indexed {
        tag,
        keyword,
        vr,
        level,
    }
}

use Level::{Instance as I, Patient as P, Series as SE, Study as ST};

/// Every attribute extracted from stored instances into events and the index.
pub const INDEXED: &[Indexed] = &[
    // Patient (PS3.4 C.6.1.1.2)
    a("00100010", "PatientName", "PN", P),
    a("00100020", "PatientID", "LO", P),
    a("00100021", "IssuerOfPatientID", "LO", P),
    a("00100030", "PatientBirthDate", "DA", P),
    a("00100040", "PatientSex", "CS", P),
    a("00101002", "OtherPatientIDsSequence", "SQ", P),
    a("00100032", "PatientBirthTime", "TM", P),
    a("00101001", "OtherPatientNames", "PN", P),
    a("00104000", "PatientComments", "LT", P),
    // Study (PS3.4 C.6.1.1.3)
    a("00080005", "SpecificCharacterSet", "CS", ST),
    a("00080020", "StudyDate", "DA", ST),
    a("00080030", "StudyTime", "TM", ST),
    a("00080050", "AccessionNumber", "SH", ST),
    a("00080090", "ReferringPhysicianName", "PN", ST),
    a("00080201", "TimezoneOffsetFromUTC", "SH", ST),
    a("00081030", "StudyDescription", "LO", ST),
    a("00081060", "NameOfPhysiciansReadingStudy", "PN", ST),
    a("00101010", "PatientAge", "AS", ST),
    a("00101020", "PatientSize", "DS", ST),
    a("00101030", "PatientWeight", "DS", ST),
    a("0020000D", "StudyInstanceUID", "UI", ST),
    a("00200010", "StudyID", "SH", ST),
    a("00321032", "RequestingPhysician", "PN", ST),
    a("00080051", "IssuerOfAccessionNumberSequence", "SQ", ST),
    a("00081032", "ProcedureCodeSequence", "SQ", ST),
    a("001021B0", "AdditionalPatientHistory", "LT", ST),
    // Series (PS3.4 C.6.1.1.4)
    a("00080021", "SeriesDate", "DA", SE),
    a("00080031", "SeriesTime", "TM", SE),
    a("00080060", "Modality", "CS", SE),
    a("00080070", "Manufacturer", "LO", SE),
    a("00080080", "InstitutionName", "LO", SE),
    a("00081010", "StationName", "SH", SE),
    a("0008103E", "SeriesDescription", "LO", SE),
    a("00081040", "InstitutionalDepartmentName", "LO", SE),
    a("00081050", "PerformingPhysicianName", "PN", SE),
    a("00180015", "BodyPartExamined", "CS", SE),
    a("00200060", "Laterality", "CS", SE),
    a("0020000E", "SeriesInstanceUID", "UI", SE),
    a("00200011", "SeriesNumber", "IS", SE),
    a("00400244", "PerformedProcedureStepStartDate", "DA", SE),
    a("00400245", "PerformedProcedureStepStartTime", "TM", SE),
    a("00400275", "RequestAttributesSequence", "SQ", SE),
    a("00081070", "OperatorsName", "PN", SE),
    // Instance (PS3.4 C.6.1.1.5)
    a("00080008", "ImageType", "CS", I),
    a("00080016", "SOPClassUID", "UI", I),
    a("00080018", "SOPInstanceUID", "UI", I),
    a("00080023", "ContentDate", "DA", I),
    a("00080033", "ContentTime", "TM", I),
    a("00080022", "AcquisitionDate", "DA", I),
    a("00080032", "AcquisitionTime", "TM", I),
    a("0008002A", "AcquisitionDateTime", "DT", I),
    a("0040A043", "ConceptNameCodeSequence", "SQ", I),
    a("0040A073", "VerifyingObserverSequence", "SQ", I),
    a("00200013", "InstanceNumber", "IS", I),
    a("00280002", "SamplesPerPixel", "US", I),
    a("00280004", "PhotometricInterpretation", "CS", I),
    a("00280008", "NumberOfFrames", "IS", I),
    a("00280010", "Rows", "US", I),
    a("00280011", "Columns", "US", I),
    a("00280100", "BitsAllocated", "US", I),
    a("0040A491", "CompletionFlag", "CS", I),
    a("0040A493", "VerificationFlag", "CS", I),
];

/// Attributes the archive computes rather than extracts (PS3.4 C.6.1.1.3–C.6.1.1.5).
pub const COMPUTED: &[Indexed] = &[
    a("00080056", "InstanceAvailability", "CS", ST),
    a("00080061", "ModalitiesInStudy", "CS", ST),
    a("00080062", "SOPClassesInStudy", "UI", ST),
    a("00201200", "NumberOfPatientRelatedStudies", "IS", P),
    a("00201202", "NumberOfPatientRelatedSeries", "IS", P),
    a("00201204", "NumberOfPatientRelatedInstances", "IS", P),
    a("00201206", "NumberOfStudyRelatedSeries", "IS", ST),
    a("00201208", "NumberOfStudyRelatedInstances", "IS", ST),
    a("00201209", "NumberOfSeriesRelatedInstances", "IS", SE),
];

/// Nested keys indexed inside `RequestAttributesSequence` (PS3.18 Table 10.6.1-5, PS3.4
/// C.6.1.1.4 and the request keys dcm4chee-arc-light matches). Item keys take the level of
/// their sequence.
pub const REQUEST_ATTRIBUTES_ITEM: &[Indexed] = &[
    a("00400009", "ScheduledProcedureStepID", "SH", SE),
    a("00401001", "RequestedProcedureID", "SH", SE),
    a("00080050", "AccessionNumber", "SH", SE),
    a("0020000D", "StudyInstanceUID", "UI", SE),
    a("00321060", "RequestedProcedureDescription", "LO", SE),
    a("00400007", "ScheduledProcedureStepDescription", "LO", SE),
    a("00321032", "RequestingPhysician", "PN", SE),
    a("00321033", "RequestingService", "LO", SE),
];

/// Nested keys indexed inside `OtherPatientIDsSequence`.
pub const OTHER_PATIENT_IDS_ITEM: &[Indexed] = &[
    a("00100020", "PatientID", "LO", P),
    a("00100021", "IssuerOfPatientID", "LO", P),
];

/// Nested keys of code sequences (PS3.3 Table 8.8-1): Procedure Code, Concept Name Code.
pub const CODE_ITEM: &[Indexed] = &[
    a("00080100", "CodeValue", "SH", ST),
    a("00080102", "CodingSchemeDesignator", "SH", ST),
    a("00080104", "CodeMeaning", "LO", ST),
];

/// Nested keys of HL7v2 hierarchic designator sequences (PS3.3 Table 10-17).
pub const ISSUER_ITEM: &[Indexed] = &[
    a("00400031", "LocalNamespaceEntityID", "UT", ST),
    a("00400032", "UniversalEntityID", "UT", ST),
    a("00400033", "UniversalEntityIDType", "CS", ST),
];

/// Nested keys of `VerifyingObserverSequence` (PS3.3 C.17.2, SR documents).
pub const VERIFYING_OBSERVER_ITEM: &[Indexed] = &[
    a("0040A075", "VerifyingObserverName", "PN", I),
    a("0040A030", "VerificationDateTime", "DT", I),
    a("0040A027", "VerifyingOrganization", "LO", I),
];

/// Every indexed sequence (by keyword) and the keys indexed in its items.
pub const NESTED: &[(&str, &[Indexed])] = &[
    ("RequestAttributesSequence", REQUEST_ATTRIBUTES_ITEM),
    ("OtherPatientIDsSequence", OTHER_PATIENT_IDS_ITEM),
    ("IssuerOfAccessionNumberSequence", ISSUER_ITEM),
    ("ProcedureCodeSequence", CODE_ITEM),
    ("ConceptNameCodeSequence", CODE_ITEM),
    ("VerifyingObserverSequence", VERIFYING_OBSERVER_ITEM),
];

/// The item keys of an indexed sequence, by the sequence's tag (`GGGGEEEE`).
pub fn item_keys(sequence_tag: &str) -> &'static [Indexed] {
    NESTED
        .iter()
        .find(|(keyword, _)| lookup(keyword).is_some_and(|e| e.tag == sequence_tag))
        .map_or(&[], |(_, items)| *items)
}

/// Date and time attributes that combined datetime matching pairs (PS3.4 C.2.2.2.5.1): a
/// query giving both matches the instant they name together.
pub const DATE_TIME_PAIRS: &[(&str, &str)] = &[
    ("PatientBirthDate", "PatientBirthTime"),
    ("StudyDate", "StudyTime"),
    ("SeriesDate", "SeriesTime"),
    (
        "PerformedProcedureStepStartDate",
        "PerformedProcedureStepStartTime",
    ),
    ("ContentDate", "ContentTime"),
    ("AcquisitionDate", "AcquisitionTime"),
];

/// Looks an attribute up by tag (`GGGGEEEE`, any case) or keyword, among extracted and computed ones.
pub fn lookup(key: &str) -> Option<&'static Indexed> {
    INDEXED
        .iter()
        .chain(COMPUTED)
        .find(|e| e.keyword == key || e.tag.eq_ignore_ascii_case(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_unique_and_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for e in INDEXED.iter().chain(COMPUTED) {
            assert_eq!(e.tag.len(), 8, "{}", e.keyword);
            assert!(e
                .tag
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()));
            assert!(seen.insert(e.tag), "duplicate {}", e.tag);
        }
        assert_eq!(lookup("PatientName").unwrap().tag, "00100010");
        assert_eq!(lookup("0020000d").unwrap().keyword, "StudyInstanceUID");
        for (seq, items) in NESTED {
            let e = lookup(seq).unwrap();
            assert_eq!(e.vr, "SQ", "{seq}");
            assert_eq!(item_keys(e.tag).len(), items.len());
        }
        for (date, time) in DATE_TIME_PAIRS {
            assert_eq!(lookup(date).unwrap().vr, "DA");
            assert_eq!(lookup(time).unwrap().vr, "TM");
            assert_eq!(lookup(date).unwrap().level, lookup(time).unwrap().level);
        }
    }
}
