//! WADO-URI (PS3.18 9): `GET /aets/{AET}/wado?requestType=WADO&studyUID=…&seriesUID=…&
//! objectUID=…` with every parameter of PS3.18 9.1.2: `contentType` (a list, the first
//! one we can make wins), `transferSyntax`, `frameNumber`, `rows`, `columns`, `region`,
//! `windowCenter`/`windowWidth`, `imageQuality`, `charset`, `anonymize`, `annotation`,
//! `presentationUID`/`presentationSeriesUID`. Without `contentType` a single-frame image
//! is rendered as `image/jpeg`, anything else is sent as `application/dicom`.

use crate::accept::EXPLICIT_LE;
use crate::pixel_params::{blocking, parse_quality};
use crate::{check_aet, wado, ApiError, AppState};
use arc_dicom::pixels::{self, ImageFormat, RenderParams, Viewport, Window, WindowFunction};
use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

/// What the response will be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Content {
    Dicom,
    Image(ImageFormat),
}

/// Picks the first listed content type we can make (PS3.18 9.1.2.1.4); `image/*` and
/// `*/*` take the default for the object.
fn content(list: Option<&str>, default: Content) -> Result<Content, ApiError> {
    let Some(list) = list.filter(|l| !l.trim().is_empty()) else {
        return Ok(default);
    };
    for entry in list.split(',') {
        let essence = entry
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "application/dicom" => return Ok(Content::Dicom),
            "*/*" => return Ok(default),
            "image/*" => {
                return Ok(Content::Image(match default {
                    Content::Image(f) => f,
                    Content::Dicom => ImageFormat::Jpeg,
                }))
            }
            other => {
                if let Some(f) = ImageFormat::from_media_type(other) {
                    return Ok(Content::Image(f));
                }
            }
        }
    }
    Err(ApiError::NotAcceptable(format!("contentType {list:?} cannot be served; offered: application/dicom, image/jpeg, image/png, image/gif")))
}

/// GET /aets/{aet}/wado
pub(crate) async fn wado(
    State(state): State<AppState>,
    Path(aet): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    check_aet(&state, &aet)?;
    let params: Vec<(String, String)> =
        form_urlencoded::parse(q.as_deref().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let required = |name: &str| {
        get(name).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "WADO-URI needs the {name} parameter (PS3.18 9.1.2)"
            ))
        })
    };
    let bad = |why: String| ApiError::BadRequest(format!("{why} (PS3.18 9.1.2)"));
    // Each parameter is given once (lists such as contentType are comma-separated inside
    // one value); a second value would otherwise be silently ignored.
    if let Some((name, _)) = params
        .iter()
        .enumerate()
        .find(|(i, (k, _))| params[..*i].iter().any(|(seen, _)| seen == k))
        .map(|(_, p)| p)
    {
        return Err(bad(format!("the {name} parameter is given more than once")));
    }
    match get("requestType").as_deref() {
        Some("WADO") => {}
        Some(other) => return Err(bad(format!("requestType must be WADO, not {other:?}"))),
        None => return Err(bad("WADO-URI needs requestType=WADO".into())),
    }
    let (study, series, object) = (
        required("studyUID")?,
        required("seriesUID")?,
        required("objectUID")?,
    );
    let retrieve = state.archive.retrieve();
    let (_, rec) = retrieve
        .select(&study, Some(&series), Some(&object))?
        .remove(0);
    let frames = rec
        .attrs
        .get("00280008")
        .and_then(|a| a.first())
        .and_then(|v| v.trim().parse::<u32>().ok());
    let is_image = frames.is_some() || rec.attrs.contains_key("00280010");
    let default = if is_image && frames.unwrap_or(1) == 1 {
        Content::Image(ImageFormat::Jpeg)
    } else {
        Content::Dicom
    };
    let content = content(get("contentType").as_deref(), default)?;

    // parameters that only apply to one kind of answer (PS3.18 9.1.2.2)
    let rendering = [
        "frameNumber",
        "rows",
        "columns",
        "region",
        "windowCenter",
        "windowWidth",
        "imageQuality",
        "presentationUID",
        "presentationSeriesUID",
    ];
    if content == Content::Dicom {
        if let Some(p) = rendering.iter().find(|p| get(p).is_some()) {
            return Err(bad(format!(
                "{p} applies to rendered images, not to contentType=application/dicom"
            )));
        }
    } else if get("transferSyntax").is_some() {
        return Err(bad(
            "transferSyntax applies to contentType=application/dicom only".into(),
        ));
    }
    if get("presentationSeriesUID").is_some() != get("presentationUID").is_some() {
        return Err(bad(
            "presentationUID and presentationSeriesUID go together".into()
        ));
    }
    if get("presentationUID").is_some() {
        return Err(ApiError::NotAcceptable(
            "presentation states are not applied by this archive; ask without presentationUID"
                .into(),
        ));
    }
    if get("anonymize").is_some_and(|a| a == "yes") {
        return Err(ApiError::NotAcceptable(
            "anonymize=yes is not offered by this archive".into(),
        ));
    }
    // charset (9.1.2.1.13) and annotation (9.1.2.1.12) do not change binary answers

    match content {
        Content::Dicom => {
            // PS3.18 9.1.2.1.5: `*` as stored; default Explicit VR Little Endian
            let asked = get("transferSyntax").unwrap_or_else(|| EXPLICIT_LE.to_string());
            let ts = if asked == "*" || asked == rec.transfer_syntax {
                rec.transfer_syntax.clone()
            } else if arc_dicom::pixels::NATIVE_TARGETS.contains(&asked.as_str())
                && arc_dicom::can_decode(&rec.transfer_syntax)
            {
                asked
            } else {
                return Err(crate::accept::syntax_not_offered(
                    "the object is",
                    &[&rec.transfer_syntax],
                    &asked,
                    "transferSyntax",
                    arc_dicom::pixels::NATIVE_TARGETS,
                ));
            };
            let bytes = wado::instance_in(&retrieve, &rec, &ts).await?;
            Ok((
                [(
                    header::CONTENT_TYPE,
                    format!("application/dicom; transfer-syntax={ts}"),
                )],
                bytes,
            )
                .into_response())
        }
        Content::Image(format) => {
            if !is_image {
                return Err(ApiError::NotAcceptable(format!(
                    "object {object} is not an image; offered: contentType=application/dicom"
                )));
            }
            let render = render_params(format, &get, &bad)?;
            let frame = match get("frameNumber") {
                Some(f) => Some(f.parse::<u32>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                    bad(format!("frameNumber {f:?} must be a whole number from 1"))
                })?),
                None => None,
            };
            let bytes = retrieve.bytes(&rec).await?;
            let image = blocking(move || match frame {
                Some(n) => pixels::render(&bytes, n, &render),
                None if render.format == ImageFormat::Gif => {
                    pixels::render_animation(&bytes, &render)
                }
                None => pixels::render(&bytes, 1, &render),
            })
            .await?;
            Ok(([(header::CONTENT_TYPE, format.media_type())], image).into_response())
        }
    }
}

