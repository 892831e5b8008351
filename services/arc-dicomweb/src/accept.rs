//! Accept negotiation (PS3.18 8.7, RFC 9110 12.5.1) as clients really send it: several media
//! ranges in one or more headers, q-values, quoted or bare parameters, `type=` with or without
//! quotes, `transfer-syntax` per range, duplicated parameters (OHIF issue 3990), `*/*` and
//! `*`, and the `accept` query parameter (PS3.18 8.3.3.1), comma-separated or repeated, which
//! takes precedence over the header. A 406 names what is offered.

use crate::ApiError;
use arc_dicom::{parse_content_type, MediaType};
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
                } else if arc_dicom::can_decode(stored) {
                    // the first uncompressed syntax asked for that we convert to
                    list.iter()
                        .find(|t| arc_dicom::pixels::NATIVE_TARGETS.contains(&t.as_str()))
                        .cloned()
                } else {
                    None
                }
            }
        }
    }

    /// The syntaxes asked for, for messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            TsChoice::AsStored => "the stored syntax".into(),
            TsChoice::Listed(list) => list.join(", "),
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

/// Whether `asked` (one syntax UID, or a description of several) names a compressed transfer
/// syntax: JPEG family, JPEG-LS, JPEG 2000, MPEG, HEVC, HTJ2K (1.2.840.10008.1.2.4.x) or RLE.
fn is_compressed(asked: &str) -> bool {
    asked.contains("1.2.840.10008.1.2.4.") || asked.contains("1.2.840.10008.1.2.5")
}

/// Why objects stored in `stored` cannot be sent in `asked`, and what can be sent: the stored
/// syntax (`{param}=*`) and, when every stored syntax can be decoded, the uncompressed
/// `natives`. Compressing on retrieve is not offered. Shared by WADO-RS and WADO-URI.
pub(crate) fn syntax_not_offered(
    what: &str,
    stored: &[&str],
    asked: &str,
    param: &str,
    natives: &[&str],
) -> ApiError {
    let mut stored: Vec<&str> = stored.to_vec();
    stored.sort_unstable();
    stored.dedup();
    let undecodable: Vec<&str> = stored
        .iter()
        .copied()
        .filter(|t| !arc_dicom::can_decode(t))
        .collect();
    // What the archive makes on retrieve: the stored syntax, or an uncompressed one of
    // `natives` when it can decode the stored one.
    let converts = if is_compressed(asked) {
        "this archive does not compress on retrieve".to_string()
    } else {
        format!(
            "this archive converts on retrieve only to {}",
            natives.join(" or ")
        )
    };
    let why = if undecodable.is_empty() {
        converts
    } else {
        format!("{converts} and cannot decode {}", undecodable.join(", "))
    };
    let mut offered = vec![format!("{param}=* (as stored)")];
    if undecodable.is_empty() {
        offered.extend(natives.iter().map(|t| t.to_string()));
    }
    ApiError::NotAcceptable(format!(
        "{what} stored in {} and cannot be sent in {asked} ({why}); offered: {}",
        stored.join(", "),
        offered.join(", ")
    ))
}

/// One media range of the request with its quality.
#[derive(Debug, Clone)]
pub(crate) struct Range {
    /// The range as the client wrote it.
    pub raw: String,
    /// Parsed.
    pub mt: MediaType,
    /// Its q-value (1 when absent).
    pub q: f32,
}

impl Range {
    pub(crate) fn essence(&self) -> String {
        self.mt.essence()
    }

    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.mt.param(name).map(str::trim)
    }

    /// The `type` parameter of a multipart range, lower case.
    pub(crate) fn multipart_type(&self) -> Option<String> {
        self.param("type").map(str::to_ascii_lowercase)
    }

    fn is_any(&self) -> bool {
        matches!(self.essence().as_str(), "*/*" | "multipart/*")
    }
}

/// The media ranges of a request, best first, and what the client sent.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ranges {
    list: Vec<Range>,
    /// The Accept text as sent (header values or the `accept` parameter); `None` when the
    /// request states no preference.
    sent: Option<String>,
    /// Media types named with q=0 (essence, lower case): "not acceptable" even where a
    /// wildcard range would take them (RFC 9110 12.5.1: the most specific range decides).
    refused: Vec<String>,
}

impl Ranges {
    /// Whether the request states no preference (no Accept, or an empty one): the resource's
    /// default answers. A header whose ranges all have q=0 (or cannot be parsed) is not
    /// this: RFC 9110 12.5.1 makes q=0 "not acceptable", so it gets 406 like any other miss.
    pub(crate) fn unspecified(&self) -> bool {
        self.sent.is_none()
    }

