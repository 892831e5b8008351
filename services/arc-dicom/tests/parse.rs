//! parse_instance on real files: UIDs, index attributes, character sets, the forms a
//! Part 10 object arrives in, and the broken files an archive must refuse.

mod common;

use arc_dicom::{parse_instance, DicomError};
use arc_model::AttrValue;
use common::{fixture, item, open, sequence, text, write};
use dicom_core::{Tag, VR};

fn values(p: &arc_dicom::ParsedInstance, key: &str) -> Vec<String> {
    p.attrs
        .get(key)
        .unwrap_or_else(|| panic!("{key} missing"))
        .values
        .clone()
}

#[test]
fn ct_small_uids_and_index_attributes() {
    let p = parse_instance(&fixture("CT_small.dcm")).unwrap();
    assert_eq!(p.study_uid, "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322");
    assert_eq!(
        p.series_uid,
        "1.3.6.1.4.1.5962.1.3.1.1.20040119072730.12322"
    );
    assert_eq!(
        p.sop_instance_uid,
        "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322"
    );
    assert_eq!(p.sop_class_uid, "1.2.840.10008.5.1.4.1.1.2");
    assert_eq!(p.transfer_syntax, "1.2.840.10008.1.2.1");
    assert_eq!(values(&p, "00100010"), ["CompressedSamples^CT1"]);
    assert_eq!(values(&p, "00100020"), ["1CT1"]);
    assert_eq!(values(&p, "00080060"), ["CT"]);
    assert_eq!(values(&p, "00080070"), ["GE MEDICAL SYSTEMS"]);
    assert_eq!(values(&p, "00080008"), ["ORIGINAL", "PRIMARY", "AXIAL"]);
    assert_eq!(values(&p, "00080005"), ["ISO_IR 100"]);
    assert_eq!(values(&p, "00280010"), ["128"]);
    assert_eq!(values(&p, "00200011"), ["1"]);
    assert_eq!(values(&p, "00101030"), ["0.000000"]);
    // present but empty: kept, without values
    assert_eq!(p.attrs["00080050"], AttrValue::text("SH", vec![]));
    assert_eq!(p.attrs["00100030"], AttrValue::text("DA", vec![]));
    // only indexed attributes
    assert!(!p.attrs.contains_key("00180050"));
    assert!(!p.attrs.contains_key("7FE00010"));
    // OtherPatientIDsSequence with only its indexed item keys (Type of Patient ID dropped)
    let other = &p.attrs["00101002"];
    assert_eq!(other.vr, "SQ");
    let ids: Vec<_> = other
        .items
        .iter()
        .map(|i| i["00100020"].values.clone())
        .collect();
    assert_eq!(ids, [["ABCD1234"], ["1234ABCD"]]);
    assert!(other.items.iter().all(|i| i.len() == 1));
}

#[test]
fn mr_small_is_the_same_in_every_native_encoding() {
    let le = parse_instance(&fixture("MR_small.dcm")).unwrap();
    assert_eq!(le.study_uid, "1.3.6.1.4.1.5962.1.2.4.20040826185059.5457");
    assert_eq!(
        le.sop_instance_uid,
        "1.3.6.1.4.1.5962.1.1.4.1.1.20040826185059.5457"
    );
    assert_eq!(values(&le, "00081060"), ["----"]);
    assert_eq!(values(&le, "00101030"), ["80.0000"]);
    for (name, ts) in [
        ("MR_small_implicit.dcm", "1.2.840.10008.1.2"),
        ("MR_small_bigendian.dcm", "1.2.840.10008.1.2.2"),
    ] {
        let other = parse_instance(&fixture(name)).unwrap();
        assert_eq!(other.transfer_syntax, ts);
        assert_eq!(other.sop_instance_uid, le.sop_instance_uid, "{name}");
        assert_eq!(other.attrs, le.attrs, "{name}");
    }
}

