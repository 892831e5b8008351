//! WADO-RS rendered and thumbnail resources (PS3.18 10.4.1.1.3, 10.4.1.1.4, 8.3.5.1):
//! JPEG (default), PNG or GIF, with `window`, `viewport` and `quality`. An instance
//! renders its first frame, or all frames as an animated GIF when GIF is asked for
//! (the default for multi-frame objects, as dcm4chee does); series and study answer
//! `multipart/related` of their image instances. A thumbnail is one image at most 128
//! pixels a side (`viewport` overrides): the instance's first frame, the middle image
//! of a series, the middle image of a study's first series that has images.

use crate::pixel_params::{blocking, frame_list, image_format, query_pairs, render_params};
use crate::{check_aet, conditional, wado_frames, ApiError, AppState};
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
