//! Turns a [`QidoQuery`] into a tantivy query: level and scope terms, then one clause per
//! match key (PS3.4 C.2.2.2), every clause required, the alternatives of a key OR'ed.

use std::ops::Bound;
use tantivy::query::{BooleanQuery, Query, RangeQuery, RegexQuery, TermQuery};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::Term;

use crate::schema::Fields;
use crate::{Filter, Matching, QidoQuery, QueryError, Result};

fn term(field: Field, value: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, value),
        IndexRecordOption::Basic,
    ))
}

/// The tantivy query selecting the documents a QIDO query matches.
pub(crate) fn build(fields: &Fields, q: &QidoQuery) -> Result<Box<dyn Query>> {
    let mut clauses = vec![term(fields.level, q.level.as_str())];
    if let Some(study) = &q.study_uid {
        clauses.push(term(fields.study_uid, study));
    }
    if let Some(series) = &q.series_uid {
        clauses.push(term(fields.series_uid, series));
    }
    for filter in q.filters.iter().filter(|f| !f.any_of.is_empty()) {
        let field = fields.named(&filter.field)?;
        let mut alternatives = filter
            .any_of
            .iter()
            .map(|m| matcher(fields, field, filter, m))
            .collect::<Result<Vec<_>>>()?;
        clauses.push(if alternatives.len() == 1 {
            alternatives.remove(0)
        } else {
            Box::new(BooleanQuery::union(alternatives))
        });
    }
    Ok(Box::new(BooleanQuery::intersection(clauses)))
}

fn regex(field: Field, filter: &Filter, pattern: &str) -> Result<Box<dyn Query>> {
    Ok(Box::new(RegexQuery::from_pattern(pattern, field).map_err(
        |e| QueryError::new(&filter.key, format!("pattern not usable: {e}")),
    )?))
}

fn range(field: Field, lower: &Option<String>, upper: &Option<String>) -> Box<dyn Query> {
    let bound = |b: &Option<String>| match b {
        Some(v) => Bound::Included(Term::from_field_text(field, v)),
        None => Bound::Unbounded,
    };
    Box::new(RangeQuery::new(bound(lower), bound(upper)))
}

fn matcher(fields: &Fields, field: Field, filter: &Filter, m: &Matching) -> Result<Box<dyn Query>> {
    Ok(match m {
        Matching::Single(v) => term(field, v),
        Matching::Wildcard(pattern) => regex(field, filter, &wildcard_regex(pattern))?,
        Matching::Pattern(pattern) => regex(field, filter, pattern)?,
        Matching::Words(words) => {
            // each word begins some word of the name
            let prefixes = words
                .iter()
                .map(|w| regex(field, filter, &format!("{}.*", crate::pn::escape_regex(w))))
                .collect::<Result<Vec<_>>>()?;
            Box::new(BooleanQuery::intersection(prefixes))
        }
        Matching::Empty => term(fields.empty, &filter.path),
        Matching::Range { lower, upper } => match (lower, upper) {
            (None, None) => Box::new(RegexQuery::from_pattern(".*", field)?),
            // A time range whose start is after its end crosses midnight.
            (Some(l), Some(u)) if filter.vr == "TM" && l > u => {
                Box::new(BooleanQuery::union(vec![
                    range(field, lower, &None),
                    range(field, &None, upper),
                ]))
            }
            _ => range(field, lower, upper),
        },
    })
}

/// A DICOM wildcard (PS3.4 C.2.2.2.4) as a whole-term regex: `*` → `.*`, `?` → `.`, every
/// other character literal.
pub(crate) fn wildcard_regex(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() * 2);
    let mut previous_star = false;
    for c in pattern.chars() {
        match c {
            '*' if previous_star => continue,
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            '\\' | '.' | '+' | '(' | ')' | '|' | '[' | ']' | '{' | '}' | '^' | '$' | '#' | '&'
            | '-' | '~' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
        previous_star = c == '*';
    }
    out
}

#[cfg(test)]
mod tests {
    use super::wildcard_regex;

    #[test]
    fn wildcards_escape_everything_else() {
        assert_eq!(wildcard_regex("Doe^J*"), r"Doe\^J.*");
        assert_eq!(wildcard_regex("a.b?c**d"), r"a\.b.c.*d");
        assert_eq!(wildcard_regex("(x)+[y]|$"), r"\(x\)\+\[y\]\|\$");
    }
}