    /// Whether the client refused `essence` by name with q=0 (`application/dicom+json;q=0`).
    pub(crate) fn refuses(&self, essence: &str) -> bool {
        self.refused.iter().any(|r| r.eq_ignore_ascii_case(essence))
    }

    /// Whether the request takes the single-part `media_type`: no preference, the type
    /// itself, `type/*` or `*/*`, and not refused by name with q=0.
    pub(crate) fn takes(&self, media_type: &str) -> bool {
        if self.unspecified() {
            return true;
        }
        let family = format!("{}/*", media_type.split('/').next().unwrap_or(""));
        !self.refuses(media_type)
            && self.iter().any(|r| {
                let e = r.essence();
                e == media_type || e == family || e == "*/*"
            })
    }
}

impl std::ops::Deref for Ranges {
    type Target = [Range];
    fn deref(&self) -> &[Range] {
        &self.list
    }
}

impl<'a> IntoIterator for &'a Ranges {
    type Item = &'a Range;
    type IntoIter = std::slice::Iter<'a, Range>;
    fn into_iter(self) -> Self::IntoIter {
        self.list.iter()
    }
}

/// The media ranges of the request, best first (stable for equal q; q=0 dropped). The
/// `accept` query parameter replaces the header when present (PS3.18 8.3.3.1). Every
/// resource negotiates through this, so q=0 and `*/*` mean the same everywhere.
pub(crate) fn ranges(headers: &HeaderMap, accept_param: Option<&str>) -> Ranges {
    let values: Vec<String> = match accept_param {
        Some(p) if !p.trim().is_empty() => vec![p.to_string()],
        _ => headers
            .get_all("accept")
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .filter(|v| !v.trim().is_empty())
            .collect(),
    };
    let mut out = Vec::new();
    let mut refused = Vec::new();
    for value in &values {
        for raw in split_ranges(value) {
            let text = if raw == "*" {
                "*/*".to_string()
            } else {
                raw.clone()
            };
            let Ok(mt) = parse_content_type(&text) else {
                continue;
            };
            let q = mt
                .param("q")
                .map(|q| q.trim().parse::<f32>().unwrap_or(1.0))
                .unwrap_or(1.0);
            if q > 0.0 {
                out.push(Range { raw, mt, q });
            } else if !mt.essence().contains('*') {
                refused.push(mt.essence());
            }
        }
    }
    out.sort_by(|a, b| b.q.partial_cmp(&a.q).unwrap_or(std::cmp::Ordering::Equal));
    Ranges {
        list: out,
        sent: (!values.is_empty()).then(|| values.join(", ")),
        refused,
    }
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
    out.into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn ts_of(r: &Range, default: TsChoice) -> TsChoice {
    match r.param("transfer-syntax") {
        Some("*") => TsChoice::AsStored,
        Some(ts) if !ts.is_empty() => TsChoice::Listed(vec![ts.to_string()]),
        _ => default,
    }
}

/// The 406 of every resource: what the client sent and what is offered.
pub(crate) fn not_acceptable(ranges: &Ranges, offered: &str) -> ApiError {
    let sent = ranges.sent.as_deref().unwrap_or_default();
    if ranges.is_empty() {
        return ApiError::NotAcceptable(format!(
            "Accept \"{sent}\" names no acceptable media range (q=0 excludes a range, and ranges that cannot be parsed are ignored); offered: {offered}"
        ));
    }
    let asked: Vec<&str> = ranges.iter().map(|r| r.raw.as_str()).collect();
    ApiError::NotAcceptable(format!(
        "cannot answer with any of [{}] (Accept \"{sent}\"); offered: {offered}",
        asked.join(", ")
    ))
}

const DICOM_OFFER: &str = "multipart/related; type=\"application/dicom\" (transfer-syntax=* for the stored syntax, 1.2.840.10008.1.2.1 or 1.2.840.10008.1.2), application/zip (transfer-syntax=* as stored, the default, 1.2.840.10008.1.2.1 or 1.2.840.10008.1.2)";

/// What a DICOM retrieve (study, series, instance) answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RetrieveFormat {
    /// `multipart/related; type="application/dicom"` in these syntaxes.
    Multipart(TsChoice),
    /// `application/zip` of Part 10 files in these syntaxes.
    Zip(TsChoice),
}

