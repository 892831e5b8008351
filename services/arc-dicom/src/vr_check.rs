//! What one text value of each string VR may be (PS3.5 6.2, Table 6.2-1): its repertoire,
//! its form (dates, times, ages, numbers, UIDs) and its maximum length. Used to check values
//! a client hands over as text (`keyword=value` coercion).

use chrono::NaiveDate;
use dicom_core::VR;

/// Checks one value (no `\`: values are split before) of a string VR; the error says why
/// the value is not one, for people.
pub(crate) fn check_value(vr: VR, v: &str) -> Result<(), String> {
    // the text VRs may hold line breaks, the others no control character but ESC (which
    // ISO 2022 code extensions use, PS3.5 6.1.2.5.3)
    let allowed_control = match vr {
        VR::LT | VR::ST | VR::UT => "\t\n\x0c\r\x1b",
        _ => "\x1b",
    };
    if let Some(c) = v
        .chars()
        .find(|c| c.is_control() && !allowed_control.contains(*c))
    {
        return Err(format!(
            "holds the control character {c:?}, which {vr} does not allow"
        ));
    }
    let form = |ok: bool, what: &str| {
        if ok {
            Ok(())
        } else {
            Err(format!("is not a valid {vr} value ({what}, PS3.5 6.2)"))
        }
    };
    // the form first: it says more than the length of a value that has none
    match vr {
        VR::DA => form(date(v), "YYYYMMDD, a calendar date"),
        VR::TM => form(time(v), "HH[MM[SS[.FFFFFF]]]"),
        VR::DT => form(
            date_time(v),
            "YYYY[MM[DD[HH[MM[SS[.FFFFFF]]]]]][&ZZXX], a calendar date",
        ),
        VR::AS => form(
            v.len() == 4
                && v[..3].bytes().all(|b| b.is_ascii_digit())
                && matches!(v.as_bytes()[3], b'D' | b'W' | b'M' | b'Y'),
            "nnnD, nnnW, nnnM or nnnY",
        ),
        VR::IS => form(
            v.trim_matches(' ')
                .parse::<i64>()
                .is_ok_and(|n| i32::try_from(n).is_ok())
                && v.bytes().all(|b| b.is_ascii_digit() || b"+- ".contains(&b)),
            "an integer from -2^31 to 2^31-1",
        ),
        VR::DS => form(
            v.trim_matches(' ').parse::<f64>().is_ok_and(f64::is_finite)
                && v.bytes()
                    .all(|b| b.is_ascii_digit() || b"+-.eE ".contains(&b)),
            "a decimal number",
        ),
        VR::UI => match arc_model::uid_problem(v) {
            None => Ok(()),
            Some(problem) => Err(format!("is not a UID: it {problem} (PS3.5 9.1)")),
        },
        VR::CS => form(
            v.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b" _".contains(&b)),
            "upper-case letters, digits, space and _",
        ),
        VR::PN => person_name(v),
        _ => Ok(()),
    }?;
    let max = max_chars(vr);
    let len = v.chars().count();
    if max.is_some_and(|m| len > m) && vr != VR::PN {
        return Err(format!(
            "is {len} characters long; a {vr} value has at most {} (PS3.5 Table 6.2-1)",
            max.unwrap_or_default()
        ));
    }
    Ok(())
}

/// The most characters of one value (PS3.5 Table 6.2-1); `None` when only the length field
/// limits it (UC, UR, UT). For PN it is per component group.
fn max_chars(vr: VR) -> Option<usize> {
    Some(match vr {
        VR::AE | VR::CS | VR::DS | VR::SH => 16,
        VR::AS => 4,
        VR::DA => 8,
        VR::DT => 26,
        VR::IS => 12,
        VR::LO | VR::PN | VR::UI => 64,
        VR::LT => 10240,
        VR::ST => 1024,
        VR::TM => 14,
        _ => return None,
    })
}

/// PS3.5 6.2.1.1: at most three component groups (`=`) of at most five components (`^`),
/// each group at most 64 characters.
fn person_name(v: &str) -> Result<(), String> {
    let groups: Vec<&str> = v.split('=').collect();
    if groups.len() > 3 {
        return Err("has more than 3 component groups (PS3.5 6.2.1.1)".into());
    }
    for g in groups {
        if g.chars().count() > 64 {
            return Err(format!(
                "has a component group of {} characters; PN allows 64 (PS3.5 Table 6.2-1)",
                g.chars().count()
            ));
        }
        if g.split('^').count() > 5 {
            return Err("has more than 5 components in a group (PS3.5 6.2.1.1)".into());
        }
    }
    Ok(())
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn num(s: &str) -> u32 {
    s.parse().unwrap_or(u32::MAX)
}

/// `YYYYMMDD`, a date of the calendar.
fn date(v: &str) -> bool {
    v.len() == 8
        && digits(v)
        && NaiveDate::from_ymd_opt(num(&v[..4]) as i32, num(&v[4..6]), num(&v[6..])).is_some()
}

/// `HH[MM[SS[.F{1,6}]]]` (hours 00-23, minutes 00-59, seconds 00-60 for a leap second).
fn time(v: &str) -> bool {
    let (whole, frac) = match v.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (v, None),
    };
    if !digits(whole) || !matches!(whole.len(), 2 | 4 | 6) {
        return false;
    }
    if let Some(f) = frac {
        if whole.len() != 6 || !digits(f) || f.len() > 6 {
            return false;
        }
    }
    let limits = [23, 59, 60];
    whole
        .as_bytes()
        .chunks(2)
        .zip(limits)
        .all(|(c, max)| num(std::str::from_utf8(c).unwrap_or("x")) <= max)
}

