//! Unit tests of the stamp ring (run under miri too: sizes scale down there),
//! including the deterministic proof that it is not lock-free: a claim held
//! without its completion blocks the others.

use core::cell::Cell;
use core::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering};
use std::rc::Rc;
use std::sync::Arc;
use std::vec::Vec;
use std::{format, thread};

use super::{Inline, PopPoll, PushPoll, StampRing};
use crate::queue::*;

/// Counts drops through a shared counter.
struct Tracked(Arc<StdAtomicUsize>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

const fn scaled(n: usize) -> usize {
    if cfg!(miri) {
        n / 100 + 1
    } else {
        n
    }
}

/// A raw ring of `N` slots whose counters start at `start`.
fn raw_at<const N: usize>(start: usize) -> StampRing<usize, Inline<usize, N>> {
    StampRing::starting_at(Inline::starting_at(start), start)
}

#[test]
fn fifo_through_many_wraparounds() {
    let q = StampQueue::<usize, 4>::new();
    let (mut next_in, mut next_out) = (0, 0);
    for round in 0..scaled(2_000) {
        for _ in 0..round % 5 {
            match q.try_push(next_in) {
                Ok(()) => next_in += 1,
                Err(Full(v)) => {
                    assert_eq!(v, next_in);
                    assert_eq!(q.len(), 4, "Full with no operation in flight");
                }
            }
        }
        for _ in 0..(round % 3 + 1) {
            match q.try_pop() {
                Some(v) => {
                    assert_eq!(v, next_out);
                    next_out += 1;
                }
                None => assert!(q.is_empty(), "None with no operation in flight"),
            }
        }
        assert_eq!(q.len(), next_in - next_out);
    }
}

#[test]
fn full_hands_the_value_back_and_capacity_is_exact() {
    fn check<Q>(
        cap: usize,
        q: &Q,
        push: impl Fn(&Q, usize) -> Result<(), Full<usize>>,
        pop: impl Fn(&Q) -> Option<usize>,
    ) {
        for i in 0..cap {
            push(q, i).unwrap();
        }
        assert_eq!(push(q, 99), Err(Full(99)));
        assert_eq!(pop(q), Some(0));
        push(q, cap).unwrap();
        assert_eq!(push(q, 100), Err(Full(100)));
    }
    let q1 = StampQueue::<usize, 1>::new();
    check(1, &q1, |q, v| q.try_push(v), StampQueue::try_pop);
    assert!(q1.is_full());
    let q2 = StampQueue::<usize, 2>::new();
    check(2, &q2, |q, v| q.try_push(v), StampQueue::try_pop);
    assert_eq!(q2.len(), 2);
    #[cfg(feature = "alloc")]
    for cap in [1usize, 2, 8, 64] {
        let q = HeapStampQueue::with_capacity(cap).unwrap();
        check(cap, &q, |q, v| q.try_push(v), HeapStampQueue::try_pop);
        assert!(q.is_full());
        assert_eq!(q.len(), cap);
    }
}

#[test]
fn empty_pops_do_not_break_later_pushes() {
    let q = StampQueue::<u8, 2>::new();
    for _ in 0..scaled(100) {
        assert_eq!(q.try_pop(), None);
    }
    q.try_push(1).unwrap();
    q.try_push(2).unwrap();
    assert_eq!(q.try_pop(), Some(1));
    assert_eq!(q.try_pop(), Some(2));
    assert_eq!(q.try_pop(), None);
    assert!(q.is_empty());
}

#[test]
fn force_push_overwrites_the_oldest_and_counts() {
    let q = StampQueue::<u32, 4>::new();
    for i in 0..4 {
        assert_eq!(q.force_push(i), None);
    }
    for i in 4..10 {
        assert_eq!(q.force_push(i), Some(i - 4));
        assert_eq!(q.len(), 4);
    }
    assert_eq!(q.dropped(), 6);
    let mut out = Vec::new();
    assert_eq!(q.pop_batch(&mut out, 100), 4);
    assert_eq!(out, [6, 7, 8, 9]);

    // Capacity 1: the one slot is both the oldest and the next.
    let q = StampQueue::<u32, 1>::new();
    assert_eq!(q.force_push(1), None);
    assert_eq!(q.force_push(2), Some(1));
    assert_eq!(q.force_push(3), Some(2));
    assert_eq!(q.try_pop(), Some(3));
    assert_eq!(q.force_push(4), None);
    assert_eq!(q.dropped(), 2);
}

#[test]
fn pop_batch_respects_max_and_early_stop() {
    let q = StampQueue::<u32, 8>::new();
    for i in 0..8 {
        q.try_push(i).unwrap();
    }
    let mut out = Vec::new();
    assert_eq!(q.pop_batch(&mut out, 3), 3);
    assert_eq!(out, [0, 1, 2]);

    /// Takes two values, then stops pulling.
    struct TakeTwo(Vec<u32>);
    impl Extend<u32> for TakeTwo {
        fn extend<I: IntoIterator<Item = u32>>(&mut self, iter: I) {
            self.0.extend(iter.into_iter().take(2));
        }
    }
    let mut two = TakeTwo(Vec::new());
    assert_eq!(q.pop_batch(&mut two, 100), 2);
    assert_eq!(two.0, [3, 4]);
    assert_eq!(q.len(), 3, "values the Extend did not take stay queued");
    assert_eq!(q.try_pop(), Some(5));
}

#[test]
fn drop_drops_what_is_left_exactly_once() {
    let drops = Arc::new(StdAtomicUsize::new(0));
    {
        let q = StampQueue::<Tracked, 4>::new();
        for _ in 0..4 {
            assert!(q.try_push(Tracked(drops.clone())).is_ok());
        }
        // Rejected and displaced values come back to us and drop here.
        drop(q.try_push(Tracked(drops.clone())));
        drop(q.force_push(Tracked(drops.clone())));
        drop(q.try_pop());
        // Wrap the ring: positions 5.. reuse slots 1..
        assert!(q.try_push(Tracked(drops.clone())).is_ok());
        assert_eq!(drops.load(Ordering::SeqCst), 3);
    }
    assert_eq!(drops.load(Ordering::SeqCst), 3 + 4);

    #[cfg(feature = "alloc")]
    {
        let drops = Arc::new(StdAtomicUsize::new(0));
        {
            let q = HeapStampQueue::with_capacity(8).unwrap();
            for _ in 0..5 {
                assert!(q.try_push(Tracked(drops.clone())).is_ok());
            }
        }
        assert_eq!(drops.load(Ordering::SeqCst), 5);
    }
}

#[test]
fn zero_sized_values() {
    let q = StampQueue::<(), 2>::new();
    q.try_push(()).unwrap();
    q.try_push(()).unwrap();
    assert!(q.try_push(()).is_err());
    assert_eq!(q.try_pop(), Some(()));
    assert_eq!(q.force_push(()), None);
    assert_eq!(q.force_push(()), Some(()));
}

#[cfg(not(evlatch_loom))]
#[test]
fn const_new_in_a_static() {
    static Q: StampQueue<u32, 2> = StampQueue::new();
    Q.try_push(5).unwrap();
    assert_eq!(Q.try_pop(), Some(5));
}

#[cfg(feature = "alloc")]
#[test]
fn heap_capacity_errors_never_panic() {
    assert_eq!(
        HeapStampQueue::<u8>::with_capacity(0).unwrap_err(),
        CapacityError::Zero
    );
    assert_eq!(
        HeapStampQueue::<u8>::with_capacity(6).unwrap_err(),
        CapacityError::NotPowerOfTwo
    );
    assert_eq!(
        HeapStampQueue::<u8>::with_capacity(MAX_QUEUE_CAPACITY * 2).unwrap_err(),
        CapacityError::TooLarge
    );
    assert_eq!(
        HeapStampQueue::<u8>::with_capacity(usize::MAX).unwrap_err(),
        CapacityError::NotPowerOfTwo
    );
}

#[test]
fn send_and_sync_exactly_when_t_is_send() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<StampQueue<Cell<u8>, 2>>(); // Send but not Sync is enough
    #[cfg(feature = "alloc")]
    send_sync::<HeapStampQueue<Cell<u8>>>();
    // The negative case (`Rc`) is a compile_fail doctest on StampQueue.
    let _ = Rc::new(0);
}

