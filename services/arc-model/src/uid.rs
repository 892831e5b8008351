//! The UID check of PS3.5 9.1: what may become a Study, Series or SOP Instance key of the
//! archive, a path segment of a Retrieve URL and a segment of an object-store key.

/// The most characters a UID may have (PS3.5 9.1).
pub const MAX_UID_LEN: usize = 64;

/// Why `uid` is not a valid UID (PS3.5 9.1), or `None` when it is: 1 to 64 characters,
/// digits in components separated by `.`, no component empty (so never `.` or `..`).
/// Components with a leading zero are accepted: PS3.5 forbids them, but real objects carry
/// them and they harm no key or URL. Padding is the caller's to strip.
pub fn uid_problem(uid: &str) -> Option<&'static str> {
    if uid.is_empty() {
        return Some("is empty");
    }
    if uid.len() > MAX_UID_LEN {
        return Some("is longer than 64 characters");
    }
    if !uid.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Some("has characters other than digits and '.'");
    }
    if uid.split('.').any(str::is_empty) {
        return Some("has an empty component");
    }
    None
}

/// Whether `uid` is a valid UID (see [`uid_problem`]).
pub fn is_valid_uid(uid: &str) -> bool {
    uid_problem(uid).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_digits_and_dots() {
        for ok in ["1.2.840.10008.5.1.4.1.1.2", "2.25.1234", "1", "1.2.03.004"] {
            assert!(is_valid_uid(ok), "{ok}");
        }
        assert!(is_valid_uid(&"1".repeat(64)));
        for bad in [
            "",
            ".",
            "..",
            "../../x",
            "../../etc passwd",
            "a/b",
            "1.2.",
            ".1.2",
            "1..2",
            "1.2 ",
            "1.2\0",
            "1.2.x",
            "１.２",
        ] {
            assert!(!is_valid_uid(bad), "{bad:?}");
        }
        assert_eq!(
            uid_problem(&"1".repeat(65)),
            Some("is longer than 64 characters")
        );
    }
}
