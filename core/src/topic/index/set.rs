//! [`NodeSet`]: the set of trie nodes a match is in, inline while small.

use alloc::vec::Vec;

/// How many node ids a [`NodeSet`] holds before it spills to the heap. A
/// match is in one node per pattern prefix that fits the topic so far, so
/// this is rarely exceeded.
const INLINE: usize = 16;

/// A list of trie node ids: `inline[..len]` while `spill` is empty, else
/// `spill` (which then holds all of them).
#[derive(Clone)]
pub(super) struct NodeSet {
    /// Entries in `inline`, `0..=INLINE`; unused once spilled.
    len: usize,
    inline: [u32; INLINE],
    spill: Vec<u32>,
}

impl NodeSet {
    pub(super) const fn new() -> Self {
        NodeSet {
            len: 0,
            inline: [0; INLINE],
            spill: Vec::new(),
        }
    }

    pub(super) fn push(&mut self, id: u32) {
        if self.spill.is_empty() && self.len < INLINE {
            self.inline[self.len] = id;
            self.len += 1;
        } else {
            if self.spill.is_empty() {
                self.spill.extend_from_slice(&self.inline[..self.len]);
            }
            self.spill.push(id);
        }
    }

    pub(super) fn clear(&mut self) {
        self.len = 0;
        self.spill.clear();
    }

    pub(super) fn as_slice(&self) -> &[u32] {
        if self.spill.is_empty() {
            &self.inline[..self.len]
        } else {
            &self.spill
        }
    }

    /// Sorts and removes duplicates.
    pub(super) fn sort_dedup(&mut self) {
        if self.spill.is_empty() {
            let live = &mut self.inline[..self.len];
            live.sort_unstable();
            let mut kept = 0;
            for i in 0..live.len() {
                if kept == 0 || live[i] != live[kept - 1] {
                    live[kept] = live[i];
                    kept += 1;
                }
            }
            self.len = kept;
        } else {
            self.spill.sort_unstable();
            self.spill.dedup();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spills_and_dedups() {
        let mut set = NodeSet::new();
        for i in (0..40u32).rev() {
            set.push(i % 20);
        }
        assert_eq!(set.as_slice().len(), 40);
        set.sort_dedup();
        assert!(set.as_slice().iter().copied().eq(0..20));
        set.clear();
        for i in [3, 1, 3, 2, 1] {
            set.push(i);
        }
        set.sort_dedup();
        assert_eq!(set.as_slice(), &[1, 2, 3]);
    }
}
