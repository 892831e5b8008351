//! Specific Character Set (0008,0005) decoding (PS3.5 6.1, Annexes H, I, J): single-byte
//! sets, UTF-8, GB18030/GBK, and ISO 2022 code extensions with escape sequences switching
//! G0/G1 within a value, including the Japanese (ISO 2022 IR 13/87/159), Korean (IR 149)
//! and Chinese (IR 58) multi-byte sets that dicom-rs does not decode (its issue 443).
//!
//! Segments between escape sequences are decoded with `encoding_rs`: JIS X 0208 and
//! JIS X 0212 through EUC-JP (high bits set, `0x8F` before JIS X 0212, as the WHATWG decoder
//! reads it), KS X 1001 through EUC-KR, GB2312 through GBK, JIS X 0201 katakana by offset.
//! Delimiters reset to the initial sets (PS3.5 6.1.2.5.3): `\` in multi-valued text, and
//! `^`/`=` in person names, CR/LF/FF/TAB in every text.

use encoding_rs::Encoding;

/// The G0 (7-bit) set in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum G0 {
    /// ISO-IR 6 (ASCII); JIS X 0201 Romaji (ISO-IR 14) decodes the same way, as pydicom does.
    Ascii,
    /// JIS X 0208 (ISO-IR 87), two bytes per character.
    Jis0208,
    /// JIS X 0212 (ISO-IR 159), two bytes per character.
    Jis0212,
}

/// The G1 (8-bit, high half) set in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum G1 {
    /// Nothing designated (default repertoire): high bytes are read as ISO 8859-1, leniently.
    None,
    /// ISO 8859-1 (ISO-IR 100): every byte is its own code point.
    Latin1,
    /// Another single-byte ISO 8859 part, decoded by `encoding_rs` above 0xA0.
    Single(&'static Encoding),
    /// JIS X 0201 katakana (ISO-IR 13).
    Katakana,
    /// KS X 1001 (ISO-IR 149), two bytes per character.
    KsX1001,
    /// GB 2312 (ISO-IR 58), two bytes per character.
    Gb2312,
}

/// How a value's text is decoded: one of the whole-value encodings without code extensions,
/// or the ISO 2022 state machine starting from value 1's sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// UTF-8 (ISO_IR 192), GB18030, GBK: multi-byte sets without escapes whose trail bytes may
    /// be 0x5C, so the whole value is decoded before it is split at `\`.
    Whole(&'static Encoding),
    /// ISO 2022: initial G0 and G1, changed by escape sequences.
    Iso2022 { g0: G0, g1: G1 },
}

/// The character sets a data set (or a sequence item) declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CharacterSets {
    mode: Mode,
}

impl Default for CharacterSets {
    /// The default character repertoire (ISO-IR 6).
    fn default() -> Self {
        CharacterSets {
            mode: Mode::Iso2022 {
                g0: G0::Ascii,
                g1: G1::None,
            },
        }
    }
}

/// How delimiters behave in the value being decoded (PS3.5 6.1.2.5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    /// SH, LO, UC: several values separated by `\`.
    Multi,
    /// PN: values separated by `\`, groups by `=`, components by `^`.
    PersonName,
    /// ST, LT, UT: one value; `\` is an ordinary character.
    Single,
}

impl TextKind {
    /// The kind of a VR whose values depend on the Specific Character Set (PS3.5 6.1.2.3);
    /// `None` for the others, which use the default repertoire.
    pub fn of_vr(vr: &str) -> Option<TextKind> {
        match vr {
            "SH" | "LO" | "UC" => Some(TextKind::Multi),
            "PN" => Some(TextKind::PersonName),
            "ST" | "LT" | "UT" => Some(TextKind::Single),
            _ => None,
        }
    }
}

/// The single-byte set a defined term names (the part after `ISO_IR ` or `ISO 2022 IR `).
fn single_byte(ir: &str) -> Option<G1> {
    Some(match ir {
        "100" => G1::Latin1,
        "101" => G1::Single(encoding_rs::ISO_8859_2),
        "109" => G1::Single(encoding_rs::ISO_8859_3),
        "110" => G1::Single(encoding_rs::ISO_8859_4),
        "144" => G1::Single(encoding_rs::ISO_8859_5),
        "127" => G1::Single(encoding_rs::ISO_8859_6),
        "126" => G1::Single(encoding_rs::ISO_8859_7),
        "138" => G1::Single(encoding_rs::ISO_8859_8),
        // windows-1254 and windows-874 equal ISO 8859-9 and TIS 620 from 0xA0 up; C1 bytes
        // below are handled before the encoding is asked.
        "148" => G1::Single(encoding_rs::WINDOWS_1254),
        "166" => G1::Single(encoding_rs::WINDOWS_874),
        "203" => G1::Single(encoding_rs::ISO_8859_15),
        "13" => G1::Katakana,
        _ => return None,
    })
}

