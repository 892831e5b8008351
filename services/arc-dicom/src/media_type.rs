//! Media type values (`type/subtype; name=value`) as Content-Type and the DICOMweb
//! `type`/`transfer-syntax` parameters use them (RFC 9110 8.3.1, PS3.18 8.7.3).

use crate::error::DicomError;
use std::fmt;

/// A parsed media type. Type, subtype and parameter names are lower-cased; parameter
/// values are kept as written (unquoted), since `boundary` is case-sensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaType {
    /// The top-level type, e.g. `multipart`.
    pub type_: String,
    /// The subtype, e.g. `related`.
    pub subtype: String,
    /// Parameters in their order of appearance.
    pub params: Vec<(String, String)>,
}

impl MediaType {
    /// `type/subtype` without parameters.
    pub fn essence(&self) -> String {
        format!("{}/{}", self.type_, self.subtype)
    }

    /// The first parameter with this name (case-insensitive).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// RFC 9110 5.6.2 `tchar`.
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.type_, self.subtype)?;
        for (name, value) in &self.params {
            if !value.is_empty() && value.chars().all(is_tchar) {
                write!(f, "; {name}={value}")?;
            } else {
                let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
                write!(f, "; {name}=\"{escaped}\"")?;
            }
        }
        Ok(())
    }
}

/// Parses a Content-Type (or one Accept entry) value: `type/subtype` then
/// `; name=value` parameters whose values may be quoted strings with `\` escapes.
/// Spaces around `/`, `;` and `=` are tolerated, so are empty parameters (`;;`).
pub fn parse_content_type(value: &str) -> Result<MediaType, DicomError> {
    let bad = |why: &str| DicomError::BadContentType(format!("{why} in {value:?}"));
    let (essence, mut rest) = match value.find(';') {
        Some(i) => (&value[..i], &value[i..]),
        None => (value, ""),
    };
    let (type_, subtype) = essence.split_once('/').ok_or_else(|| bad("no '/'"))?;
    let (type_, subtype) = (type_.trim(), subtype.trim());
    if type_.is_empty()
        || subtype.is_empty()
        || !type_.chars().all(is_tchar)
        || !subtype.chars().all(is_tchar)
    {
        return Err(bad("bad type or subtype"));
    }
    let mut params = Vec::new();
    loop {
        rest = rest.trim_start_matches(|c: char| c == ';' || c.is_ascii_whitespace());
        if rest.is_empty() {
            break;
        }
        let eq = rest
            .find(['=', ';'])
            .filter(|&i| rest.as_bytes()[i] == b'=');
        let eq = eq.ok_or_else(|| bad("parameter without '='"))?;
        let name = rest[..eq].trim();
        if name.is_empty() || !name.chars().all(is_tchar) {
            return Err(bad("bad parameter name"));
        }
        rest = rest[eq + 1..].trim_start();
        let value = if let Some(quoted) = rest.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = quoted.char_indices();
            let end = loop {
                match chars.next() {
                    Some((i, '"')) => break i,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, c)) => out.push(c),
                        None => return Err(bad("unterminated quoted string")),
                    },
                    Some((_, c)) => out.push(c),
                    None => return Err(bad("unterminated quoted string")),
                }
            };
            rest = &quoted[end + 1..];
            let after = rest.trim_start();
            if !(after.is_empty() || after.starts_with(';')) {
                return Err(bad("text after quoted string"));
            }
            out
        } else {
            let end = rest.find(';').unwrap_or(rest.len());
            let token = rest[..end].trim();
            rest = &rest[end..];
            token.to_string()
        };
        params.push((name.to_ascii_lowercase(), value));
    }
    Ok(MediaType {
        type_: type_.to_ascii_lowercase(),
        subtype: subtype.to_ascii_lowercase(),
        params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dicomweb_content_types() {
        let m = parse_content_type(
            r#"Multipart/Related ; Type="application/dicom" ;boundary = "a b;c\"d" ; transfer-syntax=1.2.840.10008.1.2.1"#,
        )
        .unwrap();
        assert_eq!(m.essence(), "multipart/related");
        assert_eq!(m.param("type"), Some("application/dicom"));
        assert_eq!(m.param("BOUNDARY"), Some("a b;c\"d"));
        assert_eq!(m.param("transfer-syntax"), Some("1.2.840.10008.1.2.1"));
        let again = parse_content_type(&m.to_string()).unwrap();
        assert_eq!(again, m);
    }

    #[test]
    fn tolerates_odd_spacing_and_empty_parameters() {
        let m = parse_content_type("application/dicom;;  ").unwrap();
        assert_eq!(m.essence(), "application/dicom");
        assert!(m.params.is_empty());
        let m = parse_content_type(" multipart/related;boundary=XyZ").unwrap();
        assert_eq!(m.param("boundary"), Some("XyZ"));
    }

    #[test]
    fn rejects_malformed_values() {
        for v in [
            "",
            "application",
            "/dicom",
            "a/b; x",
            "a/b; x=\"open",
            "a/b; =v",
            "a b/c",
            "a/b; x=\"v\" junk",
        ] {
            assert!(parse_content_type(v).is_err(), "{v:?}");
        }
    }
}
