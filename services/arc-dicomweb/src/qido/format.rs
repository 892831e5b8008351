//! QIDO-RS answer formats (PS3.18 8.7.3.4, 10.6.3): negotiation from the Accept header or the
//! `accept` query parameter, and the bodies: DICOM JSON (the default), `multipart/related;
//! type="application/dicom+xml"` with one Native DICOM Model document per match (PS3.19),
//! and `text/csv` as dcm4chee-arc-light writes it (a header row of keywords, every field
//! quoted, `delimiter=semicolon` for `;`, sequences left out, values joined with `\`).

use crate::{accept, ApiError};
use arc_dicom::MultipartWriter;
use arc_model::{AttrValue, IndexAttrs};
use axum::http::HeaderMap;
use std::collections::BTreeSet;

/// The media types QIDO-RS answers with, for 406 messages.
const OFFERED: &str = "application/dicom+json, application/json, multipart/related; type=\"application/dicom+xml\", text/csv";

/// The negotiated answer format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// `application/dicom+json` (also for `application/json`).
    Json,
    /// `multipart/related; type="application/dicom+xml"`.
    Xml,
    /// `text/csv` with this field delimiter.
    Csv(char),
}

/// The format of the most preferred acceptable range of the `accept` query parameter, which
/// replaces the Accept header when present (PS3.18 8.3.3.1), else of the Accept header;
/// JSON when neither says anything (ranges all with q=0 are a 406, RFC 9110 12.5.1). Ranges are read by [`accept::ranges`] (best first).
pub(crate) fn negotiate(
    headers: &HeaderMap,
    accept_param: Option<&str>,
) -> Result<Format, ApiError> {
    let ranges = accept::ranges(headers, accept_param);
    if ranges.unspecified() {
        return Ok(Format::Json);
    }
    for range in &ranges {
        let mt = &range.mt;
        let format = match mt.essence().as_str() {
            "application/dicom+json" | "application/json" => Format::Json,
            // A wildcard takes the first offered type the client did not refuse by name.
            wild @ ("application/*" | "*/*") => {
                if !ranges.refuses("application/dicom+json") {
                    Format::Json
                } else if !ranges.refuses("application/dicom+xml")
                    && !ranges.refuses("multipart/related")
                {
                    Format::Xml
                } else if wild == "*/*" && !ranges.refuses("text/csv") {
                    Format::Csv(',')
                } else {
                    continue;
                }
            }
            "text/csv" | "text/*" => {
                let semicolon = mt
                    .param("delimiter")
                    .is_some_and(|d| d.trim().eq_ignore_ascii_case("semicolon"));
                Format::Csv(if semicolon { ';' } else { ',' })
            }
            "multipart/related" => match range.multipart_type().as_deref() {
                None | Some("application/dicom+xml") => Format::Xml,
                _ => continue,
            },
            "multipart/*" | "application/dicom+xml" => Format::Xml,
            _ => continue,
        };
        return Ok(format);
    }
    Err(accept::not_acceptable(&ranges, OFFERED))
}

/// A rendered answer: its Content-Type and body.
pub(crate) struct Body {
    pub content_type: String,
    pub bytes: bytes::Bytes,
}

/// Renders the selected attributes of each match.
pub(crate) fn render(format: Format, results: &[IndexAttrs], csv_columns: &[String]) -> Body {
    match format {
        Format::Json => Body {
            content_type: "application/dicom+json".into(),
            bytes: serde_json::Value::Array(results.iter().map(arc_dicom::attrs_to_json).collect())
                .to_string()
                .into(),
        },
        Format::Xml => {
            let mut writer = MultipartWriter::new("application/dicom+xml");
            for attrs in results {
                writer.part("application/dicom+xml", &[], arc_dicom::attrs_to_xml(attrs));
            }
            Body {
                content_type: writer.content_type(),
                bytes: writer.finish(),
            }
        }
        Format::Csv(delimiter) => Body {
            content_type: "text/csv; charset=utf-8".into(),
            bytes: csv(results, csv_columns, delimiter).into(),
        },
    }
}

