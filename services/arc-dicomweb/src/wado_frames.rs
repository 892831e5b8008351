//! WADO-RS frames (PS3.18 10.4.1.1.5, 8.7.3.5.1): `…/instances/{i}/frames/{list}` as
//! `multipart/related` of native frames (`application/octet-stream`, decompressed when
//! stored compressed), of the stored bitstreams (`image/jpeg`, `image/jls`, `image/jp2`,
//! `image/dicom-rle`… when accepted, or with `transfer-syntax=*`), or of JPEG baseline
//! made for browsers on request (a single `image/jpeg` body when one frame is asked for
//! without multipart).

use crate::accept;
use crate::pixel_params::{blocking, frame_list, query_pairs};
use crate::{check_aet, conditional, ApiError, AppState};
use arc_dicom::pixels::{self, FrameData, ImageFormat, RenderParams};
use arc_dicom::ts;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};

/// The frame media type of compressed transfer syntaxes (PS3.18 Table 8.7.3-2).
pub(crate) fn frame_media_type(ts_uid: &str) -> Option<&'static str> {
    Some(match ts_uid {
        ts::JPEG_BASELINE | ts::JPEG_EXTENDED | ts::JPEG_LOSSLESS | ts::JPEG_LOSSLESS_SV1 => {
            "image/jpeg"
        }
        ts::JPEG_LS_LOSSLESS | ts::JPEG_LS_NEAR_LOSSLESS => "image/jls",
        ts::JPEG_2000_LOSSLESS | ts::JPEG_2000 => "image/jp2",
        "1.2.840.10008.1.2.4.92" | "1.2.840.10008.1.2.4.93" => "image/jpx",
        ts::HTJ2K_LOSSLESS | "1.2.840.10008.1.2.4.202" | ts::HTJ2K => "image/jphc",
        ts::RLE_LOSSLESS => "image/dicom-rle",
        _ => return None,
    })
}

/// How the frames are sent.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Plan {
    /// Native, decompressed if needed.
    Native,
    /// The stored bitstreams.
    Stored,
    /// JPEG baseline made here; `bare` for a single-part answer.
    Jpeg { bare: bool },
}

/// Chooses how to send frames of an object stored in `stored` from the client's ranges.
fn plan(ranges: &accept::Ranges, stored: &str) -> Result<Plan, ApiError> {
    let stored_type = frame_media_type(stored);
    if ranges.unspecified() {
        return Ok(Plan::Native);
    }
    // ranges come best first, q=0 left out (accept::ranges)
    for range in ranges {
        let mt = &range.mt;
        let (ty, bare) = match mt.essence().as_str() {
            "multipart/related" => (
                mt.param("type")
                    .unwrap_or("application/octet-stream")
                    .to_ascii_lowercase(),
                false,
            ),
            other => (other.to_string(), true),
        };
        let tsp = mt.param("transfer-syntax");
        match (ty.as_str(), tsp) {
            (_, Some("*")) if stored_type.is_some() => return Ok(Plan::Stored),
            ("application/octet-stream" | "*/*", Some("*") | None) => return Ok(Plan::Native),
            ("application/octet-stream" | "*/*", Some(t)) if t == ts::EXPLICIT_VR_LE => {
                return Ok(Plan::Native)
            }
            ("image/jpeg", Some(t)) if t == stored => return Ok(Plan::Stored),
            ("image/jpeg", None) if stored == ts::JPEG_BASELINE => return Ok(Plan::Stored),
            ("image/jpeg", None) => return Ok(Plan::Jpeg { bare }),
            ("image/jpeg", Some(t)) if t == ts::JPEG_BASELINE => return Ok(Plan::Jpeg { bare }),
            (t, tsp) if Some(t) == stored_type && tsp.is_none_or(|p| p == stored) => {
                return Ok(Plan::Stored)
            }
            _ => continue,
        }
    }
    let mut offered = vec![
        "multipart/related; type=\"application/octet-stream\"".to_string(),
        "multipart/related; type=\"image/jpeg\" (JPEG baseline)".into(),
    ];
    if let Some(t) = stored_type {
        offered.push(format!(
            "multipart/related; type=\"{t}\"; transfer-syntax={stored} (as stored)"
        ));
    }
    Err(accept::not_acceptable(ranges, &offered.join(", ")))
}

