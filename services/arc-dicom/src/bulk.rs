//! Bulk data access: the raw value behind a relative `BulkDataURI` path (PS3.18 8.4.1.4
//! and F.2.7), `7FE00010` at the top level or `SEQTAG/item/TAG…` inside sequences.

use crate::error::DicomError;
use crate::parse::parse_tag;
use crate::read::open;
use crate::values::le_bytes;
use dicom_core::value::Value;
use dicom_core::Tag;
use dicom_object::InMemDicomObject;

/// One step of a bulk data path.
enum Step {
    Tag(Tag),
    Item(usize),
}

/// Parses `GGGGEEEE(/item/GGGGEEEE)*`, with or without the `bulkdata/` prefix.
fn parse_path(path: &str) -> Result<Vec<Step>, DicomError> {
    let bad = || DicomError::BadPath(path.to_string());
    let trimmed = path
        .strip_prefix(crate::json::BULKDATA_PREFIX)
        .unwrap_or(path);
    let parts: Vec<&str> = trimmed.split('/').collect();
    if parts.len().is_multiple_of(2) {
        return Err(bad());
    }
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if i % 2 == 0 {
                parse_tag(p).map(Step::Tag).ok_or_else(bad)
            } else if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) {
                p.parse().map(Step::Item).map_err(|_| bad())
            } else {
                Err(bad())
            }
        })
        .collect()
}

/// A bulk data value as served: native bytes, or the compressed frames of encapsulated
/// Pixel Data with their media type (PS3.18 8.7.3.3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkValue {
    /// A native value as Explicit VR Little Endian encodes it.
    Native(Vec<u8>),
    /// Encapsulated Pixel Data: one item per frame (a video stream is one item).
    Encapsulated {
        /// The media type of the bitstream, e.g. `image/jpeg`.
        media_type: &'static str,
        /// The transfer syntax it is encoded in.
        transfer_syntax: String,
        /// The frames' bitstreams.
        frames: Vec<Vec<u8>>,
    },
}

/// The media type of a compressed bitstream of a transfer syntax (PS3.18 Table 8.7.3-2).
pub fn bitstream_media_type(ts: &str) -> &'static str {
    match ts {
        "1.2.840.10008.1.2.4.50"
        | "1.2.840.10008.1.2.4.51"
        | "1.2.840.10008.1.2.4.57"
        | "1.2.840.10008.1.2.4.70" => "image/jpeg",
        "1.2.840.10008.1.2.4.80" | "1.2.840.10008.1.2.4.81" => "image/jls",
        "1.2.840.10008.1.2.4.90" | "1.2.840.10008.1.2.4.91" => "image/jp2",
        "1.2.840.10008.1.2.4.92" | "1.2.840.10008.1.2.4.93" => "image/jpx",
        "1.2.840.10008.1.2.4.201" | "1.2.840.10008.1.2.4.202" | "1.2.840.10008.1.2.4.203" => {
            "image/jphc"
        }
        "1.2.840.10008.1.2.5" => "image/dicom-rle",
        "1.2.840.10008.1.2.4.100" | "1.2.840.10008.1.2.4.101" => "video/mpeg",
        t if t.starts_with("1.2.840.10008.1.2.4.10") => "video/mp4",
        _ => "application/octet-stream",
    }
}

/// Every bulk data value of an object, by the relative paths its DICOM JSON header names
/// (`paths`), opening the object once. Paths naming nothing are left out.
pub fn bulk_values(bytes: &[u8], paths: &[String]) -> Result<Vec<(String, BulkValue)>, DicomError> {
    let (meta, file) = open(bytes)?;
    let mut out = Vec::new();
    for path in paths {
        if let Some(v) = value_at(&file, path, &meta.transfer_syntax)? {
            out.push((path.clone(), v));
        }
    }
    Ok(out)
}

/// Like [`bulk_value`], with encapsulated Pixel Data as its frames.
pub fn bulk_value_any(bytes: &[u8], path: &str) -> Result<Option<BulkValue>, DicomError> {
    let (meta, file) = open(bytes)?;
    value_at(&file, path, &meta.transfer_syntax)
}

fn value_at(
    root: &InMemDicomObject,
    path: &str,
    ts: &str,
) -> Result<Option<BulkValue>, DicomError> {
    let steps = parse_path(path)?;
    let mut obj: &InMemDicomObject = root;
    let mut iter = steps.iter().peekable();
    while let Some(step) = iter.next() {
        let Step::Tag(tag) = step else {
            return Err(DicomError::BadPath(path.to_string()));
        };
        let Some(elem) = obj.get(*tag) else {
            return Ok(None);
        };
        match (elem.value(), iter.next()) {
            (Value::Primitive(p), None) => return Ok(le_bytes(p).map(BulkValue::Native)),
            (Value::PixelSequence(seq), None) => {
                let fragments = seq.fragments();
                let frames_declared = root
                    .get(Tag(0x0028, 0x0008))
                    .and_then(|e| e.value().to_str().ok())
                    .and_then(|s| s.trim().parse::<usize>().ok())
                    .unwrap_or(1);
                let frames: Vec<Vec<u8>> = if fragments.len() == frames_declared {
                    fragments.iter().map(|f| f.to_vec()).collect()
                } else {
                    vec![fragments.iter().flat_map(|f| f.iter().copied()).collect()]
                };
                return Ok(Some(BulkValue::Encapsulated {
                    media_type: bitstream_media_type(ts),
                    transfer_syntax: ts.to_string(),
                    frames,
                }));
            }
            (Value::Sequence(_), None) => return Ok(None),
            (Value::Sequence(seq), Some(Step::Item(i))) => match seq.items().get(*i) {
                Some(item) => obj = item,
                None => return Ok(None),
            },
            _ => return Ok(None),
        }
    }
    Ok(None)
}

/// The value of the bulk data attribute at `path`, as Explicit VR Little Endian encodes it
/// (native big-endian words are swapped). `Ok(None)` when the path names no attribute, or
/// one with a text value. Encapsulated Pixel Data is `Unsupported` for now.
pub fn bulk_value(bytes: &[u8], path: &str) -> Result<Option<Vec<u8>>, DicomError> {
    let steps = parse_path(path)?;
    let (_, file) = open(bytes)?;
    let mut obj: &InMemDicomObject = &file;
    let mut iter = steps.iter().peekable();
    while let Some(step) = iter.next() {
        let Step::Tag(tag) = step else {
            return Err(DicomError::BadPath(path.to_string()));
        };
        let Some(elem) = obj.get(*tag) else {
            return Ok(None);
        };
        match (elem.value(), iter.next()) {
            (Value::Primitive(p), None) => return Ok(le_bytes(p)),
            (Value::PixelSequence(_), None) => {
                return Err(DicomError::Unsupported("encapsulated pixel data".into()))
            }
            (Value::Sequence(_), None) => return Ok(None),
            (Value::Sequence(seq), Some(Step::Item(i))) => match seq.items().get(*i) {
                Some(item) => obj = item,
                None => return Ok(None),
            },
            _ => return Ok(None),
        }
    }
    Ok(None)
}
