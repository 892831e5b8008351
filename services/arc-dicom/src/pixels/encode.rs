//! Encoding rendered 8-bit images as the PS3.18 8.7.4 rendered media types: JPEG
//! (baseline, jpeg-encoder), PNG and GIF (single frame or animated).

use super::scale::Image;
use crate::error::DicomError;

/// A rendered media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// `image/jpeg`, JPEG baseline (ISO 10918-1 process 1).
    Jpeg,
    /// `image/png`.
    Png,
    /// `image/gif`; animated for all frames of a multi-frame instance.
    Gif,
}

impl ImageFormat {
    /// The media type.
    pub fn media_type(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Png => "image/png",
            ImageFormat::Gif => "image/gif",
        }
    }

    /// The format of a media type (`image/jpeg`, `image/png`, `image/gif`).
    pub fn from_media_type(essence: &str) -> Option<Self> {
        match essence.trim().to_ascii_lowercase().as_str() {
            "image/jpeg" | "image/jpg" => Some(ImageFormat::Jpeg),
            "image/png" => Some(ImageFormat::Png),
            "image/gif" => Some(ImageFormat::Gif),
            _ => None,
        }
    }
}

fn encode_err(e: impl std::fmt::Display) -> DicomError {
    DicomError::Encode {
        reason: e.to_string(),
        source: None,
    }
}

fn dims(img: &Image) -> Result<(u16, u16), DicomError> {
    let w = u16::try_from(img.width).map_err(|_| encode_err("image wider than 65535 pixels"))?;
    let h = u16::try_from(img.height).map_err(|_| encode_err("image taller than 65535 pixels"))?;
    Ok((w, h))
}

/// JPEG baseline at `quality` (1-100).
pub(crate) fn jpeg(img: &Image, quality: u8) -> Result<Vec<u8>, DicomError> {
    let (w, h) = dims(img)?;
    let mut out = Vec::new();
    let encoder = jpeg_encoder::Encoder::new(&mut out, quality.clamp(1, 100));
    let color = if img.channels == 1 {
        jpeg_encoder::ColorType::Luma
    } else {
        jpeg_encoder::ColorType::Rgb
    };
    encoder.encode(&img.data, w, h, color).map_err(encode_err)?;
    Ok(out)
}

/// PNG, 8 bits per sample, gray or RGB.
pub(crate) fn png(img: &Image) -> Result<Vec<u8>, DicomError> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, img.width as u32, img.height as u32);
        encoder.set_color(if img.channels == 1 {
            png::ColorType::Grayscale
        } else {
            png::ColorType::Rgb
        });
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(encode_err)?;
        writer.write_image_data(&img.data).map_err(encode_err)?;
        writer.finish().map_err(encode_err)?;
    }
    Ok(out)
}

/// GIF of one or more frames of the same size; `delay_cs` between frames in 1/100 s.
/// Gray frames use an exact 256-level gray palette; RGB frames are quantised (NeuQuant).
pub(crate) fn gif(frames: &[Image], delay_cs: u16) -> Result<Vec<u8>, DicomError> {
    let first = frames
        .first()
        .ok_or_else(|| encode_err("no frame to encode"))?;
    let (w, h) = dims(first)?;
    let gray: Vec<u8> = (0..=255u8).flat_map(|v| [v, v, v]).collect();
    let mut out = Vec::new();
    {
        let mut encoder = gif::Encoder::new(&mut out, w, h, &gray).map_err(encode_err)?;
        if frames.len() > 1 {
            encoder
                .set_repeat(gif::Repeat::Infinite)
                .map_err(encode_err)?;
        }
        for img in frames {
            let (fw, fh) = dims(img)?;
            let mut frame = if img.channels == 1 {
                gif::Frame::from_indexed_pixels(fw, fh, img.data.clone(), None)
            } else {
                gif::Frame::from_rgb_speed(fw, fh, &img.data, 10)
            };
            if frames.len() > 1 {
                frame.delay = delay_cs;
            }
            encoder.write_frame(&frame).map_err(encode_err)?;
        }
    }
    Ok(out)
}
