use crate::raw::build::BuilderNode;
use crate::raw::{CompiledAddr, NONE_ADDRESS};

#[derive(Debug)]
pub struct Registry {
    table: Vec<RegistryCell>,
    table_size: usize, // number of rows
    mru_size: usize,   // number of columns
    // arcstream patch: the table starts small and grows to `max_table_size` rows as nodes
    // are compiled (see `new`).
    max_table_size: usize,
    misses: usize,
}

/// Rows the table starts with (arcstream patch).
const INITIAL_TABLE_SIZE: usize = 64;
/// Each growth multiplies the rows by this (arcstream patch).
const GROWTH: usize = 8;

#[derive(Debug)]
struct RegistryCache<'a> {
    cells: &'a mut [RegistryCell],
}

#[derive(Clone, Debug)]
pub struct RegistryCell {
    addr: CompiledAddr,
    node: BuilderNode,
}

#[derive(Debug)]
pub enum RegistryEntry<'a> {
    Found(CompiledAddr),
    NotFound(&'a mut RegistryCell),
    Rejected,
}

impl Registry {
    #[inline]
    ///
    /// arcstream patch: upstream allocates and fills all `table_size * mru_size` cells here
    /// (10,000 x 2 cells of 48 bytes for every term dictionary), which dominated the CPU of
    /// a small tantivy commit: one FST per indexed field with terms, most of them a handful
    /// of terms. The table now starts at `INITIAL_TABLE_SIZE` rows and grows (emptied: it is
    /// a cache, a forgotten node is only compiled again) each time it has had as many misses
    /// as it has cells, up to `table_size` rows. Large dictionaries end with the same table.
    pub fn new(table_size: usize, mru_size: usize) -> Registry {
        let initial = table_size.min(INITIAL_TABLE_SIZE);
        Registry {
            table: Self::cells(initial, mru_size),
            table_size: initial,
            mru_size,
            max_table_size: table_size,
            misses: 0,
        }
    }

    fn cells(table_size: usize, mru_size: usize) -> Vec<RegistryCell> {
        let ncells = table_size.checked_mul(mru_size).unwrap();
        vec![RegistryCell::none(); ncells]
    }

    #[inline]
    pub fn entry(&mut self, node: &BuilderNode) -> RegistryEntry {
        if self.table.is_empty() {
            return RegistryEntry::Rejected;
        }
        if self.misses >= self.table.len() && self.table_size < self.max_table_size {
            self.table_size = (self.table_size * GROWTH).min(self.max_table_size);
            self.table = Self::cells(self.table_size, self.mru_size);
            self.misses = 0;
        }
        let bucket = self.hash(node);
        let start = self.mru_size * bucket;
        let end = start + self.mru_size;
        let entry = RegistryCache {
            cells: &mut self.table[start..end],
        }
        .entry(node);
        if let RegistryEntry::NotFound(_) = entry {
            self.misses += 1;
        }
        entry
    }

    #[inline]
    fn hash(&self, node: &BuilderNode) -> usize {
        // Basic FNV-1a hash as described:
        // https://en.wikipedia.org/wiki/Fowler%E2%80%93Noll%E2%80%93Vo_hash_function
        //
        // In unscientific experiments, this provides the same compression
        // as `std::hash::SipHasher` but is much much faster.
        const FNV_PRIME: u64 = 1_099_511_628_211;
        let mut h = 14_695_981_039_346_656_037;
        h = (h ^ (node.is_final as u64)).wrapping_mul(FNV_PRIME);
        h = (h ^ node.final_output.value()).wrapping_mul(FNV_PRIME);
        for t in &node.trans {
            h = (h ^ (t.inp as u64)).wrapping_mul(FNV_PRIME);
            h = (h ^ t.out.value()).wrapping_mul(FNV_PRIME);
            h = (h ^ (t.addr as u64)).wrapping_mul(FNV_PRIME);
        }
        (h as usize) % self.table_size
    }
}

