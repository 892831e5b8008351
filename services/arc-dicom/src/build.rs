//! Building a Part 10 object from DICOM JSON metadata and its bulk data parts (PS3.18
//! 10.5.1.2.2, F.2): JPEG and MPEG-4 kept compressed as encapsulated Pixel Data with the
//! image module read from the stream, PNG decoded into native Pixel Data, PDF into
//! Encapsulated PDF Storage; missing UIDs, SOP Class, numbers and dates supplemented (as
//! dcm4chee-arc-light does for its "upload file" dialog).

use crate::media::{jpeg_info, mp4_info, png_decode, PixelModule};
use crate::parse::parse_tag;
use dicom_core::value::{DataSetSequence, PixelFragmentSequence, PrimitiveValue, Value};
use dicom_core::{DataElement, Length, Tag, VR};
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
use serde_json::Value as J;

/// Why a data set could not become an object.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The metadata cannot be understood (PS3.4 B.2.3 Cxxx).
    #[error("{0}")]
    CannotUnderstand(String),
    /// The data set does not fit its SOP Class or its bulk data (A900).
    #[error("{0}")]
    DoesNotMatch(String),
}

/// A bulk data part referenced by a BulkDataURI.
#[derive(Debug, Clone)]
pub struct BulkPart {
    /// Its media type (`image/jpeg`, `application/pdf`, …), without parameters.
    pub media_type: String,
    /// Its content.
    pub data: bytes::Bytes,
}

/// Values the archive fills in when the metadata lacks them.
#[derive(Debug, Clone)]
pub struct Supplements {
    /// Study Instance UID (the request's study, or a new one).
    pub study_uid: String,
    /// Where a data set without a Series Instance UID gets one.
    pub series: SeriesUids,
    /// SOP Instance UID.
    pub sop_instance_uid: String,
    /// Date of the request, `YYYYMMDD`.
    pub date: String,
    /// Time of the request, `HHMMSS`.
    pub time: String,
}

/// The Series Instance UIDs one request generates: one per study and kind of object (SOP
/// Class and Modality), as Modality is an attribute of the series (PS3.3 C.7.3.1): a PDF and
/// a photograph sent together without UIDs land in two series, each found by its Modality.
#[derive(Debug, Clone)]
pub struct SeriesUids {
    made: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, String>>>,
    new_uid: fn() -> String,
}

impl SeriesUids {
    /// No UIDs made yet; `new_uid` makes one.
    pub fn new(new_uid: fn() -> String) -> Self {
        SeriesUids {
            made: Default::default(),
            new_uid,
        }
    }

    /// The series of objects of `class` and `modality` in `study`, made on first use.
    pub fn of(&self, study: &str, class: &str, modality: &str) -> String {
        let key = format!("{study}\n{class}\n{modality}");
        let mut made = self.made.lock().expect("series UIDs");
        made.entry(key).or_insert_with(self.new_uid).clone()
    }
}

const SECONDARY_CAPTURE: &str = "1.2.840.10008.5.1.4.1.1.7";
const VIDEO_PHOTOGRAPHIC: &str = "1.2.840.10008.5.1.4.1.1.77.1.4.1";
const ENCAPSULATED_PDF: &str = "1.2.840.10008.5.1.4.1.1.104.1";
/// Implementation Class UID of objects arcstream builds (a UUID-derived UID, PS3.5 B.2).
pub const IMPLEMENTATION_CLASS_UID: &str = "2.25.231840317914587613440981213856217937113";

fn cannot(why: impl Into<String>) -> BuildError {
    BuildError::CannotUnderstand(why.into())
}

/// Decodes standard base64 (RFC 4648 4), padding optional.
fn unbase64(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let clean: Vec<u8> = s
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let v: Option<Vec<u8>> = chunk.iter().map(|&c| val(c)).collect();
        let v = v?;
        let n = v
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &x)| acc | (u32::from(x) << (18 - 6 * i)));
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..chunk.len().saturating_sub(1)]);
    }
    Some(out)
}

/// Binary bytes as the value of a binary VR (little endian).
fn binary(vr: VR, bytes: Vec<u8>) -> PrimitiveValue {
    match vr {
        VR::OW => PrimitiveValue::U16(
            bytes
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect(),
        ),
        VR::OF => PrimitiveValue::F32(
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4")))
                .collect(),
        ),
        VR::OD => PrimitiveValue::F64(
            bytes
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8")))
                .collect(),
        ),
        VR::OL => PrimitiveValue::U32(
            bytes
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes(c.try_into().expect("4")))
                .collect(),
        ),
        _ => PrimitiveValue::U8(bytes.into()),
    }
}

