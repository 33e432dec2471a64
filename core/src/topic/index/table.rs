//! The one hash structure of the index: a [`hashbrown::HashTable`] of
//! entries with their full hash. The table stores each entry's hash and
//! leaves key comparison to the caller (`eq`), so one table type serves the
//! trie's edges and the exact-topic map.

use hashbrown::HashTable;

/// An entry and its hash.
#[derive(Clone)]
struct Bucket<T> {
    hash: u64,
    value: T,
}

/// The table: entries keyed by the hash the caller computed.
#[derive(Clone)]
pub(super) struct RawTable<T> {
    table: HashTable<Bucket<T>>,
}

impl<T> RawTable<T> {
    /// An empty table; allocates nothing.
    pub(super) const fn new() -> Self {
        RawTable {
            table: HashTable::new(),
        }
    }

    /// Number of entries.
    pub(super) fn len(&self) -> usize {
        self.table.len()
    }

    /// The entry with this hash for which `eq` holds.
    pub(super) fn find(&self, hash: u64, mut eq: impl FnMut(&T) -> bool) -> Option<&T> {
        self.table
            .find(hash, |b| b.hash == hash && eq(&b.value))
            .map(|b| &b.value)
    }

    /// The entry with this hash for which `eq` holds, mutably.
    pub(super) fn find_mut(&mut self, hash: u64, mut eq: impl FnMut(&T) -> bool) -> Option<&mut T> {
        self.table
            .find_mut(hash, |b| b.hash == hash && eq(&b.value))
            .map(|b| &mut b.value)
    }

    /// Adds an entry. The caller makes sure no equal entry is present.
    pub(super) fn insert(&mut self, hash: u64, value: T) {
        self.table
            .insert_unique(hash, Bucket { hash, value }, |b| b.hash);
    }

    /// Removes and returns the entry with this hash for which `eq` holds.
    pub(super) fn remove(&mut self, hash: u64, mut eq: impl FnMut(&T) -> bool) -> Option<T> {
        let entry = self
            .table
            .find_entry(hash, |b| b.hash == hash && eq(&b.value))
            .ok()?;
        Some(entry.remove().0.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeMap;

    /// Inserts and removes keys with deliberately clustered hashes and checks
    /// every lookup against a `BTreeMap`.
    #[test]
    fn agrees_with_btreemap() {
        let n: u64 = if cfg!(miri) { 60 } else { 2_000 };
        let mut table = RawTable::new();
        let mut model = BTreeMap::new();
        // Few distinct hashes: long runs, many collisions, wrap-around.
        let hash = |k: u64| (k % 13).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (k % 3);
        let mut x = 12345u64;
        for step in 0..n * 4 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let k = x % n;
            if step % 3 == 2 {
                let a = table.remove(hash(k), |&(kk, _)| kk == k).map(|(_, v)| v);
                assert_eq!(a, model.remove(&k));
            } else if table.find(hash(k), |&(kk, _)| kk == k).is_none() {
                table.insert(hash(k), (k, step));
                model.insert(k, step);
            } else if let Some(v) = table.find_mut(hash(k), |&(kk, _)| kk == k) {
                v.1 = step;
                model.insert(k, step);
            }
            assert_eq!(table.len(), model.len());
        }
        for k in 0..n {
            let got = table.find(hash(k), |&(kk, _)| kk == k).map(|&(_, v)| v);
            assert_eq!(got, model.get(&k).copied());
        }
    }
}
