//! Absolute URLs for Retrieve URL (0008,1190) and BulkDataURI, built from the request as the
//! client addressed it (Host, X-Forwarded-Proto, and the `/dcm4chee-arc` prefix if used).

use axum::http::{HeaderMap, Uri};

/// The base of the DICOMweb service the request came to: `http://host/…/aets/AET/rs`.
pub(crate) fn rs_base(headers: &HeaderMap, uri: &Uri) -> String {
    let origin = origin(headers);
    let path = uri.path();
    let prefix = match path
        .find("/rs/")
        .or_else(|| path.strip_suffix("/rs").map(|p| p.len()))
    {
        Some(i) => &path[..i],
        None => path.strip_suffix("/wado").unwrap_or(path),
    };
    format!("{origin}{prefix}/rs")
}

/// `scheme://host` of the request as the client addressed it.
pub(crate) fn origin_of(headers: &HeaderMap) -> String {
    origin(headers)
}

fn origin(headers: &HeaderMap) -> String {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let proto = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("http");
    format!("{proto}://{host}")
}

/// Retrieve URL of a study, series or instance.
pub(crate) fn retrieve_url(
    base: &str,
    study: &str,
    series: Option<&str>,
    instance: Option<&str>,
) -> String {
    let mut url = format!("{base}/studies/{}", segment(study));
    if let Some(se) = series {
        url.push_str("/series/");
        url.push_str(&segment(se));
        if let Some(i) = instance {
            url.push_str("/instances/");
            url.push_str(&segment(i));
        }
    }
    url
}

/// A UID as one path segment. STOW-RS stores only valid UIDs (digits and dots, which stay
/// as they are); anything else a log may hold from before is percent-encoded (RFC 3986
/// 2.1), so it can never add segments to the URL.
fn segment(uid: &str) -> std::borrow::Cow<'_, str> {
    if arc_model::is_valid_uid(uid) {
        return uid.into();
    }
    let mut out = String::with_capacity(uid.len() * 3);
    for b in uid.bytes() {
        if b.is_ascii_alphanumeric() || b"-_~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_that_are_no_uids_stay_one_segment() {
        assert_eq!(
            retrieve_url("http://h/rs", "1.2.3", Some("1.02"), Some("4")),
            "http://h/rs/studies/1.2.3/series/1.02/instances/4"
        );
        assert_eq!(
            retrieve_url("http://h/rs", "../../x", Some("a/b c"), None),
            "http://h/rs/studies/%2E%2E%2F%2E%2E%2Fx/series/a%2Fb%20c"
        );
    }
}
