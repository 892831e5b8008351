//! The store command (STOW-RS now, C-STORE later): parse each part as it arrives and write its
//! blob and header blob ([`Archive::prepare`]), then append one `InstanceStored` per readable
//! part in a single batch, wait for the projection, and report each part by the projector's
//! verdict ([`Archive::commit`]).

use crate::spool::{PartContent, SpooledPart};
use crate::{Archive, ArchiveError};
use arc_dicom::{parse_instance, parse_instance_header, DicomError, ParsedInstance};
use arc_model::{
    blob_key, meta_key, Actor, Event, EventEnvelope, IndexAttrs, InstanceStored, OverwritePolicy,
    Source,
};
use arc_projector::Outcome;
use bytes::Bytes;
use sha2::{Digest, Sha256};

/// One store request held in memory (tests, tools): the parts in arrival order.
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

/// What every part of one request shares.
#[derive(Debug, Clone)]
pub struct StoreContext {
    /// The study named in the request path; instances of other studies fail.
    pub study_uid: Option<String>,
    /// How it arrived.
    pub source: Source,
    /// Attributes to coerce into every instance (`keyword=value` on STOW), recorded in the
    /// event; the blob stays as received.
    pub coerced: IndexAttrs,
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
        /// Warning Reason (0008,1196), e.g. 0xB000 when attributes were coerced.
        warning: Option<u16>,
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
pub const CANNOT_UNDERSTAND: u16 = 0xC000;
/// dcm4chee's status for an instance of another study than the one addressed.
pub const DIFF_STUDY_INSTANCE_UID: u16 = 0xC409;
/// PS3.4 B.2.3: A700 "Refused: Out of Resources".
pub const OUT_OF_RESOURCES: u16 = 0xA700;
/// PS3.4 B.2.3: A900 "Error: Data Set does not match SOP Class".
pub const DATA_SET_DOES_NOT_MATCH: u16 = 0xA900;
/// PS3.4 B.2.3: B000 "Coercion of Data Elements" (a warning).
pub const COERCION_OF_DATA_ELEMENTS: u16 = 0xB000;

/// Parts up to this size are parsed whole (truncation detected); larger ones only up to
/// their Pixel Data, so memory stays flat.
pub const FULL_PARSE_LIMIT: u64 = 64 << 20;

/// The bytes of a part of `size` bytes that did not parse which are read again to name it in
/// its failure item: all of a part parsed whole; of a larger one only a head that holds its
/// file meta information, so a failed 2 GB part costs 1 MiB, not `FULL_PARSE_LIMIT`. The
/// `store` command slices its files the same way to match failures to files.
pub fn naming_head(size: u64) -> u64 {
    if size <= FULL_PARSE_LIMIT {
        size
    } else {
        1 << 20
    }
}

/// One part ready to be recorded: its blobs are durable, its event is made.
#[derive(Debug, Clone)]
pub struct Prepared {
    event: InstanceStored,
}

/// A part prepared, or its failure.
pub type PartOutcome = Result<Prepared, PartResult>;

fn failed(parsed: Option<&ParsedInstance>, status: u16, reason: String) -> PartResult {
    PartResult::Failed {
        sop_class_uid: parsed.map(|p| p.sop_class_uid.clone()),
        sop_instance_uid: parsed.map(|p| p.sop_instance_uid.clone()),
        status,
        reason,
    }
}

/// Parses a spooled part (blocking).
fn parse(part: &SpooledPart) -> Result<ParsedInstance, DicomError> {
    match &part.content {
        PartContent::Memory(b) => parse_instance(b),
        PartContent::File(path) if part.size <= FULL_PARSE_LIMIT => {
            let bytes = std::fs::read(path)
                .map_err(|e| DicomError::Unsupported(format!("cannot read spooled part: {e}")))?;
            parse_instance(&bytes)
        }
        PartContent::File(path) => {
            let file = std::fs::File::open(path)
                .map_err(|e| DicomError::Unsupported(format!("cannot read spooled part: {e}")))?;
            parse_instance_header(
                std::io::BufReader::with_capacity(256 * 1024, file),
                part.size,
            )
        }
    }
}

/// The SOP Class and Instance UIDs of a part that did not parse, where they can be read
/// (from its [`naming_head`]).
fn unparsed_uids(part: &SpooledPart) -> (Option<String>, Option<String>) {
    match &part.content {
        PartContent::Memory(b) => arc_dicom::failed_object_uids(b),
        PartContent::File(path) => {
            let mut head = Vec::new();
            let read = std::fs::File::open(path).and_then(|f| {
                std::io::Read::read_to_end(
                    &mut std::io::Read::take(f, naming_head(part.size)),
                    &mut head,
                )
            });
            match read {
                Ok(_) => arc_dicom::failed_object_uids(&head),
                Err(_) => (None, None),
            }
        }
    }
}

/// Checks a parsed part against the request and makes its header blob (blocking).
#[allow(clippy::result_large_err)] // the failure is the part's answer, built once
fn check(
    parsed: ParsedInstance,
    part: &SpooledPart,
    ctx: &StoreContext,
    overwrite: OverwritePolicy,
) -> Result<(InstanceStored, Vec<u8>), PartResult> {
    if let Some(study) = ctx.study_uid.as_deref() {
        if parsed.study_uid != study {
            let reason = format!(
                "instance belongs to study {}, not to study {study} named in the request",
                parsed.study_uid
            );
            return Err(failed(Some(&parsed), DIFF_STUDY_INSTANCE_UID, reason));
        }
    }
    let json = serde_json::to_vec(&parsed.header_json).expect("JSON values serialize");
    let meta = zstd::bulk::compress(&json, 3).map_err(|e| {
        failed(
            Some(&parsed),
            OUT_OF_RESOURCES,
            format!("cannot compress header: {e}"),
        )
    })?;
    let meta_sha256 = hex::encode(Sha256::digest(&meta));
    let event = InstanceStored {
        study_uid: parsed.study_uid,
        series_uid: parsed.series_uid,
        sop_instance_uid: parsed.sop_instance_uid,
        sop_class_uid: parsed.sop_class_uid,
        transfer_syntax: parsed.transfer_syntax,
        sha256: part.sha256.clone(),
        meta_sha256,
        size: part.size,
        source: ctx.source,
        overwrite,
        attrs: parsed.attrs,
        coerced: ctx.coerced.clone(),
    };
    Ok((event, meta))
}

impl Archive {
    /// Parses one part, checks it and writes its blob and header blob (blobs first: the
    /// event comes later, in [`commit`](Self::commit)). `Err` only when the store failed.
    pub async fn prepare(
        &self,
        part: SpooledPart,
        ctx: &StoreContext,
    ) -> Result<PartOutcome, ArchiveError> {
        let overwrite = self.overwrite;
        let c = ctx.clone();
        // Parsing is CPU-bound: off the async workers.
        let (part, checked) = tokio::task::spawn_blocking(move || {
            // PS3.4 B.2.3: whatever keeps the object from being read is "cannot understand".
            let checked = match parse(&part) {
                Ok(parsed) => check(parsed, &part, &c, overwrite),
                Err(e) => {
                    let (sop_class_uid, sop_instance_uid) = unparsed_uids(&part);
                    Err(PartResult::Failed {
                        sop_class_uid,
                        sop_instance_uid,
                        status: CANNOT_UNDERSTAND,
                        reason: e.to_string(),
                    })
                }
            };
            (part, checked)
        })
        .await
        .map_err(|e| ArchiveError::Unavailable(format!("parser task failed: {e}")))?;
        let (event, meta) = match checked {
            Ok(x) => x,
            Err(f) => return Ok(Err(f)),
        };
        let unavailable = |e: arc_objstore::StoreError| ArchiveError::Unavailable(e.to_string());
        let key = blob_key(&event.sha256);
        let blob = async {
            match &part.content {
                PartContent::Memory(b) => put_absent(&*self.store, &key, b.clone()).await,
                PartContent::File(path) => {
                    if !self.store.put_file_if_absent(&key, path).await?
                        && self.store.head(&key).await? != Some(part.size)
                    {
                        self.store.put_file(&key, path).await?;
                    }
                    Ok(())
                }
            }
        };
        // the blob and its header blob are independent: write (and sync) them together
        let mkey = meta_key(&event.meta_sha256);
        let meta = put_absent(&*self.store, &mkey, Bytes::from(meta));
        tokio::try_join!(blob, meta).map_err(unavailable)?;
        Ok(Ok(Prepared { event }))
    }