/// The CSV columns: the tags asked for and those the results carry, sequences left out.
pub(crate) fn csv_columns(wanted: &[&str], results: &[IndexAttrs]) -> Vec<String> {
    let is_sequence = |tag: &str| arc_model::dictionary::lookup(tag).is_some_and(|e| e.vr == "SQ");
    let mut tags: BTreeSet<String> = wanted
        .iter()
        .filter(|t| !is_sequence(t))
        .map(|t| t.to_string())
        .collect();
    for attrs in results {
        tags.extend(
            attrs
                .iter()
                .filter(|(_, v)| v.vr != "SQ")
                .map(|(t, _)| t.clone()),
        );
    }
    tags.into_iter().collect()
}

fn quote(text: &str, out: &mut String) {
    out.push('"');
    out.push_str(&text.replace('"', "\"\""));
    out.push('"');
}

fn csv(results: &[IndexAttrs], columns: &[String], delimiter: char) -> String {
    let mut out = String::new();
    for (i, tag) in columns.iter().enumerate() {
        if i > 0 {
            out.push(delimiter);
        }
        let keyword = arc_dicom::keyword_of(tag)
            .or_else(|| arc_model::dictionary::lookup(tag).map(|e| e.keyword))
            .unwrap_or(tag);
        quote(keyword, &mut out);
    }
    out.push_str("\r\n");
    for attrs in results {
        for (i, tag) in columns.iter().enumerate() {
            if i > 0 {
                out.push(delimiter);
            }
            let text = attrs
                .get(tag)
                .map(|a: &AttrValue| a.values.join("\\"))
                .unwrap_or_default();
            quote(&text, &mut out);
        }
        out.push_str("\r\n");
    }
    out
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
    fn a_type_refused_by_name_is_not_taken_by_a_wildcard() {
        let pick = |v: &str| negotiate(&h(v), None);
        assert_eq!(
            pick("application/dicom+json;q=0, */*;q=0.1").unwrap(),
            Format::Xml
        );
        assert_eq!(
            pick("application/dicom+json;q=0, application/dicom+xml;q=0, */*").unwrap(),
            Format::Csv(',')
        );
        assert!(pick("application/dicom+json;q=0, application/*").is_ok());
        assert!(pick(
            "application/dicom+json;q=0, multipart/related;q=0, text/csv;q=0, application/*"
        )
        .is_err());
        assert_eq!(pick("text/csv;q=0, */*").unwrap(), Format::Json);
    }

    #[test]
    fn negotiation() {
        assert_eq!(negotiate(&HeaderMap::new(), None).unwrap(), Format::Json);
        assert_eq!(
            negotiate(&h("application/dicom+json"), None).unwrap(),
            Format::Json
        );
        assert_eq!(negotiate(&h("text/csv"), None).unwrap(), Format::Csv(','));
        assert_eq!(
            negotiate(&h("text/csv; delimiter=semicolon"), None).unwrap(),
            Format::Csv(';')
        );
        assert_eq!(
            negotiate(
                &h("multipart/related; type=\"application/dicom+xml\""),
                None
            )
            .unwrap(),
            Format::Xml
        );
        assert_eq!(
            negotiate(&h("text/csv;q=0.5, application/json"), None).unwrap(),
            Format::Json
        );
        assert_eq!(
            negotiate(&h("application/json"), Some("text/csv")).unwrap(),
            Format::Csv(',')
        );
        let e = negotiate(&h("image/png"), None).unwrap_err().to_string();
        assert!(
            e.contains("text/csv") && e.contains("application/dicom+xml"),
            "{e}"
        );
        assert!(negotiate(&h("multipart/related; type=\"application/dicom\""), None).is_err());
    }

    #[test]
    fn csv_quotes_every_field() {
        let mut a = IndexAttrs::new();
        a.insert(
            "00100010".into(),
            AttrValue::text("PN", vec!["Doe^\"J\"".into()]),
        );
        a.insert(
            "00080061".into(),
            AttrValue::text("CS", vec!["CT".into(), "SR".into()]),
        );
        let cols = csv_columns(&["00100020"], std::slice::from_ref(&a));
        assert_eq!(cols, ["00080061", "00100010", "00100020"]);
        assert_eq!(
            csv(&[a], &cols, ';'),
            "\"ModalitiesInStudy\";\"PatientName\";\"PatientID\"\r\n\"CT\\SR\";\"Doe^\"\"J\"\"\";\"\"\r\n"
        );
    }
}
