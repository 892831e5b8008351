//! Reading the Native DICOM Model (PS3.19 A.1) into DICOM JSON (PS3.18 F.2), for STOW-RS
//! requests whose metadata is `application/dicom+xml`. A small parser for the subset the
//! model uses: elements, attributes, text, character and the five predefined entities;
//! declarations, comments and processing instructions are skipped; DTDs are refused.

use crate::error::DicomError;
use serde_json::{Map, Value};

fn bad(why: impl Into<String>) -> DicomError {
    DicomError::Unsupported(format!("unreadable Native DICOM Model XML: {}", why.into()))
}

/// One XML element.
#[derive(Debug, Default)]
struct Element {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Element>,
    text: String,
}

impl Element {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }
}

fn unescape(s: &str) -> Result<String, DicomError> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let end = rest[i..]
            .find(';')
            .ok_or_else(|| bad("unterminated entity"))?
            + i;
        let ent = &rest[i + 1..end];
        let c = match ent {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32)
                .ok_or_else(|| bad("bad character reference"))?,
            e if e.starts_with('#') => e[1..]
                .parse::<u32>()
                .ok()
                .and_then(char::from_u32)
                .ok_or_else(|| bad("bad character reference"))?,
            e => return Err(bad(format!("unknown entity &{e};"))),
        };
        out.push(c);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Strips a namespace prefix (`ns:Name` → `Name`).
fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

fn parse(doc: &str) -> Result<Element, DicomError> {
    let mut stack: Vec<Element> = vec![Element::default()];
    let mut rest = doc;
    while !rest.is_empty() {
        let Some(lt) = rest.find('<') else {
            stack
                .last_mut()
                .expect("root")
                .text
                .push_str(&unescape(rest)?);
            break;
        };
        if lt > 0 {
            stack
                .last_mut()
                .expect("root")
                .text
                .push_str(&unescape(&rest[..lt])?);
        }
        rest = &rest[lt..];
        if let Some(r) = rest.strip_prefix("<?") {
            rest = &r[r
                .find("?>")
                .ok_or_else(|| bad("unterminated declaration"))?
                + 2..];
        } else if let Some(r) = rest.strip_prefix("<!--") {
            rest = &r[r.find("-->").ok_or_else(|| bad("unterminated comment"))? + 3..];
        } else if let Some(r) = rest.strip_prefix("<![CDATA[") {
            let end = r.find("]]>").ok_or_else(|| bad("unterminated CDATA"))?;
            stack.last_mut().expect("root").text.push_str(&r[..end]);
            rest = &r[end + 3..];
        } else if rest.starts_with("<!") {
            return Err(bad("document type declarations are not accepted"));
        } else if let Some(r) = rest.strip_prefix("</") {
            let end = r.find('>').ok_or_else(|| bad("unterminated end tag"))?;
            let name = local(r[..end].trim());
            let done = stack.pop().ok_or_else(|| bad("unbalanced end tag"))?;
            if done.name != name || stack.is_empty() {
                return Err(bad(format!(
                    "end tag </{name}> does not close <{}>",
                    done.name
                )));
            }
            stack.last_mut().expect("parent").children.push(done);
            rest = &r[end + 1..];
        } else {
            let end = tag_end(rest).ok_or_else(|| bad("unterminated start tag"))?;
            let inner = &rest[1..end];
            let (inner, empty) = match inner.strip_suffix('/') {
                Some(i) => (i, true),
                None => (inner, false),
            };
            let name_end = inner
                .find(|c: char| c.is_whitespace())
                .unwrap_or(inner.len());
            let mut el = Element {
                name: local(&inner[..name_end]).to_string(),
                ..Element::default()
            };
            let mut a = inner[name_end..].trim_start();
            while !a.is_empty() {
                let eq = a.find('=').ok_or_else(|| bad("attribute without value"))?;
                let key = local(a[..eq].trim()).to_string();
                let v = a[eq + 1..].trim_start();
                let q = v
                    .chars()
                    .next()
                    .filter(|c| *c == '"' || *c == '\'')
                    .ok_or_else(|| bad("unquoted attribute"))?;
                let close = v[1..]
                    .find(q)
                    .ok_or_else(|| bad("unterminated attribute"))?
                    + 1;
                el.attrs.push((key, unescape(&v[1..close])?));
                a = v[close + 1..].trim_start();
            }
            if empty {
                stack.last_mut().expect("parent").children.push(el);
            } else {
                stack.push(el);
            }
            rest = &rest[end + 1..];
        }
    }
    if stack.len() != 1 {
        return Err(bad("unclosed elements"));
    }
    let mut root = stack.pop().expect("root");
    root.children
        .pop()
        .filter(|_| root.children.is_empty())
        .ok_or_else(|| bad("not one root element"))
}

/// The `>` ending a start tag, skipping quoted attribute values.
fn tag_end(s: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return Some(i),
            _ => {}
        }
    }
    None
}

