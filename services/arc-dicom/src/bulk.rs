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
