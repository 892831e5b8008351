//! arc-dicom owns sans-I/O DICOM handling: parsing stored instances (dicom-rs), index
//! attribute extraction, DICOM JSON (PS3.18 Annex F), bulk data access, transfer syntax
//! conversion and multipart/related bodies (PS3.18 8.6.1.2). No async, no I/O.

mod bulk;
mod error;
mod json;
mod media_type;
mod multipart;
mod parse;
pub mod pixels;
mod read;
pub mod ts;
mod values;

pub use bulk::bulk_value;
pub use error::DicomError;
pub use json::{attrs_to_json, BULKDATA_PREFIX, BULK_THRESHOLD};
pub use media_type::{parse_content_type, MediaType};
pub use multipart::{new_boundary, split_multipart, MultipartWriter, Part};
pub use parse::{header_json, parse_instance, ParsedInstance};
pub use pixels::{can_decode, transcode};
pub use ts::{is_encapsulated, to_explicit_vr_le};
