//! The read side of the index: searches, counts and lookups answered from the searcher of
//! the last reload, results ordered by `ord` or by `orderby` keys and paged (PS3.18 8.3.4.4
//! limit/offset).

use arc_model::{IndexAttrs, Level};
use std::sync::Arc;
use tantivy::collector::{Count, TopDocs};
use tantivy::schema::Value;
use tantivy::{DocAddress, IndexReader, Order, Searcher, TantivyDocument, Term};

use crate::order::{OrderCollector, SizeSum};
use crate::schema::{entity_key, Fields, ORD};
use crate::translate::build;
use crate::{IndexError, QidoQuery, Result};

/// One page of results.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QidoPage {
    /// Every match, before offset and limit.
    pub total: u64,
    /// The matches of this page, in `ord` order: the full stored attributes of each entity
    /// (pick return keys with [`crate::select_return`]).
    pub hits: Vec<IndexAttrs>,
}

/// What request handlers need from the index.
pub trait IndexRead: Send + Sync {
    /// The page of entities matching `q`.
    fn search(&self, q: &QidoQuery) -> Result<QidoPage>;
    /// How many entities match `q` (offset and limit ignored).
    fn count(&self, q: &QidoQuery) -> Result<u64>;
    /// The bytes stored for the entities matching `q` (offset and limit ignored).
    fn size(&self, q: &QidoQuery) -> Result<u64>;
    /// The attributes of one entity.
    fn get(&self, level: Level, uid: &str) -> Result<Option<IndexAttrs>>;
}

/// A handle for searches; clones share the underlying reader and its reloads.
#[derive(Clone)]
pub struct StudyReader {
    reader: IndexReader,
    fields: Arc<Fields>,
}

impl std::fmt::Debug for StudyReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StudyReader").finish_non_exhaustive()
    }
}

impl StudyReader {
    pub(crate) fn new(reader: IndexReader, fields: Arc<Fields>) -> Self {
        StudyReader { reader, fields }
    }

    /// Makes the last commit visible to searches.
    pub fn reload(&self) -> Result<()> {
        Ok(self.reader.reload()?)
    }

    fn attrs_of(&self, searcher: &Searcher, address: DocAddress) -> Result<IndexAttrs> {
        let doc: TantivyDocument = searcher.doc(address)?;
        let json = doc
            .get_first(self.fields.attrs)
            .and_then(|v| v.as_str())
            .ok_or_else(|| IndexError::Corrupt("document without stored attributes".into()))?;
        serde_json::from_str(json)
            .map_err(|e| IndexError::Corrupt(format!("stored attributes do not parse: {e}")))
    }
}

impl IndexRead for StudyReader {
    fn search(&self, q: &QidoQuery) -> Result<QidoPage> {
        let searcher = self.reader.searcher();
        let query = build(&self.fields, q)?;
        let total = searcher.search(&*query, &Count)? as u64;
        if q.offset >= total || q.limit == Some(0) {
            return Ok(QidoPage {
                total,
                hits: Vec::new(),
            });
        }
        let remaining = total - q.offset;
        let wanted = q.limit.map_or(remaining, |l| l.min(remaining));
        // Both fit in usize: they are below the number of documents of the searcher.
        let (wanted, offset) = (wanted as usize, q.offset as usize);
        let addresses: Vec<DocAddress> = if q.orderby.is_empty() {
            let top = TopDocs::with_limit(wanted)
                .and_offset(offset)
                .order_by_fast_field::<u64>(ORD, Order::Asc);
            searcher
                .search(&*query, &top)?
                .into_iter()
                .map(|(_, address)| address)
                .collect()
        } else {
            let collector = OrderCollector::new(&q.orderby, offset + wanted);
            searcher
                .search(&*query, &collector)?
                .into_iter()
                .skip(offset)
                .collect()
        };
        let hits = addresses
            .into_iter()
            .map(|address| self.attrs_of(&searcher, address))
            .collect::<Result<Vec<_>>>()?;
        Ok(QidoPage { total, hits })
    }

    fn size(&self, q: &QidoQuery) -> Result<u64> {
        let query = build(&self.fields, q)?;
        Ok(self.reader.searcher().search(&*query, &SizeSum)?)
    }

    fn count(&self, q: &QidoQuery) -> Result<u64> {
        let query = build(&self.fields, q)?;
        Ok(self.reader.searcher().search(&*query, &Count)? as u64)
    }

    fn get(&self, level: Level, uid: &str) -> Result<Option<IndexAttrs>> {
        let searcher = self.reader.searcher();
        let key = Term::from_field_text(self.fields.key, &entity_key(level, uid));
        let query = tantivy::query::TermQuery::new(key, tantivy::schema::IndexRecordOption::Basic);
        let top = searcher.search(&query, &TopDocs::with_limit(1))?;
        top.first()
            .map(|&(_, address)| self.attrs_of(&searcher, address))
            .transpose()
    }
}
