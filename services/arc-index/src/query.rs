//! The QIDO-RS query model and its parsing from URL query parameters (PS3.18 8.3.4 and
//! 10.6.1): reserved parameters (`limit`, `offset`, `includefield`, `fuzzymatching`,
//! `orderby`) here, match keys in [`crate::matching`]. The same model serves C-FIND: its
//! identifier is a list of key/value pairs too.

use arc_model::dictionary::lookup;
use arc_model::Level;
use dicom_core::dictionary::DataDictionary;
use dicom_dictionary_std::StandardDataDictionary;

use crate::matching::{combine_date_time, parse_filter};
use crate::schema::{resolve_key, KeyRef, SORT_SUFFIX};
use crate::QueryError;

/// A parsed QIDO-RS (or C-FIND) query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QidoQuery {
    /// The level searched.
    pub level: Level,
    /// Study the search is scoped to (`/studies/{study}/series`, `/studies/{study}/instances`).
    pub study_uid: Option<String>,
    /// Series the search is scoped to (`/studies/{study}/series/{series}/instances`).
    pub series_uid: Option<String>,
    /// Match keys, all of which must match (PS3.4 C.2.2.2).
    pub filters: Vec<Filter>,
    /// Most results to return; `None` returns every match (callers cap it).
    pub limit: Option<u64>,
    /// Matches to skip.
    pub offset: u64,
    /// Tags (`GGGGEEEE`) named by `includefield`.
    pub includefield: Vec<String>,
    /// `includefield=all`.
    pub include_all: bool,
    /// `fuzzymatching=true`: person names match by folded word prefixes (see [`crate::pn`]).
    pub fuzzymatching: bool,
    /// `orderby` keys in order of precedence; results are in archive order without them.
    pub orderby: Vec<OrderKey>,
    /// Notes for a `Warning: 299` response header (PS3.18 8.3.5.1), e.g. includefield
    /// keywords the archive does not know.
    pub warnings: Vec<String>,
}

/// One `orderby` key (`[-]attribute`, as dcm4chee-arc-light takes it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderKey {
    /// The key as the client wrote it, without the sign.
    pub key: String,
    /// The sort key fast field.
    pub field: String,
    /// `-attribute`: descending.
    pub descending: bool,
}

impl QidoQuery {
    /// An empty query of a level (everything at that level).
    pub fn new(level: Level) -> Self {
        QidoQuery {
            level,
            study_uid: None,
            series_uid: None,
            filters: Vec::new(),
            limit: None,
            offset: 0,
            includefield: Vec::new(),
            include_all: false,
            fuzzymatching: false,
            orderby: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// Scopes the search to one study.
    pub fn with_study(mut self, study_uid: impl Into<String>) -> Self {
        self.study_uid = Some(study_uid.into());
        self
    }

    /// Scopes the search to one series.
    pub fn with_series(mut self, series_uid: impl Into<String>) -> Self {
        self.series_uid = Some(series_uid.into());
        self
    }
}

/// One match key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// The key as the client wrote it.
    pub key: String,
    /// The attribute's index path (`PatientName`, `RequestAttributesSequence.AccessionNumber`).
    pub path: String,
    /// The index field matched (`PatientName#ci`, `StudyDate#n`, `Modality`, …).
    pub field: String,
    /// Tag of the top-level attribute the key selects (a nested key: its sequence); it is
    /// returned in responses (PS3.18 10.6.3.3).
    pub tag: &'static str,
    /// VR of the matched attribute.
    pub vr: &'static str,
    /// Alternatives, any of which may match; empty means universal matching
    /// (PS3.4 C.2.2.2.3): the key only asks for the attribute to be returned.
    pub any_of: Vec<Matching>,
}

/// One matching form of PS3.4 C.2.2.2, its values already normalized as the index holds
/// them (DA/TM/DT in sortable form, numbers canonical, person names as term patterns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matching {
    /// Single value matching (C.2.2.2.1), one value of a UID list (C.2.2.2.2).
    Single(String),
    /// Wildcard matching (C.2.2.2.4): `*` any run of characters, `?` one character.
    Wildcard(String),
    /// Range matching (C.2.2.2.5), inclusive; at least one bound is set. A TM range whose
    /// lower bound is after its upper one crosses midnight.
    Range {
        /// Lowest value matched.
        lower: Option<String>,
        /// Highest value matched.
        upper: Option<String>,
    },
    /// A person name (single value or wildcard) as a whole-term regular expression over the
    /// name terms of [`crate::pn`].
    Pattern(String),
    /// Fuzzy person name matching: every word must begin a word of the name.
    Words(Vec<String>),
    /// Empty value matching (`""`): the attribute is absent or has no value.
    Empty,
}

