//! Unit tests of character set decoding on the examples of PS3.5 Annexes H (Japanese),
//! I (Korean) and J (Chinese), the pydicom charset test files' names (their `FileInfo.txt`),
//! and single-byte sets. Expected strings are what pydicom 3.0.1 decodes from the same bytes,
//! except where pydicom does not know the set (ISO 2022 IR 58: the text of PS3.5 J.3;
//! ISO_IR 203: ISO 8859-15 itself).

use super::*;
use crate::values::normalize_pn;

fn pn(bytes: &[u8], terms: &[&str]) -> String {
    let (sets, unknown) = CharacterSets::from_terms(terms);
    assert!(unknown.is_empty(), "{terms:?}: {unknown:?}");
    normalize_pn(&sets.decode(bytes, TextKind::PersonName))
}

#[test]
fn annex_h_japanese() {
    // PS3.5 H.3.1, pydicom chrH31.dcm
    assert_eq!(
        pn(
            b"Yamada^Tarou=\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B=\x1b$B$d$^$@\x1b(B^\x1b$B$?$m$&\x1b(B",
            &["", "ISO 2022 IR 87"]
        ),
        "Yamada^Tarou=\u{5c71}\u{7530}^\u{592a}\u{90ce}=\u{3084}\u{307e}\u{3060}^\u{305f}\u{308d}\u{3046}"
    );
    // PS3.5 H.3.2, pydicom chrH32.dcm: JIS X 0201 katakana in G1, Romaji in G0
    assert_eq!(
        pn(
            b"\xd4\xcf\xc0\xde^\xc0\xdb\xb3=\x1b$B;3ED\x1b(J^\x1b$BB@O:\x1b(J=\x1b$B$d$^$@\x1b(J^\x1b$B$?$m$&\x1b(J",
            &["ISO 2022 IR 13", "ISO 2022 IR 87"]
        ),
        "\u{ff94}\u{ff8f}\u{ff80}\u{ff9e}^\u{ff80}\u{ff9b}\u{ff73}=\u{5c71}\u{7530}^\u{592a}\u{90ce}=\u{3084}\u{307e}\u{3060}^\u{305f}\u{308d}\u{3046}"
    );
}

#[test]
fn jis_x_0212() {
    // ISO 2022 IR 159 (JIS X 0212) between JIS X 0208 runs: 鷗 is only in JIS X 0212.
    assert_eq!(
        pn(
            b"Mori^Ogai=\x1b$B?9\x1b(B^\x1b$(Dl?\x1b$B30\x1b(B=\x1b$B$b$j\x1b(B^\x1b$B$*$&$,$$\x1b(B",
            &["", "ISO 2022 IR 87", "ISO 2022 IR 159"]
        ),
        "Mori^Ogai=\u{68ee}^\u{9dd7}\u{5916}=\u{3082}\u{308a}^\u{304a}\u{3046}\u{304c}\u{3044}"
    );
}

#[test]
fn annex_i_korean() {
    // PS3.5 I.2, pydicom chrI2.dcm
    assert_eq!(
        pn(
            b"Hong^Gildong=\x1b$)C\xfb\xf3^\x1b$)C\xd1\xce\xd4\xd7=\x1b$)C\xc8\xab^\x1b$)C\xb1\xe6\xb5\xbf",
            &["", "ISO 2022 IR 149"]
        ),
        "Hong^Gildong=\u{6d2a}^\u{5409}\u{6d1e}=\u{d64d}^\u{ae38}\u{b3d9}"
    );
}

#[test]
fn annex_j_chinese() {
    // PS3.5 J.1 (UTF-8, chrX1.dcm) and J.2 (GB18030, chrX2.dcm)
    assert_eq!(
        pn(
            b"Wang^XiaoDong=\xe7\x8e\x8b^\xe5\xb0\x8f\xe6\x9d\xb1=",
            &["ISO_IR 192"]
        ),
        "Wang^XiaoDong=\u{738b}^\u{5c0f}\u{6771}"
    );
    assert_eq!(
        pn(b"Wang^XiaoDong=\xcd\xf5^\xd0\xa1\xb6\xab=", &["GB18030"]),
        "Wang^XiaoDong=\u{738b}^\u{5c0f}\u{4e1c}"
    );
    // PS3.5 J.3: GB 2312 through ISO 2022 IR 58 (pydicom leaves the escapes in; the
    // expected text is the standard's: Zhang^XiaoDong=张^小东=)
    assert_eq!(
        pn(
            b"Zhang^XiaoDong=\x1b$)A\xd5\xc5^\x1b$)A\xd0\xa1\xb6\xab=",
            &["", "ISO 2022 IR 58"]
        ),
        "Zhang^XiaoDong=\u{5f20}^\u{5c0f}\u{4e1c}"
    );
}

