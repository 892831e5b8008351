//! Transcoding a whole object to a native transfer syntax (PS3.5 A.1, A.2): compressed
//! Pixel Data decoded frame by frame, the Image Pixel Module brought in line with the
//! decoded samples, and the lossy compression history kept (PS3.3 C.7.6.1.1.5).

use super::samples::decode_frame_native;
use super::ImageInfo;
use crate::error::DicomError;
use crate::read::open;
use crate::ts::{self, is_encapsulated};
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_encoding::transfer_syntax::{Codec, TransferSyntaxIndex};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

/// The transfer syntaxes `transcode` can produce.
pub const NATIVE_TARGETS: &[&str] = &[ts::EXPLICIT_VR_LE, ts::IMPLICIT_VR_LE];

/// Whether Pixel Data stored in `ts_uid` can be decoded to native form: every native
/// syntax, and the compressed ones dicom-rs has a decoder for in this build (JPEG
/// baseline, extended and lossless, JPEG-LS, JPEG 2000 and HTJ2K, RLE).
pub fn can_decode(ts_uid: &str) -> bool {
    if !is_encapsulated(ts_uid) {
        return true;
    }
    match TransferSyntaxRegistry.get(ts_uid) {
        Some(t) => {
            matches!(t.codec(), Codec::EncapsulatedPixelData(Some(_), _)) && t.can_decode_all()
        }
        None => false,
    }
}

/// Transfer syntaxes whose compression always loses information (PS3.5 A.4.1, 8.2.1).
const ALWAYS_LOSSY: &[(&str, &str)] = &[
    (ts::JPEG_BASELINE, "ISO_10918_1"),
    (ts::JPEG_EXTENDED, "ISO_10918_1"),
];

/// Re-encodes a Part 10 object in `target` (Explicit or Implicit VR Little Endian).
/// Native input is converted as it is; compressed Pixel Data is decoded: Pixel Data
/// becomes native (OB for 8 bits, OW above), three-sample images become `RGB` with
/// Planar Configuration 0 when the codec transformed the colours, the encapsulation
/// attributes (7FE0,0001-0003) go, and Lossy Image Compression is set to `01` when the
/// source syntax is lossy, never reset once set. The result is a complete object.
pub fn transcode(bytes: &[u8], target: &str) -> Result<Vec<u8>, DicomError> {
    if !NATIVE_TARGETS.contains(&target) {
        return Err(DicomError::Unsupported(format!(
            "transcoding to {target}; offered: {}",
            NATIVE_TARGETS.join(", ")
        )));
    }
    let meta = crate::read::locate_meta(bytes)?;
    if !is_encapsulated(&meta.transfer_syntax) && target == ts::EXPLICIT_VR_LE {
        return ts::to_explicit_vr_le(bytes);
    }
    let (meta, mut file) = open(bytes)?;
    let source = meta.transfer_syntax;
    if is_encapsulated(&source) {
        decode_inline(&mut file, &source)?;
    }
    let target_ts = TransferSyntaxRegistry
        .get(target)
        .ok_or_else(|| DicomError::Unsupported(format!("transfer syntax {target}")))?;
    file.update_meta(|m| m.set_transfer_syntax(target_ts));
    let mut out = Vec::with_capacity(bytes.len() * 2 + 1024);
    file.write_all(&mut out).map_err(DicomError::encode)?;
    Ok(out)
}

/// Replaces encapsulated Pixel Data by its decoded native form, frame by frame.
fn decode_inline(
    file: &mut dicom_object::DefaultDicomObject,
    source: &str,
) -> Result<(), DicomError> {
    let info = ImageInfo::from_obj(file, source)?
        .ok_or_else(|| DicomError::NotAnImage("the object has no Pixel Data".into()))?;
    let mut data =
        Vec::with_capacity((info.native_frame_bits() / 8) as usize * info.frames as usize);
    let mut photometric = info.photometric.clone();
    for index in 0..info.frames {
        let frame = decode_frame_native(file, &info, index)?;
        photometric = frame.photometric;
        data.extend_from_slice(&frame.bytes);
    }
    if data.len() % 2 == 1 {
        data.push(0); // values have even length (PS3.5 7.1.1)
    }
    let value = if info.bits_allocated <= 8 {
        DataElement::new(tags::PIXEL_DATA, VR::OB, PrimitiveValue::from(data))
    } else {
        let words: Vec<u16> = data
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        DataElement::new(tags::PIXEL_DATA, VR::OW, PrimitiveValue::U16(words.into()))
    };
    file.put(value);
    file.put(DataElement::new(
        tags::PHOTOMETRIC_INTERPRETATION,
        VR::CS,
        PrimitiveValue::from(photometric),
    ));
    if info.samples_per_pixel > 1 {
        file.put(DataElement::new(
            tags::PLANAR_CONFIGURATION,
            VR::US,
            PrimitiveValue::from(0u16),
        ));
    }
    for tag in [
        Tag(0x7FE0, 0x0001),
        Tag(0x7FE0, 0x0002),
        Tag(0x7FE0, 0x0003),
    ] {
        file.remove_element(tag);
    }
    if let Some((_, method)) = ALWAYS_LOSSY.iter().find(|(uid, _)| *uid == source) {
        let already = super::attrs::str_attr(file, tags::LOSSY_IMAGE_COMPRESSION);
        if already.as_deref() != Some("01") {
            file.put(DataElement::new(
                tags::LOSSY_IMAGE_COMPRESSION,
                VR::CS,
                PrimitiveValue::from("01"),
            ));
        }
        if file.get(tags::LOSSY_IMAGE_COMPRESSION_METHOD).is_none() {
            file.put(DataElement::new(
                tags::LOSSY_IMAGE_COMPRESSION_METHOD,
                VR::CS,
                PrimitiveValue::from(*method),
            ));
        }
    }
    Ok(())
}