impl<'a> RegistryCache<'a> {
    #[inline]
    fn entry(mut self, node: &BuilderNode) -> RegistryEntry<'a> {
        if self.cells.len() == 1 {
            let cell = &mut self.cells[0];
            if !cell.is_none() && &cell.node == node {
                RegistryEntry::Found(cell.addr)
            } else {
                cell.node.clone_from(node);
                RegistryEntry::NotFound(cell)
            }
        } else {
            let find = |c: &RegistryCell| !c.is_none() && &c.node == node;
            if let Some(i) = self.cells.iter().position(find) {
                let addr = self.cells[i].addr;
                self.promote(i); // most recently used
                RegistryEntry::Found(addr)
            } else {
                let last = self.cells.len() - 1;
                self.cells[last].node.clone_from(node); // discard LRU
                self.promote(last);
                RegistryEntry::NotFound(&mut self.cells[0])
            }
        }
    }

    #[inline]
    fn promote(&mut self, mut i: usize) {
        assert!(i < self.cells.len());
        while i > 0 {
            self.cells.swap(i - 1, i);
            i -= 1;
        }
    }
}

impl RegistryCell {
    fn none() -> RegistryCell {
        RegistryCell {
            addr: NONE_ADDRESS,
            node: BuilderNode::default(),
        }
    }

    fn is_none(&self) -> bool {
        self.addr == NONE_ADDRESS
    }

    pub fn insert(&mut self, addr: CompiledAddr) {
        self.addr = addr;
    }
}

#[cfg(test)]
mod tests {
    use super::{Registry, RegistryCache, RegistryCell, RegistryEntry};
    use crate::raw::build::BuilderNode;
    use crate::raw::{Output, Transition};

    fn assert_rejected(entry: RegistryEntry) {
        match entry {
            RegistryEntry::Rejected => {}
            entry => panic!("expected rejected entry, got: {:?}", entry),
        }
    }

    fn assert_not_found(entry: RegistryEntry) {
        match entry {
            RegistryEntry::NotFound(_) => {}
            entry => panic!("expected nout found entry, got: {:?}", entry),
        }
    }

    fn assert_insert_and_found(reg: &mut Registry, bnode: &BuilderNode) {
        match reg.entry(&bnode) {
            RegistryEntry::NotFound(cell) => cell.insert(1234),
            entry => panic!("unexpected not found entry, got: {:?}", entry),
        }
        match reg.entry(&bnode) {
            RegistryEntry::Found(addr) => assert_eq!(addr, 1234),
            entry => panic!("unexpected found entry, got: {:?}", entry),
        }
    }

    #[test]
    fn empty_is_ok() {
        let mut reg = Registry::new(0, 0);
        let bnode = BuilderNode {
            is_final: false,
            final_output: Output::zero(),
            trans: vec![],
        };
        assert_rejected(reg.entry(&bnode));
    }

    #[test]
    fn one_final_is_ok() {
        let mut reg = Registry::new(1, 1);
        let bnode = BuilderNode {
            is_final: true,
            final_output: Output::zero(),
            trans: vec![],
        };
        assert_insert_and_found(&mut reg, &bnode);
    }

    #[test]
    fn one_with_trans_is_ok() {
        let mut reg = Registry::new(1, 1);
        let bnode = BuilderNode {
            is_final: false,
            final_output: Output::zero(),
            trans: vec![Transition {
                addr: 0,
                inp: b'a',
                out: Output::zero(),
            }],
        };
        assert_insert_and_found(&mut reg, &bnode);
        assert_not_found(reg.entry(&BuilderNode {
            is_final: true,
            ..bnode.clone()
        }));
        assert_not_found(reg.entry(&BuilderNode {
            trans: vec![Transition {
                addr: 0,
                inp: b'b',
                out: Output::zero(),
            }],
            ..bnode.clone()
        }));
        assert_not_found(reg.entry(&BuilderNode {
            trans: vec![Transition {
                addr: 0,
                inp: b'a',
                out: Output::new(1),
            }],
            ..bnode.clone()
        }));
    }

