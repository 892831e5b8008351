//! Conditional GET (RFC 9110 13.1, 8.8): ETag from the last log position that touched the
//! resource (the same on every node) and the representation asked for; Last-Modified from
//! that event's time; If-None-Match and If-Modified-Since answered with 304.

use crate::{ApiError, AppState};
use arc_archive::Retrieve;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The validators of one answer.
#[derive(Debug, Clone)]
pub(crate) struct Validators {
    etag: String,
    modified: SystemTime,
}

impl Validators {
    /// The validators of a study, series or instance in the representation `variant`
    /// (media type, transfer syntaxes, query options: each has its own ETag).
    pub(crate) fn of(
        retrieve: &Retrieve,
        study: &str,
        series: Option<&str>,
        instance: Option<&str>,
        variant: &str,
    ) -> Result<Self, ApiError> {
        let (seq, millis) = retrieve.version(study, series, instance)?;
        let etag = format!("\"{seq}-{:08x}\"", crc32fast::hash(variant.as_bytes()));
        let modified = UNIX_EPOCH + Duration::from_secs((millis.max(0) / 1000) as u64);
        Ok(Validators { etag, modified })
    }

    /// A 304 answer when the client's copy is current.
    pub(crate) fn check(&self, headers: &HeaderMap) -> Option<Response> {
        let fresh = if let Some(inm) = headers.get(header::IF_NONE_MATCH) {
            // weak comparison (RFC 9110 13.1.2): W/ prefixes do not matter
            let inm = inm.to_str().unwrap_or("");
            inm.split(',')
                .map(|t| t.trim().trim_start_matches("W/"))
                .any(|t| t == "*" || t == self.etag)
        } else if let Some(ims) = headers.get(header::IF_MODIFIED_SINCE) {
            ims.to_str()
                .ok()
                .and_then(|v| httpdate::parse_http_date(v).ok())
                .is_some_and(|since| self.modified <= since)
        } else {
            false
        };
        fresh.then(|| {
            let mut resp = StatusCode::NOT_MODIFIED.into_response();
            self.apply(&mut resp);
            resp
        })
    }

    /// Puts ETag and Last-Modified on an answer.
    pub(crate) fn apply(&self, resp: &mut Response) {
        if let Ok(v) = HeaderValue::from_str(&self.etag) {
            resp.headers_mut().insert(header::ETAG, v);
        }
        if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(self.modified)) {
            resp.headers_mut().insert(header::LAST_MODIFIED, v);
        }
    }
}

/// Answers a GET of a derived representation (frames, rendered, thumbnail) conditionally:
/// its validators are those of the resource (study, series or instance) and `variant` (what
/// selects the representation: resource, query and Accept), so a 304 is answered without
/// decoding anything. `answer` runs only when the client's copy is not current.
pub(crate) async fn derived(
    state: &AppState,
    (study, series, instance): (&str, Option<&str>, Option<&str>),
    variant: &str,
    headers: &HeaderMap,
    answer: impl std::future::Future<Output = Result<Response, ApiError>>,
) -> Result<Response, ApiError> {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let validators = Validators::of(
        &state.archive.retrieve(),
        study,
        series,
        instance,
        &format!("{variant}\n{accept}"),
    )?;
    if let Some(not_modified) = validators.check(headers) {
        return Ok(not_modified);
    }
    let mut resp = answer.await?;
    if resp.status().is_success() {
        validators.apply(&mut resp);
    }
    Ok(resp)
}
