//! `orderby` (dcm4chee-arc-light's `orderby=[-]attribute[,…]`): a collector that keeps the
//! first `offset + limit` matches by the sort key fast fields (`#s`), ties broken by archive
//! order (`ord`) so that pages stay stable. An entity without a value sorts after every value
//! ascending and before them descending, as SQL's default `NULLS LAST`/`NULLS FIRST` does.
//! Within a segment keys are compared by term ordinal (the dictionary is sorted); only the
//! kept matches are turned into text to compare across segments. Aggregations for
//! `/studies/size` live here too.

use std::cmp::Ordering;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

use crate::schema::{ORD, SIZE};
use crate::OrderKey;

/// One kept match: its key values (text once harvested), archive order and address.
#[derive(Debug, Clone)]
pub(crate) struct Hit<K> {
    keys: Vec<Option<K>>,
    ord: u64,
    address: DocAddress,
}

/// Compares two key lists by the directions of `order`, then by archive order.
fn compare<K: Ord>(order: &[bool], a: &Hit<K>, b: &Hit<K>) -> Ordering {
    for (i, &descending) in order.iter().enumerate() {
        let o = match (&a.keys[i], &b.keys[i]) {
            (Some(x), Some(y)) => x.cmp(y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        let o = if descending { o.reverse() } else { o };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.ord.cmp(&b.ord)
}

/// Keeps the first `keep` hits of `hits` in order.
fn keep_first<K: Ord>(hits: &mut Vec<Hit<K>>, order: &[bool], keep: usize) {
    if hits.len() > keep {
        if keep > 0 {
            hits.select_nth_unstable_by(keep - 1, |a, b| compare(order, a, b));
        }
        hits.truncate(keep);
    }
}

/// Collects the first `keep` matches in `orderby` order.
pub(crate) struct OrderCollector {
    pub fields: Vec<String>,
    pub descending: Vec<bool>,
    pub keep: usize,
}

impl OrderCollector {
    pub(crate) fn new(keys: &[OrderKey], keep: usize) -> Self {
        OrderCollector {
            fields: keys.iter().map(|k| k.field.clone()).collect(),
            descending: keys.iter().map(|k| k.descending).collect(),
            keep,
        }
    }
}

pub(crate) struct OrderSegment {
    columns: Vec<Option<StrColumn>>,
    ord: Column<u64>,
    segment: SegmentOrdinal,
    descending: Vec<bool>,
    keep: usize,
    hits: Vec<Hit<u64>>,
}

impl Collector for OrderCollector {
    type Fruit = Vec<DocAddress>;
    type Child = OrderSegment;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<OrderSegment> {
        let ff = reader.fast_fields();
        let columns = self
            .fields
            .iter()
            .map(|f| ff.str(f))
            .collect::<tantivy::Result<Vec<_>>>()?;
        Ok(OrderSegment {
            columns,
            ord: ff.u64(ORD)?,
            segment,
            descending: self.descending.clone(),
            keep: self.keep,
            hits: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Vec<Hit<Vec<u8>>>>) -> tantivy::Result<Vec<DocAddress>> {
        let mut all: Vec<Hit<Vec<u8>>> = fruits.into_iter().flatten().collect();
        keep_first(&mut all, &self.descending, self.keep);
        all.sort_by(|a, b| compare(&self.descending, a, b));
        Ok(all.into_iter().map(|h| h.address).collect())
    }
}

impl SegmentCollector for OrderSegment {
    type Fruit = Vec<Hit<Vec<u8>>>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        let keys = self
            .columns
            .iter()
            .map(|c| c.as_ref().and_then(|c| c.term_ords(doc).next()))
            .collect();
        let ord = self.ord.first(doc).unwrap_or(u64::MAX);
        self.hits.push(Hit {
            keys,
            ord,
            address: DocAddress::new(self.segment, doc),
        });
        if self.hits.len() >= self.keep.saturating_mul(2).max(1024) {
            keep_first(&mut self.hits, &self.descending, self.keep);
        }
    }

    fn harvest(mut self) -> Vec<Hit<Vec<u8>>> {
        keep_first(&mut self.hits, &self.descending, self.keep);
        let columns = self.columns;
        self.hits
            .into_iter()
            .map(|h| Hit {
                keys: h
                    .keys
                    .iter()
                    .zip(&columns)
                    .map(|(k, c)| {
                        let (k, c) = ((*k)?, c.as_ref()?);
                        let mut bytes = Vec::new();
                        c.ord_to_bytes(k, &mut bytes).ok()?.then_some(bytes)
                    })
                    .collect(),
                ord: h.ord,
                address: h.address,
            })
            .collect()
    }
}

/// Sums the `size` fast field over the matches (`/studies/size`).
pub(crate) struct SizeSum;

pub(crate) struct SizeSegment {
    size: Column<u64>,
    sum: u64,
}

impl Collector for SizeSum {
    type Fruit = u64;
    type Child = SizeSegment;

    fn for_segment(
        &self,
        _segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SizeSegment> {
        Ok(SizeSegment {
            size: reader.fast_fields().u64(SIZE)?,
            sum: 0,
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<u64>) -> tantivy::Result<u64> {
        Ok(fruits.into_iter().fold(0, u64::saturating_add))
    }
}

impl SegmentCollector for SizeSegment {
    type Fruit = u64;

    fn collect(&mut self, doc: DocId, _score: Score) {
        self.sum = self.sum.saturating_add(self.size.first(doc).unwrap_or(0));
    }

    fn harvest(self) -> u64 {
        self.sum
    }
}
