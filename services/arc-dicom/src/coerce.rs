//! Current attributes merged into stored objects on retrieve (ARCHITECTURE.md section 4):
//! attribute overrides from `keyword=value` coercion (and later edits) put into a stored
//! header's DICOM JSON, or into the object itself re-encoded, switching the Specific
//! Character Set to UTF-8 (ISO_IR 192) when a value does not fit the stored one (PS3.5 6.1).

use crate::error::DicomError;
use crate::parse::parse_tag;
use crate::read::open;
use arc_model::{AttrValue, IndexAttrs, Overrides};
use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_core::value::{DataSetSequence, PrimitiveValue, Value};
use dicom_core::{DataElement, Length, Tag, VR};
use dicom_dictionary_std::StandardDataDictionary;
use dicom_encoding::transfer_syntax::TransferSyntaxIndex;
use dicom_object::InMemDicomObject;
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

/// Attributes no coercion may set: they identify the object or describe its encoding.
const NOT_COERCIBLE: &[&str] = &[
    "00080016", "00080018", "0020000D", "0020000E", "00080005", "7FE00010",
];

/// One `keyword=value` (or `GGGGEEEE=value`) coercion as an attribute: its tag key and its
/// value with the dictionary's VR; `\` separates values (PS3.5 6.4). Binary VRs,
/// sequences, identifying UIDs and group 0002 are refused.
pub fn coercion_attr(key: &str, value: &str) -> Result<(String, AttrValue), DicomError> {
    let dict = StandardDataDictionary;
    let (tag, vr) = match parse_tag(key) {
        Some(tag) => (tag, dict.by_tag(tag).map(|e| e.vr().relaxed())),
        None => match dict.by_name(key) {
            Some(e) => (e.tag(), Some(e.vr().relaxed())),
            None => {
                return Err(DicomError::InvalidValue(
                    "not a DICOM keyword or tag".into(),
                ))
            }
        },
    };
    let key = format!("{:04X}{:04X}", tag.group(), tag.element());
    let vr = vr.ok_or_else(|| {
        DicomError::Unsupported(format!(
            "{key} is not in the DICOM dictionary; its VR is unknown"
        ))
    })?;
    if NOT_COERCIBLE.contains(&key.as_str()) || tag.group() == 0x0002 || tag.element() == 0 {
        return Err(DicomError::Unsupported(format!(
            "{key} identifies or encodes the object and cannot be coerced"
        )));
    }
    if crate::values::is_binary_vr(vr) || vr == VR::SQ {
        return Err(DicomError::Unsupported(format!(
            "{key} has VR {vr}, which a query parameter cannot carry"
        )));
    }
    let values: Vec<String> = if value.is_empty() {
        Vec::new()
    } else {
        value.split('\\').map(str::to_string).collect()
    };
    for v in &values {
        primitive(vr, std::slice::from_ref(v)).map_err(|_| {
            DicomError::InvalidValue(format!("{v:?} is not a valid {vr} value for {key}"))
        })?;
        // the value is written into objects as it is: it must be one of its VR
        crate::vr_check::check_value(vr, v).map_err(|why| {
            let shown: String = v.chars().take(80).collect();
            DicomError::InvalidValue(format!("{shown:?} for {key} {why}"))
        })?;
    }
    Ok((key, AttrValue::text(vr.to_string(), values)))
}

/// The tag key (`GGGGEEEE`) of a keyword or tag, if the dictionary knows it.
pub fn tag_of(key: &str) -> Option<String> {
    let tag = match parse_tag(key) {
        Some(t) => t,
        None => StandardDataDictionary.by_name(key)?.tag(),
    };
    Some(format!("{:04X}{:04X}", tag.group(), tag.element()))
}