    /// Appends one `InstanceStored` per prepared part in a single batch, waits for the
    /// projection, and reports each part by the projector's verdict. `Err` only when
    /// nothing was appended.
    pub async fn commit(
        &self,
        outcomes: Vec<PartOutcome>,
        actor: Actor,
    ) -> Result<StoreReport, ArchiveError> {
        let envelopes: Vec<EventEnvelope> = outcomes
            .iter()
            .filter_map(|p| p.as_ref().ok())
            .map(|p| EventEnvelope::new(Event::InstanceStored(p.event.clone()), actor.clone()))
            .collect();
        let mut last_seq = None;
        if !envelopes.is_empty() {
            let records = envelopes
                .iter()
                .map(|e| Bytes::from(e.to_bytes()))
                .collect();
            let seqs = self
                .log
                .append(records)
                .await
                .map_err(|e| ArchiveError::Unavailable(e.to_string()))?;
            // The batch need not be contiguous (other nodes write to the same log): once the
            // highest is applied, every one of them is.
            let last =
                seqs.iter().copied().max().ok_or_else(|| {
                    ArchiveError::Unavailable("the log returned no sequence".into())
                })?;
            last_seq = Some(last);
            // A durable append is never answered as a failure: if the wait runs out the
            // answer is success without verdicts, carrying the position.
            if !self.projector.wait_applied(last, self.write_wait).await {
                tracing::warn!(
                    seq = last,
                    "projection did not catch up in time; answering from the append"
                );
            }
        }
        let state = self.projector.state();
        let mut results = Vec::with_capacity(outcomes.len());
        let mut next_env = envelopes.iter();
        for p in outcomes {
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
                            warning: (!e.coerced.is_empty()).then_some(COERCION_OF_DATA_ELEMENTS),
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

    /// Stores the parts of one request held in memory. Returns `Err` only when nothing was
    /// appended.
    pub async fn store(&self, req: StoreRequest) -> Result<StoreReport, ArchiveError> {
        let StoreRequest {
            parts,
            study_uid,
            actor,
            source,
        } = req;
        let ctx = StoreContext {
            study_uid,
            source,
            coerced: IndexAttrs::new(),
        };
        let mut outcomes = Vec::with_capacity(parts.len());
        for p in parts {
            outcomes.push(
                self.prepare(SpooledPart::from_bytes(Vec::new(), p), &ctx)
                    .await?,
            );
        }
        self.commit(outcomes, actor).await
    }
}

/// Writes a content-addressed object unless it is already there. `put_if_absent` answering
/// false means the object is present and durable, so a crash cannot lose a blob an event names.
async fn put_absent(
    store: &dyn arc_objstore::ObjectStore,
    key: &str,
    data: Bytes,
) -> arc_objstore::Result<()> {
    let len = data.len() as u64;
    if !store.put_if_absent(key, data.clone()).await? && store.head(key).await? != Some(len) {
        store.put(key, data).await?;
    }
    Ok(())
}
