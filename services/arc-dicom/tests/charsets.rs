//! Every file of pydicom's character set test folder (copied to the repository's
//! `tests/fixtures/pydicom-charsets`): names and texts decoded to UTF-8 in the index
//! attributes and in the DICOM JSON header, with the expected strings as pydicom 3.0.1 reads
//! the same files (`str(ds.PatientName)`, `ds.OperatorsName`, …).

use arc_dicom::{header_json, parse_instance};
use serde_json::json;
use std::io::Read;

fn charset_file(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/pydicom-charsets")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Patient's Name of each file as pydicom decodes it.
const NAMES: &[(&str, &str)] = &[
    ("chrArab.dcm", "\u{642}\u{628}\u{627}\u{646}\u{64a}^\u{644}\u{646}\u{632}\u{627}\u{631}"),
    ("chrFren.dcm", "Buc^J\u{e9}r\u{f4}me"),
    ("chrFrenMulti.dcm", "Buc^J\u{e9}r\u{f4}me"),
    ("chrGerm.dcm", "\u{c4}neas^R\u{fc}diger"),
    ("chrGreek.dcm", "\u{394}\u{3b9}\u{3bf}\u{3bd}\u{3c5}\u{3c3}\u{3b9}\u{3bf}\u{3c2}"),
    ("chrH31.dcm", "Yamada^Tarou=\u{5c71}\u{7530}^\u{592a}\u{90ce}=\u{3084}\u{307e}\u{3060}^\u{305f}\u{308d}\u{3046}"),
    ("chrH32.dcm", "\u{ff94}\u{ff8f}\u{ff80}\u{ff9e}^\u{ff80}\u{ff9b}\u{ff73}=\u{5c71}\u{7530}^\u{592a}\u{90ce}=\u{3084}\u{307e}\u{3060}^\u{305f}\u{308d}\u{3046}"),
    ("chrHbrw.dcm", "\u{5e9}\u{5e8}\u{5d5}\u{5df}^\u{5d3}\u{5d1}\u{5d5}\u{5e8}\u{5d4}"),
    ("chrI2.dcm", "Hong^Gildong=\u{6d2a}^\u{5409}\u{6d1e}=\u{d64d}^\u{ae38}\u{b3d9}"),
    ("chrJapMulti.dcm", "\u{3084}\u{307e}\u{3060}^\u{305f}\u{308d}\u{3046}"),
    ("chrJapMultiExplicitIR6.dcm", "\u{3084}\u{307e}\u{3060}^\u{305f}\u{308d}\u{3046}"),
    ("chrKoreanMulti.dcm", "\u{ae40}\u{d76c}\u{c911}"),
    ("chrRuss.dcm", "\u{41b}\u{44e}\u{43a}ce\u{43c}\u{431}yp\u{433}"),
    ("chrX1.dcm", "Wang^XiaoDong=\u{738b}^\u{5c0f}\u{6771}"),
    ("chrX2.dcm", "Wang^XiaoDong=\u{738b}^\u{5c0f}\u{4e1c}"),
];

#[test]
fn patient_names_of_every_character_set() {
    for (file, want) in NAMES {
        let p = parse_instance(&charset_file(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(p.attrs["00100010"].values, [*want], "{file}");
        // the JSON header splits the groups (PS3.18 F.2.2)
        let groups: Vec<&str> = want.split('=').collect();
        let pn = &p.header_json["00100010"]["Value"][0];
        assert_eq!(pn["Alphabetic"], groups[0], "{file}");
        for (i, group) in ["Ideographic", "Phonetic"].iter().enumerate() {
            if let Some(g) = groups.get(i + 1) {
                assert_eq!(pn[*group], *g, "{file}");
            }
        }
    }
}

#[test]
fn other_text_attributes_use_the_same_sets() {
    let korean = parse_instance(&charset_file("chrKoreanMulti.dcm")).unwrap();
    let kim = "\u{ae40}\u{d76c}\u{c911}";
    assert_eq!(
        korean.header_json["00081070"]["Value"][0]["Alphabetic"],
        kim
    );
    assert_eq!(korean.header_json["001021B0"]["Value"], json!([kim]));
    assert_eq!(
        korean.header_json["00101001"]["Value"],
        json!([{"Alphabetic": kim}, {"Alphabetic": kim}])
    );
    assert_eq!(korean.header_json["00081030"]["Value"], json!(["Chest"]));
    let japanese = parse_instance(&charset_file("chrJapMulti.dcm")).unwrap();
    assert_eq!(
        japanese.header_json["001021B0"]["Value"],
        json!(["\u{305f}\u{308d}\u{3046}"])
    );
    assert_eq!(japanese.header_json["00081010"]["Value"], json!(["CR250"]));
}

#[test]
fn sequence_items_use_their_own_or_their_parents_sets() {
    let want = json!([{
        "Alphabetic": "\u{ff94}\u{ff8f}\u{ff80}\u{ff9e}^\u{ff80}\u{ff9b}\u{ff73}",
        "Ideographic": "\u{5c71}\u{7530}^\u{592a}\u{90ce}",
        "Phonetic": "\u{3084}\u{307e}\u{3060}^\u{305f}\u{308d}\u{3046}"
    }]);
    // chrSQEncoding: ISO_IR 192 data set, item with ISO 2022 IR 13 / IR 87 of its own;
    // chrSQEncoding1: the ISO 2022 sets in the data set only, inherited by the item.
    for file in ["chrSQEncoding.dcm", "chrSQEncoding1.dcm"] {
        let j = header_json(&charset_file(file)).unwrap();
        let item = &j["00321064"]["Value"][0];
        assert_eq!(item["00100010"]["Value"], want, "{file}");
        assert_eq!(item["00080100"]["Value"], json!(["CodeValue"]), "{file}");
        assert_eq!(
            j["00321032"]["Value"][0]["Alphabetic"], "Doctor^Who^^MD",
            "{file}"
        );
    }
}

#[test]
fn raw_conversion_keeps_the_stored_text_bytes() {
    // Implicit VR re-encoding must not pass the text through a codec: the ISO 2022 bytes of
    // the name come out exactly as stored.
    let bytes = charset_file("chrH31.dcm");
    let converted = arc_dicom::to_explicit_vr_le(&bytes).unwrap();
    let needle = b"Yamada^Tarou=\x1b$B;3ED\x1b(B";
    assert!(converted.windows(needle.len()).any(|w| w == needle));
}

/// The top-level elements of an Explicit VR Little Endian Part 10 file: (offset, end, tag)
/// of each, and where the data set starts. Defined lengths only (as in these fixtures).
fn top_level(bytes: &[u8]) -> (usize, Vec<(usize, usize, u32)>) {
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]) as usize;
    let u32_at = |i: usize| {
        u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]) as usize
    };
    assert_eq!(&bytes[128..132], b"DICM");
    // (0002,0000) UL gives the length of the rest of the meta group
    let start = 132 + 12 + u32_at(140);
    let mut out = Vec::new();
    let mut pos = start;
    while pos < bytes.len() {
        let tag = (u16_at(pos) as u32) << 16 | u16_at(pos + 2) as u32;
        let long = matches!(
            &bytes[pos + 4..pos + 6],
            b"OB"
                | b"OD"
                | b"OF"
                | b"OL"
                | b"OV"
                | b"OW"
                | b"SQ"
                | b"SV"
                | b"UC"
                | b"UN"
                | b"UR"
                | b"UT"
                | b"UV"
        );
        let (head, len) = if long {
            (12, u32_at(pos + 8))
        } else {
            (8, u16_at(pos + 6))
        };
        assert_ne!(len, u32::MAX as usize, "undefined length in a fixture");
        out.push((pos, pos + head + len, tag));
        pos += head + len;
    }
    (start, out)
}

