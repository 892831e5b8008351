//! Reading a Part 10 byte buffer: locating and normalising the File Meta Information
//! (PS3.10 7.1), then decoding the whole data set with dicom-rs, text kept raw for
//! `crate::text` (the header of a large object read from a stream: `read_header`).

use crate::error::DicomError;
use dicom_core::header::{DataElementHeader, SequenceItemHeader};
use dicom_core::PrimitiveValue;
use dicom_encoding::text::SpecificCharacterSet;
use dicom_encoding::transfer_syntax::{Codec, TransferSyntax, TransferSyntaxIndex};
use dicom_encoding::Endianness;
use dicom_object::{DefaultDicomObject, FileMetaTable, InMemDicomObject};
use dicom_parser::stateful::decode::{
    CharacterSetOverride, DynStatefulDecoder, Error as DecodeError, Result as DecodeResult,
    StatefulDecode,
};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;
use std::io::Read;

const DICM: &[u8; 4] = b"DICM";

/// The largest data set a Deflated Explicit VR Little Endian object may inflate to.
const MAX_INFLATED: u64 = 1 << 30;

/// The File Meta Information found at the start of a buffer.
#[derive(Debug, Clone)]
pub(crate) struct MetaInfo {
    /// Transfer Syntax UID (0002,0010), trailing padding removed.
    pub transfer_syntax: String,
    /// `DICM`, a recomputed (0002,0000) group length, then the other meta elements as found.
    pub normalized: Vec<u8>,
    /// Offset of the first data set byte after the meta group.
    pub dataset_start: usize,
}

/// VRs whose explicit VR header has two reserved bytes and a 32-bit length (PS3.5 7.1.2).
fn has_long_length(vr: &[u8]) -> bool {
    matches!(
        vr,
        b"OB"
            | b"OD"
            | b"OF"
            | b"OL"
            | b"OV"
            | b"OW"
            | b"SQ"
            | b"SV"
            | b"UC"
            | b"UN"
            | b"UR"
            | b"UT"
            | b"UV"
    )
}

fn u16_le(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn u32_le(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
        *b.get(at + 2)?,
        *b.get(at + 3)?,
    ]))
}

/// Finds the File Meta Information: after a 128-byte preamble and `DICM`, right after
/// `DICM`, or a bare (0002,xxxx) group at offset 0. The meta group is always Explicit VR
/// Little Endian (PS3.10 7.1). Its elements are scanned one by one rather than trusting
/// (0002,0000), so a missing or wrong group length is tolerated.
pub(crate) fn locate_meta(bytes: &[u8]) -> Result<MetaInfo, DicomError> {
    let start = if bytes.len() >= 132 && &bytes[128..132] == DICM {
        132
    } else if bytes.starts_with(DICM) {
        4
    } else if bytes.len() >= 8
        && u16_le(bytes, 0) == Some(0x0002)
        && bytes[4..6].iter().all(u8::is_ascii_uppercase)
    {
        0
    } else {
        return Err(DicomError::NoMetaHeader);
    };
    let mut pos = start;
    let mut elements = Vec::new();
    let mut transfer_syntax = None;
    let mut count = 0usize;
    while u16_le(bytes, pos) == Some(0x0002) {
        let element = u16_le(bytes, pos + 2).ok_or_else(truncated_meta)?;
        let vr = bytes.get(pos + 4..pos + 6).ok_or_else(truncated_meta)?;
        if !vr.iter().all(u8::is_ascii_uppercase) {
            return Err(DicomError::unreadable_msg(format!(
                "file meta element (0002,{element:04X}) is not Explicit VR Little Endian (PS3.10 7.1)"
            )));
        }
        let (header_len, value_len) = if has_long_length(vr) {
            (12, u32_le(bytes, pos + 8).ok_or_else(truncated_meta)?)
        } else {
            (
                8,
                u32::from(u16_le(bytes, pos + 6).ok_or_else(truncated_meta)?),
            )
        };
        if value_len == u32::MAX {
            return Err(DicomError::unreadable_msg(format!(
                "file meta element (0002,{element:04X}) has undefined length"
            )));
        }
        let value_start = pos + header_len;
        let end = value_start
            .checked_add(value_len as usize)
            .filter(|&e| e <= bytes.len())
            .ok_or_else(truncated_meta)?;
        if element == 0x0010 {
            let uid = String::from_utf8_lossy(&bytes[value_start..end]);
            let uid = uid.trim_end_matches(['\0', ' ']).trim_start();
            if !uid.is_empty() {
                transfer_syntax = Some(uid.to_string());
            }
        }
        if element != 0x0000 {
            elements.extend_from_slice(&bytes[pos..end]);
        }
        count += 1;
        pos = end;
    }
    if count == 0 {
        return Err(DicomError::NoMetaHeader);
    }
    let transfer_syntax = transfer_syntax.ok_or(DicomError::MissingTransferSyntax)?;
    let group_len = u32::try_from(elements.len())
        .map_err(|_| DicomError::unreadable_msg("file meta group too large"))?;
    let mut normalized = Vec::with_capacity(elements.len() + 16);
    normalized.extend_from_slice(DICM);
    normalized.extend_from_slice(&[0x02, 0x00, 0x00, 0x00, b'U', b'L', 0x04, 0x00]);
    normalized.extend_from_slice(&group_len.to_le_bytes());
    normalized.extend_from_slice(&elements);
    Ok(MetaInfo {
        transfer_syntax,
        normalized,
        dataset_start: pos,
    })
}

