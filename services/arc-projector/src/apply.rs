//! Applies events to the state store inside one write transaction. Deterministic: the result
//! depends only on the state and the event, never on clocks or other mutable inputs.

use crate::state::*;
use crate::Result;
use arc_model::dictionary::{Level, INDEXED};
use arc_model::{AttrValue, Event, EventEnvelope, IndexAttrs, InstanceStored, OverwritePolicy};
use redb::{ReadableTable, Table, WriteTransaction};
use std::collections::BTreeSet;

/// Entities whose index documents must be rebuilt after a batch.
#[derive(Debug, Default)]
pub(crate) struct Touched {
    pub patients: BTreeSet<String>,
    pub studies: BTreeSet<String>,
    pub series: BTreeSet<String>,
    pub instances: BTreeSet<String>,
}

impl Touched {
    /// Marks every entity an event names (used both when applying and when only the index
    /// has to catch up with events the state store already applied).
    pub(crate) fn add_event(&mut self, event: &Event) {
        match event {
            Event::InstanceStored(e) => {
                self.patients.insert(patient_key(&current_attrs(e)));
                self.studies.insert(e.study_uid.clone());
                self.series.insert(e.series_uid.clone());
                self.instances.insert(e.sop_instance_uid.clone());
            }
        }
    }
}

/// The index attributes of a stored instance as they currently are: those of the object,
/// with the indexed ones among the attributes coerced at store time put over them.
pub fn current_attrs(e: &InstanceStored) -> IndexAttrs {
    let mut attrs = e.attrs.clone();
    for (tag, value) in &e.coerced {
        if INDEXED.iter().any(|i| i.tag == tag) {
            attrs.insert(tag.clone(), value.clone());
        }
    }
    attrs
}

/// Patient key: Patient ID, and the issuer when there is one (PS3.3 C.7.1.1: an ID is unique
/// only within its issuer).
pub fn patient_key(attrs: &IndexAttrs) -> String {
    let id = attrs
        .get("00100020")
        .and_then(AttrValue::first)
        .unwrap_or("");
    match attrs.get("00100021").and_then(AttrValue::first) {
        Some(issuer) if !issuer.is_empty() => format!("{id}^{issuer}"),
        _ => id.to_string(),
    }
}

/// Splits attributes by the level they belong to.
pub(crate) fn split_levels(attrs: &IndexAttrs) -> [IndexAttrs; 4] {
    let mut out: [IndexAttrs; 4] = Default::default();
    for (tag, value) in attrs {
        let level = INDEXED
            .iter()
            .find(|e| e.tag == tag)
            .map(|e| e.level)
            .unwrap_or(Level::Instance);
        let i = match level {
            Level::Patient => 0,
            Level::Study => 1,
            Level::Series => 2,
            Level::Instance => 3,
        };
        out[i].insert(tag.clone(), value.clone());
    }
    out
}

struct Tables<'t> {
    patients: Table<'t, &'static str, &'static [u8]>,
    studies: Table<'t, &'static str, &'static [u8]>,
    series: Table<'t, &'static str, &'static [u8]>,
    instances: Table<'t, &'static str, &'static [u8]>,
    children: Table<'t, &'static str, ()>,
    outcomes: Table<'t, &'static str, &'static [u8]>,
}

fn get<T: for<'de> serde::Deserialize<'de>>(
    t: &Table<'_, &'static str, &'static [u8]>,
    key: &str,
) -> Result<Option<T>> {
    match t.get(key)? {
        Some(v) => Ok(Some(decode(v.value())?)),
        None => Ok(None),
    }
}

fn put<T: serde::Serialize>(
    t: &mut Table<'_, &'static str, &'static [u8]>,
    key: &str,
    value: &T,
) -> Result<()> {
    t.insert(key, encode(value).as_slice())?;
    Ok(())
}