/// Negotiates a DICOM retrieve: the best-rated acceptable range decides the format;
/// `transfer-syntax` of every range of that format is taken.
pub(crate) fn retrieve_format(
    headers: &HeaderMap,
    accept_param: Option<&str>,
) -> Result<RetrieveFormat, ApiError> {
    let default = TsChoice::Listed(vec![EXPLICIT_LE.to_string()]);
    let ranges = ranges(headers, accept_param);
    if ranges.unspecified() {
        return Ok(RetrieveFormat::Multipart(default));
    }
    let kind = |r: &Range| -> Option<bool> {
        match r.essence().as_str() {
            "multipart/related" => match r.multipart_type().as_deref() {
                None | Some("application/dicom") | Some("*/*") => Some(false),
                _ => None,
            },
            "application/dicom" | "*/*" | "multipart/*" => Some(false),
            "application/zip" | "application/*" => Some(r.essence() == "application/zip"),
            _ => None,
        }
    };
    let Some(zip) = ranges.iter().find_map(kind) else {
        return Err(not_acceptable(&ranges, DICOM_OFFER));
    };
    let mut choice: Option<TsChoice> = None;
    for r in ranges.iter().filter(|r| kind(r) == Some(zip)) {
        let default = if zip {
            TsChoice::AsStored
        } else {
            TsChoice::Listed(vec![EXPLICIT_LE.to_string()])
        };
        let c = ts_of(r, default);
        match &mut choice {
            Some(have) => have.merge(c),
            None => choice = Some(c),
        }
    }
    let choice = choice.expect("one range of the kind");
    Ok(if zip {
        RetrieveFormat::Zip(choice)
    } else {
        RetrieveFormat::Multipart(choice)
    })
}

/// Negotiates `multipart/related; type="application/dicom"` for a DICOM retrieve (kept for
/// the frame and WADO-URI handlers: a ZIP-only Accept is refused here).
#[cfg(test)]
pub(crate) fn dicom_retrieve(
    headers: &HeaderMap,
    accept_param: Option<&str>,
) -> Result<TsChoice, ApiError> {
    match retrieve_format(headers, accept_param)? {
        RetrieveFormat::Multipart(c) => Ok(c),
        RetrieveFormat::Zip(_) => Err(not_acceptable(
            &ranges(headers, accept_param),
            "multipart/related; type=\"application/dicom\"",
        )),
    }
}

/// Checks that a JSON answer (QIDO results, metadata) is acceptable.
#[cfg(test)]
pub(crate) fn json(headers: &HeaderMap, accept_param: Option<&str>) -> Result<(), ApiError> {
    match structured(headers, accept_param, false)? {
        Structured::Json => Ok(()),
        Structured::Xml => unreachable!("XML not offered"),
    }
}

/// A structured answer's form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Structured {
    /// `application/dicom+json`.
    Json,
    /// `application/dicom+xml` (PS3.19 Native DICOM Model); for metadata, as
    /// `multipart/related; type="application/dicom+xml"`.
    Xml,
}

/// Negotiates DICOM JSON or (when `xml` is offered) the Native DICOM Model.
pub(crate) fn structured(
    headers: &HeaderMap,
    accept_param: Option<&str>,
    xml: bool,
) -> Result<Structured, ApiError> {
    let ranges = ranges(headers, accept_param);
    if ranges.unspecified() {
        return Ok(Structured::Json);
    }
    for r in &ranges {
        match r.essence().as_str() {
            "application/dicom+json" | "application/json" | "*/*" | "application/*" => {
                return Ok(Structured::Json)
            }
            "application/dicom+xml" | "application/xml" | "text/xml" if xml => {
                return Ok(Structured::Xml)
            }
            "multipart/related"
                if xml && r.multipart_type().as_deref() == Some("application/dicom+xml") =>
            {
                return Ok(Structured::Xml)
            }
            _ => {}
        }
    }
    let offered = if xml {
        "application/dicom+json, application/json, application/dicom+xml (multipart/related; type=\"application/dicom+xml\" for metadata)"
    } else {
        "application/dicom+json, application/json"
    };
    Err(not_acceptable(&ranges, offered))
}

/// Which media types bulk data parts may have: `application/octet-stream` always when
/// acceptable; compressed pixel data in its own media type when that (or any) is accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BulkChoice {
    /// `application/octet-stream` is acceptable.
    pub octet_stream: bool,
    /// Media types accepted for compressed pixel data (`*/*` for any).
    pub compressed: Vec<String>,
}