/// The SOP Class and SOP Instance UIDs of an object that could not be stored, as far as
/// they can be read, so its Failed SOP Sequence item names it (PS3.18 Table 10.5.3-3): from
/// the data set when it decodes, else from the file meta information (0002,0002 and
/// 0002,0003), which comes first and survives a cut. Values that are not UIDs are left out.
pub fn failed_object_uids(bytes: &[u8]) -> (Option<String>, Option<String>) {
    let valid = |s: &str| {
        let s = s.trim_end_matches(['\0', ' ']);
        arc_model::uid_problem(s).is_none().then(|| s.to_string())
    };
    if let Ok((_, file)) = open_raw(bytes) {
        let get = |tag| {
            file.element(tag)
                .ok()
                .and_then(|e| e.to_str().ok())
                .and_then(|s| valid(&s))
        };
        let uids = (
            get(dicom_dictionary_std::tags::SOP_CLASS_UID),
            get(dicom_dictionary_std::tags::SOP_INSTANCE_UID),
        );
        if uids.0.is_some() || uids.1.is_some() {
            return uids;
        }
    }
    let Some(table) = locate_meta(bytes)
        .ok()
        .and_then(|m| FileMetaTable::from_reader(m.normalized.as_slice()).ok())
    else {
        return (None, None);
    };
    (
        valid(&table.media_storage_sop_class_uid),
        valid(&table.media_storage_sop_instance_uid),
    )
}

fn truncated_meta() -> DicomError {
    DicomError::unreadable_msg("file meta information is truncated")
}

/// Decodes the whole buffer (meta group and data set, bulk data included) into memory.
/// Every value is read, and the decoder must end exactly at the end of the buffer, so a
/// truncated file fails here (dicom-rs alone treats an end inside an element tag as a
/// clean end). Text is decoded to UTF-8 per Specific Character Set (PS3.5 6.1.2.3) by
/// [`crate::charset`], ISO 2022 code extensions included. Not for re-encoding: the
/// decoded text may not fit dicom-rs' encoders (use [`open_raw`]).
pub(crate) fn open(bytes: &[u8]) -> Result<(MetaInfo, DefaultDicomObject), DicomError> {
    let (meta, file) = open_raw(bytes)?;
    let table = file.meta().clone();
    let obj = crate::text::decode_text(file.into_inner(), &Default::default());
    Ok((meta, obj.with_exact_meta(table)))
}

/// Like [`open`], but the values of VRs that depend on the character set (SH, LO, UC, PN,
/// ST, LT, UT) stay the bytes as stored (`PrimitiveValue::U8`), so that writing the object
/// again reproduces them exactly whatever the character set.
pub(crate) fn open_raw(bytes: &[u8]) -> Result<(MetaInfo, DefaultDicomObject), DicomError> {
    let meta = locate_meta(bytes)?;
    let table =
        FileMetaTable::from_reader(meta.normalized.as_slice()).map_err(DicomError::unreadable)?;
    let ts = TransferSyntaxRegistry
        .get(&meta.transfer_syntax)
        .ok_or_else(|| {
            DicomError::unreadable_msg(format!("unknown transfer syntax {}", meta.transfer_syntax))
        })?;
    let encoded = &bytes[meta.dataset_start..];
    let obj = match ts.codec() {
        // Deflated Explicit VR Little Endian (PS3.5 A.5): inflate first, then decode.
        Codec::Dataset(Some(adapter)) => {
            let mut inflated = Vec::new();
            adapter
                .adapt_reader(Box::new(encoded))
                .take(MAX_INFLATED + 1)
                .read_to_end(&mut inflated)
                .map_err(DicomError::unreadable)?;
            if inflated.len() as u64 > MAX_INFLATED {
                return Err(DicomError::unreadable_msg(
                    "deflated data set inflates beyond 1 GiB",
                ));
            }
            decode_dataset(&inflated, ts)?
        }
        Codec::Dataset(None) => {
            return Err(DicomError::unreadable_msg(format!(
                "transfer syntax {} ({}) cannot be read",
                ts.uid(),
                ts.name()
            )))
        }
        Codec::None | Codec::EncapsulatedPixelData(..) => decode_dataset(encoded, ts)?,
    };
    Ok((meta, obj.with_exact_meta(table)))
}

