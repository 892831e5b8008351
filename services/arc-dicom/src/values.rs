//! Value conversions shared by extraction, DICOM JSON and bulk data: padding removal per
//! VR (PS3.5 6.2), person name normalisation (PS3.5 6.2.1), numbers, little-endian bytes.

use dicom_core::{PrimitiveValue, VR};

/// VRs holding binary data that DICOM JSON carries as InlineBinary or BulkDataURI
/// (PS3.18 F.2.7).
pub(crate) fn is_binary_vr(vr: VR) -> bool {
    matches!(
        vr,
        VR::OB | VR::OD | VR::OF | VR::OL | VR::OV | VR::OW | VR::UN
    )
}

/// VRs whose values DICOM JSON writes as JSON numbers (PS3.18 F.2.3).
pub(crate) fn is_numeric_vr(vr: &str) -> bool {
    matches!(
        vr,
        "IS" | "DS" | "US" | "SS" | "UL" | "SL" | "FL" | "FD" | "UV" | "SV"
    )
}

/// Removes the padding a value of this VR may carry (PS3.5 6.2): trailing spaces for the
/// texts whose leading spaces are significant (LT, ST, UT, UC), trailing NULs for UI,
/// spaces at both ends for the others. NULs are trimmed everywhere since some writers pad
/// with them. Person names also lose trailing empty component groups.
pub(crate) fn trim_value(vr: VR, s: &str) -> String {
    let pad = |c: char| c == ' ' || c == '\0';
    match vr {
        VR::LT | VR::ST | VR::UT | VR::UC => s.trim_end_matches(pad).to_string(),
        VR::PN => normalize_pn(s),
        _ => s.trim_matches(pad).to_string(),
    }
}

/// A person name as `alphabetic=ideographic=phonetic` (PS3.5 6.2.1.1), each group trimmed
/// of padding and of the delimiters of trailing empty components (which PS3.5 6.2.1.1
/// allows to omit, so `Doe^John^^^` is `Doe^John` and `^^^^` is empty), trailing empty
/// groups dropped.
pub(crate) fn normalize_pn(s: &str) -> String {
    let pad = |c: char| c == ' ' || c == '\0';
    let mut groups: Vec<&str> = s
        .split('=')
        .map(|g| {
            g.trim_start_matches(pad)
                .trim_end_matches(|c: char| pad(c) || c == '^')
        })
        .collect();
    while groups.len() > 1 && groups.last().is_some_and(|g| g.is_empty()) {
        groups.pop();
    }
    groups.join("=")
}

/// The text values of a primitive value, split on `\` (dicom-rs already splits) and
/// trimmed per VR. A single empty value means "no value" and yields an empty list.
pub(crate) fn text_values(vr: VR, value: &PrimitiveValue) -> Vec<String> {
    let out: Vec<String> = match value {
        PrimitiveValue::Empty => Vec::new(),
        PrimitiveValue::Str(s) => vec![trim_value(vr, s)],
        PrimitiveValue::Strs(v) => v.iter().map(|s| trim_value(vr, s)).collect(),
        PrimitiveValue::Tags(t) => t
            .iter()
            .map(|t| format!("{:04X}{:04X}", t.group(), t.element()))
            .collect(),
        PrimitiveValue::F32(v) => v.iter().map(|x| x.to_string()).collect(),
        other => other
            .to_multi_str()
            .iter()
            .map(|s| trim_value(vr, s))
            .collect(),
    };
    if out.len() == 1 && out[0].is_empty() {
        Vec::new()
    } else {
        out
    }
}

/// The value as little-endian bytes, as Explicit VR Little Endian encodes it; `None` for
/// text values.
pub(crate) fn le_bytes(value: &PrimitiveValue) -> Option<Vec<u8>> {
    fn flat<T, const N: usize>(v: &[T], f: impl Fn(&T) -> [u8; N]) -> Vec<u8> {
        v.iter().flat_map(f).collect()
    }
    Some(match value {
        PrimitiveValue::Empty => Vec::new(),
        PrimitiveValue::U8(v) => v.to_vec(),
        PrimitiveValue::I16(v) => flat(v, |x| x.to_le_bytes()),
        PrimitiveValue::U16(v) => flat(v, |x| x.to_le_bytes()),
        PrimitiveValue::I32(v) => flat(v, |x| x.to_le_bytes()),
        PrimitiveValue::U32(v) => flat(v, |x| x.to_le_bytes()),
        PrimitiveValue::I64(v) => flat(v, |x| x.to_le_bytes()),
        PrimitiveValue::U64(v) => flat(v, |x| x.to_le_bytes()),
        PrimitiveValue::F32(v) => flat(v, |x| x.to_le_bytes()),
        PrimitiveValue::F64(v) => flat(v, |x| x.to_le_bytes()),
        PrimitiveValue::Tags(v) => v
            .iter()
            .flat_map(|t| {
                let [a, b] = t.group().to_le_bytes();
                let [c, d] = t.element().to_le_bytes();
                [a, b, c, d]
            })
            .collect(),
        _ => return None,
    })
}

