//! `parse_instance`: one stored object (STOW part, C-STORE file) decoded into its UIDs,
//! the index attributes of `arc_model::dictionary` and its DICOM JSON header.

use crate::charset::{CharacterSets, TextKind};
use crate::error::DicomError;
use crate::json::dataset_to_json;
use crate::read::open;
use crate::values::text_values;
use arc_model::dictionary::{item_keys, Indexed, INDEXED};
use arc_model::{AttrValue, IndexAttrs};
use dicom_core::value::Value;
use dicom_core::{PrimitiveValue, Tag, VR};
use dicom_object::InMemDicomObject;

/// What the archive needs from a stored instance.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedInstance {
    /// Study Instance UID (0020,000D) of the data set.
    pub study_uid: String,
    /// Series Instance UID (0020,000E).
    pub series_uid: String,
    /// SOP Instance UID (0008,0018).
    pub sop_instance_uid: String,
    /// SOP Class UID (0008,0016).
    pub sop_class_uid: String,
    /// Transfer Syntax UID (0002,0010) of the file meta information.
    pub transfer_syntax: String,
    /// The `INDEXED` attributes present, text in UTF-8.
    pub attrs: IndexAttrs,
    /// DICOM JSON of the data set without the meta group, bulk data as relative URIs.
    pub header_json: serde_json::Value,
}

/// Parses a Part 10 object: with the 128-byte preamble and `DICM`, from `DICM`, or from
/// the (0002,xxxx) group (PS3.10 7.1). The whole object is decoded once, so truncated
/// data fails. UIDs come from the data set only: the meta group's Media Storage SOP
/// Instance UID never stands in for a missing SOP Instance UID.
pub fn parse_instance(bytes: &[u8]) -> Result<ParsedInstance, DicomError> {
    let (meta, file) = open(bytes)?;
    let obj: &InMemDicomObject = &file;
    let charset = crate::text::declared_sets(obj).unwrap_or_default();
    // The UIDs come from the extracted attributes, which decode a UID written with VR UN
    // by its dictionary VR (rtdose_rle_1frame.dcm does that), so both always agree.
    let attrs = extract(obj, INDEXED, &charset);
    let required = |tag: &str, keyword: &'static str| required_uid(&attrs, tag, keyword);
    Ok(ParsedInstance {
        study_uid: required("0020000D", "StudyInstanceUID")?,
        series_uid: required("0020000E", "SeriesInstanceUID")?,
        sop_instance_uid: required("00080018", "SOPInstanceUID")?,
        sop_class_uid: required("00080016", "SOPClassUID")?,
        transfer_syntax: meta.transfer_syntax,
        attrs,
        header_json: dataset_to_json(obj),
    })
}

/// The most bytes read for the header of a large object, Pixel Data excluded.
pub const MAX_HEADER_BYTES: u64 = 64 << 20;

/// Parses only the header of a large Part 10 object read from `reader` (`len` bytes in
/// all): every attribute before the top-level Pixel Data, which is never read, so a
/// 2 GB object costs its header's memory. Text is decoded exactly as by
/// [`parse_instance`]. Pixel Data is listed in the JSON header as bulk data when the
/// object goes on past the header. Unlike [`parse_instance`], the rest of the object is
/// not checked for truncation.
///
/// Pixel Data is assumed present when the object goes on past the attributes read, or
/// has an image pixel module (Rows).
pub fn parse_instance_header<R: std::io::Read>(
    reader: R,
    len: u64,
) -> Result<ParsedInstance, DicomError> {
    let (meta, file, consumed) = crate::read_header::open_header(reader, len, MAX_HEADER_BYTES)?;
    let obj: &InMemDicomObject = &file;
    let charset = crate::text::declared_sets(obj).unwrap_or_default();
    let attrs = extract(obj, INDEXED, &charset);
    let required = |tag: &str, keyword: &'static str| required_uid(&attrs, tag, keyword);
    let mut header_json = dataset_to_json(obj);
    // read_until stopped at Pixel Data (7FE0,0010) when the object goes on (read-ahead may
    // hide that in a small object: an image's pixel module says it too)
    if consumed < len || attrs.contains_key("00280010") {
        let vr = if crate::ts::is_encapsulated(&meta.transfer_syntax)
            || attrs
                .get("00280100")
                .and_then(|a| a.first())
                .is_some_and(|b| b == "8")
        {
            "OB"
        } else {
            "OW"
        };
        if let Some(map) = header_json.as_object_mut() {
            map.insert(
                "7FE00010".into(),
                serde_json::json!({"vr": vr, "BulkDataURI": format!("{}7FE00010", crate::json::BULKDATA_PREFIX)}),
            );
        }
    }
    Ok(ParsedInstance {
        study_uid: required("0020000D", "StudyInstanceUID")?,
        series_uid: required("0020000E", "SeriesInstanceUID")?,
        sop_instance_uid: required("00080018", "SOPInstanceUID")?,
        sop_class_uid: required("00080016", "SOPClassUID")?,
        transfer_syntax: meta.transfer_syntax,
        attrs,
        header_json,
    })
}

