//! What the pixel resources share (PS3.18 8.3.5.1, 8.7.3.5, 8.7.4): rendering query
//! parameters (`window`, `viewport`, `quality`), image media type negotiation, frame
//! lists, and how pixel failures become HTTP answers.

use crate::accept;
use crate::ApiError;
use arc_dicom::pixels::{ImageFormat, RenderParams, Viewport, Window, WindowFunction};
use arc_dicom::DicomError;
use axum::http::HeaderMap;

/// The query's name/value pairs.
pub(crate) fn query_pairs(query: &Option<String>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

fn get<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim())
}

fn numbers(value: &str, name: &str) -> Result<Vec<f64>, ApiError> {
    value
        .split(',')
        .map(|v| v.trim().parse::<f64>().ok().filter(|x| x.is_finite()))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "{name}={value:?}: expected comma-separated numbers"
            ))
        })
}

/// `window=center,width[,function]` (PS3.18 8.3.5.1.4).
pub(crate) fn parse_window(value: &str) -> Result<Window, ApiError> {
    let parts: Vec<&str> = value.split(',').map(str::trim).collect();
    let bad = || {
        ApiError::BadRequest(format!("window={value:?}: expected center,width[,linear|linear-exact|sigmoid] (PS3.18 8.3.5.1.4)"))
    };
    if !(2..=3).contains(&parts.len()) {
        return Err(bad());
    }
    let center: f64 = parts[0]
        .parse()
        .ok()
        .filter(|x: &f64| x.is_finite())
        .ok_or_else(bad)?;
    let width: f64 = parts[1]
        .parse()
        .ok()
        .filter(|x: &f64| x.is_finite() && *x > 0.0)
        .ok_or_else(bad)?;
    let function = match parts.get(2) {
        Some(f) => WindowFunction::parse(f).ok_or_else(bad)?,
        None => WindowFunction::Linear,
    };
    Ok(Window {
        center,
        width,
        function,
    })
}

/// `viewport=vw,vh[,sx,sy,sw,sh]` (PS3.18 8.3.5.1.3).
pub(crate) fn parse_viewport(value: &str) -> Result<Viewport, ApiError> {
    let n = numbers(value, "viewport")?;
    let bad = || {
        ApiError::BadRequest(format!("viewport={value:?}: expected vw,vh[,sx,sy,sw,sh] with vw, vh from 1 to 65535 (PS3.18 8.3.5.1.3)"))
    };
    if n.len() != 2 && n.len() != 6 {
        return Err(bad());
    }
    let size = |v: f64| ((1.0..=65535.0).contains(&v) && v.fract() == 0.0).then_some(v as u32);
    let source = if n.len() == 6 {
        if n[4] == 0.0 || n[5] == 0.0 || n[2] < 0.0 || n[3] < 0.0 {
            return Err(bad());
        }
        Some((n[2] as i64, n[3] as i64, n[4] as i64, n[5] as i64))
    } else {
        None
    };
    Ok(Viewport {
        width: Some(size(n[0]).ok_or_else(bad)?),
        height: Some(size(n[1]).ok_or_else(bad)?),
        source,
    })
}

/// `quality=1..100` (PS3.18 8.3.5.1.5).
pub(crate) fn parse_quality(value: &str) -> Result<u8, ApiError> {
    value
        .parse::<u8>()
        .ok()
        .filter(|q| (1..=100).contains(q))
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "quality={value:?}: expected a whole number from 1 to 100 (PS3.18 8.3.5.1.5)"
            ))
        })
}

/// The rendering parameters of a WADO-RS query; `default_box` is the thumbnail size.
pub(crate) fn render_params(
    pairs: &[(String, String)],
    format: ImageFormat,
    default_box: Option<u32>,
) -> Result<RenderParams, ApiError> {
    let mut params = RenderParams::new(format);
    if let Some(w) = get(pairs, "window") {
        params.window = Some(parse_window(w)?);
    }
    if let Some(v) = get(pairs, "viewport") {
        params.viewport = Some(parse_viewport(v)?);
    } else if let Some(b) = default_box {
        params.viewport = Some(Viewport {
            width: Some(b),
            height: Some(b),
            source: None,
        });
    }
    if let Some(q) = get(pairs, "quality") {
        params.quality = Some(parse_quality(q)?);
    }
    Ok(params)
}

/// The rendered media type the client takes (PS3.18 8.7.4): the first of its ranges we
/// can make, `default` when it states none or accepts anything.
pub(crate) fn image_format(
    headers: &HeaderMap,
    accept_param: Option<&str>,
    default: ImageFormat,
) -> Result<ImageFormat, ApiError> {
    let ranges = accept::ranges(headers, accept_param);
    if ranges.unspecified() {
        return Ok(default);
    }
    // best first, q=0 left out (accept::ranges)
    for range in &ranges {
        let mt = &range.mt;
        let essence = match mt.essence().as_str() {
            "multipart/related" => mt.param("type").unwrap_or("*/*").to_ascii_lowercase(),
            other => other.to_string(),
        };
        if let Some(f) = ImageFormat::from_media_type(&essence) {
            return Ok(f);
        }
        if essence == "*/*" || essence == "image/*" {
            return Ok(default);
        }
    }
    Err(accept::not_acceptable(
        &ranges,
        "image/jpeg, image/png, image/gif",
    ))
}

