//! arc-model owns the archive's vocabulary: event envelopes and payloads, index attributes,
//! object keys. It does no I/O; every other crate speaks these types.

pub mod attrs;
pub mod dictionary;
pub mod event;
pub mod keys;
pub mod uid;

pub use attrs::{tag_key, AttrValue, IndexAttrs, Overrides};
pub use dictionary::Level;
pub use event::{Actor, Event, EventEnvelope, InstanceStored, ModelError, OverwritePolicy, Source};
pub use keys::{blob_key, meta_key, Sha256Hex};
pub use uid::{is_valid_uid, uid_problem, MAX_UID_LEN};