/// The value to write for text values of a VR.
fn primitive(vr: VR, values: &[String]) -> Result<PrimitiveValue, ()> {
    fn nums<T: std::str::FromStr>(values: &[String]) -> Result<Vec<T>, ()> {
        values
            .iter()
            .map(|v| v.trim().parse::<T>().map_err(|_| ()))
            .collect()
    }
    if values.is_empty() {
        return Ok(PrimitiveValue::Empty);
    }
    Ok(match vr {
        VR::US => PrimitiveValue::U16(nums(values)?.into()),
        VR::SS => PrimitiveValue::I16(nums(values)?.into()),
        VR::UL => PrimitiveValue::U32(nums(values)?.into()),
        VR::SL => PrimitiveValue::I32(nums(values)?.into()),
        VR::UV => PrimitiveValue::U64(nums(values)?.into()),
        VR::SV => PrimitiveValue::I64(nums(values)?.into()),
        VR::FL => PrimitiveValue::F32(nums(values)?.into()),
        VR::FD => PrimitiveValue::F64(nums(values)?.into()),
        VR::IS => {
            nums::<i64>(values)?;
            PrimitiveValue::Strs(values.iter().cloned().collect())
        }
        VR::DS => {
            nums::<f64>(values)?;
            PrimitiveValue::Strs(values.iter().cloned().collect())
        }
        _ => PrimitiveValue::Strs(values.iter().cloned().collect()),
    })
}

/// Whether every override value can be written in the character set `code` (the first
/// value of Specific Character Set; empty for the default repertoire).
fn fits(code: &str, overrides: &IndexAttrs) -> bool {
    let all = |f: &dyn Fn(char) -> bool| {
        overrides
            .values()
            .flat_map(|a| &a.values)
            .all(|v| v.chars().all(f))
    };
    match code.trim() {
        "ISO_IR 192" => true,
        "" | "ISO_IR 6" | "ISO 2022 IR 6" => all(&|c| c.is_ascii()),
        "ISO_IR 100" | "ISO 2022 IR 100" => all(&|c| (c as u32) < 0x100),
        _ => all(&|c| c.is_ascii()),
    }
}

/// The Specific Character Set values a header must say after the overrides: `None` when
/// the stored ones still fit, else `ISO_IR 192`.
fn new_charset(stored: &[String], overrides: &IndexAttrs) -> Option<&'static str> {
    let code = stored.first().map(String::as_str).unwrap_or("");
    (!fits(code, overrides)).then_some("ISO_IR 192")
}

/// Modifying System (0400,0563) of the items this archive adds.
const MODIFYING_SYSTEM: &str = "ARCSTREAM";

/// Attribute Modification DateTime (0400,0562) of Unix milliseconds, in UTC.
fn modification_dt(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .unwrap_or_default()
        .format("%Y%m%d%H%M%S%.3f+0000")
        .to_string()
}

/// Merges overrides into a stored header's DICOM JSON (top level), switching its Specific
/// Character Set to ISO_IR 192 when the re-encoded object would, and appends an Original
/// Attributes Sequence item with the values they replace, as `apply_overrides` does.
pub fn merge_json(header: &mut serde_json::Value, overrides: &Overrides) {
    use serde_json::{json, Value};
    if overrides.is_empty() {
        return;
    }
    let Some(map) = header.as_object_mut() else {
        return;
    };
    let stored: Vec<String> = map
        .get("00080005")
        .and_then(|v| v.get("Value"))
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    // an attribute the object did not have is recorded empty (PS3.3 C.12.1.1.9.2)
    let previous: serde_json::Map<String, Value> = overrides
        .attrs
        .iter()
        .map(|(key, attr)| {
            let old = map.get(key).cloned();
            (key.clone(), old.unwrap_or_else(|| json!({"vr": attr.vr})))
        })
        .collect();
    let item = json!({
        "04000550": {"vr": "SQ", "Value": [previous]},
        "04000562": {"vr": "DT", "Value": [modification_dt(overrides.millis)]},
        "04000563": {"vr": "LO", "Value": [MODIFYING_SYSTEM]},
        "04000564": {"vr": "LO"},
        "04000565": {"vr": "CS", "Value": [overrides.reason]},
    });
    let json = crate::json::attrs_to_json(&overrides.attrs);
    if let Value::Object(o) = json {
        map.extend(o);
    }
    if let Some(cs) = new_charset(&stored, &overrides.attrs) {
        map.insert("00080005".into(), json!({"vr": "CS", "Value": [cs]}));
    }
    let original = map.entry("04000561").or_insert_with(|| json!({"vr": "SQ"}));
    match original.get_mut("Value").and_then(Value::as_array_mut) {
        Some(items) => items.push(item),
        None => original["Value"] = json!([item]),
    }
}

