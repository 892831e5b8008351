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
            other => other.to_string(),
        };
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            body + "\n",
        )
            .into_response()
    }
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
