//! WADO-RS rendered and thumbnail resources (PS3.18 10.4.1.1.3, 10.4.1.1.4, 8.3.5.1):
//! JPEG (default), PNG or GIF, with `window`, `viewport` and `quality`. An instance
//! renders its first frame, or all frames as an animated GIF when GIF is asked for
//! (the default for multi-frame objects, as dcm4chee does); series and study answer
//! `multipart/related` of their image instances. A thumbnail is one image at most 128
//! pixels a side (`viewport` overrides): the instance's first frame, the middle image
//! of a series, the middle image of a study's first series that has images.

use crate::pixel_params::{blocking, frame_list, image_format, query_pairs, render_params};
use crate::{accept, check_aet, conditional, wado_frames, ApiError, AppState};
use arc_dicom::pixels::{self, ImageFormat, RenderParams};
use arc_projector::InstanceRec;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};

/// Default thumbnail box.
const THUMBNAIL: u32 = 128;

/// Whether an instance record describes an image (has Rows in its index attributes, or
/// is of an image storage SOP class, when the index keeps no Rows).
fn frames_of(rec: &InstanceRec) -> Option<u32> {
    let n = rec
        .attrs
        .get("00280008")
        .and_then(|a| a.first())
        .and_then(|v| v.trim().parse::<u32>().ok());
    let has_rows = rec.attrs.contains_key("00280010");
    match (n, has_rows) {
        (Some(n), _) => Some(n),
        (None, true) => Some(1),
        (None, false) => None,
    }
}

fn accept_param(pairs: &[(String, String)]) -> Option<String> {
    pairs
        .iter()
        .find(|(k, _)| k == "accept")
        .map(|(_, v)| v.clone())
}

/// Renders one stored instance: `frame` (1-based), or all frames for an animated GIF.
async fn render_instance(
    state: &AppState,
    rec: &InstanceRec,
    frame: Option<u32>,
    params: RenderParams,
) -> Result<Vec<u8>, ApiError> {
    let bytes = state.archive.retrieve().bytes(rec).await?;
    blocking(move || match frame {
        Some(n) => pixels::render(&bytes, n, &params),
        None => pixels::render_animation(&bytes, &params),
    })
    .await
}

/// `rendered` at any level, answered conditionally (ETag, Last-Modified, 304).
async fn rendered(
    state: AppState,
    aet: String,
    study: String,
    series: Option<String>,
    instance: Option<String>,
    q: Option<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_aet(&state, &aet)?;
    let variant = format!("rendered?{}", q.as_deref().unwrap_or(""));
    let answer = rendered_answer(
        state.clone(),
        study.clone(),
        series.clone(),
        instance.clone(),
        q,
        headers.clone(),
    );
    let resource = (study.as_str(), series.as_deref(), instance.as_deref());
    conditional::derived(&state, resource, &variant, &headers, answer).await
}

async fn rendered_answer(
    state: AppState,
    study: String,
    series: Option<String>,
    instance: Option<String>,
    q: Option<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(&q);
    let selected =
        state
            .archive
            .retrieve()
            .select(&study, series.as_deref(), instance.as_deref())?;
    if let Some(i) = &instance {
        let (_, rec) = &selected[0];
        if let Some(kind) = document_kind(rec) {
            return rendered_document(&state, rec, kind, &headers, &pairs).await;
        }
        let multi = frames_of(rec).unwrap_or(1) > 1;
        let format = image_format(
            &headers,
            accept_param(&pairs).as_deref(),
            if multi {
                ImageFormat::Gif
            } else {
                ImageFormat::Jpeg
            },
        )?;
        let params = render_params(&pairs, format, None)?;
        let image = render_instance(&state, rec, None, params)
            .await
            .map_err(|e| not_renderable(e, i))?;
        return Ok(([(header::CONTENT_TYPE, format.media_type())], image).into_response());
    }
    let format = image_format(&headers, accept_param(&pairs).as_deref(), ImageFormat::Jpeg)?;
    let params = render_params(&pairs, format, None)?;
    let mut w = arc_dicom::MultipartWriter::new(format.media_type());
    let mut rendered = 0;
    for (sop, rec) in selected {
        if frames_of(&rec).is_none() {
            continue;
        }
        match render_instance(&state, &rec, None, params.clone()).await {
            Ok(image) => {
                let location = format!("instances/{sop}/rendered");
                w.part(
                    format.media_type(),
                    &[("Content-Location", location.as_str())],
                    image,
                );
                rendered += 1;
            }
            Err(e) => tracing::warn!(%sop, error = %e, "instance left out of rendered answer"),
        }
    }
    if rendered == 0 {
        return Err(ApiError::NotFound(
            "no image instance to render here".into(),
        ));
    }
    Ok(([(header::CONTENT_TYPE, w.content_type())], w.finish()).into_response())
}

