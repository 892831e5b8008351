//! Builds the index documents of touched entities from the state store: each level carries
//! its own attributes, those of the levels above, and its computed attributes (PS3.4 C.6.1.1).

use crate::apply::Touched;
use crate::state::*;
use crate::Result;
use arc_index::{EntityDoc, StudyIndex};
use arc_model::{AttrValue, IndexAttrs, Level};
use redb::{ReadableTable, WriteTransaction};

fn count(attrs: &mut IndexAttrs, tag: &str, n: u64) {
    attrs.insert(tag.to_string(), AttrValue::text("IS", vec![n.to_string()]));
}

fn online(attrs: &mut IndexAttrs) {
    // PS3.4 C.6.1.1.5.1 (Instance Availability): everything held is ONLINE.
    attrs.insert(
        "00080056".to_string(),
        AttrValue::text("CS", vec!["ONLINE".to_string()]),
    );
}

/// Study document attributes without the computed ones (inherited by series and instances).
fn study_base(study: &StudyRec) -> IndexAttrs {
    study.attrs.clone()
}

/// Rewrites the documents of every touched entity (deleting those that no longer exist).
pub(crate) fn rebuild(
    txn: &WriteTransaction,
    index: &mut StudyIndex,
    touched: &Touched,
) -> Result<()> {
    let patients = txn.open_table(PATIENTS)?;
    let studies = txn.open_table(STUDIES)?;
    let series_t = txn.open_table(SERIES)?;
    let instances = txn.open_table(INSTANCES)?;
    let load = |t: &redb::Table<'_, &'static str, &'static [u8]>,
                k: &str|
     -> Result<Option<Vec<u8>>> { Ok(t.get(k)?.map(|v| v.value().to_vec())) };

    for key in &touched.patients {
        match load(&patients, key)? {
            Some(bytes) => {
                let p: PatientRec = decode(&bytes)?;
                let mut attrs = p.attrs.clone();
                count(&mut attrs, "00201200", p.studies);
                count(&mut attrs, "00201202", p.series);
                count(&mut attrs, "00201204", p.instances);
                index.upsert(EntityDoc {
                    level: Level::Patient,
                    uid: key.clone(),
                    study_uid: None,
                    series_uid: None,
                    ord: p.ord,
                    size: 0,
                    attrs,
                })?;
            }
            None => index.delete(Level::Patient, key)?,
        }
    }
    for uid in &touched.studies {
        match load(&studies, uid)? {
            Some(bytes) => {
                let s: StudyRec = decode(&bytes)?;
                let mut attrs = study_base(&s);
                online(&mut attrs);
                attrs.insert(
                    "00080061".into(),
                    AttrValue::text("CS", s.modalities.iter().cloned().collect()),
                );
                attrs.insert(
                    "00080062".into(),
                    AttrValue::text("UI", s.sop_classes.iter().cloned().collect()),
                );
                count(&mut attrs, "00201206", s.series);
                count(&mut attrs, "00201208", s.instances);
                index.upsert(EntityDoc {
                    level: Level::Study,
                    uid: uid.clone(),
                    study_uid: Some(uid.clone()),
                    series_uid: None,
                    ord: s.ord,
                    size: s.size,
                    attrs,
                })?;
            }
            None => index.delete(Level::Study, uid)?,
        }
    }
    for uid in &touched.series {
        match load(&series_t, uid)? {
            Some(bytes) => {
                let se: SeriesRec = decode(&bytes)?;
                let study: StudyRec =
                    decode(&load(&studies, &se.study_uid)?.expect("a series' study exists"))?;
                let mut attrs = study_base(&study);
                attrs.extend(se.attrs.clone());
                online(&mut attrs);
                count(&mut attrs, "00201209", se.instances);
                index.upsert(EntityDoc {
                    level: Level::Series,
                    uid: uid.clone(),
                    study_uid: Some(se.study_uid.clone()),
                    series_uid: Some(uid.clone()),
                    ord: se.ord,
                    size: se.size,
                    attrs,
                })?;
            }
            None => index.delete(Level::Series, uid)?,
        }
    }
    for uid in &touched.instances {
        match load(&instances, uid)? {
            Some(bytes) => {
                let i: InstanceRec = decode(&bytes)?;
                let study: StudyRec =
                    decode(&load(&studies, &i.study_uid)?.expect("an instance's study exists"))?;
                let se: SeriesRec =
                    decode(&load(&series_t, &i.series_uid)?.expect("an instance's series exists"))?;
                let mut attrs = study_base(&study);
                attrs.extend(se.attrs);
                attrs.extend(i.attrs.clone());
                online(&mut attrs);
                index.upsert(EntityDoc {
                    level: Level::Instance,
                    uid: uid.clone(),
                    study_uid: Some(i.study_uid.clone()),
                    series_uid: Some(i.series_uid.clone()),
                    ord: i.ord,
                    size: i.size,
                    attrs,
                })?;
            }
            None => index.delete(Level::Instance, uid)?,
        }
    }
    Ok(())
}