/// The encoding the data set really uses. Some writers declare an explicit VR transfer
/// syntax but encode the data set in Implicit VR Little Endian, or the reverse (seen in
/// the wild, e.g. pydicom's SC_rgb_jpeg.dcm); like dcmtk and pydicom, look at the first
/// element header: explicit VR has two upper-case letters at bytes 4..6 (PS3.5 7.1.2).
/// `encoded` is the start of the data set, `total` its whole length.
pub(crate) fn actual_encoding<'a>(
    encoded: &[u8],
    total: u64,
    ts: &'a TransferSyntax,
) -> &'a TransferSyntax {
    let Some(head) = encoded.get(..8) else {
        return ts;
    };
    let looks_explicit = head[4..6].iter().all(u8::is_ascii_uppercase);
    let declared_implicit = ts.uid() == crate::ts::IMPLICIT_VR_LE;
    let fallback = if !declared_implicit && !looks_explicit && ts.endianness() == Endianness::Little
    {
        crate::ts::IMPLICIT_VR_LE
    } else if declared_implicit && looks_explicit {
        // an implicit length this large cannot be right: read it as explicit VR
        let implicit_len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        if u64::from(implicit_len) < total - 8 {
            return ts;
        }
        crate::ts::EXPLICIT_VR_LE
    } else {
        return ts;
    };
    TransferSyntaxRegistry.get(fallback).unwrap_or(ts)
}

/// Decodes a whole data set in the byte order and VR encoding of `ts`, and checks that
/// every byte was consumed.
fn decode_dataset(encoded: &[u8], ts: &TransferSyntax) -> Result<InMemDicomObject, DicomError> {
    let ts = actual_encoding(encoded, encoded.len() as u64, ts);
    let mut guarded = Guarded::new(encoded, ts, encoded.len() as u64)?;
    let result = InMemDicomObject::read_dataset(&mut guarded);
    if let Some(reason) = guarded.overrun.take() {
        return Err(DicomError::unreadable_msg(reason));
    }
    let obj = result.map_err(DicomError::unreadable)?;
    let consumed = guarded.position();
    if consumed != encoded.len() as u64 {
        return Err(DicomError::unreadable_msg(format!(
            "data set ends inside an element header at byte {consumed} of {}",
            encoded.len()
        )));
    }
    Ok(obj)
}

/// A stateful decoder that refuses any value longer than what is left of the input
/// before dicom-rs allocates a buffer for it: a 4 GiB length in a 1 kB file must fail
/// at once, not reserve 4 GiB. It also keeps the values of text VRs that depend on the
/// character set raw, for `text::decode_text`: every reader of data sets goes through it.
pub(crate) struct Guarded<D> {
    inner: D,
    limit: u64,
    /// Why a value was refused, once one was.
    pub(crate) overrun: Option<String>,
}

impl<S: Read> Guarded<DynStatefulDecoder<S>> {
    /// A guarded decoder of a data set of `limit` bytes read from `source` in the byte
    /// order and VR encoding of `ts`.
    pub(crate) fn new(source: S, ts: &TransferSyntax, limit: u64) -> Result<Self, DicomError> {
        let inner = DynStatefulDecoder::new_with_override(
            source,
            ts,
            SpecificCharacterSet::default(),
            CharacterSetOverride::default(),
            0,
        )
        .map_err(DicomError::unreadable)?;
        Ok(Guarded {
            inner,
            limit,
            overrun: None,
        })
    }
}

impl<D: StatefulDecode> Guarded<D> {
    fn check(&mut self, what: &dyn std::fmt::Display, len: Option<u32>) -> DecodeResult<()> {
        let Some(len) = len else { return Ok(()) };
        let position = self.inner.position();
        let left = self.limit.saturating_sub(position);
        if u64::from(len) <= left {
            return Ok(());
        }
        self.overrun = Some(format!(
            "{what} at byte {position} claims {len} bytes but only {left} remain (truncated or corrupt)"
        ));
        Err(DecodeError::AllocateValueData { len })
    }

    fn check_header(&mut self, header: &DataElementHeader) -> DecodeResult<()> {
        self.check(&format_args!("element {}", header.tag), header.len.get())
    }
}

impl<D: StatefulDecode> StatefulDecode for Guarded<D> {
    type Reader = D::Reader;