/// Parses the query parameters of a QIDO-RS search at `level`. Scope from the URL path
/// (`study_uid`, `series_uid`) is set by the caller afterwards.
pub fn parse_qido(level: Level, params: &[(String, String)]) -> Result<QidoQuery, QueryError> {
    let mut q = QidoQuery::new(level);
    let mut keys: Vec<(&str, &str)> = Vec::new();
    let mut orderby: Vec<&str> = Vec::new();
    for (key, value) in params {
        let key = key.trim();
        match key {
            // a limit beyond any count asks for everything: it is cut to the maximum later
            "limit" => q.limit = Some(parse_count(key, value, true)?),
            "offset" => q.offset = parse_count(key, value, false)?,
            "includefield" => parse_includefield(&mut q, value)?,
            "fuzzymatching" => {
                q.fuzzymatching = match value.trim() {
                    "true" => true,
                    "false" | "" => false,
                    other => {
                        return Err(QueryError::new(
                            key,
                            format!("{other:?} is not true or false"),
                        ))
                    }
                }
            }
            "orderby" => orderby.push(value),
            // Media type and charset parameters (PS3.18 8.3.3.1) are the HTTP layer's.
            "accept" | "charset" => {}
            _ => keys.push((key, value)),
        }
    }
    for (key, value) in keys {
        let filter = parse_filter(level, key, value, q.fuzzymatching)?;
        // Several values of one attribute are one key with a list (PS3.18 8.3.4.1); the
        // same attribute twice would be read as both at once and match nothing.
        if let Some(earlier) = q.filters.iter().find(|f| f.path == filter.path) {
            return Err(QueryError::new(
                key,
                format!(
                    "{} is already given as {}; list several values in one key, separated by \\ (or , for UIDs and codes)",
                    filter.path, earlier.key
                ),
            ));
        }
        q.filters.push(filter);
    }
    combine_date_time(&mut q.filters);
    for value in orderby {
        parse_orderby(&mut q, value)?;
    }
    Ok(q)
}

/// A non-negative integer; one too large for 64 bits is `u64::MAX` when `saturate`, else
/// an error saying so.
fn parse_count(key: &str, value: &str, saturate: bool) -> Result<u64, QueryError> {
    let v = value.trim();
    match v.parse::<u64>() {
        Ok(n) => Ok(n),
        Err(_) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
            if saturate {
                Ok(u64::MAX)
            } else {
                Err(QueryError::new(key, format!("{value:?} is too large")))
            }
        }
        Err(_) => Err(QueryError::new(
            key,
            format!("{value:?} is not a non-negative integer"),
        )),
    }
}

/// `orderby=[-]attribute[,…]`, repeatable: top-level attributes of this level or above.
fn parse_orderby(q: &mut QidoQuery, value: &str) -> Result<(), QueryError> {
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (descending, key) = match part.strip_prefix('-') {
            Some(k) => (true, k.trim()),
            None => (false, part.strip_prefix('+').unwrap_or(part).trim()),
        };
        let spec = match resolve_key(key) {
            Some(KeyRef::Attr(spec)) if spec.sortable() => spec,
            _ => {
                return Err(QueryError::new(
                    "orderby",
                    format!("{key:?} is not an attribute results can be ordered by"),
                ))
            }
        };
        if spec.level() > q.level {
            return Err(QueryError::new(
                "orderby",
                format!(
                    "{key} is a {} level attribute; {} level results cannot be ordered by it",
                    spec.level().as_str(),
                    q.level.as_str()
                ),
            ));
        }
        q.orderby.push(OrderKey {
            key: key.to_string(),
            field: format!("{}{SORT_SUFFIX}", spec.path),
            descending,
        });
    }
    Ok(())
}

/// `includefield` (PS3.18 8.3.4.3): comma-separated keywords or tags, repeatable, or `all`.
fn parse_includefield(q: &mut QidoQuery, value: &str) -> Result<(), QueryError> {
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if part == "all" {
            q.include_all = true;
            continue;
        }
        let top = part.split('.').next().unwrap_or(part);
        let tag = match lookup(top) {
            Some(e) => e.tag.to_string(),
            None if top.len() == 8 && top.bytes().all(|b| b.is_ascii_hexdigit()) => {
                top.to_ascii_uppercase()
            }
            None if StandardDataDictionary.by_name(top).is_some() => {
                // A keyword the archive does not index: it can never be returned.
                q.warnings
                    .push(format!("includefield {part} is not supported"));
                continue;
            }
            None => {
                return Err(QueryError::new(
                    "includefield",
                    format!("{part:?} is neither a keyword nor a tag"),
                ))
            }
        };
        if !q.includefield.contains(&tag) {
            q.includefield.push(tag);
        }
    }
    Ok(())
}
