//! DICOM JSON (PS3.18 Annex F) of real files, bulk data URIs and `bulk_value`, and
//! `attrs_to_json`.

mod common;

use arc_dicom::{attrs_to_json, bulk_value, header_json, parse_instance, DicomError};
use arc_model::{AttrValue, IndexAttrs};
use common::{fixture, get, item, open, sequence, text, write};
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use serde_json::json;

#[test]
fn rtplan_sequences_nest_with_their_items() {
    let j = parse_instance(&fixture("rtplan.dcm")).unwrap().header_json;
    assert!(
        j.as_object()
            .unwrap()
            .keys()
            .all(|k| !k.starts_with("0002")),
        "no meta group"
    );
    assert_eq!(
        get(&j, "00100010"),
        &json!({"vr": "PN", "Value": [{"Alphabetic": "Last^First^mid^pre"}]})
    );
    assert_eq!(get(&j, "00200011"), &json!({"vr": "IS", "Value": [2]}));
    assert_eq!(get(&j, "00080090"), &json!({"vr": "PN"}));
    assert_eq!(get(&j, "00080050"), &json!({"vr": "SH"}));
    let referenced = &get(&j, "300C0060")["Value"][0];
    assert_eq!(
        referenced["00081155"],
        json!({"vr": "UI", "Value": ["1.2.333.444.55.6.7777.88888"]})
    );
    // BeamSequence > ControlPointSequence > BeamLimitingDevicePositionSequence
    let beam = &get(&j, "300A00B0")["Value"][0];
    assert_eq!(beam["300A00B0"], serde_json::Value::Null);
    let control_points = &beam["300A0111"];
    assert_eq!(control_points["vr"], "SQ");
    assert_eq!(control_points["Value"].as_array().unwrap().len(), 2);
    let jaws = &control_points["Value"][0]["300A011A"]["Value"];
    assert_eq!(jaws[1]["300A00B8"], json!({"vr": "CS", "Value": ["Y"]}));
    assert_eq!(
        jaws[1]["300A011C"],
        json!({"vr": "DS", "Value": [-100.0, 100.0]})
    );
}

#[test]
fn ct_small_numbers_private_tags_and_binary() {
    let j = parse_instance(&fixture("CT_small.dcm"))
        .unwrap()
        .header_json;
    assert_eq!(
        get(&j, "00091001"),
        &json!({"vr": "LO", "Value": ["GE_GENESIS_FF"]}),
        "private"
    );
    assert_eq!(get(&j, "00280010"), &json!({"vr": "US", "Value": [128]}));
    assert_eq!(get(&j, "00280120"), &json!({"vr": "SS", "Value": [-2000]}));
    assert_eq!(
        get(&j, "000910E7"),
        &json!({"vr": "UL", "Value": [973283917]})
    );
    assert_eq!(get(&j, "00271042"), &json!({"vr": "FL", "Value": [-11.2]}));
    assert_eq!(
        get(&j, "00231070"),
        &json!({"vr": "FD", "Value": [862399761.111079]})
    );
    assert_eq!(
        get(&j, "00200032"),
        &json!({"vr": "DS", "Value": [-158.135803, -179.035797, -75.699997]})
    );
    assert_eq!(get(&j, "00081030"), &json!({"vr": "LO", "Value": ["e+1"]}));
    assert_eq!(
        get(&j, "7FE00010"),
        &json!({"vr": "OW", "BulkDataURI": "bulkdata/7FE00010"})
    );
    assert_eq!(
        get(&j, "00431029"),
        &json!({"vr": "OB", "BulkDataURI": "bulkdata/00431029"})
    );
    assert_eq!(get(&j, "0043102A")["vr"], "OB");
    assert_eq!(
        get(&j, "0043102A")["InlineBinary"],
        "Q1QwMQAAAEhpU3BlZWQgQ1QvaQAwNTA1ejo9fAAAAAAAAAAAAAAAAA=="
    );
    let other_ids = &get(&j, "00101002")["Value"];
    assert_eq!(
        other_ids[1]["00100022"],
        json!({"vr": "CS", "Value": ["TEXT"]})
    );
}

#[test]
fn nested_private_sequences_and_un_values() {
    let j = header_json(&fixture("nested_priv_SQ.dcm")).unwrap();
    let outer = get(&j, "00010001");
    assert_eq!(outer["vr"], "SQ");
    let inner = &outer["Value"][0];
    assert_eq!(
        inner["00010002"],
        json!({"vr": "UN", "InlineBinary": "TmVzdGVkIFNR"})
    );
    assert_eq!(
        inner["00010001"]["Value"][0]["00010001"]["InlineBinary"],
        "RG91YmxlIE5lc3RlZCBTUQ=="
    );
    // Pixel Data is always bulk data, even 2 bytes of it
    assert_eq!(
        get(&j, "7FE00010"),
        &json!({"vr": "OW", "BulkDataURI": "bulkdata/7FE00010"})
    );
}