impl CharacterSets {
    /// The sets named by the values of Specific Character Set (0008,0005). Value 1 gives the
    /// initial state; further values only name what escape sequences may switch to, and every
    /// set this decoder knows is always available. Returns the unrecognized terms beside the
    /// result, which then falls back to the default repertoire (read leniently as ISO 8859-1,
    /// as pydicom does).
    pub fn from_terms<S: AsRef<str>>(terms: &[S]) -> (CharacterSets, Vec<String>) {
        let mut unknown = Vec::new();
        let first = terms.first().map(|t| t.as_ref().trim()).unwrap_or("");
        let mode = match first {
            "" | "ISO_IR 6" | "ISO 2022 IR 6" => Some(Mode::Iso2022 {
                g0: G0::Ascii,
                g1: G1::None,
            }),
            "ISO_IR 192" => Some(Mode::Whole(encoding_rs::UTF_8)),
            "GB18030" => Some(Mode::Whole(encoding_rs::GB18030)),
            "GBK" => Some(Mode::Whole(encoding_rs::GBK)),
            "ISO 2022 IR 87" | "ISO 2022 IR 159" => Some(Mode::Iso2022 {
                g0: G0::Ascii,
                g1: G1::None,
            }),
            "ISO 2022 IR 149" => Some(Mode::Iso2022 {
                g0: G0::Ascii,
                g1: G1::KsX1001,
            }),
            "ISO 2022 IR 58" => Some(Mode::Iso2022 {
                g0: G0::Ascii,
                g1: G1::Gb2312,
            }),
            other => other
                .strip_prefix("ISO_IR ")
                .or_else(|| other.strip_prefix("ISO 2022 IR "))
                .and_then(single_byte)
                .map(|g1| Mode::Iso2022 { g0: G0::Ascii, g1 }),
        };
        if mode.is_none() {
            unknown.push(first.to_string());
        }
        for term in terms.iter().skip(1).map(|t| t.as_ref().trim()) {
            let known = matches!(
                term,
                "" | "ISO 2022 IR 6"
                    | "ISO 2022 IR 87"
                    | "ISO 2022 IR 159"
                    | "ISO 2022 IR 149"
                    | "ISO 2022 IR 58"
            ) || term
                .strip_prefix("ISO 2022 IR ")
                .and_then(single_byte)
                .is_some();
            if !known {
                unknown.push(term.to_string());
            }
        }
        let sets = CharacterSets {
            mode: mode.unwrap_or(Mode::Iso2022 {
                g0: G0::Ascii,
                g1: G1::None,
            }),
        };
        (sets, unknown)
    }

    /// Decodes one element value (all its values, `\` separators included) to UTF-8.
    /// Never fails: bytes that do not decode become U+FFFD.
    pub fn decode(&self, bytes: &[u8], kind: TextKind) -> String {
        if bytes.is_ascii() && !bytes.contains(&0x1B) {
            // Plain ASCII reads the same in every DICOM character set.
            return bytes.iter().map(|&b| b as char).collect();
        }
        match self.mode {
            Mode::Whole(encoding) => encoding.decode_without_bom_handling(bytes).0.into_owned(),
            Mode::Iso2022 { g0, g1 } => Iso2022 {
                initial: (g0, g1),
                kind,
            }
            .decode(bytes),
        }
    }

    /// Decodes one element value and splits it into its values (`\`, except for ST/LT/UT).
    pub fn decode_values(&self, bytes: &[u8], kind: TextKind) -> Vec<String> {
        let text = self.decode(bytes, kind);
        match kind {
            TextKind::Single => vec![text],
            TextKind::Multi | TextKind::PersonName => {
                text.split('\\').map(str::to_string).collect()
            }
        }
    }
}

/// Decoded text under construction: runs of bytes for one `encoding_rs` decoder are
/// gathered and decoded together.
struct Out {
    text: String,
    pending: Vec<u8>,
    encoding: Option<&'static Encoding>,
}

impl Out {
    fn flush(&mut self) {
        if let Some(enc) = self.encoding.take() {
            self.text
                .push_str(&enc.decode_without_bom_handling(&self.pending).0);
            self.pending.clear();
        }
    }

    fn bytes(&mut self, encoding: &'static Encoding, bytes: &[u8]) {
        if self.encoding != Some(encoding) {
            self.flush();
            self.encoding = Some(encoding);
        }
        self.pending.extend_from_slice(bytes);
    }

    fn char(&mut self, c: char) {
        self.flush();
        self.text.push(c);
    }
}

/// The ISO 2022 decoder of one value.
struct Iso2022 {
    initial: (G0, G1),
    kind: TextKind,
}

impl Iso2022 {
    /// Whether this byte (read while G0 is single-byte) returns to the initial sets.
    fn resets(&self, b: u8) -> bool {
        match b {
            b'\r' | b'\n' | 0x0C | b'\t' => true,
            b'\\' => self.kind != TextKind::Single,
            b'^' | b'=' => self.kind == TextKind::PersonName,
            _ => false,
        }
    }

