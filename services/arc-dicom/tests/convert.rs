//! Transfer syntax conversion to Explicit VR Little Endian, checked by reading the
//! result back and comparing with the source.

mod common;

use arc_dicom::ts::{self, is_encapsulated};
use arc_dicom::{bulk_value, parse_instance, to_explicit_vr_le, DicomError};
use common::{fixture, open, write};
use dicom_transfer_syntax_registry::entries::IMPLICIT_VR_LITTLE_ENDIAN;

/// Checks the Part 10 framing: zero preamble, `DICM`, a (0002,0000) group length that
/// matches the meta elements, Transfer Syntax UID Explicit VR Little Endian.
fn assert_part10_explicit_le(bytes: &[u8]) {
    assert!(bytes[..128].iter().all(|&b| b == 0), "preamble");
    assert_eq!(&bytes[128..132], b"DICM");
    assert_eq!(&bytes[132..140], b"\x02\x00\x00\x00UL\x04\x00");
    let group_len = u32::from_le_bytes(bytes[140..144].try_into().unwrap()) as usize;
    let mut pos = 144;
    let mut ts = None;
    while bytes[pos..pos + 2] == [0x02, 0x00] {
        let element = u16::from_le_bytes([bytes[pos + 2], bytes[pos + 3]]);
        let vr = &bytes[pos + 4..pos + 6];
        let (header, len) = if matches!(vr, b"OB" | b"UN" | b"UT") {
            (
                12,
                u32::from_le_bytes(bytes[pos + 8..pos + 12].try_into().unwrap()) as usize,
            )
        } else {
            (
                8,
                u16::from_le_bytes([bytes[pos + 6], bytes[pos + 7]]) as usize,
            )
        };
        if element == 0x0010 {
            ts = Some(
                String::from_utf8_lossy(&bytes[pos + header..pos + header + len]).into_owned(),
            );
        }
        pos += header + len;
    }
    assert_eq!(pos - 144, group_len, "group length");
    assert_eq!(
        ts.as_deref().map(|t| t.trim_end_matches('\0')),
        Some(ts::EXPLICIT_VR_LE)
    );
}

#[test]
fn transfer_syntax_classification() {
    for native in [
        ts::IMPLICIT_VR_LE,
        ts::EXPLICIT_VR_LE,
        ts::EXPLICIT_VR_BE,
        ts::DEFLATED_EXPLICIT_VR_LE,
    ] {
        assert!(!is_encapsulated(native), "{native}");
    }
    assert!(!is_encapsulated("1.2.840.10008.1.2.1\0"));
    for encapsulated in [
        ts::JPEG_BASELINE,
        ts::JPEG_2000,
        ts::RLE_LOSSLESS,
        ts::JPEG_LS_LOSSLESS,
        ts::HTJ2K,
        ts::ENCAPSULATED_UNCOMPRESSED_LE,
        "1.2.840.10008.1.2.4.102",
        "1.3.46.670589.33.1.4.1",
    ] {
        assert!(is_encapsulated(encapsulated), "{encapsulated}");
    }
}

#[test]
fn implicit_and_big_endian_mr_become_mr_small() {
    let reference = parse_instance(&fixture("MR_small.dcm")).unwrap();
    let pixels = bulk_value(&fixture("MR_small.dcm"), "7FE00010")
        .unwrap()
        .unwrap();
    for name in ["MR_small_implicit.dcm", "MR_small_bigendian.dcm"] {
        let converted = to_explicit_vr_le(&fixture(name)).unwrap();
        assert_part10_explicit_le(&converted);
        let p = parse_instance(&converted).unwrap();
        assert_eq!(p.transfer_syntax, ts::EXPLICIT_VR_LE);
        assert_eq!(p.attrs, reference.attrs, "{name}");
        assert_eq!(p.header_json, reference.header_json, "{name}");
        assert_eq!(
            bulk_value(&converted, "7FE00010").unwrap().unwrap(),
            pixels,
            "{name}"
        );
    }
}

#[test]
fn big_endian_rgb_keeps_its_bytes() {
    let converted = to_explicit_vr_le(&fixture("SC_rgb_small_odd_big_endian.dcm")).unwrap();
    assert_part10_explicit_le(&converted);
    let want = bulk_value(&fixture("SC_rgb_small_odd.dcm"), "7FE00010")
        .unwrap()
        .unwrap();
    assert_eq!(bulk_value(&converted, "7FE00010").unwrap().unwrap(), want);
}

