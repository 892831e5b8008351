//! WADO-RS bulk data (PS3.18 10.4.1.1.5, 8.7.3.3): every bulk value of a study, series or
//! instance as `multipart/related` parts with Content-Location, or one value by its
//! BulkDataURI. Native values go as `application/octet-stream`; encapsulated Pixel Data as
//! its frames in their own media type when accepted, else decompressed to
//! `application/octet-stream` (PS3.18 8.7.3.3.2).

use crate::accept::{self, BulkChoice};
use crate::wado::accept_param;
use crate::{check_aet, conditional, urls, ApiError, AppState};
use arc_dicom::BulkValue;
use axum::body::{Body, Bytes};
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::Value;

type Q = RawQuery;

/// GET /studies/{study}/bulkdata
pub(crate) async fn study_bulkdata(
    State(s): State<AppState>,
    Path((aet, st)): Path<(String, String)>,
    OriginalUri(u): OriginalUri,
    RawQuery(q): Q,
    h: HeaderMap,
) -> Result<Response, ApiError> {
    bulkdata_all(s, aet, st, None, None, u, q, h).await
}

/// GET /studies/{study}/series/{series}/bulkdata
pub(crate) async fn series_bulkdata(
    State(s): State<AppState>,
    Path((aet, st, se)): Path<(String, String, String)>,
    OriginalUri(u): OriginalUri,
    RawQuery(q): Q,
    h: HeaderMap,
) -> Result<Response, ApiError> {
    bulkdata_all(s, aet, st, Some(se), None, u, q, h).await
}

/// GET /studies/{study}/series/{series}/instances/{instance}/bulkdata
pub(crate) async fn instance_bulkdata(
    State(s): State<AppState>,
    Path((aet, st, se, i)): Path<(String, String, String, String)>,
    OriginalUri(u): OriginalUri,
    RawQuery(q): Q,
    h: HeaderMap,
) -> Result<Response, ApiError> {
    bulkdata_all(s, aet, st, Some(se), Some(i), u, q, h).await
}

/// The relative BulkDataURIs of a stored header.
fn bulk_paths(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("BulkDataURI", Value::String(s))
                        if s.starts_with(arc_dicom::BULKDATA_PREFIX) =>
                    {
                        out.push(s.clone())
                    }
                    _ => bulk_paths(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| bulk_paths(v, out)),
        _ => {}
    }
}

/// The parts of one bulk value as the client accepts them: `(content type, location, bytes)`.
fn parts_of(
    value: BulkValue,
    location: &str,
    choice: &BulkChoice,
) -> Vec<(String, String, Vec<u8>)> {
    match value {
        BulkValue::Native(bytes) if choice.octet_stream => {
            vec![("application/octet-stream".into(), location.into(), bytes)]
        }
        BulkValue::Native(_) => Vec::new(),
        BulkValue::Encapsulated {
            media_type,
            transfer_syntax,
            frames,
        } if choice.takes(media_type) => {
            let ct = format!("{media_type}; transfer-syntax={transfer_syntax}");
            let one = frames.len() == 1;
            frames
                .into_iter()
                .enumerate()
                .map(|(i, f)| {
                    // several frames: each at its frame URL (PS3.18 10.4.1.1.4)
                    let loc = if one {
                        location.to_string()
                    } else {
                        format!(
                            "{}/frames/{}",
                            location.split("/bulkdata/").next().unwrap_or(location),
                            i + 1
                        )
                    };
                    (ct.clone(), loc, f)
                })
                .collect()
        }
        BulkValue::Encapsulated { .. } => Vec::new(),
    }
}

/// Whether a bulk data path (with or without `bulkdata/`) names the top-level Pixel Data.
fn is_pixel_data(path: &str) -> bool {
    path.strip_prefix(arc_dicom::BULKDATA_PREFIX)
        .unwrap_or(path)
        .eq_ignore_ascii_case("7FE00010")
}

