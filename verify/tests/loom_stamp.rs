//! Loom models of the stamp ring (`StampQueue`), one race per test.
//!
//! Run: `RUSTFLAGS="--cfg evlatch_loom -C debug-assertions" LOOM_MAX_PREEMPTIONS=2
//! cargo test --release -p evlatch-verify --test loom_stamp`
//!
//! Both racing operations run on spawned threads, never on the model's main
//! thread: loom 0.7 explores a single interleaving when the main thread's
//! operation reads first and the other thread's reads before it writes
//! (tokio-rs/loom#392, #166) — checked with `LOOM_LOG=info`, which prints the
//! number of iterations of each model.
#![cfg(evlatch_loom)]

use evlatch::{Full, StampQueue};
use loom::sync::Arc;
use loom::thread;

/// Runs `a` and `b` on two spawned threads against `q`; returns both results.
fn race<const N: usize, TA, TB, A, B>(q: &Arc<StampQueue<u32, N>>, a: A, b: B) -> (TA, TB)
where
    TA: Send + 'static,
    TB: Send + 'static,
    A: FnOnce(&StampQueue<u32, N>) -> TA + Send + 'static,
    B: FnOnce(&StampQueue<u32, N>) -> TB + Send + 'static,
{
    let (qa, qb) = (q.clone(), q.clone());
    let ta = thread::spawn(move || a(&qa));
    let tb = thread::spawn(move || b(&qb));
    (ta.join().unwrap(), tb.join().unwrap())
}

/// Push against pop on an empty queue of capacity 1: the pop sees the value
/// (and the write happens before its read) or nothing, and the value is
/// never lost.
#[test]
fn push_vs_pop_capacity_1() {
    loom::model(|| {
        let q = Arc::new(StampQueue::<u32, 1>::new());
        let (pushed, got) = race(
            &q,
            |q| q.try_push(1).map(|()| None).unwrap_or(Some(0)),
            |q| q.try_pop(),
        );
        assert_eq!(pushed, None, "the empty queue refused the push");
        match got {
            Some(v) => assert_eq!(v, 1),
            None => assert_eq!(q.try_pop(), Some(1)),
        }
        assert_eq!(q.try_pop(), None);
    });
}

/// Push against pop on a full queue of capacity 1 (the slot the push needs
/// is the one being popped): the push fails only while the pop has not
/// freed the slot, the pop's read happens before the push's write, and
/// nothing is lost or duplicated.
#[test]
fn push_vs_pop_full_capacity_1() {
    loom::model(|| {
        let q = Arc::new(StampQueue::<u32, 1>::new());
        q.try_push(1).unwrap();
        let (pushed, popped) = race(
            &q,
            |q| match q.try_push(2) {
                Ok(()) => None,
                Err(Full(v)) => Some(v),
            },
            |q| q.try_pop(),
        );
        assert_eq!(popped, Some(1));
        match pushed {
            None => assert_eq!(q.try_pop(), Some(2)),
            Some(v) => {
                assert_eq!(v, 2);
                assert_eq!(q.try_pop(), None);
            }
        }
    });
}

/// Push against pop at capacity 2 with one value queued: the push uses the
/// other slot, so it never fails, and the pop takes the older value (FIFO).
#[test]
fn push_vs_pop_capacity_2() {
    loom::model(|| {
        let q = Arc::new(StampQueue::<u32, 2>::new());
        q.try_push(1).unwrap();
        let (pushed, popped) = race(&q, |q| q.try_push(2), |q| q.try_pop());
        assert!(pushed.is_ok(), "a free slot was refused");
        assert_eq!(popped, Some(1));
        assert_eq!(q.try_pop(), Some(2));
        assert_eq!(q.try_pop(), None);
    });
}

/// Two pushers race for the last free slot of capacity 2: exactly one wins
/// (one CAS on `tail` decides), the loser gets its own value back.
#[test]
fn push_vs_push_last_slot_capacity_2() {
    loom::model(|| {
        let q = Arc::new(StampQueue::<u32, 2>::new());
        q.try_push(1).unwrap();
        let results = race(&q, |q| q.try_push(2), |q| q.try_push(3));
        let left = (q.try_pop(), q.try_pop(), q.try_pop());
        match results {
            (Ok(()), Err(Full(3))) => assert_eq!(left, (Some(1), Some(2), None)),
            (Err(Full(2)), Ok(())) => assert_eq!(left, (Some(1), Some(3), None)),
            other => panic!("both or neither got the last slot: {other:?}"),
        }
    });
}

/// Two poppers race for the one value of capacity 2: exactly one gets it.
#[test]
fn pop_vs_pop_capacity_2() {
    loom::model(|| {
        let q = Arc::new(StampQueue::<u32, 2>::new());
        q.try_push(7).unwrap();
        let (a, b) = race(&q, |q| q.try_pop(), |q| q.try_pop());
        let mut got: Vec<u32> = [a, b].into_iter().flatten().collect();
        got.sort_unstable();
        assert_eq!(got, [7]);
        assert_eq!(q.try_pop(), None);
    });
}

