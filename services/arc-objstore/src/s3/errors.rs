//! S3 error mapping owns how SDK failures become [`StoreError`]s with a reason a person can
//! act on: a missing object is `NotFound`; an unreachable endpoint, a server error, refused
//! credentials or a missing bucket are `Unavailable`, saying which.

use crate::StoreError;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

/// The HTTP status of a failed request, if an answer came back.
pub(super) fn status<E>(err: &SdkError<E, HttpResponse>) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

/// The S3 error code (`NoSuchKey`, `PreconditionFailed`, …), if the answer had one.
pub(super) fn code<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> Option<&str> {
    err.code()
}

/// Maps a failed request about `key` (`op` names it in messages) to a store error.
pub(super) fn map<E>(
    err: SdkError<E, HttpResponse>,
    op: &str,
    key: &str,
    endpoint: &str,
) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    // A 404 without a code (HEAD answers have no body) or with NoSuchKey is a missing
    // object; a missing bucket is the store being unusable, not an absent key.
    if status(&err) == Some(404) && code(&err) != Some("NoSuchBucket") {
        return StoreError::NotFound(key.to_string());
    }
    StoreError::Unavailable(format!("{op} {key:?} at {endpoint}: {}", reason(&err)))
}

/// Why a request failed, in words: unreachable, timed out, or the server's answer.
pub(super) fn reason<E>(err: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match err {
        SdkError::DispatchFailure(d) if d.is_timeout() => {
            format!("no answer in time (is the endpoint up and answering?): {}", chain(err))
        }
        SdkError::DispatchFailure(d) if d.is_io() => {
            format!("cannot connect (is the server running at that address?): {}", chain(err))
        }
        SdkError::TimeoutError(_) => format!("no answer in time: {}", chain(err)),
        // Failing to find credentials happens before anything is sent.
        SdkError::DispatchFailure(_) if chain(err).contains("no credentials") => format!(
            "no AWS credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE): {}",
            chain(err)
        ),
        _ => match status(err) {
            Some(s) => {
                let code = code(err).unwrap_or("");
                let hint = match (s, code) {
                    (404, _) | (_, "NoSuchBucket") => "no such bucket: create it, or fix the bucket name in the URI",
                    (403, _) | (_, "InvalidAccessKeyId" | "SignatureDoesNotMatch") => {
                        "access denied: check the credentials, e.g. AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and the bucket policy"
                    }
                    (301 | 307, _) | (_, "PermanentRedirect" | "AuthorizationHeaderMalformed") => {
                        "the bucket is in another region: add ?region=… to the URI"
                    }
                    (500..=599, _) => "server error",
                    _ => "",
                };
                let words: Vec<&str> = [code, err.message().unwrap_or("")].into_iter().filter(|w| !w.is_empty()).collect();
                let mut text = format!("HTTP {s}");
                for w in words {
                    text.push(' ');
                    text.push_str(w);
                }
                if !hint.is_empty() {
                    text.push_str(&format!(" ({hint})"));
                }
                text
            }
            None => chain(err),
        },
    }
}

/// An error and its sources, each once, without debug dumps.
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = vec![err.to_string()];
    let mut source = err.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::operation::head_object::HeadObjectError;
    use aws_sdk_s3::primitives::SdkBody;

    fn answer(status: u16) -> SdkError<HeadObjectError, HttpResponse> {
        let raw = HttpResponse::new(status.try_into().unwrap(), SdkBody::empty());
        let meta = aws_sdk_s3::error::ErrorMetadata::builder().build();
        SdkError::service_error(HeadObjectError::generic(meta), raw)
    }

    #[test]
    fn statuses_map_to_store_errors_with_reasons() {
        assert!(matches!(map(answer(404), "get", "k", "e"), StoreError::NotFound(k) if k == "k"));
        for (status, says) in [
            (403, "check the credentials"),
            (503, "server error"),
            (301, "region"),
        ] {
            let err = map(answer(status), "get", "k", "http://e");
            match err {
                StoreError::Unavailable(m) => {
                    assert!(
                        m.contains(says)
                            && m.contains(&status.to_string())
                            && m.contains("http://e"),
                        "{m}"
                    )
                }
                other => panic!("{status}: {other:?}"),
            }
        }
    }
}
