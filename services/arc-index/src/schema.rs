//! The index schema: fields for every matchable attribute of arc-model's dictionary
//! (`INDEXED`, `COMPUTED`, and the item keys of `NESTED` sequences), plus the entity fields
//! every document carries.
//!
//! Field naming: an attribute's raw values go in a field named by its keyword
//! (`PatientName`); nested item keys by their dotted path
//! (`RequestAttributesSequence.ScheduledProcedureStepID`). Derived fields add a suffix:
//! `#ci` person-name terms and `#fz` folded words ([`crate::pn`]); `#n` DA/TM/DT in sortable
//! form (PS3.4 C.2.2.2.5) and numbers in canonical form; `#s` the sort key of `orderby`
//! (fast field, top-level attributes). `Date+Time#n` holds the combined datetime of a
//! `DATE_TIME_PAIRS` pair (PS3.4 C.2.2.2.5.1). The `empty` field lists the paths of the
//! attributes an entity has no value for (Empty Value Matching, `""`).

use arc_model::dictionary::{lookup, Indexed, COMPUTED, DATE_TIME_PAIRS, INDEXED, NESTED};
use std::sync::OnceLock;
use tantivy::schema::{Field, Schema, FAST, STORED, STRING};

use crate::normalize::is_numeric;
use crate::{IndexError, Result};

/// Version of what the index holds beyond its field list (term formats); part of the schema
/// as the name of an empty field, so an index written by another version fails the schema
/// check and must be rebuilt (`arcstream reindex`).
pub(crate) const FORMAT: &str = "format_v2";

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
/// Bytes stored for the entity (fast u64; `/studies/size`).
pub(crate) const SIZE: &str = "size";
/// The entity's IndexAttrs as JSON (stored only).
pub(crate) const ATTRS: &str = "attrs";
/// Paths of attributes without a value.
pub(crate) const EMPTY: &str = "empty";

/// Suffix of the person-name term field.
pub(crate) const CI_SUFFIX: &str = "#ci";
/// Suffix of the fuzzy person-name word field.
pub(crate) const FUZZY_SUFFIX: &str = "#fz";
/// Suffix of the normalized DA/TM/DT and number field.
pub(crate) const NORM_SUFFIX: &str = "#n";
/// Suffix of the sort key fast field.
pub(crate) const SORT_SUFFIX: &str = "#s";

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

    /// The field matching uses for this attribute's VR (person names: see [`crate::pn`]).
    pub fn match_field(&self) -> String {
        match self.attr.vr {
            "PN" => format!("{}{CI_SUFFIX}", self.path),
            "DA" | "TM" | "DT" => format!("{}{NORM_SUFFIX}", self.path),
            vr if is_numeric(vr) => format!("{}{NORM_SUFFIX}", self.path),
            _ => self.path.clone(),
        }
    }

    /// Whether the attribute has a `#n` field.
    pub fn has_norm(&self) -> bool {
        matches!(self.attr.vr, "DA" | "TM" | "DT") || is_numeric(self.attr.vr)
    }

    /// Whether `orderby` can sort by it (top-level attributes).
    pub fn sortable(&self) -> bool {
        self.seq.is_none()
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

/// The indexed sequences themselves (for Empty Value Matching on a sequence).
pub(crate) fn sequences() -> impl Iterator<Item = &'static Indexed> {
    NESTED.iter().filter_map(|(keyword, _)| lookup(keyword))
}

/// The field of a combined date-time pair.
pub(crate) fn pair_field(date: &str, time: &str) -> String {
    format!("{date}+{time}{NORM_SUFFIX}")
}

/// What a query key names: an attribute, or an indexed sequence itself.
pub(crate) enum KeyRef {
    Attr(&'static AttrField),
    Sequence(&'static Indexed),
}

/// Resolves a query key: a keyword or `GGGGEEEE` tag, or a dotted path of two of them for
/// a nested item key.
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

/// Field handles of one attribute.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AttrHandles {
    pub raw: Field,
    pub ci: Option<Field>,
    pub fuzzy: Option<Field>,
    pub norm: Option<Field>,
    pub sort: Option<Field>,
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
    pub size: Field,
    pub attrs: Field,
    pub empty: Field,
    /// Per entry of [`attr_fields`].
    pub per_attr: Vec<AttrHandles>,
    /// Per entry of `DATE_TIME_PAIRS`: date tag, time tag, combined field.
    pub pairs: Vec<(&'static str, &'static str, Field)>,
}

/// Builds the schema from the dictionary tables.
pub(crate) fn build_schema() -> Schema {
    let mut b = Schema::builder();
    for name in [LEVEL, UID, STUDY_UID, SERIES_UID, KEY, EMPTY, FORMAT] {
        b.add_text_field(name, STRING);
    }
    b.add_u64_field(ORD, FAST);
    b.add_u64_field(SIZE, FAST);
    b.add_text_field(ATTRS, STORED);
    for f in attr_fields() {
        b.add_text_field(&f.path, STRING);
        if f.attr.vr == "PN" {
            b.add_text_field(&format!("{}{CI_SUFFIX}", f.path), STRING);
            b.add_text_field(&format!("{}{FUZZY_SUFFIX}", f.path), STRING);
        }
        if f.has_norm() {
            b.add_text_field(&format!("{}{NORM_SUFFIX}", f.path), STRING);
        }
        if f.sortable() {
            b.add_text_field(&format!("{}{SORT_SUFFIX}", f.path), FAST);
        }
    }
    for (date, time) in DATE_TIME_PAIRS {
        b.add_text_field(&pair_field(date, time), STRING);
    }
    b.build()
}

impl Fields {
    /// Looks up the handles in a schema made by [`build_schema`].
    pub fn new(schema: Schema) -> Result<Fields> {
        let get = |name: &str| schema.get_field(name).map_err(IndexError::from);
        let opt =
            |f: &AttrField, suffix: &str| schema.get_field(&format!("{}{suffix}", f.path)).ok();
        let per_attr = attr_fields()
            .iter()
            .map(|f| {
                Ok(AttrHandles {
                    raw: get(&f.path)?,
                    ci: opt(f, CI_SUFFIX),
                    fuzzy: opt(f, FUZZY_SUFFIX),
                    norm: opt(f, NORM_SUFFIX),
                    sort: opt(f, SORT_SUFFIX),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let pairs = DATE_TIME_PAIRS
            .iter()
            .map(|(date, time)| {
                let tag = |k: &str| {
                    lookup(k)
                        .map(|e| e.tag)
                        .ok_or_else(|| IndexError::Corrupt(format!("no {k}")))
                };
                Ok((tag(date)?, tag(time)?, get(&pair_field(date, time))?))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Fields {
            level: get(LEVEL)?,
            uid: get(UID)?,
            study_uid: get(STUDY_UID)?,
            series_uid: get(SERIES_UID)?,
            key: get(KEY)?,
            ord: get(ORD)?,
            size: get(SIZE)?,
            attrs: get(ATTRS)?,
            empty: get(EMPTY)?,
            per_attr,
            pairs,
            schema,
        })
    }

    /// A field by name (names come from [`AttrField::match_field`] and friends).
    pub fn named(&self, name: &str) -> Result<Field> {
        Ok(self.schema.get_field(name)?)
    }
}

/// The replacement key of an entity.
pub(crate) fn entity_key(level: arc_model::Level, uid: &str) -> String {
    format!("{}:{uid}", level.as_str())
}