    fn decode(&self, bytes: &[u8]) -> String {
        let (mut g0, mut g1) = self.initial;
        let mut out = Out {
            text: String::with_capacity(bytes.len()),
            pending: Vec::new(),
            encoding: None,
        };
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b == 0x1B {
                match escape(&bytes[i + 1..]) {
                    Some((len, Designation::G0(set))) => {
                        g0 = set;
                        i += 1 + len;
                    }
                    Some((len, Designation::G1(set))) => {
                        g1 = set;
                        i += 1 + len;
                    }
                    None => {
                        out.char(char::REPLACEMENT_CHARACTER);
                        i += 1;
                    }
                }
                continue;
            }
            if b < 0x80 {
                let next = bytes.get(i + 1).copied();
                let pair = matches!(g0, G0::Jis0208 | G0::Jis0212)
                    && (0x21..=0x7E).contains(&b)
                    && next.is_some_and(|n| (0x21..=0x7E).contains(&n));
                if let (true, Some(n)) = (pair, next) {
                    if g0 == G0::Jis0212 {
                        out.bytes(encoding_rs::EUC_JP, &[0x8F, b | 0x80, n | 0x80]);
                    } else {
                        out.bytes(encoding_rs::EUC_JP, &[b | 0x80, n | 0x80]);
                    }
                    i += 2;
                    continue;
                }
                out.char(b as char);
                if self.resets(b) {
                    (g0, g1) = self.initial;
                }
                i += 1;
                continue;
            }
            match g1 {
                G1::None | G1::Latin1 => out.char(char::from(b)),
                G1::Single(_) if b < 0xA0 => out.char(char::from(b)),
                G1::Single(enc) => out.bytes(enc, &[b]),
                G1::Katakana => match b {
                    0xA1..=0xDF => out.char(
                        char::from_u32(0xFF61 + u32::from(b - 0xA1))
                            .unwrap_or(char::REPLACEMENT_CHARACTER),
                    ),
                    _ => out.char(char::REPLACEMENT_CHARACTER),
                },
                G1::KsX1001 | G1::Gb2312 => {
                    let enc = if g1 == G1::KsX1001 {
                        encoding_rs::EUC_KR
                    } else {
                        encoding_rs::GBK
                    };
                    match bytes.get(i + 1) {
                        Some(&n) if n >= 0xA1 && b >= 0xA1 => {
                            out.bytes(enc, &[b, n]);
                            i += 1;
                        }
                        _ => out.char(char::REPLACEMENT_CHARACTER),
                    }
                }
            }
            i += 1;
        }
        out.flush();
        out.text
    }
}

/// What an escape sequence designates.
enum Designation {
    G0(G0),
    G1(G1),
}

/// Reads the escape sequence after ESC (PS3.5 Tables 6.1-2, 6.1-3 and 6.1-4): its length
/// without the ESC, and what it designates; `None` for one this decoder does not know.
fn escape(rest: &[u8]) -> Option<(usize, Designation)> {
    use Designation::{G0 as D0, G1 as D1};
    let single = |enc| Some((2, D1(G1::Single(enc))));
    match rest {
        [b'(', b'B', ..] | [b'(', b'J', ..] => Some((2, D0(G0::Ascii))),
        [b')', b'I', ..] => Some((2, D1(G1::Katakana))),
        [b'$', b'B', ..] | [b'$', b'@', ..] => Some((2, D0(G0::Jis0208))),
        [b'$', b'(', b'D', ..] => Some((3, D0(G0::Jis0212))),
        [b'$', b')', b'C', ..] => Some((3, D1(G1::KsX1001))),
        [b'$', b')', b'A', ..] => Some((3, D1(G1::Gb2312))),
        [b'-', b'A', ..] => Some((2, D1(G1::Latin1))),
        [b'-', b'B', ..] => single(encoding_rs::ISO_8859_2),
        [b'-', b'C', ..] => single(encoding_rs::ISO_8859_3),
        [b'-', b'D', ..] => single(encoding_rs::ISO_8859_4),
        [b'-', b'L', ..] => single(encoding_rs::ISO_8859_5),
        [b'-', b'G', ..] => single(encoding_rs::ISO_8859_6),
        [b'-', b'F', ..] => single(encoding_rs::ISO_8859_7),
        [b'-', b'H', ..] => single(encoding_rs::ISO_8859_8),
        [b'-', b'M', ..] => single(encoding_rs::WINDOWS_1254),
        [b'-', b'T', ..] => single(encoding_rs::WINDOWS_874),
        [b'-', b'b', ..] => single(encoding_rs::ISO_8859_15),
        _ => None,
    }
}

#[cfg(test)]
#[path = "charset_tests.rs"]
mod tests;
