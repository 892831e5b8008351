//! Rendering a frame for WADO-RS `rendered`/`thumbnail` and WADO-URI (PS3.18 8.3.5.1,
//! 9.1.2.1): Modality LUT, VOI window (from the request, else the object, else min/max),
//! MONOCHROME1 inversion, palette colour, YBR to RGB, then region, size and encoding.
//! Overlays and presentation states are not burnt in.

use super::attrs::{bytes_attr, floats_attr, str_attr};
use super::encode::{self, ImageFormat};
use super::samples::{decode_frame_native, read_samples};
use super::scale::{fit, Image};
use super::voi::to_u8;
pub use super::voi::{Window, WindowFunction};
use super::ImageInfo;
use crate::error::DicomError;
use crate::read::open;
use dicom_core::value::Value;
use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_object::{DefaultDicomObject, InMemDicomObject};

/// `viewport=vw,vh[,sx,sy,sw,sh]` (PS3.18 8.3.5.1.3): the output box, and optionally
/// the source rectangle in pixels (a negative width or height mirrors the image).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewport {
    /// Largest output width; the aspect ratio is kept.
    pub width: Option<u32>,
    /// Largest output height.
    pub height: Option<u32>,
    /// Source rectangle `sx, sy, sw, sh`.
    pub source: Option<(i64, i64, i64, i64)>,
}

/// How to render.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderParams {
    /// Encoding of the result.
    pub format: ImageFormat,
    /// VOI window; when absent the object's first window, else the frame's min/max.
    pub window: Option<Window>,
    /// Output box and source rectangle (WADO-RS `viewport`, WADO-URI `rows`/`columns`).
    pub viewport: Option<Viewport>,
    /// WADO-URI `region`: `x1, y1, x2, y2` as fractions of the image (PS3.18 9.1.2.1.8).
    pub region: Option<[f64; 4]>,
    /// JPEG quality 1-100 (PS3.18 8.3.5.1.5); 90 when absent.
    pub quality: Option<u8>,
}

impl RenderParams {
    /// Plain rendering in `format`.
    pub fn new(format: ImageFormat) -> Self {
        RenderParams {
            format,
            window: None,
            viewport: None,
            region: None,
            quality: None,
        }
    }
}

/// Renders frame `frame` (1-based) of a Part 10 image in `params.format`.
pub fn render(bytes: &[u8], frame: u32, params: &RenderParams) -> Result<Vec<u8>, DicomError> {
    let (file, info) = open_image(bytes)?;
    if frame == 0 || frame > info.frames {
        return Err(DicomError::NoSuchFrame {
            frame,
            frames: info.frames,
        });
    }
    let img = render_frame(&file, &info, frame - 1, params, 1)?;
    encode_one(&img, params)
}

/// Renders every frame of a Part 10 image as one animated GIF, at the object's Frame
/// Time (0018,1063) or 10 frames a second; other formats get the first frame.
pub fn render_animation(bytes: &[u8], params: &RenderParams) -> Result<Vec<u8>, DicomError> {
    let (file, info) = open_image(bytes)?;
    if params.format != ImageFormat::Gif || info.frames == 1 {
        let img = render_frame(&file, &info, 0, params, 1)?;
        return encode_one(&img, params);
    }
    let frames = (0..info.frames)
        .map(|i| render_frame(&file, &info, i, params, info.frames as usize))
        .collect::<Result<Vec<_>, _>>()?;
    let ms = floats_attr(&file, Tag(0x0018, 0x1063))
        .first()
        .copied()
        .unwrap_or(100.0);
    let delay = (ms / 10.0).round().clamp(2.0, 6000.0) as u16;
    encode::gif(&frames, delay)
}

fn open_image(bytes: &[u8]) -> Result<(DefaultDicomObject, ImageInfo), DicomError> {
    let (meta, file) = open(bytes)?;
    let info = ImageInfo::from_obj(&file, &meta.transfer_syntax)?
        .ok_or_else(|| DicomError::NotAnImage("the object has no Pixel Data".into()))?;
    Ok((file, info))
}

