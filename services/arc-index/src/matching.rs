//! Match keys: which attribute a key names at a level, and which matching form of PS3.4
//! C.2.2.2 its value asks for, decided by VR. Independent of HTTP: QIDO-RS and C-FIND share
//! it. Person names match case-insensitively by group and component (PS3.4 C.2.2.2.1 allows
//! it for PN; [`crate::pn`]); every other attribute is matched case-sensitively.

use arc_model::dictionary::{lookup, DATE_TIME_PAIRS};
use arc_model::Level;

use crate::normalize::{is_numeric, norm_bound, norm_da, norm_number, trim_value, End};
use crate::pn;
use crate::schema::{pair_field, resolve_key, AttrField, KeyRef, FUZZY_SUFFIX};
use crate::{Filter, Matching, QueryError};

/// Longest value accepted in a match key (DICOM string values are at most 64 characters
/// per value, PN 64 per group; this leaves room for lists of UIDs).
const MAX_VALUE_LEN: usize = 4096;

/// Bounds on a wildcard value: each `*`/`?` grows the automaton tantivy builds, and no DICOM
/// value matched here is longer than a three-group PN (3 × 64 characters).
const MAX_WILDCARD_LEN: usize = 256;
const MAX_WILDCARDS: usize = 16;

/// Most alternatives in one key (UID lists): each is a clause of the query.
const MAX_ALTERNATIVES: usize = 1024;

