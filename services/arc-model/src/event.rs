//! Event envelopes and payloads (ARCHITECTURE.md section 4). Every type has a JSON Schema
//! under `schemas/events/` and a golden file under `schemas/golden/` that a test round-trips.
//! Events are small: index attributes and references, never whole headers.

use crate::attrs::IndexAttrs;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Errors of encoding and decoding events.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The bytes are not an event this version understands.
    #[error("undecodable event: {0}")]
    Decode(#[from] serde_json::Error),
    /// The event was written by a newer version of arcstream.
    #[error("{kind} v{version} is newer than this build reads; upgrade the node")]
    NewerVersion {
        /// The event type.
        kind: &'static str,
        /// Its version.
        version: u32,
    },
}

/// Who caused an event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// Authenticated user, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Calling AE title (DIMSE) or the AE title of the web application addressed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aet: Option<String>,
    /// Remote network address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// The envelope every event travels in. The sequence is not part of it: the log assigns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventEnvelope {
    /// UUIDv7: orders by time and matches mirrored copies of the log whose offsets differ.
    pub id: Uuid,
    /// Schema version of the payload type.
    pub version: u32,
    /// When the command handler made the event (informational; the projector never reads it).
    pub time: DateTime<Utc>,
    /// Who caused it.
    #[serde(default)]
    pub actor: Actor,
    /// Why, when a user gave a reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Ties together the events of one request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// The payload, tagged by its type.
    #[serde(flatten)]
    pub event: Event,
}

impl EventEnvelope {
    /// Wraps a payload in a new envelope with a fresh UUIDv7 and the current time.
    pub fn new(event: Event, actor: Actor) -> Self {
        EventEnvelope {
            id: Uuid::now_v7(),
            version: event.version(),
            time: Utc::now(),
            actor,
            reason: None,
            correlation_id: None,
            event,
        }
    }

    /// Serializes to the bytes stored in the log (JSON).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an event always serializes")
    }

    /// Parses bytes read from the log. An event of a version newer than this build knows
    /// is an error: its new fields would be dropped silently.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ModelError> {
        let env: EventEnvelope = serde_json::from_slice(bytes)?;
        if env.version > env.event.max_version() {
            return Err(ModelError::NewerVersion {
                kind: env.event.type_name(),
                version: env.version,
            });
        }
        Ok(env)
    }
}

/// Every kind of change the archive records. The list grows with later issues.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "payload")]
pub enum Event {
    /// An instance was received and its blobs are durable.
    InstanceStored(InstanceStored),
}

impl Event {
    /// The schema version written for this payload. An `InstanceStored` with coerced
    /// attributes is v2, so a reader that does not know coercion refuses it instead of
    /// serving the uncoerced values; without them it stays v1, readable by every node.
    pub fn version(&self) -> u32 {
        match self {
            Event::InstanceStored(e) if !e.coerced.is_empty() => 2,
            Event::InstanceStored(_) => 1,
        }
    }

    /// The newest schema version of this payload type that this build reads.
    pub fn max_version(&self) -> u32 {
        match self {
            Event::InstanceStored(_) => 2,
        }
    }

    /// The type name, as in `schemas/events/{name}.v{version}.schema.json`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Event::InstanceStored(_) => "InstanceStored",
        }
    }
}

/// Where an instance came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Source {
    /// DICOMweb STOW-RS.
    Stow,
    /// DIMSE C-STORE.
    CStore,
    /// Upload through the UI.
    Upload,
    /// Import of files already on disk.
    Import,
}

/// What to do when a SOP Instance UID is already held with different bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OverwritePolicy {
    /// Keep the first version; the newcomer is reported as a duplicate.
    #[default]
    Never,
    /// Replace; the old version stays in the log.
    Always,
}

/// `InstanceStored` v1: an instance's blob and header blob are durable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceStored {
    /// Study Instance UID (0020,000D).
    pub study_uid: String,
    /// Series Instance UID (0020,000E).
    pub series_uid: String,
    /// SOP Instance UID (0008,0018).
    pub sop_instance_uid: String,
    /// SOP Class UID (0008,0016).
    pub sop_class_uid: String,
    /// Transfer syntax of the stored bytes (0002,0010).
    pub transfer_syntax: String,
    /// SHA-256 of the stored bytes; the blob key derives from it.
    pub sha256: String,
    /// SHA-256 of the header document; the meta key derives from it.
    pub meta_sha256: String,
    /// Size of the stored bytes.
    pub size: u64,
    /// How it arrived.
    pub source: Source,
    /// The overwrite policy in force when the handler made the event.
    #[serde(default)]
    pub overwrite: OverwritePolicy,
    /// The attributes the index needs, of every level (patient, study, series, instance),
    /// as the stored object has them.
    pub attrs: IndexAttrs,
    /// v2: attributes coerced at store time (`keyword=value` on STOW-RS), any level, any
    /// attribute. The blob stays as received; the projector applies these to the current
    /// attributes and retrieval merges them into the header (ARCHITECTURE.md section 4).
    #[serde(default, skip_serializing_if = "IndexAttrs::is_empty")]
    pub coerced: IndexAttrs,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every golden event of `schemas/golden/` reads and writes back to the same JSON value.
    #[test]
    fn golden_events_round_trip() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schemas/golden");
        let mut n = 0;
        let mut paths: Vec<_> = std::fs::read_dir(root)
            .unwrap()
            .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
            .map(|e| e.unwrap().path())
            .collect();
        paths.sort();
        for path in paths {
            let folder_version: u32 = path
                .parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()[1..]
                .parse()
                .unwrap();
            let text = std::fs::read_to_string(&path).unwrap();
            let original: serde_json::Value = serde_json::from_str(&text).unwrap();
            let event = EventEnvelope::from_bytes(text.as_bytes()).unwrap();
            let back: serde_json::Value = serde_json::from_slice(&event.to_bytes()).unwrap();
            assert_eq!(back, original, "{}", path.display());
            assert_eq!(
                event.event.type_name(),
                path.file_stem().unwrap().to_str().unwrap()
            );
            assert_eq!(event.version, folder_version, "{}", path.display());
            assert_eq!(
                event.event.version(),
                folder_version,
                "the version a handler writes for it"
            );
            n += 1;
        }
        assert!(n >= 2);
    }

    #[test]
    fn a_newer_version_is_refused_not_misread() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../schemas/golden/v2/InstanceStored.json"
        ))
        .unwrap();
        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["version"] = 3.into();
        let err = EventEnvelope::from_bytes(v.to_string().as_bytes()).unwrap_err();
        assert!(matches!(err, ModelError::NewerVersion { version: 3, .. }));
    }
}