fn encode_one(img: &Image, params: &RenderParams) -> Result<Vec<u8>, DicomError> {
    match params.format {
        ImageFormat::Jpeg => encode::jpeg(img, params.quality.unwrap_or(90)),
        ImageFormat::Png => encode::png(img),
        ImageFormat::Gif => encode::gif(std::slice::from_ref(img), 0),
    }
}

/// The most pixels the frames of one answer may be scaled up to (a 4096 x 4096 image, more
/// than any screen shows): a `viewport` of 65535 x 65535 must not make the node allocate
/// gigabytes. Rendering at the stored size or smaller is never limited.
pub const MAX_UPSCALED_PIXELS: usize = 1 << 24;

/// One frame (0-based) rendered to 8 bits, cropped and scaled; `answer_frames` is how many
/// frames the answer holds (an animation), which share [`MAX_UPSCALED_PIXELS`].
pub(crate) fn render_frame(
    file: &DefaultDicomObject,
    info: &ImageInfo,
    index: u32,
    params: &RenderParams,
    answer_frames: usize,
) -> Result<Image, DicomError> {
    let native = decode_frame_native(file, info, index)?;
    let samples = read_samples(info, &native)?;
    let (w, h) = (info.columns as usize, info.rows as usize);
    let obj: &InMemDicomObject = file;
    let (channels, data) = match (info.samples_per_pixel, native.photometric.as_str()) {
        (1, "MONOCHROME1" | "MONOCHROME2") => (
            1,
            grayscale(
                obj,
                index,
                &samples,
                params,
                native.photometric == "MONOCHROME1",
            ),
        ),
        (1, "PALETTE COLOR") => (3, palette(obj, &samples)?),
        (3, pi) => (3, color(info, pi, &samples)?),
        (spp, pi) => {
            return Err(DicomError::Unsupported(format!(
                "rendering Photometric Interpretation {pi} with {spp} samples per pixel"
            )))
        }
    };
    let mut img = Image {
        width: w,
        height: h,
        channels,
        data,
    };
    let (mut flip_h, mut flip_v) = (false, false);
    if let Some([x1, y1, x2, y2]) = params.region {
        let px = |f: f64, n: usize| ((f.clamp(0.0, 1.0) * n as f64).round() as usize).min(n);
        let (x0, y0) = (px(x1, w), px(y1, h));
        img = img.crop(
            x0,
            y0,
            px(x2, w).saturating_sub(x0),
            px(y2, h).saturating_sub(y0),
        );
    }
    if let Some(Viewport {
        source: Some((sx, sy, sw, sh)),
        ..
    }) = params.viewport
    {
        let (x0, x1) = if sw < 0 { (sx + sw, sx) } else { (sx, sx + sw) };
        let (y0, y1) = if sh < 0 { (sy + sh, sy) } else { (sy, sy + sh) };
        let c = |v: i64, n: usize| v.clamp(0, n as i64) as usize;
        let (cx0, cy0) = (c(x0, img.width), c(y0, img.height));
        img = img.crop(
            cx0,
            cy0,
            c(x1, img.width).saturating_sub(cx0),
            c(y1, img.height).saturating_sub(cy0),
        );
        (flip_h, flip_v) = (sw < 0, sh < 0);
    }
    if let Some(vp) = params.viewport {
        let (ow, oh) = fit(
            img.width,
            img.height,
            vp.width.map(|v| v as usize),
            vp.height.map(|v| v as usize),
        );
        let upscaled = ow * oh > img.width * img.height;
        if upscaled && (ow * oh).saturating_mul(answer_frames) > MAX_UPSCALED_PIXELS {
            return Err(DicomError::TooLarge(format!(
                "the image scaled up to {ow} x {oh} pixels ({answer_frames} frame(s)); scaling up stops at {MAX_UPSCALED_PIXELS} pixels an answer"
            )));
        }
        img = img.resize(ow, oh);
    }
    Ok(img.flip(flip_h, flip_v))
}

