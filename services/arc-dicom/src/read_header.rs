//! Reading only the header of a large Part 10 object from a stream (streaming STOW-RS): the
//! meta group and every attribute before the top-level Pixel Data, whose value is never
//! read, so a 2 GB object costs its header's memory. Values are read through the same
//! guarded decoder as [`crate::read::open`] (text of character-set VRs kept raw) and text is
//! decoded by [`crate::text`] with the sets in force per item: one mechanism for small and
//! large objects.

use crate::error::DicomError;
use crate::read::{actual_encoding, locate_meta, Guarded, MetaInfo};
use dicom_core::value::{DataSetSequence, PixelFragmentSequence, Value};
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_encoding::transfer_syntax::{Codec, TransferSyntaxIndex};
use dicom_object::mem::InMemElement;
use dicom_object::{DefaultDicomObject, FileMetaTable, InMemDicomObject};
use dicom_parser::dataset::read::{DataSetReader, DataSetReaderOptions};
use dicom_parser::dataset::DataToken;
use dicom_parser::stateful::decode::StatefulDecode;
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;
use std::io::{BufRead, BufReader, Read};

/// The largest data set a Deflated Explicit VR Little Endian header may inflate to.
const MAX_INFLATED: u64 = 1 << 30;

/// Counts the bytes a reader hands out.
struct Counting<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

/// Decodes the meta group and the data set up to (not including) the top-level Pixel Data
/// from a reader of a `len`-byte object, reading at most `limit` bytes: a header that does
/// not end within them fails. Returns the meta information, the object (text decoded to
/// UTF-8), and how many bytes of the source were consumed (read-ahead included; less than
/// `len` when Pixel Data follows).
pub(crate) fn open_header<R: Read>(
    mut reader: R,
    len: u64,
    limit: u64,
) -> Result<(MetaInfo, DefaultDicomObject, u64), DicomError> {
    // the meta group is small: find it in the first 64 KiB
    let mut head = Vec::with_capacity(64 * 1024);
    (&mut reader)
        .take(64 * 1024)
        .read_to_end(&mut head)
        .map_err(DicomError::unreadable)?;
    let meta = locate_meta(&head)?;
    let table =
        FileMetaTable::from_reader(meta.normalized.as_slice()).map_err(DicomError::unreadable)?;
    let ts = TransferSyntaxRegistry
        .get(&meta.transfer_syntax)
        .ok_or_else(|| {
            DicomError::unreadable_msg(format!("unknown transfer syntax {}", meta.transfer_syntax))
        })?;
    let start = &head[meta.dataset_start..];
    let remaining = len.saturating_sub(meta.dataset_start as u64);
    let rest = std::io::Cursor::new(start.to_vec()).chain(reader);
    let mut counting = Counting {
        inner: rest.take(limit),
        count: meta.dataset_start as u64,
    };
    let obj = match ts.codec() {
        // Deflated Explicit VR Little Endian (PS3.5 A.5): decoded as it inflates
        Codec::Dataset(Some(adapter)) => {
            let mut inflated = BufReader::new(
                adapter
                    .adapt_reader(Box::new(&mut counting))
                    .take(MAX_INFLATED),
            );
            let first = inflated
                .fill_buf()
                .map_err(DicomError::unreadable)?
                .to_vec();
            let ts = actual_encoding(&first, MAX_INFLATED, ts);
            read_until_pixel_data(Guarded::new(inflated, ts, MAX_INFLATED)?)?
        }
        Codec::Dataset(None) => {
            return Err(DicomError::unreadable_msg(format!(
                "transfer syntax {} ({}) cannot be read",
                ts.uid(),
                ts.name()
            )))
        }
        Codec::None | Codec::EncapsulatedPixelData(..) => {
            let ts = actual_encoding(start, remaining, ts);
            read_until_pixel_data(Guarded::new(BufReader::new(&mut counting), ts, remaining)?)?
        }
    };
    if counting.count >= limit {
        return Err(DicomError::unreadable_msg(format!(
            "the attributes before Pixel Data exceed {} MiB",
            limit >> 20
        )));
    }
    let obj = crate::text::decode_text(obj, &Default::default());
    Ok((meta, obj.with_exact_meta(table), counting.count))
}