/// Encapsulated Pixel Data that the client does not take in its own media type but takes
/// as `application/octet-stream` is decoded: every frame in turn, native little endian, as
/// Explicit VR Little Endian would carry it (PS3.18 8.7.3.3.2). Anything else is returned
/// as it is.
fn decompress_if_wanted(
    bytes: &[u8],
    path: &str,
    value: BulkValue,
    choice: &BulkChoice,
) -> Result<BulkValue, arc_dicom::DicomError> {
    let wanted = match &value {
        BulkValue::Encapsulated { media_type, .. } => {
            !choice.takes(media_type) && choice.octet_stream && is_pixel_data(path)
        }
        BulkValue::Native(_) => false,
    };
    let Some(info) = wanted
        .then(|| arc_dicom::pixels::image_info(bytes))
        .transpose()?
        .flatten()
    else {
        return Ok(value);
    };
    let all: Vec<u32> = (1..=info.frames).collect();
    let mut data = arc_dicom::pixels::frames(bytes, &all, true)?
        .frames
        .concat();
    if data.len() % 2 == 1 {
        data.push(0); // values have even length (PS3.5 7.1.1)
    }
    Ok(BulkValue::Native(data))
}

#[allow(clippy::too_many_arguments)]
async fn bulkdata_all(
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
    let choice = accept::bulk(&headers, accept_param(&query).as_deref())?;
    let retrieve = state.archive.retrieve();
    let selected = retrieve.select(&study, series.as_deref(), instance.as_deref())?;
    let validators = conditional::Validators::of(
        &retrieve,
        &study,
        series.as_deref(),
        instance.as_deref(),
        &format!("bulkdata {choice:?}"),
    )?;
    if let Some(r) = validators.check(&headers) {
        return Ok(r);
    }
    let base = urls::rs_base(&headers, &uri);
    let boundary = arc_dicom::new_boundary();
    let b = boundary.clone();
    // One instance at a time: read, cut into its bulk values, send.
    let parts = futures::stream::iter(selected).then(move |(sop, rec)| {
        let retrieve = retrieve.clone();
        let (base, boundary, choice) = (base.clone(), b.clone(), choice.clone());
        async move {
            let header = retrieve.header(&sop, &rec).await.map_err(std::io::Error::other)?;
            let mut paths = Vec::new();
            bulk_paths(&header, &mut paths);
            let bytes = retrieve.bytes(&rec).await.map_err(std::io::Error::other)?;
            let wanted = choice.clone();
            let values = tokio::task::spawn_blocking(move || {
                let values = arc_dicom::bulk_values(&bytes, &paths)?;
                let decoded = values.into_iter().filter_map(|(path, value)| match decompress_if_wanted(&bytes, &path, value, &wanted) {
                    Ok(v) => Some((path, v)),
                    Err(e) => {
                        // the status went out with the first part: leave it out, say why in the log
                        tracing::warn!(%path, error = %e, "pixel data left out of a bulk data answer");
                        None
                    }
                });
                Ok::<_, arc_dicom::DicomError>(decoded.collect::<Vec<_>>())
            })
            .await
            .map_err(std::io::Error::other)?
            .map_err(std::io::Error::other)?;
            let url = urls::retrieve_url(&base, &rec.study_uid, Some(&rec.series_uid), Some(&sop));
            let mut chunks = Vec::new();
            for (path, value) in values {
                for (ct, loc, data) in parts_of(value, &format!("{url}/{path}"), &choice) {
                    let head = format!("--{boundary}\r\nContent-Type: {ct}\r\nContent-Location: {loc}\r\nContent-Length: {}\r\n\r\n", data.len());
                    chunks.push(Ok(Bytes::from(head)));
                    chunks.push(Ok(Bytes::from(data)));
                    chunks.push(Ok(Bytes::from_static(b"\r\n")));
                }
            }
            Ok::<_, std::io::Error>(futures::stream::iter(chunks))
        }
    });
    let ct = format!("multipart/related; type=\"application/octet-stream\"; boundary={boundary}");
    let close = futures::stream::once(async move {
        Ok::<_, std::io::Error>(Bytes::from(format!("--{boundary}--\r\n")))
    });
    let body = parts
        .map(|r| match r {
            Ok(s) => s.left_stream(),
            Err(e) => futures::stream::iter(vec![Err(e)]).right_stream(),
        })
        .flatten()
        .chain(close);
    let mut resp = ([(header::CONTENT_TYPE, ct)], Body::from_stream(body)).into_response();
    validators.apply(&mut resp);
    Ok(resp)
}