#[test]
fn deflated_becomes_plain_explicit_le() {
    let source = fixture("image_dfl.dcm");
    let converted = to_explicit_vr_le(&source).unwrap();
    assert_part10_explicit_le(&converted);
    let (a, b) = (
        arc_dicom::header_json(&source).unwrap(),
        arc_dicom::header_json(&converted).unwrap(),
    );
    assert_eq!(a, b);
    let pixels = bulk_value(&source, "7FE00010").unwrap().unwrap();
    assert!(!pixels.is_empty());
    assert_eq!(bulk_value(&converted, "7FE00010").unwrap().unwrap(), pixels);
}

#[test]
fn implicit_private_sequences_survive() {
    let source = fixture("nested_priv_SQ.dcm");
    let converted = to_explicit_vr_le(&source).unwrap();
    assert_part10_explicit_le(&converted);
    let (mut before, after) = (
        arc_dicom::header_json(&source).unwrap(),
        arc_dicom::header_json(&converted).unwrap(),
    );
    // the odd-length UN value "Nested SQ" is padded to even length (PS3.5 7.1.1)
    let odd = &mut before["00010001"]["Value"][0]["00010002"]["InlineBinary"];
    assert_eq!(odd, "TmVzdGVkIFNR");
    *odd = "TmVzdGVkIFNRAA==".into();
    assert_eq!(after, before);
}

#[test]
fn explicit_le_keeps_its_data_set_bytes() {
    let source = fixture("MR_small.dcm");
    let converted = to_explicit_vr_le(&source).unwrap();
    assert_part10_explicit_le(&converted);
    let dataset_start =
        |b: &[u8]| 144 + u32::from_le_bytes(b[140..144].try_into().unwrap()) as usize;
    assert_eq!(
        &converted[dataset_start(&converted)..],
        &source[dataset_start(&source)..]
    );
    // also from a file that starts at the meta group
    assert_eq!(to_explicit_vr_le(&source[132..]).unwrap(), converted);
}

#[test]
fn meta_without_group_length_gets_one() {
    let converted = to_explicit_vr_le(&fixture("no_meta_group_length.dcm")).unwrap();
    assert_part10_explicit_le(&converted);
}

#[test]
fn text_survives_re_encoding_in_its_character_set() {
    for (name, want) in [
        ("chrRuss.dcm", "Люкceмбypг"),
        ("chrX2.dcm", "Wang^XiaoDong=王^小东"),
        ("chrGerm.dcm", "Äneas^Rüdiger"),
    ] {
        let mut file = open(name);
        file.update_meta(|m| m.set_transfer_syntax(&IMPLICIT_VR_LITTLE_ENDIAN));
        let implicit = write(&file);
        assert_eq!(
            parse_instance(&implicit).unwrap().transfer_syntax,
            ts::IMPLICIT_VR_LE
        );
        let converted = to_explicit_vr_le(&implicit).unwrap();
        let p = parse_instance(&converted).unwrap();
        assert_eq!(p.attrs["00100010"].values, [want], "{name}");
        let original = parse_instance(&fixture(name)).unwrap().header_json;
        for (key, value) in original.as_object().unwrap() {
            // Pixel Data read in Implicit VR is OW (PS3.5 A.1), the source had OB
            if key != "7FE00010" {
                assert_eq!(&p.header_json[key], value, "{name} {key}");
            }
        }
        let pixels = bulk_value(&fixture(name), "7FE00010").unwrap().unwrap();
        assert_eq!(
            bulk_value(&converted, "7FE00010").unwrap().unwrap(),
            pixels,
            "{name}"
        );
    }
}

#[test]
fn encapsulated_and_broken_input_is_refused() {
    match to_explicit_vr_le(&fixture("JPEG2000.dcm")) {
        Err(DicomError::NeedsDecompression(uid)) => assert_eq!(uid, ts::JPEG_2000),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        to_explicit_vr_le(&fixture("no_meta.dcm")),
        Err(DicomError::NoMetaHeader)
    ));
    assert!(matches!(
        to_explicit_vr_le(&fixture("rtplan_truncated.dcm")),
        Err(DicomError::Unreadable { .. })
    ));
    assert!(matches!(
        to_explicit_vr_le(&fixture("meta_missing_tsyntax.dcm")),
        Err(DicomError::MissingTransferSyntax)
    ));
}