#[test]
fn special_values_in_json() {
    let mut file = open("MR_small.dcm");
    file.put(text(Tag(0x0008, 0x0005), VR::CS, "ISO_IR 192"));
    file.put(text(Tag(0x0020, 0x0012), VR::IS, "12a")); // unparsable IS stays a string
    file.put(text(Tag(0x0018, 0x0050), VR::DS, "2.5\\\\1e3")); // empty middle value is null
    file.put(DataElement::new(
        Tag(0x0018, 0x9328),
        VR::FD,
        PrimitiveValue::from(f64::NAN),
    ));
    file.put(DataElement::new(
        Tag(0x0020, 0x9165),
        VR::AT,
        PrimitiveValue::from(Tag(0x0020, 0x000D)),
    ));
    file.put(text(
        Tag(0x0008, 0x0090),
        VR::PN,
        "Yamada^Tarou=山田^太郎=やまだ^たろう",
    ));
    file.put(DataElement::new(
        Tag(0x0028, 0x1201),
        VR::OW,
        PrimitiveValue::Empty,
    ));
    let j = parse_instance(&write(&file)).unwrap().header_json;
    assert_eq!(get(&j, "00200012"), &json!({"vr": "IS", "Value": ["12a"]}));
    assert_eq!(
        get(&j, "00180050"),
        &json!({"vr": "DS", "Value": [2.5, null, 1000.0]})
    );
    assert_eq!(get(&j, "00189328"), &json!({"vr": "FD", "Value": ["NaN"]}));
    assert_eq!(
        get(&j, "00209165"),
        &json!({"vr": "AT", "Value": ["0020000D"]})
    );
    assert_eq!(
        get(&j, "00281201"),
        &json!({"vr": "OW"}),
        "empty binary: neither Value nor URI"
    );
    assert_eq!(
        get(&j, "00080090")["Value"][0],
        json!({"Alphabetic": "Yamada^Tarou", "Ideographic": "山田^太郎", "Phonetic": "やまだ^たろう"})
    );
}

/// MR_small with an Icon Image Sequence holding 2000 bytes of OB pixel data, 1500 bytes
/// of OW and a short private OB value.
fn with_nested_bulk() -> Vec<u8> {
    let mut file = open("MR_small.dcm");
    let pixels: Vec<u8> = (0..2000u32).map(|i| (i % 251) as u8).collect();
    let words: Vec<u16> = (0..750u16).map(|i| i.wrapping_mul(257)).collect();
    file.put(sequence(
        Tag(0x0088, 0x0200),
        vec![item(vec![
            text(Tag(0x0009, 0x0010), VR::LO, "ARCSTREAM TEST"),
            DataElement::new(
                Tag(0x0009, 0x1001),
                VR::OB,
                PrimitiveValue::from(vec![1u8, 2, 3, 4]),
            ),
            DataElement::new(
                Tag(0x0028, 0x3006),
                VR::OW,
                PrimitiveValue::U16(words.into()),
            ),
            DataElement::new(Tag(0x7FE0, 0x0010), VR::OB, PrimitiveValue::from(pixels)),
        ])],
    ));
    write(&file)
}

