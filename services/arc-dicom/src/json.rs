//! DICOM JSON (PS3.18 Annex F) of a decoded data set and of index attributes, with bulk
//! data replaced by relative `BulkDataURI`s (`bulkdata/<path>`, see [`crate::bulk`]).

use crate::charset::CharacterSets;
use crate::values::{
    base64, is_binary_vr, is_numeric_vr, json_number, json_numbers, le_bytes, text_values,
};
use arc_model::{AttrValue, IndexAttrs};
use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, VirtualVr};
use dicom_core::header::Header;
use dicom_core::value::Value;
use dicom_core::{PrimitiveValue, Tag, VR};
use dicom_dictionary_std::StandardDataDictionary;
use dicom_object::mem::InMemElement;
use dicom_object::InMemDicomObject;
use serde_json::{Map, Value as J};

/// Binary values longer than this become BulkDataURIs; shorter ones InlineBinary.
pub const BULK_THRESHOLD: usize = 1024;

/// Pixel Data (7FE0,0010): always bulk data, native or encapsulated.
const PIXEL_DATA: Tag = Tag(0x7FE0, 0x0010);

/// The prefix of relative bulk data URIs; the HTTP layer prepends the instance URL.
pub const BULKDATA_PREFIX: &str = "bulkdata/";

/// The tag as DICOM JSON keys write it (`0020000D`, PS3.18 F.2.1).
pub(crate) fn key(tag: Tag) -> String {
    format!("{:04X}{:04X}", tag.group(), tag.element())
}

/// DICOM JSON of a whole data set. Group lengths (gggg,0000), the meta group and
/// Data Set Trailing Padding are left out (PS3.18 F.2: they carry no information here).
pub(crate) fn dataset_to_json(obj: &InMemDicomObject) -> J {
    object_to_json(obj, "", &CharacterSets::default())
}

fn object_to_json(obj: &InMemDicomObject, prefix: &str, inherited: &CharacterSets) -> J {
    // an item may declare its own character set (PS3.5 6.1.2.5.2); only values read as UN
    // are still bytes here
    let own = crate::text::declared_sets(obj);
    let charset = own.as_ref().unwrap_or(inherited);
    let mut map = Map::new();
    for elem in obj.iter() {
        let tag = elem.tag();
        if tag.element() == 0x0000 || tag.group() == 0x0002 || tag == Tag(0xFFFC, 0xFFFC) {
            continue;
        }
        let path = format!("{prefix}{}", key(tag));
        map.insert(key(tag), element_to_json(elem, &path, charset));
    }
    J::Object(map)
}

fn element_to_json(elem: &InMemElement, path: &str, charset: &CharacterSets) -> J {
    if let Some(j) = un_to_json(elem, charset) {
        return j;
    }
    let vr = elem.vr();
    let mut out = Map::new();
    out.insert("vr".into(), J::String(vr.to_string().into()));
    match elem.value() {
        Value::Sequence(seq) => {
            let items: Vec<J> = seq
                .items()
                .iter()
                .enumerate()
                .map(|(i, item)| object_to_json(item, &format!("{path}/{i}/"), charset))
                .collect();
            if !items.is_empty() {
                out.insert("Value".into(), J::Array(items));
            }
            out.insert("vr".into(), "SQ".into());
        }
        Value::PixelSequence(_) => {
            out.insert(
                "BulkDataURI".into(),
                format!("{BULKDATA_PREFIX}{path}").into(),
            );
        }
        Value::Primitive(p) => {
            if is_binary_vr(vr) || elem.tag() == PIXEL_DATA {
                let len = p.calculate_byte_len();
                if len == 0 {
                    // an empty value has neither (PS3.18 F.2.5)
                } else if elem.tag() == PIXEL_DATA || len > BULK_THRESHOLD {
                    out.insert(
                        "BulkDataURI".into(),
                        format!("{BULKDATA_PREFIX}{path}").into(),
                    );
                } else {
                    let bytes = le_bytes(p).unwrap_or_else(|| p.to_bytes().into_owned());
                    out.insert("InlineBinary".into(), base64(&bytes).into());
                }
            } else if let Some(values) = values_json(vr, p) {
                out.insert("Value".into(), J::Array(values));
            }
        }
    }
    J::Object(out)
}

