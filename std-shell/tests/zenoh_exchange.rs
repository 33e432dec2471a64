//! The worker exchange across processes over zenoh: two "processes" as two
//! zenoh peer sessions in this test process, linked over loopback (peer
//! mode, multicast scouting off, `tcp/127.0.0.1:<port from binding port
//! 0>`), and one test with two real processes of the example. Every wait
//! is bounded (`WAIT`).
//!
//! Run in release (scripts/test.sh): zenoh is built once, in that profile.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use evlatch_std::exchange::{RecvError, TryRecvError, TrySendError};
use evlatch_std::zenoh::engine::{Session, Wait};
use evlatch_std::zenoh::exchange::{initialize, ClusterConfig, ClusterWorker, Fault};

#[path = "common/zenoh_peers.rs"]
mod zenoh_peers;

use zenoh_peers::{finished, free_endpoint};

/// The bound on every wait in these tests.
const WAIT: Duration = Duration::from_secs(20);

/// Two connected sessions: (listening, connecting).
fn linked() -> (Session, Session) {
    let (a, b, _) = zenoh_peers::linked(WAIT);
    (a, b)
}

fn wait_until(what: &str, done: impl FnMut() -> bool) {
    zenoh_peers::wait_until(what, WAIT, done);
}

fn config(job: &str, process: usize, workers: usize) -> ClusterConfig {
    ClusterConfig::new(job, process, 2, workers).unwrap()
}

/// Records per pair in the all-to-all test.
const PER_PAIR: u64 = if cfg!(debug_assertions) {
    2_000
} else {
    20_000
};

/// Every worker sends `PER_PAIR` records `(from, n)` to every worker, half
/// one by one, half in batches; receives with `wait` + batch receive until
/// disconnected, checking FIFO per sender and counting every record.
fn all_to_all(mut worker: ClusterWorker) -> Vec<u64> {
    let me = worker.index();
    let peers = worker.peers();
    let (mut senders, mut receiver) = worker.allocate_bounded::<(usize, u64)>(0, 64).unwrap();
    let mut next = vec![0u64; peers];
    let mut got = Vec::new();
    let mut drain = |receiver: &mut evlatch_std::exchange::Receiver<(usize, u64)>,
                     next: &mut Vec<u64>| loop {
        got.clear();
        match receiver.try_recv_batch(&mut got, usize::MAX) {
            Ok(_) => {
                for &(from, n) in &got {
                    assert_eq!(n, next[from], "worker {me}: FIFO from {from}");
                    next[from] += 1;
                }
            }
            Err(TryRecvError::Empty) => return false,
            Err(TryRecvError::Disconnected) => return true,
            Err(e) => panic!("{e}"),
        }
    };
    // Interleave sending and receiving so bounded pairs cannot deadlock.
    let mut sent = 0u64;
    let mut batch = Vec::new();
    while sent < PER_PAIR {
        for s in &mut senders {
            if sent < PER_PAIR / 2 {
                loop {
                    match s.try_send((me, sent)) {
                        Ok(()) => break,
                        Err(TrySendError::Full(_)) => {
                            drain(&mut receiver, &mut next);
                            std::thread::yield_now();
                        }
                        Err(e) => panic!("worker {me}: {e}"),
                    }
                }
            } else {
                batch.clear();
                batch.extend((sent..(sent + 100).min(PER_PAIR)).map(|n| (me, n)));
                while !batch.is_empty() {
                    let k = s.try_send_batch(&mut batch).expect("receiver alive");
                    if k == 0 {
                        drain(&mut receiver, &mut next);
                        std::thread::yield_now();
                    }
                }
            }
        }
        sent = if sent < PER_PAIR / 2 {
            sent + 1
        } else {
            (sent + 100).min(PER_PAIR)
        };
        drain(&mut receiver, &mut next);
    }
    drop(senders);
    let deadline = Instant::now() + WAIT;
    while !drain(&mut receiver, &mut next) {
        assert!(
            Instant::now() < deadline,
            "worker {me}: termination timed out: {next:?}"
        );
        worker.wait(Some(Duration::from_millis(100)));
    }
    next
}