#[test]
fn single_byte_sets() {
    for (bytes, terms, want) in [
        (
            &b"Buc^J\xe9r\xf4me"[..],
            "ISO_IR 100",
            "Buc^J\u{e9}r\u{f4}me",
        ),
        (
            b"\xbb\xee\xdace\xdc\xd1yp\xd3",
            "ISO_IR 144",
            "\u{41b}\u{44e}\u{43a}ce\u{43c}\u{431}yp\u{433}",
        ),
        (
            b"\xe2\xc8\xc7\xe6\xea^\xe4\xe6\xd2\xc7\xd1",
            "ISO_IR 127",
            "\u{642}\u{628}\u{627}\u{646}\u{64a}^\u{644}\u{646}\u{632}\u{627}\u{631}",
        ),
        (
            b"\xf9\xf8\xe5\xef^\xe3\xe1\xe5\xf8\xe4",
            "ISO_IR 138",
            "\u{5e9}\u{5e8}\u{5d5}\u{5df}^\u{5d3}\u{5d1}\u{5d5}\u{5e8}\u{5d4}",
        ),
        (
            b"\xc4\xe9\xef\xed\xf5\xf3\xe9\xef\xf2",
            "ISO_IR 126",
            "\u{394}\u{3b9}\u{3bf}\u{3bd}\u{3c5}\u{3c3}\u{3b9}\u{3bf}\u{3c2}",
        ),
        (
            b"\xd4\xcf\xc0\xde",
            "ISO_IR 13",
            "\u{ff94}\u{ff8f}\u{ff80}\u{ff9e}",
        ),
        (
            b"\xb9\xc2\xa4\xa1",
            "ISO_IR 166",
            "\u{e19}\u{e22}\u{e04}\u{e01}",
        ),
        (
            b"\xc7\xfcr\xfcl\xfc\xfe",
            "ISO_IR 148",
            "\u{c7}\u{fc}r\u{fc}l\u{fc}\u{15f}",
        ),
        (b"\xa9\xe1\xed", "ISO_IR 101", "\u{160}\u{e1}\u{ed}"),
        (b"\xa1\xe6", "ISO_IR 109", "\u{126}\u{109}"),
        (b"\xa1\xe6", "ISO_IR 110", "\u{104}\u{e6}"),
        // ISO 8859-15 has the euro sign at 0xA4
        (b"\xa4uro", "ISO_IR 203", "\u{20ac}uro"),
    ] {
        assert_eq!(pn(bytes, &[terms]), want, "{terms}");
    }
}

#[test]
fn code_extensions_between_single_byte_sets() {
    assert_eq!(
        pn(
            b"Dupont^\x1b-A\xc9lise=\x1b-L\xbb\xee\xda",
            &["ISO 2022 IR 100", "ISO 2022 IR 144"]
        ),
        "Dupont^\u{c9}lise=\u{41b}\u{44e}\u{43a}"
    );
    assert_eq!(
        pn(
            b"\x1b-F\xc4\xe9\xef\xed\xf5\xf3\xe9\xef\xf2",
            &["", "ISO 2022 IR 126"]
        ),
        "\u{394}\u{3b9}\u{3bf}\u{3bd}\u{3c5}\u{3c3}\u{3b9}\u{3bf}\u{3c2}"
    );
}

#[test]
fn backslash_inside_a_two_byte_character_is_not_a_delimiter() {
    // 0x5C 0x21 is one JIS X 0208 character (棔), not a value delimiter.
    let (sets, _) = CharacterSets::from_terms(&["", "ISO 2022 IR 87"]);
    assert_eq!(
        sets.decode_values(b"\x1b$B\x5c!\x1b(B\\ab", TextKind::Multi),
        ["\u{68d4}", "ab"]
    );
    // GB18030 trail bytes may be 0x5C too: decoded before splitting.
    let (gb, _) = CharacterSets::from_terms(&["GB18030"]);
    assert_eq!(gb.decode_values(b"\x81\x5c\\x", TextKind::Multi).len(), 2);
}

#[test]
fn delimiters_reset_to_the_initial_sets() {
    // After `\` the G1 designation of the previous value no longer holds (PS3.5 6.1.2.5.3),
    // so the second value's high bytes read as the default repertoire.
    let (sets, _) = CharacterSets::from_terms(&["", "ISO 2022 IR 149"]);
    let v = sets.decode_values(b"\x1b$)C\xc8\xab\\\x1b$)C\xc8\xab", TextKind::Multi);
    assert_eq!(v, ["\u{d64d}", "\u{d64d}"]);
    // ST/LT/UT: `\` is text; a line end resets.
    let v = sets.decode_values(b"a\\b\r\n\x1b$)C\xc8\xab", TextKind::Single);
    assert_eq!(v, ["a\\b\r\n\u{d64d}"]);
}

#[test]
fn unknown_terms_fall_back_and_are_reported() {
    let (sets, unknown) = CharacterSets::from_terms(&["ISO_IR 999", "ISO 2022 IR 77"]);
    assert_eq!(unknown, ["ISO_IR 999", "ISO 2022 IR 77"]);
    assert_eq!(sets, CharacterSets::default());
    assert_eq!(sets.decode(b"J\xe9r", TextKind::Multi), "J\u{e9}r");
    // bad bytes never panic
    let (jp, _) = CharacterSets::from_terms(&["", "ISO 2022 IR 87"]);
    for bytes in [
        &b"\x1b"[..],
        b"\x1b$",
        b"\x1b$B!",
        b"\x1b$(D",
        b"\x1bZZ\xff",
        b"\x1b$)C\xff",
    ] {
        let _ = jp.decode(bytes, TextKind::PersonName);
    }
    assert_eq!(TextKind::of_vr("CS"), None);
    assert_eq!(TextKind::of_vr("LT"), Some(TextKind::Single));
}