/// Encapsulated PDF Storage (PS3.4 B.5).
const ENCAPSULATED_PDF: &str = "1.2.840.10008.5.1.4.1.1.104.1";

/// The rendered media type of an instance that holds a document or a video rather than an
/// image: `application/pdf` for an encapsulated PDF, `video/mpeg` or `video/mp4` for
/// MPEG-2 and MPEG-4/HEVC pixel data (PS3.18 8.7.4, Table 8.7.4-1 rendered media types).
fn document_kind(rec: &InstanceRec) -> Option<&'static str> {
    if rec.sop_class_uid == ENCAPSULATED_PDF {
        return Some("application/pdf");
    }
    Some(arc_dicom::bitstream_media_type(&rec.transfer_syntax)).filter(|t| t.starts_with("video/"))
}

/// An encapsulated PDF as the document and a video as its stream, as dcm4chee renders
/// them: the Encapsulated Document (0042,0011) cut to its Encapsulated Document Length
/// (0042,0015) when the object gives one, or the Pixel Data fragments joined.
async fn rendered_document(
    state: &AppState,
    rec: &InstanceRec,
    kind: &'static str,
    headers: &HeaderMap,
    pairs: &[(String, String)],
) -> Result<Response, ApiError> {
    let ranges = accept::ranges(headers, accept_param(pairs).as_deref());
    if !ranges.takes(kind) {
        return Err(accept::not_acceptable(&ranges, kind));
    }
    if let Some((name, _)) = pairs
        .iter()
        .find(|(k, _)| ["window", "viewport", "quality"].contains(&k.as_str()))
    {
        return Err(ApiError::BadRequest(format!(
            "{name} applies to rendered images; this instance renders as {kind} (PS3.18 8.3.5.1)"
        )));
    }
    let bytes = state.archive.retrieve().bytes(rec).await?;
    let body = blocking(move || {
        if kind == "application/pdf" {
            let values = arc_dicom::bulk_values(&bytes, &["00420011".into(), "00420015".into()])?;
            let native = |path: &str| {
                values.iter().find_map(|(p, v)| match v {
                    arc_dicom::BulkValue::Native(b) if p == path => Some(b.clone()),
                    _ => None,
                })
            };
            let mut doc = native("00420011").unwrap_or_default();
            let length = native("00420015").and_then(|v| {
                v.get(..4)
                    .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            });
            if let Some(n) = length.filter(|n| (*n as usize) <= doc.len()) {
                doc.truncate(n as usize);
            }
            return Ok(doc);
        }
        match arc_dicom::bulk_value_any(&bytes, "7FE00010")? {
            Some(arc_dicom::BulkValue::Encapsulated { frames, .. }) => Ok(frames.concat()),
            _ => Ok(Vec::new()),
        }
    })
    .await?;
    if body.is_empty() {
        return Err(ApiError::NotAcceptable(format!(
            "the instance holds no {kind} content to render; offered: application/dicom"
        )));
    }
    Ok(ranged(headers, kind, body))
}

/// One byte range of `Range: bytes=…` over `len` (> 0) bytes (RFC 9110 14.1.2), inclusive:
/// `Ok(None)` for no Range, or one the answer ignores (another unit, several ranges, bad
/// syntax, or an `If-Range`: the whole representation is always a valid answer, RFC 9110
/// 14.2); `Err(())` for a range that starts beyond the end (416).
fn byte_range(headers: &HeaderMap, len: usize) -> Result<Option<(usize, usize)>, ()> {
    if headers.contains_key(header::IF_RANGE) {
        return Ok(None);
    }
    let Some(spec) = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("bytes="))
    else {
        return Ok(None);
    };
    let Some((a, b)) = spec.split_once('-').filter(|_| !spec.contains(',')) else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    let last = len - 1;
    let (start, end) = match (a.parse::<usize>(), b.parse::<usize>()) {
        (Ok(s), Ok(e)) if s <= e => (s, e.min(last)),
        (Ok(s), Err(_)) if b.is_empty() => (s, last),
        (Err(_), Ok(n)) if a.is_empty() && n > 0 => (len.saturating_sub(n), last),
        (Err(_), Ok(0)) if a.is_empty() => return Err(()),
        _ => return Ok(None),
    };
    if start > last {
        return Err(());
    }
    Ok(Some((start, end)))
}