#[test]
fn all_to_all_fifo_counted_and_terminating() {
    let (a, b) = linked();
    let on_a = initialize(&a, config("all", 0, 2), all_to_all).unwrap();
    let on_b = initialize(&b, config("all", 1, 2), all_to_all).unwrap();
    let (ra, rb) = (on_a.join(), on_b.join());
    for r in ra.into_iter().chain(rb) {
        assert_eq!(r.unwrap(), vec![PER_PAIR; 4]);
    }
}

#[test]
fn stats_and_no_faults_in_a_clean_run() {
    let (a, b) = linked();
    let work = |mut w: ClusterWorker| {
        let (mut txs, mut rx) = w.allocate::<String>(3).unwrap();
        for tx in &mut txs {
            tx.send(format!("from {}", w.index())).unwrap();
        }
        drop(txs);
        let mut n = 0;
        while rx.recv().is_ok() {
            n += 1;
        }
        n
    };
    let on_a = initialize(&a, config("stats", 0, 1), work).unwrap();
    let on_b = initialize(&b, config("stats", 1, 1), work).unwrap();
    assert_eq!(on_b.join(), [Ok(2)]);
    // `sent` moves just after A's put, which B may receive first.
    wait_until("A to count its send and B's record", || {
        let s = on_a.stats();
        s.received >= 1 && s.sent >= 1
    });
    let stats = on_a.stats();
    let faults = on_a.faults();
    assert_eq!(on_a.join(), [Ok(2)]);
    assert_eq!((stats.sent, stats.received, stats.malformed), (1, 1, 0));
    assert!(faults.is_empty(), "{faults:?}");
}

/// A worker that returns without allocating counts as having dropped its
/// pairs, in every process.
#[test]
fn a_worker_that_never_allocates_ends_its_pairs() {
    let (a, b) = linked();
    let work = |mut w: ClusterWorker| {
        if w.index() == 3 {
            return None;
        }
        let (mut txs, mut rx) = w.allocate::<u32>(0).unwrap();
        for tx in &mut txs {
            if tx.target() != 3 {
                tx.send(w.index() as u32).unwrap();
            }
        }
        drop(txs);
        let mut got = Vec::new();
        loop {
            match rx.recv_timeout(WAIT) {
                Ok(v) => got.push(v),
                Err(RecvError::Disconnected) => break,
                Err(e) => panic!("worker {}: {e}", w.index()),
            }
        }
        got.sort();
        Some(got)
    };
    let on_a = initialize(&a, config("depart", 0, 2), work).unwrap();
    let on_b = initialize(&b, config("depart", 1, 2), work).unwrap();
    let results: Vec<_> = on_a
        .join()
        .into_iter()
        .chain(on_b.join())
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        results,
        [
            Some(vec![0, 1, 2]),
            Some(vec![0, 1, 2]),
            Some(vec![0, 1, 2]),
            None
        ]
    );
}