/// DICOM JSON (PS3.18 F.2) of any readable Part 10 object, without requiring the UIDs
/// `parse_instance` insists on; bulk data as relative `bulkdata/…` URIs.
pub fn header_json(bytes: &[u8]) -> Result<serde_json::Value, DicomError> {
    let (_, file) = open(bytes)?;
    Ok(dataset_to_json(&file))
}

/// A UID the archive keys the object by: present, not empty, and a valid UID (PS3.5 9.1),
/// since it becomes a path segment of Retrieve URLs and of object keys. The value was
/// stripped of its padding (trailing NUL or space) when extracted.
fn required_uid(
    attrs: &IndexAttrs,
    tag: &str,
    keyword: &'static str,
) -> Result<String, DicomError> {
    let uid = attrs
        .get(tag)
        .and_then(|a| a.first())
        .filter(|s| !s.is_empty())
        .ok_or(DicomError::MissingAttribute(keyword))?;
    match arc_model::uid_problem(uid) {
        None => Ok(uid.to_string()),
        Some(problem) => Err(DicomError::InvalidUid {
            keyword,
            value: uid.chars().take(80).collect(),
            problem,
        }),
    }
}

/// Parses a `GGGGEEEE` key into a tag.
pub(crate) fn parse_tag(key: &str) -> Option<Tag> {
    if key.len() != 8 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let group = u16::from_str_radix(&key[..4], 16).ok()?;
    let element = u16::from_str_radix(&key[4..], 16).ok()?;
    Some(Tag(group, element))
}

/// The listed attributes present in `obj`.
fn extract(obj: &InMemDicomObject, wanted: &[Indexed], charset: &CharacterSets) -> IndexAttrs {
    // an item may declare its own character set (PS3.5 6.1.2.5.2)
    let own = crate::text::declared_sets(obj);
    let charset = own.as_ref().unwrap_or(charset);
    let mut out = IndexAttrs::new();
    for entry in wanted {
        let Some(tag) = parse_tag(entry.tag) else {
            continue;
        };
        let Some(elem) = obj.get(tag) else { continue };
        let value = match elem.value() {
            Value::Sequence(seq) => {
                let item_keys = item_keys(entry.tag);
                AttrValue {
                    vr: "SQ".into(),
                    values: Vec::new(),
                    items: seq
                        .items()
                        .iter()
                        .map(|item| extract(item, item_keys, charset))
                        .collect(),
                }
            }
            Value::Primitive(p) => primitive_attr(elem.vr(), p, entry, charset),
            Value::PixelSequence(_) => continue,
        };
        out.insert(entry.tag.to_string(), value);
    }
    out
}

/// One primitive attribute. A value whose VR came as UN (unknown in implicit VR, or
/// written as UN by some converters) is decoded with the dictionary's VR, as PS3.5
/// 6.2.2 allows for a known tag.
fn primitive_attr(
    vr: VR,
    p: &PrimitiveValue,
    entry: &Indexed,
    charset: &CharacterSets,
) -> AttrValue {
    let dict_vr: VR = entry.vr.parse().unwrap_or(vr);
    if vr == VR::UN && dict_vr != VR::UN {
        match p {
            PrimitiveValue::U8(bytes) => {
                return AttrValue::text(entry.vr, reinterpret_un(dict_vr, bytes, charset))
            }
            PrimitiveValue::Empty => return AttrValue::text(entry.vr, Vec::new()),
            _ => {}
        }
    }
    AttrValue::text(vr.to_string(), text_values(vr, p))
}