/// A match key: the attribute it names at `level` and the matching its value asks for.
pub(crate) fn parse_filter(
    level: Level,
    key: &str,
    value: &str,
    fuzzy: bool,
) -> Result<Filter, QueryError> {
    let spec = match resolve_key(key) {
        None => return Err(QueryError::new(key, "unknown or unsupported attribute")),
        Some(KeyRef::Sequence(seq)) => {
            if seq.level > level {
                return Err(level_error(key, seq.level, level));
            }
            let any_of = match trim_value(value) {
                "" => vec![],
                "\"\"" => vec![Matching::Empty],
                _ => {
                    return Err(QueryError::new(
                        key,
                        "a sequence can only be matched through its item keys (Sequence.Keyword), or as \"\"",
                    ))
                }
            };
            return Ok(Filter {
                key: key.into(),
                path: seq.keyword.into(),
                field: crate::schema::EMPTY.into(),
                tag: seq.tag,
                vr: seq.vr,
                any_of,
            });
        }
        Some(KeyRef::Attr(spec)) => spec,
    };
    let spec = if spec.level() <= level {
        spec
    } else {
        upper_level_alias(key, spec, level)?
    };
    let fuzzy = fuzzy && spec.attr.vr == "PN";
    let field = if fuzzy {
        format!("{}{FUZZY_SUFFIX}", spec.path)
    } else {
        spec.match_field()
    };
    Ok(Filter {
        key: key.to_string(),
        path: spec.path.clone(),
        field,
        tag: spec.top_tag(),
        vr: spec.attr.vr,
        any_of: parse_value(key, spec.attr.vr, value, fuzzy)?,
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
fn parse_value(key: &str, vr: &str, value: &str, fuzzy: bool) -> Result<Vec<Matching>, QueryError> {
    if value.len() > MAX_VALUE_LEN {
        return Err(QueryError::new(
            key,
            format!("value longer than {MAX_VALUE_LEN} bytes"),
        ));
    }
    // No DICOM value of a query holds control characters (a `%00` is not padding here, and
    // QIDO values are UTF-8 text, PS3.18 8.3.4.1, so not ISO 2022 escapes either).
    if value.chars().any(char::is_control) {
        return Err(QueryError::new(
            key,
            "control characters are not allowed in a match value",
        ));
    }
    // Empty Value Matching (PS3.4 C.2.2.2): two QUOTATION MARKs ask for the entities
    // without a value.
    if trim_value(value) == "\"\"" {
        return Ok(vec![Matching::Empty]);
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
    if parts.len() > MAX_ALTERNATIVES {
        return Err(QueryError::new(
            key,
            format!("at most {MAX_ALTERNATIVES} values may be listed"),
        ));
    }
    let mut out = Vec::with_capacity(parts.len());
    for p in parts {
        match parse_one(key, vr, p, fuzzy)? {
            // a fuzzy value of wildcards only matches everything
            Matching::Words(w) if w.is_empty() => return Ok(Vec::new()),
            m => out.push(m),
        }
    }
    Ok(out)
}

fn parse_one(key: &str, vr: &str, v: &str, fuzzy: bool) -> Result<Matching, QueryError> {
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
        "UI" => {
            no_wildcard(v)?;
            match arc_model::uid_problem(v) {
                None => Ok(Matching::Single(v.to_string())),
                Some(why) => Err(QueryError::new(
                    key,
                    format!("{v:?} is not a UID: it {why} (PS3.5 9.1)"),
                )),
            }
        }
        // PS3.5 6.2: an IS value is a whole number written in digits; `1.5` is not one, so
        // it is a bad key rather than one that matches nothing. (Binary integers such as
        // Rows keep matching `512.0` by value: they have no text form to hold to.)
        "IS" if !is_integer_text(v) => {
            no_wildcard(v)?;
            Err(QueryError::new(
                key,
                format!("{v:?} is not an integer (VR {vr}, PS3.5 6.2)"),
            ))
        }
        _ if is_numeric(vr) => {
            no_wildcard(v)?;
            norm_number(v)
                .map(Matching::Single)
                .ok_or_else(|| QueryError::new(key, format!("{v:?} is not a number (VR {vr})")))
        }
        "PN" if fuzzy => Ok(Matching::Words(pn::fuzzy_words(v))),
        "PN" => {
            check_wildcards(key, v)?;
            pn::query_regex(v)
                .map(Matching::Pattern)
                .map_err(|e| QueryError::new(key, e))
        }
        _ if has_wildcard(v) => {
            check_wildcards(key, v)?;
            Ok(Matching::Wildcard(v.to_string()))
        }
        _ => Ok(Matching::Single(v.to_string())),
    }
}

/// An optionally signed run of digits, as an integer string (PS3.5 6.2, IS) is written.
fn is_integer_text(v: &str) -> bool {
    let t = v.trim();
    let t = t.strip_prefix(['+', '-']).unwrap_or(t);
    !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())
}

fn check_wildcards(key: &str, pattern: &str) -> Result<(), QueryError> {
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
    Ok(())
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
        if vr != "TM" {
            if let (Some(l), Some(u)) = (&lower, &upper) {
                if l > u {
                    return Err(bad("range (its start is after its end)"));
                }
            }
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

/// The bounds of a single DA/TM value or range, `None` for other forms.
fn bounds(m: &Matching) -> Option<(Option<String>, Option<String>)> {
    match m {
        Matching::Single(v) => Some((Some(v.clone()), Some(v.clone()))),
        Matching::Range { lower, upper } => Some((lower.clone(), upper.clone())),
        _ => None,
    }
}

/// Combined datetime matching (PS3.4 C.2.2.2.5.1, as dcm4chee-arc-light applies it to QIDO):
/// when a query matches both the date and the time of a pair (Study Date and Study Time, …)
/// with one value or range each, they name one datetime range, from the lower date at the
/// lower time to the upper date at the upper time (`StudyDate=20240101-20240131&StudyTime=
/// 2200-0600` runs from 1 January 22:00 to 31 January 06:00). The time key then only asks
/// for its attribute to be returned.
pub(crate) fn combine_date_time(filters: &mut [Filter]) {
    for (date, time) in DATE_TIME_PAIRS {
        let single = |path: &str| {
            let mut it = filters.iter().enumerate().filter(|(_, f)| f.path == path);
            match (it.next(), it.next()) {
                (Some((i, f)), None) if f.any_of.len() == 1 => bounds(&f.any_of[0]).map(|b| (i, b)),
                _ => None,
            }
        };
        let (Some((di, (dl, du))), Some((ti, (tl, tu)))) = (single(date), single(time)) else {
            continue;
        };
        let lower = dl.map(|d| d + tl.as_deref().unwrap_or("000000.000000"));
        let upper = du.map(|d| d + tu.as_deref().unwrap_or("235959.999999"));
        filters[di].field = pair_field(date, time);
        filters[di].any_of = vec![Matching::Range { lower, upper }];
        filters[ti].any_of = Vec::new();
        debug_assert!(lookup(date).is_some() && lookup(time).is_some());
    }
}