/// GET …/instances/{instance}/bulkdata/{path}: one bulk data value (PS3.18 10.4.1.1.5);
/// encapsulated Pixel Data as its frames in their own media type when accepted, else
/// decompressed (406 when it cannot be decoded).
pub(crate) async fn bulkdata(
    State(state): State<AppState>,
    Path((aet, study, series, instance, path)): Path<(String, String, String, String, String)>,
    OriginalUri(uri): OriginalUri,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_aet(&state, &aet)?;
    let choice = accept::bulk(&headers, accept_param(&q).as_deref())?;
    let retrieve = state.archive.retrieve();
    let (_, rec) = retrieve
        .select(&study, Some(&series), Some(&instance))?
        .remove(0);
    let validators = conditional::Validators::of(
        &retrieve,
        &study,
        Some(&series),
        Some(&instance),
        &format!("bulk {path} {choice:?}"),
    )?;
    if let Some(r) = validators.check(&headers) {
        return Ok(r);
    }
    let bytes = retrieve.bytes(&rec).await?;
    let (b, p) = (bytes.clone(), path.clone());
    let value = tokio::task::spawn_blocking(move || arc_dicom::bulk_value_any(&b, &p))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::BadRequest(format!("bulk data path {path}: {e}")))?
        .ok_or_else(|| {
            ApiError::NotFound(format!("instance {instance} has no bulk data at {path}"))
        })?;
    let stored_kind = match &value {
        BulkValue::Native(_) => "application/octet-stream".to_string(),
        BulkValue::Encapsulated { media_type, .. } => media_type.to_string(),
    };
    let (p, wanted) = (path.clone(), choice.clone());
    let value = crate::pixel_params::blocking(move || decompress_if_wanted(&bytes, &p, value, &wanted))
        .await
        .map_err(|e| match e {
            ApiError::NotAcceptable(why) => ApiError::NotAcceptable(format!(
                "bulk data {path} is {stored_kind} and cannot be decompressed ({why}); offered: multipart/related; type=\"{stored_kind}\""
            )),
            other => other,
        })?;
    let kind = match &value {
        BulkValue::Native(_) => "application/octet-stream".to_string(),
        BulkValue::Encapsulated { media_type, .. } => media_type.to_string(),
    };
    let location = format!("{}{}", urls::origin_of(&headers), uri.path());
    let parts = parts_of(value, &location, &choice);
    if parts.is_empty() {
        let decoded = if kind == "application/octet-stream" || !is_pixel_data(&path) {
            String::new()
        } else {
            " or type=\"application/octet-stream\" (decompressed)".into()
        };
        return Err(ApiError::NotAcceptable(format!(
            "bulk data {path} is {kind}; offered: multipart/related; type=\"{kind}\"{decoded}"
        )));
    }
    let mut w = arc_dicom::MultipartWriter::new(&kind);
    for (ct, loc, data) in parts {
        w.part(&ct, &[("Content-Location", &loc)], data);
    }
    let ct = w.content_type();
    let mut resp = ([(header::CONTENT_TYPE, ct)], w.finish()).into_response();
    validators.apply(&mut resp);
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wado_meta::absolutize;

    #[test]
    fn bulk_uris_become_absolute() {
        let mut v = serde_json::json!({"7FE00010": {"vr": "OW", "BulkDataURI": "bulkdata/7FE00010"}, "00540016": {"vr": "SQ", "Value": [{"00181072": {"vr": "OB", "BulkDataURI": "bulkdata/00540016/0/00181072"}}]}});
        let mut paths = Vec::new();
        bulk_paths(&v, &mut paths);
        paths.sort();
        assert_eq!(
            paths,
            vec!["bulkdata/00540016/0/00181072", "bulkdata/7FE00010"]
        );
        absolutize(&mut v, "http://h/rs/studies/1/series/2/instances/3");
        assert_eq!(
            v["7FE00010"]["BulkDataURI"],
            "http://h/rs/studies/1/series/2/instances/3/bulkdata/7FE00010"
        );
        assert_eq!(
            v["00540016"]["Value"][0]["00181072"]["BulkDataURI"],
            "http://h/rs/studies/1/series/2/instances/3/bulkdata/00540016/0/00181072"
        );
    }
}
