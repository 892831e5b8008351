//! The Native DICOM Model (PS3.19 A.1) of a DICOM JSON data set: `application/dicom+xml`
//! answers (STOW-RS responses, WADO-RS metadata, QIDO-RS results) made from the JSON the
//! archive keeps, and the keywords of tags (CSV headers, the `keyword` XML attribute).

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_dictionary_std::StandardDataDictionary;
use serde_json::Value;

/// The whole XML document of one data set given as DICOM JSON (PS3.18 F.2).
pub fn json_to_native_xml(dataset: &Value) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str("<NativeDicomModel xmlns=\"http://dicom.nema.org/PS3.19/models/NativeDICOM\" xml:space=\"preserve\">");
    write_dataset(dataset, &mut out);
    out.push_str("</NativeDicomModel>\n");
    out
}

fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
}

/// The whole XML document of a set of index attributes (QIDO-RS results, PS3.18 8.7.3.4).
pub fn attrs_to_xml(attrs: &arc_model::IndexAttrs) -> String {
    json_to_native_xml(&crate::attrs_to_json(attrs))
}

/// The keyword of a `GGGGEEEE` tag in the standard data dictionary (PS3.6).
pub fn keyword_of(tag: &str) -> Option<&'static str> {
    let t = crate::parse::parse_tag(tag)?;
    StandardDataDictionary
        .by_tag(t)
        .map(|e| e.alias())
        .filter(|a| !a.is_empty())
}

fn write_dataset(dataset: &Value, out: &mut String) {
    let Some(map) = dataset.as_object() else {
        return;
    };
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    for key in keys {
        let attr = &map[key];
        let vr = attr.get("vr").and_then(Value::as_str).unwrap_or("UN");
        out.push_str("<DicomAttribute tag=\"");
        escape(key, out);
        out.push_str("\" vr=\"");
        escape(vr, out);
        out.push('"');
        if let Some(k) = keyword_of(key) {
            out.push_str(&format!(" keyword=\"{k}\""));
        }
        out.push('>');
        if let Some(values) = attr.get("Value").and_then(Value::as_array) {
            for (i, v) in values.iter().enumerate() {
                let n = i + 1;
                match (vr, v) {
                    ("SQ", item) => {
                        out.push_str(&format!("<Item number=\"{n}\">"));
                        write_dataset(item, out);
                        out.push_str("</Item>");
                    }
                    ("PN", Value::Object(pn)) => {
                        out.push_str(&format!("<PersonName number=\"{n}\">"));
                        for group in ["Alphabetic", "Ideographic", "Phonetic"] {
                            if let Some(s) = pn.get(group).and_then(Value::as_str) {
                                write_pn_group(group, s, out);
                            }
                        }
                        out.push_str("</PersonName>");
                    }
                    (_, Value::Null) => out.push_str(&format!("<Value number=\"{n}\"/>")),
                    (_, Value::String(s)) => {
                        out.push_str(&format!("<Value number=\"{n}\">"));
                        escape(s, out);
                        out.push_str("</Value>");
                    }
                    (_, other) => out.push_str(&format!("<Value number=\"{n}\">{other}</Value>")),
                }
            }
        } else if let Some(b64) = attr.get("InlineBinary").and_then(Value::as_str) {
            out.push_str("<InlineBinary>");
            escape(b64, out);
            out.push_str("</InlineBinary>");
        } else if let Some(uri) = attr.get("BulkDataURI").and_then(Value::as_str) {
            out.push_str("<BulkData uri=\"");
            escape(uri, out);
            out.push_str("\"/>");
        }
        out.push_str("</DicomAttribute>");
    }
}

/// One component group of a person name (PS3.19 A.1.1: FamilyName, GivenName, MiddleName,
/// NamePrefix, NameSuffix).
fn write_pn_group(group: &str, value: &str, out: &mut String) {
    const PARTS: [&str; 5] = [
        "FamilyName",
        "GivenName",
        "MiddleName",
        "NamePrefix",
        "NameSuffix",
    ];
    out.push_str(&format!("<{group}>"));
    for (name, part) in PARTS.iter().zip(value.split('^')) {
        if !part.is_empty() {
            out.push_str(&format!("<{name}>"));
            escape(part, out);
            out.push_str(&format!("</{name}>"));
        }
    }
    out.push_str(&format!("</{group}>"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_model_of_a_store_response() {
        let doc = serde_json::json!({
            "00081190": {"vr": "UR", "Value": ["http://h/rs/studies/1?a=1&b=<2>"]},
            "00081199": {"vr": "SQ", "Value": [{"00081150": {"vr": "UI", "Value": ["1.2"]}, "00081196": {"vr": "US", "Value": [45056]}}]},
            "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Doe^John", "Ideographic": "山田^太郎"}]},
            "7FE00010": {"vr": "OB", "BulkDataURI": "http://h/bulk"},
            "00081198": {"vr": "SQ"}
        });
        let xml = json_to_native_xml(&doc);
        assert!(xml.contains("<DicomAttribute tag=\"00081190\" vr=\"UR\" keyword=\"RetrieveURL\"><Value number=\"1\">http://h/rs/studies/1?a=1&amp;b=&lt;2&gt;</Value>"));
        assert!(xml.contains("<Item number=\"1\"><DicomAttribute tag=\"00081150\" vr=\"UI\" keyword=\"ReferencedSOPClassUID\"><Value number=\"1\">1.2</Value>"));
        assert!(xml.contains("<Value number=\"1\">45056</Value>"));
        assert!(xml.contains("<PersonName number=\"1\"><Alphabetic><FamilyName>Doe</FamilyName><GivenName>John</GivenName></Alphabetic><Ideographic><FamilyName>山田</FamilyName>"));
        assert!(xml.contains("<BulkData uri=\"http://h/bulk\"/>"));
        assert!(xml.contains("<DicomAttribute tag=\"00081198\" vr=\"SQ\" keyword=\"FailedSOPSequence\"></DicomAttribute>"));
    }

    #[test]
    fn native_model_of_index_attributes() {
        use arc_model::{AttrValue, IndexAttrs};
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
