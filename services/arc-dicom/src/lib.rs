//! arc-dicom owns sans-I/O DICOM handling: parsing stored instances (dicom-rs), index
//! attribute extraction, DICOM JSON (PS3.18 Annex F), bulk data access, transfer syntax
//! conversion and multipart/related bodies (PS3.18 8.6.1.2). No async, no I/O.

mod bulk;
pub mod charset;
mod error;
mod json;
mod media_type;
mod multipart;
mod parse;
mod read;
mod text;
pub mod ts;
mod values;
mod xml;

pub use bulk::bulk_value;
pub use error::DicomError;
pub use json::{attrs_to_json, BULKDATA_PREFIX, BULK_THRESHOLD};
pub use media_type::{parse_content_type, MediaType};
pub use multipart::{new_boundary, split_multipart, MultipartWriter, Part};
pub use parse::{header_json, parse_instance, ParsedInstance};
pub use ts::{is_encapsulated, to_explicit_vr_le};
pub use xml::{attrs_to_xml, keyword_of};