#[test]
fn text_is_decoded_per_specific_character_set() {
    let cases = [
        ("chrFren.dcm", "Buc^Jérôme"),
        ("chrGerm.dcm", "Äneas^Rüdiger"),
        ("chrRuss.dcm", "Люкceмбypг"),
        ("chrGreek.dcm", "Διονυσιος"),
        ("chrX1.dcm", "Wang^XiaoDong=王^小東"),
        ("chrX2.dcm", "Wang^XiaoDong=王^小东"),
    ];
    for (name, want) in cases {
        let p = parse_instance(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(values(&p, "00100010"), [want], "{name}");
        // "^^^^" is an empty name once trailing empty components are dropped
        assert_eq!(p.attrs["00080090"].values, Vec::<String>::new(), "{name}");
    }
    let multi = parse_instance(&fixture("chrFrenMulti.dcm")).unwrap();
    assert_eq!(
        multi.header_json["00101000"]["Value"],
        serde_json::json!(["eggs", "spam"])
    );
}

#[test]
fn iso_2022_code_extensions_are_decoded() {
    // PS3.5 H.3.1: every group decoded (the escape sequences switch to JIS X 0208); the
    // other character set files are tested in tests/charsets.rs.
    let p = parse_instance(&fixture("chrH31.dcm")).unwrap();
    assert_eq!(
        values(&p, "00100010"),
        ["Yamada^Tarou=\u{5c71}\u{7530}^\u{592a}\u{90ce}=\u{3084}\u{307e}\u{3060}^\u{305f}\u{308d}\u{3046}"]
    );
}

#[test]
fn known_tags_written_as_un_are_read_with_their_dictionary_vr() {
    let p = parse_instance(&fixture("rtdose_rle_1frame.dcm")).unwrap();
    assert_eq!(
        p.attrs["00100010"],
        AttrValue::text("PN", vec!["Lastname^Firstname".into()])
    );
    assert_eq!(p.attrs["00080050"], AttrValue::text("SH", vec![]));
    // the header JSON too: a standard tag's UN bytes are its value in Implicit VR LE
    // (PS3.5 6.2.2), so metadata and QIDO agree
    assert_eq!(
        p.header_json["00100010"],
        serde_json::json!({"vr": "PN", "Value": [{"Alphabetic": "Lastname^Firstname"}]})
    );
}

#[test]
fn part10_without_preamble_or_magic_parses_the_same() {
    let full = fixture("MR_small.dcm");
    let want = parse_instance(&full).unwrap();
    assert_eq!(&full[128..132], b"DICM");
    assert_eq!(parse_instance(&full[128..]).unwrap(), want, "from DICM");
    assert_eq!(
        parse_instance(&full[132..]).unwrap(),
        want,
        "from the (0002,xxxx) group"
    );
}

#[test]
fn meta_without_group_length_is_accepted() {
    // the meta group is read element by element; this file then lacks the study UID
    let err = parse_instance(&fixture("no_meta_group_length.dcm")).unwrap_err();
    assert!(
        matches!(err, DicomError::MissingAttribute("StudyInstanceUID")),
        "{err}"
    );
}

#[test]
fn declared_explicit_but_implicit_data_set_is_read() {
    let p = parse_instance(&fixture("SC_rgb_jpeg.dcm")).unwrap();
    assert_eq!(p.transfer_syntax, "1.2.840.10008.1.2.4.50");
    assert_eq!(values(&p, "00280004"), ["RGB"]);
    assert_eq!(
        p.header_json["7FE00010"]["BulkDataURI"],
        "bulkdata/7FE00010"
    );
}

#[test]
fn broken_files_are_refused() {
    let err = |name: &str| parse_instance(&fixture(name)).unwrap_err();
    assert!(matches!(err("no_meta.dcm"), DicomError::NoMetaHeader));
    assert!(matches!(
        err("meta_missing_tsyntax.dcm"),
        DicomError::MissingTransferSyntax
    ));
    assert!(matches!(
        err("MR_truncated.dcm"),
        DicomError::Unreadable { .. }
    ));
    assert!(matches!(
        err("rtplan_truncated.dcm"),
        DicomError::Unreadable { .. }
    ));
    // dicom-rs cannot read UN sequences encoded in implicit VR (a known gap)
    assert!(matches!(
        err("UN_sequence.dcm"),
        DicomError::Unreadable { .. }
    ));
    for junk in [
        &b""[..],
        b"DICM",
        b"\x02\x00",
        &[0u8; 200][..],
        b"not dicom at all",
    ] {
        assert!(parse_instance(junk).is_err());
    }
}

#[test]
fn cuts_of_a_file_fail_cleanly() {
    let full = fixture("MR_small.dcm");
    // MR_small: Pixel Data header at 1488, 8192 bytes of value, then trailing padding
    let (pixel_start, pixel_end) = (1488, 1488 + 12 + 8192);
    assert_eq!(&full[pixel_start..pixel_start + 4], b"\xE0\x7F\x10\x00");
    for cut in (0..full.len())
        .step_by(37)
        .chain([pixel_start + 1, pixel_start + 12, pixel_end - 1])
    {
        let result = parse_instance(&full[..cut]);
        // a cut at an element boundary is a valid, shorter object; inside an element it fails
        if cut > pixel_start && cut < pixel_end {
            assert!(
                matches!(result, Err(DicomError::Unreadable { .. })),
                "cut at {cut}"
            );
        }
    }
    // a huge length in a small file fails at once, without reserving the memory
    let mut huge = full.clone();
    huge[pixel_start + 8..pixel_start + 12].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    match parse_instance(&huge) {
        Err(DicomError::Unreadable { reason, .. }) => {
            assert!(reason.contains("claims"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    // a partial element header after the last element
    let mut longer = full.clone();
    longer.extend_from_slice(&[0xE0, 0x7F]);
    assert!(matches!(
        parse_instance(&longer),
        Err(DicomError::Unreadable { .. })
    ));
}

#[test]
fn missing_uids_are_reported_and_meta_uids_never_substitute() {
    let cases = [
        (Tag(0x0020, 0x000D), "StudyInstanceUID"),
        (Tag(0x0020, 0x000E), "SeriesInstanceUID"),
        (Tag(0x0008, 0x0018), "SOPInstanceUID"),
        (Tag(0x0008, 0x0016), "SOPClassUID"),
    ];
    for (tag, keyword) in cases {
        let mut file = open("MR_small.dcm");
        assert!(file.remove_element(tag));
        let bytes = write(&file);
        match parse_instance(&bytes) {
            Err(DicomError::MissingAttribute(k)) => assert_eq!(k, keyword),
            other => panic!("{keyword}: {other:?}"),
        }
        // present but empty is missing too
        let mut file = open("MR_small.dcm");
        file.put(text(tag, VR::UI, ""));
        assert!(
            matches!(parse_instance(&write(&file)), Err(DicomError::MissingAttribute(k)) if k == keyword)
        );
    }
}

#[test]
fn request_attributes_sequence_keeps_its_indexed_item_keys() {
    let mut file = open("MR_small.dcm");
    file.put(sequence(
        Tag(0x0040, 0x0275),
        vec![item(vec![
            text(Tag(0x0008, 0x0050), VR::SH, "ACC-1"),
            text(Tag(0x0040, 0x1400), VR::LT, "not indexed"),
            text(Tag(0x0040, 0x0009), VR::SH, "SPS-1"),
            text(Tag(0x0040, 0x1001), VR::SH, "RP-1"),
        ])],
    ));
    let p = parse_instance(&write(&file)).unwrap();
    let seq = &p.attrs["00400275"];
    assert_eq!(seq.vr, "SQ");
    let item = &seq.items[0];
    assert_eq!(
        item.keys().collect::<Vec<_>>(),
        ["00080050", "00400009", "00401001"]
    );
    assert_eq!(item["00401001"].values, ["RP-1"]);
}