/// Applies one event at `seq`; an event id already applied (a retried append) changes nothing.
pub(crate) fn apply(txn: &WriteTransaction, seq: u64, env: &EventEnvelope) -> Result<()> {
    let mut t = Tables {
        patients: txn.open_table(PATIENTS)?,
        studies: txn.open_table(STUDIES)?,
        series: txn.open_table(SERIES)?,
        instances: txn.open_table(INSTANCES)?,
        children: txn.open_table(CHILDREN)?,
        outcomes: txn.open_table(OUTCOMES)?,
    };
    let id = env.id.to_string();
    if t.outcomes.get(id.as_str())?.is_some() {
        return Ok(());
    }
    let at = Stamp {
        seq,
        millis: env.time.timestamp_millis(),
    };
    let outcome = match &env.event {
        Event::InstanceStored(e) => instance_stored(&mut t, at, e)?,
    };
    put(&mut t.outcomes, &id, &outcome)
}

/// Where and when an event is applied: its log position and its time.
#[derive(Debug, Clone, Copy)]
struct Stamp {
    seq: u64,
    millis: i64,
}

fn instance_stored(t: &mut Tables<'_>, at: Stamp, e: &InstanceStored) -> Result<Outcome> {
    let seq = at.seq;
    if let Some(held) = get::<InstanceRec>(&t.instances, &e.sop_instance_uid)? {
        // the same bytes with the same coercion: nothing changes
        if held.sha256 == e.sha256 && held.coerced == e.coerced {
            return Ok(Outcome::Unchanged { seq: held.ord });
        }
        if e.overwrite == OverwritePolicy::Never {
            // PS3.7 C.4.2: 0111 Duplicate SOP Instance.
            return Ok(Outcome::Refused {
                status: 0x0111,
                reason: format!(
                    "a different object with SOP Instance UID {} is already stored (overwrite policy: never)",
                    e.sop_instance_uid
                ),
            });
        }
    }
    if let Some(series) = get::<SeriesRec>(&t.series, &e.series_uid)? {
        if series.study_uid != e.study_uid {
            // dcm4chee answers a series that moves between studies with 0xC409 as well.
            return Ok(Outcome::Refused {
                status: 0xC409,
                reason: format!(
                    "series {} already belongs to study {}",
                    e.series_uid, series.study_uid
                ),
            });
        }
    }
    let replaced = match get::<InstanceRec>(&t.instances, &e.sop_instance_uid)? {
        Some(old) => {
            remove_instance(t, at, &e.sop_instance_uid, &old)?;
            true
        }
        None => false,
    };
    add_instance(t, at, e)?;
    Ok(if replaced {
        Outcome::Replaced { seq }
    } else {
        Outcome::Stored { seq }
    })
}