#[test]
fn debug_does_not_need_t_debug() {
    struct Opaque;
    let q = StampQueue::<Opaque, 2>::new();
    assert!(q.try_push(Opaque).is_ok());
    let text = format!("{q:?}");
    assert!(
        text.contains("StampQueue") && text.contains("len: 1") && text.contains("capacity: 2"),
        "{text}"
    );
    #[cfg(feature = "alloc")]
    assert!(
        format!("{:?}", HeapStampQueue::<Opaque>::with_capacity(2).unwrap())
            .contains("HeapStampQueue")
    );
}

#[test]
fn threads_lose_and_duplicate_nothing() {
    const PER: usize = scaled(20_000);
    let q = Arc::new(StampQueue::<usize, 4>::new());
    let producers: Vec<_> = (0..2)
        .map(|p| {
            let q = q.clone();
            thread::spawn(move || {
                for i in 0..PER {
                    let mut v = p * PER + i;
                    while let Err(Full(back)) = q.try_push(v) {
                        v = back;
                        thread::yield_now();
                    }
                }
            })
        })
        .collect();
    let consumers: Vec<_> = (0..2)
        .map(|_| {
            let q = q.clone();
            thread::spawn(move || {
                let mut got = Vec::new();
                while got.len() < PER {
                    match q.try_pop() {
                        Some(v) => got.push(v),
                        None => thread::yield_now(),
                    }
                }
                got
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    let mut all: Vec<usize> = consumers
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    all.sort_unstable();
    assert!(all.iter().copied().eq(0..2 * PER));
}

#[test]
fn counters_wrapping_past_usize_max_keep_fifo() {
    for back in [1usize, 3, 8, 17] {
        let start = usize::MAX - back;
        let q = raw_at::<4>(start);
        let (mut next_in, mut next_out) = (0, 0);
        for round in 0..scaled(300) {
            for _ in 0..round % 6 {
                if q.try_push(next_in).is_ok() {
                    next_in += 1;
                }
            }
            if round % 7 == 0 {
                if let Some(old) = q.force_push(next_in) {
                    assert_eq!(old, next_out);
                    next_out += 1;
                }
                next_in += 1;
            }
            for _ in 0..round % 4 {
                if let Some(v) = q.try_pop() {
                    assert_eq!(v, next_out, "start {start}");
                    next_out += 1;
                }
            }
            assert_eq!(q.len(), next_in - next_out);
        }
        assert!(next_out > 100 || cfg!(miri));
    }
}

/// Not lock-free, producer side: a push that claimed its position and
/// stopped before publishing hides every value pushed after it, although
/// `len` counts them: no pop gets past it (each attempt finds it in flight,
/// so `try_pop` waits); once it completes, all come out in order, the
/// waiting pop first.
#[test]
fn stalled_push_blocks_every_pop_past_it() {
    for start in [0, usize::MAX - 1] {
        let q = raw_at::<4>(start);
        q.try_push(10).unwrap();
        assert_eq!(q.try_pop(), Some(10));
        let stalled = q.claim_push().expect("the queue is empty");
        for v in 1..=3 {
            q.try_push(v).unwrap();
        }
        assert_eq!(q.len(), 4, "values 1..=3 are in the queue");
        for _ in 0..scaled(1_000) {
            assert_eq!(
                q.poll_pop(),
                PopPoll::InFlight,
                "a pop got past the stalled push"
            );
        }
        assert!(
            q.try_push(4).is_err(),
            "the queue holds 4 (3 + the stalled one)"
        );
        let first = thread::scope(|s| {
            // This pop waits for the stalled push rather than say empty.
            let waiter = s.spawn(|| q.try_pop());
            // SAFETY: `stalled` was claimed above and not committed.
            unsafe { q.commit_push(stalled, 0) };
            waiter.join().unwrap()
        });
        assert_eq!(first, Some(0));
        let mut out = Vec::new();
        q.pop_batch(&mut out, 10);
        assert_eq!(out, [1, 2, 3]);
    }
}

/// Not lock-free, consumer side: a pop that claimed its position and stopped
/// before freeing the slot stops every push once the ring wraps to that
/// slot, although the queue is empty (each attempt finds it in flight, so
/// `try_push` waits); other slots stay usable until then.
#[test]
fn stalled_pop_blocks_every_push_once_the_ring_wraps() {
    for start in [0, usize::MAX - 2] {
        let q = raw_at::<4>(start);
        q.try_push(100).unwrap();
        let stalled = q.claim_pop().expect("one value queued");
        // Positions 1..=3 use the other three slots: fine.
        for v in 1..=3 {
            q.try_push(v).unwrap();
        }
        for v in 1..=3 {
            assert_eq!(q.try_pop(), Some(v));
        }
        assert_eq!(q.len(), 0, "nothing is queued");
        // Position 4 wraps to the stalled pop's slot.
        for _ in 0..scaled(1_000) {
            assert_eq!(
                q.poll_push(),
                PushPoll::InFlight,
                "a push got past the stalled pop"
            );
        }
        // force_push cannot make room either: it gives up and displaces
        // its own value, counted.
        assert_eq!(q.force_push(5), Some(5));
        assert_eq!(q.dropped(), 1);
        let pushed = thread::scope(|s| {
            // This push waits for the stalled pop rather than say full.
            let waiter = s.spawn(|| q.try_push(4));
            // SAFETY: `stalled` was claimed above and not committed.
            assert_eq!(unsafe { q.commit_pop(stalled) }, 100);
            waiter.join().unwrap()
        });
        assert_eq!(pushed, Ok(()));
        assert_eq!(q.try_pop(), Some(4));
        assert_eq!(q.try_pop(), None);
    }
}

/// What `Full` means for the stamp ring: the queue was full. heapless #583's
/// case — a pop in flight on the *next* slot in ring order, right after this
/// thread popped a value itself — is not `Full`: the push waits for that pop
/// (it finds the slot in flight), then goes through; a pop in flight on any
/// other slot does not even make it wait.
#[test]
fn full_means_the_queue_was_full() {
    let q = raw_at::<4>(0);
    for v in 0..4 {
        q.try_push(v).unwrap();
    }
    assert_eq!(q.try_push(9), Err(Full(9)), "really full");
    // Another thread claims position 0 (the oldest) and is mid-pop...
    let other = q.claim_pop().unwrap();
    // ...this thread pops position 1 and pushes: the next slot is 0's.
    assert_eq!(q.try_pop(), Some(1));
    assert_eq!(q.len(), 2, "two values queued, two slots not holding one");
    assert_eq!(
        q.poll_push(),
        PushPoll::InFlight,
        "not Full while a pop is in flight on the next slot"
    );
    let pushed = thread::scope(|s| {
        let waiter = s.spawn(|| q.try_push(9));
        // SAFETY: `other` was claimed above and not committed.
        assert_eq!(unsafe { q.commit_pop(other) }, 0);
        waiter.join().unwrap()
    });
    assert_eq!(pushed, Ok(()));
    q.try_push(10).unwrap();
    assert_eq!(q.try_push(11), Err(Full(11)), "really full");

    // A pop in flight on a slot that is not next does not get in the way.
    let q = raw_at::<4>(0);
    for v in 0..3 {
        q.try_push(v).unwrap();
    }
    let other = q.claim_pop().unwrap(); // position 0; the next push is at 3
    q.try_push(3).unwrap();
    // SAFETY: `other` was claimed above and not committed.
    assert_eq!(unsafe { q.commit_pop(other) }, 0);
    q.try_push(4).unwrap();
}

/// What `None` means for the stamp ring: the queue was empty. With no push
/// claimed (`tail == head`) a pop says so at once; with a push claimed at
/// the head but not yet published, one attempt finds it in flight (so
/// `try_pop` would wait for it), and once it is published the pop gets it.
#[test]
fn none_means_the_queue_was_empty() {
    let q = raw_at::<2>(0);
    assert_eq!(q.poll_pop(), PopPoll::Empty);
    let claimed = q.claim_push().unwrap();
    assert_eq!(q.poll_pop(), PopPoll::InFlight);
    // SAFETY: `claimed` was claimed above and not committed.
    unsafe { q.commit_push(claimed, 7) };
    assert_eq!(q.try_pop(), Some(7));
    assert_eq!(q.try_pop(), None);
}

/// force_push displaces only on a really full queue: with a pop in flight
/// on a slot that is not next, it pushes into the free slot.
#[test]
fn force_push_displaces_only_when_full() {
    let q = raw_at::<2>(0);
    q.try_push(0).unwrap();
    let other = q.claim_pop().unwrap();
    assert_eq!(q.force_push(1), None, "slot 1 is free");
    // Now the next slot is 0's, still being popped: not full (one value),
    // but force_push cannot get past it; it gives up with its own value.
    assert_eq!(q.force_push(2), Some(2));
    // SAFETY: `other` was claimed above and not committed.
    assert_eq!(unsafe { q.commit_pop(other) }, 0);
    assert_eq!(q.force_push(2), None);
    assert_eq!(q.force_push(3), Some(1));
    assert_eq!(q.dropped(), 2);
    let mut out = Vec::new();
    q.pop_batch(&mut out, 10);
    assert_eq!(out, [2, 3]);
}
