//! Transfer syntaxes (PS3.5 Section 10, Annex A): well-known UIDs, which ones encapsulate
//! pixel data, and conversion of native ones to Explicit VR Little Endian.

use crate::error::DicomError;
use crate::read::{locate_meta, open_raw};
use dicom_transfer_syntax_registry::entries::EXPLICIT_VR_LITTLE_ENDIAN;

/// Implicit VR Little Endian (PS3.5 A.1), the DICOM default.
pub const IMPLICIT_VR_LE: &str = "1.2.840.10008.1.2";
/// Explicit VR Little Endian (PS3.5 A.2), what DICOMweb serves by default.
pub const EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1";
/// Encapsulated Uncompressed Explicit VR Little Endian (PS3.5 A.4.11).
pub const ENCAPSULATED_UNCOMPRESSED_LE: &str = "1.2.840.10008.1.2.1.98";
/// Deflated Explicit VR Little Endian (PS3.5 A.5).
pub const DEFLATED_EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1.99";
/// Explicit VR Big Endian (PS3.5 A.3, retired).
pub const EXPLICIT_VR_BE: &str = "1.2.840.10008.1.2.2";
/// JPEG Baseline (Process 1) (PS3.5 A.4.1).
pub const JPEG_BASELINE: &str = "1.2.840.10008.1.2.4.50";
/// JPEG Extended (Process 2 & 4).
pub const JPEG_EXTENDED: &str = "1.2.840.10008.1.2.4.51";
/// JPEG Lossless, Non-Hierarchical (Process 14).
pub const JPEG_LOSSLESS: &str = "1.2.840.10008.1.2.4.57";
/// JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14, SV1).
pub const JPEG_LOSSLESS_SV1: &str = "1.2.840.10008.1.2.4.70";
/// JPEG-LS Lossless (PS3.5 A.4.3).
pub const JPEG_LS_LOSSLESS: &str = "1.2.840.10008.1.2.4.80";
/// JPEG-LS Lossy (Near-Lossless).
pub const JPEG_LS_NEAR_LOSSLESS: &str = "1.2.840.10008.1.2.4.81";
/// JPEG 2000 Lossless Only (PS3.5 A.4.4).
pub const JPEG_2000_LOSSLESS: &str = "1.2.840.10008.1.2.4.90";
/// JPEG 2000.
pub const JPEG_2000: &str = "1.2.840.10008.1.2.4.91";
/// High-Throughput JPEG 2000 Lossless Only (PS3.5 A.4.11).
pub const HTJ2K_LOSSLESS: &str = "1.2.840.10008.1.2.4.201";
/// High-Throughput JPEG 2000.
pub const HTJ2K: &str = "1.2.840.10008.1.2.4.203";
/// RLE Lossless (PS3.5 A.4.2).
pub const RLE_LOSSLESS: &str = "1.2.840.10008.1.2.5";

/// Transfer syntaxes whose Pixel Data is native (not encapsulated): the three
/// uncompressed ones, deflate, and the JPIP referenced ones, which carry no pixel data
/// but a Pixel Data Provider URL (PS3.5 A.6, A.7).
const NATIVE: &[&str] = &[
    IMPLICIT_VR_LE,
    EXPLICIT_VR_LE,
    DEFLATED_EXPLICIT_VR_LE,
    EXPLICIT_VR_BE,
    "1.2.840.10008.1.2.4.94",  // JPIP Referenced
    "1.2.840.10008.1.2.4.95",  // JPIP Referenced Deflate
    "1.2.840.10008.1.2.4.204", // JPIP HTJ2K Referenced
    "1.2.840.10008.1.2.4.205", // JPIP HTJ2K Referenced Deflate
];

/// Whether Pixel Data in this transfer syntax is encapsulated (PS3.5 A.4): every
/// transfer syntax except the native ones above, including unknown (private) UIDs.
pub fn is_encapsulated(ts_uid: &str) -> bool {
    let uid = ts_uid.trim_end_matches(['\0', ' ']).trim();
    !NATIVE.contains(&uid)
}

/// Re-encodes a Part 10 object in Explicit VR Little Endian (PS3.5 A.2): a 128-byte
/// preamble, `DICM`, a meta group with Transfer Syntax UID 1.2.840.10008.1.2.1 and its
/// group length recomputed, then the data set. Implicit VR Little Endian, Explicit VR Big
/// Endian (byte-swapped per VR, PS3.5 7.3) and Deflated input are decoded and re-written
/// by dicom-rs. Explicit VR Little Endian input keeps its data set bytes as they are, with
/// the meta group normalised. Encapsulated input fails with `NeedsDecompression`.
pub fn to_explicit_vr_le(bytes: &[u8]) -> Result<Vec<u8>, DicomError> {
    let meta = locate_meta(bytes)?;
    let ts = meta.transfer_syntax.as_str();
    if is_encapsulated(ts) {
        return Err(DicomError::NeedsDecompression(ts.to_string()));
    }
    let dataset = &bytes[meta.dataset_start..];
    let dataset_is_explicit = dataset
        .get(4..6)
        .is_none_or(|vr| vr.iter().all(u8::is_ascii_uppercase));
    if ts == EXPLICIT_VR_LE && dataset_is_explicit {
        // the meta group was normalised by `locate_meta`; the data set is already right
        let mut out = Vec::with_capacity(128 + meta.normalized.len() + dataset.len());
        out.resize(128, 0);
        out.extend_from_slice(&meta.normalized);
        out.extend_from_slice(dataset);
        return Ok(out);
    }
    // raw text: the values are written back byte for byte whatever the character set
    let (_, mut file) = open_raw(bytes)?;
    file.update_meta(|m| m.set_transfer_syntax(&EXPLICIT_VR_LITTLE_ENDIAN));
    let mut out = Vec::with_capacity(bytes.len() + 1024);
    file.write_all(&mut out).map_err(DicomError::encode)?;
    Ok(out)
}
