//! WADO-RS (PS3.18 10.4): instances as `multipart/related; type="application/dicom"` — the
//! stored bytes when the client accepts their syntax, else Explicit VR Little Endian —
//! metadata as DICOM JSON with absolute BulkDataURIs, and bulk data by URI.

use crate::accept;
use crate::{check_aet, urls, ApiError, AppState};
use arc_archive::Retrieve;
use arc_projector::InstanceRec;
use axum::body::{Body, Bytes};
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::Value;

fn accept_param(query: &Option<String>) -> Option<String> {
    form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "accept")
        .map(|(_, v)| v.into_owned())
}

/// GET /studies/{study}
pub(crate) async fn study(
    State(state): State<AppState>,
    Path((aet, study)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    retrieve(state, aet, study, None, None, q, headers).await
}

/// GET /studies/{study}/series/{series}
pub(crate) async fn series(
    State(state): State<AppState>,
    Path((aet, study, series)): Path<(String, String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    retrieve(state, aet, study, Some(series), None, q, headers).await
}

/// GET /studies/{study}/series/{series}/instances/{instance}
pub(crate) async fn instance(
    State(state): State<AppState>,
    Path((aet, study, series, instance)): Path<(String, String, String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    retrieve(state, aet, study, Some(series), Some(instance), q, headers).await
}

/// The bytes of one instance in the syntax chosen for it (blocking conversion off the workers).
pub(crate) async fn instance_in(retrieve: &Retrieve, rec: &InstanceRec, ts: &str) -> Result<Bytes, ApiError> {
    let bytes = retrieve.bytes(rec).await?;
    if ts == rec.transfer_syntax {
        return Ok(bytes);
    }
    let target = ts.to_string();
    crate::pixel_params::blocking(move || arc_dicom::transcode(&bytes, &target)).await.map(Bytes::from)
}

async fn retrieve(
    state: AppState,
    aet: String,
    study: String,
    series: Option<String>,
    instance: Option<String>,
    query: Option<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_aet(&state, &aet)?;
    let choice = accept::dicom_retrieve(&headers, accept_param(&query).as_deref())?;
    let retrieve = state.archive.retrieve();
    let selected = retrieve.select(&study, series.as_deref(), instance.as_deref())?;
    let total = selected.len();
    let plan: Vec<(InstanceRec, String)> = selected
        .into_iter()
        .filter_map(|(_, rec)| choice.pick(&rec.transfer_syntax).map(|ts| (rec, ts)))
        .collect();
    if plan.is_empty() {
        return Err(ApiError::NotAcceptable(format!(
            "the {total} matching instance(s) are stored in a transfer syntax this archive cannot decode and cannot be sent in the accepted one; ask for transfer-syntax=*"
        )));
    }
    if total == 1 && plan.len() == 1 {
        // one instance: convert before answering, so a failure gets its own status
        let (rec, ts) = &plan[0];
        let bytes = instance_in(&retrieve, rec, ts).await?;
        let mut w = arc_dicom::MultipartWriter::new("application/dicom");
        w.part(&format!("application/dicom; transfer-syntax={ts}"), &[], bytes);
        return Ok(([(header::CONTENT_TYPE, w.content_type())], w.finish()).into_response());
    }
    let skipped = total - plan.len();
    let boundary = arc_dicom::new_boundary();
    let head_boundary = boundary.clone();
    let boundary_for_header = boundary.clone();
    // Stream: one instance read and sent at a time, never a whole study in memory.
    let parts = futures::stream::iter(plan).then(move |(rec, ts)| {
        let retrieve = retrieve.clone();
        let boundary = head_boundary.clone();
        async move {
            let bytes = instance_in(&retrieve, &rec, &ts).await.map_err(|e| std::io::Error::other(e.to_string()))?;
            let head = format!("--{boundary}\r\nContent-Type: application/dicom; transfer-syntax={ts}\r\nContent-Length: {}\r\n\r\n", bytes.len());
            Ok::<_, std::io::Error>(futures::stream::iter([Ok(Bytes::from(head)), Ok(bytes), Ok(Bytes::from_static(b"\r\n"))]))
        }
    });
    let tail = futures::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(format!("--{boundary}--\r\n"))) });
    let body = parts
        .map(|r| match r {
            Ok(s) => s.left_stream(),
            Err(e) => futures::stream::iter([Err(e)]).right_stream(),
        })
        .flatten()
        .chain(tail);
    let ct = format!("multipart/related; type=\"application/dicom\"; boundary={boundary_for_header}");
    let status = if skipped > 0 { StatusCode::PARTIAL_CONTENT } else { StatusCode::OK };
    let mut resp = (status, [(header::CONTENT_TYPE, ct)], Body::from_stream(body)).into_response();
    if skipped > 0 {
        let w = format!("299 arcstream \"{skipped} of {total} instances are stored in a syntax this archive cannot decode and were left out; ask for transfer-syntax=*\"");
        resp.headers_mut().insert(header::WARNING, w.parse().expect("ascii warning"));
    }
    Ok(resp)
}

