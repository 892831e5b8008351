//! The store command (STOW-RS now, C-STORE later): parse each part, write its blob and header
//! blob, append one `InstanceStored` per readable part in a single batch, wait for the
//! projection, and report each part by the projector's verdict.

use crate::{Archive, ArchiveError};
use arc_dicom::{parse_instance, DicomError};
use arc_model::{blob_key, meta_key, Actor, Event, EventEnvelope, InstanceStored, Source};
use arc_projector::Outcome;
use bytes::Bytes;
use sha2::{Digest, Sha256};

/// One store request: the parts in arrival order.
#[derive(Debug)]
pub struct StoreRequest {
    /// The object of each part (a Part 10 file, with or without preamble).
    pub parts: Vec<Bytes>,
    /// The study named in the request path; instances of other studies fail.
    pub study_uid: Option<String>,
    /// Who sent it.
    pub actor: Actor,
    /// How it arrived.
    pub source: Source,
}

/// What happened to one part.
#[derive(Debug, Clone, PartialEq)]
pub enum PartResult {
    /// Held now (newly stored, replaced, or the same bytes were held already).
    Stored {
        /// Study Instance UID.
        study_uid: String,
        /// Series Instance UID.
        series_uid: String,
        /// SOP Class UID.
        sop_class_uid: String,
        /// SOP Instance UID.
        sop_instance_uid: String,
        /// The projector's verdict; `None` when the wait for the projection ran out.
        outcome: Option<Outcome>,
    },
    /// Not stored.
    Failed {
        /// SOP Class UID, when it could be read.
        sop_class_uid: Option<String>,
        /// SOP Instance UID, when it could be read.
        sop_instance_uid: Option<String>,
        /// Failure Reason (PS3.18 Table 10.5.3-3; PS3.4 B.2.3).
        status: u16,
        /// Why, for people.
        reason: String,
    },
}

/// The answer to a store request.
#[derive(Debug)]
pub struct StoreReport {
    /// One result per part, in order.
    pub results: Vec<PartResult>,
    /// The log position of the last appended event, if any was appended.
    pub last_seq: Option<u64>,
}

/// PS3.4 B.2.3: Cxxx "Cannot understand".
const CANNOT_UNDERSTAND: u16 = 0xC000;
/// dcm4chee's status for an instance of another study than the one addressed.
const DIFF_STUDY_INSTANCE_UID: u16 = 0xC409;
/// PS3.4 B.2.3: A700 "Refused: Out of Resources".
const OUT_OF_RESOURCES: u16 = 0xA700;

struct Prepared {
    event: InstanceStored,
    blob: Bytes,
    meta: Bytes,
}

fn prepare(part: &Bytes, expected_study: Option<&str>, overwrite: arc_model::OverwritePolicy, source: Source) -> Result<Prepared, PartResult> {
    // PS3.4 B.2.3: whatever keeps the object from being read is "cannot understand".
    let parsed = parse_instance(part).map_err(|e: DicomError| PartResult::Failed {
        sop_class_uid: None,
        sop_instance_uid: None,
        status: CANNOT_UNDERSTAND,
        reason: e.to_string(),
    })?;
    if let Some(study) = expected_study {
        if parsed.study_uid != study {
            return Err(PartResult::Failed {
                sop_class_uid: Some(parsed.sop_class_uid),
                sop_instance_uid: Some(parsed.sop_instance_uid),
                status: DIFF_STUDY_INSTANCE_UID,
                reason: format!("instance belongs to study {}, not to study {study} named in the request", parsed.study_uid),
            });
        }
    }
    let sha256 = hex::encode(Sha256::digest(part));
    let json = serde_json::to_vec(&parsed.header_json).expect("JSON values serialize");
    let meta = zstd::bulk::compress(&json, 3).map_err(|e| PartResult::Failed {
        sop_class_uid: Some(parsed.sop_class_uid.clone()),
        sop_instance_uid: Some(parsed.sop_instance_uid.clone()),
        status: OUT_OF_RESOURCES,
        reason: format!("cannot compress header: {e}"),
    })?;
    let meta_sha256 = hex::encode(Sha256::digest(&meta));
    Ok(Prepared {
        event: InstanceStored {
            study_uid: parsed.study_uid,
            series_uid: parsed.series_uid,
            sop_instance_uid: parsed.sop_instance_uid,
            sop_class_uid: parsed.sop_class_uid,
            transfer_syntax: parsed.transfer_syntax,
            sha256,
            meta_sha256,
            size: part.len() as u64,
            source,
            overwrite,
            attrs: parsed.attrs,
        },
        blob: part.clone(),
        meta: Bytes::from(meta),
    })
}

