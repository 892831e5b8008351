//! Conditional GET (RFC 9110 13.1, 8.8): ETag from the last log position that touched the
//! resource (the same on every node) and the representation asked for; Last-Modified from
//! that event's time; If-None-Match and If-Modified-Since answered with 304.

use crate::ApiError;
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
