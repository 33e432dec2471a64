//! The count of values `force_push` displaced, as a `u64` on every target.
//!
//! Where the target has 64-bit atomics this is one `AtomicU64`. Elsewhere
//! (`thumbv7em-none-eabihf`, `thumbv6m-none-eabi`, other 32-bit targets) it is
//! [`SplitCounter`]: two `AtomicU32` words, still lock-free, exact as long as
//! no thread is stopped inside [`SplitCounter::increment`] while 2^31 other
//! increments happen.

use crate::sync::{const_unless_loom, AtomicU32, Ordering};

/// The counter the queues use on this target.
#[cfg(any(evlatch_loom, target_has_atomic = "64"))]
pub(crate) type DropCounter = WideCounter;
/// The counter the queues use on this target.
#[cfg(not(any(evlatch_loom, target_has_atomic = "64")))]
pub(crate) type DropCounter = SplitCounter;

/// One `AtomicU64`.
#[cfg(any(evlatch_loom, target_has_atomic = "64"))]
pub(crate) struct WideCounter(crate::sync::AtomicU64);

#[cfg(any(evlatch_loom, target_has_atomic = "64"))]
impl WideCounter {
    const_unless_loom! {
        pub(crate) fn new() -> Self {
            WideCounter(crate::sync::AtomicU64::new(0))
        }
    }

    /// Adds one. Relaxed: the count orders nothing else.
    pub(crate) fn increment(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A 64-bit count in two `AtomicU32`s, without a lock.
///
/// `lo` is the count modulo 2^32. `hi` counts how many times the count has
/// reached a multiple of 2^31 ("half-wraps"); the increment that reaches one
/// bumps `hi` right after, so `hi` lags the true number of half-wraps by at
/// most one, and bit 31 of `lo` is the parity of that true number. A reader
/// takes `hi`, then `lo`, and adds one to `hi` when the parities differ.
#[allow(dead_code)] // used on targets without 64-bit atomics; tested everywhere
pub(crate) struct SplitCounter {
    /// The count modulo 2^32.
    lo: AtomicU32,
    /// Half-wraps of `lo` published so far (modulo 2^32).
    hi: AtomicU32,
}

#[allow(dead_code)]
impl SplitCounter {
    const HALF: u32 = 1 << 31;

    const_unless_loom! {
        pub(crate) fn new() -> Self {
            SplitCounter {
                lo: AtomicU32::new(0),
                hi: AtomicU32::new(0),
            }
        }
    }

    /// Adds one.
    ///
    /// `AcqRel`/`Acquire` on `lo` and `Release`/`Acquire` on `hi` make a
    /// reader that sees a bumped `hi` also see the `lo` that caused it.
    pub(crate) fn increment(&self) {
        let now = self.lo.fetch_add(1, Ordering::AcqRel).wrapping_add(1);
        if now.is_multiple_of(Self::HALF) {
            self.hi.fetch_add(1, Ordering::Release);
        }
    }

    pub(crate) fn get(&self) -> u64 {
        let hi = self.hi.load(Ordering::Acquire);
        let lo = self.lo.load(Ordering::Acquire);
        let parity = lo >> 31;
        let half_wraps = u64::from(hi) + u64::from(parity ^ (hi & 1));
        half_wraps * u64::from(Self::HALF) + u64::from(lo % Self::HALF)
    }

    #[cfg(all(test, not(evlatch_loom)))]
    fn starting_at(lo: u32, hi: u32) -> Self {
        SplitCounter {
            lo: AtomicU32::new(lo),
            hi: AtomicU32::new(hi),
        }
    }
}

#[cfg(all(test, not(evlatch_loom)))]
mod tests {
    use super::*;

    #[test]
    fn split_counter_counts_across_half_wraps() {
        let c = SplitCounter::new();
        c.increment();
        c.increment();
        assert_eq!(c.get(), 2);

        // Just below the first half-wrap.
        let c = SplitCounter::starting_at(SplitCounter::HALF - 1, 0);
        assert_eq!(c.get(), (1 << 31) - 1);
        c.increment();
        assert_eq!(c.get(), 1 << 31);
        c.increment();
        assert_eq!(c.get(), (1 << 31) + 1);

        // Just below 2^32: `lo` wraps to 0.
        let c = SplitCounter::starting_at(u32::MAX, 1);
        assert_eq!(c.get(), (1 << 32) - 1);
        c.increment();
        assert_eq!(c.get(), 1 << 32);
    }

    #[test]
    fn split_counter_reads_right_while_hi_lags() {
        // The increment that reached 2^31 has not bumped `hi` yet.
        let c = SplitCounter::starting_at(SplitCounter::HALF, 0);
        assert_eq!(c.get(), 1 << 31);
        // The one that reached 2^32 has not either.
        let c = SplitCounter::starting_at(0, 1);
        assert_eq!(c.get(), 1 << 32);
        // 3 * 2^31 + 5, `hi` caught up.
        let c = SplitCounter::starting_at(SplitCounter::HALF + 5, 3);
        assert_eq!(c.get(), 3 * (1 << 31) + 5);
    }

    #[test]
    fn wide_or_split_drop_counter_counts() {
        let c = DropCounter::new();
        for _ in 0..10 {
            c.increment();
        }
        assert_eq!(c.get(), 10);
    }
}