/// The item of a functional group macro for frame `index` (PS3.3 C.7.6.16): the
/// Per-Frame Functional Groups item's, else the Shared one's.
fn functional<'a>(
    obj: &'a InMemDicomObject,
    index: u32,
    macro_tag: Tag,
) -> Option<&'a InMemDicomObject> {
    let item = |group: Tag, i: usize| -> Option<&'a InMemDicomObject> {
        let Value::Sequence(seq) = obj.get(group)?.value() else {
            return None;
        };
        let Value::Sequence(inner) = seq.items().get(i)?.get(macro_tag)?.value() else {
            return None;
        };
        inner.items().first()
    };
    item(Tag(0x5200, 0x9230), index as usize).or_else(|| item(Tag(0x5200, 0x9229), 0))
}

/// Modality LUT, VOI and MONOCHROME1 inversion (PS3.3 C.11, C.7.6.3.1.2).
fn grayscale(
    obj: &InMemDicomObject,
    index: u32,
    samples: &[i64],
    params: &RenderParams,
    invert: bool,
) -> Vec<u8> {
    let transform = functional(obj, index, Tag(0x0028, 0x9145)).unwrap_or(obj);
    let slope = floats_attr(transform, tags::RESCALE_SLOPE)
        .first()
        .copied()
        .filter(|s| *s != 0.0)
        .unwrap_or(1.0);
    let intercept = floats_attr(transform, tags::RESCALE_INTERCEPT)
        .first()
        .copied()
        .unwrap_or(0.0);
    let values: Vec<f64> = samples
        .iter()
        .map(|&v| v as f64 * slope + intercept)
        .collect();
    let window = params
        .window
        .or_else(|| object_window(obj, index))
        .unwrap_or_else(|| {
            let (min, max) = values
                .iter()
                .fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
            if values.is_empty() {
                Window::min_max(0.0, 0.0)
            } else {
                Window::min_max(min, max)
            }
        });
    values
        .iter()
        .map(|&v| {
            let y = to_u8(window.apply(v));
            if invert {
                255 - y
            } else {
                y
            }
        })
        .collect()
}

/// The object's first VOI window (Window Center/Width, PS3.3 C.11.2), from the Frame VOI
/// LUT functional group for enhanced objects.
fn object_window(obj: &InMemDicomObject, index: u32) -> Option<Window> {
    let voi = functional(obj, index, Tag(0x0028, 0x9132)).unwrap_or(obj);
    let center = floats_attr(voi, tags::WINDOW_CENTER).first().copied()?;
    let width = floats_attr(voi, tags::WINDOW_WIDTH).first().copied()?;
    let function = str_attr(voi, tags::VOILUT_FUNCTION)
        .and_then(|f| WindowFunction::parse(f.split('\\').next().unwrap_or("")))
        .unwrap_or_default();
    (width > 0.0).then_some(Window {
        center,
        width,
        function,
    })
}

