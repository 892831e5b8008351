//! STOW-RS of DICOM JSON (or Native DICOM Model XML) metadata with bulk data parts (PS3.18
//! 10.5.1.2.2): each data set of the metadata becomes a new Part 10 object (arc_dicom::build_instance), its BulkDataURIs
//! matched to the parts by Content-Location (or `cid:` Content-ID), missing UIDs made here;
//! the object built is what is stored.

use crate::{ApiError, AppState};
use arc_archive::{
    PartOutcome, PartResult, SpooledPart, StoreContext, CANNOT_UNDERSTAND, DATA_SET_DOES_NOT_MATCH,
    OUT_OF_RESOURCES,
};
use arc_dicom::{build_instance, parse_content_type, BuildError, BulkPart, Supplements};
use std::collections::HashMap;

/// Bulk data parts larger than this are refused (they are held in memory to be wrapped).
const MAX_BULK_PART: u64 = 256 << 20;

/// A new UID from a UUID (PS3.5 B.2: `2.25.` and the UUID as a decimal number).
pub(crate) fn new_uid() -> String {
    format!("2.25.{}", uuid::Uuid::now_v7().as_u128())
}

fn media_type(part: &SpooledPart) -> String {
    part.header("content-type")
        .and_then(|ct| parse_content_type(ct).ok())
        .map(|m| m.essence())
        .unwrap_or_else(|| "application/octet-stream".into())
}

/// Builds and prepares one instance per metadata data set.
pub(crate) async fn store(
    state: &AppState,
    parts: Vec<SpooledPart>,
    ctx: &StoreContext,
) -> Result<Vec<PartOutcome>, ApiError> {
    let mut datasets = Vec::new();
    let mut bulk: HashMap<String, usize> = HashMap::new();
    let mut bulk_parts = Vec::new();
    for part in parts {
        match media_type(&part).as_str() {
            "application/dicom+json" | "application/json" => {
                let bytes = part.read_all().map_err(|e| {
                    ApiError::Unavailable(format!("cannot read a spooled part: {e}"))
                })?;
                let doc: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
                    ApiError::BadRequest(format!("the metadata part is not JSON: {e}"))
                })?;
                match doc {
                    serde_json::Value::Array(items) => datasets.extend(items),
                    obj @ serde_json::Value::Object(_) => datasets.push(obj),
                    _ => return Err(ApiError::BadRequest(
                        "the metadata part is neither a DICOM JSON data set nor an array of them"
                            .into(),
                    )),
                }
            }
            "application/dicom+xml" => {
                // PS3.18 10.5.1.2.2: one Native DICOM Model part per instance
                let bytes = part.read_all().map_err(|e| {
                    ApiError::Unavailable(format!("cannot read a spooled part: {e}"))
                })?;
                let text = std::str::from_utf8(&bytes).map_err(|_| {
                    ApiError::BadRequest("the XML metadata part is not UTF-8".into())
                })?;
                let ds = arc_dicom::native_xml_to_json(text)
                    .map_err(|e| ApiError::BadRequest(e.to_string()))?;
                datasets.push(ds);
            }
            _ => {
                let i = bulk_parts.len();
                if let Some(loc) = part.header("content-location") {
                    bulk.insert(loc.trim().to_string(), i);
                }
                if let Some(id) = part.header("content-id") {
                    bulk.insert(
                        format!(
                            "cid:{}",
                            id.trim().trim_start_matches('<').trim_end_matches('>')
                        ),
                        i,
                    );
                }
                bulk_parts.push(part);
            }
        }
    }
    if datasets.is_empty() {
        return Err(ApiError::BadRequest(
            "the request holds no application/dicom+json or application/dicom+xml metadata part"
                .into(),
        ));
    }
    let now = chrono::Utc::now();
    let (date, time) = (
        now.format("%Y%m%d").to_string(),
        now.format("%H%M%S").to_string(),
    );
    // one generated study per request, one generated series per study and kind of object
    // (SOP Class and Modality): an upload of several photographs without UIDs lands in one
    // series, a PDF sent with them in another
    let request_study = ctx.study_uid.clone().unwrap_or_else(new_uid);
    let series = arc_dicom::SeriesUids::new(new_uid);
    let bulk_parts = std::sync::Arc::new(bulk_parts);
    let mut outcomes = Vec::with_capacity(datasets.len());
    for ds in datasets {
        let study = ds
            .get("0020000D")
            .and_then(|a| a.get("Value"))
            .and_then(|v| v.get(0))
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| request_study.clone());
        let sup = Supplements {
            study_uid: study,
            series: series.clone(),
            sop_instance_uid: new_uid(),
            date: date.clone(),
            time: time.clone(),
        };
        if let Some(reason) = invalid_uid(&ds) {
            outcomes.push(Err(PartResult::Failed {
                sop_class_uid: None,
                sop_instance_uid: None,
                status: CANNOT_UNDERSTAND,
                reason,
            }));
            continue;
        }
        let (bulk, parts) = (bulk.clone(), bulk_parts.clone());
        let built = tokio::task::spawn_blocking(move || {
            let mut too_big = None;
            let mut resolve = |uri: &str| -> Option<BulkPart> {
                let i = bulk.get(uri).copied().or_else(|| {
                    bulk.iter()
                        .find(|(k, _)| k.ends_with(uri) || uri.ends_with(k.as_str()))
                        .map(|(_, i)| *i)
                })?;
                let part = &parts[i];
                if part.size > MAX_BULK_PART {
                    too_big = Some(uri.to_string());
                    return None;
                }
                Some(BulkPart {
                    media_type: media_type(part),
                    data: part.read_all().ok()?,
                })
            };
            let r = build_instance(&ds, &mut resolve, &sup);
            match too_big {
                Some(uri) => Err((
                    OUT_OF_RESOURCES,
                    format!("bulk data {uri} is larger than {} MiB", MAX_BULK_PART >> 20),
                )),
                None => r.map_err(|e| match e {
                    BuildError::CannotUnderstand(r) => (CANNOT_UNDERSTAND, r),
                    BuildError::DoesNotMatch(r) => (DATA_SET_DOES_NOT_MATCH, r),
                }),
            }
        })
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
        outcomes.push(match built {
            Ok(bytes) => {
                state
                    .archive
                    .prepare(SpooledPart::from_bytes(Vec::new(), bytes.into()), ctx)
                    .await?
            }
            Err((status, reason)) => Err(PartResult::Failed {
                sop_class_uid: None,
                sop_instance_uid: None,
                status,
                reason,
            }),
        });
    }
    Ok(outcomes)
}

