//! Applies Specific Character Set (0008,0005) to a data set read by [`crate::read::open`]:
//! the reader keeps the raw bytes of every text value whose VR depends on the character set
//! (SH, LO, UC, PN, ST, LT, UT; PS3.5 6.1.2.3), and this pass decodes them with
//! [`crate::charset`], each sequence item under its own (0008,0005) if it has one, else under
//! its parent's (PS3.5 6.1.2.5.2 and C.12.1.1.2 of PS3.3).

use crate::charset::{CharacterSets, TextKind};
use dicom_core::value::{DataSetSequence, Value};
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_object::mem::InMemElement;
use dicom_object::InMemDicomObject;

/// Specific Character Set.
const SPECIFIC_CHARACTER_SET: Tag = Tag(0x0008, 0x0005);

/// Whether the reader keeps this VR's values as raw bytes for [`decode_text`].
pub(crate) fn is_charset_text(vr: VR) -> bool {
    matches!(
        vr,
        VR::SH | VR::LO | VR::UC | VR::PN | VR::ST | VR::LT | VR::UT
    )
}

/// The character sets a data set or item declares itself, if it has (0008,0005).
pub(crate) fn declared_sets(obj: &InMemDicomObject) -> Option<CharacterSets> {
    let elem = obj.get(SPECIFIC_CHARACTER_SET)?;
    let terms: Vec<String> = match elem.value() {
        Value::Primitive(PrimitiveValue::Str(s)) => vec![s.clone()],
        Value::Primitive(PrimitiveValue::Strs(v)) => v.to_vec(),
        Value::Primitive(PrimitiveValue::U8(bytes)) => String::from_utf8_lossy(bytes)
            .split('\\')
            .map(str::to_string)
            .collect(),
        _ => return None,
    };
    let terms: Vec<String> = terms
        .iter()
        .map(|t| t.trim_matches([' ', '\0']).to_string())
        .collect();
    Some(CharacterSets::from_terms(&terms).0)
}

/// Decodes every raw text value of `obj` (and of its items, recursively) to UTF-8.
pub(crate) fn decode_text(obj: InMemDicomObject, inherited: &CharacterSets) -> InMemDicomObject {
    let sets = declared_sets(&obj).unwrap_or(*inherited);
    InMemDicomObject::from_element_iter(obj.into_iter().map(|e| decode_element(e, &sets)))
}

fn decode_element(elem: InMemElement, sets: &CharacterSets) -> InMemElement {
    let (header, value) = elem.into_parts();
    let (tag, vr) = (header.tag, header.vr);
    match value {
        Value::Primitive(PrimitiveValue::U8(bytes)) if is_charset_text(vr) => {
            let kind = TextKind::of_vr(vr.to_string()).unwrap_or(TextKind::Multi);
            let values = sets.decode_values(&bytes, kind);
            DataElement::new(tag, vr, PrimitiveValue::Strs(values.into_iter().collect()))
        }
        Value::Sequence(seq) => {
            let length = seq.length();
            let items: Vec<InMemDicomObject> = seq
                .into_items()
                .into_iter()
                .map(|item| decode_text(item, sets))
                .collect();
            DataElement::new_with_len(tag, vr, length, DataSetSequence::new(items, length))
        }
        other => DataElement::new_with_len(tag, vr, header.len, other),
    }
}
