//! Accept-header negotiation for retrieve (PS3.18 8.7): which media type and which transfer
//! syntaxes the client takes. Tolerant of what clients really send: several types, q-values,
//! quoted or bare parameters, and the `accept` query parameter (PS3.18 8.3.3.1).

use crate::ApiError;
use arc_dicom::parse_content_type;
use axum::http::HeaderMap;

/// Explicit VR Little Endian, the PS3.18 default for retrieved DICOM (8.7.3.5.2).
pub(crate) const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";

/// Which transfer syntaxes a client accepts for `application/dicom`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TsChoice {
    /// `transfer-syntax=*`: as stored.
    AsStored,
    /// These, in the client's order of preference.
    Listed(Vec<String>),
}

impl TsChoice {
    /// The syntax to send an instance stored in `stored` in, if the client takes one we can make.
    pub(crate) fn pick(&self, stored: &str) -> Option<String> {
        match self {
            TsChoice::AsStored => Some(stored.to_string()),
            TsChoice::Listed(list) => {
                if list.iter().any(|t| t == stored) {
                    Some(stored.to_string())
                } else if list.iter().any(|t| t == EXPLICIT_LE) && arc_dicom::can_decode(stored) {
                    Some(EXPLICIT_LE.to_string())
                } else {
                    None
                }
            }
        }
    }

    fn merge(&mut self, other: TsChoice) {
        match (self as &mut TsChoice, other) {
            (TsChoice::AsStored, _) => {}
            (me, TsChoice::AsStored) => *me = TsChoice::AsStored,
            (TsChoice::Listed(a), TsChoice::Listed(b)) => {
                for t in b {
                    if !a.contains(&t) {
                        a.push(t);
                    }
                }
            }
        }
    }
}

/// The media ranges of the request: `accept` query parameters first, then the Accept header.
pub(crate) fn ranges(headers: &HeaderMap, accept_param: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    let header_values = headers.get_all("accept").iter().filter_map(|v| v.to_str().ok());
    for value in accept_param.into_iter().chain(header_values) {
        out.extend(split_ranges(value));
    }
    out
}

/// Splits a header value at the commas that separate media ranges, not those inside quotes.
fn split_ranges(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut cur, mut quoted) = (String::new(), false);
    for c in value.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c)
            }
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
}

fn param<'a>(mt: &'a arc_dicom::MediaType, name: &str) -> Option<&'a str> {
    mt.params.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

fn ts_of(mt: &arc_dicom::MediaType) -> TsChoice {
    match param(mt, "transfer-syntax") {
        Some("*") => TsChoice::AsStored,
        Some(ts) => TsChoice::Listed(vec![ts.to_string()]),
        None => TsChoice::Listed(vec![EXPLICIT_LE.to_string()]),
    }
}

/// Negotiates `multipart/related; type="application/dicom"` for a DICOM retrieve.
pub(crate) fn dicom_retrieve(headers: &HeaderMap, accept_param: Option<&str>) -> Result<TsChoice, ApiError> {
    let ranges = ranges(headers, accept_param);
    if ranges.is_empty() {
        return Ok(TsChoice::Listed(vec![EXPLICIT_LE.to_string()]));
    }
    let mut choice: Option<TsChoice> = None;
    for range in &ranges {
        let Ok(mt) = parse_content_type(range) else { continue };
        if param(&mt, "q").is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q <= 0.0)) {
            continue;
        }
        let candidate = match mt.essence().as_str() {
            "multipart/related" => match param(&mt, "type").map(str::to_ascii_lowercase).as_deref() {
                None | Some("application/dicom") => ts_of(&mt),
                _ => continue,
            },
            "application/dicom" | "*/*" | "multipart/*" => ts_of(&mt),
            _ => continue,
        };
        match &mut choice {
            Some(c) => c.merge(candidate),
            None => choice = Some(candidate),
        }
    }
    choice.ok_or_else(|| {
        ApiError::NotAcceptable(format!(
            "cannot answer with any of [{}]; offered: multipart/related; type=\"application/dicom\" (transfer-syntax=* for the stored syntax, or {EXPLICIT_LE})",
            ranges.join(", ")
        ))
    })
}

/// Checks that a JSON answer (QIDO results, metadata) is acceptable.
pub(crate) fn json(headers: &HeaderMap, accept_param: Option<&str>) -> Result<(), ApiError> {
    let ranges = ranges(headers, accept_param);
    if ranges.is_empty() {
        return Ok(());
    }
    for range in &ranges {
        if let Ok(mt) = parse_content_type(range) {
            if matches!(mt.essence().as_str(), "application/dicom+json" | "application/json" | "*/*" | "application/*") {
                return Ok(());
            }
        }
    }
    Err(ApiError::NotAcceptable(format!(
        "cannot answer with any of [{}]; offered: application/dicom+json, application/json",
        ranges.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(v: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert("accept", v.parse().unwrap());
        m
    }

    #[test]
    fn negotiates_what_clients_send() {
        assert_eq!(dicom_retrieve(&HeaderMap::new(), None).unwrap(), TsChoice::Listed(vec![EXPLICIT_LE.into()]));
        assert_eq!(dicom_retrieve(&h("multipart/related; type=\"application/dicom\"; transfer-syntax=*"), None).unwrap(), TsChoice::AsStored);
        assert_eq!(dicom_retrieve(&h("multipart/related;type=application/dicom;transfer-syntax=*"), None).unwrap(), TsChoice::AsStored);
        assert_eq!(dicom_retrieve(&h("*/*"), None).unwrap(), TsChoice::Listed(vec![EXPLICIT_LE.into()]));
        let two = dicom_retrieve(&h("multipart/related; type=\"application/dicom\"; transfer-syntax=1.2.840.10008.1.2.4.50, multipart/related; type=\"application/dicom\"; transfer-syntax=1.2.840.10008.1.2.1;q=0.5"), None).unwrap();
        assert_eq!(two.pick("1.2.840.10008.1.2.4.50").as_deref(), Some("1.2.840.10008.1.2.4.50"));
        assert_eq!(two.pick("1.2.840.10008.1.2").as_deref(), Some(EXPLICIT_LE));
        assert!(dicom_retrieve(&h("image/jpeg"), None).is_err());
        // compressed objects are decompressed when the codec is there
        assert_eq!(TsChoice::Listed(vec![EXPLICIT_LE.into()]).pick("1.2.840.10008.1.2.4.70").as_deref(), Some(EXPLICIT_LE));
        assert_eq!(TsChoice::Listed(vec![EXPLICIT_LE.into()]).pick("1.2.3.4.private"), None);
    }
}