/// The UIDs of a metadata data set the instance is keyed by.
const KEY_UIDS: [(&str, &str); 4] = [
    ("0020000D", "StudyInstanceUID"),
    ("0020000E", "SeriesInstanceUID"),
    ("00080018", "SOPInstanceUID"),
    ("00080016", "SOPClassUID"),
];

/// Why a data set's UIDs cannot key an instance (PS3.5 9.1; empty ones are supplemented),
/// named before the object is built (the built object's meta group would refuse some of
/// them less clearly); the parser checks the built object again.
fn invalid_uid(ds: &serde_json::Value) -> Option<String> {
    KEY_UIDS.iter().find_map(|(tag, keyword)| {
        let value = ds.get(*tag)?.get("Value")?.get(0)?;
        let uid = value.as_str().map(|s| s.trim_end_matches(['\0', ' ']));
        let problem = match uid {
            // an empty value is supplemented, as a missing one
            Some("") => return None,
            Some(u) => arc_model::uid_problem(u)?,
            None if value.is_null() => return None,
            None => "is not a string",
        };
        let shown: String = value.to_string().chars().take(80).collect();
        Some(format!("invalid {keyword} {shown}: {problem} (PS3.5 9.1)"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_uids_are_checked_by_name() {
        let ds = |tag: &str, v: serde_json::Value| serde_json::json!({ tag: {"vr": "UI", "Value": [v]} });
        assert_eq!(invalid_uid(&serde_json::json!({})), None);
        assert_eq!(invalid_uid(&ds("0020000D", "1.2.03\0".into())), None);
        let bad = invalid_uid(&ds("0020000D", "../../x".into())).unwrap();
        assert!(
            bad.starts_with("invalid StudyInstanceUID \"../../x\": "),
            "{bad}"
        );
        assert!(invalid_uid(&ds("0020000E", "a/b".into()))
            .unwrap()
            .contains("SeriesInstanceUID"));
        assert_eq!(invalid_uid(&ds("00080018", "".into())), None);
        assert_eq!(invalid_uid(&ds("00080018", serde_json::Value::Null)), None);
        assert!(invalid_uid(&ds("00080016", 12.into()))
            .unwrap()
            .contains("SOPClassUID 12: is not a string"));
    }
}