/// Re-encodes a stored object with the overrides put in, in `target_ts` (the stored
/// syntax, or Explicit VR Little Endian for a native one), and appends to its Original
/// Attributes Sequence (0400,0561) an item with the values they replaced (PS3.3
/// C.12.1.1.9; PS3.4 B.4.1.3 lets an SCP coerce when it records this). Encapsulated pixel
/// data is written back as it is; the meta group keeps its identity.
pub fn apply_overrides(
    bytes: &[u8],
    overrides: &Overrides,
    target_ts: &str,
) -> Result<Vec<u8>, DicomError> {
    let (_, mut file) = open(bytes)?;
    let ts = TransferSyntaxRegistry.get(target_ts).ok_or_else(|| {
        DicomError::Unsupported(format!("transfer syntax {target_ts} cannot be written"))
    })?;
    let obj: &mut InMemDicomObject = &mut file;
    let stored: Vec<String> = obj
        .get(Tag(0x0008, 0x0005))
        .map(|e| {
            crate::values::text_values(
                VR::CS,
                e.value().primitive().unwrap_or(&PrimitiveValue::Empty),
            )
        })
        .unwrap_or_default();
    if let Some(cs) = new_charset(&stored, &overrides.attrs) {
        obj.put(DataElement::new(
            Tag(0x0008, 0x0005),
            VR::CS,
            PrimitiveValue::from(cs),
        ));
    }
    let mut previous = InMemDicomObject::new_empty();
    for (key, attr) in &overrides.attrs {
        let Some(tag) = parse_tag(key) else { continue };
        let vr: VR = attr.vr.parse().unwrap_or(VR::UN);
        let value = primitive(vr, &attr.values)
            .map_err(|_| DicomError::Unsupported(format!("value of {key} does not fit VR {vr}")))?;
        // an attribute the object did not have is recorded empty (PS3.3 C.12.1.1.9.2)
        previous.put(
            obj.take_element(tag)
                .unwrap_or_else(|_| DataElement::new(tag, vr, PrimitiveValue::Empty)),
        );
        obj.put(DataElement::new(tag, vr, value));
    }
    let text = |tag: (u16, u16), vr: VR, value: &str| {
        DataElement::new(Tag(tag.0, tag.1), vr, PrimitiveValue::from(value))
    };
    let item = InMemDicomObject::from_element_iter([
        DataElement::new(
            Tag(0x0400, 0x0550),
            VR::SQ,
            Value::Sequence(DataSetSequence::new(vec![previous], Length::UNDEFINED)),
        ),
        text((0x0400, 0x0562), VR::DT, &modification_dt(overrides.millis)),
        text((0x0400, 0x0563), VR::LO, MODIFYING_SYSTEM),
        DataElement::new(Tag(0x0400, 0x0564), VR::LO, PrimitiveValue::Empty),
        text((0x0400, 0x0565), VR::CS, overrides.reason),
    ]);
    let mut items = match obj.take_element(Tag(0x0400, 0x0561)) {
        Ok(e) => e.items().map(<[_]>::to_vec).unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    items.push(item);
    obj.put(DataElement::new(
        Tag(0x0400, 0x0561),
        VR::SQ,
        Value::Sequence(DataSetSequence::new(items, Length::UNDEFINED)),
    ));
    file.update_meta(|m| m.set_transfer_syntax(ts));
    let mut out = Vec::with_capacity(bytes.len() + 1024);
    file.write_all(&mut out).map_err(DicomError::encode)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_and_tags_become_attributes() {
        let (k, v) = coercion_attr("PatientName", "Doe^Jane").unwrap();
        assert_eq!(
            (k.as_str(), v.vr.as_str(), v.values.clone()),
            ("00100010", "PN", vec!["Doe^Jane".to_string()])
        );
        let (k, v) = coercion_attr("00081030", "a\\b").unwrap();
        assert_eq!(
            (k.as_str(), v.vr.as_str(), v.values.len()),
            ("00081030", "LO", 2)
        );
        assert!(coercion_attr("NoSuchKeyword", "x").is_err());
        assert!(coercion_attr("SOPInstanceUID", "1.2").is_err());
        assert!(coercion_attr("PixelData", "x").is_err());
        assert!(coercion_attr("Rows", "many").is_err());
        assert_eq!(coercion_attr("Rows", "12").unwrap().1.vr, "US");
        assert!(coercion_attr("ReferencedSeriesSequence", "x").is_err());
    }

    #[test]
    fn values_are_checked_against_their_vr() {
        let why = |k: &str, v: &str| coercion_attr(k, v).unwrap_err().to_string();
        assert_eq!(why("Nonsense", "1"), "not a DICOM keyword or tag");
        assert!(why("StudyDate", "2020-13-45").contains("not a valid DA value"));
        assert!(why("StudyDate", "20201345").contains("not a valid DA value"));
        assert!(why("InstitutionName", &"x".repeat(200)).contains("at most 64"));
        assert!(why("StudyTime", "25").contains("not a valid TM value"));
        assert!(why("PatientAge", "42").contains("not a valid AS value"));
        assert!(why("SeriesNumber", "1.5").contains("not a valid IS value"));
        assert!(why("FrameOfReferenceUID", "a/b").contains("not a UID"));
        // each value of a multi-valued attribute on its own
        assert!(why("ImageType", "ORIGINAL\\lower").contains("\"lower\""));
        for (k, v) in [
            ("StudyDate", "20240229"),
            ("StudyTime", "101500.5"),
            ("PatientAge", "042Y"),
            ("AcquisitionDateTime", "20240229101500+0100"),
            ("InstitutionName", "General\\Other"),
            ("FrameOfReferenceUID", "1.2.03"),
            ("StudyDescription", ""),
        ] {
            assert!(coercion_attr(k, v).is_ok(), "{k}={v}");
        }
    }

    fn coerce(attrs: IndexAttrs) -> Overrides {
        Overrides {
            attrs,
            reason: "COERCE",
            millis: 1_764_806_400_250, // 2025-12-04T00:00:00.250Z
        }
    }

    #[test]
    fn json_merge_switches_to_utf8_only_when_needed() {
        let mut h = serde_json::json!({"00100010": {"vr": "PN", "Value": [{"Alphabetic": "Old"}]}});
        let ascii = coerce(IndexAttrs::from([(
            "00100010".to_string(),
            AttrValue::text("PN", vec!["New^Name".into()]),
        )]));
        merge_json(&mut h, &ascii);
        assert_eq!(h["00100010"]["Value"][0]["Alphabetic"], "New^Name");
        assert!(h.get("00080005").is_none());
        let greek = coerce(IndexAttrs::from([(
            "00100010".to_string(),
            AttrValue::text("PN", vec!["Διονυσιος".into()]),
        )]));
        merge_json(&mut h, &greek);
        assert_eq!(h["00080005"]["Value"][0], "ISO_IR 192");
        let mut latin = serde_json::json!({"00080005": {"vr": "CS", "Value": ["ISO_IR 100"]}});
        merge_json(
            &mut latin,
            &coerce(IndexAttrs::from([(
                "00100010".to_string(),
                AttrValue::text("PN", vec!["Müller".into()]),
            )])),
        );
        assert_eq!(latin["00080005"]["Value"][0], "ISO_IR 100");
    }

    #[test]
    fn json_merge_records_what_it_replaced() {
        let mut h = serde_json::json!({"00100010": {"vr": "PN", "Value": [{"Alphabetic": "Old"}]}});
        merge_json(
            &mut h,
            &coerce(IndexAttrs::from([
                (
                    "00100010".to_string(),
                    AttrValue::text("PN", vec!["New".into()]),
                ),
                (
                    "00080080".to_string(),
                    AttrValue::text("LO", vec!["Hospital".into()]),
                ),
            ])),
        );
        let items = h["04000561"]["Value"].as_array().unwrap();
        assert_eq!(items.len(), 1);
        let item = &items[0];
        assert_eq!(
            item["04000550"]["Value"][0],
            serde_json::json!({
                "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Old"}]},
                "00080080": {"vr": "LO"},
            }),
            "old values, and absent ones empty"
        );
        assert_eq!(item["04000562"]["Value"][0], "20251204000000.250+0000");
        assert_eq!(item["04000563"]["Value"][0], "ARCSTREAM");
        assert_eq!(item["04000565"]["Value"][0], "COERCE");
        assert_eq!(item["04000564"], serde_json::json!({"vr": "LO"}));
        // a second modification is a second item
        merge_json(
            &mut h,
            &coerce(IndexAttrs::from([(
                "00100010".to_string(),
                AttrValue::text("PN", vec!["Newer".into()]),
            )])),
        );
        let items = h["04000561"]["Value"].as_array().unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(
            items[1]["04000550"]["Value"][0]["00100010"]["Value"][0]["Alphabetic"],
            "New"
        );
    }
}