impl Archive {
    /// Stores the parts of one request. Returns `Err` only when nothing was appended.
    pub async fn store(&self, req: StoreRequest) -> Result<StoreReport, ArchiveError> {
        let overwrite = self.overwrite;
        let StoreRequest { parts, study_uid, actor, source } = req;
        // Parsing is CPU-bound: off the async workers.
        let prepared: Vec<Result<Prepared, PartResult>> = tokio::task::spawn_blocking(move || {
            parts.iter().map(|p| prepare(p, study_uid.as_deref(), overwrite, source)).collect()
        })
        .await
        .map_err(|e| ArchiveError::Unavailable(format!("parser task failed: {e}")))?;

        // Blobs first, then the event: a crash in between leaves only unreferenced blobs.
        let writes = prepared.iter().filter_map(|p| p.as_ref().ok()).map(|p| async move {
            put_absent(&*self.store, &blob_key(&p.event.sha256), p.blob.clone()).await?;
            put_absent(&*self.store, &meta_key(&p.event.meta_sha256), p.meta.clone()).await
        });
        for r in futures::future::join_all(writes).await {
            r.map_err(|e| ArchiveError::Unavailable(e.to_string()))?;
        }

        let envelopes: Vec<EventEnvelope> = prepared
            .iter()
            .filter_map(|p| p.as_ref().ok())
            .map(|p| EventEnvelope::new(Event::InstanceStored(p.event.clone()), actor.clone()))
            .collect();
        let mut last_seq = None;
        if !envelopes.is_empty() {
            let records = envelopes.iter().map(|e| Bytes::from(e.to_bytes())).collect();
            let seqs = self.log.append(records).await.map_err(|e| ArchiveError::Unavailable(e.to_string()))?;
            // The batch need not be contiguous (other nodes write to the same log): once the
            // highest is applied, every one of them is.
            let last = seqs.iter().copied().max().ok_or_else(|| ArchiveError::Unavailable("the log returned no sequence".into()))?;
            last_seq = Some(last);
            // A durable append is never answered as a failure: if the wait runs out the
            // answer is success without verdicts, carrying the position.
            if !self.projector.wait_applied(last, self.write_wait).await {
                tracing::warn!(seq = last, "projection did not catch up in time; answering from the append");
            }
        }

        let state = self.projector.state();
        let mut results = Vec::with_capacity(prepared.len());
        let mut next_env = envelopes.iter();
        for p in prepared {
            match p {
                Err(failed) => results.push(failed),
                Ok(p) => {
                    let env = next_env.next().expect("one envelope per prepared part");
                    let outcome = state.outcome(&env.id.to_string()).ok().flatten();
                    let e = p.event;
                    results.push(match outcome {
                        Some(Outcome::Refused { status, reason }) => PartResult::Failed {
                            sop_class_uid: Some(e.sop_class_uid),
                            sop_instance_uid: Some(e.sop_instance_uid),
                            status,
                            reason,
                        },
                        outcome => PartResult::Stored {
                            study_uid: e.study_uid,
                            series_uid: e.series_uid,
                            sop_class_uid: e.sop_class_uid,
                            sop_instance_uid: e.sop_instance_uid,
                            outcome,
                        },
                    });
                }
            }
        }
        Ok(StoreReport { results, last_seq })
    }
}

/// Writes a content-addressed object unless it is already there. `put_if_absent` answering
/// false means the object is present and durable, so a crash cannot lose a blob an event names.
async fn put_absent(store: &dyn arc_objstore::ObjectStore, key: &str, data: Bytes) -> arc_objstore::Result<()> {
    let len = data.len() as u64;
    if !store.put_if_absent(key, data.clone()).await? && store.head(key).await? != Some(len) {
        store.put(key, data).await?;
    }
    Ok(())
}