/// A standard element whose VR came as UN (explicit VR files written by converters that did
/// not know the tag) under the VR the dictionary gives it, as the index reads it: the bytes
/// are the value as Implicit VR Little Endian encodes it (PS3.5 6.2.2). `None` for anything
/// else (private tags, VRs the dictionary leaves open, binary and sequence VRs, which stay
/// UN bytes).
fn un_to_json(elem: &InMemElement, charset: &CharacterSets) -> Option<J> {
    let tag = elem.tag();
    if elem.vr() != VR::UN || tag.group() % 2 == 1 {
        return None;
    }
    let bytes: &[u8] = match elem.value() {
        Value::Primitive(PrimitiveValue::U8(bytes)) => bytes,
        Value::Primitive(PrimitiveValue::Empty) => &[],
        _ => return None,
    };
    let VirtualVr::Exact(vr) = StandardDataDictionary.by_tag(tag)?.vr() else {
        return None;
    };
    fn le<const N: usize, T>(bytes: &[u8], f: fn([u8; N]) -> T) -> Option<Vec<T>> {
        bytes.len().is_multiple_of(N).then(|| {
            bytes
                .chunks_exact(N)
                .map(|c| f(c.try_into().expect("chunks of N")))
                .collect()
        })
    }
    let p = match vr {
        VR::US => PrimitiveValue::U16(le(bytes, u16::from_le_bytes)?.into()),
        VR::SS => PrimitiveValue::I16(le(bytes, i16::from_le_bytes)?.into()),
        VR::UL => PrimitiveValue::U32(le(bytes, u32::from_le_bytes)?.into()),
        VR::SL => PrimitiveValue::I32(le(bytes, i32::from_le_bytes)?.into()),
        VR::UV => PrimitiveValue::U64(le(bytes, u64::from_le_bytes)?.into()),
        VR::SV => PrimitiveValue::I64(le(bytes, i64::from_le_bytes)?.into()),
        VR::FL => PrimitiveValue::F32(le(bytes, f32::from_le_bytes)?.into()),
        VR::FD => PrimitiveValue::F64(le(bytes, f64::from_le_bytes)?.into()),
        _ if is_binary_vr(vr) || vr == VR::SQ || vr == VR::UN || vr == VR::AT => return None,
        _ => PrimitiveValue::Strs(crate::parse::reinterpret_un(vr, bytes, charset).into()),
    };
    let mut out = Map::new();
    out.insert("vr".into(), J::String(vr.to_string().into()));
    if let Some(values) = values_json(vr, &p) {
        out.insert("Value".into(), J::Array(values));
    }
    Some(J::Object(out))
}

/// The `Value` array of a primitive non-binary element; `None` when empty.
fn values_json(vr: VR, p: &dicom_core::PrimitiveValue) -> Option<Vec<J>> {
    let vr_str = vr.to_string();
    if let Some(numbers) = json_numbers(p) {
        return (!numbers.is_empty()).then_some(numbers);
    }
    let texts = text_values(vr, p);
    (!texts.is_empty()).then(|| texts.iter().map(|s| text_to_json(vr_str, s)).collect())
}

/// One text value in DICOM JSON: a PN object, a number, or a string; an empty value
/// inside a multi-valued attribute is `null` (PS3.18 F.2.5).
fn text_to_json(vr: &str, s: &str) -> J {
    if s.is_empty() {
        return J::Null;
    }
    if vr == "PN" {
        return pn_to_json(s);
    }
    if is_numeric_vr(vr) {
        return json_number(vr, s).unwrap_or_else(|| J::String(s.to_string()));
    }
    J::String(s.to_string())
}

/// A person name as `{"Alphabetic":…,"Ideographic":…,"Phonetic":…}` (PS3.18 F.2.2),
/// leaving out empty groups.
fn pn_to_json(s: &str) -> J {
    let mut obj = Map::new();
    for (name, group) in ["Alphabetic", "Ideographic", "Phonetic"]
        .iter()
        .zip(s.split('='))
    {
        if !group.is_empty() {
            obj.insert((*name).to_string(), group.into());
        }
    }
    if obj.is_empty() {
        J::Null
    } else {
        J::Object(obj)
    }
}

/// DICOM JSON (PS3.18 F.2) of index attributes: PN as objects, IS/DS/US/… as numbers,
/// sequences with their items, an attribute without values as just its VR.
pub fn attrs_to_json(attrs: &IndexAttrs) -> J {
    J::Object(
        attrs
            .iter()
            .map(|(k, v)| (k.clone(), attr_to_json(v)))
            .collect(),
    )
}

fn attr_to_json(attr: &AttrValue) -> J {
    let mut out = Map::new();
    out.insert("vr".into(), attr.vr.clone().into());
    if attr.vr == "SQ" {
        if !attr.items.is_empty() {
            out.insert(
                "Value".into(),
                attr.items.iter().map(attrs_to_json).collect(),
            );
        }
    } else if !attr.values.is_empty() {
        out.insert(
            "Value".into(),
            attr.values
                .iter()
                .map(|s| text_to_json(&attr.vr, s))
                .collect(),
        );
    }
    J::Object(out)
}
