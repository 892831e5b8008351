//! The Native DICOM Model (PS3.19 Annex A) of index attributes, for QIDO-RS answers in
//! `multipart/related; type="application/dicom+xml"` (PS3.18 8.7.3.4), and the keywords of
//! tags (CSV headers, the `keyword` XML attribute).

use arc_model::{AttrValue, IndexAttrs};
use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_dictionary_std::StandardDataDictionary;

/// The keyword of a `GGGGEEEE` tag in the standard data dictionary (PS3.6).
pub fn keyword_of(tag: &str) -> Option<&'static str> {
    let t = crate::parse::parse_tag(tag)?;
    StandardDataDictionary.by_tag(t).map(|e| e.alias())
}

/// Escapes text for XML character data and attribute values.
fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // characters XML 1.0 cannot carry
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

/// One data set as a `NativeDicomModel` document (UTF-8, PS3.19 A.1).
pub fn attrs_to_xml(attrs: &IndexAttrs) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <NativeDicomModel xmlns=\"http://dicom.nema.org/PS3.19/models/NativeDICOM\" xml:space=\"preserve\">\n",
    );
    write_attrs(attrs, &mut out);
    out.push_str("</NativeDicomModel>\n");
    out
}

fn write_attrs(attrs: &IndexAttrs, out: &mut String) {
    for (tag, attr) in attrs {
        out.push_str("<DicomAttribute tag=\"");
        escape(tag, out);
        out.push_str("\" vr=\"");
        escape(&attr.vr, out);
        out.push('"');
        if let Some(keyword) = keyword_of(tag) {
            out.push_str(" keyword=\"");
            out.push_str(keyword);
            out.push('"');
        }
        out.push('>');
        write_value(attr, out);
        out.push_str("</DicomAttribute>\n");
    }
}

/// PS3.19 A.1.5: PN values as components of each group.
const PN_GROUPS: [&str; 3] = ["Alphabetic", "Ideographic", "Phonetic"];
const PN_COMPONENTS: [&str; 5] = [
    "FamilyName",
    "GivenName",
    "MiddleName",
    "NamePrefix",
    "NameSuffix",
];

fn write_value(attr: &AttrValue, out: &mut String) {
    if attr.vr == "SQ" {
        for (i, item) in attr.items.iter().enumerate() {
            out.push_str(&format!("<Item number=\"{}\">", i + 1));
            write_attrs(item, out);
            out.push_str("</Item>");
        }
        return;
    }
    for (i, value) in attr.values.iter().enumerate() {
        let number = i + 1;
        if value.is_empty() {
            continue;
        }
        if attr.vr == "PN" {
            out.push_str(&format!("<PersonName number=\"{number}\">"));
            for (group, text) in PN_GROUPS.iter().zip(value.split('=')) {
                if text.is_empty() {
                    continue;
                }
                out.push_str(&format!("<{group}>"));
                for (component, part) in PN_COMPONENTS.iter().zip(text.split('^')) {
                    if !part.is_empty() {
                        out.push_str(&format!("<{component}>"));
                        escape(part, out);
                        out.push_str(&format!("</{component}>"));
                    }
                }
                out.push_str(&format!("</{group}>"));
            }
            out.push_str("</PersonName>");
        } else {
            out.push_str(&format!("<Value number=\"{number}\">"));
            escape(value, out);
            out.push_str("</Value>");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_model_of_names_values_and_items() {
        let mut item = IndexAttrs::new();
        item.insert(
            "00400009".into(),
            AttrValue::text("SH", vec!["SPS<1>".into()]),
        );
        let mut attrs = IndexAttrs::new();
        attrs.insert(
            "00100010".into(),
            AttrValue::text("PN", vec!["Doe^John=山田^太郎".into()]),
        );
        attrs.insert(
            "00080061".into(),
            AttrValue::text("CS", vec!["CT".into(), "SR".into()]),
        );
        attrs.insert(
            "00400275".into(),
            AttrValue {
                vr: "SQ".into(),
                values: vec![],
                items: vec![item],
            },
        );
        let xml = attrs_to_xml(&attrs);
        assert!(xml.contains("<DicomAttribute tag=\"00100010\" vr=\"PN\" keyword=\"PatientName\"><PersonName number=\"1\"><Alphabetic><FamilyName>Doe</FamilyName><GivenName>John</GivenName></Alphabetic><Ideographic><FamilyName>山田</FamilyName><GivenName>太郎</GivenName></Ideographic></PersonName></DicomAttribute>"), "{xml}");
        assert!(xml.contains("<Value number=\"1\">CT</Value><Value number=\"2\">SR</Value>"));
        assert!(xml.contains("<Item number=\"1\"><DicomAttribute tag=\"00400009\" vr=\"SH\" keyword=\"ScheduledProcedureStepID\"><Value number=\"1\">SPS&lt;1&gt;</Value>"));
        assert_eq!(keyword_of("00081190"), Some("RetrieveURL"));
        assert_eq!(keyword_of("zz"), None);
    }
}
