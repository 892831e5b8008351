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
    let mut url = format!("{base}/studies/{study}");
    if let Some(se) = series {
        url.push_str("/series/");
        url.push_str(se);
        if let Some(i) = instance {
            url.push_str("/instances/");
            url.push_str(i);
        }
    }
    url
}
