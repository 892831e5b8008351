//! The QIDO-RS query model and its parsing from URL query parameters (PS3.18 8.3.4 and
//! 10.6.1), with the matching forms of PS3.4 C.2.2.2 decided per attribute VR.

use arc_model::dictionary::lookup;
use arc_model::Level;

use crate::normalize::{norm_bound, norm_da, pn_whole, trim_value, End};
use crate::schema::{resolve_key, AttrField, KeyRef};
use crate::QueryError;

/// Longest value accepted in a match key (DICOM string values are at most 64 characters
/// per value, PN 64 per group; this leaves room for lists of UIDs).
const MAX_VALUE_LEN: usize = 4096;

/// Bounds on a wildcard value: each `*`/`?` grows the automaton tantivy builds, and no DICOM
/// value matched here is longer than a three-group PN (3 × 64 characters).
const MAX_WILDCARD_LEN: usize = 256;
const MAX_WILDCARDS: usize = 16;

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
    /// `fuzzymatching=true` was asked (only literal matching is done: see `warnings`).
    pub fuzzymatching: bool,
    /// `orderby` values as given (accepted, not applied: results come in archive order).
    pub orderby: Vec<String>,
    /// Notes for a `Warning: 299` response header (PS3.18 8.3.5.1), e.g. fuzzy matching not
    /// supported or includefield keywords the archive does not know.
    pub warnings: Vec<String>,
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
/// them (PN lower-cased, DA/TM/DT in sortable form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matching {
    /// Single value matching (C.2.2.2.1), one value of a UID list (C.2.2.2.2).
    Single(String),
    /// Wildcard matching (C.2.2.2.4): `*` any run of characters, `?` one character.
    Wildcard(String),
    /// Range matching (C.2.2.2.5), inclusive; at least one bound is set.
    Range {
        /// Lowest value matched.
        lower: Option<String>,
        /// Highest value matched.
        upper: Option<String>,
    },
}

/// Parses the query parameters of a QIDO-RS search at `level`. Scope from the URL path
/// (`study_uid`, `series_uid`) is set by the caller afterwards.
pub fn parse_qido(level: Level, params: &[(String, String)]) -> Result<QidoQuery, QueryError> {
    let mut q = QidoQuery::new(level);
    for (key, value) in params {
        let key = key.trim();
        match key {
            "limit" => q.limit = Some(parse_count(key, value)?),
            "offset" => q.offset = parse_count(key, value)?,
            "includefield" => parse_includefield(&mut q, value)?,
            "fuzzymatching" => match value.trim() {
                "true" => {
                    q.fuzzymatching = true;
                    q.warnings.push(
                        "the fuzzymatching parameter is not supported; only literal matching \
                         has been performed"
                            .to_string(),
                    );
                }
                "false" | "" => q.fuzzymatching = false,
                other => {
                    return Err(QueryError::new(
                        key,
                        format!("{other:?} is not true or false"),
                    ))
                }
            },
            "orderby" => {
                q.orderby.push(value.clone());
                q.warnings
                    .push("orderby is not supported; results are in archive order".into());
            }
            // Media type and charset parameters (PS3.18 8.3.3.1) are the HTTP layer's.
            "accept" | "charset" => {}
            _ => q.filters.push(parse_filter(level, key, value)?),
        }
    }
    Ok(q)
}

