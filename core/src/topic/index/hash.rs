//! [`FixedState`]: the index's default, unkeyed hasher.

use core::hash::{BuildHasher, Hasher};

/// The default [`BuildHasher`] of [`TopicIndex`](super::TopicIndex): fast
/// and deterministic, with **no key**, so it gives no protection against
/// inputs crafted to collide. The index stays correct under collisions, but a
/// party that chooses many topic or pattern names could make lookups slow.
/// When names come from untrusted parties and `std` is at hand, build the
/// index with a keyed hasher: `TopicIndex::with_hasher(std::hash::RandomState::new())`.
///
/// # Examples
///
/// ```
/// use core::hash::BuildHasher;
/// use evlatch::topic::FixedState;
/// assert_eq!(FixedState.hash_one("a.b"), FixedState.hash_one("a.b"));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FixedState;

impl BuildHasher for FixedState {
    type Hasher = FixedHasher;

    fn build_hasher(&self) -> FixedHasher {
        FixedHasher { state: 0 }
    }
}

/// The [`Hasher`] of [`FixedState`]: eight bytes at a time, a
/// multiply–rotate step (as in FxHash), and a final avalanche so that every
/// bit of the result depends on every input bit.
///
/// # Examples
///
/// ```
/// use core::hash::{BuildHasher, Hasher};
/// use evlatch::topic::FixedState;
/// let mut h = FixedState.build_hasher();
/// h.write(b"functions.signals");
/// assert_ne!(h.finish(), FixedState.build_hasher().finish());
/// ```
#[derive(Clone, Debug)]
pub struct FixedHasher {
    state: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FixedHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.state = (self.state.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FixedHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            // The length tells "ab" from "ab\0".
            self.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 59));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        // MurmurHash3's fmix64.
        let mut h = self.state;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^= h >> 33;
        h
    }
}