/// A frame list `1,3,5` (PS3.18 8.3.5.1.1 uses 1-based frame numbers).
pub(crate) fn frame_list(value: &str) -> Result<Vec<u32>, ApiError> {
    let list: Option<Vec<u32>> = value
        .split(',')
        .map(|f| f.trim().parse::<u32>().ok().filter(|n| *n >= 1))
        .collect();
    let list = match list {
        Some(l) if !l.is_empty() && l.len() <= 10_000 => l,
        _ => return Err(ApiError::BadRequest(format!("frame list {value:?}: expected comma-separated frame numbers from 1 (PS3.18 8.3.5.1.1)"))),
    };
    // A frame listed twice would be sent twice: without this a short URL repeating one
    // large frame could ask for gigabytes. Distinct numbers keep an answer within the object.
    let mut seen = std::collections::HashSet::with_capacity(list.len());
    if let Some(n) = list.iter().find(|n| !seen.insert(**n)) {
        return Err(ApiError::BadRequest(format!(
            "frame list: frame {n} is listed more than once; list each frame once (PS3.18 8.3.5.1.1)"
        )));
    }
    Ok(list)
}

/// A failure of the pixel code as an HTTP answer: no image or no such frame is 404,
/// a rendering scaled up too far is 400, what cannot be decoded or rendered is 406
/// (naming the alternative), and so is an image module that does not hold together (the
/// object was accepted, so that is not the server's fault); an unreadable stored blob is 500.
pub(crate) fn pixel_error(e: DicomError) -> ApiError {
    match e {
        DicomError::NotAnImage(why) => ApiError::NotFound(format!("not an image: {why}")),
        e @ DicomError::NoSuchFrame { .. } => ApiError::NotFound(e.to_string()),
        DicomError::TooLarge(why) => ApiError::BadRequest(format!(
            "{why}; ask for a smaller viewport (rows and columns in WADO-URI)"
        )),
        // The object was accepted and is served as stored; only its image cannot be made.
        e @ DicomError::BadImage(_) => ApiError::NotAcceptable(format!(
            "{e}; the object is offered as stored: application/dicom, transfer-syntax=*"
        )),
        e @ (DicomError::Decode(_) | DicomError::Unsupported(_)) => ApiError::NotAcceptable(
            format!("{e}; the stored bitstream is offered with transfer-syntax=*"),
        ),
        other => ApiError::Internal(other.to_string()),
    }
}

/// Runs CPU-bound pixel work off the async workers.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, DicomError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(pixel_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rendering_parameters() {
        let w = parse_window("40,400").unwrap();
        assert_eq!(
            (w.center, w.width, w.function),
            (40.0, 400.0, WindowFunction::Linear)
        );
        assert_eq!(
            parse_window("-600,1500,sigmoid").unwrap().function,
            WindowFunction::Sigmoid
        );
        for bad in ["40", "40,0", "a,b", "1,2,cubic", "1,2,3,4"] {
            assert!(parse_window(bad).is_err(), "{bad}");
        }
        let v = parse_viewport("128,128").unwrap();
        assert_eq!((v.width, v.height, v.source), (Some(128), Some(128), None));
        assert_eq!(
            parse_viewport("64,64,10,10,-20,30").unwrap().source,
            Some((10, 10, -20, 30))
        );
        for bad in ["0,10", "10", "10,10,1,1,0,5", "1.5,2", "x,y"] {
            assert!(parse_viewport(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_quality("75").unwrap(), 75);
        assert!(parse_quality("0").is_err() && parse_quality("101").is_err());
        assert_eq!(frame_list("1, 3,5").unwrap(), vec![1, 3, 5]);
        assert_eq!(frame_list("3,1").unwrap(), vec![3, 1]);
        let twice = frame_list("1,2,1").unwrap_err();
        assert!(
            twice
                .to_string()
                .contains("frame 1 is listed more than once"),
            "{twice}"
        );
        for bad in ["", "0", "1,,2", "a", "-1"] {
            assert!(frame_list(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn negotiates_image_types() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert("accept", v.parse().unwrap());
            m
        };
        assert_eq!(
            image_format(&HeaderMap::new(), None, ImageFormat::Jpeg).unwrap(),
            ImageFormat::Jpeg
        );
        assert_eq!(
            image_format(&h("image/png"), None, ImageFormat::Jpeg).unwrap(),
            ImageFormat::Png
        );
        assert_eq!(
            image_format(&h("image/webp, image/gif;q=0.5"), None, ImageFormat::Jpeg).unwrap(),
            ImageFormat::Gif
        );
        assert_eq!(
            image_format(&h("*/*"), None, ImageFormat::Gif).unwrap(),
            ImageFormat::Gif
        );
        assert_eq!(
            image_format(&HeaderMap::new(), Some("image/png"), ImageFormat::Jpeg).unwrap(),
            ImageFormat::Png
        );
        assert!(image_format(&h("application/dicom"), None, ImageFormat::Jpeg).is_err());
    }
}