#[test]
fn nested_bulk_data_gets_relative_paths() {
    let bytes = with_nested_bulk();
    let j = header_json(&bytes).unwrap();
    let icon = &get(&j, "00880200")["Value"][0];
    assert_eq!(
        icon["7FE00010"],
        json!({"vr": "OB", "BulkDataURI": "bulkdata/00880200/0/7FE00010"})
    );
    assert_eq!(
        icon["00283006"],
        json!({"vr": "OW", "BulkDataURI": "bulkdata/00880200/0/00283006"})
    );
    assert_eq!(
        icon["00091001"],
        json!({"vr": "OB", "InlineBinary": "AQIDBA=="})
    );
    let pixels = bulk_value(&bytes, "00880200/0/7FE00010").unwrap().unwrap();
    assert_eq!(pixels.len(), 2000);
    assert_eq!(pixels[300], (300 % 251) as u8);
    let words = bulk_value(&bytes, "bulkdata/00880200/0/00283006")
        .unwrap()
        .unwrap();
    assert_eq!(&words[2..4], &257u16.to_le_bytes());
    assert_eq!(
        bulk_value(&bytes, "00880200/1/7FE00010").unwrap(),
        None,
        "no such item"
    );
    assert_eq!(
        bulk_value(&bytes, "00880200/0/7FE00011").unwrap(),
        None,
        "no such tag"
    );
    for bad in [
        "",
        "7FE0001",
        "00880200/x/7FE00010",
        "00880200/0",
        "00880200//7FE00010",
        "zzzzzzzz",
    ] {
        assert!(
            matches!(bulk_value(&bytes, bad), Err(DicomError::BadPath(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn pixel_data_is_little_endian_whatever_the_source() {
    let want = bulk_value(&fixture("MR_small.dcm"), "7FE00010")
        .unwrap()
        .unwrap();
    assert_eq!(want.len(), 64 * 64 * 2);
    for name in ["MR_small_implicit.dcm", "MR_small_bigendian.dcm"] {
        assert_eq!(
            bulk_value(&fixture(name), "7FE00010").unwrap().unwrap(),
            want,
            "{name}"
        );
    }
    let rgb = bulk_value(&fixture("SC_rgb_small_odd.dcm"), "7FE00010")
        .unwrap()
        .unwrap();
    let rgb_be = bulk_value(&fixture("SC_rgb_small_odd_big_endian.dcm"), "7FE00010")
        .unwrap()
        .unwrap();
    assert_eq!(rgb, rgb_be);
}

#[test]
fn encapsulated_pixel_data_is_bulk_but_not_served_yet() {
    let bytes = fixture("JPEG2000.dcm");
    let j = header_json(&bytes).unwrap();
    assert_eq!(
        get(&j, "7FE00010"),
        &json!({"vr": "OB", "BulkDataURI": "bulkdata/7FE00010"})
    );
    assert!(matches!(
        bulk_value(&bytes, "7FE00010"),
        Err(DicomError::Unsupported(_))
    ));
}

#[test]
fn attrs_to_json_agrees_with_the_header() {
    for name in ["CT_small.dcm", "MR_small.dcm", "chrX1.dcm", "rtplan.dcm"] {
        let p = parse_instance(&fixture(name)).unwrap();
        let from_attrs = attrs_to_json(&p.attrs);
        for (key, attr) in &p.attrs {
            if attr.vr == "SQ" {
                continue; // items are filtered to the indexed keys
            }
            assert_eq!(from_attrs[key], p.header_json[key], "{name} {key}");
        }
    }
}

#[test]
fn attrs_to_json_rules() {
    let mut other = IndexAttrs::new();
    other.insert("00100020".into(), AttrValue::text("LO", vec!["X1".into()]));
    let mut attrs = IndexAttrs::new();
    attrs.insert(
        "00100010".into(),
        AttrValue::text("PN", vec!["Doe^J".into(), "".into(), "=D".into()]),
    );
    attrs.insert(
        "00101030".into(),
        AttrValue::text("DS", vec!["72.5".into(), "heavy".into()]),
    );
    attrs.insert("00280010".into(), AttrValue::text("US", vec!["512".into()]));
    attrs.insert("00080050".into(), AttrValue::text("SH", vec![]));
    attrs.insert(
        "00101002".into(),
        AttrValue {
            vr: "SQ".into(),
            values: vec![],
            items: vec![other],
        },
    );
    attrs.insert(
        "00400275".into(),
        AttrValue {
            vr: "SQ".into(),
            values: vec![],
            items: vec![],
        },
    );
    assert_eq!(
        attrs_to_json(&attrs),
        json!({
            "00080050": {"vr": "SH"},
            "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Doe^J"}, null, {"Ideographic": "D"}]},
            "00101002": {"vr": "SQ", "Value": [{"00100020": {"vr": "LO", "Value": ["X1"]}}]},
            "00101030": {"vr": "DS", "Value": [72.5, "heavy"]},
            "00280010": {"vr": "US", "Value": [512]},
            "00400275": {"vr": "SQ"},
        })
    );
}

/// explicit_VR-UN.dcm (pydicom-data) writes its standard attributes with VR UN: the header
/// gives them their dictionary VR, decoded as Implicit VR Little Endian (PS3.5 6.2.2), as
/// the index does; the private ones stay UN. Expected values as pydicom reads the file.
#[test]
fn standard_attributes_written_as_un_get_their_dictionary_vr() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/un/explicit_VR-UN.dcm");
    let bytes = std::fs::read(&path).unwrap();
    let p = parse_instance(&bytes).unwrap();
    let j = &p.header_json;
    assert_eq!(
        j["00080016"],
        json!({"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.2"]})
    );
    assert_eq!(j["00080060"], json!({"vr": "CS", "Value": ["CT"]}));
    assert_eq!(
        j["00080008"],
        json!({"vr": "CS", "Value": ["ORIGINAL", "PRIMARY", "AXIAL"]})
    );
    assert_eq!(
        j["00100010"],
        json!({"vr": "PN", "Value": [{"Alphabetic": "PANCREAS_0001"}]})
    );
    assert_eq!(j["00280010"], json!({"vr": "US", "Value": [512]}));
    assert_eq!(j["00280103"], json!({"vr": "US", "Value": [1]}));
    assert_eq!(j["00200013"], json!({"vr": "IS", "Value": [122]}));
    assert_eq!(j["00200032"], json!({"vr": "DS", "Value": [0, 0, -121]}));
    assert_eq!(
        j["00280030"],
        json!({"vr": "DS", "Value": [0.859375, 0.859375]})
    );
    assert_eq!(j["00080050"], json!({"vr": "SH"})); // empty: no Value (PS3.18 F.2.5)
    assert_eq!(j["00131010"]["vr"], "UN"); // private: its VR is unknown
    assert_eq!(j["7FE00010"]["vr"], "OB");
    // the header agrees with the index attributes
    assert_eq!(p.attrs["00080060"].values, vec!["CT"]);
}
