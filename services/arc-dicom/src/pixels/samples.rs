//! One frame's pixels in native form: decoded from the stored bitstream when compressed
//! (dicom-pixeldata's codecs), then read as numbers per PS3.5 8 (Bits Stored, High Bit,
//! Pixel Representation) for rendering.

use super::frames::{native_frame, native_pixel_bytes};
use super::{codecs, ImageInfo};

/// JPEG baseline, extended, lossless and lossless SV1 (PS3.5 A.4.1).
const JPEG_FAMILY: &[&str] = &[
    crate::ts::JPEG_BASELINE,
    crate::ts::JPEG_EXTENDED,
    crate::ts::JPEG_LOSSLESS,
    crate::ts::JPEG_LOSSLESS_SV1,
];
use crate::error::DicomError;
use dicom_object::DefaultDicomObject;
use dicom_pixeldata::PixelDecoder;

/// A frame in native form: little-endian sample bytes and how to read them.
#[derive(Debug, Clone)]
pub(crate) struct NativeFrame {
    /// The frame's bytes as Explicit VR Little Endian would carry them.
    pub bytes: Vec<u8>,
    /// Photometric Interpretation of these bytes (decoders turn YBR into RGB).
    pub photometric: String,
    /// Planar Configuration of these bytes.
    pub planar: u16,
}

/// Frame `index` (0-based) in native form, decoded if the object is compressed.
pub(crate) fn decode_frame_native(
    file: &DefaultDicomObject,
    info: &ImageInfo,
    index: u32,
) -> Result<NativeFrame, DicomError> {
    if !info.encapsulated() {
        let data = native_pixel_bytes(file)?;
        return Ok(NativeFrame {
            bytes: native_frame(info, &data, index)?,
            photometric: info.photometric.clone(),
            planar: info.planar_configuration,
        });
    }
    if !super::can_decode(&info.transfer_syntax) {
        return Err(DicomError::Decode(format!(
            "no decoder for transfer syntax {}",
            info.transfer_syntax
        )));
    }
    if !info.bits_allocated.is_multiple_of(8) {
        return Err(DicomError::Decode(format!(
            "compressed pixel data with Bits Allocated {} cannot be decoded",
            info.bits_allocated
        )));
    }
    let ts = info.transfer_syntax.as_str();
    let own = ts == crate::ts::RLE_LOSSLESS || JPEG_FAMILY.contains(&ts);
    let mut bytes = if own {
        let frame = &super::frames::encapsulated_frame(file, info.frames, index)?;
        if ts == crate::ts::RLE_LOSSLESS {
            codecs::decode_rle(frame, info)?
        } else {
            codecs::decode_jpeg(frame, info)?
        }
    } else {
        file.decode_pixel_data_frame(index)
            .map_err(|e| DicomError::Decode(crate::error::chain(&e)))?
            .data()
            .to_vec()
    };
    let want = info.rows as usize
        * info.columns as usize
        * info.samples_per_pixel as usize
        * (info.bits_allocated / 8) as usize;
    if bytes.len() < want {
        return Err(DicomError::Decode(format!(
            "frame {} decoded to {} bytes, {} expected",
            index + 1,
            bytes.len(),
            want
        )));
    }
    bytes.truncate(want);
    // RLE (PS3.5 G) carries the samples as they are, with no colour transform: the
    // stored Photometric Interpretation still applies. The JPEG family and JPEG 2000
    // decoders deliver RGB for three samples (PS3.5 8.2.1, 8.2.4).
    let photometric =
        if info.samples_per_pixel == 3 && info.transfer_syntax != crate::ts::RLE_LOSSLESS {
            "RGB".to_string()
        } else {
            info.photometric.clone()
        };
    Ok(NativeFrame {
        bytes,
        photometric,
        planar: 0,
    })
}

/// Samples of a frame as numbers, interleaved (Planar Configuration 0), with Bits Stored
/// applied: the bits above the high bit masked off and, for Pixel Representation 1, the
/// value sign-extended from bit `Bits Stored - 1` (PS3.5 8.1.1, PS3.3 C.7.6.3.1).
pub(crate) fn read_samples(info: &ImageInfo, frame: &NativeFrame) -> Result<Vec<i64>, DicomError> {
    let pixels = info.rows as usize * info.columns as usize;
    let spp = info.samples_per_pixel as usize;
    let ba = info.bits_allocated as usize;
    let bs = u32::from(info.bits_stored.clamp(1, 64));
    let signed = info.pixel_representation == 1;
    let count = if frame.photometric == "YBR_FULL_422" && spp == 3 {
        pixels * 2
    } else {
        pixels * spp
    };
    let raw: Vec<u64> = match ba {
        1 => (0..count)
            .map(|i| {
                u64::from(
                    frame
                        .bytes
                        .get(i / 8)
                        .is_some_and(|b| b >> (i % 8) & 1 == 1),
                )
            })
            .collect(),
        8 | 16 | 32 | 64 => {
            let size = ba / 8;
            if frame.bytes.len() < count * size {
                return Err(DicomError::Decode(
                    "frame is shorter than its attributes say".into(),
                ));
            }
            frame
                .bytes
                .chunks_exact(size)
                .take(count)
                .map(|c| {
                    let mut b = [0u8; 8];
                    b[..size].copy_from_slice(c);
                    u64::from_le_bytes(b)
                })
                .collect()
        }
        other => return Err(DicomError::Unsupported(format!("Bits Allocated {other}"))),
    };
    let mask = if bs >= 64 { u64::MAX } else { (1u64 << bs) - 1 };
    let values: Vec<i64> = raw
        .into_iter()
        .map(|v| {
            let v = v & mask;
            if signed && bs < 64 && v >> (bs - 1) & 1 == 1 {
                (v | !mask) as i64
            } else {
                v as i64
            }
        })
        .collect();
    let values = if spp == 3 && frame.photometric == "YBR_FULL_422" {
        expand_422(&values, pixels)
    } else if spp > 1 && frame.planar == 1 {
        interleave(&values, pixels, spp)
    } else {
        values
    };
    Ok(values)
}

/// Colour-by-plane to colour-by-pixel (PS3.3 C.7.6.3.1.3).
fn interleave(values: &[i64], pixels: usize, spp: usize) -> Vec<i64> {
    let mut out = vec![0; pixels * spp];
    for s in 0..spp {
        for p in 0..pixels {
            out[p * spp + s] = values[s * pixels + p];
        }
    }
    out
}

/// YBR_FULL_422 (PS3.3 C.7.6.3.1.2): `Y1 Y2 Cb Cr` for each horizontal pixel pair, to
/// three samples per pixel (Cb and Cr repeated).
fn expand_422(values: &[i64], pixels: usize) -> Vec<i64> {
    let mut out = Vec::with_capacity(pixels * 3);
    for quad in values.chunks(4) {
        let (cb, cr) = (
            quad.get(2).copied().unwrap_or(128),
            quad.get(3).copied().unwrap_or(128),
        );
        for &y in quad.iter().take(2) {
            if out.len() < pixels * 3 {
                out.extend_from_slice(&[y, cb, cr]);
            }
        }
    }
    out.resize(pixels * 3, 0);
    out
}
