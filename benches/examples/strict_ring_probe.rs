//! Where the strict ring's 1p1c / 2p2c time goes (issue 10): crossbeam's
//! `ArrayQueue`, evlatch's `EventQueue` (SCQ, two index rings) and a
//! *prototype* SCQ that keeps the value in a 16-byte entry (one ring,
//! `portable-atomic`'s `AtomicU128`), with the threads pinned.
//!
//! The prototype is this file's, not the library's: it has no loom model,
//! no stall points and no drop handling (it moves `u64`s only). It is here
//! so that the measurement in `benches/RESULTS.md` can be taken again.
//!
//! ```text
//! cargo run --release -p evlatch-bench --example strict_ring_probe -- [items] [rounds]
//! ```
//!
//! `REMAP=0` in the environment lays the prototype's entries out in ticket
//! order (by default consecutive tickets fall on different cache lines, as
//! in the library's ring); `SPINS=k` sets how often its dequeuer re-reads an
//! empty entry before invalidating it (default 64, as in the library);
//! `YIELD_AFTER=k` makes a thread that failed `k` times in a row yield
//! (default 16, as in the `queue.*` groups; `0`: spin only, and the
//! one-core placement is skipped).
//!
//! Each round runs every queue once in each placement, the starting queue
//! rotating, and prints the median ns per item over rounds and each line's
//! median of per-round ratios to `ArrayQueue` (Linux only: it pins threads).

use std::sync::atomic::{
    AtomicBool, AtomicU32, AtomicUsize,
    Ordering::{Relaxed, SeqCst},
};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Instant;

use crossbeam_utils::CachePadded;
use portable_atomic::AtomicU128;

/// Slots in every queue (as in the `queue.*` groups).
const CAPACITY: usize = 64;

/// Whether the prototype spreads consecutive tickets over cache lines
/// (`REMAP=0` in the environment: it does not).
static REMAP: AtomicBool = AtomicBool::new(true);
/// How often a dequeuer re-reads an empty entry before invalidating it
/// (`SPINS=k` in the environment; 64 as in the library's ring).
static SPINS: AtomicU32 = AtomicU32::new(64);

/// Entry flags of the prototype: the low two bits of the entry word.
const OCCUPIED: u64 = 1;
const SAFE: u64 = 2;

/// SCQ with the value in the entry: `{cycle | safe | occupied, value}` in
/// one `AtomicU128`, `2n` entries, and `tail` claimed by a CAS that only
/// succeeds while `tail - head < n` (exact capacity, no free ring).
struct WordScq {
    /// Next dequeue ticket and the dequeuers' last look at `tail`.
    head: CachePadded<(AtomicUsize, AtomicUsize)>,
    /// Next enqueue ticket and the enqueuers' last look at `head`.
    tail: CachePadded<(AtomicUsize, AtomicUsize)>,
    /// SCQ's threshold of failed dequeue tickets (an `isize`).
    threshold: CachePadded<AtomicUsize>,
    entries: Box<[AtomicU128]>,
    /// `log2(n)`.
    order: u32,
}

/// Whether cycle key `a` is older than `b` (wrapping).
fn older(a: u64, b: u64) -> bool {
    (a.wrapping_sub(b) as i64) < 0
}

/// Whether ticket `a` comes before `b` (wrapping).
fn before(a: usize, b: usize) -> bool {
    (a.wrapping_sub(b) as isize) < 0
}

impl WordScq {
    fn new(n: usize) -> Self {
        assert!(n.is_power_of_two() && n >= 4);
        // Cycle "-1", safe, empty.
        let empty = u128::from((!0u64 << 2) | SAFE);
        WordScq {
            head: CachePadded::new((AtomicUsize::new(0), AtomicUsize::new(0))),
            tail: CachePadded::new((AtomicUsize::new(0), AtomicUsize::new(0))),
            threshold: CachePadded::new(AtomicUsize::new(usize::MAX)),
            entries: (0..2 * n).map(|_| AtomicU128::new(empty)).collect(),
            order: n.trailing_zeros(),
        }
    }

    fn capacity(&self) -> usize {
        1 << self.order
    }

    fn full_threshold(&self) -> usize {
        3 * self.capacity() - 1
    }

    /// The cycle key of ticket `t`, in bits 2 and up.
    fn cycle(&self, t: usize) -> u64 {
        ((t >> (self.order + 1)) as u64) << 2
    }

    /// The entry of ticket `t`: consecutive tickets on different cache
    /// lines (four 16-byte entries per line).
    fn entry(&self, t: usize) -> &AtomicU128 {
        let k = self.order + 1;
        let m = t & ((1 << k) - 1);
        if !REMAP.load(Relaxed) {
            return &self.entries[m];
        }
        &self.entries[((m >> (k - 2)) | (m << 2)) & ((1 << k) - 1)]
    }

