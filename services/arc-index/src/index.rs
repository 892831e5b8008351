//! The writer side of the index: opening the folder, turning entity documents into tantivy
//! documents, replace/delete by entity, and commits that record the log position they cover
//! (tantivy's commit payload, ARCHITECTURE.md section 1 "Projection mechanics").

use crate::synced_dir::SyncedDirectory;
use arc_model::{IndexAttrs, Level};
use std::path::Path;
use std::sync::Arc;
use tantivy::indexer::IndexWriterOptions;
use tantivy::{Index, IndexSettings, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use crate::normalize::{norm_da, norm_number, norm_stored, norm_tm, sort_key, trim_value, End};
use crate::pn;
use crate::schema::{attr_fields, build_schema, entity_key, sequences, Fields};
use crate::search::{IndexRead, QidoPage, StudyReader};
use crate::{IndexError, QidoQuery, Result};

/// Memory the single indexing thread buffers before it writes a segment.
const WRITER_MEMORY_BUDGET: usize = 50_000_000;

/// One entity as the projector hands it to the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityDoc {
    /// The entity's level.
    pub level: Level,
    /// The entity's own UID; for patients the patient key.
    pub uid: String,
    /// Study Instance UID (series and instances; a study's own UID may be left out).
    pub study_uid: Option<String>,
    /// Series Instance UID (instances; a series' own UID may be left out).
    pub series_uid: Option<String>,
    /// Result order (ascending); unique per level for a stable order.
    pub ord: u64,
    /// Bytes stored for the entity (its instances' sizes), for `/studies/size`.
    pub size: u64,
    /// Attributes of this level AND every level above it (a series carries patient, study
    /// and series attributes), computed ones (counts, ModalitiesInStudy) included.
    pub attrs: IndexAttrs,
}

/// The QIDO / C-FIND index of one node: the one writer, plus reads through the searcher
/// of the last [`StudyIndex::reload`].
pub struct StudyIndex {
    path: String,
    writer: IndexWriter,
    fields: Arc<Fields>,
    reader: StudyReader,
    committed: Option<u64>,
}

impl std::fmt::Debug for StudyIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StudyIndex")
            .field("path", &self.path)
            .field("committed", &self.committed)
            .finish_non_exhaustive()
    }
}

impl StudyIndex {
    /// Opens the index in `dir`, creating the folder and an empty index if missing. Fails
    /// with [`IndexError::SchemaMismatch`] when the index there has another schema.
    pub fn open(dir: &Path) -> Result<StudyIndex> {
        std::fs::create_dir_all(dir)?;
        let schema = build_schema();
        let directory = SyncedDirectory::open(dir)?;
        let index = if Index::exists(&directory).map_err(tantivy::TantivyError::from)? {
            let index = Index::open(directory)?;
            if index.schema() != schema {
                return Err(IndexError::SchemaMismatch(
                    dir.display().to_string(),
                    crate::schema::FORMAT,
                ));
            }
            index
        } else {
            Index::create(directory, schema.clone(), IndexSettings::default())?
        };
        let committed = match index.load_metas()?.payload {
            None => None,
            Some(p) => Some(p.parse::<u64>().map_err(|_| {
                IndexError::Corrupt(format!("commit payload {p:?} is not a log position"))
            })?),
        };
        let options = IndexWriterOptions::builder()
            .memory_budget_per_thread(WRITER_MEMORY_BUDGET)
            .num_worker_threads(1)
            .num_merge_threads(1)
            .build();
        let writer = index.writer_with_options(options)?;
        let fields = Arc::new(Fields::new(schema)?);
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(StudyIndex {
            path: dir.display().to_string(),
            writer,
            reader: StudyReader::new(reader, fields.clone()),
            fields,
            committed,
        })
    }

    /// Adds the entity, replacing any document of the same level and UID. Visible after
    /// [`commit`](Self::commit) and [`reload`](Self::reload).
    pub fn upsert(&mut self, doc: EntityDoc) -> Result<()> {
        let key = entity_key(doc.level, &doc.uid);
        let document = to_document(&self.fields, &doc, &key)?;
        self.writer
            .delete_term(Term::from_field_text(self.fields.key, &key));
        self.writer.add_document(document)?;
        Ok(())
    }