fn add_instance(t: &mut Tables<'_>, at: Stamp, e: &InstanceStored) -> Result<()> {
    let seq = at.seq;
    let current = current_attrs(e);
    let [patient_attrs, study_attrs, series_attrs, instance_attrs] = split_levels(&current);
    let pkey = patient_key(&current);
    let modality = series_attrs
        .get("00080060")
        .and_then(AttrValue::first)
        .map(str::to_string);

    let mut patient = get::<PatientRec>(&t.patients, &pkey)?.unwrap_or_else(|| PatientRec {
        attrs: patient_attrs.clone(),
        studies: 0,
        series: 0,
        instances: 0,
        ord: seq,
        seq,
    });
    let mut study = match get::<StudyRec>(&t.studies, &e.study_uid)? {
        Some(s) => s,
        None => {
            patient.studies += 1;
            t.children.insert(link(&pkey, &e.study_uid).as_str(), ())?;
            let mut attrs = patient_attrs;
            attrs.extend(study_attrs);
            StudyRec {
                patient_key: pkey.clone(),
                attrs,
                series: 0,
                instances: 0,
                size: 0,
                modalities: BTreeSet::new(),
                sop_classes: BTreeSet::new(),
                ord: seq,
                seq,
                modified: at.millis,
            }
        }
    };
    // A study keeps the patient of its first instance; counts go to that patient.
    let study_pkey = study.patient_key.clone();
    if study_pkey != pkey {
        patient = get::<PatientRec>(&t.patients, &study_pkey)?.expect("a study's patient exists");
    }
    let mut series = match get::<SeriesRec>(&t.series, &e.series_uid)? {
        Some(s) => s,
        None => {
            study.series += 1;
            patient.series += 1;
            t.children
                .insert(link(&e.study_uid, &e.series_uid).as_str(), ())?;
            SeriesRec {
                study_uid: e.study_uid.clone(),
                attrs: series_attrs,
                instances: 0,
                size: 0,
                ord: seq,
                seq,
                modified: at.millis,
            }
        }
    };
    series.instances += 1;
    series.size += e.size;
    series.seq = seq;
    series.modified = series.modified.max(at.millis);
    study.instances += 1;
    study.size += e.size;
    study.seq = seq;
    study.modified = study.modified.max(at.millis);
    study.sop_classes.insert(e.sop_class_uid.clone());
    if let Some(m) = modality.or_else(|| {
        series
            .attrs
            .get("00080060")
            .and_then(AttrValue::first)
            .map(str::to_string)
    }) {
        study.modalities.insert(m);
    }
    patient.instances += 1;
    patient.seq = seq;
    t.children
        .insert(link(&e.series_uid, &e.sop_instance_uid).as_str(), ())?;
    let rec = InstanceRec {
        study_uid: e.study_uid.clone(),
        series_uid: e.series_uid.clone(),
        sop_class_uid: e.sop_class_uid.clone(),
        transfer_syntax: e.transfer_syntax.clone(),
        sha256: e.sha256.clone(),
        meta_sha256: e.meta_sha256.clone(),
        size: e.size,
        attrs: instance_attrs,
        ord: seq,
        seq,
        coerced: e.coerced.clone(),
        modified: at.millis,
    };
    put(&mut t.instances, &e.sop_instance_uid, &rec)?;
    put(&mut t.series, &e.series_uid, &series)?;
    put(&mut t.studies, &e.study_uid, &study)?;
    put(&mut t.patients, &study_pkey, &patient)?;
    Ok(())
}

/// Removes an instance and its empty parents, adjusting every aggregate.
fn remove_instance(t: &mut Tables<'_>, at: Stamp, sop: &str, old: &InstanceRec) -> Result<()> {
    t.instances.remove(sop)?;
    t.children.remove(link(&old.series_uid, sop).as_str())?;
    let mut series: SeriesRec =
        get(&t.series, &old.series_uid)?.expect("an instance's series exists");
    let mut study: StudyRec = get(&t.studies, &old.study_uid)?.expect("an instance's study exists");
    let mut patient: PatientRec =
        get(&t.patients, &study.patient_key)?.expect("a study's patient exists");
    series.instances -= 1;
    series.size -= old.size;
    series.seq = at.seq;
    series.modified = series.modified.max(at.millis);
    study.instances -= 1;
    study.size -= old.size;
    study.seq = at.seq;
    study.modified = study.modified.max(at.millis);
    patient.instances -= 1;
    if series.instances == 0 {
        t.series.remove(old.series_uid.as_str())?;
        t.children
            .remove(link(&old.study_uid, &old.series_uid).as_str())?;
        study.series -= 1;
        patient.series -= 1;
    } else {
        put(&mut t.series, &old.series_uid, &series)?;
    }
    // Recompute the study's sets from what remains: removal cannot subtract from a set.
    study.modalities.clear();
    study.sop_classes.clear();
    for se in children_in(&t.children, &old.study_uid)? {
        if let Some(s) = get::<SeriesRec>(&t.series, &se)? {
            if let Some(m) = s.attrs.get("00080060").and_then(AttrValue::first) {
                study.modalities.insert(m.to_string());
            }
        }
        for i in children_in(&t.children, &se)? {
            if let Some(r) = get::<InstanceRec>(&t.instances, &i)? {
                study.sop_classes.insert(r.sop_class_uid);
            }
        }
    }
    if study.instances == 0 {
        t.studies.remove(old.study_uid.as_str())?;
        t.children
            .remove(link(&study.patient_key, &old.study_uid).as_str())?;
        patient.studies -= 1;
    } else {
        put(&mut t.studies, &old.study_uid, &study)?;
    }
    if patient.studies == 0 {
        t.patients.remove(study.patient_key.as_str())?;
    } else {
        put(&mut t.patients, &study.patient_key, &patient)?;
    }
    Ok(())
}
