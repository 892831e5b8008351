//! Value normalization shared by indexing and matching: padding removal, DA/TM/DT as
//! fixed-width text that sorts like time (PS3.4 C.2.2.2.5), numbers in one canonical form,
//! and the sort keys of `orderby`. Person names have their own module ([`crate::pn`]).

/// Removes the padding DICOM ignores: leading/trailing spaces and NULs (PS3.5 6.2).
pub(crate) fn trim_value(v: &str) -> &str {
    v.trim_matches(|c: char| c == ' ' || c == '\0')
}

/// Which end of a range a partial value pads towards: a lower bound takes the earliest
/// instant the value covers, an upper bound the latest (TM `0930` covers 09:30:00 to
/// 09:30:59.999999).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    Lower,
    Upper,
}

fn all_digits(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

fn num(s: &str) -> u32 {
    s.bytes().fold(0, |n, b| n * 10 + u32::from(b - b'0'))
}

/// DA as `YYYYMMDD` (PS3.5 Table 6.2-1); also accepts the ACR-NEMA form `YYYY.MM.DD`.
pub(crate) fn norm_da(value: &str) -> Option<String> {
    let v = trim_value(value);
    let v: String = if v.len() == 10 && v.as_bytes()[4] == b'.' && v.as_bytes()[7] == b'.' {
        v.replace('.', "")
    } else {
        v.to_string()
    };
    if v.len() != 8 || !all_digits(&v) {
        return None;
    }
    let (month, day) = (num(&v[4..6]), num(&v[6..8]));
    ((1..=12).contains(&month) && (1..=days_in_month(num(&v[..4]), month)).contains(&day))
        .then_some(v)
}

/// The days of a month of the Gregorian calendar: a date of PS3.5 Table 6.2-1 is a valid
/// calendar date, so 20200230 and 20210229 are not dates.
fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        _ => 31,
    }
}

/// TM as `HHMMSS.ffffff` (PS3.5 Table 6.2-1: `HH`, `HHMM`, `HHMMSS`, `HHMMSS.F{1,6}`; the
/// ACR-NEMA form `HH:MM:SS` too), missing parts padded towards `end`.
pub(crate) fn norm_tm(value: &str, end: End) -> Option<String> {
    let v = trim_value(value).replace(':', "");
    let (int, frac) = match v.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (v.as_str(), None),
    };
    if !all_digits(int) || !matches!(int.len(), 2 | 4 | 6) {
        return None;
    }
    if num(&int[..2]) > 23
        || (int.len() >= 4 && num(&int[2..4]) > 59)
        || (int.len() == 6 && num(&int[4..6]) > 60)
    {
        return None;
    }
    if let Some(f) = frac {
        if int.len() != 6 || f.is_empty() || f.len() > 6 || !all_digits(f) {
            return None;
        }
    }
    let (fill_int, fill_frac) = match end {
        End::Lower => ("0000", '0'),
        End::Upper => ("5959", '9'),
    };
    let mut out = String::with_capacity(13);
    out.push_str(int);
    out.push_str(&fill_int[..6 - int.len()]);
    out.push('.');
    let f = frac.unwrap_or("");
    out.push_str(f);
    out.extend(std::iter::repeat_n(fill_frac, 6 - f.len()));
    Some(out)
}

/// DT as `YYYYMMDDHHMMSS.ffffff` (PS3.5 Table 6.2-1), missing parts padded towards `end`.
/// A UTC offset suffix (`&ZZXX`) is accepted and ignored: values compare as local times.
pub(crate) fn norm_dt(value: &str, end: End) -> Option<String> {
    let v = trim_value(value);
    if !v.is_ascii() {
        return None;
    }
    let v = match v.get(4..).and_then(|rest| rest.find(['+', '-'])) {
        Some(i) => {
            let offset = &v[4 + i + 1..];
            if offset.len() != 4 || !all_digits(offset) {
                return None;
            }
            &v[..4 + i]
        }
        None => v,
    };
    let digits_end = v.find('.').unwrap_or(v.len());
    let date_len = digits_end.min(8);
    if !matches!(date_len, 4 | 6 | 8) || !all_digits(&v[..date_len]) {
        return None;
    }
    let date = &v[..date_len];
    let (month_pad, day_pad) = match end {
        End::Lower => ("01", "01"),
        End::Upper => ("12", "31"),
    };
    let mut out = String::with_capacity(21);
    out.push_str(date);
    if date_len < 6 {
        out.push_str(month_pad);
    } else if !(1..=12).contains(&num(&date[4..6])) {
        return None;
    }
    if date_len < 8 {
        out.push_str(day_pad);
    } else if !(1..=days_in_month(num(&date[..4]), num(&date[4..6]))).contains(&num(&date[6..8])) {
        return None;
    }
    let time = &v[date_len..];
    if time.is_empty() {
        out.push_str(if end == End::Lower {
            "000000.000000"
        } else {
            "235959.999999"
        });
    } else if date_len == 8 {
        out.push_str(&norm_tm(time, end)?);
    } else {
        return None;
    }
    Some(out)
}

/// The sortable form of a stored DA/TM/DT value (lower padding), or `None` when the stored
/// value is not a valid date/time (it then only matches by its raw text).
pub(crate) fn norm_stored(vr: &str, value: &str) -> Option<String> {
    match vr {
        "DA" => norm_da(value),
        "TM" => norm_tm(value, End::Lower),
        "DT" => norm_dt(value, End::Lower),
        _ => None,
    }
}

