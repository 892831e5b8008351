//! Reading the numbers and strings of image attributes, tolerant of values that came with
//! VR UN (PS3.5 6.2.2: a known tag read as UN is decoded with its dictionary VR).

use dicom_core::value::Value;
use dicom_core::{PrimitiveValue, Tag, VR};
use dicom_object::InMemDicomObject;

/// The first value of a US/SS/UL/IS attribute.
pub(crate) fn int_attr(obj: &InMemDicomObject, tag: Tag) -> Option<i64> {
    let elem = obj.get(tag)?;
    if elem.vr() == VR::UN {
        if let Value::Primitive(PrimitiveValue::U8(b)) = elem.value() {
            return match b.len() {
                2 => Some(i64::from(u16::from_le_bytes([b[0], b[1]]))),
                4 => Some(i64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))),
                _ => std::str::from_utf8(b).ok()?.trim().parse().ok(),
            };
        }
    }
    elem.to_int::<i64>().ok()
}

/// All values of a DS/FD/IS attribute.
pub(crate) fn floats_attr(obj: &InMemDicomObject, tag: Tag) -> Vec<f64> {
    let Some(elem) = obj.get(tag) else {
        return Vec::new();
    };
    if elem.vr() == VR::UN {
        if let Value::Primitive(PrimitiveValue::U8(b)) = elem.value() {
            return std::str::from_utf8(b)
                .map(|s| {
                    s.split('\\')
                        .filter_map(|v| v.trim_matches([' ', '\0']).parse().ok())
                        .collect()
                })
                .unwrap_or_default();
        }
    }
    elem.to_multi_float64().unwrap_or_default()
}

/// The text of a CS/IS/… attribute, trailing padding removed.
pub(crate) fn str_attr(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    let elem = obj.get(tag)?;
    let s = match elem.value() {
        Value::Primitive(PrimitiveValue::U8(b)) => String::from_utf8_lossy(b).into_owned(),
        _ => elem.to_str().ok()?.into_owned(),
    };
    let s = s.trim_matches([' ', '\0']).to_string();
    (!s.is_empty()).then_some(s)
}

/// The raw little-endian bytes of a binary value (LUT data, pixel data).
pub(crate) fn bytes_attr(obj: &InMemDicomObject, tag: Tag) -> Option<Vec<u8>> {
    match obj.get(tag)?.value() {
        Value::Primitive(p) => crate::values::le_bytes(p),
        _ => None,
    }
}
