//! Single frames (PS3.18 10.4.1.1.5 and 8.7.3.5.1): the stored compressed bitstream of a
//! frame (PS3.5 A.4: fragments grouped by the Basic Offset Table or by start markers),
//! or its native little-endian bytes, decoded when stored compressed.

use super::{samples::decode_frame_native, ImageInfo};
use crate::error::DicomError;
use crate::read::open;
use crate::values::le_bytes;
use dicom_core::value::Value;
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

/// Frames taken out of one object.
#[derive(Debug, Clone)]
pub struct FrameData {
    /// The image attributes of the object.
    pub info: ImageInfo,
    /// Whether `frames` hold compressed bitstreams in the stored transfer syntax (true) or
    /// native pixel bytes, little endian, as Explicit VR Little Endian would carry them.
    pub compressed: bool,
    /// One entry per frame asked for, in the order asked.
    pub frames: Vec<Vec<u8>>,
}

/// The frames `numbers` (1-based) of a Part 10 object. With `decompress`, compressed
/// frames are decoded to native bytes (interleaved samples, Planar Configuration 0);
/// without it they are returned as stored. Native frames are always returned as stored.
pub fn frames(bytes: &[u8], numbers: &[u32], decompress: bool) -> Result<FrameData, DicomError> {
    let (meta, file) = open(bytes)?;
    let info = ImageInfo::from_obj(&file, &meta.transfer_syntax)?
        .ok_or_else(|| DicomError::NotAnImage("the object has no Pixel Data".into()))?;
    for &n in numbers {
        if n == 0 || n > info.frames {
            return Err(DicomError::NoSuchFrame {
                frame: n,
                frames: info.frames,
            });
        }
    }
    let compressed = info.encapsulated() && !decompress;
    let frames = if !info.encapsulated() {
        let data = native_pixel_bytes(&file)?;
        numbers
            .iter()
            .map(|&n| native_frame(&info, &data, n - 1))
            .collect::<Result<_, _>>()?
    } else if compressed {
        numbers
            .iter()
            .map(|&n| encapsulated_frame(&file, info.frames, n - 1))
            .collect::<Result<_, _>>()?
    } else {
        numbers
            .iter()
            .map(|&n| decode_frame_native(&file, &info, n - 1).map(|d| d.bytes))
            .collect::<Result<_, _>>()?
    };
    Ok(FrameData {
        info,
        compressed,
        frames,
    })
}

/// The whole native Pixel Data value, little endian.
pub(crate) fn native_pixel_bytes(obj: &InMemDicomObject) -> Result<Vec<u8>, DicomError> {
    match obj.get(tags::PIXEL_DATA).map(|e| e.value()) {
        Some(Value::Primitive(p)) => {
            le_bytes(p).ok_or_else(|| DicomError::NotAnImage("Pixel Data is not binary".into()))
        }
        Some(_) => Err(DicomError::NotAnImage(
            "Pixel Data is not a native value".into(),
        )),
        None => Err(DicomError::NotAnImage(
            "the object has no Pixel Data".into(),
        )),
    }
}

/// Frame `index` (0-based) of native pixel data; 1-bit frames that do not start on a
/// byte boundary are shifted so that the frame's first pixel is bit 0 (PS3.5 8.1.1).
pub(crate) fn native_frame(
    info: &ImageInfo,
    data: &[u8],
    index: u32,
) -> Result<Vec<u8>, DicomError> {
    let bits = info.native_frame_bits();
    let start_bit = bits * u64::from(index);
    let end_bit = start_bit + bits;
    if end_bit.div_ceil(8) > data.len() as u64 {
        return Err(DicomError::BadImage(format!(
            "Pixel Data holds {} bytes, too few for frame {} of {} ({} bits each)",
            data.len(),
            index + 1,
            info.frames,
            bits
        )));
    }
    if start_bit.is_multiple_of(8) {
        return Ok(data[(start_bit / 8) as usize..end_bit.div_ceil(8) as usize].to_vec());
    }
    let mut out = vec![0u8; bits.div_ceil(8) as usize];
    for i in 0..bits {
        let src = start_bit + i;
        if data[(src / 8) as usize] >> (src % 8) & 1 == 1 {
            out[(i / 8) as usize] |= 1 << (i % 8);
        }
    }
    Ok(out)
}

/// Every frame's compressed bitstream. PS3.5 A.4: a frame may span several fragments;
/// the Basic Offset Table, when present, gives each frame's first fragment. Without it,
/// one fragment per frame, everything for a single frame, or a new frame at each
/// fragment that starts with a JPEG SOI (FFD8) or JPEG 2000 SOC (FF4F) marker.
pub(crate) fn encapsulated_frame(
    obj: &InMemDicomObject,
    count: u32,
    index: u32,
) -> Result<Vec<u8>, DicomError> {
    let Some(Value::PixelSequence(seq)) = obj.get(tags::PIXEL_DATA).map(|e| e.value()) else {
        return Err(DicomError::NotAnImage(
            "Pixel Data is not encapsulated".into(),
        ));
    };
    let fragments = seq.fragments();
    let count = count as usize;
    let offsets = seq.offset_table();
    let mut starts: Vec<usize> = Vec::new();
    if offsets.len() == count && count > 1 {
        // offsets count from the first fragment item's tag; each item has an 8-byte header
        let mut pos = 0u64;
        let mut by_offset = std::collections::HashMap::new();
        for (i, f) in fragments.iter().enumerate() {
            by_offset.insert(pos, i);
            pos += 8 + f.len() as u64;
        }
        for &o in offsets {
            match by_offset.get(&u64::from(o)) {
                Some(&i) => starts.push(i),
                None => break,
            }
        }
        if starts.len() != count {
            starts.clear();
        }
    }
    if starts.is_empty() {
        if fragments.len() == count {
            starts = (0..count).collect();
        } else if count == 1 {
            starts = vec![0];
        } else {
            starts = fragments
                .iter()
                .enumerate()
                .filter(|(_, f)| f.starts_with(&[0xFF, 0xD8]) || f.starts_with(&[0xFF, 0x4F]))
                .map(|(i, _)| i)
                .collect();
        }
    }
    if starts.len() != count || starts.first() != Some(&0) {
        return Err(DicomError::BadImage(format!(
            "cannot find {count} frames in {} fragments of encapsulated Pixel Data",
            fragments.len()
        )));
    }
    let k = index as usize;
    let (s, e) = (
        starts[k],
        starts.get(k + 1).copied().unwrap_or(fragments.len()),
    );
    Ok(fragments[s..e].concat())
}
