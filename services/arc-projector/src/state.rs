//! The projector's state store (redb): entities with their current attributes and aggregates,
//! the UID → blob map, parent → child links, each event's verdict, and the applied position.

use arc_model::{IndexAttrs, Overrides};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

pub(crate) const META: TableDefinition<'_, &str, u64> = TableDefinition::new("meta");
pub(crate) const PATIENTS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("patients");
pub(crate) const STUDIES: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("studies");
pub(crate) const SERIES: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("series");
pub(crate) const INSTANCES: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("instances");
/// Links `parent \0 child` for patient→study, study→series and series→instance.
pub(crate) const CHILDREN: TableDefinition<'_, &str, ()> = TableDefinition::new("children");
pub(crate) const OUTCOMES: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("outcomes");

/// Key of the next sequence to apply in `META`.
pub(crate) const NEXT: &str = "next";

/// A stored instance: where its bytes are and what the index knows of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceRec {
    /// Study Instance UID.
    pub study_uid: String,
    /// Series Instance UID.
    pub series_uid: String,
    /// SOP Class UID.
    pub sop_class_uid: String,
    /// Transfer syntax of the stored bytes.
    pub transfer_syntax: String,
    /// SHA-256 of the stored bytes.
    pub sha256: String,
    /// SHA-256 of the header document.
    pub meta_sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Instance-level attributes.
    pub attrs: IndexAttrs,
    /// Sequence of the event that created it (orders results).
    pub ord: u64,
    /// Sequence of the last event that changed it (ETags).
    pub seq: u64,
    /// Attributes coerced at store time: merged into the stored header on retrieve.
    #[serde(default, skip_serializing_if = "IndexAttrs::is_empty")]
    pub coerced: IndexAttrs,
    /// Time of the last change (Unix milliseconds; the latest event time seen, so it never
    /// goes back), for Last-Modified.
    #[serde(default)]
    pub modified: i64,
}

impl InstanceRec {
    /// The current attributes that differ from the stored object and that retrieval merges
    /// into its header: today the attributes coerced at store time. This is the one seam
    /// through which edits of the patient, study or series (later events) will reach
    /// retrieval too; an instance without overrides streams its bytes untouched.
    /// An instance record changes only by a new store event, so its `modified` time is
    /// the time of the coercion.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            attrs: self.coerced.clone(),
            reason: "COERCE",
            millis: self.modified,
        }
    }
}

/// A series with its attributes and aggregates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesRec {
    /// The study it belongs to.
    pub study_uid: String,
    /// Series-level attributes.
    pub attrs: IndexAttrs,
    /// Number of instances.
    pub instances: u64,
    /// Bytes of its instances.
    pub size: u64,
    /// Sequence of the creating event.
    pub ord: u64,
    /// Sequence of the last change.
    pub seq: u64,
    /// Time of the last change (Unix milliseconds), for Last-Modified.
    #[serde(default)]
    pub modified: i64,
}

/// A study with its attributes (and its patient's, as of its first instance) and aggregates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyRec {
    /// Key of its patient.
    pub patient_key: String,
    /// Patient- and study-level attributes.
    pub attrs: IndexAttrs,
    /// Number of series.
    pub series: u64,
    /// Number of instances.
    pub instances: u64,
    /// Bytes of its instances.
    pub size: u64,
    /// Modalities of its series.
    pub modalities: BTreeSet<String>,
    /// SOP classes of its instances.
    pub sop_classes: BTreeSet<String>,
    /// Sequence of the creating event.
    pub ord: u64,
    /// Sequence of the last change.
    pub seq: u64,
    /// Time of the last change (Unix milliseconds), for Last-Modified.
    #[serde(default)]
    pub modified: i64,
}

/// A patient, keyed by Patient ID and issuer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatientRec {
    /// Patient-level attributes.
    pub attrs: IndexAttrs,
    /// Number of studies, series and instances.
    pub studies: u64,
    /// Number of series.
    pub series: u64,
    /// Number of instances.
    pub instances: u64,
    /// Sequence of the creating event.
    pub ord: u64,
    /// Sequence of the last change.
    pub seq: u64,
}