fn value_json(vr: &str, text: &str) -> Value {
    if crate::values::is_numeric_vr(vr) {
        if let Some(n) = crate::values::json_number(vr, text) {
            return n;
        }
    }
    Value::String(text.to_string())
}

fn dataset(el: &Element) -> Result<Value, DicomError> {
    let mut map = Map::new();
    for attr in el.children.iter().filter(|c| c.name == "DicomAttribute") {
        let tag = attr
            .attr("tag")
            .ok_or_else(|| bad("DicomAttribute without tag"))?
            .to_ascii_uppercase();
        let vr = attr.attr("vr").unwrap_or("UN").to_string();
        let mut out = Map::new();
        out.insert("vr".into(), vr.clone().into());
        let numbered = |name: &str| -> Vec<&Element> {
            let mut v: Vec<&Element> = attr.children.iter().filter(|c| c.name == name).collect();
            v.sort_by_key(|c| {
                c.attr("number")
                    .and_then(|n| n.parse::<u32>().ok())
                    .unwrap_or(0)
            });
            v
        };
        if let Some(b) = attr.child("BulkData") {
            out.insert(
                "BulkDataURI".into(),
                b.attr("uri").or(b.attr("uuid")).unwrap_or("").into(),
            );
        } else if let Some(b) = attr.child("InlineBinary") {
            out.insert("InlineBinary".into(), b.text.trim().into());
        } else if vr == "SQ" {
            let items: Vec<Value> = numbered("Item")
                .into_iter()
                .map(dataset)
                .collect::<Result<_, _>>()?;
            if !items.is_empty() {
                out.insert("Value".into(), items.into());
            }
        } else if vr == "PN" {
            let names: Vec<Value> = numbered("PersonName")
                .into_iter()
                .map(|pn| {
                    let mut o = Map::new();
                    for group in ["Alphabetic", "Ideographic", "Phonetic"] {
                        if let Some(g) = pn.child(group) {
                            let parts: Vec<&str> = [
                                "FamilyName",
                                "GivenName",
                                "MiddleName",
                                "NamePrefix",
                                "NameSuffix",
                            ]
                            .iter()
                            .map(|p| g.child(p).map(|e| e.text.as_str()).unwrap_or(""))
                            .collect();
                            o.insert(
                                group.into(),
                                crate::values::normalize_pn(&parts.join("^")).into(),
                            );
                        }
                    }
                    Value::Object(o)
                })
                .collect();
            if !names.is_empty() {
                out.insert("Value".into(), names.into());
            }
        } else {
            let values: Vec<Value> = numbered("Value")
                .into_iter()
                .map(|v| value_json(&vr, &v.text))
                .collect();
            if !values.is_empty() {
                out.insert("Value".into(), values.into());
            }
        }
        map.insert(tag, Value::Object(out));
    }
    Ok(Value::Object(map))
}

/// DICOM JSON of one Native DICOM Model document.
pub fn native_xml_to_json(doc: &str) -> Result<Value, DicomError> {
    let root = parse(doc)?;
    if root.name != "NativeDicomModel" {
        return Err(bad(format!(
            "root element is <{}>, not <NativeDicomModel>",
            root.name
        )));
    }
    dataset(&root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_back_what_the_writer_writes() {
        let doc = json!({
            "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Doe^John", "Ideographic": "山田^太郎"}]},
            "00081190": {"vr": "UR", "Value": ["http://h/a?b=1&c=<2>"]},
            "00200013": {"vr": "IS", "Value": [7]},
            "00280030": {"vr": "DS", "Value": [0.5, 0.25]},
            "00081199": {"vr": "SQ", "Value": [{"00081150": {"vr": "UI", "Value": ["1.2"]}}]},
            "7FE00010": {"vr": "OB", "BulkDataURI": "img.jpg"},
            "00091010": {"vr": "OB", "InlineBinary": "AAEC"},
            "00080090": {"vr": "PN"}
        });
        let xml = crate::json_to_native_xml(&doc);
        assert_eq!(native_xml_to_json(&xml).unwrap(), doc);
        let with_comment = "<?xml version=\"1.0\"?><!-- c --><NativeDicomModel><DicomAttribute tag=\"00100020\" vr=\"LO\"><Value number=\"1\">A&#x26;B</Value></DicomAttribute></NativeDicomModel>";
        assert_eq!(
            native_xml_to_json(with_comment).unwrap(),
            json!({"00100020": {"vr": "LO", "Value": ["A&B"]}})
        );
    }

    #[test]
    fn malformed_documents_are_errors() {
        for bad in [
            "",
            "<a>",
            "<NativeDicomModel></Other>",
            "<!DOCTYPE x><NativeDicomModel/>",
            "<Other/>",
            "<NativeDicomModel><DicomAttribute vr=\"LO\"/></NativeDicomModel>",
            "<a b=c/>",
            "&bogus;",
        ] {
            assert!(native_xml_to_json(bad).is_err(), "{bad:?}");
        }
    }
}
