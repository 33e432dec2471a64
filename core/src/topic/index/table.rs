//! A small open-addressing hash table: the one hash structure of the index
//! (the core has no `HashMap`, and a dependency for one table is not worth
//! it).
//!
//! Linear probing over a power-of-two array, kept at most 7/8 full; removal
//! shifts the following entries back (no tombstones), so a lookup probes at
//! most the run of occupied slots after its home slot. The table stores each
//! entry's full hash and leaves key comparison to the caller (`eq`), so one
//! table type serves the trie's edges and the exact-topic map.

use alloc::vec::Vec;

/// An entry and its hash.
#[derive(Clone)]
struct Bucket<T> {
    hash: u64,
    value: T,
}

/// The table. Invariants: `slots.len()` is 0 or a power of two ≥ 8;
/// `len * 8 <= slots.len() * 7`; every entry sits in the run of occupied
/// slots that starts at or before its home slot `hash & mask` and reaches it
/// without a gap.
#[derive(Clone)]
pub(super) struct RawTable<T> {
    slots: Vec<Option<Bucket<T>>>,
    len: usize,
}

impl<T> RawTable<T> {
    /// An empty table; allocates nothing.
    pub(super) const fn new() -> Self {
        RawTable {
            slots: Vec::new(),
            len: 0,
        }
    }

    /// Number of entries.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// The entry with this hash for which `eq` holds.
    pub(super) fn find(&self, hash: u64, mut eq: impl FnMut(&T) -> bool) -> Option<&T> {
        let i = self.find_index(hash, &mut eq)?;
        self.slots[i].as_ref().map(|b| &b.value)
    }

    /// The entry with this hash for which `eq` holds, mutably.
    pub(super) fn find_mut(&mut self, hash: u64, mut eq: impl FnMut(&T) -> bool) -> Option<&mut T> {
        let i = self.find_index(hash, &mut eq)?;
        self.slots[i].as_mut().map(|b| &mut b.value)
    }

    /// Adds an entry. The caller makes sure no equal entry is present.
    pub(super) fn insert(&mut self, hash: u64, value: T) {
        if (self.len + 1) * 8 > self.slots.len() * 7 {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut i = home(hash, mask);
        while self.slots[i].is_some() {
            i = (i + 1) & mask;
        }
        self.slots[i] = Some(Bucket { hash, value });
        self.len += 1;
    }

    /// Removes and returns the entry with this hash for which `eq` holds.
    pub(super) fn remove(&mut self, hash: u64, mut eq: impl FnMut(&T) -> bool) -> Option<T> {
        let mut hole = self.find_index(hash, &mut eq)?;
        let removed = self.slots[hole].take().map(|b| b.value);
        self.len -= 1;
        // Backward shift: move later entries of the run into the hole when
        // the hole lies between their home slot and where they sit.
        let mask = self.slots.len() - 1;
        let mut j = (hole + 1) & mask;
        while let Some(bucket) = &self.slots[j] {
            let from_home = j.wrapping_sub(home(bucket.hash, mask)) & mask;
            let from_hole = j.wrapping_sub(hole) & mask;
            if from_home >= from_hole {
                self.slots[hole] = self.slots[j].take();
                hole = j;
            }
            j = (j + 1) & mask;
        }
        removed
    }

    fn find_index(&self, hash: u64, eq: &mut impl FnMut(&T) -> bool) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = home(hash, mask);
        // The table is never full, so the probe reaches an empty slot.
        while let Some(bucket) = &self.slots[i] {
            if bucket.hash == hash && eq(&bucket.value) {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
        None
    }

    fn grow(&mut self) {
        let capacity = (self.slots.len() * 2).max(8);
        let old = core::mem::replace(&mut self.slots, Vec::with_capacity(capacity));
        self.slots.resize_with(capacity, || None);
        self.len = 0;
        for bucket in old.into_iter().flatten() {
            self.insert(bucket.hash, bucket.value);
        }
    }
}

/// The home slot of `hash`.
fn home(hash: u64, mask: usize) -> usize {
    // Truncation keeps the low bits, which is all the mask keeps.
    (hash as usize) & mask
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