/// The projector's verdict on one event, which the command handler answers from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Outcome {
    /// A new instance was stored.
    Stored {
        /// The log position.
        seq: u64,
    },
    /// The same bytes were already held: nothing changed.
    Unchanged {
        /// The position of the event that stored them first.
        seq: u64,
    },
    /// A different object with the same SOP Instance UID replaced the held one (overwrite=always).
    Replaced {
        /// The log position.
        seq: u64,
    },
    /// Refused: a different object with that SOP Instance UID is held (overwrite=never),
    /// or the instance contradicts what is held (e.g. its series belongs to another study).
    Refused {
        /// DICOM status for the Failure Reason (PS3.18 Table 10.5.3-3, PS3.7 C.4.2).
        status: u16,
        /// Why, for people.
        reason: String,
    },
}

pub(crate) fn link(parent: &str, child: &str) -> String {
    format!("{parent}\0{child}")
}

pub(crate) fn decode<T: for<'de> Deserialize<'de>>(
    bytes: &[u8],
) -> Result<T, crate::ProjectorError> {
    serde_json::from_slice(bytes)
        .map_err(|e| crate::ProjectorError::State(format!("undecodable record: {e}")))
}

pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("records always serialize")
}

/// Reads the state as of the last committed batch; cheap to clone, safe to use from any thread.
#[derive(Debug, Clone)]
pub struct StateReader {
    pub(crate) db: std::sync::Arc<redb::Database>,
}

macro_rules! getter {
    ($name:ident, $table:ident, $ty:ty) => {
        /// Looks up one record by key.
        pub fn $name(&self, key: &str) -> crate::Result<Option<$ty>> {
            let txn = self.db.begin_read()?;
            let table = match txn.open_table($table) {
                Ok(t) => t,
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            match table.get(key)? {
                Some(v) => Ok(Some(decode(v.value())?)),
                None => Ok(None),
            }
        }
    };
}

impl StateReader {
    getter!(instance, INSTANCES, InstanceRec);
    getter!(series, SERIES, SeriesRec);
    getter!(study, STUDIES, StudyRec);
    getter!(patient, PATIENTS, PatientRec);

    /// The verdict on an event, by event id, once it is applied.
    pub fn outcome(&self, event_id: &str) -> crate::Result<Option<Outcome>> {
        let txn = self.db.begin_read()?;
        let table = match txn.open_table(OUTCOMES) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        match table.get(event_id)? {
            Some(v) => Ok(Some(decode(v.value())?)),
            None => Ok(None),
        }
    }

    /// The UIDs linked under a parent (a study's series, a series' instances, a patient's studies), sorted.
    pub fn children(&self, parent: &str) -> crate::Result<Vec<String>> {
        let txn = self.db.begin_read()?;
        let table = match txn.open_table(CHILDREN) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        children_in(&table, parent)
    }

    /// The instances of a study (or of one series of it), each with its record, in storage order.
    pub fn instances_of(
        &self,
        study_uid: &str,
        series_uid: Option<&str>,
    ) -> crate::Result<Vec<(String, InstanceRec)>> {
        let series = match series_uid {
            Some(s) => vec![s.to_string()],
            None => self.children(study_uid)?,
        };
        let mut out = Vec::new();
        for se in series {
            for sop in self.children(&se)? {
                if let Some(rec) = self.instance(&sop)? {
                    if rec.study_uid == study_uid {
                        out.push((sop, rec));
                    }
                }
            }
        }
        out.sort_by_key(|(_, r)| r.ord);
        Ok(out)
    }

    /// The next sequence the state store will apply.
    pub fn position(&self) -> crate::Result<u64> {
        let txn = self.db.begin_read()?;
        let table = match txn.open_table(META) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(0),
            Err(e) => return Err(e.into()),
        };
        Ok(table.get(NEXT)?.map(|v| v.value()).unwrap_or(0))
    }
}

pub(crate) fn children_in(
    table: &impl ReadableTable<&'static str, ()>,
    parent: &str,
) -> crate::Result<Vec<String>> {
    let lo = format!("{parent}\0");
    let hi = format!("{parent}\u{1}");
    let mut out = Vec::new();
    for entry in table.range(lo.as_str()..hi.as_str())? {
        let (k, _) = entry?;
        out.push(k.value()[lo.len()..].to_string());
    }
    Ok(out)
}