fn parse_count(key: &str, value: &str) -> Result<u64, QueryError> {
    value
        .trim()
        .parse::<u64>()
        .map_err(|_| QueryError::new(key, format!("{value:?} is not a non-negative integer")))
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
            None if top.bytes().all(|b| b.is_ascii_alphanumeric()) => {
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

/// A match key: the attribute it names at `level` and the matching its value asks for.
fn parse_filter(level: Level, key: &str, value: &str) -> Result<Filter, QueryError> {
    let spec = match resolve_key(key) {
        None => return Err(QueryError::new(key, "unknown or unsupported attribute")),
        Some(KeyRef::Sequence(seq)) => {
            if seq.level > level {
                return Err(level_error(key, seq.level, level));
            }
            if !trim_value(value).is_empty() {
                return Err(QueryError::new(
                    key,
                    "a sequence can only be matched through its item keys (Sequence.Keyword)",
                ));
            }
            let (tag, vr) = (seq.tag, seq.vr);
            return Ok(Filter {
                key: key.into(),
                field: seq.keyword.into(),
                tag,
                vr,
                any_of: vec![],
            });
        }
        Some(KeyRef::Attr(spec)) => spec,
    };
    let spec = if spec.level() <= level {
        spec
    } else {
        upper_level_alias(key, spec, level)?
    };
    Ok(Filter {
        key: key.to_string(),
        field: spec.match_field(),
        tag: spec.top_tag(),
        vr: spec.attr.vr,
        any_of: parse_value(key, spec.attr.vr, value)?,
    })
}

/// Lower-level keys with a study-level summary (PS3.4 C.6.1.1.3: Modalities in Study,
/// SOP Classes in Study); any other lower-level key is an error.
fn upper_level_alias(
    key: &str,
    spec: &'static AttrField,
    level: Level,
) -> Result<&'static AttrField, QueryError> {
    let alias = match (level, spec.path.as_str()) {
        (Level::Study, "Modality") => "ModalitiesInStudy",
        (Level::Study, "SOPClassUID") => "SOPClassesInStudy",
        _ => return Err(level_error(key, spec.level(), level)),
    };
    match resolve_key(alias) {
        Some(KeyRef::Attr(a)) => Ok(a),
        _ => Err(QueryError::new(key, "unknown or unsupported attribute")),
    }
}

fn level_error(key: &str, attr: Level, query: Level) -> QueryError {
    QueryError::new(
        key,
        format!(
            "a {} level attribute cannot be matched in a {} level query",
            attr.as_str(),
            query.as_str()
        ),
    )
}

fn has_wildcard(v: &str) -> bool {
    v.contains(['*', '?'])
}

/// The matching a value asks for (PS3.4 C.2.2.2), alternatives separated by `\` (and by
/// `,` for UI lists, PS3.18 8.3.4.1, and CS codes, which cannot contain a comma).
fn parse_value(key: &str, vr: &str, value: &str) -> Result<Vec<Matching>, QueryError> {
    if value.len() > MAX_VALUE_LEN {
        return Err(QueryError::new(
            key,
            format!("value longer than {MAX_VALUE_LEN} bytes"),
        ));
    }
    let separators: &[char] = if matches!(vr, "UI" | "CS") {
        &['\\', ',']
    } else {
        &['\\']
    };
    let parts: Vec<&str> = value
        .split(separators)
        .map(trim_value)
        .filter(|p| !p.is_empty())
        .collect();
    // Empty value or `*` (PS3.4 C.2.2.2.3 and C.2.2.2.4): universal matching.
    if parts.iter().any(|p| p.bytes().all(|b| b == b'*')) {
        return Ok(Vec::new());
    }
    parts.into_iter().map(|p| parse_one(key, vr, p)).collect()
}

fn parse_one(key: &str, vr: &str, v: &str) -> Result<Matching, QueryError> {
    let no_wildcard = |v: &str| {
        if has_wildcard(v) {
            Err(QueryError::new(
                key,
                format!("wildcards are not allowed for VR {vr} (PS3.4 C.2.2.2.4)"),
            ))
        } else {
            Ok(())
        }
    };
    match vr {
        "DA" | "TM" | "DT" => {
            no_wildcard(v)?;
            parse_date_time(key, vr, v)
        }
        "UI" | "IS" | "DS" | "US" | "UL" | "SS" | "SL" | "FL" | "FD" | "UV" | "SV" => {
            no_wildcard(v)?;
            Ok(Matching::Single(v.to_string()))
        }
        "PN" => {
            let n = pn_whole(v);
            if has_wildcard(&n) {
                wildcard(key, n)
            } else {
                Ok(Matching::Single(n))
            }
        }
        _ if has_wildcard(v) => wildcard(key, v.to_string()),
        _ => Ok(Matching::Single(v.to_string())),
    }
}

fn wildcard(key: &str, pattern: String) -> Result<Matching, QueryError> {
    let count = pattern.chars().filter(|c| matches!(c, '*' | '?')).count();
    if pattern.chars().count() > MAX_WILDCARD_LEN || count > MAX_WILDCARDS {
        return Err(QueryError::new(
            key,
            format!(
                "wildcard values are limited to {MAX_WILDCARD_LEN} characters and \
                 {MAX_WILDCARDS} wildcards"
            ),
        ));
    }
    Ok(Matching::Wildcard(pattern))
}

/// DA/TM/DT: a range `a-b`, `-b` or `a-` (PS3.4 C.2.2.2.5) or a single value. A single DA
/// is matched exactly; a single TM/DT covers the span it names (`0930` is 09:30:00 to
/// 09:30:59.999999), like the range `v-v`.
fn parse_date_time(key: &str, vr: &str, v: &str) -> Result<Matching, QueryError> {
    let bad = |what: &str| QueryError::new(key, format!("{v:?} is not a valid {vr} {what}"));
    let bound = |s: &str, end: End| -> Result<Option<String>, QueryError> {
        if s.is_empty() {
            Ok(None)
        } else {
            norm_bound(vr, s, end).map(Some).ok_or_else(|| bad("range"))
        }
    };
    if let Some((lo, hi)) = split_range(vr, v) {
        let (lower, upper) = (bound(lo, End::Lower)?, bound(hi, End::Upper)?);
        if lower.is_none() && upper.is_none() {
            return Err(bad("range"));
        }
        return Ok(Matching::Range { lower, upper });
    }
    if vr == "DA" {
        return norm_da(v).map(Matching::Single).ok_or_else(|| bad("value"));
    }
    let lower = norm_bound(vr, v, End::Lower).ok_or_else(|| bad("value"))?;
    let upper = norm_bound(vr, v, End::Upper).ok_or_else(|| bad("value"))?;
    Ok(Matching::Range {
        lower: Some(lower),
        upper: Some(upper),
    })
}

/// Splits a range at its `-`. DT values may carry a `-ZZXX` UTC offset, so for DT the
/// split is the `-` whose sides are both empty or valid DT values.
fn split_range<'a>(vr: &str, v: &'a str) -> Option<(&'a str, &'a str)> {
    if vr != "DT" {
        return v.split_once('-');
    }
    let ok = |s: &str| s.is_empty() || norm_bound(vr, s, End::Lower).is_some();
    v.match_indices('-')
        .map(|(i, _)| (&v[..i], &v[i + 1..]))
        .find(|(a, b)| ok(a) && ok(b))
}