/// A number for DICOM JSON from the text form of an IS/DS/… value; `None` when it does
/// not parse (the caller then keeps the string, PS3.18 F.2.3 leaves no other choice).
pub(crate) fn json_number(vr: &str, s: &str) -> Option<serde_json::Value> {
    let s = s.trim_matches(|c: char| c == ' ' || c == '\0');
    let s = s.strip_prefix('+').unwrap_or(s);
    if s.is_empty() {
        return None;
    }
    if let Ok(i) = s.parse::<i64>() {
        return Some(i.into());
    }
    if let Ok(u) = s.parse::<u64>() {
        return Some(u.into());
    }
    if vr == "IS" || s.contains(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E') {
        return None; // rejects "inf", "NaN" and friends Rust would accept
    }
    s.parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map(serde_json::Value::Number)
}

/// A JSON value for a float: a number, or the strings `NaN`, `Infinity`, `-Infinity`
/// that JSON numbers cannot express.
pub(crate) fn json_float(x: f64) -> serde_json::Value {
    match serde_json::Number::from_f64(x) {
        Some(n) => serde_json::Value::Number(n),
        None if x.is_nan() => "NaN".into(),
        None if x > 0.0 => "Infinity".into(),
        None => "-Infinity".into(),
    }
}

/// The JSON numbers of a binary numeric value (US, SS, UL, SL, UV, SV, FL, FD); `None`
/// for text and byte values.
pub(crate) fn json_numbers(value: &PrimitiveValue) -> Option<Vec<serde_json::Value>> {
    use serde_json::Value as J;
    Some(match value {
        PrimitiveValue::I16(v) => v.iter().map(|&x| J::from(x)).collect(),
        PrimitiveValue::U16(v) => v.iter().map(|&x| J::from(x)).collect(),
        PrimitiveValue::I32(v) => v.iter().map(|&x| J::from(x)).collect(),
        PrimitiveValue::U32(v) => v.iter().map(|&x| J::from(x)).collect(),
        PrimitiveValue::I64(v) => v.iter().map(|&x| J::from(x)).collect(),
        PrimitiveValue::U64(v) => v.iter().map(|&x| J::from(x)).collect(),
        // shortest decimal form of the f32, so 0.1f32 stays 0.1 rather than 0.10000000149
        PrimitiveValue::F32(v) => v
            .iter()
            .map(|x| json_float(x.to_string().parse().unwrap_or(f64::NAN)))
            .collect(),
        PrimitiveValue::F64(v) => v.iter().map(|&x| json_float(x)).collect(),
        _ => return None,
    })
}

/// Standard base64 with padding (RFC 4648 section 4), for InlineBinary (PS3.18 F.2.7).
pub(crate) fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 0x3F) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (input, want) in cases {
            assert_eq!(base64(input.as_bytes()), want);
        }
        assert_eq!(base64(&[0xFF, 0xFE, 0xFD]), "//79");
    }

    #[test]
    fn person_names_lose_trailing_empty_groups() {
        assert_eq!(
            normalize_pn("Wang^XiaoDong=王^小東= "),
            "Wang^XiaoDong=王^小東"
        );
        assert_eq!(normalize_pn("Doe^John=="), "Doe^John");
        assert_eq!(normalize_pn("=Yamada"), "=Yamada");
        assert_eq!(normalize_pn("  "), "");
        assert_eq!(normalize_pn("^^^^"), "");
        assert_eq!(normalize_pn("Doe^John^^^=^^"), "Doe^John");
        assert_eq!(normalize_pn("^Given"), "^Given");
    }

    #[test]
    fn padding_is_removed_per_vr() {
        assert_eq!(trim_value(VR::UI, "1.2.3\0"), "1.2.3");
        assert_eq!(trim_value(VR::LO, " a b "), "a b");
        assert_eq!(trim_value(VR::LT, "  text  "), "  text");
        assert_eq!(
            text_values(VR::CS, &PrimitiveValue::Strs(vec!["".to_string()].into())),
            Vec::<String>::new()
        );
    }

    #[test]
    fn numbers_parse_or_stay_strings() {
        assert_eq!(json_number("IS", " 12 "), Some(12.into()));
        assert_eq!(json_number("IS", "1.5"), None);
        assert_eq!(json_number("DS", "+1.5e2"), Some(serde_json::json!(150.0)));
        assert_eq!(json_number("DS", "NaN"), None);
        assert_eq!(json_number("DS", "abc"), None);
        assert_eq!(json_number("DS", ""), None);
        assert_eq!(
            json_float(f64::NEG_INFINITY),
            serde_json::json!("-Infinity")
        );
        let f = json_numbers(&PrimitiveValue::F32(vec![0.1f32].into())).unwrap();
        assert_eq!(f, vec![serde_json::json!(0.1)]);
    }
}