/// The bound of a query range for a DA/TM/DT value.
pub(crate) fn norm_bound(vr: &str, value: &str, end: End) -> Option<String> {
    match vr {
        "DA" => norm_da(value),
        "TM" => norm_tm(value, end),
        "DT" => norm_dt(value, end),
        _ => None,
    }
}

/// VRs whose values are numbers (PS3.5 Table 6.2-1), matched by value: `01`, `1` and `+1.0`
/// are the same Series Number.
pub(crate) fn is_numeric(vr: &str) -> bool {
    matches!(
        vr,
        "IS" | "DS" | "US" | "UL" | "SS" | "SL" | "FL" | "FD" | "UV" | "SV"
    )
}

/// The canonical text of a number (integers without sign or leading zeros, others in Rust's
/// shortest round-trip form), `None` when the value is not a finite number.
pub(crate) fn norm_number(value: &str) -> Option<String> {
    let v = trim_value(value);
    let v = v.strip_prefix('+').unwrap_or(v);
    if v.is_empty() || v.contains(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E') {
        return None;
    }
    let x: f64 = v.parse().ok()?;
    if !x.is_finite() {
        return None;
    }
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        return Some(format!("{}", x as i64));
    }
    Some(format!("{x}"))
}

/// The sort key of a stored value for `orderby`: DA/TM/DT in sortable form, numbers as 16
/// hex digits that order like the numbers, person names lower-cased, other text as is.
pub(crate) fn sort_key(vr: &str, value: &str) -> Option<String> {
    let v = trim_value(value);
    match vr {
        "DA" | "TM" | "DT" => norm_stored(vr, v),
        _ if is_numeric(vr) => {
            let x: f64 = norm_number(v)?.parse().ok()?;
            let bits = x.to_bits();
            // flip so that the unsigned order of the bits is the numeric order
            let key = if bits >> 63 == 1 {
                !bits
            } else {
                bits | (1 << 63)
            };
            Some(format!("{key:016x}"))
        }
        "PN" => Some(v.to_lowercase()),
        _ => Some(v.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_sort_keys() {
        assert_eq!(norm_number(" 01 ").as_deref(), Some("1"));
        assert_eq!(norm_number("+1.0").as_deref(), Some("1"));
        assert_eq!(norm_number("-2.50").as_deref(), Some("-2.5"));
        assert_eq!(norm_number("1e3").as_deref(), Some("1000"));
        for bad in ["", "abc", "NaN", "inf", "1.2.3"] {
            assert_eq!(norm_number(bad), None, "{bad}");
        }
        let keys: Vec<String> = ["-10", "-1.5", "0", "2", "10", "100.5"]
            .iter()
            .map(|v| sort_key("DS", v).unwrap())
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert_eq!(sort_key("PN", "Doe^John").as_deref(), Some("doe^john"));
        assert_eq!(sort_key("DA", "2024.01.15").as_deref(), Some("20240115"));
    }

    #[test]
    fn dates() {
        assert_eq!(norm_da("20240115").as_deref(), Some("20240115"));
        assert_eq!(norm_da("2024.01.15").as_deref(), Some("20240115"));
        for leap in ["20200229", "20000229", "20241231", "20240430"] {
            assert_eq!(norm_da(leap).as_deref(), Some(leap));
        }
        for bad in [
            "2024",
            "20241315",
            "2024011a",
            "20240100",
            "20200230",
            "20210229",
            "19000229",
            "20200431",
            "",
            "2024年0115",
            "2024.1é.15",
        ] {
            assert_eq!(norm_da(bad), None, "{bad}");
        }
    }

    #[test]
    fn times() {
        assert_eq!(
            norm_tm("0930", End::Lower).as_deref(),
            Some("093000.000000")
        );
        assert_eq!(
            norm_tm("0930", End::Upper).as_deref(),
            Some("093059.999999")
        );
        assert_eq!(norm_tm("09", End::Upper).as_deref(), Some("095959.999999"));
        assert_eq!(
            norm_tm("093015.5", End::Lower).as_deref(),
            Some("093015.500000")
        );
        assert_eq!(
            norm_tm("093015.5", End::Upper).as_deref(),
            Some("093015.599999")
        );
        assert_eq!(
            norm_tm("09:30:15", End::Lower).as_deref(),
            Some("093015.000000")
        );
        for bad in [
            "9",
            "093",
            "2400",
            "0960",
            "0930.5",
            "093015.1234567",
            "ab",
            "",
            "0九30",
        ] {
            assert_eq!(norm_tm(bad, End::Lower), None, "{bad}");
        }
    }

    #[test]
    fn date_times() {
        assert_eq!(
            norm_dt("2024", End::Lower).as_deref(),
            Some("20240101000000.000000")
        );
        assert_eq!(
            norm_dt("2024", End::Upper).as_deref(),
            Some("20241231235959.999999")
        );
        assert_eq!(
            norm_dt("202401151230", End::Upper).as_deref(),
            Some("20240115123059.999999")
        );
        assert_eq!(
            norm_dt("20240115123015.25-0500", End::Lower).as_deref(),
            Some("20240115123015.250000")
        );
        assert_eq!(
            norm_dt("202402", End::Upper).as_deref(),
            Some("20240231235959.999999"),
            "a padded upper bound only needs to sort after the month's last day"
        );
        for bad in [
            "20",
            "202413",
            "2024011512x",
            "20230229",
            "20240115+05",
            "2024.5",
            "2024年0101",
            "年",
        ] {
            assert_eq!(norm_dt(bad, End::Lower), None, "{bad}");
        }
    }
}