/// A slow receiver: the sender is held to the pair's bound (ring plus
/// credit) and then blocks; nothing is dropped, everything arrives in order.
#[test]
fn back_pressure_bounds_a_remote_pair_and_drops_nothing() {
    const CAP: usize = 4;
    const TOTAL: u32 = 2_000;
    let (a, b) = linked();
    let release = Arc::new(AtomicBool::new(false));
    let accepted_early = Arc::new(AtomicUsize::new(0));
    let (release2, accepted2) = (release.clone(), accepted_early.clone());
    let on_a = initialize(&a, config("bp", 0, 1), move |mut w| {
        let (mut txs, _rx) = w.allocate_bounded::<u32>(0, CAP).unwrap();
        let tx = &mut txs[1];
        let mut n = 0;
        let mut fulls = 0;
        let deadline = Instant::now() + WAIT;
        // The receiver takes nothing yet: what is accepted is bounded.
        while fulls < 300 && n <= (2 * CAP) as u32 {
            match tx.try_send(n) {
                Ok(()) => {
                    n += 1;
                    fulls = 0;
                }
                Err(TrySendError::Full(_)) => {
                    // Until the first `CAP` went, the pair may still wait
                    // for process B's subscriber: count only after.
                    if n as usize >= CAP {
                        fulls += 1;
                    }
                    assert!(Instant::now() < deadline, "the first credit never came");
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(e) => panic!("{e}"),
            }
        }
        accepted2.store(n as usize, Ordering::SeqCst);
        release2.store(true, Ordering::SeqCst);
        while n < TOTAL {
            tx.send(n).unwrap();
            n += 1;
        }
    })
    .unwrap();
    let release3 = release.clone();
    let on_b = initialize(&b, config("bp", 1, 1), move |mut w| {
        let (txs, mut rx) = w.allocate_bounded::<u32>(0, CAP).unwrap();
        drop(txs);
        let deadline = Instant::now() + WAIT;
        while !release3.load(Ordering::SeqCst) {
            assert!(Instant::now() < deadline);
            std::thread::sleep(Duration::from_millis(1));
        }
        let mut next = 0;
        loop {
            match rx.recv_timeout(WAIT) {
                Ok(v) => {
                    assert_eq!(v, next);
                    next += 1;
                    if next % 256 == 0 {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                }
                Err(RecvError::Disconnected) => return next,
                Err(e) => panic!("{e}"),
            }
        }
    })
    .unwrap();
    assert_eq!(on_a.join(), [Ok(())]);
    assert_eq!(on_b.join(), [Ok(TOTAL)]);
    let early = accepted_early.load(Ordering::SeqCst);
    assert!(
        (CAP..=2 * CAP).contains(&early),
        "accepted {early} records before the receiver took any (bound {})",
        2 * CAP
    );
}

/// Different record types on the two sides: a fault on both, the pair
/// disconnects on both, nobody hangs.
#[test]
fn mismatched_allocations_are_a_fault_never_a_hang() {
    let (a, b) = linked();
    let on_a = initialize(&a, config("mm", 0, 1), |mut w| {
        let (mut txs, mut rx) = w.allocate::<u32>(0).unwrap();
        let tx = &mut txs[1];
        let deadline = Instant::now() + WAIT;
        // Sends succeed on the first credit until the REJECT comes back.
        loop {
            match tx.try_send(1) {
                Ok(()) | Err(TrySendError::Full(_)) => {
                    assert!(Instant::now() < deadline, "the sender was never told");
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(TrySendError::Disconnected(_)) => break,
                Err(e) => panic!("{e}"),
            }
        }
        drop(txs);
        // The remote sender's pair is broken too: the receiver ends.
        loop {
            match rx.recv_timeout(WAIT) {
                Ok(_) => {}
                Err(RecvError::Disconnected) => break,
                Err(e) => panic!("{e}"),
            }
        }
        w.faults()
    })
    .unwrap();
    let on_b = initialize(&b, config("mm", 1, 1), |mut w| {
        let (mut txs, mut rx) = w.allocate::<u64>(0).unwrap();
        drop(txs.pop()); // the pair to itself; the remote one stays
        let _ = txs[0].send(2);
        match rx.recv_timeout(WAIT) {
            Err(RecvError::Disconnected) => {}
            other => panic!("expected a disconnect, got {other:?}"),
        }
        // Its own pair's REJECT may come after the disconnect: wait for it.
        let deadline = Instant::now() + WAIT;
        while w.faults().len() < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        drop(txs);
        w.faults()
    })
    .unwrap();
    let faults_a = on_a.join().pop().unwrap().unwrap();
    let faults_b = on_b.join().pop().unwrap().unwrap();
    // Each side reports both pairs: the one it received (from its pump's
    // check) and the one it sent (from the peer's REJECT).
    for faults in [faults_a, faults_b] {
        let mismatches: Vec<String> = faults
            .iter()
            .filter_map(|f| match f {
                Fault::Mismatch {
                    sender, receiver, ..
                } => Some(format!("{sender} / {receiver}")),
                _ => None,
            })
            .collect();
        assert!(!mismatches.is_empty(), "no mismatch fault: {faults:?}");
        for m in mismatches {
            assert!(m.contains("u32") && m.contains("u64"), "{m}");
        }
    }
}

/// A process that goes away mid-run: the other's receiver disconnects.
#[test]
fn a_lost_process_disconnects_its_peers_receivers() {
    let (a, b) = linked();
    let got_ten = Arc::new(AtomicBool::new(false));
    let finish_b = Arc::new(AtomicBool::new(false));
    let got = got_ten.clone();
    let on_a = initialize(&a, config("lost", 0, 1), move |mut w| {
        let (txs, mut rx) = w.allocate::<u32>(0).unwrap();
        drop(txs);
        for n in 0..10 {
            assert_eq!(rx.recv_timeout(WAIT), Ok(n));
        }
        got.store(true, Ordering::SeqCst);
        // Process B never ends its pair; its session goes away instead.
        let end = rx.recv_timeout(WAIT);
        (end, w.faults())
    })
    .unwrap();
    let finish = finish_b.clone();
    let on_b = initialize(&b, config("lost", 1, 1), move |mut w| {
        let (mut txs, _rx) = w.allocate::<u32>(0).unwrap();
        for n in 0..10 {
            txs[0].send(n).unwrap();
        }
        let deadline = Instant::now() + WAIT;
        while !finish.load(Ordering::SeqCst) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    })
    .unwrap();
    wait_until("ten records", || got_ten.load(Ordering::SeqCst));
    b.close().wait().unwrap();
    let (end, faults) = on_a.join().pop().unwrap().unwrap();
    assert_eq!(end, Err(RecvError::Disconnected));
    assert!(
        faults.contains(&Fault::PeerLost { process: 1 }),
        "{faults:?}"
    );
    finish_b.store(true, Ordering::SeqCst);
    drop(on_b);
}

/// Payloads that are not frames are counted and reported; the channel
/// still works.
#[test]
fn malformed_payloads_are_counted_and_reported() {
    let (a, b) = linked();
    let on_b = initialize(&b, config("bad", 1, 1), |mut w| {
        let (txs, mut rx) = w.allocate::<u32>(0).unwrap();
        drop(txs);
        let mut got = Vec::new();
        while let Ok(v) = rx.recv_timeout(WAIT) {
            got.push(v);
        }
        got
    })
    .unwrap();
    let bad: [&[u8]; 4] = [&[], &[9, 2], &[1, 77], &[1, 2, 0x80]];
    let key = "evlatch-x/bad/1/d/0/0/1";
    wait_until("B's subscriber", || {
        let p = a.declare_publisher(key).wait().unwrap();
        p.matching_status().wait().unwrap().matching()
    });
    for payload in bad {
        a.put(key, payload.to_vec()).wait().unwrap();
    }
    a.put("evlatch-x/bad/1/d/zero/0/1", vec![1]).wait().unwrap();
    // The count moves just before the fault is recorded: wait for both.
    let malformed_faults = |faults: &[Fault]| {
        faults
            .iter()
            .filter(|f| matches!(f, Fault::Malformed { .. }))
            .count()
    };
    wait_until("five malformed payloads", || {
        on_b.stats().malformed == 5 && malformed_faults(&on_b.faults()) == 5
    });
    let on_a = initialize(&a, config("bad", 0, 1), |mut w| {
        let (mut txs, _rx) = w.allocate::<u32>(0).unwrap();
        let mut batch: Vec<u32> = (0..100).collect();
        txs[1].send_batch(&mut batch).unwrap();
    })
    .unwrap();
    assert_eq!(on_a.join(), [Ok(())]);
    let faults = on_b.faults();
    assert_eq!(on_b.join(), [Ok((0..100).collect::<Vec<u32>>())]);
    assert_eq!(malformed_faults(&faults), 5, "{faults:?}");
}

#[test]
fn two_example_processes_exchange_end_to_end() {
    let example = zenoh_peers::build_example("zenoh_exchange");
    let endpoint = free_endpoint();
    let spawn = |args: &[&str]| {
        Command::new(&example)
            .args(args)
            .args(["--records", "10000", "--timeout-s", "30"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the example starts")
    };
    let first = spawn(&["--process", "0", "--listen", &endpoint]);
    let second = spawn(&["--process", "1", "--connect", &endpoint]);
    for (name, child) in [("process 0", first), ("process 1", second)] {
        let stdout = finished(name, child);
        let ok = stdout
            .lines()
            .filter(|l| l.starts_with("worker ") && l.ends_with(" ok"))
            .count();
        assert_eq!(ok, 2, "{name}:\n{stdout}");
    }
}