/// A whole document or video, or the byte range asked for (206, or 416 beyond its end), so
/// browsers' video and PDF players can seek.
fn ranged(headers: &HeaderMap, kind: &'static str, body: Vec<u8>) -> Response {
    use axum::http::StatusCode;
    let len = body.len();
    match byte_range(headers, len) {
        Ok(None) => (
            [
                (header::CONTENT_TYPE, kind),
                (header::ACCEPT_RANGES, "bytes"),
            ],
            body,
        )
            .into_response(),
        Ok(Some((start, end))) => (
            StatusCode::PARTIAL_CONTENT,
            [
                (header::CONTENT_TYPE, kind.to_string()),
                (header::ACCEPT_RANGES, "bytes".into()),
                (header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}")),
            ],
            body[start..=end].to_vec(),
        )
            .into_response(),
        Err(()) => (
            StatusCode::RANGE_NOT_SATISFIABLE,
            [(header::CONTENT_RANGE, format!("bytes */{len}"))],
            format!("the range asked for starts beyond the {len} bytes of the {kind}"),
        )
            .into_response(),
    }
}

/// A 404 "not an image" becomes 406 for `rendered`: the object exists, it only has no
/// rendered representation here.
fn not_renderable(e: ApiError, sop: &str) -> ApiError {
    match e {
        ApiError::NotFound(why) if why.starts_with("not an image") => {
            ApiError::NotAcceptable(format!(
                "instance {sop} has no rendered representation ({why}); offered: application/dicom"
            ))
        }
        other => other,
    }
}

/// `thumbnail` at any level, answered conditionally (ETag, Last-Modified, 304).
async fn thumbnail(
    state: AppState,
    aet: String,
    study: String,
    series: Option<String>,
    instance: Option<String>,
    q: Option<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_aet(&state, &aet)?;
    let variant = format!("thumbnail?{}", q.as_deref().unwrap_or(""));
    let answer = thumbnail_answer(
        state.clone(),
        study.clone(),
        series.clone(),
        instance.clone(),
        q,
        headers.clone(),
    );
    let resource = (study.as_str(), series.as_deref(), instance.as_deref());
    conditional::derived(&state, resource, &variant, &headers, answer).await
}

async fn thumbnail_answer(
    state: AppState,
    study: String,
    series: Option<String>,
    instance: Option<String>,
    q: Option<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(&q);
    let format = image_format(&headers, accept_param(&pairs).as_deref(), ImageFormat::Jpeg)?;
    let params = render_params(&pairs, format, Some(THUMBNAIL))?;
    let selected =
        state
            .archive
            .retrieve()
            .select(&study, series.as_deref(), instance.as_deref())?;
    let rec = if instance.is_some() {
        selected.into_iter().next().map(|(_, r)| r)
    } else {
        // the middle image of the first series (in storage order) that has images
        let mut first_series: Option<String> = None;
        let images: Vec<InstanceRec> = selected
            .into_iter()
            .map(|(_, r)| r)
            .filter(|r| frames_of(r).is_some())
            .filter(|r| first_series.get_or_insert_with(|| r.series_uid.clone()) == &r.series_uid)
            .collect();
        let middle = images.len() / 2;
        images.into_iter().nth(middle)
    };
    let rec =
        rec.ok_or_else(|| ApiError::NotFound("no image instance for a thumbnail here".into()))?;
    let image = render_instance(&state, &rec, Some(1), params).await?;
    Ok(([(header::CONTENT_TYPE, format.media_type())], image).into_response())
}

