//! Behaviour of `evlatch_std::exchange`: FIFO per pair, exactly-once
//! all-to-all, termination, allocation mistakes, panicking workers,
//! back-pressure, waiting. The full-size stress run is
//! `exchange_stress_all_to_all` in release (scripts/test.sh); debug builds
//! (plain `cargo test`, ThreadSanitizer) run it scaled down.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use evlatch_std::exchange::{
    initialize, Config, Error, RecvError, Sender, TryRecvError, TrySendError, Worker, WorkerError,
};

/// Every worker sends `per_pair` messages `(from, seq)` to every worker
/// (itself included) through channels of `capacity`, with non-blocking
/// sends interleaved with receives (no deadlock whatever the capacity),
/// and checks that each sender's messages arrive complete and in order.
/// Returns, per worker, how many messages it received.
fn all_to_all_fifo(workers: usize, per_pair: u64, capacity: usize) -> Vec<u64> {
    let guards = initialize(Config::Process(workers), move |mut w: Worker| {
        let me = w.index();
        let peers = w.peers();
        let (txs, mut rx) = w.allocate_bounded::<(usize, u64)>(0, capacity).unwrap();
        let mut txs: Vec<Option<Sender<(usize, u64)>>> = txs.into_iter().map(Some).collect();
        let mut next = vec![0u64; peers];
        let mut expect = vec![0u64; peers];
        let mut buf = Vec::with_capacity(256);
        let mut batch = Vec::with_capacity(64);
        let mut received = 0u64;
        let mut rx_done = false;
        while !rx_done || txs.iter().any(Option::is_some) {
            let mut progressed = false;
            for (t, slot) in txs.iter_mut().enumerate() {
                let Some(tx) = slot else { continue };
                // Alternate single and batch sends.
                if next[t].is_multiple_of(2) {
                    match tx.try_send((me, next[t])) {
                        Ok(()) => {
                            next[t] += 1;
                            progressed = true;
                        }
                        Err(TrySendError::Full(_)) => {}
                        Err(e) => panic!("worker {me} to {t}: {e}"),
                    }
                } else {
                    let end = (next[t] + 64).min(per_pair);
                    batch.extend((next[t]..end).map(|s| (me, s)));
                    let k = tx.try_send_batch(&mut batch).unwrap();
                    next[t] += k as u64;
                    progressed |= k > 0;
                    batch.clear();
                }
                if next[t] == per_pair {
                    *slot = None;
                }
            }
            match rx.try_recv_batch(&mut buf, 256) {
                Ok(_) => {
                    for &(from, seq) in &buf {
                        assert_eq!(seq, expect[from], "worker {me}: from {from} out of order");
                        expect[from] += 1;
                        received += 1;
                    }
                    buf.clear();
                    progressed = true;
                }
                Err(TryRecvError::Disconnected) => rx_done = true,
                Err(TryRecvError::Empty) => {}
                Err(e) => panic!("{e}"),
            }
            if !progressed && !rx_done {
                // Freed space after a `Full` wakes the wait too (see
                // `exchange_async.rs`); the bound only caps each wait.
                w.wait(Some(Duration::from_millis(1)));
            }
        }
        for (from, &n) in expect.iter().enumerate() {
            assert_eq!(n, per_pair, "worker {me}: from {from}");
        }
        received
    })
    .unwrap();
    guards.join().into_iter().map(Result::unwrap).collect()
}

#[test]
fn fifo_per_pair_under_concurrency() {
    let per_pair = if cfg!(debug_assertions) {
        5_000
    } else {
        100_000
    };
    let got = all_to_all_fifo(4, per_pair, 16);
    assert_eq!(got, vec![per_pair * 4; 4]);
}