    #[test]
    fn cache_works() {
        let mut reg = Registry::new(1, 1);

        let bnode1 = BuilderNode {
            is_final: true,
            ..BuilderNode::default()
        };
        assert_insert_and_found(&mut reg, &bnode1);

        let bnode2 = BuilderNode {
            final_output: Output::new(1),
            ..bnode1.clone()
        };
        assert_insert_and_found(&mut reg, &bnode2);
        assert_not_found(reg.entry(&bnode1));
    }

    #[test]
    fn promote() {
        let bn = BuilderNode::default();
        let mut bnodes = vec![
            RegistryCell {
                addr: 1,
                node: bn.clone(),
            },
            RegistryCell {
                addr: 2,
                node: bn.clone(),
            },
            RegistryCell {
                addr: 3,
                node: bn.clone(),
            },
            RegistryCell {
                addr: 4,
                node: bn.clone(),
            },
        ];
        let mut cache = RegistryCache { cells: &mut bnodes };

        cache.promote(0);
        assert_eq!(cache.cells[0].addr, 1);
        assert_eq!(cache.cells[1].addr, 2);
        assert_eq!(cache.cells[2].addr, 3);
        assert_eq!(cache.cells[3].addr, 4);

        cache.promote(1);
        assert_eq!(cache.cells[0].addr, 2);
        assert_eq!(cache.cells[1].addr, 1);
        assert_eq!(cache.cells[2].addr, 3);
        assert_eq!(cache.cells[3].addr, 4);

        cache.promote(3);
        assert_eq!(cache.cells[0].addr, 4);
        assert_eq!(cache.cells[1].addr, 2);
        assert_eq!(cache.cells[2].addr, 1);
        assert_eq!(cache.cells[3].addr, 3);

        cache.promote(2);
        assert_eq!(cache.cells[0].addr, 1);
        assert_eq!(cache.cells[1].addr, 4);
        assert_eq!(cache.cells[2].addr, 2);
        assert_eq!(cache.cells[3].addr, 3);
    }

    // arcstream patch: the table grows to its full size and keeps finding nodes.
    #[test]
    fn grows_to_its_full_size() {
        let mut reg = Registry::new(10_000, 2);
        assert_eq!(reg.table_size, 64);
        let node = |i: u64| BuilderNode {
            is_final: true,
            final_output: Output::new(i),
            trans: vec![],
        };
        for i in 0..200_000u64 {
            if let RegistryEntry::NotFound(cell) = reg.entry(&node(i)) {
                cell.insert(i as usize + 1);
            }
        }
        assert_eq!(reg.table_size, 10_000);
        assert_eq!(reg.table.len(), 20_000);
        match reg.entry(&node(199_999)) {
            RegistryEntry::Found(addr) => assert_eq!(addr, 200_000),
            entry => panic!("expected the last node, got: {:?}", entry),
        }
    }

    // arcstream patch: FSTs of small and large key sets still map every key to its value.
    #[test]
    fn maps_built_through_a_growing_table_are_complete() {
        for n in [1usize, 10, 1_000, 100_000] {
            let mut keys: Vec<String> = (0..n).map(|i| format!("{:08}-{}", i * 7919 % 1_000_003, i % 13)).collect();
            keys.sort();
            keys.dedup();
            let mut b = crate::MapBuilder::memory();
            for (i, k) in keys.iter().enumerate() {
                b.insert(k, i as u64).unwrap();
            }
            let map = crate::Map::from_bytes(b.into_inner().unwrap()).unwrap();
            assert_eq!(map.len(), keys.len());
            for (i, k) in keys.iter().enumerate() {
                assert_eq!(map.get(k), Some(i as u64), "{k}");
            }
            assert_eq!(map.get("nope"), None);
        }
    }
}