    /// Removes the entity of that level and UID, if any.
    pub fn delete(&mut self, level: Level, uid: &str) -> Result<()> {
        let key = entity_key(level, uid);
        self.writer
            .delete_term(Term::from_field_text(self.fields.key, &key));
        Ok(())
    }

    /// Makes every change since the last commit durable, recording the log position it
    /// covers. Searches see it after [`reload`](Self::reload).
    pub fn commit(&mut self, position: u64) -> Result<()> {
        let mut prepared = self.writer.prepare_commit()?;
        prepared.set_payload(&position.to_string());
        prepared.commit()?;
        self.committed = Some(position);
        tracing::debug!(position, path = %self.path, "index committed");
        Ok(())
    }

    /// Drops every change since the last commit (after a failed batch).
    pub fn rollback(&mut self) -> Result<()> {
        self.writer.rollback()?;
        Ok(())
    }

    /// The log position of the last commit, `None` for a new index.
    pub fn committed_position(&self) -> Option<u64> {
        self.committed
    }

    /// Makes the last commit visible to searches (of this index and all its readers).
    pub fn reload(&self) -> Result<()> {
        self.reader.reload()
    }

    /// A reader for request handlers; it shares this index's reloads.
    pub fn reader(&self) -> StudyReader {
        self.reader.clone()
    }

    /// Hard-links the files of the last commit into `dest` (created; must be on the same
    /// filesystem) and writes its `meta.json` there, so `dest` is an index of that commit
    /// alone. Returns the commit's position and the file names, `meta.json` included.
    ///
    /// Segment files are immutable, so links are a consistent copy that costs no I/O. A
    /// background merge may save a new `meta.json` and collect old segments meanwhile: a file
    /// gone before it was linked, or a `meta.json` that changed while linking, starts over.
    pub fn link_commit(&self, dest: &Path) -> Result<(u64, Vec<String>)> {
        let index = self.writer.index();
        for _ in 0..10 {
            let _ = std::fs::remove_dir_all(dest);
            std::fs::create_dir_all(dest)?;
            let metas = index.load_metas()?;
            let mut names: Vec<String> = metas
                .segments
                .iter()
                .flat_map(|s| s.list_files())
                .filter_map(|p| p.to_str().map(str::to_string))
                .collect();
            names.sort();
            let mut linked = Vec::with_capacity(names.len() + 1);
            let mut vanished = false;
            for name in names {
                match std::fs::hard_link(Path::new(&self.path).join(&name), dest.join(&name)) {
                    Ok(()) => linked.push(name),
                    // Not every component exists for every segment; whether this one was
                    // collected instead is decided by comparing meta.json below.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => vanished = true,
                    Err(e) => return Err(e.into()),
                }
            }
            let again = index.load_metas()?;
            let same = serde_json::to_string(&again.segments).ok()
                == serde_json::to_string(&metas.segments).ok();
            if !same {
                tracing::debug!(
                    vanished,
                    "index segments changed while linking a commit; again"
                );
                continue;
            }
            let position = metas
                .payload
                .as_deref()
                .and_then(|p| p.parse::<u64>().ok())
                .ok_or_else(|| {
                    IndexError::Corrupt(format!(
                        "commit payload {:?} is not a log position",
                        metas.payload
                    ))
                })?;
            let mut json = serde_json::to_vec_pretty(&metas)
                .map_err(|e| IndexError::Corrupt(format!("index meta does not serialize: {e}")))?;
            json.push(b'\n');
            std::fs::write(dest.join("meta.json"), json)?;
            linked.push("meta.json".to_string());
            return Ok((position, linked));
        }
        Err(IndexError::Corrupt(
            "the index kept changing while its commit was linked (10 tries)".into(),
        ))
    }
}

/// The index format this build writes and reads (snapshot manifests record it).
pub const INDEX_FORMAT: &str = crate::schema::FORMAT;