/// Push against pop after the positions have wrapped the ring twice
/// (capacity 2, positions 3 and 4 reuse slots 1 and 0): stamps of earlier
/// laps must not be taken for this one.
#[test]
fn wraparound_push_vs_pop() {
    loom::model(|| {
        let q = Arc::new(StampQueue::<u32, 2>::new());
        for v in [10, 11, 12] {
            q.try_push(v).unwrap();
            assert_eq!(q.try_pop(), Some(v));
        }
        q.try_push(20).unwrap();
        let (pushed, first) = race(&q, |q| q.try_push(21), |q| q.try_pop());
        assert!(pushed.is_ok(), "a free slot was refused");
        assert_eq!(first, Some(20));
        assert_eq!(q.try_pop(), Some(21));
        assert_eq!(q.try_pop(), None);
        q.try_push(22).unwrap();
        assert_eq!(q.try_pop(), Some(22));
    });
}

/// force_push on a full queue of capacity 1 against a pop: every value ends
/// up exactly once in the pop, the displaced return, or the queue; the drop
/// count matches what came back.
#[test]
fn force_push_vs_pop_capacity_1() {
    loom::model(|| {
        let q = Arc::new(StampQueue::<u32, 1>::new());
        q.try_push(1).unwrap();
        let (displaced, popped) = race(&q, |q| q.force_push(2), |q| q.try_pop());
        let left = q.try_pop();
        let mut seen: Vec<u32> = [displaced, popped, left].into_iter().flatten().collect();
        seen.sort_unstable();
        assert_eq!(seen, [1, 2]);
        assert_eq!(q.dropped(), u64::from(displaced.is_some()));
        // 2 was pushed after 1 and only one pop ran: 1 cannot be left behind.
        assert_ne!(left, Some(1));
    });
}

/// force_push on a full queue of capacity 2 against a pop: the oldest value
/// goes to exactly one of them, FIFO order is kept for the rest.
#[test]
fn force_push_vs_pop_capacity_2() {
    loom::model(|| {
        let q = Arc::new(StampQueue::<u32, 2>::new());
        q.try_push(1).unwrap();
        q.try_push(2).unwrap();
        let (displaced, popped) = race(&q, |q| q.force_push(3), |q| q.try_pop());
        let mut rest = Vec::new();
        q.pop_batch(&mut rest, 10);
        let mut seen: Vec<u32> = [displaced, popped].into_iter().flatten().collect();
        seen.extend(&rest);
        seen.sort_unstable();
        assert_eq!(
            seen,
            [1, 2, 3],
            "displaced {displaced:?} popped {popped:?} rest {rest:?}"
        );
        assert_eq!(q.dropped(), u64::from(displaced.is_some()));
        assert_eq!(
            popped,
            Some(if displaced == Some(1) { 2 } else { 1 }),
            "pop not FIFO"
        );
        assert!(
            rest.windows(2).all(|w| w[0] < w[1]),
            "FIFO broken: {rest:?}"
        );
    });
}

/// Two force_pushes on a full queue of capacity 1: each displaces a
/// different value (or gives its own back), one value stays.
#[test]
fn force_push_vs_force_push_capacity_1() {
    loom::model(|| {
        let q = Arc::new(StampQueue::<u32, 1>::new());
        q.try_push(1).unwrap();
        let (a, b) = race(&q, |q| q.force_push(2), |q| q.force_push(3));
        let left = q.try_pop();
        let mut seen: Vec<u32> = [a, b, left].into_iter().flatten().collect();
        seen.sort_unstable();
        assert_eq!(seen, [1, 2, 3]);
        assert!(left.is_some(), "a force_push always leaves a value");
        assert_eq!(q.dropped(), 2);
    });
}

/// Linearizability of `try_pop` (crossbeam's check in miniature): two
/// threads each push and then pop at capacity 2. A thread's own push
/// returned before its pop began, so neither pop may say empty — even when
/// the other thread's push is still in flight at the head (the pop must
/// wait it out, not report `None`).
#[test]
fn own_push_then_pop_is_never_empty_capacity_2() {
    loom::model(|| {
        let q = Arc::new(StampQueue::<u32, 2>::new());
        let (a, b) = race(
            &q,
            |q| {
                q.try_push(1).unwrap();
                q.try_pop()
            },
            |q| {
                q.try_push(2).unwrap();
                q.try_pop()
            },
        );
        let mut got = [
            a.expect("empty after own push"),
            b.expect("empty after own push"),
        ];
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
        assert_eq!(q.try_pop(), None);
    });
}

/// Linearizability of `try_push` (heapless #583): two threads each pop and
/// then push on a full queue of capacity 2. After a thread's own pop the
/// queue holds at most one value, so neither push may say `Full` — even when
/// the other thread's pop is still in flight on the slot it needs (the push
/// must wait it out).
#[test]
fn own_pop_then_push_is_never_full_capacity_2() {
    loom::model(|| {
        let q = Arc::new(StampQueue::<u32, 2>::new());
        q.try_push(1).unwrap();
        q.try_push(2).unwrap();
        let (a, b) = race(
            &q,
            |q| {
                let v = q.try_pop().expect("the queue was full");
                (v, q.try_push(v + 10))
            },
            |q| {
                let v = q.try_pop().expect("the queue was full");
                (v, q.try_push(v + 10))
            },
        );
        assert_eq!(a.1, Ok(()), "Full after own pop");
        assert_eq!(b.1, Ok(()), "Full after own pop");
        let mut popped = [a.0, b.0];
        popped.sort_unstable();
        assert_eq!(popped, [1, 2]);
        let mut left = [q.try_pop().unwrap(), q.try_pop().unwrap()];
        left.sort_unstable();
        assert_eq!(left, [11, 12]);
    });
}
