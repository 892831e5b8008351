//! arc-dicom owns sans-I/O DICOM handling: parsing stored instances (dicom-rs), index
//! attribute extraction, DICOM JSON (PS3.18 Annex F), bulk data access, transfer syntax
//! conversion and multipart/related bodies (PS3.18 8.6.1.2). No async, no I/O.

mod build;
mod bulk;
pub mod charset;
mod coerce;
mod error;
mod json;
mod media;
mod media_type;
mod multipart;
mod multipart_stream;
mod parse;
pub mod pixels;
mod read;
mod read_header;
mod text;
pub mod ts;
mod values;
mod vr_check;
mod xml;
mod xml_read;

pub use build::{
    build_instance, BuildError, BulkPart, SeriesUids, Supplements, IMPLEMENTATION_CLASS_UID,
};
pub use bulk::{bitstream_media_type, bulk_value, bulk_value_any, bulk_values, BulkValue};
pub use coerce::{apply_overrides, coercion_attr, merge_json, tag_of};
pub use error::DicomError;
pub use json::{attrs_to_json, BULKDATA_PREFIX, BULK_THRESHOLD};
pub use media::{jpeg_info, mp4_info, png_decode, PixelModule};
pub use media_type::{parse_content_type, MediaType};
pub use multipart::{new_boundary, split_multipart, MultipartWriter, Part};
pub use multipart_stream::{MultipartEvent, MultipartParser};
pub use parse::{
    header_json, parse_instance, parse_instance_header, ParsedInstance, MAX_HEADER_BYTES,
};
pub use pixels::{can_decode, transcode};
pub use read::failed_object_uids;
pub use ts::{is_encapsulated, to_explicit_vr_le};
pub use xml::json_to_native_xml;
pub use xml::{attrs_to_xml, keyword_of};
pub use xml_read::native_xml_to_json;