/// Palette colour lookup (PS3.3 C.7.6.3.1.5-6) to 8-bit RGB.
fn palette(obj: &InMemDicomObject, samples: &[i64]) -> Result<Vec<u8>, DicomError> {
    let channel = |descriptor: Tag, data: Tag, name: &str| -> Result<Vec<u8>, DicomError> {
        let missing =
            || DicomError::NotAnImage(format!("PALETTE COLOR without a usable {name} palette"));
        let desc: Vec<i64> = match obj.get(descriptor).map(|e| e.value()) {
            Some(Value::Primitive(p)) => crate::values::le_bytes(p)
                .map(|b| {
                    b.chunks_exact(2)
                        .map(|c| i64::from(u16::from_le_bytes([c[0], c[1]])))
                        .collect()
                })
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let [entries, first, bits] = desc
            .get(..3)
            .and_then(|d| <[i64; 3]>::try_from(d).ok())
            .ok_or_else(missing)?;
        let entries = if entries == 0 {
            65536
        } else {
            entries as usize
        };
        let first = if obj
            .get(descriptor)
            .is_some_and(|e| e.vr() == dicom_core::VR::SS)
        {
            i64::from(first as u16 as i16)
        } else {
            first
        };
        let raw = bytes_attr(obj, data).ok_or_else(missing)?;
        let table: Vec<u16> = if raw.len() == entries {
            raw.iter().map(|&b| u16::from(b)).collect()
        } else if raw.len() >= entries * 2 {
            raw.chunks_exact(2)
                .take(entries)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect()
        } else {
            return Err(missing());
        };
        let wide = bits > 8 || table.iter().any(|&v| v > 255);
        Ok(samples
            .iter()
            .map(|&v| {
                let i = (v - first).clamp(0, table.len() as i64 - 1) as usize;
                if wide {
                    (table[i] >> 8) as u8
                } else {
                    table[i] as u8
                }
            })
            .collect())
    };
    let r = channel(
        tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
        tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DATA,
        "red",
    )?;
    let g = channel(
        tags::GREEN_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
        tags::GREEN_PALETTE_COLOR_LOOKUP_TABLE_DATA,
        "green",
    )?;
    let b = channel(
        tags::BLUE_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
        tags::BLUE_PALETTE_COLOR_LOOKUP_TABLE_DATA,
        "blue",
    )?;
    Ok((0..samples.len())
        .flat_map(|i| [r[i], g[i], b[i]])
        .collect())
}

/// Three-sample images to 8-bit RGB: samples above 8 bits shifted down, YBR converted
/// with the PS3.3 C.7.6.3.1.2 equations.
fn color(info: &ImageInfo, pi: &str, samples: &[i64]) -> Result<Vec<u8>, DicomError> {
    let shift = u32::from(info.bits_stored.saturating_sub(8));
    let to8 = |v: i64| -> f64 { ((v.max(0) >> shift) as f64).min(255.0) };
    let clamp = |v: f64| v.round().clamp(0.0, 255.0) as u8;
    let convert: fn(f64, f64, f64) -> [f64; 3] = match pi {
        "RGB" => |r, g, b| [r, g, b],
        "YBR_FULL" | "YBR_FULL_422" => |y, cb, cr| {
            [
                y + 1.402 * (cr - 128.0),
                y - 0.344136 * (cb - 128.0) - 0.714136 * (cr - 128.0),
                y + 1.772 * (cb - 128.0),
            ]
        },
        "YBR_PARTIAL_422" | "YBR_PARTIAL_420" => |y, cb, cr| {
            let y = 1.164383 * (y - 16.0);
            [
                y + 1.596027 * (cr - 128.0),
                y - 0.391762 * (cb - 128.0) - 0.812968 * (cr - 128.0),
                y + 2.017232 * (cb - 128.0),
            ]
        },
        other => {
            return Err(DicomError::Unsupported(format!(
                "rendering Photometric Interpretation {other}"
            )))
        }
    };
    Ok(samples
        .chunks_exact(3)
        .flat_map(|p| convert(to8(p[0]), to8(p[1]), to8(p[2])).map(clamp))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_up_stops_at_the_pixel_budget() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/pydicom/CT_small.dcm"
        );
        let bytes = std::fs::read(path).expect("CT_small.dcm");
        let mut params = RenderParams::new(ImageFormat::Png);
        params.viewport = Some(Viewport {
            width: Some(65535),
            height: Some(65535),
            source: None,
        });
        assert!(matches!(
            render(&bytes, 1, &params),
            Err(DicomError::TooLarge(_))
        ));
        // within the budget, and any size at or below the stored one, renders
        params.viewport = Some(Viewport {
            width: Some(1024),
            height: Some(1024),
            source: None,
        });
        assert!(render(&bytes, 1, &params).is_ok());
        params.viewport = Some(Viewport {
            width: Some(65535),
            height: Some(16),
            source: None,
        });
        assert!(render(&bytes, 1, &params).is_ok());
    }
}
