//! The index schema: one raw field per matchable attribute of arc-model's dictionary
//! (`INDEXED`, `COMPUTED`, and the nested item keys), plus the entity fields every
//! document carries.
//!
//! Field naming: an attribute's raw values go in a field named by its keyword
//! (`PatientName`); nested item keys by their dotted path
//! (`RequestAttributesSequence.ScheduledProcedureStepID`). PN attributes add a lower-cased
//! field `<path>#ci` (PS3.4 C.2.2.2.1 permits case-insensitive PN matching); DA/TM/DT add
//! `<path>#n` with values normalized for range matching (PS3.4 C.2.2.2.5).

use arc_model::dictionary::{
    lookup, Indexed, COMPUTED, INDEXED, OTHER_PATIENT_IDS_ITEM, REQUEST_ATTRIBUTES_ITEM,
};
use std::sync::OnceLock;
use tantivy::schema::{Field, Schema, FAST, STORED, STRING};

use crate::{IndexError, Result};

/// Entity level: `patient`, `study`, `series`, `instance`.
pub(crate) const LEVEL: &str = "level";
/// The entity's own UID (the patient key for patients).
pub(crate) const UID: &str = "uid";
/// Study Instance UID of the entity (its own for a study).
pub(crate) const STUDY_UID: &str = "study_uid";
/// Series Instance UID of the entity (its own for a series).
pub(crate) const SERIES_UID: &str = "series_uid";
/// `level:uid`, the unit of replacement.
pub(crate) const KEY: &str = "key";
/// Stable order of results (fast u64).
pub(crate) const ORD: &str = "ord";
/// The entity's IndexAttrs as JSON (stored only).
pub(crate) const ATTRS: &str = "attrs";

/// Suffix of the lower-cased PN field.
pub(crate) const CI_SUFFIX: &str = "#ci";
/// Suffix of the normalized DA/TM/DT field.
pub(crate) const NORM_SUFFIX: &str = "#n";

/// Sequences whose item keys are indexed, with the keys of their items.
pub(crate) const NESTED: &[(&str, &[Indexed])] = &[
    ("RequestAttributesSequence", REQUEST_ATTRIBUTES_ITEM),
    ("OtherPatientIDsSequence", OTHER_PATIENT_IDS_ITEM),
];

/// One matchable attribute: a top-level attribute, or a key inside a sequence's items.
#[derive(Debug)]
pub(crate) struct AttrField {
    /// Field name: keyword, or `Sequence.Keyword`.
    pub path: String,
    /// The enclosing sequence, for nested keys.
    pub seq: Option<&'static Indexed>,
    /// The attribute itself (for nested keys, as listed in the item table).
    pub attr: &'static Indexed,
}

impl AttrField {
    /// The information-model level the key belongs to (a nested key: its sequence's).
    pub fn level(&self) -> arc_model::Level {
        self.seq.map_or(self.attr.level, |s| s.level)
    }

    /// The tag of the top-level attribute (the sequence for nested keys).
    pub fn top_tag(&self) -> &'static str {
        self.seq.map_or(self.attr.tag, |s| s.tag)
    }

    /// The field matching uses for this attribute's VR.
    pub fn match_field(&self) -> String {
        match self.attr.vr {
            "PN" => format!("{}{CI_SUFFIX}", self.path),
            "DA" | "TM" | "DT" => format!("{}{NORM_SUFFIX}", self.path),
            _ => self.path.clone(),
        }
    }
}

/// Every matchable attribute, in a fixed order (the schema's field order depends on it).
pub(crate) fn attr_fields() -> &'static [AttrField] {
    static FIELDS: OnceLock<Vec<AttrField>> = OnceLock::new();
    FIELDS.get_or_init(|| {
        let mut out: Vec<AttrField> = INDEXED
            .iter()
            .chain(COMPUTED)
            .filter(|a| a.vr != "SQ")
            .map(|a| AttrField {
                path: a.keyword.to_string(),
                seq: None,
                attr: a,
            })
            .collect();
        for (seq_keyword, items) in NESTED {
            let Some(seq) = lookup(seq_keyword) else {
                continue;
            };
            for item in *items {
                out.push(AttrField {
                    path: format!("{}.{}", seq.keyword, item.keyword),
                    seq: Some(seq),
                    attr: item,
                });
            }
        }
        out
    })
}

