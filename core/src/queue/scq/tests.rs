//! Unit tests of the queues (run under miri too: sizes scale down there).

use core::cell::Cell;
use core::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering};
use std::rc::Rc;
use std::sync::Arc;
use std::vec::Vec;
use std::{format, thread};

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

#[test]
fn fifo_through_many_wraparounds() {
    let q = EventQueue::<usize, 4>::new();
    let mut next_in = 0;
    let mut next_out = 0;
    for round in 0..scaled(2_000) {
        let burst = round % 5;
        for _ in 0..burst {
            match q.try_push(next_in) {
                Ok(()) => next_in += 1,
                Err(Full(v)) => assert_eq!(v, next_in),
            }
        }
        for _ in 0..(round % 3 + 1) {
            if let Some(v) = q.try_pop() {
                assert_eq!(v, next_out);
                next_out += 1;
            }
        }
        assert_eq!(q.len(), next_in - next_out);
    }
}

#[cfg(feature = "alloc")]
#[test]
fn full_hands_the_value_back_and_capacity_is_exact() {
    for cap in [1usize, 2, 8, 64] {
        let q = HeapEventQueue::with_capacity(cap).unwrap();
        for i in 0..cap {
            q.try_push(i).unwrap();
        }
        assert!(q.is_full());
        assert_eq!(q.try_push(99), Err(Full(99)));
        assert_eq!(q.try_pop(), Some(0));
        q.try_push(cap).unwrap();
        assert_eq!(q.len(), cap);
    }
}

#[test]
fn empty_pops_do_not_break_later_pushes() {
    let q = EventQueue::<u8, 2>::new();
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
    let q = EventQueue::<u32, 4>::new();
    for i in 0..4 {
        assert_eq!(q.force_push(i), None);
    }
    for i in 4..10 {
        assert_eq!(q.force_push(i), Some(i - 4));
    }
    assert_eq!(q.dropped(), 6);
    let mut out = Vec::new();
    assert_eq!(q.pop_batch(&mut out, 100), 4);
    assert_eq!(out, [6, 7, 8, 9]);
}

#[test]
fn pop_batch_respects_max_and_early_stop() {
    let q = EventQueue::<u32, 8>::new();
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
        let q = EventQueue::<Tracked, 4>::new();
        for _ in 0..4 {
            assert!(q.try_push(Tracked(drops.clone())).is_ok());
        }
        // Rejected and displaced values come back to us and drop here.
        drop(q.try_push(Tracked(drops.clone())));
        drop(q.force_push(Tracked(drops.clone())));
        drop(q.try_pop());
        assert_eq!(drops.load(Ordering::SeqCst), 3);
    }
    assert_eq!(drops.load(Ordering::SeqCst), 3 + 3);

    #[cfg(feature = "alloc")]
    {
        let drops = Arc::new(StdAtomicUsize::new(0));
        {
            let q = HeapEventQueue::with_capacity(8).unwrap();
            for _ in 0..5 {
                assert!(q.try_push(Tracked(drops.clone())).is_ok());
            }
        }
        assert_eq!(drops.load(Ordering::SeqCst), 5);
    }
}

#[test]
fn zero_sized_values() {
    let q = EventQueue::<(), 2>::new();
    q.try_push(()).unwrap();
    q.try_push(()).unwrap();
    assert!(q.try_push(()).is_err());
    assert_eq!(q.try_pop(), Some(()));
}

#[cfg(feature = "alloc")]
#[test]
fn heap_capacity_errors_never_panic() {
    assert_eq!(
        HeapEventQueue::<u8>::with_capacity(0).unwrap_err(),
        CapacityError::Zero
    );
    assert_eq!(
        HeapEventQueue::<u8>::with_capacity(6).unwrap_err(),
        CapacityError::NotPowerOfTwo
    );
    assert_eq!(
        HeapEventQueue::<u8>::with_capacity(MAX_QUEUE_CAPACITY * 2).unwrap_err(),
        CapacityError::TooLarge
    );
    assert_eq!(
        HeapEventQueue::<u8>::with_capacity(usize::MAX).unwrap_err(),
        CapacityError::NotPowerOfTwo
    );
    for err in [CapacityError::Zero, CapacityError::OutOfMemory] {
        assert!(!format!("{err}").is_empty());
    }
}

#[test]
fn send_and_sync_exactly_when_t_is_send() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<EventQueue<Cell<u8>, 2>>(); // Send but not Sync is enough
    #[cfg(feature = "alloc")]
    send_sync::<HeapEventQueue<Cell<u8>>>();
    send_sync::<PriorityQueue<Cell<u8>, 2>>();
    // The negative case (`Rc`) is a compile_fail doctest on EventQueue.
    let _ = Rc::new(0);
}

#[test]
fn debug_does_not_need_t_debug() {
    struct Opaque;
    let q = EventQueue::<Opaque, 2>::new();
    assert!(q.try_push(Opaque).is_ok());
    let text = format!("{q:?}");
    assert!(
        text.contains("len: 1") && text.contains("capacity: 2"),
        "{text}"
    );
    #[cfg(feature = "alloc")]
    assert!(
        format!("{:?}", HeapEventQueue::<Opaque>::with_capacity(2).unwrap())
            .contains("HeapEventQueue")
    );
    assert_eq!(format!("{:?}", Full(Opaque)), "Full(..)");
    assert!(format!("{:?}", PriorityQueue::<Opaque, 2>::new()).contains("PriorityQueue"));
}

#[test]
fn priority_serves_high_first_and_low_within_the_bound() {
    let q = PriorityQueue::<u32, 64>::new();
    const BOUND: usize = PriorityQueue::<u32, 64>::LOW_AFTER;
    for i in 0..4 {
        q.try_push(1000 + i, Priority::Low).unwrap();
    }
    for i in 0..40 {
        q.try_push(i, Priority::High).unwrap();
    }
    let mut since_low = 0;
    let mut lows = Vec::new();
    while let Some((v, p)) = q.try_pop_with_priority() {
        match p {
            Priority::High => {
                since_low += 1;
                if q.len_of(Priority::Low) > 0 || lows.len() < 4 {
                    assert!(since_low <= BOUND, "Low starved for {since_low} pops");
                }
            }
            Priority::Low => {
                since_low = 0;
                lows.push(v);
            }
        }
    }
    assert_eq!(lows, [1000, 1001, 1002, 1003]);
}

#[test]
fn threads_lose_and_duplicate_nothing() {
    const PER: usize = scaled(20_000);
    let q = Arc::new(EventQueue::<usize, 4>::new());
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
    use super::{Inline, ScqRing};
    for back in [1usize, 3, 8, 17] {
        let start = usize::MAX - back;
        let q = ScqRing::<usize, Inline<usize, 4>>::starting_at(Inline::starting_at(start), start);
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