impl IndexRead for StudyIndex {
    fn search(&self, q: &QidoQuery) -> Result<QidoPage> {
        self.reader.search(q)
    }

    fn count(&self, q: &QidoQuery) -> Result<u64> {
        self.reader.count(q)
    }

    fn size(&self, q: &QidoQuery) -> Result<u64> {
        self.reader.size(q)
    }

    fn get(&self, level: Level, uid: &str) -> Result<Option<IndexAttrs>> {
        self.reader.get(level, uid)
    }
}

/// The tantivy document of an entity: entity fields, every value of every matchable
/// attribute (several values for multi-valued ones, every item of indexed sequences) with
/// its derived forms, the paths of attributes without a value, and the attributes as JSON.
fn to_document(fields: &Fields, doc: &EntityDoc, key: &str) -> Result<TantivyDocument> {
    let mut d = TantivyDocument::new();
    d.add_text(fields.level, doc.level.as_str());
    d.add_text(fields.uid, &doc.uid);
    d.add_text(fields.key, key);
    let own = |l: Level| (doc.level == l).then_some(doc.uid.as_str());
    if let Some(s) = doc.study_uid.as_deref().or(own(Level::Study)) {
        d.add_text(fields.study_uid, s);
    }
    if let Some(s) = doc.series_uid.as_deref().or(own(Level::Series)) {
        d.add_text(fields.series_uid, s);
    }
    d.add_u64(fields.ord, doc.ord);
    d.add_u64(fields.size, doc.size);
    for (spec, h) in attr_fields().iter().zip(&fields.per_attr) {
        let values: Vec<&String> = match spec.seq {
            None => doc
                .attrs
                .get(spec.attr.tag)
                .map(|a| a.values.iter().collect()),
            Some(seq) => doc.attrs.get(seq.tag).map(|s| {
                s.items
                    .iter()
                    .filter_map(|item| item.get(spec.attr.tag))
                    .flat_map(|a| a.values.iter())
                    .collect()
            }),
        }
        .unwrap_or_default();
        let mut any = false;
        for value in values {
            let v = trim_value(value);
            if v.is_empty() {
                continue;
            }
            if let (Some(sort), false) = (h.sort, any) {
                // the first value orders the entity
                if let Some(k) = sort_key(spec.attr.vr, v) {
                    d.add_text(sort, k);
                }
            }
            any = true;
            d.add_text(h.raw, v);
            if let Some(ci) = h.ci {
                for term in pn::stored_terms(v) {
                    d.add_text(ci, term);
                }
            }
            if let Some(fuzzy) = h.fuzzy {
                for word in pn::fuzzy_words(v) {
                    d.add_text(fuzzy, word);
                }
            }
            if let Some(norm) = h.norm {
                let n = match spec.attr.vr {
                    "DA" | "TM" | "DT" => norm_stored(spec.attr.vr, v),
                    _ => norm_number(v),
                };
                if let Some(n) = n {
                    d.add_text(norm, n);
                }
            }
        }
        if !any {
            d.add_text(fields.empty, &spec.path);
        }
    }
    for seq in sequences() {
        if doc.attrs.get(seq.tag).is_none_or(|s| s.items.is_empty()) {
            d.add_text(fields.empty, seq.keyword);
        }
    }
    // Combined datetime of date/time pairs (PS3.4 C.2.2.2.5.1); a date without a time is
    // taken at its start.
    for &(date_tag, time_tag, field) in &fields.pairs {
        let first = |tag: &str| doc.attrs.get(tag).and_then(|a| a.first()).map(trim_value);
        if let Some(date) = first(date_tag).and_then(norm_da) {
            let time = first(time_tag)
                .and_then(|t| norm_tm(t, End::Lower))
                .unwrap_or_else(|| "000000.000000".to_string());
            d.add_text(field, format!("{date}{time}"));
        }
    }
    let json = serde_json::to_string(&doc.attrs)
        .map_err(|e| IndexError::Corrupt(format!("attributes of {key} do not serialize: {e}")))?;
    d.add_text(fields.attrs, json);
    Ok(d)
}