/// rows, columns, region, windowCenter/windowWidth and imageQuality (PS3.18 9.1.2.1.6-11).
fn render_params(
    format: ImageFormat,
    get: &dyn Fn(&str) -> Option<String>,
    bad: &dyn Fn(String) -> ApiError,
) -> Result<RenderParams, ApiError> {
    let mut params = RenderParams::new(format);
    let size = |name: &str| -> Result<Option<u32>, ApiError> {
        match get(name) {
            None => Ok(None),
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=65535).contains(n))
                .map(Some)
                .ok_or_else(|| {
                    bad(format!(
                        "{name} {v:?} must be a whole number from 1 to 65535"
                    ))
                }),
        }
    };
    let (rows, columns) = (size("rows")?, size("columns")?);
    if rows.is_some() || columns.is_some() {
        // both are maximums; the aspect ratio is kept (PS3.18 9.1.2.1.6-7)
        params.viewport = Some(Viewport {
            width: columns,
            height: rows,
            source: None,
        });
    }
    if let Some(r) = get("region") {
        let n: Vec<f64> = r.split(',').filter_map(|v| v.trim().parse().ok()).collect();
        let ok =
            n.len() == 4 && n.iter().all(|v| (0.0..=1.0).contains(v)) && n[0] < n[2] && n[1] < n[3];
        if !ok {
            return Err(bad(format!(
                "region {r:?} must be x1,y1,x2,y2 with 0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1"
            )));
        }
        params.region = Some([n[0], n[1], n[2], n[3]]);
    }
    match (get("windowCenter"), get("windowWidth")) {
        (None, None) => {}
        (Some(c), Some(w)) => {
            let center = c
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| bad(format!("windowCenter {c:?} is not a number")))?;
            let width = w
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v > 0.0)
                .ok_or_else(|| bad(format!("windowWidth {w:?} must be a positive number")))?;
            params.window = Some(Window {
                center,
                width,
                function: WindowFunction::Linear,
            });
        }
        _ => return Err(bad("windowCenter and windowWidth go together".into())),
    }
    if let Some(q) = get("imageQuality") {
        params.quality = Some(parse_quality(&q).map_err(|_| {
            bad(format!(
                "imageQuality {q:?} must be a whole number from 1 to 100"
            ))
        })?);
    }
    Ok(params)
}
