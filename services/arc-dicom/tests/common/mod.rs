//! Shared helpers for arc-dicom's integration tests: fixtures and dicom-rs edits.
#![allow(dead_code)]

use dicom_core::value::{DataSetSequence, Value};
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_object::{DefaultDicomObject, InMemDicomObject, OpenFileOptions};

/// The bytes of a file in `tests/fixtures`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A fixture opened with dicom-rs, for building variants.
pub fn open(name: &str) -> DefaultDicomObject {
    OpenFileOptions::new()
        .from_reader(fixture(name).as_slice())
        .expect("dicom-rs opens the fixture")
}

/// A Part 10 file from a dicom-rs object.
pub fn write(file: &DefaultDicomObject) -> Vec<u8> {
    let mut out = Vec::new();
    file.write_all(&mut out).expect("dicom-rs writes");
    out
}

/// A text element.
pub fn text(tag: Tag, vr: VR, value: &str) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, vr, PrimitiveValue::from(value))
}

/// A sequence element with the given items.
pub fn sequence(tag: Tag, items: Vec<InMemDicomObject>) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, VR::SQ, Value::from(DataSetSequence::from(items)))
}

/// An item made of the given elements.
pub fn item(elements: Vec<DataElement<InMemDicomObject>>) -> InMemDicomObject {
    InMemDicomObject::from_element_iter(elements)
}

/// The tag keyed `GGGGEEEE`'s entry in a DICOM JSON object.
pub fn get<'a>(json: &'a serde_json::Value, key: &str) -> &'a serde_json::Value {
    json.get(key).unwrap_or_else(|| panic!("{key} missing"))
}
