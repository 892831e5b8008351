//! The one place where failures become HTTP answers (PS3.18 8.5 status codes), with a
//! plain-text reason a person can act on.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// A failed request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// 404: no such resource or AE title.
    #[error("{0}")]
    NotFound(String),
    /// 405: the resource exists but not with this method (`Allow` is added by axum).
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 406: no acceptable representation; the message names what is offered.
    #[error("{0}")]
    NotAcceptable(String),
    /// 408: the client stopped sending the request body; nothing was stored.
    #[error("{0}")]
    RequestTimeout(String),
    /// 413: the request body is larger than `max_request_bytes`; nothing was stored.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 415: the request body's media type is not supported.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 503: nothing was changed; try again later.
    #[error("{0}")]
    Unavailable(String),
    /// 500: a fault of the archive; details are logged, not shown.
    #[error("{0}")]
    Internal(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let body = match &self {
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                "internal error; see the server log".to_string()
            }
            other => printable(&other.to_string()),
        };
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            body + "\n",
        )
            .into_response()
    }
}

/// A reason as one line: control characters a request smuggled in (a path or value echoed
/// back, `%0d%0a`) are shown escaped (`\r`, `\u{1b}`), so a reason cannot forge lines in
/// a client's or a proxy's log.
fn printable(reason: &str) -> String {
    if !reason.chars().any(char::is_control) {
        return reason.to_string();
    }
    reason.chars().fold(String::new(), |mut out, c| {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
        out
    })
}

impl From<arc_archive::RetrieveError> for ApiError {
    fn from(e: arc_archive::RetrieveError) -> Self {
        match e {
            arc_archive::RetrieveError::NotFound(what) => ApiError::NotFound(what),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<arc_archive::ArchiveError> for ApiError {
    fn from(e: arc_archive::ArchiveError) -> Self {
        ApiError::Unavailable(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_one_printable_line() {
        assert_eq!(printable("study 1.2 not found"), "study 1.2 not found");
        assert_eq!(
            printable("study 1.2\r\nX-Injected: 1 not found"),
            "study 1.2\\r\\nX-Injected: 1 not found"
        );
        assert_eq!(printable("a\u{1b}[31mb"), "a\\u{1b}[31mb");
        assert_eq!(printable("Jérôme 山田"), "Jérôme 山田");
    }
}
