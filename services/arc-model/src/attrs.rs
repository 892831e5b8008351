//! Index attributes: the values an event carries so the projector can answer QIDO and C-FIND
//! without reading the blob. Keys are tags as eight upper-case hex digits (`0020000D`), the
//! form DICOM JSON uses (PS3.18 F.2.1).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One attribute: its VR and its values, decoded to UTF-8 text. Person names keep the
/// `alphabetic=ideographic=phonetic` form of PS3.5 6.2; numbers keep their text form.
/// A sequence attribute holds its items as nested attribute maps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttrValue {
    /// The two-letter value representation.
    pub vr: String,
    /// The values; empty for a present but empty attribute.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// Items of a sequence (VR `SQ`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<IndexAttrs>,
}

impl AttrValue {
    /// A text attribute with the given values.
    pub fn text(vr: &str, values: Vec<String>) -> Self {
        AttrValue {
            vr: vr.to_string(),
            values,
            items: Vec::new(),
        }
    }

    /// The first value, if any.
    pub fn first(&self) -> Option<&str> {
        self.values.first().map(String::as_str)
    }
}

/// Attributes by tag (`GGGGEEEE`), ordered by tag as DICOM orders them.
pub type IndexAttrs = BTreeMap<String, AttrValue>;

/// Attributes whose current values differ from a stored object, with why and when they
/// changed: retrieval merges them into the object and records the values they replace in
/// an Original Attributes Sequence item (PS3.3 C.12.1.1.9).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// The current values.
    pub attrs: IndexAttrs,
    /// Reason for the Attribute Modification (0400,0565): `COERCE` for store-time coercion.
    pub reason: &'static str,
    /// When the change was recorded: the time of its event, in Unix milliseconds.
    pub millis: i64,
}

impl Overrides {
    /// Whether the object is served as stored.
    pub fn is_empty(&self) -> bool {
        self.attrs.is_empty()
    }
}

/// Formats a tag as DICOM JSON keys do (`0020000D`).
pub fn tag_key(group: u16, element: u16) -> String {
    format!("{group:04X}{element:04X}")
}