/// Every value `0 .. total` is sent once, to the worker `value % peers`,
/// from the worker `value / chunk`; the union of what the workers receive
/// is every value exactly once.
#[test]
fn all_to_all_exactly_once() {
    const WORKERS: usize = 3;
    let total: u64 = if cfg!(debug_assertions) {
        30_000
    } else {
        300_000
    };
    let guards = initialize(Config::Process(WORKERS), move |mut w| {
        let (mut txs, mut rx) = w.allocate_bounded::<u64>(9, 64).unwrap();
        let peers = w.peers() as u64;
        let me = w.index() as u64;
        let mut got = Vec::new();
        let mut pending: Vec<u64> = (0..total).filter(|v| v % peers == me).collect();
        // Send in rounds; between rounds, drain what arrived.
        while !pending.is_empty() || !txs.is_empty() {
            let round: Vec<u64> = pending.drain(..pending.len().min(32)).collect();
            for v in round {
                let t = ((v * 7 + 3) % peers) as usize;
                let mut v = v;
                loop {
                    match txs[t].try_send(v) {
                        Ok(()) => break,
                        Err(TrySendError::Full(back)) => {
                            v = back;
                            while let Ok(x) = rx.try_recv() {
                                got.push(x);
                            }
                            std::thread::yield_now();
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
            }
            if pending.is_empty() {
                txs.clear();
            }
            while let Ok(x) = rx.try_recv() {
                got.push(x);
            }
        }
        loop {
            match rx.recv() {
                Ok(x) => got.push(x),
                Err(RecvError::Disconnected) => break,
                Err(e) => panic!("{e}"),
            }
        }
        got
    })
    .unwrap();
    let mut all = Vec::new();
    for (i, r) in guards.join().into_iter().enumerate() {
        let got = r.unwrap();
        for &v in &got {
            assert_eq!(
                ((v * 7 + 3) % WORKERS as u64) as usize,
                i,
                "{v} reached the wrong worker"
            );
        }
        all.extend(got);
    }
    assert_eq!(all.len() as u64, total, "a value was lost or duplicated");
    let set: HashSet<u64> = all.into_iter().collect();
    assert_eq!(set.len() as u64, total, "a value was duplicated");
    assert!((0..total).all(|v| set.contains(&v)));
}

/// Workers 2 and 3 exit at once without allocating; worker 1 allocates,
/// sends one message each and exits. Worker 0 receives until disconnected:
/// it must terminate, with worker 1's messages and its own.
#[test]
fn termination_with_early_exiting_workers() {
    let guards = initialize(Config::Process(4), |mut w| {
        let me = w.index();
        if me >= 2 {
            return Vec::new();
        }
        if me == 1 {
            // Let workers 2 and 3 exit first sometimes, sometimes not.
            std::thread::sleep(Duration::from_millis(2));
        }
        let (mut txs, mut rx) = w.allocate::<usize>(0).unwrap();
        for (t, tx) in txs.iter_mut().enumerate() {
            // The receivers of workers 2 and 3 never exist.
            // The receivers of workers 2 and 3 never exist: a send to them
            // succeeds (into the ring) or fails (once they are known gone).
            let sent = tx.send(me);
            if t < 2 {
                sent.unwrap();
            }
        }
        drop(txs);
        let mut got = Vec::new();
        loop {
            match rx.recv() {
                Ok(v) => got.push(v),
                Err(RecvError::Disconnected) => break,
                Err(e) => panic!("{e}"),
            }
        }
        got.sort();
        got
    })
    .unwrap();
    let r = guards.join();
    assert_eq!(r[0], Ok(vec![0, 1]));
    assert_eq!(r[1], Ok(vec![0, 1]));
}

#[test]
fn id_allocated_twice_is_an_error() {
    let r = initialize(Config::Thread, |mut w| {
        let _first = w.allocate::<u8>(3).unwrap();
        let second = w.allocate::<u8>(3).unwrap_err();
        assert!(second.to_string().contains("already allocated"));
        second
    })
    .unwrap()
    .join();
    assert_eq!(r, [Ok(Error::AlreadyAllocated { id: 3 })]);
}

/// Worker 0 allocates channel 5 for `u32`, worker 1 for `u64`: whichever
/// comes second gets `TypeMismatch`; the other's receiver then sees the
/// mismatched worker as disconnected (no hang).
#[test]
fn mismatched_types_are_an_error_and_never_hang() {
    for _ in 0..20 {
        let r = initialize(Config::Process(2), |mut w| {
            let result = if w.index() == 0 {
                w.allocate::<u32>(5).map(|(txs, mut rx)| {
                    drop(txs);
                    while rx.recv().is_ok() {}
                })
            } else {
                w.allocate::<u64>(5).map(|(txs, mut rx)| {
                    drop(txs);
                    while rx.recv().is_ok() {}
                })
            };
            result.err()
        })
        .unwrap()
        .join();
        let errors: Vec<Error> = r.into_iter().filter_map(|x| x.unwrap()).collect();
        assert_eq!(errors.len(), 1, "{errors:?}");
        match &errors[0] {
            Error::TypeMismatch {
                id: 5,
                expected,
                found,
            } => {
                let mut pair = [*expected, *found];
                pair.sort();
                assert_eq!(pair, ["u32", "u64"]);
                assert!(errors[0].to_string().contains("same type"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn mismatched_capacities_are_an_error() {
    let r = initialize(Config::Process(2), |mut w| {
        let cap = 4 + w.index();
        let r = w.allocate_bounded::<u8>(1, cap).map(|(txs, mut rx)| {
            drop(txs);
            while rx.recv().is_ok() {}
        });
        r.err()
    })
    .unwrap()
    .join();
    let errors: Vec<Error> = r.into_iter().filter_map(|x| x.unwrap()).collect();
    assert_eq!(errors.len(), 1);
    assert!(matches!(errors[0], Error::CapacityMismatch { id: 1, .. }));
}

/// Worker 1 sends one message to each worker and then panics; worker 2
/// panics before allocating anything. The others receive worker 1's
/// message, then see the channel disconnect; `join` reports both panics.
#[test]
fn panicking_worker_disconnects_its_peers() {
    let r = initialize(Config::Process(3), |mut w| {
        if w.index() == 2 {
            panic!("worker two fails early");
        }
        let (mut txs, mut rx) = w.allocate::<usize>(0).unwrap();
        for tx in &mut txs {
            let _ = tx.send(w.index());
        }
        if w.index() == 1 {
            panic!("worker one fails after sending");
        }
        drop(txs);
        let mut got = Vec::new();
        while let Ok(v) = rx.recv() {
            got.push(v);
        }
        got.sort();
        got
    })
    .unwrap()
    .join();
    assert_eq!(r[0], Ok(vec![0, 1]));
    assert_eq!(
        r[1],
        Err(WorkerError::Panicked {
            index: 1,
            message: "worker one fails after sending".into()
        })
    );
    assert_eq!(
        r[2],
        Err(WorkerError::Panicked {
            index: 2,
            message: "worker two fails early".into()
        })
    );
}

/// Capacity 4: the sender fills the ring, `try_send` then reports full,
/// `send` blocks until the slow receiver takes messages; all 2,000 arrive,
/// in order. The receiver starts only after the sender has seen the ring
/// full (a barrier), so the `Full` check does not race the first receive.
#[test]
fn back_pressure_blocks_and_drops_nothing() {
    const N: u64 = 2_000;
    let filled = Arc::new(Barrier::new(2));
    let r = initialize(Config::Process(2), move |mut w| {
        let (mut txs, mut rx) = w.allocate_bounded::<u64>(0, 4).unwrap();
        if w.index() == 0 {
            let tx = &mut txs[1];
            // Nothing between here and the barrier can panic, so the
            // receiver never waits on a sender that is gone.
            let tries: Vec<_> = (0..5).map(|v| tx.try_send(v)).collect();
            filled.wait();
            assert_eq!(&tries[..4], &[Ok(()), Ok(()), Ok(()), Ok(())]);
            assert_eq!(tries[4], Err(TrySendError::Full(4)));
            for v in 4..N {
                tx.send(v).unwrap();
            }
            Vec::new()
        } else {
            drop(txs);
            filled.wait();
            let mut got = Vec::new();
            loop {
                match rx.recv() {
                    Ok(v) => got.push(v),
                    Err(RecvError::Disconnected) => break,
                    Err(e) => panic!("{e}"),
                }
                if got.len().is_multiple_of(100) {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            got
        }
    })
    .unwrap()
    .join();
    assert_eq!(r[1].as_ref().unwrap(), &(0..N).collect::<Vec<_>>());
}

/// `wait` reports exactly the channels with news, a disconnection once,
/// and returns at once when nothing can have news any more.
#[test]
fn wait_reports_channel_ids() {
    let r = initialize(Config::Process(2), |mut w| {
        let (mut a_tx, mut a_rx) = w.allocate::<u8>(10).unwrap();
        let (b_tx, mut b_rx) = w.allocate::<u8>(20).unwrap();
        let peer = 1 - w.index();
        if w.index() == 0 {
            a_tx[peer].send(1).unwrap();
        }
        drop(b_tx);
        let mut seen = Vec::new();
        // Worker 1 gets channel 10's message; both get channel 20's end.
        loop {
            let ids = w.wait(Some(Duration::from_secs(10))).to_vec();
            assert!(!ids.is_empty(), "wait timed out");
            for id in ids {
                match id {
                    10 => {
                        assert_eq!(a_rx.try_recv(), Ok(1));
                        seen.push(10);
                    }
                    20 => {
                        assert_eq!(b_rx.try_recv(), Err(TryRecvError::Disconnected));
                        seen.push(20);
                    }
                    other => panic!("unknown id {other}"),
                }
            }
            let want = if w.index() == 1 { 2 } else { 1 };
            if seen.len() == want {
                break;
            }
        }
        drop(a_tx);
        // Channel 10 disconnects once both senders are gone.
        while a_rx.recv().is_ok() {}
        let ids = w.wait(None).to_vec();
        assert!(ids == [10] || ids.is_empty(), "{ids:?}");
        // Nothing can have news now: returns at once.
        assert!(w.wait(None).is_empty());
        seen.sort();
        seen
    })
    .unwrap()
    .join();
    assert_eq!(r[0], Ok(vec![20]));
    assert_eq!(r[1], Ok(vec![10, 20]));
}

/// The async wait, on a hand-written executor that parks the worker's
/// thread: woken by the peer's message.
#[test]
fn wait_async_wakes_on_arrival() {
    let r = initialize(Config::Process(2), |mut w| {
        let (mut txs, mut rx) = w.allocate::<u32>(0).unwrap();
        if w.index() == 0 {
            std::thread::sleep(Duration::from_millis(5));
            txs[1].send(42).unwrap();
            0
        } else {
            let ids = common::block_on(w.wait_async()).to_vec();
            assert_eq!(ids, [0]);
            rx.try_recv().unwrap()
        }
    })
    .unwrap()
    .join();
    assert_eq!(r[1], Ok(42));
}

#[test]
fn broadcast_reaches_every_worker() {
    let r = initialize(Config::Process(3), |mut w| {
        let (mut tx, mut rx) = w.broadcast::<String>(0).unwrap();
        tx.send(format!("from {}", w.index())).unwrap();
        tx.done();
        let mut got = Vec::new();
        while let Ok(s) = rx.recv() {
            got.push(s);
        }
        got.sort();
        got
    })
    .unwrap()
    .join();
    for g in r {
        assert_eq!(g.unwrap(), ["from 0", "from 1", "from 2"]);
    }
}

/// Messages never received are dropped with the channel (no leak, no
/// double drop): counted with a drop counter.
#[test]
fn unreceived_messages_are_dropped_once() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    initialize(Config::Thread, move |mut w| {
        let (mut txs, mut rx) = w.allocate_bounded::<Counted>(0, 8).unwrap();
        for _ in 0..5 {
            txs[0].send(Counted(d.clone())).unwrap();
        }
        drop(rx.try_recv().unwrap());
    })
    .unwrap()
    .join()
    .into_iter()
    .for_each(|r| r.unwrap());
    assert_eq!(drops.load(Ordering::Relaxed), 5);
}

#[test]
fn zero_workers_is_an_error() {
    assert_eq!(
        initialize(Config::Process(0), |_w| ()).unwrap_err(),
        Error::NoWorkers
    );
}

/// The stress run: `Process(4)` all-to-all, 10,000,000 messages in all in
/// release (scaled down in debug), every one accounted for in order.
#[test]
fn exchange_stress_all_to_all() {
    let total: u64 = if cfg!(debug_assertions) {
        160_000
    } else {
        10_000_000
    };
    let per_pair = total / 16;
    let got = all_to_all_fifo(4, per_pair, 256);
    assert_eq!(got.iter().sum::<u64>(), total);
}

/// A receive batch into an `Extend` that panics part-way: what it took is
/// gone from the channel (never received or dropped twice), the rest is
/// received next, in order, and every message is dropped exactly once.
#[test]
fn panicking_extend_loses_and_duplicates_nothing() {
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    struct Counted(u32, Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.1.fetch_add(1, Ordering::SeqCst);
        }
    }
    /// Takes two messages, panics on the third.
    struct Breaks(Vec<u32>);
    impl Extend<Counted> for Breaks {
        fn extend<I: IntoIterator<Item = Counted>>(&mut self, iter: I) {
            for m in iter {
                assert!(self.0.len() < 2, "extend breaks on the third");
                self.0.push(m.0);
            }
        }
    }

    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let guards = initialize(Config::Thread, move |mut w| {
        let (mut txs, mut rx) = w.allocate_bounded::<Counted>(0, 8).unwrap();
        let mut batch: Vec<Counted> = (0..6).map(|i| Counted(i, d.clone())).collect();
        txs[0].send_batch(&mut batch).unwrap();
        drop(txs);
        let mut out = Breaks(Vec::new());
        let r = catch_unwind(AssertUnwindSafe(|| rx.try_recv_batch(&mut out, 10)));
        assert!(r.is_err(), "the Extend panicked");
        assert_eq!(out.0, [0, 1]);
        let mut rest = Vec::new();
        while let Ok(m) = rx.recv() {
            rest.push(m.0);
        }
        // Message 2 was taken by the panicking Extend (and dropped there).
        assert_eq!(rest, [3, 4, 5]);
    })
    .unwrap();
    for r in guards.join() {
        r.unwrap();
    }
    assert_eq!(drops.load(Ordering::SeqCst), 6, "each message dropped once");
}

/// The CPUs the calling thread may run on.
#[cfg(target_os = "linux")]
fn affinity() -> Vec<usize> {
    // SAFETY: all zeroes is the empty `cpu_set_t`.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: pid 0 is this thread; `set` is a writable `cpu_set_t` of the
    // size given.
    let rc = unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) };
    assert_eq!(rc, 0, "sched_getaffinity");
    (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `cpu` is below the set's size in bits.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect()
}

/// Workers that outnumber the cores start spread over them
/// (placement.rs), but none is left pinned: each runs with exactly its
/// caller's CPU affinity, both with the process's full set and from a
/// caller limited to one core.
#[cfg(target_os = "linux")]
#[test]
fn workers_run_with_the_callers_cpu_affinity() {
    let caller = affinity();
    let workers = caller.len() + 1;
    let got = initialize(Config::Process(workers), |_| affinity())
        .unwrap()
        .join();
    assert_eq!(got, vec![Ok(caller.clone()); workers]);

    let first = caller[0];
    let limited = std::thread::spawn(move || {
        // SAFETY: all zeroes is the empty set.
        let mut one: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: `first` came from the set's own bit range.
        unsafe { libc::CPU_SET(first, &mut one) };
        // SAFETY: pid 0 is this thread; `one` is a valid set of that size.
        let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(&one), &one) };
        assert_eq!(rc, 0, "sched_setaffinity");
        initialize(Config::Process(3), |_| affinity())
            .unwrap()
            .join()
    })
    .join()
    .unwrap();
    assert_eq!(limited, vec![Ok(vec![first]); 3]);
}
