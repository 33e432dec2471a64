//! proptest: single-threaded operation sequences on both rings — the
//! strictly lock-free queues (`EventQueue`, `HeapEventQueue`,
//! `PriorityQueue`) and the stamp ring (`StampQueue`, `HeapStampQueue`) —
//! including `force_push` and `pop_batch`, against a `VecDeque` model. With
//! no operation in flight, `Full` means exactly "holds `capacity` values" and
//! `None` exactly "empty", for both rings.

use std::collections::VecDeque;

use evlatch::{
    EventQueue, Full, HeapEventQueue, HeapStampQueue, Priority, PriorityQueue, StampQueue,
};
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

/// The sequential specification.
#[derive(Default)]
struct Model {
    items: VecDeque<u32>,
    capacity: usize,
    dropped: u64,
}

impl Model {
    fn with_capacity(capacity: usize) -> Self {
        Model {
            capacity,
            ..Model::default()
        }
    }
}

/// Runs `ops` on a queue through the given closures and on the model,
/// checking `capacity`, every result and `len`/`is_empty`/`is_full`/`dropped`
/// after each.
macro_rules! check_against_model {
    ($q:expr, $capacity:expr, $ops:expr) => {{
        let q = $q;
        let mut m = Model::with_capacity($capacity);
        let mut next = 0u32;
        prop_assert_eq!(q.capacity(), m.capacity);
        for op in $ops {
            match op {
                Op::Push => {
                    next += 1;
                    let want = if m.items.len() < m.capacity {
                        m.items.push_back(next);
                        Ok(())
                    } else {
                        Err(next)
                    };
                    prop_assert_eq!(q.try_push(next).map_err(|Full(v)| v), want);
                }
                Op::ForcePush => {
                    next += 1;
                    let want = if m.items.len() == m.capacity {
                        m.dropped += 1;
                        m.items.pop_front()
                    } else {
                        None
                    };
                    m.items.push_back(next);
                    prop_assert_eq!(q.force_push(next), want);
                }
                Op::Pop => prop_assert_eq!(q.try_pop(), m.items.pop_front()),
                Op::PopBatch(max) => {
                    let mut got = Vec::new();
                    let n = q.pop_batch(&mut got, max);
                    let want: Vec<u32> = (0..max).map_while(|_| m.items.pop_front()).collect();
                    prop_assert_eq!(n, want.len());
                    prop_assert_eq!(got, want);
                }
            }
            prop_assert_eq!(q.len(), m.items.len());
            prop_assert_eq!(q.is_empty(), m.items.is_empty());
            prop_assert_eq!(q.is_full(), m.items.len() == m.capacity);
            prop_assert_eq!(q.dropped(), m.dropped);
        }
    }};
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The inline queue, capacity 4.
    #[test]
    fn inline_queue_matches_model(ops in prop::collection::vec(op(), 0..200)) {
        check_against_model!(EventQueue::<u32, 4>::new(), 4, ops);
    }

    /// The inline queue, capacity 1 (rings of two entries: every op wraps).
    #[test]
    fn inline_queue_capacity_1_matches_model(ops in prop::collection::vec(op(), 0..200)) {
        check_against_model!(EventQueue::<u32, 1>::new(), 1, ops);
    }

    /// The heap queue at capacities 1 through 64.
    #[test]
    fn heap_queue_matches_model(order in 0u32..7, ops in prop::collection::vec(op(), 0..300)) {
        let capacity = 1usize << order;
        check_against_model!(HeapEventQueue::<u32>::with_capacity(capacity).unwrap(), capacity, ops);
    }

    /// The priority queue against two FIFOs and the starvation rule.
    #[test]
    fn priority_queue_matches_model(ops in prop::collection::vec((any::<bool>(), 0u8..3), 0..300)) {
        const LOW_AFTER: usize = PriorityQueue::<u32, 4>::LOW_AFTER;
        let q = PriorityQueue::<u32, 4>::new();
        let (mut high, mut low) = (VecDeque::new(), VecDeque::new());
        let mut skipped = 0;
        let mut next = 0u32;
        for (is_high, kind) in ops {
            let (priority, level) = if is_high { (Priority::High, &mut high) } else { (Priority::Low, &mut low) };
            match kind {
                0 => {
                    next += 1;
                    let want = if level.len() < 4 { level.push_back(next); Ok(()) } else { Err(next) };
                    prop_assert_eq!(q.try_push(next, priority).map_err(|Full(v)| v), want);
                }
                1 => {
                    next += 1;
                    let want = if level.len() == 4 { level.pop_front() } else { None };
                    level.push_back(next);
                    prop_assert_eq!(q.force_push(next, priority), want);
                }
                _ => {
                    let want = if skipped >= LOW_AFTER && !low.is_empty() {
                        skipped = 0;
                        low.pop_front().map(|v| (v, Priority::Low))
                    } else if let Some(v) = high.pop_front() {
                        if !low.is_empty() { skipped += 1; }
                        Some((v, Priority::High))
                    } else {
                        let v = low.pop_front();
                        if v.is_some() { skipped = 0; }
                        v.map(|v| (v, Priority::Low))
                    };
                    prop_assert_eq!(q.try_pop_with_priority(), want);
                }
            }
            prop_assert_eq!(q.len(), high.len() + low.len());
        }
    }
}

// The stamp ring, against the same model.
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