/// An Explicit VR Little Endian element with a short header.
fn element(tag: u32, vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
    let mut value = value.to_vec();
    if value.len() % 2 == 1 {
        value.push(0);
    }
    let mut out = Vec::new();
    out.extend_from_slice(&((tag >> 16) as u16).to_le_bytes());
    out.extend_from_slice(&(tag as u16).to_le_bytes());
    out.extend_from_slice(vr);
    out.extend_from_slice(&(value.len() as u16).to_le_bytes());
    out.extend_from_slice(&value);
    out
}

/// A charset file with the UIDs `parse_instance` needs (chrSQEncoding* have none), its text
/// bytes untouched.
fn with_uids(name: &str) -> Vec<u8> {
    let bytes = charset_file(name);
    let (start, elements) = top_level(&bytes);
    let uids: [(u32, String); 4] = [
        (0x0008_0016, "1.2.840.10008.5.1.4.1.1.7".into()),
        (0x0008_0018, format!("2.25.{}", 1000 + name.len())),
        (0x0020_000D, "2.25.1001".into()),
        (0x0020_000E, "2.25.1002".into()),
    ];
    let mut out = bytes[..start].to_vec();
    let mut missing: Vec<&(u32, String)> = uids
        .iter()
        .filter(|(t, _)| !elements.iter().any(|e| e.2 == *t))
        .collect();
    for (from, to, tag) in &elements {
        while missing.first().is_some_and(|(t, _)| t < tag) {
            let (t, v) = missing.remove(0);
            out.extend(element(*t, b"UI", v.as_bytes()));
        }
        out.extend_from_slice(&bytes[*from..*to]);
    }
    for (t, v) in missing {
        out.extend(element(*t, b"UI", v.as_bytes()));
    }
    out
}

#[test]
fn large_objects_decode_text_like_small_ones() {
    // Streaming STOW parses parts over 64 MiB with parse_instance_header, which reads up to
    // the Pixel Data only: each charset file with 96 MiB of Pixel Data (zeros streamed, never
    // held) must give the index attributes and JSON header of the whole-object parse.
    const PIXELS: u32 = 96 << 20;
    let mut files: Vec<&str> = NAMES.iter().map(|(f, _)| *f).collect();
    files.extend(["chrSQEncoding.dcm", "chrSQEncoding1.dcm"]);
    for file in files {
        let small = with_uids(file);
        let full = parse_instance(&small).unwrap_or_else(|e| panic!("{file}: {e}"));
        let (_, elements) = top_level(&small);
        let cut = elements
            .iter()
            .find(|e| e.2 >= 0x7FE0_0010)
            .map_or(small.len(), |e| e.0);
        let mut head = small[..cut].to_vec();
        head.extend_from_slice(&[0xE0, 0x7F, 0x10, 0x00, b'O', b'B', 0, 0]);
        head.extend_from_slice(&PIXELS.to_le_bytes());
        let len = head.len() as u64 + u64::from(PIXELS);
        let big = std::io::Cursor::new(head).chain(std::io::repeat(0).take(u64::from(PIXELS)));
        let large =
            arc_dicom::parse_instance_header(big, len).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(large.attrs, full.attrs, "{file}");
        let (h, f) = (
            large.header_json.as_object().unwrap(),
            full.header_json.as_object().unwrap(),
        );
        for (k, v) in f.iter().filter(|(k, _)| k.as_str() < "7FE00010") {
            assert_eq!(h.get(k), Some(v), "{file} {k}");
        }
        assert!(h.contains_key("7FE00010"), "{file}");
    }
}