/// GET /studies/{study}/rendered
pub(crate) async fn study_rendered(
    State(s): State<AppState>,
    Path((aet, study)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    h: HeaderMap,
) -> Result<Response, ApiError> {
    rendered(s, aet, study, None, None, q, h).await
}

/// GET /studies/{study}/series/{series}/rendered
pub(crate) async fn series_rendered(
    State(s): State<AppState>,
    Path((aet, study, series)): Path<(String, String, String)>,
    RawQuery(q): RawQuery,
    h: HeaderMap,
) -> Result<Response, ApiError> {
    rendered(s, aet, study, Some(series), None, q, h).await
}

/// GET …/instances/{instance}/rendered
pub(crate) async fn instance_rendered(
    State(s): State<AppState>,
    Path((aet, study, series, instance)): Path<(String, String, String, String)>,
    RawQuery(q): RawQuery,
    h: HeaderMap,
) -> Result<Response, ApiError> {
    rendered(s, aet, study, Some(series), Some(instance), q, h).await
}

/// GET /studies/{study}/thumbnail
pub(crate) async fn study_thumbnail(
    State(s): State<AppState>,
    Path((aet, study)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    h: HeaderMap,
) -> Result<Response, ApiError> {
    thumbnail(s, aet, study, None, None, q, h).await
}

/// GET /studies/{study}/series/{series}/thumbnail
pub(crate) async fn series_thumbnail(
    State(s): State<AppState>,
    Path((aet, study, series)): Path<(String, String, String)>,
    RawQuery(q): RawQuery,
    h: HeaderMap,
) -> Result<Response, ApiError> {
    thumbnail(s, aet, study, Some(series), None, q, h).await
}

/// GET …/instances/{instance}/thumbnail
pub(crate) async fn instance_thumbnail(
    State(s): State<AppState>,
    Path((aet, study, series, instance)): Path<(String, String, String, String)>,
    RawQuery(q): RawQuery,
    h: HeaderMap,
) -> Result<Response, ApiError> {
    thumbnail(s, aet, study, Some(series), Some(instance), q, h).await
}

/// GET …/frames/{frames}/rendered and …/frames/{frames}/thumbnail (`thumb` true),
/// answered conditionally (ETag, Last-Modified, 304).
async fn frames_image(
    state: AppState,
    (aet, study, series, instance, list): (String, String, String, String, String),
    q: Option<String>,
    headers: HeaderMap,
    thumb: bool,
) -> Result<Response, ApiError> {
    check_aet(&state, &aet)?;
    let variant = format!(
        "frames/{list}/{}?{}",
        if thumb { "thumbnail" } else { "rendered" },
        q.as_deref().unwrap_or("")
    );
    let answer = frames_image_answer(
        state.clone(),
        (study.clone(), series.clone(), instance.clone(), list),
        q,
        headers.clone(),
        thumb,
    );
    let resource = (
        study.as_str(),
        Some(series.as_str()),
        Some(instance.as_str()),
    );
    conditional::derived(&state, resource, &variant, &headers, answer).await
}

async fn frames_image_answer(
    state: AppState,
    (study, series, instance, list): (String, String, String, String),
    q: Option<String>,
    headers: HeaderMap,
    thumb: bool,
) -> Result<Response, ApiError> {
    let numbers = frame_list(&list)?;
    let pairs = query_pairs(&q);
    let format = image_format(&headers, accept_param(&pairs).as_deref(), ImageFormat::Jpeg)?;
    let params = render_params(&pairs, format, thumb.then_some(THUMBNAIL))?;
    let retrieve = state.archive.retrieve();
    let (_, rec) = retrieve
        .select(&study, Some(&series), Some(&instance))?
        .remove(0);
    let bytes = retrieve.bytes(&rec).await?;
    let numbers = if thumb {
        numbers[..1].to_vec()
    } else {
        numbers
    };
    wado_frames::render_frames(bytes, numbers, params).await
}

/// GET …/frames/{frames}/rendered
pub(crate) async fn frames_rendered(
    State(s): State<AppState>,
    Path(p): Path<(String, String, String, String, String)>,
    RawQuery(q): RawQuery,
    h: HeaderMap,
) -> Result<Response, ApiError> {
    frames_image(s, p, q, h, false).await
}

/// GET …/frames/{frames}/thumbnail
pub(crate) async fn frames_thumbnail(
    State(s): State<AppState>,
    Path(p): Path<(String, String, String, String, String)>,
    RawQuery(q): RawQuery,
    h: HeaderMap,
) -> Result<Response, ApiError> {
    frames_image(s, p, q, h, true).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(v: &str) -> Result<Option<(usize, usize)>, ()> {
        let mut h = HeaderMap::new();
        h.insert(header::RANGE, v.parse().unwrap());
        byte_range(&h, 100)
    }

    #[test]
    fn byte_ranges_as_rfc_9110_reads_them() {
        assert_eq!(range("bytes=0-9"), Ok(Some((0, 9))));
        assert_eq!(range("bytes=90-"), Ok(Some((90, 99))));
        assert_eq!(range("bytes=-10"), Ok(Some((90, 99))));
        assert_eq!(range("bytes=-500"), Ok(Some((0, 99))));
        assert_eq!(range("bytes=50-500"), Ok(Some((50, 99))));
        assert_eq!(range("bytes=100-"), Err(()));
        assert_eq!(range("bytes=-0"), Err(()));
        // ignored: the whole answer
        for ignored in [
            "bytes=9-0",
            "bytes=0-1,5-6",
            "items=0-1",
            "bytes=x-y",
            "bytes=-",
        ] {
            assert_eq!(range(ignored), Ok(None), "{ignored}");
        }
        let mut h = HeaderMap::new();
        h.insert(header::RANGE, "bytes=0-9".parse().unwrap());
        h.insert(header::IF_RANGE, "\"1-0\"".parse().unwrap());
        assert_eq!(byte_range(&h, 100), Ok(None));
        assert_eq!(byte_range(&HeaderMap::new(), 100), Ok(None));
    }
}
