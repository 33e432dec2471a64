//! Target `queue_ops`: a byte string decoded as a sequence of operations on
//! an [`EventQueue`], a [`HeapEventQueue`] and a [`PriorityQueue`], each
//! checked step by step against a plain sequential model.
//!
//! Byte 0 picks the heap queue's capacity (1, 2, 4 or 8). Each later byte is
//! one operation: `b % 8` picks it, `b / 8` is its argument.

use std::collections::VecDeque;

use evlatch::{EventQueue, Full, HeapEventQueue, Priority, PriorityQueue};

/// The model of one bounded FIFO with `force_push`.
struct Model {
    items: VecDeque<u32>,
    capacity: usize,
    dropped: u64,
}

impl Model {
    fn new(capacity: usize) -> Self {
        Model {
            items: VecDeque::new(),
            capacity,
            dropped: 0,
        }
    }

    fn try_push(&mut self, v: u32) -> Result<(), u32> {
        if self.items.len() == self.capacity {
            return Err(v);
        }
        self.items.push_back(v);
        Ok(())
    }

    fn force_push(&mut self, v: u32) -> Option<u32> {
        let old = if self.items.len() == self.capacity {
            self.dropped += 1;
            self.items.pop_front()
        } else {
            None
        };
        self.items.push_back(v);
        old
    }
}

/// The operations both queue types share, so one loop drives both.
trait Queue {
    fn try_push(&self, v: u32) -> Result<(), Full<u32>>;
    fn force_push(&self, v: u32) -> Option<u32>;
    fn try_pop(&self) -> Option<u32>;
    fn pop_batch(&self, out: &mut Vec<u32>, max: usize) -> usize;
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool;
    fn is_full(&self) -> bool;
    fn capacity(&self) -> usize;
    fn dropped(&self) -> u64;
}

macro_rules! impl_queue {
    ($($t:ty),*) => {$(
        impl Queue for $t {
            fn try_push(&self, v: u32) -> Result<(), Full<u32>> { <$t>::try_push(self, v) }
            fn force_push(&self, v: u32) -> Option<u32> { <$t>::force_push(self, v) }
            fn try_pop(&self) -> Option<u32> { <$t>::try_pop(self) }
            fn pop_batch(&self, out: &mut Vec<u32>, max: usize) -> usize { <$t>::pop_batch(self, out, max) }
            fn len(&self) -> usize { <$t>::len(self) }
            fn is_empty(&self) -> bool { <$t>::is_empty(self) }
            fn is_full(&self) -> bool { <$t>::is_full(self) }
            fn capacity(&self) -> usize { <$t>::capacity(self) }
            fn dropped(&self) -> u64 { <$t>::dropped(self) }
        }
    )*};
}
impl_queue!(EventQueue<u32, 4>, HeapEventQueue<u32>);

/// Applies one operation to `q` and `m` and checks they agree.
fn step(q: &impl Queue, m: &mut Model, op: u8, next: &mut u32) {
    let arg = usize::from(op / 8);
    match op % 8 {
        0 | 1 => {
            *next += 1;
            assert_eq!(q.try_push(*next).map_err(|Full(v)| v), m.try_push(*next));
        }
        2 => {
            *next += 1;
            assert_eq!(q.force_push(*next), m.force_push(*next));
        }
        3 | 4 => assert_eq!(q.try_pop(), m.items.pop_front()),
        5 => {
            let max = arg % 6;
            let mut got = Vec::new();
            let n = q.pop_batch(&mut got, max);
            let want: Vec<u32> = (0..max).map_while(|_| m.items.pop_front()).collect();
            assert_eq!(n, want.len());
            assert_eq!(got, want);
        }
        _ => {}
    }
    assert_eq!(q.len(), m.items.len());
    assert_eq!(q.is_empty(), m.items.is_empty());
    assert_eq!(q.is_full(), m.items.len() == m.capacity);
    assert_eq!(q.capacity(), m.capacity);
    assert_eq!(q.dropped(), m.dropped);
}

/// The model of a [`PriorityQueue`]: two FIFOs and the starvation rule.
struct PriorityModel {
    high: Model,
    low: Model,
    skipped: usize,
}

impl PriorityModel {
    fn pop(&mut self, low_after: usize) -> Option<(u32, Priority)> {
        if self.skipped >= low_after {
            if let Some(v) = self.low.items.pop_front() {
                self.skipped = 0;
                return Some((v, Priority::Low));
            }
        }
        if let Some(v) = self.high.items.pop_front() {
            if !self.low.items.is_empty() {
                self.skipped += 1;
            }
            return Some((v, Priority::High));
        }
        let v = self.low.items.pop_front()?;
        self.skipped = 0;
        Some((v, Priority::Low))
    }
}

fn priority_step(q: &PriorityQueue<u32, 4>, m: &mut PriorityModel, op: u8, next: &mut u32) {
    let priority = if op & 0x80 != 0 {
        Priority::High
    } else {
        Priority::Low
    };
    let model = match priority {
        Priority::High => &mut m.high,
        Priority::Low => &mut m.low,
    };
    match op % 4 {
        0 => {
            *next += 1;
            assert_eq!(
                q.try_push(*next, priority).map_err(|Full(v)| v),
                model.try_push(*next)
            );
        }
        1 => {
            *next += 1;
            assert_eq!(q.force_push(*next, priority), model.force_push(*next));
        }
        _ => assert_eq!(
            q.try_pop_with_priority(),
            m.pop(PriorityQueue::<u32, 4>::LOW_AFTER)
        ),
    }
    assert_eq!(q.len(), m.high.items.len() + m.low.items.len());
    assert_eq!(q.dropped(), m.high.dropped + m.low.dropped);
}

/// Runs one input. Panics (fails the fuzz run or the test) on any divergence
/// from the model.
pub fn run(data: &[u8]) {
    let Some((&first, ops)) = data.split_first() else {
        return;
    };
    let capacity = 1usize << (first % 4);
    let heap = HeapEventQueue::with_capacity(capacity).expect("power of two");
    let inline = EventQueue::<u32, 4>::new();
    let prio = PriorityQueue::<u32, 4>::new();
    let (mut heap_model, mut inline_model) = (Model::new(capacity), Model::new(4));
    let mut prio_model = PriorityModel {
        high: Model::new(4),
        low: Model::new(4),
        skipped: 0,
    };
    let mut next = 0;
    for &op in ops {
        step(&heap, &mut heap_model, op, &mut next);
        step(&inline, &mut inline_model, op, &mut next);
        priority_step(&prio, &mut prio_model, op, &mut next);
    }
}