    fn push(&self, v: u64) -> Result<(), u64> {
        loop {
            let t = self.tail.0.load(SeqCst);
            if t.wrapping_sub(self.tail.1.load(Relaxed)) >= self.capacity() {
                let h = self.head.0.load(SeqCst);
                self.tail.1.store(h, Relaxed);
                if t.wrapping_sub(h) as isize >= self.capacity() as isize {
                    return Err(v);
                }
            }
            if self
                .tail
                .0
                .compare_exchange(t, t.wrapping_add(1), SeqCst, SeqCst)
                .is_err()
            {
                continue;
            }
            let slot = self.entry(t);
            let c = self.cycle(t);
            let mut e = slot.load(SeqCst);
            loop {
                let w = e as u64;
                let usable = older(w & !3, c)
                    && w & OCCUPIED == 0
                    && (w & SAFE != 0 || !before(t, self.head.0.load(SeqCst)));
                if !usable {
                    break;
                }
                let new = (u128::from(v) << 64) | u128::from(c | SAFE | OCCUPIED);
                match slot.compare_exchange(e, new, SeqCst, SeqCst) {
                    Ok(_) => {
                        if self.threshold.load(SeqCst) != self.full_threshold() {
                            self.threshold.store(self.full_threshold(), SeqCst);
                        }
                        return Ok(());
                    }
                    Err(now) => e = now,
                }
            }
        }
    }

    fn pop(&self) -> Option<u64> {
        let head = self.head.0.load(SeqCst);
        let seen = self.head.1.load(Relaxed);
        let next = self.entry(head).load(SeqCst) as u64;
        let ready = next & !3 == self.cycle(head) && next & OCCUPIED != 0;
        if !ready && !before(head.wrapping_add(1), seen) {
            let tail = self.tail.0.load(SeqCst);
            if tail != seen {
                self.head.1.store(tail, Relaxed);
            }
            if !before(head, tail) || (self.threshold.load(SeqCst) as isize) < 0 {
                return None;
            }
        }
        loop {
            let h = self.head.0.fetch_add(1, SeqCst);
            if let Some(v) = self.take(h) {
                return Some(v);
            }
            let next = h.wrapping_add(1);
            let tail = self.tail.0.load(SeqCst);
            if !before(next, tail) {
                let mut t = tail;
                while let Err(now) = self.tail.0.compare_exchange(t, next, SeqCst, SeqCst) {
                    t = now;
                    if !before(t, self.head.0.load(SeqCst)) {
                        break;
                    }
                }
                self.threshold.fetch_sub(1, SeqCst);
                return None;
            }
            if (self.threshold.fetch_sub(1, SeqCst) as isize) <= 0 {
                return None;
            }
        }
    }

    /// SCQ's dequeue step on ticket `h`'s entry.
    fn take(&self, h: usize) -> Option<u64> {
        let slot = self.entry(h);
        let c = self.cycle(h);
        let mut e = slot.load(SeqCst);
        let mut spins = 0;
        loop {
            let w = e as u64;
            if w & !3 == c {
                if w & OCCUPIED == 0 {
                    return None;
                }
                match slot.compare_exchange(e, e & !u128::from(OCCUPIED), SeqCst, SeqCst) {
                    Ok(_) => return Some((e >> 64) as u64),
                    Err(now) => e = now,
                }
                continue;
            }
            if !older(w & !3, c) {
                return None;
            }
            let new = if w & OCCUPIED == 0 {
                if spins < SPINS.load(Relaxed) {
                    spins += 1;
                    std::hint::spin_loop();
                    e = slot.load(SeqCst);
                    continue;
                }
                u128::from(c | (w & SAFE))
            } else if w & SAFE != 0 {
                e & !u128::from(SAFE)
            } else {
                return None;
            };
            match slot.compare_exchange(e, new, SeqCst, SeqCst) {
                Ok(_) => return None,
                Err(now) => e = now,
            }
        }
    }
}

/// The queues compared.
trait Bounded: Send + Sync + 'static {
    fn push(&self, v: u64) -> Result<(), u64>;
    fn pop(&self) -> Option<u64>;
}

impl Bounded for crossbeam_queue::ArrayQueue<u64> {
    fn push(&self, v: u64) -> Result<(), u64> {
        crossbeam_queue::ArrayQueue::push(self, v)
    }
    fn pop(&self) -> Option<u64> {
        crossbeam_queue::ArrayQueue::pop(self)
    }
}

impl Bounded for evlatch::EventQueue<u64, CAPACITY> {
    fn push(&self, v: u64) -> Result<(), u64> {
        self.try_push(v).map_err(|full| full.0)
    }
    fn pop(&self) -> Option<u64> {
        self.try_pop()
    }
}

impl Bounded for WordScq {
    fn push(&self, v: u64) -> Result<(), u64> {
        WordScq::push(self, v)
    }
    fn pop(&self) -> Option<u64> {
        WordScq::pop(self)
    }
}

/// Pins the calling thread to `cpu`.
#[cfg(target_os = "linux")]
fn pin(cpu: usize) {
    // SAFETY: an all-zero `cpu_set_t` is the empty set; `CPU_SET` writes a
    // bit below `CPU_SETSIZE` (cores here are single digits), and
    // `sched_setaffinity` reads a `cpu_set_t` of the size it is given.
    let ok = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    };
    assert!(ok, "sched_setaffinity({cpu}) failed");
}