/// GET /studies/{study}/metadata
pub(crate) async fn study_metadata(
    State(state): State<AppState>,
    Path((aet, study)): Path<(String, String)>,
    OriginalUri(uri): OriginalUri,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    metadata(state, aet, study, None, None, uri, q, headers).await
}

/// GET /studies/{study}/series/{series}/metadata
pub(crate) async fn series_metadata(
    State(state): State<AppState>,
    Path((aet, study, series)): Path<(String, String, String)>,
    OriginalUri(uri): OriginalUri,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    metadata(state, aet, study, Some(series), None, uri, q, headers).await
}

/// GET /studies/{study}/series/{series}/instances/{instance}/metadata
pub(crate) async fn instance_metadata(
    State(state): State<AppState>,
    Path((aet, study, series, instance)): Path<(String, String, String, String)>,
    OriginalUri(uri): OriginalUri,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    metadata(state, aet, study, Some(series), Some(instance), uri, q, headers).await
}

#[allow(clippy::too_many_arguments)]
async fn metadata(
    state: AppState,
    aet: String,
    study: String,
    series: Option<String>,
    instance: Option<String>,
    uri: axum::http::Uri,
    query: Option<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_aet(&state, &aet)?;
    accept::json(&headers, accept_param(&query).as_deref())?;
    let retrieve = state.archive.retrieve();
    let selected = retrieve.select(&study, series.as_deref(), instance.as_deref())?;
    let base = urls::rs_base(&headers, &uri);
    let mut out = Vec::with_capacity(selected.len());
    for (sop, rec) in selected {
        let mut header = retrieve.header(&sop, &rec).await?;
        let instance_url = urls::retrieve_url(&base, &rec.study_uid, Some(&rec.series_uid), Some(&sop));
        absolutize(&mut header, &instance_url);
        out.push(header);
    }
    Ok(([(header::CONTENT_TYPE, "application/dicom+json")], Value::Array(out).to_string()).into_response())
}

/// Turns the stored relative BulkDataURIs (`bulkdata/…`) into absolute URLs of this instance.
fn absolutize(value: &mut Value, instance_url: &str) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if k == "BulkDataURI" {
                    if let Value::String(s) = v {
                        if !s.contains("://") {
                            *s = format!("{instance_url}/{s}");
                        }
                    }
                } else {
                    absolutize(v, instance_url);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| absolutize(v, instance_url)),
        _ => {}
    }
}

/// GET …/instances/{instance}/bulkdata/{path}: one bulk data value (PS3.18 10.4.1.1.5) as
/// `multipart/related; type="application/octet-stream"`, little endian.
pub(crate) async fn bulkdata(
    State(state): State<AppState>,
    Path((aet, study, series, instance, path)): Path<(String, String, String, String, String)>,
) -> Result<Response, ApiError> {
    check_aet(&state, &aet)?;
    let retrieve = state.archive.retrieve();
    let (_, rec) = retrieve.select(&study, Some(&series), Some(&instance))?.remove(0);
    let bytes = retrieve.bytes(&rec).await?;
    let p = path.clone();
    let value = tokio::task::spawn_blocking(move || arc_dicom::bulk_value(&bytes, &p))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| match e {
            arc_dicom::DicomError::Unsupported(what) => ApiError::NotAcceptable(format!("bulk data {path}: {what} cannot be served yet")),
            other => ApiError::BadRequest(format!("bulk data path {path}: {other}")),
        })?
        .ok_or_else(|| ApiError::NotFound(format!("instance {instance} has no bulk data at {path}")))?;
    let boundary = arc_dicom::new_boundary();
    let mut body = format!("--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n", value.len()).into_bytes();
    body.extend_from_slice(&value);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let ct = format!("multipart/related; type=\"application/octet-stream\"; boundary={boundary}");
    Ok(([(header::CONTENT_TYPE, ct)], body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_uris_become_absolute() {
        let mut v = serde_json::json!({"7FE00010": {"vr": "OW", "BulkDataURI": "bulkdata/7FE00010"}, "00540016": {"vr": "SQ", "Value": [{"00181072": {"vr": "OB", "BulkDataURI": "bulkdata/00540016/0/00181072"}}]}});
        absolutize(&mut v, "http://h/rs/studies/1/series/2/instances/3");
        assert_eq!(v["7FE00010"]["BulkDataURI"], "http://h/rs/studies/1/series/2/instances/3/bulkdata/7FE00010");
        assert_eq!(v["00540016"]["Value"][0]["00181072"]["BulkDataURI"], "http://h/rs/studies/1/series/2/instances/3/bulkdata/00540016/0/00181072");
    }
}