/// The values of UN bytes under the VR the dictionary gives the tag (Implicit VR Little
/// Endian encoding, PS3.5 6.2.2).
pub(crate) fn reinterpret_un(vr: VR, bytes: &[u8], charset: &CharacterSets) -> Vec<String> {
    let numbers: Option<Vec<String>> = match vr {
        VR::US => Some(
            bytes
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]).to_string())
                .collect(),
        ),
        VR::UL => Some(
            bytes
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]).to_string())
                .collect(),
        ),
        VR::SQ | VR::OB | VR::OW => Some(Vec::new()),
        _ => None,
    };
    if let Some(numbers) = numbers {
        return numbers;
    }
    let texts: Vec<String> = match TextKind::of_vr(vr.to_string()) {
        Some(kind) => charset.decode_values(bytes, kind),
        // the other string VRs use the default repertoire (PS3.5 6.1.2.3)
        None => CharacterSets::default().decode_values(bytes, TextKind::Multi),
    }
    .iter()
    .map(|text| crate::values::trim_value(vr, text))
    .collect();
    if texts.len() == 1 && texts[0].is_empty() {
        Vec::new()
    } else {
        texts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{build_instance, Supplements};

    /// A Part 10 object built from DICOM JSON with the given UIDs.
    fn object(study: &str, series: &str, sop: &str, class: &str) -> Vec<u8> {
        let meta = serde_json::json!({
            "0020000D": {"vr": "UI", "Value": [study]},
            "0020000E": {"vr": "UI", "Value": [series]},
            "00080018": {"vr": "UI", "Value": [sop]},
            "00080016": {"vr": "UI", "Value": [class]},
        });
        let sup = Supplements {
            study_uid: "2.25.1".into(),
            series: crate::SeriesUids::new(|| "2.25.2".into()),
            sop_instance_uid: "2.25.3".into(),
            date: "20261204".into(),
            time: "101500".into(),
        };
        build_instance(&meta, &mut |_: &str| None, &sup)
            .unwrap()
            .to_vec()
    }

    const SC: &str = "1.2.840.10008.5.1.4.1.1.7";

    #[test]
    fn uids_that_are_no_uids_are_refused_by_name() {
        let cases = [
            (object("../../x", "1.2", "1.3", SC), "StudyInstanceUID"),
            (object("1.1", "a/b", "1.3", SC), "SeriesInstanceUID"),
            (object("1.1", "1.2", "..", SC), "SOPInstanceUID"),
            // (characters other than digits fail earlier, in the meta group)
            (object("1.1", "1.2", "1.3", "1..2"), "SOPClassUID"),
            (
                object(&"1".repeat(65), "1.2", "1.3", SC),
                "StudyInstanceUID",
            ),
        ];
        for (bytes, name) in cases {
            for got in [
                parse_instance(&bytes),
                parse_instance_header(std::io::Cursor::new(&bytes), bytes.len() as u64),
            ] {
                match got {
                    Err(e @ DicomError::InvalidUid { keyword, .. }) => {
                        assert_eq!(keyword, name);
                        assert!(
                            e.to_string().starts_with(&format!("invalid {name} ")),
                            "{e}"
                        );
                    }
                    other => panic!("{name}: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn padded_uids_and_leading_zeros_are_accepted() {
        // the even-length padding of UI (NUL) and a space some writers use are stripped
        let p = parse_instance(&object("1.2.3\0", "1.02.3 ", "1.2.003", SC)).unwrap();
        assert_eq!(
            (
                p.study_uid.as_str(),
                p.series_uid.as_str(),
                p.sop_instance_uid.as_str()
            ),
            ("1.2.3", "1.02.3", "1.2.003")
        );
    }
}