/// Resolves a query key: a keyword or `GGGGEEEE` tag, or a dotted path of two of them for
/// a nested item key. Returns the sequence itself when the key names an indexed sequence.
pub(crate) enum KeyRef {
    Attr(&'static AttrField),
    Sequence(&'static Indexed),
}

pub(crate) fn resolve_key(key: &str) -> Option<KeyRef> {
    let mut parts = key.split('.');
    let first = lookup(parts.next()?)?;
    match (parts.next(), parts.next()) {
        (None, _) if first.vr == "SQ" => Some(KeyRef::Sequence(first)),
        (None, _) => attr_fields()
            .iter()
            .find(|f| f.seq.is_none() && f.attr.tag == first.tag)
            .map(KeyRef::Attr),
        (Some(inner), None) => attr_fields()
            .iter()
            .find(|f| {
                f.seq.is_some_and(|s| s.tag == first.tag)
                    && (f.attr.keyword == inner || f.attr.tag.eq_ignore_ascii_case(inner))
            })
            .map(KeyRef::Attr),
        _ => None,
    }
}

/// Handles of the fields of the schema.
pub(crate) struct Fields {
    pub schema: Schema,
    pub level: Field,
    pub uid: Field,
    pub study_uid: Field,
    pub series_uid: Field,
    pub key: Field,
    pub ord: Field,
    pub attrs: Field,
    /// Per entry of [`attr_fields`]: raw field, `#ci` field (PN), `#n` field (DA/TM/DT).
    pub per_attr: Vec<(Field, Option<Field>, Option<Field>)>,
}

/// Builds the schema from the dictionary tables.
pub(crate) fn build_schema() -> Schema {
    let mut b = Schema::builder();
    for name in [LEVEL, UID, STUDY_UID, SERIES_UID, KEY] {
        b.add_text_field(name, STRING);
    }
    b.add_u64_field(ORD, FAST);
    b.add_text_field(ATTRS, STORED);
    for f in attr_fields() {
        b.add_text_field(&f.path, STRING);
        match f.attr.vr {
            "PN" => {
                b.add_text_field(&format!("{}{CI_SUFFIX}", f.path), STRING);
            }
            "DA" | "TM" | "DT" => {
                b.add_text_field(&format!("{}{NORM_SUFFIX}", f.path), STRING);
            }
            _ => {}
        }
    }
    b.build()
}

impl Fields {
    /// Looks up the handles in a schema made by [`build_schema`].
    pub fn new(schema: Schema) -> Result<Fields> {
        let get = |name: &str| schema.get_field(name).map_err(IndexError::from);
        let per_attr = attr_fields()
            .iter()
            .map(|f| {
                let ci = schema.get_field(&format!("{}{CI_SUFFIX}", f.path)).ok();
                let norm = schema.get_field(&format!("{}{NORM_SUFFIX}", f.path)).ok();
                Ok((get(&f.path)?, ci, norm))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Fields {
            level: get(LEVEL)?,
            uid: get(UID)?,
            study_uid: get(STUDY_UID)?,
            series_uid: get(SERIES_UID)?,
            key: get(KEY)?,
            ord: get(ORD)?,
            attrs: get(ATTRS)?,
            per_attr,
            schema,
        })
    }

    /// A field by name (names come from [`AttrField::match_field`]).
    pub fn named(&self, name: &str) -> Result<Field> {
        Ok(self.schema.get_field(name)?)
    }
}

/// The replacement key of an entity.
pub(crate) fn entity_key(level: arc_model::Level, uid: &str) -> String {
    format!("{}:{uid}", level.as_str())
}
