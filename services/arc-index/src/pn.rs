//! Person name matching (PS3.4 C.2.2.2.1 and C.2.2.2.4 for VR PN; PS3.5 6.2.1): by component
//! group and by component, case-insensitive, and the fuzzy form asked with
//! `fuzzymatching=true`.
//!
//! Stored names become terms of the `<path>#ci` field: each non-empty group, lower-cased and
//! padded to its five components, tagged with its position (`a:` alphabetic, `i:` ideographic,
//! `p:` phonetic), and the whole name (`w:` three padded groups). A query group becomes a
//! regular expression over those terms, one part per component: a component the query leaves
//! empty matches any value, `*` and `?` stay within their component. A query of one group
//! matches any of the three stored groups; a query of several groups matches them in place.
//!
//! Fuzzy matching (`<path>#fz`): every word of every component, folded (compatibility
//! decomposition, combining marks removed, lower case: `Jérôme` is `jerome`, half-width
//! katakana are full-width); a fuzzy query matches when each of its folded words is the
//! start of some word of the name.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Components of a PN component group (PS3.5 6.2.1.1).
const COMPONENTS: usize = 5;
/// Component groups of a PN value.
const GROUPS: usize = 3;
/// Position tags of group terms.
const GROUP_TAGS: [char; GROUPS] = ['a', 'i', 'p'];

/// One group lower-cased with exactly five components, each trimmed of spaces.
fn padded_group(group: &str) -> String {
    let mut parts: Vec<String> = group
        .split('^')
        .map(|c| c.trim_matches([' ', '\0']).to_lowercase())
        .collect();
    while parts.len() < COMPONENTS {
        parts.push(String::new());
    }
    parts.join("^")
}

fn groups(value: &str) -> Vec<&str> {
    value.trim_matches([' ', '\0']).split('=').collect()
}

/// The `#ci` terms of a stored name: its non-empty groups by position, and the whole name.
pub(crate) fn stored_terms(value: &str) -> Vec<String> {
    let groups = groups(value);
    let mut out = Vec::new();
    let mut whole = Vec::with_capacity(GROUPS);
    for (i, tag) in GROUP_TAGS.iter().enumerate() {
        let g = groups.get(i).copied().unwrap_or("");
        let padded = padded_group(g);
        if !g.trim_matches([' ', '^']).is_empty() {
            out.push(format!("{tag}:{padded}"));
        }
        whole.push(padded);
    }
    out.push(format!("w:{}", whole.join("=")));
    out
}

/// A regex part matching any value of one component.
const ANY_COMPONENT: &str = "[^\\^=]*";