/// `YYYY[MM[DD[HH[MM[SS[.F{1,6}]]]]]][&ZZXX]` (PS3.5 6.2 DT; `&` is `+` or `-`).
fn date_time(v: &str) -> bool {
    let (main, offset) = match v.find(['+', '-']) {
        Some(i) => (&v[..i], Some(&v[i + 1..])),
        None => (v, None),
    };
    if let Some(o) = offset {
        if o.len() != 4 || !digits(o) || num(&o[..2]) > 14 || num(&o[2..]) > 59 {
            return false;
        }
    }
    let (whole, frac) = match main.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (main, None),
    };
    if !digits(whole) || !matches!(whole.len(), 4 | 6 | 8 | 10 | 12 | 14) {
        return false;
    }
    if frac.is_some() && whole.len() != 14 {
        return false;
    }
    let year = num(&whole[..4]);
    let month = whole.get(4..6).map_or(1, num);
    let day = whole.get(6..8).map_or(1, num);
    if NaiveDate::from_ymd_opt(year as i32, month, day).is_none() {
        return false;
    }
    let clock = whole.get(8..).unwrap_or("");
    let clock = match frac {
        Some(f) => format!("{clock}.{f}"),
        None => clock.to_string(),
    };
    clock.is_empty() || time(&clock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_calendar_dates() {
        for ok in ["20200131", "20240229", "19000101"] {
            assert!(check_value(VR::DA, ok).is_ok(), "{ok}");
        }
        for bad in [
            "2020-13-45",
            "20201345",
            "20230229",
            "2020013",
            "202001311",
            "2020013a",
            "",
        ] {
            assert!(check_value(VR::DA, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn times_and_date_times() {
        for ok in [
            "07",
            "0712",
            "071259",
            "235960",
            "071259.5",
            "071259.123456",
        ] {
            assert!(check_value(VR::TM, ok).is_ok(), "{ok}");
        }
        for bad in [
            "7",
            "2400",
            "0760",
            "071261",
            "0712.5",
            "071259.1234567",
            "07:12",
            "",
        ] {
            assert!(check_value(VR::TM, bad).is_err(), "{bad}");
        }
        for ok in [
            "2020",
            "202002",
            "20200229",
            "2020022913",
            "20200229130102.25+0100",
            "20200229-0500",
        ] {
            assert!(check_value(VR::DT, ok).is_ok(), "{ok}");
        }
        for bad in [
            "20201345",
            "2020022925",
            "20200229+1500",
            "20200229+01",
            "202002291301.5",
            "x",
        ] {
            assert!(check_value(VR::DT, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ages_numbers_uids_and_codes() {
        assert!(check_value(VR::AS, "042Y").is_ok());
        for bad in ["42Y", "042y", "042X", "0042Y"] {
            assert!(check_value(VR::AS, bad).is_err(), "{bad}");
        }
        assert!(check_value(VR::IS, " -12").is_ok());
        assert!(check_value(VR::IS, "2147483648").is_err());
        assert!(check_value(VR::IS, "1.5").is_err());
        assert!(check_value(VR::DS, "-1.5e3").is_ok());
        for bad in ["NaN", "inf", "1,5", "12345678901234567"] {
            assert!(check_value(VR::DS, bad).is_err(), "{bad}");
        }
        assert!(check_value(VR::UI, "1.2.03").is_ok());
        assert!(check_value(VR::UI, "../x")
            .unwrap_err()
            .contains("not a UID"));
        assert!(check_value(VR::CS, "ORIGINAL_1").is_ok());
        assert!(check_value(VR::CS, "ct").is_err());
    }

    #[test]
    fn lengths_are_per_value_and_per_pn_group() {
        assert!(check_value(VR::LO, &"x".repeat(64)).is_ok());
        let long = check_value(VR::LO, &"x".repeat(200)).unwrap_err();
        assert!(
            long.contains("200 characters") && long.contains("at most 64"),
            "{long}"
        );
        assert!(check_value(VR::LO, &"é".repeat(64)).is_ok()); // characters, not bytes
        assert!(check_value(VR::SH, &"x".repeat(17)).is_err());
        assert!(check_value(VR::AE, &"x".repeat(17)).is_err());
        assert!(check_value(VR::ST, &"x".repeat(1025)).is_err());
        assert!(check_value(VR::UT, &"x".repeat(100_000)).is_ok());
        let pn = format!("{}={}", "A".repeat(64), "B".repeat(64));
        assert!(check_value(VR::PN, &pn).is_ok());
        assert!(check_value(VR::PN, &"A".repeat(65)).is_err());
        assert!(check_value(VR::PN, "a^b^c^d^e^f").is_err());
        assert!(check_value(VR::PN, "a=b=c=d").is_err());
        assert!(check_value(VR::LO, "a\nb").is_err());
        assert!(check_value(VR::LT, "a\r\nb").is_ok());
    }
}