/// GET …/instances/{instance}/frames/{frames}
pub(crate) async fn frames(
    State(state): State<AppState>,
    Path((aet, study, series, instance, list)): Path<(String, String, String, String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_aet(&state, &aet)?;
    let variant = format!("frames/{list}?{}", q.as_deref().unwrap_or(""));
    let answer = frames_answer(
        state.clone(),
        (study.clone(), series.clone(), instance.clone(), list),
        q,
        headers.clone(),
    );
    let resource = (
        study.as_str(),
        Some(series.as_str()),
        Some(instance.as_str()),
    );
    conditional::derived(&state, resource, &variant, &headers, answer).await
}

async fn frames_answer(
    state: AppState,
    (study, series, instance, list): (String, String, String, String),
    q: Option<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let numbers = frame_list(&list)?;
    let pairs = query_pairs(&q);
    let accept_param = pairs
        .iter()
        .find(|(k, _)| k == "accept")
        .map(|(_, v)| v.clone());
    let retrieve = state.archive.retrieve();
    let (_, rec) = retrieve
        .select(&study, Some(&series), Some(&instance))?
        .remove(0);
    let plan = plan(
        &accept::ranges(&headers, accept_param.as_deref()),
        &rec.transfer_syntax,
    )?;
    let bytes = retrieve.bytes(&rec).await?;
    match plan {
        Plan::Jpeg { bare } => {
            let params = crate::pixel_params::render_params(&pairs, ImageFormat::Jpeg, None)?;
            let list = numbers.clone();
            let images = blocking(move || {
                list.iter()
                    .map(|&n| pixels::render(&bytes, n, &params))
                    .collect::<Result<Vec<_>, _>>()
            })
            .await?;
            if bare && images.len() == 1 {
                let image = images.into_iter().next().unwrap_or_default();
                return Ok(([(header::CONTENT_TYPE, "image/jpeg")], image).into_response());
            }
            let mut w = arc_dicom::MultipartWriter::new("image/jpeg");
            for image in images {
                w.part(
                    &format!("image/jpeg; transfer-syntax={}", ts::JPEG_BASELINE),
                    &[],
                    image,
                );
            }
            Ok(([(header::CONTENT_TYPE, w.content_type())], w.finish()).into_response())
        }
        Plan::Native | Plan::Stored => {
            let decompress = plan == Plan::Native;
            let list = numbers.clone();
            let data: FrameData =
                blocking(move || pixels::frames(&bytes, &list, decompress)).await?;
            let (root, part_type) = if data.compressed {
                let t = frame_media_type(&data.info.transfer_syntax)
                    .unwrap_or("application/octet-stream");
                (
                    t.to_string(),
                    format!("{t}; transfer-syntax={}", data.info.transfer_syntax),
                )
            } else {
                (
                    "application/octet-stream".to_string(),
                    format!(
                        "application/octet-stream; transfer-syntax={}",
                        ts::EXPLICIT_VR_LE
                    ),
                )
            };
            let mut w = arc_dicom::MultipartWriter::new(&root);
            for (n, frame) in numbers.iter().zip(data.frames) {
                let location = format!("frames/{n}");
                w.part(
                    &part_type,
                    &[("Content-Location", location.as_str())],
                    frame,
                );
            }
            Ok(([(header::CONTENT_TYPE, w.content_type())], w.finish()).into_response())
        }
    }
}

/// Renders the listed frames: one image, or `multipart/related` of one per frame.
pub(crate) async fn render_frames(
    bytes: axum::body::Bytes,
    numbers: Vec<u32>,
    params: RenderParams,
) -> Result<Response, ApiError> {
    let media = params.format.media_type();
    let images = blocking(move || {
        numbers
            .iter()
            .map(|&n| pixels::render(&bytes, n, &params))
            .collect::<Result<Vec<_>, _>>()
    })
    .await?;
    if images.len() == 1 {
        let image = images.into_iter().next().unwrap_or_default();
        return Ok(([(header::CONTENT_TYPE, media)], image).into_response());
    }
    let mut w = arc_dicom::MultipartWriter::new(media);
    for image in images {
        w.part(media, &[], image);
    }
    Ok(([(header::CONTENT_TYPE, w.content_type())], w.finish()).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(v: &[&str]) -> accept::Ranges {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, v.join(", ").parse().unwrap());
        accept::ranges(&h, None)
    }

    #[test]
    fn plans_follow_the_accept_ranges() {
        assert_eq!(
            plan(&accept::Ranges::default(), ts::JPEG_2000).unwrap(),
            Plan::Native
        );
        // q=0 on every range is "not acceptable" (RFC 9110 12.5.1), not "anything"
        assert!(plan(&r(&["image/jpeg;q=0"]), ts::JPEG_2000).is_err());
        assert_eq!(
            plan(
                &r(&["multipart/related; type=\"application/octet-stream\""]),
                ts::RLE_LOSSLESS
            )
            .unwrap(),
            Plan::Native
        );
        assert_eq!(
            plan(
                &r(&["multipart/related; type=\"application/octet-stream\"; transfer-syntax=*"]),
                ts::RLE_LOSSLESS
            )
            .unwrap(),
            Plan::Stored
        );
        assert_eq!(
            plan(
                &r(&["multipart/related; type=\"image/jls\""]),
                ts::JPEG_LS_LOSSLESS
            )
            .unwrap(),
            Plan::Stored
        );
        assert_eq!(
            plan(
                &r(&["multipart/related; type=\"image/jpeg\""]),
                ts::JPEG_BASELINE
            )
            .unwrap(),
            Plan::Stored
        );
        assert_eq!(
            plan(
                &r(&["multipart/related; type=\"image/jpeg\""]),
                ts::JPEG_2000
            )
            .unwrap(),
            Plan::Jpeg { bare: false }
        );
        assert_eq!(
            plan(&r(&["image/jpeg"]), ts::EXPLICIT_VR_LE).unwrap(),
            Plan::Jpeg { bare: true }
        );
        assert_eq!(plan(&r(&["multipart/related; type=\"image/jpeg\"; transfer-syntax=1.2.840.10008.1.2.4.70"]), ts::JPEG_LOSSLESS_SV1).unwrap(), Plan::Stored);
        let err = plan(
            &r(&["multipart/related; type=\"image/jp2\""]),
            ts::RLE_LOSSLESS,
        )
        .unwrap_err();
        assert!(err.to_string().contains("image/dicom-rle"), "{err}");
    }
}
