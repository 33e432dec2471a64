//! proptest: single-threaded operation sequences on the stamp ring
//! (`StampQueue`, `HeapStampQueue`), including `force_push` and `pop_batch`,
//! against a `VecDeque` model. With no operation in flight, `Full` means
//! exactly "holds `capacity` values" and `None` exactly "empty".

use std::collections::VecDeque;

use evlatch::{Full, HeapStampQueue, StampQueue};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Push,
    ForcePush,
    Pop,
    PopBatch(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Push),
        2 => Just(Op::ForcePush),
        3 => Just(Op::Pop),
        1 => (0usize..6).prop_map(Op::PopBatch),
    ]
}

/// Runs `ops` on queue `q` and on a `VecDeque` of `capacity`, checking every
/// result and `len`/`is_empty`/`is_full`/`dropped`/`capacity` after each.
macro_rules! check_against_model {
    ($q:expr, $capacity:expr, $ops:expr) => {{
        let q = $q;
        let capacity: usize = $capacity;
        let mut items = VecDeque::new();
        let mut dropped = 0u64;
        let mut next = 0u32;
        prop_assert_eq!(q.capacity(), capacity);
        for op in $ops {
            match op {
                Op::Push => {
                    next += 1;
                    let want = if items.len() < capacity {
                        items.push_back(next);
                        Ok(())
                    } else {
                        Err(next)
                    };
                    prop_assert_eq!(q.try_push(next).map_err(|Full(v)| v), want);
                }
                Op::ForcePush => {
                    next += 1;
                    let want = if items.len() == capacity {
                        dropped += 1;
                        items.pop_front()
                    } else {
                        None
                    };
                    items.push_back(next);
                    prop_assert_eq!(q.force_push(next), want);
                }
                Op::Pop => prop_assert_eq!(q.try_pop(), items.pop_front()),
                Op::PopBatch(max) => {
                    let mut got = Vec::new();
                    let n = q.pop_batch(&mut got, max);
                    let want: Vec<u32> = (0..max).map_while(|_| items.pop_front()).collect();
                    prop_assert_eq!(n, want.len());
                    prop_assert_eq!(got, want);
                }
            }
            prop_assert_eq!(q.len(), items.len());
            prop_assert_eq!(q.is_empty(), items.is_empty());
            prop_assert_eq!(q.is_full(), items.len() == capacity);
            prop_assert_eq!(q.dropped(), dropped);
        }
    }};
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The inline ring, capacity 4.
    #[test]
    fn inline_stamp_queue_matches_model(ops in prop::collection::vec(op(), 0..200)) {
        check_against_model!(StampQueue::<u32, 4>::new(), 4, ops);
    }

    /// The inline ring, capacity 1 (one slot: the oldest value's slot is
    /// always the next push's, the stamps must still tell full from free).
    #[test]
    fn inline_stamp_queue_capacity_1_matches_model(ops in prop::collection::vec(op(), 0..200)) {
        check_against_model!(StampQueue::<u32, 1>::new(), 1, ops);
    }

    /// The heap ring at capacities 1 through 64.
    #[test]
    fn heap_stamp_queue_matches_model(order in 0u32..7, ops in prop::collection::vec(op(), 0..300)) {
        let capacity = 1usize << order;
        check_against_model!(HeapStampQueue::<u32>::with_capacity(capacity).unwrap(), capacity, ops);
    }
}