impl BulkChoice {
    /// Whether a compressed bitstream of this media type may be sent.
    pub(crate) fn takes(&self, media_type: &str) -> bool {
        self.compressed
            .iter()
            .any(|t| t == "*/*" || t.eq_ignore_ascii_case(media_type))
    }
}

/// Negotiates the parts of a bulk data answer (PS3.18 8.7.3.3).
pub(crate) fn bulk(
    headers: &HeaderMap,
    accept_param: Option<&str>,
) -> Result<BulkChoice, ApiError> {
    let ranges = ranges(headers, accept_param);
    if ranges.unspecified() {
        return Ok(BulkChoice {
            octet_stream: true,
            compressed: vec!["*/*".into()],
        });
    }
    let mut choice = BulkChoice {
        octet_stream: false,
        compressed: Vec::new(),
    };
    for r in &ranges {
        let t = match r.essence().as_str() {
            "multipart/related" => r
                .multipart_type()
                .unwrap_or_else(|| "application/octet-stream".into()),
            e if r.is_any() => e.replace("multipart/*", "*/*"),
            e => e.to_string(),
        };
        match t.as_str() {
            "application/octet-stream" => choice.octet_stream = true,
            "*/*" => {
                choice.octet_stream = true;
                choice.compressed.push("*/*".into());
            }
            other if other.starts_with("image/") || other.starts_with("video/") => {
                choice.compressed.push(other.into())
            }
            _ => {}
        }
    }
    if !choice.octet_stream && choice.compressed.is_empty() {
        return Err(not_acceptable(&ranges, "multipart/related; type=\"application/octet-stream\", or the compressed pixel data's own type (image/jpeg, video/mp4, …)"));
    }
    Ok(choice)
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
        assert_eq!(
            dicom_retrieve(&HeaderMap::new(), None).unwrap(),
            TsChoice::Listed(vec![EXPLICIT_LE.into()])
        );
        assert_eq!(
            dicom_retrieve(
                &h("multipart/related; type=\"application/dicom\"; transfer-syntax=*"),
                None
            )
            .unwrap(),
            TsChoice::AsStored
        );
        assert_eq!(
            dicom_retrieve(
                &h("multipart/related;type=application/dicom;transfer-syntax=*"),
                None
            )
            .unwrap(),
            TsChoice::AsStored
        );
        assert_eq!(
            dicom_retrieve(
                &h("multipart/related; type=\"application/dicom\"; transfer-syntax=\"*\""),
                None
            )
            .unwrap(),
            TsChoice::AsStored
        );
        assert_eq!(
            dicom_retrieve(&h("*/*"), None).unwrap(),
            TsChoice::Listed(vec![EXPLICIT_LE.into()])
        );
        assert_eq!(
            dicom_retrieve(&h("*"), None).unwrap(),
            TsChoice::Listed(vec![EXPLICIT_LE.into()])
        );
        let two = dicom_retrieve(&h("multipart/related; type=\"application/dicom\"; transfer-syntax=1.2.840.10008.1.2.4.50, multipart/related; type=\"application/dicom\"; transfer-syntax=1.2.840.10008.1.2.1;q=0.5"), None).unwrap();
        assert_eq!(
            two.pick("1.2.840.10008.1.2.4.50").as_deref(),
            Some("1.2.840.10008.1.2.4.50")
        );
        assert_eq!(two.pick("1.2.840.10008.1.2").as_deref(), Some(EXPLICIT_LE));
        assert!(dicom_retrieve(&h("image/jpeg"), None).is_err());
        // compressed objects are decompressed when the codec is there
        assert_eq!(
            TsChoice::Listed(vec![EXPLICIT_LE.into()])
                .pick("1.2.840.10008.1.2.4.70")
                .as_deref(),
            Some(EXPLICIT_LE)
        );
        assert_eq!(
            TsChoice::Listed(vec![EXPLICIT_LE.into()]).pick("1.2.3.4.private"),
            None
        );
        // OHIF 3990: a parameter twice
        let dup = "multipart/related; type=application/dicom; transfer-syntax=*; transfer-syntax=*";
        assert_eq!(dicom_retrieve(&h(dup), None).unwrap(), TsChoice::AsStored);
    }

    #[test]
    fn q_values_order_the_choice_and_the_query_parameter_wins() {
        let both = "multipart/related; type=\"application/dicom\"; q=0.4, application/zip; q=0.9";
        assert_eq!(
            retrieve_format(&h(both), None).unwrap(),
            RetrieveFormat::Zip(TsChoice::AsStored)
        );
        let zip_le = "application/zip; transfer-syntax=1.2.840.10008.1.2.1";
        assert_eq!(
            retrieve_format(&h(zip_le), None).unwrap(),
            RetrieveFormat::Zip(TsChoice::Listed(vec![EXPLICIT_LE.into()]))
        );
        assert_eq!(
            retrieve_format(
                &h("application/zip"),
                Some("multipart/related;type=\"application/dicom\";transfer-syntax=*,image/png")
            )
            .unwrap(),
            RetrieveFormat::Multipart(TsChoice::AsStored)
        );
        assert!(retrieve_format(&h("application/zip;q=0, image/png"), None).is_err());
        let ApiError::NotAcceptable(msg) = retrieve_format(&h("text/html"), None).unwrap_err()
        else {
            panic!()
        };
        assert!(
            msg.contains("text/html") && msg.contains("offered: multipart/related"),
            "{msg}"
        );
    }

    #[test]
    fn q_zero_alone_is_not_acceptable_everywhere() {
        // RFC 9110 12.5.1: q=0 means "not acceptable"; only an absent (or empty) Accept
        // gets the default
        for v in [
            "application/dicom+json;q=0",
            "multipart/related; type=\"application/dicom\"; q=0",
            "*/*;q=0",
            "garbage;;;===",
        ] {
            assert!(retrieve_format(&h(v), None).is_err(), "{v}");
            assert!(structured(&h(v), None, true).is_err(), "{v}");
            assert!(bulk(&h(v), None).is_err(), "{v}");
        }
        assert!(retrieve_format(&h(" "), None).is_ok());
        assert!(json(&h("*/*"), None).is_ok());
        let ApiError::NotAcceptable(msg) = json(&h("garbage;;;==="), None).unwrap_err() else {
            panic!()
        };
        assert!(
            msg.contains("\"garbage;;;===\"") && msg.contains("offered: application/dicom+json"),
            "{msg}"
        );
        let ApiError::NotAcceptable(msg) =
            json(&h("text/html, application/json;q=0"), None).unwrap_err()
        else {
            panic!()
        };
        assert!(msg.contains("[text/html]") && msg.contains("q=0"), "{msg}");
    }

    #[test]
    fn syntax_refusal_names_what_can_be_sent() {
        let ApiError::NotAcceptable(msg) = syntax_not_offered(
            "the matching instance is",
            &["1.2.840.10008.1.2.1"],
            "1.2.840.10008.1.2.4.50",
            "transfer-syntax",
            &[EXPLICIT_LE],
        ) else {
            panic!()
        };
        assert!(
            msg.contains("does not compress")
                && msg.contains("offered: transfer-syntax=* (as stored), 1.2.840.10008.1.2.1")
                && !msg.contains("cannot decode"),
            "{msg}"
        );
        let ApiError::NotAcceptable(msg) = syntax_not_offered(
            "the object is",
            &["1.2.3.4.private"],
            EXPLICIT_LE,
            "transferSyntax",
            &[EXPLICIT_LE],
        ) else {
            panic!()
        };
        assert!(
            msg.contains("cannot decode 1.2.3.4.private")
                && msg.ends_with("offered: transferSyntax=* (as stored)"),
            "{msg}"
        );
    }

    #[test]
    fn structured_and_bulk_answers() {
        assert_eq!(
            structured(&h("application/dicom+xml"), None, true).unwrap(),
            Structured::Xml
        );
        assert_eq!(
            structured(
                &h("application/dicom+xml;q=0.5, application/dicom+json"),
                None,
                true
            )
            .unwrap(),
            Structured::Json
        );
        assert_eq!(
            structured(
                &h("multipart/related; type=\"application/dicom+xml\""),
                None,
                true
            )
            .unwrap(),
            Structured::Xml
        );
        assert!(json(&h("application/dicom+xml"), None).is_err());
        json(&h("text/html, application/json;q=0.1"), None).unwrap();
        // OHIF 3726: a combined Accept value
        let b = bulk(
            &h("application/dicom+json, multipart/related; type=application/octet-stream"),
            None,
        )
        .unwrap();
        assert!(b.octet_stream && !b.takes("image/jpeg"));
        let b = bulk(&h("multipart/related; type=\"image/jpeg\""), None).unwrap();
        assert!(!b.octet_stream && b.takes("image/jpeg"));
        assert!(bulk(&h("application/dicom+json"), None).is_err());
    }
}