/// A query component as a regex: literal text escaped, `*` and `?` confined to the component.
fn component_regex(component: &str) -> String {
    let mut out = String::new();
    let mut previous_star = false;
    for c in component.trim_matches([' ', '\0']).to_lowercase().chars() {
        match c {
            '*' if previous_star => continue,
            '*' => out.push_str(ANY_COMPONENT),
            '?' => out.push_str("[^\\^=]"),
            c if is_regex_meta(c) => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
        previous_star = c == '*';
    }
    if out.is_empty() {
        ANY_COMPONENT.to_string()
    } else {
        out
    }
}

/// Text as a regex matching it literally.
pub(crate) fn escape_regex(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        if is_regex_meta(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn is_regex_meta(c: char) -> bool {
    matches!(
        c,
        '\\' | '.'
            | '+'
            | '*'
            | '?'
            | '('
            | ')'
            | '|'
            | '['
            | ']'
            | '{'
            | '}'
            | '^'
            | '$'
            | '#'
            | '&'
            | '-'
            | '~'
            | '"'
            | '<'
            | '>'
            | '@'
    )
}

fn group_regex(group: &str) -> Result<String, String> {
    let components: Vec<&str> = group.split('^').collect();
    if components.len() > COMPONENTS {
        return Err(format!(
            "a person name group has at most {COMPONENTS} components (PS3.5 6.2.1.1)"
        ));
    }
    let mut parts: Vec<String> = components.iter().map(|c| component_regex(c)).collect();
    while parts.len() < COMPONENTS {
        parts.push(ANY_COMPONENT.to_string());
    }
    Ok(parts.join("\\^"))
}

/// A one-group query without `^` that has a wildcard (`*jan*`, `*Jan`, `D?e*`) is also
/// matched against the whole group, `*` and `?` crossing component boundaries, as PS3.4
/// C.2.2.2.4 reads for a whole value: a "contains" search such as viewers send (OHIF's
/// `*value*`) finds a given name too. The stored group's empty trailing components
/// (padding) are ignored.
fn whole_group_wildcard(group: &str) -> Option<String> {
    let g = group.trim_matches([' ', '\0']).to_lowercase();
    if g.contains('^') || !g.contains(['*', '?']) || g.chars().all(|c| c == '*') {
        return None;
    }
    let mut out = String::new();
    let mut previous_star = false;
    for c in g.chars() {
        match c {
            '*' if previous_star => continue,
            '*' => out.push_str("[^=]*"),
            '?' => out.push_str("[^=]"),
            c if is_regex_meta(c) => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
        previous_star = c == '*';
    }
    out.push_str("\\^*");
    Some(out)
}

/// The regex over `#ci` terms that a query value matches (one alternative of the key).
pub(crate) fn query_regex(value: &str) -> Result<String, String> {
    let groups = groups(value);
    if groups.len() > GROUPS {
        return Err(format!(
            "a person name has at most {GROUPS} component groups (PS3.5 6.2.1.2)"
        ));
    }
    if groups.len() == 1 {
        let by_component = group_regex(groups[0])?;
        if let Some(whole) = whole_group_wildcard(groups[0]) {
            return Ok(format!("[aip]:(({by_component})|({whole}))"));
        }
        return Ok(format!("[aip]:{by_component}"));
    }
    let mut parts = Vec::with_capacity(GROUPS);
    for i in 0..GROUPS {
        let g = groups.get(i).copied().unwrap_or("");
        parts.push(if g.trim().is_empty() {
            "[^=]*".to_string()
        } else {
            group_regex(g)?
        });
    }
    Ok(format!("w:{}", parts.join("=")))
}

/// Folds a word for fuzzy matching: compatibility decomposition, combining marks dropped,
/// lower case.
pub(crate) fn fold(word: &str) -> String {
    word.nfkd()
        .filter(|c| !is_combining_mark(*c))
        .collect::<String>()
        .to_lowercase()
}

/// The folded words of a name (or of a fuzzy query, wildcards removed).
pub(crate) fn fuzzy_words(value: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in value
        .split(|c: char| matches!(c, '^' | '=' | ',' | '-' | '.' | '*' | '?') || c.is_whitespace())
        .filter(|w| !w.is_empty())
    {
        let folded = fold(word);
        if !folded.is_empty() && !out.contains(&folded) {
            out.push(folded);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(query: &str, stored: &str) -> bool {
        let re = regex_lite(&query_regex(query).unwrap());
        stored_terms(stored).iter().any(|t| re(t))
    }

    /// A whole-string matcher for the regex subset `query_regex` produces.
    fn regex_lite(re: &str) -> impl Fn(&str) -> bool {
        let automaton = tantivy_fst::Regex::new(re).unwrap();
        move |s: &str| {
            use tantivy_fst::Automaton;
            let mut state = automaton.start();
            for b in s.bytes() {
                state = automaton.accept(&state, b);
            }
            automaton.is_match(&state)
        }
    }

    #[test]
    fn stored_names_become_positional_terms() {
        assert_eq!(
            stored_terms("Doe^John=山田^太郎=やまだ^たろう"),
            [
                "a:doe^john^^^",
                "i:山田^太郎^^^",
                "p:やまだ^たろう^^^",
                "w:doe^john^^^=山田^太郎^^^=やまだ^たろう^^^"
            ]
        );
        assert_eq!(
            stored_terms("=Yamada"),
            ["i:yamada^^^^", "w:^^^^=yamada^^^^=^^^^"]
        );
        assert_eq!(stored_terms(""), ["w:^^^^=^^^^=^^^^"]);
    }

    #[test]
    fn components_match_in_place() {
        assert!(matches("Doe", "Doe^John"));
        assert!(matches("DOE^JOHN", "Doe^John^A"));
        assert!(matches("^John", "Doe^John"));
        assert!(!matches("John", "Doe^John"));
        assert!(!matches("Doe^Jane", "Doe^John"));
        assert!(matches("D?e^J*", "Doe^John"));
        assert!(
            !matches("D*n^J*", "Doe^John"),
            "with components given, a wildcard stays in its component"
        );
        // one group without `^`: also the whole group, wildcards crossing components
        assert!(matches("D*n", "Doe^John"));
        assert!(matches("*jan", "Citizen^Jan"));
        assert!(matches("*XiaoDong*", "Wang^XiaoDong"));
        assert!(matches("*rôme", "Buc^Jérôme"));
        assert!(matches("?oe^j*", "Doe^John"));
        assert!(!matches("*jan", "Citizen^Janet"));
        assert!(
            !matches("jan*", "Citizen^Jan"),
            "no leading wildcard: family name first"
        );
        assert!(!matches("*xyz*", "Doe^John"));
        assert!(matches("*太郎", "Doe^John=山田^太郎"));
        assert!(matches("*", "Doe^John"));
        assert!(matches("山田", "Doe^John=山田^太郎"));
        assert!(matches("^太郎", "Doe^John=山田^太郎"));
        assert!(matches("Doe=山田", "Doe^John=山田^太郎=やまだ"));
        assert!(!matches("Doe=やまだ", "Doe^John=山田^太郎=やまだ"));
        assert!(matches("=山田^太郎", "Doe^John=山田^太郎"));
        assert!(matches("==やまだ", "Doe^John=山田^太郎=やまだ"));
        assert!(matches("a.b(c)", "A.B(C)^x"));
        assert!(!matches("a.b", "axb"));
        assert!(query_regex("a^b^c^d^e^f").is_err());
        assert!(query_regex("a=b=c=d").is_err());
    }

    #[test]
    fn fuzzy_words_fold_case_accents_and_width() {
        assert_eq!(fuzzy_words("Buc^Jérôme"), ["buc", "jerome"]);
        assert_eq!(fuzzy_words("ÄNEAS^Rüdiger"), ["aneas", "rudiger"]);
        assert_eq!(
            fuzzy_words("Smith-Jones^Mary Ann"),
            ["smith", "jones", "mary", "ann"]
        );
        // half-width katakana widen; the voiced sound mark is a combining mark and goes too
        assert_eq!(fuzzy_words("ﾔﾏﾀﾞ"), fuzzy_words("ヤマタ"));
        assert_eq!(fuzzy_words("jer*"), ["jer"]);
    }
}