#[cfg(not(target_os = "linux"))]
fn pin(_cpu: usize) {
    panic!("the strict ring probe pins threads on Linux only");
}

/// After how many failed attempts in a row a thread yields (`YIELD_AFTER=k`
/// in the environment, `0` for never; 16 as in the `queue.*` groups).
static YIELD_AFTER: AtomicU32 = AtomicU32::new(16);

/// Spin a little, then yield (the `queue.*` groups' policy).
fn back_off(failures: &mut u32) {
    *failures += 1;
    let after = YIELD_AFTER.load(Relaxed);
    if after == 0 || *failures < after {
        std::hint::spin_loop();
    } else {
        thread::yield_now();
    }
}

/// ns per item for `p` producers and `p` consumers, producer `i` pinned to
/// `cores[0][i]` and consumer `i` to `cores[1][i]`.
fn transfer(q: Arc<dyn Bounded>, n: u64, cores: [&[usize]; 2]) -> f64 {
    let p = cores[0].len();
    let start = Arc::new(Barrier::new(2 * p + 1));
    let per = n / p as u64;
    let mut handles = Vec::new();
    for (side, side_cores) in cores.into_iter().enumerate() {
        for &cpu in side_cores {
            let (q, start) = (q.clone(), start.clone());
            handles.push(thread::spawn(move || {
                pin(cpu);
                start.wait();
                let mut sum = 0u64;
                for i in 0..per {
                    let mut failures = 0;
                    if side == 0 {
                        let mut v = i;
                        while let Err(back) = q.push(v) {
                            v = back;
                            back_off(&mut failures);
                        }
                    } else {
                        loop {
                            if let Some(v) = q.pop() {
                                sum = sum.wrapping_add(v);
                                break;
                            }
                            back_off(&mut failures);
                        }
                    }
                }
                sum
            }));
        }
    }
    start.wait();
    let t = Instant::now();
    let sums: Vec<u64> = handles
        .into_iter()
        .map(|h| h.join().expect("worker"))
        .collect();
    let e = t.elapsed();
    let got: u64 = sums[p..].iter().fold(0, |a, s| a.wrapping_add(*s));
    let want = (0..per)
        .fold(0u64, |a, i| a.wrapping_add(i))
        .wrapping_mul(p as u64);
    assert_eq!(got, want, "items lost or duplicated");
    e.as_nanos() as f64 / (per * p as u64) as f64
}

/// A fresh queue for one run.
type MakeQueue = fn() -> Arc<dyn Bounded>;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let items: u64 = args.next().map_or(200_000, |s| s.parse().expect("items"));
    let rounds: usize = args.next().map_or(21, |s| s.parse().expect("rounds"));
    if let Ok(v) = std::env::var("YIELD_AFTER") {
        YIELD_AFTER.store(v.parse().expect("YIELD_AFTER: a number"), Relaxed);
    }
    if let Ok(v) = std::env::var("SPINS") {
        SPINS.store(v.parse().unwrap(), Relaxed);
    }
    if let Ok(v) = std::env::var("REMAP") {
        REMAP.store(v == "1", Relaxed);
    }
    let queues: [(&str, MakeQueue); 3] = [
        ("crossbeam ArrayQueue", || {
            Arc::new(crossbeam_queue::ArrayQueue::<u64>::new(CAPACITY))
        }),
        ("evlatch EventQueue (SCQ, 2 rings)", || {
            Arc::new(evlatch::EventQueue::<u64, CAPACITY>::new())
        }),
        ("prototype: value in 16-byte entry", || {
            Arc::new(WordScq::new(CAPACITY))
        }),
    ];
    let placements: [(&str, [&[usize]; 2]); 3] = [
        ("1p1c, two cores", [&[0], &[1]]),
        ("1p1c, one core", [&[0], &[0]]),
        ("2p2c, one of each side per core", [&[0, 1], &[1, 0]]),
    ];
    println!("{items} items per run, {rounds} rounds, {CAPACITY} slots");
    for (name, cores) in placements {
        if YIELD_AFTER.load(Relaxed) == 0 && cores[0] == cores[1] {
            // Two spinning threads on one core: each item waits for the
            // kernel's time slice.
            continue;
        }
        let mut ns = vec![vec![]; queues.len()];
        for r in 0..rounds {
            for k in 0..queues.len() {
                let i = (r + k) % queues.len();
                ns[i].push(transfer((queues[i].1)(), items, cores));
            }
        }
        println!("## {name}");
        let base = ns[0].clone();
        for (i, (qname, _)) in queues.iter().enumerate() {
            let mut ratios: Vec<f64> = ns[i].iter().zip(&base).map(|(a, b)| a / b).collect();
            let r = median(&mut ratios);
            let (lo, hi) = (ratios[ratios.len() / 4], ratios[3 * ratios.len() / 4]);
            let m = median(&mut ns[i]);
            println!("   {qname:<36} {m:>8.1} ns/item   paired ratio {r:.2}x ({lo:.2}..{hi:.2})");
        }
    }
}
