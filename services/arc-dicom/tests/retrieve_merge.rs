//! Header-only parsing of large objects agrees with the full parse, and current attributes
//! merged into stored objects (coercion) keep everything else as it was.

mod common;

use arc_dicom::{apply_overrides, parse_instance, parse_instance_header, to_explicit_vr_le};
use arc_model::{AttrValue, IndexAttrs, Overrides};
use common::fixture;

#[test]
fn header_only_parse_agrees_with_the_full_parse_before_pixel_data() {
    for name in [
        "CT_small.dcm",
        "MR_small.dcm",
        "JPEG2000.dcm",
        "rtdose_rle_1frame.dcm",
        "rtplan.dcm",
        "chrGreek.dcm",
        "image_dfl.dcm",
    ] {
        let bytes = fixture(name);
        let full = parse_instance(&bytes).unwrap();
        let head = parse_instance_header(std::io::Cursor::new(&bytes), bytes.len() as u64).unwrap();
        assert_eq!(head.attrs, full.attrs, "{name}");
        assert_eq!(
            (head.sop_instance_uid, head.transfer_syntax),
            (full.sop_instance_uid, full.transfer_syntax),
            "{name}"
        );
        let (h, f) = (
            head.header_json.as_object().unwrap(),
            full.header_json.as_object().unwrap(),
        );
        for (k, v) in f {
            if k.as_str() < "7FE00010" {
                assert_eq!(h.get(k), Some(v), "{name} {k}");
            }
        }
        assert_eq!(
            h.contains_key("7FE00010"),
            f.contains_key("7FE00010"),
            "{name}"
        );
    }
    // a header larger than the limit fails instead of reading on
    let bytes = fixture("CT_small.dcm");
    let cut = &bytes[..bytes.len() / 2];
    assert!(
        parse_instance_header(std::io::Cursor::new(cut), bytes.len() as u64)
            .is_ok_and(|p| p.study_uid.len() > 1)
    );
    assert!(parse_instance_header(std::io::Cursor::new(&b"garbage"[..]), 7).is_err());
}

#[test]
fn overrides_change_only_what_they_name() {
    let bytes = fixture("MR_small_implicit.dcm");
    let overrides = IndexAttrs::from([
        (
            "00100010".to_string(),
            AttrValue::text("PN", vec!["Ünïcode^Näme".into()]),
        ),
        (
            "00080080".to_string(),
            AttrValue::text("LO", vec!["Hospital".into()]),
        ),
        (
            "00280030".to_string(),
            AttrValue::text("DS", vec!["0.5".into(), "0.5".into()]),
        ),
        (
            "00104000".to_string(),
            AttrValue::text("LT", vec!["added".into()]),
        ),
    ]);
    let overrides = Overrides {
        attrs: overrides,
        reason: "COERCE",
        millis: 1_764_806_400_000,
    };
    let out = apply_overrides(&bytes, &overrides, "1.2.840.10008.1.2.1").unwrap();
    let got = parse_instance(&out).unwrap();
    assert_eq!(got.transfer_syntax, "1.2.840.10008.1.2.1");
    assert_eq!(got.attrs["00100010"].values, vec!["Ünïcode^Näme"]);
    assert_eq!(
        got.attrs["00080005"].values,
        vec!["ISO_IR 192"],
        "a value outside the default repertoire switches to UTF-8"
    );
    assert_eq!(got.header_json["00080080"]["Value"][0], "Hospital");
    assert_eq!(
        got.header_json["00280030"]["Value"],
        serde_json::json!([0.5, 0.5])
    );
    // everything else, pixel data included, is what the object had
    let plain = parse_instance(&to_explicit_vr_le(&bytes).unwrap()).unwrap();
    let (a, b) = (
        got.header_json.as_object().unwrap(),
        plain.header_json.as_object().unwrap(),
    );
    for (k, v) in b {
        if !["00100010", "00080080", "00280030", "00080005"].contains(&k.as_str()) {
            assert_eq!(a.get(k), Some(v), "{k}");
        }
    }
    // what was replaced is recorded (PS3.3 C.12.1.1.9), as the metadata merge records it
    let item = &got.header_json["04000561"]["Value"][0];
    let previous = &item["04000550"]["Value"][0];
    assert_eq!(previous["00100010"], plain.header_json["00100010"]);
    assert_eq!(previous["00280030"], plain.header_json["00280030"]);
    assert_eq!(previous["00080080"], plain.header_json["00080080"]);
    assert!(plain.header_json.get("00104000").is_none());
    assert_eq!(
        previous["00104000"],
        serde_json::json!({"vr": "LT"}),
        "an attribute the object lacked is recorded empty"
    );
    assert_eq!(got.header_json["00104000"]["Value"][0], "added");
    assert_eq!(item["04000565"]["Value"][0], "COERCE");
    assert_eq!(item["04000562"]["Value"][0], "20251204000000.000+0000");
    let mut merged = plain.header_json.clone();
    arc_dicom::merge_json(&mut merged, &overrides);
    assert_eq!(merged["04000561"], got.header_json["04000561"]);
    let px = |b: &[u8]| arc_dicom::bulk_value(b, "7FE00010").unwrap().unwrap();
    assert_eq!(px(&out), px(&bytes));
}