/// Builds the data set from `decoder`, stopping at the top level before the first element
/// at or past Pixel Data (7FE0,0010), the way `OpenFileOptions::read_until` does; nested
/// items are read whole (an icon image's Pixel Data included).
fn read_until_pixel_data<D: StatefulDecode>(
    mut decoder: Guarded<D>,
) -> Result<InMemDicomObject, DicomError> {
    let mut tokens = DataSetReader::new(&mut decoder, DataSetReaderOptions::default());
    let built = build(&mut tokens, false);
    drop(tokens);
    match (built, decoder.overrun.take()) {
        (Err(_), Some(reason)) => Err(DicomError::unreadable_msg(reason)),
        (built, _) => built,
    }
}

fn next<S: StatefulDecode>(tokens: &mut DataSetReader<S>) -> Result<Option<DataToken>, DicomError> {
    tokens.next().transpose().map_err(DicomError::unreadable)
}

fn unexpected(token: Option<DataToken>) -> DicomError {
    match token {
        Some(t) => DicomError::unreadable_msg(format!("unexpected {t} in the data set")),
        None => DicomError::unreadable_msg("the data set ends inside a sequence"),
    }
}

/// A data set (`in_item`: a sequence item, up to its end) from the reader's tokens.
fn build<S: StatefulDecode>(
    tokens: &mut DataSetReader<S>,
    in_item: bool,
) -> Result<InMemDicomObject, DicomError> {
    let stop = |tag: Tag| !in_item && tag >= tags::PIXEL_DATA;
    let mut elements: Vec<InMemElement> = Vec::new();
    loop {
        let element = match next(tokens)? {
            Some(DataToken::ElementHeader(header)) => {
                if stop(header.tag) {
                    break;
                }
                match next(tokens)? {
                    Some(DataToken::PrimitiveValue(v)) => DataElement::new_with_len(
                        header.tag,
                        header.vr,
                        header.len,
                        Value::Primitive(v),
                    ),
                    other => return Err(unexpected(other)),
                }
            }
            Some(DataToken::SequenceStart { tag, len }) => {
                if stop(tag) {
                    break;
                }
                let items = items(tokens)?;
                DataElement::new_with_len(
                    tag,
                    VR::SQ,
                    len,
                    Value::Sequence(DataSetSequence::new(items, len)),
                )
            }
            Some(DataToken::PixelSequenceStart) => {
                if stop(tags::PIXEL_DATA) {
                    break;
                }
                DataElement::new(tags::PIXEL_DATA, VR::OB, fragments(tokens)?)
            }
            Some(DataToken::ItemEnd) if in_item => break,
            None if !in_item => break,
            other => return Err(unexpected(other)),
        };
        elements.push(element);
    }
    Ok(InMemDicomObject::from_element_iter(elements))
}

/// The items of a sequence, up to its end.
fn items<S: StatefulDecode>(
    tokens: &mut DataSetReader<S>,
) -> Result<Vec<InMemDicomObject>, DicomError> {
    let mut items = Vec::new();
    loop {
        match next(tokens)? {
            Some(DataToken::ItemStart { .. }) => items.push(build(tokens, true)?),
            Some(DataToken::SequenceEnd) => return Ok(items),
            other => return Err(unexpected(other)),
        }
    }
}

/// Encapsulated pixel data (PS3.5 A.4): the Basic Offset Table and the fragments.
fn fragments<S: StatefulDecode>(
    tokens: &mut DataSetReader<S>,
) -> Result<Value<InMemDicomObject, Vec<u8>>, DicomError> {
    let (mut offsets, mut fragments): (Option<Vec<u32>>, Vec<Vec<u8>>) = (None, Vec::new());
    loop {
        match next(tokens)? {
            Some(DataToken::OffsetTable(table)) => offsets = Some(table),
            Some(DataToken::ItemValue(data)) => fragments.push(data),
            // the first item is the offset table, even when empty
            Some(DataToken::ItemEnd) => {
                offsets.get_or_insert_with(Vec::new);
            }
            Some(DataToken::ItemStart { .. }) => {}
            Some(DataToken::SequenceEnd) => break,
            other => return Err(unexpected(other)),
        }
    }
    Ok(Value::PixelSequence(PixelFragmentSequence::new(
        offsets.unwrap_or_default(),
        fragments,
    )))
}