    fn decode_header(&mut self) -> DecodeResult<DataElementHeader> {
        self.inner.decode_header()
    }

    fn decode_item_header(&mut self) -> DecodeResult<SequenceItemHeader> {
        self.inner.decode_item_header()
    }

    fn read_value(&mut self, header: &DataElementHeader) -> DecodeResult<PrimitiveValue> {
        self.check_header(header)?;
        // Text in the data set's character set stays raw: `text::decode_text` decodes it
        // with the sets in force for its item, which dicom-rs cannot do for ISO 2022.
        if crate::text::is_charset_text(header.vr()) {
            return self.inner.read_value_bytes(header);
        }
        self.inner.read_value(header)
    }

    fn read_value_preserved(&mut self, header: &DataElementHeader) -> DecodeResult<PrimitiveValue> {
        self.check_header(header)?;
        if crate::text::is_charset_text(header.vr()) {
            return self.inner.read_value_bytes(header);
        }
        self.inner.read_value_preserved(header)
    }

    fn read_value_bytes(&mut self, header: &DataElementHeader) -> DecodeResult<PrimitiveValue> {
        self.check_header(header)?;
        self.inner.read_value_bytes(header)
    }

    fn read_to_vec(&mut self, length: u32, vec: &mut Vec<u8>) -> DecodeResult<()> {
        self.check(&"item", Some(length))?;
        self.inner.read_to_vec(length, vec)
    }

    fn read_u32_to_vec(&mut self, length: u32, vec: &mut Vec<u32>) -> DecodeResult<()> {
        self.check(&"offset table", Some(length))?;
        self.inner.read_u32_to_vec(length, vec)
    }

    fn read_to<W: std::io::Write>(&mut self, length: u32, out: W) -> DecodeResult<()> {
        self.check(&"value", Some(length))?;
        self.inner.read_to(length, out)
    }

    fn skip_bytes(&mut self, length: u32) -> DecodeResult<()> {
        self.check(&"value", Some(length))?;
        self.inner.skip_bytes(length)
    }

    fn seek(&mut self, position: u64) -> DecodeResult<()>
    where
        Self::Reader: std::io::Seek,
    {
        self.inner.seek(position)
    }

    fn position(&self) -> u64 {
        self.inner.position()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An explicit VR LE element with a short header.
    fn short(group: u16, element: u16, vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&group.to_le_bytes());
        out.extend_from_slice(&element.to_le_bytes());
        out.extend_from_slice(vr);
        out.extend_from_slice(&(value.len() as u16).to_le_bytes());
        out.extend_from_slice(value);
        out
    }

    #[test]
    fn meta_is_found_with_or_without_preamble_and_magic() {
        let mut meta = short(0x0002, 0x0010, b"UI", b"1.2.840.10008.1.2\0");
        meta.extend(short(0x0008, 0x0060, b"CS", b"MR"));
        for prefix in [vec![0u8; 128], Vec::new()] {
            for magic in [&b"DICM"[..], &b""[..]] {
                if !prefix.is_empty() && magic.is_empty() {
                    continue; // a preamble without DICM is not Part 10
                }
                let bytes = [prefix.clone(), magic.to_vec(), meta.clone()].concat();
                let info = locate_meta(&bytes).unwrap();
                assert_eq!(info.transfer_syntax, "1.2.840.10008.1.2");
                assert_eq!(info.dataset_start, bytes.len() - 10);
                // DICM, a recomputed group length, then the element
                assert_eq!(&info.normalized[..4], b"DICM");
                assert_eq!(u32_le(&info.normalized, 12), Some(26));
            }
        }
    }

    #[test]
    fn bad_meta_is_an_error_not_a_panic() {
        assert!(matches!(locate_meta(b""), Err(DicomError::NoMetaHeader)));
        assert!(matches!(locate_meta(b"DIC"), Err(DicomError::NoMetaHeader)));
        assert!(matches!(
            locate_meta(b"DICM\x08\x00\x60\x00CS\x02\x00MR"),
            Err(DicomError::NoMetaHeader)
        ));
        // a value running past the end
        let cut = &short(0x0002, 0x0010, b"UI", b"1.2.840.10008.1.2\0")[..12];
        assert!(matches!(
            locate_meta(cut),
            Err(DicomError::Unreadable { .. })
        ));
        // a meta group without (0002,0010)
        let no_ts = short(0x0002, 0x0002, b"UI", b"1.2\0");
        assert!(matches!(
            locate_meta(&no_ts),
            Err(DicomError::MissingTransferSyntax)
        ));
        // implicit VR in the meta group
        assert!(locate_meta(b"\x02\x00\x10\x00\x04\x00\x00\x001.2\0").is_err());
    }
}