fn pn_text(v: &J) -> String {
    match v {
        J::Object(o) => {
            let groups: Vec<&str> = ["Alphabetic", "Ideographic", "Phonetic"]
                .iter()
                .map(|g| o.get(*g).and_then(J::as_str).unwrap_or(""))
                .collect();
            let mut s = groups.join("=");
            while s.ends_with('=') {
                s.pop();
            }
            s
        }
        J::String(s) => s.clone(),
        _ => String::new(),
    }
}

/// The `Value` array of a non-binary, non-sequence attribute.
fn values(tag: &str, vr: VR, vals: &[J]) -> Result<PrimitiveValue, BuildError> {
    let bad = || cannot(format!("{tag}: a value does not fit VR {vr}"));
    macro_rules! nums {
        ($t:ty, $variant:ident) => {{
            let v: Option<Vec<$t>> = vals.iter().map(|x| x.as_f64().map(|f| f as $t)).collect();
            PrimitiveValue::$variant(v.ok_or_else(bad)?.into())
        }};
    }
    Ok(match vr {
        VR::US => nums!(u16, U16),
        VR::SS => nums!(i16, I16),
        VR::UL => nums!(u32, U32),
        VR::SL => nums!(i32, I32),
        VR::UV => nums!(u64, U64),
        VR::SV => nums!(i64, I64),
        VR::FL => nums!(f32, F32),
        VR::FD => nums!(f64, F64),
        VR::AT => {
            let t: Option<Vec<Tag>> = vals
                .iter()
                .map(|x| x.as_str().and_then(parse_tag))
                .collect();
            PrimitiveValue::Tags(t.ok_or_else(bad)?.into())
        }
        VR::PN => PrimitiveValue::Strs(vals.iter().map(pn_text).collect()),
        _ => PrimitiveValue::Strs(
            vals.iter()
                .map(|x| match x {
                    J::String(s) => Ok(s.clone()),
                    J::Number(n) => Ok(n.to_string()),
                    J::Null => Ok(String::new()),
                    _ => Err(bad()),
                })
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// A data set from DICOM JSON; bulk data references are handed to `bulk`, which returns
/// the element to put (or an error).
/// Turns a BulkDataURI of an attribute into the element to put (`None`: leave it out).
type ResolveBulk<'a> =
    dyn FnMut(Tag, VR, &str) -> Result<Option<DataElement<InMemDicomObject>>, BuildError> + 'a;

fn dataset(j: &J, bulk: &mut ResolveBulk<'_>) -> Result<InMemDicomObject, BuildError> {
    let map = j
        .as_object()
        .ok_or_else(|| cannot("a data set is not a JSON object"))?;
    let mut obj = InMemDicomObject::new_empty();
    for (key, attr) in map {
        let tag =
            parse_tag(key).ok_or_else(|| cannot(format!("{key:?} is not a tag (GGGGEEEE)")))?;
        if tag.group() == 0x0002 {
            continue; // the meta group is the archive's to write
        }
        let vr: VR = attr
            .get("vr")
            .and_then(J::as_str)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| cannot(format!("{key}: missing or unknown vr")))?;
        let elem = if let Some(uri) = attr.get("BulkDataURI").and_then(J::as_str) {
            match bulk(tag, vr, uri)? {
                Some(e) => e,
                None => continue,
            }
        } else if let Some(b64) = attr.get("InlineBinary").and_then(J::as_str) {
            let bytes = unbase64(b64)
                .ok_or_else(|| cannot(format!("{key}: InlineBinary is not base64")))?;
            DataElement::new(tag, vr, binary(vr, bytes))
        } else {
            match (vr, attr.get("Value").and_then(J::as_array)) {
                (VR::SQ, Some(items)) => {
                    let items: Vec<InMemDicomObject> = items
                        .iter()
                        .map(|i| dataset(i, bulk))
                        .collect::<Result<_, _>>()?;
                    DataElement::new(
                        tag,
                        VR::SQ,
                        Value::Sequence(DataSetSequence::new(items, Length::UNDEFINED)),
                    )
                }
                (VR::SQ, None) => DataElement::new(
                    tag,
                    VR::SQ,
                    Value::Sequence(DataSetSequence::new(
                        Vec::<InMemDicomObject>::new(),
                        Length::UNDEFINED,
                    )),
                ),
                (_, Some(vals)) => DataElement::new(tag, vr, values(key, vr, vals)?),
                (_, None) => DataElement::new(tag, vr, PrimitiveValue::Empty),
            }
        };
        obj.put(elem);
    }
    Ok(obj)
}

fn text(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    obj.get(tag)
        .and_then(|e| e.value().to_str().ok())
        .map(|s| s.trim_end_matches(['\0', ' ']).to_string())
        .filter(|s| !s.is_empty())
}

fn put_default(obj: &mut InMemDicomObject, tag: Tag, vr: VR, value: PrimitiveValue) {
    if obj.get(tag).is_none_or(|e| {
        e.value()
            .primitive()
            .is_some_and(|p| p.calculate_byte_len() == 0)
    }) {
        obj.put(DataElement::new(tag, vr, value));
    }
}

/// An empty sequence for a Type 2 sequence attribute, unless one is there.
fn put_empty_sequence(obj: &mut InMemDicomObject, tag: Tag) {
    if obj.get(tag).is_none() {
        obj.put(DataElement::new(
            tag,
            VR::SQ,
            Value::Sequence(DataSetSequence::new(Vec::new(), Length::UNDEFINED)),
        ));
    }
}

fn put_module(obj: &mut InMemDicomObject, m: &PixelModule) {
    let allocated = if m.bits > 8 { 16 } else { 8 };
    let us = |v: u16| PrimitiveValue::from(v);
    obj.put(DataElement::new(Tag(0x0028, 0x0010), VR::US, us(m.rows)));
    obj.put(DataElement::new(Tag(0x0028, 0x0011), VR::US, us(m.columns)));
    obj.put(DataElement::new(Tag(0x0028, 0x0002), VR::US, us(m.samples)));
    obj.put(DataElement::new(
        Tag(0x0028, 0x0004),
        VR::CS,
        PrimitiveValue::from(m.photometric),
    ));
    obj.put(DataElement::new(Tag(0x0028, 0x0100), VR::US, us(allocated)));
    obj.put(DataElement::new(Tag(0x0028, 0x0101), VR::US, us(m.bits)));
    obj.put(DataElement::new(
        Tag(0x0028, 0x0102),
        VR::US,
        us(m.bits - 1),
    ));
    obj.put(DataElement::new(Tag(0x0028, 0x0103), VR::US, us(0)));
    if m.samples > 1 {
        obj.put(DataElement::new(Tag(0x0028, 0x0006), VR::US, us(0)));
    }
    if let Some(n) = m.frames {
        obj.put(DataElement::new(
            Tag(0x0028, 0x0008),
            VR::IS,
            PrimitiveValue::from(n.to_string()),
        ));
        obj.put(DataElement::new(
            Tag(0x0028, 0x0009),
            VR::AT,
            PrimitiveValue::Tags(vec![Tag(0x0018, 0x1063)].into()),
        ));
    }
    if let Some(t) = m.frame_time {
        obj.put(DataElement::new(
            Tag(0x0018, 0x1063),
            VR::DS,
            PrimitiveValue::from(format!("{t:.3}")),
        ));
    }
}

/// Encapsulated Pixel Data holding one stream: an empty Basic Offset Table and fragments
/// of even length below 4 GiB (PS3.5 A.4, 8.2.5).
fn encapsulated(data: &[u8]) -> DataElement<InMemDicomObject> {
    let mut fragments: Vec<Vec<u8>> = data.chunks(0xFFFF_FFF0).map(<[u8]>::to_vec).collect();
    if let Some(last) = fragments.last_mut() {
        if last.len() % 2 == 1 {
            last.push(0);
        }
    }
    DataElement::new(
        Tag(0x7FE0, 0x0010),
        VR::OB,
        Value::PixelSequence(PixelFragmentSequence::new(Vec::<u32>::new(), fragments)),
    )
}

/// Builds the Part 10 bytes of one data set of the metadata.
pub fn build_instance(
    meta: &J,
    parts: &mut dyn FnMut(&str) -> Option<BulkPart>,
    sup: &Supplements,
) -> Result<Vec<u8>, BuildError> {
    let mut ts = crate::ts::EXPLICIT_VR_LE;
    let mut class: Option<&str> = None;
    let mut module: Option<PixelModule> = None;
    let mut document_length: Option<u32> = None;
    let mut missing = Vec::new();
    let mut bulk = |tag: Tag,
                    vr: VR,
                    uri: &str|
     -> Result<Option<DataElement<InMemDicomObject>>, BuildError> {
        let Some(part) = parts(uri) else {
            missing.push(uri.to_string());
            return Ok(None);
        };
        let media = part.media_type.as_str();
        let pixel = tag == Tag(0x7FE0, 0x0010);
        Ok(Some(match media {
            "image/jpeg" if pixel => {
                let (t, m) =
                    jpeg_info(&part.data).map_err(|e| BuildError::DoesNotMatch(e.to_string()))?;
                ts = t;
                class = Some(SECONDARY_CAPTURE);
                module = Some(m);
                encapsulated(&part.data)
            }
            "video/mp4" | "video/quicktime" if pixel => {
                let (t, m) =
                    mp4_info(&part.data).map_err(|e| BuildError::DoesNotMatch(e.to_string()))?;
                ts = t;
                class = Some(VIDEO_PHOTOGRAPHIC);
                module = Some(m);
                encapsulated(&part.data)
            }
            "image/png" if pixel => {
                let (m, pixels) =
                    png_decode(&part.data).map_err(|e| BuildError::DoesNotMatch(e.to_string()))?;
                let vr = if m.bits > 8 { VR::OW } else { VR::OB };
                class = Some(SECONDARY_CAPTURE);
                module = Some(m);
                DataElement::new(tag, vr, binary(vr, pixels))
            }
            "application/pdf" => {
                // ISO 32000-1 7.5.2: a PDF file starts with its header, `%PDF-`
                if !part.data.starts_with(b"%PDF-") {
                    return Err(BuildError::DoesNotMatch(
                        "the application/pdf part is not a PDF document (no %PDF- header)".into(),
                    ));
                }
                class = Some(ENCAPSULATED_PDF);
                let mut pdf = part.data.to_vec();
                document_length = u32::try_from(pdf.len()).ok();
                if pdf.len() % 2 == 1 {
                    pdf.push(0); // PS3.3 C.24.2.1: padded to even length
                }
                DataElement::new(Tag(0x0042, 0x0011), VR::OB, PrimitiveValue::U8(pdf.into()))
            }
            "application/octet-stream" => DataElement::new(tag, vr, binary(vr, part.data.to_vec())),
            other => {
                return Err(BuildError::DoesNotMatch(format!(
                    "bulk data of type {other} cannot be stored as ({:04X},{:04X})",
                    tag.group(),
                    tag.element()
                )))
            }
        }))
    };
    let mut obj = dataset(meta, &mut bulk)?;
    if !missing.is_empty() {
        return Err(cannot(format!(
            "no part with Content-Location {} in the request",
            missing.join(", ")
        )));
    }
    if let Some(m) = &module {
        put_module(&mut obj, m);
    }
    supplement(&mut obj, class, sup)?;
    if class == Some(ENCAPSULATED_PDF) {
        put_default(
            &mut obj,
            Tag(0x0042, 0x0012),
            VR::LO,
            PrimitiveValue::from("application/pdf"),
        );
        put_default(
            &mut obj,
            Tag(0x0028, 0x0301),
            VR::CS,
            PrimitiveValue::from("YES"),
        );
        put_default(&mut obj, Tag(0x0042, 0x0010), VR::ST, PrimitiveValue::Empty);
        // the document's own length, so a reader can drop the pad byte (PS3.3 C.24.2.1)
        if let Some(n) = document_length {
            obj.put(DataElement::new(
                Tag(0x0042, 0x0015),
                VR::UL,
                PrimitiveValue::from(n),
            ));
        }
        put_default(
            &mut obj,
            Tag(0x0008, 0x0060),
            VR::CS,
            PrimitiveValue::from("DOC"),
        );
    }
    if class == Some(ENCAPSULATED_PDF) {
        // SC Equipment (PS3.3 C.8.6.1, Type 1) and Encapsulated Document (C.24.2, Type 2)
        put_default(
            &mut obj,
            Tag(0x0008, 0x0064),
            VR::CS,
            PrimitiveValue::from("WSD"),
        );
        put_default(&mut obj, Tag(0x0008, 0x002A), VR::DT, PrimitiveValue::Empty);
        put_empty_sequence(&mut obj, Tag(0x0040, 0xA043));
    }
    if class == Some(VIDEO_PHOTOGRAPHIC) {
        // VL Image (PS3.3 C.8.12.1): Image Type Type 1, the others Type 2; MPEG-4 is lossy
        put_default(
            &mut obj,
            Tag(0x0008, 0x0008),
            VR::CS,
            PrimitiveValue::Strs(["ORIGINAL".to_string(), "PRIMARY".to_string()].into()),
        );
        put_default(
            &mut obj,
            Tag(0x0028, 0x2110),
            VR::CS,
            PrimitiveValue::from("01"),
        );
        put_empty_sequence(&mut obj, Tag(0x0040, 0x0555));
    }
    if matches!(class, Some(SECONDARY_CAPTURE) | Some(VIDEO_PHOTOGRAPHIC)) {
        // General Series Laterality and General Image Patient Orientation (PS3.3 C.7.3.1,
        // C.7.6.1, Type 2C): nothing is known of either for a photograph, so empty
        for (tag, vr) in [(Tag(0x0020, 0x0060), VR::CS), (Tag(0x0020, 0x0020), VR::CS)] {
            if obj.get(tag).is_none() {
                obj.put(DataElement::new(tag, vr, PrimitiveValue::Empty));
            }
        }
    }
    // Type 2 attributes of Patient, General Study and General Equipment (PS3.3 C.7.1.1,
    // C.7.2.1, C.7.5.1): present,
    // empty when the metadata has no value (PS3.5 7.4.3)
    for (tag, vr) in [
        (Tag(0x0010, 0x0010), VR::PN),
        (Tag(0x0010, 0x0020), VR::LO),
        (Tag(0x0010, 0x0030), VR::DA),
        (Tag(0x0010, 0x0040), VR::CS),
        (Tag(0x0008, 0x0090), VR::PN),
        (Tag(0x0020, 0x0010), VR::SH),
        (Tag(0x0008, 0x0050), VR::SH),
        (Tag(0x0008, 0x0070), VR::LO), // Manufacturer, General Equipment (C.7.5.1)
    ] {
        if obj.get(tag).is_none() {
            obj.put(DataElement::new(tag, vr, PrimitiveValue::Empty));
        }
    }
    if obj.get(Tag(0x0020, 0x000E)).is_none() {
        let class = text(&obj, Tag(0x0008, 0x0016)).unwrap_or_default();
        let modality = text(&obj, Tag(0x0008, 0x0060)).unwrap_or_default();
        let series = sup.series.of(&sup.study_uid, &class, &modality);
        obj.put(DataElement::new(
            Tag(0x0020, 0x000E),
            VR::UI,
            PrimitiveValue::from(series),
        ));
    }
    if ts != crate::ts::EXPLICIT_VR_LE && ts.starts_with("1.2.840.10008.1.2.4.5") {
        put_default(
            &mut obj,
            Tag(0x0028, 0x2110),
            VR::CS,
            PrimitiveValue::from("01"),
        );
    }
    let sop_class = text(&obj, Tag(0x0008, 0x0016)).expect("supplemented");
    let sop = text(&obj, Tag(0x0008, 0x0018)).expect("supplemented");
    let file = obj
        .with_meta(
            FileMetaTableBuilder::new()
                .transfer_syntax(ts)
                .media_storage_sop_class_uid(sop_class)
                .media_storage_sop_instance_uid(sop)
                .implementation_class_uid(IMPLEMENTATION_CLASS_UID)
                .implementation_version_name("ARCSTREAM"),
        )
        .map_err(|e| cannot(format!("cannot make the file meta information: {e}")))?;
    let mut out = Vec::new();
    file.write_all(&mut out)
        .map_err(|e| cannot(format!("cannot encode the object: {e}")))?;
    Ok(out)
}

/// Missing UIDs, SOP Class, numbers and dates (PS3.3 C.7.3.1, C.12.1).
fn supplement(
    obj: &mut InMemDicomObject,
    class: Option<&str>,
    sup: &Supplements,
) -> Result<(), BuildError> {
    let ui = |s: &str| PrimitiveValue::from(s.to_string());
    put_default(obj, Tag(0x0020, 0x000D), VR::UI, ui(&sup.study_uid));
    put_default(obj, Tag(0x0008, 0x0018), VR::UI, ui(&sup.sop_instance_uid));
    match (text(obj, Tag(0x0008, 0x0016)), class) {
        (None, Some(c)) => obj.put(DataElement::new(Tag(0x0008, 0x0016), VR::UI, ui(c))),
        (None, None) => {
            return Err(BuildError::DoesNotMatch(
                "no SOPClassUID and no bulk data to infer it from".into(),
            ))
        }
        (Some(_), _) => None,
    };
    put_default(
        obj,
        Tag(0x0020, 0x0011),
        VR::IS,
        PrimitiveValue::from("999"),
    );
    put_default(obj, Tag(0x0020, 0x0013), VR::IS, PrimitiveValue::from("1"));
    for (date, time) in [
        ((0x0008, 0x0012), (0x0008, 0x0013)),
        ((0x0008, 0x0023), (0x0008, 0x0033)),
    ] {
        put_default(
            obj,
            Tag(date.0, date.1),
            VR::DA,
            PrimitiveValue::from(sup.date.clone()),
        );
        put_default(
            obj,
            Tag(time.0, time.1),
            VR::TM,
            PrimitiveValue::from(sup.time.clone()),
        );
    }
    put_default(
        obj,
        Tag(0x0008, 0x0020),
        VR::DA,
        PrimitiveValue::from(sup.date.clone()),
    );
    put_default(
        obj,
        Tag(0x0008, 0x0030),
        VR::TM,
        PrimitiveValue::from(sup.time.clone()),
    );
    if text(obj, Tag(0x0008, 0x0016)).as_deref() == Some(SECONDARY_CAPTURE) {
        put_default(
            obj,
            Tag(0x0008, 0x0064),
            VR::CS,
            PrimitiveValue::from("WSD"),
        );
        put_default(obj, Tag(0x0008, 0x0060), VR::CS, PrimitiveValue::from("OT"));
    }
    if text(obj, Tag(0x0008, 0x0016)).as_deref() == Some(VIDEO_PHOTOGRAPHIC) {
        put_default(obj, Tag(0x0008, 0x0060), VR::CS, PrimitiveValue::from("XC"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sup() -> Supplements {
        Supplements {
            study_uid: "2.25.1".into(),
            series: SeriesUids::new(|| "2.25.2".into()),
            sop_instance_uid: "2.25.3".into(),
            date: "20261204".into(),
            time: "101500".into(),
        }
    }

    #[test]
    fn base64_round_trips() {
        for s in ["", "f", "fo", "foo", "foob", "fooba", "foobar"] {
            assert_eq!(
                unbase64(&crate::values::base64(s.as_bytes())).unwrap(),
                s.as_bytes()
            );
        }
        assert!(unbase64("a*b").is_none());
    }

    #[test]
    fn a_pdf_becomes_encapsulated_pdf_storage_with_uids_supplemented() {
        let meta = serde_json::json!({
            "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Doe^Jane"}]},
            "00420011": {"vr": "OB", "BulkDataURI": "doc.pdf"},
            "00081030": {"vr": "LO", "Value": ["report"]}
        });
        let mut parts = |uri: &str| {
            (uri == "doc.pdf").then(|| BulkPart {
                media_type: "application/pdf".into(),
                data: bytes::Bytes::from_static(b"%PDF-1.4 x"),
            })
        };
        let bytes = build_instance(&meta, &mut parts, &sup()).unwrap();
        let p = crate::parse_instance(&bytes).unwrap();
        assert_eq!(p.sop_class_uid, ENCAPSULATED_PDF);
        assert_eq!(
            (
                p.study_uid.as_str(),
                p.series_uid.as_str(),
                p.sop_instance_uid.as_str()
            ),
            ("2.25.1", "2.25.2", "2.25.3")
        );
        assert_eq!(p.attrs["00100010"].values, vec!["Doe^Jane"]);
        assert_eq!(p.attrs["00200011"].values, vec!["999"]);
        assert_eq!(
            crate::bulk_value(&bytes, "00420011").unwrap().unwrap(),
            b"%PDF-1.4 x"
        );
        assert_eq!(
            crate::bulk_value(&bytes, "00420015").unwrap().unwrap(),
            10u32.to_le_bytes()
        );
        let mut none = |_: &str| None;
        assert!(matches!(
            build_instance(&meta, &mut none, &sup()),
            Err(BuildError::CannotUnderstand(_))
        ));
        let no_class = serde_json::json!({"00100010": {"vr": "PN"}});
        assert!(matches!(
            build_instance(&no_class, &mut none, &sup()),
            Err(BuildError::DoesNotMatch(_))
        ));
    }
}
